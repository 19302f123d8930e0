/* SPDX-License-Identifier: MIT */
/*
 * file_read.c - batched file reads: io_uring with a window of reads in
 * flight, pread() when io_uring is unavailable or disabled.
 *
 * Requests are split into chunks of at most CHUNK bytes so that one large
 * tensor or a model file still has several reads in flight (the kernel
 * serves cold reads from different chunks in parallel) and so that a
 * length always fits the 32-bit length of an SQE.
 */
#include "onnx/file_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef ACCEL_HAVE_URING
#include <liburing.h>
#endif

#define CHUNK (1u << 20)
#define DEPTH 32u
#define HUGE_PAGE ((size_t)2 << 20)
/* Buffers of at least this size are huge-page aligned and advised. */
#define HUGE_MIN ((size_t)4 << 20)

typedef struct fr_req {
	int fd;
	uint64_t offset;
	char *dst;
	size_t len;
	size_t done;
	size_t what; /* index into names */
} fr_req;

struct file_reader {
	bool uring;
#ifdef ACCEL_HAVE_URING
	struct io_uring ring;
#endif
	fr_req *reqs;
	size_t n_reqs, cap_reqs;
	char **names;
	size_t n_names, cap_names;
};

void *file_buffer_alloc(size_t bytes)
{
	size_t alloc = bytes ? (bytes + 63) / 64 * 64 : 64;
	bool huge = alloc >= HUGE_MIN;
	void *p;

	if (alloc < bytes || posix_memalign(&p, huge ? HUGE_PAGE : 64, alloc))
		return NULL;
	/* Whole huge pages only: the tail keeps 4 KiB pages, nothing wasted.
	 * Advice, not a requirement: an error (THP off) changes nothing. */
	if (huge)
		madvise(p, alloc / HUGE_PAGE * HUGE_PAGE, MADV_HUGEPAGE);
	if (alloc > bytes)
		memset((char *)p + bytes, 0, alloc - bytes);
	return p;
}

static bool env_disables_uring(void)
{
	const char *e = getenv("ACCEL_NO_IO_URING");

	return e && *e && strcmp(e, "0");
}

accel_status file_reader_create(uint32_t flags, file_reader **out_reader)
{
	file_reader *r;

	if (!out_reader || (flags & ~FILE_READER_FORCE_PREAD))
		return status_invalid("file_reader_create: bad arguments");
	r = calloc(1, sizeof(*r));
	if (!r)
		return status_oom("a file reader");
#ifdef ACCEL_HAVE_URING
	/* Any failure (ENOSYS, EPERM under seccomp, ENOMEM) means pread(). */
	if (!(flags & FILE_READER_FORCE_PREAD) && !env_disables_uring())
		r->uring = io_uring_queue_init(DEPTH, &r->ring, 0) == 0;
#else
	(void)env_disables_uring;
#endif
	*out_reader = r;
	return NULL;
}

static void clear_queue(file_reader *r)
{
	for (size_t i = 0; i < r->n_names; i++)
		free(r->names[i]);
	r->n_names = 0;
	r->n_reqs = 0;
}

void file_reader_destroy(file_reader *r)
{
	if (!r)
		return;
	clear_queue(r);
#ifdef ACCEL_HAVE_URING
	if (r->uring)
		io_uring_queue_exit(&r->ring);
#endif
	free(r->reqs);
	free(r->names);
	free(r);
}

bool file_reader_uses_io_uring(const file_reader *r)
{
	return r && r->uring;
}

static bool grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return true;
	ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

