/* SPDX-License-Identifier: MIT */
/*
 * test_pipeline.c - asynchronous runs through the per-device lanes: submit,
 * wait with and without a timeout, outputs taken once, requests of one
 * session overlapping across devices, a failing request among good ones,
 * many submitters, and freeing a request that is still running.
 *
 * The device is a loopback backend (host memory, the CPU's kernels) with a
 * gate: while it is shut, the device blocks in exec, so a test can hold a
 * request on the device and look at what the other lane does meanwhile.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/runtime.h"
#include "cpu/kernel.h"
#include "model_builder.h"
#include "test_device.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct gate_dev {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool open;
	int fail_on;	 /* fail the exec with this number (1-based), 0: none */
	int execs;	 /* exec calls so far */
	int live_allocs; /* device buffers not yet freed */
} gate_dev;

static gate_dev dev = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, true, 0, 0, 0 };

static void gate_set(bool open)
{
	pthread_mutex_lock(&dev.lock);
	dev.open = open;
	pthread_cond_broadcast(&dev.cond);
	pthread_mutex_unlock(&dev.lock);
}

static void dev_reset(void)
{
	pthread_mutex_lock(&dev.lock);
	dev.open = true;
	dev.fail_on = 0;
	dev.execs = 0;
	dev.live_allocs = 0;
	pthread_mutex_unlock(&dev.lock);
}

static void gd_destroy(void *impl) { (void)impl; }

static bool gd_supports(void *impl, const ir_node *n, accel_tensor *const *in, int n_in)
{
	(void)impl, (void)in, (void)n_in;
	return !strcmp(n->op_type, "Relu");
}

