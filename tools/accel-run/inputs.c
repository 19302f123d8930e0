/* SPDX-License-Identifier: MIT */
/*
 * inputs.c - accel-run's graph inputs: read from .npy/.pb files, or filled
 * with deterministic pseudo-random data of the declared (or --shape) shape.
 *
 * The random data depends only on the input's name, dtype and shape, so two
 * runs (and two tools) that agree on those see the same numbers.
 */
#include "accel-run.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: tiny, fast and well mixed; all we need for test data. */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* FNV-1a of the name: the per-input seed. */
static uint64_t name_seed(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return h;
}

/* Uniform in [-1, 1) with 24 random bits: exact in float32. */
static float rand_unit(uint64_t *s)
{
	return (float)(splitmix64(s) >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

/* k/1024 with |k| <= 1024 is exact in float16; build its bits directly. */
static uint16_t rand_f16(uint64_t *s)
{
	int k = (int)(splitmix64(s) >> 53) - 1024; /* [-1024, 1024) */
	uint32_t sign = k < 0 ? 0x8000u : 0, m = (uint32_t)(k < 0 ? -k : k);
	int e = 0;

	if (!m)
		return (uint16_t)sign;
	while (m < 1024) { /* normalise m to [1024, 2048) */
		m <<= 1;
		e++;
	}
	/* value = m / 1024 * 2^-e; f16 exponent bias 15. */
	return (uint16_t)(sign | (uint32_t)(15 - e) << 10 | (m - 1024));
}

/* bfloat16 keeps 8 significant bits: k/128 is exact; top half of f32. */
static uint16_t rand_bf16(uint64_t *s)
{
	float f = (float)((int)(splitmix64(s) >> 56) - 128) / 128.0f;
	uint32_t bits;

	memcpy(&bits, &f, sizeof(bits));
	return (uint16_t)(bits >> 16);
}

static void fill_element(accel_dtype dt, void *data, int64_t i, uint64_t *s)
{
	/* Integers: small and non-negative so they are valid indices/ids. */
	int64_t small = (int64_t)(splitmix64(s) % 10);

	switch (dt) {
	case ACCEL_DTYPE_F32: ((float *)data)[i] = rand_unit(s); break;
	case ACCEL_DTYPE_F64: ((double *)data)[i] = rand_unit(s); break;
	case ACCEL_DTYPE_F16: ((uint16_t *)data)[i] = rand_f16(s); break;
	case ACCEL_DTYPE_BF16: ((uint16_t *)data)[i] = rand_bf16(s); break;
	case ACCEL_DTYPE_BOOL: ((uint8_t *)data)[i] = small & 1; break;
	case ACCEL_DTYPE_U8: ((uint8_t *)data)[i] = (uint8_t)small; break;
	case ACCEL_DTYPE_I8: ((int8_t *)data)[i] = (int8_t)small; break;
	case ACCEL_DTYPE_U16: ((uint16_t *)data)[i] = (uint16_t)small; break;
	case ACCEL_DTYPE_I16: ((int16_t *)data)[i] = (int16_t)small; break;
	case ACCEL_DTYPE_U32: ((uint32_t *)data)[i] = (uint32_t)small; break;
	case ACCEL_DTYPE_I32: ((int32_t *)data)[i] = (int32_t)small; break;
	case ACCEL_DTYPE_U64: ((uint64_t *)data)[i] = (uint64_t)small; break;
	case ACCEL_DTYPE_I64: ((int64_t *)data)[i] = small; break;
	default: break;
	}
}

bool parse_dims(const char *text, int *out_rank, int64_t *dims)
{
	const char *p = text;
	int rank = 0;

	if (!*p || !strcmp(p, "scalar")) {
		*out_rank = 0;
		return true;
	}
	for (;;) {
		char *end;
		long long v;

		if (rank == ACCEL_MAX_RANK || *p < '0' || *p > '9')
			return false;
		errno = 0;
		v = strtoll(p, &end, 10);
		if (errno || end == p)
			return false;
		dims[rank++] = v;
		p = end;
		if (!*p)
			break;
		if (*p != 'x' && *p != 'X' && *p != ',')
			return false;
		p++;
	}
	*out_rank = rank;
	return true;
}

static const struct name_value *find_nv(const struct name_value *nv, size_t n,
					const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(nv[i].name, name))
			return &nv[i];
	return NULL;
}

/* Every -i/--shape name must be a graph input, and be given once. */
static int check_names(const struct name_value *nv, size_t n, const char *opt,
		       const accel_model *model)
{
	for (size_t i = 0; i < n; i++) {
		bool found = false;

		for (size_t j = 0; j < accel_model_input_count(model); j++) {
			accel_value_info info;

			if (!accel_model_input_info(model, j, &info) &&
			    !strcmp(info.name, nv[i].name))
				found = true;
		}
		if (!found) {
			die_msg("%s '%s': the model has no input of that name",
				opt, nv[i].name);
			return EXIT_USAGE;
		}
		if (find_nv(nv, i, nv[i].name)) {
			die_msg("%s '%s' is given twice", opt, nv[i].name);
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

static int load_file(struct run_input *in, const char *path)
{
	accel_status st = accel_tensor_read_file(path, &in->tensor);
	accel_dtype dt;

	if (st) {
		die_msg("input '%s': %s", in->info.name, accel_status_message(st));
		accel_status_free(st);
		return EXIT_RUNTIME;
	}
	in->source = path;
	dt = accel_tensor_dtype(in->tensor);
	if (in->info.dtype != ACCEL_DTYPE_UNDEFINED && dt != in->info.dtype) {
		die_msg("input '%s': %s holds %s but the model declares %s",
			in->info.name, path, accel_dtype_name(dt),
			accel_dtype_name(in->info.dtype));
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

/* The shape of a random input: declared dims, overridden by --shape. */
static int random_shape(struct run_input *in, const char *shape, int *rank,
			int64_t *dims)
{
	const accel_value_info *info = &in->info;

	if (shape) {
		if (!parse_dims(shape, rank, dims)) {
			die_msg("--shape %s=%s: expected dimensions like 1x3x224x224",
				info->name, shape);
			return EXIT_USAGE;
		}
		if (info->rank >= 0 && *rank != info->rank) {
			die_msg("--shape %s=%s: the model declares rank %d",
				info->name, shape, info->rank);
			return EXIT_USAGE;
		}
		for (int d = 0; info->rank >= 0 && d < *rank; d++)
			if (info->dims[d] >= 0 && info->dims[d] != dims[d]) {
				die_msg("--shape %s=%s: dim %d is fixed to %lld by the model",
					info->name, shape, d,
					(long long)info->dims[d]);
				return EXIT_USAGE;
			}
		return EXIT_OK;
	}
	if (info->rank < 0) {
		die_msg("input '%s' has an unknown rank: give its shape with --shape %s=DIMS or a file with -i",
			info->name, info->name);
		return EXIT_USAGE;
	}
	*rank = info->rank;
	for (int d = 0; d < *rank; d++) {
		if (info->dims[d] < 0) {
			die_msg("input '%s' dim %d%s%s%s is dynamic: fix it with --shape %s=DIMS",
				info->name, d, info->dim_names[d] ? " ('" : "",
				info->dim_names[d] ? info->dim_names[d] : "",
				info->dim_names[d] ? "')" : "", info->name);
			return EXIT_USAGE;
		}
		dims[d] = info->dims[d];
	}
	return EXIT_OK;
}

static int make_random(struct run_input *in, const char *shape)
{
	int64_t dims[ACCEL_MAX_RANK] = { 0 };
	accel_dtype dt = in->info.dtype;
	accel_status st;
	int rank = 0, rc;
	void *data;

	rc = random_shape(in, shape, &rank, dims);
	if (rc)
		return rc;
	if (!accel_dtype_size(dt)) {
		die_msg("input '%s': cannot make random %s data; give a file with -i",
			in->info.name, accel_dtype_name(dt));
		return EXIT_RUNTIME;
	}
	st = accel_tensor_create(dt, rank, dims, &in->tensor);
	if (st) {
		die_msg("input '%s': %s", in->info.name, accel_status_message(st));
		accel_status_free(st);
		return EXIT_RUNTIME;
	}
	in->seed = name_seed(in->info.name);
	{
		uint64_t s = in->seed;
		int64_t n = accel_tensor_numel(in->tensor);

		data = accel_tensor_data(in->tensor);
		for (int64_t i = 0; i < n; i++)
			fill_element(dt, data, i, &s);
	}
	return EXIT_OK;
}

int inputs_prepare(const struct options *opt, const accel_model *model,
		   struct run_input **out_inputs, size_t *out_count)
{
	size_t n = accel_model_input_count(model);
	struct run_input *ins = calloc(n ? n : 1, sizeof(*ins));
	int rc;

	if (!ins) {
		die_msg("out of memory");
		return EXIT_RUNTIME;
	}
	*out_inputs = ins;
	*out_count = n;
	rc = check_names(opt->inputs, opt->n_inputs, "--input", model);
	if (!rc)
		rc = check_names(opt->shapes, opt->n_shapes, "--shape", model);
	for (size_t i = 0; !rc && i < n; i++) {
		const struct name_value *file, *shape;
		accel_status st = accel_model_input_info(model, i, &ins[i].info);

		if (st) {
			die_msg("%s", accel_status_message(st));
			accel_status_free(st);
			return EXIT_RUNTIME;
		}
		file = find_nv(opt->inputs, opt->n_inputs, ins[i].info.name);
		shape = find_nv(opt->shapes, opt->n_shapes, ins[i].info.name);
		if (file && shape) {
			die_msg("input '%s' is given both --input and --shape",
				ins[i].info.name);
			return EXIT_USAGE;
		}
		rc = file ? load_file(&ins[i], file->value) :
			    make_random(&ins[i], shape ? shape->value : NULL);
	}
	return rc;
}

void inputs_free(struct run_input *inputs, size_t count)
{
	if (!inputs)
		return;
	for (size_t i = 0; i < count; i++)
		accel_tensor_release(inputs[i].tensor);
	free(inputs);
}
