/* SPDX-License-Identifier: MIT */
/*
 * gemm.h - single-precision matrix multiply for the CPU backend.
 *
 * C = alpha * op(A) * op(B) + beta * C, row-major, where op() optionally
 * transposes. Blocked and packed, with a register-tiled AVX-512 / AVX2 /
 * portable micro-kernel chosen at run time (cpuid); MatMul, Gemm, Conv,
 * ConvTranspose and the fused ops all run on it.
 */
#ifndef ACCEL_CPU_GEMM_H
#define ACCEL_CPU_GEMM_H

#include "cpu/act.h"
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
/* One width for every micro-kernel variant (gemm_isa.h). */
#define SGEMM_NR 32

static inline int64_t sgemm_packed_b_floats(int64_t n, int64_t k)
{
	return (n + SGEMM_NR - 1) / SGEMM_NR * SGEMM_NR * k;
}

static inline int64_t sgemm_packed_b_index(int64_t k, int64_t p, int64_t col)
{
	return col / SGEMM_NR * SGEMM_NR * k + p * SGEMM_NR + col % SGEMM_NR;
}
/*
 * Optional work done as C tiles are stored, while they are in registers or
 * L1: C += row_bias[i] on row i (first K slice); then, after beta * C,
 * C += col_bias[j] + z[i * ldz + j]; then the activation (clamp for
 * Relu/Clip, in registers; the others over the tile's rows). Conv's bias,
 * a fused residual Add and a fused activation cost no pass of their own.
 * z is indexed like C: z[0] pairs with c[0].
 */
typedef struct sgemm_epilogue {
	const float *row_bias; /* m values, or NULL */
	bool clamp;
	float lo, hi;
	const float *col_bias; /* n values, or NULL */
	const float *z;	       /* residual, or NULL */
	int64_t ldz;
	cpu_act act; /* kind CPU_ACT_NONE or CLAMP: use clamp/lo/hi instead */
} sgemm_epilogue;

/*
 * The epilogue applied to rows [0, m) x columns [0, n) of C, after the
 * product: for the paths that cannot apply it in the micro-kernel. row0 and
 * col0 say where C starts in the epilogue's bias vectors. Adds row_bias too
 * (the product must not have).
 */
void sgemm_epilogue_apply(const sgemm_epilogue *epi, float *c, int64_t ldc,
			  int64_t m, int64_t n, int64_t row0, int64_t col0);

/*
 * B (k x n, or n x k when trans_b) into the packed layout above: a buffer
 * of sgemm_packed_b_floats(n, k) floats, 64-byte aligned. For weights
 * packed once per session.
 */
void sgemm_pack_b(threadpool *pool, bool trans_b, int64_t n, int64_t k,
		  const float *b, int64_t ldb, float *out_bp);

/* sgemm() with an epilogue (may be NULL). */
accel_status sgemm_epi(threadpool *pool, bool trans_a, bool trans_b,
		       int64_t m, int64_t n, int64_t k, float alpha,
		       const float *a, int64_t lda, const float *b, int64_t ldb,
		       float beta, float *c, int64_t ldc,
		       const sgemm_epilogue *epi);

/* |epi| may be NULL. The clamp applies after beta * C is added. */
accel_status sgemm_packed_b(threadpool *pool, bool trans_a, int64_t m,
			    int64_t n, int64_t k, float alpha, const float *a,
			    int64_t lda, const float *bp, float beta, float *c,
			    int64_t ldc, const sgemm_epilogue *epi);

/*
 * Runtime ISA dispatch: the micro-kernel variants built in, best first
 * ("avx512", "avx2", "portable"); the best one the CPU supports runs.
 * sgemm_isa_force() pins a variant (NULL: back to automatic) so tests and
 * benchmarks can check each against the portable one; it is process-wide,
 * not for use while other threads multiply.
 */
int sgemm_isa_count(void);
const char *sgemm_isa_name(int i);
bool sgemm_isa_supported(int i);
accel_status sgemm_isa_force(const char *name);
const char *sgemm_isa_active(void);

#endif /* ACCEL_CPU_GEMM_H */
