/* SPDX-License-Identifier: MIT */
/*
 * ring.c - the user-space ring provider: one allocation laid out like the
 * kernel module's queue (SQ ring, CQ ring with CQEs, SQE array), the
 * consumer side that a device worker drives, the CQ overflow backlog, and
 * the futex-based doorbell and waits.
 *
 * Wake-ups follow one pattern everywhere (a Dekker handshake): the sleeper
 * announces itself in a flag, runs a full barrier, re-checks its condition,
 * then futex-waits on a sequence word; the waker publishes its index, runs
 * a barrier, and bumps the sequence and wakes only if the flag is set.
 * Either the sleeper sees the new index or the waker sees the flag.
 *
 * The barrier is asymmetric: sleeping is rare (after a spin), publishing
 * happens per SQE and per CQE, so the sleeper pays for both sides with
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which runs a full barrier
 * on every CPU running one of our threads, and the waker's barrier is only
 * a compiler barrier (liburcu's urcu-memb scheme). Where membarrier is
 * unavailable both sides use a full fence.
 *
 * Spins poll with a pause and call sched_yield() about every microsecond:
 * on an oversubscribed machine the side we wait for may be queued behind
 * us on the same CPU, and a plain spin would only delay it.
 */
#include "sched/ring.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE_SZ 4096u
#define PAGE_ALIGN(x) (((x) + PAGE_SZ - 1) & ~(size_t)(PAGE_SZ - 1))

/* Consumer-private state and the wait words, each group on its own line. */
struct accel_ring_provider {
	struct accel_ring_sq_hdr *sq;
	struct accel_ring_cq_hdr *cq;

	/* consumer-private: never trust the shared copies */
	_Alignas(ACCEL_RING_CACHELINE) uint32_t sq_head;
	uint32_t cq_tail;
	uint32_t cq_head_cache;	/* last CQ head seen: reload when full */
	uint32_t overflow;
	uint32_t dropped;
	uint32_t doorbell_seen;
	struct accel_cqe *bl;	/* backlog: a circular array */
	uint32_t bl_head, bl_len, bl_cap;

	/* submitter -> consumer: new SQEs, freed CQ slots, stop */
	_Alignas(ACCEL_RING_CACHELINE) uint32_t doorbell;
	uint32_t consumer_sleeping;

	/* consumer -> submitter: CQEs posted */
	_Alignas(ACCEL_RING_CACHELINE) uint32_t cq_seq;
	uint32_t cq_waiting;
	uint32_t cq_target;	/* CQ tail the waiter needs */

	/* consumer -> submitter: SQ slots freed */
	_Alignas(ACCEL_RING_CACHELINE) uint32_t sq_seq;
	uint32_t sq_waiting;
	uint32_t sq_target;	/* SQ head the waiter needs */
};

struct ring_block {
	struct accel_ring ring;
	struct accel_ring_provider prov;
};

uint64_t accel_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int accel_futex_wait(uint32_t *word, uint32_t val, uint64_t deadline_ns)
{
	struct timespec ts, *tsp = NULL;

	if (deadline_ns != ACCEL_DEADLINE_NONE) {
		ts.tv_sec = (time_t)(deadline_ns / 1000000000u);
		ts.tv_nsec = (long)(deadline_ns % 1000000000u);
		tsp = &ts;
	}
	/* WAIT_BITSET takes an absolute CLOCK_MONOTONIC timeout */
	if (syscall(SYS_futex, word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
		    val, tsp, NULL, FUTEX_BITSET_MATCH_ANY) == 0)
		return 0;
	return errno;
}

void accel_futex_wake(uint32_t *word, int n)
{
	syscall(SYS_futex, word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL,
		NULL, 0);
}

#if defined(__SANITIZE_THREAD__)
/* TSan has no fences: a seq_cst RMW is a full barrier on every CPU. */
static uint32_t tsan_fence_word;
static inline void full_barrier(void)
{
	__atomic_fetch_add(&tsan_fence_word, 0, __ATOMIC_SEQ_CST);
}
#else
static inline void full_barrier(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
#endif

static pthread_once_t membarrier_once = PTHREAD_ONCE_INIT;
static int have_membarrier;	/* set once, before any ring exists */

static void membarrier_init(void)
{
	long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0);

	if (cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
		    0) == 0)
		have_membarrier = 1;
}

