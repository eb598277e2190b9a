/* test_heap_gz: gzip heap objects in the Python tool's format
 * (engine/heap/heap_gz.c and their use by heap_local.c): presence and
 * reading of <md5>.gz (multi-member too), the format chosen by auto,
 * writing in gz mode (put_buf and streaming), no second copy of a content
 * present in the other form, corrupt gzip and gzip bombs refused with a
 * message naming the object. Real files in /tmp. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "heap.h"
#include "heap_gz.h"
#include "objid.h"
#include "test.h"

static char tmpdir[64];

/* gzip.compress(b"python object one\n", mtime=0) followed by
 * gzip.compress(b"and member two\n", mtime=0): what Python writes, and two
 * members of one content */
static const unsigned char py_two_members[] = {
	0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x2b,
	0xa8, 0x2c, 0xc9, 0xc8, 0xcf, 0x53, 0xc8, 0x4f, 0xca, 0x4a, 0x4d,
	0x2e, 0x51, 0xc8, 0xcf, 0x4b, 0xe5, 0x02, 0x00, 0xe6, 0x03, 0xfb,
	0x6e, 0x12, 0x00, 0x00, 0x00, 0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x02, 0x03, 0x4b, 0xcc, 0x4b, 0x51, 0xc8, 0x4d, 0xcd,
	0x4d, 0x4a, 0x2d, 0x52, 0x28, 0x29, 0xcf, 0xe7, 0x02, 0x00, 0xaf,
	0xce, 0xb1, 0xc7, 0x0f, 0x00, 0x00, 0x00,
};
static const char py_content[] = "python object one\nand member two\n";

static void md5_of(const void *buf, size_t len, struct objid *out)
{
	unsigned int n = 0;

	if (!EVP_Digest(buf, len, out->b, &n, EVP_md5(), NULL) || n != 16) {
		fprintf(stderr, "EVP_Digest failed\n");
		exit(1);
	}
}

static void fresh_root(char *out, size_t cap, const char *tag)
{
	snprintf(out, cap, "%s/%s", tmpdir, tag);
	CHECK_EQ(mkdir(out, 0755), 0);
}

