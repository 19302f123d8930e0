/* SPDX-License-Identifier: MIT */
/*
 * gemm_s8_avxvnni.c - the int8 GEMM micro-kernel for AVX-VNNI, the VEX
 * (256-bit) form of vpdpbusd (gemm_s8.h). AVX-512 is switched off here even
 * in a -march=native build, so this is what a CPU with AVX-VNNI and no
 * AVX-512 runs. A 6 x 32 tile as two 6 x 16 halves of 12 ymm accumulators.
 */
#if defined(__x86_64__)
#pragma GCC target("avx2,fma,avxvnni,no-avx512f")
#include "cpu/gemm_s8.h"

#include <immintrin.h>
#include <string.h>

#define MR 6
#define NR S8GEMM_NR

static inline int32_t ld32(const uint8_t *p)
{
	int32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Columns [h * 16, h * 16 + 16) of the tile; B's groups are NR * 4 bytes. */
static inline __attribute__((always_inline)) void
kernel_half(int64_t kg, const uint8_t *a, const int8_t *b, int32_t *c,
	    int64_t ldc, bool acc)
{
	__m256i c0[MR], c1[MR];

#pragma GCC unroll 6
	for (int i = 0; i < MR; i++)
		c0[i] = c1[i] = _mm256_setzero_si256();
	for (int64_t g = 0; g < kg; g++, a += MR * 4, b += NR * 4) {
		__m256i b0 = _mm256_load_si256((const __m256i *)b);
		__m256i b1 = _mm256_load_si256((const __m256i *)(b + 32));

#pragma GCC unroll 6
		for (int i = 0; i < MR; i++) {
			__m256i av = _mm256_set1_epi32(ld32(a + 4 * i));

			c0[i] = _mm256_dpbusd_avx_epi32(c0[i], av, b0);
			c1[i] = _mm256_dpbusd_avx_epi32(c1[i], av, b1);
		}
	}
#pragma GCC unroll 6
	for (int i = 0; i < MR; i++) {
		__m256i *r = (__m256i *)(c + i * ldc);

		if (acc) {
			c0[i] = _mm256_add_epi32(c0[i], _mm256_loadu_si256(r));
			c1[i] = _mm256_add_epi32(c1[i], _mm256_loadu_si256(r + 1));
		}
		_mm256_storeu_si256(r, c0[i]);
		_mm256_storeu_si256(r + 1, c1[i]);
	}
}

static void kernel(int64_t kg, const uint8_t *a, const int8_t *b, int32_t *c,
		   int64_t ldc, bool acc)
{
	kernel_half(kg, a, b, c, ldc, acc);
	kernel_half(kg, a, b + 64, c + 16, ldc, acc);
}

const s8gemm_isa s8gemm_isa_avxvnni = { "avxvnni", MR, kernel };
#endif
