// SPDX-License-Identifier: GPL-2.0
/*
 * test_queue.c - queues and rings: setup, mmap, enter, every opcode,
 * poll() and eventfd, CQ overflow through the backlog, concurrent
 * submitters, waits that time out, and the negative cases of setup, enter
 * and SQEs (bad SQEs are dropped with a failed CQE and never touch memory).
 */
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>

#include "ktest.h"
#include "accel_test.h"

#define MS (1000000ull)

static struct accel_sqe op_nop(uint64_t ud)
{
	return (struct accel_sqe){ .opcode = ACCEL_OP_NOP, .user_data = ud };
}

static struct accel_sqe op_copy(uint32_t src, uint64_t so, uint32_t dst,
				uint64_t d_o, uint64_t len)
{
	return (struct accel_sqe){ .opcode = ACCEL_OP_COPY, .user_data = 42,
		.src_handle = src, .src_offset = so, .dst_handle = dst,
		.dst_offset = d_o, .len = len };
}

static struct accel_sqe op_fill(uint32_t dst, uint64_t off, uint64_t len,
				uint64_t v)
{
	return (struct accel_sqe){ .opcode = ACCEL_OP_FILL, .user_data = 43,
		.dst_handle = dst, .dst_offset = off, .len = len, .value = v };
}

TEST(queue_create_reports_layout)
{
	int fd = acc_open();
	struct tq q;

	tq_create(fd, &q, 8);
	ASSERT_EQ(8, q.p.sq_entries);
	ASSERT_EQ(16, q.p.cq_entries);
	ASSERT_EQ(7, *(uint32_t *)((char *)q.sq + q.p.sq_off.ring_mask));
	ASSERT_EQ(8, *(uint32_t *)((char *)q.sq + q.p.sq_off.ring_entries));
	ASSERT_EQ(15, *(uint32_t *)((char *)q.cq + q.p.cq_off.ring_mask));
	ASSERT_EQ(16, *(uint32_t *)((char *)q.cq + q.p.cq_off.ring_entries));
	ASSERT_EQ(0, *q.sq_head);
	ASSERT_EQ(0, *q.cq_tail);
	ASSERT_NE(q.p.sq_off.head, q.p.sq_off.tail);
	ASSERT_EQ(1, sysfs_read("queues"));
	tq_destroy(&q);
	ASSERT_EQ(0, sysfs_read("queues"));
}

TEST(nop_completes_with_user_data_and_times)
{
	struct accel_sqe s = op_nop(0x1234567890abcdefull);
	int fd = acc_open();
	struct accel_cqe cqe;
	uint64_t t0 = now_ns();
	struct tq q;

	tq_create(fd, &q, 4);
	ASSERT_OK(tq_run1(&q, &s, &cqe));
	ASSERT_EQ(0, cqe.flags);
	ASSERT_LE(t0, cqe.start_ns);
	ASSERT_LE(cqe.start_ns, cqe.end_ns);
	ASSERT_LE(cqe.end_ns, now_ns());
}

TEST(nop_batch_of_32_in_order)
{
	int fd = acc_open(), i;
	struct accel_cqe cqe;
	uint32_t submitted;
	struct tq q;

	tq_create(fd, &q, 32);
	for (i = 0; i < 32; i++)
		*tq_get_sqe(&q) = op_nop(i);
	ASSERT_TRUE(tq_get_sqe(&q) == NULL);	/* the SQ is full */
	ASSERT_OK(tq_enter(&q, 32, 32, 0, &submitted));
	ASSERT_EQ(32, submitted);
	ASSERT_EQ(32, *q.sq_head);
	for (i = 0; i < 32; i++) {
		ASSERT_TRUE(tq_pop(&q, &cqe));
		ASSERT_EQ(i, cqe.user_data);
	}
	ASSERT_TRUE(!tq_pop(&q, &cqe));
}

TEST(enter_submits_only_what_is_queued)
{
	int fd = acc_open();
	uint32_t submitted;
	struct tq q;

	tq_create(fd, &q, 8);
	*tq_get_sqe(&q) = op_nop(1);
	*tq_get_sqe(&q) = op_nop(2);
	ASSERT_OK(tq_enter(&q, 100, 2, 0, &submitted));
	ASSERT_EQ(2, submitted);
	ASSERT_OK(tq_enter(&q, 100, 0, 0, &submitted));
	ASSERT_EQ(0, submitted);
}