accel_status file_reader_add(file_reader *r, int fd, uint64_t offset, void *dst,
			     size_t len, const char *what)
{
	size_t chunks = len ? (len + CHUNK - 1) / CHUNK : 0;
	char *name;

	if (!r || fd < 0 || (len && !dst))
		return status_invalid("file_reader_add: bad arguments");
	if (offset > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - offset)
		return status_error(ACCEL_IO_ERROR, "%s: offset %llu + %zu bytes is out of range",
				    what ? what : "read", (unsigned long long)offset, len);
	if (!chunks)
		return NULL;
	if (!grow((void **)&r->names, &r->cap_names, r->n_names + 1, sizeof(char *)) ||
	    !grow((void **)&r->reqs, &r->cap_reqs, r->n_reqs + chunks, sizeof(fr_req)))
		return status_oom("the read queue");
	name = strdup(what ? what : "read");
	if (!name)
		return status_oom("the read queue");
	r->names[r->n_names] = name;
	for (size_t c = 0; c < chunks; c++) {
		size_t at = c * (size_t)CHUNK;

		r->reqs[r->n_reqs++] = (fr_req){
			.fd = fd, .offset = offset + at, .dst = (char *)dst + at,
			.len = len - at < CHUNK ? len - at : CHUNK, .what = r->n_names,
		};
	}
	r->n_names++;
	return NULL;
}

/* A read that returned 0 before its last byte: the file is shorter. */
static accel_status eof_error(const file_reader *r, const fr_req *q)
{
	return status_error(ACCEL_IO_ERROR,
			    "%s: unexpected end of file at offset %llu (%zu bytes short)",
			    r->names[q->what], (unsigned long long)(q->offset + q->done),
			    q->len - q->done);
}

static accel_status io_error(const file_reader *r, const fr_req *q, int err)
{
	return status_error(ACCEL_IO_ERROR, "%s: read at offset %llu failed: %s",
			    r->names[q->what], (unsigned long long)(q->offset + q->done),
			    strerror(err));
}

static accel_status flush_pread(file_reader *r)
{
	for (size_t i = 0; i < r->n_reqs; i++) {
		fr_req *q = &r->reqs[i];

		while (q->done < q->len) {
			ssize_t n = pread(q->fd, q->dst + q->done, q->len - q->done,
					  (off_t)(q->offset + q->done));

			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n < 0)
				return io_error(r, q, errno);
			if (n == 0)
				return eof_error(r, q);
			q->done += (size_t)n;
		}
	}
	return NULL;
}

#ifdef ACCEL_HAVE_URING
static void prep(file_reader *r, struct io_uring_sqe *sqe, fr_req *q)
{
	io_uring_prep_read(sqe, q->fd, q->dst + q->done, (unsigned)(q->len - q->done),
			   q->offset + q->done);
	io_uring_sqe_set_data(sqe, q);
}

/*
 * Keep up to DEPTH chunks in flight. A short read is resubmitted for the
 * rest (the kernel may split reads); a read of 0 bytes is the end of the
 * file. After the first error nothing new is submitted, but every read in
 * flight is reaped before returning: they write into the caller's buffers.
 */
static accel_status flush_uring(file_reader *r)
{
	size_t next = 0, queued = 0, inflight = 0;
	accel_status st = NULL;

	while (inflight || queued || (!st && next < r->n_reqs)) {
		struct io_uring_cqe *cqe;
		int ret;

		while (!st && next < r->n_reqs && inflight + queued < DEPTH) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

			if (!sqe)
				break;
			prep(r, sqe, &r->reqs[next++]);
			queued++;
		}
		if (queued && !st) {
			ret = io_uring_submit(&r->ring);
			if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
				/* Unsubmitted SQEs never reach the kernel. */
				st = status_error(ACCEL_IO_ERROR, "%s: io_uring_submit: %s",
						  r->names[r->reqs[0].what], strerror(-ret));
				queued = 0;
			} else if (ret > 0) {
				queued -= (size_t)ret < queued ? (size_t)ret : queued;
				inflight += (size_t)ret;
			}
		} else if (st) {
			queued = 0;
		}
		if (!inflight)
			continue;
		ret = io_uring_wait_cqe(&r->ring, &cqe);
		if (ret == -EINTR || ret == -EAGAIN)
			continue;
		if (ret < 0) /* cannot reap: the kernel may still write the buffers */
			abort();
		do {
			fr_req *q = io_uring_cqe_get_data(cqe);
			int res = cqe->res;

			io_uring_cqe_seen(&r->ring, cqe);
			inflight--;
			if (res == -EINTR || res == -EAGAIN) {
				res = 0;
			} else if (res < 0) {
				if (!st)
					st = io_error(r, q, -res);
				continue;
			} else if (res == 0) {
				if (!st)
					st = eof_error(r, q);
				continue;
			}
			q->done += (size_t)res;
			if (q->done < q->len && !st) {
				struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

				if (!sqe) { /* the SQ is full of queued reads */
					io_uring_submit(&r->ring);
					sqe = io_uring_get_sqe(&r->ring);
				}
				if (!sqe) {
					st = status_error(ACCEL_IO_ERROR, "%s: no io_uring submission slot",
							  r->names[q->what]);
					continue;
				}
				prep(r, sqe, q);
				queued++;
			}
		} while (io_uring_peek_cqe(&r->ring, &cqe) == 0);
	}
	return st;
}
#endif

