// SPDX-License-Identifier: MIT
/*
 * conformance.c - run the ONNX backend node tests against libaccel.
 *
 * Each case is a directory test_<name>/ holding model.onnx and one or more
 * test_data_set_N/ with input_K.pb and output_K.pb (serialized TensorProto).
 * Every case runs in a forked child under alarm(), so a crash or a hang is
 * counted as a failure naming the signal and never ends the run.
 *
 * Only the public API (accel/accel.h) is used. The op name for the report is
 * read from model.onnx with a tiny protobuf walk, because the public API has
 * no node access by design.
 */
#include "accel/accel.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_DIR "/usr/share/libonnx-testdata/data/node"
#define MSG_LEN 1024
#define RTOL 1e-3
#define ATOL 1e-7

enum outcome { PASS, FAIL, SKIP };
static const char *const outcome_name[] = { "PASS", "FAIL", "SKIP" };

struct options {
	const char **dirs;
	int ndirs;
	const char **filters;
	int nfilters;
	int verbose;		/* 0: failures, 1: every case, -1: summary only */
	const char *report;
	const char *floor;
	int threads;
	unsigned timeout;
	bool fork;
	bool list;
	int opt_level;		/* -1: the library's default */
	const char *device;	/* session device list, NULL: the CPU */
};

struct op_stat {
	char *op;
	int n[3];
};

struct case_note {
	char *line;		/* "OUTCOME name [op]: message" */
	enum outcome kind;
};

struct run_state {
	struct op_stat *ops;
	size_t nops, capops;
	struct case_note *notes;
	size_t nnotes, capnotes;
	int total[3];
};

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fprintf(stderr, "conformance: out of memory\n");
		exit(2);
	}
	return p;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d) {
		fprintf(stderr, "conformance: out of memory\n");
		exit(2);
	}
	return d;
}

static char *path_join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = xrealloc(NULL, n);

	snprintf(p, n, "%s/%s", a, b);
	return p;
}

static bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Sorted names of entries in |dir| starting with |prefix| (directories only
 * when |want_dir|). Returns the count; *out is NULL-terminated.
 */
static size_t list_dir(const char *dir, const char *prefix, bool want_dir,
		       char ***out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;

	if (d) {
		while ((e = readdir(d))) {
			char *full;
			struct stat st;
			bool ok;

			if (strncmp(e->d_name, prefix, strlen(prefix)))
				continue;
			full = path_join(dir, e->d_name);
			ok = stat(full, &st) == 0 && (!want_dir || S_ISDIR(st.st_mode));
			free(full);
			if (!ok)
				continue;
			names = xrealloc(names, (n + 2) * sizeof(*names));
			names[n++] = xstrdup(e->d_name);
		}
		closedir(d);
	}
	names = xrealloc(names, (n + 1) * sizeof(*names));
	names[n] = NULL;
	qsort(names, n, sizeof(*names), cmp_str);
	*out = names;
	return n;
}

static void free_list(char **names)
{
	for (size_t i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}

/* ---- op name from model.onnx: a bounded protobuf walk ---------------------- */

struct pb {
	const uint8_t *p, *end;
};

static bool pb_varint(struct pb *b, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64 && b->p < b->end; shift += 7) {
		uint8_t c = *b->p++;

		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return true;
	}
	return false;
}

/* Next field: its number, and for length-delimited fields the payload. */
static bool pb_next(struct pb *b, uint32_t *field, struct pb *payload)
{
	uint64_t key, v;

	payload->p = payload->end = NULL;
	if (b->p >= b->end || !pb_varint(b, &key))
		return false;
	*field = (uint32_t)(key >> 3);
	switch (key & 7) {
	case 0:
		return pb_varint(b, &v);
	case 1:
		if (b->end - b->p < 8)
			return false;
		b->p += 8;
		return true;
	case 5:
		if (b->end - b->p < 4)
			return false;
		b->p += 4;
		return true;
	case 2:
		if (!pb_varint(b, &v) || v > (uint64_t)(b->end - b->p))
			return false;
		payload->p = b->p;
		payload->end = b->p + v;
		b->p += v;
		return true;
	}
	return false;
}

/* Field numbers from onnx.proto. */
#define MODEL_GRAPH 7
#define GRAPH_NODE 1
#define NODE_OP_TYPE 4

