/* SPDX-License-Identifier: MIT */
/*
 * reduce.c - schemas of the reduce family: Reduce*, ArgMax/ArgMin, TopK,
 * CumSum and the two losses. Einsum, Det, windows, Unique and the
 * quantization ops live in reduce_misc.c; the table below lists them all.
 */
#include "ops/reduce.h"

#include <string.h>

#define INFER(name)                                                         \
	static accel_status name(const op_ctx *ctx, accel_tensor *const *in, \
				 int n_in, accel_tensor *const *out, int n_out)

/* Implemented in reduce_misc.c. */
accel_status reduce_einsum_infer(const op_ctx *, accel_tensor *const *, int,
				 accel_tensor *const *, int);
accel_status reduce_det_infer(const op_ctx *, accel_tensor *const *, int,
			      accel_tensor *const *, int);
accel_status reduce_window_infer(const op_ctx *, accel_tensor *const *, int,
				 accel_tensor *const *, int);
accel_status reduce_unique_infer(const op_ctx *, accel_tensor *const *, int,
				 accel_tensor *const *, int);
accel_status reduce_matmulint_infer(const op_ctx *, accel_tensor *const *, int,
				    accel_tensor *const *, int);
accel_status reduce_quant_infer(const op_ctx *, accel_tensor *const *, int,
				accel_tensor *const *, int);
accel_status reduce_qlinearmatmul_infer(const op_ctx *, accel_tensor *const *, int,
					accel_tensor *const *, int);
accel_status reduce_dequant_infer(const op_ctx *, accel_tensor *const *, int,
				  accel_tensor *const *, int);
accel_status reduce_dynquant_infer(const op_ctx *, accel_tensor *const *, int,
				   accel_tensor *const *, int);

static accel_status mark_axis(int64_t axis, int rank, bool *mask)
{
	int64_t a = axis < 0 ? axis + rank : axis;

	if (a < 0 || a >= rank)
		return status_invalid("axes: axis %lld is out of range for rank %d",
				      (long long)axis, rank);
	if (mask[a])
		return status_invalid("axes: axis %lld is repeated",
				      (long long)axis);
	mask[a] = true;
	return NULL;
}

accel_status reduce_axes(const ir_node *node, accel_tensor *const *in, int n_in,
			 int rank, bool *mask, bool *out_noop, bool *out_known)
{
	const accel_tensor *ax = n_in > 1 ? in[1] : NULL;
	int64_t n_axes = 0;
	const int64_t *attr = NULL;
	size_t n_attr = 0;

	*out_noop = false;
	*out_known = true;
	for (int i = 0; i < rank; i++)
		mask[i] = false;
	if (ax) {
		if (!ax->data) {
			*out_known = false;
			return NULL;
		}
		if (ax->rank > 1)
			return status_invalid("input 'axes' must be 1-D, not rank %d",
					      ax->rank);
		n_axes = tensor_numel(ax);
		for (int64_t i = 0; i < n_axes; i++)
			ACCEL_TRY(mark_axis(tensor_get_i64(ax, i), rank, mask));
	} else {
		attr = ir_attr_ints(node, "axes", &n_attr);
		n_axes = attr ? (int64_t)n_attr : 0;
		for (int64_t i = 0; i < n_axes; i++)
			ACCEL_TRY(mark_axis(attr[i], rank, mask));
	}
	if (n_axes == 0) {
		/* A fold over no axes: still maps each element (the
		 * reference squares for ReduceSumSquare, and so on). */
		if (ir_attr_int(node, "noop_with_empty_axes", 0))
			*out_noop = true;
		else
			for (int i = 0; i < rank; i++)
				mask[i] = true;
	}
	return NULL;
}

INFER(reduce_infer)
{
	const accel_tensor *x = in[0];
	bool keep = ir_attr_int(ctx->node, "keepdims", 1) != 0;
	bool mask[ACCEL_MAX_RANK], noop, known;
	int64_t dims[ACCEL_MAX_RANK];
	int r = 0;

	out[0]->dtype = x->dtype;
	if (x->rank < 0) {
		out[0]->rank = -1;
		return NULL;
	}
	ACCEL_TRY(reduce_axes(ctx->node, in, n_in, x->rank, mask, &noop, &known));
	if (!known) {
		/* Each dim is either kept or reduced to 1: unknown. */
		for (int i = 0; i < x->rank; i++)
			dims[i] = -1;
		op_set_output(out[0], x->dtype, keep ? x->rank : -1, dims);
		return NULL;
	}
	for (int i = 0; i < x->rank; i++) {
		if (noop || !mask[i])
			dims[r++] = x->dims[i];
		else if (keep)
			dims[r++] = 1;
	}
	op_set_output(out[0], x->dtype, r, dims);
	return NULL;
}

