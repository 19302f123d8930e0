/* SPDX-License-Identifier: MIT */
/*
 * tensor_resize.c - the CPU kernel of Resize and Upsample.
 *
 * Interpolation is separable: every output coordinate along a dimension
 * reads a few input positions ("taps") with weights. We build the taps of
 * each dimension once, following the ONNX reference (onnx/reference/ops/
 * op_resize.py) for coordinate mapping, neighbour choice, edge clamping,
 * exclude_outside and antialiasing, then form each output value as the sum
 * over the product of its taps.
 */
#include "cpu/tensor_kernels.h"
#include "ops/tensor_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum rmode { R_NEAREST, R_LINEAR, R_CUBIC };

typedef struct dim_taps {
	int n;		/* taps per output index */
	int64_t *idx;	/* [out][n] input indices, clamped */
	double *w;	/* [out][n] */
	float *wf;	/* the same weights in float, for the float32 path */
	bool *extrap;	/* [out]: tf_crop_and_resize outside the input */
} dim_taps;

typedef struct resize_cfg {
	enum rmode mode;
	const char *ctm, *nearest;
	double cubic_a, extrap_value;
	bool exclude_outside, antialias;
} resize_cfg;

static double src_coord(const resize_cfg *c, double x, double scale,
			int64_t in, int64_t out, double rs, double re,
			bool *extrap)
{
	double ow = scale * (double)in; /* the reference uses this, unrounded */
	const char *m = c->ctm;

	*extrap = false;
	if (!strcmp(m, "align_corners"))
		return ow == 1 ? 0 : x * (double)(in - 1) / (ow - 1);
	if (!strcmp(m, "asymmetric"))
		return x / scale;
	if (!strcmp(m, "tf_half_pixel_for_nn"))
		return (x + 0.5) / scale;
	if (!strcmp(m, "pytorch_half_pixel"))
		return ow == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
	if (!strcmp(m, "half_pixel_symmetric")) {
		double adj = (double)out / ow, center = (double)in / 2;

		return center * (1 - adj) + (x + 0.5) / scale - 0.5;
	}
	if (!strcmp(m, "tf_crop_and_resize")) {
		double v = ow == 1 ? (re - rs) * (double)(in - 1) / 2 :
			x * (re - rs) * (double)(in - 1) / (ow - 1);

		v += rs * (double)(in - 1);
		*extrap = v < 0 || v > (double)(in - 1);
		return v;
	}
	return (x + 0.5) / scale - 0.5; /* half_pixel */
}

static double cubic_w(double x, double a)
{
	x = fabs(x);
	if (x <= 1)
		return ((a + 2) * x - (a + 3)) * x * x + 1;
	if (x < 2)
		return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
	return 0;
}

/* Number of taps and the first tap's offset from floor(x) (see x0 below). */
static int tap_count(const resize_cfg *c, double scale, int *first)
{
	double s = c->antialias && scale < 1 ? scale : 1;
	int n;

	if (c->mode == R_NEAREST) {
		*first = 0;
		return 1;
	}
	if (c->mode == R_LINEAR)
		n = 2 - 2 * (int)(floor(-1 / s) + 1);
	else
		n = 2 - 2 * (int)(floor(-2 / s) + 1);
	*first = 1 - n / 2;
	return n;
}

static int64_t nearest_pick(const resize_cfg *c, int64_t x0, double r)
{
	const char *m = c->nearest;

	if (r == 1) /* x was an integer */
		return x0 + 1;
	if (!strcmp(m, "round_prefer_ceil"))
		return r < 0.5 ? x0 : x0 + 1;
	if (!strcmp(m, "floor"))
		return x0;
	if (!strcmp(m, "ceil"))
		return x0 + 1;
	return r <= 0.5 ? x0 : x0 + 1;
}

static void taps_at(const resize_cfg *c, double x, double scale, int64_t in,
		    int n, int first, int64_t *idx, double *w)
{
	/* ratio in (0, 1]: an integer x counts as the right end of its cell */
	int64_t x0 = (int64_t)floor(x);
	double r = x - (double)x0, s = c->antialias && scale < 1 ? scale : 1;
	double sum = 0;

	if (r == 0) {
		x0--;
		r = 1;
	}
	if (c->mode == R_NEAREST) {
		int64_t k = nearest_pick(c, x0, r);

		idx[0] = k < 0 ? 0 : k >= in ? in - 1 : k;
		w[0] = 1;
		return;
	}
	for (int t = 0; t < n; t++) {
		double d = (double)(first + t) - r; /* tap position minus x */

		idx[t] = x0 + first + t;
		if (c->mode == R_LINEAR)
			w[t] = fmax(0, 1 - fabs(d * s));
		else
			w[t] = cubic_w(d * s, c->cubic_a);
		if (c->exclude_outside && (idx[t] < 0 || idx[t] >= in))
			w[t] = 0;
		sum += w[t];
	}
	for (int t = 0; t < n; t++) {
		if ((c->antialias || c->exclude_outside) && sum != 0)
			w[t] /= sum;
		idx[t] = idx[t] < 0 ? 0 : idx[t] >= in ? in - 1 : idx[t];
	}
}

