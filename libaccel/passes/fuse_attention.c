/* SPDX-License-Identifier: MIT */
/*
 * fuse_attention.c - recognise scaled dot-product attention and replace it
 * with one com.accel FusedAttention node (schema in ops/fused.c, kernel in
 * cpu/attention.c):
 *
 *   s = MatMul(q, kt) [* or / scalar] [+ mask]   p = Softmax(s, axis -1)
 *   y = MatMul(p, v)
 *
 * The scale may also sit on q or kt (torch's MultiheadAttention divides q
 * by sqrt(d) before the product); several scales multiply. A Transpose
 * that makes q, kt or v and a Transpose of y are absorbed as perm_*
 * attributes when the kernel can read (write) that layout in place: the
 * head split and merge of exported models then cost no copies, and the
 * [.., Sq, Sk] scores never exist as a tensor. Every intermediate must be
 * read by the pattern alone.
 */
#include "passes/passes.h"
#include "passes/rewrite.h"

#include <stdlib.h>
#include <string.h>

typedef struct attn_match {
	int q, k, v, mask;
	int64_t perm[4][ACCEL_MAX_RANK]; /* q, k, v, out */
	bool has_perm[4];
	float scale;
	int rank, last;
	int rm[12], n_rm;
} attn_match;

/* A float32 intermediate of known rank |r| read only by the pattern. */
static bool private_f32(const ir_graph *g, const pass_uses *u, int v, int r)
{
	return pass_only_uses(g, u, v, 1) &&
	       g->values[v].dtype == ACCEL_DTYPE_F32 && g->values[v].rank == r;
}

/*
 * When |v| is x * c, c * x or x / c for a scalar constant c (and private),
 * the node; *out_x gets x and *scale is multiplied by c or 1/c.
 */
static int scaled(const ir_graph *g, const pass_uses *u, int v, int r,
		  int *out_x, float *scale)
{
	int p = pass_producer(g, v);
	const ir_node *n;
	float c;

	if (p < 0 || !private_f32(g, u, v, r))
		return -1;
	n = &g->nodes[p];
	if (n->n_inputs != 2 || n->n_outputs != 1)
		return -1;
	if (pass_is_op(n, "Div") && pass_const_scalar(g, n->inputs[1], &c) &&
	    c != 0.0f && g->values[n->inputs[0]].rank == r) {
		*out_x = n->inputs[0];
		*scale /= c;
		return p;
	}
	if (!pass_is_op(n, "Mul"))
		return -1;
	for (int s = 0; s < 2; s++)
		if (pass_const_scalar(g, n->inputs[s], &c) &&
		    g->values[n->inputs[1 - s]].rank == r) {
			*out_x = n->inputs[1 - s];
			*scale *= c;
			return p;
		}
	return -1;
}

/* The perm of Transpose node |n| over rank |r| (default: reversed). */
static bool transpose_perm(const ir_node *n, int r, int64_t *perm)
{
	size_t cnt;
	const int64_t *p = ir_attr_ints(n, "perm", &cnt);
	bool seen[ACCEL_MAX_RANK] = { false };

	for (int i = 0; i < r; i++) {
		int64_t a = p ? (i < (int)cnt ? p[i] : -1) : r - 1 - i;

		if ((p && cnt != (size_t)r) || a < 0 || a >= r || seen[a])
			return false;
		seen[a] = true;
		perm[i] = a;
	}
	return true;
}

/*
 * Absorb the Transpose producing operand |which| of |mt| when only the
 * pattern reads its output and one of the last two axes it makes is the
 * source's last (contiguous) axis: the kernel reads rows or columns with
 * a stride then. |rm| collects the node.
 */
static void absorb_input(const ir_graph *g, const pass_uses *u, attn_match *mt,
			 int which, int *v)
{
	int p = pass_producer(g, *v), r = mt->rank;
	int64_t perm[ACCEL_MAX_RANK];
	const ir_node *n;

	if (p < 0 || !private_f32(g, u, *v, r))
		return;
	n = &g->nodes[p];
	if (!pass_is_op(n, "Transpose") || n->n_inputs != 1 ||
	    n->n_outputs != 1 || !transpose_perm(n, r, perm) ||
	    g->values[n->inputs[0]].rank != r)
		return;
	if (perm[r - 1] != r - 1 && perm[r - 2] != r - 1)
		return;
	memcpy(mt->perm[which], perm, sizeof(perm));
	mt->has_perm[which] = true;
	mt->rm[mt->n_rm++] = p;
	*v = n->inputs[0];
}

