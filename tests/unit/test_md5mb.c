/* test_md5mb: multi-buffer MD5 against OpenSSL EVP, bit for bit, for
 * every kernel this machine has: block boundaries, random lengths, jobs
 * of unequal lengths fed in random segments and finishing in any order,
 * jobs added while others run, every lane count, and the kernels alone
 * with any set of idle lanes. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "md5mb.h"
#include "md5mb_kernel.h"
#include "test.h"

#include "banned.h"

#define MAX_JOBS 80
#define BUF_MAX (8 * 64 + 200)

static const enum md5mb_kernel kernels[] = {
	MD5MB_SCALAR, MD5MB_AVX2, MD5MB_AVX512
};

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static void fill(uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static void ref_md5(const void *p, size_t n, uint8_t out[16])
{
	unsigned int len = 0;

	if (!EVP_Digest(p, n, out, &len, EVP_md5(), NULL) || len != 16)
		abort();
}

static struct md5mb *new_mb(enum md5mb_kernel k)
{
	struct errbuf eb = ERRBUF_INIT;
	struct md5mb *m = NULL;

	if (md5mb_new(k, &m, &eb) < 0)
		return NULL;
	return m;
}

/* Every length 0..(8 blocks + 200): alone (the lone-job path), then
 * with every lane busy (lengths len..len + lanes - 1 side by side). */
static void test_lengths(void)
{
	static uint8_t buf[BUF_MAX + 2 * MD5MB_MAX_LANES];
	static struct md5mb_job many[MD5MB_MAX_LANES];
	uint8_t want[16], got[MD5MB_MAX_LANES][16];
	const void *bufs[MD5MB_MAX_LANES];
	size_t ki, len, lens[MD5MB_MAX_LANES], i;

	fill(buf, sizeof(buf));
	for (ki = 0; ki < sizeof(kernels) / sizeof(kernels[0]); ki++) {
		struct md5mb *m = new_mb(kernels[ki]);
		struct md5mb_job job;

		if (!m)
			continue;
		for (len = 0; len <= BUF_MAX; len++) {
			bufs[0] = buf;
			ref_md5(buf, len, want);
			md5mb_digest_many(m, &job, bufs, &len, 1, got);
			CHECK(!memcmp(want, got[0], 16));
		}
		for (len = 0; len <= BUF_MAX; len++) {
			size_t n = md5mb_lanes(m);

			for (i = 0; i < n; i++) {
				bufs[i] = buf + i;
				lens[i] = len + i;
			}
			md5mb_digest_many(m, many, bufs, lens, n, got);
			for (i = 0; i < n; i++) {
				ref_md5(buf + i, len + i, want);
				CHECK(!memcmp(want, got[i], 16));
			}
		}
		md5mb_free(m);
	}
}

/* Known answers of RFC 1321 appendix A.5, so the reference is checked
 * too. */
static void test_rfc1321(void)
{
	static const char *const in[] = {
		"", "a", "abc", "message digest",
		("12345678901234567890123456789012345678901234567890123456789"
		 "012345678901234567890"),
	};
	static const char *const hex[] = {
		"d41d8cd98f00b204e9800998ecf8427e",
		"0cc175b9c0f1b6a831c399e269772661",
		"900150983cd24fb0d6963f7d28e17f72",
		"f96b697d7cb7938d525a2f31aaf161d0",
		"57edf4a22be3c955ac49da2e2107b67a",
	};
	struct md5mb_job jobs[5];
	const void *bufs[5];
	uint8_t got[5][16];
	size_t lens[5], i, ki;

	for (i = 0; i < 5; i++) {
		bufs[i] = in[i];
		lens[i] = strlen(in[i]);
	}
	for (ki = 0; ki < sizeof(kernels) / sizeof(kernels[0]); ki++) {
		struct md5mb *m = new_mb(kernels[ki]);

		if (!m)
			continue;
		md5mb_digest_many(m, jobs, bufs, lens, 5, got);
		for (i = 0; i < 5; i++) {
			char h[33];
			int b;

			for (b = 0; b < 16; b++)
				snprintf(h + 2 * b, 3, "%02x", got[i][b]);
			CHECK_STREQ(h, hex[i]);
		}
		md5mb_free(m);
	}
}

