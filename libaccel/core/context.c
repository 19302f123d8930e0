/* SPDX-License-Identifier: MIT */
/* context.c - the context and its device registry. */
#include "core/hostmem.h"
#include "core/runtime.h"
#include "cpu/threadpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append every device the compiled-in backends find after the CPU. */
static accel_status add_backend_devices(accel_context *c)
{
	backend_device *found = NULL;
	size_t n = 0;
	accel_status st = backend_discover_all(&found, &n);
	struct accel_device **all;

	if (st || !n) {
		free(found);
		return st;
	}
	all = realloc(c->devices, sizeof(*all) * (c->n_devices + n));
	if (all)
		c->devices = all;
	for (size_t i = 0; all && i < n; i++) {
		struct accel_device *d = calloc(1, sizeof(*d));

		if (!d) {
			all = NULL;
			break;
		}
		d->kind = found[i].ops->kind;
		d->index = found[i].index;
		d->backend = found[i];
		d->name = strdup(found[i].name);
		d->numa_node = -1;
		found[i].ops = NULL; /* now owned by the registry */
		c->devices[c->n_devices++] = d;
	}
	if (!all) {
		for (size_t i = 0; i < n; i++) {
			if (!found[i].ops)
				continue;
			backend_device_detach_cache(&found[i]);
			found[i].ops->destroy(found[i].impl);
			free(found[i].name);
		}
		free(found);
		return status_oom("the device registry");
	}
	free(found);
	return NULL;
}

/*
 * The DRM GPUs, and each device's bus id and NUMA node from them. A failure
 * here costs only the topology (no DRM listing, NUMA nodes -1), never a
 * device.
 */
static void locate_devices(accel_context *c)
{
	topo_pci_addr a;

	accel_status_free(topology_init(&c->topo, NULL));
	if (c->topo.sysfs_root)
		accel_status_free(topology_discover(&c->topo));
	for (size_t i = 0; i < c->n_devices; i++) {
		struct accel_device *d = c->devices[i];
		const backend_ops *ops = d->backend.ops;
		const char *id = ops && ops->pci_bus_id ? ops->pci_bus_id(d->backend.impl) : NULL;

		if (!id || !topology_parse_bus_id(id, &a) ||
		    !(d->pci_bus_id = malloc(TOPO_BUS_ID_LEN)))
			continue;
		topology_format_bus_id(&a, d->pci_bus_id);
		d->numa_node = topology_numa_node(&c->topo, d->pci_bus_id);
	}
}

/* Host staging memory for the non-CPU devices' downloads, on each
 * device's NUMA node; without it (out of memory) they use malloc. */
static void attach_staging(accel_context *c)
{
	if (c->n_devices < 2)
		return;
	accel_status_free(hostmem_open(0, &c->hostmem));
	for (size_t i = 1; c->hostmem && i < c->n_devices; i++) {
		c->devices[i]->backend.hostmem = c->hostmem;
		c->devices[i]->backend.host_node = c->devices[i]->numa_node;
	}
}

void accel_context_discover(accel_context *c)
{
	accel_status st;

	pthread_mutex_lock(&c->discover_lock);
	if (!c->discovered) {
		st = add_backend_devices(c);
		if (st)
			c->discover_error = strdup(accel_status_message(st));
		accel_status_free(st);
		locate_devices(c);
		attach_staging(c);
		c->discovered = true;
	}
	pthread_mutex_unlock(&c->discover_lock);
}

ACCEL_API accel_status accel_context_create(uint32_t flags, accel_context **out_context)
{
	accel_context *c;

	if (!out_context)
		return status_invalid("accel_context_create: out_context is NULL");
	if (flags)
		return status_invalid("accel_context_create: unknown flags 0x%x", flags);
	c = calloc(1, sizeof(*c));
	if (!c)
		return status_oom("a context");
	atomic_init(&c->refs, 1);
	pthread_mutex_init(&c->discover_lock, NULL);
	c->devices = calloc(1, sizeof(*c->devices));
	if (c->devices)
		c->devices[0] = calloc(1, sizeof(**c->devices));
	if (!c->devices || !c->devices[0] ||
	    asprintf(&c->devices[0]->name, "cpu (%d cores)", cpu_count()) < 0) {
		if (c->devices)
			free(c->devices[0]);
		free(c->devices);
		pthread_mutex_destroy(&c->discover_lock);
		free(c);
		return status_oom("the device registry");
	}
	c->devices[0]->kind = ACCEL_DEVICE_CPU;
	c->devices[0]->numa_node = -1;
	c->n_devices = 1;
	*out_context = c;
	return NULL;
}

ACCEL_API void accel_context_retain(accel_context *c)
{
	if (c)
		atomic_fetch_add(&c->refs, 1);
}

ACCEL_API void accel_context_release(accel_context *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	for (size_t i = 0; i < c->n_devices; i++) {
		backend_device *b = &c->devices[i]->backend;

		/* the cached buffers go back while the device is there */
		backend_device_detach_cache(b);
		if (b->ops)
			b->ops->destroy(b->impl);
		free(b->name);
		free(c->devices[i]->name);
		free(c->devices[i]->pci_bus_id);
		free(c->devices[i]);
	}
	free(c->devices);
	free(c->discover_error);
	hostmem_close(c->hostmem); /* blocks still in tensors keep it alive */
	topology_free(&c->topo);
	pthread_mutex_destroy(&c->discover_lock);
	free(c);
}

