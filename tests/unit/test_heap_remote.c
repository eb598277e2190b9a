/* test_heap_remote: the remote heap (engine/heap/heap_remote.c) against
 * real servers started here (tests/servers): s3rver, OpenStack Swift with
 * s3api (checks SigV4 and Content-MD5) and Azurite (checks SharedKey and
 * Content-MD5). A backend whose server cannot start is skipped, unless
 * SNAP_REQUIRE_SERVERS is set. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "engine.h"
#include "heap.h"
#include "heap_gz.h"
#include "http_multi.h"
#include "objstore.h"
#include "servers/server_env.h"
#include "test.h"

struct backend {
	const char *name;
	char url[128];           /* s3://bucket/prefix */
	char opts[1024];
	char bad[1024];          /* wrong credentials */
	const char *secret;      /* must never show in a message */
	bool checks_md5;
};

static int nbuckets;

/* no CHECK inside: called from worker threads too (test.h counters are
 * not thread safe) */
static bool md5_raw(const void *buf, size_t len, struct objid *out)
{
	unsigned int n = 0;

	return EVP_Digest(buf, len, out->b, &n, EVP_md5(), NULL) == 1 &&
	       n == 16;
}

static void md5_of(const void *buf, size_t len, struct objid *out)
{
	CHECK(md5_raw(buf, len, out));
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		p[i] = (uint8_t)(seed >> 56);
	}
}

static void new_url(struct backend *b, const char *scheme)
{
	snprintf(b->url, sizeof(b->url), "%s://snapheap-%d-%d/heap", scheme,
		 (int)getpid(), ++nbuckets);
}

static struct heap *open_heap(const struct backend *b, const char *opts,
			      const char *cache, struct errbuf *eb, int *ret)
{
	struct engine_opts o;
	struct heap *h = NULL;

	memset(&o, 0, sizeof(o));
	engine_opts_defaults(&o);
	o.heap_storage_options = opts;
	o.heap_cache_file = cache;
	o.transfers = 8;
	o.retries = 1;
	o.create_bucket = true;
	*ret = heap_open_url(b->url, true, &o, &h, eb);
	return h;
}

/* Without create_bucket (--create-bucket) a missing bucket is an error
 * naming it, and nothing is created: a second open fails the same way. */
static void test_missing_bucket(const struct backend *b)
{
	struct errbuf eb = ERRBUF_INIT;
	struct engine_opts o;
	struct heap *h = NULL;
	int round;

	memset(&o, 0, sizeof(o));
	engine_opts_defaults(&o);
	o.heap_storage_options = b->opts;
	o.retries = 1;
	for (round = 0; round < 2; round++) {
		errbuf_clear(&eb);
		CHECK_ERR(heap_open_url(b->url, true, &o, &h, &eb), ENOENT);
		CHECK(h == NULL);
		CHECK(strstr(eb.msg, "does not exist at http://127.0.0.1:") !=
		      NULL);
		CHECK(strstr(eb.msg, "--create-bucket") != NULL);
		fprintf(stderr, "expected error: %s\n", eb.msg);
	}
	heap_free(h);
}

static struct objstore *raw_store(const struct backend *b)
{
	struct errbuf eb = ERRBUF_INIT;
	struct objstore *os = NULL;

	CHECK_EQ(objstore_open(b->url, b->opts, NULL, &os, &eb), 0);
	return os;
}

#define NSMALL 300

