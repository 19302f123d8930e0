/* SPDX-License-Identifier: MIT */
/*
 * devmem.c - the per-device cache of freed device buffers (devmem.h).
 *
 * Every buffer the cache hands out has a record, found by address in a
 * chained hash table while the buffer is live (the free path gets only the
 * address). A cached buffer's record sits on its class's free list (most
 * recently freed first: the warmest buffer is reused) and on one list of
 * all cached buffers in the order they were freed, whose oldest end is
 * evicted when a bound is exceeded. Device calls are made outside the lock.
 */
#include "backend/devmem.h"

#include <pthread.h>
#include <stdlib.h>

/* 256 B .. 4 KiB in powers of two: 5 classes; then 8 per power of two. */
#define DM_MIN_SHIFT 8
#define DM_POW2_CLASSES 5
#define DM_STEP_SHIFT 12 /* 1/8 steps above 2^12 */
#define DM_MAX_SHIFT 56	 /* no class above 2^57 bytes */
#define DM_N_CLASSES (DM_POW2_CLASSES + (DM_MAX_SHIFT - DM_STEP_SHIFT + 1) * 8)
#define DM_REACH 2 /* a request may take a buffer this many classes larger */

typedef struct dm_buf {
	void *mem;
	size_t size; /* bytes allocated on the device */
	int cls;     /* -1: too large to cache */
	struct dm_buf *hnext;	      /* hash chain, while live */
	struct dm_buf *cprev, *cnext; /* class free list, while cached */
	struct dm_buf *lprev, *lnext; /* all cached, oldest first */
} dm_buf;

struct devmem {
	const backend_ops *ops;
	void *impl;
	devmem_limits lim;
	pthread_mutex_t lock;
	dm_buf **buckets; /* live buffers by address */
	size_t n_buckets; /* a power of two */
	dm_buf *free_lists[DM_N_CLASSES];
	dm_buf *oldest, *newest;
	devmem_stats st;
};

static int class_index(size_t bytes)
{
	size_t s = bytes ? bytes - 1 : 0;
	int p;

	if (bytes <= (size_t)1 << DM_STEP_SHIFT) {
		int i = 0;

		while (((size_t)1 << (DM_MIN_SHIFT + i)) < bytes)
			i++;
		return i;
	}
	p = 63 - __builtin_clzll((unsigned long long)s); /* 2^p <= s < 2^(p+1) */
	if (p > DM_MAX_SHIFT)
		return -1;
	return DM_POW2_CLASSES + (p - DM_STEP_SHIFT) * 8 + (int)((s >> (p - 3)) - 8);
}

static size_t class_bytes(int idx)
{
	int p, m;

	if (idx < DM_POW2_CLASSES)
		return (size_t)1 << (DM_MIN_SHIFT + idx);
	p = DM_STEP_SHIFT + (idx - DM_POW2_CLASSES) / 8;
	m = 8 + (idx - DM_POW2_CLASSES) % 8;
	return (size_t)(m + 1) << (p - 3);
}

size_t devmem_class_size(size_t bytes)
{
	int idx = class_index(bytes);

	return idx < 0 ? 0 : class_bytes(idx);
}

static size_t hash_of(const devmem *m, const void *mem)
{
	uint64_t h = (uint64_t)(uintptr_t)mem * 0x9E3779B97F4A7C15ull;

	return (size_t)(h >> 32) & (m->n_buckets - 1);
}

/* Double the table when chains grow long; a failed resize only costs speed. */
static void live_grow(devmem *m)
{
	size_t old_n = m->n_buckets;
	dm_buf **old = m->buckets, **nb = calloc(old_n * 2, sizeof(*nb));

	if (!nb)
		return;
	m->buckets = nb;
	m->n_buckets = old_n * 2;
	for (size_t i = 0; i < old_n; i++)
		while (old[i]) {
			dm_buf *b = old[i];
			size_t h = hash_of(m, b->mem);

			old[i] = b->hnext;
			b->hnext = nb[h];
			nb[h] = b;
		}
	free(old);
}

static void live_insert(devmem *m, dm_buf *b)
{
	size_t h;

	if (++m->st.live_buffers > 2 * m->n_buckets)
		live_grow(m);
	h = hash_of(m, b->mem);
	b->hnext = m->buckets[h];
	m->buckets[h] = b;
}

static dm_buf *live_remove(devmem *m, void *mem)
{
	dm_buf **p = &m->buckets[hash_of(m, mem)];

	for (; *p; p = &(*p)->hnext)
		if ((*p)->mem == mem) {
			dm_buf *b = *p;

			*p = b->hnext;
			b->hnext = NULL;
			m->st.live_buffers--;
			return b;
		}
	return NULL;
}

static void cache_push(devmem *m, dm_buf *b)
{
	dm_buf **head = &m->free_lists[b->cls];

	b->cprev = NULL;
	b->cnext = *head;
	if (*head)
		(*head)->cprev = b;
	*head = b;
	b->lnext = NULL;
	b->lprev = m->newest;
	if (m->newest)
		m->newest->lnext = b;
	else
		m->oldest = b;
	m->newest = b;
	m->st.cached_bytes += b->size;
	m->st.cached_buffers++;
}

static void cache_unlink(devmem *m, dm_buf *b)
{
	if (b->cprev)
		b->cprev->cnext = b->cnext;
	else
		m->free_lists[b->cls] = b->cnext;
	if (b->cnext)
		b->cnext->cprev = b->cprev;
	if (b->lprev)
		b->lprev->lnext = b->lnext;
	else
		m->oldest = b->lnext;
	if (b->lnext)
		b->lnext->lprev = b->lprev;
	else
		m->newest = b->lprev;
	m->st.cached_bytes -= b->size;
	m->st.cached_buffers--;
}

