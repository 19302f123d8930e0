/* SPDX-License-Identifier: MIT */
/*
 * nn.c - CPU kernels of the nn operator family: the table, plus Gemm,
 * MatMul, Softmax/LogSoftmax/Hardmax and Dropout. Convolutions live in
 * conv.c, pooling in pool.c, normalizations in norm.c.
 */
#include "cpu/gemm.h"
#include "cpu/nn_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Gemm ---- */

/* Y = C broadcast to [m, n] (C has rank 0, 1 or 2 with dims 1 or full). */
static void gemm_fill_c(const accel_tensor *c, accel_tensor *y, int64_t m,
			int64_t n)
{
	int64_t cm = c->rank == 2 ? c->dims[0] : 1;
	int64_t cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;

	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++)
			nn_set(y, i * n + j,
			       nn_get(c, (cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)));
}

/* Any numeric type, accumulating in double: correctness, not speed. */
static void gemm_naive(bool ta, bool tb, int64_t m, int64_t n, int64_t k,
		       double alpha, const accel_tensor *a, const accel_tensor *b,
		       int64_t aoff, int64_t boff, double beta, accel_tensor *y,
		       int64_t yoff)
{
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			double s = 0;

			for (int64_t p = 0; p < k; p++)
				s += nn_get(a, aoff + (ta ? p * m + i : i * k + p)) *
				     nn_get(b, boff + (tb ? j * k + p : p * n + j));
			s *= alpha;
			if (beta != 0)
				s += beta * nn_get(y, yoff + i * n + j);
			nn_set(y, yoff + i * n + j, s);
		}
}

/*
 * Y = alpha * A * B^T + beta * Y with few rows in A (a Linear layer on a
 * few tokens): computed as (B * A^T)^T so the big weight matrix B is read
 * in place and only the small A gets transposed, not B on every run.
 */
static accel_status gemm_small_m_tb(const cpu_ctx *ctx, int64_t m, int64_t n,
				    int64_t k, float alpha, const float *a,
				    const float *b, float beta, float *y)
{
	float *t = malloc(sizeof(float) * (size_t)(m * n));
	accel_status st;

	if (!t)
		return status_oom("a Gemm buffer");
	st = sgemm(ctx->pool, false, true, n, m, k, alpha, b, k, a, k, 0.0f, t,
		   m);
	if (!st)
		for (int64_t i = 0; i < m; i++)
			for (int64_t j = 0; j < n; j++)
				y[i * n + j] = t[j * m + i] +
					       (beta != 0.0f ? beta * y[i * n + j] : 0.0f);
	free(t);
	return st;
}

/* ---- weights packed once per session (the kernels' prepare hook) ---- */

void nn_packed_release(void *state)
{
	nn_packed_b *pb = state;

	if (pb)
		free(pb->bp);
	free(pb);
}

/*
 * Pack a constant float32 2-D B (k x n, or n x k when trans_b) in SGEMM's
 * layout, so runs skip packing it. Anything else: no state, exec packs.
 */
accel_status nn_packed_prepare(const accel_tensor *b, bool trans_b,
			       nn_packed_b **out_pb)
{
	nn_packed_b *pb;

	*out_pb = NULL;
	if (!b || b->dtype != ACCEL_DTYPE_F32 || b->rank != 2 ||
	    tensor_numel(b) == 0)
		return NULL;
	pb = calloc(1, sizeof(*pb));
	if (!pb)
		return status_oom("packed weights");
	pb->k = b->dims[trans_b ? 1 : 0];
	pb->n = b->dims[trans_b ? 0 : 1];
	pb->bp = aligned_alloc(64, sizeof(float) *
				   (size_t)sgemm_packed_b_floats(pb->n, pb->k));
	if (!pb->bp) {
		free(pb);
		return status_oom("packed weights");
	}
	sgemm_pack_b(NULL, trans_b, pb->n, pb->k, b->data, b->dims[1], pb->bp);
	*out_pb = pb;
	return NULL;
}

static accel_status cpu_gemm_prepare(const cpu_ctx *ctx,
				     accel_tensor *const *const_in, int n_in,
				     void **out_state)
{
	nn_packed_b *pb;

	ACCEL_TRY(nn_packed_prepare(const_in[1],
				    ir_attr_int(ctx->node, "transB", 0), &pb));
	*out_state = pb;
	return NULL;
}

