/* SPDX-License-Identifier: MIT */
/*
 * tensor.c - schemas of the tensor operator family: shape and data movement.
 *
 * Besides shapes, the schemas of the shape-computing operators fill their
 * output's data at load time when it can be known (Shape of a static shape,
 * Gather/Concat/Unsqueeze of such data, ...): shape arithmetic in exported
 * models then folds into constants and every later shape is static.
 */
#include "ops/tensor_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Largest output folded at load time; bigger ones wait for run time. */
#define FOLD_MAX 65536

static void set_unknown_dims(accel_tensor *o, accel_dtype dt, int rank)
{
	o->dtype = dt;
	o->rank = rank;
	for (int i = 0; i < rank; i++)
		o->dims[i] = -1;
}

static int64_t known_prod(const int64_t *d, int from, int to)
{
	int64_t p = 1;

	for (int i = from; i < to; i++) {
		if (d[i] < 0)
			return -1;
		p *= d[i];
	}
	return p;
}

static bool all_data(accel_tensor *const *in, int n_in)
{
	for (int i = 0; i < n_in; i++)
		if (in[i] && !in[i]->data)
			return false;
	return true;
}

/* Compute the outputs now when this is load time and the data is known. */
static accel_status fold_outputs(const op_ctx *ctx, teval_fn fn,
				 accel_tensor *const *in, int n_in,
				 accel_tensor *const *out, int n_out)
{
	accel_status st;

	for (int i = 0; i < n_out; i++) {
		int64_t n;

		if (!out[i])
			continue;
		n = tensor_numel(out[i]);
		if (n < 0 || n > FOLD_MAX || !accel_dtype_size(out[i]->dtype) ||
		    out[i]->data)
			return NULL;
	}
	for (int i = 0; i < n_out; i++)
		if (out[i] && (st = tensor_alloc(out[i])))
			goto undo;
	st = fn(ctx->node, in, n_in, out, n_out);
	if (!st)
		return NULL;
undo:
	/* A bad value surfaces again at run time, with the real inputs. */
	accel_status_free(st);
	for (int i = 0; i < n_out; i++) {
		if (out[i] && out[i]->owns_data) {
			free(out[i]->data);
			out[i]->data = NULL;
			out[i]->nbytes = 0;
			out[i]->owns_data = false;
		}
	}
	return NULL;
}

static accel_status fold(const op_ctx *ctx, teval_fn fn, accel_tensor *const *in,
			 int n_in, accel_tensor *const *out, int n_out)
{
	if (!ctx->static_infer || !all_data(in, n_in))
		return NULL;
	return fold_outputs(ctx, fn, in, n_in, out, n_out);
}

/* Values of a 1-D integer input (at most |max|). */
static accel_status read_ints(const accel_tensor *t, const char *what,
			      int64_t *v, int max, int *out_n)
{
	int64_t n = tensor_numel(t);

	if (n < 0 || n > max || (t->rank > 1))
		return status_invalid("input '%s' must be a 1-D tensor of at most %d values (got shape with %lld values)",
				      what, max, (long long)n);
	if (n && !dtype_is_int(t->dtype))
		return status_invalid("input '%s' must be an integer tensor, not %s",
				      what, accel_dtype_name(t->dtype));
	for (int64_t i = 0; i < n; i++)
		v[i] = tensor_get_i64(t, i);
	*out_n = (int)n;
	return NULL;
}

/* ---- Identity, Reshape, Flatten, Squeeze, Unsqueeze ---- */

static accel_status infer_identity(const op_ctx *ctx, accel_tensor *const *in,
				   int n_in, accel_tensor *const *out, int n_out)
{
	op_set_output(out[0], in[0]->dtype, in[0]->rank, in[0]->dims);
	return fold(ctx, teval_copy, in, 1, out, 1);
}

static accel_status reshape_dims(const accel_tensor *x, const int64_t *shape,
				 int n, bool allowzero, int64_t *dims)
{
	int64_t xn = tensor_numel(x), known = 1;
	int neg = -1;
	bool unknown = false;
	char buf[96];

	for (int i = 0; i < n; i++) {
		int64_t v = shape[i];

		if (v == 0 && !allowzero) {
			if (x->rank >= 0 && i >= x->rank)
				return status_invalid("shape: 0 at position %d copies a dimension input 'data' (rank %d) lacks",
						      i, x->rank);
			v = x->rank < 0 ? -1 : x->dims[i];
			if (v < 0)
				unknown = true;
		} else if (v == -1) {
			if (neg >= 0)
				return status_invalid("shape: more than one -1");
			neg = i;
		} else if (v < -1) {
			return status_invalid("shape: invalid dimension %lld",
					      (long long)v);
		}
		dims[i] = v;
		if (i != neg && v >= 0)
			known *= v;
	}
	if (neg >= 0) {
		dims[neg] = -1;
		if (xn >= 0 && !unknown) {
			if (known == 0 || xn % known)
				return status_invalid("input 'data' of shape %s cannot be reshaped to %lld values with -1",
						      tensor_shape_str(x, buf, sizeof(buf)),
						      (long long)known);
			dims[neg] = xn / known;
		}
	} else if (xn >= 0 && !unknown && known != xn) {
		return status_invalid("input 'data' of shape %s (%lld values) cannot be reshaped to %lld values",
				      tensor_shape_str(x, buf, sizeof(buf)),
				      (long long)xn, (long long)known);
	}
	return NULL;
}

