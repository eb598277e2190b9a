/* test_pysnap: the Python tool's .jsonl.gz snapshots through
 * snapshot_reader (the gzip dispatch): every field, escapes, synthesized
 * directories, bad lines, gzip damage, bounds, the float mtime rules. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "entry.h"
#include "errbuf.h"
#include "pysnap_reader.h"
#include "snapshot.h"
#include "snapshot_reader.h"
#include "test.h"

#include "banned.h"

#define SNAP_NAME "/x/2026/12/2026-12-04_14-34-54_078234Z.jsonl.gz"

struct buf {
	uint8_t *p;
	size_t len;
};

/* gzip (one member) of len bytes of text, appended to b */
static void gz_append(struct buf *b, const char *text, size_t len)
{
	z_stream zs;
	size_t cap;
	uint8_t *np;

	memset(&zs, 0, sizeof(zs));
	CHECK_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
			      Z_DEFAULT_STRATEGY), Z_OK);
	cap = deflateBound(&zs, (uLong)len) + 64;
	np = realloc(b->p, b->len + cap);
	if (!np)
		abort();
	b->p = np;
	zs.next_in = (Bytef *)(uintptr_t)text;
	zs.avail_in = (uInt)len;
	zs.next_out = b->p + b->len;
	zs.avail_out = (uInt)cap;
	CHECK_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
	b->len += cap - zs.avail_out;
	deflateEnd(&zs);
}

static struct buf gz(const char *text)
{
	struct buf b = { NULL, 0 };

	gz_append(&b, text, strlen(text));
	return b;
}

struct src {
	const uint8_t *p;
	size_t len, pos, chunk;
};