accel_status nn_gemm_run(const cpu_ctx *ctx, accel_tensor *const *in, int n_in,
			 accel_tensor *const *out, const sgemm_epilogue *epi)
{
	const accel_tensor *a = in[0], *b = in[1];
	const accel_tensor *c = n_in > 2 ? in[2] : NULL;
	const nn_packed_b *pb = ctx->state;
	bool ta = ir_attr_int(ctx->node, "transA", 0);
	bool tb = ir_attr_int(ctx->node, "transB", 0);
	float alpha = ir_attr_float(ctx->node, "alpha", 1.0f);
	float beta = ir_attr_float(ctx->node, "beta", 1.0f);
	int64_t m = out[0]->dims[0], n = out[0]->dims[1];
	int64_t k = a->dims[ta ? 0 : 1];
	float *y = out[0]->data;
	bool f32 = a->dtype == ACCEL_DTYPE_F32 && b->dtype == ACCEL_DTYPE_F32 &&
		   (!c || c->dtype == ACCEL_DTYPE_F32);
	accel_status st;

	if (!c || beta == 0.0f)
		beta = 0.0f;
	else
		gemm_fill_c(c, out[0], m, n);
	if (!f32) {
		if (!dtype_is_float(a->dtype) && !dtype_is_int(a->dtype))
			return status_unsupported("input 'A' of type %s",
						  accel_dtype_name(a->dtype));
		if (epi)
			return status_unsupported("a fused activation on %s",
						  accel_dtype_name(a->dtype));
		gemm_naive(ta, tb, m, n, k, alpha, a, b, 0, 0, beta, out[0], 0);
		return NULL;
	}
	if (pb && pb->n == n && pb->k == k)
		return sgemm_packed_b(ctx->pool, ta, m, n, k, alpha, a->data,
				      a->dims[1], pb->bp, beta, y, n, epi);
	if (tb && !ta && m <= 64 && n >= 4 * m) {
		st = gemm_small_m_tb(ctx, m, n, k, alpha, a->data, b->data, beta, y);
		if (!st && epi)
			sgemm_epilogue_apply(epi, y, n, m, n, 0, 0);
		return st;
	}
	return sgemm_epi(ctx->pool, ta, tb, m, n, k, alpha, a->data, a->dims[1],
			 b->data, b->dims[1], beta, y, n, epi);
}

static accel_status cpu_gemm(const cpu_ctx *ctx, accel_tensor *const *in,
			     int n_in, accel_tensor *const *out, int n_out)
{
	return nn_gemm_run(ctx, in, n_in, out, NULL);
}

/* ---- MatMul ---- */

typedef struct matmul_job {
	const accel_tensor *a, *b;
	accel_tensor *y;
	int64_t m, n, k;
	int brank; /* batch dims of y */
	int64_t bdims[ACCEL_MAX_RANK], astr[ACCEL_MAX_RANK], bstr[ACCEL_MAX_RANK];
	const sgemm_epilogue *epi;
	accel_status st;
} matmul_job;

/* Element offsets of batch |t|'s A and B matrices. */
static void matmul_offsets(const matmul_job *j, int64_t t, int64_t *ao,
			   int64_t *bo)
{
	int64_t rem = t;

	*ao = *bo = 0;
	for (int d = j->brank - 1; d >= 0; d--) {
		int64_t pos = rem % j->bdims[d];

		rem /= j->bdims[d];
		*ao += pos * j->astr[d];
		*bo += pos * j->bstr[d];
	}
}

static void matmul_batches(void *arg, int64_t begin, int64_t end)
{
	matmul_job *j = arg;

	for (int64_t t = begin; t < end; t++) {
		int64_t ao, bo, yo = t * j->m * j->n;

		matmul_offsets(j, t, &ao, &bo);
		if (j->a->dtype != ACCEL_DTYPE_F32) {
			gemm_naive(false, false, j->m, j->n, j->k, 1.0, j->a, j->b,
				   ao, bo, 0.0, j->y, yo);
			continue;
		}
		/* Serial: this already runs inside parallel_for. */
		if (!j->st)
			j->st = sgemm_epi(NULL, false, false, j->m, j->n, j->k,
					  1.0f, (const float *)j->a->data + ao,
					  j->k, (const float *)j->b->data + bo,
					  j->n, 0.0f, (float *)j->y->data + yo,
					  j->n, j->epi);
	}
}

/* Batch strides of |t|'s matrices against the broadcast batch shape. */
static void matmul_strides(const accel_tensor *t, int mat_rank, int64_t mat_size,
			   const matmul_job *j, int64_t *str)
{
	int tb = t->rank - mat_rank;
	int64_t s = mat_size;

	for (int d = j->brank - 1; d >= 0; d--) {
		int td = d - (j->brank - tb);

		if (td < 0 || t->dims[td] == 1) {
			str[d] = 0;
		} else {
			str[d] = s;
		}
		if (td >= 0)
			s *= t->dims[td];
	}
}