/* The sleeper's half: orders its flag store before its re-check, and
 * every waker's index store before the waker's flag load. */
static void heavy_barrier(void)
{
	full_barrier();
	if (have_membarrier &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) == 0)
		return;
	full_barrier();
}

/* The waker's half: free with membarrier, else a full fence. */
static inline void light_barrier(void)
{
	if (__builtin_expect(have_membarrier, 1))
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	else
		full_barrier();
}

/* Bump |seq| and wake its sleeper if |flag| was set (the waker's half). */
static void wake_if(uint32_t *flag, uint32_t *seq)
{
	if (__atomic_exchange_n(flag, 0, __ATOMIC_SEQ_CST)) {
		__atomic_fetch_add(seq, 1, __ATOMIC_SEQ_CST);
		accel_futex_wake(seq, INT_MAX);
	}
}

/* ------------------------------------------------------------- setup */

static bool is_pow2(uint32_t x)
{
	return x && !(x & (x - 1));
}

static bool fits(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

accel_status accel_ring_setup(struct accel_ring *r,
			      const struct accel_queue_create *p, void *sq,
			      void *cq, void *sqes,
			      const struct accel_ring_ops *ops, void *ops_priv)
{
	const struct accel_sq_offsets *so = &p->sq_off;
	const struct accel_cq_offsets *co = &p->cq_off;
	char *s = sq, *c = cq;

	if (!r || !p || !sq || !cq || !sqes)
		return status_invalid("ring setup: NULL argument");
	if (!is_pow2(p->sq_entries) || !is_pow2(p->cq_entries))
		return status_invalid("ring setup: entries %u/%u not a power of two",
				      p->sq_entries, p->cq_entries);
	if (!fits(so->head, 4, p->sq_ring_size) ||
	    !fits(so->tail, 4, p->sq_ring_size) ||
	    !fits(so->ring_mask, 4, p->sq_ring_size) ||
	    !fits(so->ring_entries, 4, p->sq_ring_size) ||
	    !fits(so->flags, 4, p->sq_ring_size) ||
	    !fits(so->dropped, 4, p->sq_ring_size) ||
	    !fits(co->head, 4, p->cq_ring_size) ||
	    !fits(co->tail, 4, p->cq_ring_size) ||
	    !fits(co->ring_mask, 4, p->cq_ring_size) ||
	    !fits(co->ring_entries, 4, p->cq_ring_size) ||
	    !fits(co->overflow, 4, p->cq_ring_size) ||
	    !fits(co->cqes, (uint64_t)p->cq_entries * sizeof(struct accel_cqe),
		  p->cq_ring_size) ||
	    (uint64_t)p->sq_entries * sizeof(struct accel_sqe) > p->sqes_size)
		return status_invalid("ring setup: an offset lies outside its area");
	if (*(uint32_t *)(s + so->ring_mask) != p->sq_entries - 1 ||
	    *(uint32_t *)(c + co->ring_mask) != p->cq_entries - 1)
		return status_invalid("ring setup: ring masks disagree with entries");

	memset(r, 0, sizeof(*r));
	r->sq_head = (uint32_t *)(s + so->head);
	r->sq_tail = (uint32_t *)(s + so->tail);
	r->sq_flags = (uint32_t *)(s + so->flags);
	r->sq_dropped = (uint32_t *)(s + so->dropped);
	r->sq_mask = p->sq_entries - 1;
	r->sq_entries = p->sq_entries;
	r->sqes = sqes;
	r->cq_head = (uint32_t *)(c + co->head);
	r->cq_tail = (uint32_t *)(c + co->tail);
	r->cq_overflow = (uint32_t *)(c + co->overflow);
	r->cq_mask = p->cq_entries - 1;
	r->cq_entries = p->cq_entries;
	r->cqes = (struct accel_cqe *)(c + co->cqes);
	/* the submitter may attach to a queue that already ran */
	r->sqe_head = r->sqe_tail = accel_ring_load_acquire(r->sq_tail);
	r->sq_head_cache = accel_ring_load_acquire(r->sq_head);
	r->ops = ops;
	r->ops_priv = ops_priv;
	r->params = *p;
	return NULL;
}

static const struct accel_ring_ops uring_ops;

/* Offsets and sizes exactly as kmod's queue_fill_params() reports them. */
static void fill_params(struct accel_queue_create *p, uint32_t entries,
			size_t hdr)
{
	memset(p, 0, sizeof(*p));
	p->entries = entries;
	p->sq_entries = entries;
	p->cq_entries = entries * 2;
	p->sq_off.head = offsetof(struct accel_ring_sq_hdr, head);
	p->sq_off.tail = offsetof(struct accel_ring_sq_hdr, tail);
	p->sq_off.ring_mask = offsetof(struct accel_ring_sq_hdr, ring_mask);
	p->sq_off.ring_entries = offsetof(struct accel_ring_sq_hdr, ring_entries);
	p->sq_off.flags = offsetof(struct accel_ring_sq_hdr, flags);
	p->sq_off.dropped = offsetof(struct accel_ring_sq_hdr, dropped);
	p->cq_off.head = offsetof(struct accel_ring_cq_hdr, head);
	p->cq_off.tail = offsetof(struct accel_ring_cq_hdr, tail);
	p->cq_off.ring_mask = offsetof(struct accel_ring_cq_hdr, ring_mask);
	p->cq_off.ring_entries = offsetof(struct accel_ring_cq_hdr, ring_entries);
	p->cq_off.overflow = offsetof(struct accel_ring_cq_hdr, overflow);
	p->cq_off.cqes = offsetof(struct accel_ring_cq_hdr, cqes);
	p->sq_ring_size = PAGE_ALIGN(sizeof(struct accel_ring_sq_hdr));
	p->cq_ring_size = PAGE_ALIGN(sizeof(struct accel_ring_cq_hdr) +
				     (size_t)p->cq_entries * sizeof(struct accel_cqe));
	p->sqes_size = PAGE_ALIGN((size_t)entries * sizeof(struct accel_sqe));
	/* "mmap offsets": where each area starts inside the one allocation */
	p->sq_mmap_offset = hdr;
	p->cq_mmap_offset = p->sq_mmap_offset + p->sq_ring_size;
	p->sqes_mmap_offset = p->cq_mmap_offset + p->cq_ring_size;
}

accel_status accel_ring_create(uint32_t entries, uint32_t flags,
			       struct accel_ring **out)
{
	struct accel_queue_create p;
	size_t hdr = PAGE_ALIGN(sizeof(struct ring_block)), total;
	struct ring_block *b;
	accel_status st;
	char *mem;

	*out = NULL;
	pthread_once(&membarrier_once, membarrier_init);
	if (flags)
		return status_invalid("ring: flags 0x%x not supported", flags);
	if (!is_pow2(entries) || entries > ACCEL_RING_MAX_ENTRIES)
		return status_invalid("ring: %u entries (want a power of two, 1..%u)",
				      entries, ACCEL_RING_MAX_ENTRIES);
	fill_params(&p, entries, hdr);
	total = p.sqes_mmap_offset + p.sqes_size;
	mem = aligned_alloc(PAGE_SZ, total);
	if (!mem)
		return status_oom("ring");
	memset(mem, 0, total);
	b = (struct ring_block *)mem;
	b->prov.sq = (struct accel_ring_sq_hdr *)(mem + p.sq_mmap_offset);
	b->prov.cq = (struct accel_ring_cq_hdr *)(mem + p.cq_mmap_offset);
	b->prov.sq->ring_mask = entries - 1;
	b->prov.sq->ring_entries = entries;
	b->prov.cq->ring_mask = p.cq_entries - 1;
	b->prov.cq->ring_entries = p.cq_entries;
	st = accel_ring_setup(&b->ring, &p, mem + p.sq_mmap_offset,
			      mem + p.cq_mmap_offset, mem + p.sqes_mmap_offset,
			      &uring_ops, NULL);
	if (st) {
		free(mem);
		return st;
	}
	b->ring.prov = &b->prov;
	*out = &b->ring;
	return NULL;
}

void accel_ring_destroy(struct accel_ring *r)
{
	if (!r || !r->prov)
		return;
	free(r->prov->bl);
	free(r);	/* the ring is the start of its ring_block */
}

void *accel_ring_sq_area(struct accel_ring *r)
{
	return (char *)r + r->params.sq_mmap_offset;
}

void *accel_ring_cq_area(struct accel_ring *r)
{
	return (char *)r + r->params.cq_mmap_offset;
}

accel_status accel_ring_set_index_base(struct accel_ring *r, uint32_t base)
{
	struct accel_ring_provider *pv = r->prov;

	if (!pv)
		return status_invalid("ring: index base needs the user-space provider");
	if (pv->sq_head != r->sqe_tail || r->sqe_head != r->sqe_tail ||
	    pv->cq_tail != *r->cq_head || pv->bl_len)
		return status_invalid("ring: index base on a busy ring");
	pv->sq_head = pv->cq_tail = pv->cq_head_cache = base;
	r->sqe_head = r->sqe_tail = r->sq_head_cache = base;
	pv->sq->head = pv->sq->tail = base;
	pv->cq->head = pv->cq->tail = base;
	full_barrier();
	return NULL;
}

/* ------------------------------------------------ submitter side */

accel_status accel_ring_submit(struct accel_ring *r, uint32_t *out_submitted)
{
	uint32_t n = accel_ring_flush_sq(r);

	if (out_submitted)
		*out_submitted = n;
	if (r->ops && r->ops->enter)
		return r->ops->enter(r, n, 0, 0, 0);
	return NULL;
}

static void copy_sqes(struct accel_ring *r, const struct accel_sqe *src,
		      uint32_t n)
{
	uint32_t slot = r->sqe_tail & r->sq_mask;
	uint32_t first = r->sq_entries - slot;

	if (first > n)
		first = n;
	memcpy(&r->sqes[slot], src, first * sizeof(*src));
	memcpy(&r->sqes[0], src + first, (n - first) * sizeof(*src));
	r->sqe_tail += n;
}

accel_status accel_ring_submit_sqes(struct accel_ring *r,
				    const struct accel_sqe *sqes, uint32_t n,
				    uint32_t *out_taken)
{
	uint32_t space = r->sq_entries - (r->sqe_tail - r->sq_head_cache);

	if (n > space)
		space = accel_ring_sq_space(r);
	if (n > space)
		n = space;
	copy_sqes(r, sqes, n);
	*out_taken = n;
	return n ? accel_ring_submit(r, NULL) : NULL;
}

accel_status accel_ring_submit_sqes_wait(struct accel_ring *r,
					 const struct accel_sqe *sqes,
					 uint32_t n, uint64_t deadline_ns,
					 uint32_t *out_taken)
{
	uint32_t done = 0, k;
	accel_status st = NULL;

	for (;;) {
		st = accel_ring_submit_sqes(r, sqes + done, n - done, &k);
		done += k;
		if (st || done == n)
			break;
		if (!r->ops || !r->ops->wait_sq_space) {
			st = status_error(ACCEL_UNAVAILABLE,
					  "ring: provider cannot wait for room");
			break;
		}
		k = n - done < r->sq_entries ? n - done : r->sq_entries;
		st = r->ops->wait_sq_space(r, k, deadline_ns);
		if (st)
			break;
	}
	if (out_taken)
		*out_taken = done;
	return st;
}

uint32_t accel_ring_reap(struct accel_ring *r, struct accel_cqe *dst,
			 uint32_t max)
{
	uint32_t head = accel_ring_load_relaxed(r->cq_head);
	uint32_t n = accel_ring_load_acquire(r->cq_tail) - head, i;

	if (n > max)
		n = max;
	for (i = 0; i < n; i++)
		dst[i] = r->cqes[(head + i) & r->cq_mask];
	if (n)
		accel_ring_cq_advance(r, n);
	return n;
}

accel_status accel_ring_wait_cqes(struct accel_ring *r, uint32_t min_complete,
				  uint64_t deadline_ns)
{
	if (min_complete > r->cq_entries)
		return status_invalid("ring: waiting for %u CQEs, the CQ holds %u",
				      min_complete, r->cq_entries);
	if (accel_ring_cq_ready(r) >= min_complete &&
	    !accel_ring_cq_overflowed(r))
		return NULL;
	if (!r->ops || !r->ops->enter)
		return accel_ring_cq_ready(r) >= min_complete ? NULL :
			status_error(ACCEL_UNAVAILABLE,
				     "ring: provider cannot wait for completions");
	return r->ops->enter(r, 0, min_complete, ACCEL_ENTER_GETEVENTS,
			     deadline_ns);
}

/* ------------------------------------- the user-space provider's ops */

/* Wake the consumer if it sleeps (after publishing the SQ tail). */
static void doorbell(struct accel_ring *r)
{
	struct accel_ring_provider *pv = r->prov;

	light_barrier();
	if (__atomic_load_n(&pv->consumer_sleeping, __ATOMIC_RELAXED)) {
		__atomic_fetch_add(&pv->doorbell, 1, __ATOMIC_SEQ_CST);
		accel_futex_wake(&pv->doorbell, 1);
	}
}

void accel_ring_kick(struct accel_ring *r)
{
	struct accel_ring_provider *pv = r->prov;

	if (!pv)
		return;
	__atomic_fetch_add(&pv->doorbell, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&pv->consumer_sleeping, __ATOMIC_SEQ_CST))
		accel_futex_wake(&pv->doorbell, 1);
}

