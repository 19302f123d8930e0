/* SPDX-License-Identifier: MIT */
/*
 * pipeline.c - segments, lanes, and the SQEs that order them.
 */
#include "sched/pipeline.h"
#include "sched/ring.h"
#include "sched/timeline.h"
#include "sched/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define LANE_ENTRIES 256u   /* SQ entries per lane (CQ: twice that) */
#define REAP_BATCH 64u
#define ROOM_POLL_NS 1000000u /* re-reap this often while a ring is full */

typedef struct lane {
	pipeline *p;
	const backend_device *device; /* NULL: the CPU */
	struct accel_ring *ring;
	accel_worker *worker;
	uint32_t fence;	    /* the lane timeline's handle */
	uint64_t submitted; /* segments queued so far (under p->lock) */
	uint64_t busy_ns, segments, steps; /* atomic */
} lane;

typedef struct segment {
	int first, count, lane;
} segment;

struct pipeline {
	pipeline_exec_fn exec;
	pipeline_done_fn done;
	void *ctx;
	int n_lanes, n_segs;
	lane *lanes;
	segment *segs;
	accel_timeline_table *timelines;
	pthread_mutex_t lock;
	/* per submit, under lock: lane x lane points already waited for */
	uint64_t *last;	  /* [lane]: this request's last point on lane */
	uint64_t *waited; /* [lane * n_lanes + other] */
	struct accel_sqe *sqes;
};

/* The worker's handler: ACCEL_WORKER_OP_EXEC runs one segment. */
static int lane_handle(void *arg, const struct accel_sqe *sqe)
{
	lane *l = arg;
	pipeline *p = l->p;
	pipeline_req *req = (pipeline_req *)(uintptr_t)sqe->user_data;
	const segment *sg;
	uint64_t t0;

	if (sqe->opcode != ACCEL_WORKER_OP_EXEC)
		return sqe->opcode == ACCEL_OP_NOP ? 0 : -EOPNOTSUPP;
	if (!req || sqe->value >= (uint64_t)p->n_segs)
		return -EINVAL;
	sg = &p->segs[sqe->value];
	t0 = accel_now_ns();
	p->exec(p->ctx, req, sg->first, sg->count);
	__atomic_fetch_add(&l->busy_ns, accel_now_ns() - t0, __ATOMIC_RELAXED);
	__atomic_fetch_add(&l->segments, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&l->steps, (uint64_t)sg->count, __ATOMIC_RELAXED);
	if (atomic_fetch_sub(&req->remaining, 1) == 1)
		p->done(p->ctx, req);
	return 0;
}

static int lane_of(pipeline *p, const backend_device *d)
{
	for (int i = 0; i < p->n_lanes; i++)
		if (p->lanes[i].device == d)
			return i;
	p->lanes[p->n_lanes].device = d;
	return p->n_lanes++;
}

static accel_status start_lane(pipeline *p, lane *l)
{
	struct accel_worker_params wp = { .spin_ns = 5000 };
	accel_timeline *t;
	accel_status st;

	l->p = p;
	ACCEL_TRY(accel_ring_create(LANE_ENTRIES, 0, &l->ring));
	ACCEL_TRY(accel_timeline_create(0, &t));
	st = accel_timeline_table_add(p->timelines, t, &l->fence);
	accel_timeline_release(t);
	if (!st)
		st = accel_worker_create(l->ring, lane_handle, l, p->timelines, &wp, 0,
					 &l->worker);
	return st;
}

accel_status pipeline_create(const exec_plan *plan, pipeline_exec_fn exec,
			     pipeline_done_fn done, void *ctx, pipeline **out)
{
	pipeline *p;
	accel_status st = NULL;
	int n = plan->n_steps;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return status_oom("a pipeline");
	p->exec = exec;
	p->done = done;
	p->ctx = ctx;
	pthread_mutex_init(&p->lock, NULL);
	/* at most one lane and one segment per step, and a CPU lane */
	p->lanes = calloc((size_t)n + 1, sizeof(*p->lanes));
	p->segs = calloc((size_t)n + 1, sizeof(*p->segs));
	if (!p->lanes || !p->segs) {
		st = status_oom("pipeline segments");
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		int ln = lane_of(p, plan->steps[i].device);

		if (p->n_segs && p->segs[p->n_segs - 1].lane == ln) {
			p->segs[p->n_segs - 1].count++;
			continue;
		}
		p->segs[p->n_segs++] = (segment){ .first = i, .count = 1, .lane = ln };
	}
	p->last = calloc((size_t)p->n_lanes + 1, sizeof(*p->last));
	p->waited = calloc((size_t)p->n_lanes * p->n_lanes + 1, sizeof(*p->waited));
	/* an EXEC, a SIGNAL and a WAIT per other lane */
	p->sqes = calloc((size_t)p->n_lanes + 2, sizeof(*p->sqes));
	if (!p->last || !p->waited || !p->sqes) {
		st = status_oom("pipeline submission state");
		goto fail;
	}
	if ((size_t)p->n_lanes + 2 > LANE_ENTRIES) {
		st = status_unsupported("a plan over %d devices (the rings hold %u entries)",
					p->n_lanes, LANE_ENTRIES);
		goto fail;
	}
	st = accel_timeline_table_create(&p->timelines);
	for (int i = 0; i < p->n_lanes && !st; i++)
		st = start_lane(p, &p->lanes[i]);
	if (st)
		goto fail;
	*out = p;
	return NULL;
fail:
	pipeline_destroy(p);
	return status_annotate(st, "starting the device lanes");
}

