/* SPDX-License-Identifier: MIT */
/*
 * exec_tensor.c - data movement on OpenCL: the reshaping ops (a buffer
 * copy), Transpose / Expand / Slice (one strided-copy kernel), Concat and
 * Split (rectangular buffer copies), Gather, Pad and Resize. Values that
 * shape the result (shape, axes, starts, pads, scales) are host constants.
 */
#include "opencl/internal.h"
#include "ops/tensor_eval.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static bool any_dtype(const ir_node *n, accel_tensor *const *in, int n_in)
{
	size_t es = in[0] ? accel_dtype_size(in[0]->dtype) : 0;

	(void)n;
	(void)n_in;
	return es == 1 || es == 2 || es == 4 || es == 8;
}

/* ---- Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout ---- */

static bool check_copy(const ir_node *n, accel_tensor *const *in, int n_in)
{
	if (!strcmp(n->op_type, "Dropout"))
		for (int i = 1; i < n->n_outputs; i++)
			if (n->outputs[i] >= 0)
				return false;
	return in[0] && accel_dtype_size(in[0]->dtype) > 0;
}

static accel_status exec_copy(ocl_ctx *c)
{
	cl_mem x;

	ACCEL_TRY(ocl_in_mem(c, 0, &x));
	if (x == ocl_out_mem(c, 0))
		return NULL;
	return ocl_copy(c->dev, x, 0, ocl_out_mem(c, 0), 0, c->out[0]->nbytes);
}

/* ---- the strided copy: y[i] = x[base + sum q_k strides[k]] ---- */

/* The output walked as |yrank| dims |ydims| (its own shape, or a finer
 * view of it: DepthToSpace). */
static accel_status strided_view(ocl_ctx *c, cl_mem x, int yrank, const int64_t *ydims,
				 const int64_t *strides, int64_t base)
{
	const accel_tensor *y = c->out[0];
	cl_int n = (cl_int)tensor_numel(y), rank = 0, b = (cl_int)base;
	cl_int8 dims = { { 0 } }, st = { { 0 } };
	cl_mem ym = ocl_out_mem(c, 0);
	char name[32];

	if (!n)
		return NULL;
	/* Drop size-1 axes: fewer divisions per element. */
	for (int d = 0; d < yrank; d++)
		if (ydims[d] != 1) {
			dims.s[rank] = (cl_int)ydims[d];
			st.s[rank++] = (cl_int)strides[d];
		}
	if (!rank) {
		dims.s[0] = 1;
		rank = 1;
	}
	snprintf(name, sizeof(name), "strided_copy_%zu", accel_dtype_size(y->dtype) * 8);
	return OCL_LAUNCH_1D(c->dev, ocl_src_tensor, name, (size_t)n, OA(ym), OA(x),
			     OA(n), OA(rank), OA(dims), OA(st), OA(b));
}

static accel_status strided(ocl_ctx *c, cl_mem x, const accel_tensor *y,
			    const int64_t *strides, int64_t base)
{
	return strided_view(c, x, y->rank, y->dims, strides, base);
}

/* DepthToSpace / SpaceToDepth as one 6-D strided copy. */
static bool check_d2s(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return any_dtype(n, in, n_in) && (in[0]->rank < 0 || in[0]->rank == 4);
}

static accel_status exec_d2s(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0];
	int64_t b = ir_attr_int(c->node, "blocksize", 0);
	int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
	int64_t yd[6], st[6];
	cl_mem xm;

	if (b < 1)
		return status_invalid("blocksize %lld", (long long)b);
	if (c->node->op_type[0] == 'D') {
		int64_t C2 = C / (b * b);
		bool crd = !strcmp(ir_attr_string(c->node, "mode", "DCR"), "CRD");
		/* y viewed as [N, C2, H, b1, W, b2] */
		int64_t v[6] = { N, C2, H, b, W, b };
		int64_t s[6] = { C * H * W, crd ? b * b * H * W : H * W, W,
				 crd ? b * H * W : b * C2 * H * W, 1,
				 crd ? H * W : C2 * H * W };

		memcpy(yd, v, sizeof(v));
		memcpy(st, s, sizeof(s));
	} else {
		int64_t H2 = H / b, W2 = W / b;
		/* y viewed as [N, b1, b2, C, H2, W2] */
		int64_t v[6] = { N, b, b, C, H2, W2 };
		int64_t s[6] = { C * H * W, W, 1, H * W, b * W, b };

		memcpy(yd, v, sizeof(v));
		memcpy(st, s, sizeof(s));
	}
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	return strided_view(c, xm, 6, yd, st, 0);
}

/* ---- Tile, Trilu, GatherElements ---- */

