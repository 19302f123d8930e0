/* SPDX-License-Identifier: MIT */
/*
 * exec_nn.c - pools (max, average, Lp), BatchNormalization, Softmax /
 * LogSoftmax / Hardmax, the row and channel normalizations (Layer, RMS,
 * Instance, Group, Lp, LRN, MeanVariance), ArgMax/ArgMin, CumSum, the
 * Reduce* family, ConvTranspose, the two losses (NegativeLogLikelihood,
 * SoftmaxCrossEntropy), Det and Einsum on OpenCL (float32).
 */
#include "opencl/internal.h"
#include "ops/nn_window.h"
#include "ops/reduce.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Only the first output is produced here (no MaxPool Indices, no
 * LayerNormalization Mean/InvStdDev, no training-mode BatchNorm). */
static bool one_output(const ir_node *n)
{
	for (int i = 1; i < n->n_outputs; i++)
		if (n->outputs[i] >= 0)
			return false;
	return true;
}

/* ---- pools ---- */

static bool check_pool(const ir_node *n, accel_tensor *const *in, int n_in)
{
	if (!ocl_check_f32(n, in, n_in) || !one_output(n))
		return false;
	if (in[0]->rank >= 0 && in[0]->rank != 3 && in[0]->rank != 4)
		return false;
	if (!strcmp(n->op_type, "AveragePool")) {
		size_t nd;
		const int64_t *d = ir_attr_ints(n, "dilations", &nd);

		/* The average kernel has no dilation: leave those to the CPU. */
		for (size_t i = 0; d && i < nd; i++)
			if (d[i] != 1)
				return false;
	}
	return ir_attr_int(n, "storage_order", 0) == 0;
}

static accel_status exec_pool(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0], *y = c->out[0];
	bool avg = !strcmp(c->node->op_type, "AveragePool");
	int nsp = x->rank - 2;
	nn_window w;
	cl_mem xm, ym = ocl_out_mem(c, 0);
	cl_int total = (cl_int)tensor_numel(y);
	cl_int H = nsp == 2 ? (cl_int)x->dims[2] : 1, W = (cl_int)x->dims[x->rank - 1];
	cl_int OH = nsp == 2 ? (cl_int)y->dims[2] : 1, OW = (cl_int)y->dims[y->rank - 1];
	cl_int KH, KW, sh, sw, ph, pw, dh, dw, peh, pew, incl;

	ACCEL_TRY(nn_window_forward(c->node, nsp, x->dims + 2, NULL, true, &w));
	KH = nsp == 2 ? (cl_int)w.k[0] : 1;
	KW = (cl_int)w.k[nsp - 1];
	sh = nsp == 2 ? (cl_int)w.s[0] : 1;
	sw = (cl_int)w.s[nsp - 1];
	ph = nsp == 2 ? (cl_int)w.pb[0] : 0;
	pw = (cl_int)w.pb[nsp - 1];
	peh = nsp == 2 ? (cl_int)w.pe[0] : 0;
	pew = (cl_int)w.pe[nsp - 1];
	dh = nsp == 2 ? (cl_int)w.d[0] : 1;
	dw = (cl_int)w.d[nsp - 1];
	incl = (cl_int)ir_attr_int(c->node, "count_include_pad", 0);
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	if (avg) {
		if (dh != 1 || dw != 1)
			return status_unsupported("AveragePool with dilations");
		return OCL_LAUNCH_1D(c->dev, ocl_src_nn, "avgpool_f32", (size_t)total,
				     OA(ym), OA(xm), OA(total), OA(H), OA(W), OA(OH),
				     OA(OW), OA(KH), OA(KW), OA(sh), OA(sw), OA(ph),
				     OA(pw), OA(peh), OA(pew), OA(incl));
	}
	return OCL_LAUNCH_1D(c->dev, ocl_src_nn, "maxpool_f32", (size_t)total, OA(ym),
			     OA(xm), OA(total), OA(H), OA(W), OA(OH), OA(OW), OA(KH),
			     OA(KW), OA(sh), OA(sw), OA(ph), OA(pw), OA(dh), OA(dw));
}

static bool check_global_pool(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return ocl_check_f32(n, in, n_in) && (in[0]->rank < 0 || in[0]->rank >= 3);
}

static accel_status exec_global_pool(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0];
	cl_int total = (cl_int)(x->dims[0] * x->dims[1]);
	cl_int L = total ? (cl_int)(tensor_numel(x) / total) : 0;
	cl_int mode = !strcmp(c->node->op_type, "GlobalMaxPool");
	cl_mem xm, ym = ocl_out_mem(c, 0);

	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	return OCL_LAUNCH_1D(c->dev, ocl_src_nn, "global_pool_f32", (size_t)total,
			     OA(ym), OA(xm), OA(total), OA(L), OA(mode));
}

