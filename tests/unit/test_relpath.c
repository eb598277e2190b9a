/* test_relpath: opening names below a root fd without following a symlink
 * in the last component, also past PATH_MAX (engine/core/relpath.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relpath.h"
#include "test.h"

#define COMP 200

static char root[64];
static int rootfd = -1;

static int write_at(int dirfd, const char *name, const char *data)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			0644);
	size_t len = strlen(data);

	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static bool fd_has(int fd, const char *data)
{
	char buf[64];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);

	return n == (ssize_t)strlen(data) && !memcmp(buf, data, (size_t)n);
}

static bool same_file(int fd, int dirfd, const char *name)
{
	struct stat a, b;

	if (fstat(fd, &a) || fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW))
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Build `levels` nested directories of COMP-byte names (letter by level)
 * below rootfd under top, return an fd of the deepest and write the
 * relative name "top/ccc.../ddd.../" into name (with a trailing '/'). */
static int make_deep(const char *top, int levels, char *name, size_t cap,
		     size_t *len)
{
	char comp[COMP + 1];
	int cur, fd, i;

	*len = (size_t)snprintf(name, cap, "%s/", top);
	if (mkdirat(rootfd, top, 0755) && errno != EEXIST)
		return -1;
	cur = openat(rootfd, top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (i = 0; i < levels && cur >= 0; i++) {
		memset(comp, 'c' + (i % 20), COMP);
		comp[COMP] = '\0';
		if (mkdirat(cur, comp, 0755) && errno != EEXIST) {
			close(cur);
			return -1;
		}
		fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(cur);
		cur = fd;
		if (*len + COMP + 2 >= cap) {
			close(cur);
			return -1;
		}
		memcpy(name + *len, comp, COMP);
		*len += COMP;
		name[(*len)++] = '/';
		name[*len] = '\0';
	}
	return cur;
}

static void test_short(void)
{
	const char *base = NULL;
	int fd, d;

	CHECK_EQ(mkdirat(rootfd, "s", 0755), 0);
	CHECK_EQ(mkdirat(rootfd, "s/t", 0755), 0);
	CHECK_EQ(write_at(rootfd, "s/t/file", "short"), 0);
	CHECK_EQ(write_at(rootfd, "top", "top"), 0);

	fd = relpath_open(rootfd, "s/t/file", 8, O_RDONLY);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(fd_has(fd, "short"));
		/* O_CLOEXEC is added */
		CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		close(fd);
	}
	fd = relpath_open(rootfd, "top", 3, O_RDONLY);
	CHECK(fd >= 0 && fd_has(fd, "top"));
	if (fd >= 0)
		close(fd);
	/* a directory */
	fd = relpath_open(rootfd, "s/t", 3, O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(same_file(fd, rootfd, "s/t"));
		close(fd);
	}
	CHECK_ERR(relpath_open(rootfd, "s/t/none", 8, O_RDONLY), ENOENT);
	CHECK_ERR(relpath_open(rootfd, "top/x", 5, O_RDONLY), ENOTDIR);

	/* the parent of a nested and of a top-level name */
	d = relpath_open_parent(rootfd, "s/t/file", 8, &base);
	CHECK(d >= 0);
	if (d >= 0) {
		CHECK(same_file(d, rootfd, "s/t"));
		close(d);
	}
	CHECK(base != NULL && !strcmp(base, "file"));
	base = NULL;
	{
		static const char top[] = "top";

		d = relpath_open_parent(rootfd, top, 3, &base);
		CHECK(d >= 0);
		/* a new fd, not rootfd itself (the caller closes it) */
		CHECK(d != rootfd);
		if (d >= 0) {
			struct stat a, b;

			CHECK(fstat(d, &a) == 0 && fstat(rootfd, &b) == 0 &&
			      a.st_ino == b.st_ino && a.st_dev == b.st_dev);
			close(d);
		}
		CHECK(base == top);
	}
	CHECK_ERR(relpath_open_parent(rootfd, "nope/x", 6, &base), ENOENT);
	CHECK_ERR(relpath_open_parent(rootfd, "top/x", 5, &base), ENOTDIR);
}

