/* SPDX-License-Identifier: MIT */
/* runtime.h - the context, device and model objects behind the public API. */
#ifndef ACCEL_CORE_RUNTIME_H
#define ACCEL_CORE_RUNTIME_H

#include "backend/backend.h"
#include "backend/topology.h"
#include "ir/graph.h"

#include <pthread.h>
#include <stdatomic.h>

struct accel_device {
	accel_device_kind kind;
	int index;
	char *name;
	backend_device backend; /* ops NULL for the CPU */
	char *pci_bus_id; /* canonical "dddd:bb:dd.f", or NULL */
	int numa_node;	  /* nearest NUMA node, -1: unknown */
};

struct accel_context {
	atomic_int refs;
	/* The CPU is there from the start; other backends are discovered on
	 * first use (accel_context_discover), so CPU-only work never pays for
	 * initialising an OpenCL platform. Devices are allocated one by one:
	 * a pointer to one stays valid while the context lives. */
	pthread_mutex_t discover_lock;
	bool discovered;
	char *discover_error; /* why discovery failed, or NULL */
	topology topo;	      /* DRM GPUs, read with the other devices */
	struct hostmem *hostmem; /* device downloads' host memory, or NULL */
	size_t n_devices;
	struct accel_device **devices;
};

/* Discover the non-CPU devices once (thread-safe, idempotent). */
void accel_context_discover(accel_context *c);

struct accel_model {
	atomic_int refs;
	accel_context *context;
	char *name; /* file name, for messages */
	char *producer;
	ir_graph *graph;     /* optimised for any device (levels up to 2) */
	ir_graph *cpu_graph; /* level 3: plus CPU-only layout passes; NULL below */
};

#endif /* ACCEL_CORE_RUNTIME_H */
