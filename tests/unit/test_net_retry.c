/* test_net_retry: retries against real failures: a closed port (clean
 * error after the retries) and an s3rver killed and started again on the
 * same port while a request is being retried (it then succeeds); plus
 * many threads sharing one store (one network thread), and which MD5 a
 * GET's answer gives (a canned server's answers). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http_multi.h"
#include "servers/objstore_suite.h"
#include "servers/server_env.h"

static int closed_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len)) {
		perror("socket");
		exit(1);
	}
	port = ntohs(a.sin_port);
	close(fd);   /* nobody listens there now */
	return port;
}

/* s3://b/p at 127.0.0.1:port, retried `retries` times after retry_ms
 * (the backoff's base and cap); NULL (a failed check) if it cannot be
 * opened. */
static struct objstore *open_port(int port, unsigned retries,
				  unsigned retry_ms)
{
	struct objstore_config cfg;
	struct errbuf eb = ERRBUF_INIT;
	struct objstore *os = NULL;
	char opts[256];

	snprintf(opts, sizeof(opts), "{\"endpoint_url\": \"http://127.0.0.1:%d\","
		 " \"key\": \"k\", \"secret\": \"wrongsecret\"}", port);
	objstore_config_defaults(&cfg);
	cfg.retries = retries;
	cfg.retry_base_ms = retry_ms;
	cfg.retry_max_ms = retry_ms;
	CHECK_EQ(objstore_open("s3://b/p", opts, &cfg, &os, &eb), 0);
	return os;
}

static void test_closed_port(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct objstore_info info;
	struct http_multi_stats st;
	struct objstore *os = open_port(closed_port(), 2, 10);
	int err;

	if (!os)
		return;
	err = objstore_head(os, "x", &info, &eb);
	fprintf(stderr, "expected error: %s\n", eb.msg);
	CHECK_EQ(err, -ECONNREFUSED);
	CHECK_EQ(info.attempts, 3);
	CHECK(strstr(eb.msg, "cannot head 's3://b/p/x'") != NULL);
	CHECK(strstr(eb.msg, "3 attempts") != NULL);
	CHECK(strstr(eb.msg, "wrongsecret") == NULL);
	http_multi_stats(objstore_multi(os), &st);
	CHECK_EQ(st.retries, 2);
	CHECK_EQ(st.requests, 3);
	objstore_free(os);
}

struct canned {
	int lfd;
	const char *answer;
};

/* A server that gives every request the same answer, each on a
 * connection of its own; it runs until the test's end. */
static void *canned_server(void *arg)
{
	struct canned *c = arg;

	for (;;) {
		char buf[4096];
		int fd = accept(c->lfd, NULL, NULL);

		if (fd < 0)
			return NULL;
		/* the request's head and its 3-byte body fit one read or two */
		if (read(fd, buf, sizeof(buf)) > 0 &&
		    write(fd, c->answer, strlen(c->answer)) < 0)
			perror("write");
		close(fd);
	}
}

/* The port of a new canned server giving answer (kept: the caller's). */
static int canned_port(const char *answer)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	pthread_t t;
	struct canned *c = malloc(sizeof(*c));
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!c || fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(fd, 16) || getsockname(fd, (struct sockaddr *)&a, &len)) {
		perror("canned server");
		exit(1);
	}
	c->lfd = fd;
	c->answer = answer;
	if (pthread_create(&t, NULL, canned_server, c)) {
		perror("canned server");
		exit(1);
	}
	pthread_detach(t);
	return ntohs(a.sin_port);
}

/* "503 SlowDown" to everything: a store asking for a retry. */
static int busy_port(void)
{
	return canned_port(
		"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
		"Content-Length: 38\r\nConnection: close\r\n\r\n"
		"<Error><Code>SlowDown</Code></Error>\r\n");
}

/* A put submitted without waiting whose first attempt failed and whose
 * caller then cancelled it: its retry is not sent, it ends with
 * -ECANCELED and says so, not what the failed attempt got (a refused
 * connection, or the store's 503). The backoff (at least half of 2 s,
 * equal jitter) leaves the test a second to set the flag between the
 * attempts. */
