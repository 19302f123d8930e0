/* SPDX-License-Identifier: MIT */
/*
 * fused.c - schemas of the internal "com.accel" operators that graph passes
 * emit: FusedConv, FusedGemm, FusedMatMul.
 *
 * Each one infers shapes exactly like its base op (the base schema is looked
 * up and called, so the two can never disagree) and then checks the extra
 * inputs: Z (residual, shape of Y) and the MatMul bias (length N).
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

const op_schema op_schemas_fused[] = {
	{ "FusedConv", "com.accel", 2, 4, 1, 1, infer_fused_conv },
	{ "FusedGemm", "com.accel", 2, 3, 1, 1, infer_fused_gemm },
	{ "FusedMatMul", "com.accel", 2, 3, 1, 1, infer_fused_matmul },
	{ 0 },
};
