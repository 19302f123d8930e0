/* SPDX-License-Identifier: MIT */
/*
 * test_passes.c - the graph optimiser, one group of tests per pass.
 *
 * Each test builds a small ONNX model in memory, loads it at opt-level 0
 * and at the highest level, checks the optimised graph's op sequence (the
 * before/after test) and runs both on the same pseudo-random inputs (the
 * numerical-equivalence test).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "accel_onnx.pb-c.h"
#include "core/runtime.h"
#include "cpu/layout_blocked.h"
#include "passes/passes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- a tiny model builder (fixed-size pools, one allocation) ---- */

#define TB_MAX 32

typedef struct tb {
	AccelOnnx__Model m;
	AccelOnnx__Graph g;
	AccelOnnx__OperatorSetId opset, *opsets[1];
	AccelOnnx__Node nodes[TB_MAX], *node_ptrs[TB_MAX];
	AccelOnnx__Attribute attrs[TB_MAX], *attr_ptrs[TB_MAX];
	int n_attrs;
	AccelOnnx__Tensor inits[TB_MAX], *init_ptrs[TB_MAX];
	AccelOnnx__ValueInfo vi[TB_MAX], *in_ptrs[TB_MAX], *out_ptrs[TB_MAX];
	AccelOnnx__Type types[TB_MAX];
	AccelOnnx__Type__TensorType tts[TB_MAX];
	AccelOnnx__TensorShape shapes[TB_MAX];
	AccelOnnx__TensorShape__Dimension dims[TB_MAX * 4], *dim_ptrs[TB_MAX * 4];
	int n_vi, n_dims;
	char *names[TB_MAX * 4][8];
	char strpool[16384];
	size_t strused;
	float fpool[4096];
	int64_t ipool[512];
	size_t fused_, iused;
	int n_names;
} tb;

static char *tb_str(tb *b, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = b->strpool + b->strused;

	assert_true(b->strused + n <= sizeof(b->strpool));
	memcpy(p, s, n);
	b->strused += n;
	return p;
}

static tb *tb_new(int opset)
{
	tb *b = calloc(1, sizeof(*b));
	AccelOnnx__Model m = ACCEL_ONNX__MODEL__INIT;
	AccelOnnx__Graph g = ACCEL_ONNX__GRAPH__INIT;
	AccelOnnx__OperatorSetId os = ACCEL_ONNX__OPERATOR_SET_ID__INIT;

	assert_non_null(b);
	b->m = m;
	b->g = g;
	b->opset = os;
	b->opset.version = opset;
	b->opset.has_version = 1;
	b->opsets[0] = &b->opset;
	b->m.ir_version = 8;
	b->m.has_ir_version = 1;
	b->m.n_opset_import = 1;
	b->m.opset_import = b->opsets;
	b->m.graph = &b->g;
	b->g.name = "test";
	b->g.node = b->node_ptrs;
	b->g.initializer = b->init_ptrs;
	b->g.input = b->in_ptrs;
	b->g.output = b->out_ptrs;
	return b;
}

/* A float32 value info with |rank| static dims (rank -1: no shape). */
static AccelOnnx__ValueInfo *tb_vi(tb *b, const char *name, int rank, const int64_t *d)
{
	AccelOnnx__ValueInfo vi = ACCEL_ONNX__VALUE_INFO__INIT;
	AccelOnnx__Type t = ACCEL_ONNX__TYPE__INIT;
	AccelOnnx__Type__TensorType tt = ACCEL_ONNX__TYPE__TENSOR_TYPE__INIT;
	AccelOnnx__TensorShape s = ACCEL_ONNX__TENSOR_SHAPE__INIT;
	int k = b->n_vi++;

	b->vi[k] = vi;
	b->types[k] = t;
	b->tts[k] = tt;
	b->shapes[k] = s;
	b->tts[k].has_elem_type = 1;
	b->tts[k].elem_type = ACCEL_DTYPE_F32;
	if (rank >= 0) {
		b->shapes[k].n_dim = (size_t)rank;
		b->shapes[k].dim = &b->dim_ptrs[b->n_dims];
		for (int i = 0; i < rank; i++) {
			AccelOnnx__TensorShape__Dimension dd = ACCEL_ONNX__TENSOR_SHAPE__DIMENSION__INIT;

			b->dims[b->n_dims] = dd;
			b->dims[b->n_dims].value_case =
				ACCEL_ONNX__TENSOR_SHAPE__DIMENSION__VALUE_DIM_VALUE;
			b->dims[b->n_dims].dim_value = d[i];
			b->dim_ptrs[b->n_dims] = &b->dims[b->n_dims];
			b->n_dims++;
		}
		b->tts[k].shape = &b->shapes[k];
	}
	b->types[k].value_case = ACCEL_ONNX__TYPE__VALUE_TENSOR_TYPE;
	b->types[k].tensor_type = &b->tts[k];
	b->vi[k].name = tb_str(b, name);
	b->vi[k].type = &b->types[k];
	return &b->vi[k];
}

static void tb_input(tb *b, const char *name, int rank, const int64_t *d)
{
	b->in_ptrs[b->g.n_input++] = tb_vi(b, name, rank, d);
}

static void tb_output(tb *b, const char *name)
{
	b->out_ptrs[b->g.n_output++] = tb_vi(b, name, -1, NULL);
}

