/* SPDX-License-Identifier: MIT */
/* runtime.h - the context, device and model objects behind the public API. */
#ifndef ACCEL_CORE_RUNTIME_H
#define ACCEL_CORE_RUNTIME_H

#include "backend/backend.h"
#include "ir/graph.h"

#include <stdatomic.h>

struct accel_device {
	accel_device_kind kind;
	int index;
	char *name;
	backend_device backend; /* ops NULL for the CPU */
};

struct accel_context {
	atomic_int refs;
	size_t n_devices;
	struct accel_device *devices;
};

struct accel_model {
	atomic_int refs;
	accel_context *context;
	char *name; /* file name, for messages */
	char *producer;
	ir_graph *graph;
};

#endif /* ACCEL_CORE_RUNTIME_H */
