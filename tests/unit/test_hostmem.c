/* SPDX-License-Identifier: MIT */
/*
 * test_hostmem.c - unit tests of the host memory provider and its copy
 * engine (libaccel/core/hostmem.c) on the path without the kernel module:
 * anonymous memory, a user-space ring and a worker thread. The module's
 * path runs the same calls in the VM suite (tests/kernel/test_hostmem.c).
 *
 * Allocation sizes and NUMA binding, copies of many sizes and offsets,
 * arguments out of range, waits that time out behind a closed gate, a
 * block freed with a copy queued, ring ops that fail, many threads copying
 * at once, teardown with work still queued, and the fall-back when the
 * module's device is missing or is not the module.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "backend/backend.h"
#include "core/hostmem.h"
#include "core/runtime.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ull

#define OK(expr)                                                        \
	do {                                                            \
		accel_status ok_st_ = (expr);                           \
		if (ok_st_)                                             \
			fail_msg("%s: %s", #expr,                       \
				 accel_status_message(ok_st_));         \
	} while (0)

/* Expect |code| and a message containing |needle|. */
#define EXPECT_ERR(expr, code, needle)                                  \
	do {                                                            \
		accel_status ex_st_ = (expr);                           \
		if (accel_status_code_of(ex_st_) != (code))             \
			fail_msg("%s: expected %s, got %s (%s)", #expr, \
				 accel_status_code_name(code),          \
				 accel_status_code_name(                \
					 accel_status_code_of(ex_st_)), \
				 accel_status_message(ex_st_));         \
		if (!strstr(accel_status_message(ex_st_), (needle)))    \
			fail_msg("%s: message '%s' lacks '%s'", #expr,  \
				 accel_status_message(ex_st_), (needle)); \
		accel_status_free(ex_st_);                              \
	} while (0)

static hostmem *open_plain(void)
{
	hostmem *hm = NULL;

	setenv("ACCEL_NO_KMOD", "1", 1);
	OK(hostmem_open(0, &hm));
	assert_non_null(hm);
	return hm;
}

static void fill_pattern(struct hostmem_block *b, unsigned seed)
{
	unsigned char *p = b->ptr;

	for (size_t i = 0; i < b->size; i++)
		p[i] = (unsigned char)(i * 131 + seed * 7 + (i >> 8));
}

static void provider_without_the_module_is_anonymous(void **state)
{
	hostmem *hm = open_plain();

	assert_non_null(strstr(hostmem_provider(hm), "anonymous"));
	assert_non_null(strstr(hostmem_provider(hm), "ACCEL_NO_KMOD=1"));
	assert_false(hostmem_is_pinned(hm));
	assert_int_equal(-1, hostmem_kmod_fd(hm));
	hostmem_close(hm);
	hostmem_close(NULL);
}

static void missing_or_foreign_device_falls_back(void **state)
{
	static const char *const paths[] = { "/nonexistent/accelkm9", "/dev/null" };
	struct hostmem_block *a, *b;
	uint64_t t;

	unsetenv("ACCEL_NO_KMOD");
	for (size_t i = 0; i < 2; i++) {
		hostmem *hm = NULL;

		setenv("ACCEL_KMOD_DEVICE", paths[i], 1);
		OK(hostmem_open(0, &hm));
		/* the reason names the path and what went wrong */
		if (!strstr(hostmem_provider(hm), "anonymous") ||
		    !strstr(hostmem_provider(hm), paths[i]))
			fail_msg("provider '%s' for %s", hostmem_provider(hm), paths[i]);
		assert_false(hostmem_is_pinned(hm));
		/* and the fallback works end to end */
		OK(hostmem_alloc(hm, 100, HOSTMEM_NO_NODE, &a));
		OK(hostmem_alloc(hm, 100, HOSTMEM_NO_NODE, &b));
		memset(a->ptr, 0x5a, 100);
		OK(hostmem_copy_submit(hm, b, 0, a, 0, 100, &t));
		OK(hostmem_copy_wait(hm, t, HOSTMEM_WAIT_FOREVER));
		assert_memory_equal(a->ptr, b->ptr, 100);
		hostmem_free(hm, a);
		hostmem_free(hm, b);
		hostmem_close(hm);
	}
	unsetenv("ACCEL_KMOD_DEVICE");
}

