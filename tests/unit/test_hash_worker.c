/* test_hash_worker: the hash stage's per-thread engine
 * (engine/hash/hash_worker.h) on real files: MD5s against OpenSSL and
 * md5sum, refreshed metadata, heap objects and counters, stale scan
 * records, missing files, symlinks and a file that grows while read, and
 * large files side by side in the lanes (hash_worker_run_lanes). Run with
 * the sync backend and with AUTO (io_uring where it works). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "entry.h"
#include "hash_worker.h"
#include "heap.h"
#include "objid.h"
#include "test.h"

#define KIB 1024
#define MIB (1024 * 1024)

static char base_dir[64];
static int run_no;
/* the --md5 the workers of run_all use */
static enum md5_impl md5_choice;

#define RUN_TEST_BE(fn)                                                    \
	do {                                                               \
		int before_ = test_failures;                               \
		fn(be);                                                    \
		fprintf(stderr, "%s %s(%s)\n",                             \
			test_failures == before_ ? "ok  " : "FAIL", #fn,   \
			label);                                            \
	} while (0)

/* Deterministic content: byte i of a file with seed s. */
static uint8_t pat(uint64_t i, unsigned s)
{
	return (uint8_t)((i * 2654435761u) >> 13 ^ (i >> 9) ^ s * 77u);
}

static void fill(uint8_t *buf, size_t len, uint64_t off, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pat(off + i, seed);
}

/* MD5 of the first len bytes of pattern seed. */
static void md5_pat(uint64_t len, unsigned seed, struct objid *out)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	static uint8_t buf[256 * KIB];
	uint64_t off = 0;
	unsigned int n = 0;

	if (!c || !EVP_DigestInit_ex(c, EVP_md5(), NULL))
		exit(1);
	while (off < len) {
		size_t k = len - off < sizeof(buf) ? (size_t)(len - off) :
						     sizeof(buf);

		fill(buf, k, off, seed);
		EVP_DigestUpdate(c, buf, k);
		off += k;
	}
	if (!EVP_DigestFinal_ex(c, out->b, &n) || n != 16)
		exit(1);
	EVP_MD_CTX_free(c);
}

/* MD5 of everything readable from fd; *len_out gets the length. */
static int md5_fd(int fd, struct objid *out, uint64_t *len_out)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	static uint8_t buf[256 * KIB];
	unsigned int n = 0;
	uint64_t total = 0;
	ssize_t r;

	if (!c || !EVP_DigestInit_ex(c, EVP_md5(), NULL))
		exit(1);
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		EVP_DigestUpdate(c, buf, (size_t)r);
		total += (uint64_t)r;
	}
	if (!EVP_DigestFinal_ex(c, out->b, &n) || n != 16)
		exit(1);
	EVP_MD_CTX_free(c);
	*len_out = total;
	return r < 0 ? -1 : 0;
}

/* md5sum's opinion, as 32 hex digits. */
static int md5sum_of(const char *path, char hex[33])
{
	char cmd[600], line[128];
	FILE *p;
	int ok;

	snprintf(cmd, sizeof(cmd), "md5sum '%s'", path);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	ok = fgets(line, sizeof(line), p) != NULL && strlen(line) > 32;
	if (pclose(p) != 0 || !ok)
		return -1;
	memcpy(hex, line, 32);
	hex[32] = '\0';
	return 0;
}

/* Write len bytes of pattern seed (from offset off) to dir/name. */
static int write_pat(int dirfd, const char *name, uint64_t len, unsigned seed,
		     bool append)
{
	static uint8_t buf[256 * KIB];
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC |
			(append ? O_APPEND : O_TRUNC), 0644);
	struct stat st;
	uint64_t off = 0, done = 0;

	if (fd < 0)
		return -1;
	if (append) {
		if (fstat(fd, &st)) {
			close(fd);
			return -1;
		}
		off = (uint64_t)st.st_size;
	}
	while (done < len) {
		size_t k = len - done < sizeof(buf) ? (size_t)(len - done) :
						      sizeof(buf);

		fill(buf, k, off + done, seed);
		if (write(fd, buf, k) != (ssize_t)k) {
			close(fd);
			return -1;
		}
		done += k;
	}
	return close(fd);
}

struct tree {
	char root[128];
	char heap_root[160];
	int rootfd;
	struct heap *heap;
};

static int tree_open(struct tree *t, const char *tag, bool with_heap)
{
	struct errbuf eb = ERRBUF_INIT;

	snprintf(t->root, sizeof(t->root), "%s/%s-%d", base_dir, tag,
		 run_no);
	snprintf(t->heap_root, sizeof(t->heap_root), "%s/%s-%d.heap",
		 base_dir, tag, run_no);
	run_no++;
	t->heap = NULL;
	if (mkdir(t->root, 0755))
		return -1;
	t->rootfd = open(t->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->rootfd < 0)
		return -1;
	if (with_heap && heap_open(t->heap_root, true, &t->heap, &eb) < 0) {
		fprintf(stderr, "%s\n", eb.msg);
		close(t->rootfd);
		return -1;
	}
	return 0;
}

static void tree_close(struct tree *t)
{
	heap_free(t->heap);
	close(t->rootfd);
}

/* An entry as the scanner would make it: name, type, size, mtime. */
static struct entry *scan_entry(int rootfd, const char *name)
{
	struct entry *e = entry_new();
	struct stat st;

