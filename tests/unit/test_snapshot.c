/* test_snapshot: snapshot writer/reader round trips and hostile input:
 * truncation at every byte, every single-byte flip, crafted frames. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <openssl/evp.h>

#include "entry.h"
#include "errbuf.h"
#include "snapshot.h"
#include "snapshot_check.h"
#include "snapshot_format.h"
#include "snapshot_reader.h"
#include "snapshot_writer.h"
#include "test.h"

#include "banned.h"

/* ---- memory sink and source ---- */

struct mem {
	uint8_t *p;
	size_t len, cap;
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

static void mem_free(struct mem *m)
{
	free(m->p);
	memset(m, 0, sizeof(*m));
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

/* Read a whole snapshot from memory. Returns the number of entries (>= 0)
 * or the negative error; entries are compared to want[] when given. */
static long read_all(const uint8_t *p, size_t len, size_t chunk,
		     const struct entry *want, size_t nwant,
		     struct errbuf *eb)
{
	struct src s = { p, len, 0, chunk };
	struct snapshot_reader *r = NULL;
	struct entry e = ENTRY_INIT;
	long n = 0;
	int rc;

	errbuf_clear(eb);
	rc = snapshot_reader_new(src_read, &s, "mem", &r, eb);
	if (rc)
		return rc;
	for (;;) {
		rc = snapshot_reader_next(r, &e, eb);
		if (rc <= 0)
			break;
		if (want && (size_t)n < nwant) {
			const struct entry *w = &want[n];

			CHECK_EQ(e.name_len, w->name_len);
			CHECK(!memcmp(e.name, w->name, w->name_len));
			CHECK_EQ(e.type, w->type);
			CHECK_EQ(e.size, w->size);
			CHECK_EQ(e.mtime_ns, w->mtime_ns);
			CHECK_EQ(e.ctime_ns, w->ctime_ns);
			CHECK_EQ(e.ino, w->ino);
			CHECK_EQ(e.mode, w->mode & 07777);
			CHECK_EQ(e.has_md5, w->type == ENTRY_FILE);
			if (w->type == ENTRY_FILE)
				CHECK(objid_eq(&e.md5, &w->md5));
			CHECK_EQ(e.target_len, w->target_len);
			if (w->target)
				CHECK(e.target &&
				      !memcmp(e.target, w->target, w->target_len));
			else
				CHECK(!e.target);
			if (w->etag)
				CHECK_STREQ(e.etag, w->etag);
			else
				CHECK(!e.etag);
		}
		entry_release(&e);
		n++;
	}
	if (rc == 0) {
		/* the end is sticky */
		CHECK_EQ(snapshot_reader_next(r, &e, eb), 0);
		CHECK_EQ(snapshot_reader_count(r), n);
	}
	snapshot_reader_free(r);
	return rc < 0 ? rc : n;
}

/* ---- entry builders ---- */

static void mk_entry(struct entry *e, const char *name, size_t len, int type)
{
	size_t i;

	entry_init(e);
	CHECK_EQ(entry_set_name(e, name, len), 0);
	e->type = (uint8_t)type;
	e->mode = 0644;
	e->mtime_ns = 1700000000123456789LL;
	e->size = type == ENTRY_FILE ? 42 : 0;
	if (type == ENTRY_FILE) {
		e->has_md5 = true;
		for (i = 0; i < OBJID_LEN; i++)
			e->md5.b[i] = (uint8_t)(len * 7 + i);
	}
	if (type == ENTRY_SYMLINK)
		CHECK_EQ(entry_set_target(e, "../target", 9), 0);
}

static int cmp_entries(const void *a, const void *b)
{
	return entry_cmp(a, b);
}

static int write_entries(const struct entry *es, size_t n, struct mem *m)
{
	struct snapshot_header h = { .version = SNAPSHOT_VERSION,
				     .created_ns = 1700000000000000000LL };
	struct errbuf eb = ERRBUF_INIT;
	struct snapshot_writer *w = NULL;
	size_t i;
	int rc;

	rc = snapshot_writer_new(mem_write, m, &h, &w, &eb);
	if (rc)
		return rc;
	for (i = 0; i < n && !rc; i++)
		rc = snapshot_writer_add(w, &es[i], &eb);
	if (!rc)
		rc = snapshot_writer_finish(w, &eb);
	if (!rc)
		CHECK_EQ(snapshot_writer_count(w), n);
	if (rc)
		fprintf(stderr, "write: %s\n", eb.msg);
	snapshot_writer_free(w);
	return rc;
}

static void small_snapshot(struct mem *m)
{
	struct entry es[3];
	size_t i;

	mk_entry(&es[0], "a", 1, ENTRY_FILE);
	mk_entry(&es[1], "b/link", 6, ENTRY_SYMLINK);
	mk_entry(&es[2], "c", 1, ENTRY_DIR);
	CHECK_EQ(write_entries(es, 3, m), 0);
	for (i = 0; i < 3; i++)
		entry_release(&es[i]);
}

/* ---- tests ---- */

static void test_roundtrip(void)
{
	enum { N = 3000 };
	struct entry *es = calloc(N + 2, sizeof(*es));
	struct errbuf eb = ERRBUF_INIT;
	struct mem m = { 0 };
	char name[ENTRY_NAME_MAX + 1];
	char target[ENTRY_TARGET_MAX];
	size_t n = 0, i, len;
	int type;

	CHECK(es != NULL);
	if (!es)
		return;
	for (i = 0; i < N; i++) {
		type = i % 10 == 3 ? ENTRY_SYMLINK :
		       i % 10 == 7 ? ENTRY_DIR : ENTRY_FILE;
		if (i % 5 == 1) /* not UTF-8, control characters */
			len = (size_t)snprintf(name, sizeof(name),
					       "bin\xff\xfe/x\x01y\n%zu", i);
		else
			len = (size_t)snprintf(name, sizeof(name),
					       "dir%zu/sub/file%zu.txt", i % 37, i);
		mk_entry(&es[n], name, len, type);
		es[n].size = (uint64_t)i * 1000003u;
		es[n].mtime_ns = (int64_t)i * 999999937LL - 5000000000LL;
		es[n].ctime_ns = i % 3 ? (int64_t)i * 77 : 0;
		es[n].ino = i % 4 ? UINT64_MAX - i : 0;
		es[n].mode = (uint32_t)(i % 07777);
		if (i % 11 == 0 && type == ENTRY_FILE)
			CHECK_EQ(entry_set_etag(&es[n], "\"d41d8cd98f00b204e9800998ecf8427e-3\""), 0);
		n++;
	}
	/* a 16383-byte name (64 components of 255) and a 4096-byte target */
	len = 0;
	for (i = 0; i < 64; i++) {
		memset(name + len, 'x', 255);
		len += 255;
		if (i < 63)
			name[len++] = '/';
	}
	mk_entry(&es[n++], name, len, ENTRY_FILE);
	name[0] = 'y';
	mk_entry(&es[n], name, len, ENTRY_SYMLINK);
	memset(target, 't', sizeof(target));
	CHECK_EQ(entry_set_target(&es[n], target, sizeof(target)), 0);
	n++;
	qsort(es, n, sizeof(*es), cmp_entries);

	CHECK_EQ(write_entries(es, n, &m), 0);
	CHECK(m.len > SNAPSHOT_MAGIC_LEN);
	CHECK(!memcmp(m.p, SNAPSHOT_MAGIC, SNAPSHOT_MAGIC_LEN));
	CHECK_EQ(read_all(m.p, m.len, 0, es, n, &eb), (long)n);
	/* short reads of odd sizes */
	CHECK_EQ(read_all(m.p, m.len, 7, es, n, &eb), (long)n);
	fprintf(stderr, "  %zu entries in %zu bytes\n", n, m.len);

	/* header */
	{
		struct src s = { m.p, m.len, 0, 0 };
		struct snapshot_reader *r = NULL;

		CHECK_EQ(snapshot_reader_new(src_read, &s, "mem", &r, &eb), 0);
		CHECK(r != NULL);
		if (r) {
			CHECK_EQ(snapshot_reader_header(r)->version, 1);
			CHECK_EQ(snapshot_reader_header(r)->created_ns,
				 1700000000000000000LL);
			CHECK_STREQ(snapshot_reader_header(r)->tool,
				    SNAPSHOT_TOOL);
		}
		snapshot_reader_free(r);
	}
	for (i = 0; i < n; i++)
		entry_release(&es[i]);
	free(es);
	mem_free(&m);
}

static void test_empty_snapshot(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct mem m = { 0 };

	CHECK_EQ(write_entries(NULL, 0, &m), 0);
	CHECK_EQ(read_all(m.p, m.len, 0, NULL, 0, &eb), 0);
	mem_free(&m);
}

/* header keys 4 and 5: the root's mode and mtime, both or none */
static void test_root_meta(void)
{
	struct snapshot_header h = { .version = 0, .created_ns = 5,
				     .has_root_meta = true,
				     .root_mode = 0700,
				     .root_mtime_ns = -1234567890123LL };
	struct snapshot_header none = { .version = 0, .created_ns = 5 };
	const struct snapshot_header *got;
	struct errbuf eb = ERRBUF_INIT;
	struct snapshot_writer *w = NULL;
	struct snapshot_reader *r = NULL;
	struct entry e = ENTRY_INIT;
	struct mem m = { 0 };
	struct src s;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		memset(&m, 0, sizeof(m));
		CHECK_EQ(snapshot_writer_new(mem_write, &m, pass ? &none : &h,
					     &w, &eb), 0);
		CHECK_EQ(snapshot_writer_finish(w, &eb), 0);
		snapshot_writer_free(w);
		s = (struct src){ m.p, m.len, 0, 0 };
		CHECK_EQ(snapshot_reader_new(src_read, &s, "mem", &r, &eb), 0);
		got = snapshot_reader_header(r);
		CHECK_EQ(got->has_root_meta, !pass);
		CHECK_EQ(got->root_mode, pass ? 0 : 0700);
		CHECK_EQ(got->root_mtime_ns, pass ? 0 : -1234567890123LL);
		CHECK_EQ(snapshot_reader_next(r, &e, &eb), 0);
		snapshot_reader_free(r);
		mem_free(&m);
	}
}

static void test_writer_rejects(void)
{
	struct snapshot_header h = { .version = 0, .created_ns = 1 };
	struct snapshot_header bad = { .version = 2, .created_ns = 1 };
	struct errbuf eb = ERRBUF_INIT;
	struct snapshot_writer *w = NULL;
	struct entry a, b, fa, da, bad_e;
	struct mem m = { 0 };

	mk_entry(&a, "a", 1, ENTRY_FILE);
	mk_entry(&b, "b", 1, ENTRY_FILE);
	mk_entry(&fa, "a/x", 3, ENTRY_FILE);
	mk_entry(&da, "a", 1, ENTRY_DIR);

	CHECK_ERR(snapshot_writer_new(mem_write, &m, &bad, &w, &eb), EINVAL);
	CHECK(w == NULL);

	/* order: b then a is rejected, sticky afterwards */
	errbuf_clear(&eb);
	CHECK_EQ(snapshot_writer_new(mem_write, &m, &h, &w, &eb), 0);
	CHECK_EQ(snapshot_writer_add(w, &b, &eb), 0);
	CHECK_ERR(snapshot_writer_add(w, &a, &eb), EINVAL);
	CHECK(strstr(eb.msg, "not after the previous entry") != NULL);
	errbuf_clear(&eb);
	CHECK_ERR(snapshot_writer_finish(w, &eb), EINVAL);
	CHECK(eb.msg[0] != '\0');
	snapshot_writer_free(w);
	mem_free(&m);

	/* equal entries are rejected */
	errbuf_clear(&eb);
	CHECK_EQ(snapshot_writer_new(mem_write, &m, &h, &w, &eb), 0);
	CHECK_EQ(snapshot_writer_add(w, &a, &eb), 0);
	CHECK_ERR(snapshot_writer_add(w, &a, &eb), EINVAL);
	snapshot_writer_free(w);
	mem_free(&m);

	/* file "a", dir "a" (key "a/") and "a/x" are in order */
	errbuf_clear(&eb);
	CHECK_EQ(snapshot_writer_new(mem_write, &m, &h, &w, &eb), 0);
	CHECK_EQ(snapshot_writer_add(w, &a, &eb), 0);
	CHECK_EQ(snapshot_writer_add(w, &da, &eb), 0);
	CHECK_EQ(snapshot_writer_add(w, &fa, &eb), 0);
	CHECK_EQ(snapshot_writer_finish(w, &eb), 0);
	CHECK_EQ(snapshot_writer_count(w), 3);
	snapshot_writer_free(w);
	CHECK_EQ(read_all(m.p, m.len, 0, NULL, 0, &eb), 3);
	mem_free(&m);

	/* invalid entries */
	{
		static const char *const names[] = { "../x", "/abs", "a//b",
						      "a/./b", "a/", "" };
		size_t i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			mk_entry(&bad_e, names[i], strlen(names[i]), ENTRY_FILE);
			errbuf_clear(&eb);
			CHECK_EQ(snapshot_writer_new(mem_write, &m, &h, &w, &eb), 0);
			CHECK_ERR(snapshot_writer_add(w, &bad_e, &eb), EINVAL);
			snapshot_writer_free(w);
			entry_release(&bad_e);
			mem_free(&m);
		}
	}
	mk_entry(&bad_e, "f", 1, ENTRY_FILE);
	bad_e.has_md5 = false;
	CHECK_EQ(snapshot_writer_new(mem_write, &m, &h, &w, &eb), 0);
	CHECK_ERR(snapshot_writer_add(w, &bad_e, &eb), EINVAL);
	snapshot_writer_free(w);
	entry_release(&bad_e);
	mem_free(&m);

