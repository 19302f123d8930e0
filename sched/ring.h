/* SPDX-License-Identifier: MIT */
/*
 * ring.h - io_uring-style submission/completion rings with the layout of
 * uapi/accel_uapi.h, served by user space (see DESIGN.md, "One ring ABI,
 * two providers").
 *
 * struct accel_ring is the submitter's view of a queue: pointers to the
 * shared head/tail words, masks and entry arrays, set up from the offsets
 * in a struct accel_queue_create exactly as the kernel module returns
 * them. The inline hot paths below (get an SQE, publish the SQ tail, peek
 * and advance the CQ) are therefore the same for both providers; only
 * "enter" (ring the doorbell, wait for completions) differs, through
 * accel_ring_ops.
 *
 * accel_ring_create() builds the user-space provider: one allocation that
 * holds the SQ ring, the CQ ring with its CQEs and the SQE array, laid out
 * like kmod's accelkm_sq_ring/accelkm_cq_ring (each area page-aligned, as
 * the kernel mmaps them). Its consumer (a device worker, worker.h) uses the
 * accel_ring_sq_*() and accel_ring_post_cqe() calls. A CQE that finds the
 * CQ full goes to a backlog, counted in the CQ's overflow word and flagged
 * with ACCEL_SQ_CQ_OVERFLOW, and is flushed in order as the CQ drains:
 * completions are never lost.
 *
 * Threading: one submitter thread and one consumer thread per ring (SPSC on
 * each of SQ and CQ); the submitter also reaps. Indices are free-running
 * u32s, slot = index & mask, so they wrap past 2^32 freely.
 */
#ifndef ACCEL_SCHED_RING_H
#define ACCEL_SCHED_RING_H

#include "core/status.h"
#include "uapi/accel_uapi.h"

#include <stdbool.h>
#include <stdint.h>

/* Deadlines are absolute CLOCK_MONOTONIC nanoseconds; this one never
 * comes. A deadline in the past (0, say) polls once. */
#define ACCEL_DEADLINE_NONE UINT64_MAX

/* Largest SQ of the user-space provider (the CQ gets twice as many). */
#define ACCEL_RING_MAX_ENTRIES 32768u

