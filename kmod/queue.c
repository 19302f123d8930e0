// SPDX-License-Identifier: GPL-2.0
/*
 * queue.c - submission queues: ring setup and mmap, the enter ioctl
 * (consume SQEs, optionally wait for CQEs), CQE posting with an overflow
 * backlog, poll() and eventfd, and teardown.
 *
 * Indices are free-running u32s masked by entries - 1. User space writes
 * SQEs then store-releases the SQ tail; the kernel load-acquires it, copies
 * each SQE once and store-releases the SQ head. The CQ is the mirror image.
 */
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/mm.h>
#include <linux/eventfd.h>
#include <linux/hrtimer.h>
#include <linux/sched/signal.h>
#include <linux/poll.h>
#include <linux/log2.h>

#include "accelkm.h"

static void free_cmd_list(struct list_head *list)
{
	struct accelkm_cmd *cmd, *tmp;

	list_for_each_entry_safe(cmd, tmp, list, link) {
		list_del(&cmd->link);
		accelkm_cmd_free(cmd);
	}
}

/* Last reference: an inline run in enter may have posted after teardown. */
static void queue_free(struct kref *ref)
{
	struct accelkm_queue *q = container_of(ref, struct accelkm_queue, ref);

	free_cmd_list(&q->pending);
	free_cmd_list(&q->backlog);
	if (q->eventfd)
		eventfd_ctx_put(q->eventfd);
	vfree(q->sq);
	vfree(q->cq);
	vfree(q->sqes);
	kfree(q);
}

static void queue_put(struct accelkm_queue *q)
{
	kref_put(&q->ref, queue_free);
}

static struct accelkm_queue *queue_lookup(struct accelkm_file *f, u32 id)
{
	struct accelkm_queue *q;

	xa_lock(&f->queues);
	q = xa_load(&f->queues, id);
	if (q)
		kref_get(&q->ref);
	xa_unlock(&f->queues);
	return q;
}

/* CQEs ready for user space; a corrupted head reads as a full CQ. */
u32 accelkm_queue_cq_ready(struct accelkm_queue *q)
{
	/* acquire: pairs with user space's release of the CQ head */
	u32 used = READ_ONCE(q->cq_tail) - smp_load_acquire(&q->cq->head);

	return min(used, q->cq_entries);
}

static bool cq_push(struct accelkm_queue *q, struct accelkm_cmd *cmd)
{
	/* acquire: user space has finished reading the slots it released */
	u32 used = q->cq_tail - smp_load_acquire(&q->cq->head);

	if (used >= q->cq_entries)
		return false;
	q->cq->cqes[q->cq_tail & (q->cq_entries - 1)] = cmd->cqe;
	q->cq_tail++;
	/* release: the CQE is written before user space sees the tail */
	smp_store_release(&q->cq->tail, q->cq_tail);
	return true;
}

/* Called with q->lock held; returns true if any CQE moved. */
static bool backlog_flush_locked(struct accelkm_queue *q)
{
	struct accelkm_cmd *cmd, *tmp;
	bool moved = false;

	list_for_each_entry_safe(cmd, tmp, &q->backlog, link) {
		if (!cq_push(q, cmd))
			break;
		list_del(&cmd->link);
		q->outstanding--;
		kmem_cache_free(accelkm.cmd_cache, cmd);
		moved = true;
	}
	if (list_empty(&q->backlog))
		WRITE_ONCE(q->sq->flags, q->sq->flags & ~ACCEL_SQ_CQ_OVERFLOW);
	return moved;
}

void accelkm_queue_flush_backlog(struct accelkm_queue *q)
{
	if (list_empty_careful(&q->backlog))
		return;
	spin_lock(&q->lock);
	if (!list_empty(&q->backlog))
		backlog_flush_locked(q);
	spin_unlock(&q->lock);
}

