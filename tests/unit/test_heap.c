/* test_heap: the local content-addressed heap (engine/heap/heap_local.c):
 * object layout and mode, put/has, streaming transactions, concurrent
 * writers of the same content, error messages. Real files in /tmp. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flusher.h"
#include "heap.h"
#include "hasher.h"
#include "heap_presence.h"
#include "heap_verify.h"
#include "objid.h"
#include "test.h"

#define NTHREADS 8

static char tmpdir[64];

static void md5_of(const void *buf, size_t len, struct objid *out)
{
	unsigned int n = 0;

	if (!EVP_Digest(buf, len, out->b, &n, EVP_md5(), NULL) || n != 16) {
		fprintf(stderr, "EVP_Digest failed\n");
		exit(1);
	}
}

static void path_in(char *out, size_t cap, const char *dir, const char *rel)
{
	snprintf(out, cap, "%s/%s", dir, rel);
}

/* A fresh heap root under tmpdir: tmpdir/<tag>. */
static void fresh_root(char *out, size_t cap, const char *tag)
{
	snprintf(out, cap, "%s/%s", tmpdir, tag);
}

/* Read a whole (small) file; returns its length or -1. */
static ssize_t slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t n = read(fd, buf + got, cap - got);

		if (n < 0) {
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == cap)
			break;
	}
	close(fd);
	return (ssize_t)got;
}

/* Count entries of dir whose name starts with prefix (NULL: all except
 * "." and ".."). -1 when dir cannot be opened. */
static int count_names(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (prefix && strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		n++;
	}
	closedir(d);
	return n;
}

/* Count regular files anywhere below root (depth 2 is all a heap has). */
static int count_objects(const char *root)
{
	DIR *d = opendir(root);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		char sub[512];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		path_in(sub, sizeof(sub), root, de->d_name);
		if (lstat(sub, &st))
			continue;
		if (S_ISDIR(st.st_mode))
			n += count_names(sub, NULL);
		else
			n++;
	}
	closedir(d);
	return n;
}

static void test_object_path(void)
{
	struct objid id;
	char path[36];

	CHECK_EQ(objid_from_hex("d41d8cd98f00b204e9800998ecf8427e", 32, &id), 0);
	memset(path, 'Z', sizeof(path));
	heap_object_path(&id, path);
	CHECK_STREQ(path, "d4/d41d8cd98f00b204e9800998ecf8427e");
	CHECK_EQ(strlen(path), 35);
}

/* The layout read back: a key is an object only in its own fan-out
 * folder and by its exact name. */
static void test_parse_object_key(void)
{
	static const struct { const char *key; int kind; } cases[] = {
		{ "d4/d41d8cd98f00b204e9800998ecf8427e", 1 },
		{ "d4/d41d8cd98f00b204e9800998ecf8427e.gz", 2 },
		{ "d5/d41d8cd98f00b204e9800998ecf8427e", 0 },   /* misplaced */
		{ "e4/d41d8cd98f00b204e9800998ecf8427e", 0 },
		{ "D4/d41d8cd98f00b204e9800998ecf8427e", 0 },
		{ "d4/d41d8cd98f00b204e9800998ecf8427", 0 },    /* short */
		{ "d4/d41d8cd98f00b204e9800998ecf8427e.tmp", 0 },
		{ "d4d41d8cd98f00b204e9800998ecf8427e", 0 },
		{ "temp/d41d8cd98f00b204e9800998ecf8427e", 0 },
		{ "gc-stamp", 0 },
		{ "d4/", 0 },
		{ "d4/d", 0 },
		/* upper case is not a name the heap writes: not an object
		 * (it read as d41d8..., whose object may not exist) */
		{ "D4/D41D8CD98F00B204E9800998ECF8427E", 0 },
		{ "d4/d41d8cd98f00b204e9800998ecf8427E", 0 },
	};
	struct objid id, want;
	size_t i;

	CHECK_EQ(objid_from_hex("d41d8cd98f00b204e9800998ecf8427e", 32,
				&want), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&id, 0, sizeof(id));
		CHECK_EQ(heap_parse_object_key(cases[i].key,
					       strlen(cases[i].key), &id),
			 cases[i].kind);
		if (cases[i].kind)
			CHECK(objid_eq(&id, &want));
	}
}

