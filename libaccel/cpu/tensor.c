/* SPDX-License-Identifier: MIT */
/*
 * tensor.c - CPU kernels of the tensor operator family.
 *
 * Most data movement here is one strided copy (Transpose, Expand, Slice,
 * Split, Tile, DepthToSpace are views of the input read in another order),
 * done by par_strided_copy; the cheap shape operators share their code with
 * the load-time folding in ops/tensor_eval.c.
 */
#include "cpu/tensor_kernels.h"
#include "ops/tensor_eval.h"

#include <stdlib.h>
#include <string.h>

#define MAX_VIEW (2 * ACCEL_MAX_RANK)

/* ---- parallel strided copy ---- */

typedef struct scopy {
	void *dst;
	const void *src;
	size_t es;
	int rank;
	int64_t count[MAX_VIEW], ss[MAX_VIEW], off;
} scopy;

static void scopy_rows(void *arg, int64_t begin, int64_t end)
{
	const scopy *c = arg;

	strided_copy_rows(c->dst, c->src, c->es, c->rank, c->count, c->ss,
			  c->off, begin, end);
}

/* Merge dims that stay adjacent in the source: longer rows, fewer steps. */
static int coalesce(int rank, int64_t *count, int64_t *ss)
{
	int r = 0;

	for (int i = 0; i < rank; i++) {
		if (count[i] == 1 && rank > 1)
			continue;
		if (r > 0 && ss[r - 1] == ss[i] * count[i]) {
			count[r - 1] *= count[i];
			ss[r - 1] = ss[i];
			continue;
		}
		count[r] = count[i];
		ss[r] = ss[i];
		r++;
	}
	if (r == 0 && rank > 0) {
		count[0] = 1;
		ss[0] = 1;
		r = 1;
	}
	return r;
}

/*
 * Blocked transpose: when the source-contiguous dim p is not the last output
 * dim, copy square tiles of (p, last) so that reads and writes both stay in
 * cache. Work items are (other dims) x (tiles along p).
 */
#define TILE 32

typedef struct tjob {
	const scopy *c;
	int p;
	int64_t ds[MAX_VIEW], tiles;
} tjob;

#define TILE_LOOP(T)                                                        	for (int64_t i = i0; i < i1; i++)                                     		for (int64_t j = j0; j < j1; j++)                             			((T *)d)[i * dp + j] = ((const T *)s)[i + j * sl]

static void tile_copy(const tjob *t, char *d, const char *s, int64_t i0,
		      int64_t i1)
{
	const scopy *c = t->c;
	int last = c->rank - 1;
	int64_t dp = t->ds[t->p], sl = c->ss[last], n = c->count[last];

	for (int64_t j0 = 0; j0 < n; j0 += TILE) {
		int64_t j1 = j0 + TILE < n ? j0 + TILE : n;

		switch (c->es) {
		case 1: TILE_LOOP(uint8_t); break;
		case 2: TILE_LOOP(uint16_t); break;
		case 4: TILE_LOOP(uint32_t); break;
		case 8: TILE_LOOP(uint64_t); break;
		default:
			for (int64_t i = i0; i < i1; i++)
				for (int64_t j = j0; j < j1; j++)
					memcpy(d + (i * dp + j) * (int64_t)c->es,
					       s + (i + j * sl) * (int64_t)c->es,
					       c->es);
		}
	}
}

static void tiles_run(void *arg, int64_t begin, int64_t end)
{
	const tjob *t = arg;
	const scopy *c = t->c;
	int last = c->rank - 1;

	for (int64_t w = begin; w < end; w++) {
		int64_t rem = w / t->tiles, i0 = (w % t->tiles) * TILE;
		int64_t so = c->off, dof = 0, i1 = i0 + TILE;

		for (int d = last - 1; d >= 0; d--) {
			int64_t k;

			if (d == t->p)
				continue;
			k = rem % c->count[d];
			rem /= c->count[d];
			so += k * c->ss[d];
			dof += k * t->ds[d];
		}
		if (i1 > c->count[t->p])
			i1 = c->count[t->p];
		tile_copy(t, (char *)c->dst + dof * (int64_t)c->es,
			  (const char *)c->src + so * (int64_t)c->es, i0, i1);
	}
}

