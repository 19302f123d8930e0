/* SPDX-License-Identifier: MIT */
/*
 * loader.c - ONNX ModelProto to graph IR.
 *
 * Parses with protobuf-c against the project's own schema, then copies what
 * the runtime needs into an ir_graph: opset imports, initializers, inputs
 * and outputs with their declared types, nodes with attributes (subgraph
 * attributes included, loaded recursively), and value_info shapes.
 */
#include "onnx/onnx.h"
#include "onnx/tensor_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SUBGRAPH_DEPTH 16

typedef struct load_ctx {
	onnx_external *ext;
	const AccelOnnx__Model *model;
	int depth;
} load_ctx;

static accel_status load_graph(load_ctx *lc, const AccelOnnx__Graph *gp,
			       ir_graph *parent, ir_graph **out);

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

/* Copy a ValueInfo's declared type and shape onto value |v|. */
static accel_status apply_value_info(ir_value *v, const AccelOnnx__ValueInfo *vi)
{
	const AccelOnnx__Type *ty = vi->type;
	const AccelOnnx__Type__TensorType *tt;

	if (!ty)
		return NULL;
	if (ty->value_case != ACCEL_ONNX__TYPE__VALUE_TENSOR_TYPE) {
		v->non_tensor = true;
		return NULL;
	}
	tt = ty->tensor_type;
	if (tt->has_elem_type)
		v->dtype = (accel_dtype)tt->elem_type;
	if (!tt->shape)
		return NULL; /* rank unknown */
	if (tt->shape->n_dim > ACCEL_MAX_RANK)
		return status_unsupported("value '%s': rank %zu exceeds the maximum of %d",
					  v->name, tt->shape->n_dim, ACCEL_MAX_RANK);
	v->rank = (int)tt->shape->n_dim;
	for (size_t d = 0; d < tt->shape->n_dim; d++) {
		const AccelOnnx__TensorShape__Dimension *dim = tt->shape->dim[d];

		v->dims[d] = -1;
		free(v->dim_names[d]);
		v->dim_names[d] = NULL;
		if (dim->value_case == ACCEL_ONNX__TENSOR_SHAPE__DIMENSION__VALUE_DIM_VALUE) {
			if (dim->dim_value < 0)
				return status_bad_model("value '%s': dimension %zu is negative (%lld)",
							v->name, d, (long long)dim->dim_value);
			v->dims[d] = dim->dim_value;
		} else if (dim->value_case == ACCEL_ONNX__TENSOR_SHAPE__DIMENSION__VALUE_DIM_PARAM) {
			v->dim_names[d] = strdup(dim->dim_param);
			if (!v->dim_names[d])
				return status_oom("a dimension name");
		}
	}
	return NULL;
}

static accel_status copy_strings(char ***out, const ProtobufCBinaryData *src, size_t n)
{
	char **s = calloc(n ? n : 1, sizeof(char *));

	if (!s)
		return status_oom("attribute strings");
	*out = s;
	for (size_t i = 0; i < n; i++) {
		s[i] = malloc(src[i].len + 1);
		if (!s[i])
			return status_oom("an attribute string");
		memcpy(s[i], src[i].data, src[i].len);
		s[i][src[i].len] = '\0';
	}
	return NULL;
}

