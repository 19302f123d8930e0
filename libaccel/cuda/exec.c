/* SPDX-License-Identifier: MIT */
/*
 * exec.c - modules, functions and launches; the node entry points: which
 * ops run here (cuda_supports), their once-per-session preparation
 * (modules loaded, constants uploaded), and their execution through the
 * per-family op tables (exec_*.c).
 */
#include "cuda/internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const cuda_op *const families[] = {
	cuda_ops_elementwise,
	cuda_ops_linalg,
	cuda_ops_nn,
	cuda_ops_tensor,
};

static const cuda_op *op_find(const ir_node *n)
{
	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++)
		for (const cuda_op *o = families[f]; o->op_type; o++)
			if (!strcmp(o->op_type, n->op_type) && ir_domain_equal(o->domain, n->domain))
				return o;
	return NULL;
}

const cuda_image *cuda_image_find(const char *name)
{
	for (const cuda_image *i = cuda_images; i->name; i++)
		if (!strcmp(i->name, name))
			return i;
	return NULL;
}

/* ---- modules ---- */

static accel_status module_get(cuda_device *dev, const void *key, const cuda_image *img,
			       const char *ptx, CUmodule *out)
{
	const cuda_api *api = dev->api;
	cuda_module_entry *m;
	CUmodule mod = NULL;
	CUresult r;

	for (m = dev->modules; m; m = m->next)
		if (m->key == key) {
			*out = m->mod;
			return NULL;
		}
	if (img) {
		/* The cubins first; a GPU they do not cover JIT-compiles the PTX. */
		r = api->ModuleLoadData(&mod, img->fatbin);
		if (r == CUDA_ERROR_NO_BINARY_FOR_GPU)
			r = api->ModuleLoadData(&mod, img->ptx);
		if (r != CUDA_SUCCESS)
			return cuda_error(api, r, "cuModuleLoadData", "module '%s' on %s", img->name,
					  dev->name);
	} else {
		r = api->ModuleLoadData(&mod, ptx);
		if (r != CUDA_SUCCESS)
			return cuda_error(api, r, "cuModuleLoadData", "generated module on %s",
					  dev->name);
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		api->ModuleUnload(mod);
		return status_oom("a CUDA module entry");
	}
	m->key = key;
	m->mod = mod;
	m->next = dev->modules;
	dev->modules = m;
	*out = mod;
	return NULL;
}

static accel_status function_get(cuda_device *dev, const void *key, const cuda_image *img,
				 const char *ptx, const char *name, CUfunction *out)
{
	cuda_func_entry *f;
	CUmodule mod;
	CUfunction fn;
	CUresult r;

	for (f = dev->funcs; f; f = f->next)
		if (f->key == key && !strcmp(f->name, name)) {
			*out = f->fn;
			return NULL;
		}
	ACCEL_TRY(module_get(dev, key, img, ptx, &mod));
	r = dev->api->ModuleGetFunction(&fn, mod, name);
	if (r != CUDA_SUCCESS)
		return cuda_error(dev->api, r, "cuModuleGetFunction", "kernel '%s'", name);
	f = calloc(1, sizeof(*f));
	if (!f || !(f->name = strdup(name))) {
		free(f);
		return status_oom("a CUDA function entry");
	}
	f->key = key;
	f->fn = fn;
	f->next = dev->funcs;
	dev->funcs = f;
	*out = fn;
	return NULL;
}

accel_status cuda_function(cuda_device *dev, const cuda_image *img, const char *name,
			   CUfunction *out)
{
	return function_get(dev, img, img, NULL, name, out);
}

accel_status cuda_function_ptx(cuda_device *dev, const void *key, const char *ptx,
			       const char *name, CUfunction *out)
{
	return function_get(dev, key, NULL, ptx, name, out);
}

accel_status cuda_launch(cuda_device *dev, CUfunction fn, const char *name, cuda_dim3 grid,
			 cuda_dim3 block, unsigned shmem, void **args)
{
	CUresult r;

	if (!grid.x || !grid.y || !grid.z)
		return NULL;
	r = dev->api->LaunchKernel(fn, grid.x, grid.y, grid.z, block.x, block.y, block.z, shmem,
				   dev->stream, args, NULL);
	if (r != CUDA_SUCCESS)
		return cuda_error(dev->api, r, "cuLaunchKernel", "kernel '%s' (grid %ux%ux%u)",
				  name, grid.x, grid.y, grid.z);
	return NULL;
}

