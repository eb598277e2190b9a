/* workpool: the worker threads of one operation and the sharded queue
 * that feeds them (make-snapshot's hash workers, restore's writers,
 * sync's copiers). One type owns the queue, the threads and what is left
 * in the queue when a run stops, so that each operation's pool is
 * started, stopped on its first error, drained and freed the same way.
 *
 * Life of a pool:
 *   workpool_new      the queue (items may be pushed from here on: they
 *                     wait until workers start)
 *   workpool_start    the threads; each runs def.work(def.arg, shard)
 *   workpool_queue    the queue producers push to and workers pop from:
 *                     worker `shard` pops with that index (own shard
 *                     first, then the others', see shardq.h)
 *   workpool_close    no more items: workers finish what is queued
 *   workpool_abort    the first error: pushes and pops fail with
 *                     -ECANCELED, queued items stay for the drain
 *   workpool_join     wait for every started worker
 *   workpool_free     abort, join, drain (def.free_item), free
 * Every step after workpool_new may be called in any state (before
 * start, twice, after an abort), and with no pool at all (NULL: a run
 * that failed before making one, or a dry run that has none): the
 * caller's error paths need no flags. */
#ifndef SNAP_WORKPOOL_H
#define SNAP_WORKPOOL_H

#include <stddef.h>

#include "errbuf.h"
#include "shardq.h"

struct workpool;

struct workpool_def {
	/* threads to start (0 is taken as 1) */
	unsigned workers;
	/* queues: 1 shared by every worker, or one per worker (a worker's
	 * own shard first: restore's files of one directory on one
	 * writer); 0 is taken as workers */
	size_t shards;
	/* items queued in all at most (split over the shards: backpressure
	 * on the producer) */
	size_t queue_cap;
	/* a worker's main: pops its shard until the end (0) or an abort;
	 * it reports its own errors (and aborts the pool on the first) */
	void (*work)(void *arg, size_t shard);
	void *arg;
	/* frees an item still queued when the pool is freed; NULL when the
	 * items are not the pool's to free (make-snapshot's window slots) */
	void (*free_item)(void *item);
};

/* The pool and its queue, no thread yet. 0, or -ENOMEM in eb. */
int workpool_new(const struct workpool_def *def, struct workpool **out,
		 struct errbuf *eb);
/* Start the workers: 0 when at least one runs (fewer than asked when the
 * system refuses threads: the pool still drains its queue), else
 * -EAGAIN in eb. */
int workpool_start(struct workpool *p, struct errbuf *eb);
struct shardq *workpool_queue(struct workpool *p);
/* workers running (started and not joined) */
unsigned workpool_running(const struct workpool *p);
/* p may be NULL in these four. */
void workpool_close(struct workpool *p);
void workpool_abort(struct workpool *p);
void workpool_join(struct workpool *p);
void workpool_free(struct workpool *p);

#endif