	mk_entry(&bad_e, "l", 1, ENTRY_SYMLINK);
	free(bad_e.target);
	bad_e.target = NULL;
	bad_e.target_len = 0;
	CHECK_EQ(snapshot_writer_new(mem_write, &m, &h, &w, &eb), 0);
	CHECK_ERR(snapshot_writer_add(w, &bad_e, &eb), EINVAL);
	snapshot_writer_free(w);
	entry_release(&bad_e);
	mem_free(&m);

	mk_entry(&bad_e, "t", 1, 9);
	CHECK_EQ(snapshot_writer_new(mem_write, &m, &h, &w, &eb), 0);
	CHECK_ERR(snapshot_writer_add(w, &bad_e, &eb), EINVAL);
	snapshot_writer_free(w);
	entry_release(&bad_e);
	mem_free(&m);

	entry_release(&a);
	entry_release(&b);
	entry_release(&fa);
	entry_release(&da);
}

static int failing_sink(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
	return -ENOSPC;
}

static void test_writer_sink_error(void)
{
	struct snapshot_header h = { .version = 1, .created_ns = 1 };
	struct errbuf eb = ERRBUF_INIT;
	struct snapshot_writer *w = NULL;
	struct entry a;

	mk_entry(&a, "a", 1, ENTRY_FILE);
	/* the header is buffered: the sink is first called by finish */
	CHECK_EQ(snapshot_writer_new(failing_sink, NULL, &h, &w, &eb), 0);
	CHECK_EQ(snapshot_writer_add(w, &a, &eb), 0);
	CHECK_ERR(snapshot_writer_finish(w, &eb), ENOSPC);
	CHECK(strstr(eb.msg, "No space left") != NULL);
	snapshot_writer_free(w);
	entry_release(&a);
}

