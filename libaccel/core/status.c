/* SPDX-License-Identifier: MIT */
/* status.c - the library's one error type: a code plus a formatted message. */
#include "core/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Returned when even the status itself cannot be allocated. */
static struct accel_status_s oom_status = {
	.code = ACCEL_OUT_OF_MEMORY,
	.message = "out of memory while reporting an error",
};

accel_status status_verror(accel_status_code code, const char *fmt, va_list ap)
{
	struct accel_status_s *st = malloc(sizeof(*st));
	char *msg = NULL;

	if (!st)
		return &oom_status;
	if (vasprintf(&msg, fmt, ap) < 0) {
		free(st);
		return &oom_status;
	}
	st->code = code;
	st->message = msg;
	return st;
}

accel_status status_error(accel_status_code code, const char *fmt, ...)
{
	va_list ap;
	accel_status st;

	va_start(ap, fmt);
	st = status_verror(code, fmt, ap);
	va_end(ap);
	return st;
}

accel_status status_annotate(accel_status status, const char *fmt, ...)
{
	char *prefix = NULL, *msg = NULL;
	va_list ap;

	if (!status || status == &oom_status)
		return status;
	va_start(ap, fmt);
	if (vasprintf(&prefix, fmt, ap) < 0)
		prefix = NULL;
	va_end(ap);
	if (!prefix)
		return status;
	if (asprintf(&msg, "%s: %s", prefix, status->message) >= 0) {
		free(status->message);
		status->message = msg;
	}
	free(prefix);
	return status;
}

ACCEL_API accel_status_code accel_status_code_of(accel_status status)
{
	return status ? status->code : ACCEL_OK;
}

ACCEL_API const char *accel_status_message(accel_status status)
{
	return status ? status->message : "OK";
}

ACCEL_API const char *accel_status_code_name(accel_status_code code)
{
	switch (code) {
	case ACCEL_OK: return "OK";
	case ACCEL_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
	case ACCEL_NOT_FOUND: return "NOT_FOUND";
	case ACCEL_UNSUPPORTED: return "UNSUPPORTED";
	case ACCEL_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
	case ACCEL_IO_ERROR: return "IO_ERROR";
	case ACCEL_INVALID_MODEL: return "INVALID_MODEL";
	case ACCEL_PERMISSION_DENIED: return "PERMISSION_DENIED";
	case ACCEL_INTERNAL: return "INTERNAL";
	case ACCEL_UNAVAILABLE: return "UNAVAILABLE";
	case ACCEL_DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
	}
	return "UNKNOWN";
}

ACCEL_API void accel_status_free(accel_status status)
{
	if (!status || status == &oom_status)
		return;
	free(status->message);
	free(status);
}