/* Wakes CQ waiters, pollers and the eventfd once per batch of CQEs. */
void accelkm_queue_notify(struct accelkm_queue *q)
{
	if (wq_has_sleeper(&q->cq_wait))
		wake_up_all(&q->cq_wait);
	if (wq_has_sleeper(&q->file->poll_wait))
		wake_up_all(&q->file->poll_wait);
	if (q->eventfd)
		accelkm_eventfd_signal(q->eventfd);
}

/**
 * accelkm_queue_post_locked() - complete a command, with q->lock held.
 * @q: its queue.
 * @cmd: the command; its CQE goes to the CQ, or to the backlog (counted in
 *	the CQ's overflow word) while the CQ is full. A command whose CQE
 *	reached the CQ is freed.
 *
 * The caller notifies (accelkm_queue_notify()) once it has posted a batch.
 */
void accelkm_queue_post_locked(struct accelkm_queue *q, struct accelkm_cmd *cmd)
{
	lockdep_assert_held(&q->lock);
	if (!list_empty(&q->backlog))
		backlog_flush_locked(q);
	if (list_empty(&q->backlog) && cq_push(q, cmd)) {
		q->outstanding--;
		kmem_cache_free(accelkm.cmd_cache, cmd);
		return;
	}
	list_add_tail(&cmd->link, &q->backlog);
	WRITE_ONCE(q->cq->overflow, ++q->overflow);
	WRITE_ONCE(q->sq->flags, q->sq->flags | ACCEL_SQ_CQ_OVERFLOW);
}

static int queue_alloc_rings(struct accelkm_queue *q)
{
	q->sq_size = PAGE_ALIGN(sizeof(*q->sq));
	q->cq_size = PAGE_ALIGN(struct_size(q->cq, cqes, q->cq_entries));
	q->sqes_size = PAGE_ALIGN(sizeof(struct accel_sqe) * q->sq_entries);
	q->sq = vmalloc_user(q->sq_size);
	q->cq = vmalloc_user(q->cq_size);
	q->sqes = vmalloc_user(q->sqes_size);
	if (!q->sq || !q->cq || !q->sqes)
		return -ENOMEM;
	q->sq->ring_mask = q->sq_entries - 1;
	q->sq->ring_entries = q->sq_entries;
	q->cq->ring_mask = q->cq_entries - 1;
	q->cq->ring_entries = q->cq_entries;
	return 0;
}

static void queue_fill_params(struct accelkm_queue *q,
			      struct accel_queue_create *a)
{
	u64 base = ACCELKM_MMAP_QUEUE | ((u64)q->id << ACCELKM_MMAP_Q_SHIFT);

	a->queue_id = q->id;
	a->sq_entries = q->sq_entries;
	a->cq_entries = q->cq_entries;
	a->sq_off.head = offsetof(struct accelkm_sq_ring, head);
	a->sq_off.tail = offsetof(struct accelkm_sq_ring, tail);
	a->sq_off.ring_mask = offsetof(struct accelkm_sq_ring, ring_mask);
	a->sq_off.ring_entries = offsetof(struct accelkm_sq_ring, ring_entries);
	a->sq_off.flags = offsetof(struct accelkm_sq_ring, flags);
	a->sq_off.dropped = offsetof(struct accelkm_sq_ring, dropped);
	a->cq_off.head = offsetof(struct accelkm_cq_ring, head);
	a->cq_off.tail = offsetof(struct accelkm_cq_ring, tail);
	a->cq_off.ring_mask = offsetof(struct accelkm_cq_ring, ring_mask);
	a->cq_off.ring_entries = offsetof(struct accelkm_cq_ring, ring_entries);
	a->cq_off.overflow = offsetof(struct accelkm_cq_ring, overflow);
	a->cq_off.cqes = offsetof(struct accelkm_cq_ring, cqes);
	a->sq_mmap_offset = base | ((u64)ACCELKM_AREA_SQ << ACCELKM_MMAP_AREA_SHIFT);
	a->cq_mmap_offset = base | ((u64)ACCELKM_AREA_CQ << ACCELKM_MMAP_AREA_SHIFT);
	a->sqes_mmap_offset = base |
		((u64)ACCELKM_AREA_SQES << ACCELKM_MMAP_AREA_SHIFT);
	a->sq_ring_size = q->sq_size;
	a->cq_ring_size = q->cq_size;
	a->sqes_size = q->sqes_size;
}

