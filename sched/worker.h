/* SPDX-License-Identifier: MIT */
/*
 * worker.h - a per-device worker thread: the consumer of one user-space
 * ring (ring.h). It copies SQEs out, runs each through the device's
 * handler, and posts a CQE with the SQE's user_data, the handler's result
 * and CLOCK_MONOTONIC start/end times.
 *
 * The worker handles ACCEL_OP_FENCE_SIGNAL and ACCEL_OP_FENCE_WAIT itself,
 * on the timelines of the table it was given (sqe->fence_handle names
 * one, sqe->value is the point); every other opcode goes to the handler.
 * SQEs run in order: a FENCE_WAIT holds the SQEs behind it until its point
 * is reached, like a barrier in a device queue (and like the kernel
 * module's queues). Work that must not wait belongs on another ring.
 *
 * Rejected SQEs (unknown opcode, non-zero flags, a fence handle that names
 * nothing) are counted in the SQ's dropped word and completed with a
 * negative result and ACCEL_CQE_F_DROPPED, as the kernel does. When idle
 * the worker polls briefly, then sleeps on the ring's futex doorbell.
 *
 * CQEs of fast ops are published once per batch (at most |batch| SQEs);
 * an op that ran longer than 2 us is published as soon as it ends.
 */
#ifndef ACCEL_SCHED_WORKER_H
#define ACCEL_SCHED_WORKER_H

#include "sched/ring.h"
#include "sched/timeline.h"

/*
 * The device backend's entry point: run one SQE and return 0 or a negative
 * errno (the CQE's res). Called on the worker thread only, in SQE order.
 */
typedef int (*accel_worker_fn)(void *ctx, const struct accel_sqe *sqe);

/*
 * Opcodes from ACCEL_WORKER_OP_PRIVATE up never reach the kernel: they are
 * the user-space scheduler's own (running a segment of a graph on the
 * device, say) and go to the handler like the uapi ones. Opcodes between
 * ACCEL_OP_LAST and this are rejected as unknown.
 */
#define ACCEL_WORKER_OP_PRIVATE 0x80
#define ACCEL_WORKER_OP_EXEC 0x80	/* run a plan segment (sched/pipeline.c) */

/* Tuning; zeroes mean the defaults. */
struct accel_worker_params {
	uint32_t batch;		/* SQEs taken per pass (default 32) */
	uint32_t spin_ns;	/* poll this long before sleeping (20 us) */
	uint32_t backlog_max;	/* stop taking SQEs past this many
				   overflowed CQEs (8 x CQ entries) */
};

typedef struct accel_worker accel_worker;

/*
 * Start a worker on |ring| (from accel_ring_create(); borrowed, must
 * outlive the worker). |fn| may be NULL: then NOP completes with 0 and
 * other opcodes with -EOPNOTSUPP. |timelines| (borrowed, may be NULL)
 * resolves fence handles. |params| may be NULL. |flags| must be zero.
 */
accel_status accel_worker_create(struct accel_ring *ring, accel_worker_fn fn,
				 void *ctx, accel_timeline_table *timelines,
				 const struct accel_worker_params *params,
				 uint32_t flags, accel_worker **out);

/*
 * Stop and join the worker. SQEs it had not started are completed with
 * -ECANCELED and ACCEL_CQE_F_CANCELED (start_ns 0); a FENCE_WAIT in
 * progress is abandoned the same way.
 */
void accel_worker_destroy(accel_worker *w);

/*
 * Wait for |min_complete| CQEs on the worker's ring until the absolute
 * CLOCK_MONOTONIC |deadline_ns| (ACCEL_DEADLINE_EXCEEDED); a past deadline
 * polls. Reap them with accel_ring_peek_cqe()/accel_ring_reap().
 */
accel_status accel_worker_wait(accel_worker *w, uint32_t min_complete,
			       uint64_t deadline_ns);

struct accel_worker_stats {
	uint64_t completed;	/* CQEs posted, dropped and canceled included */
	uint64_t busy_ns;	/* time inside the handler and fences */
};

void accel_worker_stats(const accel_worker *w, struct accel_worker_stats *out);

#endif /* ACCEL_SCHED_WORKER_H */
