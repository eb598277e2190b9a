/* test_tree: the tree interface (engine/tree/tree.h) over both backends.
 * A local tree: its capabilities, the scan the same as the walker's
 * (scan.h) on the caller's thread and walking ahead through a small
 * queue, an abort from another thread reaching the reader (also one
 * blocked waiting for the walker), a missing root (an error naming it,
 * or an empty tree when allowed). A tree in an object store (s3rver,
 * Azurite): its capabilities (only Azure lists mtimes), a missing bucket
 * refused for a destination, objects written through its backend scanned
 * back in key order with their sizes and mtimes, no root fd and no
 * xattrs, a listing stopped by an abort. tree_open_file: the bytes, the
 * stat and the mtime of a file (live) or of an object (a private
 * download); a fifo put where a file was refused without blocking, a
 * vanished file, both naming ROOT/NAME. tree_file_meta: an object's mtime
 * metadata, -ENOENT when gone. tree_put (every object here is written
 * with it) and tree_remove: removed objects leave the listing, a missing
 * one is no error. A file system refuses the three (-EOPNOTSUPP, naming
 * the file): its scan carries everything and a tree_writer writes it.
 * The local part runs first and stands alone: its failures are not
 * turned into a skip when a server cannot start. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hasher.h"
#include "scan.h"
#include "servers/server_env.h"
#include "test.h"
#include "tree.h"
#include "xattr.h"

static char root[64];

static void put_file(const char *rel, const char *text)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	f = fopen(p, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void build(void)
{
	char rel[160];
	int i, j;

	for (i = 0; i < 20; i++) {
		snprintf(rel, sizeof(rel), "%s/d%02d", root, i);
		CHECK_EQ(mkdir(rel, 0755), 0);
		for (j = 0; j < 20; j++) {
			snprintf(rel, sizeof(rel), "d%02d/f%02d", i, j);
			put_file(rel, rel);
		}
	}
	put_file("top", "top");
}

/* the names of a scan, one per line, into *out (malloc'd) */
static int scan_names(struct tree *t, const struct tree_scan_opts *so,
		      char **out, size_t *n)
{
	struct errbuf eb = ERRBUF_INIT;
	struct tree_scan *s = NULL;
	struct entry e = ENTRY_INIT;
	size_t len = 0;
	FILE *f = open_memstream(out, &len);
	int ret;

	*n = 0;
	ret = tree_scan_start(t, so, &s, &eb);
	while (!ret && (ret = tree_scan_next(s, &e, &eb)) == 1) {
		fprintf(f, "%s %d %llu\n", e.name, e.type,
			(unsigned long long)e.size);
		(*n)++;
		entry_release(&e);
		ret = 0;
	}
	if (ret < 0)
		fprintf(stderr, "scan: %s\n", eb.msg);
	tree_scan_free(s);
	fclose(f);
	return ret;
}

/* the walker itself (scan.h), the reference */
static int walker_names(char **out, size_t *n)
{
	struct errbuf eb = ERRBUF_INIT;
	struct scanner *s = NULL;
	struct scan_opts so;
	struct entry e = ENTRY_INIT;
	size_t len = 0;
	FILE *f = open_memstream(out, &len);
	int ret;

	memset(&so, 0, sizeof(so));
	so.root = root;
	*n = 0;
	ret = scanner_new(&so, &s, &eb);
	while (!ret && (ret = scanner_next(s, &e, &eb)) == 1) {
		fprintf(f, "%s %d %llu\n", e.name, e.type,
			(unsigned long long)e.size);
		(*n)++;
		entry_release(&e);
		ret = 0;
	}
	scanner_free(s);
	fclose(f);
	return ret;
}

static void test_local_scan(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct tree_scan_opts so;
	struct tree *t = NULL;
	char *want = NULL, *got = NULL;
	size_t nwant = 0, n = 0;
	unsigned ahead[] = { 0, 1, 3, 4096 };
	size_t i;

	CHECK_EQ(tree_open(root, NULL, NULL, false, &t, &eb), 0);
	if (!t)
		return;
	CHECK_EQ(tree_caps(t), TREE_CAP_FS | TREE_CAP_LISTS_MTIME);
	CHECK_STREQ(tree_root(t), root);
	CHECK(tree_objstore(t) == NULL);
	CHECK_EQ(walker_names(&want, &nwant), 0);
	CHECK_EQ(nwant, 20 + 20 * 20 + 1);
	for (i = 0; i < sizeof(ahead) / sizeof(ahead[0]); i++) {
		memset(&so, 0, sizeof(so));
		so.ahead = ahead[i];
		CHECK_EQ(scan_names(t, &so, &got, &n), 0);
		CHECK_EQ(n, nwant);
		CHECK(got && want && !strcmp(got, want));
		free(got);
		got = NULL;
	}
	free(want);
	tree_free(t);
}

