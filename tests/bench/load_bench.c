/* SPDX-License-Identifier: MIT */
/*
 * load_bench - how long accel_model_load() takes, one line per load.
 *
 *     load_bench [--loads N] [--opt-level L] [--cold] [--evict FILE]... MODEL
 *
 * Each load is the whole accel_model_load (read, parse, external data,
 * shape inference and the graph optimiser at the default level), timed
 * with CLOCK_MONOTONIC; the model is released between loads. --opt-level 0
 * leaves out the optimiser (reading and parsing only). --cold asks
 * the kernel to drop the model file (and every --evict FILE, e.g. its
 * external data) from the page cache before each load
 * (posix_fadvise DONTNEED), so the reads hit the disk.
 *
 * The first line says which reader the library picks (io_uring, or pread
 * when ACCEL_NO_IO_URING=1 or io_uring is unavailable); then
 * "load_ms <ms>" per load and "median_ms <ms>". tests/bench/load_bench.py
 * runs it against onnxruntime's session creation. Links the static
 * library for the reader query; the loads use the public API.
 */
#include "accel/accel.h"
#include "onnx/file_read.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVICT 16

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void evict(const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return;
	fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
}

static int usage(void)
{
	fprintf(stderr, "usage: load_bench [--loads N] [--opt-level L] [--cold] [--evict FILE]... MODEL\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *model = NULL, *evicts[MAX_EVICT];
	int loads = 10, n_evict = 0, cold = 0, level = -1;
	accel_context *ctx = NULL;
	file_reader *r = NULL;
	accel_status st;
	double *ms;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--loads") && i + 1 < argc)
			loads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--opt-level") && i + 1 < argc)
			level = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--cold"))
			cold = 1;
		else if (!strcmp(argv[i], "--evict") && i + 1 < argc && n_evict < MAX_EVICT)
			evicts[n_evict++] = argv[++i];
		else if (argv[i][0] == '-' || model)
			return usage();
		else
			model = argv[i];
	}
	if (!model || loads < 1)
		return usage();
	if (!file_reader_create(0, &r))
		printf("reader %s\n", file_reader_uses_io_uring(r) ? "io_uring" : "pread");
	file_reader_destroy(r);
	ms = calloc((size_t)loads, sizeof(*ms));
	if (!ms || (st = accel_context_create(0, &ctx))) {
		fprintf(stderr, "load_bench: cannot create a context\n");
		return 1;
	}
	for (int i = 0; i < loads; i++) {
		accel_model *m = NULL;
		double t0;

		if (cold) {
			evict(model);
			for (int e = 0; e < n_evict; e++)
				evict(evicts[e]);
		}
		t0 = now_ms();
		st = accel_model_load(ctx, model, level >= 0 ? ACCEL_LOAD_OPT_LEVEL(level) : 0, &m);
		ms[i] = now_ms() - t0;
		if (st) {
			fprintf(stderr, "load_bench: %s\n", accel_status_message(st));
			accel_status_free(st);
			return 1;
		}
		accel_model_release(m);
		printf("load_ms %.3f\n", ms[i]);
	}
	qsort(ms, (size_t)loads, sizeof(*ms), cmp_double);
	printf("median_ms %.3f\n", ms[loads / 2]);
	free(ms);
	accel_context_release(ctx);
	return 0;
}
