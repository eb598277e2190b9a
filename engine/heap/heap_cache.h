/* heap_cache: the --heap-cache-file of a remote heap: the set of object
 * ids known to be in the heap, saved after a successful run so the next
 * run skips listing the bucket. Byte layout (integers little endian):
 *
 *   0        8   "SNAPHIDX"
 *   8        4   version (2; 1 had no gc id)
 *   12       4   url_len (<= 4096)
 *   16       url_len   heap URL the ids belong to
 *   +0       16  the heap's gc id when the run began (zeros: none)
 *   +16      8   count
 *   +24      count * 16   ids, strictly ascending
 *   end-16   16  MD5 of every byte before it
 *
 * or the Python tool's HEAP_CACHE_FILE: text, one md5 (32 hex) per line
 * (it appends a line per new object), with no heap URL and no checksum.
 * Both are read; a cache is written back in the format it was read in
 * (a new one in the binary layout, which also catches a cache of another
 * heap or a torn file), so a text cache stays usable by the Python tool.
 *
 * A cache is trusted: an object deleted from the heap behind its back is
 * taken as present. gc says when it pruned: before its first deletion
 * it writes the heap's HEAP_GC_STAMP_KEY object with a new random id; a
 * cache is taken only when the gc id it was saved with is the heap's
 * (no clocks involved; a text or version-1 cache has none: taken only
 * while the heap has no stamp). */
#ifndef SNAP_HEAP_CACHE_H
#define SNAP_HEAP_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "errbuf.h"
#include "idset.h"

struct objstore;

/* gc's stamp in a store heap: {"gc_id": "<32 hex>", "gc_ns": <Unix
 * time, ns>}; not a heap object name, so listings pass it over. */
#define HEAP_GC_STAMP_KEY "gc-stamp"
#define HEAP_GC_ID_LEN 16

/* Add the ids of the cache file at path (either format) to set; *text
 * tells which format it was, gc_id the gc id it was saved with (zeros:
 * none). Returns the count, or -ENOENT (no file), -EBADMSG (corrupt,
 * other URL: "heap cache 'p' is corrupt: ..."), other -errno. On failure
 * set may hold some ids: the caller clears it. */
int heap_cache_load(const char *path, const char *url, struct idset *set,
		    bool *text, uint8_t gc_id[HEAP_GC_ID_LEN],
		    struct errbuf *eb);

/* Write set to path atomically (temp file in the same directory, fsync,
 * rename), in the text format (text) or the binary one with gc_id (the
 * heap's when the run began, read before it listed the heap). 0 or
 * -errno. */
int heap_cache_save(const char *path, const char *url, struct idset *set,
		    bool text, const uint8_t gc_id[HEAP_GC_ID_LEN],
		    struct errbuf *eb);

/* gc: write a new stamp (a random id) before pruning, at now_ns. 0 or
 * -errno (eb). */
int heap_gc_stamp_write(struct objstore *os, int64_t now_ns,
			struct errbuf *eb);

/* The heap's gc id into id (zeros when the heap was never pruned), or
 * -errno (eb; -EBADMSG for a stamp that does not parse). */
int heap_gc_stamp_read(struct objstore *os, uint8_t id[HEAP_GC_ID_LEN],
		       struct errbuf *eb);

#endif
