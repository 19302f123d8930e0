/* SPDX-License-Identifier: MIT */
/*
 * layout_blocked.c - keep the activations of chains of convolutions in the
 * blocked channel layout ([N, ceil(C/b), H, W, b], ops/layout.c).
 *
 * Why: oneDNN's convolutions want nChw16c (AVX-512) or nChw8c (AVX2)
 * tensors; fed NCHW, each one reorders its input and output on every run.
 * Here Conv/FusedConv nodes that oneDNN can run in place (2-D float32,
 * constant weights, one group or depthwise, more than one output
 * position; those with fewer than 8 input channels, a network's first,
 * read their input NCHW and write blocked), the channel-scale Mul of
 * squeeze-excitation blocks, GlobalAveragePool and 2-D MaxPool are grouped
 * into connected chains, the edges being the inputs each reads blocked (a
 * convolution's X and residual Z, the Mul's image, a pool's input). Each
 * chain with two convolutions or more becomes com.accel BlockedConv /
 * BlockedMul / BlockedGlobalAveragePool / BlockedMaxPool nodes, with a
 * ToBlocked where a chain reads a plain value (one, shared by every
 * reader) and a FromBlocked where a plain reader, or the graph's output,
 * needs a chain's value. A lone
 * convolution is left alone: its own reorders cost the same.
 *
 * The block width comes from the caller (cpu_layout_block()); 0 turns the
 * pass off. Graph outputs keep their names and stay NCHW.
 */
#include "passes/passes.h"
#include "passes/rewrite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Smallest input channel count worth a blocked convolution. */
#define BLOCKED_MIN_CIN 8

static bool is_conv(const ir_node *n)
{
	return pass_is_op(n, "Conv") ||
	       (!strcmp(n->op_type, "FusedConv") && ir_domain_equal(n->domain, "com.accel"));
}

static bool dims_known(const ir_value *v, int rank)
{
	if (v->rank != rank)
		return false;
	for (int i = 0; i < rank; i++)
		if (v->dims[i] < 1)
			return false;
	return true;
}

enum role {
	ROLE_NONE = 0,
	ROLE_CONV, /* X (0) and Z (3) blocked, Y blocked */
	ROLE_CONV_IN, /* X plain (few channels), Y blocked: a first conv */
	ROLE_MUL,  /* one input blocked, a per-channel scale, Y blocked */
	ROLE_GAP,  /* X blocked, Y plain [N, C, 1, 1] */
	ROLE_POOL, /* 2-D MaxPool without Indices: X and Y blocked */
};

/* Can oneDNN run convolution |i| in the blocked layout, and how? */
static enum role conv_role(const ir_graph *g, int i)
{
	const ir_node *n = &g->nodes[i];
	const accel_tensor *w;
	const ir_value *x, *y;
	int64_t group;

	if (!is_conv(n) || n->n_inputs < 2 || n->n_outputs != 1 || n->inputs[0] < 0 ||
	    n->outputs[0] < 0)
		return ROLE_NONE;
	x = &g->values[n->inputs[0]];
	y = &g->values[n->outputs[0]];
	w = pass_constant(g, n->inputs[1]);
	if (!dims_known(x, 4) || !dims_known(y, 4) || x->dtype != ACCEL_DTYPE_F32 ||
	    !w || w->dtype != ACCEL_DTYPE_F32 || w->rank != 4 || y->dims[2] * y->dims[3] < 2)
		return ROLE_NONE;
	if (n->n_inputs > 2 && n->inputs[2] >= 0 && !pass_constant(g, n->inputs[2]))
		return ROLE_NONE;
	group = ir_attr_int(n, "group", 1);
	if (group != 1 && (w->dims[1] != 1 || group != x->dims[1] || group != w->dims[0]))
		return ROLE_NONE;
	if (x->dims[1] >= BLOCKED_MIN_CIN)
		return ROLE_CONV;
	/* Few channels (an image): read NCHW, write blocked; no residual. */
	return n->n_inputs > 3 && n->inputs[3] >= 0 ? ROLE_NONE : ROLE_CONV_IN;
}

/*
 * Mul(a, s) with a of Y's shape [N, C, H, W] (H * W > 1) and s of shape
 * [N or 1, C, 1, 1]: the input index of a, or -1.
 */
static int mul_blocked_input(const ir_graph *g, const ir_node *n)
{
	const ir_value *y;

	if (!pass_is_op(n, "Mul") || n->n_inputs != 2 || n->n_outputs != 1 ||
	    n->inputs[0] < 0 || n->inputs[1] < 0 || n->inputs[0] == n->inputs[1])
		return -1;
	y = &g->values[n->outputs[0]];
	if (!dims_known(y, 4) || y->dtype != ACCEL_DTYPE_F32 || y->dims[2] * y->dims[3] < 2)
		return -1;
	for (int k = 0; k < 2; k++) {
		const ir_value *a = &g->values[n->inputs[k]];
		const ir_value *sc = &g->values[n->inputs[1 - k]];

		if (!dims_known(a, 4) || !dims_known(sc, 4) || a->dtype != ACCEL_DTYPE_F32 ||
		    sc->dtype != ACCEL_DTYPE_F32 || memcmp(a->dims, y->dims, sizeof(int64_t) * 4))
			continue;
		if ((sc->dims[0] == 1 || sc->dims[0] == y->dims[0]) &&
		    sc->dims[1] == y->dims[1] && sc->dims[2] == 1 && sc->dims[3] == 1)
			return k;
	}
	return -1;
}

