// SPDX-License-Identifier: MIT
/*
 * badinput.c - bad models and bad calls must give a clear error, never a
 * crash: missing/empty/truncated/corrupted files, unknown ops, wrong inputs,
 * NULL arguments and hostile external-data references.
 *
 * Public API only. Usage: badinput [FIXTURE_DIR]; FIXTURE_DIR (or the
 * ACCEL_BADINPUT_FIXTURES environment variable) is the output of
 * tests/badinput/make_fixtures.py; tests that need it skip without it.
 * Base models come from Debian's libonnx-testdata (ACCEL_TESTDATA overrides
 * its node directory).
 */
#include "accel/accel.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define BIT(code) (1u << (code))

static const char *fixtures;	/* make_fixtures.py output, or NULL */
static const char *testdata = "/usr/share/libonnx-testdata/data/node";
static char tmpdir[] = "/tmp/accel-badinput-XXXXXX";
static accel_context *ctx;

/* ---- helpers ------------------------------------------------------------------ */

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pathf(const char *fmt, ...)
{
	char *p = malloc(4096);
	va_list ap;

	assert_non_null(p);
	va_start(ap, fmt);
	vsnprintf(p, 4096, fmt, ap);
	va_end(ap);
	return p;
}

static void *read_whole(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*size = (size_t)n;
	return buf;
}

static void write_whole(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, size, f), size);
	assert_int_equal(fclose(f), 0);
}

/*
 * Check that |st| is an error whose code is in |codes| (a BIT() mask) and
 * whose message contains every string in the NULL-terminated |needles|.
 * Frees |st|.
 */
static void check_error(accel_status st, unsigned codes,
			const char *const *needles, const char *what)
{
	accel_status_code code = accel_status_code_of(st);
	const char *msg = accel_status_message(st);
	bool ok = st && (BIT(code) & codes) && msg && msg[0];

	for (size_t i = 0; ok && needles[i]; i++)
		ok = strstr(msg, needles[i]) != NULL;
	if (!ok) {
		print_error("%s: expected an error with code mask 0x%x naming",
			    what, codes);
		for (size_t i = 0; needles[i]; i++)
			print_error(" '%s'", needles[i]);
		print_error("\n  got %s: %s\n", accel_status_code_name(code), msg);
	}
	accel_status_free(st);
	if (!ok)
		fail();
}

