/* run_stats: the counters of one run, shared by the stages that update
 * them and the operations that print them (--json). */
#ifndef SNAP_RUN_STATS_H
#define SNAP_RUN_STATS_H

#include <stdint.h>

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

#endif
