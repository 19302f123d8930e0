// SPDX-License-Identifier: GPL-2.0
/*
 * test_bo.c - buffer objects: create, query, mmap, free, user-pointer
 * pinning, and their negative cases (reserved fields, flags, sizes,
 * handles that are 0, stale, freed or from another file, bad mmaps).
 */
#include <sys/resource.h>

#include "ktest.h"
#include "accel_test.h"

#define MB (1ull << 20)

TEST(bo_create_info_mmap_free)
{
	int fd = acc_open();
	struct accel_bo_info info = { 0 };
	uint64_t off;
	uint32_t h;
	uint8_t *p;
	size_t i;

	ASSERT_OK(bo_create(fd, 1 * MB, 0, &h, &off));
	ASSERT_NE(0, h);
	info.handle = h;
	ASSERT_OK(acc_ioctl(fd, ACCEL_IOCTL_BO_INFO, &info));
	ASSERT_EQ(1 * MB, info.size);
	ASSERT_EQ(off, info.mmap_offset);
	ASSERT_EQ(0, info.flags);
	p = mmap(NULL, MB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
	ASSERT_TRUE(p != MAP_FAILED);
	for (i = 0; i < MB; i += 4096)
		ASSERT_EQ(0, p[i]);	/* zeroed: no stale kernel data */
	memset(p, 0x5a, MB);
	ASSERT_EQ(MB, sysfs_read("pinned_bytes"));
	ASSERT_OK(bo_free(fd, h));
	/* the mapping keeps the pages alive after the handle is gone */
	ASSERT_EQ(0x5a, p[MB - 1]);
	ASSERT_EQ(MB, sysfs_read("pinned_bytes"));
	ASSERT_OK(munmap(p, MB));
	ASSERT_EQ(0, sysfs_read("pinned_bytes"));
}

TEST(bo_two_mappings_share_pages)
{
	int fd = acc_open();
	uint32_t h = bo_new(fd, 64 * 1024);
	uint32_t *a = bo_map(fd, h, 64 * 1024), *b = bo_map(fd, h, 4096);

	a[3] = 0xdeadbeef;
	ASSERT_EQ(0xdeadbeef, b[3]);
}

TEST(bo_hugepage_and_numa_flags)
{
	struct accel_bo_create c = { .size = 2 * MB,
		.flags = ACCEL_BO_HUGEPAGE | ACCEL_BO_NUMA, .numa_node = 0 };
	struct accel_bo_info info = { 0 };
	int fd = acc_open(), ret;
	char *p;

	ret = acc_ioctl(fd, ACCEL_IOCTL_BO_CREATE, &c);
	if (ret == -ENOMEM)
		SKIP("no free 2 MiB block");
	ASSERT_OK(ret);
	info.handle = c.handle;
	ASSERT_OK(acc_ioctl(fd, ACCEL_IOCTL_BO_INFO, &info));
	ASSERT_EQ(ACCEL_BO_HUGEPAGE | ACCEL_BO_NUMA, info.flags);
	p = bo_map(fd, c.handle, 2 * MB);
	p[2 * MB - 1] = 1;
}

TEST(bo_handles_are_per_file)
{
	int a = acc_open(), b = acc_open();
	uint32_t h = bo_new(a, 4096);
	struct accel_bo_info info = { .handle = h };

	ASSERT_ERR(ENOENT, acc_ioctl(b, ACCEL_IOCTL_BO_INFO, &info));
	ASSERT_ERR(ENOENT, bo_free(b, h));
	ASSERT_OK(bo_free(a, h));
}

TEST(bo_close_frees_everything)
{
	long long base = sysfs_read("pinned_bytes");
	int fd = acc_open(), i;

	for (i = 0; i < 16; i++)
		bo_new(fd, 64 * 1024);
	ASSERT_EQ(base + 16 * 64 * 1024, sysfs_read("pinned_bytes"));
	close(fd);
	ASSERT_EQ(base, sysfs_read("pinned_bytes"));
}

TEST(neg_bo_create_size_zero)
{
	ASSERT_ERR(EINVAL, bo_create(acc_open(), 0, 0, NULL, NULL));
}

TEST(neg_bo_create_size_unaligned)
{
	ASSERT_ERR(EINVAL, bo_create(acc_open(), 4097, 0, NULL, NULL));
}

TEST(neg_bo_create_size_huge)
{
	int fd = acc_open();

	ASSERT_ERR(EINVAL, bo_create(fd, 1ull << 62, 0, NULL, NULL));
	ASSERT_ERR(EINVAL, bo_create(fd, ~0ull & ~4095ull, 0, NULL, NULL));
}

TEST(neg_bo_create_unknown_flags)
{
	int fd = acc_open();

	ASSERT_ERR(EINVAL, bo_create(fd, 4096, 1u << 7, NULL, NULL));
	ASSERT_ERR(EINVAL, bo_create(fd, 4096, ~0u, NULL, NULL));
}

TEST(neg_bo_create_nonzero_reserved)
{
	struct accel_bo_create c = { .size = 4096, .pad = 1 };
	int fd = acc_open();

	ASSERT_ERR(EINVAL, acc_ioctl(fd, ACCEL_IOCTL_BO_CREATE, &c));
	c.pad = 0;
	c.handle = 7;	/* output fields must come in as zero too */
	ASSERT_ERR(EINVAL, acc_ioctl(fd, ACCEL_IOCTL_BO_CREATE, &c));
	c.handle = 0;
	c.numa_node = 1;	/* a node without ACCEL_BO_NUMA */
	ASSERT_ERR(EINVAL, acc_ioctl(fd, ACCEL_IOCTL_BO_CREATE, &c));
}

TEST(neg_bo_create_hugepage_unaligned)
{
	ASSERT_ERR(EINVAL, bo_create(acc_open(), MB, ACCEL_BO_HUGEPAGE,
				     NULL, NULL));
}

TEST(neg_bo_create_bad_numa_node)
{
	struct accel_bo_create c = { .size = 4096, .flags = ACCEL_BO_NUMA };
	int fd = acc_open();

	c.numa_node = -1;
	ASSERT_ERR(EINVAL, acc_ioctl(fd, ACCEL_IOCTL_BO_CREATE, &c));
	c.numa_node = 1000000;
	ASSERT_ERR(EINVAL, acc_ioctl(fd, ACCEL_IOCTL_BO_CREATE, &c));
}

TEST(neg_bo_handle_zero)
{
	struct accel_bo_info info = { 0 };
	int fd = acc_open();

	ASSERT_ERR(ENOENT, acc_ioctl(fd, ACCEL_IOCTL_BO_INFO, &info));
	ASSERT_ERR(ENOENT, bo_free(fd, 0));
}

TEST(neg_bo_double_free_and_stale_handle)
{
	int fd = acc_open();
	uint32_t h = bo_new(fd, 4096), h2;
	struct accel_bo_info info = { .handle = h };

	ASSERT_OK(bo_free(fd, h));
	ASSERT_ERR(ENOENT, bo_free(fd, h));
	ASSERT_ERR(ENOENT, acc_ioctl(fd, ACCEL_IOCTL_BO_INFO, &info));
	/* handles are not recycled at once: a stale one stays stale */
	h2 = bo_new(fd, 4096);
	ASSERT_NE(h, h2);
	ASSERT_ERR(ENOENT, acc_ioctl(fd, ACCEL_IOCTL_BO_INFO, &info));
}

TEST(neg_bo_free_nonzero_pad)
{
	int fd = acc_open();
	struct accel_handle_arg a = { .handle = bo_new(fd, 4096), .pad = 1 };

	ASSERT_ERR(EINVAL, acc_ioctl(fd, ACCEL_IOCTL_BO_FREE, &a));
}

TEST(neg_bo_info_nonzero_outputs)
{
	int fd = acc_open();
	struct accel_bo_info info = { .handle = bo_new(fd, 4096), .size = 1 };

	ASSERT_ERR(EINVAL, acc_ioctl(fd, ACCEL_IOCTL_BO_INFO, &info));
}

TEST(neg_mmap_beyond_bo)
{
	int fd = acc_open();
	uint64_t off;
	uint32_t h;

	ASSERT_OK(bo_create(fd, 8192, 0, &h, &off));
	ASSERT_TRUE(mmap(NULL, 3 * 4096, PROT_READ, MAP_SHARED, fd, off) ==
		    MAP_FAILED);
	ASSERT_EQ(EINVAL, errno);
	/* an offset inside the BO is not a cookie */
	ASSERT_TRUE(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, off + 4096) ==
		    MAP_FAILED);
}

