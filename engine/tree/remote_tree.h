/* remote_tree: a file tree kept in object storage (s3://bucket/prefix or
 * az://container/prefix) as the engine sees it: a sorted stream of file
 * entries from the store's listing, whole-object reads into a local temp
 * file, uploads from a file descriptor (mtime kept as object metadata, the
 * way rclone stores it) and deletions. Object stores have no directories,
 * symlinks or modes: only files are listed and written.
 *
 * Names: keys are relative to the prefix; a key that is not a safe
 * relative name (entry_name_check: "..", empty components, ...) is left
 * out with a warning, so nothing from a store is ever written outside a
 * local root. Thread safe: every call may come from any thread. */
#ifndef SNAP_REMOTE_TREE_H
#define SNAP_REMOTE_TREE_H

#include <stdbool.h>

#include "engine_opts.h"
#include "entry.h"
#include "errbuf.h"

struct remote_tree;
struct remote_scan;

/* Open the store at url with the JSON storage options (may be NULL);
 * transfers, retries, timeouts come from o. create (a destination): check
 * that the bucket/container exists (one listing request) and, when it does
 * not, create it if o->create_bucket (--create-bucket) or the storage
 * option create_bucket allows, else fail with -ENOENT ("bucket 'b' does
 * not exist at http://...: create it, or pass --create-bucket"). No
 * request is made otherwise. */
int remote_tree_open(const char *url, const char *storage_options,
		     const struct engine_opts *o, bool create,
		     struct remote_tree **out, struct errbuf *eb);
void remote_tree_free(struct remote_tree *t);

struct objstore;
/* The underlying store (for server-side copies), owned by t. */
struct objstore *remote_tree_store(struct remote_tree *t);
const char *remote_tree_url(const struct remote_tree *t);

/* Listing as a stream of ENTRY_FILE entries in entry_cmp order: name, size,
 * mtime_ns, etag, and md5 when the store knows it (S3 single-part ETag,
 * Azure Content-MD5). mtime_ns is the object's "mtime" metadata (as rclone
 * and this tool write it, net/objmeta.h) when the listing carries it
 * (Azure), else its Last-Modified with upload_mtime set (S3 listings have
 * no metadata: remote_tree_head asks for it). A listing thread feeds a
 * bounded queue. allow (may be NULL) filters names. REMOTE_SCAN_MISSING_OK
 * (a dry run into this tree): a missing bucket the run may create
 * (--create-bucket) is listed as empty, said once in the log; one it
 * may not is the error a real run gives. REMOTE_SCAN_EMPTY_IS_MISSING:
 * a listing with no object at all fails (scan_opts.empty_store_is_missing).
 */
enum {
	REMOTE_SCAN_MISSING_OK = 1u << 0,
	REMOTE_SCAN_EMPTY_IS_MISSING = 1u << 1,
};
int remote_scan_start(struct remote_tree *t, const struct logger *log,
		      bool (*allow)(void *ctx, const char *relpath, size_t len,
				    bool is_dir),
		      void *allow_ctx, uint64_t *files_scanned,
		      unsigned flags, struct remote_scan **out,
		      struct errbuf *eb);
/* 1 with an entry (caller releases it), 0 at the end, -errno. */
int remote_scan_next(struct remote_scan *s, struct entry *out,
		     struct errbuf *eb);
/* Stop the listing thread at the next object it lists, and make
 * remote_scan_next fail ("listing ... stopped"); any thread. */
void remote_scan_abort(struct remote_scan *s);
void remote_scan_free(struct remote_scan *s);

/* What a download brought besides its bytes. */
struct remote_got {
	bool has_mtime;     /* the object's "mtime" metadata came with it */
	int64_t mtime_ns;
	bool has_md5;       /* the MD5 the store gave with it */
	struct objid md5;
	bool etag_not_md5;  /* objstore_info's: a listed ETag is no MD5 */
	char etag[128];     /* the version's downloaded, "" not given */
};

/* Download object e->name into fd (an empty file of the caller's, open
 * for reading and writing), rewound after. The size is checked against
 * e->size; with check, the bytes against the MD5 the response gave
 * (-EBADMSG when they differ; they are read back for it), else that MD5
 * is the caller's to compare as it reads them. 0 with *got, or -errno
 * (fd then holds anything). */
int remote_tree_fetch(struct remote_tree *t, const struct entry *e, int fd,
		      bool check, struct remote_got *got, struct errbuf *eb);
/* remote_tree_fetch into a new unlinked temp file in TMPDIR; *fd is
 * owned by the caller. */
int remote_tree_read(struct remote_tree *t, const struct entry *e, int *fd,
		     bool check, struct remote_got *got, struct errbuf *eb);

/* Does the listing carry the objects' mtime metadata (Azure)? Then an
 * entry with upload_mtime has none, and a HEAD would tell no more. */
bool remote_tree_lists_mtime(const struct remote_tree *t);

/* HEAD object e->name into *m (what it tells beyond its listing, as
 * tree.h's tree_meta says): 0, -errno (-ENOENT: gone). */
struct tree_meta;
int remote_tree_head(struct remote_tree *t, const struct entry *e,
		     struct tree_meta *m, struct errbuf *eb);

/* Upload size bytes of fd (from offset 0) as object e->name, with e's
 * mtime as metadata. md5 (may be NULL) is the content's MD5 if known. */
int remote_tree_write(struct remote_tree *t, const struct entry *e, int fd,
		      uint64_t size, const struct objid *md5,
		      struct errbuf *eb);
/* The same from a file that may change while it is read (a local
 * source): changed(arg) is asked before a multipart upload completes
 * (objstore_put_opts.changed): non-zero aborts it, and the call fails
 * with -ESTALE, the object as it was before. */
int remote_tree_write_checked(struct remote_tree *t, const struct entry *e,
			      int fd, uint64_t size, const struct objid *md5,
			      int (*changed)(void *arg), void *arg,
			      struct errbuf *eb);

/* Delete object e->name (a missing one is not an error). */
int remote_tree_remove(struct remote_tree *t, const struct entry *e,
		       struct errbuf *eb);

#endif
