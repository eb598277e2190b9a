/* test_snapstore_remote: the snapshot store on object storage
 * (engine/snapshot/snapstore_remote.c) against real servers started here:
 * s3rver, Swift s3api and Azurite. List order, latest at or before,
 * visibility only after commit, no overwrite, readers by URL and key. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "entry.h"
#include "objstore.h"
#include "servers/server_env.h"
#include "snapshot_reader.h"
#include "snapshot_writer.h"
#include "snapstore.h"
#include "test.h"

static int nbuckets;

static int write_snapshot(struct snapstore_tx *tx, int64_t created, int n)
{
	struct snapshot_header h = { .version = 1, .created_ns = created };
	struct errbuf eb = ERRBUF_INIT;
	struct snapshot_writer *w = NULL;
	struct entry e = ENTRY_INIT;
	char name[32];
	int rc, i;

	rc = snapshot_writer_new(snapstore_tx_write, tx, &h, &w, &eb);
	if (rc)
		return rc;
	for (i = 0; !rc && i < n; i++) {
		snprintf(name, sizeof(name), "file%05d", i);
		entry_set_name(&e, name, strlen(name));
		e.type = ENTRY_FILE;
		e.has_md5 = true;
		e.size = (uint64_t)i;
		e.mode = 0600;
		rc = snapshot_writer_add(w, &e, &eb);
		entry_release(&e);
	}
	if (!rc)
		rc = snapshot_writer_finish(w, &eb);
	snapshot_writer_free(w);
	return rc;
}

static int count_entries(struct snapstore *ss, const char *path)
{
	struct errbuf eb = ERRBUF_INIT;
	struct snapshot_reader *r = NULL;
	struct entry e = ENTRY_INIT;
	int n = 0, rc;

	rc = snapstore_open_reader(ss, path, &r, &eb);
	if (rc < 0) {
		fprintf(stderr, "open_reader '%s': %s\n", path, eb.msg);
		return rc;
	}
	while ((rc = snapshot_reader_next(r, &e, &eb)) == 1) {
		n++;
		entry_release(&e);
	}
	snapshot_reader_free(r);
	return rc < 0 ? rc : n;
}

/* two readers of one snapshot, interleaved: each sees every entry */
static void two_readers(struct snapstore *ss, const char *path, int n)
{
	struct errbuf eb = ERRBUF_INIT;
	struct snapshot_reader *a = NULL, *b = NULL;
	struct entry ea = ENTRY_INIT, eb2 = ENTRY_INIT;
	int na = 0, nb = 0, ra = 1, rb = 1;

	CHECK_EQ(snapstore_open_reader(ss, path, &a, &eb), 0);
	CHECK_EQ(snapstore_open_reader(ss, path, &b, &eb), 0);
	while (a && b && (ra == 1 || rb == 1)) {
		if (ra == 1 && (ra = snapshot_reader_next(a, &ea, &eb)) == 1) {
			na++;
			entry_release(&ea);
		}
		if (rb == 1 && (rb = snapshot_reader_next(b, &eb2, &eb)) == 1) {
			nb++;
			entry_release(&eb2);
		}
	}
	CHECK_EQ(ra, 0);
	CHECK_EQ(rb, 0);
	CHECK_EQ(na, n);
	CHECK_EQ(nb, n);
	snapshot_reader_free(a);
	snapshot_reader_free(b);
}

static int save(struct snapstore *ss, int64_t t, int n, char **path)
{
	struct errbuf eb = ERRBUF_INIT;
	struct snapstore_tx *tx = NULL;
	int rc;

	rc = snapstore_begin(ss, t, SNAPSHOT_FORMAT_MSGPACK, &tx, &eb);
	if (!rc)
		rc = write_snapshot(tx, t, n);
	if (rc) {
		snapstore_abort(tx);
		return rc;
	}
	rc = snapstore_commit(tx, path, &eb);
	if (rc)
		fprintf(stderr, "commit: %s\n", eb.msg);
	return rc;
}