#define expect_error(st, codes, ...) \
	check_error((st), (codes), (const char *const[]){ __VA_ARGS__, NULL }, #st)

#define assert_ok(expr)                                                        \
	do {                                                                   \
		accel_status ok_st_ = (expr);                                  \
		if (ok_st_) {                                                  \
			print_error("%s: %s: %s\n", #expr,                     \
				    accel_status_code_name(                    \
					    accel_status_code_of(ok_st_)),     \
				    accel_status_message(ok_st_));             \
			accel_status_free(ok_st_);                             \
			fail();                                                \
		}                                                              \
	} while (0)

static accel_model *load_ok(const char *path)
{
	accel_model *m = NULL;

	assert_ok(accel_model_load(ctx, path, 0, &m));
	return m;
}

static accel_session *session_ok(accel_model *m)
{
	accel_session_options o;
	accel_session *s = NULL;

	accel_session_options_init(&o);
	o.num_threads = 1;
	assert_ok(accel_session_create(m, &o, &s));
	return s;
}

/* Load and create a session; the first error (or NULL) is returned. */
static accel_status load_and_prepare(const char *path)
{
	accel_session_options o;
	accel_model *m = NULL;
	accel_session *s = NULL;
	accel_status st = accel_model_load(ctx, path, 0, &m);

	if (st)
		return st;
	accel_session_options_init(&o);
	o.num_threads = 1;
	st = accel_session_create(m, &o, &s);
	accel_session_release(s);
	accel_model_release(m);
	return st;
}

static accel_tensor *tensor(accel_dtype dt, int rank, const int64_t *dims)
{
	accel_tensor *t = NULL;

	assert_ok(accel_tensor_create(dt, rank, dims, &t));
	return t;
}

static void skip_without_fixtures(void)
{
	if (!fixtures) {
		print_message("no fixture dir: run tests/badinput/make_fixtures.py\n");
		skip();
	}
}

/* ---- files ------------------------------------------------------------------- */

static void load_missing_file_is_not_found(void **state)
{
	accel_model *m = NULL;

	expect_error(accel_model_load(ctx, "/nonexistent/accel/model.onnx", 0, &m),
		     BIT(ACCEL_NOT_FOUND) | BIT(ACCEL_IO_ERROR),
		     "/nonexistent/accel/model.onnx");
	assert_null(m);
}

static void load_directory_fails(void **state)
{
	accel_model *m = NULL;

	expect_error(accel_model_load(ctx, tmpdir, 0, &m),
		     BIT(ACCEL_IO_ERROR) | BIT(ACCEL_INVALID_MODEL) |
		     BIT(ACCEL_INVALID_ARGUMENT) | BIT(ACCEL_NOT_FOUND), tmpdir);
	assert_null(m);
}

static void load_empty_file_is_invalid(void **state)
{
	char *p = pathf("%s/empty.onnx", tmpdir);
	accel_model *m = NULL;

	write_whole(p, "", 0);
	expect_error(accel_model_load(ctx, p, 0, &m), BIT(ACCEL_INVALID_MODEL),
		     "empty.onnx");
	assert_null(m);
	free(p);
}

static void load_garbage_file_is_invalid(void **state)
{
	char *p = pathf("%s/garbage.onnx", tmpdir);
	accel_model *m = NULL;
	static const char text[] = "this is not a protobuf \xff\xff\xff\xff\xff";

	write_whole(p, text, sizeof(text));
	expect_error(accel_model_load(ctx, p, 0, &m), BIT(ACCEL_INVALID_MODEL),
		     "garbage.onnx");
	assert_null(m);
	free(p);
}

/*
 * Damaged models run in a forked child so that one crash is reported with
 * the damage that caused it and the sweep goes on. The child's exit codes
 * stay clear of the sanitizers' (1, 23) so their reports count as problems.
 */
enum { LOADED = 40, REFUSED = 41, BAD_ERROR = 42 };

/* An error must carry a message and must not be an internal error. */
static bool clean_error(accel_status st)
{
	bool ok = accel_status_message(st)[0] != '\0' &&
		  accel_status_code_of(st) != ACCEL_INTERNAL;

	if (!ok)
		fprintf(stderr, "  unclean error: %s: '%s'\n",
			accel_status_code_name(accel_status_code_of(st)),
			accel_status_message(st));
	accel_status_free(st);
	return ok;
}

/* Give a model that loaded despite damage zero inputs and run it once. */
static bool try_run(accel_model *m)
{
	accel_named_tensor in[16];
	accel_tensor *out[16] = { 0 };
	size_t nin = accel_model_input_count(m), nout = accel_model_output_count(m);
	accel_session *s = NULL;
	accel_status st;
	size_t made = 0;
	bool ok = true;

	st = accel_session_create(m, NULL, &s);
	if (st || nin > 16 || nout > 16)
		goto out;
	for (; made < nin; made++) {
		accel_value_info vi;
		int64_t dims[ACCEL_MAX_RANK];

		if ((st = accel_model_input_info(m, made, &vi)))
			goto out;
		if (vi.rank < 0 || !accel_dtype_size(vi.dtype))
			goto out;
		for (int d = 0; d < vi.rank; d++)
			dims[d] = vi.dims[d] < 0 || vi.dims[d] > 64 ? 1 : vi.dims[d];
		if ((st = accel_tensor_create(vi.dtype, vi.rank, dims,
					      &in[made].tensor)))
			goto out;
		in[made].name = vi.name;
	}
	st = accel_session_run(s, in, nin, out, nout, 0);
	for (size_t i = 0; !st && i < nout; i++)
		accel_tensor_release(out[i]);
out:
	if (st)
		ok = clean_error(st);
	while (made)
		accel_tensor_release(in[--made].tensor);
	accel_session_release(s);
	return ok;
}

static int damaged_child(const void *data, size_t size)
{
	accel_model *m = NULL;
	accel_status st = accel_model_load_memory(ctx, data, size, "damaged.onnx",
						  NULL, 0, &m);
	bool ok;

	if (st)
		return clean_error(st) && !m ? REFUSED : BAD_ERROR;
	ok = try_run(m);
	accel_model_release(m);
	return ok ? LOADED : BAD_ERROR;
}

struct sweep {
	const char *model;
	size_t refused, problems;
};

/* Load |data| in a child; count refusals, report crashes and bad errors. */
static void load_damaged(struct sweep *sw, const void *data, size_t size,
			 const char *damage)
{
	int wst = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* cmocka's handlers would resume its test loop in the child. */
		static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };

		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			signal(sigs[i], SIG_DFL);
		exit(damaged_child(data, size)); /* exit(): LSan reports at exit */
	}
	assert_int_equal(waitpid(pid, &wst, 0), pid);
	if (WIFEXITED(wst) && (WEXITSTATUS(wst) == LOADED ||
				WEXITSTATUS(wst) == REFUSED)) {
		sw->refused += WEXITSTATUS(wst) == REFUSED;
		return;
	}
	if (sw->problems++ < 10) {
		if (WIFSIGNALED(wst))
			print_error("%s, %s: killed by signal %d (%s)\n", sw->model,
				    damage, WTERMSIG(wst), strsignal(WTERMSIG(wst)));
		else
			print_error("%s, %s: exit %d (%s)\n", sw->model, damage,
				    WEXITSTATUS(wst), WEXITSTATUS(wst) == BAD_ERROR ?
				    "error without message or INTERNAL" :
				    "sanitizer report on stderr");
	}
}

