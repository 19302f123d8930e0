/* SPDX-License-Identifier: MIT */
/*
 * plan.c - placement, per-node preparation and value liveness for one graph.
 *
 * Placement over several candidate devices (plan.h says when there are
 * several) cuts the steps, in topological order, into device-contiguous
 * stages: stage k runs on device d_k, each device takes at most one stage.
 * A search over cut points and device orders (dynamic programming over
 * (cut, devices used, last device), keeping for each cell the best
 * (bottleneck, total) pair) minimises the pipeline bottleneck, the
 * largest per-device time, then total latency, which only breaks ties:
 * any throughput gain wins. A device's time is the sum, from its measured
 * profile (sched/cost.h), of its nodes' estimates and of the copies it
 * makes: the executor copies a value when its consumer needs it, so the
 * consumer's device pays the download from the producer's device and the
 * upload to itself; graph outputs are downloaded by their producer's
 * device. The pipeline's own per-segment overhead is not counted. A node
 * its stage's device cannot run goes to the capable device where it is
 * cheapest (the CPU when no listed device can), and its stage is charged
 * that and the copies around it, so the search avoids such detours. Long
 * graphs are cut only at evenly spaced steps (256 cut points at most,
 * fewer beyond three candidates) and at most PLAN_MAX_STAGE_DEVICES
 * devices take stages. The chosen placement is then evaluated exactly,
 * copy by copy as the executor makes them, for the reasons --explain
 * prints.
 */
#include "sched/cost.h"
#include "sched/plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_MAX_STAGE_DEVICES 6 /* beyond that, the first ones listed */
#define PLAN_TIE 1e-9		 /* relative: rounding, no more */

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
		free(s->reason_buf);
	}
	free(p->steps);
	free(p);
}