static void test_truncation(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct mem m = { 0 };
	size_t cut;
	long rc;

	small_snapshot(&m);
	CHECK_EQ(read_all(m.p, m.len, 0, NULL, 0, &eb), 3);
	for (cut = 0; cut < m.len; cut++) {
		rc = read_all(m.p, cut, 0, NULL, 0, &eb);
		CHECK_EQ(rc, -EBADMSG);
		CHECK(eb.msg[0] != '\0');
	}
	errbuf_clear(&eb);
	CHECK_EQ(read_all(m.p, m.len - 1, 3, NULL, 0, &eb), -EBADMSG);
	CHECK(strstr(eb.msg, "corrupt snapshot 'mem'") != NULL);
	mem_free(&m);
}

static void test_bit_flips(void)
{
	static const uint8_t masks[] = { 0x01, 0x10, 0x80, 0xff };
	struct errbuf eb = ERRBUF_INIT;
	struct mem m = { 0 };
	size_t off, k, missed = 0;
	uint8_t *copy;

	small_snapshot(&m);
	copy = malloc(m.len);
	CHECK(copy != NULL);
	if (!copy)
		return;
	for (off = 0; off < m.len; off++) {
		for (k = 0; k < sizeof(masks); k++) {
			long rc;

			memcpy(copy, m.p, m.len);
			copy[off] ^= masks[k];
			rc = read_all(copy, m.len, 0, NULL, 0, &eb);
			if (rc >= 0) {
				fprintf(stderr, "  flip 0x%02x at %zu undetected\n",
					masks[k], off);
				missed++;
			}
		}
	}
	CHECK_EQ(missed, 0);
	free(copy);
	mem_free(&m);
}