/* The named barriers of the hot paths (liburing's io_uring_smp_*). */
static inline uint32_t accel_ring_load_acquire(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void accel_ring_store_release(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline uint32_t accel_ring_load_relaxed(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/*
 * The user-space provider's shared ring headers, field for field and
 * cache line for cache line those of kmod/accelkm.h, so the offsets that
 * accel_ring_create() reports equal the kernel's.
 */
#define ACCEL_RING_CACHELINE 64

struct accel_ring_sq_hdr {
	_Alignas(ACCEL_RING_CACHELINE) uint32_t head;	/* consumer-written */
	_Alignas(ACCEL_RING_CACHELINE) uint32_t tail;	/* submitter-written */
	_Alignas(ACCEL_RING_CACHELINE) uint32_t ring_mask;
	uint32_t ring_entries;
	uint32_t flags;		/* ACCEL_SQ_*, consumer-written */
	uint32_t dropped;	/* SQEs rejected by the consumer */
};

struct accel_ring_cq_hdr {
	_Alignas(ACCEL_RING_CACHELINE) uint32_t head;	/* submitter-written */
	_Alignas(ACCEL_RING_CACHELINE) uint32_t tail;	/* consumer-written */
	_Alignas(ACCEL_RING_CACHELINE) uint32_t ring_mask;
	uint32_t ring_entries;
	uint32_t overflow;	/* CQEs that went through the backlog */
	_Alignas(ACCEL_RING_CACHELINE) struct accel_cqe cqes[];
};

struct accel_ring;
struct accel_ring_provider;

/*
 * accel_ring_ops - what differs between providers. The kmod provider's
 * enter is ACCEL_IOCTL_QUEUE_ENTER; the user-space provider's rings the
 * worker's doorbell and waits on a futex.
 * @enter: tell the consumer that @to_submit SQEs were published; with
 *	ACCEL_ENTER_GETEVENTS wait until the CQ holds @min_complete CQEs or
 *	@deadline_ns passes (then ACCEL_DEADLINE_EXCEEDED).
 * @wait_sq_space: wait until the SQ has room for @want SQEs.
 */
struct accel_ring_ops {
	accel_status (*enter)(struct accel_ring *r, uint32_t to_submit,
			      uint32_t min_complete, uint32_t flags,
			      uint64_t deadline_ns);
	accel_status (*wait_sq_space)(struct accel_ring *r, uint32_t want,
				      uint64_t deadline_ns);
};

/*
 * struct accel_ring - the submitter's view of one SQ/CQ pair. Fields up to
 * @cqes are set by accel_ring_setup() from a provider's mappings; the
 * sqe_* indices are private to the submitter.
 */
struct accel_ring {
	uint32_t *sq_head;
	uint32_t *sq_tail;
	uint32_t *sq_flags;
	uint32_t *sq_dropped;
	uint32_t sq_mask;
	uint32_t sq_entries;
	struct accel_sqe *sqes;

	uint32_t *cq_head;
	uint32_t *cq_tail;
	uint32_t *cq_overflow;
	uint32_t cq_mask;
	uint32_t cq_entries;
	struct accel_cqe *cqes;

	uint32_t sqe_head;	/* published up to here */
	uint32_t sqe_tail;	/* handed out up to here */
	uint32_t sq_head_cache;	/* last SQ head seen: reload when full */

	const struct accel_ring_ops *ops;
	void *ops_priv;		/* the provider's: kmod fd, ... */
	struct accel_ring_provider *prov;	/* user-space provider only */

	/* Setup as a kernel would report it: entries, offsets, area sizes. */
	struct accel_queue_create params;
};

/* ------------------------------------------------------------- setup */

/*
 * Point |r| at a provider's three areas (SQ ring, CQ ring with CQEs, SQE
 * array) using the entries and offsets in |p|, like liburing's
 * io_uring_setup_ring_pointers(). |ops| may be NULL for a ring only ever
 * driven through the inline calls.
 */
accel_status accel_ring_setup(struct accel_ring *r,
			      const struct accel_queue_create *p, void *sq,
			      void *cq, void *sqes,
			      const struct accel_ring_ops *ops, void *ops_priv);

/*
 * The user-space provider: SQ of |entries| (a power of two, at most
 * ACCEL_RING_MAX_ENTRIES), CQ of twice that. |flags| must be zero.
 * Destroy with accel_ring_destroy() after the worker is gone.
 */
accel_status accel_ring_create(uint32_t entries, uint32_t flags,
			       struct accel_ring **out);
void accel_ring_destroy(struct accel_ring *r);

/* The start of the SQ, CQ and SQE areas inside the allocation. */
void *accel_ring_sq_area(struct accel_ring *r);
void *accel_ring_cq_area(struct accel_ring *r);

/*
 * Test hook: restart every index (shared and private) at |base|, so a
 * test can run a ring across the 2^32 wrap. The ring must be idle: empty
 * SQ, CQ and backlog, and no worker running.
 */
accel_status accel_ring_set_index_base(struct accel_ring *r, uint32_t base);

/* ------------------------------------------------ submitter: SQ side */

/* SQEs the submitter may still get before the SQ is full. */
static inline uint32_t accel_ring_sq_space(struct accel_ring *r)
{
	/* acquire: the consumer has finished copying the slots it freed */
	r->sq_head_cache = accel_ring_load_acquire(r->sq_head);
	return r->sq_entries - (r->sqe_tail - r->sq_head_cache);
}

/*
 * The next free SQE (the caller fills every field), NULL when full. The
 * consumer's head is re-read only when the cached one says full, so a
 * submitter does not pull that cache line across per SQE.
 */
static inline struct accel_sqe *accel_ring_get_sqe(struct accel_ring *r)
{
	if (r->sqe_tail - r->sq_head_cache >= r->sq_entries &&
	    !accel_ring_sq_space(r))
		return NULL;
	return &r->sqes[r->sqe_tail++ & r->sq_mask];
}

/* Publish the SQEs got so far; returns how many were published. */
static inline uint32_t accel_ring_flush_sq(struct accel_ring *r)
{
	uint32_t n = r->sqe_tail - r->sqe_head;

	if (n) {
		/* release: the SQEs are written before the consumer sees them */
		accel_ring_store_release(r->sq_tail, r->sqe_tail);
		r->sqe_head = r->sqe_tail;
	}
	return n;
}

/*
 * Publish what accel_ring_get_sqe() handed out and ring the doorbell.
 * |out_submitted| (may be NULL) gets the number published.
 */
accel_status accel_ring_submit(struct accel_ring *r, uint32_t *out_submitted);

/*
 * Copy up to |n| SQEs from |sqes| into the SQ, publish and ring. Takes as
 * many as fit (back-pressure: possibly 0) and says how many in |out_taken|.
 */
accel_status accel_ring_submit_sqes(struct accel_ring *r,
				    const struct accel_sqe *sqes, uint32_t n,
				    uint32_t *out_taken);

/*
 * As accel_ring_submit_sqes(), but wait for room until all |n| are taken
 * or |deadline_ns| passes (ACCEL_DEADLINE_EXCEEDED; |out_taken|, may be
 * NULL, says how many made it).
 */
accel_status accel_ring_submit_sqes_wait(struct accel_ring *r,
					 const struct accel_sqe *sqes,
					 uint32_t n, uint64_t deadline_ns,
					 uint32_t *out_taken);

/* ------------------------------------------------ submitter: CQ side */

/* CQEs ready to reap. */
static inline uint32_t accel_ring_cq_ready(const struct accel_ring *r)
{
	/* acquire: pairs with the consumer's release of the CQ tail */
	return accel_ring_load_acquire(r->cq_tail) -
	       accel_ring_load_relaxed(r->cq_head);
}

/* The oldest unreaped CQE, or NULL; release it with accel_ring_cq_advance(). */
static inline struct accel_cqe *accel_ring_peek_cqe(struct accel_ring *r)
{
	uint32_t head = accel_ring_load_relaxed(r->cq_head);

	if (accel_ring_load_acquire(r->cq_tail) == head)
		return NULL;
	return &r->cqes[head & r->cq_mask];
}

/* Hand |n| reaped CQE slots back to the consumer. */
static inline void accel_ring_cq_advance(struct accel_ring *r, uint32_t n)
{
	/* release: our reads of the CQEs are done before the slots reuse */
	accel_ring_store_release(r->cq_head,
				 accel_ring_load_relaxed(r->cq_head) + n);
}

/* Completions wait in the provider's backlog (the CQ was full). */
static inline bool accel_ring_cq_overflowed(const struct accel_ring *r)
{
	return accel_ring_load_acquire(r->sq_flags) & ACCEL_SQ_CQ_OVERFLOW;
}

/* Copy out and release up to |max| CQEs; returns how many. */
uint32_t accel_ring_reap(struct accel_ring *r, struct accel_cqe *dst,
			 uint32_t max);

/*
 * Wait until the CQ holds at least |min_complete| CQEs (at most the CQ
 * size), or |deadline_ns| passes: ACCEL_DEADLINE_EXCEEDED. A deadline in
 * the past polls. Also lets the provider flush its backlog.
 */
accel_status accel_ring_wait_cqes(struct accel_ring *r, uint32_t min_complete,
				  uint64_t deadline_ns);

/* -------------------------------- consumer side (user-space provider) */

/*
 * These are for the one consumer of a ring made by accel_ring_create()
 * (the device worker). The consumer copies SQEs out, releases their slots,
 * then posts one CQE per SQE.
 */

/* SQEs published and not yet consumed. */
uint32_t accel_ring_sq_pending(struct accel_ring *r);

/*
 * Copy up to |max| pending SQEs into |dst| and release their slots;
 * returns how many. A submitter waiting for room is woken.
 */
uint32_t accel_ring_sq_consume(struct accel_ring *r, struct accel_sqe *dst,
			       uint32_t max);

/* Count an SQE rejected at consumption in the SQ's dropped word. */
void accel_ring_sq_drop(struct accel_ring *r);

/*
 * Post one CQE: into the CQ, or into the backlog (overflow) while the CQ
 * is full or older CQEs are still backlogged, and publish it. Fails only
 * when the backlog cannot grow (out of memory); the CQE is then not
 * posted.
 */
accel_status accel_ring_post_cqe(struct accel_ring *r,
				 const struct accel_cqe *cqe);

/*
 * As accel_ring_post_cqe(), but the CQ tail is published by the next
 * accel_ring_notify() (or post): a batch of fast ops publishes once.
 */
accel_status accel_ring_queue_cqe(struct accel_ring *r,
				  const struct accel_cqe *cqe);

/* Move backlogged CQEs into the CQ, oldest first; returns how many moved. */
uint32_t accel_ring_flush_backlog(struct accel_ring *r);

/* CQEs in the backlog. */
uint32_t accel_ring_backlog(const struct accel_ring *r);

/*
 * Publish queued CQEs and wake a submitter whose wait (for CQEs or for SQ
 * room) is satisfied. The consumer calls it after each batch.
 */
void accel_ring_notify(struct accel_ring *r);

/*
 * Sleep until the submitter rings the doorbell (or |deadline_ns|), after
 * polling the SQ tail for |spin_ns| nanoseconds. Returns at once when SQEs are
 * pending or the ring was kicked since the last call.
 */
void accel_ring_consumer_wait(struct accel_ring *r, uint32_t spin_ns,
			      uint64_t deadline_ns);

/* Ring the consumer's doorbell (new SQEs, a freed CQ, a stop request). */
void accel_ring_kick(struct accel_ring *r);

/* CLOCK_MONOTONIC now, in nanoseconds. */
uint64_t accel_now_ns(void);

/*
 * Private futex helpers shared by sched/: wait while *word == val until
 * the absolute CLOCK_MONOTONIC |deadline_ns| (ACCEL_DEADLINE_NONE: never);
 * returns 0 when woken, else ETIMEDOUT, EAGAIN (*word changed) or EINTR.
 */
int accel_futex_wait(uint32_t *word, uint32_t val, uint64_t deadline_ns);
void accel_futex_wake(uint32_t *word, int n);

/* Spin with a pause instruction (for the short polls before sleeping). */
static inline void accel_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

#endif /* ACCEL_SCHED_RING_H */
