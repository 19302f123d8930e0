/* SPDX-License-Identifier: MIT */
/*
 * exec_elementwise.c - the elementwise family on OpenCL: broadcasting
 * binary and comparison operators, Where, BitShift, the unary operators
 * (IsNaN and IsInf too), Cast, and the 8-bit quantized ops (QuantizeLinear,
 * DequantizeLinear, DynamicQuantizeLinear, MatMulInteger, ConvInteger,
 * QLinearConv).
 *
 * Broadcasting is resolved on the host the way the CPU backend does it:
 * operand shapes aligned to the output's, size-1 axes dropped, axes that
 * are contiguous for every operand merged; the kernel gets the remaining
 * dims and each operand's strides (0 on broadcast axes).
 */
#include "opencl/internal.h"
#include "ops/nn_window.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct bcast {
	cl_int rank;
	cl_int8 dims;
	cl_int8 st[3];
} bcast;

static accel_status bcast_make(accel_tensor *const *in, int n_in,
			       const accel_tensor *out, bcast *b)
{
	int64_t full[3][ACCEL_MAX_RANK];
	int R = out->rank, r = 0;

	memset(b, 0, sizeof(*b));
	for (int k = 0; k < n_in; k++) {
		int64_t st[ACCEL_MAX_RANK];

		if (in[k]->rank > R)
			return status_invalid("input %d has rank %d, more than the output's %d",
					      k, in[k]->rank, R);
		dims_strides(in[k]->rank, in[k]->dims, st);
		for (int i = 0; i < R; i++) {
			int ik = i - (R - in[k]->rank);
			int64_t d = ik >= 0 ? in[k]->dims[ik] : 1;

			if (d != 1 && d != out->dims[i])
				return status_invalid("input %d does not broadcast to the output shape",
						      k);
			full[k][i] = d == 1 ? 0 : st[ik];
		}
	}
	for (int i = 0; i < R; i++) {
		bool merge = r > 0;

		if (out->dims[i] == 1)
			continue;
		for (int k = 0; k < n_in && merge; k++)
			if (b->st[k].s[r - 1] != full[k][i] * out->dims[i])
				merge = false;
		if (merge) {
			b->dims.s[r - 1] *= (cl_int)out->dims[i];
			for (int k = 0; k < n_in; k++)
				b->st[k].s[r - 1] = (cl_int)full[k][i];
			continue;
		}
		b->dims.s[r] = (cl_int)out->dims[i];
		for (int k = 0; k < n_in; k++)
			b->st[k].s[r] = (cl_int)full[k][i];
		r++;
	}
	if (r == 0) {
		b->dims.s[0] = 1;
		r = 1;
	}
	b->rank = r;
	return NULL;
}

/* ---- binary ---- */

static const struct {
	const char *op, *kernel;
} binary_map[] = {
	{ "Add", "ew_add" }, { "Sum", "ew_add" }, { "Sub", "ew_sub" },
	{ "Mul", "ew_mul" }, { "Div", "ew_div" }, { "Pow", "ew_pow" },
	{ "Max", "ew_max" }, { "Min", "ew_min" }, { "PRelu", "ew_prelu" },
	{ "Equal", "ew_equal" }, { "Less", "ew_less" }, { "Greater", "ew_greater" },
	{ "LessOrEqual", "ew_less_equal" }, { "GreaterOrEqual", "ew_greater_equal" },
	{ "And", "ew_and" }, { "Or", "ew_or" }, { "Xor", "ew_xor" },
	{ "Mean", "ew_mean" },
};

static const char *binary_kernel(const char *op)
{
	for (size_t i = 0; i < sizeof(binary_map) / sizeof(binary_map[0]); i++)
		if (!strcmp(binary_map[i].op, op))
			return binary_map[i].kernel;
	return NULL;
}

static bool is_num(accel_dtype dt)
{
	return dt == ACCEL_DTYPE_F32 || dt == ACCEL_DTYPE_I32 || dt == ACCEL_DTYPE_I64;
}

static bool check_binary(const ir_node *n, accel_tensor *const *in, int n_in)
{
	const char *op = n->op_type;
	accel_dtype dt;

	if (n_in < 1 || n_in > 2 || !in[0])
		return false;
	dt = in[0]->dtype;
	if (n_in == 1)
		return !strcmp(op, "Max") || !strcmp(op, "Min") || !strcmp(op, "Sum") ||
		       !strcmp(op, "Mean");
	if (!in[1] || in[1]->dtype != dt)
		return false;
	if (!strcmp(op, "Mod"))
		return dt == ACCEL_DTYPE_F32 ? ir_attr_int(n, "fmod", 0) != 0 :
		       dt == ACCEL_DTYPE_I32 || dt == ACCEL_DTYPE_I64;
	if (!strcmp(op, "Pow") || !strcmp(op, "PRelu") || !strcmp(op, "Mean"))
		return dt == ACCEL_DTYPE_F32;
	if (!strcmp(op, "And") || !strcmp(op, "Or") || !strcmp(op, "Xor"))
		return dt == ACCEL_DTYPE_BOOL;
	if (!strcmp(op, "Equal"))
		return is_num(dt) || dt == ACCEL_DTYPE_BOOL;
	return is_num(dt);
}

