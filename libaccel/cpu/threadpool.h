/* SPDX-License-Identifier: MIT */
/*
 * threadpool.h - a fixed pool of worker threads with a blocking parallel_for.
 *
 * The calling thread takes part in the work. A pool runs one parallel_for at
 * a time; concurrent callers queue on a mutex, so one pool can be shared by
 * several concurrent session runs.
 */
#ifndef ACCEL_CPU_THREADPOOL_H
#define ACCEL_CPU_THREADPOOL_H

#include "core/status.h"

#include <stdint.h>

typedef struct threadpool threadpool;

/* |n_threads| counts the caller: 1 creates no worker threads. */
accel_status threadpool_create(int n_threads, threadpool **out);
void threadpool_destroy(threadpool *tp);
int threadpool_size(const threadpool *tp); /* 1 for NULL */

typedef void (*parallel_fn)(void *arg, int64_t begin, int64_t end);

/*
 * Call fn(arg, begin, end) over disjoint ranges covering [0, n). Ranges hold
 * at least |grain| items (except the last). Runs inline when tp is NULL, has
 * one thread, or n is small.
 */
void parallel_for(threadpool *tp, int64_t n, int64_t grain, parallel_fn fn,
		  void *arg);

/* Number of online CPUs. */
int cpu_count(void);

#endif /* ACCEL_CPU_THREADPOOL_H */
