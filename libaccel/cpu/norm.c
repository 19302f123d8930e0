/* SPDX-License-Identifier: MIT */
/*
 * norm.c - normalization operators on the CPU: BatchNormalization,
 * InstanceNormalization, LayerNormalization, LRN, MeanVarianceNormalization
 * and LpNormalization.
 *
 * Statistics accumulate in double. float32 has direct loops where models
 * spend time (BatchNormalization inference, LayerNormalization); other
 * floating types go through nn_get()/nn_set().
 */
#include "cpu/nn_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static accel_status need_float_x(const accel_tensor *x, const char *name)
{
	if (!dtype_is_float(x->dtype))
		return status_unsupported("input '%s' of type %s",
					  name, accel_dtype_name(x->dtype));
	return NULL;
}

/* ---- BatchNormalization ---- */

typedef struct bn_job {
	const accel_tensor *x;
	accel_tensor *y;
	int64_t c, sp;
	const double *scale, *shift; /* per channel: y = x * scale + shift */
} bn_job;

static void bn_planes(void *arg, int64_t begin, int64_t end)
{
	const bn_job *j = arg;

	for (int64_t p = begin; p < end; p++) {
		int64_t c = p % j->c, base = p * j->sp;
		double a = j->scale[c], b = j->shift[c];

		if (j->x->dtype == ACCEL_DTYPE_F32) {
			const float *x = (const float *)j->x->data + base;
			float *y = (float *)j->y->data + base;
			float af = (float)a, bf = (float)b;

			for (int64_t i = 0; i < j->sp; i++)
				y[i] = x[i] * af + bf;
		} else {
			for (int64_t i = 0; i < j->sp; i++)
				nn_set(j->y, base + i, nn_get(j->x, base + i) * a + b);
		}
	}
}

/* Mean and (population) variance of channel c over batch and space. */
static void channel_stats(const accel_tensor *x, int64_t n, int64_t cn,
			  int64_t sp, int64_t c, double *mean, double *var)
{
	double s = 0, s2 = 0, m;
	int64_t cnt = n * sp;

	for (int64_t b = 0; b < n; b++)
		for (int64_t i = 0; i < sp; i++)
			s += nn_get(x, (b * cn + c) * sp + i);
	m = s / (double)cnt;
	for (int64_t b = 0; b < n; b++)
		for (int64_t i = 0; i < sp; i++) {
			double d = nn_get(x, (b * cn + c) * sp + i) - m;

			s2 += d * d;
		}
	*mean = m;
	*var = s2 / (double)cnt;
}

NN_KERNEL(cpu_batchnorm)
{
	const accel_tensor *x = in[0];
	double eps = ir_attr_float(ctx->node, "epsilon", 1e-5f);
	double mom = ir_attr_float(ctx->node, "momentum", 0.9f);
	bool training = ir_attr_int(ctx->node, "training_mode", 0) != 0;
	int64_t c = x->dims[1], n = x->dims[0], sp = 1;
	double *buf;
	bn_job j;

	ACCEL_TRY(need_float_x(x, "X"));
	if (!training && n_out > 1) {
		for (int i = 1; i < n_out; i++)
			if (out[i])
				return status_unsupported("training outputs of opset %d BatchNormalization",
							  ctx->node->opset);
	}
	for (int i = 2; i < x->rank; i++)
		sp *= x->dims[i];
	buf = malloc(sizeof(double) * (size_t)(2 * c + 1));
	if (!buf)
		return status_oom("batch-norm coefficients");
	for (int64_t ch = 0; ch < c; ch++) {
		double mean = nn_get(in[3], ch), var = nn_get(in[4], ch);
		double bm, bv;

		if (training) {
			channel_stats(x, n, c, sp, ch, &bm, &bv);
			if (n_out > 1 && out[1])
				nn_set(out[1], ch, mean * mom + bm * (1 - mom));
			if (n_out > 2 && out[2])
				nn_set(out[2], ch, var * mom + bv * (1 - mom));
			mean = bm;
			var = bv;
		}
		buf[ch] = nn_get(in[1], ch) / sqrt(var + eps);
		buf[c + ch] = nn_get(in[2], ch) - mean * buf[ch];
	}
	j.x = x;
	j.y = out[0];
	j.c = c;
	j.sp = sp;
	j.scale = buf;
	j.shift = buf + c;
	parallel_for(ctx->pool, n * c, nn_grain(sp), bn_planes, &j);
	free(buf);
	return NULL;
}

