/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h - every kernel-version difference accelkm cares about, in one
 * place, so the rest of the module is written against one API (5.15..now).
 */
#ifndef ACCELKM_COMPAT_H
#define ACCELKM_COMPAT_H

#include <linux/version.h>
#include <linux/mm.h>
#include <linux/eventfd.h>
#include <linux/module.h>

/* 6.3 made vma->vm_flags read-only and added vm_flags_set(). */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
static inline void accelkm_vm_flags_set(struct vm_area_struct *vma,
					vm_flags_t flags)
{
	vma->vm_flags |= flags;
}
#else
static inline void accelkm_vm_flags_set(struct vm_area_struct *vma,
					vm_flags_t flags)
{
	vm_flags_set(vma, flags);
}
#endif

/* 6.8 dropped the count argument of eventfd_signal(). */
static inline void accelkm_eventfd_signal(struct eventfd_ctx *ctx)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 8, 0)
	eventfd_signal(ctx, 1);
#else
	eventfd_signal(ctx);
#endif
}

/* 6.13 turned the namespace argument into a string literal. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 13, 0)
#define ACCELKM_IMPORT_DMA_BUF_NS() MODULE_IMPORT_NS(DMA_BUF)
#else
#define ACCELKM_IMPORT_DMA_BUF_NS() MODULE_IMPORT_NS("DMA_BUF")
#endif

/* 6.5 removed the vmas argument of pin_user_pages(); we use the fast form. */
static inline int accelkm_pin_user_pages(unsigned long start, int nr,
					 unsigned int gup_flags,
					 struct page **pages)
{
	return pin_user_pages_fast(start, nr, gup_flags, pages);
}

/* 6.12 hid struct fd's members behind fd_file(). */
#include <linux/file.h>
#ifndef fd_file
#define fd_file(f) ((f).file)
#endif

#endif /* ACCELKM_COMPAT_H */
