/* test_xattr: the encoded xattr list (encode, iterate, hostile input),
 * snapshot keys 16-19 through the writer and reader (round trip, and
 * crafted entries: bad lists, duplicate names, truncated or oversized
 * references), reading and applying xattrs on a real file, and the
 * sparse writer. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <msgpack.h>
#include <openssl/evp.h>

#include "entry.h"
#include "errbuf.h"
#include "snapshot.h"
#include "snapshot_format.h"
#include "snapshot_reader.h"
#include "snapshot_writer.h"
#include "sparse.h"
#include "xattr.h"
#include "test.h"

#include "banned.h"

struct mem {
	uint8_t *p;
	size_t len, cap, pos;
};

static int mem_write(void *ctx, const void *buf, size_t len)
{
	struct mem *m = ctx;

	if (m->len + len > m->cap) {
		size_t ncap = m->cap ? m->cap : 4096;
		uint8_t *np;

		while (ncap < m->len + len)
			ncap *= 2;
		np = realloc(m->p, ncap);
		if (!np)
			return -ENOMEM;
		m->p = np;
		m->cap = ncap;
	}
	memcpy(m->p + m->len, buf, len);
	m->len += len;
	return 0;
}

static ssize_t mem_read(void *ctx, void *buf, size_t len)
{
	struct mem *m = ctx;
	size_t n = m->len - m->pos;

	if (n > len)
		n = len;
	memcpy(buf, m->p + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static struct xattr_item item(const char *name, const void *value,
			      size_t len)
{
	struct xattr_item x = { name, strlen(name), value, len };

	return x;
}

static void test_encode_iterate(void)
{
	struct xattr_item xs[3];
	struct xattr_iter it;
	struct xattr_item x;
	unsigned char *enc = NULL;
	const char *why = NULL;
	size_t len = 0;
	static char big[300];

	memset(big, 'v', sizeof(big));
	xs[0] = item("user.b", "2", 1);
	xs[1] = item("user.a", "", 0);
	xs[2] = item("security.capability", big, sizeof(big));
	CHECK_EQ(xattr_encode(xs, 3, &enc, &len), 0);
	CHECK_EQ(xattr_check(enc, len, &why), 0);
	CHECK_EQ(xattr_iter_init(&it, enc, len, &why), 0);
	/* sorted by name */
	CHECK_EQ(xattr_iter_next(&it, &x, &why), 1);
	CHECK(x.name_len == 19 && !memcmp(x.name, "security.capability", 19));
	CHECK_EQ(x.value_len, sizeof(big));
	CHECK_EQ(xattr_iter_next(&it, &x, &why), 1);
	CHECK(x.name_len == 6 && !memcmp(x.name, "user.a", 6));
	CHECK_EQ(x.value_len, 0);
	CHECK_EQ(xattr_iter_next(&it, &x, &why), 1);
	CHECK(x.value_len == 1 && x.value[0] == '2');
	CHECK_EQ(xattr_iter_next(&it, &x, &why), 0);
	/* the empty list is zero bytes, or 0x90 */
	CHECK_EQ(xattr_check(NULL, 0, &why), 0);
	CHECK_EQ(xattr_check("\x90", 1, &why), 0);
	free(enc);
	/* duplicates and bad names are refused */
	xs[0] = item("user.a", "1", 1);
	xs[1] = item("user.a", "2", 1);
	CHECK_ERR(xattr_encode(xs, 2, &enc, &len), EINVAL);
	xs[0] = item("", "1", 1);
	CHECK_ERR(xattr_encode(xs, 1, &enc, &len), EINVAL);
	free(enc);
}

/* xattr_same_in: names outside ns make no difference, names inside do */
static void test_same_in(void)
{
	struct xattr_item xs[3];
	unsigned char *a = NULL, *b = NULL, *c = NULL;
	size_t alen = 0, blen = 0, clen = 0;
	unsigned user_acl = XATTR_NS_USER | XATTR_NS_ACL;

	xs[0] = item("user.a", "1", 1);
	xs[1] = item("security.capability", "cap", 3);
	CHECK_EQ(xattr_encode(xs, 2, &a, &alen), 0);
	xs[0] = item("user.a", "1", 1);
	xs[1] = item("security.selinux", "lbl", 3);
	xs[2] = item("trusted.x", "t", 1);
	CHECK_EQ(xattr_encode(xs, 3, &b, &blen), 0);
	xs[0] = item("user.a", "2", 1);
	CHECK_EQ(xattr_encode(xs, 1, &c, &clen), 0);
	CHECK(xattr_same_in(a, alen, b, blen, user_acl));
	CHECK(!xattr_same_in(a, alen, b, blen, XATTR_NS_ALL));
	CHECK(!xattr_same_in(a, alen, c, clen, user_acl));
	CHECK(xattr_same_in(a, alen, c, clen, XATTR_NS_ACL));
	/* an empty list (0 bytes) against one with only other names */
	CHECK(!xattr_same_in(NULL, 0, a, alen, user_acl));
	CHECK(xattr_same_in(NULL, 0, a, alen, XATTR_NS_ACL));
	CHECK(xattr_same_in("\x90", 1, NULL, 0, XATTR_NS_ALL));
	/* a malformed list is never the same */
	CHECK(!xattr_same_in("\x91\x01", 2, NULL, 0, XATTR_NS_ALL));
	free(a);
	free(b);
	free(c);
}

