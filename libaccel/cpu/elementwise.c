/* SPDX-License-Identifier: MIT */
/*
 * elementwise.c - CPU kernels of the elementwise operator family: the
 * broadcasting binary, variadic and ternary operators, the half-precision
 * wrapper, and the family's kernel table. Unary operators live in
 * elementwise_unary.c, Cast/CastLike in elementwise_cast.c.
 *
 * Broadcasting: every operand's shape is aligned to the output's, broadcast
 * axes get stride 0, and adjacent axes that are contiguous for every operand
 * are merged. What remains is walked row by row, where a row is the innermost
 * axis and each operand's stride along it is 0 or 1; same-shape tensors thus
 * become one long row that the loops below vectorise.
 */
#include "cpu/elementwise.h"

#include <stdlib.h>
#include <string.h>
#include <tgmath.h>

#define BC_MAX_IN 3

typedef void (*row_fn)(const void *const *src, const int64_t *s, void *dst,
		       int64_t n, const void *arg);

typedef struct bcast {
	int rank; /* after merging, >= 1 */
	int n_in;
	int64_t dims[ACCEL_MAX_RANK];
	int64_t strides[BC_MAX_IN][ACCEL_MAX_RANK]; /* elements, 0: broadcast */
	size_t esize[BC_MAX_IN], osize;
	int64_t numel;
} bcast;

static accel_status bcast_init(bcast *b, accel_tensor *const *in, int n_in,
			       const accel_tensor *out)
{
	int64_t full[BC_MAX_IN][ACCEL_MAX_RANK];
	int R = out->rank, r = 0;

	b->n_in = n_in;
	b->osize = accel_dtype_size(out->dtype);
	b->numel = tensor_numel(out);
	for (int k = 0; k < n_in; k++) {
		const accel_tensor *t = in[k];
		int64_t st[ACCEL_MAX_RANK];

		if (t->rank > R)
			return status_invalid("input %d has rank %d, more than the output's %d",
					      k, t->rank, R);
		b->esize[k] = accel_dtype_size(t->dtype);
		dims_strides(t->rank, t->dims, st);
		for (int i = 0; i < R; i++) {
			int ik = i - (R - t->rank);
			int64_t d = ik >= 0 ? t->dims[ik] : 1;

			if (d != 1 && d != out->dims[i]) {
				char sa[96], sb[96];

				return status_invalid("input %d of shape %s does not broadcast to output shape %s",
						      k, tensor_shape_str(t, sa, sizeof(sa)),
						      tensor_shape_str(out, sb, sizeof(sb)));
			}
			full[k][i] = d == 1 ? 0 : st[ik];
		}
	}
	/* Drop size-1 axes, then merge axes contiguous for every operand. */
	for (int i = 0; i < R; i++) {
		bool merge = r > 0;

		if (out->dims[i] == 1)
			continue;
		for (int k = 0; k < n_in && merge; k++)
			if (b->strides[k][r - 1] != full[k][i] * out->dims[i])
				merge = false;
		if (merge) {
			b->dims[r - 1] *= out->dims[i];
			for (int k = 0; k < n_in; k++)
				b->strides[k][r - 1] = full[k][i];
			continue;
		}
		b->dims[r] = out->dims[i];
		for (int k = 0; k < n_in; k++)
			b->strides[k][r] = full[k][i];
		r++;
	}
	if (r == 0) {
		b->dims[0] = 1;
		for (int k = 0; k < n_in; k++)
			b->strides[k][0] = 0;
		r = 1;
	}
	b->rank = r;
	return NULL;
}

typedef struct bcast_job {
	const bcast *b;
	const void *src[BC_MAX_IN];
	void *dst;
	row_fn fn;
	const void *arg;
} bcast_job;

/* Step the outer index |idx| (and the row offsets) to the next row. */
static void next_row(const bcast *b, int64_t *idx, int64_t *row_off)
{
	for (int i = b->rank - 2; i >= 0; i--) {
		idx[i]++;
		for (int k = 0; k < b->n_in; k++)
			row_off[k] += b->strides[k][i];
		if (idx[i] < b->dims[i])
			return;
		idx[i] = 0;
		for (int k = 0; k < b->n_in; k++)
			row_off[k] -= b->dims[i] * b->strides[k][i];
	}
}

