/* SPDX-License-Identifier: MIT */
/* cost.c - measured device profiles and per-node cost estimates (cost.h). */
#include "sched/cost.h"
#include "cpu/kernel.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Probe sizes: a few ms of work per device, well above timer noise. */
#define GEMM_N 256
#define STREAM_ELEMS (1 << 20)
#define XFER_SMALL 64
#define XFER_LARGE ((size_t)STREAM_ELEMS * sizeof(float))
#define PROBE_BUDGET_S 0.015 /* per probe, once two runs are timed */

typedef struct profile_entry {
	char *name;
	cost_profile p;
} profile_entry;

typedef struct profile_table {
	profile_entry *e;
	size_t n;
} profile_table;

/* Installed and measured profiles: process-wide, behind one lock. */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static profile_table installed, measured;
static bool env_read;
static char *env_error; /* why ACCEL_COST_PROFILE was refused, or NULL */

void cost_profile_defaults(cost_profile *out)
{
	memset(out, 0, sizeof(*out));
	out->gemm_flops = 10e9;
	out->stream_bps = 10e9;
	out->launch_s = 10e-6;
}

/* ---- the tables ---- */

static profile_entry *table_find(profile_table *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->e[i].name, name))
			return &t->e[i];
	return NULL;
}

static accel_status table_put(profile_table *t, const char *name, const cost_profile *p)
{
	profile_entry *e = table_find(t, name), *grown;

	if (e) {
		e->p = *p;
		return NULL;
	}
	grown = realloc(t->e, sizeof(*grown) * (t->n + 1));
	if (!grown)
		return status_oom("a cost profile");
	t->e = grown;
	e = &t->e[t->n];
	e->name = strdup(name);
	if (!e->name)
		return status_oom("a cost profile");
	e->p = *p;
	t->n++;
	return NULL;
}

static void table_remove(profile_table *t, const char *name)
{
	profile_entry *e = table_find(t, name);

	if (!e)
		return;
	free(e->name);
	*e = t->e[--t->n];
}

static void table_clear(profile_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->e[i].name);
	free(t->e);
	t->e = NULL;
	t->n = 0;
}

/* An installed profile for a device called |full|: its whole name, or the
 * part before the first space ("opencl:0" of "opencl:0 (pthread-...)"). */
static const cost_profile *installed_for(const char *full)
{
	size_t short_len = strcspn(full, " ");

	for (size_t i = 0; i < installed.n; i++) {
		const char *n = installed.e[i].name;

		if (!strcmp(n, full) || (strlen(n) == short_len && !strncmp(n, full, short_len)))
			return &installed.e[i].p;
	}
	return NULL;
}

/* ---- ACCEL_COST_PROFILE ---- */

static const struct {
	const char *key;
	size_t off;
	double unit;
} env_keys[] = {
	{ "gemm_gflops", offsetof(cost_profile, gemm_flops), 1e9 },
	{ "conv_gflops", offsetof(cost_profile, conv_flops), 1e9 },
	{ "stream_gbps", offsetof(cost_profile, stream_bps), 1e9 },
	{ "launch_us", offsetof(cost_profile, launch_s), 1e-6 },
	{ "up_gbps", offsetof(cost_profile, up_bps), 1e9 },
	{ "up_lat_us", offsetof(cost_profile, up_lat_s), 1e-6 },
	{ "down_gbps", offsetof(cost_profile, down_bps), 1e9 },
	{ "down_lat_us", offsetof(cost_profile, down_lat_s), 1e-6 },
};

static accel_status env_pair(cost_profile *p, char *tok)
{
	char *eq = strchr(tok, '='), *end;
	double v;

	if (!eq)
		return status_invalid("'%s' is not key=value", tok);
	*eq = '\0';
	errno = 0;
	v = strtod(eq + 1, &end);
	if (errno || end == eq + 1 || *end || !(v >= 0) || isinf(v))
		return status_invalid("%s: '%s' is not a non-negative number", tok, eq + 1);
	for (size_t k = 0; k < sizeof(env_keys) / sizeof(env_keys[0]); k++)
		if (!strcmp(tok, env_keys[k].key)) {
			*(double *)((char *)p + env_keys[k].off) = v * env_keys[k].unit;
			return NULL;
		}
	return status_invalid("unknown key '%s'", tok);
}

