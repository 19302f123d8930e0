/* SPDX-License-Identifier: MIT */
/*
 * accel-run - run an ONNX model with libaccel: the main job's tool.
 *
 * Loads a model, builds its inputs (files or deterministic random data),
 * runs it once, writes and/or reports the outputs, and optionally times a
 * loop of runs. Only the public API (accel/accel.h) is used.
 */
#include "accel-run.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
"Usage: accel-run MODEL [options]\n"
"\n"
"Run the ONNX model MODEL once with libaccel and report its outputs;\n"
"optionally time a loop of runs.\n"
"\n"
"Inputs:\n"
"  -i, --input NAME=FILE     take input NAME from FILE: NumPy .npy or a\n"
"                            serialized ONNX TensorProto (.pb), chosen by\n"
"                            content. Repeatable.\n"
"      --shape NAME=DIMS     shape of an input not given with -i, as\n"
"                            1x3x224x224 (\"\" or scalar for rank 0); needed\n"
"                            when the model leaves a dimension dynamic.\n"
"  Inputs not given get deterministic pseudo-random data (splitmix64 seeded\n"
"  by the input's name): floats uniform in [-1, 1), integers in [0, 10),\n"
"  bools 0/1. A dynamic dimension without --shape is a usage error.\n"
"\n"
"Outputs:\n"
"  -o, --output-dir DIR      write every output as DIR/<name>.npy (DIR is\n"
"                            created if missing; '/' in names becomes '_')\n"
"      --json                print the report as one JSON object on stdout\n"
"\n"
"Execution:\n"
"  -d, --device SPEC         cpu (default); opencl[:N], cuda[:N], auto, or a\n"
"                            comma-separated list, as the runtime offers them\n"
"  -t, --threads N           CPU threads (default 0: all online cores)\n"
"      --opt-level N         graph optimisation level 0-3 (default 3):\n"
"                            0 runs the graph as written; 1 folds constants\n"
"                            and removes identities, dead nodes and common\n"
"                            subexpressions; 2 and 3 also fuse operators\n"
"      --dump-graph FILE     write the optimised graph to FILE as Graphviz\n"
"                            DOT (render with dot -Tsvg FILE)\n"
"      --explain             print which device runs each node and why\n"
"                            (to stderr with --json)\n"
"      --list-devices        list the devices this host offers and exit\n"
"      --warmup N            untimed runs before the timing loop (default 0)\n"
"      --iterations N        timed runs: report min/median/p90/p99/max/mean\n"
"                            latency (ms) and throughput (inferences/s)\n"
"      --concurrency N       keep N requests in flight in the timing loop\n"
"                            (default 1); devices of a split plan then work\n"
"                            on different requests at once\n"
"      --max-batch N         merge concurrent requests along dimension 0\n"
"                            (declared dynamic) into runs of up to N rows\n"
"      --batch-delay-us N    how long a request may wait for partners\n"
"                            (default 1000)\n"
"\n"
"  -h, --help                show this help and exit\n"
"      --version             show the version and exit\n"
"\n"
"Exit status: 0 on success, 1 when the model, a file or the runtime fails,\n"
"2 on a usage error. Errors go to stderr, prefixed \"accel-run: \".\n"
"\n"
"Examples:\n"
"  accel-run resnet18.onnx -i input=cat.npy -o out/\n"
"  accel-run model.onnx --shape ids=1x128 --warmup 5 --iterations 50 --json\n";

enum { OPT_SHAPE = 256, OPT_JSON, OPT_WARMUP, OPT_ITERATIONS, OPT_VERSION,
       OPT_OPT_LEVEL, OPT_DUMP_GRAPH, OPT_EXPLAIN, OPT_LIST_DEVICES, OPT_CONCURRENCY,
       OPT_MAX_BATCH, OPT_BATCH_DELAY };

