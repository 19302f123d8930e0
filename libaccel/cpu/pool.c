/* SPDX-License-Identifier: MIT */
/*
 * pool.c - MaxPool, AveragePool, LpPool, their Global forms and MaxUnpool
 * on the CPU.
 *
 * float32 runs on its own data; other types are widened to double first
 * (exact for every integer and float type the tests use) and narrowed back,
 * which keeps one loop nest per operator.
 */
#include "cpu/nn_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum pool_kind { POOL_MAX, POOL_AVG, POOL_LP };

typedef struct pool_job {
	win3 g;
	enum pool_kind kind;
	bool include_pad;
	bool global; /* Global*Pool: one window per plane */
	int64_t channels;
	int storage_order;
	double p;
	const float *xf;
	float *yf;
	const double *xd;
	double *yd;
	int64_t *idx;
} pool_job;

/*
 * Taps [*lo, *hi) of one dimension that land inside the input, and how many
 * land inside input plus explicit pads (for count_include_pad).
 */
static void tap_range(const win3 *g, int dim, int64_t o, int64_t *lo,
		      int64_t *hi, int64_t *padded)
{
	int64_t start = o * g->s[dim] - g->pb[dim], d = g->d[dim];
	int64_t a = start < 0 ? (-start + d - 1) / d : 0;
	int64_t b = g->in[dim] - start <= 0 ? 0 : (g->in[dim] - start + d - 1) / d;
	int64_t pe = g->in[dim] + g->pe[dim] - start;
	int64_t p = pe <= 0 ? 0 : (pe + d - 1) / d;

	*lo = a < g->k[dim] ? a : g->k[dim];
	*hi = b < *lo ? *lo : b < g->k[dim] ? b : g->k[dim];
	*padded = p < g->k[dim] ? p : g->k[dim];
}

/* One output value; *arg_out gets the flat input offset of the max. */
#define POOL_WINDOW(T)                                                        \
	static T pool_window_##T(const pool_job *j, const T *x, int64_t oz,  \
				 int64_t oy, int64_t ox, int64_t *arg_out)    \
	{                                                                     \
		const win3 *g = &j->g;                                        \
		double acc = j->kind == POOL_MAX ? -INFINITY : 0.0;           \
		int64_t lo[3], hi[3], pad[3], arg = -1, count, padded;        \
		int64_t o[3] = { oz, oy, ox };                                \
                                                                              \
		for (int i = 0; i < 3; i++)                                   \
			tap_range(g, i, o[i], &lo[i], &hi[i], &pad[i]);       \
		count = (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]);  \
		padded = pad[0] * pad[1] * pad[2];                            \
		for (int64_t kz = lo[0]; kz < hi[0]; kz++) {                  \
			int64_t iz = oz * g->s[0] - g->pb[0] + kz * g->d[0];  \
			for (int64_t ky = lo[1]; ky < hi[1]; ky++) {          \
				int64_t iy = oy * g->s[1] - g->pb[1] + ky * g->d[1]; \
				int64_t row = (iz * g->in[1] + iy) * g->in[2]; \
				int64_t ix = ox * g->s[2] - g->pb[2] + lo[2] * g->d[2]; \
				for (int64_t kx = lo[2]; kx < hi[2];          \
				     kx++, ix += g->d[2]) {                   \
					double v = x[row + ix];               \
					if (j->kind == POOL_MAX) {            \
						if (v > acc || arg < 0) {     \
							acc = v;              \
							arg = row + ix;       \
						}                             \
					} else if (j->kind == POOL_AVG) {     \
						acc += v;                     \
					} else {                              \
						acc += pow(fabs(v), j->p);    \
					}                                     \
				}                                             \
			}                                                     \
		}                                                             \
		*arg_out = arg;                                               \
		if (j->kind == POOL_AVG)                                      \
			return (T)(acc / (double)(j->include_pad ? padded : count)); \
		if (j->kind == POOL_LP)                                       \
			return (T)pow(acc, 1.0 / j->p);                       \
		return (T)acc;                                                \
	}

POOL_WINDOW(float)
POOL_WINDOW(double)

