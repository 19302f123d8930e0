/* SPDX-License-Identifier: MIT */
/*
 * exec_index.c - index-driven ops on OpenCL: ScatterElements / Scatter /
 * ScatterND (with reductions), TensorScatter, MaxUnpool, GatherND, TopK,
 * OneHot, ReverseSequence, and the generators Range, EyeLike,
 * ConstantOfShape and the Hann / Hamming / Blackman windows.
 *
 * Scatters keep the CPU's order of updates: every work-item owns a set of
 * output elements no other work-item writes and applies its updates to
 * them in index order, so duplicate indices give the CPU's answer and no
 * atomics are needed. An out-of-range index is reported through the
 * device's error word (check.c), which fails the exec with the input, the
 * value and the allowed range, as on the CPU; the kernel meanwhile skips
 * it (scatters) or reads 0 (gathers), so the output is still defined.
 */
#include "opencl/internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static size_t elem_bits(accel_dtype dt)
{
	return accel_dtype_size(dt) * 8;
}

static bool bits_ok(const accel_tensor *t)
{
	size_t es = t ? accel_dtype_size(t->dtype) : 0;

	return es == 1 || es == 2 || es == 4 || es == 8;
}

static bool is_idx(const accel_tensor *t)
{
	return ocl_is(t, ACCEL_DTYPE_I64) || ocl_is(t, ACCEL_DTYPE_I32);
}

static bool is_num(const accel_tensor *t)
{
	return ocl_is(t, ACCEL_DTYPE_F32) || ocl_is(t, ACCEL_DTYPE_I32) ||
	       ocl_is(t, ACCEL_DTYPE_I64);
}

/* ---- ScatterElements, Scatter, ScatterND ---- */

/* "none", "add", "mul", "max", "min", or NULL for anything else. */
static const char *reduction(const ir_node *n)
{
	static const char *const names[] = { "none", "add", "mul", "max", "min" };
	const char *r = ir_attr_string(n, "reduction", "none");

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(r, names[i]))
			return names[i];
	return NULL;
}

static bool check_scatter(const ir_node *n, accel_tensor *const *in, int n_in)
{
	const char *red = reduction(n);

	if (n_in != 3 || !in[0] || !in[1] || !in[2] || !red ||
	    in[2]->dtype != in[0]->dtype || !bits_ok(in[0]))
		return false;
	if (strcmp(red, "none") && !is_num(in[0]))
		return false;
	if (!strcmp(n->op_type, "ScatterND"))
		return ocl_is(in[1], ACCEL_DTYPE_I64);
	return is_idx(in[1]);
}

/* "scatter_el_none_32" / "scatter_el_add_f32" and friends. */
static void scatter_name(char *buf, size_t len, const char *kind, const ir_node *n,
			 accel_dtype dt)
{
	const char *red = reduction(n);

	if (!strcmp(red, "none"))
		snprintf(buf, len, "scatter_%s_none_%zu", kind, elem_bits(dt));
	else
		snprintf(buf, len, "scatter_%s_%s_%s", kind, red, ocl_type_sfx(dt));
}

static accel_status bad_scatter_el(ocl_ctx *c, int input, int64_t pos, int64_t value)
{
	int64_t ax = ir_attr_int(c->node, "axis", 0);

	if (ax < 0)
		ax += c->in[0]->rank;
	return ocl_bad_index(c, input, "indices", pos, value, c->in[0]->dims[ax], true);
}