/* The common 2-D case (whole rows [r0, r1)), with little per-row work. */
static void bcast_rows(void *arg, int64_t r0, int64_t r1)
{
	const bcast_job *j = arg;
	const bcast *b = j->b;
	int64_t inner = b->dims[1], step[BC_MAX_IN] = { 0 }, s[BC_MAX_IN], ostep;
	const char *src[BC_MAX_IN];
	char *dst;

	for (int k = 0; k < b->n_in; k++) {
		s[k] = b->strides[k][1];
		step[k] = b->strides[k][0] * (int64_t)b->esize[k];
		src[k] = (const char *)j->src[k] + r0 * step[k];
	}
	ostep = inner * (int64_t)b->osize;
	dst = (char *)j->dst + r0 * ostep;
	for (int64_t r = r0; r < r1; r++) {
		j->fn((const void *const *)src, s, dst, inner, j->arg);
		for (int k = 0; k < b->n_in; k++)
			src[k] += step[k];
		dst += ostep;
	}
}

/* Process output elements [begin, end), one row segment at a time. */
static void bcast_range(void *arg, int64_t begin, int64_t end)
{
	const bcast_job *j = arg;
	const bcast *b = j->b;
	int64_t inner = b->dims[b->rank - 1];
	int64_t row = begin / inner, col = begin % inner;
	int64_t idx[ACCEL_MAX_RANK], row_off[BC_MAX_IN] = { 0 }, s[BC_MAX_IN];
	const void *src[BC_MAX_IN];

	/* Split the first row index once; later rows step odometer-style. */
	for (int i = b->rank - 2; i >= 0; i--) {
		idx[i] = row % b->dims[i];
		row /= b->dims[i];
		for (int k = 0; k < b->n_in; k++)
			row_off[k] += idx[i] * b->strides[k][i];
	}
	for (int k = 0; k < b->n_in; k++)
		s[k] = b->strides[k][b->rank - 1];
	while (begin < end) {
		int64_t n = inner - col < end - begin ? inner - col : end - begin;

		for (int k = 0; k < b->n_in; k++)
			src[k] = (const char *)j->src[k] +
				 (row_off[k] + col * s[k]) * (int64_t)b->esize[k];
		j->fn(src, s, (char *)j->dst + begin * (int64_t)b->osize, n, j->arg);
		begin += n;
		col = 0;
		next_row(b, idx, row_off);
	}
}

/* out = fn(in[0], ..., in[n_in - 1]) with numpy broadcasting. */
static accel_status bcast_run(const cpu_ctx *ctx, accel_tensor *const *in,
			      int n_in, accel_tensor *out, row_fn fn,
			      const void *arg)
{
	bcast b;
	bcast_job job = { .b = &b, .dst = out->data, .fn = fn, .arg = arg };

	ACCEL_TRY(bcast_init(&b, in, n_in, out));
	if (b.numel <= 0)
		return NULL;
	for (int k = 0; k < n_in; k++)
		job.src[k] = in[k]->data;
	/* Short rows: split by whole rows so each row costs one call. */
	if (b.rank == 2 && b.dims[1] < EW_GRAIN) {
		parallel_for(ctx->pool, b.dims[0], EW_GRAIN / b.dims[1] + 1,
			     bcast_rows, &job);
		return NULL;
	}
	parallel_for(ctx->pool, b.numel, EW_GRAIN, bcast_range, &job);
	return NULL;
}

/* ---- per-dtype row loops ---- */

typedef struct ew_params {
	accel_dtype adt, bdt; /* operand dtypes, for the generic Pow */
} ew_params;

/*
 * A row loop computing EXPR from |a| and |b| (of type T). The four cases
 * let the compiler vectorise the common same-shape and scalar cases.
 */
#define BIN_ROW(fname, TYPE, TOUT, EXPR)                                   \
	static void fname(const void *const *src, const int64_t *s,        \
			  void *dst, int64_t n, const void *arg)           \
	{                                                                  \
		typedef TYPE T;                                            \
		const T *pa = src[0], *pb = src[1];                        \
		TOUT *o = dst;                                             \
		const ew_params *p = arg;                                  \
		(void)p;                                                   \
		if (s[0] && s[1]) {                                        \
			for (int64_t i = 0; i < n; i++) {                  \
				T a = pa[i], b = pb[i];                    \
				o[i] = (TOUT)(EXPR);                       \
			}                                                  \
		} else if (s[0]) {                                         \
			T b = pb[0];                                       \
			for (int64_t i = 0; i < n; i++) {                  \
				T a = pa[i];                               \
				o[i] = (TOUT)(EXPR);                       \
			}                                                  \
		} else if (s[1]) {                                         \
			T a = pa[0];                                       \
			for (int64_t i = 0; i < n; i++) {                  \
				T b = pb[i];                               \
				o[i] = (TOUT)(EXPR);                       \
			}                                                  \
		} else {                                                   \
			T a = pa[0], b = pb[0];                            \
			TOUT v = (TOUT)(EXPR);                             \
			for (int64_t i = 0; i < n; i++)                    \
				o[i] = v;                                  \
		}                                                          \
	}

