/* SPDX-License-Identifier: MIT */
/*
 * test_cuda.c - the CUDA backend without a GPU.
 *
 * The backend is pointed at a fake driver (tests/cuda/fake_libcuda.c, built
 * next to this binary as libfakecuda.so) through $ACCEL_LIBCUDA. The fake
 * keeps device memory in host memory, counts every context, stream, event,
 * module, allocation and pinned buffer, records each launch with its
 * arguments (sizes from the PTX), and runs host references of a few
 * kernels, so these tests check: discovery with and without a driver, the
 * cuInit/OOM/launch failure paths and their cleanup, the bytes copies
 * move, the kernel and arguments each op launches, results against the CPU
 * backend for the kernels the fake executes, the embedded PTX, and the
 * NVRTC chain generator and its cache (compiled for real when libnvrtc is
 * installed: NVRTC needs no GPU).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "model_builder.h"
#include "node_builder.h"

#ifndef ACCEL_HAVE_CUDA
/* Built with CUDA=0: nothing to test. */
static void cuda_backend_not_built(void **state)
{
	(void)state;
	skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cuda_backend_not_built),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
#else

#include "../cuda/fake_libcuda.h"
#include "cpu/kernel.h"
#include "cuda/internal.h"

#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fake_path[PATH_MAX];
static void *fake;
static fakecuda_reset_fn fk_reset;
static fakecuda_counts_fn fk_counts;
static fakecuda_launch_fn fk_launch;
static fakecuda_gemm_fn fk_gemm;

static int setup(void **state)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	(void)state;
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	snprintf(fake_path, sizeof(fake_path), "%s/libfakecuda.so", dirname(exe));
	fake = dlopen(fake_path, RTLD_NOW | RTLD_LOCAL);
	if (!fake) {
		fprintf(stderr, "test_cuda: %s\n", dlerror());
		return -1;
	}
	fk_reset = (fakecuda_reset_fn)dlsym(fake, "fakecuda_reset");
	fk_counts = (fakecuda_counts_fn)dlsym(fake, "fakecuda_counts_get");
	fk_launch = (fakecuda_launch_fn)dlsym(fake, "fakecuda_launch_get");
	fk_gemm = (fakecuda_gemm_fn)dlsym(fake, "fakecuda_gemm_get");
	if (!fk_reset || !fk_counts || !fk_launch || !fk_gemm)
		return -1;
	setenv("ACCEL_LIBCUDA", fake_path, 1);
	setenv("ACCEL_LIBNVRTC", "", 1);
	setenv("ACCEL_LIBCUBLAS", "", 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (fake)
		dlclose(fake);
	return 0;
}

/* A call that must succeed; the failure prints the status. */
static void ok_(accel_status st, const char *what)
{
	if (st)
		fail_msg("%s: %s", what, accel_status_message(st));
}
#define OK(expr) ok_((expr), #expr)

/* Every object the backend made is gone. */
static void assert_no_leaks(void)
{
	fakecuda_counts k;

	fk_counts(&k);
	if (k.contexts || k.streams || k.events || k.modules || k.allocs || k.pinned || k.blas ||
	    k.bad_calls)
		fail_msg("left behind: %d contexts, %d streams, %d events, %d modules, %d allocations, "
			 "%d pinned, %d cuBLAS handles; %d bad calls",
			 k.contexts, k.streams, k.events, k.modules, k.allocs, k.pinned, k.blas,
			 k.bad_calls);
}

/* One fake device with |cfg| (NULL: defaults, host references on). */
static cuda_device *open_one(const fakecuda_config *cfg)
{
	fakecuda_config def = { .device_count = 1, .execute = 1 };
	cuda_device **devs = NULL;
	size_t n = 0;
	cuda_device *d;
	accel_status st;

	setenv("ACCEL_LIBCUDA", fake_path, 1); /* also after a failed test */
	fk_reset(cfg ? cfg : &def);
	st = cuda_discover(&devs, &n);
	if (st)
		fail_msg("discovery: %s", accel_status_message(st));
	assert_int_equal(n, 1);
	d = devs[0];
	free(devs);
	return d;
}

static void close_one(cuda_device *d)
{
	cuda_device_destroy(d);
	assert_no_leaks();
}

static void expect_error(accel_status st, accel_status_code code, const char *const *parts)
{
	if (!st)
		fail_msg("expected an error, got success");
	if (accel_status_code_of(st) != code)
		fail_msg("code %d, expected %d: %s", accel_status_code_of(st), code,
			 accel_status_message(st));
	for (int i = 0; parts[i]; i++)
		if (!strstr(accel_status_message(st), parts[i]))
			fail_msg("'%s' does not say '%s'", accel_status_message(st), parts[i]);
	accel_status_free(st);
}

/* ---- discovery ---- */