accel_status file_reader_flush(file_reader *r)
{
	accel_status st;

	if (!r)
		return status_invalid("file_reader_flush: NULL reader");
#ifdef ACCEL_HAVE_URING
	if (r->uring) {
		st = flush_uring(r);
		/* After an error, SQEs may be prepared but never submitted:
		 * drop the ring (nothing is in flight) and use pread() on. */
		if (st) {
			io_uring_queue_exit(&r->ring);
			r->uring = false;
		}
	} else
#endif
		st = flush_pread(r);
	clear_queue(r);
	return st;
}

static accel_status open_error(const char *path, int err)
{
	return status_error(err == ENOENT || err == ENOTDIR ? ACCEL_NOT_FOUND :
			    err == EACCES ? ACCEL_PERMISSION_DENIED : ACCEL_IO_ERROR,
			    "cannot open '%s': %s", path, strerror(err));
}

/* Pipes and character devices have no size up front: read until EOF. */
static accel_status read_stream(int fd, const char *path, char **out, size_t *out_len)
{
	char *buf = NULL;
	size_t cap = 0, len = 0;

	for (;;) {
		ssize_t n;

		if (cap - len < 2) {
			size_t ncap = cap ? cap * 2 : 1 << 16;
			char *nb = realloc(buf, ncap);

			if (!nb) {
				free(buf);
				return status_error(ACCEL_OUT_OF_MEMORY,
						    "out of memory reading '%s'", path);
			}
			buf = nb;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			accel_status st = status_error(ACCEL_IO_ERROR, "error reading '%s': %s",
						       path, strerror(errno));
			free(buf);
			return st;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	*out = buf;
	*out_len = len;
	return NULL;
}

accel_status file_read_all(const char *path, uint32_t flags, void **out_data,
			   size_t *out_size)
{
	file_reader *r = NULL;
	struct stat sb;
	char *buf = NULL;
	size_t size = 0;
	accel_status st;
	int fd;

	if (!path || !out_data || !out_size)
		return status_invalid("file_read_all: NULL argument");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return open_error(path, errno);
	if (fstat(fd, &sb)) {
		st = status_error(ACCEL_IO_ERROR, "cannot stat '%s': %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(sb.st_mode)) {
		st = status_error(ACCEL_IO_ERROR, "cannot read '%s': it is a directory", path);
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		st = read_stream(fd, path, &buf, &size);
		goto out;
	}
	if ((uint64_t)sb.st_size > SIZE_MAX - 128) {
		st = status_error(ACCEL_OUT_OF_MEMORY, "'%s' is too large", path);
		goto out;
	}
	size = (size_t)sb.st_size;
	buf = file_buffer_alloc(size + 1); /* zero-terminated */
	if (!buf) {
		st = status_error(ACCEL_OUT_OF_MEMORY, "out of memory reading '%s' (%zu bytes)",
				  path, size);
		goto out;
	}
	st = file_reader_create(flags, &r);
	if (!st)
		st = file_reader_add(r, fd, 0, buf, size, path);
	if (!st)
		st = file_reader_flush(r);
	file_reader_destroy(r);
out:
	close(fd);
	if (st) {
		free(buf);
		return st;
	}
	*out_data = buf;
	*out_size = size;
	return NULL;
}
