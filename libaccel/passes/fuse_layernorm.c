/* SPDX-License-Identifier: MIT */
/*
 * fuse_layernorm.c - recognise LayerNormalization written out in basic ops
 * (what exporters emit below opset 17) and replace it with one node:
 *
 *   m = ReduceMean(x, tail axes)   d = x - m
 *   v = ReduceMean(d ^ 2, same)    y = d / sqrt(v + eps) [* gamma] [+ beta]
 *
 * Nine passes over the activations become one, and the statistics are
 * computed in double by the kernel. gamma and beta must be float32
 * constants over the normalized dimensions; without gamma a ones vector is
 * made.
 */
#include "passes/passes.h"
#include "passes/rewrite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first reduced axis when |r| reduces exactly the last dims of its
 * input (keepdims=1), or -1. */
static int tail_axis(const ir_graph *g, const ir_node *r)
{
	const ir_value *x = &g->values[r->inputs[0]];
	int64_t axes[ACCEL_MAX_RANK];
	size_t n = 0;
	bool seen[ACCEL_MAX_RANK] = { false };
	int first;

	if (x->rank < 1 || ir_attr_int(r, "keepdims", 1) != 1)
		return -1;
	if (r->n_inputs > 1 && r->inputs[1] >= 0) {
		const accel_tensor *t = pass_constant(g, r->inputs[1]);

		if (!t || !t->data || tensor_numel(t) < 1 || tensor_numel(t) > x->rank)
			return -1;
		n = (size_t)tensor_numel(t);
		for (size_t i = 0; i < n; i++)
			axes[i] = tensor_get_i64(t, (int64_t)i);
	} else {
		const int64_t *a = ir_attr_ints(r, "axes", &n);

		if (!a || !n || n > (size_t)x->rank)
			return -1;
		memcpy(axes, a, sizeof(int64_t) * n);
	}
	for (size_t i = 0; i < n; i++) {
		int64_t ax = axes[i] < 0 ? axes[i] + x->rank : axes[i];

		if (ax < 0 || ax >= x->rank || seen[ax])
			return -1;
		seen[ax] = true;
	}
	first = x->rank - (int)n;
	for (int d = first; d < x->rank; d++)
		if (!seen[d] || x->dims[d] <= 0)
			return -1;
	return first;
}

static bool same_axes(const ir_graph *g, const ir_node *a, const ir_node *b)
{
	return tail_axis(g, a) >= 0 && tail_axis(g, a) == tail_axis(g, b) &&
	       g->values[a->inputs[0]].rank == g->values[b->inputs[0]].rank;
}

/* An f32 constant that broadcasts over the normalized dims of x only. */
static bool affine_const(const ir_graph *g, int v, const ir_value *x, int axis)
{
	const accel_tensor *t = pass_constant(g, v);
	int nr = x->rank - axis;

	if (!t || !t->data || t->dtype != ACCEL_DTYPE_F32 || t->rank > nr)
		return false;
	for (int i = 0; i < t->rank; i++) {
		int64_t xd = x->dims[x->rank - t->rank + i];

		if (t->dims[i] != 1 && t->dims[i] != xd)
			return false;
	}
	return true;
}

typedef struct ln_match {
	int x, axis, gamma, beta, last;
	float eps;
	int rm[8], n_rm;
} ln_match;

/* The reader of |d| other than |not| (d is read exactly twice). */
static int other_reader(const ir_graph *g, int d, int not)
{
	for (int i = 0; i < g->n_nodes; i++)
		if (i != not)
			for (int k = 0; k < g->nodes[i].n_inputs; k++)
				if (g->nodes[i].inputs[k] == d)
					return i;
	return -1;
}

static int sole_op(const ir_graph *g, const pass_uses *u, int v, const char *op)
{
	int j;

	if (!pass_only_uses(g, u, v, 1))
		return -1;
	j = pass_sole_consumer(g, u, v);
	return j >= 0 && pass_is_op(&g->nodes[j], op) && g->nodes[j].inputs[0] == v ? j : -1;
}