/* Index of an input offset in the flat N*C*spatial tensor, ONNX style. */
static int64_t pool_index(const pool_job *j, int64_t plane, int64_t off)
{
	const win3 *g = &j->g;
	int64_t ix, iy, iz;

	if (j->storage_order == 0)
		return plane * g->in_sp + off;
	/* Column-major spatial order: the first spatial axis varies fastest. */
	ix = off % g->in[2];
	iy = off / g->in[2] % g->in[1];
	iz = off / (g->in[2] * g->in[1]);
	if (g->in[0] == 1)
		return plane * g->in_sp + iy + ix * g->in[1];
	return plane * g->in_sp + iz + iy * g->in[0] + ix * g->in[0] * g->in[1];
}

static void pool_planes(void *arg, int64_t begin, int64_t end)
{
	const pool_job *j = arg;
	const win3 *g = &j->g;

	for (int64_t p = begin; p < end; p++) {
		int64_t o = p * g->out_sp;

		for (int64_t oz = 0; oz < g->out[0]; oz++)
			for (int64_t oy = 0; oy < g->out[1]; oy++)
				for (int64_t ox = 0; ox < g->out[2]; ox++, o++) {
					int64_t a;

					if (j->xf)
						j->yf[o] = pool_window_float(j, j->xf + p * g->in_sp,
									     oz, oy, ox, &a);
					else
						j->yd[o] = pool_window_double(j, j->xd + p * g->in_sp,
									      oz, oy, ox, &a);
					if (j->idx)
						j->idx[o] = a < 0 ? 0 : pool_index(j, p, a);
				}
	}
}

#define MP_MAX_TAPS 256

/* 2-D float32 MaxPool without Indices (ResNet's stem): phase planes. */
static void maxpool_fast(void *arg, int64_t begin, int64_t end)
{
	const pool_job *j = arg;
	const win3 *g = &j->g;
	int64_t rows, width, off[MP_MAX_TAPS];
	float *q = nn_phase_setup(g, &rows, &width, off);

	if (!q) {
		pool_planes(arg, begin, end);
		return;
	}
	for (int64_t p = begin; p < end; p++) {
		nn_phase_plane(g, j->xf + p * g->in_sp, -INFINITY, q, rows, width);
		for (int64_t oy = 0; oy < g->out[1]; oy++) {
			const float *base = q + oy * g->s[1] * width;
			float *yr = j->yf + p * g->out_sp + oy * g->out[2];

			for (int64_t ox = 0; ox < g->out[2]; ox += 16) {
				float acc[16];
				int64_t n = g->out[2] - ox < 16 ? g->out[2] - ox : 16;

				for (int l = 0; l < 16; l++)
					acc[l] = -INFINITY;
				for (int64_t t = 0; t < g->k_sp; t++) {
					const float *src = base + off[t] + ox;

					for (int l = 0; l < 16; l++)
						acc[l] = src[l] > acc[l] ? src[l] : acc[l];
				}
				memcpy(yr + ox, acc, sizeof(float) * (size_t)n);
			}
		}
	}
	free(q);
}

/* Widen a non-float32 tensor into a fresh double array. */
static accel_status widen(const accel_tensor *t, double **out)
{
	int64_t n = tensor_numel(t);
	double *d = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));

	if (!d)
		return status_oom("a pooling buffer");
	for (int64_t i = 0; i < n; i++)
		d[i] = tensor_get_f64(t, i);
	*out = d;
	return NULL;
}

typedef float pool_v16 __attribute__((vector_size(64)));
typedef int32_t pool_v16i __attribute__((vector_size(64)));

/*
 * GlobalAveragePool / GlobalMaxPool on float32: one plane per output,
 * 16 lanes at a time (squeeze-excite blocks run one per block; the
 * generic window loop summed in double, one element at a time).
 */
