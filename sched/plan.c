/* SPDX-License-Identifier: MIT */
/* plan.c - placement (CPU) and value liveness for one graph. */
#include "sched/plan.h"

#include <stdlib.h>

void plan_free(exec_plan *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n_steps; i++) {
		plan_step *s = &p->steps[i];

		if (s->state && s->kernel && s->kernel->release)
			s->kernel->release(s->state);
		free(s->dead);
	}
	free(p->steps);
	free(p);
}

static accel_status prepare_step(const ir_graph *g, threadpool *pool, plan_step *s)
{
	const ir_node *n = &g->nodes[s->node];
	accel_tensor *cin[n->n_inputs + 1];
	cpu_ctx ctx = { .node = n, .pool = pool };

	if (!s->kernel->prepare)
		return NULL;
	for (int i = 0; i < n->n_inputs; i++)
		cin[i] = n->inputs[i] >= 0 ? g->values[n->inputs[i]].constant : NULL;
	return status_annotate(s->kernel->prepare(&ctx, cin, n->n_inputs, &s->state),
			       "node '%s' (%s)", n->name, n->op_type);
}

accel_status plan_build(const ir_graph *g, threadpool *pool, exec_plan **out)
{
	exec_plan *p = calloc(1, sizeof(*p));
	int *last = malloc(sizeof(int) * ((size_t)g->n_values + 1));
	accel_status st = NULL;

	if (!p || !last) {
		st = status_oom("an execution plan");
		goto fail;
	}
	p->steps = calloc((size_t)g->n_nodes + 1, sizeof(plan_step));
	if (!p->steps) {
		st = status_oom("an execution plan");
		goto fail;
	}
	p->n_steps = g->n_nodes;
	/* last[v]: the step after which value v is no longer needed. */
	for (int v = 0; v < g->n_values; v++)
		last[v] = g->values[v].producer;
	for (int i = 0; i < g->n_nodes; i++) {
		const ir_node *n = &g->nodes[i];
		plan_step *s = &p->steps[i];

		s->node = i;
		s->schema = op_schema_find(n->domain, n->op_type);
		s->kernel = cpu_kernel_find(n->domain, n->op_type);
		if (!s->schema || !s->kernel) {
			st = status_unsupported("node '%s': the CPU backend has no kernel for %s",
						n->name, n->op_type);
			goto fail;
		}
		for (int k = 0; k < n->n_inputs; k++)
			if (n->inputs[k] >= 0)
				last[n->inputs[k]] = i;
		if ((st = prepare_step(g, pool, s)))
			goto fail;
	}
	for (int v = 0; v < g->n_values; v++) {
		const ir_value *val = &g->values[v];
		plan_step *s;
		int *nd;

		if (val->is_output || val->kind != IR_VALUE_INTERMEDIATE || last[v] < 0)
			continue;
		s = &p->steps[last[v]];
		nd = realloc(s->dead, sizeof(int) * ((size_t)s->n_dead + 1));
		if (!nd) {
			st = status_oom("an execution plan");
			goto fail;
		}
		s->dead = nd;
		s->dead[s->n_dead++] = v;
	}
	free(last);
	*out = p;
	return NULL;
fail:
	free(last);
	plan_free(p);
	return st;
}
