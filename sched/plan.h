/* SPDX-License-Identifier: MIT */
/*
 * plan.h - the execution plan of a graph on a set of devices.
 *
 * Placement: with one candidate device (one listed device and no "cpu"),
 * each node goes to that device when it supports it, else to the CPU.
 * With several candidates (listed devices, and the CPU when the list names
 * "cpu" or "auto"), a cost model fed by measured device profiles
 * (sched/cost.h) cuts the steps into device-contiguous stages that
 * minimise the pipeline bottleneck, the largest per-device time (compute
 * plus the copies at its boundaries), with total latency as the
 * tie-break: sessions are pipelined, so different devices work on
 * different requests at once and throughput is the slowest device's.
 * plan.c describes the search. Nodes no candidate runs go to the CPU. The
 * plan binds each step to its schema and kernel (CPU) or backend
 * (others), prepares per-node state once, and records from value liveness
 * which values die after each step so a run holds only live
 * intermediates.
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
	char *reason_buf;	    /* owned storage |reason| may point into */
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
 * non-CPU devices to place nodes on, in the session's order (which breaks
 * ties); |cpu_listed| makes the CPU a candidate for any node, not only
 * for those no listed device supports. |pool| is available to CPU
 * prepare() and measures the CPU's profile.
 */
accel_status plan_build_for(const ir_graph *g, threadpool *pool,
			    const backend_device *const *devices, size_t n_devices,
			    bool cpu_listed, exec_plan **out);
/* plan_build_for() with |cpu_listed| false. */
accel_status plan_build(const ir_graph *g, threadpool *pool,
			const backend_device *const *devices, size_t n_devices,
			exec_plan **out);
/* Does a session device list ("cpu,opencl:0", "auto") name the CPU? */
bool plan_devices_list_cpu(const char *spec);
void plan_free(exec_plan *p);

#endif /* ACCEL_SCHED_PLAN_H */
