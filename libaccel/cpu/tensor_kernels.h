/* SPDX-License-Identifier: MIT */
/*
 * tensor_kernels.h - CPU kernels of the tensor family that live outside
 * cpu/tensor.c (which holds the table), and helpers they share.
 */
#ifndef ACCEL_CPU_TENSOR_KERNELS_H
#define ACCEL_CPU_TENSOR_KERNELS_H

#include "cpu/kernel.h"

#define TENSOR_KERNEL(name)                                                 \
	accel_status name(const cpu_ctx *ctx, accel_tensor *const *in, int n_in, \
			  accel_tensor *const *out, int n_out)

/* cpu/tensor_resize.c */
TENSOR_KERNEL(cpu_resize);

/* cpu/tensor_index.c: index-driven gathers and scatters */
TENSOR_KERNEL(cpu_gather_elements);
TENSOR_KERNEL(cpu_gather_nd);
TENSOR_KERNEL(cpu_scatter_elements);
TENSOR_KERNEL(cpu_scatter_nd);
TENSOR_KERNEL(cpu_one_hot);
TENSOR_KERNEL(cpu_compress);
TENSOR_KERNEL(cpu_non_zero);
TENSOR_KERNEL(cpu_reverse_sequence);

/* Parallel strided copy (see strided_copy in ops/tensor_eval.h). */
void par_strided_copy(threadpool *tp, void *dst, const void *src, size_t es,
		      int rank, const int64_t *count, const int64_t *ss,
		      int64_t off);

#endif /* ACCEL_CPU_TENSOR_KERNELS_H */
