/* SPDX-License-Identifier: MIT */
/*
 * loader.c - libcuda, libnvrtc and libcublas opened at run time.
 *
 * libaccel never links a CUDA library: a host without the driver must
 * load it and simply have no CUDA device. Each discovery opens the
 * libraries (dlopen counts references, so this is cheap) and resolves the
 * versioned entry points into one cuda_api table that its devices share.
 * $ACCEL_LIBCUDA / $ACCEL_LIBNVRTC / $ACCEL_LIBCUBLAS name other files
 * (the unit tests load a fake driver this way); an empty value disables
 * the optional ones. Once loaded, a library stays mapped (RTLD_NODELETE):
 * drivers and compilers keep process-wide state that unloading would
 * strand or break.
 */
#include "cuda/internal.h"

#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct sym {
	size_t off;
	const char *name;
} sym;

#define S(member, name) { offsetof(cuda_api, member), name }

/* The _v2 names are what cuda.h maps the plain ones to since CUDA 4/11. */
static const sym driver_syms[] = {
	S(Init, "cuInit"),
	S(DriverGetVersion, "cuDriverGetVersion"),
	S(GetErrorName, "cuGetErrorName"),
	S(GetErrorString, "cuGetErrorString"),
	S(DeviceGetCount, "cuDeviceGetCount"),
	S(DeviceGet, "cuDeviceGet"),
	S(DeviceGetName, "cuDeviceGetName"),
	S(DeviceGetAttribute, "cuDeviceGetAttribute"),
	S(DeviceTotalMem, "cuDeviceTotalMem_v2"),
	S(DeviceGetPCIBusId, "cuDeviceGetPCIBusId"),
	S(PrimaryCtxRetain, "cuDevicePrimaryCtxRetain"),
	S(PrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"),
	S(CtxPushCurrent, "cuCtxPushCurrent_v2"),
	S(CtxPopCurrent, "cuCtxPopCurrent_v2"),
	S(StreamCreate, "cuStreamCreate"),
	S(StreamDestroy, "cuStreamDestroy_v2"),
	S(StreamSynchronize, "cuStreamSynchronize"),
	S(EventCreate, "cuEventCreate"),
	S(EventRecord, "cuEventRecord"),
	S(EventSynchronize, "cuEventSynchronize"),
	S(EventDestroy, "cuEventDestroy_v2"),
	S(MemAlloc, "cuMemAlloc_v2"),
	S(MemFree, "cuMemFree_v2"),
	S(MemHostRegister, "cuMemHostRegister_v2"),
	S(MemHostUnregister, "cuMemHostUnregister"),
	S(MemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2"),
	S(MemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2"),
	S(MemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2"),
	S(ModuleLoadData, "cuModuleLoadData"),
	S(ModuleUnload, "cuModuleUnload"),
	S(ModuleGetFunction, "cuModuleGetFunction"),
	S(LaunchKernel, "cuLaunchKernel"),
};

static const sym nvrtc_syms[] = {
	S(nvrtcCreateProgram, "nvrtcCreateProgram"),
	S(nvrtcDestroyProgram, "nvrtcDestroyProgram"),
	S(nvrtcCompileProgram, "nvrtcCompileProgram"),
	S(nvrtcGetPTXSize, "nvrtcGetPTXSize"),
	S(nvrtcGetPTX, "nvrtcGetPTX"),
	S(nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize"),
	S(nvrtcGetProgramLog, "nvrtcGetProgramLog"),
	S(nvrtcGetErrorString, "nvrtcGetErrorString"),
};

static const sym cublas_syms[] = {
	S(cublasCreate, "cublasCreate_v2"),
	S(cublasDestroy, "cublasDestroy_v2"),
	S(cublasSetStream, "cublasSetStream_v2"),
	S(cublasSgemmStridedBatched, "cublasSgemmStridedBatched"),
};

#undef S

/* Where distributions and the CUDA toolkit put the optional libraries;
 * the toolkit's lib64 is often not on the loader's path. */
static const char *const nvrtc_names[] = {
	"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so",
	"/usr/local/cuda/lib64/libnvrtc.so.13", "/usr/local/cuda/lib64/libnvrtc.so.12",
	"/usr/local/cuda/lib64/libnvrtc.so", NULL,
};
static const char *const cublas_names[] = {
	"libcublas.so.13", "libcublas.so.12", "libcublas.so",
	"/usr/local/cuda/lib64/libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.12",
	"/usr/local/cuda/lib64/libcublas.so", NULL,
};

/* Resolve every symbol of |syms| from |lib| into |api|; the first missing
 * one is named in *out_missing. */
static bool resolve(cuda_api *api, void *lib, const sym *syms, size_t n, const char **out_missing)
{
	for (size_t i = 0; i < n; i++) {
		void *p = dlsym(lib, syms[i].name);

		if (!p) {
			*out_missing = syms[i].name;
			return false;
		}
		memcpy((char *)api + syms[i].off, &p, sizeof(p));
	}
	return true;
}

static void clear(cuda_api *api, const sym *syms, size_t n)
{
	for (size_t i = 0; i < n; i++)
		memset((char *)api + syms[i].off, 0, sizeof(void *));
}

/* An optional library: $env (empty: none) or the first of |names| that
 * opens and has every symbol. */
static void open_optional(cuda_api *api, const char *env, const char *const *names,
			  const sym *syms, size_t n, void **out_lib)
{
	const char *path = getenv(env), *missing = NULL;

	if (path && !*path)
		return;
	for (size_t i = 0; path ? i == 0 : names[i] != NULL; i++) {
		void *lib = dlopen(path ? path : names[i], RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);

		if (!lib)
			continue;
		if (resolve(api, lib, syms, n, &missing)) {
			*out_lib = lib;
			return;
		}
		clear(api, syms, n);
		dlclose(lib);
	}
}

accel_status cuda_api_open(cuda_api **out)
{
	const char *path = getenv("ACCEL_LIBCUDA"), *missing = NULL;
	cuda_api *api;
	void *lib;

	*out = NULL;
	if (!path || !*path)
		path = "libcuda.so.1";
	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!lib)
		return NULL; /* no driver: no CUDA device */
	api = calloc(1, sizeof(*api));
	if (!api) {
		dlclose(lib);
		return status_oom("the CUDA entry points");
	}
	if (!resolve(api, lib, driver_syms, sizeof(driver_syms) / sizeof(driver_syms[0]),
		     &missing)) {
		free(api);
		dlclose(lib);
		return status_error(ACCEL_UNAVAILABLE,
				    "%s has no '%s': the CUDA driver is too old or not a driver",
				    path, missing);
	}
	api->lib = lib;
	atomic_init(&api->refs, 1);
	pthread_mutex_init(&api->ptx_lock, NULL);
	open_optional(api, "ACCEL_LIBNVRTC", nvrtc_names, nvrtc_syms,
		      sizeof(nvrtc_syms) / sizeof(nvrtc_syms[0]), &api->nvrtc_lib);
	open_optional(api, "ACCEL_LIBCUBLAS", cublas_names, cublas_syms,
		      sizeof(cublas_syms) / sizeof(cublas_syms[0]), &api->cublas_lib);
	*out = api;
	return NULL;
}

void cuda_api_put(cuda_api *api)
{
	if (!api || atomic_fetch_sub(&api->refs, 1) != 1)
		return;
	cuda_ptx_cache_clear(api);
	pthread_mutex_destroy(&api->ptx_lock);
	if (api->cublas_lib)
		dlclose(api->cublas_lib);
	if (api->nvrtc_lib)
		dlclose(api->nvrtc_lib);
	dlclose(api->lib);
	free(api);
}
