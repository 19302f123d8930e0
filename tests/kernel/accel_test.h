/* SPDX-License-Identifier: GPL-2.0 */
/*
 * accel_test.h - helpers shared by the accelkm VM tests: thin ioctl
 * wrappers returning 0 or -errno, and a mapped queue with the liburing-like
 * inline ring helpers (store-release of the SQ tail, load-acquire of the
 * CQ tail).
 */
#ifndef ACCEL_TEST_H
#define ACCEL_TEST_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#include "accel_uapi.h"

#define SYSFS_DIR "/sys/class/misc/accelkm0/"

static inline int acc_open(void)
{
	int fd = open(ACCEL_KM_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		ktest_fail("open %s: %s", ACCEL_KM_DEVICE, strerror(errno));
	return fd;
}

static inline int acc_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static inline long long sysfs_read(const char *name)
{
	char path[256], buf[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), SYSFS_DIR "%s", name);
	f = fopen(path, "r");
	if (!f)
		ktest_fail("open %s: %s", path, strerror(errno));
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return atoll(buf);
}

static inline int param_write(const char *name, unsigned long long v)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/accelkm/parameters/%s", name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "%llu\n", v);
	return fclose(f) ? -errno : 0;
}

static inline int bo_create(int fd, uint64_t size, uint32_t flags,
			    uint32_t *handle, uint64_t *offset)
{
	struct accel_bo_create c = { .size = size, .flags = flags };
	int ret = acc_ioctl(fd, ACCEL_IOCTL_BO_CREATE, &c);

	if (!ret && handle)
		*handle = c.handle;
	if (!ret && offset)
		*offset = c.mmap_offset;
	return ret;
}

static inline uint32_t bo_new(int fd, uint64_t size)
{
	uint32_t h = 0;
	int ret = bo_create(fd, size, 0, &h, NULL);

	if (ret)
		ktest_fail("BO_CREATE %llu: %d", (unsigned long long)size, ret);
	return h;
}

static inline void *bo_map(int fd, uint32_t h, size_t size)
{
	struct accel_bo_info i = { .handle = h };
	void *p;

	if (acc_ioctl(fd, ACCEL_IOCTL_BO_INFO, &i))
		ktest_fail("BO_INFO %u failed", h);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 i.mmap_offset);
	if (p == MAP_FAILED)
		ktest_fail("mmap BO %u: %s", h, strerror(errno));
	return p;
}

static inline int bo_free(int fd, uint32_t h)
{
	struct accel_handle_arg a = { .handle = h };

	return acc_ioctl(fd, ACCEL_IOCTL_BO_FREE, &a);
}

static inline int fence_new(int fd, uint64_t value, uint32_t *handle)
{
	struct accel_fence_create c = { .value = value };
	int ret = acc_ioctl(fd, ACCEL_IOCTL_FENCE_CREATE, &c);

	*handle = c.handle;
	return ret;
}

static inline uint64_t fence_value(int fd, uint32_t h)
{
	struct accel_fence_op op = { .handle = h };

	if (acc_ioctl(fd, ACCEL_IOCTL_FENCE_QUERY, &op))
		ktest_fail("FENCE_QUERY %u failed", h);
	return op.point;
}

/* A mapped queue. */
struct tq {
	int fd;
	struct accel_queue_create p;
	void *sq, *cq;
	struct accel_sqe *sqes;
	uint32_t *sq_head, *sq_tail, *sq_flags, *sq_dropped;
	uint32_t *cq_head, *cq_tail, *cq_overflow;
	struct accel_cqe *cqes;
	uint32_t sq_local_tail;
};

static inline int tq_create_flags(int fd, struct tq *q, uint32_t entries,
				  uint32_t flags, int efd)
{
	int ret;

	memset(q, 0, sizeof(*q));
	q->fd = fd;
	q->p.entries = entries;
	q->p.flags = flags;
	q->p.eventfd = efd;
	ret = acc_ioctl(fd, ACCEL_IOCTL_QUEUE_CREATE, &q->p);
	if (ret)
		return ret;
	q->sq = mmap(NULL, q->p.sq_ring_size, PROT_READ | PROT_WRITE,
		     MAP_SHARED, fd, q->p.sq_mmap_offset);
	q->cq = mmap(NULL, q->p.cq_ring_size, PROT_READ | PROT_WRITE,
		     MAP_SHARED, fd, q->p.cq_mmap_offset);
	q->sqes = mmap(NULL, q->p.sqes_size, PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, q->p.sqes_mmap_offset);
	if (q->sq == MAP_FAILED || q->cq == MAP_FAILED ||
	    q->sqes == MAP_FAILED) {
		/* e.g. another thread destroyed it first (stress) */
		ret = -errno;
		if (q->sq != MAP_FAILED)
			munmap(q->sq, q->p.sq_ring_size);
		if (q->cq != MAP_FAILED)
			munmap(q->cq, q->p.cq_ring_size);
		if (q->sqes != MAP_FAILED)
			munmap(q->sqes, q->p.sqes_size);
		return ret;
	}
	q->sq_head = (uint32_t *)((char *)q->sq + q->p.sq_off.head);
	q->sq_tail = (uint32_t *)((char *)q->sq + q->p.sq_off.tail);
	q->sq_flags = (uint32_t *)((char *)q->sq + q->p.sq_off.flags);
	q->sq_dropped = (uint32_t *)((char *)q->sq + q->p.sq_off.dropped);
	q->cq_head = (uint32_t *)((char *)q->cq + q->p.cq_off.head);
	q->cq_tail = (uint32_t *)((char *)q->cq + q->p.cq_off.tail);
	q->cq_overflow = (uint32_t *)((char *)q->cq + q->p.cq_off.overflow);
	q->cqes = (struct accel_cqe *)((char *)q->cq + q->p.cq_off.cqes);
	q->sq_local_tail = *q->sq_tail;
	return 0;
}