TEST(copy_between_bos_unaligned_across_pages)
{
	int fd = acc_open();
	uint32_t a = bo_new(fd, 65536), b = bo_new(fd, 65536);
	uint8_t *pa = bo_map(fd, a, 65536), *pb = bo_map(fd, b, 65536);
	struct accel_sqe s = op_copy(a, 1001, b, 4093, 30000);
	struct tq q;
	int i;

	for (i = 0; i < 65536; i++)
		pa[i] = (uint8_t)(i * 7 + 3);
	memset(pb, 0xee, 65536);
	tq_create(fd, &q, 4);
	ASSERT_OK(tq_run1(&q, &s, NULL));
	for (i = 0; i < 65536; i++) {
		uint8_t want = (i >= 4093 && i < 4093 + 30000) ?
			(uint8_t)((i - 4093 + 1001) * 7 + 3) : 0xee;
		if (pb[i] != want)
			ktest_fail("byte %d: expected %u got %u", i, want, pb[i]);
	}
}

TEST(copy_within_one_bo_disjoint)
{
	int fd = acc_open();
	uint32_t a = bo_new(fd, 8192);
	uint8_t *p = bo_map(fd, a, 8192);
	struct accel_sqe s = op_copy(a, 0, a, 4096, 4096);
	struct tq q;

	memset(p, 9, 4096);
	tq_create(fd, &q, 4);
	ASSERT_OK(tq_run1(&q, &s, NULL));
	ASSERT_EQ(9, p[8191]);
}

TEST(fill_and_timestamp)
{
	int fd = acc_open();
	uint32_t a = bo_new(fd, 16384);
	uint8_t *p = bo_map(fd, a, 16384);
	struct accel_sqe f = op_fill(a, 100, 10000, 0xab);
	struct accel_sqe t = { .opcode = ACCEL_OP_TIMESTAMP, .dst_handle = a,
			       .dst_offset = 16384 - 8 };
	uint64_t t0 = now_ns(), ts;
	struct tq q;

	tq_create(fd, &q, 4);
	ASSERT_OK(tq_run1(&q, &f, NULL));
	ASSERT_EQ(0, p[99]);
	ASSERT_EQ(0xab, p[100]);
	ASSERT_EQ(0xab, p[10099]);
	ASSERT_EQ(0, p[10100]);
	ASSERT_OK(tq_run1(&q, &t, NULL));
	memcpy(&ts, p + 16384 - 8, 8);
	ASSERT_LE(t0, ts);
	ASSERT_LE(ts, now_ns());
}

TEST(copy_into_and_out_of_userptr)
{
	int fd = acc_open();
	uint8_t *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct accel_bo_userptr u = { .addr = (uintptr_t)m, .size = 8192 };
	uint32_t b = bo_new(fd, 8192);
	uint8_t *pb = bo_map(fd, b, 8192);
	struct accel_sqe s;
	struct tq q;

	ASSERT_OK(acc_ioctl(fd, ACCEL_IOCTL_BO_USERPTR, &u));
	memset(m, 0x11, 8192);
	tq_create(fd, &q, 4);
	s = op_copy(u.handle, 0, b, 0, 8192);
	ASSERT_OK(tq_run1(&q, &s, NULL));
	ASSERT_EQ(0x11, pb[8000]);
	s = op_fill(u.handle, 4096, 10, 0x77);
	ASSERT_OK(tq_run1(&q, &s, NULL));
	ASSERT_EQ(0x77, m[4100]);	/* the user's own pages changed */
}

TEST(poll_reports_completions)
{
	int fd = acc_open();
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct accel_cqe cqe;
	struct tq q;

	tq_create(fd, &q, 4);
	ASSERT_EQ(0, poll(&pfd, 1, 0));
	*tq_get_sqe(&q) = op_nop(5);
	ASSERT_OK(tq_enter(&q, 1, 0, 0, NULL));
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	ASSERT_TRUE(pfd.revents & POLLIN);
	ASSERT_TRUE(tq_pop(&q, &cqe));
	ASSERT_EQ(0, poll(&pfd, 1, 0));
}

