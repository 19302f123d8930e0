/* SPDX-License-Identifier: MIT */
/*
 * test_opencl.c - the OpenCL backend against the CPU backend: for every op
 * it supports, random inputs run through the op's schema, the CPU kernel
 * and the OpenCL kernel, and the outputs must agree within a tolerance.
 * Also: discovery, memory round trips, build errors with their log, and
 * injected build/allocation failures. Every test skips when no OpenCL
 * device exists. POCL_DEVICES defaults to "pthread pthread" and the PoCL
 * kernel cache to <dir of this binary>/../pocl-cache.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "node_builder.h"

#ifndef ACCEL_HAVE_OPENCL
/* Built with OPENCL=0: nothing to test. */
static void opencl_backend_not_built(void **state)
{
	(void)state;
	skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(opencl_backend_not_built),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
#else

#include "cpu/kernel.h"
#include "opencl/internal.h"

#include <libgen.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ocl_device **devs;
static size_t n_devs;

/* ---- nodes ---- */

#define MAX_IN 10

/* Attribute ints given inline: node_intsv(t, "pads", 4, a, b, c, d). */
static void node_intsv(test_node *t, const char *name, int n, ...)
{
	int64_t v[8];
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++)
		v[i] = va_arg(ap, int);
	va_end(ap);
	node_ints(t, name, n, v);
}

/* ---- tensors ---- */

static unsigned rng = 12345;

static float frand(float lo, float hi)
{
	rng = rng * 1103515245u + 12345u;
	return lo + (hi - lo) * (float)((rng >> 8) & 0xffff) / 65535.0f;
}

static accel_tensor *tnew(accel_dtype dt, int rank, const int64_t *dims)
{
	accel_tensor *t;

	assert_null(tensor_new(dt, rank, dims, &t));
	return t;
}

/* Random float32 in [lo, hi]. */
static accel_tensor *tf(float lo, float hi, int rank, ...)
{
	int64_t d[ACCEL_MAX_RANK];
	accel_tensor *t;
	va_list ap;

	va_start(ap, rank);
	for (int i = 0; i < rank; i++)
		d[i] = va_arg(ap, int);
	va_end(ap);
	t = tnew(ACCEL_DTYPE_F32, rank, d);
	for (int64_t i = 0; i < tensor_numel(t); i++)
		((float *)t->data)[i] = frand(lo, hi);
	return t;
}

/* Random integers (or bools) in [lo, hi] of any integer dtype. */
static accel_tensor *ti(accel_dtype dt, int lo, int hi, int rank, ...)
{
	int64_t d[ACCEL_MAX_RANK];
	accel_tensor *t;
	va_list ap;

	va_start(ap, rank);
	for (int i = 0; i < rank; i++)
		d[i] = va_arg(ap, int);
	va_end(ap);
	t = tnew(dt, rank, d);
	for (int64_t i = 0; i < tensor_numel(t); i++)
		tensor_set_i64(t, i, lo + (int64_t)floorf(frand(0.0f, 0.9999f) * (float)(hi - lo + 1)));
	return t;
}

/* An int64 vector (shape/axes/pads inputs). */
static accel_tensor *tv(int n, ...)
{
	int64_t d[1] = { n };
	accel_tensor *t = tnew(ACCEL_DTYPE_I64, 1, d);
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++)
		((int64_t *)t->data)[i] = va_arg(ap, int);
	va_end(ap);
	return t;
}

static accel_tensor *tscalar_f(float v)
{
	accel_tensor *t = tnew(ACCEL_DTYPE_F32, 0, NULL);

	*(float *)t->data = v;
	return t;
}

/* ---- running one case on the CPU and on an OpenCL device ---- */

typedef struct tcase {
	test_node t;
	accel_tensor *in[MAX_IN];
	unsigned host; /* bit i: input i is a constant kept on the host */
	int n_in, n_out;
	double tol;
} tcase;

static void case_init(tcase *c, const char *op, int opset)
{
	memset(c, 0, sizeof(*c));
	node_init(&c->t, op, "", opset);
	c->n_out = 1;
	c->tol = 1e-5;
}

static void case_in(tcase *c, accel_tensor *t)
{
	c->in[c->n_in++] = t;
}

static void case_const(tcase *c, accel_tensor *t)
{
	c->host |= 1u << c->n_in;
	case_in(c, t);
}

static void infer(tcase *c, accel_tensor **out)
{
	const op_schema *s = op_schema_find(c->t.node.domain, c->t.node.op_type);
	op_ctx ctx = { .node = &c->t.node, .static_infer = false };
	accel_status st;

	assert_non_null(s);
	for (int i = 0; i < c->n_out; i++)
		assert_null(tensor_new_shape(ACCEL_DTYPE_UNDEFINED, 0, NULL, &out[i]));
	st = s->infer(&ctx, c->in, c->n_in, out, c->n_out);
	if (st)
		fail_msg("%s: infer: %s", c->t.node.op_type, accel_status_message(st));
}

static accel_status cpu_exec(tcase *c, accel_tensor **out)
{
	const cpu_kernel *k = cpu_kernel_find(c->t.node.domain, c->t.node.op_type);
	cpu_ctx ctx = { .node = &c->t.node };
	accel_tensor *cin[MAX_IN] = { 0 };
	accel_status st;

	assert_non_null(k);
	infer(c, out);
	for (int i = 0; i < c->n_out; i++)
		assert_null(tensor_alloc(out[i]));
	for (int i = 0; i < c->n_in; i++)
		if (c->host & (1u << i))
			cin[i] = c->in[i];
	if (k->prepare)
		assert_null(k->prepare(&ctx, cin, c->n_in, &ctx.state));
	st = k->exec(&ctx, c->in, c->n_in, out, c->n_out);
	if (k->release)
		k->release(ctx.state);
	return st;
}

static void run_cpu(tcase *c, accel_tensor **out)
{
	accel_status st = cpu_exec(c, out);

	if (st)
		fail_msg("%s: cpu: %s", c->t.node.op_type, accel_status_message(st));
}

/* Shape-only copy of |t| whose data is a device buffer holding its values. */
static accel_tensor *to_device(ocl_device *dev, const accel_tensor *t)
{
	accel_tensor *d = tnew(t->dtype, 0, NULL);
	void *mem;

	free(d->data);
	d->rank = t->rank;
	memcpy(d->dims, t->dims, sizeof(t->dims));
	d->nbytes = t->nbytes;
	d->owns_data = false;
	assert_null(ocl_alloc(dev, t->nbytes, &mem));
	assert_null(ocl_upload(dev, mem, t->data, t->nbytes));
	d->data = mem;
	return d;
}

static accel_status run_ocl(ocl_device *dev, tcase *c, accel_tensor **out)
{
	accel_tensor *din[MAX_IN] = { 0 }, *cin[MAX_IN] = { 0 }, *dout[4] = { 0 };
	accel_tensor *sup[MAX_IN] = { 0 };
	bool on_host[MAX_IN] = { 0 };
	void *state = NULL;
	accel_status st;

	for (int i = 0; i < c->n_in; i++) {
		if (!c->in[i])
			continue;
		if (c->host & (1u << i)) {
			din[i] = cin[i] = sup[i] = c->in[i];
			on_host[i] = true;
		} else {
			din[i] = to_device(dev, c->in[i]);
			/* What the scheduler knows before running: no data. */
			sup[i] = tnew(c->in[i]->dtype, 0, NULL);
			sup[i]->rank = c->in[i]->rank;
			memcpy(sup[i]->dims, c->in[i]->dims, sizeof(sup[i]->dims));
			free(sup[i]->data);
			sup[i]->data = NULL;
		}
	}
	if (!ocl_supports(dev, &c->t.node, sup, c->n_in))
		fail_msg("%s: ocl_supports says no", c->t.node.op_type);
	infer(c, out);
	for (int i = 0; i < c->n_out; i++) {
		assert_null(tensor_alloc(out[i]));
		dout[i] = to_device(dev, out[i]);
	}
	st = ocl_prepare(dev, &c->t.node, cin, c->n_in, &state);
	if (!st)
		st = ocl_exec(dev, &c->t.node, state, din, on_host, c->n_in, dout, c->n_out);
	if (!st)
		st = ocl_finish(dev);
	for (int i = 0; i < c->n_out && !st; i++)
		st = ocl_download(dev, out[i]->data, dout[i]->data, out[i]->nbytes);
	ocl_release(dev, state);
	for (int i = 0; i < c->n_in; i++)
		if (din[i] && !on_host[i]) {
			ocl_free(dev, din[i]->data);
			din[i]->data = NULL;
			accel_tensor_release(din[i]);
			accel_tensor_release(sup[i]);
		}
	for (int i = 0; i < c->n_out; i++) {
		ocl_free(dev, dout[i]->data);
		dout[i]->data = NULL;
		accel_tensor_release(dout[i]);
	}
	return st;
}

/* max |a - b| / (1 + |b|) over the outputs. */
static double compare(const accel_tensor *a, const accel_tensor *b)
{
	double m = 0;

	assert_int_equal(a->dtype, b->dtype);
	assert_true(tensor_same_shape(a, b));
	for (int64_t i = 0; i < tensor_numel(a); i++) {
		double x = tensor_get_f64(a, i), y = tensor_get_f64(b, i), e;

		if (isnan(x) && isnan(y))
			continue;
		if (isinf(x) && x == y)
			continue;
		e = fabs(x - y) / (1.0 + fabs(y));
		if (!(e <= m))
			m = isnan(e) ? INFINITY : e;
	}
	return m;
}

static const char *label(const tcase *c)
{
	static char buf[160];
	char sh[96];

	snprintf(buf, sizeof(buf), "%s %s%s", c->t.node.op_type,
		 c->in[0] ? tensor_shape_str(c->in[0], sh, sizeof(sh)) : "-",
		 c->in[0] ? accel_dtype_name(c->in[0]->dtype) + 0 : "");
	return buf;
}

/* Run |c| on the CPU and on device |d|, compare, free the inputs. */
static void check_on(tcase *c, size_t d)
{
	accel_tensor *ref[4] = { 0 }, *got[4] = { 0 };
	accel_status st;
	double err = 0;

	run_cpu(c, ref);
	st = run_ocl(devs[d], c, got);
	if (st)
		fail_msg("%s: opencl: %s", label(c), accel_status_message(st));
	for (int i = 0; i < c->n_out; i++) {
		double e = compare(got[i], ref[i]);

		err = e > err ? e : err;
	}
	print_message("  %-44s max err %.2e (device %zu)\n", label(c), err, d);
	if (!(err <= c->tol))
		fail_msg("%s: max error %g above %g", label(c), err, c->tol);
	for (int i = 0; i < c->n_out; i++) {
		accel_tensor_release(ref[i]);
		accel_tensor_release(got[i]);
	}
	for (int i = 0; i < c->n_in; i++)
		accel_tensor_release(c->in[i]);
}

static void check(tcase *c)
{
	check_on(c, 0);
}

#define NEED_DEVICE()                                              \
	do {                                                       \
		(void)state;                                       \
		if (!n_devs)                                       \
			skip();                                    \
	} while (0)

/* ---- discovery, memory, programs, faults ---- */

static void discovery_names_every_device(void **state)
{
	NEED_DEVICE();
	for (size_t i = 0; i < n_devs; i++) {
		assert_non_null(ocl_device_name(devs[i]));
		assert_true(strlen(ocl_device_name(devs[i])) > 0);
		print_message("  device %zu: %s (pci %s)\n", i, ocl_device_name(devs[i]),
			      ocl_device_pci_bus_id(devs[i]) ? ocl_device_pci_bus_id(devs[i])
							     : "none");
	}
}

static void upload_download_round_trips(void **state)
{
	float src[1000], dst[1000];
	void *m;

	NEED_DEVICE();
	for (int i = 0; i < 1000; i++)
		src[i] = (float)i * 0.5f;
	assert_null(ocl_alloc(devs[0], sizeof(src), &m));
	assert_null(ocl_upload(devs[0], m, src, sizeof(src)));
	memset(dst, 0, sizeof(dst));
	assert_null(ocl_download(devs[0], dst, m, sizeof(dst)));
	assert_memory_equal(src, dst, sizeof(src));
	ocl_free(devs[0], m);
}

