// SPDX-License-Identifier: GPL-2.0
/*
 * exec.c - the opcodes the kernel executes (NOP, COPY, FILL, TIMESTAMP,
 * FENCE_SIGNAL, FENCE_WAIT): validation at submission, once, then in-order
 * execution by one work item per queue.
 *
 * A command that fails validation never executes: it keeps its error in the
 * CQE and only passes through the worker so completions stay in order.
 */
#include <linux/highmem.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/sched.h>

#include "accelkm.h"

void accelkm_cmd_free(struct accelkm_cmd *cmd)
{
	accelkm_bo_put(cmd->src);
	accelkm_bo_put(cmd->dst);
	accelkm_fence_put(cmd->fence);
	kmem_cache_free(accelkm.cmd_cache, cmd);
}

static bool range_ok(struct accelkm_bo *bo, u64 off, u64 len)
{
	return off <= bo->size && len <= bo->size - off;
}

static int prep_bo(struct accelkm_file *f, u32 h, struct accelkm_bo **out)
{
	*out = accelkm_bo_lookup(f, h);
	return *out ? 0 : -ENOENT;
}

static int prep_copy(struct accelkm_file *f, struct accelkm_cmd *cmd)
{
	const struct accel_sqe *s = &cmd->sqe;
	int ret;

	if (s->value || s->fence_handle || !s->len)
		return -EINVAL;
	ret = prep_bo(f, s->src_handle, &cmd->src);
	if (!ret)
		ret = prep_bo(f, s->dst_handle, &cmd->dst);
	if (ret)
		return ret;
	if (!range_ok(cmd->src, s->src_offset, s->len) ||
	    !range_ok(cmd->dst, s->dst_offset, s->len))
		return -EINVAL;
	if (!cmd->dst->writable)
		return -EACCES;
	/* Overlapping ranges of one BO would depend on the copy order. */
	if (cmd->src == cmd->dst && s->src_offset < s->dst_offset + s->len &&
	    s->dst_offset < s->src_offset + s->len)
		return -EINVAL;
	return 0;
}

static int prep_fill(struct accelkm_file *f, struct accelkm_cmd *cmd)
{
	const struct accel_sqe *s = &cmd->sqe;
	int ret;

	if (s->src_handle || s->src_offset || s->fence_handle || !s->len ||
	    s->value > 0xff)
		return -EINVAL;
	ret = prep_bo(f, s->dst_handle, &cmd->dst);
	if (ret)
		return ret;
	if (!range_ok(cmd->dst, s->dst_offset, s->len))
		return -EINVAL;
	return cmd->dst->writable ? 0 : -EACCES;
}

static int prep_timestamp(struct accelkm_file *f, struct accelkm_cmd *cmd)
{
	const struct accel_sqe *s = &cmd->sqe;
	int ret;

	if (s->src_handle || s->src_offset || s->fence_handle || s->len ||
	    s->value || !IS_ALIGNED(s->dst_offset, sizeof(u64)))
		return -EINVAL;
	ret = prep_bo(f, s->dst_handle, &cmd->dst);
	if (ret)
		return ret;
	if (!range_ok(cmd->dst, s->dst_offset, sizeof(u64)))
		return -EINVAL;
	return cmd->dst->writable ? 0 : -EACCES;
}

static int prep_fence(struct accelkm_file *f, struct accelkm_cmd *cmd)
{
	const struct accel_sqe *s = &cmd->sqe;

	if (s->src_handle || s->dst_handle || s->src_offset || s->dst_offset ||
	    s->len)
		return -EINVAL;
	cmd->fence = accelkm_fence_lookup(f, s->fence_handle);
	return cmd->fence ? 0 : -ENOENT;
}

/**
 * accelkm_cmd_prepare() - validate an SQE copy and take its references.
 * @f: the submitting file (its handle namespaces).
 * @cmd: the command holding the SQE copy.
 *
 * Return: 0, or the negative errno also stored in the CQE.
 */
