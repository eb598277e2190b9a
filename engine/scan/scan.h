/* scan: the tree walker. Emits the entries under a root (files, symlinks,
 * directories; a directory's record comes before its contents) in
 * entry_cmp order: each directory is listed with
 * getdents64, its children are statx'ed in one batch (io_uring where
 * available) and sorted, and the walk is depth-first. A small pool of
 * threads loads the directories the walk will enter next, so listing and
 * statx run in parallel while the output keeps its order. Memory is one
 * listing per level of depth plus a bounded number of prefetched
 * directories, whatever the size of the tree. */
#ifndef SNAP_SCAN_H
#define SNAP_SCAN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "entry.h"
#include "errbuf.h"
#include "io.h"
#include "log.h"

struct scan_opts {
	const char *root;
	enum io_backend io;
	const struct logger *log;
	/* optional filter: return false to leave relpath out (and not
	 * descend into it when it is a directory) */
	bool (*allow)(void *ctx, const char *relpath, size_t len, bool is_dir);
	void *allow_ctx;
	/* counters (may be NULL): files and symlinks seen, special files
	 * skipped */
	uint64_t *files_scanned;
	uint64_t *files_skipped;
	volatile sig_atomic_t *interrupted;
	/* a missing root is an empty tree instead of an error */
	bool missing_root_ok;
	/* a store root with no object at all is an error (a store has no
	 * empty folders: "missing" and "empty" look alike, and a mistyped
	 * prefix must not back up or mirror as an empty tree); a local
	 * root is not affected */
	bool empty_store_is_missing;
	/* threads that list and stat directories ahead of the walk (0: the
	 * walk does it all itself) */
	unsigned prefetch_threads;
	/* the tree is one this engine writes (a restore or sync target):
	 * files and symlinks under tree_temp names are left out, and
	 * removed when a crashed run left them (tree_temp_reap) */
	bool reap_tree_temps;
	/* xattr namespaces (enum xattr_ns) read for every entry; 0: none
	 * (scanner_xattrs reads them on demand) */
	unsigned xattrs;
	/* files with more than one link get entry.link, the name of their
	 * group's first member in stream order (hardlinks.h); at most
	 * max_link_groups groups at once (0: HARDLINKS_MAX_GROUPS) */
	bool hard_links;
	uint64_t max_link_groups;
};

struct scanner;

int scanner_new(const struct scan_opts *o, struct scanner **out,
		struct errbuf *eb);
/* Next entry in order: 1 with *out filled (caller releases it), 0 at the
 * end, -errno on failure (message names the path and the reason). */
int scanner_next(struct scanner *s, struct entry *out, struct errbuf *eb);
/* Read the xattrs in namespaces ns (enum xattr_ns) of e, the entry the
 * last scanner_next returned, into it (xattrs_known). A file that
 * vanished, or whose xattrs cannot be read or are over XATTRS_LIST_MAX,
 * is left unknown with a warning: never a failure of the scan. Returns
 * 0 or -ENOMEM. */
int scanner_xattrs(struct scanner *s, unsigned ns, struct entry *e,
		   struct errbuf *eb);
/* The root directory fd (owned by the scanner), -1 for a missing root. */
int scanner_rootfd(const struct scanner *s);
/* Did io_uring setup fall back to plain syscalls? */
bool scanner_fell_back(const struct scanner *s);
/* Hard-link groups found so far (scan_opts.hard_links). */
uint64_t scanner_link_groups(const struct scanner *s);
void scanner_free(struct scanner *s);


#endif
