/* test_tree_writer: symlink-safe writes into a target tree
 * (engine/tree/tree_writer.h): temp + publish with mode and mtime,
 * parents, planted symlinks never followed, symlinks, directories,
 * metadata, removal, pruning, names longer than PATH_MAX. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "entry.h"
#include "errbuf.h"
#include "tree_writer.h"
#include "test.h"

#define TMP_PREFIX ".snapshooter-tmp-"

static char base_dir[64];

struct fixture {
	char root[256];
	char outside[256];
	int rootfd;
	struct tree_writer *w;
};

static int fixture_open(struct fixture *f, const char *tag)
{
	struct errbuf eb = ERRBUF_INIT;

	snprintf(f->root, sizeof(f->root), "%s/%s-root", base_dir, tag);
	snprintf(f->outside, sizeof(f->outside), "%s/%s-outside", base_dir,
		 tag);
	if (mkdir(f->root, 0755) || mkdir(f->outside, 0755)) {
		perror("mkdir");
		return -1;
	}
	f->rootfd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->rootfd < 0)
		return -1;
	f->w = NULL;
	if (tree_writer_new(f->rootfd, f->root, &f->w, &eb) < 0) {
		fprintf(stderr, "%s\n", eb.msg);
		close(f->rootfd);
		return -1;
	}
	return 0;
}

static void fixture_close(struct fixture *f)
{
	tree_writer_free(f->w);
	close(f->rootfd);
}

static void mk_entry(struct entry *e, uint8_t type, const char *name,
		     uint32_t mode, int64_t mtime_ns, const char *target)
{
	entry_init(e);
	if (entry_set_name(e, name, strlen(name)) < 0) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	if (target && entry_set_target(e, target, strlen(target)) < 0) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	e->type = type;
	e->mode = mode;
	e->mtime_ns = mtime_ns;
}

static void path_in(char *out, size_t cap, const char *dir, const char *rel)
{
	snprintf(out, cap, "%s/%s", dir, rel);
}

static int64_t mtime_ns_of(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000LL +
	       st->st_mtim.tv_nsec;
}

static int write_file(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t len = strlen(data);

	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	close(fd);
	return chmod(path, mode);
}

static ssize_t read_at(int dirfd, const char *name, char *buf, size_t cap)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap);
	close(fd);
	return n;
}

static ssize_t read_path(const char *path, char *buf, size_t cap)
{
	return read_at(AT_FDCWD, path, buf, cap);
}

/* Number of names in dir starting with prefix (NULL: all). */
static int count_in(int dirfd, const char *prefix)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int n = 0;

	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
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

static int count_path(const char *dir, const char *prefix)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int n;

	if (fd < 0)
		return -1;
	n = count_in(fd, prefix);
	close(fd);
	return n;
}

/* create_temp + write + publish of one file entry. */
static int put_file(struct fixture *f, const struct entry *e,
		    const char *data, struct errbuf *eb)
{
	char tmp[64];
	int dirfd = -1, fd = -1, ret;
	size_t len = strlen(data);

	ret = tree_writer_create_temp(f->w, e, &dirfd, tmp, &fd, eb);
	if (ret < 0)
		return ret;
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -EIO;
	}
	return tree_writer_publish(f->w, e, dirfd, tmp, fd, eb);
}

static void test_publish_file(void)
{
	const int64_t t1 = 1234567890123456789LL;
	const int64_t t_neg = -1500000001LL; /* before the epoch */
	struct errbuf eb = ERRBUF_INIT;
	struct fixture f;
	struct entry e;
	char p[512], buf[64];
	struct stat st;
	char tmp[64];
	int dirfd = -1, fd = -1;

	if (fixture_open(&f, "publish")) {
		CHECK(0);
		return;
	}
	mk_entry(&e, ENTRY_FILE, "a/b/c.txt", 0640, t1, NULL);
	CHECK_EQ(tree_writer_create_temp(f.w, &e, &dirfd, tmp, &fd, &eb), 0);
	CHECK(fd >= 0 && dirfd >= 0);
	if (fd < 0)
		goto out;
	path_in(p, sizeof(p), f.root, "a/b");
	if (tmp[0]) {
		/* a named temp (no O_TMPFILE here) in the final directory */
		CHECK(strlen(tmp) < 64 && !strchr(tmp, '/'));
		CHECK_EQ(count_path(p, TMP_PREFIX), 1);
		CHECK_EQ(faccessat(dirfd, tmp, F_OK, AT_SYMLINK_NOFOLLOW), 0);
	} else {
		/* anonymous: nothing in the directory before the publish */
		CHECK_EQ(count_path(p, NULL), 0);
	}
	CHECK_EQ(write(fd, "payload", 7), 7);
	CHECK_EQ(tree_writer_publish(f.w, &e, dirfd, tmp, fd, &eb), 0);
	CHECK_EQ(eb.code, 0);

	path_in(p, sizeof(p), f.root, "a/b/c.txt");
	CHECK_EQ(lstat(p, &st), 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_EQ(st.st_mode & 07777, 0640);
	CHECK_EQ(mtime_ns_of(&st), t1);
	CHECK_EQ(read_path(p, buf, sizeof(buf)), 7);
	CHECK(!memcmp(buf, "payload", 7));
	path_in(p, sizeof(p), f.root, "a/b");
	CHECK_EQ(count_path(p, TMP_PREFIX), 0);
	CHECK_EQ(count_path(p, NULL), 1);
	/* parents created 0755 */
	path_in(p, sizeof(p), f.root, "a");
	CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_EQ(st.st_mode & 07777, 0755);
	path_in(p, sizeof(p), f.root, "a/b");
	CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_EQ(st.st_mode & 07777, 0755);
	entry_release(&e);

	/* replace an existing file; read-only mode; mtime before 1970 */
	mk_entry(&e, ENTRY_FILE, "a/b/c.txt", 0444, t_neg, NULL);
	CHECK_EQ(put_file(&f, &e, "second", &eb), 0);
	path_in(p, sizeof(p), f.root, "a/b/c.txt");
	CHECK_EQ(lstat(p, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0444);
	CHECK_EQ(mtime_ns_of(&st), t_neg);
	CHECK_EQ(read_path(p, buf, sizeof(buf)), 6);
	CHECK(!memcmp(buf, "second", 6));
	entry_release(&e);

	/* a top-level name: the parent is the root itself */
	mk_entry(&e, ENTRY_FILE, "top", 0600, 5, NULL);
	CHECK_EQ(put_file(&f, &e, "t", &eb), 0);
	path_in(p, sizeof(p), f.root, "top");
	CHECK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 0600);
	CHECK_EQ(mtime_ns_of(&st), 5);
	CHECK_EQ(count_in(f.rootfd, TMP_PREFIX), 0);
	entry_release(&e);

	/* special bits survive (setgid on a file we own) */
	mk_entry(&e, ENTRY_FILE, "a/sticky", 01755, 0, NULL);
	CHECK_EQ(put_file(&f, &e, "", &eb), 0);
	path_in(p, sizeof(p), f.root, "a/sticky");
	CHECK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 01755);
out:
	entry_release(&e);
	fixture_close(&f);
}