int accelkm_cmd_prepare(struct accelkm_file *f, struct accelkm_cmd *cmd)
{
	const struct accel_sqe *s = &cmd->sqe;
	int ret = -EINVAL;

	if (s->flags || s->pad0 || s->pad1 || s->reserved)
		goto fail;
	switch (s->opcode) {
	case ACCEL_OP_NOP:
		if (s->src_handle || s->dst_handle || s->src_offset ||
		    s->dst_offset || s->len || s->value || s->fence_handle)
			goto fail;
		return 0;
	case ACCEL_OP_COPY:
		ret = prep_copy(f, cmd);
		break;
	case ACCEL_OP_FILL:
		ret = prep_fill(f, cmd);
		break;
	case ACCEL_OP_TIMESTAMP:
		ret = prep_timestamp(f, cmd);
		break;
	case ACCEL_OP_FENCE_SIGNAL:
	case ACCEL_OP_FENCE_WAIT:
		ret = prep_fence(f, cmd);
		break;
	}
	if (!ret)
		return 0;
fail:
	/* Drop references now: a dropped SQE never touches memory. */
	accelkm_bo_put(cmd->src);
	accelkm_bo_put(cmd->dst);
	accelkm_fence_put(cmd->fence);
	cmd->src = cmd->dst = NULL;
	cmd->fence = NULL;
	cmd->cqe.res = ret;
	cmd->cqe.flags = ACCEL_CQE_F_DROPPED;
	return ret;
}

static void exec_copy(struct accelkm_cmd *cmd)
{
	const struct accel_sqe *s = &cmd->sqe;
	u64 so = s->src_offset, d_o = s->dst_offset, left = s->len;

	while (left) {
		size_t sp = offset_in_page(so), dp = offset_in_page(d_o);
		size_t n = min3((u64)(PAGE_SIZE - sp), (u64)(PAGE_SIZE - dp), left);
		void *src = kmap_local_page(cmd->src->pages[so >> PAGE_SHIFT]);
		void *dst = kmap_local_page(cmd->dst->pages[d_o >> PAGE_SHIFT]);

		memcpy(dst + dp, src + sp, n);
		kunmap_local(dst);
		kunmap_local(src);
		so += n;
		d_o += n;
		left -= n;
		if (!((d_o >> PAGE_SHIFT) & 63))
			cond_resched();
	}
}

static void exec_fill(struct accelkm_cmd *cmd)
{
	const struct accel_sqe *s = &cmd->sqe;
	u64 off = s->dst_offset, left = s->len;

	while (left) {
		size_t p = offset_in_page(off);
		size_t n = min_t(u64, PAGE_SIZE - p, left);
		void *dst = kmap_local_page(cmd->dst->pages[off >> PAGE_SHIFT]);

		memset(dst + p, (int)s->value, n);
		kunmap_local(dst);
		off += n;
		left -= n;
		if (!((off >> PAGE_SHIFT) & 63))
			cond_resched();
	}
}

static void exec_timestamp(struct accelkm_cmd *cmd)
{
	u64 off = cmd->sqe.dst_offset;
	void *dst = kmap_local_page(cmd->dst->pages[off >> PAGE_SHIFT]);

	*(u64 *)(dst + offset_in_page(off)) = ktime_get_ns();
	kunmap_local(dst);
}

/* Counters gathered over one run and added to the shared atomics once. */
struct run_stats {
	u64 completed;
	u64 failed;
	u64 busy_ns[ACCELKM_ENGINES];
};

static void stats_flush(struct accelkm_queue *q, struct run_stats *st)
{
	struct accelkm_file *f = q->file;
	int i;

	if (st->completed) {
		atomic64_add(st->completed, &f->completed);
		atomic64_add(st->completed, &accelkm.completed);
	}
	if (st->failed) {
		atomic64_add(st->failed, &f->failed);
		atomic64_add(st->failed, &accelkm.failed);
	}
	for (i = 0; i < ACCELKM_ENGINES; i++) {
		if (!st->busy_ns[i])
			continue;
		atomic64_add(st->busy_ns[i], &f->busy_ns[i]);
		atomic64_add(st->busy_ns[i], &accelkm.busy_ns[i]);
	}
	memset(st, 0, sizeof(*st));
}

/* @now: when the previous command ended (clock reads are not free). */
static void cmd_execute(struct accelkm_cmd *cmd, u64 now,
			struct run_stats *st)
{
	enum accelkm_engine engine = ACCELKM_ENGINE_CTRL;
	int res = 0;

	cmd->cqe.start_ns = now;
	switch (cmd->sqe.opcode) {
	case ACCEL_OP_COPY:
		exec_copy(cmd);
		engine = ACCELKM_ENGINE_COPY;
		break;
	case ACCEL_OP_FILL:
		exec_fill(cmd);
		engine = ACCELKM_ENGINE_COPY;
		break;
	case ACCEL_OP_TIMESTAMP:
		exec_timestamp(cmd);
		break;
	case ACCEL_OP_FENCE_SIGNAL:
		res = accelkm_fence_signal(cmd->fence, cmd->sqe.value);
		break;
	}
	cmd->cqe.end_ns = ktime_get_ns();
	cmd->cqe.res = res;
	st->busy_ns[engine] += cmd->cqe.end_ns - cmd->cqe.start_ns;
}