#define GEN_SAME(sfx, T, DT, op, EXPR) BIN_ROW(op##_##sfx, T, T, EXPR)
#define GEN_BOOL(sfx, T, DT, op, EXPR) BIN_ROW(op##_##sfx, T, uint8_t, EXPR)

/* Integer arithmetic wraps like the reference (numpy) instead of being UB. */
#define WRAP(op) (T)((uint64_t)a op (uint64_t)b)

SINT_TYPES(GEN_SAME, add, WRAP(+))
UINT_TYPES(GEN_SAME, add, WRAP(+))
FLOAT_TYPES(GEN_SAME, add, a + b)
static const row_fn add_tab[NTYPES] = {
	SINT_TYPES(ENTRY, add) UINT_TYPES(ENTRY, add) FLOAT_TYPES(ENTRY, add)
};

SINT_TYPES(GEN_SAME, sub, WRAP(-))
UINT_TYPES(GEN_SAME, sub, WRAP(-))
FLOAT_TYPES(GEN_SAME, sub, a - b)
static const row_fn sub_tab[NTYPES] = {
	SINT_TYPES(ENTRY, sub) UINT_TYPES(ENTRY, sub) FLOAT_TYPES(ENTRY, sub)
};

SINT_TYPES(GEN_SAME, mul, WRAP(*))
UINT_TYPES(GEN_SAME, mul, WRAP(*))
FLOAT_TYPES(GEN_SAME, mul, a * b)
static const row_fn mul_tab[NTYPES] = {
	SINT_TYPES(ENTRY, mul) UINT_TYPES(ENTRY, mul) FLOAT_TYPES(ENTRY, mul)
};

/* Integer division truncates (ONNX Div); x/0 gives 0 rather than a trap. */
SINT_TYPES(GEN_SAME, div, b == 0 ? 0 : b == -1 ? (T)(0 - (uint64_t)a) : a / b)
UINT_TYPES(GEN_SAME, div, b == 0 ? 0 : a / b)
FLOAT_TYPES(GEN_SAME, div, a / b)
static const row_fn div_tab[NTYPES] = {
	SINT_TYPES(ENTRY, div) UINT_TYPES(ENTRY, div) FLOAT_TYPES(ENTRY, div)
};

/* Mod with fmod=0: the result takes the divisor's sign (Python's %). */
#define PYMOD(r) ((r) != 0 && (((r) < 0) != (b < 0)) ? (r) + b : (r))
SINT_TYPES(GEN_SAME, mod, b == 0 || b == -1 ? 0 : PYMOD(a % b))
UINT_TYPES(GEN_SAME, mod, b == 0 ? 0 : a % b)
FLOAT_TYPES(GEN_SAME, mod, PYMOD(fmod(a, b)))
static const row_fn mod_tab[NTYPES] = {
	SINT_TYPES(ENTRY, mod) UINT_TYPES(ENTRY, mod) FLOAT_TYPES(ENTRY, mod)
};

/* fmod=1: the result takes the dividend's sign (C's % and fmod). */
SINT_TYPES(GEN_SAME, fmod, b == 0 || b == -1 ? 0 : a % b)
FLOAT_TYPES(GEN_SAME, fmod, fmod(a, b))
static const row_fn fmod_tab[NTYPES] = {
	SINT_TYPES(ENTRY, fmod) UINT_TYPES(ENTRY, mod) FLOAT_TYPES(ENTRY, fmod)
};

/* NaN propagates, as in numpy's maximum/minimum. */
SINT_TYPES(GEN_SAME, max, a > b ? a : b)
UINT_TYPES(GEN_SAME, max, a > b ? a : b)
FLOAT_TYPES(GEN_SAME, max, a >= b || a != a ? a : b)
static const row_fn max_tab[NTYPES] = {
	SINT_TYPES(ENTRY, max) UINT_TYPES(ENTRY, max) FLOAT_TYPES(ENTRY, max)
};