	if (!e || entry_set_name(e, name, strlen(name)) < 0)
		exit(1);
	e->type = ENTRY_FILE;
	e->mode = 0644;
	if (fstatat(rootfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		e->size = (uint64_t)st.st_size;
		e->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL +
			      st.st_mtim.tv_nsec;
		e->ino = st.st_ino;
	}
	return e;
}

static void free_entries(struct entry **items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		entry_free(items[i]);
}

static int count_prefix(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (!strncmp(de->d_name, prefix, strlen(prefix)))
			n++;
	closedir(d);
	return n;
}

/* The heap object named id: its bytes hash to id and number size. */
static void check_object(struct heap *h, const struct objid *id,
			 uint64_t size)
{
	struct errbuf eb = ERRBUF_INIT;
	struct objid got;
	uint64_t len = 0;
	int fd = -1;

	CHECK_EQ(heap_open_object(h, id, &fd, &eb), 0);
	if (fd < 0) {
		fprintf(stderr, "%s\n", eb.msg);
		return;
	}
	CHECK_EQ(md5_fd(fd, &got, &len), 0);
	close(fd);
	CHECK(objid_eq(&got, id));
	CHECK_EQ(len, size);
}

static struct hash_worker *new_worker(enum io_backend be)
{
	struct errbuf eb = ERRBUF_INIT;
	struct hash_worker *w = NULL;

	if (hash_worker_new(be, md5_choice, &w, &eb) < 0) {
		fprintf(stderr, "hash_worker_new: %s\n", eb.msg);
		return NULL;
	}
	return w;
}

struct spec {
	const char *name;
	uint64_t size;
	unsigned seed;
};

static const struct spec mix[] = {
	{ "empty", 0, 1 },
	{ "one", 1, 2 },
	{ "exact", HASH_SMALL_MAX, 3 },
	{ "plus1", HASH_SMALL_MAX + 1, 4 },
	{ "big", 5 * MIB, 5 },
	{ "sub/dir/mid", 100000, 6 },
	{ "one-again", 1, 2 },           /* same content as "one" */
	{ "big-again", 5 * MIB, 5 },     /* same content as "big" */
	{ "sub/chunk", HASH_CHUNK, 7 },  /* exactly one stream chunk */
};
#define NMIX (sizeof(mix) / sizeof(mix[0]))
#define NMIX_DISTINCT (NMIX - 2)

static uint64_t mix_total(bool distinct_only)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < NMIX; i++)
		if (!distinct_only || (strcmp(mix[i].name, "one-again") &&
				       strcmp(mix[i].name, "big-again")))
			sum += mix[i].size;
	return sum;
}

static void make_mix(struct tree *t)
{
	size_t i;

	CHECK_EQ(mkdirat(t->rootfd, "sub", 0755), 0);
	CHECK_EQ(mkdirat(t->rootfd, "sub/dir", 0755), 0);
	for (i = 0; i < NMIX; i++)
		CHECK_EQ(write_pat(t->rootfd, mix[i].name, mix[i].size,
				   mix[i].seed, false), 0);
}

static void scan_mix(struct tree *t, struct entry **items)
{
	size_t i;

	for (i = 0; i < NMIX; i++)
		items[i] = scan_entry(t->rootfd, mix[i].name);
}

static void test_mix(enum io_backend be)
{
	struct errbuf eb = ERRBUF_INIT;
	struct run_stats stats;
	struct entry *items[NMIX];
	struct hash_worker *w = new_worker(be);
	struct tree t;
	size_t i;
	int ret;

	CHECK(w != NULL);
	if (!w || tree_open(&t, "mix", true)) {
		CHECK(0);
		hash_worker_free(w);
		return;
	}
	make_mix(&t);

	/* hash only */
	scan_mix(&t, items);
	for (i = 0; i < NMIX; i++) {
		/* metadata the worker must refresh from what it read */
		items[i]->mode = 0;
		items[i]->ino = 0;
		items[i]->ctime_ns = 0;
	}
	memset(&stats, 0, sizeof(stats));
	ret = hash_worker_run(w, t.rootfd, t.root, items, NMIX, NULL, &stats,
			      &eb);
	CHECK_EQ(ret, 0);
	if (ret)
		fprintf(stderr, "%s\n", eb.msg);
	for (i = 0; i < NMIX; i++) {
		struct objid want;
		struct stat st;

		md5_pat(mix[i].size, mix[i].seed, &want);
		CHECK(items[i]->has_md5);
		if (!objid_eq(&items[i]->md5, &want))
			fprintf(stderr, "wrong md5 for %s\n", mix[i].name);
		CHECK(objid_eq(&items[i]->md5, &want));
		CHECK_EQ(items[i]->size, mix[i].size);
		CHECK_EQ(fstatat(t.rootfd, mix[i].name, &st,
				 AT_SYMLINK_NOFOLLOW), 0);
		CHECK_EQ(items[i]->ino, st.st_ino);
		CHECK_EQ(items[i]->mode, st.st_mode & 07777);
		CHECK_EQ(items[i]->mtime_ns,
			 (int64_t)st.st_mtim.tv_sec * 1000000000LL +
				 st.st_mtim.tv_nsec);
		CHECK_EQ(items[i]->ctime_ns,
			 (int64_t)st.st_ctim.tv_sec * 1000000000LL +
				 st.st_ctim.tv_nsec);
		CHECK_EQ(items[i]->type, ENTRY_FILE);
	}
	/* md5sum agrees (independent implementation) */
	for (i = 0; i < NMIX; i++) {
		char path[256], hex[33], got[33];

		if (mix[i].size != 0 && mix[i].size != HASH_SMALL_MAX &&
		    mix[i].size != HASH_SMALL_MAX + 1 && mix[i].size != 5 * MIB)
			continue;
		snprintf(path, sizeof(path), "%s/%s", t.root, mix[i].name);
		CHECK_EQ(md5sum_of(path, hex), 0);
		objid_to_hex(&items[i]->md5, got);
		CHECK_STREQ(got, hex);
	}
	CHECK_EQ(stats.files_hashed, NMIX);
	CHECK_EQ(stats.bytes_read, mix_total(false));
	CHECK_EQ(stats.heap_objects_written, 0);
	CHECK_EQ(stats.heap_objects_present, 0);
	free_entries(items, NMIX);

	/* with a heap: every distinct content written once */
	scan_mix(&t, items);
	memset(&stats, 0, sizeof(stats));
	errbuf_clear(&eb);
	ret = hash_worker_run(w, t.rootfd, t.root, items, NMIX, t.heap,
			      &stats, &eb);
	CHECK_EQ(ret, 0);
	if (ret)
		fprintf(stderr, "%s\n", eb.msg);
	CHECK_EQ(stats.files_hashed, NMIX);
	CHECK_EQ(stats.heap_objects_written, NMIX_DISTINCT);
	CHECK_EQ(stats.heap_objects_present, NMIX - NMIX_DISTINCT);
	CHECK_EQ(stats.bytes_read, mix_total(false));
	CHECK_EQ(stats.bytes_written, mix_total(true));
	for (i = 0; i < NMIX; i++) {
		struct objid want;

		md5_pat(mix[i].size, mix[i].seed, &want);
		CHECK(items[i]->has_md5 && objid_eq(&items[i]->md5, &want));
		CHECK_EQ(heap_has(t.heap, &want, &eb), 1);
		check_object(t.heap, &items[i]->md5, mix[i].size);
	}
	CHECK_EQ(count_prefix(t.heap_root, ".tmp-"), 0);
	free_entries(items, NMIX);

	/* again: everything is present already */
	scan_mix(&t, items);
	memset(&stats, 0, sizeof(stats));
	ret = hash_worker_run(w, t.rootfd, t.root, items, NMIX, t.heap,
			      &stats, &eb);
	CHECK_EQ(ret, 0);
	CHECK_EQ(stats.files_hashed, NMIX);
	CHECK_EQ(stats.heap_objects_written, 0);
	CHECK_EQ(stats.heap_objects_present, NMIX);
	CHECK_EQ(stats.bytes_written, 0);
	CHECK_EQ(count_prefix(t.heap_root, ".tmp-"), 0);
	free_entries(items, NMIX);

	/* an empty batch */
	memset(&stats, 0, sizeof(stats));
	CHECK_EQ(hash_worker_run(w, t.rootfd, t.root, items, 0, t.heap,
				 &stats, &eb), 0);
	CHECK_EQ(stats.files_hashed, 0);
	tree_close(&t);
	hash_worker_free(w);
}

