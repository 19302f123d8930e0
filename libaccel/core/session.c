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

/*
 * Resolve a device list ("cpu,opencl:0", "auto") into the non-CPU devices
 * to place nodes on, in order. The CPU needs no entry: it is the fallback.
 */
static accel_status resolve_devices(accel_model *m, const char *spec,
				    const backend_device ***out, size_t *out_n)
{
	accel_context *c = m->context;
	const backend_device **list;
	char *copy, *tok, *save = NULL;
	accel_status st = NULL;
	size_t n = 0;

	*out = NULL;
	*out_n = 0;
	if (!spec || !*spec)
		return NULL;
	if (strcmp(spec, "cpu"))
		accel_context_discover(c); /* before sizing the list */
	list = calloc(c->n_devices + 1, sizeof(*list));
	copy = strdup(spec);
	if (!list || !copy) {
		free(list);
		free(copy);
		return status_oom("a device list");
	}
	for (tok = strtok_r(copy, ",", &save); tok && !st; tok = strtok_r(NULL, ",", &save)) {
		accel_device *dev;

		if (!strcmp(tok, "auto")) {
			/* Every accelerator, then the CPU (a cost model comes later). */
			for (size_t i = 0; i < c->n_devices; i++)
				if (c->devices[i]->backend.ops)
					list[n++] = &c->devices[i]->backend;
			continue;
		}
		st = accel_context_find_device(c, tok, &dev);
		if (st || !dev->backend.ops)
			continue;
		for (size_t i = 0; i < n; i++)
			if (list[i] == &dev->backend)
				st = status_invalid("device '%s' is listed twice", tok);
		if (!st)
			list[n++] = &dev->backend;
	}
	free(copy);
	if (st || n > c->n_devices) {
		free(list);
		return st ? st : status_invalid("device list '%s' names devices more than once", spec);
	}
	*out = list;
	*out_n = n;
	return NULL;
}