static accel_status exec_binary(ocl_ctx *c)
{
	accel_tensor *y = c->out[0];
	cl_mem a, b, ym = ocl_out_mem(c, 0);
	cl_int n = (cl_int)tensor_numel(y);
	char name[64];
	bcast bc;

	ACCEL_TRY(ocl_in_mem(c, 0, &a));
	if (c->n_in == 1)
		return ocl_copy(c->dev, a, 0, ym, 0, y->nbytes);
	ACCEL_TRY(ocl_in_mem(c, 1, &b));
	ACCEL_TRY(bcast_make(c->in, 2, y, &bc));
	snprintf(name, sizeof(name), "%s_%s",
		 strcmp(c->node->op_type, "Mod") ? binary_kernel(c->node->op_type) :
		 ir_attr_int(c->node, "fmod", 0) ? "ew_fmod" : "ew_mod",
		 ocl_type_sfx(c->in[0]->dtype));
	return OCL_LAUNCH_1D(c->dev, ocl_src_elementwise, name, (size_t)n, OA(ym),
			     OA(a), OA(b), OA(n), OA(bc.rank), OA(bc.dims),
			     OA(bc.st[0]), OA(bc.st[1]));
}

/* ---- Where ---- */

static bool check_where(const ir_node *n, accel_tensor *const *in, int n_in)
{
	size_t es;

	if (n_in != 3 || !in[0] || !in[1] || !in[2] ||
	    in[0]->dtype != ACCEL_DTYPE_BOOL || in[1]->dtype != in[2]->dtype)
		return false;
	es = accel_dtype_size(in[1]->dtype);
	return es == 1 || es == 2 || es == 4 || es == 8;
}

static accel_status exec_where(ocl_ctx *c)
{
	accel_tensor *y = c->out[0];
	cl_mem cm, a, b, ym = ocl_out_mem(c, 0);
	cl_int n = (cl_int)tensor_numel(y);
	char name[32];
	bcast bc;

	ACCEL_TRY(ocl_in_mem(c, 0, &cm));
	ACCEL_TRY(ocl_in_mem(c, 1, &a));
	ACCEL_TRY(ocl_in_mem(c, 2, &b));
	ACCEL_TRY(bcast_make(c->in, 3, y, &bc));
	snprintf(name, sizeof(name), "ew_where_%zu", accel_dtype_size(y->dtype) * 8);
	return OCL_LAUNCH_1D(c->dev, ocl_src_elementwise, name, (size_t)n, OA(ym),
			     OA(cm), OA(a), OA(b), OA(n), OA(bc.rank), OA(bc.dims),
			     OA(bc.st[0]), OA(bc.st[1]), OA(bc.st[2]));
}

/* ---- unary ---- */

typedef struct un_params {
	cl_float alpha, beta, gamma;
} un_params;

static const struct {
	const char *op, *kernel;
	float alpha, beta, gamma; /* attribute defaults */
	bool ints;		  /* also int32/int64 */
} unary_map[] = {
	{ "Relu", "relu", 0, 0, 0, true }, { "LeakyRelu", "leakyrelu", 0.01f, 0, 0, false },
	{ "Sigmoid", "sigmoid", 0, 0, 0, false }, { "Tanh", "tanh", 0, 0, 0, false },
	{ "Erf", "erf", 0, 0, 0, false }, { "Gelu", "gelu", 0, 0, 0, false },
	{ "Exp", "exp", 0, 0, 0, false }, { "Log", "log", 0, 0, 0, false },
	{ "Sqrt", "sqrt", 0, 0, 0, false }, { "Abs", "abs", 0, 0, 0, true },
	{ "Neg", "neg", 0, 0, 0, true }, { "Reciprocal", "reciprocal", 0, 0, 0, false },
	{ "Clip", "clip", 0, 0, 0, false }, { "HardSigmoid", "hardsigmoid", 0.2f, 0.5f, 0, false },
	{ "HardSwish", "hardswish", 0, 0, 0, false }, { "Elu", "elu", 1.0f, 0, 0, false },
	{ "Selu", "selu", 1.67326319217681884765625f, 0, 1.05070102214813232421875f, false },
	{ "Celu", "celu", 1.0f, 0, 0, false }, { "Softsign", "softsign", 0, 0, 0, false },
	{ "Softplus", "softplus", 0, 0, 0, false },
	{ "ThresholdedRelu", "thresholdedrelu", 1.0f, 0, 0, false },
	{ "Floor", "floor", 0, 0, 0, false }, { "Ceil", "ceil", 0, 0, 0, false },
	{ "Round", "round", 0, 0, 0, false }, { "Sign", "sign", 0, 0, 0, false },
	{ "Sin", "sin", 0, 0, 0, false }, { "Cos", "cos", 0, 0, 0, false },
	{ "Tan", "tan", 0, 0, 0, false }, { "Asin", "asin", 0, 0, 0, false },
	{ "Acos", "acos", 0, 0, 0, false }, { "Atan", "atan", 0, 0, 0, false },
	{ "Sinh", "sinh", 0, 0, 0, false }, { "Cosh", "cosh", 0, 0, 0, false },
	{ "Asinh", "asinh", 0, 0, 0, false }, { "Acosh", "acosh", 0, 0, 0, false },
	{ "Atanh", "atanh", 0, 0, 0, false }, { "Shrink", "shrink", 0, 0, 0.5f, false },
	{ "Not", "not", 0, 0, 0, false },
};