static const struct option long_opts[] = {
	{ "input", required_argument, NULL, 'i' },
	{ "shape", required_argument, NULL, OPT_SHAPE },
	{ "output-dir", required_argument, NULL, 'o' },
	{ "device", required_argument, NULL, 'd' },
	{ "threads", required_argument, NULL, 't' },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "iterations", required_argument, NULL, OPT_ITERATIONS },
	{ "concurrency", required_argument, NULL, OPT_CONCURRENCY },
	{ "max-batch", required_argument, NULL, OPT_MAX_BATCH },
	{ "batch-delay-us", required_argument, NULL, OPT_BATCH_DELAY },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "opt-level", required_argument, NULL, OPT_OPT_LEVEL },
	{ "dump-graph", required_argument, NULL, OPT_DUMP_GRAPH },
	{ "explain", no_argument, NULL, OPT_EXPLAIN },
	{ "list-devices", no_argument, NULL, OPT_LIST_DEVICES },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

void die_msg(const char *fmt, ...)
{
	va_list ap;

	fputs("accel-run: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("accel-run: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'accel-run --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- option parsing ---- */

static bool parse_count(const char *s, int min, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > 100000000)
		return false;
	*out = (int)v;
	return true;
}

static int add_name_value(struct name_value **arr, size_t *n, const char *arg,
			  const char *opt)
{
	const char *eq = strchr(arg, '=');
	struct name_value *grown;

	if (!eq || eq == arg)
		return usage_error("%s '%s': expected NAME=VALUE", opt, arg);
	grown = realloc(*arr, (*n + 1) * sizeof(**arr));
	if (!grown)
		return usage_error("out of memory");
	*arr = grown;
	grown[*n].name = strndup(arg, (size_t)(eq - arg));
	grown[*n].value = strdup(eq + 1);
	if (!grown[*n].name || !grown[*n].value)
		return usage_error("out of memory");
	(*n)++;
	return EXIT_OK;
}

static void free_name_values(struct name_value *arr, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(arr[i].name);
		free(arr[i].value);
	}
	free(arr);
}

static int fail(accel_status st);

/* --explain: the plan, one line per step. */
static void explain(const accel_session *s, FILE *f)
{
	size_t n = accel_session_step_count(s);

	fprintf(f, "placement (%zu steps):\n", n);
	for (size_t i = 0; i < n; i++) {
		accel_node_placement p;

		if (accel_session_placement(s, i, &p))
			continue;
		fprintf(f, "  %4zu  %-24s %-28s %-32s %s\n", i, p.op_type, p.node_name,
			p.device, p.reason);
	}
}

/*
 * --list-devices: one device per line, its name first, then where it sits
 * (PCI bus id, NUMA node); then the DRM GPUs no backend drives, marked.
 */
static int list_devices(void)
{
	accel_context *ctx = NULL;
	accel_status st = accel_context_create(0, &ctx);

	if (st)
		return fail(st);
	for (size_t i = 0; i < accel_context_device_count(ctx); i++) {
		const char *pci;
		accel_device *d;

		if (accel_context_device(ctx, i, &d))
			continue;
		pci = accel_device_pci_bus_id(d);
		printf("%s", accel_device_name(d));
		if (pci)
			printf("  pci %s", pci);
		if (accel_device_numa_node(d) >= 0)
			printf("  numa %d", accel_device_numa_node(d));
		printf("\n");
	}
	for (int k = ACCEL_DEVICE_OPENCL; k <= ACCEL_DEVICE_CUDA; k++) {
		const char *why = accel_context_device_absence(ctx, (accel_device_kind)k);

		if (why)
			printf("%s: none: %s\n", k == ACCEL_DEVICE_CUDA ? "cuda" : "opencl", why);
	}
	for (size_t i = 0; i < accel_context_drm_gpu_count(ctx); i++) {
		accel_drm_gpu g;

		if (accel_context_drm_gpu(ctx, i, &g) || g.driven_by)
			continue;
		printf("drm %s [%04x:%04x] %s", g.pci_bus_id, g.vendor_id, g.device_id,
		       g.render_node ? g.render_node : g.primary_node ? g.primary_node : "-");
		if (g.numa_node >= 0)
			printf("  numa %d", g.numa_node);
		printf("  (no backend drives it)\n");
	}
	accel_context_release(ctx);
	return EXIT_OK;
}