static enum role role_of(const ir_graph *g, int i)
{
	const ir_node *n = &g->nodes[i];

	enum role r = conv_role(g, i);

	if (r != ROLE_NONE)
		return r;
	if (mul_blocked_input(g, n) >= 0)
		return ROLE_MUL;
	if (pass_is_op(n, "GlobalAveragePool") && n->n_inputs == 1 && n->n_outputs == 1 &&
	    n->inputs[0] >= 0 && dims_known(&g->values[n->inputs[0]], 4) &&
	    g->values[n->inputs[0]].dtype == ACCEL_DTYPE_F32)
		return ROLE_GAP;
	if (pass_is_op(n, "MaxPool") && n->n_inputs == 1 && n->inputs[0] >= 0 &&
	    (n->n_outputs == 1 || (n->n_outputs == 2 && n->outputs[1] < 0)) &&
	    n->outputs[0] >= 0 && dims_known(&g->values[n->inputs[0]], 4) &&
	    dims_known(&g->values[n->outputs[0]], 4) &&
	    g->values[n->inputs[0]].dtype == ACCEL_DTYPE_F32)
		return ROLE_POOL;
	return ROLE_NONE;
}

/* Does node |n| in role |r| read input |k| in the blocked layout? */
static bool reads_blocked(const ir_graph *g, const ir_node *n, enum role r, int k)
{
	switch (r) {
	case ROLE_CONV:
		return k == 0 || k == 3;
	case ROLE_MUL:
		return k == mul_blocked_input(g, n);
	case ROLE_GAP:
	case ROLE_POOL:
		return k == 0;
	default:
		return false;
	}
}

static int find(int *parent, int i)
{
	while (parent[i] != i) {
		parent[i] = parent[parent[i]];
		i = parent[i];
	}
	return i;
}

static void unite(int *parent, int a, int b)
{
	a = find(parent, a);
	b = find(parent, b);
	if (a != b)
		parent[a] = b;
}

/* A new intermediate value named |base| + |suffix| (made unique). */
static accel_status new_value(ir_graph *g, const char *base, const char *suffix,
			      int *out_v)
{
	char name[512];

	snprintf(name, sizeof(name), "%s%s", base, suffix);
	for (int k = 1; ir_graph_find_value(g, name) >= 0; k++)
		snprintf(name, sizeof(name), "%s%s_%d", base, suffix, k);
	return ir_graph_intern_value(g, name, out_v);
}

/* A ToBlocked or FromBlocked node from |in| to |out|. */
static accel_status add_reorder(ir_graph *g, bool to, int in, int out, int64_t block,
				int64_t channels)
{
	char name[512];
	int ni;

	snprintf(name, sizeof(name), "%s/%s", g->values[out].name,
		 to ? "to_blocked" : "from_blocked");
	ACCEL_TRY(pass_add_node(g, name, "com.accel", to ? "ToBlocked" : "FromBlocked",
				&in, 1, out, &ni));
	ACCEL_TRY(pass_set_attr_int(&g->nodes[ni], "block", block));
	if (!to)
		ACCEL_TRY(pass_set_attr_int(&g->nodes[ni], "channels", channels));
	return NULL;
}

typedef struct layout {
	ir_graph *g;
	int block;
	unsigned char *role; /* enum role per node, ROLE_NONE: stays */
	bool *plain_read; /* value read by a plain node, or pinned */
	int *blocked_of;  /* value -> its blocked twin, -1 */
	int n_values;	  /* values before the rewrite */
} layout;

/* The blocked twin of plain value |v| (a ToBlocked, made once). */
static accel_status blocked_input(layout *l, int v, int *out_v)
{
	int bv;

	if (l->blocked_of[v] >= 0) {
		*out_v = l->blocked_of[v];
		return NULL;
	}
	ACCEL_TRY(new_value(l->g, l->g->values[v].name, "/blocked", &bv));
	ACCEL_TRY(add_reorder(l->g, true, v, bv, l->block, 0));
	l->blocked_of[v] = bv;
	*out_v = bv;
	return NULL;
}

