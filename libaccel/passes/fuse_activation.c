/* SPDX-License-Identifier: MIT */
/*
 * fuse_activation.c - fold what follows a Conv, Gemm or MatMul into it:
 *
 *   MatMul -> Add(bias vector)                -> FusedMatMul(A, B, bias)
 *   Conv   -> Add(residual of the same shape) -> FusedConv(X, W, B, Z)
 *   any of them -> activation                 -> Fused*(..., activation=)
 *
 * Activations: Relu, Clip (constant bounds), Sigmoid, HardSigmoid,
 * HardSwish, LeakyRelu, Gelu, SiLU written as x * Sigmoid(x) and HardSwish
 * as x * HardSigmoid(x, 1/6, 1/2). Each
 * absorbed node's output must be read by the next step alone, and every
 * intermediate must be a private value (not a graph output). The fused
 * kernel applies bias, residual and activation while the tile is hot,
 * saving a full pass over the output per absorbed node.
 *
 * The kinds of base op to fuse are chosen by the caller (PASS_FUSE_* flags)
 * so that a level only emits the fused ops the backend runs fast.
 */
#include "passes/passes.h"
#include "passes/rewrite.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fusion {
	ir_graph *g;
	pass_uses *u;
	bool *drop;
	ir_node *base;
	int kind; /* PASS_FUSE_CONV, _GEMM or _MATMUL */
	bool has_bias, has_z, has_act;
	int cur; /* the value the fused node currently produces */
	int absorbed;
} fusion;

/* The base node takes over |n|'s output; |n| is gone. */
static void absorb(fusion *f, int j)
{
	ir_node *n = &f->g->nodes[j];
	int y = n->outputs[0];

	f->base->outputs[0] = y;
	f->g->values[y].producer = (int)(f->base - f->g->nodes);
	f->g->values[f->cur].producer = -1;
	/* Its inputs read nothing now: later use counts stay honest. */
	for (int k = 0; k < n->n_inputs; k++)
		n->inputs[k] = -1;
	f->drop[j] = true;
	f->cur = y;
	f->absorbed++;
}

static const char *const simple_acts[] = {
	"Relu", "Sigmoid", "HardSigmoid", "HardSwish", "LeakyRelu", "Gelu",
};

/* Read Clip's bounds (inputs since opset 11, attributes before). */
static bool clip_bounds(const ir_graph *g, const ir_node *n, float *lo, float *hi)
{
	*lo = -INFINITY;
	*hi = INFINITY;
	if (n->opset && n->opset < 11) {
		*lo = ir_attr_float(n, "min", -INFINITY);
		*hi = ir_attr_float(n, "max", INFINITY);
		return true;
	}
	if (n->n_inputs > 1 && n->inputs[1] >= 0 && !pass_const_scalar(g, n->inputs[1], lo))
		return false;
	if (n->n_inputs > 2 && n->inputs[2] >= 0 && !pass_const_scalar(g, n->inputs[2], hi))
		return false;
	return true;
}

static accel_status set_activation(fusion *f, const ir_node *n, const char *act)
{
	ir_node *b = f->base;

	ACCEL_TRY(pass_set_attr_string(b, "activation", act));
	if (!strcmp(act, "Clip")) {
		float lo, hi;

		clip_bounds(f->g, n, &lo, &hi);
		if (isfinite(lo))
			ACCEL_TRY(pass_set_attr_float(b, "activation_min", lo));
		if (isfinite(hi))
			ACCEL_TRY(pass_set_attr_float(b, "activation_max", hi));
	} else if (!strcmp(act, "LeakyRelu")) {
		ACCEL_TRY(pass_set_attr_float(b, "activation_alpha",
					      ir_attr_float(n, "alpha", 0.01f)));
	} else if (!strcmp(act, "HardSigmoid")) {
		ACCEL_TRY(pass_set_attr_float(b, "activation_alpha",
					      ir_attr_float(n, "alpha", 0.2f)));
		ACCEL_TRY(pass_set_attr_float(b, "activation_beta",
					      ir_attr_float(n, "beta", 0.5f)));
	} else if (!strcmp(act, "Gelu")) {
		ACCEL_TRY(pass_set_attr_string(b, "activation_approximate",
					       ir_attr_string(n, "approximate", "none")));
	}
	f->has_act = true;
	return NULL;
}

