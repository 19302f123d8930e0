/* SPDX-License-Identifier: MIT */
/*
 * eliminate_dead.c - remove nodes whose outputs nothing reads, and free
 * initializers that no node reads any more.
 *
 * Other passes leave both behind (a folded BatchNormalization's statistics,
 * the Shape chain of a removed Reshape). Walking the nodes backwards removes
 * a whole dead chain in one sweep. Inference has no side effects, so a node
 * whose every output is unread is dead.
 */
#include "passes/passes.h"
#include "passes/rewrite.h"

#include <stdlib.h>

static bool node_dead(const ir_node *n, const pass_uses *u)
{
	if (n->n_outputs < 1)
		return false;
	for (int o = 0; o < n->n_outputs; o++) {
		int v = n->outputs[o];

		if (v >= 0 && (u->count[v] || u->pinned[v]))
			return false;
	}
	return true;
}

accel_status pass_eliminate_dead(ir_graph *g)
{
	bool *drop = calloc((size_t)g->n_nodes + 1, sizeof(bool));
	pass_uses u = { 0 };
	int n_drop = 0;

	if (!drop)
		return status_oom("dead-node elimination");
	if (pass_uses_build(g, &u)) {
		free(drop);
		return status_oom("dead-node elimination");
	}
	for (int i = g->n_nodes - 1; i >= 0; i--) {
		const ir_node *n = &g->nodes[i];

		if (!node_dead(n, &u))
			continue;
		for (int k = 0; k < n->n_inputs; k++)
			if (n->inputs[k] >= 0)
				u.count[n->inputs[k]]--;
		drop[i] = true;
		n_drop++;
	}
	if (n_drop)
		ir_graph_remove_nodes(g, drop);
	/* Unread initializers only hold memory for the model's lifetime. */
	for (int v = 0; v < g->n_values; v++) {
		ir_value *val = &g->values[v];

		if (val->kind == IR_VALUE_CONSTANT && val->constant &&
		    !u.count[v] && !u.pinned[v]) {
			accel_tensor_release(val->constant);
			val->constant = NULL;
		}
	}
	pass_uses_free(&u);
	free(drop);
	return NULL;
}