static bool try_tiled(threadpool *tp, const scopy *c)
{
	int last = c->rank - 1, p = -1;
	tjob t = { .c = c };
	int64_t outer = 1;

	if (c->rank < 2 || c->ss[last] == 1 || c->count[last] < 8)
		return false;
	for (int d = 0; d < last; d++)
		if (c->ss[d] == 1)
			p = d;
	if (p < 0 || c->count[p] < 8)
		return false;
	t.p = p;
	dims_strides(c->rank, c->count, t.ds);
	for (int d = 0; d < last; d++)
		if (d != p)
			outer *= c->count[d];
	t.tiles = (c->count[p] + TILE - 1) / TILE;
	parallel_for(tp, outer * t.tiles,
		     1 + 65536 / (TILE * c->count[last] + 1), tiles_run, &t);
	return true;
}

void par_strided_copy(threadpool *tp, void *dst, const void *src, size_t es,
		      int rank, const int64_t *count, const int64_t *ss,
		      int64_t off)
{
	scopy c = { .dst = dst, .src = src, .es = es, .off = off };
	int64_t rows, row_len;

	for (int i = 0; i < rank; i++) {
		if (!count[i])
			return;
		c.count[i] = count[i];
		c.ss[i] = ss[i];
	}
	c.rank = coalesce(rank, c.count, c.ss);
	if (try_tiled(tp, &c))
		return;
	rows = strided_rows(c.rank, c.count);
	row_len = c.rank ? c.count[c.rank - 1] : 1;
	parallel_for(tp, rows, 1 + 16384 / (row_len * (int64_t)es + 1),
		     scopy_rows, &c);
}

/* ---- kernels shared with load-time folding ---- */

#define EVAL_KERNEL(name, fn)                                               \
	static accel_status name(const cpu_ctx *ctx, accel_tensor *const *in, \
				 int n_in, accel_tensor *const *out,          \
				 int n_out)                                   \
	{                                                                     \
		return fn(ctx->node, in, n_in, out, n_out);                   \
	}

EVAL_KERNEL(cpu_copy, teval_copy)
EVAL_KERNEL(cpu_shape, teval_shape)
EVAL_KERNEL(cpu_size, teval_size)
EVAL_KERNEL(cpu_constant, teval_constant)
EVAL_KERNEL(cpu_constant_of_shape, teval_constant_of_shape)
EVAL_KERNEL(cpu_range, teval_range)
EVAL_KERNEL(cpu_gather, teval_gather)
EVAL_KERNEL(cpu_concat, teval_concat)

/* ---- strided views ---- */

static accel_status cpu_transpose(const cpu_ctx *ctx, accel_tensor *const *in,
				  int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	int64_t xs[ACCEL_MAX_RANK], ss[ACCEL_MAX_RANK];
	size_t cnt;
	const int64_t *perm = ir_attr_ints(ctx->node, "perm", &cnt);

	dims_strides(x->rank, x->dims, xs);
	for (int i = 0; i < x->rank; i++) {
		int64_t p = perm ? perm[i] : x->rank - 1 - i;

		ss[i] = xs[p < 0 ? p + x->rank : p];
	}
	par_strided_copy(ctx->pool, out[0]->data, x->data,
			 accel_dtype_size(x->dtype), x->rank, out[0]->dims, ss, 0);
	return NULL;
}

static accel_status cpu_expand(const cpu_ctx *ctx, accel_tensor *const *in,
			       int n_in, accel_tensor *const *out, int n_out)
{
	int64_t ss[ACCEL_MAX_RANK];

	broadcast_strides(in[0], out[0]->rank, out[0]->dims, ss);
	par_strided_copy(ctx->pool, out[0]->data, in[0]->data,
			 accel_dtype_size(in[0]->dtype), out[0]->rank,
			 out[0]->dims, ss, 0);
	return NULL;
}