static accel_status exec_scatter_el(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0], *idx = c->in[1], *u = c->in[2];
	int64_t ax = ir_attr_int(c->node, "axis", 0), st[ACCEL_MAX_RANK];
	cl_int rank = x->rank, axis, axis_dim, nfib;
	cl_int8 idims = { { 0 } }, ys = { { 0 } };
	cl_mem xm, im, um, em, ym = ocl_out_mem(c, 0);
	char name[48];

	if (ax < 0)
		ax += x->rank;
	if (ax < 0 || ax >= x->rank || idx->rank != x->rank ||
	    !tensor_same_shape(idx, u))
		return status_invalid("%s: 'indices' and 'updates' must have one shape and the rank of 'data' (axis %lld)",
				      c->node->op_type, (long long)ax);
	if (rank > 8)
		return status_unsupported("%s of rank %d", c->node->op_type, rank);
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	if (xm != ym)
		ACCEL_TRY(ocl_copy(c->dev, xm, 0, ym, 0, c->out[0]->nbytes));
	if (!tensor_numel(idx))
		return NULL;
	axis = (cl_int)ax;
	axis_dim = (cl_int)x->dims[ax];
	nfib = (cl_int)(tensor_numel(idx) / idx->dims[ax]);
	dims_strides(x->rank, x->dims, st);
	for (int d = 0; d < rank; d++) {
		idims.s[d] = (cl_int)idx->dims[d];
		ys.s[d] = (cl_int)st[d];
	}
	ACCEL_TRY(ocl_in_mem(c, 1, &im));
	ACCEL_TRY(ocl_in_mem(c, 2, &um));
	ACCEL_TRY(ocl_check_word_range(c, 1, axis_dim, bad_scatter_el, &em));
	scatter_name(name, sizeof(name), "el", c->node, x->dtype);
	strcat(name, idx->dtype == ACCEL_DTYPE_I64 ? "_i64" : "_i32");
	return OCL_LAUNCH_1D(c->dev, ocl_src_index, name, (size_t)nfib, OA(ym), OA(im),
			     OA(um), OA(nfib), OA(rank), OA(idims), OA(ys), OA(axis),
			     OA(axis_dim), OA(em));
}

/* ScatterND and GatherND: component pos % q of a tuple indexes axis
 * batch_dims + pos % q of 'data'. */
static accel_status bad_nd(ocl_ctx *c, int input, int64_t pos, int64_t value)
{
	const accel_tensor *idx = c->in[input];
	int64_t b = ir_attr_int(c->node, "batch_dims", 0);
	int64_t q = idx->dims[idx->rank - 1];

	return ocl_bad_index(c, input, "indices", pos, value,
			     c->in[0]->dims[b + pos % q], true);
}

static accel_status exec_scatter_nd(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0], *idx = c->in[1], *u = c->in[2];
	int64_t st[ACCEL_MAX_RANK], q, ntup = 1, inner = 1;
	cl_int8 xd = { { 0 } }, xs = { { 0 } };
	cl_int cq, cntup, cinner;
	cl_mem xm, im, um, em, ym = ocl_out_mem(c, 0);
	char name[48];

	if (idx->rank < 1)
		return status_invalid("ScatterND: 'indices' must have rank >= 1");
	q = idx->dims[idx->rank - 1];
	if (q > x->rank || q > 8)
		return status_invalid("ScatterND: index tuples of %lld for rank %d",
				      (long long)q, x->rank);
	for (int i = 0; i < idx->rank - 1; i++)
		ntup *= idx->dims[i];
	for (int i = (int)q; i < x->rank; i++)
		inner *= x->dims[i];
	if (tensor_numel(u) != ntup * inner)
		return status_invalid("ScatterND: input 'updates' has %lld values, expected %lld",
				      (long long)tensor_numel(u), (long long)(ntup * inner));
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	if (xm != ym)
		ACCEL_TRY(ocl_copy(c->dev, xm, 0, ym, 0, c->out[0]->nbytes));
	if (!ntup || !inner)
		return NULL;
	dims_strides(x->rank, x->dims, st);
	for (int k = 0; k < q; k++) {
		xd.s[k] = (cl_int)x->dims[k];
		xs.s[k] = (cl_int)st[k];
	}
	cq = (cl_int)q;
	cntup = (cl_int)ntup;
	cinner = (cl_int)inner;
	ACCEL_TRY(ocl_in_mem(c, 1, &im));
	ACCEL_TRY(ocl_in_mem(c, 2, &um));
	ACCEL_TRY(ocl_check_word(c, bad_nd, &em));
	scatter_name(name, sizeof(name), "nd", c->node, x->dtype);
	return OCL_LAUNCH_1D(c->dev, ocl_src_index, name, (size_t)inner, OA(ym), OA(im),
			     OA(um), OA(cntup), OA(cq), OA(cinner), OA(xd), OA(xs),
			     OA(em));
}