static accel_status load_attr(load_ctx *lc, ir_graph *g, const AccelOnnx__Attribute *ap,
			      ir_attr *a)
{
	a->name = dup_or_empty(ap->name);
	if (!a->name)
		return status_oom("an attribute name");
	if (ap->ref_attr_name)
		return status_unsupported("attribute '%s' refers to a function attribute",
					  a->name);
	a->type = ap->has_type ? (ir_attr_type)ap->type : IR_ATTR_UNDEFINED;
	if (a->type == IR_ATTR_UNDEFINED) {
		/* Old files omit the type: infer it from the field that is set. */
		if (ap->has_f) a->type = IR_ATTR_FLOAT;
		else if (ap->has_i) a->type = IR_ATTR_INT;
		else if (ap->has_s) a->type = IR_ATTR_STRING;
		else if (ap->t) a->type = IR_ATTR_TENSOR;
		else if (ap->g) a->type = IR_ATTR_GRAPH;
		else if (ap->n_floats) a->type = IR_ATTR_FLOATS;
		else if (ap->n_ints) a->type = IR_ATTR_INTS;
		else if (ap->n_strings) a->type = IR_ATTR_STRINGS;
	}
	switch (a->type) {
	case IR_ATTR_FLOAT:
		a->f = ap->f;
		break;
	case IR_ATTR_INT:
		a->i = ap->i;
		break;
	case IR_ATTR_STRING:
		a->s = malloc(ap->s.len + 1);
		if (!a->s)
			return status_oom("an attribute string");
		if (ap->s.len)
			memcpy(a->s, ap->s.data, ap->s.len);
		a->s[ap->s.len] = '\0';
		a->s_len = ap->s.len;
		break;
	case IR_ATTR_TENSOR:
		if (!ap->t)
			return status_bad_model("attribute '%s' has type TENSOR but no tensor", a->name);
		ACCEL_TRY(status_annotate(onnx_tensor_convert(ap->t, lc->ext, &a->t),
					  "attribute '%s'", a->name));
		break;
	case IR_ATTR_GRAPH:
		if (!ap->g)
			return status_bad_model("attribute '%s' has type GRAPH but no graph", a->name);
		ACCEL_TRY(status_annotate(load_graph(lc, ap->g, g, &a->g),
					  "subgraph '%s'", a->name));
		break;
	case IR_ATTR_FLOATS:
		a->count = ap->n_floats;
		a->floats = malloc(sizeof(float) * (a->count ? a->count : 1));
		if (!a->floats)
			return status_oom("attribute floats");
		if (a->count)
			memcpy(a->floats, ap->floats, sizeof(float) * a->count);
		break;
	case IR_ATTR_INTS:
		a->count = ap->n_ints;
		a->ints = malloc(sizeof(int64_t) * (a->count ? a->count : 1));
		if (!a->ints)
			return status_oom("attribute ints");
		if (a->count)
			memcpy(a->ints, ap->ints, sizeof(int64_t) * a->count);
		break;
	case IR_ATTR_STRINGS:
		a->count = ap->n_strings;
		ACCEL_TRY(copy_strings(&a->strings, ap->strings, a->count));
		break;
	case IR_ATTR_TENSORS:
		a->count = ap->n_tensors;
		a->tensors = calloc(a->count ? a->count : 1, sizeof(accel_tensor *));
		if (!a->tensors)
			return status_oom("attribute tensors");
		for (size_t i = 0; i < a->count; i++)
			ACCEL_TRY(status_annotate(onnx_tensor_convert(ap->tensors[i], lc->ext,
								      &a->tensors[i]),
						  "attribute '%s'[%zu]", a->name, i));
		break;
	case IR_ATTR_GRAPHS:
		a->count = ap->n_graphs;
		a->graphs = calloc(a->count ? a->count : 1, sizeof(ir_graph *));
		if (!a->graphs)
			return status_oom("attribute graphs");
		for (size_t i = 0; i < a->count; i++)
			ACCEL_TRY(status_annotate(load_graph(lc, ap->graphs[i], g, &a->graphs[i]),
						  "subgraph '%s'[%zu]", a->name, i));
		break;
	case IR_ATTR_UNDEFINED:
		return status_bad_model("attribute '%s' has no value", a->name);
	default:
		/* Sparse tensors and type protos are kept as typed placeholders. */
		break;
	}
	return NULL;
}

static int opset_of(const AccelOnnx__Model *m, const char *domain)
{
	for (size_t i = 0; m && i < m->n_opset_import; i++)
		if (ir_domain_equal(m->opset_import[i]->domain, domain))
			return (int)m->opset_import[i]->version;
	return 0;
}

