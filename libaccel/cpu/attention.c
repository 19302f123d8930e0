/* SPDX-License-Identifier: MIT */
/*
 * attention.c - the CPU kernel of com.accel FusedAttention (contract in
 * ops/fused.c, made by passes/fuse_attention.c):
 *
 *   Y = Transpose(softmax(scale * q @ k + mask) @ v, perm_out)
 *
 * with q, k, v the inputs read through their perm_* as strided views, so
 * the head split/merge Transposes of exported models are never copied.
 * Work is split over (batch, block of query rows): a task packs its k
 * once, then per slice of rows computes the scores with the SGEMM into a
 * block that stays in cache, adds the mask, runs a vectorized,
 * max-subtracted softmax in place, multiplies by v straight into Y and
 * scales each row by 1/sum there. The [.., Sq, Sk] scores tensor never
 * exists.
 */
#include "cpu/act.h"
#include "cpu/gemm.h"
#include "cpu/kernel.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/*
 * Query rows per SGEMM pair: the SGEMM reads v in place up to 64 rows
 * (DIRECT_B_MAX_M in gemm.c) instead of packing it.
 */
#define ATTN_SLICE 64

/*
 * A logical [batch..., rows, cols] view of a contiguous tensor: element
 * strides of every logical axis (0 where the axis broadcasts).
 */
typedef struct attn_view {
	const float *data;
	int64_t dims[ACCEL_MAX_RANK];
	int64_t st[ACCEL_MAX_RANK];
} attn_view;

typedef struct attn_job {
	attn_view q, k, v, y, mask;
	bool has_mask;
	bool trans[3];	/* q, k, v: the SGEMM reads it transposed */
	int64_t ld[3];	/* and its leading dimension */
	int rank;
	int64_t sq, sk, d, dv, rb, nrb;
	/*
	 * scale = alpha * post: alpha in the SGEMM, post applied with the mask
	 * or inside the softmax's exp (post > 0), so that the SGEMM runs with
	 * alpha 1 and reads q in place.
	 */
	float alpha, post;
	atomic_bool failed;
} attn_job;

static accel_status perm_of(const ir_node *node, const char *name, int rank,
			    int64_t *perm)
{
	size_t n;
	const int64_t *p = ir_attr_ints(node, name, &n);
	bool seen[ACCEL_MAX_RANK] = { false };

	if (p && n != (size_t)rank)
		return status_invalid("attribute '%s' has %zu values, rank is %d",
				      name, n, rank);
	for (int i = 0; i < rank; i++) {
		perm[i] = p ? p[i] : i;
		if (perm[i] < 0 || perm[i] >= rank || seen[perm[i]])
			return status_invalid("attribute '%s' is not a permutation",
					      name);
		seen[perm[i]] = true;
	}
	return NULL;
}

/* |t| seen through Transpose(perm): dims and strides of each logical axis. */
static void view_of(const accel_tensor *t, const int64_t *perm, attn_view *v)
{
	int64_t st[ACCEL_MAX_RANK], s = 1;

	for (int i = t->rank - 1; i >= 0; i--) {
		st[i] = s;
		s *= t->dims[i];
	}
	v->data = t->data;
	for (int i = 0; i < t->rank; i++) {
		v->dims[i] = t->dims[perm[i]];
		v->st[i] = st[perm[i]];
	}
}

/*
 * An operand of the SGEMM: row-major with leading dimension *ld, or its
 * transpose. False when neither axis is contiguous.
 */
static bool gemm_operand(const attn_view *v, int r, bool *trans, int64_t *ld)
{
	int64_t rows = v->dims[r - 2], cols = v->dims[r - 1];
	int64_t rs = v->st[r - 2], cs = v->st[r - 1];

	if (cs == 1 || cols == 1) {
		*trans = false;
		*ld = rows > 1 ? rs : (cols > 0 ? cols : 1);
		return rows <= 1 || rs >= cols;
	}
	if (rs == 1 || rows == 1) {
		*trans = true;
		*ld = cs;
		return cs >= rows;
	}
	return false;
}

/* Offset of batch |b| (row-major over the leading rank - 2 axes) in |v|. */
static int64_t batch_offset(const attn_view *v, int r, int64_t b)
{
	int64_t off = 0;

	for (int i = r - 3; i >= 0; i--) {
		int64_t n = v->dims[i] > 0 ? v->dims[i] : 1;

		off += b % n * v->st[i];
		b /= n;
	}
	return off;
}

/* s[i] = c * s[i] + m[i * inc]; inc 0 or 1 vectorized. */
static void add_mask(float *s, float c, const float *m, int64_t inc, int64_t n)
{
	int64_t i = 0;

	if (inc == 1) {
		for (; i + 16 <= n; i += 16) {
			act_v16 a, b;

			memcpy(&a, s + i, sizeof(a));
			memcpy(&b, m + i, sizeof(b));
			a = act_fma(a, (act_v16){ 0 } + c, b);
			memcpy(s + i, &a, sizeof(a));
		}
	}
	for (; i < n; i++)
		s[i] = c * s[i] + m[i * inc];
}