/* Poll this long before a futex sleep: a round trip through the worker is
 * a few microseconds, a futex wake-up tens. */
#define WAIT_SPIN_NS 20000u

/* Spin, then sleep on |seq| until done(r) or the deadline. */
static accel_status uring_wait(struct accel_ring *r, uint32_t *seq,
			       uint32_t *waiting, uint32_t *target,
			       uint32_t want,
			       bool (*done)(struct accel_ring *, uint32_t),
			       uint64_t deadline_ns, const char *what)
{
	uint64_t until = accel_now_ns() + WAIT_SPIN_NS;
	uint32_t i;

	if (until > deadline_ns)
		until = deadline_ns;
	for (i = 1;; i++) {
		if (done(r, want))
			return NULL;
		if (!(i & 63)) {
			if (accel_now_ns() >= until)
				break;
			if (accel_ring_cq_overflowed(r))
				accel_ring_kick(r);
			/* on a crowded CPU, let the side we wait for run */
			sched_yield();
		}
		accel_cpu_relax();
	}
	for (;;) {
		uint32_t s = __atomic_load_n(seq, __ATOMIC_SEQ_CST);
		int err;

		__atomic_store_n(target, want, __ATOMIC_RELAXED);
		__atomic_store_n(waiting, 1, __ATOMIC_SEQ_CST);
		heavy_barrier();
		if (done(r, want))
			break;
		if (accel_ring_cq_overflowed(r))
			accel_ring_kick(r);	/* let it flush into freed slots */
		err = accel_futex_wait(seq, s, deadline_ns);
		if (err == ETIMEDOUT) {
			__atomic_store_n(waiting, 0, __ATOMIC_SEQ_CST);
			if (done(r, want))
				return NULL;
			return status_error(ACCEL_DEADLINE_EXCEEDED,
					    "ring: timed out waiting for %s", what);
		}
	}
	__atomic_store_n(waiting, 0, __ATOMIC_SEQ_CST);
	return NULL;
}

