/* SPDX-License-Identifier: MIT */
/*
 * reduce_quant.c - CPU kernels of QuantizeLinear, DequantizeLinear,
 * DynamicQuantizeLinear and MatMulInteger (8- and 16-bit integer types;
 * float8 and 4-bit types are reported as unsupported).
 */
#include "cpu/gemm_s8.h"
#include "cpu/reduce.h"

#include <math.h>
#include <stdatomic.h>
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

/*
 * ---- MatMulInteger ----
 * Per batch matrix through the int8 GEMM (gemm_s8.h): exact int32 sums of
 * (A - a_zero_point)(B - b_zero_point), A's zero point per tensor or per
 * row, B's per tensor or per column. B's matrices are packed once per
 * session when B is constant (prepare), else once per run.
 */
typedef struct mmi_packed {
	int64_t nmat; /* B's matrices, packed */
	s8gemm_packed *bp[];
} mmi_packed;

static void mmi_packed_free(mmi_packed *mp)
{
	if (!mp)
		return;
	for (int64_t i = 0; i < mp->nmat; i++)
		s8gemm_packed_free(mp->bp[i]);
	free(mp);
}

void rd_matmulint_release(void *state)
{
	mmi_packed_free(state);
}

static bool mmi_type_ok(const accel_tensor *t)
{
	return t->dtype == ACCEL_DTYPE_U8 || t->dtype == ACCEL_DTYPE_I8;
}

/* B as k x n matrices: a 1-D B is one k x 1 column. */
static void mmi_b_dims(const accel_tensor *b, int64_t *k, int64_t *n)
{
	*k = b->rank > 1 ? b->dims[b->rank - 2] : b->dims[0];
	*n = b->rank > 1 ? b->dims[b->rank - 1] : 1;
}

static accel_status mmi_pack(threadpool *pool, const accel_tensor *b,
			     mmi_packed **out_mp)
{
	int64_t k, n, numel = tensor_numel(b), nmat;
	mmi_packed *mp;
	accel_status st = NULL;

	*out_mp = NULL;
	mmi_b_dims(b, &k, &n);
	nmat = k > 0 && n > 0 ? numel / (k * n) : 0;
	mp = calloc(1, sizeof(*mp) + sizeof(mp->bp[0]) * (size_t)nmat);
	if (!mp)
		return status_oom("MatMulInteger packed B");
	for (int64_t i = 0; i < nmat && !st; i++, mp->nmat++)
		st = s8gemm_pack_b(pool, b->dtype == ACCEL_DTYPE_I8, k, n,
				   (const uint8_t *)b->data + i * k * n, n,
				   &mp->bp[i]);
	if (st) {
		mmi_packed_free(mp);
		return st;
	}
	*out_mp = mp;
	return NULL;
}

accel_status rd_matmulint_prepare(const cpu_ctx *ctx,
				  accel_tensor *const *const_in, int n_in,
				  void **out_state)
{
	const accel_tensor *b = n_in > 1 ? const_in[1] : NULL;
	mmi_packed *mp;

	*out_state = NULL;
	if (!b || !b->data || !mmi_type_ok(b) || b->rank < 1 ||
	    tensor_numel(b) <= 0)
		return NULL;
	ACCEL_TRY(mmi_pack(NULL, b, &mp));
	*out_state = mp;
	return NULL;
}

/* A zero-point input as int32s: none, 1, or |want| values. */
static accel_status mmi_zp(const accel_tensor *zp, int64_t want,
			   const char *name, int32_t **out, int64_t *out_n)
{
	int64_t zn = zp ? tensor_numel(zp) : 0;

	*out = NULL;
	*out_n = 0;
	if (zn <= 0)
		return NULL;
	if (zn != 1 && zn != want)
		return status_invalid("input '%s' has %lld elements, expected 1 or %lld",
				      name, (long long)zn, (long long)want);
	*out = malloc(sizeof(int32_t) * (size_t)zn);
	if (!*out)
		return status_oom("MatMulInteger zero point");
	for (int64_t i = 0; i < zn; i++)
		(*out)[i] = (int32_t)tensor_get_i64(zp, i);
	*out_n = zn;
	return NULL;
}