/* root/sub -> outside: every write below sub must fail and create nothing
 * outside. */
/* A temp is open for reading too (a download is read back for its MD5
 * check before it is published), anonymous or named. */
static void temp_readable(bool named)
{
	struct errbuf eb = ERRBUF_INIT;
	struct fixture f;
	struct entry e;
	char p[512], buf[16], tmp[64];
	int dirfd = -1, fd = -1;

	if (fixture_open(&f, named ? "named" : "anon")) {
		CHECK(0);
		return;
	}
	if (named)
		tree_writer_use_named_temps(f.w);
	mk_entry(&e, ENTRY_FILE, "d/r.bin", 0200, 1000000000LL, NULL);
	CHECK_EQ(tree_writer_create_temp(f.w, &e, &dirfd, tmp, &fd, &eb), 0);
	if (fd < 0) {
		fixture_close(&f);
		entry_release(&e);
		return;
	}
	if (named)
		CHECK(tmp[0] != '\0');
	CHECK_EQ(write(fd, "payload", 7), 7);
	CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 7);
	CHECK(!memcmp(buf, "payload", 7));
	CHECK_EQ(tree_writer_publish(f.w, &e, dirfd, tmp, fd, &eb), 0);
	path_in(p, sizeof(p), f.root, "d/r.bin");
	CHECK_EQ(read_path(p, buf, sizeof(buf)), 7);
	path_in(p, sizeof(p), f.root, "d");
	CHECK_EQ(count_path(p, NULL), 1);    /* no temp left */
	entry_release(&e);
	fixture_close(&f);
}

static void test_temp_readable(void)
{
	temp_readable(false);
	temp_readable(true);
}

static void test_planted_parent_symlink(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct fixture f;
	struct entry e;
	char p[512], buf[32];
	struct stat st, before;
	int ret;

	if (fixture_open(&f, "planted")) {
		CHECK(0);
		return;
	}
	path_in(p, sizeof(p), f.outside, "victim");
	CHECK_EQ(write_file(p, "keep", 0600), 0);
	CHECK_EQ(lstat(p, &before), 0);
	path_in(p, sizeof(p), f.root, "sub");
	CHECK_EQ(symlink(f.outside, p), 0);

	mk_entry(&e, ENTRY_FILE, "sub/new.txt", 0644, 0, NULL);
	ret = put_file(&f, &e, "evil", &eb);
	CHECK(ret == -ELOOP || ret == -ENOTDIR);
	CHECK_EQ(eb.code, ret);
	CHECK(strstr(eb.msg, f.root) != NULL);
	CHECK(strstr(eb.msg, "sub") != NULL);
	entry_release(&e);

	errbuf_clear(&eb);
	mk_entry(&e, ENTRY_FILE, "sub/deeper/new.txt", 0644, 0, NULL);
	ret = put_file(&f, &e, "evil", &eb);
	CHECK(ret == -ELOOP || ret == -ENOTDIR);
	entry_release(&e);

	/* replacing the victim through the link */
	errbuf_clear(&eb);
	mk_entry(&e, ENTRY_FILE, "sub/victim", 0777, 0, NULL);
	ret = put_file(&f, &e, "evil", &eb);
	CHECK(ret == -ELOOP || ret == -ENOTDIR);
	errbuf_clear(&eb);
	ret = tree_writer_set_meta(f.w, &e, &eb);
	CHECK(ret == -ELOOP || ret == -ENOTDIR);
	errbuf_clear(&eb);
	ret = tree_writer_remove(f.w, &e, &eb);
	/* removing below a non-directory is either refused or a no-op; the
	 * victim must survive */
	CHECK(ret == 0 || ret == -ELOOP || ret == -ENOTDIR);
	entry_release(&e);

	errbuf_clear(&eb);
	mk_entry(&e, ENTRY_DIR, "sub/dir", 0755, 0, NULL);
	ret = tree_writer_mkdir(f.w, &e, true, &eb);
	CHECK(ret == -ELOOP || ret == -ENOTDIR);
	entry_release(&e);

	errbuf_clear(&eb);
	mk_entry(&e, ENTRY_SYMLINK, "sub/lnk", 0777, 0, "/etc/passwd");
	ret = tree_writer_symlink(f.w, &e, &eb);
	CHECK(ret == -ELOOP || ret == -ENOTDIR);
	entry_release(&e);

	/* nothing appeared outside, the victim is untouched */
	CHECK_EQ(count_path(f.outside, NULL), 1);
	path_in(p, sizeof(p), f.outside, "victim");
	CHECK_EQ(lstat(p, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0600);
	CHECK_EQ(mtime_ns_of(&st), mtime_ns_of(&before));
	CHECK_EQ(read_path(p, buf, sizeof(buf)), 4);
	/* the planted link itself is still there */
	path_in(p, sizeof(p), f.root, "sub");
	CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode));

	/* a regular file in the way of a parent */
	errbuf_clear(&eb);
	path_in(p, sizeof(p), f.root, "plain");
	CHECK_EQ(write_file(p, "x", 0644), 0);
	mk_entry(&e, ENTRY_FILE, "plain/child", 0644, 0, NULL);
	CHECK_ERR(put_file(&f, &e, "y", &eb), ENOTDIR);
	CHECK(strstr(eb.msg, "plain") != NULL);
	entry_release(&e);

	/* a symlink planted deeper, after the writer cached the parent */
	errbuf_clear(&eb);
	mk_entry(&e, ENTRY_FILE, "d1/d2/f", 0644, 0, NULL);
	CHECK_EQ(put_file(&f, &e, "ok", &eb), 0);
	entry_release(&e);
	path_in(p, sizeof(p), f.root, "d1/l2");
	CHECK_EQ(symlink(f.outside, p), 0);
	mk_entry(&e, ENTRY_FILE, "d1/l2/f", 0644, 0, NULL);
	ret = put_file(&f, &e, "evil", &eb);
	CHECK(ret == -ELOOP || ret == -ENOTDIR);
	entry_release(&e);
	CHECK_EQ(count_path(f.outside, NULL), 1);
	fixture_close(&f);
}

