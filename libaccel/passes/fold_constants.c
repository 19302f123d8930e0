/* SPDX-License-Identifier: MIT */
/*
 * fold_constants.c - replace nodes whose every output was computed at load
 * time by initializers, so runs skip shape arithmetic (Shape -> Gather ->
 * Concat -> Reshape chains of exported models) entirely.
 *
 * Relies on pass_infer_shapes() having recorded folded values; only schemas
 * that evaluate pure functions of constant inputs produce them.
 */
#include "passes/passes.h"

#include <stdlib.h>

accel_status pass_fold_constants(ir_graph *g)
{
	bool *drop = calloc((size_t)g->n_nodes + 1, sizeof(bool));
	int n_drop = 0;

	if (!drop)
		return status_oom("constant folding");
	for (int i = 0; i < g->n_nodes; i++) {
		const ir_node *n = &g->nodes[i];
		bool all = n->n_outputs > 0;

		for (int o = 0; o < n->n_outputs && all; o++)
			all = n->outputs[o] < 0 || g->values[n->outputs[o]].folded;
		if (!all)
			continue;
		for (int o = 0; o < n->n_outputs; o++) {
			ir_value *v;

			if (n->outputs[o] < 0)
				continue;
			v = &g->values[n->outputs[o]];
			v->constant = v->folded;
			v->folded = NULL;
			v->kind = IR_VALUE_CONSTANT;
		}
		drop[i] = true;
		n_drop++;
	}
	if (n_drop)
		ir_graph_remove_nodes(g, drop);
	free(drop);
	return NULL;
}