static accel_status infer_reshape(const op_ctx *ctx, accel_tensor *const *in,
				  int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0], *s = n_in > 1 ? in[1] : NULL;
	int64_t shape[ACCEL_MAX_RANK], dims[ACCEL_MAX_RANK];
	bool allowzero = ir_attr_int(ctx->node, "allowzero", 0) != 0;
	int n;

	if (!s) {
		size_t cnt;
		const int64_t *a = ir_attr_ints(ctx->node, "shape", &cnt);

		if (!a || cnt > ACCEL_MAX_RANK)
			return status_bad_model("attribute 'shape' is missing or too long");
		n = (int)cnt;
		memcpy(shape, a, cnt * sizeof(*a));
	} else if (!s->data) {
		if (s->rank == 1 && s->dims[0] >= 0 && s->dims[0] <= ACCEL_MAX_RANK)
			set_unknown_dims(out[0], x->dtype, (int)s->dims[0]);
		else
			set_unknown_dims(out[0], x->dtype, -1);
		return NULL;
	} else {
		ACCEL_TRY(read_ints(s, "shape", shape, ACCEL_MAX_RANK, &n));
	}
	ACCEL_TRY(reshape_dims(x, shape, n, allowzero, dims));
	op_set_output(out[0], x->dtype, n, dims);
	return fold(ctx, teval_copy, in, 1, out, 1);
}

static accel_status infer_flatten(const op_ctx *ctx, accel_tensor *const *in,
				  int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	int64_t axis = ir_attr_int(ctx->node, "axis", 1), dims[2];

	if (x->rank < 0) {
		set_unknown_dims(out[0], x->dtype, 2);
		return NULL;
	}
	if (axis < -x->rank || axis > x->rank)
		return status_bad_model("attribute 'axis' %lld is out of range for rank %d",
					(long long)axis, x->rank);
	if (axis < 0)
		axis += x->rank;
	dims[0] = known_prod(x->dims, 0, (int)axis);
	dims[1] = known_prod(x->dims, (int)axis, x->rank);
	op_set_output(out[0], x->dtype, 2, dims);
	return fold(ctx, teval_copy, in, 1, out, 1);
}

/*
 * Squeeze/Unsqueeze axes: attribute before opset 13, input after.
 * *n = -1 when absent; *known false when the input has no data yet.
 */
static accel_status get_axes(const op_ctx *ctx, accel_tensor *const *in,
			     int n_in, int64_t *v, int *n, bool *known)
{
	*n = -1;
	*known = true;
	if (ctx->node->opset < 13) {
		size_t cnt;
		const int64_t *a = ir_attr_ints(ctx->node, "axes", &cnt);

		if (!a)
			return NULL;
		if (cnt > ACCEL_MAX_RANK)
			return status_bad_model("attribute 'axes' has %zu values", cnt);
		memcpy(v, a, cnt * sizeof(*a));
		*n = (int)cnt;
		return NULL;
	}
	if (n_in < 2 || !in[1])
		return NULL;
	if (!in[1]->data) {
		*known = false;
		return NULL;
	}
	return read_ints(in[1], "axes", v, ACCEL_MAX_RANK, n);
}

static accel_status squeeze_all(const accel_tensor *x, accel_tensor *o)
{
	int64_t dims[ACCEL_MAX_RANK];
	int r = 0;

	for (int i = 0; i < x->rank; i++) {
		if (x->dims[i] < 0) {
			set_unknown_dims(o, x->dtype, -1);
			return NULL;
		}
		if (x->dims[i] != 1)
			dims[r++] = x->dims[i];
	}
	op_set_output(o, x->dtype, r, dims);
	return NULL;
}

static accel_status infer_squeeze(const op_ctx *ctx, accel_tensor *const *in,
				  int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	int64_t axes[ACCEL_MAX_RANK], dims[ACCEL_MAX_RANK];
	bool drop[ACCEL_MAX_RANK] = { false }, known;
	int n, r = 0;

	ACCEL_TRY(get_axes(ctx, in, n_in, axes, &n, &known));
	if (x->rank < 0 || !known) {
		set_unknown_dims(out[0], x->dtype,
				 x->rank >= 0 && known ? x->rank - n : -1);
		return NULL;
	}
	if (n < 0) {
		ACCEL_TRY(squeeze_all(x, out[0]));
		return fold(ctx, teval_copy, in, 1, out, 1);
	}
	for (int i = 0; i < n; i++) {
		int a;

		ACCEL_TRY(op_axis(ctx, axes[i], x->rank, &a));
		if (x->dims[a] != 1 && x->dims[a] >= 0)
			return status_invalid("axes: dimension %d of input 'data' is %lld, not 1",
					      a, (long long)x->dims[a]);
		drop[a] = true;
	}
	for (int i = 0; i < x->rank; i++)
		if (!drop[i])
			dims[r++] = x->dims[i];
	op_set_output(out[0], x->dtype, r, dims);
	return fold(ctx, teval_copy, in, 1, out, 1);
}

static accel_status infer_unsqueeze(const op_ctx *ctx, accel_tensor *const *in,
				    int n_in, accel_tensor *const *out,
				    int n_out)
{
	const accel_tensor *x = in[0];
	int64_t axes[ACCEL_MAX_RANK], dims[ACCEL_MAX_RANK];
	bool add[ACCEL_MAX_RANK] = { false }, known;
	int n, r, j = 0;

	ACCEL_TRY(get_axes(ctx, in, n_in, axes, &n, &known));
	if (known && n < 0)
		return status_invalid("input 'axes' is missing");
	if (x->rank < 0 || !known) {
		set_unknown_dims(out[0], x->dtype,
				 x->rank >= 0 && known ? x->rank + n : -1);
		return NULL;
	}
	r = x->rank + n;
	if (r > ACCEL_MAX_RANK)
		return status_unsupported("output rank %d exceeds %d", r,
					  ACCEL_MAX_RANK);
	for (int i = 0; i < n; i++) {
		int a;

		ACCEL_TRY(op_axis(ctx, axes[i], r, &a));
		if (add[a])
			return status_invalid("axes: axis %lld is repeated",
					      (long long)axes[i]);
		add[a] = true;
	}
	for (int i = 0; i < r; i++)
		dims[i] = add[i] ? 1 : x->dims[j++];
	op_set_output(out[0], x->dtype, r, dims);
	return fold(ctx, teval_copy, in, 1, out, 1);
}