/* A symlink at the final name is replaced, its target never written. */
static void test_publish_replaces_symlink(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct fixture f;
	struct entry e;
	char p[512], target[512], buf[32];
	struct stat st, before;

	if (fixture_open(&f, "replace")) {
		CHECK(0);
		return;
	}
	path_in(target, sizeof(target), f.outside, "target.txt");
	CHECK_EQ(write_file(target, "orig", 0600), 0);
	CHECK_EQ(lstat(target, &before), 0);
	path_in(p, sizeof(p), f.root, "link");
	CHECK_EQ(symlink(target, p), 0);

	mk_entry(&e, ENTRY_FILE, "link", 0666, 77000000000LL, NULL);
	CHECK_EQ(put_file(&f, &e, "new content", &eb), 0);
	CHECK_EQ(lstat(p, &st), 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_EQ(st.st_mode & 07777, 0666);
	CHECK_EQ(read_path(p, buf, sizeof(buf)), 11);
	CHECK(!memcmp(buf, "new content", 11));

	CHECK_EQ(lstat(target, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0600);
	CHECK_EQ(st.st_size, 4);
	CHECK_EQ(mtime_ns_of(&st), mtime_ns_of(&before));
	CHECK_EQ(read_path(target, buf, sizeof(buf)), 4);
	CHECK(!memcmp(buf, "orig", 4));
	entry_release(&e);

	/* a dangling symlink at the final name: replaced, nothing created
	 * where it pointed */
	path_in(p, sizeof(p), f.root, "dangling");
	path_in(target, sizeof(target), f.outside, "would-be-created");
	CHECK_EQ(symlink(target, p), 0);
	mk_entry(&e, ENTRY_FILE, "dangling", 0644, 0, NULL);
	CHECK_EQ(put_file(&f, &e, "z", &eb), 0);
	CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode));
	CHECK(lstat(target, &st) < 0 && errno == ENOENT);
	entry_release(&e);
	CHECK_EQ(count_path(f.outside, NULL), 1);
	fixture_close(&f);
}

static void test_symlink_entries(void)
{
	const int64_t t = 1600000000987654321LL;
	struct errbuf eb = ERRBUF_INIT;
	struct fixture f;
	struct entry e;
	char p[512], lbuf[256];
	struct stat st;
	ssize_t n;
	int ret;

	if (fixture_open(&f, "symlink")) {
		CHECK(0);
		return;
	}
	mk_entry(&e, ENTRY_SYMLINK, "s/d/ln", 0777, t, "../../target/x");
	ret = tree_writer_symlink(f.w, &e, &eb);
	CHECK(ret >= 0);
	CHECK_EQ(eb.code, 0);
	path_in(p, sizeof(p), f.root, "s/d/ln");
	CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode));
	CHECK_EQ(mtime_ns_of(&st), t);
	n = readlink(p, lbuf, sizeof(lbuf));
	CHECK_EQ(n, 14);
	CHECK(n == 14 && !memcmp(lbuf, "../../target/x", 14));
	path_in(p, sizeof(p), f.root, "s/d");
	CHECK_EQ(count_path(p, TMP_PREFIX), 0);
	entry_release(&e);

	/* over an existing symlink and over an existing file */
	mk_entry(&e, ENTRY_SYMLINK, "s/d/ln", 0777, t + 1, "other");
	CHECK(tree_writer_symlink(f.w, &e, &eb) >= 0);
	path_in(p, sizeof(p), f.root, "s/d/ln");
	n = readlink(p, lbuf, sizeof(lbuf));
	CHECK(n == 5 && !memcmp(lbuf, "other", 5));
	CHECK(lstat(p, &st) == 0 && mtime_ns_of(&st) == t + 1);
	entry_release(&e);

	path_in(p, sizeof(p), f.root, "s/file");
	CHECK_EQ(write_file(p, "data", 0644), 0);
	mk_entry(&e, ENTRY_SYMLINK, "s/file", 0777, t, "file-was-here");
	CHECK(tree_writer_symlink(f.w, &e, &eb) >= 0);
	CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode));
	entry_release(&e);

	/* a non-empty directory in the way is an error, and stays */
	errbuf_clear(&eb);
	path_in(p, sizeof(p), f.root, "s/d");
	mk_entry(&e, ENTRY_SYMLINK, "s/d", 0777, t, "x");
	CHECK(tree_writer_symlink(f.w, &e, &eb) < 0);
	CHECK(eb.code < 0);
	CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode));
	path_in(p, sizeof(p), f.root, "s");
	CHECK_EQ(count_path(p, TMP_PREFIX), 0);
	entry_release(&e);
	fixture_close(&f);
}