/* Op types of the top-level nodes of |path|, NULL-terminated, or NULL. */
static char **model_op_types(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t size = 0, cap = 0, n;
	char **ops = NULL;
	size_t nops = 0;
	struct pb model, graph, node, pl;
	uint32_t field;

	if (!f)
		return NULL;
	do {
		if (size == cap)
			buf = xrealloc(buf, cap = cap ? cap * 2 : 65536);
		n = fread(buf + size, 1, cap - size, f);
		size += n;
	} while (n);
	fclose(f);
	model.p = buf;
	model.end = buf + size;
	while (pb_next(&model, &field, &graph)) {
		if (field != MODEL_GRAPH || !graph.p)
			continue;
		while (pb_next(&graph, &field, &node)) {
			if (field != GRAPH_NODE || !node.p)
				continue;
			while (pb_next(&node, &field, &pl)) {
				if (field != NODE_OP_TYPE || !pl.p)
					continue;
				ops = xrealloc(ops, (nops + 2) * sizeof(*ops));
				ops[nops] = xrealloc(NULL, pl.end - pl.p + 1);
				memcpy(ops[nops], pl.p, pl.end - pl.p);
				ops[nops][pl.end - pl.p] = '\0';
				nops++;
				ops[nops] = NULL;
			}
		}
	}
	free(buf);
	return ops;
}

/* Lowercase with underscores dropped: "Reduce_Sum" -> "reducesum". */
static void normalize(const char *s, char *out, size_t len)
{
	size_t j = 0;

	for (; *s && j + 1 < len; s++)
		if (*s != '_')
			out[j++] = (char)tolower((unsigned char)*s);
	out[j] = '\0';
}

/*
 * The op a case tests: the node whose normalized op type is the longest
 * prefix of the normalized case name, else the first node. "_expanded"
 * cases hold a function body, so their op is taken from the sibling case
 * without the suffix.
 */
static char *case_op(const char *dir, const char *name)
{
	char base[256], key[256], norm[128], op[300] = "";
	const char *exp = strstr(name, "_expanded");
	char *sib, *model;
	char **ops;
	size_t best = 0;

	snprintf(base, sizeof(base), "%.*s",
		 exp ? (int)(exp - name) : (int)strlen(name), name);
	normalize(base + (strncmp(base, "test_", 5) ? 0 : 5), key, sizeof(key));
	sib = path_join(dir, base);
	model = path_join(sib, "model.onnx");
	ops = model_op_types(model);
	free(model);
	free(sib);
	for (size_t i = 0; ops && ops[i]; i++) {
		normalize(ops[i], norm, sizeof(norm));
		if (strlen(norm) > best && !strncmp(key, norm, strlen(norm))) {
			best = strlen(norm);
			snprintf(op, sizeof(op), "%s", ops[i]);
		}
	}
	if (!op[0])
		snprintf(op, sizeof(op), "%s", ops && ops[0] ? ops[0] : base);
	free_list(ops);
	if (exp)
		strncat(op, " (expanded)", sizeof(op) - strlen(op) - 1);
	return xstrdup(op);
}

/* ---- comparing tensors ------------------------------------------------------- */

static float half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f;
	uint32_t mant = h & 0x3ff, bits;
	float f;

	if (exp == 0x1f) {
		bits = sign | 0x7f800000u | (mant << 13);
	} else if (exp) {
		bits = sign | ((exp + 112) << 23) | (mant << 13);
	} else {
		/* Subnormal (or zero): value is mant * 2^-24. */
		f = ldexpf((float)mant, -24);
		return sign ? -f : f;
	}
	memcpy(&f, &bits, sizeof(f));
	return f;
}

static float bf16_to_float(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;

	memcpy(&f, &bits, sizeof(f));
	return f;
}

static bool is_float(accel_dtype dt)
{
	return dt == ACCEL_DTYPE_F32 || dt == ACCEL_DTYPE_F64 ||
	       dt == ACCEL_DTYPE_F16 || dt == ACCEL_DTYPE_BF16;
}

static double get_f(const void *data, accel_dtype dt, int64_t i)
{
	switch (dt) {
	case ACCEL_DTYPE_F32: return ((const float *)data)[i];
	case ACCEL_DTYPE_F64: return ((const double *)data)[i];
	case ACCEL_DTYPE_F16: return half_to_float(((const uint16_t *)data)[i]);
	case ACCEL_DTYPE_BF16: return bf16_to_float(((const uint16_t *)data)[i]);
	default: return 0;
	}
}

