/* SPDX-License-Identifier: MIT */
/*
 * nn.c - schemas of the nn operator family: convolutions, GEMM/MatMul,
 * normalizations, pooling, softmax-like ops and Dropout.
 */
#include "ops/nn_window.h"

#include <string.h>

/* ---- window geometry ---- */

static accel_status window_ints(const ir_node *node, const char *name,
				int nsp, int64_t def, int64_t *dst)
{
	size_t n;
	const int64_t *v = ir_attr_ints(node, name, &n);

	for (int i = 0; i < nsp; i++)
		dst[i] = def;
	if (!v)
		return NULL;
	if ((int)n != nsp)
		return status_bad_model("attribute '%s' has %zu values, expected %d",
					name, n, nsp);
	for (int i = 0; i < nsp; i++) {
		if (v[i] < 1)
			return status_bad_model("attribute '%s' value %lld must be positive",
						name, (long long)v[i]);
		dst[i] = v[i];
	}
	return NULL;
}

static accel_status window_pads(const ir_node *node, int nsp, nn_window *w,
				bool *out_given)
{
	size_t n;
	const int64_t *v = ir_attr_ints(node, "pads", &n);

	*out_given = v != NULL;
	for (int i = 0; i < nsp; i++)
		w->pb[i] = w->pe[i] = 0;
	if (!v)
		return NULL;
	if ((int)n != 2 * nsp)
		return status_bad_model("attribute 'pads' has %zu values, expected %d",
					n, 2 * nsp);
	for (int i = 0; i < nsp; i++) {
		if (v[i] < 0 || v[i + nsp] < 0)
			return status_bad_model("attribute 'pads' must not be negative");
		w->pb[i] = v[i];
		w->pe[i] = v[i + nsp];
	}
	return NULL;
}

