/* SPDX-License-Identifier: MIT */
/*
 * fake_libcuda.c - a fake CUDA driver (and the four cuBLAS calls the
 * backend uses) for the unit tests, loaded through $ACCEL_LIBCUDA.
 *
 * Device memory is host memory (malloc), copies are synchronous memcpy,
 * streams and events are tokens; every object is counted so a test can
 * check that the backend destroys what it creates. Modules accept PTX
 * only (a fatbin is refused with CUDA_ERROR_NO_BINARY_FOR_GPU, as a GPU
 * without matching cubins would): the PTX's .entry list gives kernel
 * names and parameter sizes, so a launch records its arguments exactly.
 * A few kernels (elementwise, strided copy, GEMM, im2col) and
 * cublasSgemmStridedBatched also run on the host when asked, so tests can
 * check results against the CPU backend. Switches inject cuInit errors,
 * out-of-memory on the Nth allocation and launch failures.
 */
#include <cuda.h>
#include <cublas_v2.h>

#include "fake_libcuda.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))
#define MAX_DEVICES 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static fakecuda_config cfg = { .device_count = 1 };
static fakecuda_counts counts;
static int alloc_calls, launch_calls;

typedef struct alloc {
	char *p;
	size_t n;
	struct alloc *next;
} alloc;
static alloc *allocs;

struct CUctx_st {
	int refs;
	int device;
};
static struct CUctx_st primary[MAX_DEVICES];
static _Thread_local CUcontext ctx_stack[16];
static _Thread_local int ctx_depth;

struct CUfunc_st {
	char name[64];
	int n_params;
	size_t size[FAKE_MAX_ARGS];
	struct CUfunc_st *next;
};
struct CUmod_st {
	char *ptx;
	struct CUfunc_st *funcs; /* live until the module is unloaded */
};

#define MAX_LOG 64
static fakecuda_launch launch_log[MAX_LOG];
static fakecuda_gemm gemm_log[MAX_LOG];
static int n_gemms;

/* ---- control ---- */

EXPORT void fakecuda_reset(const fakecuda_config *c)
{
	pthread_mutex_lock(&lock);
	cfg = c ? *c : (fakecuda_config){ .device_count = 1 };
	/* Live-object counts carry over: a leak must stay visible. */
	counts.bytes_h2d = counts.bytes_d2h = counts.bytes_d2d = 0;
	counts.launches = counts.bad_calls = counts.module_loads = counts.fatbin_rejects = 0;
	alloc_calls = launch_calls = n_gemms = 0;
	pthread_mutex_unlock(&lock);
}

EXPORT void fakecuda_counts_get(fakecuda_counts *out)
{
	pthread_mutex_lock(&lock);
	*out = counts;
	pthread_mutex_unlock(&lock);
}

EXPORT int fakecuda_launch_get(int i, fakecuda_launch *out)
{
	int ok;

	pthread_mutex_lock(&lock);
	ok = i >= 0 && i < counts.launches && i < MAX_LOG;
	if (ok)
		*out = launch_log[i];
	pthread_mutex_unlock(&lock);
	return ok;
}

EXPORT int fakecuda_gemm_get(int i, fakecuda_gemm *out)
{
	int ok;

	pthread_mutex_lock(&lock);
	ok = i >= 0 && i < n_gemms && i < MAX_LOG;
	if (ok)
		*out = gemm_log[i];
	pthread_mutex_unlock(&lock);
	return ok;
}

static void bad(void)
{
	counts.bad_calls++;
}

/* Is [p, p + n) inside one allocation? */
static int in_alloc(CUdeviceptr d, size_t n)
{
	const char *p = (const char *)(uintptr_t)d;

	for (alloc *a = allocs; a; a = a->next)
		if (p >= a->p && p + n <= a->p + a->n)
			return 1;
	return 0;
}

static int have_ctx(void)
{
	return ctx_depth > 0 && ctx_stack[ctx_depth - 1] != NULL;
}

/* ---- init, devices, errors ---- */

CUresult CUDAAPI cuInit(unsigned int flags)
{
	return flags ? CUDA_ERROR_INVALID_VALUE : (CUresult)cfg.init_result;
}

CUresult CUDAAPI cuDriverGetVersion(int *v)
{
	*v = 13000;
	return CUDA_SUCCESS;
}

