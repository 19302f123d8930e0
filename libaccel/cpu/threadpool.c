/* SPDX-License-Identifier: MIT */
/*
 * threadpool.c - worker threads that share a parallel_for job.
 *
 * A job is split into chunks claimed with an atomic counter, so uneven
 * chunks balance themselves. Workers sleep on a condition variable between
 * jobs; the caller runs chunks too and waits until every worker has left
 * the job before returning.
 */
#include "cpu/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

struct threadpool {
	int n_threads; /* including the caller */
	pthread_t *workers;
	pthread_mutex_t job_lock; /* one parallel_for at a time */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_cond_t done;
	uint64_t generation;
	int busy; /* workers still inside the current job */
	bool stop;
	/* current job */
	parallel_fn fn;
	void *arg;
	int64_t n, chunk;
	atomic_int_fast64_t next;
};

int cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

static void run_chunks(threadpool *tp)
{
	for (;;) {
		int64_t begin = atomic_fetch_add(&tp->next, tp->chunk);
		int64_t end;

		if (begin >= tp->n)
			break;
		end = begin + tp->chunk < tp->n ? begin + tp->chunk : tp->n;
		tp->fn(tp->arg, begin, end);
	}
}

static void *worker_main(void *p)
{
	threadpool *tp = p;
	uint64_t seen = 0;

	pthread_mutex_lock(&tp->lock);
	for (;;) {
		while (!tp->stop && tp->generation == seen)
			pthread_cond_wait(&tp->wake, &tp->lock);
		if (tp->stop)
			break;
		seen = tp->generation;
		pthread_mutex_unlock(&tp->lock);
		run_chunks(tp);
		pthread_mutex_lock(&tp->lock);
		if (--tp->busy == 0)
			pthread_cond_signal(&tp->done);
	}
	pthread_mutex_unlock(&tp->lock);
	return NULL;
}

accel_status threadpool_create(int n_threads, threadpool **out)
{
	threadpool *tp;

	if (n_threads < 1)
		return status_invalid("thread count %d must be at least 1", n_threads);
	tp = calloc(1, sizeof(*tp));
	if (!tp)
		return status_oom("a thread pool");
	tp->n_threads = n_threads;
	pthread_mutex_init(&tp->job_lock, NULL);
	pthread_mutex_init(&tp->lock, NULL);
	pthread_cond_init(&tp->wake, NULL);
	pthread_cond_init(&tp->done, NULL);
	atomic_init(&tp->next, 0);
	if (n_threads > 1) {
		tp->workers = calloc((size_t)n_threads - 1, sizeof(pthread_t));
		if (!tp->workers) {
			free(tp);
			return status_oom("thread pool workers");
		}
		for (int i = 0; i < n_threads - 1; i++) {
			if (pthread_create(&tp->workers[i], NULL, worker_main, tp)) {
				tp->n_threads = i + 1;
				threadpool_destroy(tp);
				return status_error(ACCEL_UNAVAILABLE,
						    "cannot start thread pool worker %d of %d",
						    i + 1, n_threads - 1);
			}
		}
	}
	*out = tp;
	return NULL;
}

void threadpool_destroy(threadpool *tp)
{
	if (!tp)
		return;
	pthread_mutex_lock(&tp->lock);
	tp->stop = true;
	pthread_cond_broadcast(&tp->wake);
	pthread_mutex_unlock(&tp->lock);
	for (int i = 0; i < tp->n_threads - 1; i++)
		pthread_join(tp->workers[i], NULL);
	free(tp->workers);
	pthread_mutex_destroy(&tp->job_lock);
	pthread_mutex_destroy(&tp->lock);
	pthread_cond_destroy(&tp->wake);
	pthread_cond_destroy(&tp->done);
	free(tp);
}

int threadpool_size(const threadpool *tp)
{
	return tp ? tp->n_threads : 1;
}

void parallel_for(threadpool *tp, int64_t n, int64_t grain, parallel_fn fn,
		  void *arg)
{
	int64_t chunk;

	if (n <= 0)
		return;
	if (grain < 1)
		grain = 1;
	if (!tp || tp->n_threads == 1 || n <= grain) {
		fn(arg, 0, n);
		return;
	}
	/* About four chunks per thread balances load without much overhead. */
	chunk = (n + tp->n_threads * 4 - 1) / (tp->n_threads * 4);
	if (chunk < grain)
		chunk = grain;

	pthread_mutex_lock(&tp->job_lock);
	pthread_mutex_lock(&tp->lock);
	tp->fn = fn;
	tp->arg = arg;
	tp->n = n;
	tp->chunk = chunk;
	atomic_store(&tp->next, 0);
	tp->busy = tp->n_threads - 1;
	tp->generation++;
	pthread_cond_broadcast(&tp->wake);
	pthread_mutex_unlock(&tp->lock);

	run_chunks(tp);

	pthread_mutex_lock(&tp->lock);
	while (tp->busy > 0)
		pthread_cond_wait(&tp->done, &tp->lock);
	pthread_mutex_unlock(&tp->lock);
	pthread_mutex_unlock(&tp->job_lock);
}
