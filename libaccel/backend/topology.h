/* SPDX-License-Identifier: MIT */
/*
 * topology.h - where the host's GPUs sit: every DRM device on the PCI bus
 * (libdrm's drmGetDevices2) with its bus id, ids, device nodes and NUMA
 * node (sysfs), and a matcher from the bus id a backend reports (CUDA's
 * cuDeviceGetPCIBusId, OpenCL's cl_khr_pci_bus_info) to that entry.
 *
 * The sysfs root is a parameter so that tests can point it at a fake tree.
 * No DRM device (no /dev/dri, a build without libdrm) is an empty topology,
 * not an error.
 */
#ifndef ACCEL_BACKEND_TOPOLOGY_H
#define ACCEL_BACKEND_TOPOLOGY_H

#include "core/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "dddd:bb:dd.f" (lower-case hex, domain at least 4 digits) and a NUL. */
#define TOPO_BUS_ID_LEN 20

typedef struct topo_pci_addr {
	uint32_t domain;
	uint8_t bus, dev, func;
} topo_pci_addr;

typedef struct topo_gpu {
	topo_pci_addr addr;
	char bus_id[TOPO_BUS_ID_LEN];
	uint16_t vendor_id, device_id;
	char *primary_node; /* "/dev/dri/card0" or NULL */
	char *render_node;  /* "/dev/dri/renderD128" or NULL */
	int numa_node;      /* -1: unknown */
} topo_gpu;

typedef struct topology {
	char *sysfs_root; /* "/sys" */
	topo_gpu *gpus;
	size_t n_gpus;
} topology;

/*
 * Parse a PCI bus id in the common spellings: "0000:3B:00.0" (CUDA),
 * "00000000:3b:00.0" (nvidia-smi), "3b:00.0" (domain 0), upper or lower
 * case, and the "pci:" prefix some tools print. False when malformed or a
 * field is out of range (bus > 0xff, device > 0x1f, function > 7).
 */
bool topology_parse_bus_id(const char *s, topo_pci_addr *out);
/* The canonical "dddd:bb:dd.f" of |a| into buf (TOPO_BUS_ID_LEN bytes). */
void topology_format_bus_id(const topo_pci_addr *a, char *buf);
/* From cl_khr_pci_bus_info's four numbers; false when out of range. */
bool topology_addr_from_numbers(uint32_t domain, uint32_t bus, uint32_t dev,
				uint32_t func, topo_pci_addr *out);

/* An empty topology reading sysfs under |sysfs_root| (NULL: "/sys"). */
accel_status topology_init(topology *t, const char *sysfs_root);
/* Add the PCI device |addr| (NUMA node read from sysfs); node paths may be
 * NULL. Discovery calls it per DRM device; tests call it directly. */
accel_status topology_add(topology *t, const topo_pci_addr *addr, uint16_t vendor_id,
			  uint16_t device_id, const char *primary_node,
			  const char *render_node);
/* Every DRM device on the PCI bus (drmGetDevices2); none is not an error. */
accel_status topology_discover(topology *t);
void topology_free(topology *t);

/* The entry whose address |bus_id| spells (any spelling above), or NULL. */
const topo_gpu *topology_match(const topology *t, const char *bus_id);
/*
 * NUMA node of the PCI device |bus_id|: its entry's when it is a DRM GPU,
 * else read from sysfs (a device without a DRM node), -1 when unknown or
 * malformed.
 */
int topology_numa_node(const topology *t, const char *bus_id);

#endif /* ACCEL_BACKEND_TOPOLOGY_H */
