/* SPDX-License-Identifier: MIT */
/*
 * elementwise.c - schemas of the elementwise operator family: unary math and
 * activations, broadcasting binary/variadic operators, comparisons, Where,
 * Clip and the casts. Outputs take the broadcast shape of the inputs and the
 * first input's dtype, except where noted (bool for predicates, the target
 * type for casts).
 */
#include "ops/op.h"

#include <string.h>

#define ATTR_TO_MAX 64

/* Output 0 has the shape of input 0 and the given dtype (input 0's if 0). */
static accel_status infer_like_input(accel_tensor *const *in,
				     accel_tensor *const *out, accel_dtype dt)
{
	op_set_output(out[0], dt ? dt : in[0]->dtype, in[0]->rank, in[0]->dims);
	return NULL;
}

static accel_status infer_unary(const op_ctx *ctx, accel_tensor *const *in,
				int n_in, accel_tensor *const *out, int n_out)
{
	return infer_like_input(in, out, 0);
}

static accel_status infer_unary_bool(const op_ctx *ctx, accel_tensor *const *in,
				     int n_in, accel_tensor *const *out,
				     int n_out)
{
	return infer_like_input(in, out, ACCEL_DTYPE_BOOL);
}

/* Broadcast every present input; rank -1 as soon as one rank is unknown. */
static accel_status broadcast_all(accel_tensor *const *in, int n_in,
				  int *rank, int64_t *dims)
{
	accel_tensor acc = { .rank = 0 }, next;

	for (int i = 0; i < n_in; i++) {
		if (!in[i])
			continue;
		/* op_broadcast must not write the dims it is reading. */
		ACCEL_TRY(op_broadcast(&acc, in[i], &next.rank, next.dims));
		acc.rank = next.rank;
		memcpy(acc.dims, next.dims, sizeof(acc.dims));
		if (acc.rank < 0)
			break;
	}
	*rank = acc.rank;
	memcpy(dims, acc.dims, sizeof(acc.dims));
	return NULL;
}

/* Inputs [first, n_in) must share one dtype where the dtypes are known. */
static accel_status check_same_dtype(accel_tensor *const *in, int first,
				     int n_in)
{
	for (int i = first + 1; i < n_in; i++)
		if (in[i] && in[i]->dtype && in[first]->dtype &&
		    in[i]->dtype != in[first]->dtype)
			return status_invalid("input %d has type %s but input %d has %s",
					      i, accel_dtype_name(in[i]->dtype),
					      first,
					      accel_dtype_name(in[first]->dtype));
	return NULL;
}

static accel_status infer_bcast(accel_tensor *const *in, int n_in,
				accel_tensor *out, accel_dtype dt, bool same)
{
	int64_t dims[ACCEL_MAX_RANK];
	int rank;

	if (same)
		ACCEL_TRY(check_same_dtype(in, 0, n_in));
	ACCEL_TRY(broadcast_all(in, n_in, &rank, dims));
	op_set_output(out, dt ? dt : in[0]->dtype, rank, dims);
	return NULL;
}

/* Before opset 7, broadcast=1 with 'axis' aligned B at that axis of A. */
static accel_status check_legacy_axis(const op_ctx *ctx)
{
	if (ctx->node->opset < 7 && ir_node_attr(ctx->node, "axis"))
		return status_unsupported("legacy broadcasting with attribute 'axis' (opset %d) is not supported",
					  ctx->node->opset);
	return NULL;
}

static accel_status infer_binary(const op_ctx *ctx, accel_tensor *const *in,
				 int n_in, accel_tensor *const *out, int n_out)
{
	ACCEL_TRY(check_legacy_axis(ctx));
	return infer_bcast(in, n_in, out[0], 0, true);
}

/* Pow's exponent may have another type than its base. */
static accel_status infer_pow(const op_ctx *ctx, accel_tensor *const *in,
			      int n_in, accel_tensor *const *out, int n_out)
{
	ACCEL_TRY(check_legacy_axis(ctx));
	return infer_bcast(in, n_in, out[0], 0, false);
}

static accel_status infer_compare(const op_ctx *ctx, accel_tensor *const *in,
				  int n_in, accel_tensor *const *out, int n_out)
{
	ACCEL_TRY(check_legacy_axis(ctx));
	return infer_bcast(in, n_in, out[0], ACCEL_DTYPE_BOOL, true);
}

static accel_status infer_where(const op_ctx *ctx, accel_tensor *const *in,
				int n_in, accel_tensor *const *out, int n_out)
{
	ACCEL_TRY(check_same_dtype(in, 1, n_in));
	return infer_bcast(in, n_in, out[0], in[1]->dtype, false);
}

static accel_status infer_clip(const op_ctx *ctx, accel_tensor *const *in,
			       int n_in, accel_tensor *const *out, int n_out)
{
	for (int i = 1; i < n_in; i++)
		if (in[i] && tensor_shape_known(in[i]) && tensor_numel(in[i]) != 1)
			return status_invalid("input '%s' must be a scalar",
					      i == 1 ? "min" : "max");
	return infer_like_input(in, out, 0);
}

static bool cast_target_ok(int64_t to)
{
	switch (to) {
	case ACCEL_DTYPE_F32: case ACCEL_DTYPE_F64: case ACCEL_DTYPE_F16:
	case ACCEL_DTYPE_BF16: case ACCEL_DTYPE_BOOL:
	case ACCEL_DTYPE_I8: case ACCEL_DTYPE_I16: case ACCEL_DTYPE_I32:
	case ACCEL_DTYPE_I64: case ACCEL_DTYPE_U8: case ACCEL_DTYPE_U16:
	case ACCEL_DTYPE_U32: case ACCEL_DTYPE_U64:
		return true;
	default:
		return false;
	}
}

