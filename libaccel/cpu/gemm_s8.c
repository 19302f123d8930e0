/* SPDX-License-Identifier: MIT */
/*
 * gemm_s8.c - blocked int8 GEMM (gemm_s8.h): B packing, the loop around
 * the micro-kernels, the zero-point corrections and the runtime choice of
 * variant.
 *
 * Everything is moved into vpdpbusd's u8 x s8 domain first: an int8 A gets
 * +128 (a ^ 0x80), a uint8 B gets -128 (b ^ 0x80), and the zero points
 * shift by the same amounts, so (a - za)(b - zb) is unchanged. With
 * za', zb' the shifted zero points, rs_i the sums of A's row i and cs_j
 * those of B's column j (shifted values),
 *
 *   C_ij = sum_p a'_ip b'_pj - zb'_j rs_i - za'_i cs_j + K za'_i zb'_j
 *
 * computed in uint32 so that overflow wraps as int32 arithmetic would.
 * A is packed once per call (summing its rows on the way); tasks over
 * (MC rows x NC columns) blocks then walk K in KC-deep slices and apply the
 * corrections to their block once the last slice is done.
 */
#include "cpu/gemm_s8.h"
#include "core/status.h"

#include <cpuid.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define NR S8GEMM_NR
#define KC 256	  /* K per slice, a multiple of 4 */
#define NC 512	  /* columns per task block */
#define MR_MAX 12 /* the tallest variant's tile */
#define MC_TILES 8
#define SMALL_OPS (1 << 17) /* multiply-adds below which one thread works */

static int64_t round4(int64_t k)
{
	return (k + 3) & ~(int64_t)3;
}

/* ---- runtime dispatch ---- */

static const s8gemm_isa *const isas[] = {
#if defined(__x86_64__)
	&s8gemm_isa_vnni512,
	&s8gemm_isa_avxvnni,
#endif
	&s8gemm_isa_portable,
};
#define N_ISAS ((int)(sizeof(isas) / sizeof(isas[0])))

enum { CPU_VNNI512 = 1, CPU_AVXVNNI = 2, CPU_KNOWN = 4 };
static atomic_int cpu_bits;
static _Atomic(const s8gemm_isa *) forced_isa;

#if defined(__x86_64__)
/* XCR0: which register state the OS saves on context switches. */
static uint64_t xcr0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

static int detect(void)
{
	unsigned a, b, c, d, a1 = 0, b1, c1, d1;
	int bits = CPU_KNOWN;
	uint64_t x;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) ||
	    !(c & bit_AVX))
		return bits;
	x = xcr0();
	if ((x & 0x6) != 0x6) /* SSE and AVX (ymm) state */
		return bits;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return bits;
	__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1);
	if ((b & bit_AVX2) && (a1 & bit_AVXVNNI))
		bits |= CPU_AVXVNNI;
	/* opmask, upper halves of zmm0-15, zmm16-31 */
	if ((x & 0xe0) == 0xe0 && (b & bit_AVX512F) && (b & bit_AVX512BW) &&
	    (b & bit_AVX512VL) && (c & bit_AVX512VNNI))
		bits |= CPU_VNNI512;
	return bits;
}
#else
static int detect(void)
{
	return CPU_KNOWN;
}
#endif

static bool isa_ok(const s8gemm_isa *isa)
{
	int bits = atomic_load_explicit(&cpu_bits, memory_order_relaxed);

	if (!bits) {
		bits = detect();
		atomic_store_explicit(&cpu_bits, bits, memory_order_relaxed);
	}
#if defined(__x86_64__)
	if (isa == &s8gemm_isa_vnni512)
		return bits & CPU_VNNI512;
	if (isa == &s8gemm_isa_avxvnni)
		return bits & CPU_AVXVNNI;
#endif
	return isa == &s8gemm_isa_portable;
}

static const s8gemm_isa *pick_isa(void)
{
	const s8gemm_isa *f = atomic_load_explicit(&forced_isa,
						   memory_order_relaxed);

	if (f)
		return f;
	for (int i = 0; i < N_ISAS; i++)
		if (isa_ok(isas[i]))
			return isas[i];
	return &s8gemm_isa_portable;
}

