/* SPDX-License-Identifier: MIT */
/*
 * tensor_proto.c - decoding ONNX TensorProto payloads: raw little-endian
 * bytes, the typed repeated fields, and external data files.
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

static accel_status read_external(const AccelOnnx__Tensor *tp, const char *base_dir,
				  accel_tensor *t)
{
	const char *location = NULL;
	uint64_t offset = 0, length = UINT64_MAX;
	struct stat sb;
	accel_status st = NULL;
	size_t done = 0;
	int fd;

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
	ACCEL_TRY(open_external(tp, base_dir, location, &fd));
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		st = status_error(ACCEL_IO_ERROR, "tensor '%s': external data '%s' is not a regular file",
				  tname(tp), location);
		goto out;
	}
	if (offset > (uint64_t)sb.st_size || t->nbytes > (uint64_t)sb.st_size - offset) {
		st = status_bad_model("tensor '%s': external data '%s' has %lld bytes, the tensor needs %zu at offset %llu",
				      tname(tp), location, (long long)sb.st_size, t->nbytes,
				      (unsigned long long)offset);
		goto out;
	}
	if ((st = tensor_alloc(t)))
		goto out;
	while (done < t->nbytes) {
		ssize_t n = pread(fd, (char *)t->data + done, t->nbytes - done,
				  (off_t)(offset + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			st = status_error(ACCEL_IO_ERROR, "tensor '%s': reading external data '%s': %s",
					  tname(tp), location, n ? strerror(errno) : "unexpected end of file");
			goto out;
		}
		done += (size_t)n;
	}
out:
	close(fd);
	return st;
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

accel_status onnx_tensor_convert(const AccelOnnx__Tensor *tp, const char *base_dir,
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
		st = read_external(tp, base_dir, t);
	} else if (tp->has_raw_data) {
		if (tp->raw_data.len != t->nbytes) {
			st = status_bad_model("tensor '%s': raw_data has %zu bytes, shape and %s need %zu",
					      tname(tp), tp->raw_data.len,
					      accel_dtype_name(dt), t->nbytes);
			goto fail;
		}
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
	*out = t;
	return NULL;
fail:
	accel_tensor_release(t);
	return st;
}