static accel_status rewrite_node(layout *l, int i)
{
	ir_graph *g = l->g;
	enum role r = (enum role)l->role[i];
	int y = g->nodes[i].outputs[0], yb, in, mk = -1;
	int64_t c = g->values[y].dims[1];

	if (r == ROLE_GAP)
		c = g->values[g->nodes[i].inputs[0]].dims[1];
	if (r == ROLE_MUL)
		mk = mul_blocked_input(g, &g->nodes[i]);
	for (int k = 0; k < g->nodes[i].n_inputs; k++) {
		in = g->nodes[i].inputs[k];
		if (in < 0 || (r == ROLE_MUL ? k != mk : !reads_blocked(g, &g->nodes[i], r, k)))
			continue;
		ACCEL_TRY(blocked_input(l, in, &in));
		g->nodes[i].inputs[k] = in;
	}
	if (mk == 1) { /* BlockedMul(Xb, S) */
		in = g->nodes[i].inputs[0];
		g->nodes[i].inputs[0] = g->nodes[i].inputs[1];
		g->nodes[i].inputs[1] = in;
	}
	ACCEL_TRY(pass_set_op(&g->nodes[i], "com.accel",
			      r == ROLE_CONV || r == ROLE_CONV_IN ? "BlockedConv" :
			      r == ROLE_MUL  ? "BlockedMul" :
			      r == ROLE_POOL ? "BlockedMaxPool" :
					       "BlockedGlobalAveragePool"));
	ACCEL_TRY(pass_set_attr_int(&g->nodes[i], "block", l->block));
	if (r == ROLE_MUL || r == ROLE_GAP || r == ROLE_POOL)
		ACCEL_TRY(pass_set_attr_int(&g->nodes[i], "channels", c));
	if (r == ROLE_POOL && g->nodes[i].n_outputs == 2)
		g->nodes[i].n_outputs = 1; /* the omitted Indices */
	if (r == ROLE_GAP)
		return NULL; /* its output is plain */
	ACCEL_TRY(new_value(g, g->values[y].name, "/blocked", &yb));
	g->nodes[i].outputs[0] = yb;
	g->values[yb].producer = i;
	g->values[y].producer = -1;
	l->blocked_of[y] = yb;
	if (l->plain_read[y])
		ACCEL_TRY(add_reorder(g, false, yb, y, l->block, c));
	return NULL;
}

/* Chains with two convolutions or more, and what plain readers need. */
static void mark(layout *l, const pass_uses *u, int *parent, int *convs)
{
	ir_graph *g = l->g;
	int n = g->n_nodes;

	for (int i = 0; i < n; i++) {
		parent[i] = i;
		l->role[i] = (unsigned char)role_of(g, i);
	}
	for (int i = 0; i < n; i++) {
		const ir_node *nd = &g->nodes[i];

		for (int k = 0; k < nd->n_inputs; k++) {
			int p;

			if (!reads_blocked(g, nd, (enum role)l->role[i], k))
				continue;
			p = pass_producer(g, nd->inputs[k]);
			if (p >= 0 && (l->role[p] == ROLE_CONV || l->role[p] == ROLE_CONV_IN ||
				       l->role[p] == ROLE_MUL || l->role[p] == ROLE_POOL))
				unite(parent, i, p);
		}
	}
	for (int i = 0; i < n; i++)
		if (l->role[i] == ROLE_CONV || l->role[i] == ROLE_CONV_IN)
			convs[find(parent, i)]++;
	for (int i = 0; i < n; i++)
		if (l->role[i] && convs[find(parent, i)] < 2)
			l->role[i] = ROLE_NONE;
	for (int v = 0; v < g->n_values; v++)
		l->plain_read[v] = u->pinned[v];
	for (int i = 0; i < n; i++) {
		const ir_node *nd = &g->nodes[i];

		for (int k = 0; k < nd->n_inputs; k++)
			if (nd->inputs[k] >= 0 &&
			    !reads_blocked(g, nd, (enum role)l->role[i], k))
				l->plain_read[nd->inputs[k]] = true;
	}
}

accel_status pass_layout_blocked(ir_graph *g, int block)
{
	layout l = { g, block, NULL, NULL, NULL, g->n_values };
	int n = g->n_nodes, *parent = NULL, *convs = NULL, done = 0;
	pass_uses u = { 0 };
	accel_status st = NULL;

	if (block != 8 && block != 16)
		return NULL;
	ACCEL_TRY(pass_uses_build(g, &u));
	l.role = calloc((size_t)n + 1, 1);
	l.plain_read = calloc((size_t)l.n_values + 1, sizeof(bool));
	l.blocked_of = malloc(sizeof(int) * ((size_t)l.n_values + 1));
	parent = malloc(sizeof(int) * ((size_t)n + 1));
	convs = calloc((size_t)n + 1, sizeof(int));
	if (!l.role || !l.plain_read || !l.blocked_of || !parent || !convs) {
		st = status_oom("blocked layout pass");
		goto out;
	}
	for (int v = 0; v < l.n_values; v++)
		l.blocked_of[v] = -1;
	mark(&l, &u, parent, convs);
	/* Nodes are in topological order: producers are rewritten first. */
	for (int i = 0; i < n && !st; i++)
		if (l.role[i]) {
			st = rewrite_node(&l, i);
			done++;
		}
	if (!st && done)
		st = ir_graph_toposort(g);
	if (!st && done)
		st = pass_infer_shapes(g);
out:
	free(convs);
	free(parent);
	free(l.blocked_of);
	free(l.plain_read);
	free(l.role);
	pass_uses_free(&u);
	return st;
}