/* 0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID */
static accel_status window_auto_pad(const ir_node *node, int *out_mode)
{
	const char *ap = ir_attr_string(node, "auto_pad", "NOTSET");
	static const char *const names[] = { "NOTSET", "SAME_UPPER",
					     "SAME_LOWER", "VALID" };

	for (int i = 0; i < 4; i++)
		if (!strcmp(ap, names[i])) {
			*out_mode = i;
			return NULL;
		}
	return status_bad_model("attribute 'auto_pad' value '%s' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID",
				ap);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static accel_status window_common(const ir_node *node, int nsp,
				  const int64_t *in, const int64_t *kernel,
				  nn_window *w)
{
	memset(w, 0, sizeof(*w));
	if (nsp < 1 || nsp > ACCEL_MAX_RANK - 2)
		return status_invalid("input 'X' has %d spatial dimensions, expected 1 to %d",
				      nsp, ACCEL_MAX_RANK - 2);
	w->nsp = nsp;
	for (int i = 0; i < nsp; i++)
		w->in[i] = in[i];
	ACCEL_TRY(window_ints(node, "strides", nsp, 1, w->s));
	ACCEL_TRY(window_ints(node, "dilations", nsp, 1, w->d));
	if (ir_node_attr(node, "kernel_shape")) {
		ACCEL_TRY(window_ints(node, "kernel_shape", nsp, 1, w->k));
		for (int i = 0; kernel && i < nsp; i++)
			if (kernel[i] >= 0 && kernel[i] != w->k[i])
				return status_invalid("attribute 'kernel_shape' does not match the shape of input 'W'");
	} else if (kernel) {
		for (int i = 0; i < nsp; i++)
			w->k[i] = kernel[i];
	} else {
		return status_bad_model("attribute 'kernel_shape' is required");
	}
	return NULL;
}

accel_status nn_window_forward(const ir_node *node, int nsp, const int64_t *in,
			       const int64_t *kernel, bool pool, nn_window *w)
{
	bool ceil_mode, given = false;
	int mode = 0;

	ACCEL_TRY(window_common(node, nsp, in, kernel, w));
	ACCEL_TRY(window_pads(node, nsp, w, &given));
	ACCEL_TRY(window_auto_pad(node, &mode));
	ceil_mode = pool && ir_attr_int(node, "ceil_mode", 0);
	for (int i = 0; i < nsp; i++) {
		int64_t ek = (w->k[i] - 1) * w->d[i] + 1, span, total;

		if (w->in[i] < 0 || w->k[i] < 0) {
			w->out[i] = -1;
			continue;
		}
		if (mode == 1 || mode == 2) {
			w->out[i] = (w->in[i] + w->s[i] - 1) / w->s[i];
			total = (w->out[i] - 1) * w->s[i] + ek - w->in[i];
			if (total < 0)
				total = 0;
			w->pb[i] = mode == 1 ? total / 2 : total - total / 2;
			w->pe[i] = total - w->pb[i];
			continue;
		}
		if (mode == 3)
			w->pb[i] = w->pe[i] = 0;
		span = w->in[i] + w->pb[i] + w->pe[i] - ek;
		if (span < 0)
			return status_invalid("input 'X' spatial dimension %d (%lld, padded %lld) is smaller than the kernel window %lld",
					      i, (long long)w->in[i],
					      (long long)(w->in[i] + w->pb[i] + w->pe[i]),
					      (long long)ek);
		w->out[i] = span / w->s[i] + 1;
		if (ceil_mode && span % w->s[i]) {
			w->out[i]++;
			/* The last window must start inside input or left pad. */
			if ((w->out[i] - 1) * w->s[i] >= w->in[i] + w->pb[i])
				w->out[i]--;
		}
	}
	return NULL;
}

accel_status nn_window_transpose(const ir_node *node, int nsp,
				 const int64_t *in, const int64_t *kernel,
				 nn_window *w)
{
	int64_t opad[ACCEL_MAX_RANK] = { 0 }, oshape[ACCEL_MAX_RANK];
	const int64_t *v;
	bool given = false;
	size_t n;
	int mode = 0;

	ACCEL_TRY(window_common(node, nsp, in, kernel, w));
	ACCEL_TRY(window_pads(node, nsp, w, &given));
	ACCEL_TRY(window_auto_pad(node, &mode));
	v = ir_attr_ints(node, "output_padding", &n);
	if (v && (int)n != nsp)
		return status_bad_model("attribute 'output_padding' has %zu values, expected %d",
					n, nsp);
	for (int i = 0; v && i < nsp; i++)
		opad[i] = v[i];
	v = ir_attr_ints(node, "output_shape", &n);
	/* Some exporters give the full N, C, spatial... shape. */
	if (v && (int)n == nsp + 2)
		v += 2;
	else if (v && (int)n != nsp)
		return status_bad_model("attribute 'output_shape' has %zu values, expected %d",
					n, nsp);
	for (int i = 0; v && i < nsp; i++)
		oshape[i] = v[i];
	for (int i = 0; i < nsp; i++) {
		int64_t ek = (w->k[i] - 1) * w->d[i] + 1, full, total;

		if (w->in[i] < 0 || w->k[i] < 0) {
			w->out[i] = v ? oshape[i] : -1;
			continue;
		}
		full = w->s[i] * (w->in[i] - 1) + opad[i] + ek;
		if (!given && (mode == 1 || mode == 2)) {
			w->out[i] = v ? oshape[i] : w->in[i] * w->s[i];
			total = full - w->out[i];
			w->pb[i] = mode == 1 ? floor_div(total, 2) :
					       total - floor_div(total, 2);
			w->pe[i] = total - w->pb[i];
		} else {
			w->out[i] = v ? oshape[i] : full - w->pb[i] - w->pe[i];
		}
		if (w->out[i] < 1)
			return status_invalid("output spatial dimension %d would be %lld",
					      i, (long long)w->out[i]);
	}
	return NULL;
}

/* ---- helpers ---- */

static bool rank_unknown(const accel_tensor *t)
{
	return !t || t->rank < 0;
}

static void set_unknown(accel_tensor *out, accel_dtype dtype)
{
	if (!out)
		return;
	out->dtype = dtype;
	out->rank = -1;
}

static accel_status need_float(const accel_tensor *t, const char *name)
{
	if (t->dtype != ACCEL_DTYPE_UNDEFINED && !dtype_is_float(t->dtype))
		return status_invalid("input '%s' has type %s, expected a floating-point type",
				      name, accel_dtype_name(t->dtype));
	return NULL;
}

/* Y has the type and shape of X (input 0). */
static accel_status infer_like_x(const op_ctx *ctx, accel_tensor *const *in,
				 int n_in, accel_tensor *const *out, int n_out)
{
	op_set_output(out[0], in[0]->dtype, in[0]->rank, in[0]->dims);
	return NULL;
}

/* ---- Conv / ConvTranspose ---- */

static accel_status conv_check(const accel_tensor *x, const accel_tensor *w,
			       int64_t group)
{
	if (group < 1)
		return status_bad_model("attribute 'group' value %lld must be positive",
					(long long)group);
	if (x->rank >= 0 && x->rank < 3)
		return status_invalid("input 'X' has rank %d, expected at least 3",
				      x->rank);
	if (w->rank >= 0 && x->rank >= 0 && w->rank != x->rank)
		return status_invalid("input 'W' has rank %d, input 'X' rank %d",
				      w->rank, x->rank);
	return NULL;
}

/* Conv's output shape from X, W and B (NULL), with element type |dt|. */
static accel_status conv_shape(const op_ctx *ctx, const accel_tensor *x,
			       const accel_tensor *w, const accel_tensor *b,
			       accel_dtype dt, accel_tensor *y)
{
	int64_t group = ir_attr_int(ctx->node, "group", 1), dims[ACCEL_MAX_RANK];
	int rank = x->rank >= 0 ? x->rank : w->rank;
	nn_window win;

	ACCEL_TRY(conv_check(x, w, group));
	if (rank < 0) {
		set_unknown(y, dt);
		return NULL;
	}
	if (!rank_unknown(x) && !rank_unknown(w)) {
		if (x->dims[1] >= 0 && w->dims[1] >= 0 &&
		    x->dims[1] != w->dims[1] * group)
			return status_invalid("input 'X' has %lld channels, input 'W' expects %lld x group %lld",
					      (long long)x->dims[1],
					      (long long)w->dims[1], (long long)group);
		if (w->dims[0] >= 0 && w->dims[0] % group)
			return status_invalid("input 'W' has %lld output channels, not a multiple of group %lld",
					      (long long)w->dims[0], (long long)group);
	}
	if (b && b->rank >= 0 && !rank_unknown(w) &&
	    (b->rank != 1 || (b->dims[0] >= 0 && w->dims[0] >= 0 &&
			      b->dims[0] != w->dims[0])))
		return status_invalid("input 'B' must be a vector of the %lld output channels",
				      (long long)w->dims[0]);
	{
		int64_t xin[ACCEL_MAX_RANK], kern[ACCEL_MAX_RANK];

		for (int i = 2; i < rank; i++) {
			xin[i - 2] = rank_unknown(x) ? -1 : x->dims[i];
			kern[i - 2] = rank_unknown(w) ? -1 : w->dims[i];
		}
		ACCEL_TRY(nn_window_forward(ctx->node, rank - 2, xin, kern, false,
					    &win));
	}
	dims[0] = rank_unknown(x) ? -1 : x->dims[0];
	dims[1] = rank_unknown(w) ? -1 : w->dims[0];
	for (int i = 2; i < rank; i++)
		dims[i] = win.out[i - 2];
	op_set_output(y, dt, rank, dims);
	return NULL;
}

static accel_status infer_conv(const op_ctx *ctx, accel_tensor *const *in,
			       int n_in, accel_tensor *const *out, int n_out)
{
	ACCEL_TRY(need_float(in[0], "X"));
	return conv_shape(ctx, in[0], in[1], n_in > 2 ? in[2] : NULL,
			  in[0]->dtype, out[0]);
}

/* ConvInteger: x, w, x_zero_point, w_zero_point -> int32. */
static accel_status infer_conv_integer(const op_ctx *ctx,
				       accel_tensor *const *in, int n_in,
				       accel_tensor *const *out, int n_out)
{
	return conv_shape(ctx, in[0], in[1], NULL, ACCEL_DTYPE_I32, out[0]);
}

/*
 * QLinearConv: x, x_scale, x_zero_point, w, w_scale, w_zero_point,
 * y_scale, y_zero_point, B -> the type of y_zero_point.
 */
static accel_status infer_qlinear_conv(const op_ctx *ctx,
				       accel_tensor *const *in, int n_in,
				       accel_tensor *const *out, int n_out)
{
	accel_dtype dt = in[7] ? in[7]->dtype : ACCEL_DTYPE_U8;

	return conv_shape(ctx, in[0], in[3], n_in > 8 ? in[8] : NULL, dt,
			  out[0]);
}

static accel_status infer_conv_transpose(const op_ctx *ctx,
					 accel_tensor *const *in, int n_in,
					 accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0], *w = in[1];
	int64_t group = ir_attr_int(ctx->node, "group", 1), dims[ACCEL_MAX_RANK];
	int64_t xin[ACCEL_MAX_RANK], kern[ACCEL_MAX_RANK];
	int rank = x->rank >= 0 ? x->rank : w->rank;
	nn_window win;

	ACCEL_TRY(need_float(x, "X"));
	ACCEL_TRY(conv_check(x, w, group));
	if (rank < 0) {
		set_unknown(out[0], x->dtype);
		return NULL;
	}
	if (!rank_unknown(x) && !rank_unknown(w) && x->dims[1] >= 0 &&
	    w->dims[0] >= 0 && x->dims[1] != w->dims[0])
		return status_invalid("input 'X' has %lld channels, input 'W' expects %lld",
				      (long long)x->dims[1], (long long)w->dims[0]);
	for (int i = 2; i < rank; i++) {
		xin[i - 2] = rank_unknown(x) ? -1 : x->dims[i];
		kern[i - 2] = rank_unknown(w) ? -1 : w->dims[i];
	}
	ACCEL_TRY(nn_window_transpose(ctx->node, rank - 2, xin, kern, &win));
	dims[0] = rank_unknown(x) ? -1 : x->dims[0];
	dims[1] = rank_unknown(w) || w->dims[1] < 0 ? -1 : w->dims[1] * group;
	for (int i = 2; i < rank; i++)
		dims[i] = win.out[i - 2];
	op_set_output(out[0], x->dtype, rank, dims);
	return NULL;
}

