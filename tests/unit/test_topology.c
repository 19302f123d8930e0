/* SPDX-License-Identifier: MIT */
/*
 * test_topology.c - PCI bus id spellings, NUMA nodes read from a fake sysfs
 * tree, matching backend bus ids to DRM GPUs, and the real drmGetDevices2
 * path (zero devices is a valid answer; no /dev/dri must not fail).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "backend/topology.h"
#include "core/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void expect_bus_id(const char *in, const char *canonical)
{
	char buf[TOPO_BUS_ID_LEN];
	topo_pci_addr a;

	if (!topology_parse_bus_id(in, &a))
		fail_msg("'%s' should parse as %s", in, canonical);
	topology_format_bus_id(&a, buf);
	if (strcmp(buf, canonical))
		fail_msg("'%s': expected %s, got %s", in, canonical, buf);
}

static void bus_id_spellings_parse_to_one_form(void **state)
{
	expect_bus_id("0000:3B:00.0", "0000:3b:00.0");      /* CUDA */
	expect_bus_id("0000:3b:00.0", "0000:3b:00.0");      /* sysfs */
	expect_bus_id("00000000:3B:00.0", "0000:3b:00.0");  /* nvidia-smi */
	expect_bus_id("3b:00.0", "0000:3b:00.0");           /* lspci */
	expect_bus_id("PCI:0001:af:1f.7", "0001:af:1f.7");
	expect_bus_id("10000:e1:00.1", "10000:e1:00.1");    /* VMD domains */
}

static void malformed_bus_ids_are_refused(void **state)
{
	static const char *const bad[] = {
		"", "3b", "3b:00", "0000:3b:00", "0000:3b:20.0" /* dev > 0x1f */,
		"0000:3b:00.8", "0000:3g:00.0", "0000:3b:00.0x", "0000:100:00.0",
		"0:0:0:0.0", "::.", "000000000:3b:00.0", " 0000:3b:00.0", "0000:3b.00.0",
	};
	topo_pci_addr a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (topology_parse_bus_id(bad[i], &a))
			fail_msg("'%s' should not parse", bad[i]);
	assert_false(topology_parse_bus_id(NULL, &a));
}

/* cl_khr_pci_bus_info hands over four numbers. */
static void four_numbers_make_the_same_address(void **state)
{
	char buf[TOPO_BUS_ID_LEN];
	topo_pci_addr a, b;

	assert_true(topology_addr_from_numbers(0, 0x3b, 0, 0, &a));
	assert_true(topology_parse_bus_id("0000:3B:00.0", &b));
	topology_format_bus_id(&a, buf);
	assert_string_equal(buf, "0000:3b:00.0");
	assert_memory_equal(&a, &b, sizeof(a));
	assert_false(topology_addr_from_numbers(0, 0x100, 0, 0, &a));
	assert_false(topology_addr_from_numbers(0, 0, 0x20, 0, &a));
	assert_false(topology_addr_from_numbers(0, 0, 0, 8, &a));
}

/* ---- a fake sysfs tree ---------------------------------------------------- */

typedef struct fake_sys {
	char root[64];
} fake_sys;

static void put_device(fake_sys *f, const char *id, const char *numa_text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/bus", f->root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/bus/pci", f->root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/bus/pci/devices", f->root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", f->root, id);
	assert_int_equal(mkdir(path, 0755), 0);
	if (!numa_text)
		return;
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/numa_node", f->root, id);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(numa_text, fp);
	fclose(fp);
}

static int setup_fake(void **state)
{
	fake_sys *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->root, "/tmp/accel-topo-XXXXXX");
	if (!mkdtemp(f->root)) {
		free(f);
		return -1;
	}
	put_device(f, "0000:3b:00.0", "1\n");     /* GPU on node 1 */
	put_device(f, "0000:af:00.0", "-1\n");    /* GPU, no NUMA info */
	put_device(f, "0000:5e:00.0", "node0\n"); /* garbage */
	put_device(f, "0000:d8:00.0", NULL);      /* no numa_node file */
	put_device(f, "0000:86:00.0", "0\n");     /* a NIC: no DRM node */
	*state = f;
	return 0;
}

