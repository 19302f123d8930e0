/* SPDX-License-Identifier: MIT */
/*
 * layout.c - schemas of the "com.accel" operators of the blocked channel
 * layout that passes/layout_blocked.c emits.
 *
 * A blocked tensor is an ordinary float32 tensor of rank 5,
 * [N, ceil(C / b), H, W, b]: channel c of the logical NCHW tensor is lane
 * c % b of block c / b, and the lanes past C in the last block are padding
 * (ToBlocked writes zeros there; other kernels may leave any finite value,
 * which only ever meets zero weights). b (attribute `block`, 8 or 16) is
 * the SIMD width oneDNN's nChw8c/nChw16c kernels use. Since the rank and
 * shape differ from the NCHW tensor's, no operator that does not know the
 * layout can be handed one by mistake without failing shape inference.
 *
 *   ToBlocked(X)          [N, C, H, W] -> [N, ceil(C/b), H, W, b]
 *   FromBlocked(Xb)       -> [N, channels, H, W] (attribute `channels`)
 *   BlockedConv(Xb, W, B?, Zb?)  FusedConv (same attributes) with X, Z and
 *                         Y blocked; W and B as for Conv. X may be plain
 *                         NCHW (rank 4): a first convolution of few channels
 *   BlockedMul(Xb, S)     Yb = Xb * S, S of shape [N or 1, channels, 1, 1]
 *                         (the channel scale of a squeeze-excitation block)
 *   BlockedGlobalAveragePool(Xb) -> [N, channels, 1, 1], plain
 *   BlockedMaxPool(Xb)    MaxPool (same attributes, no Indices), blocked
 */
#include "ops/op.h"

#include <string.h>

static int64_t ceil_div(int64_t a, int64_t b)
{
	return (a + b - 1) / b;
}

static accel_status block_attr(const op_ctx *ctx, int64_t *out_b)
{
	int64_t b = ir_attr_int(ctx->node, "block", 0);

	if (b != 8 && b != 16)
		return status_invalid("attribute 'block' is %lld (8 or 16 expected)",
				      (long long)b);
	*out_b = b;
	return NULL;
}

static accel_status need_f32(const accel_tensor *t, const char *name, int rank)
{
	if (t->dtype != ACCEL_DTYPE_UNDEFINED && t->dtype != ACCEL_DTYPE_F32)
		return status_unsupported("input '%s' is %s (float32 expected)",
					  name, accel_dtype_name(t->dtype));
	if (t->rank >= 0 && t->rank != rank)
		return status_invalid("input '%s' has rank %d (%d expected)",
				      name, t->rank, rank);
	return NULL;
}

static accel_status infer_to_blocked(const op_ctx *ctx, accel_tensor *const *in,
				     int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	int64_t b = 0, d[5] = { -1, -1, -1, -1, -1 };

	ACCEL_TRY(block_attr(ctx, &b));
	ACCEL_TRY(need_f32(x, "X", 4));
	d[4] = b;
	if (x->rank == 4) {
		d[0] = x->dims[0];
		d[1] = x->dims[1] < 0 ? -1 : ceil_div(x->dims[1], b);
		d[2] = x->dims[2];
		d[3] = x->dims[3];
	}
	op_set_output(out[0], ACCEL_DTYPE_F32, 5, d);
	return NULL;
}

static accel_status infer_from_blocked(const op_ctx *ctx, accel_tensor *const *in,
				       int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	int64_t b = 0, c = ir_attr_int(ctx->node, "channels", 0);
	int64_t d[4] = { -1, c, -1, -1 };

	ACCEL_TRY(block_attr(ctx, &b));
	ACCEL_TRY(need_f32(x, "X", 5));
	if (c < 1)
		return status_invalid("attribute 'channels' is %lld", (long long)c);
	if (x->rank == 5) {
		if ((x->dims[4] >= 0 && x->dims[4] != b) ||
		    (x->dims[1] >= 0 && x->dims[1] != ceil_div(c, b)))
			return status_invalid("input 'X' [%lld blocks of %lld] does not hold %lld channels in blocks of %lld",
					      (long long)x->dims[1], (long long)x->dims[4],
					      (long long)c, (long long)b);
		d[0] = x->dims[0];
		d[2] = x->dims[2];
		d[3] = x->dims[3];
	}
	op_set_output(out[0], ACCEL_DTYPE_F32, 4, d);
	return NULL;
}

