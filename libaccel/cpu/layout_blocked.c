/* SPDX-License-Identifier: MIT */
/*
 * layout_blocked.c - CPU kernels of the blocked channel layout (schemas
 * and the layout itself: ops/layout.c):
 *
 *   ToBlocked    NCHW -> [N, ceil(C/b), H, W, b], padding lanes zeroed
 *   FromBlocked  back to NCHW
 *   BlockedConv  FusedConv on blocked (or plain) X, blocked Z/Y: oneDNN's nChw8c/nChw16c
 *                kernels read and write them in place (conv_dnnl.c), so a
 *                chain of convolutions pays the reorders once, at its ends
 *   BlockedMul   Xb times a per-channel scale (squeeze-excitation)
 *   BlockedGlobalAveragePool  Xb -> plain [N, C, 1, 1]
 *   BlockedMaxPool  2-D MaxPool on whole b-lane vectors
 *
 * Without oneDNN state (no oneDNN, weights not constant) BlockedConv
 * unblocks into temporaries and runs cpu_conv: slow, but always right.
 */
#include "cpu/layout_blocked.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int cpu_layout_block(void)
{
#if defined(ACCEL_HAVE_DNNL) && defined(__x86_64__)
	if (getenv("ACCEL_NO_DNNL") || getenv("ACCEL_NO_BLOCKED"))
		return 0;
	if (__builtin_cpu_supports("avx512f"))
		return 16;
	if (__builtin_cpu_supports("avx2"))
		return 8;
#endif
	return 0;
}

typedef struct reorder_job {
	const float *src;
	float *dst;
	int64_t c, cb, sp, b; /* channels, blocks, positions, block */
} reorder_job;

/* Positions per tile: a tile of one block is 64 x b floats, in L1. */
#define REORDER_TILE 64

/*
 * One (image, block) of b channels per item, in tiles of positions: the
 * b planes are read in runs of REORDER_TILE, the tile written (or read,
 * from_blocked) as one contiguous piece.
 */
static void to_blocked_range(void *arg, int64_t begin, int64_t end)
{
	const reorder_job *j = arg;

	for (int64_t it = begin; it < end; it++) {
		int64_t n = it / j->cb, blk = it % j->cb;
		int64_t c0 = blk * j->b, lanes = j->c - c0 < j->b ? j->c - c0 : j->b;
		const float *x = j->src + (n * j->c + c0) * j->sp;
		float *y = j->dst + it * j->sp * j->b;

		if (lanes < j->b)
			memset(y, 0, sizeof(float) * (size_t)(j->sp * j->b));
		for (int64_t p0 = 0; p0 < j->sp; p0 += REORDER_TILE) {
			int64_t p1 = p0 + REORDER_TILE < j->sp ? p0 + REORDER_TILE : j->sp;

			for (int64_t l = 0; l < lanes; l++)
				for (int64_t p = p0; p < p1; p++)
					y[p * j->b + l] = x[l * j->sp + p];
		}
	}
}

static void from_blocked_range(void *arg, int64_t begin, int64_t end)
{
	const reorder_job *j = arg;

	for (int64_t it = begin; it < end; it++) {
		int64_t n = it / j->cb, blk = it % j->cb;
		int64_t c0 = blk * j->b, lanes = j->c - c0 < j->b ? j->c - c0 : j->b;
		const float *x = j->src + it * j->sp * j->b;
		float *y = j->dst + (n * j->c + c0) * j->sp;

		for (int64_t p0 = 0; p0 < j->sp; p0 += REORDER_TILE) {
			int64_t p1 = p0 + REORDER_TILE < j->sp ? p0 + REORDER_TILE : j->sp;

			for (int64_t l = 0; l < lanes; l++)
				for (int64_t p = p0; p < p1; p++)
					y[l * j->sp + p] = x[p * j->b + l];
		}
	}
}

static void reorder(const cpu_ctx *ctx, bool to, const float *src, float *dst,
		    int64_t n, int64_t c, int64_t sp, int64_t b)
{
	reorder_job j = { src, dst, c, (c + b - 1) / b, sp, b };

	parallel_for(ctx->pool, n * j.cb, nn_grain(sp * b),
		     to ? to_blocked_range : from_blocked_range, &j);
}

