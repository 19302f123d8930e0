/* SPDX-License-Identifier: MIT */
/*
 * device.c - CUDA device discovery, device objects (primary context, one
 * stream, pinned staging buffers), CUresult reporting, and entering a
 * device's context for a sequence of driver calls.
 */
#include "cuda/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cuda_err_name(const cuda_api *api, CUresult r)
{
	static _Thread_local char buf[32];
	const char *s = NULL;

	if (api && api->GetErrorName && api->GetErrorName(r, &s) == CUDA_SUCCESS && s)
		return s;
	snprintf(buf, sizeof(buf), "CUresult %d", (int)r);
	return buf;
}

accel_status cuda_error(const cuda_api *api, CUresult r, const char *call, const char *fmt, ...)
{
	accel_status_code code = ACCEL_INTERNAL;
	const char *desc = NULL;
	char detail[1024] = "";
	va_list ap;

	if (r == CUDA_ERROR_OUT_OF_MEMORY)
		code = ACCEL_OUT_OF_MEMORY;
	else if (r == CUDA_ERROR_NO_DEVICE || r == CUDA_ERROR_INVALID_DEVICE ||
		 r == CUDA_ERROR_NOT_INITIALIZED || r == CUDA_ERROR_DEINITIALIZED ||
		 r == CUDA_ERROR_NO_BINARY_FOR_GPU)
		code = ACCEL_UNAVAILABLE;
	if (api && api->GetErrorString && api->GetErrorString(r, &desc) != CUDA_SUCCESS)
		desc = NULL;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	return status_error(code, "%s: %s%s%s%s%s%s", call, cuda_err_name(api, r),
			    desc ? " (" : "", desc ? desc : "", desc ? ")" : "",
			    *detail ? ": " : "", detail);
}

accel_status cuda_enter(cuda_device *dev)
{
	CUresult r;

	pthread_mutex_lock(&dev->lock);
	r = dev->api->CtxPushCurrent(dev->ctx);
	if (r != CUDA_SUCCESS) {
		pthread_mutex_unlock(&dev->lock);
		return cuda_error(dev->api, r, "cuCtxPushCurrent", "%s", dev->name);
	}
	return NULL;
}

void cuda_leave(cuda_device *dev)
{
	CUcontext prev;

	dev->api->CtxPopCurrent(&prev);
	pthread_mutex_unlock(&dev->lock);
}

const char *cuda_device_name(const cuda_device *dev)
{
	return dev ? dev->name : "";
}

const char *cuda_device_pci_bus_id(const cuda_device *dev)
{
	return dev && dev->pci[0] ? dev->pci : NULL;
}

/* Everything device_open set up, in reverse; safe on a partial device. */
void cuda_device_destroy(cuda_device *dev)
{
	const cuda_api *api;
	CUcontext prev;
	bool live;

	if (!dev)
		return;
	api = dev->api;
	/* Without a current context only host memory can be given back. */
	live = dev->ctx && api->CtxPushCurrent(dev->ctx) == CUDA_SUCCESS;
	if (live && dev->stream)
		api->StreamSynchronize(dev->stream);
	if (live && dev->blas)
		api->cublasDestroy(dev->blas);
	for (cuda_func_entry *f = dev->funcs, *nf; f; f = nf) {
		nf = f->next;
		free(f->name);
		free(f);
	}
	for (cuda_module_entry *m = dev->modules, *nm; m; m = nm) {
		nm = m->next;
		if (live)
			api->ModuleUnload(m->mod);
		free(m);
	}
	for (int i = 0; i < CUDA_N_STAGING; i++) {
		if (live && dev->staged[i])
			api->EventDestroy(dev->staged[i]);
		if (dev->staging[i]) {
			if (live)
				api->MemHostUnregister(dev->staging[i]);
			free(dev->staging[i]);
		}
	}
	if (live && dev->stream)
		api->StreamDestroy(dev->stream);
	if (live)
		api->CtxPopCurrent(&prev);
	if (dev->ctx)
		api->PrimaryCtxRelease(dev->dev);
	pthread_mutex_destroy(&dev->lock);
	cuda_api_put(dev->api);
	free(dev);
}

/* Pinned staging: page-locked host memory lets the async copies run at
 * full speed. A host that refuses to pin keeps pageable buffers (slower,
 * still correct). */
