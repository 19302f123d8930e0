/* SPDX-License-Identifier: MIT */
/*
 * gemm.h - single-precision matrix multiply for the CPU backend.
 *
 * C = alpha * op(A) * op(B) + beta * C, row-major, where op() optionally
 * transposes. Blocked and packed, with a register-tiled AVX-512 / AVX2
 * micro-kernel chosen at build time; MatMul, Gemm, Conv and ConvTranspose
 * all run on it.
 */
#ifndef ACCEL_CPU_GEMM_H
#define ACCEL_CPU_GEMM_H

#include "cpu/threadpool.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * |pool| may be NULL to run on the calling thread only (use that from inside
 * a parallel_for callback). beta == 0 ignores the old contents of C, so C
 * may hold garbage then. Fails only when scratch memory cannot be had.
 */
accel_status sgemm(threadpool *pool, bool trans_a, bool trans_b, int64_t m,
		   int64_t n, int64_t k, float alpha, const float *a,
		   int64_t lda, const float *b, int64_t ldb, float beta,
		   float *c, int64_t ldc);

/*
 * B already packed, for callers that can write the packed layout directly
 * (Conv's im2col): element (p, col) of the k x n matrix B lives at
 * sgemm_packed_b_index(k, p, col) in a buffer of sgemm_packed_b_floats(n, k)
 * floats whose padding columns are zero. The buffer must be 64-byte aligned.
 */
#if defined(__AVX512F__)
#define SGEMM_NR 32
#elif defined(__AVX2__) && defined(__FMA__)
#define SGEMM_NR 16
#else
#define SGEMM_NR 8
#endif

static inline int64_t sgemm_packed_b_floats(int64_t n, int64_t k)
{
	return (n + SGEMM_NR - 1) / SGEMM_NR * SGEMM_NR * k;
}

static inline int64_t sgemm_packed_b_index(int64_t k, int64_t p, int64_t col)
{
	return col / SGEMM_NR * SGEMM_NR * k + p * SGEMM_NR + col % SGEMM_NR;
}
/*
 * Optional work done as C tiles are stored, while they are in registers:
 * C += row_bias[i] on row i, then (clamp) C = min(max(C, lo), hi) — Conv's
 * bias and fused Relu/Clip without another pass over the output.
 */
typedef struct sgemm_epilogue {
	const float *row_bias; /* m values, or NULL */
	bool clamp;
	float lo, hi;
} sgemm_epilogue;

/* |epi| may be NULL. The clamp applies after beta * C is added. */
accel_status sgemm_packed_b(threadpool *pool, bool trans_a, int64_t m,
			    int64_t n, int64_t k, float alpha, const float *a,
			    int64_t lda, const float *bp, float beta, float *c,
			    int64_t ldc, const sgemm_epilogue *epi);

#endif /* ACCEL_CPU_GEMM_H */
