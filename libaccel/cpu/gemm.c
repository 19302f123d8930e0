/* SPDX-License-Identifier: MIT */
/*
 * gemm.c - blocked, packed SGEMM in the style of BLIS/GotoBLAS.
 *
 * B is packed once, in parallel, into GEMM_NR-wide slivers that hold all of K
 * (Conv packs its im2col blocks itself; a B with few rows of A to serve is
 * read in place). Tasks over (MC rows x NC columns) blocks then walk K in
 * KC-deep slices and run the register-tiled micro-kernel; a row-major A is
 * read in place, other A slivers are packed on the stack. Two barriers per
 * call, none per slice. alpha is folded into the packing of A; beta applies
 * on the first K slice only, later slices accumulate; an optional epilogue
 * adds biases and a residual and applies an activation while the tile is
 * still in registers (or L1). The micro-kernels and the loop around them
 * live in gemm_isa.h, built once per instruction set; this file holds the
 * ISA-neutral parts and picks the variant at run time.
 */
#include "cpu/gemm_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define DIRECT_B_MAX_M 64
#define MC_DIRECT_MAX 256 /* rows a row block may hold when A is in place */
#define SMALL_GEMM (1 << 18) /* multiply-adds below which one thread works */

typedef struct pack_b_job {
	bool trans_b;
	const float *b;
	int64_t ldb, n, kc;
	float *dst;
} pack_b_job;

static void pack_b_range(void *arg, int64_t begin, int64_t end)
{
	const pack_b_job *j = arg;

	for (int64_t s = begin; s < end; s++) {
		int64_t j0 = s * GEMM_NR;
		int nr = j->n - j0 < GEMM_NR ? (int)(j->n - j0) : GEMM_NR;
		float *dst = j->dst + s * GEMM_NR * j->kc;

		if (!j->trans_b) {
			for (int64_t p = 0; p < j->kc; p++) {
				const float *src = j->b + p * j->ldb + j0;
				float *d = dst + p * GEMM_NR;
				int q;

				for (q = 0; q < nr; q++)
					d[q] = src[q];
				for (; q < GEMM_NR; q++)
					d[q] = 0.0f;
			}
		} else {
			for (int q = 0; q < GEMM_NR; q++) {
				const float *src = j->b + (j0 + q) * j->ldb;

				if (q < nr)
					for (int64_t p = 0; p < j->kc; p++)
						dst[p * GEMM_NR + q] = src[p];
				else
					for (int64_t p = 0; p < j->kc; p++)
						dst[p * GEMM_NR + q] = 0.0f;
			}
		}
	}
}


/* ---- small M: a few rows times B, memory bound, no packing ---- */

typedef struct gemv_job {
	bool trans_a, trans_b;
	int64_t m, n, k;
	float alpha, beta;
	const float *a, *b;
	int64_t lda, ldb;
	float *c;
	int64_t ldc;
} gemv_job;

static void gemv_range(void *arg, int64_t begin, int64_t end)
{
	const gemv_job *j = arg;

	for (int64_t i = 0; i < j->m; i++) {
		float *c = j->c + i * j->ldc;

		for (int64_t q = begin; q < end; q++)
			c[q] = j->beta != 0.0f ? j->beta * c[q] : 0.0f;
		for (int64_t p = 0; p < j->k; p++) {
			float av = j->alpha * (j->trans_a ? j->a[p * j->lda + i] :
							    j->a[i * j->lda + p]);

			if (j->trans_b) {
				for (int64_t q = begin; q < end; q++)
					c[q] += av * j->b[q * j->ldb + p];
			} else {
				const float *b = j->b + p * j->ldb;

				for (int64_t q = begin; q < end; q++)
					c[q] += av * b[q];
			}
		}
	}
}

typedef float v16f __attribute__((vector_size(64)));

/* Dot product in 16 lanes: strict C order would forbid vectorizing it. */
static float dot(const float *a, int64_t inc_a, const float *b, int64_t n)
{
	v16f acc = { 0 };
	float s = 0.0f, lanes[16];
	int64_t p = 0;

	if (inc_a == 1)
		for (; p + 16 <= n; p += 16) {
			v16f va, vb;

			memcpy(&va, a + p, sizeof(va));
			memcpy(&vb, b + p, sizeof(vb));
			acc += va * vb;
		}
	for (; p < n; p++)
		s += a[p * inc_a] * b[p];
	memcpy(lanes, &acc, sizeof(lanes));
	for (int i = 0; i < 16; i++)
		s += lanes[i];
	return s;
}

