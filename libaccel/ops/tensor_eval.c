/* SPDX-License-Identifier: MIT */
/* tensor_eval.c - serial evaluation of the cheap tensor operators. */
#include "ops/tensor_eval.h"

#include <math.h>
#include <string.h>

/* ---- strided copies ---- */

static void copy_row(char *d, const char *s, int64_t n, int64_t stride,
		     size_t es)
{
	if (stride == 1) {
		memcpy(d, s, (size_t)n * es);
		return;
	}
	switch (es) {
	case 1:
		for (int64_t i = 0; i < n; i++)
			d[i] = s[i * stride];
		break;
	case 2:
		for (int64_t i = 0; i < n; i++)
			((uint16_t *)d)[i] = ((const uint16_t *)s)[i * stride];
		break;
	case 4:
		for (int64_t i = 0; i < n; i++)
			((uint32_t *)d)[i] = ((const uint32_t *)s)[i * stride];
		break;
	case 8:
		for (int64_t i = 0; i < n; i++)
			((uint64_t *)d)[i] = ((const uint64_t *)s)[i * stride];
		break;
	default:
		for (int64_t i = 0; i < n; i++)
			memcpy(d + i * es, s + i * stride * (int64_t)es, es);
	}
}

int64_t strided_rows(int rank, const int64_t *count)
{
	int64_t rows = 1;

	for (int i = 0; i < rank - 1; i++)
		rows *= count[i];
	return rank > 0 && count[rank - 1] == 0 ? 0 : rows;
}

void strided_copy_rows(void *dst, const void *src, size_t es, int rank,
		       const int64_t *count, const int64_t *ss,
		       int64_t off, int64_t row_begin, int64_t row_end)
{
	int64_t idx[2 * ACCEL_MAX_RANK] = { 0 }, rem = row_begin, inner;
	const char *s = src;
	char *d = dst;

	if (rank == 0) {
		if (row_begin < row_end)
			memcpy(d, s + off * (int64_t)es, es);
		return;
	}
	inner = count[rank - 1];
	for (int i = rank - 2; i >= 0; i--) {
		idx[i] = rem % count[i];
		rem /= count[i];
	}
	d += row_begin * inner * (int64_t)es;
	for (int64_t r = row_begin; r < row_end; r++) {
		int64_t base = off;

		for (int i = 0; i < rank - 1; i++)
			base += idx[i] * ss[i];
		copy_row(d, s + base * (int64_t)es, inner, ss[rank - 1], es);
		d += inner * (int64_t)es;
		for (int i = rank - 2; i >= 0; i--) {
			if (++idx[i] < count[i])
				break;
			idx[i] = 0;
		}
	}
}

void strided_copy(void *dst, const void *src, size_t es, int rank,
		  const int64_t *count, const int64_t *ss, int64_t off)
{
	for (int i = 0; i < rank; i++)
		if (!count[i])
			return;
	strided_copy_rows(dst, src, es, rank, count, ss, off, 0,
			  strided_rows(rank, count));
}

void broadcast_strides(const accel_tensor *x, int rank, const int64_t *dims,
		       int64_t *strides)
{
	int64_t xs[ACCEL_MAX_RANK];
	int lead = rank - x->rank;

	dims_strides(x->rank, x->dims, xs);
	for (int i = 0; i < rank; i++) {
		int j = i - lead;

		strides[i] = j < 0 || x->dims[j] == 1 ? 0 : xs[j];
	}
	(void)dims;
}

/* ---- simple producers ---- */

accel_status teval_copy(const ir_node *node, accel_tensor *const *in, int n_in,
			accel_tensor *const *out, int n_out)
{
	if (in[0]->nbytes != out[0]->nbytes)
		return status_invalid("output holds %zu bytes, input %zu",
				      out[0]->nbytes, in[0]->nbytes);
	if (out[0]->nbytes && out[0]->data != in[0]->data)
		memcpy(out[0]->data, in[0]->data, out[0]->nbytes);
	return NULL;
}

void shape_bounds(const ir_node *node, int rank, int *out_start, int *out_end)
{
	int64_t start = ir_attr_int(node, "start", 0);
	int64_t end = ir_attr_int(node, "end", rank);

	if (start < 0)
		start += rank;
	if (end < 0)
		end += rank;
	start = start < 0 ? 0 : start > rank ? rank : start;
	end = end < 0 ? 0 : end > rank ? rank : end;
	if (end < start)
		end = start;
	*out_start = (int)start;
	*out_end = (int)end;
}

