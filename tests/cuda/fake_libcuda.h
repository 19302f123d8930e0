/* SPDX-License-Identifier: MIT */
/*
 * fake_libcuda.h - the control and inspection interface of the fake CUDA
 * driver (fake_libcuda.c, built as libfakecuda.so) that test_cuda.c loads
 * through $ACCEL_LIBCUDA. Tests resolve these with dlsym on the same
 * handle the backend opened.
 */
#ifndef ACCEL_TESTS_FAKE_LIBCUDA_H
#define ACCEL_TESTS_FAKE_LIBCUDA_H

#include <stddef.h>

/* Failure switches; fakecuda_reset() clears them and the counters. */
typedef struct fakecuda_config {
	int init_result;     /* cuInit's return value (0: success) */
	int device_count;    /* devices reported (default 1) */
	int oom_at;          /* the Nth cuMemAlloc from now fails (0: never) */
	int launch_fail_at;  /* the Nth cuLaunchKernel from now fails (0: never) */
	int pin_fails;       /* cuMemHostRegister refuses */
	int execute;         /* run the host references of known kernels */
} fakecuda_config;

/* Live objects: every one must be back to 0 after the backend is done. */
typedef struct fakecuda_counts {
	int contexts, streams, events, modules, allocs, pinned, blas;
	long long bytes_h2d, bytes_d2h, bytes_d2d;
	int launches, bad_calls; /* bad_calls: unknown pointers, no context... */
	int module_loads, fatbin_rejects;
} fakecuda_counts;

#define FAKE_MAX_ARGS 24

typedef struct fakecuda_launch {
	char name[64];
	unsigned grid[3], block[3];
	int n_args;
	size_t arg_size[FAKE_MAX_ARGS];
	unsigned char arg[FAKE_MAX_ARGS][256];
} fakecuda_launch;

typedef struct fakecuda_gemm {
	int transa, transb, m, n, k, lda, ldb, ldc, batch;
	long long stride_a, stride_b, stride_c;
	float alpha, beta;
} fakecuda_gemm;

typedef void (*fakecuda_reset_fn)(const fakecuda_config *cfg);
typedef void (*fakecuda_counts_fn)(fakecuda_counts *out);
/* The |i|th launch since the reset (0-based); returns 0 when none. */
typedef int (*fakecuda_launch_fn)(int i, fakecuda_launch *out);
typedef int (*fakecuda_gemm_fn)(int i, fakecuda_gemm *out);

#endif /* ACCEL_TESTS_FAKE_LIBCUDA_H */