/* put/has/sync, open_object, reopen (listing), missing object */
static void test_put_sync(const struct backend *b)
{
	struct errbuf eb = ERRBUF_INIT;
	struct objid ids[NSMALL], missing;
	struct objstore *os;
	struct heap *h;
	uint8_t buf[600], back[700];
	char key[36];
	size_t i;
	ssize_t n;
	int ret, fd;

	test_missing_bucket(b);
	h = open_heap(b, b->opts, NULL, &eb, &ret);
	if (ret)
		fprintf(stderr, "open: %s\n", eb.msg);
	CHECK_EQ(ret, 0);
	if (!h)
		return;
	CHECK_STREQ(heap_root(h), b->url);
	for (i = 0; i < NSMALL; i++) {
		size_t len = i % sizeof(buf);

		fill(buf, len, i + 1);
		buf[0] = (uint8_t)i;     /* distinct even when short */
		md5_of(buf, len, &ids[i]);
		ret = heap_put_buf(h, &ids[i], buf, len, &eb);
		/* lengths differ: every content is new */
		CHECK_EQ(ret, 1);
		CHECK_EQ(heap_has(h, &ids[i], &eb), 1);
	}
	/* same content again: nothing to upload */
	fill(buf, 5, 6);
	buf[0] = 5;
	CHECK_EQ(heap_put_buf(h, &ids[5], buf, 5, &eb), 0);
	ret = heap_sync(h, &eb);
	if (ret)
		fprintf(stderr, "sync: %s\n", eb.msg);
	CHECK_EQ(ret, 0);

	/* every object is in the store under ab/<hex> */
	os = raw_store(b);
	for (i = 0; os && i < NSMALL; i += 37) {
		struct objstore_info info;

		heap_object_path(&ids[i], key);
		CHECK_EQ(objstore_head(os, key, &info, &eb), 0);
		CHECK_EQ(info.size, i % sizeof(buf));
	}
	objstore_free(os);

	/* download */
	fd = -1;
	CHECK_EQ(heap_open_object(h, &ids[123], &fd, &eb), 0);
	if (fd >= 0) {
		fill(buf, 123, 124);
		buf[0] = 123;
		n = read(fd, back, sizeof(back));
		CHECK_EQ(n, 123);
		CHECK(memcmp(back, buf, 123) == 0);
		close(fd);
	}
	memset(&missing, 0xab, sizeof(missing));
	CHECK_EQ(heap_has(h, &missing, &eb), 0);
	errbuf_clear(&eb);
	fd = -1;
	CHECK_ERR(heap_open_object(h, &missing, &fd, &eb), ENOENT);
	CHECK_EQ(fd, -1);
	fprintf(stderr, "expected error: %s\n", eb.msg);
	CHECK(strstr(eb.msg, "abababababababababababababababab") != NULL);
	CHECK(strstr(eb.msg, "missing") != NULL);
	CHECK(strstr(eb.msg, b->url) != NULL);
	heap_free(h);

	/* a new handle lists the heap: everything is known */
	h = open_heap(b, b->opts, NULL, &eb, &ret);
	CHECK_EQ(ret, 0);
	for (i = 0; h && i < NSMALL; i++)
		CHECK_EQ(heap_has(h, &ids[i], &eb), 1);
	if (h)
		CHECK_EQ(heap_has(h, &missing, &eb), 0);
	heap_free(h);
}

/* many threads put the same contents: each content uploaded once */
struct dedup_arg {
	struct heap *h;
	int wins;
	int errors;
};

#define NDEDUP 64

static void *dedup_main(void *p)
{
	struct dedup_arg *a = p;
	struct errbuf eb = ERRBUF_INIT;
	uint8_t buf[100];
	struct objid id;
	int i, ret;

	for (i = 0; i < NDEDUP; i++) {
		fill(buf, sizeof(buf), 1000 + (uint64_t)i);
		if (!md5_raw(buf, sizeof(buf), &id)) {
			a->errors++;
			continue;
		}
		ret = heap_put_buf(a->h, &id, buf, sizeof(buf), &eb);
		if (ret == 1)
			a->wins++;
		else if (ret < 0)
			a->errors++;
	}
	return NULL;
}

static void test_dedup(const struct backend *b)
{
	struct dedup_arg args[6];
	pthread_t th[6];
	struct errbuf eb = ERRBUF_INIT;
	struct heap *h;
	int i, ret, wins = 0, errors = 0, started = 0;

	h = open_heap(b, b->opts, NULL, &eb, &ret);
	CHECK_EQ(ret, 0);
	if (!h)
		return;
	for (i = 0; i < 6; i++) {
		memset(&args[i], 0, sizeof(args[i]));
		args[i].h = h;
		if (pthread_create(&th[i], NULL, dedup_main, &args[i]) == 0)
			started++;
	}
	for (i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		wins += args[i].wins;
		errors += args[i].errors;
	}
	CHECK_EQ(started, 6);
	CHECK_EQ(wins, NDEDUP);     /* one upload per content */
	CHECK_EQ(errors, 0);
	CHECK_EQ(heap_sync(h, &eb), 0);
	heap_free(h);
}

