/* SPDX-License-Identifier: MIT */
/*
 * reduce.c - CPU kernels of the Reduce* operators, and the kernel table of
 * the whole reduce family (the other kernels live in reduce_*.c, loss.c).
 *
 * Adjacent axes that are both reduced or both kept are merged first, so any
 * reduction becomes "kept outer axes x reduced axes x (maybe) one kept
 * contiguous inner axis". float32/float64 accumulate in double over
 * contiguous runs; other dtypes take a slower element-wise path.
 */
#include "cpu/reduce.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum rop {
	R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM,
	R_LOGSUMEXP, R_SUMSQ,
} rop;

#define TILE 256

typedef struct rlayout {
	int n; /* merged axes */
	int64_t dim[ACCEL_MAX_RANK];
	int64_t stride[ACCEL_MAX_RANK]; /* input strides, elements */
	bool red[ACCEL_MAX_RANK];
	int64_t n_out, n_red;
	int64_t inner; /* L: length of the kept contiguous inner axis, or 1 */
	/* Kept axes other than the inner one, and reduced axes. */
	int n_k, k_axis[ACCEL_MAX_RANK];
	int n_r, r_axis[ACCEL_MAX_RANK];
} rlayout;

static void layout_build(const accel_tensor *x, const bool *mask, rlayout *l)
{
	int64_t st[ACCEL_MAX_RANK];

	dims_strides(x->rank, x->dims, st);
	memset(l, 0, sizeof(*l));
	l->n_out = 1;
	l->n_red = 1;
	for (int i = 0; i < x->rank; i++) {
		int j = l->n - 1;

		if (x->dims[i] == 1)
			continue; /* reduced or not, a size-1 axis changes nothing */
		if (mask[i])
			l->n_red *= x->dims[i];
		else
			l->n_out *= x->dims[i];
		if (j >= 0 && l->red[j] == mask[i] &&
		    l->stride[j] == st[i] * x->dims[i]) {
			l->dim[j] *= x->dims[i];
			l->stride[j] = st[i];
			continue;
		}
		l->dim[l->n] = x->dims[i];
		l->stride[l->n] = st[i];
		l->red[l->n++] = mask[i];
	}
	l->inner = (l->n && !l->red[l->n - 1]) ? l->dim[l->n - 1] : 1;
	for (int i = 0; i < l->n; i++) {
		if (l->red[i])
			l->r_axis[l->n_r++] = i;
		else if (!(i == l->n - 1 && l->inner > 1))
			l->k_axis[l->n_k++] = i;
	}
}

/* Input offset of kept-outer index |o|. */
static int64_t outer_base(const rlayout *l, int64_t o)
{
	int64_t base = 0;

	for (int i = l->n_k - 1; i >= 0; i--) {
		int a = l->k_axis[i];

		base += (o % l->dim[a]) * l->stride[a];
		o /= l->dim[a];
	}
	return base;
}

static void acc_init(rop op, double *s, double *m)
{
	*m = -INFINITY;
	switch (op) {
	case R_PROD: *s = 1; break;
	case R_MAX: *s = -INFINITY; break;
	case R_MIN: *s = INFINITY; break;
	default: *s = 0; break;
	}
}

static double acc_final(rop op, double s, double m, int64_t n)
{
	switch (op) {
	case R_MEAN: return s / (double)n;
	case R_L2: return sqrt(s);
	case R_LOGSUM: return log(s);
	case R_LOGSUMEXP: return s > 0 ? m + log(s) : -INFINITY;
	default: return s;
	}
}

static void acc_merge(rop op, double *s, double *m, double s2, double m2)
{
	switch (op) {
	case R_PROD: *s *= s2; break;
	case R_MAX: if (s2 > *s || s2 != s2) *s = s2; break;
	case R_MIN: if (s2 < *s || s2 != s2) *s = s2; break;
	case R_LOGSUMEXP:
		if (s2 <= 0)
			break;
		if (*s <= 0 || m2 > *m) {
			*s = s2 + (*s > 0 ? *s * exp(*m - m2) : 0);
			*m = m2;
		} else {
			*s += s2 * exp(m2 - *m);
		}
		break;
	default: *s += s2; break;
	}
}

