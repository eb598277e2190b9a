/* test_pysnap_writer: the Python-format snapshot pieces against python3 itself:
 * float repr and ensure_ascii escaping on thousands of generated values
 * (python3 computes the expected text at test time), and the writer's
 * gzip output, skips and order checks. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "entry.h"
#include "errbuf.h"
#include "pyjson.h"
#include "pysnap_writer.h"
#include "test.h"

#include "banned.h"

#define NFLOAT 6000
#define NSTR 3000

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic, so a failure reproduces */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static double gen_float(unsigned i)
{
	uint64_t bits;
	double d;
	int64_t sec;

	switch (i % 8) {
	case 0:   /* any finite double */
		do {
			bits = rng();
			memcpy(&d, &bits, sizeof(d));
		} while (!isfinite(d));
		return d;
	case 1:   /* st_mtime as CPython computes it */
	case 2:
		sec = (int64_t)(rng() % 4102444800ULL);
		return (double)sec + (double)(rng() % 1000000000) * 1e-9;
	case 3:   /* integral */
		return (double)(int64_t)(rng() % 100000000000000000ULL) *
		       (rng() & 1 ? 1 : -1);
	case 4:   /* tiny */
		return ldexp((double)(rng() >> 11), -(int)(rng() % 1100) - 53);
	case 5:   /* huge */
		return ldexp((double)(rng() >> 11), (int)(rng() % 970));
	case 6:   /* near the fixed/exponent switch points */
		return (i & 8 ? 1e16 : 1e-4) *
		       (1.0 + ((double)(rng() % 2001) - 1000.0) * 1e-15);
	default:  /* short decimals */
		d = (double)(int64_t)(rng() % 100000);
		for (sec = (int64_t)(rng() % 12); sec > 0; sec--)
			d /= 10;
		return d;
	}
}

static size_t gen_str(unsigned i, unsigned char *s)
{
	static const char *const pieces[] = {
		"a", "\"", "\\", "\n", "\r", "\t", "\b", "\f", "\x01", "\x1f",
		"\x7f", " ", "~", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80",
		"\xf4\x8f\xbf\xbf", "\xef\xbf\xbf", "\xff", "\x80", "\xc0\xaf",
		"\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82",
		"\xf0\x9f\x98", "\xc3", "/", "\xc2\x80", "\xee\x80\x80",
	};
	size_t n = 0, k, np = sizeof(pieces) / sizeof(pieces[0]);
	unsigned parts = (unsigned)(rng() % 8);

	if (i % 3 == 0) {  /* random bytes */
		parts = (unsigned)(rng() % 16);
		for (k = 0; k < parts; k++)
			s[n++] = (unsigned char)rng();
		return n;
	}
	for (k = 0; k < parts; k++) {
		const char *p = pieces[rng() % np];

		memcpy(s + n, p, strlen(p));
		n += strlen(p);
	}
	return n;
}

static const char py_script[] =
	"import json, sys\n"
	"out = sys.stdout\n"
	"for line in open(sys.argv[1]):\n"
	"    k, v = line.split()\n"
	"    if k == 'f':\n"
	"        out.write(json.dumps(float.fromhex(v)) + '\\n')\n"
	"    else:\n"
	"        b = bytes.fromhex(v[1:])\n"
	"        s = b.decode('utf-8', 'surrogateescape')\n"
	"        out.write(json.dumps(s)[1:-1] + '\\n')\n";