static int parse_one(struct options *o, int c, const char *arg)
{
	int64_t dims[ACCEL_MAX_RANK];
	int rank;

	switch (c) {
	case 'i':
		return add_name_value(&o->inputs, &o->n_inputs, arg, "--input");
	case OPT_SHAPE:
		if (strchr(arg, '=') && !parse_dims(strchr(arg, '=') + 1, &rank, dims))
			return usage_error("--shape '%s': expected NAME=DIMS like x=1x3x224x224",
					   arg);
		return add_name_value(&o->shapes, &o->n_shapes, arg, "--shape");
	case 'o': o->output_dir = arg; return EXIT_OK;
	case 'd': o->device = arg; return EXIT_OK;
	case 'j': o->json = true; return EXIT_OK;
	case 't':
		if (!parse_count(arg, 0, &o->threads))
			return usage_error("--threads '%s': expected a count >= 0", arg);
		return EXIT_OK;
	case OPT_WARMUP:
		if (!parse_count(arg, 0, &o->warmup))
			return usage_error("--warmup '%s': expected a count >= 0", arg);
		return EXIT_OK;
	case OPT_ITERATIONS:
		if (!parse_count(arg, 1, &o->iterations))
			return usage_error("--iterations '%s': expected a count >= 1", arg);
		return EXIT_OK;
	case OPT_CONCURRENCY:
		if (!parse_count(arg, 1, &o->concurrency) || o->concurrency > 1024)
			return usage_error("--concurrency '%s': expected 1 to 1024", arg);
		return EXIT_OK;
	case OPT_MAX_BATCH:
		if (!parse_count(arg, 0, &o->max_batch) || o->max_batch > 65536)
			return usage_error("--max-batch '%s': expected 0 to 65536", arg);
		return EXIT_OK;
	case OPT_BATCH_DELAY:
		if (!parse_count(arg, 0, &o->batch_delay_us) || o->batch_delay_us > 10000000)
			return usage_error("--batch-delay-us '%s': expected 0 to 10000000", arg);
		return EXIT_OK;
	case OPT_OPT_LEVEL:
		if (!parse_count(arg, 0, &o->opt_level) ||
		    o->opt_level > ACCEL_LOAD_OPT_LEVEL_MAX)
			return usage_error("--opt-level '%s': expected 0 to %d", arg,
					   ACCEL_LOAD_OPT_LEVEL_MAX);
		return EXIT_OK;
	case OPT_EXPLAIN: o->explain = true; return EXIT_OK;
	case OPT_DUMP_GRAPH:
		if (!*arg)
			return usage_error("--dump-graph: empty file name");
		o->dump_graph = arg;
		return EXIT_OK;
	default:
		return usage_error("unknown option");
	}
}