static ssize_t src_read(void *ctx, void *buf, size_t len)
{
	struct src *s = ctx;
	size_t n = s->len - s->pos;

	if (n > len)
		n = len;
	if (s->chunk && n > s->chunk)
		n = s->chunk;
	memcpy(buf, s->p + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

/* Read all; entries into out[] (up to max, caller releases). Returns the
 * count or the error (then out[] holds nothing). */
static long read_buf(const struct buf *b, size_t chunk, struct entry *out,
		     size_t max, struct errbuf *eb,
		     struct snapshot_header *hdr)
{
	struct src s = { b->p, b->len, 0, chunk };
	struct snapshot_reader *r = NULL;
	struct entry e = ENTRY_INIT;
	long n = 0;
	int rc;

	errbuf_clear(eb);
	rc = snapshot_reader_new(src_read, &s, SNAP_NAME, &r, eb);
	if (rc)
		return rc;
	if (hdr)
		*hdr = *snapshot_reader_header(r);
	for (;;) {
		rc = snapshot_reader_next(r, &e, eb);
		if (rc <= 0)
			break;
		if ((size_t)n < max)
			out[n] = e;
		else
			entry_release(&e);
		entry_init(&e);
		n++;
	}
	if (rc == 0) {
		CHECK_EQ(snapshot_reader_count(r), n);
		/* the end is sticky */
		CHECK_EQ(snapshot_reader_next(r, &e, eb), 0);
	}
	snapshot_reader_free(r);
	if (rc < 0) {
		/* entries before the error are not the caller's */
		while (n > 0)
			if ((size_t)--n < max)
				entry_release(&out[n]);
		return rc;
	}
	return n;
}

static long read_text(const char *text, struct entry *out, size_t max,
		      struct errbuf *eb)
{
	struct buf b = gz(text);
	long n = read_buf(&b, 0, out, max, eb, NULL);

	free(b.p);
	return n;
}

static void release_all(struct entry *e, long n)
{
	long i;

	for (i = 0; i < n && i < 16; i++)
		entry_release(&e[i]);
}

#define REC(name, rest) \
	"{\"md5\": \"f4d0600bd7b3bf528fbf8b40fd0064a6\", \"name\": \"" name \
	"\", \"size\": 3, \"type\": \"file\"" rest "}"

static void test_fields(void)
{
	static const char text[] =
		"{\"created\": 1796394893.808555, \"gid\": 0, \"ino\": 11084658, "
		"\"islink\": false, \"md5\": \"F4D0600BD7B3BF528FBF8B40FD0064A6\", "
		"\"mode\": 33188, \"mtime\": 1796387693.8110535, \"name\": "
		"\"data/sub/blob.bin\", \"nlink\": 1, \"size\": 100000, \"type\": "
		"\"file\", \"uid\": 0, \"extra\": {\"a\": [1, 2.5e3, null, "
		"\"x\\n\"], \"b\": true}}\n"
		REC("data/sub/c", ", \"mode\": 33261") "\n"
		REC("data/z", "") "\n"
		REC("top", "");
	struct entry e[16];
	struct errbuf eb = ERRBUF_INIT;
	struct snapshot_header hdr;
	struct buf b = gz(text);
	long n;

	n = read_buf(&b, 0, e, 16, &eb, &hdr);
	CHECK_EQ(n, 6);
	if (n != 6) {
		fprintf(stderr, "%s\n", eb.msg);
		goto out;
	}
	CHECK_EQ(hdr.format, SNAPSHOT_FORMAT_JSONL_GZ);
	CHECK_STREQ(hdr.tool, PYSNAP_TOOL);
	CHECK_EQ(hdr.created_ns, 1796394894078234000LL);
	CHECK_STREQ(e[0].name, "data");
	CHECK_EQ(e[0].type, ENTRY_DIR);
	CHECK(e[0].no_meta);
	CHECK_STREQ(e[1].name, "data/sub");
	CHECK_EQ(e[1].type, ENTRY_DIR);
	CHECK_STREQ(e[2].name, "data/sub/blob.bin");
	CHECK_EQ(e[2].type, ENTRY_FILE);
	CHECK(!e[2].no_meta);
	CHECK_EQ(e[2].size, 100000);
	CHECK_EQ(e[2].mode, 0644);
	CHECK_EQ(e[2].mtime_ns, 1796387693811053514LL);
	CHECK_EQ(e[2].ctime_ns, 1796394893808554888LL);
	CHECK_EQ(e[2].ino, 11084658);
	CHECK(e[2].has_md5);
	CHECK_EQ(e[2].md5.b[0], 0xf4);
	CHECK_EQ(e[2].md5.b[15], 0xa6);
	CHECK(!e[2].etag);
	CHECK_STREQ(e[3].name, "data/sub/c");
	CHECK_EQ(e[3].mode, 0755);
	CHECK_STREQ(e[4].name, "data/z");
	CHECK_EQ(e[4].mode, 0644);  /* no mode recorded */
	CHECK_STREQ(e[5].name, "top");
	/* the stream is in entry order */
	for (long i = 1; i < n; i++)
		CHECK(entry_cmp(&e[i - 1], &e[i]) < 0);
	/* short reads give the same */
	release_all(e, n);
	CHECK_EQ(read_buf(&b, 1, e, 16, &eb, NULL), 6);
	CHECK_STREQ(e[2].name, "data/sub/blob.bin");
	release_all(e, 6);
	n = 0;
out:
	release_all(e, n);
	free(b.p);
}

static void test_store_fields(void)
{
	static const char text[] =
		"{\"content_settings\": {\"content_type\": null, "
		"\"content_md5\": \"9NBgC9ezv1KPv4tA/QBkpg==\"}, \"etag\": "
		"\"\\\"0x8DC1234\\\"\", \"last_modified\": "
		"\"2024-05-01T10:00:00.5+00:00\", \"name\": \"a\", \"size\": 1, "
		"\"type\": \"file\"}\n"
		"{\"ETag\": \"\\\"abc\\\"\", \"LastModified\": "
		"\"2024-05-01T12:00:00+02:00\", \"md5\": "
		"\"f4d0600bd7b3bf528fbf8b40fd0064a6\", \"name\": \"b\", "
		"\"size\": 1, \"type\": \"file\"}";
	struct entry e[16];
	struct errbuf eb = ERRBUF_INIT;
	long n = read_text(text, e, 16, &eb);

	CHECK_EQ(n, 2);
	if (n != 2) {
		fprintf(stderr, "%s\n", eb.msg);
		release_all(e, n);
		return;
	}
	CHECK_EQ(e[0].md5.b[0], 0xf4);
	CHECK_EQ(e[0].md5.b[15], 0xa6);
	CHECK_STREQ(e[0].etag, "0x8DC1234");
	CHECK_EQ(e[0].mtime_ns, 1714557600500000000LL);
	CHECK_STREQ(e[1].etag, "\"abc\"");
	CHECK_EQ(e[1].mtime_ns, 1714557600000000000LL);
	release_all(e, n);
}

static void test_escapes(void)
{
	/* é, U+1F600 as a surrogate pair, surrogateescape byte 0xff, \/,
	 * U+20AC (three bytes) in upper-case digits */
	static const char text[] =
		REC("caf\\u00e9/\\ud83d\\ude00\\udcff\\/x\\t\\u20AC", "");
	static const char want_dir[] = "caf\xc3\xa9";
	static const char want[] = "caf\xc3\xa9/\xf0\x9f\x98\x80\xff/x\t"
				   "\xe2\x82\xac";
	struct entry e[16];
	struct errbuf eb = ERRBUF_INIT;
	long n = read_text(text, e, 16, &eb);

	CHECK_EQ(n, 3);
	if (n != 3) {
		fprintf(stderr, "%s\n", eb.msg);
		release_all(e, n);
		return;
	}
	CHECK_STREQ(e[0].name, want_dir);
	CHECK_EQ(e[1].type, ENTRY_DIR);
	CHECK_EQ(e[2].type, ENTRY_FILE);
	CHECK_EQ(e[2].name_len, sizeof(want) - 1);
	CHECK(!memcmp(e[2].name, want, sizeof(want) - 1));
	release_all(e, n);
}

static void expect_bad(const char *text, int line, const char *why)
{
	struct entry e[16];
	struct errbuf eb = ERRBUF_INIT;
	char at[64];
	long n = read_text(text, e, 16, &eb);

	CHECK_EQ(n, -EBADMSG);
	snprintf(at, sizeof(at), "line %d: ", line);
	CHECK(strstr(eb.msg, "corrupt snapshot '" SNAP_NAME "'") != NULL);
	CHECK(strstr(eb.msg, at) != NULL);
	CHECK(strstr(eb.msg, why) != NULL);
	if (n != -EBADMSG || !strstr(eb.msg, why) || !strstr(eb.msg, at))
		fprintf(stderr, "  for %s: got %ld '%s'\n", text, n, eb.msg);
	if (n > 0)
		release_all(e, n);
}

static void test_bad_lines(void)
{
	expect_bad("{\"name\": \"a\", \"size\": 1, \"type\": \"file\"}", 1,
		   "no 'md5'");
	expect_bad(REC("a", "") "\n{\"md5\": \"f4d0600bd7b3bf528fbf8b40fd0064ag\""
		   ", \"name\": \"b\", \"size\": 1, \"type\": \"file\"}", 2,
		   "32 hex");
	expect_bad("{\"md5\": \"f4d0\", \"name\": \"b\", \"size\": 1, "
		   "\"type\": \"file\"}", 1, "32 hex");
	expect_bad(REC("a/../b", ""), 1, "");
	expect_bad(REC("/abs", ""), 1, "");
	expect_bad(REC("a\\u0000b", ""), 1, "");
	expect_bad(REC("a//b", ""), 1, "");
	expect_bad(REC("b", "") "\n" REC("a", ""), 2, "names out of order");
	expect_bad(REC("a", "") "\n" REC("a", ""), 2, "duplicate name");
	expect_bad(REC("a", "") "\n" REC("a/b", ""), 2,
		   "a file is also a directory");
	expect_bad(REC("a", ", \"mode\": 16877"), 1, "regular file");
	expect_bad(REC("a", ", \"name\": \"b\""), 1, "duplicate key 'name'");
	expect_bad("{\"md5\": \"f4d0600bd7b3bf528fbf8b40fd0064a6\", "
		   "\"name\": \"a\", \"size\": 1, \"type\": \"directory\"}", 1,
		   "not \"file\"");
	expect_bad("{\"md5\": \"f4d0600bd7b3bf528fbf8b40fd0064a6\", "
		   "\"name\": \"a\", \"size\": -1, \"type\": \"file\"}", 1,
		   "'size'");
	expect_bad(REC("\\ud800x", ""), 1, "unpaired surrogate");
	expect_bad(REC("\\udc10", ""), 1, "unpaired surrogate");
	expect_bad(REC("a", ", \"mtime\": NaN"), 1, "not a number");
	expect_bad(REC("a", "") " x", 1, "data after the object");
	expect_bad(REC("a", "") "\n\n" REC("b", ""), 2, "empty line");
	expect_bad("[1]", 1, "not a JSON object");
	expect_bad(REC("a", ", \"x\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
		       "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"), 1,
		   "nested deeper");
	expect_bad("{\"name\": \"a\\x\"}", 1, "bad escape");
	expect_bad("{\"name\": \"a", 1, "unterminated string");
}

static void test_empty_and_newline(void)
{
	struct entry e[16];
	struct errbuf eb = ERRBUF_INIT;
	struct snapshot_header hdr;
	struct buf b = gz("");
	long n;

	/* zero lines: gzip of an empty text */
	CHECK_EQ(read_buf(&b, 0, e, 16, &eb, &hdr), 0);
	CHECK_EQ(hdr.format, SNAPSHOT_FORMAT_JSONL_GZ);
	free(b.p);
	/* a final newline ends the text */
	n = read_text(REC("a", "") "\n", e, 16, &eb);
	CHECK_EQ(n, 1);
	release_all(e, n);
}

static void test_gzip_damage(void)
{
	static const char text[] = REC("a", "") "\n" REC("b/c", "");
	struct entry e[16];
	struct errbuf eb = ERRBUF_INIT;
	struct buf b = gz(text);
	struct buf t;
	size_t cut;
	long n;

	/* every truncation is refused */
	for (cut = 1; cut < b.len; cut++) {
		t.p = b.p;
		t.len = cut;
		n = read_buf(&t, 0, e, 16, &eb, NULL);
		CHECK(n < 0);
		if (n >= 0) {
			fprintf(stderr, "  truncated at %zu read\n", cut);
			release_all(e, n);
		} else if (n != -EBADMSG) {
			CHECK_EQ(n, -EBADMSG);
		}
	}
	/* bad CRC-32, bad ISIZE */
	b.p[b.len - 8] ^= 1;
	CHECK_EQ(read_buf(&b, 0, e, 16, &eb, NULL), -EBADMSG);
	CHECK(strstr(eb.msg, "bad gzip data") != NULL);
	b.p[b.len - 8] ^= 1;
	b.p[b.len - 1] ^= 1;
	CHECK_EQ(read_buf(&b, 0, e, 16, &eb, NULL), -EBADMSG);
	b.p[b.len - 1] ^= 1;
	n = read_buf(&b, 0, e, 16, &eb, NULL);
	CHECK_EQ(n, 3);
	release_all(e, n);
	/* trailing garbage, trailing zeros */
	t.p = malloc(b.len + 4);
	if (!t.p)
		abort();
	memcpy(t.p, b.p, b.len);
	memcpy(t.p + b.len, "junk", 4);
	t.len = b.len + 4;
	CHECK_EQ(read_buf(&t, 0, e, 16, &eb, NULL), -EBADMSG);
	CHECK(strstr(eb.msg, "data after the gzip data") != NULL);
	memset(t.p + b.len, 0, 4);
	CHECK_EQ(read_buf(&t, 0, e, 16, &eb, NULL), -EBADMSG);
	free(t.p);
	free(b.p);

	/* several members are one text */
	b.p = NULL;
	b.len = 0;
	gz_append(&b, REC("a", "") "\n", strlen(REC("a", "") "\n"));
	gz_append(&b, REC("b/c", ""), strlen(REC("b/c", "")));
	n = read_buf(&b, 7, e, 16, &eb, NULL);
	CHECK_EQ(n, 3);
	if (n == 3)
		CHECK_STREQ(e[2].name, "b/c");
	release_all(e, n);
	free(b.p);
}

static void test_long_line(void)
{
	size_t len = PYSNAP_LINE_MAX + 100;
	char *text = malloc(len + 1);
	struct entry e[16];
	struct errbuf eb = ERRBUF_INIT;
	struct buf b = { NULL, 0 };
	long n;

	if (!text)
		abort();
	memset(text, ' ', len);
	memcpy(text, REC("a", ""), strlen(REC("a", "")));
	text[len] = '\0';
	gz_append(&b, text, len);
	n = read_buf(&b, 0, e, 16, &eb, NULL);
	CHECK_EQ(n, -EBADMSG);
	CHECK(strstr(eb.msg, "line longer than") != NULL);
	free(b.p);
	/* just under the bound is fine */
	b.p = NULL;
	b.len = 0;
	gz_append(&b, text, PYSNAP_LINE_MAX);
	n = read_buf(&b, 0, e, 16, &eb, NULL);
	CHECK_EQ(n, 1);
	release_all(e, n);
	free(b.p);
	free(text);
}

static void test_float_mtime(void)
{
	int64_t ns;

	/* expected values from python3: w = math.floor(f);
	 * w * 10**9 + round((f - w) * 1e9) */
	CHECK_EQ(pysnap_float_to_ns(1796387693.8110535, &ns), 0);
	CHECK_EQ(ns, 1796387693811053514LL);
	CHECK_EQ(pysnap_float_to_ns(1796394895.271322, &ns), 0);
	CHECK_EQ(ns, 1796394895271322012LL);
	CHECK_EQ(pysnap_float_to_ns(1700000000.0000005, &ns), 0);
	CHECK_EQ(ns, 1700000000000000477LL);
	CHECK_EQ(pysnap_float_to_ns(1234567890.9999999, &ns), 0);
	CHECK_EQ(ns, 1234567891000000000LL);
	CHECK_EQ(pysnap_float_to_ns(-1.25, &ns), 0);
	CHECK_EQ(ns, -1250000000LL);
	CHECK_EQ(pysnap_float_to_ns(1e300, &ns), -ERANGE);

	/* the Python rule: CPython's st_mtime of the scanned ns equals the
	 * recorded float. 1796387693.8110535 is what CPython gives for
	 * ...811053400 and for ...811053514 (same double) */
	CHECK(pysnap_mtime_matches(1796387693811053514LL,
				   1796387693811053514LL));
	CHECK(pysnap_mtime_matches(1796387693811053514LL,
				   1796387693811053500LL));
	CHECK(!pysnap_mtime_matches(1796387693811053514LL,
				    1796387693811054000LL));
	CHECK(!pysnap_mtime_matches(1796387693811053514LL,
				    1796387694811053514LL));
}

int main(void)
{
	RUN_TEST(test_fields);
	RUN_TEST(test_store_fields);
	RUN_TEST(test_escapes);
	RUN_TEST(test_bad_lines);
	RUN_TEST(test_empty_and_newline);
	RUN_TEST(test_gzip_damage);
	RUN_TEST(test_long_line);
	RUN_TEST(test_float_mtime);
	return test_finish();
}
