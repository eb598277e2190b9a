/* bench_md5mb: throughput of the multi-buffer MD5 kernels (engine/hash/
 * md5mb) per core, beside OpenSSL EVP MD5 in the same binary: 1, 2, 4, 16
 * and 64 jobs of 4 KiB, 64 KiB and 1 MiB each, whole messages (init,
 * data, padding, digest). Times are CPU time of this thread, so a busy
 * machine slows the wall clock but not the numbers. A measuring tool
 * only: bench/README.md ("MD5 kernels") says how to run it beside
 * `openssl speed -evp md5` and md5sum. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "md5mb.h"

/* bytes hashed per measurement: long enough to swamp the timer */
#define BENCH_BYTES ((uint64_t)256 << 20)

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile uint8_t sink;

static double bench_mb(struct md5mb *m, uint8_t *buf, size_t jobs,
		       size_t size)
{
	struct md5mb_job *js = calloc(jobs, sizeof(*js));
	uint8_t (*out)[16] = calloc(jobs, 16);
	const void **bufs = calloc(jobs, sizeof(*bufs));
	size_t *lens = calloc(jobs, sizeof(*lens));
	uint64_t done = 0;
	double t0;
	size_t i;

	if (!js || !out || !bufs || !lens)
		abort();
	for (i = 0; i < jobs; i++) {
		bufs[i] = buf + i * size;
		lens[i] = size;
	}
	t0 = cpu_now();
	while (done < BENCH_BYTES) {
		md5mb_digest_many(m, js, bufs, lens, jobs, out);
		sink ^= out[0][0];
		done += (uint64_t)jobs * size;
	}
	t0 = cpu_now() - t0;
	free(js);
	free(out);
	free(bufs);
	free(lens);
	return (double)done / t0 / 1e9;
}

static double bench_evp(const EVP_MD *md, uint8_t *buf, size_t jobs,
			size_t size)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint64_t done = 0;
	uint8_t d[16];
	unsigned int n;
	double t0;
	size_t i;

	if (!ctx)
		abort();
	t0 = cpu_now();
	while (done < BENCH_BYTES) {
		for (i = 0; i < jobs; i++) {
			if (!EVP_DigestInit_ex2(ctx, md, NULL) ||
			    !EVP_DigestUpdate(ctx, buf + i * size, size) ||
			    !EVP_DigestFinal_ex(ctx, d, &n))
				abort();
			sink ^= d[0];
		}
		done += (uint64_t)jobs * size;
	}
	t0 = cpu_now() - t0;
	EVP_MD_CTX_free(ctx);
	return (double)done / t0 / 1e9;
}

int main(void)
{
	static const size_t sizes[] = { 4096, 65536, 1 << 20 };
	static const size_t counts[] = { 1, 2, 4, 16, 64 };
	static const enum md5mb_kernel kernels[] = {
		MD5MB_SCALAR, MD5MB_AVX2, MD5MB_AVX512
	};
	struct md5mb *m[3] = { NULL, NULL, NULL };
	struct errbuf eb = ERRBUF_INIT;
	EVP_MD *md = EVP_MD_fetch(NULL, "MD5", NULL);
	size_t si, ci, ki;
	uint8_t *buf;

	buf = malloc(64u << 20);
	if (!buf || !md)
		return 1;
	for (si = 0; si < (64u << 20); si++)
		buf[si] = (uint8_t)(si * 2654435761u >> 13);
	for (ki = 0; ki < 3; ki++)
		if (md5mb_new(kernels[ki], &m[ki], &eb) < 0)
			m[ki] = NULL;
	printf("GB/s per core (CPU time), whole messages; auto = %s\n",
	       md5mb_kernel_name(md5mb_kernel_best()));
	/* the manager's measured crossover: up to this many busy lanes go
	 * one by one through OpenSSL (what a table cell with few jobs
	 * shows) */
	for (ki = 1; ki < 3; ki++)
		if (m[ki])
			printf("%s: %u lanes, up to %u busy hashed one by one\n",
			       md5mb_kernel_name(kernels[ki]),
			       md5mb_lanes(m[ki]), md5mb_scalar_upto(m[ki]));
	printf("\n");
	printf("| jobs x size | openssl evp | scalar | avx2 | avx512 |\n");
	printf("|---|---|---|---|---|\n");
	for (si = 0; si < 3; si++) {
		for (ci = 0; ci < sizeof(counts) / sizeof(counts[0]); ci++) {
			size_t jobs = counts[ci], size = sizes[si];

			printf("| %zu x %zu KiB | %.2f |", jobs, size >> 10,
			       bench_evp(md, buf, jobs, size));
			for (ki = 0; ki < 3; ki++) {
				if (m[ki])
					printf(" %.2f |", bench_mb(m[ki], buf,
								   jobs, size));
				else
					printf(" - |");
			}
			printf("\n");
			fflush(stdout);
		}
	}
	for (ki = 0; ki < 3; ki++)
		md5mb_free(m[ki]);
	EVP_MD_free(md);
	free(buf);
	return 0;
}