/* ---- Gemm / MatMul ---- */

static accel_status infer_gemm(const op_ctx *ctx, accel_tensor *const *in,
			       int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *a = in[0], *b = in[1];
	const accel_tensor *c = n_in > 2 ? in[2] : NULL;
	bool ta = ir_attr_int(ctx->node, "transA", 0);
	bool tb = ir_attr_int(ctx->node, "transB", 0);
	int64_t dims[2] = { -1, -1 }, ka = -1, kb = -1;

	if (a->rank >= 0 && a->rank != 2)
		return status_invalid("input 'A' has rank %d, expected 2", a->rank);
	if (b->rank >= 0 && b->rank != 2)
		return status_invalid("input 'B' has rank %d, expected 2", b->rank);
	if (a->rank == 2) {
		dims[0] = a->dims[ta ? 1 : 0];
		ka = a->dims[ta ? 0 : 1];
	}
	if (b->rank == 2) {
		dims[1] = b->dims[tb ? 0 : 1];
		kb = b->dims[tb ? 1 : 0];
	}
	if (ka >= 0 && kb >= 0 && ka != kb)
		return status_invalid("inner dimensions of inputs 'A' (%lld) and 'B' (%lld) differ",
				      (long long)ka, (long long)kb);
	if (c && c->rank >= 0) {
		if (c->rank > 2)
			return status_invalid("input 'C' has rank %d, expected at most 2",
					      c->rank);
		for (int i = 0; i < c->rank; i++) {
			int64_t cd = c->dims[i], od = dims[2 - c->rank + i];

			if (cd >= 0 && od >= 0 && cd != 1 && cd != od)
				return status_invalid("input 'C' cannot be broadcast to %lldx%lld",
						      (long long)dims[0],
						      (long long)dims[1]);
		}
	}
	op_set_output(out[0], a->dtype, 2, dims);
	return NULL;
}