static accel_status exec_tile(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0], *y = c->out[0];
	cl_int n = (cl_int)tensor_numel(y), rank = x->rank;
	cl_int8 od = { { 0 } }, id = { { 0 } };
	cl_mem xm, ym = ocl_out_mem(c, 0);
	char name[16];

	if (!n)
		return NULL;
	if (!rank)
		return exec_copy(c);
	for (int d = 0; d < rank; d++) {
		od.s[d] = (cl_int)y->dims[d];
		id.s[d] = (cl_int)x->dims[d];
	}
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	snprintf(name, sizeof(name), "tile_%zu", accel_dtype_size(x->dtype) * 8);
	return OCL_LAUNCH_1D(c->dev, ocl_src_tensor, name, (size_t)n, OA(ym), OA(xm),
			     OA(n), OA(rank), OA(od), OA(id));
}

static bool check_trilu(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return any_dtype(n, in, n_in) && (in[0]->rank < 0 || in[0]->rank >= 2);
}

static accel_status exec_trilu(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0];
	cl_int n = (cl_int)tensor_numel(x), R = (cl_int)x->dims[x->rank - 2];
	cl_int C = (cl_int)x->dims[x->rank - 1];
	cl_int k = c->n_in > 1 && c->in[1] ? (cl_int)tensor_get_i64(c->in[1], 0) : 0;
	cl_int upper = (cl_int)ir_attr_int(c->node, "upper", 1);
	cl_mem xm, ym = ocl_out_mem(c, 0);
	char name[16];

	if (!n)
		return NULL;
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	snprintf(name, sizeof(name), "trilu_%zu", accel_dtype_size(x->dtype) * 8);
	return OCL_LAUNCH_1D(c->dev, ocl_src_tensor, name, (size_t)n, OA(ym), OA(xm),
			     OA(n), OA(R), OA(C), OA(k), OA(upper));
}

static bool check_gather(const ir_node *n, accel_tensor *const *in, int n_in);

/* Gather and GatherElements: 'indices' against the axis of 'data'. */
static accel_status bad_gather(ocl_ctx *c, int input, int64_t pos, int64_t value)
{
	int64_t ax = ir_attr_int(c->node, "axis", 0);

	if (ax < 0)
		ax += c->in[0]->rank;
	return ocl_bad_index(c, input, "indices", pos, value, c->in[0]->dims[ax], true);
}

static bool check_gather_el(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return check_gather(n, in, n_in);
}

static accel_status exec_gather_el(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0], *idx = c->in[1], *y = c->out[0];
	int64_t ax = ir_attr_int(c->node, "axis", 0), st[ACCEL_MAX_RANK];
	cl_int n = (cl_int)tensor_numel(y), rank = y->rank, axis, axis_dim;
	cl_int8 od = { { 0 } }, xs = { { 0 } };
	cl_mem xm, im, em, ym = ocl_out_mem(c, 0);
	char name[32];

	if (ax < 0)
		ax += x->rank;
	if (ax < 0 || ax >= x->rank || x->rank != y->rank)
		return status_invalid("axis out of range");
	axis = (cl_int)ax;
	axis_dim = (cl_int)x->dims[ax];
	if (!n)
		return NULL;
	dims_strides(x->rank, x->dims, st);
	for (int d = 0; d < rank; d++) {
		od.s[d] = (cl_int)y->dims[d];
		xs.s[d] = (cl_int)st[d];
	}
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	ACCEL_TRY(ocl_in_mem(c, 1, &im));
	ACCEL_TRY(ocl_check_word_range(c, 1, axis_dim, bad_gather, &em));
	snprintf(name, sizeof(name), "gather_el_%zu_%s", accel_dtype_size(x->dtype) * 8,
		 idx->dtype == ACCEL_DTYPE_I64 ? "i64" : "i32");
	return OCL_LAUNCH_1D(c->dev, ocl_src_tensor, name, (size_t)n, OA(ym), OA(xm),
			     OA(im), OA(n), OA(rank), OA(od), OA(xs), OA(axis),
			     OA(axis_dim), OA(em));
}

/* ---- Shape, Size: computed here, uploaded ---- */

static bool check_shape(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return in[0] != NULL;
}

static accel_status exec_shape(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0], *y = c->out[0];
	int64_t v[ACCEL_MAX_RANK];
	int64_t cnt = tensor_numel(y), s;

	if (!strcmp(c->node->op_type, "Size")) {
		v[0] = tensor_numel(x);
		return ocl_upload(c->dev, ocl_out_mem(c, 0), v, sizeof(int64_t));
	}
	s = ir_attr_int(c->node, "start", 0);
	if (s < 0)
		s += x->rank;
	if (s < 0)
		s = 0;
	if (cnt > ACCEL_MAX_RANK || s + cnt > x->rank)
		return status_invalid("Shape output of %lld values", (long long)cnt);
	for (int64_t i = 0; i < cnt; i++)
		v[i] = x->dims[s + i];
	return ocl_upload(c->dev, ocl_out_mem(c, 0), v, (size_t)cnt * sizeof(int64_t));
}

