/* bench_gzip: the measurement behind the gzip library of the Python-format
 * heap (README: "Gzip heap objects (Python format)"): zlib, libdeflate and
 * ISA-L's igzip, each compressing to gzip and decompressing back, on a
 * mix of object sizes (4 KiB .. 64 MiB) of two kinds:
 *   text    words of a Zipf-like vocabulary in lines (source/log-like,
 *           compresses about 3-4x)
 *   random  incompressible bytes (media, archives)
 *
 *   bench_gzip [-r rounds] [-s max_size_mib]
 *
 * One thread, best of `rounds`, MB/s of UNCOMPRESSED bytes and the ratio
 * (uncompressed / compressed). Every output is decompressed and compared
 * with its input, so a wrong result cannot pass as a fast one. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <zlib.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

#define VOCAB 4096

static void fill_text(unsigned char *p, size_t n)
{
	static char words[VOCAB][12];
	static int ready;
	size_t i = 0;
	int w;

	if (!ready) {
		for (w = 0; w < VOCAB; w++) {
			int len = 2 + (int)(next_rand() % 9), k;

			for (k = 0; k < len; k++)
				words[w][k] = (char)('a' + next_rand() % 26);
			words[w][len] = '\0';
		}
		ready = 1;
	}
	while (i < n) {
		/* Zipf-like: small indexes much more frequent */
		uint64_t r = next_rand();
		unsigned idx = (unsigned)((r % VOCAB) * ((r >> 32) % VOCAB) /
					  VOCAB);
		const char *s = words[idx];
		size_t len = strlen(s);

		if ((r >> 20) % 11 == 0)
			s = "\n", len = 1;
		else if ((r >> 24) % 17 == 0)
			s = "  = 0;", len = 6;
		while (len-- && i < n)
			p[i++] = (unsigned char)*s++;
		if (i < n)
			p[i++] = ' ';
	}
}

static void fill_random(unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t r = next_rand();

		memcpy(p + i, &r, 8);
	}
	for (; i < n; i++)
		p[i] = (unsigned char)next_rand();
}

/* ---- the three libraries: whole buffer in, whole buffer out ---- */

static size_t zlib_comp(int level, const unsigned char *in, size_t n,
			unsigned char *out, size_t cap)
{
	z_stream s;
	size_t done;

	memset(&s, 0, sizeof(s));
	if (deflateInit2(&s, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY))
		return 0;
	s.next_in = (unsigned char *)in;
	s.avail_in = (uInt)n;
	s.next_out = out;
	s.avail_out = (uInt)cap;
	if (deflate(&s, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&s);
		return 0;
	}
	done = s.total_out;
	deflateEnd(&s);
	return done;
}

static size_t zlib_decomp(const unsigned char *in, size_t n,
			  unsigned char *out, size_t cap)
{
	z_stream s;
	size_t done;

	memset(&s, 0, sizeof(s));
	if (inflateInit2(&s, 31))
		return (size_t)-1;
	s.next_in = (unsigned char *)in;
	s.avail_in = (uInt)n;
	s.next_out = out;
	s.avail_out = (uInt)cap;
	if (inflate(&s, Z_FINISH) != Z_STREAM_END) {
		inflateEnd(&s);
		return (size_t)-1;
	}
	done = s.total_out;
	inflateEnd(&s);
	return done;
}

static size_t ldf_comp(int level, const unsigned char *in, size_t n,
		       unsigned char *out, size_t cap)
{
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
	size_t r;

	if (!c)
		return 0;
	r = libdeflate_gzip_compress(c, in, n, out, cap);
	libdeflate_free_compressor(c);
	return r;
}

static size_t ldf_decomp(const unsigned char *in, size_t n,
			 unsigned char *out, size_t cap)
{
	struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
	size_t got = 0;
	enum libdeflate_result r;

	if (!d)
		return (size_t)-1;
	r = libdeflate_gzip_decompress(d, in, n, out, cap, &got);
	libdeflate_free_decompressor(d);
	return r == LIBDEFLATE_SUCCESS ? got : (size_t)-1;
}

static const uint32_t isal_lvl_size[] = {
	ISAL_DEF_LVL0_DEFAULT, ISAL_DEF_LVL1_DEFAULT, ISAL_DEF_LVL2_DEFAULT,
	ISAL_DEF_LVL3_DEFAULT,
};

static size_t isal_comp(int level, const unsigned char *in, size_t n,
			unsigned char *out, size_t cap)
{
	struct isal_zstream s;
	unsigned char *lb = malloc(isal_lvl_size[level]);
	size_t r = 0;

	if (!lb)
		return 0;
	isal_deflate_init(&s);
	s.gzip_flag = IGZIP_GZIP;
	s.level = (uint32_t)level;
	s.level_buf = lb;
	s.level_buf_size = isal_lvl_size[level];
	s.end_of_stream = 1;
	s.flush = NO_FLUSH;
	s.next_in = (uint8_t *)in;
	s.avail_in = (uint32_t)n;
	s.next_out = out;
	s.avail_out = (uint32_t)cap;
	if (isal_deflate(&s) == COMP_OK &&
	    s.internal_state.state == ZSTATE_END)
		r = s.total_out;
	free(lb);
	return r;
}

