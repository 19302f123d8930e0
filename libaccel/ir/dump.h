/* SPDX-License-Identifier: MIT */
/*
 * dump.h - write a graph for people to read: Graphviz DOT, one box per
 * node (op type, name, fused activation), one edge per value (name and
 * static shape), graph inputs and outputs as ellipses. Initializers are
 * counted in the node's label rather than drawn, to keep big models legible.
 */
#ifndef ACCEL_IR_DUMP_H
#define ACCEL_IR_DUMP_H

#include "ir/graph.h"

#include <stdio.h>

accel_status ir_graph_dump_dot(const ir_graph *g, FILE *f);

#endif /* ACCEL_IR_DUMP_H */
