/* SPDX-License-Identifier: MIT */
/*
 * hostmem.c - staging and pinned host memory from the accelkm module when
 * it is loaded, anonymous memory otherwise, and the copy engine over
 * either (hostmem.h says what both providers promise).
 *
 * One submission is a pair of SQEs: the work (COPY, or a caller's SQE),
 * then FENCE_SIGNAL of the engine fence to the work's ticket. Queues run in
 * order, so the fence reaching a ticket means the work ran and its CQE is
 * posted; a waiter sleeps on the fence (any number may), then reaps CQEs
 * until it has seen its ticket's and reports that CQE's result. CQEs are
 * also reaped opportunistically at each submission, so the CQ never fills
 * for want of a waiter.
 *
 * user_data of our SQEs: the ticket in the low 48 bits, the opcode in bits
 * 48..55, and UD_* kind bits above.
 *
 * Locks: submit_lock (the SQ side: one submitter at a time, as the rings
 * require) is taken before reap_lock (the CQ side), never after;
 * table_lock (user-space provider's handles) is innermost.
 */
#include "core/hostmem.h"
#include "sched/ring.h"
#include "sched/timeline.h"
#include "sched/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define QUEUE_ENTRIES 256u
#define REAP_BATCH 64u
#define WAIT_SLICE_NS 50000000ull	/* re-check a stuck fence this often */
#define SHORT_WAIT_NS 1000000ull	/* back-pressure polls */
#define CACHE_SLOTS 16			/* freed blocks kept for reuse... */
#define CACHE_BYTES (64u << 20)		/* ...holding at most this much */

#define UD_TICKET_MASK ((1ull << 48) - 1)
#define UD_OP_SHIFT 48
#define UD_FENCE (1ull << 63)	/* the FENCE_SIGNAL that ends a ticket */
#define UD_GATE (1ull << 62)	/* a gate's FENCE_WAIT */
#define UD_REFS (1ull << 61)	/* user-space provider: submit took block refs */

#ifndef MPOL_BIND
#define MPOL_BIND 2
#endif

struct fail {
	uint64_t ticket;
	int res;
	uint32_t flags;
	uint8_t opcode;
	bool fence;	/* the ticket's FENCE_SIGNAL failed, not its work */
};

struct hostmem {
	int refs;		/* atomic */
	int fd;			/* the module's file, or -1 */
	bool kmod;
	size_t page;
	uint64_t features;
	char provider[192];

	/* the user-space provider's handles: table[h - 1] */
	pthread_mutex_t table_lock;
	struct hostmem_block **table;
	uint32_t table_cap, table_hint;

	/* freed blocks no queued work uses, for the next alloc of that size:
	 * mapping (and the module's pinning) costs far more than zeroing */
	pthread_mutex_t cache_lock;
	struct hostmem_block *cache[CACHE_SLOTS];
	size_t n_cache, cache_bytes;

	/* the copy engine, started on first use */
	pthread_mutex_t engine_lock;
	bool engine_up;
	struct accel_ring *r;
	struct accel_ring kring;	/* kmod: the submitter's view */
	void *k_sq, *k_cq, *k_sqes;
	uint32_t queue_id;
	uint32_t fence_h, gate_h;	/* fence / timeline handles */
	accel_timeline_table *tls;	/* user-space provider */
	accel_timeline *fence_tl, *gate_tl;
	accel_worker *worker;

	pthread_mutex_t submit_lock;
	uint64_t issued;	/* last ticket handed out (atomic reads) */
	uint64_t gates;		/* last gate handed out */

	pthread_mutex_t reap_lock;
	uint64_t reaped;	/* highest ticket whose work CQE was reaped */
	struct fail *fails;
	size_t n_fails, cap_fails;
};

static const char *const op_names[] = {
	[ACCEL_OP_NOP] = "NOP",
	[ACCEL_OP_COPY] = "COPY",
	[ACCEL_OP_FILL] = "FILL",
	[ACCEL_OP_TIMESTAMP] = "TIMESTAMP",
	[ACCEL_OP_FENCE_SIGNAL] = "FENCE_SIGNAL",
	[ACCEL_OP_FENCE_WAIT] = "FENCE_WAIT",
};

static const char *op_name(unsigned op)
{
	return op < ACCEL_OP_LAST ? op_names[op] : "unknown op";
}

static accel_status_code errno_code(int err)
{
	switch (err) {
	case ENOMEM: return ACCEL_OUT_OF_MEMORY;
	case EINVAL: case E2BIG: case EOVERFLOW: return ACCEL_INVALID_ARGUMENT;
	case ENOENT: return ACCEL_NOT_FOUND;
	case EPERM: case EACCES: return ACCEL_PERMISSION_DENIED;
	case ETIME: case ETIMEDOUT: return ACCEL_DEADLINE_EXCEEDED;
	case EBUSY: case ENXIO: case ENODEV: return ACCEL_UNAVAILABLE;
	default: return ACCEL_IO_ERROR;
	}
}

/* "ACCEL_IOCTL_X: <what>: strerror" with a code that fits the errno. */
static accel_status kerr(const char *ioctl_name, int err, const char *what)
{
	return status_error(errno_code(err), "hostmem: %s (%s): %s", ioctl_name,
			    what, strerror(err));
}

/* ioctl() that retries EINTR; 0 or the errno. */
static int kioctl(hostmem *hm, unsigned long cmd, void *arg)
{
	while (ioctl(hm->fd, cmd, arg))
		if (errno != EINTR)
			return errno;
	return 0;
}

static uint64_t deadline_after(uint64_t timeout_ns)
{
	uint64_t now = accel_now_ns();

	if (timeout_ns == HOSTMEM_WAIT_FOREVER || timeout_ns > UINT64_MAX - now)
		return ACCEL_DEADLINE_NONE;
	return now + timeout_ns;
}

