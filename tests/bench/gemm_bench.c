/* SPDX-License-Identifier: MIT */
/*
 * gemm_bench - the library's internal sgemm in GFLOP/s against the core's
 * theoretical FMA peak (`make bench` runs it after the model table).
 *
 *     gemm_bench [--threads 1,2] [--seconds S] [--shapes MxNxK,...]
 *
 * Peak = cores x GHz x FMA units x SIMD lanes x 2 (an FMA is two flops).
 * Nothing in /proc says how many FMA units a core has or what clock it
 * really runs at under load, so both are measured and every assumption is
 * printed: the clock from a chain of dependent integer multiplies (three
 * cycles each on current x86 cores), the FMA rate from a loop of
 * independent FMAs (the best any kernel can do, i.e. the practical peak).
 * Both are best-of-many short runs, since on a shared VM a run can lose
 * its core for a while; if the FMA loop still beats peak at the measured
 * clock, the clock was under-measured and the one the FMAs imply is used;
 * a clock below /proc/cpuinfo's nominal one is raised to it (both said so
 * in the output).
 * The FMA unit count used for the theoretical peak is that measurement
 * rounded to a whole number of units, shown next to the usual value for
 * the ISA (2 on server cores with AVX-512; 1 on some Xeon Silver/Bronze).
 *
 * Then the int8 GEMM (cpu/gemm_s8.h, u8 x s8 -> s32 with zero points, B
 * packed per call like sgemm's) in GOP/s (a multiply-add is two ops) for
 * every variant the CPU runs, next to the float32 GFLOP/s of the same
 * shape, and against the VNNI peak: cores x GHz x units x 64 byte products
 * per vpdpbusd zmm x 2, the units measured by a loop of independent
 * vpdpbusd as for the FMAs.
 *
 * Links the static library: sgemm is internal (cpu/gemm.h), not public API.
 */
#include "cpu/gemm.h"
#include "cpu/gemm_s8.h"
#include "cpu/threadpool.h"

#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Same flags as the library, so the same ISA as its kernels. */
#if defined(__AVX512F__)
#define ISA_NAME "AVX-512"
#define LANES 16
#elif defined(__AVX2__) && defined(__FMA__)
#define ISA_NAME "AVX2+FMA"
#define LANES 8
#else
#define ISA_NAME "portable (no FMA vectors)"
#define LANES 1
#endif

#define MAX_THREADS 64

struct shape {
	long m, n, k;
	const char *what;
};

/* Square sizes, then the shapes the benchmark models spend their time in. */
static const struct shape default_shapes[] = {
	{ 256, 256, 256, "square" },
	{ 512, 512, 512, "square" },
	{ 1024, 1024, 1024, "square" },
	{ 128, 1152, 384, "encoder6 QKV projection" },
	{ 128, 1536, 384, "encoder6 FFN up" },
	{ 128, 384, 1536, "encoder6 FFN down" },
	{ 64, 3136, 576, "resnet18 layer1 3x3 conv" },
	{ 256, 196, 2304, "resnet18 layer3 3x3 conv" },
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * Cycles per second from a chain of 8 dependent integer multiplies per
 * iteration: each waits for the last, 3 cycles apiece on every Intel core
 * since Core 2 and every AMD core since Zen. (A chain of add-immediates
 * would not do: Golden Cove and later fold those at rename, several per
 * cycle.) Best of 30 runs of ~40 ms: a preemption hits a few of them.
 */
static double measure_ghz(void)
{
	const long iters = 5 * 1000 * 1000;
	double best = 0;

	for (int rep = 0; rep < 30; rep++) {
		unsigned long x = 3;
		double t0 = now_s(), dt;

		for (long i = 0; i < iters; i++)
			__asm__ volatile("imul %0, %0\n\timul %0, %0\n\t"
					 "imul %0, %0\n\timul %0, %0\n\t"
					 "imul %0, %0\n\timul %0, %0\n\t"
					 "imul %0, %0\n\timul %0, %0"
					 : "+r"(x));
		dt = now_s() - t0;
		/* The loop's own add/cmp/jump run alongside the chain. */
		if (dt > 0 && iters * 8.0 * 3 / dt / 1e9 > best)
			best = iters * 8.0 * 3 / dt / 1e9;
	}
	return best;
}

/* "cpu MHz" of the first processor in /proc/cpuinfo (nominal), or 0. */
static double cpuinfo_ghz(char *model, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	double mhz = 0;

	model[0] = '\0';
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!colon)
			continue;
		if (!model[0] && !strncmp(line, "model name", 10)) {
			snprintf(model, len, "%s", colon + 2);
			model[strcspn(model, "\n")] = '\0';
		}
		if (!mhz && !strncmp(line, "cpu MHz", 7))
			mhz = atof(colon + 1);
		if (mhz && model[0])
			break;
	}
	fclose(f);
	return mhz / 1e3;
}