static int unary_index(const char *op)
{
	for (size_t i = 0; i < sizeof(unary_map) / sizeof(unary_map[0]); i++)
		if (!strcmp(unary_map[i].op, op))
			return (int)i;
	return -1;
}

static bool check_unary(const ir_node *n, accel_tensor *const *in, int n_in)
{
	int u = unary_index(n->op_type);
	accel_dtype dt;

	if (u < 0 || n_in < 1 || !in[0])
		return false;
	dt = in[0]->dtype;
	if (!strcmp(n->op_type, "Not"))
		return dt == ACCEL_DTYPE_BOOL;
	if (!strcmp(n->op_type, "Gelu")) {
		const char *ap = ir_attr_string(n, "approximate", "none");

		if (strcmp(ap, "none") && strcmp(ap, "tanh"))
			return false;
	}
	if (!strcmp(n->op_type, "Clip"))
		for (int i = 1; i < n_in; i++)
			if (in[i] && (in[i]->dtype != dt || tensor_numel(in[i]) != 1))
				return false;
	return dt == ACCEL_DTYPE_F32 ||
	       (unary_map[u].ints && (dt == ACCEL_DTYPE_I32 || dt == ACCEL_DTYPE_I64));
}

static void clip_bounds(ocl_ctx *c, un_params *p)
{
	const ir_node *n = c->node;
	const ir_attr *lo = ir_node_attr(n, "min"), *hi = ir_node_attr(n, "max");

	p->alpha = -INFINITY;
	p->beta = INFINITY;
	if (n->opset < 11 && (lo || hi)) {
		if (lo)
			p->alpha = lo->f;
		if (hi)
			p->beta = hi->f;
		return;
	}
	if (c->n_in > 1 && c->in[1] && c->in[1]->data)
		p->alpha = (cl_float)tensor_get_f64(c->in[1], 0);
	if (c->n_in > 2 && c->in[2] && c->in[2]->data)
		p->beta = (cl_float)tensor_get_f64(c->in[2], 0);
}

static accel_status exec_unary(ocl_ctx *c)
{
	const ir_node *n = c->node;
	int u = unary_index(n->op_type);
	accel_tensor *y = c->out[0];
	cl_mem a, ym = ocl_out_mem(c, 0);
	cl_int cnt = (cl_int)tensor_numel(y);
	const char *kname = unary_map[u].kernel;
	un_params p = {
		ir_attr_float(n, "alpha", unary_map[u].alpha),
		ir_attr_float(n, "beta", unary_map[u].beta),
		ir_attr_float(n, "gamma", unary_map[u].gamma),
	};
	char name[64];

	if (!strcmp(n->op_type, "Clip"))
		clip_bounds(c, &p);
	if (!strcmp(n->op_type, "Shrink")) {
		p.beta = ir_attr_float(n, "bias", 0.0f);
		p.gamma = ir_attr_float(n, "lambd", 0.5f);
	}
	if (!strcmp(n->op_type, "Gelu") &&
	    !strcmp(ir_attr_string(n, "approximate", "none"), "tanh"))
		kname = "gelu_tanh";
	ACCEL_TRY(ocl_in_mem(c, 0, &a));
	snprintf(name, sizeof(name), "un_%s_%s", kname, ocl_type_sfx(y->dtype));
	return OCL_LAUNCH_1D(c->dev, ocl_src_elementwise, name, (size_t)cnt, OA(ym),
			     OA(a), OA(cnt), OA(p.alpha), OA(p.beta), OA(p.gamma));
}

/* ---- Cast ---- */

static bool cast_type_ok(accel_dtype dt, bool to)
{
	switch (dt) {
	case ACCEL_DTYPE_F32: case ACCEL_DTYPE_I32: case ACCEL_DTYPE_I64:
	case ACCEL_DTYPE_U8: case ACCEL_DTYPE_I8: case ACCEL_DTYPE_BOOL:
		return true;
	default:
		return false;
	}
	(void)to;
}