int s8gemm_isa_count(void)
{
	return N_ISAS;
}

const char *s8gemm_isa_name(int i)
{
	return i >= 0 && i < N_ISAS ? isas[i]->name : NULL;
}

bool s8gemm_isa_supported(int i)
{
	return i >= 0 && i < N_ISAS && isa_ok(isas[i]);
}

accel_status s8gemm_isa_force(const char *name)
{
	if (!name) {
		atomic_store(&forced_isa, NULL);
		return NULL;
	}
	for (int i = 0; i < N_ISAS; i++)
		if (!strcmp(isas[i]->name, name)) {
			if (!isa_ok(isas[i]))
				return status_unsupported("int8 GEMM variant '%s': not supported by this CPU",
							  name);
			atomic_store(&forced_isa, isas[i]);
			return NULL;
		}
	return status_invalid("int8 GEMM variant '%s': no such variant", name);
}

const char *s8gemm_isa_active(void)
{
	return pick_isa()->name;
}

/* ---- packing B ---- */

typedef struct pack_job {
	bool b_signed;
	const uint8_t *b;
	int64_t ldb;
	s8gemm_packed *bp;
} pack_job;

static void pack_b_range(void *arg, int64_t begin, int64_t end)
{
	const pack_job *j = arg;
	const s8gemm_packed *bp = j->bp;
	uint8_t flip = j->b_signed ? 0 : 0x80, pad[NR];

	/* Rows past k read |pad|, which the flip turns into zeros. */
	memset(pad, flip, sizeof(pad));
	for (int64_t s = begin; s < end; s++) {
		int64_t j0 = s * NR;
		int nr = bp->n - j0 < NR ? (int)(bp->n - j0) : NR;
		int8_t *dst = bp->data + s * NR * bp->kp;
		int32_t cs[NR] = { 0 };

		/* Four rows at a time into one 32-bit word per column. */
		for (int64_t p = 0; p < bp->k; p += 4, dst += NR * 4) {
			const uint8_t *r[4];
			uint32_t w[NR] = { 0 };

			for (int u = 0; u < 4; u++)
				r[u] = p + u < bp->k ? j->b + (p + u) * j->ldb + j0 :
						       pad;
			for (int q = 0; q < nr; q++) {
				int8_t v0 = (int8_t)(r[0][q] ^ flip);
				int8_t v1 = (int8_t)(r[1][q] ^ flip);
				int8_t v2 = (int8_t)(r[2][q] ^ flip);
				int8_t v3 = (int8_t)(r[3][q] ^ flip);

				w[q] = (uint32_t)(uint8_t)v0 |
				       (uint32_t)(uint8_t)v1 << 8 |
				       (uint32_t)(uint8_t)v2 << 16 |
				       (uint32_t)(uint8_t)v3 << 24;
				cs[q] += v0 + v1 + v2 + v3;
			}
			memcpy(dst, w, sizeof(w));
		}
		for (int q = 0; q < nr; q++)
			bp->colsum[j0 + q] = cs[q];
	}
}

accel_status s8gemm_pack_b(threadpool *pool, bool b_signed, int64_t k,
			   int64_t n, const void *b, int64_t ldb,
			   s8gemm_packed **out_bp)
{
	int64_t slivers = (n + NR - 1) / NR;
	s8gemm_packed *bp = calloc(1, sizeof(*bp));
	pack_job j = { b_signed, b, ldb, bp };

	*out_bp = NULL;
	if (!bp)
		return status_oom("packed int8 B");
	bp->k = k;
	bp->n = n;
	bp->kp = round4(k);
	bp->b_shift = b_signed ? 0 : 128;
	bp->data = aligned_alloc(64, (size_t)(slivers * NR * bp->kp) + 64);
	bp->colsum = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
	if (!bp->data || !bp->colsum) {
		s8gemm_packed_free(bp);
		return status_oom("packed int8 B");
	}
	parallel_for(pool, slivers, 1 + (1 << 14) / (NR * bp->kp + 1),
		     pack_b_range, &j);
	*out_bp = bp;
	return NULL;
}