typedef struct mmi_job {
	s8gemm_args args; /* a, c set per matrix */
	const uint8_t *a;
	const mmi_packed *mp;
	int32_t *y;
	int brank;
	int64_t bdims[ACCEL_MAX_RANK], astr[ACCEL_MAX_RANK], bstr[ACCEL_MAX_RANK];
	threadpool *pool; /* inside each GEMM; NULL when batches run in parallel */
	_Atomic(accel_status) st; /* the first failure */
} mmi_job;

static void mmi_batches(void *arg, int64_t begin, int64_t end)
{
	mmi_job *j = arg;

	for (int64_t w = begin; w < end; w++) {
		s8gemm_args args = j->args;
		int64_t rem = w, ao = 0, bo = 0;
		accel_status st;

		for (int d = j->brank - 1; d >= 0; d--) {
			int64_t c = rem % j->bdims[d];

			rem /= j->bdims[d];
			ao += c * j->astr[d];
			bo += c * j->bstr[d];
		}
		args.a = j->a + ao * args.m * args.k;
		args.c = j->y + w * args.m * args.n;
		st = s8gemm_run(j->pool, &args, j->mp->bp[bo]);
		if (st) {
			accel_status none = NULL;

			if (!atomic_compare_exchange_strong(&j->st, &none, st))
				accel_status_free(st);
		}
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
	mmi_packed *own = NULL;
	int32_t *za = NULL, *zb = NULL;
	int64_t batch = 1, kb;
	accel_status st;

	if (!mmi_type_ok(a) || !mmi_type_ok(b))
		return status_unsupported("MatMulInteger of %s x %s",
					  accel_dtype_name(a->dtype),
					  accel_dtype_name(b->dtype));
	j.args.m = a->rank > 1 ? a->dims[a->rank - 2] : 1;
	j.args.k = a->dims[a->rank - 1];
	mmi_b_dims(b, &kb, &j.args.n);
	if (kb != j.args.k)
		return status_invalid("inner dimensions of 'A' (%lld) and 'B' (%lld) differ",
				      (long long)j.args.k, (long long)kb);
	j.brank = out[0]->rank - (a->rank > 1) - (b->rank > 1);
	for (int d = 0; d < j.brank; d++) {
		j.bdims[d] = out[0]->dims[d];
		batch *= j.bdims[d];
	}
	if (tensor_numel(out[0]) == 0)
		return NULL;
	if (j.args.k == 0) { /* empty sums */
		memset(out[0]->data, 0, sizeof(int32_t) * (size_t)tensor_numel(out[0]));
		return NULL;
	}
	batch_strides(a, j.brank, j.bdims, j.astr);
	batch_strides(b, j.brank, j.bdims, j.bstr);
	j.args.lda = j.args.k;
	j.args.a_signed = a->dtype == ACCEL_DTYPE_I8;
	j.args.ldc = j.args.n;
	j.a = a->data;
	j.y = out[0]->data;
	st = mmi_zp(n_in > 2 ? in[2] : NULL, j.args.m, "a_zero_point", &za,
		    &j.args.a_zp_n);
	if (!st)
		st = mmi_zp(n_in > 3 ? in[3] : NULL, j.args.n, "b_zero_point", &zb,
			    &j.args.b_zp_n);
	j.args.a_zp = za;
	j.args.b_zp = zb;
	j.mp = ctx->state;
	if (!st && !j.mp) {
		st = mmi_pack(ctx->pool, b, &own);
		j.mp = own;
	}
	if (!st) {
		/* Big matrices: threads inside each; small ones: across them. */
		if (batch == 1 || j.args.m * j.args.n * j.args.k >= (1 << 17)) {
			j.pool = ctx->pool;
			mmi_batches(&j, 0, batch);
		} else {
			parallel_for(ctx->pool, batch,
				     1 + (1 << 17) / (j.args.m * j.args.n * j.args.k + 1),
				     mmi_batches, &j);
		}
		st = atomic_load(&j.st);
	}
	mmi_packed_free(own);
	free(za);
	free(zb);
	return st;
}

/*
 * ---- QLinearMatMul ----
 * MatMulInteger's int32 sums, then y = saturate(round(acc * a_scale[i] *
 * b_scale[j] / y_scale) + y_zero_point), rounding half to even in double
 * precision; scales and zero points per tensor, a's per row, b's per
 * column.
 */
accel_status rd_qlinearmatmul_prepare(const cpu_ctx *ctx,
				      accel_tensor *const *const_in, int n_in,
				      void **out_state)
{
	accel_tensor *mm[2] = { const_in[0], n_in > 3 ? const_in[3] : NULL };

	return rd_matmulint_prepare(ctx, mm, 2, out_state);
}

/* A float scale input: 1 value, or |want| of them. */
static accel_status qmm_scale(const accel_tensor *t, int64_t want, const char *name)
{
	int64_t n = tensor_numel(t);

	if (t->dtype != ACCEL_DTYPE_F32 && t->dtype != ACCEL_DTYPE_F16 &&
	    t->dtype != ACCEL_DTYPE_BF16)
		return status_unsupported("input '%s' of type %s (float32, float16 or bfloat16)",
					  name, accel_dtype_name(t->dtype));
	if (n != 1 && n != want)
		return status_invalid("input '%s' has %lld elements, expected 1 or %lld", name,
				      (long long)n, (long long)want);
	return NULL;
}

RD_KERNEL(rd_qlinearmatmul)
{
	accel_tensor *a = in[0], *b = in[3], *y = out[0];
	accel_tensor *mm_in[4] = { a, b, in[2], in[5] };
	accel_tensor *acc = NULL;
	double *sc = NULL, ys;
	int64_t m, n, total, asn, bsn;
	int32_t yzp, lo, hi;
	accel_status st;

	(void)n_out;
	m = a->rank > 1 ? a->dims[a->rank - 2] : 1;
	n = b->rank > 1 ? b->dims[b->rank - 1] : 1;
	ACCEL_TRY(qmm_scale(in[1], m, "a_scale"));
	ACCEL_TRY(qmm_scale(in[4], n, "b_scale"));
	ACCEL_TRY(qmm_scale(in[6], 1, "y_scale"));
	if (tensor_numel(in[7]) != 1)
		return status_invalid("input 'y_zero_point' must have one element");
	ACCEL_TRY(tensor_new_shape(ACCEL_DTYPE_I32, y->rank, y->dims, &acc));
	st = tensor_alloc_uninit(acc);
	if (!st)
		st = rd_matmulint(ctx, mm_in, 4, &acc, 1);
	if (st) {
		accel_tensor_release(acc);
		return st;
	}
	/* the combined scale of each (row, column) pair */
	asn = tensor_numel(in[1]);
	bsn = tensor_numel(in[4]);
	ys = tensor_get_f64(in[6], 0);
	sc = malloc(sizeof(*sc) * (size_t)(m * n > 0 ? m * n : 1));
	if (!sc) {
		accel_tensor_release(acc);
		return status_oom("QLinearMatMul scales");
	}
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++)
			sc[i * n + j] = tensor_get_f64(in[1], asn == 1 ? 0 : i) *
					tensor_get_f64(in[4], bsn == 1 ? 0 : j) / ys;
	yzp = (int32_t)tensor_get_i64(in[7], 0);
	lo = y->dtype == ACCEL_DTYPE_U8 ? 0 : -128;
	hi = y->dtype == ACCEL_DTYPE_U8 ? 255 : 127;
	total = tensor_numel(y);
	for (int64_t e = 0; e < total; e++) {
		double v = nearbyint((double)((const int32_t *)acc->data)[e] * sc[e % (m * n)]) +
			   yzp;
		int32_t q = v < lo ? lo : v > hi ? hi : (int32_t)v;

		if (y->dtype == ACCEL_DTYPE_U8)
			((uint8_t *)y->data)[e] = (uint8_t)q;
		else
			((int8_t *)y->data)[e] = (int8_t)q;
	}
	free(sc);
	accel_tensor_release(acc);
	return NULL;
}