/* More small files than one batch holds, and more bytes than the arena:
 * the worker splits them; every md5 is still right. */
static void test_many_small(enum io_backend be)
{
	enum { NSMALL = 150, NMID = 20 };
	struct entry *items[NSMALL + NMID];
	struct errbuf eb = ERRBUF_INIT;
	struct hash_worker *w = new_worker(be);
	struct run_stats stats;
	struct tree t;
	uint64_t total = 0;
	size_t i, n = 0;
	int ret, bad = 0;

	CHECK(w != NULL);
	if (!w || tree_open(&t, "many", true)) {
		CHECK(0);
		hash_worker_free(w);
		return;
	}
	for (i = 0; i < NSMALL + NMID; i++) {
		char name[32];
		uint64_t size = i < NSMALL ? (i * 37) % 3001 : 200 * KIB + i;

		snprintf(name, sizeof(name), "f%03zu", i);
		CHECK_EQ(write_pat(t.rootfd, name, size, (unsigned)i, false),
			 0);
		items[n++] = scan_entry(t.rootfd, name);
		total += size;
	}
	memset(&stats, 0, sizeof(stats));
	ret = hash_worker_run(w, t.rootfd, t.root, items, n, t.heap, &stats,
			      &eb);
	CHECK_EQ(ret, 0);
	if (ret)
		fprintf(stderr, "%s\n", eb.msg);
	for (i = 0; i < n; i++) {
		struct objid want;

		md5_pat(items[i]->size, (unsigned)i, &want);
		if (!items[i]->has_md5 || !objid_eq(&items[i]->md5, &want))
			bad++;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(stats.files_hashed, n);
	CHECK_EQ(stats.bytes_read, total);
	CHECK_EQ(stats.heap_objects_written + stats.heap_objects_present, n);
	free_entries(items, n);
	tree_close(&t);
	hash_worker_free(w);
}

/* A worker's share of the open-files limit: a quarter of it divided among
 * the workers and by the fds per file, between 1 and the maximum asked;
 * no limit: the maximum. */
static void test_fd_share(void)
{
	struct rlimit old, rl;

	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
	rl = old;
	rl.rlim_cur = 256;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
	CHECK_EQ(hash_fd_share(16, 1, HASH_BATCH_MAX), 4u);
	CHECK_EQ(hash_fd_share(16, 2, HASH_LANE_WINDOW_MAX), 2u);
	CHECK_EQ(hash_lane_window(16, 2), 2u);
	CHECK_EQ(hash_fd_share(1000, 1, HASH_BATCH_MAX), 1u);
	CHECK_EQ(hash_fd_share(0, 0, HASH_BATCH_MAX), HASH_BATCH_MAX);
	rl.rlim_cur = 1024 < old.rlim_max ? 1024 : old.rlim_max;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur == 1024)
		CHECK_EQ(hash_fd_share(4, 1, HASH_BATCH_MAX), 64u);
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
}

/* A batch read with one file open at a time (the share of one worker of
 * many under a low limit) hashes every file as a whole batch does. */