SINT_TYPES(GEN_SAME, min, a < b ? a : b)
UINT_TYPES(GEN_SAME, min, a < b ? a : b)
FLOAT_TYPES(GEN_SAME, min, a <= b || a != a ? a : b)
static const row_fn min_tab[NTYPES] = {
	SINT_TYPES(ENTRY, min) UINT_TYPES(ENTRY, min) FLOAT_TYPES(ENTRY, min)
};

SINT_TYPES(GEN_SAME, prelu, a < 0 ? (T)(a * b) : a)
FLOAT_TYPES(GEN_SAME, prelu, a < 0 ? a * b : a)
static const row_fn prelu_tab[NTYPES] = {
	SINT_TYPES(ENTRY, prelu) FLOAT_TYPES(ENTRY, prelu)
};

FLOAT_TYPES(GEN_SAME, pow, pow(a, b))
static const row_fn pow_tab[NTYPES] = { FLOAT_TYPES(ENTRY, pow) };

#define SHIFT_BITS (int)(sizeof(T) * 8)
UINT_TYPES(GEN_SAME, shl, b >= (T)SHIFT_BITS ? 0 : (T)(a << b))
UINT_TYPES(GEN_SAME, shr, b >= (T)SHIFT_BITS ? 0 : (T)(a >> b))
static const row_fn shl_tab[NTYPES] = { UINT_TYPES(ENTRY, shl) };
static const row_fn shr_tab[NTYPES] = { UINT_TYPES(ENTRY, shr) };

BIN_ROW(and_b, uint8_t, uint8_t, a && b)
BIN_ROW(or_b, uint8_t, uint8_t, a || b)
BIN_ROW(xor_b, uint8_t, uint8_t, !a != !b)
static const row_fn and_tab[NTYPES] = { [ACCEL_DTYPE_BOOL] = and_b };
static const row_fn or_tab[NTYPES] = { [ACCEL_DTYPE_BOOL] = or_b };
static const row_fn xor_tab[NTYPES] = { [ACCEL_DTYPE_BOOL] = xor_b };

#define CMP_TAB(op, EXPR)                                                  \
	SINT_TYPES(GEN_BOOL, op, EXPR)                                     \
	UINT_TYPES(GEN_BOOL, op, EXPR)                                     \
	FLOAT_TYPES(GEN_BOOL, op, EXPR)                                    \
	static const row_fn op##_tab[NTYPES] = {                           \
		SINT_TYPES(ENTRY, op) UINT_TYPES(ENTRY, op)                \
		FLOAT_TYPES(ENTRY, op) [ACCEL_DTYPE_BOOL] = op##_u8,       \
	};
CMP_TAB(eq, a == b)
CMP_TAB(lt, a < b)
CMP_TAB(gt, a > b)
CMP_TAB(le, a <= b)
CMP_TAB(ge, a >= b)

/* ---- the generic (any dtype pair) Pow, through double ---- */

static double load_f64(accel_dtype dt, const void *p, int64_t i)
{
	switch (dt) {
	case ACCEL_DTYPE_F32: return ((const float *)p)[i];
	case ACCEL_DTYPE_F64: return ((const double *)p)[i];
	case ACCEL_DTYPE_I8: return ((const int8_t *)p)[i];
	case ACCEL_DTYPE_I16: return ((const int16_t *)p)[i];
	case ACCEL_DTYPE_I32: return ((const int32_t *)p)[i];
	case ACCEL_DTYPE_I64: return (double)((const int64_t *)p)[i];
	case ACCEL_DTYPE_U8: return ((const uint8_t *)p)[i];
	case ACCEL_DTYPE_U16: return ((const uint16_t *)p)[i];
	case ACCEL_DTYPE_U32: return ((const uint32_t *)p)[i];
	case ACCEL_DTYPE_U64: return (double)((const uint64_t *)p)[i];
	default: return 0;
	}
}

static void pow_any(const void *const *src, const int64_t *s, void *dst,
		    int64_t n, const void *arg)
{
	const ew_params *p = arg;

	for (int64_t i = 0; i < n; i++) {
		double v = pow(load_f64(p->adt, src[0], i * s[0]),
			       load_f64(p->bdt, src[1], i * s[1]));

		ew_convert(&v, ACCEL_DTYPE_F64, (char *)dst +
			   i * (int64_t)accel_dtype_size(p->adt), p->adt, 1);
	}
}

