/* SPDX-License-Identifier: MIT */
/*
 * test_core.c - unit tests of the runtime core: graph IR, thread pool,
 * the ONNX loader on models built in memory, external-data rules, and
 * concurrent runs on one session.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "accel_onnx.pb-c.h"
#include "model_builder.h"
#include "cpu/threadpool.h"
#include "ir/graph.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- graph IR ---- */

static void graph_interns_values_by_name(void **state)
{
	ir_graph *g;
	int a, b, a2;

	(void)state;
	assert_null(ir_graph_create("g", &g));
	for (int i = 0; i < 1000; i++) {
		char name[32];
		int idx;

		snprintf(name, sizeof(name), "v%d", i);
		assert_null(ir_graph_intern_value(g, name, &idx));
		assert_int_equal(idx, i);
	}
	assert_null(ir_graph_intern_value(g, "a", &a));
	assert_null(ir_graph_intern_value(g, "b", &b));
	assert_null(ir_graph_intern_value(g, "a", &a2));
	assert_int_equal(a, a2);
	assert_int_not_equal(a, b);
	assert_int_equal(ir_graph_find_value(g, "v517"), 517);
	assert_int_equal(ir_graph_find_value(g, "missing"), -1);
	ir_graph_free(g);
}

static void add_node(ir_graph *g, const char *name, int in, int out)
{
	int ni;

	assert_null(ir_graph_add_node(g, &ni));
	g->nodes[ni].name = strdup(name);
	g->nodes[ni].op_type = strdup("Relu");
	g->nodes[ni].domain = strdup("");
	g->nodes[ni].inputs = malloc(sizeof(int));
	g->nodes[ni].outputs = malloc(sizeof(int));
	g->nodes[ni].inputs[0] = in;
	g->nodes[ni].outputs[0] = out;
	g->nodes[ni].n_inputs = g->nodes[ni].n_outputs = 1;
	g->values[out].producer = ni;
}

static void toposort_orders_reversed_nodes(void **state)
{
	ir_graph *g;
	int x, y, z;

	(void)state;
	assert_null(ir_graph_create("g", &g));
	assert_null(ir_graph_intern_value(g, "x", &x));
	assert_null(ir_graph_intern_value(g, "y", &y));
	assert_null(ir_graph_intern_value(g, "z", &z));
	g->values[x].kind = IR_VALUE_INPUT;
	add_node(g, "second", y, z); /* consumes y before it is produced */
	add_node(g, "first", x, y);
	assert_null(ir_graph_toposort(g));
	assert_string_equal(g->nodes[0].name, "first");
	assert_string_equal(g->nodes[1].name, "second");
	assert_int_equal(g->values[z].producer, 1);
	ir_graph_free(g);
}

static void toposort_rejects_cycle(void **state)
{
	ir_graph *g;
	int y, z;
	accel_status st;

	(void)state;
	assert_null(ir_graph_create("g", &g));
	assert_null(ir_graph_intern_value(g, "y", &y));
	assert_null(ir_graph_intern_value(g, "z", &z));
	add_node(g, "a", y, z);
	add_node(g, "b", z, y);
	st = ir_graph_toposort(g);
	assert_non_null(st);
	assert_int_equal(accel_status_code_of(st), ACCEL_INVALID_MODEL);
	assert_non_null(strstr(accel_status_message(st), "cycle"));
	accel_status_free(st);
	ir_graph_free(g);
}

/* ---- thread pool ---- */

static void mark(void *arg, int64_t begin, int64_t end)
{
	int *hits = arg;

	for (int64_t i = begin; i < end; i++)
		__atomic_fetch_add(&hits[i], 1, __ATOMIC_RELAXED);
}

static void parallel_for_covers_every_index_once(void **state)
{
	threadpool *tp;
	int n = 10007, *hits = calloc((size_t)n, sizeof(int));

	(void)state;
	assert_null(threadpool_create(4, &tp));
	for (int round = 0; round < 50; round++)
		parallel_for(tp, n, 1 + round, mark, hits);
	for (int i = 0; i < n; i++)
		assert_int_equal(hits[i], 50);
	threadpool_destroy(tp);
	free(hits);
}

static void threadpool_rejects_zero_threads(void **state)
{
	threadpool *tp = NULL;
	accel_status st = threadpool_create(0, &tp);

	(void)state;
	assert_non_null(st);
	assert_int_equal(accel_status_code_of(st), ACCEL_INVALID_ARGUMENT);
	accel_status_free(st);
	assert_null(tp);
}

static accel_context *ctx_new(void)
{
	accel_context *c;

	assert_null(accel_context_create(0, &c));
	return c;
}

