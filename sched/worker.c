/* SPDX-License-Identifier: MIT */
/*
 * worker.c - the device worker thread: SQ in, handler, CQ out.
 */
#include "sched/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BATCH 32u
#define DEFAULT_SPIN_NS 20000u
#define FENCE_SLICE_NS 10000000u	/* re-check for a stop this often */
#define BACKLOG_POLL_NS 1000000u	/* re-check a full CQ this often */
#define SLOW_OP_NS 2000u		/* notify per CQE past this run time */

struct accel_worker {
	struct accel_ring *ring;
	accel_worker_fn fn;
	void *ctx;
	accel_timeline_table *timelines;
	uint32_t batch, spin_ns, backlog_max;
	struct accel_sqe *sqes;		/* one batch, copied out of the SQ */
	pthread_t thread;
	uint32_t stop;			/* atomic */
	uint64_t completed, busy_ns;	/* atomic, read by stats */
};

static bool stopping(const accel_worker *w)
{
	return __atomic_load_n(&w->stop, __ATOMIC_ACQUIRE);
}

/* Queue a CQE (published at the next notify), and keep trying while the
 * backlog cannot grow: never drop one. */
static void post(accel_worker *w, const struct accel_cqe *cqe)
{
	accel_status st;

	/* counted first, so a reaper that saw the CQE sees it in the stats */
	__atomic_store_n(&w->completed, w->completed + 1, __ATOMIC_RELEASE);
	while ((st = accel_ring_queue_cqe(w->ring, cqe))) {
		accel_status_free(st);
		if (stopping(w) && !accel_ring_flush_backlog(w->ring))
			return;	/* torn down with no memory: nothing to do */
		accel_ring_notify(w->ring);
		accel_ring_consumer_wait(w->ring, 0,
					 accel_now_ns() + BACKLOG_POLL_NS);
		accel_ring_flush_backlog(w->ring);
	}
}

static int fence_wait(accel_worker *w, accel_timeline *t, uint64_t value)
{
	accel_status st;

	for (;;) {
		st = accel_timeline_wait(t, value, accel_now_ns() + FENCE_SLICE_NS);
		if (!st)
			return 0;
		accel_status_free(st);
		if (stopping(w))
			return -ECANCELED;
	}
}

static void drop(accel_worker *w, struct accel_cqe *cqe, int res)
{
	accel_ring_sq_drop(w->ring);
	cqe->res = res;
	cqe->flags = ACCEL_CQE_F_DROPPED;
	cqe->start_ns = 0;
	cqe->end_ns = accel_now_ns();
}

/* Run one SQE and fill its CQE. */
static void run_one(accel_worker *w, const struct accel_sqe *sqe,
		    struct accel_cqe *cqe)
{
	bool fence = sqe->opcode == ACCEL_OP_FENCE_SIGNAL ||
		     sqe->opcode == ACCEL_OP_FENCE_WAIT;
	accel_timeline *t = NULL;
	accel_status st;

	memset(cqe, 0, sizeof(*cqe));
	cqe->user_data = sqe->user_data;
	if ((sqe->opcode >= ACCEL_OP_LAST &&
	     sqe->opcode < ACCEL_WORKER_OP_PRIVATE) || sqe->flags)
		return drop(w, cqe, -EINVAL);
	if (fence) {
		t = accel_timeline_table_get(w->timelines, sqe->fence_handle);
		if (!t)
			return drop(w, cqe, -ENOENT);
	}
	cqe->start_ns = accel_now_ns();
	if (sqe->opcode == ACCEL_OP_FENCE_SIGNAL) {
		st = accel_timeline_signal(t, sqe->value);
		cqe->res = st ? -EINVAL : 0;
		accel_status_free(st);
	} else if (sqe->opcode == ACCEL_OP_FENCE_WAIT) {
		/* publish the CQEs before a wait that blocks, as the kernel
		 * does: their reapers must not wait for this fence */
		if (accel_timeline_query(t) < sqe->value)
			accel_ring_notify(w->ring);
		cqe->res = fence_wait(w, t, sqe->value);
		if (cqe->res == -ECANCELED)
			cqe->flags = ACCEL_CQE_F_CANCELED;
	} else if (w->fn) {
		cqe->res = w->fn(w->ctx, sqe);
	} else {
		cqe->res = sqe->opcode == ACCEL_OP_NOP ? 0 : -EOPNOTSUPP;
	}
	cqe->end_ns = accel_now_ns();
	accel_timeline_release(t);
	__atomic_store_n(&w->busy_ns, w->busy_ns + (cqe->end_ns - cqe->start_ns),
			 __ATOMIC_RELAXED);
}

