/* SPDX-License-Identifier: MIT */
/*
 * test_ring.c - unit tests of the user-space ring provider (sched/ring.c),
 * the device worker (sched/worker.c) and timeline semaphores
 * (sched/timeline.c): the uapi layout, wraparound past 2^32, back-pressure,
 * a 10^6-entry producer/consumer stress with no lost or duplicated
 * completion, CQ overflow, timestamps, timeouts and fences.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sched/ring.h"
#include "sched/timeline.h"
#include "sched/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MS 1000000ull

/* Fail with the status's message, not just "not NULL". */
#define OK(expr)                                                        \
	do {                                                            \
		accel_status ok_st_ = (expr);                           \
		if (ok_st_)                                             \
			fail_msg("%s: %s", #expr,                       \
				 accel_status_message(ok_st_));         \
	} while (0)

#define EXPECT_CODE(expr, code)                                         \
	do {                                                            \
		accel_status ex_st_ = (expr);                           \
		if (accel_status_code_of(ex_st_) != (code))             \
			fail_msg("%s: expected %s, got %s (%s)", #expr, \
				 accel_status_code_name(code),          \
				 accel_status_code_name(                \
					 accel_status_code_of(ex_st_)), \
				 accel_status_message(ex_st_));         \
		accel_status_free(ex_st_);                              \
	} while (0)

static struct accel_sqe nop(uint64_t user_data)
{
	struct accel_sqe s;

	memset(&s, 0, sizeof(s));
	s.opcode = ACCEL_OP_NOP;
	s.user_data = user_data;
	return s;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };

	nanosleep(&ts, NULL);
}

/* Reap exactly |n| CQEs into |out|, waiting up to 10 s in all. */
static void reap_n(struct accel_ring *r, struct accel_cqe *out, uint32_t n)
{
	uint64_t deadline = accel_now_ns() + 10000 * MS;
	uint32_t got = 0;

	while (got < n) {
		OK(accel_ring_wait_cqes(r, 1, deadline));
		got += accel_ring_reap(r, out + got, n - got);
	}
}

/* ---- layout ---- */

static void layout_matches_the_kernel_offsets(void **state)
{
	struct accel_ring *r;
	const struct accel_queue_create *p;
	char *sq, *cq;

	(void)state;
	assert_int_equal(sizeof(struct accel_sqe), 64);
	assert_int_equal(sizeof(struct accel_cqe), 32);
	OK(accel_ring_create(64, 0, &r));
	p = &r->params;
	assert_int_equal(p->sq_entries, 64);
	assert_int_equal(p->cq_entries, 128);
	/* kmod's accelkm_sq_ring/cq_ring: head, tail, then the rest, each
	 * group on its own 64-byte line */
	assert_int_equal(p->sq_off.head, 0);
	assert_int_equal(p->sq_off.tail, 64);
	assert_int_equal(p->sq_off.ring_mask, 128);
	assert_int_equal(p->sq_off.ring_entries, 132);
	assert_int_equal(p->sq_off.flags, 136);
	assert_int_equal(p->sq_off.dropped, 140);
	assert_int_equal(p->cq_off.head, 0);
	assert_int_equal(p->cq_off.tail, 64);
	assert_int_equal(p->cq_off.ring_mask, 128);
	assert_int_equal(p->cq_off.ring_entries, 132);
	assert_int_equal(p->cq_off.overflow, 136);
	assert_int_equal(p->cq_off.cqes, 192);
	assert_int_equal(p->sq_ring_size % 4096, 0);
	assert_int_equal(p->cq_ring_size % 4096, 0);
	assert_int_equal(p->sqes_size, 4096);
	assert_true(p->cq_ring_size >= 192 + 128 * sizeof(struct accel_cqe));

	/* every pointer is its area plus the reported offset */
	sq = accel_ring_sq_area(r);
	cq = accel_ring_cq_area(r);
	assert_ptr_equal(r->sq_head, sq + p->sq_off.head);
	assert_ptr_equal(r->sq_tail, sq + p->sq_off.tail);
	assert_ptr_equal(r->sq_flags, sq + p->sq_off.flags);
	assert_ptr_equal(r->sq_dropped, sq + p->sq_off.dropped);
	assert_ptr_equal(r->cq_head, cq + p->cq_off.head);
	assert_ptr_equal(r->cq_tail, cq + p->cq_off.tail);
	assert_ptr_equal(r->cq_overflow, cq + p->cq_off.overflow);
	assert_ptr_equal(r->cqes, cq + p->cq_off.cqes);
	assert_int_equal(*(uint32_t *)(sq + p->sq_off.ring_mask), 63);
	assert_int_equal(*(uint32_t *)(sq + p->sq_off.ring_entries), 64);
	assert_int_equal(*(uint32_t *)(cq + p->cq_off.ring_mask), 127);
	assert_int_equal(*(uint32_t *)(cq + p->cq_off.ring_entries), 128);
	assert_int_equal((uintptr_t)r->cqes % 64, 0);
	assert_int_equal((uintptr_t)r->sqes % 4096, 0);
	accel_ring_destroy(r);
}

