/* SPDX-License-Identifier: MIT */
/*
 * elementwise_unary.c - CPU kernels of the unary elementwise operators
 * (math functions, activations, Clip, IsNaN/IsInf, Not).
 *
 * Each operator is one expression of |x| (type T) instantiated per dtype;
 * <tgmath.h> picks the float or double libm function, so float32 stays in
 * float32. Half types go through float32 (ew_with_f32).
 */
#include "cpu/elementwise.h"

#include <stdint.h>
#include <string.h>
#include <tgmath.h>

typedef struct un_params {
	float alpha, beta, gamma, lambd, bias;
	int64_t approx_tanh, detect_pos, detect_neg;
	double flo, fhi;     /* Clip bounds for float types */
	int64_t ilo, ihi;    /* ... for signed and narrow unsigned types */
	uint64_t ulo, uhi;   /* ... for uint64 */
} un_params;

typedef void (*un_fn)(const void *src, void *dst, int64_t n,
		      const un_params *p);

/* |P| is a local copy so that stores to |o| cannot alias the parameters. */
#define UN_ROW(fname, TYPE, TOUT, EXPR)                                    \
	static void fname(const void *src, void *dst, int64_t n,           \
			  const un_params *p)                              \
	{                                                                  \
		typedef TYPE T;                                            \
		const T *in = src;                                         \
		TOUT *o = dst;                                             \
		const un_params P = *p;                                    \
		(void)P;                                                   \
		for (int64_t i = 0; i < n; i++) {                          \
			T x = in[i];                                       \
			o[i] = (TOUT)(EXPR);                               \
		}                                                          \
	}

#define GEN_UN(sfx, T, DT, op, EXPR) UN_ROW(op##_##sfx, T, T, EXPR)
#define GEN_UN_BOOL(sfx, T, DT, op, EXPR) UN_ROW(op##_##sfx, T, uint8_t, EXPR)

