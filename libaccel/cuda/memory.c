/* SPDX-License-Identifier: MIT */
/*
 * memory.c - device memory (cuMemAlloc), host<->device copies through two
 * pinned staging buffers, and the per-exec input and scratch buffers.
 *
 * Copies alternate between the staging buffers: while the device copies
 * one chunk, the host fills (upload) or drains (download) the other; an
 * event per buffer says when it may be touched again.
 */
#include "cuda/internal.h"

#include <string.h>

accel_status cuda_mem_alloc_locked(cuda_device *dev, size_t bytes, CUdeviceptr *out)
{
	CUresult r = dev->api->MemAlloc(out, bytes ? bytes : 1);

	if (r != CUDA_SUCCESS)
		return cuda_error(dev->api, r, "cuMemAlloc", "%zu bytes on %s", bytes, dev->name);
	return NULL;
}

accel_status cuda_alloc(cuda_device *dev, size_t bytes, void **out_mem)
{
	CUdeviceptr p = 0;
	accel_status st;

	if (!dev || !out_mem)
		return status_invalid("cuda_alloc: NULL argument");
	ACCEL_TRY(cuda_enter(dev));
	st = cuda_mem_alloc_locked(dev, bytes, &p);
	cuda_leave(dev);
	if (!st)
		*out_mem = (void *)(uintptr_t)p;
	return st;
}

void cuda_free(cuda_device *dev, void *mem)
{
	accel_status st;

	if (!dev || !mem)
		return;
	st = cuda_enter(dev);
	if (!st) {
		dev->api->MemFree((CUdeviceptr)(uintptr_t)mem);
		cuda_leave(dev);
	}
	accel_status_free(st); /* a free has no caller to tell */
}

/* Without pinned staging: pageable copies, waited for at once. */
static accel_status upload_direct(cuda_device *dev, CUdeviceptr dst, const void *src,
				  size_t bytes)
{
	CU_CALL(dev, "cuMemcpyHtoDAsync",
		dev->api->MemcpyHtoDAsync(dst, src, bytes, dev->stream));
	CU_CALL(dev, "cuStreamSynchronize", dev->api->StreamSynchronize(dev->stream));
	return NULL;
}

accel_status cuda_upload_locked(cuda_device *dev, CUdeviceptr dst, const void *src,
				size_t bytes)
{
	const cuda_api *api = dev->api;
	int b = 0;

	if (!dev->staging[0] || !dev->staging[1])
		return upload_direct(dev, dst, src, bytes);
	for (size_t off = 0; off < bytes; off += CUDA_STAGING_BYTES, b ^= 1) {
		size_t n = bytes - off < CUDA_STAGING_BYTES ? bytes - off : CUDA_STAGING_BYTES;

		/* The copy that last read this buffer must be done. */
		CU_CALL(dev, "cuEventSynchronize", api->EventSynchronize(dev->staged[b]));
		memcpy(dev->staging[b], (const char *)src + off, n);
		CU_CALL(dev, "cuMemcpyHtoDAsync",
			api->MemcpyHtoDAsync(dst + off, dev->staging[b], n, dev->stream));
		CU_CALL(dev, "cuEventRecord", api->EventRecord(dev->staged[b], dev->stream));
	}
	return NULL;
}

accel_status cuda_upload(cuda_device *dev, void *mem, const void *src, size_t bytes)
{
	accel_status st;

	if (!dev || !mem || (!src && bytes))
		return status_invalid("cuda_upload: NULL argument");
	if (!bytes)
		return NULL;
	ACCEL_TRY(cuda_enter(dev));
	st = cuda_upload_locked(dev, (CUdeviceptr)(uintptr_t)mem, src, bytes);
	cuda_leave(dev);
	return st;
}

static accel_status download_locked(cuda_device *dev, void *dst, CUdeviceptr src, size_t bytes)
{
	const cuda_api *api = dev->api;
	size_t prev_off = 0, prev_n = 0;
	int b = 0;

	if (!dev->staging[0] || !dev->staging[1]) {
		CU_CALL(dev, "cuMemcpyDtoHAsync", api->MemcpyDtoHAsync(dst, src, bytes, dev->stream));
		CU_CALL(dev, "cuStreamSynchronize", api->StreamSynchronize(dev->stream));
		return NULL;
	}
	/* Chunk i is queued before chunk i-1 is drained from the other buffer. */
	for (size_t off = 0; off < bytes || prev_n; off += CUDA_STAGING_BYTES, b ^= 1) {
		size_t n = off >= bytes ? 0 :
			   bytes - off < CUDA_STAGING_BYTES ? bytes - off : CUDA_STAGING_BYTES;

		if (n) {
			CU_CALL(dev, "cuMemcpyDtoHAsync",
				api->MemcpyDtoHAsync(dev->staging[b], src + off, n, dev->stream));
			CU_CALL(dev, "cuEventRecord", api->EventRecord(dev->staged[b], dev->stream));
		}
		if (prev_n) {
			CU_CALL(dev, "cuEventSynchronize", api->EventSynchronize(dev->staged[b ^ 1]));
			memcpy((char *)dst + prev_off, dev->staging[b ^ 1], prev_n);
		}
		prev_off = off;
		prev_n = n;
	}
	return NULL;
}

accel_status cuda_download(cuda_device *dev, void *dst, void *mem, size_t bytes)
{
	accel_status st;

	if (!dev || !mem || (!dst && bytes))
		return status_invalid("cuda_download: NULL argument");
	if (!bytes)
		return NULL;
	ACCEL_TRY(cuda_enter(dev));
	st = download_locked(dev, dst, (CUdeviceptr)(uintptr_t)mem, bytes);
	cuda_leave(dev);
	return st;
}

accel_status cuda_scratch(cuda_ctx *c, size_t bytes, CUdeviceptr *out)
{
	if (c->n_temps == CUDA_MAX_TEMPS)
		return status_error(ACCEL_INTERNAL, "too many CUDA scratch buffers");
	ACCEL_TRY(cuda_mem_alloc_locked(c->dev, bytes, out));
	c->temps[c->n_temps++] = *out;
	return NULL;
}

accel_status cuda_in_mem(cuda_ctx *c, int i, CUdeviceptr *out)
{
	const accel_tensor *t = c->in[i];
	CUdeviceptr m = 0;

	if (!c->on_host || !c->on_host[i]) {
		*out = (CUdeviceptr)(uintptr_t)t->data;
		return NULL;
	}
	if (c->state && i < c->state->n_in && c->state->const_mem[i]) {
		*out = c->state->const_mem[i];
		return NULL;
	}
	/* A host value prepare did not see: upload it for this exec. */
	ACCEL_TRY(cuda_scratch(c, t->nbytes, &m));
	ACCEL_TRY(cuda_upload_locked(c->dev, m, t->data, t->nbytes));
	*out = m;
	return NULL;
}