static accel_dtype cast_target(const ir_node *n, accel_tensor *const *in, int n_in)
{
	if (!strcmp(n->op_type, "CastLike"))
		return n_in > 1 && in[1] ? in[1]->dtype : ACCEL_DTYPE_UNDEFINED;
	return (accel_dtype)ir_attr_int(n, "to", 0);
}

static bool check_cast(const ir_node *n, accel_tensor *const *in, int n_in)
{
	accel_dtype from, to = cast_target(n, in, n_in);

	if (n_in < 1 || !in[0])
		return false;
	from = in[0]->dtype;
	if (from == to)
		return accel_dtype_size(from) > 0;
	if (from == ACCEL_DTYPE_F16 || to == ACCEL_DTYPE_F16)
		return (from == ACCEL_DTYPE_F32 || to == ACCEL_DTYPE_F32);
	return cast_type_ok(from, false) && cast_type_ok(to, true);
}

static accel_status exec_cast(ocl_ctx *c)
{
	accel_tensor *x = c->in[0], *y = c->out[0];
	cl_mem a, ym = ocl_out_mem(c, 0);
	cl_int n = (cl_int)tensor_numel(y);
	char name[48];

	ACCEL_TRY(ocl_in_mem(c, 0, &a));
	if (x->dtype == y->dtype)
		return ocl_copy(c->dev, a, 0, ym, 0, y->nbytes);
	snprintf(name, sizeof(name), "cast_%s_%s", ocl_type_sfx(x->dtype),
		 y->dtype == ACCEL_DTYPE_BOOL ? "bool" : ocl_type_sfx(y->dtype));
	return OCL_LAUNCH_1D(c->dev, ocl_src_elementwise, name, (size_t)n, OA(ym),
			     OA(a), OA(n));
}

/* ---- BitShift, IsNaN, IsInf ---- */

static bool check_bitshift(const ir_node *n, accel_tensor *const *in, int n_in)
{
	const char *dir = ir_attr_string(n, "direction", "");
	accel_dtype dt;

	if (n_in != 2 || !in[0] || !in[1] || in[0]->dtype != in[1]->dtype ||
	    (strcmp(dir, "LEFT") && strcmp(dir, "RIGHT")))
		return false;
	dt = in[0]->dtype;
	return dt == ACCEL_DTYPE_U8 || dt == ACCEL_DTYPE_U16 || dt == ACCEL_DTYPE_U32 ||
	       dt == ACCEL_DTYPE_U64;
}

static accel_status exec_bitshift(ocl_ctx *c)
{
	accel_tensor *y = c->out[0];
	cl_mem a, b, ym = ocl_out_mem(c, 0);
	cl_int n = (cl_int)tensor_numel(y);
	bool left = !strcmp(ir_attr_string(c->node, "direction", ""), "LEFT");
	char name[24];
	bcast bc;

	if (!n)
		return NULL;
	ACCEL_TRY(ocl_in_mem(c, 0, &a));
	ACCEL_TRY(ocl_in_mem(c, 1, &b));
	ACCEL_TRY(bcast_make(c->in, 2, y, &bc));
	snprintf(name, sizeof(name), "ew_sh%c_%zu", left ? 'l' : 'r',
		 accel_dtype_size(y->dtype) * 8);
	return OCL_LAUNCH_1D(c->dev, ocl_src_elementwise, name, (size_t)n, OA(ym),
			     OA(a), OA(b), OA(n), OA(bc.rank), OA(bc.dims),
			     OA(bc.st[0]), OA(bc.st[1]));
}

static accel_status exec_isnan_inf(ocl_ctx *c)
{
	cl_int n = (cl_int)tensor_numel(c->out[0]);
	cl_int pos = (cl_int)ir_attr_int(c->node, "detect_positive", 1);
	cl_int neg = (cl_int)ir_attr_int(c->node, "detect_negative", 1);
	cl_mem a, ym = ocl_out_mem(c, 0);

	if (!n)
		return NULL;
	ACCEL_TRY(ocl_in_mem(c, 0, &a));
	if (!strcmp(c->node->op_type, "IsNaN"))
		return OCL_LAUNCH_1D(c->dev, ocl_src_elementwise, "un_isnan_f32",
				     (size_t)n, OA(ym), OA(a), OA(n));
	return OCL_LAUNCH_1D(c->dev, ocl_src_elementwise, "un_isinf_f32", (size_t)n,
			     OA(ym), OA(a), OA(n), OA(pos), OA(neg));
}

/* ---- QuantizeLinear, DequantizeLinear (float32 <-> 8-bit) ---- */

static bool is_q8(accel_dtype dt)
{
	return dt == ACCEL_DTYPE_U8 || dt == ACCEL_DTYPE_I8;
}

