/* SPDX-License-Identifier: MIT */
/*
 * fused.c - schemas of the internal "com.accel" operators that graph passes
 * emit: FusedConv, FusedGemm, FusedMatMul, FusedAttention.
 *
 * The first three infer shapes exactly like their base op (the base schema
 * is looked up and called, so the two can never disagree) and then check
 * the extra inputs: Z (residual, shape of Y) and the MatMul bias (length N).
 * FusedAttention has no base op; its contract is written above its schema.
 */
#include "ops/op.h"

#include <string.h>

static accel_status base_infer(const op_ctx *ctx, const char *base,
			       accel_tensor *const *in, int n_in,
			       accel_tensor *const *out, int n_out)
{
	const op_schema *s = op_schema_find("", base);

	if (!s)
		return status_unsupported("base operator %s has no schema", base);
	return s->infer(ctx, in, n_in, out, n_out);
}

static accel_status check_activation(const op_ctx *ctx)
{
	static const char *const known[] = {
		"Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish",
		"LeakyRelu", "Silu", "Gelu",
	};
	const char *act = ir_attr_string(ctx->node, "activation", NULL);

	if (!act)
		return NULL;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(act, known[i]))
			return NULL;
	return status_unsupported("activation '%s' is not supported", act);
}

/* FusedConv(X, W, B?, Z?): Z, when present, must have Y's shape. */
static accel_status infer_fused_conv(const op_ctx *ctx, accel_tensor *const *in,
				     int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *z = n_in > 3 ? in[3] : NULL;
	accel_tensor *y = out[0];

	ACCEL_TRY(check_activation(ctx));
	ACCEL_TRY(base_infer(ctx, "Conv", in, n_in > 3 ? 3 : n_in, out, n_out));
	if (!z || z->rank < 0 || y->rank < 0)
		return NULL;
	if (z->rank != y->rank)
		return status_invalid("input 'Z' has rank %d, output rank %d",
				      z->rank, y->rank);
	for (int d = 0; d < y->rank; d++)
		if (z->dims[d] >= 0 && y->dims[d] >= 0 && z->dims[d] != y->dims[d])
			return status_invalid("input 'Z' dim %d is %lld, output dim is %lld",
					      d, (long long)z->dims[d],
					      (long long)y->dims[d]);
	return NULL;
}

static accel_status infer_fused_gemm(const op_ctx *ctx, accel_tensor *const *in,
				     int n_in, accel_tensor *const *out, int n_out)
{
	ACCEL_TRY(check_activation(ctx));
	return base_infer(ctx, "Gemm", in, n_in, out, n_out);
}

/* FusedMatMul(A, B, bias?): bias is a vector of B's last dimension. */
static accel_status infer_fused_matmul(const op_ctx *ctx,
				       accel_tensor *const *in, int n_in,
				       accel_tensor *const *out, int n_out)
{
	const accel_tensor *bias = n_in > 2 ? in[2] : NULL;
	const accel_tensor *b = in[1];

	ACCEL_TRY(check_activation(ctx));
	ACCEL_TRY(base_infer(ctx, "MatMul", in, 2, out, n_out));
	if (!bias || bias->rank < 0)
		return NULL;
	if (bias->rank != 1)
		return status_invalid("input 'bias' has rank %d, expected 1",
				      bias->rank);
	if (b->rank >= 2 && b->dims[b->rank - 1] >= 0 && bias->dims[0] >= 0 &&
	    bias->dims[0] != b->dims[b->rank - 1])
		return status_invalid("input 'bias' has %lld elements, expected %lld",
				      (long long)bias->dims[0],
				      (long long)b->dims[b->rank - 1]);
	return NULL;
}

/*
 * FusedAttention(Q, K, V, mask?) - scaled dot-product attention, what
 * passes/fuse_attention.c makes of MatMul -> scale -> [Add mask] ->
 * Softmax(-1) -> MatMul, with the Transposes around it absorbed:
 *
 *   q = Transpose(Q, perm_q)   [..., Sq, D]
 *   k = Transpose(K, perm_k)   [..., D, Sk]   (the first MatMul's B)
 *   v = Transpose(V, perm_v)   [..., Sk, Dv]
 *   Y = Transpose(softmax(scale * q @ k + mask) @ v, perm_out)
 *
 * An absent perm_* is the identity. q, k and v have one rank (>= 2) and
 * equal batch dims (no broadcasting); the float32 mask broadcasts
 * numpy-style to [..., Sq, Sk]. Attribute "scale" defaults to 1.
 */
static accel_status attn_perm(const op_ctx *ctx, const char *name, int rank,
			      int64_t *perm)
{
	size_t n;
	const int64_t *p = ir_attr_ints(ctx->node, name, &n);
	bool seen[ACCEL_MAX_RANK] = { false };

	for (int i = 0; i < rank; i++)
		perm[i] = i;
	if (!p)
		return NULL;
	if (n != (size_t)rank)
		return status_invalid("attribute '%s' has %zu values, rank is %d",
				      name, n, rank);
	for (int i = 0; i < rank; i++) {
		if (p[i] < 0 || p[i] >= rank || seen[p[i]])
			return status_invalid("attribute '%s' is not a permutation of %d axes",
					      name, rank);
		seen[p[i]] = true;
		perm[i] = p[i];
	}
	return NULL;
}