static accel_status cpu_to_blocked(const cpu_ctx *ctx, accel_tensor *const *in,
				   int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	accel_tensor *y = out[0];

	if (x->dtype != ACCEL_DTYPE_F32 || x->rank != 4 || y->rank != 5)
		return status_unsupported("ToBlocked of a %s tensor of rank %d",
					  accel_dtype_name(x->dtype), x->rank);
	reorder(ctx, true, x->data, y->data, x->dims[0], x->dims[1],
		x->dims[2] * x->dims[3], y->dims[4]);
	return NULL;
}

static accel_status cpu_from_blocked(const cpu_ctx *ctx, accel_tensor *const *in,
				     int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	accel_tensor *y = out[0];

	if (x->dtype != ACCEL_DTYPE_F32 || x->rank != 5 || y->rank != 4)
		return status_unsupported("FromBlocked of a %s tensor of rank %d",
					  accel_dtype_name(x->dtype), x->rank);
	reorder(ctx, false, x->data, y->data, y->dims[0], y->dims[1],
		y->dims[2] * y->dims[3], x->dims[4]);
	return NULL;
}

/* The NCHW twin of blocked |t| holding |c| channels, unblocked if |copy|. */
static accel_status plain_twin(const cpu_ctx *ctx, const accel_tensor *t, int64_t c,
			       bool copy, accel_tensor **out)
{
	int64_t d[4] = { t->dims[0], c, t->dims[2], t->dims[3] };

	ACCEL_TRY(tensor_new(ACCEL_DTYPE_F32, 4, d, out));
	if (copy)
		reorder(ctx, false, t->data, (*out)->data, d[0], c, d[2] * d[3],
			t->dims[4]);
	return NULL;
}

/* No oneDNN state: unblock X and Z, cpu_conv, block Y. */
static accel_status blocked_conv_plain(const cpu_ctx *ctx, accel_tensor *const *in,
				       int n_in, accel_tensor *const *out, int64_t cin)
{
	cpu_ctx plain = *ctx;
	accel_tensor *x = NULL, *z = NULL, *y = NULL, *args[4];
	const accel_tensor *w = in[1];
	accel_status st = NULL;

	plain.state = NULL;
	if (in[0]->rank == 4) /* already plain: a shared reference */
		accel_tensor_retain(x = in[0]);
	else
		st = plain_twin(ctx, in[0], cin, true, &x);
	if (!st && n_in > 3 && in[3])
		st = plain_twin(ctx, in[3], w->dims[0], true, &z);
	if (!st)
		st = plain_twin(ctx, out[0], w->dims[0], false, &y);
	if (!st) {
		args[0] = x;
		args[1] = in[1];
		args[2] = n_in > 2 ? in[2] : NULL;
		args[3] = z;
		st = cpu_conv(&plain, args, z ? 4 : n_in > 3 ? 3 : n_in, &y, 1);
	}
	if (!st)
		reorder(ctx, true, y->data, out[0]->data, y->dims[0], y->dims[1],
			y->dims[2] * y->dims[3], out[0]->dims[4]);
	if (x)
		accel_tensor_release(x);
	if (z)
		accel_tensor_release(z);
	if (y)
		accel_tensor_release(y);
	return st;
}

static accel_status cpu_blocked_conv(const cpu_ctx *ctx, accel_tensor *const *in,
				     int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0], *w = in[1];
	int64_t cin = w->dims[1] * ir_attr_int(ctx->node, "group", 1);
	int64_t xd[2] = { x->dims[2], x->dims[3] };
	nn_window win;
	win3 g;
	cpu_act act;
	bool done = false;

	if (x->dtype != ACCEL_DTYPE_F32 || (x->rank != 5 && x->rank != 4) || w->rank != 4 ||
	    w->dtype != ACCEL_DTYPE_F32)
		return status_unsupported("BlockedConv of %s X of rank %d, W of rank %d",
					  accel_dtype_name(x->dtype), x->rank, w->rank);
	if (n_in > 3 && in[3] && in[3]->nbytes != out[0]->nbytes)
		return status_invalid("input 'Z' has %zu bytes, output 'Y' %zu",
				      (size_t)in[3]->nbytes, (size_t)out[0]->nbytes);
	if (tensor_numel(out[0]) == 0)
		return NULL;
	ACCEL_TRY(nn_window_forward(ctx->node, 2, xd, w->dims + 2, false, &win));
	ACCEL_TRY(win3_from(&win, &g));
	ACCEL_TRY(cpu_act_from_node(ctx->node, &act));
	if (ctx->state)
		ACCEL_TRY(conv_dnnl_blocked_exec(ctx, ctx->state, in, n_in, out, &g,
						 &act, &done));
	if (done)
		return NULL;
	return blocked_conv_plain(ctx, in, n_in, out, cin);
}