/* ---- Where: a select on element size, so every dtype works ---- */

#define WHERE_ROW(bits)                                                      \
	static void where_##bits(const void *const *src, const int64_t *s,  \
				 void *dst, int64_t n, const void *arg)     \
	{                                                                    \
		const uint8_t *c = src[0];                                   \
		const uint##bits##_t *x = src[1], *y = src[2];               \
		uint##bits##_t *o = dst;                                     \
		for (int64_t i = 0; i < n; i++)                              \
			o[i] = c[i * s[0]] ? x[i * s[1]] : y[i * s[2]];      \
	}
WHERE_ROW(8)
WHERE_ROW(16)
WHERE_ROW(32)
WHERE_ROW(64)

/* ---- half precision through float32 ---- */

bool ew_any_half(accel_tensor *const *t, int n)
{
	for (int i = 0; i < n; i++)
		if (t[i] && (t[i]->dtype == ACCEL_DTYPE_F16 ||
			     t[i]->dtype == ACCEL_DTYPE_BF16))
			return true;
	return false;
}

static void release_temps(accel_tensor **tmp, accel_tensor *const *orig, int n)
{
	for (int i = 0; i < n; i++)
		if (tmp[i] != orig[i])
			accel_tensor_release(tmp[i]);
}

/* A float32 twin of |t| (t itself when it is not half), data converted. */
static accel_status f32_twin(accel_tensor *t, bool copy, accel_tensor **out)
{
	*out = t;
	if (!t || (t->dtype != ACCEL_DTYPE_F16 && t->dtype != ACCEL_DTYPE_BF16))
		return NULL;
	ACCEL_TRY(tensor_new(ACCEL_DTYPE_F32, t->rank, t->dims, out));
	if (copy)
		ew_convert(t->data, t->dtype, (*out)->data, ACCEL_DTYPE_F32,
			   tensor_numel(t));
	return NULL;
}

accel_status ew_with_f32(const cpu_ctx *ctx, accel_tensor *const *in, int n_in,
			 accel_tensor *const *out, int n_out, cpu_exec_fn fn)
{
	accel_tensor **tin = calloc((size_t)(n_in + n_out) + 1, sizeof(*tin));
	accel_tensor **tout = tin + n_in;
	accel_status st = NULL;
	int i;

	if (!tin)
		return status_oom("float32 copies of half inputs");
	for (i = 0; i < n_in && !st; i++)
		st = f32_twin(in[i], true, &tin[i]);
	for (i = 0; i < n_out && !st; i++)
		st = f32_twin(out[i], false, &tout[i]);
	if (!st)
		st = fn(ctx, tin, n_in, tout, n_out);
	for (i = 0; i < n_out && !st; i++)
		if (tout[i] != out[i])
			ew_convert(tout[i]->data, ACCEL_DTYPE_F32, out[i]->data,
				   out[i]->dtype, tensor_numel(out[i]));
	release_temps(tin, in, n_in);
	release_temps(tout, out, n_out);
	free(tin);
	return st;
}

/* ---- kernels ---- */

static accel_status pick(const row_fn *tab, accel_dtype dt, row_fn *fn)
{
	*fn = (unsigned)dt < NTYPES ? tab[dt] : NULL;
	if (!*fn)
		return status_unsupported("inputs of type %s are not supported",
					  accel_dtype_name(dt));
	return NULL;
}

static accel_status same_types(accel_tensor *const *in, int n_in)
{
	for (int i = 1; i < n_in; i++)
		if (in[i] && in[i]->dtype != in[0]->dtype)
			return status_invalid("input %d has type %s but input 0 has %s",
					      i, accel_dtype_name(in[i]->dtype),
					      accel_dtype_name(in[0]->dtype));
	return NULL;
}

static accel_status run_binary(const cpu_ctx *ctx, accel_tensor *const *in,
			       accel_tensor *out, const row_fn *tab,
			       const ew_params *p)
{
	row_fn fn;

	ACCEL_TRY(same_types(in, 2));
	ACCEL_TRY(pick(tab, in[0]->dtype, &fn));
	return bcast_run(ctx, in, 2, out, fn, p);
}

