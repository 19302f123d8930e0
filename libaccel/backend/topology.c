/* SPDX-License-Identifier: MIT */
/*
 * topology.c - DRM GPUs on the PCI bus, their NUMA nodes, and matching the
 * bus ids backends report against them.
 *
 * libdrm does the enumeration (it knows which sysfs entries are DRM
 * devices and which nodes belong to each); the NUMA node comes from
 * <sysfs>/bus/pci/devices/<bus id>/numa_node, which the kernel writes as
 * -1 on hosts without NUMA information.
 */
#include "backend/topology.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef ACCEL_HAVE_DRM
#include <xf86drm.h>
#endif

/* |n| hex digits (1..max) at *s; advances *s. */
static bool hex_field(const char **s, int max, uint32_t *out)
{
	uint32_t v = 0;
	int n = 0;

	while (isxdigit((unsigned char)**s)) {
		if (++n > max)
			return false;
		v = v * 16 + (uint32_t)(isdigit((unsigned char)**s) ? **s - '0' :
					tolower((unsigned char)**s) - 'a' + 10);
		(*s)++;
	}
	*out = v;
	return n > 0;
}

bool topology_addr_from_numbers(uint32_t domain, uint32_t bus, uint32_t dev,
				uint32_t func, topo_pci_addr *out)
{
	if (bus > 0xff || dev > 0x1f || func > 7)
		return false;
	out->domain = domain;
	out->bus = (uint8_t)bus;
	out->dev = (uint8_t)dev;
	out->func = (uint8_t)func;
	return true;
}

bool topology_parse_bus_id(const char *s, topo_pci_addr *out)
{
	uint32_t f[4] = { 0 };
	const char *p = s;
	int colons = 0;

	if (!s || !out)
		return false;
	if (!strncasecmp(p, "pci:", 4))
		p += 4;
	for (const char *q = p; *q && *q != '.'; q++)
		colons += *q == ':';
	if (colons != 1 && colons != 2)
		return false;
	if (colons == 2 && (!hex_field(&p, 8, &f[0]) || *p++ != ':'))
		return false;
	if (!hex_field(&p, 2, &f[1]) || *p++ != ':' || !hex_field(&p, 2, &f[2]) ||
	    *p++ != '.' || !hex_field(&p, 1, &f[3]) || *p)
		return false;
	return topology_addr_from_numbers(f[0], f[1], f[2], f[3], out);
}

void topology_format_bus_id(const topo_pci_addr *a, char *buf)
{
	snprintf(buf, TOPO_BUS_ID_LEN, "%04x:%02x:%02x.%x", a->domain, a->bus, a->dev,
		 a->func);
}

static bool addr_equal(const topo_pci_addr *a, const topo_pci_addr *b)
{
	return a->domain == b->domain && a->bus == b->bus && a->dev == b->dev &&
	       a->func == b->func;
}

/* <root>/bus/pci/devices/<id>/numa_node: an integer >= -1, else -1. */
static int read_numa_node(const char *root, const topo_pci_addr *a)
{
	char id[TOPO_BUS_ID_LEN], path[4096], buf[32], *end;
	size_t n;
	long v;
	FILE *f;

	topology_format_bus_id(a, id);
	if (snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/numa_node", root, id) >=
	    (int)sizeof(path))
		return -1;
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || v < -1 || v > 1 << 20)
		return -1;
	return (int)v;
}

accel_status topology_init(topology *t, const char *sysfs_root)
{
	memset(t, 0, sizeof(*t));
	t->sysfs_root = strdup(sysfs_root ? sysfs_root : "/sys");
	if (!t->sysfs_root)
		return status_oom("the device topology");
	return NULL;
}

void topology_free(topology *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_gpus; i++) {
		free(t->gpus[i].primary_node);
		free(t->gpus[i].render_node);
	}
	free(t->gpus);
	free(t->sysfs_root);
	memset(t, 0, sizeof(*t));
}

accel_status topology_add(topology *t, const topo_pci_addr *addr, uint16_t vendor_id,
			  uint16_t device_id, const char *primary_node,
			  const char *render_node)
{
	topo_gpu *g, *all = realloc(t->gpus, (t->n_gpus + 1) * sizeof(*all));

	if (!all)
		return status_oom("the device topology");
	t->gpus = all;
	g = &all[t->n_gpus];
	memset(g, 0, sizeof(*g));
	g->addr = *addr;
	topology_format_bus_id(addr, g->bus_id);
	g->vendor_id = vendor_id;
	g->device_id = device_id;
	g->primary_node = primary_node ? strdup(primary_node) : NULL;
	g->render_node = render_node ? strdup(render_node) : NULL;
	if ((primary_node && !g->primary_node) || (render_node && !g->render_node)) {
		free(g->primary_node);
		free(g->render_node);
		return status_oom("the device topology");
	}
	g->numa_node = read_numa_node(t->sysfs_root, addr);
	t->n_gpus++;
	return NULL;
}

accel_status topology_discover(topology *t)
{
#ifdef ACCEL_HAVE_DRM
	drmDevicePtr *devs;
	accel_status st = NULL;
	int n;

	/* Flags 0: ids come from sysfs, no device is opened or woken up. */
	n = drmGetDevices2(0, NULL, 0);
	if (n == -ENOENT || n == 0) /* no /dev/dri: no DRM device */
		return NULL;
	if (n < 0)
		return status_error(ACCEL_IO_ERROR, "drmGetDevices2: %s", strerror(-n));
	devs = calloc((size_t)n, sizeof(*devs));
	if (!devs)
		return status_oom("the DRM device list");
	n = drmGetDevices2(0, devs, n);
	if (n < 0) {
		st = status_error(ACCEL_IO_ERROR, "drmGetDevices2: %s", strerror(-n));
		n = 0;
	}
	for (int i = 0; i < n && !st; i++) {
		drmDevicePtr d = devs[i];
		topo_pci_addr a;

		if (d->bustype != DRM_BUS_PCI || !d->businfo.pci)
			continue;
		if (!topology_addr_from_numbers(d->businfo.pci->domain, d->businfo.pci->bus,
						d->businfo.pci->dev, d->businfo.pci->func, &a))
			continue;
		st = topology_add(t, &a, d->deviceinfo.pci ? d->deviceinfo.pci->vendor_id : 0,
				  d->deviceinfo.pci ? d->deviceinfo.pci->device_id : 0,
				  d->available_nodes & (1 << DRM_NODE_PRIMARY) ?
					  d->nodes[DRM_NODE_PRIMARY] : NULL,
				  d->available_nodes & (1 << DRM_NODE_RENDER) ?
					  d->nodes[DRM_NODE_RENDER] : NULL);
	}
	if (n > 0)
		drmFreeDevices(devs, n);
	free(devs);
	return st;
#else
	return NULL;
#endif
}

const topo_gpu *topology_match(const topology *t, const char *bus_id)
{
	topo_pci_addr a;

	if (!t || !topology_parse_bus_id(bus_id, &a))
		return NULL;
	for (size_t i = 0; i < t->n_gpus; i++)
		if (addr_equal(&t->gpus[i].addr, &a))
			return &t->gpus[i];
	return NULL;
}

int topology_numa_node(const topology *t, const char *bus_id)
{
	const topo_gpu *g = topology_match(t, bus_id);
	topo_pci_addr a;

	if (g)
		return g->numa_node;
	if (!t || !t->sysfs_root || !topology_parse_bus_id(bus_id, &a))
		return -1;
	return read_numa_node(t->sysfs_root, &a);
}
