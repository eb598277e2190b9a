/* objstore_suite.h: the objstore checks that every backend must pass, run
 * by tests/unit/test_net_{s3rver,swift,azurite}.c against real servers. */
#ifndef SNAP_OBJSTORE_SUITE_H
#define SNAP_OBJSTORE_SUITE_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digest.h"
#include "http_multi.h"
#include "objstore.h"
#include "objstore_impl.h"
#include "test.h"

struct suite_caps {
	const char *url;          /* s3://bucket or az://container */
	const char *options;      /* storage options JSON or NULL */
	const char *bad_options;  /* wrong credentials */
	bool checks_md5;          /* server rejects a wrong Content-MD5 */
	const char *md5_code;     /* BadDigest / Md5Mismatch */
	const char *auth_code;    /* SignatureDoesNotMatch, ... */
	long auth_status;         /* 403 */
	bool lists_uploads;       /* ListMultipartUploads (Swift; s3rver
				   * answers NotImplemented, Azure has
				   * none to list) */
};

static struct body_src mem_src(const void *p, size_t n)
{
	struct body_src s;

	memset(&s, 0, sizeof(s));
	s.kind = BODY_SRC_MEM;
	s.mem = p;
	s.len = n;
	s.fd = -1;
	return s;
}

static struct body_sink mem_sink(size_t cap)
{
	struct body_sink s;

	memset(&s, 0, sizeof(s));
	s.kind = BODY_SINK_MEM;
	s.mem_cap = cap;
	s.fd = -1;
	return s;
}

static struct objstore *suite_open(const struct suite_caps *c,
				   const char *options,
				   struct objstore_config *cfg)
{
	struct errbuf eb = ERRBUF_INIT;
	struct objstore *os = NULL;
	int err;

	err = objstore_open(c->url, options, cfg, &os, &eb);
	if (err)
		fprintf(stderr, "objstore_open: %s\n", eb.msg);
	CHECK_EQ(err, 0);
	return os;
}