TEST(eventfd_signalled_on_completions)
{
	int fd = acc_open(), efd = eventfd(0, 0), i;
	uint64_t v = 0, deadline = now_ns() + 10000 * MS;
	struct tq q;

	ASSERT_OK(tq_create_flags(fd, &q, 8, ACCEL_QUEUE_EVENTFD, efd));
	for (i = 0; i < 3; i++)
		*tq_get_sqe(&q) = op_nop(i);
	ASSERT_OK(tq_enter(&q, 3, 3, deadline, NULL));
	/* like io_uring: at least one count per batch of CQEs */
	ASSERT_EQ(8, read(efd, &v, 8));
	ASSERT_GE(v, 1);
	ASSERT_LE(v, 3);
}

TEST(cq_overflow_is_flushed_without_loss)
{
	int fd = acc_open(), i, round;
	uint64_t deadline = now_ns() + 20000 * MS;
	struct accel_cqe cqe;
	uint32_t got = 0;
	struct tq q;

	tq_create(fd, &q, 4);		/* CQ of 8 */
	for (round = 0; round < 5; round++) {
		for (i = 0; i < 4; i++)
			*tq_get_sqe(&q) = op_nop(round * 4 + i);
		/* enter consumes the SQ at once, so the next round fits */
		ASSERT_OK(tq_enter(&q, 4, 0, 0, NULL));
	}
	/* wait for the 8 the CQ can hold; the other 12 are in the backlog */
	ASSERT_OK(tq_enter(&q, 0, 8, deadline, NULL));
	while (*q.cq_overflow < 12 && now_ns() < deadline)
		usleep(1000);
	ASSERT_EQ(12, *q.cq_overflow);
	ASSERT_TRUE(*q.sq_flags & ACCEL_SQ_CQ_OVERFLOW);
	while (got < 20) {
		while (tq_pop(&q, &cqe)) {
			ASSERT_EQ(got, cqe.user_data);	/* in order, no gap */
			got++;
		}
		if (got < 20)
			ASSERT_OK(tq_enter(&q, 0, 1, deadline, NULL));
	}
	ASSERT_EQ(0, *q.sq_flags & ACCEL_SQ_CQ_OVERFLOW);
	ASSERT_TRUE(!tq_pop(&q, &cqe));
}

TEST(enter_wait_times_out)
{
	int fd = acc_open();
	uint64_t t0 = now_ns();
	uint32_t f;
	struct accel_sqe w = { .opcode = ACCEL_OP_FENCE_WAIT, .value = 1 };
	struct tq q;

	ASSERT_OK(fence_new(fd, 0, &f));
	w.fence_handle = f;
	tq_create(fd, &q, 4);
	ASSERT_ERR(ETIME, tq_enter(&q, 0, 1, t0 + 50 * MS, NULL));
	*tq_get_sqe(&q) = w;
	ASSERT_ERR(ETIME, tq_enter(&q, 1, 1, now_ns() + 50 * MS, NULL));
	ASSERT_GE(now_ns() - t0, 100 * MS);
	/* a deadline in the past returns at once */
	ASSERT_ERR(ETIME, tq_enter(&q, 0, 1, 1, NULL));
}

TEST(stats_count_commands)
{
	long long sub = sysfs_read("submitted"), done = sysfs_read("completed");
	long long failed = sysfs_read("failed");
	int fd = acc_open(), i;
	struct tq q;

	tq_create(fd, &q, 8);
	for (i = 0; i < 5; i++)
		*tq_get_sqe(&q) = op_nop(i);
	tq_get_sqe(&q)->opcode = 200;
	ASSERT_OK(tq_enter(&q, 6, 6, now_ns() + 10000 * MS, NULL));
	ASSERT_EQ(sub + 6, sysfs_read("submitted"));
	ASSERT_EQ(done + 5, sysfs_read("completed"));
	ASSERT_EQ(failed + 1, sysfs_read("failed"));
}