static void cancel_rest(accel_worker *w, uint32_t from, uint32_t n)
{
	struct accel_cqe cqe;

	for (uint32_t i = from; i < n; i++) {
		memset(&cqe, 0, sizeof(cqe));
		cqe.user_data = w->sqes[i].user_data;
		cqe.res = -ECANCELED;
		cqe.flags = ACCEL_CQE_F_CANCELED;
		cqe.end_ns = accel_now_ns();
		post(w, &cqe);
	}
}

static void *worker_main(void *arg)
{
	accel_worker *w = arg;
	struct accel_ring *r = w->ring;
	struct accel_cqe cqe;
	uint32_t n, i;

	while (!stopping(w)) {
		if (accel_ring_backlog(r))
			accel_ring_flush_backlog(r);
		/* back-pressure: a stuck reaper stops us, then the SQ fills */
		if (accel_ring_backlog(r) >= w->backlog_max) {
			accel_ring_consumer_wait(r, 0, accel_now_ns() + BACKLOG_POLL_NS);
			continue;
		}
		n = accel_ring_sq_consume(r, w->sqes, w->batch);
		if (!n) {
			accel_ring_consumer_wait(r, w->spin_ns,
				accel_ring_backlog(r) ?
				accel_now_ns() + BACKLOG_POLL_NS :
				ACCEL_DEADLINE_NONE);
			continue;
		}
		for (i = 0; i < n; i++) {
			if (stopping(w))
				break;
			run_one(w, &w->sqes[i], &cqe);
			post(w, &cqe);
			/* a long op: make sure a sleeping reaper hears of it */
			if (cqe.end_ns - cqe.start_ns > SLOW_OP_NS)
				accel_ring_notify(r);
		}
		cancel_rest(w, i, n);
		accel_ring_notify(r);
	}
	/* cancel what was submitted and never started */
	while ((n = accel_ring_sq_consume(r, w->sqes, w->batch)))
		cancel_rest(w, 0, n);
	accel_ring_flush_backlog(r);
	accel_ring_notify(r);
	return NULL;
}

accel_status accel_worker_create(struct accel_ring *ring, accel_worker_fn fn,
				 void *ctx, accel_timeline_table *timelines,
				 const struct accel_worker_params *params,
				 uint32_t flags, accel_worker **out)
{
	accel_worker *w;
	int err;

	*out = NULL;
	if (!ring || !ring->prov)
		return status_invalid("worker: needs a ring from accel_ring_create()");
	if (flags)
		return status_invalid("worker: flags 0x%x not supported", flags);
	w = calloc(1, sizeof(*w));
	if (!w)
		return status_oom("worker");
	w->ring = ring;
	w->fn = fn;
	w->ctx = ctx;
	w->timelines = timelines;
	w->batch = params && params->batch ? params->batch : DEFAULT_BATCH;
	w->spin_ns = params && params->spin_ns ? params->spin_ns : DEFAULT_SPIN_NS;
	w->backlog_max = params && params->backlog_max ? params->backlog_max :
			 ring->cq_entries * 8;
	w->sqes = malloc(w->batch * sizeof(*w->sqes));
	if (!w->sqes) {
		free(w);
		return status_oom("worker batch");
	}
	err = pthread_create(&w->thread, NULL, worker_main, w);
	if (err) {
		free(w->sqes);
		free(w);
		return status_error(ACCEL_INTERNAL, "worker: pthread_create: %s",
				    strerror(err));
	}
	*out = w;
	return NULL;
}

void accel_worker_destroy(accel_worker *w)
{
	if (!w)
		return;
	__atomic_store_n(&w->stop, 1, __ATOMIC_SEQ_CST);
	accel_ring_kick(w->ring);
	pthread_join(w->thread, NULL);
	free(w->sqes);
	free(w);
}

accel_status accel_worker_wait(accel_worker *w, uint32_t min_complete,
			       uint64_t deadline_ns)
{
	return accel_ring_wait_cqes(w->ring, min_complete, deadline_ns);
}

void accel_worker_stats(const accel_worker *w, struct accel_worker_stats *out)
{
	out->completed = __atomic_load_n(&w->completed, __ATOMIC_RELAXED);
	out->busy_ns = __atomic_load_n(&w->busy_ns, __ATOMIC_RELAXED);
}
