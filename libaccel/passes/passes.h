/* SPDX-License-Identifier: MIT */
/*
 * passes.h - graph passes that run between loading and scheduling. Each
 * pass is one file and works on the IR alone.
 */
#ifndef ACCEL_PASSES_PASSES_H
#define ACCEL_PASSES_PASSES_H

#include "ir/graph.h"

/*
 * Check every node against its operator schema (known op, input and output
 * counts) and infer static dtypes and shapes for every value. Unknown ops
 * give ACCEL_UNSUPPORTED naming the node.
 */
accel_status pass_infer_shapes(ir_graph *g);

/*
 * Turn nodes whose outputs pass_infer_shapes() computed into initializers
 * and remove them from the graph.
 */
accel_status pass_fold_constants(ir_graph *g);

#endif /* ACCEL_PASSES_PASSES_H */