/* A float-only operator: loops, table and kernel in one go. */
#define FLOAT_OP(op, EXPR)                                                 \
	FLOAT_TYPES(GEN_UN, op, EXPR)                                      \
	static const un_fn op##_tab[NTYPES] = { FLOAT_TYPES(ENTRY, op) };  \
	EW_KERNEL(ew_##op)                                                 \
	{                                                                  \
		un_params p;                                               \
		HALF_VIA_F32(ew_##op);                                     \
		params_from_attrs(ctx->node, &p);                          \
		return run_unary(ctx, in[0], out[0], op##_tab, &p);        \
	}

typedef struct un_job {
	const char *src;
	char *dst;
	size_t isz, osz;
	un_fn fn;
	const un_params *p;
} un_job;

static void un_range(void *arg, int64_t begin, int64_t end)
{
	const un_job *j = arg;

	j->fn(j->src + begin * (int64_t)j->isz, j->dst + begin * (int64_t)j->osz,
	      end - begin, j->p);
}

static accel_status run_unary(const cpu_ctx *ctx, const accel_tensor *x,
			      accel_tensor *y, const un_fn *tab,
			      const un_params *p)
{
	un_job job = { .src = x->data, .dst = y->data, .p = p };

	job.fn = (unsigned)x->dtype < NTYPES ? tab[x->dtype] : NULL;
	if (!job.fn)
		return status_unsupported("input of type %s is not supported",
					  accel_dtype_name(x->dtype));
	job.isz = accel_dtype_size(x->dtype);
	job.osz = accel_dtype_size(y->dtype);
	/* Transcendental loops cost more per element: smaller chunks. */
	parallel_for(ctx->pool, tensor_numel(y), EW_GRAIN / 4, un_range, &job);
	return NULL;
}

static void params_from_attrs(const ir_node *n, un_params *p)
{
	const char *op = n->op_type;
	bool selu = !strcmp(op, "Selu"), hsig = !strcmp(op, "HardSigmoid");
	float alpha_def = 1.0f;

	if (!strcmp(op, "LeakyRelu"))
		alpha_def = 0.01f;
	else if (selu)
		alpha_def = 1.67326319217681884765625f;
	else if (hsig)
		alpha_def = 0.2f;
	p->alpha = ir_attr_float(n, "alpha", alpha_def);
	p->beta = ir_attr_float(n, "beta", hsig ? 0.5f : 0.0f);
	p->gamma = ir_attr_float(n, "gamma", 1.05070102214813232421875f);
	p->lambd = ir_attr_float(n, "lambd", 0.5f);
	p->bias = ir_attr_float(n, "bias", 0.0f);
	p->approx_tanh = !strcmp(ir_attr_string(n, "approximate", "none"), "tanh");
	p->detect_pos = ir_attr_int(n, "detect_positive", 1);
	p->detect_neg = ir_attr_int(n, "detect_negative", 1);
}

/*
 * float32 exp, tanh and erf written so that gcc vectorises the loops that
 * call them (libm's scalar calls do not vectorise). Max relative error
 * against double precision: exp 8e-8, tanh 1.4e-7, erf 4e-7.
 */
static inline float fast_expf(float x)
{
	/* Clamp so 2^n stays representable; NaN is restored at the end. */
	float xc = x > 89.0f ? 89.0f : x;
	float n, r, p, s1, s2;
	int32_t ni, h;
	uint32_t b1, b2;

	xc = xc > -104.0f ? xc : -104.0f;
	/* Round to nearest by the 1.5 * 2^23 trick: floorf does not vectorise. */
	n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
	r = xc - n * 0.693359375f + n * 2.12194440e-4f; /* Cody-Waite */
	p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * r * r + r + 1.0f;
	/* 2^n as two factors, so n down to -150 and up to 129 both work. */
	ni = (int32_t)n;
	h = ni / 2;
	b1 = (uint32_t)(h + 127) << 23;
	b2 = (uint32_t)(ni - h + 127) << 23;
	memcpy(&s1, &b1, sizeof(s1));
	memcpy(&s2, &b2, sizeof(s2));
	p = p * s1 * s2;
	return x != x ? x : p;
}

static inline float fast_tanhf(float x)
{
	float ax = x < 0 ? -x : x, z = x * x, e, big, small;

	/* Small |x|: odd polynomial, avoiding 1 - 2/(e+1) cancellation. */
	small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z -
		   5.37397155531e-2f) * z + 1.33314422036e-1f) * z -
		 3.33332819422e-1f) * z * x + x;
	e = fast_expf(2.0f * (ax > 44.0f ? 44.0f : ax));
	big = 1.0f - 2.0f / (e + 1.0f);
	big = x < 0 ? -big : big;
	return ax < 0.625f ? small : big;
}

/* A rational approximation on [-4, 4]; erf is +-1 in float32 beyond. */
static inline float fast_erff(float a)
{
	float x = a > 4.0f ? 4.0f : a < -4.0f ? -4.0f : a, x2 = x * x, p, q;

	p = -2.72614225801306e-10f;
	p = p * x2 + 2.77068142495902e-08f;
	p = p * x2 - 2.10102402082508e-06f;
	p = p * x2 - 5.69250639462346e-05f;
	p = p * x2 - 7.34990630326855e-04f;
	p = p * x2 - 2.95459980854025e-03f;
	p = p * x2 - 1.60960333262415e-02f;
	q = -1.45660718464996e-05f;
	q = q * x2 - 2.13374055278905e-04f;
	q = q * x2 - 1.68282697438203e-03f;
	q = q * x2 - 7.37332916720468e-03f;
	q = q * x2 - 1.42647390514189e-02f;
	return x * p / q;
}

/* Fast float32 versions, libm for double (the names are not macro calls). */
#define EXP(v) _Generic((v), float: fast_expf, default: exp)(v)
#define TANH(v) _Generic((v), float: fast_tanhf, default: tanh)(v)
#define ERF(v) _Generic((v), float: fast_erff, default: erf)(v)

#define CLAMP01(v) ((v) < 0 ? (T)0 : (v) > 1 ? (T)1 : (v))

