/* SPDX-License-Identifier: MIT */
/*
 * test_cost.c - the placement cost model (sched/cost.c, sched/plan.c):
 * node work from shapes, profiles installed from code and from
 * ACCEL_COST_PROFILE, profiles measured on the real CPU and OpenCL
 * devices, and placements over fake devices with installed profiles
 * (faster devices take heavy nodes, costly copies keep a chain together,
 * unsupported nodes find a capable device, one device keeps first-fit,
 * stages are contiguous).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/runtime.h"
#include "cpu/kernel.h"
#include "sched/cost.h"
#include "sched/plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- fake devices: host memory, CPU kernels, a list of supported ops ---- */

typedef struct fake_dev {
	const char *ops; /* ",Relu,MatMul," */
} fake_dev;

static void fake_destroy(void *impl) { (void)impl; }

static bool fake_supports(void *impl, const ir_node *n, accel_tensor *const *in, int n_in)
{
	char key[64];

	(void)in, (void)n_in;
	snprintf(key, sizeof(key), ",%s,", n->op_type);
	return strstr(((fake_dev *)impl)->ops, key) != NULL;
}

static accel_status fake_alloc(void *impl, size_t bytes, void **out)
{
	(void)impl;
	*out = malloc(bytes);
	return *out ? NULL : status_oom("fake device memory");
}

static void fake_free(void *impl, void *mem) { (void)impl, free(mem); }

static accel_status fake_upload(void *impl, void *mem, const void *src, size_t n)
{
	(void)impl;
	memcpy(mem, src, n);
	return NULL;
}

static accel_status fake_download(void *impl, void *dst, void *mem, size_t n)
{
	(void)impl;
	memcpy(dst, mem, n);
	return NULL;
}

static accel_status fake_exec(void *impl, const ir_node *n, void *state,
			      accel_tensor *const *in, const bool *on_host, int n_in,
			      accel_tensor *const *out, int n_out)
{
	cpu_ctx ctx = { .node = n };

	(void)impl, (void)state, (void)on_host;
	return cpu_kernel_find(n->domain, n->op_type)->exec(&ctx, in, n_in, out, n_out);
}

static const backend_ops fake_ops = {
	.kind_name = "fake",
	.kind = ACCEL_DEVICE_OPENCL,
	.destroy = fake_destroy,
	.supports = fake_supports,
	.alloc = fake_alloc,
	.free = fake_free,
	.upload = fake_upload,
	.download = fake_download,
	.exec = fake_exec,
};

static fake_dev fake_impl[3];
static backend_device fake[3] = {
	{ &fake_ops, &fake_impl[0], "fake:0 (test)", 0 },
	{ &fake_ops, &fake_impl[1], "fake:1 (test)", 1 },
	{ &fake_ops, &fake_impl[2], "fake:2 (test)", 2 },
};

/* A profile: GEMM GFLOP/s, stream GB/s, copy GB/s (0: free), copy latency us. */
static void install(const char *name, double gflops, double gbps, double copy_gbps,
		    double lat_us)
{
	cost_profile p;

	cost_profile_defaults(&p);
	p.gemm_flops = gflops * 1e9;
	p.stream_bps = gbps * 1e9;
	p.launch_s = 5e-6;
	p.up_bps = p.down_bps = copy_gbps * 1e9;
	p.up_lat_s = p.down_lat_s = lat_us * 1e-6;
	assert_null(cost_profile_install(name, &p));
}

/* ---- graphs built by hand: float32 2-D values ---- */

static int value(ir_graph *g, const char *name, int64_t r, int64_t c, ir_value_kind kind)
{
	int v;

	assert_null(ir_graph_intern_value(g, name, &v));
	g->values[v].kind = kind;
	g->values[v].dtype = ACCEL_DTYPE_F32;
	g->values[v].rank = 2;
	g->values[v].dims[0] = r;
	g->values[v].dims[1] = c;
	if (kind == IR_VALUE_INPUT) {
		g->inputs = realloc(g->inputs, sizeof(int) * (size_t)(g->n_inputs + 1));
		g->inputs[g->n_inputs++] = v;
	}
	return v;
}

