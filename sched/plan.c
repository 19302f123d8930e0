/* SPDX-License-Identifier: MIT */
/* plan.c - placement, per-node preparation and value liveness for one graph. */
#include "sched/plan.h"

#include <stdlib.h>
#include <string.h>

void plan_free(exec_plan *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n_steps; i++) {
		plan_step *s = &p->steps[i];

		if (s->state && s->device && s->device->ops->release)
			s->device->ops->release(s->device->impl, s->state);
		else if (s->state && !s->device && s->kernel && s->kernel->release)
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

	for (int i = 0; i < n->n_inputs; i++)
		cin[i] = n->inputs[i] >= 0 ? g->values[n->inputs[i]].constant : NULL;
	if (s->device) {
		if (!s->device->ops->prepare)
			return NULL;
		return status_annotate(s->device->ops->prepare(s->device->impl, n, cin,
								n->n_inputs, &s->state),
				       "node '%s' (%s) on %s", n->name, n->op_type,
				       s->device->name);
	}
	if (!s->kernel->prepare)
		return NULL;
	return status_annotate(s->kernel->prepare(&ctx, cin, n->n_inputs, &s->state),
			       "node '%s' (%s)", n->name, n->op_type);
}

/* Headers describing a node's inputs as known at load time. */
static void input_headers(const ir_graph *g, const ir_node *n, accel_tensor *store,
			  accel_tensor **in)
{
	for (int i = 0; i < n->n_inputs; i++) {
		const ir_value *v;

		if (n->inputs[i] < 0) {
			in[i] = NULL;
			continue;
		}
		v = &g->values[n->inputs[i]];
		if (v->constant) {
			in[i] = v->constant;
			continue;
		}
		memset(&store[i], 0, sizeof(store[i]));
		store[i].dtype = v->dtype;
		store[i].rank = v->rank;
		for (int d = 0; d < v->rank; d++)
			store[i].dims[d] = v->dims[d];
		in[i] = &store[i];
	}
}

/* The first listed device that supports node |n|, or NULL (the CPU). */
static const backend_device *place(const ir_graph *g, const ir_node *n,
				   const backend_device *const *devices, size_t n_devices,
				   const char **reason)
{
	accel_tensor store[n->n_inputs + 1], *in[n->n_inputs + 1];

	if (!n_devices) {
		*reason = "cpu: the only device of this session";
		return NULL;
	}
	input_headers(g, n, store, in);
	for (size_t d = 0; d < n_devices; d++)
		if (devices[d]->ops->supports(devices[d]->impl, n, in, n->n_inputs)) {
			*reason = d ? "first listed device that supports it (earlier ones do not)"
				    : "first listed device supports it";
			return devices[d];
		}
	*reason = "cpu fallback: no listed device supports it";
	return NULL;
}

accel_status plan_build(const ir_graph *g, threadpool *pool,
			const backend_device *const *devices, size_t n_devices,
			exec_plan **out)
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
		s->device = place(g, n, devices, n_devices, &s->reason);
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