static void cancelled_retry(int port, const char *first)
{
	struct submit_tally t = { .lock = PTHREAD_MUTEX_INITIALIZER,
				  .cond = PTHREAD_COND_INITIALIZER };
	struct http_multi_stats st;
	struct objstore *os = open_port(port, 3, 2000);
	struct body_src src = mem_src("abc", 3);
	atomic_bool cancel;
	uint8_t md5[16];
	int i;

	if (!os)
		return;
	atomic_init(&cancel, false);
	digest_md5("abc", 3, md5);
	CHECK_EQ(submit_one(os, &t, "x", &src, md5, &cancel), 0);
	for (i = 0; i < 1000; i++) {
		http_multi_stats(objstore_multi(os), &st);
		if (st.requests >= 1 && st.retries >= 1)
			break;
		usleep(1000);
	}
	CHECK_EQ(st.retries, 1);   /* the first attempt failed */
	atomic_store(&cancel, true);
	submit_wait(&t);
	fprintf(stderr, "expected error (after %s): %s\n", first, t.last_msg);
	CHECK_EQ(t.cancelled, 1);
	CHECK_EQ(t.last_err, -ECANCELED);
	CHECK(strstr(t.last_msg, "cannot put 's3://b/p/x': cancelled") != NULL);
	CHECK(strstr(t.last_msg, "1 attempt sent") != NULL);
	CHECK(strstr(t.last_msg, "SlowDown") == NULL);
	http_multi_stats(objstore_multi(os), &st);
	CHECK_EQ(st.requests, 1);   /* the retry was dropped, not sent */
	objstore_free(os);
}

static void test_cancelled_retry(void)
{
	cancelled_retry(closed_port(), "a refused connection");
	cancelled_retry(busy_port(), "503 SlowDown");
}

/* The MD5 a GET's answer gives (what a download is checked against):
 * an S3 single-part ETag is the server's MD5 of the bytes and stands
 * before an md5chksum in user metadata; not under SSE-KMS or SSE-C,
 * whose ETags are not MD5s; a multipart ETag ("...-2") leaves the
 * metadata. ETAG_ABC is the MD5 of the body "abc". */
#define ETAG_ABC "900150983cd24fb0d6963f7d28e17f72"
#define MD5CHKSUM_XYZ "0W+zbwkR+HiZjBNhka9wXg=="   /* base64 MD5 of "xyz" */
#define ANSWER(etag, extra) \
	"HTTP/1.1 200 OK\r\nETag: \"" etag "\"\r\n" extra \
	"Content-Length: 3\r\nConnection: close\r\n\r\nabc"

static void answer_md5(const char *answer, bool has_md5, const char *body)
{
	struct errbuf eb = ERRBUF_INIT;
	struct objstore *os = open_port(canned_port(answer), 0, 10);
	struct body_sink sink = mem_sink(16);
	struct objstore_info info;
	uint8_t want[16];

	if (!os)
		return;
	CHECK_EQ(objstore_get(os, "x", 0, 0, &sink, &info, &eb), 0);
	CHECK_EQ(info.has_md5, has_md5);
	if (has_md5) {
		digest_md5(body, strlen(body), want);
		CHECK(!memcmp(info.md5, want, 16));
	}
	CHECK_EQ(sink.mem_len, 3);
	body_sink_release(&sink);
	objstore_free(os);
}

static int count_upload(void *arg, const struct objstore_upload *u)
{
	(void)u;
	++*(int *)arg;
	return 0;
}

/* A server whose upload listing never moves on (every page truncated,
 * with the markers asked, or with none and no upload): refused after
 * the second page, not listed forever. */