/* An initializer; |vals| NULL: deterministic values from |seed|. */
static void tb_init(tb *b, const char *name, int rank, const int64_t *d,
		    const float *vals, unsigned seed)
{
	AccelOnnx__Tensor t = ACCEL_ONNX__TENSOR__INIT;
	size_t k = b->g.n_initializer++, n = 1;
	float *data = b->fpool + b->fused_;
	int64_t *dd = b->ipool + b->iused;

	for (int i = 0; i < rank; i++)
		n *= (size_t)d[i];
	assert_true(b->fused_ + n <= 4096 && b->iused + (size_t)rank <= 512);
	b->fused_ += n;
	b->iused += (size_t)rank;
	if (rank)
		memcpy(dd, d, sizeof(int64_t) * (size_t)rank);
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		data[i] = vals ? vals[i] : (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
	}
	b->inits[k] = t;
	b->inits[k].name = tb_str(b, name);
	b->inits[k].n_dims = (size_t)rank;
	b->inits[k].dims = dd;
	b->inits[k].has_data_type = 1;
	b->inits[k].data_type = ACCEL_DTYPE_F32;
	b->inits[k].n_float_data = n;
	b->inits[k].float_data = data;
	b->init_ptrs[k] = &b->inits[k];
}

static void tb_scalar(tb *b, const char *name, float v)
{
	tb_init(b, name, 0, NULL, &v, 0);
}

/* Split "a,b,,c" into the pool; "" entries stay (omitted optional). */
static size_t tb_list(tb *b, const char *csv, char ***out)
{
	char **arr = b->names[b->n_names++];
	size_t n = 0;
	char *copy = tb_str(b, csv), *p = copy;

	for (;;) {
		char *comma = strchr(p, ',');

		assert_true(n < 8);
		arr[n++] = p;
		if (!comma)
			break;
		*comma = '\0';
		p = comma + 1;
	}
	*out = arr;
	return *csv ? n : 0;
}

static AccelOnnx__Node *tb_node(tb *b, const char *op, const char *in, const char *out)
{
	AccelOnnx__Node n = ACCEL_ONNX__NODE__INIT;
	size_t k = b->g.n_node++;
	char name[32];

	b->nodes[k] = n;
	b->nodes[k].op_type = tb_str(b, op);
	snprintf(name, sizeof(name), "%s_%zu", op, k);
	b->nodes[k].name = tb_str(b, name);
	b->nodes[k].n_input = tb_list(b, in, &b->nodes[k].input);
	b->nodes[k].n_output = tb_list(b, out, &b->nodes[k].output);
	b->node_ptrs[k] = &b->nodes[k];
	return &b->nodes[k];
}

static AccelOnnx__Attribute *tb_attr(tb *b, AccelOnnx__Node *n, const char *name)
{
	AccelOnnx__Attribute a = ACCEL_ONNX__ATTRIBUTE__INIT;
	int k = b->n_attrs++;

	b->attrs[k] = a;
	b->attrs[k].name = tb_str(b, name);
	b->attr_ptrs[k] = &b->attrs[k];
	if (!n->n_attribute)
		n->attribute = &b->attr_ptrs[k];
	/* A node's attributes must be added one after another. */
	assert_ptr_equal(n->attribute + n->n_attribute, &b->attr_ptrs[k]);
	n->n_attribute++;
	return &b->attrs[k];
}

static void tb_attr_f(tb *b, AccelOnnx__Node *n, const char *name, float f)
{
	AccelOnnx__Attribute *a = tb_attr(b, n, name);

	a->has_type = 1;
	a->type = ACCEL_ONNX__ATTRIBUTE__ATTRIBUTE_TYPE__FLOAT;
	a->has_f = 1;
	a->f = f;
}

static void tb_attr_i(tb *b, AccelOnnx__Node *n, const char *name, int64_t i)
{
	AccelOnnx__Attribute *a = tb_attr(b, n, name);

	a->has_type = 1;
	a->type = ACCEL_ONNX__ATTRIBUTE__ATTRIBUTE_TYPE__INT;
	a->has_i = 1;
	a->i = i;
}

static void tb_attr_ints(tb *b, AccelOnnx__Node *n, const char *name, int count, ...)
{
	AccelOnnx__Attribute *a = tb_attr(b, n, name);
	va_list ap;

	a->has_type = 1;
	a->type = ACCEL_ONNX__ATTRIBUTE__ATTRIBUTE_TYPE__INTS;
	a->ints = b->ipool + b->iused;
	a->n_ints = (size_t)count;
	va_start(ap, count);
	for (int i = 0; i < count; i++)
		b->ipool[b->iused++] = va_arg(ap, int64_t);
	va_end(ap);
}

/* ---- loading and comparing ---- */

static accel_model *load(accel_context *c, tb *b, int level)
{
	size_t size = accel_onnx__model__get_packed_size(&b->m);
	uint8_t *buf = malloc(size);
	accel_model *m = NULL;
	accel_status st;

	assert_non_null(buf);
	accel_onnx__model__pack(&b->m, buf);
	st = accel_model_load_memory(c, buf, size, "mem.onnx", NULL,
				     ACCEL_LOAD_OPT_LEVEL(level), &m);
	if (st)
		fail_msg("level %d: %s", level, accel_status_message(st));
	free(buf);
	return m;
}

/* The optimised graph's ops, comma-separated. */
static void ops_of(const accel_model *m, char *buf, size_t len)
{
	size_t used = 0;

	/* a CPU session's graph: level 3 adds the CPU layout passes */
	const ir_graph *g = m->cpu_graph ? m->cpu_graph : m->graph;

	buf[0] = '\0';
	for (int i = 0; i < g->n_nodes; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "",
					 g->nodes[i].op_type);
}