static void test_mkdir(void)
{
	const int64_t t = 1500000000111222333LL;
	struct errbuf eb = ERRBUF_INIT;
	struct fixture f;
	struct entry e;
	char p[512], buf[16];
	struct stat st, before;

	if (fixture_open(&f, "mkdir")) {
		CHECK(0);
		return;
	}
	/* created, with meta */
	mk_entry(&e, ENTRY_DIR, "m/n", 0700, t, NULL);
	CHECK_EQ(tree_writer_mkdir(f.w, &e, true, &eb), 1);
	path_in(p, sizeof(p), f.root, "m/n");
	CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_EQ(st.st_mode & 07777, 0700);
	CHECK_EQ(mtime_ns_of(&st), t);
	path_in(p, sizeof(p), f.root, "m");
	CHECK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 0755);
	/* existed: 0; without set_meta nothing changes */
	e.mode = 0750;
	e.mtime_ns = t + 1000;
	CHECK_EQ(tree_writer_mkdir(f.w, &e, false, &eb), 0);
	path_in(p, sizeof(p), f.root, "m/n");
	CHECK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 0700);
	CHECK_EQ(mtime_ns_of(&st), t);
	/* existed: 0; with set_meta mode and mtime are set */
	CHECK_EQ(tree_writer_mkdir(f.w, &e, true, &eb), 0);
	CHECK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 0750);
	CHECK_EQ(mtime_ns_of(&st), t + 1000);
	CHECK_EQ(eb.code, 0);
	entry_release(&e);

	/* created without set_meta: it exists as a directory (mode is the
	 * caller's business later) */
	mk_entry(&e, ENTRY_DIR, "m/plain", 0500, t, NULL);
	CHECK_EQ(tree_writer_mkdir(f.w, &e, false, &eb), 1);
	path_in(p, sizeof(p), f.root, "m/plain");
	CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode));
	/* the caller can still write into it */
	entry_release(&e);
	mk_entry(&e, ENTRY_FILE, "m/plain/f", 0644, 0, NULL);
	CHECK_EQ(put_file(&f, &e, "in", &eb), 0);
	entry_release(&e);
	/* set_meta at the end applies the read-only mode */
	mk_entry(&e, ENTRY_DIR, "m/plain", 0500, t, NULL);
	CHECK_EQ(tree_writer_set_meta(f.w, &e, &eb), 0);
	CHECK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 0500);
	CHECK_EQ(mtime_ns_of(&st), t);
	CHECK_EQ(chmod(p, 0755), 0);
	entry_release(&e);

	/* a file in the way: error, file untouched */
	path_in(p, sizeof(p), f.root, "m/file");
	CHECK_EQ(write_file(p, "content", 0640), 0);
	CHECK_EQ(lstat(p, &before), 0);
	mk_entry(&e, ENTRY_DIR, "m/file", 0700, t, NULL);
	CHECK(tree_writer_mkdir(f.w, &e, true, &eb) < 0);
	CHECK(eb.code < 0);
	CHECK(strstr(eb.msg, "m/file") != NULL);
	CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode));
	CHECK_EQ(st.st_mode & 07777, 0640);
	CHECK_EQ(mtime_ns_of(&st), mtime_ns_of(&before));
	CHECK_EQ(read_path(p, buf, sizeof(buf)), 7);
	entry_release(&e);

	/* a symlink to a directory in the way: error, the directory it
	 * points to keeps its mode and mtime */
	errbuf_clear(&eb);
	CHECK_EQ(chmod(f.outside, 0711), 0);
	CHECK_EQ(lstat(f.outside, &before), 0);
	path_in(p, sizeof(p), f.root, "m/dirlink");
	CHECK_EQ(symlink(f.outside, p), 0);
	mk_entry(&e, ENTRY_DIR, "m/dirlink", 0777, t, NULL);
	CHECK(tree_writer_mkdir(f.w, &e, true, &eb) < 0);
	CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode));
	CHECK_EQ(lstat(f.outside, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0711);
	CHECK_EQ(mtime_ns_of(&st), mtime_ns_of(&before));
	entry_release(&e);
	fixture_close(&f);
}

/* set_meta on a name that is a symlink: the symlink's target (outside the
 * tree) keeps its mode and mtime, whatever the entry's type says. */