/* a ~20 MiB content through the spool, then read back */
static void test_tx_large(const struct backend *b)
{
	const size_t chunk = 1 << 20, total = 20 * chunk + 12345;
	struct errbuf eb = ERRBUF_INIT;
	struct heap_tx *tx = NULL;
	struct objid id, got;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t *buf = malloc(chunk);
	struct heap *h;
	unsigned int n = 0;
	size_t done = 0;
	uint64_t back = 0;
	int ret, fd = -1;

	h = open_heap(b, b->opts, NULL, &eb, &ret);
	CHECK_EQ(ret, 0);
	CHECK(buf && ctx);
	if (!h || !buf || !ctx)
		goto out;
	CHECK(EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1);
	CHECK_EQ(heap_tx_begin(h, &tx, &eb), 0);
	while (tx && done < total) {
		size_t len = total - done < chunk ? total - done : chunk;

		fill(buf, len, 77 + done);
		EVP_DigestUpdate(ctx, buf, len);
		CHECK_EQ(heap_tx_write(tx, buf, len, &eb), 0);
		done += len;
	}
	EVP_DigestFinal_ex(ctx, id.b, &n);
	ret = heap_tx_commit(tx, &id, &eb);
	CHECK_EQ(ret, 1);
	ret = heap_sync(h, &eb);
	if (ret)
		fprintf(stderr, "sync: %s\n", eb.msg);
	CHECK_EQ(ret, 0);
	/* the same content again: discarded, 0 */
	CHECK_EQ(heap_tx_begin(h, &tx, &eb), 0);
	CHECK_EQ(heap_tx_write(tx, "x", 1, &eb), 0);
	CHECK_EQ(heap_tx_commit(tx, &id, &eb), 0);
	/* an aborted tx leaves nothing */
	CHECK_EQ(heap_tx_begin(h, &tx, &eb), 0);
	heap_tx_abort(tx);

	CHECK_EQ(heap_open_object(h, &id, &fd, &eb), 0);
	CHECK(EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1);
	for (;;) {
		ssize_t r = fd >= 0 ? read(fd, buf, chunk) : 0;

		if (r <= 0)
			break;
		back += (uint64_t)r;
		EVP_DigestUpdate(ctx, buf, (size_t)r);
	}
	EVP_DigestFinal_ex(ctx, got.b, &n);
	CHECK_EQ(back, total);
	CHECK(objid_eq(&got, &id));
	if (fd >= 0)
		close(fd);
out:
	heap_free(h);
	EVP_MD_CTX_free(ctx);
	free(buf);
}

/* a wrong id (not the MD5 of the bytes): the server refuses the upload,
 * heap_sync reports it with the object URL and the status; later puts
 * fail at once */
static void test_bad_md5(const struct backend *b)
{
	struct errbuf eb = ERRBUF_INIT;
	struct objid id;
	struct heap *h;
	char key[36];
	int ret;

	if (!b->checks_md5)
		return;
	h = open_heap(b, b->opts, NULL, &eb, &ret);
	CHECK_EQ(ret, 0);
	if (!h)
		return;
	memset(&id, 0x5c, sizeof(id));
	CHECK_EQ(heap_put_buf(h, &id, "not that", 8, &eb), 1);
	ret = heap_sync(h, &eb);
	fprintf(stderr, "expected error: %s\n", eb.msg);
	CHECK(ret < 0);
	heap_object_path(&id, key);
	CHECK(strstr(eb.msg, key) != NULL);
	CHECK(strstr(eb.msg, b->url) != NULL);
	CHECK(strstr(eb.msg, "400") != NULL);
	errbuf_clear(&eb);
	memset(&id, 0x5d, sizeof(id));
	CHECK(heap_put_buf(h, &id, "x", 1, &eb) < 0);
	CHECK(heap_sync(h, &eb) < 0);
	heap_free(h);
}