static void test_local_rootfd(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct tree_scan_opts so;
	struct tree *t = NULL;
	struct tree_scan *s = NULL;
	struct entry e = ENTRY_INIT;
	struct stat a, b;

	CHECK_EQ(tree_open(root, NULL, NULL, false, &t, &eb), 0);
	memset(&so, 0, sizeof(so));
	CHECK_EQ(tree_scan_start(t, &so, &s, &eb), 0);
	if (!s) {
		tree_free(t);
		return;
	}
	CHECK(tree_scan_rootfd(s) >= 0);
	CHECK_EQ(fstat(tree_scan_rootfd(s), &a), 0);
	CHECK_EQ(stat(root, &b), 0);
	CHECK_EQ(a.st_ino, b.st_ino);
	CHECK_EQ(tree_scan_next(s, &e, &eb), 1);
	CHECK_EQ(tree_scan_xattrs(s, XATTR_NS_USER, &e, &eb), 0);
	entry_release(&e);
	tree_scan_free(s);
	tree_free(t);
}

struct aborter {
	struct tree_scan *s;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool gate_closed;        /* the walker waits in the filter */
	bool walker_waiting;
};

/* the filter of the blocked-walker case: the walker stops at "d10" until
 * the gate opens (after the abort) */
static bool gate(void *ctx, const char *relpath, size_t len, bool is_dir)
{
	struct aborter *a = ctx;

	(void)is_dir;
	if (len != 3 || memcmp(relpath, "d10", 3))
		return true;
	pthread_mutex_lock(&a->lock);
	a->walker_waiting = true;
	pthread_cond_broadcast(&a->cond);
	while (a->gate_closed)
		pthread_cond_wait(&a->cond, &a->lock);
	pthread_mutex_unlock(&a->lock);
	return true;
}

/* the aborter: once the walker waits at the gate (the reader then runs
 * dry and blocks in tree_scan_next), abort, then open the gate */
