/* SPDX-License-Identifier: MIT */
/*
 * reduce.h - helpers of the reduce/index/loss family that both the schemas
 * (ops/reduce*.c) and the CPU kernels (cpu/reduce*.c, cpu/loss.c) need, so
 * that inference and execution read attributes the same way.
 */
#ifndef ACCEL_OPS_REDUCE_H
#define ACCEL_OPS_REDUCE_H

#include "ops/op.h"

/*
 * The reduced axes of a Reduce* node: from the optional "axes" input when it
 * is present (ReduceSum opset >= 13, the others >= 18), else from the "axes"
 * attribute. mask[i] is true for reduced axes. *out_noop is set when the
 * node is an identity (empty axes with noop_with_empty_axes=1). Returns
 * ACCEL_INVALID_ARGUMENT for out-of-range or repeated axes. *out_known is
 * false when the axes input has no data yet (static inference).
 */
accel_status reduce_axes(const ir_node *node, accel_tensor *const *in, int n_in,
			 int rank, bool *mask, bool *out_noop, bool *out_known);

/* Loss reduction attribute: 0 none, 1 sum, 2 mean. */
accel_status loss_reduction(const ir_node *node, int *out_reduction);

/* ---- Einsum ---- */
#define EINSUM_MAX_OPS 8
#define EINSUM_MAX_LABELS 64

typedef struct einsum_plan {
	int n_ops;
	int n_labels; /* distinct labels; ellipsis dims become labels too */
	int64_t size[EINSUM_MAX_LABELS];
	int op_rank[EINSUM_MAX_OPS];
	int op_label[EINSUM_MAX_OPS][ACCEL_MAX_RANK]; /* label of each axis */
	int out_rank;
	int out_label[ACCEL_MAX_RANK];
} einsum_plan;

/* Parse |equation| against the input shapes (dims may be -1). */
accel_status einsum_parse(const char *equation, accel_tensor *const *in,
			  int n_in, einsum_plan *plan);

/* ---- Unique ---- */
typedef struct unique_result {
	int64_t n_unique;
	int64_t n_slices;  /* number of slices along the axis (or elements) */
	int64_t *first;	   /* [n_unique] index of the first occurrence */
	int64_t *inverse;  /* [n_slices] */
	int64_t *counts;   /* [n_unique] */
} unique_result;

/* axis < 0: flatten. Caller frees with unique_result_free(). */
accel_status unique_compute(const accel_tensor *x, int axis, bool sorted,
			    unique_result *out);
void unique_result_free(unique_result *r);

#endif /* ACCEL_OPS_REDUCE_H */