static void suite_basic(struct objstore *os, const struct suite_caps *c)
{
	static const char data[] = "hello heap\n";
	const char *weird = "dir/a b+c\xc3\xa9%.txt";
	struct errbuf eb = ERRBUF_INIT;
	struct objstore_info info;
	struct objstore_put_opts po;
	struct body_src src = mem_src(data, sizeof(data) - 1);
	struct body_sink sink = mem_sink(1 << 20);
	uint8_t md5[16];
	char tmpl[] = "/tmp/snap-net-XXXXXX";
	char buf[64];
	int fd, err;

	(void)c;
	digest_md5(data, sizeof(data) - 1, md5);
	memset(&po, 0, sizeof(po));
	po.has_mtime = true;
	po.mtime_ns = 1234567890123456789LL;
	err = objstore_put(os, "ab/abcdef", &src, &po, &info, &eb);
	if (err)
		fprintf(stderr, "put: %s\n", eb.msg);
	CHECK_EQ(err, 0);
	CHECK(info.has_md5 && !memcmp(info.md5, md5, 16));

	err = objstore_head(os, "ab/abcdef", &info, &eb);
	if (err)
		fprintf(stderr, "head: %s\n", eb.msg);
	CHECK_EQ(err, 0);
	CHECK_EQ(info.size, sizeof(data) - 1);
	CHECK(info.has_md5 && !memcmp(info.md5, md5, 16));
	CHECK(info.etag[0] != '\0');
	CHECK(info.last_modified > 1600000000);
	CHECK(info.has_mtime && info.mtime_ns == 1234567890123456789LL);

	err = objstore_get(os, "ab/abcdef", 0, 0, &sink, &info, &eb);
	CHECK_EQ(err, 0);
	CHECK_EQ(sink.mem_len, sizeof(data) - 1);
	CHECK(sink.mem && !memcmp(sink.mem, data, sizeof(data) - 1));
	body_sink_release(&sink);

	sink = mem_sink(1 << 20);
	err = objstore_get(os, "ab/abcdef", 1, 4, &sink, NULL, &eb);
	CHECK_EQ(err, 0);
	CHECK_EQ(sink.mem_len, 4);
	CHECK(sink.mem && !memcmp(sink.mem, "ello", 4));
	body_sink_release(&sink);

	/* memory cap: a 4-byte cap on an 11-byte object */
	sink = mem_sink(4);
	errbuf_clear(&eb);
	err = objstore_get(os, "ab/abcdef", 0, 0, &sink, NULL, &eb);
	CHECK_EQ(err, -EFBIG);
	body_sink_release(&sink);

	/* download to a file, then upload from that file */
	fd = mkstemp(tmpl);
	CHECK(fd >= 0);
	memset(&sink, 0, sizeof(sink));
	sink.kind = BODY_SINK_FD;
	sink.fd = fd;
	sink.fd_off = 3;
	err = objstore_get(os, "ab/abcdef", 0, 0, &sink, NULL, &eb);
	CHECK_EQ(err, 0);
	CHECK_EQ(pread(fd, buf, sizeof(buf), 3), (ssize_t)(sizeof(data) - 1));
	CHECK(!memcmp(buf, data, sizeof(data) - 1));
	memset(&src, 0, sizeof(src));
	src.kind = BODY_SRC_FD;
	src.fd = fd;
	src.off = 3;
	src.len = sizeof(data) - 1;
	err = objstore_put(os, weird, &src, NULL, &info, &eb);
	if (err)
		fprintf(stderr, "put weird: %s\n", eb.msg);
	CHECK_EQ(err, 0);
	close(fd);
	unlink(tmpl);
	err = objstore_head(os, weird, &info, &eb);
	CHECK_EQ(err, 0);
	CHECK(info.has_md5 && !memcmp(info.md5, md5, 16));

	/* server-side copy */
	err = objstore_copy(os, "ab/abcdef", "cp/copy", &eb);
	if (err)
		fprintf(stderr, "copy: %s\n", eb.msg);
	CHECK_EQ(err, 0);
	err = objstore_head(os, "cp/copy", &info, &eb);
	CHECK_EQ(err, 0);
	CHECK_EQ(info.size, sizeof(data) - 1);
	CHECK(info.has_md5 && !memcmp(info.md5, md5, 16));

	/* missing objects */
	errbuf_clear(&eb);
	err = objstore_head(os, "no/such", &info, &eb);
	CHECK_EQ(err, -ENOENT);
	errbuf_clear(&eb);
	sink = mem_sink(1 << 20);
	err = objstore_get(os, "no/such", 0, 0, &sink, NULL, &eb);
	CHECK_EQ(err, -ENOENT);
	CHECK(strstr(eb.msg, "404") != NULL);
	CHECK(strstr(eb.msg, "no/such") != NULL);
	body_sink_release(&sink);

	/* delete, twice */
	errbuf_clear(&eb);
	CHECK_EQ(objstore_del(os, "cp/copy", &eb), 0);
	CHECK_EQ(objstore_head(os, "cp/copy", &info, &eb), -ENOENT);
	errbuf_clear(&eb);
	CHECK_EQ(objstore_del(os, "cp/copy", &eb), 0);
	CHECK_EQ(objstore_del(os, weird, &eb), 0);
}

struct list_seen {
	int n;
	char keys[64][32];
	uint64_t sizes[64];
	int with_md5;
};

static int list_cb(void *arg, const struct objstore_entry *e)
{
	struct list_seen *s = arg;

	if (s->n < 64 && e->key_len < sizeof(s->keys[0])) {
		memcpy(s->keys[s->n], e->key, e->key_len);
		s->keys[s->n][e->key_len] = '\0';
		s->sizes[s->n] = e->size;
	}
	s->with_md5 += e->has_md5;
	s->n++;
	return 0;
}

/* list_cb, then stop: the listing must end there (the bucket probe) */
static int list_first_cb(void *arg, const struct objstore_entry *e)
{
	list_cb(arg, e);
	return 1;
}

