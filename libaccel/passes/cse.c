/* SPDX-License-Identifier: MIT */
/*
 * cse.c - common subexpression elimination.
 *
 * First equal small initializers are merged (exporters emit one scalar per
 * use: every "/ sqrt(d)" of an attention block has its own), then nodes
 * with the same op, the same inputs and the same attributes are merged, the
 * later one's readers rewired to the earlier one's outputs. Nodes are
 * visited in topological order, so merges cascade down a chain in one
 * sweep. Random ops and nodes with subgraphs are never merged.
 */
#include "passes/passes.h"
#include "passes/rewrite.h"

#include <stdlib.h>
#include <string.h>

/* Initializers up to this size are compared byte by byte. */
#define CSE_MAX_CONST_BYTES 256

static bool attr_equal(const ir_attr *a, const ir_attr *b)
{
	if (strcmp(a->name, b->name) || a->type != b->type)
		return false;
	switch (a->type) {
	case IR_ATTR_FLOAT:
		return !memcmp(&a->f, &b->f, sizeof(a->f));
	case IR_ATTR_INT:
		return a->i == b->i;
	case IR_ATTR_STRING:
		return a->s_len == b->s_len && !memcmp(a->s, b->s, a->s_len);
	case IR_ATTR_FLOATS:
		return a->count == b->count &&
		       (!a->count || !memcmp(a->floats, b->floats, sizeof(float) * a->count));
	case IR_ATTR_INTS:
		return a->count == b->count &&
		       (!a->count || !memcmp(a->ints, b->ints, sizeof(int64_t) * a->count));
	case IR_ATTR_STRINGS:
		if (a->count != b->count)
			return false;
		for (size_t i = 0; i < a->count; i++)
			if (strcmp(a->strings[i], b->strings[i]))
				return false;
		return true;
	case IR_ATTR_TENSOR:
		return a->t == b->t;
	default:
		return false; /* graphs and the rest: never merge */
	}
}

static bool attrs_equal(const ir_node *a, const ir_node *b)
{
	if (a->n_attrs != b->n_attrs)
		return false;
	for (int i = 0; i < a->n_attrs; i++) {
		const ir_attr *o = ir_node_attr(b, a->attrs[i].name);

		if (!o || !attr_equal(&a->attrs[i], o))
			return false;
	}
	return true;
}

static bool mergeable(const ir_node *n)
{
	if (n->n_outputs < 1 || strstr(n->op_type, "Random") ||
	    !strcmp(n->op_type, "Bernoulli") || !strcmp(n->op_type, "Multinomial"))
		return false;
	for (int i = 0; i < n->n_attrs; i++)
		if (n->attrs[i].type == IR_ATTR_GRAPH || n->attrs[i].type == IR_ATTR_GRAPHS)
			return false;
	return true;
}

static bool nodes_equal(const ir_node *a, const ir_node *b)
{
	return !strcmp(a->op_type, b->op_type) && ir_domain_equal(a->domain, b->domain) &&
	       a->n_inputs == b->n_inputs && a->n_outputs == b->n_outputs &&
	       !memcmp(a->inputs, b->inputs, sizeof(int) * (size_t)a->n_inputs) &&
	       attrs_equal(a, b);
}

/* j computes every output i has (an omitted optional output is -1). */
static bool outputs_cover(const ir_node *j, const ir_node *i)
{
	for (int o = 0; o < i->n_outputs; o++)
		if (i->outputs[o] >= 0 && j->outputs[o] < 0)
			return false;
	return true;
}

static bool const_equal(const accel_tensor *a, const accel_tensor *b)
{
	return a->dtype == b->dtype && a->rank == b->rank &&
	       !memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank) &&
	       a->nbytes == b->nbytes && !memcmp(a->data, b->data, a->nbytes);
}

static void merge_constants(ir_graph *g, pass_uses *u)
{
	int *small = malloc(sizeof(int) * ((size_t)g->n_values + 1));
	int n = 0;

	if (!small)
		return; /* an optimisation only: skip it */
	for (int v = 0; v < g->n_values; v++) {
		const accel_tensor *t = pass_constant(g, v);

		if (!t || !t->data || t->nbytes > CSE_MAX_CONST_BYTES || !u->count[v])
			continue;
		for (int k = 0; k < n; k++)
			if (const_equal(pass_constant(g, small[k]), t)) {
				pass_replace_uses(g, u, v, small[k]);
				goto next;
			}
		small[n++] = v;
next:;
	}
	free(small);
}

accel_status pass_cse(ir_graph *g)
{
	bool *drop = calloc((size_t)g->n_nodes + 1, sizeof(bool));
	pass_uses u = { 0 };
	int n_drop = 0;

	if (!drop || pass_uses_build(g, &u)) {
		free(drop);
		return status_oom("common subexpression elimination");
	}
	merge_constants(g, &u);
	for (int i = 0; i < g->n_nodes; i++) {
		ir_node *n = &g->nodes[i];
		int j;
		bool pinned = false;

		if (!mergeable(n))
			continue;
		for (int o = 0; o < n->n_outputs; o++)
			pinned |= n->outputs[o] >= 0 && u.pinned[n->outputs[o]];
		if (pinned)
			continue;
		for (j = 0; j < i; j++)
			if (!drop[j] && mergeable(&g->nodes[j]) && nodes_equal(&g->nodes[j], n))
				break;
		if (j == i || !outputs_cover(&g->nodes[j], n))
			continue;
		for (int o = 0; o < n->n_outputs; o++)
			if (n->outputs[o] >= 0)
				pass_replace_uses(g, &u, n->outputs[o], g->nodes[j].outputs[o]);
		for (int k = 0; k < n->n_inputs; k++)
			if (n->inputs[k] >= 0)
				u.count[n->inputs[k]]--;
		drop[i] = true;
		n_drop++;
	}
	if (n_drop)
		ir_graph_remove_nodes(g, drop);
	pass_uses_free(&u);
	free(drop);
	return NULL;
}
