/* SPDX-License-Identifier: MIT */
/*
 * opencl.c - the OpenCL devices (libaccel/opencl/) behind the backend
 * interface. Every device of every ICD platform becomes opencl:N in
 * discovery order; a host without an OpenCL platform simply has none.
 */
#include "backend/backend.h"
#include "opencl/opencl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cl_destroy(void *impl)
{
	ocl_device_destroy(impl);
}

static bool cl_supports(void *impl, const ir_node *n, accel_tensor *const *in, int n_in)
{
	return ocl_supports(impl, n, in, n_in);
}

static accel_status cl_alloc(void *impl, size_t bytes, void **out)
{
	return ocl_alloc(impl, bytes, out);
}

static void cl_free(void *impl, void *mem)
{
	ocl_free(impl, mem);
}

static const char *cl_pci_bus_id(void *impl)
{
	return ocl_device_pci_bus_id(impl);
}

static accel_status cl_upload(void *impl, void *mem, const void *src, size_t bytes)
{
	return ocl_upload(impl, mem, src, bytes);
}

static accel_status cl_upload_async(void *impl, void *mem, accel_tensor *host)
{
	return ocl_upload_async(impl, mem, host);
}

static accel_status cl_download(void *impl, void *dst, void *mem, size_t bytes)
{
	return ocl_download(impl, dst, mem, bytes);
}

static accel_status cl_prepare(void *impl, const ir_node *n, accel_tensor *const *const_in,
			       int n_in, void **out_state)
{
	return ocl_prepare(impl, n, const_in, n_in, out_state);
}

static void cl_release(void *impl, void *state)
{
	ocl_release(impl, state);
}

static accel_status cl_exec(void *impl, const ir_node *n, void *state, accel_tensor *const *in,
			    const bool *in_on_host, int n_in, accel_tensor *const *out, int n_out)
{
	return ocl_exec(impl, n, state, in, in_on_host, n_in, out, n_out);
}

static accel_status cl_finish(void *impl)
{
	return ocl_finish(impl);
}

static const backend_ops opencl_ops = {
	.kind_name = "opencl",
	.kind = ACCEL_DEVICE_OPENCL,
	.destroy = cl_destroy,
	.supports = cl_supports,
	.alloc = cl_alloc,
	.free = cl_free,
	.upload = cl_upload,
	.download = cl_download,
	.prepare = cl_prepare,
	.release = cl_release,
	.exec = cl_exec,
	.finish = cl_finish,
	.pci_bus_id = cl_pci_bus_id,
	.upload_async = cl_upload_async,
};

accel_status backend_opencl_discover(backend_device **devs, size_t *count)
{
	ocl_device **found = NULL;
	size_t n = 0;
	backend_device *all;
	accel_status st = ocl_discover(&found, &n);

	if (st || !n) {
		free(found);
		return st;
	}
	all = realloc(*devs, sizeof(*all) * (*count + n));
	if (!all) {
		for (size_t i = 0; i < n; i++)
			ocl_device_destroy(found[i]);
		free(found);
		return status_oom("the OpenCL device list");
	}
	*devs = all;
	for (size_t i = 0; i < n; i++) {
		backend_device *d = &all[(*count)++];

		*d = (backend_device){ .ops = &opencl_ops, .impl = found[i], .index = (int)i,
				       .host_node = -1 };
		if (asprintf(&d->name, "opencl:%zu (%s)", i, ocl_device_name(found[i])) < 0)
			d->name = NULL;
	}
	free(found);
	return NULL;
}