/* ---- TensorScatter (a KV-cache update) ---- */

static bool check_tscatter(const ir_node *n, accel_tensor *const *in, int n_in)
{
	const char *mode = ir_attr_string(n, "mode", "linear");

	if (n_in < 2 || !bits_ok(in[0]) || !in[1] || in[1]->dtype != in[0]->dtype ||
	    (n_in > 2 && in[2] && !ocl_is(in[2], ACCEL_DTYPE_I64)))
		return false;
	return !strcmp(mode, "linear") || !strcmp(mode, "circular");
}

/* Linear mode: write_indices[b] + seq must stay inside the cache. */
static accel_status bad_tscatter(ocl_ctx *c, int input, int64_t pos, int64_t value)
{
	int64_t ax = ir_attr_int(c->node, "axis", -2);
	int64_t max_len, seq;

	if (ax < 0)
		ax += c->in[0]->rank;
	max_len = c->in[0]->dims[ax];
	seq = c->in[1]->dims[ax];
	return status_invalid("input 'write_indices': %" PRId64 " at [%" PRId64 "] writes positions %"
			      PRId64 "..%" PRId64 ", outside a cache of %" PRId64
			      " (allowed 0..%" PRId64 ")",
			      value, pos, value, value + seq - 1, max_len, max_len - seq);
}

static accel_status exec_tscatter(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0], *u = c->in[1];
	int64_t ax = ir_attr_int(c->node, "axis", -2), prefix = 1;
	cl_int circular = !strcmp(ir_attr_string(c->node, "mode", "linear"), "circular");
	cl_int n = (cl_int)tensor_numel(u), seq, inner = 1, max_len, bb;
	cl_int has_w = c->n_in > 2 && c->in[2];
	cl_mem xm, um, wm, em, ym = ocl_out_mem(c, 0);
	char name[24];

	if (ax < 0)
		ax += x->rank;
	if (ax < 1 || ax >= x->rank || u->rank != x->rank)
		return status_invalid("TensorScatter: axis %lld for rank %d", (long long)ax,
				      x->rank);
	max_len = (cl_int)x->dims[ax];
	seq = (cl_int)u->dims[ax];
	for (int d = (int)ax + 1; d < x->rank; d++)
		inner *= (cl_int)x->dims[d];
	for (int d = 0; d < ax; d++)
		prefix *= x->dims[d];
	bb = x->dims[0] ? (cl_int)(prefix / x->dims[0]) : 1;
	if (circular && seq > max_len)
		return status_unsupported("TensorScatter: a circular update longer than the cache");
	if (has_w && tensor_numel(c->in[2]) != x->dims[0])
		return status_invalid("TensorScatter: 'write_indices' has %lld values for a batch of %lld",
				      (long long)tensor_numel(c->in[2]), (long long)x->dims[0]);
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	if (xm != ym)
		ACCEL_TRY(ocl_copy(c->dev, xm, 0, ym, 0, c->out[0]->nbytes));
	if (!n || !max_len)
		return NULL;
	ACCEL_TRY(ocl_in_mem(c, 1, &um));
	wm = um;
	if (has_w)
		ACCEL_TRY(ocl_in_mem(c, 2, &wm));
	/* only write_indices can be bad (seq <= max_len, by the schema), and
	 * not when circular: else the kernel never touches |em| */
	em = um;
	if (has_w && !circular)
		ACCEL_TRY(ocl_check_word(c, bad_tscatter, &em));
	snprintf(name, sizeof(name), "tscatter_%zu", elem_bits(x->dtype));
	return OCL_LAUNCH_1D(c->dev, ocl_src_index, name, (size_t)n, OA(ym), OA(um),
			     OA(wm), OA(has_w), OA(n), OA(seq), OA(inner), OA(max_len),
			     OA(bb), OA(circular), OA(em));
}

