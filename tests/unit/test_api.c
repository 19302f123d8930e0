// SPDX-License-Identifier: MIT
/*
 * test_api.c - the public API's basic objects: statuses, dtypes, tensors and
 * tensor files (.npy round trips, ONNX TensorProto reading).
 *
 * status_error()/status_annotate() are internal, but they are the only way to
 * build a status, so they are tested here alongside the public accessors.
 */
#include "accel/accel.h"
#include "core/status.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char tmpdir[] = "/tmp/accel-test-api-XXXXXX";

#define assert_ok(expr)                                                        \
	do {                                                                   \
		accel_status ok_st_ = (expr);                                  \
		if (ok_st_) {                                                  \
			print_error("%s: %s\n", #expr,                         \
				    accel_status_message(ok_st_));             \
			accel_status_free(ok_st_);                             \
			fail();                                                \
		}                                                              \
	} while (0)

/* |st| is an error of |code| whose message contains |needle|; frees it. */
static void expect_code(accel_status st, accel_status_code code,
			const char *needle)
{
	accel_status_code got = accel_status_code_of(st);
	const char *msg = accel_status_message(st);
	bool ok = st && got == code && (!needle || strstr(msg, needle));

	if (!ok)
		print_error("expected %s naming '%s', got %s: %s\n",
			    accel_status_code_name(code), needle ? needle : "",
			    accel_status_code_name(got), msg);
	accel_status_free(st);
	assert_true(ok);
}

/* ---- status ------------------------------------------------------------------- */

static void null_status_is_ok(void **state)
{
	assert_int_equal(accel_status_code_of(NULL), ACCEL_OK);
	assert_string_equal(accel_status_message(NULL), "OK");
	accel_status_free(NULL);
}

static void status_carries_code_and_formatted_message(void **state)
{
	accel_status st = status_error(ACCEL_NOT_FOUND, "input '%s' of %d", "x", 3);

	assert_non_null(st);
	assert_int_equal(accel_status_code_of(st), ACCEL_NOT_FOUND);
	assert_string_equal(accel_status_message(st), "input 'x' of 3");
	accel_status_free(st);
}

static void annotate_prepends_context(void **state)
{
	accel_status st = status_invalid("input 'W': rank 3");

	st = status_annotate(st, "node '%s' (%s)", "conv1", "Conv");
	st = status_annotate(st, "model '%s'", "m.onnx");
	assert_int_equal(accel_status_code_of(st), ACCEL_INVALID_ARGUMENT);
	assert_string_equal(accel_status_message(st),
			    "model 'm.onnx': node 'conv1' (Conv): input 'W': rank 3");
	accel_status_free(st);
	assert_null(status_annotate(NULL, "ignored %d", 1));
}

static void every_code_has_a_name(void **state)
{
	static const char *const names[] = {
		"OK", "INVALID_ARGUMENT", "NOT_FOUND", "UNSUPPORTED",
		"OUT_OF_MEMORY", "IO_ERROR", "INVALID_MODEL", "PERMISSION_DENIED",
		"INTERNAL", "UNAVAILABLE", "DEADLINE_EXCEEDED",
	};

	for (int c = 0; c <= ACCEL_DEADLINE_EXCEEDED; c++)
		assert_string_equal(accel_status_code_name((accel_status_code)c),
				    names[c]);
	assert_string_equal(accel_status_code_name((accel_status_code)1000),
			    "UNKNOWN");
}

/* ---- dtypes -------------------------------------------------------------------- */

