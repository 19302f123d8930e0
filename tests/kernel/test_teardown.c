// SPDX-License-Identifier: GPL-2.0
/*
 * test_teardown.c - closing files and killing processes with work in
 * flight frees every page, fence and queue; the module cannot be unloaded
 * while a file (or a dma-buf or fence fd) is open.
 */
#include <sys/syscall.h>

#include "ktest.h"
#include "accel_test.h"

#define MB (1ull << 20)

static long long module_refcnt(void)
{
	FILE *f = fopen("/sys/module/accelkm/refcnt", "r");
	long long v = -1;

	if (!f || fscanf(f, "%lld", &v) != 1)
		ktest_fail("read refcnt");
	fclose(f);
	return v;
}

static int try_unload(void)
{
	return syscall(SYS_delete_module, "accelkm", O_NONBLOCK) ? -errno : 0;
}

TEST(unload_refused_while_file_open)
{
	long long base = module_refcnt();
	int fd = acc_open();

	ASSERT_EQ(base + 1, module_refcnt());
	ASSERT_ERR(EWOULDBLOCK, try_unload());
	close(fd);
	ASSERT_EQ(base, module_refcnt());
}

TEST(unload_refused_while_dmabuf_or_fence_fd_open)
{
	long long base = module_refcnt();
	int fd = acc_open();
	struct accel_fd_arg d = { .handle = bo_new(fd, 4096), .flags = O_RDWR };
	struct accel_fd_arg e = { 0 };
	uint32_t f;

	ASSERT_OK(acc_ioctl(fd, ACCEL_IOCTL_BO_EXPORT, &d));
	ASSERT_OK(fence_new(fd, 0, &f));
	e.handle = f;
	ASSERT_OK(acc_ioctl(fd, ACCEL_IOCTL_FENCE_EXPORT, &e));
	close(fd);
	ASSERT_ERR(EWOULDBLOCK, try_unload());
	close(d.fd);
	ASSERT_ERR(EWOULDBLOCK, try_unload());
	close(e.fd);
	ASSERT_EQ(base, module_refcnt());
	ASSERT_EQ(0, sysfs_read("pinned_bytes"));
}

/* Loads a queue with work that cannot finish, plus big copies. */
static void busy_child(int ready_fd, bool userptr)
{
	int fd = acc_open(), i;
	uint32_t a = bo_new(fd, 4 * MB), b = bo_new(fd, 4 * MB), f;
	struct accel_sqe copy = { .opcode = ACCEL_OP_COPY, .src_handle = a,
				  .dst_handle = b, .len = 4 * MB };
	struct tq q1, q2;
	char c = 'r';

	if (userptr) {
		void *m = mmap(NULL, MB, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		struct accel_bo_userptr u = { .addr = (uintptr_t)m,
					      .size = MB };

		ASSERT_OK(acc_ioctl(fd, ACCEL_IOCTL_BO_USERPTR, &u));
	}
	ASSERT_OK(fence_new(fd, 0, &f));
	tq_create(fd, &q1, 8);
	tq_create(fd, &q2, 8);
	*tq_get_sqe(&q1) = (struct accel_sqe){ .opcode = ACCEL_OP_FENCE_WAIT,
					       .fence_handle = f, .value = 1 };
	for (i = 0; i < 7; i++)
		*tq_get_sqe(&q1) = copy;
	ASSERT_OK(tq_enter(&q1, 8, 0, 0, NULL));
	bo_free(fd, a);		/* only queued commands hold it now */
	if (write(ready_fd, &c, 1) != 1)
		_exit(1);
	for (;;) {		/* keep the other queue copying */
		struct accel_sqe *s;

		while ((s = tq_get_sqe(&q2)))
			*s = copy;
		tq_enter(&q2, 8, 1, 0, NULL);
		while (tq_ready(&q2))
			tq_pop(&q2, &(struct accel_cqe){ 0 });
	}
}

static void kill_with_work_in_flight(bool userptr)
{
	long long refs = module_refcnt(), pinned = sysfs_read("pinned_bytes");
	long long bos = sysfs_read("bos"), queues = sysfs_read("queues");
	long long fences = sysfs_read("fences");
	int p[2], status;
	pid_t pid;
	char c;

	ASSERT_OK(pipe(p));
	pid = fork();
	if (pid == 0)
		busy_child(p[1], userptr);
	ASSERT_EQ(1, read(p[0], &c, 1));
	usleep(100000);
	ASSERT_GE(sysfs_read("pinned_bytes"), pinned + 8 * MB);
	ASSERT_EQ(queues + 2, sysfs_read("queues"));
	ASSERT_OK(kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(pinned, sysfs_read("pinned_bytes"));
	ASSERT_EQ(bos, sysfs_read("bos"));
	ASSERT_EQ(queues, sysfs_read("queues"));
	ASSERT_EQ(fences, sysfs_read("fences"));
	ASSERT_EQ(refs, module_refcnt());
}

TEST(sigkill_with_work_in_flight_frees_everything)
{
	kill_with_work_in_flight(false);
}

TEST(sigkill_with_pinned_user_memory_unpins)
{
	kill_with_work_in_flight(true);
}

TEST(destroy_queue_with_blocked_work)
{
	int fd = acc_open(), i;
	uint32_t a = bo_new(fd, MB), f;
	struct accel_handle_arg d;
	struct tq q;

	ASSERT_OK(fence_new(fd, 0, &f));
	tq_create(fd, &q, 16);
	*tq_get_sqe(&q) = (struct accel_sqe){ .opcode = ACCEL_OP_FENCE_WAIT,
					      .fence_handle = f, .value = 1 };
	for (i = 0; i < 15; i++)
		*tq_get_sqe(&q) = (struct accel_sqe){ .opcode = ACCEL_OP_FILL,
			.dst_handle = a, .len = MB };
	ASSERT_OK(tq_enter(&q, 16, 0, 0, NULL));
	ASSERT_OK(bo_free(fd, a));
	ASSERT_EQ(MB, sysfs_read("pinned_bytes"));	/* held by commands */
	d = (struct accel_handle_arg){ .handle = q.p.queue_id };
	ASSERT_OK(acc_ioctl(fd, ACCEL_IOCTL_QUEUE_DESTROY, &d));
	ASSERT_EQ(0, sysfs_read("pinned_bytes"));
	/* signalling the fence afterwards wakes nobody and breaks nothing */
	ASSERT_OK(acc_ioctl(fd, ACCEL_IOCTL_FENCE_SIGNAL,
			    &(struct accel_fence_op){ .handle = f, .point = 1 }));
}

TEST(fence_outlives_queue_waiting_in_other_process)
{
	int fd = acc_open(), status;
	uint32_t f;
	pid_t pid;

	ASSERT_OK(fence_new(fd, 0, &f));
	pid = fork();
	if (pid == 0) {
		struct tq q;

		tq_create(fd, &q, 4);
		*tq_get_sqe(&q) = (struct accel_sqe){
			.opcode = ACCEL_OP_FENCE_WAIT, .fence_handle = f,
			.value = 1 };
		tq_enter(&q, 1, 1, 0, NULL);	/* sleeps until killed */
		_exit(0);
	}
	usleep(100000);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(fd);
	ASSERT_EQ(0, sysfs_read("queues"));
}
