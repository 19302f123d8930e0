/* SPDX-License-Identifier: MIT */
/*
 * plan.h - the execution plan of a graph on a set of devices.
 *
 * Placement: each node goes to the first device of the session's list that
 * supports it, the CPU being the fallback every node has. The plan binds
 * each step to its schema and kernel (CPU) or backend (others), prepares
 * per-node state once, and records from value liveness which values die
 * after each step so a run holds only live intermediates.
 */
#ifndef ACCEL_SCHED_PLAN_H
#define ACCEL_SCHED_PLAN_H

#include "backend/backend.h"
#include "cpu/kernel.h"
#include "ops/op.h"

typedef struct plan_step {
	int node;
	const op_schema *schema;
	const cpu_kernel *kernel;   /* the CPU kernel (always bound: fallback) */
	const backend_device *device; /* NULL: runs on the CPU */
	const char *reason;	    /* why it runs where it runs (--explain) */
	void *state;		    /* from prepare(), released with the plan */
	int n_dead;
	int *dead; /* values whose last use is this step */
} plan_step;

typedef struct exec_plan {
	int n_steps;
	plan_step *steps;
} exec_plan;

/*
 * Build the plan. |devices| (n_devices entries, may be 0) lists the
 * non-CPU devices to place nodes on, in order of preference; the CPU
 * takes every node they do not. |pool| is available to CPU prepare().
 */
accel_status plan_build(const ir_graph *g, threadpool *pool,
			const backend_device *const *devices, size_t n_devices,
			exec_plan **out);
void plan_free(exec_plan *p);

#endif /* ACCEL_SCHED_PLAN_H */