static void suite_list(const struct suite_caps *c)
{
	struct objstore_config cfg;
	struct errbuf eb = ERRBUF_INIT;
	struct http_multi_stats before, after;
	struct list_seen seen;
	struct body_src src;
	struct objstore *os;
	const char *keys[7];
	char names[7][16], body[16];
	int i, err;

	objstore_config_defaults(&cfg);
	cfg.list_page_size = 3;    /* 7 objects: pages of 3, 3, 1 */
	os = suite_open(c, c->options, &cfg);
	if (!os)
		return;
	for (i = 0; i < 7; i++) {
		snprintf(names[i], sizeof(names[i]), "pg/obj%d", i);
		snprintf(body, sizeof(body), "%.*s", i + 1, "xxxxxxxx");
		src = mem_src(body, (size_t)i + 1);
		CHECK_EQ(objstore_put(os, names[i], &src, NULL, NULL, &eb), 0);
		keys[i] = names[i];
	}
	src = mem_src("z", 1);
	CHECK_EQ(objstore_put(os, "pgx", &src, NULL, NULL, &eb), 0);
	memset(&seen, 0, sizeof(seen));
	err = objstore_list(os, "pg/", list_cb, &seen, &eb);
	if (err)
		fprintf(stderr, "list: %s\n", eb.msg);
	CHECK_EQ(err, 0);
	CHECK_EQ(seen.n, 7);
	for (i = 0; i < 7 && i < seen.n; i++) {
		CHECK_STREQ(seen.keys[i], names[i]);
		CHECK_EQ(seen.sizes[i], i + 1);
	}
	CHECK_EQ(seen.with_md5, 7);
	/* pages of one (the bucket probe's size): 7 requests, all seen */
	http_multi_stats(objstore_multi(os), &before);
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(objstore_list_paged(os, "pg/", 1, list_cb, &seen, &eb), 0);
	http_multi_stats(objstore_multi(os), &after);
	CHECK_EQ(seen.n, 7);
	CHECK_STREQ(seen.keys[6], names[6]);
	CHECK_EQ((after.requests - after.retries) -
		 (before.requests - before.retries), 7);
	/* a callback that stops ends the listing: one request, one call,
	 * though the page says more follow */
	http_multi_stats(objstore_multi(os), &before);
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(objstore_list_paged(os, "pg/", 1, list_first_cb, &seen,
				     &eb), 0);
	http_multi_stats(objstore_multi(os), &after);
	CHECK_EQ(seen.n, 1);
	CHECK_STREQ(seen.keys[0], names[0]);
	CHECK_EQ((after.requests - after.retries) -
		 (before.requests - before.retries), 1);
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(objstore_list(os, "pg/", list_first_cb, &seen, &eb), 0);
	CHECK_EQ(seen.n, 1);
	err = objstore_del_many(os, keys, 7, &eb);
	if (err)
		fprintf(stderr, "del_many: %s\n", eb.msg);
	CHECK_EQ(err, 0);
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(objstore_list(os, "pg/", list_cb, &seen, &eb), 0);
	CHECK_EQ(seen.n, 0);
	CHECK_EQ(objstore_del(os, "pgx", &eb), 0);
	objstore_free(os);
}

static void suite_bad_md5(struct objstore *os, const struct suite_caps *c)
{
	struct errbuf eb = ERRBUF_INIT;
	struct objstore_put_opts po;
	struct objstore_info info;
	struct body_src src = mem_src("some bytes", 10);
	uint8_t wrong[16];
	int err;

	memset(wrong, 0x5a, sizeof(wrong));
	memset(&po, 0, sizeof(po));
	po.md5 = wrong;
	err = objstore_put(os, "bad/md5", &src, &po, &info, &eb);
	if (!c->checks_md5) {
		/* s3rver accepts anything: at least it must not crash */
		CHECK_EQ(err, 0);
		objstore_del(os, "bad/md5", &eb);
		return;
	}
	fprintf(stderr, "expected error: %s\n", eb.msg);
	CHECK_EQ(err, -EBADMSG);
	CHECK(strstr(eb.msg, c->md5_code) != NULL);
	CHECK(strstr(eb.msg, "400") != NULL);
	CHECK_EQ(info.attempts, 1);   /* not retried */
	errbuf_clear(&eb);
	CHECK_EQ(objstore_head(os, "bad/md5", &info, &eb), -ENOENT);
}

/* objstore_put_submit: completions counted by the callback, which runs on
 * the network thread. */
struct submit_tally {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned pending, ok, failed, cancelled;
	int last_err;
	char last_msg[1024];
};