static void gemv_t_range(void *arg, int64_t begin, int64_t end)
{
	const gemv_job *j = arg;

	/* op(B) = B^T: each output is a dot product of contiguous rows. */
	for (int64_t i = 0; i < j->m; i++) {
		float *c = j->c + i * j->ldc;
		const float *a = j->trans_a ? j->a + i : j->a + i * j->lda;
		int64_t inc = j->trans_a ? j->lda : 1;

		for (int64_t q = begin; q < end; q++) {
			float s = dot(a, inc, j->b + q * j->ldb, j->k);

			c[q] = j->alpha * s + (j->beta != 0.0f ? j->beta * c[q] : 0.0f);
		}
	}
}

static void sgemm_small_m(threadpool *pool, const gemv_job *j)
{
	parallel_for(pool, j->n, j->trans_b ? 16 : 256,
		     j->trans_b ? gemv_t_range : gemv_range, (void *)j);
}

/*
 * ---- one row of A times a packed B ----
 * The classifier of a CNN (Gemm with M = 1 and weights packed at prepare):
 * the micro-kernel would compute 4 rows to keep 1, and it is memory bound
 * anyway. Here each sliver of B streams once, front to back, into 32
 * accumulators; four K steps in flight hide the FMA latency.
 */
typedef struct gemv_packed_job {
	int64_t n, k;
	float alpha, beta;
	const float *a;
	int64_t inc_a;
	const float *bp;
	float *c;
	const sgemm_epilogue *epi;
} gemv_packed_job;

static void gemv_packed_range(void *arg, int64_t begin, int64_t end)
{
	const gemv_packed_job *j = arg;

	for (int64_t s = begin; s < end; s++) {
		const float *b = j->bp + s * GEMM_NR * j->k;
		int64_t j0 = s * GEMM_NR, p = 0;
		int nr = j->n - j0 < GEMM_NR ? (int)(j->n - j0) : GEMM_NR;
		v16f acc[8] = { { 0 } }, bv[2];
		float sum[GEMM_NR];

		for (; p + 4 <= j->k; p += 4)
			for (int u = 0; u < 4; u++) {
				float av = j->a[(p + u) * j->inc_a];

				memcpy(bv, b + (p + u) * GEMM_NR, sizeof(bv));
				acc[2 * u] += av * bv[0];
				acc[2 * u + 1] += av * bv[1];
			}
		for (; p < j->k; p++) {
			float av = j->a[p * j->inc_a];

			memcpy(bv, b + p * GEMM_NR, sizeof(bv));
			acc[0] += av * bv[0];
			acc[1] += av * bv[1];
		}
		acc[0] += acc[2] + acc[4] + acc[6];
		acc[1] += acc[3] + acc[5] + acc[7];
		memcpy(sum, acc, sizeof(sum));
		for (int q = 0; q < nr; q++)
			j->c[j0 + q] = j->alpha * sum[q] +
				       (j->beta != 0.0f ? j->beta * j->c[j0 + q] : 0.0f);
		if (j->epi) {
			sgemm_epilogue e = *j->epi;

			if (e.z)
				e.z += j0;
			sgemm_epilogue_apply(&e, j->c + j0, 0, 1, nr, 0, j0);
		}
	}
}

static void scale_c(float *c, int64_t ldc, int64_t m, int64_t n, float beta)
{
	for (int64_t i = 0; i < m; i++)
		for (int64_t q = 0; q < n; q++)
			c[i * ldc + q] = beta != 0.0f ? beta * c[i * ldc + q] : 0.0f;
}


/* ---- runtime ISA dispatch ---- */

static const gemm_isa *const isas[] = {
#if defined(__x86_64__)
	&gemm_isa_avx512,
	&gemm_isa_avx2,
#endif
	&gemm_isa_portable,
};
#define N_ISAS ((int)(sizeof(isas) / sizeof(isas[0])))

static _Atomic(const gemm_isa *) forced_isa;

static bool isa_ok(const gemm_isa *isa)
{
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (isa == &gemm_isa_avx512)
		return __builtin_cpu_supports("avx512f") &&
		       __builtin_cpu_supports("avx512dq") &&
		       __builtin_cpu_supports("avx512bw") &&
		       __builtin_cpu_supports("avx512vl");
	if (isa == &gemm_isa_avx2)
		return __builtin_cpu_supports("avx2") &&
		       __builtin_cpu_supports("fma");
#endif
	return isa == &gemm_isa_portable;
}

