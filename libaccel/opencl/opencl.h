/* SPDX-License-Identifier: MIT */
/*
 * opencl.h - the OpenCL backend's device side: discovery through the ICD
 * loader, device memory, and the execution of graph nodes with OpenCL C
 * kernels built at run time.
 *
 * The scheduler drives it through these calls and nothing else; schemas
 * (ops/) have already inferred every shape, so a node only executes here.
 * Device memory handles are cl_mem objects passed around as void *.
 *
 * Threading: calls on different devices may run concurrently. Calls on one
 * device may also come from several threads; kernel launches on a device
 * are serialised by the device's lock.
 */
#ifndef ACCEL_OPENCL_OPENCL_H
#define ACCEL_OPENCL_OPENCL_H

#include "ir/graph.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct ocl_device ocl_device;

/* Every OpenCL device of every platform the ICD loader knows; none is not
 * an error (*out_count 0, *out_devices NULL). The caller destroys each
 * device and frees the array with free(). */
accel_status ocl_discover(ocl_device ***out_devices, size_t *out_count);
void ocl_device_destroy(ocl_device *dev);
/* "<device name>" as the platform reports it, e.g. "pthread-Intel(R) ...". */
const char *ocl_device_name(const ocl_device *dev);
/* "DDDD:BB:DD.F" from cl_khr_pci_bus_info (or NVIDIA's attributes), or NULL. */
const char *ocl_device_pci_bus_id(const ocl_device *dev);

/* Can this node run here? Inputs whose *values* the op reads on the host
 * (shape, axes, pads, Clip bounds...) must be constant (in[i]->data is host
 * data), else the answer is false. in[i] may be NULL (omitted input). */
bool ocl_supports(ocl_device *dev, const ir_node *n, accel_tensor *const *in,
		  int n_in);

/* Device memory: a cl_mem in *out_mem. bytes 0 allocates a 1-byte buffer. */
accel_status ocl_alloc(ocl_device *dev, size_t bytes, void **out_mem);
void ocl_free(ocl_device *dev, void *mem);
/* Blocking copies between host memory and a cl_mem. */
accel_status ocl_upload(ocl_device *dev, void *mem, const void *src,
			size_t bytes);
accel_status ocl_download(ocl_device *dev, void *dst, void *mem, size_t bytes);
/* Non-blocking upload of |host|'s bytes into a cl_mem: enqueued on the
 * device's in-order queue, so the kernels enqueued after it see the data.
 * |host| is retained until ocl_finish (or ocl_device_destroy) has waited
 * for the copy. */
accel_status ocl_upload_async(ocl_device *dev, void *mem, accel_tensor *host);

/*
 * Once per session per node: build the program(s) the node needs (cached
 * per device and source) and upload its constant inputs (const_in[i] is the
 * host initializer of input i or NULL). *out_state may be left NULL; the
 * state is read-only during ocl_exec and freed by ocl_release.
 */
accel_status ocl_prepare(ocl_device *dev, const ir_node *n,
			 accel_tensor *const *const_in, int n_in,
			 void **out_state);
void ocl_release(ocl_device *dev, void *state);

/*
 * Enqueue the node. in[i]/out[i] have shapes and dtypes set; ->data is a
 * cl_mem, except for inputs with in_on_host[i] true, whose ->data is host
 * memory (constants). Output storage is allocated by the caller. Work is
 * only enqueued: call ocl_finish (or ocl_download) before reading results.
 * Ops that take indices from a device tensor are the exception: they wait
 * for their kernels and fail with ACCEL_INVALID_ARGUMENT on an index out
 * of range (the error word, docs/OPENCL.md).
 */
accel_status ocl_exec(ocl_device *dev, const ir_node *n, void *state,
		      accel_tensor *const *in, const bool *in_on_host, int n_in,
		      accel_tensor *const *out, int n_out);
/* Wait for everything enqueued on the device (clFinish). */
accel_status ocl_finish(ocl_device *dev);

/* Test hook: make the next |count| program builds (OCL_FAULT_BUILD; every
 * program lookup counts, cached or not, so a warm session fails too) or
 * allocations (OCL_FAULT_ALLOC; ocl_alloc and internal scratch) fail. */
enum { OCL_FAULT_BUILD = 1, OCL_FAULT_ALLOC = 2 };
void ocl_inject_failure(ocl_device *dev, int kind, int count);

#endif /* ACCEL_OPENCL_OPENCL_H */