static accel_status gd_alloc(void *impl, size_t bytes, void **out)
{
	(void)impl;
	*out = malloc(bytes ? bytes : 1);
	if (!*out)
		return status_oom("gate device memory");
	__atomic_fetch_add(&dev.live_allocs, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void gd_free(void *impl, void *mem)
{
	(void)impl;
	__atomic_fetch_sub(&dev.live_allocs, 1, __ATOMIC_RELAXED);
	free(mem);
}

static accel_status gd_copy(void *impl, void *dst, const void *src, size_t n)
{
	(void)impl;
	memcpy(dst, src, n);
	return NULL;
}

static accel_status gd_upload(void *impl, void *mem, const void *src, size_t n)
{
	return gd_copy(impl, mem, src, n);
}

static accel_status gd_download(void *impl, void *dst, void *mem, size_t n)
{
	return gd_copy(impl, dst, mem, n);
}

static accel_status gd_exec(void *impl, const ir_node *n, void *state, accel_tensor *const *in,
			    const bool *on_host, int n_in, accel_tensor *const *out, int n_out)
{
	cpu_ctx ctx = { .node = n };
	bool fail;

	(void)impl, (void)state, (void)on_host;
	pthread_mutex_lock(&dev.lock);
	while (!dev.open)
		pthread_cond_wait(&dev.cond, &dev.lock);
	fail = ++dev.execs == dev.fail_on;
	pthread_mutex_unlock(&dev.lock);
	if (fail)
		return status_error(ACCEL_UNAVAILABLE, "gate device: injected failure");
	return cpu_kernel_find(n->domain, n->op_type)->exec(&ctx, in, n_in, out, n_out);
}

static accel_status gd_finish(void *impl)
{
	(void)impl;
	return NULL;
}

static const backend_ops gate_ops = {
	.kind_name = "opencl",
	.kind = ACCEL_DEVICE_OPENCL,
	.destroy = gd_destroy,
	.supports = gd_supports,
	.alloc = gd_alloc,
	.free = gd_free,
	.upload = gd_upload,
	.download = gd_download,
	.exec = gd_exec,
	.finish = gd_finish,
};

static char gate_spec[32], gate_name[64];

/* A context with the gate device after the real ones, as opencl:N. */
static accel_context *ctx_with_gate(void)
{
	return test_context_with_device(&gate_ops, &dev, "gate", gate_spec, sizeof(gate_spec),
					gate_name, sizeof(gate_name));
}

typedef struct fixture {
	model_buf buf;
	accel_context *ctx;
	accel_model *model;
	accel_session *s;
} fixture;

/* y = Relu(x + c): Add on the CPU (the device lacks it), Relu on the gate
 * device: two lanes, two segments. |devices| NULL: the CPU alone. */
static void fixture_open_batched(fixture *f, const char *devices, uint32_t max_batch,
				 uint32_t delay_us)
{
	accel_session_options o;

	dev_reset();
	f->buf = make_model(NULL, true, "Relu");
	f->ctx = ctx_with_gate();
	assert_null(accel_model_load_memory(f->ctx, f->buf.data, f->buf.size, "pipe.onnx", NULL,
					    0, &f->model));
	accel_session_options_init(&o);
	o.devices = devices;
	o.num_threads = 1;
	o.max_batch = max_batch;
	o.max_batch_delay_us = delay_us;
	assert_null(accel_session_create(f->model, &o, &f->s));
}

static void fixture_open(fixture *f, const char *devices)
{
	fixture_open_batched(f, devices, 0, 0);
}

static void fixture_close(fixture *f)
{
	accel_session_release(f->s);
	accel_model_release(f->model);
	accel_context_release(f->ctx);
	free(f->buf.data);
	assert_int_equal(dev.live_allocs, 0);
}

/* x[i] = base + i for a [rows, 3] input. */
static accel_tensor *input_rows(int rows, float base)
{
	int64_t dims[2] = { rows, 3 };
	accel_tensor *x;
	float *d;

	assert_null(accel_tensor_create(ACCEL_DTYPE_F32, 2, dims, &x));
	d = accel_tensor_data(x);
	for (int i = 0; i < rows * 3; i++)
		d[i] = base + (float)i;
	return x;
}

static void check_output(accel_tensor *x, accel_tensor *y)
{
	static const float c[3] = { -1.0f, 0.5f, 2.0f };
	const float *xd = accel_tensor_data(x), *yd = accel_tensor_data(y);
	int64_t n = accel_tensor_numel(x);

	assert_int_equal(accel_tensor_numel(y), n);
	for (int64_t i = 0; i < n; i++) {
		float want = xd[i] + c[i % 3];

		assert_float_equal(yd[i], want > 0 ? want : 0, 0);
	}
}

static accel_request *submit(accel_session *s, accel_tensor *x)
{
	accel_named_tensor in = { "x", x };
	accel_request *r = NULL;

	assert_null(accel_session_submit(s, &in, 1, 0, &r));
	assert_non_null(r);
	return r;
}

static void wait_ok_and_check(accel_request *r, accel_tensor *x)
{
	accel_tensor *y = NULL;

	assert_null(accel_request_wait(r, ACCEL_WAIT_FOREVER));
	assert_null(accel_request_take_outputs(r, &y, 1));
	check_output(x, y);
	accel_tensor_release(y);
}

static void expect_code(accel_status st, accel_status_code code)
{
	assert_non_null(st);
	assert_int_equal(accel_status_code_of(st), code);
	accel_status_free(st);
}

static uint64_t lane_segments(accel_session *s, const char *prefix)
{
	accel_device_activity a;

	for (size_t i = 0; i < accel_session_device_count(s); i++) {
		assert_null(accel_session_device_activity(s, i, &a));
		if (!strncmp(a.device, prefix, strlen(prefix)))
			return a.segments;
	}
	return 0;
}

/* Poll (not time) a condition: generous, only a hang fails. */
static bool eventually_segments(accel_session *s, const char *lane, uint64_t want)
{
	struct timespec ts = { 0, 1000000 };

	for (int i = 0; i < 20000; i++) {
		if (lane_segments(s, lane) >= want)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

static void submit_wait_take(void **state)
{
	accel_tensor *x = input_rows(2, -3.0f), *y[2] = { NULL, NULL };
	accel_request *r;
	fixture f;

	(void)state;
	fixture_open(&f, gate_spec);
	assert_int_equal(accel_session_device_count(f.s), 2);
	gate_set(false);
	r = submit(f.s, x);
	/* held on the device: a poll and a short wait both say "running" */
	expect_code(accel_request_wait(r, 0), ACCEL_DEADLINE_EXCEEDED);
	expect_code(accel_request_wait(r, 2000000), ACCEL_DEADLINE_EXCEEDED);
	expect_code(accel_request_take_outputs(r, y, 1), ACCEL_DEADLINE_EXCEEDED);
	gate_set(true);
	assert_null(accel_request_wait(r, ACCEL_WAIT_FOREVER));
	assert_null(accel_request_wait(r, 0)); /* done stays done */
	expect_code(accel_request_take_outputs(r, y, 2), ACCEL_INVALID_ARGUMENT);
	assert_null(accel_request_take_outputs(r, y, 1));
	check_output(x, y[0]);
	expect_code(accel_request_take_outputs(r, y + 1, 1), ACCEL_INVALID_ARGUMENT);
	accel_request_free(r);
	accel_tensor_release(y[0]);
	accel_tensor_release(x); /* the request held its own reference */
	fixture_close(&f);
}

static void bad_arguments(void **state)
{
	accel_tensor *x = input_rows(1, 0.0f);
	accel_named_tensor in = { "x", x }, wrong = { "nope", x };
	accel_request *r = (accel_request *)&in;
	fixture f;

	(void)state;
	fixture_open(&f, NULL);
	expect_code(accel_session_submit(NULL, &in, 1, 0, &r), ACCEL_INVALID_ARGUMENT);
	assert_null(r); /* cleared on failure */
	expect_code(accel_session_submit(f.s, &in, 1, 0, NULL), ACCEL_INVALID_ARGUMENT);
	expect_code(accel_session_submit(f.s, NULL, 1, 0, &r), ACCEL_INVALID_ARGUMENT);
	expect_code(accel_session_submit(f.s, &in, 1, 7, &r), ACCEL_INVALID_ARGUMENT);
	expect_code(accel_session_submit(f.s, &wrong, 1, 0, &r), ACCEL_NOT_FOUND);
	expect_code(accel_session_submit(f.s, NULL, 0, 0, &r), ACCEL_NOT_FOUND);
	assert_null(r);
	expect_code(accel_request_wait(NULL, 0), ACCEL_INVALID_ARGUMENT);
	expect_code(accel_request_take_outputs(NULL, NULL, 0), ACCEL_INVALID_ARGUMENT);
	accel_request_free(NULL);
	expect_code(accel_session_device_activity(f.s, 99, &(accel_device_activity){ 0 }),
		    ACCEL_NOT_FOUND);
	expect_code(accel_session_device_activity(f.s, 0, NULL), ACCEL_INVALID_ARGUMENT);
	assert_int_equal(accel_session_device_count(NULL), 0);
	assert_int_equal(accel_session_device_count(f.s), 1); /* the CPU alone */
	accel_tensor_release(x);
	fixture_close(&f);
}

/*
 * With the device held on request 0, the CPU lane still runs the Add of
 * requests 1..3: different devices work on different requests at once.
 */
static void requests_overlap_across_devices(void **state)
{
	enum { N = 4 };
	accel_tensor *x[N];
	accel_request *r[N];
	fixture f;

	(void)state;
	fixture_open(&f, gate_spec);
	gate_set(false);
	for (int i = 0; i < N; i++) {
		x[i] = input_rows(i + 1, (float)(i * 10) - 4.0f);
		r[i] = submit(f.s, x[i]);
	}
	assert_true(eventually_segments(f.s, "cpu", N));
	assert_int_equal(lane_segments(f.s, gate_spec), 0);
	for (int i = 0; i < N; i++)
		expect_code(accel_request_wait(r[i], 0), ACCEL_DEADLINE_EXCEEDED);
	gate_set(true);
	for (int i = N - 1; i >= 0; i--) /* any order of waiting works */
		wait_ok_and_check(r[i], x[i]);
	assert_int_equal(lane_segments(f.s, gate_spec), N);
	for (int i = 0; i < N; i++) {
		accel_request_free(r[i]);
		accel_tensor_release(x[i]);
	}
	fixture_close(&f);
}

/* The third request fails on the device; the others are unaffected. */
static void failing_request_among_good_ones(void **state)
{
	enum { N = 6 };
	accel_tensor *x[N], *y = NULL;
	accel_request *r[N];
	accel_status st;
	fixture f;

	(void)state;
	fixture_open(&f, gate_spec);
	dev.fail_on = 3;
	for (int i = 0; i < N; i++) {
		x[i] = input_rows(2, (float)i);
		r[i] = submit(f.s, x[i]);
	}
	for (int i = 0; i < N; i++) {
		if (i != 2) {
			wait_ok_and_check(r[i], x[i]);
			continue;
		}
		st = accel_request_wait(r[i], ACCEL_WAIT_FOREVER);
		assert_non_null(st);
		assert_int_equal(accel_status_code_of(st), ACCEL_UNAVAILABLE);
		assert_non_null(strstr(accel_status_message(st), "injected failure"));
		assert_non_null(strstr(accel_status_message(st), "pipe.onnx"));
		accel_status_free(st);
		/* the error again, not outputs */
		expect_code(accel_request_take_outputs(r[i], &y, 1), ACCEL_UNAVAILABLE);
	}
	for (int i = 0; i < N; i++) {
		accel_request_free(r[i]);
		accel_tensor_release(x[i]);
	}
	fixture_close(&f);
}

typedef struct submitter {
	accel_session *s;
	int id, count;
} submitter;

static void *submit_many(void *arg)
{
	enum { DEPTH = 8 };
	submitter *sb = arg;
	accel_tensor *x[DEPTH] = { 0 };
	accel_request *r[DEPTH] = { 0 };

	for (int i = 0; i < sb->count + DEPTH; i++) {
		int k = i % DEPTH;

		if (r[k]) {
			wait_ok_and_check(r[k], x[k]);
			accel_request_free(r[k]);
			accel_tensor_release(x[k]);
			r[k] = NULL;
		}
		if (i < sb->count) {
			x[k] = input_rows(1 + (i + sb->id) % 5, (float)(sb->id * 100 + i) - 50.0f);
			r[k] = submit(sb->s, x[k]);
		}
	}
	return NULL;
}

static void many_submitters(void **state)
{
	enum { THREADS = 4, EACH = 150 };
	submitter sb[THREADS];
	pthread_t t[THREADS];
	accel_device_activity a;
	uint64_t steps = 0;
	fixture f;

	(void)state;
	fixture_open(&f, gate_spec);
	for (int i = 0; i < THREADS; i++) {
		sb[i] = (submitter){ f.s, i, EACH };
		assert_int_equal(pthread_create(&t[i], NULL, submit_many, &sb[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (size_t i = 0; i < accel_session_device_count(f.s); i++) {
		assert_null(accel_session_device_activity(f.s, i, &a));
		assert_int_equal(a.segments, THREADS * EACH);
		steps += a.steps;
	}
	assert_int_equal(steps, 2 * THREADS * EACH); /* nothing lost or repeated */
	fixture_close(&f);
}

static void *open_gate_later(void *arg)
{
	struct timespec ts = { 0, 20000000 };

	(void)arg;
	nanosleep(&ts, NULL);
	gate_set(true);
	return NULL;
}

/* Freeing a request that is still on the device waits for it. */
static void free_waits_for_a_running_request(void **state)
{
	accel_tensor *x = input_rows(3, -2.0f);
	accel_request *r;
	pthread_t t;
	fixture f;

	(void)state;
	fixture_open(&f, gate_spec);
	gate_set(false);
	r = submit(f.s, x);
	assert_int_equal(pthread_create(&t, NULL, open_gate_later, NULL), 0);
	accel_request_free(r);
	pthread_join(t, NULL);
	assert_int_equal(lane_segments(f.s, gate_spec), 1);
	accel_tensor_release(x);
	fixture_close(&f);
}

/*
 * Dynamic batching: four requests of 1-3 rows, submitted together, become
 * one run of 8 rows on the device (the delay is long, the batch fills),
 * and each request gets its own rows back.
 */
static void batched_requests_share_one_run(void **state)
{
	enum { N = 4 };
	accel_tensor *x[N], *y = NULL;
	accel_request *r[N];
	fixture f;

	(void)state;
	fixture_open_batched(&f, gate_spec, 8, 10000000);
	for (int i = 0; i < N; i++) {
		x[i] = input_rows(i == 3 ? 2 : i + 1, (float)(i * 7) - 6.0f);
		r[i] = submit(f.s, x[i]);
	}
	for (int i = 0; i < N; i++)
		wait_ok_and_check(r[i], x[i]);
	assert_int_equal(dev.execs, 1);
	assert_int_equal(lane_segments(f.s, gate_spec), 1);
	/* a request with an input of the wrong width fails its own submit */
	{
		int64_t dims[2] = { 1, 4 };
		accel_named_tensor in;
		accel_request *bad = NULL;

		assert_null(accel_tensor_create(ACCEL_DTYPE_F32, 2, dims, &in.tensor));
		in.name = "x";
		expect_code(accel_session_submit(f.s, &in, 1, 0, &bad), ACCEL_INVALID_ARGUMENT);
		assert_null(bad);
		accel_tensor_release(in.tensor);
	}
	/* the synchronous call goes through the batcher too (8 rows: a full
	 * batch, so it need not wait for partners) */
	{
		accel_tensor *x8 = input_rows(8, -9.0f);

		assert_null(accel_session_run(f.s, &(accel_named_tensor){ "x", x8 }, 1, &y, 1, 0));
		check_output(x8, y);
		accel_tensor_release(y);
		accel_tensor_release(x8);
		assert_int_equal(dev.execs, 2);
	}
	for (int i = 0; i < N; i++) {
		accel_request_free(r[i]);
		accel_tensor_release(x[i]);
	}
	fixture_close(&f);
}

/* Batched, a failing merged run is redone per request: one fails alone. */
static void batched_failure_stays_with_its_request(void **state)
{
	enum { N = 3 };
	accel_tensor *x[N];
	accel_request *r[N];
	int failed = 0;
	fixture f;

	(void)state;
	fixture_open_batched(&f, gate_spec, N, 10000000);
	dev.fail_on = 1; /* the merged run; the single reruns then pass */
	gate_set(false);
	for (int i = 0; i < N; i++) {
		x[i] = input_rows(1, (float)i);
		r[i] = submit(f.s, x[i]);
	}
	gate_set(true);
	for (int i = 0; i < N; i++) {
		accel_status st = accel_request_wait(r[i], ACCEL_WAIT_FOREVER);

		if (st) {
			failed++;
			accel_status_free(st);
			continue;
		}
		wait_ok_and_check(r[i], x[i]);
	}
	assert_int_equal(failed, 0); /* the merged failure was retried alone */
	assert_int_equal(dev.execs, 1 + N);
	for (int i = 0; i < N; i++) {
		accel_request_free(r[i]);
		accel_tensor_release(x[i]);
	}
	fixture_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(submit_wait_take),
		cmocka_unit_test(bad_arguments),
		cmocka_unit_test(requests_overlap_across_devices),
		cmocka_unit_test(failing_request_among_good_ones),
		cmocka_unit_test(many_submitters),
		cmocka_unit_test(free_waits_for_a_running_request),
		cmocka_unit_test(batched_requests_share_one_run),
		cmocka_unit_test(batched_failure_stays_with_its_request),
	};

	return cmocka_run_group_tests_name("pipeline", tests, NULL, NULL);
}