/* The same submitter code runs on memory laid out differently, as long as
 * the offsets say so: the layout can grow. */
static void setup_follows_whatever_offsets_it_is_given(void **state)
{
	struct accel_queue_create p;
	struct accel_ring r;
	static uint32_t sqm[256], cqm[1024];
	static struct accel_sqe sqes[4];
	struct accel_sqe *e;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.sq_entries = 4;
	p.cq_entries = 8;
	p.sq_off = (struct accel_sq_offsets){ .head = 40, .tail = 8,
		.ring_mask = 100, .ring_entries = 104, .flags = 0,
		.dropped = 200 };
	p.cq_off = (struct accel_cq_offsets){ .head = 4, .tail = 12,
		.ring_mask = 16, .ring_entries = 20, .overflow = 24,
		.cqes = 64 };
	p.sq_ring_size = sizeof(sqm);
	p.cq_ring_size = sizeof(cqm);
	p.sqes_size = sizeof(sqes);
	sqm[100 / 4] = 3;
	cqm[16 / 4] = 7;
	OK(accel_ring_setup(&r, &p, sqm, cqm, sqes, NULL, NULL));
	for (int i = 0; i < 4; i++) {
		e = accel_ring_get_sqe(&r);
		assert_non_null(e);
		*e = nop(i);
	}
	assert_null(accel_ring_get_sqe(&r));
	assert_int_equal(accel_ring_flush_sq(&r), 4);
	assert_int_equal(sqm[8 / 4], 4);	/* the tail landed at offset 8 */
	sqm[40 / 4] = 2;			/* a "kernel" consumed two */
	assert_int_equal(accel_ring_sq_space(&r), 2);
	((struct accel_cqe *)((char *)cqm + 64))[0].user_data = 77;
	cqm[12 / 4] = 1;			/* and completed one */
	assert_int_equal(accel_ring_cq_ready(&r), 1);
	assert_int_equal(accel_ring_peek_cqe(&r)->user_data, 77);
	accel_ring_cq_advance(&r, 1);
	assert_int_equal(cqm[4 / 4], 1);

	/* offsets past the area, mismatched masks, bad entries */
	p.cq_off.cqes = sizeof(cqm) - 32;
	EXPECT_CODE(accel_ring_setup(&r, &p, sqm, cqm, sqes, NULL, NULL),
		    ACCEL_INVALID_ARGUMENT);
	p.cq_off.cqes = 64;
	cqm[16 / 4] = 15;
	EXPECT_CODE(accel_ring_setup(&r, &p, sqm, cqm, sqes, NULL, NULL),
		    ACCEL_INVALID_ARGUMENT);
	cqm[16 / 4] = 7;
	p.sq_entries = 3;
	EXPECT_CODE(accel_ring_setup(&r, &p, sqm, cqm, sqes, NULL, NULL),
		    ACCEL_INVALID_ARGUMENT);
}

static void create_rejects_bad_arguments(void **state)
{
	struct accel_ring *r;

	(void)state;
	EXPECT_CODE(accel_ring_create(0, 0, &r), ACCEL_INVALID_ARGUMENT);
	assert_null(r);
	EXPECT_CODE(accel_ring_create(6, 0, &r), ACCEL_INVALID_ARGUMENT);
	EXPECT_CODE(accel_ring_create(ACCEL_RING_MAX_ENTRIES * 2, 0, &r),
		    ACCEL_INVALID_ARGUMENT);
	EXPECT_CODE(accel_ring_create(8, ~0u, &r), ACCEL_INVALID_ARGUMENT);
	OK(accel_ring_create(1, 0, &r));
	assert_int_equal(r->cq_entries, 2);
	accel_ring_destroy(r);
}

