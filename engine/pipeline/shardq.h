/* shardq: N bounded queues, one per worker, with items routed by a key
 * (the parent directory of a file to write). Writers that create and
 * rename files in one directory take that directory's lock in turn; with
 * each directory's files on one worker they stop waiting on each other
 * (restore of 100,000 small files: rwsem spinning was the top kernel
 * symbol with one shared queue). */
#ifndef SNAP_SHARDQ_H
#define SNAP_SHARDQ_H

#include <stddef.h>
#include <stdint.h>

struct shardq;

/* n queues of capacity cap each. 0 or -ENOMEM. */
int shardq_new(size_t n, size_t cap, struct shardq **out);
void shardq_free(struct shardq *q);

/* Push item to queue key % n; blocks while that queue is full. 0 or
 * -ECANCELED after abort (the caller keeps item). */
int shardq_push(struct shardq *q, uint64_t key, void *item);
/* Worker i's batch (as bqueue_pop_batch): count, 0 at the end (every
 * queue closed and drained), or -ECANCELED. Worker i takes from queue i
 * first and from the others when its own is empty, so one heavy shard
 * never leaves the other workers idle. */
int shardq_pop_batch(struct shardq *q, size_t i, void **out, size_t max);
/* For a worker that takes more while it is busy: without blocking, from
 * its own queue only (the others' items are for their workers, who take
 * them at once or steal them when idle), what bqueue_try_pop_batch
 * spares: the count, 0 when none right now, or -ECANCELED. */
int shardq_try_pop_batch(struct shardq *q, size_t i, void **out,
			 size_t max);
/* The same two, with the weights of bqueue_pop_batch_weighted: a batch
 * stops before the item that would take its summed weight past budget
 * (the first item is always taken). With one queue (n 1) the pop is
 * bqueue_pop_batch_weighted on it: nothing to steal. */
int shardq_pop_batch_weighted(struct shardq *q, size_t i, void **out,
			      size_t max, uint64_t (*weight)(const void *item),
			      uint64_t budget);
int shardq_try_pop_batch_weighted(struct shardq *q, size_t i, void **out,
				  size_t max,
				  uint64_t (*weight)(const void *item),
				  uint64_t budget);
void shardq_close(struct shardq *q);
void shardq_abort(struct shardq *q);
/* After abort: take what is left, 1 with an item, 0 when empty. */
int shardq_drain(struct shardq *q, void **out);

/* FNV-1a of the directory part of a relative name ("" for top level). */
uint64_t shardq_dir_key(const char *name, size_t len);

/* Files of at least this many bytes are spread over the queues in turn:
 * their copy time dwarfs the directory lock, and two large files must
 * not queue behind each other on one worker while another idles. */
#define SHARDQ_SPREAD_MIN ((uint64_t)1 << 20)

/* Push a file to write: small files by shardq_dir_key (a directory's
 * files on one worker), files of SHARDQ_SPREAD_MIN bytes or more to the
 * queues in turn (by their names, two of 2 x 256 MiB landed on one
 * worker for one name pair in four: twice the time). As shardq_push. */
int shardq_push_file(struct shardq *q, const char *name, size_t len,
		     uint64_t size, void *item);
/* Spread those files over queues 0..n-1 only (n 0 or over the count:
 * all, the default). For workers that hash the files they copy in MD5
 * lanes, which go faster the more files share them: one queue per CPU.
 * The other workers still take them when idle (shardq_pop_batch). Call
 * before the first push. */
void shardq_set_spread(struct shardq *q, size_t n);

#endif