/* wrong credentials: open fails with the URL and the status, no secret */
static void test_bad_auth(const struct backend *b)
{
	struct errbuf eb = ERRBUF_INIT;
	struct heap *h;
	int ret;

	h = open_heap(b, b->bad, NULL, &eb, &ret);
	fprintf(stderr, "expected error: %s\n", eb.msg);
	CHECK(ret < 0);
	CHECK(h == NULL);
	CHECK(strstr(eb.msg, b->url) != NULL);
	CHECK(strstr(eb.msg, "403") != NULL);
	CHECK(strstr(eb.msg, "wrongsecret") == NULL);
	CHECK(strstr(eb.msg, b->secret) == NULL);
	heap_free(h);
}

/* the cache file: written at sync, loaded instead of listing (an object
 * deleted behind its back still counts), refused when corrupt */
static void test_cache(const struct backend *b)
{
	struct errbuf eb = ERRBUF_INIT;
	char dir[] = "/tmp/snap-heapcache-XXXXXX", cache[300], key[36];
	struct objid a, c;
	struct objstore *os;
	struct heap *h;
	struct stat st;
	int ret, fd;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	h = open_heap(b, b->opts, cache, &eb, &ret);   /* no file: lists */
	CHECK_EQ(ret, 0);
	if (!h)
		goto out;
	md5_of("cache a", 7, &a);
	md5_of("cache c", 7, &c);
	CHECK_EQ(heap_put_buf(h, &a, "cache a", 7, &eb), 1);
	CHECK_EQ(heap_put_buf(h, &c, "cache c", 7, &eb), 1);
	CHECK_EQ(heap_sync(h, &eb), 0);
	heap_free(h);
	CHECK_EQ(stat(cache, &st), 0);
	CHECK(st.st_size > 16 + 8 + 16);

	/* delete c behind the cache's back */
	os = raw_store(b);
	heap_object_path(&c, key);
	CHECK_EQ(objstore_del(os, key, &eb), 0);
	objstore_free(os);

	h = open_heap(b, b->opts, cache, &eb, &ret);   /* from the file */
	CHECK_EQ(ret, 0);
	if (h) {
		CHECK_EQ(heap_has(h, &a, &eb), 1);
		CHECK_EQ(heap_has(h, &c, &eb), 1);
	}
	heap_free(h);

	/* flip one byte of an id: the checksum refuses it, so it lists */
	fd = open(cache, O_RDWR);
	CHECK(fd >= 0);
	if (fd >= 0) {
		uint8_t x = 0;

		CHECK_EQ(pread(fd, &x, 1, st.st_size - 20), 1);
		x ^= 0x40;
		CHECK_EQ(pwrite(fd, &x, 1, st.st_size - 20), 1);
		close(fd);
	}
	h = open_heap(b, b->opts, cache, &eb, &ret);
	CHECK_EQ(ret, 0);
	if (h) {
		CHECK_EQ(heap_has(h, &a, &eb), 1);
		CHECK_EQ(heap_has(h, &c, &eb), 0);
		CHECK_EQ(heap_sync(h, &eb), 0);  /* rewrites a sound cache */
	}
	heap_free(h);
	h = open_heap(b, b->opts, cache, &eb, &ret);
	CHECK_EQ(ret, 0);
	if (h)
		CHECK_EQ(heap_has(h, &c, &eb), 0);
	heap_free(h);

	/* a truncated file is refused too */
	CHECK_EQ(truncate(cache, 10), 0);
	h = open_heap(b, b->opts, cache, &eb, &ret);
	CHECK_EQ(ret, 0);
	if (h)
		CHECK_EQ(heap_has(h, &a, &eb), 1);
	heap_free(h);
out:
	unlink(cache);
	rmdir(dir);
}

/* gzip.compress(b"python object one\n", mtime=0) followed by
 * gzip.compress(b"and member two\n", mtime=0): a Python heap object of
 * two members */
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

