/* SPDX-License-Identifier: MIT */
/*
 * test_backend.c - the executor's device path, driven through a loopback
 * backend whose "device memory" is host memory and whose kernels are the
 * CPU's: placement, host<->device copies, fallback, --explain data, and a
 * device that fails mid-run (the run errors, the next run works).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/runtime.h"
#include "cpu/kernel.h"
#include "model_builder.h"
#include "test_device.h"
#include "sched/cost.h"

#include <stdio.h>
#include <string.h>

typedef struct loop_dev {
	int fail_exec; /* fail this many upcoming exec calls */
	int execs, uploads, downloads, live_allocs;
} loop_dev;

static void loop_destroy(void *impl) { (void)impl; }

static bool loop_supports(void *impl, const ir_node *n, accel_tensor *const *in, int n_in)
{
	(void)impl, (void)in, (void)n_in;
	return !strcmp(n->op_type, "Relu");
}

static accel_status loop_alloc(void *impl, size_t bytes, void **out)
{
	loop_dev *d = impl;

	*out = malloc(bytes);
	if (!*out)
		return status_oom("loopback memory");
	d->live_allocs++;
	return NULL;
}

static void loop_free(void *impl, void *mem)
{
	((loop_dev *)impl)->live_allocs--;
	free(mem);
}

static accel_status loop_upload(void *impl, void *mem, const void *src, size_t n)
{
	((loop_dev *)impl)->uploads++;
	memcpy(mem, src, n);
	return NULL;
}

static accel_status loop_download(void *impl, void *dst, void *mem, size_t n)
{
	((loop_dev *)impl)->downloads++;
	memcpy(dst, mem, n);
	return NULL;
}

static accel_status loop_exec(void *impl, const ir_node *n, void *state,
			      accel_tensor *const *in, const bool *on_host, int n_in,
			      accel_tensor *const *out, int n_out)
{
	loop_dev *d = impl;
	cpu_ctx ctx = { .node = n };

	(void)state, (void)on_host;
	if (d->fail_exec > 0) {
		d->fail_exec--;
		return status_error(ACCEL_UNAVAILABLE, "loopback: injected failure");
	}
	d->execs++;
	return cpu_kernel_find(n->domain, n->op_type)->exec(&ctx, in, n_in, out, n_out);
}

static accel_status loop_finish(void *impl) { (void)impl; return NULL; }

static const backend_ops loop_ops = {
	.kind_name = "opencl",
	.kind = ACCEL_DEVICE_OPENCL,
	.destroy = loop_destroy,
	.supports = loop_supports,
	.alloc = loop_alloc,
	.free = loop_free,
	.upload = loop_upload,
	.download = loop_download,
	.exec = loop_exec,
	.finish = loop_finish,
};

static loop_dev dev_state;
static char loop_spec[32], loop_name[64]; /* "opencl:N", after real ones */

/* A context with the loopback device after the real ones, as opencl:N. */
static accel_context *ctx_with_loopback(void)
{
	return test_context_with_device(&loop_ops, &dev_state, "loopback", loop_spec,
					sizeof(loop_spec), loop_name, sizeof(loop_name));
}

static void run_and_check(accel_session *s)
{
	static const float c[3] = { -1.0f, 0.5f, 2.0f };
	int64_t dims[2] = { 2, 3 };
	accel_tensor *x, *y = NULL;
	accel_named_tensor in;
	float *xd, *yd;

	assert_null(accel_tensor_create(ACCEL_DTYPE_F32, 2, dims, &x));
	xd = accel_tensor_data(x);
	for (int i = 0; i < 6; i++)
		xd[i] = (float)i - 2.5f;
	in.name = "x";
	in.tensor = x;
	assert_null(accel_session_run(s, &in, 1, &y, 1, 0));
	yd = accel_tensor_data(y);
	for (int i = 0; i < 6; i++) {
		float want = xd[i] + c[i % 3];

		assert_float_equal(yd[i], want > 0 ? want : 0, 0);
	}
	accel_tensor_release(x);
	accel_tensor_release(y);
}

static accel_session *session_on(accel_model *m, const char *devices)
{
	accel_session_options o;
	accel_session *s;

	accel_session_options_init(&o);
	o.devices = devices;
	o.num_threads = 1;
	assert_null(accel_session_create(m, &o, &s));
	return s;
}

