/* SPDX-License-Identifier: MIT */
/*
 * fuse_gelu.c - recognise GELU in its Erf form and replace it with one
 * Gelu node (opset-20 semantics, approximate="none").
 *
 *   y = x * 0.5 * (1 + erf(x / sqrt(2)))
 *
 * Exporters write it in several orders; accepted here: the division by
 * sqrt(2) or multiplication by 1/sqrt(2), Add and Mul operands either way
 * round, and the 0.5 applied to x, to (1 + erf), or to the product. Five
 * elementwise passes over the tensor become one.
 */
#include "passes/passes.h"
#include "passes/rewrite.h"

#include <stdlib.h>

#define SQRT2 1.41421356f

/* x where |d| = x / sqrt(2) or x * (1/sqrt(2)); -1 otherwise. */
static int scaled_input(const ir_graph *g, int d, int *out_node)
{
	int p = pass_producer(g, d);
	const ir_node *n;

	if (p < 0)
		return -1;
	n = &g->nodes[p];
	*out_node = p;
	if (n->n_inputs != 2)
		return -1;
	if (pass_is_op(n, "Div") && pass_const_near(g, n->inputs[1], SQRT2))
		return n->inputs[0];
	if (pass_is_op(n, "Mul")) {
		if (pass_const_near(g, n->inputs[1], 1.0f / SQRT2))
			return n->inputs[0];
		if (pass_const_near(g, n->inputs[0], 1.0f / SQRT2))
			return n->inputs[1];
	}
	return -1;
}

/* Match from the Erf node |e|; fills the nodes to drop and the last one. */
static bool match(const ir_graph *g, const pass_uses *u, int e, int *x_out,
		  int *rm, int *n_rm, int *last)
{
	int d = g->nodes[e].inputs[0], pd = -1, x, c, a, m1, o1, m, m2, o2, ph;

	if (d < 0 || !pass_only_uses(g, u, d, 1) || (x = scaled_input(g, d, &pd)) < 0)
		return false;
	if (g->nodes[e].n_outputs != 1)
		return false;
	a = pass_binary_consumer(g, u, g->nodes[e].outputs[0], "Add", &c);
	if (a < 0 || !pass_const_near(g, c, 1.0f))
		return false;
	m1 = pass_binary_consumer(g, u, g->nodes[a].outputs[0], "Mul", &o1);
	if (m1 < 0)
		return false;
	*n_rm = 0;
	rm[(*n_rm)++] = pd;
	rm[(*n_rm)++] = e;
	rm[(*n_rm)++] = a;
	m = g->nodes[m1].outputs[0];
	if (o1 == x || pass_const_near(g, o1, 0.5f)) {
		/* (x * a) * 0.5 or (a * 0.5) * x */
		m2 = pass_binary_consumer(g, u, m, "Mul", &o2);
		if (m2 < 0 || !(o1 == x ? pass_const_near(g, o2, 0.5f) : o2 == x))
			return false;
		rm[(*n_rm)++] = m1;
		*last = m2;
	} else {
		/* (x * 0.5) * a */
		const ir_node *h;

		ph = pass_producer(g, o1);
		if (ph < 0 || !pass_only_uses(g, u, o1, 1))
			return false;
		h = &g->nodes[ph];
		if (!pass_is_op(h, "Mul") || pass_other_input(h, x) < 0 ||
		    !pass_const_near(g, pass_other_input(h, x), 0.5f))
			return false;
		rm[(*n_rm)++] = ph;
		*last = m1;
	}
	*x_out = x;
	return true;
}

accel_status pass_fuse_gelu(ir_graph *g)
{
	bool *drop = calloc((size_t)g->n_nodes + 1, sizeof(bool));
	pass_uses u = { 0 };
	accel_status st = NULL;
	int n_drop = 0;

	if (!drop || pass_uses_build(g, &u)) {
		free(drop);
		return status_oom("GELU fusion");
	}
	for (int i = 0; i < g->n_nodes && !st; i++) {
		int x, rm[5], n_rm, last;
		ir_node *n;

		if (drop[i] || !pass_is_op(&g->nodes[i], "Erf") ||
		    g->nodes[i].n_inputs != 1 ||
		    !match(g, &u, i, &x, rm, &n_rm, &last))
			continue;
		for (int k = 0; k < n_rm; k++)
			pass_drop_node(g, &u, drop, rm[k]);
		n_drop += n_rm;
		n = &g->nodes[last];
		u.count[n->inputs[0]]--;
		u.count[n->inputs[1]]--;
		n->inputs[0] = x;
		n->n_inputs = 1;
		u.count[x]++;
		n->opset = 20;
		st = status_annotate(pass_set_op(n, "", "Gelu"), "node '%s'", n->name);
	}
	if (n_drop)
		ir_graph_remove_nodes(g, drop);
	pass_uses_free(&u);
	free(drop);
	/* x may be produced after the first node of the pattern: keep order. */
	return st ? st : ir_graph_toposort(g);
}