static accel_tensor **run(accel_model *m, unsigned seed)
{
	size_t ni = accel_model_input_count(m), no = accel_model_output_count(m);
	accel_named_tensor *in = calloc(ni + 1, sizeof(*in));
	accel_tensor **out = calloc(no + 1, sizeof(*out));
	accel_session *s;
	accel_status st;

	assert_non_null(in);
	assert_non_null(out);
	for (size_t i = 0; i < ni; i++) {
		accel_value_info info;
		float *d;

		assert_null(accel_model_input_info(m, i, &info));
		assert_null(accel_tensor_create(ACCEL_DTYPE_F32, info.rank, info.dims,
						&in[i].tensor));
		in[i].name = info.name;
		d = accel_tensor_data(in[i].tensor);
		for (int64_t k = 0; k < accel_tensor_numel(in[i].tensor); k++) {
			seed = seed * 1664525u + 1013904223u;
			d[k] = (float)((seed >> 9) % 4001) / 1000.0f - 2.0f;
		}
	}
	assert_null(accel_session_create(m, NULL, &s));
	st = accel_session_run(s, in, ni, out, no, 0);
	if (st)
		fail_msg("run: %s", accel_status_message(st));
	accel_session_release(s);
	for (size_t i = 0; i < ni; i++)
		accel_tensor_release(in[i].tensor);
	free(in);
	return out;
}

/*
 * Load at level 0 and the highest level, expect |want_ops| after
 * optimisation, and equal outputs (|d| <= tol * (1 + |ref|)).
 */
static void check(tb *b, const char *want_ops, double tol)
{
	accel_context *c;
	accel_model *m0, *m3;
	accel_tensor **o0, **o3;
	char ops[1024];
	size_t no;

	assert_null(accel_context_create(0, &c));
	m0 = load(c, b, 0);
	m3 = load(c, b, ACCEL_LOAD_OPT_LEVEL_MAX);
	ops_of(m3, ops, sizeof(ops));
	if (strcmp(ops, want_ops))
		fail_msg("optimised graph: expected ops %s, got %s", want_ops, ops);
	o0 = run(m0, 7);
	o3 = run(m3, 7);
	no = accel_model_output_count(m0);
	assert_int_equal(no, accel_model_output_count(m3));
	for (size_t i = 0; i < no; i++) {
		const float *a = accel_tensor_data(o0[i]), *r = accel_tensor_data(o3[i]);
		accel_value_info i0, i3;

		assert_null(accel_model_output_info(m0, i, &i0));
		assert_null(accel_model_output_info(m3, i, &i3));
		assert_string_equal(i0.name, i3.name);
		assert_int_equal(accel_tensor_numel(o0[i]), accel_tensor_numel(o3[i]));
		for (int64_t k = 0; k < accel_tensor_numel(o0[i]); k++)
			if (fabs(a[k] - r[k]) > tol * (1 + fabs(a[k])))
				fail_msg("output %zu element %lld: level 0 gives %g, optimised %g",
					 i, (long long)k, a[k], r[k]);
		accel_tensor_release(o0[i]);
		accel_tensor_release(o3[i]);
	}
	free(o0);
	free(o3);
	accel_model_release(m0);
	accel_model_release(m3);
	accel_context_release(c);
	free(b);
}

static const int64_t d23[] = { 2, 3 };
static const int64_t x4[] = { 1, 4, 6, 6 }, w44[] = { 4, 4, 3, 3 }, c4[] = { 4 };

/* ---- eliminate_identity ---- */

static void identity_nodes_are_removed(void **state)
{
	tb *b = tb_new(13);

	(void)state;
	tb_input(b, "x", 2, d23);
	tb_node(b, "Identity", "x", "a");
	tb_node(b, "Relu", "a", "r");
	tb_node(b, "Dropout", "r", "y");
	tb_output(b, "y");
	/* y keeps its name: the Relu writes it directly. */
	check(b, "Relu", 0);
}

static void identity_between_outputs_is_kept(void **state)
{
	tb *b = tb_new(13);

	(void)state;
	tb_input(b, "x", 2, d23);
	tb_node(b, "Relu", "x", "a");
	tb_node(b, "Identity", "a", "y");
	tb_output(b, "a");
	tb_output(b, "y");
	check(b, "Relu,Identity", 0);
}

/* ---- eliminate_dead ---- */

static void unread_nodes_are_removed(void **state)
{
	tb *b = tb_new(13);

	(void)state;
	tb_input(b, "x", 2, d23);
	tb_node(b, "Sigmoid", "x", "unused");
	tb_node(b, "Neg", "unused", "unused2");
	tb_node(b, "Relu", "x", "y");
	tb_output(b, "y");
	check(b, "Relu", 0);
}

/* ---- cse ---- */

static void equal_nodes_are_merged(void **state)
{
	tb *b = tb_new(13);

	(void)state;
	tb_input(b, "x", 2, d23);
	tb_scalar(b, "k1", 2.0f);
	tb_scalar(b, "k2", 2.0f);
	tb_node(b, "Mul", "x,k1", "a");
	tb_node(b, "Mul", "x,k2", "b"); /* same after merging k2 into k1 */
	tb_node(b, "Add", "a,b", "y");
	tb_output(b, "y");
	check(b, "Mul,Add", 0);
}

/* ---- fold_conv_bn ---- */

