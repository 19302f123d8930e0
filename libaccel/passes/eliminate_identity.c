/* SPDX-License-Identifier: MIT */
/*
 * eliminate_identity.c - remove nodes that copy their input unchanged:
 * Identity, inference-mode Dropout (its mask unused), a Reshape or Cast
 * whose output has the input's exact static shape and type.
 *
 * Exporters leave many of these (torch emits an Identity per shared weight);
 * each costs a copy and a buffer per run. Consumers are rewired to the input.
 * When the output is a graph output (its name must stay), the producer of
 * the input writes the output directly instead, if nothing else reads the
 * input.
 */
#include "passes/passes.h"
#include "passes/rewrite.h"

#include <stdlib.h>
#include <string.h>

static bool same_static_shape(const ir_value *a, const ir_value *b)
{
	if (a->rank < 0 || a->rank != b->rank || a->dtype != b->dtype ||
	    a->dtype == ACCEL_DTYPE_UNDEFINED)
		return false;
	for (int d = 0; d < a->rank; d++)
		if (a->dims[d] < 0 || a->dims[d] != b->dims[d])
			return false;
	return true;
}

/* The input |n| passes through unchanged, or -1 when it is no no-op. */
static int noop_input(const ir_graph *g, const pass_uses *u, const ir_node *n)
{
	int x = n->n_inputs > 0 ? n->inputs[0] : -1;

	if (x < 0 || n->n_outputs < 1 || n->outputs[0] < 0)
		return -1;
	if (pass_is_op(n, "Identity"))
		return g->values[x].non_tensor ? -1 : x;
	if (pass_is_op(n, "Dropout")) {
		const accel_tensor *train = n->n_inputs > 2 ? pass_constant(g, n->inputs[2]) : NULL;

		if (n->n_outputs > 1 && n->outputs[1] >= 0 &&
		    (u->count[n->outputs[1]] || u->pinned[n->outputs[1]]))
			return -1;
		if (n->n_inputs > 2 && n->inputs[2] >= 0 &&
		    (!train || !train->data || tensor_get_i64(train, 0)))
			return -1;
		return x;
	}
	if (n->n_outputs == 1 && (pass_is_op(n, "Reshape") || pass_is_op(n, "Cast") ||
				  pass_is_op(n, "CastLike")))
		return same_static_shape(&g->values[x], &g->values[n->outputs[0]]) ? x : -1;
	return -1;
}

static void drop_node(ir_graph *g, pass_uses *u, bool *drop, int i)
{
	const ir_node *n = &g->nodes[i];

	for (int k = 0; k < n->n_inputs; k++)
		if (n->inputs[k] >= 0)
			u->count[n->inputs[k]]--;
	drop[i] = true;
}

accel_status pass_eliminate_identity(ir_graph *g)
{
	bool *drop = calloc((size_t)g->n_nodes + 1, sizeof(bool));
	pass_uses u = { 0 };
	int n_drop = 0;
	accel_status st;

	if (!drop)
		return status_oom("identity elimination");
	st = pass_uses_build(g, &u);
	for (int i = 0; !st && i < g->n_nodes; i++) {
		ir_node *n = &g->nodes[i];
		int x = noop_input(g, &u, n), y, p;

		if (x < 0)
			continue;
		y = n->outputs[0];
		if (!u.pinned[y]) {
			drop_node(g, &u, drop, i);
			pass_replace_uses(g, &u, y, x);
			n_drop++;
			continue;
		}
		/* y keeps its name: let x's producer write y, if x is private. */
		p = pass_producer(g, x);
		if (p < 0 || drop[p] || !pass_only_uses(g, &u, x, 1))
			continue;
		for (int o = 0; o < g->nodes[p].n_outputs; o++)
			if (g->nodes[p].outputs[o] == x)
				g->nodes[p].outputs[o] = y;
		g->values[x].producer = -1;
		g->values[y].producer = p;
		drop_node(g, &u, drop, i);
		n_drop++;
	}
	if (!st && n_drop)
		ir_graph_remove_nodes(g, drop);
	pass_uses_free(&u);
	free(drop);
	return st;
}