static accel_status cpu_matmul_prepare(const cpu_ctx *ctx,
				       accel_tensor *const *const_in, int n_in,
				       void **out_state)
{
	nn_packed_b *pb;

	ACCEL_TRY(nn_packed_prepare(const_in[1], false, &pb));
	*out_state = pb;
	return NULL;
}

accel_status nn_matmul_run(const cpu_ctx *ctx, accel_tensor *const *in,
			   accel_tensor *const *out, const sgemm_epilogue *epi)
{
	const accel_tensor *a = in[0], *b = in[1];
	const nn_packed_b *pb = ctx->state;
	int64_t batches = 1;
	matmul_job j;

	if (a->dtype != b->dtype)
		return status_invalid("inputs 'A' (%s) and 'B' (%s) differ in type",
				      accel_dtype_name(a->dtype),
				      accel_dtype_name(b->dtype));
	if (!dtype_is_float(a->dtype) && !dtype_is_int(a->dtype))
		return status_unsupported("input 'A' of type %s",
					  accel_dtype_name(a->dtype));
	if (epi && a->dtype != ACCEL_DTYPE_F32)
		return status_unsupported("a fused bias or activation on %s",
					  accel_dtype_name(a->dtype));
	memset(&j, 0, sizeof(j));
	j.a = a;
	j.b = b;
	j.y = out[0];
	j.epi = epi;
	j.k = a->dims[a->rank - 1];
	j.m = a->rank >= 2 ? a->dims[a->rank - 2] : 1;
	j.n = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
	j.brank = out[0]->rank - (a->rank >= 2) - (b->rank >= 2);
	for (int d = 0; d < j.brank; d++) {
		j.bdims[d] = out[0]->dims[d];
		batches *= j.bdims[d];
	}
	if (tensor_numel(out[0]) == 0)
		return NULL;
	if (j.k == 0) {
		memset(out[0]->data, 0, out[0]->nbytes);
		if (epi)
			sgemm_epilogue_apply(epi, out[0]->data, j.n,
					     tensor_numel(out[0]) / j.n, j.n, 0, 0);
		return NULL;
	}
	/* B shared by every batch and A contiguous: one tall GEMM. */
	if (pb && b->rank == 2 && pb->k == j.k && pb->n == j.n &&
	    a->dtype == ACCEL_DTYPE_F32)
		return sgemm_packed_b(ctx->pool, false, batches * j.m, j.n, j.k,
				      1.0f, a->data, j.k, pb->bp, 0.0f,
				      out[0]->data, j.n, epi);
	if (b->rank <= 2 && a->dtype == ACCEL_DTYPE_F32)
		return sgemm_epi(ctx->pool, false, false, batches * j.m, j.n, j.k,
				 1.0f, a->data, j.k, b->data, j.n, 0.0f,
				 out[0]->data, j.n, epi);
	matmul_strides(a, a->rank >= 2 ? 2 : 1, j.m * j.k, &j, j.astr);
	matmul_strides(b, b->rank >= 2 ? 2 : 1, j.k * j.n, &j, j.bstr);
	if (batches == 1 && a->dtype == ACCEL_DTYPE_F32) {
		int64_t ao, bo;

		matmul_offsets(&j, 0, &ao, &bo);
		return sgemm_epi(ctx->pool, false, false, j.m, j.n, j.k, 1.0f,
				 (const float *)a->data + ao, j.k,
				 (const float *)b->data + bo, j.n, 0.0f,
				 out[0]->data, j.n, epi);
	}
	parallel_for(ctx->pool, batches, nn_grain(j.m * j.n * j.k / 4),
		     matmul_batches, &j);
	return j.st;
}

static accel_status cpu_matmul(const cpu_ctx *ctx, accel_tensor *const *in,
			       int n_in, accel_tensor *const *out, int n_out)
{
	return nn_matmul_run(ctx, in, out, NULL);
}

/* ---- Softmax, LogSoftmax, Hardmax ---- */

enum smax_kind { SMAX_SOFT, SMAX_LOG, SMAX_HARD };

typedef struct smax_job {
	const accel_tensor *x;
	accel_tensor *y;
	int64_t len, inner;
	enum smax_kind kind;
} smax_job;