static void dtype_sizes_and_names(void **state)
{
	static const struct {
		accel_dtype dt;
		size_t size;
		const char *name;
	} t[] = {
		{ ACCEL_DTYPE_F32, 4, "float32" }, { ACCEL_DTYPE_F16, 2, "float16" },
		{ ACCEL_DTYPE_BF16, 2, "bfloat16" }, { ACCEL_DTYPE_F64, 8, "float64" },
		{ ACCEL_DTYPE_I8, 1, "int8" },	     { ACCEL_DTYPE_U8, 1, "uint8" },
		{ ACCEL_DTYPE_I16, 2, "int16" },     { ACCEL_DTYPE_U16, 2, "uint16" },
		{ ACCEL_DTYPE_I32, 4, "int32" },     { ACCEL_DTYPE_U32, 4, "uint32" },
		{ ACCEL_DTYPE_I64, 8, "int64" },     { ACCEL_DTYPE_U64, 8, "uint64" },
		{ ACCEL_DTYPE_BOOL, 1, "bool" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(accel_dtype_size(t[i].dt), t[i].size);
		assert_string_equal(accel_dtype_name(t[i].dt), t[i].name);
	}
	assert_int_equal(accel_dtype_size(ACCEL_DTYPE_UNDEFINED), 0);
	assert_int_equal(accel_dtype_size(ACCEL_DTYPE_STRING), 0);
	assert_int_equal(accel_dtype_size((accel_dtype)99), 0);
	assert_string_equal(accel_dtype_name((accel_dtype)99), "undefined");
}

/* ---- tensors -------------------------------------------------------------------- */

static void create_gives_zeroed_tensor_of_shape(void **state)
{
	const int64_t dims[3] = { 2, 3, 4 };
	accel_tensor *t = NULL;
	const float *f;

	assert_ok(accel_tensor_create(ACCEL_DTYPE_F32, 3, dims, &t));
	assert_int_equal(accel_tensor_dtype(t), ACCEL_DTYPE_F32);
	assert_int_equal(accel_tensor_rank(t), 3);
	assert_memory_equal(accel_tensor_dims(t), dims, sizeof(dims));
	assert_int_equal(accel_tensor_numel(t), 24);
	assert_int_equal(accel_tensor_nbytes(t), 96);
	f = accel_tensor_data(t);
	assert_non_null(f);
	for (int i = 0; i < 24; i++)
		assert_true(f[i] == 0.0f);
	accel_tensor_release(t);
}

static void scalars_and_empty_tensors(void **state)
{
	const int64_t zero[2] = { 3, 0 };
	accel_tensor *s = NULL, *e = NULL;

	assert_ok(accel_tensor_create(ACCEL_DTYPE_I64, 0, NULL, &s));
	assert_int_equal(accel_tensor_rank(s), 0);
	assert_int_equal(accel_tensor_numel(s), 1);
	assert_int_equal(accel_tensor_nbytes(s), 8);
	assert_ok(accel_tensor_create(ACCEL_DTYPE_F32, 2, zero, &e));
	assert_int_equal(accel_tensor_numel(e), 0);
	assert_int_equal(accel_tensor_nbytes(e), 0);
	accel_tensor_release(s);
	accel_tensor_release(e);
}

static void create_rejects_bad_arguments(void **state)
{
	const int64_t dims[2] = { 2, -1 };
	const int64_t huge[3] = { INT64_C(1) << 40, INT64_C(1) << 40, 16 };
	accel_tensor *t = NULL;

	expect_code(accel_tensor_create(ACCEL_DTYPE_STRING, 1, dims, &t),
		    ACCEL_INVALID_ARGUMENT, "dtype");
	expect_code(accel_tensor_create(ACCEL_DTYPE_UNDEFINED, 1, dims, &t),
		    ACCEL_INVALID_ARGUMENT, "dtype");
	expect_code(accel_tensor_create(ACCEL_DTYPE_F32, -1, dims, &t),
		    ACCEL_INVALID_ARGUMENT, "rank");
	expect_code(accel_tensor_create(ACCEL_DTYPE_F32, ACCEL_MAX_RANK + 1, dims, &t),
		    ACCEL_INVALID_ARGUMENT, "rank");
	expect_code(accel_tensor_create(ACCEL_DTYPE_F32, 2, NULL, &t),
		    ACCEL_INVALID_ARGUMENT, "dims");
	expect_code(accel_tensor_create(ACCEL_DTYPE_F32, 2, dims, &t),
		    ACCEL_INVALID_ARGUMENT, "negative");
	expect_code(accel_tensor_create(ACCEL_DTYPE_F32, 1, dims, NULL),
		    ACCEL_INVALID_ARGUMENT, "out_tensor");
	/* 2^84 elements: an overflow must be an error, not a tiny buffer. */
	{
		accel_status st = accel_tensor_create(ACCEL_DTYPE_F32, 3, huge, &t);

		assert_non_null(st);
		assert_true(accel_status_code_of(st) == ACCEL_INVALID_ARGUMENT ||
			    accel_status_code_of(st) == ACCEL_OUT_OF_MEMORY);
		accel_status_free(st);
	}
	assert_null(t);
}

static void create_copy_checks_size(void **state)
{
	const int64_t dims[1] = { 3 };
	const int32_t v[3] = { 7, -8, 9 };
	accel_tensor *t = NULL;

	expect_code(accel_tensor_create_copy(ACCEL_DTYPE_I32, 1, dims, v, 8, &t),
		    ACCEL_INVALID_ARGUMENT, "12");
	expect_code(accel_tensor_create_copy(ACCEL_DTYPE_I32, 1, dims, NULL, 12, &t),
		    ACCEL_INVALID_ARGUMENT, NULL);
	assert_null(t);
	assert_ok(accel_tensor_create_copy(ACCEL_DTYPE_I32, 1, dims, v, sizeof(v), &t));
	assert_memory_equal(accel_tensor_data(t), v, sizeof(v));
	accel_tensor_release(t);
}

static void retain_release_counts_references(void **state)
{
	accel_tensor *t = NULL;

	assert_ok(accel_tensor_create(ACCEL_DTYPE_U8, 0, NULL, &t));
	accel_tensor_retain(t);
	accel_tensor_release(t);
	/* Still alive: ASan would flag this write after a premature free. */
	*(uint8_t *)accel_tensor_data(t) = 1;
	accel_tensor_release(t);
	accel_tensor_release(NULL);
	accel_tensor_retain(NULL);
}

/* ---- tensor files ------------------------------------------------------------- */

static char *tmp_path(const char *name)
{
	size_t n = strlen(tmpdir) + strlen(name) + 2;
	char *p = malloc(n);

	assert_non_null(p);
	snprintf(p, n, "%s/%s", tmpdir, name);
	return p;
}

static void roundtrip(accel_dtype dt, int rank, const int64_t *dims)
{
	accel_tensor *t = NULL, *back = NULL;
	char *p = tmp_path("t.npy");
	uint8_t *d;

	assert_ok(accel_tensor_create(dt, rank, dims, &t));
	d = accel_tensor_data(t);
	for (size_t i = 0; i < accel_tensor_nbytes(t); i++)
		d[i] = dt == ACCEL_DTYPE_BOOL ? (uint8_t)(i & 1) : (uint8_t)(i * 37 + 1);
	assert_ok(accel_tensor_write_npy(t, p));
	assert_ok(accel_tensor_read_file(p, &back));
	assert_int_equal(accel_tensor_dtype(back), dt);
	assert_int_equal(accel_tensor_rank(back), rank);
	if (rank)
		assert_memory_equal(accel_tensor_dims(back), dims,
				    sizeof(*dims) * (size_t)rank);
	assert_int_equal(accel_tensor_nbytes(back), accel_tensor_nbytes(t));
	if (accel_tensor_nbytes(t))
		assert_memory_equal(accel_tensor_data(back), d, accel_tensor_nbytes(t));
	accel_tensor_release(t);
	accel_tensor_release(back);
	unlink(p);
	free(p);
}

static void npy_roundtrips_every_dtype(void **state)
{
	static const accel_dtype dts[] = {
		ACCEL_DTYPE_F32, ACCEL_DTYPE_F64, ACCEL_DTYPE_F16, ACCEL_DTYPE_I8,
		ACCEL_DTYPE_U8, ACCEL_DTYPE_I16, ACCEL_DTYPE_U16, ACCEL_DTYPE_I32,
		ACCEL_DTYPE_U32, ACCEL_DTYPE_I64, ACCEL_DTYPE_U64, ACCEL_DTYPE_BOOL,
	};
	const int64_t dims[4] = { 2, 3, 1, 5 };
	const int64_t empty[2] = { 0, 4 };

	for (size_t i = 0; i < sizeof(dts) / sizeof(dts[0]); i++) {
		roundtrip(dts[i], 4, dims);
		roundtrip(dts[i], 0, NULL);
		roundtrip(dts[i], 2, empty);
	}
}

static void npy_rejects_damaged_header(void **state)
{
	static const char bad[] = "\x93NUMPY\x01\x00\x20\x00"
				  "{'descr': '<f4', 'shape': (2, ";
	char *p = tmp_path("bad.npy");
	FILE *f = fopen(p, "wb");
	accel_tensor *t = NULL;
	accel_status st;

	assert_non_null(f);
	fwrite(bad, 1, sizeof(bad) - 1, f);
	fclose(f);
	st = accel_tensor_read_file(p, &t);
	assert_non_null(st);
	assert_non_null(strstr(accel_status_message(st), "bad.npy"));
	accel_status_free(st);
	assert_null(t);
	unlink(p);
	free(p);
}

static void reads_onnx_tensor_proto(void **state)
{
	const char *p = "/usr/share/libonnx-testdata/data/node/test_relu/"
			"test_data_set_0/input_0.pb";
	const int64_t dims[3] = { 3, 4, 5 };
	accel_tensor *t = NULL, *u = NULL;
	char *name = NULL;

	if (access(p, R_OK))
		skip();
	assert_ok(accel_tensor_read_pb(p, &t, &name));
	assert_int_equal(accel_tensor_dtype(t), ACCEL_DTYPE_F32);
	assert_int_equal(accel_tensor_rank(t), 3);
	assert_memory_equal(accel_tensor_dims(t), dims, sizeof(dims));
	assert_non_null(name);
	assert_string_equal(name, "x");
	/* read_file recognises the same content. */
	assert_ok(accel_tensor_read_file(p, &u));
	assert_memory_equal(accel_tensor_data(u), accel_tensor_data(t),
			    accel_tensor_nbytes(t));
	free(name);
	accel_tensor_release(t);
	accel_tensor_release(u);
}

/*
 * A SequenceProto is not a dense tensor. Read as a TensorProto its name
 * ("seq...") decodes as packed dims, so the reader must check the payload
 * against the shape before allocating: the answer is UNSUPPORTED (or an
 * invalid file), never an attempt to allocate petabytes.
 */
static void sequence_proto_is_refused_without_allocating(void **state)
{
	const char *p = "/usr/share/libonnx-testdata/data/node/"
			"test_sequence_insert_at_back/test_data_set_0/input_0.pb";
	accel_tensor *t = NULL;
	accel_status st;
	accel_status_code code;

	if (access(p, R_OK))
		skip();
	st = accel_tensor_read_pb(p, &t, NULL);
	code = accel_status_code_of(st);
	if (code != ACCEL_UNSUPPORTED && code != ACCEL_INVALID_MODEL &&
	    code != ACCEL_INVALID_ARGUMENT)
		print_error("expected UNSUPPORTED or INVALID_*, got %s: %s\n",
			    accel_status_code_name(code), accel_status_message(st));
	accel_status_free(st);
	assert_true(code == ACCEL_UNSUPPORTED || code == ACCEL_INVALID_MODEL ||
		    code == ACCEL_INVALID_ARGUMENT);
	assert_null(t);
}

static void missing_tensor_file_is_not_found(void **state)
{
	accel_tensor *t = NULL;

	expect_code(accel_tensor_read_file("/nonexistent/t.npy", &t),
		    ACCEL_NOT_FOUND, "/nonexistent/t.npy");
	assert_null(t);
}

static int setup(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	rmdir(tmpdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(null_status_is_ok),
		cmocka_unit_test(status_carries_code_and_formatted_message),
		cmocka_unit_test(annotate_prepends_context),
		cmocka_unit_test(every_code_has_a_name),
		cmocka_unit_test(dtype_sizes_and_names),
		cmocka_unit_test(create_gives_zeroed_tensor_of_shape),
		cmocka_unit_test(scalars_and_empty_tensors),
		cmocka_unit_test(create_rejects_bad_arguments),
		cmocka_unit_test(create_copy_checks_size),
		cmocka_unit_test(retain_release_counts_references),
		cmocka_unit_test(npy_roundtrips_every_dtype),
		cmocka_unit_test(npy_rejects_damaged_header),
		cmocka_unit_test(reads_onnx_tensor_proto),
		cmocka_unit_test(sequence_proto_is_refused_without_allocating),
		cmocka_unit_test(missing_tensor_file_is_not_found),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