static void write_file(const char *root, const char *rel, const void *buf,
		       size_t len)
{
	char path[512], dir[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s/%.*s", root,
		 (int)(strchr(rel, '/') - rel), rel);
	(void)mkdir(dir, 0755);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* Write object id as <md5>.gz (gz) or <md5> holding buf. */
static void put_file(const char *root, const struct objid *id, bool gz,
		     const void *buf, size_t len)
{
	char rel[39];

	if (gz)
		heap_object_path_gz(id, rel);
	else
		heap_object_path(id, rel);
	write_file(root, rel, buf, len);
}

static bool exists(const char *root, const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return stat(path, &st) == 0;
}

static bool exists_obj(const char *root, const struct objid *id, bool gz)
{
	char rel[39];

	if (gz)
		heap_object_path_gz(id, rel);
	else
		heap_object_path(id, rel);
	return exists(root, rel);
}

/* A growing buffer: the sink of test-made gzip streams. */
struct mem {
	unsigned char *p;
	size_t len, cap;
};

static int mem_sink(void *arg, const void *buf, size_t len,
		    struct errbuf *eb)
{
	struct mem *m = arg;

	(void)eb;
	if (m->len + len > m->cap) {
		m->cap = (m->len + len) * 2;
		m->p = realloc(m->p, m->cap);
		if (!m->p)
			return -ENOMEM;
	}
	memcpy(m->p + m->len, buf, len);
	m->len += len;
	return 0;
}

static void gzip_of(const void *buf, size_t len, struct mem *m)
{
	struct errbuf eb = ERRBUF_INIT;
	struct heap_gz_enc *z = NULL;

	memset(m, 0, sizeof(*m));
	CHECK_EQ(heap_gz_enc_new(mem_sink, m, &z, &eb), 0);
	if (!z)
		return;
	CHECK_EQ(heap_gz_enc_write(z, buf, len, &eb), 0);
	CHECK_EQ(heap_gz_enc_finish(z, &eb), 0);
	heap_gz_enc_free(z);
}

/* Read all of fd (closed here) into a malloc'd buffer; *len its size. */
static unsigned char *read_all(int fd, size_t *len)
{
	size_t cap = 1 << 16, got = 0;
	unsigned char *p = malloc(cap);
	ssize_t n;

	while (p && (n = read(fd, p + got, cap - got)) > 0) {
		got += (size_t)n;
		if (got == cap) {
			cap *= 2;
			p = realloc(p, cap);
		}
	}
	close(fd);
	*len = got;
	return p;
}

static struct heap *open_fmt(const char *root, enum heap_format fmt)
{
	struct errbuf eb = ERRBUF_INIT;
	struct engine_opts o;
	struct heap *h = NULL;

	memset(&o, 0, sizeof(o));
	engine_opts_defaults(&o);
	o.heap_format = fmt;
	CHECK_EQ(heap_open_url(root, true, &o, &h, &eb), 0);
	return h;
}

/* a heap as Python leaves it: <md5>.gz objects (one of two members),
 * temp/<uuid>.gz and a stray file: present, read as plain content, the
 * stray names ignored, auto picks gz */
static void test_python_heap(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct objid id, missing, ids[2];
	unsigned char present[2] = { 9, 9 };
	char root[256];
	struct heap *h = NULL;
	unsigned char *back;
	size_t len = 0;
	int fd = -1;

	fresh_root(root, sizeof(root), "python");
	md5_of(py_content, strlen(py_content), &id);
	put_file(root, &id, true, py_two_members, sizeof(py_two_members));
	write_file(root, "temp/0b1e2c59-5d1e-4f1a-9c1b-1c3e2b4a5d6f.gz", "x",
		   1);
	write_file(root, "ab/README", "not an object", 13);
	md5_of("missing", 7, &missing);

	CHECK_EQ(heap_open(root, false, &h, &eb), 0);
	if (!h)
		return;
	CHECK_EQ(heap_format(h), HEAP_FORMAT_GZ);
	CHECK_EQ(heap_has(h, &id, &eb), 1);
	CHECK_EQ(heap_has(h, &missing, &eb), 0);
	ids[0] = id;
	ids[1] = missing;
	CHECK_EQ(heap_has_many(h, ids, 2, 2, present, &eb), 0);
	CHECK_EQ(present[0], 1);
	CHECK_EQ(present[1], 0);

	CHECK_EQ(heap_open_object(h, &id, &fd, &eb), 0);
	if (fd >= 0) {
		back = read_all(fd, &len);
		CHECK_EQ(len, strlen(py_content));
		CHECK(back && !memcmp(back, py_content, len));
		free(back);
	}
	fd = -1;
	CHECK_ERR(heap_open_object(h, &missing, &fd, &eb), ENOENT);
	heap_free(h);
}

/* auto on an empty heap and on a heap of raw objects: raw */
static void test_auto_raw(void)
{
	char root[256];
	struct objid id;
	struct heap *h;

	fresh_root(root, sizeof(root), "auto-empty");
	h = open_fmt(root, HEAP_FORMAT_AUTO);
	if (h)
		CHECK_EQ(heap_format(h), HEAP_FORMAT_RAW);
	heap_free(h);

	fresh_root(root, sizeof(root), "auto-raw");
	md5_of("raw", 3, &id);
	put_file(root, &id, false, "raw", 3);
	h = open_fmt(root, HEAP_FORMAT_AUTO);
	if (h)
		CHECK_EQ(heap_format(h), HEAP_FORMAT_RAW);
	heap_free(h);

	/* .gz names that are not objects (a folder in upper case, a name
	 * in the wrong folder: the heap never looks there) do not make a
	 * heap gz */
	fresh_root(root, sizeof(root), "auto-not-objects");
	write_file(root, "D4/d41d8cd98f00b204e9800998ecf8427e.gz", "x", 1);
	write_file(root, "00/d41d8cd98f00b204e9800998ecf8427e.gz", "x", 1);
	h = open_fmt(root, HEAP_FORMAT_AUTO);
	if (h)
		CHECK_EQ(heap_format(h), HEAP_FORMAT_RAW);
	heap_free(h);
}

static void check_object(struct heap *h, const struct objid *id,
			 const void *want, size_t want_len)
{
	struct errbuf eb = ERRBUF_INIT;
	unsigned char *back;
	struct objid got;
	size_t len = 0;
	int fd = -1;

	CHECK_EQ(heap_open_object(h, id, &fd, &eb), 0);
	if (fd < 0)
		return;
	back = read_all(fd, &len);
	CHECK_EQ(len, want_len);
	if (back)
		md5_of(back, len, &got);
	CHECK(back && objid_eq(&got, id));
	CHECK(back && (!want || !memcmp(back, want, len)));
	free(back);
}

/* gz mode: put_buf and the streaming tx publish <md5>.gz (gzip, never
 * a raw copy), read back as the content; a second put is "present" */
static void test_put_gz(void)
{
	struct errbuf eb = ERRBUF_INIT;
	size_t big = (size_t)5 << 20, i;
	unsigned char *data = malloc(big), magic[2] = { 0, 0 };
	struct heap_tx *tx = NULL;
	struct objid a, b;
	char root[256], rel[39], path[600];
	struct heap *h;
	int fd;

	fresh_root(root, sizeof(root), "put-gz");
	h = open_fmt(root, HEAP_FORMAT_GZ);
	if (!h || !data) {
		free(data);
		heap_free(h);
		return;
	}
	CHECK_EQ(heap_format(h), HEAP_FORMAT_GZ);
	md5_of("hello gz", 8, &a);
	CHECK_EQ(heap_put_buf(h, &a, "hello gz", 8, &eb), 1);
	CHECK(exists_obj(root, &a, true));
	CHECK(!exists_obj(root, &a, false));
	CHECK_EQ(heap_put_buf(h, &a, "hello gz", 8, &eb), 0);
	heap_object_path_gz(&a, rel);
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK_EQ(read(fd, magic, 2), 2);
		close(fd);
	}
	CHECK(magic[0] == 0x1f && magic[1] == 0x8b);
	check_object(h, &a, "hello gz", 8);

	/* half text-like, half pseudo-random; streamed in odd chunks */
	for (i = 0; i < big; i++)
		data[i] = i < big / 2 ? (unsigned char)"abc def\n"[i % 8] :
			  (unsigned char)((i * 2654435761u) >> 13);
	md5_of(data, big, &b);
	CHECK_EQ(heap_tx_begin(h, &tx, &eb), 0);
	for (i = 0; tx && i < big; i += 77777)
		CHECK_EQ(heap_tx_write(tx, data + i, big - i < 77777 ?
				       big - i : 77777, &eb), 0);
	if (tx)
		CHECK_EQ(heap_tx_commit(tx, &b, &eb), 1);
	CHECK(exists_obj(root, &b, true));
	CHECK(!exists_obj(root, &b, false));
	check_object(h, &b, data, big);
	CHECK_EQ(heap_sync(h, &eb), 0);
	heap_free(h);

	/* the heap now has gz objects: auto keeps writing gz */
	h = open_fmt(root, HEAP_FORMAT_AUTO);
	if (h)
		CHECK_EQ(heap_format(h), HEAP_FORMAT_GZ);
	heap_free(h);
	free(data);
}

