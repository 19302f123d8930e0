/* SPDX-License-Identifier: MIT */
/*
 * hostmem.h - host memory for staging and pinned buffers, and a copy
 * engine between such buffers (internal; not part of the public API).
 *
 * Two providers behind one interface:
 *  - "accelkm": when /dev/accelkm0 opens (ACCEL_KMOD_DEVICE names another
 *    node, ACCEL_NO_KMOD=1 skips it), blocks are buffer objects of the
 *    kernel module (pinned, accounted by it, mmapped here), and copies run
 *    on one of its queues: a COPY SQE, then a FENCE_SIGNAL SQE on the
 *    engine's timeline fence, through the mmapped rings and
 *    ACCEL_IOCTL_QUEUE_ENTER;
 *  - "anonymous": otherwise, page-aligned anonymous mmap memory, and the
 *    same SQEs go through a user-space ring (sched/ring.h) to a worker
 *    thread (sched/worker.h) that copies with memcpy, with a timeline
 *    semaphore (sched/timeline.h) as the fence.
 * Both behave the same: handles are looked up and referenced when a copy is
 * submitted (a block freed afterwards lives until the copy ran), commands
 * run in submission order, a copy's ticket is the fence point signalled
 * after it, and a rejected SQE completes with a negative errno that
 * hostmem_copy_wait() reports with the op's name.
 *
 * Lifetime: hostmem_open() returns one reference, hostmem_close() drops
 * it; every live block holds one more, so blocks may outlive the opener
 * (a tensor handed to the caller after its context is gone). The copy
 * engine (queue or worker thread) starts on the first copy.
 *
 * Threading: every call is thread-safe.
 */
#ifndef ACCEL_CORE_HOSTMEM_H
#define ACCEL_CORE_HOSTMEM_H

#include "core/status.h"
#include "uapi/accel_uapi.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hostmem hostmem;

/* numa_node for "no binding". */
#define HOSTMEM_NO_NODE (-1)
/* hostmem_copy_wait() timeout that never expires. */
#define HOSTMEM_WAIT_FOREVER UINT64_MAX

/*
 * struct hostmem_block - one allocation. Read-only for the caller.
 * @ptr: page-aligned, zeroed when allocated, valid until hostmem_free().
 * @size: bytes asked for (the range copies may touch).
 * @map_size: bytes mapped: @size rounded up to the page size.
 * @handle: names the block in SQEs (the module's BO handle, or an index of
 *	the user-space provider's table); never 0.
 * @numa_node: the node its pages are bound to, or HOSTMEM_NO_NODE (also
 *	when binding was asked for but the system refused it with EPERM or
 *	ENOSYS, as containers often do).
 * @pinned: pinned and accounted by the kernel module.
 */
struct hostmem_block {
	void *ptr;
	size_t size;
	size_t map_size;
	uint32_t handle;
	int numa_node;
	bool pinned;
	/* private */
	hostmem *hm;
	int refs;	/* atomic: the owner plus submitted copies */
	bool freed;	/* hostmem_free() was called */
	int numa_asked;	/* numa_node it was allocated for */
	uint64_t last_ticket;	/* the last copy that used it */
};

/*
 * Open a provider. |flags| must be zero. Never fails for want of the
 * module: without it the anonymous provider is used. Fails for a module
 * that is there but unusable (wrong API major), or for want of memory.
 */
accel_status hostmem_open(uint32_t flags, hostmem **out);
/* Drop the opener's reference (NULL is a no-op). */
void hostmem_close(hostmem *hm);

/* "accelkm (/dev/accelkm0)" or "anonymous mmap (accelkm not loaded: ...)". */
const char *hostmem_provider(const hostmem *hm);
/* Blocks are pinned by the kernel module. */
bool hostmem_is_pinned(const hostmem *hm);
/* The module's open file (for its GET_PARAM statistics), or -1. */
int hostmem_kmod_fd(const hostmem *hm);

/*
 * Allocate |bytes| (not zero) of zeroed memory; |numa_node| >= 0 binds it
 * to that node (mbind, or the module's ACCEL_BO_NUMA), HOSTMEM_NO_NODE
 * leaves placement to the kernel. Free with hostmem_free().
 */
accel_status hostmem_alloc(hostmem *hm, size_t bytes, int numa_node,
			   struct hostmem_block **out);
/*
 * Free |b| (NULL is a no-op). Copies already submitted still read or
 * write it. A block no queued copy uses may be kept for the next
 * allocation of the same page count and node (at most 16 blocks and
 * 64 MiB per provider; they stay pinned and keep their handles), else
 * its handle is gone at once.
 */
void hostmem_free(hostmem *hm, struct hostmem_block *b);
/* Give every kept block back (unpin it). */
void hostmem_trim(hostmem *hm);

/*
 * Queue a copy of |len| bytes (not zero) from |src| at |src_off| to |dst|
 * at |dst_off|. Ranges must lie inside the blocks' sizes and must not
 * overlap when |src| == |dst|. |out_ticket| gets the copy's ticket (> 0).
 * Copies run in submission order.
 */
accel_status hostmem_copy_submit(hostmem *hm, struct hostmem_block *dst,
				 size_t dst_off, struct hostmem_block *src,
				 size_t src_off, size_t len,
				 uint64_t *out_ticket);
/*
 * Wait until the copy |ticket| ran, at most |timeout_ns| (0 polls,
 * HOSTMEM_WAIT_FOREVER never expires): NULL when it succeeded,
 * ACCEL_DEADLINE_EXCEEDED when it is still queued, otherwise why it
 * failed. A ticket's failure is reported once. Any number of threads may
 * wait, on the same ticket or others.
 */
accel_status hostmem_copy_wait(hostmem *hm, uint64_t ticket,
			       uint64_t timeout_ns);

/*
 * A gate in the queue: work submitted after hostmem_gate_close() waits
 * until hostmem_gate_open() with the point it returned (a FENCE_WAIT SQE
 * on the engine's gate fence, signalled from the CPU). For ordering
 * staging copies behind work elsewhere, and for tests.
 */
accel_status hostmem_gate_close(hostmem *hm, uint64_t *out_gate);
accel_status hostmem_gate_open(hostmem *hm, uint64_t gate);

/*
 * Submit one SQE as it is (user_data is overwritten), then the fence
 * signal of a new ticket, returned in |out_ticket|. The ticket's wait
 * reports the SQE's CQE result. For ops the wrappers above lack (FILL,
 * NOP) and for tests of the error path; handles are not checked here.
 */
accel_status hostmem_submit_sqe(hostmem *hm, const struct accel_sqe *sqe,
				uint64_t *out_ticket);

#endif /* ACCEL_CORE_HOSTMEM_H */