static accel_status infer_matmul(const op_ctx *ctx, accel_tensor *const *in,
				 int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *a = in[0], *b = in[1];
	accel_tensor ba, bb;
	int64_t dims[ACCEL_MAX_RANK], ka, kb;
	int rank, ra, rb;

	if (a->rank < 0 || b->rank < 0) {
		set_unknown(out[0], a->dtype);
		return NULL;
	}
	if (a->rank == 0 || b->rank == 0)
		return status_invalid("MatMul inputs must not be scalars");
	ra = a->rank;
	rb = b->rank;
	ka = a->dims[ra - 1];
	kb = b->dims[rb == 1 ? 0 : rb - 2];
	if (ka >= 0 && kb >= 0 && ka != kb)
		return status_invalid("inner dimensions of inputs 'A' (%lld) and 'B' (%lld) differ",
				      (long long)ka, (long long)kb);
	/* Broadcast the batch dimensions only. */
	memset(&ba, 0, sizeof(ba));
	memset(&bb, 0, sizeof(bb));
	ba.rank = ra > 2 ? ra - 2 : 0;
	bb.rank = rb > 2 ? rb - 2 : 0;
	memcpy(ba.dims, a->dims, sizeof(int64_t) * (size_t)ba.rank);
	memcpy(bb.dims, b->dims, sizeof(int64_t) * (size_t)bb.rank);
	ACCEL_TRY(op_broadcast(&ba, &bb, &rank, dims));
	if (ra >= 2)
		dims[rank++] = a->dims[ra - 2];
	if (rb >= 2)
		dims[rank++] = b->dims[rb - 1];
	op_set_output(out[0], a->dtype, rank, dims);
	return NULL;
}