/* ---- Shape, Size, Constant, ConstantOfShape, Range ---- */

static accel_status infer_shape(const op_ctx *ctx, accel_tensor *const *in,
				int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	int start, end;
	int64_t n;

	if (x->rank < 0) {
		set_unknown_dims(out[0], ACCEL_DTYPE_I64, 1);
		return NULL;
	}
	shape_bounds(ctx->node, x->rank, &start, &end);
	n = end - start;
	op_set_output(out[0], ACCEL_DTYPE_I64, 1, &n);
	if (!ctx->static_infer || known_prod(x->dims, start, end) < 0)
		return NULL;
	return fold_outputs(ctx, teval_shape, in, 1, out, 1);
}

static accel_status infer_size(const op_ctx *ctx, accel_tensor *const *in,
			       int n_in, accel_tensor *const *out, int n_out)
{
	op_set_output(out[0], ACCEL_DTYPE_I64, 0, NULL);
	if (!ctx->static_infer || tensor_numel(in[0]) < 0)
		return NULL;
	return fold_outputs(ctx, teval_size, in, 1, out, 1);
}

static accel_status infer_constant(const op_ctx *ctx, accel_tensor *const *in,
				   int n_in, accel_tensor *const *out,
				   int n_out)
{
	const ir_node *node = ctx->node;
	const ir_attr *a;
	int64_t n;

	if ((a = ir_node_attr(node, "value")) && a->t) {
		op_set_output(out[0], a->t->dtype, a->t->rank, a->t->dims);
		if (!accel_dtype_size(a->t->dtype))
			return status_unsupported("attribute 'value' has element type %s",
						  accel_dtype_name(a->t->dtype));
	} else if (ir_node_attr(node, "value_float")) {
		op_set_output(out[0], ACCEL_DTYPE_F32, 0, NULL);
	} else if (ir_node_attr(node, "value_int")) {
		op_set_output(out[0], ACCEL_DTYPE_I64, 0, NULL);
	} else if ((a = ir_node_attr(node, "value_floats"))) {
		n = (int64_t)a->count;
		op_set_output(out[0], ACCEL_DTYPE_F32, 1, &n);
	} else if ((a = ir_node_attr(node, "value_ints"))) {
		n = (int64_t)a->count;
		op_set_output(out[0], ACCEL_DTYPE_I64, 1, &n);
	} else if (ir_node_attr(node, "value_string") ||
		   ir_node_attr(node, "value_strings")) {
		return status_unsupported("attribute 'value_string(s)': string tensors are not supported");
	} else if (ir_node_attr(node, "sparse_value")) {
		return status_unsupported("attribute 'sparse_value': sparse tensors are not supported");
	} else {
		return status_bad_model("no value attribute");
	}
	if (!ctx->static_infer)
		return NULL;
	return fold_outputs(ctx, teval_constant, in, 0, out, 1);
}

static accel_status infer_constant_of_shape(const op_ctx *ctx,
					    accel_tensor *const *in, int n_in,
					    accel_tensor *const *out, int n_out)
{
	const ir_attr *a = ir_node_attr(ctx->node, "value");
	accel_dtype dt = a && a->t ? a->t->dtype : ACCEL_DTYPE_F32;
	int64_t dims[ACCEL_MAX_RANK];
	int n;

	if (a && a->t && (tensor_numel(a->t) != 1 || !accel_dtype_size(dt)))
		return status_bad_model("attribute 'value' must hold one numeric value");
	if (!in[0]->data) {
		if (in[0]->rank == 1 && in[0]->dims[0] >= 0 &&
		    in[0]->dims[0] <= ACCEL_MAX_RANK)
			set_unknown_dims(out[0], dt, (int)in[0]->dims[0]);
		else
			set_unknown_dims(out[0], dt, -1);
		return NULL;
	}
	ACCEL_TRY(read_ints(in[0], "input", dims, ACCEL_MAX_RANK, &n));
	for (int i = 0; i < n; i++)
		if (dims[i] < 0)
			return status_invalid("input: dimension %d is negative (%lld)",
					      i, (long long)dims[i]);
	op_set_output(out[0], dt, n, dims);
	return fold(ctx, teval_constant_of_shape, in, 1, out, 1);
}

static accel_status infer_range(const op_ctx *ctx, accel_tensor *const *in,
				int n_in, accel_tensor *const *out, int n_out)
{
	accel_dtype dt = in[0]->dtype;
	int64_t n;

	if (!all_data(in, 3)) {
		set_unknown_dims(out[0], dt, 1);
		return NULL;
	}
	for (int i = 0; i < 3; i++)
		if (tensor_numel(in[i]) != 1)
			return status_invalid("input %d of Range must be a scalar", i);
	if (dtype_is_float(dt)) {
		double s = tensor_get_f64(in[0], 0), l = tensor_get_f64(in[1], 0);
		double d = tensor_get_f64(in[2], 0), c;

		if (dt == ACCEL_DTYPE_F32) /* count as numpy does, in float */
			c = ceil((double)(((float)l - (float)s) / (float)d));
		else
			c = ceil((l - s) / d);
		if (d == 0 || !isfinite(c))
			return status_invalid("input 'delta' gives no finite count");
		n = c > 0 ? (int64_t)c : 0;
	} else {
		int64_t s = tensor_get_i64(in[0], 0), l = tensor_get_i64(in[1], 0);
		int64_t d = tensor_get_i64(in[2], 0);

		if (d == 0)
			return status_invalid("input 'delta' is zero");
		n = d > 0 ? (l - s + d - 1) / d : (s - l - d - 1) / -d;
		if (n < 0)
			n = 0;
	}
	op_set_output(out[0], dt, 1, &n);
	return fold(ctx, teval_range, in, 3, out, 1);
}

/* ---- Transpose, Concat, Split, Slice ---- */