/* Node |op| reading a and b (b < 0: unary) and writing |out|. */
static void node(ir_graph *g, const char *op, int a, int b, int out)
{
	char name[32];
	ir_node *n;
	int i;

	assert_null(ir_graph_add_node(g, &i));
	n = &g->nodes[i];
	snprintf(name, sizeof(name), "n%d", i);
	n->name = strdup(name);
	n->op_type = strdup(op);
	n->domain = strdup("");
	n->opset = 13;
	n->n_inputs = b < 0 ? 1 : 2;
	n->inputs = malloc(sizeof(int) * 2);
	n->inputs[0] = a;
	n->inputs[1] = b;
	n->n_outputs = 1;
	n->outputs = malloc(sizeof(int));
	n->outputs[0] = out;
	g->values[out].producer = i;
}

static void output(ir_graph *g, int v)
{
	g->values[v].is_output = true;
	g->outputs = realloc(g->outputs, sizeof(int) * (size_t)(g->n_outputs + 1));
	g->outputs[g->n_outputs++] = v;
}

/* x[64,256] -> Relu -> MatMul(w1) -> MatMul(w2) -> Relu -> y */
static ir_graph *heavy_middle(void)
{
	ir_graph *g;
	int x, w1, w2, r0, m1, m2, y;

	assert_null(ir_graph_create("heavy", &g));
	x = value(g, "x", 64, 256, IR_VALUE_INPUT);
	w1 = value(g, "w1", 256, 256, IR_VALUE_INPUT);
	w2 = value(g, "w2", 256, 256, IR_VALUE_INPUT);
	r0 = value(g, "r0", 64, 256, IR_VALUE_INTERMEDIATE);
	m1 = value(g, "m1", 64, 256, IR_VALUE_INTERMEDIATE);
	m2 = value(g, "m2", 64, 256, IR_VALUE_INTERMEDIATE);
	y = value(g, "y", 64, 256, IR_VALUE_INTERMEDIATE);
	node(g, "Relu", x, -1, r0);
	node(g, "MatMul", r0, w1, m1);
	node(g, "MatMul", m1, w2, m2);
	node(g, "Relu", m2, -1, y);
	output(g, y);
	return g;
}

/* A chain of |n| Relus over [256,1024] values. */
static ir_graph *relu_chain(int n)
{
	ir_graph *g;
	int prev;

	assert_null(ir_graph_create("chain", &g));
	prev = value(g, "x", 256, 1024, IR_VALUE_INPUT);
	for (int i = 0; i < n; i++) {
		char name[16];
		int v;

		snprintf(name, sizeof(name), "r%d", i);
		v = value(g, name, 256, 1024, IR_VALUE_INTERMEDIATE);
		node(g, "Relu", prev, -1, v);
		prev = v;
	}
	output(g, prev);
	return g;
}

static const char *dev_of(const plan_step *s)
{
	return s->device ? s->device->name : "cpu";
}

static exec_plan *plan_on(ir_graph *g, int n_fake, bool cpu_listed)
{
	const backend_device *list[3] = { &fake[0], &fake[1], &fake[2] };
	exec_plan *p = NULL;

	assert_null(plan_build_for(g, NULL, list, (size_t)n_fake, cpu_listed, &p));
	for (int i = 0; i < p->n_steps && p->n_steps <= 40; i++)
		printf("    step %d %-6s on %-14s %s\n", i, g->nodes[i].op_type,
		       dev_of(&p->steps[i]), p->steps[i].reason);
	return p;
}

/* Devices of consecutive runs of steps: each device forms one run. */
static int count_stages(const exec_plan *p)
{
	int runs = 0;

	for (int i = 0; i < p->n_steps; i++) {
		if (i && p->steps[i].device == p->steps[i - 1].device)
			continue;
		runs++;
		for (int j = 0; j < i; j++)
			if (p->steps[j].device == p->steps[i].device)
				fail_msg("step %d: back on %s after leaving it", i,
					 dev_of(&p->steps[i]));
	}
	return runs;
}

