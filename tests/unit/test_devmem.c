/* SPDX-License-Identifier: MIT */
/*
 * test_devmem.c - the cache of freed device buffers (backend/devmem.h),
 * over loopback devices whose "device memory" is host memory and which
 * count what is allocated on them: size classes, reuse within a device
 * and never across devices, the bounds, many threads at once, the drain
 * when the context destroys the device, a whole session with the cache on
 * and off (ACCEL_NO_DEVMEM_CACHE=1), and OpenCL's non-blocking upload
 * holding its host tensor until finish.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "backend/devmem.h"
#include "core/runtime.h"
#include "cpu/kernel.h"
#include "model_builder.h"
#include "test_device.h"
#ifdef ACCEL_HAVE_OPENCL
#include "opencl/opencl.h"
#endif

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct loop_dev {
	atomic_int live;     /* buffers allocated and not freed */
	atomic_int allocs;   /* alloc calls that succeeded */
	int max_live;	     /* > 0: alloc fails beyond this many live buffers */
	int live_at_destroy; /* what destroy saw, -1 before */
} loop_dev;

static void loop_destroy(void *impl)
{
	loop_dev *d = impl;

	d->live_at_destroy = atomic_load(&d->live);
}

static bool loop_supports(void *impl, const ir_node *n, accel_tensor *const *in, int n_in)
{
	(void)impl, (void)in, (void)n_in;
	return !strcmp(n->op_type, "Relu") || !strcmp(n->op_type, "Add");
}

static accel_status loop_alloc(void *impl, size_t bytes, void **out)
{
	loop_dev *d = impl;

	if (d->max_live > 0 && atomic_load(&d->live) >= d->max_live)
		return status_error(ACCEL_OUT_OF_MEMORY, "loopback: device full");
	*out = malloc(bytes);
	if (!*out)
		return status_oom("loopback memory");
	atomic_fetch_add(&d->live, 1);
	atomic_fetch_add(&d->allocs, 1);
	return NULL;
}

static void loop_free(void *impl, void *mem)
{
	atomic_fetch_sub(&((loop_dev *)impl)->live, 1);
	free(mem);
}

static accel_status loop_upload(void *impl, void *mem, const void *src, size_t n)
{
	(void)impl;
	memcpy(mem, src, n);
	return NULL;
}

static accel_status loop_download(void *impl, void *dst, void *mem, size_t n)
{
	(void)impl;
	memcpy(dst, mem, n);
	return NULL;
}

static accel_status loop_exec(void *impl, const ir_node *n, void *state,
			      accel_tensor *const *in, const bool *on_host, int n_in,
			      accel_tensor *const *out, int n_out)
{
	cpu_ctx ctx = { .node = n };

	(void)impl, (void)state, (void)on_host;
	return cpu_kernel_find(n->domain, n->op_type)->exec(&ctx, in, n_in, out, n_out);
}

static accel_status loop_finish(void *impl) { (void)impl; return NULL; }

static const backend_ops loop_ops = {
	.kind_name = "opencl",
	.kind = ACCEL_DEVICE_OPENCL,
	.destroy = loop_destroy,
	.supports = loop_supports,
	.alloc = loop_alloc,
	.free = loop_free,
	.upload = loop_upload,
	.download = loop_download,
	.exec = loop_exec,
	.finish = loop_finish,
};

static void loop_init(loop_dev *d)
{
	memset(d, 0, sizeof(*d));
	d->live_at_destroy = -1;
}

static devmem *cache_on(loop_dev *d, size_t max_bytes, size_t max_buffers)
{
	devmem_limits lim = { .max_bytes = max_bytes, .max_buffers = max_buffers };
	devmem *m = NULL;

	loop_init(d);
	assert_null(devmem_create(&loop_ops, d, &lim, &m));
	return m;
}

static void *take(devmem *m, size_t bytes)
{
	void *p = NULL;

	assert_null(devmem_alloc(m, bytes, &p));
	assert_non_null(p);
	return p;
}