static void stuck_uploads(const char *xml, int want_seen)
{
	static char answer[2048];
	struct errbuf eb = ERRBUF_INIT;
	struct objstore *os;
	int seen = 0;

	snprintf(answer, sizeof(answer), "HTTP/1.1 200 OK\r\nContent-Type: "
		 "application/xml\r\nContent-Length: %zu\r\nConnection: "
		 "close\r\n\r\n%s", strlen(xml), xml);
	os = open_port(canned_port(strdup(answer)), 0, 10);
	if (!os)
		return;
	CHECK_EQ(objstore_list_uploads(os, count_upload, &seen, &eb),
		 -EBADMSG);
	fprintf(stderr, "expected error: %s\n", eb.msg);
	CHECK(strstr(eb.msg, "do not move on") != NULL);
	CHECK_EQ(seen, want_seen);
	objstore_free(os);
}

static void test_stuck_uploads(void)
{
	/* the same upload and markers every time: 2 pages, then refused */
	stuck_uploads("<ListMultipartUploadsResult><IsTruncated>true"
		      "</IsTruncated><NextKeyMarker>p/a</NextKeyMarker>"
		      "<NextUploadIdMarker>1</NextUploadIdMarker><Upload><Key>"
		      "p/a</Key><UploadId>1</UploadId></Upload>"
		      "</ListMultipartUploadsResult>", 2);
	/* no markers (Swift's way) and the same last upload */
	stuck_uploads("<ListMultipartUploadsResult><IsTruncated>true"
		      "</IsTruncated><Upload><Key>p/a</Key><UploadId>1"
		      "</UploadId></Upload></ListMultipartUploadsResult>", 2);
	/* truncated, empty, no markers */
	stuck_uploads("<ListMultipartUploadsResult><IsTruncated>true"
		      "</IsTruncated></ListMultipartUploadsResult>", 0);
}

static void test_answer_md5(void)
{
	answer_md5(ANSWER(ETAG_ABC, ""), true, "abc");
	answer_md5(ANSWER(ETAG_ABC, "x-amz-server-side-encryption: AES256\r\n"),
		   true, "abc");
	answer_md5(ANSWER(ETAG_ABC, "x-amz-server-side-encryption: aws:kms\r\n"),
		   false, NULL);
	answer_md5(ANSWER(ETAG_ABC,
			  "x-amz-server-side-encryption-customer-algorithm: "
			  "AES256\r\n"), false, NULL);
	/* the server's ETag before the writer's metadata */
	answer_md5(ANSWER(ETAG_ABC, "x-amz-meta-md5chksum: " MD5CHKSUM_XYZ
			  "\r\n"), true, "abc");
	answer_md5(ANSWER("0123456789abcdef0123456789abcdef-2",
			  "x-amz-meta-md5chksum: " MD5CHKSUM_XYZ "\r\n"),
		   true, "xyz");
	/* SSE-KMS: the metadata, not the ETag */
	answer_md5(ANSWER(ETAG_ABC, "x-amz-server-side-encryption: aws:kms\r\n"
			  "x-amz-meta-md5chksum: " MD5CHKSUM_XYZ "\r\n"),
		   true, "xyz");
}