static void global_planes_f32(void *arg, int64_t begin, int64_t end)
{
	const pool_job *j = arg;
	int64_t sp = j->g.in_sp;

	for (int64_t p = begin; p < end; p++) {
		const float *x = j->xf + p * sp;
		pool_v16 acc, v;
		float lanes[16], r;
		int64_t i = 0;

		if (j->kind == POOL_AVG) {
			acc = (pool_v16){ 0 };
			for (; i + 16 <= sp; i += 16) {
				memcpy(&v, x + i, sizeof(v));
				acc += v;
			}
			memcpy(lanes, &acc, sizeof(lanes));
			r = 0.0f;
			for (int l = 0; l < 16; l++)
				r += lanes[l];
			for (; i < sp; i++)
				r += x[i];
			j->yf[p] = r / (float)sp;
			continue;
		}
		r = x[0];
		if (sp >= 16) {
			memcpy(&acc, x, sizeof(acc));
			for (i = 16; i + 16 <= sp; i += 16) {
				pool_v16i gt;

				memcpy(&v, x + i, sizeof(v));
				/* C has no ?: on vectors: select by the compare mask. */
				gt = v > acc;
				acc = (pool_v16)(((pool_v16i)v & gt) | ((pool_v16i)acc & ~gt));
			}
			memcpy(lanes, &acc, sizeof(lanes));
			for (int l = 0; l < 16; l++)
				r = lanes[l] > r ? lanes[l] : r;
		}
		for (; i < sp; i++)
			r = x[i] > r ? x[i] : r;
		j->yf[p] = r;
	}
}

static accel_status run_pool(const cpu_ctx *ctx, pool_job *j,
			     const accel_tensor *x, accel_tensor *y)
{
	double *xd = NULL, *yd = NULL;
	int64_t planes = x->dims[0] * x->dims[1], n = tensor_numel(y);
	accel_status st = NULL;

	if (n <= 0)
		return NULL;
	if (x->dtype == ACCEL_DTYPE_F32 && j->global && !j->idx &&
	    j->kind != POOL_LP && j->g.in_sp > 0) {
		j->xf = x->data;
		j->yf = y->data;
		parallel_for(ctx->pool, planes, nn_grain(j->g.in_sp),
			     global_planes_f32, j);
		return NULL;
	}
	if (x->dtype == ACCEL_DTYPE_F32) {
		bool fast = j->kind == POOL_MAX && !j->idx && j->g.in[0] == 1 &&
			    j->g.k[0] == 1 && j->g.k_sp <= MP_MAX_TAPS &&
			    j->g.out_sp > 1;

		j->xf = x->data;
		j->yf = y->data;
		parallel_for(ctx->pool, planes, nn_grain(j->g.out_sp * j->g.k_sp),
			     fast ? maxpool_fast : pool_planes, j);
		return NULL;
	}
	if (x->dtype == ACCEL_DTYPE_STRING || x->dtype == ACCEL_DTYPE_BOOL)
		return status_unsupported("input 'X' of type %s",
					  accel_dtype_name(x->dtype));
	st = widen(x, &xd);
	if (st)
		return st;
	yd = malloc(sizeof(double) * (size_t)n);
	if (!yd) {
		free(xd);
		return status_oom("a pooling buffer");
	}
	j->xd = xd;
	j->yd = yd;
	parallel_for(ctx->pool, planes, nn_grain(j->g.out_sp * j->g.k_sp),
		     pool_planes, j);
	for (int64_t i = 0; i < n; i++)
		tensor_set_f64(y, i, yd[i]);
	free(xd);
	free(yd);
	return NULL;
}

static accel_status pool_setup(const cpu_ctx *ctx, const accel_tensor *x,
			       bool global, pool_job *j)
{
	nn_window win;

	if (global) {
		int64_t k[ACCEL_MAX_RANK];

		win.nsp = x->rank - 2;
		for (int i = 0; i < win.nsp; i++) {
			win.in[i] = win.k[i] = k[i] = x->dims[i + 2];
			win.out[i] = win.s[i] = win.d[i] = 1;
			win.pb[i] = win.pe[i] = 0;
		}
		if (win.nsp <= 0) {
			/* [N, C]: each value is its own window. */
			win.nsp = 1;
			win.in[0] = win.k[0] = win.out[0] = win.s[0] = win.d[0] = 1;
			win.pb[0] = win.pe[0] = 0;
		}
	} else {
		ACCEL_TRY(nn_window_forward(ctx->node, x->rank - 2, x->dims + 2,
					    NULL, true, &win));
	}
	return win3_from(&win, &j->g);
}

