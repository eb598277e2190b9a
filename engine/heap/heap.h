/* heap: the content-addressed object store. One immutable object per
 * distinct content, at HEAP_ROOT/<first 2 hex>/<32 hex md5>, written to a
 * temp name and renamed into place (never replacing an object), read-only
 * once published. Thread safe: every call may come from any worker. */
#ifndef SNAP_HEAP_H
#define SNAP_HEAP_H

#include <stdbool.h>
#include <stddef.h>

#include "errbuf.h"
#include "objid.h"

struct heap;
struct heap_tx;

/* Open (and with create, make) the heap at root. 0 or -errno. */
int heap_open(const char *root, bool create, struct heap **out,
	      struct errbuf *eb);
void heap_free(struct heap *h);
const char *heap_root(const struct heap *h);

/* Is the object present? 1 yes, 0 no, -errno on failure. */
int heap_has(struct heap *h, const struct objid *id, struct errbuf *eb);

/* Store buf as object id. Returns 1 when written, 0 when the object was
 * already there, -errno on failure. The caller guarantees id is the MD5
 * of buf (it hashed exactly these bytes). */
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

/* Open object id for reading. *fd_out is owned by the caller. */
int heap_open_object(struct heap *h, const struct objid *id, int *fd_out,
		     struct errbuf *eb);

/* Make every object written so far durable (one syncfs, not one fsync
 * per object). Called before a snapshot that references them is saved. */
int heap_sync(struct heap *h, struct errbuf *eb);

/* Relative path of an object: "ab/<hex>" (35 bytes + NUL). */
void heap_object_path(const struct objid *id, char out[36]);

#endif
