/* SPDX-License-Identifier: MIT */
/*
 * report.c - what accel-run tells: the human report, the JSON report,
 * latency statistics, and the outputs written as .npy files.
 */
#include "accel-run.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

/* Outputs up to this many elements are printed in full in the JSON. */
#define JSON_MAX_VALUES 16
/* The human report shows this many leading values of each output. */
#define TEXT_VALUES 6

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted values. */
static double percentile(const double *v, int n, double p)
{
	int k = (int)ceil(p / 100.0 * n) - 1;

	return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

void stats_compute(double *lat_ms, int n, struct latency_stats *out)
{
	double sum = 0;

	out->iterations = n;
	if (n <= 0)
		return;
	qsort(lat_ms, (size_t)n, sizeof(*lat_ms), cmp_double);
	for (int i = 0; i < n; i++)
		sum += lat_ms[i];
	out->min = lat_ms[0];
	out->max = lat_ms[n - 1];
	out->median = n % 2 ? lat_ms[n / 2] :
			      (lat_ms[n / 2 - 1] + lat_ms[n / 2]) / 2;
	out->p90 = percentile(lat_ms, n, 90);
	out->p99 = percentile(lat_ms, n, 99);
	out->mean = sum / n;
	out->throughput = sum > 0 ? n * 1000.0 / sum : 0;
}

static const char *shape_str(accel_tensor *t, char *buf, size_t len)
{
	const int64_t *dims = accel_tensor_dims(t);
	int rank = accel_tensor_rank(t);
	size_t used = 0;

	if (rank == 0)
		return snprintf(buf, len, "scalar"), buf;
	buf[0] = '\0';
	for (int i = 0; i < rank && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%lld",
					 i ? "x" : "", (long long)dims[i]);
	return buf;
}

/* Element |i| as a double, whatever the dtype (half types decoded here
 * because the tool only uses the public API). */
static double element(accel_tensor *t, int64_t i)
{
	const void *p = accel_tensor_data(t);
	uint16_t h;
	uint32_t bits;
	float f;

	switch (accel_tensor_dtype(t)) {
	case ACCEL_DTYPE_F32: return ((const float *)p)[i];
	case ACCEL_DTYPE_F64: return ((const double *)p)[i];
	case ACCEL_DTYPE_I64: return (double)((const int64_t *)p)[i];
	case ACCEL_DTYPE_I32: return ((const int32_t *)p)[i];
	case ACCEL_DTYPE_I16: return ((const int16_t *)p)[i];
	case ACCEL_DTYPE_I8: return ((const int8_t *)p)[i];
	case ACCEL_DTYPE_U64: return (double)((const uint64_t *)p)[i];
	case ACCEL_DTYPE_U32: return ((const uint32_t *)p)[i];
	case ACCEL_DTYPE_U16: return ((const uint16_t *)p)[i];
	case ACCEL_DTYPE_U8: case ACCEL_DTYPE_BOOL: return ((const uint8_t *)p)[i];
	case ACCEL_DTYPE_BF16:
		bits = (uint32_t)((const uint16_t *)p)[i] << 16;
		memcpy(&f, &bits, 4);
		return f;
	case ACCEL_DTYPE_F16: {
		int e;

		h = ((const uint16_t *)p)[i];
		e = (h >> 10) & 0x1f;
		f = e == 31 ? ((h & 0x3ff) ? NAN : INFINITY) :
		    e ? ldexpf(1.0f + (h & 0x3ff) / 1024.0f, e - 15) :
			ldexpf((h & 0x3ff) / 1024.0f, -14);
		return (h & 0x8000) ? -f : f;
	}
	default: return NAN;
	}
}

/*
 * The process's peak resident set in MiB so far: model, weights, arena,
 * inputs and outputs, thread stacks, and the binary itself. Taken from the
 * kernel because the public API has no peak-of-live-tensors call, and
 * because any other runtime run in a process of its own can be measured
 * the same way, which is what a fair comparison needs. VmHWM first: it
 * belongs to this address space, while getrusage's ru_maxrss carries over
 * exec() and so includes the parent that forked us (a Python harness's
 * 80 MB). NaN when the kernel will say neither.
 */
static double peak_rss_mib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	struct rusage ru;
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	if (kb >= 0)
		return kb / 1024.0;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return NAN;
	return ru.ru_maxrss / 1024.0; /* Linux reports kilobytes */
}

