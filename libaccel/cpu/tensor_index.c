/* SPDX-License-Identifier: MIT */
/*
 * tensor_index.c - CPU kernels driven by index or mask tensors: the gathers
 * and scatters, OneHot, Compress, NonZero and ReverseSequence.
 *
 * Scatters run serially: with duplicate indices the order of updates is
 * part of the result.
 */
#include "cpu/tensor_kernels.h"

#include <string.h>

enum reduction { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static enum reduction reduction_of(const ir_node *node)
{
	const char *r = ir_attr_string(node, "reduction", "none");

	if (!strcmp(r, "add"))
		return RED_ADD;
	if (!strcmp(r, "mul"))
		return RED_MUL;
	if (!strcmp(r, "max"))
		return RED_MAX;
	if (!strcmp(r, "min"))
		return RED_MIN;
	return RED_NONE;
}

/* o[oi] = reduce(o[oi], u[ui]) in the element type. */
static void apply(accel_tensor *o, int64_t oi, const accel_tensor *u,
		  int64_t ui, enum reduction red, size_t es)
{
	if (red == RED_NONE) {
		memcpy((char *)o->data + oi * (int64_t)es,
		       (const char *)u->data + ui * (int64_t)es, es);
	} else if (dtype_is_float(o->dtype)) {
		double a = tensor_get_f64(o, oi), b = tensor_get_f64(u, ui);

		a = red == RED_ADD ? a + b : red == RED_MUL ? a * b :
		    red == RED_MAX ? (b > a ? b : a) : (b < a ? b : a);
		tensor_set_f64(o, oi, a);
	} else {
		int64_t a = tensor_get_i64(o, oi), b = tensor_get_i64(u, ui);

		a = red == RED_ADD ? a + b : red == RED_MUL ? a * b :
		    red == RED_MAX ? (b > a ? b : a) : (b < a ? b : a);
		tensor_set_i64(o, oi, a);
	}
}

static accel_status bad_index(const char *what, int64_t v, int64_t dim)
{
	return status_invalid("input '%s': index %lld is out of range for a dimension of size %lld",
			      what, (long long)v, (long long)dim);
}

/* ---- GatherElements, ScatterElements ---- */

/*
 * Walk every element of |idx| (same rank as |x|), giving its flat position
 * and the flat position in |x| with the axis coordinate replaced by the
 * index value.
 */
typedef accel_status (*elem_fn)(void *arg, int64_t pos, int64_t xpos);

static accel_status walk_elements(const accel_tensor *x, const accel_tensor *idx,
				  int axis, const char *what, elem_fn fn,
				  void *arg)
{
	int64_t xs[ACCEL_MAX_RANK], c[ACCEL_MAX_RANK] = { 0 };
	int64_t n = tensor_numel(idx), dim = x->dims[axis];

	dims_strides(x->rank, x->dims, xs);
	for (int64_t p = 0; p < n; p++) {
		int64_t k = tensor_get_i64(idx, p), xp = 0;

		if (k < -dim || k >= dim)
			return bad_index(what, k, dim);
		if (k < 0)
			k += dim;
		for (int i = 0; i < x->rank; i++)
			xp += (i == axis ? k : c[i]) * xs[i];
		ACCEL_TRY(fn(arg, p, xp));
		for (int i = x->rank - 1; i >= 0; i--) {
			if (++c[i] < idx->dims[i])
				break;
			c[i] = 0;
		}
	}
	return NULL;
}

typedef struct elem_job {
	const accel_tensor *x, *u;
	accel_tensor *o;
	size_t es;
	enum reduction red;
} elem_job;

static accel_status gather_one(void *arg, int64_t pos, int64_t xpos)
{
	const elem_job *j = arg;

	memcpy((char *)j->o->data + pos * (int64_t)j->es,
	       (const char *)j->x->data + xpos * (int64_t)j->es, j->es);
	return NULL;
}

static accel_status scatter_one(void *arg, int64_t pos, int64_t xpos)
{
	const elem_job *j = arg;

	apply(j->o, xpos, j->u, pos, j->red, j->es);
	return NULL;
}

accel_status cpu_gather_elements(const cpu_ctx *ctx, accel_tensor *const *in,
				 int n_in, accel_tensor *const *out, int n_out)
{
	elem_job j = { .x = in[0], .o = out[0],
		       .es = accel_dtype_size(in[0]->dtype) };
	int64_t axis = ir_attr_int(ctx->node, "axis", 0);

	if (axis < 0)
		axis += in[0]->rank;
	return walk_elements(in[0], in[1], (int)axis, "indices", gather_one, &j);
}

accel_status cpu_scatter_elements(const cpu_ctx *ctx, accel_tensor *const *in,
				  int n_in, accel_tensor *const *out, int n_out)
{
	elem_job j = { .x = in[0], .u = in[2], .o = out[0],
		       .es = accel_dtype_size(in[0]->dtype),
		       .red = reduction_of(ctx->node) };
	int64_t axis = ir_attr_int(ctx->node, "axis", 0);

	if (!tensor_same_shape(in[1], in[2]) || in[1]->rank != in[0]->rank)
		return status_invalid("inputs 'indices' and 'updates' must have the same shape and the rank of 'data'");
	if (axis < 0)
		axis += in[0]->rank;
	memcpy(out[0]->data, in[0]->data, out[0]->nbytes);
	return walk_elements(in[0], in[1], (int)axis, "indices", scatter_one,
			     &j);
}

/* ---- GatherND, ScatterND ---- */

/* Flat offset into |x| (from dim |from|) addressed by index tuple |t|. */
static accel_status nd_offset(const accel_tensor *x, const accel_tensor *idx,
			      int64_t t, int64_t q, int from, int64_t *off)
{
	int64_t xs[ACCEL_MAX_RANK], o = 0;

	dims_strides(x->rank, x->dims, xs);
	for (int64_t i = 0; i < q; i++) {
		int64_t d = x->dims[from + i], k = tensor_get_i64(idx, t * q + i);

		if (k < -d || k >= d)
			return bad_index("indices", k, d);
		o += (k < 0 ? k + d : k) * xs[from + i];
	}
	*off = o;
	return NULL;
}

accel_status cpu_gather_nd(const cpu_ctx *ctx, accel_tensor *const *in,
			   int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0], *idx = in[1];
	int b = (int)ir_attr_int(ctx->node, "batch_dims", 0);
	int64_t q = idx->dims[idx->rank - 1], batches = 1, per = 1, inner = 1;
	int64_t xbatch = 1;
	size_t es = accel_dtype_size(x->dtype);