/* The dims of Transpose(|t|, attribute |name|) in |dims|. */
static accel_status attn_view(const op_ctx *ctx, const accel_tensor *t,
			      const char *what, const char *perm_name,
			      int64_t *dims)
{
	int64_t perm[ACCEL_MAX_RANK];

	if (t->dtype != ACCEL_DTYPE_F32)
		return status_unsupported("input '%s' of type %s (float32 only)",
					  what, accel_dtype_name(t->dtype));
	if (t->rank < 2)
		return status_invalid("input '%s' has rank %d, expected at least 2",
				      what, t->rank);
	ACCEL_TRY(attn_perm(ctx, perm_name, t->rank, perm));
	for (int i = 0; i < t->rank; i++)
		dims[i] = t->dims[perm[i]];
	return NULL;
}

static bool dim_differs(int64_t a, int64_t b)
{
	return a >= 0 && b >= 0 && a != b;
}

static accel_status infer_fused_attention(const op_ctx *ctx,
					  accel_tensor *const *in, int n_in,
					  accel_tensor *const *out, int n_out)
{
	const accel_tensor *mask = n_in > 3 ? in[3] : NULL;
	int64_t q[ACCEL_MAX_RANK], k[ACCEL_MAX_RANK], v[ACCEL_MAX_RANK];
	int64_t y[ACCEL_MAX_RANK], perm[ACCEL_MAX_RANK];
	int r = in[0]->rank;

	if (r < 0 || in[1]->rank < 0 || in[2]->rank < 0) {
		out[0]->dtype = ACCEL_DTYPE_F32;
		out[0]->rank = -1;
		return NULL;
	}
	if (in[1]->rank != r || in[2]->rank != r)
		return status_invalid("inputs 'Q', 'K', 'V' have ranks %d, %d, %d (one rank expected)",
				      r, in[1]->rank, in[2]->rank);
	ACCEL_TRY(attn_view(ctx, in[0], "Q", "perm_q", q));
	ACCEL_TRY(attn_view(ctx, in[1], "K", "perm_k", k));
	ACCEL_TRY(attn_view(ctx, in[2], "V", "perm_v", v));
	for (int i = 0; i < r - 2; i++)
		if (dim_differs(q[i], k[i]) || dim_differs(q[i], v[i]))
			return status_invalid("batch dim %d differs between 'Q' (%lld), 'K' (%lld) and 'V' (%lld)",
					      i, (long long)q[i],
					      (long long)k[i], (long long)v[i]);
	if (dim_differs(q[r - 1], k[r - 2]))
		return status_invalid("'Q' has depth %lld, 'K' %lld",
				      (long long)q[r - 1], (long long)k[r - 2]);
	if (dim_differs(k[r - 1], v[r - 2]))
		return status_invalid("'K' has %lld keys, 'V' %lld",
				      (long long)k[r - 1], (long long)v[r - 2]);
	if (mask && mask->rank >= 0) {
		if (mask->dtype != ACCEL_DTYPE_F32)
			return status_unsupported("input 'mask' of type %s (float32 only)",
						  accel_dtype_name(mask->dtype));
		if (mask->rank > r)
			return status_invalid("input 'mask' has rank %d, more than %d",
					      mask->rank, r);
		for (int i = 0; i < mask->rank; i++) {
			int64_t md = mask->dims[mask->rank - 1 - i];
			int64_t sd = i == 0 ? k[r - 1] : q[r - 1 - i];

			if (md != 1 && dim_differs(md, sd))
				return status_invalid("input 'mask' dim %d is %lld, does not broadcast to %lld",
						      mask->rank - 1 - i,
						      (long long)md, (long long)sd);
		}
	}
	memcpy(y, q, sizeof(int64_t) * (size_t)(r - 1));
	y[r - 1] = v[r - 1];
	ACCEL_TRY(attn_perm(ctx, "perm_out", r, perm));
	out[0]->dtype = ACCEL_DTYPE_F32;
	out[0]->rank = r;
	for (int i = 0; i < r; i++)
		out[0]->dims[i] = y[perm[i]];
	return NULL;
}

const op_schema op_schemas_fused[] = {
	{ "FusedConv", "com.accel", 2, 4, 1, 1, infer_fused_conv },
	{ "FusedGemm", "com.accel", 2, 3, 1, 1, infer_fused_gemm },
	{ "FusedMatMul", "com.accel", 2, 3, 1, 1, infer_fused_matmul },
	{ "FusedAttention", "com.accel", 3, 4, 1, 1, infer_fused_attention },
	{ 0 },
};
