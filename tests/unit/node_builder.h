/* SPDX-License-Identifier: MIT */
/*
 * node_builder.h - one IR node built by hand, with its attributes in
 * fixed storage, for unit tests that drive schemas and kernels directly.
 */
#ifndef ACCEL_TESTS_NODE_BUILDER_H
#define ACCEL_TESTS_NODE_BUILDER_H

#include "ir/graph.h"

#include <string.h>

#define TEST_NODE_MAX_ATTRS 12

typedef struct test_node {
	ir_node node;
	ir_attr attrs[TEST_NODE_MAX_ATTRS];
	int64_t ints[TEST_NODE_MAX_ATTRS][8];
} test_node;

static inline void node_init(test_node *t, const char *op, const char *domain, int opset)
{
	memset(t, 0, sizeof(*t));
	t->node.name = "n";
	t->node.op_type = (char *)op;
	t->node.domain = (char *)domain;
	t->node.opset = opset;
	t->node.attrs = t->attrs;
}

/* |n| (at most 8) values from |v|. */
static inline void node_ints(test_node *t, const char *name, int n, const int64_t *v)
{
	ir_attr *a = &t->attrs[t->node.n_attrs];

	memcpy(t->ints[t->node.n_attrs], v, sizeof(int64_t) * (size_t)n);
	a->name = (char *)name;
	a->type = IR_ATTR_INTS;
	a->ints = t->ints[t->node.n_attrs];
	a->count = (size_t)n;
	t->node.n_attrs++;
}

static inline void node_int(test_node *t, const char *name, int64_t v)
{
	ir_attr *a = &t->attrs[t->node.n_attrs++];

	a->name = (char *)name;
	a->type = IR_ATTR_INT;
	a->i = v;
}

static inline void node_float(test_node *t, const char *name, float v)
{
	ir_attr *a = &t->attrs[t->node.n_attrs++];

	a->name = (char *)name;
	a->type = IR_ATTR_FLOAT;
	a->f = v;
}

static inline void node_string(test_node *t, const char *name, const char *v)
{
	ir_attr *a = &t->attrs[t->node.n_attrs++];

	a->name = (char *)name;
	a->type = IR_ATTR_STRING;
	a->s = (char *)v;
	a->s_len = strlen(v);
}

#endif /* ACCEL_TESTS_NODE_BUILDER_H */