accel_status cuda_launch_img(cuda_ctx *c, const char *image, const char *name, cuda_dim3 grid,
			     cuda_dim3 block, unsigned shmem, void **args)
{
	const cuda_image *img = cuda_image_find(image);
	CUfunction fn;

	if (!img)
		return status_error(ACCEL_INTERNAL, "no embedded CUDA module '%s'", image);
	ACCEL_TRY(cuda_function(c->dev, img, name, &fn));
	return cuda_launch(c->dev, fn, name, grid, block, shmem, args);
}

accel_status cuda_launch_1d(cuda_ctx *c, const char *image, const char *name, size_t n,
			    void **args)
{
	/* Grid-stride kernels: a few waves of blocks are enough. */
	size_t blocks = (n + 255) / 256, cap = (size_t)(c->dev->sm_count > 0 ? c->dev->sm_count : 1) * 32;

	if (!n)
		return NULL;
	if (blocks > cap)
		blocks = cap;
	return cuda_launch_img(c, image, name, (cuda_dim3){ (unsigned)blocks, 1, 1 },
			       (cuda_dim3){ 256, 1, 1 }, 0, args);
}

/* ---- the node entry points ---- */

bool cuda_supports(cuda_device *dev, const ir_node *n, accel_tensor *const *in, int n_in)
{
	const cuda_op *op;

	if (!dev || !n || !(op = op_find(n)))
		return false;
	for (int i = 0; i < n_in && i < 32; i++)
		if ((op->host_inputs & (1u << i)) && in[i] && !in[i]->data)
			return false;
	for (int i = 0; i < n_in; i++)
		if (in[i] && (in[i]->dtype == ACCEL_DTYPE_UNDEFINED ||
			      in[i]->dtype == ACCEL_DTYPE_STRING))
			return false;
	return !op->check || op->check(n, in, n_in);
}

void cuda_release(cuda_device *dev, void *state)
{
	cuda_state *s = state;

	if (!s)
		return;
	if (dev) {
		accel_status st = cuda_enter(dev);

		if (!st) {
			for (int i = 0; i < s->n_in; i++)
				if (s->const_mem[i])
					dev->api->MemFree(s->const_mem[i]);
			cuda_leave(dev);
		}
		accel_status_free(st); /* nothing to report to: release cannot fail */
	}
	free(s->const_mem);
	free(s);
}

accel_status cuda_prepare(cuda_device *dev, const ir_node *n, accel_tensor *const *const_in,
			  int n_in, void **out_state)
{
	const cuda_op *op;
	const cuda_image *img;
	cuda_state *s;
	CUmodule mod;
	accel_status st;

	if (!dev || !n || !out_state)
		return status_invalid("cuda_prepare: NULL argument");
	*out_state = NULL;
	if (!(op = op_find(n)))
		return status_unsupported("%s has no CUDA kernel", n->op_type);
	if (!(img = cuda_image_find(op->image)))
		return status_error(ACCEL_INTERNAL, "no embedded CUDA module '%s'", op->image);
	s = calloc(1, sizeof(*s));
	if (!s || !(s->const_mem = calloc((size_t)n_in + 1, sizeof(CUdeviceptr)))) {
		free(s);
		return status_oom("CUDA node state");
	}
	s->n_in = n_in;
	if ((st = cuda_enter(dev))) {
		cuda_release(NULL, s);
		return st;
	}
	st = module_get(dev, img, img, NULL, &mod);
	/* Constants the kernels read on the device live there for the session. */
	for (int i = 0; i < n_in && !st && const_in; i++) {
		const accel_tensor *t = const_in[i];

		if (!t || !t->data || (i < 32 && (op->host_inputs & (1u << i))))
			continue;
		st = cuda_mem_alloc_locked(dev, t->nbytes, &s->const_mem[i]);
		if (!st)
			st = cuda_upload_locked(dev, s->const_mem[i], t->data, t->nbytes);
	}
	cuda_leave(dev);
	if (st) {
		cuda_release(dev, s);
		return st;
	}
	*out_state = s;
	return NULL;
}

