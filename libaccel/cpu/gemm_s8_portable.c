/* SPDX-License-Identifier: MIT */
/*
 * gemm_s8_portable.c - the int8 GEMM micro-kernel in plain C (gemm_s8.h),
 * for any CPU: a 4 x 32 tile of int32 sums. On x86-64 the vector
 * extensions past SSE2 are switched off even in a -march=native build, so
 * this is the baseline the VNNI variants are tested against.
 */
#if defined(__x86_64__)
#pragma GCC target("no-avx512f,no-avx2,no-fma,no-avx")
#endif
#include "cpu/gemm_s8.h"

#define MR 4
#define NR S8GEMM_NR

static void kernel(int64_t kg, const uint8_t *a, const int8_t *b, int32_t *c,
		   int64_t ldc, bool acc)
{
	int32_t t[MR][NR] = { { 0 } };

	for (int64_t g = 0; g < kg; g++, a += MR * 4, b += NR * 4)
		for (int i = 0; i < MR; i++)
			for (int u = 0; u < 4; u++) {
				int32_t av = a[4 * i + u];

				for (int j = 0; j < NR; j++)
					t[i][j] += av * b[4 * j + u];
			}
	for (int i = 0; i < MR; i++)
		for (int j = 0; j < NR; j++)
			c[i * ldc + j] = acc ? (int32_t)((uint32_t)c[i * ldc + j] +
							 (uint32_t)t[i][j]) :
					       t[i][j];
}

const s8gemm_isa s8gemm_isa_portable = { "portable", MR, kernel };
