/* engine: the operations the CLI runs (make-snapshot, restore-snapshot,
 * list/compare, sync) and the options and statistics they share. Each
 * operation builds a pipeline of stages connected by bounded queues. */
#ifndef SNAP_ENGINE_H
#define SNAP_ENGINE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "errbuf.h"
#include "log.h"

enum io_mode {
	IO_MODE_AUTO = 0,  /* io_uring when it works, else plain syscalls */
	IO_MODE_URING,     /* io_uring or fail */
	IO_MODE_SYNC,      /* plain system calls */
};

/* How new heap objects are stored. */
enum heap_format {
	HEAP_FORMAT_AUTO = 0, /* gz when the heap holds .gz objects, else raw */
	HEAP_FORMAT_RAW,      /* <md5>: the content as is */
	HEAP_FORMAT_GZ,       /* <md5>.gz: gzip, the Python tool's format */
};

/* Format of the snapshots make-snapshot (and restore's before/after
 * snapshots) write: the format of the latest snapshot in SNAP_ROOT (else
 * msgpack), this tool's msgpack, or the Python tool's jsonl.gz. */
enum snapshot_write_format {
	SNAPSHOT_WRITE_AUTO = 0,
	SNAPSHOT_WRITE_MSGPACK,
	SNAPSHOT_WRITE_JSONL_GZ,
};

/* How file contents are MD5-hashed (--md5): multi-buffer kernels hash
 * many files side by side (engine/hash/md5mb.h), OpenSSL one at a time.
 * AUTO is resolved before a run by engine_md5_resolve. */
enum md5_impl {
	MD5_IMPL_AUTO = 0,
	MD5_IMPL_OPENSSL,
	MD5_IMPL_AVX2,
	MD5_IMPL_AVX512,
};

/* Everything tunable, in one struct (no globals). Zero-initialise, then
 * engine_opts_defaults(). Strings are borrowed from the caller. */
struct engine_opts {
	const char *file_root;
	const char *heap_root;
	const char *snap_root;
	const char *heap_cache_file;
	enum heap_format heap_format;
	const char *file_storage_options;  /* JSON (object stores), may be NULL */
	const char *heap_storage_options;
	const char *snap_storage_options;
	struct logger log;
	enum io_mode io;
	unsigned jobs;          /* hash/copy workers */
	unsigned scan_jobs;     /* directory listing threads */
	/* threads listing an object-store heap at open (0: transfers) */
	unsigned heap_list_jobs;
	unsigned transfers;     /* in-flight network transfers */
	unsigned retries;
	/* object stores: seconds to connect, and seconds without progress
	 * (no answer, a stalled transfer) before a request fails; 0: the
	 * defaults (10 s, 20 s) */
	unsigned connect_timeout_s;
	unsigned io_timeout_s;
	/* object stores: a missing bucket/container is created (a writing
	 * command's --create-bucket) instead of failing the run */
	bool create_bucket;
	bool progress;          /* one-line progress on stderr */
	/* filters: NULL-terminated arrays of glob patterns */
	const char *const *include;
	const char *const *exclude;
	/* make-snapshot, restore-snapshot, sync: neither record nor apply
	 * extended attributes and ACLs */
	bool no_xattrs;
	/* set by a signal handler: stages stop at the next check */
	volatile sig_atomic_t *interrupted;
	/* restore and sync: syncfs the written tree before success */
	bool fsync;
	enum snapshot_write_format snapshot_format;
	enum md5_impl md5;
	/* the repository lock (lock.h): a lock not refreshed for expiry
	 * seconds is stale; 0: the defaults (1800 s, refresh 300 s) */
	unsigned lock_expiry_s;
	unsigned lock_refresh_s;
};

void engine_opts_defaults(struct engine_opts *o);

struct objstore_config;
/* The object-store settings of o (NULL: defaults): transfers, retries,
 * timeouts, create_bucket. */
void engine_objstore_config(const struct engine_opts *o,
			    struct objstore_config *cfg);

/* --md5 names ("auto", "openssl", "avx2", "avx512") and back (-EINVAL). */
const char *engine_md5_name(enum md5_impl m);
int engine_md5_parse(const char *name, enum md5_impl *out);
/* The implementation a run uses for m: AUTO becomes the widest kernel
 * this CPU has (OpenSSL without AVX2); a kernel this CPU or build lacks
 * is -ENOTSUP with the reason in eb. */
int engine_md5_resolve(enum md5_impl m, enum md5_impl *out,
		       struct errbuf *eb);

/* Counters of one run; printed by --json. Stages update them atomically. */
struct run_stats {
	uint64_t files_scanned;     /* entries of any type seen in the tree */
	uint64_t files_hashed;      /* files whose content was read and hashed */
	uint64_t md5_reused;        /* md5 taken from the previous snapshot */
	uint64_t heap_objects_written;
	uint64_t heap_objects_present; /* contents already in the heap */
	/* make-snapshot --verify-heap: objects read back and MD5-checked,
	 * and damaged ones written again from the tree */
	uint64_t heap_objects_verified;
	uint64_t heap_objects_repaired;
	uint64_t bytes_read;
	uint64_t bytes_written;
	uint64_t files_copied;      /* restore/sync: files written */
	uint64_t files_updated;     /* restore/sync: metadata fixed in place */
	uint64_t files_deleted;
	uint64_t dirs_created;
	uint64_t files_skipped;     /* special files (fifo, socket, device),
				     * files skipped as changing */
	/* make-snapshot --skip-changing: files left out because they kept
	 * changing while read (also in files_skipped) */
	uint64_t files_skipped_changing;
	/* restore/sync: entries whose xattrs could not be set because the
	 * target filesystem has none; attribute names not set (security.*
	 * and trusted.* when not root, user.* on symlinks) */
	uint64_t xattrs_unsupported;
	uint64_t xattrs_skipped;
	/* restore/sync not as root: entries whose recorded owner differs
	 * from the running user's and was left as it is */
	uint64_t owners_skipped;
	/* restore/sync: hard links made (also in files_copied) */
	uint64_t links_created;
	/* restore/sync into an object store: files written there whose hard
	 * link, xattrs/ACLs or setuid/setgid/sticky bits a store cannot
	 * keep (it keeps content and mtime only) */
	uint64_t meta_not_kept;
	uint64_t errors;
	double seconds;
};

/* The one warning of a run about xattrs it could not set (restore,
 * sync), from the two counters above. */
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
	bool download_missing;     /* object-store trees: fetch unknown md5s */
	/* reuse rule override used after a restore: trust size+mtime against
	 * this snapshot instead of the latest one (NULL: latest in snap_root) */
	const char *previous_path;
	bool reuse_size_mtime_only;
	int64_t racy_after_ns;     /* files with mtime >= this are re-hashed */
	/* FILE_ROOT is a tree restore writes: its temp names (tree_temp.h)
	 * are left out, and removed when a crashed run left them */
	bool tree_temps;
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