accel_status cuda_exec(cuda_device *dev, const ir_node *n, void *state, accel_tensor *const *in,
		       const bool *in_on_host, int n_in, accel_tensor *const *out, int n_out)
{
	cuda_ctx c = {
		.dev = dev, .node = n, .state = state, .in = in,
		.on_host = in_on_host, .n_in = n_in, .out = out, .n_out = n_out,
	};
	const cuda_op *op;
	accel_status st;

	if (!dev || !n || (!in && n_in) || (!out && n_out))
		return status_invalid("cuda_exec: NULL argument");
	if (!(op = op_find(n)))
		return status_unsupported("%s has no CUDA kernel", n->op_type);
	for (int i = 0; i < n_out; i++)
		if (out[i] && tensor_numel(out[i]) > INT_MAX)
			return status_unsupported("output %d has more than 2^31 elements", i);
	ACCEL_TRY(cuda_enter(dev));
	st = op->exec(&c);
	if (c.n_temps) {
		/* Scratch may be freed only once the kernels reading it are done. */
		CUresult r = dev->api->StreamSynchronize(dev->stream);

		if (r != CUDA_SUCCESS && !st)
			st = cuda_error(dev->api, r, "cuStreamSynchronize", "%s", dev->name);
		for (int i = 0; i < c.n_temps; i++)
			dev->api->MemFree(c.temps[i]);
	}
	cuda_leave(dev);
	return st;
}

accel_status cuda_finish(cuda_device *dev)
{
	CUresult r;

	if (!dev)
		return status_invalid("cuda_finish: NULL device");
	ACCEL_TRY(cuda_enter(dev));
	r = dev->api->StreamSynchronize(dev->stream);
	cuda_leave(dev);
	if (r != CUDA_SUCCESS)
		return cuda_error(dev->api, r, "cuStreamSynchronize", "%s", dev->name);
	return NULL;
}

/* ---- helpers for the op files ---- */

bool cuda_check_f32(const ir_node *n, accel_tensor *const *in, int n_in)
{
	(void)n;
	for (int i = 0; i < n_in; i++)
		if (in[i] && in[i]->dtype != ACCEL_DTYPE_F32)
			return false;
	return n_in > 0 && in[0];
}

bool cuda_act_from_node(const ir_node *n, cuda_act *out)
{
	const char *name = ir_attr_string(n, "activation", NULL);
	cuda_act a = { CUDA_ACT_NONE, -INFINITY, INFINITY, 0.0f, 0.0f };

	if (!name) {
		*out = a;
		return true;
	}
	if (!strcmp(name, "Relu")) {
		a.kind = CUDA_ACT_CLAMP;
		a.lo = 0.0f;
	} else if (!strcmp(name, "Clip")) {
		a.kind = CUDA_ACT_CLAMP;
		a.lo = ir_attr_float(n, "activation_min", -INFINITY);
		a.hi = ir_attr_float(n, "activation_max", INFINITY);
	} else if (!strcmp(name, "Sigmoid")) {
		a.kind = CUDA_ACT_SIGMOID;
	} else if (!strcmp(name, "HardSigmoid")) {
		a.kind = CUDA_ACT_HARDSIGMOID;
		a.alpha = ir_attr_float(n, "activation_alpha", 0.2f);
		a.beta = ir_attr_float(n, "activation_beta", 0.5f);
	} else if (!strcmp(name, "HardSwish")) {
		a.kind = CUDA_ACT_HARDSWISH;
	} else if (!strcmp(name, "LeakyRelu")) {
		a.kind = CUDA_ACT_LEAKYRELU;
		a.alpha = ir_attr_float(n, "activation_alpha", 0.01f);
	} else if (!strcmp(name, "Silu")) {
		a.kind = CUDA_ACT_SILU;
	} else if (!strcmp(name, "Gelu")) {
		const char *ap = ir_attr_string(n, "activation_approximate", "none");

		if (!strcmp(ap, "tanh"))
			a.kind = CUDA_ACT_GELU_TANH;
		else if (!strcmp(ap, "none"))
			a.kind = CUDA_ACT_GELU;
		else
			return false;
	} else {
		return false;
	}
	*out = a;
	return true;
}

const char *const cuda_kernel_names[] = {
	"elementwise", "ew_binary_f32", "ew_unary_f32", NULL,
	"gemm", "gemm_f32", "im2col_f32", "conv_direct_f32", NULL,
	"nn", "pool2d_f32", "row_mean_f32", "softmax_f32", "layernorm_f32", NULL,
	"tensor", "strided_copy_8", "strided_copy_16", "strided_copy_32", "strided_copy_64",
	"gather_8", "gather_16", "gather_32", "gather_64", NULL,
	NULL,
};