static void store_key(struct objstore *os, const char *key, const void *buf,
		      size_t len)
{
	struct errbuf eb = ERRBUF_INIT;
	struct objstore_put_opts po;
	struct body_src src;

	memset(&po, 0, sizeof(po));
	memset(&src, 0, sizeof(src));
	src.kind = len ? BODY_SRC_MEM : BODY_SRC_NONE;
	src.mem = buf;
	src.len = len;
	src.fd = -1;
	CHECK_EQ(objstore_put(os, key, &src, &po, NULL, &eb), 0);
}

/* Read object id of h whole; its length, or -1. */
static ssize_t read_object(struct heap *h, const struct objid *id,
			   char *buf, size_t cap, struct errbuf *eb)
{
	ssize_t n, got = 0;
	int fd = -1;

	if (heap_open_object(h, id, &fd, eb) < 0)
		return -1;
	while ((n = read(fd, buf + got, cap - (size_t)got)) > 0)
		got += n;
	close(fd);
	return got;
}

/* the Python format on a remote heap: .gz objects listed as present
 * (temp/ and stray keys ignored), read as plain content, auto writes gz
 * (put_buf and tx: key <md5>.gz only, stored with the MD5 of the gzip
 * bytes), a text cache file (the Python tool's) is read and stays text,
 * corrupt gzip is refused naming the object */