FLOAT_OP(sqrt, sqrt(x))
FLOAT_OP(exp, EXP(x))
FLOAT_OP(log, log(x))
FLOAT_OP(reciprocal, (T)1 / x)
FLOAT_OP(floor, floor(x))
FLOAT_OP(ceil, ceil(x))
FLOAT_OP(round, nearbyint(x)) /* default rounding mode: half to even */
FLOAT_OP(sin, sin(x))
FLOAT_OP(cos, cos(x))
FLOAT_OP(tan, tan(x))
FLOAT_OP(asin, asin(x))
FLOAT_OP(acos, acos(x))
FLOAT_OP(atan, atan(x))
FLOAT_OP(sinh, sinh(x))
FLOAT_OP(cosh, cosh(x))
FLOAT_OP(asinh, asinh(x))
FLOAT_OP(acosh, acosh(x))
FLOAT_OP(atanh, atanh(x))
FLOAT_OP(erf, ERF(x))
FLOAT_OP(sigmoid, (T)1 / ((T)1 + EXP(-x)))
FLOAT_OP(tanh, TANH(x))
FLOAT_OP(leakyrelu, x < 0 ? (T)P.alpha * x : x)
FLOAT_OP(elu, x < 0 ? (T)P.alpha * (EXP(x) - (T)1) : x)
FLOAT_OP(selu, x <= 0 ? (T)P.gamma * ((T)P.alpha * EXP(x) - (T)P.alpha)
		      : (T)P.gamma * x)
FLOAT_OP(celu, x > 0 ? x : (T)P.alpha * (EXP(x / (T)P.alpha) - (T)1))
FLOAT_OP(hardsigmoid, CLAMP01((T)P.alpha * x + (T)P.beta))
FLOAT_OP(hardswish, x * CLAMP01(x * (T)(1.0 / 6.0) + (T)0.5))
FLOAT_OP(softsign, x / ((T)1 + fabs(x)))
/* log(1 + exp(x)) without overflow for large x. */
FLOAT_OP(softplus, x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)))
FLOAT_OP(thresholdedrelu, x > (T)P.alpha ? x : (T)0)
FLOAT_OP(shrink, x < -(T)P.lambd ? x + (T)P.bias
		 : x > (T)P.lambd ? x - (T)P.bias : (T)0)
/* Gelu: exact (erf) or the tanh approximation, chosen per element loop. */
FLOAT_OP(gelu, P.approx_tanh
	 ? (T)0.5 * x * ((T)1 + TANH((T)0.7978845608028654 *
				      (x + (T)0.044715 * x * x * x)))
	 : (T)0.5 * x * ((T)1 + ERF(x * (T)0.7071067811865476)))

/* ---- operators that also take integers ---- */

