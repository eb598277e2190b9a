/* test_snapshot_shape: one type per name, nothing under a non-directory,
 * over sorted entry streams (directories sort as "name/"). */
#include <errno.h>
#include <string.h>

#include "entry.h"
#include "errbuf.h"
#include "snapshot_shape.h"
#include "test.h"

/* Feed "f:name", "l:name", "d:name" in order; the index of the entry
 * refused (-1: none) and its message in msg. */
static int feed(const char *const *items, size_t n, char *msg, size_t cap)
{
	struct snapshot_shape *s = NULL;
	struct errbuf eb = ERRBUF_INIT;
	int bad = -1;
	size_t i;

	CHECK_EQ(snapshot_shape_new(&s, &eb), 0);
	for (i = 0; i < n && bad < 0; i++) {
		struct entry e;

		memset(&e, 0, sizeof(e));
		e.type = items[i][0] == 'f' ? ENTRY_FILE :
			 items[i][0] == 'l' ? ENTRY_SYMLINK : ENTRY_DIR;
		e.name = (char *)items[i] + 2;
		e.name_len = strlen(e.name);
		if (snapshot_shape_add(s, &e, &eb) < 0) {
			CHECK_EQ(eb.code, -EBADMSG);
			bad = (int)i;
		}
	}
	snprintf(msg, cap, "%s", eb.msg);
	snapshot_shape_free(s);
	return bad;
}

#define FEED(arr, msg) feed(arr, sizeof(arr) / sizeof(arr[0]), msg, \
			    sizeof(msg))

static void test_sound_trees(void)
{
	static const char *const a[] = {
		"f:a", "f:a-b", "f:a.txt", "d:a0", "d:b", "f:b/a", "d:b/c",
		"f:b/c/x", "l:b/d", "f:b/d-x", "f:b/d.y", "f:b/e", "f:c",
	};
	static const char *const dup[] = { "f:a", "f:a", "d:d", "d:d" };
	char msg[sizeof(((struct errbuf *)0)->msg)];

	CHECK_EQ(FEED(a, msg), -1);
	/* exact duplicates are the caller's concern */
	CHECK_EQ(FEED(dup, msg), -1);
}

static void test_two_types(void)
{
	static const char *const fd[] = { "f:a", "f:a.b", "d:a" };
	static const char *const fl[] = { "f:x", "l:x" };
	static const char *const ld[] = { "l:a", "d:a", "f:a/x" };
	char msg[sizeof(((struct errbuf *)0)->msg)];

	CHECK_EQ(FEED(fd, msg), 2);
	CHECK_STREQ(msg, "'a' is listed both as a file and as a directory");
	CHECK_EQ(FEED(fl, msg), 1);
	CHECK_STREQ(msg, "'x' is listed both as a file and as a symlink");
	CHECK_EQ(FEED(ld, msg), 1);
	CHECK_STREQ(msg, "'a' is listed both as a symlink and as a directory");
}

static void test_under_non_dir(void)
{
	static const char *const lf[] = { "l:a", "f:a/x" };
	static const char *const deep[] = {
		"f:p", "f:p!", "l:p-", "f:p-.", "f:p-/q", "f:p/r",
	};
	static const char *const later[] = {
		"f:k", "f:k-1", "f:k-2", "f:k.z", "d:k/d",
	};
	static const char *const nested[] = { "d:a", "f:a/b", "f:a/b/c" };
	char msg[sizeof(((struct errbuf *)0)->msg)];

	CHECK_EQ(FEED(lf, msg), 1);
	CHECK_STREQ(msg, "'a' is a symlink, yet 'a/x' (a file) is listed "
		    "under it");
	/* "p-" stays open across "p-." */
	CHECK_EQ(FEED(deep, msg), 4);
	CHECK_STREQ(msg, "'p-' is a symlink, yet 'p-/q' (a file) is listed "
		    "under it");
	CHECK_EQ(FEED(later, msg), 4);
	CHECK_STREQ(msg, "'k' is a file, yet 'k/d' (a directory) is listed "
		    "under it");
	CHECK_EQ(FEED(nested, msg), 2);
	CHECK_STREQ(msg, "'a/b' is a file, yet 'a/b/c' (a file) is listed "
		    "under it");
}

/* a long chain of open candidates ("n", "n!", "n!!", ...) stays bounded
 * by the name length and still catches the first one */
static void test_long_chain(void)
{
	struct snapshot_shape *s = NULL;
	struct errbuf eb = ERRBUF_INIT;
	char name[600];
	struct entry e;
	size_t i;

	CHECK_EQ(snapshot_shape_new(&s, &eb), 0);
	memset(&e, 0, sizeof(e));
	e.type = ENTRY_FILE;
	e.name = name;
	name[0] = 'n';
	for (i = 1; i < 500; i++) {
		e.name_len = i;
		CHECK_EQ(snapshot_shape_add(s, &e, &eb), 0);
		name[i] = '!';
	}
	memcpy(name, "n/x", 3);
	e.name_len = 3;
	CHECK_EQ(snapshot_shape_add(s, &e, &eb), -EBADMSG);
	CHECK_STREQ(eb.msg, "'n' is a file, yet 'n/x' (a file) is listed "
		    "under it");
	snapshot_shape_free(s);
}

int main(void)
{
	RUN_TEST(test_sound_trees);
	RUN_TEST(test_two_types);
	RUN_TEST(test_under_non_dir);
	RUN_TEST(test_long_chain);
	return test_finish();
}