/* The forced variant, else the best this CPU runs (cpuid, cached by libgcc). */
static const gemm_isa *sgemm_isa(void)
{
	const gemm_isa *f = atomic_load_explicit(&forced_isa, memory_order_relaxed);

	if (f)
		return f;
	for (int i = 0; i < N_ISAS; i++)
		if (isa_ok(isas[i]))
			return isas[i];
	return &gemm_isa_portable;
}

int sgemm_isa_count(void)
{
	return N_ISAS;
}

const char *sgemm_isa_name(int i)
{
	return i >= 0 && i < N_ISAS ? isas[i]->name : NULL;
}

bool sgemm_isa_supported(int i)
{
	return i >= 0 && i < N_ISAS && isa_ok(isas[i]);
}

accel_status sgemm_isa_force(const char *name)
{
	if (!name) {
		atomic_store(&forced_isa, NULL);
		return NULL;
	}
	for (int i = 0; i < N_ISAS; i++)
		if (!strcmp(isas[i]->name, name)) {
			if (!isa_ok(isas[i]))
				return status_unsupported("SGEMM variant '%s' on this CPU",
							  name);
			atomic_store(&forced_isa, isas[i]);
			return NULL;
		}
	return status_invalid("no SGEMM variant '%s'", name);
}

const char *sgemm_isa_active(void)
{
	return sgemm_isa()->name;
}

static accel_status sgemm_core(threadpool *pool, bool trans_a, int64_t m,
			       int64_t n, int64_t k, float alpha,
			       const float *a, int64_t lda, const float *bp,
			       const float *b, int64_t ldb, float beta,
			       float *c, int64_t ldc, const sgemm_epilogue *epi)
{
	int64_t ntask, target, threads = threadpool_size(pool);
	const gemm_isa *isa = sgemm_isa();
	gemm_job j;

	memset(&j, 0, sizeof(j));
	j.trans_a = trans_a;
	j.m = m;
	j.n = n;
	j.k = k;
	j.alpha = alpha;
	j.beta = beta;
	j.a = a;
	j.lda = lda;
	j.bp = bp;
	j.b = b;
	j.ldb = ldb;
	j.c = c;
	if (epi) {
		j.row_bias = epi->row_bias;
		j.clamp = epi->clamp;
		j.lo = epi->lo;
		j.hi = epi->hi;
		j.col_bias = epi->col_bias;
		j.z = epi->z;
		j.ldz = epi->ldz;
		if (epi->act.kind == CPU_ACT_CLAMP) {
			j.clamp = true;
			j.lo = epi->act.lo;
			j.hi = epi->act.hi;
		} else if (epi->act.kind != CPU_ACT_NONE) {
			j.act = &epi->act;
		}
	}
	j.ldc = ldc;
	/*
	 * Each row block streams all of B again. With A read in place the
	 * block may be taller than the variant's MC (nothing is packed but a
	 * last partial sliver): up to MC_DIRECT_MAX rows stream B once, e.g.
	 * a 128-token Linear layer whose weights come from memory.
	 */
	j.mc = isa->mc;
	if (!trans_a && alpha == 1.0f && m > j.mc && m <= MC_DIRECT_MAX)
		j.mc = (m + isa->mr - 1) / isa->mr * isa->mr;
	j.mblocks = (m + j.mc - 1) / j.mc;
	/*
	 * Column blocks only exist to feed threads (B streams per sliver
	 * whatever the block width); each block repacks its rows of A, so
	 * use as few as keep every thread busy.
	 */
	target = threads > 1 ? threads * 4 : 1;
	j.nc = GEMM_NR;
	while (j.mblocks * ((n + j.nc * 2 - 1) / (j.nc * 2)) >= target &&
	       j.nc < n)
		j.nc *= 2;
	ntask = j.mblocks * ((n + j.nc - 1) / j.nc);
	parallel_for(pool, ntask, 1, isa->tasks, &j);
	return NULL;
}

void sgemm_epilogue_apply(const sgemm_epilogue *epi, float *c, int64_t ldc,
			  int64_t m, int64_t n, int64_t row0, int64_t col0)
{
	cpu_act act = epi->act;

	if (epi->clamp) {
		act.kind = CPU_ACT_CLAMP;
		act.lo = epi->lo;
		act.hi = epi->hi;
	}
	for (int64_t i = 0; i < m; i++) {
		float *r = c + i * ldc;

		if (epi->row_bias)
			for (int64_t q = 0; q < n; q++)
				r[q] += epi->row_bias[row0 + i];
		if (epi->col_bias)
			for (int64_t q = 0; q < n; q++)
				r[q] += epi->col_bias[col0 + q];
		if (epi->z)
			for (int64_t q = 0; q < n; q++)
				r[q] += epi->z[i * epi->ldz + q];
		cpu_act_row(&act, r, n);
	}
}

