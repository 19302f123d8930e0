/* SPDX-License-Identifier: MIT */
/*
 * model.c - loading a model: file -> ONNX front end -> IR -> checks and
 * static shape inference. Every error is prefixed with the model's name.
 */
#include "core/runtime.h"
#include "ir/dump.h"
#include "onnx/onnx.h"
#include "cpu/layout_blocked.h"
#include "passes/passes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static accel_status check_io(const ir_graph *g)
{
	for (int i = 0; i < g->n_inputs; i++) {
		const ir_value *v = &g->values[g->inputs[i]];

		if (v->non_tensor)
			return status_unsupported("input '%s' is a sequence, map or optional; only tensors are supported",
						  v->name);
		if (!accel_dtype_size(v->dtype))
			return status_unsupported("input '%s' has element type %s (%d), which is not supported",
						  v->name, accel_dtype_name(v->dtype), (int)v->dtype);
	}
	for (int i = 0; i < g->n_outputs; i++) {
		const ir_value *v = &g->values[g->outputs[i]];

		if (v->non_tensor)
			return status_unsupported("output '%s' is a sequence, map or optional; only tensors are supported",
						  v->name);
	}
	if (!g->n_outputs)
		return status_bad_model("the graph has no outputs");
	return NULL;
}

/*
 * Base ops whose fused form the CPU backend runs (libaccel/cpu/fused.c);
 * a kind joins here once its kernel exists.
 */
#define OPT_FUSE_KINDS (PASS_FUSE_CONV | PASS_FUSE_GEMM | PASS_FUSE_MATMUL)

/* The optimisation level a flags word asks for, or -1 when it is invalid. */
static int opt_level(uint32_t flags)
{
	if (flags & ~0xfu)
		return -1;
	if (!(flags & 0x8u))
		return ACCEL_LOAD_OPT_LEVEL_MAX;
	return (flags & 0x7u) <= ACCEL_LOAD_OPT_LEVEL_MAX ? (int)(flags & 0x7u) : -1;
}

/*
 * The pass pipeline by level:
 *  0  shape inference only: the graph runs as written;
 *  1  + constant folding, identity and dead-node elimination, CSE;
 *  2  + Conv+BatchNormalization folding, GELU and LayerNormalization
 *       recognition, bias/residual/activation fusion into com.accel ops;
 *  3  + the blocked channel layout for chains of convolutions
 *       (passes/layout_blocked.c; the CPU picks the block width).
 * Fusion comes after the cleanups so that patterns are not split by an
 * Identity, and dead elimination runs last to drop what the rewrites left.
 */
static accel_status optimise(ir_graph *g, int level)
{
	ACCEL_TRY(pass_infer_shapes(g));
	if (level < 1)
		return NULL;
	ACCEL_TRY(pass_fold_constants(g));
	ACCEL_TRY(pass_eliminate_identity(g));
	ACCEL_TRY(pass_eliminate_dead(g));
	ACCEL_TRY(pass_cse(g));
	if (level >= 2) {
		ACCEL_TRY(pass_fold_conv_bn(g));
		ACCEL_TRY(pass_fuse_gelu(g));
		ACCEL_TRY(pass_fuse_layernorm(g));
		ACCEL_TRY(pass_fuse_attention(g));
		ACCEL_TRY(pass_fuse_activation(g, OPT_FUSE_KINDS));
	}
	return pass_eliminate_dead(g);
}

/*
 * Level 3: the CPU's own copy of the graph, with the blocked channel
 * layout. Its blocked ops run only on the CPU, so sessions that place
 * nodes on other devices use the level-2 graph (session.c picks).
 */
static accel_status optimise_for_cpu(const ir_graph *g, ir_graph **out)
{
	ir_graph *c = NULL;
	accel_status st;

	*out = NULL;
	ACCEL_TRY(ir_graph_clone(g, NULL, &c));
	st = pass_layout_blocked(c, cpu_layout_block());
	if (!st)
		st = pass_eliminate_dead(c);
	if (st) {
		ir_graph_free(c);
		return st;
	}
	*out = c;
	return NULL;
}

static accel_status build_model(accel_context *ctx, const void *data, size_t size,
				const char *name, const char *base_dir, int level,
				accel_model **out)
{
	accel_model *m = calloc(1, sizeof(*m));
	onnx_model_meta meta = { 0 };
	accel_status st;

	if (!m)
		return status_oom("a model");
	atomic_init(&m->refs, 1);
	m->name = strdup(name ? name : "<memory>");
	if (!m->name) {
		free(m);
		return status_oom("a model");
	}
	st = onnx_load_graph(data, size, base_dir, &m->graph, &meta);
	m->producer = meta.producer;
	if (!st)
		st = check_io(m->graph);
	if (!st)
		st = optimise(m->graph, level);
	if (!st && level >= 3)
		st = optimise_for_cpu(m->graph, &m->cpu_graph);
	if (st) {
		st = status_annotate(st, "model '%s'", m->name);
		ir_graph_free(m->graph);
		ir_graph_free(m->cpu_graph);
		free(m->producer);
		free(m->name);
		free(m);
		return st;
	}
	accel_context_retain(ctx);
	m->context = ctx;
	*out = m;
	return NULL;
}

