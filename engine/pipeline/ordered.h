/* ordered: a bounded window that lets parallel workers finish items out of
 * order while the consumer sees them in the order the producer made them.
 * The scanner reserves a slot per entry (blocking while the window is
 * full: backpressure), workers complete slots, the snapshot writer takes
 * them in sequence. Memory is the window size, whatever the tree. */
#ifndef SNAP_ORDERED_H
#define SNAP_ORDERED_H

#include <stddef.h>
#include <stdint.h>

#include "entry.h"

struct ordered_slot {
	struct entry entry;
	int err;            /* 0 or -errno: the item failed */
	uint8_t done;       /* private: set by ordered_complete */
	uint8_t needs_work; /* scanner: must be hashed / copied */
	uint64_t seq;       /* private */
	void *job;          /* free for the stage's use */
};

struct ordered;

int ordered_new(size_t window, struct ordered **out);
void ordered_free(struct ordered *o);

/* Producer: next slot in sequence, zeroed, or NULL once aborted. Blocks
 * while `window` slots are outstanding. */
struct ordered_slot *ordered_reserve(struct ordered *o);

/* Worker or producer: the slot's work is finished (successfully or with
 * slot->err set). */
void ordered_complete(struct ordered *o, struct ordered_slot *slot);
/* The same for n slots under one lock (a worker's whole batch). */
void ordered_complete_batch(struct ordered *o, struct ordered_slot **slots,
			    size_t n);

/* Producer: no more slots will be reserved. */
void ordered_close(struct ordered *o);

/* Consumer: the next slot in sequence once it is complete; NULL at the end
 * (closed and drained) or when aborted. The slot stays valid until
 * ordered_release. */
struct ordered_slot *ordered_next(struct ordered *o);
/* Consumer: done with the slot returned by ordered_next; releases its
 * entry (entry_release) and frees the space for the producer. */
void ordered_release(struct ordered *o, struct ordered_slot *slot);

/* Consumer, in batches: up to max consecutive complete slots from the
 * head (blocking for the first); 0 at the end or when aborted. Release
 * exactly those, in order, with ordered_release_batch. A waiting producer
 * is woken once a quarter of the window is free, not for every slot. */
size_t ordered_next_batch(struct ordered *o, struct ordered_slot **out,
			  size_t max);
void ordered_release_batch(struct ordered *o, struct ordered_slot **slots,
			   size_t n);

/* Any thread: stop everything; blocked calls return NULL. */
void ordered_abort(struct ordered *o);

#endif