static accel_status transpose_perm(const ir_node *node, int rank, int *perm)
{
	size_t cnt;
	const int64_t *p = ir_attr_ints(node, "perm", &cnt);
	bool seen[ACCEL_MAX_RANK] = { false };

	if (!p) {
		for (int i = 0; i < rank; i++)
			perm[i] = rank - 1 - i;
		return NULL;
	}
	if (cnt != (size_t)rank)
		return status_bad_model("attribute 'perm' has %zu values for rank %d",
					cnt, rank);
	for (int i = 0; i < rank; i++) {
		int64_t a = p[i] < 0 ? p[i] + rank : p[i];

		if (a < 0 || a >= rank || seen[a])
			return status_bad_model("attribute 'perm' is not a permutation of 0..%d",
						rank - 1);
		seen[a] = true;
		perm[i] = (int)a;
	}
	return NULL;
}

static accel_status infer_transpose(const op_ctx *ctx, accel_tensor *const *in,
				    int n_in, accel_tensor *const *out,
				    int n_out)
{
	const accel_tensor *x = in[0];
	int perm[ACCEL_MAX_RANK];
	int64_t dims[ACCEL_MAX_RANK];
	size_t cnt;

	if (x->rank < 0) {
		bool has = ir_attr_ints(ctx->node, "perm", &cnt) != NULL;

		set_unknown_dims(out[0], x->dtype, has ? (int)cnt : -1);
		return NULL;
	}
	ACCEL_TRY(transpose_perm(ctx->node, x->rank, perm));
	for (int i = 0; i < x->rank; i++)
		dims[i] = x->dims[perm[i]];
	op_set_output(out[0], x->dtype, x->rank, dims);
	return NULL;
}

static accel_status infer_concat(const op_ctx *ctx, accel_tensor *const *in,
				 int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *first = NULL;
	int64_t dims[ACCEL_MAX_RANK], sum = 0;
	int axis;

	for (int i = 0; i < n_in && !first; i++)
		if (in[i] && in[i]->rank >= 0)
			first = in[i];
	if (!first) {
		set_unknown_dims(out[0], in[0]->dtype, -1);
		return NULL;
	}
	ACCEL_TRY(op_axis(ctx, ir_attr_int(ctx->node, "axis", 0), first->rank,
			  &axis));
	memcpy(dims, first->dims, sizeof(dims));
	for (int i = 0; i < n_in; i++) {
		const accel_tensor *t = in[i];

		if (!t)
			continue;
		if (t->rank < 0) {
			sum = -1;
			continue;
		}
		if (t->rank != first->rank)
			return status_invalid("input %d has rank %d, input 0 rank %d",
					      i, t->rank, first->rank);
		for (int d = 0; d < t->rank; d++) {
			if (d == axis || t->dims[d] < 0)
				continue;
			if (dims[d] < 0)
				dims[d] = t->dims[d];
			else if (dims[d] != t->dims[d])
				return status_invalid("input %d has dimension %d of %lld, expected %lld",
						      i, d, (long long)t->dims[d],
						      (long long)dims[d]);
		}
		if (sum >= 0)
			sum = t->dims[axis] < 0 ? -1 : sum + t->dims[axis];
	}
	dims[axis] = sum;
	op_set_output(out[0], first->dtype, first->rank, dims);
	return fold(ctx, teval_concat, in, n_in, out, 1);
}

/* Split sizes from the attribute (< 13) or input (>= 13); n = -1: none. */
static accel_status split_given(const op_ctx *ctx, accel_tensor *const *in,
				int n_in, int64_t *v, int max, int *n,
				bool *known)
{
	*n = -1;
	*known = true;
	if (ctx->node->opset < 13) {
		size_t cnt;
		const int64_t *a = ir_attr_ints(ctx->node, "split", &cnt);

		if (!a)
			return NULL;
		if (cnt > (size_t)max)
			return status_bad_model("attribute 'split' has %zu values for %d outputs",
						cnt, max);
		memcpy(v, a, cnt * sizeof(*a));
		*n = (int)cnt;
		return NULL;
	}
	if (n_in < 2 || !in[1] || tensor_numel(in[1]) == 0)
		return NULL;
	if (!in[1]->data) {
		*known = false;
		return NULL;
	}
	return read_ints(in[1], "split", v, max, n);
}

static accel_status split_sizes(const op_ctx *ctx, accel_tensor *const *in,
				int n_in, int64_t dim, int n_out, int64_t *sz)
{
	int64_t num = ir_attr_int(ctx->node, "num_outputs", 0), sum = 0;
	bool known;
	int n;

	ACCEL_TRY(split_given(ctx, in, n_in, sz, n_out, &n, &known));
	if (!known || (n < 0 && dim < 0)) {
		for (int i = 0; i < n_out; i++)
			sz[i] = -1;
		return NULL;
	}
	if (n >= 0) {
		if (n != n_out)
			return status_invalid("split has %d values for %d outputs",
					      n, n_out);
		for (int i = 0; i < n; i++) {
			if (sz[i] < 0)
				return status_invalid("split: size %lld is negative",
						      (long long)sz[i]);
			sum += sz[i];
		}
		if (dim >= 0 && sum != dim)
			return status_invalid("split sizes add up to %lld, the axis has %lld",
					      (long long)sum, (long long)dim);
		return NULL;
	}
	if (num > 0) {
		int64_t chunk = (dim + num - 1) / num;

		if (num != n_out)
			return status_bad_model("attribute 'num_outputs' is %lld for %d outputs",
						(long long)num, n_out);
		for (int i = 0; i < n_out; i++) {
			int64_t left = dim - chunk * i;

			sz[i] = left < chunk ? (left > 0 ? left : 0) : chunk;
		}
		return NULL;
	}
	if (dim % n_out)
		return status_invalid("axis of size %lld does not split into %d equal parts",
				      (long long)dim, n_out);
	for (int i = 0; i < n_out; i++)
		sz[i] = dim / n_out;
	return NULL;
}