static void test_set_meta_no_follow(void)
{
	const int64_t t = 1700000000000000001LL;
	struct errbuf eb = ERRBUF_INIT;
	struct fixture f;
	struct entry e;
	char p[512], target[512];
	struct stat st, before;

	if (fixture_open(&f, "setmeta")) {
		CHECK(0);
		return;
	}
	path_in(target, sizeof(target), f.outside, "secret");
	CHECK_EQ(write_file(target, "s", 0600), 0);
	CHECK_EQ(lstat(target, &before), 0);
	path_in(p, sizeof(p), f.root, "lnk");
	CHECK_EQ(symlink(target, p), 0);

	/* as a symlink entry: the link's own mtime */
	mk_entry(&e, ENTRY_SYMLINK, "lnk", 0777, t, target);
	CHECK_EQ(tree_writer_set_meta(f.w, &e, &eb), 0);
	CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode));
	CHECK_EQ(mtime_ns_of(&st), t);
	CHECK_EQ(lstat(target, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0600);
	CHECK_EQ(mtime_ns_of(&st), mtime_ns_of(&before));
	entry_release(&e);

	/* as a file entry (the tree changed since it was read): whether it
	 * fails or not, the outside file must not change */
	errbuf_clear(&eb);
	mk_entry(&e, ENTRY_FILE, "lnk", 0777, t, NULL);
	(void)tree_writer_set_meta(f.w, &e, &eb);
	CHECK_EQ(lstat(target, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0600);
	CHECK_EQ(mtime_ns_of(&st), mtime_ns_of(&before));
	entry_release(&e);

	/* as a directory entry, link to a directory */
	errbuf_clear(&eb);
	CHECK_EQ(chmod(f.outside, 0755), 0);
	CHECK_EQ(lstat(f.outside, &before), 0);
	path_in(p, sizeof(p), f.root, "dlnk");
	CHECK_EQ(symlink(f.outside, p), 0);
	mk_entry(&e, ENTRY_DIR, "dlnk", 0700, t, NULL);
	(void)tree_writer_set_meta(f.w, &e, &eb);
	CHECK_EQ(lstat(f.outside, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0755);
	CHECK_EQ(mtime_ns_of(&st), mtime_ns_of(&before));
	entry_release(&e);

	/* a plain file: both set */
	errbuf_clear(&eb);
	path_in(p, sizeof(p), f.root, "real");
	CHECK_EQ(write_file(p, "r", 0644), 0);
	mk_entry(&e, ENTRY_FILE, "real", 0604, t, NULL);
	CHECK_EQ(tree_writer_set_meta(f.w, &e, &eb), 0);
	CHECK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 0604);
	CHECK_EQ(mtime_ns_of(&st), t);
	entry_release(&e);

	/* missing: an error naming it */
	errbuf_clear(&eb);
	mk_entry(&e, ENTRY_FILE, "nope/missing", 0644, t, NULL);
	CHECK_ERR(tree_writer_set_meta(f.w, &e, &eb), ENOENT);
	CHECK(strstr(eb.msg, "nope") != NULL);
	entry_release(&e);
	fixture_close(&f);
}

static void test_remove(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct fixture f;
	struct entry e;
	char p[512], target[512];
	struct stat st;

	if (fixture_open(&f, "remove")) {
		CHECK(0);
		return;
	}
	path_in(p, sizeof(p), f.root, "r");
	CHECK_EQ(mkdir(p, 0755), 0);
	path_in(p, sizeof(p), f.root, "r/file");
	CHECK_EQ(write_file(p, "x", 0444), 0);
	mk_entry(&e, ENTRY_FILE, "r/file", 0444, 0, NULL);
	CHECK_EQ(tree_writer_remove(f.w, &e, &eb), 0);
	CHECK(lstat(p, &st) < 0 && errno == ENOENT);
	/* again: missing is success */
	CHECK_EQ(tree_writer_remove(f.w, &e, &eb), 0);
	CHECK_EQ(eb.code, 0);
	entry_release(&e);

	/* a symlink: the link goes, its target stays */
	path_in(target, sizeof(target), f.outside, "t");
	CHECK_EQ(write_file(target, "t", 0644), 0);
	path_in(p, sizeof(p), f.root, "r/ln");
	CHECK_EQ(symlink(target, p), 0);
	mk_entry(&e, ENTRY_SYMLINK, "r/ln", 0777, 0, target);
	CHECK_EQ(tree_writer_remove(f.w, &e, &eb), 0);
	CHECK(lstat(p, &st) < 0 && errno == ENOENT);
	CHECK(lstat(target, &st) == 0 && S_ISREG(st.st_mode));
	entry_release(&e);

	/* missing parent: 0 */
	mk_entry(&e, ENTRY_FILE, "no/such/dir/file", 0644, 0, NULL);
	CHECK_EQ(tree_writer_remove(f.w, &e, &eb), 0);
	CHECK_EQ(eb.code, 0);
	entry_release(&e);

	/* a non-empty directory: 0, and it stays */
	path_in(p, sizeof(p), f.root, "r/full");
	CHECK_EQ(mkdir(p, 0755), 0);
	path_in(p, sizeof(p), f.root, "r/full/inside");
	CHECK_EQ(write_file(p, "i", 0644), 0);
	mk_entry(&e, ENTRY_DIR, "r/full", 0755, 0, NULL);
	CHECK_EQ(tree_writer_remove(f.w, &e, &eb), 0);
	CHECK_EQ(eb.code, 0);
	path_in(p, sizeof(p), f.root, "r/full");
	CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode));
	path_in(p, sizeof(p), f.root, "r/full/inside");
	CHECK(lstat(p, &st) == 0);
	/* once emptied it goes */
	CHECK_EQ(unlink(p), 0);
	CHECK_EQ(tree_writer_remove(f.w, &e, &eb), 0);
	path_in(p, sizeof(p), f.root, "r/full");
	CHECK(lstat(p, &st) < 0 && errno == ENOENT);
	entry_release(&e);

	/* a directory that the writer had cached as a parent: after removal
	 * a new one of the same name gets the next file */
	mk_entry(&e, ENTRY_FILE, "r/cached/f1", 0644, 0, NULL);
	CHECK_EQ(put_file(&f, &e, "1", &eb), 0);
	CHECK_EQ(tree_writer_remove(f.w, &e, &eb), 0);
	entry_release(&e);
	mk_entry(&e, ENTRY_DIR, "r/cached", 0755, 0, NULL);
	CHECK_EQ(tree_writer_remove(f.w, &e, &eb), 0);
	entry_release(&e);
	path_in(p, sizeof(p), f.root, "r/cached");
	CHECK(lstat(p, &st) < 0 && errno == ENOENT);
	mk_entry(&e, ENTRY_FILE, "r/cached/f2", 0644, 0, NULL);
	CHECK_EQ(put_file(&f, &e, "2", &eb), 0);
	path_in(p, sizeof(p), f.root, "r/cached/f2");
	CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode));
	entry_release(&e);
	fixture_close(&f);
}