static void open_rejects_bad_arguments(void **state)
{
	hostmem *hm = (hostmem *)1;

	EXPECT_ERR(hostmem_open(0, NULL), ACCEL_INVALID_ARGUMENT, "NULL");
	EXPECT_ERR(hostmem_open(1, &hm), ACCEL_INVALID_ARGUMENT, "flags 0x1");
	assert_null(hm);
}

static void alloc_sizes_are_page_rounded_zeroed_and_distinct(void **state)
{
	static const size_t sizes[] = { 1, 63, 4095, 4096, 4097, 65536, 1 << 20, 3000000 };
	struct hostmem_block *b[8];
	hostmem *hm = open_plain();
	size_t page = 4096;

	for (size_t i = 0; i < 8; i++) {
		OK(hostmem_alloc(hm, sizes[i], HOSTMEM_NO_NODE, &b[i]));
		assert_int_equal(sizes[i], b[i]->size);
		assert_int_equal(0, (uintptr_t)b[i]->ptr % page);
		assert_true(b[i]->map_size >= sizes[i]);
		assert_true(b[i]->map_size < sizes[i] + page);
		assert_int_equal(0, b[i]->map_size % page);
		assert_int_equal(HOSTMEM_NO_NODE, b[i]->numa_node);
		assert_false(b[i]->pinned);
		assert_int_not_equal(0, b[i]->handle);
		for (size_t j = 0; j < b[i]->map_size; j += 509)
			assert_int_equal(0, ((unsigned char *)b[i]->ptr)[j]);
		memset(b[i]->ptr, 0xff, b[i]->map_size);	/* writable */
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(b[j]->handle, b[i]->handle);
	}
	for (size_t i = 0; i < 8; i++)
		hostmem_free(hm, b[i]);
	hostmem_free(hm, NULL);
	hostmem_close(hm);
}

static void alloc_rejects_bad_arguments(void **state)
{
	struct hostmem_block *b = (struct hostmem_block *)1;
	hostmem *hm = open_plain();

	EXPECT_ERR(hostmem_alloc(hm, 0, HOSTMEM_NO_NODE, &b), ACCEL_INVALID_ARGUMENT,
		   "bytes is 0");
	assert_null(b);
	EXPECT_ERR(hostmem_alloc(hm, SIZE_MAX, HOSTMEM_NO_NODE, &b),
		   ACCEL_INVALID_ARGUMENT, "too large");
	EXPECT_ERR(hostmem_alloc(hm, 64, -2, &b), ACCEL_INVALID_ARGUMENT,
		   "numa_node -2");
	EXPECT_ERR(hostmem_alloc(hm, 64, 5000, &b), ACCEL_INVALID_ARGUMENT,
		   "NUMA node 5000");
	EXPECT_ERR(hostmem_alloc(NULL, 64, HOSTMEM_NO_NODE, &b),
		   ACCEL_INVALID_ARGUMENT, "NULL");
	EXPECT_ERR(hostmem_alloc(hm, 64, HOSTMEM_NO_NODE, NULL),
		   ACCEL_INVALID_ARGUMENT, "NULL");
	hostmem_close(hm);
}

static void numa_binding_is_done_or_reported(void **state)
{
	struct hostmem_block *b = NULL;
	hostmem *hm = open_plain();
	accel_status st;

	/* node 0 always exists: bound, or refused by the system (EPERM in
	 * a container), never an error */
	OK(hostmem_alloc(hm, 8192, 0, &b));
	assert_true(b->numa_node == 0 || b->numa_node == HOSTMEM_NO_NODE);
	memset(b->ptr, 1, 8192);
	hostmem_free(hm, b);
	/* a node that does not exist: mbind's EINVAL is reported, unless the
	 * system refuses mbind altogether; it is never claimed as bound */
	st = hostmem_alloc(hm, 8192, 1000, &b);
	if (st) {
		assert_int_equal(ACCEL_INVALID_ARGUMENT, accel_status_code_of(st));
		assert_non_null(strstr(accel_status_message(st), "mbind to node 1000"));
		accel_status_free(st);
	} else {
		assert_int_equal(HOSTMEM_NO_NODE, b->numa_node);
		hostmem_free(hm, b);
	}
	hostmem_close(hm);
}