static void test_hostile_lists(void)
{
	static const struct {
		const char *bytes;
		size_t len;
		const char *why;
	} bad[] = {
		{ "\x91", 1, "pair" },                          /* truncated */
		{ "\x91\x92\xc4\x06user.a", 9, "truncated" },   /* no value */
		{ "\x91\x92\xc4\x10user.a\xc4\x00", 11, "truncated" },
		{ "\x91\x92\xc4\x00\xc4\x00", 6, "name" },      /* empty */
		{ "\x91\x92\xc4\x02u\0\xc4\x00", 8, "name" },   /* NUL */
		/* repeated and unsorted */
		{ "\x92\x92\xc4\x01" "a\xc4\x00\x92\xc4\x01" "a\xc4\x00", 13,
		  "sorted" },
		{ "\x92\x92\xc4\x01" "b\xc4\x00\x92\xc4\x01" "a\xc4\x00", 13,
		  "sorted" },
		{ "\x90\x00", 2, "after" },                     /* trailing */
		{ "\xdc\x00\x01\x92", 4, "header" },            /* not shortest */
		{ "\x91\x92\xc5\x00\x01" "a\xc4\x00", 8, "truncated" },
		{ "\xc4", 1, "header" },                        /* not a list */
		/* a count far over what the bytes hold */
		{ "\xdd\x7f\xff\xff\xff", 5, "too many" },
	};
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		CHECK_ERR(xattr_check(bad[i].bytes, bad[i].len, &why), EBADMSG);
		CHECK(why && strstr(why, bad[i].why));
		if (!why || !strstr(why, bad[i].why))
			fprintf(stderr, "  case %zu: %s\n", i, why ? why : "-");
	}
	/* oversized as a whole */
	CHECK_ERR(xattr_check("\x90", XATTRS_LIST_MAX + 1, &why), EBADMSG);
}

static void mk_entry(struct entry *e, const char *name, int type)
{
	entry_init(e);
	CHECK_EQ(entry_set_name(e, name, strlen(name)), 0);
	e->type = (uint8_t)type;
	e->mode = 0644;
	e->mtime_ns = 1700000000000000000LL;
	if (type == ENTRY_FILE) {
		e->has_md5 = true;
		e->size = 1 << 20;
	}
}