/* ---- the human report ---- */

static void text_values(accel_tensor *t)
{
	int64_t n = accel_tensor_numel(t);

	printf(" [");
	for (int64_t i = 0; i < n && i < TEXT_VALUES; i++)
		printf("%s%.6g", i ? ", " : "", element(t, i));
	printf("%s]", n > TEXT_VALUES ? ", ..." : "");
}

void report_text(const struct run_report *r)
{
	char buf[160];

	printf("model:   %s (%zu nodes, loaded in %.1f ms)\n", r->opt->model,
	       accel_model_node_count(r->model), r->load_ms);
	printf("device:  %s, %d thread%s\n", r->opt->device, r->threads,
	       r->threads == 1 ? "" : "s");
	for (size_t i = 0; i < r->n_inputs; i++) {
		const struct run_input *in = &r->inputs[i];

		printf("input:   %s %s %s ", in->info.name,
		       accel_dtype_name(accel_tensor_dtype(in->tensor)),
		       shape_str(in->tensor, buf, sizeof(buf)));
		if (in->source)
			printf("from %s\n", in->source);
		else
			printf("random (seed %016llx)\n", (unsigned long long)in->seed);
	}
	for (size_t i = 0; i < r->n_outputs; i++) {
		const struct run_output *o = &r->outputs[i];

		printf("output:  %s %s %s", o->info.name,
		       accel_dtype_name(accel_tensor_dtype(o->tensor)),
		       shape_str(o->tensor, buf, sizeof(buf)));
		text_values(o->tensor);
		if (o->file)
			printf(" -> %s", o->file);
		printf("\n");
	}
	printf("first run: %.4g ms\n", r->first_run_ms);
	printf("peak memory: %.1f MiB (process peak RSS)\n", peak_rss_mib());
	printf("memory plan: %.1f MiB arena for %.1f MiB of intermediates (%u values, %u in place)\n",
	       r->memory.arena_bytes / 1048576.0, r->memory.planned_bytes / 1048576.0,
	       r->memory.planned_values, r->memory.in_place);
	if (!r->timed)
		return;
	printf("latency (ms, %d iterations after %d warm-up): min %.4g  median %.4g  p90 %.4g  p99 %.4g  max %.4g  mean %.4g\n",
	       r->stats.iterations, r->stats.warmup, r->stats.min,
	       r->stats.median, r->stats.p90, r->stats.p99, r->stats.max,
	       r->stats.mean);
	printf("throughput: %.2f inferences/s (%d in flight)\n", r->stats.throughput,
	       r->opt->concurrency);
	for (size_t i = 0; i < r->n_activity; i++) {
		const accel_device_activity *a = &r->activity[i];

		printf("device %s: busy %.4g ms over all runs, %llu segments, %llu steps\n",
		       a->device, a->busy_ns / 1e6, (unsigned long long)a->segments,
		       (unsigned long long)a->steps);
	}
}

/* ---- the JSON report ---- */

static void json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void json_num(double v)
{
	if (isfinite(v))
		printf("%.9g", v);
	else
		printf("null"); /* JSON has no NaN or infinity */
}

static void json_tensor(const char *name, accel_tensor *t)
{
	int rank = accel_tensor_rank(t);

	printf("{\"name\": ");
	json_str(name);
	printf(", \"dtype\": \"%s\", \"shape\": [",
	       accel_dtype_name(accel_tensor_dtype(t)));
	for (int d = 0; d < rank; d++)
		printf("%s%lld", d ? ", " : "", (long long)accel_tensor_dims(t)[d]);
	printf("]");
}

static void json_inputs(const struct run_report *r)
{
	printf("\"inputs\": [");
	for (size_t i = 0; i < r->n_inputs; i++) {
		const struct run_input *in = &r->inputs[i];

		printf("%s", i ? ", " : "");
		json_tensor(in->info.name, in->tensor);
		printf(", \"source\": ");
		if (in->source)
			json_str(in->source);
		else
			printf("\"random\", \"seed\": \"%016llx\"",
			       (unsigned long long)in->seed);
		printf("}");
	}
	printf("]");
}

