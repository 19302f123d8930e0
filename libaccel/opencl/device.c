/* SPDX-License-Identifier: MIT */
/*
 * device.c - OpenCL device discovery through the ICD loader, device
 * objects, CL error names, and the fault-injection hook.
 *
 * The devices of one platform share a context so that buffers can move
 * between them with clEnqueueCopyBuffer; each device has its own in-order
 * queue.
 */
#include "opencl/internal.h"

#include <CL/cl_ext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* NVIDIA's pre-KHR topology attributes (cl_nv_device_attribute_query). */
#define OCL_DEVICE_PCI_BUS_ID_NV 0x4008
#define OCL_DEVICE_PCI_SLOT_ID_NV 0x4009
#define OCL_DEVICE_PCI_DOMAIN_ID_NV 0x400A

const char *ocl_err_name(cl_int err)
{
	static _Thread_local char buf[32];

	switch (err) {
#define E(x) case x: return #x;
	E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE)
	E(CL_COMPILER_NOT_AVAILABLE) E(CL_MEM_OBJECT_ALLOCATION_FAILURE)
	E(CL_OUT_OF_RESOURCES) E(CL_OUT_OF_HOST_MEMORY)
	E(CL_PROFILING_INFO_NOT_AVAILABLE) E(CL_MEM_COPY_OVERLAP)
	E(CL_IMAGE_FORMAT_MISMATCH) E(CL_IMAGE_FORMAT_NOT_SUPPORTED)
	E(CL_BUILD_PROGRAM_FAILURE) E(CL_MAP_FAILURE)
	E(CL_MISALIGNED_SUB_BUFFER_OFFSET)
	E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
	E(CL_COMPILE_PROGRAM_FAILURE) E(CL_LINKER_NOT_AVAILABLE)
	E(CL_LINK_PROGRAM_FAILURE) E(CL_DEVICE_PARTITION_FAILED)
	E(CL_KERNEL_ARG_INFO_NOT_AVAILABLE) E(CL_INVALID_VALUE)
	E(CL_INVALID_DEVICE_TYPE) E(CL_INVALID_PLATFORM) E(CL_INVALID_DEVICE)
	E(CL_INVALID_CONTEXT) E(CL_INVALID_QUEUE_PROPERTIES)
	E(CL_INVALID_COMMAND_QUEUE) E(CL_INVALID_HOST_PTR)
	E(CL_INVALID_MEM_OBJECT) E(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
	E(CL_INVALID_IMAGE_SIZE) E(CL_INVALID_SAMPLER) E(CL_INVALID_BINARY)
	E(CL_INVALID_BUILD_OPTIONS) E(CL_INVALID_PROGRAM)
	E(CL_INVALID_PROGRAM_EXECUTABLE) E(CL_INVALID_KERNEL_NAME)
	E(CL_INVALID_KERNEL_DEFINITION) E(CL_INVALID_KERNEL)
	E(CL_INVALID_ARG_INDEX) E(CL_INVALID_ARG_VALUE) E(CL_INVALID_ARG_SIZE)
	E(CL_INVALID_KERNEL_ARGS) E(CL_INVALID_WORK_DIMENSION)
	E(CL_INVALID_WORK_GROUP_SIZE) E(CL_INVALID_WORK_ITEM_SIZE)
	E(CL_INVALID_GLOBAL_OFFSET) E(CL_INVALID_EVENT_WAIT_LIST)
	E(CL_INVALID_EVENT) E(CL_INVALID_OPERATION) E(CL_INVALID_GL_OBJECT)
	E(CL_INVALID_BUFFER_SIZE) E(CL_INVALID_MIP_LEVEL)
	E(CL_INVALID_GLOBAL_WORK_SIZE) E(CL_INVALID_PROPERTY)
	E(CL_INVALID_IMAGE_DESCRIPTOR) E(CL_INVALID_COMPILER_OPTIONS)
	E(CL_INVALID_LINKER_OPTIONS) E(CL_INVALID_DEVICE_PARTITION_COUNT)
	E(CL_PLATFORM_NOT_FOUND_KHR)
#undef E
	}
	snprintf(buf, sizeof(buf), "CL_ERROR(%d)", (int)err);
	return buf;
}