/*
 * y = exp(x - mx) / sum, 16 lanes at a time with cpu/act.h's polynomial
 * exp (relative error ~1e-7): scalar expf dominated attention's softmax.
 */
static void smax_exp_f32(const float *x, float *y, int64_t n, float mx)
{
	act_v16 acc = { 0 }, v;
	int64_t i = 0;
	float sum = 0.0f, lanes[16], inv;

	for (; i + 16 <= n; i += 16) {
		memcpy(&v, x + i, sizeof(v));
		v = act_exp(v - mx);
		acc += v;
		memcpy(y + i, &v, sizeof(v));
	}
	for (; i < n; i++) {
		y[i] = expf(x[i] - mx);
		sum += y[i];
	}
	memcpy(lanes, &acc, sizeof(lanes));
	for (int l = 0; l < 16; l++)
		sum += lanes[l];
	inv = 1.0f / sum;
	for (i = 0; i < n; i++)
		y[i] *= inv;
}

static float row_max(const float *x, int64_t n)
{
	act_v16 mv, v;
	float mx = x[0], lanes[16];
	int64_t i = 0;

	if (n >= 16) {
		memcpy(&mv, x, sizeof(mv));
		for (i = 16; i + 16 <= n; i += 16) {
			memcpy(&v, x + i, sizeof(v));
			mv = act_max(mv, v);
		}
		memcpy(lanes, &mv, sizeof(lanes));
		for (int l = 0; l < 16; l++)
			mx = lanes[l] > mx ? lanes[l] : mx;
	}
	for (; i < n; i++)
		mx = x[i] > mx ? x[i] : mx;
	return mx;
}

static void smax_row_f32(const smax_job *j, const float *x, float *y)
{
	float mx = x[0], sum = 0.0f;
	int64_t arg = 0;

	if (j->kind == SMAX_SOFT) {
		smax_exp_f32(x, y, j->len, row_max(x, j->len));
		return;
	}
	for (int64_t i = 1; i < j->len; i++)
		if (x[i] > mx) {
			mx = x[i];
			arg = i;
		}
	if (j->kind == SMAX_HARD) {
		for (int64_t i = 0; i < j->len; i++)
			y[i] = i == arg ? 1.0f : 0.0f;
		return;
	}
	for (int64_t i = 0; i < j->len; i++) {
		y[i] = expf(x[i] - mx);
		sum += y[i];
	}
	if (j->kind == SMAX_LOG) {
		float ls = logf(sum);

		for (int64_t i = 0; i < j->len; i++)
			y[i] = x[i] - mx - ls;
	} else {
		float inv = 1.0f / sum;

		for (int64_t i = 0; i < j->len; i++)
			y[i] *= inv;
	}
}

static void smax_row_any(const smax_job *j, int64_t base)
{
	double mx = -INFINITY, sum = 0;
	int64_t arg = -1;

	for (int64_t i = 0; i < j->len; i++) {
		double v = nn_get(j->x, base + i * j->inner);

		if (arg < 0 || v > mx) {
			mx = v;
			arg = i;
		}
	}
	for (int64_t i = 0; i < j->len; i++)
		sum += exp(nn_get(j->x, base + i * j->inner) - mx);
	for (int64_t i = 0; i < j->len; i++) {
		double v = nn_get(j->x, base + i * j->inner), r;

		if (j->kind == SMAX_HARD)
			r = i == arg;
		else if (j->kind == SMAX_LOG)
			r = v - mx - log(sum);
		else
			r = exp(v - mx) / sum;
		nn_set(j->y, base + i * j->inner, r);
	}
}

static void smax_rows(void *arg, int64_t begin, int64_t end)
{
	const smax_job *j = arg;

	for (int64_t r = begin; r < end; r++) {
		int64_t o = r / j->inner, in_ = r % j->inner;
		int64_t base = o * j->len * j->inner + in_;

		if (j->inner == 1 && j->x->dtype == ACCEL_DTYPE_F32)
			smax_row_f32(j, (const float *)j->x->data + base,
				     (float *)j->y->data + base);
		else
			smax_row_any(j, base);
	}
}

