// SPDX-License-Identifier: GPL-2.0
/*
 * dmabuf.c - export a BO as a dma-buf fd and import one back, in this or
 * another process. The dma-buf holds a BO reference, so the pages (and
 * their memlock charge) live until the last fd, mapping or attachment goes.
 *
 * Importing a dma-buf from another exporter is refused (-EOPNOTSUPP): the
 * kernel executes commands with the CPU and needs struct pages. Importing a
 * read-only dma-buf fd is refused (-EACCES): handles are writable.
 */
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/fcntl.h>

#include "accelkm.h"

static struct sg_table *accelkm_dmabuf_map(struct dma_buf_attachment *at,
					   enum dma_data_direction dir)
{
	struct accelkm_bo *bo = at->dmabuf->priv;
	struct sg_table *sgt;
	int ret;

	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	ret = sg_alloc_table_from_pages(sgt, bo->pages, bo->npages, 0,
					bo->size, GFP_KERNEL);
	if (ret)
		goto err_free;
	ret = dma_map_sgtable(at->dev, sgt, dir, 0);
	if (ret)
		goto err_table;
	return sgt;

err_table:
	sg_free_table(sgt);
err_free:
	kfree(sgt);
	return ERR_PTR(ret);
}

static void accelkm_dmabuf_unmap(struct dma_buf_attachment *at,
				 struct sg_table *sgt,
				 enum dma_data_direction dir)
{
	dma_unmap_sgtable(at->dev, sgt, dir, 0);
	sg_free_table(sgt);
	kfree(sgt);
}

static void accelkm_dmabuf_release(struct dma_buf *dmabuf)
{
	accelkm_bo_put(dmabuf->priv);
}

static int accelkm_dmabuf_mmap(struct dma_buf *dmabuf,
			       struct vm_area_struct *vma)
{
	if (!(vma->vm_flags & VM_MAYSHARE))	/* MAP_SHARED */
		return -EINVAL;
	/* vma->vm_file is the dma-buf's file: it keeps the BO alive. */
	return accelkm_bo_map_pages(dmabuf->priv, vma);
}

static const struct dma_buf_ops accelkm_dmabuf_ops = {
	.map_dma_buf = accelkm_dmabuf_map,
	.unmap_dma_buf = accelkm_dmabuf_unmap,
	.release = accelkm_dmabuf_release,
	.mmap = accelkm_dmabuf_mmap,
};

int accelkm_ioctl_bo_export(struct accelkm_file *f, struct accel_fd_arg *a)
{
	DEFINE_DMA_BUF_EXPORT_INFO(info);
	struct accelkm_bo *bo;
	struct dma_buf *dmabuf;
	int fd;

	if (a->flags & ~(O_CLOEXEC | O_ACCMODE) || a->fd || a->pad || a->size)
		return -EINVAL;
	if ((a->flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	bo = accelkm_bo_lookup(f, a->handle);
	if (!bo)
		return -ENOENT;
	/* Pinned user memory stays with its process. */
	if (bo->kind != ACCELKM_BO_ALLOC) {
		accelkm_bo_put(bo);
		return -EINVAL;
	}
	info.ops = &accelkm_dmabuf_ops;
	info.size = bo->size;
	info.flags = a->flags & O_ACCMODE;
	info.priv = bo;		/* the dma-buf owns our reference */
	dmabuf = dma_buf_export(&info);
	if (IS_ERR(dmabuf)) {
		accelkm_bo_put(bo);
		return PTR_ERR(dmabuf);
	}
	fd = dma_buf_fd(dmabuf, a->flags & O_CLOEXEC);
	if (fd < 0) {
		dma_buf_put(dmabuf);	/* releases the BO reference */
		return fd;
	}
	a->fd = fd;
	a->size = bo->size;
	return 0;
}

int accelkm_ioctl_bo_import(struct accelkm_file *f, struct accel_fd_arg *a)
{
	struct dma_buf *dmabuf;
	struct accelkm_bo *bo;
	int ret;

	if (a->flags || a->handle || a->pad || a->size)
		return -EINVAL;
	dmabuf = dma_buf_get(a->fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	if (dmabuf->ops != &accelkm_dmabuf_ops) {
		ret = -EOPNOTSUPP;
		goto out;
	}
	/* A handle can write through COPY/FILL: a read-only fd is not enough. */
	if (!(dmabuf->file->f_mode & FMODE_WRITE)) {
		ret = -EACCES;
		goto out;
	}
	bo = dmabuf->priv;
	ret = accelkm_bo_add_handle(f, bo, &a->handle);
	if (!ret)
		a->size = bo->size;
out:
	dma_buf_put(dmabuf);
	return ret;
}
