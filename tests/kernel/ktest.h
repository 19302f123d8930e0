/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ktest.h - a small kselftest-style harness: TEST() registration, one
 * fork per test with a timeout, ASSERT_* that print expected and got,
 * SKIP(), and TAP 13 / KTAP output with kselftest's totals line.
 *
 * The kernel's tools/testing/selftests/kselftest_harness.h needs the kernel
 * source tree; this is the subset our tests use, with the same conventions.
 */
#ifndef KTEST_H
#define KTEST_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define KSFT_PASS 0
#define KSFT_FAIL 1
#define KSFT_SKIP 4

struct ktest {
	const char *name;
	void (*fn)(void);
	unsigned int timeout;
};

#define KTEST_MAX 256
static struct ktest ktests[KTEST_MAX];
static int ktest_count;
static char *ktest_reason;	/* shared page: why a child skipped */

static inline void ktest_register(const char *name, void (*fn)(void),
				  unsigned int timeout)
{
	if (ktest_count < KTEST_MAX)
		ktests[ktest_count++] = (struct ktest){ name, fn, timeout };
}

#define TEST_TIMEOUT(name, secs)					\
	static void name(void);						\
	__attribute__((constructor)) static void ktest_reg_##name(void)	\
	{								\
		ktest_register(#name, name, secs);			\
	}								\
	static void name(void)
#define TEST(name) TEST_TIMEOUT(name, 120)

/*
 * Fixtures, as in kselftest_harness.h: FIXTURE(f) { fields };
 * FIXTURE_SETUP(f) and FIXTURE_TEARDOWN(f) get `self`; TEST_F(f, name)
 * runs setup, the body, then teardown, in the test's own child process.
 */
#define FIXTURE(f) struct ktest_fixture_##f
#define FIXTURE_SETUP(f)						\
	static void ktest_setup_##f(struct ktest_fixture_##f *self)
#define FIXTURE_TEARDOWN(f)						\
	static void ktest_teardown_##f(struct ktest_fixture_##f *self)
#define TEST_F(f, name)							\
	static void ktest_body_##f##_##name(struct ktest_fixture_##f *self); \
	static void ktest_run_##f##_##name(void)			\
	{								\
		struct ktest_fixture_##f self;				\
		memset(&self, 0, sizeof(self));				\
		ktest_setup_##f(&self);					\
		ktest_body_##f##_##name(&self);				\
		ktest_teardown_##f(&self);				\
	}								\
	__attribute__((constructor)) static void ktest_reg_##f##_##name(void) \
	{								\
		ktest_register(#f "." #name, ktest_run_##f##_##name, 120); \
	}								\
	static void ktest_body_##f##_##name(struct ktest_fixture_##f *self)

#define ktest_fail(...)							\
	do {								\
		printf("# %s:%d: ", __FILE__, __LINE__);		\
		printf(__VA_ARGS__);					\
		printf("\n");						\
		fflush(stdout);						\
		_exit(KSFT_FAIL);					\
	} while (0)

#define ASSERT_EQ(exp, got)						\
	do {								\
		long long e_ = (long long)(exp), g_ = (long long)(got);	\
		if (e_ != g_)						\
			ktest_fail("%s == %s: expected %lld, got %lld",	\
				   #exp, #got, e_, g_);			\
	} while (0)
#define ASSERT_NE(a, b)							\
	do {								\
		long long a_ = (long long)(a), b_ = (long long)(b);	\
		if (a_ == b_)						\
			ktest_fail("%s != %s: both are %lld", #a, #b, a_); \
	} while (0)
#define ASSERT_GE(a, b)							\
	do {								\
		long long a_ = (long long)(a), b_ = (long long)(b);	\
		if (a_ < b_)						\
			ktest_fail("%s >= %s: %lld < %lld", #a, #b, a_, b_); \
	} while (0)
#define ASSERT_LE(a, b) ASSERT_GE(b, a)
#define ASSERT_TRUE(c)							\
	do {								\
		if (!(c))						\
			ktest_fail("expected %s", #c);			\
	} while (0)
/* An ioctl wrapper's result: 0 or -errno. */
#define ASSERT_OK(x) ASSERT_EQ(0, x)
#define ASSERT_ERR(err, x) ASSERT_EQ(-(err), x)

#define SKIP(...)							\
	do {								\
		snprintf(ktest_reason, 256, __VA_ARGS__);		\
		_exit(KSFT_SKIP);					\
	} while (0)

static int ktest_run_one(int i, int n)
{
	const struct ktest *t = &ktests[i];
	int status;
	pid_t pid;

	ktest_reason[0] = 0;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		alarm(t->timeout);
		t->fn();
		fflush(stdout);
		_exit(KSFT_PASS);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		printf("not ok %d %s # fork/wait failed\n", n, t->name);
		return KSFT_FAIL;
	}
	if (WIFSIGNALED(status)) {
		printf("# %s: killed by signal %d%s\n", t->name,
		       WTERMSIG(status),
		       WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
		printf("not ok %d %s\n", n, t->name);
		return KSFT_FAIL;
	}
	switch (WEXITSTATUS(status)) {
	case KSFT_PASS:
		printf("ok %d %s\n", n, t->name);
		return KSFT_PASS;
	case KSFT_SKIP:
		printf("ok %d %s # SKIP %s\n", n, t->name, ktest_reason);
		return KSFT_SKIP;
	}
	printf("not ok %d %s\n", n, t->name);
	return KSFT_FAIL;
}

/* Runs every test (or those whose name contains argv[1]). */
int main(int argc, char **argv)
{
	int i, pass = 0, fail = 0, skip = 0, planned = 0;

	(void)argv;
	ktest_reason = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ktest_reason == MAP_FAILED)
		return KSFT_FAIL;
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *filter = NULL;

#ifndef KTEST_NO_FILTER
	if (argc >= 2)
		filter = argv[1];
#endif
	for (i = 0; i < ktest_count; i++)
		planned += !filter || strstr(ktests[i].name, filter);
	printf("TAP version 13\n1..%d\n", planned);
	for (i = 0; i < ktest_count; i++) {
		if (filter && !strstr(ktests[i].name, filter))
			continue;
		switch (ktest_run_one(i, pass + fail + skip + 1)) {
		case KSFT_PASS: pass++; break;
		case KSFT_SKIP: skip++; break;
		default: fail++; break;
		}
	}
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       pass, fail, skip);
	return fail ? KSFT_FAIL : KSFT_PASS;
}

#endif /* KTEST_H */
