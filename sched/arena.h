/* SPDX-License-Identifier: MIT */
/*
 * arena.h - the memory plan of a run's CPU intermediates.
 *
 * Every intermediate value that a CPU step produces, whose type and shape
 * are fully known at load time, and that dies inside the run (not a graph
 * output) gets an offset in one per-request block: the arena. Values whose
 * lifetimes (producing step to last use, from the plan's liveness) do not
 * overlap share bytes; offsets are assigned largest value first, each at
 * the lowest offset that clears every already-placed value it overlaps.
 *
 * In place: a step of a same-shape elementwise operator (Relu, Sigmoid,
 * Add, Mul...) whose input dies at that step writes its output over the
 * input, when both have the same size and, for binary operators, the
 * input is not broadcast. The two values then share one buffer whose
 * lifetime spans both.
 *
 * Everything else (dynamic shapes, device values, graph outputs, strings)
 * is allocated per step as before; so is a planned value whose run-time
 * size would not fit its slot (it cannot happen for static shapes, but
 * the executor checks).
 */
#ifndef ACCEL_SCHED_ARENA_H
#define ACCEL_SCHED_ARENA_H

#include "sched/plan.h"

#include <stdint.h>

typedef struct arena_plan {
	int64_t *offset;	/* per value: byte offset, -1 unplanned */
	uint64_t *slot_bytes;	/* per value: bytes reserved at offset */
	uint64_t arena_bytes;	/* the block one request needs */
	uint64_t planned_bytes; /* the planned values' sizes summed */
	uint32_t planned, in_place;
} arena_plan;

/* Plan |g|'s values for |p|. ACCEL_NO_ARENA=1 plans nothing. */
accel_status arena_plan_build(const ir_graph *g, const exec_plan *p, arena_plan **out);
void arena_plan_free(arena_plan *a);

#endif /* ACCEL_SCHED_ARENA_H */
