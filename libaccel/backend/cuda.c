/* SPDX-License-Identifier: MIT */
/*
 * cuda.c - the CUDA devices (libaccel/cuda/) behind the backend interface.
 * Every device the driver reports becomes cuda:N in ordinal order; a host
 * without libcuda.so.1 simply has none.
 */
#include "backend/backend.h"
#include "cuda/cuda.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cu_destroy(void *impl)
{
	cuda_device_destroy(impl);
}

static bool cu_supports(void *impl, const ir_node *n, accel_tensor *const *in, int n_in)
{
	return cuda_supports(impl, n, in, n_in);
}

static accel_status cu_alloc(void *impl, size_t bytes, void **out)
{
	return cuda_alloc(impl, bytes, out);
}

static void cu_free(void *impl, void *mem)
{
	cuda_free(impl, mem);
}

static accel_status cu_upload(void *impl, void *mem, const void *src, size_t bytes)
{
	return cuda_upload(impl, mem, src, bytes);
}

static accel_status cu_download(void *impl, void *dst, void *mem, size_t bytes)
{
	return cuda_download(impl, dst, mem, bytes);
}

static accel_status cu_prepare(void *impl, const ir_node *n, accel_tensor *const *const_in,
			       int n_in, void **out_state)
{
	return cuda_prepare(impl, n, const_in, n_in, out_state);
}

static void cu_release(void *impl, void *state)
{
	cuda_release(impl, state);
}

static accel_status cu_exec(void *impl, const ir_node *n, void *state, accel_tensor *const *in,
			    const bool *in_on_host, int n_in, accel_tensor *const *out, int n_out)
{
	return cuda_exec(impl, n, state, in, in_on_host, n_in, out, n_out);
}

static accel_status cu_finish(void *impl)
{
	return cuda_finish(impl);
}

static const char *cu_pci_bus_id(void *impl)
{
	return cuda_device_pci_bus_id(impl);
}

static const backend_ops cuda_ops = {
	.kind_name = "cuda",
	.kind = ACCEL_DEVICE_CUDA,
	.destroy = cu_destroy,
	.supports = cu_supports,
	.alloc = cu_alloc,
	.free = cu_free,
	.upload = cu_upload,
	.download = cu_download,
	.prepare = cu_prepare,
	.release = cu_release,
	.exec = cu_exec,
	.finish = cu_finish,
	.pci_bus_id = cu_pci_bus_id,
};

/*
 * Why discovery found no CUDA device: the driver library is missing, or it
 * is there and offers none. cuda_api_open() keeps libcuda loaded
 * (RTLD_NODELETE) when it found it, so RTLD_NOLOAD tells the two apart.
 */
const char *backend_cuda_absence(void)
{
	const char *path = getenv("ACCEL_LIBCUDA");
	void *lib;

	if (!path || !*path)
		path = "libcuda.so.1";
	lib = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
	if (!lib)
		return "no CUDA driver on this host (libcuda.so.1 not found)";
	dlclose(lib);
	return "the CUDA driver offers no usable device";
}

accel_status backend_cuda_discover(backend_device **devs, size_t *count)
{
	cuda_device **found = NULL;
	size_t n = 0;
	backend_device *all;
	accel_status st = cuda_discover(&found, &n);

	if (st || !n) {
		free(found);
		return st;
	}
	all = realloc(*devs, sizeof(*all) * (*count + n));
	if (!all) {
		for (size_t i = 0; i < n; i++)
			cuda_device_destroy(found[i]);
		free(found);
		return status_oom("the CUDA device list");
	}
	*devs = all;
	for (size_t i = 0; i < n; i++) {
		backend_device *d = &all[(*count)++];

		memset(d, 0, sizeof(*d)); /* realloc'ed: optional members start empty */
		d->host_node = -1;
		d->ops = &cuda_ops;
		d->impl = found[i];
		d->index = (int)i;
		if (asprintf(&d->name, "cuda:%zu (%s)", i, cuda_device_name(found[i])) < 0)
			d->name = NULL;
	}
	free(found);
	return NULL;
}