/* A freed block no copy uses comes back, zeroed, for the same page count;
 * one a queued copy still uses does not. */
static void freed_blocks_are_reused_zeroed(void **state)
{
	struct hostmem_block *a, *b, *c, *d;
	hostmem *hm = open_plain();
	uint64_t gate, t;
	void *p;

	OK(hostmem_alloc(hm, 10000, HOSTMEM_NO_NODE, &a));
	memset(a->ptr, 0xff, a->map_size);
	p = a->ptr;
	hostmem_free(hm, a);
	OK(hostmem_alloc(hm, 4096, HOSTMEM_NO_NODE, &c));	/* other size */
	assert_ptr_not_equal(p, c->ptr);
	OK(hostmem_alloc(hm, 9000, HOSTMEM_NO_NODE, &b));	/* same pages */
	assert_ptr_equal(p, b->ptr);
	assert_int_equal(9000, b->size);
	for (size_t i = 0; i < b->map_size; i++)
		if (((unsigned char *)b->ptr)[i])
			fail_msg("reused block: byte %zu is not zero", i);
	/* held by a queued copy: not handed out again */
	OK(hostmem_gate_close(hm, &gate));
	OK(hostmem_copy_submit(hm, c, 0, b, 0, 4096, &t));
	hostmem_free(hm, b);
	OK(hostmem_alloc(hm, 9000, HOSTMEM_NO_NODE, &d));
	assert_ptr_not_equal(p, d->ptr);
	OK(hostmem_gate_open(hm, gate));
	OK(hostmem_copy_wait(hm, t, HOSTMEM_WAIT_FOREVER));
	hostmem_free(hm, c);
	hostmem_free(hm, d);
	hostmem_trim(hm);
	hostmem_trim(NULL);
	hostmem_close(hm);
}

/* Every (length, src offset, dst offset): the range lands, nothing else moves. */
static void copies_of_many_sizes_and_offsets(void **state)
{
	static const size_t lens[] = { 1, 2, 3, 7, 8, 63, 64, 65, 511, 4095, 4096,
				       4097, 8191, 8192, 10000 };
	static const size_t offs[] = { 0, 1, 5, 64, 4095, 4096, 4097 };
	const size_t size = 3 * 4096 + 100;
	struct hostmem_block *src, *dst;
	hostmem *hm = open_plain();
	unsigned char *ref = malloc(size);
	size_t n = 0;
	uint64_t t;

	assert_non_null(ref);
	OK(hostmem_alloc(hm, size, HOSTMEM_NO_NODE, &src));
	OK(hostmem_alloc(hm, size, HOSTMEM_NO_NODE, &dst));
	fill_pattern(src, 1);
	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
		for (size_t so = 0; so < sizeof(offs) / sizeof(offs[0]); so++)
			for (size_t d = 0; d < sizeof(offs) / sizeof(offs[0]); d++) {
				size_t len = lens[l], s_off = offs[so], d_off = offs[d];

				if (s_off + len > size || d_off + len > size)
					continue;
				memset(dst->ptr, 0xee, size);
				memset(ref, 0xee, size);
				memcpy(ref + d_off, (char *)src->ptr + s_off, len);
				OK(hostmem_copy_submit(hm, dst, d_off, src, s_off, len, &t));
				OK(hostmem_copy_wait(hm, t, HOSTMEM_WAIT_FOREVER));
				if (memcmp(ref, dst->ptr, size))
					fail_msg("copy len %zu from %zu to %zu: wrong bytes",
						 len, s_off, d_off);
				n++;
			}
	assert_true(n > 500);
	/* within one block, disjoint ranges */
	memcpy(ref, src->ptr, size);
	memcpy(ref + 8192, ref + 10, 4000);
	OK(hostmem_copy_submit(hm, src, 8192, src, 10, 4000, &t));
	OK(hostmem_copy_wait(hm, t, HOSTMEM_WAIT_FOREVER));
	assert_memory_equal(ref, src->ptr, size);
	hostmem_free(hm, src);
	hostmem_free(hm, dst);
	hostmem_close(hm);
	free(ref);
}