TEST(fdinfo_engine_busy_grows)
{
	int fd = acc_open();
	uint32_t a = bo_new(fd, 1 << 20), b = bo_new(fd, 1 << 20);
	struct accel_sqe s = op_copy(a, 0, b, 0, 1 << 20);
	char path[64], buf[2048], *p;
	struct tq q;
	ssize_t n;
	int in;

	tq_create(fd, &q, 4);
	ASSERT_OK(tq_run1(&q, &s, NULL));
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	in = open(path, O_RDONLY);
	n = read(in, buf, sizeof(buf) - 1);
	ASSERT_GE(n, 1);
	buf[n] = 0;
	p = strstr(buf, "drm-engine-copy:\t");
	ASSERT_TRUE(p);
	ASSERT_GE(atoll(p + strlen("drm-engine-copy:\t")), 1);
	ASSERT_TRUE(strstr(buf, "accelkm-completed:\t1\n"));
}

/* ------------------------------------------------- concurrent submitters */

struct worker {
	int fd;
	struct tq *q;
	pthread_mutex_t *lock;	/* shared queue: one producer at a time */
	int n;
	int *sent, *done;	/* shared counters for a shared queue */
	int own_sent, own_done;
};

static void *submitter(void *arg)
{
	struct worker *w = arg;
	struct accel_cqe cqe;
	struct tq own;
	struct tq *q = w->q;
	int ret;

	if (!q) {
		tq_create(w->fd, &own, 16);
		q = &own;
	}
	while (__atomic_load_n(w->done, __ATOMIC_RELAXED) < w->n) {
		struct accel_sqe *s;

		if (w->lock)
			pthread_mutex_lock(w->lock);
		while (*w->sent < w->n && (s = tq_get_sqe(q)))
			*s = op_nop((*w->sent)++);
		/* wait for one CQE unless ours are all reaped */
		ret = tq_enter(q, 16, *w->sent > *w->done, now_ns() + 10000 * MS,
			       NULL);
		if (ret)
			ktest_fail("enter: %d sent %d done %d ready %u ovf %u",
				   ret, *w->sent, *w->done, tq_ready(q),
				   *q->cq_overflow);
		while (tq_pop(q, &cqe))
			__atomic_add_fetch(w->done, cqe.res == 0,
					   __ATOMIC_RELAXED);
		if (w->lock)
			pthread_mutex_unlock(w->lock);
		sched_yield();
	}
	return NULL;
}

TEST(concurrent_submitters_own_and_shared_queues)
{
	int fd = acc_open(), i, total = 0, shared_sent = 0, shared_done = 0;
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct worker w[6] = { 0 };
	pthread_t t[6];
	struct tq shared;

	tq_create(fd, &shared, 16);
	for (i = 0; i < 6; i++) {
		w[i].fd = fd;
		w[i].n = 1000;
		w[i].sent = &w[i].own_sent;
		w[i].done = &w[i].own_done;
		if (i >= 4) {	/* two threads share one queue */
			w[i].q = &shared;
			w[i].lock = &lock;
			w[i].n = 2000;
			w[i].sent = &shared_sent;
			w[i].done = &shared_done;
		}
		pthread_create(&t[i], NULL, submitter, &w[i]);
	}
	for (i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 4; i++)
		total += w[i].own_done;
	ASSERT_EQ(4000, total);
	ASSERT_EQ(2000, shared_done);
}

/* ------------------------------------------------------ negative: setup */

static int qcreate(int fd, struct accel_queue_create *c)
{
	return acc_ioctl(fd, ACCEL_IOCTL_QUEUE_CREATE, c);
}

TEST(neg_queue_entries_zero_or_not_power_of_two)
{
	struct accel_queue_create c = { 0 };
	int fd = acc_open();

	ASSERT_ERR(EINVAL, qcreate(fd, &c));
	c.entries = 3;
	ASSERT_ERR(EINVAL, qcreate(fd, &c));
	c.entries = 100;
	ASSERT_ERR(EINVAL, qcreate(fd, &c));
}