/* ---- InstanceNormalization ---- */

typedef struct inorm_job {
	const accel_tensor *x, *scale, *bias;
	accel_tensor *y;
	int64_t c, sp;
	double eps;
} inorm_job;

static void inorm_planes(void *arg, int64_t begin, int64_t end)
{
	const inorm_job *j = arg;

	for (int64_t p = begin; p < end; p++) {
		int64_t c = p % j->c, base = p * j->sp;
		double mean, var, a, b;

		channel_stats(j->x, 1, 1, j->sp, p, &mean, &var);
		a = nn_get(j->scale, c) / sqrt(var + j->eps);
		b = nn_get(j->bias, c) - mean * a;
		for (int64_t i = 0; i < j->sp; i++)
			nn_set(j->y, base + i, nn_get(j->x, base + i) * a + b);
	}
}

NN_KERNEL(cpu_instancenorm)
{
	const accel_tensor *x = in[0];
	inorm_job j;

	ACCEL_TRY(need_float_x(x, "input"));
	j.x = x;
	j.scale = in[1];
	j.bias = in[2];
	j.y = out[0];
	j.c = x->dims[1];
	j.sp = 1;
	for (int i = 2; i < x->rank; i++)
		j.sp *= x->dims[i];
	j.eps = ir_attr_float(ctx->node, "epsilon", 1e-5f);
	parallel_for(ctx->pool, x->dims[0] * j.c, nn_grain(4 * j.sp), inorm_planes,
		     &j);
	return NULL;
}

/* ---- LayerNormalization ---- */

typedef struct lnorm_job {
	const accel_tensor *x, *w, *b;
	accel_tensor *y, *mean, *inv;
	int64_t len;
	const int64_t *wmap, *bmap; /* broadcast index maps, NULL: identity */
	double eps;
	bool rms; /* RMSNormalization: no centring, no bias */
} lnorm_job;

typedef float lnorm_v16 __attribute__((vector_size(64)));

/* Sum of the 16 lanes of |v|, as double. */
static double lanes_sum(lnorm_v16 v)
{
	float f[16];
	double s = 0;

	memcpy(f, &v, sizeof(f));
	for (int i = 0; i < 16; i++)
		s += f[i];
	return s;
}

/*
 * One float32 row, 16 lanes at a time: the scalar double loops spent more
 * time than the rest of a transformer layer's elementwise work. Lane sums
 * are float (each lane sums len/16 values), the final reduction double;
 * the variance is taken around the mean (two passes), so no cancellation.
 */
static void lnorm_row_f32(const lnorm_job *j, const float *x, float *y,
			  int64_t r)
{
	const float *w = j->w->data, *b = j->b ? j->b->data : NULL;
	lnorm_v16 acc = { 0 }, v;
	int64_t n = j->len, i = 0, vn = n / 16 * 16;
	double s = 0, s2 = 0, m = 0, inv;
	float mf, invf;

	if (!j->rms) {
		for (i = 0; i < vn; i += 16) {
			memcpy(&v, x + i, sizeof(v));
			acc += v;
		}
		s = lanes_sum(acc);
		for (; i < n; i++)
			s += x[i];
		m = s / (double)n;
	}
	mf = (float)m;
	acc = (lnorm_v16){ 0 };
	for (i = 0; i < vn; i += 16) {
		memcpy(&v, x + i, sizeof(v));
		v -= mf;
		acc += v * v;
	}
	s2 = lanes_sum(acc);
	for (; i < n; i++)
		s2 += ((double)x[i] - m) * ((double)x[i] - m);
	inv = 1.0 / sqrt(s2 / (double)n + j->eps);
	invf = (float)inv;
	if (j->mean)
		nn_set(j->mean, r, m);
	if (j->inv)
		nn_set(j->inv, r, inv);
	for (i = 0; i < vn; i += 16) {
		lnorm_v16 wv, bv = { 0 };

		memcpy(&v, x + i, sizeof(v));
		memcpy(&wv, w + i, sizeof(wv));
		if (b)
			memcpy(&bv, b + i, sizeof(bv));
		v = (v - mf) * invf * wv + bv;
		memcpy(y + i, &v, sizeof(v));
	}
	for (; i < n; i++)
		y[i] = (x[i] - mf) * invf * w[i] + (b ? b[i] : 0.0f);
}