static void test_symlink_last(void)
{
	const char *base;
	int fd, d;

	CHECK_EQ(symlinkat("s/t/file", rootfd, "lnk"), 0);
	CHECK_EQ(symlinkat("file", rootfd, "s/t/lnk2"), 0);
	CHECK_ERR(relpath_open(rootfd, "lnk", 3, O_RDONLY), ELOOP);
	CHECK_ERR(relpath_open(rootfd, "s/t/lnk2", 8, O_RDONLY), ELOOP);
	/* even when the caller asked for a directory */
	CHECK_EQ(symlinkat("s", rootfd, "dlnk"), 0);
	fd = relpath_open(rootfd, "dlnk", 4, O_RDONLY | O_DIRECTORY);
	CHECK(fd == -ELOOP || fd == -ENOTDIR);
	if (fd >= 0)
		close(fd);
	/* open_parent does not look at the last component */
	d = relpath_open_parent(rootfd, "s/t/lnk2", 8, &base);
	CHECK(d >= 0);
	CHECK(!strcmp(base, "lnk2"));
	if (d >= 0)
		close(d);
}

static void check_long(size_t levels)
{
	static char name[32 * (COMP + 1) + 64];
	char top[16];
	const char *base = NULL;
	size_t len;
	int deep, fd, d;

	snprintf(top, sizeof(top), "L%zu", levels);
	deep = make_deep(top, (int)levels, name, sizeof(name), &len);
	CHECK(deep >= 0);
	if (deep < 0)
		return;
	CHECK_EQ(write_at(deep, "leaf", "deep"), 0);
	CHECK_EQ(symlinkat("leaf", deep, "leaflnk"), 0);
	memcpy(name + len, "leaf", 5);

	fd = relpath_open(rootfd, name, len + 4, O_RDONLY);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(fd_has(fd, "deep"));
		CHECK(same_file(fd, deep, "leaf"));
		close(fd);
	}
	d = relpath_open_parent(rootfd, name, len + 4, &base);
	CHECK(d >= 0);
	CHECK(base == name + len);
	if (d >= 0) {
		struct stat a, b;

		CHECK(fstat(d, &a) == 0 && fstat(deep, &b) == 0 &&
		      a.st_ino == b.st_ino);
		close(d);
	}

	/* the last component is a symlink */
	memcpy(name + len, "leaflnk", 8);
	CHECK_ERR(relpath_open(rootfd, name, len + 7, O_RDONLY), ELOOP);

	/* missing */
	memcpy(name + len, "none", 5);
	CHECK_ERR(relpath_open(rootfd, name, len + 4, O_RDONLY), ENOENT);
	close(deep);
}

static void test_long(void)
{
	/* 21 levels: > RELPATH_DIRECT_MAX and > PATH_MAX */
	check_long(21);
	/* just below and around RELPATH_DIRECT_MAX */
	check_long(19);
	check_long(20);
	check_long(25);
}

/* Names of exactly RELPATH_DIRECT_MAX - 1, RELPATH_DIRECT_MAX and PATH_MAX
 * bytes, built from shorter components to hit the lengths exactly. */