static void copy_rejects_bad_arguments(void **state)
{
	struct hostmem_block *a, *b, *other;
	hostmem *hm = open_plain(), *hm2 = open_plain();
	uint64_t t = 99;

	OK(hostmem_alloc(hm, 1000, HOSTMEM_NO_NODE, &a));
	OK(hostmem_alloc(hm, 5000, HOSTMEM_NO_NODE, &b));
	OK(hostmem_alloc(hm2, 1000, HOSTMEM_NO_NODE, &other));
	/* the range check uses the size asked for, not the page */
	EXPECT_ERR(hostmem_copy_submit(hm, a, 0, b, 0, 1001, &t),
		   ACCEL_INVALID_ARGUMENT, "dst range [0, +1001) lies outside its 1000-byte block");
	assert_int_equal(0, t);
	EXPECT_ERR(hostmem_copy_submit(hm, b, 0, a, 1, 1000, &t),
		   ACCEL_INVALID_ARGUMENT, "src range [1, +1000)");
	EXPECT_ERR(hostmem_copy_submit(hm, b, 5001, a, 0, 1, &t),
		   ACCEL_INVALID_ARGUMENT, "dst range [5001, +1)");
	EXPECT_ERR(hostmem_copy_submit(hm, b, 0, a, SIZE_MAX, 2, &t),
		   ACCEL_INVALID_ARGUMENT, "src range");
	EXPECT_ERR(hostmem_copy_submit(hm, b, 1, a, 0, SIZE_MAX, &t),
		   ACCEL_INVALID_ARGUMENT, "range");
	EXPECT_ERR(hostmem_copy_submit(hm, b, 0, a, 0, 0, &t),
		   ACCEL_INVALID_ARGUMENT, "len is 0");
	EXPECT_ERR(hostmem_copy_submit(hm, b, 100, b, 0, 101, &t),
		   ACCEL_INVALID_ARGUMENT, "overlap");
	EXPECT_ERR(hostmem_copy_submit(hm, b, 0, b, 100, 101, &t),
		   ACCEL_INVALID_ARGUMENT, "overlap");
	EXPECT_ERR(hostmem_copy_submit(hm, b, 0, other, 0, 10, &t),
		   ACCEL_INVALID_ARGUMENT, "another provider");
	EXPECT_ERR(hostmem_copy_submit(hm, NULL, 0, a, 0, 10, &t),
		   ACCEL_INVALID_ARGUMENT, "NULL");
	EXPECT_ERR(hostmem_copy_submit(hm, b, 0, a, 0, 10, NULL),
		   ACCEL_INVALID_ARGUMENT, "NULL");
	/* tickets: 0 and ones not handed out yet */
	EXPECT_ERR(hostmem_copy_wait(hm, 0, 0), ACCEL_INVALID_ARGUMENT,
		   "ticket 0 was never issued");
	OK(hostmem_copy_submit(hm, b, 0, a, 0, 1000, &t));
	assert_int_equal(1, t);
	EXPECT_ERR(hostmem_copy_wait(hm, t + 1, 0), ACCEL_INVALID_ARGUMENT,
		   "ticket 2 was never issued");
	OK(hostmem_copy_wait(hm, t, HOSTMEM_WAIT_FOREVER));
	/* a result is reported, and a success may be asked for again */
	OK(hostmem_copy_wait(hm, t, 0));
	EXPECT_ERR(hostmem_copy_wait(NULL, 1, 0), ACCEL_INVALID_ARGUMENT, "NULL");
	EXPECT_ERR(hostmem_gate_open(hm, 1), ACCEL_INVALID_ARGUMENT,
		   "gate 1 was never closed");
	hostmem_free(hm, a);
	hostmem_free(hm, b);
	hostmem_free(hm2, other);
	hostmem_close(hm);
	hostmem_close(hm2);
}

