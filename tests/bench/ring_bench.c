/* SPDX-License-Identifier: MIT */
/*
 * ring_bench - operations per second through a user-space ring and its
 * device worker (sched/ring.h, sched/worker.h) with a NOP handler, against
 * a plain mutex+condvar queue doing the same work, in the same run.
 *
 *     ring_bench [--rounds R] [--ops N] [--entries E]
 *
 * Both sides do the same per-op work: the submitter fills a 64-byte SQE,
 * a worker thread copies it out, calls the handler through a function
 * pointer, takes CLOCK_MONOTONIC before and after, and hands a 32-byte CQE
 * with the user_data back; the submitter reaps every CQE and checks the
 * user_data sum. The queue side batches as well as the ring does: the
 * submitter pushes a whole batch under one lock, the worker pops up to 32
 * per lock and pushes their completions under one lock.
 *
 * Two patterns, each at batch 1 and 32:
 *   stream     keep the queue full: submit while there is room, reap what
 *              is ready (throughput);
 *   roundtrip  submit a batch, wait for all of it, repeat (a synchronous
 *              caller: latency-bound).
 * Every cell is the median of R rounds; ratios are ring / queue. Machines
 * are shared and noisy: read the ratios, not the absolute numbers.
 *
 * Links the static library: the rings are internal, not public API.
 */
#include "sched/ring.h"
#include "sched/worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POP_BATCH 32

static int nop_handler(void *ctx, const struct accel_sqe *sqe)
{
	(void)ctx;
	return sqe->opcode == ACCEL_OP_NOP ? 0 : -1;
}

typedef int (*handler_fn)(void *ctx, const struct accel_sqe *sqe);
static volatile handler_fn the_handler = nop_handler;

static void die(accel_status st, const char *what)
{
	if (!st)
		return;
	fprintf(stderr, "ring_bench: %s: %s\n", what, accel_status_message(st));
	exit(1);
}

/* ------------------------------------------------ the ring side */

struct ring_side {
	struct accel_ring *r;
	accel_worker *w;
};

static double ring_round(struct ring_side *rs, int stream, uint32_t batch,
			 uint64_t n)
{
	struct accel_sqe sqes[POP_BATCH];
	struct accel_cqe cqes[256];
	uint64_t sub = 0, done = 0, sum = 0, t0;
	uint32_t k, taken, got, i;

	memset(sqes, 0, sizeof(sqes));
	t0 = accel_now_ns();
	while (done < n) {
		taken = 0;
		if (sub < n && (stream || sub == done)) {
			k = n - sub < batch ? (uint32_t)(n - sub) : batch;
			for (i = 0; i < k; i++)
				sqes[i].user_data = sub + i;
			die(accel_ring_submit_sqes(rs->r, sqes, k, &taken),
			    "submit");
			sub += taken;
		}
		if (!stream)
			die(accel_ring_wait_cqes(rs->r, (uint32_t)(sub - done),
						 ACCEL_DEADLINE_NONE), "wait");
		got = accel_ring_reap(rs->r, cqes, 256);
		for (i = 0; i < got; i++)
			sum += cqes[i].user_data;
		done += got;
		if (stream && !taken && !got)
			die(accel_ring_wait_cqes(rs->r, 1, ACCEL_DEADLINE_NONE),
			    "wait");
	}
	if (sum != n * (n - 1) / 2) {
		fprintf(stderr, "ring_bench: ring lost or duplicated a CQE\n");
		exit(1);
	}
	return (double)n / ((double)(accel_now_ns() - t0) / 1e9);
}

/* ------------------------------------------ the mutex+condvar side */

struct mq {
	pthread_mutex_t lock;
	pthread_cond_t not_empty, not_full, has_done;
	struct accel_sqe *sq;
	struct accel_cqe *cq;
	uint32_t cap, sq_head, sq_len, cq_head, cq_len;
	int stop;
	pthread_t thread;
};

static void *mq_worker(void *arg)
{
	struct mq *q = arg;
	struct accel_sqe in[POP_BATCH];
	struct accel_cqe out[POP_BATCH];
	uint32_t n, i;

	for (;;) {
		pthread_mutex_lock(&q->lock);
		while (!q->sq_len && !q->stop)
			pthread_cond_wait(&q->not_empty, &q->lock);
		if (q->stop) {
			pthread_mutex_unlock(&q->lock);
			return NULL;
		}
		n = q->sq_len < POP_BATCH ? q->sq_len : POP_BATCH;
		for (i = 0; i < n; i++)
			in[i] = q->sq[(q->sq_head + i) % q->cap];
		q->sq_head = (q->sq_head + n) % q->cap;
		q->sq_len -= n;
		pthread_cond_signal(&q->not_full);
		pthread_mutex_unlock(&q->lock);

		for (i = 0; i < n; i++) {
			memset(&out[i], 0, sizeof(out[i]));
			out[i].user_data = in[i].user_data;
			out[i].start_ns = accel_now_ns();
			out[i].res = the_handler(NULL, &in[i]);
			out[i].end_ns = accel_now_ns();
		}

		pthread_mutex_lock(&q->lock);
		/* the CQ is as big as the SQ: in-flight work always fits */
		for (i = 0; i < n; i++)
			q->cq[(q->cq_head + q->cq_len + i) % q->cap] = out[i];
		q->cq_len += n;
		pthread_cond_signal(&q->has_done);
		pthread_mutex_unlock(&q->lock);
	}
}

