/* SPDX-License-Identifier: MIT */
/*
 * nn_window.h - sliding-window geometry shared by Conv, ConvTranspose and
 * the pooling operators: kernel, strides, dilations and the pads resolved
 * from auto_pad, per spatial dimension.
 *
 * The schemas use it to shape outputs; the CPU kernels use it again to get
 * the same pads without repeating the rules.
 */
#ifndef ACCEL_OPS_NN_WINDOW_H
#define ACCEL_OPS_NN_WINDOW_H

#include "ops/op.h"

typedef struct nn_window {
	int nsp;		       /* spatial dimensions */
	int64_t in[ACCEL_MAX_RANK];    /* input extent, -1 unknown */
	int64_t out[ACCEL_MAX_RANK];   /* output extent, -1 unknown */
	int64_t k[ACCEL_MAX_RANK];     /* kernel extent, -1 unknown */
	int64_t s[ACCEL_MAX_RANK];     /* strides */
	int64_t d[ACCEL_MAX_RANK];     /* dilations */
	int64_t pb[ACCEL_MAX_RANK];    /* pad at the beginning */
	int64_t pe[ACCEL_MAX_RANK];    /* pad at the end (may be < 0 for ConvTranspose) */
} nn_window;

/*
 * Forward windows (Conv, MaxPool, AveragePool, LpPool). |kernel| holds nsp
 * extents (from W for Conv, NULL to read kernel_shape); |pool| enables
 * ceil_mode.
 */
accel_status nn_window_forward(const ir_node *node, int nsp, const int64_t *in,
			       const int64_t *kernel, bool pool, nn_window *w);
/* ConvTranspose: |kernel| from W's trailing dims (entries may be -1). */
accel_status nn_window_transpose(const ir_node *node, int nsp,
				 const int64_t *in, const int64_t *kernel,
				 nn_window *w);

#endif /* ACCEL_OPS_NN_WINDOW_H */
