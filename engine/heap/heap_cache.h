/* heap_cache: the --heap-cache-file of a remote heap: the set of object
 * ids known to be in the heap, saved after a successful run so the next
 * run skips listing the bucket. Byte layout (integers little endian):
 *
 *   0        8   "SNAPHIDX"
 *   8        4   version (1)
 *   12       4   url_len (<= 4096)
 *   16       url_len   heap URL the ids belong to
 *   +0       8   count
 *   +8       count * 16   ids, strictly ascending
 *   end-16   16  MD5 of every byte before it
 *
 * or the Python tool's HEAP_CACHE_FILE: text, one md5 (32 hex) per line
 * (it appends a line per new object), with no heap URL and no checksum.
 * Both are read; a cache is written back in the format it was read in
 * (a new one in the binary layout, which also catches a cache of another
 * heap or a torn file), so a text cache stays usable by the Python tool.
 *
 * The cache is trusted: an object deleted from the heap behind its back
 * is taken as present (delete the file after pruning a heap). */
#ifndef SNAP_HEAP_CACHE_H
#define SNAP_HEAP_CACHE_H

#include <stdbool.h>

#include "errbuf.h"
#include "idset.h"

/* Add the ids of the cache file at path (either format) to set; *text
 * tells which format it was. Returns the count, or -ENOENT (no file),
 * -EBADMSG (corrupt, other URL: "heap cache 'p' is corrupt: ..."), other
 * -errno. On failure set may hold some ids: the caller clears it. */
int heap_cache_load(const char *path, const char *url, struct idset *set,
		    bool *text, struct errbuf *eb);

/* Write set to path atomically (temp file in the same directory, fsync,
 * rename), in the text format (text) or the binary one. 0 or -errno. */
int heap_cache_save(const char *path, const char *url, struct idset *set,
		    bool text, struct errbuf *eb);

#endif