static void test_restart(void)
{
	char dir[] = "/tmp/snap-net-retry-XXXXXX", sdir[512], cmd[1200];
	char opts[512], state[512], port[16];
	const char *ep;
	struct objstore_config cfg;
	struct errbuf eb = ERRBUF_INIT;
	struct body_src src = mem_src("survives a restart", 18);
	struct body_sink sink = mem_sink(1024);
	struct objstore_info info;
	struct objstore *os = NULL;
	pid_t child;
	int err, status;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(cmd, sizeof(cmd), "SNAP_S3RVER_DATA=%s", dir);
	/* a private instance: it gets killed (a shared one is stopped first
	 * if this test started it) */
	server_stop_all();
	unsetenv("SNAP_S3RVER_ENDPOINT");
	server_ensure("s3rver", "SNAP_S3RVER_ENDPOINT", "SNAP_S3RVER_STATE",
		      cmd);
	ep = getenv("SNAP_S3RVER_ENDPOINT");
	snprintf(state, sizeof(state), "%s", getenv("SNAP_S3RVER_STATE"));
	snprintf(port, sizeof(port), "%s", strrchr(ep, ':') + 1);
	snprintf(opts, sizeof(opts), "{\"endpoint_url\": \"%s\", \"key\": "
		 "\"S3RVER\", \"secret\": \"S3RVER\"}", ep);
	objstore_config_defaults(&cfg);
	/* each wait is drawn from [d/2, d]: 40 retries wait at least ~37 s
	 * in all, for a Node server's cold start on a loaded machine (14
	 * left ~11 s); a quick restart still ends the test at once */
	cfg.retries = 40;
	cfg.retry_base_ms = 200;
	cfg.retry_max_ms = 2000;
	CHECK_EQ(objstore_open("s3://restart/p", opts, &cfg, &os, &eb), 0);
	if (!os)
		return;
	CHECK_EQ(objstore_create_bucket(os, &eb), 0);
	CHECK_EQ(objstore_put(os, "obj", &src, NULL, NULL, &eb), 0);

	server_dir(sdir, sizeof(sdir));
	snprintf(cmd, sizeof(cmd), "bash '%s/stop.sh' '%s'", sdir, state);
	CHECK_EQ(system(cmd), 0);
	child = fork();
	if (child == 0) {
		/* the server comes back on the same port with the same data */
		sleep(2);
		snprintf(cmd, sizeof(cmd), "SNAP_PORT=%s SNAP_S3RVER_DATA=%s "
			 "bash '%s/start_s3rver.sh' >/dev/null", port, dir,
			 sdir);
		_exit(system(cmd) == 0 ? 0 : 1);
	}
	err = objstore_get(os, "obj", 0, 0, &sink, &info, &eb);
	if (err)
		fprintf(stderr, "get after restart: %s\n", eb.msg);
	CHECK_EQ(err, 0);
	CHECK(info.attempts > 1);
	CHECK_EQ(sink.mem_len, 18);
	CHECK(sink.mem && !memcmp(sink.mem, "survives a restart", 18));
	fprintf(stderr, "attempts until the server was back: %u\n",
		info.attempts);
	body_sink_release(&sink);
	CHECK(waitpid(child, &status, 0) == child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	objstore_free(os);
	/* stopped at exit via the same state directory */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	server_stop_all();
	unsetenv("SNAP_S3RVER_ENDPOINT");
	CHECK_EQ(system(cmd), 0);
}

struct worker {
	struct objstore *os;
	int id;
	int failures;
};

static void *put_many(void *arg)
{
	struct worker *w = arg;
	struct errbuf eb = ERRBUF_INIT;
	struct objstore_info info;
	struct body_src src;
	char key[64], body[64];
	int i;

	for (i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "t%d/%03d", w->id, i);
		snprintf(body, sizeof(body), "thread %d object %d", w->id, i);
		src = mem_src(body, strlen(body));
		if (objstore_put(w->os, key, &src, NULL, NULL, &eb) ||
		    objstore_head(w->os, key, &info, &eb) ||
		    info.size != strlen(body))
			w->failures++;
	}
	return NULL;
}

static int count_cb(void *arg, const struct objstore_entry *e)
{
	(void)e;
	(*(int *)arg)++;
	return 0;
}

static void test_threads(void)
{
	struct objstore_config cfg;
	struct errbuf eb = ERRBUF_INIT;
	struct objstore *os = NULL;
	struct http_multi_stats st;
	struct worker w[6];
	pthread_t th[6];
	char opts[512];
	int i, n = 0;

	server_ensure("s3rver", "SNAP_S3RVER_ENDPOINT", "SNAP_S3RVER_STATE", "");
	snprintf(opts, sizeof(opts), "{\"endpoint_url\": \"%s\", \"key\": "
		 "\"S3RVER\", \"secret\": \"S3RVER\"}",
		 getenv("SNAP_S3RVER_ENDPOINT"));
	objstore_config_defaults(&cfg);
	cfg.transfers = 4;   /* fewer slots than threads: they queue */
	CHECK_EQ(objstore_open("s3://threads/x", opts, &cfg, &os, &eb), 0);
	if (!os)
		return;
	CHECK_EQ(objstore_create_bucket(os, &eb), 0);
	for (i = 0; i < 6; i++) {
		w[i].os = os;
		w[i].id = i;
		w[i].failures = 0;
		CHECK_EQ(pthread_create(&th[i], NULL, put_many, &w[i]), 0);
	}
	for (i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ(w[i].failures, 0);
	}
	CHECK_EQ(objstore_list(os, "", count_cb, &n, &eb), 0);
	CHECK_EQ(n, 240);
	/* 481 requests over at most 4 parallel connections, kept alive */
	http_multi_stats(objstore_multi(os), &st);
	fprintf(stderr, "requests %llu, new connections %llu\n",
		(unsigned long long)st.requests,
		(unsigned long long)st.connects);
	CHECK(st.requests >= 481);
	CHECK(st.connects >= 1 && st.connects <= st.requests / 10);
	objstore_free(os);
}