TEST(queue_entries_clamped_only_when_asked)
{
	struct accel_queue_create c = { .entries = 1u << 30 };
	int fd = acc_open();

	ASSERT_ERR(EINVAL, qcreate(fd, &c));
	c.flags = ACCEL_QUEUE_CLAMP;
	ASSERT_OK(qcreate(fd, &c));
	ASSERT_EQ(4096, c.sq_entries);
}

TEST(neg_queue_unknown_flags_and_reserved)
{
	struct accel_queue_create c = { .entries = 4, .flags = 1u << 12 };
	int fd = acc_open();

	ASSERT_ERR(EINVAL, qcreate(fd, &c));
	c.flags = 0;
	c.reserved[3] = 1;
	ASSERT_ERR(EINVAL, qcreate(fd, &c));
	c.reserved[3] = 0;
	c.pad[1] = 1;
	ASSERT_ERR(EINVAL, qcreate(fd, &c));
	c.pad[1] = 0;
	c.sq_off.resv[0] = 1;
	ASSERT_ERR(EINVAL, qcreate(fd, &c));
}

TEST(neg_queue_eventfd_bad)
{
	struct accel_queue_create c = { .entries = 4, .eventfd = 3 };
	int fd = acc_open();

	ASSERT_ERR(EINVAL, qcreate(fd, &c));	/* fd without the flag */
	c.flags = ACCEL_QUEUE_EVENTFD;
	c.eventfd = fd;				/* not an eventfd */
	ASSERT_ERR(EINVAL, qcreate(fd, &c));
	c.eventfd = 999;
	ASSERT_ERR(EBADF, qcreate(fd, &c));
}

TEST(neg_queue_mmap_bad)
{
	int fd = acc_open();
	struct tq q;

	tq_create(fd, &q, 4);
	ASSERT_TRUE(mmap(NULL, q.p.sq_ring_size + 4096, PROT_READ, MAP_SHARED,
			 fd, q.p.sq_mmap_offset) == MAP_FAILED);
	ASSERT_TRUE(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
			 q.p.sq_mmap_offset + (5ull << 24)) == MAP_FAILED);
	ASSERT_TRUE(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
			 q.p.sq_mmap_offset + 4096) == MAP_FAILED);
	tq_destroy(&q);
	ASSERT_TRUE(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
			 q.p.sq_mmap_offset) == MAP_FAILED);
}

TEST(rings_stay_mapped_after_destroy)
{
	int fd = acc_open();
	struct accel_handle_arg a;
	struct tq q;

	tq_create(fd, &q, 4);
	a = (struct accel_handle_arg){ .handle = q.p.queue_id };
	ASSERT_OK(acc_ioctl(fd, ACCEL_IOCTL_QUEUE_DESTROY, &a));
	*q.sq_tail = 3;		/* still our memory: no fault */
	ASSERT_ERR(ENOENT, acc_ioctl(fd, ACCEL_IOCTL_QUEUE_DESTROY, &a));
}

/* ------------------------------------------------------ negative: enter */

static int enter_raw(int fd, struct accel_queue_enter *e)
{
	return acc_ioctl(fd, ACCEL_IOCTL_QUEUE_ENTER, e);
}

TEST(neg_enter_bad_arguments)
{
	int fd = acc_open();
	struct accel_queue_enter e = { 0 };
	struct tq q;

	tq_create(fd, &q, 4);
	ASSERT_ERR(ENOENT, enter_raw(fd, &e));		/* queue 0 */
	e.queue_id = 999;
	ASSERT_ERR(ENOENT, enter_raw(fd, &e));		/* no such queue */
	e.queue_id = q.p.queue_id;
	e.flags = 1u << 5;
	ASSERT_ERR(EINVAL, enter_raw(fd, &e));		/* unknown flag */
	e.flags = 0;
	e.pad = 1;
	ASSERT_ERR(EINVAL, enter_raw(fd, &e));		/* pad */
	e.pad = 0;
	e.min_complete = 1;
	ASSERT_ERR(EINVAL, enter_raw(fd, &e));		/* wait w/o flag */
	e.flags = ACCEL_ENTER_GETEVENTS;
	e.min_complete = 9;
	ASSERT_ERR(EINVAL, enter_raw(fd, &e));		/* > CQ size */
	e.min_complete = 0;
	e.submitted = 1;
	ASSERT_ERR(EINVAL, enter_raw(fd, &e));		/* output field */
}

