/* SPDX-License-Identifier: MIT */
/*
 * exec_linalg.c - MatMul, Gemm, Conv and their com.accel fused forms on
 * CUDA. Plain products whose batches are one stride apart go to cuBLAS
 * (opened at run time) when it is present; everything with an epilogue
 * (bias, residual, activation) and every irregular batch goes through one
 * strided, batched GEMM kernel that applies the epilogue as it writes C,
 * so fusion costs no extra pass. Conv is im2col + GEMM per (image, group),
 * or a direct kernel when a group's GEMM would be thin (depthwise).
 */
#include "cuda/internal.h"
#include "ops/nn_window.h"

#include <string.h>

#define GEMM_BRANK 4
#define GEMM_TILE 64
/* Largest im2col buffer per launch; bigger batches go in image chunks. */
#define COL_MAX_BYTES ((size_t)256 << 20)

/* Must match gemm_desc in kernels/gemm.cu. */
typedef struct gemm_desc {
	int M, N, K;
	int a_rs, a_cs, b_rs, b_cs, c_rs, bias_rs, bias_cs;
	long long a_off, b_off, c_off;
	float alpha, beta;
	int has_bias, has_z;
	cuda_act act;
	int brank;
	int bdims[GEMM_BRANK];
	long long a_bs[GEMM_BRANK], b_bs[GEMM_BRANK], c_bs[GEMM_BRANK], bias_bs[GEMM_BRANK];
} gemm_desc;

/* Must match conv_geom in kernels/common.cuh. */
typedef struct conv_geom {
	int N, C, H, W, M, G, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw;
} conv_geom;

typedef struct gemm_ptrs {
	CUdeviceptr A, B, C, bias, Z;
} gemm_ptrs;

static int batch_count(const gemm_desc *g)
{
	int b = 1;

	for (int i = 0; i < g->brank; i++)
		b *= g->bdims[i];
	return b;
}

/*
 * cuBLAS when the product is plain (alpha only, no epilogue), row-major
 * with unit column strides, and the batch collapses to one stride per
 * operand. Row-major C = A B is column-major C^T = B^T A^T, so B goes
 * first. *out_done false: not handled, use the kernel.
 */
static accel_status gemm_cublas(cuda_ctx *c, const gemm_desc *g, const gemm_ptrs *p,
				bool *out_done)
{
	cuda_device *dev = c->dev;
	const cuda_api *api = dev->api;
	long long sa = 0, sb = 0, sc = 0;
	int batch = batch_count(g), lda, ldb;
	cublasOperation_t ta, tb;
	const float beta = 0.0f;
	cublasStatus_t r;

	*out_done = false;
	if (!api->cublasCreate || dev->blas_failed || g->has_bias || g->has_z ||
	    g->act.kind != CUDA_ACT_NONE)
		return NULL;
	/* Batch dims (size-1 ones aside) must flatten: each operand strided
	 * uniformly, e.g. (image, group 1) of a Conv. */
	for (int i = g->brank - 1, inner = -1; i >= 0; i--) {
		if (g->bdims[i] == 1)
			continue;
		if (inner < 0) {
			sa = g->a_bs[i];
			sb = g->b_bs[i];
			sc = g->c_bs[i];
		} else if (g->a_bs[i] != g->a_bs[inner] * g->bdims[inner] ||
			   g->b_bs[i] != g->b_bs[inner] * g->bdims[inner] ||
			   g->c_bs[i] != g->c_bs[inner] * g->bdims[inner]) {
			return NULL;
		}
		inner = i;
	}
	/* Each operand: row-major (cs 1) or its transpose (rs 1). */
	if (g->a_cs == 1 && g->a_rs >= g->K) {
		ta = CUBLAS_OP_N;
		lda = g->a_rs;
	} else if (g->a_rs == 1 && g->a_cs >= g->M) {
		ta = CUBLAS_OP_T;
		lda = g->a_cs;
	} else {
		return NULL;
	}
	if (g->b_cs == 1 && g->b_rs >= g->N) {
		tb = CUBLAS_OP_N;
		ldb = g->b_rs;
	} else if (g->b_rs == 1 && g->b_cs >= g->K) {
		tb = CUBLAS_OP_T;
		ldb = g->b_cs;
	} else {
		return NULL;
	}
	if (g->c_rs < g->N || lda < 1 || ldb < 1)
		return NULL;
	if (!dev->blas) {
		if (api->cublasCreate(&dev->blas) != CUBLAS_STATUS_SUCCESS) {
			dev->blas = NULL;
			dev->blas_failed = true; /* e.g. no memory for its workspace */
			return NULL;
		}
	}
	if ((r = api->cublasSetStream(dev->blas, dev->stream)) != CUBLAS_STATUS_SUCCESS)
		return status_error(ACCEL_INTERNAL, "cublasSetStream: cublasStatus %d", (int)r);
	r = api->cublasSgemmStridedBatched(
		dev->blas, tb, ta, g->N, g->M, g->K, &g->alpha,
		(const float *)(uintptr_t)(p->B + (CUdeviceptr)g->b_off * 4), ldb, sb,
		(const float *)(uintptr_t)(p->A + (CUdeviceptr)g->a_off * 4), lda, sa, &beta,
		(float *)(uintptr_t)(p->C + (CUdeviceptr)g->c_off * 4), g->c_rs, sc, batch);
	if (r != CUBLAS_STATUS_SUCCESS)
		return status_error(r == CUBLAS_STATUS_ALLOC_FAILED ? ACCEL_OUT_OF_MEMORY :
				    ACCEL_INTERNAL, "cublasSgemmStridedBatched: cublasStatus %d "
				    "(%dx%dx%d, batch %d)", (int)r, g->M, g->N, g->K, batch);
	*out_done = true;
	return NULL;
}