static void test_prune_parents(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct fixture f;
	struct entry e;
	char p[512];
	struct stat st;

	if (fixture_open(&f, "prune")) {
		CHECK(0);
		return;
	}
	/* a/b/c/file and a/keep: removing file and pruning drops c and b,
	 * stops at a (not empty) */
	mk_entry(&e, ENTRY_FILE, "a/b/c/file", 0644, 0, NULL);
	CHECK_EQ(put_file(&f, &e, "f", &eb), 0);
	path_in(p, sizeof(p), f.root, "a/keep");
	CHECK_EQ(write_file(p, "k", 0644), 0);
	CHECK_EQ(tree_writer_remove(f.w, &e, &eb), 0);
	CHECK_EQ(tree_writer_prune_parents(f.w, e.name, e.name_len, -1, &eb),
		 0);
	CHECK_EQ(eb.code, 0);
	path_in(p, sizeof(p), f.root, "a/b");
	CHECK(lstat(p, &st) < 0 && errno == ENOENT);
	path_in(p, sizeof(p), f.root, "a");
	CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode));
	path_in(p, sizeof(p), f.root, "a/keep");
	CHECK(lstat(p, &st) == 0);
	entry_release(&e);

	/* a whole empty chain goes, the root stays */
	mk_entry(&e, ENTRY_FILE, "x/y/z/gone", 0644, 0, NULL);
	CHECK_EQ(put_file(&f, &e, "g", &eb), 0);
	CHECK_EQ(tree_writer_remove(f.w, &e, &eb), 0);
	CHECK_EQ(tree_writer_prune_parents(f.w, e.name, e.name_len, -1, &eb),
		 0);
	path_in(p, sizeof(p), f.root, "x");
	CHECK(lstat(p, &st) < 0 && errno == ENOENT);
	CHECK(lstat(f.root, &st) == 0 && S_ISDIR(st.st_mode));
	entry_release(&e);

	/* stops at the first non-empty level even if a higher one would be
	 * empty after it: p/q/r with p/q/other */
	mk_entry(&e, ENTRY_FILE, "p/q/r/f", 0644, 0, NULL);
	CHECK_EQ(put_file(&f, &e, "f", &eb), 0);
	path_in(p, sizeof(p), f.root, "p/q/other");
	CHECK_EQ(write_file(p, "o", 0644), 0);
	CHECK_EQ(tree_writer_remove(f.w, &e, &eb), 0);
	CHECK_EQ(tree_writer_prune_parents(f.w, e.name, e.name_len, -1, &eb),
		 0);
	path_in(p, sizeof(p), f.root, "p/q/r");
	CHECK(lstat(p, &st) < 0 && errno == ENOENT);
	path_in(p, sizeof(p), f.root, "p/q");
	CHECK(lstat(p, &st) == 0);
	path_in(p, sizeof(p), f.root, "p");
	CHECK(lstat(p, &st) == 0);
	/* after pruning, writing below the pruned name works again (no stale
	 * cached directory) */
	CHECK_EQ(put_file(&f, &e, "again", &eb), 0);
	path_in(p, sizeof(p), f.root, "p/q/r/f");
	CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode));
	entry_release(&e);

	/* a top-level name: nothing to prune */
	mk_entry(&e, ENTRY_FILE, "lonely", 0644, 0, NULL);
	CHECK_EQ(tree_writer_prune_parents(f.w, e.name, e.name_len, -1, &eb),
		 0);
	CHECK(lstat(f.root, &st) == 0);
	entry_release(&e);

	/* parents that are already gone: 0 */
	mk_entry(&e, ENTRY_FILE, "never/there/f", 0644, 0, NULL);
	CHECK_EQ(tree_writer_prune_parents(f.w, e.name, e.name_len, -1, &eb),
		 0);
	CHECK_EQ(eb.code, 0);
	entry_release(&e);

	/* a symlinked parent is not followed: its target dir is not removed */
	path_in(p, sizeof(p), f.outside, "emptydir");
	CHECK_EQ(mkdir(p, 0755), 0);
	{
		char l[512];

		path_in(l, sizeof(l), f.root, "sl");
		CHECK_EQ(symlink(p, l), 0);
	}
	mk_entry(&e, ENTRY_FILE, "sl/f", 0644, 0, NULL);
	(void)tree_writer_prune_parents(f.w, e.name, e.name_len, -1, &eb);
	CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode));
	entry_release(&e);
	fixture_close(&f);
}

/* Names longer than PATH_MAX: 25 levels of 200-byte components. */
#define LONG_LEVELS 25
#define LONG_COMP 200