static accel_status cpu_slice(const cpu_ctx *ctx, accel_tensor *const *in,
			      int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	int64_t start[ACCEL_MAX_RANK], step[ACCEL_MAX_RANK], cnt[ACCEL_MAX_RANK];
	int64_t xs[ACCEL_MAX_RANK], ss[ACCEL_MAX_RANK], off = 0;
	bool known;

	ACCEL_TRY(slice_resolve(ctx->node, in, n_in, x, start, step, cnt,
				&known));
	dims_strides(x->rank, x->dims, xs);
	for (int i = 0; i < x->rank; i++) {
		off += start[i] * xs[i];
		ss[i] = step[i] * xs[i];
	}
	par_strided_copy(ctx->pool, out[0]->data, x->data,
			 accel_dtype_size(x->dtype), x->rank, out[0]->dims, ss,
			 off);
	return NULL;
}

static accel_status cpu_split(const cpu_ctx *ctx, accel_tensor *const *in,
			      int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	int64_t axis = ir_attr_int(ctx->node, "axis", 0), xs[ACCEL_MAX_RANK];
	int64_t off = 0;

	if (axis < 0)
		axis += x->rank;
	dims_strides(x->rank, x->dims, xs);
	for (int i = 0; i < n_out; i++) {
		if (!out[i])
			continue;
		par_strided_copy(ctx->pool, out[i]->data, x->data,
				 accel_dtype_size(x->dtype), x->rank,
				 out[i]->dims, xs, off * xs[axis]);
		off += out[i]->dims[axis];
	}
	return NULL;
}

static accel_status cpu_tile(const cpu_ctx *ctx, accel_tensor *const *in,
			     int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	int64_t xs[ACCEL_MAX_RANK], cnt[MAX_VIEW], ss[MAX_VIEW];

	/* out viewed as (repeat_0, dim_0, repeat_1, dim_1, ...) */
	dims_strides(x->rank, x->dims, xs);
	for (int i = 0; i < x->rank; i++) {
		cnt[2 * i] = x->dims[i] ? out[0]->dims[i] / x->dims[i] : 0;
		ss[2 * i] = 0;
		cnt[2 * i + 1] = x->dims[i];
		ss[2 * i + 1] = xs[i];
	}
	par_strided_copy(ctx->pool, out[0]->data, x->data,
			 accel_dtype_size(x->dtype), 2 * x->rank, cnt, ss, 0);
	return NULL;
}

static accel_status cpu_depth_space(const cpu_ctx *ctx, accel_tensor *const *in,
				    int n_in, accel_tensor *const *out,
				    int n_out)
{
	const accel_tensor *x = in[0];
	const int64_t *d = x->dims, *o = out[0]->dims;
	int64_t b = ir_attr_int(ctx->node, "blocksize", 1), hw = d[2] * d[3];
	int64_t chw = d[1] * hw, cnt[6], ss[6];
	const char *mode = ir_attr_string(ctx->node, "mode", "DCR");

	if (!strcmp(ctx->node->op_type, "DepthToSpace")) {
		int64_t c2 = o[1];
		bool crd = !strcmp(mode, "CRD");
		int64_t sc = crd ? b * b * hw : hw;
		int64_t sb1 = crd ? b * hw : b * c2 * hw;
		int64_t sb2 = crd ? hw : c2 * hw;
		const int64_t c6[6] = { d[0], c2, d[2], b, d[3], b };
		const int64_t s6[6] = { chw, sc, d[3], sb1, 1, sb2 };

		memcpy(cnt, c6, sizeof(cnt));
		memcpy(ss, s6, sizeof(ss));
	} else {
		const int64_t c6[6] = { d[0], b, b, d[1], o[2], o[3] };
		const int64_t s6[6] = { chw, d[3], 1, hw, b * d[3], b };

		memcpy(cnt, c6, sizeof(cnt));
		memcpy(ss, s6, sizeof(ss));
	}
	par_strided_copy(ctx->pool, out[0]->data, x->data,
			 accel_dtype_size(x->dtype), 6, cnt, ss, 0);
	return NULL;
}

/* ---- Pad ---- */

typedef struct pad_job {
	const accel_tensor *x;
	accel_tensor *o;
	size_t es;
	int rank;
	int64_t xs[ACCEL_MAX_RANK];
	int64_t *map[ACCEL_MAX_RANK]; /* output index -> input index, -1: value */
	int64_t lo, hi; /* last-dim outputs [lo, hi) read input k - lo + map[lo] */
	unsigned char val[16];
} pad_job;