TEST(neg_enter_queue_of_other_file)
{
	int a = acc_open(), b = acc_open();
	struct accel_queue_enter e = { 0 };
	struct tq q;

	tq_create(a, &q, 4);
	e.queue_id = q.p.queue_id;
	ASSERT_ERR(ENOENT, enter_raw(b, &e));
}

TEST(neg_enter_sq_tail_past_ring)
{
	int fd = acc_open();
	struct tq q;

	tq_create(fd, &q, 4);
	q.sq_local_tail = 100;
	ASSERT_ERR(EINVAL, tq_enter(&q, 100, 0, 0, NULL));
	ASSERT_EQ(0, *q.sq_head);
}

/* ------------------------------------------------------- negative: SQEs */

/* Runs one bad SQE: it must fail with @err, be counted as dropped. */
static void expect_dropped(struct tq *q, struct accel_sqe s, int err)
{
	uint32_t dropped = *q->sq_dropped;
	struct accel_cqe cqe;

	s.user_data = 777;
	ASSERT_EQ(-err, tq_run1(q, &s, &cqe));
	ASSERT_EQ(ACCEL_CQE_F_DROPPED, cqe.flags);
	ASSERT_EQ(dropped + 1, *q->sq_dropped);
}

/* A queue and two 8 KiB BOs filled with 1s and 2s. */
FIXTURE(sqe) {
	int fd;
	struct tq q;
	uint32_t a, b;
	uint8_t *pa, *pb;
};

FIXTURE_SETUP(sqe)
{
	self->fd = acc_open();
	self->a = bo_new(self->fd, 8192);
	self->b = bo_new(self->fd, 8192);
	self->pa = bo_map(self->fd, self->a, 8192);
	self->pb = bo_map(self->fd, self->b, 8192);
	memset(self->pa, 1, 8192);
	memset(self->pb, 2, 8192);
	tq_create(self->fd, &self->q, 4);
}

/* Bad SQEs never change a byte. */
FIXTURE_TEARDOWN(sqe)
{
	int i;

	for (i = 0; i < 8192; i++)
		if (self->pa[i] != 1 || self->pb[i] != 2)
			ktest_fail("byte %d changed", i);
	tq_destroy(&self->q);
	close(self->fd);
}

TEST_F(sqe, neg_unknown_opcode_flags_reserved)
{
	struct accel_sqe s = op_nop(0);

	s.opcode = ACCEL_OP_LAST;
	expect_dropped(&self->q, s, EINVAL);
	s.opcode = 255;
	expect_dropped(&self->q, s, EINVAL);
	s = op_nop(0);
	s.flags = 1;
	expect_dropped(&self->q, s, EINVAL);
	s = op_nop(0);
	s.reserved = 1;
	expect_dropped(&self->q, s, EINVAL);
	s = op_nop(0);
	s.pad0 = 1;
	expect_dropped(&self->q, s, EINVAL);
	s = op_nop(0);
	s.len = 1;		/* NOP uses no operand */
	expect_dropped(&self->q, s, EINVAL);
}

TEST_F(sqe, neg_copy_out_of_range)
{
	uint32_t a = self->a, b = self->b;
	struct tq *q = &self->q;

	expect_dropped(q, op_copy(a, 8192, b, 0, 1), EINVAL);
	expect_dropped(q, op_copy(a, 0, b, 8192, 1), EINVAL);
	expect_dropped(q, op_copy(a, 4096, b, 0, 4097), EINVAL);
	expect_dropped(q, op_copy(a, 0, b, 1, 8192), EINVAL);
	expect_dropped(q, op_copy(a, ~0ull - 10, b, 0, 20), EINVAL);
	expect_dropped(q, op_copy(a, 16, b, 0, ~0ull - 8), EINVAL);
	expect_dropped(q, op_copy(a, 0, b, 0, 0), EINVAL);
	expect_dropped(q, op_fill(b, 8000, 193, 0), EINVAL);
	expect_dropped(q, op_fill(b, 1ull << 63, 1, 0), EINVAL);
}