static accel_status infer_split(const op_ctx *ctx, accel_tensor *const *in,
				int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	int64_t *sz;
	accel_status st;
	int axis;

	if (x->rank < 0) {
		for (int i = 0; i < n_out; i++)
			if (out[i])
				set_unknown_dims(out[i], x->dtype, -1);
		return NULL;
	}
	ACCEL_TRY(op_axis(ctx, ir_attr_int(ctx->node, "axis", 0), x->rank, &axis));
	sz = calloc((size_t)n_out, sizeof(*sz));
	if (!sz)
		return status_oom("split sizes");
	st = split_sizes(ctx, in, n_in, x->dims[axis], n_out, sz);
	for (int i = 0; i < n_out && !st; i++) {
		if (!out[i])
			continue;
		op_set_output(out[i], x->dtype, x->rank, x->dims);
		out[i]->dims[axis] = sz[i];
	}
	free(sz);
	return st;
}

static accel_status infer_slice(const op_ctx *ctx, accel_tensor *const *in,
				int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	int64_t start[ACCEL_MAX_RANK], step[ACCEL_MAX_RANK], cnt[ACCEL_MAX_RANK];
	bool known;

	if (x->rank < 0) {
		set_unknown_dims(out[0], x->dtype, -1);
		return NULL;
	}
	ACCEL_TRY(slice_resolve(ctx->node, in, n_in, x, start, step, cnt, &known));
	if (!known) {
		set_unknown_dims(out[0], x->dtype, x->rank);
		return NULL;
	}
	op_set_output(out[0], x->dtype, x->rank, cnt);
	return fold(ctx, teval_slice, in, n_in, out, 1);
}

/* ---- Gather, GatherElements, GatherND ---- */

static accel_status infer_gather(const op_ctx *ctx, accel_tensor *const *in,
				 int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0], *idx = in[1];
	int64_t dims[ACCEL_MAX_RANK];
	int axis, r = 0;

	if (x->rank < 0 || idx->rank < 0) {
		set_unknown_dims(out[0], x->dtype, -1);
		return NULL;
	}
	ACCEL_TRY(op_axis(ctx, ir_attr_int(ctx->node, "axis", 0), x->rank, &axis));
	if (x->rank == 0)
		return status_invalid("input 'data' is a scalar");
	if (x->rank - 1 + idx->rank > ACCEL_MAX_RANK)
		return status_unsupported("output rank exceeds %d", ACCEL_MAX_RANK);
	if (!dtype_is_int(idx->dtype))
		return status_invalid("input 'indices' must be integer, not %s",
				      accel_dtype_name(idx->dtype));
	for (int i = 0; i < axis; i++)
		dims[r++] = x->dims[i];
	for (int i = 0; i < idx->rank; i++)
		dims[r++] = idx->dims[i];
	for (int i = axis + 1; i < x->rank; i++)
		dims[r++] = x->dims[i];
	op_set_output(out[0], x->dtype, r, dims);
	return fold(ctx, teval_gather, in, 2, out, 1);
}

static accel_status infer_gather_elements(const op_ctx *ctx,
					  accel_tensor *const *in, int n_in,
					  accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0], *idx = in[1];
	int axis;

	if (x->rank >= 0 && idx->rank >= 0) {
		if (x->rank != idx->rank)
			return status_invalid("input 'indices' has rank %d, 'data' rank %d",
					      idx->rank, x->rank);
		ACCEL_TRY(op_axis(ctx, ir_attr_int(ctx->node, "axis", 0),
				  x->rank, &axis));
	}
	op_set_output(out[0], x->dtype, idx->rank, idx->dims);
	return NULL;
}

static accel_status infer_gather_nd(const op_ctx *ctx, accel_tensor *const *in,
				    int n_in, accel_tensor *const *out,
				    int n_out)
{
	const accel_tensor *x = in[0], *idx = in[1];
	int64_t b = ir_attr_int(ctx->node, "batch_dims", 0), last;
	int64_t dims[ACCEL_MAX_RANK];
	int r = 0;

	if (x->rank < 0 || idx->rank < 0 || idx->rank < 1 ||
	    idx->dims[idx->rank - 1] < 0) {
		set_unknown_dims(out[0], x->dtype, -1);
		return NULL;
	}
	last = idx->dims[idx->rank - 1];
	if (b < 0 || b >= idx->rank || b >= x->rank || b + last > x->rank)
		return status_invalid("input 'indices' of last dimension %lld with batch_dims %lld does not fit 'data' of rank %d",
				      (long long)last, (long long)b, x->rank);
	for (int i = 0; i < idx->rank - 1; i++)
		dims[r++] = idx->dims[i];
	for (int64_t i = b + last; i < x->rank; i++) {
		if (r >= ACCEL_MAX_RANK)
			return status_unsupported("output rank exceeds %d",
						  ACCEL_MAX_RANK);
		dims[r++] = x->dims[i];
	}
	op_set_output(out[0], x->dtype, r, dims);
	return NULL;
}

/* ---- Expand, Tile, Pad ---- */

static accel_status infer_expand(const op_ctx *ctx, accel_tensor *const *in,
				 int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0], *s = in[1];
	accel_tensor shape = { .dtype = x->dtype };
	int64_t dims[ACCEL_MAX_RANK];
	int n, r;

	if (!s->data) {
		int sr = s->rank == 1 && s->dims[0] >= 0 ? (int)s->dims[0] : -1;

		set_unknown_dims(out[0], x->dtype, sr < 0 || x->rank < 0 ? -1 :
				 (sr > x->rank ? sr : x->rank));
		return NULL;
	}
	ACCEL_TRY(read_ints(s, "shape", dims, ACCEL_MAX_RANK, &n));
	shape.rank = n;
	memcpy(shape.dims, dims, sizeof(dims));
	ACCEL_TRY(op_broadcast(x, &shape, &r, dims));
	if (r < 0) {
		set_unknown_dims(out[0], x->dtype, -1);
		return NULL;
	}
	op_set_output(out[0], x->dtype, r, dims);
	return fold(ctx, teval_expand, in, 2, out, 1);
}

