/* SPDX-License-Identifier: MIT */
/*
 * test_elementwise.c - the elementwise family's schemas and CPU kernels:
 * broadcasting across thread-pool chunks, integer edge cases, variadic
 * folding, Where on every element size, casts, half types, and the status
 * codes of bad inputs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cpu/kernel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static threadpool *pool;

static accel_tensor *make(accel_dtype dt, int rank, const int64_t *dims,
			  const void *data)
{
	accel_tensor *t;

	assert_null(tensor_new(dt, rank, dims, &t));
	if (data)
		memcpy(t->data, data, t->nbytes);
	return t;
}

static ir_attr attr_int(const char *name, int64_t v)
{
	return (ir_attr){ .name = (char *)name, .type = IR_ATTR_INT, .i = v };
}

static ir_attr attr_float(const char *name, float v)
{
	return (ir_attr){ .name = (char *)name, .type = IR_ATTR_FLOAT, .f = v };
}

static ir_attr attr_str(const char *name, const char *s)
{
	return (ir_attr){ .name = (char *)name, .type = IR_ATTR_STRING,
			  .s = (char *)s, .s_len = strlen(s) };
}

/* Infer, allocate and execute |op|; *out is set only on success. */
static accel_status run_op(const char *op, int opset, ir_attr *attrs,
			   int n_attrs, accel_tensor **in, int n_in,
			   accel_tensor **out)
{
	ir_node node = { .name = "n", .op_type = (char *)op, .domain = "",
			 .opset = opset, .n_attrs = n_attrs, .attrs = attrs };
	op_ctx octx = { .node = &node, .static_infer = false };
	cpu_ctx cctx = { .node = &node, .pool = pool };
	const op_schema *s = op_schema_find("", op);
	const cpu_kernel *k = cpu_kernel_find("", op);
	accel_tensor *o;
	accel_status st;

	assert_non_null(s);
	assert_non_null(k);
	assert_null(tensor_new_shape(ACCEL_DTYPE_UNDEFINED, 0, NULL, &o));
	st = s->infer(&octx, in, n_in, &o, 1);
	if (!st)
		st = tensor_alloc(o);
	if (!st)
		st = k->exec(&cctx, in, n_in, &o, 1);
	if (st) {
		accel_tensor_release(o);
		return st;
	}
	*out = o;
	return NULL;
}

static void expect_code(accel_status st, accel_status_code code)
{
	if (accel_status_code_of(st) != code)
		fprintf(stderr, "expected %s, got %s: %s\n",
			accel_status_code_name(code),
			accel_status_code_name(accel_status_code_of(st)),
			accel_status_message(st));
	assert_int_equal(accel_status_code_of(st), code);
	accel_status_free(st);
}

static void release_all(accel_tensor **t, int n)
{
	for (int i = 0; i < n; i++)
		accel_tensor_release(t[i]);
}

static void add_broadcast_matches_naive_across_chunks(void **state)
{
	/* [37,1,1000] + [5,1]: rows of 1000 split across pool chunks. */
	int64_t da[] = { 37, 1, 1000 }, db[] = { 5, 1 };
	accel_tensor *in[2], *out;
	float *a, *b, *o;

	(void)state;
	in[0] = make(ACCEL_DTYPE_F32, 3, da, NULL);
	in[1] = make(ACCEL_DTYPE_F32, 2, db, NULL);
	a = in[0]->data;
	b = in[1]->data;
	for (int i = 0; i < 37000; i++)
		a[i] = (float)(i % 97) * 0.5f;
	for (int i = 0; i < 5; i++)
		b[i] = (float)i * 1000.0f;
	assert_null(run_op("Add", 14, NULL, 0, in, 2, &out));
	assert_int_equal(out->rank, 3);
	assert_int_equal(out->dims[0], 37);
	assert_int_equal(out->dims[1], 5);
	assert_int_equal(out->dims[2], 1000);
	o = out->data;
	for (int i = 0; i < 37; i++)
		for (int j = 0; j < 5; j++)
			for (int k = 0; k < 1000; k++) {
				float want = a[i * 1000 + k] + b[j];

				if (o[(i * 5 + j) * 1000 + k] != want) {
					fprintf(stderr, "(%d,%d,%d): expected %g got %g\n",
						i, j, k, want, o[(i * 5 + j) * 1000 + k]);
					fail();
				}
			}
	release_all(in, 2);
	accel_tensor_release(out);
}

