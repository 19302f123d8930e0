/* SPDX-License-Identifier: MIT */
/*
 * conv.c - Conv and ConvTranspose on the CPU (float32), ConvInteger and
 * QLinearConv (8-bit, exact: im2col and the int8 GEMM).
 *
 * Conv is SGEMM: W_g [M/g x C/g*k] times the im2col matrix [C/g*k x out].
 * The matrix is built and packed per L2-sized block of output positions,
 * one task per block; pointwise convolutions pack X directly, and stride-1
 * 2-D convolutions skip im2col (implicit GEMM over a padded input, below).
 * Bias, FusedConv's residual Z and its activation (cpu/act.h) ride in the
 * GEMM epilogue. Convolutions with one input channel per group (depthwise)
 * run directly and vectorized, since a GEMM with K = kernel size wastes the
 * machine. ConvTranspose is the adjoint: W_g^T times X, then col2im
 * scatters.
 */
#include "cpu/gemm.h"
#include "cpu/gemm_s8.h"
#include "cpu/nn_kernels.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct conv_job {
	win3 g;
	const float *x, *w, *b;
	float *y, *col;
	int64_t cin, cout, group, cg, mg;
	int64_t nb; /* output positions per block (blocked path) */
	cpu_act act;	/* fused activation, after the residual */
	const float *z; /* fused residual (FusedConv's Z, Y's shape), or NULL */
	_Atomic(accel_status) st;
} conv_job;

static accel_status need_f32(accel_tensor *const *in, int n, const char *const *names)
{
	for (int i = 0; i < n; i++)
		if (in[i] && in[i]->dtype != ACCEL_DTYPE_F32)
			return status_unsupported("input '%s' of type %s (only float32 is implemented)",
						  names[i], accel_dtype_name(in[i]->dtype));
	return NULL;
}

/*
 * ---- im2col: rows (c, kz, ky, kx), columns the output positions ----
 * Written straight into SGEMM's packed-B layout: a row's values go NR at a
 * time into consecutive slivers, so the matrix is copied once, not twice.
 */

/* Output x range [lo, hi) whose input x stays inside the row for tap kx. */
static void valid_range(const win3 *g, int64_t kx, int64_t *lo, int64_t *hi)
{
	int64_t off = kx * g->d[2] - g->pb[2];
	int64_t a = off < 0 ? (-off + g->s[2] - 1) / g->s[2] : 0;
	int64_t b = g->in[2] - off <= 0 ? 0 : (g->in[2] - off - 1) / g->s[2] + 1;

	if (a > g->out[2])
		a = g->out[2];
	*lo = a;
	*hi = b < a ? a : b < g->out[2] ? b : g->out[2];
}

/*
 * Rows [r0, r1) and output positions [c0, c0 + nb) of the im2col matrix,
 * row-major with leading dimension |ld|. Each output row is a zero run, a
 * (strided) copy and a zero run, so the loops are simple and vectorize.
 */
static void im2col_block(const conv_job *j, const float *x, float *dst,
			 int64_t ld, int64_t r0, int64_t r1, int64_t c0,
			 int64_t nb)
{
	const win3 *g = &j->g;

	for (int64_t r = r0; r < r1; r++) {
		int64_t c = r / g->k_sp, kk = r % g->k_sp;
		int64_t kx = kk % g->k[2], ky = kk / g->k[2] % g->k[1];
		int64_t kz = kk / (g->k[2] * g->k[1]), lo, hi;
		int64_t off = kx * g->d[2] - g->pb[2], sx = g->s[2];
		int64_t row = c0 / g->out[2], ox = c0 % g->out[2], left = nb;
		const float *xc = x + c * g->in_sp;
		float *d = dst + (r - r0) * ld;

		valid_range(g, kx, &lo, &hi);
		for (; left > 0; row++, ox = 0) {
			int64_t oz = row / g->out[1], oy = row % g->out[1];
			int64_t iz = oz * g->s[0] - g->pb[0] + kz * g->d[0];
			int64_t iy = oy * g->s[1] - g->pb[1] + ky * g->d[1];
			int64_t e = ox + left < g->out[2] ? ox + left : g->out[2];
			int64_t a = lo > ox ? lo : ox, b = hi < e ? hi : e, i;
			const float *xr = xc + (iz * g->in[1] + iy) * g->in[2] + off;

			left -= e - ox;
			if (iz < 0 || iz >= g->in[0] || iy < 0 || iy >= g->in[1] ||
			    a >= b) {
				a = b = e;
			}
			for (i = ox; i < a; i++)
				*d++ = 0.0f;
			if (sx == 1)
				for (; i < b; i++)
					*d++ = xr[i];
			else
				for (; i < b; i++)
					*d++ = xr[i * sx];
			for (; i < e; i++)
				*d++ = 0.0f;
		}
	}
}

static void im2col_rows(void *arg, int64_t begin, int64_t end)
{
	const conv_job *j = arg;

	im2col_block(j, j->x, j->col + begin * j->g.out_sp, j->g.out_sp, begin,
		     end, 0, j->g.out_sp);
}

/* Columns [first, first + nb) of a k-row matrix (rows |ld| apart) into
 * packed-B slivers, zero padded. */
static void pack_block(const float *t, int64_t ld, int64_t k, int64_t nb,
		       float *bp, int64_t first)
{
	for (int64_t c0 = 0; c0 < nb; c0 += SGEMM_NR) {
		int64_t w = nb - c0 < SGEMM_NR ? nb - c0 : SGEMM_NR;
		float *d = bp + sgemm_packed_b_index(k, 0, c0);

		for (int64_t p = 0; p < k; p++, d += SGEMM_NR) {
			const float *src = t + p * ld + first + c0;

			if (w == SGEMM_NR) {
				memcpy(d, src, SGEMM_NR * sizeof(float));
			} else {
				for (int64_t i = 0; i < SGEMM_NR; i++)
					d[i] = i < w ? src[i] : 0.0f;
			}
		}
	}
}

/*
 * ---- phase planes: a padded 2-D plane split by column phase ----
 * Q[ph][r][i] = X[r - pb_y][(i * sx + ph) - pb_x], |fill| outside X. With
 * tx = kx * dx, tap (ky, kx) of output (oy, ox) is then
 * Q[tx % sx][oy * sy + ky * dy][ox + tx / sx]: contiguous in ox whatever the
 * stride, and never out of bounds, so window loops need no checks and
 * vectorize.
 */
#if defined(__AVX512F__)
/* Stride 2: both phases of a row in one pass, 32 inputs per step. */
static void phase_row2(const float *xr, int64_t w, int64_t pl, float fill,
		       float *d0, float *d1, int64_t width)
{
	const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16,
					     18, 20, 22, 24, 26, 28, 30);
	const __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
	int64_t i = 0;

	for (; i < width; i++) {
		int64_t a = 2 * i - pl;

		if (a >= 0 && i + 16 <= width && a + 31 < w)
			break;
		d0[i] = a >= 0 && a < w ? xr[a] : fill;
		d1[i] = a + 1 >= 0 && a + 1 < w ? xr[a + 1] : fill;
	}
	for (; i + 16 <= width && 2 * i - pl + 31 < w; i += 16) {
		const float *src = xr + 2 * i - pl;
		__m512 lo = _mm512_loadu_ps(src), hi = _mm512_loadu_ps(src + 16);

		_mm512_storeu_ps(d0 + i, _mm512_permutex2var_ps(lo, ev, hi));
		_mm512_storeu_ps(d1 + i, _mm512_permutex2var_ps(lo, od, hi));
	}
	for (; i < width; i++) {
		int64_t a = 2 * i - pl;

		d0[i] = a >= 0 && a < w ? xr[a] : fill;
		d1[i] = a + 1 >= 0 && a + 1 < w ? xr[a + 1] : fill;
	}
}
#endif

