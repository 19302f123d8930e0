/* SPDX-License-Identifier: MIT */
/*
 * gemm_internal.h - private to the SGEMM: the job that gemm.c hands to a
 * micro-kernel variant (gemm_isa.h, compiled once per instruction set) and
 * the variant table that runtime dispatch chooses from.
 */
#ifndef ACCEL_CPU_GEMM_INTERNAL_H
#define ACCEL_CPU_GEMM_INTERNAL_H

#include "cpu/gemm.h"

#include <stdlib.h>
#include <string.h>

#define GEMM_NR SGEMM_NR
#define KC 256

typedef struct gemm_job {
	bool trans_a;
	int64_t m, n, k;
	float alpha, beta;
	const float *a;
	int64_t lda;
	const float *bp; /* packed B: ceil(n/NR) slivers of k x NR */
	const float *b;	 /* or B used in place (row-major, not transposed) */
	int64_t ldb;
	const float *row_bias; /* epilogue (sgemm_epilogue), may be NULL */
	bool clamp;
	float lo, hi;
	const float *col_bias, *z;
	int64_t ldz;
	const cpu_act *act;
	float *c;
	int64_t ldc;
	int64_t nc, mc, mblocks; /* column block, row block (the variant's MC) */
} gemm_job;

/*
 * What a tile's store adds: per-row bias (first K slice); column bias,
 * residual, clamp and activation (last K slice).
 */
typedef struct tile_epi {
	const float *bias; /* bias of the tile's first row, or NULL */
	bool clamp;
	float lo, hi;
	const float *cbias; /* column bias at the tile's first column, or NULL */
	const float *z;	    /* residual at the tile's origin, or NULL */
	int64_t ldz;
	const cpu_act *act; /* run over the stored rows, or NULL */
} tile_epi;

typedef struct gemm_isa {
	const char *name;
	int mr, mc; /* tile rows; rows per task block */
	void (*tasks)(void *job, int64_t begin, int64_t end); /* parallel_for */
} gemm_isa;

extern const gemm_isa gemm_isa_avx512, gemm_isa_avx2, gemm_isa_portable;

#endif /* ACCEL_CPU_GEMM_INTERNAL_H */