static int queue_create_check(struct accel_queue_create *a)
{
	int i;

	if (a->flags & ~ACCEL_QUEUE_FLAGS || a->queue_id || a->sq_entries ||
	    a->cq_entries || a->pad[0] || a->pad[1])
		return -EINVAL;
	if (!(a->flags & ACCEL_QUEUE_EVENTFD) && a->eventfd)
		return -EINVAL;
	if (memchr_inv(&a->sq_off, 0, sizeof(a->sq_off)) ||
	    memchr_inv(&a->cq_off, 0, sizeof(a->cq_off)) ||
	    a->sq_mmap_offset || a->cq_mmap_offset || a->sqes_mmap_offset ||
	    a->sq_ring_size || a->cq_ring_size || a->sqes_size)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(a->reserved); i++)
		if (a->reserved[i])
			return -EINVAL;
	if (!a->entries || !is_power_of_2(a->entries))
		return -EINVAL;
	if (a->entries > accelkm_max_queue_entries) {
		if (!(a->flags & ACCEL_QUEUE_CLAMP))
			return -EINVAL;
		a->entries = accelkm_max_queue_entries;
	}
	return 0;
}

int accelkm_ioctl_queue_create(struct accelkm_file *f,
			       struct accel_queue_create *a)
{
	struct accelkm_queue *q;
	int ret;

	ret = queue_create_check(a);
	if (ret)
		return ret;
	q = kzalloc(sizeof(*q), GFP_KERNEL);
	if (!q)
		return -ENOMEM;
	kref_init(&q->ref);
	q->file = f;
	q->sq_entries = a->entries;
	q->cq_entries = a->entries * 2;
	mutex_init(&q->submit_lock);
	spin_lock_init(&q->lock);
	INIT_LIST_HEAD(&q->pending);
	INIT_LIST_HEAD(&q->backlog);
	init_waitqueue_head(&q->cq_wait);
	init_waitqueue_func_entry(&q->fence_wait, accelkm_fence_wake);
	INIT_WORK(&q->work, accelkm_queue_work);
	ret = queue_alloc_rings(q);
	if (ret)
		goto err;
	if (a->flags & ACCEL_QUEUE_EVENTFD) {
		q->eventfd = eventfd_ctx_fdget(a->eventfd);
		if (IS_ERR(q->eventfd)) {
			ret = PTR_ERR(q->eventfd);
			q->eventfd = NULL;
			goto err;
		}
	}
	ret = xa_alloc_cyclic(&f->queues, &q->id, q,
			      XA_LIMIT(1, ACCELKM_MAX_QUEUE_ID), &f->next_queue,
			      GFP_KERNEL);
	if (ret < 0)
		goto err;
	atomic_inc(&accelkm.queues);
	queue_fill_params(q, a);
	return 0;

err:
	queue_put(q);	/* puts the eventfd too */
	return ret;
}

/* Stops the worker for good and frees every queued command. */
static void queue_teardown(struct accelkm_queue *q)
{
	struct accelkm_fence *waiting;
	LIST_HEAD(pending);
	LIST_HEAD(backlog);

	spin_lock(&q->lock);
	q->dying = true;
	spin_unlock(&q->lock);
	wake_up_all(&q->cq_wait);
	cancel_work_sync(&q->work);
	/* The worker will not register again: unhook it from its fence. */
	spin_lock(&q->lock);
	waiting = q->waiting;
	q->waiting = NULL;
	spin_unlock(&q->lock);
	if (waiting)
		remove_wait_queue(&waiting->wq, &q->fence_wait);
	cancel_work_sync(&q->work);
	spin_lock(&q->lock);
	list_splice_init(&q->pending, &pending);
	list_splice_init(&q->backlog, &backlog);
	q->outstanding = 0;
	spin_unlock(&q->lock);
	free_cmd_list(&pending);
	free_cmd_list(&backlog);
	atomic_dec(&accelkm.queues);
}

