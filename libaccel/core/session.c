/* SPDX-License-Identifier: MIT */
/*
 * session.c - binding a model to devices and running it.
 *
 * A session owns the execution plan, the CPU thread pool and the pipeline
 * (sched/pipeline.h) whose per-device lanes run the plan's segments. Each
 * request owns its values; its segments run one after another on their
 * devices' worker threads, so a request's values are never touched by
 * two threads at once, while different requests overlap across devices.
 */
#include "core/runtime.h"
#include "cpu/threadpool.h"
#include "sched/arena.h"
#include "sched/batcher.h"
#include "sched/pipeline.h"
#include "sched/plan.h"
#include "sched/ring.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ARENA_SPARES 8

struct accel_session {
	atomic_int refs;
	accel_model *model;
	const ir_graph *graph; /* the model's, or its CPU copy (CPU-only sessions) */
	exec_plan *plan;
	threadpool *pool;
	pipeline *pipe;
	batcher *batch; /* NULL: dynamic batching off */
	arena_plan *arena;
	/* arena blocks of finished requests, for the next ones */
	pthread_mutex_t arena_lock;
	void *arena_spare[ARENA_SPARES];
	int n_arena_spare;
};

#define DEFAULT_BATCH_DELAY_US 1000u

static void request_exec(void *ctx, pipeline_req *pr, int first, int count);
static void request_done(void *ctx, pipeline_req *pr);
static accel_status batch_start(accel_session *s, const accel_session_options *o);

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
	s->graph = !n_devs && m->cpu_graph ? m->cpu_graph : m->graph;
	if (!st)
		st = plan_build_for(s->graph, s->pool, devs, n_devs,
				    plan_devices_list_cpu(options->devices), &s->plan);
	if (!st)
		st = arena_plan_build(s->graph, s->plan, &s->arena);
	pthread_mutex_init(&s->arena_lock, NULL);
	if (!st)
		st = pipeline_create(s->plan, request_exec, request_done, s, &s->pipe);
	s->model = m; /* borrowed until the reference is taken below */
	if (!st && options->max_batch > 1)
		st = batch_start(s, options);
	free(devs);
	if (st) {
		batcher_destroy(s->batch);
		pipeline_destroy(s->pipe);
		arena_plan_free(s->arena);
		pthread_mutex_destroy(&s->arena_lock);
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
	batcher_destroy(s->batch);
	pipeline_destroy(s->pipe);
	for (int i = 0; i < s->n_arena_spare; i++)
		free(s->arena_spare[i]);
	pthread_mutex_destroy(&s->arena_lock);
	arena_plan_free(s->arena);
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
	const arena_plan *ap; /* where planned CPU intermediates go */
	char *arena;	      /* this request's block, or NULL */
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

/* Put a CPU output in its arena slot; false when it has none or is too big. */
static bool arena_place(const run_values *rv, int v, accel_tensor *t)
{
	int64_t n = tensor_numel(t);
	size_t es = accel_dtype_size(t->dtype);

	if (!rv->arena || v < 0 || rv->ap->offset[v] < 0 || n < 0 || !es ||
	    (uint64_t)n > rv->ap->slot_bytes[v] / es)
		return false;
	t->data = rv->arena + rv->ap->offset[v];
	t->nbytes = (size_t)n * es;
	t->owns_data = false;
	return true;
}

static accel_status alloc_outputs(const run_values *rv, const ir_node *n, const plan_step *ps,
				  accel_tensor **out)
{
	const ir_graph *g = rv->g;

	for (int i = 0; i < n->n_outputs; i++) {
		char buf[96];

		if (!out[i] || out[i]->data)
			continue;
		if (out[i]->dtype == ACCEL_DTYPE_UNDEFINED || !tensor_shape_known(out[i]))
			return status_error(ACCEL_INTERNAL, "output '%s': inference left type %s shape %s",
					    g->values[n->outputs[i]].name,
					    accel_dtype_name(out[i]->dtype),
					    tensor_shape_str(out[i], buf, sizeof(buf)));
		if (ps->device)
			ACCEL_TRY(backend_tensor_alloc(ps->device, out[i]));
		else if (!arena_place(rv, n->outputs[i], out[i]))
			ACCEL_TRY(tensor_alloc_uninit(out[i]));
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
		st = alloc_outputs(rv, n, ps, out);
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

/*
 * A request: its values, and the completion its waiters sleep on. The
 * pipeline part comes first so the pipeline's callbacks can find the rest.
 * With dynamic batching a caller's request is a batcher ticket instead;
 * the batcher's workers then run internal requests, which hold no session
 * reference (the batcher, and so they, end before the session does).
 */
struct accel_request {
	pipeline_req pipe;
	accel_session *s;
	bool holds_ref;		/* the request keeps the session alive */
	batcher_ticket *ticket; /* batched: the batcher runs it */
	run_values rv;
	accel_status status; /* the first error */
	accel_tensor **outputs;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done, taken;
};

/* A block for a request's planned intermediates: a spare one, or new. */
static char *arena_get(accel_session *s)
{
	char *b = NULL;
	size_t bytes = (size_t)s->arena->arena_bytes;

	if (!bytes)
		return NULL;
	pthread_mutex_lock(&s->arena_lock);
	if (s->n_arena_spare)
		b = s->arena_spare[--s->n_arena_spare];
	pthread_mutex_unlock(&s->arena_lock);
	if (!b) {
		b = aligned_alloc(TENSOR_ALIGN, (bytes + TENSOR_ALIGN - 1) / TENSOR_ALIGN * TENSOR_ALIGN);
#ifdef ACCEL_POISON_UNINIT
		/* sanitizer builds: an output a kernel leaves unwritten shows */
		if (b)
			memset(b, 0xA5, bytes);
#endif
	}
	return b; /* NULL: every value is allocated per step instead */
}

static void arena_put(accel_session *s, char *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&s->arena_lock);
	if (s->n_arena_spare < ARENA_SPARES) {
		s->arena_spare[s->n_arena_spare++] = b;
		b = NULL;
	}
	pthread_mutex_unlock(&s->arena_lock);
	free(b);
}

static void free_values(run_values *rv)
{
	if (rv->host && rv->dev)
		for (int v = 0; v < rv->g->n_values; v++)
			drop_value(rv, v);
	free(rv->host);
	free(rv->dev);
	rv->host = rv->dev = NULL;
}

/* Values first (nothing then points into the arena), then the arena. */
static void request_free_values(accel_request *r)
{
	free_values(&r->rv);
	arena_put(r->s, r->rv.arena);
	r->rv.arena = NULL;
}

/* Pipeline callback, on a device worker: run steps [first, first+count). */
static void request_exec(void *ctx, pipeline_req *pr, int first, int count)
{
	accel_session *s = ctx;
	accel_request *r = (accel_request *)pr;
	const backend_device *d = s->plan->steps[first].device;

	for (int i = first; i < first + count && !r->status; i++)
		r->status = run_step(&r->rv, &s->plan->steps[i], s->pool);
	/* the segment ends when the device is done: its lane's busy time and
	 * timeline point then mean the work, not its enqueueing */
	if (!r->status && d && d->ops->finish) {
		r->status = d->ops->finish(d->impl);
		if (r->status)
			r->status = status_annotate(r->status, "finishing steps %d-%d on %s",
						    first, first + count - 1, d->name);
	}
}

static void mark_done(accel_request *r)
{
	pthread_mutex_lock(&r->lock);
	r->done = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* Pipeline callback, after the last segment: outputs out, values freed. */
static void request_done(void *ctx, pipeline_req *pr)
{
	accel_session *s = ctx;
	accel_request *r = (accel_request *)pr;
	const ir_graph *g = s->graph;
	int done = 0;

	if (pr->submit_error && !r->status)
		r->status = pr->submit_error;
	else
		accel_status_free(pr->submit_error);
	pr->submit_error = NULL;
	for (; !r->status && done < g->n_outputs; done++) {
		int v = g->outputs[done];
		accel_tensor *t = NULL;

		r->status = host_value(&r->rv, v, &t);
		if (!r->status)
			r->status = take_output(&g->values[v], t, &r->outputs[done]);
	}
	if (r->status) {
		for (int i = 0; i < done; i++) {
			accel_tensor_release(r->outputs[i]);
			r->outputs[i] = NULL;
		}
		r->status = status_annotate(r->status, "model '%s'", s->model->name);
	}
	request_free_values(r);
	mark_done(r);
}

static void request_destroy(accel_request *r)
{
	const ir_graph *g = r->s->graph;

	request_free_values(r);
	for (int i = 0; r->outputs && i < g->n_outputs; i++)
		accel_tensor_release(r->outputs[i]);
	free(r->outputs);
	batcher_ticket_free(r->ticket);
	accel_status_free(r->status);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	if (r->holds_ref)
		accel_session_release(r->s);
	free(r);
}

/* A request; |values|: with a value table (run here, not batched). */
static accel_status request_new(accel_session *s, bool values, bool hold_ref,
				accel_request **out)
{
	const ir_graph *g = s->graph;
	pthread_condattr_t ca;
	accel_request *r = NULL;

	r = calloc(1, sizeof(*r));
	if (!r)
		return status_oom("a request");
	r->rv.g = g;
	if (values) {
		r->rv.host = calloc((size_t)g->n_values + 1, sizeof(*r->rv.host));
		r->rv.dev = calloc((size_t)g->n_values + 1, sizeof(*r->rv.dev));
	}
	r->outputs = calloc((size_t)g->n_outputs + 1, sizeof(*r->outputs));
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (hold_ref)
		accel_session_retain(s);
	r->holds_ref = hold_ref;
	r->s = s;
	if ((values && (!r->rv.host || !r->rv.dev)) || !r->outputs) {
		request_destroy(r);
		return status_oom("run values");
	}
	for (int v = 0; values && v < g->n_values; v++)
		if (g->values[v].constant) {
			r->rv.host[v] = g->values[v].constant;
			accel_tensor_retain(r->rv.host[v]);
		}
	*out = r;
	return NULL;
}

/* Bind and queue a request on the pipeline. */
static accel_status submit_direct(accel_session *s, const accel_named_tensor *inputs,
				  size_t input_count, bool hold_ref, accel_request **out)
{
	accel_request *r = NULL;
	accel_status st;

	ACCEL_TRY(request_new(s, true, hold_ref, &r));
	r->rv.ap = s->arena;
	r->rv.arena = arena_get(s);
	st = bind_inputs(s->graph, inputs, input_count, r->rv.host);
	if (st) {
		request_destroy(r);
		return status_annotate(st, "model '%s'", s->model->name);
	}
	pipeline_submit(s->pipe, &r->pipe);
	*out = r;
	return NULL;
}

static void wait_done(accel_request *r)
{
	pthread_mutex_lock(&r->lock);
	while (!r->done)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

/* Outputs of a completed request, handed over (once). */
static accel_status hand_outputs(accel_request *r, accel_tensor **out, size_t count)
{
	if (r->taken)
		return status_invalid("model '%s': the request's outputs were already taken",
				      r->s->model->name);
	r->taken = true;
	for (size_t i = 0; i < count; i++) {
		out[i] = r->outputs[i];
		r->outputs[i] = NULL;
	}
	return NULL;
}

/* The batcher's run function: one (merged) run through the pipeline. */
static accel_status batch_run(void *ctx, const accel_named_tensor *inputs, size_t n_in,
			      accel_tensor **outputs, size_t n_out)
{
	accel_session *s = ctx;
	accel_request *r = NULL;
	accel_status st;

	ACCEL_TRY(submit_direct(s, inputs, n_in, false, &r));
	wait_done(r);
	st = r->status;
	r->status = NULL;
	if (!st)
		st = hand_outputs(r, outputs, n_out);
	request_destroy(r);
	return st;
}

static accel_status batch_start(accel_session *s, const accel_session_options *o)
{
	const accel_model *m = s->model;
	size_t n_in = accel_model_input_count(m), n_out = accel_model_output_count(m);
	accel_value_info *in = calloc(n_in + 1, sizeof(*in));
	accel_value_info *out = calloc(n_out + 1, sizeof(*out));
	batcher_params bp = {
		.max_batch = o->max_batch,
		.max_delay_us = o->max_batch_delay_us ? o->max_batch_delay_us :
							DEFAULT_BATCH_DELAY_US,
		/* a batch per device in flight, and the next one forming */
		.workers = (uint32_t)pipeline_lane_count(s->pipe) + 1,
		.n_inputs = n_in,
		.inputs = in,
		.n_outputs = n_out,
		.outputs = out,
	};
	accel_status st = NULL;

	if (!in || !out)
		st = status_oom("batcher metadata");
	for (size_t i = 0; !st && i < n_in; i++)
		st = accel_model_input_info(m, i, &in[i]);
	for (size_t i = 0; !st && i < n_out; i++)
		st = accel_model_output_info(m, i, &out[i]);
	if (!st)
		st = batcher_create(&bp, batch_run, s, &s->batch);
	free(in);
	free(out);
	return st ? status_annotate(st, "starting dynamic batching") : NULL;
}

ACCEL_API accel_status accel_session_submit(accel_session *s, const accel_named_tensor *inputs,
					    size_t input_count, uint32_t flags,
					    accel_request **out_request)
{
	accel_request *r = NULL;
	accel_status st;

	if (out_request)
		*out_request = NULL;
	if (!s || (!inputs && input_count) || !out_request)
		return status_invalid("accel_session_submit: NULL argument");
	if (flags)
		return status_invalid("model '%s': accel_session_submit: unknown flags 0x%x",
				      s->model->name, flags);
	if (!s->batch)
		return submit_direct(s, inputs, input_count, true, out_request);
	/* check the inputs here, so a bad one fails its own submit */
	ACCEL_TRY(request_new(s, true, true, &r));
	st = bind_inputs(s->graph, inputs, input_count, r->rv.host);
	request_free_values(r);
	if (!st)
		st = batcher_submit(s->batch, inputs, input_count,
				    (size_t)s->graph->n_outputs, &r->ticket);
	if (st) {
		request_destroy(r);
		return status_annotate(st, "model '%s'", s->model->name);
	}
	*out_request = r;
	return NULL;
}

/* A batched request: collect the batcher's result once it has one. */
static accel_status ticket_wait(accel_request *r, int64_t timeout_ns)
{
	accel_status st;

	pthread_mutex_lock(&r->lock);
	if (!r->done) {
		st = batcher_wait(r->ticket, timeout_ns, r->outputs);
		if (st && accel_status_code_of(st) == ACCEL_DEADLINE_EXCEEDED) {
			pthread_mutex_unlock(&r->lock);
			return st;
		}
		r->status = st;
		r->done = true;
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* Until the request is done, whichever path runs it. */
static void wait_forever(accel_request *r)
{
	if (r->ticket)
		accel_status_free(ticket_wait(r, ACCEL_WAIT_FOREVER));
	wait_done(r);
}

ACCEL_API accel_status accel_request_wait(accel_request *r, int64_t timeout_ns)
{
	struct timespec ts;
	accel_status st = NULL;
	int err = 0;

	if (!r)
		return status_invalid("accel_request_wait: NULL request");
	if (r->ticket)
		ACCEL_TRY(ticket_wait(r, timeout_ns));
	if (timeout_ns > 0) {
		uint64_t deadline = accel_now_ns() + (uint64_t)timeout_ns;

		ts.tv_sec = (time_t)(deadline / 1000000000);
		ts.tv_nsec = (long)(deadline % 1000000000);
	}
	pthread_mutex_lock(&r->lock);
	while (!r->done && err != ETIMEDOUT) {
		if (timeout_ns == 0)
			err = ETIMEDOUT;
		else if (timeout_ns < 0)
			pthread_cond_wait(&r->cond, &r->lock);
		else
			err = pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	}
	if (!r->done)
		st = status_error(ACCEL_DEADLINE_EXCEEDED, "model '%s': the request is still running",
				  r->s->model->name);
	else if (r->status)
		st = status_error(accel_status_code_of(r->status), "%s",
				  accel_status_message(r->status));
	pthread_mutex_unlock(&r->lock);
	return st;
}

ACCEL_API accel_status accel_request_take_outputs(accel_request *r, accel_tensor **out,
						  size_t count)
{
	const ir_graph *g;

	if (!r || (!out && count))
		return status_invalid("accel_request_take_outputs: NULL argument");
	g = r->s->graph;
	if (count != (size_t)g->n_outputs)
		return status_invalid("model '%s': %zu outputs requested, the model has %d",
				      r->s->model->name, count, g->n_outputs);
	ACCEL_TRY(accel_request_wait(r, 0));
	return hand_outputs(r, out, count);
}

ACCEL_API void accel_request_free(accel_request *r)
{
	if (!r)
		return;
	wait_forever(r);
	request_destroy(r);
}

ACCEL_API accel_status accel_session_run(accel_session *s, const accel_named_tensor *inputs,
					 size_t input_count, accel_tensor **out_outputs,
					 size_t output_count, uint32_t flags)
{
	accel_request *r = NULL;
	accel_status st;

	if (!s || (!inputs && input_count) || (!out_outputs && output_count))
		return status_invalid("accel_session_run: NULL argument");
	if (flags)
		return status_invalid("model '%s': accel_session_run: unknown flags 0x%x",
				      s->model->name, flags);
	if (output_count != (size_t)s->graph->n_outputs)
		return status_invalid("model '%s': accel_session_run: %zu outputs requested, the model has %d",
				      s->model->name, output_count, s->graph->n_outputs);
	ACCEL_TRY(accel_session_submit(s, inputs, input_count, 0, &r));
	wait_forever(r);
	/* the request's own status, not a copy: hand it over */
	st = r->status;
	r->status = NULL;
	if (!st)
		st = hand_outputs(r, out_outputs, output_count);
	accel_request_free(r);
	return st;
}

ACCEL_API accel_status accel_session_memory_plan(const accel_session *s, accel_memory_plan *out)
{
	if (!s || !out)
		return status_invalid("accel_session_memory_plan: NULL argument");
	out->arena_bytes = s->arena->arena_bytes;
	out->planned_bytes = s->arena->planned_bytes;
	out->planned_values = s->arena->planned;
	out->in_place = s->arena->in_place;
	return NULL;
}

ACCEL_API size_t accel_session_device_count(const accel_session *s)
{
	return s ? (size_t)pipeline_lane_count(s->pipe) : 0;
}

ACCEL_API accel_status accel_session_device_activity(const accel_session *s, size_t index,
						     accel_device_activity *out)
{
	pipeline_lane_stats ls;

	if (!s || !out)
		return status_invalid("accel_session_device_activity: NULL argument");
	if (index >= (size_t)pipeline_lane_count(s->pipe))
		return status_error(ACCEL_NOT_FOUND, "device %zu is out of range (%d in use)", index,
				    pipeline_lane_count(s->pipe));
	pipeline_lane_stats_get(s->pipe, (int)index, &ls);
	out->device = ls.device;
	out->busy_ns = ls.busy_ns;
	out->segments = ls.segments;
	out->steps = ls.steps;
	return NULL;
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
	n = &s->graph->nodes[ps->node];
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