/* a content present in the other form is not stored again; when both
 * forms exist the raw one is read */
static void test_other_form(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct heap_tx *tx = NULL;
	struct objid a, b;
	struct mem gz;
	char root[256];
	struct heap *h;

	fresh_root(root, sizeof(root), "other-form");
	md5_of("in gz", 5, &a);
	gzip_of("in gz", 5, &gz);
	put_file(root, &a, true, gz.p, gz.len);
	free(gz.p);
	md5_of("in raw", 6, &b);
	put_file(root, &b, false, "in raw", 6);

	h = open_fmt(root, HEAP_FORMAT_RAW);
	if (h) {
		CHECK_EQ(heap_put_buf(h, &a, "in gz", 5, &eb), 0);
		CHECK(!exists_obj(root, &a, false));
		CHECK_EQ(heap_tx_begin(h, &tx, &eb), 0);
		if (tx) {
			CHECK_EQ(heap_tx_write(tx, "in gz", 5, &eb), 0);
			CHECK_EQ(heap_tx_commit(tx, &a, &eb), 0);
		}
		CHECK(!exists_obj(root, &a, false));
	}
	heap_free(h);
	h = open_fmt(root, HEAP_FORMAT_GZ);
	if (h) {
		CHECK_EQ(heap_put_buf(h, &b, "in raw", 6, &eb), 0);
		CHECK(!exists_obj(root, &b, true));
	}
	heap_free(h);

	/* both forms, the .gz with other bytes: the raw one is read */
	gzip_of("decoy!", 6, &gz);
	put_file(root, &b, true, gz.p, gz.len);
	free(gz.p);
	CHECK_EQ(heap_open(root, false, &h, &eb), 0);
	if (h)
		check_object(h, &b, "in raw", 6);
	heap_free(h);
}