static size_t long_name(char *out, size_t cap, int levels, const char *leaf)
{
	size_t len = 0;
	int i;

	for (i = 0; i < levels; i++) {
		if (len + LONG_COMP + 1 >= cap)
			return 0;
		memset(out + len, 'a' + (i % 26), LONG_COMP);
		len += LONG_COMP;
		out[len++] = '/';
	}
	len += (size_t)snprintf(out + len, cap - len, "%s", leaf);
	return len;
}

/* Open the directory of levels components below rootfd, one at a time. */
static int open_long_dir(int rootfd, int levels)
{
	char comp[LONG_COMP + 1];
	int cur = dup(rootfd), i, fd;

	for (i = 0; i < levels && cur >= 0; i++) {
		memset(comp, 'a' + (i % 26), LONG_COMP);
		comp[LONG_COMP] = '\0';
		fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
		close(cur);
		cur = fd;
	}
	return cur;
}

static void test_long_paths(void)
{
	static char name[LONG_LEVELS * (LONG_COMP + 1) + 64];
	struct errbuf eb = ERRBUF_INIT;
	struct fixture f;
	struct entry e;
	struct stat st;
	char buf[32];
	size_t len;
	int dfd;

	if (fixture_open(&f, "long")) {
		CHECK(0);
		return;
	}
	len = long_name(name, sizeof(name), LONG_LEVELS, "leaf.txt");
	CHECK(len > 4096);
	entry_init(&e);
	CHECK_EQ(entry_set_name(&e, name, len), 0);
	e.type = ENTRY_FILE;
	e.mode = 0640;
	e.mtime_ns = 987654321012345678LL;
	CHECK_EQ(put_file(&f, &e, "deep", &eb), 0);
	if (eb.code)
		fprintf(stderr, "%s\n", eb.msg);
	dfd = open_long_dir(f.rootfd, LONG_LEVELS);
	CHECK(dfd >= 0);
	if (dfd >= 0) {
		CHECK_EQ(fstatat(dfd, "leaf.txt", &st, AT_SYMLINK_NOFOLLOW), 0);
		CHECK(S_ISREG(st.st_mode));
		CHECK_EQ(st.st_mode & 07777, 0640);
		CHECK_EQ(mtime_ns_of(&st), 987654321012345678LL);
		CHECK_EQ(read_at(dfd, "leaf.txt", buf, sizeof(buf)), 4);
		CHECK(!memcmp(buf, "deep", 4));
		CHECK_EQ(count_in(dfd, TMP_PREFIX), 0);
		close(dfd);
	}
	entry_release(&e);

	/* symlink, set_meta, remove and prune at that depth, with a fresh
	 * writer (no cached parent) */
	tree_writer_free(f.w);
	f.w = NULL;
	CHECK_EQ(tree_writer_new(f.rootfd, f.root, &f.w, &eb), 0);
	if (!f.w)
		return;
	len = long_name(name, sizeof(name), LONG_LEVELS, "ln");
	entry_init(&e);
	CHECK_EQ(entry_set_name(&e, name, len), 0);
	CHECK_EQ(entry_set_target(&e, "leaf.txt", 8), 0);
	e.type = ENTRY_SYMLINK;
	e.mtime_ns = 42;
	CHECK(tree_writer_symlink(f.w, &e, &eb) >= 0);
	dfd = open_long_dir(f.rootfd, LONG_LEVELS);
	CHECK(dfd >= 0);
	if (dfd >= 0) {
		CHECK_EQ(fstatat(dfd, "ln", &st, AT_SYMLINK_NOFOLLOW), 0);
		CHECK(S_ISLNK(st.st_mode));
		close(dfd);
	}
	CHECK_EQ(tree_writer_remove(f.w, &e, &eb), 0);
	entry_release(&e);

	len = long_name(name, sizeof(name), LONG_LEVELS, "leaf.txt");
	entry_init(&e);
	CHECK_EQ(entry_set_name(&e, name, len), 0);
	e.type = ENTRY_FILE;
	e.mode = 0600;
	e.mtime_ns = 7;
	CHECK_EQ(tree_writer_set_meta(f.w, &e, &eb), 0);
	dfd = open_long_dir(f.rootfd, LONG_LEVELS);
	if (dfd >= 0) {
		CHECK_EQ(fstatat(dfd, "leaf.txt", &st, AT_SYMLINK_NOFOLLOW), 0);
		CHECK_EQ(st.st_mode & 07777, 0600);
		CHECK_EQ(mtime_ns_of(&st), 7);
		close(dfd);
	}
	CHECK_EQ(tree_writer_remove(f.w, &e, &eb), 0);
	CHECK_EQ(tree_writer_prune_parents(f.w, e.name, e.name_len, -1, &eb),
		 0);
	CHECK_EQ(eb.code, 0);
	/* every level was empty: all gone, the root stays */
	CHECK_EQ(count_in(f.rootfd, NULL), 0);
	entry_release(&e);

	/* a deep directory entry */
	len = long_name(name, sizeof(name), LONG_LEVELS - 1, "lastdir");
	entry_init(&e);
	CHECK_EQ(entry_set_name(&e, name, len), 0);
	e.type = ENTRY_DIR;
	e.mode = 0711;
	e.mtime_ns = 99;
	CHECK_EQ(tree_writer_mkdir(f.w, &e, true, &eb), 1);
	dfd = open_long_dir(f.rootfd, LONG_LEVELS - 1);
	if (dfd >= 0) {
		CHECK_EQ(fstatat(dfd, "lastdir", &st, AT_SYMLINK_NOFOLLOW), 0);
		CHECK(S_ISDIR(st.st_mode));
		CHECK_EQ(st.st_mode & 07777, 0711);
		CHECK_EQ(mtime_ns_of(&st), 99);
		close(dfd);
	} else {
		CHECK(0);
	}
	entry_release(&e);
	fixture_close(&f);
}

