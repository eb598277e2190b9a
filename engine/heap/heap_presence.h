/* heap_presence: "does the heap hold every object this snapshot needs?"
 * for a stream of files, answered a batch at a time with parallel
 * lookups (heap_has_many): restore asks it for every file before it
 * touches the tree, and on a cold cache one lookup after the other would
 * wait for one directory read after the other. */
#ifndef SNAP_HEAP_PRESENCE_H
#define SNAP_HEAP_PRESENCE_H

#include <stddef.h>

#include "errbuf.h"
#include "heap.h"
#include "objid.h"

struct heap_presence;

/* Lookups on up to `threads` threads. 0 or -ENOMEM. */
int heap_presence_new(struct heap *h, unsigned threads,
		      struct heap_presence **out, struct errbuf *eb);
void heap_presence_free(struct heap_presence *p);

/* Queue object id, needed by the file name (for the message). A full
 * batch is looked up at once. Returns 0, -ENOENT with "cannot restore
 * 'name': heap object <md5> is missing from '<heap>'" for the first
 * missing object in the order added, or another -errno. */
int heap_presence_add(struct heap_presence *p, const struct objid *id,
		      const char *name, size_t len, struct errbuf *eb);

/* Look up what is still queued; as heap_presence_add. */
int heap_presence_finish(struct heap_presence *p, struct errbuf *eb);

#endif