/* want: the CQ tail value the waiter needs. */
static bool cq_done(struct accel_ring *r, uint32_t want)
{
	return (int32_t)(accel_ring_load_acquire(r->cq_tail) - want) >= 0;
}

/* want: the SQ head value the waiter needs. */
static bool sq_done(struct accel_ring *r, uint32_t want)
{
	return (int32_t)(accel_ring_load_acquire(r->sq_head) - want) >= 0;
}

static accel_status uring_enter(struct accel_ring *r, uint32_t to_submit,
				uint32_t min_complete, uint32_t flags,
				uint64_t deadline_ns)
{
	struct accel_ring_provider *pv = r->prov;
	uint32_t want;

	if (to_submit)
		doorbell(r);
	if (!(flags & ACCEL_ENTER_GETEVENTS))
		return NULL;
	if (accel_ring_cq_overflowed(r))
		accel_ring_kick(r);
	want = accel_ring_load_relaxed(r->cq_head) + min_complete;
	if (cq_done(r, want))
		return NULL;
	if (deadline_ns != ACCEL_DEADLINE_NONE && accel_now_ns() >= deadline_ns)
		return status_error(ACCEL_DEADLINE_EXCEEDED,
				    "ring: %u of %u completions ready at the deadline",
				    accel_ring_cq_ready(r), min_complete);
	return uring_wait(r, &pv->cq_seq, &pv->cq_waiting, &pv->cq_target, want,
			  cq_done, deadline_ns, "completions");
}