static void submit_done(void *arg, int err, const struct errbuf *eb)
{
	struct submit_tally *t = arg;

	pthread_mutex_lock(&t->lock);
	if (!err)
		t->ok++;
	else if (err == -ECANCELED)
		t->cancelled++;
	else
		t->failed++;
	if (err) {
		t->last_err = err;
		snprintf(t->last_msg, sizeof(t->last_msg), "%s", eb->msg);
	}
	t->pending--;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

static int submit_one(struct objstore *os, struct submit_tally *t,
		      const char *key, const struct body_src *src,
		      const uint8_t md5[16], const atomic_bool *cancel)
{
	struct errbuf eb = ERRBUF_INIT;
	struct objstore_put_opts po;
	int err;

	memset(&po, 0, sizeof(po));
	po.md5 = md5;
	po.cancel = cancel;
	pthread_mutex_lock(&t->lock);
	t->pending++;
	pthread_mutex_unlock(&t->lock);
	err = objstore_put_submit(os, key, src, &po, submit_done, t, &eb);
	if (err) {
		fprintf(stderr, "submit %s: %s\n", key, eb.msg);
		pthread_mutex_lock(&t->lock);
		t->pending--;
		pthread_mutex_unlock(&t->lock);
	}
	return err;
}

static void submit_wait(struct submit_tally *t)
{
	pthread_mutex_lock(&t->lock);
	while (t->pending)
		pthread_cond_wait(&t->cond, &t->lock);
	pthread_mutex_unlock(&t->lock);
}

/* Many more puts submitted at once than the network stage queues (its
 * queue holds 4 x transfers): the submitter waits for room, never
 * forever; each completes once, with the object stored as sent. A wrong
 * MD5 fails its own put only; a put cancelled before it is sent is not
 * sent. */
static void suite_submit(struct objstore *os, const struct suite_caps *c)
{
	enum { N = 300 };
	static char bodies[N][24];
	struct submit_tally t = { .lock = PTHREAD_MUTEX_INITIALIZER,
				  .cond = PTHREAD_COND_INITIALIZER };
	struct errbuf eb = ERRBUF_INIT;
	struct objstore_info info;
	struct body_sink sink;
	struct body_src src;
	atomic_bool cancel;
	uint8_t md5[N][16], wrong[16];
	char key[64];
	unsigned i;

	for (i = 0; i < N; i++) {
		snprintf(bodies[i], sizeof(bodies[i]), "submitted body %u", i);
		src = mem_src(bodies[i], strlen(bodies[i]));
		digest_md5(bodies[i], strlen(bodies[i]), md5[i]);
		snprintf(key, sizeof(key), "submit/%03u", i);
		CHECK_EQ(submit_one(os, &t, key, &src, md5[i], NULL), 0);
	}
	submit_wait(&t);
	CHECK_EQ(t.ok, N);
	CHECK_EQ(t.failed + t.cancelled, 0);
	for (i = 0; i < N; i += 37) {
		snprintf(key, sizeof(key), "submit/%03u", i);
		sink = mem_sink(1024);
		CHECK_EQ(objstore_get(os, key, 0, 0, &sink, &info, &eb), 0);
		CHECK_EQ(sink.mem_len, strlen(bodies[i]));
		CHECK(sink.mem && !memcmp(sink.mem, bodies[i], sink.mem_len));
		CHECK(info.has_md5 && !memcmp(info.md5, md5[i], 16));
		body_sink_release(&sink);
	}

	/* a body of 0 bytes */
	src = mem_src("", 0);
	src.kind = BODY_SRC_NONE;
	digest_md5("", 0, md5[0]);
	t.ok = 0;
	CHECK_EQ(submit_one(os, &t, "submit/empty", &src, md5[0], NULL), 0);
	submit_wait(&t);
	CHECK_EQ(t.ok, 1);
	CHECK_EQ(objstore_head(os, "submit/empty", &info, &eb), 0);
	CHECK_EQ(info.size, 0);

	/* cancelled before it was sent: done with -ECANCELED, nothing stored */
	atomic_init(&cancel, true);
	src = mem_src("never sent", 10);
	digest_md5("never sent", 10, md5[0]);
	CHECK_EQ(submit_one(os, &t, "submit/cancelled", &src, md5[0],
			    &cancel), 0);
	submit_wait(&t);
	CHECK_EQ(t.cancelled, 1);
	CHECK_EQ(t.last_err, -ECANCELED);
	CHECK(strstr(t.last_msg, "submit/cancelled") != NULL);
	CHECK_EQ(objstore_head(os, "submit/cancelled", &info, &eb), -ENOENT);

	if (c->checks_md5) {
		memset(wrong, 0x5a, sizeof(wrong));
		src = mem_src("some bytes", 10);
		CHECK_EQ(submit_one(os, &t, "submit/badmd5", &src, wrong,
				    NULL), 0);
		submit_wait(&t);
		fprintf(stderr, "expected error: %s\n", t.last_msg);
		CHECK_EQ(t.failed, 1);
		CHECK_EQ(t.last_err, -EBADMSG);
		CHECK(strstr(t.last_msg, "submit/badmd5") != NULL);
		CHECK(strstr(t.last_msg, c->md5_code) != NULL);
	}

	/* what it refuses: no MD5, a body not in memory */
	memset(&info, 0, sizeof(info));
	{
		struct objstore_put_opts po;

		memset(&po, 0, sizeof(po));
		src = mem_src("x", 1);
		CHECK_EQ(objstore_put_submit(os, "submit/nomd5", &src, &po,
					     submit_done, &t, &eb), -EINVAL);
		po.md5 = md5[0];
		src.kind = BODY_SRC_FD;
		src.fd = 0;
		errbuf_clear(&eb);
		CHECK_EQ(objstore_put_submit(os, "submit/fd", &src, &po,
					     submit_done, &t, &eb), -EINVAL);
		CHECK(strstr(eb.msg, "submit/fd") != NULL);
	}
}

static void suite_bad_auth(const struct suite_caps *c)
{
	struct errbuf eb = ERRBUF_INIT;
	struct body_src src = mem_src("x", 1);
	struct objstore *os;
	int err;

	os = suite_open(c, c->bad_options, NULL);
	if (!os)
		return;
	err = objstore_put(os, "auth/x", &src, NULL, NULL, &eb);
	fprintf(stderr, "expected error: %s\n", eb.msg);
	CHECK_EQ(err, -EACCES);
	CHECK(strstr(eb.msg, c->auth_code) != NULL);
	CHECK(strstr(eb.msg, "403") != NULL);
	CHECK(strstr(eb.msg, "cannot put") != NULL);
	/* no secret in the message */
	CHECK(strstr(eb.msg, "wrongsecret") == NULL);
	CHECK(strstr(eb.msg, "sig=") == NULL);
	objstore_free(os);
}

/* a pread-style source over memory that breaks past 6 MiB */
static ssize_t failing_read(void *arg, void *buf, size_t n, uint64_t off)
{
	if (off + n > (6u << 20))
		return -EIO;
	memcpy(buf, (const char *)arg + off, n);
	return (ssize_t)n;
}

/* a pread-style source over memory that counts the bytes it gives */
struct counted_src {
	const unsigned char *data;
	uint64_t given;
};

static ssize_t counted_read(void *arg, void *buf, size_t n, uint64_t off)
{
	struct counted_src *cs = arg;

	memcpy(buf, cs->data + off, n);
	cs->given += n;
	return (ssize_t)n;
}

/* A small body is read once (for its MD5 and its request both), and one
 * that cannot be read fails naming the object, with nothing stored. */
static void suite_small_body(struct objstore *os)
{
	static unsigned char data[3000];
	struct counted_src cs = { .data = data };
	struct errbuf eb = ERRBUF_INIT;
	struct objstore_info info;
	struct body_sink sink;
	struct body_src src;
	uint8_t md5[16];
	size_t i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + 3);
	digest_md5(data, sizeof(data), md5);
	memset(&src, 0, sizeof(src));
	src.kind = BODY_SRC_CB;
	src.read = counted_read;
	src.arg = &cs;
	src.len = sizeof(data);
	CHECK_EQ(objstore_put(os, "small/once", &src, NULL, &info, &eb), 0);
	CHECK_EQ(cs.given, sizeof(data));
	CHECK(info.has_md5 && !memcmp(info.md5, md5, 16));
	sink = mem_sink(1 << 20);
	CHECK_EQ(objstore_get(os, "small/once", 0, 0, &sink, NULL, &eb), 0);
	CHECK(sink.mem_len == sizeof(data) && sink.mem &&
	      !memcmp(sink.mem, data, sizeof(data)));
	body_sink_release(&sink);
	CHECK_EQ(objstore_del(os, "small/once", &eb), 0);

	src.read = failing_read;        /* breaks past 6 MiB */
	src.arg = data;
	src.off = 6u << 20;
	errbuf_clear(&eb);
	CHECK_EQ(objstore_put(os, "small/broken", &src, NULL, &info, &eb),
		 -EIO);
	CHECK(strstr(eb.msg, "cannot read the body of") &&
	      strstr(eb.msg, "small/broken"));
	errbuf_clear(&eb);
	CHECK_EQ(objstore_head(os, "small/broken", &info, &eb), -ENOENT);
}