accel_status teval_shape(const ir_node *node, accel_tensor *const *in, int n_in,
			 accel_tensor *const *out, int n_out)
{
	int start, end;

	shape_bounds(node, in[0]->rank, &start, &end);
	for (int i = start; i < end; i++)
		((int64_t *)out[0]->data)[i - start] = in[0]->dims[i];
	return NULL;
}

accel_status teval_size(const ir_node *node, accel_tensor *const *in, int n_in,
			accel_tensor *const *out, int n_out)
{
	*(int64_t *)out[0]->data = tensor_numel(in[0]);
	return NULL;
}

accel_status teval_constant(const ir_node *node, accel_tensor *const *in,
			    int n_in, accel_tensor *const *out, int n_out)
{
	const ir_attr *a;
	accel_tensor *o = out[0];

	if ((a = ir_node_attr(node, "value")) && a->t) {
		if (a->t->nbytes != o->nbytes || (o->nbytes && !a->t->data))
			return status_invalid("attribute 'value' holds %zu bytes, output %zu",
					      a->t->nbytes, o->nbytes);
		if (o->nbytes)
			memcpy(o->data, a->t->data, o->nbytes);
	} else if ((a = ir_node_attr(node, "value_float"))) {
		*(float *)o->data = a->f;
	} else if ((a = ir_node_attr(node, "value_int"))) {
		*(int64_t *)o->data = a->i;
	} else if ((a = ir_node_attr(node, "value_floats"))) {
		memcpy(o->data, a->floats, a->count * sizeof(float));
	} else if ((a = ir_node_attr(node, "value_ints"))) {
		memcpy(o->data, a->ints, a->count * sizeof(int64_t));
	} else {
		return status_unsupported("Constant without a numeric value attribute");
	}
	return NULL;
}

accel_status teval_constant_of_shape(const ir_node *node,
				     accel_tensor *const *in, int n_in,
				     accel_tensor *const *out, int n_out)
{
	const ir_attr *a = ir_node_attr(node, "value");
	size_t es = accel_dtype_size(out[0]->dtype);
	int64_t n = tensor_numel(out[0]);
	char *d = out[0]->data;

	if (!a || !a->t || !a->t->data) { /* no value: float 0 */
		memset(d, 0, (size_t)n * es);
		return NULL;
	}
	for (int64_t i = 0; i < n; i++)
		memcpy(d + i * (int64_t)es, a->t->data, es);
	return NULL;
}

accel_status teval_range(const ir_node *node, accel_tensor *const *in, int n_in,
			 accel_tensor *const *out, int n_out)
{
	int64_t n = tensor_numel(out[0]);
	accel_tensor *o = out[0];

	if (dtype_is_float(o->dtype)) {
		double start = tensor_get_f64(in[0], 0);
		double delta = tensor_get_f64(in[2], 0);

		if (o->dtype == ACCEL_DTYPE_F32) {
			/* numpy arange steps in the element type */
			float fs = (float)start, fd = (float)delta;

			for (int64_t i = 0; i < n; i++)
				((float *)o->data)[i] = fs + (float)i * fd;
			return NULL;
		}
		for (int64_t i = 0; i < n; i++)
			tensor_set_f64(o, i, start + (double)i * delta);
	} else {
		int64_t start = tensor_get_i64(in[0], 0);
		int64_t delta = tensor_get_i64(in[2], 0);

		for (int64_t i = 0; i < n; i++)
			tensor_set_i64(o, i, start + i * delta);
	}
	return NULL;
}

/* ---- gathers and joins ---- */

static int64_t prod(const int64_t *d, int from, int to)
{
	int64_t p = 1;

	for (int i = from; i < to; i++)
		p *= d[i];
	return p;
}

accel_status teval_gather(const ir_node *node, accel_tensor *const *in,
			  int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0], *idx = in[1];
	int64_t axis = ir_attr_int(node, "axis", 0);
	size_t es = accel_dtype_size(x->dtype);
	int64_t outer, dim, inner, n_idx = tensor_numel(idx);
	const char *src = x->data;
	char *dst = out[0]->data;

	if (axis < 0)
		axis += x->rank;
	outer = prod(x->dims, 0, (int)axis);
	dim = x->dims[axis];
	inner = prod(x->dims, (int)axis + 1, x->rank) * (int64_t)es;
	for (int64_t j = 0; j < n_idx; j++) {
		int64_t k = tensor_get_i64(idx, j);

		if (k < -dim || k >= dim)
			return status_invalid("indices: value %lld is out of range for axis %lld of size %lld",
					      (long long)k, (long long)axis,
					      (long long)dim);
	}
	for (int64_t o = 0; o < outer; o++)
		for (int64_t j = 0; j < n_idx; j++) {
			int64_t k = tensor_get_i64(idx, j);

			if (k < 0)
				k += dim;
			memcpy(dst + (o * n_idx + j) * inner,
			       src + (o * dim + k) * inner, (size_t)inner);
		}
	return NULL;
}

