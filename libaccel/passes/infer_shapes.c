/* SPDX-License-Identifier: MIT */
/*
 * infer_shapes.c - static type and shape inference over the whole graph.
 *
 * Runs each node's schema with what is known at load time: constants with
 * their data, everything else as dtype + (possibly partial) shape. What
 * cannot be known (data-dependent shapes, dynamic dims) stays -1 and is
 * resolved per run.
 */
#include "ops/op.h"
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

static void value_to_tensor(const ir_value *v, accel_tensor *t)
{
	memset(t, 0, sizeof(*t));
	t->dtype = v->dtype;
	t->rank = v->rank;
	if (v->rank > 0)
		memcpy(t->dims, v->dims, sizeof(int64_t) * (size_t)v->rank);
}

/* Move the data |t| owns into a heap tensor recorded on |v|. */
static void keep_folded(ir_value *v, accel_tensor *t)
{
	accel_tensor *f = NULL;

	if (!t->owns_data || !tensor_shape_known(t) ||
	    tensor_new_shape(t->dtype, t->rank, t->dims, &f)) {
		if (t->owns_data)
			free(t->data);
		return;
	}
	f->data = t->data;
	f->nbytes = t->nbytes;
	f->owns_data = true;
	accel_tensor_release(v->folded);
	v->folded = f;
}

static bool partially_known(accel_tensor *const *in, int n)
{
	for (int i = 0; i < n; i++)
		if (in[i] && (!in[i]->data || !tensor_shape_known(in[i])))
			return true;
	return false;
}

static accel_status check_arity(const ir_node *n, const op_schema *s)
{
	if (n->n_inputs < s->min_inputs ||
	    (s->max_inputs >= 0 && n->n_inputs > s->max_inputs))
		return status_bad_model("%s takes %d to %d inputs, the node has %d",
					n->op_type, s->min_inputs, s->max_inputs,
					n->n_inputs);
	if (n->n_outputs < s->min_outputs ||
	    (s->max_outputs >= 0 && n->n_outputs > s->max_outputs))
		return status_bad_model("%s has %d to %d outputs, the node has %d",
					n->op_type, s->min_outputs, s->max_outputs,
					n->n_outputs);
	/* Positions below the minimum are required: "" is not allowed there. */
	for (int i = 0; i < s->min_inputs; i++)
		if (n->inputs[i] < 0)
			return status_bad_model("input %d of %s is required but empty",
						i, n->op_type);
	for (int i = 0; i < s->min_outputs; i++)
		if (n->outputs[i] < 0)
			return status_bad_model("output %d of %s is required but empty",
						i, n->op_type);
	return NULL;
}

static accel_status infer_node(ir_graph *g, const ir_node *n, const op_schema *s)
{
	accel_tensor in_store[n->n_inputs + 1], out_store[n->n_outputs + 1];
	accel_tensor *in[n->n_inputs + 1], *out[n->n_outputs + 1];
	op_ctx ctx = { .node = n, .static_infer = true };
	accel_status st;

	for (int i = 0; i < n->n_inputs; i++) {
		const ir_value *v = n->inputs[i] >= 0 ? &g->values[n->inputs[i]] : NULL;

		if (!v) {
			in[i] = NULL;
		} else if (v->constant || v->folded) {
			in[i] = v->constant ? v->constant : v->folded;
		} else {
			value_to_tensor(v, &in_store[i]);
			in[i] = &in_store[i];
		}
	}
	for (int i = 0; i < n->n_outputs; i++) {
		memset(&out_store[i], 0, sizeof(out_store[i]));
		out[i] = n->outputs[i] >= 0 ? &out_store[i] : NULL;
	}
	st = s->infer(&ctx, in, n->n_inputs, out, n->n_outputs);
	/* Values a schema could compute now (shape arithmetic) are kept so
	 * that later nodes see them as constants. */
	for (int i = 0; i < n->n_outputs; i++)
		if (out[i] && out[i]->data && !st)
			keep_folded(&g->values[n->outputs[i]], out[i]);
		else if (out[i] && out[i]->owns_data)
			free(out[i]->data);
	if (st) {
		/* With unknowns in play an error may be spurious: retry per run. */
		if (partially_known(in, n->n_inputs)) {
			accel_status_free(st);
			return NULL;
		}
		return st;
	}
	for (int i = 0; i < n->n_outputs; i++) {
		ir_value *v;

		if (!out[i])
			continue;
		v = &g->values[n->outputs[i]];
		if (out[i]->dtype != ACCEL_DTYPE_UNDEFINED)
			v->dtype = out[i]->dtype;
		if (out[i]->rank >= 0) {
			bool keep_declared = v->rank == out[i]->rank;

			for (int d = 0; d < out[i]->rank; d++) {
				if (out[i]->dims[d] >= 0 || !keep_declared)
					v->dims[d] = out[i]->dims[d];
			}
			v->rank = out[i]->rank;
		}
	}
	return NULL;
}

accel_status pass_infer_shapes(ir_graph *g)
{
	for (int i = 0; i < g->n_nodes; i++) {
		const ir_node *n = &g->nodes[i];
		const op_schema *s = op_schema_find(n->domain, n->op_type);

		if (!s)
			return status_unsupported("node '%s': operator '%s'%s%s%s (opset %d) is not supported",
						  n->name, n->op_type,
						  *n->domain ? " in domain '" : "", n->domain,
						  *n->domain ? "'" : "", n->opset);
		ACCEL_TRY(status_annotate(check_arity(n, s), "node '%s' (%s)",
					  n->name, n->op_type));
		ACCEL_TRY(status_annotate(infer_node(g, n, s), "node '%s' (%s)",
					  n->name, n->op_type));
	}
	return NULL;
}