static void test_snapshot_keys(void)
{
	struct snapshot_header h = { .version = SNAPSHOT_VERSION,
				     .created_ns = 1 };
	struct errbuf eb = ERRBUF_INIT;
	struct snapshot_writer *w = NULL;
	struct snapshot_reader *r = NULL;
	struct mem m = { 0 };
	struct entry es[4], got = ENTRY_INIT;
	struct xattr_item xs[2];
	unsigned char *enc = NULL;
	size_t len = 0, i;

	xs[0] = item("user.x", "1", 1);
	xs[1] = item("system.posix_acl_access", "\x02\0\0\0", 4);
	CHECK_EQ(xattr_encode(xs, 2, &enc, &len), 0);
	mk_entry(&es[0], "a", ENTRY_FILE);        /* inline list, sparse */
	CHECK_EQ(entry_set_xattrs(&es[0], enc, len), 0);
	es[0].sparse = true;
	mk_entry(&es[1], "b", ENTRY_DIR);         /* recorded: none */
	CHECK_EQ(entry_set_xattrs(&es[1], NULL, 0), 0);
	mk_entry(&es[2], "c", ENTRY_FILE);        /* in the heap */
	es[2].xattrs_known = es[2].has_xattr_ref = true;
	es[2].xattrs_len = 20000;
	memset(es[2].xattr_md5.b, 0xab, OBJID_LEN);
	mk_entry(&es[3], "d", ENTRY_FILE);        /* unknown */
	/* the root's own list goes into the header (key 10) */
	memcpy(h.root_xattrs, enc, len);
	h.root_xattrs_len = len;
	h.has_root_xattrs = true;

	CHECK_EQ(snapshot_writer_new(mem_write, &m, &h, &w, &eb), 0);
	for (i = 0; i < 4; i++)
		CHECK_EQ(snapshot_writer_add(w, &es[i], &eb), 0);
	CHECK_EQ(snapshot_writer_finish(w, &eb), 0);
	snapshot_writer_free(w);

	CHECK_EQ(snapshot_reader_new(mem_read, &m, "mem", &r, &eb), 0);
	CHECK(snapshot_reader_header(r)->has_root_xattrs);
	CHECK_EQ(snapshot_reader_header(r)->root_xattrs_len, len);
	CHECK(!memcmp(snapshot_reader_header(r)->root_xattrs, enc, len));
	for (i = 0; i < 4; i++) {
		CHECK_EQ(snapshot_reader_next(r, &got, &eb), 1);
		CHECK_EQ(got.xattrs_known, es[i].xattrs_known);
		CHECK_EQ(got.has_xattr_ref, es[i].has_xattr_ref);
		CHECK_EQ(got.xattrs_len, es[i].xattrs_len);
		CHECK_EQ(got.sparse, es[i].sparse);
		CHECK(entry_same_xattrs(&got, &es[i]) == es[i].xattrs_known);
		entry_release(&got);
	}
	CHECK_EQ(snapshot_reader_next(r, &got, &eb), 0);
	snapshot_reader_free(r);

	/* the writer refuses an inline list over the bound */
	free(m.p);
	memset(&m, 0, sizeof(m));
	entry_release(&es[0]);
	mk_entry(&es[0], "a", ENTRY_FILE);
	es[0].xattrs_known = true;
	es[0].xattrs_len = XATTRS_INLINE_MAX + 1;
	es[0].xattrs = calloc(1, es[0].xattrs_len);
	CHECK_EQ(snapshot_writer_new(mem_write, &m, &h, &w, &eb), 0);
	CHECK_ERR(snapshot_writer_add(w, &es[0], &eb), EINVAL);
	CHECK(strstr(eb.msg, "xattrs too large") != NULL);
	snapshot_writer_free(w);
	for (i = 0; i < 4; i++)
		entry_release(&es[i]);
	free(enc);
	free(m.p);
}

/* A snapshot of one file entry with extra (key, raw msgpack value) pairs,
 * its checksum right: the reader must judge the values themselves. */
static long read_crafted_hdr(const uint8_t *hextra, size_t hextra_len,
			     unsigned nhextra, const uint8_t *extra,
			     size_t extra_len, unsigned nextra,
			     struct snapshot_header *hdr, struct errbuf *eb)
{
	static const uint8_t md5[16] = { 1 };
	struct snapshot_reader *r = NULL;
	struct entry e = ENTRY_INIT;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct mem m = { 0 };
	uint8_t digest[16], be[4];
	unsigned dlen = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	long n = 0;
	int rc, pass;