static void test_put_buf(void)
{
	const char data[] = "hello heap\n";
	struct errbuf eb = ERRBUF_INIT;
	char root[256], rel[36], full[512], back[64], hex[33];
	struct heap *h = NULL;
	struct objid id;
	struct stat st;

	fresh_root(root, sizeof(root), "put");
	CHECK_EQ(heap_open(root, true, &h, &eb), 0);
	if (!h)
		return;
	CHECK_STREQ(heap_root(h), root);
	md5_of(data, sizeof(data) - 1, &id);
	CHECK_EQ(heap_has(h, &id, &eb), 0);
	CHECK_EQ(heap_put_buf(h, &id, data, sizeof(data) - 1, &eb), 1);
	CHECK_EQ(heap_has(h, &id, &eb), 1);
	CHECK_EQ(heap_put_buf(h, &id, data, sizeof(data) - 1, &eb), 0);
	CHECK_EQ(eb.code, 0);

	/* ab/<hex>, exact content, read-only */
	heap_object_path(&id, rel);
	objid_to_hex(&id, hex);
	CHECK(!strncmp(rel, hex, 2) && rel[2] == '/' && !strcmp(rel + 3, hex));
	path_in(full, sizeof(full), root, rel);
	CHECK_EQ(lstat(full, &st), 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_EQ(st.st_mode & 07777, 0444);
	CHECK_EQ(st.st_size, sizeof(data) - 1);
	CHECK_EQ(slurp(full, back, sizeof(back)), sizeof(data) - 1);
	CHECK(!memcmp(back, data, sizeof(data) - 1));
	CHECK_EQ(count_objects(root), 1);
	CHECK_EQ(count_names(root, ".tmp-"), 0);

	/* the empty content is an object too */
	md5_of("", 0, &id);
	CHECK_EQ(heap_put_buf(h, &id, "", 0, &eb), 1);
	heap_object_path(&id, rel);
	CHECK_STREQ(rel, "d4/d41d8cd98f00b204e9800998ecf8427e");
	path_in(full, sizeof(full), root, rel);
	CHECK_EQ(lstat(full, &st), 0);
	CHECK_EQ(st.st_size, 0);
	CHECK_EQ(st.st_mode & 07777, 0444);
	CHECK_EQ(heap_put_buf(h, &id, "", 0, &eb), 0);
	CHECK_EQ(count_objects(root), 2);
	heap_free(h);
	heap_free(NULL);
}

static void test_tx(void)
{
	static const char *const parts[] = { "alpha ", "beta ", "gamma" };
	const char other[] = "not the same bytes at all";
	struct errbuf eb = ERRBUF_INIT;
	char root[256], rel[36], full[512], back[64];
	struct heap_tx *tx = NULL;
	struct heap *h = NULL;
	struct objid id;
	struct stat st;
	size_t i;

	fresh_root(root, sizeof(root), "tx");
	CHECK_EQ(heap_open(root, true, &h, &eb), 0);
	if (!h)
		return;
	md5_of("alpha beta gamma", 16, &id);

	CHECK_EQ(heap_tx_begin(h, &tx, &eb), 0);
	CHECK(tx != NULL);
	if (!tx)
		goto out;
	/* while the tx is open nothing is visible but, where O_TMPFILE
	 * is not available, one temp name in the heap root */
	CHECK(count_names(root, ".tmp-") <= 1);
	for (i = 0; i < 3; i++)
		CHECK_EQ(heap_tx_write(tx, parts[i], strlen(parts[i]), &eb), 0);
	CHECK_EQ(heap_tx_commit(tx, &id, &eb), 1);
	CHECK_EQ(eb.code, 0);
	CHECK_EQ(count_names(root, ".tmp-"), 0);
	CHECK_EQ(heap_has(h, &id, &eb), 1);
	heap_object_path(&id, rel);
	path_in(full, sizeof(full), root, rel);
	CHECK_EQ(slurp(full, back, sizeof(back)), 16);
	CHECK(!memcmp(back, "alpha beta gamma", 16));
	CHECK_EQ(lstat(full, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0444);

	/* commit of an id that exists: 0, temp discarded, object unchanged
	 * (even when the temp's bytes differ: never replace an object) */
	tx = NULL;
	CHECK_EQ(heap_tx_begin(h, &tx, &eb), 0);
	if (!tx)
		goto out;
	CHECK_EQ(heap_tx_write(tx, other, sizeof(other) - 1, &eb), 0);
	CHECK_EQ(heap_tx_commit(tx, &id, &eb), 0);
	CHECK_EQ(eb.code, 0);
	CHECK_EQ(count_names(root, ".tmp-"), 0);
	CHECK_EQ(slurp(full, back, sizeof(back)), 16);
	CHECK(!memcmp(back, "alpha beta gamma", 16));
	CHECK_EQ(count_objects(root), 1);

	/* streaming a large content in many writes */
	{
		size_t big = 3 * 1024 * 1024 + 7, off = 0;
		char *buf = malloc(big), *rb = malloc(big + 1);
		struct objid bid;

		CHECK(buf && rb);
		if (!buf || !rb) {
			free(buf);
			free(rb);
			goto out;
		}
		for (i = 0; i < big; i++)
			buf[i] = (char)(i * 131 + (i >> 12));
		md5_of(buf, big, &bid);
		tx = NULL;
		CHECK_EQ(heap_tx_begin(h, &tx, &eb), 0);
		while (tx && off < big) {
			size_t n = big - off < 65521 ? big - off : 65521;

			CHECK_EQ(heap_tx_write(tx, buf + off, n, &eb), 0);
			off += n;
		}
		if (tx)
			CHECK_EQ(heap_tx_commit(tx, &bid, &eb), 1);
		heap_object_path(&bid, rel);
		path_in(full, sizeof(full), root, rel);
		CHECK_EQ(slurp(full, rb, big + 1), (ssize_t)big);
		CHECK(!memcmp(rb, buf, big));
		free(buf);
		free(rb);
	}
out:
	heap_free(h);
}

static void test_tx_abort(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct heap_tx *tx = NULL;
	struct heap *h = NULL;
	char root[256];

	fresh_root(root, sizeof(root), "abort");
	CHECK_EQ(heap_open(root, true, &h, &eb), 0);
	if (!h)
		return;
	CHECK_EQ(heap_tx_begin(h, &tx, &eb), 0);
	if (tx) {
		CHECK_EQ(heap_tx_write(tx, "abc", 3, &eb), 0);
		CHECK(count_names(root, NULL) <= 1);
		heap_tx_abort(tx);
	}
	/* nothing left: no temp, no fan-out directory */
	CHECK_EQ(count_names(root, NULL), 0);
	heap_tx_abort(NULL);
	/* an aborted tx right after begin, without writes */
	tx = NULL;
	CHECK_EQ(heap_tx_begin(h, &tx, &eb), 0);
	heap_tx_abort(tx);
	CHECK_EQ(count_names(root, NULL), 0);
	heap_free(h);
}

struct race {
	struct heap *h;
	pthread_barrier_t *start;
	const struct objid *id;
	const char *buf;
	size_t len;
	bool streaming;
	int ret;
	struct errbuf eb;
};

static void *race_main(void *arg)
{
	struct race *r = arg;
	struct heap_tx *tx = NULL;

	pthread_barrier_wait(r->start);
	if (!r->streaming) {
		r->ret = heap_put_buf(r->h, r->id, r->buf, r->len, &r->eb);
		return NULL;
	}
	r->ret = heap_tx_begin(r->h, &tx, &r->eb);
	if (r->ret < 0)
		return NULL;
	r->ret = heap_tx_write(tx, r->buf, r->len, &r->eb);
	if (r->ret < 0) {
		heap_tx_abort(tx);
		return NULL;
	}
	r->ret = heap_tx_commit(tx, r->id, &r->eb);
	return NULL;
}

/* 8 threads store the same content at once: all succeed, exactly one
 * reports it wrote the object, one object, no temp left behind. */
static void race_same(bool streaming)
{
	struct race r[NTHREADS];
	pthread_t th[NTHREADS];
	pthread_barrier_t start;
	struct errbuf eb = ERRBUF_INIT;
	char root[256], rel[36], full[512], back[4096];
	char *buf;
	size_t len = 4000, i;
	struct heap *h = NULL;
	struct objid id;
	int written = 0, present = 0, round;

	buf = malloc(len);
	if (!buf) {
		CHECK(buf != NULL);
		return;
	}
	for (round = 0; round < 20; round++) {
		snprintf(root, sizeof(root), "%s/race-%d-%d", tmpdir,
			 (int)streaming, round);
		CHECK_EQ(heap_open(root, true, &h, &eb), 0);
		if (!h)
			break;
		for (i = 0; i < len; i++)
			buf[i] = (char)(i + (size_t)round * 7);
		md5_of(buf, len, &id);
		pthread_barrier_init(&start, NULL, NTHREADS);
		for (i = 0; i < NTHREADS; i++) {
			memset(&r[i], 0, sizeof(r[i]));
			r[i].h = h;
			r[i].start = &start;
			r[i].id = &id;
			r[i].buf = buf;
			r[i].len = len;
			r[i].streaming = streaming;
			if (pthread_create(&th[i], NULL, race_main, &r[i])) {
				fprintf(stderr, "pthread_create failed\n");
				exit(1);
			}
		}
		written = present = 0;
		for (i = 0; i < NTHREADS; i++) {
			pthread_join(th[i], NULL);
			if (r[i].ret == 1)
				written++;
			else if (r[i].ret == 0)
				present++;
			else
				fprintf(stderr, "thread %zu: %d %s\n", i,
					r[i].ret, r[i].eb.msg);
		}
		pthread_barrier_destroy(&start);
		CHECK_EQ(written, 1);
		CHECK_EQ(present, NTHREADS - 1);
		CHECK_EQ(count_objects(root), 1);
		CHECK_EQ(count_names(root, ".tmp-"), 0);
		heap_object_path(&id, rel);
		path_in(full, sizeof(full), root, rel);
		CHECK_EQ(slurp(full, back, sizeof(back)), (ssize_t)len);
		CHECK(!memcmp(back, buf, len));
		heap_free(h);
		h = NULL;
		if (written != 1 || present != NTHREADS - 1)
			break;
	}
	free(buf);
}

static void test_race_put_buf(void)
{
	race_same(false);
}

static void test_race_tx(void)
{
	race_same(true);
}

/* 8 different contents whose ids share the fan-out directory, stored at
 * once into an empty heap: each thread may be the one that has to create
 * the directory; all must succeed. */
static void test_race_fanout_dir(void)
{
	char bufs[NTHREADS][32];
	struct objid ids[NTHREADS];
	struct race r[NTHREADS];
	pthread_t th[NTHREADS];
	pthread_barrier_t start;
	struct errbuf eb = ERRBUF_INIT;
	struct heap *h = NULL;
	char root[256], sub[512];
	int found = 0, k, round;
	size_t i;

	/* find NTHREADS contents whose md5 starts with the same byte */
	for (k = 0; k < 100000 && found < NTHREADS; k++) {
		struct objid id;
		char b[32];

		snprintf(b, sizeof(b), "content %d", k);
		md5_of(b, strlen(b), &id);
		if (id.b[0] != 0x5a)
			continue;
		memcpy(bufs[found], b, sizeof(b));
		ids[found] = id;
		found++;
	}
	CHECK_EQ(found, NTHREADS);
	if (found != NTHREADS)
		return;
	for (round = 0; round < 10; round++) {
		snprintf(root, sizeof(root), "%s/fanout-%d", tmpdir, round);
		CHECK_EQ(heap_open(root, true, &h, &eb), 0);
		if (!h)
			return;
		pthread_barrier_init(&start, NULL, NTHREADS);
		for (i = 0; i < NTHREADS; i++) {
			memset(&r[i], 0, sizeof(r[i]));
			r[i].h = h;
			r[i].start = &start;
			r[i].id = &ids[i];
			r[i].buf = bufs[i];
			r[i].len = strlen(bufs[i]);
			r[i].streaming = i % 2;
			if (pthread_create(&th[i], NULL, race_main, &r[i])) {
				fprintf(stderr, "pthread_create failed\n");
				exit(1);
			}
		}
		for (i = 0; i < NTHREADS; i++) {
			pthread_join(th[i], NULL);
			if (r[i].ret != 1)
				fprintf(stderr, "thread %zu: %d %s\n", i,
					r[i].ret, r[i].eb.msg);
			CHECK_EQ(r[i].ret, 1);
		}
		pthread_barrier_destroy(&start);
		path_in(sub, sizeof(sub), root, "5a");
		CHECK_EQ(count_names(sub, NULL), NTHREADS);
		CHECK_EQ(count_names(root, NULL), 1);
		for (i = 0; i < NTHREADS; i++)
			CHECK_EQ(heap_has(h, &ids[i], &eb), 1);
		heap_free(h);
		h = NULL;
	}
}

/* A temp left behind by an earlier run that had the same pid (a crash;
 * pids repeat, in containers often exactly) must not stop new writes. */
static void test_leftover_temp(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct heap *h = NULL;
	char root[256], stale[512], name[64];
	struct objid id;
	int fd, i;

	fresh_root(root, sizeof(root), "leftover");
	CHECK_EQ(mkdir(root, 0755), 0);
	/* the first few names this process would pick */
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), ".tmp-%d-%d", (int)getpid(), i);
		path_in(stale, sizeof(stale), root, name);
		fd = open(stale, O_WRONLY | O_CREAT | O_EXCL, 0444);
		CHECK(fd >= 0);
		if (fd >= 0)
			close(fd);
	}
	CHECK_EQ(heap_open(root, false, &h, &eb), 0);
	if (!h)
		return;
	md5_of("after a crash", 13, &id);
	CHECK_EQ(heap_put_buf(h, &id, "after a crash", 13, &eb), 1);
	if (eb.code)
		fprintf(stderr, "  %s\n", eb.msg);
	CHECK_EQ(heap_has(h, &id, &eb), 1);
	heap_free(h);
}

