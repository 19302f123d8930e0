// SPDX-License-Identifier: GPL-2.0
/*
 * pin.c - pinned-memory accounting and user-pointer pinning.
 *
 * Every pinned byte (allocated BOs and pinned user memory alike) is
 * charged to the caller's mm->pinned_vm against RLIMIT_MEMLOCK (unless
 * CAP_IPC_LOCK), against the per-process and device-wide caps, and is
 * uncharged against that same mm when the BO dies, however late.
 */
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/capability.h>
#include <linux/slab.h>
#include <linux/overflow.h>
#include <linux/uaccess.h>

#include "accelkm.h"

/**
 * accelkm_charge() - charge @bytes of pinned memory to current's mm.
 * @c: filled with the mm (grabbed) and the bytes on success.
 * @bytes: page-aligned byte count.
 *
 * Return: 0, -ENOMEM when a limit would be exceeded, -ESRCH without an mm.
 */
int accelkm_charge(struct accelkm_charge *c, u64 bytes)
{
	struct mm_struct *mm = current->mm;
	u64 npages = bytes >> PAGE_SHIFT;
	u64 newpages, total;

	if (!mm)
		return -ESRCH;
	newpages = atomic64_add_return(npages, &mm->pinned_vm);
	if (!capable(CAP_IPC_LOCK) &&
	    newpages > rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT)
		goto err_mm;
	if (accelkm_max_pinned_per_process &&
	    newpages > accelkm_max_pinned_per_process >> PAGE_SHIFT)
		goto err_mm;
	total = atomic64_add_return(bytes, &accelkm.pinned_bytes);
	if (accelkm_max_pinned_total && total > accelkm_max_pinned_total) {
		atomic64_sub(bytes, &accelkm.pinned_bytes);
		goto err_mm;
	}
	mmgrab(mm);
	c->mm = mm;
	c->bytes = bytes;
	return 0;

err_mm:
	atomic64_sub(npages, &mm->pinned_vm);
	return -ENOMEM;
}

void accelkm_uncharge(struct accelkm_charge *c)
{
	if (!c->mm)
		return;
	atomic64_sub(c->bytes >> PAGE_SHIFT, &c->mm->pinned_vm);
	atomic64_sub(c->bytes, &accelkm.pinned_bytes);
	mmdrop(c->mm);
	c->mm = NULL;
}

void accelkm_unpin(struct accelkm_bo *bo)
{
	unpin_user_pages_dirty_lock(bo->pages, bo->npages, bo->writable);
}

static int userptr_check(const struct accel_bo_userptr *a)
{
	u64 end;

	if (a->flags & ~ACCEL_USERPTR_FLAGS || a->handle)
		return -EINVAL;
	if (!a->size || !PAGE_ALIGNED(a->addr) || !PAGE_ALIGNED(a->size))
		return -EINVAL;
	if (check_add_overflow(a->addr, a->size, &end))
		return -EINVAL;
	if (a->size > accelkm_max_bo_size)
		return -EINVAL;
	if (!access_ok(u64_to_user_ptr(a->addr), a->size))
		return -EFAULT;
	return 0;
}

/* Pins every page or none: a partial pin is undone. */
static int userptr_pin(struct accelkm_bo *bo, unsigned long addr)
{
	unsigned int gup = FOLL_LONGTERM | (bo->writable ? FOLL_WRITE : 0);
	unsigned long done = 0;
	int ret;

	while (done < bo->npages) {
		int n = min_t(unsigned long, bo->npages - done, 512);

		ret = accelkm_pin_user_pages(addr + done * PAGE_SIZE, n, gup,
					     bo->pages + done);
		if (ret <= 0) {
			ret = ret ? ret : -EFAULT;
			goto err_unpin;
		}
		done += ret;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto err_unpin;
		}
	}
	return 0;

err_unpin:
	unpin_user_pages(bo->pages, done);
	return ret;
}

int accelkm_ioctl_bo_userptr(struct accelkm_file *f, struct accel_bo_userptr *a)
{
	struct accelkm_bo *bo;
	int ret;

	ret = userptr_check(a);
	if (ret)
		return ret;
	bo = accelkm_bo_new(ACCELKM_BO_USERPTR, ACCEL_BO_INFO_USERPTR,
			    !(a->flags & ACCEL_USERPTR_READONLY), a->size, &ret);
	if (!bo)
		return ret;
	ret = userptr_pin(bo, a->addr);
	if (ret) {
		accelkm_bo_discard(bo);
		return ret;
	}
	atomic_inc(&accelkm.bos);
	/* The handle takes its own reference; ours goes either way. */
	ret = accelkm_bo_add_handle(f, bo, &a->handle);
	accelkm_bo_put(bo);
	return ret;
}
