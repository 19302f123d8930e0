/* SPDX-License-Identifier: MIT */
/*
 * reduce_quant.c - CPU kernels of QuantizeLinear, DequantizeLinear,
 * DynamicQuantizeLinear and MatMulInteger (8- and 16-bit integer types;
 * float8 and 4-bit types are reported as unsupported).
 */
#include "cpu/reduce.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool quant_type_ok(accel_dtype dt)
{
	return dt == ACCEL_DTYPE_U8 || dt == ACCEL_DTYPE_I8 ||
	       dt == ACCEL_DTYPE_U16 || dt == ACCEL_DTYPE_I16 ||
	       dt == ACCEL_DTYPE_I32;
}

static void quant_range(accel_dtype dt, double *lo, double *hi)
{
	switch (dt) {
	case ACCEL_DTYPE_U8: *lo = 0; *hi = 255; break;
	case ACCEL_DTYPE_I8: *lo = -128; *hi = 127; break;
	case ACCEL_DTYPE_U16: *lo = 0; *hi = 65535; break;
	case ACCEL_DTYPE_I16: *lo = -32768; *hi = 32767; break;
	default: *lo = -2147483648.0; *hi = 2147483647.0; break;
	}
}

/*
 * Where the scale/zero point of element e comes from: one value, one per
 * index along |axis|, or one per block of |block| indices along |axis|.
 */
typedef struct qparams {
	int mode; /* 0 per tensor, 1 per axis, 2 blocked */
	int64_t len, inner, block, n_blocks;
} qparams;

static accel_status qparams_init(const cpu_ctx *ctx, const accel_tensor *x,
				 const accel_tensor *scale, qparams *q)
{
	int64_t outer, axis_attr = ir_attr_int(ctx->node, "axis", 1);
	int axis = 0;

	memset(q, 0, sizeof(*q));
	q->block = ir_attr_int(ctx->node, "block_size", 0);
	if (tensor_numel(scale) == 1 && q->block <= 0)
		return NULL;
	ACCEL_TRY(op_axis(NULL, axis_attr, x->rank, &axis));
	rd_split(x, axis, &outer, &q->len, &q->inner);
	if (q->block > 0) {
		q->mode = 2;
		q->n_blocks = (q->len + q->block - 1) / q->block;
		if (scale->rank != x->rank || scale->dims[axis] != q->n_blocks)
			return status_invalid("input 'scale' does not match block_size %lld",
					      (long long)q->block);
		return NULL;
	}
	if (scale->rank != 1 || scale->dims[0] != q->len)
		return status_invalid("input 'scale' has %lld elements, axis %d has %lld",
				      (long long)tensor_numel(scale), axis,
				      (long long)q->len);
	q->mode = 1;
	return NULL;
}

static inline int64_t qparam_index(const qparams *q, int64_t e)
{
	int64_t i, k, o;

	if (q->mode == 0)
		return 0;
	i = e % q->inner;
	k = (e / q->inner) % q->len;
	if (q->mode == 1)
		return k;
	o = e / (q->inner * q->len);
	return (o * q->n_blocks + k / q->block) * q->inner + i;
}

/*
 * Fast path for the common QDQ case: float32 data and scales, 8-bit
 * integers, one scale per tensor or per axis. Rows of |inner| contiguous
 * elements share one scale and zero point.
 */
typedef struct qrow_job {
	const void *x;
	void *y;
	const float *scale;
	const accel_tensor *zp;
	accel_dtype qdt; /* the 8-bit type */
	int64_t len, inner;
} qrow_job;

static void quant_rows(void *arg, int64_t begin, int64_t end)
{
	const qrow_job *j = arg;
	float lo = j->qdt == ACCEL_DTYPE_U8 ? 0 : -128;
	float hi = j->qdt == ACCEL_DTYPE_U8 ? 255 : 127;

	for (int64_t r = begin; r < end; r++) {
		int64_t p = r % j->len;
		const float *x = (const float *)j->x + r * j->inner;
		float s = j->scale[p], z = j->zp ? (float)tensor_get_i64(j->zp, p) : 0;

		for (int64_t i = 0; i < j->inner; i++) {
			float v = rintf(x[i] / s) + z;

			v = v < lo ? lo : v > hi ? hi : v;
			if (j->qdt == ACCEL_DTYPE_U8)
				((uint8_t *)j->y)[r * j->inner + i] = (uint8_t)v;
			else
				((int8_t *)j->y)[r * j->inner + i] = (int8_t)v;
		}
	}
}

static void dequant_rows(void *arg, int64_t begin, int64_t end)
{
	const qrow_job *j = arg;

	for (int64_t r = begin; r < end; r++) {
		int64_t p = r % j->len, b = r * j->inner;
		float s = j->scale[p];
		int32_t z = j->zp ? (int32_t)tensor_get_i64(j->zp, p) : 0;
		float *y = (float *)j->y + b;

		if (j->qdt == ACCEL_DTYPE_U8)
			for (int64_t i = 0; i < j->inner; i++)
				y[i] = (float)(((const uint8_t *)j->x)[b + i] - z) * s;
		else
			for (int64_t i = 0; i < j->inner; i++)
				y[i] = (float)(((const int8_t *)j->x)[b + i] - z) * s;
	}
}