static accel_status uring_wait_sq_space(struct accel_ring *r, uint32_t want,
					uint64_t deadline_ns)
{
	struct accel_ring_provider *pv = r->prov;
	uint32_t head = r->sqe_tail + want - r->sq_entries;

	if (sq_done(r, head))
		return NULL;
	doorbell(r);
	return uring_wait(r, &pv->sq_seq, &pv->sq_waiting, &pv->sq_target, head,
			  sq_done, deadline_ns, "room in the SQ");
}

static const struct accel_ring_ops uring_ops = {
	.enter = uring_enter,
	.wait_sq_space = uring_wait_sq_space,
};

/* ------------------------------------------------- consumer side */

uint32_t accel_ring_sq_pending(struct accel_ring *r)
{
	struct accel_ring_provider *pv = r->prov;

	/* acquire: pairs with the submitter's release of the SQ tail */
	return accel_ring_load_acquire(&pv->sq->tail) - pv->sq_head;
}

uint32_t accel_ring_sq_consume(struct accel_ring *r, struct accel_sqe *dst,
			       uint32_t max)
{
	struct accel_ring_provider *pv = r->prov;
	uint32_t n = accel_ring_sq_pending(r), i;

	if (n > r->sq_entries)
		n = 0;	/* a tail moved past the ring: treat as empty */
	if (n > max)
		n = max;
	for (i = 0; i < n; i++)
		dst[i] = r->sqes[(pv->sq_head + i) & r->sq_mask];
	if (!n)
		return 0;
	pv->sq_head += n;
	/* release: our SQE copies are done before the slots are reused */
	accel_ring_store_release(&pv->sq->head, pv->sq_head);
	light_barrier();
	if (__atomic_load_n(&pv->sq_waiting, __ATOMIC_ACQUIRE) &&
	    (int32_t)(pv->sq_head -
		      __atomic_load_n(&pv->sq_target, __ATOMIC_RELAXED)) >= 0)
		wake_if(&pv->sq_waiting, &pv->sq_seq);
	return n;
}