static void run_once(accel_session *s, int64_t rows, float base)
{
	int64_t dims[2] = { rows, 3 };
	accel_tensor *x, *y = NULL;
	accel_named_tensor in;
	float *xd, *yd;

	assert_null(accel_tensor_create(ACCEL_DTYPE_F32, 2, dims, &x));
	xd = accel_tensor_data(x);
	for (int i = 0; i < rows * 3; i++)
		xd[i] = base + (float)i;
	in.name = "x";
	in.tensor = x;
	assert_null(accel_session_run(s, &in, 1, &y, 1, 0));
	assert_int_equal(accel_tensor_rank(y), 2);
	assert_int_equal(accel_tensor_dims(y)[0], rows);
	yd = accel_tensor_data(y);
	for (int i = 0; i < rows * 3; i++) {
		static const float c[3] = { -1.0f, 0.5f, 2.0f };
		float want = xd[i] + c[i % 3];

		assert_float_equal(yd[i], want > 0 ? want : 0, 0);
	}
	accel_tensor_release(x);
	accel_tensor_release(y);
}

static void loads_and_runs_model_from_memory(void **state)
{
	model_buf b = make_model(NULL, false, "Relu");
	accel_context *c = ctx_new();
	accel_model *m;
	accel_session *s;
	accel_value_info info;

	(void)state;
	assert_null(accel_model_load_memory(c, b.data, b.size, "mem.onnx", NULL, 0, &m));
	assert_int_equal(accel_model_input_count(m), 1);
	assert_int_equal(accel_model_output_count(m), 1);
	assert_null(accel_model_output_info(m, 0, &info));
	assert_string_equal(info.name, "y");
	assert_int_equal(info.rank, 2); /* inferred: Relu(Add([2,3],[3])) */
	assert_int_equal(info.dims[0], 2);
	assert_int_equal(info.dims[1], 3);
	assert_null(accel_session_create(m, NULL, &s));
	run_once(s, 2, -3.0f);
	accel_session_release(s);
	accel_model_release(m);
	accel_context_release(c);
	free(b.data);
}

static void dynamic_dimension_resolves_per_run(void **state)
{
	model_buf b = make_model(NULL, true, "Relu");
	accel_context *c = ctx_new();
	accel_model *m;
	accel_session *s;
	accel_value_info info;

	(void)state;
	assert_null(accel_model_load_memory(c, b.data, b.size, "dyn.onnx", NULL, 0, &m));
	assert_null(accel_model_input_info(m, 0, &info));
	assert_int_equal(info.dims[0], -1);
	assert_string_equal(info.dim_names[0], "batch");
	assert_null(accel_session_create(m, NULL, &s));
	run_once(s, 1, 0.0f);
	run_once(s, 7, -10.0f);
	accel_session_release(s);
	accel_model_release(m);
	accel_context_release(c);
	free(b.data);
}

struct run_args {
	accel_session *s;
	int id;
};

static void *runner(void *p)
{
	struct run_args *a = p;

	for (int i = 0; i < 200; i++)
		run_once(a->s, 1 + (a->id + i) % 5, (float)(a->id - i));
	return NULL;
}

