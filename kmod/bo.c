// SPDX-License-Identifier: GPL-2.0
/*
 * bo.c - buffer objects: zeroed, pinned host pages with a per-file handle
 * namespace, query, mmap and free. A BO lives while any handle, mapping,
 * queued command or exported dma-buf holds a reference.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/gfp.h>
#include <linux/nodemask.h>
#include <linux/sizes.h>

#include "accelkm.h"

#define ACCELKM_HUGE_ORDER	(21 - PAGE_SHIFT)	/* 2 MiB */

static void bo_free_pages(struct accelkm_bo *bo)
{
	unsigned long i;

	if (bo->kind == ACCELKM_BO_USERPTR) {
		accelkm_unpin(bo);
		return;
	}
	for (i = 0; i < bo->npages; i++)
		if (bo->pages[i])
			__free_page(bo->pages[i]);
}

static void bo_release(struct kref *ref)
{
	struct accelkm_bo *bo = container_of(ref, struct accelkm_bo, ref);

	bo_free_pages(bo);
	accelkm_uncharge(&bo->charge);
	kvfree(bo->pages);
	kfree(bo);
	atomic_dec(&accelkm.bos);
}

void accelkm_bo_put(struct accelkm_bo *bo)
{
	if (bo)
		kref_put(&bo->ref, bo_release);
}

struct accelkm_bo *accelkm_bo_lookup(struct accelkm_file *f, u32 handle)
{
	struct accelkm_bo *bo;

	xa_lock(&f->bos);
	bo = xa_load(&f->bos, handle);
	if (bo)
		kref_get(&bo->ref);
	xa_unlock(&f->bos);
	return bo;
}

/* Takes a reference of its own for the handle. */
int accelkm_bo_add_handle(struct accelkm_file *f, struct accelkm_bo *bo,
			  u32 *out_handle)
{
	int ret;

	kref_get(&bo->ref);
	ret = xa_alloc_cyclic(&f->bos, out_handle, bo,
			      XA_LIMIT(1, ACCELKM_MAX_BO_HANDLE), &f->next_bo,
			      GFP_KERNEL);
	if (ret < 0) {
		accelkm_bo_put(bo);
		return ret;
	}
	atomic64_add(bo->size, &f->bo_bytes);
	return 0;
}

void accelkm_bo_release_all(struct accelkm_file *f)
{
	struct accelkm_bo *bo;
	unsigned long idx;

	xa_for_each(&f->bos, idx, bo) {
		xa_erase(&f->bos, idx);
		atomic64_sub(bo->size, &f->bo_bytes);
		accelkm_bo_put(bo);
	}
}

/* Allocates in 2 MiB chunks when asked, split so every page stands alone. */
static int bo_alloc_pages(struct accelkm_bo *bo, int node, bool huge)
{
	unsigned int order = huge ? ACCELKM_HUGE_ORDER : 0;
	gfp_t gfp = GFP_USER | __GFP_ZERO | __GFP_NOWARN | __GFP_ACCOUNT;
	unsigned long i, j;

	if (node != NUMA_NO_NODE)
		gfp |= __GFP_THISNODE;
	if (huge)
		gfp |= __GFP_RETRY_MAYFAIL;
	for (i = 0; i < bo->npages; i += 1UL << order) {
		struct page *page = alloc_pages_node(node, gfp, order);

		if (!page)
			return -ENOMEM;
		if (order)
			split_page(page, order);
		for (j = 0; j < (1UL << order); j++)
			bo->pages[i + j] = page + j;
		cond_resched();
	}
	return 0;
}

static int bo_create_check(const struct accel_bo_create *a)
{
	if (a->flags & ~ACCEL_BO_CREATE_FLAGS || a->handle || a->pad ||
	    a->mmap_offset)
		return -EINVAL;
	if (!a->size || !PAGE_ALIGNED(a->size) || a->size > accelkm_max_bo_size)
		return -EINVAL;
	if ((a->flags & ACCEL_BO_HUGEPAGE) && !IS_ALIGNED(a->size, SZ_2M))
		return -EINVAL;
	if (!(a->flags & ACCEL_BO_NUMA))
		return a->numa_node ? -EINVAL : 0;
	if (a->numa_node < 0 || a->numa_node >= MAX_NUMNODES ||
	    !node_online(a->numa_node))
		return -EINVAL;
	return 0;
}

/**
 * accelkm_bo_new() - a BO with its page array allocated and its bytes
 * charged to the caller's pinned-memory accounting, no pages yet.
 * @kind: ACCELKM_BO_ALLOC or ACCELKM_BO_USERPTR.
 * @flags: what BO_INFO reports.
 * @writable: whether mappings and commands may write it.
 * @size: page-aligned size, already validated.
 * @err: set to the error when NULL is returned.
 *
 * Until the caller counts it in accelkm.bos, undo with accelkm_bo_discard().
 */
