/* SPDX-License-Identifier: MIT */
/*
 * nvrtc.c - elementwise chains generated as CUDA C and compiled at run
 * time with NVRTC (dlopen'ed by loader.c).
 *
 * A chain is a sequence of float32 elementwise steps over same-shaped
 * operands: v = x0[i]; v = step1(v); v = step2(v, x1[i]); ...; y[i] = v.
 * The generated text is a pure function of the chain (attribute values are
 * written as exact bit patterns), so it is the cache key together with the
 * target architecture: the PTX is compiled once per (source, arch) and
 * shared by the devices of that architecture; each device loads it into
 * its own module (exec.c).
 */
#include "cuda/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Expression of each step: v is the running value, o the step's operand,
 * A and B its alpha and beta. */
static const struct {
	const char *op, *expr;
	bool binary; /* reads an operand */
} step_exprs[] = {
	{ "Relu", "fmaxf(v, 0.0f)" },
	{ "LeakyRelu", "v < 0.0f ? A * v : v" },
	{ "Sigmoid", "1.0f / (1.0f + expf(-v))" },
	{ "Tanh", "tanhf(v)" },
	{ "Exp", "expf(v)" },
	{ "Log", "logf(v)" },
	{ "Sqrt", "sqrtf(v)" },
	{ "Abs", "fabsf(v)" },
	{ "Neg", "-v" },
	{ "Reciprocal", "1.0f / v" },
	{ "Erf", "erff(v)" },
	{ "Gelu", "0.5f * v * (1.0f + erff(v * 0.70710678118654752f))" },
	{ "Gelu/tanh", "0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)))" },
	{ "Clip", "fminf(fmaxf(v, A), B)" },
	{ "HardSigmoid", "fminf(fmaxf(A * v + B, 0.0f), 1.0f)" },
	{ "HardSwish", "v * fminf(fmaxf(v / 6.0f + 0.5f, 0.0f), 1.0f)" },
	{ "Softplus", "v > 20.0f ? v : log1pf(expf(v))" },
	{ "Elu", "v < 0.0f ? A * (expf(v) - 1.0f) : v" },
	{ "Floor", "floorf(v)" },
	{ "Ceil", "ceilf(v)" },
	{ "Sin", "sinf(v)" },
	{ "Cos", "cosf(v)" },
	{ "Add", "v + o", true },
	{ "Sub", "v - o", true },
	{ "Mul", "v * o", true },
	{ "Div", "v / o", true },
	{ "Max", "fmaxf(v, o)", true },
	{ "Min", "fminf(v, o)", true },
	{ "Pow", "powf(v, o)", true },
};

static int step_find(const char *op)
{
	for (size_t i = 0; i < sizeof(step_exprs) / sizeof(step_exprs[0]); i++)
		if (!strcmp(step_exprs[i].op, op))
			return (int)i;
	return -1;
}

bool cuda_chain_op_known(const char *op)
{
	return step_find(op) >= 0;
}