/* ---- normalizations ---- */

static accel_status infer_batchnorm(const op_ctx *ctx, accel_tensor *const *in,
				    int n_in, accel_tensor *const *out,
				    int n_out)
{
	const accel_tensor *x = in[0];
	int64_t c = x->rank >= 2 ? x->dims[1] : -1;

	ACCEL_TRY(need_float(x, "X"));
	if (x->rank >= 0 && x->rank < 2)
		return status_invalid("input 'X' has rank %d, expected at least 2",
				      x->rank);
	for (int i = 1; i < 5 && i < n_in; i++) {
		static const char *const names[] = { "X", "scale", "B", "input_mean",
						     "input_var" };

		if (in[i] && in[i]->rank >= 0 && c >= 0 &&
		    (in[i]->rank != 1 || (in[i]->dims[0] >= 0 && in[i]->dims[0] != c)))
			return status_invalid("input '%s' must be a vector of the %lld channels",
					      names[i], (long long)c);
	}
	op_set_output(out[0], x->dtype, x->rank, x->dims);
	for (int i = 1; i < n_out; i++)
		op_set_output(out[i], in[3]->dtype, 1, &c);
	return NULL;
}

static accel_status infer_instancenorm(const op_ctx *ctx, accel_tensor *const *in,
				       int n_in, accel_tensor *const *out,
				       int n_out)
{
	const accel_tensor *x = in[0];

	ACCEL_TRY(need_float(x, "input"));
	if (x->rank >= 0 && x->rank < 3)
		return status_invalid("input 'input' has rank %d, expected at least 3",
				      x->rank);
	op_set_output(out[0], x->dtype, x->rank, x->dims);
	return NULL;
}

