/* SPDX-License-Identifier: GPL-2.0 */
/*
 * accelkm.h - internal objects of the accelkm module: the device, the
 * per-open-file context, buffer objects, timeline fences and queues.
 * One .c file per concern; this header is the only thing they share.
 */
#ifndef ACCELKM_H
#define ACCELKM_H

#include <linux/types.h>
#include <linux/kref.h>
#include <linux/xarray.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/miscdevice.h>
#include <linux/atomic.h>
#include <linux/fs.h>

#include "accel_uapi.h"
#include "compat.h"

#define ACCELKM_MAX_BO_HANDLE	((1U << 30) - 1)
#define ACCELKM_MAX_QUEUE_ID	((1U << 20) - 1)
#define ACCELKM_MAX_FENCE	((1U << 30) - 1)

/* mmap offsets: BO handle << 32, or queue areas above bit 62. */
#define ACCELKM_MMAP_QUEUE	(1ULL << 62)
#define ACCELKM_MMAP_BO_SHIFT	32
#define ACCELKM_MMAP_Q_SHIFT	32
#define ACCELKM_MMAP_AREA_SHIFT	24
enum { ACCELKM_AREA_SQ, ACCELKM_AREA_CQ, ACCELKM_AREA_SQES, ACCELKM_AREAS };

enum accelkm_engine {
	ACCELKM_ENGINE_COPY,	/* COPY, FILL */
	ACCELKM_ENGINE_CTRL,	/* NOP, TIMESTAMP, fences */
	ACCELKM_ENGINES,
};

/* Module parameters (main.c). */
extern unsigned long accelkm_max_pinned_per_process;
extern unsigned long accelkm_max_pinned_total;
extern unsigned long accelkm_max_bo_size;
extern unsigned int accelkm_max_queue_entries;

/**
 * struct accelkm_dev - the one device and its sysfs counters.
 */
struct accelkm_dev {
	struct miscdevice misc;
	struct workqueue_struct *wq;
	struct kmem_cache *cmd_cache;
	atomic64_t pinned_bytes;
	atomic_t bos;
	atomic_t fences;
	atomic_t queues;
	atomic_t clients;
	atomic_t next_client_id;
	atomic64_t submitted;
	atomic64_t completed;
	atomic64_t failed;
	atomic64_t busy_ns[ACCELKM_ENGINES];
};
extern struct accelkm_dev accelkm;

/**
 * struct accelkm_file - one open file: its handle namespaces and counters.
 */
struct accelkm_file {
	u32 client_id;
	struct xarray bos;
	u32 next_bo;
	struct xarray fences;
	u32 next_fence;
	struct xarray queues;
	u32 next_queue;
	wait_queue_head_t poll_wait;	/* woken on every CQE */
	atomic64_t bo_bytes;		/* pinned bytes behind its handles */
	atomic64_t submitted;
	atomic64_t completed;
	atomic64_t failed;
	atomic64_t busy_ns[ACCELKM_ENGINES];
};

/**
 * struct accelkm_charge - pinned bytes charged to one mm, uncharged
 * against the same mm however late the release comes.
 */
struct accelkm_charge {
	struct mm_struct *mm;
	u64 bytes;
};

enum accelkm_bo_kind { ACCELKM_BO_ALLOC, ACCELKM_BO_USERPTR };

/**
 * struct accelkm_bo - a buffer object: pinned pages and their charge.
 * Shared by handles in several files and by exported dma-bufs.
 */
struct accelkm_bo {
	struct kref ref;
	enum accelkm_bo_kind kind;
	u32 flags;			/* create flags + ACCEL_BO_INFO_* */
	bool writable;
	u64 size;
	unsigned long npages;
	struct page **pages;
	struct accelkm_charge charge;
};

/**
 * struct accelkm_fence - a timeline: a u64 that only grows.
 */
struct accelkm_fence {
	struct kref ref;
	spinlock_t lock;		/* serialises signalers */
	u64 value;
	wait_queue_head_t wq;
};

/**
 * struct accelkm_cmd - one consumed SQE, then its CQE (kept in the backlog
 * when the CQ is full, so an overflow never loses a completion).
 */
struct accelkm_cmd {
	struct list_head link;
	struct accel_sqe sqe;
	struct accel_cqe cqe;
	struct accelkm_bo *src;
	struct accelkm_bo *dst;
	struct accelkm_fence *fence;
};

/* Kernel-side layout of the ring mappings; user space uses the offsets. */
struct accelkm_sq_ring {
	u32 head ____cacheline_aligned_in_smp;
	u32 tail ____cacheline_aligned_in_smp;
	u32 ring_mask ____cacheline_aligned_in_smp;
	u32 ring_entries;
	u32 flags;
	u32 dropped;
};

struct accelkm_cq_ring {
	u32 head ____cacheline_aligned_in_smp;
	u32 tail ____cacheline_aligned_in_smp;
	u32 ring_mask ____cacheline_aligned_in_smp;
	u32 ring_entries;
	u32 overflow;
	struct accel_cqe cqes[] ____cacheline_aligned_in_smp;
};

/**
 * struct accelkm_queue - a submission queue executed by a kernel worker.
 */