/* Return a chain (through hnext) of records to the device, unlocked. */
static void release_chain(devmem *m, dm_buf *chain)
{
	while (chain) {
		dm_buf *b = chain;

		chain = b->hnext;
		m->ops->free(m->impl, b->mem);
		free(b);
	}
}

accel_status devmem_create(const backend_ops *ops, void *impl, const devmem_limits *limits,
			   devmem **out_cache)
{
	devmem *m;

	if (!ops || !ops->alloc || !ops->free || !out_cache)
		return status_invalid("devmem_create: NULL argument");
	m = calloc(1, sizeof(*m));
	if (m)
		m->buckets = calloc(64, sizeof(*m->buckets));
	if (!m || !m->buckets) {
		free(m);
		return status_oom("a device memory cache");
	}
	m->ops = ops;
	m->impl = impl;
	m->n_buckets = 64;
	m->lim = limits ? *limits
			: (devmem_limits){ .max_bytes = DEVMEM_DEFAULT_MAX_BYTES,
					   .max_buffers = DEVMEM_DEFAULT_MAX_BUFFERS };
	pthread_mutex_init(&m->lock, NULL);
	*out_cache = m;
	return NULL;
}

void devmem_trim(devmem *m)
{
	dm_buf *chain = NULL;

	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	while (m->oldest) {
		dm_buf *b = m->oldest;

		cache_unlink(m, b);
		b->hnext = chain;
		chain = b;
		m->st.device_frees++;
	}
	pthread_mutex_unlock(&m->lock);
	release_chain(m, chain);
}

void devmem_destroy(devmem *m)
{
	if (!m)
		return;
	devmem_trim(m);
	/* Records of buffers still live (a caller's bug): the memory is the
	 * caller's to free on the device, the records are ours. */
	for (size_t i = 0; i < m->n_buckets; i++)
		while (m->buckets[i]) {
			dm_buf *b = m->buckets[i];

			m->buckets[i] = b->hnext;
			free(b);
		}
	free(m->buckets);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* A cached buffer of |cls| or up to DM_REACH classes above, or NULL. */
static dm_buf *cache_take(devmem *m, int cls)
{
	for (int c = cls; c >= 0 && c <= cls + DM_REACH && c < DM_N_CLASSES; c++)
		if (m->free_lists[c]) {
			dm_buf *b = m->free_lists[c];

			cache_unlink(m, b);
			return b;
		}
	return NULL;
}

static bool cached_any(devmem *m)
{
	bool any;

	pthread_mutex_lock(&m->lock);
	any = m->oldest != NULL;
	pthread_mutex_unlock(&m->lock);
	return any;
}

accel_status devmem_alloc(devmem *m, size_t bytes, void **out_mem)
{
	int cls = class_index(bytes ? bytes : 1);
	dm_buf *b;
	accel_status st;

	if (!m || !out_mem)
		return status_invalid("devmem_alloc: NULL argument");
	if (cls >= 0 && class_bytes(cls) > m->lim.max_bytes)
		cls = -1; /* could never be cached: allocate it exactly */
	pthread_mutex_lock(&m->lock);
	b = cls >= 0 ? cache_take(m, cls) : NULL;
	if (b) {
		m->st.hits++;
		live_insert(m, b);
		pthread_mutex_unlock(&m->lock);
		*out_mem = b->mem;
		return NULL;
	}
	m->st.misses++;
	pthread_mutex_unlock(&m->lock);

	b = calloc(1, sizeof(*b));
	if (!b)
		return status_oom("a device buffer record");
	b->cls = cls;
	b->size = cls >= 0 ? class_bytes(cls) : (bytes ? bytes : 1);
	st = m->ops->alloc(m->impl, b->size, &b->mem);
	if (st && cached_any(m)) {
		/* Out of device memory, perhaps because of the cache. */
		accel_status_free(st);
		devmem_trim(m);
		st = m->ops->alloc(m->impl, b->size, &b->mem);
	}
	if (st) {
		free(b);
		return st;
	}
	pthread_mutex_lock(&m->lock);
	m->st.device_allocs++;
	live_insert(m, b);
	pthread_mutex_unlock(&m->lock);
	*out_mem = b->mem;
	return NULL;
}

void devmem_free(devmem *m, void *mem)
{
	dm_buf *b, *victims = NULL;

	if (!m || !mem)
		return;
	pthread_mutex_lock(&m->lock);
	b = live_remove(m, mem);
	if (!b) {
		/* Not from this cache: it is still device memory. */
		m->st.device_frees++;
		pthread_mutex_unlock(&m->lock);
		m->ops->free(m->impl, mem);
		return;
	}
	if (b->cls < 0 || b->size > m->lim.max_bytes || !m->lim.max_buffers) {
		victims = b;
		m->st.device_frees++;
	} else {
		cache_push(m, b);
		while (m->st.cached_bytes > m->lim.max_bytes ||
		       m->st.cached_buffers > m->lim.max_buffers) {
			dm_buf *o = m->oldest;

			cache_unlink(m, o);
			o->hnext = victims;
			victims = o;
			m->st.evictions++;
			m->st.device_frees++;
		}
	}
	pthread_mutex_unlock(&m->lock);
	release_chain(m, victims);
}

void devmem_get_stats(devmem *m, devmem_stats *out)
{
	if (!m || !out)
		return;
	pthread_mutex_lock(&m->lock);
	*out = m->st;
	pthread_mutex_unlock(&m->lock);
}