/* Two handles on the same heap in one process, each with a transaction
 * open at the same time (e.g. two operations of one CLI run). */
static void test_two_handles(void)
{
	struct errbuf eb1 = ERRBUF_INIT, eb2 = ERRBUF_INIT;
	struct heap *h1 = NULL, *h2 = NULL;
	struct heap_tx *t1 = NULL, *t2 = NULL;
	char root[256];
	struct objid a, b;

	fresh_root(root, sizeof(root), "twohandles");
	CHECK_EQ(heap_open(root, true, &h1, &eb1), 0);
	CHECK_EQ(heap_open(root, true, &h2, &eb2), 0);
	if (!h1 || !h2) {
		heap_free(h1);
		heap_free(h2);
		return;
	}
	md5_of("first", 5, &a);
	md5_of("second", 6, &b);
	CHECK_EQ(heap_tx_begin(h1, &t1, &eb1), 0);
	CHECK_EQ(heap_tx_begin(h2, &t2, &eb2), 0);
	if (eb2.code)
		fprintf(stderr, "  %s\n", eb2.msg);
	if (t1) {
		CHECK_EQ(heap_tx_write(t1, "first", 5, &eb1), 0);
		CHECK_EQ(heap_tx_commit(t1, &a, &eb1), 1);
	}
	if (t2) {
		CHECK_EQ(heap_tx_write(t2, "second", 6, &eb2), 0);
		CHECK_EQ(heap_tx_commit(t2, &b, &eb2), 1);
	}
	CHECK_EQ(heap_has(h1, &b, &eb1), t2 ? 1 : 0);
	CHECK_EQ(heap_has(h2, &a, &eb2), 1);
	CHECK_EQ(count_names(root, ".tmp-"), 0);
	heap_free(h1);
	heap_free(h2);
}