float *nn_phase_setup(const win3 *g, int64_t *out_rows, int64_t *out_width, int64_t *off)
{
	int64_t rows = (g->out[1] - 1) * g->s[1] + (g->k[1] - 1) * g->d[1] + 1;
	int64_t width = (g->out[2] + 15) / 16 * 16 + (g->k[2] - 1) * g->d[2] / g->s[2] + 1;

	for (int64_t ky = 0; ky < g->k[1]; ky++)
		for (int64_t kx = 0; kx < g->k[2]; kx++)
			off[ky * g->k[2] + kx] =
				((kx * g->d[2] % g->s[2]) * rows + ky * g->d[1]) * width +
				kx * g->d[2] / g->s[2];
	*out_rows = rows;
	*out_width = width;
	return malloc(sizeof(float) * (size_t)(g->s[2] * rows * width));
}

void nn_phase_plane(const win3 *g, const float *x, float fill, float *q,
		    int64_t rows, int64_t width)
{
	int64_t sx = g->s[2];

#if defined(__AVX512F__)
	if (sx == 2) {
		for (int64_t r = 0; r < rows; r++) {
			float *d0 = q + r * width, *d1 = q + (rows + r) * width;
			int64_t iy = r - g->pb[1];

			if (iy < 0 || iy >= g->in[1]) {
				for (int64_t i = 0; i < width; i++)
					d0[i] = d1[i] = fill;
				continue;
			}
			phase_row2(x + iy * g->in[2], g->in[2], g->pb[2], fill,
				   d0, d1, width);
		}
		return;
	}
#endif

	for (int64_t ph = 0; ph < sx; ph++) {
		/* Plane columns i whose input column i*sx+ph-pb lies in X. */
		int64_t first = ph - g->pb[2];
		int64_t lo = first >= 0 ? 0 : (-first + sx - 1) / sx;
		int64_t hi = g->in[2] - first <= 0 ? 0 :
						      (g->in[2] - first + sx - 1) / sx;

		lo = lo < width ? lo : width;
		hi = hi < lo ? lo : hi < width ? hi : width;
		for (int64_t r = 0; r < rows; r++) {
			float *d = q + (ph * rows + r) * width;
			int64_t iy = r - g->pb[1], i;
			const float *xr = x + iy * g->in[2] + first;

			if (iy < 0 || iy >= g->in[1]) {
				for (i = 0; i < width; i++)
					d[i] = fill;
				continue;
			}
			for (i = 0; i < lo; i++)
				d[i] = fill;
			if (sx == 1)
				memcpy(d + lo, xr + lo, sizeof(float) * (size_t)(hi - lo));
			else
				for (i = lo; i < hi; i++)
					d[i] = xr[i * sx];
			for (i = hi; i < width; i++)
				d[i] = fill;
		}
	}
}

/* Anything to do after the sums: a residual or an activation. */
static bool has_post(const conv_job *j)
{
	return j->z || j->act.kind != CPU_ACT_NONE;
}

/* y[0 .. n) = act(y + z), z being at output offset |o| (0 .. numel). */
static void post_run(const conv_job *j, float *y, int64_t o, int64_t n)
{
	if (j->z) {
		const float *z = j->z + o;

		for (int64_t i = 0; i < n; i++)
			y[i] += z[i];
	}
	cpu_act_row(&j->act, y, n);
}

/* Fused residual and activation over whole output planes [begin, end). */
static void post_planes(void *arg, int64_t begin, int64_t end)
{
	const conv_job *j = arg;
	int64_t sp = j->g.out_sp;

	post_run(j, j->y + begin * sp, begin * sp, (end - begin) * sp);
}

#define DW_MAX_KX 16

static void depthwise_planes(void *arg, int64_t begin, int64_t end)
{
	const conv_job *j = arg;
	const win3 *g = &j->g;
	int64_t lo[DW_MAX_KX], hi[DW_MAX_KX];

	/* The valid output x range of each tap is the same on every row. */
	for (int64_t kx = 0; kx < g->k[2]; kx++)
		valid_range(g, kx, &lo[kx], &hi[kx]);
	for (int64_t p = begin; p < end; p++) {
		int64_t n = p / j->cout, m = p % j->cout, c = m / j->mg;
		const float *xc = j->x + (n * j->cin + c) * g->in_sp;
		const float *wm = j->w + m * g->k_sp;
		float *y = j->y + p * g->out_sp;
		float bias = j->b ? j->b[m] : 0.0f;

		if (p > begin && has_post(j))
			post_planes(arg, p - 1, p);

		for (int64_t oz = 0; oz < g->out[0]; oz++)
			for (int64_t oy = 0; oy < g->out[1]; oy++) {
				float *yr = y + (oz * g->out[1] + oy) * g->out[2];

				for (int64_t ox = 0; ox < g->out[2]; ox++)
					yr[ox] = bias;
				for (int64_t kz = 0; kz < g->k[0]; kz++) {
					int64_t iz = oz * g->s[0] - g->pb[0] + kz * g->d[0];

					if (iz < 0 || iz >= g->in[0])
						continue;
					for (int64_t ky = 0; ky < g->k[1]; ky++) {
						int64_t iy = oy * g->s[1] - g->pb[1] + ky * g->d[1];
						const float *xr, *wr;

						if (iy < 0 || iy >= g->in[1])
							continue;
						xr = xc + (iz * g->in[1] + iy) * g->in[2];
						wr = wm + (kz * g->k[1] + ky) * g->k[2];
						for (int64_t kx = 0; kx < g->k[2]; kx++) {
							int64_t off = kx * g->d[2] - g->pb[2];
							float wv = wr[kx];

							if (g->s[2] == 1) {
								const float *xs = xr + off;

								for (int64_t ox = lo[kx]; ox < hi[kx]; ox++)
									yr[ox] += wv * xs[ox];
							} else {
								for (int64_t ox = lo[kx]; ox < hi[kx]; ox++)
									yr[ox] += wv * xr[ox * g->s[2] + off];
							}
						}
					}
				}
			}
	}
	if (end > begin && has_post(j))
		post_planes(arg, end - 1, end);
}

typedef float v16f __attribute__((vector_size(64)));

/*
 * One output row of a 2-D depthwise conv from phase planes, 16 outputs at a
 * time; planes are wide enough that the last vector reads in bounds, and
 * only its valid lanes are stored. |off| holds each tap's plane offset.
 */