void s8gemm_packed_free(s8gemm_packed *bp)
{
	if (!bp)
		return;
	free(bp->data);
	free(bp->colsum);
	free(bp);
}

/* ---- the blocked loop ---- */

typedef struct s8_job {
	const s8gemm_args *a;
	const s8gemm_packed *bp;
	const s8gemm_isa *isa;
	uint8_t *ap;	 /* A packed: ceil(m / mr) slivers of kp / 4 groups */
	uint32_t *rs;	 /* A's row sums (shifted values) */
	int64_t kp, mc, mblocks;
	int32_t a_shift;
} s8_job;

/*
 * A's rows [s * mr, s * mr + mr) as one sliver of kp/4 groups of mr x 4
 * uint8 (shifted), four bytes at a time; zero past m and past K. Also sums
 * each row.
 */
static void pack_a_range(void *arg, int64_t begin, int64_t end)
{
	const s8_job *j = arg;
	const s8gemm_args *a = j->a;
	int mr = j->isa->mr;
	uint32_t flip = a->a_signed ? 0x80808080u : 0;
	int64_t kfull = a->k & ~(int64_t)3;

	for (int64_t s = begin; s < end; s++) {
		uint8_t *dst = j->ap + s * mr * j->kp;

		for (int i = 0; i < mr; i++) {
			int64_t row = s * mr + i;
			const uint8_t *src = (const uint8_t *)a->a + row * a->lda;
			uint8_t *d = dst + 4 * i;
			uint32_t sum = 0;
			int64_t p;

			if (row >= a->m) {
				for (p = 0; p < j->kp; p += 4)
					memset(d + p * mr, 0, 4);
				continue;
			}
			for (p = 0; p < kfull; p += 4) {
				uint32_t v;

				memcpy(&v, src + p, 4);
				v ^= flip;
				memcpy(d + p * mr, &v, 4);
				/* Four bytes summed without unpacking each. */
				v = (v & 0x00ff00ffu) + ((v >> 8) & 0x00ff00ffu);
				sum += (v & 0xffffu) + (v >> 16);
			}
			if (p < a->k) {
				uint8_t t[4] = { 0 };

				for (int u = 0; p + u < a->k; u++) {
					t[u] = src[p + u] ^ (uint8_t)flip;
					sum += t[u];
				}
				memcpy(d + p * mr, t, 4);
			}
			j->rs[row] = sum;
		}
	}
}

static int32_t zp_at(const int32_t *zp, int64_t n, int64_t i)
{
	return n == 0 ? 0 : zp[n == 1 ? 0 : i];
}

/* The zero-point corrections over rows [i0, i0 + mc) x cols [j0, j0 + nc). */
static void correct(const s8_job *j, int64_t i0, int64_t mc, int64_t j0,
		    int64_t nc)
{
	const s8gemm_args *a = j->a;
	const s8gemm_packed *bp = j->bp;
	uint32_t k = (uint32_t)a->k;

	if (!a->a_zp_n && !a->b_zp_n && !j->a_shift && !bp->b_shift)
		return;
	for (int64_t i = i0; i < i0 + mc; i++) {
		uint32_t za = (uint32_t)zp_at(a->a_zp, a->a_zp_n, i) +
			      (uint32_t)j->a_shift;
		uint32_t *c = (uint32_t *)a->c + i * a->ldc;

		for (int64_t q = j0; q < j0 + nc; q++) {
			uint32_t zb = (uint32_t)zp_at(a->b_zp, a->b_zp_n, q) -
				      (uint32_t)bp->b_shift;

			c[q] += k * za * zb - zb * j->rs[i] -
				za * (uint32_t)bp->colsum[q];
		}
	}
}

/* An edge tile: the full tile into scratch, then its mr x nr corner. */
static void edge_tile(const s8_job *j, int64_t kg, const uint8_t *as,
		      const int8_t *bs, int32_t *c, int mr, int nr, bool acc)
{
	int32_t tile[MR_MAX * NR] __attribute__((aligned(64)));
	int64_t ldc = j->a->ldc;

	j->isa->kernel(kg, as, bs, tile, NR, false);
	for (int i = 0; i < mr; i++)
		for (int q = 0; q < nr; q++) {
			int32_t *d = c + i * ldc + q;

			*d = acc ? (int32_t)((uint32_t)*d + (uint32_t)tile[i * NR + q]) :
				   tile[i * NR + q];
		}
}

