// SPDX-License-Identifier: GPL-2.0
/*
 * test_hostmem.c - libaccel's host memory provider on the module's path
 * (libaccel/core/hostmem.c, linked in with the user-space rings): blocks
 * are BOs that the module accounts (GET_PARAM pinned bytes, sysfs bos),
 * kept for reuse when freed until trimmed,
 * copies and their fences run on a module queue through the mmapped rings,
 * a gate (FENCE_WAIT) holds work and waits time out behind it, SQEs the
 * module rejects are reported by op name, many threads copy at once, and
 * everything the provider created is gone when it closes.
 */
#include <pthread.h>

#include "ktest.h"
#include "accel_test.h"

#include "core/hostmem.h"

#define MS (1000000ull)

/* Fail with the status's message. */
#define ST_OK(expr)							\
	do {								\
		accel_status st_ = (expr);				\
		if (st_)						\
			ktest_fail("%s: %s", #expr, accel_status_message(st_)); \
	} while (0)

#define ST_ERR(expr, code, needle)					\
	do {								\
		accel_status st_ = (expr);				\
		if (accel_status_code_of(st_) != (code) ||		\
		    !strstr(accel_status_message(st_), (needle)))	\
			ktest_fail("%s: expected %s '%s', got %s '%s'", #expr, \
				   accel_status_code_name(code), (needle), \
				   accel_status_code_name(accel_status_code_of(st_)), \
				   accel_status_message(st_));		\
		accel_status_free(st_);					\
	} while (0)

static hostmem *open_kmod(void)
{
	hostmem *hm = NULL;

	unsetenv("ACCEL_NO_KMOD");
	unsetenv("ACCEL_KMOD_DEVICE");
	ST_OK(hostmem_open(0, &hm));
	if (!hostmem_is_pinned(hm))
		ktest_fail("provider is '%s', not the module", hostmem_provider(hm));
	return hm;
}

static uint64_t pinned_bytes(int fd)
{
	struct accel_get_param p = { .param = ACCEL_PARAM_PINNED_BYTES };

	if (acc_ioctl(fd, ACCEL_IOCTL_GET_PARAM, &p))
		ktest_fail("GET_PARAM PINNED_BYTES: %s", strerror(errno));
	return p.value;
}

static void pattern(struct hostmem_block *b, unsigned seed)
{
	for (size_t i = 0; i < b->size; i++)
		((unsigned char *)b->ptr)[i] = (unsigned char)(i * 31 + seed + (i >> 9));
}

TEST(provider_is_the_module)
{
	hostmem *hm = open_kmod();

	ASSERT_TRUE(strstr(hostmem_provider(hm), "accelkm (" ACCEL_KM_DEVICE ")"));
	ASSERT_GE(hostmem_kmod_fd(hm), 0);
	ASSERT_EQ(1, sysfs_read("clients"));
	hostmem_close(hm);
	ASSERT_EQ(0, sysfs_read("clients"));
}

TEST(disabled_or_elsewhere_means_anonymous)
{
	hostmem *hm = NULL;

	setenv("ACCEL_NO_KMOD", "1", 1);
	ST_OK(hostmem_open(0, &hm));
	ASSERT_TRUE(!hostmem_is_pinned(hm));
	ASSERT_TRUE(strstr(hostmem_provider(hm), "ACCEL_NO_KMOD=1"));
	ASSERT_EQ(0, sysfs_read("clients"));
	hostmem_close(hm);
	unsetenv("ACCEL_NO_KMOD");
	setenv("ACCEL_KMOD_DEVICE", "/dev/accelkm7", 1);
	ST_OK(hostmem_open(0, &hm));
	ASSERT_TRUE(!hostmem_is_pinned(hm));
	ASSERT_TRUE(strstr(hostmem_provider(hm), "/dev/accelkm7"));
	hostmem_close(hm);
	unsetenv("ACCEL_KMOD_DEVICE");
}

TEST(blocks_are_bos_and_accounted)
{
	static const size_t sizes[] = { 1, 10000, 1 << 20 };
	struct hostmem_block *b[3];
	hostmem *hm = open_kmod();
	int fd = hostmem_kmod_fd(hm);
	long long bos = sysfs_read("bos"), pinned = sysfs_read("pinned_bytes");
	uint64_t sum = 0;

	ASSERT_EQ(0, pinned_bytes(fd));
	for (int i = 0; i < 3; i++) {
		struct accel_bo_info info = { 0 };

		ST_OK(hostmem_alloc(hm, sizes[i], HOSTMEM_NO_NODE, &b[i]));
		ASSERT_TRUE(b[i]->pinned);
		ASSERT_EQ(sizes[i], b[i]->size);
		ASSERT_EQ(0, b[i]->map_size % 4096);
		ASSERT_EQ(0, (uintptr_t)b[i]->ptr % 4096);
		info.handle = b[i]->handle;
		ASSERT_OK(acc_ioctl(fd, ACCEL_IOCTL_BO_INFO, &info));
		ASSERT_EQ(b[i]->map_size, info.size);
		ASSERT_EQ(0, ((unsigned char *)b[i]->ptr)[sizes[i] - 1]);
		memset(b[i]->ptr, 0xa5, b[i]->map_size);
		sum += b[i]->map_size;
		ASSERT_EQ(sum, pinned_bytes(fd));
	}
	ASSERT_EQ(bos + 3, sysfs_read("bos"));
	ASSERT_EQ(pinned + (long long)sum, sysfs_read("pinned_bytes"));
	for (int i = 0; i < 3; i++)
		hostmem_free(hm, b[i]);
	/* kept for reuse: still BOs, still pinned */
	ASSERT_EQ(sum, pinned_bytes(fd));
	ASSERT_EQ(bos + 3, sysfs_read("bos"));
	ST_OK(hostmem_alloc(hm, 9000, HOSTMEM_NO_NODE, &b[0]));
	ASSERT_EQ(bos + 3, sysfs_read("bos"));
	ASSERT_EQ(9000, b[0]->size);
	for (size_t i = 0; i < b[0]->map_size; i++)
		if (((unsigned char *)b[0]->ptr)[i])
			ktest_fail("reused block: byte %zu not zeroed", i);
	hostmem_free(hm, b[0]);
	hostmem_trim(hm);
	ASSERT_EQ(0, pinned_bytes(fd));
	ASSERT_EQ(bos, sysfs_read("bos"));
	hostmem_close(hm);
	ASSERT_EQ(pinned, sysfs_read("pinned_bytes"));
}

TEST(numa_node_is_passed_to_the_module)
{
	struct accel_get_param p = { .param = ACCEL_PARAM_FEATURES };
	struct accel_bo_info info = { 0 };
	struct hostmem_block *b;
	hostmem *hm = open_kmod();

	ASSERT_OK(acc_ioctl(hostmem_kmod_fd(hm), ACCEL_IOCTL_GET_PARAM, &p));
	ST_OK(hostmem_alloc(hm, 8192, 0, &b));
	info.handle = b->handle;
	ASSERT_OK(acc_ioctl(hostmem_kmod_fd(hm), ACCEL_IOCTL_BO_INFO, &info));
	if (p.value & ACCEL_FEATURE_NUMA) {
		ASSERT_EQ(0, b->numa_node);
		ASSERT_TRUE(info.flags & ACCEL_BO_NUMA);
	} else {
		ASSERT_EQ(HOSTMEM_NO_NODE, b->numa_node);
	}
	hostmem_free(hm, b);
	/* a node the VM lacks: the module's -EINVAL, named */
	if (p.value & ACCEL_FEATURE_NUMA)
		ST_ERR(hostmem_alloc(hm, 8192, 7, &b), ACCEL_INVALID_ARGUMENT,
		       "ACCEL_IOCTL_BO_CREATE (size 8192, numa_node 7)");
	hostmem_close(hm);
}

TEST(copies_and_fences_run_on_a_module_queue)
{
	static const size_t lens[] = { 1, 3, 64, 4095, 4096, 4097, 9000 };
	static const size_t offs[] = { 0, 1, 4095, 4097 };
	const size_t size = 4 * 4096;
	long long sub = sysfs_read("submitted"), done = sysfs_read("completed");
	long long failed = sysfs_read("failed");
	struct hostmem_block *src, *dst;
	hostmem *hm = open_kmod();
	unsigned char *ref = malloc(size);
	uint64_t t;
	int n = 0;

	ST_OK(hostmem_alloc(hm, size, HOSTMEM_NO_NODE, &src));
	ST_OK(hostmem_alloc(hm, size, HOSTMEM_NO_NODE, &dst));
	pattern(src, 7);
	ASSERT_EQ(0, sysfs_read("queues"));	/* the engine starts on use */
	for (size_t l = 0; l < 7; l++)
		for (size_t so = 0; so < 4; so++)
			for (size_t d = 0; d < 4; d++) {
				size_t len = lens[l], s_off = offs[so], d_off = offs[d];

				memset(dst->ptr, 0x11, size);
				memset(ref, 0x11, size);
				memcpy(ref + d_off, (char *)src->ptr + s_off, len);
				ST_OK(hostmem_copy_submit(hm, dst, d_off, src, s_off, len, &t));
				ST_OK(hostmem_copy_wait(hm, t, 10000 * MS));
				if (memcmp(ref, dst->ptr, size))
					ktest_fail("copy of %zu from %zu to %zu: wrong bytes",
						   len, s_off, d_off);
				n++;
			}
	ASSERT_EQ(n, t);
	ASSERT_EQ(1, sysfs_read("queues"));
	ASSERT_EQ(2, sysfs_read("fences"));	/* the copy fence and the gate */
	/* each copy is a COPY and a FENCE_SIGNAL, both run by the module */
	ASSERT_EQ(sub + 2 * n, sysfs_read("submitted"));
	ASSERT_EQ(done + 2 * n, sysfs_read("completed"));
	ASSERT_EQ(failed, sysfs_read("failed"));
	hostmem_free(hm, src);
	hostmem_free(hm, dst);
	hostmem_close(hm);
	ASSERT_EQ(0, sysfs_read("queues"));
	ASSERT_EQ(0, sysfs_read("fences"));
	free(ref);
}

TEST(argument_errors_are_named)
{
	struct hostmem_block *a, *b;
	hostmem *hm = open_kmod();
	uint64_t t;

	ST_OK(hostmem_alloc(hm, 1000, HOSTMEM_NO_NODE, &a));
	ST_OK(hostmem_alloc(hm, 2000, HOSTMEM_NO_NODE, &b));
	ST_ERR(hostmem_copy_submit(hm, a, 0, b, 0, 1001, &t), ACCEL_INVALID_ARGUMENT,
	       "dst range [0, +1001) lies outside its 1000-byte block");
	ST_ERR(hostmem_copy_submit(hm, b, 0, a, 999, 2, &t), ACCEL_INVALID_ARGUMENT,
	       "src range [999, +2)");
	ST_ERR(hostmem_copy_submit(hm, b, 0, b, 10, 11, &t), ACCEL_INVALID_ARGUMENT,
	       "overlap");
	ST_ERR(hostmem_copy_wait(hm, 1, 0), ACCEL_INVALID_ARGUMENT,
	       "ticket 1 was never issued");
	ST_ERR(hostmem_alloc(hm, 0, HOSTMEM_NO_NODE, &a), ACCEL_INVALID_ARGUMENT,
	       "bytes is 0");
	/* over the module's max_bo_size (1 GiB by default) */
	ST_ERR(hostmem_alloc(hm, 2ull << 30, HOSTMEM_NO_NODE, &a),
	       ACCEL_INVALID_ARGUMENT, "ACCEL_IOCTL_BO_CREATE (size 2147483648");
	hostmem_free(hm, a);
	hostmem_free(hm, b);
	hostmem_close(hm);
}

TEST(gate_holds_work_and_waits_time_out)
{
	struct hostmem_block *a, *b;
	hostmem *hm = open_kmod();
	unsigned char expect[5000];
	uint64_t g1, g2, t1, t2;

	ST_OK(hostmem_alloc(hm, 5000, HOSTMEM_NO_NODE, &a));
	ST_OK(hostmem_alloc(hm, 10000, HOSTMEM_NO_NODE, &b));
	pattern(a, 1);
	memcpy(expect, a->ptr, 5000);
	ST_OK(hostmem_gate_close(hm, &g1));
	ST_OK(hostmem_copy_submit(hm, b, 0, a, 0, 5000, &t1));
	ST_OK(hostmem_gate_close(hm, &g2));
	ST_OK(hostmem_copy_submit(hm, b, 5000, a, 0, 5000, &t2));
	/* the module holds the BO for the queued copies */
	hostmem_free(hm, a);
	ST_ERR(hostmem_copy_wait(hm, t1, 0), ACCEL_DEADLINE_EXCEEDED, "still queued");
	ST_ERR(hostmem_copy_wait(hm, t1, 5 * MS), ACCEL_DEADLINE_EXCEEDED,
	       "still queued after 5000000 ns");
	ASSERT_EQ(0, ((unsigned char *)b->ptr)[0]);
	ST_OK(hostmem_gate_open(hm, g1));
	ST_OK(hostmem_copy_wait(hm, t1, 10000 * MS));
	ASSERT_EQ(0, memcmp(expect, b->ptr, 5000));
	ST_ERR(hostmem_copy_wait(hm, t2, 1 * MS), ACCEL_DEADLINE_EXCEEDED, "still queued");
	ST_OK(hostmem_gate_open(hm, g2));
	ST_OK(hostmem_copy_wait(hm, t2, HOSTMEM_WAIT_FOREVER));
	ASSERT_EQ(0, memcmp(expect, (char *)b->ptr + 5000, 5000));
	hostmem_free(hm, b);
	hostmem_close(hm);
}

TEST(rejected_sqes_are_reported_by_op)
{
	long long failed = sysfs_read("failed");
	struct hostmem_block *a;
	hostmem *hm = open_kmod();
	struct accel_sqe s = { 0 };
	uint64_t t1, t2, t3;

	ST_OK(hostmem_alloc(hm, 4096, HOSTMEM_NO_NODE, &a));
	s.opcode = ACCEL_OP_COPY;
	s.src_handle = 0xdead;
	s.dst_handle = a->handle;
	s.len = 16;
	ST_OK(hostmem_submit_sqe(hm, &s, &t1));
	memset(&s, 0, sizeof(s));
	s.opcode = ACCEL_OP_FILL;
	s.dst_handle = a->handle;
	s.len = 16;
	s.value = 0x100;
	ST_OK(hostmem_submit_sqe(hm, &s, &t2));
	s.value = 0x7e;
	s.dst_offset = 4000;
	s.len = 96;
	ST_OK(hostmem_submit_sqe(hm, &s, &t3));
	ST_ERR(hostmem_copy_wait(hm, t1, HOSTMEM_WAIT_FOREVER), ACCEL_NOT_FOUND,
	       "accelkm ring op COPY of ticket 1 failed: No such file or directory (rejected at submission)");
	ST_ERR(hostmem_copy_wait(hm, t2, HOSTMEM_WAIT_FOREVER), ACCEL_INVALID_ARGUMENT,
	       "ring op FILL of ticket 2 failed: Invalid argument");
	ST_OK(hostmem_copy_wait(hm, t3, HOSTMEM_WAIT_FOREVER));
	ASSERT_EQ(0x7e, ((unsigned char *)a->ptr)[4095]);
	ASSERT_EQ(0, ((unsigned char *)a->ptr)[3999]);
	ASSERT_EQ(failed + 2, sysfs_read("failed"));
	hostmem_free(hm, a);
	hostmem_close(hm);
}

#define THREADS 4
#define PER_THREAD 200

struct copier {
	hostmem *hm;
	struct hostmem_block *src, *dst;
	int id;
	char err[200];
};

static void *copier_main(void *p)
{
	struct copier *c = p;
	size_t slice = c->src->size / (THREADS * PER_THREAD);
	uint64_t tickets[PER_THREAD];
	accel_status st = NULL;

	for (int i = 0; i < PER_THREAD && !st; i++) {
		size_t off = ((size_t)c->id * PER_THREAD + i) * slice;

		st = hostmem_copy_submit(c->hm, c->dst, off, c->src, off, slice,
					 &tickets[i]);
	}
	for (int i = 0; i < PER_THREAD && !st; i++)
		st = hostmem_copy_wait(c->hm, tickets[i], HOSTMEM_WAIT_FOREVER);
	if (st)
		snprintf(c->err, sizeof(c->err), "%s", accel_status_message(st));
	accel_status_free(st);
	return NULL;
}

TEST(threads_copy_at_once_and_thousands_queue)
{
	const size_t size = THREADS * PER_THREAD * 1000;
	struct copier c[THREADS];
	pthread_t th[THREADS];
	struct hostmem_block *src, *dst;
	hostmem *hm = open_kmod();
	uint64_t t = 0;

	ST_OK(hostmem_alloc(hm, size, HOSTMEM_NO_NODE, &src));
	ST_OK(hostmem_alloc(hm, size, HOSTMEM_NO_NODE, &dst));
	pattern(src, 3);
	for (int i = 0; i < THREADS; i++) {
		c[i] = (struct copier){ .hm = hm, .src = src, .dst = dst, .id = i };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, copier_main, &c[i]));
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		if (c[i].err[0])
			ktest_fail("thread %d: %s", i, c[i].err);
	}
	ASSERT_EQ(0, memcmp(src->ptr, dst->ptr, size));
	/* past the module's outstanding limit (8 x CQ) without a wait */
	memset(dst->ptr, 0, size);
	for (int i = 0; i < 6000; i++)
		ST_OK(hostmem_copy_submit(hm, dst, (size_t)i * 100, src, (size_t)i * 100,
					  100, &t));
	ST_OK(hostmem_copy_wait(hm, t, HOSTMEM_WAIT_FOREVER));
	ASSERT_EQ(0, memcmp(src->ptr, dst->ptr, 600000));
	hostmem_free(hm, src);
	hostmem_free(hm, dst);
	hostmem_close(hm);
}

TEST(close_with_work_queued_leaves_nothing)
{
	struct hostmem_block *a, *b;
	hostmem *hm = open_kmod();
	uint64_t g, t;

	ST_OK(hostmem_alloc(hm, 1 << 16, HOSTMEM_NO_NODE, &a));
	ST_OK(hostmem_alloc(hm, 1 << 16, HOSTMEM_NO_NODE, &b));
	ST_OK(hostmem_gate_close(hm, &g));
	for (int i = 0; i < 64; i++)
		ST_OK(hostmem_copy_submit(hm, b, i * 1024, a, i * 1024, 1024, &t));
	hostmem_free(hm, a);
	hostmem_close(hm);	/* b still holds it */
	ASSERT_EQ(1, sysfs_read("queues"));
	hostmem_free(hm, b);
	ASSERT_EQ(0, sysfs_read("queues"));
	ASSERT_EQ(0, sysfs_read("fences"));
	ASSERT_EQ(0, sysfs_read("bos"));
	ASSERT_EQ(0, sysfs_read("pinned_bytes"));
	ASSERT_EQ(0, sysfs_read("clients"));
}
