/* SPDX-License-Identifier: MIT */
/*
 * exec_linalg.c - MatMul, Gemm, Conv and their com.accel fused forms on
 * OpenCL. Everything goes through one strided, batched GEMM kernel with an
 * epilogue (bias, residual, activation); Conv is im2col + GEMM per group,
 * or a direct kernel when a group's GEMM would be thin (depthwise).
 */
#include "opencl/internal.h"
#include "ops/nn_window.h"

#include <string.h>

#define GEMM_TS 32
#define GEMM_WG 8
/* Largest im2col buffer per launch; bigger batches go in image chunks. */
#define COL_MAX_BYTES ((size_t)128 << 20)

typedef struct gemm_desc {
	cl_int M, N, K;
	cl_mem A, B, C, bias, Z;
	cl_int a_off, a_rs, a_cs, b_off, b_rs, b_cs, c_off, c_rs;
	cl_int bias_off, bias_rs, bias_cs;
	cl_float alpha, beta;
	cl_int has_bias, has_z;
	ocl_act act;
	cl_int brank, batch;
	cl_int8 bdims, a_bs, b_bs, c_bs, bias_bs;
} gemm_desc;

static accel_status gemm_launch(ocl_device *dev, gemm_desc *g)
{
	size_t gws[3] = {
		ocl_round_up((size_t)g->N, GEMM_TS) / (GEMM_TS / GEMM_WG),
		ocl_round_up((size_t)g->M, GEMM_TS) / (GEMM_TS / GEMM_WG),
		(size_t)g->batch,
	};
	size_t lws[3] = { GEMM_WG, GEMM_WG, 1 }, *local = lws;
	const char *kernel = "gemm_f32";
	cl_mem bias = g->has_bias ? g->bias : g->C, z = g->has_z ? g->Z : g->C;

	if (!g->M || !g->N || !g->batch)
		return NULL;
	/* CPU devices (PoCL) get the register-blocked kernel, which needs a
	 * unit-stride B row; GPUs the local-memory tiled one. Same arguments. */
	if (dev->is_cpu && g->b_cs == 1) {
		kernel = "gemm_vec_f32";
		gws[0] = ((size_t)g->M + 7) / 8;
		gws[1] = ((size_t)g->N + 15) / 16;
		local = NULL;
	}
	return OCL_LAUNCH(dev, ocl_src_gemm, kernel, 3, gws, local,
			  OA(g->M), OA(g->N), OA(g->K), OA(g->A), OA(g->a_off),
			  OA(g->a_rs), OA(g->a_cs), OA(g->B), OA(g->b_off),
			  OA(g->b_rs), OA(g->b_cs), OA(g->C), OA(g->c_off),
			  OA(g->c_rs), OA(bias), OA(g->bias_off), OA(g->bias_rs),
			  OA(g->bias_cs), OA(z), OA(g->alpha), OA(g->beta),
			  OA(g->has_bias), OA(g->has_z), OA(g->act.kind),
			  OA(g->act.lo), OA(g->act.hi), OA(g->act.alpha),
			  OA(g->act.beta), OA(g->brank), OA(g->bdims), OA(g->a_bs),
			  OA(g->b_bs), OA(g->c_bs), OA(g->bias_bs));
}

static bool check_act(const ir_node *n)
{
	ocl_act a;

	return ocl_act_from_node(n, &a);
}

/* ---- MatMul / FusedMatMul ---- */

static bool check_matmul(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in >= 2 && in[1] && ocl_check_f32(n, in, n_in) && check_act(n);
}

/* Element strides of the batch dims of an operand of rank |r| (r - 2 batch
 * dims), aligned right to the |ob| output batch dims; 0 where broadcast. */
static void batch_strides(const accel_tensor *t, int ob, const int64_t *odims,
			  cl_int8 *out)
{
	int64_t st[ACCEL_MAX_RANK];
	int nb = t->rank - 2;

	dims_strides(t->rank, t->dims, st);
	for (int i = 0; i < ob; i++) {
		int k = i - (ob - nb);

		out->s[i] = k >= 0 && t->dims[k] != 1 ? (cl_int)st[k] : 0;
		(void)odims;
	}
}