/* The activation |n| applies to f->cur, or NULL when it is none we fuse. */
static const char *activation_of(const fusion *f, const ir_node *n)
{
	float lo, hi;

	if (n->n_inputs < 1 || n->inputs[0] != f->cur || n->n_outputs != 1)
		return NULL;
	for (size_t i = 0; i < sizeof(simple_acts) / sizeof(simple_acts[0]); i++)
		if (pass_is_op(n, simple_acts[i]))
			return simple_acts[i];
	if (pass_is_op(n, "Clip") && clip_bounds(f->g, n, &lo, &hi))
		return "Clip";
	return NULL;
}

/*
 * x * gate(x) where gate is Sigmoid (SiLU) or HardSigmoid(1/6, 1/2)
 * (HardSwish, as exported below opset 14).
 */
static const char *gate_activation(const ir_node *n)
{
	if (pass_is_op(n, "Sigmoid"))
		return "Silu";
	if (pass_is_op(n, "HardSigmoid") &&
	    fabsf(ir_attr_float(n, "alpha", 0.2f) - 1.0f / 6.0f) < 1e-6f &&
	    ir_attr_float(n, "beta", 0.5f) == 0.5f)
		return "HardSwish";
	return NULL;
}

/* cur -> gate -> Mul(cur, s): the two readers of cur. Returns the Mul. */
static int silu_mul(const fusion *f, int *out_sig)
{
	const ir_graph *g = f->g;
	int sig = -1, mul = -1;

	if (!pass_only_uses(g, f->u, f->cur, 2))
		return -1;
	for (int i = 0; i < g->n_nodes; i++) {
		const ir_node *n = &g->nodes[i];

		for (int k = 0; k < n->n_inputs; k++) {
			if (n->inputs[k] != f->cur)
				continue;
			if (gate_activation(n) && n->n_outputs == 1)
				sig = i;
			else if (pass_is_op(n, "Mul") && n->n_inputs == 2)
				mul = i;
			break;
		}
	}
	if (sig < 0 || mul < 0)
		return -1;
	{
		const ir_node *m = &g->nodes[mul];
		int s = g->nodes[sig].outputs[0];

		if (!pass_only_uses(g, f->u, s, 1) ||
		    !((m->inputs[0] == f->cur && m->inputs[1] == s) ||
		      (m->inputs[1] == f->cur && m->inputs[0] == s)))
			return -1;
	}
	*out_sig = sig;
	return mul;
}

/* Last dimension of the base op's output, -1 when unknown. */
static int64_t out_cols(const fusion *f)
{
	const ir_value *v = &f->g->values[f->cur];

	return v->rank >= 1 ? v->dims[v->rank - 1] : -1;
}

/* A constant that is a vector of the output's last dim (any leading 1s). */
static bool bias_vector(const fusion *f, int v)
{
	const accel_tensor *t = pass_constant(f->g, v);
	int64_t n = out_cols(f);

	if (!t || !t->data || t->dtype != ACCEL_DTYPE_F32 || t->rank < 1 || n <= 0 ||
	    t->dims[t->rank - 1] != n || t->rank > f->g->values[f->cur].rank)
		return false;
	for (int d = 0; d < t->rank - 1; d++)
		if (t->dims[d] != 1)
			return false;
	return true;
}

static bool same_static_shape(const ir_value *a, const ir_value *b)
{
	if (a->rank < 0 || a->rank != b->rank || a->dtype != b->dtype)
		return false;
	for (int d = 0; d < a->rank; d++)
		if (a->dims[d] < 0 || a->dims[d] != b->dims[d])
			return false;
	return true;
}

static accel_status take_bias(fusion *f, int v)
{
	const accel_tensor *t = pass_constant(f->g, v);
	int bv = v;

	if (t->rank != 1) {
		accel_tensor *flat;
		int64_t n = t->dims[t->rank - 1];
		char name[200];

		ACCEL_TRY(accel_tensor_create_copy(ACCEL_DTYPE_F32, 1, &n, t->data,
						   t->nbytes, &flat));
		snprintf(name, sizeof(name), "%s_bias", f->base->name);
		ACCEL_TRY(pass_add_constant(f->g, f->u, name, flat, &bv));
	}
	ACCEL_TRY(pass_set_input(f->base, 2, bv));
	f->u->count[bv]++;
	f->has_bias = true;
	return NULL;
}