static void conv_batchnorm_folds_into_conv(void **state)
{
	tb *b = tb_new(13);
	float var[4] = { 0.5f, 1.0f, 2.0f, 0.25f };
	AccelOnnx__Node *conv;

	(void)state;
	tb_input(b, "x", 4, x4);
	tb_init(b, "W", 4, w44, NULL, 1);
	tb_init(b, "B", 1, c4, NULL, 2);
	tb_init(b, "scale", 1, c4, NULL, 3);
	tb_init(b, "bias", 1, c4, NULL, 4);
	tb_init(b, "mean", 1, c4, NULL, 5);
	tb_init(b, "var", 1, c4, var, 0);
	conv = tb_node(b, "Conv", "x,W,B", "c");
	tb_attr_ints(b, conv, "pads", 4, (int64_t)1, (int64_t)1, (int64_t)1, (int64_t)1);
	tb_attr_f(b, tb_node(b, "BatchNormalization", "c,scale,bias,mean,var", "y"),
		  "epsilon", 1e-3f);
	tb_output(b, "y");
	check(b, "Conv", 1e-5);
}

/* ---- fuse_activation ---- */

static void conv_residual_relu_fuse(void **state)
{
	tb *b = tb_new(13);
	AccelOnnx__Node *conv;

	(void)state;
	tb_input(b, "x", 4, x4);
	tb_init(b, "W", 4, w44, NULL, 1);
	conv = tb_node(b, "Conv", "x,W", "c");
	tb_attr_ints(b, conv, "pads", 4, (int64_t)1, (int64_t)1, (int64_t)1, (int64_t)1);
	tb_node(b, "Add", "c,x", "s");
	tb_node(b, "Relu", "s", "y");
	tb_output(b, "y");
	check(b, "FusedConv", 1e-5);
}

static void conv_clip_fuses(void **state)
{
	tb *b = tb_new(13);

	(void)state;
	tb_input(b, "x", 4, x4);
	tb_init(b, "W", 4, w44, NULL, 1);
	tb_init(b, "B", 1, c4, NULL, 2);
	tb_scalar(b, "lo", 0.0f);
	tb_scalar(b, "hi", 0.5f);
	tb_node(b, "Conv", "x,W,B", "c");
	tb_node(b, "Clip", "c,lo,hi", "y");
	tb_output(b, "y");
	check(b, "FusedConv", 1e-5);
}

static void conv_silu_fuses(void **state)
{
	tb *b = tb_new(13);

	(void)state;
	tb_input(b, "x", 4, x4);
	tb_init(b, "W", 4, w44, NULL, 1);
	tb_node(b, "Conv", "x,W", "c");
	tb_node(b, "Sigmoid", "c", "s");
	tb_node(b, "Mul", "c,s", "y");
	tb_output(b, "y");
	check(b, "FusedConv", 1e-5);
}

static void conv_hardswish_as_hardsigmoid_mul_fuses(void **state)
{
	tb *b = tb_new(13);
	AccelOnnx__Node *hs;

	(void)state;
	tb_input(b, "x", 4, x4);
	tb_init(b, "W", 4, w44, NULL, 1);
	tb_node(b, "Conv", "x,W", "c");
	hs = tb_node(b, "HardSigmoid", "c", "s");
	tb_attr_f(b, hs, "alpha", 1.0f / 6.0f);
	tb_node(b, "Mul", "s,c", "y");
	tb_output(b, "y");
	check(b, "FusedConv", 1e-5);
}

static void conv_output_read_twice_is_not_fused(void **state)
{
	tb *b = tb_new(13);

	(void)state;
	tb_input(b, "x", 4, x4);
	tb_init(b, "W", 4, w44, NULL, 1);
	tb_node(b, "Conv", "x,W", "c");
	tb_node(b, "Relu", "c", "y");
	tb_output(b, "c");
	tb_output(b, "y");
	check(b, "Conv,Relu", 0);
}

static void gemm_relu_fuses(void **state)
{
	tb *b = tb_new(13);
	static const int64_t w[] = { 4, 3 }, bb[] = { 4 };
	AccelOnnx__Node *n;

	(void)state;
	tb_input(b, "x", 2, d23);
	tb_init(b, "W", 2, w, NULL, 1);
	tb_init(b, "B", 1, bb, NULL, 2);
	n = tb_node(b, "Gemm", "x,W,B", "g");
	{
		AccelOnnx__Attribute *a = tb_attr(b, n, "transB");

		a->has_type = 1;
		a->type = ACCEL_ONNX__ATTRIBUTE__ATTRIBUTE_TYPE__INT;
		a->has_i = 1;
		a->i = 1;
	}
	tb_node(b, "Relu", "g", "y");
	tb_output(b, "y");
	check(b, "FusedGemm", 1e-5);
}

/* ---- fuse_gelu + MatMul bias fusion ---- */

static void matmul_bias_gelu_fuse(void **state)
{
	tb *b = tb_new(13);
	static const int64_t x[] = { 2, 5, 3 }, w[] = { 3, 4 }, bb[] = { 4 };

	(void)state;
	tb_input(b, "x", 3, x);
	tb_init(b, "W", 2, w, NULL, 1);
	tb_init(b, "bias", 1, bb, NULL, 2);
	tb_scalar(b, "sqrt2", 1.4142135f);
	tb_scalar(b, "one", 1.0f);
	tb_scalar(b, "half", 0.5f);
	tb_node(b, "MatMul", "x,W", "m");
	tb_node(b, "Add", "bias,m", "h");
	tb_node(b, "Div", "h,sqrt2", "d");
	tb_node(b, "Erf", "d", "e");
	tb_node(b, "Add", "e,one", "a");
	tb_node(b, "Mul", "h,a", "p");
	tb_node(b, "Mul", "p,half", "y");
	tb_output(b, "y");
	check(b, "FusedMatMul", 1e-5);
}

