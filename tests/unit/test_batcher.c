/* SPDX-License-Identifier: MIT */
/*
 * test_batcher.c - unit tests of dynamic batching (sched/batcher.c) with a
 * real run function: y = x * s[0] + s[1] and per-row sums of y, computed
 * on whatever (merged) tensor it is given, recording the rows of every
 * call. A gate in the run function holds a batch while the test queues
 * more, so which requests merge is decided by the batcher's rules, not by
 * timing: no test asserts on how long anything took.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sched/batcher.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FOREVER (-1)
#define MAX_CALLS 1024
#define POISON -999.0f

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

/* ------------------------------------------------ the model and its run */

struct fake {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	bool hold;		/* runs wait while set */
	bool total_sum;		/* "sum" is one total, not one per row */
	int entered;		/* runs started */
	int calls;
	int64_t rows[MAX_CALLS];
};

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cv, NULL);
}

static void fake_fini(struct fake *f)
{
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->lock);
}

static void fake_hold(struct fake *f, bool hold)
{
	pthread_mutex_lock(&f->lock);
	f->hold = hold;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->lock);
}

/* inputs: x [rows, cols] f32 and s [2] f32; outputs y = x * s[0] + s[1]
 * and sum [rows] (or [1] with total_sum) */
static accel_status fake_run(void *ctx, const accel_named_tensor *in,
			     size_t n_in, accel_tensor **out, size_t n_out)
{
	struct fake *f = ctx;
	accel_tensor *x, *s, *y = NULL, *sum = NULL;
	const float *xp, *sp;
	float *yp, *sump;
	int64_t rows, cols, sum_dims[1];
	accel_status st;

	if (n_in != 2 || n_out != 2 || strcmp(in[0].name, "x") ||
	    strcmp(in[1].name, "s"))
		return status_invalid("fake_run: wrong inputs");
	x = in[0].tensor;
	s = in[1].tensor;
	rows = accel_tensor_dims(x)[0];
	cols = accel_tensor_dims(x)[1];
	pthread_mutex_lock(&f->lock);
	if (f->calls < MAX_CALLS)
		f->rows[f->calls] = rows;
	f->calls++;
	f->entered++;
	pthread_cond_broadcast(&f->cv);
	while (f->hold)
		pthread_cond_wait(&f->cv, &f->lock);
	pthread_mutex_unlock(&f->lock);

	xp = accel_tensor_data(x);
	sp = accel_tensor_data(s);
	for (int64_t i = 0; i < rows * cols; i++)
		if (xp[i] == POISON)
			return status_invalid("fake_run: x holds the poison value");
	sum_dims[0] = f->total_sum ? 1 : rows;
	st = accel_tensor_create(ACCEL_DTYPE_F32, 2, accel_tensor_dims(x), &y);
	if (!st)
		st = accel_tensor_create(ACCEL_DTYPE_F32, 1, sum_dims, &sum);
	if (st) {
		accel_tensor_release(y);
		return st;
	}
	yp = accel_tensor_data(y);
	sump = accel_tensor_data(sum);
	for (int64_t r = 0; r < rows; r++)
		for (int64_t c = 0; c < cols; c++) {
			yp[r * cols + c] = xp[r * cols + c] * sp[0] + sp[1];
			sump[f->total_sum ? 0 : r] += yp[r * cols + c];
		}
	out[0] = y;
	out[1] = sum;
	return NULL;
}

static accel_value_info vinfo(const char *name, int rank, int64_t d0,
			      int64_t d1)
{
	accel_value_info v;

	memset(&v, 0, sizeof(v));
	v.name = name;
	v.dtype = ACCEL_DTYPE_F32;
	v.rank = rank;
	v.dims[0] = d0;
	v.dims[1] = d1;
	return v;
}

struct model {
	accel_value_info in[2], out[2];
	batcher_params p;
};

/* x [?, ?], s [2] -> y [?, ?], sum [?] */
static void model_init(struct model *m, uint32_t max_batch, uint32_t delay_us,
		       uint32_t workers)
{
	m->in[0] = vinfo("x", 2, -1, -1);
	m->in[1] = vinfo("s", 1, 2, 0);
	m->out[0] = vinfo("y", 2, -1, -1);
	m->out[1] = vinfo("sum", 1, -1, 0);
	memset(&m->p, 0, sizeof(m->p));
	m->p.max_batch = max_batch;
	m->p.max_delay_us = delay_us;
	m->p.workers = workers;
	m->p.n_inputs = 2;
	m->p.inputs = m->in;
	m->p.n_outputs = 2;
	m->p.outputs = m->out;
}