static accel_status infer_tile(const op_ctx *ctx, accel_tensor *const *in,
			       int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0], *rep = in[1];
	int64_t reps[ACCEL_MAX_RANK], dims[ACCEL_MAX_RANK];
	int n;

	if (x->rank < 0 || !rep->data) {
		set_unknown_dims(out[0], x->dtype, x->rank);
		return NULL;
	}
	ACCEL_TRY(read_ints(rep, "repeats", reps, ACCEL_MAX_RANK, &n));
	if (n != x->rank)
		return status_invalid("input 'repeats' has %d values for rank %d",
				      n, x->rank);
	for (int i = 0; i < n; i++) {
		if (reps[i] < 0)
			return status_invalid("input 'repeats': value %lld is negative",
					      (long long)reps[i]);
		dims[i] = x->dims[i] < 0 ? -1 : x->dims[i] * reps[i];
	}
	op_set_output(out[0], x->dtype, n, dims);
	return NULL;
}

static accel_status infer_pad(const op_ctx *ctx, accel_tensor *const *in,
			      int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	const char *mode = ir_attr_string(ctx->node, "mode", "constant");
	int64_t pads[2 * ACCEL_MAX_RANK], dims[ACCEL_MAX_RANK];
	bool known;

	if (strcmp(mode, "constant") && strcmp(mode, "reflect") &&
	    strcmp(mode, "edge") && strcmp(mode, "wrap"))
		return status_unsupported("attribute 'mode': '%s' is not supported",
					  mode);
	if (x->rank < 0) {
		set_unknown_dims(out[0], x->dtype, -1);
		return NULL;
	}
	ACCEL_TRY(pad_resolve(ctx->node, in, n_in, x->rank, pads, &known));
	if (!known) {
		set_unknown_dims(out[0], x->dtype, x->rank);
		return NULL;
	}
	for (int i = 0; i < x->rank; i++) {
		dims[i] = x->dims[i] < 0 ? -1 :
			x->dims[i] + pads[i] + pads[x->rank + i];
		if (dims[i] < -1 || (dims[i] == -1 && x->dims[i] >= 0))
			return status_invalid("pads make dimension %d negative", i);
	}
	op_set_output(out[0], x->dtype, x->rank, dims);
	return NULL;
}

/* ---- Resize, Upsample ---- */

static bool one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static accel_status resize_check_attrs(const ir_node *node)
{
	static const char *const modes[] = { "nearest", "linear", "cubic",
					     "bilinear", "trilinear", NULL };
	static const char *const ctms[] = {
		"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
		"align_corners", "asymmetric", "tf_half_pixel_for_nn",
		"tf_crop_and_resize", NULL };
	static const char *const nms[] = { "round_prefer_floor",
					   "round_prefer_ceil", "floor", "ceil",
					   NULL };
	const char *mode = ir_attr_string(node, "mode", "nearest");

	if (!one_of(mode, modes))
		return status_unsupported("attribute 'mode': '%s' is not supported",
					  mode);
	if (!one_of(ir_attr_string(node, "coordinate_transformation_mode",
				   "half_pixel"), ctms))
		return status_unsupported("attribute 'coordinate_transformation_mode': '%s' is not supported",
					  ir_attr_string(node, "coordinate_transformation_mode", ""));
	if (!one_of(ir_attr_string(node, "nearest_mode", "round_prefer_floor"),
		    nms))
		return status_unsupported("attribute 'nearest_mode': '%s' is not supported",
					  ir_attr_string(node, "nearest_mode", ""));
	return NULL;
}

static accel_status infer_resize(const op_ctx *ctx, accel_tensor *const *in,
				 int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	resize_params p;

	ACCEL_TRY(resize_check_attrs(ctx->node));
	if (x->rank < 0) {
		set_unknown_dims(out[0], x->dtype, -1);
		return NULL;
	}
	ACCEL_TRY(resize_resolve(ctx->node, in, n_in, &p));
	if (!p.known) {
		set_unknown_dims(out[0], x->dtype, x->rank);
		return NULL;
	}
	op_set_output(out[0], x->dtype, x->rank, p.out_dims);
	return NULL;
}

/* ---- DepthToSpace, SpaceToDepth ---- */

static accel_status infer_depth_space(const op_ctx *ctx,
				      accel_tensor *const *in, int n_in,
				      accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	int64_t b = ir_attr_int(ctx->node, "blocksize", 0), d[4];
	bool to_space = !strcmp(ctx->node->op_type, "DepthToSpace");
	const char *mode = ir_attr_string(ctx->node, "mode", "DCR");

	if (b <= 0)
		return status_bad_model("attribute 'blocksize' must be positive");
	if (strcmp(mode, "DCR") && strcmp(mode, "CRD"))
		return status_bad_model("attribute 'mode': '%s' is not DCR or CRD",
					mode);
	if (x->rank < 0) {
		set_unknown_dims(out[0], x->dtype, 4);
		return NULL;
	}
	if (x->rank != 4)
		return status_invalid("input must have rank 4, not %d", x->rank);
	memcpy(d, x->dims, sizeof(d));
	if (to_space) {
		if (d[1] >= 0 && d[1] % (b * b))
			return status_invalid("channels %lld are not a multiple of blocksize^2",
					      (long long)d[1]);
		d[1] = d[1] < 0 ? -1 : d[1] / (b * b);
		d[2] = d[2] < 0 ? -1 : d[2] * b;
		d[3] = d[3] < 0 ? -1 : d[3] * b;
	} else {
		if ((d[2] >= 0 && d[2] % b) || (d[3] >= 0 && d[3] % b))
			return status_invalid("height and width must be multiples of blocksize %lld",
					      (long long)b);
		d[1] = d[1] < 0 ? -1 : d[1] * b * b;
		d[2] = d[2] < 0 ? -1 : d[2] / b;
		d[3] = d[3] < 0 ? -1 : d[3] / b;
	}
	op_set_output(out[0], x->dtype, 4, d);
	return NULL;
}