static void test_open_object(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct heap *h = NULL;
	char root[256], back[16];
	struct objid id, missing;
	int fd = -1;

	fresh_root(root, sizeof(root), "openobj");
	CHECK_EQ(heap_open(root, true, &h, &eb), 0);
	if (!h)
		return;
	md5_of("xyz", 3, &id);
	CHECK_EQ(heap_put_buf(h, &id, "xyz", 3, &eb), 1);
	CHECK_EQ(heap_open_object(h, &id, &fd, &eb), 0);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK_EQ(read(fd, back, sizeof(back)), 3);
		CHECK(!memcmp(back, "xyz", 3));
		/* read-only */
		CHECK(write(fd, "q", 1) < 0);
		close(fd);
	}

	md5_of("not stored", 10, &missing);
	fd = -1;
	CHECK_ERR(heap_open_object(h, &missing, &fd, &eb), ENOENT);
	CHECK_EQ(eb.code, -ENOENT);
	CHECK(fd == -1);
	/* the message names the heap and the object */
	CHECK(strstr(eb.msg, root) != NULL);
	{
		char hex[33];

		objid_to_hex(&missing, hex);
		CHECK(strstr(eb.msg, hex) != NULL);
	}
	CHECK(strstr(eb.msg, strerror(ENOENT)) != NULL);
	heap_free(h);
}

