/* SPDX-License-Identifier: MIT */
/*
 * reduce_index.c - CPU kernels that pick or scan along one axis: ArgMax,
 * ArgMin, TopK, CumSum and Unique.
 */
#include "cpu/reduce.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Value of element |i| as a double, exact for float32/float64 fast paths. */
static inline double elem_f64(const accel_tensor *t, int64_t i)
{
	if (t->dtype == ACCEL_DTYPE_F32)
		return ((const float *)t->data)[i];
	if (t->dtype == ACCEL_DTYPE_F64)
		return ((const double *)t->data)[i];
	return tensor_get_f64(t, i);
}

/* Compare elements |a| and |b| of |t|: <0, 0, >0. Integers exactly. */
static inline int elem_cmp(const accel_tensor *t, int64_t a, int64_t b)
{
	if (dtype_is_int(t->dtype) || t->dtype == ACCEL_DTYPE_BOOL) {
		if (t->dtype == ACCEL_DTYPE_U64) {
			uint64_t x = ((const uint64_t *)t->data)[a];
			uint64_t y = ((const uint64_t *)t->data)[b];

			return (x > y) - (x < y);
		}
		int64_t x = tensor_get_i64(t, a), y = tensor_get_i64(t, b);

		return (x > y) - (x < y);
	}
	double x = elem_f64(t, a), y = elem_f64(t, b);

	return (x > y) - (x < y);
}

/* ---- ArgMax / ArgMin ---- */

typedef struct arg_job {
	const accel_tensor *x;
	int64_t *y;
	int64_t len, inner;
	int sign; /* +1 argmax, -1 argmin */
	bool last;
} arg_job;

static void arg_chunk(void *arg, int64_t begin, int64_t end)
{
	const arg_job *j = arg;

	for (int64_t w = begin; w < end; w++) {
		int64_t o = w / j->inner, i = w % j->inner;
		int64_t base = o * j->len * j->inner + i, best = 0;

		if (j->x->dtype == ACCEL_DTYPE_F32) {
			const float *p = (const float *)j->x->data + base;
			float bv = p[0];

			for (int64_t k = 1; k < j->len; k++) {
				float v = p[k * j->inner];

				if ((j->sign > 0 ? v > bv : v < bv) ||
				    (j->last && v == bv)) {
					bv = v;
					best = k;
				}
			}
		} else {
			for (int64_t k = 1; k < j->len; k++) {
				int c = elem_cmp(j->x, base + k * j->inner,
						 base + best * j->inner) * j->sign;

				if (c > 0 || (j->last && c == 0))
					best = k;
			}
		}
		j->y[w] = best;
	}
}

static accel_status arg_exec(const cpu_ctx *ctx, accel_tensor *const *in,
			     accel_tensor *y, int sign)
{
	arg_job j = { .x = in[0], .y = y->data, .sign = sign,
		      .last = ir_attr_int(ctx->node, "select_last_index", 0) != 0 };
	int64_t outer;
	int axis;

	ACCEL_TRY(op_axis(NULL, ir_attr_int(ctx->node, "axis", 0), j.x->rank, &axis));
	rd_split(j.x, axis, &outer, &j.len, &j.inner);
	if (j.len == 0)
		return status_invalid("ArgMax/ArgMin over the empty axis %d", axis);
	parallel_for(ctx->pool, outer * j.inner, 4096 / (j.len + 1) + 1, arg_chunk, &j);
	return NULL;
}

RD_KERNEL(rd_argmax)
{
	return arg_exec(ctx, in, out[0], 1);
}

RD_KERNEL(rd_argmin)
{
	return arg_exec(ctx, in, out[0], -1);
}

/* ---- TopK ---- */

typedef struct topk_job {
	const accel_tensor *x;
	accel_tensor *vals, *idx;
	int64_t len, inner, k;
	bool largest;
	atomic_bool oom;
} topk_job;

typedef struct topk_sort {
	const accel_tensor *x;
	int64_t base, inner;
	int sign;
} topk_sort;

static int topk_cmp(const void *pa, const void *pb, void *arg)
{
	const topk_sort *s = arg;
	int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
	int c = elem_cmp(s->x, s->base + a * s->inner, s->base + b * s->inner);

	if (c)
		return -c * s->sign; /* the best first */
	return (a > b) - (a < b); /* ties: lower index first */
}

static void topk_chunk(void *arg, int64_t begin, int64_t end)
{
	topk_job *j = arg;
	size_t es = accel_dtype_size(j->x->dtype);
	int64_t *order = malloc(sizeof(int64_t) * (size_t)(j->len ? j->len : 1));

	if (!order) {
		atomic_store(&j->oom, true);
		return;
	}
	for (int64_t w = begin; w < end; w++) {
		int64_t o = w / j->inner, i = w % j->inner;
		topk_sort s = { .x = j->x, .base = o * j->len * j->inner + i,
				.inner = j->inner, .sign = j->largest ? 1 : -1 };
		int64_t ob = o * j->k * j->inner + i;

		for (int64_t t = 0; t < j->len; t++)
			order[t] = t;
		qsort_r(order, (size_t)j->len, sizeof(int64_t), topk_cmp, &s);
		for (int64_t t = 0; t < j->k; t++) {
			int64_t src = s.base + order[t] * j->inner;
			int64_t dst = ob + t * j->inner;

			memcpy((char *)j->vals->data + dst * es,
			       (const char *)j->x->data + src * es, es);
			((int64_t *)j->idx->data)[dst] = order[t];
		}
	}
	free(order);
}