ACCEL_API accel_status accel_session_create(accel_model *m,
					    const accel_session_options *options,
					    accel_session **out_session)
{
	accel_session_options defaults;
	const backend_device **devs = NULL;
	size_t n_devs = 0;
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
	ACCEL_TRY(status_annotate(resolve_devices(m, options->devices, &devs, &n_devs),
				  "model '%s'", m->name));
	threads = options->num_threads ? options->num_threads : cpu_count();
	s = calloc(1, sizeof(*s));
	if (!s) {
		free(devs);
		return status_oom("a session");
	}
	atomic_init(&s->refs, 1);
	st = threadpool_create(threads, &s->pool);
	if (!st)
		st = plan_build(m->graph, s->pool, devs, n_devs, &s->plan);
	free(devs);
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

/*
 * A run's values. A value lives on the host, on one device, or both; a copy
 * is made on demand when a consumer needs it elsewhere, and both copies die
 * together when the value does.
 */
typedef struct run_values {
	const ir_graph *g;
	accel_tensor **host;
	accel_tensor **dev;
} run_values;

static const backend_device *dev_of(const accel_tensor *t)
{
	return t && t->on_device ? (const backend_device *)t->free_ctx : NULL;
}

static accel_status host_value(run_values *rv, int v, accel_tensor **out)
{
	if (!rv->host[v]) {
		if (!rv->dev[v])
			return status_error(ACCEL_INTERNAL, "value '%s' has no value",
					    rv->g->values[v].name);
		ACCEL_TRY(backend_tensor_download(dev_of(rv->dev[v]), rv->dev[v], &rv->host[v]));
	}
	*out = rv->host[v];
	return NULL;
}

static accel_status device_value(run_values *rv, int v, const backend_device *d,
				 accel_tensor **out)
{
	accel_tensor *h = NULL, *t = NULL;

	if (rv->dev[v] && dev_of(rv->dev[v]) == d) {
		*out = rv->dev[v];
		return NULL;
	}
	ACCEL_TRY(host_value(rv, v, &h));
	ACCEL_TRY(backend_tensor_upload(d, h, &t));
	accel_tensor_release(rv->dev[v]); /* a copy on another device */
	rv->dev[v] = t;
	*out = t;
	return NULL;
}

static void drop_value(run_values *rv, int v)
{
	accel_tensor_release(rv->host[v]);
	accel_tensor_release(rv->dev[v]);
	rv->host[v] = rv->dev[v] = NULL;
}

/* Shape-only views of a device step's inputs, for its schema. */
static void shape_views(accel_tensor *const *in, const bool *on_host, int n,
			accel_tensor *store, accel_tensor **views)
{
	for (int i = 0; i < n; i++) {
		if (!in[i] || on_host[i]) {
			views[i] = in[i];
			continue;
		}
		memset(&store[i], 0, sizeof(store[i]));
		store[i].dtype = in[i]->dtype;
		store[i].rank = in[i]->rank;
		memcpy(store[i].dims, in[i]->dims, sizeof(store[i].dims));
		views[i] = &store[i];
	}
}

static accel_status gather_inputs(run_values *rv, const ir_node *n, const plan_step *ps,
				  accel_tensor **in, bool *on_host)
{
	for (int i = 0; i < n->n_inputs; i++) {
		int v = n->inputs[i];

		in[i] = NULL;
		on_host[i] = true;
		if (v < 0)
			continue;
		if (!ps->device || rv->g->values[v].constant) {
			ACCEL_TRY(host_value(rv, v, &in[i]));
		} else {
			ACCEL_TRY(device_value(rv, v, ps->device, &in[i]));
			on_host[i] = false;
		}
	}
	return NULL;
}

/* True when inference already produced every output's data; otherwise
 * drop partial results so the device computes them all. */
static bool outputs_computed(accel_tensor **out, int n)
{
	bool all = true;

	for (int i = 0; i < n; i++)
		if (out[i] && !out[i]->data)
			all = false;
	for (int i = 0; i < n && !all; i++)
		if (out[i] && out[i]->data && out[i]->owns_data) {
			free(out[i]->data);
			out[i]->data = NULL;
			out[i]->owns_data = false;
		}
	return all;
}

static accel_status alloc_outputs(const ir_graph *g, const ir_node *n, const plan_step *ps,
				  accel_tensor **out)
{
	for (int i = 0; i < n->n_outputs; i++) {
		char buf[96];

		if (!out[i] || out[i]->data)
			continue;
		if (out[i]->dtype == ACCEL_DTYPE_UNDEFINED || !tensor_shape_known(out[i]))
			return status_error(ACCEL_INTERNAL, "output '%s': inference left type %s shape %s",
					    g->values[n->outputs[i]].name,
					    accel_dtype_name(out[i]->dtype),
					    tensor_shape_str(out[i], buf, sizeof(buf)));
		ACCEL_TRY(ps->device ? backend_tensor_alloc(ps->device, out[i])
				     : tensor_alloc_uninit(out[i]));
	}
	return NULL;
}

static accel_status run_step(run_values *rv, const plan_step *ps, threadpool *pool)
{
	const ir_graph *g = rv->g;
	const ir_node *n = &g->nodes[ps->node];
	accel_tensor *in[n->n_inputs + 1], *out[n->n_outputs + 1];
	accel_tensor views_store[n->n_inputs + 1], *views[n->n_inputs + 1];
	bool on_host[n->n_inputs + 1];
	/* Device steps infer from shapes alone: their inputs' data is not
	 * host memory (placement only picks nodes that allow this). */
	op_ctx octx = { .node = n, .static_infer = ps->device != NULL };
	cpu_ctx cctx = { .node = n, .pool = pool, .state = ps->state };
	accel_status st = NULL;

	for (int i = 0; i < n->n_outputs; i++)
		out[i] = NULL;
	if ((st = gather_inputs(rv, n, ps, in, on_host)))
		goto fail;
	for (int i = 0; i < n->n_outputs; i++)
		if (n->outputs[i] >= 0 &&
		    (st = tensor_new_shape(ACCEL_DTYPE_UNDEFINED, 0, NULL, &out[i])))
			goto fail;
	shape_views(in, on_host, n->n_inputs, views_store, views);
	st = ps->schema->infer(&octx, views, n->n_inputs, out, n->n_outputs);
	if (!st && ps->device && outputs_computed(out, n->n_outputs))
		goto store; /* the schema computed the values (shape arithmetic) */
	if (!st)
		st = alloc_outputs(g, n, ps, out);
	if (!st && ps->device)
		st = ps->device->ops->exec(ps->device->impl, n, ps->state, in, on_host,
					   n->n_inputs, out, n->n_outputs);
	else if (!st)
		st = ps->kernel->exec(&cctx, in, n->n_inputs, out, n->n_outputs);
	if (st)
		goto fail;
store:
	for (int i = 0; i < n->n_outputs; i++) {
		if (!out[i])
			continue;
		if (out[i]->on_device)
			rv->dev[n->outputs[i]] = out[i];
		else
			rv->host[n->outputs[i]] = out[i];
	}
	for (int i = 0; i < ps->n_dead; i++)
		drop_value(rv, ps->dead[i]);
	return NULL;
fail:
	for (int i = 0; i < n->n_outputs; i++)
		accel_tensor_release(out[i]);
	if (ps->device)
		return status_annotate(st, "node '%s' (%s) on %s", n->name, n->op_type,
				       ps->device->name);
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
	run_values rv;
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
	rv.g = g;
	rv.host = calloc((size_t)g->n_values + 1, sizeof(*rv.host));
	rv.dev = calloc((size_t)g->n_values + 1, sizeof(*rv.dev));
	if (!rv.host || !rv.dev) {
		free(rv.host);
		free(rv.dev);
		return status_oom("run values");
	}
	for (int v = 0; v < g->n_values; v++)
		if (g->values[v].constant) {
			rv.host[v] = g->values[v].constant;
			accel_tensor_retain(rv.host[v]);
		}
	st = bind_inputs(g, inputs, input_count, rv.host);
	for (int i = 0; i < s->plan->n_steps && !st; i++)
		st = run_step(&rv, &s->plan->steps[i], s->pool);
	for (; !st && done < output_count; done++) {
		int v = g->outputs[done];
		accel_tensor *t = NULL;

		st = host_value(&rv, v, &t);
		if (!st)
			st = take_output(&g->values[v], t, &out_outputs[done]);
	}
	if (st)
		for (size_t i = 0; i < done; i++)
			accel_tensor_release(out_outputs[i]);
	for (int v = 0; v < g->n_values; v++)
		drop_value(&rv, v);
	free(rv.host);
	free(rv.dev);
	return status_annotate(st, "model '%s'", s->model->name);
}

ACCEL_API accel_status accel_session_placement(const accel_session *s, size_t index,
					       accel_node_placement *out)
{
	const plan_step *ps;
	const ir_node *n;

	if (!s || !out)
		return status_invalid("accel_session_placement: NULL argument");
	if (index >= (size_t)s->plan->n_steps)
		return status_error(ACCEL_NOT_FOUND, "step %zu is out of range (%d steps)", index,
				    s->plan->n_steps);
	ps = &s->plan->steps[index];
	n = &s->model->graph->nodes[ps->node];
	out->node_name = n->name;
	out->op_type = n->op_type;
	out->device = ps->device ? ps->device->name : "cpu";
	out->reason = ps->reason;
	return NULL;
}

ACCEL_API size_t accel_session_step_count(const accel_session *s)
{
	return s ? (size_t)s->plan->n_steps : 0;
}