/* Source index of output index |i| along a dim of size |d|, or -1. */
static int64_t pad_map(const char *mode, int64_t i, int64_t d)
{
	if (i >= 0 && i < d)
		return i;
	if (!strcmp(mode, "constant") || d == 0)
		return -1;
	if (!strcmp(mode, "edge"))
		return i < 0 ? 0 : d - 1;
	if (!strcmp(mode, "wrap"))
		return ((i % d) + d) % d;
	if (d == 1) /* reflect */
		return 0;
	i = ((i % (2 * (d - 1))) + 2 * (d - 1)) % (2 * (d - 1));
	return i < d ? i : 2 * (d - 1) - i;
}

static void put(char *dst, const void *src, size_t es)
{
	switch (es) {
	case 1: *dst = *(const char *)src; break;
	case 2: memcpy(dst, src, 2); break;
	case 4: memcpy(dst, src, 4); break;
	case 8: memcpy(dst, src, 8); break;
	default: memcpy(dst, src, es);
	}
}

static void pad_rows(void *arg, int64_t begin, int64_t end)
{
	const pad_job *j = arg;
	int last = j->rank - 1;
	int64_t w = j->o->dims[last];
	const char *src = j->x->data;

	for (int64_t r = begin; r < end; r++) {
		char *dst = (char *)j->o->data + r * w * (int64_t)j->es;
		int64_t rem = r, base = 0;
		bool outside = false;

		for (int i = last - 1; i >= 0; i--) {
			int64_t m = j->map[i][rem % j->o->dims[i]];

			rem /= j->o->dims[i];
			if (m < 0)
				outside = true;
			base += m * j->xs[i];
		}
		for (int64_t c = 0; c < w; c++) {
			int64_t m = outside ? -1 : j->map[last][c];

			if (c == j->lo && !outside && j->hi > j->lo) {
				/* the interior: one contiguous run */
				memcpy(dst + c * (int64_t)j->es,
				       src + (base + m) * (int64_t)j->es,
				       (size_t)(j->hi - j->lo) * j->es);
				c = j->hi - 1;
				continue;
			}
			put(dst + c * (int64_t)j->es,
			    m < 0 ? (const void *)j->val :
				    src + (base + m) * (int64_t)j->es, j->es);
		}
	}
}

static void pad_value(const cpu_ctx *ctx, accel_tensor *const *in, int n_in,
		      accel_dtype dt, unsigned char *val)
{
	accel_tensor t = { .dtype = dt, .data = val };

	memset(val, 0, 16);
	if (ctx->node->opset < 11)
		tensor_set_f64(&t, 0, ir_attr_float(ctx->node, "value", 0));
	else if (n_in > 2 && in[2] && tensor_numel(in[2]) > 0 && in[2]->data) {
		if (in[2]->dtype == dt)
			memcpy(val, in[2]->data, accel_dtype_size(dt));
		else
			tensor_set_f64(&t, 0, tensor_get_f64(in[2], 0));
	}
}

/* Pad |x| into |o| (already shaped): output index k reads k - begin[d]. */
static accel_status pad_run(threadpool *tp, const accel_tensor *x,
			    accel_tensor *o, const int64_t *begin,
			    const char *mode, const unsigned char *val)
{
	pad_job j = { .x = x, .o = o, .rank = x->rank,
		      .es = accel_dtype_size(x->dtype) };
	int64_t total = 0, *buf, w;

	if (j.rank == 0 || tensor_numel(o) == 0) {
		memcpy(o->data, x->data, o->nbytes);
		return NULL;
	}
	if (strcmp(mode, "constant") && tensor_numel(x) == 0)
		return status_invalid("mode '%s' cannot pad an empty input", mode);
	memcpy(j.val, val, sizeof(j.val));
	dims_strides(j.rank, x->dims, j.xs);
	for (int i = 0; i < j.rank; i++)
		total += o->dims[i];
	buf = malloc((size_t)total * sizeof(*buf));
	if (!buf)
		return status_oom("pad index maps");
	total = 0;
	for (int i = 0; i < j.rank; i++) {
		j.map[i] = buf + total;
		for (int64_t k = 0; k < o->dims[i]; k++)
			j.map[i][k] = pad_map(mode, k - begin[i], x->dims[i]);
		total += o->dims[i];
	}
	w = o->dims[j.rank - 1];
	j.lo = begin[j.rank - 1] > 0 ? begin[j.rank - 1] : 0;
	j.hi = begin[j.rank - 1] + x->dims[j.rank - 1];
	j.hi = j.hi < w ? j.hi : w;
	parallel_for(tp, tensor_numel(o) / w, 1 + 8192 / w, pad_rows, &j);
	free(buf);
	return NULL;
}