int accelkm_ioctl_queue_destroy(struct accelkm_file *f,
				struct accel_handle_arg *a)
{
	struct accelkm_queue *q;

	if (a->pad)
		return -EINVAL;
	q = xa_erase(&f->queues, a->handle);
	if (!q)
		return -ENOENT;
	queue_teardown(q);
	queue_put(q);
	return 0;
}

void accelkm_queue_release_all(struct accelkm_file *f)
{
	struct accelkm_queue *q;
	unsigned long idx;

	xa_for_each(&f->queues, idx, q) {
		xa_erase(&f->queues, idx);
		queue_teardown(q);
		queue_put(q);
	}
}

/* Consumes up to @to_submit SQEs; returns how many, or an error if none. */
static int queue_submit(struct accelkm_queue *q, u32 to_submit)
{
	u32 limit = q->cq_entries * 8, tail, avail, n = 0;
	LIST_HEAD(list);
	int ret = 0;

	mutex_lock(&q->submit_lock);
	/* acquire: pairs with the release of the tail after writing SQEs */
	tail = smp_load_acquire(&q->sq->tail);
	avail = tail - q->sq_head;
	if (avail > q->sq_entries) {
		ret = -EINVAL;	/* the user moved the tail past the ring */
		goto out;
	}
	to_submit = min(to_submit, avail);
	while (n < to_submit) {
		struct accelkm_cmd *cmd;

		if (READ_ONCE(q->outstanding) + n >= limit) {
			ret = -EBUSY;
			break;
		}
		cmd = kmem_cache_zalloc(accelkm.cmd_cache, GFP_KERNEL);
		if (!cmd) {
			ret = -ENOMEM;
			break;
		}
		/* One copy: user space may rewrite the slot meanwhile. */
		memcpy(&cmd->sqe, &q->sqes[q->sq_head & (q->sq_entries - 1)],
		       sizeof(cmd->sqe));
		cmd->cqe.user_data = cmd->sqe.user_data;
		if (accelkm_cmd_prepare(q->file, cmd))
			WRITE_ONCE(q->sq->dropped, ++q->dropped);
		list_add_tail(&cmd->link, &list);
		q->sq_head++;
		n++;
	}
	/* release: our SQE copies are done before the slots are reused */
	smp_store_release(&q->sq->head, q->sq_head);
	spin_lock(&q->lock);
	if (q->dying) {
		spin_unlock(&q->lock);
		free_cmd_list(&list);
		ret = -ENXIO;
		goto out;
	}
	list_splice_tail(&list, &q->pending);
	q->outstanding += n;
	spin_unlock(&q->lock);
	atomic64_add(n, &q->file->submitted);
	atomic64_add(n, &accelkm.submitted);
out:
	mutex_unlock(&q->submit_lock);
	if (n > 0)
		accelkm_queue_run(q, n);
	return n ? n : ret;
}

static bool queue_wait_done(struct accelkm_queue *q, u32 min_complete)
{
	accelkm_queue_flush_backlog(q);
	return accelkm_queue_cq_ready(q) >= min_complete || READ_ONCE(q->dying);
}

