/* test_snapstore: snapshot names, listing order, latest-before, atomic
 * commit/abort and refusal to overwrite, on real temp directories. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "entry.h"
#include "errbuf.h"
#include "snapshot_reader.h"
#include "snapshot_writer.h"
#include "snapstore.h"
#include "test.h"

#include "banned.h"

static char root[256];

/* the store handle of a root, opened on first use, freed at exit (a tx
 * refers to its store, so handles live as long as the test) */
#define STORES_MAX 64
static struct snapstore *stores[STORES_MAX];
static int nstores;

static void stores_free(void)
{
	while (nstores > 0)
		snapstore_free(stores[--nstores]);
}

static struct snapstore *S(const char *dir)
{
	struct errbuf eb = ERRBUF_INIT;
	struct snapstore *ss = NULL;

	if (nstores == STORES_MAX || snapstore_open(dir, NULL, NULL, &ss, &eb)) {
		fprintf(stderr, "snapstore_open '%s': %s\n", dir, eb.msg);
		exit(1);
	}
	if (nstores == 0)
		atexit(stores_free);
	stores[nstores++] = ss;
	return ss;
}

static void touch(const char *rel)
{
	char path[512];
	char dir[512];
	char *slash;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	for (slash = strchr(dir + strlen(root) + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(dir, 0755);
		*slash = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK_EQ(write(fd, "x", 1), 1);
		close(fd);
	}
}

static void rm_rf(const char *path)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	CHECK_EQ(system(cmd), 0);
}

static size_t count_files(const char *dir, const char *prefix)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (!strncmp(de->d_name, prefix, strlen(prefix)))
			n++;
	closedir(d);
	return n;
}