/* ---- BatchNormalization (inference) ---- */

static bool check_bn(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in == 5 && ocl_check_f32(n, in, n_in) && one_output(n) &&
	       !ir_attr_int(n, "training_mode", 0);
}

static accel_status exec_bn(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0];
	cl_mem m[5], ym = ocl_out_mem(c, 0);
	cl_int total = (cl_int)tensor_numel(x);
	cl_int C = x->rank > 1 ? (cl_int)x->dims[1] : 1;
	cl_int HW = 1;
	cl_float eps = ir_attr_float(c->node, "epsilon", 1e-5f);

	for (int d = 2; d < x->rank; d++)
		HW *= (cl_int)x->dims[d];
	for (int i = 0; i < 5; i++) {
		if (tensor_numel(c->in[i]) != (i ? C : total))
			return status_invalid("input %d has %lld values, expected %d", i,
					      (long long)tensor_numel(c->in[i]), C);
		ACCEL_TRY(ocl_in_mem(c, i, &m[i]));
	}
	return OCL_LAUNCH_1D(c->dev, ocl_src_nn, "batchnorm_f32", (size_t)total, OA(ym),
			     OA(m[0]), OA(m[1]), OA(m[2]), OA(m[3]), OA(m[4]),
			     OA(total), OA(C), OA(HW), OA(eps));
}

/* ---- Softmax / LogSoftmax ---- */

static accel_status exec_softmax(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0];
	int opset = c->node->opset;
	int64_t ax = ir_attr_int(c->node, "axis", opset >= 13 ? -1 : 1);
	cl_int L = 1, inner = 1, rows, log_ = !strcmp(c->node->op_type, "LogSoftmax");
	int64_t numel = tensor_numel(x);
	cl_mem xm, ym = ocl_out_mem(c, 0);

	if (ax < 0)
		ax += x->rank;
	if (x->rank == 0)
		ax = 0;
	else if (ax < 0 || ax >= x->rank)
		return status_invalid("axis %lld out of range for rank %d",
				      (long long)ir_attr_int(c->node, "axis", 0), x->rank);
	if (opset >= 13) {
		L = x->rank ? (cl_int)x->dims[ax] : 1;
		for (int d = (int)ax + 1; d < x->rank; d++)
			inner *= (cl_int)x->dims[d];
	} else {
		/* Before opset 13: rows of everything from |axis| on. */
		for (int d = (int)ax; d < x->rank; d++)
			L *= (cl_int)x->dims[d];
	}
	if (!numel || !L)
		return NULL;
	rows = (cl_int)(numel / L);
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	return OCL_LAUNCH_1D(c->dev, ocl_src_nn, "softmax_f32", (size_t)rows, OA(ym),
			     OA(xm), OA(rows), OA(L), OA(inner), OA(log_));
}

/* ---- LayerNormalization, RMSNormalization, InstanceNormalization,
 * GroupNormalization: rows of L values, one scale/bias pattern each ---- */

static bool check_layernorm(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in >= 2 && in[1] && ocl_check_f32(n, in, n_in) && one_output(n) &&
	       ir_attr_int(n, "stash_type", 1) == 1;
}

static bool check_chan_norm(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in == 3 && in[1] && in[2] && ocl_check_f32(n, in, n_in) &&
	       (in[0]->rank < 0 || in[0]->rank >= 2);
}

static accel_status exec_rownorm(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0];
	const char *op = c->node->op_type;
	bool rms = !strcmp(op, "RMSNormalization");
	cl_float eps = ir_attr_float(c->node, "epsilon", 1e-5f);
	cl_int L = 1, rows, has_bias = !rms && c->n_in > 2 && c->in[2];
	cl_int s_mod = 1, s_row = 0, s_div = 1, is_rms = rms;
	int64_t numel = tensor_numel(x), ns = tensor_numel(c->in[1]);
	cl_mem xm, sm, bm, ym = ocl_out_mem(c, 0);

	if (!strcmp(op, "InstanceNormalization") || !strcmp(op, "GroupNormalization")) {
		cl_int C = (cl_int)x->dims[1], G = C, HW = 1;

		for (int d = 2; d < x->rank; d++)
			HW *= (cl_int)x->dims[d];
		if (op[0] == 'G')
			G = (cl_int)ir_attr_int(c->node, "num_groups", 0);
		if (G < 1 || C % G)
			return status_invalid("num_groups %d does not divide %d channels", G, C);
		L = C / G * HW;
		s_mod = G;
		if (ns == C) { /* per channel */
			s_row = C / G;
			s_div = HW;
		} else if (ns == G) { /* per group (GroupNormalization-18) */
			s_row = 1;
			s_div = L;
		} else {
			return status_invalid("input 'scale' has %lld values", (long long)ns);
		}
		if (tensor_numel(c->in[2]) != ns)
			return status_invalid("input 'B' has %lld values, 'scale' %lld",
					      (long long)tensor_numel(c->in[2]), (long long)ns);
		has_bias = 1;
	} else {
		int64_t ax = ir_attr_int(c->node, "axis", -1);

		if (ax < 0)
			ax += x->rank;
		if (ax < 0 || ax >= x->rank)
			return status_invalid("axis out of range for rank %d", x->rank);
		for (int d = (int)ax; d < x->rank; d++)
			L *= (cl_int)x->dims[d];
		if (ns != L || (has_bias && tensor_numel(c->in[2]) != L))
			return status_unsupported("%s with broadcast scale/bias", op);
	}
	if (!L || !numel)
		return NULL;
	rows = (cl_int)(numel / L);
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	ACCEL_TRY(ocl_in_mem(c, 1, &sm));
	bm = sm;
	if (has_bias)
		ACCEL_TRY(ocl_in_mem(c, 2, &bm));
	return OCL_LAUNCH_1D(c->dev, ocl_src_nn, "rownorm_f32", (size_t)rows, OA(ym),
			     OA(xm), OA(sm), OA(bm), OA(rows), OA(L), OA(eps),
			     OA(has_bias), OA(is_rms), OA(s_mod), OA(s_row), OA(s_div));
}

