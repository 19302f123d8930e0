/* SPDX-License-Identifier: MIT */
/*
 * graph.h - the graph IR: values, nodes and attributes, independent of ONNX.
 *
 * A graph is a flat array of nodes in topological order and a flat array of
 * values that the nodes connect by index. Loaders produce it; passes, the
 * scheduler and backends consume it and never see a file format.
 */
#ifndef ACCEL_IR_GRAPH_H
#define ACCEL_IR_GRAPH_H

#include "core/tensor.h"

#include <stdbool.h>
#include <stddef.h>

/* Attribute kinds (numbered like ONNX AttributeProto.AttributeType). */
typedef enum ir_attr_type {
	IR_ATTR_UNDEFINED = 0,
	IR_ATTR_FLOAT = 1,
	IR_ATTR_INT = 2,
	IR_ATTR_STRING = 3,
	IR_ATTR_TENSOR = 4,
	IR_ATTR_GRAPH = 5,
	IR_ATTR_FLOATS = 6,
	IR_ATTR_INTS = 7,
	IR_ATTR_STRINGS = 8,
	IR_ATTR_TENSORS = 9,
	IR_ATTR_GRAPHS = 10,
	IR_ATTR_SPARSE_TENSOR = 11,
	IR_ATTR_SPARSE_TENSORS = 12,
	IR_ATTR_TYPE_PROTO = 13,
	IR_ATTR_TYPE_PROTOS = 14,
} ir_attr_type;

struct ir_graph;

typedef struct ir_attr {
	char *name;
	ir_attr_type type;
	float f;
	int64_t i;
	char *s; /* NUL-terminated; s_len excludes the NUL */
	size_t s_len;
	accel_tensor *t;
	struct ir_graph *g;
	size_t count; /* elements of the array below that matches |type| */
	float *floats;
	int64_t *ints;
	char **strings;
	accel_tensor **tensors;
	struct ir_graph **graphs;
} ir_attr;

typedef enum ir_value_kind {
	IR_VALUE_INTERMEDIATE = 0,
	IR_VALUE_INPUT,	      /* graph input fed by the caller */
	IR_VALUE_CONSTANT,    /* initializer (possibly also a graph input) */
	IR_VALUE_OUTER,	      /* subgraph reference to an enclosing scope */
} ir_value_kind;

typedef struct ir_value {
	char *name;
	ir_value_kind kind;
	accel_dtype dtype; /* UNDEFINED when unknown */
	int rank;	   /* -1 when unknown */
	int64_t dims[ACCEL_MAX_RANK]; /* -1 when dynamic */
	char *dim_names[ACCEL_MAX_RANK];
	accel_tensor *constant; /* initializer data */
	accel_tensor *folded;	/* value computed at load time (static only) */
	int producer;		/* node index, -1 for inputs/constants */
	bool is_output;
	bool non_tensor; /* sequence/map/optional typed value */
} ir_value;

typedef struct ir_node {
	char *name;
	char *op_type;
	char *domain; /* "" for the default ONNX domain */
	int opset;    /* opset version of |domain| in this model */
	int n_inputs;
	int *inputs; /* value index, -1 for an omitted optional input */
	int n_outputs;
	int *outputs; /* value index, -1 for an omitted optional output */
	int n_attrs;
	ir_attr *attrs;
} ir_node;

typedef struct ir_opset {
	char *domain;
	int64_t version;
} ir_opset;

typedef struct ir_graph {
	char *name;
	struct ir_graph *parent; /* enclosing graph of a subgraph */
	int n_values, cap_values;
	ir_value *values;
	int n_nodes, cap_nodes;
	ir_node *nodes;
	int n_inputs;
	int *inputs; /* values the caller feeds (initializers excluded) */
	int n_outputs;
	int *outputs;
	int n_opsets;
	ir_opset *opsets; /* top-level graph only */
	/* name -> value index hash table */
	int *hash;
	int hash_cap;
} ir_graph;

accel_status ir_graph_create(const char *name, ir_graph **out);
void ir_graph_free(ir_graph *g);
/* Index of the value called |name|, or -1. */
int ir_graph_find_value(const ir_graph *g, const char *name);
/* Find or add the value |name|; returns its index in *out_index. */
accel_status ir_graph_intern_value(ir_graph *g, const char *name, int *out_index);
/* Append a node (fields are filled by the caller); returns its index. */
accel_status ir_graph_add_node(ir_graph *g, int *out_index);
/* Check every input is produced before use and order nodes topologically. */
accel_status ir_graph_toposort(ir_graph *g);
/*
 * A deep copy of |g| (subgraphs too, their parent set to the copy's
 * scope); tensors (initializers, folded values, tensor attributes) are
 * shared by reference. |parent| is the copy's enclosing graph or NULL.
 */
accel_status ir_graph_clone(const ir_graph *g, ir_graph *parent, ir_graph **out);
/* Drop the nodes whose |drop| flag is set, keeping order and producers. */
void ir_graph_remove_nodes(ir_graph *g, const bool *drop);

/* Attribute access. Getters return |def| when the attribute is absent. */
const ir_attr *ir_node_attr(const ir_node *n, const char *name);
int64_t ir_attr_int(const ir_node *n, const char *name, int64_t def);
float ir_attr_float(const ir_node *n, const char *name, float def);
const char *ir_attr_string(const ir_node *n, const char *name, const char *def);
/* Pointer to the ints (count in *out_count), NULL when absent. */
const int64_t *ir_attr_ints(const ir_node *n, const char *name, size_t *out_count);
const float *ir_attr_floats(const ir_node *n, const char *name, size_t *out_count);

void ir_attr_clear(ir_attr *a);

/* Operator domains compare equal when both name the default ONNX domain
 * ("" or "ai.onnx", NULL counting as ""), or are the same string. */
bool ir_domain_equal(const char *a, const char *b);

#endif /* ACCEL_IR_GRAPH_H */