RD_KERNEL(rd_topk)
{
	topk_job j = { .x = in[0], .vals = out[0], .idx = out[1],
		       .largest = ir_attr_int(ctx->node, "largest", 1) != 0 };
	int64_t outer;
	int axis;

	ACCEL_TRY(op_axis(NULL, ir_attr_int(ctx->node, "axis", -1), j.x->rank, &axis));
	rd_split(j.x, axis, &outer, &j.len, &j.inner);
	j.k = out[0]->dims[axis];
	if (!accel_dtype_size(j.x->dtype))
		return status_unsupported("TopK of %s", accel_dtype_name(j.x->dtype));
	atomic_init(&j.oom, false);
	parallel_for(ctx->pool, outer * j.inner, 64, topk_chunk, &j);
	if (atomic_load(&j.oom))
		return status_oom("TopK scratch");
	return NULL;
}

/* ---- CumSum ---- */

#define CUMSUM_LOOP(T, ACC)                                                 \
	do {                                                                \
		const T *xp = x->data;                                      \
		T *yp = y->data;                                            \
		for (int64_t o = 0; o < outer; o++)                         \
			for (int64_t i = 0; i < inner; i++) {               \
				ACC acc = 0;                                \
				for (int64_t t = 0; t < len; t++) {         \
					int64_t k = rev ? len - 1 - t : t;  \
					int64_t e = (o * len + k) * inner + i; \
					if (excl) {                         \
						yp[e] = (T)acc;             \
						acc += xp[e];               \
					} else {                            \
						acc += xp[e];               \
						yp[e] = (T)acc;             \
					}                                   \
				}                                           \
			}                                                   \
	} while (0)

RD_KERNEL(rd_cumsum)
{
	const accel_tensor *x = in[0];
	accel_tensor *y = out[0];
	bool excl = ir_attr_int(ctx->node, "exclusive", 0) != 0;
	bool rev = ir_attr_int(ctx->node, "reverse", 0) != 0;
	int64_t outer, len, inner;
	int axis;

	if (!in[1]->data || tensor_numel(in[1]) != 1)
		return status_invalid("input 'axis' must be a scalar");
	ACCEL_TRY(op_axis(NULL, tensor_get_i64(in[1], 0), x->rank, &axis));
	rd_split(x, axis, &outer, &len, &inner);
	switch (x->dtype) {
	case ACCEL_DTYPE_F32: CUMSUM_LOOP(float, double); break;
	case ACCEL_DTYPE_F64: CUMSUM_LOOP(double, double); break;
	case ACCEL_DTYPE_I32: CUMSUM_LOOP(int32_t, int64_t); break;
	case ACCEL_DTYPE_I64: CUMSUM_LOOP(int64_t, int64_t); break;
	case ACCEL_DTYPE_U32: CUMSUM_LOOP(uint32_t, uint64_t); break;
	case ACCEL_DTYPE_U64: CUMSUM_LOOP(uint64_t, uint64_t); break;
	default:
		return status_unsupported("CumSum of %s", accel_dtype_name(x->dtype));
	}
	return NULL;
}

/* ---- Unique ---- */

RD_KERNEL(rd_unique)
{
	const accel_tensor *x = in[0];
	const ir_attr *ax = ir_node_attr(ctx->node, "axis");
	size_t es = accel_dtype_size(x->dtype);
	int64_t outer = 1, len, inner = 1;
	unique_result r;
	int axis = -1;

	if (!es)
		return status_unsupported("Unique of %s", accel_dtype_name(x->dtype));
	if (ax) {
		ACCEL_TRY(op_axis(NULL, ax->i, x->rank, &axis));
		rd_split(x, axis, &outer, &len, &inner);
	}
	ACCEL_TRY(unique_compute(x, axis, ir_attr_int(ctx->node, "sorted", 1) != 0,
				 &r));
	len = r.n_slices;
	for (int64_t o = 0; o < outer; o++)
		for (int64_t u = 0; u < r.n_unique; u++)
			memcpy((char *)out[0]->data + ((o * r.n_unique + u) * inner) * es,
			       (const char *)x->data + ((o * len + r.first[u]) * inner) * es,
			       (size_t)inner * es);
	if (n_out > 1 && out[1])
		memcpy(out[1]->data, r.first, sizeof(int64_t) * (size_t)r.n_unique);
	if (n_out > 2 && out[2])
		memcpy(out[2]->data, r.inverse, sizeof(int64_t) * (size_t)r.n_slices);
	if (n_out > 3 && out[3])
		memcpy(out[3]->data, r.counts, sizeof(int64_t) * (size_t)r.n_unique);
	unique_result_free(&r);
	return NULL;
}