static accel_status pool_common(const cpu_ctx *ctx, accel_tensor *const *in,
				accel_tensor *const *out, int n_out,
				enum pool_kind kind, bool global)
{
	pool_job j = { 0 };

	j.kind = kind;
	j.global = global;
	ACCEL_TRY(pool_setup(ctx, in[0], global, &j));
	j.include_pad = !global && ir_attr_int(ctx->node, "count_include_pad", 0);
	j.storage_order = (int)ir_attr_int(ctx->node, "storage_order", 0);
	j.p = kind == POOL_LP ? (double)ir_attr_int(ctx->node, "p", 2) : 1.0;
	if (kind == POOL_LP && ctx->node->opset < 2)
		j.p = ir_attr_float(ctx->node, "p", 2.0f);
	if (n_out > 1 && out[1])
		j.idx = out[1]->data;
	return run_pool(ctx, &j, in[0], out[0]);
}

NN_KERNEL(cpu_maxpool)
{
	return pool_common(ctx, in, out, n_out, POOL_MAX, false);
}

NN_KERNEL(cpu_averagepool)
{
	return pool_common(ctx, in, out, n_out, POOL_AVG, false);
}

NN_KERNEL(cpu_lppool)
{
	return pool_common(ctx, in, out, n_out, POOL_LP, false);
}

NN_KERNEL(cpu_global_averagepool)
{
	return pool_common(ctx, in, out, n_out, POOL_AVG, true);
}

NN_KERNEL(cpu_global_maxpool)
{
	return pool_common(ctx, in, out, n_out, POOL_MAX, true);
}

NN_KERNEL(cpu_global_lppool)
{
	return pool_common(ctx, in, out, n_out, POOL_LP, true);
}

/*
 * MaxUnpool: scatter X to the flat positions in I, zeros elsewhere. I
 * indexes the shape unpooling infers from the window; a larger
 * output_shape keeps that block at its top-left corner.
 */
NN_KERNEL(cpu_maxunpool)
{
	const accel_tensor *x = in[0];
	int64_t n = tensor_numel(x), total = 1, ish[ACCEL_MAX_RANK];
	int64_t ostr[ACCEL_MAX_RANK];
	size_t es = accel_dtype_size(x->dtype), nk, ns, np;
	const int64_t *k = ir_attr_ints(ctx->node, "kernel_shape", &nk);
	const int64_t *s = ir_attr_ints(ctx->node, "strides", &ns);
	const int64_t *p = ir_attr_ints(ctx->node, "pads", &np);
	int nsp = x->rank - 2;
	char *y = out[0]->data;

	if (in[1]->dtype != ACCEL_DTYPE_I64 || tensor_numel(in[1]) != n)
		return status_invalid("input 'I' must be int64 with one index per element of 'X'");
	if (!k || (int)nk != nsp || (s && (int)ns != nsp) || (p && (int)np != 2 * nsp) ||
	    out[0]->rank != x->rank)
		return status_bad_model("attributes 'kernel_shape', 'strides' and 'pads' must match the %d spatial dimensions",
					nsp);
	for (int i = 0; i < x->rank; i++) {
		ish[i] = i < 2 ? x->dims[i] :
				 (x->dims[i] - 1) * (s ? s[i - 2] : 1) + k[i - 2] -
					 (p ? p[i - 2] + p[i - 2 + nsp] : 0);
		if (ish[i] > out[0]->dims[i])
			return status_invalid("input 'output_shape' is smaller than the unpooled shape");
		total *= ish[i];
	}
	dims_strides(out[0]->rank, out[0]->dims, ostr);
	memset(y, 0, out[0]->nbytes);
	for (int64_t i = 0; i < n; i++) {
		int64_t at = ((const int64_t *)in[1]->data)[i], o = 0;

		if (at < 0 || at >= total)
			return status_invalid("input 'I' index %lld is outside the unpooled %lld elements",
					      (long long)at, (long long)total);
		for (int d = x->rank - 1; d >= 0; d--) {
			o += at % ish[d] * ostr[d];
			at /= ish[d];
		}
		memcpy(y + (size_t)o * es, (const char *)x->data + (size_t)i * es, es);
	}
	return NULL;
}
