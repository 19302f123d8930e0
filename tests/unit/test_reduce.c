/* SPDX-License-Identifier: MIT */
/*
 * test_reduce.c - the reduce family's kernels against naive loops on shapes
 * the ONNX node tests do not reach: every axis subset, tiles wider than one
 * block, big reduce-all (the parallel partial path), TopK ties and Einsum.
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

static float frand(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (float)((*s >> 8) & 0xffff) / 65536.0f - 0.5f;
}

/* A node with up to four attributes. */
typedef struct test_node {
	ir_node node;
	ir_attr attrs[4];
} test_node;

static void node_init(test_node *t, const char *op)
{
	memset(t, 0, sizeof(*t));
	t->node.op_type = (char *)op;
	t->node.domain = (char *)"";
	t->node.opset = 18;
	t->node.attrs = t->attrs;
}

static void attr_int(test_node *t, const char *name, int64_t v)
{
	ir_attr *a = &t->attrs[t->node.n_attrs++];

	a->name = (char *)name;
	a->type = IR_ATTR_INT;
	a->i = v;
}

static void attr_string(test_node *t, const char *name, const char *s)
{
	ir_attr *a = &t->attrs[t->node.n_attrs++];

	a->name = (char *)name;
	a->type = IR_ATTR_STRING;
	a->s = (char *)s;
	a->s_len = strlen(s);
}

/* Infer, allocate and run; outputs returned in out[]. */
static void run_node(threadpool *tp, test_node *t, accel_tensor **in, int n_in,
		     accel_tensor **out, int n_out)
{
	const op_schema *s = op_schema_find("", t->node.op_type);
	const cpu_kernel *k = cpu_kernel_find("", t->node.op_type);
	op_ctx octx = { .node = &t->node, .static_infer = false };
	cpu_ctx cctx = { .node = &t->node, .pool = tp };
	accel_status st;

	assert_non_null(s);
	assert_non_null(k);
	for (int i = 0; i < n_out; i++)
		assert_null(tensor_new_shape(ACCEL_DTYPE_UNDEFINED, 0, NULL, &out[i]));
	st = s->infer(&octx, in, n_in, out, n_out);
	if (st)
		fprintf(stderr, "infer: %s\n", accel_status_message(st));
	assert_null(st);
	for (int i = 0; i < n_out; i++)
		assert_null(tensor_alloc(out[i]));
	st = k->exec(&cctx, in, n_in, out, n_out);
	if (st)
		fprintf(stderr, "exec: %s\n", accel_status_message(st));
	assert_null(st);
}

static accel_tensor *random_tensor(int rank, const int64_t *dims, unsigned seed)
{
	accel_tensor *t;

	assert_null(tensor_new(ACCEL_DTYPE_F32, rank, dims, &t));
	for (int64_t i = 0; i < tensor_numel(t); i++)
		((float *)t->data)[i] = frand(&seed) * 4;
	return t;
}

enum { OP_SUM, OP_MEAN, OP_MAX, OP_L2, OP_LSE, N_OPS };
static const char *const op_names[N_OPS] = {
	"ReduceSum", "ReduceMean", "ReduceMax", "ReduceL2", "ReduceLogSumExp",
};