static void dw_row(const win3 *g, const float *q, int64_t width,
		   const int64_t *off, const float *w, float bias, int64_t oy,
		   float *yr)
{
	const float *base = q + oy * g->s[1] * width;

	for (int64_t ox = 0; ox < g->out[2]; ox += 16) {
		v16f acc = (v16f){ 0 } + bias;

		for (int64_t t = 0; t < g->k_sp; t++) {
			v16f v;

			memcpy(&v, base + off[t] + ox, sizeof(v));
			acc += w[t] * v;
		}
		if (ox + 16 <= g->out[2])
			memcpy(yr + ox, &acc, sizeof(acc));
		else
			memcpy(yr + ox, &acc, sizeof(float) * (size_t)(g->out[2] - ox));
	}
}

#define DW_MAX_TAPS 64

/* 2-D depthwise: the common case (MobileNet), vectorized. */
static void depthwise_fast(void *arg, int64_t begin, int64_t end)
{
	const conv_job *j = arg;
	const win3 *g = &j->g;
	int64_t rows, width, off[DW_MAX_TAPS];
	float *q = nn_phase_setup(g, &rows, &width, off);

	if (!q) {
		depthwise_planes(arg, begin, end);
		return;
	}
	for (int64_t p = begin; p < end; p++) {
		int64_t n = p / j->cout, m = p % j->cout, c = m / j->mg;

		nn_phase_plane(g, j->x + (n * j->cin + c) * g->in_sp, 0.0f, q,
			       rows, width);
		for (int64_t oy = 0; oy < g->out[1]; oy++)
			dw_row(g, q, width, off, j->w + m * g->k_sp,
			       j->b ? j->b[m] : 0.0f, oy,
			       j->y + p * g->out_sp + oy * g->out[2]);
		if (has_post(j))
			post_planes(arg, p, p + 1);
	}
	free(q);
}

#if defined(__AVX512F__)
#define DW_DIRECT_TAPS 25

/*
 * Lanes [0, 16) of a 16-wide load at input column |start| (relative to a
 * row of |w| columns) that fall inside the row: masked loads read zeros
 * elsewhere and never fault, so borders need no scalar code.
 */
static __mmask16 row_mask(int64_t start, int64_t w)
{
	int64_t a = start < 0 ? -start : 0, b = w - start;

	if (b > 16)
		b = 16;
	if (b <= a)
		return 0;
	return (__mmask16)(((1u << (b - a)) - 1) << a);
}

/* acc += one input row's taps (|w|: that row's weight vectors). */
static inline __attribute__((always_inline)) __m512
dw_row_taps(__m512 acc, const float *xr, const __mmask16 *ml,
	    const __mmask16 *mh, const __m512 *w, int64_t kw, int64_t dx,
	    const int SX)
{
	const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16,
					     18, 20, 22, 24, 26, 28, 30);

	for (int64_t kx = 0; kx < kw; kx++) {
		const float *src = xr + kx * dx;
		__m512 v = _mm512_maskz_loadu_ps(ml[kx], src);

		if (SX == 2)
			v = _mm512_permutex2var_ps(v, ev,
						   _mm512_maskz_loadu_ps(mh[kx], src + 16));
		acc = _mm512_fmadd_ps(w[kx], v, acc);
	}
	return acc;
}

/*
 * The activation of one output vector. Clamp (Relu, Clip) and HardSwish,
 * MobileNet's, with vmaxps/vminps: act_one's portable selects cost three
 * instructions each, a fifth of a 7x7 plane's time. Same results: vmaxps
 * returns its second operand for NaN, as (a > b ? a : b) does.
 */
static inline __attribute__((always_inline)) __m512 dw_act(const cpu_act *a,
							   __m512 x)
{
	if (a->kind == CPU_ACT_CLAMP)
		return _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(a->lo)),
				     _mm512_set1_ps(a->hi));
	if (a->kind == CPU_ACT_HARDSWISH) {
		__m512 t = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.0f / 6.0f)),
					 _mm512_set1_ps(0.5f));

		t = _mm512_min_ps(_mm512_max_ps(t, _mm512_setzero_ps()),
				  _mm512_set1_ps(1.0f));
		return _mm512_mul_ps(x, t);
	}
	return (__m512)act_one(a, (act_v16)x);
}

/*
 * One plane of a 2-D depthwise conv, stride 1 or 2, straight from X: 16
 * outputs of a row at a time, each tap a masked load (stride 2: two, and a
 * permute that keeps the even elements), so borders need no scalar code.
 * Column blocks outside, rows inside: a block's load masks depend on the
 * block and tap only and stay in registers down the plane. No padded copy
 * of the plane, which cost as much as the arithmetic on MobileNet's small
 * planes. KW is a constant at the call (3, 5) or 0 for g->k[2].
 */
static inline __attribute__((always_inline)) void
dw_plane(const conv_job *j, int64_t p, const int KW, const int SX)
{
	const win3 *g = &j->g;
	int64_t ow = g->out[2], iw = g->in[2], kw = KW ? KW : g->k[2];
	int64_t kh = g->k[1], sy = g->s[1], dy = g->d[1], pt = g->pb[1];
	int64_t nblk = (ow + 15) / 16;
	int64_t n = p / j->cout, m = p % j->cout, c = m / j->mg;
	const float *xc = j->x + (n * j->cin + c) * g->in_sp;
	const float *wm = j->w + m * g->k_sp;
	const float *z = j->z ? j->z + p * g->out_sp : NULL;
	__m512 bias = _mm512_set1_ps(j->b ? j->b[m] : 0.0f);
	float *y = j->y + p * g->out_sp;
	__mmask16 ml[DW_MAX_KX], mh[DW_MAX_KX];
	__m512 wv[DW_DIRECT_TAPS];

	__m512 w3[9];

	for (int64_t t = 0; t < g->k_sp; t++)
		wv[t] = _mm512_set1_ps(wm[t]);
	for (int t = 0; t < 9; t++)
		w3[t] = g->k_sp == 9 ? wv[t] : _mm512_setzero_ps();
	for (int64_t b = 0; b < nblk; b++) {
		int64_t x0 = b * 16 * SX - g->pb[2];
		__mmask16 keep = row_mask(b * 16, ow);

		for (int64_t kx = 0; kx < kw; kx++) {
			ml[kx] = row_mask(x0 + kx * g->d[2], iw);
			mh[kx] = row_mask(x0 + kx * g->d[2] + 16, iw);
		}
		for (int64_t oy = 0; oy < g->out[1]; oy++) {
			int64_t iy0 = oy * sy - pt;
			const float *xr = xc + x0;
			__m512 acc = bias;

			if (KW == 3 && kh == 3 && iy0 >= 0 &&
			    iy0 + 2 * dy < g->in[1]) {
				/*
				 * The common 3x3 interior, written out: nine
				 * FMAs in three chains, weights in registers.
				 */
				const float *r0 = xr + iy0 * iw, *r1 = r0 + dy * iw;
				const float *r2 = r1 + dy * iw;
				__m512 a1 = _mm512_setzero_ps(), a2 = a1;

				acc = dw_row_taps(acc, r0, ml, mh, w3, 3, g->d[2], SX);
				a1 = dw_row_taps(a1, r1, ml, mh, w3 + 3, 3, g->d[2], SX);
				a2 = dw_row_taps(a2, r2, ml, mh, w3 + 6, 3, g->d[2], SX);
				acc = _mm512_add_ps(acc, _mm512_add_ps(a1, a2));
			} else if (iy0 >= 0 && iy0 + (kh - 1) * dy < g->in[1]) {
				/* Every row of the window inside X: no checks. */
				for (int64_t ky = 0; ky < kh; ky++)
					acc = dw_row_taps(acc, xr + (iy0 + ky * dy) * iw,
							  ml, mh, wv + ky * kw, kw,
							  g->d[2], SX);
			} else {
				for (int64_t ky = 0; ky < kh; ky++) {
					int64_t iy = iy0 + ky * dy;

					if (iy >= 0 && iy < g->in[1])
						acc = dw_row_taps(acc, xr + iy * iw, ml, mh,
								  wv + ky * kw, kw,
								  g->d[2], SX);
				}
			}
			/* Residual and activation while the outputs are in registers. */
			if (z)
				acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(
					keep, z + oy * ow + b * 16));
			acc = dw_act(&j->act, acc);
			_mm512_mask_storeu_ps(y + oy * ow + b * 16, keep, acc);
		}
	}
}

