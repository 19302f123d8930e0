/* SPDX-License-Identifier: MIT */
/*
 * op.h - operator schemas: arity and shape/type inference, device-agnostic.
 *
 * Every operator the runtime knows has a schema. Its infer function sets the
 * dtype, rank and dims of each output from the inputs. The same function
 * runs twice:
 *  - at load time (ctx->static_infer): inputs may have rank -1 (unknown),
 *    dims -1 (dynamic) and data NULL unless constant. Infer must not fail
 *    because of that: set what can be known, leave rank -1 otherwise.
 *  - before every execution, with concrete inputs whose data is present
 *    (so ops like Reshape or Slice can read their shape inputs).
 * Backends (cpu/, later opencl/, cuda/) only execute; they never infer.
 */
#ifndef ACCEL_OPS_OP_H
#define ACCEL_OPS_OP_H

#include "ir/graph.h"

typedef struct op_ctx {
	const ir_node *node;
	bool static_infer;
} op_ctx;

/*
 * in[i] is NULL for an omitted optional input, out[i] NULL for an omitted
 * optional output. Outputs arrive with dtype UNDEFINED, rank 0, data NULL.
 */
typedef accel_status (*op_infer_fn)(const op_ctx *ctx, accel_tensor *const *in,
				    int n_in, accel_tensor *const *out,
				    int n_out);

typedef struct op_schema {
	const char *op_type;
	const char *domain; /* "" for the default domain */
	int min_inputs, max_inputs;   /* max -1: variadic */
	int min_outputs, max_outputs; /* max -1: variadic */
	op_infer_fn infer;
} op_schema;

/* Look up the schema of |op_type| in |domain| ("" and "ai.onnx" are one). */
const op_schema *op_schema_find(const char *domain, const char *op_type);

/* ---- helpers shared by schemas ---- */

/* Set an output's type and shape. */
void op_set_output(accel_tensor *out, accel_dtype dtype, int rank,
		   const int64_t *dims);
/* numpy-style broadcast of two shapes; -1 dims propagate as unknown. */
accel_status op_broadcast(const accel_tensor *a, const accel_tensor *b,
			  int *out_rank, int64_t *out_dims);
/* Map a possibly negative axis into [0, rank). */
accel_status op_axis(const op_ctx *ctx, int64_t axis, int rank, int *out_axis);
/* True when every input that is present has a known rank. */
bool op_inputs_ranked(accel_tensor *const *in, int n_in);
/* True when |t| is present and its values can be read (data != NULL). */
bool op_has_data(const accel_tensor *t);

#endif /* ACCEL_OPS_OP_H */