	for (int i = 0; i < b; i++)
		batches *= idx->dims[i];
	for (int i = b; i < idx->rank - 1; i++)
		per *= idx->dims[i];
	for (int i = b + (int)q; i < x->rank; i++)
		inner *= x->dims[i];
	for (int i = b; i < x->rank; i++)
		xbatch *= x->dims[i];
	for (int64_t bi = 0; bi < batches; bi++)
		for (int64_t t = 0; t < per; t++) {
			int64_t off = 0;

			ACCEL_TRY(nd_offset(x, idx, bi * per + t, q, b, &off));
			memcpy((char *)out[0]->data +
				       (bi * per + t) * inner * (int64_t)es,
			       (const char *)x->data +
				       (bi * xbatch + off) * (int64_t)es,
			       (size_t)(inner * (int64_t)es));
		}
	return NULL;
}

accel_status cpu_scatter_nd(const cpu_ctx *ctx, accel_tensor *const *in,
			    int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0], *idx = in[1], *u = in[2];
	enum reduction red = reduction_of(ctx->node);
	int64_t q = idx->dims[idx->rank - 1], n = 1, inner = 1;
	size_t es = accel_dtype_size(x->dtype);

	if (q > x->rank)
		return status_invalid("input 'indices' has tuples of %lld for rank %d",
				      (long long)q, x->rank);
	for (int i = 0; i < idx->rank - 1; i++)
		n *= idx->dims[i];
	for (int i = (int)q; i < x->rank; i++)
		inner *= x->dims[i];
	if (tensor_numel(u) != n * inner)
		return status_invalid("input 'updates' has %lld values, expected %lld",
				      (long long)tensor_numel(u),
				      (long long)(n * inner));
	memcpy(out[0]->data, x->data, out[0]->nbytes);
	for (int64_t t = 0; t < n; t++) {
		int64_t off = 0;

		ACCEL_TRY(nd_offset(x, idx, t, q, 0, &off));
		for (int64_t i = 0; i < inner; i++)
			apply(out[0], off + i, u, t * inner + i, red, es);
	}
	return NULL;
}

/* ---- OneHot ---- */

