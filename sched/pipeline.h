/* SPDX-License-Identifier: MIT */
/*
 * pipeline.h - running a plan's steps on their devices through rings.
 *
 * The plan's steps are cut into segments: maximal runs of consecutive
 * steps placed on one device. Each device the plan uses (the CPU
 * included) gets a lane: a user-space ring (ring.h), the worker thread
 * that consumes it (worker.h) and a timeline (timeline.h) that counts the
 * segments the lane has finished.
 *
 * Submitting a request puts, on the lane of each of its segments in
 * order, FENCE_WAITs on the other lanes' timelines (up to the last
 * segment of this request submitted there), an ACCEL_WORKER_OP_EXEC for
 * the segment, and a FENCE_SIGNAL of the lane's own timeline. So the
 * segments of one request run one after another, in plan order, while
 * the segments of different requests overlap: with N requests in flight,
 * device A works on request k+1 while device B finishes request k.
 *
 * The pipeline knows nothing about values: the caller's exec function
 * runs a segment's steps for a request, and its done function is called
 * once, on a worker thread, after the request's last segment.
 */
#ifndef ACCEL_SCHED_PIPELINE_H
#define ACCEL_SCHED_PIPELINE_H

#include "sched/plan.h"

#include <stdatomic.h>

/* The pipeline's part of a request; embed it in the caller's request. */
typedef struct pipeline_req {
	atomic_int remaining;	   /* segments not yet run */
	accel_status submit_error; /* set before done() if queueing failed */
} pipeline_req;

/* Run steps [first, first + count) of the plan for |req| (worker thread). */
typedef void (*pipeline_exec_fn)(void *ctx, pipeline_req *req, int first, int count);
/* |req| has run its last segment; the pipeline no longer touches it. */
typedef void (*pipeline_done_fn)(void *ctx, pipeline_req *req);

typedef struct pipeline pipeline;

accel_status pipeline_create(const exec_plan *plan, pipeline_exec_fn exec,
			     pipeline_done_fn done, void *ctx, pipeline **out);
/* Every submitted request must be done. */
void pipeline_destroy(pipeline *p);

/*
 * Queue every segment of |req|. Thread-safe; blocks only while a ring is
 * full (back-pressure). done() follows exactly once, perhaps before this
 * returns (a plan with no steps completes at once). Should a ring refuse
 * an SQE, the segments already queued still run, the rest do not, and
 * req->submit_error holds why when done() comes.
 */
void pipeline_submit(pipeline *p, pipeline_req *req);

/* A lane's name ("cpu", "opencl:0") and what it has done so far. */
typedef struct pipeline_lane_stats {
	const char *device;
	uint64_t busy_ns;  /* time running segments */
	uint64_t segments; /* segments run */
	uint64_t steps;	   /* steps run */
} pipeline_lane_stats;

int pipeline_lane_count(const pipeline *p);
void pipeline_lane_stats_get(pipeline *p, int lane, pipeline_lane_stats *out);
int pipeline_segment_count(const pipeline *p);

#endif /* ACCEL_SCHED_PIPELINE_H */
