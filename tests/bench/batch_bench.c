/* SPDX-License-Identifier: MIT */
/*
 * batch_bench - requests per second of K concurrent clients, each sending
 * M batch-1 requests to one model, with dynamic batching (sched/batcher.h)
 * off and on, on sessions over several device lists.
 *
 *     batch_bench MODEL [--clients K] [--requests M] [--rounds R]
 *                 [--max-batch B] [--delay-us D] [--workers W]
 *                 [--threads T] [--devices "cpu;cpu,opencl:0;..."]
 *
 * MODEL needs a dynamic batch dimension (tests/models/export.py
 * mobilenet_v2_dyn or resnet18_dyn); with a fixed one the batcher never
 * merges and "on" measures its overhead alone. Three ways to serve the
 * clients, interleaved in every round:
 *   direct  each client calls accel_session_run() itself (K runs at once)
 *   off     through the batcher with max_batch 1 and K workers: every
 *           request is run alone as soon as it is queued
 *   on      through the batcher with max_batch B (8) and max_delay D us
 *           (2000), W workers (2)
 * The batcher calls accel_session_run() on the session, as the session's
 * asynchronous API will. Every cell is the median of R rounds (3). The
 * device lists default to "cpu", "cpu,opencl:0" and "cpu,opencl:0,opencl:1"
 * (run with POCL_DEVICES="pthread pthread" for two PoCL devices); a list
 * whose devices are missing is reported and skipped. Ratios: on/off,
 * on/direct, and each list's throughput over the "cpu" list's.
 *
 * Before timing, one batched run's outputs are compared with the same
 * requests run alone (max |difference| printed). Machines are shared and
 * noisy: read the ratios, not the absolute numbers.
 *
 * Links the static library: the batcher is internal, not public API.
 */
#include "sched/batcher.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LISTS 8
#define MAX_IO 16

enum mode { DIRECT, OFF, ON, N_MODES };
static const char *const mode_name[N_MODES] = { "direct", "off", "on" };

struct opts {
	const char *model;
	int clients, requests, rounds, threads;
	uint32_t max_batch, delay_us, workers;
	char *lists_buf;		/* the lists point into it */
	char *lists[MAX_LISTS];
	int n_lists;
};

struct bench {
	accel_session *session;
	size_t n_in, n_out;
	accel_value_info in[MAX_IO], out[MAX_IO];
	batcher *b;			/* NULL: direct */
	accel_tensor **inputs;		/* clients x n_in, one set per client */
	int requests;
	pthread_barrier_t start;
	accel_status failed;		/* first error, under lock */
	pthread_mutex_t lock;
};

struct client {
	struct bench *bn;
	int id;
};

