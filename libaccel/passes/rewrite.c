/* SPDX-License-Identifier: MIT */
/*
 * rewrite.c - helpers shared by the rewriting passes (see rewrite.h).
 */
#include "passes/rewrite.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Subgraphs name outer values; those must keep their names and producers. */
static void pin_outer_refs(const ir_graph *top, const ir_graph *sub, bool *pinned)
{
	for (int v = 0; v < sub->n_values; v++) {
		int idx;

		if (sub->values[v].kind != IR_VALUE_OUTER)
			continue;
		idx = ir_graph_find_value(top, sub->values[v].name);
		if (idx >= 0)
			pinned[idx] = true;
	}
	for (int i = 0; i < sub->n_nodes; i++)
		for (int a = 0; a < sub->nodes[i].n_attrs; a++) {
			const ir_attr *at = &sub->nodes[i].attrs[a];

			if (at->g)
				pin_outer_refs(top, at->g, pinned);
			for (size_t k = 0; at->graphs && k < at->count; k++)
				pin_outer_refs(top, at->graphs[k], pinned);
		}
}

accel_status pass_uses_build(const ir_graph *g, pass_uses *out)
{
	out->n = g->n_values;
	out->count = calloc((size_t)g->n_values + 1, sizeof(int));
	out->pinned = calloc((size_t)g->n_values + 1, sizeof(bool));
	if (!out->count || !out->pinned) {
		pass_uses_free(out);
		return status_oom("value use counts");
	}
	for (int i = 0; i < g->n_nodes; i++)
		for (int k = 0; k < g->nodes[i].n_inputs; k++)
			if (g->nodes[i].inputs[k] >= 0)
				out->count[g->nodes[i].inputs[k]]++;
	for (int v = 0; v < g->n_values; v++)
		out->pinned[v] = g->values[v].is_output;
	pin_outer_refs(g, g, out->pinned);
	return NULL;
}

void pass_uses_free(pass_uses *u)
{
	free(u->count);
	free(u->pinned);
	u->count = NULL;
	u->pinned = NULL;
}

bool pass_only_uses(const ir_graph *g, const pass_uses *u, int v, int n)
{
	return v >= 0 && v < u->n && !u->pinned[v] && u->count[v] == n &&
	       g->values[v].kind == IR_VALUE_INTERMEDIATE;
}

int pass_sole_consumer(const ir_graph *g, const pass_uses *u, int v)
{
	int found = -1;

	if (v < 0 || v >= u->n || u->count[v] != 1)
		return -1;
	for (int i = 0; i < g->n_nodes; i++)
		for (int k = 0; k < g->nodes[i].n_inputs; k++)
			if (g->nodes[i].inputs[k] == v) {
				if (found >= 0 && found != i)
					return -1;
				found = i;
			}
	return found;
}

int pass_producer(const ir_graph *g, int v)
{
	return v >= 0 && v < g->n_values ? g->values[v].producer : -1;
}

const accel_tensor *pass_constant(const ir_graph *g, int v)
{
	if (v < 0 || v >= g->n_values)
		return NULL;
	if (g->values[v].constant && g->values[v].kind == IR_VALUE_CONSTANT)
		return g->values[v].constant;
	return NULL;
}

bool pass_const_scalar(const ir_graph *g, int v, float *out)
{
	const accel_tensor *t = pass_constant(g, v);

	if (!t || !t->data || tensor_numel(t) != 1 || !dtype_is_float(t->dtype))
		return false;
	*out = (float)tensor_get_f64(t, 0);
	return true;
}

void pass_replace_uses(ir_graph *g, pass_uses *u, int from, int to)
{
	for (int i = 0; i < g->n_nodes; i++)
		for (int k = 0; k < g->nodes[i].n_inputs; k++)
			if (g->nodes[i].inputs[k] == from) {
				g->nodes[i].inputs[k] = to;
				if (u) {
					u->count[from]--;
					u->count[to]++;
				}
			}
}

static accel_status uses_grow(pass_uses *u, int n)
{
	int *c;
	bool *p;

	if (!u || n <= u->n)
		return NULL;
	c = realloc(u->count, sizeof(int) * ((size_t)n + 1));
	if (c)
		u->count = c;
	p = realloc(u->pinned, sizeof(bool) * ((size_t)n + 1));
	if (p)
		u->pinned = p;
	if (!c || !p)
		return status_oom("value use counts");
	for (int v = u->n; v < n; v++) {
		u->count[v] = 0;
		u->pinned[v] = false;
	}
	u->n = n;
	return NULL;
}

accel_status pass_add_constant(ir_graph *g, pass_uses *u, const char *base,
			       accel_tensor *t, int *out_v)
{
	char name[256];
	ir_value *v;
	int idx;

	for (int k = 0;; k++) {
		if (k)
			snprintf(name, sizeof(name), "%s_%d", base, k);
		else
			snprintf(name, sizeof(name), "%s", base);
		if (ir_graph_find_value(g, name) < 0)
			break;
	}
	{
		accel_status st = ir_graph_intern_value(g, name, &idx);

		if (st) {
			accel_tensor_release(t);
			return st;
		}
	}
	v = &g->values[idx];
	v->kind = IR_VALUE_CONSTANT;
	v->constant = t;
	v->dtype = t->dtype;
	v->rank = t->rank;
	memcpy(v->dims, t->dims, sizeof(int64_t) * (size_t)(t->rank > 0 ? t->rank : 0));
	*out_v = idx;
	return uses_grow(u, g->n_values);
}

