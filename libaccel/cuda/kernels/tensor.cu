// SPDX-License-Identifier: MIT
// tensor.cu - data movement by element size: one strided copy (Transpose,
// Slice, Expand, Concat) and Gather along an axis.
#include "common.cuh"

#define SC_RANK 8

// Must match strided_desc in exec_tensor.c: iterate over |dims|, read
// src[soff + sum idx * sst], write dst[doff + sum idx * dst].
struct strided_desc {
	int rank;
	long long dims[SC_RANK];
	long long sst[SC_RANK];
	long long dst[SC_RANK];
	long long soff, doff;
};

template <typename T>
__device__ void strided_copy(T *y, const T *x, long long n, const strided_desc &d)
{
	GRID_STRIDE(i, n) {
		long long r = i, so = d.soff, dof = d.doff;

		for (int k = d.rank - 1; k >= 0; k--) {
			long long q = r / d.dims[k], idx = r - q * d.dims[k];

			so += idx * d.sst[k];
			dof += idx * d.dst[k];
			r = q;
		}
		y[dof] = x[so];
	}
}

// y[o][j][i] = x[o][idx[j]][i]; negative indices count from the end.
template <typename T>
__device__ void gather(T *y, const T *x, const void *idx, int idx64, long long n,
		       long long axis_n, long long n_idx, long long inner)
{
	GRID_STRIDE(i, n) {
		long long in = i % inner, j = (i / inner) % n_idx, o = i / (inner * n_idx);
		long long k = idx64 ? ((const long long *)idx)[j] : ((const int *)idx)[j];

		if (k < 0)
			k += axis_n;
		y[i] = k >= 0 && k < axis_n ? x[(o * axis_n + k) * inner + in] : T();
	}
}

#define BY_SIZE(bits, T)                                                                   \
	extern "C" __global__ void strided_copy_##bits(T *y, const T *x, long long n,      \
						       strided_desc d)                    \
	{                                                                                  \
		strided_copy<T>(y, x, n, d);                                               \
	}                                                                                  \
	extern "C" __global__ void gather_##bits(T *y, const T *x, const void *idx,       \
						 int idx64, long long n, long long axis_n, \
						 long long n_idx, long long inner)         \
	{                                                                                  \
		gather<T>(y, x, idx, idx64, n, axis_n, n_idx, inner);                      \
	}

BY_SIZE(8, unsigned char)
BY_SIZE(16, unsigned short)
BY_SIZE(32, unsigned int)
BY_SIZE(64, unsigned long long)