accel_status teval_concat(const ir_node *node, accel_tensor *const *in,
			  int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *o = out[0];
	int64_t axis = ir_attr_int(node, "axis", 0);
	size_t es = accel_dtype_size(o->dtype);
	int64_t outer, inner, row, off = 0;

	if (axis < 0)
		axis += o->rank;
	outer = prod(o->dims, 0, (int)axis);
	inner = prod(o->dims, (int)axis + 1, o->rank) * (int64_t)es;
	row = o->dims[axis] * inner;
	for (int i = 0; i < n_in; i++) {
		int64_t chunk;

		if (!in[i] || in[i]->rank != o->rank)
			continue;
		chunk = in[i]->dims[axis] * inner;
		for (int64_t k = 0; k < outer && chunk; k++)
			memcpy((char *)o->data + k * row + off,
			       (const char *)in[i]->data + k * chunk,
			       (size_t)chunk);
		off += chunk;
	}
	return NULL;
}

/* ---- slice ---- */

static accel_status slice_param(const ir_node *node, accel_tensor *const *in,
				int n_in, int pos, const char *name,
				int64_t *v, int *n, bool *known)
{
	if (node->opset < 10) {
		size_t cnt;
		const int64_t *a = ir_attr_ints(node, name, &cnt);

		*n = -1;
		if (!a)
			return NULL;
		if (cnt > ACCEL_MAX_RANK)
			return status_invalid("attribute '%s' has %zu values", name, cnt);
		for (size_t i = 0; i < cnt; i++)
			v[i] = a[i];
		*n = (int)cnt;
		return NULL;
	}
	*n = -1;
	if (pos >= n_in || !in[pos])
		return NULL;
	if (!in[pos]->data) {
		*known = false;
		return NULL;
	}
	if (tensor_numel(in[pos]) > ACCEL_MAX_RANK)
		return status_invalid("input '%s' has %lld values", name,
				      (long long)tensor_numel(in[pos]));
	*n = (int)tensor_numel(in[pos]);
	for (int i = 0; i < *n; i++)
		v[i] = tensor_get_i64(in[pos], i);
	return NULL;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void slice_axis(int64_t d, int64_t s, int64_t e, int64_t t,
		       int64_t *start, int64_t *count)
{
	if (s < 0)
		s += d;
	if (e < 0)
		e += d;
	if (t > 0) {
		s = clamp64(s, 0, d);
		e = clamp64(e, 0, d);
		*count = e > s ? (e - s + t - 1) / t : 0;
	} else {
		s = clamp64(s, 0, d - 1);
		e = clamp64(e, -1, d - 1);
		*count = s > e ? (s - e + (-t) - 1) / (-t) : 0;
	}
	*start = s;
}

accel_status slice_resolve(const ir_node *node, accel_tensor *const *in,
			   int n_in, const accel_tensor *x, int64_t *start,
			   int64_t *step, int64_t *count, bool *out_known)
{
	int64_t s[ACCEL_MAX_RANK], e[ACCEL_MAX_RANK], ax[ACCEL_MAX_RANK];
	int64_t st[ACCEL_MAX_RANK];
	int ns, ne, na, nt;
	bool known = true, seen[ACCEL_MAX_RANK] = { false };

	ACCEL_TRY(slice_param(node, in, n_in, 1, "starts", s, &ns, &known));
	ACCEL_TRY(slice_param(node, in, n_in, 2, "ends", e, &ne, &known));
	ACCEL_TRY(slice_param(node, in, n_in, 3, "axes", ax, &na, &known));
	ACCEL_TRY(slice_param(node, in, n_in, 4, "steps", st, &nt, &known));
	for (int i = 0; i < x->rank; i++) {
		start[i] = 0;
		step[i] = 1;
		count[i] = x->dims[i];
	}
	*out_known = known;
	if (!known)
		return NULL;
	if (ns < 0 || ne != ns || (na >= 0 && na != ns) || (nt >= 0 && nt != ns))
		return status_invalid("starts, ends, axes and steps must have the same length (%d, %d, %d, %d)",
				      ns, ne, na, nt);
	for (int i = 0; i < ns; i++) {
		int64_t a = na >= 0 ? ax[i] : i, t = nt >= 0 ? st[i] : 1;

		if (a < 0)
			a += x->rank;
		if (a < 0 || a >= x->rank || seen[a])
			return status_invalid("axes: axis %lld is out of range or repeated for rank %d",
					      (long long)(na >= 0 ? ax[i] : i), x->rank);
		if (t == 0)
			return status_invalid("steps: step %d is zero", i);
		seen[a] = true;
		step[a] = t;
		if (x->dims[a] < 0) {
			count[a] = -1;
			continue;
		}
		slice_axis(x->dims[a], s[i], e[i], t, &start[a], &count[a]);
	}
	return NULL;
}

accel_status teval_slice(const ir_node *node, accel_tensor *const *in, int n_in,
			 accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	int64_t start[ACCEL_MAX_RANK], step[ACCEL_MAX_RANK], cnt[ACCEL_MAX_RANK];
	int64_t xs[ACCEL_MAX_RANK], ss[ACCEL_MAX_RANK], off = 0;
	bool known;

	ACCEL_TRY(slice_resolve(node, in, n_in, x, start, step, cnt, &known));
	dims_strides(x->rank, x->dims, xs);
	for (int i = 0; i < x->rank; i++) {
		off += start[i] * xs[i];
		ss[i] = step[i] * xs[i];
	}
	strided_copy(out[0]->data, x->data, accel_dtype_size(x->dtype),
		     x->rank, out[0]->dims, ss, off);
	return NULL;
}

accel_status teval_expand(const ir_node *node, accel_tensor *const *in,
			  int n_in, accel_tensor *const *out, int n_out)
{
	int64_t ss[ACCEL_MAX_RANK];

	broadcast_strides(in[0], out[0]->rank, out[0]->dims, ss);
	strided_copy(out[0]->data, in[0]->data, accel_dtype_size(in[0]->dtype),
		     out[0]->rank, out[0]->dims, ss, 0);
	return NULL;
}

/* ---- parameters shared by schemas and kernels ---- */

static accel_status resolve_axes(const accel_tensor *t, int rank, int64_t *axes,
				 int *out_n)
{
	int64_t n = tensor_numel(t);

	if (n < 0 || n > rank)
		return status_invalid("input 'axes' has %lld values for rank %d",
				      (long long)n, rank);
	for (int i = 0; i < n; i++) {
		int64_t a = tensor_get_i64(t, i);

		if (a < -rank || a >= rank)
			return status_invalid("input 'axes': axis %lld is out of range for rank %d",
					      (long long)a, rank);
		axes[i] = a < 0 ? a + rank : a;
	}
	*out_n = (int)n;
	return NULL;
}

accel_status pad_resolve(const ir_node *node, accel_tensor *const *in, int n_in,
			 int rank, int64_t *pads, bool *out_known)
{
	int64_t axes[ACCEL_MAX_RANK];
	const accel_tensor *ax = n_in > 3 ? in[3] : NULL;
	int na = rank;

	*out_known = true;
	for (int i = 0; i < 2 * rank; i++)
		pads[i] = 0;
	if (node->opset < 11) {
		size_t cnt;
		const int64_t *a = ir_attr_ints(node, "pads", &cnt);

		if (!a || cnt != (size_t)(2 * rank))
			return status_bad_model("attribute 'pads' has %zu values, expected %d",
						a ? cnt : 0, 2 * rank);
		for (int i = 0; i < 2 * rank; i++)
			pads[i] = a[i];
		return NULL;
	}
	if (n_in < 2 || !in[1])
		return status_invalid("input 'pads' is missing");
	if (!in[1]->data || (ax && !ax->data)) {
		*out_known = false;
		return NULL;
	}
	if (ax) {
		ACCEL_TRY(resolve_axes(ax, rank, axes, &na));
	} else {
		for (int i = 0; i < rank; i++)
			axes[i] = i;
	}
	if (tensor_numel(in[1]) != 2 * na)
		return status_invalid("input 'pads' has %lld values, expected %d",
				      (long long)tensor_numel(in[1]), 2 * na);
	for (int i = 0; i < na; i++) {
		pads[axes[i]] = tensor_get_i64(in[1], i);
		pads[rank + axes[i]] = tensor_get_i64(in[1], na + i);
	}
	return NULL;
}

/* An input that is absent, or present with zero elements, counts as absent. */
static const accel_tensor *present(accel_tensor *const *in, int n_in, int pos)
{
	if (pos >= n_in || !in[pos] || tensor_numel(in[pos]) == 0)
		return NULL;
	return in[pos];
}

static accel_status resize_sizes(const ir_node *node, const accel_tensor *x,
				 const accel_tensor *sizes, const int64_t *axes,
				 int na, resize_params *p)
{
	const char *policy = ir_attr_string(node, "keep_aspect_ratio_policy",
					    "stretch");
	double s = 0;

	if (tensor_numel(sizes) != na)
		return status_invalid("input 'sizes' has %lld values, expected %d",
				      (long long)tensor_numel(sizes), na);
	for (int i = 0; i < na; i++) {
		int a = (int)axes[i];
		double r = (double)tensor_get_i64(sizes, i) / (double)x->dims[a];

		p->out_dims[a] = tensor_get_i64(sizes, i);
		p->scale[a] = r;
		if (!strcmp(policy, "not_larger"))
			s = i == 0 || r < s ? r : s;
		else if (!strcmp(policy, "not_smaller"))
			s = i == 0 || r > s ? r : s;
		else if (strcmp(policy, "stretch"))
			return status_bad_model("attribute 'keep_aspect_ratio_policy' has unknown value '%s'",
						policy);
	}
	if (!strcmp(policy, "stretch"))
		return NULL;
	for (int i = 0; i < na; i++) {
		int a = (int)axes[i];

		p->scale[a] = s;
		p->out_dims[a] = (int64_t)(s * (double)x->dims[a] + 0.5);
	}
	return NULL;
}

static accel_status resize_inputs(const ir_node *node, accel_tensor *const *in,
				  int n_in, const accel_tensor **roi,
				  const accel_tensor **scales,
				  const accel_tensor **sizes)
{
	bool upsample = !strcmp(node->op_type, "Upsample");

	*roi = *scales = *sizes = NULL;
	if (upsample || node->opset < 11) {
		*scales = present(in, n_in, 1);
	} else {
		*roi = present(in, n_in, 1);
		*scales = present(in, n_in, 2);
		*sizes = present(in, n_in, 3);
	}
	return NULL;
}

accel_status resize_resolve(const ir_node *node, accel_tensor *const *in,
			    int n_in, resize_params *p)
{
	const accel_tensor *x = in[0], *roi, *scales, *sizes;
	int64_t axes[ACCEL_MAX_RANK];
	int r = x->rank, na = r;
	size_t cnt;
	const int64_t *ax = ir_attr_ints(node, "axes", &cnt);
	const float *fs;

	p->known = true;
	for (int i = 0; i < r; i++) {
		p->out_dims[i] = x->dims[i];
		p->scale[i] = 1.0;
		p->roi_start[i] = 0.0;
		p->roi_end[i] = 1.0;
		axes[i] = i;
	}
	if (ax) {
		if (cnt > (size_t)r)
			return status_bad_model("attribute 'axes' has %zu values for rank %d",
						cnt, r);
		na = (int)cnt;
		for (int i = 0; i < na; i++) {
			if (ax[i] < -r || ax[i] >= r)
				return status_bad_model("attribute 'axes': axis %lld is out of range",
							(long long)ax[i]);
			axes[i] = ax[i] < 0 ? ax[i] + r : ax[i];
		}
	}
	if (!strcmp(node->op_type, "Upsample") && node->opset < 9) {
		fs = ir_attr_floats(node, "scales", &cnt);
		if (!fs || cnt != (size_t)r)
			return status_bad_model("attribute 'scales' needs %d values", r);
		for (int i = 0; i < r; i++) {
			p->scale[i] = fs[i];
			p->out_dims[i] = x->dims[i] < 0 ? -1 :
				(int64_t)floor(fs[i] * (double)x->dims[i]);
		}
		return NULL;
	}
	ACCEL_TRY(resize_inputs(node, in, n_in, &roi, &scales, &sizes));
	if ((sizes && !sizes->data) || (!sizes && scales && !scales->data)) {
		p->known = false;
		return NULL;
	}
	if (roi && roi->data && tensor_numel(roi) == 2 * na) {
		for (int i = 0; i < na; i++) {
			p->roi_start[axes[i]] = tensor_get_f64(roi, i);
			p->roi_end[axes[i]] = tensor_get_f64(roi, na + i);
		}
	}
	if (sizes)
		return resize_sizes(node, x, sizes, axes, na, p);
	if (!scales)
		return status_invalid("neither 'scales' nor 'sizes' is given");
	if (tensor_numel(scales) != na)
		return status_invalid("input 'scales' has %lld values, expected %d",
				      (long long)tensor_numel(scales), na);
	for (int i = 0; i < na; i++) {
		int a = (int)axes[i];
		double s = tensor_get_f64(scales, i);

		if (!(s > 0))
			return status_invalid("input 'scales': scale %g is not positive", s);
		p->scale[a] = s;
		p->out_dims[a] = x->dims[a] < 0 ? -1 :
			(int64_t)floor(s * (double)x->dims[a]);
	}
	return NULL;
}