/* ---- single-threaded provider behaviour ---- */

static void indices_wrap_past_2_32(void **state)
{
	struct accel_ring *r;
	struct accel_sqe in[8];
	struct accel_cqe c, out[8];
	uint64_t next = 0, seen = 0;

	(void)state;
	OK(accel_ring_create(8, 0, &r));
	OK(accel_ring_set_index_base(r, UINT32_MAX - 20));
	for (int round = 0; round < 50; round++) {
		uint32_t n = 1 + round % 8, got, i;

		for (i = 0; i < n; i++) {
			struct accel_sqe *e = accel_ring_get_sqe(r);

			assert_non_null(e);
			*e = nop(next++);
		}
		OK(accel_ring_submit(r, &got));
		assert_int_equal(got, n);
		assert_int_equal(accel_ring_sq_consume(r, in, 8), n);
		for (i = 0; i < n; i++) {
			memset(&c, 0, sizeof(c));
			c.user_data = in[i].user_data;
			OK(accel_ring_post_cqe(r, &c));
		}
		assert_int_equal(accel_ring_reap(r, out, 8), n);
		for (i = 0; i < n; i++)
			assert_int_equal(out[i].user_data, seen++);
	}
	/* the indices really did cross zero */
	assert_true(*r->sq_tail < 1000);
	assert_true(*r->cq_head < 1000);
	assert_int_equal(seen, next);
	accel_ring_destroy(r);
}