static accel_status env_line(char *line)
{
	char *save = NULL, *name, *tok;
	cost_profile p;

	line[strcspn(line, "#\n")] = '\0';
	name = strtok_r(line, " \t", &save);
	if (!name)
		return NULL;
	cost_profile_defaults(&p);
	while ((tok = strtok_r(NULL, " \t", &save)))
		ACCEL_TRY(env_pair(&p, tok));
	return table_put(&installed, name, &p);
}

static accel_status env_read_locked(const char *path)
{
	char line[1024];
	accel_status st = NULL;
	int ln = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return status_error(errno == ENOENT ? ACCEL_NOT_FOUND : ACCEL_IO_ERROR,
				    "ACCEL_COST_PROFILE '%s': %s", path, strerror(errno));
	while (!st && fgets(line, sizeof(line), f)) {
		ln++;
		st = status_annotate(env_line(line), "ACCEL_COST_PROFILE '%s' line %d", path, ln);
	}
	fclose(f);
	return st;
}

/* Read the file once; a refusal is kept and reported by every later get. */
static accel_status env_check_locked(void)
{
	const char *path = getenv("ACCEL_COST_PROFILE");

	if (!env_read) {
		env_read = true;
		if (path && *path) {
			accel_status st = env_read_locked(path);

			if (st) {
				env_error = strdup(accel_status_message(st));
				accel_status_free(st);
				if (!env_error)
					return status_oom("a cost profile error");
			}
		}
	}
	return env_error ? status_invalid("%s", env_error) : NULL;
}

accel_status cost_profile_install(const char *name, const cost_profile *p)
{
	accel_status st = NULL;

	if (!name && p)
		return status_invalid("cost_profile_install: a profile without a device name");
	pthread_mutex_lock(&table_lock);
	if (!name)
		table_clear(&installed);
	else if (!p)
		table_remove(&installed, name);
	else
		st = table_put(&installed, name, p);
	pthread_mutex_unlock(&table_lock);
	return st;
}

/* ---- measuring ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A node with no attributes over values 0.. (kernels read only shapes). */
typedef struct probe_node {
	ir_node node;
	int ids[3];
} probe_node;

static void probe_init(probe_node *p, const char *op, int n_in)
{
	memset(p, 0, sizeof(*p));
	p->ids[0] = 0;
	p->ids[1] = 1;
	p->ids[2] = 2;
	p->node.name = "cost probe";
	p->node.op_type = (char *)op;
	p->node.domain = "";
	p->node.opset = 13;
	p->node.n_inputs = n_in;
	p->node.inputs = p->ids;
	p->node.n_outputs = 1;
	p->node.outputs = &p->ids[2];
}

/* Where a probe runs: a backend device, or the CPU kernels on |pool|. */
typedef struct prober {
	const backend_device *d;
	threadpool *pool;
} prober;

static accel_status make_tensor(const prober *pr, int rank, const int64_t *dims,
				accel_tensor **out)
{
	accel_status st;

	if (!pr->d)
		return tensor_new(ACCEL_DTYPE_F32, rank, dims, out);
	ACCEL_TRY(tensor_new_shape(ACCEL_DTYPE_F32, rank, dims, out));
	if ((st = backend_tensor_alloc(pr->d, *out))) {
		accel_tensor_release(*out);
		*out = NULL;
	}
	return st;
}

/* in[i] is a host constant when |host_mask| has bit i (weights). */
static bool probe_supported(const prober *pr, const ir_node *n, accel_tensor *const *in,
			    unsigned host_mask)
{
	accel_tensor hdr[2], *h[2];

	if (!pr->d)
		return cpu_kernel_find("", n->op_type) != NULL;
	for (int i = 0; i < n->n_inputs; i++) {
		hdr[i] = *in[i];
		if (!(host_mask & (1u << i)))
			hdr[i].data = NULL; /* not a constant */
		h[i] = &hdr[i];
	}
	return pr->d->ops->supports(pr->d->impl, n, h, n->n_inputs);
}

/* One run of |n|, to completion. */
static accel_status probe_run(const prober *pr, const ir_node *n, void *state,
			      accel_tensor *const *in, const bool *on_host, accel_tensor **outs)
{
	const backend_device *d = pr->d;
	cpu_ctx ctx = { .node = n, .pool = pr->pool, .state = state };
	accel_status st;

	if (!d)
		return cpu_kernel_find("", n->op_type)->exec(&ctx, in, n->n_inputs, outs, 1);
	st = d->ops->exec(d->impl, n, state, in, on_host, n->n_inputs, outs, 1);
	if (!st && d->ops->finish)
		st = d->ops->finish(d->impl);
	return st;
}

