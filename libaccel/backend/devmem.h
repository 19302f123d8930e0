/* SPDX-License-Identifier: MIT */
/*
 * devmem.h - a per-device cache of freed device buffers.
 *
 * Device allocations (clCreateBuffer, cuMemAlloc) are slow and a run frees
 * and allocates the same few sizes over and over, so freed buffers are
 * kept on free lists by size class and handed out again to requests they
 * fit. Classes are 256-byte steps up to 4 KiB in powers of two, then eight
 * per power of two (at most 12.5% of a buffer unused); a request takes a
 * buffer of its own class or of one of the next two. A miss allocates the
 * full class size from the device.
 *
 * Reuse needs no synchronisation with the device because every backend
 * runs a device's work in submission order (one in-order queue or stream
 * per device): the work that last used a buffer was enqueued before the
 * buffer was freed, so anything the next owner enqueues runs after it.
 *
 * The cache is bounded in bytes and buffers; beyond either bound the
 * buffers freed longest ago go back to the device. A device allocation
 * that fails empties the cache and is tried once more.
 *
 * Lifetime: devmem_destroy() returns every cached buffer to the device and
 * must come before the backend destroys the device, after every buffer the
 * cache handed out has been freed.
 *
 * Threading: every call is thread-safe.
 */
#ifndef ACCEL_BACKEND_DEVMEM_H
#define ACCEL_BACKEND_DEVMEM_H

#include "backend/backend.h"

#include <stddef.h>
#include <stdint.h>

typedef struct devmem devmem;

typedef struct devmem_limits {
	size_t max_bytes;   /* cached bytes (class sizes) at most */
	size_t max_buffers; /* cached buffers at most */
} devmem_limits;

#define DEVMEM_DEFAULT_MAX_BYTES ((size_t)256 << 20)
#define DEVMEM_DEFAULT_MAX_BUFFERS 512

typedef struct devmem_stats {
	uint64_t hits;		/* requests served from the cache */
	uint64_t misses;	/* requests that went to the device */
	uint64_t device_allocs; /* ops->alloc calls that succeeded */
	uint64_t device_frees;	/* ops->free calls */
	uint64_t evictions;	/* cached buffers freed to respect a bound */
	size_t cached_bytes, cached_buffers;
	size_t live_buffers; /* handed out and not yet freed */
} devmem_stats;

/*
 * A cache for the device |impl| of |ops| (alloc and free are used).
 * |limits| NULL: the defaults above. The cache does not own the device.
 */
accel_status devmem_create(const backend_ops *ops, void *impl, const devmem_limits *limits,
			   devmem **out_cache);
/* Free every cached buffer on the device, then the cache. NULL is a no-op. */
void devmem_destroy(devmem *m);

/* At least |bytes| (> 0) of device memory. */
accel_status devmem_alloc(devmem *m, size_t bytes, void **out_mem);
/* Give back a buffer from devmem_alloc: cached, or freed on the device. */
void devmem_free(devmem *m, void *mem);
/* Free every cached buffer on the device now. */
void devmem_trim(devmem *m);
void devmem_get_stats(devmem *m, devmem_stats *out);

/* The size of the class serving |bytes|; 0 when none does (too large). */
size_t devmem_class_size(size_t bytes);

#endif /* ACCEL_BACKEND_DEVMEM_H */