/* A float32 mask whose dims are 1 or the scores' (all known). */
static bool mask_ok(const ir_graph *g, int m, const ir_value *s)
{
	const ir_value *mv = &g->values[m];

	if (mv->dtype != ACCEL_DTYPE_F32 || mv->rank < 0 || mv->rank > s->rank)
		return false;
	for (int i = 0; i < mv->rank; i++) {
		int64_t md = mv->dims[i], sd = s->dims[s->rank - mv->rank + i];

		if (md < 0 || sd < 0 || (md != 1 && md != sd))
			return false;
	}
	return true;
}

/* Dim |i| of |a| and |b| is the same number or the same symbolic name. */
static bool dim_same(const ir_value *a, const ir_value *b, int i)
{
	if (a->dims[i] >= 0)
		return a->dims[i] == b->dims[i];
	return b->dims[i] < 0 && a->dim_names[i] && b->dim_names[i] &&
	       !strcmp(a->dim_names[i], b->dim_names[i]);
}

/* Batch dims of q, kt and v are equal: the kernel does not broadcast. */
static bool batches_equal(const ir_graph *g, const ir_node *m1, int v)
{
	const ir_value *a = &g->values[m1->inputs[0]], *b = &g->values[m1->inputs[1]];
	const ir_value *c = &g->values[v];

	for (int i = 0; i < a->rank - 2; i++)
		if (!dim_same(a, b, i) || !dim_same(a, c, i))
			return false;
	return true;
}

/* Softmax over the last axis of a rank-|r| input (opset-aware default). */
static bool softmax_last(const ir_node *n, int r)
{
	int64_t ax = ir_attr_int(n, "axis", n->opset && n->opset < 13 ? 1 : -1);

	return ax == -1 || ax == r - 1;
}

/* [scale] MatMul making scores |s|; the MatMul node, or -1. */
static int scores_chain(const ir_graph *g, const pass_uses *u, int s,
			attn_match *mt)
{
	int r = mt->rank, p = scaled(g, u, s, r, &s, &mt->scale), m1;
	const ir_node *n;

	m1 = pass_producer(g, s);
	if (m1 < 0 || !private_f32(g, u, s, r))
		return -1;
	n = &g->nodes[m1];
	if (!pass_is_op(n, "MatMul") || n->n_inputs != 2 ||
	    g->values[n->inputs[0]].rank != r || g->values[n->inputs[1]].rank != r)
		return -1;
	if (p >= 0)
		mt->rm[mt->n_rm++] = p;
	mt->rm[mt->n_rm++] = m1;
	return m1;
}

static bool same_shape(const ir_value *a, const ir_value *b)
{
	if (a->rank != b->rank)
		return false;
	for (int i = 0; i < a->rank; i++)
		if (a->dims[i] < 0 || a->dims[i] != b->dims[i])
			return false;
	return true;
}

/* The scores side of Softmax input |x|: [mask Add] [scale] MatMul. */
static int match_scores(const ir_graph *g, const pass_uses *u, int x,
			attn_match *mt)
{
	int r = mt->rank, p = pass_producer(g, x), n_rm = mt->n_rm;
	float scale = mt->scale;
	const ir_node *a;

	mt->mask = -1;
	if (p < 0 || !pass_is_op(&g->nodes[p], "Add"))
		return scores_chain(g, u, x, mt);
	a = &g->nodes[p];
	if (!private_f32(g, u, x, r) || a->n_inputs != 2 ||
	    a->inputs[0] == a->inputs[1])
		return -1;
	for (int i = 0; i < 2; i++) {
		int s = a->inputs[i], m1;

		if (!mask_ok(g, a->inputs[1 - i], &g->values[x]) ||
		    !same_shape(&g->values[s], &g->values[x]))
			continue;
		mt->n_rm = n_rm;
		mt->scale = scale;
		mt->rm[mt->n_rm++] = p;
		m1 = scores_chain(g, u, s, mt);
		if (m1 >= 0) {
			mt->mask = a->inputs[1 - i];
			return m1;
		}
	}
	return -1;
}

