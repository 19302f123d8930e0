/* SPDX-License-Identifier: MIT */
/*
 * test_arena.c - the memory plan (sched/arena.c): which values it plans,
 * that values alive at the same time never share bytes, that dead values'
 * bytes are reused, and the in-place rule; then a whole session run with
 * the arena against one without it.
 *
 * The graphs are built straight in the IR with a hand-made plan (step i
 * runs node i; dead lists as sched/plan.c computes them), so each case
 * states exactly which lifetimes it tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/runtime.h"
#include "model_builder.h"
#include "sched/arena.h"

#include <stdlib.h>
#include <string.h>

typedef struct fixture {
	ir_graph *g;
	exec_plan plan;
	plan_step steps[16];
	int dead[16][8];
} fixture;

static void fx_init(fixture *f)
{
	memset(f, 0, sizeof(*f));
	assert_null(ir_graph_create("arena", &f->g));
	f->plan.steps = f->steps;
}

/* A float32 value of shape [n] (n < 0: dynamic). */
static int fx_value(fixture *f, const char *name, int64_t n, ir_value_kind kind)
{
	int v;

	assert_null(ir_graph_intern_value(f->g, name, &v));
	f->g->values[v].kind = kind;
	f->g->values[v].dtype = ACCEL_DTYPE_F32;
	f->g->values[v].rank = 1;
	f->g->values[v].dims[0] = n;
	f->g->values[v].producer = -1;
	return v;
}

/* Node |op| reading in0 (and in1 >= 0), writing out. */
static void fx_node(fixture *f, const char *op, int in0, int in1, int out)
{
	ir_node *n;
	int i;

	assert_null(ir_graph_add_node(f->g, &i));
	n = &f->g->nodes[i];
	n->name = strdup(op);
	n->op_type = strdup(op);
	n->domain = strdup("");
	n->n_inputs = in1 >= 0 ? 2 : 1;
	n->inputs = malloc(sizeof(int) * 2);
	n->inputs[0] = in0;
	n->inputs[1] = in1;
	n->n_outputs = 1;
	n->outputs = malloc(sizeof(int));
	n->outputs[0] = out;
	f->g->values[out].producer = i;
	f->steps[i].node = i;
	f->steps[i].dead = f->dead[i];
	f->plan.n_steps = i + 1;
}

static void fx_dies(fixture *f, int step, int v)
{
	f->steps[step].dead[f->steps[step].n_dead++] = v;
}

static void fx_free(fixture *f)
{
	ir_graph_free(f->g);
}

static bool overlap(const arena_plan *a, int u, int v)
{
	int64_t ue = a->offset[u] + (int64_t)a->slot_bytes[u];
	int64_t ve = a->offset[v] + (int64_t)a->slot_bytes[v];

	return a->offset[u] < ve && a->offset[v] < ue;
}

/*
 * x -> Exp -> a -> Log -> b -> Sqrt... with non in-place ops (MatMul-like
 * "Conv" stand-ins would need more inputs; use ops outside the in-place
 * list): a and b are alive together at step 1, so they must not overlap;
 * c (born at step 2, after a died at step 1) may take a's bytes.
 */
