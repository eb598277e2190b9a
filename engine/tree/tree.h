/* tree: a file tree an operation reads or writes, whatever holds it: a
 * local directory or a prefix of an object store (s3://bucket/prefix,
 * az://container/prefix). One interface over both, so that an operation
 * asks what the tree can do (tree_caps) instead of which kind it is.
 *
 * What it covers: opening, capabilities, the scan (a stream of entries
 * in entry_cmp order: the local walker of scan.h, or the store's listing
 * of remote_tree.h), opening a file the scan found, asking for what a
 * listing leaves out of a file's metadata, and writing. Writing follows
 * what the tree keeps: a tree with TREE_CAP_FS is written through a
 * tree_writer (tree_writer.h, beside this file: files as temps published
 * by rename, directories, symlinks, hard links, modes, owners, xattrs and
 * mtimes, one writer per thread on the root fd the scan opened); a tree
 * without it, a store's flat list of objects, keeps files only and is
 * written with tree_put and tree_remove.
 *
 * Backends: tree_local.c, tree_store.c; their hooks are documented in
 * tree_impl.h. A tree on a new kind of store is one new backend file. */
#ifndef SNAP_TREE_H
#define SNAP_TREE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "engine_opts.h"
#include "entry.h"
#include "errbuf.h"
#include "objid.h"
#include "scan.h"

struct objstore;
struct tree;
struct tree_scan;

/* tree_caps: what a tree keeps and tells beyond names, sizes, contents
 * and mtimes */
enum {
	/* directories, symlinks, modes, owners, xattrs, hard links, a root
	 * directory fd: a file system (a store keeps flat names) */
	TREE_CAP_FS = 1u << 0,
	/* the scan carries every entry's mtime (a store whose listing
	 * lacks the metadata, S3, needs a HEAD per object for it) */
	TREE_CAP_LISTS_MTIME = 1u << 1,
};

/* Open the tree at root: a local path, or an object-store URL
 * (objstore_is_url) with the JSON storage options (may be NULL) and o's
 * transfers, retries and timeouts. dest: the tree is a destination; a
 * store's bucket is checked and created as remote_tree_open says. A
 * local root is not touched here: opening checks nothing, the scan opens
 * it (a missing root: scan_opts.missing_root_ok). */
int tree_open(const char *root, const char *storage_options,
	      const struct engine_opts *o, bool dest, struct tree **out,
	      struct errbuf *eb);
void tree_free(struct tree *t);

/* TREE_CAP_* */
unsigned tree_caps(const struct tree *t);
/* The root as given (path or URL), valid until tree_free. */
const char *tree_root(const struct tree *t);
/* The object store a tree without TREE_CAP_FS is in, owned by the tree:
 * for server-side copies from it into a heap in the same store; NULL for
 * a file system. */
struct objstore *tree_objstore(struct tree *t);

struct tree_scan_opts {
	/* what the walker takes (scan.h), but root, which is the tree's. A
	 * store's listing uses log, allow, allow_ctx and files_scanned (it
	 * has no directories, links, xattrs, temps or special files). */
	struct scan_opts scan;
	/* walk on a thread of its own, this many entries queued ahead of
	 * the caller (two trees scanned side by side); 0: the caller's
	 * thread walks. A store's listing always runs on its own thread. */
	unsigned ahead;
};

int tree_scan_start(struct tree *t, const struct tree_scan_opts *so,
		    struct tree_scan **out, struct errbuf *eb);
/* Next entry in entry_cmp order: 1 with *out filled (caller releases it),
 * 0 at the end, -errno (the message names the path and the reason). One
 * thread calls it. */
int tree_scan_next(struct tree_scan *s, struct entry *out,
		   struct errbuf *eb);
/* Stop a scan that runs on a thread of its own (a local walk ahead, a
 * store's listing) and make its tree_scan_next fail (-ECANCELED, "stopped";
 * a store: "listing ... stopped"): any thread, any time after start (a
 * run's first error). A scan on the caller's thread has nothing to stop:
 * the caller stops calling next. */
void tree_scan_abort(struct tree_scan *s);
/* A file system's root directory fd, owned by the scan (-1: a store, or
 * a missing root). */
int tree_scan_rootfd(const struct tree_scan *s);
/* Read the xattrs in namespaces ns (enum xattr_ns) of e, the entry the
 * last tree_scan_next returned (a scan that does not walk ahead), as
 * scanner_xattrs does; a store: nothing to read, 0. */
int tree_scan_xattrs(struct tree_scan *s, unsigned ns, struct entry *e,
		     struct errbuf *eb);
/* Stop (a scan walking ahead is aborted and joined) and free; NULL is
 * fine. */