/* ---- ArgMax / ArgMin, CumSum: along one axis ---- */

static accel_status axis_geometry(const accel_tensor *x, int64_t ax, cl_int *rows,
				  cl_int *L, cl_int *inner)
{
	if (ax < 0)
		ax += x->rank;
	if (ax < 0 || ax >= x->rank)
		return status_invalid("axis out of range for rank %d", x->rank);
	*L = (cl_int)x->dims[ax];
	*inner = 1;
	for (int d = (int)ax + 1; d < x->rank; d++)
		*inner *= (cl_int)x->dims[d];
	*rows = *L ? (cl_int)(tensor_numel(x) / *L) : 0;
	return NULL;
}

static bool check_arg(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in == 1 && in[0] && in[0]->rank != 0 &&
	       (in[0]->dtype == ACCEL_DTYPE_F32 || in[0]->dtype == ACCEL_DTYPE_I32 ||
		in[0]->dtype == ACCEL_DTYPE_I64);
}

static accel_status exec_arg(ocl_ctx *c)
{
	cl_int rows, L, inner, mode = !strcmp(c->node->op_type, "ArgMin");
	cl_int last = (cl_int)ir_attr_int(c->node, "select_last_index", 0);
	cl_mem xm, ym = ocl_out_mem(c, 0);
	char name[24];

	ACCEL_TRY(axis_geometry(c->in[0], ir_attr_int(c->node, "axis", 0), &rows, &L,
				&inner));
	if (!rows)
		return NULL;
	if (!L)
		return status_invalid("%s over an empty axis", c->node->op_type);
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	snprintf(name, sizeof(name), "argminmax_%s", ocl_type_sfx(c->in[0]->dtype));
	return OCL_LAUNCH_1D(c->dev, ocl_src_nn, name, (size_t)rows, OA(ym),
			     OA(xm), OA(rows), OA(L), OA(inner), OA(mode), OA(last));
}

static bool check_cumsum(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in == 2 && in[0] && in[1] &&
	       (in[0]->dtype == ACCEL_DTYPE_F32 || in[0]->dtype == ACCEL_DTYPE_I32 ||
		in[0]->dtype == ACCEL_DTYPE_I64) &&
	       (in[1]->dtype == ACCEL_DTYPE_I64 || in[1]->dtype == ACCEL_DTYPE_I32);
}

static accel_status exec_cumsum(ocl_ctx *c)
{
	cl_int rows, L, inner;
	cl_int excl = (cl_int)ir_attr_int(c->node, "exclusive", 0);
	cl_int rev = (cl_int)ir_attr_int(c->node, "reverse", 0);
	cl_mem xm, ym = ocl_out_mem(c, 0);
	char name[24];

	ACCEL_TRY(axis_geometry(c->in[0], tensor_get_i64(c->in[1], 0), &rows, &L, &inner));
	if (!rows)
		return NULL;
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	snprintf(name, sizeof(name), "cumsum_%s", ocl_type_sfx(c->in[0]->dtype));
	return OCL_LAUNCH_1D(c->dev, ocl_src_nn, name, (size_t)rows, OA(ym), OA(xm),
			     OA(rows), OA(L), OA(inner), OA(excl), OA(rev));
}

/* ---- Reduce* ---- */

static const char *const reduce_ops[] = {
	"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
	"ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum",
	"ReduceLogSumExp",
};

static int reduce_kind(const char *op)
{
	for (int i = 0; i < (int)(sizeof(reduce_ops) / sizeof(reduce_ops[0])); i++)
		if (!strcmp(op, reduce_ops[i]))
			return i;
	return -1;
}

