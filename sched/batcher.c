/* SPDX-License-Identifier: MIT */
/*
 * batcher.c - dynamic batching of concurrent requests (batcher.h): a FIFO
 * of requests, worker threads that take turns forming batches from it,
 * one concatenation along axis 0 in, one split out.
 */
#include "sched/batcher.h"

#include "core/tensor.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct batcher_ticket {
	atomic_int refs;		/* the caller's and the batcher's */
	pthread_mutex_t lock;		/* done, status, out, taken */
	pthread_cond_t done_cv;
	bool done, taken, picked;
	accel_status status;
	int64_t rows;			/* dim 0; -1: never merged */
	uint64_t t_ns;			/* when it was queued */
	size_t n_in, n_out;
	accel_tensor **in;		/* n_in, model order, retained */
	accel_tensor **out;		/* n_out, set when done */
	struct batcher_ticket *next;	/* queue link, under batcher lock */
};

struct batcher {
	batcher_run_fn run;
	void *run_ctx;
	uint32_t max_batch;
	uint64_t delay_ns;
	bool merge;			/* can requests be merged at all */
	size_t n_in, n_out;
	char **names;			/* input names, model order */
	bool *batchable;		/* per input */

	pthread_mutex_t lock;		/* everything below */
	pthread_cond_t cv;		/* queue changed, former free, stop */
	batcher_ticket *head, *tail;
	uint64_t queued;
	bool forming, stop;
	uint32_t n_threads;
	pthread_t *threads;

	uint64_t requests, runs, merged_runs, merged_requests, fallbacks;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct timespec abs_time(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u),
			       (long)(ns % 1000000000u) };

	return ts;
}

static void count(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static accel_status status_copy(accel_status st)
{
	return status_error(accel_status_code_of(st), "%s",
			    accel_status_message(st));
}

static void release_all(accel_tensor **ts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		accel_tensor_release(ts[i]);
		ts[i] = NULL;
	}
}

/* ------------------------------------------------------------ tickets */

