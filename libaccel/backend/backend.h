/* SPDX-License-Identifier: MIT */
/*
 * backend.h - the interface every non-CPU device backend implements.
 *
 * A backend is a table of functions over an opaque device (|impl|). The
 * scheduler asks whether a node can run on a device, the executor moves
 * values between host and device memory and runs nodes there. The CPU is
 * not a backend in this table: host tensors and the cpu/ kernels are the
 * reference path every other device falls back to.
 *
 * Device tensors are ordinary accel_tensor headers whose |data| is device
 * memory (a cl_mem, a CUdeviceptr...) and whose |on_device| is set; their
 * storage is returned through |free_fn| when the last reference goes.
 */
#ifndef ACCEL_BACKEND_BACKEND_H
#define ACCEL_BACKEND_BACKEND_H

#include "ir/graph.h"

typedef struct backend_ops {
	const char *kind_name; /* "opencl", "cuda" */
	accel_device_kind kind;
	void (*destroy)(void *impl);
	/* Can node |n| run here with these inputs (constants carry data)? */
	bool (*supports)(void *impl, const ir_node *n, accel_tensor *const *in, int n_in);
	accel_status (*alloc)(void *impl, size_t bytes, void **out_mem);
	void (*free)(void *impl, void *mem);
	accel_status (*upload)(void *impl, void *mem, const void *src, size_t bytes);
	accel_status (*download)(void *impl, void *dst, void *mem, size_t bytes);
	/* Once per session and node; may leave *out_state NULL. */
	accel_status (*prepare)(void *impl, const ir_node *n, accel_tensor *const *const_in,
				int n_in, void **out_state);
	void (*release)(void *impl, void *state);
	/* in[i]->data is device memory unless in_on_host[i] (constants). */
	accel_status (*exec)(void *impl, const ir_node *n, void *state, accel_tensor *const *in,
			     const bool *in_on_host, int n_in, accel_tensor *const *out, int n_out);
	accel_status (*finish)(void *impl);
	/* Optional (NULL: none): the device's PCI bus id in any common spelling
	 * ("0000:3B:00.0"), or NULL; the context matches it to the DRM
	 * topology (backend/topology.h) for the device's NUMA node. */
	const char *(*pci_bus_id)(void *impl);
	/* Optional (NULL: upload is used): enqueue the copy of |host|'s bytes
	 * into |mem| and return. The device runs it before any work enqueued
	 * after it; on success the backend holds a reference to |host| until
	 * a finish() (or destroy) has seen the copy complete. */
	accel_status (*upload_async)(void *impl, void *mem, accel_tensor *host);
} backend_ops;

/* A discovered device: the backend's table and its own handle. */
typedef struct backend_device {
	const backend_ops *ops;
	void *impl;
	char *name;
	int index; /* among devices of the same kind */
	/* Host memory for downloads (core/hostmem.h: pinned when the kernel
	 * module is loaded), set by the context; NULL: ordinary memory.
	 * |host_node|: the NUMA node to put it on, -1 for any. */
	struct hostmem *hostmem;
	int host_node;
	/* Freed device buffers kept for reuse (backend/devmem.h), or NULL:
	 * device tensors are allocated and freed on the device itself. */
	struct devmem *devmem;
} backend_device;

/*
 * Append the devices of every compiled-in backend to |*devs| (a growing
 * array of *count entries). A backend whose runtime is missing adds none.
 */
accel_status backend_discover_all(backend_device **devs, size_t *count);

/*
 * Give |d| a cache of freed device buffers (backend/devmem.h) unless
 * ACCEL_NO_DEVMEM_CACHE=1; discovery does it for every device. Without
 * memory for one the device simply has none.
 */
void backend_device_attach_cache(backend_device *d);
/* Return the cached buffers to the device and drop the cache: before the
 * device is destroyed, once no device tensor of it is left. */
void backend_device_detach_cache(backend_device *d);

/*
 * Why a compiled-in backend offers no device, for accel-run --list-devices:
 * NULL when it is not compiled in.
 */
const char *backend_cuda_absence(void);

/* Device tensor helpers used by the executor. */
accel_status backend_tensor_upload(const backend_device *d, const accel_tensor *host,
				   accel_tensor **out_dev);
accel_status backend_tensor_alloc(const backend_device *d, accel_tensor *shaped);
accel_status backend_tensor_download(const backend_device *d, const accel_tensor *dev,
				     accel_tensor **out_host);

#endif /* ACCEL_BACKEND_BACKEND_H */
