// SPDX-License-Identifier: GPL-2.0
/*
 * stress.c - randomized ioctl stress: N random calls (ioctls with random
 * but plausible arguments, random SQEs and ring indices, mmaps, dma-buf and
 * fence fds, reopened files) from two processes of two threads each (the
 * threads share one file and race each other's close()), then a check that
 * every pinned byte, BO and queue was given back. dmesg is checked by the
 * VM's init afterwards.  Usage: stress [calls] [seed]
 */
#include <pthread.h>
#include <stdbool.h>

#define KTEST_NO_FILTER
#include "ktest.h"
#include "accel_test.h"

static __thread uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;	/* xorshift64* */

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t pick(const uint64_t *v, int n)
{
	return v[rnd() % n];
}

/* Mostly plausible values, sometimes garbage. */
static uint64_t r_size(void)
{
	static const uint64_t v[] = { 4096, 8192, 65536, 4096 * 3, 0, 1,
				      4095, 1ull << 40, ~0ull, 2 << 20 };

	return pick(v, 10);
}

static uint64_t r_off(void)
{
	static const uint64_t v[] = { 0, 8, 100, 4096, 8191, 65535, 65536,
				      ~0ull, 1ull << 63, 4092 };

	return pick(v, 10);
}

#define NBOS 12
#define NFENCES 6
static __thread uint32_t live_bos[NBOS], live_fences[NFENCES];

/* Mostly a live handle, sometimes a small or a wild number. */
static uint32_t r_handle(void)
{
	switch (rnd() % 10) {
	case 0: return (uint32_t)rnd();
	case 1: case 2: return rnd() % 12;
	case 3: return live_fences[rnd() % NFENCES];
	}
	return live_bos[rnd() % NBOS];
}

/* Keeps at most NBOS BOs alive per process, so memory stays bounded. */
static void track(int fd, uint32_t *live, int n, uint32_t h, unsigned long free_cmd)
{
	int slot = rnd() % n;
	struct accel_handle_arg a = { .handle = live[slot] };

	if (live[slot])
		acc_ioctl(fd, free_cmd, &a);
	live[slot] = h;
}

static uint32_t r_flags(void)
{
	return rnd() % 4 ? 0 : (rnd() % 2 ? 1u << (rnd() % 32) : (uint32_t)rnd());
}

#define MAXQ 4
struct state {
	int fd;
	struct tq q[MAXQ];
	int nq;
	int fds[32];	/* exported dma-buf / fence fds */
	int nfds;
	char *arena;	/* user memory for userptr */
};

static void st_open(struct state *s)
{
	s->fd = acc_open();
	s->nq = 0;
}

static void st_close(struct state *s)
{
	int i;

	for (i = 0; i < s->nq; i++) {
		munmap(s->q[i].sq, s->q[i].p.sq_ring_size);
		munmap(s->q[i].cq, s->q[i].p.cq_ring_size);
		munmap(s->q[i].sqes, s->q[i].p.sqes_size);
	}
	s->nq = 0;
	close(s->fd);
}

static void keep_fd(struct state *s, int fd)
{
	if (fd < 0)
		return;
	if (s->nfds == 32) {
		close(s->fds[0]);
		memmove(s->fds, s->fds + 1, 31 * sizeof(int));
		s->nfds--;
	}
	s->fds[s->nfds++] = fd;
}

static void random_sqe(struct accel_sqe *e)
{
	memset(e, 0, sizeof(*e));
	e->opcode = rnd() % 16 ? rnd() % ACCEL_OP_LAST : (uint8_t)rnd();
	e->user_data = rnd();
	e->src_handle = r_handle();
	e->dst_handle = r_handle();
	e->src_offset = r_off();
	e->dst_offset = r_off();
	e->len = r_size();
	e->value = rnd() % 4 ? rnd() % 300 : rnd();
	e->fence_handle = r_handle();
	if (rnd() % 8 == 0)
		e->flags = rnd();
	if (rnd() % 16 == 0)
		e->reserved = rnd();
	/* keep operands the opcode does not use at zero, mostly */
	if (rnd() % 4) {
		switch (e->opcode) {
		case ACCEL_OP_NOP:
			e->src_handle = e->dst_handle = e->fence_handle = 0;
			e->src_offset = e->dst_offset = e->len = e->value = 0;
			break;
		case ACCEL_OP_FENCE_SIGNAL:
		case ACCEL_OP_FENCE_WAIT:
			e->src_handle = e->dst_handle = 0;
			e->src_offset = e->dst_offset = e->len = 0;
			break;
		default:
			e->fence_handle = 0;
		}
	}
}