static void ticket_put(batcher_ticket *t)
{
	if (atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	release_all(t->in, t->n_in);
	if (!t->taken)
		release_all(t->out, t->n_out);
	accel_status_free(t->status);
	pthread_cond_destroy(&t->done_cv);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* Finish |t| with |st| (owned) or, on success, |outs| (moved from), and
 * drop the batcher's reference. */
static void complete(batcher_ticket *t, accel_status st, accel_tensor **outs)
{
	pthread_mutex_lock(&t->lock);
	t->status = st;
	if (!st) {
		memcpy(t->out, outs, t->n_out * sizeof(*outs));
		memset(outs, 0, t->n_out * sizeof(*outs));
	}
	/* the caller's tensors are not needed any more */
	release_all(t->in, t->n_in);
	t->done = true;
	pthread_cond_broadcast(&t->done_cv);
	pthread_mutex_unlock(&t->lock);
	ticket_put(t);
}

static accel_status ticket_new(batcher *b, size_t n_out, batcher_ticket **out)
{
	batcher_ticket *t;
	pthread_condattr_t attr;

	t = calloc(1, sizeof(*t) + (b->n_in + n_out) * sizeof(accel_tensor *));
	if (!t)
		return status_oom("a batcher request");
	t->in = (accel_tensor **)(t + 1);
	t->out = t->in + b->n_in;
	t->n_in = b->n_in;
	t->n_out = n_out;
	atomic_init(&t->refs, 2);
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&t->done_cv, &attr);
	pthread_condattr_destroy(&attr);
	*out = t;
	return NULL;
}

/* ------------------------------------------------------- compatibility */

/* A host tensor whose bytes can be copied and compared. */
static bool plain(const accel_tensor *t)
{
	size_t esz = accel_dtype_size(t->dtype);
	int64_t n = tensor_numel(t);

	return !t->on_device && esz && n >= 0 && t->rank >= 0 &&
	       t->nbytes == (size_t)n * esz && (t->data || !t->nbytes);
}

/* Rows a request brings to a batch, or -1 when it must run alone. */
static int64_t request_rows(const batcher *b, accel_tensor *const *in)
{
	int64_t rows = -1;

	if (!b->merge)
		return -1;
	for (size_t i = 0; i < b->n_in; i++) {
		if (!plain(in[i]))
			return -1;
		if (!b->batchable[i])
			continue;
		if (in[i]->rank < 1 || (rows >= 0 && in[i]->dims[0] != rows))
			return -1;
		rows = in[i]->dims[0];
	}
	return rows >= 1 && rows <= b->max_batch ? rows : -1;
}

static bool same_input(const accel_tensor *a, const accel_tensor *c,
		       bool batchable)
{
	if (a == c)
		return true;
	if (a->dtype != c->dtype || a->rank != c->rank)
		return false;
	for (int d = batchable ? 1 : 0; d < a->rank; d++)
		if (a->dims[d] != c->dims[d])
			return false;
	return batchable || !a->nbytes || !memcmp(a->data, c->data, a->nbytes);
}

static bool compatible(const batcher *b, const batcher_ticket *x,
		       const batcher_ticket *y)
{
	for (size_t i = 0; i < b->n_in; i++)
		if (!same_input(x->in[i], y->in[i], b->batchable[i]))
			return false;
	return true;
}

/* ------------------------------------------------------------ running */

static accel_status run_inputs(batcher *b, accel_tensor **in,
			       accel_tensor **outs)
{
	accel_named_tensor *named;
	accel_status st;

	named = calloc(b->n_in ? b->n_in : 1, sizeof(*named));
	if (!named)
		return status_oom("batcher inputs");
	for (size_t i = 0; i < b->n_in; i++) {
		named[i].name = b->names[i];
		named[i].tensor = in[i];
	}
	count(&b->runs, 1);
	st = b->run(b->run_ctx, named, b->n_in, outs, b->n_out);
	free(named);
	return st;
}

static void run_alone(batcher *b, batcher_ticket *t, accel_tensor **outs)
{
	complete(t, run_inputs(b, t->in, outs), outs);
}

/* Concatenate the batchable inputs of |batch| along axis 0 (|rows| in all);
 * the others are shared from the head. */
static accel_status concat(batcher *b, batcher_ticket **batch, size_t n,
			   int64_t rows, accel_tensor **merged)
{
	for (size_t i = 0; i < b->n_in; i++) {
		const accel_tensor *h = batch[0]->in[i];
		int64_t dims[ACCEL_MAX_RANK];
		accel_tensor *m;
		char *dst;

		if (!b->batchable[i]) {
			accel_tensor_retain(batch[0]->in[i]);
			merged[i] = batch[0]->in[i];
			continue;
		}
		memcpy(dims, h->dims, sizeof(dims));
		dims[0] = rows;
		ACCEL_TRY(tensor_new_shape(h->dtype, h->rank, dims, &m));
		merged[i] = m;
		ACCEL_TRY(tensor_alloc_uninit(m));
		dst = m->data;
		for (size_t r = 0; r < n; r++) {
			const accel_tensor *src = batch[r]->in[i];

			if (src->nbytes)
				memcpy(dst, src->data, src->nbytes);
			dst += src->nbytes;
		}
	}
	return NULL;
}

/* Can every output of a merged run be split into |rows| rows? */
static bool splittable(const batcher *b, accel_tensor *const *outs,
		       int64_t rows)
{
	for (size_t o = 0; o < b->n_out; o++)
		if (!outs[o] || !plain(outs[o]) || outs[o]->rank < 1 ||
		    outs[o]->dims[0] != rows)
			return false;
	return true;
}

/* Request |t|'s rows [row0, row0 + t->rows) of every output, then done. */
static void split_one(batcher *b, batcher_ticket *t, accel_tensor **outs,
		      int64_t rows, int64_t row0, accel_tensor **mine)
{
	accel_status st = NULL;

	for (size_t o = 0; o < b->n_out && !st; o++) {
		const accel_tensor *src = outs[o];
		size_t row_bytes = src->nbytes / (size_t)rows;
		int64_t dims[ACCEL_MAX_RANK];

		memcpy(dims, src->dims, sizeof(dims));
		dims[0] = t->rows;
		st = tensor_new_shape(src->dtype, src->rank, dims, &mine[o]);
		if (!st)
			st = tensor_alloc_uninit(mine[o]);
		if (!st && mine[o]->nbytes)
			memcpy(mine[o]->data,
			       (const char *)src->data + (size_t)row0 * row_bytes,
			       mine[o]->nbytes);
	}
	if (st) {
		release_all(mine, b->n_out);
		st = status_annotate(st, "splitting a batched output");
	}
	complete(t, st, mine);
}

static void run_batch(batcher *b, batcher_ticket **batch, size_t n,
		      accel_tensor **merged, accel_tensor **outs,
		      accel_tensor **mine)
{
	accel_status st;
	int64_t rows = 0, row0 = 0;
	size_t r;

	if (n == 1) {
		run_alone(b, batch[0], outs);
		return;
	}
	for (r = 0; r < n; r++)
		rows += batch[r]->rows;
	st = concat(b, batch, n, rows, merged);
	if (!st)
		st = run_inputs(b, merged, outs);
	release_all(merged, b->n_in);
	if (st || !splittable(b, outs, rows)) {
		/* a failed merged run or outputs without a batch axis: redo
		 * request by request, so each gets its own result */
		accel_status_free(st);
		release_all(outs, b->n_out);
		count(&b->fallbacks, 1);
		for (r = 0; r < n; r++)
			run_alone(b, batch[r], outs);
		return;
	}
	count(&b->merged_runs, 1);
	count(&b->merged_requests, n);
	for (r = 0; r < n; r++) {
		int64_t mine_rows = batch[r]->rows; /* completing may free it */

		split_one(b, batch[r], outs, rows, row0, mine);
		row0 += mine_rows;
	}
	release_all(outs, b->n_out);
}

/* ------------------------------------------------------------- forming */

static void unlink_picked(batcher *b)
{
	batcher_ticket **pp = &b->head, *prev = NULL;

	while (*pp) {
		batcher_ticket *t = *pp;

		if (t->picked) {
			*pp = t->next;
			t->next = NULL;
			b->queued--;
		} else {
			prev = t;
			pp = &t->next;
		}
	}
	b->tail = prev;
}

/*
 * Pick the next batch into |batch| (lock held, b->forming set): the head
 * and the later requests compatible with it that fit, once the batch is
 * full or the head's delay is over. Returns 0 when stopping.
 */
static size_t form(batcher *b, batcher_ticket **batch)
{
	for (;;) {
		batcher_ticket *head = b->head, *t;
		struct timespec ts;
		uint64_t deadline;
		int64_t rows = 0;
		size_t n = 0;

		if (b->stop || !head)
			return 0;
		if (head->rows < 0) {
			batch[n++] = head;
			head->picked = true;
			unlink_picked(b);
			return n;
		}
		for (t = head; t && rows < b->max_batch; t = t->next) {
			if (t->rows < 0 || rows + t->rows > b->max_batch)
				continue;
			if (t != head && !compatible(b, head, t))
				continue;
			batch[n++] = t;
			rows += t->rows;
		}
		deadline = head->t_ns + b->delay_ns;
		if (rows >= b->max_batch || now_ns() >= deadline) {
			for (size_t i = 0; i < n; i++)
				batch[i]->picked = true;
			unlink_picked(b);
			return n;
		}
		ts = abs_time(deadline);
		pthread_cond_timedwait(&b->cv, &b->lock, &ts);
	}
}

static void *worker_main(void *arg)
{
	batcher *b = arg;
	size_t cap = b->max_batch > 1 ? b->max_batch : 1;
	batcher_ticket **batch = calloc(cap, sizeof(*batch));
	accel_tensor **scratch = calloc(b->n_in + 2 * b->n_out + 1,
					sizeof(*scratch));
	size_t n;

	pthread_mutex_lock(&b->lock);
	for (;;) {
		while (!b->stop && (!b->head || b->forming))
			pthread_cond_wait(&b->cv, &b->lock);
		if (b->stop)
			break;
		if (!batch || !scratch) {
			/* no memory for this worker: fail the head request
			 * rather than leave it queued forever */
			batcher_ticket *t = b->head;

			t->picked = true;
			unlink_picked(b);
			pthread_mutex_unlock(&b->lock);
			complete(t, status_oom("a batcher worker"), NULL);
			pthread_mutex_lock(&b->lock);
			continue;
		}
		b->forming = true;
		n = form(b, batch);
		b->forming = false;
		pthread_cond_broadcast(&b->cv);
		if (!n)
			continue;
		pthread_mutex_unlock(&b->lock);
		run_batch(b, batch, n, scratch, scratch + b->n_in,
			  scratch + b->n_in + b->n_out);
		pthread_mutex_lock(&b->lock);
	}
	pthread_mutex_unlock(&b->lock);
	free(scratch);
	free(batch);
	return NULL;
}

/* ------------------------------------------------------------ the API */

static void batcher_free(batcher *b)
{
	if (b->names)
		for (size_t i = 0; i < b->n_in; i++)
			free(b->names[i]);
	free(b->names);
	free(b->batchable);
	free(b->threads);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static bool output_batchable(const accel_value_info *v)
{
	return v->rank < 0 || (v->rank >= 1 && v->dims[0] < 0);
}

static accel_status check_params(const batcher_params *p, batcher_run_fn run)
{
	if (!p || !run)
		return status_invalid("batcher: NULL %s", p ? "run function" : "params");
	if ((p->n_inputs && !p->inputs) || (p->n_outputs && !p->outputs))
		return status_invalid("batcher: NULL input/output metadata");
	if (p->workers > 256)
		return status_invalid("batcher: %u workers (at most 256)", p->workers);
	for (size_t i = 0; i < p->n_inputs; i++) {
		if (!p->inputs[i].name)
			return status_invalid("batcher: input %zu has no name", i);
		if (p->inputs[i].rank > ACCEL_MAX_RANK)
			return status_invalid("batcher: input '%s' has rank %d",
					      p->inputs[i].name, p->inputs[i].rank);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(p->inputs[i].name, p->inputs[j].name))
				return status_invalid("batcher: input '%s' listed twice",
						      p->inputs[i].name);
	}
	return NULL;
}

static accel_status start_workers(batcher *b, uint32_t n)
{
	b->threads = calloc(n, sizeof(*b->threads));
	if (!b->threads)
		return status_oom("batcher threads");
	for (b->n_threads = 0; b->n_threads < n; b->n_threads++) {
		int err = pthread_create(&b->threads[b->n_threads], NULL,
					 worker_main, b);

		if (err)
			return status_error(ACCEL_UNAVAILABLE,
					    "batcher: cannot start a worker thread: %s",
					    strerror(err));
	}
	return NULL;
}

accel_status batcher_create(const batcher_params *p, batcher_run_fn run,
			    void *run_ctx, batcher **out)
{
	pthread_condattr_t attr;
	accel_status st;
	bool any_batchable = false, outs_batchable = true;
	batcher *b;

	if (!out)
		return status_invalid("batcher: NULL out");
	ACCEL_TRY(check_params(p, run));
	b = calloc(1, sizeof(*b));
	if (!b)
		return status_oom("a batcher");
	pthread_mutex_init(&b->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cv, &attr);
	pthread_condattr_destroy(&attr);
	b->run = run;
	b->run_ctx = run_ctx;
	b->max_batch = p->max_batch;
	b->delay_ns = (uint64_t)p->max_delay_us * 1000u;
	b->n_in = p->n_inputs;
	b->n_out = p->n_outputs;
	b->names = calloc(b->n_in + 1, sizeof(*b->names));
	b->batchable = calloc(b->n_in + 1, sizeof(*b->batchable));
	if (!b->names || !b->batchable) {
		batcher_free(b);
		return status_oom("batcher metadata");
	}
	for (size_t i = 0; i < b->n_in; i++) {
		const accel_value_info *v = &p->inputs[i];

		b->names[i] = strdup(v->name);
		if (!b->names[i]) {
			batcher_free(b);
			return status_oom("batcher metadata");
		}
		b->batchable[i] = v->rank >= 1 && v->dims[0] < 0;
		any_batchable |= b->batchable[i];
	}
	for (size_t o = 0; o < b->n_out; o++)
		outs_batchable &= output_batchable(&p->outputs[o]);
	b->merge = p->max_batch > 1 && any_batchable && outs_batchable;

	st = start_workers(b, p->workers ? p->workers : 1);
	if (st) {
		batcher_destroy(b);
		return st;
	}
	*out = b;
	return NULL;
}

accel_status batcher_submit(batcher *b, const accel_named_tensor *inputs,
			    size_t n_in, size_t n_out,
			    batcher_ticket **out_ticket)
{
	batcher_ticket *t = NULL;

	if (!b || !out_ticket || (n_in && !inputs))
		return status_invalid("batcher_submit: NULL argument");
	if (n_in != b->n_in)
		return status_invalid("batcher_submit: %zu inputs given, the model has %zu",
				      n_in, b->n_in);
	if (n_out != b->n_out)
		return status_invalid("batcher_submit: %zu outputs asked for, the model has %zu",
				      n_out, b->n_out);
	ACCEL_TRY(ticket_new(b, n_out, &t));
	for (size_t j = 0; j < n_in; j++) {
		const char *name = inputs[j].name;
		size_t i;

		for (i = 0; i < b->n_in; i++)
			if (name && !strcmp(name, b->names[i]))
				break;
		if (i == b->n_in || t->in[i] || !inputs[j].tensor) {
			accel_status st = status_invalid(
				"batcher_submit: input '%s' %s", name ? name : "(null)",
				i == b->n_in ? "is not an input of the model" :
				t->in[i]     ? "is given twice" : "has no tensor");

			atomic_store(&t->refs, 1);
			ticket_put(t);
			return st;
		}
		accel_tensor_retain(inputs[j].tensor);
		t->in[i] = inputs[j].tensor;
	}
	t->rows = request_rows(b, t->in);

	pthread_mutex_lock(&b->lock);
	if (b->stop) {
		pthread_mutex_unlock(&b->lock);
		atomic_store(&t->refs, 1);
		ticket_put(t);
		return status_error(ACCEL_UNAVAILABLE, "batcher_submit: the batcher is shut down");
	}
	t->t_ns = now_ns();
	if (b->tail)
		b->tail->next = t;
	else
		b->head = t;
	b->tail = t;
	b->queued++;
	b->requests++;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->lock);
	*out_ticket = t;
	return NULL;
}