static accel_status build_taps(const resize_cfg *c, const resize_params *p,
			       int d, int64_t in, int64_t out, dim_taps *t)
{
	bool identity = out == in && fabs(p->scale[d] - 1) < 1e-9 &&
			(strcmp(c->ctm, "tf_crop_and_resize") ||
			 (p->roi_start[d] == 0 && p->roi_end[d] == 1));
	int first = 0;

	t->n = identity ? 1 : tap_count(c, p->scale[d], &first);
	t->idx = malloc((size_t)(out * t->n + 1) * sizeof(*t->idx));
	t->w = malloc((size_t)(out * t->n + 1) * sizeof(*t->w));
	t->wf = malloc((size_t)(out * t->n + 1) * sizeof(*t->wf));
	t->extrap = calloc((size_t)out + 1, sizeof(*t->extrap));
	if (!t->idx || !t->w || !t->wf || !t->extrap)
		return status_oom("resize taps");
	for (int64_t o = 0; o < out; o++) {
		double x;

		if (identity) {
			t->idx[o] = o;
			t->w[o] = 1;
			continue;
		}
		x = src_coord(c, (double)o, p->scale[d], in, out,
			      p->roi_start[d], p->roi_end[d], &t->extrap[o]);
		taps_at(c, x, p->scale[d], in, t->n, first, t->idx + o * t->n,
			t->w + o * t->n);
	}
	for (int64_t k = 0; k < out * t->n; k++)
		t->wf[k] = (float)t->w[k];
	return NULL;
}

typedef struct resize_job {
	const resize_cfg *cfg;
	const accel_tensor *x;
	accel_tensor *o;
	int rank;
	int64_t xs[ACCEL_MAX_RANK];
	dim_taps taps[ACCEL_MAX_RANK];
	unsigned char extrap_bytes[16];
} resize_job;

static double load(const accel_tensor *x, int64_t i)
{
	if (x->dtype == ACCEL_DTYPE_F32)
		return ((const float *)x->data)[i];
	return tensor_get_f64(x, i);
}

static void store(accel_tensor *o, int64_t i, double v)
{
	if (o->dtype == ACCEL_DTYPE_F32)
		((float *)o->data)[i] = (float)v;
	else if (dtype_is_float(o->dtype))
		tensor_set_f64(o, i, v);
	else
		tensor_set_f64(o, i, rint(v));
}

/* Fill |n| elements of a row with the extrapolation value. */
static void fill_row(char *dst, int64_t n, const unsigned char *v, size_t es)
{
	for (int64_t i = 0; i < n; i++)
		memcpy(dst + i * (int64_t)es, v, es);
}

static void nearest_row(const resize_job *j, char *dst, int64_t base)
{
	const dim_taps *lt = &j->taps[j->rank - 1];
	size_t es = accel_dtype_size(j->x->dtype);
	int64_t w = j->o->dims[j->rank - 1];
	const char *src = (const char *)j->x->data + base * (int64_t)es;

	if (es == 4) {
		for (int64_t i = 0; i < w; i++)
			((uint32_t *)dst)[i] = ((const uint32_t *)src)[lt->idx[i]];
	} else {
		for (int64_t i = 0; i < w; i++)
			memcpy(dst + i * (int64_t)es,
			       src + lt->idx[i] * (int64_t)es, es);
	}
}

/*
 * acc[i] += wc * (interpolation along the last dim of the row at base);
 * acc holds floats for a float32 input, doubles otherwise.
 */
static void interp_row(const resize_job *j, void *acc, int64_t base,
		       double wc)
{
	const dim_taps *lt = &j->taps[j->rank - 1];
	int64_t w = j->o->dims[j->rank - 1];
	int n = lt->n;

	if (j->x->dtype == ACCEL_DTYPE_F32) {
		const float *src = (const float *)j->x->data + base;
		float *fa = acc, fw = (float)wc;

		if (n == 2) {
			for (int64_t i = 0; i < w; i++) {
				const int64_t *ix = lt->idx + 2 * i;
				const float *wt = lt->wf + 2 * i;

				fa[i] += fw * (wt[0] * src[ix[0]] +
					       wt[1] * src[ix[1]]);
			}
			return;
		}
		for (int64_t i = 0; i < w; i++) {
			const int64_t *ix = lt->idx + i * n;
			const float *wt = lt->wf + i * n;
			float s = 0;

			for (int t = 0; t < n; t++)
				s += wt[t] * src[ix[t]];
			fa[i] += fw * s;
		}
		return;
	}
	for (int64_t i = 0; i < w; i++) {
		double s = 0;

		for (int t = 0; t < n; t++)
			s += lt->w[i * n + t] * load(j->x, base + lt->idx[i * n + t]);
		((double *)acc)[i] += wc * s;
	}
}