/*
 * BlockedConv infers through FusedConv's schema on the logical NCHW
 * shapes (C from W and group), then blocks Y's channel axis.
 */
static accel_status infer_blocked_conv(const op_ctx *ctx, accel_tensor *const *in,
				       int n_in, accel_tensor *const *out, int n_out)
{
	const op_schema *fc = op_schema_find("com.accel", "FusedConv");
	const accel_tensor *x = in[0], *w = in[1];
	const accel_tensor *z = n_in > 3 ? in[3] : NULL;
	int64_t b = 0, group = ir_attr_int(ctx->node, "group", 1);
	accel_tensor xl, yl, *args[3], *outs[1] = { &yl };
	int64_t d[5];

	ACCEL_TRY(block_attr(ctx, &b));
	ACCEL_TRY(need_f32(x, "X", x->rank == 4 ? 4 : 5));
	if (z)
		ACCEL_TRY(need_f32(z, "Z", 5));
	if (!fc)
		return status_unsupported("FusedConv has no schema");
	if (w->rank != 4)
		return status_unsupported("input 'W' of rank %d: BlockedConv is 2-D",
					  w->rank);
	memset(&xl, 0, sizeof(xl));
	memset(&yl, 0, sizeof(yl));
	xl.dtype = ACCEL_DTYPE_F32;
	xl.rank = 4;
	xl.dims[0] = x->rank >= 4 ? x->dims[0] : -1;
	xl.dims[1] = w->dims[1] < 0 ? -1 : w->dims[1] * group;
	xl.dims[2] = x->rank >= 4 ? x->dims[2] : -1;
	xl.dims[3] = x->rank >= 4 ? x->dims[3] : -1;
	if (x->rank == 4 && x->dims[1] >= 0 && xl.dims[1] >= 0 && x->dims[1] != xl.dims[1])
		return status_invalid("input 'X' has %lld channels, W and group want %lld",
				      (long long)x->dims[1], (long long)xl.dims[1]);
	if (x->rank == 5 && xl.dims[1] > 0 &&
	    ((x->dims[1] >= 0 && x->dims[1] != ceil_div(xl.dims[1], b)) ||
	     (x->dims[4] >= 0 && x->dims[4] != b)))
		return status_invalid("input 'X' [%lld blocks of %lld] does not hold %lld channels in blocks of %lld",
				      (long long)x->dims[1], (long long)x->dims[4],
				      (long long)xl.dims[1], (long long)b);
	args[0] = &xl;
	args[1] = in[1];
	args[2] = n_in > 2 ? in[2] : NULL;
	ACCEL_TRY(fc->infer(ctx, args, n_in > 2 && in[2] ? 3 : 2, outs, 1));
	d[0] = yl.dims[0];
	d[1] = yl.dims[1] < 0 ? -1 : ceil_div(yl.dims[1], b);
	d[2] = yl.dims[2];
	d[3] = yl.dims[3];
	d[4] = b;
	if (z && z->rank == 5)
		for (int i = 0; i < 5; i++)
			if (z->dims[i] >= 0 && d[i] >= 0 && z->dims[i] != d[i])
				return status_invalid("input 'Z' dim %d is %lld, output dim is %lld",
						      i, (long long)z->dims[i],
						      (long long)d[i]);
	op_set_output(out[0], ACCEL_DTYPE_F32, 5, d);
	return NULL;
}

/* Xb of rank 5 holding |channels| in blocks of |block|: the attributes. */
static accel_status blocked_input(const op_ctx *ctx, const accel_tensor *x,
				  int64_t *out_b, int64_t *out_c)
{
	int64_t c = ir_attr_int(ctx->node, "channels", 0);

	ACCEL_TRY(block_attr(ctx, out_b));
	ACCEL_TRY(need_f32(x, "X", 5));
	if (c < 1)
		return status_invalid("attribute 'channels' is %lld", (long long)c);
	if (x->rank == 5 && ((x->dims[4] >= 0 && x->dims[4] != *out_b) ||
			     (x->dims[1] >= 0 && x->dims[1] != ceil_div(c, *out_b))))
		return status_invalid("input 'X' [%lld blocks of %lld] does not hold %lld channels in blocks of %lld",
				      (long long)x->dims[1], (long long)x->dims[4],
				      (long long)c, (long long)*out_b);
	*out_c = c;
	return NULL;
}

