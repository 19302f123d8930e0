/* SPDX-License-Identifier: MIT */
/*
 * batcher.h - dynamic batching: concurrent requests for one model whose
 * inputs have compatible shapes are concatenated along axis 0 into one
 * run of the model, and the outputs are split back along axis 0.
 *
 * The batcher knows nothing of sessions or devices: it is given a run
 * function (synchronous: inputs in, new output tensors out) and the model's
 * input/output metadata, and calls the function from its own threads.
 *
 * Batch formation. One worker at a time forms a batch: it takes the oldest
 * queued request (the head) and every later request compatible with it, in
 * arrival order, while the rows stay within max_batch (a request that does
 * not fit is left for a later batch and the scan goes on). It dispatches as
 * soon as the batch holds max_batch rows, or when max_delay_us has passed
 * since the head arrived, whichever is first; so no request waits longer
 * than max_delay_us for partners. Requests that cannot be merged (more rows
 * than max_batch, no rows, batching off) are dispatched alone at once.
 *
 * Compatibility: the same dtype and rank for every input; for batchable
 * inputs the same dims except axis 0, for the others the same dims and
 * byte-identical contents (they are passed to the run once). An input is
 * batchable when its declared rank is >= 1 and its declared dim 0 is
 * dynamic (-1). Merging happens only when the model has at least one
 * batchable input and every output is batchable too (declared dim 0
 * dynamic, or rank unknown); otherwise every request runs alone.
 *
 * Run results. A merged run's outputs must each have dim 0 equal to the
 * batch's total rows; they are then split, in request order. When they do
 * not, or when the merged run fails, each request of the batch is re-run
 * alone: a model without a batch axis still computes the right thing, and
 * one bad request cannot fail its partners (each gets its own result or
 * its own error). Copies: one concatenation per batchable input and one
 * slice per output and request; a batch of one is passed through as is.
 *
 * max_batch 0 or 1 turns merging off: each request is handed to a free
 * worker as soon as it is queued, with no delay.
 *
 * Threads: |workers| worker threads (default 1) take turns forming
 * batches; a worker runs the batch it formed, so up to |workers| runs are
 * in flight at once while the next batch forms.
 */
#ifndef ACCEL_SCHED_BATCHER_H
#define ACCEL_SCHED_BATCHER_H

#include "core/status.h"

#include <stdint.h>

/*
 * Run the model once (synchronously), as accel_session_run() does:
 * |inputs| names every model input, in the order given to batcher_create.
 * On success it fills |outputs| with |n_out| new host tensors, one
 * reference each, which the batcher takes over; on failure it fills none.
 * Called from the batcher's worker threads, possibly several at once.
 */
typedef accel_status (*batcher_run_fn)(void *ctx,
				       const accel_named_tensor *inputs,
				       size_t n_in, accel_tensor **outputs,
				       size_t n_out);

typedef struct batcher_params {
	uint32_t max_batch;	/* most rows (axis 0) per run; 0/1: no merging */
	uint32_t max_delay_us;	/* longest wait for partners after the oldest
				   request of a batch arrived */
	uint32_t workers;	/* threads running batches (0: 1) */
	/* The model's declared inputs and outputs, as accel_model_*_info()
	 * reports them: names, dtypes, ranks and dims (-1: dynamic). Read
	 * during batcher_create only (names are copied). */
	size_t n_inputs;
	const accel_value_info *inputs;
	size_t n_outputs;
	const accel_value_info *outputs;
} batcher_params;

typedef struct batcher batcher;
typedef struct batcher_ticket batcher_ticket;

/* Start the workers. |run_ctx| is passed to |run| and must outlive the
 * batcher. */
accel_status batcher_create(const batcher_params *p, batcher_run_fn run,
			    void *run_ctx, batcher **out);

/*
 * Queue one request. |inputs| names every model input once (any order);
 * the tensors are retained until the request completes and must not be
 * changed before then. |n_out| must be the model's output count. The
 * ticket (one reference, the caller's) is returned at once.
 */
accel_status batcher_submit(batcher *b, const accel_named_tensor *inputs,
			    size_t n_in, size_t n_out,
			    batcher_ticket **out_ticket);

/*
 * Wait up to |timeout_ns| (relative; 0 polls, negative waits forever)
 * for the request. ACCEL_DEADLINE_EXCEEDED when it is not done yet (wait
 * again later). On success |outputs| receives the n_out output tensors
 * (one reference each, the caller releases them); they are handed over
 * once, a later wait is ACCEL_INVALID_ARGUMENT. A failed request returns
 * its error, every time it is waited on.
 */
accel_status batcher_wait(batcher_ticket *t, int64_t timeout_ns,
			  accel_tensor **outputs);

/* Drop the caller's ticket. A request not yet done still runs (or is
 * canceled by batcher_destroy); its outputs are then released. */
void batcher_ticket_free(batcher_ticket *t);

/*
 * Complete every queued request with ACCEL_UNAVAILABLE ("shut down"), let
 * the batches already running finish, and join the workers. Tickets stay
 * valid until freed.
 */
void batcher_destroy(batcher *b);

struct batcher_stats {
	uint64_t requests;	/* submitted */
	uint64_t runs;		/* calls of the run function */
	uint64_t merged_runs;	/* of which with more than one request */
	uint64_t merged_requests; /* requests served by a merged run */
	uint64_t fallbacks;	/* merged runs redone request by request */
	uint64_t queued;	/* requests waiting for a worker now */
};

void batcher_get_stats(batcher *b, struct batcher_stats *out);

#endif /* ACCEL_SCHED_BATCHER_H */