/* A growing string; |failed| sticks once an allocation fails. */
typedef struct sbuf {
	char *s;
	size_t len, cap;
	bool failed;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if (!b->s || b->len + (size_t)n + 1 > b->cap) {
		size_t cap = (b->cap + (size_t)n + 1) * 2;
		char *s = realloc(b->s, cap);

		if (!s) {
			b->failed = true;
			return;
		}
		b->s = s;
		b->cap = cap;
		va_start(ap, fmt);
		vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/* An exact float literal that needs no C++17 hex floats. */
static void sb_float(sbuf *b, float f)
{
	unsigned u;

	memcpy(&u, &f, sizeof(u));
	sb_printf(b, "__int_as_float(0x%08x)", u);
}

accel_status cuda_chain_source(const cuda_chain *ch, char **out_src)
{
	sbuf b = { 0 };

	*out_src = NULL;
	if (!ch || ch->n_steps < 1 || ch->n_steps > CUDA_CHAIN_MAX || ch->n_operands < 0 ||
	    ch->n_operands > CUDA_CHAIN_MAX)
		return status_invalid("elementwise chain of %d steps", ch ? ch->n_steps : 0);
	sb_printf(&b, "// accel elementwise chain:");
	for (int i = 0; i < ch->n_steps; i++)
		sb_printf(&b, " %s", ch->steps[i].op);
	sb_printf(&b, "\nextern \"C\" __global__ void accel_chain(float *__restrict__ y,"
		      " const float *__restrict__ x0");
	for (int k = 1; k <= ch->n_operands; k++)
		sb_printf(&b, ", const float *__restrict__ x%d", k);
	sb_printf(&b, ", long long n)\n{\n"
		      "\tfor (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;"
		      " i < n;\n\t     i += (long long)blockDim.x * gridDim.x) {\n"
		      "\t\tfloat v = x0[i];\n");
	for (int i = 0; i < ch->n_steps; i++) {
		const cuda_chain_step *s = &ch->steps[i];
		int k = step_find(s->op);
		const char *e = k >= 0 ? step_exprs[k].expr : NULL;
		bool binary = k >= 0 && step_exprs[k].binary;

		if (!e) {
			free(b.s);
			return status_unsupported("'%s' in an elementwise chain", s->op);
		}
		if (binary != (s->operand >= 0) || s->operand > ch->n_operands || !s->operand) {
			free(b.s);
			return status_invalid("chain step %d (%s): operand %d of %d", i, s->op,
					      s->operand, ch->n_operands);
		}
		sb_printf(&b, "\t\t{\n");
		if (strstr(e, "A")) {
			sb_printf(&b, "\t\t\tconst float A = ");
			sb_float(&b, s->alpha);
			sb_printf(&b, ";\n");
		}
		if (strstr(e, "B")) {
			sb_printf(&b, "\t\t\tconst float B = ");
			sb_float(&b, s->beta);
			sb_printf(&b, ";\n");
		}
		if (binary)
			sb_printf(&b, "\t\t\tconst float o = x%d[i];\n", s->operand);
		sb_printf(&b, "\t\t\tv = %s; // %s\n\t\t}\n", e, s->op);
	}
	sb_printf(&b, "\t\ty[i] = v;\n\t}\n}\n");
	if (b.failed) {
		free(b.s);
		return status_oom("an elementwise chain's source");
	}
	*out_src = b.s;
	return NULL;
}

static accel_status nvrtc_error(const cuda_api *api, nvrtcResult r, const char *call,
				const char *log)
{
	return status_error(r == NVRTC_ERROR_OUT_OF_MEMORY ? ACCEL_OUT_OF_MEMORY : ACCEL_INTERNAL,
			    "%s: %s%s%s", call, api->nvrtcGetErrorString(r), log && *log ? ": " : "",
			    log ? log : "");
}

/* Compile |src| for compute_<arch> into a malloc'ed PTX string. */
static accel_status compile(const cuda_api *api, const char *src, int arch, char **out_ptx)
{
	nvrtcProgram prog = NULL;
	char opt_arch[40];
	const char *opts[] = { opt_arch, "-default-device" };
	size_t n = 0;
	char *log = NULL, *ptx = NULL;
	accel_status st = NULL;
	nvrtcResult r;

	snprintf(opt_arch, sizeof(opt_arch), "--gpu-architecture=compute_%d", arch);
	r = api->nvrtcCreateProgram(&prog, src, "accel_chain.cu", 0, NULL, NULL);
	if (r != NVRTC_SUCCESS)
		return nvrtc_error(api, r, "nvrtcCreateProgram", NULL);
	r = api->nvrtcCompileProgram(prog, 2, opts);
	if (r != NVRTC_SUCCESS) {
		if (api->nvrtcGetProgramLogSize(prog, &n) == NVRTC_SUCCESS && n &&
		    (log = malloc(n + 1)) && api->nvrtcGetProgramLog(prog, log) == NVRTC_SUCCESS)
			log[n] = '\0';
		else if (log)
			log[0] = '\0';
		st = nvrtc_error(api, r, "nvrtcCompileProgram", log);
		goto out;
	}
	if ((r = api->nvrtcGetPTXSize(prog, &n)) != NVRTC_SUCCESS ||
	    !(ptx = malloc(n + 1)) || (r = api->nvrtcGetPTX(prog, ptx)) != NVRTC_SUCCESS) {
		st = ptx ? nvrtc_error(api, r, "nvrtcGetPTX", NULL) : status_oom("PTX");
		free(ptx);
		goto out;
	}
	ptx[n] = '\0';
	*out_ptx = ptx;
out:
	free(log);
	api->nvrtcDestroyProgram(&prog);
	return st;
}

accel_status cuda_chain_ptx(cuda_api *api, const char *src, int arch, const cuda_ptx_entry **out)
{
	cuda_ptx_entry *e;
	char *ptx = NULL;
	accel_status st;

	if (!api->nvrtcCompileProgram)
		return status_error(ACCEL_UNAVAILABLE, "NVRTC (libnvrtc.so) is not available");
	pthread_mutex_lock(&api->ptx_lock);
	for (e = api->ptx_cache; e; e = e->next)
		if (e->arch == arch && !strcmp(e->src, src))
			break;
	if (e) {
		pthread_mutex_unlock(&api->ptx_lock);
		*out = e;
		return NULL;
	}
	/* Compiling under the lock: two threads never build the same chain. */
	st = compile(api, src, arch, &ptx);
	if (!st && (!(e = calloc(1, sizeof(*e))) || !(e->src = strdup(src)))) {
		free(e);
		free(ptx);
		st = status_oom("a PTX cache entry");
	}
	if (!st) {
		e->arch = arch;
		e->ptx = ptx;
		e->next = api->ptx_cache;
		api->ptx_cache = e;
		*out = e;
	}
	pthread_mutex_unlock(&api->ptx_lock);
	return st;
}

void cuda_ptx_cache_clear(cuda_api *api)
{
	pthread_mutex_lock(&api->ptx_lock);
	for (cuda_ptx_entry *e = api->ptx_cache, *next; e; e = next) {
		next = e->next;
		free(e->src);
		free(e->ptx);
		free(e);
	}
	api->ptx_cache = NULL;
	pthread_mutex_unlock(&api->ptx_lock);
}
