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

/* Producer: no more slots will be reserved. */
void ordered_close(struct ordered *o);

/* Consumer: the next slot in sequence once it is complete; NULL at the end
 * (closed and drained) or when aborted. The slot stays valid until
 * ordered_release. */
struct ordered_slot *ordered_next(struct ordered *o);
/* Consumer: done with the slot returned by ordered_next; releases its
 * entry (entry_release) and frees the space for the producer. */
void ordered_release(struct ordered *o, struct ordered_slot *slot);

/* Any thread: stop everything; blocked calls return NULL. */
void ordered_abort(struct ordered *o);

#endif