static const struct {
	CUresult r;
	const char *name, *desc;
} errs[] = {
	{ CUDA_SUCCESS, "CUDA_SUCCESS", "no error" },
	{ CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument" },
	{ CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory" },
	{ CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error" },
	{ CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected" },
	{ CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal" },
	{ CUDA_ERROR_NO_BINARY_FOR_GPU, "CUDA_ERROR_NO_BINARY_FOR_GPU",
	  "no kernel image is available for execution on the device" },
	{ CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context" },
	{ CUDA_ERROR_INVALID_PTX, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed" },
	{ CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found" },
	{ CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure" },
	{ CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH",
	  "system has unsupported display driver / cuda driver combination" },
};

CUresult CUDAAPI cuGetErrorName(CUresult r, const char **s)
{
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].r == r) {
			*s = errs[i].name;
			return CUDA_SUCCESS;
		}
	*s = NULL;
	return CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuGetErrorString(CUresult r, const char **s)
{
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].r == r) {
			*s = errs[i].desc;
			return CUDA_SUCCESS;
		}
	*s = NULL;
	return CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuDeviceGetCount(int *n)
{
	*n = cfg.device_count;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGet(CUdevice *d, int ordinal)
{
	if (ordinal < 0 || ordinal >= cfg.device_count || ordinal >= MAX_DEVICES)
		return CUDA_ERROR_INVALID_DEVICE;
	*d = ordinal;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetName(char *name, int len, CUdevice d)
{
	static const char n[] = "Fake GPU";

	if (len < (int)sizeof(n))
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(name, n, sizeof(n));
	name[sizeof(n) - 2] = (char)('0' + d); /* "Fake GP0", "Fake GP1": distinct */
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetAttribute(int *v, CUdevice_attribute a, CUdevice d)
{
	switch (a) {
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *v = 8; break;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *v = 0; break;
	case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *v = 4; break;
	default: *v = 0; break;
	}
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetPCIBusId(char *id, int len, CUdevice d)
{
	if (len < 13)
		return CUDA_ERROR_INVALID_VALUE;
	snprintf(id, (size_t)len, "0000:%02X:00.0", 0x3b + d);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceTotalMem(size_t *bytes, CUdevice d)
{
	*bytes = (size_t)1 << 30;
	return CUDA_SUCCESS;
}

/* ---- contexts ---- */

CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice d)
{
	if (d < 0 || d >= cfg.device_count)
		return CUDA_ERROR_INVALID_DEVICE;
	pthread_mutex_lock(&lock);
	primary[d].refs++;
	primary[d].device = d;
	counts.contexts++;
	pthread_mutex_unlock(&lock);
	*c = &primary[d];
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice d)
{
	CUresult r = CUDA_SUCCESS;

	pthread_mutex_lock(&lock);
	if (d < 0 || d >= MAX_DEVICES || primary[d].refs <= 0) {
		bad();
		r = CUDA_ERROR_INVALID_CONTEXT;
	} else {
		primary[d].refs--;
		counts.contexts--;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

CUresult CUDAAPI cuCtxPushCurrent(CUcontext c)
{
	if (!c || ctx_depth == 16 || c->refs <= 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	ctx_stack[ctx_depth++] = c;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxPopCurrent(CUcontext *c)
{
	if (!ctx_depth) {
		pthread_mutex_lock(&lock);
		bad();
		pthread_mutex_unlock(&lock);
		return CUDA_ERROR_INVALID_CONTEXT;
	}
	ctx_depth--;
	if (c)
		*c = ctx_stack[ctx_depth];
	return CUDA_SUCCESS;
}

/* ---- streams and events: counted tokens ---- */

static CUresult token_new(void **out, int *counter)
{
	if (!have_ctx())
		return CUDA_ERROR_INVALID_CONTEXT;
	*out = malloc(1);
	pthread_mutex_lock(&lock);
	(*counter)++;
	pthread_mutex_unlock(&lock);
	return CUDA_SUCCESS;
}

static CUresult token_free(void *p, int *counter)
{
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	free(p);
	pthread_mutex_lock(&lock);
	(*counter)--;
	pthread_mutex_unlock(&lock);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamCreate(CUstream *s, unsigned int flags)
{
	return token_new((void **)s, &counts.streams);
}

CUresult CUDAAPI cuStreamDestroy(CUstream s)
{
	return token_free(s, &counts.streams);
}

CUresult CUDAAPI cuStreamSynchronize(CUstream s)
{
	return s && have_ctx() ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

CUresult CUDAAPI cuEventCreate(CUevent *e, unsigned int flags)
{
	return token_new((void **)e, &counts.events);
}

CUresult CUDAAPI cuEventDestroy(CUevent e)
{
	return token_free(e, &counts.events);
}

CUresult CUDAAPI cuEventRecord(CUevent e, CUstream s)
{
	return e && s ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult CUDAAPI cuEventSynchronize(CUevent e)
{
	return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

/* ---- memory ---- */

CUresult CUDAAPI cuMemAlloc(CUdeviceptr *d, size_t n)
{
	alloc *a;
	CUresult r = CUDA_SUCCESS;

	pthread_mutex_lock(&lock);
	alloc_calls++;
	if (!have_ctx())
		r = CUDA_ERROR_INVALID_CONTEXT;
	else if (!n)
		r = CUDA_ERROR_INVALID_VALUE;
	else if (cfg.oom_at && alloc_calls == cfg.oom_at)
		r = CUDA_ERROR_OUT_OF_MEMORY;
	else if (!(a = malloc(sizeof(*a))) || !(a->p = malloc(n)))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS) {
		memset(a->p, 0xa5, n); /* never zeroed, like real device memory */
		a->n = n;
		a->next = allocs;
		allocs = a;
		counts.allocs++;
		*d = (CUdeviceptr)(uintptr_t)a->p;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

CUresult CUDAAPI cuMemFree(CUdeviceptr d)
{
	CUresult r = CUDA_ERROR_INVALID_VALUE;

	pthread_mutex_lock(&lock);
	for (alloc **pp = &allocs; *pp; pp = &(*pp)->next)
		if ((CUdeviceptr)(uintptr_t)(*pp)->p == d) {
			alloc *a = *pp;

			*pp = a->next;
			free(a->p);
			free(a);
			counts.allocs--;
			r = CUDA_SUCCESS;
			break;
		}
	if (r != CUDA_SUCCESS || !have_ctx())
		bad();
	pthread_mutex_unlock(&lock);
	return r;
}

CUresult CUDAAPI cuMemHostRegister(void *p, size_t n, unsigned int flags)
{
	if (cfg.pin_fails)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (!p || !n || !have_ctx())
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&lock);
	counts.pinned++;
	pthread_mutex_unlock(&lock);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemHostUnregister(void *p)
{
	pthread_mutex_lock(&lock);
	counts.pinned--;
	pthread_mutex_unlock(&lock);
	return CUDA_SUCCESS;
}

static CUresult copy(void *dst, const void *src, size_t n, CUdeviceptr dcheck,
		     CUdeviceptr scheck, long long *bytes)
{
	CUresult r = CUDA_SUCCESS;

	pthread_mutex_lock(&lock);
	if (!have_ctx() || (dcheck && !in_alloc(dcheck, n)) || (scheck && !in_alloc(scheck, n))) {
		bad();
		r = CUDA_ERROR_INVALID_VALUE;
	} else {
		memmove(dst, src, n);
		*bytes += (long long)n;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

CUresult CUDAAPI cuMemcpyHtoDAsync(CUdeviceptr d, const void *h, size_t n, CUstream s)
{
	return copy((void *)(uintptr_t)d, h, n, d, 0, &counts.bytes_h2d);
}

CUresult CUDAAPI cuMemcpyDtoHAsync(void *h, CUdeviceptr d, size_t n, CUstream s)
{
	return copy(h, (const void *)(uintptr_t)d, n, 0, d, &counts.bytes_d2h);
}

CUresult CUDAAPI cuMemcpyDtoDAsync(CUdeviceptr d, CUdeviceptr s, size_t n, CUstream st)
{
	return copy((void *)(uintptr_t)d, (const void *)(uintptr_t)s, n, d, s, &counts.bytes_d2d);
}

/* ---- modules: PTX text only ---- */

CUresult CUDAAPI cuModuleLoadData(CUmodule *m, const void *image)
{
	const unsigned char *b = image;
	struct CUmod_st *mod;

	if (!have_ctx())
		return CUDA_ERROR_INVALID_CONTEXT;
	pthread_mutex_lock(&lock);
	counts.module_loads++;
	pthread_mutex_unlock(&lock);
	if (b[0] == 0x50 && b[1] == 0xed && b[2] == 0x55 && b[3] == 0xba) {
		pthread_mutex_lock(&lock);
		counts.fatbin_rejects++;
		pthread_mutex_unlock(&lock);
		return CUDA_ERROR_NO_BINARY_FOR_GPU;
	}
	if (!strstr(image, ".entry"))
		return CUDA_ERROR_INVALID_PTX;
	mod = calloc(1, sizeof(*mod));
	mod->ptx = strdup(image);
	pthread_mutex_lock(&lock);
	counts.modules++;
	pthread_mutex_unlock(&lock);
	*m = mod;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleUnload(CUmodule m)
{
	if (!m || !have_ctx()) {
		pthread_mutex_lock(&lock);
		bad();
		pthread_mutex_unlock(&lock);
		return CUDA_ERROR_INVALID_HANDLE;
	}
	for (struct CUfunc_st *f = m->funcs, *nf; f; f = nf) {
		nf = f->next;
		free(f);
	}
	free(m->ptx);
	free(m);
	pthread_mutex_lock(&lock);
	counts.modules--;
	pthread_mutex_unlock(&lock);
	return CUDA_SUCCESS;
}

/* The parameter sizes of ".entry name(" from the PTX's declarations. */
static int parse_params(const char *ptx, const char *name, struct CUfunc_st *f)
{
	char pat[96];
	const char *p, *end;

	snprintf(pat, sizeof(pat), ".entry %s(", name);
	if (!(p = strstr(ptx, pat)))
		return 0;
	p += strlen(pat);
	end = strchr(p, ')');
	f->n_params = 0;
	while (end && (p = strstr(p, ".param")) && p < end && f->n_params < FAKE_MAX_ARGS) {
		const char *lb, *nl = strchr(p, '\n');
		size_t sz = 4;

		if (strstr(p, ".b8") && (lb = strchr(p, '[')) && (!nl || lb < nl))
			sz = (size_t)strtoul(lb + 1, NULL, 10);
		else if (!strncmp(p + 7, ".u64", 4) || !strncmp(p + 7, ".b64", 4) ||
			 !strncmp(p + 7, ".s64", 4) || !strncmp(p + 7, ".f64", 4))
			sz = 8;
		f->size[f->n_params++] = sz;
		p += 6;
	}
	return 1;
}

CUresult CUDAAPI cuModuleGetFunction(CUfunction *fn, CUmodule m, const char *name)
{
	struct CUfunc_st *f;

	if (!m)
		return CUDA_ERROR_INVALID_HANDLE;
	f = calloc(1, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	if (!parse_params(m->ptx, name, f)) {
		free(f);
		return CUDA_ERROR_NOT_FOUND;
	}
	pthread_mutex_lock(&lock);
	f->next = m->funcs;
	m->funcs = f;
	pthread_mutex_unlock(&lock);
	*fn = f;
	return CUDA_SUCCESS;
}

/* ---- host references of a few kernels (layouts as in the .cu files) ---- */

typedef struct {
	int rank, dims[6], st[3][6];
} bcast;

typedef struct {
	int kind;
	float lo, hi, alpha, beta;
} act_desc;

typedef struct {
	int M, N, K, a_rs, a_cs, b_rs, b_cs, c_rs, bias_rs, bias_cs;
	long long a_off, b_off, c_off;
	float alpha, beta;
	int has_bias, has_z;
	act_desc act;
	int brank, bdims[4];
	long long a_bs[4], b_bs[4], c_bs[4], bias_bs[4];
} gemm_desc;

typedef struct {
	int N, C, H, W, M, G, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw;
} conv_geom;

typedef struct {
	int rank;
	long long dims[8], sst[8], dst[8], soff, doff;
} strided_desc;

#define ARG(T, i) (*(T *)(void *)args[i])

static long long bc_off(const bcast *b, int k, long long i)
{
	long long off = 0;

	for (int d = b->rank - 1; d >= 0; d--) {
		off += (i % b->dims[d]) * b->st[k][d];
		i /= b->dims[d];
	}
	return off;
}

static void run_binary(void **args)
{
	float *y = ARG(float *, 0);
	const float *a = ARG(float *, 1), *b = ARG(float *, 2);
	long long n = ARG(long long, 3);
	int op = ARG(int, 4);
	const bcast *bc = args[5];

	for (long long i = 0; i < n; i++) {
		float x = a[bc_off(bc, 0, i)], z = b[bc_off(bc, 1, i)];

		y[i] = op == 0 ? x + z : op == 1 ? x - z : op == 2 ? x * z : op == 3 ? x / z :
		       op == 4 ? powf(x, z) : op == 5 ? fmaxf(x, z) : op == 6 ? fminf(x, z) :
		       x < 0 ? x * z : x;
	}
}

/* ew_unary_f32 for the codes the tests use (UN_* of elementwise.cu). */
static void run_unary(void **args)
{
	float *y = ARG(float *, 0);
	const float *x = ARG(float *, 1);
	long long n = ARG(long long, 2);
	int op = ARG(int, 3);
	float alpha = ARG(float, 4), beta = ARG(float, 5);

	for (long long i = 0; i < n; i++) {
		float v = x[i];

		y[i] = op == 0 ? fmaxf(v, 0.0f) : op == 2 ? 1.0f / (1.0f + expf(-v)) :
		       op == 8 ? -v : op == 13 ? fminf(fmaxf(v, alpha), beta) : NAN;
	}
}

static float act(const act_desc *a, float v)
{
	switch (a->kind) {
	case 1: return fminf(fmaxf(v, a->lo), a->hi);
	case 2: return 1.0f / (1.0f + expf(-v));
	default: return v; /* the tests use no other */
	}
}

static void run_gemm(void **args)
{
	const float *A = ARG(float *, 0), *B = ARG(float *, 1), *bias = ARG(float *, 3);
	const float *Z = ARG(float *, 4);
	float *C = ARG(float *, 2);
	const gemm_desc *g = args[5];
	int batch = 1;

	for (int d = 0; d < g->brank; d++)
		batch *= g->bdims[d];
	for (int z = 0; z < batch; z++) {
		long long ao = g->a_off, bo = g->b_off, co = g->c_off, bio = 0, q = z;

		for (int d = g->brank - 1; d >= 0; d--) {
			long long i = q % g->bdims[d];

			q /= g->bdims[d];
			ao += i * g->a_bs[d];
			bo += i * g->b_bs[d];
			co += i * g->c_bs[d];
			bio += i * g->bias_bs[d];
		}
		for (int m = 0; m < g->M; m++)
			for (int n = 0; n < g->N; n++) {
				double s = 0;
				long long o = co + (long long)m * g->c_rs + n;
				float v;

				for (int k = 0; k < g->K; k++)
					s += (double)A[ao + (long long)m * g->a_rs + (long long)k * g->a_cs] *
					     B[bo + (long long)k * g->b_rs + (long long)n * g->b_cs];
				v = g->alpha * (float)s;
				if (g->has_bias)
					v += g->beta * bias[bio + (long long)m * g->bias_rs +
							    (long long)n * g->bias_cs];
				if (g->has_z)
					v += Z[o];
				C[o] = act(&g->act, v);
			}
	}
}

static void run_im2col(void **args)
{
	float *col = ARG(float *, 0);
	const float *x = ARG(float *, 1);
	long long xoff = ARG(long long, 2), total = ARG(long long, 3);
	const conv_geom *q = args[4];
	long long ohw = (long long)q->OH * q->OW, rows = (long long)q->C * q->KH * q->KW;

	for (long long i = 0; i < total; i++) {
		long long p = i % ohw, r = (i / ohw) % rows, img = i / (ohw * rows);
		int ow = (int)(p % q->OW), oh = (int)(p / q->OW);
		int kw = (int)(r % q->KW), kh = (int)((r / q->KW) % q->KH), c = (int)(r / (q->KW * q->KH));
		int ih = oh * q->sh - q->ph + kh * q->dh, iw = ow * q->sw - q->pw + kw * q->dw;

		col[i] = ih >= 0 && ih < q->H && iw >= 0 && iw < q->W ?
			 x[xoff + ((img * q->C + c) * q->H + ih) * (long long)q->W + iw] : 0.0f;
	}
}

static void run_strided(void **args, size_t es)
{
	char *y = ARG(char *, 0);
	const char *x = ARG(char *, 1);
	long long n = ARG(long long, 2);
	const strided_desc *d = args[3];

	for (long long i = 0; i < n; i++) {
		long long r = i, so = d->soff, dof = d->doff;

		for (int k = d->rank - 1; k >= 0; k--) {
			so += (r % d->dims[k]) * d->sst[k];
			dof += (r % d->dims[k]) * d->dst[k];
			r /= d->dims[k];
		}
		memcpy(y + dof * (long long)es, x + so * (long long)es, es);
	}
}

static void execute(const char *name, void **args)
{
	if (!strcmp(name, "ew_binary_f32"))
		run_binary(args);
	else if (!strcmp(name, "ew_unary_f32"))
		run_unary(args);
	else if (!strcmp(name, "gemm_f32"))
		run_gemm(args);
	else if (!strcmp(name, "im2col_f32"))
		run_im2col(args);
	else if (!strncmp(name, "strided_copy_", 13))
		run_strided(args, (size_t)atoi(name + 13) / 8);
}

CUresult CUDAAPI cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
				unsigned int bx, unsigned int by, unsigned int bz, unsigned int shmem,
				CUstream s, void **args, void **extra)
{
	fakecuda_launch *l;
	CUresult r = CUDA_SUCCESS;

	pthread_mutex_lock(&lock);
	launch_calls++;
	if (!have_ctx() || !f || !s || !args || extra || !gx || !gy || !gz || !bx ||
	    bx * by * bz > 1024) {
		bad();
		r = CUDA_ERROR_INVALID_VALUE;
	} else if (cfg.launch_fail_at && launch_calls == cfg.launch_fail_at) {
		r = CUDA_ERROR_LAUNCH_FAILED;
	}
	if (r == CUDA_SUCCESS && counts.launches < MAX_LOG) {
		l = &launch_log[counts.launches];
		memset(l, 0, sizeof(*l));
		snprintf(l->name, sizeof(l->name), "%s", f->name);
		l->grid[0] = gx, l->grid[1] = gy, l->grid[2] = gz;
		l->block[0] = bx, l->block[1] = by, l->block[2] = bz;
		l->n_args = f->n_params;
		for (int i = 0; i < f->n_params; i++) {
			l->arg_size[i] = f->size[i];
			memcpy(l->arg[i], args[i], f->size[i] < 256 ? f->size[i] : 256);
		}
	}
	if (r == CUDA_SUCCESS)
		counts.launches++;
	pthread_mutex_unlock(&lock);
	if (r == CUDA_SUCCESS && cfg.execute)
		execute(f->name, args);
	return r;
}

/* ---- cuBLAS: handles counted, SgemmStridedBatched recorded and run ---- */

struct cublasContext {
	CUstream stream;
};

cublasStatus_t CUBLASWINAPI cublasCreate_v2(cublasHandle_t *h)
{
	if (!have_ctx())
		return CUBLAS_STATUS_NOT_INITIALIZED;
	*h = calloc(1, sizeof(**h));
	pthread_mutex_lock(&lock);
	counts.blas++;
	pthread_mutex_unlock(&lock);
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasDestroy_v2(cublasHandle_t h)
{
	free(h);
	pthread_mutex_lock(&lock);
	counts.blas--;
	pthread_mutex_unlock(&lock);
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasSetStream_v2(cublasHandle_t h, cudaStream_t s)
{
	h->stream = (CUstream)s;
	return CUBLAS_STATUS_SUCCESS;
}

/* Column-major C = alpha op(A) op(B) + beta C per batch. */
cublasStatus_t CUBLASWINAPI cublasSgemmStridedBatched(
	cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
	const float *alpha, const float *A, int lda, long long sa, const float *B, int ldb,
	long long sb, const float *beta, float *C, int ldc, long long sc, int batch)
{
	pthread_mutex_lock(&lock);
	if (n_gemms < MAX_LOG)
		gemm_log[n_gemms++] = (fakecuda_gemm){ ta == CUBLAS_OP_T, tb == CUBLAS_OP_T, m, n, k,
						       lda, ldb, ldc, batch, sa, sb, sc, *alpha,
						       *beta };
	pthread_mutex_unlock(&lock);
	if (!h->stream || !have_ctx())
		return CUBLAS_STATUS_NOT_INITIALIZED;
	if (!cfg.execute)
		return CUBLAS_STATUS_SUCCESS;
	for (int z = 0; z < batch; z++)
		for (int j = 0; j < n; j++)
			for (int i = 0; i < m; i++) {
				double s = 0;

				for (int p = 0; p < k; p++) {
					float a = ta == CUBLAS_OP_N ? A[z * sa + i + (long long)p * lda] :
						  A[z * sa + p + (long long)i * lda];
					float b = tb == CUBLAS_OP_N ? B[z * sb + p + (long long)j * ldb] :
						  B[z * sb + j + (long long)p * ldb];

					s += (double)a * b;
				}
				C[z * sc + i + (long long)j * ldc] =
					*alpha * (float)s +
					(*beta != 0.0f ? *beta * C[z * sc + i + (long long)j * ldc] : 0.0f);
			}
	return CUBLAS_STATUS_SUCCESS;
}