static void lifetimes_decide_sharing(void **state)
{
	fixture f;
	arena_plan *a;
	int x, p, q, r, y;

	(void)state;
	fx_init(&f);
	x = fx_value(&f, "x", 256, IR_VALUE_INPUT);
	p = fx_value(&f, "p", 256, IR_VALUE_INTERMEDIATE);
	q = fx_value(&f, "q", 256, IR_VALUE_INTERMEDIATE);
	r = fx_value(&f, "r", 256, IR_VALUE_INTERMEDIATE);
	y = fx_value(&f, "y", 256, IR_VALUE_INTERMEDIATE);
	f.g->values[y].is_output = true;
	fx_node(&f, "Floor", x, -1, p);	 /* 0: p */
	fx_node(&f, "Ceil", p, -1, q);	 /* 1: q, p dies */
	fx_node(&f, "Round", q, -1, r);	 /* 2: r, q dies */
	fx_node(&f, "Sin", r, -1, y);	 /* 3: y (output), r dies */
	fx_dies(&f, 1, p);
	fx_dies(&f, 2, q);
	fx_dies(&f, 3, r);
	assert_null(arena_plan_build(f.g, &f.plan, &a));
	assert_int_equal(a->planned, 3); /* not x (input), not y (output) */
	assert_int_equal(a->in_place, 0);
	assert_int_equal(a->offset[x], -1);
	assert_int_equal(a->offset[y], -1);
	assert_false(overlap(a, p, q)); /* alive together at step 1 */
	assert_false(overlap(a, q, r));
	assert_int_equal(a->offset[p], a->offset[r]); /* p's bytes reused */
	assert_int_equal(a->arena_bytes, 2 * 1024);
	assert_int_equal(a->planned_bytes, 3 * 1024);
	arena_plan_free(a);
	fx_free(&f);
}

/* Relu and Add over dying same-shape inputs write in place. */
static void elementwise_writes_in_place(void **state)
{
	fixture f;
	arena_plan *a;
	int x, p, q, r, s, y;

	(void)state;
	fx_init(&f);
	x = fx_value(&f, "x", 100, IR_VALUE_INPUT);
	p = fx_value(&f, "p", 100, IR_VALUE_INTERMEDIATE);
	q = fx_value(&f, "q", 100, IR_VALUE_INTERMEDIATE);
	r = fx_value(&f, "r", 100, IR_VALUE_INTERMEDIATE);
	s = fx_value(&f, "s", 100, IR_VALUE_INTERMEDIATE);
	y = fx_value(&f, "y", 100, IR_VALUE_INTERMEDIATE);
	f.g->values[y].is_output = true;
	fx_node(&f, "Floor", x, -1, p); /* 0 */
	fx_node(&f, "Relu", p, -1, q);	/* 1: p dies -> in place */
	fx_node(&f, "Floor", x, -1, r); /* 2 */
	fx_node(&f, "Add", r, q, s);	/* 3: q and r die -> s over one */
	fx_node(&f, "Sin", s, -1, y);	/* 4 */
	fx_dies(&f, 1, p);
	fx_dies(&f, 3, q);
	fx_dies(&f, 3, r);
	fx_dies(&f, 4, s);
	assert_null(arena_plan_build(f.g, &f.plan, &a));
	assert_int_equal(a->planned, 4);
	assert_int_equal(a->in_place, 2);
	assert_int_equal(a->offset[q], a->offset[p]);
	assert_true(a->offset[s] == a->offset[q] || a->offset[s] == a->offset[r]);
	assert_false(overlap(a, q, r)); /* both alive at step 3 */
	assert_int_equal(a->arena_bytes, 2 * 448); /* 400 bytes -> 448 */
	arena_plan_free(a);
	fx_free(&f);
}

/* A live input, a broadcast input or a different shape stops in place. */
static void in_place_needs_a_dying_same_shape_input(void **state)
{
	fixture f;
	arena_plan *a;
	int x, p, q, c, r;

	(void)state;
	fx_init(&f);
	x = fx_value(&f, "x", 64, IR_VALUE_INPUT);
	p = fx_value(&f, "p", 64, IR_VALUE_INTERMEDIATE);
	q = fx_value(&f, "q", 64, IR_VALUE_INTERMEDIATE);
	c = fx_value(&f, "c", 1, IR_VALUE_INTERMEDIATE);
	r = fx_value(&f, "r", 64, IR_VALUE_INTERMEDIATE);
	f.g->values[r].is_output = true;
	fx_node(&f, "Floor", x, -1, p); /* 0 */
	fx_node(&f, "Relu", p, -1, q);	/* 1: p still read at step 3 */
	fx_node(&f, "ReduceMax", q, -1, c); /* 2 */
	fx_node(&f, "Mul", c, p, r);	/* 3: output; c broadcast */
	fx_dies(&f, 2, q);
	fx_dies(&f, 3, p);
	fx_dies(&f, 3, c);
	assert_null(arena_plan_build(f.g, &f.plan, &a));
	assert_int_equal(a->in_place, 0);
	assert_false(overlap(a, p, q));
	assert_false(overlap(a, p, c));
	arena_plan_free(a);
	fx_free(&f);
}

