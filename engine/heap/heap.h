/* heap: the content-addressed object store. One immutable object per
 * distinct content, at HEAP_ROOT/<first 2 hex>/<32 hex md5>, or in the
 * Python tool's format at HEAP_ROOT/<first 2 hex>/<32 hex md5>.gz (gzip
 * of the content, named by the MD5 of the uncompressed bytes): both
 * count as present, both read as plain content, new objects are written
 * in the heap's format (enum heap_format, heap_gz.h). Two backends
 * behind one API (heap_impl.h): a local directory (objects written to a
 * temp name and renamed into place, never replacing an object, read-only
 * once published) and an object store URL s3://bucket/prefix or
 * az://container/prefix (heap_remote.c: uploads run in the background and
 * heap_sync waits for them). Thread safe: every call may come from any
 * worker. */
#ifndef SNAP_HEAP_H
#define SNAP_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine_opts.h"
#include "errbuf.h"
#include "objid.h"

struct heap;
struct heap_tx;

/* Open (and with create, make) the local heap at root, format auto.
 * 0 or -errno. */
int heap_open(const char *root, bool create, struct heap **out,
	      struct errbuf *eb);

/* Open the heap at root_or_url: a local path (as heap_open) or
 * "s3://bucket[/prefix]" / "az://container[/prefix]". o (may be NULL:
 * defaults) gives heap_format and, for a URL, heap_storage_options,
 * transfers, retries, heap_cache_file and the logger. Format auto
 * becomes gz when the heap holds .gz objects (local: a look at the first
 * few fan-out directories; remote: the listing, or with a cache file a
 * listing that stops at the first object), else raw. A remote heap is
 * listed once (or loaded
 * from the cache file) into memory; with create a missing bucket is
 * created when o->create_bucket (or the storage option create_bucket)
 * allows, else an error naming it. 0 or -errno ("cannot list
 * 's3://b/p/00/': HTTP 403 ..."). */
int heap_open_url(const char *root_or_url, bool create,
		  const struct engine_opts *o, struct heap **out,
		  struct errbuf *eb);


void heap_free(struct heap *h);
/* The format new objects are written in: HEAP_FORMAT_RAW or _GZ. */
enum heap_format heap_format(const struct heap *h);
/* The path or URL the heap was opened with (no secrets). */
const char *heap_root(const struct heap *h);

/* Is the object present? 1 yes, 0 no, -errno on failure. For a remote
 * heap an object queued for upload counts as present. */
int heap_has(struct heap *h, const struct objid *id, struct errbuf *eb);

/* heap_has for ids[0..n), on up to `threads` threads at once: on a cold
 * cache each lookup in a local heap waits for a directory or inode read,
 * and in parallel those waits overlap. present[i] is set to 1 or 0.
 * Returns 0 or the first -errno (its message in eb). */
int heap_has_many(struct heap *h, const struct objid *ids, size_t n,
		  unsigned threads, unsigned char *present, struct errbuf *eb);

/* Store buf as object id. Returns 1 when written, 0 when the object was
 * already there, -errno on failure. The caller guarantees id is the MD5
 * of buf (it hashed exactly these bytes). Remote: the bytes are copied
 * and uploaded in the background (1 means queued; a failure shows at
 * heap_sync or at a later put). */
int heap_put_buf(struct heap *h, const struct objid *id, const void *buf,
		 size_t len, struct errbuf *eb);

/* Streaming put for contents whose id is known only at the end. */
int heap_tx_begin(struct heap *h, struct heap_tx **out, struct errbuf *eb);
int heap_tx_write(struct heap_tx *tx, const void *buf, size_t len,
		  struct errbuf *eb);
/* Publish as id: 1 written, 0 already present (temp discarded), -errno.
 * Frees tx in every case. */
int heap_tx_commit(struct heap_tx *tx, const struct objid *id,
		   struct errbuf *eb);
/* Discard the temp object; frees tx. NULL-safe. */
void heap_tx_abort(struct heap_tx *tx);

struct objstore;

/* Store as id the object that the store src holds at key (the file tree
 * in object storage) by a server-side copy, when the heap lives in the
 * same kind of store: nothing passes through this host. etag (may be
 * NULL) is the object's etag as listed: the store refuses the copy if the
 * object changed since. Returns 1 copied, 0 already present, -EXDEV when
 * this heap cannot (local heap, other kind of store, gz format: a copy
 * would be the raw form), other -errno when the copy failed: in every
 * negative case the caller copies the bytes itself. A copy or a put of
 * id waits for a copy of id in flight (its check may delete it). */
