/* SPDX-License-Identifier: MIT */
/*
 * session.c - binding a model to devices and running it.
 *
 * A session owns the execution plan and the CPU thread pool; each run owns
 * its values, so concurrent runs on one session share nothing mutable but
 * the pool, which serialises its parallel sections.
 */
#include "core/runtime.h"
#include "cpu/threadpool.h"
#include "sched/plan.h"

#include <stdlib.h>
#include <string.h>

struct accel_session {
	atomic_int refs;
	accel_model *model;
	exec_plan *plan;
	threadpool *pool;
};

ACCEL_API void accel_session_options_init(accel_session_options *o)
{
	if (!o)
		return;
	memset(o, 0, sizeof(*o));
	o->struct_size = sizeof(*o);
}

static accel_status check_devices(accel_model *m, const char *spec)
{
	accel_device *dev;
	char *copy, *tok, *save = NULL;
	accel_status st = NULL;

	if (!spec || !*spec)
		return NULL;
	copy = strdup(spec);
	if (!copy)
		return status_oom("a device list");
	for (tok = strtok_r(copy, ",", &save); tok && !st; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "auto"))
			continue; /* auto: whatever is present; the CPU always is */
		st = accel_context_find_device(m->context, tok, &dev);
	}
	free(copy);
	return st;
}

ACCEL_API accel_status accel_session_create(accel_model *m,
					    const accel_session_options *options,
					    accel_session **out_session)
{
	accel_session_options defaults;
	accel_session *s;
	accel_status st;
	int threads;

	if (!m || !out_session)
		return status_invalid("accel_session_create: NULL argument");
	if (!options) {
		accel_session_options_init(&defaults);
		options = &defaults;
	}
	if (options->struct_size != sizeof(*options))
		return status_invalid("accel_session_create: options.struct_size is %u, expected %zu (call accel_session_options_init)",
				      options->struct_size, sizeof(*options));
	if (options->flags)
		return status_invalid("accel_session_create: unknown flags 0x%x", options->flags);
	if (options->num_threads < 0)
		return status_invalid("accel_session_create: num_threads %d is negative",
				      options->num_threads);
	ACCEL_TRY(status_annotate(check_devices(m, options->devices), "model '%s'", m->name));
	threads = options->num_threads ? options->num_threads : cpu_count();
	s = calloc(1, sizeof(*s));
	if (!s)
		return status_oom("a session");
	atomic_init(&s->refs, 1);
	st = threadpool_create(threads, &s->pool);
	if (!st)
		st = plan_build(m->graph, s->pool, &s->plan);
	if (st) {
		plan_free(s->plan);
		threadpool_destroy(s->pool);
		free(s);
		return status_annotate(st, "model '%s'", m->name);
	}
	accel_model_retain(m);
	s->model = m;
	*out_session = s;
	return NULL;
}

ACCEL_API void accel_session_retain(accel_session *s)
{
	if (s)
		atomic_fetch_add(&s->refs, 1);
}

ACCEL_API void accel_session_release(accel_session *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	threadpool_destroy(s->pool);
	plan_free(s->plan);
	accel_model_release(s->model);
	free(s);
}

/* Check a caller's tensor against the declared input type and shape. */
static accel_status check_input(const ir_value *v, const accel_tensor *t)
{
	char want[96], got[96];

	if (!t)
		return status_invalid("input '%s': tensor is NULL", v->name);
	if (v->dtype != ACCEL_DTYPE_UNDEFINED && t->dtype != v->dtype)
		return status_invalid("input '%s': expected element type %s, got %s",
				      v->name, accel_dtype_name(v->dtype),
				      accel_dtype_name(t->dtype));
	if (v->rank < 0)
		return NULL;
	if (t->rank != v->rank)
		return status_invalid("input '%s': expected shape %s (rank %d), got %s (rank %d)",
				      v->name, dims_str(v->rank, v->dims, want, sizeof(want)),
				      v->rank, tensor_shape_str(t, got, sizeof(got)), t->rank);
	for (int d = 0; d < v->rank; d++)
		if (v->dims[d] >= 0 && v->dims[d] != t->dims[d])
			return status_invalid("input '%s': expected shape %s, got %s (dimension %d)",
					      v->name, dims_str(v->rank, v->dims, want, sizeof(want)),
					      tensor_shape_str(t, got, sizeof(got)), d);
	if (!t->data && tensor_numel(t) > 0)
		return status_invalid("input '%s': tensor has no data", v->name);
	return NULL;
}

static accel_status bind_inputs(const ir_graph *g, const accel_named_tensor *inputs,
				size_t n, accel_tensor **vals)
{
	for (size_t i = 0; i < n; i++) {
		int idx;

		if (!inputs[i].name)
			return status_invalid("input %zu has no name", i);
		idx = ir_graph_find_value(g, inputs[i].name);
		if (idx < 0 || g->values[idx].kind != IR_VALUE_INPUT) {
			if (idx >= 0 && g->values[idx].kind == IR_VALUE_CONSTANT)
				return status_invalid("input '%s' is an initializer and cannot be overridden",
						      inputs[i].name);
			return status_error(ACCEL_NOT_FOUND, "the model has no input named '%s'%s%s",
					    inputs[i].name, g->n_inputs ? " (first input: '" : "",
					    g->n_inputs ? g->values[g->inputs[0]].name : "");
		}
		if (vals[idx])
			return status_invalid("input '%s' is given twice", inputs[i].name);
		ACCEL_TRY(check_input(&g->values[idx], inputs[i].tensor));
		accel_tensor_retain(inputs[i].tensor);
		vals[idx] = inputs[i].tensor;
	}
	for (int i = 0; i < g->n_inputs; i++)
		if (!vals[g->inputs[i]])
			return status_error(ACCEL_NOT_FOUND, "input '%s' is missing",
					    g->values[g->inputs[i]].name);
	return NULL;
}