TEST(neg_mmap_after_free)
{
	int fd = acc_open();
	uint64_t off;
	uint32_t h;

	ASSERT_OK(bo_create(fd, 8192, 0, &h, &off));
	ASSERT_OK(bo_free(fd, h));
	ASSERT_TRUE(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, off) ==
		    MAP_FAILED);
	ASSERT_EQ(EINVAL, errno);
}

TEST(neg_mmap_private_or_other_file)
{
	int fd = acc_open(), other = acc_open();
	uint64_t off;
	uint32_t h;

	ASSERT_OK(bo_create(fd, 8192, 0, &h, &off));
	ASSERT_TRUE(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, off) ==
		    MAP_FAILED);
	ASSERT_TRUE(mmap(NULL, 4096, PROT_READ, MAP_SHARED, other, off) ==
		    MAP_FAILED);
	ASSERT_TRUE(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 12345 * 4096) ==
		    MAP_FAILED);
}

TEST(neg_mremap_cannot_grow)
{
	int fd = acc_open();
	uint32_t h = bo_new(fd, 8192);
	void *p = bo_map(fd, h, 4096);

	ASSERT_TRUE(mremap(p, 4096, 8192, MREMAP_MAYMOVE) == MAP_FAILED);
}

/* ------------------------------------------------------------ userptr */

