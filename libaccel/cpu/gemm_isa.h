/* SPDX-License-Identifier: MIT */
/*
 * gemm_isa.h - the SGEMM micro-kernels and the blocked loop around them,
 * a template included once per instruction set by gemm_avx512.c,
 * gemm_avx2.c and gemm_portable.c (GEMM_KIND 2, 1, 0), each compiled with
 * its own target pragma; gemm.c picks one at run time (cpuid). B's packed
 * sliver width NR is 32 for every variant, so packed weights and Conv's
 * im2col blocks do not depend on the variant; MR does:
 *
 *   avx512    12 x 32 tile, 24 zmm accumulators
 *   avx2       6 x 32 tile as two 6 x 16 halves (12 ymm accumulators)
 *   portable   4 x 32 tile in plain C, vectorized by the compiler
 */
#include "cpu/gemm_internal.h"

#if GEMM_KIND == 2
#include <immintrin.h>
#define MR 12
#elif GEMM_KIND == 1
#include <immintrin.h>
#define MR 6
#else
#define MR 4
#endif
#define NR GEMM_NR
#define MC (MR * 10)

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

/* The non-clamp activation over a stored mr x nr tile (hot in L1). */
static void tile_act(const tile_epi *e, float *c, int64_t ldc, int mr, int nr)
{
	for (int i = 0; i < mr; i++)
		cpu_act_row(e->act, c + i * ldc, nr);
}
#define INLINE static inline __attribute__((always_inline))

#if GEMM_KIND == 2
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
		/* B may come from memory (weights): fetch 16 steps ahead. */
		_mm_prefetch((const char *)(b + 16 * bs), _MM_HINT_T0);
		_mm_prefetch((const char *)(b + 16 * bs + 16), _MM_HINT_T0);
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
		if (e && e->cbias) {                                         \
			c##i##a = _mm512_add_ps(c##i##a, _mm512_loadu_ps(e->cbias)); \
			c##i##b = _mm512_add_ps(c##i##b, _mm512_loadu_ps(e->cbias + 16)); \
		}                                                            \
		if (e && e->z) {                                             \
			const float *zr = e->z + (i) * e->ldz;               \
			c##i##a = _mm512_add_ps(c##i##a, _mm512_loadu_ps(zr)); \
			c##i##b = _mm512_add_ps(c##i##b, _mm512_loadu_ps(zr + 16)); \
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
	if (e && e->act)
		tile_act(e, c, ldc, MR, NR);
}
#elif GEMM_KIND == 1
INLINE void kernel_half(KERNEL_ARGS)
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
		if (e && e->cbias) {                                         \
			c##i##a = _mm256_add_ps(c##i##a, _mm256_loadu_ps(e->cbias)); \
			c##i##b = _mm256_add_ps(c##i##b, _mm256_loadu_ps(e->cbias + 8)); \
		}                                                            \
		if (e && e->z) {                                             \
			const float *zr = e->z + (i) * e->ldz;               \
			c##i##a = _mm256_add_ps(c##i##a, _mm256_loadu_ps(zr)); \
			c##i##b = _mm256_add_ps(c##i##b, _mm256_loadu_ps(zr + 8)); \
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
	if (e && e->act)
		tile_act(e, c, ldc, MR, 16);
}

/* 32 columns as two 16-wide halves: 16 ymm registers hold one 6 x 16. */
INLINE void kernel_body(KERNEL_ARGS)
{
	tile_epi e2;

	kernel_half(kc, a, rs, cs, b, bs, c, ldc, beta, e);
	if (e) {
		e2 = *e;
		e2.cbias = e->cbias ? e->cbias + 16 : NULL;
		e2.z = e->z ? e->z + 16 : NULL;
		e = &e2;
	}
	kernel_half(kc, a, rs, cs, b + 16, bs, c + 16, ldc, beta, e);
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
			if (e && e->cbias)
				v += e->cbias[j];
			if (e && e->z)
				v += e->z[i * e->ldz + j];
			if (e && e->clamp)
				v = v < e->lo ? e->lo : v > e->hi ? e->hi : v;
			c[i * ldc + j] = v;
		}
	if (e && e->act)
		tile_act(e, c, ldc, MR, NR);
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

#if GEMM_KIND == 2
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

#if GEMM_KIND == 2
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
		if (e && e->cbias)
			for (int j = 0; j < nr; j++)
				t[j] += e->cbias[j];
		if (e && e->z)
			for (int j = 0; j < nr; j++)
				t[j] += e->z[i * e->ldz + j];
		if (e && e->clamp)
			for (int j = 0; j < nr; j++)
				t[j] = t[j] < e->lo ? e->lo : t[j] > e->hi ? e->hi : t[j];
		if (e && e->act)
			cpu_act_row(e->act, t, nr);
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
		int64_t i0 = (t % j->mblocks) * j->mc;
		int64_t jb0 = (t / j->mblocks) * j->nc;
		int64_t mc = j->m - i0 < j->mc ? j->m - i0 : j->mc;
		int64_t nc = j->n - jb0 < j->nc ? j->n - jb0 : j->nc;

		for (int64_t k0 = 0; k0 < j->k; k0 += KC) {
			int64_t kc = j->k - k0 < KC ? j->k - k0 : KC;
			float beta = k0 == 0 ? j->beta : 1.0f;
			bool last = k0 + kc >= j->k;
			tile_epi e = { NULL, j->clamp && last, j->lo, j->hi,
				       NULL, NULL, j->ldz, last ? j->act : NULL };
			bool use_e = e.clamp || e.act || (k0 == 0 && j->row_bias) ||
				     (last && (j->col_bias || j->z));

			/* Only slivers that cannot be used in place get packed. */
			for (int64_t ir = 0; ir < mc; ir += MR) {
				int mr = mc - ir < MR ? (int)(mc - ir) : MR;

				/* In place, only a last partial sliver is packed: at 0. */
				if (!direct || mr < MR)
					pack_a(j, i0 + ir, mr, k0, kc,
					       apack + (direct ? 0 : ir * kc));
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
						apack + (direct ? 0 : ir * kc);
					int64_t rs = inplace ? j->lda : 1;
					int64_t cs = inplace ? 1 : MR;
					const tile_epi *ep = use_e ? &e : NULL;

					if (k0 == 0 && j->row_bias)
						e.bias = j->row_bias + i0 + ir;
					if (last && j->col_bias)
						e.cbias = j->col_bias + col;
					if (last && j->z)
						e.z = j->z + (i0 + ir) * j->ldz + col;
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

const gemm_isa GEMM_ISA_NAME = { GEMM_ISA_STR, MR, MC, gemm_tasks };