void pipeline_destroy(pipeline *p)
{
	if (!p)
		return;
	for (int i = 0; p->lanes && i < p->n_lanes; i++) {
		lane *l = &p->lanes[i];

		accel_worker_destroy(l->worker);
		if (l->ring)
			accel_ring_destroy(l->ring);
	}
	accel_timeline_table_destroy(p->timelines);
	pthread_mutex_destroy(&p->lock);
	free(p->lanes);
	free(p->segs);
	free(p->last);
	free(p->waited);
	free(p->sqes);
	free(p);
}

/* Drop every lane's completions: requests complete through done(). */
static void reap_all(pipeline *p)
{
	struct accel_cqe cqes[REAP_BATCH];

	for (int i = 0; i < p->n_lanes; i++)
		while (accel_ring_reap(p->lanes[i].ring, cqes, REAP_BATCH) == REAP_BATCH)
			;
}

/* Queue |n| SQEs on |l|, reaping while its SQ is full. */
static accel_status push(pipeline *p, lane *l, const struct accel_sqe *sqes, uint32_t n)
{
	uint32_t taken;
	accel_status st;

	for (;;) {
		st = accel_ring_submit_sqes(l->ring, sqes, n, &taken);
		if (st)
			return st;
		sqes += taken;
		n -= taken;
		if (!n)
			return NULL;
		reap_all(p);
		st = accel_ring_submit_sqes_wait(l->ring, sqes, n, accel_now_ns() + ROOM_POLL_NS,
						 &taken);
		if (!st)
			return NULL;
		if (accel_status_code_of(st) != ACCEL_DEADLINE_EXCEEDED)
			return st;
		accel_status_free(st);
		sqes += taken;
		n -= taken;
	}
}

void pipeline_submit(pipeline *p, pipeline_req *req)
{
	accel_status st = NULL;
	int i;

	req->submit_error = NULL;
	atomic_store(&req->remaining, p->n_segs);
	if (!p->n_segs) {
		p->done(p->ctx, req);
		return;
	}
	pthread_mutex_lock(&p->lock);
	reap_all(p);
	memset(p->last, 0, (size_t)p->n_lanes * sizeof(*p->last));
	memset(p->waited, 0, (size_t)p->n_lanes * p->n_lanes * sizeof(*p->waited));
	for (i = 0; i < p->n_segs && !st; i++) {
		int ln = p->segs[i].lane;
		lane *l = &p->lanes[ln];
		struct accel_sqe *s = p->sqes;
		uint32_t n = 0;

		/* wait for this request's latest segment on every other lane */
		for (int o = 0; o < p->n_lanes; o++) {
			uint64_t *w = &p->waited[ln * p->n_lanes + o];

			if (o == ln || p->last[o] <= *w)
				continue;
			*w = p->last[o];
			s[n++] = (struct accel_sqe){ .opcode = ACCEL_OP_FENCE_WAIT,
						     .fence_handle = p->lanes[o].fence,
						     .value = p->last[o] };
		}
		s[n++] = (struct accel_sqe){ .opcode = ACCEL_WORKER_OP_EXEC,
					     .user_data = (uint64_t)(uintptr_t)req,
					     .value = (uint64_t)i };
		s[n++] = (struct accel_sqe){ .opcode = ACCEL_OP_FENCE_SIGNAL,
					     .fence_handle = l->fence,
					     .value = l->submitted + 1 };
		st = push(p, l, s, n);
		if (!st)
			p->last[ln] = ++l->submitted;
	}
	pthread_mutex_unlock(&p->lock);
	if (st) {
		/*
		 * Segment i-1 never went out. Only a broken ring gets here; the
		 * segments queued before it still run, and done() still comes
		 * once, after them, with the error on the request.
		 */
		int missing = p->n_segs - (i - 1);

		req->submit_error = st;
		if (atomic_fetch_sub(&req->remaining, missing) == missing)
			p->done(p->ctx, req);
	}
}

int pipeline_lane_count(const pipeline *p)
{
	return p->n_lanes;
}

int pipeline_segment_count(const pipeline *p)
{
	return p->n_segs;
}

void pipeline_lane_stats_get(pipeline *p, int i, pipeline_lane_stats *out)
{
	const lane *l = &p->lanes[i];

	out->device = l->device ? l->device->name : "cpu";
	out->busy_ns = __atomic_load_n(&l->busy_ns, __ATOMIC_RELAXED);
	out->segments = __atomic_load_n(&l->segments, __ATOMIC_RELAXED);
	out->steps = __atomic_load_n(&l->steps, __ATOMIC_RELAXED);
}
