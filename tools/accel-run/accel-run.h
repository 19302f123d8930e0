/* SPDX-License-Identifier: MIT */
/*
 * accel-run.h - shared state of the accel-run tool: parsed options, the
 * prepared inputs, the outputs and the timing results. Private to the tool;
 * the tool itself only uses the public libaccel API.
 */
#ifndef ACCEL_RUN_H
#define ACCEL_RUN_H

#include "accel/accel.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes of the tool (documented in --help and the man page). */
enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1, /* the model, a file or the runtime failed */
	EXIT_USAGE = 2,	  /* the command line is wrong */
};

struct name_value {
	char *name;
	char *value;
};

struct options {
	const char *model;
	struct name_value *inputs; /* -i NAME=FILE */
	size_t n_inputs;
	struct name_value *shapes; /* --shape NAME=DIMS */
	size_t n_shapes;
	const char *output_dir;
	const char *device;
	int threads;	/* 0: all cores */
	int warmup;
	int iterations; /* 0: no timing loop */
	int concurrency; /* requests in flight in the timing loop (1) */
	int max_batch;	 /* dynamic batching: rows per merged run (0: off) */
	int batch_delay_us;
	bool json;
	int opt_level;		/* -1: the library's default */
	const char *dump_graph; /* write the optimised graph here (DOT) */
	bool explain;		/* print the placement of every step */
};

/* One graph input, ready to run. */
struct run_input {
	accel_value_info info; /* as the model declares it */
	accel_tensor *tensor;
	const char *source;    /* the file, or NULL for random data */
	uint64_t seed;
};

struct run_output {
	accel_value_info info;
	accel_tensor *tensor;
	char *file; /* written .npy path or NULL */
};

struct latency_stats {
	double min, median, p90, p99, max, mean; /* milliseconds */
	double throughput;			  /* inferences per second */
	double wall_ms;				  /* the timing loop, end to end */
	int iterations, warmup;
};

struct run_report {
	const struct options *opt;
	const accel_model *model;
	int threads;
	struct run_input *inputs;
	size_t n_inputs;
	struct run_output *outputs;
	size_t n_outputs;
	double load_ms, first_run_ms;
	bool timed;
	struct latency_stats stats;
	accel_memory_plan memory;	 /* the session's arena */
	accel_device_activity *activity; /* per device the plan uses */
	size_t n_activity;
};

/* Print "accel-run: <message>" on stderr. */
void die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* inputs.c: build every graph input from files, --shape and random data.
 * Returns an exit code; on failure the message has been printed. */
int inputs_prepare(const struct options *opt, const accel_model *model,
		   struct run_input **out_inputs, size_t *out_count);
void inputs_free(struct run_input *inputs, size_t count);
/* Parse "2x3x224x224" (or "" for a scalar). Returns false when malformed. */
bool parse_dims(const char *text, int *out_rank, int64_t *dims);

/* report.c */
void stats_compute(double *lat_ms, int n, struct latency_stats *out);
void report_text(const struct run_report *r);
void report_json(const struct run_report *r);
/* Writes every output to DIR/<sanitised name>.npy. Returns an exit code. */
int outputs_write(struct run_output *outputs, size_t count, const char *dir);

#endif /* ACCEL_RUN_H */
