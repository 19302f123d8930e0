// SPDX-License-Identifier: GPL-2.0
/*
 * test_dmabuf.c - BO export as dma-buf and import, within one process and
 * between two over a unix socket (SCM_RIGHTS), O_CLOEXEC, lifetime of the
 * pages behind a dma-buf, and the negative cases.
 */
#include <sys/socket.h>

#include "ktest.h"
#include "accel_test.h"

#define MS (1000000ull)

static int export_bo(int fd, uint32_t h, uint32_t flags, int *out_fd)
{
	struct accel_fd_arg a = { .handle = h, .flags = flags };
	int ret = acc_ioctl(fd, ACCEL_IOCTL_BO_EXPORT, &a);

	*out_fd = a.fd;
	return ret;
}

static int import_bo(int fd, int dmabuf, uint32_t *h)
{
	struct accel_fd_arg a = { .fd = dmabuf };
	int ret = acc_ioctl(fd, ACCEL_IOCTL_BO_IMPORT, &a);

	*h = a.handle;
	return ret;
}

TEST(dmabuf_export_import_same_pages)
{
	int fd = acc_open(), other = acc_open(), dfd;
	uint32_t h = bo_new(fd, 65536), h2;
	uint32_t *p, *p2, *pd;

	ASSERT_OK(export_bo(fd, h, O_RDWR, &dfd));
	ASSERT_GE(dfd, 0);
	ASSERT_EQ(0, fcntl(dfd, F_GETFD) & FD_CLOEXEC);
	ASSERT_OK(import_bo(other, dfd, &h2));
	p = bo_map(fd, h, 65536);
	p2 = bo_map(other, h2, 65536);
	pd = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0);
	ASSERT_TRUE(pd != MAP_FAILED);
	p[100] = 0xcafe;
	ASSERT_EQ(0xcafe, p2[100]);
	ASSERT_EQ(0xcafe, pd[100]);
	/* one BO, charged once */
	ASSERT_EQ(65536, sysfs_read("pinned_bytes"));
}

TEST(dmabuf_cloexec_honoured)
{
	int fd = acc_open(), dfd;
	uint32_t h = bo_new(fd, 4096);

	ASSERT_OK(export_bo(fd, h, O_RDWR | O_CLOEXEC, &dfd));
	ASSERT_TRUE(fcntl(dfd, F_GETFD) & FD_CLOEXEC);
}

TEST(dmabuf_keeps_pages_after_file_closes)
{
	int fd = acc_open(), dfd, fd2;
	uint32_t h = bo_new(fd, 8192), h2;
	uint8_t *p = bo_map(fd, h, 8192);

	p[5] = 55;
	munmap(p, 8192);
	ASSERT_OK(export_bo(fd, h, O_RDWR, &dfd));
	close(fd);
	ASSERT_EQ(8192, sysfs_read("pinned_bytes"));
	fd2 = acc_open();
	ASSERT_OK(import_bo(fd2, dfd, &h2));
	close(dfd);
	p = bo_map(fd2, h2, 8192);
	ASSERT_EQ(55, p[5]);
	munmap(p, 8192);
	close(fd2);
	ASSERT_EQ(0, sysfs_read("pinned_bytes"));
	ASSERT_EQ(0, sysfs_read("bos"));
}

static void send_fd(int sock, int fd)
{
	char buf[CMSG_SPACE(sizeof(int))] = { 0 }, c = 'x';
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = buf, .msg_controllen = sizeof(buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sock, &m, 0) != 1)
		ktest_fail("sendmsg: %s", strerror(errno));
}

static int recv_fd(int sock)
{
	char buf[CMSG_SPACE(sizeof(int))] = { 0 }, c;
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = buf, .msg_controllen = sizeof(buf) };
	int fd;

	if (recvmsg(sock, &m, 0) != 1)
		ktest_fail("recvmsg: %s", strerror(errno));
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
	return fd;
}