/* ---- Constant: the attribute's value, made on the host and uploaded ---- */

static bool check_constant(const ir_node *n, accel_tensor *const *in, int n_in)
{
	const ir_attr *v = ir_node_attr(n, "value");

	(void)in;
	if (n_in)
		return false;
	if (v)
		return v->t && v->t->data && v->t->dtype != ACCEL_DTYPE_STRING;
	return ir_node_attr(n, "value_float") || ir_node_attr(n, "value_floats") ||
	       ir_node_attr(n, "value_int") || ir_node_attr(n, "value_ints");
}

static accel_status exec_constant(ocl_ctx *c)
{
	const accel_tensor *y = c->out[0];
	accel_tensor *h;
	accel_status st;

	ACCEL_TRY(tensor_new(y->dtype, y->rank, y->dims, &h));
	st = teval_constant(c->node, NULL, 0, &h, 1);
	if (!st && h->nbytes != y->nbytes)
		st = status_invalid("Constant of %zu bytes for an output of %zu", h->nbytes,
				    y->nbytes);
	if (!st && y->nbytes)
		st = ocl_upload(c->dev, ocl_out_mem(c, 0), h->data, y->nbytes);
	accel_tensor_release(h);
	return st;
}

static accel_status exec_transpose(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0];
	int64_t st[ACCEL_MAX_RANK], ost[ACCEL_MAX_RANK];
	size_t np = 0;
	const int64_t *perm = ir_attr_ints(c->node, "perm", &np);
	cl_mem xm;

	dims_strides(x->rank, x->dims, st);
	for (int d = 0; d < x->rank; d++) {
		int64_t p = perm && np == (size_t)x->rank ? perm[d] : x->rank - 1 - d;

		if (p < 0 || p >= x->rank)
			return status_invalid("perm[%d] = %lld out of range", d, (long long)p);
		ost[d] = st[p];
	}
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	return strided(c, xm, c->out[0], ost, 0);
}

static accel_status exec_expand(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0], *y = c->out[0];
	int64_t st[ACCEL_MAX_RANK], ost[ACCEL_MAX_RANK];
	cl_mem xm;

	dims_strides(x->rank, x->dims, st);
	for (int d = 0; d < y->rank; d++) {
		int k = d - (y->rank - x->rank);

		ost[d] = k >= 0 && x->dims[k] != 1 ? st[k] : 0;
	}
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	return strided(c, xm, y, ost, 0);
}

/* Slice: starts/ends/axes/steps inputs (opset >= 10) or attributes. */
static accel_status exec_slice(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0];
	int64_t st[ACCEL_MAX_RANK], ost[ACCEL_MAX_RANK], base = 0;
	int64_t start[ACCEL_MAX_RANK] = { 0 }, step[ACCEL_MAX_RANK];
	const int64_t *starts, *axes = NULL, *steps = NULL;
	size_t ns, na = 0, nst = 0;
	bool opt = c->node->opset >= 10;
	cl_mem xm;

	for (int d = 0; d < x->rank; d++)
		step[d] = 1;
	if (opt) {
		starts = c->in[1]->data;
		ns = (size_t)tensor_numel(c->in[1]);
		if (c->n_in > 3 && c->in[3]) {
			axes = c->in[3]->data;
			na = (size_t)tensor_numel(c->in[3]);
		}
		if (c->n_in > 4 && c->in[4]) {
			steps = c->in[4]->data;
			nst = (size_t)tensor_numel(c->in[4]);
		}
		if (c->in[1]->dtype != ACCEL_DTYPE_I64)
			return status_unsupported("Slice starts of type %s",
						  accel_dtype_name(c->in[1]->dtype));
	} else {
		starts = ir_attr_ints(c->node, "starts", &ns);
		axes = ir_attr_ints(c->node, "axes", &na);
	}
	for (size_t i = 0; i < ns; i++) {
		int64_t a = axes && i < na ? axes[i] : (int64_t)i, D, s, k;

		if (a < 0)
			a += x->rank;
		if (a < 0 || a >= x->rank)
			return status_invalid("slice axis out of range");
		D = x->dims[a];
		k = steps && i < nst ? steps[i] : 1;
		s = starts[i];
		if (s < 0)
			s += D;
		if (k > 0)
			s = s < 0 ? 0 : s > D ? D : s;
		else
			s = s < 0 ? 0 : s > D - 1 ? D - 1 : s;
		start[a] = s;
		step[a] = k;
	}
	dims_strides(x->rank, x->dims, st);
	for (int d = 0; d < x->rank; d++) {
		base += start[d] * st[d];
		ost[d] = st[d] * step[d];
	}
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	return strided(c, xm, c->out[0], ost, base);
}

static bool check_slice(const ir_node *n, accel_tensor *const *in, int n_in)
{
	if (!any_dtype(n, in, n_in))
		return false;
	for (int i = 1; i < n_in; i++)
		if (in[i] && in[i]->dtype != ACCEL_DTYPE_I64)
			return false;
	return true;
}

