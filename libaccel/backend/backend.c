/* SPDX-License-Identifier: MIT */
/* backend.c - discovery across backends and host<->device tensor moves. */
#include "backend/backend.h"
#include "backend/devmem.h"
#include "core/hostmem.h"

#include <stdlib.h>
#include <string.h>

typedef accel_status (*discover_fn)(backend_device **devs, size_t *count);

#ifdef ACCEL_HAVE_OPENCL
accel_status backend_opencl_discover(backend_device **devs, size_t *count);
#endif
#ifdef ACCEL_HAVE_CUDA
accel_status backend_cuda_discover(backend_device **devs, size_t *count);
#endif

/* Each compiled-in backend's discovery; see backend/<name>.c. */
static const discover_fn discoverers[] = {
#ifdef ACCEL_HAVE_OPENCL
	backend_opencl_discover,
#endif
#ifdef ACCEL_HAVE_CUDA
	backend_cuda_discover,
#endif
	NULL, /* keeps the array non-empty when no backend is compiled in */
};

accel_status backend_discover_all(backend_device **devs, size_t *count)
{
	for (size_t i = 0; i < sizeof(discoverers) / sizeof(discoverers[0]); i++) {
		size_t first = *count;

		if (!discoverers[i])
			continue;
		ACCEL_TRY(discoverers[i](devs, count));
		for (size_t k = first; k < *count; k++)
			backend_device_attach_cache(&(*devs)[k]);
	}
	return NULL;
}

void backend_device_attach_cache(backend_device *d)
{
	const char *off = getenv("ACCEL_NO_DEVMEM_CACHE");

	d->devmem = NULL;
	if (off && *off && strcmp(off, "0"))
		return;
	accel_status_free(devmem_create(d->ops, d->impl, NULL, &d->devmem));
}

void backend_device_detach_cache(backend_device *d)
{
	devmem_destroy(d->devmem);
	d->devmem = NULL;
}

static void device_free(void *ctx, void *mem)
{
	const backend_device *d = ctx;

	if (!mem)
		return;
	if (d->devmem)
		devmem_free(d->devmem, mem);
	else
		d->ops->free(d->impl, mem);
}

accel_status backend_tensor_alloc(const backend_device *d, accel_tensor *t)
{
	int64_t n = tensor_numel(t);
	size_t es = accel_dtype_size(t->dtype), bytes;
	void *mem = NULL;

	if (n < 0 || !es)
		return status_error(ACCEL_INTERNAL, "device tensor of unknown shape or type");
	t->nbytes = (size_t)n * es;
	bytes = t->nbytes ? t->nbytes : 1;
	ACCEL_TRY(status_annotate(d->devmem ? devmem_alloc(d->devmem, bytes, &mem)
					    : d->ops->alloc(d->impl, bytes, &mem),
				  "%s: allocating %zu bytes", d->name, t->nbytes));
	t->data = mem;
	t->on_device = true;
	t->owns_data = false;
	t->free_fn = device_free;
	t->free_ctx = (void *)d;
	return NULL;
}

accel_status backend_tensor_upload(const backend_device *d, const accel_tensor *host,
				   accel_tensor **out_dev)
{
	accel_tensor *t = NULL;
	accel_status st;

	ACCEL_TRY(tensor_new_shape(host->dtype, host->rank, host->dims, &t));
	st = backend_tensor_alloc(d, t);
	if (!st && host->nbytes)
		st = status_annotate(d->ops->upload_async
					     ? d->ops->upload_async(d->impl, t->data,
								    (accel_tensor *)host)
					     : d->ops->upload(d->impl, t->data, host->data,
							      host->nbytes),
				     "%s: upload of %zu bytes", d->name, host->nbytes);
	if (st) {
		accel_tensor_release(t);
		return st;
	}
	*out_dev = t;
	return NULL;
}

static void staging_free(void *ctx, void *mem)
{
	struct hostmem_block *b = ctx;

	hostmem_free(b->hm, b);
}

/*
 * Give |t| storage from the device's host staging memory (pinned when the
 * kernel module is loaded, so a backend can register it for DMA). False
 * when there is none or it is exhausted (RLIMIT_MEMLOCK, the module's
 * caps): ordinary memory then serves as well.
 */
static bool staging_alloc(const backend_device *d, accel_tensor *t)
{
	int64_t n = tensor_numel(t);
	size_t es = accel_dtype_size(t->dtype);
	struct hostmem_block *b;
	accel_status st;

	if (!d->hostmem || n <= 0 || !es || (uint64_t)n > SIZE_MAX / es)
		return false;
	st = hostmem_alloc(d->hostmem, (size_t)n * es, d->host_node, &b);
	if (st) {
		accel_status_free(st);
		return false;
	}
	t->data = b->ptr;	/* page-aligned and zeroed */
	t->nbytes = b->size;
	t->owns_data = false;
	t->free_fn = staging_free;
	t->free_ctx = b;
	return true;
}

accel_status backend_tensor_download(const backend_device *d, const accel_tensor *dev,
				     accel_tensor **out_host)
{
	accel_tensor *t = NULL;
	accel_status st;

	ACCEL_TRY(tensor_new_shape(dev->dtype, dev->rank, dev->dims, &t));
	st = staging_alloc(d, t) ? NULL : tensor_alloc(t);
	if (!st && t->nbytes)
		st = d->ops->download(d->impl, t->data, dev->data, t->nbytes);
	if (st) {
		accel_tensor_release(t);
		return status_annotate(st, "%s: download of %zu bytes", d->name, dev->nbytes);
	}
	*out_host = t;
	return NULL;
}