/* Absorb the reader of f->cur if it fits; *out_more: try the next one. */
static accel_status step(fusion *f, bool *out_more)
{
	ir_graph *g = f->g;
	int j, sig;
	ir_node *n;
	const char *act;

	*out_more = false;
	if (f->has_act)
		return NULL;
	j = silu_mul(f, &sig);
	if (j >= 0) {
		ACCEL_TRY(pass_set_attr_string(f->base, "activation",
					       gate_activation(&g->nodes[sig])));
		f->has_act = true;
		absorb(f, sig); /* now the base writes s = Sigmoid(x)... */
		absorb(f, j);	/* ...and then x * s */
		return NULL;
	}
	if (!pass_only_uses(g, f->u, f->cur, 1))
		return NULL;
	j = pass_sole_consumer(g, f->u, f->cur);
	if (j < 0)
		return NULL;
	n = &g->nodes[j];
	act = activation_of(f, n);
	if (act) {
		ACCEL_TRY(set_activation(f, n, act));
		absorb(f, j);
		return NULL;
	}
	if (pass_is_op(n, "Add") && n->n_inputs == 2 && n->n_outputs == 1) {
		int other = n->inputs[0] == f->cur ? n->inputs[1] : n->inputs[0];

		if (other == f->cur)
			return NULL;
		if (f->kind == PASS_FUSE_MATMUL && !f->has_bias && !f->has_z &&
		    bias_vector(f, other)) {
			ACCEL_TRY(take_bias(f, other));
			f->u->count[other]--;
		} else if (f->kind == PASS_FUSE_CONV && !f->has_z &&
			   same_static_shape(&g->values[other], &g->values[f->cur])) {
			ACCEL_TRY(pass_set_input(f->base, 3, other));
			f->has_z = true;
		} else {
			return NULL;
		}
		absorb(f, j);
		*out_more = true;
	}
	return NULL;
}

static int base_kind(const ir_graph *g, const ir_node *n, unsigned kinds)
{
	int k = 0;

	if (pass_is_op(n, "Conv"))
		k = PASS_FUSE_CONV;
	else if (pass_is_op(n, "Gemm"))
		k = PASS_FUSE_GEMM;
	else if (pass_is_op(n, "MatMul"))
		k = PASS_FUSE_MATMUL;
	if (!(k & kinds) || n->n_outputs != 1 || n->outputs[0] < 0 ||
	    g->values[n->outputs[0]].dtype != ACCEL_DTYPE_F32)
		return 0;
	return k;
}

static const char *const fused_names[] = {
	[PASS_FUSE_CONV] = "FusedConv",
	[PASS_FUSE_GEMM] = "FusedGemm",
	[PASS_FUSE_MATMUL] = "FusedMatMul",
};

accel_status pass_fuse_activation(ir_graph *g, unsigned kinds)
{
	bool *drop = calloc((size_t)g->n_nodes + 1, sizeof(bool));
	pass_uses u = { 0 };
	accel_status st = NULL;
	int n_drop = 0;

	if (!drop || pass_uses_build(g, &u)) {
		free(drop);
		return status_oom("activation fusion");
	}
	for (int i = 0; i < g->n_nodes && !st; i++) {
		ir_node *n = &g->nodes[i];
		fusion f = { .g = g, .u = &u, .drop = drop, .base = n };
		bool more = true;

		if (drop[i] || !(f.kind = base_kind(g, n, kinds)))
			continue;
		f.cur = n->outputs[0];
		f.has_bias = f.kind != PASS_FUSE_MATMUL && n->n_inputs > 2 &&
			     n->inputs[2] >= 0;
		while (more && !st)
			st = step(&f, &more);
		if (st) {
			st = status_annotate(st, "node '%s' (%s)", n->name, n->op_type);
			break;
		}
		if (!f.absorbed)
			continue;
		st = pass_set_op(n, "com.accel", fused_names[f.kind]);
	}
	for (int i = 0; i < g->n_nodes; i++)
		n_drop += drop[i];
	if (n_drop)
		ir_graph_remove_nodes(g, drop);
	pass_uses_free(&u);
	free(drop);
	/* A residual may come from a node after the Conv in the old order. */
	return st ? st : ir_graph_toposort(g);
}