bool plan_devices_list_cpu(const char *spec)
{
	const char *p = spec;

	while (p && *p) {
		size_t len = strcspn(p, ",");

		if ((len == 3 && !strncmp(p, "cpu", 3)) || (len == 4 && !strncmp(p, "auto", 4)))
			return true;
		p += len;
		p += *p == ',';
	}
	return false;
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

static bool dev_supports(const ir_graph *g, const ir_node *n, const backend_device *d)
{
	accel_tensor store[n->n_inputs + 1], *in[n->n_inputs + 1];

	input_headers(g, n, store, in);
	return d->ops->supports(d->impl, n, in, n->n_inputs);
}

/* One device: the first listed device that supports node |n|, or NULL. */
static const backend_device *place_first(const ir_graph *g, const ir_node *n,
					 const backend_device *const *devices, size_t n_devices,
					 const char **reason)
{
	if (!n_devices) {
		*reason = "cpu: the only device of this session";
		return NULL;
	}
	for (size_t d = 0; d < n_devices; d++)
		if (dev_supports(g, n, devices[d])) {
			*reason = d ? "first listed device that supports it (earlier ones do not)"
				    : "first listed device supports it";
			return devices[d];
		}
	*reason = "cpu fallback: no listed device supports it";
	return NULL;
}

/* ---- the cost-model placement ---- */

/*
 * Slots: listed devices 0..nd-1, then the CPU (slot nd), which takes
 * stages only when listed but nodes no listed device runs always.
 */
typedef struct placer {
	const ir_graph *g;
	const backend_device *const *devices;
	int n, nd, ns;
	bool cpu_listed;
	cost_profile *prof; /* [ns] */
	cost_work *work;    /* [n] */
	bool *sup;	    /* [n * ns] */
	bool *any_dev;	    /* [n]: some listed device runs it */
	double *t;	    /* [n * ns]: seconds where supported */
	int *exc;	    /* [n * ns]: where it goes from a stage on s that cannot run it */
	double *in_b, *out_b; /* [n]: bytes of non-constant inputs, outputs */
	int *in_c, *out_c;
	int q, elig[PLAN_MAX_STAGE_DEVICES + 1]; /* slots that may take stages */
	int *home;			   /* [n]: the chosen slot */
	int *stage_of;			   /* [n]: index of the stage holding the step */
	int n_stages;
	int *stage_slot; /* [n_stages] */
	double *load;	 /* [ns] */
	double bottleneck, total;
} placer;

static const char *slot_name(const placer *pl, int s, char *buf, size_t len)
{
	const char *full = s == pl->nd ? "cpu" : pl->devices[s]->name;

	if (!full)
		full = "?";
	snprintf(buf, len, "%.*s", (int)strcspn(full, " "), full);
	return buf;
}

static bool is_data(const ir_value *v)
{
	return !v->constant && (v->kind == IR_VALUE_INTERMEDIATE || v->kind == IR_VALUE_INPUT);
}

/* Node i's non-constant inputs, each value once. */
static int node_data_inputs(const ir_graph *g, int i, int *out)
{
	const ir_node *n = &g->nodes[i];
	int k = 0;

	for (int j = 0; j < n->n_inputs; j++) {
		int v = n->inputs[j];
		bool seen = false;

		if (v < 0 || !is_data(&g->values[v]))
			continue;
		for (int x = 0; x < k; x++)
			seen |= out[x] == v;
		if (!seen)
			out[k++] = v;
	}
	return k;
}

static accel_status placer_measure(placer *pl, threadpool *pool)
{
	const ir_graph *g = pl->g;

	for (int s = 0; s < pl->ns; s++)
		ACCEL_TRY(cost_profile_get(s < pl->nd ? pl->devices[s] : NULL, pool, &pl->prof[s]));
	for (int i = 0; i < pl->n; i++) {
		const ir_node *n = &g->nodes[i];
		int ids[n->n_inputs + 1], k = node_data_inputs(g, i, ids);

		cost_node_work(g, n, &pl->work[i]);
		for (int x = 0; x < k; x++)
			pl->in_b[i] += cost_value_bytes(&g->values[ids[x]]);
		pl->in_c[i] = k;
		for (int o = 0; o < n->n_outputs; o++)
			if (n->outputs[o] >= 0) {
				pl->out_b[i] += cost_value_bytes(&g->values[n->outputs[o]]);
				pl->out_c[i]++;
			}
		for (int s = 0; s < pl->ns; s++) {
			bool ok = s == pl->nd || dev_supports(g, n, pl->devices[s]);

			pl->sup[i * pl->ns + s] = ok;
			pl->any_dev[i] |= ok && s < pl->nd;
			pl->t[i * pl->ns + s] = cost_work_seconds(&pl->work[i], &pl->prof[s]);
		}
	}
	return NULL;
}

/* Seconds node i costs a stage on slot s: itself, or its detour. */
static double stage_node_s(placer *pl, int i, int s)
{
	int ns = pl->ns, best = pl->nd;
	double best_s = INFINITY;

	if (pl->sup[i * ns + s]) {
		pl->exc[i * ns + s] = s;
		return pl->t[i * ns + s];
	}
	for (int x = 0; x < ns; x++) {
		double c;

		if (x == s || !pl->sup[i * ns + x] ||
		    (x == pl->nd && !pl->cpu_listed && pl->any_dev[i]))
			continue;
		c = pl->t[i * ns + x] + cost_upload_s(&pl->prof[x], pl->in_b[i], pl->in_c[i]) +
		    cost_download_s(&pl->prof[x], pl->out_b[i], pl->out_c[i]);
		if (c < best_s) {
			best_s = c;
			best = x;
		}
	}
	pl->exc[i * ns + s] = best;
	return pl->t[i * ns + best] +
	       cost_download_s(&pl->prof[s], pl->in_b[i], pl->in_c[i]) +
	       cost_upload_s(&pl->prof[best], pl->in_b[i], pl->in_c[i]) +
	       cost_download_s(&pl->prof[best], pl->out_b[i], pl->out_c[i]) +
	       cost_upload_s(&pl->prof[s], pl->out_b[i], pl->out_c[i]);
}

/* Search tables over the m+1 cut positions cut[0] = 0 < ... < cut[m] = n. */
typedef struct search {
	int m;
	int *cut;
	double *ps;		  /* [q][n+1]: prefix sums of stage_node_s */
	double *idb, *ihb, *ob; /* [m+1][m+1]: bytes into / out of stage (a, b) */
	int *idc, *ihc, *oc;	  /* ... and value counts */
} search;

typedef struct dp_cell {
	double bot, tot;
	int from_a, from_last; /* -1: none */
	bool ok;
} dp_cell;

static bool better(double bot, double tot, const dp_cell *c)
{
	if (!c->ok || bot < c->bot * (1 - PLAN_TIE))
		return true;
	if (c->bot < bot * (1 - PLAN_TIE))
		return false;
	return tot < c->tot;
}

/* Index of the first cut strictly after step |f|. */
static int cut_after(const search *se, int f)
{
	int lo = 0, hi = se->m;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (se->cut[mid] > f)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/*
 * Bytes and counts of the values a stage (a, b) reads from earlier ones
 * (idb/idc), from the graph inputs (ihb/ihc), and of the graph outputs it
 * produces (ob/oc). |cons| lists each value's consumers in step order.
 */
static void search_flows(const placer *pl, search *se, const int *cons_off, const int *cons)
{
	const ir_graph *g = pl->g;
	int m = se->m, w = m + 1;

	for (int a = 0; a < m; a++) {
		int pos = se->cut[a];

		for (int v = 0; v < g->n_values; v++) {
			const ir_value *val = &g->values[v];
			int lo = cons_off[v], hi = cons_off[v + 1], b;

			if (!is_data(val) || val->producer >= pos)
				continue;
			while (lo < hi && cons[lo] < pos)
				lo++;
			if (lo == hi)
				continue;
			b = cut_after(se, cons[lo]);
			if (val->producer < 0) {
				se->ihb[a * w + b] += cost_value_bytes(val);
				se->ihc[a * w + b]++;
			} else {
				se->idb[a * w + b] += cost_value_bytes(val);
				se->idc[a * w + b]++;
			}
		}
		for (int b = a + 2; b <= m; b++) {
			se->ihb[a * w + b] += se->ihb[a * w + b - 1];
			se->ihc[a * w + b] += se->ihc[a * w + b - 1];
			se->idb[a * w + b] += se->idb[a * w + b - 1];
			se->idc[a * w + b] += se->idc[a * w + b - 1];
		}
	}
	/* graph outputs, by producing step, as prefix sums over cuts */
	for (int o = 0; o < g->n_outputs; o++) {
		const ir_value *val = &g->values[g->outputs[o]];

		if (val->kind != IR_VALUE_INTERMEDIATE || val->producer < 0)
			continue;
		for (int b = cut_after(se, val->producer); b <= m; b++) {
			se->ob[b] += cost_value_bytes(val);
			se->oc[b]++;
		}
	}
}

static double stage_s(const placer *pl, const search *se, int a, int b, int c, int last)
{
	int s = pl->elig[c], w = se->m + 1, i = a * w + b;
	const cost_profile *ps = &pl->prof[s];
	double sec = se->ps[c * (pl->n + 1) + se->cut[b]] - se->ps[c * (pl->n + 1) + se->cut[a]];

	if (last >= 0)
		sec += cost_download_s(&pl->prof[pl->elig[last]], se->idb[i], se->idc[i]);
	sec += cost_upload_s(ps, se->idb[i] + se->ihb[i], se->idc[i] + se->ihc[i]);
	sec += cost_download_s(ps, se->ob[b] - se->ob[a], se->oc[b] - se->oc[a]);
	return sec;
}

/* The DP's table: cell (b, mask, last) = the best stages covering steps
 * [0, cut[b]) on the devices of |mask|, the last on |last| (-1: none). */
typedef struct dp_table {
	dp_cell *c;
	int nm, q;
} dp_table;

static dp_cell *cell(const dp_table *t, int b, int mask, int last)
{
	size_t i = ((size_t)b * (size_t)t->nm + (size_t)mask) * (size_t)(t->q + 1);

	return &t->c[i + (size_t)(last < 0 ? t->q : last)];
}

/* Extend cell (a, mask, last) by one stage on each device not used yet. */
static void dp_extend(const placer *pl, const search *se, const dp_table *t, int a, int mask,
		      int last)
{
	const dp_cell *from = cell(t, a, mask, last);

	for (int c = 0; c < t->q; c++) {
		if (mask & (1 << c))
			continue;
		for (int b = a + 1; b <= se->m; b++) {
			double s = stage_s(pl, se, a, b, c, last);
			double bot = fmax(from->bot, s), tot = from->tot + s;
			dp_cell *to = cell(t, b, mask | (1 << c), c);

			if (better(bot, tot, to))
				*to = (dp_cell){ bot, tot, a, last, true };
		}
	}
}

/* Walk back from the best complete cell: stages in step order. */
static void dp_stages(placer *pl, const search *se, const dp_table *t, int mask, int last)
{
	pl->n_stages = 0;
	for (int b = se->m; b > 0;) {
		const dp_cell *c = cell(t, b, mask, last);

		for (int i = se->cut[c->from_a]; i < se->cut[b]; i++)
			pl->stage_of[i] = pl->n_stages;
		pl->stage_slot[pl->n_stages++] = pl->elig[last];
		mask &= ~(1 << last);
		b = c->from_a;
		last = c->from_last;
	}
	for (int i = 0; i < pl->n; i++)
		pl->stage_of[i] = pl->n_stages - 1 - pl->stage_of[i];
	for (int k = 0; k < pl->n_stages / 2; k++) {
		int tmp = pl->stage_slot[k];

		pl->stage_slot[k] = pl->stage_slot[pl->n_stages - 1 - k];
		pl->stage_slot[pl->n_stages - 1 - k] = tmp;
	}
}

static accel_status search_run(placer *pl, search *se)
{
	dp_table t = { .nm = 1 << pl->q, .q = pl->q };
	int m = se->m, best_mask = -1, best_last = -1;
	const dp_cell *end = NULL;

	t.c = calloc((size_t)(m + 1) * (size_t)t.nm * (size_t)(t.q + 1), sizeof(*t.c));
	if (!t.c)
		return status_oom("the placement search");
	*cell(&t, 0, 0, -1) = (dp_cell){ 0, 0, -1, -1, true };
	for (int a = 0; a < m; a++)
		for (int mask = 0; mask < t.nm; mask++)
			for (int last = -1; last < t.q; last++)
				if (cell(&t, a, mask, last)->ok)
					dp_extend(pl, se, &t, a, mask, last);
	for (int mask = 1; mask < t.nm; mask++)
		for (int last = 0; last < t.q; last++) {
			const dp_cell *c = cell(&t, m, mask, last);

			if (c->ok && (!end || better(c->bot, c->tot, end))) {
				end = c;
				best_mask = mask;
				best_last = last;
			}
		}
	if (end)
		dp_stages(pl, se, &t, best_mask, best_last);
	free(t.c);
	return end ? NULL : status_error(ACCEL_INTERNAL, "placement search found no stages");
}

static accel_status placer_search(placer *pl)
{
	const ir_graph *g = pl->g;
	int n = pl->n, q = pl->q, max_m = q <= 3 ? 256 : q == 4 ? 128 : 64;
	int *cons_off = calloc((size_t)g->n_values + 2, sizeof(int));
	int *cons = NULL, *fill = NULL;
	search se = { 0 };
	accel_status st = NULL;
	size_t w;

	/* cut positions: every step, or evenly spaced ones in long graphs */
	se.m = n < max_m ? n : max_m;
	w = (size_t)se.m + 1;
	se.cut = malloc(sizeof(int) * w);
	se.ps = calloc((size_t)q * (size_t)(n + 1), sizeof(double));
	se.idb = calloc(w * w, sizeof(double));
	se.ihb = calloc(w * w, sizeof(double));
	se.idc = calloc(w * w, sizeof(int));
	se.ihc = calloc(w * w, sizeof(int));
	se.ob = calloc(w, sizeof(double));
	se.oc = calloc(w, sizeof(int));
	if (!cons_off || !se.cut || !se.ps || !se.idb || !se.ihb || !se.idc || !se.ihc ||
	    !se.ob || !se.oc) {
		st = status_oom("the placement search");
		goto out;
	}
	for (int k = 0; k <= se.m; k++)
		se.cut[k] = (int)((int64_t)k * n / se.m);
	for (int c = 0; c < q; c++)
		for (int i = 0; i < n; i++)
			se.ps[c * (n + 1) + i + 1] =
				se.ps[c * (n + 1) + i] + stage_node_s(pl, i, pl->elig[c]);
	/* consumers of each value, in step order */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < n; i++) {
			int ids[g->nodes[i].n_inputs + 1], k = node_data_inputs(g, i, ids);

			for (int x = 0; x < k; x++) {
				if (pass)
					cons[fill[ids[x]]++] = i;
				else
					cons_off[ids[x] + 1]++;
			}
		}
		if (pass)
			break;
		for (int v = 0; v < g->n_values; v++)
			cons_off[v + 1] += cons_off[v];
		cons = malloc(sizeof(int) * ((size_t)cons_off[g->n_values] + 1));
		fill = malloc(sizeof(int) * ((size_t)g->n_values + 1));
		if (!cons || !fill) {
			st = status_oom("the placement search");
			goto out;
		}
		memcpy(fill, cons_off, sizeof(int) * (size_t)g->n_values);
	}
	search_flows(pl, &se, cons_off, cons);
	st = search_run(pl, &se);
out:
	free(cons_off);
	free(cons);
	free(fill);
	free(se.cut);
	free(se.ps);
	free(se.idb);
	free(se.ihb);
	free(se.idc);
	free(se.ihc);
	free(se.ob);
	free(se.oc);
	return st;
}