/* ---- MaxUnpool ---- */

static bool check_unpool(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in >= 2 && bits_ok(in[0]) && ocl_is(in[1], ACCEL_DTYPE_I64) &&
	       (in[0]->rank < 0 || (in[0]->rank >= 3 && in[0]->rank <= 8)) &&
	       (n_in < 3 || !in[2] || ocl_is(in[2], ACCEL_DTYPE_I64));
}

/* The unpooled shape (before output_shape pads it) and its element count. */
static accel_status unpooled_shape(ocl_ctx *c, int64_t *ish, int64_t *total)
{
	const accel_tensor *x = c->in[0], *y = c->out[0];
	size_t nk = 0, ns = 0, np = 0;
	const int64_t *k = ir_attr_ints(c->node, "kernel_shape", &nk);
	const int64_t *s = ir_attr_ints(c->node, "strides", &ns);
	const int64_t *p = ir_attr_ints(c->node, "pads", &np);
	int nsp = x->rank - 2;

	if (!k || (int)nk != nsp || (s && (int)ns != nsp) || (p && (int)np != 2 * nsp) ||
	    y->rank != x->rank)
		return status_invalid("MaxUnpool: 'kernel_shape', 'strides' and 'pads' must match the %d spatial axes",
				      nsp);
	*total = 1;
	for (int d = 0; d < x->rank; d++) {
		ish[d] = d < 2 ? x->dims[d] :
			 (x->dims[d] - 1) * (s ? s[d - 2] : 1) + k[d - 2] -
				 (p ? p[d - 2] + p[d - 2 + nsp] : 0);
		if (ish[d] > y->dims[d])
			return status_invalid("MaxUnpool: 'output_shape' is smaller than the unpooled shape");
		*total *= ish[d];
	}
	return NULL;
}

static accel_status bad_unpool(ocl_ctx *c, int input, int64_t pos, int64_t value)
{
	int64_t ish[ACCEL_MAX_RANK], total;
	char at[160];

	ACCEL_TRY(unpooled_shape(c, ish, &total));
	ocl_index_pos(c->in[input], pos, at, sizeof(at));
	return status_invalid("input 'I': index %" PRId64 " at %s is outside the unpooled %" PRId64
			      " elements (allowed 0..%" PRId64 ")",
			      value, at, total, total - 1);
}

static accel_status exec_unpool(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0], *y = c->out[0];
	int64_t ost[ACCEL_MAX_RANK], sh[ACCEL_MAX_RANK], total64;
	cl_int n = (cl_int)tensor_numel(x), ny = (cl_int)tensor_numel(y), rank = x->rank;
	cl_int8 ish = { { 0 } }, os = { { 0 } };
	cl_long total;
	cl_ulong zero = 0;
	size_t es = accel_dtype_size(x->dtype);
	cl_mem xm, im, em, ym = ocl_out_mem(c, 0);
	char name[24];

	if (tensor_numel(c->in[1]) != n)
		return status_invalid("MaxUnpool: input 'I' must have one index per element of 'X'");
	ACCEL_TRY(unpooled_shape(c, sh, &total64));
	total = (cl_long)total64;
	dims_strides(rank, y->dims, ost);
	for (int d = 0; d < rank; d++) {
		ish.s[d] = (cl_int)sh[d];
		os.s[d] = (cl_int)ost[d];
	}
	if (!ny)
		return NULL;
	snprintf(name, sizeof(name), "fill_%zu", es * 8);
	ACCEL_TRY(ocl_launch_1d(c->dev, ocl_src_index, name, (size_t)ny, 3,
				(ocl_arg[]){ OA(ym), OA(ny), { es, &zero } }));
	if (!n)
		return NULL;
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	ACCEL_TRY(ocl_in_mem(c, 1, &im));
	ACCEL_TRY(ocl_check_word(c, bad_unpool, &em));
	snprintf(name, sizeof(name), "maxunpool_%zu", es * 8);
	return OCL_LAUNCH_1D(c->dev, ocl_src_index, name, (size_t)n, OA(ym), OA(xm),
			     OA(im), OA(n), OA(rank), OA(ish), OA(os), OA(total), OA(em));
}

