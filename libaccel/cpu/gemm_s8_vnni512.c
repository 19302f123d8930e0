/* SPDX-License-Identifier: MIT */
/*
 * gemm_s8_vnni512.c - the int8 GEMM micro-kernel for AVX-512 VNNI
 * (gemm_s8.h): a 12 x 32 tile in 24 zmm accumulators, one vpdpbusd per
 * accumulator and 4-deep K step (u8 x s8, four products summed into s32).
 */
#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")
#include "cpu/gemm_s8.h"

#include <immintrin.h>
#include <string.h>

#define MR 12
#define NR S8GEMM_NR

static inline int32_t ld32(const uint8_t *p)
{
	int32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void kernel(int64_t kg, const uint8_t *a, const int8_t *b, int32_t *c,
		   int64_t ldc, bool acc)
{
	__m512i c0[MR], c1[MR];

#pragma GCC unroll 12
	for (int i = 0; i < MR; i++)
		c0[i] = c1[i] = _mm512_setzero_si512();
	for (int64_t g = 0; g < kg; g++, a += MR * 4, b += NR * 4) {
		__m512i b0 = _mm512_load_si512((const void *)b);
		__m512i b1 = _mm512_load_si512((const void *)(b + 64));

		/* Weights stream from L2/memory: fetch a few groups ahead. */
		_mm_prefetch((const char *)(b + 8 * NR * 4), _MM_HINT_T0);
		_mm_prefetch((const char *)(b + 8 * NR * 4 + 64), _MM_HINT_T0);
#pragma GCC unroll 12
		for (int i = 0; i < MR; i++) {
			__m512i av = _mm512_set1_epi32(ld32(a + 4 * i));

			c0[i] = _mm512_dpbusd_epi32(c0[i], av, b0);
			c1[i] = _mm512_dpbusd_epi32(c1[i], av, b1);
		}
	}
#pragma GCC unroll 12
	for (int i = 0; i < MR; i++) {
		int32_t *r = c + i * ldc;

		if (acc) {
			c0[i] = _mm512_add_epi32(c0[i], _mm512_loadu_si512(r));
			c1[i] = _mm512_add_epi32(c1[i], _mm512_loadu_si512(r + 16));
		}
		_mm512_storeu_si512(r, c0[i]);
		_mm512_storeu_si512(r + 16, c1[i]);
	}
}

const s8gemm_isa s8gemm_isa_vnni512 = { "avx512vnni", MR, kernel };
#endif
