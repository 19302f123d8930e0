/* SPDX-License-Identifier: MIT */
/*
 * program.c - building OpenCL programs (once per device and source, with the
 * build log in the error) and launching their kernels.
 *
 * The cache lives in the device: a list of programs keyed by source and a
 * list of kernel objects keyed by name. A cl_kernel holds its arguments, so
 * setting them and enqueueing happen under the device lock.
 */
#include "opencl/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUILD_OPTIONS "-cl-std=CL1.2 -cl-mad-enable"

static accel_status build(ocl_device *dev, const char *src, cl_program *out)
{
	cl_int err;
	cl_program p = clCreateProgramWithSource(dev->ctx, 1, &src, NULL, &err);
	char log[3000] = "";
	size_t len = 0;

	if (!p)
		return ocl_error(err, "clCreateProgramWithSource", NULL);
	err = clBuildProgram(p, 1, &dev->id, BUILD_OPTIONS, NULL, NULL);
	if (err != CL_SUCCESS) {
		if (clGetProgramBuildInfo(p, dev->id, CL_PROGRAM_BUILD_LOG,
					  sizeof(log) - 1, log, &len) != CL_SUCCESS)
			snprintf(log, sizeof(log), "(no build log)");
		log[sizeof(log) - 1] = 0;
		clReleaseProgram(p);
		return ocl_error(err, "clBuildProgram", "%s: %s", dev->name, log);
	}
	*out = p;
	return NULL;
}

/* Caller holds dev->lock. */
static accel_status program_get_locked(ocl_device *dev, const char *src,
				       cl_program *out)
{
	ocl_program_entry *e;
	int v = atomic_load(&dev->fail_build);

	while (v > 0)
		if (atomic_compare_exchange_weak(&dev->fail_build, &v, v - 1))
			return ocl_error(CL_BUILD_PROGRAM_FAILURE, "clBuildProgram",
					 "%s: injected failure", dev->name);
	for (e = dev->programs; e; e = e->next)
		if (e->src == src || !strcmp(e->src, src)) {
			*out = e->prog;
			return NULL;
		}
	e = calloc(1, sizeof(*e));
	if (!e)
		return status_oom("program cache entry");
	{
		accel_status st = build(dev, src, &e->prog);

		if (st) {
			free(e);
			return st;
		}
	}
	e->src = src;
	e->next = dev->programs;
	dev->programs = e;
	*out = e->prog;
	return NULL;
}

accel_status ocl_program_get(ocl_device *dev, const char *src, cl_program *out)
{
	accel_status st;

	pthread_mutex_lock(&dev->lock);
	st = program_get_locked(dev, src, out);
	pthread_mutex_unlock(&dev->lock);
	return st;
}

static accel_status kernel_get_locked(ocl_device *dev, const char *src,
				      const char *name, cl_kernel *out)
{
	ocl_kernel_entry *e;
	cl_program prog;
	cl_int err;

	ACCEL_TRY(program_get_locked(dev, src, &prog));
	for (e = dev->kernels; e; e = e->next)
		if (!strcmp(e->name, name)) {
			*out = e->kernel;
			return NULL;
		}
	e = calloc(1, sizeof(*e));
	if (!e)
		return status_oom("kernel cache entry");
	e->kernel = clCreateKernel(prog, name, &err);
	if (!e->kernel) {
		free(e);
		return ocl_error(err, "clCreateKernel", "'%s'", name);
	}
	e->name = strdup(name);
	if (!e->name) {
		clReleaseKernel(e->kernel);
		free(e);
		return status_oom("kernel cache entry");
	}
	e->next = dev->kernels;
	dev->kernels = e;
	*out = e->kernel;
	return NULL;
}

static accel_status launch_locked(ocl_device *dev, const char *src, const char *name,
				  cl_uint dims, const size_t *gws, const size_t *lws,
				  int n_args, const ocl_arg *args)
{
	size_t g[3];
	cl_kernel k;
	cl_int err;

	ACCEL_TRY(kernel_get_locked(dev, src, name, &k));
	for (int i = 0; i < n_args; i++) {
		err = clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].ptr);
		if (err != CL_SUCCESS)
			return ocl_error(err, "clSetKernelArg", "%s argument %d", name, i);
	}
	for (cl_uint d = 0; d < dims; d++) {
		g[d] = lws ? ocl_round_up(gws[d], lws[d]) : gws[d];
		if (!g[d])
			return NULL; /* nothing to do */
	}
	err = clEnqueueNDRangeKernel(dev->queue, k, dims, NULL, g, lws, 0, NULL, NULL);
	if (err != CL_SUCCESS)
		return ocl_error(err, "clEnqueueNDRangeKernel", "%s", name);
	return NULL;
}

accel_status ocl_launch(ocl_device *dev, const char *src, const char *name,
			cl_uint dims, const size_t *gws, const size_t *lws,
			int n_args, const ocl_arg *args)
{
	accel_status st;

	pthread_mutex_lock(&dev->lock);
	st = launch_locked(dev, src, name, dims, gws, lws, n_args, args);
	pthread_mutex_unlock(&dev->lock);
	return st;
}

accel_status ocl_launch_1d(ocl_device *dev, const char *src, const char *name,
			   size_t n, int n_args, const ocl_arg *args)
{
	size_t lws = 64;

	if (lws > dev->max_wg)
		lws = dev->max_wg;
	return ocl_launch(dev, src, name, 1, &n, &lws, n_args, args);
}