static void run(const char *scheme, const char *opts)
{
	/* three snapshots in different months, the middle one large enough
	 * for several reader frames */
	const int64_t t0 = 1700000000123456000LL;   /* 2023-11-14 */
	const int64_t t1 = 1705000000000001000LL;   /* 2024-01-11 */
	const int64_t t2 = 1710000000999999000LL;   /* 2024-03-09 */
	struct snapstore_list l = SNAPSTORE_LIST_INIT;
	struct errbuf eb = ERRBUF_INIT;
	struct snapstore *ss = NULL;
	struct snapstore_tx *tx = NULL;
	struct objstore *os = NULL;
	struct body_src src;
	char url[128], want[256], *p0 = NULL, *p1 = NULL, *p2 = NULL;
	char *path = NULL;
	struct engine_opts o;
	int rc;

	memset(&o, 0, sizeof(o));
	snprintf(url, sizeof(url), "%s://snapsnap-%d-%d/snaps", scheme,
		 (int)getpid(), ++nbuckets);
	/* no bucket, and no --create-bucket: listing and saving fail,
	 * naming the bucket, and create nothing */
	engine_opts_defaults(&o);
	o.retries = 1;
	CHECK_EQ(snapstore_open(url, opts, &o, &ss, &eb), 0);
	if (!ss)
		return;
	CHECK_ERR(snapstore_list(ss, &l, &eb), ENOENT);
	CHECK(strstr(eb.msg, "does not exist at http://127.0.0.1:") != NULL);
	fprintf(stderr, "expected error: %s\n", eb.msg);
	errbuf_clear(&eb);
	CHECK_ERR(save(ss, t1, 1, NULL), ENOENT);
	CHECK_ERR(snapstore_list(ss, &l, &eb), ENOENT);
	errbuf_clear(&eb);
	snapstore_free(ss);
	ss = NULL;

	o.create_bucket = true;
	CHECK_EQ(snapstore_open(url, opts, &o, &ss, &eb), 0);
	if (!ss)
		return;
	CHECK(snapstore_is_remote(ss));
	CHECK_STREQ(snapstore_root(ss), url);
	/* no bucket yet, a writer may create it: no snapshot */
	CHECK_EQ(snapstore_list(ss, &l, &eb), 0);
	CHECK_EQ(l.n, 0);
	CHECK_ERR(snapstore_find_latest(ss, false, 0, &path, &eb), ENOENT);
	CHECK(strstr(eb.msg, url) != NULL);
	errbuf_clear(&eb);

	/* written but not committed: invisible; committing creates the
	 * bucket */
	CHECK_EQ(snapstore_begin(ss, t1, SNAPSHOT_FORMAT_MSGPACK, &tx, &eb), 0);
	CHECK_STREQ(snapstore_tx_relpath(tx),
		    "2024/01/2024-01-11_19-06-40_000001Z.msgpack");
	CHECK_EQ(write_snapshot(tx, t1, 3000), 0);
	CHECK_EQ(snapstore_list(ss, &l, &eb), 0);
	CHECK_EQ(l.n, 0);
	rc = snapstore_commit(tx, &p1, &eb);
	if (rc)
		fprintf(stderr, "commit: %s\n", eb.msg);
	CHECK_EQ(rc, 0);
	snprintf(want, sizeof(want),
		 "%s/2024/01/2024-01-11_19-06-40_000001Z.msgpack", url);
	CHECK_STREQ(p1, want);
	CHECK_EQ(save(ss, t2, 1, &p2), 0);
	CHECK_EQ(save(ss, t0, 2, &p0), 0);
	/* an aborted one leaves nothing */
	CHECK_EQ(snapstore_begin(ss, t0 + 5000, SNAPSHOT_FORMAT_MSGPACK, &tx, &eb), 0);
	CHECK_EQ(write_snapshot(tx, t0 + 5000, 1), 0);
	snapstore_abort(tx);
	/* same name again: refused */
	CHECK_ERR(save(ss, t2, 1, NULL), EEXIST);

	/* other keys next to the snapshots are ignored */
	CHECK_EQ(objstore_open(url, opts, NULL, &os, &eb), 0);
	memset(&src, 0, sizeof(src));
	src.kind = BODY_SRC_MEM;
	src.mem = "junk";
	src.len = 4;
	src.fd = -1;
	CHECK_EQ(objstore_put(os, "2024/01/notasnapshot.msgpack", &src, NULL,
			      NULL, &eb), 0);
	CHECK_EQ(objstore_put(os, "2024/02/2024-01-11_19-06-40_000001Z.msgpack",
			      &src, NULL, NULL, &eb), 0);
	CHECK_EQ(objstore_put(os, "ab/0123456789abcdef0123456789abcdef", &src,
			      NULL, NULL, &eb), 0);
	objstore_free(os);
	{
		/* a folder without snapshots in a bucket that exists: an
		 * empty list, not an error, even without --create-bucket */
		struct snapstore *empty = NULL;
		struct snapstore_list el = SNAPSTORE_LIST_INIT;
		char eurl[160];

		o.create_bucket = false;
		snprintf(eurl, sizeof(eurl), "%s/no-such-folder", url);
		CHECK_EQ(snapstore_open(eurl, opts, &o, &empty, &eb), 0);
		if (empty) {
			CHECK_EQ(snapstore_list(empty, &el, &eb), 0);
			CHECK_EQ(el.n, 0);
			snapstore_list_release(&el);
		}
		snapstore_free(empty);
	}

	CHECK_EQ(snapstore_list(ss, &l, &eb), 0);
	CHECK_EQ(l.n, 3);
	if (l.n == 3) {
		CHECK_EQ(l.items[0].time_ns, t0);
		CHECK_EQ(l.items[1].time_ns, t1);
		CHECK_EQ(l.items[2].time_ns, t2);
		CHECK_STREQ(l.items[1].relpath,
			    "2024/01/2024-01-11_19-06-40_000001Z.msgpack");
		path = snapstore_path(ss, l.items[2].relpath);
		CHECK_STREQ(path, p2);
		free(path);
		path = NULL;
	}
	snapstore_list_release(&l);

	CHECK_EQ(snapstore_find_latest(ss, false, 0, &path, &eb), 0);
	CHECK_STREQ(path, p2);
	free(path);
	path = NULL;
	CHECK_EQ(snapstore_find_latest(ss, true, t2 - 1, &path, &eb), 0);
	CHECK_STREQ(path, p1);
	free(path);
	path = NULL;
	CHECK_EQ(snapstore_find_latest(ss, true, t1, &path, &eb), 0);
	CHECK_STREQ(path, p1);
	free(path);
	path = NULL;
	CHECK_ERR(snapstore_find_latest(ss, true, t0 - 1, &path, &eb), ENOENT);
	errbuf_clear(&eb);

	/* readers: by URL and by key relative to the root; a second reader
	 * of the same snapshot (from the download cache) is independent */
	CHECK_EQ(count_entries(ss, p1), 3000);
	CHECK_EQ(count_entries(ss, p1), 3000);
	two_readers(ss, p1, 3000);
	CHECK_EQ(count_entries(ss, p0), 2);
	CHECK_EQ(count_entries(ss, "2024/03/2024-03-09_16-00-00_999999Z.msgpack"),
		 1);
	CHECK_STREQ(p2 + strlen(url),
		    "/2024/03/2024-03-09_16-00-00_999999Z.msgpack");
	CHECK_ERR(count_entries(ss, "2024/03/2024-03-09_16-00-01_999999Z.msgpack"),
		  ENOENT);
	CHECK_ERR(count_entries(ss, "s3://elsewhere/x.msgpack"), EINVAL);
	/* a corrupt object is refused by the reader */
	CHECK_EQ(count_entries(ss, "2024/01/notasnapshot.msgpack"), -EBADMSG);
	snapstore_free(ss);
	free(p0);
	free(p1);
	free(p2);
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	char opts[1024];

	if (!only || !strcmp(only, "s3rver")) {
		server_ensure("s3rver", "SNAP_S3RVER_ENDPOINT",
			      "SNAP_S3RVER_STATE", "");
		snprintf(opts, sizeof(opts),
			 "{\"endpoint_url\": \"%s\", \"key\": \"%s\", "
			 "\"secret\": \"%s\"}", getenv("SNAP_S3RVER_ENDPOINT"),
			 getenv("SNAP_S3RVER_KEY"), getenv("SNAP_S3RVER_SECRET"));
		fprintf(stderr, "== s3rver\n");
		run("s3", opts);
	}
	if (!only || !strcmp(only, "swift")) {
		server_ensure("swift", "SNAP_SWIFT_ENDPOINT",
			      "SNAP_SWIFT_STATE", "");
		snprintf(opts, sizeof(opts),
			 "{\"endpoint_url\": \"%s\", \"key\": \"%s\", "
			 "\"secret\": \"%s\"}", getenv("SNAP_SWIFT_ENDPOINT"),
			 getenv("SNAP_SWIFT_KEY"), getenv("SNAP_SWIFT_SECRET"));
		fprintf(stderr, "== swift\n");
		run("s3", opts);
	}
	if (!only || !strcmp(only, "azurite")) {
		server_ensure("azurite", "SNAP_AZURITE_CONNECTION_STRING",
			      "SNAP_AZURITE_STATE", "");
		snprintf(opts, sizeof(opts), "{\"connection_string\": \"%s\"}",
			 getenv("SNAP_AZURITE_CONNECTION_STRING"));
		fprintf(stderr, "== azurite\n");
		run("az", opts);
	}
	return test_finish();
}