static int userptr(int fd, void *addr, uint64_t size, uint32_t flags,
		   uint32_t *h)
{
	struct accel_bo_userptr u = { .addr = (uintptr_t)addr, .size = size,
				      .flags = flags };
	int ret = acc_ioctl(fd, ACCEL_IOCTL_BO_USERPTR, &u);

	if (h)
		*h = u.handle;
	return ret;
}

TEST(userptr_pin_and_unpin)
{
	int fd = acc_open();
	long long base = sysfs_read("pinned_bytes");
	void *m = mmap(NULL, MB, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct accel_bo_info info = { 0 };
	uint32_t h;

	ASSERT_OK(userptr(fd, m, MB, 0, &h));
	info.handle = h;
	ASSERT_OK(acc_ioctl(fd, ACCEL_IOCTL_BO_INFO, &info));
	ASSERT_EQ(MB, info.size);
	ASSERT_EQ(ACCEL_BO_INFO_USERPTR, info.flags);
	ASSERT_EQ(0, info.mmap_offset);
	ASSERT_EQ(base + MB, sysfs_read("pinned_bytes"));
	ASSERT_OK(bo_free(fd, h));
	ASSERT_EQ(base, sysfs_read("pinned_bytes"));
}

TEST(userptr_readonly_mapping)
{
	int fd = acc_open();
	void *m = mmap(NULL, 65536, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	uint32_t h;

	ASSERT_ERR(EFAULT, userptr(fd, m, 65536, 0, &h));
	ASSERT_OK(userptr(fd, m, 65536, ACCEL_USERPTR_READONLY, &h));
}

TEST(neg_userptr_unaligned)
{
	int fd = acc_open();
	char *m = mmap(NULL, 65536, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_ERR(EINVAL, userptr(fd, m + 1, 4096, 0, NULL));
	ASSERT_ERR(EINVAL, userptr(fd, m, 4095, 0, NULL));
	ASSERT_ERR(EINVAL, userptr(fd, m, 0, 0, NULL));
}

TEST(neg_userptr_overflow_and_kernel_address)
{
	int fd = acc_open();

	ASSERT_ERR(EINVAL, userptr(fd, (void *)(~0ull & ~4095ull), 8192, 0,
				   NULL));
	ASSERT_ERR(EFAULT, userptr(fd, (void *)0xffff880000000000ull, 4096, 0,
				   NULL));
}

TEST(neg_userptr_unmapped_partial_pin_undone)
{
	int fd = acc_open();
	long long base = sysfs_read("pinned_bytes");
	char *m = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	/* a hole in the middle: the first pages pin, then it fails */
	ASSERT_OK(munmap(m + 8 * 4096, 4096));
	ASSERT_ERR(EFAULT, userptr(fd, m, 16 * 4096, 0, NULL));
	ASSERT_EQ(base, sysfs_read("pinned_bytes"));
}

TEST(neg_userptr_unknown_flags)
{
	int fd = acc_open();
	void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct accel_bo_userptr u = { .addr = (uintptr_t)m, .size = 4096,
				      .handle = 1 };

	ASSERT_ERR(EINVAL, userptr(fd, m, 4096, 1u << 9, NULL));
	ASSERT_ERR(EINVAL, acc_ioctl(fd, ACCEL_IOCTL_BO_USERPTR, &u));
}

TEST(neg_userptr_cannot_mmap)
{
	int fd = acc_open();
	void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t h;

	ASSERT_OK(userptr(fd, m, 4096, 0, &h));
	ASSERT_TRUE(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
			 (uint64_t)h << 32) == MAP_FAILED);
}

/* ------------------------------------------------------------ memlock */

/* Drops root (and so CAP_IPC_LOCK) in this forked test child. */
static void drop_privileges(rlim_t memlock)
{
	struct rlimit r = { memlock, memlock };

	if (setrlimit(RLIMIT_MEMLOCK, &r) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534))
		ktest_fail("drop privileges: %s", strerror(errno));
}

TEST(neg_memlock_exceeded)
{
	int fd = acc_open();	/* opened as root, used as nobody */
	long long base = sysfs_read("pinned_bytes");
	void *m = mmap(NULL, MB, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t h;

	drop_privileges(256 * 1024);
	ASSERT_OK(bo_create(fd, 128 * 1024, 0, &h, NULL));
	ASSERT_ERR(ENOMEM, bo_create(fd, 256 * 1024, 0, NULL, NULL));
	ASSERT_ERR(ENOMEM, userptr(fd, m, 256 * 1024, 0, NULL));
	ASSERT_OK(userptr(fd, m, 128 * 1024, 0, NULL));
	ASSERT_ERR(ENOMEM, bo_create(fd, 4096, 0, NULL, NULL));
	/* freeing uncharges, so the budget comes back */
	ASSERT_OK(bo_free(fd, h));
	ASSERT_OK(bo_create(fd, 128 * 1024, 0, NULL, NULL));
	close(fd);
	ASSERT_EQ(base, sysfs_read("pinned_bytes"));
}

TEST(cap_ipc_lock_is_exempt)
{
	struct rlimit r = { 0, 0 };
	int fd = acc_open();

	ASSERT_OK(setrlimit(RLIMIT_MEMLOCK, &r));
	ASSERT_OK(bo_create(fd, MB, 0, NULL, NULL));	/* root has the cap */
}

TEST(neg_module_caps_per_process_and_total)
{
	int fd = acc_open();
	uint32_t h;

	ASSERT_OK(param_write("max_pinned_per_process", MB));
	ASSERT_OK(bo_create(fd, MB / 2, 0, &h, NULL));
	ASSERT_ERR(ENOMEM, bo_create(fd, MB, 0, NULL, NULL));
	ASSERT_OK(param_write("max_pinned_per_process", 0));
	ASSERT_OK(param_write("max_pinned_total",
			      sysfs_read("pinned_bytes") + MB));
	ASSERT_OK(bo_create(fd, MB / 2, 0, NULL, NULL));
	ASSERT_ERR(ENOMEM, bo_create(fd, MB, 0, NULL, NULL));
	ASSERT_OK(param_write("max_pinned_total", 0));
	ASSERT_OK(bo_create(fd, MB, 0, NULL, NULL));
}