static void integer_arithmetic_wraps_truncates_and_survives_zero(void **state)
{
	int64_t d[] = { 4 };
	int32_t a[] = { INT32_MAX, -7, 7, INT32_MIN };
	int32_t b[] = { 1, 2, 0, -1 };
	accel_tensor *in[2], *out;
	int32_t *o;

	(void)state;
	in[0] = make(ACCEL_DTYPE_I32, 1, d, a);
	in[1] = make(ACCEL_DTYPE_I32, 1, d, b);
	assert_null(run_op("Add", 14, NULL, 0, in, 2, &out));
	o = out->data;
	assert_int_equal(o[0], INT32_MIN);
	accel_tensor_release(out);
	assert_null(run_op("Div", 14, NULL, 0, in, 2, &out));
	o = out->data;
	assert_int_equal(o[1], -3); /* truncation, not floor */
	assert_int_equal(o[2], 0);  /* x / 0 */
	assert_int_equal(o[3], INT32_MIN);
	accel_tensor_release(out);
	release_all(in, 2);
}

static void mod_follows_divisor_sign_unless_fmod(void **state)
{
	int64_t d[] = { 4 };
	int64_t a[] = { -4, 7, 5, -7 }, b[] = { 3, -3, 8, -3 };
	ir_attr fmod1 = attr_int("fmod", 1);
	accel_tensor *in[2], *out;
	int64_t *o;

	(void)state;
	in[0] = make(ACCEL_DTYPE_I64, 1, d, a);
	in[1] = make(ACCEL_DTYPE_I64, 1, d, b);
	assert_null(run_op("Mod", 13, NULL, 0, in, 2, &out));
	o = out->data;
	assert_int_equal(o[0], 2);
	assert_int_equal(o[1], -2);
	assert_int_equal(o[2], 5);
	assert_int_equal(o[3], -1);
	accel_tensor_release(out);
	assert_null(run_op("Mod", 13, &fmod1, 1, in, 2, &out));
	o = out->data;
	assert_int_equal(o[0], -1);
	assert_int_equal(o[1], 1);
	accel_tensor_release(out);
	release_all(in, 2);
}

static void sum_folds_three_broadcast_inputs(void **state)
{
	int64_t d0[] = { 2, 1 }, d1[] = { 3 }, d2[] = { 2, 3 };
	double a[] = { 1, 2 }, b[] = { 10, 20, 30 }, c[] = { 100, 200, 300,
							      400, 500, 600 };
	double want[] = { 111, 221, 331, 412, 522, 632 };
	accel_tensor *in[3], *out;

	(void)state;
	in[0] = make(ACCEL_DTYPE_F64, 2, d0, a);
	in[1] = make(ACCEL_DTYPE_F64, 1, d1, b);
	in[2] = make(ACCEL_DTYPE_F64, 2, d2, c);
	assert_null(run_op("Sum", 13, NULL, 0, in, 3, &out));
	assert_memory_equal(out->data, want, sizeof(want));
	accel_tensor_release(out);
	assert_null(run_op("Mean", 13, NULL, 0, in, 3, &out));
	for (int i = 0; i < 6; i++)
		assert_true(fabs(((double *)out->data)[i] - want[i] / 3) < 1e-12);
	accel_tensor_release(out);
	release_all(in, 3);
}

static void where_selects_any_element_size(void **state)
{
	int64_t dc[] = { 2, 1 }, dx[] = { 3 }, dy[] = { 1 };
	uint8_t c[] = { 1, 0 };
	int64_t x[] = { 1, 2, 3 }, y[] = { -1 };
	int64_t want[] = { 1, 2, 3, -1, -1, -1 };
	accel_tensor *in[3], *out;

	(void)state;
	in[0] = make(ACCEL_DTYPE_BOOL, 2, dc, c);
	in[1] = make(ACCEL_DTYPE_I64, 1, dx, x);
	in[2] = make(ACCEL_DTYPE_I64, 1, dy, y);
	assert_null(run_op("Where", 16, NULL, 0, in, 3, &out));
	assert_int_equal(out->dtype, ACCEL_DTYPE_I64);
	assert_memory_equal(out->data, want, sizeof(want));
	accel_tensor_release(out);
	release_all(in, 3);
}

