/* SPDX-License-Identifier: MIT */
/*
 * memory.c - device buffers (cl_mem), host<->device and device<->device
 * copies, and the per-exec input and scratch buffers.
 */
#include "opencl/internal.h"

#include <stdlib.h>
#include <string.h>

/* Consume one injected fault of |counter|, if any is pending. */
static bool take_fault(atomic_int *counter)
{
	int v = atomic_load(counter);

	while (v > 0)
		if (atomic_compare_exchange_weak(counter, &v, v - 1))
			return true;
	return false;
}

accel_status ocl_buffer(ocl_device *dev, size_t bytes, cl_mem *out)
{
	cl_int err;
	cl_mem m = NULL;

	if (take_fault(&dev->fail_alloc))
		return ocl_error(CL_MEM_OBJECT_ALLOCATION_FAILURE, "clCreateBuffer",
				 "injected failure (%zu bytes)", bytes);
	m = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, bytes ? bytes : 1, NULL, &err);
	if (!m)
		return ocl_error(err, "clCreateBuffer", "%zu bytes on %s", bytes,
				 dev->name);
	*out = m;
	return NULL;
}

accel_status ocl_alloc(ocl_device *dev, size_t bytes, void **out_mem)
{
	cl_mem m = NULL;

	if (!dev || !out_mem)
		return status_invalid("ocl_alloc: NULL argument");
	ACCEL_TRY(ocl_buffer(dev, bytes, &m));
	*out_mem = m;
	return NULL;
}

void ocl_free(ocl_device *dev, void *mem)
{
	(void)dev;
	if (mem)
		clReleaseMemObject((cl_mem)mem);
}

accel_status ocl_upload(ocl_device *dev, void *mem, const void *src, size_t bytes)
{
	if (!bytes)
		return NULL;
	OCL_CALL("clEnqueueWriteBuffer",
		 clEnqueueWriteBuffer(dev->queue, (cl_mem)mem, CL_TRUE, 0, bytes, src,
				      0, NULL, NULL));
	return NULL;
}

struct ocl_pending {
	accel_tensor *host;
	uint64_t seq;
};

accel_status ocl_upload_async(ocl_device *dev, void *mem, accel_tensor *host)
{
	cl_int err;

	if (!host->nbytes)
		return NULL;
	/* The enqueue and the append happen under one lock, so an upload on
	 * the list below a finish's mark was enqueued before its clFinish. */
	pthread_mutex_lock(&dev->pending_lock);
	if (dev->n_pending == dev->cap_pending) {
		size_t cap = dev->cap_pending ? dev->cap_pending * 2 : 16;
		struct ocl_pending *p = realloc(dev->pending, cap * sizeof(*p));

		if (!p) {
			pthread_mutex_unlock(&dev->pending_lock);
			return ocl_upload(dev, mem, host->data, host->nbytes);
		}
		dev->pending = p;
		dev->cap_pending = cap;
	}
	err = clEnqueueWriteBuffer(dev->queue, (cl_mem)mem, CL_FALSE, 0, host->nbytes,
				   host->data, 0, NULL, NULL);
	if (err != CL_SUCCESS) {
		pthread_mutex_unlock(&dev->pending_lock);
		return ocl_error(err, "clEnqueueWriteBuffer", "non-blocking, %zu bytes",
				 host->nbytes);
	}
	accel_tensor_retain(host);
	dev->pending[dev->n_pending++] = (struct ocl_pending){ host, dev->pending_seq++ };
	pthread_mutex_unlock(&dev->pending_lock);
	return NULL;
}

uint64_t ocl_pending_mark(ocl_device *dev)
{
	uint64_t seq;

	pthread_mutex_lock(&dev->pending_lock);
	seq = dev->pending_seq;
	pthread_mutex_unlock(&dev->pending_lock);
	return seq;
}

void ocl_pending_release(ocl_device *dev, uint64_t below)
{
	size_t k = 0;

	pthread_mutex_lock(&dev->pending_lock);
	while (k < dev->n_pending && dev->pending[k].seq < below)
		accel_tensor_release(dev->pending[k++].host);
	dev->n_pending -= k;
	if (k && dev->n_pending)
		memmove(dev->pending, dev->pending + k, dev->n_pending * sizeof(*dev->pending));
	pthread_mutex_unlock(&dev->pending_lock);
}

accel_status ocl_download(ocl_device *dev, void *dst, void *mem, size_t bytes)
{
	if (!bytes)
		return NULL;
	OCL_CALL("clEnqueueReadBuffer",
		 clEnqueueReadBuffer(dev->queue, (cl_mem)mem, CL_TRUE, 0, bytes, dst,
				     0, NULL, NULL));
	return NULL;
}

accel_status ocl_copy(ocl_device *dev, cl_mem src, size_t soff, cl_mem dst,
		      size_t doff, size_t bytes)
{
	if (!bytes)
		return NULL;
	OCL_CALL("clEnqueueCopyBuffer",
		 clEnqueueCopyBuffer(dev->queue, src, dst, soff, doff, bytes, 0, NULL,
				     NULL));
	return NULL;
}

accel_status ocl_scratch(ocl_ctx *c, size_t bytes, cl_mem *out)
{
	if (c->n_temps == OCL_MAX_TEMPS)
		return status_error(ACCEL_INTERNAL, "too many scratch buffers");
	ACCEL_TRY(ocl_buffer(c->dev, bytes, out));
	c->temps[c->n_temps++] = *out;
	return NULL;
}

accel_status ocl_in_mem(ocl_ctx *c, int i, cl_mem *out)
{
	const accel_tensor *t = c->in[i];
	cl_mem m = NULL;

	if (!c->on_host || !c->on_host[i]) {
		*out = (cl_mem)t->data;
		return NULL;
	}
	if (c->state && i < c->state->n_in && c->state->const_mem[i]) {
		*out = c->state->const_mem[i];
		return NULL;
	}
	/* A host value prepare did not see: upload it for this launch. The
	 * buffer is released after enqueueing; CL keeps it until the kernels
	 * using it complete. */
	ACCEL_TRY(ocl_scratch(c, t->nbytes, &m));
	ACCEL_TRY(ocl_upload(c->dev, m, t->data, t->nbytes));
	*out = m;
	return NULL;
}