static void test_sync(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct heap *h = NULL;
	char root[256];
	struct objid id;

	fresh_root(root, sizeof(root), "sync");
	CHECK_EQ(heap_open(root, true, &h, &eb), 0);
	if (!h)
		return;
	md5_of("s", 1, &id);
	CHECK_EQ(heap_put_buf(h, &id, "s", 1, &eb), 1);
	CHECK_EQ(heap_sync(h, &eb), 0);
	CHECK_EQ(eb.code, 0);
	heap_free(h);
}

static void test_open_errors(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct heap *h = (struct heap *)&eb;
	char file[256], missing[256], nested[256];
	struct stat st;
	int fd;

	/* a regular file as root */
	fresh_root(file, sizeof(file), "plainfile");
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0644);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK_ERR(heap_open(file, false, &h, &eb), ENOTDIR);
	CHECK(h == NULL);
	CHECK(strstr(eb.msg, file) != NULL);
	CHECK(strstr(eb.msg, "heap") != NULL);
	CHECK(strstr(eb.msg, strerror(ENOTDIR)) != NULL);

	errbuf_clear(&eb);
	h = (struct heap *)&eb;
	CHECK(heap_open(file, true, &h, &eb) < 0);
	CHECK(h == NULL);
	CHECK(eb.code < 0);
	CHECK(strstr(eb.msg, file) != NULL);

	/* a missing root without create */
	errbuf_clear(&eb);
	fresh_root(missing, sizeof(missing), "no-such-heap");
	h = (struct heap *)&eb;
	CHECK_ERR(heap_open(missing, false, &h, &eb), ENOENT);
	CHECK(h == NULL);
	CHECK(strstr(eb.msg, missing) != NULL);
	CHECK(lstat(missing, &st) < 0 && errno == ENOENT);

	/* invalid arguments */
	errbuf_clear(&eb);
	h = (struct heap *)&eb;
	CHECK_ERR(heap_open("", true, &h, &eb), EINVAL);
	CHECK(h == NULL);
	errbuf_clear(&eb);
	CHECK_ERR(heap_open(NULL, true, &h, &eb), EINVAL);
	errbuf_clear(&eb);
	CHECK_ERR(heap_has(NULL, NULL, &eb), EINVAL);
	heap_tx_abort(NULL);

	/* with create, every missing level is made */
	errbuf_clear(&eb);
	fresh_root(nested, sizeof(nested), "n1/n2/n3");
	CHECK_EQ(heap_open(nested, true, &h, &eb), 0);
	CHECK(lstat(nested, &st) == 0 && S_ISDIR(st.st_mode));
	heap_free(h);
}