static accel_status gemm_run(cuda_ctx *c, gemm_desc *g, gemm_ptrs *p)
{
	int batch = batch_count(g);
	bool done;
	CUdeviceptr bias, z;

	if (!g->M || !g->N || !batch)
		return NULL;
	/* K 0 is an empty sum: the kernel's epilogue alone. */
	if (g->K) {
		ACCEL_TRY(gemm_cublas(c, g, p, &done));
		if (done)
			return NULL;
	}
	bias = g->has_bias ? p->bias : p->C;
	z = g->has_z ? p->Z : p->C;
	return cuda_launch_img(c, "gemm", "gemm_f32",
			       (cuda_dim3){ (unsigned)((g->N + GEMM_TILE - 1) / GEMM_TILE),
					    (unsigned)((g->M + GEMM_TILE - 1) / GEMM_TILE),
					    (unsigned)batch },
			       (cuda_dim3){ 256, 1, 1 }, 0,
			       CUDA_ARGS(&p->A, &p->B, &p->C, &bias, &z, g));
}

static bool check_act(const ir_node *n)
{
	cuda_act a;

	return cuda_act_from_node(n, &a);
}

/* ---- MatMul / FusedMatMul ---- */

static bool check_matmul(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in >= 2 && in[1] && cuda_check_f32(n, in, n_in) && check_act(n) &&
	       in[0]->rank <= GEMM_BRANK + 2 && in[1]->rank <= GEMM_BRANK + 2;
}

/* Element strides of the batch dims of an operand (rank - 2 batch dims),
 * aligned right to the |ob| output batch dims; 0 where broadcast. */
static void batch_strides(const accel_tensor *t, int ob, long long *out)
{
	int64_t st[ACCEL_MAX_RANK];
	int nb = t->rank - 2;

	dims_strides(t->rank, t->dims, st);
	for (int i = 0; i < ob; i++) {
		int k = i - (ob - nb);

		out[i] = k >= 0 && t->dims[k] != 1 ? (long long)st[k] : 0;
	}
}

static accel_status exec_matmul(cuda_ctx *c)
{
	const accel_tensor *a = c->in[0], *b = c->in[1], *y = c->out[0];
	gemm_desc g = { 0 };
	gemm_ptrs p = { 0 };
	int ob;

	if (!cuda_act_from_node(c->node, &g.act))
		return status_unsupported("activation of %s", c->node->op_type);
	g.K = (int)a->dims[a->rank - 1];
	g.M = a->rank >= 2 ? (int)a->dims[a->rank - 2] : 1;
	g.N = b->rank >= 2 ? (int)b->dims[b->rank - 1] : 1;
	g.a_rs = g.K;
	g.a_cs = 1;
	g.b_rs = b->rank >= 2 ? g.N : 1;
	g.b_cs = 1;
	g.c_rs = g.N;
	g.alpha = 1.0f;
	g.beta = 1.0f;
	ob = y->rank - (a->rank >= 2) - (b->rank >= 2);
	if (ob < 0)
		ob = 0;
	if (ob > GEMM_BRANK)
		return status_unsupported("MatMul with %d batch dimensions", ob);
	g.brank = ob;
	for (int i = 0; i < ob; i++)
		g.bdims[i] = (int)y->dims[i];
	if (a->rank > 2)
		batch_strides(a, ob, g.a_bs);
	if (b->rank > 2)
		batch_strides(b, ob, g.b_bs);
	for (long long i = ob - 1, s = (long long)g.M * g.N; i >= 0; i--) {
		g.c_bs[i] = s;
		s *= g.bdims[i];
	}
	ACCEL_TRY(cuda_in_mem(c, 0, &p.A));
	ACCEL_TRY(cuda_in_mem(c, 1, &p.B));
	p.C = cuda_out_mem(c, 0);
	if (c->n_in > 2 && c->in[2]) {
		if (tensor_numel(c->in[2]) != g.N)
			return status_invalid("input 'bias' has %lld values, expected %d",
					      (long long)tensor_numel(c->in[2]), g.N);
		ACCEL_TRY(cuda_in_mem(c, 2, &p.bias));
		g.has_bias = 1;
		g.bias_cs = 1;
	}
	return gemm_run(c, &g, &p);
}