static void do_queue_op(struct state *s)
{
	struct tq *q;
	struct accel_cqe cqe;
	int i, n;

	if (!s->nq || (s->nq < MAXQ && rnd() % 8 == 0)) {
		uint32_t entries = rnd() % 8 ? 1u << (rnd() % 6) : rnd() % 100;

		if (tq_create_flags(s->fd, &s->q[s->nq], entries,
				    rnd() % 8 ? 0 : ACCEL_QUEUE_CLAMP, 0) == 0)
			s->nq++;
		return;
	}
	q = &s->q[rnd() % s->nq];
	switch (rnd() % 6) {
	case 0:		/* garbage ring indices */
		q->sq_local_tail += rnd() % 3 ? 0 : (uint32_t)rnd();
		*q->cq_head = rnd() % 2 ? *q->cq_head : (uint32_t)rnd();
		break;
	default:
		n = rnd() % (q->p.sq_entries + 1);
		for (i = 0; i < n; i++) {
			struct accel_sqe *e = tq_get_sqe(q);

			if (!e)
				break;
			random_sqe(e);
		}
	}
	tq_enter(q, rnd() % 64, rnd() % 3, rnd() % 2 ? now_ns() + 1000000 : 1,
		 NULL);
	while (rnd() % 8 && tq_pop(q, &cqe))
		;
	if (rnd() % 64 == 0) {
		struct accel_handle_arg a = { .handle = q->p.queue_id };

		munmap(q->sq, q->p.sq_ring_size);
		munmap(q->cq, q->p.cq_ring_size);
		munmap(q->sqes, q->p.sqes_size);
		acc_ioctl(s->fd, ACCEL_IOCTL_QUEUE_DESTROY, &a);
		*q = s->q[--s->nq];
	}
}

static void do_call(struct state *s)
{
	union {
		struct accel_get_param p;
		struct accel_bo_create c;
		struct accel_bo_userptr u;
		struct accel_bo_info i;
		struct accel_handle_arg h;
		struct accel_fd_arg f;
		struct accel_fence_create fc;
		struct accel_fence_op fo;
		char raw[256];
	} a;
	int op = rnd() % 16;

	memset(&a, 0, sizeof(a));
	if (rnd() % 32 == 0)	/* garbage in every field */
		for (unsigned int i = 0; i < sizeof(a.raw); i++)
			a.raw[i] = rnd();
	switch (op) {
	case 0:
		a.p.param = rnd() % 14;
		acc_ioctl(s->fd, ACCEL_IOCTL_GET_PARAM, &a);
		break;
	case 1: case 2:
		a.c.size = r_size();
		a.c.flags = r_flags() & (rnd() % 4 ? 0 : ~0u);
		if (acc_ioctl(s->fd, ACCEL_IOCTL_BO_CREATE, &a))
			break;
		track(s->fd, live_bos, NBOS, a.c.handle, ACCEL_IOCTL_BO_FREE);
		if (rnd() % 2) {
			void *p = mmap(NULL, a.c.size, PROT_READ | PROT_WRITE,
				       MAP_SHARED, s->fd, a.c.mmap_offset);

			if (p != MAP_FAILED) {
				memset(p, 1, 64);
				munmap(p, a.c.size);
			}
		}
		break;
	case 3:
		a.u.addr = (uintptr_t)s->arena + (rnd() % 4 ? (rnd() % 32) * 4096 :
						  rnd() % 100000);
		a.u.size = rnd() % 4 ? (1 + rnd() % 16) * 4096 : r_size();
		a.u.flags = r_flags() & 1;
		if (acc_ioctl(s->fd, ACCEL_IOCTL_BO_USERPTR, &a) == 0)
			track(s->fd, live_bos, NBOS, a.u.handle,
			      ACCEL_IOCTL_BO_FREE);
		break;
	case 4:
		a.i.handle = r_handle();
		acc_ioctl(s->fd, ACCEL_IOCTL_BO_INFO, &a);
		break;
	case 5:
		a.h.handle = r_handle();
		acc_ioctl(s->fd, ACCEL_IOCTL_BO_FREE, &a);
		break;
	case 6:
		a.f.handle = r_handle();
		a.f.flags = rnd() % 4 ? O_RDWR | O_CLOEXEC : r_flags();
		if (acc_ioctl(s->fd, ACCEL_IOCTL_BO_EXPORT, &a) == 0)
			keep_fd(s, a.f.fd);
		break;
	case 7:
		a.f.fd = s->nfds && rnd() % 4 ? s->fds[rnd() % s->nfds] :
			(int)(rnd() % 40);
		if (acc_ioctl(s->fd, ACCEL_IOCTL_BO_IMPORT, &a) == 0)
			track(s->fd, live_bos, NBOS, a.f.handle,
			      ACCEL_IOCTL_BO_FREE);
		break;
	case 8:
		a.fc.value = rnd() % 4;
		if (acc_ioctl(s->fd, ACCEL_IOCTL_FENCE_CREATE, &a) == 0)
			track(s->fd, live_fences, NFENCES, a.fc.handle,
			      ACCEL_IOCTL_FENCE_DESTROY);
		break;
	case 9:
		a.h.handle = r_handle();
		acc_ioctl(s->fd, rnd() % 2 ? ACCEL_IOCTL_FENCE_DESTROY :
			  ACCEL_IOCTL_QUEUE_DESTROY, &a);
		break;
	case 10:
		a.fo.handle = r_handle();
		a.fo.point = rnd() % 300;
		acc_ioctl(s->fd, ACCEL_IOCTL_FENCE_SIGNAL, &a);
		break;
	case 11:
		a.fo.handle = r_handle();
		a.fo.point = rnd() % 300;
		a.fo.timeout_ns = rnd() % 2 ? 0 : now_ns() + 100000;
		acc_ioctl(s->fd, rnd() % 2 ? ACCEL_IOCTL_FENCE_WAIT :
			  ACCEL_IOCTL_FENCE_QUERY, &a);
		break;
	case 12:
		a.f.handle = r_handle();
		a.f.flags = rnd() % 2 ? O_CLOEXEC : r_flags();
		if (acc_ioctl(s->fd, ACCEL_IOCTL_FENCE_EXPORT, &a) == 0)
			keep_fd(s, a.f.fd);
		break;
	case 13:
		a.f.fd = s->nfds && rnd() % 4 ? s->fds[rnd() % s->nfds] :
			(int)(rnd() % 40);
		if (acc_ioctl(s->fd, ACCEL_IOCTL_FENCE_IMPORT, &a) == 0)
			track(s->fd, live_fences, NFENCES, a.f.handle,
			      ACCEL_IOCTL_FENCE_DESTROY);
		break;
	case 14:	/* random mmap offsets */
		{
			uint64_t off = rnd() % 2 ? (rnd() % 12) << 32 :
				(1ull << 62) | ((rnd() % 5) << 32) |
				((rnd() % 4) << 24);
			size_t len = (1 + rnd() % 8) * 4096;
			void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, s->fd,
				       off);

			if (p != MAP_FAILED)
				munmap(p, len);
		}
		break;
	case 15:
		if (rnd() % 200 == 0) {		/* start over: teardown path */
			st_close(s);
			st_open(s);
			memset(live_bos, 0, sizeof(live_bos));
			memset(live_fences, 0, sizeof(live_fences));
		} else {
			acc_ioctl(s->fd, _IOC(rnd() % 4, ACCEL_IOC_MAGIC,
					      rnd() % 64, rnd() % 200), &a);
		}
		break;
	}
}

