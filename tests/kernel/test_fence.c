// SPDX-License-Identifier: GPL-2.0
/*
 * test_fence.c - timeline fences: CPU signal/query/wait, queues that wait
 * on points signalled by other queues, a fence shared with another process
 * through an fd, and the negative cases.
 */
#include "ktest.h"
#include "accel_test.h"

#define MS (1000000ull)

static int fence_op(int fd, unsigned long cmd, uint32_t h, uint64_t point,
		    uint64_t timeout)
{
	struct accel_fence_op op = { .handle = h, .point = point,
				     .timeout_ns = timeout };

	return acc_ioctl(fd, cmd, &op);
}

static struct accel_sqe fence_sqe(uint8_t op, uint32_t f, uint64_t point,
				  uint64_t ud)
{
	return (struct accel_sqe){ .opcode = op, .fence_handle = f,
				   .value = point, .user_data = ud };
}

TEST(fence_cpu_signal_query_wait)
{
	int fd = acc_open();
	uint32_t f;

	ASSERT_OK(fence_new(fd, 5, &f));
	ASSERT_NE(0, f);
	ASSERT_EQ(5, fence_value(fd, f));
	ASSERT_OK(fence_op(fd, ACCEL_IOCTL_FENCE_WAIT, f, 5, 0));
	ASSERT_ERR(ETIME, fence_op(fd, ACCEL_IOCTL_FENCE_WAIT, f, 6, 0));
	ASSERT_OK(fence_op(fd, ACCEL_IOCTL_FENCE_SIGNAL, f, 10, 0));
	ASSERT_EQ(10, fence_value(fd, f));
	ASSERT_OK(fence_op(fd, ACCEL_IOCTL_FENCE_WAIT, f, 7, now_ns() + MS));
}

TEST(fence_wait_times_out_at_absolute_deadline)
{
	int fd = acc_open();
	uint64_t t0 = now_ns();
	uint32_t f;

	ASSERT_OK(fence_new(fd, 0, &f));
	ASSERT_ERR(ETIME, fence_op(fd, ACCEL_IOCTL_FENCE_WAIT, f, 1,
				   t0 + 100 * MS));
	ASSERT_GE(now_ns(), t0 + 100 * MS);
}

TEST(fence_cpu_wait_woken_by_queue_signal)
{
	int fd = acc_open();
	struct tq q;
	uint32_t f;
	pid_t pid;

	ASSERT_OK(fence_new(fd, 0, &f));
	pid = fork();
	if (pid == 0) {
		usleep(50000);
		tq_create(fd, &q, 4);
		*tq_get_sqe(&q) = fence_sqe(ACCEL_OP_FENCE_SIGNAL, f, 3, 1);
		tq_enter(&q, 1, 1, 0, NULL);
		_exit(0);
	}
	ASSERT_OK(fence_op(fd, ACCEL_IOCTL_FENCE_WAIT, f, 3,
			   now_ns() + 20000 * MS));
	waitpid(pid, NULL, 0);
}

TEST(queue_waits_for_point_signalled_by_other_queue)
{
	int fd = acc_open();
	uint32_t a = bo_new(fd, 4096), b = bo_new(fd, 4096), f;
	uint8_t *pa = bo_map(fd, a, 4096), *pb = bo_map(fd, b, 4096);
	struct accel_sqe copy = { .opcode = ACCEL_OP_COPY, .src_handle = a,
				  .dst_handle = b, .len = 4096, .user_data = 2 };
	struct accel_cqe cqe;
	struct tq q1, q2;

	ASSERT_OK(fence_new(fd, 0, &f));
	tq_create(fd, &q1, 4);
	tq_create(fd, &q2, 4);
	*tq_get_sqe(&q1) = fence_sqe(ACCEL_OP_FENCE_WAIT, f, 2, 1);
	*tq_get_sqe(&q1) = copy;
	ASSERT_OK(tq_enter(&q1, 2, 0, 0, NULL));
	memset(pa, 0x3c, 4096);
	usleep(20000);
	ASSERT_EQ(0, tq_ready(&q1));	/* still blocked on point 2 */
	ASSERT_EQ(0, pb[0]);
	ASSERT_OK(tq_run1(&q2, &(struct accel_sqe){
		.opcode = ACCEL_OP_FENCE_SIGNAL, .fence_handle = f, .value = 1 },
		NULL));
	usleep(20000);
	ASSERT_EQ(0, tq_ready(&q1));	/* point 1 is not enough */
	ASSERT_OK(tq_run1(&q2, &(struct accel_sqe){
		.opcode = ACCEL_OP_FENCE_SIGNAL, .fence_handle = f, .value = 2 },
		NULL));
	ASSERT_OK(tq_enter(&q1, 0, 2, now_ns() + 20000 * MS, NULL));
	ASSERT_TRUE(tq_pop(&q1, &cqe));
	ASSERT_EQ(1, cqe.user_data);
	ASSERT_TRUE(tq_pop(&q1, &cqe));
	ASSERT_EQ(2, cqe.user_data);
	ASSERT_EQ(0x3c, pb[4095]);
}

TEST(queue_signal_must_move_forward)
{
	int fd = acc_open();
	struct tq q;
	uint32_t f;

	ASSERT_OK(fence_new(fd, 4, &f));
	tq_create(fd, &q, 4);
	ASSERT_EQ(-EINVAL, tq_run1(&q, &(struct accel_sqe){
		.opcode = ACCEL_OP_FENCE_SIGNAL, .fence_handle = f, .value = 4 },
		NULL));
	ASSERT_EQ(4, fence_value(fd, f));
}