#define BINARY_KERNEL(name, tab)                                          \
	static EW_KERNEL(name)                                            \
	{                                                                 \
		HALF_VIA_F32(name);                                       \
		return run_binary(ctx, in, out[0], tab, NULL);            \
	}
BINARY_KERNEL(ew_add, add_tab)
BINARY_KERNEL(ew_sub, sub_tab)
BINARY_KERNEL(ew_mul, mul_tab)
BINARY_KERNEL(ew_div, div_tab)
BINARY_KERNEL(ew_and, and_tab)
BINARY_KERNEL(ew_or, or_tab)
BINARY_KERNEL(ew_xor, xor_tab)
BINARY_KERNEL(ew_equal, eq_tab)
BINARY_KERNEL(ew_less, lt_tab)
BINARY_KERNEL(ew_greater, gt_tab)
BINARY_KERNEL(ew_less_equal, le_tab)
BINARY_KERNEL(ew_greater_equal, ge_tab)
BINARY_KERNEL(ew_prelu, prelu_tab)

static EW_KERNEL(ew_mod)
{
	int64_t fmod_attr = ir_attr_int(ctx->node, "fmod", 0);

	HALF_VIA_F32(ew_mod);
	return run_binary(ctx, in, out[0], fmod_attr ? fmod_tab : mod_tab,
			  NULL);
}

static EW_KERNEL(ew_bitshift)
{
	const char *dir = ir_attr_string(ctx->node, "direction", "");

	if (!strcmp(dir, "LEFT"))
		return run_binary(ctx, in, out[0], shl_tab, NULL);
	if (!strcmp(dir, "RIGHT"))
		return run_binary(ctx, in, out[0], shr_tab, NULL);
	return status_bad_model("attribute 'direction' is '%s', not LEFT or RIGHT",
				dir);
}

static EW_KERNEL(ew_pow)
{
	ew_params p = { .adt = in[0]->dtype, .bdt = in[1]->dtype };

	HALF_VIA_F32(ew_pow);
	if (p.adt == p.bdt && (unsigned)p.adt < NTYPES && pow_tab[p.adt])
		return bcast_run(ctx, in, 2, out[0], pow_tab[p.adt], &p);
	if (!(dtype_is_float(p.adt) || dtype_is_int(p.adt)) ||
	    !(dtype_is_float(p.bdt) || dtype_is_int(p.bdt)))
		return status_unsupported("Pow of %s by %s is not supported",
					  accel_dtype_name(p.adt),
					  accel_dtype_name(p.bdt));
	return bcast_run(ctx, in, 2, out[0], pow_any, &p);
}

/* Fold the inputs pairwise into the output, which doubles as accumulator. */
static accel_status run_variadic(const cpu_ctx *ctx, accel_tensor *const *in,
				 int n_in, accel_tensor *out, const row_fn *tab)
{
	accel_tensor *pair[2];
	row_fn fn;

	ACCEL_TRY(same_types(in, n_in));
	ACCEL_TRY(pick(tab, in[0]->dtype, &fn));
	if (n_in == 1) { /* a copy: the schema gave out the input's shape */
		if (in[0]->nbytes != out->nbytes)
			return status_invalid("output size differs from input 0");
		memcpy(out->data, in[0]->data, out->nbytes);
		return NULL;
	}
	pair[0] = in[0];
	pair[1] = in[1];
	ACCEL_TRY(bcast_run(ctx, pair, 2, out, fn, NULL));
	for (int k = 2; k < n_in; k++) {
		pair[0] = out;
		pair[1] = in[k];
		ACCEL_TRY(bcast_run(ctx, pair, 2, out, fn, NULL));
	}
	return NULL;
}

#define VARIADIC_KERNEL(name, tab)                                        \
	static EW_KERNEL(name)                                            \
	{                                                                 \
		HALF_VIA_F32(name);                                       \
		return run_variadic(ctx, in, n_in, out[0], tab);          \
	}
VARIADIC_KERNEL(ew_max, max_tab)
VARIADIC_KERNEL(ew_min, min_tab)
VARIADIC_KERNEL(ew_sum, add_tab)