struct msg {
	uint8_t *data;
	size_t len, fed;
	uint8_t want[16];
	bool done;
};

/* Submit the next random-sized segment of x's message. */
static void feed(struct md5mb *m, struct md5mb_job *j, struct msg *x)
{
	size_t left = x->len - x->fed, seg;

	switch (rnd() % 4) {
	case 0:
		seg = left;  /* the rest at once */
		break;
	case 1:
		seg = rnd() % 64;  /* less than a block */
		break;
	default:
		seg = rnd() % (3 * 64 + 1);
		break;
	}
	if (seg > left)
		seg = left;
	j->data = x->data + x->fed;
	j->len = seg;
	x->fed += seg;
	j->last = x->fed == x->len;
	md5mb_submit(m, j);
}

static void check_back(struct md5mb *m, struct md5mb_job *j, size_t *open)
{
	struct msg *x = j->user;

	if (!j->last) {
		feed(m, j, x);
		return;
	}
	CHECK(!x->done);
	CHECK(!memcmp(j->digest, x->want, 16));
	x->done = true;
	(*open)--;
}

/* n messages of random lengths (0..maxlen) in random segments; new jobs
 * start while others run; polls and flushes interleave at random. */
static void run_mix(enum md5mb_kernel k, size_t n, size_t maxlen)
{
	static struct md5mb_job jobs[MAX_JOBS];
	static struct msg msgs[MAX_JOBS];
	struct md5mb *m = new_mb(k);
	struct md5mb_job *j;
	size_t i, started = 0, open = 0;

	if (!m)
		return;
	for (i = 0; i < n; i++) {
		msgs[i].len = maxlen ? rnd() % (maxlen + 1) : 0;
		msgs[i].data = malloc(msgs[i].len + 1);
		fill(msgs[i].data, msgs[i].len);
		msgs[i].fed = 0;
		msgs[i].done = false;
		ref_md5(msgs[i].data, msgs[i].len, msgs[i].want);
	}
	while (started < n || open) {
		if (started < n && (rnd() % 3 || !open)) {
			md5mb_job_init(&jobs[started]);
			jobs[started].user = &msgs[started];
			open++;
			feed(m, &jobs[started], &msgs[started]);
			started++;
		}
		while ((j = md5mb_poll(m)))
			check_back(m, j, &open);
		if (started == n || rnd() % 7 == 0) {
			j = md5mb_flush(m);
			if (j)
				check_back(m, j, &open);
		}
	}
	CHECK(md5mb_flush(m) == NULL);
	for (i = 0; i < n; i++) {
		CHECK(msgs[i].done);
		free(msgs[i].data);
	}
	md5mb_free(m);
}

static void test_mixed_jobs(void)
{
	size_t ki, round;

	for (ki = 0; ki < sizeof(kernels) / sizeof(kernels[0]); ki++) {
		for (round = 0; round < 40; round++)
			run_mix(kernels[ki], 1 + rnd() % MAX_JOBS, 9 * 64);
		run_mix(kernels[ki], MAX_JOBS, 0);     /* all empty */
		run_mix(kernels[ki], 1, 100000);      /* one alone, long */
		run_mix(kernels[ki], MAX_JOBS, 20000);
	}
}

/* Every job count from 1 to 2 x lanes + 1, equal and unequal lengths,
 * with few busy lanes hashed one by one (the measured crossover, then
 * none) and in vector passes (every count): both paths on any CPU. */