static bool check_quant(const ir_node *n, accel_tensor *const *in, int n_in)
{
	bool quant = !strcmp(n->op_type, "QuantizeLinear");
	const accel_tensor *zp = n_in > 2 ? in[2] : NULL;
	accel_dtype q;

	if (n_in < 2 || !in[0] || !ocl_is(in[1], ACCEL_DTYPE_F32) ||
	    ir_attr_int(n, "block_size", 0) > 0 || in[1]->rank > 1)
		return false;
	if (quant) {
		q = zp ? zp->dtype : (accel_dtype)ir_attr_int(n, "output_dtype", ACCEL_DTYPE_U8);
		if (ir_node_attr(n, "output_dtype") && zp &&
		    ir_attr_int(n, "output_dtype", 0) != (int64_t)zp->dtype)
			return false;
		return in[0]->dtype == ACCEL_DTYPE_F32 && is_q8(q);
	}
	if (ir_attr_int(n, "output_dtype", ACCEL_DTYPE_F32) != ACCEL_DTYPE_F32)
		return false;
	return is_q8(in[0]->dtype) && (!zp || zp->dtype == in[0]->dtype);
}

static accel_status exec_quant(ocl_ctx *c)
{
	bool quant = !strcmp(c->node->op_type, "QuantizeLinear");
	const accel_tensor *x = c->in[0], *scale = c->in[1];
	accel_dtype q = quant ? c->out[0]->dtype : x->dtype;
	cl_int n = (cl_int)tensor_numel(x), len = 1, inner = 1;
	cl_int has_zp = c->n_in > 2 && c->in[2];
	cl_mem xm, sm, zm, ym = ocl_out_mem(c, 0);
	char name[24];

	if (!is_q8(q))
		return status_unsupported("%s with %s", c->node->op_type, accel_dtype_name(q));
	if (tensor_numel(scale) != 1) {
		int64_t ax = ir_attr_int(c->node, "axis", 1);

		if (ax < 0)
			ax += x->rank;
		if (ax < 0 || ax >= x->rank || tensor_numel(scale) != x->dims[ax])
			return status_invalid("%s: 'scale' has %lld values for axis %lld",
					      c->node->op_type, (long long)tensor_numel(scale),
					      (long long)ax);
		len = (cl_int)x->dims[ax];
		for (int d = (int)ax + 1; d < x->rank; d++)
			inner *= (cl_int)x->dims[d];
	}
	if (has_zp && tensor_numel(c->in[2]) != tensor_numel(scale))
		return status_invalid("%s: 'zero_point' and 'scale' differ in size",
				      c->node->op_type);
	if (!n)
		return NULL;
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	ACCEL_TRY(ocl_in_mem(c, 1, &sm));
	zm = sm;
	if (has_zp)
		ACCEL_TRY(ocl_in_mem(c, 2, &zm));
	if (quant)
		snprintf(name, sizeof(name), "quant_f32_%s", ocl_type_sfx(q));
	else
		snprintf(name, sizeof(name), "dequant_%s_f32", ocl_type_sfx(q));
	return OCL_LAUNCH_1D(c->dev, ocl_src_elementwise, name, (size_t)n, OA(ym),
			     OA(xm), OA(sm), OA(zm), OA(has_zp), OA(n), OA(len),
			     OA(inner));
}

/* ---- DynamicQuantizeLinear ---- */

static bool check_dynq(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in == 1 && ocl_is(in[0], ACCEL_DTYPE_F32);
}

static accel_status exec_dynq(ocl_ctx *c)
{
	cl_int n = (cl_int)tensor_numel(c->in[0]), chunk = 4096, parts;
	cl_mem xm, pm, ym = ocl_out_mem(c, 0), sm, zm;

	parts = n ? (n + chunk - 1) / chunk : 1;
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	ACCEL_TRY(ocl_scratch(c, sizeof(cl_float) * 2 * (size_t)parts, &pm));
	sm = c->n_out > 1 && c->out[1] ? ocl_out_mem(c, 1) : NULL;
	zm = c->n_out > 2 && c->out[2] ? ocl_out_mem(c, 2) : NULL;
	if (!sm)
		ACCEL_TRY(ocl_scratch(c, sizeof(cl_float), &sm));
	if (!zm)
		ACCEL_TRY(ocl_scratch(c, sizeof(cl_uchar), &zm));
	ACCEL_TRY(OCL_LAUNCH_1D(c->dev, ocl_src_elementwise, "dynq_minmax_f32",
				(size_t)parts, OA(pm), OA(xm), OA(n), OA(chunk),
				OA(parts)));
	ACCEL_TRY(OCL_LAUNCH_1D(c->dev, ocl_src_elementwise, "dynq_params_f32", 1,
				OA(sm), OA(zm), OA(pm), OA(parts)));
	if (!n)
		return NULL;
	return OCL_LAUNCH_1D(c->dev, ocl_src_elementwise, "dynq_apply_f32", (size_t)n,
			     OA(ym), OA(xm), OA(sm), OA(zm), OA(n));
}