ACCEL_API accel_status accel_model_load(accel_context *ctx, const char *path,
					uint32_t flags, accel_model **out_model)
{
	char *dir, *slash;
	void *data;
	size_t size;
	accel_status st;

	if (!ctx || !path || !out_model)
		return status_invalid("accel_model_load: NULL argument");
	if (opt_level(flags) < 0)
		return status_invalid("accel_model_load: invalid flags 0x%x", flags);
	ACCEL_TRY(status_annotate(onnx_read_file(path, &data, &size), "model '%s'", path));
	dir = strdup(path);
	if (!dir) {
		free(data);
		return status_oom("a path");
	}
	slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir ? 1 : 0] = '\0';
	else
		strcpy(dir, ".");
	st = build_model(ctx, data, size, path, dir, opt_level(flags), out_model);
	free(dir);
	free(data);
	return st;
}

ACCEL_API accel_status accel_model_load_memory(accel_context *ctx, const void *data,
					       size_t size, const char *name,
					       const char *base_dir, uint32_t flags,
					       accel_model **out_model)
{
	if (!ctx || (!data && size) || !out_model)
		return status_invalid("accel_model_load_memory: NULL argument");
	if (opt_level(flags) < 0)
		return status_invalid("accel_model_load_memory: invalid flags 0x%x", flags);
	return build_model(ctx, data, size, name, base_dir, opt_level(flags), out_model);
}

ACCEL_API void accel_model_retain(accel_model *m)
{
	if (m)
		atomic_fetch_add(&m->refs, 1);
}

ACCEL_API void accel_model_release(accel_model *m)
{
	if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	ir_graph_free(m->graph);
	ir_graph_free(m->cpu_graph);
	accel_context_release(m->context);
	free(m->producer);
	free(m->name);
	free(m);
}

ACCEL_API const char *accel_model_name(const accel_model *m)
{
	return m ? m->name : "";
}

ACCEL_API size_t accel_model_input_count(const accel_model *m)
{
	return m ? (size_t)m->graph->n_inputs : 0;
}

ACCEL_API size_t accel_model_output_count(const accel_model *m)
{
	return m ? (size_t)m->graph->n_outputs : 0;
}

ACCEL_API size_t accel_model_node_count(const accel_model *m)
{
	return m ? (size_t)(m->cpu_graph ? m->cpu_graph : m->graph)->n_nodes : 0;
}

static void fill_info(const ir_value *v, accel_value_info *info)
{
	memset(info, 0, sizeof(*info));
	info->name = v->name;
	info->dtype = v->dtype;
	info->rank = v->rank;
	for (int d = 0; d < v->rank && d < ACCEL_MAX_RANK; d++) {
		info->dims[d] = v->dims[d];
		info->dim_names[d] = v->dim_names[d];
	}
}

ACCEL_API accel_status accel_model_input_info(const accel_model *m, size_t index,
					      accel_value_info *out_info)
{
	if (!m || !out_info)
		return status_invalid("accel_model_input_info: NULL argument");
	if (index >= (size_t)m->graph->n_inputs)
		return status_error(ACCEL_NOT_FOUND, "model '%s': input index %zu is out of range (%d inputs)",
				    m->name, index, m->graph->n_inputs);
	fill_info(&m->graph->values[m->graph->inputs[index]], out_info);
	return NULL;
}

ACCEL_API accel_status accel_model_output_info(const accel_model *m, size_t index,
					       accel_value_info *out_info)
{
	if (!m || !out_info)
		return status_invalid("accel_model_output_info: NULL argument");
	if (index >= (size_t)m->graph->n_outputs)
		return status_error(ACCEL_NOT_FOUND, "model '%s': output index %zu is out of range (%d outputs)",
				    m->name, index, m->graph->n_outputs);
	fill_info(&m->graph->values[m->graph->outputs[index]], out_info);
	return NULL;
}

ACCEL_API accel_status accel_model_dump_graph(const accel_model *model,
					      const char *path, uint32_t flags)
{
	accel_status st;
	FILE *f;

	if (!model || !path)
		return status_invalid("accel_model_dump_graph: NULL argument");
	if (flags)
		return status_invalid("accel_model_dump_graph: invalid flags 0x%x", flags);
	f = fopen(path, "w");
	if (!f)
		return status_error(ACCEL_IO_ERROR, "model '%s': cannot create '%s': %s",
				    model->name, path, strerror(errno));
	/* what a CPU session runs; other devices' sessions skip CPU layout */
	st = ir_graph_dump_dot(model->cpu_graph ? model->cpu_graph : model->graph, f);
	if (fclose(f) && !st)
		st = status_error(ACCEL_IO_ERROR, "model '%s': writing '%s': %s",
				  model->name, path, strerror(errno));
	return status_annotate(st, "model '%s'", model->name);
}