accel_status cpu_one_hot(const cpu_ctx *ctx, accel_tensor *const *in, int n_in,
			 accel_tensor *const *out, int n_out)
{
	const accel_tensor *idx = in[0], *vals = in[2];
	accel_tensor *o = out[0];
	int64_t axis = ir_attr_int(ctx->node, "axis", -1), outer = 1, inner = 1;
	int64_t depth = (int64_t)tensor_get_f64(in[1], 0);
	size_t es = accel_dtype_size(o->dtype);
	char *d = o->data;
	const char *off = vals->data, *on = off + es;

	if (tensor_numel(vals) != 2)
		return status_invalid("input 'values' must hold [off, on]");
	if (axis < 0)
		axis += o->rank;
	for (int i = 0; i < axis; i++)
		outer *= idx->dims[i];
	for (int i = (int)axis; i < idx->rank; i++)
		inner *= idx->dims[i];
	for (int64_t a = 0; a < outer; a++)
		for (int64_t k = 0; k < depth; k++)
			for (int64_t i = 0; i < inner; i++) {
				int64_t v = (int64_t)tensor_get_f64(idx, a * inner + i);

				if (v < 0)
					v += depth;
				memcpy(d + ((a * depth + k) * inner + i) * (int64_t)es,
				       v == k ? on : off, es);
			}
	return NULL;
}

/* ---- Compress, NonZero, ReverseSequence ---- */

accel_status cpu_compress(const cpu_ctx *ctx, accel_tensor *const *in,
			  int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0], *c = in[1];
	const ir_attr *a = ir_node_attr(ctx->node, "axis");
	int64_t outer = 1, dim, inner = 1, nc = tensor_numel(c);
	size_t es = accel_dtype_size(x->dtype);
	char *d = out[0]->data;
	int axis = 0;

	if (!a) {
		dim = tensor_numel(x);
	} else {
		axis = (int)(a->i < 0 ? a->i + x->rank : a->i);
		dim = x->dims[axis];
		for (int i = 0; i < axis; i++)
			outer *= x->dims[i];
		for (int i = axis + 1; i < x->rank; i++)
			inner *= x->dims[i];
	}
	if (nc > dim)
		nc = dim;
	inner *= (int64_t)es;
	for (int64_t o = 0; o < outer; o++)
		for (int64_t j = 0; j < nc; j++) {
			if (!tensor_get_i64(c, j))
				continue;
			memcpy(d, (const char *)x->data + (o * dim + j) * inner,
			       (size_t)inner);
			d += inner;
		}
	return NULL;
}

accel_status cpu_non_zero(const cpu_ctx *ctx, accel_tensor *const *in, int n_in,
			  accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	int64_t n = tensor_numel(x), nnz = out[0]->dims[1], k = 0;
	int64_t c[ACCEL_MAX_RANK] = { 0 };
	int64_t *o = out[0]->data;

	for (int64_t i = 0; i < n; i++) {
		if (tensor_get_f64(x, i) != 0) {
			if (k >= nnz)
				return status_invalid("input changed between shape inference and execution");
			for (int d = 0; d < x->rank; d++)
				o[d * nnz + k] = c[d];
			k++;
		}
		for (int d = x->rank - 1; d >= 0; d--) {
			if (++c[d] < x->dims[d])
				break;
			c[d] = 0;
		}
	}
	return NULL;
}

accel_status cpu_reverse_sequence(const cpu_ctx *ctx, accel_tensor *const *in,
				  int n_in, accel_tensor *const *out,
				  int n_out)
{
	const accel_tensor *x = in[0], *lens = in[1];
	int tax = (int)ir_attr_int(ctx->node, "time_axis", 0);
	int bax = 1 - tax;
	int64_t xs[ACCEL_MAX_RANK], inner = 1;
	int64_t nt = x->dims[tax], nb = x->dims[bax];
	size_t es = accel_dtype_size(x->dtype);

	if (tensor_numel(lens) != nb)
		return status_invalid("input 'sequence_lens' has %lld values for a batch of %lld",
				      (long long)tensor_numel(lens), (long long)nb);
	dims_strides(x->rank, x->dims, xs);
	for (int i = 2; i < x->rank; i++)
		inner *= x->dims[i];
	for (int64_t b = 0; b < nb; b++) {
		int64_t len = tensor_get_i64(lens, b);

		if (len < 0 || len > nt)
			return bad_index("sequence_lens", len, nt);
		for (int64_t t = 0; t < nt; t++) {
			int64_t st = t < len ? len - 1 - t : t;
			int64_t dst = b * xs[bax] + t * xs[tax];
			int64_t src = b * xs[bax] + st * xs[tax];

			memcpy((char *)out[0]->data + dst * (int64_t)es,
			       (const char *)x->data + src * (int64_t)es,
			       (size_t)inner * es);
		}
	}
	return NULL;
}