/* ---------------------------------------------------------- provider */

static bool kmod_probe(hostmem *hm, const char *path, char *why, size_t n)
{
	struct accel_get_param p = { .param = ACCEL_PARAM_API_VERSION };
	int err;

	hm->fd = open(path, O_RDWR | O_CLOEXEC);
	if (hm->fd < 0) {
		snprintf(why, n, "%s: %s", path, strerror(errno));
		return false;
	}
	err = kioctl(hm, ACCEL_IOCTL_GET_PARAM, &p);
	if (!err && (p.value >> 16) != ACCEL_API_VERSION_MAJOR) {
		snprintf(why, n, "%s speaks API %llu.%llu, we %d.x", path,
			 (unsigned long long)(p.value >> 16),
			 (unsigned long long)(p.value & 0xffff),
			 ACCEL_API_VERSION_MAJOR);
		goto no;
	}
	if (!err) {
		p = (struct accel_get_param){ .param = ACCEL_PARAM_FEATURES };
		err = kioctl(hm, ACCEL_IOCTL_GET_PARAM, &p);
		hm->features = p.value;
	}
	if (!err) {
		p = (struct accel_get_param){ .param = ACCEL_PARAM_PAGE_SIZE };
		err = kioctl(hm, ACCEL_IOCTL_GET_PARAM, &p);
		hm->page = (size_t)p.value;
	}
	if (err) {
		snprintf(why, n, "%s: ACCEL_IOCTL_GET_PARAM: %s", path, strerror(err));
		goto no;
	}
	if (!(hm->features & ACCEL_FEATURE_QUEUES) || !hm->page ||
	    (hm->page & (hm->page - 1))) {
		snprintf(why, n, "%s has no queues or an odd page size", path);
		goto no;
	}
	snprintf(hm->provider, sizeof(hm->provider), "accelkm (%s)", path);
	hm->kmod = true;
	return true;
no:
	close(hm->fd);
	hm->fd = -1;
	return false;
}

accel_status hostmem_open(uint32_t flags, hostmem **out)
{
	const char *path = getenv("ACCEL_KMOD_DEVICE");
	const char *off = getenv("ACCEL_NO_KMOD");
	char why[128];
	hostmem *hm;

	if (!out)
		return status_invalid("hostmem_open: out is NULL");
	*out = NULL;
	if (flags)
		return status_invalid("hostmem_open: unknown flags 0x%x", flags);
	hm = calloc(1, sizeof(*hm));
	if (!hm)
		return status_oom("the host memory provider");
	hm->refs = 1;
	hm->fd = -1;
	if (!path || !*path)
		path = ACCEL_KM_DEVICE;
	if (off && *off && strcmp(off, "0"))
		snprintf(why, sizeof(why), "ACCEL_NO_KMOD=%s", off);
	else
		kmod_probe(hm, path, why, sizeof(why));
	if (!hm->kmod) {
		long ps = sysconf(_SC_PAGESIZE);

		hm->page = ps > 0 ? (size_t)ps : 4096;
		snprintf(hm->provider, sizeof(hm->provider), "anonymous mmap (%s)",
			 why);
	}
	pthread_mutex_init(&hm->table_lock, NULL);
	pthread_mutex_init(&hm->cache_lock, NULL);
	pthread_mutex_init(&hm->engine_lock, NULL);
	pthread_mutex_init(&hm->submit_lock, NULL);
	pthread_mutex_init(&hm->reap_lock, NULL);
	*out = hm;
	return NULL;
}

const char *hostmem_provider(const hostmem *hm)
{
	return hm ? hm->provider : "none";
}

bool hostmem_is_pinned(const hostmem *hm)
{
	return hm && hm->kmod;
}

int hostmem_kmod_fd(const hostmem *hm)
{
	return hm && hm->kmod ? hm->fd : -1;
}

static void engine_stop(hostmem *hm);
static void cache_drain(hostmem *hm);

static void hm_get(hostmem *hm)
{
	__atomic_fetch_add(&hm->refs, 1, __ATOMIC_RELAXED);
}

/* Blocks left in the table at the end: freed ones whose copies were
 * canceled before they ran (they never dropped their references). */
static void table_sweep(hostmem *hm)
{
	for (uint32_t i = 0; i < hm->table_cap; i++) {
		struct hostmem_block *b = hm->table[i];

		if (!b)
			continue;
		munmap(b->ptr, b->map_size);
		free(b);
	}
	free(hm->table);
}

static void hm_put(hostmem *hm)
{
	if (__atomic_sub_fetch(&hm->refs, 1, __ATOMIC_ACQ_REL))
		return;
	cache_drain(hm);
	engine_stop(hm);
	table_sweep(hm);
	if (hm->fd >= 0)
		close(hm->fd);
	free(hm->fails);
	pthread_mutex_destroy(&hm->table_lock);
	pthread_mutex_destroy(&hm->cache_lock);
	pthread_mutex_destroy(&hm->engine_lock);
	pthread_mutex_destroy(&hm->submit_lock);
	pthread_mutex_destroy(&hm->reap_lock);
	free(hm);
}

void hostmem_close(hostmem *hm)
{
	if (hm)
		hm_put(hm);
}

/* ------------------------------------------------------------ blocks */

/* Bind [p, p + len) to |node|; EPERM/ENOSYS (seccomp, no NUMA) are not
 * errors: the block then reports HOSTMEM_NO_NODE. */