static void bad_source_reports_the_build_log(void **state)
{
	cl_program p;
	accel_status st;

	NEED_DEVICE();
	st = ocl_program_get(devs[0], "__kernel void k(__global float *x) { x[0] = y; }",
			     &p);
	assert_non_null(st);
	print_message("  %s\n", accel_status_message(st));
	assert_non_null(strstr(accel_status_message(st), "clBuildProgram: CL_BUILD_PROGRAM_FAILURE"));
	assert_non_null(strstr(accel_status_message(st), "y"));
	accel_status_free(st);
}

static void injected_alloc_failure_fails_once(void **state)
{
	void *m = NULL;
	accel_status st;

	NEED_DEVICE();
	ocl_inject_failure(devs[0], OCL_FAULT_ALLOC, 1);
	st = ocl_alloc(devs[0], 64, &m);
	assert_non_null(st);
	assert_int_equal(accel_status_code_of(st), ACCEL_OUT_OF_MEMORY);
	assert_non_null(strstr(accel_status_message(st),
			       "clCreateBuffer: CL_MEM_OBJECT_ALLOCATION_FAILURE"));
	accel_status_free(st);
	assert_null(ocl_alloc(devs[0], 64, &m));
	ocl_free(devs[0], m);
}

static void injected_build_failure_fails_the_exec_then_recovers(void **state)
{
	tcase c;
	accel_tensor *out[1];
	accel_status st;

	NEED_DEVICE();
	case_init(&c, "Relu", 14);
	case_in(&c, tf(-1, 1, 2, 3, 4));
	ocl_inject_failure(devs[0], OCL_FAULT_BUILD, 1);
	st = run_ocl(devs[0], &c, out);
	assert_non_null(st);
	assert_non_null(strstr(accel_status_message(st), "CL_BUILD_PROGRAM_FAILURE"));
	accel_status_free(st);
	accel_tensor_release(out[0]);
	check(&c);
}

static void unsupported_cases_say_no(void **state)
{
	test_node t;
	accel_tensor *x = tf(0, 1, 1, 4), *shape = tv(1, 4);
	void *d = NULL;
	accel_tensor *in[2];

	NEED_DEVICE();
	node_init(&t, "NoSuchOp", "", 17);
	in[0] = x;
	assert_false(ocl_supports(devs[0], &t.node, in, 1));
	/* Reshape's shape must be a host constant. */
	node_init(&t, "Reshape", "", 17);
	in[1] = shape;
	assert_true(ocl_supports(devs[0], &t.node, in, 2));
	d = shape->data;
	shape->data = NULL;
	assert_false(ocl_supports(devs[0], &t.node, in, 2));
	shape->data = d;
	accel_tensor_release(x);
	accel_tensor_release(shape);
}

/* ---- elementwise ---- */

static void binary_ops_broadcast_like_the_cpu(void **state)
{
	static const char *const ops[] = { "Add", "Sub", "Mul", "Div", "Max", "Min",
					   "Equal", "Less", "Greater", "LessOrEqual",
					   "GreaterOrEqual" };
	static const accel_dtype dts[] = { ACCEL_DTYPE_F32, ACCEL_DTYPE_I32,
					   ACCEL_DTYPE_I64 };
	tcase c;

	NEED_DEVICE();
	for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++)
		for (size_t d = 0; d < 3; d++) {
			case_init(&c, ops[o], 14);
			if (dts[d] == ACCEL_DTYPE_F32) {
				case_in(&c, tf(-2, 2, 3, 2, 3, 5));
				case_in(&c, tf(0.5f, 2, 2, 3, 1));
			} else {
				case_in(&c, ti(dts[d], -9, 9, 3, 2, 3, 5));
				case_in(&c, ti(dts[d], 1, 5, 2, 3, 1));
			}
			check(&c);
		}
	/* same shape, scalar, both-sides broadcast, rank 5 */
	case_init(&c, "Add", 14);
	case_in(&c, tf(-1, 1, 1, 1000));
	case_in(&c, tf(-1, 1, 1, 1000));
	check(&c);
	case_init(&c, "Mul", 14);
	case_in(&c, tf(-1, 1, 2, 7, 9));
	case_in(&c, tscalar_f(3.0f));
	check(&c);
	case_init(&c, "Sub", 14);
	case_in(&c, tf(-1, 1, 3, 4, 1, 6));
	case_in(&c, tf(-1, 1, 3, 1, 5, 1));
	check(&c);
	case_init(&c, "Add", 14);
	case_in(&c, tf(-1, 1, 5, 2, 1, 3, 1, 4));
	case_in(&c, tf(-1, 1, 4, 2, 1, 5, 4));
	check(&c);
	case_init(&c, "Pow", 15);
	case_in(&c, tf(0.1f, 3, 2, 4, 5));
	case_in(&c, tf(-2, 2, 1, 5));
	c.tol = 1e-5;
	check(&c);
	case_init(&c, "PRelu", 16);
	case_in(&c, tf(-2, 2, 4, 2, 3, 4, 4));
	case_in(&c, tf(0, 1, 3, 3, 1, 1));
	check(&c);
	for (int k = 0; k < 3; k++) {
		static const char *const logic[] = { "And", "Or", "Xor" };

		case_init(&c, logic[k], 7);
		case_in(&c, ti(ACCEL_DTYPE_BOOL, 0, 1, 2, 3, 4));
		case_in(&c, ti(ACCEL_DTYPE_BOOL, 0, 1, 1, 4));
		check(&c);
	}
	case_init(&c, "Where", 16);
	case_in(&c, ti(ACCEL_DTYPE_BOOL, 0, 1, 2, 3, 1));
	case_in(&c, tf(-1, 1, 1, 4));
	case_in(&c, tf(-1, 1, 2, 3, 4));
	check(&c);
	case_init(&c, "Where", 16);
	case_in(&c, ti(ACCEL_DTYPE_BOOL, 0, 1, 1, 6));
	case_in(&c, ti(ACCEL_DTYPE_I64, -5, 5, 2, 2, 6));
	case_in(&c, ti(ACCEL_DTYPE_I64, -5, 5, 0));
	check(&c);
	case_init(&c, "Max", 13);
	case_in(&c, tf(-1, 1, 1, 5));
	check(&c);
}

static void unary_ops_match_the_cpu(void **state)
{
	static const struct {
		const char *op;
		float lo, hi;
		double tol;
	} u[] = {
		{ "Relu", -2, 2, 0 }, { "LeakyRelu", -2, 2, 0 }, { "Sigmoid", -8, 8, 1e-6 },
		{ "Tanh", -4, 4, 1e-6 }, { "Erf", -3, 3, 1e-6 }, { "Gelu", -4, 4, 1e-6 },
		{ "Exp", -8, 8, 1e-6 }, { "Log", 0.01f, 10, 1e-6 }, { "Sqrt", 0, 10, 1e-6 },
		{ "Abs", -2, 2, 0 }, { "Neg", -2, 2, 0 }, { "Reciprocal", 0.1f, 3, 1e-6 },
		{ "HardSigmoid", -4, 4, 1e-6 }, { "HardSwish", -4, 4, 1e-6 },
		{ "Elu", -3, 3, 1e-6 }, { "Selu", -3, 3, 1e-6 }, { "Celu", -3, 3, 1e-6 },
		{ "Softsign", -3, 3, 1e-6 }, { "Softplus", -5, 5, 1e-6 },
		{ "ThresholdedRelu", -3, 3, 0 }, { "Floor", -5, 5, 0 }, { "Ceil", -5, 5, 0 },
		{ "Round", -5, 5, 0 }, { "Sign", -2, 2, 0 }, { "Sin", -3, 3, 1e-6 },
		{ "Cos", -3, 3, 1e-6 }, { "Tan", -1, 1, 1e-6 }, { "Asin", -0.9f, 0.9f, 1e-6 },
		{ "Acos", -0.9f, 0.9f, 1e-6 }, { "Atan", -3, 3, 1e-6 }, { "Sinh", -3, 3, 1e-6 },
		{ "Cosh", -3, 3, 1e-6 }, { "Asinh", -3, 3, 1e-6 }, { "Acosh", 1, 4, 1e-6 },
		{ "Atanh", -0.9f, 0.9f, 1e-6 }, { "Shrink", -2, 2, 0 },
	};
	tcase c;

	NEED_DEVICE();
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		case_init(&c, u[i].op, 18);
		if (!strcmp(u[i].op, "LeakyRelu"))
			node_float(&c.t, "alpha", 0.2f);
		case_in(&c, tf(u[i].lo, u[i].hi, 3, 3, 7, 11));
		c.tol = u[i].tol;
		check(&c);
	}
	case_init(&c, "Gelu", 20);
	node_string(&c.t, "approximate", "tanh");
	case_in(&c, tf(-4, 4, 2, 9, 9));
	c.tol = 1e-6;
	check(&c);
	case_init(&c, "Clip", 13);
	case_in(&c, tf(-3, 3, 2, 9, 9));
	case_const(&c, tscalar_f(-1.0f));
	case_const(&c, tscalar_f(0.5f));
	check(&c);
	case_init(&c, "Clip", 6);
	node_float(&c.t, "min", -0.25f);
	case_in(&c, tf(-3, 3, 2, 9, 9));
	check(&c);
	case_init(&c, "Abs", 13);
	case_in(&c, ti(ACCEL_DTYPE_I64, -50, 50, 1, 33));
	check(&c);
	case_init(&c, "Not", 1);
	case_in(&c, ti(ACCEL_DTYPE_BOOL, 0, 1, 1, 33));
	check(&c);
}

static void cast_converts_like_the_cpu(void **state)
{
	static const accel_dtype dts[] = { ACCEL_DTYPE_F32, ACCEL_DTYPE_I32,
					   ACCEL_DTYPE_I64, ACCEL_DTYPE_U8,
					   ACCEL_DTYPE_I8, ACCEL_DTYPE_BOOL };
	tcase c;

	NEED_DEVICE();
	for (size_t a = 0; a < 6; a++)
		for (size_t b = 0; b < 6; b++) {
			case_init(&c, "Cast", 13);
			node_int(&c.t, "to", dts[b]);
			if (dts[a] == ACCEL_DTYPE_F32)
				case_in(&c, tf(-100, 100, 2, 5, 7));
			else if (dts[a] == ACCEL_DTYPE_BOOL)
				case_in(&c, ti(dts[a], 0, 1, 2, 5, 7));
			else
				case_in(&c, ti(dts[a], dts[a] == ACCEL_DTYPE_U8 ? 0 : -100,
					       100, 2, 5, 7));
			check(&c);
		}
	case_init(&c, "Cast", 13);
	node_int(&c.t, "to", ACCEL_DTYPE_F16);
	case_in(&c, tf(-100, 100, 2, 5, 7));
	check(&c);
}

/* ---- MatMul / Gemm / Conv ---- */

static void matmul_batches_and_broadcasts(void **state)
{
	tcase c;

	NEED_DEVICE();
	case_init(&c, "MatMul", 13);
	case_in(&c, tf(-1, 1, 2, 67, 45));
	case_in(&c, tf(-1, 1, 2, 45, 71));
	c.tol = 1e-5;
	check(&c);
	case_init(&c, "MatMul", 13);
	case_in(&c, tf(-1, 1, 4, 2, 3, 17, 40));
	case_in(&c, tf(-1, 1, 3, 3, 40, 9));
	check(&c);
	case_init(&c, "MatMul", 13);
	case_in(&c, tf(-1, 1, 3, 2, 1, 33));
	case_const(&c, tf(-1, 1, 2, 33, 5));
	check(&c);
	case_init(&c, "MatMul", 13);
	case_in(&c, tf(-1, 1, 1, 33));
	case_in(&c, tf(-1, 1, 3, 4, 33, 6));
	check(&c);
	case_init(&c, "MatMul", 13);
	case_in(&c, tf(-1, 1, 3, 4, 5, 33));
	case_in(&c, tf(-1, 1, 1, 33));
	check(&c);
	case_init(&c, "MatMul", 13);
	case_in(&c, tf(-1, 1, 2, 256, 512));
	case_in(&c, tf(-1, 1, 2, 512, 128));
	c.tol = 5e-5; /* K = 512: summation order differs from the CPU's */
	check(&c);
	/* FusedMatMul: bias and an activation */
	case_init(&c, "FusedMatMul", 1);
	c.t.node.domain = "com.accel";
	node_string(&c.t, "activation", "Gelu");
	case_in(&c, tf(-1, 1, 3, 2, 19, 23));
	case_const(&c, tf(-1, 1, 2, 23, 31));
	case_const(&c, tf(-1, 1, 1, 31));
	check(&c);
}