static accel_status attr_slot(ir_node *n, const char *name, ir_attr **out)
{
	ir_attr *a = (ir_attr *)ir_node_attr(n, name);

	if (a) {
		ir_attr_clear(a);
	} else {
		ir_attr *na = realloc(n->attrs, sizeof(*na) * ((size_t)n->n_attrs + 1));

		if (!na)
			return status_oom("a node attribute");
		n->attrs = na;
		a = &n->attrs[n->n_attrs++];
		memset(a, 0, sizeof(*a));
	}
	a->name = strdup(name);
	if (!a->name)
		return status_oom("a node attribute");
	*out = a;
	return NULL;
}

accel_status pass_set_attr_float(ir_node *n, const char *name, float f)
{
	ir_attr *a = NULL;

	ACCEL_TRY(attr_slot(n, name, &a));
	a->type = IR_ATTR_FLOAT;
	a->f = f;
	return NULL;
}

accel_status pass_set_attr_int(ir_node *n, const char *name, int64_t i)
{
	ir_attr *a = NULL;

	ACCEL_TRY(attr_slot(n, name, &a));
	a->type = IR_ATTR_INT;
	a->i = i;
	return NULL;
}

accel_status pass_set_attr_string(ir_node *n, const char *name, const char *s)
{
	ir_attr *a = NULL;

	ACCEL_TRY(attr_slot(n, name, &a));
	a->type = IR_ATTR_STRING;
	a->s = strdup(s);
	if (!a->s)
		return status_oom("a node attribute");
	a->s_len = strlen(s);
	return NULL;
}

accel_status pass_set_op(ir_node *n, const char *domain, const char *op_type)
{
	char *d = strdup(domain), *o = strdup(op_type);

	if (!d || !o) {
		free(d);
		free(o);
		return status_oom("a node op type");
	}
	free(n->domain);
	free(n->op_type);
	n->domain = d;
	n->op_type = o;
	return NULL;
}

accel_status pass_set_input(ir_node *n, int idx, int v)
{
	if (idx >= n->n_inputs) {
		int *ni = realloc(n->inputs, sizeof(int) * ((size_t)idx + 1));

		if (!ni)
			return status_oom("node inputs");
		for (int k = n->n_inputs; k <= idx; k++)
			ni[k] = -1;
		n->inputs = ni;
		n->n_inputs = idx + 1;
	}
	n->inputs[idx] = v;
	return NULL;
}

accel_status pass_add_node(ir_graph *g, const char *name, const char *domain,
			   const char *op_type, const int *inputs, int n_inputs,
			   int output, int *out_index)
{
	ir_node *n;
	int ni;

	ACCEL_TRY(ir_graph_add_node(g, &ni));
	n = &g->nodes[ni];
	n->name = strdup(name);
	n->domain = strdup(domain);
	n->op_type = strdup(op_type);
	n->inputs = malloc(sizeof(int) * ((size_t)n_inputs + 1));
	n->outputs = malloc(sizeof(int));
	if (!n->name || !n->domain || !n->op_type || !n->inputs || !n->outputs) {
		/* The node stays in the graph; ir_graph_free() releases it. */
		n->n_inputs = 0;
		n->n_outputs = 0;
		return status_oom("a node");
	}
	memcpy(n->inputs, inputs, sizeof(int) * (size_t)n_inputs);
	n->n_inputs = n_inputs;
	n->outputs[0] = output;
	n->n_outputs = 1;
	g->values[output].producer = ni;
	*out_index = ni;
	return NULL;
}

bool pass_is_op(const ir_node *n, const char *op_type)
{
	return !strcmp(n->op_type, op_type) && ir_domain_equal(n->domain, "");
}

int pass_other_input(const ir_node *n, int v)
{
	if (n->n_inputs != 2 || n->n_outputs != 1)
		return -1;
	if (n->inputs[0] == v)
		return n->inputs[1];
	if (n->inputs[1] == v)
		return n->inputs[0];
	return -1;
}

int pass_binary_consumer(const ir_graph *g, const pass_uses *u, int v,
			 const char *op_type, int *out_other)
{
	int j;

	if (!pass_only_uses(g, u, v, 1))
		return -1;
	j = pass_sole_consumer(g, u, v);
	if (j < 0 || !pass_is_op(&g->nodes[j], op_type))
		return -1;
	*out_other = pass_other_input(&g->nodes[j], v);
	return *out_other >= 0 ? j : -1;
}

bool pass_const_near(const ir_graph *g, int v, float want)
{
	float got;

	return pass_const_scalar(g, v, &got) && fabsf(got - want) <= 1e-4f * fabsf(want);
}

void pass_drop_node(ir_graph *g, pass_uses *u, bool *drop, int i)
{
	ir_node *n = &g->nodes[i];

	for (int k = 0; k < n->n_inputs; k++)
		if (n->inputs[k] >= 0) {
			u->count[n->inputs[k]]--;
			n->inputs[k] = -1;
		}
	for (int o = 0; o < n->n_outputs; o++)
		if (n->outputs[o] >= 0 && g->values[n->outputs[o]].producer == i)
			g->values[n->outputs[o]].producer = -1;
	drop[i] = true;
}