static accel_status exec_matmul(ocl_ctx *c)
{
	const accel_tensor *a = c->in[0], *b = c->in[1], *y = c->out[0];
	gemm_desc g = { 0 };
	int ob = 0;

	if (!ocl_act_from_node(c->node, &g.act))
		return status_unsupported("activation of %s", c->node->op_type);
	g.K = (cl_int)a->dims[a->rank - 1];
	g.M = a->rank >= 2 ? (cl_int)a->dims[a->rank - 2] : 1;
	g.N = b->rank >= 2 ? (cl_int)b->dims[b->rank - 1] : 1;
	g.a_rs = g.K;
	g.a_cs = 1;
	g.b_rs = b->rank >= 2 ? g.N : 1;
	g.b_cs = b->rank >= 2 ? 1 : 0;
	g.c_rs = g.N;
	g.alpha = 1.0f;
	g.beta = 1.0f;
	/* Output batch dims: everything before the matrix dims. */
	ob = y->rank - (a->rank >= 2) - (b->rank >= 2);
	if (ob < 0)
		ob = 0;
	g.brank = ob;
	g.batch = 1;
	for (int i = 0; i < ob; i++) {
		g.bdims.s[i] = (cl_int)y->dims[i];
		g.batch *= (cl_int)y->dims[i];
	}
	if (a->rank > 2)
		batch_strides(a, ob, y->dims, &g.a_bs);
	if (b->rank > 2)
		batch_strides(b, ob, y->dims, &g.b_bs);
	for (int i = ob - 1, s = g.M * g.N; i >= 0; i--) {
		g.c_bs.s[i] = s;
		s *= g.bdims.s[i];
	}
	ACCEL_TRY(ocl_in_mem(c, 0, &g.A));
	ACCEL_TRY(ocl_in_mem(c, 1, &g.B));
	g.C = ocl_out_mem(c, 0);
	if (c->n_in > 2 && c->in[2]) {
		if (tensor_numel(c->in[2]) != g.N)
			return status_invalid("input 'bias' has %lld values, expected %d",
					      (long long)tensor_numel(c->in[2]), g.N);
		ACCEL_TRY(ocl_in_mem(c, 2, &g.bias));
		g.has_bias = 1;
		g.bias_cs = 1;
	}
	return gemm_launch(c->dev, &g);
}

/* ---- Gemm / FusedGemm ---- */

static bool check_gemm(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in >= 2 && in[1] && ocl_check_f32(n, in, n_in) && check_act(n) &&
	       in[0]->rank == 2 && in[1]->rank == 2 && (n_in < 3 || !in[2] || in[2]->rank <= 2);
}

static accel_status exec_gemm(ocl_ctx *c)
{
	const ir_node *n = c->node;
	const accel_tensor *a = c->in[0], *y = c->out[0];
	const accel_tensor *bias = c->n_in > 2 ? c->in[2] : NULL;
	bool ta = ir_attr_int(n, "transA", 0), tb = ir_attr_int(n, "transB", 0);
	gemm_desc g = { 0 };

	if (!ocl_act_from_node(n, &g.act))
		return status_unsupported("activation of %s", n->op_type);
	g.M = (cl_int)y->dims[0];
	g.N = (cl_int)y->dims[1];
	g.K = (cl_int)(ta ? a->dims[0] : a->dims[1]);
	g.a_rs = ta ? 1 : g.K;
	g.a_cs = ta ? g.M : 1;
	g.b_rs = tb ? 1 : g.N;
	g.b_cs = tb ? g.K : 1;
	g.c_rs = g.N;
	g.alpha = ir_attr_float(n, "alpha", 1.0f);
	g.beta = ir_attr_float(n, "beta", 1.0f);
	g.batch = 1;
	ACCEL_TRY(ocl_in_mem(c, 0, &g.A));
	ACCEL_TRY(ocl_in_mem(c, 1, &g.B));
	g.C = ocl_out_mem(c, 0);
	if (bias && tensor_numel(bias) > 0) {
		int r = bias->rank;
		int64_t rows = r == 2 ? bias->dims[0] : 1;
		int64_t cols = r >= 1 ? bias->dims[r - 1] : 1;

		if ((rows != 1 && rows != g.M) || (cols != 1 && cols != g.N))
			return status_invalid("input 'C' does not broadcast to %dx%d", g.M, g.N);
		ACCEL_TRY(ocl_in_mem(c, 2, &g.bias));
		g.has_bias = 1;
		g.bias_rs = rows == 1 ? 0 : (cl_int)cols;
		g.bias_cs = cols == 1 ? 0 : 1;
	}
	return gemm_launch(c->dev, &g);
}

