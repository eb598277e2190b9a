/* idset: the remote heap's in-memory index: a set of 16-byte object ids
 * (open addressing, linear probing, 16 bytes per slot, load <= 3/4).
 * Thread safe: every call may come from any thread. */
#ifndef SNAP_IDSET_H
#define SNAP_IDSET_H

#include <stdbool.h>
#include <stddef.h>

#include "objid.h"

struct idset;

/* New empty set sized for about expected ids. 0 or -ENOMEM. */
int idset_new(size_t expected, struct idset **out);
void idset_free(struct idset *s);

/* Add id. Returns 1 when added, 0 when it was there, -ENOMEM. */
int idset_add(struct idset *s, const struct objid *id);

/* Is id in the set? */
bool idset_has(struct idset *s, const struct objid *id);

size_t idset_count(struct idset *s);

/* Remove every id (keeps the table). */
void idset_clear(struct idset *s);

/* Every id, sorted by bytes, in a malloc'd array the caller frees
 * (*out NULL when empty). 0 or -ENOMEM. */
int idset_export_sorted(struct idset *s, struct objid **out, size_t *n);

#endif