static void test_boundaries(void)
{
	static const size_t want[] = { RELPATH_DIRECT_MAX - 1,
				       RELPATH_DIRECT_MAX, PATH_MAX - 1,
				       PATH_MAX, PATH_MAX + 1 };
	size_t k;

	CHECK_EQ(mkdirat(rootfd, "B", 0755), 0);
	for (k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		static char name[PATH_MAX + 64];
		char comp[256];
		size_t len = 2, leaf;
		int cur = openat(rootfd, "B", O_RDONLY | O_DIRECTORY), fd, i;

		memcpy(name, "B/", 2);
		/* directories of 100 bytes, then a leaf making up the rest */
		for (i = 0; cur >= 0 && len + 101 + 20 <= want[k]; i++) {
			int nfd;

			snprintf(comp, sizeof(comp), "%zu-%03d-", k, i);
			memset(comp + strlen(comp), 'd', 100 - strlen(comp));
			comp[100] = '\0';
			if (mkdirat(cur, comp, 0755) && errno != EEXIST)
				break;
			nfd = openat(cur, comp, O_RDONLY | O_DIRECTORY);
			close(cur);
			cur = nfd;
			memcpy(name + len, comp, 100);
			len += 100;
			name[len++] = '/';
		}
		CHECK(cur >= 0);
		if (cur < 0)
			return;
		leaf = want[k] - len;
		CHECK(leaf >= 20 && leaf < 255);
		memset(comp, 'f', leaf);
		comp[leaf] = '\0';
		memcpy(name + len, comp, leaf + 1);
		len += leaf;
		CHECK_EQ(len, want[k]);
		CHECK_EQ(write_at(cur, comp, "edge"), 0);
		fd = relpath_open(rootfd, name, len, O_RDONLY);
		if (fd < 0)
			fprintf(stderr, "length %zu: %s\n", len,
				strerror(-fd));
		CHECK(fd >= 0);
		if (fd >= 0) {
			CHECK(fd_has(fd, "edge"));
			close(fd);
		}
		close(cur);
	}
}

/* A symlink as an intermediate component of a long name: the walk refuses
 * it (it would leave the tree). */
static void test_long_intermediate_symlink(void)
{
	static char name[32 * (COMP + 1) + 64];
	char comp[COMP + 1], outside[128];
	const char *base;
	size_t len;
	int deep, fd;

	/* outside/leaf exists, so following the link would succeed */
	snprintf(outside, sizeof(outside), "%s/outside", root);
	CHECK_EQ(mkdirat(rootfd, "outside", 0755), 0);
	CHECK_EQ(write_at(rootfd, "outside/leaf", "OUT"), 0);

	deep = make_deep("M", 21, name, sizeof(name), &len);
	CHECK(deep >= 0);
	if (deep < 0)
		return;
	/* M/<20 levels>/<link> -> outside, then "<link>/leaf" */
	memset(comp, 'z', COMP);
	comp[COMP] = '\0';
	CHECK_EQ(symlinkat(outside, deep, comp), 0);
	memcpy(name + len, comp, COMP);
	len += COMP;
	memcpy(name + len, "/leaf", 6);
	len += 5;
	fd = relpath_open(rootfd, name, len, O_RDONLY);
	CHECK(fd == -ELOOP || fd == -ENOTDIR);
	if (fd >= 0) {
		fprintf(stderr, "followed an intermediate symlink\n");
		close(fd);
	}
	fd = relpath_open_parent(rootfd, name, len, &base);
	CHECK(fd == -ELOOP || fd == -ENOTDIR);
	if (fd >= 0)
		close(fd);

	/* a symlink near the top of the long name */
	CHECK_EQ(symlinkat("M", rootfd, "Mlink"), 0);
	memmove(name + 5, name + 1, len);
	memcpy(name, "Mlink", 5);
	len += 4;
	fd = relpath_open(rootfd, name, len, O_RDONLY);
	CHECK(fd == -ELOOP || fd == -ENOTDIR);
	if (fd >= 0)
		close(fd);
	close(deep);
}

static void test_component_too_long(void)
{
	static char name[4200];
	const char *base;

	/* a 300-byte component in a name long enough for the walk */
	memset(name, 'q', sizeof(name));
	name[300] = '/';
	name[4100] = '\0';
	CHECK_ERR(relpath_open(rootfd, name, 4100, O_RDONLY), ENAMETOOLONG);
	CHECK_ERR(relpath_open_parent(rootfd, name, 4100, &base),
		  ENAMETOOLONG);
}

int main(void)
{
	char cmd[128];

	snprintf(root, sizeof(root), "/tmp/test_relpath.XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		perror("open");
		return 1;
	}
	RUN_TEST(test_short);
	RUN_TEST(test_symlink_last);
	RUN_TEST(test_long);
	RUN_TEST(test_boundaries);
	RUN_TEST(test_long_intermediate_symlink);
	RUN_TEST(test_component_too_long);
	close(rootfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", root);
	return test_finish();
}