static void classes_round_up_by_at_most_an_eighth(void **state)
{
	size_t prev = 0;

	(void)state;
	assert_int_equal(devmem_class_size(1), 256);
	assert_int_equal(devmem_class_size(256), 256);
	assert_int_equal(devmem_class_size(257), 512);
	assert_int_equal(devmem_class_size(4096), 4096);
	assert_int_equal(devmem_class_size(4097), 4608);
	assert_int_equal(devmem_class_size(8192), 8192);
	assert_int_equal(devmem_class_size(8193), 9216);
	assert_int_equal(devmem_class_size(3u << 20), 3u << 20);
	for (size_t s = 4097; s < ((size_t)1 << 40); s += s / 7 + 13) {
		size_t c = devmem_class_size(s);

		if (c < s || c - s > s / 8 || c < prev)
			fail_msg("class of %zu bytes: %zu (previous %zu)", s, c, prev);
		prev = c;
	}
	assert_int_equal(devmem_class_size(SIZE_MAX), 0);
}

static void a_freed_buffer_serves_its_size_class_again(void **state)
{
	loop_dev d;
	devmem *m = cache_on(&d, 1 << 20, 16);
	devmem_stats st;
	void *a, *b, *c;

	(void)state;
	a = take(m, 5000); /* class 5120 */
	devmem_free(m, a);
	assert_int_equal(atomic_load(&d.live), 1); /* kept, not freed */
	b = take(m, 4700); /* same class */
	assert_ptr_equal(a, b);
	c = take(m, 4700); /* a is taken: a new buffer */
	assert_ptr_not_equal(b, c);
	devmem_free(m, b);
	devmem_free(m, c);
	/* A smaller class never takes a larger buffer's place... */
	b = take(m, 300);
	assert_ptr_not_equal(b, a);
	assert_ptr_not_equal(b, c);
	devmem_free(m, b);
	/* ...but a request one class smaller may take a cached larger one. */
	b = take(m, 4500); /* class 4608 */
	assert_true(b == a || b == c);
	devmem_free(m, b);
	devmem_get_stats(m, &st);
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.device_allocs, 3);
	assert_int_equal(st.live_buffers, 0);
	assert_int_equal(st.cached_buffers, 3);
	assert_int_equal(atomic_load(&d.allocs), 3);
	devmem_destroy(m);
	assert_int_equal(atomic_load(&d.live), 0);
}

static void buffers_never_move_between_devices(void **state)
{
	loop_dev d0, d1;
	devmem *m0 = cache_on(&d0, 1 << 20, 16);
	devmem *m1;
	devmem_stats st;
	void *a, *b;

	(void)state;
	loop_init(&d1);
	assert_null(devmem_create(&loop_ops, &d1, NULL, &m1));
	a = take(m0, 1 << 16);
	devmem_free(m0, a);
	b = take(m1, 1 << 16);
	assert_ptr_not_equal(a, b);
	assert_int_equal(atomic_load(&d0.allocs), 1);
	assert_int_equal(atomic_load(&d1.allocs), 1);
	devmem_free(m1, b);
	devmem_get_stats(m1, &st);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.cached_buffers, 1);
	devmem_get_stats(m0, &st);
	assert_int_equal(st.cached_buffers, 1);
	/* each device's buffer is back on its own device */
	devmem_destroy(m0);
	assert_int_equal(atomic_load(&d0.live), 0);
	assert_int_equal(atomic_load(&d1.live), 1);
	devmem_destroy(m1);
	assert_int_equal(atomic_load(&d1.live), 0);
}