/* Dynamic shapes and values made on a device are not planned. */
static void dynamic_and_device_values_are_not_planned(void **state)
{
	fixture f;
	arena_plan *a;
	int x, p, q, y;

	(void)state;
	fx_init(&f);
	x = fx_value(&f, "x", 8, IR_VALUE_INPUT);
	p = fx_value(&f, "p", -1, IR_VALUE_INTERMEDIATE);
	q = fx_value(&f, "q", 8, IR_VALUE_INTERMEDIATE);
	y = fx_value(&f, "y", 8, IR_VALUE_INTERMEDIATE);
	f.g->values[y].is_output = true;
	fx_node(&f, "NonZero", x, -1, p);
	fx_node(&f, "Floor", x, -1, q);
	fx_node(&f, "Add", q, p, y);
	f.steps[1].device = (const backend_device *)&f; /* any non-NULL: a device step */
	fx_dies(&f, 2, p);
	fx_dies(&f, 2, q);
	assert_null(arena_plan_build(f.g, &f.plan, &a));
	assert_int_equal(a->planned, 0);
	assert_int_equal(a->arena_bytes, 0);
	assert_int_equal(a->offset[p], -1);
	assert_int_equal(a->offset[q], -1);
	arena_plan_free(a);
	fx_free(&f);
}

/* A whole session: outputs equal with the arena and without it. */
static void session_outputs_do_not_depend_on_the_arena(void **state)
{
	model_buf b = make_model(NULL, false, "Relu");
	accel_context *c;
	accel_model *m;
	accel_tensor *x, *y[2];
	accel_memory_plan mp;
	int64_t dims[2] = { 2, 3 };

	(void)state;
	assert_null(accel_context_create(0, &c));
	assert_null(accel_model_load_memory(c, b.data, b.size, "arena.onnx", NULL,
					    ACCEL_LOAD_OPT_LEVEL(0), &m));
	assert_null(accel_tensor_create(ACCEL_DTYPE_F32, 2, dims, &x));
	for (int i = 0; i < 6; i++)
		((float *)accel_tensor_data(x))[i] = (float)i - 2.5f;
	for (int k = 0; k < 2; k++) {
		accel_session *s;

		if (k)
			setenv("ACCEL_NO_ARENA", "1", 1);
		assert_null(accel_session_create(m, NULL, &s));
		assert_null(accel_session_memory_plan(s, &mp));
		assert_int_equal(mp.planned_values, k ? 0 : 1); /* the Add's result */
		for (int run = 0; run < 3; run++) {
			accel_tensor *out = NULL;

			assert_null(accel_session_run(s, &(accel_named_tensor){ "x", x }, 1, &out,
						      1, 0));
			if (run)
				accel_tensor_release(out);
			else
				y[k] = out;
		}
		accel_session_release(s);
	}
	unsetenv("ACCEL_NO_ARENA");
	assert_memory_equal(accel_tensor_data(y[0]), accel_tensor_data(y[1]), 6 * sizeof(float));
	{
		accel_status st = accel_session_memory_plan(NULL, &mp);

		assert_int_equal(accel_status_code_of(st), ACCEL_INVALID_ARGUMENT);
		accel_status_free(st);
	}
	accel_tensor_release(y[0]);
	accel_tensor_release(y[1]);
	accel_tensor_release(x);
	accel_model_release(m);
	accel_context_release(c);
	free(b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lifetimes_decide_sharing),
		cmocka_unit_test(elementwise_writes_in_place),
		cmocka_unit_test(in_place_needs_a_dying_same_shape_input),
		cmocka_unit_test(dynamic_and_device_values_are_not_planned),
		cmocka_unit_test(session_outputs_do_not_depend_on_the_arena),
	};

	return cmocka_run_group_tests_name("arena", tests, NULL, NULL);
}
