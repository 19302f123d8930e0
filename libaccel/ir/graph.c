/* SPDX-License-Identifier: MIT */
/* graph.c - building, querying and ordering the graph IR. */
#include "ir/graph.h"

#include <stdlib.h>
#include <string.h>

accel_status ir_graph_create(const char *name, ir_graph **out)
{
	ir_graph *g = calloc(1, sizeof(*g));

	if (!g)
		return status_oom("a graph");
	g->name = strdup(name ? name : "");
	if (!g->name) {
		free(g);
		return status_oom("a graph name");
	}
	*out = g;
	return NULL;
}

void ir_attr_clear(ir_attr *a)
{
	free(a->name);
	free(a->s);
	accel_tensor_release(a->t);
	ir_graph_free(a->g);
	free(a->floats);
	free(a->ints);
	if (a->strings)
		for (size_t i = 0; i < a->count; i++)
			free(a->strings[i]);
	free(a->strings);
	if (a->tensors)
		for (size_t i = 0; i < a->count; i++)
			accel_tensor_release(a->tensors[i]);
	free(a->tensors);
	if (a->graphs)
		for (size_t i = 0; i < a->count; i++)
			ir_graph_free(a->graphs[i]);
	free(a->graphs);
	memset(a, 0, sizeof(*a));
}

static void node_clear(ir_node *n)
{
	free(n->name);
	free(n->op_type);
	free(n->domain);
	free(n->inputs);
	free(n->outputs);
	for (int i = 0; i < n->n_attrs; i++)
		ir_attr_clear(&n->attrs[i]);
	free(n->attrs);
}