/* Assign nodes and cost the placement copy by copy, as the executor runs it. */
static accel_status placer_evaluate(placer *pl)
{
	const ir_graph *g = pl->g;
	int nd = pl->nd;
	bool *host = calloc((size_t)g->n_values + 1, sizeof(bool));
	int *dev = malloc(sizeof(int) * ((size_t)g->n_values + 1));

	if (!host || !dev) {
		free(host);
		free(dev);
		return status_oom("a placement estimate");
	}
	for (int v = 0; v < g->n_values; v++) {
		host[v] = g->values[v].kind != IR_VALUE_INTERMEDIATE;
		dev[v] = -1;
	}
	for (int s = 0; s < pl->ns; s++)
		pl->load[s] = 0;
	for (int i = 0; i < pl->n; i++) {
		const ir_node *n = &g->nodes[i];
		int ids[n->n_inputs + 1], k = node_data_inputs(g, i, ids);
		int s = pl->stage_slot[pl->stage_of[i]], x;

		x = pl->home[i] = pl->exc[i * pl->ns + s];
		for (int j = 0; j < k; j++) {
			int v = ids[j];
			double b = cost_value_bytes(&g->values[v]);

			if (x != nd && dev[v] == x)
				continue;
			if (!host[v] && dev[v] >= 0)
				pl->load[x] += cost_download_s(&pl->prof[dev[v]], b, 1);
			host[v] = true;
			if (x != nd) {
				pl->load[x] += cost_upload_s(&pl->prof[x], b, 1);
				dev[v] = x;
			}
		}
		pl->load[x] += pl->t[i * pl->ns + x];
		for (int o = 0; o < n->n_outputs; o++)
			if (n->outputs[o] >= 0) {
				host[n->outputs[o]] = x == nd;
				dev[n->outputs[o]] = x == nd ? -1 : x;
			}
	}
	for (int o = 0; o < g->n_outputs; o++) {
		int v = g->outputs[o];

		if (!host[v] && dev[v] >= 0)
			pl->load[dev[v]] += cost_download_s(&pl->prof[dev[v]],
							    cost_value_bytes(&g->values[v]), 1);
	}
	pl->bottleneck = pl->total = 0;
	for (int s = 0; s < pl->ns; s++) {
		pl->bottleneck = fmax(pl->bottleneck, pl->load[s]);
		pl->total += pl->load[s];
	}
	free(host);
	free(dev);
	return NULL;
}