static void test_gz(struct backend *b)
{
	struct errbuf eb = ERRBUF_INIT;
	char saved[sizeof(b->url)], key[39], rawkey[36], buf[4096];
	char dir[] = "/tmp/snap-heapgzc-XXXXXX", cache[300];
	char hex[OBJID_HEX_LEN + 1], line[40];
	size_t big = (size_t)3 << 20, i;
	unsigned char *data = malloc(big);
	struct objid py, a, c, bad;
	struct objstore_info info;
	struct heap_tx *tx = NULL;
	struct objstore *os;
	struct heap *h;
	struct stat st;
	int ret, fd;

	memcpy(saved, b->url, sizeof(saved));
	/* a fresh bucket: auto must see only this test's objects */
	new_url(b, !strncmp(b->url, "az:", 3) ? "az" : "s3");
	h = open_heap(b, b->opts, NULL, &eb, &ret);  /* creates the bucket */
	CHECK_EQ(ret, 0);
	if (h)
		CHECK_EQ(heap_format(h), HEAP_FORMAT_RAW);
	heap_free(h);

	os = raw_store(b);
	if (!os || !data)
		goto out;
	md5_of(py_content, strlen(py_content), &py);
	heap_object_path_gz(&py, key);
	store_key(os, key, py_two_members, sizeof(py_two_members));
	store_key(os, "temp/6f1c2d3e-aaaa-bbbb-cccc-0123456789ab.gz", "x", 1);
	store_key(os, "ab/not-an-object", "y", 1);
	/* a corrupt one: CRC flipped */
	{
		unsigned char crc[sizeof(py_two_members)];

		memcpy(crc, py_two_members, sizeof(crc));
		crc[sizeof(crc) - 8] ^= 1;
		memset(&bad, 0x3c, sizeof(bad));
		heap_object_path_gz(&bad, key);
		store_key(os, key, crc, sizeof(crc));
	}

	h = open_heap(b, b->opts, NULL, &eb, &ret);   /* lists */
	CHECK_EQ(ret, 0);
	if (!h)
		goto out;
	CHECK_EQ(heap_format(h), HEAP_FORMAT_GZ);
	CHECK_EQ(heap_has(h, &py, &eb), 1);
	CHECK_EQ(read_object(h, &py, buf, sizeof(buf), &eb),
		 (ssize_t)strlen(py_content));
	CHECK(!memcmp(buf, py_content, strlen(py_content)));
	CHECK_ERR(read_object(h, &bad, buf, sizeof(buf), &eb) < 0 ?
		  eb.code : 0, EBADMSG);
	heap_object_path_gz(&bad, key);
	CHECK(strstr(eb.msg, key) != NULL);
	CHECK(strstr(eb.msg, "corrupt gzip data") != NULL);
	fprintf(stderr, "expected error: %s\n", eb.msg);

	/* writes: gz; a server-side copy would store the raw form, so the
	 * caller is told to send the bytes */
	md5_of("new remote gz", 13, &a);
	CHECK_ERR(heap_put_copy(h, &a, os, "ab/not-an-object", NULL, &eb),
		  EXDEV);
	CHECK_EQ(heap_put_buf(h, &a, "new remote gz", 13, &eb), 1);
	CHECK_EQ(heap_put_buf(h, &py, py_content, strlen(py_content), &eb), 0);
	for (i = 0; i < big; i++)
		data[i] = i % 3 ? (unsigned char)"heap text\n"[i % 10] :
			  (unsigned char)((i * 2654435761u) >> 11);
	md5_of(data, big, &c);
	CHECK_EQ(heap_tx_begin(h, &tx, &eb), 0);
	for (i = 0; tx && i < big; i += 100000)
		CHECK_EQ(heap_tx_write(tx, data + i, big - i < 100000 ?
				       big - i : 100000, &eb), 0);
	if (tx)
		CHECK_EQ(heap_tx_commit(tx, &c, &eb), 1);
	ret = heap_sync(h, &eb);
	if (ret)
		fprintf(stderr, "sync: %s\n", eb.msg);
	CHECK_EQ(ret, 0);
	heap_free(h);

	heap_object_path_gz(&a, key);
	heap_object_path(&a, rawkey);
	memset(&info, 0, sizeof(info));
	CHECK_EQ(objstore_head(os, key, &info, &eb), 0);
	CHECK(info.size > 18);   /* a gzip header and trailer at least */
	CHECK_ERR(objstore_head(os, rawkey, &info, &eb), ENOENT);
	heap_object_path_gz(&c, key);
	heap_object_path(&c, rawkey);
	memset(&info, 0, sizeof(info));
	CHECK_EQ(objstore_head(os, key, &info, &eb), 0);
	CHECK(info.size < big);
	CHECK_ERR(objstore_head(os, rawkey, &info, &eb), ENOENT);
	/* the stored bytes are gzip of the content */
	fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	CHECK(fd >= 0);
	if (fd >= 0) {
		struct body_sink sink;
		char why[200] = "";
		uint64_t n = 0;
		int out = open("/tmp", O_TMPFILE | O_RDWR, 0600);

		memset(&sink, 0, sizeof(sink));
		sink.kind = BODY_SINK_FD;
		sink.fd = fd;
		CHECK_EQ(objstore_get(os, key, 0, 0, &sink, NULL, &eb), 0);
		CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
		CHECK_EQ(heap_gz_decode_fd(fd, out, UINT64_MAX, &n, why,
					   sizeof(why)), 0);
		CHECK_EQ(n, big);
		close(out);
		close(fd);
	}

	/* a reopen lists them all; the big one reads back */
	h = open_heap(b, b->opts, NULL, &eb, &ret);
	CHECK_EQ(ret, 0);
	if (h) {
		char *back = malloc(big + 1);
		struct objid got;

		CHECK_EQ(heap_has(h, &a, &eb), 1);
		CHECK_EQ(heap_has(h, &c, &eb), 1);
		if (back) {
			CHECK_EQ(read_object(h, &c, back, big + 1, &eb),
				 (ssize_t)big);
			md5_of(back, big, &got);
			CHECK(objid_eq(&got, &c));
		}
		free(back);
	}
	heap_free(h);

	/* the Python tool's text cache: loaded (nothing listed: the line
	 * of py is all it knows), auto still finds gz, written back as
	 * text */
	CHECK(mkdtemp(dir) != NULL);
	snprintf(cache, sizeof(cache), "%s/heap_cache.txt", dir);
	objid_to_hex(&py, hex);
	snprintf(line, sizeof(line), "%s\n", hex);
	fd = open(cache, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK_EQ(write(fd, line, strlen(line)), (ssize_t)strlen(line));
		close(fd);
	}
	h = open_heap(b, b->opts, cache, &eb, &ret);
	CHECK_EQ(ret, 0);
	if (h) {
		CHECK_EQ(heap_format(h), HEAP_FORMAT_GZ);
		CHECK_EQ(heap_has(h, &py, &eb), 1);
		CHECK_EQ(heap_has(h, &a, &eb), 0);   /* not in the cache */
		CHECK_EQ(read_object(h, &py, buf, sizeof(buf), &eb),
			 (ssize_t)strlen(py_content));
		CHECK_EQ(heap_sync(h, &eb), 0);
	}
	heap_free(h);
	CHECK_EQ(stat(cache, &st), 0);
	CHECK_EQ(st.st_size, 33);
	fd = open(cache, O_RDONLY);
	if (fd >= 0) {
		memset(buf, 0, 40);
		CHECK_EQ(read(fd, buf, 40), 33);
		CHECK(!memcmp(buf, line, 33));
		close(fd);
	}
	unlink(cache);
	rmdir(dir);
out:
	objstore_free(os);
	free(data);
	memcpy(b->url, saved, sizeof(saved));
}