/* Parallel lookups: heap_has_many marks each id, whatever the thread
 * count; heap_presence names the file of the first missing object. */
static void test_has_many(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct heap_presence *p;
	struct objid ids[40];
	unsigned char present[40];
	char root[128], name[16], name30[40], path[256];
	struct heap *h;
	unsigned threads;
	int i;

	fresh_root(root, sizeof(root), "many");
	CHECK_EQ(heap_open(root, true, &h, &eb), 0);
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "content %d", i);
		md5_of(name, strlen(name), &ids[i]);
		if (i % 3)
			CHECK_EQ(heap_put_buf(h, &ids[i], name, strlen(name),
					      &eb), 1);
	}
	for (threads = 0; threads <= 64; threads = threads ? 4 * threads : 1) {
		memset(present, 7, sizeof(present));
		CHECK_EQ(heap_has_many(h, ids, 40, threads, present, &eb), 0);
		for (i = 0; i < 40; i++)
			CHECK_EQ(present[i], i % 3 ? 1 : 0);
	}
	CHECK_EQ(heap_has_many(h, ids, 0, 4, present, &eb), 0);

	CHECK_EQ(heap_presence_new(h, 3, &p, &eb), 0);
	CHECK_EQ(heap_presence_add(p, &ids[1], "dir/one", 7, &eb), 0);
	CHECK_EQ(heap_presence_add(p, &ids[3], "dir/three", 9, &eb), 0);
	CHECK_EQ(heap_presence_add(p, &ids[2], "dir/two", 7, &eb), 0);
	CHECK_ERR(heap_presence_finish(p, &eb), ENOENT);
	CHECK(strstr(eb.msg, "'dir/three'") != NULL);
	CHECK(strstr(eb.msg, "is missing from") != NULL);
	errbuf_clear(&eb);
	CHECK_EQ(heap_presence_add(p, &ids[4], "four", 4, &eb), 0);
	CHECK_EQ(heap_presence_finish(p, &eb), 0);
	heap_presence_free(p);

	/* a lookup that fails (a folder where object 30 would be) fails
	 * the call, with that lookup's message, whatever the thread count */
	heap_object_path(&ids[30], name30);
	snprintf(path, sizeof(path), "%s/%.2s", root, name30);
	(void)mkdir(path, 0755);   /* the fan-out folder may be there */
	snprintf(path, sizeof(path), "%s/%s", root, name30);
	CHECK_EQ(mkdir(path, 0755), 0);
	for (threads = 1; threads <= 16; threads *= 4) {
		errbuf_clear(&eb);
		CHECK_EQ(heap_has_many(h, ids, 40, threads, present, &eb),
			 -EEXIST);
		CHECK(strstr(eb.msg, name30) != NULL);
		CHECK(strstr(eb.msg, "is not a regular file") != NULL);
	}
	heap_free(h);
}

struct flush_adder {
	struct flusher *f;
};

static void *add_bytes(void *arg)
{
	struct flush_adder *a = arg;
	int i;

	for (i = 0; i < 1000; i++)
		flusher_add(a->f, 4096);
	return NULL;
}

/* The background flusher runs a syncfs once a step of bytes has been
 * written (here 4 threads x 4 MB against a 1 MiB step: at least one
 * run), stops cleanly, and refuses a root that is not a directory. */
static void test_flusher(void)
{
	struct flush_adder a;
	pthread_t t[4];
	char path[128];
	int i, tries;

	CHECK_ERR(flusher_start("/nonexistent-snapshooter-dir", 1 << 20, &a.f),
		  ENOENT);
	CHECK(a.f == NULL);
	CHECK_EQ(flusher_start(tmpdir, 1 << 20, &a.f), 0);
	/* nothing written: no syncfs */
	CHECK_EQ(flusher_runs(a.f), 0);
	for (i = 0; i < 4; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, add_bytes, &a), 0);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (tries = 0; tries < 2000 && !flusher_runs(a.f); tries++)
		usleep(5000);
	CHECK(flusher_runs(a.f) >= 1);
	flusher_stop(a.f);
	flusher_stop(NULL);
	flusher_add(NULL, 1);
	snprintf(path, sizeof(path), "%s/not-a-dir", tmpdir);
	i = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	CHECK(i >= 0);
	close(i);
	CHECK_ERR(flusher_start(path, 1 << 20, &a.f), ENOTDIR);
}

/* Write len bytes of buf to a new file path; return an fd open for
 * reading at byte 0. */