/* ---- Conv / FusedConv ---- */

static bool check_conv(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in >= 2 && in[1] && ocl_check_f32(n, in, n_in) && check_act(n) &&
	       (in[0]->rank == 3 || in[0]->rank == 4) &&
	       in[1]->rank == in[0]->rank;
}

typedef struct conv_geom {
	cl_int N, C, H, W, M, G, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw;
} conv_geom;

static accel_status conv_geometry(ocl_ctx *c, conv_geom *q)
{
	const accel_tensor *x = c->in[0], *w = c->in[1], *y = c->out[0];
	int nsp = x->rank - 2;
	nn_window win;

	ACCEL_TRY(nn_window_forward(c->node, nsp, x->dims + 2, w->dims + 2, false, &win));
	q->N = (cl_int)x->dims[0];
	q->C = (cl_int)x->dims[1];
	q->M = (cl_int)w->dims[0];
	q->G = (cl_int)ir_attr_int(c->node, "group", 1);
	if (q->G < 1 || q->C % q->G || q->M % q->G || w->dims[1] * q->G != q->C)
		return status_invalid("group %d does not divide X's %d channels into W's %lld",
				      q->G, q->C, (long long)w->dims[1]);
	/* 1-D runs as 2-D with a height of 1. */
	q->H = nsp == 2 ? (cl_int)x->dims[2] : 1;
	q->W = (cl_int)x->dims[x->rank - 1];
	q->KH = nsp == 2 ? (cl_int)w->dims[2] : 1;
	q->KW = (cl_int)w->dims[w->rank - 1];
	q->OH = nsp == 2 ? (cl_int)y->dims[2] : 1;
	q->OW = (cl_int)y->dims[y->rank - 1];
	q->sh = nsp == 2 ? (cl_int)win.s[0] : 1;
	q->sw = (cl_int)win.s[nsp - 1];
	q->ph = nsp == 2 ? (cl_int)win.pb[0] : 0;
	q->pw = (cl_int)win.pb[nsp - 1];
	q->dh = nsp == 2 ? (cl_int)win.d[0] : 1;
	q->dw = (cl_int)win.d[nsp - 1];
	return NULL;
}

static accel_status conv_direct(ocl_ctx *c, const conv_geom *q, cl_mem x, cl_mem w,
				cl_mem bias, cl_mem z, const ocl_act *act)
{
	cl_mem y = ocl_out_mem(c, 0);
	cl_int total = (cl_int)tensor_numel(c->out[0]);
	cl_int has_bias = bias != NULL, has_z = z != NULL;

	if (!bias)
		bias = y;
	if (!z)
		z = y;
	return OCL_LAUNCH_1D(c->dev, ocl_src_gemm, "conv_direct_f32", (size_t)total,
			     OA(y), OA(x), OA(w), OA(bias), OA(z), OA(has_bias),
			     OA(has_z), OA(total), OA(q->C), OA(q->H), OA(q->W),
			     OA(q->M), OA(q->G), OA(q->KH), OA(q->KW), OA(q->OH),
			     OA(q->OW), OA(q->sh), OA(q->sw), OA(q->ph), OA(q->pw),
			     OA(q->dh), OA(q->dw), OA(act->kind), OA(act->lo),
			     OA(act->hi), OA(act->alpha), OA(act->beta));
}