TEST_F(sqe, neg_bad_handles)
{
	int other = acc_open(), i;
	uint32_t freed = bo_new(self->fd, 4096), foreign = 0;
	struct tq *q = &self->q;

	for (i = 0; i < 5; i++)
		foreign = bo_new(other, 4096);	/* handle 5 exists only there */
	ASSERT_OK(bo_free(self->fd, freed));
	expect_dropped(q, op_copy(0, 0, self->b, 0, 16), ENOENT);
	expect_dropped(q, op_copy(self->a, 0, 0, 0, 16), ENOENT);
	expect_dropped(q, op_copy(self->a, 0, freed, 0, 16), ENOENT);
	expect_dropped(q, op_copy(12345, 0, self->b, 0, 16), ENOENT);
	/* handle numbers are per file: another file's handle means nothing */
	expect_dropped(q, op_copy(foreign, 0, self->b, 0, 16), ENOENT);
	expect_dropped(q, op_fill(freed, 0, 16, 0), ENOENT);
}

TEST_F(sqe, neg_copy_overlap_same_bo)
{
	expect_dropped(&self->q, op_copy(self->a, 0, self->a, 100, 200), EINVAL);
	expect_dropped(&self->q, op_copy(self->a, 100, self->a, 0, 200), EINVAL);
}

TEST_F(sqe, neg_write_to_readonly_userptr)
{
	void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	struct accel_bo_userptr u = { .addr = (uintptr_t)m, .size = 4096,
				      .flags = ACCEL_USERPTR_READONLY };
	uint32_t c = bo_new(self->fd, 4096);

	ASSERT_OK(acc_ioctl(self->fd, ACCEL_IOCTL_BO_USERPTR, &u));
	expect_dropped(&self->q, op_copy(c, 0, u.handle, 0, 16), EACCES);
	expect_dropped(&self->q, op_fill(u.handle, 0, 16, 1), EACCES);
	/* reading it is fine */
	ASSERT_OK(tq_run1(&self->q, &(struct accel_sqe){
		.opcode = ACCEL_OP_COPY, .src_handle = u.handle,
		.dst_handle = c, .len = 16 }, NULL));
}

TEST_F(sqe, neg_fill_value_and_timestamp_alignment)
{
	struct accel_sqe t = { .opcode = ACCEL_OP_TIMESTAMP,
			       .dst_handle = self->a, .dst_offset = 3 };

	expect_dropped(&self->q, op_fill(self->a, 0, 16, 256), EINVAL);
	expect_dropped(&self->q, t, EINVAL);
	t.dst_offset = 8192;
	expect_dropped(&self->q, t, EINVAL);
	t.dst_offset = 0;
	t.len = 8;
	expect_dropped(&self->q, t, EINVAL);
}

TEST_F(sqe, neg_fence_bad_handle)
{
	struct accel_sqe s = { .opcode = ACCEL_OP_FENCE_SIGNAL,
			       .fence_handle = 77, .value = 1 };

	expect_dropped(&self->q, s, ENOENT);
	s.opcode = ACCEL_OP_FENCE_WAIT;
	expect_dropped(&self->q, s, ENOENT);
	s.fence_handle = 0;
	expect_dropped(&self->q, s, ENOENT);
}

TEST(neg_enter_busy_when_nothing_is_reaped)
{
	int fd = acc_open(), i, busy = 0;
	uint32_t f;
	struct accel_sqe w = { .opcode = ACCEL_OP_FENCE_WAIT, .value = 1 };
	struct tq q;

	ASSERT_OK(fence_new(fd, 0, &f));
	w.fence_handle = f;
	tq_create(fd, &q, 4);	/* outstanding limit: 8 * CQ = 64 */
	*tq_get_sqe(&q) = w;	/* blocks the queue */
	for (i = 0; i < 40 && !busy; i++) {
		struct accel_sqe *s;
		int ret;

		while ((s = tq_get_sqe(&q)))
			*s = op_nop(i);
		ret = tq_enter(&q, 4, 0, 0, NULL);
		if (ret == -EBUSY)
			busy = 1;
		else
			ASSERT_OK(ret);
	}
	ASSERT_TRUE(busy);
}
