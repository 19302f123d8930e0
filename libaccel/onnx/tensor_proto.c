/* SPDX-License-Identifier: MIT */
/*
 * tensor_proto.c - decoding ONNX TensorProto payloads: raw little-endian
 * bytes, the typed repeated fields, and external data files.
 *
 * External data is checked (confinement, sizes) when a tensor is converted
 * but read later, all tensors at once, by the file reader: straight into
 * each tensor's storage, many reads in flight.
 */
#include "onnx/tensor_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(TENSOR_ALIGN == 64, "file_buffer_alloc aligns to 64 bytes");

/* Raw payloads at least this large are taken over rather than copied. */
#define RAW_TAKEOVER_MIN 4096

typedef struct ext_file {
	char *location; /* as the model spells it */
	int fd;
	uint64_t size;
} ext_file;

struct onnx_external {
	char *base_dir; /* NULL: external data refused */
	ext_file *files;
	size_t n_files, cap_files;
	file_reader *reader;
};

/* Aligned, padded like tensor_alloc's storage (TENSOR_ALIGN is 64). */
static void *proto_alloc(void *data, size_t size)
{
	return size < RAW_TAKEOVER_MIN ? malloc(size) : file_buffer_alloc(size);
}

static void proto_free(void *data, void *p)
{
	free(p);
}

ProtobufCAllocator onnx_proto_allocator = {
	.alloc = proto_alloc,
	.free = proto_free,
};

accel_status onnx_external_create(const char *base_dir, onnx_external **out)
{
	onnx_external *x = calloc(1, sizeof(*x));
	accel_status st;

	if (!x)
		return status_oom("the external data table");
	if (base_dir && !(x->base_dir = strdup(base_dir))) {
		free(x);
		return status_oom("the external data table");
	}
	st = file_reader_create(0, &x->reader);
	if (st) {
		free(x->base_dir);
		free(x);
		return st;
	}
	*out = x;
	return NULL;
}

accel_status onnx_external_finish(onnx_external *x)
{
	return x ? file_reader_flush(x->reader) : NULL;
}

void onnx_external_destroy(onnx_external *x)
{
	if (!x)
		return;
	file_reader_destroy(x->reader); /* drops reads never started */
	for (size_t i = 0; i < x->n_files; i++) {
		close(x->files[i].fd);
		free(x->files[i].location);
	}
	free(x->files);
	free(x->base_dir);
	free(x);
}

static const char *tname(const AccelOnnx__Tensor *tp)
{
	return tp->name && *tp->name ? tp->name : "<unnamed>";
}

/*
 * External data must stay inside the model's directory: no absolute paths,
 * no ".." components, and after resolving symlinks the file must still be
 * under base_dir.
 */
static accel_status open_external(const AccelOnnx__Tensor *tp, const char *base_dir,
				  const char *location, int *out_fd)
{
	char *path = NULL, real_base[PATH_MAX], real_path[PATH_MAX];
	const char *p = location;
	size_t blen;
	int fd;

	if (!base_dir)
		return status_error(ACCEL_PERMISSION_DENIED,
				    "tensor '%s': external data '%s' is not allowed for a model loaded from memory without a base directory",
				    tname(tp), location);
	if (!*location || location[0] == '/')
		return status_error(ACCEL_PERMISSION_DENIED,
				    "tensor '%s': external data path '%s' must be relative to the model's directory",
				    tname(tp), location);
	while (*p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == 2 && !strncmp(p, "..", 2))
			return status_error(ACCEL_PERMISSION_DENIED,
					    "tensor '%s': external data path '%s' leaves the model's directory",
					    tname(tp), location);
		p += len;
		while (*p == '/')
			p++;
	}
	if (!realpath(base_dir, real_base))
		return status_error(ACCEL_NOT_FOUND, "tensor '%s': model directory '%s': %s",
				    tname(tp), base_dir, strerror(errno));
	if (asprintf(&path, "%s/%s", real_base, location) < 0)
		return status_oom("an external data path");
	if (!realpath(path, real_path)) {
		accel_status st = status_error(errno == ENOENT ? ACCEL_NOT_FOUND : ACCEL_IO_ERROR,
					       "tensor '%s': external data file '%s': %s",
					       tname(tp), path, strerror(errno));
		free(path);
		return st;
	}
	blen = strlen(real_base);
	if (strncmp(real_path, real_base, blen) || real_path[blen] != '/') {
		accel_status st = status_error(ACCEL_PERMISSION_DENIED,
					       "tensor '%s': external data path '%s' resolves to '%s', outside the model's directory",
					       tname(tp), location, real_path);
		free(path);
		return st;
	}
	fd = open(real_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		accel_status st = status_error(ACCEL_IO_ERROR,
					       "tensor '%s': cannot open external data file '%s': %s",
					       tname(tp), path, strerror(errno));
		free(path);
		return st;
	}
	free(path);
	*out_fd = fd;
	return NULL;
}