/* The child opens its own device file, imports, fills via its queue. */
TEST(dmabuf_round_trip_between_processes)
{
	int sv[2], status;
	pid_t pid;

	ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	if (pid == 0) {
		int fd = acc_open(), dfd = recv_fd(sv[1]);
		struct accel_sqe s = { .opcode = ACCEL_OP_FILL, .len = 4096,
				       .value = 0x42 };
		struct tq q;
		uint32_t h;
		char c = 'k';

		ASSERT_OK(import_bo(fd, dfd, &h));
		tq_create(fd, &q, 4);
		s.dst_handle = h;
		ASSERT_OK(tq_run1(&q, &s, NULL));
		if (write(sv[1], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	{
		int fd = acc_open(), dfd;
		uint32_t h = bo_new(fd, 4096);
		uint8_t *p = bo_map(fd, h, 4096);
		char c;

		ASSERT_OK(export_bo(fd, h, O_RDWR | O_CLOEXEC, &dfd));
		send_fd(sv[0], dfd);
		close(dfd);
		ASSERT_EQ(1, read(sv[0], &c, 1));
		ASSERT_EQ(0x42, p[4095]);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_EQ(0, status);
	}
}

TEST(neg_dmabuf_export_bad_args)
{
	int fd = acc_open(), dfd;
	uint32_t h = bo_new(fd, 4096);
	struct accel_fd_arg a = { .handle = h, .pad = 1 };

	ASSERT_ERR(EINVAL, export_bo(fd, h, O_NONBLOCK, &dfd));
	ASSERT_ERR(EINVAL, export_bo(fd, h, O_ACCMODE, &dfd));
	ASSERT_ERR(ENOENT, export_bo(fd, 0, O_RDWR, &dfd));
	ASSERT_ERR(ENOENT, export_bo(fd, h + 100, O_RDWR, &dfd));
	ASSERT_ERR(EINVAL, acc_ioctl(fd, ACCEL_IOCTL_BO_EXPORT, &a));
}

TEST(neg_dmabuf_export_userptr)
{
	int fd = acc_open(), dfd;
	void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct accel_bo_userptr u = { .addr = (uintptr_t)m, .size = 4096 };

	ASSERT_OK(acc_ioctl(fd, ACCEL_IOCTL_BO_USERPTR, &u));
	ASSERT_ERR(EINVAL, export_bo(fd, u.handle, O_RDWR, &dfd));
}

TEST(neg_dmabuf_import_not_a_dmabuf)
{
	int fd = acc_open();
	struct accel_fd_arg a = { .fd = 999 };
	uint32_t h;

	ASSERT_ERR(EINVAL, import_bo(fd, fd, &h));
	ASSERT_ERR(EBADF, acc_ioctl(fd, ACCEL_IOCTL_BO_IMPORT, &a));
	a.fd = fd;
	a.handle = 3;
	ASSERT_ERR(EINVAL, acc_ioctl(fd, ACCEL_IOCTL_BO_IMPORT, &a));
}

TEST(neg_dmabuf_mmap_beyond_size)
{
	int fd = acc_open(), dfd;
	uint32_t h = bo_new(fd, 8192);

	ASSERT_OK(export_bo(fd, h, O_RDWR, &dfd));
	ASSERT_TRUE(mmap(NULL, 3 * 4096, PROT_READ, MAP_SHARED, dfd, 0) ==
		    MAP_FAILED);
	ASSERT_TRUE(mmap(NULL, 4096, PROT_READ, MAP_SHARED, dfd, 8192) ==
		    MAP_FAILED);
}

TEST(neg_dmabuf_import_readonly_fd)
{
	int fd = acc_open(), dfd;
	uint32_t h = bo_new(fd, 4096), h2;
	void *p;

	ASSERT_OK(export_bo(fd, h, O_RDONLY, &dfd));
	ASSERT_ERR(EACCES, import_bo(fd, dfd, &h2));
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0);
	ASSERT_TRUE(p == MAP_FAILED);	/* and no writable mapping either */
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, dfd, 0);
	ASSERT_TRUE(p != MAP_FAILED);
}