static accel_status staging_open(cuda_device *dev)
{
	const cuda_api *api = dev->api;

	for (int i = 0; i < CUDA_N_STAGING; i++) {
		void *p = aligned_alloc(4096, CUDA_STAGING_BYTES);

		if (!p)
			return status_oom("CUDA staging buffers");
		if (api->MemHostRegister(p, CUDA_STAGING_BYTES, 0) != CUDA_SUCCESS) {
			free(p);
			p = NULL;
		}
		dev->staging[i] = p;
		CU_CALL(dev, "cuEventCreate",
			api->EventCreate(&dev->staged[i], CU_EVENT_DISABLE_TIMING));
	}
	return NULL;
}

static accel_status device_open(cuda_api *api, int ordinal, cuda_device **out)
{
	cuda_device *dev = calloc(1, sizeof(*dev));
	char name[256] = "";
	int major = 0, minor = 0;
	CUcontext prev;
	accel_status st = NULL;
	CUresult r;

	if (!dev)
		return status_oom("a CUDA device");
	atomic_fetch_add(&api->refs, 1);
	dev->api = api;
	dev->ordinal = ordinal;
	pthread_mutex_init(&dev->lock, NULL);
	if ((r = api->DeviceGet(&dev->dev, ordinal)) != CUDA_SUCCESS ||
	    (r = api->DeviceGetName(name, sizeof(name), dev->dev)) != CUDA_SUCCESS ||
	    (r = api->DeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
					 dev->dev)) != CUDA_SUCCESS ||
	    (r = api->DeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
					 dev->dev)) != CUDA_SUCCESS ||
	    (r = api->DeviceGetAttribute(&dev->sm_count, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
					 dev->dev)) != CUDA_SUCCESS) {
		st = cuda_error(api, r, "cuDeviceGet*", "device %d", ordinal);
		goto fail;
	}
	dev->arch = major * 10 + minor;
	if (api->DeviceGetPCIBusId(dev->pci, sizeof(dev->pci), dev->dev) != CUDA_SUCCESS)
		dev->pci[0] = '\0';
	snprintf(dev->name, sizeof(dev->name), "%s (sm_%d)", name, dev->arch);
	if ((r = api->PrimaryCtxRetain(&dev->ctx, dev->dev)) != CUDA_SUCCESS) {
		dev->ctx = NULL;
		st = cuda_error(api, r, "cuDevicePrimaryCtxRetain", "%s", dev->name);
		goto fail;
	}
	if ((r = api->CtxPushCurrent(dev->ctx)) != CUDA_SUCCESS) {
		st = cuda_error(api, r, "cuCtxPushCurrent", "%s", dev->name);
		goto fail;
	}
	r = api->StreamCreate(&dev->stream, CU_STREAM_NON_BLOCKING);
	if (r != CUDA_SUCCESS) {
		dev->stream = NULL;
		st = cuda_error(api, r, "cuStreamCreate", "%s", dev->name);
	}
	if (!st)
		st = staging_open(dev);
	api->CtxPopCurrent(&prev);
	if (st)
		goto fail;
	*out = dev;
	return NULL;
fail:
	cuda_device_destroy(dev);
	return st;
}

accel_status cuda_discover(cuda_device ***out_devices, size_t *out_count)
{
	cuda_api *api = NULL;
	cuda_device **devs = NULL;
	int n = 0;
	accel_status st = NULL;
	CUresult r;

	*out_devices = NULL;
	*out_count = 0;
	ACCEL_TRY(cuda_api_open(&api));
	if (!api)
		return NULL;
	r = api->Init(0);
	if (r == CUDA_ERROR_NO_DEVICE)
		goto out;
	if (r != CUDA_SUCCESS) {
		st = cuda_error(api, r, "cuInit", NULL);
		goto out;
	}
	api->DriverGetVersion(&api->driver_version);
	if ((r = api->DeviceGetCount(&n)) != CUDA_SUCCESS) {
		st = cuda_error(api, r, "cuDeviceGetCount", NULL);
		goto out;
	}
	if (n <= 0)
		goto out;
	devs = calloc((size_t)n, sizeof(*devs));
	if (!devs) {
		st = status_oom("the CUDA device list");
		goto out;
	}
	for (int i = 0; i < n && !st; i++)
		st = device_open(api, i, &devs[i]);
	if (st) {
		for (int i = 0; i < n; i++)
			cuda_device_destroy(devs[i]);
		free(devs);
		goto out;
	}
	*out_devices = devs;
	*out_count = (size_t)n;
out:
	cuda_api_put(api); /* the devices hold their own references */
	return st;
}