static void gelu_with_half_first_fuses(void **state)
{
	tb *b = tb_new(13);

	(void)state;
	tb_input(b, "x", 2, d23);
	tb_scalar(b, "rs2", 0.70710678f);
	tb_scalar(b, "one", 1.0f);
	tb_scalar(b, "half", 0.5f);
	tb_node(b, "Mul", "half,x", "h");
	tb_node(b, "Mul", "x,rs2", "d");
	tb_node(b, "Erf", "d", "e");
	tb_node(b, "Add", "one,e", "a");
	tb_node(b, "Mul", "h,a", "y");
	tb_output(b, "y");
	check(b, "Gelu", 1e-6);
}

/* ---- fuse_layernorm ---- */

static void decomposed_layernorm_fuses(void **state)
{
	tb *b = tb_new(13);
	static const int64_t x[] = { 2, 3, 8 }, g[] = { 8 };
	AccelOnnx__Node *r;

	(void)state;
	tb_input(b, "x", 3, x);
	tb_init(b, "gamma", 1, g, NULL, 1);
	tb_init(b, "beta", 1, g, NULL, 2);
	tb_scalar(b, "two", 2.0f);
	tb_scalar(b, "eps", 1e-5f);
	r = tb_node(b, "ReduceMean", "x", "m");
	tb_attr_ints(b, r, "axes", 1, (int64_t)-1);
	tb_node(b, "Sub", "x,m", "d");
	tb_node(b, "Pow", "d,two", "p");
	r = tb_node(b, "ReduceMean", "p", "v");
	tb_attr_ints(b, r, "axes", 1, (int64_t)-1);
	tb_node(b, "Add", "v,eps", "e");
	tb_node(b, "Sqrt", "e", "s");
	tb_node(b, "Div", "d,s", "n");
	tb_node(b, "Mul", "n,gamma", "gm");
	tb_node(b, "Add", "gm,beta", "y");
	tb_output(b, "y");
	check(b, "LayerNormalization", 1e-5);
}

static void layernorm_with_shared_mean_is_kept(void **state)
{
	tb *b = tb_new(13);
	static const int64_t x[] = { 2, 8 };
	AccelOnnx__Node *r;

	(void)state;
	tb_input(b, "x", 2, x);
	tb_scalar(b, "two", 2.0f);
	tb_scalar(b, "eps", 1e-5f);
	r = tb_node(b, "ReduceMean", "x", "m");
	tb_attr_ints(b, r, "axes", 1, (int64_t)-1);
	tb_node(b, "Sub", "x,m", "d");
	tb_node(b, "Pow", "d,two", "p");
	r = tb_node(b, "ReduceMean", "p", "v");
	tb_attr_ints(b, r, "axes", 1, (int64_t)-1);
	tb_node(b, "Add", "v,eps", "e");
	tb_node(b, "Sqrt", "e", "s");
	tb_node(b, "Div", "d,s", "y");
	tb_output(b, "y");
	tb_output(b, "m"); /* the mean is a graph output: no fusion */
	check(b, "ReduceMean,Sub,Pow,ReduceMean,Add,Sqrt,Div", 0);
}

/* ---- fuse_attention ---- */

/* MatMul(q, Transpose(k)) * c + mask -> Softmax -> MatMul(., v), 4-D. */
static void attention_4d_mul_scale_mask_fuses(void **state)
{
	tb *b = tb_new(13);
	static const int64_t x[] = { 2, 3, 5, 8 }, mk[] = { 2, 1, 1, 5 };
	AccelOnnx__Node *n;

	(void)state;
	tb_input(b, "q", 4, x);
	tb_input(b, "k", 4, x);
	tb_input(b, "v", 4, x);
	tb_input(b, "mask", 4, mk);
	tb_scalar(b, "c", 0.35f);
	n = tb_node(b, "Transpose", "k", "kt");
	tb_attr_ints(b, n, "perm", 4, (int64_t)0, (int64_t)1, (int64_t)3, (int64_t)2);
	tb_node(b, "MatMul", "q,kt", "s");
	tb_node(b, "Mul", "c,s", "ss");
	tb_node(b, "Add", "ss,mask", "sm");
	tb_node(b, "Softmax", "sm", "p");
	tb_node(b, "MatMul", "p,v", "y");
	tb_output(b, "y");
	check(b, "FusedAttention", 1e-5);
}

/*
 * torch's MultiheadAttention, 3-D: heads split by Transpose, q divided by
 * sqrt(d) before the product, heads merged by Transpose. All four
 * Transposes are absorbed.
 */