static accel_status bind_node(void *p, size_t len, int node, bool *bound)
{
	unsigned long mask[16] = { 0 };
	const unsigned bits = 8 * sizeof(mask);

	*bound = false;
	if ((unsigned)node >= bits)
		return status_invalid("hostmem_alloc: NUMA node %d (at most %u)",
				      node, bits - 1);
	mask[node / (8 * sizeof(long))] |= 1ul << (node % (8 * sizeof(long)));
	/* maxnode counts one past the last bit, as the kernel reads it */
	if (syscall(SYS_mbind, p, len, MPOL_BIND, mask, bits + 1, 0) == 0) {
		*bound = true;
		return NULL;
	}
	if (errno == EPERM || errno == ENOSYS)
		return NULL;
	return status_error(errno_code(errno), "hostmem_alloc: mbind to node %d: %s",
			    node, strerror(errno));
}

static accel_status table_add(hostmem *hm, struct hostmem_block *b)
{
	uint32_t i, n;

	pthread_mutex_lock(&hm->table_lock);
	for (n = 0; n < hm->table_cap; n++) {
		i = (hm->table_hint + n) % hm->table_cap;
		if (!hm->table[i])
			goto found;
	}
	i = hm->table_cap;
	n = hm->table_cap ? hm->table_cap * 2 : 64;
	if (n > (1u << 30)) {
		pthread_mutex_unlock(&hm->table_lock);
		return status_error(ACCEL_OUT_OF_MEMORY, "hostmem: handle table full");
	}
	struct hostmem_block **t = realloc(hm->table, n * sizeof(*t));

	if (!t) {
		pthread_mutex_unlock(&hm->table_lock);
		return status_oom("the host block table");
	}
	memset(t + hm->table_cap, 0, (n - hm->table_cap) * sizeof(*t));
	hm->table = t;
	hm->table_cap = n;
found:
	hm->table[i] = b;
	hm->table_hint = i + 1;
	b->handle = i + 1;
	pthread_mutex_unlock(&hm->table_lock);
	return NULL;
}

/* User-space provider: drop a reference; the last one unmaps. */
static void block_put(hostmem *hm, struct hostmem_block *b)
{
	if (__atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL))
		return;
	pthread_mutex_lock(&hm->table_lock);
	hm->table[b->handle - 1] = NULL;
	pthread_mutex_unlock(&hm->table_lock);
	munmap(b->ptr, b->map_size);
	free(b);
}

static accel_status kmod_alloc(hostmem *hm, struct hostmem_block *b, int node)
{
	struct accel_bo_create c = { .size = b->map_size };
	struct accel_handle_arg fa = { 0 };
	char what[64];
	int err;

	if (node >= 0 && (hm->features & ACCEL_FEATURE_NUMA)) {
		c.flags = ACCEL_BO_NUMA;
		c.numa_node = node;
	}
	err = kioctl(hm, ACCEL_IOCTL_BO_CREATE, &c);
	if (err) {
		snprintf(what, sizeof(what), "size %zu, numa_node %d", b->map_size,
			 c.flags ? node : -1);
		return kerr("ACCEL_IOCTL_BO_CREATE", err, what);
	}
	b->ptr = mmap(NULL, b->map_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      hm->fd, (off_t)c.mmap_offset);
	if (b->ptr == MAP_FAILED) {
		err = errno;
		fa.handle = c.handle;
		kioctl(hm, ACCEL_IOCTL_BO_FREE, &fa);
		return status_error(errno_code(err), "hostmem: mmap of BO %u (%zu bytes): %s",
				    c.handle, b->map_size, strerror(err));
	}
	b->handle = c.handle;
	b->numa_node = c.flags ? node : HOSTMEM_NO_NODE;
	b->pinned = true;
	return NULL;
}

static accel_status anon_alloc(hostmem *hm, struct hostmem_block *b, int node)
{
	accel_status st = NULL;
	bool bound = false;

	b->ptr = mmap(NULL, b->map_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->ptr == MAP_FAILED)
		return status_error(errno_code(errno), "hostmem_alloc: mmap of %zu bytes: %s",
				    b->map_size, strerror(errno));
	if (node >= 0)
		st = bind_node(b->ptr, b->map_size, node, &bound);
	if (!st)
		st = table_add(hm, b);
	if (st) {
		munmap(b->ptr, b->map_size);
		return st;
	}
	b->numa_node = bound ? node : HOSTMEM_NO_NODE;
	b->refs = 1;
	return NULL;
}

/* Give |b| back to the system (the provider outlives the call). */
static void block_release(hostmem *hm, struct hostmem_block *b)
{
	struct accel_handle_arg a = { 0 };

	if (hm->kmod) {
		/* queued copies hold the BO; our mapping goes now */
		munmap(b->ptr, b->map_size);
		a.handle = b->handle;
		kioctl(hm, ACCEL_IOCTL_BO_FREE, &a);
		free(b);
	} else {
		pthread_mutex_lock(&hm->table_lock);
		b->freed = true;
		pthread_mutex_unlock(&hm->table_lock);
		block_put(hm, b);
	}
}

/* Keep |b| for reuse when no queued work can still touch it. */
static bool cache_put(hostmem *hm, struct hostmem_block *b)
{
	bool kept = false;

	if (__atomic_load_n(&b->last_ticket, __ATOMIC_RELAXED) >
	    __atomic_load_n(&hm->reaped, __ATOMIC_ACQUIRE))
		return false;
	pthread_mutex_lock(&hm->cache_lock);
	if (hm->n_cache < CACHE_SLOTS &&
	    b->map_size <= CACHE_BYTES - hm->cache_bytes) {
		hm->cache[hm->n_cache++] = b;
		hm->cache_bytes += b->map_size;
		kept = true;
	}
	pthread_mutex_unlock(&hm->cache_lock);
	return kept;
}

/* A cached block of |map_size| bytes asked for on |node|, or NULL. */
static struct hostmem_block *cache_get(hostmem *hm, size_t map_size, int node)
{
	struct hostmem_block *b = NULL;