static void test_against_python(void)
{
	char in_path[] = "/tmp/test_pysnap_in.XXXXXX";
	char py_path[] = "/tmp/test_pysnap_py.XXXXXX";
	char cmd[256], line[512], mine[512];
	unsigned char s[64];
	double *vals;
	unsigned char (*strs)[64];
	size_t *lens;
	FILE *in, *py, *out;
	unsigned i, mismatches = 0, seen = 0;
	int fd;

	if (system("python3 -c 'pass' >/dev/null 2>&1") != 0) {
		fprintf(stderr, "python3 is required (tests/install-deps.sh)\n");
		CHECK(!"python3 available");
		return;
	}
	vals = calloc(NFLOAT, sizeof(*vals));
	strs = calloc(NSTR, sizeof(*strs));
	lens = calloc(NSTR, sizeof(*lens));
	CHECK(vals && strs && lens);
	fd = mkstemp(in_path);
	CHECK(fd >= 0);
	in = fdopen(fd, "w");
	fd = mkstemp(py_path);
	CHECK(fd >= 0);
	py = fdopen(fd, "w");
	if (!vals || !strs || !lens || !in || !py)
		goto out;
	fputs(py_script, py);
	fclose(py);
	for (i = 0; i < NFLOAT; i++) {
		vals[i] = gen_float(i);
		fprintf(in, "f %a\n", vals[i]);
	}
	for (i = 0; i < NSTR; i++) {
		size_t k;

		lens[i] = gen_str(i, s);
		memcpy(strs[i], s, lens[i]);
		fputs("s x", in);
		for (k = 0; k < lens[i]; k++)
			fprintf(in, "%02x", s[k]);
		fputc('\n', in);
	}
	fclose(in);
	snprintf(cmd, sizeof(cmd), "python3 %s %s", py_path, in_path);
	out = popen(cmd, "r");
	CHECK(out != NULL);
	if (!out)
		goto out;
	for (i = 0; i < NFLOAT + NSTR && fgets(line, sizeof(line), out); i++) {
		line[strcspn(line, "\n")] = '\0';
		if (i < NFLOAT) {
			pyjson_float_repr(vals[i], mine);
		} else {
			size_t n = pyjson_escape((const char *)strs[i - NFLOAT],
						 lens[i - NFLOAT], mine);
			mine[n] = '\0';
		}
		seen++;
		if (strcmp(line, mine)) {
			if (mismatches++ < 10)
				fprintf(stderr, "item %u: python '%s', ours "
					"'%s'\n", i, line, mine);
		}
	}
	CHECK_EQ(pclose(out), 0);
	CHECK_EQ(seen, NFLOAT + NSTR);
	CHECK_EQ(mismatches, 0);
out:
	unlink(in_path);
	unlink(py_path);
	free(vals);
	free(strs);
	free(lens);
}

static void test_float_fixed(void)
{
	static const struct {
		double x;
		const char *want;
	} cases[] = {
		{ 0.0, "0.0" }, { -0.0, "-0.0" }, { 1.0, "1.0" },
		{ 1e16, "1e+16" }, { 9999999999999998.0, "9999999999999998.0" },
		{ 1e-4, "0.0001" }, { 1e-5, "1e-05" }, { 0.1, "0.1" },
		{ 1796387693.8110535, "1796387693.8110535" },
		{ 1.5e300, "1.5e+300" }, { 5e-324, "5e-324" },
		{ 123456789012345680.0, "1.2345678901234568e+17" },
	};
	char buf[PYJSON_FLOAT_MAX];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pyjson_float_repr(cases[i].x, buf);
		CHECK_STREQ(buf, cases[i].want);
	}
}

struct mem {
	unsigned char *p;
	size_t len, cap;
};

static int mem_write(void *ctx, const void *buf, size_t len)
{
	struct mem *m = ctx;

	if (m->len + len > m->cap) {
		size_t cap = (m->len + len) * 2;
		unsigned char *p = realloc(m->p, cap);

		if (!p)
			return -ENOMEM;
		m->p = p;
		m->cap = cap;
	}
	memcpy(m->p + m->len, buf, len);
	m->len += len;
	return 0;
}

static void set_entry(struct entry *e, const char *name, uint8_t type)
{
	entry_init(e);
	CHECK_EQ(entry_set_name(e, name, strlen(name)), 0);
	e->type = type;
	e->mode = 0644;
	e->size = 6;
	e->mtime_ns = 1796387693811053500LL;
	e->ctime_ns = 1796394893808555000LL;
	e->ino = 11083954;
	e->nlink = 1;
	e->uid = 1000;
	e->gid = 100;
	e->has_md5 = type == ENTRY_FILE;
	memset(e->md5.b, 0xab, sizeof(e->md5.b));
}

