/* SPDX-License-Identifier: MIT */
/*
 * timeline.c - timeline semaphores on a futex, and their handle table.
 *
 * Signal and wait meet in a Dekker handshake: a waiter counts itself in
 * |waiters| and then re-reads the value; a signaller stores the value and
 * then reads |waiters|, bumping |seq| and waking everyone if any. All
 * waiters wake on every signal and re-check their own point: timelines
 * are signalled a few times per request, so a wake list is not worth it.
 */
#include "sched/timeline.h"
#include "sched/ring.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>

struct accel_timeline {
	uint64_t value;		/* atomic */
	uint32_t seq;		/* futex word, bumped per signal with waiters */
	uint32_t waiters;	/* atomic */
	int refs;		/* atomic */
};

#define TIMELINE_SPIN_NS 10000u

accel_status accel_timeline_create(uint64_t initial, accel_timeline **out)
{
	accel_timeline *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (!t)
		return status_oom("timeline");
	t->value = initial;
	t->refs = 1;
	*out = t;
	return NULL;
}

void accel_timeline_retain(accel_timeline *t)
{
	__atomic_fetch_add(&t->refs, 1, __ATOMIC_RELAXED);
}

void accel_timeline_release(accel_timeline *t)
{
	if (t && __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(t);
}

uint64_t accel_timeline_query(const accel_timeline *t)
{
	return __atomic_load_n(&t->value, __ATOMIC_ACQUIRE);
}

accel_status accel_timeline_signal(accel_timeline *t, uint64_t value)
{
	uint64_t cur = __atomic_load_n(&t->value, __ATOMIC_RELAXED);

	do {
		if (value <= cur)
			return status_invalid("timeline: signal %llu not past %llu",
					      (unsigned long long)value,
					      (unsigned long long)cur);
	} while (!__atomic_compare_exchange_n(&t->value, &cur, value, true,
					      __ATOMIC_SEQ_CST,
					      __ATOMIC_RELAXED));
	if (__atomic_load_n(&t->waiters, __ATOMIC_SEQ_CST)) {
		__atomic_fetch_add(&t->seq, 1, __ATOMIC_SEQ_CST);
		accel_futex_wake(&t->seq, INT_MAX);
	}
	return NULL;
}

static inline int reached(const accel_timeline *t, uint64_t value)
{
	return __atomic_load_n(&t->value, __ATOMIC_SEQ_CST) >= value;
}

static accel_status timed_out(const accel_timeline *t, uint64_t value)
{
	return status_error(ACCEL_DEADLINE_EXCEEDED,
			    "timeline: point %llu not reached (at %llu)",
			    (unsigned long long)value,
			    (unsigned long long)accel_timeline_query(t));
}

accel_status accel_timeline_wait(accel_timeline *t, uint64_t value,
				 uint64_t deadline_ns)
{
	uint64_t now = accel_now_ns(), until = now + TIMELINE_SPIN_NS;
	uint32_t i;
	int err;

	if (reached(t, value))
		return NULL;
	if (now >= deadline_ns)
		return timed_out(t, value);
	for (i = 1;; i++) {
		if (reached(t, value))
			return NULL;
		if (!(i & 63) && accel_now_ns() >= until)
			break;
		accel_cpu_relax();
	}
	for (;;) {
		uint32_t s = __atomic_load_n(&t->seq, __ATOMIC_SEQ_CST);

		__atomic_fetch_add(&t->waiters, 1, __ATOMIC_SEQ_CST);
		if (reached(t, value)) {
			__atomic_fetch_sub(&t->waiters, 1, __ATOMIC_RELAXED);
			return NULL;
		}
		err = accel_futex_wait(&t->seq, s, deadline_ns);
		__atomic_fetch_sub(&t->waiters, 1, __ATOMIC_RELAXED);
		if (err == ETIMEDOUT)
			return reached(t, value) ? NULL : timed_out(t, value);
	}
}

/* ------------------------------------------------ handle table */

struct accel_timeline_table {
	pthread_mutex_t lock;
	accel_timeline **slots;	/* handle h lives in slots[h - 1] */
	uint32_t n_slots;
};

accel_status accel_timeline_table_create(accel_timeline_table **out)
{
	accel_timeline_table *tab = calloc(1, sizeof(*tab));

	*out = NULL;
	if (!tab)
		return status_oom("timeline table");
	pthread_mutex_init(&tab->lock, NULL);
	*out = tab;
	return NULL;
}

void accel_timeline_table_destroy(accel_timeline_table *tab)
{
	uint32_t i;

	if (!tab)
		return;
	for (i = 0; i < tab->n_slots; i++)
		accel_timeline_release(tab->slots[i]);
	free(tab->slots);
	pthread_mutex_destroy(&tab->lock);
	free(tab);
}

accel_status accel_timeline_table_add(accel_timeline_table *tab,
				      accel_timeline *t, uint32_t *out_handle)
{
	accel_timeline **slots;
	uint32_t i, n;

	*out_handle = 0;
	if (!t)
		return status_invalid("timeline table: NULL timeline");
	pthread_mutex_lock(&tab->lock);
	for (i = 0; i < tab->n_slots && tab->slots[i]; i++)
		;
	if (i == tab->n_slots) {
		n = tab->n_slots ? tab->n_slots * 2 : 16;
		slots = realloc(tab->slots, n * sizeof(*slots));
		if (!slots) {
			pthread_mutex_unlock(&tab->lock);
			return status_oom("timeline table");
		}
		for (uint32_t j = tab->n_slots; j < n; j++)
			slots[j] = NULL;
		tab->slots = slots;
		tab->n_slots = n;
	}
	accel_timeline_retain(t);
	tab->slots[i] = t;
	pthread_mutex_unlock(&tab->lock);
	*out_handle = i + 1;
	return NULL;
}

accel_status accel_timeline_table_remove(accel_timeline_table *tab,
					 uint32_t handle)
{
	accel_timeline *t = NULL;

	pthread_mutex_lock(&tab->lock);
	if (handle && handle <= tab->n_slots) {
		t = tab->slots[handle - 1];
		tab->slots[handle - 1] = NULL;
	}
	pthread_mutex_unlock(&tab->lock);
	if (!t)
		return status_error(ACCEL_NOT_FOUND, "timeline table: no handle %u",
				    handle);
	accel_timeline_release(t);
	return NULL;
}

accel_timeline *accel_timeline_table_get(accel_timeline_table *tab,
					 uint32_t handle)
{
	accel_timeline *t = NULL;

	if (!tab)
		return NULL;
	pthread_mutex_lock(&tab->lock);
	if (handle && handle <= tab->n_slots) {
		t = tab->slots[handle - 1];
		if (t)
			accel_timeline_retain(t);
	}
	pthread_mutex_unlock(&tab->lock);
	return t;
}