static double mq_round(struct mq *q, int stream, uint32_t batch, uint64_t n)
{
	uint64_t sub = 0, done = 0, sum = 0, t0;
	struct accel_sqe s;
	uint32_t k, i;

	memset(&s, 0, sizeof(s));
	t0 = accel_now_ns();
	while (done < n) {
		pthread_mutex_lock(&q->lock);
		k = 0;
		if (sub < n && (stream || sub == done)) {
			/* in flight = sq_len + running + cq_len <= cap */
			uint64_t room = q->cap - (sub - done);

			k = n - sub < batch ? (uint32_t)(n - sub) : batch;
			if (k > room)
				k = (uint32_t)room;
			for (i = 0; i < k; i++) {
				s.user_data = sub + i;
				q->sq[(q->sq_head + q->sq_len + i) % q->cap] = s;
			}
			q->sq_len += k;
			sub += k;
			if (k)
				pthread_cond_signal(&q->not_empty);
		}
		if (!stream)
			while (q->cq_len < sub - done)
				pthread_cond_wait(&q->has_done, &q->lock);
		if (stream && !k)
			while (!q->cq_len)
				pthread_cond_wait(&q->has_done, &q->lock);
		for (i = 0; i < q->cq_len; i++)
			sum += q->cq[(q->cq_head + i) % q->cap].user_data;
		done += q->cq_len;
		q->cq_head = (q->cq_head + q->cq_len) % q->cap;
		q->cq_len = 0;
		pthread_mutex_unlock(&q->lock);
	}
	if (sum != n * (n - 1) / 2) {
		fprintf(stderr, "ring_bench: queue lost or duplicated a CQE\n");
		exit(1);
	}
	return (double)n / ((double)(accel_now_ns() - t0) / 1e9);
}

static void mq_init(struct mq *q, uint32_t cap)
{
	memset(q, 0, sizeof(*q));
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	pthread_cond_init(&q->not_full, NULL);
	pthread_cond_init(&q->has_done, NULL);
	q->cap = cap;
	q->sq = calloc(cap, sizeof(*q->sq));
	q->cq = calloc(cap, sizeof(*q->cq));
	if (!q->sq || !q->cq || pthread_create(&q->thread, NULL, mq_worker, q)) {
		fprintf(stderr, "ring_bench: queue setup failed\n");
		exit(1);
	}
}

static void mq_fini(struct mq *q)
{
	pthread_mutex_lock(&q->lock);
	q->stop = 1;
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	free(q->sq);
	free(q->cq);
}

/* ------------------------------------------------------------ main */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	int rounds = 7;
	uint64_t ops = 1000000;
	uint32_t entries = 1024;
	static const uint32_t batches[] = { 1, 32 };
	struct ring_side rs;
	struct mq q;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--ops") && i + 1 < argc)
			ops = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--entries") && i + 1 < argc)
			entries = (uint32_t)strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: %s [--rounds R] [--ops N] [--entries E]\n",
				argv[0]);
			return 2;
		}
	}
	if (rounds < 1 || rounds > 101 || ops < 1000) {
		fprintf(stderr, "ring_bench: need 1..101 rounds and >= 1000 ops\n");
		return 2;
	}
	die(accel_ring_create(entries, 0, &rs.r), "ring");
	die(accel_worker_create(rs.r, nop_handler, NULL, NULL, NULL, 0, &rs.w),
	    "worker");
	mq_init(&q, entries);

	printf("ring_bench: NOP ops through one device worker; median of %d rounds "
	       "(%llu ops each, %u entries)\n", rounds, (unsigned long long)ops,
	       entries);
	printf("  ring  = user-space SQ/CQ (uapi layout) + worker, futex wake-ups\n");
	printf("  queue = mutex + condvar queue, same batching and per-op work\n");
	printf("%-10s %5s %14s %14s %11s\n", "pattern", "batch", "ring Mops/s",
	       "queue Mops/s", "ring/queue");
	for (int stream = 1; stream >= 0; stream--) {
		for (size_t b = 0; b < sizeof(batches) / sizeof(*batches); b++) {
			double vr[101], vq[101], mr, mqv;
			/* round trips at batch 1 are slow: fewer of them */
			uint64_t n = !stream && batches[b] == 1 ? ops / 5 : ops;

			/* interleave, so drift on a shared machine hits both */
			for (int i = 0; i < rounds; i++) {
				vr[i] = ring_round(&rs, stream, batches[b], n);
				vq[i] = mq_round(&q, stream, batches[b], n);
			}
			mr = median(vr, rounds);
			mqv = median(vq, rounds);
			printf("%-10s %5u %14.2f %14.2f %10.2fx\n",
			       stream ? "stream" : "roundtrip", batches[b],
			       mr / 1e6, mqv / 1e6, mr / mqv);
			fflush(stdout);
		}
	}
	mq_fini(&q);
	accel_worker_destroy(rs.w);
	accel_ring_destroy(rs.r);
	return 0;
}