static EW_KERNEL(ew_mean)
{
	accel_tensor *o = out[0];
	int64_t n = tensor_numel(o);

	HALF_VIA_F32(ew_mean);
	if (!dtype_is_float(in[0]->dtype))
		return status_unsupported("Mean of %s inputs is not supported",
					  accel_dtype_name(in[0]->dtype));
	ACCEL_TRY(run_variadic(ctx, in, n_in, o, add_tab));
	if (o->dtype == ACCEL_DTYPE_F32) {
		float *d = o->data, k = 1.0f / (float)n_in;

		for (int64_t i = 0; i < n; i++)
			d[i] *= k;
	} else {
		double *d = o->data;

		for (int64_t i = 0; i < n; i++)
			d[i] /= n_in;
	}
	return NULL;
}

static EW_KERNEL(ew_where)
{
	static const row_fn by_size[9] = {
		[1] = where_8, [2] = where_16, [4] = where_32, [8] = where_64,
	};
	size_t es = accel_dtype_size(in[1]->dtype);

	if (in[0]->dtype != ACCEL_DTYPE_BOOL)
		return status_invalid("input 'condition' has type %s, not bool",
				      accel_dtype_name(in[0]->dtype));
	if (in[2]->dtype != in[1]->dtype)
		return status_invalid("input 'Y' has type %s but 'X' has %s",
				      accel_dtype_name(in[2]->dtype),
				      accel_dtype_name(in[1]->dtype));
	if (es == 0 || es > 8 || !by_size[es])
		return status_unsupported("Where on %s values is not supported",
					  accel_dtype_name(in[1]->dtype));
	return bcast_run(ctx, in, 3, out[0], by_size[es], NULL);
}

const cpu_kernel cpu_kernels_elementwise[] = {
	{ "Add", "", ew_add },
	{ "Sub", "", ew_sub },
	{ "Mul", "", ew_mul },
	{ "Div", "", ew_div },
	{ "Pow", "", ew_pow },
	{ "Mod", "", ew_mod },
	{ "BitShift", "", ew_bitshift },
	{ "And", "", ew_and },
	{ "Or", "", ew_or },
	{ "Xor", "", ew_xor },
	{ "Equal", "", ew_equal },
	{ "Less", "", ew_less },
	{ "Greater", "", ew_greater },
	{ "LessOrEqual", "", ew_less_equal },
	{ "GreaterOrEqual", "", ew_greater_equal },
	{ "Max", "", ew_max },
	{ "Min", "", ew_min },
	{ "Sum", "", ew_sum },
	{ "Mean", "", ew_mean },
	{ "PRelu", "", ew_prelu },
	{ "Where", "", ew_where },
	{ "Abs", "", ew_abs },
	{ "Neg", "", ew_neg },
	{ "Sqrt", "", ew_sqrt },
	{ "Exp", "", ew_exp },
	{ "Log", "", ew_log },
	{ "Reciprocal", "", ew_reciprocal },
	{ "Floor", "", ew_floor },
	{ "Ceil", "", ew_ceil },
	{ "Round", "", ew_round },
	{ "Sign", "", ew_sign },
	{ "Sin", "", ew_sin },
	{ "Cos", "", ew_cos },
	{ "Tan", "", ew_tan },
	{ "Asin", "", ew_asin },
	{ "Acos", "", ew_acos },
	{ "Atan", "", ew_atan },
	{ "Sinh", "", ew_sinh },
	{ "Cosh", "", ew_cosh },
	{ "Asinh", "", ew_asinh },
	{ "Acosh", "", ew_acosh },
	{ "Atanh", "", ew_atanh },
	{ "Erf", "", ew_erf },
	{ "Sigmoid", "", ew_sigmoid },
	{ "Tanh", "", ew_tanh },
	{ "Relu", "", ew_relu },
	{ "LeakyRelu", "", ew_leakyrelu },
	{ "Elu", "", ew_elu },
	{ "Selu", "", ew_selu },
	{ "Celu", "", ew_celu },
	{ "HardSigmoid", "", ew_hardsigmoid },
	{ "HardSwish", "", ew_hardswish },
	{ "Softsign", "", ew_softsign },
	{ "Softplus", "", ew_softplus },
	{ "ThresholdedRelu", "", ew_thresholdedrelu },
	{ "Shrink", "", ew_shrink },
	{ "Gelu", "", ew_gelu },
	{ "Clip", "", ew_clip },
	{ "IsNaN", "", ew_isnan },
	{ "IsInf", "", ew_isinf },
	{ "Not", "", ew_not },
	{ "Cast", "", ew_cast },
	{ "CastLike", "", ew_castlike },
	{ 0 },
};