static void gemm_transposes_and_bias_shapes(void **state)
{
	tcase c;

	NEED_DEVICE();
	for (int ta = 0; ta < 2; ta++)
		for (int tb = 0; tb < 2; tb++)
			for (int bs = 0; bs < 4; bs++) {
				int M = 37, N = 29, K = 51;

				case_init(&c, "Gemm", 13);
				node_int(&c.t, "transA", ta);
				node_int(&c.t, "transB", tb);
				node_float(&c.t, "alpha", 0.5f);
				node_float(&c.t, "beta", 2.0f);
				case_in(&c, ta ? tf(-1, 1, 2, K, M) : tf(-1, 1, 2, M, K));
				case_const(&c, tb ? tf(-1, 1, 2, N, K) : tf(-1, 1, 2, K, N));
				if (bs == 0)
					case_const(&c, tf(-1, 1, 1, N));
				else if (bs == 1)
					case_const(&c, tf(-1, 1, 2, M, 1));
				else if (bs == 2)
					case_in(&c, tf(-1, 1, 2, M, N));
				else
					case_const(&c, tscalar_f(0.25f));
				check(&c);
			}
	case_init(&c, "FusedGemm", 1);
	c.t.node.domain = "com.accel";
	node_string(&c.t, "activation", "LeakyRelu");
	node_float(&c.t, "activation_alpha", 0.1f);
	node_int(&c.t, "transB", 1);
	case_in(&c, tf(-1, 1, 2, 8, 100));
	case_const(&c, tf(-1, 1, 2, 10, 100));
	case_const(&c, tf(-1, 1, 1, 10));
	check(&c);
}

static void conv_strides_pads_dilations_groups(void **state)
{
	struct {
		int n, c, h, w, m, k, s, p, d, g;
	} cv[] = {
		{ 1, 3, 17, 19, 16, 3, 1, 1, 1, 1 },
		{ 2, 8, 15, 15, 12, 3, 2, 1, 1, 1 },
		{ 1, 16, 9, 9, 32, 1, 1, 0, 1, 1 },   /* 1x1: GEMM on X directly */
		{ 2, 16, 10, 10, 16, 3, 1, 2, 2, 2 }, /* dilation, groups */
		{ 1, 12, 11, 11, 12, 3, 2, 1, 1, 12 }, /* depthwise: direct */
		{ 1, 4, 12, 12, 24, 5, 1, 2, 1, 1 },
	};
	tcase c;

	NEED_DEVICE();
	for (size_t i = 0; i < sizeof(cv) / sizeof(cv[0]); i++) {
		case_init(&c, "Conv", 11);
		node_intsv(&c.t, "strides", 2, cv[i].s, cv[i].s);
		node_intsv(&c.t, "pads", 4, cv[i].p, cv[i].p, cv[i].p, cv[i].p);
		node_intsv(&c.t, "dilations", 2, cv[i].d, cv[i].d);
		node_int(&c.t, "group", cv[i].g);
		case_in(&c, tf(-1, 1, 4, cv[i].n, cv[i].c, cv[i].h, cv[i].w));
		case_const(&c, tf(-1, 1, 4, cv[i].m, cv[i].c / cv[i].g, cv[i].k, cv[i].k));
		case_const(&c, tf(-1, 1, 1, cv[i].m));
		check(&c);
	}
	/* 1-D, no bias, SAME_UPPER */
	case_init(&c, "Conv", 11);
	node_string(&c.t, "auto_pad", "SAME_UPPER");
	case_in(&c, tf(-1, 1, 3, 2, 6, 20));
	case_const(&c, tf(-1, 1, 3, 10, 6, 4));
	check(&c);
	/* FusedConv with residual and Relu */
	case_init(&c, "FusedConv", 1);
	c.t.node.domain = "com.accel";
	node_string(&c.t, "activation", "Relu");
	node_intsv(&c.t, "pads", 4, 1, 1, 1, 1);
	case_in(&c, tf(-1, 1, 4, 1, 8, 10, 10));
	case_const(&c, tf(-1, 1, 4, 16, 8, 3, 3));
	case_const(&c, tf(-1, 1, 1, 16));
	case_in(&c, tf(-1, 1, 4, 1, 16, 10, 10));
	check(&c);
}

/* ---- pools, norms, softmax, reductions ---- */

static void pools_match_the_cpu(void **state)
{
	tcase c;

	NEED_DEVICE();
	case_init(&c, "MaxPool", 12);
	node_intsv(&c.t, "kernel_shape", 2, 3, 3);
	node_intsv(&c.t, "strides", 2, 2, 2);
	node_intsv(&c.t, "pads", 4, 1, 1, 1, 1);
	case_in(&c, tf(-1, 1, 4, 2, 3, 13, 12));
	check(&c);
	case_init(&c, "MaxPool", 12);
	node_intsv(&c.t, "kernel_shape", 2, 2, 2);
	node_intsv(&c.t, "dilations", 2, 2, 2);
	node_int(&c.t, "ceil_mode", 1);
	case_in(&c, tf(-1, 1, 4, 1, 2, 9, 9));
	check(&c);
	for (int incl = 0; incl < 2; incl++) {
		case_init(&c, "AveragePool", 11);
		node_intsv(&c.t, "kernel_shape", 2, 3, 3);
		node_intsv(&c.t, "strides", 2, 2, 2);
		node_intsv(&c.t, "pads", 4, 1, 1, 1, 1);
		node_int(&c.t, "count_include_pad", incl);
		case_in(&c, tf(-1, 1, 4, 2, 3, 11, 10));
		check(&c);
	}
	case_init(&c, "AveragePool", 11);
	node_intsv(&c.t, "kernel_shape", 1, 3);
	node_int(&c.t, "ceil_mode", 1);
	node_intsv(&c.t, "strides", 1, 2);
	case_in(&c, tf(-1, 1, 3, 2, 3, 10));
	check(&c);
	case_init(&c, "GlobalAveragePool", 1);
	case_in(&c, tf(-1, 1, 4, 2, 5, 7, 7));
	check(&c);
	case_init(&c, "GlobalMaxPool", 1);
	case_in(&c, tf(-1, 1, 4, 2, 5, 7, 7));
	check(&c);
}

static void norms_and_softmax_match_the_cpu(void **state)
{
	tcase c;

	NEED_DEVICE();
	case_init(&c, "BatchNormalization", 15);
	node_float(&c.t, "epsilon", 1e-3f);
	case_in(&c, tf(-2, 2, 4, 2, 6, 5, 5));
	case_const(&c, tf(0.5f, 1.5f, 1, 6));
	case_const(&c, tf(-1, 1, 1, 6));
	case_const(&c, tf(-1, 1, 1, 6));
	case_const(&c, tf(0.1f, 2, 1, 6));
	check(&c);
	for (int axis = -1; axis <= 1; axis += 2) {
		static const char *const ops[] = { "Softmax", "LogSoftmax" };

		for (int o = 0; o < 2; o++) {
			case_init(&c, ops[o], 13);
			node_int(&c.t, "axis", axis);
			case_in(&c, tf(-5, 5, 3, 3, 7, 9));
			check(&c);
			case_init(&c, ops[o], 11);
			node_int(&c.t, "axis", 1);
			case_in(&c, tf(-5, 5, 3, 3, 7, 9));
			check(&c);
		}
	}
	case_init(&c, "LayerNormalization", 17);
	case_in(&c, tf(-2, 2, 3, 2, 5, 64));
	case_const(&c, tf(0.5f, 1.5f, 1, 64));
	case_const(&c, tf(-1, 1, 1, 64));
	check(&c);
	case_init(&c, "LayerNormalization", 17);
	node_int(&c.t, "axis", 1);
	node_float(&c.t, "epsilon", 1e-3f);
	case_in(&c, tf(-2, 2, 3, 2, 5, 6));
	case_const(&c, tf(0.5f, 1.5f, 2, 5, 6));
	check(&c);
}

static void reductions_match_the_cpu(void **state)
{
	static const char *const ops[] = {
		"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
		"ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum",
		"ReduceLogSumExp",
	};
	tcase c;

	NEED_DEVICE();
	for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
		case_init(&c, ops[o], 18);
		node_int(&c.t, "keepdims", o % 2);
		case_in(&c, tf(0.5f, 1.5f, 4, 2, 3, 4, 5));
		case_const(&c, tv(2, 1, -1));
		c.tol = 1e-5;
		check(&c);
	}
	case_init(&c, "ReduceMean", 13);
	node_intsv(&c.t, "axes", 2, 2, 3);
	case_in(&c, tf(-1, 1, 4, 2, 8, 7, 7));
	check(&c);
	case_init(&c, "ReduceSum", 13);
	case_in(&c, tf(-1, 1, 3, 4, 5, 6));
	check(&c);
}

/* ---- data movement ---- */

static void data_movement_matches_the_cpu(void **state)
{
	tcase c;

	NEED_DEVICE();
	case_init(&c, "Reshape", 14);
	case_in(&c, tf(-1, 1, 3, 2, 3, 4));
	case_const(&c, tv(2, 6, -1));
	check(&c);
	case_init(&c, "Flatten", 13);
	node_int(&c.t, "axis", 2);
	case_in(&c, tf(-1, 1, 4, 2, 3, 4, 5));
	check(&c);
	case_init(&c, "Squeeze", 13);
	case_in(&c, tf(-1, 1, 3, 2, 1, 4));
	case_const(&c, tv(1, 1));
	check(&c);
	case_init(&c, "Unsqueeze", 13);
	case_in(&c, ti(ACCEL_DTYPE_I64, -9, 9, 2, 2, 4));
	case_const(&c, tv(2, 0, 3));
	check(&c);
	case_init(&c, "Identity", 16);
	case_in(&c, tf(-1, 1, 1, 10));
	check(&c);
	case_init(&c, "Transpose", 13);
	node_intsv(&c.t, "perm", 4, 0, 2, 3, 1);
	case_in(&c, tf(-1, 1, 4, 2, 3, 4, 5));
	check(&c);
	case_init(&c, "Transpose", 13);
	case_in(&c, ti(ACCEL_DTYPE_U8, 0, 200, 3, 3, 4, 5));
	check(&c);
	case_init(&c, "Expand", 13);
	case_in(&c, tf(-1, 1, 3, 3, 1, 5));
	case_const(&c, tv(4, 2, 3, 4, 1));
	check(&c);
	case_init(&c, "Slice", 13);
	case_in(&c, tf(-1, 1, 3, 5, 6, 7));
	case_const(&c, tv(3, 1, -1, 0));
	case_const(&c, tv(3, 4, -6, 100));
	case_const(&c, tv(3, 0, 1, 2));
	case_const(&c, tv(3, 1, -2, 3));
	check(&c);
	case_init(&c, "Slice", 13);
	case_in(&c, ti(ACCEL_DTYPE_I64, -9, 9, 2, 4, 10));
	case_const(&c, tv(1, 2));
	case_const(&c, tv(1, 8));
	case_const(&c, tv(1, 1));
	check(&c);
	case_init(&c, "Concat", 13);
	node_int(&c.t, "axis", 1);
	case_in(&c, tf(-1, 1, 3, 2, 3, 4));
	case_in(&c, tf(-1, 1, 3, 2, 1, 4));
	case_const(&c, tf(-1, 1, 3, 2, 5, 4));
	check(&c);
	case_init(&c, "Concat", 13);
	node_int(&c.t, "axis", -1);
	case_in(&c, ti(ACCEL_DTYPE_I64, 0, 9, 2, 3, 2));
	case_in(&c, ti(ACCEL_DTYPE_I64, 0, 9, 2, 3, 5));
	check(&c);
	case_init(&c, "Split", 13);
	node_int(&c.t, "axis", 1);
	case_in(&c, tf(-1, 1, 3, 2, 6, 3));
	case_const(&c, tv(3, 1, 2, 3));
	c.n_out = 3;
	check(&c);
	case_init(&c, "Gather", 13);
	node_int(&c.t, "axis", 1);
	case_in(&c, tf(-1, 1, 3, 3, 5, 4));
	case_in(&c, ti(ACCEL_DTYPE_I64, -5, 4, 2, 2, 3));
	check(&c);
	case_init(&c, "Gather", 13);
	case_in(&c, ti(ACCEL_DTYPE_I32, -5, 4, 2, 6, 4));
	case_const(&c, ti(ACCEL_DTYPE_I32, -6, 5, 1, 7));
	check(&c);
	{
		static const char *const modes[] = { "constant", "reflect", "edge", "wrap" };

		for (int m = 0; m < 4; m++) {
			case_init(&c, "Pad", 19);
			node_string(&c.t, "mode", modes[m]);
			case_in(&c, tf(-1, 1, 4, 1, 2, 5, 6));
			case_const(&c, tv(8, 0, 0, 2, 1, 0, 0, 3, -1));
			case_const(&c, tscalar_f(0.5f));
			check(&c);
		}
	}
	case_init(&c, "Where", 16);
	case_in(&c, ti(ACCEL_DTYPE_BOOL, 0, 1, 2, 4, 4));
	case_in(&c, ti(ACCEL_DTYPE_U8, 0, 9, 2, 4, 4));
	case_in(&c, ti(ACCEL_DTYPE_U8, 0, 9, 1, 4));
	check(&c);
}