	pthread_mutex_lock(&hm->cache_lock);
	for (size_t i = hm->n_cache; i-- > 0;) {
		if (hm->cache[i]->map_size != map_size ||
		    hm->cache[i]->numa_asked != node)
			continue;
		b = hm->cache[i];
		hm->cache[i] = hm->cache[--hm->n_cache];
		hm->cache_bytes -= map_size;
		break;
	}
	pthread_mutex_unlock(&hm->cache_lock);
	return b;
}

static void cache_drain(hostmem *hm)
{
	struct hostmem_block *b;

	for (;;) {
		pthread_mutex_lock(&hm->cache_lock);
		b = hm->n_cache ? hm->cache[--hm->n_cache] : NULL;
		if (b)
			hm->cache_bytes -= b->map_size;
		pthread_mutex_unlock(&hm->cache_lock);
		if (!b)
			return;
		block_release(hm, b);
	}
}

void hostmem_trim(hostmem *hm)
{
	if (hm)
		cache_drain(hm);
}

void hostmem_free(hostmem *hm, struct hostmem_block *b)
{
	if (!b)
		return;
	hm = b->hm;
	if (!cache_put(hm, b))
		block_release(hm, b);
	hm_put(hm);
}

accel_status hostmem_alloc(hostmem *hm, size_t bytes, int numa_node,
			   struct hostmem_block **out)
{
	struct hostmem_block *b;
	size_t map_size;
	accel_status st;

	if (!hm || !out)
		return status_invalid("hostmem_alloc: NULL argument");
	*out = NULL;
	if (!bytes)
		return status_invalid("hostmem_alloc: bytes is 0");
	if (bytes > SIZE_MAX / 2)
		return status_invalid("hostmem_alloc: %zu bytes is too large", bytes);
	if (numa_node < HOSTMEM_NO_NODE)
		return status_invalid("hostmem_alloc: numa_node %d (want >= 0, or %d for none)",
				      numa_node, HOSTMEM_NO_NODE);
	map_size = (bytes + hm->page - 1) & ~(hm->page - 1);
	b = cache_get(hm, map_size, numa_node);
	if (b) {
		memset(b->ptr, 0, map_size);
		b->size = bytes;
		hm_get(hm);
		*out = b;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return status_oom("a host block");
	b->size = bytes;
	b->map_size = map_size;
	b->numa_asked = numa_node;
	b->hm = hm;
	st = hm->kmod ? kmod_alloc(hm, b, numa_node) : anon_alloc(hm, b, numa_node);
	if (st) {
		free(b);
		return st;
	}
	hm_get(hm);
	*out = b;
	return NULL;
}

/* ------------------------------------- user-space provider's engine */

/* Find handle |h| and take a reference; with |any| also a freed block
 * (the submitter holds references for it). */
static struct hostmem_block *lookup(hostmem *hm, uint32_t h, bool any)
{
	struct hostmem_block *b = NULL;

	pthread_mutex_lock(&hm->table_lock);
	if (h && h <= hm->table_cap)
		b = hm->table[h - 1];
	if (b && b->freed && !any)
		b = NULL;
	if (b)
		__atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&hm->table_lock);
	return b;
}

static bool range_ok(const struct hostmem_block *b, uint64_t off, uint64_t len)
{
	return off <= b->map_size && len <= b->map_size - off;
}

/* The checks and effects of kmod/exec.c, on anonymous memory. */
static int exec_op(const struct accel_sqe *s, struct hostmem_block *src,
		   struct hostmem_block *dst)
{
	switch (s->opcode) {
	case ACCEL_OP_NOP:
		return 0;
	case ACCEL_OP_COPY:
		if (!range_ok(src, s->src_offset, s->len) ||
		    !range_ok(dst, s->dst_offset, s->len))
			return -EINVAL;
		if (src == dst && s->src_offset < s->dst_offset + s->len &&
		    s->dst_offset < s->src_offset + s->len)
			return -EINVAL;
		memcpy((char *)dst->ptr + s->dst_offset,
		       (char *)src->ptr + s->src_offset, s->len);
		return 0;
	case ACCEL_OP_FILL:
		if (!range_ok(dst, s->dst_offset, s->len))
			return -EINVAL;
		memset((char *)dst->ptr + s->dst_offset, (int)s->value, s->len);
		return 0;
	case ACCEL_OP_TIMESTAMP:
		if (!range_ok(dst, s->dst_offset, 8))
			return -EINVAL;
		*(uint64_t *)((char *)dst->ptr + s->dst_offset) = accel_now_ns();
		return 0;
	}
	return -EINVAL;
}

/* Operand fields each op must leave zero (kmod's accelkm_cmd_prepare). */
static bool operands_ok(const struct accel_sqe *s)
{
	if (s->pad0 || s->pad1 || s->reserved || s->fence_handle)
		return false;
	switch (s->opcode) {
	case ACCEL_OP_NOP:
		return !s->src_handle && !s->dst_handle && !s->src_offset &&
		       !s->dst_offset && !s->len && !s->value;
	case ACCEL_OP_COPY:
		return s->len && !s->value;
	case ACCEL_OP_FILL:
		return s->len && s->value <= 0xff && !s->src_handle &&
		       !s->src_offset;
	case ACCEL_OP_TIMESTAMP:
		return !s->len && !s->value && !s->src_handle && !s->src_offset &&
		       !(s->dst_offset & 7);
	}
	return false;
}