/* Counting devices discovers them: the context is logically unchanged. */
ACCEL_API size_t accel_context_device_count(const accel_context *c)
{
	if (!c)
		return 0;
	accel_context_discover((accel_context *)c);
	return c->n_devices;
}

ACCEL_API accel_status accel_context_device(accel_context *c, size_t index,
					    accel_device **out_device)
{
	if (!c || !out_device)
		return status_invalid("accel_context_device: NULL argument");
	accel_context_discover(c);
	if (index >= c->n_devices)
		return status_error(ACCEL_NOT_FOUND, "device index %zu is out of range (%zu devices)",
				    index, c->n_devices);
	*out_device = c->devices[index];
	return NULL;
}

static const char *kind_name(accel_device_kind k)
{
	return k == ACCEL_DEVICE_CPU ? "cpu" : k == ACCEL_DEVICE_OPENCL ? "opencl" : "cuda";
}

ACCEL_API accel_status accel_context_find_device(accel_context *c, const char *spec,
						 accel_device **out_device)
{
	char kind[16];
	const char *colon;
	long index = 0;
	size_t klen;

	if (!c || !spec || !out_device)
		return status_invalid("accel_context_find_device: NULL argument");
	colon = strchr(spec, ':');
	klen = colon ? (size_t)(colon - spec) : strlen(spec);
	if (klen == 0 || klen >= sizeof(kind))
		return status_invalid("device '%s': expected cpu, opencl[:N] or cuda[:N]", spec);
	memcpy(kind, spec, klen);
	kind[klen] = '\0';
	if (colon) {
		char *end;

		index = strtol(colon + 1, &end, 10);
		if (end == colon + 1 || *end || index < 0)
			return status_invalid("device '%s': bad index '%s'", spec, colon + 1);
	}
	if (strcmp(kind, "cpu") && strcmp(kind, "opencl") && strcmp(kind, "cuda"))
		return status_invalid("device '%s': unknown kind '%s' (expected cpu, opencl[:N] or cuda[:N])",
				      spec, kind);
	if (strcmp(kind, "cpu"))
		accel_context_discover(c);
	for (size_t i = 0; i < c->n_devices; i++)
		if (!strcmp(kind_name(c->devices[i]->kind), kind) && c->devices[i]->index == index) {
			*out_device = c->devices[i];
			return NULL;
		}
	if (c->discover_error)
		return status_error(ACCEL_UNAVAILABLE, "device '%s' is not available: device discovery failed: %s",
				    spec, c->discover_error);
	return status_error(ACCEL_UNAVAILABLE, "device '%s' is not available on this host", spec);
}

ACCEL_API const char *accel_device_name(const accel_device *d)
{
	return d ? d->name : "";
}

ACCEL_API accel_device_kind accel_device_kind_of(const accel_device *d)
{
	return d ? d->kind : ACCEL_DEVICE_CPU;
}

ACCEL_API const char *accel_device_pci_bus_id(const accel_device *d)
{
	return d ? d->pci_bus_id : NULL;
}

ACCEL_API int accel_device_numa_node(const accel_device *d)
{
	return d ? d->numa_node : -1;
}

ACCEL_API const char *accel_context_device_absence(accel_context *c, accel_device_kind kind)
{
	if (!c)
		return "no context";
	if (kind != ACCEL_DEVICE_CPU)
		accel_context_discover(c);
	for (size_t i = 0; i < c->n_devices; i++)
		if (c->devices[i]->kind == kind)
			return NULL;
	switch (kind) {
	case ACCEL_DEVICE_OPENCL:
#ifdef ACCEL_HAVE_OPENCL
		return "no OpenCL platform offers a device (is an ICD such as pocl-opencl-icd installed?)";
#else
		return "this build has no OpenCL backend (built with OPENCL=0)";
#endif
	case ACCEL_DEVICE_CUDA:
#ifdef ACCEL_HAVE_CUDA
		return backend_cuda_absence();
#else
		return "this build has no CUDA backend (built without nvcc, or CUDA=0)";
#endif
	default:
		return "unknown device kind";
	}
}

ACCEL_API size_t accel_context_drm_gpu_count(accel_context *c)
{
	if (!c)
		return 0;
	accel_context_discover(c);
	return c->topo.n_gpus;
}

ACCEL_API accel_status accel_context_drm_gpu(accel_context *c, size_t index,
					     accel_drm_gpu *out_gpu)
{
	const topo_gpu *g;

	if (!c || !out_gpu)
		return status_invalid("accel_context_drm_gpu: NULL argument");
	accel_context_discover(c);
	if (index >= c->topo.n_gpus)
		return status_error(ACCEL_NOT_FOUND, "DRM GPU index %zu is out of range (%zu GPUs)",
				    index, c->topo.n_gpus);
	g = &c->topo.gpus[index];
	*out_gpu = (accel_drm_gpu){
		.pci_bus_id = g->bus_id, .vendor_id = g->vendor_id, .device_id = g->device_id,
		.primary_node = g->primary_node, .render_node = g->render_node,
		.numa_node = g->numa_node,
	};
	for (size_t i = 0; i < c->n_devices; i++)
		if (c->devices[i]->pci_bus_id && !strcmp(c->devices[i]->pci_bus_id, g->bus_id))
			out_gpu->driven_by = c->devices[i];
	return NULL;
}
