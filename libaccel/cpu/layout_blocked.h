/* SPDX-License-Identifier: MIT */
/*
 * layout_blocked.h - the blocked channel layout ([N, ceil(C/b), H, W, b],
 * ops/layout.c) on the CPU: which block width this machine's convolution
 * kernels want, and BlockedConv through oneDNN (conv_dnnl.c).
 */
#ifndef ACCEL_CPU_LAYOUT_BLOCKED_H
#define ACCEL_CPU_LAYOUT_BLOCKED_H

#include "cpu/nn_kernels.h"

/*
 * The channel block passes/layout_blocked.c should use: 16 on AVX-512, 8
 * on AVX2, 0 (no blocked layout) without oneDNN, on other CPUs, or when
 * ACCEL_NO_DNNL or ACCEL_NO_BLOCKED is set in the environment.
 */
int cpu_layout_block(void);

/*
 * BlockedConv through oneDNN, the blocked tensors read and written in
 * place. prepare() keeps state for 2-D convolutions with constant float32
 * weights, one group or depthwise (one channel per group); exec sets
 * *out_done when it ran the node. Without oneDNN they do nothing.
 */
accel_status conv_dnnl_blocked_prepare(const cpu_ctx *ctx,
				       accel_tensor *const *const_in, int n_in,
				       void **out_state);
void conv_dnnl_blocked_release(void *state);
accel_status conv_dnnl_blocked_exec(const cpu_ctx *ctx, void *state,
				    accel_tensor *const *in, int n_in,
				    accel_tensor *const *out, const win3 *g,
				    const cpu_act *act, bool *out_done);

#endif /* ACCEL_CPU_LAYOUT_BLOCKED_H */