TEST(fence_shared_with_another_process_by_fd)
{
	int fd = acc_open(), status;
	struct accel_fd_arg ex = { 0 };
	uint32_t f;
	pid_t pid;

	ASSERT_OK(fence_new(fd, 0, &f));
	ex.handle = f;
	ASSERT_OK(acc_ioctl(fd, ACCEL_IOCTL_FENCE_EXPORT, &ex));
	ASSERT_GE(ex.fd, 0);
	pid = fork();
	if (pid == 0) {
		/* another client: its own device file, the fence via the fd */
		int mine = acc_open();
		struct accel_fd_arg im = { .fd = ex.fd };
		struct tq q;

		close(fd);
		ASSERT_OK(acc_ioctl(mine, ACCEL_IOCTL_FENCE_IMPORT, &im));
		tq_create(mine, &q, 4);
		*tq_get_sqe(&q) = fence_sqe(ACCEL_OP_FENCE_WAIT, im.handle, 7, 9);
		ASSERT_OK(tq_enter(&q, 1, 1, now_ns() + 20000 * MS, NULL));
		ASSERT_OK(fence_op(mine, ACCEL_IOCTL_FENCE_SIGNAL, im.handle,
				   8, 0));
		_exit(0);
	}
	usleep(50000);
	ASSERT_OK(fence_op(fd, ACCEL_IOCTL_FENCE_SIGNAL, f, 7, 0));
	ASSERT_OK(fence_op(fd, ACCEL_IOCTL_FENCE_WAIT, f, 8,
			   now_ns() + 20000 * MS));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
}

TEST(fence_fd_outlives_handle)
{
	int fd = acc_open();
	struct accel_fd_arg ex = { 0 }, im = { 0 };
	struct accel_handle_arg d = { 0 };
	uint32_t f;

	ASSERT_OK(fence_new(fd, 3, &f));
	ex.handle = f;
	ex.flags = O_CLOEXEC;
	ASSERT_OK(acc_ioctl(fd, ACCEL_IOCTL_FENCE_EXPORT, &ex));
	ASSERT_TRUE(fcntl(ex.fd, F_GETFD) & FD_CLOEXEC);
	d.handle = f;
	ASSERT_OK(acc_ioctl(fd, ACCEL_IOCTL_FENCE_DESTROY, &d));
	im.fd = ex.fd;
	ASSERT_OK(acc_ioctl(fd, ACCEL_IOCTL_FENCE_IMPORT, &im));
	ASSERT_EQ(3, fence_value(fd, im.handle));
}

TEST(neg_fence_create_flags)
{
	struct accel_fence_create c = { .flags = 1 };
	int fd = acc_open();

	ASSERT_ERR(EINVAL, acc_ioctl(fd, ACCEL_IOCTL_FENCE_CREATE, &c));
}

TEST(neg_fence_bad_handles)
{
	int fd = acc_open(), other = acc_open();
	struct accel_handle_arg d = { 0 };
	uint32_t f;

	ASSERT_OK(fence_new(fd, 0, &f));
	ASSERT_ERR(ENOENT, fence_op(fd, ACCEL_IOCTL_FENCE_SIGNAL, 0, 1, 0));
	ASSERT_ERR(ENOENT, fence_op(other, ACCEL_IOCTL_FENCE_SIGNAL, f, 1, 0));
	d.handle = f;
	ASSERT_OK(acc_ioctl(fd, ACCEL_IOCTL_FENCE_DESTROY, &d));
	ASSERT_ERR(ENOENT, acc_ioctl(fd, ACCEL_IOCTL_FENCE_DESTROY, &d));
	ASSERT_ERR(ENOENT, fence_op(fd, ACCEL_IOCTL_FENCE_WAIT, f, 1, 0));
}

TEST(neg_fence_signal_backwards_and_reserved)
{
	struct accel_fence_op op = { 0 };
	int fd = acc_open();
	uint32_t f;

	ASSERT_OK(fence_new(fd, 10, &f));
	ASSERT_ERR(EINVAL, fence_op(fd, ACCEL_IOCTL_FENCE_SIGNAL, f, 10, 0));
	ASSERT_ERR(EINVAL, fence_op(fd, ACCEL_IOCTL_FENCE_SIGNAL, f, 9, 0));
	ASSERT_ERR(EINVAL, fence_op(fd, ACCEL_IOCTL_FENCE_SIGNAL, f, 11, 5));
	op.handle = f;
	op.flags = 2;
	ASSERT_ERR(EINVAL, acc_ioctl(fd, ACCEL_IOCTL_FENCE_WAIT, &op));
	op.flags = 0;
	op.point = 1;	/* query's point is an output */
	ASSERT_ERR(EINVAL, acc_ioctl(fd, ACCEL_IOCTL_FENCE_QUERY, &op));
}

TEST(neg_fence_import_wrong_fd)
{
	int fd = acc_open();
	struct accel_fd_arg im = { .fd = fd };
	uint32_t f;

	ASSERT_ERR(EINVAL, acc_ioctl(fd, ACCEL_IOCTL_FENCE_IMPORT, &im));
	im.fd = 1000;
	ASSERT_ERR(EBADF, acc_ioctl(fd, ACCEL_IOCTL_FENCE_IMPORT, &im));
	ASSERT_OK(fence_new(fd, 0, &f));
	im = (struct accel_fd_arg){ .handle = f, .flags = O_RDWR };
	ASSERT_ERR(EINVAL, acc_ioctl(fd, ACCEL_IOCTL_FENCE_EXPORT, &im));
}