/* Lanes k.. of |v| moved down to lane 0, zeros shifted in (k constant). */
#define DW_SHIFT(v, k) \
	((__m512)_mm512_alignr_epi32(_mm512_setzero_si512(), (__m512i)(v), (k)))

/*
 * A narrow plane, stride 1 and no x dilation, whose window row fits one
 * vector (out_w + kw - 1 <= 16: 7x7 planes of a 5x5 conv): each input row is
 * one masked load and the kw taps are lane shifts of it (valignd) instead
 * of kw unaligned masked loads, which split cache lines and bounded the
 * per-row loop: a 5x5 conv on 576 7x7 planes took 0.063 instead of 0.084
 * ms. KW is 3 or 5 (depthwise_direct uses it for 5 only).
 */
static inline __attribute__((always_inline)) void
dw_narrow(const conv_job *j, int64_t p, const int KW)
{
	const win3 *g = &j->g;
	int64_t ow = g->out[2], iw = g->in[2];
	int64_t n = p / j->cout, m = p % j->cout;
	const float *xc = j->x + (n * j->cin + m / j->mg) * g->in_sp - g->pb[2];
	const float *wm = j->w + m * g->k_sp;
	const float *z = j->z ? j->z + p * g->out_sp : NULL;
	float *y = j->y + p * g->out_sp;
	__mmask16 ml = row_mask(-g->pb[2], iw), keep = row_mask(0, ow);
	__m512 wv[DW_DIRECT_TAPS], bias = _mm512_set1_ps(j->b ? j->b[m] : 0.0f);

	for (int64_t t = 0; t < g->k_sp; t++)
		wv[t] = _mm512_set1_ps(wm[t]);
	for (int64_t oy = 0; oy < g->out[1]; oy++) {
		int64_t iy0 = oy * g->s[1] - g->pb[1];
		__m512 acc = bias, a1 = _mm512_setzero_ps();

		for (int64_t ky = 0; ky < g->k[1]; ky++) {
			int64_t iy = iy0 + ky * g->d[1];
			const __m512 *w = wv + ky * KW;
			__m512 v;

			if (iy < 0 || iy >= g->in[1])
				continue;
			v = _mm512_maskz_loadu_ps(ml, xc + iy * iw);
			acc = _mm512_fmadd_ps(w[0], v, acc);
			a1 = _mm512_fmadd_ps(w[1], DW_SHIFT(v, 1), a1);
			acc = _mm512_fmadd_ps(w[2], DW_SHIFT(v, 2), acc);
			if (KW == 5) {
				a1 = _mm512_fmadd_ps(w[3], DW_SHIFT(v, 3), a1);
				acc = _mm512_fmadd_ps(w[4], DW_SHIFT(v, 4), acc);
			}
		}
		acc = _mm512_add_ps(acc, a1);
		if (z)
			acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(keep, z + oy * ow));
		acc = dw_act(&j->act, acc);
		_mm512_mask_storeu_ps(y + oy * ow, keep, acc);
	}
}

static void depthwise_direct(void *arg, int64_t begin, int64_t end)
{
	const conv_job *j = arg;
	int kw = (int)j->g.k[2];
	/* 3x3 was a little slower this way (3 shifts per 3 taps saved). */
	bool narrow = j->g.s[2] == 1 && j->g.d[2] == 1 && kw == 5 &&
		      j->g.out[2] + kw - 1 <= 16;

	/* Constant tap counts for the common 3x3 and 5x5: unrolled loops. */
	for (int64_t p = begin; p < end; p++) {
		if (narrow) {
			dw_narrow(j, p, 5);
			continue;
		}
		if (j->g.s[2] == 1) {
			if (kw == 3)
				dw_plane(j, p, 3, 1);
			else if (kw == 5)
				dw_plane(j, p, 5, 1);
			else
				dw_plane(j, p, 0, 1);
		} else {
			if (kw == 3)
				dw_plane(j, p, 3, 2);
			else if (kw == 5)
				dw_plane(j, p, 5, 2);
			else
				dw_plane(j, p, 0, 2);
		}
	}
}
#endif

static void fill_bias(void *arg, int64_t begin, int64_t end)
{
	const conv_job *j = arg;
	int64_t sp = j->g.out_sp;

	for (int64_t p = begin; p < end; p++) {
		float v = j->b ? j->b[p % j->cout] : 0.0f;
		float *y = j->y + p * sp;

		for (int64_t i = 0; i < sp; i++)
			y[i] = v;
	}
}

static bool is_pointwise(const win3 *g)
{
	for (int i = 0; i < 3; i++)
		if (g->k[i] != 1 || g->s[i] != 1 || g->pb[i] || g->pe[i])
			return false;
	return true;
}

/*
 * Blocked path: a task is (image, group, block of output positions); it
 * builds that block of the im2col matrix in its own L2-sized buffer and
 * multiplies it on the calling thread, so the matrix never goes to memory.
 */
static void conv_blocks(void *arg, int64_t begin, int64_t end)
{
	conv_job *j = arg;
	const win3 *g = &j->g;
	int64_t kdim = j->cg * g->k_sp;
	int64_t nblk = (g->out_sp + j->nb - 1) / j->nb;
	bool pointwise = is_pointwise(g);
	float *buf = NULL;
	accel_status st = NULL;

	/* The row-major im2col block, then its packed copy. */
	buf = aligned_alloc(64, sizeof(float) *
			   (size_t)((pointwise ? 0 : kdim * j->nb) +
				    sgemm_packed_b_floats(j->nb, kdim)));
	if (!buf)
		st = status_oom("an im2col block");
	for (int64_t t = begin; t < end && !st; t++) {
		int64_t c0 = t % nblk * j->nb, ng = t / nblk;
		int64_t n = ng / j->group, gi = ng % j->group;
		int64_t nb = g->out_sp - c0 < j->nb ? g->out_sp - c0 : j->nb;
		const float *w = j->w + gi * j->mg * kdim;
		const float *x = j->x + (n * j->cin + gi * j->cg) * g->in_sp;
		float *y = j->y + (n * j->cout + gi * j->mg) * g->out_sp + c0;
		int64_t yo = (n * j->cout + gi * j->mg) * g->out_sp + c0;
		sgemm_epilogue epi = { .row_bias = j->b ? j->b + gi * j->mg : NULL,
				       .z = j->z ? j->z + yo : NULL,
				       .ldz = g->out_sp, .act = j->act };
		float *bp = buf;

		if (pointwise && j->mg <= 64) {
			/* Few output channels reuse X little: read it in place. */
			st = sgemm_epi(NULL, false, false, j->mg, nb, kdim, 1.0f, w,
				       kdim, x + c0, g->in_sp, 0.0f, y, g->out_sp,
				       &epi);
			continue;
		}
		if (pointwise) {
			pack_block(x, g->in_sp, kdim, nb, bp, c0);
		} else {
			im2col_block(j, x, buf, nb, 0, kdim, c0, nb);
			bp = buf + kdim * j->nb;
			pack_block(buf, nb, kdim, nb, bp, 0);
		}
		st = sgemm_packed_b(NULL, false, j->mg, nb, kdim, 1.0f, w, kdim,
				    bp, 0.0f, y, g->out_sp, &epi);
	}
	free(buf);
	if (st) {
		accel_status none = NULL;

		if (!atomic_compare_exchange_strong(&j->st, &none, st))
			accel_status_free(st);
	}
}

