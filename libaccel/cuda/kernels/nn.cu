// SPDX-License-Identifier: MIT
// nn.cu - pooling, row means (GlobalAveragePool), Softmax/LogSoftmax over
// any axis, and LayerNormalization, on float32.
#include "common.cuh"

// mode 0: max, 1: average (count_include_pad in |incl|).
extern "C" __global__ void pool2d_f32(float *y, const float *x, long long total, conv_geom q,
				      int mode, int incl)
{
	GRID_STRIDE(i, total) {
		int ow = (int)(i % q.OW), oh = (int)((i / q.OW) % q.OH);
		long long plane = i / ((long long)q.OW * q.OH);
		const float *xp = x + plane * (long long)q.H * q.W;
		float v = mode == 0 ? -INFINITY : 0.0f;
		int cnt = 0;

		for (int kh = 0; kh < q.KH; kh++) {
			int ih = oh * q.sh - q.ph + kh * q.dh;

			for (int kw = 0; kw < q.KW; kw++) {
				int iw = ow * q.sw - q.pw + kw * q.dw;
				bool in = ih >= 0 && ih < q.H && iw >= 0 && iw < q.W;

				if (in) {
					float e = xp[ih * q.W + iw];

					v = mode == 0 ? fmaxf(v, e) : v + e;
					cnt++;
				} else if (incl && ih < q.H + q.ph && iw < q.W + q.pw) {
					cnt++;
				}
			}
		}
		y[i] = mode == 0 ? v : cnt ? v / cnt : 0.0f;
	}
}

// One block per row.
extern "C" __global__ void row_mean_f32(float *y, const float *x, long long cols)
{
	const float *xr = x + blockIdx.x * cols;
	float s = 0.0f;

	for (long long j = threadIdx.x; j < cols; j += blockDim.x)
		s += xr[j];
	s = block_sum(s);
	if (threadIdx.x == 0)
		y[blockIdx.x] = s / (float)cols;
}

// One block per (outer, inner) pair; the axis has |n| elements |inner| apart.
extern "C" __global__ void softmax_f32(float *y, const float *x, int n, long long inner, int log)
{
	long long o = blockIdx.x / inner, in = blockIdx.x % inner;
	long long base = o * n * inner + in;
	float mx = -INFINITY, s = 0.0f;

	for (int j = threadIdx.x; j < n; j += blockDim.x)
		mx = fmaxf(mx, x[base + j * inner]);
	mx = block_max(mx);
	for (int j = threadIdx.x; j < n; j += blockDim.x)
		s += __expf(x[base + j * inner] - mx);
	s = block_sum(s);
	for (int j = threadIdx.x; j < n; j += blockDim.x) {
		float e = x[base + j * inner] - mx;

		y[base + j * inner] = log ? e - __logf(s) : __expf(e) / s;
	}
}

// One block per row of |cols| values; scale and bias have |cols| values.
extern "C" __global__ void layernorm_f32(float *y, const float *x, const float *scale,
					 const float *bias, long long cols, float eps, int has_bias)
{
	const float *xr = x + blockIdx.x * cols;
	float *yr = y + blockIdx.x * cols;
	float s = 0.0f, ss = 0.0f, mean, inv;

	for (long long j = threadIdx.x; j < cols; j += blockDim.x)
		s += xr[j];
	mean = block_sum(s) / (float)cols;
	for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
		float d = xr[j] - mean;

		ss += d * d;
	}
	inv = rsqrtf(block_sum(ss) / (float)cols + eps);
	for (long long j = threadIdx.x; j < cols; j += blockDim.x)
		yr[j] = (xr[j] - mean) * inv * scale[j] + (has_bias ? bias[j] : 0.0f);
}