static int teardown_fake(void **state)
{
	fake_sys *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void add_gpu(topology *t, const char *id, const char *render)
{
	topo_pci_addr a;

	assert_true(topology_parse_bus_id(id, &a));
	assert_null(topology_add(t, &a, 0x10de, 0x2330, "/dev/dri/card9", render));
}

static void numa_nodes_come_from_sysfs(void **state)
{
	fake_sys *f = *state;
	topology t;

	assert_null(topology_init(&t, f->root));
	add_gpu(&t, "0000:3b:00.0", "/dev/dri/renderD128");
	add_gpu(&t, "0000:af:00.0", NULL);
	add_gpu(&t, "0000:5e:00.0", NULL);
	add_gpu(&t, "0000:d8:00.0", NULL);
	add_gpu(&t, "0000:01:00.0", NULL); /* not in the tree at all */
	assert_int_equal(t.n_gpus, 5);
	assert_int_equal(t.gpus[0].numa_node, 1);
	assert_int_equal(t.gpus[1].numa_node, -1);
	assert_int_equal(t.gpus[2].numa_node, -1);
	assert_int_equal(t.gpus[3].numa_node, -1);
	assert_int_equal(t.gpus[4].numa_node, -1);
	assert_string_equal(t.gpus[0].bus_id, "0000:3b:00.0");
	assert_string_equal(t.gpus[0].render_node, "/dev/dri/renderD128");
	assert_string_equal(t.gpus[0].primary_node, "/dev/dri/card9");
	assert_null(t.gpus[1].render_node);
	assert_int_equal(t.gpus[0].vendor_id, 0x10de);
	topology_free(&t);
}

static void backend_bus_ids_match_their_gpu(void **state)
{
	fake_sys *f = *state;
	char cl_id[TOPO_BUS_ID_LEN];
	const topo_gpu *g;
	topo_pci_addr a;
	topology t;

	assert_null(topology_init(&t, f->root));
	add_gpu(&t, "0000:3b:00.0", "/dev/dri/renderD128");
	add_gpu(&t, "0000:af:00.0", "/dev/dri/renderD129");
	/* CUDA's spelling */
	g = topology_match(&t, "0000:3B:00.0");
	assert_ptr_equal(g, &t.gpus[0]);
	assert_int_equal(topology_numa_node(&t, "0000:3B:00.0"), 1);
	/* OpenCL's four numbers */
	assert_true(topology_addr_from_numbers(0, 0xaf, 0, 0, &a));
	topology_format_bus_id(&a, cl_id);
	assert_ptr_equal(topology_match(&t, cl_id), &t.gpus[1]);
	/* no such GPU; a function of the same slot is another device */
	assert_null(topology_match(&t, "0000:3b:00.1"));
	assert_null(topology_match(&t, "0001:3b:00.0"));
	assert_null(topology_match(&t, "nonsense"));
	/* a PCI device without a DRM node still has a NUMA node */
	assert_int_equal(topology_numa_node(&t, "86:00.0"), 0);
	assert_int_equal(topology_numa_node(&t, "0000:01:00.0"), -1);
	assert_int_equal(topology_numa_node(&t, "bad"), -1);
	assert_int_equal(topology_numa_node(NULL, "0000:3b:00.0"), -1);
	topology_free(&t);
}

/* ---- the real thing --------------------------------------------------------- */

static void drm_discovery_returns_cleanly(void **state)
{
	topology t;

	assert_null(topology_init(&t, NULL));
	assert_string_equal(t.sysfs_root, "/sys");
	assert_null(topology_discover(&t));
	print_message("  %zu DRM GPU(s) on the PCI bus\n", t.n_gpus);
	if (access("/dev/dri", F_OK) != 0)
		assert_int_equal(t.n_gpus, 0);
	for (size_t i = 0; i < t.n_gpus; i++) {
		topo_pci_addr a;

		print_message("  %s %04x:%04x %s numa %d\n", t.gpus[i].bus_id,
			      t.gpus[i].vendor_id, t.gpus[i].device_id,
			      t.gpus[i].render_node ? t.gpus[i].render_node : "-",
			      t.gpus[i].numa_node);
		assert_true(topology_parse_bus_id(t.gpus[i].bus_id, &a));
		assert_ptr_equal(topology_match(&t, t.gpus[i].bus_id), &t.gpus[i]);
		assert_true(t.gpus[i].numa_node >= -1);
	}
	topology_free(&t);
	topology_free(&t); /* idempotent on a freed topology */
}

/* The public view: every device has a canonical bus id or none. */
static void context_reports_bus_ids_and_numa_nodes(void **state)
{
	accel_context *ctx;
	accel_device *d;
	accel_drm_gpu g;
	size_t n, n_gpu;
	accel_status st;

	assert_null(accel_context_create(0, &ctx));
	n = accel_context_device_count(ctx);
	assert_true(n >= 1);
	assert_null(accel_context_device(ctx, 0, &d));
	assert_null(accel_device_pci_bus_id(d)); /* the CPU */
	assert_int_equal(accel_device_numa_node(d), -1);
	for (size_t i = 1; i < n; i++) {
		const char *id;
		char canon[TOPO_BUS_ID_LEN];
		topo_pci_addr a;

		assert_null(accel_context_device(ctx, i, &d));
		id = accel_device_pci_bus_id(d);
		assert_true(accel_device_numa_node(d) >= -1);
		if (!id) {
			assert_int_equal(accel_device_numa_node(d), -1);
			continue;
		}
		assert_true(topology_parse_bus_id(id, &a));
		topology_format_bus_id(&a, canon);
		assert_string_equal(id, canon);
	}
	n_gpu = accel_context_drm_gpu_count(ctx);
	for (size_t i = 0; i < n_gpu; i++) {
		assert_null(accel_context_drm_gpu(ctx, i, &g));
		assert_non_null(g.pci_bus_id);
		if (g.driven_by)
			assert_string_equal(accel_device_pci_bus_id(g.driven_by), g.pci_bus_id);
	}
	st = accel_context_drm_gpu(ctx, n_gpu, &g);
	assert_non_null(st);
	assert_int_equal(accel_status_code_of(st), ACCEL_NOT_FOUND);
	accel_status_free(st);
	st = accel_context_drm_gpu(ctx, 0, NULL);
	assert_int_equal(accel_status_code_of(st), ACCEL_INVALID_ARGUMENT);
	accel_status_free(st);
	assert_null(accel_device_pci_bus_id(NULL));
	assert_int_equal(accel_device_numa_node(NULL), -1);
	accel_context_release(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bus_id_spellings_parse_to_one_form),
		cmocka_unit_test(malformed_bus_ids_are_refused),
		cmocka_unit_test(four_numbers_make_the_same_address),
		cmocka_unit_test_setup_teardown(numa_nodes_come_from_sysfs, setup_fake,
						teardown_fake),
		cmocka_unit_test_setup_teardown(backend_bus_ids_match_their_gpu, setup_fake,
						teardown_fake),
		cmocka_unit_test(drm_discovery_returns_cleanly),
		cmocka_unit_test(context_reports_bus_ids_and_numa_nodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