/* The worker's handler (its thread only): fence ops never come here. */
static int anon_exec(void *ctx, const struct accel_sqe *s)
{
	bool held = s->user_data & UD_REFS;
	struct hostmem_block *src = NULL, *dst = NULL;
	hostmem *hm = ctx;
	int res = -ENOENT;

	if (held) {
		/* hostmem_copy_submit() holds both: they are in the table */
		src = lookup(hm, s->src_handle, true);
		dst = lookup(hm, s->dst_handle, true);
	}
	if (!operands_ok(s)) {
		res = -EINVAL;
	} else if (s->opcode == ACCEL_OP_NOP) {
		res = 0;
	} else {
		if (!held && s->opcode == ACCEL_OP_COPY)
			src = lookup(hm, s->src_handle, false);
		if (!held)
			dst = lookup(hm, s->dst_handle, false);
		if (dst && (src || s->opcode != ACCEL_OP_COPY))
			res = exec_op(s, src, dst);
	}
	for (int i = 0; i < (held ? 2 : 1); i++) {
		if (src)
			block_put(hm, src);
		if (dst)
			block_put(hm, dst);
	}
	return res;
}

static accel_status anon_engine_start(hostmem *hm)
{
	ACCEL_TRY(accel_ring_create(QUEUE_ENTRIES, 0, &hm->r));
	ACCEL_TRY(accel_timeline_table_create(&hm->tls));
	ACCEL_TRY(accel_timeline_create(0, &hm->fence_tl));
	ACCEL_TRY(accel_timeline_create(0, &hm->gate_tl));
	ACCEL_TRY(accel_timeline_table_add(hm->tls, hm->fence_tl, &hm->fence_h));
	ACCEL_TRY(accel_timeline_table_add(hm->tls, hm->gate_tl, &hm->gate_h));
	return accel_worker_create(hm->r, anon_exec, hm, hm->tls, NULL, 0,
				   &hm->worker);
}

/* ----------------------------------------------- kmod provider's engine */

/* ACCEL_IOCTL_QUEUE_ENTER for the ring helpers. Submits every SQE the
 * kernel has not taken yet (a earlier -EBUSY may have left some); -EBUSY
 * itself is no error: the SQEs stay queued and the submitter sees them
 * pending. */
static accel_status kmod_enter(struct accel_ring *r, uint32_t to_submit,
			       uint32_t min_complete, uint32_t flags,
			       uint64_t deadline_ns)
{
	hostmem *hm = r->ops_priv;
	struct accel_queue_enter e = {
		.queue_id = hm->queue_id,
		.to_submit = accel_ring_load_acquire(r->sq_tail) -
			     accel_ring_load_acquire(r->sq_head),
		.min_complete = min_complete,
		.flags = flags & ACCEL_ENTER_GETEVENTS,
	};
	char what[64];
	int err;

	(void)to_submit;
	if (e.flags) {	/* a pure wait: -EBUSY would skip it */
		e.to_submit = 0;
		/* ours: NONE = forever, past = poll; kernel: 0 = forever */
		e.timeout_ns = deadline_ns == ACCEL_DEADLINE_NONE ? 0 :
			       deadline_ns ? deadline_ns : 1;
	}
	err = kioctl(hm, ACCEL_IOCTL_QUEUE_ENTER, &e);
	if (!err || (err == EBUSY && !e.flags))
		return NULL;
	if (err == ETIME)
		return status_error(ACCEL_DEADLINE_EXCEEDED,
				    "hostmem: ACCEL_IOCTL_QUEUE_ENTER: %u completions not ready at the deadline",
				    min_complete);
	snprintf(what, sizeof(what), "queue %u, to_submit %u, min_complete %u",
		 e.queue_id, e.to_submit, e.min_complete);
	return kerr("ACCEL_IOCTL_QUEUE_ENTER", err, what);
}

/* The kernel takes SQEs at enter: retry that, then say whether room came. */
static accel_status kmod_wait_sq_space(struct accel_ring *r, uint32_t want,
				       uint64_t deadline_ns)
{
	ACCEL_TRY(kmod_enter(r, 0, 0, 0, 0));
	if (accel_ring_sq_space(r) >= want)
		return NULL;
	return status_error(ACCEL_DEADLINE_EXCEEDED, "hostmem: the module's SQ is full");
}

static const struct accel_ring_ops kmod_ring_ops = {
	.enter = kmod_enter,
	.wait_sq_space = kmod_wait_sq_space,
};

static accel_status kmod_fence_new(hostmem *hm, uint32_t *out)
{
	struct accel_fence_create c = { 0 };
	int err = kioctl(hm, ACCEL_IOCTL_FENCE_CREATE, &c);

	if (err)
		return kerr("ACCEL_IOCTL_FENCE_CREATE", err, "value 0");
	*out = c.handle;
	return NULL;
}

static accel_status kmod_engine_start(hostmem *hm)
{
	struct accel_queue_create p = { .entries = QUEUE_ENTRIES,
					.flags = ACCEL_QUEUE_CLAMP };
	int err = kioctl(hm, ACCEL_IOCTL_QUEUE_CREATE, &p);

	if (err)
		return kerr("ACCEL_IOCTL_QUEUE_CREATE", err, "256 entries, CLAMP");
	hm->queue_id = p.queue_id;
	hm->kring.params = p;	/* for engine_stop if a mapping fails */
	hm->k_sq = mmap(NULL, p.sq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			hm->fd, (off_t)p.sq_mmap_offset);
	hm->k_cq = mmap(NULL, p.cq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			hm->fd, (off_t)p.cq_mmap_offset);
	hm->k_sqes = mmap(NULL, p.sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			  hm->fd, (off_t)p.sqes_mmap_offset);
	if (hm->k_sq == MAP_FAILED || hm->k_cq == MAP_FAILED ||
	    hm->k_sqes == MAP_FAILED)
		return status_error(errno_code(errno), "hostmem: mmap of queue %u's rings: %s",
				    p.queue_id, strerror(errno));
	ACCEL_TRY(accel_ring_setup(&hm->kring, &p, hm->k_sq, hm->k_cq, hm->k_sqes,
				   &kmod_ring_ops, hm));
	hm->r = &hm->kring;
	ACCEL_TRY(kmod_fence_new(hm, &hm->fence_h));
	return kmod_fence_new(hm, &hm->gate_h);
}