static inline void tq_create(int fd, struct tq *q, uint32_t entries)
{
	int ret = tq_create_flags(fd, q, entries, 0, 0);

	if (ret)
		ktest_fail("QUEUE_CREATE %u: %d", entries, ret);
}

static inline void tq_destroy(struct tq *q)
{
	struct accel_handle_arg a = { .handle = q->p.queue_id };

	munmap(q->sq, q->p.sq_ring_size);
	munmap(q->cq, q->p.cq_ring_size);
	munmap(q->sqes, q->p.sqes_size);
	acc_ioctl(q->fd, ACCEL_IOCTL_QUEUE_DESTROY, &a);
}

/* NULL when the SQ is full. */
static inline struct accel_sqe *tq_get_sqe(struct tq *q)
{
	uint32_t head = __atomic_load_n(q->sq_head, __ATOMIC_ACQUIRE);
	struct accel_sqe *sqe;

	if (q->sq_local_tail - head >= q->p.sq_entries)
		return NULL;
	sqe = &q->sqes[q->sq_local_tail & (q->p.sq_entries - 1)];
	memset(sqe, 0, sizeof(*sqe));
	q->sq_local_tail++;
	return sqe;
}

static inline void tq_flush(struct tq *q)
{
	__atomic_store_n(q->sq_tail, q->sq_local_tail, __ATOMIC_RELEASE);
}

/* Submits what is queued and waits for @wait CQEs; returns 0 or -errno. */
static inline int tq_enter(struct tq *q, uint32_t submit, uint32_t wait,
			   uint64_t deadline, uint32_t *submitted)
{
	struct accel_queue_enter e = {
		.queue_id = q->p.queue_id,
		.to_submit = submit,
		.min_complete = wait,
		.flags = wait || deadline ? ACCEL_ENTER_GETEVENTS : 0,
		.timeout_ns = deadline,
	};
	int ret;

	tq_flush(q);
	ret = acc_ioctl(q->fd, ACCEL_IOCTL_QUEUE_ENTER, &e);
	if (submitted)
		*submitted = e.submitted;
	return ret;
}

static inline uint32_t tq_ready(struct tq *q)
{
	return __atomic_load_n(q->cq_tail, __ATOMIC_ACQUIRE) - *q->cq_head;
}

/* Pops one CQE; false when the CQ is empty. */
static inline bool tq_pop(struct tq *q, struct accel_cqe *out)
{
	uint32_t head = *q->cq_head;

	if (__atomic_load_n(q->cq_tail, __ATOMIC_ACQUIRE) == head)
		return false;
	*out = q->cqes[head & (q->p.cq_entries - 1)];
	__atomic_store_n(q->cq_head, head + 1, __ATOMIC_RELEASE);
	return true;
}

/* Submits one SQE and returns its CQE result (waits up to 20 s). */
static inline int tq_run1(struct tq *q, const struct accel_sqe *in,
			  struct accel_cqe *out_cqe)
{
	struct accel_sqe *sqe = tq_get_sqe(q);
	struct accel_cqe cqe;
	int ret;

	if (!sqe)
		ktest_fail("SQ full");
	*sqe = *in;
	ret = tq_enter(q, 1, 1, now_ns() + 20000000000ull, NULL);
	if (ret)
		ktest_fail("QUEUE_ENTER: %d", ret);
	if (!tq_pop(q, &cqe))
		ktest_fail("no CQE");
	if (cqe.user_data != in->user_data)
		ktest_fail("user_data %llu != %llu",
			   (unsigned long long)cqe.user_data,
			   (unsigned long long)in->user_data);
	if (out_cqe)
		*out_cqe = cqe;
	return cqe.res;
}

#endif /* ACCEL_TEST_H */