static void test_one_open(enum io_backend be)
{
	enum { N = 100 };
	struct entry *items[N];
	struct errbuf eb = ERRBUF_INIT;
	struct hash_worker *w = new_worker(be);
	struct run_stats stats;
	struct rlimit old, rl;
	struct tree t;
	size_t i;
	int ret, bad = 0;

	CHECK(w != NULL);
	if (!w || tree_open(&t, "one_open", true)) {
		CHECK(0);
		hash_worker_free(w);
		return;
	}
	for (i = 0; i < N; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%03zu", i);
		CHECK_EQ(write_pat(t.rootfd, name, i * 41 % 5000,
				   (unsigned)i, false), 0);
		items[i] = scan_entry(t.rootfd, name);
	}
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
	rl = old;
	rl.rlim_cur = 256;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
	hash_worker_share_fds(w, 1000);  /* 256 / 4 / 1000: 1 */
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
	memset(&stats, 0, sizeof(stats));
	ret = hash_worker_run(w, t.rootfd, t.root, items, N, t.heap, &stats,
			      &eb);
	CHECK_EQ(ret, 0);
	if (ret)
		fprintf(stderr, "%s\n", eb.msg);
	for (i = 0; i < N; i++) {
		struct objid want;

		md5_pat(items[i]->size, (unsigned)i, &want);
		if (!items[i]->has_md5 || !objid_eq(&items[i]->md5, &want))
			bad++;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(stats.files_hashed, N);
	free_entries(items, N);
	tree_close(&t);
	hash_worker_free(w);
}

/* Records from a scan that is out of date: the md5 and size describe the
 * file as it is now. */
static void test_stale(enum io_backend be)
{
	static const struct {
		const char *name;
		uint64_t recorded, now;
		bool rewrite;      /* same size, new content */
	} cases[] = {
		{ "grew", 1000, 1500, false },
		{ "shrank", 5000, 100, false },
		{ "grew-large", 10, 400 * KIB, false },
		{ "large-shrank", 600 * KIB, 50, false },
		{ "large-grew", 300 * KIB, 2 * MIB + 3, false },
		{ "same-size", 4096, 4096, true },
		{ "emptied", 777, 0, false },
	};
	enum { NC = sizeof(cases) / sizeof(cases[0]) };
	struct entry *items[NC];
	struct errbuf eb = ERRBUF_INIT;
	struct hash_worker *w = new_worker(be);
	struct run_stats stats;
	struct tree t;
	size_t i;
	int ret;

	CHECK(w != NULL);
	if (!w || tree_open(&t, "stale", true)) {
		CHECK(0);
		hash_worker_free(w);
		return;
	}
	for (i = 0; i < NC; i++) {
		CHECK_EQ(write_pat(t.rootfd, cases[i].name, cases[i].recorded,
				   11, false), 0);
		items[i] = scan_entry(t.rootfd, cases[i].name);
		CHECK_EQ(items[i]->size, cases[i].recorded);
	}
	/* the tree changes after the scan */
	for (i = 0; i < NC; i++) {
		if (cases[i].rewrite) {
			struct timespec ts[2] = { { 0, UTIME_OMIT },
						  { 1000, 0 } };

			CHECK_EQ(write_pat(t.rootfd, cases[i].name,
					   cases[i].now, 12, false), 0);
			/* a different mtime, as a real rewrite would have */
			CHECK_EQ(utimensat(t.rootfd, cases[i].name, ts, 0), 0);
		} else if (cases[i].now > cases[i].recorded) {
			CHECK_EQ(write_pat(t.rootfd, cases[i].name,
					   cases[i].now - cases[i].recorded,
					   11, true), 0);
		} else {
			char p[300];

			snprintf(p, sizeof(p), "%s/%s", t.root, cases[i].name);
			CHECK_EQ(truncate(p, (off_t)cases[i].now), 0);
		}
	}
	memset(&stats, 0, sizeof(stats));
	ret = hash_worker_run(w, t.rootfd, t.root, items, NC, t.heap, &stats,
			      &eb);
	CHECK_EQ(ret, 0);
	if (ret)
		fprintf(stderr, "%s\n", eb.msg);
	for (i = 0; i < NC; i++) {
		struct objid want;

		md5_pat(cases[i].now, cases[i].rewrite ? 12 : 11, &want);
		if (!objid_eq(&items[i]->md5, &want))
			fprintf(stderr, "stale %s: wrong md5\n",
				cases[i].name);
		CHECK(items[i]->has_md5);
		CHECK(objid_eq(&items[i]->md5, &want));
		CHECK_EQ(items[i]->size, cases[i].now);
		check_object(t.heap, &items[i]->md5, cases[i].now);
	}
	CHECK_EQ(stats.files_hashed, NC);
	CHECK_EQ(count_prefix(t.heap_root, ".tmp-"), 0);
	free_entries(items, NC);
	tree_close(&t);
	hash_worker_free(w);
}

static void expect_error(struct hash_worker *w, struct tree *t,
			 const char *name, uint64_t recorded, int err_a,
			 int err_b)
{
	struct errbuf eb = ERRBUF_INIT;
	struct run_stats stats;
	struct entry *e = scan_entry(t->rootfd, name);
	int ret;

	e->size = recorded;
	memset(&stats, 0, sizeof(stats));
	ret = hash_worker_run(w, t->rootfd, t->root, &e, 1, t->heap, &stats,
			      &eb);
	if (ret != -err_a && ret != -err_b)
		fprintf(stderr, "%s (recorded %llu): got %d '%s'\n", name,
			(unsigned long long)recorded, ret, eb.msg);
	CHECK(ret == -err_a || ret == -err_b);
	CHECK_EQ(eb.code, ret);
	/* the message names the file, with its root */
	CHECK(strstr(eb.msg, name) != NULL);
	CHECK(strstr(eb.msg, t->root) != NULL);
	if (!strstr(eb.msg, name) || !strstr(eb.msg, t->root))
		fprintf(stderr, "message for %s: '%s'\n", name, eb.msg);
	CHECK(!e->has_md5);
	CHECK_EQ(stats.files_hashed, 0);
	entry_free(e);
}

static void expect_vanished(struct hash_worker *w, struct tree *t,
			    const char *name, uint64_t recorded)
{
	struct errbuf eb = ERRBUF_INIT;
	struct run_stats stats;
	struct entry *e = scan_entry(t->rootfd, name);
	int ret;

	e->size = recorded;
	memset(&stats, 0, sizeof(stats));
	ret = hash_worker_run(w, t->rootfd, t->root, &e, 1, t->heap, &stats,
			      &eb);
	CHECK_EQ(ret, 0);
	CHECK_EQ(eb.code, 0);
	CHECK(!e->has_md5);
	CHECK_EQ(stats.files_hashed, 0);
	entry_free(e);
}

static void test_errors(enum io_backend be)
{
	struct hash_worker *w = new_worker(be);
	struct tree t;

	CHECK(w != NULL);
	if (!w || tree_open(&t, "errors", true)) {
		CHECK(0);
		hash_worker_free(w);
		return;
	}
	CHECK_EQ(write_pat(t.rootfd, "target", 5000, 1, false), 0);
	CHECK_EQ(symlinkat("target", t.rootfd, "lnk"), 0);
	CHECK_EQ(mkdirat(t.rootfd, "adir", 0755), 0);

	/* missing (deleted since the scan): left out, not an error */
	expect_vanished(w, &t, "missing-small", 10);
	expect_vanished(w, &t, "missing-large", 8 * MIB);
	/* a symlink where a file was recorded */
	expect_error(w, &t, "lnk", 5000, ELOOP, ELOOP);
	expect_error(w, &t, "lnk", 3 * MIB, ELOOP, ELOOP);
	/* a directory where a file was recorded */
	expect_error(w, &t, "adir", 10, EISDIR, EISDIR);
	expect_error(w, &t, "adir", 3 * MIB, EISDIR, EISDIR);

	/* a vanished item in the middle of a batch: the others are hashed,
	 * it is marked as left out */
	{
		struct errbuf eb = ERRBUF_INIT;
		struct run_stats stats;
		struct entry *items[3];
		int ret;

		items[0] = scan_entry(t.rootfd, "target");
		items[1] = scan_entry(t.rootfd, "gone");
		items[1]->size = 3;
		items[2] = scan_entry(t.rootfd, "target");
		memset(&stats, 0, sizeof(stats));
		ret = hash_worker_run(w, t.rootfd, t.root, items, 3, t.heap,
				      &stats, &eb);
		CHECK_EQ(ret, 0);
		CHECK(items[0]->has_md5);
		CHECK(!items[1]->has_md5);
		CHECK(items[2]->has_md5);
		CHECK_EQ(stats.files_hashed, 2);
		free_entries(items, 3);
	}
	/* a failing item in the middle of a batch: the run fails, and the
	 * message names that item */
	{
		struct errbuf eb = ERRBUF_INIT;
		struct run_stats stats;
		struct entry *items[3];
		int ret;

		items[0] = scan_entry(t.rootfd, "target");
		items[1] = scan_entry(t.rootfd, "lnk");
		items[1]->size = 5000;
		items[2] = scan_entry(t.rootfd, "target");
		memset(&stats, 0, sizeof(stats));
		ret = hash_worker_run(w, t.rootfd, t.root, items, 3, t.heap,
				      &stats, &eb);
		CHECK_ERR(ret, ELOOP);
		CHECK(strstr(eb.msg, "lnk") != NULL);
		free_entries(items, 3);
	}
	tree_close(&t);
	hash_worker_free(w);
}

/* A FIFO swapped in where a regular file was recorded must not be stored
 * as an empty file (and must not block). */
static void test_fifo(enum io_backend be)
{
	struct errbuf eb = ERRBUF_INIT;
	struct hash_worker *w = new_worker(be);
	struct run_stats stats;
	struct entry *e;
	struct tree t;
	int ret;

	CHECK(w != NULL);
	if (!w || tree_open(&t, "fifo", false)) {
		CHECK(0);
		hash_worker_free(w);
		return;
	}
	CHECK_EQ(mkfifoat(t.rootfd, "pipe", 0644), 0);
	e = scan_entry(t.rootfd, "pipe");
	e->size = 10;
	memset(&stats, 0, sizeof(stats));
	ret = hash_worker_run(w, t.rootfd, t.root, &e, 1, NULL, &stats, &eb);
	if (ret == 0)
		fprintf(stderr, "a FIFO was hashed as a %llu-byte file\n",
			(unsigned long long)e->size);
	CHECK(ret < 0);
	CHECK(!e->has_md5);
	CHECK(ret == 0 || strstr(eb.msg, "pipe") != NULL);
	if (ret < 0)
		fprintf(stderr, "  fifo: %d '%s'\n", ret, eb.msg);
	entry_free(e);
	tree_close(&t);
	hash_worker_free(w);
}

/* A file name longer than PATH_MAX (the worker opens it from its own
 * directory). */
static void test_long_name(enum io_backend be)
{
	static char name[24 * 201 + 32];
	struct errbuf eb = ERRBUF_INIT;
	struct hash_worker *w = new_worker(be);
	struct run_stats stats;
	struct entry *e;
	struct objid want;
	struct tree t;
	size_t len = 0;
	int cur, i, ret;

	CHECK(w != NULL);
	if (!w || tree_open(&t, "longname", true)) {
		CHECK(0);
		hash_worker_free(w);
		return;
	}
	cur = dup(t.rootfd);
	for (i = 0; i < 22 && cur >= 0; i++) {
		char comp[201];
		int fd;

		memset(comp, 'k' + i % 10, 200);
		comp[200] = '\0';
		CHECK_EQ(mkdirat(cur, comp, 0755), 0);
		fd = openat(cur, comp, O_RDONLY | O_DIRECTORY);
		close(cur);
		cur = fd;
		memcpy(name + len, comp, 200);
		len += 200;
		name[len++] = '/';
	}
	CHECK(cur >= 0);
	if (cur < 0)
		goto out;
	CHECK_EQ(write_pat(cur, "leaf", 70000, 9, false), 0);
	close(cur);
	memcpy(name + len, "leaf", 5);
	len += 4;
	CHECK(len > 4096);
	e = entry_new();
	if (!e || entry_set_name(e, name, len) < 0)
		exit(1);
	e->type = ENTRY_FILE;
	e->size = 70000;
	memset(&stats, 0, sizeof(stats));
	ret = hash_worker_run(w, t.rootfd, t.root, &e, 1, t.heap, &stats, &eb);
	CHECK_EQ(ret, 0);
	if (ret)
		fprintf(stderr, "%s\n", eb.msg);
	md5_pat(70000, 9, &want);
	CHECK(e->has_md5 && objid_eq(&e->md5, &want));
	CHECK_EQ(e->size, 70000);
	CHECK_EQ(stats.heap_objects_written, 1);
	check_object(t.heap, &want, 70000);
	entry_free(e);
out:
	tree_close(&t);
	hash_worker_free(w);
}

/* ---- a file that keeps growing while it is read ---- */

struct appender {
	int fd;
	uint64_t start;
	uint64_t limit;        /* bytes to append at most */
	bool paced;
	atomic_int stop;
	atomic_ullong appended;
	int err;
};

static void *append_main(void *arg)
{
	struct appender *a = arg;
	/* paced, so that it spans the whole read (the pace is no threshold:
	 * either outcome of the race is checked) */
	struct timespec pause = { 0, 100 * 1000 };
	static uint8_t buf[16 * KIB];

	while (!atomic_load(&a->stop) &&
	       atomic_load(&a->appended) < a->limit) {
		uint64_t off = a->start + atomic_load(&a->appended);

		fill(buf, sizeof(buf), off, 21);
		if (write(a->fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
			a->err = errno;
			break;
		}
		atomic_fetch_add(&a->appended, sizeof(buf));
		if (a->paced)
			nanosleep(&pause, NULL);
	}
	return NULL;
}

/* Either outcome is right: the md5 of a state the file really had (and
 * the heap object under that name holds exactly those bytes), or -EAGAIN
 * "kept changing". A paced appender spans the whole read (usually
 * -EAGAIN); a short burst usually ends during the first attempt (a retry,
 * then success). */
static void keeps_changing(enum io_backend be, uint64_t limit, bool paced)
{
	struct errbuf eb = ERRBUF_INIT;
	struct hash_worker *w = new_worker(be);
	struct run_stats stats;
	struct appender a;
	struct entry *e;
	struct tree t;
	pthread_t th;
	int ret;

	CHECK(w != NULL);
	if (!w || tree_open(&t, "changing", true)) {
		CHECK(0);
		hash_worker_free(w);
		return;
	}
	CHECK_EQ(write_pat(t.rootfd, "growing", 20 * MIB, 21, false), 0);
	e = scan_entry(t.rootfd, "growing");
	CHECK_EQ(e->size, 20 * MIB);
	memset(&a, 0, sizeof(a));
	a.fd = openat(t.rootfd, "growing", O_WRONLY | O_APPEND | O_CLOEXEC);
	a.start = 20 * MIB;
	a.limit = limit;
	a.paced = paced;
	CHECK(a.fd >= 0);
	if (pthread_create(&th, NULL, append_main, &a))
		exit(1);
	memset(&stats, 0, sizeof(stats));
	ret = hash_worker_run(w, t.rootfd, t.root, &e, 1, t.heap, &stats, &eb);
	atomic_store(&a.stop, 1);
	pthread_join(th, NULL);
	close(a.fd);
	CHECK_EQ(a.err, 0);
	fprintf(stderr, "  growing file: ret %d, size %llu, appended %llu%s%s\n",
		ret, (unsigned long long)e->size,
		(unsigned long long)atomic_load(&a.appended),
		ret ? ", " : "", ret ? eb.msg : "");
	CHECK(ret == 0 || ret == -EAGAIN);
	if (ret == 0) {
		struct objid want;

		/* the md5 is that of the first e->size bytes, and the heap
		 * object under that name holds exactly them */
		CHECK(e->has_md5);
		CHECK(e->size >= 20 * MIB);
		CHECK(e->size <= 20 * MIB + atomic_load(&a.appended));
		md5_pat(e->size, 21, &want);
		CHECK(objid_eq(&e->md5, &want));
		check_object(t.heap, &e->md5, e->size);
	} else if (ret == -EAGAIN) {
		CHECK(strstr(eb.msg, "kept changing") != NULL);
		CHECK(strstr(eb.msg, "growing") != NULL);
		CHECK(!e->has_md5);
		CHECK_EQ(stats.heap_objects_written, 0);
	}
	CHECK_EQ(count_prefix(t.heap_root, ".tmp-"), 0);
	entry_free(e);
	tree_close(&t);
	hash_worker_free(w);
}

static void test_keeps_changing(enum io_backend be)
{
	keeps_changing(be, 16 * MIB, true);
	keeps_changing(be, 512 * KIB, false);
}

/* hash_worker_run_lanes: the source the tests give it. Hands out files[]
 * in order; done records each file's result once; on_next (may be NULL)
 * runs before every call to next (to change a file in the window). */
struct lane_src {
	struct entry **files;
	size_t n, pos;
	int ret[32];
	unsigned done_count[32];
	unsigned next_calls;
	void (*on_next)(struct lane_src *ls);
	int rootfd;
};

static struct entry *lane_next(void *ctx)
{
	struct lane_src *ls = ctx;

	ls->next_calls++;
	if (ls->on_next)
		ls->on_next(ls);
	return ls->pos < ls->n ? ls->files[ls->pos++] : NULL;
}

static void lane_done(void *ctx, struct entry *e, int ret)
{
	struct lane_src *ls = ctx;
	size_t i;

	for (i = 0; i < ls->n; i++) {
		if (ls->files[i] == e) {
			ls->done_count[i]++;
			ls->ret[i] = ret;
			return;
		}
	}
	CHECK(!"done for a file next never gave");
}

static int run_lanes(struct hash_worker *w, struct tree *t,
		     struct lane_src *ls, unsigned window,
		     struct run_stats *stats, struct errbuf *eb)
{
	struct hash_lane_source src = { lane_next, lane_done, ls };

	return hash_worker_run_lanes(w, t->rootfd, t->root, window, &src,
				     t->heap, stats, NULL, eb);
}

/* Large files of unequal lengths (block boundaries, one chunk, many
 * chunks), more than the window holds, one vanished since the scan: every
 * md5 is OpenSSL's, every object is its md5, every file comes back once. */
static void test_lanes(enum io_backend be)
{
	static const uint64_t sizes[] = {
		HASH_SMALL_MAX + 1, HASH_SMALL_MAX + 63, HASH_SMALL_MAX + 64,
		3 * MIB + 55, 256 * KIB * 3, 7 * MIB + 1, 1 * MIB, 2 * MIB - 1,
		5 * MIB + 4095, 300 * KIB,
	};
	enum { N = sizeof(sizes) / sizeof(sizes[0]) };
	struct errbuf eb = ERRBUF_INIT;
	struct run_stats stats;
	struct entry *items[N + 1];
	struct lane_src ls = { .files = items, .n = N + 1 };
	struct hash_worker *w = new_worker(be);
	struct objid want;
	uint64_t total = 0;
	struct tree t;
	char name[32];
	size_t i;

	if (!w || tree_open(&t, "lanes", true))
		exit(1);
	if (!hash_worker_lane_file(w, &(struct entry){
			.type = ENTRY_FILE, .size = HASH_SMALL_MAX + 1,
			.name_len = 1 })) {
		/* --md5 openssl: no lanes, and the call says why */
		CHECK(md5_choice == MD5_IMPL_OPENSSL);
		CHECK_EQ(run_lanes(w, &t, &ls, 4, &stats, &eb), -EINVAL);
		tree_close(&t);
		hash_worker_free(w);
		return;
	}
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "l%zu", i);
		CHECK_EQ(write_pat(t.rootfd, name, sizes[i], 40 + (unsigned)i,
				   false), 0);
		items[i] = scan_entry(t.rootfd, name);
		CHECK(hash_worker_lane_file(w, items[i]));
		total += sizes[i];
	}
	CHECK_EQ(write_pat(t.rootfd, "gone", 400 * KIB, 9, false), 0);
	items[N] = scan_entry(t.rootfd, "gone");
	CHECK_EQ(unlinkat(t.rootfd, "gone", 0), 0);
	memset(&stats, 0, sizeof(stats));
	CHECK_EQ(run_lanes(w, &t, &ls, 4, &stats, &eb), 0);
	for (i = 0; i < N; i++) {
		CHECK_EQ(ls.done_count[i], 1);
		CHECK_EQ(ls.ret[i], 0);
		CHECK(items[i]->has_md5);
		md5_pat(sizes[i], 40 + (unsigned)i, &want);
		CHECK(objid_eq(&items[i]->md5, &want));
		CHECK_EQ(items[i]->size, sizes[i]);
		check_object(t.heap, &items[i]->md5, sizes[i]);
	}
	CHECK_EQ(ls.done_count[N], 1);
	CHECK_EQ(ls.ret[N], 0);
	CHECK(!items[N]->has_md5);
	CHECK_EQ(stats.files_hashed, N);
	CHECK_EQ(stats.heap_objects_written, N);
	CHECK_EQ(stats.bytes_read, total);
	/* one new file per round: more calls than files */
	CHECK(ls.next_calls > N + 1);
	CHECK_EQ(count_prefix(t.heap_root, ".tmp-"), 0);
	free_entries(items, N + 1);
	tree_close(&t);
	hash_worker_free(w);
}