/*
 * Flops per second of one core issuing nothing but independent FMAs: 12
 * accumulators cover a 4-cycle latency on 2 ports (8 needed) with margin,
 * so the loop is bound by FMA throughput alone.
 */
static double measure_fma_gflops(void)
{
	const long iters = 2 * 1000 * 1000;
	double best = 0;

	for (int rep = 0; rep < 15; rep++) {
		double t0 = now_s(), dt;
		float sink = 0;
#if defined(__AVX512F__)
		__m512 acc[12], m = _mm512_set1_ps(0.999999f),
				a = _mm512_set1_ps(1e-7f);

		for (int j = 0; j < 12; j++)
			acc[j] = _mm512_set1_ps((float)j);
		for (long i = 0; i < iters; i++)
			for (int j = 0; j < 12; j++)
				acc[j] = _mm512_fmadd_ps(acc[j], m, a);
		for (int j = 0; j < 12; j++)
			sink += _mm512_reduce_add_ps(acc[j]);
#elif defined(__AVX2__) && defined(__FMA__)
		__m256 acc[12], m = _mm256_set1_ps(0.999999f),
				a = _mm256_set1_ps(1e-7f);

		for (int j = 0; j < 12; j++)
			acc[j] = _mm256_set1_ps((float)j);
		for (long i = 0; i < iters; i++)
			for (int j = 0; j < 12; j++)
				acc[j] = _mm256_fmadd_ps(acc[j], m, a);
		for (int j = 0; j < 12; j++) {
			float v[8];

			_mm256_storeu_ps(v, acc[j]);
			for (int l = 0; l < 8; l++)
				sink += v[l];
		}
#else
		float acc[12];

		for (int j = 0; j < 12; j++)
			acc[j] = (float)j;
		for (long i = 0; i < iters; i++)
			for (int j = 0; j < 12; j++)
				acc[j] = fmaf(acc[j], 0.999999f, 1e-7f);
		for (int j = 0; j < 12; j++)
			sink += acc[j];
#endif
		dt = now_s() - t0;
		/* Keep the result live so the loop is not optimised away. */
		__asm__ volatile("" ::"g"(sink));
		if (dt > 0 && iters * 12.0 * LANES * 2 / dt / 1e9 > best)
			best = iters * 12.0 * LANES * 2 / dt / 1e9;
	}
	return best;
}

static int parse_list(const char *s, int *out, int max)
{
	int n = 0;

	while (*s && n < max) {
		char *end;
		long v = strtol(s, &end, 10);

		if (end == s || v < 1 || v > MAX_THREADS)
			return -1;
		out[n++] = (int)v;
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -1;
	}
	return n;
}

