/* SPDX-License-Identifier: MIT */
/*
 * test_tensor.c - the tensor family's kernels on shapes the ONNX node tests
 * do not reach (the tiled transpose, multi-threaded strided copies, every
 * element size) and the load-time folding of shape arithmetic.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cpu/kernel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct test_node {
	ir_node node;
	ir_attr attrs[4];
} test_node;

static void node_init(test_node *t, const char *op, int opset)
{
	memset(t, 0, sizeof(*t));
	t->node.op_type = (char *)op;
	t->node.domain = (char *)"";
	t->node.opset = opset;
	t->node.attrs = t->attrs;
}

static void attr_ints(test_node *t, const char *name, int64_t *v, size_t n)
{
	ir_attr *a = &t->attrs[t->node.n_attrs++];

	a->name = (char *)name;
	a->type = IR_ATTR_INTS;
	a->ints = v;
	a->count = n;
}

static void attr_int(test_node *t, const char *name, int64_t v)
{
	ir_attr *a = &t->attrs[t->node.n_attrs++];

	a->name = (char *)name;
	a->type = IR_ATTR_INT;
	a->i = v;
}

static void run_node(threadpool *tp, test_node *t, accel_tensor **in, int n_in,
		     accel_tensor **out)
{
	const op_schema *s = op_schema_find("", t->node.op_type);
	const cpu_kernel *k = cpu_kernel_find("", t->node.op_type);
	op_ctx octx = { .node = &t->node, .static_infer = false };
	cpu_ctx cctx = { .node = &t->node, .pool = tp };
	accel_status st;

	assert_non_null(s);
	assert_non_null(k);
	assert_null(tensor_new_shape(ACCEL_DTYPE_UNDEFINED, 0, NULL, out));
	st = s->infer(&octx, in, n_in, out, 1);
	if (st)
		fprintf(stderr, "infer: %s\n", accel_status_message(st));
	assert_null(st);
	assert_null(tensor_alloc(*out));
	st = k->exec(&cctx, in, n_in, out, 1);
	if (st)
		fprintf(stderr, "exec: %s\n", accel_status_message(st));
	assert_null(st);
}

static accel_tensor *counting(accel_dtype dt, int rank, const int64_t *dims)
{
	accel_tensor *t;

	assert_null(tensor_new(dt, rank, dims, &t));
	for (int64_t i = 0; i < tensor_numel(t); i++)
		tensor_set_i64(t, i, i * 7 + 3);
	return t;
}

static accel_tensor *i64_vec(int n, const int64_t *v)
{
	accel_tensor *t;
	int64_t d = n;

	assert_null(tensor_new(ACCEL_DTYPE_I64, 1, &d, &t));
	memcpy(t->data, v, (size_t)n * sizeof(*v));
	return t;
}

/* Output element |i| of a transpose, by the definition. */
static int64_t transposed(const accel_tensor *x, const int64_t *perm,
			  const accel_tensor *o, int64_t i)
{
	int64_t c[ACCEL_MAX_RANK], xs[ACCEL_MAX_RANK], off = 0;

	for (int d = o->rank - 1; d >= 0; d--) {
		c[d] = i % o->dims[d];
		i /= o->dims[d];
	}
	dims_strides(x->rank, x->dims, xs);
	for (int d = 0; d < o->rank; d++)
		off += c[d] * xs[perm[d]];
	return tensor_get_i64(x, off);
}

static void check_transpose(threadpool *tp, accel_dtype dt, int rank,
			    const int64_t *dims, int64_t *perm)
{
	test_node t;
	accel_tensor *x = counting(dt, rank, dims), *o;

	node_init(&t, "Transpose", 13);
	attr_ints(&t, "perm", perm, (size_t)rank);
	run_node(tp, &t, &x, 1, &o);
	for (int d = 0; d < rank; d++)
		assert_int_equal(o->dims[d], dims[perm[d]]);
	for (int64_t i = 0; i < tensor_numel(o); i++)
		if (tensor_get_i64(o, i) != transposed(x, perm, o, i)) {
			fprintf(stderr, "dtype %s element %lld: expected %lld got %lld\n",
				accel_dtype_name(dt), (long long)i,
				(long long)transposed(x, perm, o, i),
				(long long)tensor_get_i64(o, i));
			fail();
		}
	accel_tensor_release(x);
	accel_tensor_release(o);
}

static void transpose_tiled_matches_definition(void **state)
{
	static const accel_dtype dts[] = { ACCEL_DTYPE_F32, ACCEL_DTYPE_U8,
					   ACCEL_DTYPE_F16, ACCEL_DTYPE_I64 };
	threadpool *tp;
	int64_t d2[] = { 67, 45 }, p2[] = { 1, 0 };
	int64_t d4[] = { 2, 37, 9, 11 }, nhwc[] = { 0, 2, 3, 1 };
	int64_t d4b[] = { 2, 9, 11, 37 }, nchw[] = { 0, 3, 1, 2 };
	int64_t d4c[] = { 2, 3, 40, 50 }, kt[] = { 0, 1, 3, 2 };
	int64_t mix[] = { 2, 0, 3, 1 };

	(void)state;
	assert_null(threadpool_create(2, &tp));
	for (size_t i = 0; i < sizeof(dts) / sizeof(dts[0]); i++) {
		check_transpose(tp, dts[i], 2, d2, p2);
		check_transpose(tp, dts[i], 4, d4, nhwc);
		check_transpose(tp, dts[i], 4, d4b, nchw);
		check_transpose(tp, dts[i], 4, d4c, kt);
		check_transpose(tp, dts[i], 4, d4c, mix);
	}
	threadpool_destroy(tp);
}