/* ---- MatMulInteger ---- */

static bool check_mmi(const ir_node *n, accel_tensor *const *in, int n_in)
{
	if (n_in < 2 || !in[0] || !in[1] || !is_q8(in[0]->dtype) || !is_q8(in[1]->dtype))
		return false;
	if ((in[0]->rank >= 0 && in[0]->rank < 2) || (in[1]->rank >= 0 && in[1]->rank < 2))
		return false;
	for (int i = 2; i < n_in && i < 4; i++)
		if (in[i] && in[i]->dtype != in[i - 2]->dtype)
			return false;
	return n_in <= 4;
}

/* Zero point |i|: none (0), one value (1), or |per| values. */
static accel_status mmi_zero(ocl_ctx *c, int i, int64_t per, cl_int *nz, cl_mem *m)
{
	int64_t k;

	*nz = 0;
	if (c->n_in <= i || !c->in[i])
		return NULL;
	k = tensor_numel(c->in[i]);
	if (k > 1 && k != per)
		return status_invalid("MatMulInteger: zero point %d has %lld values, expected 1 or %lld",
				      i, (long long)k, (long long)per);
	*nz = k > 1 ? (cl_int)per : (cl_int)k;
	return ocl_in_mem(c, i, m);
}

static accel_status exec_mmi(ocl_ctx *c)
{
	const accel_tensor *a = c->in[0], *b = c->in[1], *y = c->out[0];
	cl_int M = (cl_int)a->dims[a->rank - 2], K = (cl_int)a->dims[a->rank - 1];
	cl_int N = (cl_int)b->dims[b->rank - 1], total = (cl_int)tensor_numel(y);
	cl_int brank = y->rank - 2, nza, nzb;
	cl_int8 bd = { { 0 } }, as = { { 0 } }, bs = { { 0 } };
	cl_mem am, bm, zam, zbm, ym = ocl_out_mem(c, 0);
	char name[24];

	if (b->dims[b->rank - 2] != K || brank > 8)
		return status_invalid("MatMulInteger: %d columns against %lld rows", K,
				      (long long)b->dims[b->rank - 2]);
	for (int k = 0; k < 2; k++) {
		const accel_tensor *t = k ? b : a;
		cl_int *str = k ? bs.s : as.s;
		int tb = t->rank - 2;
		int64_t s = 1;

		for (int d = brank - 1; d >= 0; d--) {
			int td = d - (brank - tb);
			int64_t dim = td >= 0 ? t->dims[td] : 1;

			str[d] = dim == 1 ? 0 : (cl_int)s;
			s *= dim;
		}
	}
	for (int d = 0; d < brank; d++)
		bd.s[d] = (cl_int)y->dims[d];
	if (!total)
		return NULL;
	ACCEL_TRY(ocl_in_mem(c, 0, &am));
	ACCEL_TRY(ocl_in_mem(c, 1, &bm));
	zam = am;
	zbm = bm;
	ACCEL_TRY(mmi_zero(c, 2, M, &nza, &zam));
	ACCEL_TRY(mmi_zero(c, 3, N, &nzb, &zbm));
	snprintf(name, sizeof(name), "mmi_%s_%s", ocl_type_sfx(a->dtype),
		 ocl_type_sfx(b->dtype));
	return OCL_LAUNCH_1D(c->dev, ocl_src_elementwise, name, (size_t)total, OA(ym),
			     OA(am), OA(bm), OA(zam), OA(zbm), OA(nza), OA(nzb),
			     OA(total), OA(M), OA(K), OA(N), OA(brank), OA(bd), OA(as),
			     OA(bs));
}

/* ---- ConvInteger (direct) ---- */

static bool check_convi(const ir_node *n, accel_tensor *const *in, int n_in)
{
	if (n_in < 2 || n_in > 4 || !in[0] || !in[1] || !is_q8(in[0]->dtype) ||
	    !is_q8(in[1]->dtype) || (in[0]->rank >= 0 && (in[0]->rank < 3 || in[0]->rank > 5)))
		return false;
	for (int i = 2; i < n_in; i++)
		if (in[i] && in[i]->dtype != in[i - 2]->dtype)
			return false;
	return true;
}