/*
 * run_scalar: fold n elements spaced |step| apart into one accumulator;
 * contiguous runs use LANES independent partials so the compiler can
 * vectorise them. run_vector: fold x[j] into acc[j] for j < n.
 */
#define LANES 8

#define LANE_FOLD(INIT, UPDATE, MERGE)                                         \
	if (step == 1 && n >= LANES) {                                         \
		double p[LANES];                                               \
		int k;                                                         \
                                                                               \
		for (k = 0; k < LANES; k++)                                    \
			p[k] = INIT;                                           \
		for (; i + LANES <= n; i += LANES)                             \
			for (k = 0; k < LANES; k++) {                          \
				double v = x[i + k];                           \
                                                                               \
				p[k] = UPDATE;                                 \
			}                                                      \
		for (k = 0; k < LANES; k++) {                                  \
			double v = p[k];                                       \
                                                                               \
			a = MERGE;                                             \
		}                                                              \
	}

#define DEFINE_RUNS(T, SFX)                                                    \
static bool has_nan_##SFX(const T *x, int64_t n, int64_t step)                 \
{                                                                              \
	int bad = 0;                                                           \
                                                                               \
	for (int64_t i = 0; i < n; i++)                                        \
		bad |= x[i * step] != x[i * step];                             \
	return bad;                                                            \
}                                                                              \
                                                                               \
