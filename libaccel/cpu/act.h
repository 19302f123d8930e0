/* SPDX-License-Identifier: MIT */
/*
 * act.h - the activations that fused kernels (FusedConv, FusedGemm,
 * FusedMatMul) apply in their write-back, vectorized over a row.
 *
 * The node attributes of the "com.accel" fused operators name them:
 * "activation" (Relu, Clip, Sigmoid, HardSigmoid, HardSwish, LeakyRelu,
 * Silu, Gelu), "activation_min"/"activation_max" (Clip),
 * "activation_alpha"/"activation_beta" (LeakyRelu, HardSigmoid) and
 * "activation_approximate" (Gelu: "none" or "tanh").
 *
 * Relu and Clip are a clamp done in registers by the GEMM micro-kernel; the
 * others are run over a tile's rows right after the store, while the tile is
 * still in L1. exp and erf are polynomial approximations accurate to a few
 * ulp (relative error < 1e-6), ample for float32 inference.
 */
#ifndef ACCEL_CPU_ACT_H
#define ACCEL_CPU_ACT_H

#include "ir/graph.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef enum cpu_act_kind {
	CPU_ACT_NONE = 0,
	CPU_ACT_CLAMP,	     /* Relu, Clip: min(max(x, lo), hi) */
	CPU_ACT_SIGMOID,
	CPU_ACT_HARDSIGMOID, /* max(0, min(1, alpha * x + beta)) */
	CPU_ACT_HARDSWISH,   /* x * max(0, min(1, x / 6 + 0.5)) */
	CPU_ACT_LEAKYRELU,   /* x < 0 ? alpha * x : x */
	CPU_ACT_SILU,	     /* x * sigmoid(x) */
	CPU_ACT_GELU,	     /* 0.5 x (1 + erf(x / sqrt 2)) */
	CPU_ACT_GELU_TANH,   /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
} cpu_act_kind;

typedef struct cpu_act {
	cpu_act_kind kind;
	float lo, hi;	    /* CPU_ACT_CLAMP */
	float alpha, beta; /* HardSigmoid, LeakyRelu */
} cpu_act;

typedef float act_v16 __attribute__((vector_size(64)));
typedef int32_t act_v16i __attribute__((vector_size(64)));

#define ACT_INLINE static inline __attribute__((always_inline))

/* C has no ?: on vectors: select by the all-ones/all-zeros lanes of |m|. */
ACT_INLINE act_v16 act_sel(act_v16i m, act_v16 a, act_v16 b)
{
	return (act_v16)(((act_v16i)a & m) | ((act_v16i)b & ~m));
}

ACT_INLINE act_v16 act_max(act_v16 a, act_v16 b)
{
	return act_sel(a > b, a, b);
}

ACT_INLINE act_v16 act_min(act_v16 a, act_v16 b)
{
	return act_sel(a < b, a, b);
}

/*
 * a * b + c fused: ISO C mode (-std=c11) keeps GCC from contracting
 * vector mul + add into FMA, which doubles a polynomial's cost.
 */
ACT_INLINE act_v16 act_fma(act_v16 a, act_v16 b, act_v16 c)
{
#if defined(__AVX512F__)
	return (act_v16)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#else
	return a * b + c;
#endif
}

/* 2^n * p(r), r = x - n ln2 in [-ln2/2, ln2/2]: Cephes' expf polynomial. */
ACT_INLINE act_v16 act_exp(act_v16 x)
{
	const act_v16 z = { 0 }, magic = z + 12582912.0f; /* 1.5 * 2^23 */
	act_v16i under = x < -87.3f; /* exp(-inf) and the like: exactly 0 */
	act_v16 t, n, r, p;
	act_v16i bits;

	x = act_min(act_max(x, z - 87.3f), z + 88.3f);
	/* Round to nearest by adding the magic number: n stays exact. */
	t = act_fma(x, z + 1.44269504f, magic);
	n = t - magic;
	r = act_fma(n, z - 0.693359375f, x);
	r = act_fma(n, z + 2.12194440e-4f, r);
	p = act_fma(r, z + 1.9875691500e-4f, z + 1.3981999507e-3f);
	p = act_fma(p, r, z + 8.3334519073e-3f);
	p = act_fma(p, r, z + 4.1665795894e-2f);
	p = act_fma(p, r, z + 1.6666665459e-1f);
	p = act_fma(p, r, z + 5.0000001201e-1f);
	p = act_fma(p, r * r, r + 1.0f);
	bits = (__builtin_convertvector(n, act_v16i) + 127) << 23;
	return act_sel(under, z, p * (act_v16)bits);
}