static accel_status load_node(load_ctx *lc, ir_graph *g, const AccelOnnx__Node *np, int index)
{
	int ni;
	ir_node *n;

	ACCEL_TRY(ir_graph_add_node(g, &ni));
	n = &g->nodes[ni];
	if (np->name && *np->name)
		n->name = strdup(np->name);
	else if (asprintf(&n->name, "#%d", index) < 0)
		n->name = NULL;
	n->op_type = dup_or_empty(np->op_type);
	n->domain = dup_or_empty(np->domain);
	if (!n->name || !n->op_type || !n->domain)
		return status_oom("a node");
	if (!*n->op_type)
		return status_bad_model("node '%s' has no op_type", n->name);
	n->opset = opset_of(lc->model, n->domain);
	n->inputs = malloc(sizeof(int) * (np->n_input + 1));
	n->outputs = malloc(sizeof(int) * (np->n_output + 1));
	n->attrs = calloc(np->n_attribute + 1, sizeof(ir_attr));
	if (!n->inputs || !n->outputs || !n->attrs)
		return status_oom("a node");
	for (size_t i = 0; i < np->n_input; i++) {
		int v = -1;

		if (np->input[i][0])
			ACCEL_TRY(ir_graph_intern_value(g, np->input[i], &v));
		n = &g->nodes[ni];
		n->inputs[n->n_inputs++] = v;
	}
	for (size_t i = 0; i < np->n_output; i++) {
		int v = -1;

		if (np->output[i][0]) {
			ACCEL_TRY(ir_graph_intern_value(g, np->output[i], &v));
			n = &g->nodes[ni];
			if (g->values[v].producer >= 0 || g->values[v].kind != IR_VALUE_INTERMEDIATE)
				return status_bad_model("node '%s' (%s): output '%s' is already defined elsewhere",
							n->name, n->op_type, np->output[i]);
			g->values[v].producer = ni;
		}
		n->outputs[n->n_outputs++] = v;
	}
	for (size_t i = 0; i < np->n_attribute; i++) {
		accel_status st;

		n = &g->nodes[ni];
		st = load_attr(lc, g, np->attribute[i], &n->attrs[n->n_attrs]);
		n = &g->nodes[ni];
		n->n_attrs++; /* counted even on failure so it gets freed */
		if (st)
			return status_annotate(st, "node '%s' (%s)", n->name, n->op_type);
	}
	return NULL;
}

static bool defined_outside(const ir_graph *g, const char *name)
{
	for (; g; g = g->parent)
		if (ir_graph_find_value(g, name) >= 0)
			return true;
	return false;
}

static accel_status load_graph(load_ctx *lc, const AccelOnnx__Graph *gp,
			       ir_graph *parent, ir_graph **out)
{
	ir_graph *g;
	accel_status st = NULL;

	if (++lc->depth > MAX_SUBGRAPH_DEPTH) {
		lc->depth--;
		return status_unsupported("subgraphs nest deeper than %d", MAX_SUBGRAPH_DEPTH);
	}
	st = ir_graph_create(gp->name, &g);
	if (st)
		goto out_depth;
	g->parent = parent;

	for (size_t i = 0; i < gp->n_initializer; i++) {
		const AccelOnnx__Tensor *tp = gp->initializer[i];
		ir_value *v;
		int vi;

		if (!tp->name || !*tp->name) {
			st = status_bad_model("initializer %zu has no name", i);
			goto fail;
		}
		if ((st = ir_graph_intern_value(g, tp->name, &vi)))
			goto fail;
		v = &g->values[vi];
		if (v->constant) {
			st = status_bad_model("initializer '%s' is defined twice", tp->name);
			goto fail;
		}
		if ((st = status_annotate(onnx_tensor_convert(tp, lc->ext, &v->constant),
					  "initializer '%s'", tp->name)))
			goto fail;
		v->kind = IR_VALUE_CONSTANT;
		v->dtype = v->constant->dtype;
		v->rank = v->constant->rank;
		memcpy(v->dims, v->constant->dims, sizeof(v->dims));
	}
	if (gp->n_sparse_initializer) {
		st = status_unsupported("sparse initializers are not supported");
		goto fail;
	}

	g->inputs = malloc(sizeof(int) * (gp->n_input + 1));
	g->outputs = malloc(sizeof(int) * (gp->n_output + 1));
	if (!g->inputs || !g->outputs) {
		st = status_oom("graph inputs");
		goto fail;
	}
	for (size_t i = 0; i < gp->n_input; i++) {
		const AccelOnnx__ValueInfo *vi = gp->input[i];
		int idx;

		if (!vi->name || !*vi->name) {
			st = status_bad_model("graph input %zu has no name", i);
			goto fail;
		}
		if ((st = ir_graph_intern_value(g, vi->name, &idx)))
			goto fail;
		if (g->values[idx].kind == IR_VALUE_CONSTANT)
			continue; /* an initializer listed as input keeps its value */
		if (g->values[idx].kind == IR_VALUE_INPUT) {
			st = status_bad_model("graph input '%s' is listed twice", vi->name);
			goto fail;
		}
		g->values[idx].kind = IR_VALUE_INPUT;
		if ((st = apply_value_info(&g->values[idx], vi)))
			goto fail;
		g->inputs[g->n_inputs++] = idx;
	}
	for (size_t i = 0; i < gp->n_node; i++)
		if ((st = load_node(lc, g, gp->node[i], (int)i)))
			goto fail;
	for (size_t i = 0; i < gp->n_output; i++) {
		const AccelOnnx__ValueInfo *vi = gp->output[i];
		int idx;

		if (!vi->name || !*vi->name) {
			st = status_bad_model("graph output %zu has no name", i);
			goto fail;
		}
		if ((st = ir_graph_intern_value(g, vi->name, &idx)))
			goto fail;
		g->values[idx].is_output = true;
		if ((st = apply_value_info(&g->values[idx], vi)))
			goto fail;
		g->outputs[g->n_outputs++] = idx;
	}
	for (size_t i = 0; i < gp->n_value_info; i++) {
		const AccelOnnx__ValueInfo *vi = gp->value_info[i];
		int idx;

		if (!vi->name || (idx = ir_graph_find_value(g, vi->name)) < 0)
			continue;
		if (g->values[idx].kind == IR_VALUE_INTERMEDIATE &&
		    (st = apply_value_info(&g->values[idx], vi)))
			goto fail;
	}
	/* Names a subgraph uses but does not define come from enclosing scopes. */
	for (int i = 0; i < g->n_values; i++) {
		ir_value *v = &g->values[i];

		if (v->kind == IR_VALUE_INTERMEDIATE && v->producer < 0 && parent &&
		    defined_outside(parent, v->name))
			v->kind = IR_VALUE_OUTER;
	}
	for (int i = 0; i < g->n_outputs; i++) {
		ir_value *v = &g->values[g->outputs[i]];

		if (v->kind == IR_VALUE_INTERMEDIATE && v->producer < 0) {
			st = status_bad_model("graph output '%s' is not produced by any node",
					      v->name);
			goto fail;
		}
	}
	if ((st = ir_graph_toposort(g)))
		goto fail;
	*out = g;
	lc->depth--;
	return NULL;
fail:
	ir_graph_free(g);
out_depth:
	lc->depth--;
	return st;
}