static bool match(const ir_graph *g, const pass_uses *u, int sm, attn_match *mt)
{
	const ir_node *smx = &g->nodes[sm], *n2;
	int r, p, m1, m2;

	memset(mt, 0, sizeof(*mt));
	mt->scale = 1.0f;
	if (smx->n_inputs != 1 || smx->n_outputs != 1)
		return false;
	r = mt->rank = g->values[smx->inputs[0]].rank;
	if (r < 2 || !softmax_last(smx, r) ||
	    !private_f32(g, u, smx->outputs[0], r))
		return false;
	m2 = pass_sole_consumer(g, u, smx->outputs[0]);
	if (m2 < 0 || !pass_is_op(&g->nodes[m2], "MatMul"))
		return false;
	n2 = &g->nodes[m2];
	if (n2->inputs[0] != smx->outputs[0] || n2->inputs[1] == n2->inputs[0] ||
	    n2->n_outputs != 1)
		return false;
	mt->v = n2->inputs[1];
	mt->rm[mt->n_rm++] = sm;
	m1 = match_scores(g, u, smx->inputs[0], mt);
	if (m1 < 0 || g->values[mt->v].dtype != ACCEL_DTYPE_F32 ||
	    g->values[mt->v].rank != r || !batches_equal(g, &g->nodes[m1], mt->v))
		return false;
	mt->q = g->nodes[m1].inputs[0];
	mt->k = g->nodes[m1].inputs[1];
	if (g->values[mt->q].dtype != ACCEL_DTYPE_F32 ||
	    g->values[mt->k].dtype != ACCEL_DTYPE_F32 || mt->q == mt->k)
		return false;
	p = scaled(g, u, mt->q, r, &mt->q, &mt->scale);
	if (p >= 0)
		mt->rm[mt->n_rm++] = p;
	p = scaled(g, u, mt->k, r, &mt->k, &mt->scale);
	if (p >= 0)
		mt->rm[mt->n_rm++] = p;
	absorb_input(g, u, mt, 0, &mt->q);
	absorb_input(g, u, mt, 1, &mt->k);
	absorb_input(g, u, mt, 2, &mt->v);
	/* y's Transpose, when it keeps rows contiguous: written in place. */
	mt->last = m2;
	p = pass_sole_consumer(g, u, n2->outputs[0]);
	if (p >= 0 && private_f32(g, u, n2->outputs[0], r) &&
	    pass_is_op(&g->nodes[p], "Transpose") && g->nodes[p].n_inputs == 1 &&
	    g->nodes[p].n_outputs == 1 &&
	    transpose_perm(&g->nodes[p], r, mt->perm[3]) &&
	    mt->perm[3][r - 1] == r - 1) {
		mt->has_perm[3] = true;
		mt->rm[mt->n_rm++] = m2;
		mt->last = p;
	}
	return true;
}

static void clear_attrs(ir_node *n)
{
	for (int i = 0; i < n->n_attrs; i++)
		ir_attr_clear(&n->attrs[i]);
	n->n_attrs = 0;
}

static accel_status add_ints(ir_node *n, const char *name, const int64_t *v,
			     int count)
{
	ir_attr *na = realloc(n->attrs, sizeof(*na) * ((size_t)n->n_attrs + 1));
	ir_attr *a;

	if (!na)
		return status_oom("a node attribute");
	n->attrs = na;
	a = &n->attrs[n->n_attrs];
	memset(a, 0, sizeof(*a));
	a->name = strdup(name);
	a->ints = malloc(sizeof(int64_t) * (size_t)count);
	if (!a->name || !a->ints) {
		free(a->name);
		free(a->ints);
		return status_oom("a node attribute");
	}
	memcpy(a->ints, v, sizeof(int64_t) * (size_t)count);
	a->type = IR_ATTR_INTS;
	a->count = (size_t)count;
	n->n_attrs++;
	return NULL;
}

static accel_status rewrite(ir_graph *g, pass_uses *u, bool *drop,
			    const attn_match *mt)
{
	static const char *const perm_names[4] = {
		"perm_q", "perm_k", "perm_v", "perm_out",
	};
	int ins[4] = { mt->q, mt->k, mt->v, mt->mask };
	ir_node *n;

	for (int k = 0; k < mt->n_rm; k++)
		pass_drop_node(g, u, drop, mt->rm[k]);
	n = &g->nodes[mt->last];
	for (int k = 0; k < n->n_inputs; k++)
		if (n->inputs[k] >= 0)
			u->count[n->inputs[k]]--;
	n->n_inputs = 0;
	for (int k = 0; k < (mt->mask >= 0 ? 4 : 3); k++) {
		ACCEL_TRY(pass_set_input(n, k, ins[k]));
		u->count[ins[k]]++;
	}
	clear_attrs(n);
	ACCEL_TRY(pass_set_attr_float(n, "scale", mt->scale));
	for (int k = 0; k < 4; k++)
		if (mt->has_perm[k])
			ACCEL_TRY(add_ints(n, perm_names[k], mt->perm[k], mt->rank));
	n->opset = 1;
	return pass_set_op(n, "com.accel", "FusedAttention");
}

accel_status pass_fuse_attention(ir_graph *g)
{
	bool *drop = calloc((size_t)g->n_nodes + 1, sizeof(bool));
	pass_uses u = { 0 };
	accel_status st = NULL;
	int n_drop = 0;

	if (!drop || pass_uses_build(g, &u)) {
		free(drop);
		return status_oom("attention fusion");
	}
	for (int i = 0; i < g->n_nodes && !st; i++) {
		attn_match mt;

		if (drop[i] || !pass_is_op(&g->nodes[i], "Softmax") ||
		    !match(g, &u, i, &mt))
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
