/* SPDX-License-Identifier: MIT */
/*
 * test_device.h - register a test backend (a loopback "device" whose
 * memory is host memory) in a fresh context, as the next free opencl:N
 * after the real devices, for the executor and scheduler tests.
 */
#ifndef ACCEL_TESTS_TEST_DEVICE_H
#define ACCEL_TESTS_TEST_DEVICE_H

#include "core/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A context with |ops|/|impl| appended as a device. |spec| (spec_len
 * bytes) receives its device-list name, "opencl:N"; the device's display
 * name is "opencl:N (|tag|)", also written to |name| when non-NULL.
 */
static inline accel_context *test_context_with_device(const backend_ops *ops, void *impl,
						      const char *tag, char *spec,
						      size_t spec_len, char *name,
						      size_t name_len)
{
	accel_context *c;
	struct accel_device *d;
	char display[96];
	int idx = 0;

	assert_null(accel_context_create(0, &c));
	accel_context_discover(c);
	for (size_t i = 0; i < c->n_devices; i++)
		if (c->devices[i]->kind == ACCEL_DEVICE_OPENCL)
			idx++;
	snprintf(spec, spec_len, "opencl:%d", idx);
	snprintf(display, sizeof(display), "opencl:%d (%s)", idx, tag);
	if (name && name_len) {
		size_t n = strlen(display) < name_len - 1 ? strlen(display) : name_len - 1;

		memcpy(name, display, n);
		name[n] = '\0';
	}
	c->devices = realloc(c->devices, sizeof(*c->devices) * (c->n_devices + 1));
	assert_non_null(c->devices);
	d = calloc(1, sizeof(*d));
	assert_non_null(d);
	c->devices[c->n_devices++] = d;
	d->kind = ACCEL_DEVICE_OPENCL;
	d->index = idx;
	d->name = strdup(display);
	d->backend.ops = ops;
	d->backend.impl = impl;
	d->backend.name = strdup(display);
	d->backend.host_node = -1;
	return c;
}

#endif /* ACCEL_TESTS_TEST_DEVICE_H */
