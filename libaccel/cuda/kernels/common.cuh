// SPDX-License-Identifier: MIT
// common.cuh - what the device code shares: index types, the broadcast
// descriptor (must match exec_elementwise.c), grid-stride loops, and the
// fused activations of the GEMM epilogue (must match cuda_act in internal.h).
#pragma once

#define CUDA_BC_RANK 6

struct bcast {
	int rank;
	int dims[CUDA_BC_RANK];
	int st[3][CUDA_BC_RANK];
};

#define GRID_STRIDE(i, n)                                                          \
	for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
	     i += (long long)blockDim.x * gridDim.x)

// Offset of output element |i| in operand |k| under broadcasting.
__device__ __forceinline__ long long bc_offset(const bcast &b, int k, long long i)
{
	long long off = 0;

	for (int d = b.rank - 1; d >= 0; d--) {
		long long q = i / b.dims[d];

		off += (i - q * b.dims[d]) * b.st[k][d];
		i = q;
	}
	return off;
}

enum { ACT_NONE, ACT_CLAMP, ACT_SIGMOID, ACT_HARDSIGMOID, ACT_HARDSWISH, ACT_LEAKYRELU,
       ACT_SILU, ACT_GELU, ACT_GELU_TANH };

struct act_desc {
	int kind;
	float lo, hi, alpha, beta;
};

__device__ __forceinline__ float act_apply(const act_desc &a, float v)
{
	switch (a.kind) {
	case ACT_CLAMP: return fminf(fmaxf(v, a.lo), a.hi);
	case ACT_SIGMOID: return 1.0f / (1.0f + __expf(-v));
	case ACT_HARDSIGMOID: return fminf(fmaxf(a.alpha * v + a.beta, 0.0f), 1.0f);
	case ACT_HARDSWISH: return v * fminf(fmaxf(v / 6.0f + 0.5f, 0.0f), 1.0f);
	case ACT_LEAKYRELU: return v < 0.0f ? a.alpha * v : v;
	case ACT_SILU: return v / (1.0f + __expf(-v));
	case ACT_GELU: return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
	case ACT_GELU_TANH:
		return 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
	default: return v;
	}
}

// Sum or max over the block (blockDim.x a multiple of 32, at most 1024);
// every thread gets the result.
__device__ __forceinline__ float warp_sum(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

__device__ __forceinline__ float warp_max(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}

__device__ float block_sum(float v)
{
	__shared__ float part[32];
	int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;

	v = warp_sum(v);
	__syncthreads();
	if (lane == 0)
		part[w] = v;
	__syncthreads();
	v = lane < nw ? part[lane] : 0.0f;
	return warp_sum(v);
}

__device__ float block_max(float v)
{
	__shared__ float part[32];
	int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;

	v = warp_max(v);
	__syncthreads();
	if (lane == 0)
		part[w] = v;
	__syncthreads();
	v = lane < nw ? part[lane] : -INFINITY;
	return warp_max(v);
}

// Sliding-window geometry of Conv and the pools (must match conv_geom in
// exec_linalg.c / exec_nn.c); 1-D windows have H = KH = OH = 1.
struct conv_geom {
	int N, C, H, W, M, G, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw;
};
