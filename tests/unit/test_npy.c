/* SPDX-License-Identifier: MIT */
/*
 * test_npy.c - tensor files: .npy round trips for every dtype, the .npy
 * variants NumPy writes (format 2.0, big-endian, 1-D Fortran order), the
 * malformed files we must refuse, and the .pb fallback of
 * accel_tensor_read_file().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "accel/accel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];

static int setup(void **state)
{
	strcpy(tmpdir, "/tmp/test_npy.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *tmp_path(const char *name)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "%s/%s", tmpdir, name);
	return buf;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* Writes "\x93NUMPY" v1.0 with |dict| padded, then |data|. */
static void write_npy_raw(const char *path, int major, const char *dict,
			  const void *data, size_t n)
{
	size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
	size_t total = (pre + dl + 1 + 63) / 64 * 64;
	unsigned char *buf = calloc(1, total + n);
	size_t hl = total - pre;

	assert_non_null(buf);
	memcpy(buf, "\x93NUMPY", 6);
	buf[6] = (unsigned char)major;
	buf[8] = hl & 0xff;
	buf[9] = (hl >> 8) & 0xff;
	memcpy(buf + pre, dict, dl);
	memset(buf + pre + dl, ' ', total - pre - dl - 1);
	buf[total - 1] = '\n';
	memcpy(buf + total, data, n);
	write_bytes(path, buf, total + n);
	free(buf);
}

static void expect_code(accel_status st, accel_status_code code)
{
	if (accel_status_code_of(st) != code)
		fail_msg("expected %s, got %s: %s", accel_status_code_name(code),
			 accel_status_code_name(accel_status_code_of(st)),
			 accel_status_message(st));
	accel_status_free(st);
}

static void roundtrip(accel_dtype dt, int rank, const int64_t *dims)
{
	const char *path = tmp_path("rt.npy");
	accel_tensor *t = NULL, *back = NULL;
	unsigned char *p;

	assert_null(accel_tensor_create(dt, rank, dims, &t));
	p = accel_tensor_data(t);
	for (size_t i = 0; i < accel_tensor_nbytes(t); i++)
		p[i] = (unsigned char)(i * 7 + 3);
	if (dt == ACCEL_DTYPE_BOOL)
		for (size_t i = 0; i < accel_tensor_nbytes(t); i++)
			p[i] &= 1;
	assert_null(accel_tensor_write_npy(t, path));
	assert_null(accel_tensor_read_file(path, &back));
	assert_int_equal(accel_tensor_dtype(back), dt);
	assert_int_equal(accel_tensor_rank(back), rank);
	for (int d = 0; d < rank; d++)
		assert_int_equal(accel_tensor_dims(back)[d], dims[d]);
	assert_int_equal(accel_tensor_nbytes(back), accel_tensor_nbytes(t));
	assert_memory_equal(accel_tensor_data(back), p, accel_tensor_nbytes(t));
	accel_tensor_release(t);
	accel_tensor_release(back);
}

static void test_roundtrip_every_dtype(void **state)
{
	static const accel_dtype dts[] = {
		ACCEL_DTYPE_F32, ACCEL_DTYPE_F64, ACCEL_DTYPE_F16,
		ACCEL_DTYPE_I8,	 ACCEL_DTYPE_I16, ACCEL_DTYPE_I32,
		ACCEL_DTYPE_I64, ACCEL_DTYPE_U8,  ACCEL_DTYPE_U16,
		ACCEL_DTYPE_U32, ACCEL_DTYPE_U64, ACCEL_DTYPE_BOOL,
	};
	const int64_t d3[] = { 2, 3, 5 }, d1[] = { 7 }, d0[] = { 4, 0 };

	for (size_t i = 0; i < sizeof(dts) / sizeof(dts[0]); i++) {
		roundtrip(dts[i], 3, d3);
		roundtrip(dts[i], 1, d1);
		roundtrip(dts[i], 0, NULL);
		roundtrip(dts[i], 2, d0);
	}
}