/* s = exp(c * (s - max s)) in place (c > 0); returns 1 / sum. */
static float softmax_row(float *s, float c, int64_t n)
{
	act_v16 mv, v, acc = { 0 };
	float mx = s[0], sum = 0.0f, lanes[16];
	int64_t i = 0;

	if (n >= 16) {
		memcpy(&mv, s, sizeof(mv));
		for (i = 16; i + 16 <= n; i += 16) {
			memcpy(&v, s + i, sizeof(v));
			mv = act_max(mv, v);
		}
		memcpy(lanes, &mv, sizeof(lanes));
		for (int l = 0; l < 16; l++)
			mx = lanes[l] > mx ? lanes[l] : mx;
	}
	for (; i < n; i++)
		mx = s[i] > mx ? s[i] : mx;
	for (i = 0; i + 16 <= n; i += 16) {
		memcpy(&v, s + i, sizeof(v));
		v = act_exp((v - mx) * c);
		acc += v;
		memcpy(s + i, &v, sizeof(v));
	}
	for (; i < n; i++) {
		s[i] = expf((s[i] - mx) * c);
		sum += s[i];
	}
	memcpy(lanes, &acc, sizeof(lanes));
	for (int l = 0; l < 16; l++)
		sum += lanes[l];
	return 1.0f / sum;
}

/*
 * One task: rows [r0, r0 + m) of batch |b|. k is packed once into |kp|;
 * the rows then go in slices of ATTN_SLICE, few enough for the SGEMM to
 * read v in place (no packing) and for the scores |s| to stay in L1/L2.
 */
static accel_status attn_block(const attn_job *j, int64_t b, int64_t r0,
			       int64_t m, float *kp, float *s, float *inv)
{
	int r = j->rank;
	int64_t ldy = j->y.st[r - 2];
	const float *q = j->q.data + batch_offset(&j->q, r, b);
	const float *k = j->k.data + batch_offset(&j->k, r, b);
	const float *v = j->v.data + batch_offset(&j->v, r, b);
	float *y = (float *)j->y.data + batch_offset(&j->y, r, b);
	const float *mask = j->has_mask ?
		j->mask.data + batch_offset(&j->mask, r, b) : NULL;

	sgemm_pack_b(NULL, j->trans[1], j->sk, j->d, k, j->ld[1], kp);
	for (int64_t i0 = r0; i0 < r0 + m; i0 += ATTN_SLICE) {
		int64_t n = r0 + m - i0 < ATTN_SLICE ? r0 + m - i0 : ATTN_SLICE;

		ACCEL_TRY(sgemm_packed_b(NULL, j->trans[0], n, j->sk, j->d,
					 j->alpha, q + i0 * j->q.st[r - 2],
					 j->ld[0], kp, 0.0f, s, j->sk, NULL));
		for (int64_t i = 0; i < n; i++) {
			float *row = s + i * j->sk;

			if (mask)
				add_mask(row, j->post,
					 mask + (i0 + i) * j->mask.st[r - 2],
					 j->mask.st[r - 1], j->sk);
			inv[i] = softmax_row(row, mask ? 1.0f : j->post, j->sk);
		}
		ACCEL_TRY(sgemm_epi(NULL, false, j->trans[2], n, j->dv, j->sk,
				    1.0f, s, j->sk, v, j->ld[2], 0.0f,
				    y + i0 * ldy, ldy, NULL));
		for (int64_t i = 0; i < n; i++) {
			float *row = y + (i0 + i) * ldy;

			for (int64_t c = 0; c < j->dv; c++)
				row[c] *= inv[i];
		}
	}
	return NULL;
}

static void attn_tasks(void *arg, int64_t begin, int64_t end)
{
	attn_job *j = arg;
	size_t nk = (size_t)sgemm_packed_b_floats(j->sk, j->d);
	size_t ns = (size_t)(ATTN_SLICE * j->sk + ATTN_SLICE + 15) / 16 * 16;
	float *kp = aligned_alloc(64, (nk + ns) * sizeof(float));

	if (!kp) {
		atomic_store(&j->failed, true);
		return;
	}
	for (int64_t t = begin; t < end; t++) {
		int64_t b = t / j->nrb, r0 = t % j->nrb * j->rb;
		int64_t m = j->sq - r0 < j->rb ? j->sq - r0 : j->rb;
		accel_status st = attn_block(j, b, r0, m, kp, kp + nk,
					     kp + nk + ATTN_SLICE * j->sk);

		if (st) {
			accel_status_free(st);
			atomic_store(&j->failed, true);
			break;
		}
	}
	free(kp);
}

/*
 * Rows per task: whole heads (k packed once) while there are three tasks
 * per thread, else halves, down to one slice.
 */
static int64_t block_rows(int64_t nb, int64_t sq, int threads)
{
	int64_t rb = sq;

	while (threads > 1 && rb > ATTN_SLICE &&
	       nb * ((sq + rb - 1) / rb) < 3 * threads)
		rb = (rb + 1) / 2;
	return rb > 0 ? rb : 1;
}