static accel_status cpu_pad(const cpu_ctx *ctx, accel_tensor *const *in,
			    int n_in, accel_tensor *const *out, int n_out)
{
	const char *mode = ir_attr_string(ctx->node, "mode", "constant");
	int64_t pads[2 * ACCEL_MAX_RANK];
	unsigned char val[16];
	bool known;

	if (in[0]->rank > 0)
		ACCEL_TRY(pad_resolve(ctx->node, in, n_in, in[0]->rank, pads,
				      &known));
	pad_value(ctx, in, n_in, in[0]->dtype, val);
	return pad_run(ctx->pool, in[0], out[0], pads, mode, val);
}

/* CenterCropPad: a constant-0 pad whose begin pads are negative to crop. */
static accel_status cpu_center_crop_pad(const cpu_ctx *ctx,
					accel_tensor *const *in, int n_in,
					accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	int64_t begin[ACCEL_MAX_RANK];
	unsigned char val[16] = { 0 };

	for (int i = 0; i < x->rank; i++) {
		int64_t d = x->dims[i], s = out[0]->dims[i];

		begin[i] = s > d ? (s - d) / 2 : -((d - s) / 2);
	}
	return pad_run(ctx->pool, x, out[0], begin, "constant", val);
}

/* TensorScatter: write |update| into a copy of the cache along |axis|. */
static accel_status cpu_tensor_scatter(const cpu_ctx *ctx,
				       accel_tensor *const *in, int n_in,
				       accel_tensor *const *out, int n_out)
{
	const accel_tensor *c = in[0], *u = in[1];
	const accel_tensor *wi = n_in > 2 ? in[2] : NULL;
	bool circular = !strcmp(ir_attr_string(ctx->node, "mode", "linear"),
				"circular");
	int64_t axis = ir_attr_int(ctx->node, "axis", -2), prefix = 1, inner;
	int64_t max_len, seq, batch_block;
	size_t es = accel_dtype_size(c->dtype);

	if (axis < 0)
		axis += c->rank;
	max_len = c->dims[axis];
	seq = u->dims[axis];
	inner = (int64_t)es;
	for (int i = (int)axis + 1; i < c->rank; i++)
		inner *= c->dims[i];
	for (int i = 0; i < axis; i++)
		prefix *= c->dims[i];
	batch_block = prefix / (c->dims[0] ? c->dims[0] : 1);
	memcpy(out[0]->data, c->data, out[0]->nbytes);
	for (int64_t p = 0; p < prefix; p++) {
		int64_t b = axis > 0 ? p / batch_block : 0;
		int64_t w0 = wi ? tensor_get_i64(wi, b) : 0;

		for (int64_t s = 0; s < seq; s++) {
			int64_t k = w0 + s;

			if (circular)
				k = ((k % max_len) + max_len) % max_len;
			if (k < 0 || k >= max_len)
				return status_invalid("input 'write_indices': position %lld is outside a cache of %lld",
						      (long long)k, (long long)max_len);
			memcpy((char *)out[0]->data + (p * max_len + k) * inner,
			       (const char *)u->data + (p * seq + s) * inner,
			       (size_t)inner);
		}
	}
	return NULL;
}

/* ---- Trilu, EyeLike ---- */

typedef struct trilu_job {
	const accel_tensor *x;
	accel_tensor *o;
	size_t es;
	int64_t n, m, k;
	bool upper;
} trilu_job;