static bool check_reduce(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return ocl_check_f32(n, in, 1) &&
	       (n_in < 2 || !in[1] || in[1]->dtype == ACCEL_DTYPE_I64);
}

static accel_status exec_reduce(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0], *y = c->out[0];
	bool red[ACCEL_MAX_RANK] = { 0 }, any = false;
	int64_t st[ACCEL_MAX_RANK];
	cl_int krank = 0, rrank = 0, R = 1, total = (cl_int)tensor_numel(y);
	cl_int op = reduce_kind(c->node->op_type);
	cl_int8 kd = { { 0 } }, ks = { { 0 } }, rd = { { 0 } }, rs = { { 0 } };
	cl_mem xm, ym = ocl_out_mem(c, 0);
	const int64_t *axes = NULL;
	size_t n_axes = 0;

	if (c->n_in > 1 && c->in[1]) {
		axes = c->in[1]->data;
		n_axes = (size_t)tensor_numel(c->in[1]);
	} else {
		axes = ir_attr_ints(c->node, "axes", &n_axes);
	}
	for (size_t i = 0; i < n_axes; i++) {
		int64_t a = axes[i] < 0 ? axes[i] + x->rank : axes[i];

		if (a < 0 || a >= x->rank)
			return status_invalid("axis %lld out of range", (long long)axes[i]);
		red[a] = any = true;
	}
	if (!any) {
		if (ir_attr_int(c->node, "noop_with_empty_axes", 0))
			for (int d = 0; d < x->rank; d++)
				red[d] = false; /* identity: every axis kept */
		else
			for (int d = 0; d < x->rank; d++)
				red[d] = true;
	}
	dims_strides(x->rank, x->dims, st);
	for (int d = 0; d < x->rank; d++) {
		if (red[d]) {
			rd.s[rrank] = (cl_int)x->dims[d];
			rs.s[rrank++] = (cl_int)st[d];
			R *= (cl_int)x->dims[d];
		} else {
			kd.s[krank] = (cl_int)x->dims[d];
			ks.s[krank++] = (cl_int)st[d];
		}
	}
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	return OCL_LAUNCH_1D(c->dev, ocl_src_nn, "reduce_f32", (size_t)total, OA(ym),
			     OA(xm), OA(total), OA(krank), OA(kd), OA(ks), OA(rrank),
			     OA(rd), OA(rs), OA(R), OA(op));
}

/* ---- ConvTranspose (direct: one item per output element) ---- */

static bool check_conv_t(const ir_node *n, accel_tensor *const *in, int n_in)
{
	if (n_in < 2 || !in[1] || !ocl_check_f32(n, in, n_in))
		return false;
	return in[0]->rank < 0 || (in[0]->rank >= 3 && in[0]->rank <= 5);
}

static accel_status exec_conv_t(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0], *w = c->in[1], *y = c->out[0];
	int64_t group = ir_attr_int(c->node, "group", 1);
	int nsp = x->rank - 2, o = 3 - nsp;
	cl_int total = (cl_int)tensor_numel(y), C = (cl_int)x->dims[1];
	cl_int M = (cl_int)y->dims[1], G = (cl_int)group, has_b;
	cl_int4 vin = { { 1, 1, 1, 1 } }, vout = vin, vk = vin, vs = vin, vd = vin;
	cl_int4 vp = { { 0 } };
	cl_mem xm, wm, bm, ym = ocl_out_mem(c, 0);
	nn_window win;

	if (nsp < 1 || nsp > 3 || w->rank != x->rank)
		return status_unsupported("ConvTranspose of rank %d", x->rank);
	if (group < 1 || C % G || M % G || w->dims[0] != C || w->dims[1] * G != M)
		return status_invalid("ConvTranspose: W of %lld x %lld for %d channels in %lld groups",
				      (long long)w->dims[0], (long long)w->dims[1], C,
				      (long long)group);
	ACCEL_TRY(nn_window_transpose(c->node, nsp, x->dims + 2, w->dims + 2, &win));
	for (int i = 0; i < nsp; i++) {
		vin.s[o + i] = (cl_int)x->dims[2 + i];
		vout.s[o + i] = (cl_int)y->dims[2 + i];
		vk.s[o + i] = (cl_int)win.k[i];
		vs.s[o + i] = (cl_int)win.s[i];
		vd.s[o + i] = (cl_int)win.d[i];
		vp.s[o + i] = (cl_int)win.pb[i];
	}
	if (!total)
		return NULL;
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	ACCEL_TRY(ocl_in_mem(c, 1, &wm));
	has_b = c->n_in > 2 && c->in[2];
	bm = wm;
	if (has_b) {
		if (tensor_numel(c->in[2]) != M)
			return status_invalid("ConvTranspose: B has %lld values for %d channels",
					      (long long)tensor_numel(c->in[2]), M);
		ACCEL_TRY(ocl_in_mem(c, 2, &bm));
	}
	return OCL_LAUNCH_1D(c->dev, ocl_src_nn, "conv_transpose_f32", (size_t)total,
			     OA(ym), OA(xm), OA(wm), OA(bm), OA(has_b), OA(total), OA(C),
			     OA(M), OA(G), OA(vin), OA(vout), OA(vk), OA(vs), OA(vd), OA(vp));
}