static size_t isal_decomp(const unsigned char *in, size_t n,
			  unsigned char *out, size_t cap)
{
	struct inflate_state s;

	isal_inflate_init(&s);
	s.crc_flag = ISAL_GZIP;
	s.next_in = (uint8_t *)in;
	s.avail_in = (uint32_t)n;
	s.next_out = out;
	s.avail_out = (uint32_t)cap;
	if (isal_inflate(&s) != ISAL_DECOMP_OK ||
	    s.block_state != ISAL_BLOCK_FINISH)
		return (size_t)-1;
	return s.total_out;
}

struct lib {
	const char *name;
	int level;
	size_t (*comp)(int, const unsigned char *, size_t, unsigned char *,
		       size_t);
	size_t (*decomp)(const unsigned char *, size_t, unsigned char *,
			 size_t);
};

static const struct lib libs[] = {
	{ "zlib", 1, zlib_comp, zlib_decomp },
	{ "zlib", 6, zlib_comp, zlib_decomp },
	{ "zlib", 9, zlib_comp, zlib_decomp },
	{ "libdeflate", 1, ldf_comp, ldf_decomp },
	{ "libdeflate", 6, ldf_comp, ldf_decomp },
	{ "libdeflate", 9, ldf_comp, ldf_decomp },
	{ "igzip", 1, isal_comp, isal_decomp },
	{ "igzip", 3, isal_comp, isal_decomp },
};

/* the mix: size and how many objects of it per kind */
static const struct { size_t size; int count; } mix[] = {
	{ (size_t)4 << 10, 256 },
	{ (size_t)64 << 10, 32 },
	{ (size_t)1 << 20, 8 },
	{ (size_t)16 << 20, 1 },
	{ (size_t)64 << 20, 1 },
};

int main(int argc, char **argv)
{
	size_t max = (size_t)64 << 20, cap, m, k;
	unsigned char *in, *out, *back;
	int rounds = 3, opt, kind;

	while ((opt = getopt(argc, argv, "r:s:")) != -1) {
		if (opt == 'r')
			rounds = atoi(optarg);
		else if (opt == 's')
			max = (size_t)atoi(optarg) << 20;
		else {
			fprintf(stderr, "usage: bench_gzip [-r rounds] "
				"[-s max_size_mib]\n");
			return 2;
		}
	}
	if (rounds < 1)
		rounds = 1;
	cap = max + max / 8 + (1 << 16);
	in = malloc(max);
	out = malloc(cap);
	back = malloc(max);
	if (!in || !out || !back)
		return 1;
	printf("%-10s %5s %-6s %12s %12s %7s\n", "library", "level", "kind",
	       "comp MB/s", "decomp MB/s", "ratio");
	for (kind = 0; kind < 2; kind++) {
		if (kind)
			fill_random(in, max);
		else
			fill_text(in, max);
		for (k = 0; k < sizeof(libs) / sizeof(libs[0]); k++) {
			const struct lib *l = &libs[k];
			double tc = 0, td = 0;
			uint64_t bytes = 0, packed = 0;

			for (m = 0; m < sizeof(mix) / sizeof(mix[0]); m++) {
				size_t sz = mix[m].size;
				double bc = 1e30, bd = 1e30;
				size_t clen = 0;
				int r, i;

				if (sz > max)
					continue;
				for (r = 0; r < rounds; r++) {
					double t0 = now(), t1, t2;

					/* objects at different offsets of
					 * the buffer: not one block cached */
					for (i = 0; i < mix[m].count; i++)
						clen = l->comp(l->level,
							in + (sz * (size_t)i) %
							(max - sz + 1), sz,
							out, cap);
					t1 = now();
					for (i = 0; i < mix[m].count; i++) {
						if (l->decomp(out, clen, back,
							      max) != sz) {
							fprintf(stderr, "%s: "
								"round trip "
								"failed\n",
								l->name);
							return 1;
						}
					}
					t2 = now();
					if (t1 - t0 < bc)
						bc = t1 - t0;
					if (t2 - t1 < bd)
						bd = t2 - t1;
				}
				if (memcmp(back, in + (sz * (size_t)(
					mix[m].count - 1)) % (max - sz + 1), sz)) {
					fprintf(stderr, "%s: content differs\n",
						l->name);
					return 1;
				}
				tc += bc;
				td += bd;
				bytes += (uint64_t)sz * (uint64_t)mix[m].count;
				packed += (uint64_t)clen *
					  (uint64_t)mix[m].count;
			}
			printf("%-10s %5d %-6s %12.1f %12.1f %7.3f\n", l->name,
			       l->level, kind ? "random" : "text",
			       (double)bytes / tc / 1e6,
			       (double)bytes / td / 1e6,
			       (double)bytes / (double)packed);
			fflush(stdout);
		}
	}
	free(in);
	free(out);
	free(back);
	return 0;
}