static void test_names(void)
{
	char buf[SNAPSTORE_NAME_MAX];
	int64_t t = 0;

	CHECK_EQ(snapstore_format_name(0, SNAPSHOT_FORMAT_MSGPACK, buf, sizeof(buf)), 43);
	CHECK_STREQ(buf, "1970/01/1970-01-01_00-00-00_000000Z.msgpack");
	CHECK(snapstore_format_name(1700000000123456789LL, SNAPSHOT_FORMAT_MSGPACK, buf, sizeof(buf)) > 0);
	CHECK_STREQ(buf, "2023/11/2023-11-14_22-13-20_123456Z.msgpack");
	CHECK(snapstore_format_name(-1, SNAPSHOT_FORMAT_MSGPACK, buf, sizeof(buf)) > 0);
	CHECK_STREQ(buf, "1969/12/1969-12-31_23-59-59_999999Z.msgpack");
	CHECK(snapstore_format_name(951782400000000000LL, SNAPSHOT_FORMAT_MSGPACK, buf, sizeof(buf)) > 0);
	CHECK_STREQ(buf, "2000/02/2000-02-29_00-00-00_000000Z.msgpack");
	CHECK_ERR(snapstore_format_name(0, SNAPSHOT_FORMAT_MSGPACK, buf, 10), ENAMETOOLONG);
	CHECK_ERR(snapstore_format_name(0, SNAPSHOT_FORMAT_MSGPACK, buf, 0), EINVAL);

	CHECK_EQ(snapstore_parse_name("2023-11-14_22-13-20_123456Z.msgpack", &t, NULL), 0);
	CHECK_EQ(t, 1700000000123456000LL);
	CHECK_EQ(snapstore_parse_name("1969-12-31_23-59-59_999999Z.msgpack", &t, NULL), 0);
	CHECK_EQ(t, -1000);
	CHECK_EQ(snapstore_parse_name("2000-02-29_00-00-00_000000Z.msgpack", &t, NULL), 0);
	CHECK_EQ(t, 951782400000000000LL);
	CHECK_ERR(snapstore_parse_name("2001-02-29_00-00-00_000000Z.msgpack", &t, NULL), EINVAL);
	CHECK_ERR(snapstore_parse_name("2023-13-14_22-13-20_123456Z.msgpack", &t, NULL), EINVAL);
	CHECK_ERR(snapstore_parse_name("2023-11-14_24-13-20_123456Z.msgpack", &t, NULL), EINVAL);
	{
		/* the Python tool's snapshots: same stamp, other suffix */
		enum snapshot_format fmt = SNAPSHOT_FORMAT_MSGPACK;
		int64_t t2;

		CHECK_EQ(snapstore_parse_name("2023-11-14_22-13-20_123456Z.jsonl.gz", &t2, &fmt), 0);
		CHECK_EQ(fmt, SNAPSHOT_FORMAT_JSONL_GZ);
		CHECK_EQ(snapstore_parse_name("2023-11-14_22-13-20_123456Z.msgpack", &t, &fmt), 0);
		CHECK_EQ(fmt, SNAPSHOT_FORMAT_MSGPACK);
		CHECK_EQ(t2, t);
		CHECK_ERR(snapstore_parse_name("2023-11-14_22-13-20_123456Z.jsonl", &t2, &fmt), EINVAL);
		CHECK_ERR(snapstore_parse_name("2023-11-14_22-13-20_123456Z.json.gz", &t2, &fmt), EINVAL);
		CHECK_EQ(snapstore_format_name(0, SNAPSHOT_FORMAT_JSONL_GZ, buf, sizeof(buf)), 44);
		CHECK(strcmp(buf + 35, ".jsonl.gz") == 0);
		CHECK_ERR(snapstore_format_name(0, (enum snapshot_format)7, buf, sizeof(buf)), EINVAL);
	}
	CHECK_ERR(snapstore_parse_name("2023-11-14_22-13-20_12345Z.msgpack", &t, NULL), EINVAL);
	CHECK_ERR(snapstore_parse_name("2023-11-14_22-13-20_123456Z.msgpackx", &t, NULL), EINVAL);
	CHECK_ERR(snapstore_parse_name("2023-11-14 22-13-20_123456Z.msgpack", &t, NULL), EINVAL);
	CHECK_ERR(snapstore_parse_name("2023-1a-14_22-13-20_123456Z.msgpack", &t, NULL), EINVAL);
	CHECK_ERR(snapstore_parse_name(".tmp-2023-11-14_22-13-20_123456Z.msgpack.0123", &t, NULL), EINVAL);
	CHECK_ERR(snapstore_parse_name("", &t, NULL), EINVAL);
	/* outside the int64 ns range */
	CHECK_ERR(snapstore_parse_name("9999-12-31_23-59-59_999999Z.msgpack", &t, NULL), EINVAL);
	CHECK_ERR(snapstore_parse_name("0001-01-01_00-00-00_000000Z.msgpack", &t, NULL), EINVAL);

	/* round trips */
	{
		static const int64_t ts[] = { 0, 1, 999, 1000, -1000,
					      1234567890123456000LL,
					      4102444800000000000LL,
					      -2208988800000000000LL };
		size_t i;

		for (i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
			CHECK(snapstore_format_name(ts[i], SNAPSHOT_FORMAT_MSGPACK, buf, sizeof(buf)) > 0);
			CHECK_EQ(snapstore_parse_name(buf + 8, &t, NULL), 0);
			/* floor to microseconds */
			CHECK_EQ(t, ts[i] - ((ts[i] % 1000 + 1000) % 1000));
		}
	}
}