/* Run |fn| when the fast path applies; *done says whether it did. */
static void qrows_try(const cpu_ctx *ctx, const accel_tensor *x,
		      const accel_tensor *scale, const accel_tensor *zp,
		      accel_tensor *y, const qparams *q, bool quant, bool *done)
{
	qrow_job j = { .x = x->data, .y = y->data, .scale = scale->data, .zp = zp,
		       .qdt = quant ? y->dtype : x->dtype, .len = 1,
		       .inner = tensor_numel(x) };
	const accel_tensor *fl = quant ? x : y;

	*done = false;
	if (fl->dtype != ACCEL_DTYPE_F32 || scale->dtype != ACCEL_DTYPE_F32 ||
	    (j.qdt != ACCEL_DTYPE_U8 && j.qdt != ACCEL_DTYPE_I8) || q->mode == 2)
		return;
	if (zp && zp->dtype != j.qdt)
		return;
	if (q->mode == 1) {
		j.len = q->len;
		j.inner = q->inner;
	}
	if (j.inner <= 0)
		return;
	parallel_for(ctx->pool, tensor_numel(x) / j.inner, 1 + 16384 / j.inner,
		     quant ? quant_rows : dequant_rows, &j);
	*done = true;
}

RD_KERNEL(rd_quantize)
{
	const accel_tensor *x = in[0], *scale = in[1];
	const accel_tensor *zp = n_in > 2 ? in[2] : NULL;
	accel_tensor *y = out[0];
	int64_t n = tensor_numel(x);
	double lo, hi;
	qparams q;
	bool done;

	if (!quant_type_ok(y->dtype) || y->dtype == ACCEL_DTYPE_I32)
		return status_unsupported("QuantizeLinear to %s",
					  accel_dtype_name(y->dtype));
	ACCEL_TRY(qparams_init(ctx, x, scale, &q));
	qrows_try(ctx, x, scale, zp, y, &q, true, &done);
	if (done)
		return NULL;
	quant_range(y->dtype, &lo, &hi);
	for (int64_t e = 0; e < n; e++) {
		int64_t p = qparam_index(&q, e);
		double z = zp ? (double)tensor_get_i64(zp, p) : 0, v;

		/* float32 inputs divide in float32, like the reference. */
		if (x->dtype == ACCEL_DTYPE_F32 && scale->dtype == ACCEL_DTYPE_F32)
			v = rintf(((const float *)x->data)[e] /
				  ((const float *)scale->data)[p]);
		else
			v = rint(tensor_get_f64(x, e) / tensor_get_f64(scale, p));
		v += z;
		v = v < lo ? lo : v > hi ? hi : v;
		tensor_set_i64(y, e, (int64_t)v);
	}
	return NULL;
}

RD_KERNEL(rd_dequantize)
{
	const accel_tensor *x = in[0], *scale = in[1];
	const accel_tensor *zp = n_in > 2 ? in[2] : NULL;
	int64_t n = tensor_numel(x);
	qparams q;
	bool done;

	if (!quant_type_ok(x->dtype))
		return status_unsupported("DequantizeLinear from %s",
					  accel_dtype_name(x->dtype));
	ACCEL_TRY(qparams_init(ctx, x, scale, &q));
	qrows_try(ctx, x, scale, zp, out[0], &q, false, &done);
	if (done)
		return NULL;
	for (int64_t e = 0; e < n; e++) {
		int64_t p = qparam_index(&q, e);
		int64_t z = zp ? tensor_get_i64(zp, p) : 0;

		if (out[0]->dtype == ACCEL_DTYPE_F32)
			((float *)out[0]->data)[e] =
				(float)(tensor_get_i64(x, e) - z) *
				(float)tensor_get_f64(scale, p);
		else
			tensor_set_f64(out[0], e, (double)(tensor_get_i64(x, e) - z) *
				       tensor_get_f64(scale, p));
	}
	return NULL;
}

RD_KERNEL(rd_dynquant)
{
	const accel_tensor *x = in[0];
	int64_t n = tensor_numel(x);
	float mn = 0, mx = 0, scale, zpf;
	uint8_t zp, *y = out[0]->data;

	if (x->dtype != ACCEL_DTYPE_F32)
		return status_unsupported("DynamicQuantizeLinear of %s",
					  accel_dtype_name(x->dtype));
	for (int64_t e = 0; e < n; e++) {
		float v = ((const float *)x->data)[e];

		mn = v < mn ? v : mn;
		mx = v > mx ? v : mx;
	}
	scale = (mx - mn) / 255.0f;
	zpf = scale ? rintf(0 - mn / scale) : 0;
	zp = (uint8_t)(zpf < 0 ? 0 : zpf > 255 ? 255 : zpf);
	for (int64_t e = 0; e < n; e++) {
		float v = scale ? rintf(((const float *)x->data)[e] / scale) + zp : zp;

		y[e] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
	}
	*(float *)out[1]->data = scale;
	*(uint8_t *)out[2]->data = zp;
	return NULL;
}