static void full_sq_pushes_back(void **state)
{
	struct accel_ring *r;
	struct accel_sqe in[20], tmp[8];
	uint32_t taken;
	uint64_t t0;

	(void)state;
	for (int i = 0; i < 20; i++)
		in[i] = nop(i);
	OK(accel_ring_create(8, 0, &r));
	OK(accel_ring_submit_sqes(r, in, 20, &taken));
	assert_int_equal(taken, 8);
	assert_null(accel_ring_get_sqe(r));
	OK(accel_ring_submit_sqes(r, in + 8, 12, &taken));
	assert_int_equal(taken, 0);
	/* nobody consumes: the blocking variant times out with 0 taken */
	t0 = accel_now_ns();
	EXPECT_CODE(accel_ring_submit_sqes_wait(r, in + 8, 12,
						accel_now_ns() + 20 * MS, &taken),
		    ACCEL_DEADLINE_EXCEEDED);
	assert_int_equal(taken, 0);
	assert_true(accel_now_ns() - t0 >= 20 * MS);
	/* the consumer frees three slots: exactly three more go in */
	assert_int_equal(accel_ring_sq_consume(r, tmp, 3), 3);
	assert_int_equal(accel_ring_sq_space(r), 3);
	OK(accel_ring_submit_sqes(r, in + 8, 12, &taken));
	assert_int_equal(taken, 3);
	assert_int_equal(accel_ring_sq_consume(r, tmp, 8), 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(tmp[i].user_data, 3 + i);
	accel_ring_destroy(r);
}

static void cq_overflow_is_kept_and_flushed_in_order(void **state)
{
	struct accel_ring *r;
	struct accel_cqe c, out[32];
	uint32_t got = 0, n;

	(void)state;
	OK(accel_ring_create(4, 0, &r));	/* CQ of 8 */
	for (int i = 0; i < 20; i++) {
		memset(&c, 0, sizeof(c));
		c.user_data = 100 + i;
		OK(accel_ring_post_cqe(r, &c));
	}
	assert_int_equal(accel_ring_cq_ready(r), 8);
	assert_int_equal(accel_ring_backlog(r), 12);
	assert_int_equal(*r->cq_overflow, 12);
	assert_true(accel_ring_cq_overflowed(r));
	/* with room again, a new CQE still queues behind the backlog */
	got += accel_ring_reap(r, out, 3);
	memset(&c, 0, sizeof(c));
	c.user_data = 120;
	OK(accel_ring_post_cqe(r, &c));
	while (got < 21) {
		n = accel_ring_reap(r, out + got, 32 - got);
		got += n;
		accel_ring_flush_backlog(r);
	}
	for (int i = 0; i < 21; i++)
		assert_int_equal(out[i].user_data, 100 + i);
	assert_int_equal(accel_ring_backlog(r), 0);
	assert_false(accel_ring_cq_overflowed(r));
	assert_int_equal(accel_ring_cq_ready(r), 0);
	accel_ring_destroy(r);
}

/* ---- the worker ---- */

static void worker_overflow_loses_nothing(void **state)
{
	struct accel_ring *r;
	accel_worker *w;
	struct accel_sqe in[200];
	static struct accel_cqe out[200];
	uint32_t taken, more;

	(void)state;
	for (int i = 0; i < 200; i++)
		in[i] = nop(i);
	OK(accel_ring_create(4, 0, &r));	/* SQ 4, CQ 8 */
	OK(accel_worker_create(r, NULL, NULL, NULL, NULL, 0, &w));
	/*
	 * Nobody reaps while we submit: CQEs pile up in the backlog until it
	 * holds backlog_max (8 x 8), then the worker stops taking SQEs and
	 * the SQ fills: back-pressure reaches the submitter, nothing is lost.
	 */
	EXPECT_CODE(accel_ring_submit_sqes_wait(r, in, 200,
						accel_now_ns() + 100 * MS,
						&taken),
		    ACCEL_DEADLINE_EXCEEDED);
	if (taken < 8 + 64 + 4 || taken > 8 + 64 + 4 + 4)
		fail_msg("took %u SQEs, expected CQ + backlog + SQ = 76..80",
			 taken);
	assert_int_equal(accel_ring_cq_ready(r), 8);
	assert_true(accel_ring_cq_overflowed(r));
	OK(accel_worker_wait(w, 8, accel_now_ns() + 5000 * MS));
	reap_n(r, out, taken);
	/* room again: the rest goes in as we reap */
	for (uint32_t got = taken; got < 200;) {
		OK(accel_ring_submit_sqes(r, in + taken, 200 - taken, &more));
		taken += more;
		OK(accel_ring_wait_cqes(r, 1, accel_now_ns() + 5000 * MS));
		got += accel_ring_reap(r, out + got, 200 - got);
	}
	for (int i = 0; i < 200; i++) {
		assert_int_equal(out[i].user_data, i);
		assert_int_equal(out[i].res, 0);
	}
	assert_true(*r->cq_overflow >= 64);
	assert_int_equal(*r->sq_dropped, 0);
	assert_false(accel_ring_cq_overflowed(r));
	accel_worker_destroy(w);
	accel_ring_destroy(r);
}

static void worker_wraps_past_2_32(void **state)
{
	struct accel_ring *r;
	accel_worker *w;
	struct accel_sqe in[64];
	struct accel_cqe out[64];
	uint64_t next = 0;

	(void)state;
	OK(accel_ring_create(16, 0, &r));
	OK(accel_ring_set_index_base(r, UINT32_MAX - 1000));
	OK(accel_worker_create(r, NULL, NULL, NULL, NULL, 0, &w));
	for (int round = 0; round < 100; round++) {
		uint32_t n = 1 + (uint32_t)round % 64;

		for (uint32_t i = 0; i < n; i++)
			in[i] = nop(next + i);
		OK(accel_ring_submit_sqes_wait(r, in, n, ACCEL_DEADLINE_NONE,
					       NULL));
		reap_n(r, out, n);
		for (uint32_t i = 0; i < n; i++)
			assert_int_equal(out[i].user_data, next + i);
		next += n;
	}
	assert_true(*r->sq_head < 4000);	/* crossed zero */
	accel_worker_destroy(w);
	accel_ring_destroy(r);
}

struct stress {
	struct accel_ring *r;
	uint64_t n;
	uint64_t base;
};

static void *stress_producer(void *arg)
{
	struct stress *s = arg;
	struct accel_sqe batch[37];
	uint64_t i = 0;
	uint32_t k, seed = 12345;

	while (i < s->n) {
		seed = seed * 1103515245 + 12345;
		k = 1 + (seed >> 16) % 37;
		if (k > s->n - i)
			k = (uint32_t)(s->n - i);
		for (uint32_t j = 0; j < k; j++)
			batch[j] = nop(s->base + i + j);
		if (accel_ring_submit_sqes_wait(s->r, batch, k,
						ACCEL_DEADLINE_NONE, NULL))
			abort();
		i += k;
	}
	return NULL;
}

static int count_handler(void *ctx, const struct accel_sqe *sqe)
{
	uint64_t *count = ctx;

	++*count;	/* the worker thread only */
	return sqe->user_data & 1 ? -5 : 0;
}

/* One producer thread, one worker, the test thread reaps: every user_data
 * comes back once, in order, with the handler's result. */
static void stress_run(uint32_t entries, uint64_t n, uint64_t base)
{
	struct accel_ring *r;
	accel_worker *w;
	pthread_t prod;
	struct stress s;
	struct accel_cqe out[64];
	uint8_t *seen = calloc(n, 1);
	uint64_t got = 0, handled = 0;
	struct accel_worker_stats st;

	assert_non_null(seen);
	OK(accel_ring_create(entries, 0, &r));
	OK(accel_worker_create(r, count_handler, &handled, NULL, NULL, 0, &w));
	s = (struct stress){ r, n, base };
	assert_int_equal(pthread_create(&prod, NULL, stress_producer, &s), 0);
	while (got < n) {
		uint32_t k;

		OK(accel_ring_wait_cqes(r, 1, accel_now_ns() + 10000 * MS));
		k = accel_ring_reap(r, out, 64);
		for (uint32_t i = 0; i < k; i++) {
			uint64_t id = out[i].user_data - base;

			if (id >= n || seen[id])
				fail_msg("user_data %llu: %s",
					 (unsigned long long)out[i].user_data,
					 id >= n ? "never submitted" : "duplicated");
			if (id != got + i)
				fail_msg("CQE %llu out of order: expected %llu",
					 (unsigned long long)id,
					 (unsigned long long)(got + i));
			seen[id] = 1;
			assert_int_equal(out[i].res, (id + base) & 1 ? -5 : 0);
		}
		got += k;
	}
	pthread_join(prod, NULL);
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(accel_ring_cq_ready(r), 0);
	accel_worker_stats(w, &st);
	assert_int_equal(st.completed, n);
	accel_worker_destroy(w);
	assert_int_equal(handled, n);
	accel_ring_destroy(r);
	free(seen);
}

static void stress_million_entries_no_loss_no_dup(void **state)
{
	(void)state;
	stress_run(256, 1000000, 0);
}

static void stress_small_ring_across_wrap(void **state)
{
	(void)state;
	stress_run(4, 200000, 1ull << 40);
}

struct stamp_ctx {
	uint64_t spin_ns;
};

static int spin_handler(void *ctx, const struct accel_sqe *sqe)
{
	struct stamp_ctx *c = ctx;
	uint64_t until = accel_now_ns() + c->spin_ns;

	while (accel_now_ns() < until)
		;
	return 0;
}

static void worker_timestamps_are_monotonic(void **state)
{
	struct accel_ring *r;
	accel_worker *w;
	struct stamp_ctx ctx = { 2000 };
	struct accel_sqe in[500];
	static struct accel_cqe out[500];
	struct accel_worker_stats st;
	uint64_t t0, t1;

	(void)state;
	for (int i = 0; i < 500; i++)
		in[i] = nop(i);
	OK(accel_ring_create(64, 0, &r));
	OK(accel_worker_create(r, spin_handler, &ctx, NULL, NULL, 0, &w));
	t0 = accel_now_ns();
	OK(accel_ring_submit_sqes_wait(r, in, 500, ACCEL_DEADLINE_NONE, NULL));
	reap_n(r, out, 500);
	t1 = accel_now_ns();
	for (int i = 0; i < 500; i++) {
		assert_true(out[i].start_ns >= t0);
		assert_true(out[i].end_ns >= out[i].start_ns + 2000);
		assert_true(out[i].end_ns <= t1);
		if (i)
			assert_true(out[i].start_ns >= out[i - 1].end_ns);
	}
	accel_worker_stats(w, &st);
	assert_int_equal(st.completed, 500);
	assert_true(st.busy_ns >= 500 * 2000);
	accel_worker_destroy(w);
	accel_ring_destroy(r);
}

static int gate_handler(void *ctx, const struct accel_sqe *sqe)
{
	accel_timeline *gate = ctx;

	/* hold the op until the test opens the gate */
	return accel_timeline_wait(gate, 1, ACCEL_DEADLINE_NONE) ? -EIO : 0;
}

static void wait_times_out_then_completes(void **state)
{
	struct accel_ring *r;
	accel_worker *w;
	accel_timeline *gate;
	struct accel_sqe s = nop(42);
	struct accel_cqe c;
	uint32_t taken;
	uint64_t t0, dt;

	(void)state;
	OK(accel_timeline_create(0, &gate));
	OK(accel_ring_create(8, 0, &r));
	EXPECT_CODE(accel_ring_wait_cqes(r, 17, ACCEL_DEADLINE_NONE),
		    ACCEL_INVALID_ARGUMENT);
	OK(accel_worker_create(r, gate_handler, gate, NULL, NULL, 0, &w));
	OK(accel_ring_submit_sqes(r, &s, 1, &taken));
	assert_int_equal(taken, 1);
	/* poll: a past deadline returns at once */
	t0 = accel_now_ns();
	EXPECT_CODE(accel_worker_wait(w, 1, 0), ACCEL_DEADLINE_EXCEEDED);
	assert_true(accel_now_ns() - t0 < 5 * MS);
	t0 = accel_now_ns();
	EXPECT_CODE(accel_worker_wait(w, 1, t0 + 30 * MS),
		    ACCEL_DEADLINE_EXCEEDED);
	dt = accel_now_ns() - t0;
	if (dt < 30 * MS || dt > 1000 * MS)
		fail_msg("30 ms wait took %llu ns", (unsigned long long)dt);
	OK(accel_timeline_signal(gate, 1));
	OK(accel_worker_wait(w, 1, accel_now_ns() + 5000 * MS));
	assert_int_equal(accel_ring_reap(r, &c, 1), 1);
	assert_int_equal(c.user_data, 42);
	assert_int_equal(c.res, 0);
	accel_worker_destroy(w);
	accel_ring_destroy(r);
	accel_timeline_release(gate);
}

static void bad_sqes_are_dropped_and_completed(void **state)
{
	struct accel_ring *r;
	accel_worker *w;
	struct accel_sqe s[4];
	struct accel_cqe c[4];

	(void)state;
	OK(accel_ring_create(8, 0, &r));
	OK(accel_worker_create(r, NULL, NULL, NULL, NULL, 0, &w));
	s[0] = nop(1);
	s[0].opcode = ACCEL_OP_LAST;
	s[1] = nop(2);
	s[1].flags = 0x80;
	s[2] = nop(3);
	s[2].opcode = ACCEL_OP_FENCE_SIGNAL;	/* no table: no such fence */
	s[2].fence_handle = 1;
	s[3] = nop(4);
	s[3].opcode = ACCEL_OP_COPY;		/* no handler for it */
	OK(accel_ring_submit_sqes_wait(r, s, 4, ACCEL_DEADLINE_NONE, NULL));
	reap_n(r, c, 4);
	assert_int_equal(c[0].res, -EINVAL);
	assert_int_equal(c[0].flags, ACCEL_CQE_F_DROPPED);
	assert_int_equal(c[1].res, -EINVAL);
	assert_int_equal(c[2].res, -ENOENT);
	assert_int_equal(c[2].flags, ACCEL_CQE_F_DROPPED);
	assert_int_equal(c[3].res, -EOPNOTSUPP);
	assert_int_equal(c[3].flags, 0);
	assert_int_equal(*r->sq_dropped, 3);
	accel_worker_destroy(w);
	accel_ring_destroy(r);
}

/* ---- timelines ---- */

static void timeline_signal_wait_query(void **state)
{
	accel_timeline *t;
	uint64_t t0, dt;

	(void)state;
	OK(accel_timeline_create(5, &t));
	assert_int_equal(accel_timeline_query(t), 5);
	OK(accel_timeline_wait(t, 5, 0));
	OK(accel_timeline_wait(t, 0, 0));
	EXPECT_CODE(accel_timeline_wait(t, 6, 0), ACCEL_DEADLINE_EXCEEDED);
	OK(accel_timeline_signal(t, 9));
	assert_int_equal(accel_timeline_query(t), 9);
	/* a timeline never goes back, nor stands still */
	EXPECT_CODE(accel_timeline_signal(t, 9), ACCEL_INVALID_ARGUMENT);
	EXPECT_CODE(accel_timeline_signal(t, 3), ACCEL_INVALID_ARGUMENT);
	assert_int_equal(accel_timeline_query(t), 9);
	OK(accel_timeline_wait(t, 7, ACCEL_DEADLINE_NONE));
	t0 = accel_now_ns();
	EXPECT_CODE(accel_timeline_wait(t, 10, t0 + 20 * MS),
		    ACCEL_DEADLINE_EXCEEDED);
	dt = accel_now_ns() - t0;
	if (dt < 20 * MS || dt > 1000 * MS)
		fail_msg("20 ms wait took %llu ns", (unsigned long long)dt);
	accel_timeline_release(t);
}

struct tl_waiter {
	accel_timeline *t;
	uint64_t point;
	uint64_t seen;		/* the value when the wait returned */
	accel_status st;
};

static void *tl_wait_thread(void *arg)
{
	struct tl_waiter *wt = arg;

	wt->st = accel_timeline_wait(wt->t, wt->point,
				     accel_now_ns() + 10000 * MS);
	wt->seen = accel_timeline_query(wt->t);
	return NULL;
}

static void timeline_wakes_waiters_on_several_threads(void **state)
{
	enum { N = 8 };
	accel_timeline *t;
	struct tl_waiter wt[N];
	pthread_t th[N];

	(void)state;
	OK(accel_timeline_create(0, &t));
	for (int i = 0; i < N; i++) {
		wt[i] = (struct tl_waiter){ t, (uint64_t)(i / 2 + 1), 0, NULL };
		assert_int_equal(pthread_create(&th[i], NULL, tl_wait_thread,
						&wt[i]), 0);
	}
	sleep_ns(20 * MS);	/* let them sleep in the futex */
	for (uint64_t v = 1; v <= N / 2; v++) {
		OK(accel_timeline_signal(t, v));
		sleep_ns(2 * MS);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		OK(wt[i].st);
		assert_true(wt[i].seen >= wt[i].point);
	}
	accel_timeline_release(t);
}

static void timeline_table_handles(void **state)
{
	accel_timeline_table *tab;
	accel_timeline *t, *got;
	uint32_t h1, h2;

	(void)state;
	OK(accel_timeline_table_create(&tab));
	OK(accel_timeline_create(0, &t));
	OK(accel_timeline_table_add(tab, t, &h1));
	OK(accel_timeline_table_add(tab, t, &h2));
	assert_int_not_equal(h1, 0);
	assert_int_not_equal(h1, h2);
	got = accel_timeline_table_get(tab, h2);
	assert_ptr_equal(got, t);
	accel_timeline_release(got);
	assert_null(accel_timeline_table_get(tab, 0));
	assert_null(accel_timeline_table_get(tab, 999));
	OK(accel_timeline_table_remove(tab, h1));
	EXPECT_CODE(accel_timeline_table_remove(tab, h1), ACCEL_NOT_FOUND);
	assert_null(accel_timeline_table_get(tab, h1));
	accel_timeline_release(t);	/* the table still holds h2 */
	got = accel_timeline_table_get(tab, h2);
	assert_int_equal(accel_timeline_query(got), 0);
	accel_timeline_release(got);
	accel_timeline_table_destroy(tab);
}

static struct accel_sqe fence_sqe(uint8_t op, uint32_t handle, uint64_t point,
				  uint64_t user_data)
{
	struct accel_sqe s = nop(user_data);

	s.opcode = op;
	s.fence_handle = handle;
	s.value = point;
	return s;
}

/* Ring A waits on a point that ring B's worker signals: A's later work
 * runs after B's signal, and nothing on A runs before. */
static void fence_sqes_order_work_across_workers(void **state)
{
	accel_timeline_table *tab;
	accel_timeline *t;
	struct accel_ring *ra, *rb;
	accel_worker *wa, *wb;
	struct accel_sqe s[2];
	struct accel_cqe ca[2], cb;
	uint32_t h;

	(void)state;
	OK(accel_timeline_table_create(&tab));
	OK(accel_timeline_create(0, &t));
	OK(accel_timeline_table_add(tab, t, &h));
	OK(accel_ring_create(8, 0, &ra));
	OK(accel_ring_create(8, 0, &rb));
	OK(accel_worker_create(ra, NULL, NULL, tab, NULL, 0, &wa));
	OK(accel_worker_create(rb, NULL, NULL, tab, NULL, 0, &wb));
	s[0] = fence_sqe(ACCEL_OP_FENCE_WAIT, h, 3, 1);
	s[1] = nop(2);
	OK(accel_ring_submit_sqes_wait(ra, s, 2, ACCEL_DEADLINE_NONE, NULL));
	EXPECT_CODE(accel_worker_wait(wa, 1, accel_now_ns() + 30 * MS),
		    ACCEL_DEADLINE_EXCEEDED);
	s[0] = fence_sqe(ACCEL_OP_FENCE_SIGNAL, h, 3, 10);
	OK(accel_ring_submit_sqes_wait(rb, s, 1, ACCEL_DEADLINE_NONE, NULL));
	reap_n(rb, &cb, 1);
	assert_int_equal(cb.res, 0);
	reap_n(ra, ca, 2);
	assert_int_equal(ca[0].user_data, 1);
	assert_int_equal(ca[0].res, 0);
	assert_int_equal(ca[1].user_data, 2);
	assert_true(ca[0].end_ns >= cb.start_ns);
	assert_true(ca[1].start_ns >= cb.start_ns);
	assert_int_equal(accel_timeline_query(t), 3);
	/* signalling a point not past the current one fails the SQE */
	s[0] = fence_sqe(ACCEL_OP_FENCE_SIGNAL, h, 2, 11);
	OK(accel_ring_submit_sqes_wait(rb, s, 1, ACCEL_DEADLINE_NONE, NULL));
	reap_n(rb, &cb, 1);
	assert_int_equal(cb.res, -EINVAL);
	accel_worker_destroy(wa);
	accel_worker_destroy(wb);
	accel_ring_destroy(ra);
	accel_ring_destroy(rb);
	accel_timeline_release(t);
	accel_timeline_table_destroy(tab);
}

/* Tearing a worker down while it waits on a fence that never comes
 * completes that SQE and everything behind it as canceled. */
static void destroy_cancels_pending_work(void **state)
{
	accel_timeline_table *tab;
	accel_timeline *t;
	struct accel_ring *r;
	accel_worker *w;
	struct accel_sqe s[3];
	struct accel_cqe c[3];
	uint32_t h;

	(void)state;
	OK(accel_timeline_table_create(&tab));
	OK(accel_timeline_create(0, &t));
	OK(accel_timeline_table_add(tab, t, &h));
	OK(accel_ring_create(8, 0, &r));
	OK(accel_worker_create(r, NULL, NULL, tab, NULL, 0, &w));
	s[0] = fence_sqe(ACCEL_OP_FENCE_WAIT, h, 1, 1);
	s[1] = nop(2);
	s[2] = nop(3);
	OK(accel_ring_submit_sqes_wait(r, s, 3, ACCEL_DEADLINE_NONE, NULL));
	sleep_ns(10 * MS);
	accel_worker_destroy(w);
	assert_int_equal(accel_ring_reap(r, c, 3), 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(c[i].user_data, i + 1);
		assert_int_equal(c[i].res, -ECANCELED);
		assert_int_equal(c[i].flags, ACCEL_CQE_F_CANCELED);
	}
	accel_ring_destroy(r);
	accel_timeline_release(t);
	accel_timeline_table_destroy(tab);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(layout_matches_the_kernel_offsets),
		cmocka_unit_test(setup_follows_whatever_offsets_it_is_given),
		cmocka_unit_test(create_rejects_bad_arguments),
		cmocka_unit_test(indices_wrap_past_2_32),
		cmocka_unit_test(full_sq_pushes_back),
		cmocka_unit_test(cq_overflow_is_kept_and_flushed_in_order),
		cmocka_unit_test(worker_overflow_loses_nothing),
		cmocka_unit_test(worker_wraps_past_2_32),
		cmocka_unit_test(stress_million_entries_no_loss_no_dup),
		cmocka_unit_test(stress_small_ring_across_wrap),
		cmocka_unit_test(worker_timestamps_are_monotonic),
		cmocka_unit_test(wait_times_out_then_completes),
		cmocka_unit_test(bad_sqes_are_dropped_and_completed),
		cmocka_unit_test(timeline_signal_wait_query),
		cmocka_unit_test(timeline_wakes_waiters_on_several_threads),
		cmocka_unit_test(timeline_table_handles),
		cmocka_unit_test(fence_sqes_order_work_across_workers),
		cmocka_unit_test(destroy_cancels_pending_work),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
