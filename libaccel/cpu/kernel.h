/* SPDX-License-Identifier: MIT */
/*
 * kernel.h - the CPU backend's kernel table.
 *
 * A kernel executes one operator on host tensors whose output shapes the
 * operator schema (ops/) has already set and whose storage is allocated.
 * Kernels split work across the session's thread pool with parallel_for().
 */
#ifndef ACCEL_CPU_KERNEL_H
#define ACCEL_CPU_KERNEL_H

#include "cpu/threadpool.h"
#include "ops/op.h"

typedef struct cpu_ctx {
	const ir_node *node;
	threadpool *pool; /* may be NULL: run serially */
	void *state;	  /* what the kernel's prepare() built, or NULL */
} cpu_ctx;

typedef accel_status (*cpu_exec_fn)(const cpu_ctx *ctx, accel_tensor *const *in,
				    int n_in, accel_tensor *const *out,
				    int n_out);

/*
 * Optional, once per session: build read-only per-node state (packed
 * weights, say) from the inputs that are constant. const_in[i] is the
 * initializer for input i, NULL when input i is not constant. Leaving
 * *out_state NULL is fine. The state is shared by concurrent runs.
 */
typedef accel_status (*cpu_prepare_fn)(const cpu_ctx *ctx,
				       accel_tensor *const *const_in, int n_in,
				       void **out_state);
typedef void (*cpu_release_fn)(void *state);

typedef struct cpu_kernel {
	const char *op_type;
	const char *domain;
	cpu_exec_fn exec;
	cpu_prepare_fn prepare; /* optional */
	cpu_release_fn release; /* optional; frees what prepare built */
} cpu_kernel;

const cpu_kernel *cpu_kernel_find(const char *domain, const char *op_type);

#endif /* ACCEL_CPU_KERNEL_H */