typedef struct chan_job {
	const float *x, *s;
	float *y;
	int64_t c, cb, sp, b, s_img; /* s_img: scale floats per image, 0 or c */
} chan_job;

/* Lanes of block |it| that hold channels. */
static int64_t block_lanes(const chan_job *j, int64_t it)
{
	int64_t c0 = it % j->cb * j->b;

	return j->c - c0 < j->b ? j->c - c0 : j->b;
}

static void scale_range(void *arg, int64_t begin, int64_t end)
{
	const chan_job *j = arg;

	for (int64_t it = begin; it < end; it++) {
		const float *s = j->s + it / j->cb * j->s_img + it % j->cb * j->b;
		const float *x = j->x + it * j->sp * j->b;
		float *y = j->y + it * j->sp * j->b, f[16] = { 0 };
		int64_t lanes = block_lanes(j, it);

		memcpy(f, s, sizeof(float) * (size_t)lanes);
		if (j->b == 16)
			for (int64_t p = 0; p < j->sp; p++)
				for (int l = 0; l < 16; l++)
					y[p * 16 + l] = x[p * 16 + l] * f[l];
		else
			for (int64_t p = 0; p < j->sp; p++)
				for (int l = 0; l < 8; l++)
					y[p * 8 + l] = x[p * 8 + l] * f[l];
	}
}

typedef float v16f __attribute__((vector_size(64)));
typedef float v8f __attribute__((vector_size(32)));

/*
 * Sum |sp| vectors of 16 (8) lanes into acc, four sums in flight: one sum
 * would wait on the adder's latency at every position.
 */
#define SUM_LANES(name, vt, B)                                               \
	static void name(const float *x, int64_t sp, float *acc)             \
	{                                                                    \
		vt a[4] = { { 0 } }, v;                                      \
		int64_t p = 0;                                               \
									     \
		for (; p + 4 <= sp; p += 4)                                  \
			for (int u = 0; u < 4; u++) {                        \
				memcpy(&v, x + (p + u) * B, sizeof(v));      \
				a[u] += v;                                   \
			}                                                    \
		for (; p < sp; p++) {                                        \
			memcpy(&v, x + p * B, sizeof(v));                    \
			a[0] += v;                                           \
		}                                                            \
		a[0] += a[1] + a[2] + a[3];                                  \
		memcpy(acc, &a[0], sizeof(v));                               \
	}

SUM_LANES(sum16, v16f, 16)
SUM_LANES(sum8, v8f, 8)

static void mean_range(void *arg, int64_t begin, int64_t end)
{
	const chan_job *j = arg;

	for (int64_t it = begin; it < end; it++) {
		const float *x = j->x + it * j->sp * j->b;
		float *y = j->y + it / j->cb * j->c + it % j->cb * j->b;
		float acc[16] = { 0 };
		int64_t lanes = block_lanes(j, it);

		if (j->b == 16)
			sum16(x, j->sp, acc);
		else
			sum8(x, j->sp, acc);
		for (int64_t l = 0; l < lanes; l++)
			y[l] = acc[l] / (float)j->sp;
	}
}

static accel_status chan_setup(const cpu_ctx *ctx, const accel_tensor *x,
			       chan_job *j)
{
	int64_t c = ir_attr_int(ctx->node, "channels", 0);

	if (x->dtype != ACCEL_DTYPE_F32 || x->rank != 5 || (x->dims[4] != 8 && x->dims[4] != 16) ||
	    c < 1 || (c + x->dims[4] - 1) / x->dims[4] != x->dims[1])
		return status_unsupported("%s of a %s tensor of rank %d",
					  ctx->node->op_type, accel_dtype_name(x->dtype), x->rank);
	memset(j, 0, sizeof(*j));
	j->x = x->data;
	j->c = c;
	j->cb = x->dims[1];
	j->sp = x->dims[2] * x->dims[3];
	j->b = x->dims[4];
	return NULL;
}

static accel_status cpu_blocked_mul(const cpu_ctx *ctx, accel_tensor *const *in,
				    int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *sc = in[1];
	chan_job j;

	ACCEL_TRY(chan_setup(ctx, in[0], &j));
	if (sc->dtype != ACCEL_DTYPE_F32 || tensor_numel(sc) != j.c * (sc->dims[0]))
		return status_invalid("input 'S' is not a float32 scale per channel");
	j.s = sc->data;
	j.s_img = sc->dims[0] == 1 ? 0 : j.c;
	j.y = out[0]->data;
	parallel_for(ctx->pool, in[0]->dims[0] * j.cb, nn_grain(j.sp * j.b), scale_range, &j);
	return NULL;
}