#define NLIST 1003   /* more than one flat page (FLAT_LIST_MAX 1000) */

/* Requests the network stage st has sent so far (through a store opened
 * on it only to read the counters). */
static uint64_t stage_requests(struct objstore_stage *st, const char *url,
			       const char *opts)
{
	struct objstore_config cfg;
	struct http_multi_stats hs;
	struct errbuf eb = ERRBUF_INIT;
	struct objstore *os = NULL;

	objstore_config_defaults(&cfg);
	cfg.stage = st;
	if (objstore_open(url, opts, &cfg, &os, &eb)) {
		fprintf(stderr, "objstore_open: %s\n", eb.msg);
		return 0;
	}
	http_multi_stats(objstore_multi(os), &hs);
	objstore_free(os);
	return hs.requests;
}

/* A heap bigger than the flat listing's page: a reopened handle knows
 * every object, the 3 past the first page included (a listing that
 * stopped at the first page fails here). Spread over every prefix (MD5s
 * as they come) it is small enough to be listed flat to its end: 2 pages,
 * no prefix listing. All in prefix "00/" (contents searched for such
 * MD5s) the first page says nothing of its size: listed again by prefix
 * ("00/".."ff/", 256 listings and more). test_put_sync's 300 objects are
 * the one-page case. */
static void list_big(struct backend *b, const char *scheme, bool dense)
{
	struct errbuf eb = ERRBUF_INIT;
	static struct objid ids[NLIST];
	struct objstore_stage *st = NULL;
	struct engine_opts o;
	struct objid missing;
	struct heap *h;
	uint8_t buf[64];
	uint64_t seed = 5000, before, after;
	size_t i;
	int ret;

	new_url(b, scheme);
	h = open_heap(b, b->opts, NULL, &eb, &ret);
	CHECK_EQ(ret, 0);
	if (!h)
		return;
	for (i = 0; i < NLIST; i++) {
		do {
			fill(buf, sizeof(buf), seed++);
			md5_of(buf, sizeof(buf), &ids[i]);
		} while (dense && ids[i].b[0] != 0);
		CHECK_EQ(heap_put_buf(h, &ids[i], buf, sizeof(buf), &eb), 1);
	}
	ret = heap_sync(h, &eb);
	if (ret)
		fprintf(stderr, "sync: %s\n", eb.msg);
	CHECK_EQ(ret, 0);
	heap_free(h);

	CHECK_EQ(objstore_stage_new(&st), 0);
	memset(&o, 0, sizeof(o));
	engine_opts_defaults(&o);
	o.heap_storage_options = b->opts;
	o.transfers = 8;
	o.retries = 1;
	o.net = st;
	before = stage_requests(st, b->url, b->opts);
	h = NULL;
	ret = heap_open_url(b->url, false, &o, &h, &eb);
	CHECK_EQ(ret, 0);
	after = stage_requests(st, b->url, b->opts);
	fprintf(stderr, "%s heap of %d objects listed in %llu requests\n",
		dense ? "a dense" : "a spread", NLIST,
		(unsigned long long)(after - before));
	if (dense)
		CHECK(after - before >= 257);
	else
		CHECK(after - before <= 3);
	for (i = 0; h && i < NLIST; i++)
		CHECK_EQ(heap_has(h, &ids[i], &eb), 1);
	memset(&missing, 0x00, sizeof(missing));
	if (h)
		CHECK_EQ(heap_has(h, &missing, &eb), 0);
	heap_free(h);
	objstore_stage_free(st);
}