void accel_ring_sq_drop(struct accel_ring *r)
{
	struct accel_ring_provider *pv = r->prov;

	__atomic_store_n(&pv->sq->dropped, ++pv->dropped, __ATOMIC_RELAXED);
}

/* Wake the CQ waiter if the tail reached its target. */
static inline void cq_wake_check(struct accel_ring_provider *pv)
{
	light_barrier();
	if (__atomic_load_n(&pv->cq_waiting, __ATOMIC_ACQUIRE) &&
	    (int32_t)(pv->cq_tail -
		      __atomic_load_n(&pv->cq_target, __ATOMIC_RELAXED)) >= 0)
		wake_if(&pv->cq_waiting, &pv->cq_seq);
}

/* Publish the CQ tail up to the CQEs written so far; wake a waiter. */
static inline void cq_publish(struct accel_ring_provider *pv)
{
	if (pv->cq->tail != pv->cq_tail) {
		/* release: the CQEs are written before the submitter sees them */
		accel_ring_store_release(&pv->cq->tail, pv->cq_tail);
		cq_wake_check(pv);
	}
}

/* Write one CQE into the CQ, not yet published; false when full. */
static bool cq_push(struct accel_ring *r, const struct accel_cqe *cqe)
{
	struct accel_ring_provider *pv = r->prov;

	if (pv->cq_tail - pv->cq_head_cache >= r->cq_entries) {
		/* acquire: the submitter has finished reading freed slots */
		pv->cq_head_cache = accel_ring_load_acquire(&pv->cq->head);
		if (pv->cq_tail - pv->cq_head_cache >= r->cq_entries)
			return false;
	}
	r->cqes[pv->cq_tail & r->cq_mask] = *cqe;
	pv->cq_tail++;
	return true;
}