/* ---- Concat / Split: rows of |outer| blocks ---- */

static accel_status rect_copy(ocl_device *dev, cl_mem src, size_t src_x, size_t src_pitch,
			      cl_mem dst, size_t dst_x, size_t dst_pitch, size_t width,
			      size_t rows)
{
	size_t so[3] = { src_x, 0, 0 }, dor[3] = { dst_x, 0, 0 }, reg[3] = { width, rows, 1 };

	if (!width || !rows)
		return NULL;
	OCL_CALL("clEnqueueCopyBufferRect",
		 clEnqueueCopyBufferRect(dev->queue, src, dst, so, dor, reg, src_pitch,
					 src_pitch * rows, dst_pitch, dst_pitch * rows,
					 0, NULL, NULL));
	return NULL;
}

static int64_t outer_of(const accel_tensor *t, int axis)
{
	int64_t o = 1;

	for (int d = 0; d < axis; d++)
		o *= t->dims[d];
	return o;
}

static accel_status exec_concat(ocl_ctx *c)
{
	const accel_tensor *y = c->out[0];
	int64_t ax = ir_attr_int(c->node, "axis", 0);
	size_t es = accel_dtype_size(y->dtype), row, off = 0;
	int64_t outer;

	if (ax < 0)
		ax += y->rank;
	if (ax < 0 || ax >= y->rank)
		return status_invalid("axis out of range");
	outer = outer_of(y, (int)ax);
	if (!outer)
		return NULL;
	row = y->nbytes / (size_t)outer;
	for (int i = 0; i < c->n_in; i++) {
		size_t w;
		cl_mem m;

		if (!c->in[i] || !c->in[i]->nbytes)
			continue;
		w = c->in[i]->nbytes / (size_t)outer;
		ACCEL_TRY(ocl_in_mem(c, i, &m));
		ACCEL_TRY(rect_copy(c->dev, m, 0, w, ocl_out_mem(c, 0), off, row, w,
				    (size_t)outer));
		off += w;
	}
	(void)es;
	return NULL;
}

static accel_status exec_split(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0];
	int64_t ax = ir_attr_int(c->node, "axis", 0), outer;
	size_t row, off = 0;
	cl_mem xm;

	if (ax < 0)
		ax += x->rank;
	if (ax < 0 || ax >= x->rank)
		return status_invalid("axis out of range");
	outer = outer_of(x, (int)ax);
	if (!outer)
		return NULL;
	row = x->nbytes / (size_t)outer;
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	for (int i = 0; i < c->n_out; i++) {
		size_t w;

		if (!c->out[i])
			continue;
		w = c->out[i]->nbytes / (size_t)outer;
		ACCEL_TRY(rect_copy(c->dev, xm, off, row, ocl_out_mem(c, i), 0, w, w,
				    (size_t)outer));
		off += w;
	}
	return NULL;
}

static bool check_concat(const ir_node *n, accel_tensor *const *in, int n_in)
{
	for (int i = 0; i < n_in; i++)
		if (in[i] && in[0] && in[i]->dtype != in[0]->dtype)
			return false;
	return any_dtype(n, in, n_in);
}

/* ---- Gather ---- */

static bool check_gather(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in == 2 && in[1] && any_dtype(n, in, n_in) &&
	       (in[1]->dtype == ACCEL_DTYPE_I64 || in[1]->dtype == ACCEL_DTYPE_I32);
}

static accel_status exec_gather(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0], *idx = c->in[1], *y = c->out[0];
	int64_t ax = ir_attr_int(c->node, "axis", 0);
	cl_int n = (cl_int)tensor_numel(y), nidx = (cl_int)tensor_numel(idx), inner = 1;
	cl_int axis_dim;
	cl_mem xm, im, em, ym = ocl_out_mem(c, 0);
	char name[32];

	if (ax < 0)
		ax += x->rank;
	if (ax < 0 || ax >= x->rank)
		return status_invalid("axis out of range");
	axis_dim = (cl_int)x->dims[ax];
	for (int d = (int)ax + 1; d < x->rank; d++)
		inner *= (cl_int)x->dims[d];
	if (!n)
		return NULL;
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	ACCEL_TRY(ocl_in_mem(c, 1, &im));
	ACCEL_TRY(ocl_check_word_range(c, 1, axis_dim, bad_gather, &em));
	snprintf(name, sizeof(name), "gather_%zu_%s", accel_dtype_size(x->dtype) * 8,
		 idx->dtype == ACCEL_DTYPE_I64 ? "i64" : "i32");
	return OCL_LAUNCH_1D(c->dev, ocl_src_tensor, name, (size_t)n, OA(ym), OA(xm),
			     OA(im), OA(n), OA(nidx), OA(inner), OA(axis_dim), OA(em));
}