	EVP_DigestInit_ex2(md, EVP_md5(), NULL);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (pass = 0; pass < 3; pass++) {
		sb.size = 0;
		if (pass == 0) {
			msgpack_pack_map(&pk, 3 + nhextra);
			msgpack_pack_uint8(&pk, 0);
			msgpack_pack_uint8(&pk, 1);
			msgpack_pack_uint8(&pk, 1);
			msgpack_pack_uint8(&pk, 1);
			msgpack_pack_uint8(&pk, 2);
			msgpack_pack_int64(&pk, 1);
			if (hextra_len)
				msgpack_sbuffer_write(&sb, (const char *)hextra,
						      hextra_len);
		} else if (pass == 1) {
			msgpack_pack_map(&pk, 7 + nextra);
			msgpack_pack_uint8(&pk, 0);
			msgpack_pack_uint8(&pk, 2);
			msgpack_pack_uint8(&pk, 1);
			msgpack_pack_bin_with_body(&pk, "f", 1);
			msgpack_pack_uint8(&pk, 2);
			msgpack_pack_uint8(&pk, 1);
			msgpack_pack_uint8(&pk, 3);
			msgpack_pack_uint8(&pk, 5);
			msgpack_pack_uint8(&pk, 4);
			msgpack_pack_int64(&pk, 1);
			msgpack_pack_uint8(&pk, 5);
			msgpack_pack_uint16(&pk, 0644);
			msgpack_pack_uint8(&pk, 6);
			msgpack_pack_bin_with_body(&pk, md5, 16);
			msgpack_sbuffer_write(&sb, (const char *)extra,
					      extra_len);
		} else {
			EVP_DigestFinal_ex(md, digest, &dlen);
			msgpack_pack_map(&pk, 3);
			msgpack_pack_uint8(&pk, 0);
			msgpack_pack_uint8(&pk, 3);
			msgpack_pack_uint8(&pk, 1);
			msgpack_pack_uint8(&pk, 1);
			msgpack_pack_uint8(&pk, 2);
			msgpack_pack_bin_with_body(&pk, digest, 16);
		}
		if (pass == 0) {
			mem_write(&m, SNAPSHOT_MAGIC, SNAPSHOT_MAGIC_LEN);
			EVP_DigestUpdate(md, SNAPSHOT_MAGIC,
					 SNAPSHOT_MAGIC_LEN);
		}
		be[0] = (uint8_t)(sb.size >> 24);
		be[1] = (uint8_t)(sb.size >> 16);
		be[2] = (uint8_t)(sb.size >> 8);
		be[3] = (uint8_t)sb.size;
		mem_write(&m, be, 4);
		mem_write(&m, sb.data, sb.size);
		if (pass < 2) {
			EVP_DigestUpdate(md, be, 4);
			EVP_DigestUpdate(md, sb.data, sb.size);
		}
	}
	msgpack_sbuffer_destroy(&sb);
	EVP_MD_CTX_free(md);
	errbuf_clear(eb);
	rc = snapshot_reader_new(mem_read, &m, "mem", &r, eb);
	if (!rc && hdr)
		*hdr = *snapshot_reader_header(r);
	while (!rc && (rc = snapshot_reader_next(r, &e, eb)) == 1) {
		n++;
		entry_release(&e);
		rc = 0;
	}
	snapshot_reader_free(r);
	free(m.p);
	return rc < 0 ? rc : n;
}

static long read_crafted(const uint8_t *extra, size_t extra_len,
			 unsigned nextra, struct errbuf *eb)
{
	return read_crafted_hdr(NULL, 0, 0, extra, extra_len, nextra, NULL,
				eb);
}

static void expect_bad(const char *bytes, size_t len, unsigned n,
		       const char *why)
{
	struct errbuf eb = ERRBUF_INIT;

	CHECK_EQ(read_crafted((const uint8_t *)bytes, len, n, &eb), -EBADMSG);
	CHECK(strstr(eb.msg, why) != NULL);
	if (!strstr(eb.msg, why))
		fprintf(stderr, "  want '%s', got: %s\n", why, eb.msg);
}

static void test_reader_hostile(void)
{
	struct errbuf eb = ERRBUF_INIT;
	uint8_t big[12];

	/* sound: an unsorted list is taken (and sorted), an empty one too */
	CHECK_EQ(read_crafted((const uint8_t *)"\x10\x92\x92\xc4\x01"
			      "b\xc4\x00\x92\xc4\x01" "a\xc4\x00", 14, 1, &eb),
		 1);
	CHECK_EQ(read_crafted((const uint8_t *)"\x10\x90", 2, 1, &eb), 1);
	CHECK_EQ(read_crafted((const uint8_t *)"\x12\xc3", 2, 1, &eb), 1);
	/* duplicate names */
	expect_bad("\x10\x92\x92\xc4\x01" "a\xc4\x00\x92\xc4\x01" "a\xc4\x00",
		   14, 1, "repeated");
	/* not a list, not pairs, not bins */
	expect_bad("\x10\xc4\x00", 3, 1, "not a list");
	expect_bad("\x10\x91\x91\xc4\x01" "a", 6, 1, "pair");
	expect_bad("\x10\x91\x92\xa1" "a\xc4\x00", 7, 1, "pair");
	/* a name too long, a NUL in a name */
	{
		uint8_t b[300];

		b[0] = 0x10;
		b[1] = 0x91;
		b[2] = 0x92;
		b[3] = 0xc5;
		b[4] = 0x01;
		b[5] = 0x00;
		memset(b + 6, 'n', 256);
		b[262] = 0xc4;
		b[263] = 0x00;
		expect_bad((const char *)b, 264, 1, "xattr");
	}
	expect_bad("\x10\x91\x92\xc4\x02" "a\0\xc4\x00", 9, 1, "xattr");
	/* inline and a reference at once */
	memcpy(big, "\x10\x90\x13\x05", 4);
	expect_bad((const char *)big, 4, 2, "both inline and in the heap");
	/* a reference without its size, with a short md5, oversized */
	expect_bad("\x11\xc4\x10" "0123456789abcdef", 19, 1, "reference");
	expect_bad("\x11\xc4\x02" "01\x13\x05", 7, 2, "reference");
	expect_bad("\x11\xc4\x10" "0123456789abcdef\x13\xce\x7f\xff\xff\xff",
		   25, 2, "reference");
	expect_bad("\x11\xc4\x10" "0123456789abcdef\x13\x00", 21, 2,
		   "reference");
	/* sparse is a bool */
	expect_bad("\x12\x01", 2, 1, "sparse");
	/* a key twice */
	expect_bad("\x12\xc3\x12\xc3", 4, 2, "duplicate key");
}

