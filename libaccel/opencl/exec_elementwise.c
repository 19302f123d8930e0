/* SPDX-License-Identifier: MIT */
/*
 * exec_elementwise.c - the elementwise family on OpenCL: broadcasting
 * binary and comparison operators, Where, the unary operators, Cast.
 *
 * Broadcasting is resolved on the host the way the CPU backend does it:
 * operand shapes aligned to the output's, size-1 axes dropped, axes that
 * are contiguous for every operand merged; the kernel gets the remaining
 * dims and each operand's strides (0 on broadcast axes).
 */
#include "opencl/internal.h"

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
	{ 0 },
};
