/* SPDX-License-Identifier: MIT */
/*
 * check.c - the device's error word: how index kernels report a bad index
 * from a tensor (Gather, the scatters, MaxUnpool, ReverseSequence, the
 * losses' targets...) instead of skipping it.
 *
 * The word is two uints in a small cl_mem per device: a code (the number
 * of the input holding the bad value, plus one; 0 while all is well) and
 * the lowest flat position in that input of a bad value (UINT_MAX while
 * all is well). A kernel that meets an out-of-range index sets the code
 * with atomic_cmpxchg and lowers the position with atomic_min (OpenCL 1.1
 * global atomics), then writes something defined (0, or nothing) and goes
 * on. An exec that passes the word holds the device's check_lock until
 * ocl_exec has read the word back after the launch: one 8-byte blocking
 * read per step that takes indices from a device tensor, nothing for other
 * ops; indices that are host constants (Gather, GatherElements,
 * ScatterElements) are checked on the host and cost no read.
 * A set word becomes an ACCEL_INVALID_ARGUMENT status that names the
 * input, the bad value (read back from the input at that position), its
 * position and the allowed range, and is reset to the idle state.
 */
#include "opencl/internal.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>

static const cl_uint idle_word[2] = { 0, UINT_MAX };

void ocl_check_init(ocl_device *dev)
{
	pthread_mutex_init(&dev->check_lock, NULL);
	dev->check_word = NULL;
}

void ocl_check_fini(ocl_device *dev)
{
	if (dev->check_word)
		clReleaseMemObject(dev->check_word);
	dev->check_word = NULL;
	pthread_mutex_destroy(&dev->check_lock);
}

static void drop_word(ocl_device *dev)
{
	clReleaseMemObject(dev->check_word);
	dev->check_word = NULL;
}

/* The word exists (made now if not); called with check_lock held. */
static accel_status word_ready(ocl_device *dev)
{
	cl_int err;

	if (!dev->check_word) {
		/* created on first use, outside the buffer allocator: it is
		 * not a tensor and not subject to OCL_FAULT_ALLOC */
		dev->check_word = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE,
						 sizeof(idle_word), NULL, &err);
		if (!dev->check_word)
			return ocl_error(err, "clCreateBuffer", "the error word of %s",
					 dev->name);
		err = clEnqueueWriteBuffer(dev->queue, dev->check_word, CL_TRUE, 0,
					   sizeof(idle_word), idle_word, 0, NULL, NULL);
		if (err != CL_SUCCESS) {
			drop_word(dev);
			return ocl_error(err, "clEnqueueWriteBuffer", "the error word of %s",
					 dev->name);
		}
	}
	return NULL;
}

accel_status ocl_check_word(ocl_ctx *c, ocl_bad_fn bad, cl_mem *out)
{
	ocl_device *dev = c->dev;
	accel_status st;

	if (c->check) {
		*out = c->check;
		return NULL;
	}
	pthread_mutex_lock(&dev->check_lock);
	st = word_ready(dev);
	if (st) {
		pthread_mutex_unlock(&dev->check_lock);
		return st;
	}
	c->check = dev->check_word;
	c->bad = bad;
	*out = c->check;
	return NULL;
}

accel_status ocl_check_word_range(ocl_ctx *c, int input, int64_t dim, ocl_bad_fn bad,
				  cl_mem *out)
{
	const accel_tensor *t = c->in[input];
	ocl_device *dev = c->dev;
	accel_status st;

	if (!c->on_host || !c->on_host[input] || !t->data)
		return ocl_check_word(c, bad, out);
	/* host values: checked here; the kernels will not touch the word,
	 * so it is passed without taking it and nothing is read back */
	for (int64_t i = 0, n = tensor_numel(t); i < n; i++) {
		int64_t v = tensor_get_i64(t, i);

		if (v < -dim || v >= dim)
			return status_annotate(bad(c, input, i, v), "%s", c->node->op_type);
	}
	pthread_mutex_lock(&dev->check_lock);
	st = word_ready(dev);
	*out = dev->check_word;
	pthread_mutex_unlock(&dev->check_lock);
	return st;
}