/* Download key (size bytes whose MD5 is md5) with objstore_get_file
 * told `expect` bytes; returns the HTTP requests it made (retries not
 * counted) and checks the file is the object. */
static uint64_t ranged_get(struct objstore *os, const char *key,
			   uint64_t expect, size_t size, const uint8_t md5[16],
			   struct objstore_info *info)
{
	struct errbuf eb = ERRBUF_INIT;
	struct http_multi_stats before, after;
	uint8_t got[16];
	char *buf;
	int fd, err;

	fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	CHECK(fd >= 0);
	buf = malloc(size + 1);
	CHECK(buf != NULL);
	if (fd < 0 || !buf) {
		free(buf);
		return 0;
	}
	http_multi_stats(objstore_multi(os), &before);
	memset(info, 0, sizeof(*info));
	err = objstore_get_file(os, key, fd, expect, true, info, &eb);
	if (err)
		fprintf(stderr, "get_file: %s\n", eb.msg);
	CHECK_EQ(err, 0);
	http_multi_stats(objstore_multi(os), &after);
	/* the object as it is, whatever the caller expected */
	CHECK_EQ((uint64_t)lseek(fd, 0, SEEK_END), size);
	CHECK_EQ(pread(fd, buf, size + 1, 0), (ssize_t)size);
	digest_md5(buf, size, got);
	CHECK(!memcmp(got, md5, 16));
	free(buf);
	close(fd);
	return (after.requests - after.retries) -
	       (before.requests - before.retries);
}