static void test_writer(void)
{
	static const char want[] =
		"{\"created\": 1796394893.808555, \"gid\": 100, \"ino\": "
		"11083954, \"islink\": false, \"md5\": \"abababababababab"
		"abababababababab\", \"mode\": 33188, \"mtime\": "
		"1796387693.8110535, \"name\": \"a/caf\\u00e9\", \"nlink\": 1, "
		"\"size\": 6, \"type\": \"file\", \"uid\": 1000}\n"
		"{\"created\": 1796394893.808555, \"gid\": 100, \"ino\": "
		"11083954, \"islink\": false, \"md5\": \"abababababababab"
		"abababababababab\", \"mode\": 33188, \"mtime\": "
		"1796387693.8110535, \"name\": \"b\\udcff\", \"nlink\": 1, "
		"\"size\": 6, \"type\": \"file\", \"uid\": 1000}";
	struct errbuf eb = ERRBUF_INIT;
	struct pysnap_writer *w = NULL;
	struct mem m = { NULL, 0, 0 };
	struct entry e;
	uint64_t dirs = 9, empty = 9, links = 9;
	char text[2048];
	uLongf tlen = sizeof(text);
	z_stream z;

	CHECK_EQ(pysnap_writer_new(mem_write, &m, false, &w, &eb), 0);
	if (!w)
		return;
	set_entry(&e, "a", ENTRY_DIR);
	CHECK_EQ(pysnap_writer_add(w, &e, &eb), 0);
	entry_release(&e);
	set_entry(&e, "a/caf\xc3\xa9", ENTRY_FILE);
	CHECK_EQ(pysnap_writer_add(w, &e, &eb), 0);
	/* the same name again: out of order */
	CHECK_ERR(pysnap_writer_add(w, &e, &eb), EINVAL);
	entry_release(&e);
	set_entry(&e, "a/link", ENTRY_SYMLINK);
	CHECK_EQ(pysnap_writer_add(w, &e, &eb), 0);
	entry_release(&e);
	set_entry(&e, "a/m", ENTRY_DIR);   /* empty */
	CHECK_EQ(pysnap_writer_add(w, &e, &eb), 0);
	entry_release(&e);
	set_entry(&e, "b\xff", ENTRY_FILE);
	CHECK_EQ(pysnap_writer_add(w, &e, &eb), 0);
	entry_release(&e);
	CHECK_EQ(pysnap_writer_finish(w, &eb), 0);
	CHECK_EQ(pysnap_writer_count(w), 2);
	pysnap_writer_skipped(w, &dirs, &empty, &links);
	CHECK_EQ(dirs, 2);
	CHECK_EQ(empty, 1);
	CHECK_EQ(links, 1);
	pysnap_writer_free(w);

	/* a gzip stream (magic 1f 8b) whose content is the lines */
	CHECK(m.len > 18 && m.p[0] == 0x1f && m.p[1] == 0x8b);
	memset(&z, 0, sizeof(z));
	CHECK_EQ(inflateInit2(&z, 31), Z_OK);
	z.next_in = m.p;
	z.avail_in = (uInt)m.len;
	z.next_out = (unsigned char *)text;
	z.avail_out = (uInt)sizeof(text) - 1;
	CHECK_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
	tlen = sizeof(text) - 1 - z.avail_out;
	inflateEnd(&z);
	text[tlen] = '\0';
	CHECK_STREQ(text, want);
	free(m.p);
}

/* FILE_ROOT on an object store: only the fields this tool has */
static void test_writer_store_tree(void)
{
	static const char want[] =
		"{\"etag\": \"\\\"0x8D\\\"\", \"md5\": \"abababababababab"
		"abababababababab\", \"mtime\": 1796387693.8110535, "
		"\"name\": \"k/v\", \"size\": 6, \"type\": \"file\"}";
	struct errbuf eb = ERRBUF_INIT;
	struct pysnap_writer *w = NULL;
	struct mem m = { NULL, 0, 0 };
	struct entry e;
	char text[1024];
	z_stream z;

	CHECK_EQ(pysnap_writer_new(mem_write, &m, true, &w, &eb), 0);
	if (!w)
		return;
	set_entry(&e, "k/v", ENTRY_FILE);
	CHECK_EQ(entry_set_etag(&e, "\"0x8D\""), 0);
	CHECK_EQ(pysnap_writer_add(w, &e, &eb), 0);
	entry_release(&e);
	CHECK_EQ(pysnap_writer_finish(w, &eb), 0);
	pysnap_writer_free(w);
	memset(&z, 0, sizeof(z));
	CHECK_EQ(inflateInit2(&z, 31), Z_OK);
	z.next_in = m.p;
	z.avail_in = (uInt)m.len;
	z.next_out = (unsigned char *)text;
	z.avail_out = (uInt)sizeof(text) - 1;
	CHECK_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
	text[sizeof(text) - 1 - z.avail_out] = '\0';
	inflateEnd(&z);
	CHECK_STREQ(text, want);
	free(m.p);
}

static int fail_write(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
	return -ENOSPC;
}

static void test_writer_sink_error(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct pysnap_writer *w = NULL;
	struct entry e;

	CHECK_EQ(pysnap_writer_new(fail_write, NULL, false, &w, &eb), 0);
	if (!w)
		return;
	set_entry(&e, "x", ENTRY_FILE);
	CHECK_EQ(pysnap_writer_add(w, &e, &eb), 0);
	entry_release(&e);
	CHECK_ERR(pysnap_writer_finish(w, &eb), ENOSPC);
	CHECK(strstr(eb.msg, "cannot write snapshot") != NULL);
	pysnap_writer_free(w);
}

int main(void)
{
	RUN_TEST(test_float_fixed);
	RUN_TEST(test_against_python);
	RUN_TEST(test_writer);
	RUN_TEST(test_writer_store_tree);
	RUN_TEST(test_writer_sink_error);
	return test_finish();
}