/* Whole-image path, for few big tasks: parallelism inside the GEMM. */
static accel_status conv_whole(const cpu_ctx *ctx, conv_job *j, int64_t batch)
{
	const win3 *g = &j->g;
	int64_t kdim = j->cg * g->k_sp;
	bool pointwise = is_pointwise(g);
	const float *x0 = j->x;
	accel_status st = NULL;

	if (!pointwise) {
		j->col = malloc(sizeof(float) * (size_t)(kdim * g->out_sp));
		if (!j->col)
			return status_oom("the im2col buffer");
	}
	for (int64_t n = 0; n < batch && !st; n++)
		for (int64_t gi = 0; gi < j->group && !st; gi++) {
			const float *w = j->w + gi * j->mg * kdim;
			float *y = j->y + (n * j->cout + gi * j->mg) * g->out_sp;

			j->x = x0 + (n * j->cin + gi * j->cg) * g->in_sp;
			if (pointwise) {
				st = sgemm(ctx->pool, false, false, j->mg, g->out_sp,
					   kdim, 1.0f, w, kdim, j->x, g->out_sp,
					   1.0f, y, g->out_sp);
				continue;
			}
			parallel_for(ctx->pool, kdim, nn_grain(g->out_sp),
				     im2col_rows, j);
			st = sgemm(ctx->pool, false, false, j->mg, g->out_sp, kdim,
				   1.0f, w, kdim, j->col, g->out_sp, 1.0f, y,
				   g->out_sp);
		}
	free(j->col);
	j->col = NULL;
	j->x = x0;
	return st;
}

#define CONV_BLOCK_BYTES (512 * 1024)

/*
 * ---- pointwise convolution of 1x1 images: a matrix-vector product ----
 * The squeeze-excitation FCs of MobileNetV3/EfficientNet: a GEMM would fill
 * one column of each 32-wide tile. Each output is a dot product of a
 * weight row with the image's channels, memory bound on the weights.
 */
static float dot_f32(const float *a, const float *b, int64_t n)
{
	act_v16 s0 = { 0 }, s1 = { 0 }, va, vb;
	float lanes[16], s = 0.0f;
	int64_t i = 0;

	for (; i + 32 <= n; i += 32) {
		memcpy(&va, a + i, sizeof(va));
		memcpy(&vb, b + i, sizeof(vb));
		s0 = act_fma(va, vb, s0);
		memcpy(&va, a + i + 16, sizeof(va));
		memcpy(&vb, b + i + 16, sizeof(vb));
		s1 = act_fma(va, vb, s1);
	}
	for (; i < n; i++)
		s += a[i] * b[i];
	s0 += s1;
	memcpy(lanes, &s0, sizeof(lanes));
	for (int l = 0; l < 16; l++)
		s += lanes[l];
	return s;
}

static void matvec_outputs(void *arg, int64_t begin, int64_t end)
{
	const conv_job *j = arg;

	for (int64_t p = begin; p < end; p++) {
		int64_t n = p / j->cout, m = p % j->cout;
		const float *x = j->x + n * j->cin + m / j->mg * j->cg;

		j->y[p] = (j->b ? j->b[m] : 0.0f) + dot_f32(j->w + m * j->cg, x, j->cg);
	}
	post_run(j, j->y + begin, begin, end - begin);
}

/*
 * ---- implicit GEMM for stride-1 2-D convolutions ----
 * With the input zero-padded to planes of wp = out_w + (kw-1)*dw columns,
 * im2col row (c, ky, kx) is the padded plane itself shifted by
 * ky*dh*wp + kx*dw, if the output is computed on a grid of wp columns per
 * row (the extra columns are discarded). So B is packed from contiguous
 * runs and never built, at the price of computing wp/out_w more columns.
 */
typedef struct implicit_job {
	conv_job *c;
	float *pad;	    /* batch * cin planes of hp x wp */
	int64_t hp, wp, n_grid, nb;
	threadpool *inner; /* pool for the GEMMs when tasks run serially */
	_Atomic(accel_status) st;
} implicit_job;

/* Worth it unless the discarded grid columns cost more than im2col. */
static bool implicit_ok(const win3 *g)
{
	int64_t wp = g->out[2] + (g->k[2] - 1) * g->d[2];
	int64_t grid = (g->out[1] * wp + SGEMM_NR - 1) / SGEMM_NR;
	int64_t plain = (g->out_sp + SGEMM_NR - 1) / SGEMM_NR;

	return g->in[0] == 1 && g->k[0] == 1 && g->s[1] == 1 &&
	       g->s[2] == 1 && g->k_sp > 1 && grid * 100 <= plain * 115;
}

static void implicit_pad(void *arg, int64_t begin, int64_t end)
{
	const implicit_job *ij = arg;
	const win3 *g = &ij->c->g;

	for (int64_t p = begin; p < end; p++) {
		const float *x = ij->c->x + p * g->in_sp;
		float *d = ij->pad + p * ij->hp * ij->wp;

		/* Columns [lo, hi) of a padded row come from X. */
		int64_t lo = g->pb[2] < ij->wp ? g->pb[2] : ij->wp;
		int64_t hi = g->pb[2] + g->in[2] < ij->wp ? g->pb[2] + g->in[2] :
							     ij->wp;

		for (int64_t py = 0; py < ij->hp; py++, d += ij->wp) {
			int64_t iy = py - g->pb[1], px = 0;

			if (iy >= 0 && iy < g->in[1]) {
				for (; px < lo; px++)
					d[px] = 0.0f;
				memcpy(d + lo, x + iy * g->in[2], sizeof(float) *
				       (size_t)(hi > lo ? hi - lo : 0));
				px = hi > lo ? hi : lo;
			}
			for (; px < ij->wp; px++)
				d[px] = 0.0f;
		}
	}
}

