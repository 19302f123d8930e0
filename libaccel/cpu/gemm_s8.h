/* SPDX-License-Identifier: MIT */
/*
 * gemm_s8.h - 8-bit integer matrix multiply for the CPU backend.
 *
 * C[i][j] = sum_p (A[i][p] - a_zp[i]) * (B[p][j] - b_zp[j]), exact in
 * int32 (wrapping like int32 arithmetic when a sum overflows), row-major,
 * A and B each uint8 or int8. The products run in the u8 x s8 -> s32 shape
 * of VNNI's vpdpbusd: an int8 A is shifted to uint8 (+128), a uint8 B to
 * int8 (-128), and the zero points move with them; the zero points become
 * row-sum and column-sum corrections after the raw product. Micro-kernels
 * for AVX-512 VNNI, AVX-VNNI (256-bit) and plain C, chosen at run time by
 * cpuid and xgetbv. MatMulInteger (and so QLinear-style ops) run on it.
 */
#ifndef ACCEL_CPU_GEMM_S8_H
#define ACCEL_CPU_GEMM_S8_H

#include "cpu/threadpool.h"

#include <stdbool.h>
#include <stdint.h>

/* B's packed sliver width and K step, the same for every variant. */
#define S8GEMM_NR 32
#define S8GEMM_KU 4

/*
 * B (k x n) packed for the micro-kernels: ceil(n / NR) slivers, each of
 * ceil(k / 4) groups of NR x 4 int8 (column-major inside a group), in the
 * shifted int8 domain; padding is zero. colsum[j] is the sum of column j
 * (shifted values, real rows only); b_shift is what the shift subtracted
 * (128 for a uint8 B, else 0), to move B's zero points by.
 */
typedef struct s8gemm_packed {
	int64_t k, n, kp; /* kp: k rounded up to a multiple of 4 */
	int32_t b_shift;
	int8_t *data;	 /* 64-byte aligned */
	int32_t *colsum; /* n values */
} s8gemm_packed;

/*
 * Pack B: k x n with row stride ldb, int8 when b_signed, else uint8.
 * Free the result with s8gemm_packed_free(). Fails only for memory.
 */
accel_status s8gemm_pack_b(threadpool *pool, bool b_signed, int64_t k,
			   int64_t n, const void *b, int64_t ldb,
			   s8gemm_packed **out_bp);
void s8gemm_packed_free(s8gemm_packed *bp);

/*
 * One multiply. a_zp holds a_zp_n values (0: no zero point, 1: one for
 * every row, m: one per row); b_zp likewise with 1 or n (per column), in
 * B's own domain (what the model gave). |pool| may be NULL.
 */
typedef struct s8gemm_args {
	int64_t m, n, k;
	const void *a;
	int64_t lda;
	bool a_signed;
	const int32_t *a_zp;
	int64_t a_zp_n;
	const int32_t *b_zp;
	int64_t b_zp_n;
	int32_t *c;
	int64_t ldc;
} s8gemm_args;

accel_status s8gemm_run(threadpool *pool, const s8gemm_args *args,
			const s8gemm_packed *bp);

/* Packs B (k x n, stride ldb) for this call only, then s8gemm_run(). */
accel_status s8gemm(threadpool *pool, const s8gemm_args *args, bool b_signed,
		    const void *b, int64_t ldb);

/*
 * Runtime ISA dispatch, as for sgemm (gemm.h): the variants built in, best
 * first ("avx512vnni", "avxvnni", "portable"); s8gemm_isa_force() pins one
 * (NULL: automatic again), process-wide, for tests and benchmarks.
 */
int s8gemm_isa_count(void);
const char *s8gemm_isa_name(int i);
bool s8gemm_isa_supported(int i);
accel_status s8gemm_isa_force(const char *name);
const char *s8gemm_isa_active(void);

/*
 * Private to gemm_s8*.c: one micro-kernel variant. kernel() computes an
 * mr x NR tile of C (row stride ldc), = or += (acc) the product of a packed
 * A sliver (kg groups of mr x 4 uint8, row-major inside a group) and a
 * packed B sliver (kg groups of NR x 4 int8).
 */
typedef struct s8gemm_isa {
	const char *name;
	int mr;
	void (*kernel)(int64_t kg, const uint8_t *a, const int8_t *b,
		       int32_t *c, int64_t ldc, bool acc);
} s8gemm_isa;

extern const s8gemm_isa s8gemm_isa_vnni512, s8gemm_isa_avxvnni,
	s8gemm_isa_portable;

#endif /* ACCEL_CPU_GEMM_S8_H */