/* The stores opened on one stage share its network thread: one in-flight
 * cap, counters and connections across stores (the run's network stage);
 * freeing one store leaves the others working; a stage no store used
 * starts nothing and frees cleanly. */
static void test_stage(void)
{
	struct objstore_config cfg;
	struct errbuf eb = ERRBUF_INIT;
	struct objstore_stage *stage = NULL, *unused = NULL;
	struct objstore *a = NULL, *b = NULL;
	struct http_multi_stats st;
	struct body_src src = mem_src("one stage", 9);
	struct body_sink sink = mem_sink(64);
	char opts[256], ua[64], ub[64];

	server_ensure("s3rver", "SNAP_S3RVER_ENDPOINT", "SNAP_S3RVER_STATE", "");
	snprintf(opts, sizeof(opts), "{\"endpoint_url\": \"%s\", \"key\": "
		 "\"S3RVER\", \"secret\": \"S3RVER\"}",
		 getenv("SNAP_S3RVER_ENDPOINT"));
	snprintf(ua, sizeof(ua), "s3://stage-a-%d/x", (int)getpid());
	snprintf(ub, sizeof(ub), "s3://stage-b-%d/y", (int)getpid());
	CHECK_EQ(objstore_stage_new(&unused), 0);
	objstore_stage_free(unused);
	CHECK_EQ(objstore_stage_new(&stage), 0);
	objstore_config_defaults(&cfg);
	cfg.stage = stage;
	CHECK_EQ(objstore_open(ua, opts, &cfg, &a, &eb), 0);
	CHECK_EQ(objstore_open(ub, opts, &cfg, &b, &eb), 0);
	if (!a || !b)
		goto out;
	CHECK(objstore_multi(a) == objstore_multi(b));
	CHECK_EQ(objstore_create_bucket(a, &eb), 0);
	CHECK_EQ(objstore_create_bucket(b, &eb), 0);
	CHECK_EQ(objstore_put(a, "o", &src, NULL, NULL, &eb), 0);
	CHECK_EQ(objstore_put(b, "o", &src, NULL, NULL, &eb), 0);
	http_multi_stats(objstore_multi(b), &st);
	/* both stores' requests in one count (less any retry) */
	CHECK_EQ(st.requests - st.retries, 4);
	CHECK(st.connects < st.requests);   /* a connection served both */
	objstore_free(a);
	a = NULL;
	CHECK_EQ(objstore_get(b, "o", 0, 0, &sink, NULL, &eb), 0);
	CHECK_EQ(sink.mem_len, 9);
	CHECK(sink.mem && !memcmp(sink.mem, "one stage", 9));
out:
	body_sink_release(&sink);
	objstore_free(a);
	objstore_free(b);
	objstore_stage_free(stage);
}

int main(void)
{
	RUN_TEST(test_stage);
	RUN_TEST(test_threads);
	RUN_TEST(test_closed_port);
	RUN_TEST(test_cancelled_retry);
	RUN_TEST(test_answer_md5);
	RUN_TEST(test_stuck_uploads);
	RUN_TEST(test_restart);   /* last: it replaces the server */
	return test_finish();
}