void ir_graph_free(ir_graph *g)
{
	if (!g)
		return;
	for (int i = 0; i < g->n_nodes; i++)
		node_clear(&g->nodes[i]);
	for (int i = 0; i < g->n_values; i++) {
		ir_value *v = &g->values[i];

		free(v->name);
		for (int d = 0; d < ACCEL_MAX_RANK; d++)
			free(v->dim_names[d]);
		accel_tensor_release(v->constant);
		accel_tensor_release(v->folded);
	}
	for (int i = 0; i < g->n_opsets; i++)
		free(g->opsets[i].domain);
	free(g->opsets);
	free(g->nodes);
	free(g->values);
	free(g->inputs);
	free(g->outputs);
	free(g->hash);
	free(g->name);
	free(g);
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static int hash_lookup(const ir_graph *g, const char *name, size_t *slot)
{
	size_t mask = (size_t)g->hash_cap - 1;
	size_t i = hash_str(name) & mask;

	for (;; i = (i + 1) & mask) {
		int idx = g->hash[i];

		if (idx < 0) {
			*slot = i;
			return -1;
		}
		if (!strcmp(g->values[idx].name, name))
			return idx;
	}
}

static accel_status hash_grow(ir_graph *g)
{
	int cap = g->hash_cap ? g->hash_cap * 2 : 64;
	int *h = malloc(sizeof(int) * (size_t)cap);

	if (!h)
		return status_oom("the value table");
	for (int i = 0; i < cap; i++)
		h[i] = -1;
	free(g->hash);
	g->hash = h;
	g->hash_cap = cap;
	for (int v = 0; v < g->n_values; v++) {
		size_t slot = 0;

		hash_lookup(g, g->values[v].name, &slot);
		g->hash[slot] = v;
	}
	return NULL;
}

int ir_graph_find_value(const ir_graph *g, const char *name)
{
	size_t slot = 0;

	if (!g->hash_cap)
		return -1;
	return hash_lookup(g, name, &slot);
}

accel_status ir_graph_intern_value(ir_graph *g, const char *name, int *out_index)
{
	size_t slot = 0;
	int idx = ir_graph_find_value(g, name);
	ir_value *v;

	if (idx >= 0) {
		*out_index = idx;
		return NULL;
	}
	if ((g->n_values + 1) * 2 > g->hash_cap)
		ACCEL_TRY(hash_grow(g));
	if (g->n_values == g->cap_values) {
		int cap = g->cap_values ? g->cap_values * 2 : 32;
		ir_value *nv = realloc(g->values, sizeof(*nv) * (size_t)cap);

		if (!nv)
			return status_oom("graph values");
		g->values = nv;
		g->cap_values = cap;
	}
	v = &g->values[g->n_values];
	memset(v, 0, sizeof(*v));
	v->name = strdup(name);
	if (!v->name)
		return status_oom("a value name");
	v->rank = -1;
	v->producer = -1;
	hash_lookup(g, name, &slot);
	g->hash[slot] = g->n_values;
	*out_index = g->n_values++;
	return NULL;
}

accel_status ir_graph_add_node(ir_graph *g, int *out_index)
{
	if (g->n_nodes == g->cap_nodes) {
		int cap = g->cap_nodes ? g->cap_nodes * 2 : 32;
		ir_node *nn = realloc(g->nodes, sizeof(*nn) * (size_t)cap);

		if (!nn)
			return status_oom("graph nodes");
		g->nodes = nn;
		g->cap_nodes = cap;
	}
	memset(&g->nodes[g->n_nodes], 0, sizeof(ir_node));
	*out_index = g->n_nodes++;
	return NULL;
}

/*
 * Kahn's algorithm, keeping the file's order among ready nodes. A value no
 * node produces must be an input, a constant or an outer-scope reference.
 */
accel_status ir_graph_toposort(ir_graph *g)
{
	int n = g->n_nodes;
	int *indeg = calloc((size_t)n + 1, sizeof(int));
	int *order = malloc(sizeof(int) * ((size_t)n + 1));
	char *done = calloc((size_t)n + 1, 1);
	ir_node *sorted = NULL;
	accel_status st = NULL;
	int count = 0;

	if (!indeg || !order || !done) {
		st = status_oom("topological sort");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		ir_node *node = &g->nodes[i];

		for (int k = 0; k < node->n_inputs; k++) {
			int v = node->inputs[k];

			if (v < 0)
				continue;
			if (g->values[v].producer < 0 &&
			    g->values[v].kind == IR_VALUE_INTERMEDIATE) {
				st = status_bad_model("node '%s' (%s): input '%s' is not produced by any node and is not a graph input or initializer",
						      node->name, node->op_type,
						      g->values[v].name);
				goto out;
			}
			if (g->values[v].producer >= 0)
				indeg[i]++;
		}
	}
	/* Repeated passes in file order: O(n) for already-sorted graphs. */
	while (count < n) {
		int progressed = 0;

		for (int i = 0; i < n; i++) {
			if (done[i] || indeg[i])
				continue;
			done[i] = 1;
			order[count++] = i;
			progressed = 1;
			for (int o = 0; o < g->nodes[i].n_outputs; o++) {
				int v = g->nodes[i].outputs[o];

				if (v < 0)
					continue;
				for (int j = 0; j < n; j++)
					for (int k = 0; k < g->nodes[j].n_inputs; k++)
						if (g->nodes[j].inputs[k] == v)
							indeg[j]--;
			}
		}
		if (!progressed) {
			for (int i = 0; i < n; i++)
				if (!done[i]) {
					st = status_bad_model("the graph has a cycle through node '%s' (%s)",
							      g->nodes[i].name,
							      g->nodes[i].op_type);
					goto out;
				}
		}
	}
	sorted = malloc(sizeof(ir_node) * ((size_t)n + 1));
	if (!sorted) {
		st = status_oom("topological sort");
		goto out;
	}
	for (int i = 0; i < n; i++)
		sorted[i] = g->nodes[order[i]];
	memcpy(g->nodes, sorted, sizeof(ir_node) * (size_t)n);
	for (int i = 0; i < n; i++)
		for (int o = 0; o < g->nodes[i].n_outputs; o++)
			if (g->nodes[i].outputs[o] >= 0)
				g->values[g->nodes[i].outputs[o]].producer = i;
out:
	free(sorted);
	free(indeg);
	free(order);
	free(done);
	return st;
}

/* Present-but-empty lists return these, absent ones NULL. */
static const int64_t empty_ints[1];
static const float empty_floats[1];

void ir_graph_remove_nodes(ir_graph *g, const bool *drop)
{
	int kept = 0;

	for (int i = 0; i < g->n_nodes; i++) {
		if (drop[i]) {
			node_clear(&g->nodes[i]);
			continue;
		}
		g->nodes[kept++] = g->nodes[i];
	}
	g->n_nodes = kept;
	for (int v = 0; v < g->n_values; v++)
		g->values[v].producer = -1;
	for (int i = 0; i < g->n_nodes; i++)
		for (int o = 0; o < g->nodes[i].n_outputs; o++)
			if (g->nodes[i].outputs[o] >= 0)
				g->values[g->nodes[i].outputs[o]].producer = i;
}

const ir_attr *ir_node_attr(const ir_node *n, const char *name)
{
	for (int i = 0; i < n->n_attrs; i++)
		if (!strcmp(n->attrs[i].name, name))
			return &n->attrs[i];
	return NULL;
}

int64_t ir_attr_int(const ir_node *n, const char *name, int64_t def)
{
	const ir_attr *a = ir_node_attr(n, name);

	if (!a)
		return def;
	if (a->type == IR_ATTR_FLOAT)
		return (int64_t)a->f;
	return a->type == IR_ATTR_INT ? a->i : def;
}

float ir_attr_float(const ir_node *n, const char *name, float def)
{
	const ir_attr *a = ir_node_attr(n, name);

	if (!a)
		return def;
	if (a->type == IR_ATTR_INT)
		return (float)a->i;
	return a->type == IR_ATTR_FLOAT ? a->f : def;
}

const char *ir_attr_string(const ir_node *n, const char *name, const char *def)
{
	const ir_attr *a = ir_node_attr(n, name);

	return a && a->type == IR_ATTR_STRING ? a->s : def;
}

const int64_t *ir_attr_ints(const ir_node *n, const char *name, size_t *out_count)
{
	const ir_attr *a = ir_node_attr(n, name);

	if (!a || a->type != IR_ATTR_INTS) {
		*out_count = 0;
		return NULL;
	}
	*out_count = a->count;
	return a->ints ? a->ints : empty_ints;
}

const float *ir_attr_floats(const ir_node *n, const char *name, size_t *out_count)
{
	const ir_attr *a = ir_node_attr(n, name);

	if (!a || a->type != IR_ATTR_FLOATS) {
		*out_count = 0;
		return NULL;
	}
	*out_count = a->count;
	return a->floats ? a->floats : empty_floats;
}

bool ir_domain_equal(const char *a, const char *b)
{
	if (!a || !strcmp(a, "ai.onnx"))
		a = "";
	if (!b || !strcmp(b, "ai.onnx"))
		b = "";
	return !strcmp(a, b);
}

/* ---- deep copy ---- */

static void *dup_mem(const void *src, size_t bytes, bool *ok)
{
	void *p;

	if (!src)
		return NULL;
	p = malloc(bytes ? bytes : 1);
	if (!p)
		*ok = false;
	else
		memcpy(p, src, bytes);
	return p;
}

static char *dup_str(const char *s, bool *ok)
{
	char *p;

	if (!s)
		return NULL;
	p = strdup(s);
	if (!p)
		*ok = false;
	return p;
}

static accel_status attr_copy(const ir_attr *a, ir_graph *scope, ir_attr *c)
{
	bool ok = true;
	accel_status st = NULL;

	*c = *a;
	c->name = dup_str(a->name, &ok);
	c->s = a->s ? dup_mem(a->s, a->s_len + 1, &ok) : NULL;
	accel_tensor_retain(c->t);
	c->g = NULL;
	c->floats = a->floats ? dup_mem(a->floats, sizeof(float) * a->count, &ok) : NULL;
	c->ints = a->ints ? dup_mem(a->ints, sizeof(int64_t) * a->count, &ok) : NULL;
	c->strings = a->strings ? calloc(a->count + 1, sizeof(char *)) : NULL;
	c->tensors = a->tensors ? calloc(a->count + 1, sizeof(accel_tensor *)) : NULL;
	c->graphs = a->graphs ? calloc(a->count + 1, sizeof(ir_graph *)) : NULL;
	if ((a->strings && !c->strings) || (a->tensors && !c->tensors) ||
	    (a->graphs && !c->graphs))
		ok = false;
	for (size_t i = 0; ok && i < a->count; i++) {
		if (a->strings)
			c->strings[i] = dup_str(a->strings[i], &ok);
		if (a->tensors) {
			c->tensors[i] = a->tensors[i];
			accel_tensor_retain(c->tensors[i]);
		}
	}
	if (ok && a->g)
		st = ir_graph_clone(a->g, scope, &c->g);
	for (size_t i = 0; ok && !st && a->graphs && i < a->count; i++)
		st = ir_graph_clone(a->graphs[i], scope, &c->graphs[i]);
	if (!ok && !st)
		st = status_oom("a copy of an attribute");
	return st;
}

accel_status ir_graph_clone(const ir_graph *g, ir_graph *parent, ir_graph **out)
{
	ir_graph *c = NULL;
	accel_status st;
	bool ok = true;

	*out = NULL;
	ACCEL_TRY(ir_graph_create(g->name, &c));
	c->parent = parent;
	for (int v = 0; v < g->n_values; v++) {
		const ir_value *src = &g->values[v];
		ir_value *dst;
		int idx = 0;
		char *name;

		if ((st = ir_graph_intern_value(c, src->name, &idx)))
			goto fail;
		dst = &c->values[idx];
		name = dst->name;
		*dst = *src;
		dst->name = name;
		for (int d = 0; d < ACCEL_MAX_RANK; d++)
			dst->dim_names[d] = dup_str(src->dim_names[d], &ok);
		accel_tensor_retain(dst->constant);
		accel_tensor_retain(dst->folded);
	}
	for (int i = 0; i < g->n_nodes && ok; i++) {
		const ir_node *src = &g->nodes[i];
		ir_node *dst;
		int idx = 0;

		if ((st = ir_graph_add_node(c, &idx)))
			goto fail;
		dst = &c->nodes[idx];
		dst->name = dup_str(src->name, &ok);
		dst->op_type = dup_str(src->op_type, &ok);
		dst->domain = dup_str(src->domain, &ok);
		dst->opset = src->opset;
		dst->inputs = dup_mem(src->inputs, sizeof(int) * (size_t)src->n_inputs, &ok);
		dst->n_inputs = dst->inputs || !src->n_inputs ? src->n_inputs : 0;
		dst->outputs = dup_mem(src->outputs, sizeof(int) * (size_t)src->n_outputs, &ok);
		dst->n_outputs = dst->outputs || !src->n_outputs ? src->n_outputs : 0;
		if (src->n_attrs) {
			dst->attrs = calloc((size_t)src->n_attrs, sizeof(*dst->attrs));
			if (!dst->attrs) {
				ok = false;
				break;
			}
		}
		for (int a = 0; a < src->n_attrs; a++) {
			if ((st = attr_copy(&src->attrs[a], c, &dst->attrs[a]))) {
				dst->n_attrs = a + 1;
				goto fail;
			}
			dst->n_attrs = a + 1;
		}
	}
	c->inputs = dup_mem(g->inputs, sizeof(int) * (size_t)g->n_inputs, &ok);
	c->n_inputs = c->inputs || !g->n_inputs ? g->n_inputs : 0;
	c->outputs = dup_mem(g->outputs, sizeof(int) * (size_t)g->n_outputs, &ok);
	c->n_outputs = c->outputs || !g->n_outputs ? g->n_outputs : 0;
	if (g->n_opsets) {
		c->opsets = calloc((size_t)g->n_opsets, sizeof(*c->opsets));
		ok = ok && c->opsets;
		for (int i = 0; ok && i < g->n_opsets; i++, c->n_opsets++) {
			c->opsets[i].domain = dup_str(g->opsets[i].domain, &ok);
			c->opsets[i].version = g->opsets[i].version;
		}
	}
	if (!ok) {
		st = status_oom("a copy of the graph");
		goto fail;
	}
	*out = c;
	return NULL;
fail:
	ir_graph_free(c);
	return st;
}