static void bounds_evict_the_buffers_freed_longest_ago(void **state)
{
	loop_dev d;
	devmem *m = cache_on(&d, 3 * 4096, 2);
	devmem_stats st;
	void *p[4], *q;

	(void)state;
	for (int i = 0; i < 4; i++)
		p[i] = take(m, 4096);
	for (int i = 0; i < 4; i++)
		devmem_free(m, p[i]);
	devmem_get_stats(m, &st);
	assert_int_equal(st.cached_buffers, 2); /* the count bound */
	assert_int_equal(st.evictions, 2);
	assert_int_equal(atomic_load(&d.live), 2);
	q = take(m, 4096); /* the newest, p[3] */
	assert_ptr_equal(q, p[3]);
	devmem_free(m, q);
	devmem_destroy(m);
	assert_int_equal(atomic_load(&d.live), 0);

	m = cache_on(&d, 10000, 100);
	for (int i = 0; i < 3; i++)
		p[i] = take(m, 4096);
	for (int i = 0; i < 3; i++)
		devmem_free(m, p[i]);
	devmem_get_stats(m, &st);
	assert_true(st.cached_bytes <= 10000); /* the byte bound */
	assert_int_equal(st.cached_buffers, 2);
	assert_int_equal(atomic_load(&d.live), 2);
	/* larger than the whole bound: straight back to the device */
	q = take(m, 20000);
	devmem_free(m, q);
	devmem_get_stats(m, &st);
	assert_int_equal(st.cached_buffers, 2);
	assert_int_equal(atomic_load(&d.live), 2);
	devmem_trim(m);
	assert_int_equal(atomic_load(&d.live), 0);
	devmem_destroy(m);
}

static void a_full_device_gets_the_cached_buffers_back(void **state)
{
	loop_dev d;
	devmem *m = cache_on(&d, 1 << 20, 16);
	void *a, *b, *c;

	(void)state;
	d.max_live = 2;
	a = take(m, 1000);
	b = take(m, 1000);
	devmem_free(m, a);
	devmem_free(m, b);
	/* another class: the device is full of cached buffers until the
	 * cache lets them go */
	c = take(m, 100000);
	assert_int_equal(atomic_load(&d.live), 1);
	devmem_free(m, c);
	devmem_destroy(m);
	assert_int_equal(atomic_load(&d.live), 0);
}

#define N_THREADS 6
#define N_ROUNDS 1500

typedef struct worker_arg {
	devmem *m;
	unsigned seed;
	int bad;
} worker_arg;

/* Each buffer is filled with a thread-and-round mark and checked before
 * it is freed: a buffer handed out twice at once shows. */
static void *hammer(void *p)
{
	worker_arg *w = p;
	unsigned char *held[4] = { NULL };
	size_t sizes[4] = { 0 };

	for (int r = 0; r < N_ROUNDS; r++) {
		int k = rand_r(&w->seed) % 4;
		unsigned char mark = (unsigned char)(w->seed & 0xff);

		if (held[k]) {
			for (size_t i = 0; i < sizes[k]; i++)
				if (held[k][i] != held[k][0])
					w->bad++;
			devmem_free(w->m, held[k]);
			held[k] = NULL;
		}
		sizes[k] = 1 + (size_t)(rand_r(&w->seed) % 20000);
		if (devmem_alloc(w->m, sizes[k], (void **)&held[k])) {
			w->bad++;
			held[k] = NULL;
			continue;
		}
		memset(held[k], mark, sizes[k]);
	}
	for (int k = 0; k < 4; k++)
		devmem_free(w->m, held[k]);
	return NULL;
}

