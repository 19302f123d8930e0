/* SPDX-License-Identifier: MIT */
/*
 * gemm.c - blocked, packed SGEMM in the style of BLIS/GotoBLAS.
 *
 * B is packed once, in parallel, into NR-wide slivers that hold all of K
 * (Conv packs its im2col blocks itself; a B with few rows of A to serve is
 * read in place). Tasks over (MC rows x NC columns) blocks then walk K in
 * KC-deep slices and run the register-tiled micro-kernel; a row-major A is
 * read in place, other A slivers are packed on the stack. Two barriers per
 * call, none per slice. alpha is folded into the packing of A; beta applies
 * on the first K slice only, later slices accumulate; an optional epilogue
 * adds a per-row bias and clamps while the tile is still in registers.
 */
#include "cpu/gemm.h"

#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define MR 12
#define NR 32
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define MR 6
#define NR 16
#else
#define MR 4
#define NR 8
#endif

#define KC 256
#define MC (MR * 10)
#define DIRECT_B_MAX_M 64
#define SMALL_GEMM (1 << 18) /* multiply-adds below which one thread works */

typedef struct gemm_job {
	bool trans_a;
	int64_t m, n, k;
	float alpha, beta;
	const float *a;
	int64_t lda;
	const float *bp; /* packed B: ceil(n/NR) slivers of k x NR */
	const float *b;	 /* or B used in place (row-major, not transposed) */
	int64_t ldb;
	const float *row_bias; /* epilogue (sgemm_packed_b_epi), may be NULL */
	bool clamp;
	float lo, hi;
	float *c;
	int64_t ldc;
	int64_t nc, mblocks;
} gemm_job;

/* ---- micro-kernels: C[MR x NR] (=|+=) A sliver * B sliver ---- */

/*
 * Row i of the A sliver at step p is a[i * rs + p * cs]: packed slivers have
 * rs 1, cs MR; a row-major A used in place has rs lda, cs 1 (as fast, and
 * it spares packing weights on every run). Likewise B's row p is at
 * b + p * bs: NR when packed, ldb when a row-major B is used in place.
 * Forced inline so the packed wrapper gets its strides as constants.
 */
#define KERNEL_ARGS int64_t kc, const float *a, int64_t rs, int64_t cs, \
	const float *b, int64_t bs, float *c, int64_t ldc, float beta, \
	const tile_epi *e

/* What a tile's store adds: per-row bias (first K slice), clamp (last). */
typedef struct tile_epi {
	const float *bias; /* bias of the tile's first row, or NULL */
	bool clamp;
	float lo, hi;
} tile_epi;
#define INLINE static inline __attribute__((always_inline))