/* Integers widened to int64 for comparison and printing (u64 wraps). */
static int64_t get_i(const void *data, accel_dtype dt, int64_t i)
{
	switch (dt) {
	case ACCEL_DTYPE_U8: return ((const uint8_t *)data)[i];
	case ACCEL_DTYPE_I8: return ((const int8_t *)data)[i];
	case ACCEL_DTYPE_U16: return ((const uint16_t *)data)[i];
	case ACCEL_DTYPE_I16: return ((const int16_t *)data)[i];
	case ACCEL_DTYPE_I32: return ((const int32_t *)data)[i];
	case ACCEL_DTYPE_I64: return ((const int64_t *)data)[i];
	case ACCEL_DTYPE_U32: return ((const uint32_t *)data)[i];
	case ACCEL_DTYPE_U64: return (int64_t)((const uint64_t *)data)[i];
	case ACCEL_DTYPE_BOOL: return ((const uint8_t *)data)[i] != 0;
	default: return 0;
	}
}

/* numpy.testing.assert_allclose(actual, desired, rtol, atol), NaN == NaN. */
static bool close_enough(double got, double want)
{
	if (isnan(want) || isnan(got))
		return isnan(want) && isnan(got);
	if (isinf(want) || isinf(got))
		return got == want;
	return fabs(got - want) <= ATOL + RTOL * fabs(want);
}

static void shape_str(const accel_tensor *t, char *buf, size_t len)
{
	const int64_t *d = accel_tensor_dims(t);
	int r = accel_tensor_rank(t);
	size_t n = (size_t)snprintf(buf, len, "[");

	for (int i = 0; i < r && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%lld", i ? "," : "",
				      (long long)d[i]);
	if (n < len)
		snprintf(buf + n, len - n, "]");
}

static bool same_shape(const accel_tensor *a, const accel_tensor *b)
{
	int r = accel_tensor_rank(a);

	if (r != accel_tensor_rank(b))
		return false;
	for (int i = 0; i < r; i++)
		if (accel_tensor_dims(a)[i] != accel_tensor_dims(b)[i])
			return false;
	return true;
}

/* Compare values of equal dtype and shape; describe the first mismatch. */
static bool compare_values(accel_tensor *want, accel_tensor *got,
			   char *msg, size_t len)
{
	accel_dtype dt = accel_tensor_dtype(want);
	const void *w = accel_tensor_data(want), *g = accel_tensor_data(got);
	int64_t n = accel_tensor_numel(want), bad = 0, first = -1;

	for (int64_t i = 0; i < n; i++) {
		bool ok = is_float(dt) ? close_enough(get_f(g, dt, i), get_f(w, dt, i))
				       : get_i(g, dt, i) == get_i(w, dt, i);
		if (!ok && !bad++)
			first = i;
	}
	if (!bad)
		return true;
	if (is_float(dt))
		snprintf(msg, len, "element %lld: expected %.9g, got %.9g "
			 "(%lld of %lld elements differ, rtol %g atol %g)",
			 (long long)first, get_f(w, dt, first), get_f(g, dt, first),
			 (long long)bad, (long long)n, RTOL, ATOL);
	else
		snprintf(msg, len, "element %lld: expected %lld, got %lld "
			 "(%lld of %lld elements differ)",
			 (long long)first, (long long)get_i(w, dt, first),
			 (long long)get_i(g, dt, first), (long long)bad, (long long)n);
	return false;
}

static bool compare_tensor(accel_tensor *want, accel_tensor *got,
			   char *msg, size_t len)
{
	char a[160], b[160];

	if (accel_tensor_dtype(want) != accel_tensor_dtype(got)) {
		snprintf(msg, len, "dtype: expected %s, got %s",
			 accel_dtype_name(accel_tensor_dtype(want)),
			 accel_dtype_name(accel_tensor_dtype(got)));
		return false;
	}
	if (!same_shape(want, got)) {
		shape_str(want, a, sizeof(a));
		shape_str(got, b, sizeof(b));
		snprintf(msg, len, "shape: expected %s, got %s", a, b);
		return false;
	}
	if (!accel_dtype_size(accel_tensor_dtype(want))) {
		snprintf(msg, len, "dtype %s cannot be compared",
			 accel_dtype_name(accel_tensor_dtype(want)));
		return false;
	}
	return compare_values(want, got, msg, len);
}

/* ---- running one case (in the child) ------------------------------------------ */

struct result {
	enum outcome kind;
	char msg[MSG_LEN];
};