/* ---- MatMulInteger ---- */

/* |t| minus its zero point as int32; per-row (A) or per-column (B) zps. */
static accel_status to_i32(const accel_tensor *t, const accel_tensor *zp,
			   bool per_col, int32_t **out)
{
	int64_t n = tensor_numel(t), zn = zp ? tensor_numel(zp) : 0;
	int64_t rows = t->rank > 1 ? t->dims[t->rank - 2] : 1;
	int64_t cols = t->dims[t->rank - 1];
	int32_t *p = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));

	if (!p)
		return status_oom("MatMulInteger operand");
	if (zn > 1 && zn != (per_col ? cols : rows)) {
		free(p);
		return status_invalid("zero point has %lld elements, expected 1 or %lld",
				      (long long)zn, (long long)(per_col ? cols : rows));
	}
	for (int64_t e = 0; e < n; e++) {
		int64_t zi = zn <= 1 ? 0 : per_col ? e % cols : (e / cols) % rows;

		p[e] = (int32_t)(tensor_get_i64(t, e) - (zn ? tensor_get_i64(zp, zi) : 0));
	}
	*out = p;
	return NULL;
}

typedef struct mmi_job {
	const int32_t *a, *b;
	int32_t *y;
	int64_t m, k, n;
	int brank;
	int64_t bdims[ACCEL_MAX_RANK], astr[ACCEL_MAX_RANK], bstr[ACCEL_MAX_RANK];
} mmi_job;

static void mmi_chunk(void *arg, int64_t begin, int64_t end)
{
	const mmi_job *j = arg;

	for (int64_t w = begin; w < end; w++) {
		int64_t bi = w / j->m, r = w % j->m, rem = bi, ao = 0, bo = 0;
		int32_t *y = j->y + w * j->n;

		for (int d = j->brank - 1; d >= 0; d--) {
			int64_t c = rem % j->bdims[d];

			rem /= j->bdims[d];
			ao += c * j->astr[d];
			bo += c * j->bstr[d];
		}
		const int32_t *a = j->a + ao * j->m * j->k + r * j->k;
		const int32_t *b = j->b + bo * j->k * j->n;

		for (int64_t c = 0; c < j->n; c++)
			y[c] = 0;
		for (int64_t kk = 0; kk < j->k; kk++)
			for (int64_t c = 0; c < j->n; c++)
				y[c] += a[kk] * b[kk * j->n + c];
	}
}

/* Batch strides (in matrices) of |t| against the output's batch dims. */
static void batch_strides(const accel_tensor *t, int brank, const int64_t *bdims,
			  int64_t *str)
{
	int tb = t->rank > 2 ? t->rank - 2 : 0;
	int64_t s = 1;

	for (int d = brank - 1; d >= 0; d--) {
		int td = d - (brank - tb);
		int64_t dim = td >= 0 ? t->dims[td] : 1;

		str[d] = dim == 1 ? 0 : s;
		s *= dim;
		(void)bdims;
	}
}

RD_KERNEL(rd_matmulint)
{
	const accel_tensor *a = in[0], *b = in[1];
	mmi_job j = { 0 };
	int32_t *ai = NULL, *bi = NULL;
	int64_t batch = 1;
	accel_status st;

	if ((a->dtype != ACCEL_DTYPE_U8 && a->dtype != ACCEL_DTYPE_I8) ||
	    (b->dtype != ACCEL_DTYPE_U8 && b->dtype != ACCEL_DTYPE_I8))
		return status_unsupported("MatMulInteger of %s x %s",
					  accel_dtype_name(a->dtype),
					  accel_dtype_name(b->dtype));
	j.m = a->rank > 1 ? a->dims[a->rank - 2] : 1;
	j.k = a->dims[a->rank - 1];
	j.n = b->rank > 1 ? b->dims[b->rank - 1] : 1;
	j.brank = out[0]->rank - (a->rank > 1) - (b->rank > 1);
	for (int d = 0; d < j.brank; d++) {
		j.bdims[d] = out[0]->dims[d];
		batch *= j.bdims[d];
	}
	batch_strides(a, j.brank, j.bdims, j.astr);
	batch_strides(b, j.brank, j.bdims, j.bstr);
	st = to_i32(a, n_in > 2 ? in[2] : NULL, false, &ai);
	if (!st)
		st = to_i32(b, n_in > 3 ? in[3] : NULL, b->rank > 1, &bi);
	if (!st) {
		j.a = ai;
		j.b = bi;
		j.y = out[0]->data;
		parallel_for(ctx->pool, batch * j.m, 1 + 65536 / (j.k * j.n + 1),
			     mmi_chunk, &j);
	}
	free(ai);
	free(bi);
	return st;
}
