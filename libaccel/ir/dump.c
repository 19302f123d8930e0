/* SPDX-License-Identifier: MIT */
/* dump.c - the graph as Graphviz DOT (see dump.h), and its public entry. */
#include "ir/dump.h"

#include <errno.h>
#include <string.h>

/* DOT string bodies: quote and backslash need escaping. */
static void put_escaped(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
}

static void put_value_label(FILE *f, const ir_value *v)
{
	put_escaped(f, v->name);
	if (v->rank >= 0) {
		fputs("\\n", f);
		for (int d = 0; d < v->rank; d++)
			if (v->dims[d] >= 0)
				fprintf(f, "%s%lld", d ? "x" : "", (long long)v->dims[d]);
			else
				fprintf(f, "%s?", d ? "x" : "");
		if (!v->rank)
			fputs("scalar", f);
	}
}

static void put_node(FILE *f, const ir_graph *g, int i)
{
	const ir_node *n = &g->nodes[i];
	const char *act = ir_attr_string(n, "activation", NULL);
	int consts = 0;

	for (int k = 0; k < n->n_inputs; k++)
		consts += n->inputs[k] >= 0 && g->values[n->inputs[k]].kind == IR_VALUE_CONSTANT;
	fprintf(f, "  n%d [shape=box%s, label=\"", i,
		*n->domain && !ir_domain_equal(n->domain, "") ?
			", style=filled, fillcolor=lightblue" : "");
	put_escaped(f, n->op_type);
	if (act) {
		fputs(" + ", f);
		put_escaped(f, act);
	}
	fputs("\\n", f);
	put_escaped(f, n->name);
	if (consts)
		fprintf(f, "\\n(%d initializer%s)", consts, consts > 1 ? "s" : "");
	fputs("\"];\n", f);
}

accel_status ir_graph_dump_dot(const ir_graph *g, FILE *f)
{
	fputs("digraph \"", f);
	put_escaped(f, g->name);
	fputs("\" {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n"
	      "  edge [fontname=\"Helvetica\", fontsize=8];\n", f);
	for (int i = 0; i < g->n_inputs; i++) {
		fprintf(f, "  v%d [shape=ellipse, label=\"", g->inputs[i]);
		put_value_label(f, &g->values[g->inputs[i]]);
		fputs("\"];\n", f);
	}
	for (int i = 0; i < g->n_outputs; i++) {
		fprintf(f, "  o%d [shape=ellipse, style=bold, label=\"", g->outputs[i]);
		put_value_label(f, &g->values[g->outputs[i]]);
		fputs("\"];\n", f);
	}
	for (int i = 0; i < g->n_nodes; i++)
		put_node(f, g, i);
	for (int i = 0; i < g->n_nodes; i++) {
		const ir_node *n = &g->nodes[i];

		for (int k = 0; k < n->n_inputs; k++) {
			const ir_value *v;

			if (n->inputs[k] < 0)
				continue;
			v = &g->values[n->inputs[k]];
			if (v->producer >= 0)
				fprintf(f, "  n%d -> n%d [label=\"", v->producer, i);
			else if (v->kind == IR_VALUE_INPUT)
				fprintf(f, "  v%d -> n%d [label=\"", n->inputs[k], i);
			else
				continue; /* constants: counted in the label */
			put_value_label(f, v);
			fputs("\"];\n", f);
		}
	}
	for (int i = 0; i < g->n_outputs; i++) {
		const ir_value *v = &g->values[g->outputs[i]];

		if (v->producer >= 0)
			fprintf(f, "  n%d -> o%d;\n", v->producer, g->outputs[i]);
		else if (v->kind == IR_VALUE_INPUT)
			fprintf(f, "  v%d -> o%d;\n", g->outputs[i], g->outputs[i]);
	}
	fputs("}\n", f);
	return ferror(f) ? status_error(ACCEL_IO_ERROR, "writing the graph failed") : NULL;
}