struct accelkm_bo *accelkm_bo_new(enum accelkm_bo_kind kind, u32 flags,
				  bool writable, u64 size, int *err)
{
	struct accelkm_bo *bo;

	*err = -ENOMEM;
	bo = kzalloc(sizeof(*bo), GFP_KERNEL);
	if (!bo)
		return NULL;
	kref_init(&bo->ref);
	bo->kind = kind;
	bo->flags = flags;
	bo->writable = writable;
	bo->size = size;
	bo->npages = size >> PAGE_SHIFT;
	bo->pages = kvcalloc(bo->npages, sizeof(*bo->pages), GFP_KERNEL);
	if (!bo->pages)
		goto err_bo;
	*err = accelkm_charge(&bo->charge, bo->size);
	if (*err)
		goto err_pages;
	return bo;

err_pages:
	kvfree(bo->pages);
err_bo:
	kfree(bo);
	return NULL;
}

/* Undo accelkm_bo_new() for a BO that never got pages. */
void accelkm_bo_discard(struct accelkm_bo *bo)
{
	accelkm_uncharge(&bo->charge);
	kvfree(bo->pages);
	kfree(bo);
}

int accelkm_ioctl_bo_create(struct accelkm_file *f, struct accel_bo_create *a)
{
	struct accelkm_bo *bo;
	int node, ret;

	ret = bo_create_check(a);
	if (ret)
		return ret;
	node = (a->flags & ACCEL_BO_NUMA) ? a->numa_node : NUMA_NO_NODE;
	bo = accelkm_bo_new(ACCELKM_BO_ALLOC, a->flags, true, a->size, &ret);
	if (!bo)
		return ret;
	atomic_inc(&accelkm.bos);
	/* From here bo_release() undoes everything, partial pages included. */
	ret = bo_alloc_pages(bo, node, a->flags & ACCEL_BO_HUGEPAGE);
	if (!ret)
		ret = accelkm_bo_add_handle(f, bo, &a->handle);
	if (!ret)
		a->mmap_offset = (u64)a->handle << ACCELKM_MMAP_BO_SHIFT;
	accelkm_bo_put(bo);
	return ret;
}

int accelkm_ioctl_bo_info(struct accelkm_file *f, struct accel_bo_info *a)
{
	struct accelkm_bo *bo;

	if (a->flags || a->size || a->mmap_offset)
		return -EINVAL;
	bo = accelkm_bo_lookup(f, a->handle);
	if (!bo)
		return -ENOENT;
	a->flags = bo->flags;
	a->size = bo->size;
	a->mmap_offset = bo->kind == ACCELKM_BO_ALLOC ?
		(u64)a->handle << ACCELKM_MMAP_BO_SHIFT : 0;
	accelkm_bo_put(bo);
	return 0;
}

int accelkm_ioctl_bo_free(struct accelkm_file *f, struct accel_handle_arg *a)
{
	struct accelkm_bo *bo;

	if (a->pad)
		return -EINVAL;
	bo = xa_erase(&f->bos, a->handle);
	if (!bo)
		return -ENOENT;
	atomic64_sub(bo->size, &f->bo_bytes);
	accelkm_bo_put(bo);
	return 0;
}

/* Maps the BO's pages as PFNs: no rmap games, the vma pins the BO. */
int accelkm_bo_map_pages(struct accelkm_bo *bo, struct vm_area_struct *vma)
{
	unsigned long i, n = vma_pages(vma);
	int ret;

	if (bo->kind != ACCELKM_BO_ALLOC)
		return -EINVAL;
	if (vma->vm_pgoff > bo->npages || n > bo->npages - vma->vm_pgoff)
		return -EINVAL;
	accelkm_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	for (i = 0; i < n; i++) {
		struct page *page = bo->pages[vma->vm_pgoff + i];

		ret = remap_pfn_range(vma, vma->vm_start + i * PAGE_SIZE,
				      page_to_pfn(page), PAGE_SIZE,
				      vma->vm_page_prot);
		if (ret)
			return ret;
	}
	return 0;
}

static void bo_vm_open(struct vm_area_struct *vma)
{
	struct accelkm_bo *bo = vma->vm_private_data;

	kref_get(&bo->ref);
}

static void bo_vm_close(struct vm_area_struct *vma)
{
	accelkm_bo_put(vma->vm_private_data);
}

static const struct vm_operations_struct bo_vm_ops = {
	.open = bo_vm_open,
	.close = bo_vm_close,
};

int accelkm_bo_mmap(struct accelkm_file *f, struct vm_area_struct *vma)
{
	u64 off = (u64)vma->vm_pgoff << PAGE_SHIFT;
	unsigned long pgoff = vma->vm_pgoff;
	struct accelkm_bo *bo;
	int ret;

	if (off & ((1ULL << ACCELKM_MMAP_BO_SHIFT) - 1))
		return -EINVAL;
	bo = accelkm_bo_lookup(f, off >> ACCELKM_MMAP_BO_SHIFT);
	if (!bo)
		return -EINVAL;
	/* Offsets inside the BO are not supported: map from its start. */
	vma->vm_pgoff = 0;
	ret = accelkm_bo_map_pages(bo, vma);
	if (ret) {
		vma->vm_pgoff = pgoff;
		accelkm_bo_put(bo);
		return ret;
	}
	vma->vm_private_data = bo;
	vma->vm_ops = &bo_vm_ops;
	return 0;
}