/*
 * Best of up to |reps| runs of node |n| (after one untimed run); at least
 * two, and no more once PROBE_BUDGET_S is spent. Inputs in |host_mask| are
 * host constants, prepared as a session prepares its weights. The
 * preparation (program builds, weight packing) is counted in *build_s.
 */
static accel_status probe_time(const prober *pr, const ir_node *n, accel_tensor *const *in,
			       unsigned host_mask, accel_tensor *out, int reps, double *out_s,
			       double *build_s)
{
	accel_tensor *cin[2] = { NULL, NULL }, *outs[1] = { out };
	const backend_device *d = pr->d;
	const cpu_kernel *k = d ? NULL : cpu_kernel_find("", n->op_type);
	cpu_ctx ctx = { .node = n, .pool = pr->pool };
	bool on_host[2] = { false, false };
	void *state = NULL;
	accel_status st = NULL;
	double start = now_s();

	for (int i = 0; i < n->n_inputs; i++)
		if (host_mask & (1u << i)) {
			cin[i] = in[i];
			on_host[i] = true;
		}
	*out_s = INFINITY;
	if (d && d->ops->prepare)
		st = d->ops->prepare(d->impl, n, cin, n->n_inputs, &state);
	else if (k && k->prepare)
		st = k->prepare(&ctx, cin, n->n_inputs, &state);
	*build_s += now_s() - start;
	start = now_s();
	for (int r = -1; r < reps && !st && (r < 2 || now_s() - start < PROBE_BUDGET_S); r++) {
		double t0 = now_s();

		st = probe_run(pr, n, state, in, on_host, outs);
		if (r >= 0)
			*out_s = fmin(*out_s, now_s() - t0);
	}
	if (state && d && d->ops->release)
		d->ops->release(d->impl, state);
	else if (state && k && k->release)
		k->release(state);
	return status_annotate(st, "timing %s", n->op_type);
}

/* Best of |reps| uploads (or downloads) of |bytes|. */
static accel_status probe_copy(const backend_device *d, bool up, void *mem, void *host,
			       size_t bytes, int reps, double *out_s)
{
	*out_s = INFINITY;
	for (int r = -1; r < reps; r++) {
		double t0 = now_s();

		ACCEL_TRY(up ? d->ops->upload(d->impl, mem, host, bytes)
			     : d->ops->download(d->impl, host, mem, bytes));
		if (r >= 0)
			*out_s = fmin(*out_s, now_s() - t0);
	}
	return NULL;
}

/*
 * work / t. The per-node overhead is not taken off: the probes are large
 * enough for it not to matter, and on a loaded host the tiny probe's time
 * is noisier than the difference would be.
 */
static double rate(double work, double t)
{
	return t > 0 ? work / t : 0;
}

static accel_status measure_copies(const backend_device *d, accel_tensor *big, cost_profile *p)
{
	void *host = calloc(1, XFER_LARGE);
	double small_s, large_s;
	accel_status st;

	if (!host)
		return status_oom("a cost probe buffer");
	st = probe_copy(d, true, big->data, host, XFER_SMALL, 5, &small_s);
	if (!st)
		st = probe_copy(d, true, big->data, host, XFER_LARGE, 3, &large_s);
	if (!st) {
		p->up_lat_s = small_s;
		p->up_bps = rate((double)XFER_LARGE, fmax(large_s - small_s, large_s * 0.5));
		st = probe_copy(d, false, big->data, host, XFER_SMALL, 5, &small_s);
	}
	if (!st)
		st = probe_copy(d, false, big->data, host, XFER_LARGE, 3, &large_s);
	if (!st) {
		p->down_lat_s = small_s;
		p->down_bps = rate((double)XFER_LARGE, fmax(large_s - small_s, large_s * 0.5));
	}
	free(host);
	return st;
}