static void resize_matches_the_cpu(void **state)
{
	static const char *const ctms[] = { "half_pixel", "asymmetric", "align_corners",
					    "pytorch_half_pixel" };
	static const char *const nms[] = { "round_prefer_floor", "round_prefer_ceil",
					   "floor", "ceil" };
	tcase c;

	NEED_DEVICE();
	for (int m = 0; m < 2; m++)
		for (int k = 0; k < 4; k++) {
			accel_tensor *scales;
			int64_t d[1] = { 4 };

			case_init(&c, "Resize", 13);
			node_string(&c.t, "mode", m ? "linear" : "nearest");
			node_string(&c.t, "coordinate_transformation_mode", ctms[k]);
			node_string(&c.t, "nearest_mode", nms[k]);
			case_in(&c, tf(-1, 1, 4, 1, 2, 5, 7));
			case_in(&c, NULL);
			scales = tnew(ACCEL_DTYPE_F32, 1, d);
			((float *)scales->data)[0] = 1;
			((float *)scales->data)[1] = 1;
			((float *)scales->data)[2] = k == 3 ? 0.6f : 2.0f;
			((float *)scales->data)[3] = 1.5f;
			case_const(&c, scales);
			check(&c);
		}
	case_init(&c, "Resize", 13);
	node_string(&c.t, "mode", "linear");
	case_in(&c, tf(-1, 1, 4, 1, 3, 6, 6));
	case_in(&c, NULL);
	case_in(&c, NULL);
	case_const(&c, tv(4, 1, 3, 9, 4));
	check(&c);
}

/* A float32 vector (Resize scales and roi). */
static accel_tensor *tvf(int n, const float *v)
{
	int64_t d[1] = { n };
	accel_tensor *t = tnew(ACCEL_DTYPE_F32, 1, d);

	memcpy(t->data, v, sizeof(float) * (size_t)n);
	return t;
}

/* Cubic, antialiasing, crops, other ranks and axes: the host-built taps. */
static void resize_variants_match_the_cpu(void **state)
{
	static const float up[4] = { 1, 1, 1.7f, 2.5f }, down[4] = { 1, 1, 0.45f, 0.6f };
	static const float chan[4] = { 1, 2, 1, 1 }, s3[3] = { 1, 0.5f, 2.2f };
	static const float roi[8] = { 0, 0, 0.2f, -0.1f, 1, 1, 0.8f, 1.2f };
	static const float s2[2] = { 2.0f, 0.5f };
	tcase c;

	NEED_DEVICE();
	for (int k = 0; k < 4; k++) {
		case_init(&c, "Resize", 19);
		node_string(&c.t, "mode", "cubic");
		if (k & 1)
			node_int(&c.t, "exclude_outside", 1);
		if (k & 2)
			node_float(&c.t, "cubic_coeff_a", -0.5f);
		node_string(&c.t, "coordinate_transformation_mode",
			    k == 3 ? "align_corners" : "half_pixel");
		case_in(&c, tf(-1, 1, 4, 1, 2, 6, 5));
		case_in(&c, NULL);
		case_const(&c, tvf(4, k < 2 ? up : down));
		c.tol = 2e-5;
		check(&c);
	}
	for (int m = 0; m < 2; m++) {
		case_init(&c, "Resize", 19);
		node_string(&c.t, "mode", m ? "cubic" : "linear");
		node_int(&c.t, "antialias", 1);
		case_in(&c, tf(-1, 1, 4, 1, 2, 11, 9));
		case_in(&c, NULL);
		case_const(&c, tvf(4, down));
		c.tol = 2e-5;
		check(&c);
	}
	/* the channel axis (nearest), a 3-D input, half_pixel_symmetric */
	case_init(&c, "Resize", 19);
	case_in(&c, tf(-1, 1, 4, 2, 3, 4, 5));
	case_in(&c, NULL);
	case_const(&c, tvf(4, chan));
	check(&c);
	case_init(&c, "Resize", 19);
	node_string(&c.t, "mode", "linear");
	node_string(&c.t, "coordinate_transformation_mode", "half_pixel_symmetric");
	case_in(&c, tf(-1, 1, 3, 3, 8, 5));
	case_in(&c, NULL);
	case_const(&c, tvf(3, s3));
	check(&c);
	/* tf_crop_and_resize with a box partly outside: extrapolation */
	for (int m = 0; m < 2; m++) {
		case_init(&c, "Resize", 13);
		node_string(&c.t, "mode", m ? "linear" : "nearest");
		node_string(&c.t, "coordinate_transformation_mode", "tf_crop_and_resize");
		node_float(&c.t, "extrapolation_value", 7.5f);
		case_in(&c, tf(-1, 1, 4, 1, 2, 6, 5));
		case_const(&c, tvf(8, roi));
		case_in(&c, NULL);
		case_const(&c, tv(4, 1, 2, 5, 7));
		check(&c);
	}
	/* axes (opset 18) with sizes and keep_aspect_ratio_policy */
	case_init(&c, "Resize", 18);
	node_string(&c.t, "mode", "linear");
	node_intsv(&c.t, "axes", 2, -1, 2);
	node_string(&c.t, "keep_aspect_ratio_policy", "not_larger");
	case_in(&c, tf(-1, 1, 4, 1, 2, 6, 5));
	case_in(&c, NULL);
	case_in(&c, NULL);
	case_const(&c, tv(2, 9, 8));
	check(&c);
	case_init(&c, "Resize", 18);
	node_intsv(&c.t, "axes", 2, 3, 2);
	case_in(&c, tf(-1, 1, 4, 1, 2, 6, 5));
	case_in(&c, NULL);
	case_const(&c, tvf(2, s2));
	check(&c);
	/* Upsample-9: legacy asymmetric + floor */
	case_init(&c, "Upsample", 9);
	case_in(&c, tf(-1, 1, 3, 2, 3, 4));
	case_const(&c, tvf(3, s3));
	check(&c);
}

static void more_ops_match_the_cpu(void **state)
{
	tcase c;

	NEED_DEVICE();
	case_init(&c, "Mod", 13);
	node_int(&c.t, "fmod", 1);
	case_in(&c, tf(-5, 5, 2, 3, 4));
	case_in(&c, tf(0.5f, 2, 1, 4));
	check(&c);
	case_init(&c, "Mod", 13);
	case_in(&c, ti(ACCEL_DTYPE_I64, -20, 20, 2, 3, 4));
	case_in(&c, ti(ACCEL_DTYPE_I64, -7, -1, 1, 4));
	check(&c);
	case_init(&c, "Mean", 13);
	case_in(&c, tf(-5, 5, 2, 3, 4));
	case_in(&c, tf(-5, 5, 1, 4));
	check(&c);
	case_init(&c, "InstanceNormalization", 6);
	case_in(&c, tf(-2, 2, 4, 2, 3, 5, 5));
	case_const(&c, tf(0.5f, 1.5f, 1, 3));
	case_const(&c, tf(-1, 1, 1, 3));
	check(&c);
	case_init(&c, "GroupNormalization", 21);
	node_int(&c.t, "num_groups", 2);
	case_in(&c, tf(-2, 2, 4, 2, 6, 4, 4));
	case_const(&c, tf(0.5f, 1.5f, 1, 6));
	case_const(&c, tf(-1, 1, 1, 6));
	c.tol = 2e-5;
	check(&c);
	case_init(&c, "RMSNormalization", 23);
	case_in(&c, tf(-2, 2, 3, 2, 3, 32));
	case_const(&c, tf(0.5f, 1.5f, 1, 32));
	check(&c);
	for (int a = 0; a < 2; a++) {
		case_init(&c, a ? "ArgMin" : "ArgMax", 13);
		node_int(&c.t, "axis", 1);
		node_int(&c.t, "keepdims", a);
		case_in(&c, tf(-2, 2, 3, 3, 7, 5));
		check(&c);
	}
	case_init(&c, "CumSum", 14);
	node_int(&c.t, "exclusive", 1);
	node_int(&c.t, "reverse", 1);
	case_in(&c, tf(-2, 2, 3, 3, 7, 5));
	case_const(&c, tv(1, 1));
	check(&c);
	case_init(&c, "CumSum", 14);
	case_in(&c, ti(ACCEL_DTYPE_I64, -9, 9, 2, 4, 6));
	case_const(&c, tv(1, -1));
	check(&c);
	case_init(&c, "DepthToSpace", 13);
	node_int(&c.t, "blocksize", 2);
	case_in(&c, tf(-2, 2, 4, 2, 8, 3, 4));
	check(&c);
	case_init(&c, "DepthToSpace", 13);
	node_int(&c.t, "blocksize", 2);
	node_string(&c.t, "mode", "CRD");
	case_in(&c, tf(-2, 2, 4, 2, 8, 3, 4));
	check(&c);
	case_init(&c, "SpaceToDepth", 13);
	node_int(&c.t, "blocksize", 2);
	case_in(&c, tf(-2, 2, 4, 2, 3, 6, 4));
	check(&c);
	case_init(&c, "Tile", 13);
	case_in(&c, tf(-2, 2, 3, 2, 1, 3));
	case_const(&c, tv(3, 2, 3, 2));
	check(&c);
	case_init(&c, "Trilu", 14);
	node_int(&c.t, "upper", 0);
	case_in(&c, tf(-2, 2, 3, 2, 5, 6));
	case_const(&c, tv(1, 1));
	check(&c);
	case_init(&c, "Trilu", 14);
	case_in(&c, ti(ACCEL_DTYPE_I64, -9, 9, 2, 5, 4));
	check(&c);
	case_init(&c, "GatherElements", 13);
	node_int(&c.t, "axis", 1);
	case_in(&c, tf(-2, 2, 3, 3, 5, 4));
	case_in(&c, ti(ACCEL_DTYPE_I64, -5, 4, 3, 3, 2, 4));
	check(&c);
	case_init(&c, "Shape", 15);
	node_int(&c.t, "start", 1);
	case_in(&c, tf(-2, 2, 3, 3, 5, 4));
	check(&c);
	case_init(&c, "Size", 13);
	case_in(&c, tf(-2, 2, 3, 3, 5, 4));
	check(&c);
}

/* A tensor attribute (ConstantOfShape's value); the node keeps |t|. */
static void node_tensor(test_node *t, const char *name, accel_tensor *v)
{
	ir_attr *a = &t->attrs[t->node.n_attrs++];

	a->name = (char *)name;
	a->type = IR_ATTR_TENSOR;
	a->t = v;
}