static void kmod_unmap(void **p, uint64_t size)
{
	if (*p && *p != MAP_FAILED)
		munmap(*p, size);
	*p = NULL;
}

/* Tear down whatever engine_start built (also after a partial start). */
static void engine_stop(hostmem *hm)
{
	struct accel_handle_arg a = { 0 };

	if (hm->kmod) {
		kmod_unmap(&hm->k_sq, hm->kring.params.sq_ring_size);
		kmod_unmap(&hm->k_cq, hm->kring.params.cq_ring_size);
		kmod_unmap(&hm->k_sqes, hm->kring.params.sqes_size);
		if (hm->queue_id) {
			a.handle = hm->queue_id;
			kioctl(hm, ACCEL_IOCTL_QUEUE_DESTROY, &a);
		}
		if (hm->fence_h) {
			a.handle = hm->fence_h;
			kioctl(hm, ACCEL_IOCTL_FENCE_DESTROY, &a);
		}
		if (hm->gate_h) {
			a.handle = hm->gate_h;
			kioctl(hm, ACCEL_IOCTL_FENCE_DESTROY, &a);
		}
	} else {
		/* cancels what never ran; its block references are swept */
		accel_worker_destroy(hm->worker);
		accel_ring_destroy(hm->r);
		accel_timeline_table_destroy(hm->tls);
		accel_timeline_release(hm->fence_tl);
		accel_timeline_release(hm->gate_tl);
	}
	hm->worker = NULL;
	hm->r = NULL;
	hm->tls = NULL;
	hm->fence_tl = hm->gate_tl = NULL;
	hm->queue_id = hm->fence_h = hm->gate_h = 0;
}