/* ---- GatherND ---- */

static bool check_gather_nd(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in == 2 && bits_ok(in[0]) && ocl_is(in[1], ACCEL_DTYPE_I64);
}

static accel_status exec_gather_nd(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0], *idx = c->in[1], *y = c->out[0];
	int64_t b = ir_attr_int(c->node, "batch_dims", 0), st[ACCEL_MAX_RANK];
	int64_t q, per = 1, inner = 1, xbatch = 1;
	cl_int8 xd = { { 0 } }, xs = { { 0 } };
	cl_int n = (cl_int)tensor_numel(y), cq, cper, cinner, cxb;
	cl_mem xm, im, em, ym = ocl_out_mem(c, 0);
	char name[24];

	if (idx->rank < 1 || b < 0 || b >= idx->rank || b > x->rank)
		return status_invalid("GatherND: batch_dims %lld for ranks %d and %d",
				      (long long)b, x->rank, idx->rank);
	q = idx->dims[idx->rank - 1];
	if (b + q > x->rank || q > 8)
		return status_invalid("GatherND: index tuples of %lld for rank %d",
				      (long long)q, x->rank);
	for (int i = (int)b; i < idx->rank - 1; i++)
		per *= idx->dims[i];
	for (int i = (int)(b + q); i < x->rank; i++)
		inner *= x->dims[i];
	for (int i = (int)b; i < x->rank; i++)
		xbatch *= x->dims[i];
	if (!n || !inner || !per)
		return NULL;
	dims_strides(x->rank, x->dims, st);
	for (int k = 0; k < q; k++) {
		xd.s[k] = (cl_int)x->dims[b + k];
		xs.s[k] = (cl_int)st[b + k];
	}
	cq = (cl_int)q;
	cper = (cl_int)per;
	cinner = (cl_int)inner;
	cxb = (cl_int)xbatch;
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	ACCEL_TRY(ocl_in_mem(c, 1, &im));
	ACCEL_TRY(ocl_check_word(c, bad_nd, &em));
	snprintf(name, sizeof(name), "gather_nd_%zu", elem_bits(x->dtype));
	return OCL_LAUNCH_1D(c->dev, ocl_src_index, name, (size_t)n, OA(ym), OA(xm),
			     OA(im), OA(n), OA(cq), OA(cinner), OA(cper), OA(cxb),
			     OA(xd), OA(xs), OA(em));
}

/* ---- TopK ---- */

static bool check_topk(const ir_node *n, accel_tensor *const *in, int n_in)
{
	if (!is_num(in[0]) || in[0]->rank == 0)
		return false;
	if (n->opset < 10)
		return n_in == 1;
	return n_in == 2 && ocl_is(in[1], ACCEL_DTYPE_I64);
}

static accel_status exec_topk(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0];
	int64_t ax = ir_attr_int(c->node, "axis", -1), k64;
	cl_int n = (cl_int)tensor_numel(x), L, inner = 1, K;
	cl_int largest = ir_attr_int(c->node, "largest", 1) != 0;
	cl_mem xm, vm, im;
	char name[16];

	if (c->node->opset < 10)
		k64 = ir_attr_int(c->node, "k", 0);
	else
		k64 = tensor_get_i64(c->in[1], 0);
	if (ax < 0)
		ax += x->rank;
	if (ax < 0 || ax >= x->rank)
		return status_invalid("TopK: axis out of range for rank %d", x->rank);
	L = (cl_int)x->dims[ax];
	if (k64 < 0 || k64 > L)
		return status_invalid("TopK: input 'K': k = %lld is out of range for an axis of %d (allowed 0..%d)",
				      (long long)k64, L, L);
	K = (cl_int)k64;
	for (int d = (int)ax + 1; d < x->rank; d++)
		inner *= (cl_int)x->dims[d];
	if (!n || !K)
		return NULL;
	vm = c->out[0] ? ocl_out_mem(c, 0) : NULL;
	im = c->n_out > 1 && c->out[1] ? ocl_out_mem(c, 1) : NULL;
	if (!vm)
		ACCEL_TRY(ocl_scratch(c, (size_t)n / (size_t)L * (size_t)K *
				      accel_dtype_size(x->dtype), &vm));
	if (!im)
		ACCEL_TRY(ocl_scratch(c, (size_t)n / (size_t)L * (size_t)K * sizeof(cl_long),
				      &im));
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	snprintf(name, sizeof(name), "topk_%s", ocl_type_sfx(x->dtype));
	return OCL_LAUNCH_1D(c->dev, ocl_src_index, name, (size_t)n, OA(vm), OA(im),
			     OA(xm), OA(n), OA(L), OA(inner), OA(K), OA(largest));
}