static void *abort_main(void *arg)
{
	struct aborter *a = arg;

	pthread_mutex_lock(&a->lock);
	while (!a->walker_waiting)
		pthread_cond_wait(&a->cond, &a->lock);
	pthread_mutex_unlock(&a->lock);
	usleep(20000);  /* the reader most likely blocked by now */
	tree_scan_abort(a->s);
	pthread_mutex_lock(&a->lock);
	a->gate_closed = false;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/* a scan walking ahead, aborted from another thread: the reader gets
 * -ECANCELED, not the end of the tree, and the scan frees without
 * hanging (the walker blocked on a full queue, or in its filter) */
static void test_local_abort(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct tree_scan_opts so;
	struct tree *t = NULL;
	struct tree_scan *s = NULL;
	struct entry e = ENTRY_INIT;
	struct aborter a;
	pthread_t th;
	int ret, n = 0;

	CHECK_EQ(tree_open(root, NULL, NULL, false, &t, &eb), 0);
	if (!t)
		return;
	/* the walker held at d10 while the reader drains the queue */
	memset(&a, 0, sizeof(a));
	pthread_mutex_init(&a.lock, NULL);
	pthread_cond_init(&a.cond, NULL);
	a.gate_closed = true;
	memset(&so, 0, sizeof(so));
	so.scan.allow = gate;
	so.scan.allow_ctx = &a;
	so.ahead = 2;
	CHECK_EQ(tree_scan_start(t, &so, &s, &eb), 0);
	if (s) {
		a.s = s;
		CHECK_EQ(pthread_create(&th, NULL, abort_main, &a), 0);
		while ((ret = tree_scan_next(s, &e, &eb)) == 1) {
			n++;
			entry_release(&e);
		}
		pthread_join(th, NULL);
		CHECK_EQ(ret, -ECANCELED);
		/* d00 .. d09 and their files at most: nothing past the gate */
		CHECK(n <= 10 * 21);
		tree_scan_free(s);
	}
	pthread_cond_destroy(&a.cond);
	pthread_mutex_destroy(&a.lock);
	/* an abort while the walker is blocked on a full queue */
	memset(&so, 0, sizeof(so));
	so.ahead = 2;
	CHECK_EQ(tree_scan_start(t, &so, &s, &eb), 0);
	if (s) {
		CHECK_EQ(tree_scan_next(s, &e, &eb), 1);
		entry_release(&e);
		usleep(10000);  /* the walker fills the queue and waits */
		tree_scan_abort(s);
		while ((ret = tree_scan_next(s, &e, &eb)) == 1)
			entry_release(&e);
		CHECK_EQ(ret, -ECANCELED);
		tree_scan_free(s);
	}
	/* an abort before any read, then free at once */
	CHECK_EQ(tree_scan_start(t, &so, &s, &eb), 0);
	tree_scan_abort(s);
	tree_scan_free(s);
	tree_free(t);
}

/* e as a scan returned it: tree_open_file's fd has its bytes, the stat
 * and mtime are the entry's, and live says whose file it is */
static void check_read(struct tree_scan *s, const struct entry *e,
		       const char *want, bool live)
{
	struct errbuf eb = ERRBUF_INIT;
	struct tree_file f;
	char buf[64];
	ssize_t n;

	CHECK_EQ(tree_open_file(s, e, 0, &f, &eb), 0);
	if (f.fd < 0) {
		fprintf(stderr, "read: %s\n", eb.msg);
		return;
	}
	n = read(f.fd, buf, sizeof(buf));
	CHECK_EQ(n, (ssize_t)strlen(want));
	CHECK(n >= 0 && !memcmp(buf, want, (size_t)n));
	CHECK_EQ(f.st.st_size, (off_t)strlen(want));
	CHECK_EQ(f.live, live);
	CHECK(f.has_mtime);
	CHECK_EQ(f.mtime_ns, e->mtime_ns);
	close(f.fd);
}

static void test_local_read(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct tree_scan_opts so;
	struct tree *t = NULL;
	struct tree_scan *s = NULL;
	struct entry e = ENTRY_INIT;
	struct tree_file f;
	struct tree_meta m;
	char p[256];
	int ret;

	CHECK_EQ(tree_open(root, NULL, NULL, false, &t, &eb), 0);
	memset(&so, 0, sizeof(so));
	so.ahead = 16;
	CHECK_EQ(tree_scan_start(t, &so, &s, &eb), 0);
	if (!s) {
		tree_free(t);
		return;
	}
	while ((ret = tree_scan_next(s, &e, &eb)) == 1 &&
	       strcmp(e.name, "d00/f01"))
		entry_release(&e);
	CHECK_EQ(ret, 1);
	check_read(s, &e, "d00/f01", true);
	/* a file system's scan carries all there is: nothing to look up */
	CHECK_ERR(tree_file_meta(t, &e, &m, &eb), EOPNOTSUPP);
	CHECK(strstr(eb.msg, root) != NULL);
	errbuf_clear(&eb);
	/* and a tree_writer writes it: tree_put and tree_remove refuse,
	 * naming the file, and touch nothing */
	CHECK_ERR(tree_put(t, &e, 0, 0, NULL, NULL, NULL, &eb), EOPNOTSUPP);
	CHECK(strstr(eb.msg, "d00/f01") != NULL);
	errbuf_clear(&eb);
	CHECK_ERR(tree_remove(t, &e, &eb), EOPNOTSUPP);
	CHECK(strstr(eb.msg, "d00/f01") != NULL);
	errbuf_clear(&eb);
	check_read(s, &e, "d00/f01", true);
	/* a fifo where the file was: refused at once, naming it */
	snprintf(p, sizeof(p), "%s/d00/f01", root);
	CHECK_EQ(unlink(p), 0);
	CHECK_EQ(mkfifo(p, 0644), 0);
	CHECK_ERR(tree_open_file(s, &e, 0, &f, &eb), EINVAL);
	CHECK(strstr(eb.msg, p) != NULL);
	fprintf(stderr, "expected error: %s\n", eb.msg);
	/* gone */
	CHECK_EQ(unlink(p), 0);
	CHECK_ERR(tree_open_file(s, &e, 0, &f, &eb), ENOENT);
	CHECK(strstr(eb.msg, p) != NULL);
	put_file("d00/f01", "d00/f01");
	entry_release(&e);
	tree_scan_free(s);
	tree_free(t);
}

static void test_local_missing(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct tree_scan_opts so;
	struct tree *t = NULL;
	struct tree_scan *s = NULL;
	struct entry e = ENTRY_INIT;
	char missing[128];

	snprintf(missing, sizeof(missing), "%s/no/such", root);
	CHECK_EQ(tree_open(missing, NULL, NULL, false, &t, &eb), 0);
	if (!t)
		return;
	memset(&so, 0, sizeof(so));
	CHECK_ERR(tree_scan_start(t, &so, &s, &eb), ENOENT);
	CHECK(s == NULL);
	CHECK(strstr(eb.msg, missing) != NULL);
	errbuf_clear(&eb);
	so.scan.missing_root_ok = true;
	so.ahead = 8;
	CHECK_EQ(tree_scan_start(t, &so, &s, &eb), 0);
	CHECK_EQ(tree_scan_rootfd(s), -1);
	if (s)
		CHECK_EQ(tree_scan_next(s, &e, &eb), 0);
	tree_scan_free(s);
	tree_free(t);
}

static int put_object(struct tree *t, const char *name, const char *text,
		      int64_t mtime_ns)
{
	struct errbuf eb = ERRBUF_INIT;
	struct entry e = ENTRY_INIT;
	FILE *f = tmpfile();
	int ret;

	fputs(text, f);
	fflush(f);
	entry_set_name(&e, name, strlen(name));
	e.type = ENTRY_FILE;
	e.size = strlen(text);
	e.mtime_ns = mtime_ns;
	ret = tree_put(t, &e, fileno(f), e.size, NULL, NULL, NULL, &eb);
	if (ret < 0)
		fprintf(stderr, "put %s: %s\n", name, eb.msg);
	entry_release(&e);
	fclose(f);
	return ret;
}

static void test_store(const char *scheme, const char *opts, bool lists_mtime)
{
	struct errbuf eb = ERRBUF_INIT;
	struct engine_opts o;
	struct tree_scan_opts so;
	struct tree *t = NULL;
	struct tree_scan *s = NULL;
	struct entry e = ENTRY_INIT;
	struct tree_meta m;
	struct hasher *h = NULL;
	struct objid md5;
	const char *names[] = { "a/b", "a0", "z" };
	const int64_t mtime = 1500000000123456789LL;
	char url[128];
	uint64_t files = 0;
	int i;

	memset(&o, 0, sizeof(o));
	engine_opts_defaults(&o);
	o.retries = 1;
	snprintf(url, sizeof(url), "%s://snaptree-%d/pre", scheme,
		 (int)getpid());
	/* a destination in a missing bucket: refused, naming it */
	CHECK_ERR(tree_open(url, opts, &o, true, &t, &eb), ENOENT);
	CHECK(t == NULL);
	CHECK(strstr(eb.msg, "--create-bucket") != NULL);
	errbuf_clear(&eb);
	o.create_bucket = true;
	CHECK_EQ(tree_open(url, opts, &o, true, &t, &eb), 0);
	if (!t)
		return;
	CHECK_EQ(hasher_new(&h, &eb), 0);
	CHECK_EQ(tree_caps(t), lists_mtime ? TREE_CAP_LISTS_MTIME : 0u);
	CHECK(strncmp(tree_root(t), url, strlen(scheme)) == 0);
	CHECK(tree_objstore(t) != NULL);
	for (i = 2; i >= 0; i--)
		CHECK_EQ(put_object(t, names[i], names[i], mtime + i), 0);
	memset(&so, 0, sizeof(so));
	so.scan.files_scanned = &files;
	CHECK_EQ(tree_scan_start(t, &so, &s, &eb), 0);
	if (!s || !h) {
		tree_scan_free(s);
		hasher_free(h);
		tree_free(t);
		return;
	}
	CHECK_EQ(tree_scan_rootfd(s), -1);
	for (i = 0; i < 3; i++) {
		CHECK_EQ(tree_scan_next(s, &e, &eb), 1);
		CHECK_STREQ(e.name, names[i]);
		CHECK_EQ(e.type, ENTRY_FILE);
		CHECK_EQ(e.size, strlen(names[i]));
		/* the mtime metadata when listed, else Last-Modified */
		CHECK_EQ(e.upload_mtime, !lists_mtime);
		if (lists_mtime)
			CHECK_EQ(e.mtime_ns, mtime + i);
		CHECK_EQ(tree_scan_xattrs(s, XATTR_NS_USER, &e, &eb), 0);
		CHECK(!e.xattrs_known);
		/* what the listing left out: the mtime metadata (HEAD) */
		memset(&m, 0xff, sizeof(m));
		CHECK_EQ(tree_file_meta(t, &e, &m, &eb), 0);
		CHECK(m.has_mtime);
		CHECK_EQ(m.mtime_ns, mtime + i);
		/* a single PUT's MD5, when the store says it, is the
		 * content's */
		CHECK_EQ(hasher_digest(h, names[i], strlen(names[i]), &md5,
				       &eb), 0);
		CHECK(!m.has_md5 || objid_eq(&m.md5, &md5));
		/* downloaded into a private temp, with its mtime metadata */
		if (!lists_mtime)
			e.mtime_ns = mtime + i;
		check_read(s, &e, names[i], false);
		entry_release(&e);
	}
	CHECK_EQ(tree_scan_next(s, &e, &eb), 0);
	CHECK_EQ(files, 3);
	tree_scan_free(s);
	/* an object that is gone: -ENOENT */
	entry_init(&e);
	e.name = (char *)"gone";
	e.name_len = 4;
	e.type = ENTRY_FILE;
	CHECK_ERR(tree_file_meta(t, &e, &m, &eb), ENOENT);
	errbuf_clear(&eb);
	/* removed: gone from the listing; a missing one is no error */
	CHECK_EQ(tree_remove(t, &e, &eb), 0);
	e.name = (char *)names[1];
	e.name_len = strlen(names[1]);
	CHECK_EQ(tree_remove(t, &e, &eb), 0);
	CHECK_ERR(tree_file_meta(t, &e, &m, &eb), ENOENT);
	errbuf_clear(&eb);
	CHECK_EQ(tree_scan_start(t, &so, &s, &eb), 0);
	if (s) {
		CHECK_EQ(tree_scan_next(s, &e, &eb), 1);
		CHECK_STREQ(e.name, names[0]);
		entry_release(&e);
		CHECK_EQ(tree_scan_next(s, &e, &eb), 1);
		CHECK_STREQ(e.name, names[2]);
		entry_release(&e);
		CHECK_EQ(tree_scan_next(s, &e, &eb), 0);
		tree_scan_free(s);
	}
	/* a listing stopped from outside: next fails, not "the end" */
	CHECK_EQ(tree_scan_start(t, &so, &s, &eb), 0);
	if (s) {
		tree_scan_abort(s);
		CHECK_ERR(tree_scan_next(s, &e, &eb), ECANCELED);
		CHECK(strstr(eb.msg, "stopped") != NULL);
		tree_scan_free(s);
	}
	hasher_free(h);
	tree_free(t);
}

int main(void)
{
	char opts[1024], cmd[128];

	strcpy(root, "/tmp/snap-test-tree-XXXXXX");
	if (!mkdtemp(root))
		return 1;
	build();
	RUN_TEST(test_local_scan);
	RUN_TEST(test_local_rootfd);
	RUN_TEST(test_local_abort);
	RUN_TEST(test_local_read);
	RUN_TEST(test_local_missing);
	if (test_failures) {
		/* before server_ensure, which exits 77 (a skip) when a
		 * server cannot start */
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", root);
		return test_finish();
	}

	server_ensure("s3rver", "SNAP_S3RVER_ENDPOINT", "SNAP_S3RVER_STATE",
		      "");
	snprintf(opts, sizeof(opts),
		 "{\"endpoint_url\": \"%s\", \"key\": \"%s\", \"secret\": "
		 "\"%s\"}", getenv("SNAP_S3RVER_ENDPOINT"),
		 getenv("SNAP_S3RVER_KEY"), getenv("SNAP_S3RVER_SECRET"));
	fprintf(stderr, "== s3rver\n");
	test_store("s3", opts, false);
	server_ensure("azurite", "SNAP_AZURITE_CONNECTION_STRING",
		      "SNAP_AZURITE_STATE", "");
	snprintf(opts, sizeof(opts), "{\"connection_string\": \"%s\"}",
		 getenv("SNAP_AZURITE_CONNECTION_STRING"));
	fprintf(stderr, "== azurite\n");
	test_store("az", opts, true);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", root);
	return test_finish();
}