/* Naive reference of output element |o| (keepdims=1 shape). */
static double naive(int op, const accel_tensor *x, unsigned mask, int64_t o)
{
	int64_t st[ACCEL_MAX_RANK], coord[ACCEL_MAX_RANK], n = tensor_numel(x);
	int64_t ost[ACCEL_MAX_RANK], odims[ACCEL_MAX_RANK], cnt = 0;
	double s = op == OP_MAX ? -INFINITY : 0, mx = -INFINITY;

	for (int i = 0; i < x->rank; i++)
		odims[i] = (mask >> i) & 1 ? 1 : x->dims[i];
	dims_strides(x->rank, odims, ost);
	dims_strides(x->rank, x->dims, st);
	for (int64_t e = 0; e < n; e++) {
		int64_t oe = 0;
		double v = ((const float *)x->data)[e];

		for (int i = 0; i < x->rank; i++) {
			coord[i] = (e / st[i]) % x->dims[i];
			oe += ((mask >> i) & 1 ? 0 : coord[i]) * ost[i];
		}
		if (oe != o)
			continue;
		cnt++;
		mx = v > mx ? v : mx;
		s = op == OP_MAX ? (v > s ? v : s) : op == OP_L2 ? s + v * v : s + v;
	}
	if (op == OP_LSE) {
		s = 0;
		for (int64_t e = 0; e < n; e++) {
			int64_t oe = 0;

			for (int i = 0; i < x->rank; i++)
				oe += ((mask >> i) & 1 ? 0 : (e / st[i]) % x->dims[i]) * ost[i];
			if (oe == o)
				s += exp(((const float *)x->data)[e] - mx);
		}
		return mx + log(s);
	}
	return op == OP_MEAN ? s / (double)cnt : op == OP_L2 ? sqrt(s) : s;
}

static void check_reduce(threadpool *tp, int rank, const int64_t *dims)
{
	accel_tensor *x = random_tensor(rank, dims, 7);

	for (unsigned mask = 0; mask < (1u << rank); mask++)
		for (int op = 0; op < N_OPS; op++) {
			test_node t;
			ir_attr *axes;
			int64_t ax[ACCEL_MAX_RANK];
			size_t n_ax = 0;
			accel_tensor *y;

			for (int i = 0; i < rank; i++)
				if ((mask >> i) & 1)
					ax[n_ax++] = i;
			node_init(&t, op_names[op]);
			attr_int(&t, "noop_with_empty_axes", 1);
			axes = &t.attrs[t.node.n_attrs++];
			axes->name = (char *)"axes";
			axes->type = IR_ATTR_INTS;
			axes->ints = ax;
			axes->count = n_ax;
			run_node(tp, &t, &x, 1, &y, 1);
			for (int64_t o = 0; o < tensor_numel(y); o++) {
				double want = naive(op, x, mask, o);
				double got = ((float *)y->data)[o];

				if (fabs(got - want) > 1e-4 * (1 + fabs(want))) {
					fprintf(stderr, "%s mask %#x elem %lld: expected %g got %g\n",
						op_names[op], mask, (long long)o, want, got);
					fail();
				}
			}
			accel_tensor_release(y);
		}
	accel_tensor_release(x);
}

static void reduce_matches_naive_on_every_axis_subset(void **state)
{
	static const int64_t d1[] = { 3, 5, 7, 4 }, d2[] = { 2, 1, 40, 3 };
	static const int64_t d3[] = { 5, 600 }, d4[] = { 1, 1, 1 };
	threadpool *tp;

	(void)state;
	assert_null(threadpool_create(2, &tp));
	check_reduce(tp, 4, d1);
	check_reduce(NULL, 4, d2);
	check_reduce(tp, 2, d3);
	check_reduce(tp, 3, d4);
	threadpool_destroy(tp);
}

static void big_reduce_all_uses_partials_and_stays_accurate(void **state)
{
	int64_t n = 1 << 20;
	accel_tensor *x, *y;
	test_node t;
	threadpool *tp;
	double want = 0;

	(void)state;
	assert_null(threadpool_create(2, &tp));
	assert_null(tensor_new(ACCEL_DTYPE_F32, 1, &n, &x));
	for (int64_t i = 0; i < n; i++) {
		((float *)x->data)[i] = 0.1f + (float)(i % 7);
		want += 0.1f + (float)(i % 7);
	}
	node_init(&t, "ReduceSum");
	attr_int(&t, "keepdims", 0);
	run_node(tp, &t, &x, 1, &y, 1);
	assert_int_equal(y->rank, 0);
	assert_true(fabs(((float *)y->data)[0] - want) <= 1e-6 * want);
	accel_tensor_release(y);
	accel_tensor_release(x);
	threadpool_destroy(tp);
}