accel_status ocl_error(cl_int err, const char *call, const char *fmt, ...)
{
	accel_status_code code = ACCEL_INTERNAL;
	char detail[4096] = "";
	va_list ap;

	if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_HOST_MEMORY ||
	    err == CL_OUT_OF_RESOURCES)
		code = ACCEL_OUT_OF_MEMORY;
	else if (err == CL_DEVICE_NOT_AVAILABLE || err == CL_DEVICE_NOT_FOUND ||
		 err == CL_COMPILER_NOT_AVAILABLE)
		code = ACCEL_UNAVAILABLE;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	return status_error(code, "%s: %s%s%s", call, ocl_err_name(err),
			    fmt ? ": " : "", detail);
}

static void info_string(cl_device_id id, cl_device_info what, char *buf, size_t len)
{
	size_t got = 0;

	buf[0] = 0;
	if (clGetDeviceInfo(id, what, len - 1, buf, &got) != CL_SUCCESS)
		buf[0] = 0;
	buf[len - 1] = 0;
}

static void read_pci(ocl_device *dev)
{
	char ext[8192];
	cl_device_pci_bus_info_khr bi;
	cl_uint bus, slot, dom = 0;

	info_string(dev->id, CL_DEVICE_EXTENSIONS, ext, sizeof(ext));
	if (strstr(ext, "cl_khr_pci_bus_info") &&
	    clGetDeviceInfo(dev->id, CL_DEVICE_PCI_BUS_INFO_KHR, sizeof(bi), &bi,
			    NULL) == CL_SUCCESS) {
		snprintf(dev->pci, sizeof(dev->pci), "%04x:%02x:%02x.%x",
			 bi.pci_domain, bi.pci_bus, bi.pci_device, bi.pci_function);
		dev->has_pci = true;
	} else if (strstr(ext, "cl_nv_device_attribute_query") &&
		   clGetDeviceInfo(dev->id, OCL_DEVICE_PCI_BUS_ID_NV, sizeof(bus),
				   &bus, NULL) == CL_SUCCESS &&
		   clGetDeviceInfo(dev->id, OCL_DEVICE_PCI_SLOT_ID_NV, sizeof(slot),
				   &slot, NULL) == CL_SUCCESS) {
		if (clGetDeviceInfo(dev->id, OCL_DEVICE_PCI_DOMAIN_ID_NV,
				    sizeof(dom), &dom, NULL) != CL_SUCCESS)
			dom = 0;
		/* The NV slot id packs device << 3 | function. */
		snprintf(dev->pci, sizeof(dev->pci), "%04x:%02x:%02x.%x", dom,
			 bus & 0xff, (slot >> 3) & 0x1f, slot & 7);
		dev->has_pci = true;
	}
}

static accel_status device_new(cl_platform_id plat, cl_device_id id,
			       cl_context ctx, ocl_device **out)
{
	ocl_device *dev = calloc(1, sizeof(*dev));
	cl_int err;

	if (!dev)
		return status_oom("OpenCL device");
	dev->platform = plat;
	dev->id = id;
	dev->ctx = ctx;
	dev->queue = clCreateCommandQueue(ctx, id, 0, &err);
	if (!dev->queue) {
		free(dev);
		return ocl_error(err, "clCreateCommandQueue", NULL);
	}
	clRetainContext(ctx);
	info_string(id, CL_DEVICE_NAME, dev->name, sizeof(dev->name));
	if (clGetDeviceInfo(id, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof(dev->max_wg),
			    &dev->max_wg, NULL) != CL_SUCCESS)
		dev->max_wg = 64;
	{
		cl_device_type type = 0;

		if (clGetDeviceInfo(id, CL_DEVICE_TYPE, sizeof(type), &type, NULL) == CL_SUCCESS)
			dev->is_cpu = (type & CL_DEVICE_TYPE_CPU) != 0;
	}
	read_pci(dev);
	pthread_mutex_init(&dev->lock, NULL);
	pthread_mutex_init(&dev->pending_lock, NULL);
	ocl_check_init(dev);
	*out = dev;
	return NULL;
}