static const char *const base_models[] = {
	"test_relu", "test_add", "test_conv_with_strides_padding",
};

static void *base_model(const char *name, size_t *size)
{
	char *p = pathf("%s/%s/model.onnx", testdata, name);
	void *data = read_whole(p, size);

	if (!data) {
		print_message("missing %s (libonnx-testdata)\n", p);
		free(p);
		skip();
	}
	free(p);
	return data;
}

static void truncated_models_fail_cleanly(void **state)
{
	size_t problems = 0;

	for (size_t k = 0; k < sizeof(base_models) / sizeof(base_models[0]); k++) {
		struct sweep sw = { .model = base_models[k] };
		size_t size;
		uint8_t *data = base_model(base_models[k], &size);
		char *p = pathf("%s/truncated.onnx", tmpdir);
		char damage[64];

		for (size_t len = 0; len < size; len++) {
			snprintf(damage, sizeof(damage), "cut at %zu of %zu", len, size);
			load_damaged(&sw, data, len, damage);
		}
		/* Most cuts land inside a nested message, which cannot parse. */
		assert_true(sw.refused > size / 2);
		problems += sw.problems;
		/* And once through the file path, cut in the middle. */
		write_whole(p, data, size / 2);
		expect_error(accel_model_load(ctx, p, 0, &(accel_model *){ NULL }),
			     BIT(ACCEL_INVALID_MODEL), "truncated.onnx");
		free(p);
		free(data);
	}
	assert_int_equal(problems, 0);
}

static void corrupted_models_never_crash(void **state)
{
	static const uint8_t patterns[] = { 0xff, 0x00, 0x80, 0x7f, 0x01 };
	size_t problems = 0;
	char damage[96];

	for (size_t k = 0; k < sizeof(base_models) / sizeof(base_models[0]); k++) {
		struct sweep sw = { .model = base_models[k] };
		size_t size;
		uint8_t *data = base_model(base_models[k], &size);

		for (size_t off = 0; off < size; off++) {
			uint8_t saved = data[off];

			for (size_t j = 0; j < sizeof(patterns); j++) {
				data[off] = j ? patterns[j] : (uint8_t)(saved ^ 0xff);
				snprintf(damage, sizeof(damage),
					 "byte %zu: 0x%02x -> 0x%02x", off, saved,
					 data[off]);
				load_damaged(&sw, data, size, damage);
			}
			data[off] = saved;
		}
		/* Pseudo-random multi-byte damage, reproducible. */
		srand(1234);
		for (int n = 0; n < 200; n++) {
			uint8_t *copy = malloc(size);

			assert_non_null(copy);
			memcpy(copy, data, size);
			for (int j = 0; j < 4; j++)
				copy[(size_t)rand() % size] = (uint8_t)rand();
			snprintf(damage, sizeof(damage), "random damage #%d (srand 1234)",
				 n);
			load_damaged(&sw, copy, size, damage);
			free(copy);
		}
		problems += sw.problems;
		free(data);
	}
	assert_int_equal(problems, 0);
}

