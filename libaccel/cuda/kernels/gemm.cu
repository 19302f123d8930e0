// SPDX-License-Identifier: MIT
// gemm.cu - one strided, batched float32 GEMM with an epilogue (alpha,
// beta * bias, residual, activation) for MatMul, Gemm, Conv and their
// com.accel fused forms; im2col and a direct convolution for thin groups.
#include "common.cuh"

#define GEMM_BRANK 4

// Must match gemm_desc in exec_linalg.c.
struct gemm_desc {
	int M, N, K;
	int a_rs, a_cs, b_rs, b_cs, c_rs, bias_rs, bias_cs;
	long long a_off, b_off, c_off;
	float alpha, beta;
	int has_bias, has_z;
	act_desc act;
	int brank;
	int bdims[GEMM_BRANK];
	long long a_bs[GEMM_BRANK], b_bs[GEMM_BRANK], c_bs[GEMM_BRANK], bias_bs[GEMM_BRANK];
};

#define TM 64
#define TN 64
#define TK 16

// 256 threads, each 4x4 outputs of a 64x64 tile; blockIdx.z is the batch.
extern "C" __global__ void __launch_bounds__(256)
gemm_f32(const float *A, const float *B, float *C, const float *bias, const float *Z, gemm_desc g)
{
	__shared__ float As[TK][TM + 4];
	__shared__ float Bs[TK][TN + 4];
	int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
	int m0 = blockIdx.y * TM, n0 = blockIdx.x * TN;
	long long z = blockIdx.z, ao = g.a_off, bo = g.b_off, co = g.c_off, bio = 0;
	float acc[4][4] = {};

	for (int d = g.brank - 1; d >= 0; d--) {
		long long q = z % g.bdims[d];

		z /= g.bdims[d];
		ao += q * g.a_bs[d];
		bo += q * g.b_bs[d];
		co += q * g.c_bs[d];
		bio += q * g.bias_bs[d];
	}
	for (int k0 = 0; k0 < g.K; k0 += TK) {
		for (int l = threadIdx.x; l < TM * TK; l += 256) {
			int mm = l / TK, kk = l % TK, gm = m0 + mm, gk = k0 + kk;

			As[kk][mm] = gm < g.M && gk < g.K ?
				A[ao + (long long)gm * g.a_rs + (long long)gk * g.a_cs] : 0.0f;
		}
		for (int l = threadIdx.x; l < TN * TK; l += 256) {
			int kk = l / TN, nn = l % TN, gn = n0 + nn, gk = k0 + kk;

			Bs[kk][nn] = gn < g.N && gk < g.K ?
				B[bo + (long long)gk * g.b_rs + (long long)gn * g.b_cs] : 0.0f;
		}
		__syncthreads();
#pragma unroll
		for (int kk = 0; kk < TK; kk++) {
			float a[4], b[4];

#pragma unroll
			for (int i = 0; i < 4; i++) {
				a[i] = As[kk][ty + 16 * i];
				b[i] = Bs[kk][tx + 16 * i];
			}
#pragma unroll
			for (int i = 0; i < 4; i++)
#pragma unroll
				for (int j = 0; j < 4; j++)
					acc[i][j] += a[i] * b[j];
		}
		__syncthreads();
	}
#pragma unroll
	for (int i = 0; i < 4; i++) {
		int m = m0 + ty + 16 * i;

		if (m >= g.M)
			continue;
#pragma unroll
		for (int j = 0; j < 4; j++) {
			int n = n0 + tx + 16 * j;
			long long o = co + (long long)m * g.c_rs + n;
			float v;

			if (n >= g.N)
				continue;
			v = g.alpha * acc[i][j];
			if (g.has_bias)
				v += g.beta * bias[bio + (long long)m * g.bias_rs + (long long)n * g.bias_cs];
			if (g.has_z)
				v += Z[o];
			C[o] = act_apply(g.act, v);
		}
	}
}

// col[image][c * KH * KW + kh * KW + kw][oh * OW + ow], images from |x|
// starting at element |xoff|.
extern "C" __global__ void im2col_f32(float *col, const float *x, long long xoff, long long total,
				      conv_geom q)
{
	long long ohw = (long long)q.OH * q.OW, rows = (long long)q.C * q.KH * q.KW;

	GRID_STRIDE(i, total) {
		long long p = i % ohw, r = (i / ohw) % rows, img = i / (ohw * rows);
		int ow = (int)(p % q.OW), oh = (int)(p / q.OW);
		int kw = (int)(r % q.KW), kh = (int)((r / q.KW) % q.KH), c = (int)(r / (q.KW * q.KH));
		int ih = oh * q.sh - q.ph + kh * q.dh, iw = ow * q.sw - q.pw + kw * q.dw;

		col[i] = ih >= 0 && ih < q.H && iw >= 0 && iw < q.W ?
			x[xoff + ((img * q.C + c) * q.H + ih) * (long long)q.W + iw] : 0.0f;
	}
}

// One output element per thread: for depthwise and other thin groups.
extern "C" __global__ void conv_direct_f32(float *y, const float *x, const float *w,
					   const float *bias, const float *z, int has_bias,
					   int has_z, long long total, conv_geom q, act_desc act)
{
	int cg = q.C / q.G, mg = q.M / q.G;

	GRID_STRIDE(i, total) {
		int ow = (int)(i % q.OW), oh = (int)((i / q.OW) % q.OH);
		int m = (int)((i / ((long long)q.OW * q.OH)) % q.M);
		long long img = i / ((long long)q.OW * q.OH * q.M);
		int g = m / mg;
		float v = has_bias ? bias[m] : 0.0f;

		for (int c = 0; c < cg; c++) {
			const float *xc = x + (img * q.C + g * cg + c) * (long long)q.H * q.W;
			const float *wc = w + ((long long)m * cg + c) * q.KH * q.KW;

			for (int kh = 0; kh < q.KH; kh++) {
				int ih = oh * q.sh - q.ph + kh * q.dh;

				if (ih < 0 || ih >= q.H)
					continue;
				for (int kw = 0; kw < q.KW; kw++) {
					int iw = ow * q.sw - q.pw + kw * q.dw;

					if (iw >= 0 && iw < q.W)
						v += xc[ih * q.W + iw] * wc[kh * q.KW + kw];
				}
			}
		}
		if (has_z)
			v += z[i];
		y[i] = act_apply(act, v);
	}
}