/* A closed gate holds the copy: waits time out, then it lands. */
static void wait_times_out_behind_a_closed_gate(void **state)
{
	struct hostmem_block *a, *b;
	hostmem *hm = open_plain();
	uint64_t gate, t;

	OK(hostmem_alloc(hm, 4096, HOSTMEM_NO_NODE, &a));
	OK(hostmem_alloc(hm, 4096, HOSTMEM_NO_NODE, &b));
	memset(a->ptr, 0x3c, 4096);
	OK(hostmem_gate_close(hm, &gate));
	OK(hostmem_copy_submit(hm, b, 0, a, 0, 4096, &t));
	EXPECT_ERR(hostmem_copy_wait(hm, t, 0), ACCEL_DEADLINE_EXCEEDED,
		   "still queued");
	EXPECT_ERR(hostmem_copy_wait(hm, t, 5 * MS), ACCEL_DEADLINE_EXCEEDED,
		   "still queued after 5000000 ns");
	assert_int_equal(0, ((unsigned char *)b->ptr)[0]);
	OK(hostmem_gate_open(hm, gate));
	OK(hostmem_gate_open(hm, gate));	/* opening twice is harmless */
	OK(hostmem_copy_wait(hm, t, HOSTMEM_WAIT_FOREVER));
	assert_memory_equal(a->ptr, b->ptr, 4096);
	hostmem_free(hm, a);
	hostmem_free(hm, b);
	hostmem_close(hm);
}

/* Copies ahead of a closed gate complete and can be waited for, also
 * when the engine takes them in one batch with the gate: the first gate
 * holds everything until all of it is queued. */
static void work_before_a_gate_completes(void **state)
{
	struct hostmem_block *a, *b;
	hostmem *hm = open_plain();
	uint64_t g1, g2, t1, t2;

	OK(hostmem_alloc(hm, 8192, HOSTMEM_NO_NODE, &a));
	OK(hostmem_alloc(hm, 8192, HOSTMEM_NO_NODE, &b));
	fill_pattern(a, 3);
	OK(hostmem_gate_close(hm, &g1));
	OK(hostmem_copy_submit(hm, b, 0, a, 0, 4096, &t1));
	OK(hostmem_gate_close(hm, &g2));
	OK(hostmem_copy_submit(hm, b, 4096, a, 4096, 4096, &t2));
	assert_int_equal(g1 + 1, g2);
	OK(hostmem_gate_open(hm, g1));
	OK(hostmem_copy_wait(hm, t1, 2000 * MS));
	assert_memory_equal(a->ptr, b->ptr, 4096);
	EXPECT_ERR(hostmem_copy_wait(hm, t2, 1 * MS), ACCEL_DEADLINE_EXCEEDED,
		   "still queued");
	OK(hostmem_gate_open(hm, g2));
	OK(hostmem_copy_wait(hm, t2, HOSTMEM_WAIT_FOREVER));
	assert_memory_equal(a->ptr, b->ptr, 8192);
	hostmem_free(hm, a);
	hostmem_free(hm, b);
	hostmem_close(hm);
}

/* As with the module's BOs, a queued copy keeps its blocks alive. */
static void block_freed_with_a_copy_queued_still_copies(void **state)
{
	struct hostmem_block *a, *b, *c;
	hostmem *hm = open_plain();
	unsigned char expect[3000];
	uint64_t gate, t;

	OK(hostmem_alloc(hm, 3000, HOSTMEM_NO_NODE, &a));
	OK(hostmem_alloc(hm, 3000, HOSTMEM_NO_NODE, &b));
	fill_pattern(a, 9);
	memcpy(expect, a->ptr, 3000);
	OK(hostmem_gate_close(hm, &gate));
	OK(hostmem_copy_submit(hm, b, 0, a, 0, 3000, &t));
	hostmem_free(hm, a);
	/* its handle is gone for new work at once */
	OK(hostmem_alloc(hm, 3000, HOSTMEM_NO_NODE, &c));
	OK(hostmem_gate_open(hm, gate));
	OK(hostmem_copy_wait(hm, t, HOSTMEM_WAIT_FOREVER));
	assert_memory_equal(expect, b->ptr, 3000);
	hostmem_free(hm, b);
	hostmem_free(hm, c);
	hostmem_close(hm);
}

