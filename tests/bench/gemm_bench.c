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
 * Links the static library: sgemm is internal (cpu/gemm.h), not public API.
 */
#include "cpu/gemm.h"
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

/*
 * Median GFLOP/s of sgemm on one shape: calls are batched into samples of
 * at least 20 ms so timer resolution does not matter, and the median of
 * the samples shrugs off another process stealing the core for a moment.
 * Returns < 0 on failure.
 */
static double bench_shape(threadpool *tp, const struct shape *sh,
			  double seconds)
{
	const double flops = 2.0 * sh->m * sh->n * sh->k;
	float *a = aligned_alloc(64, ((size_t)(sh->m * sh->k * 4) + 63) / 64 * 64);
	float *b = aligned_alloc(64, ((size_t)(sh->k * sh->n * 4) + 63) / 64 * 64);
	float *c = aligned_alloc(64, ((size_t)(sh->m * sh->n * 4) + 63) / 64 * 64);
	double samples[64], result = -1, t_end;
	int n_samples = 0, per_sample = 1;

	if (!a || !b || !c)
		goto out;
	fill(a, sh->m * sh->k, 1);
	fill(b, sh->k * sh->n, 2);
	/* Warm up (scratch buffers, page faults) and size the samples. */
	for (;;) {
		double t0 = now_s();

		for (int i = 0; i < per_sample; i++) {
			accel_status st = sgemm(tp, false, false, sh->m, sh->n,
						sh->k, 1.0f, a, sh->k, b, sh->n,
						0.0f, c, sh->n);
			if (st) {
				fprintf(stderr, "gemm_bench: sgemm: %s\n",
					accel_status_message(st));
				accel_status_free(st);
				goto out;
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
			(void)sgemm(tp, false, false, sh->m, sh->n, sh->k, 1.0f,
				    a, sh->k, b, sh->n, 0.0f, c, sh->n);
		samples[n_samples++] = flops * per_sample / (now_s() - t0) / 1e9;
	}
	qsort(samples, (size_t)n_samples, sizeof(*samples), cmp_double);
	result = samples[n_samples / 2];
out:
	free(a);
	free(b);
	free(c);
	return result;
}

int main(int argc, char **argv)
{
	struct shape shapes[32];
	int threads[8] = { 1, 2 }, n_threads = 2;
	int n_shapes = (int)(sizeof(default_shapes) / sizeof(*default_shapes));
	double seconds = 0.3, ghz, nominal, fma, peak_core, units_measured;
	int units, ncpu = cpu_count(), rc = 0;
	char model[256];

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
			double g = bench_shape(tp, &shapes[s], seconds);

			snprintf(name, sizeof(name), "%ldx%ldx%ld", shapes[s].m,
				 shapes[s].n, shapes[s].k);
			if (g < 0) {
				rc = 1;
				continue;
			}
			printf("gemm: %-20s %7d %9.1f %9.1f %6.0f%% %9.0f%%  %s\n",
			       name, threads[t], g, peak, 100.0 * g / peak,
			       100.0 * g / (fma * threads[t]), shapes[s].what);
		}
		threadpool_destroy(tp);
	}
	return rc;
}