struct accelkm_queue {
	struct kref ref;
	struct accelkm_file *file;
	u32 id;
	u32 sq_entries;
	u32 cq_entries;
	struct accelkm_sq_ring *sq;
	struct accelkm_cq_ring *cq;
	struct accel_sqe *sqes;
	size_t sq_size, cq_size, sqes_size;
	struct mutex submit_lock;	/* one consumer of the SQ at a time */
	u32 sq_head;			/* private copies: never trust user */
	u32 dropped;
	spinlock_t lock;		/* pending, backlog, cq_tail, dying */
	struct list_head pending;
	struct list_head backlog;
	u32 outstanding;		/* pending + backlog */
	u32 cq_tail;
	u32 overflow;
	bool dying;
	bool running;			/* a context is executing */
	struct accelkm_fence *waiting;	/* fence the worker sleeps on */
	struct wait_queue_entry fence_wait;
	wait_queue_head_t cq_wait;
	struct work_struct work;
	struct eventfd_ctx *eventfd;
};

/* pin.c */
int accelkm_charge(struct accelkm_charge *c, u64 bytes);
void accelkm_uncharge(struct accelkm_charge *c);
int accelkm_ioctl_bo_userptr(struct accelkm_file *f, struct accel_bo_userptr *a);
void accelkm_unpin(struct accelkm_bo *bo);

/* bo.c */
struct accelkm_bo *accelkm_bo_new(enum accelkm_bo_kind kind, u32 flags,
				  bool writable, u64 size, int *err);
void accelkm_bo_discard(struct accelkm_bo *bo);
struct accelkm_bo *accelkm_bo_lookup(struct accelkm_file *f, u32 handle);
void accelkm_bo_put(struct accelkm_bo *bo);
int accelkm_bo_add_handle(struct accelkm_file *f, struct accelkm_bo *bo,
			  u32 *out_handle);
int accelkm_bo_map_pages(struct accelkm_bo *bo, struct vm_area_struct *vma);
int accelkm_bo_mmap(struct accelkm_file *f, struct vm_area_struct *vma);
void accelkm_bo_release_all(struct accelkm_file *f);
int accelkm_ioctl_bo_create(struct accelkm_file *f, struct accel_bo_create *a);
int accelkm_ioctl_bo_info(struct accelkm_file *f, struct accel_bo_info *a);
int accelkm_ioctl_bo_free(struct accelkm_file *f, struct accel_handle_arg *a);

/* dmabuf.c */
int accelkm_ioctl_bo_export(struct accelkm_file *f, struct accel_fd_arg *a);
int accelkm_ioctl_bo_import(struct accelkm_file *f, struct accel_fd_arg *a);

/* fence.c */
struct accelkm_fence *accelkm_fence_lookup(struct accelkm_file *f, u32 h);
void accelkm_fence_put(struct accelkm_fence *fence);
bool accelkm_fence_reached(struct accelkm_fence *fence, u64 point);
int accelkm_fence_signal(struct accelkm_fence *fence, u64 point);
void accelkm_fence_release_all(struct accelkm_file *f);
int accelkm_ioctl_fence_create(struct accelkm_file *f,
			       struct accel_fence_create *a);
int accelkm_ioctl_fence_destroy(struct accelkm_file *f,
				struct accel_handle_arg *a);
int accelkm_ioctl_fence_signal(struct accelkm_file *f, struct accel_fence_op *a);
int accelkm_ioctl_fence_query(struct accelkm_file *f, struct accel_fence_op *a);
int accelkm_ioctl_fence_wait(struct accelkm_file *f, struct accel_fence_op *a);
int accelkm_ioctl_fence_export(struct accelkm_file *f, struct accel_fd_arg *a);
int accelkm_ioctl_fence_import(struct accelkm_file *f, struct accel_fd_arg *a);

/* queue.c */
int accelkm_ioctl_queue_create(struct accelkm_file *f,
			       struct accel_queue_create *a);
int accelkm_ioctl_queue_destroy(struct accelkm_file *f,
				struct accel_handle_arg *a);
int accelkm_ioctl_queue_enter(struct accelkm_file *f,
			      struct accel_queue_enter *a);
int accelkm_queue_mmap(struct accelkm_file *f, struct vm_area_struct *vma);
__poll_t accelkm_queue_poll(struct accelkm_file *f);
void accelkm_queue_release_all(struct accelkm_file *f);
void accelkm_queue_flush_backlog(struct accelkm_queue *q);
u32 accelkm_queue_cq_ready(struct accelkm_queue *q);
void accelkm_queue_post_locked(struct accelkm_queue *q,
			       struct accelkm_cmd *cmd);
void accelkm_queue_notify(struct accelkm_queue *q);

/* exec.c */
int accelkm_cmd_prepare(struct accelkm_file *f, struct accelkm_cmd *cmd);
void accelkm_cmd_free(struct accelkm_cmd *cmd);
void accelkm_queue_work(struct work_struct *work);
void accelkm_queue_run(struct accelkm_queue *q, u32 budget);
int accelkm_fence_wake(struct wait_queue_entry *wq, unsigned int mode,
		       int sync, void *key);

/* stats.c */
extern const struct attribute_group *accelkm_groups[];
void accelkm_show_fdinfo(struct seq_file *m, struct file *file);

#endif /* ACCELKM_H */