/* Raw SQEs the queue rejects: the wait names the ring op and the errno. */
static void failed_ring_ops_are_reported_by_name(void **state)
{
	struct hostmem_block *a;
	hostmem *hm = open_plain();
	struct accel_sqe s;
	uint64_t t1, t2, t3, t4;

	OK(hostmem_alloc(hm, 4096, HOSTMEM_NO_NODE, &a));
	memset(&s, 0, sizeof(s));
	s.opcode = ACCEL_OP_COPY;
	s.src_handle = 0xdead;
	s.dst_handle = a->handle;
	s.len = 16;
	OK(hostmem_submit_sqe(hm, &s, &t1));
	memset(&s, 0, sizeof(s));
	s.opcode = ACCEL_OP_FILL;
	s.dst_handle = a->handle;
	s.len = 16;
	s.value = 0x100;	/* not a byte */
	OK(hostmem_submit_sqe(hm, &s, &t2));
	s.value = 0x7e;
	s.dst_offset = 4000;
	s.len = 96;
	OK(hostmem_submit_sqe(hm, &s, &t3));
	s.dst_offset = 4090;	/* past the block */
	s.len = 16;
	OK(hostmem_submit_sqe(hm, &s, &t4));
	EXPECT_ERR(hostmem_copy_wait(hm, t1, HOSTMEM_WAIT_FOREVER), ACCEL_NOT_FOUND,
		   "ring op COPY of ticket 1 failed: No such file or directory");
	/* reported once: afterwards the ticket reads as done */
	OK(hostmem_copy_wait(hm, t1, 0));
	EXPECT_ERR(hostmem_copy_wait(hm, t2, HOSTMEM_WAIT_FOREVER),
		   ACCEL_INVALID_ARGUMENT, "ring op FILL of ticket 2 failed: Invalid argument");
	OK(hostmem_copy_wait(hm, t3, HOSTMEM_WAIT_FOREVER));
	EXPECT_ERR(hostmem_copy_wait(hm, t4, HOSTMEM_WAIT_FOREVER),
		   ACCEL_INVALID_ARGUMENT, "ring op FILL of ticket 4");
	for (size_t i = 0; i < 4096; i++)
		if (((unsigned char *)a->ptr)[i] != (i >= 4000 ? 0x7e : 0))
			fail_msg("byte %zu is 0x%x", i, ((unsigned char *)a->ptr)[i]);
	EXPECT_ERR(hostmem_submit_sqe(hm, NULL, &t1), ACCEL_INVALID_ARGUMENT, "NULL");
	hostmem_free(hm, a);
	hostmem_close(hm);
}

#define THREADS 6
#define PER_THREAD 300

struct worker_arg {
	hostmem *hm;
	struct hostmem_block *src, *dst;
	int id;
	char err[256];
};

/* Each thread copies its own slices, waiting on some at once and the
 * rest in a batch at the end. */
static void *copier(void *p)
{
	struct worker_arg *w = p;
	uint64_t tickets[PER_THREAD];
	size_t slice = w->src->size / THREADS / PER_THREAD;
	accel_status st = NULL;

	for (int i = 0; i < PER_THREAD && !st; i++) {
		size_t off = ((size_t)w->id * PER_THREAD + i) * slice;

		st = hostmem_copy_submit(w->hm, w->dst, off, w->src, off, slice,
					 &tickets[i]);
		if (!st && i % 7 == 0)
			st = hostmem_copy_wait(w->hm, tickets[i], HOSTMEM_WAIT_FOREVER);
	}
	for (int i = PER_THREAD - 1; i >= 0 && !st; i--)
		if (i % 7)
			st = hostmem_copy_wait(w->hm, tickets[i], HOSTMEM_WAIT_FOREVER);
	if (st)
		snprintf(w->err, sizeof(w->err), "%s", accel_status_message(st));
	accel_status_free(st);
	return NULL;
}