/* Executes @cmd and drops its references; returns its end time. */
static u64 cmd_complete(struct accelkm_queue *q, struct accelkm_cmd *cmd,
			u64 now, struct run_stats *st)
{
	u64 end;

	if (!(cmd->cqe.flags & ACCEL_CQE_F_DROPPED))
		cmd_execute(cmd, now, st);
	else
		cmd->cqe.end_ns = now;
	end = cmd->cqe.end_ns;
	if (cmd->cqe.res)
		st->failed++;
	else
		st->completed++;
	/* References go before the CQE may sit in the backlog. */
	accelkm_bo_put(cmd->src);
	accelkm_bo_put(cmd->dst);
	accelkm_fence_put(cmd->fence);
	cmd->src = cmd->dst = NULL;
	cmd->fence = NULL;
	return end;
}

int accelkm_fence_wake(struct wait_queue_entry *wq, unsigned int mode,
		       int sync, void *key)
{
	struct accelkm_queue *q = container_of(wq, struct accelkm_queue,
					       fence_wait);

	queue_work(accelkm.wq, &q->work);
	return 0;
}

/*
 * Returns the next runnable command, or NULL when the queue is empty, dying
 * or blocked on a fence (then the fence's wakeup requeues this work).
 * Called and returns with q->lock held.
 */
static struct accelkm_cmd *next_cmd(struct accelkm_queue *q)
{
	struct accelkm_cmd *cmd;

	if (q->dying || list_empty(&q->pending))
		return NULL;
	cmd = list_first_entry(&q->pending, struct accelkm_cmd, link);
	if (cmd->sqe.opcode == ACCEL_OP_FENCE_WAIT && cmd->fence &&
	    !accelkm_fence_reached(cmd->fence, cmd->sqe.value)) {
		if (q->waiting != cmd->fence) {
			if (q->waiting)
				remove_wait_queue(&q->waiting->wq,
						  &q->fence_wait);
			q->waiting = cmd->fence;
			add_wait_queue(&cmd->fence->wq, &q->fence_wait);
		}
		/* Re-check: a signal may have come before we hooked in. */
		if (!accelkm_fence_reached(cmd->fence, cmd->sqe.value))
			return NULL;
	}
	if (q->waiting) {
		remove_wait_queue(&q->waiting->wq, &q->fence_wait);
		q->waiting = NULL;
	}
	list_del(&cmd->link);
	return cmd;
}

/**
 * accelkm_queue_run() - execute pending commands in order, in the caller's
 * context, unless another context already does (it will see ours too).
 * @q: the queue.
 * @budget: stop after this many and hand the rest to the worker; 0 = none.
 *
 * enter calls this inline, as io_uring does, so a NOP costs no context
 * switch; the work item runs it for the rest and after fence wakeups.
 */
void accelkm_queue_run(struct accelkm_queue *q, u32 budget)
{
	struct run_stats st = { 0 };
	struct accelkm_cmd *cmd;
	bool requeue = false, unnotified = false;
	u32 done = 0;
	u64 now = 0;

	spin_lock(&q->lock);
	if (q->running) {
		spin_unlock(&q->lock);
		return;
	}
	q->running = true;
	while ((cmd = next_cmd(q))) {
		spin_unlock(&q->lock);
		/* back to back, one command's end is the next one's start */
		now = cmd_complete(q, cmd, now ? now : ktime_get_ns(), &st);
		if (!(++done % 16) || need_resched()) {
			spin_lock(&q->lock);
			accelkm_queue_post_locked(q, cmd);
			spin_unlock(&q->lock);
			stats_flush(q, &st);
			accelkm_queue_notify(q);
			unnotified = false;
			if (need_resched()) {
				cond_resched();
				now = 0;
			}
			spin_lock(&q->lock);
		} else {
			/* one lock round trip posts this and takes the next */
			spin_lock(&q->lock);
			accelkm_queue_post_locked(q, cmd);
			unnotified = true;
		}
		if (budget && done >= budget && !list_empty(&q->pending)) {
			requeue = true;
			break;
		}
	}
	q->running = false;
	spin_unlock(&q->lock);
	if (unnotified) {
		stats_flush(q, &st);
		accelkm_queue_notify(q);
	}
	if (requeue)
		queue_work(accelkm.wq, &q->work);
}

void accelkm_queue_work(struct work_struct *work)
{
	accelkm_queue_run(container_of(work, struct accelkm_queue, work), 0);
}
