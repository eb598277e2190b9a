/* snapshot_shape: "can this snapshot exist as one tree?" A restore checks
 * every entry of its target, in stream order, before it writes anything:
 * no name listed with two types (file "a" and directory "a"), no path
 * under a non-directory (symlink "a", then file "a/x"). */
#ifndef SNAP_SNAPSHOT_SHAPE_H
#define SNAP_SNAPSHOT_SHAPE_H

#include "entry.h"
#include "errbuf.h"

struct snapshot_shape;

/* A checker for one stream. 0 or -ENOMEM. */
int snapshot_shape_new(struct snapshot_shape **out, struct errbuf *eb);
/* NULL-safe. */
void snapshot_shape_free(struct snapshot_shape *s);

/* Take the next entry of a stream in entry_cmp order (the snapshot
 * reader refuses any other). Returns 0, or -EBADMSG with both entries
 * named in eb ("'a' is a symlink, yet 'a/x' (a file) is listed under
 * it"), or -ENOMEM. An exact duplicate (same name, same type) is left to
 * the caller. Memory: one name and a stack of its prefix lengths. Not
 * thread safe. */
int snapshot_shape_add(struct snapshot_shape *s, const struct entry *e,
		       struct errbuf *eb);

#endif