static void concurrent_runs_on_one_session(void **state)
{
	model_buf b = make_model(NULL, true, "Relu");
	accel_context *c = ctx_new();
	accel_session_options o;
	accel_model *m;
	accel_session *s;
	pthread_t th[4];
	struct run_args args[4];

	(void)state;
	assert_null(accel_model_load_memory(c, b.data, b.size, "mt.onnx", NULL, 0, &m));
	accel_session_options_init(&o);
	o.num_threads = 2;
	assert_null(accel_session_create(m, &o, &s));
	for (int i = 0; i < 4; i++) {
		args[i].s = s;
		args[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, runner, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	accel_session_release(s);
	accel_model_release(m);
	accel_context_release(c);
	free(b.data);
}

static void unknown_op_names_node_and_op(void **state)
{
	model_buf b = make_model(NULL, false, "NoSuchOp");
	accel_context *c = ctx_new();
	accel_model *m = NULL;
	accel_status st;

	(void)state;
	st = accel_model_load_memory(c, b.data, b.size, "unk.onnx", NULL, 0, &m);
	assert_non_null(st);
	assert_int_equal(accel_status_code_of(st), ACCEL_UNSUPPORTED);
	assert_non_null(strstr(accel_status_message(st), "unk.onnx"));
	assert_non_null(strstr(accel_status_message(st), "act0"));
	assert_non_null(strstr(accel_status_message(st), "NoSuchOp"));
	assert_null(m);
	accel_status_free(st);
	accel_context_release(c);
	free(b.data);
}

static char *make_dir(void)
{
	char tmpl[] = "/tmp/accel-test-XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static void external_data_is_read_from_model_dir(void **state)
{
	model_buf b = make_model("weights.bin", false, "Relu");
	float cvals[3] = { -1.0f, 0.5f, 2.0f };
	accel_context *c = ctx_new();
	char *dir = make_dir(), path[512];
	accel_model *m;
	accel_session *s;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/weights.bin", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	fwrite(cvals, sizeof(cvals), 1, f);
	fclose(f);
	assert_null(accel_model_load_memory(c, b.data, b.size, "ext.onnx", dir, 0, &m));
	assert_null(accel_session_create(m, NULL, &s));
	run_once(s, 2, -1.5f);
	accel_session_release(s);
	accel_model_release(m);
	unlink(path);
	rmdir(dir);
	free(dir);
	accel_context_release(c);
	free(b.data);
}

static void expect_load_error(const char *location, const char *base_dir,
			      accel_status_code code, const char *needle)
{
	model_buf b = make_model(location, false, "Relu");
	accel_context *c = ctx_new();
	accel_model *m = NULL;
	accel_status st = accel_model_load_memory(c, b.data, b.size, "bad.onnx", base_dir, 0, &m);

	assert_non_null(st);
	if (accel_status_code_of(st) != code || !strstr(accel_status_message(st), needle))
		fail_msg("expected %s mentioning '%s', got %s: %s",
			 accel_status_code_name(code), needle,
			 accel_status_code_name(accel_status_code_of(st)),
			 accel_status_message(st));
	assert_null(m);
	accel_status_free(st);
	accel_context_release(c);
	free(b.data);
}

static void external_data_outside_dir_is_refused(void **state)
{
	char *dir = make_dir();

	(void)state;
	expect_load_error("../etc/passwd", dir, ACCEL_PERMISSION_DENIED, "leaves");
	expect_load_error("a/../../x", dir, ACCEL_PERMISSION_DENIED, "leaves");
	expect_load_error("/etc/passwd", dir, ACCEL_PERMISSION_DENIED, "relative");
	expect_load_error("missing.bin", dir, ACCEL_NOT_FOUND, "missing.bin");
	expect_load_error("w.bin", NULL, ACCEL_PERMISSION_DENIED, "w.bin");
	rmdir(dir);
	free(dir);
}

static void external_data_symlink_escape_is_refused(void **state)
{
	char *dir = make_dir(), link[512];

	(void)state;
	snprintf(link, sizeof(link), "%s/evil.bin", dir);
	assert_int_equal(symlink("/etc/hostname", link), 0);
	expect_load_error("evil.bin", dir, ACCEL_PERMISSION_DENIED, "outside");
	unlink(link);
	rmdir(dir);
	free(dir);
}

static void short_external_file_is_rejected(void **state)
{
	char *dir = make_dir(), path[512];
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/short.bin", dir);
	f = fopen(path, "wb");
	fwrite("abcd", 4, 1, f);
	fclose(f);
	expect_load_error("short.bin", dir, ACCEL_INVALID_MODEL, "short.bin");
	unlink(path);
	rmdir(dir);
	free(dir);
}

static void bad_load_flags_and_dump_arguments_are_refused(void **state)
{
	model_buf b = make_model(NULL, false, "Relu");
	accel_context *c = ctx_new();
	accel_model *m = NULL;
	accel_status st;

	(void)state;
	st = accel_model_load_memory(c, b.data, b.size, "f.onnx", NULL, 0x10, &m);
	assert_int_equal(accel_status_code_of(st), ACCEL_INVALID_ARGUMENT);
	accel_status_free(st);
	st = accel_model_load_memory(c, b.data, b.size, "f.onnx", NULL,
				     ACCEL_LOAD_OPT_LEVEL(7), &m);
	assert_int_equal(accel_status_code_of(st), ACCEL_INVALID_ARGUMENT);
	accel_status_free(st);
	assert_null(m);
	assert_null(accel_model_load_memory(c, b.data, b.size, "f.onnx", NULL,
					    ACCEL_LOAD_OPT_LEVEL(0), &m));
	st = accel_model_dump_graph(m, NULL, 0);
	assert_int_equal(accel_status_code_of(st), ACCEL_INVALID_ARGUMENT);
	accel_status_free(st);
	st = accel_model_dump_graph(m, "/tmp/accel-g.dot", 1);
	assert_int_equal(accel_status_code_of(st), ACCEL_INVALID_ARGUMENT);
	accel_status_free(st);
	accel_model_release(m);
	accel_context_release(c);
	free(b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(graph_interns_values_by_name),
		cmocka_unit_test(toposort_orders_reversed_nodes),
		cmocka_unit_test(toposort_rejects_cycle),
		cmocka_unit_test(parallel_for_covers_every_index_once),
		cmocka_unit_test(threadpool_rejects_zero_threads),
		cmocka_unit_test(loads_and_runs_model_from_memory),
		cmocka_unit_test(dynamic_dimension_resolves_per_run),
		cmocka_unit_test(concurrent_runs_on_one_session),
		cmocka_unit_test(unknown_op_names_node_and_op),
		cmocka_unit_test(external_data_is_read_from_model_dir),
		cmocka_unit_test(external_data_outside_dir_is_refused),
		cmocka_unit_test(external_data_symlink_escape_is_refused),
		cmocka_unit_test(short_external_file_is_rejected),
		cmocka_unit_test(bad_load_flags_and_dump_arguments_are_refused),
	};

	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