static accel_status setup(const cpu_ctx *ctx, accel_tensor *const *in,
			  int n_in, accel_tensor *y, attn_job *j)
{
	static const char *const names[] = { "perm_q", "perm_k", "perm_v" };
	attn_view *views[] = { &j->q, &j->k, &j->v };
	int64_t perm[ACCEL_MAX_RANK];
	const accel_tensor *mask = n_in > 3 ? in[3] : NULL;
	int r = in[0]->rank;

	j->rank = r;
	for (int i = 0; i < 3; i++) {
		if (in[i]->dtype != ACCEL_DTYPE_F32 || in[i]->rank != r || r < 2)
			return status_unsupported("input %d: %s of rank %d (float32 of rank %d >= 2 expected)",
						  i, accel_dtype_name(in[i]->dtype),
						  in[i]->rank, r);
		ACCEL_TRY(perm_of(ctx->node, names[i], r, perm));
		view_of(in[i], perm, views[i]);
		if (!gemm_operand(views[i], r, &j->trans[i], &j->ld[i]))
			return status_unsupported("input %d: %s has no contiguous axis among its last two",
						  i, names[i]);
	}
	ACCEL_TRY(perm_of(ctx->node, "perm_out", r, perm));
	/* Y is written through the inverse of perm_out. */
	{
		int64_t st[ACCEL_MAX_RANK], s = 1;

		for (int i = r - 1; i >= 0; i--) {
			st[i] = s;
			s *= y->dims[i];
		}
		j->y.data = y->data;
		for (int i = 0; i < r; i++) {
			j->y.dims[perm[i]] = y->dims[i];
			j->y.st[perm[i]] = st[i];
		}
		if (j->y.st[r - 1] != 1 && j->y.dims[r - 1] > 1)
			return status_unsupported("attribute 'perm_out' moves the last axis");
	}
	j->sq = j->q.dims[r - 2];
	j->d = j->q.dims[r - 1];
	j->sk = j->k.dims[r - 1];
	j->dv = j->v.dims[r - 1];
	if (j->k.dims[r - 2] != j->d || j->v.dims[r - 2] != j->sk ||
	    j->y.dims[r - 2] != j->sq || j->y.dims[r - 1] != j->dv)
		return status_invalid("q, k, v and Y do not agree: [%lld x %lld] @ [%lld x %lld], v [%lld x %lld]",
				      (long long)j->sq, (long long)j->d,
				      (long long)j->k.dims[r - 2],
				      (long long)j->sk,
				      (long long)j->v.dims[r - 2],
				      (long long)j->dv);
	for (int i = 0; i < r - 2; i++)
		if (j->k.dims[i] != j->q.dims[i] || j->v.dims[i] != j->q.dims[i] ||
		    j->y.dims[i] != j->q.dims[i])
			return status_invalid("batch dim %d differs between q, k, v and Y",
					      i);
	j->has_mask = mask != NULL;
	if (mask) {
		int64_t s = 1;

		if (mask->dtype != ACCEL_DTYPE_F32 || mask->rank > r)
			return status_unsupported("input 'mask': %s of rank %d",
						  accel_dtype_name(mask->dtype),
						  mask->rank);
		j->mask.data = mask->data;
		for (int i = r - 1; i >= 0; i--) {
			int mi = i - (r - mask->rank);
			int64_t md = mi >= 0 ? mask->dims[mi] : 1;
			int64_t want = i == r - 1 ? j->sk : j->q.dims[i];

			if (md != 1 && md != want)
				return status_invalid("input 'mask' dim %d is %lld, does not broadcast to %lld",
						      mi, (long long)md,
						      (long long)want);
			j->mask.dims[i] = want;
			j->mask.st[i] = md == 1 ? 0 : s;
			s *= md;
		}
	}
	j->alpha = ir_attr_float(ctx->node, "scale", 1.0f);
	j->post = 1.0f;
	if (j->alpha > 0.0f && isfinite(j->alpha)) {
		j->post = j->alpha;
		j->alpha = 1.0f;
	}
	return NULL;
}

static accel_status cpu_fused_attention(const cpu_ctx *ctx,
					accel_tensor *const *in, int n_in,
					accel_tensor *const *out, int n_out)
{
	attn_job j;
	int64_t nb = 1;

	memset(&j, 0, sizeof(j));
	ACCEL_TRY(setup(ctx, in, n_in, out[0], &j));
	for (int i = 0; i < j.rank - 2; i++)
		nb *= j.q.dims[i];
	if (!nb || !j.sq || !j.dv)
		return NULL;
	if (!j.sk) {
		/* softmax over no keys times an empty v: a sum of nothing */
		memset(out[0]->data, 0, out[0]->nbytes);
		return NULL;
	}
	j.rb = block_rows(nb, j.sq, threadpool_size(ctx->pool));
	j.nrb = (j.sq + j.rb - 1) / j.rb;
	atomic_init(&j.failed, false);
	parallel_for(ctx->pool, nb * j.nrb, 1, attn_tasks, &j);
	if (atomic_load(&j.failed))
		return status_oom("attention scratch");
	return NULL;
}

const cpu_kernel cpu_kernels_attention[] = {
	{ "FusedAttention", "com.accel", cpu_fused_attention, NULL, NULL },
	{ 0 },
};