static void reset(void)
{
	assert_null(cost_profile_install(NULL, NULL));
	fake_impl[0].ops = fake_impl[1].ops = fake_impl[2].ops = ",Relu,MatMul,Add,";
}

/* ---- tests ---- */

static void work_comes_from_shapes(void **state)
{
	ir_graph *g;
	cost_work w;
	cost_profile p;
	int x, wt, y, a, b, c;

	(void)state;
	assert_null(ir_graph_create("work", &g));
	x = value(g, "x", 1, 1, IR_VALUE_INPUT);
	g->values[x].rank = 4;
	g->values[x].dims[1] = 3;
	g->values[x].dims[2] = g->values[x].dims[3] = 224;
	wt = value(g, "w", 64, 3, IR_VALUE_INPUT);
	g->values[wt].rank = 4;
	g->values[wt].dims[2] = g->values[wt].dims[3] = 7;
	y = value(g, "y", 1, 64, IR_VALUE_INTERMEDIATE);
	g->values[y].rank = 4;
	g->values[y].dims[2] = g->values[y].dims[3] = 112;
	node(g, "Conv", x, wt, y);
	cost_node_work(g, &g->nodes[0], &w);
	/* resnet's first conv: 64*112*112 outputs of 3*7*7 MACs */
	assert_float_equal(w.flops, 2.0 * 64 * 112 * 112 * 3 * 7 * 7, 1);
	assert_true(w.conv);
	cost_profile_defaults(&p);
	p.launch_s = 0;
	p.gemm_flops = w.flops; /* 1 s */
	assert_float_equal(cost_work_seconds(&w, &p), 1.0, 1e-9);
	p.conv_flops = w.flops / 4; /* convolutions take the Conv rate */
	assert_float_equal(cost_work_seconds(&w, &p), 4.0, 1e-9);
	a = value(g, "a", 8, 32, IR_VALUE_INPUT);
	b = value(g, "b", 32, 16, IR_VALUE_INPUT);
	c = value(g, "c", 8, 16, IR_VALUE_INTERMEDIATE);
	node(g, "FusedMatMul", a, b, c);
	cost_node_work(g, &g->nodes[1], &w);
	assert_float_equal(w.flops, 2.0 * 8 * 16 * 32, 0);
	assert_false(w.conv);
	g->values[a].dims[0] = -1; /* a dynamic leading dim counts as 1 */
	g->values[c].dims[0] = -1;
	cost_node_work(g, &g->nodes[1], &w);
	assert_float_equal(w.flops, 2.0 * 16 * 32, 0);
	node(g, "Relu", b, -1, value(g, "d", 32, 16, IR_VALUE_INTERMEDIATE));
	cost_node_work(g, &g->nodes[2], &w);
	assert_float_equal(w.flops, 0, 0);
	assert_float_equal(w.bytes, 2.0 * 32 * 16 * 4, 0);
	cost_profile_defaults(&p);
	p.launch_s = 1e-6;
	p.stream_bps = 4096;
	assert_float_equal(cost_work_seconds(&w, &p), 1e-6 + 1.0, 1e-9);
	ir_graph_free(g);
}

static void installed_profile_wins(void **state)
{
	cost_profile p, got;
	accel_status st;

	(void)state;
	reset();
	cost_profile_defaults(&p);
	p.gemm_flops = 123e9;
	assert_null(cost_profile_install("fake:1", &p));
	assert_null(cost_profile_get(&fake[1], NULL, &got));
	assert_float_equal(got.gemm_flops, 123e9, 0);
	assert_float_equal(got.measured_s, 0, 0);
	/* the full name matches too, and removing it works */
	p.gemm_flops = 7e9;
	assert_null(cost_profile_install("fake:1 (test)", &p));
	assert_null(cost_profile_install("fake:1", NULL));
	assert_null(cost_profile_get(&fake[1], NULL, &got));
	assert_float_equal(got.gemm_flops, 7e9, 0);
	st = cost_profile_install(NULL, &p);
	assert_int_equal(accel_status_code_of(st), ACCEL_INVALID_ARGUMENT);
	accel_status_free(st);
	reset();
}