/* ---- LRN ---- */

static bool check_lrn(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return ocl_check_f32(n, in, n_in) && (in[0]->rank < 0 || in[0]->rank >= 2) &&
	       ir_attr_int(n, "size", 0) >= 1;
}

static accel_status exec_lrn(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0];
	cl_int total = (cl_int)tensor_numel(x), C = (cl_int)x->dims[1], sp = 1;
	cl_int size = (cl_int)ir_attr_int(c->node, "size", 0);
	cl_float alpha = ir_attr_float(c->node, "alpha", 1e-4f);
	cl_float beta = ir_attr_float(c->node, "beta", 0.75f);
	cl_float bias = ir_attr_float(c->node, "bias", 1.0f);
	cl_mem xm, ym = ocl_out_mem(c, 0);

	for (int d = 2; d < x->rank; d++)
		sp *= (cl_int)x->dims[d];
	if (!total)
		return NULL;
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	return OCL_LAUNCH_1D(c->dev, ocl_src_nn, "lrn_f32", (size_t)total, OA(ym), OA(xm),
			     OA(total), OA(C), OA(sp), OA(size), OA(alpha), OA(beta),
			     OA(bias));
}

/* ---- Hardmax, LpNormalization: rows along one axis ---- */

static bool check_lpnorm(const ir_node *n, accel_tensor *const *in, int n_in)
{
	int64_t p = ir_attr_int(n, "p", 2);

	return ocl_check_f32(n, in, n_in) && in[0]->rank != 0 && (p == 1 || p == 2);
}

static accel_status exec_rowwise(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0];
	bool hard = !strcmp(c->node->op_type, "Hardmax");
	int opset = c->node->opset;
	int64_t ax = ir_attr_int(c->node, "axis", hard && opset < 13 ? 1 : -1);
	cl_int rows, L, inner, mode = hard ? 0 : (cl_int)ir_attr_int(c->node, "p", 2);
	cl_mem xm, ym = ocl_out_mem(c, 0);

	if (hard && x->rank == 0)
		ax = 0;
	if (hard && opset < 13 && x->rank > 0) {
		/* Before opset 13: rows of everything from |axis| on. */
		if (ax < 0)
			ax += x->rank;
		if (ax < 0 || ax > x->rank)
			return status_invalid("axis out of range for rank %d", x->rank);
		L = 1;
		for (int d = (int)ax; d < x->rank; d++)
			L *= (cl_int)x->dims[d];
		inner = 1;
		rows = L ? (cl_int)(tensor_numel(x) / L) : 0;
	} else if (x->rank == 0) {
		rows = L = inner = 1;
	} else {
		ACCEL_TRY(axis_geometry(x, ax, &rows, &L, &inner));
	}
	if (!rows || !L)
		return NULL;
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	return OCL_LAUNCH_1D(c->dev, ocl_src_nn, "rowwise_f32", (size_t)rows, OA(ym),
			     OA(xm), OA(rows), OA(L), OA(inner), OA(mode));
}

/* ---- LpPool, GlobalLpPool ---- */

static float lp_of(const ir_node *n)
{
	if (n->opset < 2)
		return ir_attr_float(n, "p", 2.0f);
	return (float)ir_attr_int(n, "p", 2);
}

static bool check_lppool(const ir_node *n, accel_tensor *const *in, int n_in)
{
	if (!ocl_check_f32(n, in, n_in) || lp_of(n) <= 0.0f)
		return false;
	if (!strcmp(n->op_type, "GlobalLpPool"))
		return in[0]->rank < 0 || in[0]->rank >= 3;
	return in[0]->rank < 0 || in[0]->rank == 3 || in[0]->rank == 4;
}

