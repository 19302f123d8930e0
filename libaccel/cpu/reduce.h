/* SPDX-License-Identifier: MIT */
/*
 * reduce.h - private interface between the CPU kernel files of the reduce
 * family: reduce.c (Reduce* and the kernel table), reduce_index.c (ArgMax,
 * ArgMin, TopK, CumSum, Unique), loss.c (SoftmaxCrossEntropyLoss,
 * NegativeLogLikelihoodLoss), reduce_linalg.c (Einsum, Det, windows) and
 * reduce_quant.c (MatMulInteger and the quantization ops).
 */
#ifndef ACCEL_CPU_REDUCE_H
#define ACCEL_CPU_REDUCE_H

#include "cpu/kernel.h"
#include "ops/reduce.h"

#define RD_KERNEL(name)                                                  \
	accel_status name(const cpu_ctx *ctx, accel_tensor *const *in,  \
			  int n_in, accel_tensor *const *out, int n_out)

/* Split |n| into (outer, len, inner) around |axis| of |t|. */
static inline void rd_split(const accel_tensor *t, int axis, int64_t *outer,
			    int64_t *len, int64_t *inner)
{
	*outer = 1;
	*inner = 1;
	for (int i = 0; i < axis; i++)
		*outer *= t->dims[i];
	for (int i = axis + 1; i < t->rank; i++)
		*inner *= t->dims[i];
	*len = t->rank ? t->dims[axis] : 1;
}

RD_KERNEL(rd_argmax);
RD_KERNEL(rd_argmin);
RD_KERNEL(rd_topk);
RD_KERNEL(rd_cumsum);
RD_KERNEL(rd_unique);
RD_KERNEL(rd_sce_loss);
RD_KERNEL(rd_nll_loss);
RD_KERNEL(rd_einsum);
RD_KERNEL(rd_det);
RD_KERNEL(rd_hann);
RD_KERNEL(rd_hamming);
RD_KERNEL(rd_blackman);
RD_KERNEL(rd_matmulint);
RD_KERNEL(rd_qlinearmatmul);
RD_KERNEL(rd_quantize);
RD_KERNEL(rd_dequantize);
RD_KERNEL(rd_dynquant);

#endif /* ACCEL_CPU_REDUCE_H */
