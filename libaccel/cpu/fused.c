/* SPDX-License-Identifier: MIT */
/*
 * fused.c - CPU kernels for the "com.accel" fused operators that the graph
 * passes emit (schemas in ops/fused.c):
 *
 *   FusedConv(X, W, B?, Z?)  Y = act(conv(X, W) + B + Z)
 *   FusedGemm(A, B, C?)      Y = act(alpha * A' B' + beta * C)
 *   FusedMatMul(A, B, bias?) Y = act(A @ B + bias)
 *
 * Bias, residual and activation are applied in the GEMM write-back (the
 * SGEMM epilogue, cpu/gemm.h) or, in the direct depthwise path, per output
 * plane while it is in cache: never as passes of their own. Constant
 * weights of FusedGemm/FusedMatMul are packed once per session.
 */
#include "cpu/act.h"
#include "cpu/gemm.h"
#include "cpu/nn_kernels.h"

#include <math.h>
#include <string.h>

accel_status cpu_act_from_node(const ir_node *node, cpu_act *out_act)
{
	const char *name = ir_attr_string(node, "activation", NULL);
	cpu_act a = { CPU_ACT_NONE, -INFINITY, INFINITY, 0.0f, 0.0f };

	*out_act = a;
	if (!name)
		return NULL;
	if (!strcmp(name, "Relu")) {
		a.kind = CPU_ACT_CLAMP;
		a.lo = 0.0f;
	} else if (!strcmp(name, "Clip")) {
		a.kind = CPU_ACT_CLAMP;
		a.lo = ir_attr_float(node, "activation_min", -INFINITY);
		a.hi = ir_attr_float(node, "activation_max", INFINITY);
	} else if (!strcmp(name, "Sigmoid")) {
		a.kind = CPU_ACT_SIGMOID;
	} else if (!strcmp(name, "HardSigmoid")) {
		a.kind = CPU_ACT_HARDSIGMOID;
		a.alpha = ir_attr_float(node, "activation_alpha", 0.2f);
		a.beta = ir_attr_float(node, "activation_beta", 0.5f);
	} else if (!strcmp(name, "HardSwish")) {
		a.kind = CPU_ACT_HARDSWISH;
	} else if (!strcmp(name, "LeakyRelu")) {
		a.kind = CPU_ACT_LEAKYRELU;
		a.alpha = ir_attr_float(node, "activation_alpha", 0.01f);
	} else if (!strcmp(name, "Silu")) {
		a.kind = CPU_ACT_SILU;
	} else if (!strcmp(name, "Gelu")) {
		const char *ap = ir_attr_string(node, "activation_approximate",
						"none");

		if (!strcmp(ap, "tanh"))
			a.kind = CPU_ACT_GELU_TANH;
		else if (!strcmp(ap, "none"))
			a.kind = CPU_ACT_GELU;
		else
			return status_invalid("attribute 'activation_approximate' is '%s' (none or tanh expected)",
					      ap);
	} else {
		return status_unsupported("fused activation '%s'", name);
	}
	*out_act = a;
	return NULL;
}

/* FusedConv is Conv with the extra input Z and any activation. */
static accel_status cpu_fused_conv(const cpu_ctx *ctx, accel_tensor *const *in,
				   int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *z = n_in > 3 ? in[3] : NULL;

	if (z && z->nbytes != out[0]->nbytes)
		return status_invalid("input 'Z' has %zu bytes, output 'Y' %zu",
				      (size_t)z->nbytes, (size_t)out[0]->nbytes);
	return cpu_conv(ctx, in, n_in, out, n_out);
}

static accel_status cpu_fused_gemm(const cpu_ctx *ctx, accel_tensor *const *in,
				   int n_in, accel_tensor *const *out, int n_out)
{
	sgemm_epilogue epi = { 0 };

	ACCEL_TRY(cpu_act_from_node(ctx->node, &epi.act));
	return nn_gemm_run(ctx, in, n_in, out,
			   epi.act.kind != CPU_ACT_NONE ? &epi : NULL);
}

static accel_status cpu_fused_gemm_prepare(const cpu_ctx *ctx,
					   accel_tensor *const *const_in,
					   int n_in, void **out_state)
{
	nn_packed_b *pb;

	ACCEL_TRY(nn_packed_prepare(const_in[1],
				    ir_attr_int(ctx->node, "transB", 0), &pb));
	*out_state = pb;
	return NULL;
}

static accel_status cpu_fused_matmul(const cpu_ctx *ctx,
				     accel_tensor *const *in, int n_in,
				     accel_tensor *const *out, int n_out)
{
	const accel_tensor *bias = n_in > 2 ? in[2] : NULL;
	const accel_tensor *b = in[1];
	int64_t n = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
	sgemm_epilogue epi = { 0 };

	ACCEL_TRY(cpu_act_from_node(ctx->node, &epi.act));
	if (bias) {
		if (bias->dtype != ACCEL_DTYPE_F32 || tensor_numel(bias) != n)
			return status_invalid("input 'bias' (%s, %lld values) does not match N = %lld float32",
					      accel_dtype_name(bias->dtype),
					      (long long)tensor_numel(bias),
					      (long long)n);
		epi.col_bias = bias->data;
	}
	return nn_matmul_run(ctx, in, out,
			     bias || epi.act.kind != CPU_ACT_NONE ? &epi : NULL);
}

static accel_status cpu_fused_matmul_prepare(const cpu_ctx *ctx,
					     accel_tensor *const *const_in,
					     int n_in, void **out_state)
{
	nn_packed_b *pb;

	ACCEL_TRY(nn_packed_prepare(const_in[1], false, &pb));
	*out_state = pb;
	return NULL;
}

const cpu_kernel cpu_kernels_fused[] = {
	{ "FusedConv", "com.accel", cpu_fused_conv, conv_dnnl_prepare,
	  conv_dnnl_release },
	{ "FusedGemm", "com.accel", cpu_fused_gemm, cpu_fused_gemm_prepare,
	  nn_packed_release },
	{ "FusedMatMul", "com.accel", cpu_fused_matmul, cpu_fused_matmul_prepare,
	  nn_packed_release },
	{ 0 },
};
