/* make_snapshot.h: make-snapshot inside another operation of the same run
 * (restore's snapshots before and after), on the stores that operation
 * already holds open.
 *
 * Why: opening a store is not free. An object-store heap is listed whole
 * when opened (1,000 objects per request: minutes for a heap of millions),
 * a snapshot store is listed to find the latest snapshot, and a lock is an
 * object written, listed and deleted. restore held all three already and
 * opened them twice more; it holds the tree too. */
#ifndef SNAP_MAKE_SNAPSHOT_H
#define SNAP_MAKE_SNAPSHOT_H

#include "engine.h"

struct heap;
struct snapstore;
struct lock;
struct tree;

/* Borrowed, never freed or released by make-snapshot; each may be NULL
 * (make-snapshot opens its own then). They must be open on the roots of
 * the engine_opts given with them. */
struct make_snapshot_stores {
	struct heap *heap;         /* on o->heap_root */
	struct snapstore *ss;      /* on o->snap_root */
	/* the caller's lock on o->snap_root (shared or exclusive): checked
	 * before the snapshot is published, as make-snapshot's own */
	struct lock *lock;
	struct tree *tree;         /* on o->file_root */
};

/* engine_make_snapshot on borrowed stores (st NULL: the same as it). The
 * heap is synced before the snapshot is published, as always; heap_finish
 * is the owner's (so on a failed run the counters may still include
 * uploads that never completed: the caller reports the run as failed). */
int make_snapshot_in(const struct engine_opts *o,
		     const struct make_snapshot_opts *mo,
		     const struct make_snapshot_stores *st,
		     struct run_stats *stats, char **snapshot_path,
		     struct errbuf *eb);

#endif
