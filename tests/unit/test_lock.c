/* Unit test of the repository lock (engine/ops/lock.c) on a local
 * SNAP_ROOT: shared locks coexist, exclusive excludes, stale locks are
 * taken over, a lost lock is noticed. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "lock.h"
#include "test.h"

static char root[256];

static int count_locks(const char *prefix)
{
	char dir[300];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/locks", root);
	d = opendir(dir);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' &&
		    !strncmp(de->d_name, prefix, strlen(prefix)))
			n++;
	closedir(d);
	return n;
}

static void plant(const char *name, const char *kind, long long age_s)
{
	char path[400];
	FILE *f;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(path, sizeof(path), "%s/locks/%s", root, name);
	f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "{\"kind\":\"%s\",\"command\":\"test\",\"host\":\"h1\","
		"\"pid\":42,\"created_ns\":1,\"refreshed_ns\":%lld}\n", kind,
		(long long)ts.tv_sec * 1000000000LL -
		age_s * 1000000000LL);
	fclose(f);
}

static void remove_all(void)
{
	char dir[300], path[600];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/locks", root);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
}

static void test_shared_exclusive(void)
{
	struct engine_opts o;
	struct errbuf eb = ERRBUF_INIT;
	struct lock *a = NULL, *b = NULL, *x = NULL;

	memset(&o, 0, sizeof(o));
	engine_opts_defaults(&o);
	o.snap_root = root;
	errbuf_clear(&eb);
	CHECK_EQ(lock_acquire(&o, LOCK_SHARED, "make-snapshot", &a, &eb), 0);
	errbuf_clear(&eb);
	CHECK_EQ(lock_acquire(&o, LOCK_SHARED, "restore-snapshot", &b, &eb),
		 0);
	CHECK_EQ(count_locks("shared-"), 2);
	errbuf_clear(&eb);
	CHECK_EQ(lock_acquire(&o, LOCK_EXCLUSIVE, "gc", &x, &eb), -EBUSY);
	CHECK(x == NULL);
	CHECK(strstr(eb.msg, "shared lock") != NULL);
	CHECK(strstr(eb.msg, "pid") != NULL);
	/* the refused run left nothing */
	CHECK_EQ(count_locks("exclusive-"), 0);
	errbuf_clear(&eb);
	CHECK_EQ(lock_check(a, &eb), 0);
	lock_release(a);
	lock_release(b);
	CHECK_EQ(count_locks("shared-"), 0);
	errbuf_clear(&eb);
	CHECK_EQ(lock_acquire(&o, LOCK_EXCLUSIVE, "gc", &x, &eb), 0);
	errbuf_clear(&eb);
	CHECK_EQ(lock_acquire(&o, LOCK_SHARED, "make-snapshot", &a, &eb),
		 -EBUSY);
	CHECK(strstr(eb.msg, "gc (exclusive lock)") != NULL);
	errbuf_clear(&eb);
	CHECK_EQ(lock_acquire(&o, LOCK_EXCLUSIVE, "gc", &b, &eb), -EBUSY);
	lock_release(x);
	CHECK_EQ(count_locks(""), 0);
}

static void test_stale_and_lost(void)
{
	struct engine_opts o;
	struct errbuf eb = ERRBUF_INIT;
	struct lock *a = NULL, *x = NULL;
	char path[400];
	struct dirent *de;
	DIR *d;

	memset(&o, 0, sizeof(o));
	engine_opts_defaults(&o);
	o.snap_root = root;
	o.lock_expiry_s = 60;
	o.lock_refresh_s = 20;
	/* a live shared lock of another host blocks gc; a stale one not */
	plant("shared-00000000000000aa.lock", "shared", 10);
	errbuf_clear(&eb);
	CHECK_EQ(lock_acquire(&o, LOCK_EXCLUSIVE, "gc", &x, &eb), -EBUSY);
	CHECK(strstr(eb.msg, "host 'h1', pid 42") != NULL);
	remove_all();
	plant("shared-00000000000000aa.lock", "shared", 120);
	errbuf_clear(&eb);
	CHECK_EQ(lock_acquire(&o, LOCK_EXCLUSIVE, "gc", &x, &eb), 0);
	CHECK_EQ(count_locks("shared-"), 0);
	lock_release(x);
	/* a stale exclusive lock does not block a backup */
	plant("exclusive-00000000000000bb.lock", "exclusive", 120);
	errbuf_clear(&eb);
	CHECK_EQ(lock_acquire(&o, LOCK_SHARED, "make-snapshot", &a, &eb), 0);
	CHECK_EQ(count_locks("exclusive-"), 0);
	errbuf_clear(&eb);
	CHECK_EQ(lock_check(a, &eb), 0);
	/* someone removed ours as stale: lock_check refuses */
	snprintf(path, sizeof(path), "%s/locks", root);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		if (!strncmp(de->d_name, "shared-", 7)) {
			char p2[700];

			snprintf(p2, sizeof(p2), "%s/%s", path, de->d_name);
			unlink(p2);
		}
	}
	if (d)
		closedir(d);
	errbuf_clear(&eb);
	CHECK_EQ(lock_check(a, &eb), -ESTALE);
	CHECK(strstr(eb.msg, "lost the lock") != NULL);
	lock_release(a);
	errbuf_clear(&eb);
	CHECK_EQ(lock_acquire(NULL, LOCK_SHARED, "x", &a, &eb), -EINVAL);
}

/* The expiry cut in thirds: refreshes at most a third apart (at least
 * 1 s), a holder stops publishing past two thirds. A refresh of 1 s with
 * an expiry of 2 s (test_crash's settings) tolerated no lateness at all
 * before: 1.2 s since the last refresh failed the run. */
static void test_refresh_thirds(void)
{
	CHECK_EQ(lock_refresh_period(1800, 0), 300);
	CHECK_EQ(lock_refresh_period(1800, 600), 600);
	CHECK_EQ(lock_refresh_period(1800, 900), 600);
	CHECK_EQ(lock_refresh_period(60, 20), 20);
	CHECK_EQ(lock_refresh_period(60, 59), 20);
	CHECK_EQ(lock_refresh_period(3, 1), 1);
	CHECK_EQ(lock_refresh_period(2, 1), 1);
	CHECK_EQ(lock_refresh_period(1, 5), 1);
	CHECK(!lock_refresh_too_old(1.2, 2));
	CHECK(lock_refresh_too_old(1.4, 2));
	CHECK(!lock_refresh_too_old(1.9, 3));
	CHECK(lock_refresh_too_old(2.1, 3));
	CHECK(!lock_refresh_too_old(300.5, 1800));
	CHECK(!lock_refresh_too_old(1199.0, 1800));
	CHECK(lock_refresh_too_old(1201.0, 1800));
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	char cmd[600];
	int rc;

	snprintf(root, sizeof(root), "%s/test_lock.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root))
		return 1;
	/* SNAP_ROOT itself may not exist yet */
	strncat(root, "/snap", sizeof(root) - strlen(root) - 1);
	RUN_TEST(test_shared_exclusive);
	RUN_TEST(test_stale_and_lost);
	RUN_TEST(test_refresh_thirds);
	rc = test_finish();
	snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strlen(root) - 5),
		 root);
	if (system(cmd))
		rc = rc ? rc : 1;
	return rc;
}