static accel_status check_cast(int64_t from, int64_t to)
{
	if (to == ACCEL_DTYPE_UNDEFINED || to < 0 || to > ATTR_TO_MAX)
		return status_bad_model("attribute 'to' has the invalid type %lld",
					(long long)to);
	if (!cast_target_ok(to))
		return status_unsupported("cast to type %lld (%s) is not supported",
					  (long long)to,
					  accel_dtype_name((accel_dtype)to));
	if (from != ACCEL_DTYPE_UNDEFINED && !cast_target_ok(from))
		return status_unsupported("cast from type %lld (%s) is not supported",
					  (long long)from,
					  accel_dtype_name((accel_dtype)from));
	return NULL;
}

static accel_status infer_cast(const op_ctx *ctx, accel_tensor *const *in,
			       int n_in, accel_tensor *const *out, int n_out)
{
	const ir_attr *to = ir_node_attr(ctx->node, "to");

	if (!to)
		return status_bad_model("attribute 'to' is missing");
	ACCEL_TRY(check_cast(in[0]->dtype, to->i));
	return infer_like_input(in, out, (accel_dtype)to->i);
}

static accel_status infer_castlike(const op_ctx *ctx, accel_tensor *const *in,
				   int n_in, accel_tensor *const *out,
				   int n_out)
{
	accel_dtype to = in[1]->dtype;

	if (to != ACCEL_DTYPE_UNDEFINED)
		ACCEL_TRY(check_cast(in[0]->dtype, to));
	return infer_like_input(in, out, to);
}

static accel_status infer_bitshift(const op_ctx *ctx, accel_tensor *const *in,
				   int n_in, accel_tensor *const *out,
				   int n_out)
{
	const char *dir = ir_attr_string(ctx->node, "direction", "");

	if (strcmp(dir, "LEFT") && strcmp(dir, "RIGHT"))
		return status_bad_model("attribute 'direction' is '%s', not LEFT or RIGHT",
					dir);
	return infer_bcast(in, n_in, out[0], 0, true);
}

static accel_status infer_gelu(const op_ctx *ctx, accel_tensor *const *in,
			       int n_in, accel_tensor *const *out, int n_out)
{
	const char *a = ir_attr_string(ctx->node, "approximate", "none");

	if (strcmp(a, "none") && strcmp(a, "tanh"))
		return status_bad_model("attribute 'approximate' is '%s', not none or tanh",
					a);
	return infer_like_input(in, out, 0);
}

static accel_status infer_mod(const op_ctx *ctx, accel_tensor *const *in,
			      int n_in, accel_tensor *const *out, int n_out)
{
	int64_t fmod = ir_attr_int(ctx->node, "fmod", 0);

	if (fmod != 0 && fmod != 1)
		return status_bad_model("attribute 'fmod' is %lld, not 0 or 1",
					(long long)fmod);
	return infer_bcast(in, n_in, out[0], 0, true);
}

#define UNARY(name) { name, "", 1, 1, 1, 1, infer_unary }
#define BINARY(name) { name, "", 2, 2, 1, 1, infer_binary }
#define COMPARE(name) { name, "", 2, 2, 1, 1, infer_compare }
#define VARIADIC(name) { name, "", 1, -1, 1, 1, infer_binary }

const op_schema op_schemas_elementwise[] = {
	BINARY("Add"), BINARY("Sub"), BINARY("Mul"), BINARY("Div"),
	{ "Pow", "", 2, 2, 1, 1, infer_pow },
	{ "Mod", "", 2, 2, 1, 1, infer_mod },
	{ "BitShift", "", 2, 2, 1, 1, infer_bitshift },
	COMPARE("And"), COMPARE("Or"), COMPARE("Xor"),
	COMPARE("Equal"), COMPARE("Less"), COMPARE("Greater"),
	COMPARE("LessOrEqual"), COMPARE("GreaterOrEqual"),
	VARIADIC("Max"), VARIADIC("Min"), VARIADIC("Sum"), VARIADIC("Mean"),
	BINARY("PRelu"),
	{ "Where", "", 3, 3, 1, 1, infer_where },
	UNARY("Abs"), UNARY("Neg"), UNARY("Sqrt"), UNARY("Exp"), UNARY("Log"),
	UNARY("Reciprocal"), UNARY("Floor"), UNARY("Ceil"), UNARY("Round"),
	UNARY("Sign"), UNARY("Sin"), UNARY("Cos"), UNARY("Tan"),
	UNARY("Asin"), UNARY("Acos"), UNARY("Atan"), UNARY("Sinh"),
	UNARY("Cosh"), UNARY("Asinh"), UNARY("Acosh"), UNARY("Atanh"),
	UNARY("Erf"), UNARY("Sigmoid"), UNARY("Tanh"), UNARY("Relu"),
	UNARY("LeakyRelu"), UNARY("Elu"), UNARY("Selu"), UNARY("Celu"),
	UNARY("HardSigmoid"), UNARY("HardSwish"), UNARY("Softsign"),
	UNARY("Softplus"), UNARY("ThresholdedRelu"), UNARY("Shrink"),
	{ "Gelu", "", 1, 1, 1, 1, infer_gelu },
	{ "Clip", "", 1, 3, 1, 1, infer_clip },
	{ "IsNaN", "", 1, 1, 1, 1, infer_unary_bool },
	{ "IsInf", "", 1, 1, 1, 1, infer_unary_bool },
	{ "Not", "", 1, 1, 1, 1, infer_unary_bool },
	{ "Cast", "", 1, 1, 1, 1, infer_cast },
	{ "CastLike", "", 2, 2, 1, 1, infer_castlike },
	{ 0 },
};