static void s8_tasks(void *arg, int64_t begin, int64_t end)
{
	const s8_job *j = arg;
	const s8gemm_args *a = j->a;
	const s8gemm_packed *bp = j->bp;
	int mr_full = j->isa->mr;

	for (int64_t t = begin; t < end; t++) {
		int64_t i0 = (t % j->mblocks) * j->mc;
		int64_t jb0 = (t / j->mblocks) * NC;
		int64_t mc = a->m - i0 < j->mc ? a->m - i0 : j->mc;
		int64_t nc = a->n - jb0 < NC ? a->n - jb0 : NC;

		for (int64_t k0 = 0; k0 < j->kp || k0 == 0; k0 += KC) {
			int64_t kg = (j->kp - k0 < KC ? j->kp - k0 : KC) / 4;
			bool acc = k0 > 0;

			for (int64_t jr = 0; jr < nc; jr += NR) {
				int64_t col = jb0 + jr;
				int nr = nc - jr < NR ? (int)(nc - jr) : NR;
				const int8_t *bs = bp->data + col * bp->kp +
						   k0 * NR;

				for (int64_t ir = 0; ir < mc; ir += mr_full) {
					int mr = mc - ir < mr_full ? (int)(mc - ir) :
								     mr_full;
					int32_t *c = a->c + (i0 + ir) * a->ldc + col;
					const uint8_t *as = j->ap + (i0 + ir) * j->kp +
							    k0 * mr_full;

					if (mr == mr_full && nr == NR)
						j->isa->kernel(kg, as, bs, c, a->ldc,
							       acc);
					else
						edge_tile(j, kg, as, bs, c, mr, nr,
							  acc);
				}
			}
			if (kg == 0)
				break;
		}
		correct(j, i0, mc, jb0, nc);
	}
}

accel_status s8gemm_run(threadpool *pool, const s8gemm_args *args,
			const s8gemm_packed *bp)
{
	s8_job j = { args, bp, pick_isa() };
	int64_t nblocks, ntask, slivers, mr;

	if (bp->k != args->k || bp->n != args->n)
		return status_invalid("int8 GEMM: packed B is %lld x %lld, expected %lld x %lld",
				      (long long)bp->k, (long long)bp->n,
				      (long long)args->k, (long long)args->n);
	if (args->m <= 0 || args->n <= 0)
		return NULL;
	mr = j.isa->mr;
	j.a_shift = args->a_signed ? 128 : 0;
	j.kp = bp->kp;
	slivers = (args->m + mr - 1) / mr;
	j.ap = aligned_alloc(64, (size_t)((slivers * mr * j.kp + 63) / 64 * 64 + 64));
	j.rs = malloc(sizeof(uint32_t) * (size_t)args->m);
	if (!j.ap || !j.rs) {
		free(j.ap);
		free(j.rs);
		return status_oom("int8 GEMM packed A");
	}
	j.mc = mr * MC_TILES;
	if (args->m < j.mc) /* one row block, rounded to whole tiles */
		j.mc = slivers * mr;
	j.mblocks = (args->m + j.mc - 1) / j.mc;
	nblocks = (args->n + NC - 1) / NC;
	ntask = j.mblocks * nblocks;
	if (args->m * args->n * args->k < SMALL_OPS)
		pool = NULL;
	parallel_for(pool, slivers, 1 + 4096 / (mr * j.kp + 1), pack_a_range,
		     &j);
	parallel_for(pool, ntask, 1, s8_tasks, &j);
	free(j.ap);
	free(j.rs);
	return NULL;
}

accel_status s8gemm(threadpool *pool, const s8gemm_args *args, bool b_signed,
		    const void *b, int64_t ldb)
{
	s8gemm_packed *bp;
	accel_status st;

	ACCEL_TRY(s8gemm_pack_b(pool, b_signed, args->k, args->n, b, ldb, &bp));
	st = s8gemm_run(pool, args, bp);
	s8gemm_packed_free(bp);
	return st;
}