static void run_scalar_##SFX(rop op, const T *x, int64_t n, int64_t step,      \
			     double *s, double *m)                             \
{                                                                              \
	double a = *s, mx = *m;                                                \
	int64_t i = 0;                                                         \
                                                                               \
	switch (op) {                                                          \
	case R_SUM: case R_MEAN: case R_LOGSUM:                                \
		LANE_FOLD(0.0, p[k] + v, a + v)                                \
		for (; i < n; i++)                                             \
			a += x[i * step];                                      \
		break;                                                         \
	case R_SUMSQ: case R_L2:                                               \
		LANE_FOLD(0.0, p[k] + v * v, a + v)                            \
		for (; i < n; i++)                                             \
			a += (double)x[i * step] * x[i * step];                \
		break;                                                         \
	case R_L1:                                                             \
		LANE_FOLD(0.0, p[k] + fabs(v), a + v)                          \
		for (; i < n; i++)                                             \
			a += fabs((double)x[i * step]);                        \
		break;                                                         \
	case R_PROD:                                                           \
		for (; i < n; i++)                                             \
			a *= x[i * step];                                      \
		break;                                                         \
	case R_MAX:                                                            \
		LANE_FOLD(-INFINITY, v > p[k] ? v : p[k], v > a ? v : a)       \
		for (; i < n; i++)                                             \
			a = x[i * step] > a ? x[i * step] : a;                 \
		if (has_nan_##SFX(x, n, step))                                 \
			a = NAN;                                               \
		break;                                                         \
	case R_MIN:                                                            \
		LANE_FOLD(INFINITY, v < p[k] ? v : p[k], v < a ? v : a)        \
		for (; i < n; i++)                                             \
			a = x[i * step] < a ? x[i * step] : a;                 \
		if (has_nan_##SFX(x, n, step))                                 \
			a = NAN;                                               \
		break;                                                         \
	case R_LOGSUMEXP: {                                                    \
		/* Two passes: the run's max, then sum exp(x - max). */        \
		double rm = mx, sum = 0;                                       \
                                                                               \
		for (i = 0; i < n; i++)                                        \
			rm = x[i * step] > rm ? x[i * step] : rm;              \
		if (rm == -INFINITY)                                           \
			break;                                                 \
		for (i = 0; i < n; i++)                                        \
			sum += exp(x[i * step] - rm);                          \
		a = (a > 0 ? a * exp(mx - rm) : 0) + sum;                      \
		mx = rm;                                                       \
		break;                                                         \
	}                                                                      \
	}                                                                      \
	*s = a;                                                                \
	*m = mx;                                                               \
}                                                                              \
                                                                               \
static void run_vector_##SFX(rop op, const T *x, int64_t n, double *s,        \
			     double *m)                                        \
{                                                                              \
	int64_t j;                                                             \
                                                                               \
	switch (op) {                                                          \
	case R_SUM: case R_MEAN: case R_LOGSUM:                                \
		for (j = 0; j < n; j++)                                        \
			s[j] += x[j];                                          \
		break;                                                         \
	case R_SUMSQ: case R_L2:                                               \
		for (j = 0; j < n; j++)                                        \
			s[j] += (double)x[j] * x[j];                           \
		break;                                                         \
	case R_L1:                                                             \
		for (j = 0; j < n; j++)                                        \
			s[j] += fabs((double)x[j]);                            \
		break;                                                         \
	case R_PROD:                                                           \
		for (j = 0; j < n; j++)                                        \
			s[j] *= x[j];                                          \
		break;                                                         \
	case R_MAX:                                                            \
		for (j = 0; j < n; j++)                                        \
			s[j] = x[j] > s[j] || x[j] != x[j] ? x[j] : s[j];      \
		break;                                                         \
	case R_MIN:                                                            \
		for (j = 0; j < n; j++)                                        \
			s[j] = x[j] < s[j] || x[j] != x[j] ? x[j] : s[j];      \
		break;                                                         \
	default:                                                               \
		for (j = 0; j < n; j++)                                        \
			run_scalar_##SFX(op, x + j, 1, 1, s + j, m + j);       \
		break;                                                         \
	}                                                                      \
}

DEFINE_RUNS(float, f32)
DEFINE_RUNS(double, f64)

typedef struct reduce_job {
	rop op;
	const rlayout *l;
	const void *x;
	void *y;
	bool f64;
	int64_t n_tiles;
} reduce_job;

/* Fold every reduced position of one tile of outputs. */
static void reduce_tile(const reduce_job *j, int64_t base, int64_t len,
			double *s, double *m)
{
	const rlayout *l = j->l;
	int64_t idx[ACCEL_MAX_RANK] = { 0 }, off = 0;
	int n_odo = l->n_r, last = l->n_r ? l->r_axis[l->n_r - 1] : -1;
	int64_t run = 1, step = 1;

	if (l->inner == 1 && l->n_r) {
		/* The innermost reduced axis becomes the scalar run. */
		n_odo--;
		run = l->dim[last];
		step = l->stride[last];
	}
	for (;;) {
		if (l->inner == 1) {
			if (j->f64)
				run_scalar_f64(j->op, (const double *)j->x + base + off,
					       run, step, s, m);
			else
				run_scalar_f32(j->op, (const float *)j->x + base + off,
					       run, step, s, m);
		} else if (j->f64) {
			run_vector_f64(j->op, (const double *)j->x + base + off, len, s, m);
		} else {
			run_vector_f32(j->op, (const float *)j->x + base + off, len, s, m);
		}
		int d = n_odo - 1;

		for (; d >= 0; d--) {
			int a = l->r_axis[d];

			off += l->stride[a];
			if (++idx[d] < l->dim[a])
				break;
			off -= l->stride[a] * l->dim[a];
			idx[d] = 0;
		}
		if (d < 0)
			break;
	}
}

static void reduce_chunk(void *arg, int64_t begin, int64_t end)
{
	const reduce_job *j = arg;
	const rlayout *l = j->l;
	double s[TILE], m[TILE];

	for (int64_t w = begin; w < end; w++) {
		int64_t o = w / j->n_tiles, t0 = (w % j->n_tiles) * TILE;
		int64_t len = l->inner - t0 < TILE ? l->inner - t0 : TILE;
		int64_t base = outer_base(l, o) + t0, y0 = o * l->inner + t0;

		for (int64_t t = 0; t < len; t++)
			acc_init(j->op, &s[t], &m[t]);
		reduce_tile(j, base, len, s, m);
		for (int64_t t = 0; t < len; t++) {
			double v = acc_final(j->op, s[t], m[t], l->n_red);

			if (j->f64)
				((double *)j->y)[y0 + t] = v;
			else
				((float *)j->y)[y0 + t] = (float)v;
		}
	}
}

/* Reduce-all of a big contiguous tensor: partial folds, then merge. */
typedef struct reduce_all_job {
	rop op;
	const void *x;
	bool f64;
	int64_t n, chunk;
	double *s, *m;
} reduce_all_job;

static void reduce_all_chunk(void *arg, int64_t begin, int64_t end)
{
	reduce_all_job *j = arg;

	for (int64_t c = begin; c < end; c++) {
		int64_t b = c * j->chunk;
		int64_t len = j->n - b < j->chunk ? j->n - b : j->chunk;

		acc_init(j->op, &j->s[c], &j->m[c]);
		if (j->f64)
			run_scalar_f64(j->op, (const double *)j->x + b, len, 1,
				       &j->s[c], &j->m[c]);
		else
			run_scalar_f32(j->op, (const float *)j->x + b, len, 1,
				       &j->s[c], &j->m[c]);
	}
}

static accel_status reduce_all(const cpu_ctx *ctx, rop op, const accel_tensor *x,
			       accel_tensor *y, int64_t n)
{
	reduce_all_job j = { .op = op, .x = x->data, .n = n,
			     .f64 = x->dtype == ACCEL_DTYPE_F64 };
	int64_t n_chunks = (int64_t)threadpool_size(ctx->pool) * 4;
	double s, m;

	j.chunk = (n + n_chunks - 1) / n_chunks;
	n_chunks = (n + j.chunk - 1) / j.chunk;
	j.s = malloc(sizeof(double) * 2 * (size_t)n_chunks);
	if (!j.s)
		return status_oom("reduction partials");
	j.m = j.s + n_chunks;
	parallel_for(ctx->pool, n_chunks, 1, reduce_all_chunk, &j);
	acc_init(op, &s, &m);
	for (int64_t c = 0; c < n_chunks; c++)
		acc_merge(op, &s, &m, j.s[c], j.m[c]);
	free(j.s);
	if (j.f64)
		*(double *)y->data = acc_final(op, s, m, n);
	else
		*(float *)y->data = (float)acc_final(op, s, m, n);
	return NULL;
}

static accel_status reduce_float(const cpu_ctx *ctx, rop op,
				 const accel_tensor *x, accel_tensor *y,
				 const rlayout *l)
{
	reduce_job j = { .op = op, .l = l, .x = x->data, .y = y->data,
			 .f64 = x->dtype == ACCEL_DTYPE_F64 };
	int64_t items, work;

	if (l->n_out == 1 && l->n == 1 && l->n_red >= (1 << 16) &&
	    threadpool_size(ctx->pool) > 1)
		return reduce_all(ctx, op, x, y, l->n_red);
	j.n_tiles = (l->inner + TILE - 1) / TILE;
	items = (l->n_out / l->inner) * j.n_tiles;
	work = l->n_red * (l->inner < TILE ? l->inner : TILE);
	parallel_for(ctx->pool, items, work >= 16384 ? 1 : 16384 / (work + 1) + 1,
		     reduce_chunk, &j);
	return NULL;
}

/* Other dtypes, and empty reductions: one output element at a time. */
static void generic_one(rop op, const accel_tensor *x, const rlayout *l,
			int64_t base, accel_tensor *y, int64_t yi)
{
	bool use_int = (dtype_is_int(x->dtype) || x->dtype == ACCEL_DTYPE_BOOL) &&
		       op != R_L2 && op != R_LOGSUM && op != R_LOGSUMEXP;
	int64_t idx[ACCEL_MAX_RANK] = { 0 }, off = 0, ia;
	double s, m;

	ia = op == R_PROD ? 1 : op == R_MAX ? INT64_MIN : op == R_MIN ? INT64_MAX : 0;
	acc_init(op, &s, &m);
	for (int64_t r = 0; r < l->n_red; r++) {
		if (use_int) {
			int64_t v = tensor_get_i64(x, base + off);

			switch (op) {
			case R_PROD: ia *= v; break;
			case R_MAX: ia = v > ia ? v : ia; break;
			case R_MIN: ia = v < ia ? v : ia; break;
			case R_L1: ia += v < 0 ? -v : v; break;
			case R_SUMSQ: ia += v * v; break;
			default: ia += v; break;
			}
		} else {
			double v = tensor_get_f64(x, base + off);

			run_scalar_f64(op, &v, 1, 1, &s, &m);
		}
		for (int d = l->n_r - 1; d >= 0; d--) {
			int a = l->r_axis[d];

			off += l->stride[a];
			if (++idx[d] < l->dim[a])
				break;
			off -= l->stride[a] * l->dim[a];
			idx[d] = 0;
		}
	}
	if (use_int)
		tensor_set_i64(y, yi, op == R_MEAN && l->n_red ? ia / l->n_red : ia);
	else
		tensor_set_f64(y, yi, acc_final(op, s, m, l->n_red));
}

static void reduce_generic(rop op, const accel_tensor *x, accel_tensor *y,
			   const rlayout *l)
{
	for (int64_t o = 0; o < l->n_out; o++) {
		int64_t t = o % l->inner;

		generic_one(op, x, l, outer_base(l, o / l->inner) + t, y, o);
	}
}

static accel_status reduce_exec(const cpu_ctx *ctx, rop op,
				accel_tensor *const *in, int n_in,
				accel_tensor *y)
{
	const accel_tensor *x = in[0];
	bool mask[ACCEL_MAX_RANK], noop, known;
	rlayout l;

	ACCEL_TRY(reduce_axes(ctx->node, in, n_in, x->rank, mask, &noop, &known));
	if (!known)
		return status_invalid("input 'axes' has no data");
	layout_build(x, mask, &l);
	if (l.n_out == 0 || tensor_numel(y) == 0)
		return NULL;
	if (l.n_red > 0 && (x->dtype == ACCEL_DTYPE_F32 ||
			    x->dtype == ACCEL_DTYPE_F64))
		return reduce_float(ctx, op, x, y, &l);
	reduce_generic(op, x, y, &l);
	return NULL;
}

#define REDUCE_KERNEL(name, op)                                           \
	static RD_KERNEL(name)                                            \
	{                                                                 \
		return reduce_exec(ctx, op, in, n_in, out[0]);            \
	}

REDUCE_KERNEL(rd_sum, R_SUM)
REDUCE_KERNEL(rd_mean, R_MEAN)
REDUCE_KERNEL(rd_max, R_MAX)
REDUCE_KERNEL(rd_min, R_MIN)
REDUCE_KERNEL(rd_prod, R_PROD)
REDUCE_KERNEL(rd_l1, R_L1)
REDUCE_KERNEL(rd_l2, R_L2)
REDUCE_KERNEL(rd_logsum, R_LOGSUM)
REDUCE_KERNEL(rd_logsumexp, R_LOGSUMEXP)
REDUCE_KERNEL(rd_sumsq, R_SUMSQ)

/* MatMulInteger's constant B, packed once per session (reduce_quant.c). */
accel_status rd_matmulint_prepare(const cpu_ctx *ctx,
				  accel_tensor *const *const_in, int n_in,
				  void **out_state);
void rd_matmulint_release(void *state);
accel_status rd_qlinearmatmul_prepare(const cpu_ctx *ctx,
				      accel_tensor *const *const_in, int n_in,
				      void **out_state);

const cpu_kernel cpu_kernels_reduce[] = {
	{ "ReduceMean", "", rd_mean },
	{ "ReduceSum", "", rd_sum },
	{ "ReduceMax", "", rd_max },
	{ "ReduceMin", "", rd_min },
	{ "ReduceProd", "", rd_prod },
	{ "ReduceL1", "", rd_l1 },
	{ "ReduceL2", "", rd_l2 },
	{ "ReduceLogSum", "", rd_logsum },
	{ "ReduceLogSumExp", "", rd_logsumexp },
	{ "ReduceSumSquare", "", rd_sumsq },
	{ "ArgMax", "", rd_argmax },
	{ "ArgMin", "", rd_argmin },
	{ "TopK", "", rd_topk },
	{ "CumSum", "", rd_cumsum },
	{ "Unique", "", rd_unique },
	{ "SoftmaxCrossEntropyLoss", "", rd_sce_loss },
	{ "NegativeLogLikelihoodLoss", "", rd_nll_loss },
	{ "Einsum", "", rd_einsum },
	{ "Det", "", rd_det },
	{ "HannWindow", "", rd_hann },
	{ "HammingWindow", "", rd_hamming },
	{ "BlackmanWindow", "", rd_blackman },
	{ "MatMulInteger", "", rd_matmulint, rd_matmulint_prepare,
	  rd_matmulint_release },
	{ "QLinearMatMul", "", rd_qlinearmatmul, rd_qlinearmatmul_prepare,
	  rd_matmulint_release },
	{ "QuantizeLinear", "", rd_quantize },
	{ "DequantizeLinear", "", rd_dequantize },
	{ "DynamicQuantizeLinear", "", rd_dynquant },
	{ 0 },
};