/* The degenerate product: C = beta * C, then the epilogue. */
static void sgemm_empty(float *c, int64_t ldc, int64_t m, int64_t n,
			float beta, const sgemm_epilogue *epi)
{
	scale_c(c, ldc, m, n, beta);
	if (epi)
		sgemm_epilogue_apply(epi, c, ldc, m, n, 0, 0);
}

accel_status sgemm_packed_b(threadpool *pool, bool trans_a, int64_t m,
			    int64_t n, int64_t k, float alpha, const float *a,
			    int64_t lda, const float *bp, float beta, float *c,
			    int64_t ldc, const sgemm_epilogue *epi)
{
	if (m <= 0 || n <= 0)
		return NULL;
	if (k <= 0 || alpha == 0.0f) {
		sgemm_empty(c, ldc, m, n, beta, epi);
		return NULL;
	}
	if ((double)m * (double)n * (double)k < SMALL_GEMM)
		pool = NULL;
	if (m == 1) {
		gemv_packed_job g = { n, k, alpha, beta, a, trans_a ? lda : 1,
				      bp, c, epi };

		/* Chunks of at least ~64K multiply-adds. */
		parallel_for(pool, (n + GEMM_NR - 1) / GEMM_NR,
			     1 + 2048 / k, gemv_packed_range, &g);
		return NULL;
	}
	return sgemm_core(pool, trans_a, m, n, k, alpha, a, lda, bp, NULL, 0,
			  beta, c, ldc, epi);
}

void sgemm_pack_b(threadpool *pool, bool trans_b, int64_t n, int64_t k,
		  const float *b, int64_t ldb, float *out_bp)
{
	pack_b_job pj = { trans_b, b, ldb, n, k, out_bp };

	parallel_for(pool, (n + GEMM_NR - 1) / GEMM_NR, 4, pack_b_range, &pj);
}

accel_status sgemm_epi(threadpool *pool, bool trans_a, bool trans_b,
		       int64_t m, int64_t n, int64_t k, float alpha,
		       const float *a, int64_t lda, const float *b, int64_t ldb,
		       float beta, float *c, int64_t ldc,
		       const sgemm_epilogue *epi)
{
	accel_status st;
	float *bp;

	if (m <= 0 || n <= 0)
		return NULL;
	if (k <= 0 || alpha == 0.0f) {
		sgemm_empty(c, ldc, m, n, beta, epi);
		return NULL;
	}
	/* Waking workers costs more than a small product takes alone. */
	if ((double)m * (double)n * (double)k < SMALL_GEMM)
		pool = NULL;
	if (m < sgemm_isa()->mr / 2) {
		gemv_job g = { trans_a, trans_b, m, n, k, alpha, beta, a, b,
			       lda, ldb, c, ldc };

		sgemm_small_m(pool, &g);
		/* A few rows: a pass over them costs next to nothing. */
		if (epi)
			sgemm_epilogue_apply(epi, c, ldc, m, n, 0, 0);
		return NULL;
	}
	/*
	 * Few rows of A reuse each B element only a few times: packing B
	 * would cost as much as the product, so use it in place.
	 */
	if (!trans_b && m <= DIRECT_B_MAX_M)
		return sgemm_core(pool, trans_a, m, n, k, alpha, a, lda, NULL, b,
				  ldb, beta, c, ldc, epi);
	bp = aligned_alloc(64, (size_t)sgemm_packed_b_floats(n, k) * sizeof(float));
	if (!bp)
		return status_oom("GEMM packing buffer");
	sgemm_pack_b(pool, trans_b, n, k, b, ldb, bp);
	st = sgemm_core(pool, trans_a, m, n, k, alpha, a, lda, bp, NULL, 0,
			beta, c, ldc, epi);
	free(bp);
	return st;
}

accel_status sgemm(threadpool *pool, bool trans_a, bool trans_b, int64_t m,
		   int64_t n, int64_t k, float alpha, const float *a,
		   int64_t lda, const float *b, int64_t ldb, float beta,
		   float *c, int64_t ldc)
{
	return sgemm_epi(pool, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
			 beta, c, ldc, NULL);
}