/* Set before the first profile lookup (main): read once per process. */
static char env_path[64];

static void env_file_installs_profiles(void **state)
{
	cost_profile got;

	(void)state;
	assert_null(cost_profile_get(&fake[2], NULL, &got));
	assert_float_equal(got.gemm_flops, 24e9, 1);
	assert_float_equal(got.conv_flops, 6e9, 1);
	assert_float_equal(got.stream_bps, 8e9, 1);
	assert_float_equal(got.launch_s, 15e-6, 1e-12);
	assert_float_equal(got.up_bps, 4e9, 1);
	assert_float_equal(got.up_lat_s, 20e-6, 1e-12);
	assert_float_equal(got.down_bps, 0, 0); /* missing: the default, free */
	unlink(env_path);
}

static void measured_profiles_are_sane(void **state)
{
	accel_context *c;
	threadpool *pool;
	cost_profile p;

	(void)state;
	reset();
	assert_null(threadpool_create(2, &pool));
	assert_null(cost_profile_get(NULL, pool, &p));
	printf("    cpu/2: GEMM %.3g GFLOP/s, Conv %.3g GFLOP/s, %.3g GB/s, launch %.3g us, measured in %.1f ms + %.1f ms of preparation\n",
	       p.gemm_flops * 1e-9, p.conv_flops * 1e-9, p.stream_bps * 1e-9, p.launch_s * 1e6,
	       p.measured_s * 1e3, p.build_s * 1e3);
	assert_true(p.gemm_flops > 0 && isfinite(p.gemm_flops));
	assert_true(p.conv_flops > 0 && isfinite(p.conv_flops));
	assert_true(p.stream_bps > 0 && isfinite(p.stream_bps));
	assert_true(p.launch_s > 0 && isfinite(p.launch_s));
	assert_true(p.measured_s > 0);
	assert_float_equal(p.up_bps, 0, 0); /* the host's own memory */
	threadpool_destroy(pool);
	assert_null(accel_context_create(0, &c));
	accel_context_discover(c);
	for (size_t i = 0; i < c->n_devices; i++) {
		const backend_device *d = &c->devices[i]->backend;

		if (!d->ops)
			continue;
		assert_null(cost_profile_get(d, NULL, &p));
		printf("    %s: GEMM %.3g GFLOP/s, Conv %.3g GFLOP/s, %.3g GB/s, launch %.3g us, up %.3g GB/s + %.3g us, down %.3g GB/s + %.3g us, measured in %.1f ms + %.1f ms of program builds\n",
		       d->name, p.gemm_flops * 1e-9, p.conv_flops * 1e-9, p.stream_bps * 1e-9,
		       p.launch_s * 1e6, p.up_bps * 1e-9, p.up_lat_s * 1e6, p.down_bps * 1e-9, p.down_lat_s * 1e6,
		       p.measured_s * 1e3, p.build_s * 1e3);
		assert_true(p.gemm_flops > 0 && isfinite(p.gemm_flops));
		assert_true(p.conv_flops > 0 && isfinite(p.conv_flops));
		assert_true(p.stream_bps > 0 && p.launch_s > 0);
		assert_true(p.up_bps > 0 && p.down_bps > 0 && p.up_lat_s > 0 && p.down_lat_s > 0);
	}
	accel_context_release(c);
}

