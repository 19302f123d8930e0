/* SPDX-License-Identifier: MIT */
/*
 * tensor_eval.h - device-agnostic evaluation of the cheap tensor operators.
 *
 * The shape-computing operators (Shape, Gather, Concat, Slice, Unsqueeze,
 * Reshape, ...) run twice: at load time, inside their schema, to fold shape
 * arithmetic into constants so later shapes are static; and at run time in
 * the CPU backend. Both call these serial routines so the two can never
 * disagree. Outputs must already be shaped and allocated.
 */
#ifndef ACCEL_OPS_TENSOR_EVAL_H
#define ACCEL_OPS_TENSOR_EVAL_H

#include "ops/op.h"

typedef accel_status (*teval_fn)(const ir_node *node, accel_tensor *const *in,
				 int n_in, accel_tensor *const *out, int n_out);

/* Byte copy of in[0] into out[0] (Identity, Reshape, Flatten, Squeeze...). */
accel_status teval_copy(const ir_node *node, accel_tensor *const *in, int n_in,
			accel_tensor *const *out, int n_out);
accel_status teval_shape(const ir_node *node, accel_tensor *const *in, int n_in,
			 accel_tensor *const *out, int n_out);
accel_status teval_size(const ir_node *node, accel_tensor *const *in, int n_in,
			accel_tensor *const *out, int n_out);
accel_status teval_constant(const ir_node *node, accel_tensor *const *in,
			    int n_in, accel_tensor *const *out, int n_out);
accel_status teval_constant_of_shape(const ir_node *node,
				     accel_tensor *const *in, int n_in,
				     accel_tensor *const *out, int n_out);
accel_status teval_range(const ir_node *node, accel_tensor *const *in, int n_in,
			 accel_tensor *const *out, int n_out);
accel_status teval_gather(const ir_node *node, accel_tensor *const *in,
			  int n_in, accel_tensor *const *out, int n_out);
accel_status teval_concat(const ir_node *node, accel_tensor *const *in,
			  int n_in, accel_tensor *const *out, int n_out);
accel_status teval_slice(const ir_node *node, accel_tensor *const *in, int n_in,
			 accel_tensor *const *out, int n_out);
accel_status teval_expand(const ir_node *node, accel_tensor *const *in,
			  int n_in, accel_tensor *const *out, int n_out);

/*
 * Resolve Slice's starts/ends/axes/steps (attributes before opset 10, inputs
 * after) against |x|'s shape into a per-dimension start, step and count.
 * *out_known is false when a parameter has no data yet (static inference).
 */
accel_status slice_resolve(const ir_node *node, accel_tensor *const *in,
			   int n_in, const accel_tensor *x, int64_t *start,
			   int64_t *step, int64_t *count, bool *out_known);

/*
 * Strided gather into a dense destination: dst (row-major, dims |count|)
 * receives src[src_offset + sum(idx[i] * src_strides[i])], strides in
 * elements, possibly 0 or negative. Transpose, Expand and Slice are all this.
 * Up to 2 * ACCEL_MAX_RANK dims (Tile views each dim as repeat x size).
 * The _rows variant does only destination rows [row_begin, row_end), a row
 * being the last dimension, so a backend can split the work across threads.
 */
void strided_copy(void *dst, const void *src, size_t es, int rank,
		  const int64_t *count, const int64_t *src_strides,
		  int64_t src_offset);
void strided_copy_rows(void *dst, const void *src, size_t es, int rank,
		       const int64_t *count, const int64_t *src_strides,
		       int64_t src_offset, int64_t row_begin, int64_t row_end);
/* Number of rows of |count| as strided_copy_rows counts them. */
int64_t strided_rows(int rank, const int64_t *count);

/* Shape's start/end attributes resolved and clamped against |rank|. */
void shape_bounds(const ir_node *node, int rank, int *out_start, int *out_end);
/* Expand's broadcast strides of |x| against an output of |rank| dims. */
void broadcast_strides(const accel_tensor *x, int rank, const int64_t *dims,
		       int64_t *strides);

/*
 * Pad's per-dimension begin/end pads (pads[i], pads[rank + i]) from the
 * attribute (before opset 11) or the pads/axes inputs. *out_known is false
 * when the pads input has no data yet.
 */
accel_status pad_resolve(const ir_node *node, accel_tensor *const *in, int n_in,
			 int rank, int64_t *pads, bool *out_known);

/* Resize and Upsample: output size, scale and ROI of every dimension. */
typedef struct resize_params {
	int64_t out_dims[ACCEL_MAX_RANK];
	double scale[ACCEL_MAX_RANK];	/* output/input as the op defines it */
	double roi_start[ACCEL_MAX_RANK], roi_end[ACCEL_MAX_RANK];
	bool known;			/* false: scales/sizes have no data yet */
} resize_params;

accel_status resize_resolve(const ir_node *node, accel_tensor *const *in,
			    int n_in, resize_params *p);

#endif /* ACCEL_OPS_TENSOR_EVAL_H */
