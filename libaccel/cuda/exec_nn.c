/* SPDX-License-Identifier: MIT */
/*
 * exec_nn.c - pooling, GlobalAveragePool, Softmax/LogSoftmax and
 * LayerNormalization on CUDA (float32, first output only).
 */
#include "cuda/internal.h"
#include "ops/nn_window.h"

#include <string.h>

/* Must match conv_geom in kernels/common.cuh. */
typedef struct pool_geom {
	int N, C, H, W, M, G, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw;
} pool_geom;

#define ROW_BLOCK 256

/* No MaxPool Indices, no LayerNormalization Mean/InvStdDev. */
static bool one_output(const ir_node *n)
{
	for (int i = 1; i < n->n_outputs; i++)
		if (n->outputs[i] >= 0)
			return false;
	return true;
}

static bool check_pool(const ir_node *n, accel_tensor *const *in, int n_in)
{
	if (!cuda_check_f32(n, in, n_in) || !one_output(n) ||
	    (in[0]->rank != 3 && in[0]->rank != 4))
		return false;
	return ir_attr_int(n, "storage_order", 0) == 0;
}

static accel_status exec_pool(cuda_ctx *c)
{
	const accel_tensor *x = c->in[0], *y = c->out[0];
	int nsp = x->rank - 2, mode = strcmp(c->node->op_type, "MaxPool") ? 1 : 0;
	int incl = (int)ir_attr_int(c->node, "count_include_pad", 0);
	long long total = (long long)tensor_numel(y);
	CUdeviceptr xm, ym = cuda_out_mem(c, 0);
	pool_geom q = { 0 };
	nn_window w;

	ACCEL_TRY(nn_window_forward(c->node, nsp, x->dims + 2, NULL, true, &w));
	q.H = nsp == 2 ? (int)x->dims[2] : 1;
	q.W = (int)x->dims[x->rank - 1];
	q.KH = nsp == 2 ? (int)w.k[0] : 1;
	q.KW = (int)w.k[nsp - 1];
	q.OH = nsp == 2 ? (int)y->dims[2] : 1;
	q.OW = (int)y->dims[y->rank - 1];
	q.sh = nsp == 2 ? (int)w.s[0] : 1;
	q.sw = (int)w.s[nsp - 1];
	q.ph = nsp == 2 ? (int)w.pb[0] : 0;
	q.pw = (int)w.pb[nsp - 1];
	q.dh = nsp == 2 ? (int)w.d[0] : 1;
	q.dw = (int)w.d[nsp - 1];
	ACCEL_TRY(cuda_in_mem(c, 0, &xm));
	return cuda_launch_1d(c, "nn", "pool2d_f32", (size_t)total,
			      CUDA_ARGS(&ym, &xm, &total, &q, &mode, &incl));
}

static bool check_global_pool(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return cuda_check_f32(n, in, n_in) && in[0]->rank >= 3;
}

static accel_status exec_global_pool(cuda_ctx *c)
{
	const accel_tensor *x = c->in[0];
	long long rows = x->dims[0] * x->dims[1], cols = tensor_numel(x) / (rows ? rows : 1);
	CUdeviceptr xm, ym = cuda_out_mem(c, 0);

	if (!rows)
		return NULL;
	ACCEL_TRY(cuda_in_mem(c, 0, &xm));
	return cuda_launch_img(c, "nn", "row_mean_f32", (cuda_dim3){ (unsigned)rows, 1, 1 },
			       (cuda_dim3){ ROW_BLOCK, 1, 1 }, 0, CUDA_ARGS(&ym, &xm, &cols));
}

