/* SPDX-License-Identifier: MIT */
/*
 * tensor_npy.c - tensor files: NumPy .npy read/write, and the reader that
 * picks .npy or a serialized ONNX TensorProto by the file's first bytes.
 *
 * The .npy format: the magic "\x93NUMPY", a major/minor version, a header
 * length (u16 for 1.x, u32 for 2.x/3.x), then a Python dict literal such as
 * {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with
 * spaces to a 64-byte boundary and ended by '\n', then the raw data.
 */
#include "core/tensor.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* A header dict is a few dozen bytes; refuse absurd lengths early. */
#define NPY_MAX_HEADER (1u << 20)

struct npy_type {
	accel_dtype dtype;
	char kind;	/* numpy kind character: f, i, u, b */
	int size;
};

static const struct npy_type npy_types[] = {
	{ ACCEL_DTYPE_F32, 'f', 4 }, { ACCEL_DTYPE_F64, 'f', 8 },
	{ ACCEL_DTYPE_F16, 'f', 2 }, { ACCEL_DTYPE_I8, 'i', 1 },
	{ ACCEL_DTYPE_I16, 'i', 2 }, { ACCEL_DTYPE_I32, 'i', 4 },
	{ ACCEL_DTYPE_I64, 'i', 8 }, { ACCEL_DTYPE_U8, 'u', 1 },
	{ ACCEL_DTYPE_U16, 'u', 2 }, { ACCEL_DTYPE_U32, 'u', 4 },
	{ ACCEL_DTYPE_U64, 'u', 8 }, { ACCEL_DTYPE_BOOL, 'b', 1 },
};

/* What the header dict says. */
struct npy_header {
	accel_dtype dtype;
	bool big_endian;
	bool fortran;
	int rank;
	int64_t dims[ACCEL_MAX_RANK];
	bool seen_descr, seen_fortran, seen_shape;
};

static bool host_is_little_endian(void)
{
	const uint16_t one = 1;

	return *(const uint8_t *)&one == 1;
}

/* ---- header parsing: a tiny reader for the dict literal ---- */

struct cursor {
	const char *p, *end;
};

static void skip_space(struct cursor *c)
{
	while (c->p < c->end && isspace((unsigned char)*c->p))
		c->p++;
}

static bool eat(struct cursor *c, char ch)
{
	skip_space(c);
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return true;
	}
	return false;
}

/* A quoted Python string without escapes (all .npy keys and descrs). */
static bool read_str(struct cursor *c, char *buf, size_t len)
{
	char q;
	size_t n = 0;

	skip_space(c);
	if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
		return false;
	q = *c->p++;
	while (c->p < c->end && *c->p != q) {
		if (n + 1 >= len)
			return false;
		buf[n++] = *c->p++;
	}
	if (c->p >= c->end)
		return false;
	c->p++;
	buf[n] = '\0';
	return true;
}

static bool read_word(struct cursor *c, const char *word)
{
	size_t n = strlen(word);

	skip_space(c);
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n))
		return false;
	c->p += n;
	return true;
}

static accel_status parse_descr(const char *descr, const char *path,
				struct npy_header *h)
{
	char order = descr[0], kind;
	int size;

	if (order != '<' && order != '>' && order != '|' && order != '=')
		return status_invalid("%s: unknown .npy descr '%s'", path, descr);
	kind = descr[1];
	if (!kind || !isdigit((unsigned char)descr[2]))
		return status_unsupported("%s: .npy dtype '%s' is not supported",
					  path, descr);
	size = atoi(descr + 2);
	for (size_t i = 0; i < sizeof(npy_types) / sizeof(npy_types[0]); i++) {
		if (npy_types[i].kind != kind || npy_types[i].size != size)
			continue;
		h->dtype = npy_types[i].dtype;
		h->big_endian = order == '>' ||
				(order == '=' && !host_is_little_endian());
		return NULL;
	}
	return status_unsupported("%s: .npy dtype '%s' is not supported", path,
				  descr);
}

static accel_status parse_shape(struct cursor *c, const char *path,
				struct npy_header *h)
{
	if (!eat(c, '('))
		return status_invalid("%s: .npy 'shape' is not a tuple", path);
	h->rank = 0;
	while (!eat(c, ')')) {
		char *endp;
		long long v;

		skip_space(c);
		if (c->p >= c->end || !isdigit((unsigned char)*c->p))
			return status_invalid("%s: .npy 'shape' holds a non-integer",
					      path);
		if (h->rank == ACCEL_MAX_RANK)
			return status_unsupported("%s: .npy rank exceeds %d", path,
						  ACCEL_MAX_RANK);
		errno = 0;
		v = strtoll(c->p, &endp, 10);
		if (errno || endp > c->end || v < 0)
			return status_invalid("%s: .npy 'shape' dimension out of range",
					      path);
		c->p = endp;
		h->dims[h->rank++] = v;
		if (!eat(c, ',')) {
			if (!eat(c, ')'))
				return status_invalid("%s: .npy 'shape' is malformed",
						      path);
			break;
		}
	}
	return NULL;
}

