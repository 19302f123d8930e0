/* SPDX-License-Identifier: MIT */
/*
 * fold_conv_bn.c - fold an inference BatchNormalization into the Conv that
 * feeds it.
 *
 *   BN(conv(x, W) + B) = conv(x, W * s) + (B - mean) * s + bias,
 *   s = scale / sqrt(var + epsilon)   (per output channel)
 *
 * Only when W, B (if any) and the four statistics are float32 constants and
 * the Conv's output feeds nothing but the BN. The folded weight and bias are
 * new initializers (W may be shared with another Conv); the old ones become
 * unread and eliminate_dead frees them.
 */
#include "passes/passes.h"
#include "passes/rewrite.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const float *f32_const(const ir_graph *g, int v, int64_t numel)
{
	const accel_tensor *t = pass_constant(g, v);

	if (!t || !t->data || t->dtype != ACCEL_DTYPE_F32 ||
	    (numel >= 0 && tensor_numel(t) != numel))
		return NULL;
	return t->data;
}

static bool bn_foldable(const ir_graph *g, const pass_uses *u, const ir_node *bn,
			int64_t m)
{
	if (bn->n_inputs != 5 || ir_attr_int(bn, "training_mode", 0))
		return false;
	for (int o = 1; o < bn->n_outputs; o++)
		if (bn->outputs[o] >= 0 &&
		    (u->count[bn->outputs[o]] || u->pinned[bn->outputs[o]]))
			return false;
	for (int k = 1; k < 5; k++)
		if (!f32_const(g, bn->inputs[k], m))
			return false;
	return true;
}

static accel_status fold_one(ir_graph *g, pass_uses *u, ir_node *conv,
			     const ir_node *bn)
{
	const accel_tensor *wt = pass_constant(g, conv->inputs[1]);
	int64_t m = wt->dims[0], per = tensor_numel(wt) / m;
	const float *w = wt->data;
	const float *b = conv->n_inputs > 2 ? f32_const(g, conv->inputs[2], m) : NULL;
	const float *scale = f32_const(g, bn->inputs[1], m);
	const float *bias = f32_const(g, bn->inputs[2], m);
	const float *mean = f32_const(g, bn->inputs[3], m);
	const float *var = f32_const(g, bn->inputs[4], m);
	float eps = ir_attr_float(bn, "epsilon", 1e-5f);
	accel_tensor *nw, *nb;
	char name[200];
	int vw, vb;

	ACCEL_TRY(tensor_new(ACCEL_DTYPE_F32, wt->rank, wt->dims, &nw));
	if (tensor_new(ACCEL_DTYPE_F32, 1, &m, &nb)) {
		accel_tensor_release(nw);
		return status_oom("a folded bias");
	}
	for (int64_t c = 0; c < m; c++) {
		/* double: the folded weights should round once, like ORT's. */
		double s = scale[c] / sqrt((double)var[c] + eps);
		float *dst = (float *)nw->data + c * per;

		for (int64_t k = 0; k < per; k++)
			dst[k] = (float)(w[c * per + k] * s);
		((float *)nb->data)[c] = (float)(((b ? b[c] : 0.0) - mean[c]) * s + bias[c]);
	}
	snprintf(name, sizeof(name), "%s_bn_weight", conv->name);
	if (pass_add_constant(g, u, name, nw, &vw)) {
		accel_tensor_release(nb);
		return status_oom("a folded weight");
	}
	snprintf(name, sizeof(name), "%s_bn_bias", conv->name);
	ACCEL_TRY(pass_add_constant(g, u, name, nb, &vb));
	conv->inputs[1] = vw;
	return pass_set_input(conv, 2, vb);
}

accel_status pass_fold_conv_bn(ir_graph *g)
{
	bool *drop = calloc((size_t)g->n_nodes + 1, sizeof(bool));
	pass_uses u = { 0 };
	accel_status st = NULL;
	int n_drop = 0;

	if (!drop || pass_uses_build(g, &u)) {
		free(drop);
		return status_oom("Conv+BatchNormalization folding");
	}
	for (int i = 0; i < g->n_nodes && !st; i++) {
		ir_node *conv = &g->nodes[i];
		const accel_tensor *wt;
		int y, j;

		if (!pass_is_op(conv, "Conv") || conv->n_inputs < 2 || conv->n_outputs != 1)
			continue;
		wt = pass_constant(g, conv->inputs[1]);
		y = conv->outputs[0];
		if (!wt || !wt->data || wt->dtype != ACCEL_DTYPE_F32 || wt->rank < 3 ||
		    wt->dims[0] <= 0 || !pass_only_uses(g, &u, y, 1))
			continue;
		if (conv->n_inputs > 2 && conv->inputs[2] >= 0 &&
		    !f32_const(g, conv->inputs[2], wt->dims[0]))
			continue;
		j = pass_sole_consumer(g, &u, y);
		if (j < 0 || !pass_is_op(&g->nodes[j], "BatchNormalization") ||
		    g->nodes[j].inputs[0] != y ||
		    !bn_foldable(g, &u, &g->nodes[j], wt->dims[0]))
			continue;
		st = status_annotate(fold_one(g, &u, conv, &g->nodes[j]),
				     "node '%s' (Conv)", conv->name);
		if (st)
			break;
		/* The Conv now writes what the BN wrote. */
		conv->outputs[0] = g->nodes[j].outputs[0];
		g->values[conv->outputs[0]].producer = i;
		g->values[y].producer = -1;
		drop[j] = true;
		n_drop++;
	}
	if (n_drop)
		ir_graph_remove_nodes(g, drop);
	pass_uses_free(&u);
	free(drop);
	return st;
}