static void bad_tensor_files_fail_cleanly(void **state)
{
	char *p = pathf("%s/bad.pb", tmpdir);
	char *src = pathf("%s/test_relu/test_data_set_0/input_0.pb", testdata);
	accel_tensor *t = NULL;
	size_t size;
	uint8_t *data = read_whole(src, &size);

	expect_error(accel_tensor_read_file("/nonexistent/x.pb", &t),
		     BIT(ACCEL_NOT_FOUND) | BIT(ACCEL_IO_ERROR), "/nonexistent/x.pb");
	write_whole(p, "\x93NUMPY\x01\x00\xff\xff", 10);
	expect_error(accel_tensor_read_file(p, &t), BIT(ACCEL_INVALID_ARGUMENT) |
		     BIT(ACCEL_INVALID_MODEL) | BIT(ACCEL_IO_ERROR), "bad.pb");
	if (data) {
		for (size_t len = 1; len < size; len += 7) {
			accel_status st;

			write_whole(p, data, len);
			st = accel_tensor_read_pb(p, &t, NULL);
			if (!st) {
				accel_tensor_release(t);
				t = NULL;
				continue;
			}
			assert_true(accel_status_message(st)[0] != '\0');
			accel_status_free(st);
		}
		free(data);
	}
	assert_null(t);
	free(src);
	free(p);
}

/* ---- graph contents ------------------------------------------------------------- */

static void unknown_op_is_unsupported(void **state)
{
	char *p;

	skip_without_fixtures();
	p = pathf("%s/models/unknown_op.onnx", fixtures);
	expect_error(load_and_prepare(p), BIT(ACCEL_UNSUPPORTED), "mystery",
		     "NoSuchOp");
	free(p);
}

/* ---- run-time inputs (test_add: x, y float32 [3,4,5] -> sum) ----------------- */

struct add_case {
	accel_model *m;
	accel_session *s;
	accel_named_tensor in[2];
	accel_tensor *out[2];
};

static const int64_t add_dims[3] = { 3, 4, 5 };

static void add_open(struct add_case *c)
{
	char *p = pathf("%s/test_add/model.onnx", testdata);

	memset(c, 0, sizeof(*c));
	if (access(p, R_OK)) {
		free(p);
		skip();
	}
	c->m = load_ok(p);
	c->s = session_ok(c->m);
	free(p);
	c->in[0].name = "x";
	c->in[0].tensor = tensor(ACCEL_DTYPE_F32, 3, add_dims);
	c->in[1].name = "y";
	c->in[1].tensor = tensor(ACCEL_DTYPE_F32, 3, add_dims);
}

static void add_close(struct add_case *c)
{
	accel_tensor_release(c->in[0].tensor);
	accel_tensor_release(c->in[1].tensor);
	assert_null(c->out[0]);
	accel_session_release(c->s);
	accel_model_release(c->m);
}

static accel_status add_run(struct add_case *c, size_t nin)
{
	return accel_session_run(c->s, c->in, nin, c->out, 1, 0);
}

static void add_runs_when_inputs_are_right(void **state)
{
	struct add_case c;

	add_open(&c);
	((float *)accel_tensor_data(c.in[0].tensor))[7] = 1.5f;
	((float *)accel_tensor_data(c.in[1].tensor))[7] = 2.0f;
	assert_ok(add_run(&c, 2));
	assert_non_null(c.out[0]);
	assert_true(((float *)accel_tensor_data(c.out[0]))[7] == 3.5f);
	accel_tensor_release(c.out[0]);
	c.out[0] = NULL;
	add_close(&c);
}

static void wrong_input_name_is_rejected(void **state)
{
	struct add_case c;

	add_open(&c);
	c.in[1].name = "nope";
	expect_error(add_run(&c, 2), BIT(ACCEL_INVALID_ARGUMENT) | BIT(ACCEL_NOT_FOUND),
		     "nope");
	add_close(&c);
}

static void missing_input_is_rejected(void **state)
{
	struct add_case c;

	add_open(&c);
	expect_error(add_run(&c, 1), BIT(ACCEL_INVALID_ARGUMENT) | BIT(ACCEL_NOT_FOUND),
		     "'y'");
	add_close(&c);
}

static void duplicate_input_is_rejected(void **state)
{
	struct add_case c;

	add_open(&c);
	c.in[1].name = "x";
	expect_error(add_run(&c, 2), BIT(ACCEL_INVALID_ARGUMENT), "x");
	add_close(&c);
}