accel_status batcher_wait(batcher_ticket *t, int64_t timeout_ns,
			  accel_tensor **outputs)
{
	accel_status st = NULL;
	uint64_t deadline = UINT64_MAX;

	if (!t || (t->n_out && !outputs))
		return status_invalid("batcher_wait: NULL argument");
	if (timeout_ns >= 0)
		deadline = now_ns() + (uint64_t)timeout_ns;
	pthread_mutex_lock(&t->lock);
	while (!t->done) {
		struct timespec ts = abs_time(deadline);

		if (deadline == UINT64_MAX) {
			pthread_cond_wait(&t->done_cv, &t->lock);
		} else if (now_ns() >= deadline ||
			   pthread_cond_timedwait(&t->done_cv, &t->lock, &ts) == ETIMEDOUT) {
			if (t->done)
				break;
			pthread_mutex_unlock(&t->lock);
			return status_error(ACCEL_DEADLINE_EXCEEDED,
					    "batcher_wait: the request is not done after %lld ns",
					    (long long)timeout_ns);
		}
	}
	if (t->status)
		st = status_copy(t->status);
	else if (t->taken)
		st = status_invalid("batcher_wait: the outputs were already taken");
	else {
		memcpy(outputs, t->out, t->n_out * sizeof(*outputs));
		memset(t->out, 0, t->n_out * sizeof(*outputs));
		t->taken = true;
	}
	pthread_mutex_unlock(&t->lock);
	return st;
}