uint32_t accel_ring_flush_backlog(struct accel_ring *r)
{
	struct accel_ring_provider *pv = r->prov;
	uint32_t moved = 0;

	while (pv->bl_len && cq_push(r, &pv->bl[pv->bl_head])) {
		pv->bl_head = (pv->bl_head + 1) & (pv->bl_cap - 1);
		pv->bl_len--;
		moved++;
	}
	if (moved)
		cq_publish(pv);
	if (moved && !pv->bl_len)
		__atomic_fetch_and(&pv->sq->flags, ~ACCEL_SQ_CQ_OVERFLOW,
				   __ATOMIC_RELEASE);
	return moved;
}

uint32_t accel_ring_backlog(const struct accel_ring *r)
{
	return r->prov ? r->prov->bl_len : 0;
}

static accel_status backlog_grow(struct accel_ring_provider *pv)
{
	uint32_t cap = pv->bl_cap ? pv->bl_cap * 2 : 64, i;
	struct accel_cqe *bl;

	if (!cap)
		return status_oom("CQ backlog");
	bl = malloc((size_t)cap * sizeof(*bl));
	if (!bl)
		return status_oom("CQ backlog");
	for (i = 0; i < pv->bl_len; i++)
		bl[i] = pv->bl[(pv->bl_head + i) & (pv->bl_cap - 1)];
	free(pv->bl);
	pv->bl = bl;
	pv->bl_head = 0;
	pv->bl_cap = cap;
	return NULL;
}

accel_status accel_ring_queue_cqe(struct accel_ring *r,
				  const struct accel_cqe *cqe)
{
	struct accel_ring_provider *pv = r->prov;

	if (pv->bl_len)
		accel_ring_flush_backlog(r);
	if (!pv->bl_len && cq_push(r, cqe))
		return NULL;
	if (pv->bl_len == pv->bl_cap)
		ACCEL_TRY(backlog_grow(pv));
	cq_publish(pv);	/* what fit goes first: order is kept */
	pv->bl[(pv->bl_head + pv->bl_len) & (pv->bl_cap - 1)] = *cqe;
	pv->bl_len++;
	__atomic_store_n(&pv->cq->overflow, ++pv->overflow, __ATOMIC_RELAXED);
	__atomic_fetch_or(&pv->sq->flags, ACCEL_SQ_CQ_OVERFLOW,
			  __ATOMIC_RELEASE);
	return NULL;
}

accel_status accel_ring_post_cqe(struct accel_ring *r,
				 const struct accel_cqe *cqe)
{
	ACCEL_TRY(accel_ring_queue_cqe(r, cqe));
	cq_publish(r->prov);
	return NULL;
}

void accel_ring_notify(struct accel_ring *r)
{
	struct accel_ring_provider *pv = r->prov;

	cq_publish(pv);
	cq_wake_check(pv);
	if (__atomic_load_n(&pv->sq_waiting, __ATOMIC_ACQUIRE) &&
	    (int32_t)(pv->sq_head -
		      __atomic_load_n(&pv->sq_target, __ATOMIC_RELAXED)) >= 0)
		wake_if(&pv->sq_waiting, &pv->sq_seq);
}

static bool consumer_has_work(struct accel_ring *r)
{
	struct accel_ring_provider *pv = r->prov;

	return accel_ring_sq_pending(r) ||
	       __atomic_load_n(&pv->doorbell, __ATOMIC_SEQ_CST) !=
		       pv->doorbell_seen;
}

void accel_ring_consumer_wait(struct accel_ring *r, uint32_t spin_ns,
			      uint64_t deadline_ns)
{
	struct accel_ring_provider *pv = r->prov;
	uint64_t until = spin_ns ? accel_now_ns() + spin_ns : 0;
	uint32_t i, seen;

	accel_ring_notify(r);
	for (i = 1;; i++) {
		if (consumer_has_work(r))
			goto out;
		if (!spin_ns)
			break;
		if (!(i & 63)) {
			if (accel_now_ns() >= until)
				break;
			sched_yield();
		}
		accel_cpu_relax();
	}
	seen = pv->doorbell_seen;
	__atomic_store_n(&pv->consumer_sleeping, 1, __ATOMIC_SEQ_CST);
	heavy_barrier();
	if (!consumer_has_work(r))
		accel_futex_wait(&pv->doorbell, seen, deadline_ns);
	__atomic_store_n(&pv->consumer_sleeping, 0, __ATOMIC_RELAXED);
out:
	pv->doorbell_seen = __atomic_load_n(&pv->doorbell, __ATOMIC_ACQUIRE);
}