/* ---- OneHot ---- */

static bool check_onehot(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in == 3 && in[1] && bits_ok(in[2]) &&
	       (is_idx(in[0]) || ocl_is(in[0], ACCEL_DTYPE_F32));
}

static accel_status exec_onehot(ocl_ctx *c)
{
	const accel_tensor *idx = c->in[0], *y = c->out[0];
	int64_t ax = ir_attr_int(c->node, "axis", -1), depth;
	cl_int n = (cl_int)tensor_numel(y), inner = 1, cdepth;
	cl_mem im, vm, ym = ocl_out_mem(c, 0);
	char name[24];

	if (tensor_numel(c->in[2]) != 2)
		return status_invalid("OneHot: input 'values' must hold [off, on]");
	if (ax < 0)
		ax += y->rank;
	if (ax < 0 || ax >= y->rank)
		return status_invalid("OneHot: axis out of range for rank %d", y->rank);
	depth = y->dims[ax];
	for (int d = (int)ax; d < idx->rank; d++)
		inner *= (cl_int)idx->dims[d];
	if (!n)
		return NULL;
	cdepth = (cl_int)depth;
	ACCEL_TRY(ocl_in_mem(c, 0, &im));
	ACCEL_TRY(ocl_in_mem(c, 2, &vm));
	snprintf(name, sizeof(name), "onehot_%zu_%s", elem_bits(y->dtype),
		 ocl_type_sfx(idx->dtype));
	return OCL_LAUNCH_1D(c->dev, ocl_src_index, name, (size_t)n, OA(ym), OA(im),
			     OA(vm), OA(n), OA(cdepth), OA(inner));
}

/* ---- ReverseSequence ---- */

static bool check_revseq(const ir_node *n, accel_tensor *const *in, int n_in)
{
	int64_t t = ir_attr_int(n, "time_axis", 0), b = ir_attr_int(n, "batch_axis", 1);

	return n_in == 2 && bits_ok(in[0]) && ocl_is(in[1], ACCEL_DTYPE_I64) &&
	       (in[0]->rank < 0 || in[0]->rank >= 2) &&
	       ((t == 0 && b == 1) || (t == 1 && b == 0));
}

static accel_status bad_revseq(ocl_ctx *c, int input, int64_t pos, int64_t value)
{
	int64_t nt = c->in[0]->dims[ir_attr_int(c->node, "time_axis", 0) ? 1 : 0];

	return status_invalid("input 'sequence_lens': length %" PRId64 " at [%" PRId64
			      "] is out of range for a time axis of %" PRId64 " (allowed 0..%" PRId64 ")",
			      value, pos, nt, nt);
}