static void wrong_dtype_is_rejected(void **state)
{
	struct add_case c;

	add_open(&c);
	accel_tensor_release(c.in[1].tensor);
	c.in[1].tensor = tensor(ACCEL_DTYPE_I32, 3, add_dims);
	expect_error(add_run(&c, 2), BIT(ACCEL_INVALID_ARGUMENT), "'y'", "int32");
	add_close(&c);
}

static void wrong_rank_is_rejected(void **state)
{
	struct add_case c;
	const int64_t flat[1] = { 60 };

	add_open(&c);
	accel_tensor_release(c.in[0].tensor);
	c.in[0].tensor = tensor(ACCEL_DTYPE_F32, 1, flat);
	expect_error(add_run(&c, 2), BIT(ACCEL_INVALID_ARGUMENT), "'x'");
	add_close(&c);
}

static void wrong_shape_is_rejected(void **state)
{
	struct add_case c;
	const int64_t dims[3] = { 3, 5, 4 };

	add_open(&c);
	accel_tensor_release(c.in[0].tensor);
	c.in[0].tensor = tensor(ACCEL_DTYPE_F32, 3, dims);
	expect_error(add_run(&c, 2), BIT(ACCEL_INVALID_ARGUMENT), "'x'");
	add_close(&c);
}

static void null_arguments_are_rejected(void **state)
{
	struct add_case c;
	accel_model *m = NULL;
	accel_session *s = NULL;
	accel_tensor *t = NULL;
	const unsigned inval = BIT(ACCEL_INVALID_ARGUMENT);

	expect_error(accel_model_load(ctx, NULL, 0, &m), inval, "accel_model_load");
	expect_error(accel_model_load(ctx, "x.onnx", 0, NULL), inval, "accel_model_load");
	expect_error(accel_model_load_memory(ctx, NULL, 10, "m", NULL, 0, &m), inval,
		     "accel_model_load_memory");
	expect_error(accel_session_create(NULL, NULL, &s), inval, "accel_session_create");
	expect_error(accel_tensor_read_file(NULL, &t), inval, "accel_tensor_read_file");
	expect_error(accel_context_create(0, NULL), inval, "accel_context_create");
	assert_null(m);
	assert_null(s);
	add_open(&c);
	expect_error(accel_session_create(c.m, NULL, NULL), inval, "accel_session_create");
	expect_error(accel_session_run(NULL, c.in, 2, c.out, 1, 0), inval, "accel_session_run");
	expect_error(accel_session_run(c.s, NULL, 2, c.out, 1, 0), inval, "accel_session_run");
	expect_error(accel_session_run(c.s, c.in, 2, NULL, 1, 0), inval, "accel_session_run");
	expect_error(accel_session_run(c.s, c.in, 2, c.out, 3, 0), inval, "output");
	expect_error(accel_session_run(c.s, c.in, 2, c.out, 1, ~0u), inval, "flags");
	c.in[0].name = NULL;
	expect_error(accel_session_run(c.s, c.in, 2, c.out, 1, 0), inval, "name");
	c.in[0].name = "x";
	accel_tensor_release(c.in[0].tensor);
	c.in[0].tensor = NULL;
	expect_error(accel_session_run(c.s, c.in, 2, c.out, 1, 0), inval, "'x'");
	expect_error(accel_model_load(ctx, "x.onnx", ~0u, &m), inval, "flags");
	add_close(&c);
}

/* ---- external data ------------------------------------------------------------- */

static void external_data_loads_and_runs(void **state)
{
	char *p;
	accel_model *m;
	accel_session *s;
	accel_named_tensor in;
	accel_tensor *out = NULL;
	const int64_t dims[2] = { 2, 3 };

	skip_without_fixtures();
	p = pathf("%s/models/ext_ok.onnx", fixtures);
	m = load_ok(p);
	s = session_ok(m);
	in.name = "x";
	in.tensor = tensor(ACCEL_DTYPE_F32, 2, dims);
	((float *)accel_tensor_data(in.tensor))[5] = 10.0f;
	assert_ok(accel_session_run(s, &in, 1, &out, 1, 0));
	/* W = arange(6): z[5] = 10 + 5. */
	assert_true(((float *)accel_tensor_data(out))[5] == 15.0f);
	assert_true(((float *)accel_tensor_data(out))[1] == 1.0f);
	accel_tensor_release(out);
	accel_tensor_release(in.tensor);
	accel_session_release(s);
	accel_model_release(m);
	free(p);
}