static accel_status cpu_blocked_gap(const cpu_ctx *ctx, accel_tensor *const *in,
				    int n_in, accel_tensor *const *out, int n_out)
{
	chan_job j;

	ACCEL_TRY(chan_setup(ctx, in[0], &j));
	j.y = out[0]->data;
	parallel_for(ctx->pool, in[0]->dims[0] * j.cb, nn_grain(j.sp * j.b), mean_range, &j);
	return NULL;
}

typedef struct pool_job {
	win3 g;
	const float *x;
	float *y;
	int64_t b;
} pool_job;

/* One output row of b-lane vectors, B constant. */
static inline __attribute__((always_inline)) void
max_row(const pool_job *j, int64_t row, const int B)
{
	const win3 *g = &j->g;
	int64_t img = row / g->out[1], oh = row % g->out[1];
	const float *x = j->x + img * g->in_sp * B;
	float *y = j->y + row * g->out[2] * B;

	for (int64_t ow = 0; ow < g->out[2]; ow++) {
		float acc[16];

		for (int l = 0; l < B; l++)
			acc[l] = -INFINITY;
		for (int64_t kh = 0; kh < g->k[1]; kh++) {
			int64_t ih = oh * g->s[1] - g->pb[1] + kh * g->d[1];

			if (ih < 0 || ih >= g->in[1])
				continue;
			for (int64_t kw = 0; kw < g->k[2]; kw++) {
				int64_t iw = ow * g->s[2] - g->pb[2] + kw * g->d[2];
				const float *v = x + (ih * g->in[2] + iw) * B;

				if (iw < 0 || iw >= g->in[2])
					continue;
				for (int l = 0; l < B; l++)
					acc[l] = v[l] > acc[l] ? v[l] : acc[l];
			}
		}
		memcpy(y + ow * B, acc, sizeof(float) * (size_t)B);
	}
}

/* Items are output rows of one (image, block). */
static void max_rows(void *arg, int64_t begin, int64_t end)
{
	const pool_job *j = arg;

	for (int64_t r = begin; r < end; r++)
		if (j->b == 16)
			max_row(j, r, 16);
		else
			max_row(j, r, 8);
}

static accel_status cpu_blocked_maxpool(const cpu_ctx *ctx, accel_tensor *const *in,
					int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	int64_t sp[2] = { x->dims[2], x->dims[3] };
	nn_window win;
	pool_job j;
	chan_job cj;

	ACCEL_TRY(chan_setup(ctx, x, &cj));
	ACCEL_TRY(nn_window_forward(ctx->node, 2, sp, NULL, true, &win));
	ACCEL_TRY(win3_from(&win, &j.g));
	if (j.g.out[1] != out[0]->dims[2] || j.g.out[2] != out[0]->dims[3])
		return status_invalid("output 'Y' is %lldx%lld, the window gives %lldx%lld",
				      (long long)out[0]->dims[2], (long long)out[0]->dims[3],
				      (long long)j.g.out[1], (long long)j.g.out[2]);
	j.x = x->data;
	j.y = out[0]->data;
	j.b = cj.b;
	/* Rows of all (image, block) planes: the image index counts blocks. */
	parallel_for(ctx->pool, x->dims[0] * cj.cb * j.g.out[1],
		     nn_grain(j.g.out[2] * j.g.k_sp * j.b), max_rows, &j);
	return NULL;
}

const cpu_kernel cpu_kernels_layout[] = {
	{ "ToBlocked", "com.accel", cpu_to_blocked, NULL, NULL },
	{ "FromBlocked", "com.accel", cpu_from_blocked, NULL, NULL },
	{ "BlockedConv", "com.accel", cpu_blocked_conv, conv_dnnl_blocked_prepare,
	  conv_dnnl_blocked_release },
	{ "BlockedMul", "com.accel", cpu_blocked_mul, NULL, NULL },
	{ "BlockedGlobalAveragePool", "com.accel", cpu_blocked_gap, NULL, NULL },
	{ "BlockedMaxPool", "com.accel", cpu_blocked_maxpool, NULL, NULL },
	{ 0 },
};