static accel_status exec_revseq(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0];
	cl_int tax = (cl_int)ir_attr_int(c->node, "time_axis", 0);
	cl_int n = (cl_int)tensor_numel(x), d1 = (cl_int)x->dims[1], inner = 1;
	cl_int nt = (cl_int)x->dims[tax];
	cl_mem xm, lm, em, ym = ocl_out_mem(c, 0);
	char name[16];

	if (tensor_numel(c->in[1]) != x->dims[1 - tax])
		return status_invalid("ReverseSequence: input 'sequence_lens' has %lld values for a batch of %lld",
				      (long long)tensor_numel(c->in[1]),
				      (long long)x->dims[1 - tax]);
	for (int d = 2; d < x->rank; d++)
		inner *= (cl_int)x->dims[d];
	if (!n)
		return NULL;
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	ACCEL_TRY(ocl_in_mem(c, 1, &lm));
	ACCEL_TRY(ocl_check_word(c, bad_revseq, &em));
	snprintf(name, sizeof(name), "revseq_%zu", elem_bits(x->dtype));
	return OCL_LAUNCH_1D(c->dev, ocl_src_index, name, (size_t)n, OA(ym), OA(xm),
			     OA(lm), OA(n), OA(d1), OA(inner), OA(tax), OA(nt), OA(em));
}

/* ---- ConstantOfShape, Range, EyeLike ---- */

static bool check_const_of_shape(const ir_node *n, accel_tensor *const *in, int n_in)
{
	const ir_attr *a = ir_node_attr(n, "value");

	return n_in == 1 && ocl_is(in[0], ACCEL_DTYPE_I64) &&
	       (!a || !a->t || !a->t->data || bits_ok(a->t));
}

static accel_status exec_const_of_shape(ocl_ctx *c)
{
	const ir_attr *a = ir_node_attr(c->node, "value");
	const accel_tensor *y = c->out[0];
	union { cl_uchar u8; cl_ushort u16; cl_uint u32; cl_ulong u64; } v = { 0 };
	size_t es = accel_dtype_size(y->dtype);
	cl_int n = (cl_int)tensor_numel(y);
	cl_mem ym = ocl_out_mem(c, 0);
	char name[16];

	if (a && a->t && a->t->data) {
		if (a->t->dtype != y->dtype || es > sizeof(v))
			return status_invalid("ConstantOfShape: value of type %s for an output of %s",
					      accel_dtype_name(a->t->dtype),
					      accel_dtype_name(y->dtype));
		memcpy(&v, a->t->data, es);
	}
	if (!n)
		return NULL;
	snprintf(name, sizeof(name), "fill_%zu", es * 8);
	return ocl_launch_1d(c->dev, ocl_src_index, name, (size_t)n, 3,
			     (ocl_arg[]){ OA(ym), OA(n), { es, &v } });
}

static bool check_range(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in == 3 && is_num(in[0]) && in[1] && in[2] &&
	       in[1]->dtype == in[0]->dtype && in[2]->dtype == in[0]->dtype;
}

static accel_status exec_range(ocl_ctx *c)
{
	const accel_tensor *y = c->out[0];
	cl_int n = (cl_int)tensor_numel(y);
	cl_mem ym = ocl_out_mem(c, 0);
	char name[16];

	if (!n)
		return NULL;
	snprintf(name, sizeof(name), "range_%s", ocl_type_sfx(y->dtype));
	if (y->dtype == ACCEL_DTYPE_F32) {
		cl_float s = (float)tensor_get_f64(c->in[0], 0);
		cl_float d = (float)tensor_get_f64(c->in[2], 0);

		return OCL_LAUNCH_1D(c->dev, ocl_src_index, name, (size_t)n, OA(ym),
				     OA(n), OA(s), OA(d));
	}
	if (y->dtype == ACCEL_DTYPE_I32) {
		cl_int s = (cl_int)tensor_get_i64(c->in[0], 0);
		cl_int d = (cl_int)tensor_get_i64(c->in[2], 0);

		return OCL_LAUNCH_1D(c->dev, ocl_src_index, name, (size_t)n, OA(ym),
				     OA(n), OA(s), OA(d));
	}
	{
		cl_long s = tensor_get_i64(c->in[0], 0), d = tensor_get_i64(c->in[2], 0);

		return OCL_LAUNCH_1D(c->dev, ocl_src_index, name, (size_t)n, OA(ym),
				     OA(n), OA(s), OA(d));
	}
}