/* ---- Gemm / FusedGemm ---- */

static bool check_gemm(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in >= 2 && in[1] && cuda_check_f32(n, in, n_in) && check_act(n) &&
	       in[0]->rank == 2 && in[1]->rank == 2 && (n_in < 3 || !in[2] || in[2]->rank <= 2);
}

static accel_status exec_gemm(cuda_ctx *c)
{
	const ir_node *n = c->node;
	const accel_tensor *a = c->in[0], *y = c->out[0];
	const accel_tensor *bias = c->n_in > 2 ? c->in[2] : NULL;
	bool ta = ir_attr_int(n, "transA", 0), tb = ir_attr_int(n, "transB", 0);
	gemm_desc g = { 0 };
	gemm_ptrs p = { 0 };

	if (!cuda_act_from_node(n, &g.act))
		return status_unsupported("activation of %s", n->op_type);
	g.M = (int)y->dims[0];
	g.N = (int)y->dims[1];
	g.K = (int)(ta ? a->dims[0] : a->dims[1]);
	g.a_rs = ta ? 1 : g.K;
	g.a_cs = ta ? g.M : 1;
	g.b_rs = tb ? 1 : g.N;
	g.b_cs = tb ? g.K : 1;
	g.c_rs = g.N;
	g.alpha = ir_attr_float(n, "alpha", 1.0f);
	g.beta = ir_attr_float(n, "beta", 1.0f);
	ACCEL_TRY(cuda_in_mem(c, 0, &p.A));
	ACCEL_TRY(cuda_in_mem(c, 1, &p.B));
	p.C = cuda_out_mem(c, 0);
	if (bias && tensor_numel(bias) > 0 && g.beta != 0.0f) {
		int r = bias->rank;
		int64_t rows = r == 2 ? bias->dims[0] : 1;
		int64_t cols = r >= 1 ? bias->dims[r - 1] : 1;

		if ((rows != 1 && rows != g.M) || (cols != 1 && cols != g.N))
			return status_invalid("input 'C' does not broadcast to %dx%d", g.M, g.N);
		ACCEL_TRY(cuda_in_mem(c, 2, &p.bias));
		g.has_bias = 1;
		g.bias_rs = rows == 1 ? 0 : (int)cols;
		g.bias_cs = cols == 1 ? 0 : 1;
	}
	return gemm_run(c, &g, &p);
}

/* ---- Conv / FusedConv ---- */

static bool check_conv(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in >= 2 && in[1] && cuda_check_f32(n, in, n_in) && check_act(n) &&
	       (in[0]->rank == 3 || in[0]->rank == 4) && in[1]->rank == in[0]->rank;
}

static accel_status conv_geometry(cuda_ctx *c, conv_geom *q)
{
	const accel_tensor *x = c->in[0], *w = c->in[1], *y = c->out[0];
	int nsp = x->rank - 2;
	nn_window win;

	ACCEL_TRY(nn_window_forward(c->node, nsp, x->dims + 2, w->dims + 2, false, &win));
	q->N = (int)x->dims[0];
	q->C = (int)x->dims[1];
	q->M = (int)w->dims[0];
	q->G = (int)ir_attr_int(c->node, "group", 1);
	if (q->G < 1 || q->C % q->G || q->M % q->G || w->dims[1] * q->G != q->C)
		return status_invalid("group %d does not divide X's %d channels into W's %lld",
				      q->G, q->C, (long long)w->dims[1]);
	/* 1-D runs as 2-D with a height of 1. */
	q->H = nsp == 2 ? (int)x->dims[2] : 1;
	q->W = (int)x->dims[x->rank - 1];
	q->KH = nsp == 2 ? (int)w->dims[2] : 1;
	q->KW = (int)w->dims[w->rank - 1];
	q->OH = nsp == 2 ? (int)y->dims[2] : 1;
	q->OW = (int)y->dims[y->rank - 1];
	q->sh = nsp == 2 ? (int)win.s[0] : 1;
	q->sw = (int)win.s[nsp - 1];
	q->ph = nsp == 2 ? (int)win.pb[0] : 0;
	q->pw = (int)win.pb[nsp - 1];
	q->dh = nsp == 2 ? (int)win.d[0] : 1;
	q->dw = (int)win.d[nsp - 1];
	return NULL;
}