/* Returns -1 to go on, else the exit code (help, version, usage error). */
static int parse_args(int argc, char **argv, struct options *o)
{
	int c, rc;

	o->device = "cpu";
	o->opt_level = -1;
	o->concurrency = 1;
	opterr = 0; /* we print our own messages */
	while ((c = getopt_long(argc, argv, ":i:o:d:t:h", long_opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage_text, stdout);
			return EXIT_OK;
		}
		if (c == OPT_VERSION) {
			printf("accel-run %d.%d.%d\n", ACCEL_VERSION_MAJOR,
			       ACCEL_VERSION_MINOR, ACCEL_VERSION_PATCH);
			return EXIT_OK;
		}
		if (c == OPT_LIST_DEVICES)
			return list_devices();
		if (c == ':')
			return usage_error("option '%s' needs an argument",
					   argv[optind - 1]);
		if (c == '?')
			return usage_error("unknown option '%s'", argv[optind - 1]);
		rc = parse_one(o, c == OPT_JSON ? 'j' : c, optarg);
		if (rc)
			return rc;
	}
	if (optind >= argc)
		return usage_error("no MODEL given");
	if (optind + 1 < argc)
		return usage_error("unexpected argument '%s' after MODEL '%s'",
				   argv[optind + 1], argv[optind]);
	o->model = argv[optind];
	if (o->warmup && !o->iterations)
		return usage_error("--warmup needs --iterations");
	if (o->concurrency > 1 && !o->iterations)
		return usage_error("--concurrency needs --iterations");
	return -1;
}

/* mkdir -p; fails when a component exists and is not a directory. */
static int ensure_dir(const char *dir)
{
	char *path = strdup(dir);
	struct stat sb;
	int rc = EXIT_OK;

	if (!*dir) {
		free(path);
		return usage_error("--output-dir: empty directory name");
	}
	if (!path)
		return EXIT_RUNTIME;
	for (char *p = path + 1; rc == EXIT_OK; p++) {
		char saved = *p;

		if (saved != '/' && saved != '\0')
			continue;
		*p = '\0';
		if (mkdir(path, 0777) && errno != EEXIST) {
			die_msg("--output-dir %s: cannot create %s: %s", dir,
				path, strerror(errno));
			rc = EXIT_RUNTIME;
		} else if (stat(path, &sb) || !S_ISDIR(sb.st_mode)) {
			die_msg("--output-dir %s: %s is not a directory", dir, path);
			rc = EXIT_USAGE;
		}
		*p = saved;
		if (!saved)
			break;
	}
	free(path);
	return rc;
}

/* ---- running ---- */

static int fail(accel_status st)
{
	die_msg("%s", accel_status_message(st));
	accel_status_free(st);
	return EXIT_RUNTIME;
}

/* Every named device must exist; "auto" lets the runtime choose. */
static int check_devices(accel_context *ctx, const char *spec)
{
	char *copy = strdup(spec), *save = NULL;
	int rc = EXIT_OK;

	if (!copy)
		return EXIT_RUNTIME;
	if (!*spec || spec[0] == ',' || spec[strlen(spec) - 1] == ',' ||
	    strstr(spec, ",,"))
		rc = usage_error("--device '%s': empty device in the list", spec);
	for (char *tok = strtok_r(copy, ",", &save); !rc && tok;
	     tok = strtok_r(NULL, ",", &save)) {
		accel_device *dev;
		accel_status st;

		if (!strcmp(tok, "auto"))
			continue;
		st = accel_context_find_device(ctx, tok, &dev);
		if (st) {
			/* A malformed spec is the caller's; a missing device is
			 * the host's. */
			rc = accel_status_code_of(st) == ACCEL_INVALID_ARGUMENT ?
				     EXIT_USAGE : EXIT_RUNTIME;
			die_msg("--device: %s", accel_status_message(st));
			accel_status_free(st);
		}
	}
	free(copy);
	return rc;
}

static accel_status run_once(accel_session *s, const accel_named_tensor *in,
			     size_t n_in, accel_tensor **out, size_t n_out)
{
	return accel_session_run(s, in, n_in, out, n_out, 0);
}

static void release_all(accel_tensor **t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		accel_tensor_release(t[i]);
		t[i] = NULL;
	}
}

/*
 * Warm-up then timed runs; fills r->stats. With --concurrency N the loop
 * keeps N requests in flight (accel_session_submit), each latency being
 * submit to completion; throughput is then requests over wall time.
 */
