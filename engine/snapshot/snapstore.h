/* snapstore: the snapshot store (SNAP_ROOT): time-stamped names
 * YYYY/MM/YYYY-MM-DD_HH-MM-SS_ffffffZ.msgpack (snapshot_name.h), listing,
 * "latest at or before", atomic publication and reading. Two backends
 * behind one handle (snapstore_impl.h): a local directory
 * (snapstore_local.c: temp file, fsync, rename without overwrite, fsync
 * of the directory) and an object store "s3://bucket/prefix" or
 * "az://container/prefix" (snapstore_remote.c: the snapshot is spooled to
 * an unnamed temp file and published with one PUT at commit; paths are
 * full URLs). */
#ifndef SNAP_SNAPSTORE_H
#define SNAP_SNAPSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine_opts.h"
#include "errbuf.h"
#include "snapshot.h"
#include "snapshot_name.h"

struct snapshot_reader;

#define SNAPSTORE_TMP_PREFIX ".tmp-"

struct snapstore;

/* Remove the temp snapshots (SNAP_ROOT/YYYY/MM/.tmp-*) that crashed runs
 * left. A writer holds flock(LOCK_EX) on its temp from create to rename,
 * so a temp whose lock can be taken (LOCK_NB) has no live writer: it is
 * removed, holding the lock; one held is a concurrent run's and stays.
 * Local stores only (a remote store spools to an unnamed file). Returns
 * how many were removed; errors only make it remove less. */
int snapstore_remove_stale_temps(struct snapstore *ss);

/* Open the store at root: a local directory (need not exist yet) or an
 * s3:// / az:// URL with storage_options_json (may be NULL; see
 * objstore_open) and, from o (may be NULL), transfers, retries and the
 * logger. root NULL: a store without a root, which can only open
 * snapshot files by path. No request is made. 0 or -errno. */
int snapstore_open(const char *root, const char *storage_options_json,
		   const struct engine_opts *o, struct snapstore **out,
		   struct errbuf *eb);
/* NULL-safe. Readers from snapstore_open_reader must be freed first. */
void snapstore_free(struct snapstore *ss);

/* The root as opened (path, or URL without secrets); NULL without one. */
const char *snapstore_root(const struct snapstore *ss);
bool snapstore_is_remote(const struct snapstore *ss);

/* root "/" relpath (malloc'd; NULL when out of memory): the full path or
 * URL of a listed snapshot, as list-snapshots prints it. */
char *snapstore_path(const struct snapstore *ss, const char *relpath);

struct snapstore_item {
	char *relpath;       /* "YYYY/MM/<name>", owned */
	int64_t time_ns;
	enum snapshot_format format;   /* from the name's suffix */
};

struct snapstore_list {
	struct snapstore_item *items;
	size_t n;
};

#define SNAPSTORE_LIST_INIT { NULL, 0 }

/* List the snapshots in ascending time (ties by relpath): objects
 * YYYY/MM/<valid name> (local: regular files of <4 digits>/<2 digits>/).
 * Temp files and other names are ignored; a missing root (or bucket) is
 * an empty list. A .jsonl.gz with a .msgpack of the same timestamp (what
 * convert-snapshots leaves) is left out: the native one stands for it. Returns 0 (out filled; release with
 * snapstore_list_release) or -errno. */
int snapstore_list(struct snapstore *ss, struct snapstore_list *out,
		   struct errbuf *eb);
void snapstore_list_release(struct snapstore_list *l);

/* Full path or URL (malloc'd, caller frees) of the latest snapshot, or of
 * the latest one taken at or before before_ns when has_before. -ENOENT
 * with "no snapshot in 'root'" when there is none. */
int snapstore_find_latest(struct snapstore *ss, bool has_before,
			  int64_t before_ns, char **path_out,
			  struct errbuf *eb);

/* Open a snapshot for reading: path is a full path/URL as printed by
 * list-snapshots or, for a remote store, a key relative to the root; a
 * local store opens any file path. Remote snapshots are downloaded into
 * an unnamed temp file first. The reader must be freed before ss. */
int snapstore_open_reader(struct snapstore *ss, const char *path,
			  struct snapshot_reader **out, struct errbuf *eb);

/* Remove the listed snapshot relpath ("YYYY/MM/<name>", checked by
 * snapstore_parse_relpath): local, unlink it and fsync its directory, so
 * the removal is durable before the caller goes on (gc must never see a
 * snapshot come back after a crash); remote, one DELETE. 0 (also when it
 * was gone already) or -errno ("cannot remove snapshot 'path': ..."). */
int snapstore_remove(struct snapstore *ss, const char *relpath,
		     struct errbuf *eb);

/* Atomic creation of one snapshot file. */
struct snapstore_tx;

/* Local: create SNAP_ROOT/YYYY/MM (mkdir -p, 0755) and a temp file
 * ".tmp-<name>.<random>" in it (O_EXCL, 0644). Remote: an unnamed temp
 * file in $TMPDIR (or /tmp). Returns 0 with *out or -errno. */
int snapstore_begin(struct snapstore *ss, int64_t time_ns,
		    enum snapshot_format fmt, struct snapstore_tx **out,
		    struct errbuf *eb);

/* Sink for snapshot_writer_new: append len bytes to the temp file.
 * Returns 0 or -errno (sticky: commit fails too). */
int snapstore_tx_write(void *tx, const void *buf, size_t len);

/* The relative path the snapshot will get ("YYYY/MM/<name>"). */
const char *snapstore_tx_relpath(const struct snapstore_tx *tx);

/* Publish, refusing to replace an existing snapshot (-EEXIST). Local:
 * fsync the temp file, rename it to its final name, fsync the directory.
 * Remote: one PUT of the whole file (Content-MD5; multipart above the
 * threshold, which is atomic at completion), creating a missing bucket;
 * call it only after heap_sync. Frees tx in every case (the temp file is
 * removed on failure). On success *path_out (may be NULL) gets the full
 * path or URL (malloc'd). */
int snapstore_commit(struct snapstore_tx *tx, char **path_out,
		     struct errbuf *eb);

/* Remove the temp file and free tx. NULL-safe. */
void snapstore_abort(struct snapstore_tx *tx);

#endif