struct runner {
	long calls;
	uint64_t seed;
	int fd;		/* -1: open our own */
};

static void *run(void *arg)
{
	struct runner *r = arg;
	struct state s = { 0 };
	long i;

	rng_state = r->seed | 1;
	s.arena = mmap(NULL, 64 * 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(s.arena, 0, 64 * 4096);
	if (r->fd < 0)
		st_open(&s);
	else
		s.fd = r->fd;	/* share the file (and its handles) */
	for (i = 0; i < r->calls; i++) {
		if (rnd() % 3 == 0)
			do_queue_op(&s);
		else
			do_call(&s);
	}
	st_close(&s);
	while (s.nfds)
		close(s.fds[--s.nfds]);
	return NULL;
}

/* Two threads on one file: ioctls race each other and close(). */
static void run_process(long calls, uint64_t seed)
{
	struct runner a = { calls / 2, seed, -1 }, b;
	pthread_t t;

	a.fd = acc_open();
	b = (struct runner){ calls - calls / 2, seed * 7919, a.fd };
	pthread_create(&t, NULL, run, &b);
	run(&a);
	pthread_join(t, NULL);
}

static long stress_calls = 100000;
static uint64_t stress_seed;

TEST_TIMEOUT(random_ioctls_two_processes, 400)
{
	int status[2], i;
	pid_t pid[2];

	printf("# %ld calls, seed %llu\n", stress_calls,
	       (unsigned long long)stress_seed);
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			run_process(stress_calls / 2, stress_seed + i);
			_exit(0);
		}
	}
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(pid[i], waitpid(pid[i], &status[i], 0));
		ASSERT_EQ(0, status[i]);
	}
}

TEST(no_leaks_after_stress)
{
	usleep(100000);
	ASSERT_EQ(0, sysfs_read("pinned_bytes"));
	ASSERT_EQ(0, sysfs_read("bos"));
	ASSERT_EQ(0, sysfs_read("queues"));
	ASSERT_EQ(0, sysfs_read("fences"));
	ASSERT_EQ(0, sysfs_read("clients"));
	printf("# submitted %lld completed %lld failed %lld\n",
	       sysfs_read("submitted"), sysfs_read("completed"),
	       sysfs_read("failed"));
}

__attribute__((constructor(200))) static void stress_args(void)
{
	FILE *f = fopen("/proc/self/cmdline", "r");
	char buf[256] = "";
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	char *arg = buf + strlen(buf) + 1;

	if (f)
		fclose(f);
	stress_seed = now_ns();
	if (arg < buf + n) {
		stress_calls = atol(arg);
		arg += strlen(arg) + 1;
		if (arg < buf + n)
			stress_seed = strtoull(arg, NULL, 0);
	}
}