void tree_scan_free(struct tree_scan *s);

/* A file's content, opened by tree_open_file. */
struct tree_file {
	int fd;             /* at offset 0; the caller's to close */
	struct stat st;     /* fstat at open */
	/* the content's mtime: the file's, or the object's "mtime"
	 * metadata as the download brought it; without it (has_mtime
	 * false: what entry.upload_mtime says) the entry's, as listed */
	int64_t mtime_ns;
	bool has_mtime;
	/* the tree's own file, which may change while it is read (look
	 * again after: fdio_stat_changed on st); false: a private copy
	 * (an object downloaded into an unlinked temp) */
	bool live;
	/* a download: the MD5 its store gave with it, which its bytes
	 * match (checked), or must match (TREE_OPEN_HASHING: the caller
	 * compares as it hashes them) */
	bool has_md5;
	struct objid md5;
	/* a download whose store said that its ETag is no MD5 (S3 SSE-KMS,
	 * SSE-C): an MD5 the listing gave (entry.md5: an S3 listing has
	 * only the ETag) is not the content's and must not be compared
	 * with its bytes or sent as its Content-MD5 */
	bool listed_md5_void;
	/* a download: the ETag of the version downloaded ("" not given;
	 * entry_take_fetched_etag) */
	char etag[128];
};

/* tree_open_file flags */
enum {
	/* the caller hashes every byte and compares with f->md5 itself: a
	 * download is not read back for its MD5 here (make-snapshot's hash
	 * stage; one pass instead of two) */
	TREE_OPEN_HASHING = 1u << 0,
};

/* Open file e as scan s found it: a file system's relative to the root
 * the scan walked (a root renamed since is still the one read; a fifo
 * put where the file was does not block the open and is refused:
 * -EINVAL), an object downloaded whole, its size and (where the store
 * gives one) its MD5 checked (with TREE_OPEN_HASHING left to the caller:
 * f->md5). flags: TREE_OPEN_*. 0 with *f, or -errno with a message
 * naming ROOT/NAME. Any thread, any number at once, while s is not
 * freed. */
int tree_open_file(struct tree_scan *s, const struct entry *e,
		   unsigned flags, struct tree_file *f, struct errbuf *eb);
/* A tree whose files are copies fetched from elsewhere (a store: no
 * TREE_CAP_FS): e's content written into fd, an empty file of the
 * caller's open for reading and writing (a temp where it is going; the
 * bytes are read back for their MD5), checked as tree_open_file checks
 * it, without a copy in TMPDIR first. f as tree_open_file fills it, with
 * f->fd = fd (still the caller's). 0, -errno (fd then holds anything;
 * -EOPNOTSUPP: a file system's tree, whose files are opened where they
 * are). Any thread, as tree_open_file. */
int tree_fetch_file(struct tree_scan *s, const struct entry *e, int fd,
		    struct tree_file *f, struct errbuf *eb);

/* What a tree keeps of a file beyond what its scan carries: an object's
 * metadata, which an S3 listing leaves out. */
struct tree_meta {
	int64_t mtime_ns;   /* its "mtime" metadata, else Last-Modified */
	bool has_mtime;     /* the metadata was there */
	bool has_md5;       /* also from metadata: S3 md5chksum of a
			     * multipart object (net/objmeta.h) */
	struct objid md5;
};

/* Look up file e's metadata (a store: one HEAD request) into *m. 0,
 * -ENOENT when it is gone, -errno naming the object; -EOPNOTSUPP for a
 * tree whose scan carries everything (a file system: nothing to ask).
 * Any thread. */
int tree_file_meta(struct tree *t, const struct entry *e,
		   struct tree_meta *m, struct errbuf *eb);

/* Write file e->name of a tree without TREE_CAP_FS with the size bytes
 * of fd from offset 0, e's mtime kept as the object's "mtime" metadata
 * (as rclone keeps it). md5 (may be NULL): the bytes' MD5, which the store
 * checks on arrival (Content-MD5). changed (may be NULL): for a source
 * that may change while it is read, asked before a multipart upload
 * completes: non-zero aborts it and the call fails with -ESTALE, the
 * object as it was. Any thread. -EOPNOTSUPP on a file system (a
 * tree_writer writes there). */
int tree_put(struct tree *t, const struct entry *e, int fd, uint64_t size,
	     const struct objid *md5, int (*changed)(void *arg), void *arg,
	     struct errbuf *eb);
/* Remove file e->name of a tree without TREE_CAP_FS; a missing one is
 * not an error. Any thread. -EOPNOTSUPP on a file system. */
int tree_remove(struct tree *t, const struct entry *e, struct errbuf *eb);

#endif