/* Conv probe: x 1x32x30x30 (device), w 64x32x3x3 (a host constant). */
static accel_status measure_conv(const prober *pr, cost_profile *p, double *build)
{
	const int64_t xd[4] = { 1, 32, 30, 30 }, wd[4] = { 64, 32, 3, 3 },
		      yd[4] = { 1, 64, 28, 28 };
	accel_tensor *t[3] = { NULL };
	probe_node conv;
	double s = 0;
	accel_status st;

	probe_init(&conv, "Conv", 2);
	st = make_tensor(pr, 4, xd, &t[0]);
	if (!st)
		st = tensor_new(ACCEL_DTYPE_F32, 4, wd, &t[1]);
	if (!st)
		st = make_tensor(pr, 4, yd, &t[2]);
	if (!st && probe_supported(pr, &conv.node, t, 2)) {
		st = probe_time(pr, &conv.node, t, 2, t[2], 6, &s, build);
		if (!st)
			p->conv_flops = rate(2.0 * 64 * 28 * 28 * 32 * 3 * 3, s);
	}
	for (int i = 0; i < 3; i++)
		accel_tensor_release(t[i]);
	return st;
}

static accel_status measure(const prober *pr, cost_profile *p)
{
	const int64_t gd[2] = { GEMM_N, GEMM_N }, sd[1] = { STREAM_ELEMS }, td[1] = { 1 };
	accel_tensor *t[7] = { NULL };
	probe_node mm, relu;
	double t_gemm = 0, t_stream = 0, t_tiny = 0, t0 = now_s(), build = 0;
	accel_status st = NULL;

	cost_profile_defaults(p);
	probe_init(&mm, "MatMul", 2);
	probe_init(&relu, "Relu", 1);
	/* t: GEMM A, B, C; stream in, out; tiny in, out. */
	for (int i = 0; i < 7 && !st; i++)
		st = make_tensor(pr, i < 3 ? 2 : 1, i < 3 ? gd : i < 5 ? sd : td, &t[i]);
	if (!st && probe_supported(pr, &relu.node, &t[5], 0)) {
		st = probe_time(pr, &relu.node, &t[5], 0, t[6], 8, &t_tiny, &build);
		if (!st)
			st = probe_time(pr, &relu.node, &t[3], 0, t[4], 6, &t_stream, &build);
		if (!st) {
			p->launch_s = t_tiny;
			p->stream_bps = rate(2.0 * (double)XFER_LARGE, t_stream);
		}
	}
	p->gemm_flops = 0; /* priced by bytes where there is no MatMul */
	if (!st && probe_supported(pr, &mm.node, t, 0)) {
		st = probe_time(pr, &mm.node, t, 0, t[2], 6, &t_gemm, &build);
		if (!st)
			p->gemm_flops = rate(2.0 * GEMM_N * GEMM_N * GEMM_N, t_gemm);
	}
	if (!st)
		st = measure_conv(pr, p, &build);
	if (!st && pr->d)
		st = measure_copies(pr->d, t[3], p);
	for (int i = 0; i < 7; i++)
		accel_tensor_release(t[i]);
	p->build_s = build;
	p->measured_s = now_s() - t0 - build;
	return st;
}

accel_status cost_profile_get(const backend_device *dev, threadpool *pool, cost_profile *out)
{
	const char *name = dev ? (dev->name ? dev->name : "?") : "cpu";
	const cost_profile *inst;
	profile_entry *e;
	char key[64];
	accel_status st;
	prober pr = { .d = dev, .pool = pool };

	/* The CPU's speed depends on its threads: one profile per count. */
	if (!dev)
		snprintf(key, sizeof(key), "cpu/%d", threadpool_size(pool));
	pthread_mutex_lock(&table_lock);
	st = env_check_locked();
	if (!st && (inst = installed_for(name))) {
		*out = *inst;
		out->measured_s = out->build_s = 0;
	} else if (!st && (e = table_find(&measured, dev ? name : key))) {
		*out = e->p;
	} else if (!st) {
		/* Measured under the lock: profiles are taken once, one at a
		 * time, so no two probes compete for the same cores. */
		st = measure(&pr, out);
		if (!st)
			st = table_put(&measured, dev ? name : key, out);
	}
	pthread_mutex_unlock(&table_lock);
	return status_annotate(st, "measuring %s for placement", name);
}

/* ---- estimates ---- */

static double dim_or_default(const ir_value *v, int d)
{
	if (v->dims[d] >= 0)
		return (double)v->dims[d];
	return d == 0 ? 1.0 : COST_UNKNOWN_DIM;
}

static double value_numel(const ir_value *v)
{
	double n = 1;

	if (v->rank < 0)
		return COST_UNKNOWN_NUMEL;
	for (int d = 0; d < v->rank; d++)
		n *= dim_or_default(v, d);
	return n;
}