static void trilu_rows(void *arg, int64_t begin, int64_t end)
{
	const trilu_job *j = arg;
	int64_t rb = j->m * (int64_t)j->es;

	for (int64_t r = begin; r < end; r++) {
		int64_t i = r % j->n, lo, hi;
		char *dst = (char *)j->o->data + r * rb;
		const char *src = (const char *)j->x->data + r * rb;

		if (j->upper) {
			lo = i + j->k;
			hi = j->m;
		} else {
			lo = 0;
			hi = i + j->k + 1;
		}
		lo = lo < 0 ? 0 : lo > j->m ? j->m : lo;
		hi = hi < lo ? lo : hi > j->m ? j->m : hi;
		memset(dst, 0, (size_t)rb);
		memcpy(dst + lo * (int64_t)j->es, src + lo * (int64_t)j->es,
		       (size_t)((hi - lo) * (int64_t)j->es));
	}
}

static accel_status cpu_trilu(const cpu_ctx *ctx, accel_tensor *const *in,
			      int n_in, accel_tensor *const *out, int n_out)
{
	const accel_tensor *x = in[0];
	trilu_job j = { .x = x, .o = out[0], .es = accel_dtype_size(x->dtype) };

	j.n = x->dims[x->rank - 2];
	j.m = x->dims[x->rank - 1];
	j.k = n_in > 1 && in[1] && tensor_numel(in[1]) > 0 ?
		tensor_get_i64(in[1], 0) : 0;
	j.upper = ir_attr_int(ctx->node, "upper", 1) != 0;
	if (!j.m || !tensor_numel(x))
		return NULL;
	parallel_for(ctx->pool, tensor_numel(x) / j.m, 1 + 8192 / j.m,
		     trilu_rows, &j);
	return NULL;
}

static accel_status cpu_eye_like(const cpu_ctx *ctx, accel_tensor *const *in,
				 int n_in, accel_tensor *const *out, int n_out)
{
	accel_tensor *o = out[0];
	int64_t k = ir_attr_int(ctx->node, "k", 0);

	memset(o->data, 0, o->nbytes);
	for (int64_t i = 0; i < o->dims[0]; i++) {
		int64_t c = i + k;

		if (c >= 0 && c < o->dims[1])
			tensor_set_f64(o, i * o->dims[1] + c, 1.0);
	}
	return NULL;
}

const cpu_kernel cpu_kernels_tensor[] = {
	{ "Identity", "", cpu_copy },
	{ "Reshape", "", cpu_copy },
	{ "Flatten", "", cpu_copy },
	{ "Squeeze", "", cpu_copy },
	{ "Unsqueeze", "", cpu_copy },
	{ "Shape", "", cpu_shape },
	{ "Size", "", cpu_size },
	{ "Constant", "", cpu_constant },
	{ "ConstantOfShape", "", cpu_constant_of_shape },
	{ "Range", "", cpu_range },
	{ "Transpose", "", cpu_transpose },
	{ "Concat", "", cpu_concat },
	{ "Split", "", cpu_split },
	{ "Slice", "", cpu_slice },
	{ "Gather", "", cpu_gather },
	{ "GatherElements", "", cpu_gather_elements },
	{ "GatherND", "", cpu_gather_nd },
	{ "Expand", "", cpu_expand },
	{ "Tile", "", cpu_tile },
	{ "Pad", "", cpu_pad },
	{ "Resize", "", cpu_resize },
	{ "Upsample", "", cpu_resize },
	{ "DepthToSpace", "", cpu_depth_space },
	{ "SpaceToDepth", "", cpu_depth_space },
	{ "Trilu", "", cpu_trilu },
	{ "EyeLike", "", cpu_eye_like },
	{ "OneHot", "", cpu_one_hot },
	{ "ScatterElements", "", cpu_scatter_elements },
	{ "Scatter", "", cpu_scatter_elements },
	{ "ScatterND", "", cpu_scatter_nd },
	{ "Compress", "", cpu_compress },
	{ "NonZero", "", cpu_non_zero },
	{ "ReverseSequence", "", cpu_reverse_sequence },
	{ "CenterCropPad", "", cpu_center_crop_pad },
	{ "TensorScatter", "", cpu_tensor_scatter },
	{ 0 },
};