static accel_status infer_layernorm(const op_ctx *ctx, accel_tensor *const *in,
				    int n_in, accel_tensor *const *out,
				    int n_out)
{
	const accel_tensor *x = in[0];
	int64_t dims[ACCEL_MAX_RANK];
	accel_dtype st;
	int axis;

	ACCEL_TRY(need_float(x, "X"));
	st = ir_attr_int(ctx->node, "stash_type", 1) == 1 ? ACCEL_DTYPE_F32 :
							     x->dtype;
	if (x->rank < 0) {
		set_unknown(out[0], x->dtype);
		for (int i = 1; i < n_out; i++)
			set_unknown(out[i], st);
		return NULL;
	}
	ACCEL_TRY(op_axis(ctx, ir_attr_int(ctx->node, "axis", -1), x->rank, &axis));
	op_set_output(out[0], x->dtype, x->rank, x->dims);
	for (int i = 0; i < x->rank; i++)
		dims[i] = i < axis ? x->dims[i] : 1;
	for (int i = 1; i < n_out; i++)
		op_set_output(out[i], st, x->rank, dims);
	return NULL;
}

static accel_status infer_float_like_x(const op_ctx *ctx, accel_tensor *const *in,
				       int n_in, accel_tensor *const *out,
				       int n_out)
{
	ACCEL_TRY(need_float(in[0], "X"));
	return infer_like_x(ctx, in, n_in, out, n_out);
}

static accel_status infer_softmax(const op_ctx *ctx, accel_tensor *const *in,
				  int n_in, accel_tensor *const *out, int n_out)
{
	int axis, def = ctx->node->opset >= 13 ? -1 : 1;

	ACCEL_TRY(need_float(in[0], "input"));
	if (in[0]->rank >= 0)
		ACCEL_TRY(op_axis(ctx, ir_attr_int(ctx->node, "axis", def),
				  in[0]->rank, &axis));
	return infer_like_x(ctx, in, n_in, out, n_out);
}

/* ---- pooling ---- */

static accel_status infer_pool(const op_ctx *ctx, accel_tensor *const *in,
			       int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	int64_t dims[ACCEL_MAX_RANK];
	nn_window win;

	if (x->rank < 0) {
		set_unknown(out[0], x->dtype);
		if (n_out > 1)
			set_unknown(out[1], ACCEL_DTYPE_I64);
		return NULL;
	}
	if (x->rank < 3)
		return status_invalid("input 'X' has rank %d, expected at least 3",
				      x->rank);
	ACCEL_TRY(nn_window_forward(ctx->node, x->rank - 2, x->dims + 2, NULL,
				    true, &win));
	dims[0] = x->dims[0];
	dims[1] = x->dims[1];
	for (int i = 2; i < x->rank; i++)
		dims[i] = win.out[i - 2];
	op_set_output(out[0], x->dtype, x->rank, dims);
	if (n_out > 1)
		op_set_output(out[1], ACCEL_DTYPE_I64, x->rank, dims);
	return NULL;
}

static accel_status infer_global_pool(const op_ctx *ctx, accel_tensor *const *in,
				      int n_in, accel_tensor *const *out,
				      int n_out)
{
	const accel_tensor *x = in[0];
	int64_t dims[ACCEL_MAX_RANK];

	if (x->rank < 0) {
		set_unknown(out[0], x->dtype);
		return NULL;
	}
	if (x->rank < 2)
		return status_invalid("input 'X' has rank %d, expected at least 2",
				      x->rank);
	for (int i = 0; i < x->rank; i++)
		dims[i] = i < 2 ? x->dims[i] : 1;
	op_set_output(out[0], x->dtype, x->rank, dims);
	return NULL;
}