/* Sum over every combination of the taps of the outer dims of a row. */
static void linear_row(const resize_job *j, const int64_t *oc, void *acc)
{
	int cnt[ACCEL_MAX_RANK] = { 0 }, last = j->rank - 1, d;

	for (;;) {
		double wc = 1;
		int64_t base = 0;

		for (d = 0; d < last; d++) {
			const dim_taps *t = &j->taps[d];
			int64_t k = oc[d] * t->n + cnt[d];

			wc *= t->w[k];
			base += t->idx[k] * j->xs[d];
		}
		if (wc != 0)
			interp_row(j, acc, base, wc);
		for (d = last - 1; d >= 0; d--) {
			if (++cnt[d] < j->taps[d].n)
				break;
			cnt[d] = 0;
		}
		if (d < 0)
			return;
	}
}

static void resize_row(const resize_job *j, int64_t r, double *acc)
{
	int last = j->rank - 1;
	int64_t w = j->o->dims[last], oc[ACCEL_MAX_RANK], rem = r, base = 0;
	size_t es = accel_dtype_size(j->x->dtype);
	char *dst = (char *)j->o->data + r * w * (int64_t)es;
	const dim_taps *lt = &j->taps[last];

	for (int d = last - 1; d >= 0; d--) {
		oc[d] = rem % j->o->dims[d];
		rem /= j->o->dims[d];
		if (j->taps[d].extrap[oc[d]]) {
			fill_row(dst, w, j->extrap_bytes, es);
			return;
		}
		base += j->taps[d].idx[oc[d] * j->taps[d].n] * j->xs[d];
	}
	if (j->cfg->mode == R_NEAREST) {
		nearest_row(j, dst, base);
	} else {
		memset(acc, 0, (size_t)w * sizeof(*acc));
		linear_row(j, oc, acc);
		if (j->x->dtype == ACCEL_DTYPE_F32)
			memcpy(dst, acc, (size_t)w * sizeof(float));
		else
			for (int64_t i = 0; i < w; i++)
				store(j->o, r * w + i, acc[i]);
	}
	for (int64_t i = 0; i < w; i++)
		if (lt->extrap[i])
			memcpy(dst + i * (int64_t)es, j->extrap_bytes, es);
}

static void resize_rows(void *arg, int64_t begin, int64_t end)
{
	const resize_job *j = arg;
	double *acc = malloc((size_t)j->o->dims[j->rank - 1] * sizeof(*acc) + 8);

	if (!acc)
		return; /* cannot happen for sane widths; output stays zero */
	for (int64_t r = begin; r < end; r++)
		resize_row(j, r, acc);
	free(acc);
}

static accel_status resize_config(const ir_node *node, resize_cfg *c)
{
	const char *mode = ir_attr_string(node, "mode", "nearest");
	bool legacy = !strcmp(node->op_type, "Upsample") || node->opset < 11;

	c->mode = !strcmp(mode, "nearest") ? R_NEAREST :
		  !strcmp(mode, "cubic") ? R_CUBIC : R_LINEAR;
	c->ctm = legacy ? "asymmetric" :
		 ir_attr_string(node, "coordinate_transformation_mode",
				"half_pixel");
	c->nearest = legacy ? "floor" :
		     ir_attr_string(node, "nearest_mode", "round_prefer_floor");
	c->cubic_a = ir_attr_float(node, "cubic_coeff_a", -0.75f);
	c->extrap_value = ir_attr_float(node, "extrapolation_value", 0);
	c->exclude_outside = ir_attr_int(node, "exclude_outside", 0) != 0;
	c->antialias = ir_attr_int(node, "antialias", 0) != 0 &&
		       c->mode != R_NEAREST;
	if (c->mode == R_CUBIC && legacy)
		return status_unsupported("attribute 'mode': cubic needs opset 11");
	return NULL;
}

accel_status cpu_resize(const cpu_ctx *ctx, accel_tensor *const *in, int n_in,
			accel_tensor *const *out, int n_out)
{
	resize_cfg cfg;
	resize_params p;
	resize_job j = { .cfg = &cfg, .x = in[0], .o = out[0],
			 .rank = in[0]->rank };
	accel_tensor eb = { .dtype = in[0]->dtype, .data = j.extrap_bytes };
	accel_status st = NULL;
	int64_t n = tensor_numel(out[0]);

	ACCEL_TRY(resize_config(ctx->node, &cfg));
	ACCEL_TRY(resize_resolve(ctx->node, in, n_in, &p));
	if (n == 0)
		return NULL;
	if (j.rank == 0)
		return status_invalid("input 'X' is a scalar");
	if (tensor_numel(in[0]) == 0)
		return status_invalid("input 'X' is empty");
	tensor_set_f64(&eb, 0, cfg.extrap_value);
	dims_strides(j.rank, in[0]->dims, j.xs);
	for (int d = 0; d < j.rank && !st; d++)
		st = build_taps(&cfg, &p, d, in[0]->dims[d], out[0]->dims[d],
				&j.taps[d]);
	if (!st)
		parallel_for(ctx->pool, n / out[0]->dims[j.rank - 1],
			     1 + 4096 / out[0]->dims[j.rank - 1], resize_rows, &j);
	for (int d = 0; d < j.rank; d++) {
		free(j.taps[d].idx);
		free(j.taps[d].w);
		free(j.taps[d].wf);
		free(j.taps[d].extrap);
	}
	return st;
}