/* ------------------------------------------------ requests */

struct req {
	accel_tensor *x, *s;
	batcher_ticket *t;
};

static accel_tensor *make_x(int64_t rows, int64_t cols, float base)
{
	int64_t dims[2] = { rows, cols };
	accel_tensor *x;
	float *p;

	OK(accel_tensor_create(ACCEL_DTYPE_F32, 2, dims, &x));
	p = accel_tensor_data(x);
	for (int64_t i = 0; i < rows * cols; i++)
		p[i] = base + (float)i;
	return x;
}

static accel_tensor *make_s(float a, float b)
{
	int64_t dims[1] = { 2 };
	float v[2] = { a, b };
	accel_tensor *s;

	OK(accel_tensor_create_copy(ACCEL_DTYPE_F32, 1, dims, v, sizeof(v), &s));
	return s;
}

/* Queue x/s; the request keeps its own references to both. */
static void submit(batcher *b, struct req *r, accel_tensor *x, accel_tensor *s)
{
	accel_named_tensor in[2] = { { "s", s }, { "x", x } }; /* any order */

	r->x = x;
	r->s = s;
	accel_tensor_retain(s);
	OK(batcher_submit(b, in, 2, 2, &r->t));
}

static void req_free(struct req *r)
{
	batcher_ticket_free(r->t);
	accel_tensor_release(r->x);
	accel_tensor_release(r->s);
	memset(r, 0, sizeof(*r));
}

/* Wait for |r| and check its outputs against its own inputs. */
static void expect_result(struct req *r)
{
	accel_tensor *out[2];
	const float *x = accel_tensor_data(r->x), *s = accel_tensor_data(r->s);
	const float *y, *sum;
	int64_t rows = accel_tensor_dims(r->x)[0], cols = accel_tensor_dims(r->x)[1];

	OK(batcher_wait(r->t, FOREVER, out));
	assert_int_equal(accel_tensor_rank(out[0]), 2);
	assert_int_equal(accel_tensor_dims(out[0])[0], rows);
	assert_int_equal(accel_tensor_dims(out[0])[1], cols);
	assert_int_equal(accel_tensor_rank(out[1]), 1);
	y = accel_tensor_data(out[0]);
	sum = accel_tensor_data(out[1]);
	for (int64_t i = 0; i < rows; i++) {
		float want_sum = 0;

		for (int64_t c = 0; c < cols; c++) {
			float want = x[i * cols + c] * s[0] + s[1];

			if (y[i * cols + c] != want)
				fail_msg("y[%lld][%lld]: expected %g, got %g",
					 (long long)i, (long long)c, want,
					 y[i * cols + c]);
			want_sum += want;
		}
		/* a per-row sum, or the request's total when run alone */
		if (accel_tensor_dims(out[1])[0] == rows) {
			if (sum[i] != want_sum)
				fail_msg("sum[%lld]: expected %g, got %g",
					 (long long)i, want_sum, sum[i]);
		}
	}
	accel_tensor_release(out[0]);
	accel_tensor_release(out[1]);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Wait (up to 20 s) until |n| runs have started. */
static void await_entered(struct fake *f, int n)
{
	for (int i = 0; i < 20000; i++) {
		pthread_mutex_lock(&f->lock);
		bool ok = f->entered >= n;
		pthread_mutex_unlock(&f->lock);

		if (ok)
			return;
		sleep_ms(1);
	}
	fail_msg("expected %d runs to start, saw %d", n, f->entered);
}

/* Wait (up to 20 s) until |n| requests are queued. */
static void await_queued(batcher *b, uint64_t n)
{
	struct batcher_stats st;

	for (int i = 0; i < 20000; i++) {
		batcher_get_stats(b, &st);
		if (st.queued == n)
			return;
		sleep_ms(1);
	}
	fail_msg("expected %llu queued requests, saw %llu",
		 (unsigned long long)n, (unsigned long long)st.queued);
}

static void expect_calls(struct fake *f, const int64_t *rows, int n)
{
	char want[256] = "", got[256] = "";

	for (int i = 0; i < n; i++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want),
			 " %lld", (long long)rows[i]);
	for (int i = 0; i < f->calls && i < 32; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got),
			 " %lld", (long long)f->rows[i]);
	if (f->calls != n || memcmp(f->rows, rows, (size_t)n * sizeof(*rows)))
		fail_msg("run calls with rows:%s expected, got:%s", want, got);
}