static void test_list(void)
{
	struct snapstore_list l = SNAPSTORE_LIST_INIT;
	struct errbuf eb = ERRBUF_INIT;
	char missing[300];
	char *path = NULL;

	snprintf(missing, sizeof(missing), "%s/missing", root);
	CHECK_EQ(snapstore_list(S(missing), &l, &eb), 0);
	CHECK_EQ(l.n, 0);
	CHECK_ERR(snapstore_find_latest(S(missing), false, 0, &path, &eb), ENOENT);
	CHECK(strstr(eb.msg, "no snapshot in '") != NULL);
	CHECK(path == NULL);

	touch("2024/01/2024-01-05_10-00-00_000001Z.msgpack");
	touch("2023/12/2023-12-31_23-59-59_999999Z.msgpack");
	touch("2024/01/2024-01-05_10-00-00_000000Z.msgpack");
	touch("2024/02/2024-02-01_00-00-00_000000Z.msgpack");
	/* the Python tool's format is listed among ours, by time */
	touch("2024/02/2024-02-03_00-00-00_000000Z.jsonl.gz");
	/* ignored: temp, foreign, bad dirs */
	touch("2024/02/.tmp-2024-02-02_00-00-00_000000Z.msgpack.0011223344556677");
	touch("2024/02/notes.txt");
	touch("2024/2/2024-02-04_00-00-00_000000Z.msgpack");
	touch("misc/01/2024-02-05_00-00-00_000000Z.msgpack");
	touch("2024-02-06_00-00-00_000000Z.msgpack");
	touch("2024/03/sub/2024-03-01_00-00-00_000000Z.msgpack");

	errbuf_clear(&eb);
	CHECK_EQ(snapstore_list(S(root), &l, &eb), 0);
	CHECK_EQ(l.n, 5);
	if (l.n == 5) {
		CHECK_STREQ(l.items[0].relpath,
			    "2023/12/2023-12-31_23-59-59_999999Z.msgpack");
		CHECK_STREQ(l.items[1].relpath,
			    "2024/01/2024-01-05_10-00-00_000000Z.msgpack");
		CHECK_STREQ(l.items[2].relpath,
			    "2024/01/2024-01-05_10-00-00_000001Z.msgpack");
		CHECK_STREQ(l.items[3].relpath,
			    "2024/02/2024-02-01_00-00-00_000000Z.msgpack");
		CHECK_STREQ(l.items[4].relpath,
			    "2024/02/2024-02-03_00-00-00_000000Z.jsonl.gz");
		CHECK_EQ(l.items[3].format, SNAPSHOT_FORMAT_MSGPACK);
		CHECK_EQ(l.items[4].format, SNAPSHOT_FORMAT_JSONL_GZ);
		CHECK(l.items[0].time_ns < l.items[1].time_ns);
		CHECK_EQ(l.items[2].time_ns - l.items[1].time_ns, 1000);
	}
	snapstore_list_release(&l);
	CHECK_EQ(l.n, 0);

	/* latest */
	CHECK_EQ(snapstore_find_latest(S(root), false, 0, &path, &eb), 0);
	CHECK(path && strstr(path, "/2024/02/2024-02-03_00-00-00_000000Z.jsonl.gz"));
	free(path);
	path = NULL;
	CHECK_EQ(snapstore_find_latest(S(root), true, INT64_C(1706745600) * 1000000000, &path, &eb), 0);
	CHECK(path && strstr(path, "/2024/02/2024-02-01_00-00-00_000000Z.msgpack"));
	CHECK(path && !strncmp(path, root, strlen(root)));
	free(path);
	path = NULL;
	/* latest at or before: exact time included, 1 ns earlier not */
	CHECK_EQ(snapstore_parse_name("2024-01-05_10-00-00_000001Z.msgpack",
				      &(int64_t){ 0 }, NULL), 0);
	{
		int64_t t = 0;

		snapstore_parse_name("2024-01-05_10-00-00_000001Z.msgpack", &t, NULL);
		CHECK_EQ(snapstore_find_latest(S(root), true, t, &path, &eb), 0);
		CHECK(path && strstr(path, "2024-01-05_10-00-00_000001Z"));
		free(path);
		path = NULL;
		CHECK_EQ(snapstore_find_latest(S(root), true, t + 999, &path, &eb), 0);
		CHECK(path && strstr(path, "2024-01-05_10-00-00_000001Z"));
		free(path);
		path = NULL;
		CHECK_EQ(snapstore_find_latest(S(root), true, t - 1, &path, &eb), 0);
		CHECK(path && strstr(path, "2024-01-05_10-00-00_000000Z"));
		free(path);
		path = NULL;
		snapstore_parse_name("2023-12-31_23-59-59_999999Z.msgpack", &t, NULL);
		errbuf_clear(&eb);
		CHECK_ERR(snapstore_find_latest(S(root), true, t - 1, &path, &eb),
			  ENOENT);
		CHECK(strstr(eb.msg, "no snapshot at or before 2023-12-31_23-59-59_999998Z") != NULL);
		CHECK(path == NULL);
	}
	rm_rf(root);
	CHECK_EQ(mkdir(root, 0755), 0);
}

static int write_snapshot(struct snapstore_tx *tx, int64_t created)
{
	struct snapshot_header h = { .version = 1, .created_ns = created };
	struct errbuf eb = ERRBUF_INIT;
	struct snapshot_writer *w = NULL;
	struct entry e = ENTRY_INIT;
	int rc;

	rc = snapshot_writer_new(snapstore_tx_write, tx, &h, &w, &eb);
	if (rc)
		return rc;
	entry_set_name(&e, "hello.txt", 9);
	e.type = ENTRY_FILE;
	e.has_md5 = true;
	e.size = 5;
	e.mode = 0600;
	rc = snapshot_writer_add(w, &e, &eb);
	if (!rc)
		rc = snapshot_writer_finish(w, &eb);
	snapshot_writer_free(w);
	entry_release(&e);
	return rc;
}