accel_status onnx_load_graph(const void *data, size_t size, const char *base_dir,
			     ir_graph **out_graph, onnx_model_meta *out_meta)
{
	AccelOnnx__Model *m;
	load_ctx lc = { 0 };
	ir_graph *g = NULL;
	accel_status st;

	if (!size)
		return status_bad_model("the file is empty");
	/* The allocator lets large raw_data blocks become tensor storage. */
	m = accel_onnx__model__unpack(&onnx_proto_allocator, size, data);
	if (!m)
		return status_bad_model("not a valid ONNX protobuf (parse failed; truncated or corrupted file?)");
	lc.model = m;
	st = onnx_external_create(base_dir, &lc.ext);
	if (st)
		goto out;
	if (!m->graph) {
		st = status_bad_model("the model has no graph");
		goto out;
	}
	if (!m->n_opset_import && m->ir_version >= 3) {
		st = status_bad_model("the model declares no opset_import");
		goto out;
	}
	st = load_graph(&lc, m->graph, NULL, &g);
	if (st)
		goto out;
	/* Every external-data read, many in flight, into the tensors. */
	st = onnx_external_finish(lc.ext);
	if (st)
		goto out;
	g->opsets = calloc(m->n_opset_import + 1, sizeof(ir_opset));
	if (!g->opsets) {
		st = status_oom("opset imports");
		goto out;
	}
	for (size_t i = 0; i < m->n_opset_import; i++) {
		g->opsets[i].domain = dup_or_empty(m->opset_import[i]->domain);
		g->opsets[i].version = m->opset_import[i]->version;
		g->n_opsets++;
		if (!g->opsets[i].domain) {
			st = status_oom("opset imports");
			goto out;
		}
	}
	if (out_meta) {
		out_meta->ir_version = m->ir_version;
		out_meta->producer = NULL;
		if (m->producer_name &&
		    asprintf(&out_meta->producer, "%s %s", m->producer_name,
			     m->producer_version ? m->producer_version : "") < 0)
			out_meta->producer = NULL;
	}
	*out_graph = g;
	g = NULL;
out:
	ir_graph_free(g);
	onnx_external_destroy(lc.ext);
	accel_onnx__model__free_unpacked(m, &onnx_proto_allocator);
	return st;
}