static accel_status parse_u64(const AccelOnnx__Tensor *tp, const char *key,
			      const char *val, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(val, &end, 10);
	if (errno || end == val || *end || val[0] == '-')
		return status_bad_model("tensor '%s': external data %s '%s' is not a valid number",
					tname(tp), key, val);
	return NULL;
}

/* The data file |location|, confined and opened on first use. */
static accel_status external_file(onnx_external *x, const AccelOnnx__Tensor *tp,
				  const char *location, const ext_file **out)
{
	ext_file *f;
	struct stat sb;
	int fd;

	for (size_t i = 0; i < x->n_files; i++)
		if (!strcmp(x->files[i].location, location)) {
			*out = &x->files[i];
			return NULL;
		}
	if (x->n_files == x->cap_files) {
		size_t ncap = x->cap_files ? x->cap_files * 2 : 4;
		ext_file *nf = realloc(x->files, ncap * sizeof(*nf));

		if (!nf)
			return status_oom("the external data table");
		x->files = nf;
		x->cap_files = ncap;
	}
	ACCEL_TRY(open_external(tp, x->base_dir, location, &fd));
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		close(fd);
		return status_error(ACCEL_IO_ERROR, "tensor '%s': external data '%s' is not a regular file",
				    tname(tp), location);
	}
	f = &x->files[x->n_files];
	f->location = strdup(location);
	if (!f->location) {
		close(fd);
		return status_oom("the external data table");
	}
	f->fd = fd;
	f->size = (uint64_t)sb.st_size;
	x->n_files++;
	*out = f;
	return NULL;
}

static accel_status read_external(const AccelOnnx__Tensor *tp, onnx_external *x,
				  accel_tensor *t)
{
	const char *location = NULL;
	uint64_t offset = 0, length = UINT64_MAX;
	const ext_file *f = NULL;
	char what[512];

	for (size_t i = 0; i < tp->n_external_data; i++) {
		const AccelOnnx__StringStringEntry *e = tp->external_data[i];

		if (!e->key || !e->value)
			continue;
		if (!strcmp(e->key, "location"))
			location = e->value;
		else if (!strcmp(e->key, "offset"))
			ACCEL_TRY(parse_u64(tp, "offset", e->value, &offset));
		else if (!strcmp(e->key, "length"))
			ACCEL_TRY(parse_u64(tp, "length", e->value, &length));
	}
	if (!location)
		return status_bad_model("tensor '%s': external data has no location",
					tname(tp));
	if (length != UINT64_MAX && length != t->nbytes)
		return status_bad_model("tensor '%s': external data length %llu does not match its shape (%zu bytes)",
					tname(tp), (unsigned long long)length, t->nbytes);
	if (!x)
		return status_error(ACCEL_PERMISSION_DENIED,
				    "tensor '%s': external data '%s' is not allowed for a tensor read on its own",
				    tname(tp), location);
	ACCEL_TRY(external_file(x, tp, location, &f));
	if (offset > f->size || t->nbytes > f->size - offset)
		return status_bad_model("tensor '%s': external data '%s' has %llu bytes, the tensor needs %zu at offset %llu",
					tname(tp), location, (unsigned long long)f->size,
					t->nbytes, (unsigned long long)offset);
	/* Every byte is read before the tensor is used: no zeroing. */
	t->data = file_buffer_alloc(t->nbytes);
	if (!t->data)
		return status_error(ACCEL_OUT_OF_MEMORY,
				    "tensor '%s': out of memory allocating %zu bytes", tname(tp),
				    t->nbytes);
	t->owns_data = true;
	snprintf(what, sizeof(what), "tensor '%s': reading external data '%s'",
		 tname(tp), location);
	return file_reader_add(x->reader, f->fd, offset, t->data, t->nbytes, what);
}

static accel_status check_count(const AccelOnnx__Tensor *tp, const char *field,
				size_t have, int64_t want)
{
	if ((int64_t)have != want)
		return status_bad_model("tensor '%s': %s holds %zu values, its shape needs %lld",
					tname(tp), field, have, (long long)want);
	return NULL;
}

/* The typed field that holds |dt| must have exactly |n| values. */
static accel_status check_typed_count(const AccelOnnx__Tensor *tp, accel_dtype dt, int64_t n)
{
	switch (dt) {
	case ACCEL_DTYPE_F32: return check_count(tp, "float_data", tp->n_float_data, n);
	case ACCEL_DTYPE_F64: return check_count(tp, "double_data", tp->n_double_data, n);
	case ACCEL_DTYPE_I64: return check_count(tp, "int64_data", tp->n_int64_data, n);
	case ACCEL_DTYPE_U32:
	case ACCEL_DTYPE_U64: return check_count(tp, "uint64_data", tp->n_uint64_data, n);
	default: return check_count(tp, "int32_data", tp->n_int32_data, n);
	}
}