#if defined(__AVX512F__)
INLINE void kernel_body(KERNEL_ARGS)
{
	__m512 c0a = _mm512_setzero_ps(), c0b = _mm512_setzero_ps();
	__m512 c1a = c0a, c1b = c0a, c2a = c0a, c2b = c0a, c3a = c0a, c3b = c0a;
	__m512 c4a = c0a, c4b = c0a, c5a = c0a, c5b = c0a, c6a = c0a, c6b = c0a;
	__m512 c7a = c0a, c7b = c0a, c8a = c0a, c8b = c0a, c9a = c0a, c9b = c0a;
	__m512 c10a = c0a, c10b = c0a, c11a = c0a, c11b = c0a;

	/* Four row pointers, each row at +0/+rs/+2rs: few registers. */
	const float *a0 = a, *a3 = a + 3 * rs, *a6 = a + 6 * rs, *a9 = a + 9 * rs;

	/* C is read at the end: start fetching it now. */
	for (int i = 0; i < MR && beta != 0.0f; i++) {
		_mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
		_mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
	}

	for (int64_t p = 0; p < kc; p++) {
		__m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
		__m512 av;
#define ROW(i, base, o)                                         \
	av = _mm512_set1_ps(base[(o) * rs]);                    \
	c##i##a = _mm512_fmadd_ps(av, b0, c##i##a);             \
	c##i##b = _mm512_fmadd_ps(av, b1, c##i##b);
		ROW(0, a0, 0) ROW(1, a0, 1) ROW(2, a0, 2)
		ROW(3, a3, 0) ROW(4, a3, 1) ROW(5, a3, 2)
		ROW(6, a6, 0) ROW(7, a6, 1) ROW(8, a6, 2)
		ROW(9, a9, 0) ROW(10, a9, 1) ROW(11, a9, 2)
#undef ROW
		a0 += cs;
		a3 += cs;
		a6 += cs;
		a9 += cs;
		b += bs;
	}
#define STORE(i)                                                             \
	do {                                                                 \
		float *r = c + (i) * ldc;                                    \
		if (e && e->bias) {                                          \
			__m512 bi = _mm512_set1_ps(e->bias[i]);              \
			c##i##a = _mm512_add_ps(c##i##a, bi);                \
			c##i##b = _mm512_add_ps(c##i##b, bi);                \
		}                                                            \
		if (beta != 0.0f) {                                          \
			__m512 bv = _mm512_set1_ps(beta);                    \
			c##i##a = _mm512_fmadd_ps(bv, _mm512_loadu_ps(r), c##i##a); \
			c##i##b = _mm512_fmadd_ps(bv, _mm512_loadu_ps(r + 16), c##i##b); \
		}                                                            \
		if (e && e->clamp) {                                         \
			__m512 lo = _mm512_set1_ps(e->lo), hi = _mm512_set1_ps(e->hi); \
			c##i##a = _mm512_min_ps(_mm512_max_ps(c##i##a, lo), hi); \
			c##i##b = _mm512_min_ps(_mm512_max_ps(c##i##b, lo), hi); \
		}                                                            \
		_mm512_storeu_ps(r, c##i##a);                                \
		_mm512_storeu_ps(r + 16, c##i##b);                           \
	} while (0)
	STORE(0); STORE(1); STORE(2); STORE(3); STORE(4); STORE(5);
	STORE(6); STORE(7); STORE(8); STORE(9); STORE(10); STORE(11);
#undef STORE
}
#elif defined(__AVX2__) && defined(__FMA__)
INLINE void kernel_body(KERNEL_ARGS)
{
	__m256 c0a = _mm256_setzero_ps(), c0b = c0a, c1a = c0a, c1b = c0a;
	__m256 c2a = c0a, c2b = c0a, c3a = c0a, c3b = c0a, c4a = c0a, c4b = c0a;
	__m256 c5a = c0a, c5b = c0a;

	for (int64_t p = 0; p < kc; p++, a += cs, b += bs) {
		__m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
		__m256 av;
#define ROW(i)                                                  \
	av = _mm256_broadcast_ss(a + (i) * rs);                 \
	c##i##a = _mm256_fmadd_ps(av, b0, c##i##a);             \
	c##i##b = _mm256_fmadd_ps(av, b1, c##i##b);
		ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
#undef ROW
	}
#define STORE(i)                                                             \
	do {                                                                 \
		float *r = c + (i) * ldc;                                    \
		if (e && e->bias) {                                          \
			__m256 bi = _mm256_set1_ps(e->bias[i]);              \
			c##i##a = _mm256_add_ps(c##i##a, bi);                \
			c##i##b = _mm256_add_ps(c##i##b, bi);                \
		}                                                            \
		if (beta != 0.0f) {                                          \
			__m256 bv = _mm256_set1_ps(beta);                    \
			c##i##a = _mm256_fmadd_ps(bv, _mm256_loadu_ps(r), c##i##a); \
			c##i##b = _mm256_fmadd_ps(bv, _mm256_loadu_ps(r + 8), c##i##b); \
		}                                                            \
		if (e && e->clamp) {                                         \
			__m256 lo = _mm256_set1_ps(e->lo), hi = _mm256_set1_ps(e->hi); \
			c##i##a = _mm256_min_ps(_mm256_max_ps(c##i##a, lo), hi); \
			c##i##b = _mm256_min_ps(_mm256_max_ps(c##i##b, lo), hi); \
		}                                                            \
		_mm256_storeu_ps(r, c##i##a);                                \
		_mm256_storeu_ps(r + 8, c##i##b);                            \
	} while (0)
	STORE(0); STORE(1); STORE(2); STORE(3); STORE(4); STORE(5);
#undef STORE
}
#else
INLINE void kernel_body(KERNEL_ARGS)
{
	float acc[MR][NR] = { { 0 } };

	for (int64_t p = 0; p < kc; p++, a += cs, b += bs)
		for (int i = 0; i < MR; i++)
			for (int j = 0; j < NR; j++)
				acc[i][j] += a[i * rs] * b[j];
	for (int i = 0; i < MR; i++)
		for (int j = 0; j < NR; j++) {
			float v = acc[i][j] + (e && e->bias ? e->bias[i] : 0.0f);

			v += beta != 0.0f ? beta * c[i * ldc + j] : 0.0f;
			if (e && e->clamp)
				v = v < e->lo ? e->lo : v > e->hi ? e->hi : v;
			c[i * ldc + j] = v;
		}
}
#endif

static void kernel_packed(int64_t kc, const float *a, const float *b, float *c,
			  int64_t ldc, float beta, const tile_epi *e)
{
	kernel_body(kc, a, 1, MR, b, NR, c, ldc, beta, e);
}

static void kernel_strided(int64_t kc, const float *a, int64_t rs,
			   int64_t cs, const float *b, int64_t bs, float *c,
			   int64_t ldc, float beta, const tile_epi *e)
{
	kernel_body(kc, a, rs, cs, b, bs, c, ldc, beta, e);
}

#if defined(__AVX512F__)
/* R (4 or 8) rows x NR into |tile|; R is a constant at each call. */
INLINE void kernel_rows(int64_t kc, const float *a, int64_t rs, int64_t cs,
			const float *b, int64_t bs, float *tile, int R)
{
	__m512 acc[8][2];

	for (int i = 0; i < R; i++)
		acc[i][0] = acc[i][1] = _mm512_setzero_ps();
	for (int64_t p = 0; p < kc; p++, a += cs, b += bs) {
		__m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);

		for (int i = 0; i < R; i++) {
			__m512 av = _mm512_set1_ps(a[i * rs]);

			acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
			acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
		}
	}
	for (int i = 0; i < R; i++) {
		_mm512_store_ps(tile + i * NR, acc[i][0]);
		_mm512_store_ps(tile + i * NR + 16, acc[i][1]);
	}
}
#endif

/* Edge tiles: run the full kernel into a scratch tile, then merge. */
static void kernel_edge(int64_t kc, const float *a, int64_t rs, int64_t cs,
			const float *b, int64_t bs, float *c, int64_t ldc,
			float beta, const tile_epi *e, int mr, int nr)
{
	float tile[MR * NR] __attribute__((aligned(64)));

#if defined(__AVX512F__)
	/* Few rows left (M = 64 = 5 * 12 + 4): do not compute 12. */
	if (mr <= 4)
		kernel_rows(kc, a, rs, cs, b, bs, tile, 4);
	else if (mr <= 8)
		kernel_rows(kc, a, rs, cs, b, bs, tile, 8);
	else
#endif
		kernel_strided(kc, a, rs, cs, b, bs, tile, NR, 0.0f, NULL);
	/* One simple loop per step, so each vectorizes. */
	for (int i = 0; i < mr; i++) {
		float *t = tile + i * NR, *dst = c + i * ldc;

		if (e && e->bias)
			for (int j = 0; j < nr; j++)
				t[j] += e->bias[i];
		if (beta != 0.0f)
			for (int j = 0; j < nr; j++)
				t[j] += beta * dst[j];
		if (e && e->clamp)
			for (int j = 0; j < nr; j++)
				t[j] = t[j] < e->lo ? e->lo : t[j] > e->hi ? e->hi : t[j];
		for (int j = 0; j < nr; j++)
			dst[j] = t[j];
	}
}

/* ---- packing ---- */

/*
 * Rows [i0, i0 + mr) x columns [k0, k0 + kc) of op(A), times alpha, as one
 * k-major MR-tall sliver; rows past mr are zero. Reads the mr source rows
 * side by side so the writes stay sequential.
 */
static void pack_a(const gemm_job *j, int64_t i0, int mr, int64_t k0,
		   int64_t kc, float *dst)
{
	const float *rows[MR];

	if (j->trans_a) {
		for (int64_t p = 0; p < kc; p++, dst += MR) {
			const float *src = j->a + (k0 + p) * j->lda + i0;
			int i;

			for (i = 0; i < mr; i++)
				dst[i] = j->alpha * src[i];
			for (; i < MR; i++)
				dst[i] = 0.0f;
		}
		return;
	}
	for (int i = 0; i < mr; i++)
		rows[i] = j->a + (i0 + i) * j->lda + k0;
	if (mr == MR && j->alpha == 1.0f) {
		for (int64_t p = 0; p < kc; p++, dst += MR)
			for (int i = 0; i < MR; i++)
				dst[i] = rows[i][p];
		return;
	}
	for (int64_t p = 0; p < kc; p++, dst += MR) {
		int i;

		for (i = 0; i < mr; i++)
			dst[i] = j->alpha * rows[i][p];
		for (; i < MR; i++)
			dst[i] = 0.0f;
	}
}

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
		int64_t j0 = s * NR;
		int nr = j->n - j0 < NR ? (int)(j->n - j0) : NR;
		float *dst = j->dst + s * NR * j->kc;

		if (!j->trans_b) {
			for (int64_t p = 0; p < j->kc; p++) {
				const float *src = j->b + p * j->ldb + j0;
				float *d = dst + p * NR;
				int q;

				for (q = 0; q < nr; q++)
					d[q] = src[q];
				for (; q < NR; q++)
					d[q] = 0.0f;
			}
		} else {
			for (int q = 0; q < NR; q++) {
				const float *src = j->b + (j0 + q) * j->ldb;

				if (q < nr)
					for (int64_t p = 0; p < j->kc; p++)
						dst[p * NR + q] = src[p];
				else
					for (int64_t p = 0; p < j->kc; p++)
						dst[p * NR + q] = 0.0f;
			}
		}
	}
}

/* ---- compute tasks ---- */

/* Pointer to B's sliver at (k0, col) and its row stride. */
static const float *b_sliver(const gemm_job *j, int64_t k0, int64_t col,
			     int nr, float *edge, int64_t kc, int64_t *bs)
{
	if (!j->b) {
		*bs = NR;
		return j->bp + (col / NR) * NR * j->k + k0 * NR;
	}
	if (nr == NR) {
		*bs = j->ldb;
		return j->b + k0 * j->ldb + col;
	}
	/* A partial sliver of an in-place B: pack it, reads past n would fault. */
	for (int64_t p = 0; p < kc; p++)
		for (int q = 0; q < NR; q++)
			edge[p * NR + q] = q < nr ? j->b[(k0 + p) * j->ldb + col + q] :
						    0.0f;
	*bs = NR;
	return edge;
}

static void gemm_tasks(void *arg, int64_t begin, int64_t end)
{
	const gemm_job *j = arg;
	float apack[MC * KC] __attribute__((aligned(64)));
	float edge[KC * NR] __attribute__((aligned(64)));
	bool direct = !j->trans_a && j->alpha == 1.0f;

	for (int64_t t = begin; t < end; t++) {
		int64_t i0 = (t % j->mblocks) * MC;
		int64_t jb0 = (t / j->mblocks) * j->nc;
		int64_t mc = j->m - i0 < MC ? j->m - i0 : MC;
		int64_t nc = j->n - jb0 < j->nc ? j->n - jb0 : j->nc;

		for (int64_t k0 = 0; k0 < j->k; k0 += KC) {
			int64_t kc = j->k - k0 < KC ? j->k - k0 : KC;
			float beta = k0 == 0 ? j->beta : 1.0f;
			tile_epi e = { NULL, j->clamp && k0 + kc >= j->k,
				       j->lo, j->hi };
			bool use_e = e.clamp || (k0 == 0 && j->row_bias);

			/* Only slivers that cannot be used in place get packed. */
			for (int64_t ir = 0; ir < mc; ir += MR) {
				int mr = mc - ir < MR ? (int)(mc - ir) : MR;

				if (!direct || mr < MR)
					pack_a(j, i0 + ir, mr, k0, kc, apack + ir * kc);
			}
			for (int64_t jr = 0; jr < nc; jr += NR) {
				int64_t col = jb0 + jr, bs;
				int nr = nc - jr < NR ? (int)(nc - jr) : NR;
				const float *bsl = b_sliver(j, k0, col, nr, edge, kc,
							    &bs);

				for (int64_t ir = 0; ir < mc; ir += MR) {
					int mr = mc - ir < MR ? (int)(mc - ir) : MR;
					float *c = j->c + (i0 + ir) * j->ldc + col;
					bool inplace = direct && mr == MR;
					const float *as = inplace ?
						j->a + (i0 + ir) * j->lda + k0 :
						apack + ir * kc;
					int64_t rs = inplace ? j->lda : 1;
					int64_t cs = inplace ? 1 : MR;
					const tile_epi *ep = use_e ? &e : NULL;

					if (k0 == 0 && j->row_bias)
						e.bias = j->row_bias + i0 + ir;
					if (mr < MR || nr < NR)
						kernel_edge(kc, as, rs, cs, bsl, bs, c,
							    j->ldc, beta, ep, mr, nr);
					else if (inplace || bs != NR)
						kernel_strided(kc, as, rs, cs, bsl, bs,
							       c, j->ldc, beta, ep);
					else
						kernel_packed(kc, as, bsl, c, j->ldc,
							      beta, ep);
				}
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

static void scale_c(float *c, int64_t ldc, int64_t m, int64_t n, float beta)
{
	for (int64_t i = 0; i < m; i++)
		for (int64_t q = 0; q < n; q++)
			c[i * ldc + q] = beta != 0.0f ? beta * c[i * ldc + q] : 0.0f;
}

_Static_assert(NR == SGEMM_NR, "gemm.h and gemm.c disagree on NR");

static accel_status sgemm_core(threadpool *pool, bool trans_a, int64_t m,
			       int64_t n, int64_t k, float alpha,
			       const float *a, int64_t lda, const float *bp,
			       const float *b, int64_t ldb, float beta,
			       float *c, int64_t ldc, const sgemm_epilogue *epi)
{
	int64_t ntask, target, threads = threadpool_size(pool);
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
	}
	j.ldc = ldc;
	j.mblocks = (m + MC - 1) / MC;
	/*
	 * Column blocks only exist to feed threads (B streams per sliver
	 * whatever the block width); each block repacks its rows of A, so
	 * use as few as keep every thread busy.
	 */
	target = threads > 1 ? threads * 4 : 1;
	j.nc = NR;
	while (j.mblocks * ((n + j.nc * 2 - 1) / (j.nc * 2)) >= target &&
	       j.nc < n)
		j.nc *= 2;
	ntask = j.mblocks * ((n + j.nc - 1) / j.nc);
	parallel_for(pool, ntask, 1, gemm_tasks, &j);
	return NULL;
}

accel_status sgemm_packed_b(threadpool *pool, bool trans_a, int64_t m,
			    int64_t n, int64_t k, float alpha, const float *a,
			    int64_t lda, const float *bp, float beta, float *c,
			    int64_t ldc, const sgemm_epilogue *epi)
{
	if (m <= 0 || n <= 0)
		return NULL;
	if (k <= 0 || alpha == 0.0f) {
		scale_c(c, ldc, m, n, beta);
		return NULL;
	}
	if ((double)m * (double)n * (double)k < SMALL_GEMM)
		pool = NULL;
	return sgemm_core(pool, trans_a, m, n, k, alpha, a, lda, bp, NULL, 0,
			  beta, c, ldc, epi);
}

accel_status sgemm(threadpool *pool, bool trans_a, bool trans_b, int64_t m,
		   int64_t n, int64_t k, float alpha, const float *a,
		   int64_t lda, const float *b, int64_t ldb, float beta,
		   float *c, int64_t ldc)
{
	accel_status st;
	pack_b_job pj;
	float *bp;

	if (m <= 0 || n <= 0)
		return NULL;
	if (k <= 0 || alpha == 0.0f) {
		scale_c(c, ldc, m, n, beta);
		return NULL;
	}
	/* Waking workers costs more than a small product takes alone. */
	if ((double)m * (double)n * (double)k < SMALL_GEMM)
		pool = NULL;
	if (m < MR / 2) {
		gemv_job g = { trans_a, trans_b, m, n, k, alpha, beta, a, b,
			       lda, ldb, c, ldc };

		sgemm_small_m(pool, &g);
		return NULL;
	}
	/*
	 * Few rows of A reuse each B element only a few times: packing B
	 * would cost as much as the product, so use it in place.
	 */
	if (!trans_b && m <= DIRECT_B_MAX_M)
		return sgemm_core(pool, trans_a, m, n, k, alpha, a, lda, NULL, b,
				  ldb, beta, c, ldc, NULL);
	bp = aligned_alloc(64, (size_t)sgemm_packed_b_floats(n, k) * sizeof(float));
	if (!bp)
		return status_oom("GEMM packing buffer");
	pj.trans_b = trans_b;
	pj.b = b;
	pj.ldb = ldb;
	pj.n = n;
	pj.kc = k;
	pj.dst = bp;
	parallel_for(pool, (n + NR - 1) / NR, 4, pack_b_range, &pj);
	st = sgemm_core(pool, trans_a, m, n, k, alpha, a, lda, bp, NULL, 0,
			beta, c, ldc, NULL);
	free(bp);
	return st;
}