/* Pack grid columns [c0, c0 + nb) of every im2col row from the planes. */
static void implicit_pack(const implicit_job *ij, const float *planes,
			  int64_t c0, int64_t nb, float *bp)
{
	const win3 *g = &ij->c->g;
	int64_t kdim = ij->c->cg * g->k_sp;

	for (int64_t r = 0; r < kdim; r++) {
		int64_t c = r / g->k_sp, kk = r % g->k_sp;
		int64_t kx = kk % g->k[2], ky = kk / g->k[2];
		const float *src = planes + c * ij->hp * ij->wp +
				   ky * g->d[1] * ij->wp + kx * g->d[2] + c0;
		float *d = bp + r * SGEMM_NR;

		for (int64_t q = 0; q < nb; q += SGEMM_NR, d += SGEMM_NR * kdim) {
			if (nb - q >= SGEMM_NR) {
				memcpy(d, src + q, SGEMM_NR * sizeof(float));
				continue;
			}
			for (int64_t i = 0; i < SGEMM_NR; i++)
				d[i] = q + i < nb ? src[q + i] : 0.0f;
		}
	}
}

static void implicit_tasks(void *arg, int64_t begin, int64_t end)
{
	implicit_job *ij = arg;
	conv_job *j = ij->c;
	const win3 *g = &j->g;
	int64_t kdim = j->cg * g->k_sp, nblk = (ij->n_grid + ij->nb - 1) / ij->nb;
	int64_t packed = sgemm_packed_b_floats(ij->nb, kdim);
	float *bp = aligned_alloc(64, sizeof(float) *
					     (size_t)(packed + j->mg * ij->nb));
	accel_status st = NULL;

	if (!bp)
		st = status_oom("an implicit-GEMM block");
	for (int64_t t = begin; t < end && !st; t++) {
		int64_t c0 = t % nblk * ij->nb, ng = t / nblk;
		int64_t n = ng / j->group, gi = ng % j->group;
		int64_t nb = ij->n_grid - c0 < ij->nb ? ij->n_grid - c0 : ij->nb;
		const float *planes = ij->pad + (n * j->cin + gi * j->cg) *
						       ij->hp * ij->wp;
		float *yt = bp + packed, *y;

		/* A residual must come before the activation: both at copy-out. */
		sgemm_epilogue epi = { .row_bias = j->b ? j->b + gi * j->mg : NULL,
				       .act = j->z ? (cpu_act){ 0 } : j->act };
		int64_t yo = (n * j->cout + gi * j->mg) * g->out_sp;

		implicit_pack(ij, planes, c0, nb, bp);
		st = sgemm_packed_b(ij->inner, false, j->mg, nb, kdim, 1.0f,
				    j->w + gi * j->mg * kdim, kdim, bp, 0.0f, yt,
				    nb, &epi);
		/* Keep the grid columns that are real outputs. */
		y = j->y + (n * j->cout + gi * j->mg) * g->out_sp;
		for (int64_t col = c0; col < c0 + nb && !st;) {
			int64_t oy = col / ij->wp, ox = col % ij->wp;
			int64_t e = c0 + nb < col - ox + g->out[2] ?
					    c0 + nb : col - ox + g->out[2];

			for (int64_t m = 0; m < j->mg && e > col; m++) {
				float *yr = y + m * g->out_sp + oy * g->out[2];
				const float *tr = yt + m * nb - c0;

				for (int64_t c = col; c < e; c++)
					yr[c - col + ox] = tr[c];
				if (j->z)
					post_run(j, yr + ox, yo + m * g->out_sp +
						 oy * g->out[2] + ox, e - col);
			}
			col = col - ox + ij->wp;
		}
	}
	free(bp);
	if (st) {
		accel_status none = NULL;

		if (!atomic_compare_exchange_strong(&ij->st, &none, st))
			accel_status_free(st);
	}
}

static accel_status conv_implicit(const cpu_ctx *ctx, conv_job *j,
				  int64_t batch)
{
	const win3 *g = &j->g;
	int64_t kdim = j->cg * g->k_sp, tasks;
	int64_t threads = threadpool_size(ctx->pool);
	implicit_job ij;
	bool few;

	ij.c = j;
	ij.wp = g->out[2] + (g->k[2] - 1) * g->d[2];
	ij.hp = g->out[1] + (g->k[1] - 1) * g->d[1] + 1;
	ij.n_grid = g->out[1] * ij.wp;
	ij.nb = CONV_BLOCK_BYTES / (int64_t)sizeof(float) / kdim;
	ij.nb = ij.nb / SGEMM_NR * SGEMM_NR;
	if (ij.nb < 4 * SGEMM_NR)
		ij.nb = 4 * SGEMM_NR;
	ij.pad = malloc(sizeof(float) * (size_t)(batch * j->cin * ij.hp * ij.wp));
	if (!ij.pad)
		return status_oom("padded input planes");
	parallel_for(ctx->pool, batch * j->cin, nn_grain(ij.hp * ij.wp),
		     implicit_pad, &ij);
	atomic_init(&ij.st, NULL);
	tasks = batch * j->group * ((ij.n_grid + ij.nb - 1) / ij.nb);
	/* Too few tasks to share out: run them in turn, GEMMs in parallel. */
	few = threads > 1 && tasks < 2 * threads;
	ij.inner = few ? ctx->pool : NULL;
	if (few)
		implicit_tasks(&ij, 0, tasks);
	else
		parallel_for(ctx->pool, tasks, 1, implicit_tasks, &ij);
	free(ij.pad);
	return atomic_load(&ij.st);
}

static accel_status conv_gemm(const cpu_ctx *ctx, conv_job *j, int64_t batch)
{
	const win3 *g = &j->g;
	int64_t kdim = j->cg * g->k_sp, tasks, threads = threadpool_size(ctx->pool);

	/* Blocks wide enough that repacking W per block costs little. */
	j->nb = CONV_BLOCK_BYTES / (int64_t)sizeof(float) / kdim;
	j->nb = j->nb / SGEMM_NR * SGEMM_NR;
	if (j->nb < 4 * SGEMM_NR)
		j->nb = 4 * SGEMM_NR;
	tasks = batch * j->group * ((g->out_sp + j->nb - 1) / j->nb);
	if (implicit_ok(g))
		return conv_implicit(ctx, j, batch);
	if (threads > 1 && tasks < 2 * threads) {
		parallel_for(ctx->pool, batch * j->cout, nn_grain(g->out_sp),
			     fill_bias, j);
		ACCEL_TRY(conv_whole(ctx, j, batch));
		if (has_post(j))
			parallel_for(ctx->pool, batch * j->cout,
				     nn_grain(g->out_sp), post_planes, j);
		return NULL;
	}
	atomic_init(&j->st, NULL);
	parallel_for(ctx->pool, tasks, 1, conv_blocks, j);
	return atomic_load(&j->st);
}

