/* bqueue: bounded multi-producer multi-consumer queue of pointers; the only
 * channel between pipeline stages. Push blocks while full (backpressure),
 * pop blocks while empty; close wakes everyone (first error wins). */
#ifndef SNAP_BQUEUE_H
#define SNAP_BQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bqueue;

/* Create a queue holding at most capacity items. Returns 0 or -ENOMEM. */
int bqueue_new(size_t capacity, struct bqueue **out);
void bqueue_free(struct bqueue *q);

/* Push transfers ownership of item to the consumer. Blocks while the queue
 * is full. Returns 0, or -ECANCELED once the queue is closed (the caller
 * keeps item). Thread safe. */
int bqueue_push(struct bqueue *q, void *item);

/* Pop the oldest item into *out. Blocks while empty. Returns 1 with an item,
 * 0 when the queue is closed for producers and drained (end of stream), or
 * -ECANCELED when it was aborted. Thread safe. */
int bqueue_pop(struct bqueue *q, void **out);

/* Like bqueue_pop, but takes up to max items at once (blocking only for
 * the first). Returns the count (>= 1), 0 at end of stream, or
 * -ECANCELED. Lets workers batch I/O submissions. */
int bqueue_pop_batch(struct bqueue *q, void **out, size_t max);

/* Like bqueue_pop_batch, but also stops before the item that would take
 * the summed weight(item) past budget (the first item is always taken).
 * Keeps one worker from taking several large files while another idles. */
int bqueue_pop_batch_weighted(struct bqueue *q, void **out, size_t max,
			      uint64_t (*weight)(const void *item),
			      uint64_t budget);

/* Like bqueue_pop_batch without blocking, for a consumer that takes
 * more work while it is busy: the count (>= 1), 0 when nothing is spare
 * right now (*ended tells whether the queue is also empty and closed:
 * the end of the stream), or -ECANCELED. Items are spare beyond one for
 * each consumer blocked in a pop: a busy worker never takes the item an
 * idle one was woken for (two large files to two workers, not both in
 * one worker's lanes, where they would be hashed one after the other). */
int bqueue_try_pop_batch(struct bqueue *q, void **out, size_t max,
			 bool *ended);

/* The same with the weights of bqueue_pop_batch_weighted. */
int bqueue_try_pop_batch_weighted(struct bqueue *q, void **out, size_t max,
				  uint64_t (*weight)(const void *item),
				  uint64_t budget, bool *ended);

/* Consumers blocked in a pop right now (woken ones included until they
 * run): for tests. */
size_t bqueue_waiting(struct bqueue *q);

/* Producers are done: consumers drain what is left, then see 0. */
void bqueue_close(struct bqueue *q);

/* Abort: pushes and pops fail with -ECANCELED from now on; items still
 * queued stay for bqueue_drain(). Used when a stage fails. */
void bqueue_abort(struct bqueue *q);

/* Take the oldest item without blocking, whatever the queue's state:
 * after abort/close, the remaining items (for freeing); on a live queue,
 * a pop for a consumer that must not sleep here (the network thread).
 * Wakes a producer waiting for room. Returns 1 with an item, 0 when
 * empty. */
int bqueue_drain(struct bqueue *q, void **out);

#endif