/* One line: where, which stage, the loads, and the node's own estimate. */
static char *placer_reason(const placer *pl, int i)
{
	int x = pl->home[i], s = pl->stage_slot[pl->stage_of[i]];
	char name[64], other[64], work[96], loads[256] = "", *out = NULL;
	size_t used = 0;

	cost_work_str(&pl->g->nodes[i], &pl->work[i], &pl->prof[x], work, sizeof(work));
	for (int y = 0; y < pl->ns; y++) {
		bool listed = y < pl->nd || pl->cpu_listed;

		if (y == x || (!listed && pl->load[y] <= 0))
			continue;
		used += (size_t)snprintf(loads + used, sizeof(loads) - used, "%s%s %.3g",
					 used ? ", " : "", slot_name(pl, y, other, sizeof(other)),
					 pl->load[y] * 1e3);
		if (used >= sizeof(loads))
			break;
	}
	slot_name(pl, x, name, sizeof(name));
	if (x == pl->nd && !pl->any_dev[i]) {
		if (asprintf(&out, "cpu fallback: no listed device supports it; %s", work) < 0)
			return NULL;
	} else if (x != s) {
		if (asprintf(&out,
			     "%s: %s (stage %d of %d) cannot run it, cheapest capable device; %s",
			     name, slot_name(pl, s, other, sizeof(other)), pl->stage_of[i] + 1,
			     pl->n_stages, work) < 0)
			return NULL;
	} else if (asprintf(&out, "%s: stage %d of %d, est %.3g ms/stage (%s); %s", name,
			    pl->stage_of[i] + 1, pl->n_stages, pl->load[x] * 1e3, loads,
			    work) < 0) {
		return NULL;
	}
	return out;
}