static accel_status engine(hostmem *hm)
{
	accel_status st = NULL;

	if (__atomic_load_n(&hm->engine_up, __ATOMIC_ACQUIRE))
		return NULL;
	pthread_mutex_lock(&hm->engine_lock);
	if (!hm->engine_up) {
		st = hm->kmod ? kmod_engine_start(hm) : anon_engine_start(hm);
		if (st)
			engine_stop(hm);
		__atomic_store_n(&hm->engine_up, !st, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&hm->engine_lock);
	return status_annotate(st, "hostmem: starting the copy engine on %s",
			       hm->provider);
}

/* ------------------------------------------------------------- reaping */

static void note_fail(hostmem *hm, uint64_t ud, const struct accel_cqe *c)
{
	struct fail *f;

	if (hm->n_fails == hm->cap_fails) {
		size_t cap = hm->cap_fails ? hm->cap_fails * 2 : 16;

		f = realloc(hm->fails, cap * sizeof(*f));
		if (!f)
			return;	/* the waiter then sees success: rare enough */
		hm->fails = f;
		hm->cap_fails = cap;
	}
	f = &hm->fails[hm->n_fails++];
	f->ticket = ud & UD_TICKET_MASK;
	f->res = c->res;
	f->flags = c->flags;
	f->opcode = (uint8_t)(ud >> UD_OP_SHIFT);
	f->fence = ud & UD_FENCE;
}

/* Reap every CQE that is there (reap_lock held). */
static void reap_locked(hostmem *hm)
{
	struct accel_cqe c[REAP_BATCH];
	uint32_t n, i;

	while ((n = accel_ring_reap(hm->r, c, REAP_BATCH))) {
		for (i = 0; i < n; i++) {
			uint64_t ud = c[i].user_data;

			if (ud & UD_GATE)
				continue;	/* canceled only at teardown */
			if (c[i].res < 0)
				note_fail(hm, ud, &c[i]);
			if (!(ud & UD_FENCE))
				__atomic_store_n(&hm->reaped, ud & UD_TICKET_MASK,
						 __ATOMIC_RELEASE);
		}
	}
}

static void reap_try(hostmem *hm)
{
	if (pthread_mutex_trylock(&hm->reap_lock))
		return;
	reap_locked(hm);
	pthread_mutex_unlock(&hm->reap_lock);
}

/* Reap, waiting until |deadline_ns| for at least one CQE if none is there. */
static accel_status reap_wait(hostmem *hm, uint64_t deadline_ns)
{
	accel_status st;

	pthread_mutex_lock(&hm->reap_lock);
	st = accel_ring_wait_cqes(hm->r, 1, deadline_ns);
	reap_locked(hm);
	pthread_mutex_unlock(&hm->reap_lock);
	return st;
}

/* Take the failure recorded for |ticket| (reap_lock held); NULL if none. */
static accel_status take_fail(hostmem *hm, uint64_t ticket, bool fence_only)
{
	for (size_t i = 0; i < hm->n_fails; i++) {
		struct fail f = hm->fails[i];

		if (f.ticket != ticket || (fence_only && !f.fence))
			continue;
		hm->fails[i] = hm->fails[--hm->n_fails];
		return status_error(f.res == -ENOENT ? ACCEL_NOT_FOUND :
				    f.res == -ECANCELED ? ACCEL_UNAVAILABLE :
				    ACCEL_INVALID_ARGUMENT,
				    "hostmem: %s ring op %s of ticket %llu failed: %s%s%s",
				    hm->kmod ? "accelkm" : "user-space",
				    op_name(f.fence ? ACCEL_OP_FENCE_SIGNAL : f.opcode),
				    (unsigned long long)ticket, strerror(-f.res),
				    f.flags & ACCEL_CQE_F_DROPPED ? " (rejected at submission)" : "",
				    f.flags & ACCEL_CQE_F_CANCELED ? " (canceled)" : "");
	}
	return NULL;
}

/* ----------------------------------------------------------- submitting */

/* Kernel provider: SQEs published but not yet taken (after -EBUSY). */
static uint32_t sq_untaken(hostmem *hm)
{
	if (!hm->kmod)
		return 0;
	return accel_ring_load_acquire(hm->r->sq_tail) -
	       accel_ring_load_acquire(hm->r->sq_head);
}

/* Put |n| SQEs on the queue (submit_lock held), reaping as it goes so a
 * full CQ or the kernel's outstanding limit never stops us for good.
 * |out_done| says how many were published, also on error (those run). */
static accel_status push(hostmem *hm, const struct accel_sqe *sqes, uint32_t n,
			 uint32_t *out_done)
{
	uint32_t done = 0, k, want;
	accel_status st;

	for (;;) {
		reap_try(hm);
		st = accel_ring_submit_sqes(hm->r, sqes + done, n - done, &k);
		done += k;
		*out_done = done;
		if (st)
			return st;
		if (done == n && !sq_untaken(hm))
			return NULL;
		if (done == n) {	/* -EBUSY: make room, enter again */
			st = reap_wait(hm, accel_now_ns() + SHORT_WAIT_NS);
			if (st && accel_status_code_of(st) != ACCEL_DEADLINE_EXCEEDED)
				return st;
			accel_status_free(st);
			ACCEL_TRY(kmod_enter(hm->r, 0, 0, 0, 0));
			continue;
		}
		want = n - done < hm->r->sq_entries ? n - done : hm->r->sq_entries;
		st = hm->r->ops->wait_sq_space(hm->r, want,
					       accel_now_ns() + SHORT_WAIT_NS);
		if (st && accel_status_code_of(st) != ACCEL_DEADLINE_EXCEEDED)
			return st;
		if (st) {
			accel_status_free(st);
			st = reap_wait(hm, accel_now_ns() + SHORT_WAIT_NS);
			accel_status_free(st);
		}
	}
}

/* The work SQE plus the fence signal of a new ticket (submit_lock held). */
static accel_status push_ticket(hostmem *hm, struct accel_sqe *work,
				uint64_t *out_ticket)
{
	uint64_t t = hm->issued + 1;
	struct accel_sqe s[2];
	accel_status st;
	uint32_t done;

	if (t > UD_TICKET_MASK)
		return status_error(ACCEL_UNAVAILABLE, "hostmem: tickets exhausted");
	s[0] = *work;
	s[0].user_data = (work->user_data & UD_REFS) | t |
			 ((uint64_t)work->opcode << UD_OP_SHIFT);
	memset(&s[1], 0, sizeof(s[1]));
	s[1].opcode = ACCEL_OP_FENCE_SIGNAL;
	s[1].fence_handle = hm->fence_h;
	s[1].value = t;
	s[1].user_data = UD_FENCE | t;
	st = push(hm, s, 2, &done);
	if (done)	/* it will run: never hand its ticket out again */
		__atomic_store_n(&hm->issued, t, __ATOMIC_RELEASE);
	if (!st)
		*out_ticket = t;
	return st;
}

static accel_status check_range(const char *which, const struct hostmem_block *b,
				size_t off, size_t len)
{
	if (off > b->size || len > b->size - off)
		return status_invalid("hostmem_copy_submit: %s range [%zu, +%zu) lies outside its %zu-byte block",
				      which, off, len, b->size);
	return NULL;
}

accel_status hostmem_copy_submit(hostmem *hm, struct hostmem_block *dst,
				 size_t dst_off, struct hostmem_block *src,
				 size_t src_off, size_t len,
				 uint64_t *out_ticket)
{
	struct accel_sqe s;
	accel_status st;

	if (!hm || !dst || !src || !out_ticket)
		return status_invalid("hostmem_copy_submit: NULL argument");
	*out_ticket = 0;
	if (dst->hm != hm || src->hm != hm)
		return status_invalid("hostmem_copy_submit: a block of another provider");
	if (!len)
		return status_invalid("hostmem_copy_submit: len is 0");
	ACCEL_TRY(check_range("dst", dst, dst_off, len));
	ACCEL_TRY(check_range("src", src, src_off, len));
	if (src == dst && src_off < dst_off + len && dst_off < src_off + len)
		return status_invalid("hostmem_copy_submit: src [%zu, +%zu) and dst [%zu, +%zu) overlap in one block",
				      src_off, len, dst_off, len);
	ACCEL_TRY(engine(hm));
	memset(&s, 0, sizeof(s));
	s.opcode = ACCEL_OP_COPY;
	s.src_handle = src->handle;
	s.dst_handle = dst->handle;
	s.src_offset = src_off;
	s.dst_offset = dst_off;
	s.len = len;
	if (!hm->kmod) {
		/* hold both blocks until the copy ran, as the kernel does */
		pthread_mutex_lock(&hm->table_lock);
		if (src->freed || dst->freed) {
			pthread_mutex_unlock(&hm->table_lock);
			return status_invalid("hostmem_copy_submit: %s block was freed",
					      src->freed ? "src" : "dst");
		}
		__atomic_add_fetch(&src->refs, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&dst->refs, 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&hm->table_lock);
		s.user_data = UD_REFS;
	}
	pthread_mutex_lock(&hm->submit_lock);
	st = push_ticket(hm, &s, out_ticket);
	/* not reusable until this ticket is reaped (even if push failed
	 * half-way: what went out runs) */
	__atomic_store_n(&src->last_ticket, hm->issued, __ATOMIC_RELAXED);
	__atomic_store_n(&dst->last_ticket, hm->issued, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&hm->submit_lock);
	if (st && !hm->kmod) {
		block_put(hm, src);
		block_put(hm, dst);
	}
	return st;
}

accel_status hostmem_submit_sqe(hostmem *hm, const struct accel_sqe *sqe,
				uint64_t *out_ticket)
{
	struct accel_sqe s;
	accel_status st;

	if (!hm || !sqe || !out_ticket)
		return status_invalid("hostmem_submit_sqe: NULL argument");
	*out_ticket = 0;
	ACCEL_TRY(engine(hm));
	s = *sqe;
	s.user_data = 0;
	pthread_mutex_lock(&hm->submit_lock);
	st = push_ticket(hm, &s, out_ticket);
	pthread_mutex_unlock(&hm->submit_lock);
	return st;
}

/* ------------------------------------------------------------- waiting */

/* Wait for fence |h| to reach |point| until |deadline|: 0, ETIME or an errno. */
static int fence_wait(hostmem *hm, bool gate, uint64_t point, uint64_t deadline)
{
	struct accel_fence_op op = {
		.handle = gate ? hm->gate_h : hm->fence_h,
		.point = point,
		.timeout_ns = deadline,	/* same conventions as ours */
	};
	accel_status st;
	int err;

	if (!hm->kmod) {
		st = accel_timeline_wait(gate ? hm->gate_tl : hm->fence_tl, point,
					 deadline);
		err = st ? ETIME : 0;
		accel_status_free(st);
		return err;
	}
	err = kioctl(hm, ACCEL_IOCTL_FENCE_WAIT, &op);
	return err == EINTR ? ETIME : err;
}

accel_status hostmem_copy_wait(hostmem *hm, uint64_t ticket, uint64_t timeout_ns)
{
	uint64_t deadline = deadline_after(timeout_ns), slice;
	accel_status st = NULL;
	int err;

	if (!hm)
		return status_invalid("hostmem_copy_wait: hm is NULL");
	if (!ticket || ticket > __atomic_load_n(&hm->issued, __ATOMIC_ACQUIRE))
		return status_invalid("hostmem_copy_wait: ticket %llu was never issued",
				      (unsigned long long)ticket);
	for (;;) {
		slice = accel_now_ns() + WAIT_SLICE_NS;
		err = fence_wait(hm, false, ticket, slice < deadline ? slice : deadline);
		if (!err)
			break;
		if (err != ETIME)
			return kerr("ACCEL_IOCTL_FENCE_WAIT", err, "the copy fence");
		/* not there yet: resubmit what -EBUSY left, look for a
		 * failed fence signal (it would never come) */
		pthread_mutex_lock(&hm->submit_lock);
		if (sq_untaken(hm))
			st = kmod_enter(hm->r, 0, 0, 0, 0);
		pthread_mutex_unlock(&hm->submit_lock);
		accel_status_free(st);
		pthread_mutex_lock(&hm->reap_lock);
		reap_locked(hm);
		st = take_fail(hm, ticket, true);
		pthread_mutex_unlock(&hm->reap_lock);
		if (st)
			return st;
		if (deadline != ACCEL_DEADLINE_NONE && accel_now_ns() >= deadline)
			return status_error(ACCEL_DEADLINE_EXCEEDED,
					    "hostmem: copy ticket %llu still queued after %llu ns",
					    (unsigned long long)ticket,
					    (unsigned long long)timeout_ns);
	}
	/* it ran: its CQE is posted; reap up to it for the result */
	pthread_mutex_lock(&hm->reap_lock);
	while (__atomic_load_n(&hm->reaped, __ATOMIC_ACQUIRE) < ticket) {
		reap_locked(hm);
		if (hm->reaped >= ticket)
			break;
		st = accel_ring_wait_cqes(hm->r, 1, deadline);
		if (st)
			break;
	}
	if (!st)
		st = take_fail(hm, ticket, false);
	else
		st = status_annotate(st, "hostmem: copy ticket %llu ran; its completion",
				     (unsigned long long)ticket);
	pthread_mutex_unlock(&hm->reap_lock);
	return st;
}

/* ---------------------------------------------------------------- gates */

accel_status hostmem_gate_close(hostmem *hm, uint64_t *out_gate)
{
	struct accel_sqe s;
	accel_status st;
	uint32_t done;

	if (!hm || !out_gate)
		return status_invalid("hostmem_gate_close: NULL argument");
	ACCEL_TRY(engine(hm));
	memset(&s, 0, sizeof(s));
	s.opcode = ACCEL_OP_FENCE_WAIT;
	s.fence_handle = hm->gate_h;
	pthread_mutex_lock(&hm->submit_lock);
	s.value = hm->gates + 1;
	s.user_data = UD_GATE | s.value;
	st = push(hm, &s, 1, &done);
	if (done)
		hm->gates++;
	if (!st)
		*out_gate = hm->gates;
	pthread_mutex_unlock(&hm->submit_lock);
	return st;
}

accel_status hostmem_gate_open(hostmem *hm, uint64_t gate)
{
	struct accel_fence_op op = { .point = gate };
	accel_status st;
	int err;

	if (!hm)
		return status_invalid("hostmem_gate_open: hm is NULL");
	pthread_mutex_lock(&hm->submit_lock);
	err = !gate || gate > hm->gates;
	pthread_mutex_unlock(&hm->submit_lock);
	if (err)
		return status_invalid("hostmem_gate_open: gate %llu was never closed",
				      (unsigned long long)gate);
	/* opening an earlier gate after a later one is a no-op */
	if (!fence_wait(hm, true, gate, 0))
		return NULL;
	if (!hm->kmod) {
		st = accel_timeline_signal(hm->gate_tl, gate);
		if (st && accel_timeline_query(hm->gate_tl) >= gate) {
			accel_status_free(st);
			st = NULL;
		}
		return st;
	}
	op.handle = hm->gate_h;
	err = kioctl(hm, ACCEL_IOCTL_FENCE_SIGNAL, &op);
	if (err == EINVAL && !fence_wait(hm, true, gate, 0))
		err = 0;	/* another thread opened a later gate */
	return err ? kerr("ACCEL_IOCTL_FENCE_SIGNAL", err, "the gate fence") : NULL;
}
