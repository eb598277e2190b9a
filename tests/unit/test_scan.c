/* test_scan: the walk emits every entry once, in entry_cmp order, the same
 * with and without prefetch threads and with both I/O back ends; special
 * files are skipped and counted; filters prune directories. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan.h"
#include "test.h"

static char root[64];

static void touch(const char *rel)
{
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	fd = open(p, O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
}

static void mkd(const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	CHECK_EQ(mkdir(p, 0755), 0);
}

static void build(void)
{
	char rel[256];
	int i, j;

	/* names chosen so that per-directory byte order and full-path
	 * order disagree unless directories sort as "name/" */
	mkd("a");
	touch("a.txt");
	touch("a-b");
	touch("a0");
	mkd("a/b");
	touch("a/b/c");
	mkd("empty");
	for (i = 0; i < 40; i++) {
		snprintf(rel, sizeof(rel), "d%02d", i);
		mkd(rel);
		for (j = 0; j < 30; j++) {
			snprintf(rel, sizeof(rel), "d%02d/f%02d", i, j);
			touch(rel);
		}
		snprintf(rel, sizeof(rel), "d%02d/sub", i);
		mkd(rel);
		snprintf(rel, sizeof(rel), "d%02d/sub.x", i);
		touch(rel);
		snprintf(rel, sizeof(rel), "d%02d/sub/deep", i);
		touch(rel);
	}
	snprintf(rel, sizeof(rel), "%s/fifo", root);
	CHECK_EQ(mkfifo(rel, 0644), 0);
}

struct list {
	char **names;
	size_t n;
};

static bool no_d1x(void *ctx, const char *relpath, size_t len, bool is_dir)
{
	(void)ctx;
	return !(is_dir && len == 3 && !memcmp(relpath, "d1", 2));
}

static int scan_all(enum io_backend io, unsigned threads, bool filtered,
		    struct list *out, uint64_t *skipped)
{
	struct scan_opts o;
	struct scanner *s;
	struct errbuf eb = ERRBUF_INIT;
	struct logger quiet = { LOG_NONE, false };
	struct entry e, prev;
	bool has_prev = false;
	int ret;

	memset(&o, 0, sizeof(o));
	o.root = root;
	o.io = io;
	o.prefetch_threads = threads;
	o.files_skipped = skipped;
	o.log = &quiet;
	if (filtered)
		o.allow = no_d1x;
	out->names = calloc(4096, sizeof(char *));
	out->n = 0;
	ret = scanner_new(&o, &s, &eb);
	if (ret < 0) {
		fprintf(stderr, "%s\n", eb.msg);
		return ret;
	}
	entry_init(&prev);
	while ((ret = scanner_next(s, &e, &eb)) == 1) {
		if (has_prev)
			CHECK(entry_cmp(&prev, &e) < 0);
		entry_release(&prev);
		entry_copy(&prev, &e);
		has_prev = true;
		if (out->n < 4096)
			out->names[out->n++] = strdup(e.name);
		entry_release(&e);
	}
	entry_release(&prev);
	scanner_free(s);
	return ret;
}

static void list_free(struct list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
}

static void test_orders(void)
{
	enum io_backend ios[] = { IO_BACKEND_SYNC, IO_BACKEND_AUTO };
	unsigned threads[] = { 0, 1, 3 };
	struct list ref, got;
	uint64_t skipped = 0;
	size_t i, k, t;

	CHECK_EQ(scan_all(IO_BACKEND_SYNC, 0, false, &ref, &skipped), 0);
	/* a, a/b, a/b/c, a-b? no: "a-b" < "a.txt" < "a/" < "a0" */
	CHECK_EQ(ref.n, 6 + 1 + 40 * 34);
	CHECK_STREQ(ref.names[0], "a-b");
	CHECK_STREQ(ref.names[1], "a.txt");
	CHECK_STREQ(ref.names[2], "a");
	CHECK_STREQ(ref.names[3], "a/b");
	CHECK_STREQ(ref.names[4], "a/b/c");
	CHECK_STREQ(ref.names[5], "a0");
	CHECK_EQ(skipped, 1);
	for (i = 0; i < 2; i++) {
		for (t = 0; t < 3; t++) {
			CHECK_EQ(scan_all(ios[i], threads[t], false, &got, NULL),
				 0);
			CHECK_EQ(got.n, ref.n);
			for (k = 0; k < got.n && k < ref.n; k++)
				if (strcmp(got.names[k], ref.names[k]))
					break;
			CHECK_EQ(k, ref.n);
			list_free(&got);
		}
	}
	list_free(&ref);
	/* the filter prunes d10..d19 (with 34 entries each) */
	CHECK_EQ(scan_all(IO_BACKEND_AUTO, 2, true, &got, NULL), 0);
	CHECK_EQ(got.n, 6 + 1 + 40 * 34 - 10 * 34);
	list_free(&got);
}

static void test_missing_root(void)
{
	struct scan_opts o;
	struct scanner *s = NULL;
	struct errbuf eb = ERRBUF_INIT;
	struct entry e;

	memset(&o, 0, sizeof(o));
	o.root = "/nonexistent/snapshooter-test";
	CHECK_ERR(scanner_new(&o, &s, &eb), ENOENT);
	CHECK(strstr(eb.msg, "/nonexistent/snapshooter-test") != NULL);
	o.missing_root_ok = true;
	errbuf_clear(&eb);
	CHECK_EQ(scanner_new(&o, &s, &eb), 0);
	CHECK_EQ(scanner_next(s, &e, &eb), 0);
	scanner_free(s);
}

/* An error ends the walk for good: interrupted (the flag set), the next
 * call fails; with the flag cleared the calls after still fail, with the
 * same code and message, rather than go on with a half-walked tree. */
static void test_error_sticks(void)
{
	volatile sig_atomic_t stop = 0;
	struct scan_opts o;
	struct scanner *s = NULL;
	struct errbuf eb = ERRBUF_INIT;
	struct entry e;
	int i;

	memset(&o, 0, sizeof(o));
	o.root = root;
	o.interrupted = &stop;
	CHECK_EQ(scanner_new(&o, &s, &eb), 0);
	for (i = 0; i < 5; i++) {
		CHECK_EQ(scanner_next(s, &e, &eb), 1);
		entry_release(&e);
	}
	stop = 1;
	CHECK_ERR(scanner_next(s, &e, &eb), EINTR);
	stop = 0;
	for (i = 0; i < 3; i++) {
		errbuf_clear(&eb);
		CHECK_ERR(scanner_next(s, &e, &eb), EINTR);
		CHECK(strstr(eb.msg, "interrupted") != NULL);
	}
	scanner_free(s);
}

int main(void)
{
	char cmd[128];

	snprintf(root, sizeof(root), "/tmp/test_scan.XXXXXX");
	if (!mkdtemp(root))
		return 1;
	build();
	RUN_TEST(test_orders);
	RUN_TEST(test_missing_root);
	RUN_TEST(test_error_sticks);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd))
		return 1;
	return test_finish();
}