static void placer_free(placer *pl)
{
	free(pl->prof);
	free(pl->work);
	free(pl->sup);
	free(pl->any_dev);
	free(pl->t);
	free(pl->exc);
	free(pl->in_b);
	free(pl->out_b);
	free(pl->in_c);
	free(pl->out_c);
	free(pl->home);
	free(pl->stage_of);
	free(pl->stage_slot);
	free(pl->load);
}

static accel_status place_by_cost(const ir_graph *g, threadpool *pool,
				  const backend_device *const *devices, size_t n_devices,
				  bool cpu_listed, exec_plan *p)
{
	placer pl = { .g = g, .devices = devices, .n = g->n_nodes, .nd = (int)n_devices,
		      .ns = (int)n_devices + 1, .cpu_listed = cpu_listed };
	size_t n = (size_t)g->n_nodes + 1, ns = (size_t)pl.ns;
	accel_status st;

	pl.prof = calloc(ns, sizeof(*pl.prof));
	pl.work = calloc(n, sizeof(*pl.work));
	pl.sup = calloc(n * ns, sizeof(bool));
	pl.any_dev = calloc(n, sizeof(bool));
	pl.t = calloc(n * ns, sizeof(double));
	pl.exc = calloc(n * ns, sizeof(int));
	pl.in_b = calloc(n, sizeof(double));
	pl.out_b = calloc(n, sizeof(double));
	pl.in_c = calloc(n, sizeof(int));
	pl.out_c = calloc(n, sizeof(int));
	pl.home = calloc(n, sizeof(int));
	pl.stage_of = calloc(n, sizeof(int));
	pl.stage_slot = calloc(n, sizeof(int));
	pl.load = calloc(ns, sizeof(double));
	if (!pl.prof || !pl.work || !pl.sup || !pl.any_dev || !pl.t || !pl.exc || !pl.in_b ||
	    !pl.out_b || !pl.in_c || !pl.out_c || !pl.home || !pl.stage_of || !pl.stage_slot ||
	    !pl.load) {
		st = status_oom("a placement");
		goto out;
	}
	for (int s = 0; s < pl.nd && pl.q < PLAN_MAX_STAGE_DEVICES - cpu_listed; s++)
		pl.elig[pl.q++] = s;
	if (cpu_listed)
		pl.elig[pl.q++] = pl.nd;
	if ((st = placer_measure(&pl, pool)) || (st = placer_search(&pl)) ||
	    (st = placer_evaluate(&pl)))
		goto out;
	for (int i = 0; i < pl.n; i++) {
		plan_step *s = &p->steps[i];

		s->device = pl.home[i] == pl.nd ? NULL : devices[pl.home[i]];
		s->reason_buf = placer_reason(&pl, i);
		if (!s->reason_buf) {
			st = status_oom("a placement reason");
			goto out;
		}
		s->reason = s->reason_buf;
	}
out:
	placer_free(&pl);
	return st;
}