NN_KERNEL(cpu_conv)
{
	static const char *const names[] = { "X", "W", "B", "Z" };
	const accel_tensor *x = in[0], *w = in[1];
	nn_window win;
	conv_job j;

	ACCEL_TRY(need_f32(in, n_in, names));
	memset(&j, 0, sizeof(j));
	j.group = ir_attr_int(ctx->node, "group", 1);
	ACCEL_TRY(nn_window_forward(ctx->node, x->rank - 2, x->dims + 2,
				    w->dims + 2, false, &win));
	ACCEL_TRY(win3_from(&win, &j.g));
	j.cin = x->dims[1];
	j.cout = w->dims[0];
	j.cg = j.cin / j.group;
	j.mg = j.cout / j.group;
	j.x = x->data;
	j.w = w->data;
	j.b = n_in > 2 && in[2] ? in[2]->data : NULL;
	j.y = out[0]->data;
	/* FusedConv: Conv plus a residual Z and an activation (cpu/act.h). */
	j.z = n_in > 3 && in[3] ? in[3]->data : NULL;
	ACCEL_TRY(cpu_act_from_node(ctx->node, &j.act));
	if (tensor_numel(out[0]) == 0)
		return NULL;
	if (ctx->state) {
		bool done;

		ACCEL_TRY(conv_dnnl_exec(ctx, ctx->state, in, n_in, out, &j.g,
					 &j.act, j.z, &done));
		if (done)
			return NULL;
	}
	if (j.cg == 1 && j.group > 1 && j.g.k[2] <= DW_MAX_KX) {
		bool fast = j.g.in[0] == 1 && j.g.k[0] == 1 &&
			    j.g.k_sp <= DW_MAX_TAPS;

		void (*fn)(void *, int64_t, int64_t) =
			fast ? depthwise_fast : depthwise_planes;

#if defined(__AVX512F__)
		if (fast && j.g.k_sp <= DW_DIRECT_TAPS &&
		    (j.g.s[2] == 1 || j.g.s[2] == 2))
			fn = depthwise_direct;
#endif
		parallel_for(ctx->pool, x->dims[0] * j.cout,
			     nn_grain(j.g.out_sp * j.g.k_sp), fn, &j);
		return NULL;
	}
	if (is_pointwise(&j.g) && j.g.out_sp == 1) {
		parallel_for(ctx->pool, x->dims[0] * j.cout, nn_grain(j.cg),
			     matvec_outputs, &j);
		return NULL;
	}
	return conv_gemm(ctx, &j, x->dims[0]);
}

/* ---- ConvTranspose ---- */

typedef struct col2im_job {
	win3 g;		/* in: the image X, out: the image Y */
	const float *col; /* [mg * k_sp, in_sp] */
	float *y;	  /* mg planes of out_sp */
} col2im_job;

static void col2im_planes(void *arg, int64_t begin, int64_t end)
{
	const col2im_job *j = arg;
	const win3 *g = &j->g;

	for (int64_t m = begin; m < end; m++) {
		float *y = j->y + m * g->out_sp;

		for (int64_t kk = 0; kk < g->k_sp; kk++) {
			int64_t kx = kk % g->k[2], ky = kk / g->k[2] % g->k[1];
			int64_t kz = kk / (g->k[2] * g->k[1]);
			const float *src = j->col + (m * g->k_sp + kk) * g->in_sp;

			for (int64_t iz = 0; iz < g->in[0]; iz++) {
				int64_t oz = iz * g->s[0] - g->pb[0] + kz * g->d[0];

				if (oz < 0 || oz >= g->out[0])
					continue;
				for (int64_t iy = 0; iy < g->in[1]; iy++) {
					int64_t oy = iy * g->s[1] - g->pb[1] + ky * g->d[1];
					const float *sr = src + (iz * g->in[1] + iy) * g->in[2];
					float *yr = y + (oz * g->out[1] + oy) * g->out[2];

					if (oy < 0 || oy >= g->out[1])
						continue;
					for (int64_t ix = 0; ix < g->in[2]; ix++) {
						int64_t ox = ix * g->s[2] - g->pb[2] + kx * g->d[2];

						if (ox >= 0 && ox < g->out[2])
							yr[ox] += sr[ix];
					}
				}
			}
		}
	}
}

NN_KERNEL(cpu_conv_transpose)
{
	static const char *const names[] = { "X", "W", "B" };
	const accel_tensor *x = in[0], *w = in[1];
	int64_t group = ir_attr_int(ctx->node, "group", 1), cg, mg, rows, batch;
	col2im_job cj;
	conv_job bj;
	nn_window win;
	float *col;

	ACCEL_TRY(need_f32(in, n_in, names));
	ACCEL_TRY(nn_window_transpose(ctx->node, x->rank - 2, x->dims + 2,
				      w->dims + 2, &win));
	ACCEL_TRY(win3_from(&win, &cj.g));
	batch = x->dims[0];
	cg = x->dims[1] / group;
	mg = w->dims[1];
	rows = mg * cj.g.k_sp;
	if (tensor_numel(out[0]) == 0)
		return NULL;
	memset(&bj, 0, sizeof(bj));
	bj.g = cj.g;
	bj.cout = mg * group;
	bj.b = n_in > 2 && in[2] ? in[2]->data : NULL;
	bj.y = out[0]->data;
	parallel_for(ctx->pool, batch * bj.cout, nn_grain(bj.g.out_sp), fill_bias,
		     &bj);
	col = malloc(sizeof(float) * (size_t)(rows * cj.g.in_sp));
	if (!col)
		return status_oom("the col2im buffer");
	cj.col = col;
	for (int64_t n = 0; n < batch; n++)
		for (int64_t gi = 0; gi < group; gi++) {
			const float *xg = (const float *)x->data +
					  (n * x->dims[1] + gi * cg) * cj.g.in_sp;
			const float *wg = (const float *)w->data + gi * cg * rows;
			accel_status st;

			st = sgemm(ctx->pool, true, false, rows, cj.g.in_sp, cg, 1.0f,
				   wg, rows, xg, cj.g.in_sp, 0.0f, col, cj.g.in_sp);
			if (st) {
				free(col);
				return st;
			}
			cj.y = (float *)out[0]->data +
			       (n * bj.cout + gi * mg) * cj.g.out_sp;
			parallel_for(ctx->pool, mg,
				     nn_grain(cj.g.k_sp * cj.g.in_sp), col2im_planes,
				     &cj);
		}
	free(col);
	return NULL;
}

/*
 * ---- ConvInteger and QLinearConv: im2col + the int8 GEMM ----
 * Per image and group, W (mg x cg*k_sp, row-major as stored) times the
 * im2col matrix of X (cg*k_sp x out_sp) through s8gemm (gemm_s8.h): exact
 * int32 sums of (x - x_zero)(w - w_zero), w_zero per output channel as a
 * per-row zero point of W. Padding reads x_zero itself, so it adds nothing.
 */
typedef struct qconv {
	win3 g;
	const accel_tensor *x, *w, *xz, *wz, *b;
	int64_t cin, cout, cg, mg, group;
} qconv;

/* Zero point |z| for channel m: absent 0, scalar, or one per channel. */
static int64_t zero_at(const accel_tensor *z, int64_t m)
{
	if (!z || tensor_numel(z) == 0)
		return 0;
	return tensor_get_i64(z, tensor_numel(z) == 1 ? 0 : m);
}

static accel_status qconv_setup(const cpu_ctx *ctx, const accel_tensor *x,
				const accel_tensor *w, qconv *q)
{
	int64_t group = ir_attr_int(ctx->node, "group", 1);
	nn_window win;

	for (int i = 0; i < 2; i++) {
		accel_dtype dt = (i ? w : x)->dtype;

		if (dt != ACCEL_DTYPE_U8 && dt != ACCEL_DTYPE_I8)
			return status_unsupported("input '%s' of type %s (uint8 or int8 expected)",
						  i ? "w" : "x", accel_dtype_name(dt));
	}
	ACCEL_TRY(nn_window_forward(ctx->node, x->rank - 2, x->dims + 2,
				    w->dims + 2, false, &win));
	ACCEL_TRY(win3_from(&win, &q->g));
	q->x = x;
	q->w = w;
	q->cin = x->dims[1];
	q->cout = w->dims[0];
	q->group = group;
	q->cg = q->cin / group;
	q->mg = q->cout / group;
	return NULL;
}