static accel_status exec_lppool(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0], *y = c->out[0];
	int nsp = x->rank - 2;
	cl_float p = lp_of(c->node);
	cl_int total = (cl_int)tensor_numel(y);
	cl_int H = nsp == 2 ? (cl_int)x->dims[2] : 1, W = (cl_int)x->dims[x->rank - 1];
	cl_int OH = nsp == 2 ? (cl_int)y->dims[2] : 1, OW = (cl_int)y->dims[y->rank - 1];
	cl_int KH, KW, sh, sw, ph, pw, dh, dw;
	cl_mem xm, ym = ocl_out_mem(c, 0);
	nn_window w;

	if (!total)
		return NULL;
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	if (!strcmp(c->node->op_type, "GlobalLpPool")) {
		cl_int planes = (cl_int)(x->dims[0] * x->dims[1]);
		cl_int L = planes ? (cl_int)(tensor_numel(x) / planes) : 0;

		return OCL_LAUNCH_1D(c->dev, ocl_src_nn, "global_lppool_f32",
				     (size_t)planes, OA(ym), OA(xm), OA(planes), OA(L),
				     OA(p));
	}
	ACCEL_TRY(nn_window_forward(c->node, nsp, x->dims + 2, NULL, true, &w));
	KH = nsp == 2 ? (cl_int)w.k[0] : 1;
	KW = (cl_int)w.k[nsp - 1];
	sh = nsp == 2 ? (cl_int)w.s[0] : 1;
	sw = (cl_int)w.s[nsp - 1];
	ph = nsp == 2 ? (cl_int)w.pb[0] : 0;
	pw = (cl_int)w.pb[nsp - 1];
	dh = nsp == 2 ? (cl_int)w.d[0] : 1;
	dw = (cl_int)w.d[nsp - 1];
	return OCL_LAUNCH_1D(c->dev, ocl_src_nn, "lppool_f32", (size_t)total, OA(ym),
			     OA(xm), OA(total), OA(H), OA(W), OA(OH), OA(OW), OA(KH),
			     OA(KW), OA(sh), OA(sw), OA(ph), OA(pw), OA(dh), OA(dw),
			     OA(p));
}

/* ---- MeanVarianceNormalization ---- */

static accel_status exec_mvn(ocl_ctx *c)
{
	static const int64_t def_axes[] = { 0, 2, 3 };
	const accel_tensor *x = c->in[0];
	bool red[ACCEL_MAX_RANK] = { 0 };
	int64_t st[ACCEL_MAX_RANK];
	size_t na = 0;
	const int64_t *axes = ir_attr_ints(c->node, "axes", &na);
	cl_int krank = 0, rrank = 0, R = 1, groups = 1;
	cl_int8 kd = { { 0 } }, ks = { { 0 } }, rd = { { 0 } }, rs = { { 0 } };
	cl_mem xm, ym = ocl_out_mem(c, 0);

	if (!axes) {
		axes = def_axes;
		na = 3;
	}
	if (x->rank > 8)
		return status_unsupported("MeanVarianceNormalization of rank %d", x->rank);
	for (size_t i = 0; i < na; i++) {
		int64_t a = axes[i] < 0 ? axes[i] + x->rank : axes[i];

		if (a < 0 || a >= x->rank)
			return status_invalid("axis %lld out of range for rank %d",
					      (long long)axes[i], x->rank);
		red[a] = true;
	}
	dims_strides(x->rank, x->dims, st);
	for (int d = 0; d < x->rank; d++) {
		if (red[d]) {
			rd.s[rrank] = (cl_int)x->dims[d];
			rs.s[rrank++] = (cl_int)st[d];
			R *= (cl_int)x->dims[d];
		} else {
			kd.s[krank] = (cl_int)x->dims[d];
			ks.s[krank++] = (cl_int)st[d];
			groups *= (cl_int)x->dims[d];
		}
	}
	if (!R || !groups)
		return NULL;
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	return OCL_LAUNCH_1D(c->dev, ocl_src_nn, "mvn_f32", (size_t)groups, OA(ym),
			     OA(xm), OA(groups), OA(krank), OA(kd), OA(ks), OA(rrank),
			     OA(rd), OA(rs), OA(R));
}

/* ---- NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss ---- */

static bool check_loss(const ir_node *n, accel_tensor *const *in, int n_in)
{
	int red;

	if (n_in < 2 || n_in > 3 || !ocl_is(in[0], ACCEL_DTYPE_F32) || !in[1] ||
	    (in[1]->dtype != ACCEL_DTYPE_I64 && in[1]->dtype != ACCEL_DTYPE_I32) ||
	    (n_in > 2 && in[2] && !ocl_is(in[2], ACCEL_DTYPE_F32)))
		return false;
	if (in[0]->rank >= 0 && in[0]->rank < 2)
		return false;
	{
		accel_status st = loss_reduction(n, &red);

		if (st) {
			accel_status_free(st);
			return false;
		}
	}
	return true;
}

/* A target class outside [0, C) that is not ignore_index. */
static accel_status bad_target(ocl_ctx *c, int input, int64_t pos, int64_t value)
{
	return ocl_bad_index(c, input, "target", pos, value, c->in[0]->dims[1], false);
}

