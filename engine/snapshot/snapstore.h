/* snapstore: the local snapshot directory (SNAP_ROOT): time-stamped names
 * SNAP_ROOT/YYYY/MM/YYYY-MM-DD_HH-MM-SS_ffffffZ.msgpack (UTC, microseconds,
 * as the Python snapshooter names its snapshots), listing, "latest at or
 * before", and atomic publication (temp file, fsync, rename without
 * overwrite, fsync of the directory). */
#ifndef SNAP_SNAPSTORE_H
#define SNAP_SNAPSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"

/* "YYYY/MM/YYYY-MM-DD_HH-MM-SS_ffffffZ.msgpack" + NUL fits in this */
#define SNAPSTORE_NAME_MAX 64
#define SNAPSTORE_SUFFIX ".msgpack"
#define SNAPSTORE_TMP_PREFIX ".tmp-"

/* Write the relative path "YYYY/MM/YYYY-MM-DD_HH-MM-SS_ffffffZ.msgpack" of
 * a snapshot taken at time_ns (UTC ns since the epoch; sub-microsecond
 * digits are dropped, rounding down) into out. Returns the length (> 0),
 * -ENAMETOOLONG if cap is too small or -EINVAL (cap 0, out NULL). */
int snapstore_format_name(int64_t time_ns, char *out, size_t cap);

/* Parse a base name "YYYY-MM-DD_HH-MM-SS_ffffffZ.msgpack" (exactly that:
 * valid date, no other text). Returns 0 with *time_ns (a multiple of
 * 1000) or -EINVAL. */
int snapstore_parse_name(const char *base_name, int64_t *time_ns);

struct snapstore_item {
	char *relpath;       /* "YYYY/MM/<name>", owned */
	int64_t time_ns;
};

struct snapstore_list {
	struct snapstore_item *items;
	size_t n;
};

#define SNAPSTORE_LIST_INIT { NULL, 0 }

/* List the snapshots under snap_root in ascending time (ties by relpath):
 * files SNAP_ROOT/<4 digits>/<2 digits>/<valid name>. Temp files, other
 * files and directories are ignored; a missing snap_root is an empty list.
 * Returns 0 (out filled; release with snapstore_list_release) or -errno. */
int snapstore_list(const char *snap_root, struct snapstore_list *out,
		   struct errbuf *eb);
void snapstore_list_release(struct snapstore_list *l);

/* Full path (snap_root "/" relpath, malloc'd, caller frees) of the latest
 * snapshot, or of the latest one taken at or before before_ns when
 * has_before. -ENOENT with "no snapshot in 'root'" when there is none. */
int snapstore_find_latest(const char *snap_root, bool has_before,
			  int64_t before_ns, char **path_out,
			  struct errbuf *eb);

/* Atomic creation of one snapshot file. */
struct snapstore_tx;

/* Create SNAP_ROOT/YYYY/MM (mkdir -p, 0755) and a temp file
 * ".tmp-<name>.<random>" in it (O_EXCL, 0644). Returns 0 with *out or
 * -errno. */
int snapstore_begin(const char *snap_root, int64_t time_ns,
		    struct snapstore_tx **out, struct errbuf *eb);

/* Sink for snapshot_writer_new: append len bytes to the temp file.
 * Returns 0 or -errno (sticky: commit fails too). */
int snapstore_tx_write(void *tx, const void *buf, size_t len);

/* The relative path the snapshot will get ("YYYY/MM/<name>"). */
const char *snapstore_tx_relpath(const struct snapstore_tx *tx);

/* fsync the temp file, rename it to its final name refusing to replace an
 * existing snapshot (-EEXIST), fsync the directory. Frees tx in every
 * case (the temp file is removed on failure). On success *path_out (may
 * be NULL) gets the full path (malloc'd). */
int snapstore_commit(struct snapstore_tx *tx, char **path_out,
		     struct errbuf *eb);

/* Remove the temp file and free tx. NULL-safe. */
void snapstore_abort(struct snapstore_tx *tx);

#endif