static accel_status parse_value(struct cursor *c, const char *key,
				const char *path, struct npy_header *h)
{
	char buf[32];

	if (!strcmp(key, "descr")) {
		if (!read_str(c, buf, sizeof(buf)))
			return status_unsupported("%s: .npy 'descr' is not a simple type string",
						  path);
		h->seen_descr = true;
		return parse_descr(buf, path, h);
	}
	if (!strcmp(key, "fortran_order")) {
		if (read_word(c, "True"))
			h->fortran = true;
		else if (read_word(c, "False"))
			h->fortran = false;
		else
			return status_invalid("%s: .npy 'fortran_order' is not a bool",
					      path);
		h->seen_fortran = true;
		return NULL;
	}
	if (!strcmp(key, "shape")) {
		h->seen_shape = true;
		return parse_shape(c, path, h);
	}
	return status_invalid("%s: unknown .npy header key '%s'", path, key);
}

static accel_status parse_header(const char *text, size_t len,
				 const char *path, struct npy_header *h)
{
	struct cursor c = { text, text + len };

	memset(h, 0, sizeof(*h));
	if (!eat(&c, '{'))
		return status_invalid("%s: .npy header is not a dict", path);
	while (!eat(&c, '}')) {
		char key[32];

		if (!read_str(&c, key, sizeof(key)) || !eat(&c, ':'))
			return status_invalid("%s: .npy header is malformed", path);
		ACCEL_TRY(parse_value(&c, key, path, h));
		if (!eat(&c, ',')) {
			if (!eat(&c, '}'))
				return status_invalid("%s: .npy header is malformed",
						      path);
			break;
		}
	}
	if (!h->seen_descr || !h->seen_fortran || !h->seen_shape)
		return status_invalid("%s: .npy header lacks descr, fortran_order or shape",
				      path);
	if (h->fortran && h->rank > 1)
		return status_unsupported("%s: Fortran-order .npy arrays are not supported",
					  path);
	return NULL;
}

/* ---- reading ---- */

static void byteswap(void *data, size_t nbytes, size_t es)
{
	uint8_t *p = data;

	for (size_t off = 0; off + es <= nbytes; off += es)
		for (size_t i = 0; i < es / 2; i++) {
			uint8_t t = p[off + i];

			p[off + i] = p[off + es - 1 - i];
			p[off + es - 1 - i] = t;
		}
}

static accel_status read_exact(FILE *f, void *buf, size_t n, const char *path,
			       const char *what)
{
	if (n && fread(buf, 1, n, f) != n)
		return status_error(ferror(f) ? ACCEL_IO_ERROR : ACCEL_INVALID_ARGUMENT,
				    "%s: %s while reading the .npy %s", path,
				    ferror(f) ? strerror(errno) : "unexpected end of file",
				    what);
	return NULL;
}

static accel_status read_npy_header(FILE *f, const char *path,
				    struct npy_header *h)
{
	uint8_t pre[NPY_MAGIC_LEN + 2], lenb[4];
	uint32_t hlen;
	char *text;
	accel_status st;

	ACCEL_TRY(read_exact(f, pre, sizeof(pre), path, "preamble"));
	if (memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN))
		return status_invalid("%s: not a .npy file", path);
	if (pre[6] < 1 || pre[6] > 3)
		return status_unsupported("%s: .npy format version %u.%u is not supported",
					  path, pre[6], pre[7]);
	if (pre[6] == 1) {
		ACCEL_TRY(read_exact(f, lenb, 2, path, "header length"));
		hlen = (uint32_t)lenb[0] | (uint32_t)lenb[1] << 8;
	} else {
		ACCEL_TRY(read_exact(f, lenb, 4, path, "header length"));
		hlen = (uint32_t)lenb[0] | (uint32_t)lenb[1] << 8 |
		       (uint32_t)lenb[2] << 16 | (uint32_t)lenb[3] << 24;
	}
	if (hlen > NPY_MAX_HEADER)
		return status_invalid("%s: .npy header length %u is too large",
				      path, hlen);
	text = malloc(hlen + 1);
	if (!text)
		return status_oom("a .npy header");
	st = read_exact(f, text, hlen, path, "header");
	if (!st) {
		text[hlen] = '\0';
		st = parse_header(text, hlen, path, h);
	}
	free(text);
	return st;
}

static accel_status read_npy(FILE *f, const char *path, accel_tensor **out)
{
	struct npy_header h;
	accel_tensor *t = NULL;
	accel_status st;
	char extra;

	ACCEL_TRY(read_npy_header(f, path, &h));
	ACCEL_TRY(accel_tensor_create(h.dtype, h.rank, h.dims, &t));
	st = read_exact(f, t->data, t->nbytes, path, "data");
	if (!st && fread(&extra, 1, 1, f) == 1)
		st = status_invalid("%s: trailing bytes after the .npy data", path);
	if (st) {
		accel_tensor_release(t);
		return st;
	}
	if (h.big_endian && accel_dtype_size(h.dtype) > 1)
		byteswap(t->data, t->nbytes, accel_dtype_size(h.dtype));
	*out = t;
	return NULL;
}