static void many_threads_copy_at_once(void **state)
{
	const size_t size = (size_t)THREADS * PER_THREAD * 333;
	struct worker_arg args[THREADS];
	pthread_t th[THREADS];
	struct hostmem_block *src, *dst;
	hostmem *hm = open_plain();

	OK(hostmem_alloc(hm, size, HOSTMEM_NO_NODE, &src));
	OK(hostmem_alloc(hm, size, HOSTMEM_NO_NODE, &dst));
	fill_pattern(src, 5);
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct worker_arg){ .hm = hm, .src = src, .dst = dst, .id = i };
		assert_int_equal(0, pthread_create(&th[i], NULL, copier, &args[i]));
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		if (args[i].err[0])
			fail_msg("thread %d: %s", i, args[i].err);
	}
	assert_memory_equal(src->ptr, dst->ptr, size);
	hostmem_free(hm, src);
	hostmem_free(hm, dst);
	hostmem_close(hm);
}

/* Far more copies than the queue holds, none waited for until the end:
 * submission reaps as it goes, so nothing stalls or is lost. */
static void thousands_queued_without_waiting(void **state)
{
	const int n = 20000;
	struct hostmem_block *src, *dst;
	hostmem *hm = open_plain();
	uint64_t t = 0, first = 0;

	OK(hostmem_alloc(hm, (size_t)n * 4, HOSTMEM_NO_NODE, &src));
	OK(hostmem_alloc(hm, (size_t)n * 4, HOSTMEM_NO_NODE, &dst));
	for (int i = 0; i < n; i++)
		((uint32_t *)src->ptr)[i] = (uint32_t)i * 2654435761u;
	for (int i = 0; i < n; i++) {
		OK(hostmem_copy_submit(hm, dst, (size_t)i * 4, src, (size_t)i * 4, 4, &t));
		if (!first)
			first = t;
	}
	assert_int_equal(first + n - 1, t);
	OK(hostmem_copy_wait(hm, t, HOSTMEM_WAIT_FOREVER));
	OK(hostmem_copy_wait(hm, first, 0));	/* long done */
	assert_memory_equal(src->ptr, dst->ptr, (size_t)n * 4);
	hostmem_free(hm, src);
	hostmem_free(hm, dst);
	hostmem_close(hm);
}

struct waiter_arg {
	hostmem *hm;
	uint64_t ticket;
	int ok;
};

static void *waiter(void *p)
{
	struct waiter_arg *w = p;
	accel_status st = hostmem_copy_wait(w->hm, w->ticket, HOSTMEM_WAIT_FOREVER);

	w->ok = !st;
	accel_status_free(st);
	return NULL;
}

/* Several threads wait on the same ticket behind a gate; all wake. */
static void many_waiters_on_one_ticket(void **state)
{
	struct waiter_arg w[4];
	pthread_t th[4];
	struct hostmem_block *a, *b;
	hostmem *hm = open_plain();
	uint64_t gate, t;

	OK(hostmem_alloc(hm, 64, HOSTMEM_NO_NODE, &a));
	OK(hostmem_alloc(hm, 64, HOSTMEM_NO_NODE, &b));
	OK(hostmem_gate_close(hm, &gate));
	OK(hostmem_copy_submit(hm, b, 0, a, 0, 64, &t));
	for (int i = 0; i < 4; i++) {
		w[i] = (struct waiter_arg){ .hm = hm, .ticket = t };
		assert_int_equal(0, pthread_create(&th[i], NULL, waiter, &w[i]));
	}
	OK(hostmem_gate_open(hm, gate));
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_true(w[i].ok);
	}
	hostmem_free(hm, a);
	hostmem_free(hm, b);
	hostmem_close(hm);
}

