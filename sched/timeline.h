/* SPDX-License-Identifier: MIT */
/*
 * timeline.h - timeline semaphores: a u64 point that only grows, signalled
 * and waited on from any thread, to order work between devices (the
 * user-space twin of the kernel module's timeline fences).
 *
 * A device worker maps the SQE fence opcodes onto them: FENCE_SIGNAL sets
 * the timeline named by sqe->fence_handle to sqe->value, FENCE_WAIT holds
 * the queue until it reaches sqe->value. Handles come from a
 * accel_timeline_table that the workers of one scheduler share.
 *
 * Ownership: create returns one reference; retain/release count them.
 */
#ifndef ACCEL_SCHED_TIMELINE_H
#define ACCEL_SCHED_TIMELINE_H

#include "core/status.h"

#include <stdint.h>

typedef struct accel_timeline accel_timeline;

accel_status accel_timeline_create(uint64_t initial, accel_timeline **out);
void accel_timeline_retain(accel_timeline *t);
void accel_timeline_release(accel_timeline *t);

/* The current point. */
uint64_t accel_timeline_query(const accel_timeline *t);

/*
 * Move the timeline to |value| and wake every waiter it satisfies.
 * |value| must be greater than the current point (ACCEL_INVALID_ARGUMENT
 * otherwise, the timeline unchanged), as with ACCEL_IOCTL_FENCE_SIGNAL.
 */
accel_status accel_timeline_signal(accel_timeline *t, uint64_t value);

/*
 * Wait until the timeline reaches |value|, or the absolute CLOCK_MONOTONIC
 * |deadline_ns| passes (ACCEL_DEADLINE_EXCEEDED). A past deadline polls;
 * ACCEL_DEADLINE_NONE waits forever. Any number of threads may wait.
 */
accel_status accel_timeline_wait(accel_timeline *t, uint64_t value,
				 uint64_t deadline_ns);

/* ------------------------------------------------ handle table */

/* u32 handles (never 0) for timelines, as SQE fence_handle names them. */
typedef struct accel_timeline_table accel_timeline_table;

accel_status accel_timeline_table_create(accel_timeline_table **out);
/* Drops the table's references to every timeline still in it. */
void accel_timeline_table_destroy(accel_timeline_table *tab);

/* Add |t| (the table takes a reference); |out_handle| names it. */
accel_status accel_timeline_table_add(accel_timeline_table *tab,
				      accel_timeline *t, uint32_t *out_handle);
/* Remove |handle| and drop the table's reference. */
accel_status accel_timeline_table_remove(accel_timeline_table *tab,
					 uint32_t handle);
/* The timeline named |handle| with a new reference for the caller, or NULL. */
accel_timeline *accel_timeline_table_get(accel_timeline_table *tab,
					 uint32_t handle);

#endif /* ACCEL_SCHED_TIMELINE_H */
