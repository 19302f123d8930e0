/* SPDX-License-Identifier: MIT */
/*
 * exec_elementwise.c - the elementwise family on CUDA: broadcasting binary
 * operators and the unary operators, float32.
 *
 * Broadcasting is resolved on the host (operand shapes aligned to the
 * output's, size-1 axes dropped, axes contiguous for every operand merged);
 * the kernel gets the remaining dims and each operand's strides. Unary
 * operators run as a one-step NVRTC chain when NVRTC is present (the same
 * generator fused chains use), else through the embedded ew_unary_f32.
 */
#include "cuda/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BC_RANK 6

/* Must match struct bcast in kernels/common.cuh. */
typedef struct bcast {
	int rank;
	int dims[BC_RANK];
	int st[3][BC_RANK];
} bcast;

static accel_status bcast_make(accel_tensor *const *in, int n_in, const accel_tensor *out,
			       bcast *b)
{
	int64_t full[3][ACCEL_MAX_RANK];
	int R = out->rank, r = 0;

	memset(b, 0, sizeof(*b));
	for (int k = 0; k < n_in; k++) {
		int64_t st[ACCEL_MAX_RANK];

		if (in[k]->rank > R)
			return status_invalid("input %d has rank %d, more than the output's %d", k,
					      in[k]->rank, R);
		dims_strides(in[k]->rank, in[k]->dims, st);
		for (int i = 0; i < R; i++) {
			int ik = i - (R - in[k]->rank);
			int64_t d = ik >= 0 ? in[k]->dims[ik] : 1;

			if (d != 1 && d != out->dims[i])
				return status_invalid("input %d does not broadcast to the output shape", k);
			full[k][i] = d == 1 ? 0 : st[ik];
		}
	}
	for (int i = 0; i < R; i++) {
		bool merge = r > 0;

		if (out->dims[i] == 1)
			continue;
		for (int k = 0; k < n_in && merge; k++)
			if (b->st[k][r - 1] != full[k][i] * out->dims[i])
				merge = false;
		if (merge) {
			b->dims[r - 1] *= (int)out->dims[i];
			for (int k = 0; k < n_in; k++)
				b->st[k][r - 1] = (int)full[k][i];
			continue;
		}
		if (r == BC_RANK)
			return status_unsupported("broadcast over more than %d separate axes", BC_RANK);
		b->dims[r] = (int)out->dims[i];
		for (int k = 0; k < n_in; k++)
			b->st[k][r] = (int)full[k][i];
		r++;
	}
	if (r == 0) {
		b->dims[0] = 1;
		r = 1;
	}
	b->rank = r;
	return NULL;
}

/* ---- binary ---- */

/* Op codes of ew_binary_f32 (kernels/elementwise.cu). */
static const char *const binary_ops[] = {
	"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "PRelu", NULL,
};

static int binary_code(const char *op)
{
	for (int i = 0; binary_ops[i]; i++)
		if (!strcmp(binary_ops[i], op))
			return i;
	return !strcmp(op, "Sum") ? 0 : -1;
}

static bool check_binary(const ir_node *n, accel_tensor *const *in, int n_in)
{
	if (n_in < 1 || n_in > 2 || !cuda_check_f32(n, in, n_in))
		return false;
	if (n_in == 1)
		return !strcmp(n->op_type, "Max") || !strcmp(n->op_type, "Min") ||
		       !strcmp(n->op_type, "Sum");
	return in[1] != NULL;
}

static accel_status exec_binary(cuda_ctx *c)
{
	accel_tensor *y = c->out[0];
	CUdeviceptr a, b, ym = cuda_out_mem(c, 0);
	long long n = (long long)tensor_numel(y);
	int op = binary_code(c->node->op_type);
	bcast bc;

	ACCEL_TRY(cuda_in_mem(c, 0, &a));
	if (c->n_in == 1) {
		CU_CALL(c->dev, "cuMemcpyDtoDAsync",
			c->dev->api->MemcpyDtoDAsync(ym, a, y->nbytes, c->dev->stream));
		return NULL;
	}
	ACCEL_TRY(cuda_in_mem(c, 1, &b));
	ACCEL_TRY(bcast_make(c->in, 2, y, &bc));
	return cuda_launch_1d(c, "elementwise", "ew_binary_f32", (size_t)n,
			      CUDA_ARGS(&ym, &a, &b, &n, &op, &bc));
}

/* ---- unary ---- */

static const struct {
	const char *op;
	float alpha, beta; /* attribute defaults */
} unary_map[] = {
	/* in the order of the UN_* codes of kernels/elementwise.cu */
	{ "Relu", 0, 0 }, { "LeakyRelu", 0.01f, 0 }, { "Sigmoid", 0, 0 }, { "Tanh", 0, 0 },
	{ "Exp", 0, 0 }, { "Log", 0, 0 }, { "Sqrt", 0, 0 }, { "Abs", 0, 0 }, { "Neg", 0, 0 },
	{ "Reciprocal", 0, 0 }, { "Erf", 0, 0 }, { "Gelu", 0, 0 }, { "Gelu/tanh", 0, 0 },
	{ "Clip", 0, 0 }, { "HardSigmoid", 0.2f, 0.5f }, { "HardSwish", 0, 0 },
	{ "Softplus", 0, 0 }, { "Elu", 1.0f, 0 }, { "Floor", 0, 0 }, { "Ceil", 0, 0 },
	{ "Sin", 0, 0 }, { "Cos", 0, 0 }, { "Identity", 0, 0 },
};