static accel_dtype eye_dtype(const ir_node *n, const accel_tensor *x)
{
	return ir_node_attr(n, "dtype") ? (accel_dtype)ir_attr_int(n, "dtype", 0) :
					  x->dtype;
}

static bool check_eyelike(const ir_node *n, accel_tensor *const *in, int n_in)
{
	accel_dtype dt;

	if (n_in != 1 || !in[0] || (in[0]->rank >= 0 && in[0]->rank != 2))
		return false;
	dt = eye_dtype(n, in[0]);
	return dt == ACCEL_DTYPE_F32 || dt == ACCEL_DTYPE_I32 || dt == ACCEL_DTYPE_I64 ||
	       dt == ACCEL_DTYPE_U8 || dt == ACCEL_DTYPE_BOOL || dt == ACCEL_DTYPE_I8;
}

static accel_status exec_eyelike(ocl_ctx *c)
{
	const accel_tensor *y = c->out[0];
	cl_int n = (cl_int)tensor_numel(y), C = (cl_int)y->dims[1];
	cl_int k = (cl_int)ir_attr_int(c->node, "k", 0);
	cl_mem ym = ocl_out_mem(c, 0);
	char name[16];

	if (!n)
		return NULL;
	snprintf(name, sizeof(name), "eyelike_%s", ocl_type_sfx(y->dtype));
	return OCL_LAUNCH_1D(c->dev, ocl_src_index, name, (size_t)n, OA(ym), OA(n),
			     OA(C), OA(k));
}

/* ---- HannWindow, HammingWindow, BlackmanWindow ---- */

static bool check_window(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in == 1 && is_idx(in[0]) &&
	       ir_attr_int(n, "output_datatype", ACCEL_DTYPE_F32) == ACCEL_DTYPE_F32;
}

static accel_status exec_window(ocl_ctx *c)
{
	const char *op = c->node->op_type;
	cl_int n = (cl_int)tensor_numel(c->out[0]);
	bool periodic = ir_attr_int(c->node, "periodic", 1) != 0;
	cl_float len = (float)(periodic ? n : n - 1);
	cl_float a0 = 0.5f, a1 = 0.5f, a2 = 0.0f;
	cl_mem ym = ocl_out_mem(c, 0);

	if (op[0] == 'H' && op[2] == 'm') { /* Hamming */
		a0 = (float)(25.0 / 46);
		a1 = (float)(21.0 / 46);
	} else if (op[0] == 'B') {
		a0 = 0.42f;
		a2 = 0.08f;
	}
	if (!n)
		return NULL;
	return OCL_LAUNCH_1D(c->dev, ocl_src_index, "window_f32", (size_t)n, OA(ym),
			     OA(n), OA(len), OA(a0), OA(a1), OA(a2));
}

#define IX(op, fn, chk, host) { op, "", ocl_src_index, fn, chk, host }

const ocl_op ocl_ops_index[] = {
	IX("ScatterElements", exec_scatter_el, check_scatter, 0),
	IX("Scatter", exec_scatter_el, check_scatter, 0),
	IX("ScatterND", exec_scatter_nd, check_scatter, 0),
	IX("TensorScatter", exec_tscatter, check_tscatter, 0),
	IX("MaxUnpool", exec_unpool, check_unpool, 0x4),
	IX("GatherND", exec_gather_nd, check_gather_nd, 0),
	IX("TopK", exec_topk, check_topk, 0x2),
	IX("OneHot", exec_onehot, check_onehot, 0x2),
	IX("ReverseSequence", exec_revseq, check_revseq, 0),
	IX("ConstantOfShape", exec_const_of_shape, check_const_of_shape, 0x1),
	IX("Range", exec_range, check_range, 0x7),
	IX("EyeLike", exec_eyelike, check_eyelike, 0),
	IX("HannWindow", exec_window, check_window, 0x1),
	IX("HammingWindow", exec_window, check_window, 0x1),
	IX("BlackmanWindow", exec_window, check_window, 0x1),
	{ 0 },
};