/* A file in the window grows while it is read: it is read again (one
 * stream) and its md5 and object are those of what it holds at the end. */
static void grow_first(struct lane_src *ls)
{
	if (ls->next_calls == 3)
		CHECK_EQ(write_pat(ls->rootfd, "l0", 4096, 60, true), 0);
}

/* A file replaced by a directory just before the window takes it (once
 * open, a replaced file is read as it was: one consistent state): the
 * run fails naming it, and every file given comes back once, the others
 * in the window with the error too. */
static void replace_second(struct lane_src *ls)
{
	if (ls->next_calls == 2) {
		CHECK_EQ(unlinkat(ls->rootfd, "l1", 0), 0);
		CHECK_EQ(mkdirat(ls->rootfd, "l1", 0755), 0);
	}
}

static void test_lanes_change(enum io_backend be)
{
	struct errbuf eb = ERRBUF_INIT;
	struct run_stats stats;
	struct entry *items[3];
	struct lane_src ls = { .files = items, .n = 3 };
	struct hash_worker *w = new_worker(be);
	EVP_MD_CTX *c;
	struct objid want;
	unsigned int dn = 0;
	uint8_t *buf;
	struct tree t;
	size_t i;
	int ret;

	if (!w || tree_open(&t, "lanes-change", true))
		exit(1);
	if (md5_choice == MD5_IMPL_OPENSSL) {
		tree_close(&t);
		hash_worker_free(w);
		return;
	}
	ls.rootfd = t.rootfd;
	CHECK_EQ(write_pat(t.rootfd, "l0", 8 * MIB, 50, false), 0);
	CHECK_EQ(write_pat(t.rootfd, "l1", 6 * MIB, 51, false), 0);
	CHECK_EQ(write_pat(t.rootfd, "l2", 1 * MIB, 52, false), 0);
	for (i = 0; i < 3; i++) {
		char name[8];

		snprintf(name, sizeof(name), "l%zu", i);
		items[i] = scan_entry(t.rootfd, name);
	}
	ls.on_next = grow_first;
	memset(&stats, 0, sizeof(stats));
	CHECK_EQ(run_lanes(w, &t, &ls, 4, &stats, &eb), 0);
	CHECK_EQ(ls.done_count[0], 1);
	CHECK(items[0]->has_md5);
	CHECK_EQ(items[0]->size, 8 * MIB + 4096);
	/* 8 MiB of seed 50, then 4 KiB of seed 60 from offset 8 MiB */
	buf = malloc(8 * MIB + 4096);
	c = EVP_MD_CTX_new();
	if (!buf || !c)
		exit(1);
	fill(buf, 8 * MIB, 0, 50);
	fill(buf + 8 * MIB, 4096, 8 * MIB, 60);
	CHECK(EVP_DigestInit_ex(c, EVP_md5(), NULL));
	CHECK(EVP_DigestUpdate(c, buf, 8 * MIB + 4096));
	CHECK(EVP_DigestFinal_ex(c, want.b, &dn));
	EVP_MD_CTX_free(c);
	free(buf);
	CHECK(objid_eq(&items[0]->md5, &want));
	check_object(t.heap, &items[0]->md5, 8 * MIB + 4096);
	for (i = 1; i < 3; i++) {
		CHECK_EQ(ls.ret[i], 0);
		CHECK(items[i]->has_md5);
	}
	free_entries(items, 3);

	/* the second file becomes a directory as the window takes it */
	for (i = 0; i < 3; i++) {
		char name[8];

		snprintf(name, sizeof(name), "l%zu", i);
		if (i == 0)
			CHECK_EQ(write_pat(t.rootfd, name, 8 * MIB, 50,
					   false), 0);
		items[i] = scan_entry(t.rootfd, name);
		ls.done_count[i] = 0;
		ls.ret[i] = 0;
	}
	ls.pos = 0;
	ls.next_calls = 0;
	ls.on_next = replace_second;
	errbuf_clear(&eb);
	ret = run_lanes(w, &t, &ls, 4, &stats, &eb);
	fprintf(stderr, "  replaced in the window: %d %s\n", ret, eb.msg);
	CHECK(ret < 0);
	CHECK(strstr(eb.msg, "l1") != NULL);
	for (i = 0; i < ls.pos; i++) {
		CHECK_EQ(ls.done_count[i], 1);
		CHECK(ls.ret[i] == 0 || ls.ret[i] == ret);
	}
	CHECK_EQ(ls.ret[1], ret);
	CHECK_EQ(count_prefix(t.heap_root, ".tmp-"), 0);
	free_entries(items, 3);
	tree_close(&t);
	hash_worker_free(w);
}