static void scatters_apply_duplicates_in_order(void **state)
{
	static const char *const reds[] = { "none", "add", "mul", "max", "min" };
	tcase c;

	NEED_DEVICE();
	/* Indices drawn from a small range repeat: the order of updates shows. */
	for (int r = 0; r < 5; r++) {
		case_init(&c, "ScatterElements", 18);
		node_int(&c.t, "axis", 1);
		node_string(&c.t, "reduction", reds[r]);
		case_in(&c, tf(-2, 2, 3, 2, 5, 3));
		case_in(&c, ti(ACCEL_DTYPE_I64, -5, 4, 3, 2, 7, 3));
		case_in(&c, tf(-2, 2, 3, 2, 7, 3));
		check(&c);
	}
	case_init(&c, "ScatterElements", 18);
	node_int(&c.t, "axis", -1);
	node_string(&c.t, "reduction", "max");
	case_in(&c, ti(ACCEL_DTYPE_I64, -9, 9, 2, 4, 6));
	case_in(&c, ti(ACCEL_DTYPE_I32, -6, 5, 2, 3, 4));
	case_in(&c, ti(ACCEL_DTYPE_I64, -9, 9, 2, 3, 4));
	check(&c);
	case_init(&c, "ScatterElements", 13);
	case_in(&c, ti(ACCEL_DTYPE_U8, 0, 200, 2, 4, 3));
	case_const(&c, ti(ACCEL_DTYPE_I64, 0, 3, 2, 2, 3));
	case_in(&c, ti(ACCEL_DTYPE_U8, 0, 200, 2, 2, 3));
	check(&c);
	case_init(&c, "Scatter", 10);
	node_int(&c.t, "axis", 0);
	case_in(&c, tf(-2, 2, 2, 5, 4));
	case_in(&c, ti(ACCEL_DTYPE_I32, -5, 4, 2, 3, 4));
	case_in(&c, tf(-2, 2, 2, 3, 4));
	check(&c);
	for (int r = 0; r < 5; r++) {
		/* tuples of 1 (rows) and of 2 (rows of a plane) */
		case_init(&c, "ScatterND", 18);
		node_string(&c.t, "reduction", reds[r]);
		case_in(&c, tf(-2, 2, 3, 4, 3, 5));
		case_in(&c, ti(ACCEL_DTYPE_I64, -4, 3, 3, 2, 3, 1));
		case_in(&c, tf(-2, 2, 4, 2, 3, 3, 5));
		check(&c);
		case_init(&c, "ScatterND", 18);
		node_string(&c.t, "reduction", reds[r]);
		case_in(&c, ti(ACCEL_DTYPE_I32, -9, 9, 3, 4, 3, 5));
		case_in(&c, ti(ACCEL_DTYPE_I64, 0, 2, 2, 5, 2));
		case_in(&c, ti(ACCEL_DTYPE_I32, -9, 9, 2, 5, 5));
		check(&c);
	}
	/* full tuples: every update is one element */
	case_init(&c, "ScatterND", 13);
	case_in(&c, ti(ACCEL_DTYPE_I64, -9, 9, 2, 3, 4));
	case_in(&c, ti(ACCEL_DTYPE_I64, -3, 2, 2, 6, 2));
	case_in(&c, ti(ACCEL_DTYPE_I64, -9, 9, 1, 6));
	check(&c);
}

static void index_ops_match_the_cpu(void **state)
{
	tcase c;

	NEED_DEVICE();
	case_init(&c, "GatherND", 13);
	case_in(&c, tf(-2, 2, 3, 4, 3, 5));
	case_in(&c, ti(ACCEL_DTYPE_I64, -3, 2, 3, 2, 3, 2));
	check(&c);
	case_init(&c, "GatherND", 13);
	node_int(&c.t, "batch_dims", 1);
	case_in(&c, ti(ACCEL_DTYPE_I64, -9, 9, 3, 3, 4, 5));
	case_in(&c, ti(ACCEL_DTYPE_I64, -4, 3, 3, 3, 2, 1));
	check(&c);
	case_init(&c, "GatherND", 13);
	case_in(&c, ti(ACCEL_DTYPE_U8, 0, 200, 2, 3, 4));
	case_in(&c, ti(ACCEL_DTYPE_I64, 0, 2, 2, 5, 2));
	check(&c);
	case_init(&c, "TopK", 11);
	c.n_out = 2;
	case_in(&c, tf(-2, 2, 3, 3, 7, 5));
	case_const(&c, tv(1, 3));
	check(&c);
	case_init(&c, "TopK", 11);
	c.n_out = 2;
	node_int(&c.t, "axis", 1);
	node_int(&c.t, "largest", 0);
	case_in(&c, ti(ACCEL_DTYPE_I64, 0, 3, 3, 2, 9, 4)); /* ties */
	case_const(&c, tv(1, 9));
	check(&c);
	case_init(&c, "TopK", 1);
	c.n_out = 2;
	node_int(&c.t, "k", 2);
	case_in(&c, ti(ACCEL_DTYPE_I32, -5, 5, 2, 4, 6));
	check(&c);
	case_init(&c, "OneHot", 11);
	node_int(&c.t, "axis", 1);
	case_in(&c, ti(ACCEL_DTYPE_I64, -6, 5, 2, 3, 4));
	case_const(&c, tv(1, 5));
	case_in(&c, tf(-2, 2, 1, 2));
	check(&c);
	case_init(&c, "OneHot", 11);
	case_in(&c, ti(ACCEL_DTYPE_I32, -3, 6, 1, 7));
	case_const(&c, tv(1, 4));
	case_in(&c, ti(ACCEL_DTYPE_I64, -9, 9, 1, 2));
	check(&c);
	for (int t = 0; t < 2; t++) {
		case_init(&c, "ReverseSequence", 10);
		node_int(&c.t, "time_axis", t);
		node_int(&c.t, "batch_axis", 1 - t);
		case_in(&c, tf(-2, 2, 3, 4, 5, 3));
		case_in(&c, ti(ACCEL_DTYPE_I64, 0, t ? 5 : 4, 1, t ? 4 : 5));
		check(&c);
	}
	case_init(&c, "ConstantOfShape", 20);
	case_const(&c, tv(3, 2, 3, 4));
	check(&c);
	{
		accel_tensor *v = ti(ACCEL_DTYPE_I64, -9, 9, 1, 1);

		case_init(&c, "ConstantOfShape", 20);
		node_tensor(&c.t, "value", v);
		case_const(&c, tv(2, 5, 7));
		check(&c);
		accel_tensor_release(v);
	}
	case_init(&c, "Range", 11);
	case_const(&c, tscalar_f(-1.5f));
	case_const(&c, tscalar_f(7.0f));
	case_const(&c, tscalar_f(0.25f));
	check(&c);
	{
		int64_t d0[1] = { 0 };
		accel_tensor *a = tnew(ACCEL_DTYPE_I64, 0, d0), *b = tnew(ACCEL_DTYPE_I64, 0, d0);
		accel_tensor *s = tnew(ACCEL_DTYPE_I64, 0, d0);

		*(int64_t *)a->data = 20;
		*(int64_t *)b->data = -7;
		*(int64_t *)s->data = -3;
		case_init(&c, "Range", 11);
		case_const(&c, a);
		case_const(&c, b);
		case_const(&c, s);
		check(&c);
	}
	case_init(&c, "EyeLike", 9);
	node_int(&c.t, "k", 1);
	case_in(&c, tf(-2, 2, 2, 4, 6));
	check(&c);
	case_init(&c, "EyeLike", 9);
	node_int(&c.t, "k", -2);
	node_int(&c.t, "dtype", ACCEL_DTYPE_I64);
	case_in(&c, tf(-2, 2, 2, 5, 3));
	check(&c);
}

static void conv_transpose_matches_the_cpu(void **state)
{
	tcase c;

	NEED_DEVICE();
	/* 2-D: strides, pads, output_padding, bias */
	case_init(&c, "ConvTranspose", 11);
	node_intsv(&c.t, "strides", 2, 2, 3);
	node_intsv(&c.t, "pads", 4, 1, 0, 0, 2);
	node_intsv(&c.t, "output_padding", 2, 1, 1);
	case_in(&c, tf(-1, 1, 4, 2, 3, 5, 4));
	case_const(&c, tf(-1, 1, 4, 3, 4, 3, 3));
	case_const(&c, tf(-1, 1, 1, 4));
	check(&c);
	/* groups and dilations, W on the device */
	case_init(&c, "ConvTranspose", 11);
	node_int(&c.t, "group", 2);
	node_intsv(&c.t, "dilations", 2, 2, 1);
	case_in(&c, tf(-1, 1, 4, 1, 4, 4, 5));
	case_in(&c, tf(-1, 1, 4, 4, 3, 2, 3));
	check(&c);
	/* 1-D with auto_pad SAME_UPPER; 3-D with output_shape */
	case_init(&c, "ConvTranspose", 11);
	node_string(&c.t, "auto_pad", "SAME_UPPER");
	node_intsv(&c.t, "strides", 1, 2);
	case_in(&c, tf(-1, 1, 3, 2, 3, 7));
	case_const(&c, tf(-1, 1, 3, 3, 2, 4));
	check(&c);
	case_init(&c, "ConvTranspose", 11);
	node_intsv(&c.t, "strides", 3, 1, 2, 2);
	node_intsv(&c.t, "output_shape", 3, 4, 7, 8);
	case_in(&c, tf(-1, 1, 5, 1, 2, 3, 3, 4));
	case_const(&c, tf(-1, 1, 5, 2, 2, 2, 3, 3));
	check(&c);
}

static void nn_extras_match_the_cpu(void **state)
{
	tcase c;

	NEED_DEVICE();
	case_init(&c, "LRN", 13);
	node_int(&c.t, "size", 3);
	node_float(&c.t, "alpha", 0.002f);
	case_in(&c, tf(-2, 2, 4, 2, 7, 3, 4));
	check(&c);
	case_init(&c, "LRN", 13);
	node_int(&c.t, "size", 4);
	node_float(&c.t, "bias", 2.0f);
	node_float(&c.t, "beta", 0.5f);
	case_in(&c, tf(-2, 2, 3, 2, 5, 6));
	check(&c);
	for (int a = -1; a <= 1; a++) {
		case_init(&c, "Hardmax", 13);
		node_int(&c.t, "axis", a);
		case_in(&c, ti(ACCEL_DTYPE_F32, -3, 3, 3, 3, 6, 5)); /* ties */
		check(&c);
	}
	case_init(&c, "Hardmax", 11);
	case_in(&c, tf(-2, 2, 3, 3, 6, 5));
	check(&c);
	for (int p = 1; p <= 2; p++) {
		case_init(&c, "LpNormalization", 1);
		node_int(&c.t, "p", p);
		node_int(&c.t, "axis", p == 1 ? 1 : -1);
		case_in(&c, tf(-2, 2, 3, 3, 6, 5));
		check(&c);
	}
	case_init(&c, "LpPool", 18);
	node_intsv(&c.t, "kernel_shape", 2, 3, 2);
	node_intsv(&c.t, "strides", 2, 2, 1);
	node_intsv(&c.t, "pads", 4, 1, 0, 1, 1);
	node_int(&c.t, "p", 3);
	case_in(&c, tf(-2, 2, 4, 2, 3, 7, 6));
	c.tol = 2e-5;
	check(&c);
	case_init(&c, "LpPool", 18);
	node_intsv(&c.t, "kernel_shape", 1, 3);
	case_in(&c, tf(-2, 2, 3, 2, 3, 9));
	check(&c);
	case_init(&c, "GlobalLpPool", 2);
	node_int(&c.t, "p", 1);
	case_in(&c, tf(-2, 2, 4, 2, 3, 5, 6));
	check(&c);
	case_init(&c, "GlobalLpPool", 2);
	case_in(&c, tf(-2, 2, 5, 2, 3, 2, 3, 4));
	check(&c);
	case_init(&c, "MeanVarianceNormalization", 13);
	case_in(&c, tf(-2, 2, 4, 2, 3, 5, 4));
	c.tol = 2e-5;
	check(&c);
	case_init(&c, "MeanVarianceNormalization", 13);
	node_intsv(&c.t, "axes", 2, -1, 1);
	case_in(&c, tf(-2, 2, 3, 4, 3, 8));
	c.tol = 2e-5;
	check(&c);
}

static void bitshift_and_float_classes_match_the_cpu(void **state)
{
	static const accel_dtype uts[] = { ACCEL_DTYPE_U8, ACCEL_DTYPE_U16,
					   ACCEL_DTYPE_U32, ACCEL_DTYPE_U64 };
	tcase c;

	NEED_DEVICE();
	for (int d = 0; d < 4; d++)
		for (int left = 0; left < 2; left++) {
			int bits = (int)accel_dtype_size(uts[d]) * 8;

			case_init(&c, "BitShift", 11);
			node_string(&c.t, "direction", left ? "LEFT" : "RIGHT");
			case_in(&c, ti(uts[d], 0, 255, 3, 2, 3, 4));
			/* shifts up to past the width (those give 0) */
			case_in(&c, ti(uts[d], 0, bits + 2, 2, 3, 1));
			check(&c);
		}
	{
		accel_tensor *x = tf(-2, 2, 2, 4, 5);
		float *v = x->data;
		accel_tensor *x2;

		v[1] = INFINITY;
		v[4] = -INFINITY;
		v[7] = NAN;
		v[11] = INFINITY;
		x2 = tnew(ACCEL_DTYPE_F32, x->rank, x->dims);
		memcpy(x2->data, x->data, x->nbytes);
		case_init(&c, "IsNaN", 13);
		case_in(&c, x);
		check(&c);
		for (int m = 0; m < 3; m++) {
			accel_tensor *xi = tnew(ACCEL_DTYPE_F32, x2->rank, x2->dims);

			memcpy(xi->data, x2->data, x2->nbytes);
			case_init(&c, "IsInf", 10);
			node_int(&c.t, "detect_positive", m != 1);
			node_int(&c.t, "detect_negative", m != 2);
			case_in(&c, xi);
			check(&c);
		}
		accel_tensor_release(x2);
	}
}