static bool match(const ir_graph *g, const pass_uses *u, int r1, ln_match *mt)
{
	const ir_node *n = &g->nodes[r1];
	int o, sub, pw = -1, r2, add, sq, dv, d, mul, bad, c;

	mt->x = n->inputs[0];
	mt->axis = tail_axis(g, n);
	if (mt->axis < 0 || g->values[mt->x].dtype != ACCEL_DTYPE_F32)
		return false;
	sub = pass_binary_consumer(g, u, n->outputs[0], "Sub", &o);
	if (sub < 0 || g->nodes[sub].inputs[0] != mt->x)
		return false;
	d = g->nodes[sub].outputs[0];
	if (!pass_only_uses(g, u, d, 2))
		return false;
	/* d's readers: Pow(d, 2) and Div(d, ...), in either order. */
	for (int i = 0; i < g->n_nodes && pw < 0; i++)
		if (pass_is_op(&g->nodes[i], "Pow") && g->nodes[i].n_inputs == 2 &&
		    g->nodes[i].inputs[0] == d)
			pw = i;
	if (pw < 0 || !pass_const_near(g, g->nodes[pw].inputs[1], 2.0f))
		return false;
	dv = other_reader(g, d, pw);
	r2 = sole_op(g, u, g->nodes[pw].outputs[0], "ReduceMean");
	if (r2 < 0 || !same_axes(g, n, &g->nodes[r2]))
		return false;
	add = pass_binary_consumer(g, u, g->nodes[r2].outputs[0], "Add", &c);
	if (add < 0 || !pass_const_scalar(g, c, &mt->eps))
		return false;
	sq = sole_op(g, u, g->nodes[add].outputs[0], "Sqrt");
	if (sq < 0 || dv < 0 || !pass_is_op(&g->nodes[dv], "Div") ||
	    g->nodes[dv].inputs[0] != d || g->nodes[dv].inputs[1] != g->nodes[sq].outputs[0] ||
	    !pass_only_uses(g, u, g->nodes[sq].outputs[0], 1))
		return false;
	mt->n_rm = 0;
	mt->rm[mt->n_rm++] = r1;
	mt->rm[mt->n_rm++] = sub;
	mt->rm[mt->n_rm++] = pw;
	mt->rm[mt->n_rm++] = r2;
	mt->rm[mt->n_rm++] = add;
	mt->rm[mt->n_rm++] = sq;
	mt->last = dv;
	mt->gamma = mt->beta = -1;
	mul = pass_binary_consumer(g, u, g->nodes[dv].outputs[0], "Mul", &mt->gamma);
	if (mul < 0 || !affine_const(g, mt->gamma, &g->values[mt->x], mt->axis)) {
		mt->gamma = -1;
		return true;
	}
	mt->rm[mt->n_rm++] = dv;
	mt->last = mul;
	bad = pass_binary_consumer(g, u, g->nodes[mul].outputs[0], "Add", &mt->beta);
	if (bad < 0 || !affine_const(g, mt->beta, &g->values[mt->x], mt->axis)) {
		mt->beta = -1;
		return true;
	}
	mt->rm[mt->n_rm++] = mul;
	mt->last = bad;
	return true;
}

static accel_status ones_gamma(ir_graph *g, pass_uses *u, const ln_match *mt,
			       const char *base, int *out_v)
{
	const ir_value *x = &g->values[mt->x];
	int nr = x->rank - mt->axis;
	accel_tensor *t;
	char name[200];

	ACCEL_TRY(tensor_new(ACCEL_DTYPE_F32, nr, x->dims + mt->axis, &t));
	for (int64_t i = 0; i < tensor_numel(t); i++)
		((float *)t->data)[i] = 1.0f;
	snprintf(name, sizeof(name), "%s_ln_scale", base);
	return pass_add_constant(g, u, name, t, out_v);
}

static accel_status rewrite(ir_graph *g, pass_uses *u, bool *drop, ln_match *mt)
{
	ir_node *n;

	if (mt->gamma < 0)
		ACCEL_TRY(ones_gamma(g, u, mt, g->nodes[mt->last].name, &mt->gamma));
	for (int k = 0; k < mt->n_rm; k++)
		pass_drop_node(g, u, drop, mt->rm[k]);
	n = &g->nodes[mt->last];
	for (int k = 0; k < n->n_inputs; k++)
		if (n->inputs[k] >= 0)
			u->count[n->inputs[k]]--;
	n->n_inputs = 0;
	ACCEL_TRY(pass_set_input(n, 0, mt->x));
	ACCEL_TRY(pass_set_input(n, 1, mt->gamma));
	if (mt->beta >= 0)
		ACCEL_TRY(pass_set_input(n, 2, mt->beta));
	for (int k = 0; k < n->n_inputs; k++)
		u->count[n->inputs[k]]++;
	n->opset = n->opset < 17 ? 17 : n->opset;
	ACCEL_TRY(pass_set_attr_int(n, "axis", mt->axis));
	ACCEL_TRY(pass_set_attr_float(n, "epsilon", mt->eps));
	return pass_set_op(n, "", "LayerNormalization");
}

accel_status pass_fuse_layernorm(ir_graph *g)
{
	bool *drop = calloc((size_t)g->n_nodes + 1, sizeof(bool));
	pass_uses u = { 0 };
	accel_status st = NULL;
	int n_drop = 0;

	if (!drop || pass_uses_build(g, &u)) {
		free(drop);
		return status_oom("LayerNormalization fusion");
	}
	for (int i = 0; i < g->n_nodes && !st; i++) {
		ln_match mt;

		if (drop[i] || !pass_is_op(&g->nodes[i], "ReduceMean") ||
		    g->nodes[i].n_outputs != 1 || !match(g, &u, i, &mt))
			continue;
		st = status_annotate(rewrite(g, &u, drop, &mt), "node '%s'",
				     g->nodes[mt.last].name);
		n_drop += mt.n_rm;
	}
	if (n_drop)
		ir_graph_remove_nodes(g, drop);
	pass_uses_free(&u);
	free(drop);
	return st;
}