/* Header key 10, the root directory's xattrs: the same checks as an
 * entry's key 16, and inline only. */
static void test_root_xattrs_hostile(void)
{
	static struct snapshot_header h;
	struct errbuf eb = ERRBUF_INIT;

	/* sound, unsorted: taken and made canonical */
	CHECK_EQ(read_crafted_hdr((const uint8_t *)"\x0a\x92\x92\xc4\x01"
				  "b\xc4\x00\x92\xc4\x01" "a\xc4\x01" "v", 15, 1,
				  NULL, 0, 0, &h, &eb), 1);
	CHECK(h.has_root_xattrs);
	CHECK_EQ(h.root_xattrs_len, 14);
	CHECK(!memcmp(h.root_xattrs, "\x92\x92\xc4\x01" "a\xc4\x01" "v"
		      "\x92\xc4\x01" "b\xc4\x00", 14));
	CHECK_EQ(read_crafted_hdr((const uint8_t *)"\x0a\x90", 2, 1, NULL, 0,
				  0, &h, &eb), 1);
	CHECK(h.has_root_xattrs);
	CHECK_EQ(h.root_xattrs_len, 0);
	/* not a list, duplicates, a NUL in a name: refused up front */
	CHECK_EQ(read_crafted_hdr((const uint8_t *)"\x0a\xc4\x00", 3, 1, NULL,
				  0, 0, NULL, &eb), -EBADMSG);
	CHECK(strstr(eb.msg, "bad root xattrs") != NULL);
	CHECK_EQ(read_crafted_hdr((const uint8_t *)"\x0a\x92\x92\xc4\x01"
				  "a\xc4\x00\x92\xc4\x01" "a\xc4\x00", 14, 1,
				  NULL, 0, 0, NULL, &eb), -EBADMSG);
	CHECK_EQ(read_crafted_hdr((const uint8_t *)"\x0a\x91\x92\xc4\x02"
				  "a\0\xc4\x00", 9, 1, NULL, 0, 0, NULL, &eb),
		 -EBADMSG);
	/* over the inline bound: one value of 9000 bytes */
	{
		static uint8_t b[9100];
		size_t n = 0;

		b[n++] = 0x0a;
		b[n++] = 0x91;
		b[n++] = 0x92;
		b[n++] = 0xc4;
		b[n++] = 0x01;
		b[n++] = 'a';
		b[n++] = 0xc5;
		b[n++] = 9000 >> 8;
		b[n++] = 9000 & 0xff;
		memset(b + n, 'x', 9000);
		n += 9000;
		CHECK_EQ(read_crafted_hdr(b, n, 1, NULL, 0, 0, NULL, &eb),
			 -EBADMSG);
		CHECK(strstr(eb.msg, "too large") != NULL);
	}
}