/* Temps left behind by an earlier run that had the same pid (a crash;
 * pids repeat, in containers often exactly) must not stop new writes.
 * Runs first, so the writer's temp counter is still at its start. */
static void test_leftover_temp(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct fixture f;
	struct entry e;
	char p[512], name[64];
	struct stat st;
	int i, fd;

	if (fixture_open(&f, "leftover")) {
		CHECK(0);
		return;
	}
	for (i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), TMP_PREFIX "%d-%d", (int)getpid(),
			 i);
		fd = openat(f.rootfd, name, O_WRONLY | O_CREAT | O_EXCL, 0600);
		CHECK(fd >= 0);
		if (fd >= 0)
			close(fd);
	}
	mk_entry(&e, ENTRY_FILE, "after-crash", 0644, 0, NULL);
	CHECK_EQ(put_file(&f, &e, "ok", &eb), 0);
	if (eb.code)
		fprintf(stderr, "  %s\n", eb.msg);
	path_in(p, sizeof(p), f.root, "after-crash");
	CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode));
	entry_release(&e);
	errbuf_clear(&eb);
	mk_entry(&e, ENTRY_SYMLINK, "link-after-crash", 0777, 0, "x");
	CHECK(tree_writer_symlink(f.w, &e, &eb) >= 0);
	if (eb.code)
		fprintf(stderr, "  %s\n", eb.msg);
	entry_release(&e);
	fixture_close(&f);
}

static void test_new_and_free(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct tree_writer *w = NULL;
	int fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	CHECK(fd >= 0);
	CHECK_EQ(tree_writer_new(fd, "/tmp", &w, &eb), 0);
	CHECK(w != NULL);
	tree_writer_free(w);
	tree_writer_free(NULL);
	close(fd);
}

/* The final name is a directory: publish fails, the directory and its
 * contents stay, the temp is gone. */
static void test_publish_over_directory(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct fixture f;
	struct entry e;
	char p[512];
	struct stat st;

	if (fixture_open(&f, "overdir")) {
		CHECK(0);
		return;
	}
	path_in(p, sizeof(p), f.root, "d");
	CHECK_EQ(mkdir(p, 0755), 0);
	path_in(p, sizeof(p), f.root, "d/inside");
	CHECK_EQ(write_file(p, "i", 0644), 0);
	mk_entry(&e, ENTRY_FILE, "d", 0644, 0, NULL);
	CHECK(put_file(&f, &e, "file", &eb) < 0);
	CHECK(eb.code < 0);
	CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode));
	path_in(p, sizeof(p), f.root, "d");
	CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_EQ(count_in(f.rootfd, TMP_PREFIX), 0);
	entry_release(&e);
	fixture_close(&f);
}

static void test_parent(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct fixture f;
	struct stat a, b;
	size_t off = 99;
	char p[512];
	int dirfd = -1;

	if (fixture_open(&f, "parent")) {
		CHECK(0);
		return;
	}
	/* without create a missing parent is -ENOENT, nothing made */
	CHECK_ERR(tree_writer_parent(f.w, "x/y/z", 5, false, &dirfd, &off,
				     &eb), ENOENT);
	CHECK_EQ(count_in(f.rootfd, NULL), 0);
	errbuf_clear(&eb);
	CHECK_EQ(tree_writer_parent(f.w, "x/y/z", 5, true, &dirfd, &off,
				    &eb), 0);
	CHECK_EQ(off, 4);
	path_in(p, sizeof(p), f.root, "x/y");
	CHECK(fstat(dirfd, &a) == 0 && lstat(p, &b) == 0 &&
	      a.st_ino == b.st_ino);
	/* len is honoured: only "x/y" of "x/y/z" is looked at */
	CHECK_EQ(tree_writer_parent(f.w, "x/y/z", 3, true, &dirfd, &off,
				    &eb), 0);
	CHECK_EQ(off, 2);
	path_in(p, sizeof(p), f.root, "x");
	CHECK(fstat(dirfd, &a) == 0 && lstat(p, &b) == 0 &&
	      a.st_ino == b.st_ino);
	/* a top-level name: the root fd itself */
	CHECK_EQ(tree_writer_parent(f.w, "top", 3, false, &dirfd, &off, &eb),
		 0);
	CHECK_EQ(dirfd, f.rootfd);
	CHECK_EQ(off, 0);
	fixture_close(&f);
}

int main(void)
{
	char cmd[160];

	umask(022);
	snprintf(base_dir, sizeof(base_dir), "/tmp/test_tree_writer.XXXXXX");
	if (!mkdtemp(base_dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN_TEST(test_leftover_temp);
	RUN_TEST(test_new_and_free);
	RUN_TEST(test_publish_file);
	RUN_TEST(test_temp_readable);
	RUN_TEST(test_planted_parent_symlink);
	RUN_TEST(test_publish_replaces_symlink);
	RUN_TEST(test_publish_over_directory);
	RUN_TEST(test_parent);
	RUN_TEST(test_symlink_entries);
	RUN_TEST(test_mkdir);
	RUN_TEST(test_set_meta_no_follow);
	RUN_TEST(test_remove);
	RUN_TEST(test_prune_parents);
	RUN_TEST(test_long_paths);
	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s'; rm -rf '%s'",
		 base_dir, base_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", base_dir);
	return test_finish();
}