static void no_driver_means_no_device(void **state)
{
	cuda_device **devs = (cuda_device **)1;
	size_t n = 7;
	accel_context *ctx = NULL;
	accel_device *dev = NULL;

	(void)state;
	setenv("ACCEL_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
	OK(cuda_discover(&devs, &n));
	assert_int_equal(n, 0);
	assert_null(devs);
	/* Through the public API: listed nowhere, and asking for it says so. */
	assert_null(accel_context_create(0, &ctx));
	for (size_t i = 0; i < accel_context_device_count(ctx); i++) {
		assert_null(accel_context_device(ctx, i, &dev));
		assert_int_not_equal(accel_device_kind_of(dev), ACCEL_DEVICE_CUDA);
	}
	expect_error(accel_context_find_device(ctx, "cuda:0", &dev), ACCEL_UNAVAILABLE,
		     (const char *[]){ "cuda:0", "not available", NULL });
	accel_context_release(ctx);
	setenv("ACCEL_LIBCUDA", fake_path, 1);
}

static void discovery_names_devices_and_destroys_everything(void **state)
{
	fakecuda_config cfg = { .device_count = 2 };
	cuda_device **devs = NULL;
	size_t n = 0;
	fakecuda_counts k;

	(void)state;
	fk_reset(&cfg);
	OK(cuda_discover(&devs, &n));
	assert_int_equal(n, 2);
	assert_string_equal(cuda_device_name(devs[0]), "Fake GP0 (sm_80)");
	assert_string_equal(cuda_device_name(devs[1]), "Fake GP1 (sm_80)");
	assert_string_equal(cuda_device_pci_bus_id(devs[1]), "0000:3C:00.0");
	fk_counts(&k);
	/* Per device: its primary context, a stream, two events, two pinned buffers. */
	assert_int_equal(k.contexts, 2);
	assert_int_equal(k.streams, 2);
	assert_int_equal(k.events, 4);
	assert_int_equal(k.pinned, 4);
	cuda_device_destroy(devs[0]);
	cuda_device_destroy(devs[1]);
	free(devs);
	assert_no_leaks();
}

static void the_context_lists_fake_devices_as_cuda(void **state)
{
	accel_context *ctx = NULL;
	accel_device *dev = NULL;

	(void)state;
	fk_reset(NULL);
	assert_null(accel_context_create(0, &ctx));
	assert_null(accel_context_find_device(ctx, "cuda:0", &dev));
	assert_int_equal(accel_device_kind_of(dev), ACCEL_DEVICE_CUDA);
	assert_non_null(strstr(accel_device_name(dev), "cuda:0 (Fake GP0 (sm_80))"));
	accel_context_release(ctx);
	assert_no_leaks();
}

static void cuinit_failure_names_the_call_and_result(void **state)
{
	fakecuda_config cfg = { .device_count = 1, .init_result = CUDA_ERROR_SYSTEM_DRIVER_MISMATCH };
	cuda_device **devs = NULL;
	size_t n = 0;

	(void)state;
	fk_reset(&cfg);
	expect_error(cuda_discover(&devs, &n), ACCEL_INTERNAL,
		     (const char *[]){ "cuInit", "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", NULL });
	assert_int_equal(n, 0);
	/* No device at all is not an error. */
	cfg.init_result = CUDA_ERROR_NO_DEVICE;
	fk_reset(&cfg);
	OK(cuda_discover(&devs, &n));
	assert_int_equal(n, 0);
	assert_no_leaks();
}

/* ---- memory ---- */

static void copies_round_trip_through_the_staging_buffers(void **state)
{
	/* Not a multiple of the 4 MiB staging size: three chunks and a tail. */
	size_t bytes = 3 * CUDA_STAGING_BYTES + 12345;
	unsigned char *src = malloc(bytes), *dst = malloc(bytes);
	cuda_device *d = open_one(NULL);
	fakecuda_counts k;
	void *mem = NULL;

	(void)state;
	for (size_t i = 0; i < bytes; i++)
		src[i] = (unsigned char)(i * 131 + 7);
	OK(cuda_alloc(d, bytes, &mem));
	OK(cuda_upload(d, mem, src, bytes));
	memset(dst, 0, bytes);
	OK(cuda_download(d, dst, mem, bytes));
	assert_memory_equal(src, dst, bytes);
	fk_counts(&k);
	assert_int_equal(k.bytes_h2d, (long long)bytes);
	assert_int_equal(k.bytes_d2h, (long long)bytes);
	cuda_free(d, mem);
	free(src);
	free(dst);
	close_one(d);
}

static void copies_work_unpinned_too(void **state)
{
	fakecuda_config cfg = { .device_count = 1, .pin_fails = 1 };
	cuda_device *d = open_one(&cfg);
	float src[1000], dst[1000];
	void *mem = NULL;

	(void)state;
	for (int i = 0; i < 1000; i++)
		src[i] = (float)i * 0.5f;
	OK(cuda_alloc(d, sizeof(src), &mem));
	OK(cuda_upload(d, mem, src, sizeof(src)));
	OK(cuda_download(d, dst, mem, sizeof(dst)));
	assert_memory_equal(src, dst, sizeof(src));
	cuda_free(d, mem);
	close_one(d);
}

static void out_of_memory_on_the_nth_alloc_is_a_clear_error(void **state)
{
	fakecuda_config cfg = { .device_count = 1, .oom_at = 3 };
	cuda_device *d = open_one(&cfg);
	void *a = NULL, *b = NULL, *c = NULL;

	(void)state;
	OK(cuda_alloc(d, 100, &a));
	OK(cuda_alloc(d, 200, &b));
	expect_error(cuda_alloc(d, 12345, &c), ACCEL_OUT_OF_MEMORY,
		     (const char *[]){ "cuMemAlloc", "CUDA_ERROR_OUT_OF_MEMORY", "12345 bytes",
				       "Fake GP0", NULL });
	assert_null(c);
	OK(cuda_alloc(d, 300, &c)); /* the next one works again */
	cuda_free(d, a);
	cuda_free(d, b);
	cuda_free(d, c);
	close_one(d);
}

/* ---- running nodes ---- */

#define MAX_IN 6

static unsigned rng = 12345;

static float frand(float lo, float hi)
{
	rng = rng * 1103515245u + 12345u;
	return lo + (hi - lo) * (float)((rng >> 8) & 0xffff) / 65535.0f;
}

static accel_tensor *tf(int rank, ...)
{
	int64_t dims[ACCEL_MAX_RANK];
	accel_tensor *t;
	va_list ap;

	va_start(ap, rank);
	for (int i = 0; i < rank; i++)
		dims[i] = va_arg(ap, int);
	va_end(ap);
	assert_null(tensor_new(ACCEL_DTYPE_F32, rank, dims, &t));
	for (int64_t i = 0; i < tensor_numel(t); i++)
		((float *)t->data)[i] = frand(-1.0f, 1.0f);
	return t;
}

typedef struct tcase {
	test_node t;
	accel_tensor *in[MAX_IN];
	unsigned host; /* bit i: input i is a constant */
	int n_in;
} tcase;

static void case_init(tcase *c, const char *op, const char *domain)
{
	memset(c, 0, sizeof(*c));
	node_init(&c->t, op, domain, 17);
}

static void infer(tcase *c, accel_tensor **out)
{
	const op_schema *s = op_schema_find(c->t.node.domain, c->t.node.op_type);
	op_ctx ctx = { .node = &c->t.node };
	accel_status st;

	assert_non_null(s);
	assert_null(tensor_new_shape(ACCEL_DTYPE_UNDEFINED, 0, NULL, out));
	st = s->infer(&ctx, c->in, c->n_in, out, 1);
	if (st)
		fail_msg("%s: infer: %s", c->t.node.op_type, accel_status_message(st));
}

static accel_tensor *run_cpu(tcase *c)
{
	const cpu_kernel *k = cpu_kernel_find(c->t.node.domain, c->t.node.op_type);
	cpu_ctx ctx = { .node = &c->t.node };
	accel_tensor *out = NULL, *cin[MAX_IN] = { 0 };

	assert_non_null(k);
	infer(c, &out);
	assert_null(tensor_alloc(out));
	for (int i = 0; i < c->n_in; i++)
		if (c->host & (1u << i))
			cin[i] = c->in[i];
	if (k->prepare)
		assert_null(k->prepare(&ctx, cin, c->n_in, &ctx.state));
	assert_null(k->exec(&ctx, c->in, c->n_in, &out, 1));
	if (k->release)
		k->release(ctx.state);
	return out;
}

/* Run |c| on |d|: inputs uploaded (constants kept on the host), the
 * output downloaded into *out (allocated here). Device memory is freed
 * whatever happens. */
static accel_status run_cuda(cuda_device *d, tcase *c, accel_tensor **out)
{
	accel_tensor *din[MAX_IN] = { 0 }, *cin[MAX_IN] = { 0 }, dout, dev_in[MAX_IN];
	bool on_host[MAX_IN] = { 0 };
	void *mem[MAX_IN] = { 0 }, *omem = NULL, *state = NULL;
	accel_status st = NULL;

	if (!cuda_supports(d, &c->t.node, c->in, c->n_in))
		fail_msg("%s: cuda_supports says no", c->t.node.op_type);
	infer(c, out);
	assert_null(tensor_alloc(*out));
	for (int i = 0; i < c->n_in && !st; i++) {
		din[i] = c->in[i];
		if (!c->in[i])
			continue;
		if (c->host & (1u << i)) {
			cin[i] = c->in[i];
			on_host[i] = true;
			continue;
		}
		st = cuda_alloc(d, c->in[i]->nbytes, &mem[i]);
		if (!st)
			st = cuda_upload(d, mem[i], c->in[i]->data, c->in[i]->nbytes);
	}
	for (int i = 0; i < c->n_in; i++)
		if (mem[i]) {
			dev_in[i] = *c->in[i];
			dev_in[i].data = mem[i];
			dev_in[i].on_device = true;
			din[i] = &dev_in[i];
		}
	if (!st)
		st = cuda_alloc(d, (*out)->nbytes, &omem);
	dout = **out;
	dout.data = omem;
	dout.on_device = true;
	if (!st)
		st = cuda_prepare(d, &c->t.node, cin, c->n_in, &state);
	if (!st)
		st = cuda_exec(d, &c->t.node, state, din, on_host, c->n_in,
			       (accel_tensor *[]){ &dout }, 1);
	if (!st)
		st = cuda_finish(d);
	if (!st)
		st = cuda_download(d, (*out)->data, omem, (*out)->nbytes);
	cuda_release(d, state);
	for (int i = 0; i < c->n_in; i++)
		cuda_free(d, mem[i]);
	cuda_free(d, omem);
	return st;
}

static void free_case(tcase *c)
{
	for (int i = 0; i < c->n_in; i++)
		accel_tensor_release(c->in[i]);
}

/* The CUDA result (through the fake's host references) matches the CPU. */
static void check_against_cpu(cuda_device *d, tcase *c, double tol)
{
	accel_tensor *ref = run_cpu(c), *got = NULL;
	accel_status st = run_cuda(d, c, &got);

	if (st)
		fail_msg("%s: %s", c->t.node.op_type, accel_status_message(st));
	if (getenv("TEST_CUDA_TRACE")) {
		fakecuda_counts k;
		fakecuda_launch l;
		fakecuda_gemm g;

		fk_counts(&k);
		for (int i = 0; fk_launch(i, &l); i++)
			print_message("launch %s grid %u %u %u\n", l.name, l.grid[0], l.grid[1], l.grid[2]);
		for (int i = 0; fk_gemm(i, &g); i++)
			print_message("gemm m %d n %d k %d batch %d\n", g.m, g.n, g.k, g.batch);
	}
	assert_true(tensor_same_shape(ref, got));
	for (int64_t i = 0; i < tensor_numel(ref); i++) {
		float a = ((float *)got->data)[i], b = ((float *)ref->data)[i];

		if (!(fabsf(a - b) <= tol * (1.0 + fabsf(b))))
			fail_msg("%s: element %lld is %g, the CPU says %g", c->t.node.op_type,
				 (long long)i, a, b);
	}
	accel_tensor_release(ref);
	accel_tensor_release(got);
	free_case(c);
}

static fakecuda_launch last_launch(const char *name)
{
	fakecuda_counts k;
	fakecuda_launch l;

	fk_counts(&k);
	for (int i = k.launches - 1; i >= 0; i--)
		if (fk_launch(i, &l) && !strcmp(l.name, name))
			return l;
	fail_msg("no launch of %s among %d", name, k.launches);
	return l;
}

static void add_broadcasts_like_the_cpu(void **state)
{
	cuda_device *d = open_one(NULL);
	fakecuda_launch l;
	tcase c;
	long long n;
	int op;

	(void)state;
	case_init(&c, "Add", "");
	c.in[c.n_in++] = tf(3, 2, 3, 4);
	c.in[c.n_in++] = tf(2, 3, 1);
	check_against_cpu(d, &c, 1e-6);
	l = last_launch("ew_binary_f32");
	assert_int_equal(l.n_args, 6);
	memcpy(&n, l.arg[3], sizeof(n));
	memcpy(&op, l.arg[4], sizeof(op));
	assert_int_equal(n, 24);
	assert_int_equal(op, 0);
	assert_int_equal(l.block[0], 256);
	case_init(&c, "Mul", "");
	c.in[c.n_in++] = tf(2, 5, 7);
	c.in[c.n_in++] = tf(0);
	check_against_cpu(d, &c, 1e-6);
	close_one(d);
}

static void matmul_gemm_conv_match_the_cpu(void **state)
{
	cuda_device *d = open_one(NULL);
	fakecuda_launch l;
	tcase c;

	(void)state;
	case_init(&c, "MatMul", "");
	c.in[c.n_in++] = tf(3, 2, 5, 7);
	c.in[c.n_in++] = tf(2, 7, 3);
	check_against_cpu(d, &c, 1e-5);
	l = last_launch("gemm_f32");
	/* The descriptor's size is the kernel's, from the PTX. */
	assert_int_equal(l.n_args, 6);
	assert_int_equal(l.arg_size[5], 248);
	assert_int_equal(l.grid[2], 2);

	case_init(&c, "Gemm", "");
	node_int(&c.t, "transB", 1);
	node_float(&c.t, "alpha", 0.5f);
	c.in[c.n_in++] = tf(2, 4, 6);
	c.in[c.n_in++] = tf(2, 3, 6);
	c.host |= 1u << c.n_in;
	c.in[c.n_in++] = tf(1, 3);
	check_against_cpu(d, &c, 1e-5);

	case_init(&c, "Conv", "");
	node_ints(&c.t, "pads", 4, (int64_t[]){ 1, 1, 1, 1 });
	node_ints(&c.t, "strides", 2, (int64_t[]){ 2, 1 });
	c.in[c.n_in++] = tf(4, 2, 3, 7, 6);
	c.host |= 6u;
	c.in[c.n_in++] = tf(4, 8, 3, 3, 3);
	c.in[c.n_in++] = tf(1, 8);
	check_against_cpu(d, &c, 1e-5);
	assert_string_equal(last_launch("im2col_f32").name, "im2col_f32");

	case_init(&c, "FusedConv", "com.accel");
	node_string(&c.t, "activation", "Relu");
	c.in[c.n_in++] = tf(4, 1, 8, 5, 5);
	c.host |= 2u;
	c.in[c.n_in++] = tf(4, 8, 8, 1, 1);
	c.in[c.n_in++] = NULL;
	c.in[c.n_in++] = tf(4, 1, 8, 5, 5);
	check_against_cpu(d, &c, 1e-5);
	close_one(d);
}

static void data_movement_matches_the_cpu(void **state)
{
	cuda_device *d = open_one(NULL);
	tcase c;

	(void)state;
	case_init(&c, "Transpose", "");
	node_ints(&c.t, "perm", 4, (int64_t[]){ 0, 2, 3, 1 });
	c.in[c.n_in++] = tf(4, 2, 3, 4, 5);
	check_against_cpu(d, &c, 0);

	case_init(&c, "Concat", "");
	node_int(&c.t, "axis", 1);
	c.in[c.n_in++] = tf(3, 2, 3, 4);
	c.in[c.n_in++] = tf(3, 2, 1, 4);
	c.in[c.n_in++] = tf(3, 2, 2, 4);
	check_against_cpu(d, &c, 0);

	case_init(&c, "Slice", "");
	c.in[c.n_in++] = tf(2, 6, 8);
	c.host = 0x1e;
	for (int i = 0; i < 4; i++)
		assert_null(tensor_new(ACCEL_DTYPE_I64, 1, (int64_t[]){ 2 }, &c.in[c.n_in++]));
	((int64_t *)c.in[1]->data)[0] = 1, ((int64_t *)c.in[1]->data)[1] = 7;  /* starts */
	((int64_t *)c.in[2]->data)[0] = 5, ((int64_t *)c.in[2]->data)[1] = 0;  /* ends */
	((int64_t *)c.in[3]->data)[0] = 0, ((int64_t *)c.in[3]->data)[1] = 1;  /* axes */
	((int64_t *)c.in[4]->data)[0] = 2, ((int64_t *)c.in[4]->data)[1] = -3; /* steps */
	check_against_cpu(d, &c, 0);
	close_one(d);
}

static void cublas_takes_plain_products(void **state)
{
	cuda_device *d;
	fakecuda_gemm g;
	tcase c;

	(void)state;
	setenv("ACCEL_LIBCUBLAS", fake_path, 1);
	d = open_one(NULL);
	case_init(&c, "MatMul", "");
	c.in[c.n_in++] = tf(3, 3, 5, 7);
	c.in[c.n_in++] = tf(3, 3, 7, 4);
	check_against_cpu(d, &c, 1e-5);
	assert_true(fk_gemm(0, &g));
	/* Row-major C = A B as column-major C^T = B^T A^T. */
	assert_int_equal(g.m, 4);
	assert_int_equal(g.n, 5);
	assert_int_equal(g.k, 7);
	assert_int_equal(g.lda, 4);
	assert_int_equal(g.ldb, 7);
	assert_int_equal(g.ldc, 4);
	assert_int_equal(g.batch, 3);
	assert_int_equal(g.stride_a, 28);
	assert_int_equal(g.stride_b, 35);
	assert_int_equal(g.stride_c, 20);
	/* A Conv's (image, group 1) batch flattens; the weights repeat. */
	case_init(&c, "Conv", "");
	c.in[c.n_in++] = tf(4, 2, 8, 3, 5);
	c.host |= 2u;
	c.in[c.n_in++] = tf(4, 8, 8, 1, 1);
	check_against_cpu(d, &c, 1e-5);
	assert_true(fk_gemm(1, &g));
	assert_int_equal(g.batch, 2);
	assert_int_equal(g.stride_b, 0);
	assert_int_equal(g.stride_a, 8 * 15);
	/* A fused epilogue stays in the own kernel. */
	case_init(&c, "FusedMatMul", "com.accel");
	node_string(&c.t, "activation", "Relu");
	c.in[c.n_in++] = tf(2, 5, 7);
	c.in[c.n_in++] = tf(2, 7, 4);
	check_against_cpu(d, &c, 1e-5);
	assert_false(fk_gemm(2, &g));
	cuda_device_destroy(d); /* destroys the cuBLAS handle too */
	assert_no_leaks();
	setenv("ACCEL_LIBCUBLAS", "", 1);
}

static void launch_failure_names_call_result_and_kernel(void **state)
{
	fakecuda_config cfg = { .device_count = 1, .launch_fail_at = 1, .execute = 1 };
	cuda_device *d = open_one(&cfg);
	accel_tensor *out = NULL;
	tcase c;

	(void)state;
	/* A Conv with im2col scratch: the scratch must be freed too. */
	case_init(&c, "Conv", "");
	c.in[c.n_in++] = tf(4, 1, 8, 6, 6);
	c.in[c.n_in++] = tf(4, 8, 8, 3, 3);
	expect_error(run_cuda(d, &c, &out), ACCEL_INTERNAL,
		     (const char *[]){ "cuLaunchKernel", "CUDA_ERROR_LAUNCH_FAILED",
				       "'im2col_f32'", NULL });
	accel_tensor_release(out);
	free_case(&c);
	close_one(d);
}

static void oom_in_prepare_frees_what_it_uploaded(void **state)
{
	fakecuda_config cfg = { .device_count = 1, .execute = 1 };
	cuda_device *d = open_one(&cfg);
	accel_tensor *w = tf(4, 8, 8, 3, 3), *b = tf(1, 8);
	test_node t;
	void *st = NULL;

	(void)state;
	node_init(&t, "Conv", "", 17);
	cfg.oom_at = 2; /* W's copy succeeds, B's fails */
	fk_reset(&cfg);
	expect_error(cuda_prepare(d, &t.node, (accel_tensor *[]){ NULL, w, b }, 3, &st),
		     ACCEL_OUT_OF_MEMORY, (const char *[]){ "cuMemAlloc", "32 bytes", NULL });
	assert_null(st);
	accel_tensor_release(w);
	accel_tensor_release(b);
	close_one(d);
}

static void supports_says_no_where_the_cpu_must_run(void **state)
{
	cuda_device *d = open_one(NULL);
	accel_tensor *i64 = NULL, *f = tf(2, 2, 2), *shape = NULL;
	test_node t;

	(void)state;
	assert_null(tensor_new(ACCEL_DTYPE_I64, 1, (int64_t[]){ 4 }, &i64));
	node_init(&t, "Add", "", 17);
	assert_false(cuda_supports(d, &t.node, (accel_tensor *[]){ i64, i64 }, 2));
	assert_true(cuda_supports(d, &t.node, (accel_tensor *[]){ f, f }, 2));
	node_init(&t, "NonMaxSuppression", "", 17);
	assert_false(cuda_supports(d, &t.node, (accel_tensor *[]){ f }, 1));
	node_init(&t, "FusedConv", "com.accel", 17);
	node_string(&t, "activation", "Mish");
	assert_false(cuda_supports(d, &t.node, (accel_tensor *[]){ f, f }, 2));
	/* Reshape reads its shape on the host: it must be constant. */
	assert_null(tensor_new_shape(ACCEL_DTYPE_I64, 1, (int64_t[]){ 2 }, &shape));
	node_init(&t, "Reshape", "", 17);
	assert_false(cuda_supports(d, &t.node, (accel_tensor *[]){ f, shape }, 2));
	accel_tensor_release(i64);
	accel_tensor_release(f);
	accel_tensor_release(shape);
	close_one(d);
}

/* ---- device code ---- */

static void embedded_ptx_has_every_kernel(void **state)
{
	const char *const *n = cuda_kernel_names;

	(void)state;
	while (*n) {
		const cuda_image *img = cuda_image_find(*n);

		if (!img)
			fail_msg("no embedded module '%s'", *n);
		/* A fatbin (magic 0xba55ed50) for the cubins, PTX for the rest. */
		assert_int_equal(img->fatbin[0], 0x50);
		assert_int_equal(img->fatbin[3], 0xba);
		assert_non_null(strstr(img->ptx, ".target sm_"));
		for (n++; *n; n++) {
			char entry[96];

			snprintf(entry, sizeof(entry), ".entry %s(", *n);
			if (!strstr(img->ptx, entry))
				fail_msg("module '%s' has no %s", img->name, entry);
		}
		n++;
	}
}

static void chain_source_is_exact_and_keyed_by_values(void **state)
{
	cuda_chain ch = { .n_steps = 3, .n_operands = 1 };
	char *src = NULL, *again = NULL, *other = NULL;
	static const char expected[] =
		"// accel elementwise chain: Relu Add Clip\n"
		"extern \"C\" __global__ void accel_chain(float *__restrict__ y,"
		" const float *__restrict__ x0, const float *__restrict__ x1, long long n)\n"
		"{\n"
		"\tfor (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;\n"
		"\t     i += (long long)blockDim.x * gridDim.x) {\n"
		"\t\tfloat v = x0[i];\n"
		"\t\t{\n"
		"\t\t\tv = fmaxf(v, 0.0f); // Relu\n"
		"\t\t}\n"
		"\t\t{\n"
		"\t\t\tconst float o = x1[i];\n"
		"\t\t\tv = v + o; // Add\n"
		"\t\t}\n"
		"\t\t{\n"
		"\t\t\tconst float A = __int_as_float(0x00000000);\n"
		"\t\t\tconst float B = __int_as_float(0x40c00000);\n"
		"\t\t\tv = fminf(fmaxf(v, A), B); // Clip\n"
		"\t\t}\n"
		"\t\ty[i] = v;\n"
		"\t}\n"
		"}\n";

	(void)state;
	ch.steps[0] = (cuda_chain_step){ "Relu", -1, 0, 0 };
	ch.steps[1] = (cuda_chain_step){ "Add", 1, 0, 0 };
	ch.steps[2] = (cuda_chain_step){ "Clip", -1, 0.0f, 6.0f };
	OK(cuda_chain_source(&ch, &src));
	assert_string_equal(src, expected);
	OK(cuda_chain_source(&ch, &again));
	assert_string_equal(src, again);
	ch.steps[2].beta = 6.5f;
	OK(cuda_chain_source(&ch, &other));
	assert_string_not_equal(src, other);
	free(again);
	/* Unknown ops and operands that do not exist are refused. */
	ch.steps[2].op = "Mish";
	expect_error(cuda_chain_source(&ch, &again), ACCEL_UNSUPPORTED,
		     (const char *[]){ "Mish", NULL });
	ch.steps[2].op = "Mul";
	ch.steps[2].operand = 2;
	expect_error(cuda_chain_source(&ch, &again), ACCEL_INVALID_ARGUMENT,
		     (const char *[]){ "operand 2 of 1", NULL });
	free(src);
	free(again);
	free(other);
}

/* NVRTC runs without a GPU: compile for real where it is installed. */
static void nvrtc_compiles_once_per_source_and_arch(void **state)
{
	cuda_chain ch = { .n_steps = 2 };
	const cuda_ptx_entry *a = NULL, *b = NULL, *c = NULL;
	cuda_device *d;
	fakecuda_launch l;
	tcase t;
	char *src = NULL;

	(void)state;
	unsetenv("ACCEL_LIBNVRTC");
	d = open_one(NULL);
	if (!d->api->nvrtcCompileProgram) {
		close_one(d);
		setenv("ACCEL_LIBNVRTC", "", 1);
		skip();
	}
	ch.steps[0] = (cuda_chain_step){ "Sigmoid", -1, 0, 0 };
	ch.steps[1] = (cuda_chain_step){ "HardSigmoid", -1, 0.2f, 0.5f };
	OK(cuda_chain_source(&ch, &src));
	OK(cuda_chain_ptx(d->api, src, 80, &a));
	assert_non_null(strstr(a->ptx, ".entry accel_chain("));
	assert_non_null(strstr(a->ptx, ".target sm_80"));
	OK(cuda_chain_ptx(d->api, src, 80, &b));
	assert_ptr_equal(a, b);
	OK(cuda_chain_ptx(d->api, src, 90, &c));
	assert_ptr_not_equal(a, c);
	assert_non_null(strstr(c->ptx, ".target sm_90"));
	free(src);
	/* Broken source: the error carries NVRTC's log. */
	expect_error(cuda_chain_ptx(d->api, "extern \"C\" __global__ void k() { nope; }", 80, &a),
		     ACCEL_INTERNAL, (const char *[]){ "nvrtcCompileProgram", "nope", NULL });
	/* A unary node runs as a one-step chain: the fake loads its PTX. */
	case_init(&t, "Tanh", "");
	t.in[t.n_in++] = tf(2, 3, 3);
	{
		accel_tensor *out = NULL;
		long long n;

		OK(run_cuda(d, &t, &out));
		l = last_launch("accel_chain");
		assert_int_equal(l.n_args, 3);
		memcpy(&n, l.arg[2], sizeof(n));
		assert_int_equal(n, 9);
		accel_tensor_release(out);
	}
	free_case(&t);
	close_one(d);
	setenv("ACCEL_LIBNVRTC", "", 1);
}

static void without_nvrtc_unary_ops_use_the_embedded_kernel(void **state)
{
	cuda_device *d;
	accel_tensor *out = NULL;
	fakecuda_counts k;
	fakecuda_launch l;
	tcase t;
	float alpha, beta;
	int op;

	(void)state;
	setenv("ACCEL_LIBNVRTC", "", 1);
	d = open_one(NULL);
	case_init(&t, "Clip", "");
	t.in[t.n_in++] = tf(1, 10);
	t.host = 6u;
	t.in[t.n_in++] = tf(0);
	t.in[t.n_in++] = tf(0);
	*(float *)t.in[1]->data = -0.25f;
	*(float *)t.in[2]->data = 0.75f;
	OK(run_cuda(d, &t, &out));
	l = last_launch("ew_unary_f32");
	memcpy(&op, l.arg[3], sizeof(op));
	memcpy(&alpha, l.arg[4], sizeof(alpha));
	memcpy(&beta, l.arg[5], sizeof(beta));
	assert_int_equal(op, 13); /* UN_CLIP */
	assert_true(alpha == -0.25f && beta == 0.75f);
	/* The fatbin was offered first; the fake (no cubins) took the PTX. */
	fk_counts(&k);
	assert_true(k.fatbin_rejects >= 1);
	accel_tensor_release(out);
	free_case(&t);
	close_one(d);
}

/* ---- the whole stack: a session placed on the fake device ---- */

static void a_session_runs_on_cuda_and_frees_its_memory(void **state)
{
	static const float c[3] = { -1.0f, 0.5f, 2.0f };
	fakecuda_config cfg = { .device_count = 1, .execute = 1 };
	model_buf b = make_model(NULL, false, "Relu");
	accel_context *ctx = NULL;
	accel_model *m = NULL;
	accel_session *s = NULL;
	accel_session_options o;
	accel_node_placement p;
	accel_tensor *x = NULL, *y = NULL;
	accel_named_tensor in;
	fakecuda_counts k;
	float *xd, *yd;
	int live;

	(void)state;
	setenv("ACCEL_LIBCUDA", fake_path, 1);
	setenv("ACCEL_LIBNVRTC", "", 1);
	/* every device tensor is a cuMemAlloc here (the counts and the OOM
	 * below), not a buffer from the cache of freed ones */
	setenv("ACCEL_NO_DEVMEM_CACHE", "1", 1);
	fk_reset(&cfg);
	OK(accel_context_create(0, &ctx));
	OK(accel_model_load_memory(ctx, b.data, b.size, "cuda.onnx", NULL, 0, &m));
	accel_session_options_init(&o);
	o.devices = "cuda:0";
	OK(accel_session_create(m, &o, &s));
	for (size_t i = 0; i < accel_session_step_count(s); i++) {
		OK(accel_session_placement(s, i, &p));
		if (!strstr(p.device, "cuda:0"))
			fail_msg("step %zu (%s) placed on %s: %s", i, p.op_type, p.device, p.reason);
	}
	OK(accel_tensor_create(ACCEL_DTYPE_F32, 2, (int64_t[]){ 2, 3 }, &x));
	xd = accel_tensor_data(x);
	for (int i = 0; i < 6; i++)
		xd[i] = (float)i - 2.5f;
	in.name = "x";
	in.tensor = x;
	for (int run = 0; run < 2; run++) {
		OK(accel_session_run(s, &in, 1, &y, 1, 0));
		yd = accel_tensor_data(y);
		for (int i = 0; i < 6; i++) {
			float want = xd[i] + c[i % 3];

			assert_float_equal(yd[i], want > 0 ? want : 0, 0);
		}
		accel_tensor_release(y);
		y = NULL;
	}
	fk_counts(&k);
	assert_int_equal(k.launches, 4); /* Add and Relu, twice */
	live = k.allocs; /* the session's device copy of the constant */
	assert_int_equal(live, 1);
	/* A failing launch fails the run with the node, call and result... */
	cfg.launch_fail_at = 1;
	fk_reset(&cfg);
	expect_error(accel_session_run(s, &in, 1, &y, 1, 0), ACCEL_INTERNAL,
		     (const char *[]){ "node 'add0' (Add)", "cuLaunchKernel",
				       "CUDA_ERROR_LAUNCH_FAILED", NULL });
	assert_null(y);
	/* ...device OOM is a clear error too, and the next run works again. */
	cfg.launch_fail_at = 0;
	cfg.oom_at = 1;
	fk_reset(&cfg);
	expect_error(accel_session_run(s, &in, 1, &y, 1, 0), ACCEL_OUT_OF_MEMORY,
		     (const char *[]){ "cuMemAlloc", "CUDA_ERROR_OUT_OF_MEMORY", NULL });
	cfg.oom_at = 0;
	fk_reset(&cfg);
	OK(accel_session_run(s, &in, 1, &y, 1, 0));
	assert_float_equal(((float *)accel_tensor_data(y))[5], 2.5f + 2.0f, 0);
	accel_tensor_release(y);
	fk_counts(&k);
	assert_int_equal(k.allocs, live); /* nothing of the failed runs is left */
	accel_session_release(s);
	accel_model_release(m);
	accel_context_release(ctx);
	unsetenv("ACCEL_NO_DEVMEM_CACHE");
	accel_tensor_release(x);
	free(b.data);
	assert_no_leaks();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_driver_means_no_device),
		cmocka_unit_test(discovery_names_devices_and_destroys_everything),
		cmocka_unit_test(the_context_lists_fake_devices_as_cuda),
		cmocka_unit_test(cuinit_failure_names_the_call_and_result),
		cmocka_unit_test(copies_round_trip_through_the_staging_buffers),
		cmocka_unit_test(copies_work_unpinned_too),
		cmocka_unit_test(out_of_memory_on_the_nth_alloc_is_a_clear_error),
		cmocka_unit_test(add_broadcasts_like_the_cpu),
		cmocka_unit_test(matmul_gemm_conv_match_the_cpu),
		cmocka_unit_test(data_movement_matches_the_cpu),
		cmocka_unit_test(cublas_takes_plain_products),
		cmocka_unit_test(launch_failure_names_call_result_and_kernel),
		cmocka_unit_test(oom_in_prepare_frees_what_it_uploaded),
		cmocka_unit_test(supports_says_no_where_the_cpu_must_run),
		cmocka_unit_test(embedded_ptx_has_every_kernel),
		cmocka_unit_test(chain_source_is_exact_and_keyed_by_values),
		cmocka_unit_test(nvrtc_compiles_once_per_source_and_arch),
		cmocka_unit_test(without_nvrtc_unary_ops_use_the_embedded_kernel),
		cmocka_unit_test(a_session_runs_on_cuda_and_frees_its_memory),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
#endif