static accel_status exec_conv(cuda_ctx *c)
{
	conv_geom q;
	gemm_desc g = { 0 };
	gemm_ptrs p = { 0 };
	CUdeviceptr x, w, col = 0;
	int cg, mg, kk, ohw, chunk;
	bool direct_b;

	if (!cuda_act_from_node(c->node, &g.act))
		return status_unsupported("activation of %s", c->node->op_type);
	ACCEL_TRY(conv_geometry(c, &q));
	ACCEL_TRY(cuda_in_mem(c, 0, &x));
	ACCEL_TRY(cuda_in_mem(c, 1, &w));
	if (c->n_in > 2 && c->in[2]) {
		ACCEL_TRY(cuda_in_mem(c, 2, &p.bias));
		g.has_bias = 1;
	}
	if (c->n_in > 3 && c->in[3]) {
		if (c->in[3]->nbytes != c->out[0]->nbytes)
			return status_invalid("input 'Z' has %zu bytes, output 'Y' %zu",
					      c->in[3]->nbytes, c->out[0]->nbytes);
		ACCEL_TRY(cuda_in_mem(c, 3, &p.Z));
		g.has_z = 1;
	}
	cg = q.C / q.G;
	mg = q.M / q.G;
	kk = q.KH * q.KW;
	ohw = q.OH * q.OW;
	if (mg < 8 || cg * kk < 8) {
		CUdeviceptr y = cuda_out_mem(c, 0), bias = g.has_bias ? p.bias : y;
		CUdeviceptr z = g.has_z ? p.Z : y;
		long long total = (long long)tensor_numel(c->out[0]);

		return cuda_launch_1d(c, "gemm", "conv_direct_f32", (size_t)total,
				      CUDA_ARGS(&y, &x, &w, &bias, &z, &g.has_bias, &g.has_z,
						&total, &q, &g.act));
	}
	direct_b = kk == 1 && q.sh == 1 && q.sw == 1 && q.ph == 0 && q.pw == 0 &&
		   q.OH == q.H && q.OW == q.W;
	chunk = q.N;
	if (!direct_b) {
		size_t per = (size_t)q.C * kk * ohw * sizeof(float);

		if (per * (size_t)q.N > COL_MAX_BYTES)
			chunk = per >= COL_MAX_BYTES ? 1 : (int)(COL_MAX_BYTES / per);
		ACCEL_TRY(cuda_scratch(c, per * (size_t)chunk, &col));
	}
	g.M = mg;
	g.N = ohw;
	g.K = cg * kk;
	p.A = w;
	g.a_rs = g.K;
	g.a_cs = 1;
	g.b_rs = ohw;
	g.b_cs = 1;
	p.C = cuda_out_mem(c, 0);
	g.c_rs = ohw;
	g.bias_rs = 1;
	g.alpha = 1.0f;
	g.beta = 1.0f;
	g.brank = 2;
	/* batch dims: (image, group) */
	g.a_bs[1] = (long long)mg * g.K;
	g.b_bs[0] = (long long)q.C * (direct_b ? (long long)q.H * q.W : (long long)kk * ohw);
	g.b_bs[1] = (long long)cg * kk * ohw;
	g.c_bs[0] = (long long)q.M * ohw;
	g.c_bs[1] = (long long)mg * ohw;
	g.bias_bs[1] = mg;
	for (int n0 = 0; n0 < q.N; n0 += chunk) {
		int nb = q.N - n0 < chunk ? q.N - n0 : chunk;

		if (direct_b) {
			p.B = x;
			g.b_off = (long long)n0 * q.C * q.H * q.W;
		} else {
			long long total = (long long)nb * q.C * kk * ohw;
			long long xoff = (long long)n0 * q.C * q.H * q.W;

			ACCEL_TRY(cuda_launch_1d(c, "gemm", "im2col_f32", (size_t)total,
						 CUDA_ARGS(&col, &x, &xoff, &total, &q)));
			p.B = col;
			g.b_off = 0;
		}
		g.c_off = (long long)n0 * q.M * ohw;
		g.bdims[0] = nb;
		g.bdims[1] = q.G;
		ACCEL_TRY(gemm_run(c, &g, &p));
	}
	return NULL;
}

const cuda_op cuda_ops_linalg[] = {
	{ "MatMul", "", "gemm", exec_matmul, check_matmul, 0 },
	{ "Gemm", "", "gemm", exec_gemm, check_gemm, 0 },
	{ "Conv", "", "gemm", exec_conv, check_conv, 0 },
	{ "FusedMatMul", "com.accel", "gemm", exec_matmul, check_matmul, 0 },
	{ "FusedGemm", "com.accel", "gemm", exec_gemm, check_gemm, 0 },
	{ "FusedConv", "com.accel", "gemm", exec_conv, check_conv, 0 },
	{ 0 },
};