static accel_status infer_blocked_mul(const op_ctx *ctx, accel_tensor *const *in,
				      int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0], *sc = in[1];
	int64_t b = 0, c = 0;

	ACCEL_TRY(blocked_input(ctx, x, &b, &c));
	ACCEL_TRY(need_f32(sc, "S", 4));
	if (sc->rank == 4 &&
	    ((sc->dims[1] >= 0 && sc->dims[1] != c) || sc->dims[2] > 1 ||
	     sc->dims[3] > 1 ||
	     (sc->dims[0] > 1 && x->rank == 5 && x->dims[0] >= 0 &&
	      sc->dims[0] != x->dims[0])))
		return status_invalid("input 'S' [%lld, %lld, %lld, %lld] is not a scale per image and channel (%lld channels)",
				      (long long)sc->dims[0], (long long)sc->dims[1],
				      (long long)sc->dims[2], (long long)sc->dims[3],
				      (long long)c);
	op_set_output(out[0], ACCEL_DTYPE_F32, 5, x->dims);
	if (x->rank != 5) {
		int64_t d[5] = { -1, ceil_div(c, b), -1, -1, b };

		op_set_output(out[0], ACCEL_DTYPE_F32, 5, d);
	}
	return NULL;
}

static accel_status infer_blocked_gap(const op_ctx *ctx, accel_tensor *const *in,
				      int n_in, accel_tensor *const *out, int n_out)
{
	int64_t b = 0, c = 0;
	int64_t d[4] = { in[0]->rank == 5 ? in[0]->dims[0] : -1, 0, 1, 1 };

	ACCEL_TRY(blocked_input(ctx, in[0], &b, &c));
	d[1] = c;
	op_set_output(out[0], ACCEL_DTYPE_F32, 4, d);
	return NULL;
}

/* MaxPool's schema on the logical NCHW shape, the channels re-blocked. */
static accel_status infer_blocked_maxpool(const op_ctx *ctx, accel_tensor *const *in,
					  int n_in, accel_tensor *const *out, int n_out)
{
	const op_schema *mp = op_schema_find("", "MaxPool");
	const accel_tensor *x = in[0];
	int64_t b = 0, c = 0, d[5];
	accel_tensor xl, yl, *args[1] = { &xl }, *outs[1] = { &yl };

	ACCEL_TRY(blocked_input(ctx, x, &b, &c));
	if (!mp)
		return status_unsupported("MaxPool has no schema");
	memset(&xl, 0, sizeof(xl));
	memset(&yl, 0, sizeof(yl));
	xl.dtype = ACCEL_DTYPE_F32;
	xl.rank = x->rank == 5 ? 4 : -1;
	if (x->rank == 5) {
		xl.dims[0] = x->dims[0];
		xl.dims[1] = c;
		xl.dims[2] = x->dims[2];
		xl.dims[3] = x->dims[3];
	}
	ACCEL_TRY(mp->infer(ctx, args, 1, outs, 1));
	if (yl.rank != 4) {
		int64_t u[5] = { -1, ceil_div(c, b), -1, -1, b };

		op_set_output(out[0], ACCEL_DTYPE_F32, 5, u);
		return NULL;
	}
	d[0] = yl.dims[0];
	d[1] = ceil_div(c, b);
	d[2] = yl.dims[2];
	d[3] = yl.dims[3];
	d[4] = b;
	op_set_output(out[0], ACCEL_DTYPE_F32, 5, d);
	return NULL;
}

const op_schema op_schemas_layout[] = {
	{ "ToBlocked", "com.accel", 1, 1, 1, 1, infer_to_blocked },
	{ "FromBlocked", "com.accel", 1, 1, 1, 1, infer_from_blocked },
	{ "BlockedConv", "com.accel", 2, 4, 1, 1, infer_blocked_conv },
	{ "BlockedMul", "com.accel", 2, 2, 1, 1, infer_blocked_mul },
	{ "BlockedGlobalAveragePool", "com.accel", 1, 1, 1, 1, infer_blocked_gap },
	{ "BlockedMaxPool", "com.accel", 1, 1, 1, 1, infer_blocked_maxpool },
	{ 0 },
};
