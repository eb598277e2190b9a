/* test_tree_temp: the temp name form and the leftover rule: a file whose
 * flock can be taken and a symlink whose pid is gone are removed, a held
 * file (also a hard link whose inode a writer holds shared), a symlink of
 * a live pid and any other name are kept. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tree_temp.h"
#include "test.h"

static void test_names(void)
{
	char n[TREE_TEMP_NAME_MAX], m[TREE_TEMP_NAME_MAX];

	tree_temp_name(n);
	tree_temp_name(m);
	CHECK(tree_temp_is_name(n, strlen(n)));
	CHECK(strcmp(n, m) != 0);
	CHECK(tree_temp_is_name(".snapshooter-tmp-1-0-0123456789abcdef", 37));
	CHECK(!tree_temp_is_name(".snapshooter-tmp-1-0-0123456789abcde", 36));
	CHECK(!tree_temp_is_name(".snapshooter-tmp-1-0-0123456789ABCDEF", 37));
	CHECK(!tree_temp_is_name(".snapshooter-tmp-x-0-0123456789abcdef", 37));
	CHECK(!tree_temp_is_name(".snapshooter-tmp-0-0-0123456789abcdef", 37));
	CHECK(!tree_temp_is_name("snapshooter-tmp-1-0-0123456789abcdef", 36));
	CHECK(!tree_temp_is_name("notes.txt", 9));
}

static bool exists(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void test_reap(void)
{
	char dir[] = "/tmp/test_tree_temp.XXXXXX", live_l[TREE_TEMP_NAME_MAX];
	const char *stale_f = ".snapshooter-tmp-99999999-1-00000000000000a1";
	const char *held_f = ".snapshooter-tmp-99999999-2-00000000000000a2";
	const char *stale_l = ".snapshooter-tmp-99999999-3-00000000000000a3";
	int dfd, fd, held;

	if (!mkdtemp(dir))
		TEST_SKIP("mkdtemp");
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0);
	/* not a temp: 0, untouched */
	fd = openat(dfd, "plain", O_CREAT | O_WRONLY, 0644);
	close(fd);
	CHECK_EQ(tree_temp_reap(dfd, "plain"), 0);
	CHECK(exists(dfd, "plain"));
	/* a file nobody holds: a leftover */
	fd = openat(dfd, stale_f, O_CREAT | O_WRONLY, 0644);
	close(fd);
	CHECK_EQ(tree_temp_reap(dfd, stale_f), 1);
	CHECK(!exists(dfd, stale_f));
	/* a file held by a live writer (another open file description) */
	held = openat(dfd, held_f, O_CREAT | O_WRONLY, 0644);
	CHECK_EQ(flock(held, LOCK_EX), 0);
	CHECK_EQ(tree_temp_reap(dfd, held_f), 1);
	CHECK(exists(dfd, held_f));
	close(held);  /* the writer dies */
	CHECK_EQ(tree_temp_reap(dfd, held_f), 1);
	CHECK(!exists(dfd, held_f));
	/* a hard link's temp: its writer holds a shared lock on the group's
	 * inode through the first member (tree_writer_link) */
	fd = openat(dfd, "first", O_CREAT | O_WRONLY, 0644);
	close(fd);
	held = openat(dfd, "first", O_RDONLY);
	CHECK_EQ(flock(held, LOCK_SH), 0);
	CHECK_EQ(linkat(dfd, "first", dfd, held_f, 0), 0);
	CHECK_EQ(tree_temp_reap(dfd, held_f), 1);
	CHECK(exists(dfd, held_f));
	close(held);
	CHECK_EQ(tree_temp_reap(dfd, held_f), 1);
	CHECK(!exists(dfd, held_f));
	CHECK(exists(dfd, "first"));
	unlinkat(dfd, "first", 0);
	/* symlinks: judged by the pid in the name */
	CHECK_EQ(symlinkat("plain", dfd, stale_l), 0);
	CHECK_EQ(tree_temp_reap(dfd, stale_l), 1);
	CHECK(!exists(dfd, stale_l));
	snprintf(live_l, sizeof(live_l),
		 ".snapshooter-tmp-%d-4-00000000000000a4", (int)getpid());
	CHECK_EQ(symlinkat("plain", dfd, live_l), 0);
	CHECK_EQ(tree_temp_reap(dfd, live_l), 1);
	CHECK(exists(dfd, live_l));
	unlinkat(dfd, live_l, 0);
	unlinkat(dfd, "plain", 0);
	close(dfd);
	CHECK_EQ(rmdir(dir), 0);
}

int main(void)
{
	RUN_TEST(test_names);
	RUN_TEST(test_reap);
	return test_finish();
}
