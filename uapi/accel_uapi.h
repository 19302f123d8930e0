/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * accel_uapi.h - the ABI between the accelkm kernel module and user space.
 *
 * One header for both ring providers (see DESIGN.md, "One ring ABI, two
 * providers"): the kernel module serves rings whose consumer is the kernel,
 * libaccel serves the same layout for its user-space device workers.
 *
 * Conventions for every ioctl struct:
 *  - fixed-width types only, user pointers as __u64, sizes padded to 8 bytes;
 *  - fields named pad/reserved must be zero on input (else -EINVAL);
 *  - unknown flag bits are rejected with -EINVAL;
 *  - timeouts are absolute CLOCK_MONOTONIC nanoseconds.
 *
 * The device node is /dev/accelkm0 (a misc device, so it never collides
 * with the DRM accel subsystem's /dev/accel/accelN, major 261).
 */
#ifndef ACCEL_UAPI_H
#define ACCEL_UAPI_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/ioctl.h>
#else
#include <linux/types.h>
#include <sys/ioctl.h>
#endif

#define ACCEL_KM_NAME		"accelkm"
#define ACCEL_KM_DEVICE		"/dev/accelkm0"

/* Bumped on incompatible changes; minor on additions. */
#define ACCEL_API_VERSION_MAJOR	1
#define ACCEL_API_VERSION_MINOR	0

/* ---------------------------------------------------------------- info */

/**
 * enum accel_param - parameter ids for %ACCEL_IOCTL_GET_PARAM.
 * Unknown ids fail with -EINVAL, so user space can probe for support.
 */
enum accel_param {
	ACCEL_PARAM_API_VERSION = 1,	/* (major << 16) | minor */
	ACCEL_PARAM_FEATURES = 2,	/* ACCEL_FEATURE_* bits */
	ACCEL_PARAM_OPCODES = 3,	/* bit (1 << op) set per ACCEL_OP_* */
	ACCEL_PARAM_MAX_QUEUE_ENTRIES = 4,
	ACCEL_PARAM_MAX_BO_SIZE = 5,	/* bytes */
	ACCEL_PARAM_PAGE_SIZE = 6,
	ACCEL_PARAM_CLIENT_ID = 7,	/* id of this open file (fdinfo) */
	ACCEL_PARAM_PINNED_BYTES = 8,	/* pinned by this open file */
	ACCEL_PARAM_MAX_PINNED_PER_PROCESS = 9,	/* bytes, 0 = no cap */
	ACCEL_PARAM_MAX_PINNED_TOTAL = 10,	/* bytes, 0 = no cap */
};

#define ACCEL_FEATURE_USERPTR		(1ULL << 0)
#define ACCEL_FEATURE_DMABUF_EXPORT	(1ULL << 1)
#define ACCEL_FEATURE_DMABUF_IMPORT	(1ULL << 2)
#define ACCEL_FEATURE_HUGEPAGE		(1ULL << 3)
#define ACCEL_FEATURE_NUMA		(1ULL << 4)
#define ACCEL_FEATURE_QUEUES		(1ULL << 5)
#define ACCEL_FEATURE_EVENTFD		(1ULL << 6)
#define ACCEL_FEATURE_TIMELINE_FENCE	(1ULL << 7)
#define ACCEL_FEATURE_FENCE_FD		(1ULL << 8)
#define ACCEL_FEATURE_CQ_BACKLOG	(1ULL << 9)

/**
 * struct accel_get_param - query one parameter.
 * @param: an enum accel_param id.
 * @pad: must be zero.
 * @value: out, the value.
 */
struct accel_get_param {
	__u32 param;
	__u32 pad;
	__u64 value;
};

/* ------------------------------------------------------- buffer objects */

#define ACCEL_BO_HUGEPAGE	(1U << 0)	/* 2 MiB contiguous chunks */
#define ACCEL_BO_NUMA		(1U << 1)	/* allocate on @numa_node */
#define ACCEL_BO_CREATE_FLAGS	(ACCEL_BO_HUGEPAGE | ACCEL_BO_NUMA)

/**
 * struct accel_bo_create - allocate pinned, zeroed host memory.
 * @size: bytes; a multiple of the page size (2 MiB with ACCEL_BO_HUGEPAGE),
 *	not zero, at most ACCEL_PARAM_MAX_BO_SIZE.
 * @flags: ACCEL_BO_* create flags.
 * @numa_node: node id with ACCEL_BO_NUMA, else must be zero.
 * @handle: out, the handle in this file's namespace (never 0).
 * @pad: must be zero.
 * @mmap_offset: out, pass to mmap() on the device fd.
 */
struct accel_bo_create {
	__u64 size;
	__u32 flags;
	__s32 numa_node;
	__u32 handle;
	__u32 pad;
	__u64 mmap_offset;
};

#define ACCEL_USERPTR_READONLY	(1U << 0)	/* device only reads it */
#define ACCEL_USERPTR_FLAGS	(ACCEL_USERPTR_READONLY)

/**
 * struct accel_bo_userptr - long-term pin of existing user memory.
 * @addr: page-aligned user address.
 * @size: page-aligned length, not zero.
 * @flags: ACCEL_USERPTR_* flags.
 * @handle: out.
 *
 * Userptr BOs cannot be mmap()ed through the device (use @addr).
 */
struct accel_bo_userptr {
	__u64 addr;
	__u64 size;
	__u32 flags;
	__u32 handle;
};

#define ACCEL_BO_INFO_USERPTR	(1U << 16)	/* out flag: pinned user memory */

/**
 * struct accel_bo_info - query a BO.
 * @handle: in.
 * @flags: out, create flags plus ACCEL_BO_INFO_* bits.
 * @size: out.
 * @mmap_offset: out, 0 for BOs that cannot be mapped.
 */
struct accel_bo_info {
	__u32 handle;
	__u32 flags;
	__u64 size;
	__u64 mmap_offset;
};

/**
 * struct accel_handle_arg - a handle alone (BO free, fence destroy,
 * queue destroy).
 * @handle: in.
 * @pad: must be zero.
 */
struct accel_handle_arg {
	__u32 handle;
	__u32 pad;
};

/**
 * struct accel_fd_arg - export a handle as an fd, or import an fd.
 * @handle: export: in; import: out.
 * @flags: export: O_CLOEXEC and O_RDWR (dma-buf) only; import: must be zero.
 * @fd: export: out; import: in.
 * @pad: must be zero.
 * @size: out, the BO size (dma-buf) or 0 (fence).
 */
struct accel_fd_arg {
	__u32 handle;
	__u32 flags;
	__s32 fd;
	__u32 pad;
	__u64 size;
};

/* -------------------------------------------------------------- fences */

/**
 * struct accel_fence_create - a timeline fence: a u64 that only grows.
 * @value: initial value.
 * @flags: must be zero.
 * @handle: out.
 */
struct accel_fence_create {
	__u64 value;
	__u32 flags;
	__u32 handle;
};

/**
 * struct accel_fence_op - signal, query or wait on a timeline point.
 * @handle: in.
 * @flags: must be zero.
 * @point: signal: the new value (must be greater than the current one);
 *	wait: the value to reach; query: out, the current value.
 * @timeout_ns: wait only: absolute CLOCK_MONOTONIC deadline, 0 = poll once,
 *	~0 = forever. Must be zero for signal and query.
 */
struct accel_fence_op {
	__u32 handle;
	__u32 flags;
	__u64 point;
	__u64 timeout_ns;
};

/* ----------------------------------------------------- queues and rings */

/**
 * struct accel_sqe - a submission queue entry (64 bytes).
 * @opcode: ACCEL_OP_*.
 * @flags: ACCEL_SQE_* (none defined yet: must be zero).
 * @pad0: must be zero.
 * @user_data: echoed in the CQE.
 * @src_handle: COPY source BO.
 * @dst_handle: COPY/FILL/TIMESTAMP destination BO.
 * @src_offset: byte offset in the source.
 * @dst_offset: byte offset in the destination.
 * @len: COPY/FILL length in bytes (TIMESTAMP writes 8 bytes, len must be 0).
 * @value: FILL byte (0..255); FENCE_*: the timeline point.
 * @fence_handle: FENCE_SIGNAL/FENCE_WAIT fence.
 * @reserved: must be zero.
 *
 * Ranges are checked against the BO at submission: a bad SQE is consumed,
 * counted in the SQ's dropped counter and completed with a negative result;
 * it never touches memory.
 */
struct accel_sqe {
	__u8 opcode;
	__u8 flags;
	__u16 pad0;
	__u32 pad1;
	__u64 user_data;
	__u32 src_handle;
	__u32 dst_handle;
	__u64 src_offset;
	__u64 dst_offset;
	__u64 len;
	__u64 value;
	__u32 fence_handle;
	__u32 reserved;
};

enum accel_opcode {
	ACCEL_OP_NOP = 0,
	ACCEL_OP_COPY = 1,
	ACCEL_OP_FILL = 2,
	ACCEL_OP_TIMESTAMP = 3,
	ACCEL_OP_FENCE_SIGNAL = 4,
	ACCEL_OP_FENCE_WAIT = 5,
	ACCEL_OP_LAST,
};

/**
 * struct accel_cqe - a completion queue entry (32 bytes).
 * @user_data: from the SQE.
 * @res: 0 or a negative errno.
 * @flags: ACCEL_CQE_* flags.
 * @start_ns: CLOCK_MONOTONIC when execution began (0 if never executed).
 * @end_ns: CLOCK_MONOTONIC at completion.
 */
struct accel_cqe {
	__u64 user_data;
	__s32 res;
	__u32 flags;
	__u64 start_ns;
	__u64 end_ns;
};

#define ACCEL_CQE_F_DROPPED	(1U << 0)	/* rejected at submission */
#define ACCEL_CQE_F_CANCELED	(1U << 1)	/* queue torn down first */

/* Bits of the SQ ring's flags word (kernel-written). */
#define ACCEL_SQ_CQ_OVERFLOW	(1U << 0)	/* CQEs wait in the backlog */

/**
 * struct accel_sq_offsets - byte offsets inside the SQ ring mapping.
 * Indices are free-running u32; slot = index & ring_mask. SQEs live in
 * their own mapping, slot i at i * sizeof(struct accel_sqe).
 */
struct accel_sq_offsets {
	__u32 head;		/* kernel-written: next SQE it will consume */
	__u32 tail;		/* user-written: one past the last SQE */
	__u32 ring_mask;
	__u32 ring_entries;
	__u32 flags;		/* ACCEL_SQ_* */
	__u32 dropped;		/* SQEs rejected at submission */
	__u32 resv[2];
};

/**
 * struct accel_cq_offsets - byte offsets inside the CQ ring mapping.
 */
struct accel_cq_offsets {
	__u32 head;		/* user-written */
	__u32 tail;		/* kernel-written */
	__u32 ring_mask;
	__u32 ring_entries;
	__u32 overflow;		/* CQEs that went through the backlog */
	__u32 cqes;		/* the array of struct accel_cqe */
	__u32 resv[2];
};

#define ACCEL_QUEUE_EVENTFD	(1U << 0)	/* signal @eventfd per CQE */
#define ACCEL_QUEUE_CLAMP	(1U << 1)	/* clamp entries to the max */
#define ACCEL_QUEUE_FLAGS	(ACCEL_QUEUE_EVENTFD | ACCEL_QUEUE_CLAMP)

/**
 * struct accel_queue_create - set up a queue and its rings.
 * @entries: SQ entries, a power of two (CQ gets twice as many); larger
 *	than the maximum is -EINVAL unless ACCEL_QUEUE_CLAMP.
 * @flags: ACCEL_QUEUE_*.
 * @eventfd: with ACCEL_QUEUE_EVENTFD, an eventfd; else must be zero.
 * @queue_id: out.
 * @sq_entries: out.
 * @cq_entries: out.
 * @pad: must be zero.
 * @sq_off: out.
 * @cq_off: out.
 * @sq_mmap_offset: out, mmap() offset of the SQ ring.
 * @cq_mmap_offset: out, mmap() offset of the CQ ring (with its CQEs).
 * @sqes_mmap_offset: out, mmap() offset of the SQE array.
 * @sq_ring_size: out, bytes to map at @sq_mmap_offset.
 * @cq_ring_size: out.
 * @sqes_size: out.
 * @reserved: must be zero.
 */
struct accel_queue_create {
	__u32 entries;
	__u32 flags;
	__s32 eventfd;
	__u32 queue_id;
	__u32 sq_entries;
	__u32 cq_entries;
	__u32 pad[2];
	struct accel_sq_offsets sq_off;
	struct accel_cq_offsets cq_off;
	__u64 sq_mmap_offset;
	__u64 cq_mmap_offset;
	__u64 sqes_mmap_offset;
	__u64 sq_ring_size;
	__u64 cq_ring_size;
	__u64 sqes_size;
	__u64 reserved[4];
};

#define ACCEL_ENTER_GETEVENTS	(1U << 0)	/* wait for @min_complete */
#define ACCEL_ENTER_FLAGS	(ACCEL_ENTER_GETEVENTS)

/**
 * struct accel_queue_enter - submit and optionally wait.
 * @queue_id: in.
 * @to_submit: consume up to this many SQEs (fewer if the SQ holds fewer).
 * @min_complete: with ACCEL_ENTER_GETEVENTS, wait until the CQ holds at
 *	least this many CQEs (at most the CQ size).
 * @flags: ACCEL_ENTER_*.
 * @timeout_ns: absolute CLOCK_MONOTONIC deadline for the wait, 0 = none.
 * @submitted: out, SQEs consumed.
 * @pad: must be zero.
 *
 * Returns 0, or -ETIME / -EINTR when the wait ended early (@submitted is
 * still written), -EBUSY when too much work is outstanding.
 */
struct accel_queue_enter {
	__u32 queue_id;
	__u32 to_submit;
	__u32 min_complete;
	__u32 flags;
	__u64 timeout_ns;
	__u32 submitted;
	__u32 pad;
};

/* ----------------------------------------------------------- ioctls */

#define ACCEL_IOC_MAGIC	0xE7

#define ACCEL_IOCTL_GET_PARAM	  _IOWR(ACCEL_IOC_MAGIC, 0x00, struct accel_get_param)
#define ACCEL_IOCTL_BO_CREATE	  _IOWR(ACCEL_IOC_MAGIC, 0x10, struct accel_bo_create)
#define ACCEL_IOCTL_BO_USERPTR	  _IOWR(ACCEL_IOC_MAGIC, 0x11, struct accel_bo_userptr)
#define ACCEL_IOCTL_BO_INFO	  _IOWR(ACCEL_IOC_MAGIC, 0x12, struct accel_bo_info)
#define ACCEL_IOCTL_BO_FREE	  _IOW(ACCEL_IOC_MAGIC, 0x13, struct accel_handle_arg)
#define ACCEL_IOCTL_BO_EXPORT	  _IOWR(ACCEL_IOC_MAGIC, 0x14, struct accel_fd_arg)
#define ACCEL_IOCTL_BO_IMPORT	  _IOWR(ACCEL_IOC_MAGIC, 0x15, struct accel_fd_arg)
#define ACCEL_IOCTL_FENCE_CREATE  _IOWR(ACCEL_IOC_MAGIC, 0x20, struct accel_fence_create)
#define ACCEL_IOCTL_FENCE_DESTROY _IOW(ACCEL_IOC_MAGIC, 0x21, struct accel_handle_arg)
#define ACCEL_IOCTL_FENCE_SIGNAL  _IOW(ACCEL_IOC_MAGIC, 0x22, struct accel_fence_op)
#define ACCEL_IOCTL_FENCE_QUERY	  _IOWR(ACCEL_IOC_MAGIC, 0x23, struct accel_fence_op)
#define ACCEL_IOCTL_FENCE_WAIT	  _IOW(ACCEL_IOC_MAGIC, 0x24, struct accel_fence_op)
#define ACCEL_IOCTL_FENCE_EXPORT  _IOWR(ACCEL_IOC_MAGIC, 0x25, struct accel_fd_arg)
#define ACCEL_IOCTL_FENCE_IMPORT  _IOWR(ACCEL_IOC_MAGIC, 0x26, struct accel_fd_arg)
#define ACCEL_IOCTL_QUEUE_CREATE  _IOWR(ACCEL_IOC_MAGIC, 0x30, struct accel_queue_create)
#define ACCEL_IOCTL_QUEUE_DESTROY _IOW(ACCEL_IOC_MAGIC, 0x31, struct accel_handle_arg)
#define ACCEL_IOCTL_QUEUE_ENTER	  _IOWR(ACCEL_IOC_MAGIC, 0x32, struct accel_queue_enter)

#endif /* ACCEL_UAPI_H */