static void test_read_apply(void)
{
	char dir[] = "/tmp/test_xattr.XXXXXX", path[64], path2[64];
	struct xattr_apply_result res = { 0 };
	unsigned char *enc = NULL, *enc2 = NULL;
	size_t len = 0, len2 = 0;
	int fd;

	if (!mkdtemp(dir))
		TEST_SKIP("no temp dir");
	snprintf(path, sizeof(path), "%s/f", dir);
	snprintf(path2, sizeof(path2), "%s/g", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	close(fd);
	fd = open(path2, O_CREAT | O_WRONLY, 0644);
	close(fd);
	if (setxattr(path, "user.a", "1", 1, 0)) {
		fprintf(stderr, "  no user xattrs here: read/apply skipped\n");
		goto out;
	}
	CHECK_EQ(setxattr(path, "user.b", "22", 2, 0), 0);
	CHECK_EQ(setxattr(path2, "user.gone", "x", 1, 0), 0);
	CHECK_EQ(xattr_read(-1, path, XATTR_NS_USER, &enc, &len), 0);
	CHECK(enc != NULL && xattr_check(enc, len, &(const char *){ 0 }) == 0);
	/* outside the namespaces asked for: nothing */
	CHECK_EQ(xattr_read(-1, path, XATTR_NS_ACL, &enc2, &len2), 0);
	CHECK(enc2 == NULL && len2 == 0);
	/* apply: g gets a and b, loses gone */
	CHECK_EQ(xattr_apply(-1, path2, enc, len, XATTR_NS_USER, &res), 0);
	CHECK(!res.unsupported);
	CHECK_EQ(xattr_read(-1, path2, XATTR_NS_USER, &enc2, &len2), 0);
	CHECK(len2 == len && !memcmp(enc, enc2, len));
	/* a name outside ns is skipped and counted */
	free(enc2);
	enc2 = NULL;
	CHECK_EQ(xattr_apply(-1, path2, enc, len, XATTR_NS_ACL, &res), 0);
	CHECK_EQ(res.skipped, 2);
	CHECK_EQ(getxattr(path2, "user.a", NULL, 0), 1);
out:
	free(enc);
	free(enc2);
	unlink(path);
	unlink(path2);
	rmdir(dir);
}

/* More names than xattr_read's stack array (64) holds: the item list
 * grows (twice, to 256) and every name and value comes back. */
static void test_read_many(void)
{
	char dir[] = "/tmp/test_xattr.XXXXXX", path[64], name[16];
	unsigned char *enc = NULL;
	struct xattr_iter it;
	struct xattr_item item;
	const char *why = NULL;
	size_t len = 0;
	int fd, i, n = 0, set = 0;

	if (!mkdtemp(dir))
		TEST_SKIP("no temp dir");
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	close(fd);
	for (i = 0; i < 130; i++) {
		snprintf(name, sizeof(name), "user.%d", i);
		if (setxattr(path, name, name + 5, strlen(name + 5), 0))
			break;
		set++;
	}
	if (set < 130) {
		fprintf(stderr, "  only %d user xattrs fit here: skipped\n",
			set);
		goto out;
	}
	CHECK_EQ(xattr_read(-1, path, XATTR_NS_USER, &enc, &len), 0);
	CHECK_EQ(xattr_iter_init(&it, enc, len, &why), 0);
	while (xattr_iter_next(&it, &item, &why) == 1) {
		/* "user.<k>" holds "<k>" */
		CHECK(item.name_len > 5 &&
		      item.value_len == item.name_len - 5 &&
		      !memcmp(item.value, item.name + 5, item.value_len));
		n++;
	}
	CHECK_EQ(n, 130);
out:
	free(enc);
	for (i = 0; i < set; i++) {
		snprintf(name, sizeof(name), "user.%d", i);
		removexattr(path, name);
	}
	unlink(path);
	rmdir(dir);
}

static void test_sparse_pwrite(void)
{
	char path[] = "/tmp/test_sparse.XXXXXX";
	static char buf[64 * 1024];
	char back[sizeof(buf)];
	struct stat st;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	memset(buf, 0, sizeof(buf));
	memset(buf + 8192, 'x', 10);           /* one non-zero block */
	CHECK(sparse_is_zero(buf, 8192));
	CHECK(!sparse_is_zero(buf, 8193 + 9));
	CHECK_EQ(sparse_pwrite(fd, buf, sizeof(buf), 0), 0);
	CHECK_EQ(ftruncate(fd, sizeof(buf)), 0);
	CHECK_EQ(pread(fd, back, sizeof(back), 0), (long)sizeof(back));
	CHECK(!memcmp(buf, back, sizeof(buf)));
	CHECK_EQ(fstat(fd, &st), 0);
	/* at most the one block (and the filesystem's rounding) */
	CHECK(st.st_blocks * 512 < (long)sizeof(buf));
	close(fd);
	unlink(path);
}

int main(void)
{
	RUN_TEST(test_encode_iterate);
	RUN_TEST(test_same_in);
	RUN_TEST(test_hostile_lists);
	RUN_TEST(test_snapshot_keys);
	RUN_TEST(test_reader_hostile);
	RUN_TEST(test_root_xattrs_hostile);
	RUN_TEST(test_read_apply);
	RUN_TEST(test_read_many);
	RUN_TEST(test_sparse_pwrite);
	return test_finish();
}
