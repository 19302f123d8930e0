/* SPDX-License-Identifier: MIT */
/*
 * exec.c - the node entry points: which ops run here (ocl_supports), their
 * once-per-session preparation (programs built, constants uploaded), and
 * their execution through the per-family op tables (exec_*.c).
 */
#include "opencl/internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const ocl_op *const families[] = {
	ocl_ops_elementwise,
	ocl_ops_linalg,
	ocl_ops_nn,
	ocl_ops_tensor,
	ocl_ops_index,
};

static const ocl_op *op_find(const ir_node *n)
{
	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++)
		for (const ocl_op *o = families[f]; o->op_type; o++)
			if (!strcmp(o->op_type, n->op_type) &&
			    ir_domain_equal(o->domain, n->domain))
				return o;
	return NULL;
}

static bool has_fp64(ocl_device *dev)
{
	cl_device_fp_config cfg = 0;

	return clGetDeviceInfo(dev->id, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof(cfg), &cfg,
			       NULL) == CL_SUCCESS && cfg != 0;
}

bool ocl_supports(ocl_device *dev, const ir_node *n, accel_tensor *const *in,
		  int n_in)
{
	const ocl_op *op;

	if (!dev || !n || !(op = op_find(n)))
		return false;
	if (op->fp64 && !has_fp64(dev))
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

accel_status ocl_prepare(ocl_device *dev, const ir_node *n,
			 accel_tensor *const *const_in, int n_in, void **out_state)
{
	const ocl_op *op;
	ocl_state *s;
	cl_program prog;
	accel_status st = NULL;

	if (!dev || !n || !out_state)
		return status_invalid("ocl_prepare: NULL argument");
	*out_state = NULL;
	if (!(op = op_find(n)))
		return status_unsupported("%s has no OpenCL kernel", n->op_type);
	ACCEL_TRY(ocl_program_get(dev, op->src, &prog));
	s = calloc(1, sizeof(*s));
	if (!s || !(s->const_mem = calloc((size_t)n_in + 1, sizeof(cl_mem)))) {
		free(s);
		return status_oom("OpenCL node state");
	}
	s->n_in = n_in;
	/* Constants the kernels read on the device live there for the session. */
	for (int i = 0; i < n_in && !st && const_in; i++) {
		const accel_tensor *t = const_in[i];

		if (!t || !t->data || (i < 32 && (op->host_inputs & (1u << i))))
			continue;
		st = ocl_buffer(dev, t->nbytes, &s->const_mem[i]);
		if (!st)
			st = ocl_upload(dev, s->const_mem[i], t->data, t->nbytes);
	}
	if (st) {
		ocl_release(dev, s);
		return st;
	}
	*out_state = s;
	return NULL;
}

void ocl_release(ocl_device *dev, void *state)
{
	ocl_state *s = state;

	(void)dev;
	if (!s)
		return;
	for (int i = 0; i < s->n_in; i++)
		if (s->const_mem[i])
			clReleaseMemObject(s->const_mem[i]);
	free(s->const_mem);
	free(s);
}

accel_status ocl_exec(ocl_device *dev, const ir_node *n, void *state,
		      accel_tensor *const *in, const bool *in_on_host, int n_in,
		      accel_tensor *const *out, int n_out)
{
	ocl_ctx c = {
		.dev = dev, .node = n, .state = state, .in = in,
		.on_host = in_on_host, .n_in = n_in, .out = out, .n_out = n_out,
	};
	const ocl_op *op;
	accel_status st;

	if (!dev || !n || (!in && n_in) || (!out && n_out))
		return status_invalid("ocl_exec: NULL argument");
	if (!(op = op_find(n)))
		return status_unsupported("%s has no OpenCL kernel", n->op_type);
	for (int i = 0; i < n_out; i++)
		if (out[i] && (st = ocl_check_size(out[i])))
			return st;
	for (int i = 0; i < n_in; i++)
		if (in[i] && (st = ocl_check_size(in[i])))
			return st;
	st = op->exec(&c);
	/* the error word of index kernels, if this exec took it */
	st = ocl_check_end(&c, st);
	for (int i = 0; i < c.n_temps; i++)
		clReleaseMemObject(c.temps[i]);
	return st;
}

/* ---- helpers for the op files ---- */

bool ocl_check_f32(const ir_node *n, accel_tensor *const *in, int n_in)
{
	(void)n;
	for (int i = 0; i < n_in; i++)
		if (in[i] && in[i]->dtype != ACCEL_DTYPE_F32)
			return false;
	return n_in > 0 && in[0];
}

const char *ocl_type_sfx(accel_dtype dt)
{
	switch (dt) {
	case ACCEL_DTYPE_F32: return "f32";
	case ACCEL_DTYPE_I32: return "i32";
	case ACCEL_DTYPE_I64: return "i64";
	case ACCEL_DTYPE_U8:
	case ACCEL_DTYPE_BOOL: return "u8";
	case ACCEL_DTYPE_I8: return "i8";
	case ACCEL_DTYPE_F16: return "f16";
	default: return NULL;
	}
}

accel_status ocl_check_size(const accel_tensor *t)
{
	if (t->nbytes > (size_t)INT_MAX)
		return status_unsupported("tensor of %zu bytes: the OpenCL kernels index with 32 bits",
					  t->nbytes);
	return NULL;
}

bool ocl_act_from_node(const ir_node *n, ocl_act *out)
{
	const char *name = ir_attr_string(n, "activation", NULL);
	ocl_act a = { OCL_ACT_NONE, -INFINITY, INFINITY, 0.0f, 0.0f };

	if (!name) {
		*out = a;
		return true;
	}
	if (!strcmp(name, "Relu")) {
		a.kind = OCL_ACT_CLAMP;
		a.lo = 0.0f;
	} else if (!strcmp(name, "Clip")) {
		a.kind = OCL_ACT_CLAMP;
		a.lo = ir_attr_float(n, "activation_min", -INFINITY);
		a.hi = ir_attr_float(n, "activation_max", INFINITY);
	} else if (!strcmp(name, "Sigmoid")) {
		a.kind = OCL_ACT_SIGMOID;
	} else if (!strcmp(name, "HardSigmoid")) {
		a.kind = OCL_ACT_HARDSIGMOID;
		a.alpha = ir_attr_float(n, "activation_alpha", 0.2f);
		a.beta = ir_attr_float(n, "activation_beta", 0.5f);
	} else if (!strcmp(name, "HardSwish")) {
		a.kind = OCL_ACT_HARDSWISH;
	} else if (!strcmp(name, "LeakyRelu")) {
		a.kind = OCL_ACT_LEAKYRELU;
		a.alpha = ir_attr_float(n, "activation_alpha", 0.01f);
	} else if (!strcmp(name, "Silu")) {
		a.kind = OCL_ACT_SILU;
	} else if (!strcmp(name, "Gelu")) {
		const char *ap = ir_attr_string(n, "activation_approximate", "none");

		if (!strcmp(ap, "tanh"))
			a.kind = OCL_ACT_GELU_TANH;
		else if (!strcmp(ap, "none"))
			a.kind = OCL_ACT_GELU;
		else
			return false;
	} else {
		return false;
	}
	*out = a;
	return true;
}