typedef struct qcol_job {
	const win3 *g;
	const uint8_t *x; /* the image's first channel of the group */
	uint8_t pad;	  /* x_zero as a byte */
	uint8_t *col;	  /* cg * k_sp rows of out_sp */
} qcol_job;

/* Rows [begin, end) of the im2col matrix: (channel, kernel tap) each. */
static void qcol_rows(void *arg, int64_t begin, int64_t end)
{
	const qcol_job *j = arg;
	const win3 *g = j->g;

	for (int64_t r = begin; r < end; r++) {
		int64_t c = r / g->k_sp, kk = r % g->k_sp;
		int64_t kx = kk % g->k[2], ky = kk / g->k[2] % g->k[1];
		int64_t kz = kk / (g->k[2] * g->k[1]);
		const uint8_t *xc = j->x + c * g->in_sp;
		uint8_t *dst = j->col + r * g->out_sp;

		for (int64_t oz = 0; oz < g->out[0]; oz++) {
			int64_t iz = oz * g->s[0] - g->pb[0] + kz * g->d[0];

			for (int64_t oy = 0; oy < g->out[1]; oy++) {
				int64_t iy = oy * g->s[1] - g->pb[1] + ky * g->d[1];
				bool row_in = iz >= 0 && iz < g->in[0] &&
					      iy >= 0 && iy < g->in[1];
				const uint8_t *xr = xc + (iz * g->in[1] + iy) * g->in[2];

				for (int64_t ox = 0; ox < g->out[2]; ox++) {
					int64_t ix = ox * g->s[2] - g->pb[2] +
						     kx * g->d[2];

					*dst++ = row_in && ix >= 0 && ix < g->in[2] ?
							 xr[ix] : j->pad;
				}
			}
		}
	}
}

/* The exact sums, without bias, into y ([N][cout][out_sp] int32). */
static accel_status qconv_run(const cpu_ctx *ctx, const qconv *q, int32_t *y)
{
	const win3 *g = &q->g;
	int64_t kdim = q->cg * g->k_sp, batch = q->x->dims[0];
	int64_t wz_n = q->wz ? tensor_numel(q->wz) : 0;
	int32_t xz = (int32_t)zero_at(q->xz, 0), *wz = NULL;
	uint8_t *col = NULL;
	accel_status st = NULL;

	if (wz_n > 1 && wz_n != q->cout)
		return status_invalid("input 'w_zero_point' has %lld elements, expected 1 or %lld",
				      (long long)wz_n, (long long)q->cout);
	col = malloc((size_t)(kdim * g->out_sp) + 1);
	wz = malloc(sizeof(int32_t) * (size_t)(wz_n + 1));
	if (!col || !wz) {
		st = status_oom("ConvInteger im2col");
		goto out;
	}
	for (int64_t i = 0; i < wz_n; i++)
		wz[i] = (int32_t)tensor_get_i64(q->wz, i);
	for (int64_t n = 0; n < batch && !st; n++)
		for (int64_t gi = 0; gi < q->group && !st; gi++) {
			qcol_job j = { g, (const uint8_t *)q->x->data +
					      (n * q->cin + gi * q->cg) * g->in_sp,
				       (uint8_t)xz, col };
			s8gemm_args a = {
				q->mg, g->out_sp, kdim,
				(const uint8_t *)q->w->data + gi * q->mg * kdim, kdim,
				q->w->dtype == ACCEL_DTYPE_I8,
				wz_n > 1 ? wz + gi * q->mg : wz,
				wz_n > 1 ? q->mg : wz_n,
				&xz, q->xz && tensor_numel(q->xz) > 0 ? 1 : 0,
				y + (n * q->cout + gi * q->mg) * g->out_sp, g->out_sp,
			};

			parallel_for(ctx->pool, kdim, 1 + 16384 / (g->out_sp + 1),
				     qcol_rows, &j);
			st = s8gemm(ctx->pool, &a, q->x->dtype == ACCEL_DTYPE_I8,
				    col, g->out_sp);
		}
out:
	free(col);
	free(wz);
	return st;
}

NN_KERNEL(cpu_conv_integer)
{
	qconv q = { 0 };

	ACCEL_TRY(qconv_setup(ctx, in[0], in[1], &q));
	q.xz = n_in > 2 ? in[2] : NULL;
	q.wz = n_in > 3 ? in[3] : NULL;
	return qconv_run(ctx, &q, out[0]->data);
}

typedef struct qlinear_out {
	const qconv *q;
	const int32_t *acc;
	accel_tensor *y;
	const accel_tensor *ws;
	double xs, ys;
	int64_t yz, lo, hi;
} qlinear_out;

/* Planes [begin, end) of (image, channel): bias, requantize, store. */
static void qlinear_planes(void *arg, int64_t begin, int64_t end)
{
	const qlinear_out *qo = arg;
	const qconv *q = qo->q;
	int64_t sp = q->g.out_sp;

	for (int64_t pl = begin; pl < end; pl++) {
		int64_t m = pl % q->cout;
		double ws = tensor_get_f64(qo->ws, tensor_numel(qo->ws) == 1 ? 0 : m);
		int64_t bias = q->b ? tensor_get_i64(q->b, m) : 0;

		for (int64_t e = pl * sp; e < (pl + 1) * sp; e++) {
			int64_t v = qo->acc[e] + bias;
			double r = nearbyint((double)v * qo->xs * ws / qo->ys) +
				   (double)qo->yz;

			r = r < qo->lo ? qo->lo : r > qo->hi ? qo->hi : r;
			tensor_set_i64(qo->y, e, (int64_t)r);
		}
	}
}

NN_KERNEL(cpu_qlinear_conv)
{
	qconv q = { 0 };
	qlinear_out qo;
	int64_t planes;
	int32_t *acc;
	accel_status st;

	ACCEL_TRY(qconv_setup(ctx, in[0], in[3], &q));
	q.xz = in[2];
	q.wz = in[5];
	q.b = n_in > 8 ? in[8] : NULL;
	qo.q = &q;
	qo.y = out[0];
	qo.ws = in[4];
	qo.xs = tensor_get_f64(in[1], 0);
	qo.ys = tensor_get_f64(in[6], 0);
	qo.yz = zero_at(in[7], 0);
	qo.lo = out[0]->dtype == ACCEL_DTYPE_I8 ? -128 : 0;
	qo.hi = out[0]->dtype == ACCEL_DTYPE_I8 ? 127 : 255;
	if (qo.ys == 0)
		return status_invalid("input 'y_scale' is zero");
	planes = in[0]->dims[0] * q.cout;
	acc = malloc(sizeof(int32_t) * (size_t)(planes * q.g.out_sp + 1));
	if (!acc)
		return status_oom("QLinearConv accumulators");
	st = qconv_run(ctx, &q, acc);
	if (!st) {
		qo.acc = acc;
		parallel_for(ctx->pool, planes, 1 + 16384 / (q.g.out_sp + 1),
			     qlinear_planes, &qo);
	}
	free(acc);
	return st;
}