int heap_put_copy(struct heap *h, const struct objid *id,
		  struct objstore *src, const char *key, const char *etag,
		  struct errbuf *eb);

/* Open object id for reading: an fd at byte 0 of the uncompressed
 * content, owned by the caller. The raw <md5> is preferred when both
 * forms exist; a .gz is decompressed into an unnamed temp file (local:
 * in the heap's directory when it is writable, else in $TMPDIR; remote:
 * in $TMPDIR, downloaded first). Corrupt gzip is -EBADMSG ("cannot read
 * heap object 'root/ab/<md5>.gz': corrupt gzip data: CRC or length
 * mismatch"). The caller still verifies the MD5 of what it reads. */
int heap_open_object(struct heap *h, const struct objid *id, int *fd_out,
		     struct errbuf *eb);
/* heap_open_object for a content known to be size bytes: a .gz that
 * decompresses to more is refused with -EFBIG (a gzip bomb never fills
 * the temp directory). */
int heap_open_object_sized(struct heap *h, const struct objid *id,
			   uint64_t size, int *fd_out, struct errbuf *eb);

struct hasher;

/* Read object id back (through heap_open_object: a .gz is decoded) and
 * compare the MD5 of its content with its name, using the caller's
 * hasher and scratch buffer buf[cap] (a worker's own). Returns 1 sound,
 * 0 damaged (missing, corrupt gzip, unreadable, or another content:
 * eb says which, naming the object), -errno when it could not be read
 * for a reason that says nothing about the object (a store
 * unreachable). *bytes (may be NULL) gets the content bytes read. */
int heap_check_object(struct heap *h, const struct objid *id,
		      struct hasher *hs, void *buf, size_t cap,
		      uint64_t *bytes, struct errbuf *eb);

/* Replace object id, found damaged, by the bytes read from src (its
 * current offset to its end; src_shown names it in messages), in the
 * form the heap reads first (raw when present, else .gz when present,
 * else the heap's format), without ever leaving the name empty: local,
 * a temp file in the object's fan-out directory, fsynced and renamed
 * over it; remote, one PUT (atomic on every store). The bytes are
 * hashed on the way: when they are not the content id names (the file
 * changed since it was hashed), nothing is replaced and -ESTALE is
 * returned. 0 replaced, -errno. hs, buf and cap as heap_check_object. */
int heap_replace_object(struct heap *h, const struct objid *id, int src,
			const char *src_shown, struct hasher *hs, void *buf,
			size_t cap, struct errbuf *eb);

/* Make every object written so far durable (local: one syncfs, not one
 * fsync per object; remote: wait for every queued upload, then write the
 * heap cache file if one is configured). Returns 0 or the first error.
 * Called before a snapshot that references them is saved. */
int heap_sync(struct heap *h, struct errbuf *eb);

/* The end of a run (success or not), before heap_free: stop background
 * work (uploads not started yet are dropped, as by heap_free) and give
 * the number of puts that returned 1 (queued) whose object was not
 * stored, and their content bytes (the len given to the put, or written
 * to the tx): a run's counters subtract them so that they count only
 * what the heap really holds. Local heaps: 0, 0. Not thread safe with
 * puts; the heap must not be written after it. NULL-safe. */
void heap_finish(struct heap *h, uint64_t *objects, uint64_t *bytes);

/* Relative path of an object: "ab/<hex>" (35 bytes + NUL), with gz
 * "ab/<hex>.gz" (38 bytes + NUL). */
void heap_object_path(const struct objid *id, char out[36]);
void heap_object_path_gz(const struct objid *id, char out[39]);

/* Are the len bytes at s lower-case hex digits, as heap_object_path
 * writes an object's name and its fan-out folder? */
bool heap_lower_hex(const char *s, size_t len);

/* The same names read back. Is name (len bytes, no '/') "<32 hex>" or
 * "<32 hex>.gz", lower-case hex as written? 1 raw, 2 gz, 0 neither
 * (temp files, upper case, anything else: not objects); *id gets the
 * id. */
int heap_parse_object_name(const char *name, size_t len, struct objid *id);
/* Is key (len bytes, relative to the heap's root) an object where it
 * belongs, "ab/<32 hex>[.gz]" with ab the first two hex digits? 1 raw,
 * 2 gz, 0 not (*id gets the id). */
int heap_parse_object_key(const char *key, size_t len, struct objid *id);

/* The Python tool's folder of temps in a heap (HEAP_ROOT/temp/<uuid>.gz
 * while it compresses an object): not objects; gc removes them after the
 * grace, verify lists them as leftovers. */
#define HEAP_PY_TEMP_DIR "temp"

#endif
