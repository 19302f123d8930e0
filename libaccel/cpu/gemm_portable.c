/* SPDX-License-Identifier: MIT */
/*
 * gemm_portable.c - the SGEMM micro-kernels in plain C (gemm_isa.h), for
 * any CPU. On x86-64 the vector extensions past SSE2 are switched off even
 * in a -march=native build, so this is the baseline the others are tested
 * against.
 */
#if defined(__x86_64__)
#pragma GCC target("no-avx512f,no-avx2,no-fma,no-avx")
#endif
/* act.h's 64-byte vectors only pass between always-inline helpers here. */
#pragma GCC diagnostic ignored "-Wpsabi"
#define GEMM_KIND 0
#define GEMM_ISA_NAME gemm_isa_portable
#define GEMM_ISA_STR "portable"
#include "cpu/gemm_isa.h"
