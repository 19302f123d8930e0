/* SPDX-License-Identifier: MIT */
/*
 * status.h - creating and propagating accel_status values inside libaccel.
 *
 * A status is NULL on success. Errors are built with status_error() and get
 * context prepended as they travel up (node, then model), so the message a
 * caller sees reads "model 'm.onnx': node 'conv1' (Conv): input 'W': ...".
 */
#ifndef ACCEL_CORE_STATUS_H
#define ACCEL_CORE_STATUS_H

#include "accel/accel.h"

#include <stdarg.h>

struct accel_status_s {
	accel_status_code code;
	char *message;
};

accel_status status_error(accel_status_code code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
accel_status status_verror(accel_status_code code, const char *fmt,
			   va_list ap);
/* Prepend "<context>: " to the message of |status| (NULL passes through). */
accel_status status_annotate(accel_status status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define ACCEL_TRY(expr)                              \
	do {                                         \
		accel_status try_status_ = (expr);   \
		if (try_status_)                     \
			return try_status_;          \
	} while (0)

/* Shorthands for the common codes. */
#define status_invalid(...) status_error(ACCEL_INVALID_ARGUMENT, __VA_ARGS__)
#define status_unsupported(...) status_error(ACCEL_UNSUPPORTED, __VA_ARGS__)
#define status_bad_model(...) status_error(ACCEL_INVALID_MODEL, __VA_ARGS__)
#define status_oom(what) status_error(ACCEL_OUT_OF_MEMORY, "out of memory allocating %s", (what))

#endif /* ACCEL_CORE_STATUS_H */
