// SPDX-License-Identifier: GPL-2.0
/*
 * test_abi.c - the uapi layout (static asserts on sizes and offsets), the
 * GET_PARAM query, the device node and ioctl-number handling.
 */
#include <stddef.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "ktest.h"
#include "accel_test.h"

#define SIZE(t, n) _Static_assert(sizeof(struct t) == (n), #t " size")
#define OFF(t, f, n) \
	_Static_assert(offsetof(struct t, f) == (n), #t "." #f " offset")

SIZE(accel_get_param, 16);
SIZE(accel_bo_create, 32);
OFF(accel_bo_create, flags, 8);
OFF(accel_bo_create, handle, 16);
OFF(accel_bo_create, mmap_offset, 24);
SIZE(accel_bo_userptr, 24);
SIZE(accel_bo_info, 24);
SIZE(accel_handle_arg, 8);
SIZE(accel_fd_arg, 24);
OFF(accel_fd_arg, size, 16);
SIZE(accel_fence_create, 16);
SIZE(accel_fence_op, 24);
SIZE(accel_sqe, 64);
OFF(accel_sqe, user_data, 8);
OFF(accel_sqe, src_handle, 16);
OFF(accel_sqe, src_offset, 24);
OFF(accel_sqe, len, 40);
OFF(accel_sqe, value, 48);
OFF(accel_sqe, fence_handle, 56);
SIZE(accel_cqe, 32);
OFF(accel_cqe, res, 8);
OFF(accel_cqe, start_ns, 16);
SIZE(accel_sq_offsets, 32);
SIZE(accel_cq_offsets, 32);
SIZE(accel_queue_create, 176);
OFF(accel_queue_create, sq_off, 32);
OFF(accel_queue_create, cq_off, 64);
OFF(accel_queue_create, sq_mmap_offset, 96);
OFF(accel_queue_create, reserved, 144);
SIZE(accel_queue_enter, 32);
OFF(accel_queue_enter, timeout_ns, 16);

static uint64_t param(int fd, uint32_t id, int *ret)
{
	struct accel_get_param p = { .param = id };

	*ret = acc_ioctl(fd, ACCEL_IOCTL_GET_PARAM, &p);
	return p.value;
}

TEST(device_node_is_misc_not_drm_accel)
{
	struct stat st;

	ASSERT_OK(stat(ACCEL_KM_DEVICE, &st));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	ASSERT_NE(261, major(st.st_rdev));
	ASSERT_EQ(10, major(st.st_rdev));
}

TEST(get_param_version_and_features)
{
	int fd = acc_open(), ret;
	uint64_t v;

	v = param(fd, ACCEL_PARAM_API_VERSION, &ret);
	ASSERT_OK(ret);
	ASSERT_EQ(ACCEL_API_VERSION_MAJOR, v >> 16);
	v = param(fd, ACCEL_PARAM_FEATURES, &ret);
	ASSERT_OK(ret);
	ASSERT_TRUE(v & ACCEL_FEATURE_QUEUES);
	ASSERT_TRUE(v & ACCEL_FEATURE_USERPTR);
	v = param(fd, ACCEL_PARAM_OPCODES, &ret);
	ASSERT_OK(ret);
	ASSERT_EQ((1ull << ACCEL_OP_LAST) - 1, v);
	ASSERT_EQ(getpagesize(), param(fd, ACCEL_PARAM_PAGE_SIZE, &ret));
	ASSERT_GE(param(fd, ACCEL_PARAM_MAX_QUEUE_ENTRIES, &ret), 64);
	ASSERT_GE(param(fd, ACCEL_PARAM_MAX_BO_SIZE, &ret), 1 << 20);
	ASSERT_OK(ret);
}

TEST(get_param_client_ids_differ)
{
	int a = acc_open(), b = acc_open(), ret;

	ASSERT_NE(param(a, ACCEL_PARAM_CLIENT_ID, &ret),
		  param(b, ACCEL_PARAM_CLIENT_ID, &ret));
}

TEST(neg_get_param_unknown_id)
{
	int fd = acc_open(), ret;

	param(fd, 0, &ret);
	ASSERT_ERR(EINVAL, ret);
	param(fd, 9999, &ret);
	ASSERT_ERR(EINVAL, ret);
}

TEST(neg_get_param_nonzero_pad)
{
	struct accel_get_param p = { .param = 1, .pad = 1 };
	int fd = acc_open();

	ASSERT_ERR(EINVAL, acc_ioctl(fd, ACCEL_IOCTL_GET_PARAM, &p));
}

TEST(neg_unknown_ioctl_number)
{
	int fd = acc_open();
	char buf[256] = { 0 };

	ASSERT_ERR(ENOTTY, acc_ioctl(fd, _IOWR(ACCEL_IOC_MAGIC, 0x7f,
					       struct accel_get_param), buf));
	/* right number, wrong size */
	ASSERT_ERR(ENOTTY, acc_ioctl(fd, _IOWR(ACCEL_IOC_MAGIC, 0x00,
					       uint64_t), buf));
	ASSERT_ERR(ENOTTY, acc_ioctl(fd, _IOWR('x', 0x00,
					       struct accel_get_param), buf));
}

TEST(neg_bad_user_pointer)
{
	int fd = acc_open();

	ASSERT_ERR(EFAULT, acc_ioctl(fd, ACCEL_IOCTL_GET_PARAM, (void *)8));
}

TEST(sysfs_counters_exist)
{
	int fd = acc_open();

	ASSERT_GE(sysfs_read("clients"), 1);
	ASSERT_GE(sysfs_read("pinned_bytes"), 0);
	ASSERT_GE(sysfs_read("queues"), 0);
	ASSERT_GE(sysfs_read("submitted"), 0);
	ASSERT_GE(sysfs_read("busy_ns_copy"), 0);
	close(fd);
}

TEST(fdinfo_has_drm_style_keys)
{
	int fd = acc_open(), ret;
	char path[64], buf[2048];
	uint64_t id = param(fd, ACCEL_PARAM_CLIENT_ID, &ret);
	char want[64];
	ssize_t n;
	int in;

	uint32_t h = bo_new(fd, 1 << 16);
	(void)h;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	in = open(path, O_RDONLY);
	ASSERT_GE(in, 0);
	n = read(in, buf, sizeof(buf) - 1);
	ASSERT_GE(n, 1);
	buf[n] = 0;
	ASSERT_TRUE(strstr(buf, "drm-driver:\taccelkm\n"));
	snprintf(want, sizeof(want), "drm-client-id:\t%llu\n",
		 (unsigned long long)id);
	ASSERT_TRUE(strstr(buf, want));
	ASSERT_TRUE(strstr(buf, "drm-engine-copy:\t"));
	ASSERT_TRUE(strstr(buf, "drm-total-host:\t64 KiB\n"));
}