/* Store bytes as the .gz of id in a fresh heap and open it: the result
 * of heap_open_object_sized(max); the message in eb. */
static int open_crafted(const char *tag, const struct objid *id,
			const void *gz, size_t len, uint64_t max,
			struct errbuf *eb)
{
	char root[256];
	struct heap *h = NULL;
	int fd = -1, ret;

	fresh_root(root, sizeof(root), tag);
	put_file(root, id, true, gz, len);
	ret = heap_open(root, false, &h, eb);
	if (ret < 0)
		return ret;
	ret = heap_open_object_sized(h, id, max, &fd, eb);
	if (fd >= 0)
		close(fd);
	heap_free(h);
	return ret;
}

static void check_corrupt(const char *tag, const struct objid *id,
			  const unsigned char *gz, size_t len, const char *why)
{
	struct errbuf eb = ERRBUF_INIT;
	char hex[OBJID_HEX_LEN + 1], name[48];

	CHECK_ERR(open_crafted(tag, id, gz, len, UINT64_MAX, &eb), EBADMSG);
	objid_to_hex(id, hex);
	snprintf(name, sizeof(name), "%.2s/%s.gz'", hex, hex);
	CHECK(strstr(eb.msg, "cannot read heap object '") == eb.msg);
	CHECK(strstr(eb.msg, name) != NULL);
	CHECK(strstr(eb.msg, "corrupt gzip data: ") != NULL);
	CHECK(strstr(eb.msg, why) != NULL);
	fprintf(stderr, "expected error: %s\n", eb.msg);
}

/* corrupt gzip: a flipped byte, bad CRC, bad length, truncated, trailing
 * garbage, bad header, empty file; a gzip bomb beyond the expected size */
static void test_corrupt(void)
{
	struct errbuf eb = ERRBUF_INIT;
	size_t text_len = 100000, i;
	unsigned char *text = malloc(text_len), *bad;
	struct objid id;
	struct mem gz;

	if (!text)
		return;
	for (i = 0; i < text_len; i++)
		text[i] = (unsigned char)("the quick brown fox\n"[i % 20] +
					  (i % 997 == 0));
	md5_of(text, text_len, &id);
	gzip_of(text, text_len, &gz);
	bad = malloc(gz.len + 8);
	if (!gz.p || !bad)
		goto out;
	CHECK_EQ(open_crafted("gz-good", &id, gz.p, gz.len, text_len, &eb), 0);

	memcpy(bad, gz.p, gz.len);
	bad[gz.len / 2] ^= 0x20;
	check_corrupt("gz-flip", &id, bad, gz.len, "");
	memcpy(bad, gz.p, gz.len);
	bad[gz.len - 8] ^= 0x01;     /* CRC32 */
	check_corrupt("gz-crc", &id, bad, gz.len, "CRC");
	memcpy(bad, gz.p, gz.len);
	bad[gz.len - 4] ^= 0x01;     /* ISIZE */
	check_corrupt("gz-isize", &id, bad, gz.len, "length");
	check_corrupt("gz-trunc", &id, gz.p, gz.len - 3, "truncated");
	check_corrupt("gz-half", &id, gz.p, gz.len / 2, "truncated");
	memcpy(bad, gz.p, gz.len);
	memcpy(bad + gz.len, "garbage", 7);
	check_corrupt("gz-trailing", &id, bad, gz.len + 7, "trailing garbage");
	memcpy(bad, gz.p, gz.len);
	bad[1] = 0x8c;
	check_corrupt("gz-header", &id, bad, gz.len, "header");
	check_corrupt("gz-empty", &id, gz.p, 0, "empty");
	check_corrupt("gz-plain", &id, text, 1000, "header");

	/* more output than the caller expects: refused, not written on */
	CHECK_ERR(open_crafted("gz-bomb", &id, gz.p, gz.len, 1000, &eb),
		  EFBIG);
	CHECK(strstr(eb.msg, "more than the 1000 bytes expected") != NULL);
out:
	free(bad);
	free(gz.p);
	free(text);
}

int main(void)
{
	char cmd[256];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/snap-heapgz-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN_TEST(test_python_heap);
	RUN_TEST(test_auto_raw);
	RUN_TEST(test_put_gz);
	RUN_TEST(test_other_form);
	RUN_TEST(test_corrupt);
	snprintf(cmd, sizeof(cmd), "chmod -R u+w %s; rm -rf %s", tmpdir,
		 tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", tmpdir);
	return test_finish();
}