static accel_status exec_loss(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0];
	const ir_attr *iia = ir_node_attr(c->node, "ignore_index");
	cl_int softmax = !strcmp(c->node->op_type, "SoftmaxCrossEntropyLoss");
	cl_int N = (cl_int)x->dims[0], C = (cl_int)x->dims[1], D, cnt;
	cl_int has_w = c->n_in > 2 && c->in[2], has_ii = iia != NULL, want_logp;
	cl_long ii = iia ? iia->i : 0;
	cl_mem xm, tm, wm, lm, ewm, pm, em, ym = ocl_out_mem(c, 0);
	int red;
	char name[24];

	ACCEL_TRY(loss_reduction(c->node, &red));
	D = N > 0 && C > 0 ? (cl_int)(tensor_numel(x) / ((int64_t)N * C)) : 0;
	cnt = N * D;
	if (tensor_numel(c->in[1]) != cnt)
		return status_invalid("%s: target has %lld values, expected %d",
				      c->node->op_type, (long long)tensor_numel(c->in[1]), cnt);
	if (has_w && tensor_numel(c->in[2]) != C)
		return status_invalid("%s: input 'weight' has %lld elements, C is %d",
				      c->node->op_type, (long long)tensor_numel(c->in[2]), C);
	want_logp = softmax && c->n_out > 1 && c->out[1];
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	ACCEL_TRY(ocl_in_mem(c, 1, &tm));
	wm = xm;
	if (has_w)
		ACCEL_TRY(ocl_in_mem(c, 2, &wm));
	pm = want_logp ? ocl_out_mem(c, 1) : xm;
	lm = ym;
	if (red)
		ACCEL_TRY(ocl_scratch(c, sizeof(cl_float) * (size_t)(cnt ? cnt : 1), &lm));
	ACCEL_TRY(ocl_scratch(c, sizeof(cl_float) * (size_t)(cnt ? cnt : 1), &ewm));
	snprintf(name, sizeof(name), "loss_elem_%s", ocl_type_sfx(c->in[1]->dtype));
	if (cnt) {
		ACCEL_TRY(ocl_check_word(c, bad_target, &em));
		ACCEL_TRY(OCL_LAUNCH_1D(c->dev, ocl_src_nn, name, (size_t)cnt, OA(lm),
					OA(ewm), OA(xm), OA(tm), OA(wm), OA(has_w),
					OA(has_ii), OA(ii), OA(N), OA(C), OA(D), OA(softmax),
					OA(pm), OA(want_logp), OA(em)));
	}
	if (!red)
		return NULL;
	return OCL_LAUNCH_1D(c->dev, ocl_src_nn, "loss_sum_f32", 1, OA(ym), OA(lm),
			     OA(ewm), OA(cnt), OA(red));
}

/* ---- Det ---- */

static bool check_det(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in == 1 && ocl_is(in[0], ACCEL_DTYPE_F32) &&
	       (in[0]->rank < 0 || in[0]->rank >= 2);
}

static accel_status exec_det(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0];
	cl_int n = (cl_int)x->dims[x->rank - 1], batch = (cl_int)tensor_numel(c->out[0]);
	cl_mem xm, am, ym = ocl_out_mem(c, 0);

	if (x->dims[x->rank - 2] != n)
		return status_invalid("Det of a %lld x %d matrix",
				      (long long)x->dims[x->rank - 2], n);
	if (!batch)
		return NULL;
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	ACCEL_TRY(ocl_scratch(c, x->nbytes ? x->nbytes : 1, &am));
	if (x->nbytes)
		ACCEL_TRY(ocl_copy(c->dev, xm, 0, am, 0, x->nbytes));
	return OCL_LAUNCH_1D(c->dev, ocl_src_nn, "det_f32", (size_t)batch, OA(ym),
			     OA(am), OA(n), OA(batch));
}

/* ---- Einsum (direct, up to three float32 operands) ---- */

static bool check_einsum(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in >= 1 && n_in <= 3 && ocl_check_f32(n, in, n_in) &&
	       ir_attr_string(n, "equation", NULL);
}