/* ---- Pad ---- */

static bool check_pad(const ir_node *n, accel_tensor *const *in, int n_in)
{
	const char *mode = ir_attr_string(n, "mode", "constant");

	if (!any_dtype(n, in, n_in) || (n_in > 3 && in[3]))
		return false;
	if (n_in > 1 && in[1] && in[1]->dtype != ACCEL_DTYPE_I64)
		return false;
	return !strcmp(mode, "constant") || !strcmp(mode, "reflect") ||
	       !strcmp(mode, "edge") || !strcmp(mode, "wrap");
}

static accel_status exec_pad(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0], *y = c->out[0];
	const char *mode = ir_attr_string(c->node, "mode", "constant");
	cl_int m = !strcmp(mode, "reflect") ? 1 : !strcmp(mode, "edge") ? 2 :
		   !strcmp(mode, "wrap") ? 3 : 0;
	cl_int n = (cl_int)tensor_numel(y), rank = x->rank;
	cl_int8 od = { { 0 } }, id = { { 0 } }, pb = { { 0 } };
	const int64_t *pads;
	size_t np = 0, es = accel_dtype_size(x->dtype);
	union { cl_uchar u8; cl_ushort u16; cl_uint u32; cl_ulong u64; } val = { 0 };
	cl_mem xm, ym = ocl_out_mem(c, 0);
	char name[16];

	if (c->node->opset >= 11) {
		pads = c->in[1]->data;
		np = (size_t)tensor_numel(c->in[1]);
		if (c->n_in > 2 && c->in[2] && tensor_numel(c->in[2]) > 0)
			memcpy(&val, c->in[2]->data, es);
	} else {
		float v = ir_attr_float(c->node, "value", 0.0f);

		pads = ir_attr_ints(c->node, "pads", &np);
		memcpy(&val, &v, sizeof(v));
	}
	if (np != 2 * (size_t)rank)
		return status_invalid("%zu pads for rank %d", np, rank);
	if (!rank) {
		ACCEL_TRY(ocl_in_mem(c, 0, &xm));
		return ocl_copy(c->dev, xm, 0, ym, 0, y->nbytes);
	}
	for (int d = 0; d < rank; d++) {
		od.s[d] = (cl_int)y->dims[d];
		id.s[d] = (cl_int)x->dims[d];
		pb.s[d] = (cl_int)pads[d];
		if (!x->dims[d] && y->dims[d] && m)
			return status_invalid("%s padding of an empty axis", mode);
	}
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	snprintf(name, sizeof(name), "pad_%zu", es * 8);
	return ocl_launch_1d(c->dev, ocl_src_tensor, name, (size_t)n, 9,
			     (ocl_arg[]){ OA(ym), OA(xm), OA(n), OA(rank), OA(od),
					  OA(id), OA(pb), OA(m), { es, &val } });
}

/* CenterCropPad: the pad kernel with a begin offset per axis, negative
 * where the axis is cropped; padding is zeros. */
static accel_status exec_ccp(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0], *y = c->out[0];
	cl_int n = (cl_int)tensor_numel(y), rank = x->rank, m = 0;
	cl_int8 od = { { 0 } }, id = { { 0 } }, pb = { { 0 } };
	size_t es = accel_dtype_size(x->dtype);
	cl_ulong zero = 0;
	cl_mem xm, ym = ocl_out_mem(c, 0);
	char name[16];

	if (rank != y->rank || rank > 8)
		return status_invalid("CenterCropPad: ranks %d and %d", rank, y->rank);
	if (!n)
		return NULL;
	if (!rank || !tensor_numel(x)) {
		if (rank)
			return status_invalid("CenterCropPad of an empty input");
		ACCEL_TRY(ocl_in_mem(c, 0, &xm));
		return ocl_copy(c->dev, xm, 0, ym, 0, y->nbytes);
	}
	for (int d = 0; d < rank; d++) {
		int64_t i = x->dims[d], o = y->dims[d];

		od.s[d] = (cl_int)o;
		id.s[d] = (cl_int)i;
		pb.s[d] = (cl_int)(o > i ? (o - i) / 2 : -((i - o) / 2));
	}
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	snprintf(name, sizeof(name), "pad_%zu", es * 8);
	return ocl_launch_1d(c->dev, ocl_src_tensor, name, (size_t)n, 9,
			     (ocl_arg[]){ OA(ym), OA(xm), OA(n), OA(rank), OA(od),
					  OA(id), OA(pb), OA(m), { es, &zero } });
}

/* ---- Resize: a direct kernel for the last two axes of 4-D inputs (nearest,
 * linear), taps built on the host for every other case ---- */