/* Fill |t| from the typed repeated field that matches its dtype. */
static accel_status read_typed(const AccelOnnx__Tensor *tp, accel_tensor *t)
{
	int64_t n = tensor_numel(t);

	if (n == 0) /* the typed field may be absent (NULL) for empty tensors */
		return NULL;
	switch (t->dtype) {
	case ACCEL_DTYPE_F32:
		memcpy(t->data, tp->float_data, (size_t)n * 4);
		return NULL;
	case ACCEL_DTYPE_F64:
		memcpy(t->data, tp->double_data, (size_t)n * 8);
		return NULL;
	case ACCEL_DTYPE_I64:
		memcpy(t->data, tp->int64_data, (size_t)n * 8);
		return NULL;
	case ACCEL_DTYPE_U32:
	case ACCEL_DTYPE_U64:
		for (int64_t i = 0; i < n; i++)
			tensor_set_i64(t, i, (int64_t)tp->uint64_data[i]);
		return NULL;
	case ACCEL_DTYPE_F16:
	case ACCEL_DTYPE_BF16:
		for (int64_t i = 0; i < n; i++)
			((uint16_t *)t->data)[i] = (uint16_t)tp->int32_data[i];
		return NULL;
	default: /* int32, int16, int8, uint16, uint8, bool */
		for (int64_t i = 0; i < n; i++)
			tensor_set_i64(t, i, tp->int32_data[i]);
		return NULL;
	}
}

/* Make the unpacked raw_data block |t|'s storage (see onnx_proto_allocator). */
static bool take_raw(AccelOnnx__Tensor *tp, accel_tensor *t)
{
	if (t->nbytes < RAW_TAKEOVER_MIN || t->dtype == ACCEL_DTYPE_BOOL ||
	    (uintptr_t)tp->raw_data.data % TENSOR_ALIGN)
		return false;
	t->data = tp->raw_data.data;
	t->owns_data = true;
	tp->raw_data.data = NULL;
	tp->raw_data.len = 0;
	tp->has_raw_data = false;
	return true;
}

accel_status onnx_tensor_convert(const AccelOnnx__Tensor *tp, onnx_external *ext,
				 accel_tensor **out)
{
	accel_dtype dt = (accel_dtype)(tp->has_data_type ? tp->data_type : 0);
	accel_tensor *t = NULL;
	accel_status st;
	int64_t n;

	if (dt == ACCEL_DTYPE_STRING)
		return status_unsupported("tensor '%s': string tensors are not supported",
					  tname(tp));
	if (!accel_dtype_size(dt))
		return status_unsupported("tensor '%s': data type %d is not supported",
					  tname(tp), (int)dt);
	if (tp->n_dims > ACCEL_MAX_RANK)
		return status_unsupported("tensor '%s': rank %zu exceeds the maximum of %d",
					  tname(tp), tp->n_dims, ACCEL_MAX_RANK);
	for (size_t i = 0; i < tp->n_dims; i++)
		if (tp->dims[i] < 0)
			return status_bad_model("tensor '%s': dimension %zu is negative (%lld)",
						tname(tp), i, (long long)tp->dims[i]);
	ACCEL_TRY(tensor_new_shape(dt, (int)tp->n_dims, tp->dims, &t));
	n = tensor_numel(t);
	if (n < 0 || (uint64_t)n > SIZE_MAX / 8) {
		st = status_bad_model("tensor '%s': its shape overflows", tname(tp));
		goto fail;
	}
	/* Sizes are checked against the payload before anything is allocated,
	 * so a corrupt shape cannot ask for absurd amounts of memory. */
	t->nbytes = (size_t)n * accel_dtype_size(dt);
	if (tp->has_data_location &&
	    tp->data_location == ACCEL_ONNX__TENSOR__DATA_LOCATION__EXTERNAL) {
		st = read_external(tp, ext, t);
	} else if (tp->has_raw_data) {
		if (tp->raw_data.len != t->nbytes) {
			st = status_bad_model("tensor '%s': raw_data has %zu bytes, shape and %s need %zu",
					      tname(tp), tp->raw_data.len,
					      accel_dtype_name(dt), t->nbytes);
			goto fail;
		}
		if (ext && take_raw((AccelOnnx__Tensor *)tp, t))
			goto done;
		if ((st = tensor_alloc(t)))
			goto fail;
		if (t->nbytes)
			memcpy(t->data, tp->raw_data.data, t->nbytes);
		if (dt == ACCEL_DTYPE_BOOL) /* normalise to 0/1 */
			for (size_t i = 0; i < t->nbytes; i++)
				((uint8_t *)t->data)[i] = ((uint8_t *)t->data)[i] != 0;
	} else {
		st = check_typed_count(tp, dt, n);
		if (!st)
			st = tensor_alloc(t);
		if (!st)
			st = read_typed(tp, t);
	}
	if (st)
		goto fail;
done:
	*out = t;
	return NULL;
fail:
	accel_tensor_release(t);
	return st;
}