static accel_status exec_convi(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0], *w = c->in[1], *y = c->out[0];
	int64_t group = ir_attr_int(c->node, "group", 1);
	int nsp = x->rank - 2, o = 3 - nsp;
	cl_int total = (cl_int)tensor_numel(y), C = (cl_int)x->dims[1];
	cl_int M = (cl_int)w->dims[0], G = (cl_int)group, nzx, nzw;
	cl_int4 vin = { { 1, 1, 1, 1 } }, vout = vin, vk = vin, vs = vin, vd = vin;
	cl_int4 vp = { { 0 } };
	cl_mem xm, wm, zxm, zwm, ym = ocl_out_mem(c, 0);
	nn_window win;
	char name[24];

	if (nsp < 1 || nsp > 3 || w->rank != x->rank || group < 1 || C % G || M % G ||
	    w->dims[1] * G != C)
		return status_invalid("ConvInteger: W of %lld x %lld for %d channels in %lld groups",
				      (long long)w->dims[0], (long long)w->dims[1], C,
				      (long long)group);
	ACCEL_TRY(nn_window_forward(c->node, nsp, x->dims + 2, w->dims + 2, false, &win));
	for (int i = 0; i < nsp; i++) {
		vin.s[o + i] = (cl_int)x->dims[2 + i];
		vout.s[o + i] = (cl_int)y->dims[2 + i];
		vk.s[o + i] = (cl_int)win.k[i];
		vs.s[o + i] = (cl_int)win.s[i];
		vd.s[o + i] = (cl_int)win.d[i];
		vp.s[o + i] = (cl_int)win.pb[i];
	}
	if (!total)
		return NULL;
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	ACCEL_TRY(ocl_in_mem(c, 1, &wm));
	zxm = xm;
	zwm = wm;
	ACCEL_TRY(mmi_zero(c, 2, 1, &nzx, &zxm));
	ACCEL_TRY(mmi_zero(c, 3, M, &nzw, &zwm));
	snprintf(name, sizeof(name), "convi_%s_%s", ocl_type_sfx(x->dtype),
		 ocl_type_sfx(w->dtype));
	return OCL_LAUNCH_1D(c->dev, ocl_src_elementwise, name, (size_t)total, OA(ym),
			     OA(xm), OA(wm), OA(zxm), OA(zwm), OA(nzx), OA(nzw),
			     OA(total), OA(C), OA(M), OA(G), OA(vin), OA(vout), OA(vk),
			     OA(vs), OA(vd), OA(vp));
}

/* ---- QLinearConv (direct, requantized in double) ---- */

static bool check_qlconv(const ir_node *n, accel_tensor *const *in, int n_in)
{
	if (n_in < 8 || n_in > 9 || !in[0] || !in[3] || !in[1] || !in[4] || !in[6] ||
	    !in[7] || !is_q8(in[0]->dtype) || !is_q8(in[3]->dtype) ||
	    !is_q8(in[7]->dtype) || (in[0]->rank >= 0 && (in[0]->rank < 3 || in[0]->rank > 5)))
		return false;
	if (!ocl_is(in[1], ACCEL_DTYPE_F32) || !ocl_is(in[4], ACCEL_DTYPE_F32) ||
	    !ocl_is(in[6], ACCEL_DTYPE_F32))
		return false;
	if ((in[2] && in[2]->dtype != in[0]->dtype) || (in[5] && in[5]->dtype != in[3]->dtype))
		return false;
	return n_in < 9 || !in[8] || in[8]->dtype == ACCEL_DTYPE_I32;
}

static accel_status exec_qlconv(ocl_ctx *c)
{
	const accel_tensor *x = c->in[0], *w = c->in[3], *y = c->out[0];
	int64_t group = ir_attr_int(c->node, "group", 1);
	int nsp = x->rank - 2, o = 3 - nsp;
	cl_int total = (cl_int)tensor_numel(y), C = (cl_int)x->dims[1];
	cl_int M = (cl_int)w->dims[0], G = (cl_int)group, nzw, nws;
	cl_int has_b = c->n_in > 8 && c->in[8];
	cl_int xz = c->in[2] && tensor_numel(c->in[2]) ? (cl_int)tensor_get_i64(c->in[2], 0) : 0;
	cl_int yz = tensor_numel(c->in[7]) ? (cl_int)tensor_get_i64(c->in[7], 0) : 0;
	cl_double xs = tensor_get_f64(c->in[1], 0), ys = tensor_get_f64(c->in[6], 0);
	cl_int4 vin = { { 1, 1, 1, 1 } }, vout = vin, vk = vin, vs = vin, vd = vin;
	cl_int4 vp = { { 0 } };
	cl_mem xm, wm, zwm, wsm, bm, ym = ocl_out_mem(c, 0);
	nn_window win;
	char name[32];

	if (nsp < 1 || nsp > 3 || w->rank != x->rank || group < 1 || C % G || M % G ||
	    w->dims[1] * G != C)
		return status_invalid("QLinearConv: W of %lld x %lld for %d channels in %lld groups",
				      (long long)w->dims[0], (long long)w->dims[1], C,
				      (long long)group);
	if (ys == 0)
		return status_invalid("QLinearConv: input 'y_scale' is zero");
	nws = (cl_int)tensor_numel(c->in[4]);
	if (nws != 1 && nws != M)
		return status_invalid("QLinearConv: 'w_scale' has %d values for %d channels",
				      nws, M);
	if (has_b && tensor_numel(c->in[8]) != M)
		return status_invalid("QLinearConv: B has %lld values for %d channels",
				      (long long)tensor_numel(c->in[8]), M);
	ACCEL_TRY(nn_window_forward(c->node, nsp, x->dims + 2, w->dims + 2, false, &win));
	for (int i = 0; i < nsp; i++) {
		vin.s[o + i] = (cl_int)x->dims[2 + i];
		vout.s[o + i] = (cl_int)y->dims[2 + i];
		vk.s[o + i] = (cl_int)win.k[i];
		vs.s[o + i] = (cl_int)win.s[i];
		vd.s[o + i] = (cl_int)win.d[i];
		vp.s[o + i] = (cl_int)win.pb[i];
	}
	if (!total)
		return NULL;
	ACCEL_TRY(ocl_in_mem(c, 0, &xm));
	ACCEL_TRY(ocl_in_mem(c, 3, &wm));
	ACCEL_TRY(ocl_in_mem(c, 4, &wsm));
	zwm = wm;
	bm = wsm;
	ACCEL_TRY(mmi_zero(c, 5, M, &nzw, &zwm));
	if (has_b)
		ACCEL_TRY(ocl_in_mem(c, 8, &bm));
	snprintf(name, sizeof(name), "qlconv_%s_%s_%s", ocl_type_sfx(x->dtype),
		 ocl_type_sfx(w->dtype), ocl_type_sfx(y->dtype));
	return OCL_LAUNCH_1D(c->dev, ocl_src_quant64, name, (size_t)total, OA(ym),
			     OA(xm), OA(wm), OA(zwm), OA(wsm), OA(bm), OA(nzw), OA(nws),
			     OA(has_b), OA(xz), OA(xs), OA(ys), OA(yz), OA(total), OA(C),
			     OA(M), OA(G), OA(vin), OA(vout), OA(vk), OA(vs), OA(vd),
			     OA(vp));
}

