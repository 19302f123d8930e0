/* SPDX-License-Identifier: MIT */
/*
 * file_read.h - reading model files and external tensor data straight into
 * the buffers they will live in, many reads in flight through io_uring
 * (liburing), with pread() as the fallback.
 *
 * A reader collects read requests (fd, offset, destination, length) and
 * performs them all in file_reader_flush(). Every request must be satisfied
 * in full: an end of file before the last byte is an error, never a silent
 * truncation. io_uring is used unless ACCEL_NO_IO_URING=1 is set, the build
 * lacks liburing, or io_uring_queue_init() fails (seccomp, old kernels).
 */
#ifndef ACCEL_ONNX_FILE_READ_H
#define ACCEL_ONNX_FILE_READ_H

#include "core/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct file_reader file_reader;

#define FILE_READER_FORCE_PREAD 1u /* never try io_uring (tests, benchmarks) */

accel_status file_reader_create(uint32_t flags, file_reader **out_reader);
/* Waits for reads in flight (there are none outside flush), frees. */
void file_reader_destroy(file_reader *r);
/* True when the reader submits through io_uring. */
bool file_reader_uses_io_uring(const file_reader *r);

/*
 * Queue a read of |len| bytes at |offset| of |fd| into |dst|. Nothing is
 * read yet; |fd| and |dst| must stay valid until file_reader_flush()
 * returns. |what| (copied) names the data in error messages.
 */
accel_status file_reader_add(file_reader *r, int fd, uint64_t offset, void *dst,
			     size_t len, const char *what);
/*
 * Perform every queued read and wait for all of them; on an error the reads
 * already in flight are still waited for before it returns, so the caller
 * may free the destinations. The queue is empty afterwards either way.
 */
accel_status file_reader_flush(file_reader *r);

/*
 * Storage for data read from a file: 64-byte aligned, |bytes| rounded up to
 * 64 (at least 64) with the padding zeroed, freed with free(). Large
 * buffers ask for transparent huge pages: most of the cost of reading a
 * file from the page cache is faulting in fresh 4 KiB anonymous pages.
 */
void *file_buffer_alloc(size_t bytes);

/*
 * Read a whole file into malloc'd memory (64-byte aligned, padded with a
 * zero byte past *out_size); errors name the path and say whether the file
 * is missing, unreadable or a directory. Uses io_uring unless disabled.
 */
accel_status file_read_all(const char *path, uint32_t flags, void **out_data,
			   size_t *out_size);

#endif /* ACCEL_ONNX_FILE_READ_H */