static accel_status exec_conv(ocl_ctx *c)
{
	conv_geom q;
	gemm_desc g = { 0 };
	cl_mem x, w, col = NULL;
	cl_int cg, mg, kk, ohw, chunk;
	bool direct_b;

	if (!ocl_act_from_node(c->node, &g.act))
		return status_unsupported("activation of %s", c->node->op_type);
	ACCEL_TRY(conv_geometry(c, &q));
	ACCEL_TRY(ocl_in_mem(c, 0, &x));
	ACCEL_TRY(ocl_in_mem(c, 1, &w));
	if (c->n_in > 2 && c->in[2]) {
		ACCEL_TRY(ocl_in_mem(c, 2, &g.bias));
		g.has_bias = 1;
	}
	if (c->n_in > 3 && c->in[3]) {
		if (c->in[3]->nbytes != c->out[0]->nbytes)
			return status_invalid("input 'Z' has %zu bytes, output 'Y' %zu",
					      c->in[3]->nbytes, c->out[0]->nbytes);
		ACCEL_TRY(ocl_in_mem(c, 3, &g.Z));
		g.has_z = 1;
	}
	cg = q.C / q.G;
	mg = q.M / q.G;
	kk = q.KH * q.KW;
	ohw = q.OH * q.OW;
	/* A group GEMM shorter than a tile wastes most of it: go direct. */
	if (mg < 8 || cg * kk < 8)
		return conv_direct(c, &q, x, w, g.has_bias ? g.bias : NULL,
				   g.has_z ? g.Z : NULL, &g.act);
	direct_b = kk == 1 && q.sh == 1 && q.sw == 1 && q.ph == 0 && q.pw == 0 &&
		   q.OH == q.H && q.OW == q.W;
	chunk = q.N;
	if (!direct_b) {
		size_t per = (size_t)q.C * kk * ohw * sizeof(float);

		if (per * (size_t)q.N > COL_MAX_BYTES)
			chunk = per >= COL_MAX_BYTES ? 1 : (cl_int)(COL_MAX_BYTES / per);
		ACCEL_TRY(ocl_scratch(c, per * (size_t)chunk, &col));
	}
	g.M = mg;
	g.N = ohw;
	g.K = cg * kk;
	g.A = w;
	g.a_rs = g.K;
	g.a_cs = 1;
	g.b_rs = ohw;
	g.b_cs = 1;
	g.C = ocl_out_mem(c, 0);
	g.c_rs = ohw;
	g.bias_rs = 1;
	g.alpha = 1.0f;
	g.beta = 1.0f;
	g.brank = 2;
	/* batch dims: (image, group) */
	g.a_bs.s[1] = mg * g.K;
	g.b_bs.s[0] = q.C * (direct_b ? 1 : kk) * (direct_b ? q.H * q.W : ohw);
	g.b_bs.s[1] = cg * kk * ohw;
	g.c_bs.s[0] = q.M * ohw;
	g.c_bs.s[1] = mg * ohw;
	g.bias_bs.s[1] = mg;
	for (cl_int n0 = 0; n0 < q.N; n0 += chunk) {
		cl_int nb = q.N - n0 < chunk ? q.N - n0 : chunk;

		if (direct_b) {
			g.B = x;
			g.b_off = n0 * q.C * q.H * q.W;
		} else {
			cl_int total = nb * q.C * kk * ohw, xoff = n0 * q.C * q.H * q.W;

			ACCEL_TRY(OCL_LAUNCH_1D(c->dev, ocl_src_gemm, "im2col_f32",
						(size_t)total, OA(col), OA(x), OA(xoff),
						OA(total), OA(q.C), OA(q.H), OA(q.W),
						OA(q.KH), OA(q.KW), OA(q.OH), OA(q.OW),
						OA(q.sh), OA(q.sw), OA(q.ph), OA(q.pw),
						OA(q.dh), OA(q.dw)));
			g.B = col;
			g.b_off = 0;
		}
		g.c_off = n0 * q.M * ohw;
		g.bdims.s[0] = nb;
		g.bdims.s[1] = q.G;
		g.batch = nb * q.G;
		ACCEL_TRY(gemm_launch(c->dev, &g));
	}
	return NULL;
}

const ocl_op ocl_ops_linalg[] = {
	{ "MatMul", "", ocl_src_gemm, exec_matmul, check_matmul, 0 },
	{ "Gemm", "", ocl_src_gemm, exec_gemm, check_gemm, 0 },
	{ "Conv", "", ocl_src_gemm, exec_conv, check_conv, 0 },
	{ "FusedMatMul", "com.accel", ocl_src_gemm, exec_matmul, check_matmul, 0 },
	{ "FusedGemm", "com.accel", ocl_src_gemm, exec_gemm, check_gemm, 0 },
	{ "FusedConv", "com.accel", ocl_src_gemm, exec_conv, check_conv, 0 },
	{ 0 },
};