static void quantize_and_windows_match_the_cpu(void **state)
{
	static const char *const wins[] = { "HannWindow", "HammingWindow",
					    "BlackmanWindow" };
	tcase c;

	NEED_DEVICE();
	/* per tensor, u8 with a zero point; per axis, i8 */
	case_init(&c, "QuantizeLinear", 13);
	case_in(&c, tf(-3, 3, 3, 2, 3, 4));
	case_in(&c, tscalar_f(0.02f));
	case_in(&c, ti(ACCEL_DTYPE_U8, 100, 140, 0));
	check(&c);
	case_init(&c, "QuantizeLinear", 13);
	node_int(&c.t, "axis", -2);
	case_in(&c, tf(-3, 3, 3, 2, 3, 4));
	case_const(&c, tf(0.01f, 0.05f, 1, 3));
	case_const(&c, ti(ACCEL_DTYPE_I8, -10, 10, 1, 3));
	check(&c);
	case_init(&c, "QuantizeLinear", 13);
	case_in(&c, tf(-3, 3, 2, 5, 4));
	case_in(&c, tscalar_f(0.03f));
	check(&c);
	case_init(&c, "DequantizeLinear", 13);
	case_in(&c, ti(ACCEL_DTYPE_U8, 0, 255, 3, 2, 3, 4));
	case_in(&c, tscalar_f(0.02f));
	case_in(&c, ti(ACCEL_DTYPE_U8, 100, 140, 0));
	check(&c);
	case_init(&c, "DequantizeLinear", 13);
	node_int(&c.t, "axis", 1);
	case_in(&c, ti(ACCEL_DTYPE_I8, -128, 127, 3, 2, 3, 4));
	case_const(&c, tf(0.01f, 0.05f, 1, 3));
	case_const(&c, ti(ACCEL_DTYPE_I8, -10, 10, 1, 3));
	check(&c);
	for (int w = 0; w < 3; w++)
		for (int periodic = 0; periodic < 2; periodic++) {
			case_init(&c, wins[w], 17);
			node_int(&c.t, "periodic", periodic);
			case_const(&c, ti(ACCEL_DTYPE_I64, 10 + w, 10 + w, 0));
			check(&c);
		}
}

static void argmax_of_integers_matches_the_cpu(void **state)
{
	tcase c;

	NEED_DEVICE();
	for (int a = 0; a < 4; a++) {
		case_init(&c, a & 1 ? "ArgMin" : "ArgMax", 13);
		node_int(&c.t, "axis", a < 2 ? -1 : 0);
		node_int(&c.t, "select_last_index", a >> 1);
		/* a narrow range: ties decide which index wins */
		case_in(&c, ti(a < 2 ? ACCEL_DTYPE_I64 : ACCEL_DTYPE_I32, -3, 3, 3, 4, 5, 6));
		check(&c);
	}
	case_init(&c, "ArgMax", 13);
	node_int(&c.t, "select_last_index", 1);
	node_int(&c.t, "axis", 2);
	case_in(&c, ti(ACCEL_DTYPE_F32, -2, 2, 3, 2, 3, 7));
	check(&c);
}

static void integer_matmul_and_dynamic_quantize_match_the_cpu(void **state)
{
	tcase c;

	NEED_DEVICE();
	/* batch broadcast, scalar zero points */
	case_init(&c, "MatMulInteger", 10);
	case_in(&c, ti(ACCEL_DTYPE_U8, 0, 255, 3, 2, 5, 7));
	case_in(&c, ti(ACCEL_DTYPE_U8, 0, 255, 2, 7, 6));
	case_in(&c, ti(ACCEL_DTYPE_U8, 100, 150, 0));
	case_in(&c, ti(ACCEL_DTYPE_U8, 100, 150, 0));
	check(&c);
	/* per-row A and per-column B zero points, mixed signedness */
	case_init(&c, "MatMulInteger", 10);
	case_in(&c, ti(ACCEL_DTYPE_I8, -128, 127, 4, 2, 1, 4, 9));
	case_in(&c, ti(ACCEL_DTYPE_U8, 0, 255, 3, 3, 9, 5));
	case_const(&c, ti(ACCEL_DTYPE_I8, -5, 5, 1, 4));
	case_const(&c, ti(ACCEL_DTYPE_U8, 120, 130, 1, 5));
	check(&c);
	/* no zero points */
	case_init(&c, "MatMulInteger", 10);
	case_in(&c, ti(ACCEL_DTYPE_U8, 0, 255, 2, 3, 4));
	case_in(&c, ti(ACCEL_DTYPE_I8, -128, 127, 2, 4, 2));
	check(&c);
	case_init(&c, "DynamicQuantizeLinear", 11);
	c.n_out = 3;
	case_in(&c, tf(-3, 5, 3, 3, 40, 50)); /* several min/max chunks */
	check(&c);
	case_init(&c, "DynamicQuantizeLinear", 11);
	c.n_out = 3;
	case_in(&c, tf(0.5f, 2, 1, 7)); /* all positive: the range still has 0 */
	check(&c);
}

static void crop_pad_and_cache_scatter_match_the_cpu(void **state)
{
	tcase c;

	NEED_DEVICE();
	/* crop one axis, pad another (odd differences), keep one */
	case_init(&c, "CenterCropPad", 18);
	case_in(&c, tf(-2, 2, 3, 5, 4, 3));
	case_const(&c, tv(3, 2, 7, 3));
	check(&c);
	case_init(&c, "CenterCropPad", 18);
	case_in(&c, ti(ACCEL_DTYPE_U8, 0, 200, 2, 6, 3));
	case_const(&c, tv(2, 3, 6));
	check(&c);
	/* linear with per-batch write positions; circular wrapping */
	case_init(&c, "TensorScatter", 24);
	case_in(&c, tf(-2, 2, 4, 2, 3, 8, 4));
	case_in(&c, tf(-2, 2, 4, 2, 3, 3, 4));
	case_in(&c, ti(ACCEL_DTYPE_I64, 0, 5, 1, 2));
	check(&c);
	case_init(&c, "TensorScatter", 24);
	node_string(&c.t, "mode", "circular");
	node_int(&c.t, "axis", 1);
	case_in(&c, ti(ACCEL_DTYPE_I64, -9, 9, 3, 3, 6, 2));
	case_in(&c, ti(ACCEL_DTYPE_I64, -9, 9, 3, 3, 4, 2));
	case_in(&c, ti(ACCEL_DTYPE_I64, 3, 9, 1, 3));
	check(&c);
	case_init(&c, "TensorScatter", 24);
	case_in(&c, tf(-2, 2, 3, 2, 5, 3));
	case_in(&c, tf(-2, 2, 3, 2, 2, 3));
	check(&c);
}

static void conv_integer_matches_the_cpu(void **state)
{
	tcase c;

	NEED_DEVICE();
	/* 2-D, pads and strides, scalar zero points */
	case_init(&c, "ConvInteger", 10);
	node_intsv(&c.t, "pads", 4, 1, 0, 1, 2);
	node_intsv(&c.t, "strides", 2, 2, 1);
	case_in(&c, ti(ACCEL_DTYPE_U8, 0, 255, 4, 2, 3, 7, 6));
	case_const(&c, ti(ACCEL_DTYPE_U8, 0, 255, 4, 4, 3, 3, 2));
	case_in(&c, ti(ACCEL_DTYPE_U8, 120, 135, 0));
	case_const(&c, ti(ACCEL_DTYPE_U8, 120, 135, 0));
	check(&c);
	/* groups, dilation, per-channel w zero points, int8 weights */
	case_init(&c, "ConvInteger", 10);
	node_int(&c.t, "group", 2);
	node_intsv(&c.t, "dilations", 2, 1, 2);
	case_in(&c, ti(ACCEL_DTYPE_I8, -128, 127, 4, 1, 4, 6, 7));
	case_in(&c, ti(ACCEL_DTYPE_I8, -128, 127, 4, 6, 2, 2, 3));
	case_in(&c, ti(ACCEL_DTYPE_I8, -3, 3, 0));
	case_const(&c, ti(ACCEL_DTYPE_I8, -4, 4, 1, 6));
	check(&c);
	/* 1-D and 3-D without zero points, auto_pad */
	case_init(&c, "ConvInteger", 10);
	node_string(&c.t, "auto_pad", "SAME_UPPER");
	case_in(&c, ti(ACCEL_DTYPE_U8, 0, 255, 3, 2, 3, 9));
	case_const(&c, ti(ACCEL_DTYPE_I8, -128, 127, 3, 4, 3, 4));
	check(&c);
	case_init(&c, "ConvInteger", 10);
	case_in(&c, ti(ACCEL_DTYPE_U8, 0, 255, 5, 1, 2, 3, 4, 4));
	case_const(&c, ti(ACCEL_DTYPE_U8, 0, 255, 5, 3, 2, 2, 2, 3));
	check(&c);
}

static void qlinear_conv_matches_the_cpu(void **state)
{
	tcase c;

	NEED_DEVICE();
	/* per-tensor scales, u8 in and out, bias */
	case_init(&c, "QLinearConv", 10);
	node_intsv(&c.t, "pads", 4, 1, 1, 1, 1);
	case_in(&c, ti(ACCEL_DTYPE_U8, 0, 255, 4, 1, 3, 6, 5));
	case_const(&c, tscalar_f(0.02f));
	case_const(&c, ti(ACCEL_DTYPE_U8, 120, 135, 0));
	case_const(&c, ti(ACCEL_DTYPE_U8, 0, 255, 4, 4, 3, 3, 3));
	case_const(&c, tscalar_f(0.01f));
	case_const(&c, ti(ACCEL_DTYPE_U8, 120, 135, 0));
	case_const(&c, tscalar_f(0.7f));
	case_const(&c, ti(ACCEL_DTYPE_U8, 100, 150, 0));
	case_const(&c, ti(ACCEL_DTYPE_I32, -500, 500, 1, 4));
	check(&c);
	/* per-channel weight scales and zero points, groups, i8 out, no bias */
	case_init(&c, "QLinearConv", 10);
	node_int(&c.t, "group", 2);
	node_intsv(&c.t, "strides", 2, 2, 1);
	case_in(&c, ti(ACCEL_DTYPE_I8, -128, 127, 4, 2, 4, 7, 6));
	case_const(&c, tscalar_f(0.05f));
	case_const(&c, ti(ACCEL_DTYPE_I8, -3, 3, 0));
	case_in(&c, ti(ACCEL_DTYPE_I8, -128, 127, 4, 6, 2, 2, 3));
	case_const(&c, tf(0.002f, 0.02f, 1, 6));
	case_const(&c, ti(ACCEL_DTYPE_I8, 0, 0, 1, 6));
	case_const(&c, tscalar_f(0.9f));
	case_const(&c, ti(ACCEL_DTYPE_I8, -5, 5, 0));
	check(&c);
}

/* An int64 tensor of the values 0, step, 2 step, ... in random order. */
static accel_tensor *tperm(int step, int rank, const int64_t *dims)
{
	accel_tensor *t = tnew(ACCEL_DTYPE_I64, rank, dims);
	int64_t *v = t->data, m = tensor_numel(t);

	for (int64_t i = 0; i < m; i++)
		v[i] = i * step;
	for (int64_t i = m - 1; i > 0; i--) {
		int64_t j = (int64_t)floorf(frand(0.0f, 0.9999f) * (float)(i + 1)), tmp = v[i];

		v[i] = v[j];
		v[j] = tmp;
	}
	return t;
}

