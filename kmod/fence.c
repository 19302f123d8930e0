// SPDX-License-Identifier: GPL-2.0
/*
 * fence.c - timeline fences: a u64 that only grows. Queues wait for and
 * signal points on them (FENCE_WAIT / FENCE_SIGNAL opcodes), the CPU can
 * too (ioctls), and an fd carries a fence to another process.
 */
#include <linux/slab.h>
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fcntl.h>
#include <linux/hrtimer.h>
#include <linux/sched/signal.h>

#include "accelkm.h"

static void fence_release(struct kref *ref)
{
	kfree(container_of(ref, struct accelkm_fence, ref));
	atomic_dec(&accelkm.fences);
}

void accelkm_fence_put(struct accelkm_fence *fence)
{
	if (fence)
		kref_put(&fence->ref, fence_release);
}

struct accelkm_fence *accelkm_fence_lookup(struct accelkm_file *f, u32 h)
{
	struct accelkm_fence *fence;

	xa_lock(&f->fences);
	fence = xa_load(&f->fences, h);
	if (fence)
		kref_get(&fence->ref);
	xa_unlock(&f->fences);
	return fence;
}

bool accelkm_fence_reached(struct accelkm_fence *fence, u64 point)
{
	return READ_ONCE(fence->value) >= point;
}

/* Return: 0, or -EINVAL when @point does not move the timeline forward. */
int accelkm_fence_signal(struct accelkm_fence *fence, u64 point)
{
	spin_lock(&fence->lock);
	if (point <= fence->value) {
		spin_unlock(&fence->lock);
		return -EINVAL;
	}
	WRITE_ONCE(fence->value, point);
	spin_unlock(&fence->lock);
	wake_up_all(&fence->wq);
	return 0;
}

static int fence_add_handle(struct accelkm_file *f, struct accelkm_fence *fence,
			    u32 *out_handle)
{
	int ret;

	kref_get(&fence->ref);
	ret = xa_alloc_cyclic(&f->fences, out_handle, fence,
			      XA_LIMIT(1, ACCELKM_MAX_FENCE), &f->next_fence,
			      GFP_KERNEL);
	if (ret < 0) {
		accelkm_fence_put(fence);
		return ret;
	}
	return 0;
}

void accelkm_fence_release_all(struct accelkm_file *f)
{
	struct accelkm_fence *fence;
	unsigned long idx;

	xa_for_each(&f->fences, idx, fence) {
		xa_erase(&f->fences, idx);
		accelkm_fence_put(fence);
	}
}

int accelkm_ioctl_fence_create(struct accelkm_file *f,
			       struct accel_fence_create *a)
{
	struct accelkm_fence *fence;
	int ret;

	if (a->flags || a->handle)
		return -EINVAL;
	fence = kzalloc(sizeof(*fence), GFP_KERNEL);
	if (!fence)
		return -ENOMEM;
	kref_init(&fence->ref);
	spin_lock_init(&fence->lock);
	init_waitqueue_head(&fence->wq);
	fence->value = a->value;
	atomic_inc(&accelkm.fences);
	ret = fence_add_handle(f, fence, &a->handle);
	accelkm_fence_put(fence);
	return ret;
}

int accelkm_ioctl_fence_destroy(struct accelkm_file *f,
				struct accel_handle_arg *a)
{
	struct accelkm_fence *fence;

	if (a->pad)
		return -EINVAL;
	fence = xa_erase(&f->fences, a->handle);
	if (!fence)
		return -ENOENT;
	accelkm_fence_put(fence);
	return 0;
}

int accelkm_ioctl_fence_signal(struct accelkm_file *f, struct accel_fence_op *a)
{
	struct accelkm_fence *fence;
	int ret;

	if (a->flags || a->timeout_ns)
		return -EINVAL;
	fence = accelkm_fence_lookup(f, a->handle);
	if (!fence)
		return -ENOENT;
	ret = accelkm_fence_signal(fence, a->point);
	accelkm_fence_put(fence);
	return ret;
}

int accelkm_ioctl_fence_query(struct accelkm_file *f, struct accel_fence_op *a)
{
	struct accelkm_fence *fence;

	if (a->flags || a->timeout_ns || a->point)
		return -EINVAL;
	fence = accelkm_fence_lookup(f, a->handle);
	if (!fence)
		return -ENOENT;
	a->point = READ_ONCE(fence->value);
	accelkm_fence_put(fence);
	return 0;
}

/* Sleeps until @point or the absolute CLOCK_MONOTONIC @deadline. */
static int fence_wait(struct accelkm_fence *fence, u64 point, u64 deadline)
{
	ktime_t to = ns_to_ktime(deadline);
	bool expired = false;
	DEFINE_WAIT(wait);
	int ret = 0;

	for (;;) {
		prepare_to_wait(&fence->wq, &wait, TASK_INTERRUPTIBLE);
		if (accelkm_fence_reached(fence, point))
			break;
		if (expired || !deadline) {
			ret = -ETIME;
			break;
		}
		if (signal_pending(current)) {
			ret = -ERESTARTSYS;
			break;
		}
		if (deadline == U64_MAX)
			schedule();
		else if (!schedule_hrtimeout(&to, HRTIMER_MODE_ABS))
			expired = true;
	}
	finish_wait(&fence->wq, &wait);
	return ret;
}

int accelkm_ioctl_fence_wait(struct accelkm_file *f, struct accel_fence_op *a)
{
	struct accelkm_fence *fence;
	int ret;

	if (a->flags)
		return -EINVAL;
	fence = accelkm_fence_lookup(f, a->handle);
	if (!fence)
		return -ENOENT;
	ret = fence_wait(fence, a->point, a->timeout_ns);
	accelkm_fence_put(fence);
	return ret;
}

static int fence_file_release(struct inode *inode, struct file *file)
{
	accelkm_fence_put(file->private_data);
	return 0;
}

static const struct file_operations fence_fops = {
	.owner = THIS_MODULE,
	.release = fence_file_release,
	.llseek = noop_llseek,
};

int accelkm_ioctl_fence_export(struct accelkm_file *f, struct accel_fd_arg *a)
{
	struct accelkm_fence *fence;
	int fd;

	if (a->flags & ~O_CLOEXEC || a->fd || a->pad || a->size)
		return -EINVAL;
	fence = accelkm_fence_lookup(f, a->handle);
	if (!fence)
		return -ENOENT;
	fd = anon_inode_getfd("[accelkm-fence]", &fence_fops, fence,
			      O_RDWR | (a->flags & O_CLOEXEC));
	if (fd < 0) {
		accelkm_fence_put(fence);
		return fd;
	}
	a->fd = fd;
	return 0;
}

int accelkm_ioctl_fence_import(struct accelkm_file *f, struct accel_fd_arg *a)
{
	struct fd fd;
	int ret;

	if (a->flags || a->handle || a->pad || a->size)
		return -EINVAL;
	fd = fdget(a->fd);
	if (!fd_file(fd))
		return -EBADF;
	if (fd_file(fd)->f_op != &fence_fops) {
		fdput(fd);
		return -EINVAL;
	}
	ret = fence_add_handle(f, fd_file(fd)->private_data, &a->handle);
	fdput(fd);
	return ret;
}