/* ---- crafted files ---- */

struct craft {
	struct mem m;
	EVP_MD_CTX *md;
	uint64_t entries;
};

static void craft_raw(struct craft *c, const void *p, size_t len, bool hash)
{
	CHECK_EQ(mem_write(&c->m, p, len), 0);
	if (hash)
		EVP_DigestUpdate(c->md, p, len);
}

static void craft_frame(struct craft *c, const void *p, size_t len)
{
	uint8_t be[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16),
			  (uint8_t)(len >> 8), (uint8_t)len };

	craft_raw(c, be, 4, true);
	craft_raw(c, p, len, true);
}

static void craft_begin(struct craft *c, unsigned version)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	memset(c, 0, sizeof(*c));
	c->md = EVP_MD_CTX_new();
	EVP_DigestInit_ex2(c->md, EVP_md5(), NULL);
	craft_raw(c, SNAPSHOT_MAGIC, SNAPSHOT_MAGIC_LEN, true);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_uint32(&pk, version);
	msgpack_pack_uint8(&pk, 2);
	msgpack_pack_int64(&pk, 12345);
	craft_frame(c, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

/* an entry record; extra_key >= 0 adds an unknown key with a string */
static void craft_entry(struct craft *c, const char *name, size_t len,
			int extra_key)
{
	static const uint8_t md5[16] = { 1, 2, 3 };
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, extra_key >= 0 ? 8 : 7);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint8(&pk, 2);
	if (extra_key >= 0) {
		/* unknown keys come first to show they are skipped */
		msgpack_pack_uint32(&pk, (uint32_t)extra_key);
		msgpack_pack_array(&pk, 2);
		msgpack_pack_str_with_body(&pk, "future", 6);
		msgpack_pack_map(&pk, 0);
	}
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_bin_with_body(&pk, name, len);
	msgpack_pack_uint8(&pk, 2);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_uint8(&pk, 3);
	msgpack_pack_uint8(&pk, 5);
	msgpack_pack_uint8(&pk, 4);
	msgpack_pack_int64(&pk, -7);
	msgpack_pack_uint8(&pk, 5);
	msgpack_pack_uint16(&pk, 0755);
	msgpack_pack_uint8(&pk, 6);
	msgpack_pack_bin_with_body(&pk, md5, 16);
	craft_frame(c, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	c->entries++;
}

static void craft_trailer(struct craft *c, uint64_t count_delta)
{
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint8_t be[4];

	EVP_DigestFinal_ex(c->md, digest, &dlen);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint8(&pk, 3);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_uint64(&pk, c->entries + count_delta);
	msgpack_pack_uint8(&pk, 2);
	msgpack_pack_bin_with_body(&pk, digest, 16);
	be[0] = (uint8_t)(sb.size >> 24);
	be[1] = (uint8_t)(sb.size >> 16);
	be[2] = (uint8_t)(sb.size >> 8);
	be[3] = (uint8_t)sb.size;
	craft_raw(c, be, 4, false);
	craft_raw(c, sb.data, sb.size, false);
	msgpack_sbuffer_destroy(&sb);
}

static void craft_free(struct craft *c)
{
	EVP_MD_CTX_free(c->md);
	mem_free(&c->m);
}

static void test_crafted_valid(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct craft c;

	/* unknown keys skipped; duplicates passed through */
	craft_begin(&c, 1);
	craft_entry(&c, "a", 1, 42);
	craft_entry(&c, "b", 1, -1);
	craft_entry(&c, "b", 1, 63);
	craft_entry(&c, "c", 1, 1000);
	craft_trailer(&c, 0);
	CHECK_EQ(read_all(c.m.p, c.m.len, 0, NULL, 0, &eb), 4);
	if (eb.code)
		fprintf(stderr, "  %s\n", eb.msg);
	/* data after the trailer */
	{
		uint8_t z = 0;

		mem_write(&c.m, &z, 1);
		errbuf_clear(&eb);
		CHECK_EQ(read_all(c.m.p, c.m.len, 0, NULL, 0, &eb), -EBADMSG);
		CHECK(strstr(eb.msg, "data after the trailer") != NULL);
	}
	craft_free(&c);

	/* count mismatch */
	craft_begin(&c, 1);
	craft_entry(&c, "a", 1, -1);
	craft_trailer(&c, 1);
	CHECK_EQ(read_all(c.m.p, c.m.len, 0, NULL, 0, &eb), -EBADMSG);
	CHECK(strstr(eb.msg, "entry count") != NULL);
	craft_free(&c);

	/* newer version */
	craft_begin(&c, 2);
	craft_trailer(&c, 0);
	CHECK_EQ(read_all(c.m.p, c.m.len, 0, NULL, 0, &eb), -ENOTSUP);
	craft_free(&c);
}

static void expect_entry_error(const char *name, size_t len,
			       const char *reason)
{
	struct errbuf eb = ERRBUF_INIT;
	struct craft c;

	craft_begin(&c, 1);
	craft_entry(&c, "0ok", 3, -1);
	craft_entry(&c, name, len, -1);
	craft_trailer(&c, 0);
	CHECK_EQ(read_all(c.m.p, c.m.len, 0, NULL, 0, &eb), -EBADMSG);
	CHECK(strstr(eb.msg, reason) != NULL);
	CHECK(strstr(eb.msg, "corrupt snapshot 'mem': entry 2 at byte ") !=
	      NULL);
	if (!strstr(eb.msg, reason))
		fprintf(stderr, "  got: %s\n", eb.msg);
	craft_free(&c);
}

static void test_crafted_bad_entries(void)
{
	expect_entry_error("a/../b", 6, "'..' path component");
	expect_entry_error("/etc/passwd", 11, "absolute path");
	expect_entry_error("a\0b", 3, "NUL byte");
	expect_entry_error("x/./y", 5, "'.' path component");
	expect_entry_error("", 0, "empty name");
	/* "0ok" then "0a" is out of order */
	expect_entry_error("0a", 2, "entries out of order");
}

/* magic + header frame, then one frame of raw bytes */
static long read_with_frame(const void *frame, size_t len, uint32_t declared)
{
	struct errbuf eb = ERRBUF_INIT;
	uint8_t be[4] = { (uint8_t)(declared >> 24), (uint8_t)(declared >> 16),
			  (uint8_t)(declared >> 8), (uint8_t)declared };
	struct craft c;
	long rc;

	craft_begin(&c, 1);
	craft_raw(&c, be, 4, true);
	craft_raw(&c, frame, len, true);
	rc = read_all(c.m.p, c.m.len, 0, NULL, 0, &eb);
	CHECK(rc != -EBADMSG || strstr(eb.msg, "corrupt snapshot") != NULL);
	craft_free(&c);
	return rc;
}

static void test_hostile_frames(void)
{
	static const uint8_t arr32[] = { 0xdd, 0xff, 0x00, 0x00, 0x00 };
	static const uint8_t map32[] = { 0xdf, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t bin32[] = { 0x81, 0x01, 0xc6, 0xff, 0xff, 0xff,
					 0xff, 0x00 };
	static const uint8_t chain[] = { 0x81, 0x00, 0xdc, 0xff, 0xff, 0xdc,
					 0xff, 0xff, 0xdc, 0xff, 0xff };
	static const uint8_t reserved[] = { 0x81, 0x00, 0xc1 };
	static const uint8_t notmap[] = { 0x92, 0x00, 0x02 };
	static const uint8_t trailing[] = { 0x81, 0x00, 0x02, 0x00 };
	static const uint8_t nokind[] = { 0x81, 0x05, 0x02 };
	static const uint8_t badkind[] = { 0x81, 0x00, 0x09 };
	static const uint8_t header2[] = { 0x81, 0x00, 0x01 };
	static const uint8_t dupkey[] = { 0x82, 0x00, 0x02, 0x00, 0x02 };
	uint8_t deep[40];
	size_t i;

	CHECK_EQ(read_with_frame(arr32, sizeof(arr32), sizeof(arr32)), -EBADMSG);
	CHECK_EQ(read_with_frame(map32, sizeof(map32), sizeof(map32)), -EBADMSG);
	CHECK_EQ(read_with_frame(bin32, sizeof(bin32), sizeof(bin32)), -EBADMSG);
	CHECK_EQ(read_with_frame(chain, sizeof(chain), sizeof(chain)), -EBADMSG);
	CHECK_EQ(read_with_frame(reserved, sizeof(reserved), sizeof(reserved)),
		 -EBADMSG);
	CHECK_EQ(read_with_frame(notmap, sizeof(notmap), sizeof(notmap)),
		 -EBADMSG);
	CHECK_EQ(read_with_frame(trailing, sizeof(trailing), sizeof(trailing)),
		 -EBADMSG);
	CHECK_EQ(read_with_frame(nokind, sizeof(nokind), sizeof(nokind)),
		 -EBADMSG);
	CHECK_EQ(read_with_frame(badkind, sizeof(badkind), sizeof(badkind)),
		 -EBADMSG);
	CHECK_EQ(read_with_frame(header2, sizeof(header2), sizeof(header2)),
		 -EBADMSG);
	CHECK_EQ(read_with_frame(dupkey, sizeof(dupkey), sizeof(dupkey)),
		 -EBADMSG);
	/* huge and zero declared frame lengths */
	CHECK_EQ(read_with_frame(arr32, sizeof(arr32), 0xffffffffu), -EBADMSG);
	CHECK_EQ(read_with_frame(arr32, sizeof(arr32), SNAPSHOT_FRAME_MAX + 1),
		 -EBADMSG);
	CHECK_EQ(read_with_frame(arr32, 0, 0), -EBADMSG);
	/* a frame length larger than the data left */
	CHECK_EQ(read_with_frame(header2, sizeof(header2), 1000), -EBADMSG);
	/* 40 nested one-element arrays */
	deep[0] = 0x81;
	deep[1] = 0x00;
	for (i = 2; i < sizeof(deep) - 1; i++)
		deep[i] = 0x91;
	deep[sizeof(deep) - 1] = 0x02;
	CHECK_EQ(read_with_frame(deep, sizeof(deep), sizeof(deep)), -EBADMSG);
}

static void test_check_frame(void)
{
	static const uint8_t ok[] = { 0x82, 0x00, 0x02, 0x01, 0xc4, 0x01, 'a' };
	static const uint8_t big[] = { 0xdd, 0xff, 0x00, 0x00, 0x00 };
	uint8_t deep[16];
	const char *why = NULL;
	size_t at = 99, i;

	CHECK_EQ(snapshot_check_frame(ok, sizeof(ok), &why, &at), 0);
	CHECK_ERR(snapshot_check_frame(ok, sizeof(ok) - 1, &why, &at), EBADMSG);
	CHECK_ERR(snapshot_check_frame(big, sizeof(big), &why, &at), EBADMSG);
	CHECK_STREQ(why, "declared element counts exceed the frame size");
	CHECK_EQ(at, 0);
	CHECK_ERR(snapshot_check_frame(ok, 0, &why, &at), EBADMSG);
	/* depth 8 passes, 9 fails */
	for (i = 0; i < 8; i++)
		deep[i] = 0x91;
	deep[8] = 0x00;
	CHECK_EQ(snapshot_check_frame(deep, 9, &why, &at), 0);
	for (i = 0; i < 9; i++)
		deep[i] = 0x91;
	deep[9] = 0x00;
	CHECK_ERR(snapshot_check_frame(deep, 10, &why, &at), EBADMSG);
	CHECK_STREQ(why, "nesting too deep");
	/* every scalar type, in an array */
	{
		static const uint8_t all[] = {
			0xdc, 0x00, 0x14,
			0x00, 0xff, 0xc0, 0xc2, 0xc3,
			0xcc, 1, 0xcd, 1, 2, 0xce, 1, 2, 3, 4,
			0xcf, 1, 2, 3, 4, 5, 6, 7, 8,
			0xd0, 1, 0xd3, 1, 2, 3, 4, 5, 6, 7, 8,
			0xca, 0, 0, 0, 0, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0,
			0xa1, 'x', 0xd9, 1, 'y', 0xda, 0, 1, 'z',
			0xd4, 1, 2, 0xc7, 1, 5, 'e', 0x80, 0x90,
		};

		CHECK_EQ(snapshot_check_frame(all, sizeof(all), &why, &at), 0);
	}
}

struct failing_src {
	struct src s;
	size_t fail_at;
	/* from fail_at on: claim one byte more than asked (a broken
	 * source) instead of failing with EIO */
	bool overlong;
};

static ssize_t failing_read(void *ctx, void *buf, size_t len)
{
	struct failing_src *f = ctx;
	ssize_t n;

	if (f->s.pos >= f->fail_at && !f->overlong)
		return -EIO;
	if (f->s.pos >= f->fail_at) {
		n = src_read(&f->s, buf, len);
		return n > 0 ? (ssize_t)len + 1 : n;
	}
	if (len > f->fail_at - f->s.pos)
		len = f->fail_at - f->s.pos;
	return src_read(&f->s, buf, len);
}

static void test_read_error(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct snapshot_reader *r = NULL;
	struct entry e = ENTRY_INIT;
	struct mem m = { 0 };
	struct failing_src f;
	int rc;

	small_snapshot(&m);
	/* fails inside the header */
	f = (struct failing_src){ { m.p, m.len, 0, 0 }, 10, false };
	CHECK_ERR(snapshot_reader_new(failing_read, &f, "io", &r, &eb), EIO);
	CHECK(strstr(eb.msg, "cannot read snapshot 'io'") != NULL);
	CHECK(r == NULL);
	/* fails later: the error is returned, then sticky */
	f = (struct failing_src){ { m.p, m.len, 0, 0 }, m.len - 3, false };
	errbuf_clear(&eb);
	CHECK_EQ(snapshot_reader_new(failing_read, &f, "io", &r, &eb), 0);
	while ((rc = snapshot_reader_next(r, &e, &eb)) > 0)
		entry_release(&e);
	CHECK_ERR(rc, EIO);
	errbuf_clear(&eb);
	CHECK_ERR(snapshot_reader_next(r, &e, &eb), EIO);
	CHECK(strstr(eb.msg, "Input/output error") != NULL);
	snapshot_reader_free(r);
	mem_free(&m);
}

/* A source that says it read more than it was asked for is broken: an
 * error naming the snapshot, not the end of the data (which would be
 * refused as a truncated snapshot, for the wrong reason). */
static void test_overlong_read(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct snapshot_reader *r = NULL;
	struct entry e = ENTRY_INIT;
	struct mem m = { 0 };
	struct failing_src f;
	int rc;

	small_snapshot(&m);
	f = (struct failing_src){ { m.p, m.len, 0, 0 }, m.len - 3, true };
	CHECK_EQ(snapshot_reader_new(failing_read, &f, "io", &r, &eb), 0);
	while ((rc = snapshot_reader_next(r, &e, &eb)) > 0)
		entry_release(&e);
	CHECK_ERR(rc, EIO);
	CHECK(strstr(eb.msg, "cannot read snapshot 'io': its source "
			     "returned") != NULL);
	snapshot_reader_free(r);
	mem_free(&m);
}

static void test_bad_magic(void)
{
	static const uint8_t junk[] = "GARBAGE!GARBAGE!GARBAGE!";
	struct errbuf eb = ERRBUF_INIT;
	struct snapshot_reader *r = NULL;
	struct mem m = { 0 };

	CHECK_EQ(read_all(junk, sizeof(junk), 0, NULL, 0, &eb), -EBADMSG);
	CHECK(strstr(eb.msg, "bad magic") != NULL);
	CHECK_EQ(read_all(junk, 0, 0, NULL, 0, &eb), -EBADMSG);
	small_snapshot(&m);
	m.p[3] ^= 0x20;
	CHECK_EQ(read_all(m.p, m.len, 0, NULL, 0, &eb), -EBADMSG);
	mem_free(&m);

	errbuf_clear(&eb);
	CHECK_ERR(snapshot_reader_open_file("/nonexistent/snap.msgpack", &r, &eb),
		  ENOENT);
	CHECK(r == NULL);
	CHECK(strstr(eb.msg, "cannot open snapshot '/nonexistent/snap.msgpack'")
	      != NULL);
}

int main(void)
{
	RUN_TEST(test_roundtrip);
	RUN_TEST(test_empty_snapshot);
	RUN_TEST(test_root_meta);
	RUN_TEST(test_writer_rejects);
	RUN_TEST(test_writer_sink_error);
	RUN_TEST(test_truncation);
	RUN_TEST(test_bit_flips);
	RUN_TEST(test_crafted_valid);
	RUN_TEST(test_crafted_bad_entries);
	RUN_TEST(test_hostile_frames);
	RUN_TEST(test_check_frame);
	RUN_TEST(test_read_error);
	RUN_TEST(test_overlong_read);
	RUN_TEST(test_bad_magic);
	return test_finish();
}