static void maxunpool_matches_the_cpu(void **state)
{
	static const int64_t id[4] = { 2, 3, 3, 4 };
	tcase c;

	NEED_DEVICE();
	/* 2x2 windows, stride 2: X 3x4 -> 6x8; distinct indices in the plane */
	case_init(&c, "MaxUnpool", 11);
	node_intsv(&c.t, "kernel_shape", 2, 2, 2);
	node_intsv(&c.t, "strides", 2, 2, 2);
	case_in(&c, tf(-2, 2, 4, 2, 3, 3, 4));
	case_in(&c, tperm(1, 4, id));
	check(&c);
	/* with a larger output_shape */
	case_init(&c, "MaxUnpool", 11);
	node_intsv(&c.t, "kernel_shape", 2, 2, 2);
	node_intsv(&c.t, "strides", 2, 2, 2);
	case_in(&c, tf(-2, 2, 4, 2, 3, 3, 4));
	case_in(&c, tperm(2, 4, id));
	case_const(&c, tv(4, 2, 3, 7, 9));
	check(&c);
}

static void losses_and_det_match_the_cpu(void **state)
{
	static const char *const reds[] = { "none", "sum", "mean" };
	tcase c;

	NEED_DEVICE();
	for (int r = 0; r < 3; r++) {
		/* (N, C, D) with weights and an ignored class */
		case_init(&c, "NegativeLogLikelihoodLoss", 13);
		node_string(&c.t, "reduction", reds[r]);
		node_int(&c.t, "ignore_index", 2);
		case_in(&c, tf(-3, 0, 3, 3, 5, 4));
		case_in(&c, ti(ACCEL_DTYPE_I64, 0, 4, 2, 3, 4));
		case_in(&c, tf(0.2f, 2, 1, 5));
		check(&c);
		case_init(&c, "SoftmaxCrossEntropyLoss", 13);
		node_string(&c.t, "reduction", reds[r]);
		c.n_out = 2;
		case_in(&c, tf(-3, 3, 4, 2, 6, 3, 2));
		case_in(&c, ti(ACCEL_DTYPE_I32, 0, 5, 3, 2, 3, 2));
		check(&c);
	}
	case_init(&c, "SoftmaxCrossEntropyLoss", 13);
	node_int(&c.t, "ignore_index", 0);
	case_in(&c, tf(-3, 3, 2, 7, 4));
	case_in(&c, ti(ACCEL_DTYPE_I64, 0, 3, 1, 7));
	case_in(&c, tf(0.2f, 2, 1, 4));
	check(&c);
	case_init(&c, "Det", 11);
	case_in(&c, tf(-2, 2, 3, 4, 5, 5));
	c.tol = 1e-4;
	check(&c);
	case_init(&c, "Det", 11);
	case_in(&c, tf(-2, 2, 2, 3, 3));
	c.tol = 1e-5;
	check(&c);
}

static void constant_matches_the_cpu(void **state)
{
	accel_tensor *v = tf(-2, 2, 2, 3, 4);
	tcase c;

	NEED_DEVICE();
	case_init(&c, "Constant", 13);
	node_tensor(&c.t, "value", v);
	check(&c);
	case_init(&c, "Constant", 13);
	node_intsv(&c.t, "value_ints", 3, 4, -5, 6);
	check(&c);
	case_init(&c, "Constant", 13);
	node_float(&c.t, "value_float", 2.5f);
	check(&c);
	accel_tensor_release(v);
}

static void einsum_matches_the_cpu(void **state)
{
	tcase c;

	NEED_DEVICE();
	case_init(&c, "Einsum", 12);
	node_string(&c.t, "equation", "bij,bjk->bik");
	case_in(&c, tf(-1, 1, 3, 2, 4, 5));
	case_in(&c, tf(-1, 1, 3, 2, 5, 3));
	check(&c);
	/* implicit output, transpose */
	case_init(&c, "Einsum", 12);
	node_string(&c.t, "equation", "ji");
	case_in(&c, tf(-1, 1, 2, 4, 5));
	check(&c);
	/* trace (a diagonal), a sum over every axis */
	case_init(&c, "Einsum", 12);
	node_string(&c.t, "equation", "ii->");
	case_in(&c, tf(-1, 1, 2, 5, 5));
	check(&c);
	/* ellipsis with broadcasting, three operands */
	case_init(&c, "Einsum", 12);
	node_string(&c.t, "equation", "...ij,...j,k->...ik");
	case_in(&c, tf(-1, 1, 4, 2, 1, 3, 4));
	case_in(&c, tf(-1, 1, 2, 3, 4));
	case_in(&c, tf(-1, 1, 1, 2));
	check(&c);
}

/* The local-memory GEMM that GPUs get, forced on a CPU device. */
static void tiled_gemm_path_matches_too(void **state)
{
	bool was = n_devs ? devs[0]->is_cpu : false;

	NEED_DEVICE();
	devs[0]->is_cpu = false;
	matmul_batches_and_broadcasts(state);
	gemm_transposes_and_bias_shapes(state);
	conv_strides_pads_dilations_groups(state);
	devs[0]->is_cpu = was;
}

static void both_devices_give_the_same_answer(void **state)
{
	tcase c;

	NEED_DEVICE();
	for (size_t d = 0; d < n_devs; d++) {
		case_init(&c, "MatMul", 13);
		case_in(&c, tf(-1, 1, 2, 40, 50));
		case_in(&c, tf(-1, 1, 2, 50, 60));
		check_on(&c, d);
	}
}

/* ---- bad indices: an error on the CPU and on the device, then a good run ---- */

#define W(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* |st| is ACCEL_INVALID_ARGUMENT with every string of |want| in its
 * message. Frees |st|. */
static void expect_invalid(const char *who, const tcase *c, accel_status st,
			   const char *const *want)
{
	const char *msg;

	if (!st)
		fail_msg("%s on %s: a bad index gave no error", label(c), who);
	msg = accel_status_message(st);
	print_message("  %-44s %s: %s\n", label(c), who, msg);
	if (accel_status_code_of(st) != ACCEL_INVALID_ARGUMENT)
		fail_msg("%s on %s: expected %s, got %s", label(c), who,
			 accel_status_code_name(ACCEL_INVALID_ARGUMENT),
			 accel_status_code_name(accel_status_code_of(st)));
	for (int i = 0; want[i]; i++)
		if (!strstr(msg, want[i]))
			fail_msg("%s on %s: \"%s\" does not say \"%s\"", label(c), who, msg,
				 want[i]);
	accel_status_free(st);
}

/*
 * Element |pos| of input |in| set to |bad| (and element |also|, later, to
 * |bad| as well when also >= 0: the first one must be the one reported):
 * the CPU and device |d| both fail, saying |cpu_want| and |dev_want|. Then
 * the same elements set to |good| run on the same device and match the
 * CPU: the error word was reset.
 */
static void bad_then_good(tcase *c, size_t d, int in, int64_t pos, int64_t also,
			  int64_t bad, int64_t good, const char *const *cpu_want,
			  const char *const *dev_want)
{
	accel_tensor *ref[4] = { 0 }, *got[4] = { 0 };

	tensor_set_i64(c->in[in], pos, bad);
	if (also >= 0)
		tensor_set_i64(c->in[in], also, bad + 1);
	expect_invalid("cpu", c, cpu_exec(c, ref), cpu_want);
	expect_invalid("opencl", c, run_ocl(devs[d], c, got), dev_want);
	for (int i = 0; i < c->n_out; i++) {
		accel_tensor_release(ref[i]);
		accel_tensor_release(got[i]);
	}
	tensor_set_i64(c->in[in], pos, good);
	if (also >= 0)
		tensor_set_i64(c->in[in], also, good);
	check_on(c, d);
}

static void gathers_report_bad_indices(void **state)
{
	tcase c;

	NEED_DEVICE();
	/* two bad indices: the first is reported, as on the CPU */
	case_init(&c, "Gather", 13);
	node_int(&c.t, "axis", 1);
	case_in(&c, tf(-2, 2, 3, 3, 5, 2));
	case_in(&c, ti(ACCEL_DTYPE_I32, -5, 4, 2, 2, 3));
	bad_then_good(&c, 0, 1, 2, 4, 5, -5, W("value 5", "size 5"),
		      W("input 'indices'", "index 5 at [0, 2]", "allowed -5..4"));
	/* constant indices (read back from the host copy), wrapping below */
	case_init(&c, "Gather", 13);
	case_in(&c, ti(ACCEL_DTYPE_U8, 0, 200, 2, 4, 3));
	case_const(&c, tv(3, 1, -4, 2));
	bad_then_good(&c, 0, 1, 1, -1, -5, -4, W("value -5"),
		      W("input 'indices'", "index -5 at [1]", "allowed -4..3"));
	case_init(&c, "GatherElements", 13);
	node_int(&c.t, "axis", -1);
	case_in(&c, tf(-2, 2, 2, 3, 4));
	case_in(&c, ti(ACCEL_DTYPE_I64, -4, 3, 2, 3, 2));
	bad_then_good(&c, 0, 1, 3, 5, 4, -4, W("input 'indices'", "index 4"),
		      W("input 'indices'", "index 4 at [1, 1]", "allowed -4..3"));
	/* component 1 of the tuples indexes an axis of 3 */
	case_init(&c, "GatherND", 13);
	case_in(&c, tf(-2, 2, 3, 4, 3, 5));
	case_in(&c, ti(ACCEL_DTYPE_I64, 0, 2, 3, 2, 3, 2));
	bad_then_good(&c, 0, 1, 5, -1, 3, -3, W("input 'indices'", "index 3"),
		      W("input 'indices'", "index 3 at [0, 2, 1]", "size 3", "allowed -3..2"));
	case_init(&c, "GatherND", 13);
	node_int(&c.t, "batch_dims", 1);
	case_in(&c, ti(ACCEL_DTYPE_I64, -9, 9, 3, 3, 4, 5));
	case_in(&c, ti(ACCEL_DTYPE_I64, -4, 3, 3, 3, 2, 1));
	bad_then_good(&c, 0, 1, 3, -1, -5, -4, W("index -5"),
		      W("input 'indices'", "index -5 at [1, 1, 0]", "allowed -4..3"));
	/* the other device keeps its own word */
	case_init(&c, "Gather", 13);
	case_in(&c, tf(-2, 2, 2, 4, 3));
	case_in(&c, ti(ACCEL_DTYPE_I64, -4, 3, 1, 5));
	bad_then_good(&c, n_devs - 1, 1, 0, -1, 4, 3, W("value 4"),
		      W("input 'indices'", "index 4 at [0]"));
}

static void scatters_report_bad_indices(void **state)
{
	tcase c;

	NEED_DEVICE();
	case_init(&c, "ScatterElements", 18);
	node_string(&c.t, "reduction", "add");
	case_in(&c, tf(-2, 2, 2, 4, 3));
	case_in(&c, ti(ACCEL_DTYPE_I32, -4, 3, 2, 2, 3));
	case_in(&c, tf(-2, 2, 2, 2, 3));
	bad_then_good(&c, 0, 1, 4, -1, -5, -4, W("input 'indices'", "index -5"),
		      W("input 'indices'", "index -5 at [1, 1]", "allowed -4..3"));
	case_init(&c, "Scatter", 10);
	node_int(&c.t, "axis", 1);
	case_in(&c, ti(ACCEL_DTYPE_I64, -9, 9, 2, 3, 5));
	case_in(&c, ti(ACCEL_DTYPE_I64, 0, 4, 2, 3, 2));
	case_in(&c, ti(ACCEL_DTYPE_I64, -9, 9, 2, 3, 2));
	bad_then_good(&c, 0, 1, 1, 4, 5, -5, W("input 'indices'", "index 5"),
		      W("input 'indices'", "index 5 at [0, 1]", "allowed -5..4"));
	/* tuple 1, component 0: the axis of 4 */
	case_init(&c, "ScatterND", 18);
	node_string(&c.t, "reduction", "mul");
	case_in(&c, tf(-2, 2, 3, 4, 3, 5));
	case_in(&c, ti(ACCEL_DTYPE_I64, -3, 2, 2, 4, 2));
	case_in(&c, tf(-2, 2, 2, 4, 5));
	bad_then_good(&c, 0, 1, 2, 6, 4, -4, W("input 'indices'", "index 4"),
		      W("input 'indices'", "index 4 at [1, 0]", "size 4", "allowed -4..3"));
	/* a cache of 8 positions, 3 written per batch entry */
	case_init(&c, "TensorScatter", 24);
	case_in(&c, tf(-2, 2, 4, 2, 2, 8, 4));
	case_in(&c, tf(-2, 2, 4, 2, 2, 3, 4));
	case_in(&c, ti(ACCEL_DTYPE_I64, 0, 5, 1, 2));
	bad_then_good(&c, 0, 2, 1, -1, 6, 5, W("input 'write_indices'", "outside a cache of 8"),
		      W("input 'write_indices'", "6 at [1]", "outside a cache of 8",
			"allowed 0..5"));
	case_init(&c, "TensorScatter", 24);
	case_in(&c, ti(ACCEL_DTYPE_U8, 0, 200, 3, 3, 6, 2));
	case_in(&c, ti(ACCEL_DTYPE_U8, 0, 200, 3, 3, 2, 2));
	case_in(&c, ti(ACCEL_DTYPE_I64, 0, 4, 1, 3));
	bad_then_good(&c, 0, 2, 0, -1, -1, 0, W("position -1"),
		      W("input 'write_indices'", "-1 at [0]", "allowed 0..4"));
}