#define BIN(op) { op, "", ocl_src_elementwise, exec_binary, check_binary, 0 }
#define UN(op) { op, "", ocl_src_elementwise, exec_unary, check_unary, 0 }

const ocl_op ocl_ops_elementwise[] = {
	BIN("Add"), BIN("Sub"), BIN("Mul"), BIN("Div"), BIN("Pow"), BIN("Max"),
	BIN("Min"), BIN("Sum"), BIN("PRelu"), BIN("Equal"), BIN("Less"),
	BIN("Greater"), BIN("LessOrEqual"), BIN("GreaterOrEqual"), BIN("And"),
	BIN("Or"), BIN("Xor"), BIN("Mod"), BIN("Mean"),
	{ "Where", "", ocl_src_elementwise, exec_where, check_where, 0 },
	UN("Relu"), UN("LeakyRelu"), UN("Sigmoid"), UN("Tanh"), UN("Erf"),
	UN("Gelu"), UN("Exp"), UN("Log"), UN("Sqrt"), UN("Abs"), UN("Neg"),
	UN("Reciprocal"), UN("HardSigmoid"), UN("HardSwish"), UN("Elu"),
	UN("Selu"), UN("Celu"), UN("Softsign"), UN("Softplus"),
	UN("ThresholdedRelu"), UN("Floor"), UN("Ceil"), UN("Round"), UN("Sign"),
	UN("Sin"), UN("Cos"), UN("Tan"), UN("Asin"), UN("Acos"), UN("Atan"),
	UN("Sinh"), UN("Cosh"), UN("Asinh"), UN("Acosh"), UN("Atanh"),
	UN("Shrink"), UN("Not"),
	/* Clip's min/max (inputs 1, 2) are read on the host. */
	{ "Clip", "", ocl_src_elementwise, exec_unary, check_unary, 0x6 },
	{ "Cast", "", ocl_src_elementwise, exec_cast, check_cast, 0 },
	{ "CastLike", "", ocl_src_elementwise, exec_cast, check_cast, 0 },
	{ "BitShift", "", ocl_src_elementwise, exec_bitshift, check_bitshift, 0 },
	{ "IsNaN", "", ocl_src_elementwise, exec_isnan_inf, ocl_check_f32, 0 },
	{ "IsInf", "", ocl_src_elementwise, exec_isnan_inf, ocl_check_f32, 0 },
	{ "QuantizeLinear", "", ocl_src_elementwise, exec_quant, check_quant, 0 },
	{ "DequantizeLinear", "", ocl_src_elementwise, exec_quant, check_quant, 0 },
	{ "DynamicQuantizeLinear", "", ocl_src_elementwise, exec_dynq, check_dynq, 0 },
	{ "MatMulInteger", "", ocl_src_elementwise, exec_mmi, check_mmi, 0 },
	{ "ConvInteger", "", ocl_src_elementwise, exec_convi, check_convi, 0 },
	/* x_scale, x_zero_point, y_scale, y_zero_point are read on the host. */
	{ "QLinearConv", "", ocl_src_quant64, exec_qlconv, check_qlconv, 0xc6, true },
	{ 0 },
};