static void tile_and_expand_match_definition(void **state)
{
	threadpool *tp;
	test_node t;
	int64_t dims[] = { 3, 1, 5 }, reps[] = { 2, 40, 3 };
	int64_t shape[] = { 4, 3, 33, 5 };
	accel_tensor *x = counting(ACCEL_DTYPE_I32, 3, dims), *in[2], *o;

	(void)state;
	assert_null(threadpool_create(2, &tp));
	node_init(&t, "Tile", 13);
	in[0] = x;
	in[1] = i64_vec(3, reps);
	run_node(tp, &t, in, 2, &o);
	assert_int_equal(tensor_numel(o), 6 * 40 * 15);
	for (int64_t i = 0; i < tensor_numel(o); i++) {
		int64_t a = i / (40 * 15), b = (i / 15) % 40, c = i % 15;

		(void)b;
		assert_int_equal(tensor_get_i64(o, i),
				 tensor_get_i64(x, (a % 3) * 5 + c % 5));
	}
	accel_tensor_release(in[1]);
	accel_tensor_release(o);

	node_init(&t, "Expand", 13);
	in[1] = i64_vec(4, shape);
	run_node(tp, &t, in, 2, &o);
	assert_int_equal(o->rank, 4);
	for (int64_t i = 0; i < tensor_numel(o); i++) {
		int64_t c = (i / (33 * 5)) % 3, e = i % 5;

		assert_int_equal(tensor_get_i64(o, i), tensor_get_i64(x, c * 5 + e));
	}
	accel_tensor_release(in[1]);
	accel_tensor_release(o);
	accel_tensor_release(x);
	threadpool_destroy(tp);
}

/* Static inference: Shape of a known shape, then Gather, gives data. */
static void shape_chain_folds_at_load_time(void **state)
{
	test_node shape, gather;
	accel_tensor x = { .dtype = ACCEL_DTYPE_F32, .rank = 3,
			   .dims = { 2, 7, 5 } };
	accel_tensor sh = { 0 }, g = { 0 }, *in[2], *out[1];
	accel_tensor *idx;
	op_ctx ctx = { .static_infer = true };
	int64_t one = 1;

	(void)state;
	node_init(&shape, "Shape", 15);
	attr_int(&shape, "start", 1);
	ctx.node = &shape.node;
	in[0] = &x;
	out[0] = &sh;
	assert_null(op_schema_find("", "Shape")->infer(&ctx, in, 1, out, 1));
	assert_int_equal(sh.rank, 1);
	assert_int_equal(sh.dims[0], 2);
	assert_non_null(sh.data);
	assert_int_equal(((int64_t *)sh.data)[0], 7);
	assert_int_equal(((int64_t *)sh.data)[1], 5);

	assert_null(tensor_new(ACCEL_DTYPE_I64, 0, NULL, &idx));
	*(int64_t *)idx->data = -1;
	node_init(&gather, "Gather", 13);
	ctx.node = &gather.node;
	in[0] = &sh;
	in[1] = idx;
	out[0] = &g;
	assert_null(op_schema_find("", "Gather")->infer(&ctx, in, 2, out, 1));
	assert_int_equal(g.rank, 0);
	assert_non_null(g.data);
	assert_int_equal(*(int64_t *)g.data, 5);
	(void)one;
	free(sh.data);
	free(g.data);
	accel_tensor_release(idx);
}

/* An unknown dim stays unknown; the op must not fail at load time. */
static void reshape_with_unknowns_stays_partial(void **state)
{
	test_node t;
	accel_tensor x = { .dtype = ACCEL_DTYPE_F32, .rank = 3,
			   .dims = { -1, 4, 6 } };
	accel_tensor o = { 0 }, *in[2], *out[1] = { &o };
	int64_t shape[] = { 0, -1 };
	accel_tensor *s = i64_vec(2, shape);
	op_ctx ctx = { .static_infer = true };

	(void)state;
	node_init(&t, "Reshape", 14);
	ctx.node = &t.node;
	in[0] = &x;
	in[1] = s;
	assert_null(op_schema_find("", "Reshape")->infer(&ctx, in, 2, out, 1));
	assert_int_equal(o.rank, 2);
	assert_int_equal(o.dims[0], -1);
	assert_int_equal(o.dims[1], -1);
	assert_null(o.data);
	accel_tensor_release(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(transpose_tiled_matches_definition),
		cmocka_unit_test(tile_and_expand_match_definition),
		cmocka_unit_test(shape_chain_folds_at_load_time),
		cmocka_unit_test(reshape_with_unknowns_stays_partial),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