static void lnorm_rows(void *arg, int64_t begin, int64_t end)
{
	const lnorm_job *j = arg;
	bool fast = j->x->dtype == ACCEL_DTYPE_F32 && j->w->dtype == ACCEL_DTYPE_F32 &&
		    (!j->b || j->b->dtype == ACCEL_DTYPE_F32) && !j->wmap && !j->bmap;

	for (int64_t r = begin; r < end; r++) {
		int64_t base = r * j->len;
		double s = 0, s2 = 0, m, inv;

		if (fast) {
			lnorm_row_f32(j, (const float *)j->x->data + base,
				      (float *)j->y->data + base, r);
			continue;
		}
		for (int64_t i = 0; i < j->len && !j->rms; i++)
			s += nn_get(j->x, base + i);
		m = s / (double)j->len;
		for (int64_t i = 0; i < j->len; i++) {
			double d = nn_get(j->x, base + i) - m;

			s2 += d * d;
		}
		inv = 1.0 / sqrt(s2 / (double)j->len + j->eps);
		if (j->mean)
			nn_set(j->mean, r, m);
		if (j->inv)
			nn_set(j->inv, r, inv);
		for (int64_t i = 0; i < j->len; i++) {
			double w = nn_get(j->w, j->wmap ? j->wmap[i] : i);
			double b = j->b ? nn_get(j->b, j->bmap ? j->bmap[i] : i) : 0;

			nn_set(j->y, base + i, (nn_get(j->x, base + i) - m) * inv * w + b);
		}
	}
}

/*
 * Map each position of the normalized shape x->dims[axis:] to an element of
 * |t| broadcast to it; *out NULL when |t| already has exactly that shape.
 */
static accel_status bcast_map(const accel_tensor *x, int axis,
			      const accel_tensor *t, const char *name,
			      int64_t len, int64_t **out)
{
	int nr = x->rank - axis, off;
	int64_t *map, tstr[ACCEL_MAX_RANK];

	*out = NULL;
	if (tensor_numel(t) == len && t->rank <= nr)
		return NULL;
	if (t->rank > nr)
		return status_invalid("input '%s' has rank %d, more than the %d normalized dimensions",
				      name, t->rank, nr);
	off = nr - t->rank;
	for (int i = 0; i < t->rank; i++)
		if (t->dims[i] != 1 && t->dims[i] != x->dims[axis + off + i])
			return status_invalid("input '%s' cannot be broadcast to the normalized shape",
					      name);
	dims_strides(t->rank, t->dims, tstr);
	map = malloc(sizeof(int64_t) * (size_t)len);
	if (!map)
		return status_oom("a broadcast map");
	for (int64_t i = 0; i < len; i++) {
		int64_t rem = i, idx = 0;

		for (int d = nr - 1; d >= 0; d--) {
			int64_t ext = x->dims[axis + d], pos = rem % ext;

			rem /= ext;
			if (d >= off && t->dims[d - off] != 1)
				idx += pos * tstr[d - off];
		}
		map[i] = idx;
	}
	*out = map;
	return NULL;
}