static accel_status open_file(const char *path, const char *mode, FILE **out)
{
	FILE *f = fopen(path, mode);

	if (!f)
		return status_error(errno == ENOENT ? ACCEL_NOT_FOUND :
				    errno == EACCES ? ACCEL_PERMISSION_DENIED :
				    ACCEL_IO_ERROR,
				    "%s: %s", path, strerror(errno));
	*out = f;
	return NULL;
}

ACCEL_API accel_status accel_tensor_read_file(const char *path,
					      accel_tensor **out_tensor)
{
	char magic[NPY_MAGIC_LEN];
	accel_status st;
	size_t got;
	FILE *f = NULL;

	if (!path || !out_tensor)
		return status_invalid("accel_tensor_read_file: NULL argument");
	ACCEL_TRY(open_file(path, "rb", &f));
	got = fread(magic, 1, sizeof(magic), f);
	if (got == sizeof(magic) && !memcmp(magic, NPY_MAGIC, NPY_MAGIC_LEN)) {
		rewind(f);
		st = read_npy(f, path, out_tensor);
		fclose(f);
		return st;
	}
	fclose(f);
	return accel_tensor_read_pb(path, out_tensor, NULL);
}

/* ---- writing ---- */

static accel_status npy_descr(accel_dtype dtype, char *buf, size_t len)
{
	char order = host_is_little_endian() ? '<' : '>';

	for (size_t i = 0; i < sizeof(npy_types) / sizeof(npy_types[0]); i++) {
		if (npy_types[i].dtype != dtype)
			continue;
		snprintf(buf, len, "%c%c%d", npy_types[i].size == 1 ? '|' : order,
			 npy_types[i].kind, npy_types[i].size);
		return NULL;
	}
	return status_unsupported("tensor dtype %s cannot be written as .npy",
				  accel_dtype_name(dtype));
}

/* Builds the whole preamble + padded header; returns its length in *len. */
static accel_status npy_preamble(const accel_tensor *t, char **out, size_t *len)
{
	char descr[8], shape[ACCEL_MAX_RANK * 22 + 4], *buf;
	size_t used = 0, dict_len, pre, total;
	int n;

	ACCEL_TRY(npy_descr(t->dtype, descr, sizeof(descr)));
	used += (size_t)snprintf(shape, sizeof(shape), "(");
	for (int i = 0; i < t->rank; i++)
		used += (size_t)snprintf(shape + used, sizeof(shape) - used,
					 "%lld,%s", (long long)t->dims[i],
					 i + 1 < t->rank ? " " : "");
	if (t->rank > 1)
		shape[--used] = '\0'; /* numpy writes (2, 3) but (3,) */
	snprintf(shape + used, sizeof(shape) - used, ")");
	/* Room for the dict, the padding and the newline. */
	buf = malloc(sizeof(shape) + 128);
	if (!buf)
		return status_oom("a .npy header");
	n = snprintf(buf + 10, sizeof(shape) + 100,
		     "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
		     descr, shape);
	dict_len = (size_t)n;
	pre = 10; /* version 1.0: magic, 2 version bytes, u16 length */
	total = (pre + dict_len + 1 + 63) / 64 * 64;
	memset(buf + pre + dict_len, ' ', total - pre - dict_len - 1);
	buf[total - 1] = '\n';
	memcpy(buf, NPY_MAGIC, NPY_MAGIC_LEN);
	buf[6] = 1;
	buf[7] = 0;
	buf[8] = (char)((total - pre) & 0xff);
	buf[9] = (char)((total - pre) >> 8);
	*out = buf;
	*len = total;
	return NULL;
}

ACCEL_API accel_status accel_tensor_write_npy(const accel_tensor *tensor,
					      const char *path)
{
	accel_status st;
	char *hdr = NULL;
	size_t hlen = 0;
	FILE *f = NULL;
	bool ok;

	if (!tensor || !path)
		return status_invalid("accel_tensor_write_npy: NULL argument");
	if (tensor->rank < 0 || (!tensor->data && tensor->nbytes))
		return status_invalid("%s: tensor has no shape or data to write",
				      path);
	ACCEL_TRY(npy_preamble(tensor, &hdr, &hlen));
	st = open_file(path, "wb", &f);
	if (st) {
		free(hdr);
		return st;
	}
	ok = fwrite(hdr, 1, hlen, f) == hlen;
	if (ok && tensor->nbytes)
		ok = fwrite(tensor->data, 1, tensor->nbytes, f) == tensor->nbytes;
	free(hdr);
	if (fclose(f) != 0)
		ok = false;
	if (!ok) {
		int err = errno;

		remove(path);
		return status_error(ACCEL_IO_ERROR, "%s: writing .npy failed: %s",
				    path, strerror(err));
	}
	return NULL;
}
