/* SPDX-License-Identifier: MIT */
/*
 * gemm_avx2.c - the SGEMM micro-kernels for AVX2 + FMA (gemm_isa.h).
 * AVX-512 is switched off here even in a -march=native build, so this
 * variant is what an AVX2-only CPU runs, and is tested as such.
 */
#if defined(__x86_64__)
#pragma GCC target("avx2,fma,no-avx512f")
/* act.h's 64-byte vectors only pass between always-inline helpers here. */
#pragma GCC diagnostic ignored "-Wpsabi"
#define GEMM_KIND 1
#define GEMM_ISA_NAME gemm_isa_avx2
#define GEMM_ISA_STR "avx2"
#include "cpu/gemm_isa.h"
#endif