static void test_list_big(struct backend *b, const char *scheme)
{
	list_big(b, scheme, false);
	list_big(b, scheme, true);
}

static void run(struct backend *b, const char *scheme)
{
	fprintf(stderr, "== %s\n", b->name);
	new_url(b, scheme);
	test_put_sync(b);
	test_dedup(b);
	test_tx_large(b);
	test_bad_md5(b);
	test_bad_auth(b);
	test_cache(b);
	test_gz(b);
	test_list_big(b, scheme);
}

int main(int argc, char **argv)
{
	struct backend b;
	const char *only = argc > 1 ? argv[1] : NULL;

	if (!only || !strcmp(only, "s3rver")) {
		server_ensure("s3rver", "SNAP_S3RVER_ENDPOINT",
			      "SNAP_S3RVER_STATE", "");
		memset(&b, 0, sizeof(b));
		b.name = "s3rver";
		snprintf(b.opts, sizeof(b.opts),
			 "{\"endpoint_url\": \"%s\", \"key\": \"%s\", "
			 "\"secret\": \"%s\"}", getenv("SNAP_S3RVER_ENDPOINT"),
			 getenv("SNAP_S3RVER_KEY"), getenv("SNAP_S3RVER_SECRET"));
		snprintf(b.bad, sizeof(b.bad),
			 "{\"endpoint_url\": \"%s\", \"key\": \"nobody\", "
			 "\"secret\": \"wrongsecret\"}",
			 getenv("SNAP_S3RVER_ENDPOINT"));
		b.secret = "wrongsecret";
		run(&b, "s3");
	}
	if (!only || !strcmp(only, "swift")) {
		server_ensure("swift", "SNAP_SWIFT_ENDPOINT",
			      "SNAP_SWIFT_STATE", "");
		memset(&b, 0, sizeof(b));
		b.name = "swift";
		snprintf(b.opts, sizeof(b.opts),
			 "{\"endpoint_url\": \"%s\", \"key\": \"%s\", "
			 "\"secret\": \"%s\"}", getenv("SNAP_SWIFT_ENDPOINT"),
			 getenv("SNAP_SWIFT_KEY"), getenv("SNAP_SWIFT_SECRET"));
		snprintf(b.bad, sizeof(b.bad),
			 "{\"endpoint_url\": \"%s\", \"key\": \"%s\", "
			 "\"secret\": \"wrongsecret\"}",
			 getenv("SNAP_SWIFT_ENDPOINT"), getenv("SNAP_SWIFT_KEY"));
		b.secret = "wrongsecret";
		b.checks_md5 = true;
		run(&b, "s3");
	}
	if (!only || !strcmp(only, "azurite")) {
		server_ensure("azurite", "SNAP_AZURITE_CONNECTION_STRING",
			      "SNAP_AZURITE_STATE", "");
		memset(&b, 0, sizeof(b));
		b.name = "azurite";
		snprintf(b.opts, sizeof(b.opts),
			 "{\"connection_string\": \"%s\"}",
			 getenv("SNAP_AZURITE_CONNECTION_STRING"));
		/* a valid base64 key that is not the account's */
		snprintf(b.bad, sizeof(b.bad),
			 "{\"account_name\": \"%s\", \"account_key\": "
			 "\"d3JvbmdzZWNyZXR3cm9uZ3NlY3JldA==\", "
			 "\"blob_endpoint\": \"%s\"}",
			 getenv("SNAP_AZURITE_ACCOUNT"),
			 getenv("SNAP_AZURITE_ENDPOINT"));
		b.secret = "d3JvbmdzZWNyZXR3cm9uZ3NlY3JldA==";
		b.checks_md5 = true;
		run(&b, "az");
	}
	return test_finish();
}