static void cast_truncates_and_handles_nan_and_half(void **state)
{
	int64_t d[] = { 4 };
	float x[] = { -2.7f, 2.7f, NAN, 65504.0f };
	ir_attr to_i8 = attr_int("to", ACCEL_DTYPE_I8);
	ir_attr to_bool = attr_int("to", ACCEL_DTYPE_BOOL);
	ir_attr to_f16 = attr_int("to", ACCEL_DTYPE_F16);
	accel_tensor *in, *out;

	(void)state;
	in = make(ACCEL_DTYPE_F32, 1, d, x);
	assert_null(run_op("Cast", 13, &to_i8, 1, &in, 1, &out));
	assert_int_equal(((int8_t *)out->data)[0], -2);
	assert_int_equal(((int8_t *)out->data)[1], 2);
	assert_int_equal(((int8_t *)out->data)[2], 0);
	accel_tensor_release(out);
	assert_null(run_op("Cast", 13, &to_bool, 1, &in, 1, &out));
	assert_int_equal(((uint8_t *)out->data)[2], 1); /* NaN is true */
	accel_tensor_release(out);
	assert_null(run_op("Cast", 13, &to_f16, 1, &in, 1, &out));
	assert_int_equal(((uint16_t *)out->data)[3], 0x7bff);
	accel_tensor_release(out);
	accel_tensor_release(in);
}

static void half_inputs_compute_through_float32(void **state)
{
	int64_t d[] = { 3 };
	uint16_t a[] = { 0x3c00, 0x4000, 0xbc00 }; /* 1, 2, -1 */
	accel_tensor *in[2], *out;
	uint16_t *o;

	(void)state;
	in[0] = make(ACCEL_DTYPE_F16, 1, d, a);
	in[1] = make(ACCEL_DTYPE_F16, 1, d, a);
	assert_null(run_op("Mul", 14, NULL, 0, in, 2, &out));
	assert_int_equal(out->dtype, ACCEL_DTYPE_F16);
	o = out->data;
	assert_int_equal(o[0], 0x3c00);
	assert_int_equal(o[1], 0x4400); /* 4 */
	assert_int_equal(o[2], 0x3c00);
	accel_tensor_release(out);
	assert_null(run_op("Relu", 14, NULL, 0, in, 1, &out));
	assert_int_equal(((uint16_t *)out->data)[2], 0);
	accel_tensor_release(out);
	release_all(in, 2);
}

static void clip_reads_attributes_before_opset_11_and_inputs_after(void **state)
{
	int64_t d[] = { 3 };
	float x[] = { -5, 0.5f, 5 }, lo = -1, hi = 1;
	ir_attr attrs[2] = { attr_float("min", -2), attr_float("max", 2) };
	accel_tensor *in[3], *out;

	(void)state;
	in[0] = make(ACCEL_DTYPE_F32, 1, d, x);
	in[1] = make(ACCEL_DTYPE_F32, 0, NULL, &lo);
	in[2] = make(ACCEL_DTYPE_F32, 0, NULL, &hi);
	assert_null(run_op("Clip", 6, attrs, 2, in, 1, &out));
	assert_true(((float *)out->data)[0] == -2 && ((float *)out->data)[2] == 2);
	accel_tensor_release(out);
	assert_null(run_op("Clip", 13, NULL, 0, in, 3, &out));
	assert_true(((float *)out->data)[0] == -1 && ((float *)out->data)[2] == 1);
	accel_tensor_release(out);
	release_all(in, 3);
}

