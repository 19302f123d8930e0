/* SPDX-License-Identifier: MIT */
/*
 * arena.c - offsets for a run's CPU intermediates from their lifetimes.
 */
#include "sched/arena.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 64u

/* Elementwise kernels that read element i before writing element i. */
static const char *const in_place_unary[] = {
	"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Celu", "HardSigmoid",
	"HardSwish", "Softsign", "Softplus", "Gelu", "Erf", "Exp", "Log", "Sqrt",
	"Reciprocal", "Neg", "Abs", "Clip", NULL,
};
static const char *const in_place_binary[] = { "Add", "Sub", "Mul", "Div", NULL };

static bool listed(const char *const *list, const char *op)
{
	for (; *list; list++)
		if (!strcmp(*list, op))
			return true;
	return false;
}

typedef struct buffer {
	uint64_t size, offset;
	int start, end; /* steps: produced, last read */
} buffer;

static uint64_t static_bytes(const ir_value *v)
{
	uint64_t n = 1, es = accel_dtype_size(v->dtype);

	if (v->rank < 0 || !es || v->dtype == ACCEL_DTYPE_STRING || v->non_tensor)
		return 0;
	for (int d = 0; d < v->rank; d++) {
		if (v->dims[d] < 0 || (v->dims[d] && n > UINT64_MAX / 2 / (uint64_t)v->dims[d]))
			return 0;
		n *= (uint64_t)v->dims[d];
	}
	return n > UINT64_MAX / 2 / es ? 0 : n * es;
}

static bool same_dims(const ir_value *a, const ir_value *b)
{
	if (a->rank != b->rank)
		return false;
	for (int d = 0; d < a->rank; d++)
		if (a->dims[d] != b->dims[d])
			return false;
	return true;
}

/* The buffer of a dying input that |n|'s output 0 (value |v|) may take. */
static int in_place_source(const ir_graph *g, const ir_node *n, int step, int v,
			   const int *last, const int *buf_of)
{
	const ir_value *out = &g->values[v];
	bool unary = listed(in_place_unary, n->op_type);

	if (*n->domain || out->dtype != ACCEL_DTYPE_F32 ||
	    (!unary && !listed(in_place_binary, n->op_type)))
		return -1;
	for (int k = 0; k < (unary ? 1 : n->n_inputs); k++) {
		int u = n->inputs[k];

		if (u < 0 || buf_of[u] < 0 || last[u] != step)
			continue;
		if (g->values[u].dtype == out->dtype && same_dims(&g->values[u], out))
			return buf_of[u];
	}
	return -1;
}

static int cmp_size_desc(const void *a, const void *b)
{
	const buffer *x = *(buffer *const *)a, *y = *(buffer *const *)b;

	return x->size < y->size ? 1 : x->size > y->size ? -1 : (x->start > y->start) - (x->start < y->start);
}

static int cmp_offset(const void *a, const void *b)
{
	const buffer *x = *(buffer *const *)a, *y = *(buffer *const *)b;

	return (x->offset > y->offset) - (x->offset < y->offset);
}

/* Lowest offset for each buffer that clears every placed overlapping one. */
static uint64_t assign_offsets(buffer *bufs, int n)
{
	buffer **order = malloc(sizeof(*order) * (size_t)(n + 1));
	buffer **live = malloc(sizeof(*live) * (size_t)(n + 1));
	uint64_t total = 0;

	if (!order || !live) {
		free(order);
		free(live);
		return UINT64_MAX;
	}
	for (int i = 0; i < n; i++)
		order[i] = &bufs[i];
	qsort(order, (size_t)n, sizeof(*order), cmp_size_desc);
	for (int i = 0; i < n; i++) {
		buffer *b = order[i];
		uint64_t at = 0;
		int m = 0;

		for (int j = 0; j < i; j++)
			if (order[j]->start <= b->end && b->start <= order[j]->end)
				live[m++] = order[j];
		qsort(live, (size_t)m, sizeof(*live), cmp_offset);
		for (int j = 0; j < m; j++) {
			if (live[j]->offset >= at + b->size)
				break; /* the gap before it fits */
			if (live[j]->offset + live[j]->size > at)
				at = live[j]->offset + live[j]->size;
		}
		b->offset = at;
		if (at + b->size > total)
			total = at + b->size;
	}
	free(order);
	free(live);
	return total;
}

accel_status arena_plan_build(const ir_graph *g, const exec_plan *p, arena_plan **out)
{
	int nv = g->n_values, nb = 0;
	int *last = NULL, *buf_of = NULL;
	buffer *bufs = NULL;
	arena_plan *a;
	const char *off = getenv("ACCEL_NO_ARENA");

	*out = NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return status_oom("a memory plan");
	a->offset = malloc(sizeof(*a->offset) * (size_t)(nv + 1));
	a->slot_bytes = calloc((size_t)nv + 1, sizeof(*a->slot_bytes));
	last = malloc(sizeof(*last) * (size_t)(nv + 1));
	buf_of = malloc(sizeof(*buf_of) * (size_t)(nv + 1));
	bufs = calloc((size_t)nv + 1, sizeof(*bufs));
	if (!a->offset || !a->slot_bytes || !last || !buf_of || !bufs) {
		free(last);
		free(buf_of);
		free(bufs);
		arena_plan_free(a);
		return status_oom("a memory plan");
	}
	for (int v = 0; v < nv; v++) {
		a->offset[v] = -1;
		last[v] = -1;
		buf_of[v] = -1;
	}
	for (int i = 0; i < p->n_steps; i++)
		for (int k = 0; k < p->steps[i].n_dead; k++)
			last[p->steps[i].dead[k]] = i;
	for (int i = 0; i < p->n_steps && !(off && *off == '1'); i++) {
		const plan_step *ps = &p->steps[i];
		const ir_node *n = &g->nodes[ps->node];

		if (ps->device || ps->node != i)
			continue; /* device values live on the device */
		for (int k = 0; k < n->n_outputs; k++) {
			int v = n->outputs[k], b;
			const ir_value *val;
			uint64_t bytes;

			if (v < 0)
				continue;
			val = &g->values[v];
			bytes = static_bytes(val);
			if (val->kind != IR_VALUE_INTERMEDIATE || val->is_output || val->folded ||
			    last[v] < 0 || !bytes)
				continue;
			b = k == 0 ? in_place_source(g, n, i, v, last, buf_of) : -1;
			if (b >= 0 && bufs[b].size >= bytes) {
				bufs[b].end = last[v];
				a->in_place++;
			} else {
				b = nb++;
				bufs[b] = (buffer){ .size = (bytes + ARENA_ALIGN - 1) & ~(uint64_t)(ARENA_ALIGN - 1),
						    .start = i, .end = last[v] };
			}
			buf_of[v] = b;
			a->planned++;
			a->planned_bytes += bytes;
		}
	}
	a->arena_bytes = nb ? assign_offsets(bufs, nb) : 0;
	if (a->arena_bytes == UINT64_MAX) {
		free(last);
		free(buf_of);
		free(bufs);
		arena_plan_free(a);
		return status_oom("a memory plan");
	}
	for (int v = 0; v < nv; v++)
		if (buf_of[v] >= 0) {
			a->offset[v] = (int64_t)bufs[buf_of[v]].offset;
			a->slot_bytes[v] = bufs[buf_of[v]].size;
		}
	free(last);
	free(buf_of);
	free(bufs);
	*out = a;
	return NULL;
}

void arena_plan_free(arena_plan *a)
{
	if (!a)
		return;
	free(a->offset);
	free(a->slot_bytes);
	free(a);
}