static accel_status exec_softmax(cuda_ctx *c)
{
	const accel_tensor *x = c->in[0];
	int opset = c->node->opset, L = 1, log_ = !strcmp(c->node->op_type, "LogSoftmax");
	int64_t ax = ir_attr_int(c->node, "axis", opset >= 13 ? -1 : 1);
	long long inner = 1, numel = (long long)tensor_numel(x), rows;
	CUdeviceptr xm, ym = cuda_out_mem(c, 0);

	if (ax < 0)
		ax += x->rank;
	if (x->rank == 0)
		ax = 0;
	else if (ax < 0 || ax >= x->rank)
		return status_invalid("axis %lld out of range for rank %d",
				      (long long)ir_attr_int(c->node, "axis", 0), x->rank);
	if (opset >= 13) {
		L = x->rank ? (int)x->dims[ax] : 1;
		for (int d = (int)ax + 1; d < x->rank; d++)
			inner *= x->dims[d];
	} else {
		/* Before opset 13: rows of everything from |axis| on. */
		for (int d = (int)ax; d < x->rank; d++)
			L *= (int)x->dims[d];
	}
	if (!numel || !L)
		return NULL;
	rows = numel / L;
	ACCEL_TRY(cuda_in_mem(c, 0, &xm));
	return cuda_launch_img(c, "nn", "softmax_f32", (cuda_dim3){ (unsigned)rows, 1, 1 },
			       (cuda_dim3){ ROW_BLOCK, 1, 1 }, 0,
			       CUDA_ARGS(&ym, &xm, &L, &inner, &log_));
}

static bool check_layernorm(const ir_node *n, accel_tensor *const *in, int n_in)
{
	int64_t ax = ir_attr_int(n, "axis", -1), cols = 1;

	if (n_in < 2 || !in[1] || !cuda_check_f32(n, in, n_in) || !one_output(n) ||
	    ir_attr_int(n, "stash_type", 1) != 1 || in[0]->rank < 1)
		return false;
	if (ax < 0)
		ax += in[0]->rank;
	if (ax < 0 || ax >= in[0]->rank)
		return false;
	/* The kernel reads scale and bias per normalised element: no
	 * broadcasting (where the shapes are known now). */
	for (int d = (int)ax; d < in[0]->rank; d++)
		cols = in[0]->dims[d] < 0 || cols < 0 ? -1 : cols * in[0]->dims[d];
	for (int i = 1; i < n_in && i < 3 && cols >= 0; i++)
		if (in[i] && in[i]->rank >= 0 && tensor_numel(in[i]) >= 0 &&
		    tensor_numel(in[i]) != cols)
			return false;
	return true;
}

static accel_status exec_layernorm(cuda_ctx *c)
{
	const accel_tensor *x = c->in[0];
	int64_t ax = ir_attr_int(c->node, "axis", -1);
	float eps = ir_attr_float(c->node, "epsilon", 1e-5f);
	int has_bias = c->n_in > 2 && c->in[2];
	long long cols = 1, rows;
	CUdeviceptr xm, sm, bm = 0, ym = cuda_out_mem(c, 0);

	if (ax < 0)
		ax += x->rank;
	if (ax < 0 || ax >= x->rank)
		return status_invalid("axis out of range for rank %d", x->rank);
	for (int d = (int)ax; d < x->rank; d++)
		cols *= x->dims[d];
	/* The kernel reads scale/bias per normalised element. */
	if (tensor_numel(c->in[1]) != cols || (has_bias && tensor_numel(c->in[2]) != cols))
		return status_unsupported("LayerNormalization with broadcast scale or bias");
	if (!cols || !(rows = (long long)tensor_numel(x) / cols))
		return NULL;
	ACCEL_TRY(cuda_in_mem(c, 0, &xm));
	ACCEL_TRY(cuda_in_mem(c, 1, &sm));
	if (has_bias)
		ACCEL_TRY(cuda_in_mem(c, 2, &bm));
	else
		bm = sm;
	return cuda_launch_img(c, "nn", "layernorm_f32", (cuda_dim3){ (unsigned)rows, 1, 1 },
			       (cuda_dim3){ ROW_BLOCK, 1, 1 }, 0,
			       CUDA_ARGS(&ym, &xm, &sm, &bm, &cols, &eps, &has_bias));
}

#define NN(op, ex, ck) { op, "", "nn", ex, ck, 0 }

const cuda_op cuda_ops_nn[] = {
	NN("MaxPool", exec_pool, check_pool),
	NN("AveragePool", exec_pool, check_pool),
	NN("GlobalAveragePool", exec_global_pool, check_global_pool),
	NN("Softmax", exec_softmax, cuda_check_f32),
	NN("LogSoftmax", exec_softmax, cuda_check_f32),
	NN("LayerNormalization", exec_layernorm, check_layernorm),
	{ 0 },
};