#define INT_OP(op, SEXPR, UEXPR, FEXPR)                                    \
	SINT_TYPES(GEN_UN, op, SEXPR)                                      \
	UINT_TYPES(GEN_UN, op, UEXPR)                                      \
	FLOAT_TYPES(GEN_UN, op, FEXPR)                                     \
	static const un_fn op##_tab[NTYPES] = {                            \
		SINT_TYPES(ENTRY, op) UINT_TYPES(ENTRY, op)                \
		FLOAT_TYPES(ENTRY, op)                                     \
	};                                                                 \
	EW_KERNEL(ew_##op)                                                 \
	{                                                                  \
		un_params p = { 0 };                                       \
		HALF_VIA_F32(ew_##op);                                     \
		return run_unary(ctx, in[0], out[0], op##_tab, &p);        \
	}

/* Integer negation wraps (INT_MIN stays INT_MIN) instead of being UB. */
#define INEG(v) (T)(0 - (uint64_t)(v))
INT_OP(abs, x < 0 ? INEG(x) : x, x, fabs(x))
INT_OP(neg, INEG(x), INEG(x), -x)
INT_OP(sign, (x > 0) - (x < 0), x > 0, x > 0 ? (T)1 : x < 0 ? (T)-1 : x)
INT_OP(relu, x > 0 ? x : 0, x, x < 0 ? (T)0 : x)

/* Clip: x < lo ? lo : x, then > hi ? hi, so lo > hi gives hi like numpy. */
#define CLIP(lo, hi) ((x < (lo) ? (lo) : x) > (hi) ? (hi) : (x < (lo) ? (lo) : x))
SINT_TYPES(GEN_UN, clip, CLIP(P.ilo, P.ihi))
UN_ROW(clip_u8, uint8_t, uint8_t, CLIP(P.ilo, P.ihi))
UN_ROW(clip_u16, uint16_t, uint16_t, CLIP(P.ilo, P.ihi))
UN_ROW(clip_u32, uint32_t, uint32_t, CLIP(P.ilo, P.ihi))
UN_ROW(clip_u64, uint64_t, uint64_t, CLIP(P.ulo, P.uhi))
FLOAT_TYPES(GEN_UN, clip, CLIP((T)P.flo, (T)P.fhi))
static const un_fn clip_tab[NTYPES] = {
	SINT_TYPES(ENTRY, clip) UINT_TYPES(ENTRY, clip) FLOAT_TYPES(ENTRY, clip)
};

/* Read one Clip bound (opset >= 11 input, or opset < 11 attribute). */
static void clip_bound(const cpu_ctx *ctx, const accel_tensor *t,
		       const char *attr, bool is_lo, un_params *p)
{
	const ir_attr *a = ir_node_attr(ctx->node, attr);

	if (ctx->node->opset < 11 && a) {
		if (is_lo)
			p->flo = a->f;
		else
			p->fhi = a->f;
		return;
	}
	if (!t || !t->data || tensor_numel(t) < 1)
		return;
	if (is_lo) {
		p->flo = tensor_get_f64(t, 0);
		p->ilo = tensor_get_i64(t, 0);
		p->ulo = (uint64_t)tensor_get_i64(t, 0);
	} else {
		p->fhi = tensor_get_f64(t, 0);
		p->ihi = tensor_get_i64(t, 0);
		p->uhi = (uint64_t)tensor_get_i64(t, 0);
	}
}

EW_KERNEL(ew_clip)
{
	un_params p = {
		.flo = -INFINITY, .fhi = INFINITY,
		.ilo = INT64_MIN, .ihi = INT64_MAX,
		.ulo = 0, .uhi = UINT64_MAX,
	};

	HALF_VIA_F32(ew_clip);
	for (int i = 1; i < n_in && i < 3; i++)
		if (in[i] && in[i]->dtype != in[0]->dtype)
			return status_invalid("input %d ('%s') has type %s, not %s like input",
					      i, i == 1 ? "min" : "max",
					      accel_dtype_name(in[i]->dtype),
					      accel_dtype_name(in[0]->dtype));
	clip_bound(ctx, n_in > 1 ? in[1] : NULL, "min", true, &p);
	clip_bound(ctx, n_in > 2 ? in[2] : NULL, "max", false, &p);
	return run_unary(ctx, in[0], out[0], clip_tab, &p);
}

/* ---- predicates ---- */

FLOAT_TYPES(GEN_UN_BOOL, isnan, x != x)
FLOAT_TYPES(GEN_UN_BOOL, isinf,
	    isinf(x) && ((x > 0 && P.detect_pos) || (x < 0 && P.detect_neg)))
static const un_fn isnan_tab[NTYPES] = { FLOAT_TYPES(ENTRY, isnan) };
static const un_fn isinf_tab[NTYPES] = { FLOAT_TYPES(ENTRY, isinf) };

EW_KERNEL(ew_isnan)
{
	un_params p = { 0 };

	HALF_VIA_F32(ew_isnan);
	return run_unary(ctx, in[0], out[0], isnan_tab, &p);
}

EW_KERNEL(ew_isinf)
{
	un_params p;

	HALF_VIA_F32(ew_isinf);
	params_from_attrs(ctx->node, &p);
	return run_unary(ctx, in[0], out[0], isinf_tab, &p);
}

UN_ROW(not_b, uint8_t, uint8_t, !x)
static const un_fn not_tab[NTYPES] = { [ACCEL_DTYPE_BOOL] = not_b };

EW_KERNEL(ew_not)
{
	un_params p = { 0 };

	return run_unary(ctx, in[0], out[0], not_tab, &p);
}