/* A large object comes in parallel ranges (part_size each) of one
 * version; a wrong expected size falls back to one GET. */
static void suite_ranged_get(struct objstore *os, const char *key,
			     size_t size, const uint8_t md5[16])
{
	struct objstore_info info;
	uint64_t nranges = (size + (5 << 20) - 1) / (5 << 20);

	memset(&info, 0, sizeof(info));
	CHECK_EQ(ranged_get(os, key, size, size, md5, &info), nranges);
	CHECK_EQ(info.size, size);
	/* the whole object's MD5 (S3 md5chksum metadata, Azure
	 * x-ms-blob-content-md5), never a range's Content-MD5 */
	CHECK(info.has_md5 && !memcmp(info.md5, md5, 16));
	/* and the MD5 of the bytes written, hashed as the ranges landed */
	CHECK(info.has_body_md5 && !memcmp(info.body_md5, md5, 16));
	/* shorter than expected: the last ranges are refused (416); longer:
	 * Content-Range's total differs. Either way one GET follows (and
	 * no body MD5: the caller hashes what it got). */
	CHECK(ranged_get(os, key, size + (6 << 20), size, md5, &info) >= 2);
	CHECK(!info.has_body_md5);
	CHECK(ranged_get(os, key, size - 1000, size, md5, &info) >= 2);
	CHECK(!info.has_body_md5);
	/* at or below the threshold: one GET */
	CHECK_EQ(ranged_get(os, key, 8 << 20, size, md5, &info), 1);
	CHECK(!info.has_body_md5);
}

static int changed_asked;

/* objstore_put_opts.changed of a source that always changed */
static int always_changed(void *arg)
{
	(*(int *)arg)++;
	return 1;
}

/* ~20 MiB through parts of 5 MiB (threshold 8 MiB): 5 parts/blocks */
static int suite_count_uploads(struct objstore *os, const char *prefix);