double cost_value_bytes(const ir_value *v)
{
	size_t es = accel_dtype_size(v->dtype);

	return value_numel(v) * (double)(es ? es : 4);
}

static const ir_value *node_value(const ir_graph *g, const int *ids, int n, int i)
{
	return i < n && ids[i] >= 0 ? &g->values[ids[i]] : NULL;
}

/* Product of dims [from, rank) of |v|. */
static double dims_product(const ir_value *v, int from)
{
	double n = 1;

	for (int d = from; d < v->rank; d++)
		n *= dim_or_default(v, d);
	return n;
}

static bool op_is(const ir_node *n, const char *op)
{
	const char *t = n->op_type;

	return !strcmp(t, op) || (!strncmp(t, "Fused", 5) && !strcmp(t + 5, op));
}

/* Multiply-accumulates of the GEMM-like ops, 0 for the others. */
static double node_macs(const ir_graph *g, const ir_node *n)
{
	const ir_value *a = node_value(g, n->inputs, n->n_inputs, 0);
	const ir_value *b = node_value(g, n->inputs, n->n_inputs, 1);
	const ir_value *y = node_value(g, n->outputs, n->n_outputs, 0);
	double group = (double)ir_attr_int(n, "group", 1);

	if (!a || !b || !y || a->rank < 1 || b->rank < 1 || y->rank < 0 || group < 1)
		return 0;
	if (op_is(n, "Conv") && b->rank >= 2)
		/* y: N x M x spatial; W: M x C/group x kernel */
		return value_numel(y) * dims_product(b, 1);
	if (op_is(n, "ConvTranspose") && b->rank >= 2)
		/* x: N x C x spatial; W: C x M/group x kernel */
		return value_numel(a) * dims_product(b, 1);
	if (op_is(n, "Gemm") && a->rank == 2)
		return value_numel(y) * dim_or_default(a, ir_attr_int(n, "transA", 0) ? 0 : 1);
	if (op_is(n, "MatMul"))
		return value_numel(y) * dim_or_default(a, a->rank - 1);
	return 0;
}

void cost_node_work(const ir_graph *g, const ir_node *n, cost_work *out)
{
	out->bytes = 0;
	for (int i = 0; i < n->n_inputs; i++)
		if (n->inputs[i] >= 0)
			out->bytes += cost_value_bytes(&g->values[n->inputs[i]]);
	for (int i = 0; i < n->n_outputs; i++)
		if (n->outputs[i] >= 0)
			out->bytes += cost_value_bytes(&g->values[n->outputs[i]]);
	out->flops = 2.0 * node_macs(g, n);
	out->conv = op_is(n, "Conv") || op_is(n, "ConvTranspose");
}

/* The FLOP rate that prices |w|, 0 when bytes do. */
static double flop_rate(const cost_work *w, const cost_profile *p)
{
	if (w->flops <= 0)
		return 0;
	return w->conv && p->conv_flops > 0 ? p->conv_flops : p->gemm_flops;
}

double cost_work_seconds(const cost_work *w, const cost_profile *p)
{
	double r = flop_rate(w, p);

	if (r > 0)
		return p->launch_s + w->flops / r;
	return p->launch_s + (p->stream_bps > 0 ? w->bytes / p->stream_bps : 0);
}

const char *cost_work_str(const ir_node *n, const cost_work *w, const cost_profile *p,
			  char *buf, size_t len)
{
	double r = flop_rate(w, p);

	if (r > 0)
		snprintf(buf, len, "%s %.3g MFLOP at %.3g GFLOP/s", n->op_type, w->flops * 1e-6,
			 r * 1e-9);
	else
		snprintf(buf, len, "%s %.3g MB at %.3g GB/s", n->op_type, w->bytes * 1e-6,
			 p->stream_bps * 1e-9);
	return buf;
}

static double copy_s(double bps, double lat, double bytes, int count)
{
	if (bps <= 0 || count <= 0)
		return 0;
	return lat * count + bytes / bps;
}

double cost_upload_s(const cost_profile *p, double bytes, int count)
{
	return copy_s(p->up_bps, p->up_lat_s, bytes, count);
}

double cost_download_s(const cost_profile *p, double bytes, int count)
{
	return copy_s(p->down_bps, p->down_lat_s, bytes, count);
}
