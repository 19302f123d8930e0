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

/* Remove Identity, inference Dropout and no-op Reshape/Cast nodes. */
accel_status pass_eliminate_identity(ir_graph *g);

/* Remove nodes nothing reads and free initializers nothing reads. */
accel_status pass_eliminate_dead(ir_graph *g);

/* Merge equal small initializers, then nodes computing the same thing. */
accel_status pass_cse(ir_graph *g);

/* Fold BatchNormalization into the Conv before it (constants only). */
accel_status pass_fold_conv_bn(ir_graph *g);

/* Base ops pass_fuse_activation() may turn into com.accel Fused* ops. */
#define PASS_FUSE_CONV 1u
#define PASS_FUSE_GEMM 2u
#define PASS_FUSE_MATMUL 4u

/*
 * Fuse a MatMul's bias Add, a Conv's residual Add, and the activation after
 * a Conv/Gemm/MatMul into FusedConv/FusedGemm/FusedMatMul ("com.accel").
 */
accel_status pass_fuse_activation(ir_graph *g, unsigned kinds);

/* x * 0.5 * (1 + erf(x / sqrt(2))) -> Gelu(x). */
accel_status pass_fuse_gelu(ir_graph *g);

/* The decomposed form of LayerNormalization -> LayerNormalization. */
accel_status pass_fuse_layernorm(ir_graph *g);

/*
 * MatMul -> scale -> [Add mask] -> Softmax(-1) -> MatMul, with the
 * Transposes around it -> com.accel FusedAttention.
 */
accel_status pass_fuse_attention(ir_graph *g);

/*
 * Chains of two or more convolutions oneDNN can run (with the channel-scale
 * Mul and GlobalAveragePool between them) into the blocked channel layout
 * of width |block| (8 or 16; anything else: no change): com.accel
 * BlockedConv/BlockedMul/BlockedGlobalAveragePool, with ToBlocked and
 * FromBlocked only at the chain ends.
 */
accel_status pass_layout_blocked(ir_graph *g, int block);

#endif /* ACCEL_PASSES_PASSES_H */