accel_status plan_build_for(const ir_graph *g, threadpool *pool,
			    const backend_device *const *devices, size_t n_devices,
			    bool cpu_listed, exec_plan **out)
{
	exec_plan *p = calloc(1, sizeof(*p));
	int *last = malloc(sizeof(int) * ((size_t)g->n_values + 1));
	bool by_cost = n_devices >= 2 || (n_devices == 1 && cpu_listed);
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
		if (!by_cost)
			s->device = place_first(g, n, devices, n_devices, &s->reason);
	}
	if (by_cost && g->n_nodes &&
	    (st = place_by_cost(g, pool, devices, n_devices, cpu_listed, p)))
		goto fail;
	/* last[v]: the step after which value v is no longer needed. */
	for (int v = 0; v < g->n_values; v++)
		last[v] = g->values[v].producer;
	for (int i = 0; i < g->n_nodes; i++) {
		const ir_node *n = &g->nodes[i];

		for (int k = 0; k < n->n_inputs; k++)
			if (n->inputs[k] >= 0)
				last[n->inputs[k]] = i;
		if ((st = prepare_step(g, pool, &p->steps[i])))
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

accel_status plan_build(const ir_graph *g, threadpool *pool,
			const backend_device *const *devices, size_t n_devices,
			exec_plan **out)
{
	return plan_build_for(g, pool, devices, n_devices, false, out);
}