/* Turn a library error into an outcome; UNSUPPORTED means skipped. Frees st. */
static enum outcome from_status(struct result *r, accel_status st,
				const char *fmt, ...)
{
	char what[MSG_LEN / 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	r->kind = accel_status_code_of(st) == ACCEL_UNSUPPORTED ? SKIP : FAIL;
	snprintf(r->msg, sizeof(r->msg), "%s: %s: %s", what,
		 accel_status_code_name(accel_status_code_of(st)),
		 accel_status_message(st));
	accel_status_free(st);
	return r->kind;
}

static enum outcome fail(struct result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static enum outcome fail(struct result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	return r->kind = FAIL;
}

/* Count files |prefix|0.pb, |prefix|1.pb, ... in |dir|. */
static int count_pb(const char *dir, const char *prefix)
{
	char name[64];
	int n = 0;

	for (;; n++) {
		char *p;
		bool ok;

		snprintf(name, sizeof(name), "%s%d.pb", prefix, n);
		p = path_join(dir, name);
		ok = file_exists(p);
		free(p);
		if (!ok)
			return n;
	}
}

static accel_status read_pb(const char *dir, const char *prefix, int i,
			    accel_tensor **out, char **out_name)
{
	char name[64];
	char *p;
	accel_status st;

	snprintf(name, sizeof(name), "%s%d.pb", prefix, i);
	p = path_join(dir, name);
	st = accel_tensor_read_pb(p, out, out_name);
	free(p);
	return st;
}

/*
 * Old test data (onnx <= 1.12, Debian's package) stores bfloat16 tensors as
 * uint16 with the same bits; give such a tensor the dtype the model declares.
 */
static accel_status retag_bf16(accel_tensor **t, accel_dtype want)
{
	accel_tensor *n;
	accel_status st;

	if (want != ACCEL_DTYPE_BF16 || accel_tensor_dtype(*t) != ACCEL_DTYPE_U16)
		return NULL;
	st = accel_tensor_create_copy(ACCEL_DTYPE_BF16, accel_tensor_rank(*t),
				      accel_tensor_dims(*t), accel_tensor_data(*t),
				      accel_tensor_nbytes(*t), &n);
	if (st)
		return st;
	accel_tensor_release(*t);
	*t = n;
	return NULL;
}

static accel_dtype input_dtype(accel_model *m, const char *name)
{
	accel_value_info info;

	for (size_t k = 0; k < accel_model_input_count(m); k++) {
		accel_status st = accel_model_input_info(m, k, &info);

		if (st)
			accel_status_free(st);
		else if (!strcmp(info.name, name))
			return info.dtype;
	}
	return ACCEL_DTYPE_UNDEFINED;
}

/*
 * The model input that input_|i|.pb feeds: by position among the model's
 * inputs, unless the TensorProto names another model input.
 */
static const char *input_name(accel_model *m, size_t i, const char *pb_name)
{
	accel_value_info info;
	const char *pos = NULL;

	for (size_t k = 0; k < accel_model_input_count(m); k++) {
		accel_status st = accel_model_input_info(m, k, &info);

		if (st) {
			accel_status_free(st);
			continue;
		}
		if (pb_name && pb_name[0] && !strcmp(info.name, pb_name))
			return info.name;
		if (k == i)
			pos = info.name;
	}
	return pos;
}

struct io {
	accel_named_tensor *in;
	int nin;
	accel_tensor **out;
	size_t nout;
	char **names;
};

static void io_free(struct io *io)
{
	for (int i = 0; i < io->nin; i++) {
		accel_tensor_release(io->in[i].tensor);
		free(io->names[i]);
	}
	for (size_t i = 0; i < io->nout; i++)
		accel_tensor_release(io->out[i]);
	free(io->in);
	free(io->out);
	free(io->names);
}

static enum outcome load_inputs(struct result *r, accel_model *m,
				const char *set, struct io *io)
{
	int n = count_pb(set, "input_");

	io->in = xrealloc(NULL, (size_t)n * sizeof(*io->in));
	io->names = xrealloc(NULL, (size_t)n * sizeof(*io->names));
	for (int i = 0; i < n; i++) {
		accel_tensor *t;
		char *pbname = NULL;
		accel_status st = read_pb(set, "input_", i, &t, &pbname);
		const char *name;

		if (st)
			return from_status(r, st, "input_%d.pb", i);
		name = input_name(m, (size_t)i, pbname);
		io->in[io->nin].tensor = t;
		io->names[io->nin++] = pbname;
		if (!name)
			return fail(r, "input_%d.pb: the model has only %zu inputs",
				    i, accel_model_input_count(m));
		io->in[io->nin - 1].name = name;
		st = retag_bf16(&io->in[io->nin - 1].tensor, input_dtype(m, name));
		if (st)
			return from_status(r, st, "input_%d.pb", i);
	}
	return PASS;
}

static enum outcome check_outputs(struct result *r, accel_model *m,
				  const char *set, struct io *io)
{
	int n = count_pb(set, "output_");
	char why[MSG_LEN / 2];

	if ((size_t)n != io->nout)
		return fail(r, "%d reference outputs, the model has %zu", n, io->nout);
	for (int i = 0; i < n; i++) {
		accel_tensor *want;
		accel_value_info info = { .name = "?" };
		accel_status st = read_pb(set, "output_", i, &want, NULL);
		bool ok;

		if (st)
			return from_status(r, st, "output_%d.pb", i);
		accel_status_free(accel_model_output_info(m, (size_t)i, &info));
		st = retag_bf16(&want, accel_tensor_dtype(io->out[i]));
		if (st) {
			accel_tensor_release(want);
			return from_status(r, st, "output_%d.pb", i);
		}
		ok = compare_tensor(want, io->out[i], why, sizeof(why));
		accel_tensor_release(want);
		if (!ok)
			return fail(r, "output %d '%s': %s", i, info.name, why);
	}
	return PASS;
}

static enum outcome run_data_set(struct result *r, accel_model *m,
				 accel_session *s, const char *set)
{
	struct io io = { 0 };
	enum outcome k = load_inputs(r, m, set, &io);
	accel_status st;

	if (k == PASS) {
		io.nout = accel_model_output_count(m);
		io.out = xrealloc(NULL, (io.nout + 1) * sizeof(*io.out));
		memset(io.out, 0, (io.nout + 1) * sizeof(*io.out));
		st = accel_session_run(s, io.in, (size_t)io.nin, io.out, io.nout, 0);
		if (st) {
			/* Outputs are written only on success. */
			memset(io.out, 0, (io.nout + 1) * sizeof(*io.out));
			k = from_status(r, st, "run");
		} else {
			k = check_outputs(r, m, set, &io);
		}
	}
	io_free(&io);
	return k;
}

static enum outcome run_sets(struct result *r, accel_model *m,
			     accel_session *s, const char *case_dir)
{
	char **sets;
	size_t n = list_dir(case_dir, "test_data_set_", true, &sets);
	enum outcome k = PASS;

	if (!n)
		fail(r, "no test_data_set_* directory");
	for (size_t i = 0; i < n && k == PASS; i++) {
		char *set = path_join(case_dir, sets[i]);

		k = run_data_set(r, m, s, set);
		if (k != PASS && n > 1) {
			char tmp[MSG_LEN];

			snprintf(tmp, sizeof(tmp), "%.60s: %.900s", sets[i], r->msg);
			memcpy(r->msg, tmp, sizeof(tmp));
		}
		free(set);
	}
	free_list(sets);
	return n ? k : FAIL;
}

static void run_case(const struct options *o, const char *case_dir,
		     struct result *r)
{
	accel_context *ctx = NULL;
	accel_model *m = NULL;
	accel_session *s = NULL;
	accel_session_options so;
	accel_status st;
	char *path = path_join(case_dir, "model.onnx");

	r->kind = PASS;
	r->msg[0] = '\0';
	st = accel_context_create(0, &ctx);
	if (st) {
		from_status(r, st, "context");
		goto out;
	}
	st = accel_model_load(ctx, path,
			      o->opt_level >= 0 ? ACCEL_LOAD_OPT_LEVEL(o->opt_level) : 0, &m);
	if (st) {
		from_status(r, st, "load");
		goto out;
	}
	accel_session_options_init(&so);
	so.num_threads = o->threads;
	so.devices = o->device;
	st = accel_session_create(m, &so, &s);
	if (st) {
		from_status(r, st, "session");
		goto out;
	}
	r->kind = run_sets(r, m, s, case_dir);
out:
	accel_session_release(s);
	accel_model_release(m);
	accel_context_release(ctx);
	free(path);
}

/* ---- the parent: fork, time out, collect ------------------------------------ */

static const char *signal_name(int sig)
{
	static char buf[32];

	switch (sig) {
	case SIGSEGV: return "SIGSEGV";
	case SIGABRT: return "SIGABRT";
	case SIGBUS: return "SIGBUS";
	case SIGFPE: return "SIGFPE";
	case SIGILL: return "SIGILL";
	case SIGKILL: return "SIGKILL";
	case SIGTERM: return "SIGTERM";
	case SIGALRM: return "SIGALRM";
	case SIGTRAP: return "SIGTRAP";
	}
	snprintf(buf, sizeof(buf), "signal %d", sig);
	return buf;
}

static bool write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static size_t read_all(int fd, void *buf, size_t n)
{
	char *p = buf;
	size_t got = 0;

	while (got < n) {
		ssize_t rd = read(fd, p + got, n - got);

		if (rd < 0 && errno == EINTR)
			continue;
		if (rd <= 0)
			break;
		got += (size_t)rd;
	}
	return got;
}

static void child(const struct options *o, const char *case_dir, int fd)
{
	struct result r;

	alarm(o->timeout);
	run_case(o, case_dir, &r);
	if (!write_all(fd, &r, sizeof(r)))
		_exit(3);
	close(fd);
	/* exit(), not _exit(): LeakSanitizer reports at exit in ASan builds. */
	exit(0);
}

static void run_forked(const struct options *o, const char *case_dir,
		       struct result *r)
{
	int fds[2], wst;
	pid_t pid;
	size_t got;

	fflush(NULL);
	if (pipe(fds) || (pid = fork()) < 0) {
		fail(r, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		close(fds[0]);
		child(o, case_dir, fds[1]);
	}
	close(fds[1]);
	got = read_all(fds[0], r, sizeof(*r));
	close(fds[0]);
	while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(wst) && WTERMSIG(wst) == SIGALRM)
		fail(r, "timed out after %u s (SIGALRM)", o->timeout);
	else if (WIFSIGNALED(wst))
		fail(r, "crashed: killed by %s", signal_name(WTERMSIG(wst)));
	else if (got != sizeof(*r))
		fail(r, "child exited with status %d before reporting",
		     WEXITSTATUS(wst));
	else if (WEXITSTATUS(wst)) {
		char was[MSG_LEN / 2];

		snprintf(was, sizeof(was), "%.500s", r->msg);
		fail(r, "child exited with status %d (sanitizer or leak report "
		     "on stderr) after: %s%s%s", WEXITSTATUS(wst),
		     outcome_name[r->kind], was[0] ? ": " : "", was);
	}
	r->msg[sizeof(r->msg) - 1] = '\0';
}

static void record(struct run_state *rs, const char *label, const char *op,
		   const struct result *r)
{
	size_t i;
	size_t n;

	for (i = 0; i < rs->nops && strcmp(rs->ops[i].op, op); i++)
		;
	if (i == rs->nops) {
		if (rs->nops == rs->capops)
			rs->ops = xrealloc(rs->ops, (rs->capops = rs->capops * 2 + 16) *
						    sizeof(*rs->ops));
		memset(&rs->ops[i], 0, sizeof(rs->ops[i]));
		rs->ops[i].op = xstrdup(op);
		rs->nops++;
	}
	rs->ops[i].n[r->kind]++;
	rs->total[r->kind]++;
	if (r->kind == PASS)
		return;
	if (rs->nnotes == rs->capnotes)
		rs->notes = xrealloc(rs->notes, (rs->capnotes = rs->capnotes * 2 + 16) *
						sizeof(*rs->notes));
	n = strlen(label) + strlen(op) + strlen(r->msg) + 16;
	rs->notes[rs->nnotes].line = xrealloc(NULL, n);
	snprintf(rs->notes[rs->nnotes].line, n, "%s [%s]: %s", label, op, r->msg);
	rs->notes[rs->nnotes++].kind = r->kind;
}

/*
 * The parent's per-case allocations, kept reachable from a global so that
 * LeakSanitizer in a forked child does not report them (a pointer that only
 * lived in a register of the parent is lost in the child).
 */
static struct {
	/* volatile: stores to a static never read would be optimised away. */
	char **volatile cases;
	char *volatile case_dir;
	char *volatile op;
} live;

static bool selected(const struct options *o, const char *name)
{
	if (!o->nfilters)
		return true;
	for (int i = 0; i < o->nfilters; i++)
		if (strstr(name, o->filters[i]))
			return true;
	return false;
}

static void run_dir(const struct options *o, int di, struct run_state *rs)
{
	const char *dir = o->dirs[di];
	char **cases;
	size_t n = list_dir(dir, "test_", true, &cases);
	char label[512];

	if (!n)
		fprintf(stderr, "conformance: no test_* cases in %s\n", dir);
	for (size_t i = 0; i < n; i++) {
		char *case_dir, *op;
		struct result r;

		if (!selected(o, cases[i]))
			continue;
		if (o->ndirs > 1)
			snprintf(label, sizeof(label), "%d:%s", di + 1, cases[i]);
		else
			snprintf(label, sizeof(label), "%s", cases[i]);
		live.cases = cases;
		live.case_dir = case_dir = path_join(dir, cases[i]);
		live.op = op = case_op(dir, cases[i]);
		if (o->list) {
			printf("%s [%s]\n", label, op);
		} else {
			if (o->fork)
				run_forked(o, case_dir, &r);
			else
				run_case(o, case_dir, &r);
			record(rs, label, op, &r);
			if (o->verbose > 0 || (o->verbose == 0 && r.kind == FAIL))
				printf("%s %s [%s]%s%s\n", outcome_name[r.kind], label,
				       op, r.msg[0] ? ": " : "", r.msg);
		}
		free(op);
		free(case_dir);
	}
	free_list(cases);
}

/* ---- report and floor --------------------------------------------------------- */

static int cmp_op(const void *a, const void *b)
{
	return strcmp(((const struct op_stat *)a)->op, ((const struct op_stat *)b)->op);
}

static int write_report(const struct options *o, struct run_state *rs)
{
	FILE *f = fopen(o->report, "w");

	if (!f) {
		fprintf(stderr, "conformance: cannot write %s: %s\n", o->report,
			strerror(errno));
		return -1;
	}
	qsort(rs->ops, rs->nops, sizeof(*rs->ops), cmp_op);
	fprintf(f, "# accel ONNX conformance report\n# dirs:");
	for (int i = 0; i < o->ndirs; i++)
		fprintf(f, " %d:%s", i + 1, o->dirs[i]);
	fprintf(f, "\n%d passed, %d failed, %d skipped\n\n", rs->total[PASS],
		rs->total[FAIL], rs->total[SKIP]);
	fprintf(f, "%-40s %7s %7s %7s\n", "op", "passed", "failed", "skipped");
	for (size_t i = 0; i < rs->nops; i++)
		fprintf(f, "%-40s %7d %7d %7d\n", rs->ops[i].op, rs->ops[i].n[PASS],
			rs->ops[i].n[FAIL], rs->ops[i].n[SKIP]);
	for (int k = FAIL; k <= SKIP; k++) {
		fprintf(f, "\n%s cases:\n", k == FAIL ? "Failed" : "Skipped");
		for (size_t i = 0; i < rs->nnotes; i++)
			if ((int)rs->notes[i].kind == k)
				fprintf(f, "%s\n", rs->notes[i].line);
	}
	return fclose(f) ? -1 : 0;
}

/* The floor file holds one number; '#' starts a comment. */
static long read_floor(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	long v = -1;

	if (!f)
		return -1;
	while (v < 0 && fgets(line, sizeof(line), f)) {
		char *end, *p = line;

		while (isspace((unsigned char)*p))
			p++;
		if (*p == '#' || !*p)
			continue;
		v = strtol(p, &end, 10);
		if (end == p)
			v = -1;
	}
	fclose(f);
	return v;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: conformance [options]\n"
"Run the ONNX backend node tests (test_*/model.onnx + test_data_set_*/) with libaccel.\n"
"  --dir D          a directory of test_* cases (repeatable; default\n"
"                   " DEFAULT_DIR ")\n"
"  --filter S       run only cases whose name contains S (repeatable: any)\n"
"  -v               print every case (default: only failures)\n"
"  -q               print only the summary line\n"
"  --list           list the selected cases and their op, run nothing\n"
"  --report FILE    write a per-op table and the failed/skipped cases\n"
"  --floor FILE     exit 1 when fewer cases pass than the number in FILE\n"
"                   (without --floor, exit 1 when any case fails)\n"
"  --threads N      threads per session (default 0: all cores)\n"
"  --timeout S      seconds per case before it counts as hung (default 60)\n"
"  --opt-level N    load models at graph optimisation level N (0-3;\n"
"                   default: the library's, the highest)\n"
"  --device SPEC    run on these devices, e.g. opencl:0 (nodes a device\n"
"                   lacks fall back to the CPU)\n"
"  --no-fork        run cases in this process (for a debugger; no timeout)\n"
"Outcomes: SKIP when loading, session creation or a run returns\n"
"ACCEL_UNSUPPORTED or a test tensor is not dense (sequence, optional,\n"
"string); FAIL on any other error, a crash, a timeout or a mismatch\n"
"(floats: |got-want| <= 1e-7 + 1e-3*|want|, NaN==NaN; others exact).\n"
"The last line printed is 'N passed, N failed, N skipped'.\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = !strcmp(a, "--dir") || !strcmp(a, "--filter") ||
			     !strcmp(a, "--report") || !strcmp(a, "--floor") ||
			     !strcmp(a, "--threads") || !strcmp(a, "--timeout") ||
			     !strcmp(a, "--opt-level") || !strcmp(a, "--device");

		if (takes && !v) {
			fprintf(stderr, "conformance: %s needs a value\n", a);
			return -1;
		}
		if (!strcmp(a, "--dir"))
			o->dirs[o->ndirs++] = v;
		else if (!strcmp(a, "--filter"))
			o->filters[o->nfilters++] = v;
		else if (!strcmp(a, "--report"))
			o->report = v;
		else if (!strcmp(a, "--floor"))
			o->floor = v;
		else if (!strcmp(a, "--threads"))
			o->threads = atoi(v);
		else if (!strcmp(a, "--timeout"))
			o->timeout = (unsigned)atoi(v);
		else if (!strcmp(a, "--device"))
			o->device = v;
		else if (!strcmp(a, "--opt-level")) {
			char *end;

			o->opt_level = (int)strtol(v, &end, 10);
			if (*end || end == v || o->opt_level < 0 ||
			    o->opt_level > ACCEL_LOAD_OPT_LEVEL_MAX) {
				fprintf(stderr, "conformance: --opt-level %s: expected 0 to %d\n",
					v, ACCEL_LOAD_OPT_LEVEL_MAX);
				return -1;
			}
		}
		else if (!strcmp(a, "-v"))
			o->verbose = 1;
		else if (!strcmp(a, "-q"))
			o->verbose = -1;
		else if (!strcmp(a, "--list"))
			o->list = true;
		else if (!strcmp(a, "--no-fork"))
			o->fork = false;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return 1;
		else {
			fprintf(stderr, "conformance: unknown option %s\n", a);
			return -1;
		}
		i += takes;
	}
	if (!o->ndirs)
		o->dirs[o->ndirs++] = DEFAULT_DIR;
	if (!o->timeout)
		o->timeout = 60;
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { .timeout = 60, .fork = true, .opt_level = -1 };
	struct run_state rs = { 0 };
	long floor_n = -1;
	int rc, ret = 0;

	o.dirs = xrealloc(NULL, (size_t)(argc + 1) * sizeof(*o.dirs));
	o.filters = xrealloc(NULL, (size_t)(argc + 1) * sizeof(*o.filters));
	rc = parse_args(argc, argv, &o);
	if (rc) {
		usage(rc < 0 ? stderr : stdout);
		return rc < 0 ? 2 : 0;
	}
	if (o.floor && (floor_n = read_floor(o.floor)) < 0) {
		fprintf(stderr, "conformance: no number in floor file %s\n", o.floor);
		return 2;
	}
	for (int i = 0; i < o.ndirs; i++)
		run_dir(&o, i, &rs);
	if (o.list)
		return 0;
	if (o.report && write_report(&o, &rs))
		ret = 2;
	if (o.floor && rs.total[PASS] < floor_n) {
		fprintf(stderr, "conformance: %d passed, below the floor of %ld in %s\n",
			rs.total[PASS], floor_n, o.floor);
		ret = 1;
	} else if (!o.floor && rs.total[FAIL]) {
		ret = ret ? ret : 1;
	}
	printf("%d passed, %d failed, %d skipped\n", rs.total[PASS],
	       rs.total[FAIL], rs.total[SKIP]);
	for (size_t i = 0; i < rs.nops; i++)
		free(rs.ops[i].op);
	for (size_t i = 0; i < rs.nnotes; i++)
		free(rs.notes[i].line);
	free(rs.ops);
	free(rs.notes);
	free(o.dirs);
	free(o.filters);
	return ret;
}
