/* engine: the operations the CLI runs (make-snapshot, restore-snapshot,
 * list/compare, sync, convert) and what only they share. Each operation
 * builds a pipeline of stages connected by bounded queues. The options and
 * counters the layers below need too are in run/engine_opts.h and
 * run/run_stats.h, so that a heap or a tree never includes this file. */
#ifndef SNAP_ENGINE_H
#define SNAP_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "engine_opts.h"
#include "errbuf.h"
#include "log.h"
#include "run_stats.h"

/* The one warning of a run about xattrs it could not set (restore,
 * sync), from run_stats's xattrs_unsupported and xattrs_skipped. */
void xattr_warn(const struct logger *log, const char *root,
		const struct run_stats *st);

/* Whether writing e into an object store loses more than the owner and
 * mode every object loses: a hard link, xattrs/ACLs, setuid/setgid/
 * sticky bits. Counted in meta_not_kept, told once by store_meta_warn. */
struct entry;
bool store_drops_meta(const struct entry *e);
void store_meta_warn(const struct logger *log, const char *root,
		     const struct run_stats *st);

/* make-snapshot: scan file_root, hash what changed, store new contents
 * in the heap, write a snapshot (if save). On success *snapshot_path
 * (malloc'd, caller frees; NULL when not saved) names the snapshot. */
struct make_snapshot_opts {
	bool save;                 /* save the snapshot in snap_root (contents
				    * go to the heap unless to_fd) */
	/* with to_fd, the snapshot goes to the open file out_fd instead of
	 * snap_root (restore records the current state this way) */
	bool to_fd;
	int out_fd;
	/* object-store trees: a file the heap lacks is recorded by the MD5
	 * its listing gives, its content not stored (the Python tool's
	 * --no-download-missing-files). Off (zero), every content a saved
	 * snapshot names is in the heap: what restore's snapshots before
	 * and after need, to be restorable. */
	bool no_download_missing;
	/* reuse rule override used after a restore: trust size+mtime against
	 * this snapshot instead of the latest one (NULL: latest in snap_root) */
	const char *previous_path;
	bool reuse_size_mtime_only;
	int64_t racy_after_ns;     /* files with mtime >= this are re-hashed */
	/* FILE_ROOT is a tree restore writes: its temp names (tree_temp.h)
	 * are left out, and removed when a crashed run left them */
	bool tree_temps;
	/* a FILE_ROOT that does not exist is an empty tree (restore's dry
	 * run into a root it would create), not an error */
	bool missing_root_ok;
	/* a file that keeps changing while read is left out with a warning
	 * (files_skipped_changing) instead of failing the run */
	bool skip_changing;
	/* every file is hashed (no md5 reuse), and each object the run
	 * finds already in the heap is read back once and, when damaged,
	 * written again from the file (heap_verify.h) */
	bool verify_heap;
	/* record files with more than one link as separate files (no
	 * link records, snapshot key 15) */
	bool no_hard_links;
};

int engine_make_snapshot(const struct engine_opts *o,
			 const struct make_snapshot_opts *mo,
			 struct run_stats *stats, char **snapshot_path,
			 struct errbuf *eb);

struct restore_opts {
	const char *path;          /* explicit snapshot file, or NULL */
	bool has_latest;
	int64_t latest_ns;         /* latest snapshot at or before this time */
	bool save_before;
	bool save_after;
	bool dry_run;
	/* write every file it can; files whose heap object is missing or
	 * corrupt are listed at the end and the run fails (no "after"
	 * snapshot) */
	bool keep_going;
	/* dry run: also read and MD5-check the objects it would write */
	bool read_data;
	/* not root: keep the setuid/setgid bits of files (root always
	 * keeps them; otherwise they are cleared, as tar does) */
	bool keep_setid;
	/* as root: owners by the recorded numbers only, never mapped by
	 * the recorded user and group names (rsync's --numeric-ids) */
	bool numeric_ids;
	/* restore link groups as separate files */
	bool no_hard_links;
	/* NULL, or where the path of the snapshot restored goes (--path,
	 * or the one TIMESTAMP or "latest" found), malloc'd, as soon as it
	 * is known (also when the run then fails); else left NULL */
	char **restored;
	/* NULL, or where the path of the "before" snapshot goes, malloc'd,
	 * once it is saved, while the tree does not match the snapshot yet:
	 * a run that fails then leaves it set (that snapshot is the latest
	 * now, and the CLI says how to retry); NULL otherwise (freed again
	 * once the tree matches, before the "after" snapshot) */
	char **saved_before;
};

int engine_restore(const struct engine_opts *o, const struct restore_opts *ro,
		   struct run_stats *stats, struct errbuf *eb);

enum sync_compare {
	SYNC_COMPARE_SIZE_MTIME = 0,  /* default, like rsync and rclone */
	SYNC_COMPARE_CHECKSUM,        /* MD5 on both sides */
	SYNC_COMPARE_SIZE_ONLY,
};

struct sync_opts {
	const char *src;
	const char *dst;
	enum sync_compare compare;
	bool no_delete;            /* keep files DST has and SRC lacks */
	int64_t max_delete;        /* < 0: unlimited */
	bool dry_run;              /* print the plan, change nothing */
	uint64_t bwlimit;          /* bytes per second, 0: unlimited */
	/* copy files with more than one link as separate files */
	bool no_hard_links;
};

/* sync: make DST hold exactly SRC's files (one-shot mirror, no heap).
 * Deletions happen only after every copy succeeded. */
int engine_sync(const struct engine_opts *o, const struct sync_opts *so,
		struct run_stats *stats, struct errbuf *eb);

/* convert-snapshots: give each Python-format snapshot (.jsonl.gz) of
 * snap_root that has no native twin a .msgpack with the same timestamp
 * (atomic publication, as make-snapshot's). The sources stay. */
struct convert_opts {
	bool dry_run;              /* report what would be converted */
	bool verify;               /* re-read both, compare entry by entry */
	/* called per snapshot converted (or to convert, dry run) with the
	 * full paths of the source and of the native snapshot; may be NULL */
	void (*on_item)(void *ctx, const char *src, const char *dst);
	void *ctx;
};

/* Stops at the first snapshot that cannot be read, written or verified
 * (the message names it); the ones converted before stay. *converted
 * gets the count converted (or that would be, dry run). 0 or -errno. */
int engine_convert_snapshots(const struct engine_opts *o,
			     const struct convert_opts *co,
			     uint64_t *converted, struct errbuf *eb);

#endif