static int unary_code(const ir_node *n)
{
	const char *op = n->op_type;

	if (!strcmp(op, "Gelu") && !strcmp(ir_attr_string(n, "approximate", "none"), "tanh"))
		op = "Gelu/tanh";
	for (size_t i = 0; i < sizeof(unary_map) / sizeof(unary_map[0]); i++)
		if (!strcmp(unary_map[i].op, op))
			return (int)i;
	return -1;
}

static bool check_unary(const ir_node *n, accel_tensor *const *in, int n_in)
{
	if (unary_code(n) < 0 || n_in < 1 || !in[0] || in[0]->dtype != ACCEL_DTYPE_F32)
		return false;
	if (!strcmp(n->op_type, "Gelu")) {
		const char *ap = ir_attr_string(n, "approximate", "none");

		if (strcmp(ap, "none") && strcmp(ap, "tanh"))
			return false;
	}
	/* Clip's bounds are read on the host: scalars of the input's type. */
	if (!strcmp(n->op_type, "Clip"))
		for (int i = 1; i < n_in; i++)
			if (in[i] && (in[i]->dtype != ACCEL_DTYPE_F32 || tensor_numel(in[i]) != 1))
				return false;
	return true;
}

static void unary_params(cuda_ctx *c, int code, float *alpha, float *beta)
{
	const ir_node *n = c->node;

	*alpha = ir_attr_float(n, "alpha", unary_map[code].alpha);
	*beta = ir_attr_float(n, "beta", unary_map[code].beta);
	if (strcmp(n->op_type, "Clip"))
		return;
	/* Clip: attributes before opset 11, optional scalar inputs after. */
	*alpha = ir_attr_float(n, "min", -INFINITY);
	*beta = ir_attr_float(n, "max", INFINITY);
	if (c->n_in > 1 && c->in[1] && c->in[1]->data)
		*alpha = *(const float *)c->in[1]->data;
	if (c->n_in > 2 && c->in[2] && c->in[2]->data)
		*beta = *(const float *)c->in[2]->data;
}

/* The one-step chain for this node, through NVRTC. */
static accel_status unary_chain(cuda_ctx *c, float alpha, float beta, CUdeviceptr x,
				CUdeviceptr y, long long n)
{
	cuda_chain ch = { .n_steps = 1 };
	const cuda_ptx_entry *e;
	CUfunction fn;
	char *src = NULL;
	size_t blocks = ((size_t)n + 255) / 256, cap = (size_t)c->dev->sm_count * 32;
	accel_status st;

	ch.steps[0] = (cuda_chain_step){ c->node->op_type, -1, alpha, beta };
	if (!strcmp(c->node->op_type, "Gelu") &&
	    !strcmp(ir_attr_string(c->node, "approximate", "none"), "tanh"))
		ch.steps[0].op = "Gelu/tanh";
	ACCEL_TRY(cuda_chain_source(&ch, &src));
	st = cuda_chain_ptx(c->dev->api, src, c->dev->arch, &e);
	free(src);
	ACCEL_TRY(st);
	ACCEL_TRY(cuda_function_ptx(c->dev, e, e->ptx, "accel_chain", &fn));
	if (cap && blocks > cap)
		blocks = cap;
	return cuda_launch(c->dev, fn, "accel_chain", (cuda_dim3){ (unsigned)blocks, 1, 1 },
			   (cuda_dim3){ 256, 1, 1 }, 0, CUDA_ARGS(&y, &x, &n));
}

static accel_status exec_unary(cuda_ctx *c)
{
	CUdeviceptr x, y = cuda_out_mem(c, 0);
	long long n = (long long)tensor_numel(c->out[0]);
	int code = unary_code(c->node);
	float alpha, beta;

	if (code < 0)
		return status_unsupported("%s on CUDA", c->node->op_type);
	unary_params(c, code, &alpha, &beta);
	ACCEL_TRY(cuda_in_mem(c, 0, &x));
	if (!n)
		return NULL;
	if (c->dev->api->nvrtcCompileProgram && cuda_chain_op_known(c->node->op_type))
		return unary_chain(c, alpha, beta, x, y, n);
	return cuda_launch_1d(c, "elementwise", "ew_unary_f32", (size_t)n,
			      CUDA_ARGS(&y, &x, &n, &code, &alpha, &beta));
}

#define B(op) { op, "", "elementwise", exec_binary, check_binary, 0 }
#define U(op, host) { op, "", "elementwise", exec_unary, check_unary, host }

const cuda_op cuda_ops_elementwise[] = {
	B("Add"), B("Sub"), B("Mul"), B("Div"), B("Pow"), B("Max"), B("Min"), B("PRelu"),
	B("Sum"),
	U("Relu", 0), U("LeakyRelu", 0), U("Sigmoid", 0), U("Tanh", 0), U("Exp", 0),
	U("Log", 0), U("Sqrt", 0), U("Abs", 0), U("Neg", 0), U("Reciprocal", 0), U("Erf", 0),
	U("Gelu", 0), U("Clip", 0x6), U("HardSigmoid", 0), U("HardSwish", 0),
	U("Softplus", 0), U("Elu", 0), U("Floor", 0), U("Ceil", 0), U("Sin", 0), U("Cos", 0),
	{ 0 },
};