static int parse_shapes(const char *s, struct shape *out, int max)
{
	int n = 0;

	while (*s && n < max) {
		int used = 0;

		if (sscanf(s, "%ldx%ldx%ld%n", &out[n].m, &out[n].n, &out[n].k,
			   &used) != 3 || out[n].m < 1 || out[n].n < 1 ||
		    out[n].k < 1)
			return -1;
		out[n++].what = "";
		s += used;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	return n;
}

static void fill(float *p, long n, unsigned seed)
{
	for (long i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		p[i] = (float)(seed >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One call of the multiply being timed; non-NULL status on failure. */
typedef accel_status (*run_fn)(threadpool *tp, const struct shape *sh,
			       void *bufs[3]);

/*
 * Median G(FL)OP/s of |run| on one shape: calls are batched into samples of
 * at least 20 ms so timer resolution does not matter, and the median of
 * the samples shrugs off another process stealing the core for a moment.
 * Returns < 0 on failure.
 */
static double sample_rate(threadpool *tp, const struct shape *sh, run_fn run,
			  void *bufs[3], double seconds)
{
	const double ops = 2.0 * sh->m * sh->n * sh->k;
	double samples[64], t_end;
	int n_samples = 0, per_sample = 1;

	/* Warm up (scratch buffers, page faults) and size the samples. */
	for (;;) {
		double t0 = now_s();

		for (int i = 0; i < per_sample; i++) {
			accel_status st = run(tp, sh, bufs);

			if (st) {
				fprintf(stderr, "gemm_bench: %s\n",
					accel_status_message(st));
				accel_status_free(st);
				return -1;
			}
		}
		if (now_s() - t0 >= 0.02 || per_sample >= (1 << 20))
			break;
		per_sample *= 2;
	}
	t_end = now_s() + seconds;
	while (n_samples < 64 && (n_samples < 5 || now_s() < t_end)) {
		double t0 = now_s();

		for (int i = 0; i < per_sample; i++)
			accel_status_free(run(tp, sh, bufs));
		samples[n_samples++] = ops * per_sample / (now_s() - t0) / 1e9;
	}
	qsort(samples, (size_t)n_samples, sizeof(*samples), cmp_double);
	return samples[n_samples / 2];
}

static accel_status run_sgemm(threadpool *tp, const struct shape *sh,
			      void *bufs[3])
{
	return sgemm(tp, false, false, sh->m, sh->n, sh->k, 1.0f, bufs[0],
		     sh->k, bufs[1], sh->n, 0.0f, bufs[2], sh->n);
}

/*
 * u8 A with a zero point, s8 B (symmetric weights): the usual pairing. B
 * packed per call, like sgemm's, or once (what a session does for
 * constant weights: prepare() packs them).
 */
static const int32_t a_zp = 128;

static accel_status run_s8gemm(threadpool *tp, const struct shape *sh,
			       void *bufs[3])
{
	s8gemm_args args = { sh->m, sh->n, sh->k, bufs[0], sh->k, false,
			     &a_zp, 1, NULL, 0, bufs[2], sh->n };

	return s8gemm(tp, &args, true, bufs[1], sh->n);
}

static s8gemm_packed *prepacked;

static accel_status run_s8gemm_prepacked(threadpool *tp,
					 const struct shape *sh, void *bufs[3])
{
	s8gemm_args args = { sh->m, sh->n, sh->k, bufs[0], sh->k, false,
			     &a_zp, 1, NULL, 0, bufs[2], sh->n };

	return s8gemm_run(tp, &args, prepacked);
}

/*
 * Median rate of sgemm (elem 4) or the int8 GEMM (elem 1; |packed_rate|
 * gets the rate with B packed once) on one shape.
 */
static double bench_shape(threadpool *tp, const struct shape *sh,
			  double seconds, size_t elem, double *packed_rate)
{
	void *bufs[3] = {
		aligned_alloc(64, ((size_t)(sh->m * sh->k) * elem + 63) / 64 * 64),
		aligned_alloc(64, ((size_t)(sh->k * sh->n) * elem + 63) / 64 * 64),
		aligned_alloc(64, ((size_t)(sh->m * sh->n * 4) + 63) / 64 * 64),
	};
	double result = -1;

	if (bufs[0] && bufs[1] && bufs[2]) {
		if (elem == 4) {
			fill(bufs[0], sh->m * sh->k, 1);
			fill(bufs[1], sh->k * sh->n, 2);
		} else {
			for (long i = 0; i < sh->m * sh->k; i++)
				((uint8_t *)bufs[0])[i] = (uint8_t)(i * 37 + 11);
			for (long i = 0; i < sh->k * sh->n; i++)
				((uint8_t *)bufs[1])[i] = (uint8_t)(i * 53 + 7);
		}
		result = sample_rate(tp, sh, elem == 4 ? run_sgemm : run_s8gemm,
				     bufs, seconds);
		if (elem == 1 && result >= 0) {
			accel_status st = s8gemm_pack_b(tp, true, sh->k, sh->n,
							bufs[1], sh->n,
							&prepacked);

			*packed_rate = st ? -1 :
				sample_rate(tp, sh, run_s8gemm_prepacked, bufs,
					    seconds);
			accel_status_free(st);
			s8gemm_packed_free(prepacked);
			prepacked = NULL;
		}
	}
	for (int i = 0; i < 3; i++)
		free(bufs[i]);
	return result;
}

#if defined(__AVX512VNNI__)
/*
 * Byte multiply-adds per second (x 2, as ops) of one core issuing nothing
 * but independent zmm vpdpbusd: 64 products each, 12 accumulators.
 */
static double measure_vnni_gops(void)
{
	const long iters = 2 * 1000 * 1000;
	double best = 0;

	for (int rep = 0; rep < 15; rep++) {
		double t0 = now_s(), dt;
		__m512i acc[12], a = _mm512_set1_epi32(0x01020304),
				 b = _mm512_set1_epi32(0x05060708);
		int sink = 0;

		for (int j = 0; j < 12; j++)
			acc[j] = _mm512_set1_epi32(j);
		for (long i = 0; i < iters; i++)
			for (int j = 0; j < 12; j++)
				acc[j] = _mm512_dpbusd_epi32(acc[j], a, b);
		for (int j = 0; j < 12; j++)
			sink += _mm512_reduce_add_epi32(acc[j]);
		dt = now_s() - t0;
		__asm__ volatile("" ::"g"(sink));
		if (dt > 0 && iters * 12.0 * 64 * 2 / dt / 1e9 > best)
			best = iters * 12.0 * 64 * 2 / dt / 1e9;
	}
	return best;
}
#endif

/*
 * The int8 section: each variant's GOP/s next to fp32's GFLOP/s (gflops,
 * per thread count and shape) and the VNNI peak per core (0: unknown).
 */
static int bench_int8(const int *threads, int n_threads,
		      const struct shape *shapes, int n_shapes, double seconds,
		      const double *gflops, double ghz)
{
	double vnni = 0, peak_core = 0;
	int rc = 0;

#if defined(__AVX512VNNI__)
	double units_measured;
	int units;

	vnni = measure_vnni_gops();
	units_measured = vnni / (ghz * 64 * 2);
	units = (int)lround(units_measured);
	units = units < 1 ? 1 : units > 2 ? 2 : units;
	peak_core = ghz * units * 64 * 2;
	printf("gemm-int8: VNNI peak/core = %.2f GHz x %d vpdpbusd units x 64 u8*s8 products (zmm) x 2 = %.1f GOP/s"
	       " (units: measured %.2f/cycle); vpdpbusd-only loop: %.1f GOP/s (%.0f%% of peak)\n",
	       ghz, units, peak_core, units_measured, vnni,
	       100.0 * vnni / peak_core);
#else
	(void)ghz;
	printf("gemm-int8: built without AVX-512 VNNI: no VNNI peak\n");
#endif
	printf("gemm-int8: %-20s %7s %-10s %9s %9s %9s %7s %9s\n", "shape MxNxK",
	       "threads", "variant", "GOP/s", "B packed", "fp32", "x fp32",
	       "% peak");
	for (int t = 0; t < n_threads; t++) {
		threadpool *tp = NULL;
		accel_status st = threadpool_create(threads[t], &tp);

		if (st) {
			fprintf(stderr, "gemm_bench: threadpool: %s\n",
				accel_status_message(st));
			accel_status_free(st);
			return 1;
		}
		for (int v = 0; v < s8gemm_isa_count(); v++) {
			const char *isa = s8gemm_isa_name(v);

			if (!s8gemm_isa_supported(v)) {
				printf("gemm-int8: variant %s: not on this CPU, skipped\n",
				       isa);
				continue;
			}
			accel_status_free(s8gemm_isa_force(isa));
			for (int s = 0; s < n_shapes; s++) {
				char name[64], pk[16] = "-";
				double gp = -1;
				double g = bench_shape(tp, &shapes[s], seconds, 1,
						       &gp);
				double f = gflops[t * n_shapes + s];

				snprintf(name, sizeof(name), "%ldx%ldx%ld",
					 shapes[s].m, shapes[s].n, shapes[s].k);
				if (g < 0) {
					rc = 1;
					continue;
				}
				if (peak_core > 0)
					snprintf(pk, sizeof(pk), "%.0f%%",
						 100.0 * gp / (peak_core * threads[t]));
				printf("gemm-int8: %-20s %7d %-10s %9.1f %9.1f %9.1f %7.2f %9s  %s\n",
				       name, threads[t], isa, g, gp, f,
				       f > 0 ? g / f : 0.0, pk, shapes[s].what);
			}
		}
		accel_status_free(s8gemm_isa_force(NULL));
		threadpool_destroy(tp);
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct shape shapes[32];
	int threads[8] = { 1, 2 }, n_threads = 2;
	int n_shapes = (int)(sizeof(default_shapes) / sizeof(*default_shapes));
	double seconds = 0.3, ghz, nominal, fma, peak_core, units_measured;
	int units, ncpu = cpu_count(), rc = 0;
	char model[256];
	double gflops[8 * 32] = { 0 };

	memcpy(shapes, default_shapes, sizeof(default_shapes));
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(argv[i], "--threads") && v) {
			n_threads = parse_list(v, threads, 8);
		} else if (!strcmp(argv[i], "--seconds") && v) {
			seconds = atof(v);
		} else if (!strcmp(argv[i], "--shapes") && v) {
			n_shapes = parse_shapes(v, shapes, 32);
		} else {
			fprintf(stderr,
				"usage: gemm_bench [--threads 1,2] [--seconds S] [--shapes MxNxK,...]\n");
			return 2;
		}
		if (n_threads < 1 || n_shapes < 1 || !(seconds > 0)) {
			fprintf(stderr, "gemm_bench: bad value for %s: %s\n",
				argv[i], v);
			return 2;
		}
		i++;
	}

	nominal = cpuinfo_ghz(model, sizeof(model));
	ghz = measure_ghz();
	fma = measure_fma_gflops();
	/* FMA units that explain the measured rate at the measured clock. */
	units_measured = fma / (ghz * LANES * 2);
	units = (int)lround(units_measured);
	/* No x86 core has more than two FMA pipes: more means a bad clock. */
	units = units < 1 ? 1 : units > 2 ? 2 : units;
	printf("gemm: cpu: %s, %d online cores; /proc/cpuinfo %.2f GHz, measured %.2f GHz (dependent imul chain)\n",
	       model[0] ? model : "unknown", ncpu, nominal, ghz);
	if (ghz < nominal) {
		/* The core runs at least at its nominal clock: a lower
		 * reading means it was shared during the measurement. */
		printf("gemm: note: measured clock below nominal: the core is shared, using %.2f GHz; expect low numbers\n",
		       nominal);
		ghz = nominal;
	}
	if (fma > ghz * units * LANES * 2) {
		printf("gemm: note: the FMA loop ran at %.2f GHz or more; using that clock\n",
		       fma / (units * LANES * 2));
		ghz = fma / (units * LANES * 2);
	}
	peak_core = ghz * units * LANES * 2;
	printf("gemm: peak/core = %.2f GHz x %d FMA units x %d fp32 lanes (%s) x 2 = %.1f GFLOP/s"
	       " (FMA units: measured %.2f/cycle, typical for the ISA: %s)\n",
	       ghz, units, LANES, ISA_NAME, peak_core,
	       units_measured, LANES == 16 ? "2 (1 on some Xeon Silver/Bronze)" :
	       LANES == 8 ? "2" : "n/a");
	printf("gemm: FMA-only loop: %.1f GFLOP/s per core (%.0f%% of peak)\n",
	       fma, 100.0 * fma / peak_core);
	printf("gemm: %-20s %7s %9s %9s %7s %9s\n", "shape MxNxK", "threads",
	       "GFLOP/s", "peak", "% peak", "% FMA-loop");
	for (int t = 0; t < n_threads; t++) {
		threadpool *tp = NULL;
		accel_status st = threadpool_create(threads[t], &tp);
		double peak = peak_core * threads[t];

		if (st) {
			fprintf(stderr, "gemm_bench: threadpool: %s\n",
				accel_status_message(st));
			accel_status_free(st);
			return 1;
		}
		if (threads[t] > ncpu)
			printf("gemm: note: %d threads on %d cores: oversubscribed\n",
			       threads[t], ncpu);
		for (int s = 0; s < n_shapes; s++) {
			char name[64];
			double g = bench_shape(tp, &shapes[s], seconds, 4, NULL);

			snprintf(name, sizeof(name), "%ldx%ldx%ld", shapes[s].m,
				 shapes[s].n, shapes[s].k);
			if (g < 0) {
				rc = 1;
				continue;
			}
			gflops[t * n_shapes + s] = g;
			printf("gemm: %-20s %7d %9.1f %9.1f %6.0f%% %9.0f%%  %s\n",
			       name, threads[t], g, peak, 100.0 * g / peak,
			       100.0 * g / (fma * threads[t]), shapes[s].what);
		}
		threadpool_destroy(tp);
	}
	if (bench_int8(threads, n_threads, shapes, n_shapes, seconds, gflops,
		       ghz))
		rc = 1;
	return rc;
}