static void suite_multipart(const struct suite_caps *c)
{
	const size_t size = 20 * 1024 * 1024 + 12345;
	struct objstore_config cfg;
	struct errbuf eb = ERRBUF_INIT;
	struct objstore_put_opts po;
	struct objstore_info info;
	struct body_sink sink;
	struct body_src src;
	struct objstore *os;
	uint8_t md5[16], got[16];
	uint64_t x = 88172645463325252ULL;
	unsigned char *data;
	size_t i;
	int err;

	objstore_config_defaults(&cfg);
	cfg.multipart_threshold = 8 << 20;
	cfg.part_size = 5 << 20;
	cfg.transfers = 3;
	os = suite_open(c, c->options, &cfg);
	data = malloc(size);
	CHECK(data != NULL);
	if (!os || !data)
		goto out;
	for (i = 0; i < size; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		data[i] = (unsigned char)x;
	}
	digest_md5(data, size, md5);
	src = mem_src(data, size);
	err = objstore_put(os, "big/object", &src, NULL, &info, &eb);
	if (err)
		fprintf(stderr, "multipart put: %s\n", eb.msg);
	CHECK_EQ(err, 0);
	err = objstore_head(os, "big/object", &info, &eb);
	CHECK_EQ(err, 0);
	CHECK_EQ(info.size, size);
	CHECK(info.has_md5 && !memcmp(info.md5, md5, 16));
	fprintf(stderr, "multipart etag: %s\n", info.etag);
	sink = mem_sink(size);
	err = objstore_get(os, "big/object", 0, 0, &sink, NULL, &eb);
	CHECK_EQ(err, 0);
	CHECK_EQ(sink.mem_len, size);
	digest_md5(sink.mem, sink.mem_len, got);
	CHECK(!memcmp(got, md5, 16));
	body_sink_release(&sink);
	/* a range across the part boundary */
	sink = mem_sink(1 << 20);
	err = objstore_get(os, "big/object", (5 << 20) - 10, 20, &sink, NULL,
			   &eb);
	CHECK_EQ(err, 0);
	CHECK_EQ(sink.mem_len, 20);
	CHECK(sink.mem && !memcmp(sink.mem, data + (5 << 20) - 10, 20));
	body_sink_release(&sink);
	suite_ranged_get(os, "big/object", size, md5);

	/* a source that changed while its parts were read: every part is
	 * sent, then the upload is aborted instead of completed, and the
	 * object keeps what it held (sync's copy of a local file) */
	memset(&po, 0, sizeof(po));
	po.changed = always_changed;
	po.changed_arg = &changed_asked;
	changed_asked = 0;
	data[0] ^= 0xff;
	src = mem_src(data, size);
	errbuf_clear(&eb);
	err = objstore_put(os, "big/object", &src, &po, &info, &eb);
	fprintf(stderr, "expected error: %s\n", eb.msg);
	data[0] ^= 0xff;
	CHECK_EQ(err, -ESTALE);
	CHECK_EQ(changed_asked, 1);
	CHECK(strstr(eb.msg, "changed while being uploaded") != NULL);
	sink = mem_sink(size);
	errbuf_clear(&eb);
	CHECK_EQ(objstore_get(os, "big/object", 0, 0, &sink, NULL, &eb), 0);
	digest_md5(sink.mem, sink.mem_len, got);
	CHECK(sink.mem_len == size && !memcmp(got, md5, 16));
	body_sink_release(&sink);
	CHECK_EQ(objstore_del(os, "big/object", &eb), 0);

	/* a source that fails in the second part: the upload is abandoned
	 * (S3: AbortMultipartUpload) and no object appears */
	memset(&src, 0, sizeof(src));
	src.kind = BODY_SRC_CB;
	src.read = failing_read;
	src.arg = data;
	src.len = size;
	memset(&po, 0, sizeof(po));
	po.md5 = md5;    /* known: the failure comes after the upload began */
	errbuf_clear(&eb);
	err = objstore_put(os, "big/failed", &src, &po, &info, &eb);
	fprintf(stderr, "expected error: %s\n", eb.msg);
	CHECK_EQ(err, -EIO);
	CHECK(strstr(eb.msg, "big/failed") != NULL);
	errbuf_clear(&eb);
	CHECK_EQ(objstore_head(os, "big/failed", &info, &eb), -ENOENT);
	/* neither aborted upload is left unfinished */
	if (c->lists_uploads)
		CHECK_EQ(suite_count_uploads(os, "big/"), 0);
out:
	free(data);
	objstore_free(os);
}

struct seen_uploads {
	int n;
	char keys[8][64];
	char ids[8][1024];
	bool initiated;            /* every one has its start time */
	const char *prefix;
};

static int upload_seen(void *arg, const struct objstore_upload *u)
{
	struct seen_uploads *s = arg;

	if (u->key_len < strlen(s->prefix) ||
	    memcmp(u->key, s->prefix, strlen(s->prefix)))
		return 0;
	if (s->n < 8) {
		snprintf(s->keys[s->n], 64, "%.*s", (int)u->key_len, u->key);
		snprintf(s->ids[s->n], 1024, "%s", u->upload_id);
	}
	s->initiated = s->initiated && u->initiated > 1700000000;
	s->n++;
	return 0;
}