/* Append the devices of one platform to *devs (grown as needed). */
static accel_status discover_platform(cl_platform_id plat, ocl_device ***devs,
				      size_t *n, size_t *cap)
{
	cl_uint nd = 0;
	cl_device_id *ids;
	cl_context ctx;
	cl_int err;
	accel_status st = NULL;

	err = clGetDeviceIDs(plat, CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
	if (err == CL_DEVICE_NOT_FOUND || nd == 0)
		return NULL;
	if (err != CL_SUCCESS)
		return ocl_error(err, "clGetDeviceIDs", NULL);
	ids = calloc(nd, sizeof(*ids));
	if (!ids)
		return status_oom("OpenCL device ids");
	err = clGetDeviceIDs(plat, CL_DEVICE_TYPE_ALL, nd, ids, NULL);
	if (err != CL_SUCCESS) {
		free(ids);
		return ocl_error(err, "clGetDeviceIDs", NULL);
	}
	ctx = clCreateContext((cl_context_properties[]){ CL_CONTEXT_PLATFORM,
							 (cl_context_properties)plat, 0 },
			      nd, ids, NULL, NULL, &err);
	if (!ctx) {
		free(ids);
		return ocl_error(err, "clCreateContext", NULL);
	}
	for (cl_uint i = 0; i < nd && !st; i++) {
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 4;
			ocl_device **g = realloc(*devs, nc * sizeof(**devs));

			if (!g) {
				st = status_oom("OpenCL device list");
				break;
			}
			*devs = g;
			*cap = nc;
		}
		st = device_new(plat, ids[i], ctx, &(*devs)[*n]);
		if (!st)
			(*n)++;
	}
	clReleaseContext(ctx); /* each device holds its own reference */
	free(ids);
	return st;
}

accel_status ocl_discover(ocl_device ***out_devices, size_t *out_count)
{
	cl_uint np = 0;
	cl_platform_id *plats;
	ocl_device **devs = NULL;
	size_t n = 0, cap = 0;
	accel_status st = NULL;
	cl_int err;

	if (!out_devices || !out_count)
		return status_invalid("ocl_discover: NULL argument");
	*out_devices = NULL;
	*out_count = 0;
	err = clGetPlatformIDs(0, NULL, &np);
	/* No ICD installed, or none with platforms: no devices, no error. */
	if (err == CL_PLATFORM_NOT_FOUND_KHR || np == 0)
		return NULL;
	if (err != CL_SUCCESS)
		return ocl_error(err, "clGetPlatformIDs", NULL);
	plats = calloc(np, sizeof(*plats));
	if (!plats)
		return status_oom("OpenCL platforms");
	err = clGetPlatformIDs(np, plats, NULL);
	if (err != CL_SUCCESS) {
		free(plats);
		return ocl_error(err, "clGetPlatformIDs", NULL);
	}
	for (cl_uint p = 0; p < np && !st; p++)
		st = discover_platform(plats[p], &devs, &n, &cap);
	free(plats);
	if (st) {
		for (size_t i = 0; i < n; i++)
			ocl_device_destroy(devs[i]);
		free(devs);
		return st;
	}
	*out_devices = devs;
	*out_count = n;
	return NULL;
}

void ocl_device_destroy(ocl_device *dev)
{
	if (!dev)
		return;
	clFinish(dev->queue);
	ocl_pending_release(dev, UINT64_MAX);
	free(dev->pending);
	pthread_mutex_destroy(&dev->pending_lock);
	while (dev->kernels) {
		ocl_kernel_entry *k = dev->kernels;

		dev->kernels = k->next;
		clReleaseKernel(k->kernel);
		free(k->name);
		free(k);
	}
	while (dev->programs) {
		ocl_program_entry *p = dev->programs;

		dev->programs = p->next;
		clReleaseProgram(p->prog);
		free(p);
	}
	ocl_check_fini(dev);
	clReleaseCommandQueue(dev->queue);
	clReleaseContext(dev->ctx);
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}

const char *ocl_device_name(const ocl_device *dev)
{
	return dev ? dev->name : NULL;
}

const char *ocl_device_pci_bus_id(const ocl_device *dev)
{
	return dev && dev->has_pci ? dev->pci : NULL;
}

accel_status ocl_finish(ocl_device *dev)
{
	uint64_t mark = ocl_pending_mark(dev);

	OCL_CALL("clFinish", clFinish(dev->queue));
	/* the uploads enqueued before clFinish are done: drop their hosts */
	ocl_pending_release(dev, mark);
	return NULL;
}

void ocl_inject_failure(ocl_device *dev, int kind, int count)
{
	if (kind == OCL_FAULT_BUILD)
		atomic_store(&dev->fail_build, count);
	else if (kind == OCL_FAULT_ALLOC)
		atomic_store(&dev->fail_alloc, count);
}
