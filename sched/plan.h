/* SPDX-License-Identifier: MIT */
/*
 * plan.h - the execution plan of a graph on a set of devices.
 *
 * For now every node is placed on the CPU. The plan binds each step to its
 * operator schema and kernel and records, from value liveness, which values
 * die after each step so a run holds only live intermediates.
 */
#ifndef ACCEL_SCHED_PLAN_H
#define ACCEL_SCHED_PLAN_H

#include "cpu/kernel.h"
#include "ops/op.h"

typedef struct plan_step {
	int node;
	const op_schema *schema;
	const cpu_kernel *kernel;
	void *state; /* from kernel->prepare, released with the plan */
	int n_dead;
	int *dead; /* values whose last use is this step */
} plan_step;

typedef struct exec_plan {
	int n_steps;
	plan_step *steps;
} exec_plan;

/* Bind kernels, compute liveness and run each kernel's prepare() (with
 * |pool| available for it) on the graph's constants. */
accel_status plan_build(const ir_graph *g, threadpool *pool, exec_plan **out);
void plan_free(exec_plan *p);

#endif /* ACCEL_SCHED_PLAN_H */