static void attention_3d_torch_form_fuses(void **state)
{
	tb *b = tb_new(13);
	static const int64_t x[] = { 7, 2, 5 };
	AccelOnnx__Node *n;

	(void)state;
	tb_input(b, "q0", 3, x);
	tb_input(b, "k0", 3, x);
	tb_input(b, "v0", 3, x);
	tb_scalar(b, "sqrtd", 2.236068f);
	n = tb_node(b, "Transpose", "q0", "q");
	tb_attr_ints(b, n, "perm", 3, (int64_t)1, (int64_t)0, (int64_t)2);
	n = tb_node(b, "Transpose", "k0", "kt");
	tb_attr_ints(b, n, "perm", 3, (int64_t)1, (int64_t)2, (int64_t)0);
	n = tb_node(b, "Transpose", "v0", "v");
	tb_attr_ints(b, n, "perm", 3, (int64_t)1, (int64_t)0, (int64_t)2);
	tb_node(b, "Div", "q,sqrtd", "qs");
	tb_node(b, "MatMul", "qs,kt", "s");
	tb_node(b, "Softmax", "s", "p");
	tb_node(b, "MatMul", "p,v", "o");
	n = tb_node(b, "Transpose", "o", "y");
	tb_attr_ints(b, n, "perm", 3, (int64_t)1, (int64_t)0, (int64_t)2);
	tb_output(b, "y");
	check(b, "FusedAttention", 1e-5);
}

/* Scale as a Div of the scores, a constant mask over keys, 3-D. */
static void attention_3d_div_scale_const_mask_fuses(void **state)
{
	tb *b = tb_new(13);
	static const int64_t q[] = { 4, 6, 3 }, kt[] = { 4, 3, 9 };
	static const int64_t v[] = { 4, 9, 5 }, mk[] = { 9 };
	AccelOnnx__Node *n;

	(void)state;
	tb_input(b, "q", 3, q);
	tb_input(b, "kt", 3, kt);
	tb_input(b, "v", 3, v);
	tb_init(b, "mask", 1, mk, NULL, 5);
	tb_scalar(b, "c", 1.7320508f);
	tb_node(b, "MatMul", "q,kt", "s");
	tb_node(b, "Div", "s,c", "ss");
	tb_node(b, "Add", "mask,ss", "sm");
	n = tb_node(b, "Softmax", "sm", "p");
	tb_attr_i(b, n, "axis", 2); /* the last axis, counted from the front */
	tb_node(b, "MatMul", "p,v", "y");
	tb_output(b, "y");
	check(b, "FusedAttention", 1e-5);
}

/* A Transpose that moves the depth axis away stays; the rest fuses. */
static void attention_keeps_transpose_it_cannot_read(void **state)
{
	tb *b = tb_new(13);
	static const int64_t q0[] = { 5, 8, 2, 3 }, x[] = { 2, 3, 5, 8 };
	AccelOnnx__Node *n;

	(void)state;
	tb_input(b, "q0", 4, q0);
	tb_input(b, "kt", 4, (const int64_t[]){ 2, 3, 8, 5 });
	tb_input(b, "v", 4, x);
	tb_scalar(b, "c", 0.5f);
	n = tb_node(b, "Transpose", "q0", "q");
	tb_attr_ints(b, n, "perm", 4, (int64_t)2, (int64_t)3, (int64_t)0, (int64_t)1);
	tb_node(b, "MatMul", "q,kt", "s");
	tb_node(b, "Mul", "s,c", "ss");
	tb_node(b, "Softmax", "ss", "p");
	tb_node(b, "MatMul", "p,v", "y");
	tb_output(b, "y");
	check(b, "Transpose,FusedAttention", 1e-5);
}

/* The probabilities are a graph output: nothing fuses. */
static void attention_with_read_probabilities_is_kept(void **state)
{
	tb *b = tb_new(13);
	static const int64_t q[] = { 2, 4, 3 }, kt[] = { 2, 3, 4 };

	(void)state;
	tb_input(b, "q", 3, q);
	tb_input(b, "kt", 3, kt);
	tb_input(b, "v", 3, q);
	tb_scalar(b, "c", 0.5f);
	tb_node(b, "MatMul", "q,kt", "s");
	tb_node(b, "Mul", "s,c", "ss");
	tb_node(b, "Softmax", "ss", "p");
	tb_node(b, "MatMul", "p,v", "y");
	tb_output(b, "y");
	tb_output(b, "p");
	check(b, "MatMul,Mul,Softmax,MatMul", 0);
}

/* Softmax over the query axis is not attention. */
static void attention_softmax_not_last_axis_is_kept(void **state)
{
	tb *b = tb_new(13);
	static const int64_t q[] = { 2, 4, 3 }, kt[] = { 2, 3, 4 };
	AccelOnnx__Node *n;

	(void)state;
	tb_input(b, "q", 3, q);
	tb_input(b, "kt", 3, kt);
	tb_input(b, "v", 3, q);
	tb_scalar(b, "c", 0.5f);
	tb_node(b, "MatMul", "q,kt", "s");
	tb_node(b, "Mul", "s,c", "ss");
	n = tb_node(b, "Softmax", "ss", "p");
	tb_attr_i(b, n, "axis", 1);
	tb_node(b, "MatMul", "p,v", "y");
	tb_output(b, "y");
	check(b, "MatMul,Mul,Softmax,MatMul", 0);
}

/* ---- dump ---- */

static void dump_graph_writes_dot(void **state)
{
	tb *b = tb_new(13);
	accel_context *c;
	accel_model *m;
	char path[] = "/tmp/accel-dump-XXXXXX", line[256];
	bool digraph = false, relu = false;
	FILE *f;
	int fd;

	(void)state;
	tb_input(b, "x", 2, d23);
	tb_node(b, "Relu", "x", "y");
	tb_output(b, "y");
	assert_null(accel_context_create(0, &c));
	m = load(c, b, 3);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_null(accel_model_dump_graph(m, path, 0));
	{
		accel_status st = accel_model_dump_graph(m, path, 1); /* flags must be 0 */

		assert_non_null(st);
		assert_int_equal(accel_status_code_of(st), ACCEL_INVALID_ARGUMENT);
		accel_status_free(st);
	}
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		digraph |= !strncmp(line, "digraph", 7);
		relu |= strstr(line, "Relu") != NULL;
	}
	fclose(f);
	unlink(path);
	assert_true(digraph && relu);
	accel_model_release(m);
	accel_context_release(c);
	free(b);
}

