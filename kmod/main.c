// SPDX-License-Identifier: GPL-2.0
/*
 * main.c - accelkm module entry: the misc device /dev/accelkm0, open and
 * release of a client file, ioctl dispatch, mmap dispatch and poll.
 *
 * The device is a misc device (major 10), so it never collides with the DRM
 * accel subsystem (/dev/accel/accelN, major 261, module drm_accel).
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/poll.h>
#include <linux/mm.h>

#include "accelkm.h"

unsigned long accelkm_max_pinned_per_process;
module_param_named(max_pinned_per_process, accelkm_max_pinned_per_process,
		   ulong, 0644);
MODULE_PARM_DESC(max_pinned_per_process,
		 "Cap on bytes pinned per process (mm), 0 = RLIMIT_MEMLOCK only");

unsigned long accelkm_max_pinned_total;
module_param_named(max_pinned_total, accelkm_max_pinned_total, ulong, 0644);
MODULE_PARM_DESC(max_pinned_total, "Cap on bytes pinned device-wide, 0 = none");

unsigned long accelkm_max_bo_size = 1UL << 30;
module_param_named(max_bo_size, accelkm_max_bo_size, ulong, 0644);
MODULE_PARM_DESC(max_bo_size, "Largest buffer object in bytes");

unsigned int accelkm_max_queue_entries = 4096;
module_param_named(max_queue_entries, accelkm_max_queue_entries, uint, 0444);
MODULE_PARM_DESC(max_queue_entries, "Largest SQ (power of two)");

struct accelkm_dev accelkm;

static int accelkm_open(struct inode *inode, struct file *file)
{
	struct accelkm_file *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	f->client_id = atomic_inc_return(&accelkm.next_client_id);
	xa_init_flags(&f->bos, XA_FLAGS_ALLOC1);
	xa_init_flags(&f->fences, XA_FLAGS_ALLOC1);
	xa_init_flags(&f->queues, XA_FLAGS_ALLOC1);
	init_waitqueue_head(&f->poll_wait);
	file->private_data = f;
	atomic_inc(&accelkm.clients);
	return 0;
}

static int accelkm_release(struct inode *inode, struct file *file)
{
	struct accelkm_file *f = file->private_data;

	/* Queues first: their in-flight commands hold BO and fence refs. */
	accelkm_queue_release_all(f);
	accelkm_fence_release_all(f);
	accelkm_bo_release_all(f);
	xa_destroy(&f->queues);
	xa_destroy(&f->fences);
	xa_destroy(&f->bos);
	atomic_dec(&accelkm.clients);
	kfree(f);
	return 0;
}