/* Closing with a gate shut and copies queued: they are canceled, blocks
 * outlive the opener, nothing leaks (the ASan suite checks). */
static void close_with_work_queued_and_blocks_alive(void **state)
{
	struct hostmem_block *a, *b;
	hostmem *hm = open_plain();
	uint64_t gate, t;

	OK(hostmem_alloc(hm, 10000, HOSTMEM_NO_NODE, &a));
	OK(hostmem_alloc(hm, 10000, HOSTMEM_NO_NODE, &b));
	OK(hostmem_gate_close(hm, &gate));
	for (int i = 0; i < 50; i++)
		OK(hostmem_copy_submit(hm, b, (size_t)i * 100, a, (size_t)i * 100, 100, &t));
	hostmem_free(hm, a);	/* held by the queued copies */
	hostmem_close(hm);	/* b still holds the provider */
	memset(b->ptr, 1, 10000);
	hostmem_free(hm, b);	/* the last reference: teardown */
}

/* The context gives its devices staging memory: a download lands in a
 * block of it, and the tensor may outlive the context. */
static void downloads_land_in_staging_memory(void **state)
{
	const int64_t dims[2] = { 3, 1000 };
	accel_tensor *h = NULL, *dv = NULL, *back = NULL;
	struct hostmem_block *b;
	accel_context *c = NULL;
	accel_device *dev;
	accel_status st;

	setenv("ACCEL_NO_KMOD", "1", 1);
	OK(accel_context_create(0, &c));
	st = accel_context_find_device(c, "opencl:0", &dev);
	if (st) {
		accel_status_free(st);
		accel_context_release(c);
		skip();
	}
	assert_non_null(c->hostmem);
	assert_ptr_equal(c->hostmem, dev->backend.hostmem);
	assert_int_equal(dev->numa_node, dev->backend.host_node);
	OK(tensor_new(ACCEL_DTYPE_F32, 2, dims, &h));
	for (int i = 0; i < 3000; i++)
		((float *)h->data)[i] = (float)i * 0.25f - 7.0f;
	OK(backend_tensor_upload(&dev->backend, h, &dv));
	OK(backend_tensor_download(&dev->backend, dv, &back));
	assert_false(back->on_device);
	assert_false(back->owns_data);
	assert_non_null(back->free_fn);
	b = back->free_ctx;
	assert_ptr_equal(c->hostmem, b->hm);
	assert_ptr_equal(b->ptr, back->data);
	assert_int_equal(0, (uintptr_t)back->data % 4096);
	assert_int_equal(12000, back->nbytes);
	assert_int_equal(12000, b->size);
	assert_memory_equal(h->data, back->data, 12000);
	accel_tensor_release(dv);
	accel_tensor_release(h);
	accel_context_release(c);
	((float *)back->data)[2999] = 1.0f;	/* still mapped */
	accel_tensor_release(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(provider_without_the_module_is_anonymous),
		cmocka_unit_test(missing_or_foreign_device_falls_back),
		cmocka_unit_test(open_rejects_bad_arguments),
		cmocka_unit_test(alloc_sizes_are_page_rounded_zeroed_and_distinct),
		cmocka_unit_test(alloc_rejects_bad_arguments),
		cmocka_unit_test(numa_binding_is_done_or_reported),
		cmocka_unit_test(freed_blocks_are_reused_zeroed),
		cmocka_unit_test(copies_of_many_sizes_and_offsets),
		cmocka_unit_test(copy_rejects_bad_arguments),
		cmocka_unit_test(wait_times_out_behind_a_closed_gate),
		cmocka_unit_test(work_before_a_gate_completes),
		cmocka_unit_test(block_freed_with_a_copy_queued_still_copies),
		cmocka_unit_test(failed_ring_ops_are_reported_by_name),
		cmocka_unit_test(many_threads_copy_at_once),
		cmocka_unit_test(thousands_queued_without_waiting),
		cmocka_unit_test(many_waiters_on_one_ticket),
		cmocka_unit_test(close_with_work_queued_and_blocks_alive),
		cmocka_unit_test(downloads_land_in_staging_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