static void unsupported_nodes_fall_back_to_cpu(void **state)
{
	model_buf b = make_model(NULL, false, "Relu");
	accel_context *c = ctx_with_loopback();
	accel_node_placement p;
	accel_model *m;
	accel_session *s;
	accel_status st;
	cost_profile fast;
	char spec[48];

	(void)state;
	memset(&dev_state, 0, sizeof(dev_state));
	assert_null(accel_model_load_memory(c, b.data, b.size, "split.onnx", NULL, 0, &m));
	/* With "cpu" listed, placement weighs costs: a loopback with free
	 * work and copies takes every node it supports. */
	cost_profile_defaults(&fast);
	fast.launch_s = 0;
	fast.gemm_flops = fast.stream_bps = 1e18;
	assert_null(cost_profile_install(loop_spec, &fast));
	snprintf(spec, sizeof(spec), "%s,cpu", loop_spec);
	s = session_on(m, spec);
	assert_int_equal(accel_session_step_count(s), 2);
	assert_null(accel_session_placement(s, 0, &p));
	assert_string_equal(p.op_type, "Add");
	assert_string_equal(p.device, "cpu");
	assert_non_null(strstr(p.reason, "fallback"));
	assert_null(accel_session_placement(s, 1, &p));
	assert_string_equal(p.op_type, "Relu");
	assert_string_equal(p.device, loop_name);
	st = accel_session_placement(s, 2, &p); /* past the last step */
	assert_int_equal(accel_status_code_of(st), ACCEL_NOT_FOUND);
	accel_status_free(st);
	st = accel_session_placement(s, 0, NULL);
	assert_int_equal(accel_status_code_of(st), ACCEL_INVALID_ARGUMENT);
	accel_status_free(st);
	run_and_check(s);
	/* Add on the CPU, its result uploaded, Relu on the device, downloaded. */
	assert_int_equal(dev_state.execs, 1);
	assert_int_equal(dev_state.uploads, 1);
	assert_int_equal(dev_state.downloads, 1);
	assert_int_equal(dev_state.live_allocs, 0);
	accel_session_release(s);
	accel_model_release(m);
	accel_context_release(c);
	assert_null(cost_profile_install(loop_spec, NULL));
	free(b.data);
}

static void device_failure_fails_the_run_only(void **state)
{
	model_buf b = make_model(NULL, false, "Relu");
	accel_context *c = ctx_with_loopback();
	int64_t dims[2] = { 2, 3 };
	accel_tensor *x, *y = NULL;
	accel_named_tensor in;
	accel_model *m;
	accel_session *s;
	accel_status st;

	(void)state;
	memset(&dev_state, 0, sizeof(dev_state));
	assert_null(accel_model_load_memory(c, b.data, b.size, "fail.onnx", NULL, 0, &m));
	s = session_on(m, loop_spec);
	assert_null(accel_tensor_create(ACCEL_DTYPE_F32, 2, dims, &x));
	in.name = "x";
	in.tensor = x;
	dev_state.fail_exec = 1;
	st = accel_session_run(s, &in, 1, &y, 1, 0);
	assert_non_null(st);
	assert_int_equal(accel_status_code_of(st), ACCEL_UNAVAILABLE);
	assert_non_null(strstr(accel_status_message(st), "act0"));
	assert_non_null(strstr(accel_status_message(st), "loopback"));
	accel_status_free(st);
	assert_int_equal(dev_state.live_allocs, 0); /* nothing leaked on the device */
	run_and_check(s);			    /* the next request works */
	accel_tensor_release(x);
	accel_session_release(s);
	accel_model_release(m);
	accel_context_release(c);
	free(b.data);
}

static void unknown_device_is_refused(void **state)
{
	model_buf b = make_model(NULL, false, "Relu");
	accel_context *c = ctx_with_loopback();
	accel_session_options o;
	accel_session *s = NULL;
	accel_model *m;
	accel_status st;

	(void)state;
	assert_null(accel_model_load_memory(c, b.data, b.size, "dev.onnx", NULL, 0, &m));
	accel_session_options_init(&o);
	o.devices = "opencl:97";
	st = accel_session_create(m, &o, &s);
	assert_int_equal(accel_status_code_of(st), ACCEL_UNAVAILABLE);
	assert_non_null(strstr(accel_status_message(st), "opencl:97"));
	accel_status_free(st);
	o.devices = "opencl:0,opencl:0";
	st = accel_session_create(m, &o, &s);
	assert_int_equal(accel_status_code_of(st), ACCEL_INVALID_ARGUMENT);
	accel_status_free(st);
	o.devices = "tpu";
	st = accel_session_create(m, &o, &s);
	assert_int_equal(accel_status_code_of(st), ACCEL_INVALID_ARGUMENT);
	accel_status_free(st);
	assert_null(s);
	accel_model_release(m);
	accel_context_release(c);
	free(b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unsupported_nodes_fall_back_to_cpu),
		cmocka_unit_test(device_failure_fails_the_run_only),
		cmocka_unit_test(unknown_device_is_refused),
	};

	return cmocka_run_group_tests_name("backend", tests, NULL, NULL);
}