static accel_status layernorm_common(const cpu_ctx *ctx,
				     accel_tensor *const *in, int n_in,
				     accel_tensor *const *out, int n_out,
				     bool rms)
{
	const accel_tensor *x = in[0];
	int64_t rows = 1, *wmap = NULL, *bmap = NULL;
	accel_status st;
	lnorm_job j;
	int axis;

	ACCEL_TRY(need_float_x(x, "X"));
	ACCEL_TRY(op_axis(NULL, ir_attr_int(ctx->node, "axis", -1), x->rank, &axis));
	memset(&j, 0, sizeof(j));
	j.len = 1;
	for (int i = 0; i < x->rank; i++) {
		if (i < axis)
			rows *= x->dims[i];
		else
			j.len *= x->dims[i];
	}
	st = bcast_map(x, axis, in[1], "Scale", j.len, &wmap);
	if (!st && n_in > 2 && in[2])
		st = bcast_map(x, axis, in[2], "B", j.len, &bmap);
	if (st) {
		free(wmap);
		return st;
	}
	j.x = x;
	j.w = in[1];
	j.b = n_in > 2 ? in[2] : NULL;
	j.y = out[0];
	j.mean = n_out > 1 ? out[1] : NULL;
	j.inv = n_out > 2 ? out[2] : NULL;
	j.wmap = wmap;
	j.bmap = bmap;
	j.eps = ir_attr_float(ctx->node, "epsilon", 1e-5f);
	j.rms = rms;
	parallel_for(ctx->pool, rows, nn_grain(4 * j.len), lnorm_rows, &j);
	free(wmap);
	free(bmap);
	return NULL;
}

NN_KERNEL(cpu_layernorm)
{
	return layernorm_common(ctx, in, n_in, out, n_out, false);
}

NN_KERNEL(cpu_rmsnorm)
{
	return layernorm_common(ctx, in, n_in > 2 ? 2 : n_in, out, 1, true);
}

/* ---- GroupNormalization ---- */

NN_KERNEL(cpu_groupnorm)
{
	const accel_tensor *x = in[0];
	int64_t groups = ir_attr_int(ctx->node, "num_groups", 0), c, sp = 1, cg;
	double eps = ir_attr_float(ctx->node, "epsilon", 1e-5f);
	bool per_group;

	ACCEL_TRY(need_float_x(x, "X"));
	c = x->dims[1];
	if (groups < 1 || c % groups)
		return status_bad_model("attribute 'num_groups' %lld does not divide the %lld channels",
					(long long)groups, (long long)c);
	/* Opset 18 scales per group, opset 21 per channel. */
	per_group = tensor_numel(in[1]) == groups && groups != c;
	if (!per_group && tensor_numel(in[1]) != c)
		return status_invalid("input 'scale' has %lld values, expected %lld",
				      (long long)tensor_numel(in[1]), (long long)c);
	for (int i = 2; i < x->rank; i++)
		sp *= x->dims[i];
	cg = c / groups;
	for (int64_t n = 0; n < x->dims[0]; n++)
		for (int64_t g = 0; g < groups; g++) {
			int64_t base = (n * c + g * cg) * sp;
			double mean, var;

			channel_stats(x, 1, 1, cg * sp, base / (cg * sp), &mean, &var);
			for (int64_t ch = 0; ch < cg; ch++) {
				int64_t pi = per_group ? g : g * cg + ch;
				double a = nn_get(in[1], pi) / sqrt(var + eps);
				double b = nn_get(in[2], pi) - mean * a;

				for (int64_t i = 0; i < sp; i++) {
					int64_t o = base + ch * sp + i;

					nn_set(out[0], o, nn_get(x, o) * a + b);
				}
			}
		}
	return NULL;
}

/* ---- LRN: across channels ---- */

NN_KERNEL(cpu_lrn)
{
	const accel_tensor *x = in[0];
	double alpha = ir_attr_float(ctx->node, "alpha", 1e-4f);
	double beta = ir_attr_float(ctx->node, "beta", 0.75f);
	double bias = ir_attr_float(ctx->node, "bias", 1.0f);
	int64_t size = ir_attr_int(ctx->node, "size", 0), c, sp = 1, lo, hi;

	ACCEL_TRY(need_float_x(x, "X"));
	if (size < 1)
		return status_bad_model("attribute 'size' must be positive");
	if (x->rank < 2)
		return status_invalid("input 'X' has rank %d, expected at least 2",
				      x->rank);
	c = x->dims[1];
	for (int i = 2; i < x->rank; i++)
		sp *= x->dims[i];
	lo = (size - 1) / 2;
	hi = size - 1 - lo;
	for (int64_t n = 0; n < x->dims[0]; n++)
		for (int64_t ch = 0; ch < c; ch++)
			for (int64_t i = 0; i < sp; i++) {
				double sq = 0;

				for (int64_t k = ch - lo; k <= ch + hi; k++) {
					double v;

					if (k < 0 || k >= c)
						continue;
					v = nn_get(x, (n * c + k) * sp + i);
					sq += v * v;
				}
				nn_set(out[0], (n * c + ch) * sp + i,
				       nn_get(x, (n * c + ch) * sp + i) /
					       pow(bias + alpha / (double)size * sq, beta));
			}
	return NULL;
}