static int accelkm_get_param(struct accelkm_file *f, struct accel_get_param *a)
{
	if (a->pad)
		return -EINVAL;
	switch (a->param) {
	case ACCEL_PARAM_API_VERSION:
		a->value = (ACCEL_API_VERSION_MAJOR << 16) |
			   ACCEL_API_VERSION_MINOR;
		break;
	case ACCEL_PARAM_FEATURES:
		a->value = ACCEL_FEATURE_USERPTR | ACCEL_FEATURE_DMABUF_EXPORT |
			   ACCEL_FEATURE_DMABUF_IMPORT |
			   ACCEL_FEATURE_HUGEPAGE | ACCEL_FEATURE_NUMA |
			   ACCEL_FEATURE_QUEUES | ACCEL_FEATURE_EVENTFD |
			   ACCEL_FEATURE_TIMELINE_FENCE |
			   ACCEL_FEATURE_FENCE_FD | ACCEL_FEATURE_CQ_BACKLOG;
		break;
	case ACCEL_PARAM_OPCODES:
		a->value = (1ULL << ACCEL_OP_LAST) - 1;
		break;
	case ACCEL_PARAM_MAX_QUEUE_ENTRIES:
		a->value = accelkm_max_queue_entries;
		break;
	case ACCEL_PARAM_MAX_BO_SIZE:
		a->value = accelkm_max_bo_size;
		break;
	case ACCEL_PARAM_PAGE_SIZE:
		a->value = PAGE_SIZE;
		break;
	case ACCEL_PARAM_CLIENT_ID:
		a->value = f->client_id;
		break;
	case ACCEL_PARAM_PINNED_BYTES:
		a->value = atomic64_read(&f->bo_bytes);
		break;
	case ACCEL_PARAM_MAX_PINNED_PER_PROCESS:
		a->value = accelkm_max_pinned_per_process;
		break;
	case ACCEL_PARAM_MAX_PINNED_TOTAL:
		a->value = accelkm_max_pinned_total;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

union accelkm_ioctl_arg {
	struct accel_get_param param;
	struct accel_bo_create bo_create;
	struct accel_bo_userptr bo_userptr;
	struct accel_bo_info bo_info;
	struct accel_handle_arg handle;
	struct accel_fd_arg fd;
	struct accel_fence_create fence_create;
	struct accel_fence_op fence_op;
	struct accel_queue_create queue_create;
	struct accel_queue_enter queue_enter;
};

static long accelkm_dispatch(struct accelkm_file *f, unsigned int cmd,
			     union accelkm_ioctl_arg *a)
{
	switch (cmd) {
	case ACCEL_IOCTL_GET_PARAM:
		return accelkm_get_param(f, &a->param);
	case ACCEL_IOCTL_BO_CREATE:
		return accelkm_ioctl_bo_create(f, &a->bo_create);
	case ACCEL_IOCTL_BO_USERPTR:
		return accelkm_ioctl_bo_userptr(f, &a->bo_userptr);
	case ACCEL_IOCTL_BO_INFO:
		return accelkm_ioctl_bo_info(f, &a->bo_info);
	case ACCEL_IOCTL_BO_FREE:
		return accelkm_ioctl_bo_free(f, &a->handle);
	case ACCEL_IOCTL_BO_EXPORT:
		return accelkm_ioctl_bo_export(f, &a->fd);
	case ACCEL_IOCTL_BO_IMPORT:
		return accelkm_ioctl_bo_import(f, &a->fd);
	case ACCEL_IOCTL_FENCE_CREATE:
		return accelkm_ioctl_fence_create(f, &a->fence_create);
	case ACCEL_IOCTL_FENCE_DESTROY:
		return accelkm_ioctl_fence_destroy(f, &a->handle);
	case ACCEL_IOCTL_FENCE_SIGNAL:
		return accelkm_ioctl_fence_signal(f, &a->fence_op);
	case ACCEL_IOCTL_FENCE_QUERY:
		return accelkm_ioctl_fence_query(f, &a->fence_op);
	case ACCEL_IOCTL_FENCE_WAIT:
		return accelkm_ioctl_fence_wait(f, &a->fence_op);
	case ACCEL_IOCTL_FENCE_EXPORT:
		return accelkm_ioctl_fence_export(f, &a->fd);
	case ACCEL_IOCTL_FENCE_IMPORT:
		return accelkm_ioctl_fence_import(f, &a->fd);
	case ACCEL_IOCTL_QUEUE_CREATE:
		return accelkm_ioctl_queue_create(f, &a->queue_create);
	case ACCEL_IOCTL_QUEUE_DESTROY:
		return accelkm_ioctl_queue_destroy(f, &a->handle);
	case ACCEL_IOCTL_QUEUE_ENTER:
		return accelkm_ioctl_queue_enter(f, &a->queue_enter);
	}
	return -ENOTTY;
}

static long accelkm_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct accelkm_file *f = file->private_data;
	void __user *uarg = (void __user *)arg;
	union accelkm_ioctl_arg a;
	unsigned int size = _IOC_SIZE(cmd);
	long ret;

	/* The full cmd (size included) must match: checked by dispatch. */
	if (_IOC_TYPE(cmd) != ACCEL_IOC_MAGIC || size > sizeof(a))
		return -ENOTTY;
	memset(&a, 0, sizeof(a));
	if ((_IOC_DIR(cmd) & _IOC_WRITE) && copy_from_user(&a, uarg, size))
		return -EFAULT;
	ret = accelkm_dispatch(f, cmd, &a);
	/* enter reports @submitted even when its wait ended early */
	if ((ret == 0 || cmd == ACCEL_IOCTL_QUEUE_ENTER) && ret != -ENOTTY &&
	    (_IOC_DIR(cmd) & _IOC_READ) && copy_to_user(uarg, &a, size))
		return -EFAULT;
	return ret;
}

static int accelkm_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct accelkm_file *f = file->private_data;
	u64 off = (u64)vma->vm_pgoff << PAGE_SHIFT;

	if (!(vma->vm_flags & VM_MAYSHARE))	/* MAP_SHARED */
		return -EINVAL;
	if (off & ACCELKM_MMAP_QUEUE)
		return accelkm_queue_mmap(f, vma);
	return accelkm_bo_mmap(f, vma);
}

static __poll_t accelkm_poll(struct file *file, poll_table *wait)
{
	struct accelkm_file *f = file->private_data;

	poll_wait(file, &f->poll_wait, wait);
	return accelkm_queue_poll(f);
}

static const struct file_operations accelkm_fops = {
	.owner = THIS_MODULE,
	.open = accelkm_open,
	.release = accelkm_release,
	.unlocked_ioctl = accelkm_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = accelkm_mmap,
	.poll = accelkm_poll,
	.llseek = noop_llseek,
	.show_fdinfo = accelkm_show_fdinfo,
};

static int __init accelkm_init(void)
{
	int ret;

	if (!is_power_of_2(accelkm_max_queue_entries) ||
	    accelkm_max_queue_entries > 32768)
		return -EINVAL;
	accelkm.cmd_cache = KMEM_CACHE(accelkm_cmd, 0);
	if (!accelkm.cmd_cache)
		return -ENOMEM;
	accelkm.wq = alloc_workqueue("accelkm", WQ_UNBOUND, 0);
	if (!accelkm.wq) {
		ret = -ENOMEM;
		goto err_cache;
	}
	accelkm.misc.minor = MISC_DYNAMIC_MINOR;
	accelkm.misc.name = "accelkm0";
	accelkm.misc.fops = &accelkm_fops;
	accelkm.misc.groups = accelkm_groups;
	accelkm.misc.mode = 0660;
	ret = misc_register(&accelkm.misc);
	if (ret)
		goto err_wq;
	return 0;

err_wq:
	destroy_workqueue(accelkm.wq);
err_cache:
	kmem_cache_destroy(accelkm.cmd_cache);
	return ret;
}

static void __exit accelkm_exit(void)
{
	misc_deregister(&accelkm.misc);
	destroy_workqueue(accelkm.wq);
	kmem_cache_destroy(accelkm.cmd_cache);
}

module_init(accelkm_init);
module_exit(accelkm_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("accel: pinned host memory and io_uring-style queues");
ACCELKM_IMPORT_DMA_BUF_NS();
