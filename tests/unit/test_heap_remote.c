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
	*ret = heap_open_url(b->url, true, &o, &h, eb);
	return h;
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