/* ---- layout_blocked ---- */

static const int64_t x8[] = { 1, 8, 9, 9 }, w88[] = { 8, 8, 3, 3 }, c8[] = { 8 };
static const int64_t wd8[] = { 8, 1, 3, 3 }, w128[] = { 12, 8, 1, 1 };
static const int64_t w1612[] = { 16, 12, 1, 1 };

/*
 * A small CNN: conv+relu, a residual conv, a strided depthwise conv, a 1x1
 * to 12 channels (not a whole block: padding lanes), a per-channel scale
 * (squeeze-excitation's Mul, here by the channel means), a 1x1 to 16, a
 * padded MaxPool, then a Relu (a plain reader). "e" is a graph output read
 * inside the chain too.
 */
static tb *small_cnn_n(int64_t batch)
{
	int64_t xd[4] = { batch, x8[1], x8[2], x8[3] };
	tb *b = tb_new(13);
	AccelOnnx__Node *n;

	tb_input(b, "x", 4, xd);
	tb_init(b, "W1", 4, w88, NULL, 1);
	tb_init(b, "B1", 1, c8, NULL, 2);
	tb_init(b, "W2", 4, w88, NULL, 3);
	tb_init(b, "Wd", 4, wd8, NULL, 4);
	tb_init(b, "W3", 4, w128, NULL, 5);
	tb_init(b, "W4", 4, w1612, NULL, 6);
	n = tb_node(b, "Conv", "x,W1,B1", "c1");
	tb_attr_ints(b, n, "pads", 4, (int64_t)1, (int64_t)1, (int64_t)1, (int64_t)1);
	tb_node(b, "Relu", "c1", "a");
	n = tb_node(b, "Conv", "a,W2", "c2");
	tb_attr_ints(b, n, "pads", 4, (int64_t)1, (int64_t)1, (int64_t)1, (int64_t)1);
	tb_node(b, "Add", "c2,a", "s");
	tb_node(b, "Relu", "s", "r");
	n = tb_node(b, "Conv", "r,Wd", "d");
	tb_attr_i(b, n, "group", 8);
	tb_attr_ints(b, n, "pads", 4, (int64_t)1, (int64_t)1, (int64_t)1, (int64_t)1);
	tb_attr_ints(b, n, "strides", 2, (int64_t)2, (int64_t)2);
	tb_node(b, "Conv", "d,W3", "e");
	tb_node(b, "GlobalAveragePool", "e", "g");
	tb_node(b, "Mul", "g,e", "m");
	tb_node(b, "Conv", "m,W4", "f");
	n = tb_node(b, "MaxPool", "f", "p");
	tb_attr_ints(b, n, "kernel_shape", 2, (int64_t)2, (int64_t)2);
	tb_attr_ints(b, n, "pads", 4, (int64_t)0, (int64_t)0, (int64_t)1, (int64_t)1);
	tb_node(b, "Relu", "p", "q");
	tb_output(b, "q");
	tb_output(b, "e");
	return b;
}

static tb *small_cnn(void)
{
	return small_cnn_n(1);
}

/* Reorders only where the chain meets plain readers and outputs. */
static void conv_chain_runs_blocked(void **state)
{
	(void)state;
	if (!cpu_layout_block()) /* no oneDNN or no AVX2: the pass is off */
		check(small_cnn(), "FusedConv,FusedConv,Conv,Conv,GlobalAveragePool,"
				   "Mul,Conv,MaxPool,Relu", 1e-4);
	else
		check(small_cnn(), "ToBlocked,BlockedConv,BlockedConv,BlockedConv,"
				   "BlockedConv,BlockedGlobalAveragePool,BlockedMul,"
				   "BlockedConv,BlockedMaxPool,FromBlocked,FromBlocked,Relu",
		      1e-4);
}

/*
 * The same graph, blocked in 8-lane blocks by hand, with oneDNN refused
 * (ACCEL_NO_DNNL): BlockedConv's plain fallback must give level 0's result.
 */
static void fallback_equal(tb *b, const char *want)
{
	size_t size = accel_onnx__model__get_packed_size(&b->m), no;
	uint8_t *buf = malloc(size);
	accel_context *c;
	accel_model *m0, *m;
	accel_tensor **o0, **o;
	char ops[1024];

	assert_non_null(buf);
	accel_onnx__model__pack(&b->m, buf);
	setenv("ACCEL_NO_DNNL", "1", 1);
	assert_null(accel_context_create(0, &c));
	m0 = load(c, b, 0);
	assert_null(accel_model_load_memory(c, buf, size, "mem.onnx", NULL,
					    ACCEL_LOAD_OPT_LEVEL(2), &m));
	assert_null(pass_layout_blocked(m->graph, 8));
	ops_of(m, ops, sizeof(ops));
	if (strcmp(ops, want))
		fail_msg("expected ops %s, got %s", want, ops);
	o0 = run(m0, 7);
	o = run(m, 7);
	no = accel_model_output_count(m);
	for (size_t i = 0; i < no; i++) {
		const float *a = accel_tensor_data(o0[i]), *r = accel_tensor_data(o[i]);

		assert_int_equal(accel_tensor_numel(o0[i]), accel_tensor_numel(o[i]));
		for (int64_t k = 0; k < accel_tensor_numel(o[i]); k++)
			if (fabs(a[k] - r[k]) > 1e-4 * (1 + fabs(a[k])))
				fail_msg("output %zu element %lld: level 0 gives %g, blocked %g",
					 i, (long long)k, a[k], r[k]);
		accel_tensor_release(o0[i]);
		accel_tensor_release(o[i]);
	}
	unsetenv("ACCEL_NO_DNNL");
	free(o0);
	free(o);
	accel_model_release(m0);
	accel_model_release(m);
	accel_context_release(c);
	free(buf);
	free(b);
}