static void die(accel_status st, const char *what)
{
	if (!st)
		return;
	fprintf(stderr, "batch_bench: %s: %s\n", what, accel_status_message(st));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static accel_status run_session(void *ctx, const accel_named_tensor *in,
				size_t n_in, accel_tensor **out, size_t n_out)
{
	return accel_session_run(ctx, in, n_in, out, n_out, 0);
}

static void named_inputs(struct bench *bn, int client, accel_named_tensor *named)
{
	for (size_t i = 0; i < bn->n_in; i++) {
		named[i].name = bn->in[i].name;
		named[i].tensor = bn->inputs[(size_t)client * bn->n_in + i];
	}
}

/* One request through the batcher or the session; outputs into |out|. */
static accel_status request(struct bench *bn, int client, accel_tensor **out)
{
	accel_named_tensor named[MAX_IO];
	batcher_ticket *t;
	accel_status st;

	named_inputs(bn, client, named);
	if (!bn->b)
		return accel_session_run(bn->session, named, bn->n_in, out,
					 bn->n_out, 0);
	ACCEL_TRY(batcher_submit(bn->b, named, bn->n_in, bn->n_out, &t));
	st = batcher_wait(t, -1, out);
	batcher_ticket_free(t);
	return st;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	struct bench *bn = c->bn;
	accel_tensor *out[MAX_IO];

	pthread_barrier_wait(&bn->start);
	for (int m = 0; m < bn->requests; m++) {
		accel_status st = request(bn, c->id, out);

		if (st) {
			pthread_mutex_lock(&bn->lock);
			if (!bn->failed)
				bn->failed = st;
			else
				accel_status_free(st);
			pthread_mutex_unlock(&bn->lock);
			break;
		}
		for (size_t o = 0; o < bn->n_out; o++)
			accel_tensor_release(out[o]);
	}
	return NULL;
}

static accel_status start_batcher(struct bench *bn, uint32_t max_batch,
				  uint32_t delay_us, uint32_t workers)
{
	batcher_params p = {
		.max_batch = max_batch,
		.max_delay_us = delay_us,
		.workers = workers,
		.n_inputs = bn->n_in,
		.inputs = bn->in,
		.n_outputs = bn->n_out,
		.outputs = bn->out,
	};

	return batcher_create(&p, run_session, bn->session, &bn->b);
}

/* K clients x M requests in one of the modes; requests per second. */
static double round_rps(struct bench *bn, const struct opts *o, enum mode m)
{
	pthread_t th[256];
	struct client cl[256];
	uint64_t t0, t1;

	bn->b = NULL;
	if (m == OFF)
		die(start_batcher(bn, 1, 0, (uint32_t)o->clients), "batcher (off)");
	else if (m == ON)
		die(start_batcher(bn, o->max_batch, o->delay_us, o->workers),
		    "batcher (on)");
	bn->requests = o->requests;
	pthread_barrier_init(&bn->start, NULL, (unsigned)o->clients + 1);
	for (int i = 0; i < o->clients; i++) {
		cl[i] = (struct client){ bn, i };
		if (pthread_create(&th[i], NULL, client_main, &cl[i])) {
			fprintf(stderr, "batch_bench: cannot start a client\n");
			exit(1);
		}
	}
	pthread_barrier_wait(&bn->start);
	t0 = now_ns();
	for (int i = 0; i < o->clients; i++)
		pthread_join(th[i], NULL);
	t1 = now_ns();
	pthread_barrier_destroy(&bn->start);
	if (bn->b) {
		struct batcher_stats s;

		batcher_get_stats(bn->b, &s);
		if (m == ON && getenv("BATCH_BENCH_VERBOSE"))
			fprintf(stderr, "  on: %llu requests in %llu runs (%llu merged)\n",
				(unsigned long long)s.requests,
				(unsigned long long)s.runs,
				(unsigned long long)s.merged_runs);
		batcher_destroy(bn->b);
		bn->b = NULL;
	}
	die(bn->failed, mode_name[m]);
	return (double)o->clients * o->requests * 1e9 / (double)(t1 - t0);
}

/* Batched outputs against the same requests run alone: max |diff|. */
static double check_batched(struct bench *bn, const struct opts *o)
{
	int n = o->clients < (int)o->max_batch ? o->clients : (int)o->max_batch;
	accel_tensor *alone[256][MAX_IO], *batched[MAX_IO];
	batcher_ticket *t[256];
	accel_named_tensor named[MAX_IO];
	double worst = 0;

	for (int c = 0; c < n; c++)
		die(request(bn, c, alone[c]), "a single run");
	/* the whole group at once: merged into one run */
	die(start_batcher(bn, (uint32_t)n, 60000000u, 1), "batcher");
	for (int c = 0; c < n; c++) {
		named_inputs(bn, c, named);
		die(batcher_submit(bn->b, named, bn->n_in, bn->n_out, &t[c]), "submit");
	}
	for (int c = 0; c < n; c++) {
		die(batcher_wait(t[c], -1, batched), "batched run");
		for (size_t k = 0; k < bn->n_out; k++) {
			const float *a = accel_tensor_data(alone[c][k]);
			const float *b = accel_tensor_data(batched[k]);
			int64_t len = accel_tensor_numel(alone[c][k]);

			if (accel_tensor_dtype(batched[k]) != ACCEL_DTYPE_F32 ||
			    accel_tensor_numel(batched[k]) != len) {
				fprintf(stderr, "batch_bench: output %zu differs in shape\n", k);
				exit(1);
			}
			for (int64_t i = 0; i < len; i++)
				worst = fmax(worst, fabs((double)a[i] - b[i]));
			accel_tensor_release(alone[c][k]);
			accel_tensor_release(batched[k]);
		}
		batcher_ticket_free(t[c]);
	}
	batcher_destroy(bn->b);
	bn->b = NULL;
	return worst;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void make_inputs(struct bench *bn, int clients)
{
	unsigned seed = 1;

	bn->inputs = calloc((size_t)clients * bn->n_in, sizeof(*bn->inputs));
	if (!bn->inputs) {
		fprintf(stderr, "batch_bench: out of memory\n");
		exit(1);
	}
	for (int c = 0; c < clients; c++)
		for (size_t i = 0; i < bn->n_in; i++) {
			accel_value_info *v = &bn->in[i];
			int64_t dims[ACCEL_MAX_RANK];
			accel_tensor *t;
			float *p;

			if (v->dtype != ACCEL_DTYPE_F32 || v->rank < 1) {
				fprintf(stderr, "batch_bench: input '%s' is not a float tensor of known rank\n",
					v->name);
				exit(1);
			}
			for (int d = 0; d < v->rank; d++)
				dims[d] = d == 0 ? 1 : v->dims[d];
			for (int d = 1; d < v->rank; d++)
				if (dims[d] < 0) {
					fprintf(stderr, "batch_bench: input '%s' dim %d is dynamic\n",
						v->name, d);
					exit(1);
				}
			die(accel_tensor_create(ACCEL_DTYPE_F32, v->rank, dims, &t),
			    "input");
			p = accel_tensor_data(t);
			for (int64_t k = 0; k < accel_tensor_numel(t); k++) {
				seed = seed * 1103515245u + 12345u;
				p[k] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
			}
			bn->inputs[(size_t)c * bn->n_in + i] = t;
		}
}

/* Results of one device list: median req/s per mode, 0 when skipped. */
static int bench_list(accel_model *model, const struct opts *o, const char *list,
		      double *rps)
{
	accel_session_options so;
	struct bench bn;
	double v[N_MODES][64], diff;
	accel_tensor *warm[MAX_IO];
	accel_status st;

	memset(&bn, 0, sizeof(bn));
	accel_session_options_init(&so);
	so.num_threads = o->threads;
	so.devices = list;
	st = accel_session_create(model, &so, &bn.session);
	if (st) {
		printf("%-24s skipped: %s\n", list, accel_status_message(st));
		accel_status_free(st);
		return 0;
	}
	pthread_mutex_init(&bn.lock, NULL);
	bn.n_in = accel_model_input_count(model);
	bn.n_out = accel_model_output_count(model);
	for (size_t i = 0; i < bn.n_in; i++)
		die(accel_model_input_info(model, i, &bn.in[i]), "input info");
	for (size_t i = 0; i < bn.n_out; i++)
		die(accel_model_output_info(model, i, &bn.out[i]), "output info");
	make_inputs(&bn, o->clients);

	/* warm up: one run alone, one batched group (checked) */
	die(request(&bn, 0, warm), "warm-up run");
	for (size_t k = 0; k < bn.n_out; k++)
		accel_tensor_release(warm[k]);
	diff = check_batched(&bn, o);

	for (int r = 0; r < o->rounds; r++)
		for (int m = 0; m < N_MODES; m++)
			v[m][r] = round_rps(&bn, o, (enum mode)m);
	for (int m = 0; m < N_MODES; m++)
		rps[m] = median(v[m], o->rounds);
	printf("%-24s %9.1f %9.1f %9.1f %8.2fx %8.2fx   %.2g\n", list,
	       rps[DIRECT], rps[OFF], rps[ON], rps[ON] / rps[OFF],
	       rps[ON] / rps[DIRECT], diff);
	fflush(stdout);

	for (size_t i = 0; i < (size_t)o->clients * bn.n_in; i++)
		accel_tensor_release(bn.inputs[i]);
	free(bn.inputs);
	pthread_mutex_destroy(&bn.lock);
	accel_session_release(bn.session);
	return 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: batch_bench MODEL [--clients K] [--requests M] [--rounds R]\n"
		"                   [--max-batch B] [--delay-us D] [--workers W]\n"
		"                   [--threads T] [--devices \"cpu;cpu,opencl:0\"]\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	char *lists = NULL;

	*o = (struct opts){ .clients = 4, .requests = 8, .rounds = 3,
			    .max_batch = 8, .delay_us = 2000, .workers = 2 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (a[0] != '-') {
			if (o->model)
				usage();
			o->model = a;
			continue;
		}
		if (!val)
			usage();
		i++;
		if (!strcmp(a, "--clients"))
			o->clients = atoi(val);
		else if (!strcmp(a, "--requests"))
			o->requests = atoi(val);
		else if (!strcmp(a, "--rounds"))
			o->rounds = atoi(val);
		else if (!strcmp(a, "--max-batch"))
			o->max_batch = (uint32_t)atoi(val);
		else if (!strcmp(a, "--delay-us"))
			o->delay_us = (uint32_t)atoi(val);
		else if (!strcmp(a, "--workers"))
			o->workers = (uint32_t)atoi(val);
		else if (!strcmp(a, "--threads"))
			o->threads = atoi(val);
		else if (!strcmp(a, "--devices"))
			lists = strdup(val);
		else
			usage();
	}
	if (!o->model || o->clients < 1 || o->clients > 256 || o->requests < 1 ||
	    o->rounds < 1 || o->rounds > 64 || o->max_batch < 2 || o->threads < 0)
		usage();
	if (!lists)
		lists = strdup("cpu;cpu,opencl:0;cpu,opencl:0,opencl:1");
	o->lists_buf = lists;
	for (char *save = NULL, *l = strtok_r(lists, ";", &save);
	     l && o->n_lists < MAX_LISTS; l = strtok_r(NULL, ";", &save))
		o->lists[o->n_lists++] = l;
}

int main(int argc, char **argv)
{
	struct opts o;
	accel_context *ctx;
	accel_model *model;
	double rps[MAX_LISTS][N_MODES];
	int have[MAX_LISTS], base = -1;
	bool dynamic = false;
	accel_value_info vi;

	parse(argc, argv, &o);
	die(accel_context_create(0, &ctx), "context");
	die(accel_model_load(ctx, o.model, 0, &model), o.model);
	for (size_t i = 0; i < accel_model_input_count(model); i++) {
		die(accel_model_input_info(model, i, &vi), "input info");
		dynamic |= vi.rank >= 1 && vi.dims[0] < 0;
	}
	printf("batch_bench: %s, %d clients x %d batch-1 requests, median of %d rounds\n",
	       o.model, o.clients, o.requests, o.rounds);
	printf("on: max_batch %u, max_delay %u us, %u workers; off: max_batch 1, %d workers\n",
	       o.max_batch, o.delay_us, o.workers, o.clients);
	if (!dynamic)
		printf("note: no input has a dynamic batch dimension: nothing merges\n");
	printf("\n%-24s %9s %9s %9s %9s %9s   %s\n", "devices", "direct/s",
	       "off/s", "on/s", "on/off", "on/direct", "max|batched-alone|");
	for (int l = 0; l < o.n_lists; l++) {
		have[l] = bench_list(model, &o, o.lists[l], rps[l]);
		if (have[l] && base < 0)
			base = l;
	}
	if (base >= 0) {
		printf("\nthroughput over \"%s\" (same mode):\n", o.lists[base]);
		printf("%-24s %9s %9s %9s\n", "devices", "direct", "off", "on");
		for (int l = 0; l < o.n_lists; l++)
			if (have[l])
				printf("%-24s %8.2fx %8.2fx %8.2fx\n", o.lists[l],
				       rps[l][DIRECT] / rps[base][DIRECT],
				       rps[l][OFF] / rps[base][OFF],
				       rps[l][ON] / rps[base][ON]);
	}
	accel_model_release(model);
	accel_context_release(ctx);
	free(o.lists_buf);
	return 0;
}