static void topk_ties_keep_the_lower_index_first(void **state)
{
	static const float xv[] = { 1, 3, 3, 2, 3 };
	int64_t n = 5, one = 1, k = 3;
	accel_tensor *in[2], *out[2];
	test_node t;

	(void)state;
	assert_null(accel_tensor_create_copy(ACCEL_DTYPE_F32, 1, &n, xv, sizeof(xv), &in[0]));
	assert_null(accel_tensor_create_copy(ACCEL_DTYPE_I64, 1, &one, &k, sizeof(k), &in[1]));
	node_init(&t, "TopK");
	run_node(NULL, &t, in, 2, out, 2);
	assert_int_equal(((int64_t *)out[1]->data)[0], 1);
	assert_int_equal(((int64_t *)out[1]->data)[1], 2);
	assert_int_equal(((int64_t *)out[1]->data)[2], 4);
	accel_tensor_release(out[0]);
	accel_tensor_release(out[1]);
	attr_int(&t, "largest", 0);
	run_node(NULL, &t, in, 2, out, 2);
	assert_int_equal(((int64_t *)out[1]->data)[0], 0);
	assert_int_equal(((int64_t *)out[1]->data)[1], 3);
	assert_int_equal(((int64_t *)out[1]->data)[2], 1);
	assert_true(((float *)out[0]->data)[2] == 3);
	for (int i = 0; i < 2; i++) {
		accel_tensor_release(out[i]);
		accel_tensor_release(in[i]);
	}
}

/* C[b,i,k] = sum_j A[b,i,j] B[b,j,k], given in several spellings. */
static void einsum_batch_matmul_matches_naive(void **state)
{
	static const char *const eqs[] = {
		"bij,bjk->bik", " bij , bjk -> bik", "...ij,...jk->...ik", "bij,bkj->bik",
	};
	int64_t da[] = { 3, 17, 33 }, db[] = { 3, 33, 20 }, dbt[] = { 3, 20, 33 };
	threadpool *tp;

	(void)state;
	assert_null(threadpool_create(2, &tp));
	for (size_t e = 0; e < sizeof(eqs) / sizeof(eqs[0]); e++) {
		bool bt = e == 3;
		accel_tensor *in[2] = { random_tensor(3, da, 1),
					random_tensor(3, bt ? dbt : db, 2) };
		accel_tensor *y;
		test_node t;

		node_init(&t, "Einsum");
		attr_string(&t, "equation", eqs[e]);
		run_node(e & 1 ? NULL : tp, &t, in, 2, &y, 1);
		assert_int_equal(y->rank, 3);
		assert_int_equal(y->dims[2], 20);
		for (int64_t b = 0; b < 3; b++)
			for (int64_t i = 0; i < 17; i++)
				for (int64_t k = 0; k < 20; k++) {
					double want = 0, got;

					for (int64_t j = 0; j < 33; j++)
						want += (double)((float *)in[0]->data)[(b * 17 + i) * 33 + j] *
							((float *)in[1]->data)[bt ? (b * 20 + k) * 33 + j
										  : (b * 33 + j) * 20 + k];
					got = ((float *)y->data)[(b * 17 + i) * 20 + k];
					if (fabs(got - want) > 1e-4 * (1 + fabs(want))) {
						fprintf(stderr, "%s [%lld,%lld,%lld]: expected %g got %g\n",
							eqs[e], (long long)b, (long long)i,
							(long long)k, want, got);
						fail();
					}
				}
		accel_tensor_release(y);
		accel_tensor_release(in[0]);
		accel_tensor_release(in[1]);
	}
	threadpool_destroy(tp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reduce_matches_naive_on_every_axis_subset),
		cmocka_unit_test(big_reduce_all_uses_partials_and_stays_accurate),
		cmocka_unit_test(topk_ties_keep_the_lower_index_first),
		cmocka_unit_test(einsum_batch_matmul_matches_naive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