static void json_outputs(const struct run_report *r)
{
	printf("\"outputs\": [");
	for (size_t i = 0; i < r->n_outputs; i++) {
		const struct run_output *o = &r->outputs[i];
		int64_t n = accel_tensor_numel(o->tensor);

		printf("%s", i ? ", " : "");
		json_tensor(o->info.name, o->tensor);
		if (o->file) {
			printf(", \"file\": ");
			json_str(o->file);
		}
		if (n <= JSON_MAX_VALUES) {
			printf(", \"values\": [");
			for (int64_t k = 0; k < n; k++) {
				printf("%s", k ? ", " : "");
				json_num(element(o->tensor, k));
			}
			printf("]");
		}
		printf("}");
	}
	printf("]");
}

void report_json(const struct run_report *r)
{
	const struct latency_stats *s = &r->stats;

	printf("{\"model\": ");
	json_str(r->opt->model);
	printf(", \"device\": ");
	json_str(r->opt->device);
	printf(", \"threads\": %d, \"nodes\": %zu, \"load_ms\": ", r->threads,
	       accel_model_node_count(r->model));
	json_num(r->load_ms);
	printf(", \"first_run_ms\": ");
	json_num(r->first_run_ms);
	printf(", \"peak_rss_mib\": ");
	json_num(peak_rss_mib());
	printf(", \"memory_plan\": {\"arena_bytes\": %llu, \"planned_bytes\": %llu, \"planned_values\": %u, \"in_place\": %u}",
	       (unsigned long long)r->memory.arena_bytes,
	       (unsigned long long)r->memory.planned_bytes, r->memory.planned_values,
	       r->memory.in_place);
	printf(", ");
	json_inputs(r);
	printf(", ");
	json_outputs(r);
	if (r->timed) {
		printf(", \"warmup\": %d, \"iterations\": %d, \"latency_ms\": {",
		       s->warmup, s->iterations);
		printf("\"min\": %.6f, \"median\": %.6f, \"p90\": %.6f, \"p99\": %.6f, \"max\": %.6f, \"mean\": %.6f}",
		       s->min, s->median, s->p90, s->p99, s->max, s->mean);
		printf(", \"throughput_ips\": %.6f, \"concurrency\": %d, \"wall_ms\": %.6f",
		       s->throughput, r->opt->concurrency, s->wall_ms);
	}
	printf(", \"devices\": [");
	for (size_t i = 0; i < r->n_activity; i++) {
		const accel_device_activity *a = &r->activity[i];

		printf("%s{\"device\": ", i ? ", " : "");
		json_str(a->device);
		printf(", \"busy_ms\": %.6f, \"segments\": %llu, \"steps\": %llu}", a->busy_ns / 1e6,
		       (unsigned long long)a->segments, (unsigned long long)a->steps);
	}
	printf("]}\n");
}

/* ---- output files ---- */

/* A file name from an output name: no '/', never "." or "..", unique. */
static char *output_path(const char *dir, const char *name, size_t index,
			 const struct run_output *prev, size_t n_prev)
{
	char *base = strdup(name[0] ? name : "output"), *path = NULL;

	if (!base)
		return NULL;
	for (char *p = base; *p; p++)
		if (*p == '/' || *p == '\\')
			*p = '_';
	if (!strcmp(base, ".") || !strcmp(base, ".."))
		base[0] = '_';
	if (asprintf(&path, "%s/%s.npy", dir, base) < 0)
		path = NULL;
	for (size_t i = 0; path && i < n_prev; i++) {
		if (prev[i].file && !strcmp(prev[i].file, path)) {
			free(path);
			if (asprintf(&path, "%s/%s_%zu.npy", dir, base, index) < 0)
				path = NULL;
			break;
		}
	}
	free(base);
	return path;
}

int outputs_write(struct run_output *outputs, size_t count, const char *dir)
{
	for (size_t i = 0; i < count; i++) {
		struct run_output *o = &outputs[i];
		accel_status st;

		o->file = output_path(dir, o->info.name, i, outputs, i);
		if (!o->file) {
			die_msg("out of memory");
			return EXIT_RUNTIME;
		}
		st = accel_tensor_write_npy(o->tensor, o->file);
		if (st) {
			die_msg("output '%s': %s", o->info.name,
				accel_status_message(st));
			accel_status_free(st);
			return EXIT_RUNTIME;
		}
	}
	return EXIT_OK;
}