INFER(arg_infer)
{
	const accel_tensor *x = in[0];
	bool keep = ir_attr_int(ctx->node, "keepdims", 1) != 0;
	int64_t dims[ACCEL_MAX_RANK];
	int axis, r = 0;

	out[0]->dtype = ACCEL_DTYPE_I64;
	if (x->rank < 0) {
		out[0]->rank = -1;
		return NULL;
	}
	ACCEL_TRY(op_axis(ctx, ir_attr_int(ctx->node, "axis", 0), x->rank, &axis));
	for (int i = 0; i < x->rank; i++) {
		if (i != axis)
			dims[r++] = x->dims[i];
		else if (keep)
			dims[r++] = 1;
	}
	op_set_output(out[0], ACCEL_DTYPE_I64, r, dims);
	return NULL;
}

INFER(topk_infer)
{
	const accel_tensor *x = in[0];
	int64_t dims[ACCEL_MAX_RANK], k = -1;
	int axis;

	out[0]->dtype = x->dtype;
	if (n_out > 1 && out[1])
		out[1]->dtype = ACCEL_DTYPE_I64;
	if (x->rank < 0) {
		out[0]->rank = -1;
		if (n_out > 1 && out[1])
			out[1]->rank = -1;
		return NULL;
	}
	ACCEL_TRY(op_axis(ctx, ir_attr_int(ctx->node, "axis", -1), x->rank, &axis));
	if (n_in > 1 && in[1]) {
		if (in[1]->data) {
			if (tensor_numel(in[1]) != 1)
				return status_invalid("input 'K' must hold one value");
			k = tensor_get_i64(in[1], 0);
		}
	} else {
		k = ir_attr_int(ctx->node, "k", -1);
		if (k < 0)
			return status_bad_model("attribute 'k' is missing");
	}
	if ((k < 0 && (!(n_in > 1 && in[1]) || in[1]->data)) ||
	    (k >= 0 && x->dims[axis] >= 0 && k > x->dims[axis]))
		return status_invalid("K = %lld is out of range for axis %d of size %lld",
				      (long long)k, axis, (long long)x->dims[axis]);
	memcpy(dims, x->dims, sizeof(dims));
	dims[axis] = k;
	op_set_output(out[0], x->dtype, x->rank, dims);
	if (n_out > 1)
		op_set_output(out[1], ACCEL_DTYPE_I64, x->rank, dims);
	return NULL;
}

INFER(cumsum_infer)
{
	const accel_tensor *x = in[0];

	if (in[1]->rank > 1 || (in[1]->data && tensor_numel(in[1]) != 1))
		return status_invalid("input 'axis' must be a scalar");
	if (in[1]->data && x->rank >= 0) {
		int axis;

		ACCEL_TRY(op_axis(ctx, tensor_get_i64(in[1], 0), x->rank, &axis));
	}
	op_set_output(out[0], x->dtype, x->rank, x->dims);
	return NULL;
}

accel_status loss_reduction(const ir_node *node, int *out_reduction)
{
	const char *r = ir_attr_string(node, "reduction", "mean");

	if (!strcmp(r, "none"))
		*out_reduction = 0;
	else if (!strcmp(r, "sum"))
		*out_reduction = 1;
	else if (!strcmp(r, "mean"))
		*out_reduction = 2;
	else
		return status_bad_model("attribute 'reduction' has unknown value '%s'",
					r);
	return NULL;
}