static accel_status infer_maxunpool(const op_ctx *ctx, accel_tensor *const *in,
				    int n_in, accel_tensor *const *out,
				    int n_out)
{
	const accel_tensor *x = in[0], *shape = n_in > 2 ? in[2] : NULL;
	int64_t dims[ACCEL_MAX_RANK];
	nn_window win;

	if (shape && shape->rank >= 0) {
		int64_t n = tensor_numel(shape);

		if (shape->rank != 1 || n > ACCEL_MAX_RANK)
			return status_invalid("input 'output_shape' must be a vector of at most %d dims",
					      ACCEL_MAX_RANK);
		if (!op_has_data(shape)) {
			set_unknown(out[0], x->dtype);
			return NULL;
		}
		for (int64_t i = 0; i < n; i++)
			dims[i] = tensor_get_i64(shape, i);
		op_set_output(out[0], x->dtype, (int)n, dims);
		return NULL;
	}
	if (x->rank < 0) {
		set_unknown(out[0], x->dtype);
		return NULL;
	}
	if (x->rank < 3)
		return status_invalid("input 'X' has rank %d, expected at least 3",
				      x->rank);
	ACCEL_TRY(window_common(ctx->node, x->rank - 2, x->dims + 2, NULL, &win));
	{
		bool given;

		ACCEL_TRY(window_pads(ctx->node, x->rank - 2, &win, &given));
	}
	dims[0] = x->dims[0];
	dims[1] = x->dims[1];
	for (int i = 2; i < x->rank; i++) {
		int64_t d = x->dims[i];

		dims[i] = d < 0 ? -1 : (d - 1) * win.s[i - 2] + win.k[i - 2] -
					       win.pb[i - 2] - win.pe[i - 2];
	}
	op_set_output(out[0], x->dtype, x->rank, dims);
	return NULL;
}

/* ---- Dropout ---- */

static accel_status infer_dropout(const op_ctx *ctx, accel_tensor *const *in,
				  int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];

	op_set_output(out[0], x->dtype, x->rank, x->dims);
	if (n_out > 1 && out[1])
		op_set_output(out[1], ctx->node->opset >= 10 ? ACCEL_DTYPE_BOOL :
							       x->dtype,
			      x->rank, x->dims);
	return NULL;
}

const op_schema op_schemas_nn[] = {
	{ "Conv", "", 2, 3, 1, 1, infer_conv },
	{ "ConvTranspose", "", 2, 3, 1, 1, infer_conv_transpose },
	{ "ConvInteger", "", 2, 4, 1, 1, infer_conv_integer },
	{ "QLinearConv", "", 8, 9, 1, 1, infer_qlinear_conv },
	{ "Gemm", "", 2, 3, 1, 1, infer_gemm },
	{ "MatMul", "", 2, 2, 1, 1, infer_matmul },
	{ "BatchNormalization", "", 5, 5, 1, 5, infer_batchnorm },
	{ "InstanceNormalization", "", 3, 3, 1, 1, infer_instancenorm },
	{ "LayerNormalization", "", 2, 3, 1, 3, infer_layernorm },
	{ "RMSNormalization", "", 2, 2, 1, 1, infer_layernorm },
	{ "GroupNormalization", "", 3, 3, 1, 1, infer_instancenorm },
	{ "LRN", "", 1, 1, 1, 1, infer_float_like_x },
	{ "MeanVarianceNormalization", "", 1, 1, 1, 1, infer_float_like_x },
	{ "LpNormalization", "", 1, 1, 1, 1, infer_float_like_x },
	{ "MaxPool", "", 1, 1, 1, 2, infer_pool },
	{ "AveragePool", "", 1, 1, 1, 1, infer_pool },
	{ "LpPool", "", 1, 1, 1, 1, infer_pool },
	{ "MaxUnpool", "", 2, 3, 1, 1, infer_maxunpool },
	{ "GlobalAveragePool", "", 1, 1, 1, 1, infer_global_pool },
	{ "GlobalMaxPool", "", 1, 1, 1, 1, infer_global_pool },
	{ "GlobalLpPool", "", 1, 1, 1, 1, infer_global_pool },
	{ "Softmax", "", 1, 1, 1, 1, infer_softmax },
	{ "LogSoftmax", "", 1, 1, 1, 1, infer_softmax },
	{ "Hardmax", "", 1, 1, 1, 1, infer_softmax },
	{ "Dropout", "", 1, 3, 1, 2, infer_dropout },
	{ 0 },
};