static void bad_inputs_report_the_right_code(void **state)
{
	int64_t d3[] = { 3 }, d4[] = { 4 };
	ir_attr bad_dir = attr_str("direction", "UP");
	ir_attr to_str = attr_int("to", ACCEL_DTYPE_STRING);
	accel_tensor *in[2], *out = NULL;

	(void)state;
	in[0] = make(ACCEL_DTYPE_F32, 1, d3, NULL);
	in[1] = make(ACCEL_DTYPE_F32, 1, d4, NULL);
	expect_code(run_op("Add", 14, NULL, 0, in, 2, &out),
		    ACCEL_INVALID_ARGUMENT);
	accel_tensor_release(in[1]);
	in[1] = make(ACCEL_DTYPE_I32, 1, d3, NULL);
	expect_code(run_op("Add", 14, NULL, 0, in, 2, &out),
		    ACCEL_INVALID_ARGUMENT);
	expect_code(run_op("Cast", 13, &to_str, 1, in, 1, &out),
		    ACCEL_UNSUPPORTED);
	expect_code(run_op("Not", 1, NULL, 0, in, 1, &out), ACCEL_UNSUPPORTED);
	accel_tensor_release(in[0]);
	in[0] = make(ACCEL_DTYPE_I32, 1, d3, NULL);
	expect_code(run_op("BitShift", 11, &bad_dir, 1, in, 2, &out),
		    ACCEL_INVALID_MODEL);
	assert_null(out);
	release_all(in, 2);
}

static void empty_tensors_broadcast_to_empty_outputs(void **state)
{
	int64_t da[] = { 3, 0 }, db[] = { 3, 1 };
	accel_tensor *in[2], *out;

	(void)state;
	in[0] = make(ACCEL_DTYPE_F32, 2, da, NULL);
	in[1] = make(ACCEL_DTYPE_F32, 2, db, NULL);
	assert_null(run_op("Add", 14, NULL, 0, in, 2, &out));
	assert_int_equal(out->dims[0], 3);
	assert_int_equal(out->dims[1], 0);
	accel_tensor_release(out);
	release_all(in, 2);
}

static void static_inference_propagates_unknowns(void **state)
{
	ir_node node = { .name = "n", .op_type = "Add", .domain = "", .opset = 14 };
	op_ctx ctx = { .node = &node, .static_infer = true };
	int64_t da[] = { -1, 3 }, db[] = { 3 };
	accel_tensor *a, *b, *o, *in[2];

	(void)state;
	assert_null(tensor_new_shape(ACCEL_DTYPE_F32, 2, da, &a));
	assert_null(tensor_new_shape(ACCEL_DTYPE_F32, 1, db, &b));
	assert_null(tensor_new_shape(ACCEL_DTYPE_UNDEFINED, 0, NULL, &o));
	in[0] = a;
	in[1] = b;
	assert_null(op_schema_find("", "Add")->infer(&ctx, in, 2, &o, 1));
	assert_int_equal(o->rank, 2);
	assert_int_equal(o->dims[0], -1);
	assert_int_equal(o->dims[1], 3);
	b->rank = -1;
	assert_null(op_schema_find("", "Add")->infer(&ctx, in, 2, &o, 1));
	assert_int_equal(o->rank, -1);
	release_all(in, 2);
	accel_tensor_release(o);
}

static int setup(void **state)
{
	(void)state;
	return threadpool_create(2, &pool) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	threadpool_destroy(pool);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(add_broadcast_matches_naive_across_chunks),
		cmocka_unit_test(integer_arithmetic_wraps_truncates_and_survives_zero),
		cmocka_unit_test(mod_follows_divisor_sign_unless_fmod),
		cmocka_unit_test(sum_folds_three_broadcast_inputs),
		cmocka_unit_test(where_selects_any_element_size),
		cmocka_unit_test(cast_truncates_and_handles_nan_and_half),
		cmocka_unit_test(half_inputs_compute_through_float32),
		cmocka_unit_test(clip_reads_attributes_before_opset_11_and_inputs_after),
		cmocka_unit_test(bad_inputs_report_the_right_code),
		cmocka_unit_test(empty_tensors_broadcast_to_empty_outputs),
		cmocka_unit_test(static_inference_propagates_unknowns),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