static accel_status smax_common(const cpu_ctx *ctx, accel_tensor *const *in,
				accel_tensor *const *out, enum smax_kind kind)
{
	const accel_tensor *x = in[0];
	bool coerce = ctx->node->opset < 13;
	int64_t outer = 1;
	smax_job j = { x, out[0], 1, 1, kind };
	int axis;

	if (!dtype_is_float(x->dtype))
		return status_unsupported("input 'input' of type %s",
					  accel_dtype_name(x->dtype));
	if (x->rank == 0) {
		nn_set(out[0], 0, kind == SMAX_LOG ? 0.0 : 1.0);
		return NULL;
	}
	ACCEL_TRY(op_axis(NULL, ir_attr_int(ctx->node, "axis", coerce ? 1 : -1),
			  x->rank, &axis));
	/* Before opset 13 the input is flattened to 2-D at |axis|. */
	for (int i = 0; i < x->rank; i++) {
		if (i < axis)
			outer *= x->dims[i];
		else if (i == axis || coerce)
			j.len *= x->dims[i];
		else
			j.inner *= x->dims[i];
	}
	if (j.len == 0 || outer == 0 || j.inner == 0)
		return NULL;
	parallel_for(ctx->pool, outer * j.inner, nn_grain(8 * j.len), smax_rows,
		     &j);
	return NULL;
}

static accel_status cpu_softmax(const cpu_ctx *ctx, accel_tensor *const *in,
				int n_in, accel_tensor *const *out, int n_out)
{
	return smax_common(ctx, in, out, SMAX_SOFT);
}

static accel_status cpu_logsoftmax(const cpu_ctx *ctx, accel_tensor *const *in,
				   int n_in, accel_tensor *const *out, int n_out)
{
	return smax_common(ctx, in, out, SMAX_LOG);
}

static accel_status cpu_hardmax(const cpu_ctx *ctx, accel_tensor *const *in,
				int n_in, accel_tensor *const *out, int n_out)
{
	return smax_common(ctx, in, out, SMAX_HARD);
}

/* ---- Dropout: inference is the identity ---- */

static accel_status cpu_dropout(const cpu_ctx *ctx, accel_tensor *const *in,
				int n_in, accel_tensor *const *out, int n_out)
{
	bool training = n_in > 2 && in[2] && tensor_numel(in[2]) > 0 &&
			tensor_get_i64(in[2], 0) != 0;
	double ratio = n_in > 1 && in[1] && tensor_numel(in[1]) > 0 ?
			       tensor_get_f64(in[1], 0) :
			       ir_attr_float(ctx->node, "ratio", 0.5f);

	if (ctx->node->opset < 7 && !ir_attr_int(ctx->node, "is_test", 0))
		training = true;
	if (training && ratio != 0.0)
		return status_unsupported("training-mode dropout with ratio %g (random masks are not implemented)",
					  ratio);
	if (out[0]->data != in[0]->data)
		memcpy(out[0]->data, in[0]->data, in[0]->nbytes);
	if (n_out > 1 && out[1]) {
		int64_t n = tensor_numel(out[1]);

		for (int64_t i = 0; i < n; i++)
			tensor_set_f64(out[1], i, 1.0);
	}
	return NULL;
}

const cpu_kernel cpu_kernels_nn[] = {
	{ "Conv", "", cpu_conv, conv_dnnl_prepare, conv_dnnl_release },
	{ "ConvTranspose", "", cpu_conv_transpose },
	{ "ConvInteger", "", cpu_conv_integer },
	{ "QLinearConv", "", cpu_qlinear_conv },
	{ "Gemm", "", cpu_gemm, cpu_gemm_prepare, nn_packed_release },
	{ "MatMul", "", cpu_matmul, cpu_matmul_prepare, nn_packed_release },
	{ "BatchNormalization", "", cpu_batchnorm },
	{ "InstanceNormalization", "", cpu_instancenorm },
	{ "LayerNormalization", "", cpu_layernorm },
	{ "RMSNormalization", "", cpu_rmsnorm },
	{ "GroupNormalization", "", cpu_groupnorm },
	{ "LRN", "", cpu_lrn },
	{ "MeanVarianceNormalization", "", cpu_mvn },
	{ "LpNormalization", "", cpu_lpnorm },
	{ "MaxPool", "", cpu_maxpool },
	{ "AveragePool", "", cpu_averagepool },
	{ "LpPool", "", cpu_lppool },
	{ "MaxUnpool", "", cpu_maxunpool },
	{ "GlobalAveragePool", "", cpu_global_averagepool },
	{ "GlobalMaxPool", "", cpu_global_maxpool },
	{ "GlobalLpPool", "", cpu_global_lppool },
	{ "Softmax", "", cpu_softmax },
	{ "LogSoftmax", "", cpu_logsoftmax },
	{ "Hardmax", "", cpu_hardmax },
	{ "Dropout", "", cpu_dropout },
	{ 0 },
};