static void faster_device_takes_heavy_nodes(void **state)
{
	ir_graph *g = heavy_middle();
	exec_plan *p;

	(void)state;
	reset();
	install("cpu", 10, 10, 0, 0);
	install("fake:0", 100, 10, 10, 5);
	p = plan_on(g, 1, true);
	assert_ptr_equal(p->steps[1].device, &fake[0]);
	assert_ptr_equal(p->steps[2].device, &fake[0]);
	assert_non_null(strstr(p->steps[1].reason, "fake:0: stage"));
	assert_non_null(strstr(p->steps[1].reason, "GFLOP/s"));
	plan_free(p);
	/* the other way round, the CPU takes them */
	install("cpu", 100, 10, 0, 0);
	install("fake:0", 10, 10, 10, 5);
	p = plan_on(g, 1, true);
	assert_null(p->steps[1].device);
	assert_null(p->steps[2].device);
	plan_free(p);
	ir_graph_free(g);
	reset();
}

static void costly_copies_keep_a_chain_together(void **state)
{
	ir_graph *g = relu_chain(6);
	exec_plan *p;

	(void)state;
	reset();
	/* copies nearly free: the pipeline splits the chain over both */
	install("fake:0", 10, 10, 1000, 0.01);
	install("fake:1", 10, 10, 1000, 0.01);
	p = plan_on(g, 2, false);
	assert_int_equal(count_stages(p), 2);
	plan_free(p);
	/* a copy costs more than the whole chain: one device runs it all */
	install("fake:0", 10, 10, 0.001, 1000);
	install("fake:1", 10, 10, 0.001, 1000);
	p = plan_on(g, 2, false);
	assert_int_equal(count_stages(p), 1);
	plan_free(p);
	ir_graph_free(g);
	reset();
}

static void unsupported_nodes_go_to_a_capable_device(void **state)
{
	ir_graph *g = heavy_middle();
	exec_plan *p;

	(void)state;
	reset();
	memcpy(g->nodes[3].op_type, "Selu", 5);
	fake_impl[0].ops = ",Relu,";
	fake_impl[1].ops = ",Relu,MatMul,";
	install("cpu", 1000, 1000, 0, 0); /* fastest, but not listed */
	install("fake:0", 10, 10, 10, 5);
	install("fake:1", 10, 10, 10, 5);
	p = plan_on(g, 2, false);
	assert_ptr_equal(p->steps[1].device, &fake[1]);
	assert_ptr_equal(p->steps[2].device, &fake[1]);
	assert_null(p->steps[3].device);
	assert_non_null(strstr(p->steps[3].reason, "cpu fallback"));
	plan_free(p);
	ir_graph_free(g);
	reset();
}

static void one_device_keeps_first_fit(void **state)
{
	ir_graph *g = heavy_middle();
	exec_plan *p;

	(void)state;
	reset();
	fake_impl[0].ops = ",Relu,";
	install("cpu", 1000, 1000, 0, 0); /* would win on cost: not used */
	install("fake:0", 1, 1, 0.001, 1000);
	p = plan_on(g, 1, false);
	assert_ptr_equal(p->steps[0].device, &fake[0]);
	assert_null(p->steps[1].device);
	assert_null(p->steps[2].device);
	assert_ptr_equal(p->steps[3].device, &fake[0]);
	assert_string_equal(p->steps[0].reason, "first listed device supports it");
	assert_string_equal(p->steps[1].reason, "cpu fallback: no listed device supports it");
	plan_free(p);
	/* the old entry point is the same thing */
	{
		const backend_device *list[1] = { &fake[0] };

		assert_null(plan_build(g, NULL, list, 1, &p));
		assert_ptr_equal(p->steps[0].device, &fake[0]);
		assert_null(p->steps[1].device);
		plan_free(p);
	}
	ir_graph_free(g);
	reset();
}