/*
 * Hold the run, get one request (R0) into it, then queue |n| more: when
 * the gate opens, the queued ones are batched by the rules alone.
 */
static void start_held(batcher *b, struct fake *f, struct req *r0,
		       accel_tensor *s)
{
	fake_hold(f, true);
	submit(b, r0, make_x(1, 4, 1000), s);
	await_entered(f, 1);
}

/* ------------------------------------------------ tests */

static void lone_request_completes(void **state)
{
	struct fake f;
	struct model m;
	struct req r;
	batcher *b;
	accel_tensor *s = make_s(2, 1);
	const int64_t want[] = { 3 };

	fake_init(&f);
	model_init(&m, 8, 2000, 1);
	OK(batcher_create(&m.p, fake_run, &f, &b));
	submit(b, &r, make_x(3, 4, 0), s);
	expect_result(&r);
	expect_calls(&f, want, 1);
	req_free(&r);
	batcher_destroy(b);
	accel_tensor_release(s);
	fake_fini(&f);
}

struct submitter {
	batcher *b;
	accel_tensor *s;
	int id, count, max_rows;
	int64_t rows_sent;
};

static void *submitter_main(void *arg)
{
	struct submitter *sb = arg;

	for (int i = 0; i < sb->count; i++) {
		int64_t rows = 1 + (sb->id + i) % sb->max_rows;
		struct req r;

		submit(sb->b, &r, make_x(rows, 3, (float)(sb->id * 10000 + i * 10)),
		       sb->s);
		expect_result(&r);
		req_free(&r);
		sb->rows_sent += rows;
	}
	return NULL;
}