static int time_loop(accel_session *s, const accel_named_tensor *in,
		     size_t n_in, size_t n_out, struct run_report *r)
{
	const struct options *o = r->opt;
	int total = o->warmup + o->iterations, depth = o->concurrency;
	accel_tensor **out = calloc(n_out ? n_out : 1, sizeof(*out));
	double *lat = calloc((size_t)o->iterations, sizeof(*lat));
	double *t_sub = calloc((size_t)depth, sizeof(*t_sub));
	accel_request **req = calloc((size_t)depth, sizeof(*req));
	double wall0 = 0;
	int rc = EXIT_OK, next = 0, done = 0;

	if (!out || !lat || !t_sub || !req) {
		die_msg("out of memory");
		rc = EXIT_RUNTIME;
	}
	/* slot k holds request number next - depth + k (mod depth) */
	while (!rc && done < total) {
		int k = done % depth;
		accel_status st;

		while (next < total && next - done < depth) {
			int slot = next % depth;

			if (next == o->warmup)
				wall0 = now_ms();
			t_sub[slot] = now_ms();
			st = accel_session_submit(s, in, n_in, 0, &req[slot]);
			if (st) {
				rc = fail(st);
				break;
			}
			next++;
		}
		if (rc)
			break;
		st = accel_request_wait(req[k], ACCEL_WAIT_FOREVER);
		if (!st)
			st = accel_request_take_outputs(req[k], out, n_out);
		if (done >= o->warmup)
			lat[done - o->warmup] = now_ms() - t_sub[k];
		accel_request_free(req[k]);
		req[k] = NULL;
		release_all(out, n_out);
		done++;
		if (st)
			rc = fail(st);
	}
	for (int k = 0; k < depth && req; k++)
		accel_request_free(req[k]);
	if (!rc) {
		double wall = now_ms() - wall0;

		stats_compute(lat, o->iterations, &r->stats);
		r->stats.warmup = o->warmup;
		r->stats.wall_ms = wall;
		if (wall > 0)
			r->stats.throughput = o->iterations * 1000.0 / wall;
		r->timed = true;
	}
	free(out);
	free(lat);
	free(t_sub);
	free(req);
	return rc;
}

/* What each device did over the whole run (copied: the session goes). */
static void collect_activity(const accel_session *s, struct run_report *r)
{
	size_t n = accel_session_device_count(s);

	r->activity = calloc(n ? n : 1, sizeof(*r->activity));
	if (!r->activity)
		return;
	for (size_t i = 0; i < n; i++) {
		accel_status st = accel_session_device_activity(s, i, &r->activity[r->n_activity]);

		if (st) {
			accel_status_free(st);
			continue;
		}
		r->activity[r->n_activity].device = strdup(r->activity[r->n_activity].device);
		if (r->activity[r->n_activity].device)
			r->n_activity++;
	}
}

static int make_session(accel_model *model, const struct options *o,
			accel_session **out)
{
	accel_session_options so;
	accel_status st;

	accel_session_options_init(&so);
	so.num_threads = o->threads;
	so.devices = o->device;
	so.max_batch = (uint32_t)o->max_batch;
	so.max_batch_delay_us = (uint32_t)o->batch_delay_us;
	st = accel_session_create(model, &so, out);
	if (st)
		return fail(st);
	if (o->explain)
		explain(*out, o->json ? stderr : stdout);
	return EXIT_OK;
}

/* The first run: its outputs are reported and written. */
static int first_run(accel_session *s, const accel_named_tensor *in,
		     size_t n_in, struct run_report *r)
{
	size_t n = r->n_outputs;
	accel_tensor **out = calloc(n ? n : 1, sizeof(*out));
	accel_status st;
	double t0;

	if (!out) {
		die_msg("out of memory");
		return EXIT_RUNTIME;
	}
	t0 = now_ms();
	st = run_once(s, in, n_in, out, n);
	r->first_run_ms = now_ms() - t0;
	if (st) {
		free(out);
		return fail(st);
	}
	for (size_t i = 0; i < n; i++)
		r->outputs[i].tensor = out[i];
	free(out);
	return EXIT_OK;
}