static accel_status exec_einsum(ocl_ctx *c)
{
	const char *eq = ir_attr_string(c->node, "equation", "");
	einsum_plan p;
	int64_t stride[3][EINSUM_MAX_LABELS] = { { 0 } }, terms = 1;
	bool in_out[EINSUM_MAX_LABELS] = { false };
	cl_int n = (cl_int)tensor_numel(c->out[0]), n_ops = c->n_in, orank, nsum = 0;
	cl_int8 osz = { { 0 } }, ssz = { { 0 } }, os[3], ss[3];
	cl_int cterms;
	cl_mem m[3], ym = ocl_out_mem(c, 0);

	memset(os, 0, sizeof(os));
	memset(ss, 0, sizeof(ss));
	ACCEL_TRY(einsum_parse(eq, c->in, c->n_in, &p));
	if (p.out_rank > 8)
		return status_unsupported("Einsum with %d output axes", p.out_rank);
	for (int k = 0; k < n_ops; k++) {
		int64_t st[ACCEL_MAX_RANK];

		dims_strides(c->in[k]->rank, c->in[k]->dims, st);
		for (int a = 0; a < c->in[k]->rank; a++) {
			int l = p.op_label[k][a];

			/* size-1 axes broadcast (stride 0); a repeated label
			 * (a diagonal) steps by the sum of its axes' strides */
			if (c->in[k]->dims[a] != 1 || p.size[l] == 1)
				stride[k][l] += st[a];
		}
	}
	orank = p.out_rank;
	for (int i = 0; i < orank; i++) {
		int l = p.out_label[i];

		in_out[l] = true;
		osz.s[i] = (cl_int)p.size[l];
		for (int k = 0; k < n_ops; k++)
			os[k].s[i] = (cl_int)stride[k][l];
	}
	for (int l = 0; l < p.n_labels; l++) {
		if (in_out[l])
			continue;
		if (nsum == 8)
			return status_unsupported("Einsum with more than 8 contracted labels");
		ssz.s[nsum] = (cl_int)p.size[l];
		for (int k = 0; k < n_ops; k++)
			ss[k].s[nsum] = (cl_int)stride[k][l];
		nsum++;
		terms *= p.size[l];
	}
	if (!n)
		return NULL;
	if (terms > INT32_MAX)
		return status_unsupported("Einsum with %lld terms per output", (long long)terms);
	cterms = (cl_int)terms;
	for (int k = 0; k < 3; k++)
		if (k < n_ops)
			ACCEL_TRY(ocl_in_mem(c, k, &m[k]));
		else
			m[k] = m[0];
	return OCL_LAUNCH_1D(c->dev, ocl_src_nn, "einsum_f32", (size_t)n, OA(ym), OA(m[0]),
			     OA(m[1]), OA(m[2]), OA(n), OA(n_ops), OA(orank), OA(osz),
			     OA(os[0]), OA(os[1]), OA(os[2]), OA(nsum), OA(ssz), OA(ss[0]),
			     OA(ss[1]), OA(ss[2]), OA(cterms));
}

#define NN(op, fn, chk, host) { op, "", ocl_src_nn, fn, chk, host }

const ocl_op ocl_ops_nn[] = {
	NN("MaxPool", exec_pool, check_pool, 0),
	NN("AveragePool", exec_pool, check_pool, 0),
	NN("GlobalAveragePool", exec_global_pool, check_global_pool, 0),
	NN("GlobalMaxPool", exec_global_pool, check_global_pool, 0),
	NN("BatchNormalization", exec_bn, check_bn, 0),
	NN("Softmax", exec_softmax, ocl_check_f32, 0),
	NN("LogSoftmax", exec_softmax, ocl_check_f32, 0),
	NN("LayerNormalization", exec_rownorm, check_layernorm, 0),
	NN("RMSNormalization", exec_rownorm, check_layernorm, 0),
	NN("InstanceNormalization", exec_rownorm, check_chan_norm, 0),
	NN("GroupNormalization", exec_rownorm, check_chan_norm, 0),
	NN("ArgMax", exec_arg, check_arg, 0),
	NN("ArgMin", exec_arg, check_arg, 0),
	NN("CumSum", exec_cumsum, check_cumsum, 0x2),
	NN("ReduceSum", exec_reduce, check_reduce, 0x2),
	NN("ReduceMean", exec_reduce, check_reduce, 0x2),
	NN("ReduceMax", exec_reduce, check_reduce, 0x2),
	NN("ReduceMin", exec_reduce, check_reduce, 0x2),
	NN("ReduceProd", exec_reduce, check_reduce, 0x2),
	NN("ReduceSumSquare", exec_reduce, check_reduce, 0x2),
	NN("ReduceL1", exec_reduce, check_reduce, 0x2),
	NN("ReduceL2", exec_reduce, check_reduce, 0x2),
	NN("ReduceLogSum", exec_reduce, check_reduce, 0x2),
	NN("ReduceLogSumExp", exec_reduce, check_reduce, 0x2),
	NN("ConvTranspose", exec_conv_t, check_conv_t, 0),
	NN("LRN", exec_lrn, check_lrn, 0),
	NN("Hardmax", exec_rowwise, ocl_check_f32, 0),
	NN("LpNormalization", exec_rowwise, check_lpnorm, 0),
	NN("LpPool", exec_lppool, check_lppool, 0),
	NN("GlobalLpPool", exec_lppool, check_lppool, 0),
	NN("MeanVarianceNormalization", exec_mvn, ocl_check_f32, 0),
	NN("NegativeLogLikelihoodLoss", exec_loss, check_loss, 0),
	NN("SoftmaxCrossEntropyLoss", exec_loss, check_loss, 0),
	NN("Det", exec_det, check_det, 0),
	NN("Einsum", exec_einsum, check_einsum, 0),
	{ 0 },
};
