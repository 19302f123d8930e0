/* SPDX-License-Identifier: MIT */
/*
 * cuda.h - the CUDA backend's device side: discovery through the driver
 * API (libcuda opened at run time, never linked), device memory, and the
 * execution of graph nodes with kernels compiled by nvcc at build time
 * (embedded cubins + PTX) or by NVRTC at run time (elementwise chains).
 *
 * The scheduler drives it through these calls and nothing else. Device
 * memory handles are CUdeviceptr values passed around as void *.
 *
 * Threading: calls on different devices may run concurrently; calls on one
 * device are serialised by the device's lock (each makes the device's
 * context current for its duration and restores the caller's).
 */
#ifndef ACCEL_CUDA_CUDA_H
#define ACCEL_CUDA_CUDA_H

#include "ir/graph.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct cuda_device cuda_device;

/*
 * Every CUDA device the driver reports. No libcuda, or a driver that has no
 * device (CUDA_ERROR_NO_DEVICE), is not an error: *out_count 0. Any other
 * cuInit/cuDevice* failure is, and names the call and the CUresult. The
 * library is "libcuda.so.1", or $ACCEL_LIBCUDA when set (tests point it at
 * a fake). The caller destroys each device and frees the array.
 */
accel_status cuda_discover(cuda_device ***out_devices, size_t *out_count);
void cuda_device_destroy(cuda_device *dev);
/* "<name> (sm_XY)". */
const char *cuda_device_name(const cuda_device *dev);
/* "DDDD:BB:DD.F" (cuDeviceGetPCIBusId), or NULL. */
const char *cuda_device_pci_bus_id(const cuda_device *dev);

bool cuda_supports(cuda_device *dev, const ir_node *n, accel_tensor *const *in, int n_in);

/* Device memory (cuMemAlloc); bytes 0 allocates 1 byte. Out of device
 * memory is ACCEL_OUT_OF_MEMORY naming the size and the device. */
accel_status cuda_alloc(cuda_device *dev, size_t bytes, void **out_mem);
void cuda_free(cuda_device *dev, void *mem);
/* Copies through the device's pinned staging buffers; both return when
 * the host memory may be reused (upload) or read (download). */
accel_status cuda_upload(cuda_device *dev, void *mem, const void *src, size_t bytes);
accel_status cuda_download(cuda_device *dev, void *dst, void *mem, size_t bytes);

/* Once per session per node: load the module(s) the node needs and upload
 * its constant inputs. *out_state may be left NULL. */
accel_status cuda_prepare(cuda_device *dev, const ir_node *n, accel_tensor *const *const_in,
			  int n_in, void **out_state);
void cuda_release(cuda_device *dev, void *state);
/* Enqueue the node on the device's stream (see ocl_exec for the contract). */
accel_status cuda_exec(cuda_device *dev, const ir_node *n, void *state, accel_tensor *const *in,
		       const bool *in_on_host, int n_in, accel_tensor *const *out, int n_out);
/* Wait for the device's stream; reports asynchronous launch failures. */
accel_status cuda_finish(cuda_device *dev);

#endif /* ACCEL_CUDA_CUDA_H */
