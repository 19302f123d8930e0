/* SPDX-License-Identifier: MIT */
/*
 * gemm_bench_cuda.c - float32 GEMM on a CUDA device: the backend's own
 * tiled kernel against cuBLAS (both through cuda_exec of a MatMul node, so
 * both include the launch path the executor uses), in TFLOP/s.
 *
 *   cuda_gemm_bench [SIZE...]     (default 512 1024 2048 4096; square)
 *
 * Exits 0 with a message when there is no CUDA device (make bench-cuda on
 * a host without a GPU), 1 when a run fails.
 */
#include "cuda/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static cuda_device *open_device(bool blas)
{
	cuda_device **devs = NULL;
	cuda_device *d;
	size_t n = 0;
	accel_status st;

	if (blas)
		unsetenv("ACCEL_LIBCUBLAS");
	else
		setenv("ACCEL_LIBCUBLAS", "", 1);
	st = cuda_discover(&devs, &n);
	if (st) {
		fprintf(stderr, "cuda_gemm_bench: %s\n", accel_status_message(st));
		exit(1);
	}
	if (!n)
		return NULL;
	d = devs[0];
	for (size_t i = 1; i < n; i++)
		cuda_device_destroy(devs[i]);
	free(devs);
	return d;
}

/* Seconds per MatMul of |s| x |s| by |s| x |s| (best of 5 batches). */
static double time_matmul(cuda_device *d, int s, accel_status *out_st)
{
	int64_t dims[2] = { s, s };
	accel_tensor *t[3] = { 0 };
	void *mem[3] = { 0 };
	ir_node node = { .name = "bench", .op_type = "MatMul", .domain = "", .opset = 17 };
	bool on_host[2] = { false, false };
	double best = 1e30;
	accel_status st = NULL;
	int iters = s >= 4096 ? 5 : s >= 2048 ? 20 : 100;

	for (int i = 0; i < 3 && !st; i++) {
		st = tensor_new(ACCEL_DTYPE_F32, 2, dims, &t[i]);
		if (!st) {
			for (int64_t k = 0; k < (int64_t)s * s; k++)
				((float *)t[i]->data)[k] = (float)(k % 7) * 0.125f;
			st = cuda_alloc(d, t[i]->nbytes, &mem[i]);
		}
		if (!st)
			st = cuda_upload(d, mem[i], t[i]->data, t[i]->nbytes);
	}
	for (int rep = 0; rep < 6 && !st; rep++) {
		accel_tensor a = *t[0], b = *t[1], c = *t[2];
		double t0;

		a.data = mem[0];
		b.data = mem[1];
		c.data = mem[2];
		t0 = now();
		for (int i = 0; i < iters && !st; i++)
			st = cuda_exec(d, &node, NULL, (accel_tensor *[]){ &a, &b }, on_host, 2,
				       (accel_tensor *[]){ &c }, 1);
		if (!st)
			st = cuda_finish(d);
		if (rep > 0 && (now() - t0) / iters < best) /* rep 0 warms up */
			best = (now() - t0) / iters;
	}
	for (int i = 0; i < 3; i++) {
		if (mem[i])
			cuda_free(d, mem[i]);
		accel_tensor_release(t[i]);
	}
	*out_st = st;
	return best;
}

int main(int argc, char **argv)
{
	int def[] = { 512, 1024, 2048, 4096 }, n = argc > 1 ? argc - 1 : 4;
	cuda_device *own = open_device(false), *blas;
	int rc = 0;

	if (!own) {
		printf("cuda_gemm_bench: no CUDA device on this host; skipped\n");
		return 0;
	}
	blas = open_device(true);
	printf("device: %s%s\n", cuda_device_name(own),
	       blas && blas->api->cublasCreate ? "" : " (cuBLAS not found: own kernel only)");
	printf("%8s %14s %14s %8s\n", "size", "own TFLOP/s", "cuBLAS TFLOP/s", "ratio");
	for (int i = 0; i < n; i++) {
		int s = argc > 1 ? atoi(argv[i + 1]) : def[i];
		double flop = 2.0 * s * (double)s * s, t_own, t_blas = 0;
		accel_status st = NULL;

		if (s <= 0)
			continue;
		t_own = time_matmul(own, s, &st);
		if (!st && blas && blas->api->cublasCreate && !blas->blas_failed) {
			t_blas = time_matmul(blas, s, &st);
			if (blas->blas_failed) { /* cublasCreate failed: that was the own kernel */
				fprintf(stderr, "cuda_gemm_bench: cublasCreate failed; cuBLAS column left out\n");
				t_blas = 0;
			}
		}
		if (st) {
			fprintf(stderr, "cuda_gemm_bench: %d: %s\n", s, accel_status_message(st));
			accel_status_free(st);
			rc = 1;
			continue;
		}
		if (t_blas > 0)
			printf("%8d %14.2f %14.2f %8.2f\n", s, flop / t_own * 1e-12,
			       flop / t_blas * 1e-12, t_blas / t_own);
		else
			printf("%8d %14.2f %14s %8s\n", s, flop / t_own * 1e-12, "-", "-");
	}
	cuda_device_destroy(own);
	cuda_device_destroy(blas);
	return rc;
}