static void test_lane_counts(void)
{
	static uint8_t buf[MAX_JOBS][1000];
	static struct md5mb_job jobs[MAX_JOBS];
	uint8_t got[MAX_JOBS][16], want[16];
	const void *bufs[MAX_JOBS];
	size_t lens[MAX_JOBS], ki, n, i, eq;

	for (i = 0; i < MAX_JOBS; i++) {
		fill(buf[i], sizeof(buf[i]));
		bufs[i] = buf[i];
	}
	for (ki = 0; ki < 3 * sizeof(kernels) / sizeof(kernels[0]); ki++) {
		struct md5mb *m = new_mb(kernels[ki / 3]);

		if (!m)
			continue;
		/* measured once per kernel: a second manager agrees */
		if (ki % 3 == 0) {
			struct md5mb *again = new_mb(kernels[ki / 3]);

			CHECK(md5mb_scalar_upto(m) < md5mb_lanes(m));
			CHECK(again && md5mb_scalar_upto(again) ==
			      md5mb_scalar_upto(m));
			md5mb_free(again);
		} else {
			md5mb_set_scalar_upto(m, ki % 3 == 1 ? 0 :
					      md5mb_lanes(m));
		}
		for (eq = 0; eq < 2; eq++) {
			for (n = 1; n <= 2 * md5mb_lanes(m) + 1; n++) {
				for (i = 0; i < n; i++)
					lens[i] = eq ? 640 : rnd() % 1000;
				md5mb_digest_many(m, jobs, bufs, lens, n, got);
				for (i = 0; i < n; i++) {
					ref_md5(buf[i], lens[i], want);
					CHECK(!memcmp(want, got[i], 16));
				}
			}
		}
		md5mb_free(m);
	}
}

/* The vector kernels alone against the scalar one, any idle lanes, with
 * the idle lanes' pointers left invalid (they must not be read). */
static void test_kernels_direct(void)
{
	static uint8_t data[MD5MB_MAX_LANES][5 * 64];
	struct md5mb_lanes ref, got;
	size_t round, lane, w;

	for (round = 0; round < 200; round++) {
		uint32_t active = rnd();
		size_t n = 1 + rnd() % 5;

		if (round % 4 == 0)
			active &= round % 8 ? 0xff : 0xffff;  /* one group */
		for (lane = 0; lane < MD5MB_MAX_LANES; lane++) {
			fill(data[lane], sizeof(data[lane]));
			for (w = 0; w < 4; w++)
				ref.h[w][lane] = rnd();
			ref.p[lane] = active & (1u << lane) ? data[lane] : NULL;
		}
		got = ref;
		md5mb_blocks_scalar(&ref, active, n);
		if (md5mb_kernel_supported(MD5MB_AVX512)) {
			struct md5mb_lanes v = got;

			md5mb_blocks_avx512(&v, active, n);
			for (lane = 0; lane < 32; lane++) {
				if (!(active & (1u << lane)))
					continue;
				for (w = 0; w < 4; w++)
					CHECK_EQ(v.h[w][lane], ref.h[w][lane]);
				CHECK(v.p[lane] == ref.p[lane]);
			}
		}
		if (md5mb_kernel_supported(MD5MB_AVX2)) {
			struct md5mb_lanes v = got;

			md5mb_blocks_avx2(&v, active & 0xffff, n);
			for (lane = 0; lane < 16; lane++) {
				if (!(active & (1u << lane)))
					continue;
				for (w = 0; w < 4; w++)
					CHECK_EQ(v.h[w][lane], ref.h[w][lane]);
				CHECK(v.p[lane] == ref.p[lane]);
			}
		}
	}
}

static void test_names(void)
{
	enum md5mb_kernel k = MD5MB_SCALAR;
	struct md5mb *m = new_mb(MD5MB_AUTO);

	CHECK_EQ(md5mb_kernel_parse("avx512", &k), 0);
	CHECK_EQ(k, MD5MB_AVX512);
	CHECK_EQ(md5mb_kernel_parse("auto", &k), 0);
	CHECK_EQ(k, MD5MB_AUTO);
	CHECK_ERR(md5mb_kernel_parse("sse", &k), EINVAL);
	CHECK(m != NULL);
	if (m) {
		CHECK_EQ(md5mb_kernel_of(m), md5mb_kernel_best());
		CHECK(md5mb_kernel_of(m) != MD5MB_AUTO);
	}
	md5mb_free(m);
	/* the machine this project is benched on has both: say so when a
	 * kernel is not exercised here */
	if (!md5mb_kernel_supported(MD5MB_AVX512))
		fprintf(stderr, "note: no AVX-512 here, its kernel untested\n");
	if (!md5mb_kernel_supported(MD5MB_AVX2))
		fprintf(stderr, "note: no AVX2 here, its kernel untested\n");
}

int main(void)
{
	RUN_TEST(test_rfc1321);
	RUN_TEST(test_lengths);
	RUN_TEST(test_kernels_direct);
	RUN_TEST(test_lane_counts);
	RUN_TEST(test_mixed_jobs);
	RUN_TEST(test_names);
	return test_finish();
}