static tb *image_cnn(void);

static void conv_chain_without_onednn_is_equal(void **state)
{
	(void)state;
	fallback_equal(small_cnn(), "ToBlocked,BlockedConv,BlockedConv,BlockedConv,"
				    "BlockedConv,BlockedGlobalAveragePool,BlockedMul,"
				    "BlockedConv,BlockedMaxPool,FromBlocked,FromBlocked,Relu");
	fallback_equal(image_cnn(), "BlockedConv,BlockedConv,FromBlocked");
}

/* Two images: per-image scales, every part of every image. */
static void conv_chain_batch_of_two_is_equal(void **state)
{
	(void)state;
	check(small_cnn_n(2), cpu_layout_block() ?
		"ToBlocked,BlockedConv,BlockedConv,BlockedConv,BlockedConv,"
		"BlockedGlobalAveragePool,BlockedMul,BlockedConv,BlockedMaxPool,"
		"FromBlocked,FromBlocked,Relu" :
		"FusedConv,FusedConv,Conv,Conv,GlobalAveragePool,Mul,Conv,MaxPool,Relu",
	      1e-4);
}

/* One convolution alone keeps NCHW: two reorders would cost what it saves. */
static void lone_conv_stays_plain(void **state)
{
	static const int64_t x86[] = { 1, 8, 6, 6 };
	tb *b = tb_new(13);
	AccelOnnx__Node *n;

	(void)state;
	tb_input(b, "x", 4, x86);
	tb_init(b, "W", 4, w88, NULL, 1);
	n = tb_node(b, "Conv", "x,W", "c");
	tb_attr_ints(b, n, "pads", 4, (int64_t)1, (int64_t)1, (int64_t)1, (int64_t)1);
	tb_node(b, "Relu", "c", "y");
	tb_output(b, "y");
	check(b, "FusedConv", 1e-5);
}

/* A first convolution of 3 channels then one of 8. */
static tb *image_cnn(void)
{
	static const int64_t x3[] = { 1, 3, 10, 10 }, w83[] = { 8, 3, 3, 3 };
	tb *b = tb_new(13);
	AccelOnnx__Node *n;

	tb_input(b, "x", 4, x3);
	tb_init(b, "W1", 4, w83, NULL, 1);
	tb_init(b, "W2", 4, w88, NULL, 2);
	n = tb_node(b, "Conv", "x,W1", "c1");
	tb_attr_ints(b, n, "pads", 4, (int64_t)1, (int64_t)1, (int64_t)1, (int64_t)1);
	tb_attr_ints(b, n, "strides", 2, (int64_t)2, (int64_t)2);
	tb_node(b, "Relu", "c1", "a");
	tb_node(b, "Conv", "a,W2", "y");
	tb_output(b, "y");
	return b;
}

/* The first convolution reads NCHW and writes blocked. */
static void image_conv_starts_chain(void **state)
{
	(void)state;
	check(image_cnn(), cpu_layout_block() ? "BlockedConv,BlockedConv,FromBlocked" :
						"FusedConv,Conv", 1e-4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(identity_nodes_are_removed),
		cmocka_unit_test(identity_between_outputs_is_kept),
		cmocka_unit_test(unread_nodes_are_removed),
		cmocka_unit_test(equal_nodes_are_merged),
		cmocka_unit_test(conv_batchnorm_folds_into_conv),
		cmocka_unit_test(conv_residual_relu_fuse),
		cmocka_unit_test(conv_clip_fuses),
		cmocka_unit_test(conv_silu_fuses),
		cmocka_unit_test(conv_hardswish_as_hardsigmoid_mul_fuses),
		cmocka_unit_test(conv_output_read_twice_is_not_fused),
		cmocka_unit_test(gemm_relu_fuses),
		cmocka_unit_test(matmul_bias_gelu_fuse),
		cmocka_unit_test(gelu_with_half_first_fuses),
		cmocka_unit_test(decomposed_layernorm_fuses),
		cmocka_unit_test(layernorm_with_shared_mean_is_kept),
		cmocka_unit_test(attention_4d_mul_scale_mask_fuses),
		cmocka_unit_test(attention_3d_torch_form_fuses),
		cmocka_unit_test(attention_3d_div_scale_const_mask_fuses),
		cmocka_unit_test(attention_keeps_transpose_it_cannot_read),
		cmocka_unit_test(attention_with_read_probabilities_is_kept),
		cmocka_unit_test(attention_softmax_not_last_axis_is_kept),
		cmocka_unit_test(dump_graph_writes_dot),
		cmocka_unit_test(conv_chain_runs_blocked),
		cmocka_unit_test(conv_chain_without_onednn_is_equal),
		cmocka_unit_test(conv_chain_batch_of_two_is_equal),
		cmocka_unit_test(lone_conv_stays_plain),
		cmocka_unit_test(image_conv_starts_chain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