static void test_header_is_numpy_style(void **state)
{
	const int64_t dims[] = { 2, 3 };
	accel_tensor *t = NULL;
	char buf[153] = { 0 };
	FILE *f;

	assert_null(accel_tensor_create(ACCEL_DTYPE_F32, 2, dims, &t));
	assert_null(accel_tensor_write_npy(t, tmp_path("h.npy")));
	f = fopen(tmp_path("h.npy"), "rb");
	assert_non_null(f);
	/* NumPy's np.save writes exactly this: a 128-byte header + 24 bytes. */
	assert_int_equal(fread(buf, 1, 153, f), 152);
	fclose(f);
	assert_memory_equal(buf, "\x93NUMPY\x01\x00\x76\x00", 10);
	assert_non_null(strstr(buf + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
	assert_int_equal(buf[127], '\n');
	assert_int_equal(buf[126], ' ');
	accel_tensor_release(t);
}

static void test_reads_v2_bigendian_fortran1d(void **state)
{
	const unsigned char be[] = { 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe };
	const float f[3] = { 1.5f, -2.0f, 3.25f };
	accel_tensor *t = NULL;

	write_npy_raw(tmp_path("be.npy"), 1,
		      "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }",
		      be, sizeof(be));
	assert_null(accel_tensor_read_file(tmp_path("be.npy"), &t));
	assert_int_equal(accel_tensor_dtype(t), ACCEL_DTYPE_I32);
	assert_int_equal(((int32_t *)accel_tensor_data(t))[0], 1);
	assert_int_equal(((int32_t *)accel_tensor_data(t))[1], -2);
	accel_tensor_release(t);

	write_npy_raw(tmp_path("v2.npy"), 2,
		      "{\"shape\": (3,), \"fortran_order\": True, \"descr\": \"<f4\"}",
		      f, sizeof(f));
	assert_null(accel_tensor_read_file(tmp_path("v2.npy"), &t));
	assert_int_equal(accel_tensor_rank(t), 1);
	assert_memory_equal(accel_tensor_data(t), f, sizeof(f));
	accel_tensor_release(t);
}

static void expect_read(const char *dict, size_t nbytes, accel_status_code code)
{
	unsigned char data[64] = { 0 };
	accel_tensor *t = NULL;

	write_npy_raw(tmp_path("bad.npy"), 1, dict, data, nbytes);
	expect_code(accel_tensor_read_file(tmp_path("bad.npy"), &t), code);
	assert_null(t);
}

static void test_refuses_malformed(void **state)
{
	const char *ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";

	expect_read(ok_dict, 12, ACCEL_INVALID_ARGUMENT);  /* truncated */
	expect_read(ok_dict, 20, ACCEL_INVALID_ARGUMENT);  /* trailing */
	expect_read("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }",
		    16, ACCEL_UNSUPPORTED);
	expect_read("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
		    16, ACCEL_UNSUPPORTED);
	expect_read("{'descr': '<f4', 'shape': (2,), }", 8, ACCEL_INVALID_ARGUMENT);
	expect_read("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }",
		    8, ACCEL_INVALID_ARGUMENT);
	expect_read("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }",
		    4, ACCEL_UNSUPPORTED);
	expect_read("['descr']", 0, ACCEL_INVALID_ARGUMENT);
	expect_read("{'descr': '<f4', 'fortran_order': Nope, 'shape': (), }", 4,
		    ACCEL_INVALID_ARGUMENT);
}

static void test_file_errors(void **state)
{
	const int64_t dims[] = { 2 };
	accel_tensor *t = NULL;

	expect_code(accel_tensor_read_file(tmp_path("missing.npy"), &t),
		    ACCEL_NOT_FOUND);
	assert_null(accel_tensor_create(ACCEL_DTYPE_BF16, 1, dims, &t));
	expect_code(accel_tensor_write_npy(t, tmp_path("bf.npy")),
		    ACCEL_UNSUPPORTED);
	expect_code(accel_tensor_write_npy(t, tmp_path("no/such/dir.npy")),
		    ACCEL_UNSUPPORTED); /* dtype is checked before the path */
	accel_tensor_release(t);
	assert_null(accel_tensor_create(ACCEL_DTYPE_F32, 1, dims, &t));
	expect_code(accel_tensor_write_npy(t, tmp_path("no/such/dir.npy")),
		    ACCEL_NOT_FOUND);
	expect_code(accel_tensor_write_npy(NULL, tmp_path("x.npy")),
		    ACCEL_INVALID_ARGUMENT);
	accel_tensor_release(t);
}

/* A file without the .npy magic is read as a TensorProto. */
static void test_pb_fallback(void **state)
{
	/* dims: [2], data_type: FLOAT, raw_data: {1.0f, 2.0f} */
	const unsigned char pb[] = { 0x08, 0x02, 0x10, 0x01, 0x4a, 0x08,
				     0x00, 0x00, 0x80, 0x3f, 0x00, 0x00,
				     0x00, 0x40 };
	accel_tensor *t = NULL;

	write_bytes(tmp_path("t.pb"), pb, sizeof(pb));
	assert_null(accel_tensor_read_file(tmp_path("t.pb"), &t));
	assert_int_equal(accel_tensor_dtype(t), ACCEL_DTYPE_F32);
	assert_int_equal(accel_tensor_rank(t), 1);
	assert_int_equal(accel_tensor_dims(t)[0], 2);
	assert_true(((float *)accel_tensor_data(t))[1] == 2.0f);
	accel_tensor_release(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_dtype),
		cmocka_unit_test(test_header_is_numpy_style),
		cmocka_unit_test(test_reads_v2_bigendian_fortran1d),
		cmocka_unit_test(test_refuses_malformed),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_pb_fallback),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