void batcher_ticket_free(batcher_ticket *t)
{
	if (t)
		ticket_put(t);
}

void batcher_destroy(batcher *b)
{
	batcher_ticket *t, *next;

	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	b->stop = true;
	t = b->head;
	b->head = b->tail = NULL;
	b->queued = 0;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->lock);
	for (; t; t = next) {
		next = t->next;
		t->next = NULL;
		complete(t, status_error(ACCEL_UNAVAILABLE,
					 "batcher shut down before the request ran"),
			 NULL);
	}
	for (uint32_t i = 0; i < b->n_threads; i++)
		pthread_join(b->threads[i], NULL);
	batcher_free(b);
}

void batcher_get_stats(batcher *b, struct batcher_stats *out)
{
	pthread_mutex_lock(&b->lock);
	out->requests = b->requests;
	out->queued = b->queued;
	pthread_mutex_unlock(&b->lock);
	out->runs = __atomic_load_n(&b->runs, __ATOMIC_RELAXED);
	out->merged_runs = __atomic_load_n(&b->merged_runs, __ATOMIC_RELAXED);
	out->merged_requests = __atomic_load_n(&b->merged_requests, __ATOMIC_RELAXED);
	out->fallbacks = __atomic_load_n(&b->fallbacks, __ATOMIC_RELAXED);
}