/* Waits for @min_complete CQEs until the absolute @deadline (0: none). */
static int queue_wait(struct accelkm_queue *q, u32 min_complete, u64 deadline)
{
	ktime_t to = ns_to_ktime(deadline);
	bool expired = false;
	DEFINE_WAIT(wait);
	int ret = 0;

	if (queue_wait_done(q, min_complete))	/* fast path: no sleep */
		return READ_ONCE(q->dying) ? -ENXIO : 0;
	for (;;) {
		prepare_to_wait(&q->cq_wait, &wait, TASK_INTERRUPTIBLE);
		if (queue_wait_done(q, min_complete))
			break;
		if (expired) {
			ret = -ETIME;
			break;
		}
		if (signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (!deadline)
			schedule();
		else if (!schedule_hrtimeout(&to, HRTIMER_MODE_ABS))
			expired = true;
	}
	finish_wait(&q->cq_wait, &wait);
	return READ_ONCE(q->dying) ? -ENXIO : ret;
}

int accelkm_ioctl_queue_enter(struct accelkm_file *f,
			      struct accel_queue_enter *a)
{
	struct accelkm_queue *q;
	int ret = 0;

	if (a->flags & ~ACCEL_ENTER_FLAGS || a->submitted || a->pad)
		return -EINVAL;
	if (!(a->flags & ACCEL_ENTER_GETEVENTS) &&
	    (a->min_complete || a->timeout_ns))
		return -EINVAL;
	q = queue_lookup(f, a->queue_id);
	if (!q)
		return -ENOENT;
	if (a->min_complete > q->cq_entries) {
		ret = -EINVAL;
		goto out;
	}
	if (a->to_submit) {
		ret = queue_submit(q, a->to_submit);
		if (ret < 0)
			goto out;
		a->submitted = ret;
		ret = 0;
	} else {
		accelkm_queue_flush_backlog(q);
	}
	if (a->flags & ACCEL_ENTER_GETEVENTS)
		ret = queue_wait(q, a->min_complete, a->timeout_ns);
out:
	queue_put(q);
	return ret;
}

__poll_t accelkm_queue_poll(struct accelkm_file *f)
{
	struct accelkm_queue *q;
	unsigned long idx;
	__poll_t mask = 0;

	xa_lock(&f->queues);
	xa_for_each(&f->queues, idx, q) {
		accelkm_queue_flush_backlog(q);
		if (accelkm_queue_cq_ready(q))
			mask |= EPOLLIN | EPOLLRDNORM;
	}
	xa_unlock(&f->queues);
	return mask;
}

static void queue_vm_open(struct vm_area_struct *vma)
{
	struct accelkm_queue *q = vma->vm_private_data;

	kref_get(&q->ref);
}

static void queue_vm_close(struct vm_area_struct *vma)
{
	queue_put(vma->vm_private_data);
}

static const struct vm_operations_struct queue_vm_ops = {
	.open = queue_vm_open,
	.close = queue_vm_close,
};

int accelkm_queue_mmap(struct accelkm_file *f, struct vm_area_struct *vma)
{
	u64 off = ((u64)vma->vm_pgoff << PAGE_SHIFT) & ~ACCELKM_MMAP_QUEUE;
	u32 area = (off >> ACCELKM_MMAP_AREA_SHIFT) & 0xff;
	size_t size = vma->vm_end - vma->vm_start;
	struct accelkm_queue *q;
	void *mem;
	int ret;

	if (off & ((1ULL << ACCELKM_MMAP_AREA_SHIFT) - 1))
		return -EINVAL;
	q = queue_lookup(f, off >> ACCELKM_MMAP_Q_SHIFT);
	if (!q)
		return -EINVAL;
	switch (area) {
	case ACCELKM_AREA_SQ:
		mem = q->sq;
		ret = size <= q->sq_size ? 0 : -EINVAL;
		break;
	case ACCELKM_AREA_CQ:
		mem = q->cq;
		ret = size <= q->cq_size ? 0 : -EINVAL;
		break;
	case ACCELKM_AREA_SQES:
		mem = q->sqes;
		ret = size <= q->sqes_size ? 0 : -EINVAL;
		break;
	default:
		ret = -EINVAL;
	}
	if (!ret) {
		accelkm_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
		ret = remap_vmalloc_range(vma, mem, 0);
	}
	if (ret) {
		queue_put(q);
		return ret;
	}
	vma->vm_private_data = q;
	vma->vm_ops = &queue_vm_ops;
	return 0;
}