/* ---- Trilu, EyeLike, OneHot ---- */

static accel_status infer_trilu(const op_ctx *ctx, accel_tensor *const *in,
				int n_in, accel_tensor *const *out, int n_out)
{
	if (in[0]->rank >= 0 && in[0]->rank < 2)
		return status_invalid("input must have rank >= 2, not %d",
				      in[0]->rank);
	op_set_output(out[0], in[0]->dtype, in[0]->rank, in[0]->dims);
	return NULL;
}

static accel_status infer_eye_like(const op_ctx *ctx, accel_tensor *const *in,
				   int n_in, accel_tensor *const *out,
				   int n_out)
{
	accel_dtype dt = (accel_dtype)ir_attr_int(ctx->node, "dtype",
						  in[0]->dtype);

	if (!accel_dtype_size(dt))
		return status_unsupported("attribute 'dtype': element type %d is not supported",
					  (int)dt);
	if (in[0]->rank >= 0 && in[0]->rank != 2)
		return status_invalid("input must have rank 2, not %d",
				      in[0]->rank);
	op_set_output(out[0], dt, 2, in[0]->dims);
	if (in[0]->rank < 0)
		set_unknown_dims(out[0], dt, 2);
	return NULL;
}

static accel_status infer_one_hot(const op_ctx *ctx, accel_tensor *const *in,
				  int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *idx = in[0], *depth = in[1], *vals = in[2];
	int64_t dims[ACCEL_MAX_RANK], d = -1;
	int axis, r = idx->rank + 1, j = 0;

	if (idx->rank < 0) {
		set_unknown_dims(out[0], vals->dtype, -1);
		return NULL;
	}
	if (r > ACCEL_MAX_RANK)
		return status_unsupported("output rank exceeds %d", ACCEL_MAX_RANK);
	ACCEL_TRY(op_axis(ctx, ir_attr_int(ctx->node, "axis", -1), r, &axis));
	if (depth->data) {
		if (tensor_numel(depth) != 1)
			return status_invalid("input 'depth' must hold one value");
		d = (int64_t)tensor_get_f64(depth, 0);
		if (d < 1)
			return status_invalid("input 'depth' is %lld", (long long)d);
	}
	for (int i = 0; i < r; i++)
		dims[i] = i == axis ? d : idx->dims[j++];
	op_set_output(out[0], vals->dtype, r, dims);
	return NULL;
}

/* ---- Scatter family, Compress, NonZero, ReverseSequence ---- */

static accel_status infer_like_data(const op_ctx *ctx, accel_tensor *const *in,
				    int n_in, accel_tensor *const *out,
				    int n_out)
{
	const char *red = ir_attr_string(ctx->node, "reduction", "none");

	if (strcmp(red, "none") && strcmp(red, "add") && strcmp(red, "mul") &&
	    strcmp(red, "max") && strcmp(red, "min"))
		return status_unsupported("attribute 'reduction': '%s' is not supported",
					  red);
	op_set_output(out[0], in[0]->dtype, in[0]->rank, in[0]->dims);
	return NULL;
}

static int64_t count_true(const accel_tensor *c, int64_t limit)
{
	int64_t n = tensor_numel(c), k = 0;

	if (limit >= 0 && n > limit)
		n = limit;
	for (int64_t i = 0; i < n; i++)
		k += tensor_get_i64(c, i) != 0;
	return k;
}

static accel_status infer_compress(const op_ctx *ctx, accel_tensor *const *in,
				   int n_in, accel_tensor *const *out,
				   int n_out)
{
	const accel_tensor *x = in[0], *c = in[1];
	const ir_attr *a = ir_node_attr(ctx->node, "axis");
	int64_t dims[ACCEL_MAX_RANK];
	int axis;

	if (c->rank > 1)
		return status_invalid("input 'condition' must be 1-D");
	if (!a) {
		dims[0] = c->data ? count_true(c, tensor_numel(x)) : -1;
		op_set_output(out[0], x->dtype, 1, dims);
		return NULL;
	}
	if (x->rank < 0) {
		set_unknown_dims(out[0], x->dtype, -1);
		return NULL;
	}
	ACCEL_TRY(op_axis(ctx, a->i, x->rank, &axis));
	memcpy(dims, x->dims, sizeof(dims));
	dims[axis] = c->data ? count_true(c, x->dims[axis]) : -1;
	op_set_output(out[0], x->dtype, x->rank, dims);
	return NULL;
}

static accel_status infer_non_zero(const op_ctx *ctx, accel_tensor *const *in,
				   int n_in, accel_tensor *const *out,
				   int n_out)
{
	const accel_tensor *x = in[0];
	int64_t dims[2] = { x->rank < 0 ? -1 : (x->rank ? x->rank : 1), -1 };

	if (x->data) {
		int64_t n = tensor_numel(x), k = 0;

		for (int64_t i = 0; i < n; i++)
			k += tensor_get_f64(x, i) != 0;
		dims[1] = k;
	}
	op_set_output(out[0], ACCEL_DTYPE_I64, 2, dims);
	return NULL;
}

static accel_status infer_reverse_sequence(const op_ctx *ctx,
					   accel_tensor *const *in, int n_in,
					   accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	int64_t b = ir_attr_int(ctx->node, "batch_axis", 1);
	int64_t t = ir_attr_int(ctx->node, "time_axis", 0);

	if ((b != 0 && b != 1) || (t != 0 && t != 1) || b == t)
		return status_bad_model("attributes 'batch_axis' and 'time_axis' must be 0 and 1");
	if (x->rank >= 0 && x->rank < 2)
		return status_invalid("input must have rank >= 2, not %d", x->rank);
	op_set_output(out[0], x->dtype, x->rank, x->dims);
	return NULL;
}