/*
 * 1 / x. AVX-512's 14-bit reciprocal estimate plus one Newton step is
 * within 1 ulp or so, and several times cheaper than vdivps, which
 * dominated Sigmoid and SiLU.
 */
ACT_INLINE act_v16 act_recip(act_v16 x)
{
#if defined(__AVX512F__)
	act_v16 r = (act_v16)_mm512_rcp14_ps((__m512)x);

	return r * act_fma(-x, r, (act_v16){ 0 } + 2.0f);
#else
	return 1.0f / x;
#endif
}

/* erf, Abramowitz & Stegun 7.1.26: |error| < 1.5e-7. */
ACT_INLINE act_v16 act_erf(act_v16 x)
{
	act_v16i neg = x < 0.0f;
	act_v16 ax = act_sel(neg, -x, x), t, y;
	act_v16 z = { 0 };

	t = act_recip(act_fma(ax, z + 0.3275911f, z + 1.0f));
	y = act_fma(t, z + 1.061405429f, z - 1.453152027f);
	y = act_fma(y, t, z + 1.421413741f);
	y = act_fma(y, t, z - 0.284496736f);
	y = act_fma(y, t, z + 0.254829592f);
	y = 1.0f - y * t * act_exp(-ax * ax);
	return act_sel(neg, -y, y);
}

ACT_INLINE act_v16 act_one(const cpu_act *a, act_v16 x)
{
	act_v16 z = { 0 }, one = z + 1.0f, t;

	switch (a->kind) {
	case CPU_ACT_NONE:
		return x;
	case CPU_ACT_CLAMP:
		return act_min(act_max(x, z + a->lo), z + a->hi);
	case CPU_ACT_SIGMOID:
		return act_recip(one + act_exp(-x));
	case CPU_ACT_HARDSIGMOID:
		return act_min(act_max(a->alpha * x + a->beta, z), one);
	case CPU_ACT_HARDSWISH:
		return x * act_min(act_max(x * (1.0f / 6.0f) + 0.5f, z), one);
	case CPU_ACT_LEAKYRELU:
		return act_sel(x < 0.0f, a->alpha * x, x);
	case CPU_ACT_SILU:
		return x * act_recip(one + act_exp(-x));
	case CPU_ACT_GELU:
		return 0.5f * x * (one + act_erf(x * 0.70710678f));
	case CPU_ACT_GELU_TANH:
		/* 1 + tanh(u) = 2 / (1 + exp(-2u)) */
		t = 0.7978845608f * (x + 0.044715f * x * x * x);
		return x * act_recip(one + act_exp(-2.0f * t));
	}
	return x;
}

/* p[0 .. n) = act(p[0 .. n)). */
static inline void cpu_act_row(const cpu_act *a, float *p, int64_t n)
{
	int64_t i = 0;

	if (a->kind == CPU_ACT_NONE)
		return;
	for (; i + 16 <= n; i += 16) {
		act_v16 v;

		memcpy(&v, p + i, sizeof(v));
		v = act_one(a, v);
		memcpy(p + i, &v, sizeof(v));
	}
	if (i < n) {
#if defined(__AVX512F__)
		/* Masked: a variable-length memcpy costs more than the math. */
		__mmask16 k = (__mmask16)((1u << (n - i)) - 1);
		act_v16 v = (act_v16)_mm512_maskz_loadu_ps(k, p + i);

		_mm512_mask_storeu_ps(p + i, k, (__m512)act_one(a, v));
#else
		act_v16 v = { 0 };

		memcpy(&v, p + i, sizeof(float) * (size_t)(n - i));
		v = act_one(a, v);
		memcpy(p + i, &v, sizeof(float) * (size_t)(n - i));
#endif
	}
}

/*
 * The activation that a node's "activation*" attributes ask for. Fails
 * for an unknown name, naming it.
 */
accel_status cpu_act_from_node(const ir_node *node, cpu_act *out_act);

#endif /* ACCEL_CPU_ACT_H */