static void unpool_revseq_losses_report_bad_indices(void **state)
{
	static const int64_t id[4] = { 2, 3, 3, 4 };
	tcase c;
	int64_t v;

	NEED_DEVICE();
	/* 3x4 -> 6x8 planes: 288 unpooled elements */
	case_init(&c, "MaxUnpool", 11);
	node_intsv(&c.t, "kernel_shape", 2, 2, 2);
	node_intsv(&c.t, "strides", 2, 2, 2);
	case_in(&c, tf(-2, 2, 4, 2, 3, 3, 4));
	case_in(&c, tperm(1, 4, id));
	v = tensor_get_i64(c.in[1], 7);
	bad_then_good(&c, 0, 1, 7, -1, 288, v, W("input 'I'", "index 288"),
		      W("input 'I'", "index 288 at [0, 0, 1, 3]", "allowed 0..287"));
	case_init(&c, "ReverseSequence", 10);
	node_int(&c.t, "time_axis", 0);
	node_int(&c.t, "batch_axis", 1);
	case_in(&c, tf(-2, 2, 3, 4, 5, 3));
	case_in(&c, ti(ACCEL_DTYPE_I64, 0, 4, 1, 5));
	bad_then_good(&c, 0, 1, 2, -1, 5, 4, W("input 'sequence_lens'", "index 5"),
		      W("input 'sequence_lens'", "length 5 at [2]", "allowed 0..4"));
	case_init(&c, "ReverseSequence", 10);
	node_int(&c.t, "time_axis", 1);
	node_int(&c.t, "batch_axis", 0);
	case_in(&c, ti(ACCEL_DTYPE_I32, -9, 9, 2, 3, 6));
	case_in(&c, ti(ACCEL_DTYPE_I64, 0, 6, 1, 3));
	bad_then_good(&c, 0, 1, 0, -1, -1, 0, W("index -1"),
		      W("input 'sequence_lens'", "length -1 at [0]", "allowed 0..6"));
	/* ignore_index is not a bad target: the good run uses it */
	case_init(&c, "NegativeLogLikelihoodLoss", 13);
	node_string(&c.t, "reduction", "mean");
	node_int(&c.t, "ignore_index", 2);
	case_in(&c, tf(-3, 0, 3, 3, 5, 4));
	case_in(&c, ti(ACCEL_DTYPE_I64, 0, 4, 2, 3, 4));
	bad_then_good(&c, 0, 1, 6, 9, 5, 2, W("target value 5"),
		      W("input 'target'", "index 5 at [1, 2]", "allowed 0..4"));
	case_init(&c, "SoftmaxCrossEntropyLoss", 13);
	node_int(&c.t, "ignore_index", -1);
	c.n_out = 2;
	case_in(&c, tf(-3, 3, 2, 7, 4));
	case_in(&c, ti(ACCEL_DTYPE_I32, 0, 3, 1, 7));
	bad_then_good(&c, 0, 1, 3, -1, -2, -1, W("target value -2"),
		      W("input 'target'", "index -2 at [3]", "allowed 0..3"));
}

/* Two threads on one device, one with a bad index, one without: each
 * gets its own answer (the word is taken for the whole exec). */
typedef struct word_job {
	tcase *c;
	int runs, errors, wrong;
} word_job;

static void *word_worker(void *arg)
{
	word_job *j = arg;

	for (int i = 0; i < j->runs; i++) {
		accel_tensor *got[4] = { 0 };
		accel_status st = run_ocl(devs[0], j->c, got);

		if (st) {
			j->errors++;
			if (!strstr(accel_status_message(st), "index 9 at [2]"))
				j->wrong++;
			accel_status_free(st);
		}
		for (int k = 0; k < j->c->n_out; k++)
			accel_tensor_release(got[k]);
	}
	return NULL;
}

static void concurrent_execs_keep_their_own_errors(void **state)
{
	tcase bad, good;
	word_job jb = { &bad, 25, 0, 0 }, jg = { &good, 25, 0, 0 };
	pthread_t tb, tg;

	NEED_DEVICE();
	case_init(&bad, "Gather", 13);
	case_in(&bad, tf(-2, 2, 2, 6, 5));
	case_in(&bad, ti(ACCEL_DTYPE_I64, -6, 5, 1, 4));
	tensor_set_i64(bad.in[1], 2, 9);
	case_init(&good, "GatherElements", 13);
	case_in(&good, tf(-2, 2, 2, 6, 5));
	case_in(&good, ti(ACCEL_DTYPE_I64, -6, 5, 2, 3, 5));
	/* programs built before the race */
	word_worker(&(word_job){ &good, 1, 0, 0 });
	assert_int_equal(pthread_create(&tb, NULL, word_worker, &jb), 0);
	assert_int_equal(pthread_create(&tg, NULL, word_worker, &jg), 0);
	pthread_join(tb, NULL);
	pthread_join(tg, NULL);
	print_message("  bad: %d of %d runs failed (%d wrongly); good: %d failed\n", jb.errors,
		      jb.runs, jb.wrong, jg.errors);
	assert_int_equal(jb.errors, jb.runs);
	assert_int_equal(jb.wrong, 0);
	assert_int_equal(jg.errors, 0);
	check(&good);
	for (int i = 0; i < bad.n_in; i++)
		accel_tensor_release(bad.in[i]);
}

/* TopK's K is read on the host: the schema refuses it before any kernel,
 * and the device's exec refuses it by itself too. */
static void topk_reports_a_bad_k(void **state)
{
	tcase c;
	accel_tensor *x, *k, *out[2], *in[2];
	int64_t od[2] = { 3, 4 };
	bool on_host[2] = { false, true };
	void *st_mem = NULL;
	op_ctx octx;

	NEED_DEVICE();
	case_init(&c, "TopK", 11);
	x = tf(-2, 2, 2, 3, 4);
	k = tv(1, 5);
	in[0] = x;
	in[1] = k;
	octx = (op_ctx){ .node = &c.t.node, .static_infer = false };
	out[0] = out[1] = NULL;
	assert_null(tensor_new_shape(ACCEL_DTYPE_UNDEFINED, 0, NULL, &out[0]));
	assert_null(tensor_new_shape(ACCEL_DTYPE_UNDEFINED, 0, NULL, &out[1]));
	expect_invalid("schema", &c,
		       op_schema_find("", "TopK")->infer(&octx, in, 2, out, 2), W("5"));
	accel_tensor_release(out[0]);
	accel_tensor_release(out[1]);
	out[0] = tnew(ACCEL_DTYPE_F32, 2, od);
	out[1] = tnew(ACCEL_DTYPE_I64, 2, od);
	for (int i = 0; i < 2; i++) {
		accel_tensor *h = out[i];

		out[i] = to_device(devs[0], h);
		accel_tensor_release(h);
	}
	in[0] = to_device(devs[0], x);
	assert_null(ocl_prepare(devs[0], &c.t.node, (accel_tensor *[]){ NULL, k }, 2,
				&st_mem));
	expect_invalid("opencl", &c,
		       ocl_exec(devs[0], &c.t.node, st_mem, in, on_host, 2, out, 2),
		       W("input 'K'", "k = 5", "allowed 0..4"));
	ocl_release(devs[0], st_mem);
	for (int i = 0; i < 2; i++) {
		ocl_free(devs[0], out[i]->data);
		out[i]->data = NULL;
		accel_tensor_release(out[i]);
	}
	ocl_free(devs[0], in[0]->data);
	in[0]->data = NULL;
	accel_tensor_release(in[0]);
	accel_tensor_release(x);
	accel_tensor_release(k);
}

/* ---- set-up ---- */

static int setup(void **state)
{
	accel_status st;

	(void)state;
	st = ocl_discover(&devs, &n_devs);
	if (st) {
		print_message("ocl_discover: %s\n", accel_status_message(st));
		accel_status_free(st);
		n_devs = 0;
	}
	if (!n_devs)
		print_message("no OpenCL device: OpenCL tests skip\n");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_devs; i++)
		ocl_device_destroy(devs[i]);
	free(devs);
	return 0;
}

int main(int argc, char **argv)
{
	char tmp[4096], cache[4200];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(discovery_names_every_device),
		cmocka_unit_test(upload_download_round_trips),
		cmocka_unit_test(bad_source_reports_the_build_log),
		cmocka_unit_test(injected_alloc_failure_fails_once),
		cmocka_unit_test(injected_build_failure_fails_the_exec_then_recovers),
		cmocka_unit_test(unsupported_cases_say_no),
		cmocka_unit_test(binary_ops_broadcast_like_the_cpu),
		cmocka_unit_test(unary_ops_match_the_cpu),
		cmocka_unit_test(cast_converts_like_the_cpu),
		cmocka_unit_test(matmul_batches_and_broadcasts),
		cmocka_unit_test(gemm_transposes_and_bias_shapes),
		cmocka_unit_test(conv_strides_pads_dilations_groups),
		cmocka_unit_test(pools_match_the_cpu),
		cmocka_unit_test(norms_and_softmax_match_the_cpu),
		cmocka_unit_test(reductions_match_the_cpu),
		cmocka_unit_test(data_movement_matches_the_cpu),
		cmocka_unit_test(resize_matches_the_cpu),
		cmocka_unit_test(resize_variants_match_the_cpu),
		cmocka_unit_test(more_ops_match_the_cpu),
		cmocka_unit_test(scatters_apply_duplicates_in_order),
		cmocka_unit_test(index_ops_match_the_cpu),
		cmocka_unit_test(conv_transpose_matches_the_cpu),
		cmocka_unit_test(nn_extras_match_the_cpu),
		cmocka_unit_test(bitshift_and_float_classes_match_the_cpu),
		cmocka_unit_test(quantize_and_windows_match_the_cpu),
		cmocka_unit_test(argmax_of_integers_matches_the_cpu),
		cmocka_unit_test(integer_matmul_and_dynamic_quantize_match_the_cpu),
		cmocka_unit_test(crop_pad_and_cache_scatter_match_the_cpu),
		cmocka_unit_test(conv_integer_matches_the_cpu),
		cmocka_unit_test(qlinear_conv_matches_the_cpu),
		cmocka_unit_test(maxunpool_matches_the_cpu),
		cmocka_unit_test(losses_and_det_match_the_cpu),
		cmocka_unit_test(constant_matches_the_cpu),
		cmocka_unit_test(einsum_matches_the_cpu),
		cmocka_unit_test(tiled_gemm_path_matches_too),
		cmocka_unit_test(both_devices_give_the_same_answer),
		cmocka_unit_test(gathers_report_bad_indices),
		cmocka_unit_test(scatters_report_bad_indices),
		cmocka_unit_test(unpool_revseq_losses_report_bad_indices),
		cmocka_unit_test(topk_reports_a_bad_k),
		cmocka_unit_test(concurrent_execs_keep_their_own_errors),
	};

	(void)argc;
	setenv("POCL_DEVICES", "pthread pthread", 0);
	snprintf(tmp, sizeof(tmp), "%s", argv[0]);
	snprintf(cache, sizeof(cache), "%s/../pocl-cache", dirname(tmp));
	setenv("POCL_CACHE_DIR", cache, 0);
	return cmocka_run_group_tests(tests, setup, teardown);
}

#endif /* ACCEL_HAVE_OPENCL */