/* ---- MeanVarianceNormalization over a set of axes ---- */

NN_KERNEL(cpu_mvn)
{
	static const int64_t def_axes[] = { 0, 2, 3 };
	const accel_tensor *x = in[0];
	const int64_t *axes;
	size_t na;
	bool red[ACCEL_MAX_RANK] = { false };
	int64_t n = tensor_numel(x), groups = 1, str[ACCEL_MAX_RANK];
	double *sum, *sq;

	ACCEL_TRY(need_float_x(x, "X"));
	axes = ir_attr_ints(ctx->node, "axes", &na);
	if (!axes) {
		axes = def_axes;
		na = 3;
	}
	for (size_t i = 0; i < na; i++) {
		int a;

		ACCEL_TRY(op_axis(NULL, axes[i], x->rank, &a));
		red[a] = true;
	}
	/* Reduced tensor: dims kept where not reduced; index by stride map. */
	for (int d = x->rank - 1; d >= 0; d--) {
		str[d] = red[d] ? 0 : groups;
		groups *= red[d] ? 1 : x->dims[d];
	}
	sum = calloc((size_t)(2 * groups + 1), sizeof(double));
	if (!sum)
		return status_oom("MVN statistics");
	sq = sum + groups;
	for (int pass = 0; pass < 3; pass++) {
		for (int64_t i = 0; i < n; i++) {
			int64_t rem = i, gidx = 0;
			double v = nn_get(x, i);

			for (int d = x->rank - 1; d >= 0; d--) {
				gidx += rem % x->dims[d] * str[d];
				rem /= x->dims[d];
			}
			if (pass == 0)
				sum[gidx] += v;
			else if (pass == 1)
				sq[gidx] += (v - sum[gidx]) * (v - sum[gidx]);
			else
				nn_set(out[0], i, (v - sum[gidx]) / (sqrt(sq[gidx]) + 1e-9));
		}
		for (int64_t g = 0; g < groups; g++) {
			if (pass == 0)
				sum[g] /= (double)(n / groups);
			else if (pass == 1)
				sq[g] /= (double)(n / groups);
		}
	}
	free(sum);
	return NULL;
}

/* ---- LpNormalization along one axis ---- */

NN_KERNEL(cpu_lpnorm)
{
	const accel_tensor *x = in[0];
	int64_t p = ir_attr_int(ctx->node, "p", 2), outer = 1, len, inner = 1;
	int axis;

	ACCEL_TRY(need_float_x(x, "input"));
	if (p != 1 && p != 2)
		return status_bad_model("attribute 'p' value %lld must be 1 or 2",
					(long long)p);
	ACCEL_TRY(op_axis(NULL, ir_attr_int(ctx->node, "axis", -1), x->rank, &axis));
	len = x->dims[axis];
	for (int i = 0; i < x->rank; i++) {
		if (i < axis)
			outer *= x->dims[i];
		else if (i > axis)
			inner *= x->dims[i];
	}
	for (int64_t o = 0; o < outer; o++)
		for (int64_t in_ = 0; in_ < inner; in_++) {
			int64_t base = o * len * inner + in_;
			double norm = 0;

			for (int64_t k = 0; k < len; k++) {
				double v = nn_get(x, base + k * inner);

				norm += p == 1 ? fabs(v) : v * v;
			}
			if (p == 2)
				norm = sqrt(norm);
			for (int64_t k = 0; k < len; k++) {
				double v = nn_get(x, base + k * inner);

				nn_set(out[0], base + k * inner, norm == 0 ? 0 : v / norm);
			}
		}
	return NULL;
}