static int run_model(accel_model *model, struct run_report *r)
{
	const struct options *o = r->opt;
	accel_named_tensor *named = NULL;
	accel_session *session = NULL;
	int rc;

	rc = inputs_prepare(o, model, &r->inputs, &r->n_inputs);
	if (rc)
		return rc;
	named = calloc(r->n_inputs ? r->n_inputs : 1, sizeof(*named));
	r->n_outputs = accel_model_output_count(model);
	r->outputs = calloc(r->n_outputs ? r->n_outputs : 1, sizeof(*r->outputs));
	if (!named || !r->outputs) {
		free(named);
		die_msg("out of memory");
		return EXIT_RUNTIME;
	}
	for (size_t i = 0; i < r->n_inputs; i++)
		named[i] = (accel_named_tensor){ r->inputs[i].info.name,
						 r->inputs[i].tensor };
	for (size_t i = 0; i < r->n_outputs; i++)
		accel_model_output_info(model, i, &r->outputs[i].info);
	rc = make_session(model, o, &session);
	if (!rc)
		rc = first_run(session, named, r->n_inputs, r);
	if (!rc && o->output_dir)
		rc = outputs_write(r->outputs, r->n_outputs, o->output_dir);
	if (!rc && o->iterations)
		rc = time_loop(session, named, r->n_inputs, r->n_outputs, r);
	if (!rc)
		collect_activity(session, r);
	if (session)
		accel_status_free(accel_session_memory_plan(session, &r->memory));
	accel_session_release(session);
	free(named);
	return rc;
}

static void report_free(struct run_report *r)
{
	for (size_t i = 0; i < r->n_activity; i++)
		free((char *)r->activity[i].device);
	free(r->activity);
	inputs_free(r->inputs, r->n_inputs);
	for (size_t i = 0; r->outputs && i < r->n_outputs; i++) {
		accel_tensor_release(r->outputs[i].tensor);
		free(r->outputs[i].file);
	}
	free(r->outputs);
}

static int load_and_run(const struct options *o)
{
	struct run_report r = { .opt = o };
	uint32_t load_flags = o->opt_level >= 0 ? ACCEL_LOAD_OPT_LEVEL(o->opt_level) : 0;
	accel_context *ctx = NULL;
	accel_model *model = NULL;
	accel_status st;
	double t0;
	int rc;

	st = accel_context_create(0, &ctx);
	if (st)
		return fail(st);
	rc = check_devices(ctx, o->device);
	t0 = now_ms();
	if (!rc && (st = accel_model_load(ctx, o->model, load_flags, &model)))
		rc = fail(st);
	if (!rc && o->dump_graph && (st = accel_model_dump_graph(model, o->dump_graph, 0)))
		rc = fail(st);
	r.load_ms = now_ms() - t0;
	r.model = model;
	r.threads = o->threads ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (!rc)
		rc = run_model(model, &r);
	if (!rc && o->json)
		report_json(&r);
	else if (!rc)
		report_text(&r);
	report_free(&r);
	accel_model_release(model);
	accel_context_release(ctx);
	return rc;
}

int main(int argc, char **argv)
{
	struct options opt = { 0 };
	int rc;

	rc = parse_args(argc, argv, &opt);
	if (rc < 0 && opt.output_dir) {
		int dir_rc = ensure_dir(opt.output_dir);

		if (dir_rc != EXIT_OK)
			rc = dir_rc;
	}
	if (rc < 0)
		rc = load_and_run(&opt);
	if (fflush(stdout) != 0 && rc == EXIT_OK) {
		die_msg("writing the report: %s", strerror(errno));
		rc = EXIT_RUNTIME;
	}
	free_name_values(opt.inputs, opt.n_inputs);
	free_name_values(opt.shapes, opt.n_shapes);
	return rc;
}