static void threads_alloc_and_free_concurrently(void **state)
{
	loop_dev d;
	devmem *m = cache_on(&d, 256 << 10, 24);
	pthread_t th[N_THREADS];
	worker_arg w[N_THREADS];
	devmem_stats st;

	(void)state;
	for (int i = 0; i < N_THREADS; i++) {
		w[i] = (worker_arg){ .m = m, .seed = 1234u + (unsigned)i * 77u };
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
	}
	for (int i = 0; i < N_THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
	devmem_get_stats(m, &st);
	assert_int_equal(st.live_buffers, 0);
	assert_true(st.hits > 0);
	assert_int_equal(st.hits + st.misses, (uint64_t)N_THREADS * N_ROUNDS);
	assert_true(st.cached_buffers <= 24 && st.cached_bytes <= (256 << 10));
	assert_int_equal(atomic_load(&d.live), (int)st.cached_buffers);
	assert_int_equal(st.device_allocs - st.device_frees, st.cached_buffers);
	devmem_destroy(m);
	assert_int_equal(atomic_load(&d.live), 0);
}

/* ---- whole sessions on a loopback device in a context ---- */

static loop_dev ctx_dev;
static char loop_spec[32];

/* A context with the loopback device after the real ones, its cache set
 * up as discovery does (so ACCEL_NO_DEVMEM_CACHE applies). */
static accel_context *ctx_with_loopback(void)
{
	char name[64];
	accel_context *c = test_context_with_device(&loop_ops, &ctx_dev, "loopback", loop_spec,
						    sizeof(loop_spec), name, sizeof(name));

	loop_init(&ctx_dev);
	backend_device_attach_cache(&c->devices[c->n_devices - 1]->backend);
	return c;
}

#define N_RUNS 12
#define MAX_ROWS 300
#define RUN_FLOATS (MAX_ROWS * 3)

/* Runs of several batch sizes (so several size classes); the outputs go to
 * |out|, RUN_FLOATS per run. */
static void run_batches(accel_context *c, float *out)
{
	model_buf b = make_model(NULL, true, "Relu");
	accel_session_options o;
	accel_session *s;
	accel_model *m;

	assert_null(accel_model_load_memory(c, b.data, b.size, "devmem.onnx", NULL, 0, &m));
	accel_session_options_init(&o);
	o.devices = loop_spec;
	o.num_threads = 1;
	assert_null(accel_session_create(m, &o, &s));
	for (int r = 0; r < N_RUNS; r++) {
		int64_t dims[2] = { 1 + (r * 97) % MAX_ROWS, 3 };
		accel_tensor *x, *y = NULL;
		accel_named_tensor in = { .name = "x" };
		float *xd;

		assert_null(accel_tensor_create(ACCEL_DTYPE_F32, 2, dims, &x));
		xd = accel_tensor_data(x);
		for (int i = 0; i < dims[0] * 3; i++)
			xd[i] = (float)((i * 7 + r) % 11) - 5.0f;
		in.tensor = x;
		assert_null(accel_session_run(s, &in, 1, &y, 1, 0));
		assert_int_equal(accel_tensor_numel(y), dims[0] * 3);
		memset(out + r * RUN_FLOATS, 0, RUN_FLOATS * sizeof(float));
		memcpy(out + r * RUN_FLOATS, accel_tensor_data(y),
		       (size_t)dims[0] * 3 * sizeof(float));
		accel_tensor_release(x);
		accel_tensor_release(y);
	}
	accel_session_release(s);
	accel_model_release(m);
	free(b.data);
}

static void the_context_drains_the_cache_before_destroying_the_device(void **state)
{
	accel_context *c = ctx_with_loopback();
	static float out[N_RUNS * RUN_FLOATS];

	(void)state;
	assert_non_null(c->devices[c->n_devices - 1]->backend.devmem);
	run_batches(c, out);
	/* the session is gone, its buffers wait in the cache */
	assert_true(atomic_load(&ctx_dev.live) > 0);
	accel_context_release(c);
	assert_int_equal(ctx_dev.live_at_destroy, 0);
	assert_int_equal(atomic_load(&ctx_dev.live), 0);
}

static void sessions_compute_the_same_with_the_cache_on_and_off(void **state)
{
	static float with[N_RUNS * RUN_FLOATS], without[N_RUNS * RUN_FLOATS];
	accel_context *c;
	int allocs_off, allocs_on;

	(void)state;
	setenv("ACCEL_NO_DEVMEM_CACHE", "1", 1);
	c = ctx_with_loopback();
	unsetenv("ACCEL_NO_DEVMEM_CACHE");
	assert_null(c->devices[c->n_devices - 1]->backend.devmem);
	run_batches(c, without);
	allocs_off = atomic_load(&ctx_dev.allocs);
	assert_int_equal(atomic_load(&ctx_dev.live), 0);
	accel_context_release(c);

	c = ctx_with_loopback();
	assert_non_null(c->devices[c->n_devices - 1]->backend.devmem);
	run_batches(c, with);
	allocs_on = atomic_load(&ctx_dev.allocs);
	accel_context_release(c);
	assert_int_equal(ctx_dev.live_at_destroy, 0);

	assert_memory_equal(with, without, sizeof(with));
	/* input, Add output, Relu output per run without the cache */
	assert_int_equal(allocs_off, 3 * N_RUNS);
	assert_true(allocs_on < allocs_off / 2);
	print_message("  device allocations in %d runs: %d without the cache, %d with\n",
		      N_RUNS, allocs_off, allocs_on);
}

/* ---- OpenCL's non-blocking upload ---- */

static void opencl_async_upload_holds_its_host_tensor_until_finish(void **state)
{
#ifdef ACCEL_HAVE_OPENCL
	ocl_device **devs = NULL;
	size_t n = 0;
	accel_status st = ocl_discover(&devs, &n);
	int64_t dims[1] = { 1 << 16 };
	accel_tensor *h;
	float *back;
	void *mem = NULL;

	(void)state;
	accel_status_free(st);
	if (!n) {
		free(devs);
		skip();
	}
	assert_null(accel_tensor_create(ACCEL_DTYPE_F32, 1, dims, &h));
	for (int i = 0; i < dims[0]; i++)
		((float *)accel_tensor_data(h))[i] = (float)i * 0.5f;
	back = calloc((size_t)dims[0], sizeof(float));
	assert_null(ocl_alloc(devs[0], h->nbytes, &mem));
	assert_null(ocl_upload_async(devs[0], mem, h));
	assert_int_equal(atomic_load(&h->refs), 2); /* the device holds it */
	accel_tensor_release(h);		    /* the caller may let go */
	assert_null(ocl_finish(devs[0]));
	/* the device's reference went with the finish: h is freed (ASan
	 * would report a leak otherwise); the data arrived */
	assert_null(ocl_download(devs[0], back, mem, (size_t)dims[0] * sizeof(float)));
	for (int i = 0; i < dims[0]; i++)
		if (back[i] != (float)i * 0.5f)
			fail_msg("element %d: %g, expected %g", i, back[i], (float)i * 0.5f);
	/* one left pending at destroy is released there */
	assert_null(accel_tensor_create(ACCEL_DTYPE_F32, 1, dims, &h));
	assert_null(ocl_upload_async(devs[0], mem, h));
	accel_tensor_release(h);
	ocl_free(devs[0], mem);
	for (size_t i = 0; i < n; i++)
		ocl_device_destroy(devs[i]);
	free(devs);
	free(back);
#else
	(void)state;
	skip();
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(classes_round_up_by_at_most_an_eighth),
		cmocka_unit_test(a_freed_buffer_serves_its_size_class_again),
		cmocka_unit_test(buffers_never_move_between_devices),
		cmocka_unit_test(bounds_evict_the_buffers_freed_longest_ago),
		cmocka_unit_test(a_full_device_gets_the_cached_buffers_back),
		cmocka_unit_test(threads_alloc_and_free_concurrently),
		cmocka_unit_test(the_context_drains_the_cache_before_destroying_the_device),
		cmocka_unit_test(sessions_compute_the_same_with_the_cache_on_and_off),
		cmocka_unit_test(opencl_async_upload_holds_its_host_tensor_until_finish),
	};

	if (!getenv("POCL_DEVICES"))
		setenv("POCL_DEVICES", "pthread pthread", 0);
	return cmocka_run_group_tests_name("devmem", tests, NULL, NULL);
}