static accel_status run_step(const ir_graph *g, const plan_step *ps, threadpool *pool,
			     accel_tensor **vals)
{
	const ir_node *n = &g->nodes[ps->node];
	accel_tensor *in[n->n_inputs + 1], *out[n->n_outputs + 1];
	op_ctx octx = { .node = n, .static_infer = false };
	cpu_ctx cctx = { .node = n, .pool = pool, .state = ps->state };
	accel_status st = NULL;

	for (int i = 0; i < n->n_inputs; i++) {
		in[i] = n->inputs[i] >= 0 ? vals[n->inputs[i]] : NULL;
		if (n->inputs[i] >= 0 && !in[i])
			return status_error(ACCEL_INTERNAL, "input '%s' has no value",
					    g->values[n->inputs[i]].name);
	}
	for (int i = 0; i < n->n_outputs; i++) {
		out[i] = NULL;
		if (n->outputs[i] >= 0 &&
		    (st = tensor_new_shape(ACCEL_DTYPE_UNDEFINED, 0, NULL, &out[i])))
			goto fail;
	}
	st = ps->schema->infer(&octx, in, n->n_inputs, out, n->n_outputs);
	for (int i = 0; i < n->n_outputs && !st; i++) {
		char buf[96];

		if (!out[i] || out[i]->data)
			continue;
		if (out[i]->dtype == ACCEL_DTYPE_UNDEFINED || !tensor_shape_known(out[i]))
			st = status_error(ACCEL_INTERNAL, "output '%s': inference left type %s shape %s",
					  g->values[n->outputs[i]].name,
					  accel_dtype_name(out[i]->dtype),
					  tensor_shape_str(out[i], buf, sizeof(buf)));
		else
			st = tensor_alloc_uninit(out[i]);
	}
	if (!st)
		st = ps->kernel->exec(&cctx, in, n->n_inputs, out, n->n_outputs);
	if (st)
		goto fail;
	for (int i = 0; i < n->n_outputs; i++)
		if (out[i])
			vals[n->outputs[i]] = out[i];
	for (int i = 0; i < ps->n_dead; i++) {
		accel_tensor_release(vals[ps->dead[i]]);
		vals[ps->dead[i]] = NULL;
	}
	return NULL;
fail:
	for (int i = 0; i < n->n_outputs; i++)
		accel_tensor_release(out[i]);
	return status_annotate(st, "node '%s' (%s)", n->name, n->op_type);
}

/* Graph outputs that alias caller or model memory are copied out. */
static accel_status take_output(const ir_value *v, accel_tensor *t, accel_tensor **out)
{
	if (v->kind == IR_VALUE_INTERMEDIATE) {
		accel_tensor_retain(t);
		*out = t;
		return NULL;
	}
	return accel_tensor_create_copy(t->dtype, t->rank, t->dims, t->data, t->nbytes, out);
}

ACCEL_API accel_status accel_session_run(accel_session *s, const accel_named_tensor *inputs,
					 size_t input_count, accel_tensor **out_outputs,
					 size_t output_count, uint32_t flags)
{
	const ir_graph *g;
	accel_tensor **vals;
	accel_status st = NULL;
	size_t done = 0;

	if (!s || (!inputs && input_count) || (!out_outputs && output_count))
		return status_invalid("accel_session_run: NULL argument");
	g = s->model->graph;
	if (flags)
		return status_invalid("model '%s': accel_session_run: unknown flags 0x%x",
				      s->model->name, flags);
	if (output_count != (size_t)g->n_outputs)
		return status_invalid("model '%s': accel_session_run: %zu outputs requested, the model has %d",
				      s->model->name, output_count, g->n_outputs);
	vals = calloc((size_t)g->n_values + 1, sizeof(*vals));
	if (!vals)
		return status_oom("run values");
	for (int v = 0; v < g->n_values; v++)
		if (g->values[v].constant) {
			vals[v] = g->values[v].constant;
			accel_tensor_retain(vals[v]);
		}
	st = bind_inputs(g, inputs, input_count, vals);
	for (int i = 0; i < s->plan->n_steps && !st; i++)
		st = run_step(g, &s->plan->steps[i], s->pool, vals);
	for (; !st && done < output_count; done++) {
		int v = g->outputs[done];

		if (!vals[v])
			st = status_error(ACCEL_INTERNAL, "output '%s' was not computed",
					  g->values[v].name);
		else
			st = take_output(&g->values[v], vals[v], &out_outputs[done]);
	}
	if (st)
		for (size_t i = 0; i < done; i++)
			accel_tensor_release(out_outputs[i]);
	for (int v = 0; v < g->n_values; v++)
		accel_tensor_release(vals[v]);
	free(vals);
	return status_annotate(st, "model '%s'", s->model->name);
}