static void external_data_missing_names_file(void **state)
{
	char *p;

	skip_without_fixtures();
	p = pathf("%s/models/ext_missing.onnx", fixtures);
	expect_error(load_and_prepare(p), BIT(ACCEL_NOT_FOUND) | BIT(ACCEL_IO_ERROR),
		     "missing.bin", "W");
	free(p);
}

static void external_data_traversal_is_refused(void **state)
{
	char *p;

	skip_without_fixtures();
	p = pathf("%s/models/ext_traversal.onnx", fixtures);
	expect_error(load_and_prepare(p),
		     BIT(ACCEL_PERMISSION_DENIED) | BIT(ACCEL_INVALID_MODEL),
		     "../outside.bin", "W");
	free(p);
}

static void external_data_absolute_path_is_refused(void **state)
{
	char *p;

	skip_without_fixtures();
	p = pathf("%s/models/ext_absolute.onnx", fixtures);
	expect_error(load_and_prepare(p),
		     BIT(ACCEL_PERMISSION_DENIED) | BIT(ACCEL_INVALID_MODEL),
		     "outside.bin", "W");
	free(p);
}

static void external_data_offset_past_end_fails(void **state)
{
	char *p;

	skip_without_fixtures();
	p = pathf("%s/models/ext_offset.onnx", fixtures);
	expect_error(load_and_prepare(p),
		     BIT(ACCEL_INVALID_MODEL) | BIT(ACCEL_IO_ERROR), "W",
		     "weights.bin");
	free(p);
}

static void external_data_length_past_end_fails(void **state)
{
	char *p;

	skip_without_fixtures();
	p = pathf("%s/models/ext_length.onnx", fixtures);
	expect_error(load_and_prepare(p),
		     BIT(ACCEL_INVALID_MODEL) | BIT(ACCEL_IO_ERROR), "W",
		     "weights.bin");
	free(p);
}

/* ---- setup ----------------------------------------------------------------------- */

static int group_setup(void **state)
{
	accel_status st;

	if (!mkdtemp(tmpdir))
		return -1;
	st = accel_context_create(0, &ctx);
	if (st) {
		fprintf(stderr, "badinput: context: %s\n", accel_status_message(st));
		accel_status_free(st);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	const char *names[] = { "empty.onnx", "garbage.onnx", "truncated.onnx",
				"bad.pb" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *p = pathf("%s/%s", tmpdir, names[i]);

		unlink(p);
		free(p);
	}
	rmdir(tmpdir);
	accel_context_release(ctx);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(load_missing_file_is_not_found),
		cmocka_unit_test(load_directory_fails),
		cmocka_unit_test(load_empty_file_is_invalid),
		cmocka_unit_test(load_garbage_file_is_invalid),
		cmocka_unit_test(truncated_models_fail_cleanly),
		cmocka_unit_test(corrupted_models_never_crash),
		cmocka_unit_test(bad_tensor_files_fail_cleanly),
		cmocka_unit_test(unknown_op_is_unsupported),
		cmocka_unit_test(add_runs_when_inputs_are_right),
		cmocka_unit_test(wrong_input_name_is_rejected),
		cmocka_unit_test(missing_input_is_rejected),
		cmocka_unit_test(duplicate_input_is_rejected),
		cmocka_unit_test(wrong_dtype_is_rejected),
		cmocka_unit_test(wrong_rank_is_rejected),
		cmocka_unit_test(wrong_shape_is_rejected),
		cmocka_unit_test(null_arguments_are_rejected),
		cmocka_unit_test(external_data_loads_and_runs),
		cmocka_unit_test(external_data_missing_names_file),
		cmocka_unit_test(external_data_traversal_is_refused),
		cmocka_unit_test(external_data_absolute_path_is_refused),
		cmocka_unit_test(external_data_offset_past_end_fails),
		cmocka_unit_test(external_data_length_past_end_fails),
	};

	fixtures = argc > 1 ? argv[1] : getenv("ACCEL_BADINPUT_FIXTURES");
	if (getenv("ACCEL_TESTDATA"))
		testdata = getenv("ACCEL_TESTDATA");
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
