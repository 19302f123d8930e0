/* SPDX-License-Identifier: MIT */
/*
 * test_file_read.c - the model file reader through io_uring and through
 * pread(): a few MiB read both ways must match the file byte for byte;
 * reads past the end of the file, bad descriptors, directories and missing
 * files are errors, never a silent truncation; ACCEL_NO_IO_URING=1 turns
 * io_uring off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "onnx/file_read.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 5 MiB + a bit: more than one chunk, not a multiple of any page size. */
#define FILE_BYTES ((5u << 20) + 4321u)

typedef struct fixture {
	char dir[64];
	char path[128];
	unsigned char *want;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	uint32_t x = 12345;
	FILE *fp;

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/accel-fread-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/data.bin", f->dir);
	f->want = malloc(FILE_BYTES);
	if (!f->want)
		return -1;
	for (size_t i = 0; i < FILE_BYTES; i++) {
		x = x * 1103515245u + 12345u;
		f->want[i] = (unsigned char)(x >> 16);
	}
	fp = fopen(f->path, "wb");
	if (!fp || fwrite(f->want, 1, FILE_BYTES, fp) != FILE_BYTES)
		return -1;
	fclose(fp);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f->want);
	free(f);
	return 0;
}

static const uint32_t modes[] = { 0, FILE_READER_FORCE_PREAD };

static const char *mode_name(uint32_t flags)
{
	return flags ? "pread" : "io_uring";
}

static void expect_io_error(accel_status st, const char *needle, const char *mode)
{
	if (!st)
		fail_msg("%s: expected an error mentioning '%s', got success", mode, needle);
	if (accel_status_code_of(st) != ACCEL_IO_ERROR ||
	    !strstr(accel_status_message(st), needle))
		fail_msg("%s: expected ACCEL_IO_ERROR mentioning '%s', got %s: %s", mode,
			 needle, accel_status_code_name(accel_status_code_of(st)),
			 accel_status_message(st));
	accel_status_free(st);
}

static void whole_file_reads_the_same_both_ways(void **state)
{
	fixture *f = *state;

	for (size_t m = 0; m < 2; m++) {
		void *data = NULL;
		size_t size = 0;

		assert_null(file_read_all(f->path, modes[m], &data, &size));
		if (size != FILE_BYTES || memcmp(data, f->want, FILE_BYTES))
			fail_msg("%s: read %zu bytes, expected %u identical ones",
				 mode_name(modes[m]), size, FILE_BYTES);
		assert_int_equal(((unsigned char *)data)[size], 0); /* terminated */
		assert_int_equal((uintptr_t)data % 64, 0);
		free(data);
	}
}

static void reports_which_path_it_takes(void **state)
{
	accel_status st;
	file_reader *r;

	assert_null(file_reader_create(FILE_READER_FORCE_PREAD, &r));
	assert_false(file_reader_uses_io_uring(r));
	file_reader_destroy(r);
	assert_null(file_reader_create(0, &r));
	print_message("  io_uring %s on this host\n",
		      file_reader_uses_io_uring(r) ? "works" : "is unavailable");
	file_reader_destroy(r);
	setenv("ACCEL_NO_IO_URING", "1", 1);
	assert_null(file_reader_create(0, &r));
	assert_false(file_reader_uses_io_uring(r));
	file_reader_destroy(r);
	unsetenv("ACCEL_NO_IO_URING");
	st = file_reader_create(~0u, &r); /* unknown flags */
	assert_non_null(st);
	assert_int_equal(accel_status_code_of(st), ACCEL_INVALID_ARGUMENT);
	accel_status_free(st);
}

/* Many ranges, one spanning several chunks, each into its own buffer. */
static void scattered_reads_land_in_their_buffers(void **state)
{
	fixture *f = *state;
	static const struct { size_t off, len; } ranges[] = {
		{ 0, 1 }, { 17, 4096 }, { 100000, (9u << 20) / 2 }, { FILE_BYTES - 3, 3 },
		{ 4096, 0 }, { 1u << 20, 1u << 20 }, { 12345, 777 },
	};
	const size_t n = sizeof(ranges) / sizeof(ranges[0]);
	int fd = open(f->path, O_RDONLY);

	assert_true(fd >= 0);
	for (size_t m = 0; m < 2; m++) {
		unsigned char *buf[sizeof(ranges) / sizeof(ranges[0])];
		file_reader *r;

		assert_null(file_reader_create(modes[m], &r));
		for (size_t i = 0; i < n; i++) {
			buf[i] = malloc(ranges[i].len + 1);
			assert_non_null(buf[i]);
			memset(buf[i], 0xee, ranges[i].len + 1);
			assert_null(file_reader_add(r, fd, ranges[i].off, buf[i], ranges[i].len,
						    "range"));
		}
		assert_null(file_reader_flush(r));
		for (size_t i = 0; i < n; i++) {
			if (memcmp(buf[i], f->want + ranges[i].off, ranges[i].len))
				fail_msg("%s: range %zu (%zu bytes at %zu) differs from the file",
					 mode_name(modes[m]), i, ranges[i].len, ranges[i].off);
			assert_int_equal(buf[i][ranges[i].len], 0xee); /* no overrun */
			free(buf[i]);
		}
		/* The queue is empty after a flush: flushing again reads nothing. */
		assert_null(file_reader_flush(r));
		file_reader_destroy(r);
	}
	close(fd);
}