static void test_commit_abort(void)
{
	const int64_t t = 1700000000123456789LL;
	struct errbuf eb = ERRBUF_INIT;
	struct snapshot_reader *r = NULL;
	struct snapstore_tx *tx = NULL;
	struct entry e = ENTRY_INIT;
	char store[300], monthdir[400];
	char *path = NULL, *path2 = NULL;
	struct stat st;

	snprintf(store, sizeof(store), "%s/deep/snaps", root);
	snprintf(monthdir, sizeof(monthdir), "%s/2023/11", store);

	/* abort leaves nothing behind */
	CHECK_EQ(snapstore_begin(S(store), t, SNAPSHOT_FORMAT_MSGPACK, &tx, &eb), 0);
	CHECK_STREQ(snapstore_tx_relpath(tx),
		    "2023/11/2023-11-14_22-13-20_123456Z.msgpack");
	CHECK_EQ(count_files(monthdir, ".tmp-"), 1);
	CHECK_EQ(write_snapshot(tx, t), 0);
	snapstore_abort(tx);
	CHECK_EQ(count_files(monthdir, ""), 2); /* . and .. */

	/* commit */
	CHECK_EQ(snapstore_begin(S(store), t, SNAPSHOT_FORMAT_MSGPACK, &tx, &eb), 0);
	CHECK_EQ(write_snapshot(tx, t), 0);
	CHECK_EQ(snapstore_commit(tx, &path, &eb), 0);
	CHECK(path != NULL);
	CHECK_EQ(count_files(monthdir, ".tmp-"), 0);
	CHECK(path && stat(path, &st) == 0 && S_ISREG(st.st_mode));
	CHECK(path && strstr(path, "/deep/snaps/2023/11/2023-11-14_22-13-20_123456Z.msgpack"));
	CHECK_EQ(snapstore_find_latest(S(store), false, 0, &path2, &eb), 0);
	CHECK(path && path2 && !strcmp(path, path2));
	free(path2);
	path2 = NULL;

	/* and it reads back */
	if (path) {
		CHECK_EQ(snapshot_reader_open_file(path, &r, &eb), 0);
		if (r) {
			CHECK_EQ(snapshot_reader_header(r)->created_ns, t);
			CHECK_EQ(snapshot_reader_next(r, &e, &eb), 1);
			CHECK_STREQ(e.name, "hello.txt");
			entry_release(&e);
			CHECK_EQ(snapshot_reader_next(r, &e, &eb), 0);
			snapshot_reader_free(r);
		}
	}

	/* no overwrite: same timestamp again */
	{
		off_t size_before = stat(path, &st) == 0 ? st.st_size : -1;

		CHECK_EQ(snapstore_begin(S(store), t, SNAPSHOT_FORMAT_MSGPACK, &tx, &eb), 0);
		CHECK_EQ(snapstore_tx_write(tx, "junk", 4), 0);
		errbuf_clear(&eb);
		/* the existing snapshot is kept; the second one gets the
		 * next free microsecond */
		CHECK_EQ(snapstore_commit(tx, &path2, &eb), 0);
		CHECK(path2 != NULL && path && strcmp(path2, path) != 0);
		CHECK_EQ(count_files(monthdir, ".tmp-"), 0);
		CHECK(stat(path, &st) == 0 && st.st_size == size_before);
		free(path2);
		path2 = NULL;
	}
	free(path);

	/* begin fails cleanly when SNAP_ROOT is a file */
	{
		char file[400];

		snprintf(file, sizeof(file), "%s/plainfile", root);
		touch("plainfile");
		errbuf_clear(&eb);
		CHECK(snapstore_begin(S(file), t, SNAPSHOT_FORMAT_MSGPACK, &tx, &eb) < 0);
		CHECK(tx == NULL);
		CHECK(eb.msg[0] != '\0');
	}
}

int main(void)
{
	char tmpl[] = "/tmp/test_snapstore.XXXXXX";

	if (!mkdtemp(tmpl))
		TEST_SKIP("cannot create a temp directory");
	snprintf(root, sizeof(root), "%s", tmpl);
	RUN_TEST(test_names);
	RUN_TEST(test_list);
	RUN_TEST(test_commit_abort);
	rm_rf(root);
	return test_finish();
}