static void four_submitters_merge_into_one_call(void **state)
{
	struct submitter sb[4];
	pthread_t th[4];
	struct fake f;
	struct model m;
	batcher *b;
	accel_tensor *s = make_s(3, -1);
	const int64_t want[] = { 4 };
	struct batcher_stats st;

	fake_init(&f);
	/* a delay far beyond the test: only a full batch dispatches */
	model_init(&m, 4, 60000000u, 1);
	OK(batcher_create(&m.p, fake_run, &f, &b));
	for (int i = 0; i < 4; i++) {
		sb[i] = (struct submitter){ b, s, i, 1, 1, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, submitter_main, &sb[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	expect_calls(&f, want, 1);
	batcher_get_stats(b, &st);
	assert_int_equal(st.merged_runs, 1);
	assert_int_equal(st.merged_requests, 4);
	batcher_destroy(b);
	accel_tensor_release(s);
	fake_fini(&f);
}

static void many_threads_results_are_correct(void **state)
{
	enum { THREADS = 8, EACH = 40, MAX_BATCH = 8 };
	struct submitter sb[THREADS];
	pthread_t th[THREADS];
	struct fake f;
	struct model m;
	batcher *b;
	accel_tensor *s = make_s(0.5f, 2);
	int64_t sent = 0, ran = 0;
	struct batcher_stats st;

	fake_init(&f);
	model_init(&m, MAX_BATCH, 1000, 2);
	OK(batcher_create(&m.p, fake_run, &f, &b));
	for (int i = 0; i < THREADS; i++) {
		sb[i] = (struct submitter){ b, s, i, EACH, 3, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, submitter_main, &sb[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		sent += sb[i].rows_sent;
	}
	assert_true(f.calls <= MAX_CALLS);
	for (int i = 0; i < f.calls; i++) {
		if (f.rows[i] > MAX_BATCH)
			fail_msg("call %d ran %lld rows, max_batch is %d", i,
				 (long long)f.rows[i], MAX_BATCH);
		ran += f.rows[i];
	}
	/* every row ran exactly once: nothing lost, nothing run twice */
	assert_int_equal(ran, sent);
	batcher_get_stats(b, &st);
	assert_int_equal(st.requests, THREADS * EACH);
	assert_int_equal(st.runs, (uint64_t)f.calls);
	assert_int_equal(st.fallbacks, 0);
	batcher_destroy(b);
	accel_tensor_release(s);
	fake_fini(&f);
}

static void split_results_keep_request_order(void **state)
{
	struct fake f;
	struct model m;
	struct req r0, r[4];
	batcher *b;
	accel_tensor *s = make_s(2, 0.25f);
	const int64_t rows[4] = { 1, 3, 2, 1 };
	const int64_t want[] = { 1, 7 };

	fake_init(&f);
	model_init(&m, 8, 0, 1);
	OK(batcher_create(&m.p, fake_run, &f, &b));
	start_held(b, &f, &r0, s);
	for (int i = 0; i < 4; i++)
		submit(b, &r[i], make_x(rows[i], 4, (float)(100 * i)), s);
	await_queued(b, 4);
	fake_hold(&f, false);
	/* wait in reverse order: each gets its own rows regardless */
	for (int i = 3; i >= 0; i--)
		expect_result(&r[i]);
	expect_result(&r0);
	expect_calls(&f, want, 2);
	for (int i = 0; i < 4; i++)
		req_free(&r[i]);
	req_free(&r0);
	batcher_destroy(b);
	accel_tensor_release(s);
	fake_fini(&f);
}

static void incompatible_shapes_are_not_merged(void **state)
{
	struct fake f;
	struct model m;
	struct req r0, r[5];
	batcher *b;
	accel_tensor *s1 = make_s(2, 1), *s1_copy = make_s(2, 1), *s2 = make_s(5, 0);
	/* A x[1,4] s1, B x[1,5] s1, C x[2,4] s1 (another tensor, same
	 * values), D x[1,4] s2, E x[1,5] s1: {A,C}, {B,E}, {D} */
	const int64_t want[] = { 1, 3, 2, 1 };

	fake_init(&f);
	model_init(&m, 8, 0, 1);
	OK(batcher_create(&m.p, fake_run, &f, &b));
	start_held(b, &f, &r0, s1);
	submit(b, &r[0], make_x(1, 4, 0), s1);
	submit(b, &r[1], make_x(1, 5, 10), s1);
	submit(b, &r[2], make_x(2, 4, 20), s1_copy);
	submit(b, &r[3], make_x(1, 4, 30), s2);
	submit(b, &r[4], make_x(1, 5, 40), s1);
	await_queued(b, 5);
	fake_hold(&f, false);
	for (int i = 0; i < 5; i++)
		expect_result(&r[i]);
	expect_result(&r0);
	expect_calls(&f, want, 4);
	for (int i = 0; i < 5; i++)
		req_free(&r[i]);
	req_free(&r0);
	batcher_destroy(b);
	accel_tensor_release(s1);
	accel_tensor_release(s1_copy);
	accel_tensor_release(s2);
	fake_fini(&f);
}

static void max_batch_is_respected(void **state)
{
	struct fake f;
	struct model m;
	struct req r0, r[8];
	batcher *b;
	accel_tensor *s = make_s(1, 1);
	/* rows 3 2 1 6 1 1 1 1 with max_batch 4: {3,1} {2,1,1} {6 alone}
	 * {1,1} (the second 1 of the tail fills nothing: delay 0) */
	const int64_t rows[8] = { 3, 2, 1, 6, 1, 1, 1, 1 };
	const int64_t want[] = { 1, 4, 4, 6, 2 };

	fake_init(&f);
	model_init(&m, 4, 0, 1);
	OK(batcher_create(&m.p, fake_run, &f, &b));
	start_held(b, &f, &r0, s);
	for (int i = 0; i < 8; i++)
		submit(b, &r[i], make_x(rows[i], 2, (float)(50 * i)), s);
	await_queued(b, 8);
	fake_hold(&f, false);
	for (int i = 0; i < 8; i++)
		expect_result(&r[i]);
	expect_result(&r0);
	expect_calls(&f, want, 5);
	for (int i = 0; i < 8; i++)
		req_free(&r[i]);
	req_free(&r0);
	batcher_destroy(b);
	accel_tensor_release(s);
	fake_fini(&f);
}

static void max_batch_0_and_1_turn_merging_off(void **state)
{
	const int64_t want[] = { 1, 1, 1, 1 };

	for (uint32_t mb = 0; mb <= 1; mb++) {
		struct fake f;
		struct model m;
		struct req r0, r[3];
		batcher *b;
		accel_tensor *s = make_s(1, 0);

		fake_init(&f);
		/* a huge delay must not hold anything when merging is off */
		model_init(&m, mb, 60000000u, 1);
		OK(batcher_create(&m.p, fake_run, &f, &b));
		start_held(b, &f, &r0, s);
		for (int i = 0; i < 3; i++)
			submit(b, &r[i], make_x(1, 3, (float)i), s);
		await_queued(b, 3);
		fake_hold(&f, false);
		for (int i = 0; i < 3; i++)
			expect_result(&r[i]);
		expect_result(&r0);
		expect_calls(&f, want, 4);
		for (int i = 0; i < 3; i++)
			req_free(&r[i]);
		req_free(&r0);
		batcher_destroy(b);
		accel_tensor_release(s);
		fake_fini(&f);
	}
}

static void output_without_batch_axis_falls_back_to_single_runs(void **state)
{
	struct fake f;
	struct model m;
	struct req r0, r[3];
	batcher *b;
	accel_tensor *s = make_s(2, 3);
	const int64_t rows[3] = { 1, 2, 1 };
	/* merged run (4 rows), its "sum" has dim 0 1: each redone alone */
	const int64_t want[] = { 1, 4, 1, 2, 1 };
	struct batcher_stats st;

	fake_init(&f);
	f.total_sum = true;
	model_init(&m, 8, 0, 1);
	m.out[1].rank = -1; /* not known at load time */
	OK(batcher_create(&m.p, fake_run, &f, &b));
	start_held(b, &f, &r0, s);
	for (int i = 0; i < 3; i++)
		submit(b, &r[i], make_x(rows[i], 3, (float)(7 * i)), s);
	await_queued(b, 3);
	fake_hold(&f, false);
	for (int i = 0; i < 3; i++) {
		accel_tensor *out[2];
		const float *x = accel_tensor_data(r[i].x);
		float want_total = 0;

		OK(batcher_wait(r[i].t, FOREVER, out));
		for (int k = 0; k < rows[i] * 3; k++)
			want_total += x[k] * 2 + 3;
		assert_int_equal(accel_tensor_dims(out[1])[0], 1);
		assert_true(((float *)accel_tensor_data(out[1]))[0] == want_total);
		assert_int_equal(accel_tensor_dims(out[0])[0], rows[i]);
		accel_tensor_release(out[0]);
		accel_tensor_release(out[1]);
	}
	expect_result(&r0);
	expect_calls(&f, want, 5);
	batcher_get_stats(b, &st);
	assert_int_equal(st.fallbacks, 1);
	assert_int_equal(st.merged_runs, 0);
	for (int i = 0; i < 3; i++)
		req_free(&r[i]);
	req_free(&r0);
	batcher_destroy(b);
	accel_tensor_release(s);
	fake_fini(&f);
}

static void fixed_output_dim_disables_merging(void **state)
{
	struct fake f;
	struct model m;
	struct req r0, r[3];
	batcher *b;
	accel_tensor *s = make_s(2, 3);
	const int64_t want[] = { 1, 1, 1, 1 };

	fake_init(&f);
	f.total_sum = true;
	model_init(&m, 8, 0, 1);
	m.out[1].dims[0] = 1; /* declared [1]: no batch axis */
	OK(batcher_create(&m.p, fake_run, &f, &b));
	start_held(b, &f, &r0, s);
	for (int i = 0; i < 3; i++)
		submit(b, &r[i], make_x(1, 3, (float)i), s);
	await_queued(b, 3);
	fake_hold(&f, false);
	for (int i = 0; i < 3; i++)
		expect_result(&r[i]);
	expect_result(&r0);
	expect_calls(&f, want, 4);
	for (int i = 0; i < 3; i++)
		req_free(&r[i]);
	req_free(&r0);
	batcher_destroy(b);
	accel_tensor_release(s);
	fake_fini(&f);
}

static void run_failure_reaches_only_the_failing_request(void **state)
{
	struct fake f;
	struct model m;
	struct req r0, r[3], lone;
	batcher *b;
	accel_tensor *s = make_s(1, 1), *out[2];
	/* {A, P, C} merged fails on P's poison: all three redone alone */
	const int64_t want[] = { 1, 3, 1, 1, 1, 1 };
	accel_status st;

	fake_init(&f);
	model_init(&m, 8, 0, 1);
	OK(batcher_create(&m.p, fake_run, &f, &b));
	start_held(b, &f, &r0, s);
	submit(b, &r[0], make_x(1, 2, 0), s);
	submit(b, &r[1], make_x(1, 2, POISON), s);
	submit(b, &r[2], make_x(1, 2, 5), s);
	await_queued(b, 3);
	fake_hold(&f, false);
	expect_result(&r[0]);
	expect_result(&r[2]);
	st = batcher_wait(r[1].t, FOREVER, out);
	assert_int_equal(accel_status_code_of(st), ACCEL_INVALID_ARGUMENT);
	assert_non_null(strstr(accel_status_message(st), "poison"));
	accel_status_free(st);
	/* an error can be read again */
	EXPECT_CODE(batcher_wait(r[1].t, 0, out), ACCEL_INVALID_ARGUMENT);
	expect_result(&r0);

	/* a lone failing request: the run's error, as it was */
	submit(b, &lone, make_x(1, 2, POISON), s);
	st = batcher_wait(lone.t, FOREVER, out);
	assert_int_equal(accel_status_code_of(st), ACCEL_INVALID_ARGUMENT);
	assert_string_equal(accel_status_message(st),
			    "fake_run: x holds the poison value");
	accel_status_free(st);
	expect_calls(&f, want, 6);
	for (int i = 0; i < 3; i++)
		req_free(&r[i]);
	req_free(&r0);
	req_free(&lone);
	batcher_destroy(b);
	accel_tensor_release(s);
	fake_fini(&f);
}

static void *destroy_main(void *arg)
{
	batcher_destroy(arg);
	return NULL;
}

static void destroy_fails_queued_requests_and_finishes_running_ones(void **state)
{
	struct fake f;
	struct model m;
	struct req r0, r[3];
	batcher *b;
	pthread_t th;
	accel_tensor *s = make_s(1, 1), *out[2];
	accel_status st;

	fake_init(&f);
	model_init(&m, 8, 0, 1);
	OK(batcher_create(&m.p, fake_run, &f, &b));
	start_held(b, &f, &r0, s);
	for (int i = 0; i < 3; i++)
		submit(b, &r[i], make_x(1, 2, (float)i), s);
	await_queued(b, 3);
	/* destroy cancels the queue at once, then waits for R0's run */
	assert_int_equal(pthread_create(&th, NULL, destroy_main, b), 0);
	for (int i = 0; i < 3; i++) {
		st = batcher_wait(r[i].t, FOREVER, out);
		assert_int_equal(accel_status_code_of(st), ACCEL_UNAVAILABLE);
		assert_non_null(strstr(accel_status_message(st), "shut down"));
		accel_status_free(st);
	}
	fake_hold(&f, false);
	pthread_join(th, NULL);
	expect_result(&r0);
	assert_int_equal(f.calls, 1);
	for (int i = 0; i < 3; i++)
		req_free(&r[i]);
	req_free(&r0);
	accel_tensor_release(s);
	fake_fini(&f);
}

static void wait_times_out_then_completes(void **state)
{
	struct fake f;
	struct model m;
	struct req r;
	batcher *b;
	accel_tensor *s = make_s(1, 1), *out[2];

	fake_init(&f);
	model_init(&m, 8, 0, 1);
	OK(batcher_create(&m.p, fake_run, &f, &b));
	start_held(b, &f, &r, s);
	EXPECT_CODE(batcher_wait(r.t, 0, out), ACCEL_DEADLINE_EXCEEDED);
	EXPECT_CODE(batcher_wait(r.t, 1000000, out), ACCEL_DEADLINE_EXCEEDED);
	fake_hold(&f, false);
	expect_result(&r);
	/* outputs are handed over once */
	EXPECT_CODE(batcher_wait(r.t, 0, out), ACCEL_INVALID_ARGUMENT);
	req_free(&r);
	batcher_destroy(b);
	accel_tensor_release(s);
	fake_fini(&f);
}

static void tickets_freed_early_leak_nothing(void **state)
{
	struct fake f;
	struct model m;
	struct req r0, r[3];
	batcher *b;
	accel_tensor *s = make_s(1, 1);
	const int64_t want[] = { 1, 3 };

	fake_init(&f);
	model_init(&m, 8, 0, 1);
	OK(batcher_create(&m.p, fake_run, &f, &b));
	start_held(b, &f, &r0, s);
	for (int i = 0; i < 3; i++)
		submit(b, &r[i], make_x(1, 2, (float)i), s);
	await_queued(b, 3);
	/* drop every reference before the runs: the batcher keeps what it
	 * needs and releases the outputs nobody will take */
	for (int i = 0; i < 3; i++)
		req_free(&r[i]);
	req_free(&r0);
	fake_hold(&f, false);
	await_entered(&f, 2); /* the merged run began: destroy lets it end */
	batcher_destroy(b);
	expect_calls(&f, want, 2);
	accel_tensor_release(s);
	fake_fini(&f);
}

static void bad_arguments_are_rejected(void **state)
{
	struct fake f;
	struct model m;
	batcher *b;
	batcher_ticket *t;
	accel_tensor *x = make_x(1, 2, 0), *s = make_s(1, 1);
	accel_named_tensor unknown[2] = { { "x", x }, { "t", s } };
	accel_named_tensor twice[2] = { { "x", x }, { "x", x } };
	accel_named_tensor null_tensor[2] = { { "x", x }, { "s", NULL } };
	accel_named_tensor good[2] = { { "x", x }, { "s", s } };

	fake_init(&f);
	model_init(&m, 8, 0, 1);
	EXPECT_CODE(batcher_create(NULL, fake_run, &f, &b), ACCEL_INVALID_ARGUMENT);
	EXPECT_CODE(batcher_create(&m.p, NULL, &f, &b), ACCEL_INVALID_ARGUMENT);
	m.in[1].name = "x";
	EXPECT_CODE(batcher_create(&m.p, fake_run, &f, &b), ACCEL_INVALID_ARGUMENT);
	m.in[1].name = "s";
	OK(batcher_create(&m.p, fake_run, &f, &b));
	EXPECT_CODE(batcher_submit(b, good, 1, 2, &t), ACCEL_INVALID_ARGUMENT);
	EXPECT_CODE(batcher_submit(b, good, 2, 1, &t), ACCEL_INVALID_ARGUMENT);
	EXPECT_CODE(batcher_submit(b, unknown, 2, 2, &t), ACCEL_INVALID_ARGUMENT);
	EXPECT_CODE(batcher_submit(b, twice, 2, 2, &t), ACCEL_INVALID_ARGUMENT);
	EXPECT_CODE(batcher_submit(b, null_tensor, 2, 2, &t), ACCEL_INVALID_ARGUMENT);
	EXPECT_CODE(batcher_submit(b, NULL, 2, 2, &t), ACCEL_INVALID_ARGUMENT);
	EXPECT_CODE(batcher_wait(NULL, 0, NULL), ACCEL_INVALID_ARGUMENT);
	assert_int_equal(f.calls, 0);
	batcher_destroy(b);
	accel_tensor_release(x);
	accel_tensor_release(s);
	fake_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lone_request_completes),
		cmocka_unit_test(four_submitters_merge_into_one_call),
		cmocka_unit_test(many_threads_results_are_correct),
		cmocka_unit_test(split_results_keep_request_order),
		cmocka_unit_test(incompatible_shapes_are_not_merged),
		cmocka_unit_test(max_batch_is_respected),
		cmocka_unit_test(max_batch_0_and_1_turn_merging_off),
		cmocka_unit_test(output_without_batch_axis_falls_back_to_single_runs),
		cmocka_unit_test(fixed_output_dim_disables_merging),
		cmocka_unit_test(run_failure_reaches_only_the_failing_request),
		cmocka_unit_test(destroy_fails_queued_requests_and_finishes_running_ones),
		cmocka_unit_test(wait_times_out_then_completes),
		cmocka_unit_test(tickets_freed_early_leak_nothing),
		cmocka_unit_test(bad_arguments_are_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