/* Shared by SoftmaxCrossEntropyLoss and NegativeLogLikelihoodLoss. */
INFER(loss_infer)
{
	const accel_tensor *x = in[0], *t = in[1];
	int red = 2;

	ACCEL_TRY(loss_reduction(ctx->node, &red));
	if (!dtype_is_float(x->dtype) && x->dtype != ACCEL_DTYPE_UNDEFINED)
		return status_invalid("input 0 must be a float tensor, not %s",
				      accel_dtype_name(x->dtype));
	if (t->dtype != ACCEL_DTYPE_I32 && t->dtype != ACCEL_DTYPE_I64 &&
	    t->dtype != ACCEL_DTYPE_UNDEFINED)
		return status_invalid("input 1 (target) must be int32 or int64, not %s",
				      accel_dtype_name(t->dtype));
	if (x->rank >= 0 && x->rank < 2)
		return status_invalid("input 0 must have rank >= 2, not %d", x->rank);
	if (x->rank >= 0 && t->rank >= 0) {
		if (t->rank != x->rank - 1)
			return status_invalid("target rank %d must be input rank %d minus 1",
					      t->rank, x->rank);
		for (int i = 0; i < t->rank; i++) {
			int64_t a = x->dims[i ? i + 1 : 0], b = t->dims[i];

			if (a >= 0 && b >= 0 && a != b)
				return status_invalid("target dim %d is %lld, input has %lld",
						      i, (long long)b, (long long)a);
		}
	}
	if (n_in > 2 && in[2] && in[2]->rank >= 0 && in[2]->rank != 1)
		return status_invalid("input 'weight' must be 1-D, not rank %d",
				      in[2]->rank);
	if (red == 0) {
		int64_t dims[ACCEL_MAX_RANK];
		int r = x->rank < 0 ? t->rank : x->rank - 1;

		for (int i = 0; i < r; i++)
			dims[i] = x->rank >= 0 ? x->dims[i ? i + 1 : 0] : t->dims[i];
		op_set_output(out[0], x->dtype, r, dims);
	} else {
		op_set_output(out[0], x->dtype, 0, NULL);
	}
	if (n_out > 1)
		op_set_output(out[1], x->dtype, x->rank, x->dims);
	return NULL;
}

const op_schema op_schemas_reduce[] = {
	{ "ReduceMean", "", 1, 2, 1, 1, reduce_infer },
	{ "ReduceSum", "", 1, 2, 1, 1, reduce_infer },
	{ "ReduceMax", "", 1, 2, 1, 1, reduce_infer },
	{ "ReduceMin", "", 1, 2, 1, 1, reduce_infer },
	{ "ReduceProd", "", 1, 2, 1, 1, reduce_infer },
	{ "ReduceL1", "", 1, 2, 1, 1, reduce_infer },
	{ "ReduceL2", "", 1, 2, 1, 1, reduce_infer },
	{ "ReduceLogSum", "", 1, 2, 1, 1, reduce_infer },
	{ "ReduceLogSumExp", "", 1, 2, 1, 1, reduce_infer },
	{ "ReduceSumSquare", "", 1, 2, 1, 1, reduce_infer },
	{ "ArgMax", "", 1, 1, 1, 1, arg_infer },
	{ "ArgMin", "", 1, 1, 1, 1, arg_infer },
	{ "TopK", "", 1, 2, 2, 2, topk_infer },
	{ "CumSum", "", 2, 2, 1, 1, cumsum_infer },
	{ "SoftmaxCrossEntropyLoss", "", 2, 3, 1, 2, loss_infer },
	{ "NegativeLogLikelihoodLoss", "", 2, 3, 1, 1, loss_infer },
	{ "Einsum", "", 1, -1, 1, 1, reduce_einsum_infer },
	{ "Det", "", 1, 1, 1, 1, reduce_det_infer },
	{ "HannWindow", "", 1, 1, 1, 1, reduce_window_infer },
	{ "HammingWindow", "", 1, 1, 1, 1, reduce_window_infer },
	{ "BlackmanWindow", "", 1, 1, 1, 1, reduce_window_infer },
	{ "Unique", "", 1, 1, 1, 4, reduce_unique_infer },
	{ "MatMulInteger", "", 2, 4, 1, 1, reduce_matmulint_infer },
	{ "QLinearMatMul", "", 8, 8, 1, 1, reduce_qlinearmatmul_infer },
	{ "QuantizeLinear", "", 2, 3, 1, 1, reduce_quant_infer },
	{ "DequantizeLinear", "", 2, 3, 1, 1, reduce_dequant_infer },
	{ "DynamicQuantizeLinear", "", 1, 1, 3, 3, reduce_dynquant_infer },
	{ 0 },
};