static void reading_past_the_end_is_an_error(void **state)
{
	fixture *f = *state;
	int fd = open(f->path, O_RDONLY);
	char *buf = malloc(1u << 20);

	assert_true(fd >= 0);
	assert_non_null(buf);
	for (size_t m = 0; m < 2; m++) {
		const char *mode = mode_name(modes[m]);
		file_reader *r;

		assert_null(file_reader_create(modes[m], &r));
		/* a tail that runs 90 bytes past the end: a short read */
		assert_null(file_reader_add(r, fd, FILE_BYTES - 10, buf, 100, "tail of W"));
		expect_io_error(file_reader_flush(r), "unexpected end of file", mode);
		/* wholly past the end */
		assert_null(file_reader_add(r, fd, FILE_BYTES + 5, buf, 10, "past"));
		expect_io_error(file_reader_flush(r), "past", mode);
		/* one bad read among good ones: still an error, and the good
		 * ones were waited for (the buffer is freed right after) */
		for (int i = 0; i < 8; i++)
			assert_null(file_reader_add(r, fd, (uint64_t)i << 17, buf + (i << 17),
						    1u << 17, "good"));
		assert_null(file_reader_add(r, fd, FILE_BYTES - 1, buf, 2, "bad"));
		expect_io_error(file_reader_flush(r), "bad", mode);
		/* the reader is usable after an error */
		assert_null(file_reader_add(r, fd, 0, buf, 1000, "again"));
		assert_null(file_reader_flush(r));
		assert_memory_equal(buf, f->want, 1000);
		file_reader_destroy(r);
	}
	free(buf);
	close(fd);
}

static void bad_descriptor_is_an_error(void **state)
{
	accel_status st;
	int fds[2];
	char buf[16];

	assert_int_equal(pipe(fds), 0);
	close(fds[1]);
	for (size_t m = 0; m < 2; m++) {
		file_reader *r;
		int fd = open("/dev/null", O_WRONLY);

		assert_null(file_reader_create(modes[m], &r));
		assert_null(file_reader_add(r, fd, 0, buf, sizeof(buf), "write-only fd"));
		expect_io_error(file_reader_flush(r), "write-only fd", mode_name(modes[m]));
		close(fd);
		/* an empty pipe at EOF: a short read, not 0 bytes of success */
		assert_null(file_reader_add(r, fds[0], 0, buf, sizeof(buf), "pipe"));
		st = file_reader_flush(r);
		assert_non_null(st);
		accel_status_free(st);
		file_reader_destroy(r);
	}
	close(fds[0]);
}

static void missing_files_and_directories_fail(void **state)
{
	fixture *f = *state;
	void *data = (void *)1;
	size_t size = 7;
	accel_status st;
	char path[160];

	st = file_read_all("/nonexistent/model.onnx", 0, &data, &size);
	assert_non_null(st);
	assert_int_equal(accel_status_code_of(st), ACCEL_NOT_FOUND);
	assert_non_null(strstr(accel_status_message(st), "/nonexistent/model.onnx"));
	accel_status_free(st);
	expect_io_error(file_read_all(f->dir, 0, &data, &size), "directory", "dir");
	assert_ptr_equal(data, (void *)1); /* untouched on error */
	assert_int_equal(size, 7);
	/* an empty file is 0 bytes, not an error (the loader refuses it) */
	snprintf(path, sizeof(path), "%s/empty", f->dir);
	close(open(path, O_WRONLY | O_CREAT, 0644));
	assert_null(file_read_all(path, 0, &data, &size));
	assert_int_equal(size, 0);
	free(data);
}

/* A pipe has no size up front: read to its end. */
static void streams_are_read_to_the_end(void **state)
{
	fixture *f = *state;
	char cmd[256];
	void *data;
	size_t size;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "head -c 100000 '%s'", f->path);
	p = popen(cmd, "r");
	assert_non_null(p);
	snprintf(cmd, sizeof(cmd), "/proc/self/fd/%d", fileno(p));
	assert_null(file_read_all(cmd, 0, &data, &size));
	pclose(p);
	assert_int_equal(size, 100000);
	assert_memory_equal(data, f->want, 100000);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(whole_file_reads_the_same_both_ways),
		cmocka_unit_test(reports_which_path_it_takes),
		cmocka_unit_test(scattered_reads_land_in_their_buffers),
		cmocka_unit_test(reading_past_the_end_is_an_error),
		cmocka_unit_test(bad_descriptor_is_an_error),
		cmocka_unit_test(missing_files_and_directories_fail),
		cmocka_unit_test(streams_are_read_to_the_end),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
