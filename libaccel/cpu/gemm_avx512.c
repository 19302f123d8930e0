/* SPDX-License-Identifier: MIT */
/* gemm_avx512.c - the SGEMM micro-kernels for AVX-512F (gemm_isa.h). */
#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
#define GEMM_KIND 2
#define GEMM_ISA_NAME gemm_isa_avx512
#define GEMM_ISA_STR "avx512"
#include "cpu/gemm_isa.h"
#endif