/* ---- CenterCropPad, TensorScatter ---- */

static accel_status infer_center_crop_pad(const op_ctx *ctx,
					  accel_tensor *const *in, int n_in,
					  accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0], *s = in[1];
	int64_t axes[ACCEL_MAX_RANK], sh[ACCEL_MAX_RANK], dims[ACCEL_MAX_RANK];
	size_t cnt = 0;
	const int64_t *a = ir_attr_ints(ctx->node, "axes", &cnt);
	int na, n;

	if (x->rank < 0) {
		set_unknown_dims(out[0], x->dtype, -1);
		return NULL;
	}
	na = a ? (int)cnt : x->rank;
	if (na > x->rank)
		return status_bad_model("attribute 'axes' has %d values for rank %d",
					na, x->rank);
	for (int i = 0; i < na; i++) {
		int ax;

		ACCEL_TRY(op_axis(ctx, a ? a[i] : i, x->rank, &ax));
		axes[i] = ax;
	}
	memcpy(dims, x->dims, sizeof(dims));
	if (!s->data) {
		for (int i = 0; i < na; i++)
			dims[axes[i]] = -1;
		op_set_output(out[0], x->dtype, x->rank, dims);
		return NULL;
	}
	ACCEL_TRY(read_ints(s, "shape", sh, ACCEL_MAX_RANK, &n));
	if (n != na)
		return status_invalid("input 'shape' has %d values for %d axes",
				      n, na);
	for (int i = 0; i < na; i++) {
		if (sh[i] < 0)
			return status_invalid("input 'shape': size %lld is negative",
					      (long long)sh[i]);
		dims[axes[i]] = sh[i];
	}
	op_set_output(out[0], x->dtype, x->rank, dims);
	return NULL;
}

static accel_status infer_tensor_scatter(const op_ctx *ctx,
					 accel_tensor *const *in, int n_in,
					 accel_tensor *const *out, int n_out)
{
	const accel_tensor *c = in[0], *u = in[1];
	const char *mode = ir_attr_string(ctx->node, "mode", "linear");
	int axis;

	if (strcmp(mode, "linear") && strcmp(mode, "circular"))
		return status_unsupported("attribute 'mode': '%s' is not supported",
					  mode);
	if (c->rank >= 0 && u->rank >= 0) {
		if (c->rank != u->rank)
			return status_invalid("input 'update' has rank %d, 'past_cache' rank %d",
					      u->rank, c->rank);
		ACCEL_TRY(op_axis(ctx, ir_attr_int(ctx->node, "axis", -2),
				  c->rank, &axis));
		if (axis == 0)
			return status_invalid("attribute 'axis' must not be the batch axis");
		for (int i = 0; i < c->rank; i++)
			if (c->dims[i] >= 0 && u->dims[i] >= 0 &&
			    (i == axis ? u->dims[i] > c->dims[i] :
					 u->dims[i] != c->dims[i]))
				return status_invalid("input 'update' does not fit 'past_cache' in dimension %d",
						      i);
	}
	op_set_output(out[0], c->dtype, c->rank, c->dims);
	return NULL;
}

const op_schema op_schemas_tensor[] = {
	{ "Identity", "", 1, 1, 1, 1, infer_identity },
	{ "Reshape", "", 1, 2, 1, 1, infer_reshape },
	{ "Flatten", "", 1, 1, 1, 1, infer_flatten },
	{ "Squeeze", "", 1, 2, 1, 1, infer_squeeze },
	{ "Unsqueeze", "", 1, 2, 1, 1, infer_unsqueeze },
	{ "Shape", "", 1, 1, 1, 1, infer_shape },
	{ "Size", "", 1, 1, 1, 1, infer_size },
	{ "Constant", "", 0, 0, 1, 1, infer_constant },
	{ "ConstantOfShape", "", 1, 1, 1, 1, infer_constant_of_shape },
	{ "Range", "", 3, 3, 1, 1, infer_range },
	{ "Transpose", "", 1, 1, 1, 1, infer_transpose },
	{ "Concat", "", 1, -1, 1, 1, infer_concat },
	{ "Split", "", 1, 2, 1, -1, infer_split },
	{ "Slice", "", 1, 5, 1, 1, infer_slice },
	{ "Gather", "", 2, 2, 1, 1, infer_gather },
	{ "GatherElements", "", 2, 2, 1, 1, infer_gather_elements },
	{ "GatherND", "", 2, 2, 1, 1, infer_gather_nd },
	{ "Expand", "", 2, 2, 1, 1, infer_expand },
	{ "Tile", "", 2, 2, 1, 1, infer_tile },
	{ "Pad", "", 1, 4, 1, 1, infer_pad },
	{ "Resize", "", 1, 4, 1, 1, infer_resize },
	{ "Upsample", "", 1, 2, 1, 1, infer_resize },
	{ "DepthToSpace", "", 1, 1, 1, 1, infer_depth_space },
	{ "SpaceToDepth", "", 1, 1, 1, 1, infer_depth_space },
	{ "Trilu", "", 1, 2, 1, 1, infer_trilu },
	{ "EyeLike", "", 1, 1, 1, 1, infer_eye_like },
	{ "OneHot", "", 3, 3, 1, 1, infer_one_hot },
	{ "ScatterElements", "", 3, 3, 1, 1, infer_like_data },
	{ "Scatter", "", 3, 3, 1, 1, infer_like_data },
	{ "ScatterND", "", 3, 3, 1, 1, infer_like_data },
	{ "Compress", "", 2, 2, 1, 1, infer_compress },
	{ "NonZero", "", 1, 1, 1, 1, infer_non_zero },
	{ "ReverseSequence", "", 2, 2, 1, 1, infer_reverse_sequence },
	{ "CenterCropPad", "", 2, 2, 1, 1, infer_center_crop_pad },
	{ "TensorScatter", "", 2, 3, 1, 1, infer_tensor_scatter },
	{ 0 },
};