static int suite_count_uploads(struct objstore *os, const char *prefix)
{
	struct seen_uploads s = { .prefix = prefix, .initiated = true };
	struct errbuf eb = ERRBUF_INIT;
	int err = objstore_list_uploads(os, upload_seen, &s, &eb);

	if (err)
		fprintf(stderr, "list uploads: %s\n", eb.msg);
	return err ? err : s.n;
}

/* Unfinished uploads (a run killed while it sent parts): listed in
 * pages (of 1 here: Swift gives no NextKeyMarker on a page of one, the
 * page's last upload is then the marker) with their start, and
 * aborted. */
static void suite_uploads(const struct suite_caps *c)
{
	static const char *const keys[] = { "up/a", "up/b", "up/c" };
	struct objstore_config cfg;
	struct errbuf eb = ERRBUF_INIT;
	struct objstore_put_opts po;
	struct seen_uploads s = { .prefix = "up/", .initiated = true };
	struct objstore *os;
	char fk[OBJSTORE_KEY_MAX + 1];
	uint8_t md5[16] = { 0 };
	size_t i;
	int err;

	objstore_config_defaults(&cfg);
	cfg.list_page_size = 1;
	os = suite_open(c, c->options, &cfg);
	if (!os)
		return;
	err = objstore_list_uploads(os, upload_seen, &s, &eb);
	if (!c->lists_uploads) {
		fprintf(stderr, "expected error: %s\n", eb.msg);
		CHECK_EQ(err, -EOPNOTSUPP);
		objstore_free(os);
		return;
	}
	CHECK_EQ(err, 0);
	CHECK_EQ(s.n, 0);
	memset(&po, 0, sizeof(po));
	for (i = 0; i < 3; i++) {
		void *up = NULL;

		CHECK_EQ(objstore_full_key(os, keys[i], fk, sizeof(fk), &eb),
			 0);
		err = os->ops->parts->begin(os, fk, keys[i], &po, md5, 2, &up,
					    &eb);
		if (err)
			fprintf(stderr, "begin: %s\n", eb.msg);
		CHECK_EQ(err, 0);
		os->ops->parts->free(up);   /* neither completed nor aborted */
	}
	memset(&s, 0, sizeof(s));
	s.prefix = "up/";
	s.initiated = true;
	CHECK_EQ(objstore_list_uploads(os, upload_seen, &s, &eb), 0);
	CHECK_EQ(s.n, 3);
	CHECK(s.initiated);
	CHECK_STREQ(s.keys[0], "up/a");
	CHECK_STREQ(s.keys[1], "up/b");
	CHECK_STREQ(s.keys[2], "up/c");
	CHECK_EQ(objstore_abort_upload(os, "up/b", s.ids[1], &eb), 0);
	/* gone already: what was asked */
	CHECK_EQ(objstore_abort_upload(os, "up/b", s.ids[1], &eb), 0);
	CHECK_EQ(suite_count_uploads(os, "up/"), 2);
	CHECK_EQ(objstore_abort_upload(os, "up/a", s.ids[0], &eb), 0);
	CHECK_EQ(objstore_abort_upload(os, "up/c", s.ids[2], &eb), 0);
	CHECK_EQ(suite_count_uploads(os, "up/"), 0);
	objstore_free(os);
}

static inline void suite_run(const struct suite_caps *c)
{
	struct errbuf eb = ERRBUF_INIT;
	struct objstore *os;
	int err;

	os = suite_open(c, c->options, NULL);
	if (!os)
		return;
	err = objstore_create_bucket(os, &eb);
	if (err)
		fprintf(stderr, "create bucket: %s\n", eb.msg);
	CHECK_EQ(err, 0);
	errbuf_clear(&eb);
	CHECK_EQ(objstore_create_bucket(os, &eb), 0);  /* exists: fine */
	suite_basic(os, c);
	suite_bad_md5(os, c);
	suite_small_body(os);
	suite_submit(os, c);
	objstore_free(os);
	suite_list(c);
	suite_bad_auth(c);
	suite_multipart(c);
	suite_uploads(c);
}

#endif
