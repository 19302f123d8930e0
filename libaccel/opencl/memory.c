/* SPDX-License-Identifier: MIT */
/*
 * memory.c - device buffers (cl_mem), host<->device and device<->device
 * copies, and the per-exec input and scratch buffers.
 */
#include "opencl/internal.h"

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
