// SPDX-License-Identifier: MIT
// elementwise.cu - broadcasting binary operators and the unary operators
// on float32. The op code selects the operation (exec_elementwise.c keeps
// the table); one kernel per family keeps the module small.
#include "common.cuh"

enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_POW, BIN_MAX, BIN_MIN, BIN_PRELU };

extern "C" __global__ void ew_binary_f32(float *y, const float *a, const float *b,
					 long long n, int op, bcast bc)
{
	GRID_STRIDE(i, n) {
		float x = a[bc_offset(bc, 0, i)], z = b[bc_offset(bc, 1, i)], v;

		switch (op) {
		case BIN_ADD: v = x + z; break;
		case BIN_SUB: v = x - z; break;
		case BIN_MUL: v = x * z; break;
		case BIN_DIV: v = x / z; break;
		case BIN_POW: v = powf(x, z); break;
		case BIN_MAX: v = fmaxf(x, z); break;
		case BIN_MIN: v = fminf(x, z); break;
		default: v = x < 0.0f ? x * z : x; break;
		}
		y[i] = v;
	}
}

enum { UN_RELU, UN_LEAKYRELU, UN_SIGMOID, UN_TANH, UN_EXP, UN_LOG, UN_SQRT, UN_ABS, UN_NEG,
       UN_RECIPROCAL, UN_ERF, UN_GELU, UN_GELU_TANH, UN_CLIP, UN_HARDSIGMOID, UN_HARDSWISH,
       UN_SOFTPLUS, UN_ELU, UN_FLOOR, UN_CEIL, UN_SIN, UN_COS, UN_IDENTITY };

extern "C" __global__ void ew_unary_f32(float *y, const float *x, long long n, int op,
					float alpha, float beta)
{
	GRID_STRIDE(i, n) {
		float v = x[i];

		switch (op) {
		case UN_RELU: v = fmaxf(v, 0.0f); break;
		case UN_LEAKYRELU: v = v < 0.0f ? alpha * v : v; break;
		case UN_SIGMOID: v = 1.0f / (1.0f + expf(-v)); break;
		case UN_TANH: v = tanhf(v); break;
		case UN_EXP: v = expf(v); break;
		case UN_LOG: v = logf(v); break;
		case UN_SQRT: v = sqrtf(v); break;
		case UN_ABS: v = fabsf(v); break;
		case UN_NEG: v = -v; break;
		case UN_RECIPROCAL: v = 1.0f / v; break;
		case UN_ERF: v = erff(v); break;
		case UN_GELU: v = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); break;
		case UN_GELU_TANH:
			v = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
			break;
		case UN_CLIP: v = fminf(fmaxf(v, alpha), beta); break;
		case UN_HARDSIGMOID: v = fminf(fmaxf(alpha * v + beta, 0.0f), 1.0f); break;
		case UN_HARDSWISH: v = v * fminf(fmaxf(v / 6.0f + 0.5f, 0.0f), 1.0f); break;
		case UN_SOFTPLUS: v = v > 20.0f ? v : log1pf(expf(v)); break;
		case UN_ELU: v = v < 0.0f ? alpha * (expf(v) - 1.0f) : v; break;
		case UN_FLOOR: v = floorf(v); break;
		case UN_CEIL: v = ceilf(v); break;
		case UN_SIN: v = sinf(v); break;
		case UN_COS: v = cosf(v); break;
		default: break;
		}
		y[i] = v;
	}
}
