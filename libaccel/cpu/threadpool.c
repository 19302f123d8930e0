/* SPDX-License-Identifier: MIT */
/*
 * threadpool.c - worker threads that share a parallel_for job.
 *
 * A job is split into chunks claimed with an atomic counter, so uneven
 * chunks balance themselves. The caller runs chunks too and waits until
 * every worker has left the job before returning.
 *
 * Waking a sleeping thread costs tens to hundreds of microseconds on a
 * virtual machine, which is more than many operators of a small network
 * take. So a worker that finishes a job spins for a short while (SPIN_NS)
 * watching for the next one before it sleeps on the condition variable,
 * and the caller only signals the condition variable when a worker is
 * actually asleep. The caller's wait for stragglers is a short spin too.
 *
 * Both spins turn into sched_yield() loops after SPIN_PAUSES pauses. On an
 * idle core a yield returns at once, so nothing changes; on an
 * oversubscribed machine (more runnable threads than cores) a pure spin
 * burns the time slice that a descheduled worker, or the thread holding
 * the last chunk, needs: MobileNetV3 at 2 threads ran 4x slower than at 1
 * with the pure spin under a load of 10 on 2 cores, and about as fast as
 * at 1 thread with the yields (docs/PERFORMANCE.md).
 */
#include "cpu/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* How long an idle worker watches for new work before sleeping. */
#define SPIN_NS 200000
/* Pauses before a spinning thread starts yielding its core instead. */
#define SPIN_PAUSES 256

struct threadpool {
	int n_threads; /* including the caller */
	pthread_t *workers;
	pthread_mutex_t job_lock; /* one parallel_for at a time */
	pthread_mutex_t lock;	  /* guards sleeping */
	pthread_cond_t wake;
	atomic_uint_fast64_t generation; /* bumped once per job */
	atomic_int sleepers;		 /* workers blocked on |wake| */
	atomic_int busy;		 /* workers still inside the job */
	atomic_bool stop;
	/* current job, published by the release increment of |generation| */
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

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
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

/* Wait for a generation other than |seen|: spin first, then sleep. */
static uint64_t wait_for_job(threadpool *tp, uint64_t seen)
{
	int64_t deadline = now_ns() + SPIN_NS;
	uint64_t g;

	for (unsigned i = 1;; i++) {
		g = atomic_load_explicit(&tp->generation, memory_order_acquire);
		if (g != seen || atomic_load(&tp->stop))
			return g;
		if (i < SPIN_PAUSES)
			cpu_relax();
		else
			sched_yield();
		if (!(i & 63) && now_ns() > deadline)
			break;
	}
	pthread_mutex_lock(&tp->lock);
	atomic_fetch_add(&tp->sleepers, 1);
	while ((g = atomic_load(&tp->generation)) == seen && !atomic_load(&tp->stop))
		pthread_cond_wait(&tp->wake, &tp->lock);
	atomic_fetch_sub(&tp->sleepers, 1);
	pthread_mutex_unlock(&tp->lock);
	return g;
}

static void *worker_main(void *p)
{
	threadpool *tp = p;
	uint64_t seen = 0;

	for (;;) {
		seen = wait_for_job(tp, seen);
		if (atomic_load(&tp->stop))
			break;
		run_chunks(tp);
		atomic_fetch_sub_explicit(&tp->busy, 1, memory_order_release);
	}
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
	atomic_init(&tp->generation, 0);
	atomic_init(&tp->sleepers, 0);
	atomic_init(&tp->busy, 0);
	atomic_init(&tp->stop, false);
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
	atomic_store(&tp->stop, true);
	pthread_cond_broadcast(&tp->wake);
	pthread_mutex_unlock(&tp->lock);
	for (int i = 0; i < tp->n_threads - 1; i++)
		pthread_join(tp->workers[i], NULL);
	free(tp->workers);
	pthread_mutex_destroy(&tp->job_lock);
	pthread_mutex_destroy(&tp->lock);
	pthread_cond_destroy(&tp->wake);
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
	tp->fn = fn;
	tp->arg = arg;
	tp->n = n;
	tp->chunk = chunk;
	atomic_store(&tp->next, 0);
	atomic_store(&tp->busy, tp->n_threads - 1);
	/* seq_cst: a worker going to sleep either sees this generation or is
	 * counted in |sleepers| by the time we look. */
	atomic_fetch_add(&tp->generation, 1);
	if (atomic_load(&tp->sleepers) > 0) {
		pthread_mutex_lock(&tp->lock);
		pthread_cond_broadcast(&tp->wake);
		pthread_mutex_unlock(&tp->lock);
	}

	run_chunks(tp);

	for (unsigned i = 1; atomic_load_explicit(&tp->busy, memory_order_acquire) > 0; i++) {
		/* A worker may have been descheduled: give it the core. */
		if (i < SPIN_PAUSES)
			cpu_relax();
		else
			sched_yield();
	}
	pthread_mutex_unlock(&tp->job_lock);
}