static int file_with(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);

	if (fd < 0)
		return -1;
	if (write(fd, buf, len) != (ssize_t)len ||
	    lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Overwrite byte off of path (made writable first). */
static void flip_byte(const char *path, off_t off)
{
	unsigned char c = 0;
	int fd;

	chmod(path, 0644);
	fd = open(path, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ(pread(fd, &c, 1, off), 1);
	c ^= 0xff;
	CHECK_EQ(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

/* heap_check_object and heap_replace_object on a raw and a gz heap: a
 * sound object checks 1; a flipped byte (and a deleted object) 0 with
 * the reason; a replacement from a file holding other bytes is refused
 * with -ESTALE and changes nothing; from the right file the object is
 * replaced in its own form, checks 1 again, and no temp is left. */
static void check_replace(const char *tag, bool gz)
{
	char data[3000], other[3000], root[256], rel[39], full[512],
	     src[512], dir[512], buf[4096];
	struct errbuf eb = ERRBUF_INIT;
	struct engine_opts o;
	struct hasher *hs = NULL;
	struct heap *h = NULL;
	struct objid id;
	struct stat st;
	uint64_t n = 0;
	size_t i;
	int fd;

	for (i = 0; i < sizeof(data); i++) {
		data[i] = (char)(i * 7 + 3);
		other[i] = (char)(i * 5 + 1);
	}
	md5_of(data, sizeof(data), &id);
	memset(&o, 0, sizeof(o));
	engine_opts_defaults(&o);
	o.heap_format = gz ? HEAP_FORMAT_GZ : HEAP_FORMAT_RAW;
	fresh_root(root, sizeof(root), tag);
	CHECK_EQ(heap_open_url(root, true, &o, &h, &eb), 0);
	CHECK_EQ(hasher_new(&hs, &eb), 0);
	if (!h || !hs)
		goto out;
	CHECK_EQ(heap_put_buf(h, &id, data, sizeof(data), &eb), 1);
	if (gz)
		heap_object_path_gz(&id, rel);
	else
		heap_object_path(&id, rel);
	path_in(full, sizeof(full), root, rel);
	snprintf(dir, sizeof(dir), "%s/%.2s", root, rel);
	CHECK_EQ(heap_check_object(h, &id, hs, buf, sizeof(buf), &n, &eb), 1);
	CHECK_EQ(n, sizeof(data));

	/* damage: a flipped byte in the middle */
	flip_byte(full, 40);
	CHECK_EQ(heap_check_object(h, &id, hs, buf, sizeof(buf), NULL, &eb),
		 0);
	CHECK(eb.msg[0] != '\0');
	errbuf_clear(&eb);

	/* a file that no longer holds the content: nothing replaced */
	snprintf(src, sizeof(src), "%s/%s-src", tmpdir, tag);
	fd = file_with(src, other, sizeof(other));
	CHECK(fd >= 0);
	CHECK_ERR(heap_replace_object(h, &id, fd, src, hs, buf, sizeof(buf),
				      &eb), ESTALE);
	CHECK(strstr(eb.msg, "changed since it was hashed") != NULL);
	errbuf_clear(&eb);
	close(fd);
	CHECK_EQ(heap_check_object(h, &id, hs, buf, sizeof(buf), NULL, &eb),
		 0);
	CHECK_EQ(count_names(dir, ".tmp-"), 0);

	/* the right bytes: replaced in place, same form */
	fd = file_with(src, data, sizeof(data));
	CHECK(fd >= 0);
	CHECK_EQ(heap_replace_object(h, &id, fd, src, hs, buf, sizeof(buf),
				     &eb), 0);
	close(fd);
	CHECK_EQ(heap_check_object(h, &id, hs, buf, sizeof(buf), NULL, &eb),
		 1);
	CHECK_EQ(lstat(full, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0444);
	CHECK_EQ(count_names(dir, NULL), 1);

	/* gone: damage too, and a replace writes it again */
	CHECK_EQ(unlink(full), 0);
	CHECK_EQ(heap_check_object(h, &id, hs, buf, sizeof(buf), NULL, &eb),
		 0);
	errbuf_clear(&eb);
	fd = file_with(src, data, sizeof(data));
	CHECK_EQ(heap_replace_object(h, &id, fd, src, hs, buf, sizeof(buf),
				     &eb), 0);
	close(fd);
	CHECK_EQ(lstat(full, &st), 0);
	CHECK_EQ(heap_check_object(h, &id, hs, buf, sizeof(buf), NULL, &eb),
		 1);
	CHECK_ERR(heap_replace_object(h, &id, -1, src, hs, buf, sizeof(buf),
				      &eb), EINVAL);
out:
	hasher_free(hs);
	heap_free(h);
}

static void test_check_replace(void)
{
	check_replace("replace-raw", false);
	check_replace("replace-gz", true);
}

/* heap_verify's claims: the first claimant of an id holds it, a second
 * one waits until it is settled; settled sound, later claims get 0;
 * settled not sound, the next claimant holds it again. */
struct claim_arg {
	struct heap_verify *v;
	struct objid id;
	int ret;
	int done;   /* atomic */
};

static void *claim_main(void *p)
{
	struct claim_arg *a = p;
	struct errbuf eb = ERRBUF_INIT;

	a->ret = heap_verify_claim(a->v, &a->id, &eb);
	__atomic_store_n(&a->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void test_verify_claims(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct logger log;
	struct heap_verify *v = NULL;
	struct heap *h = NULL;
	struct claim_arg a;
	struct objid x, y;
	char root[256];
	uint64_t nv = 1, nr = 1;
	pthread_t t;
	int i;

	memset(&log, 0, sizeof(log));
	fresh_root(root, sizeof(root), "claims");
	CHECK_EQ(heap_open(root, true, &h, &eb), 0);
	CHECK_EQ(heap_verify_new(h, &log, &v, &eb), 0);
	if (!v)
		goto out;
	md5_of("x", 1, &x);
	md5_of("y", 1, &y);
	CHECK_EQ(heap_verify_claim(v, &x, &eb), 1);
	CHECK_EQ(heap_verify_claim(v, &y, &eb), 1);
	/* a second claim of x waits for the holder */
	memset(&a, 0, sizeof(a));
	a.v = v;
	a.id = x;
	CHECK_EQ(pthread_create(&t, NULL, claim_main, &a), 0);
	for (i = 0; i < 20; i++)
		usleep(1000);
	CHECK_EQ(__atomic_load_n(&a.done, __ATOMIC_SEQ_CST), 0);
	/* released not sound: the waiter holds it now */
	heap_verify_settle(v, &x, false);
	pthread_join(t, NULL);
	CHECK_EQ(a.ret, 1);
	heap_verify_settle(v, &x, true);
	CHECK_EQ(heap_verify_claim(v, &x, &eb), 0);
	heap_verify_settle(v, &y, true);
	CHECK_EQ(heap_verify_claim(v, &y, &eb), 0);
	heap_verify_counts(v, &nv, &nr);
	CHECK_EQ(nv, 0);
	CHECK_EQ(nr, 0);
out:
	heap_verify_free(v);
	heap_free(h);
}

/* hasher_fd: a file's digest from byte 0 whatever its position, read
 * through a buffer smaller than it (and not a multiple of 64); a read
 * error names the file. */
static void test_hasher_fd(void)
{
	static char data[100000];
	char path[] = "/tmp/snap-hasher-fd-XXXXXX", buf[1000];
	struct errbuf eb = ERRBUF_INIT;
	struct hasher *hs = NULL;
	struct objid want, got;
	uint64_t bytes = 0;
	size_t k;
	int fd;

	for (k = 0; k < sizeof(data); k++)
		data[k] = (char)(k * 7 + k / 251);
	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	unlink(path);
	CHECK_EQ(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	CHECK_EQ(hasher_new(&hs, &eb), 0);
	CHECK_EQ(hasher_digest(hs, data, sizeof(data), &want, &eb), 0);
	/* the position is at the end: pread from 0 all the same */
	CHECK_EQ(hasher_fd(hs, fd, "f", buf, 999, &got, &bytes, &eb), 0);
	CHECK(objid_eq(&got, &want));
	CHECK_EQ(bytes, sizeof(data));
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), (off_t)sizeof(data));
	close(fd);
	fd = open("/dev/null", O_WRONLY);
	CHECK_EQ(hasher_fd(hs, fd, "THE/FILE", buf, sizeof(buf), &got, NULL,
			   &eb), -EBADF);
	CHECK(strstr(eb.msg, "cannot read 'THE/FILE' for its MD5") != NULL);
	close(fd);
	hasher_free(hs);
}

int main(void)
{
	char cmd[128];

	umask(022);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_heap.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN_TEST(test_object_path);
	RUN_TEST(test_parse_object_key);
	RUN_TEST(test_hasher_fd);
	RUN_TEST(test_put_buf);
	RUN_TEST(test_tx);
	RUN_TEST(test_tx_abort);
	RUN_TEST(test_race_put_buf);
	RUN_TEST(test_race_tx);
	RUN_TEST(test_race_fanout_dir);
	RUN_TEST(test_leftover_temp);
	RUN_TEST(test_two_handles);
	RUN_TEST(test_open_object);
	RUN_TEST(test_sync);
	RUN_TEST(test_open_errors);
	RUN_TEST(test_flusher);
	RUN_TEST(test_has_many);
	RUN_TEST(test_check_replace);
	RUN_TEST(test_verify_claims);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", tmpdir);
	return test_finish();
}