static void stages_are_contiguous(void **state)
{
	ir_graph *g;
	exec_plan *p;
	int prev, skip;
	int used[4] = { 0 };

	(void)state;
	reset();
	/* 24 nodes: MatMuls of varied width with Relus and a skip Add */
	assert_null(ir_graph_create("mix", &g));
	prev = value(g, "x", 64, 256, IR_VALUE_INPUT);
	skip = prev;
	for (int i = 0; i < 8; i++) {
		char name[16];
		int w, m, r, s;

		snprintf(name, sizeof(name), "w%d", i);
		w = value(g, name, 256, 256, IR_VALUE_INPUT);
		snprintf(name, sizeof(name), "m%d", i);
		m = value(g, name, 64, 256, IR_VALUE_INTERMEDIATE);
		snprintf(name, sizeof(name), "r%d", i);
		r = value(g, name, 64, 256, IR_VALUE_INTERMEDIATE);
		snprintf(name, sizeof(name), "s%d", i);
		s = value(g, name, 64, 256, IR_VALUE_INTERMEDIATE);
		node(g, "MatMul", prev, w, m);
		node(g, "Relu", m, -1, r);
		node(g, "Add", r, skip, s);
		skip = r;
		prev = s;
	}
	output(g, prev);
	install("cpu", 20, 10, 0, 0);
	install("fake:0", 30, 10, 10, 5);
	install("fake:1", 40, 10, 10, 5);
	p = plan_on(g, 2, true);
	assert_true(count_stages(p) >= 2);
	assert_true(count_stages(p) <= 3);
	for (int i = 0; i < p->n_steps; i++)
		used[p->steps[i].device ? p->steps[i].device->index : 3]++;
	/* the fastest device does the most */
	assert_true(used[1] >= used[0] && used[1] >= used[3]);
	plan_free(p);
	ir_graph_free(g);
	reset();
}

static void long_graphs_are_cut_at_coarser_points(void **state)
{
	ir_graph *g = relu_chain(1500);
	int used[4] = { 0 };
	exec_plan *p;

	(void)state;
	reset();
	install("cpu", 10, 10, 0, 0);
	install("fake:0", 10, 10, 100, 1);
	install("fake:1", 10, 10, 100, 1);
	p = plan_on(g, 2, true);
	assert_int_equal(count_stages(p), 3);
	for (int i = 0; i < p->n_steps; i++)
		used[p->steps[i].device ? p->steps[i].device->index : 3]++;
	/* equal devices share the chain, give or take a cut's spacing */
	for (int d = 0; d < 4; d++)
		if (d != 2)
			assert_true(used[d] > 400 && used[d] < 600);
	plan_free(p);
	ir_graph_free(g);
	reset();
}

static void device_list_names_cpu(void **state)
{
	(void)state;
	assert_true(plan_devices_list_cpu("cpu"));
	assert_true(plan_devices_list_cpu("opencl:0,cpu"));
	assert_true(plan_devices_list_cpu("cpu,opencl:0,opencl:1"));
	assert_true(plan_devices_list_cpu("auto"));
	assert_false(plan_devices_list_cpu("opencl:0,opencl:1"));
	assert_false(plan_devices_list_cpu("cpux,opencl:0"));
	assert_false(plan_devices_list_cpu(""));
	assert_false(plan_devices_list_cpu(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(env_file_installs_profiles),
		cmocka_unit_test(work_comes_from_shapes),
		cmocka_unit_test(installed_profile_wins),
		cmocka_unit_test(measured_profiles_are_sane),
		cmocka_unit_test(faster_device_takes_heavy_nodes),
		cmocka_unit_test(costly_copies_keep_a_chain_together),
		cmocka_unit_test(unsupported_nodes_go_to_a_capable_device),
		cmocka_unit_test(one_device_keeps_first_fit),
		cmocka_unit_test(stages_are_contiguous),
		cmocka_unit_test(long_graphs_are_cut_at_coarser_points),
		cmocka_unit_test(device_list_names_cpu),
	};
	FILE *f;
	int fd;

	strcpy(env_path, "/tmp/accel-cost-XXXXXX");
	fd = mkstemp(env_path);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f)
		return 1;
	fputs("# a comment line\n\n"
	      "fake:2 gemm_gflops=24 conv_gflops=6 stream_gbps=8 launch_us=15 "
	      "up_gbps=4 up_lat_us=20 # trailing\n",
	      f);
	fclose(f);
	setenv("ACCEL_COST_PROFILE", env_path, 1);
	return cmocka_run_group_tests_name("cost", tests, NULL, NULL);
}