static int ctm_code(const char *s)
{
	static const char *const names[] = { "half_pixel", "asymmetric", "align_corners",
					     "pytorch_half_pixel",
					     "tf_half_pixel_for_nn" };

	for (int i = 0; i < 5; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

static int nearest_code(const char *s)
{
	static const char *const names[] = { "round_prefer_floor", "round_prefer_ceil",
					     "floor", "ceil" };

	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

/* What the direct kernel (rank 4, the last two axes) covers. */
static bool resize_direct(const ir_node *n, const accel_tensor *x, const accel_tensor *y)
{
	const char *mode = ir_attr_string(n, "mode", "nearest");

	if (x->rank != 4 || y->dims[0] != x->dims[0] || y->dims[1] != x->dims[1] ||
	    ir_node_attr(n, "axes"))
		return false;
	if (strcmp(mode, "nearest") && strcmp(mode, "linear"))
		return false;
	if (ir_attr_int(n, "antialias", 0) || ir_attr_int(n, "exclude_outside", 0) ||
	    ctm_code(ir_attr_string(n, "coordinate_transformation_mode", "half_pixel")) < 0 ||
	    nearest_code(ir_attr_string(n, "nearest_mode", "round_prefer_floor")) < 0)
		return false;
	return n->opset < 11 ||
	       strcmp(ir_attr_string(n, "coordinate_transformation_mode", ""),
		      "tf_crop_and_resize");
}

static bool check_resize(const ir_node *n, accel_tensor *const *in, int n_in)
{
	static const char *const ctms[] = { "half_pixel", "asymmetric", "align_corners",
					    "pytorch_half_pixel", "tf_half_pixel_for_nn",
					    "half_pixel_symmetric", "tf_crop_and_resize" };
	const char *mode = ir_attr_string(n, "mode", "nearest");
	const char *ctm = ir_attr_string(n, "coordinate_transformation_mode", "half_pixel");
	bool legacy = !strcmp(n->op_type, "Upsample") || n->opset < 11, known = false;

	if (!ocl_check_f32(n, in, 1) || in[0]->rank == 0 || in[0]->rank > 8)
		return false;
	if (strcmp(mode, "nearest") && strcmp(mode, "linear") &&
	    (strcmp(mode, "cubic") || legacy))
		return false;
	for (size_t i = 0; i < sizeof(ctms) / sizeof(ctms[0]); i++)
		known = known || !strcmp(ctm, ctms[i]);
	if (legacy)
		return true;
	return known &&
	       nearest_code(ir_attr_string(n, "nearest_mode", "round_prefer_floor")) >= 0;
}

/* ---- Resize, any axes and modes: separable taps built here ---- */

typedef struct rs_cfg {
	int mode; /* 0 nearest, 1 linear, 2 cubic */
	const char *ctm;
	int nearest;
	double a;
	bool exclude, antialias;
} rs_cfg;

/* Input coordinate of output index |o| (the ONNX reference's formulas;
 * the output extent in them is scale * in, unrounded). */
static double rs_coord(const rs_cfg *c, double o, double scale, int64_t in,
		       int64_t out, double r0, double r1, bool *outside)
{
	double ow = scale * (double)in, v;

	*outside = false;
	if (!strcmp(c->ctm, "asymmetric"))
		return o / scale;
	if (!strcmp(c->ctm, "align_corners"))
		return ow == 1 ? 0 : o * (double)(in - 1) / (ow - 1);
	if (!strcmp(c->ctm, "pytorch_half_pixel"))
		return ow == 1 ? -0.5 : (o + 0.5) / scale - 0.5;
	if (!strcmp(c->ctm, "tf_half_pixel_for_nn"))
		return (o + 0.5) / scale;
	if (!strcmp(c->ctm, "half_pixel_symmetric"))
		return (double)in / 2 * (1 - (double)out / ow) + (o + 0.5) / scale - 0.5;
	if (!strcmp(c->ctm, "tf_crop_and_resize")) {
		v = ow == 1 ? (r1 - r0) * (double)(in - 1) / 2 :
			      o * (r1 - r0) * (double)(in - 1) / (ow - 1);
		v += r0 * (double)(in - 1);
		*outside = v < 0 || v > (double)(in - 1);
		return v;
	}
	return (o + 0.5) / scale - 0.5;
}

static double rs_cubic(double x, double a)
{
	x = fabs(x);
	if (x <= 1)
		return ((a + 2) * x - (a + 3)) * x * x + 1;
	return x < 2 ? ((a * x - 5 * a) * x + 8 * a) * x - 4 * a : 0;
}

/* An axis the op leaves as it is: one tap, o -> o. */
static bool rs_identity(const rs_cfg *c, const resize_params *p, int d, int64_t in,
			int64_t out)
{
	return out == in && fabs(p->scale[d] - 1) < 1e-9 &&
	       (strcmp(c->ctm, "tf_crop_and_resize") ||
		(p->roi_start[d] == 0 && p->roi_end[d] == 1));
}

/* Taps of one axis: |n| per output index into idx/w, flags into ext. */
static void rs_axis(const rs_cfg *c, const resize_params *p, int d, int64_t in,
		    int64_t out, int n, cl_int *idx, cl_float *w, cl_int *ext)
{
	double scale = p->scale[d];
	double s = c->antialias && scale < 1 ? scale : 1;
	int first = 1 - n / 2;
	bool same = rs_identity(c, p, d, in, out);

	for (int64_t o = 0; o < out; o++) {
		bool outside;
		double x = rs_coord(c, (double)o, scale, in, out, p->roi_start[d],
				    p->roi_end[d], &outside);
		int64_t x0 = (int64_t)floor(x), k;
		double r = x - (double)x0, wt[64], sum = 0;

		ext[o] = outside && !same;
		if (same) {
			idx[o] = (cl_int)o;
			w[o] = 1;
			continue;
		}
		if (r == 0) { /* an integer coordinate is the right end of its cell */
			x0--;
			r = 1;
		}
		if (c->mode == 0) {
			k = r == 1 ? x0 + 1 :
			    c->nearest == 1 ? (r < 0.5 ? x0 : x0 + 1) :
			    c->nearest == 2 ? x0 : c->nearest == 3 ? x0 + 1 :
			    (r <= 0.5 ? x0 : x0 + 1);
			idx[o] = (cl_int)(k < 0 ? 0 : k >= in ? in - 1 : k);
			w[o] = 1;
			continue;
		}
		for (int t = 0; t < n; t++) {
			double dd = (double)(first + t) - r;

			k = x0 + first + t;
			wt[t] = c->mode == 1 ? fmax(0, 1 - fabs(dd * s)) : rs_cubic(dd * s, c->a);
			if (c->exclude && (k < 0 || k >= in))
				wt[t] = 0;
			sum += wt[t];
			idx[o * n + t] = (cl_int)(k < 0 ? 0 : k >= in ? in - 1 : k);
		}
		for (int t = 0; t < n; t++)
			w[o * n + t] = (cl_float)((c->antialias || c->exclude) && sum != 0 ?
						  wt[t] / sum : wt[t]);
	}
}

static int rs_taps(const rs_cfg *c, const resize_params *p, int d, int64_t in, int64_t out)
{
	double s = c->antialias && p->scale[d] < 1 ? p->scale[d] : 1;

	if (rs_identity(c, p, d, in, out))
		return 1;
	if (c->mode == 0)
		return 1;
	return 2 - 2 * (int)(floor((c->mode == 1 ? -1 : -2) / s) + 1);
}

static accel_status exec_resize_taps(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0], *y = c->out[0];
	const ir_node *n = c->node;
	const char *mode = ir_attr_string(n, "mode", "nearest");
	bool legacy = !strcmp(n->op_type, "Upsample") || n->opset < 11;
	rs_cfg cfg = {
		.mode = !strcmp(mode, "nearest") ? 0 : !strcmp(mode, "cubic") ? 2 : 1,
		.ctm = legacy ? "asymmetric" :
		       ir_attr_string(n, "coordinate_transformation_mode", "half_pixel"),
		.nearest = legacy ? 2 :
			   nearest_code(ir_attr_string(n, "nearest_mode", "round_prefer_floor")),
		.a = ir_attr_float(n, "cubic_coeff_a", -0.75f),
		.exclude = ir_attr_int(n, "exclude_outside", 0) != 0,
	};
	resize_params p;
	int64_t st[ACCEL_MAX_RANK];
	cl_int total = (cl_int)tensor_numel(y), rank = x->rank, ni = 0, nw = 0;
	cl_int8 od = { { 0 } }, xs = { { 0 } }, tn = { { 0 } }, io = { { 0 } };
	cl_int8 wo = { { 0 } }, eo = { { 0 } };
	cl_float ext = ir_attr_float(n, "extrapolation_value", 0.0f);
	cl_int *ti;
	cl_float *tw;
	cl_mem xm, im, wm, ym = ocl_out_mem(c, 0);
	accel_status st_ = NULL;

	cfg.antialias = ir_attr_int(n, "antialias", 0) != 0 && cfg.mode != 0;
	ACCEL_TRY(resize_resolve(n, c->in, c->n_in, &p));
	if (!total)
		return NULL;
	if (!tensor_numel(x))
		return status_invalid("Resize of an empty input");
	dims_strides(rank, x->dims, st);
	for (int d = 0; d < rank; d++) {
		int t = rs_taps(&cfg, &p, d, x->dims[d], y->dims[d]);

		if (t > 64)
			return status_unsupported("Resize with %d taps along axis %d", t, d);
		od.s[d] = (cl_int)y->dims[d];
		xs.s[d] = (cl_int)st[d];
		tn.s[d] = t;
		io.s[d] = ni;
		wo.s[d] = nw;
		ni += (cl_int)y->dims[d] * t;
		nw += (cl_int)y->dims[d] * t;
		eo.s[d] = ni;
		ni += (cl_int)y->dims[d];
	}
	ti = malloc(sizeof(*ti) * (size_t)ni);
	tw = malloc(sizeof(*tw) * (size_t)nw);
	if (!ti || !tw) {
		free(ti);
		free(tw);
		return status_oom("Resize taps");
	}
	for (int d = 0; d < rank; d++)
		rs_axis(&cfg, &p, d, x->dims[d], y->dims[d], tn.s[d], ti + io.s[d],
			tw + wo.s[d], ti + eo.s[d]);
	st_ = ocl_scratch(c, sizeof(*ti) * (size_t)ni, &im);
	if (!st_)
		st_ = ocl_upload(c->dev, im, ti, sizeof(*ti) * (size_t)ni);
	if (!st_)
		st_ = ocl_scratch(c, sizeof(*tw) * (size_t)nw, &wm);
	if (!st_)
		st_ = ocl_upload(c->dev, wm, tw, sizeof(*tw) * (size_t)nw);
	free(ti);
	free(tw);
	ACCEL_TRY(st_);
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	return OCL_LAUNCH_1D(c->dev, ocl_src_tensor, "resize_taps_f32", (size_t)total,
			     OA(ym), OA(xm), OA(im), OA(wm), OA(total), OA(rank), OA(od),
			     OA(xs), OA(tn), OA(io), OA(wo), OA(eo), OA(ext));
}

static accel_status exec_resize(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0], *y = c->out[0];
	const ir_node *n = c->node;
	int scales_in = n->opset >= 11 ? 2 : 1;
	cl_int mode = !strcmp(ir_attr_string(n, "mode", "nearest"), "linear");
	cl_int ctm = n->opset >= 11 ?
		ctm_code(ir_attr_string(n, "coordinate_transformation_mode", "half_pixel")) : 1;
	cl_int near = n->opset >= 11 ?
		nearest_code(ir_attr_string(n, "nearest_mode", "round_prefer_floor")) : 2;
	cl_int total = (cl_int)tensor_numel(y);
	cl_int H = (cl_int)x->dims[2], W = (cl_int)x->dims[3];
	cl_int OH = (cl_int)y->dims[2], OW = (cl_int)y->dims[3];
	cl_float sh = H ? (float)OH / (float)H : 1.0f, sw = W ? (float)OW / (float)W : 1.0f;
	cl_mem xm, ym = ocl_out_mem(c, 0);

	if (!resize_direct(n, x, y))
		return exec_resize_taps(c);
	if (n->opset < 11 && mode == 0)
		near = 2; /* Upsample/Resize-10 nearest: floor of asymmetric */
	if (c->n_in > scales_in && c->in[scales_in] && tensor_numel(c->in[scales_in]) == 4) {
		sh = (float)tensor_get_f64(c->in[scales_in], 2);
		sw = (float)tensor_get_f64(c->in[scales_in], 3);
	}
	if (!total)
		return NULL;
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	return OCL_LAUNCH_1D(c->dev, ocl_src_tensor, "resize_f32", (size_t)total, OA(ym),
			     OA(xm), OA(total), OA(H), OA(W), OA(OH), OA(OW), OA(sh),
			     OA(sw), OA(mode), OA(ctm), OA(near));
}

#define T(op, fn, chk, host) { op, "", ocl_src_tensor, fn, chk, host }

const ocl_op ocl_ops_tensor[] = {
	T("Reshape", exec_copy, check_copy, 0x2),
	T("Flatten", exec_copy, check_copy, 0),
	T("Squeeze", exec_copy, check_copy, 0x2),
	T("Unsqueeze", exec_copy, check_copy, 0x2),
	T("Identity", exec_copy, check_copy, 0),
	T("Dropout", exec_copy, check_copy, 0x6),
	T("Transpose", exec_transpose, any_dtype, 0),
	T("Expand", exec_expand, any_dtype, 0x2),
	T("Slice", exec_slice, check_slice, 0x1e),
	T("Concat", exec_concat, check_concat, 0),
	T("Split", exec_split, any_dtype, 0x2),
	T("Gather", exec_gather, check_gather, 0),
	T("Pad", exec_pad, check_pad, 0xe),
	T("Resize", exec_resize, check_resize, 0xe),
	T("Upsample", exec_resize, check_resize, 0x2),
	T("DepthToSpace", exec_d2s, check_d2s, 0),
	T("SpaceToDepth", exec_d2s, check_d2s, 0),
	T("Tile", exec_tile, any_dtype, 0x2),
	T("Trilu", exec_trilu, check_trilu, 0x2),
	T("GatherElements", exec_gather_el, check_gather_el, 0),
	T("Shape", exec_shape, check_shape, 0),
	T("Size", exec_shape, check_shape, 0),
	T("CenterCropPad", exec_ccp, check_slice, 0x2),
	T("Constant", exec_constant, check_constant, 0),
	{ 0 },
};