/* Element |pos| of integer input |i| (host constant or device buffer). */
static accel_status index_value(ocl_ctx *c, int i, int64_t pos, int64_t *out)
{
	const accel_tensor *t = c->in[i];
	size_t es = accel_dtype_size(t->dtype);
	union { int32_t i32; int64_t i64; } v = { 0 };
	cl_int err;

	if (pos < 0 || pos >= tensor_numel(t) || (es != 4 && es != 8))
		return status_error(ACCEL_INTERNAL, "error word: position %" PRId64
				    " of input %d (%s, %" PRId64 " elements)", pos, i,
				    accel_dtype_name(t->dtype), tensor_numel(t));
	if (c->on_host && c->on_host[i]) {
		*out = tensor_get_i64(t, pos);
		return NULL;
	}
	err = clEnqueueReadBuffer(c->dev->queue, (cl_mem)t->data, CL_TRUE,
				  (size_t)pos * es, es, &v, 0, NULL, NULL);
	if (err != CL_SUCCESS)
		return ocl_error(err, "clEnqueueReadBuffer", "index %" PRId64 " of input %d",
				 pos, i);
	*out = es == 8 ? v.i64 : v.i32;
	return NULL;
}

accel_status ocl_check_end(ocl_ctx *c, accel_status st)
{
	ocl_device *dev = c->dev;
	cl_uint w[2];
	cl_int err;
	int64_t v = 0;
	accel_status bad;

	if (!c->check)
		return st;
	c->check = NULL;
	/* in-order queue: the read waits for the kernels that set it */
	err = clEnqueueReadBuffer(dev->queue, dev->check_word, CL_TRUE, 0, sizeof(w), w,
				  0, NULL, NULL);
	if (err != CL_SUCCESS) {
		/* state unknown: back to idle (kernels may hold the buffer, so
		 * it is kept, not replaced) */
		clEnqueueWriteBuffer(dev->queue, dev->check_word, CL_TRUE, 0,
				     sizeof(idle_word), idle_word, 0, NULL, NULL);
		pthread_mutex_unlock(&dev->check_lock);
		return st ? st : ocl_error(err, "clEnqueueReadBuffer", "the error word");
	}
	if (!w[0]) {
		pthread_mutex_unlock(&dev->check_lock);
		return st;
	}
	err = clEnqueueWriteBuffer(dev->queue, dev->check_word, CL_TRUE, 0,
				   sizeof(idle_word), idle_word, 0, NULL, NULL);
	if (err != CL_SUCCESS && !st)
		st = ocl_error(err, "clEnqueueWriteBuffer", "resetting the error word");
	if (st || w[0] > (cl_uint)c->n_in || !c->in[w[0] - 1]) {
		pthread_mutex_unlock(&dev->check_lock);
		return st ? st : status_error(ACCEL_INTERNAL, "error word: code %u for %d inputs",
					      w[0], c->n_in);
	}
	bad = index_value(c, (int)w[0] - 1, w[1], &v);
	pthread_mutex_unlock(&dev->check_lock);
	if (bad)
		return status_annotate(bad, "%s: a bad index", c->node->op_type);
	bad = c->bad(c, (int)w[0] - 1, w[1], v);
	return status_annotate(bad, "%s", c->node->op_type);
}

void ocl_index_pos(const accel_tensor *t, int64_t pos, char *buf, size_t len)
{
	int64_t co[ACCEL_MAX_RANK];
	size_t o = 0;

	for (int d = t->rank - 1; d >= 0; d--) {
		co[d] = t->dims[d] ? pos % t->dims[d] : 0;
		pos = t->dims[d] ? pos / t->dims[d] : 0;
	}
	o += (size_t)snprintf(buf, len, "[");
	for (int d = 0; d < t->rank && o < len; d++)
		o += (size_t)snprintf(buf + o, len - o, "%s%" PRId64, d ? ", " : "", co[d]);
	if (o < len)
		snprintf(buf + o, len - o, "]");
}

accel_status ocl_bad_index(ocl_ctx *c, int input, const char *name, int64_t pos,
			   int64_t value, int64_t dim, bool negative)
{
	char at[160];

	ocl_index_pos(c->in[input], pos, at, sizeof(at));
	if (negative)
		return status_invalid("input '%s': index %" PRId64 " at %s is out of range for a dimension of size %" PRId64
				      " (allowed %" PRId64 "..%" PRId64 ")",
				      name, value, at, dim, -dim, dim - 1);
	return status_invalid("input '%s': index %" PRId64 " at %s is out of range for a dimension of size %" PRId64
			      " (allowed 0..%" PRId64 ")",
			      name, value, at, dim, dim - 1);
}
