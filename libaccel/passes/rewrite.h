/* SPDX-License-Identifier: MIT */
/*
 * rewrite.h - helpers the rewriting passes share: who uses a value, which
 * values must keep their name, constants, and node/attribute edits.
 *
 * The rule every pass follows: a value may disappear only when it is an
 * intermediate that no node outside the rewritten pattern reads, that is
 * not a graph output and that no subgraph names (pass_uses.pinned).
 */
#ifndef ACCEL_PASSES_REWRITE_H
#define ACCEL_PASSES_REWRITE_H

#include "ir/graph.h"

typedef struct pass_uses {
	int *count;   /* node inputs that read each value */
	bool *pinned; /* graph output or named by a subgraph: keep its name */
	int n;
} pass_uses;

accel_status pass_uses_build(const ir_graph *g, pass_uses *out);
void pass_uses_free(pass_uses *u);

/* An intermediate read by exactly |n| node inputs and nothing else. */
bool pass_only_uses(const ir_graph *g, const pass_uses *u, int v, int n);

/* The one node reading |v| (index), or -1 when there are 0 or 2+ readers. */
int pass_sole_consumer(const ir_graph *g, const pass_uses *u, int v);

/* Index of the node producing |v|, -1 for inputs, constants and v < 0. */
int pass_producer(const ir_graph *g, int v);

/* The constant data of |v| (initializer or folded value), or NULL. */
const accel_tensor *pass_constant(const ir_graph *g, int v);

/* True when |v| is a constant with a single element; its value as float. */
bool pass_const_scalar(const ir_graph *g, int v, float *out);

/* Make every node input that reads |from| read |to| instead. */
void pass_replace_uses(ir_graph *g, pass_uses *u, int from, int to);

/*
 * Add a constant value named after |base| (made unique); takes |t|, also on
 * error. |u| (may be NULL) grows to cover the new value, with no reads.
 */
accel_status pass_add_constant(ir_graph *g, pass_uses *u, const char *base,
			       accel_tensor *t, int *out_v);

/* Set (replace or add) attributes of |n|. */
accel_status pass_set_attr_float(ir_node *n, const char *name, float f);
accel_status pass_set_attr_int(ir_node *n, const char *name, int64_t i);
accel_status pass_set_attr_string(ir_node *n, const char *name, const char *s);

/* Replace the op type and domain of |n| (the node keeps its attributes). */
accel_status pass_set_op(ir_node *n, const char *domain, const char *op_type);

/* Set input |idx| of |n| to |v|, growing the input list with -1 as needed. */
accel_status pass_set_input(ir_node *n, int idx, int v);

/* Append a node with the given op and one output; returns its index. */
accel_status pass_add_node(ir_graph *g, const char *name, const char *domain,
			   const char *op_type, const int *inputs, int n_inputs,
			   int output, int *out_index);

/* True when |n| is op_type in the default ONNX domain. */
bool pass_is_op(const ir_node *n, const char *op_type);

/* The other operand of binary |n| when one of its two inputs is |v|, else -1. */
int pass_other_input(const ir_node *n, int v);

/*
 * The node reading private value |v| (read once, not pinned) when it is
 * binary op |op_type| in the default domain; -1 otherwise. *out_other gets
 * its other operand.
 */
int pass_binary_consumer(const ir_graph *g, const pass_uses *u, int v,
			 const char *op_type, int *out_other);

/* True when |v| is a constant scalar within 1e-4 (relative) of |want|. */
bool pass_const_near(const ir_graph *g, int v, float want);

/* Mark node |i| for removal; its inputs stop counting as reads. */
void pass_drop_node(ir_graph *g, pass_uses *u, bool *drop, int i);

#endif /* ACCEL_PASSES_REWRITE_H */