static void run_all(enum io_backend be, const char *label)
{
	fprintf(stderr, "-- backend %s\n", label);
	RUN_TEST_BE(test_mix);
	RUN_TEST_BE(test_many_small);
	RUN_TEST_BE(test_one_open);
	RUN_TEST_BE(test_stale);
	RUN_TEST_BE(test_errors);
	RUN_TEST_BE(test_fifo);
	RUN_TEST_BE(test_long_name);
	RUN_TEST_BE(test_keeps_changing);
	RUN_TEST_BE(test_lanes);
	RUN_TEST_BE(test_lanes_change);
}

int main(void)
{
	char cmd[160];

	umask(022);
	snprintf(base_dir, sizeof(base_dir), "/tmp/test_hash_worker.XXXXXX");
	if (!mkdtemp(base_dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN_TEST(test_fd_share);
	run_all(IO_BACKEND_SYNC, "sync");
	{
		/* say what AUTO means on this machine */
		struct errbuf eb = ERRBUF_INIT;
		struct io_ctx *io = NULL;

		if (io_ctx_new(IO_BACKEND_AUTO, 8, &io, NULL, &eb) == 0) {
			fprintf(stderr, "AUTO uses %s\n",
				io_ctx_backend(io) == IO_BACKEND_URING ?
					"io_uring" : "sync (fallback)");
			io_ctx_free(io);
		}
	}
	run_all(IO_BACKEND_AUTO, "auto");
	/* every MD5 kernel this machine has (the runs above: auto) */
	md5_choice = MD5_IMPL_OPENSSL;
	run_all(IO_BACKEND_SYNC, "sync, --md5 openssl");
	if (engine_md5_resolve(MD5_IMPL_AVX2, &md5_choice, NULL) == 0)
		run_all(IO_BACKEND_SYNC, "sync, --md5 avx2");
	else
		fprintf(stderr, "note: no AVX2 here\n");
	if (engine_md5_resolve(MD5_IMPL_AVX512, &md5_choice, NULL) == 0)
		run_all(IO_BACKEND_SYNC, "sync, --md5 avx512");
	else
		fprintf(stderr, "note: no AVX-512 here\n");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", base_dir);
	return test_finish();
}
