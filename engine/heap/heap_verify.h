/* heap_verify: make-snapshot --verify-heap. Every object the run would
 * reference and finds already in the heap is read back once and
 * MD5-checked (heap_check_object); a damaged one (corrupt, truncated,
 * unreadable, gone) is written again from the file being backed up
 * (heap_replace_object: never a moment without an object under the
 * name). The hash workers claim a content before they store it: the
 * first claimant of an id stores it, checks and repairs it; the others
 * wait until it is settled, then store nothing (it is sound by then).
 * Thread safe. */
#ifndef SNAP_HEAP_VERIFY_H
#define SNAP_HEAP_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"
#include "heap.h"
#include "log.h"
#include "objid.h"

struct heap_verify;
struct hasher;

/* A verifier of heap h (borrowed, must outlive it); repairs are logged
 * at WARNING through log (copied). 0 or -ENOMEM. */
int heap_verify_new(struct heap *h, const struct logger *log,
		    struct heap_verify **out, struct errbuf *eb);
void heap_verify_free(struct heap_verify *v);

/* Before storing content id: 1 the caller holds id and must call
 * heap_verify_settle once it is stored and checked (or failed); 0 an
 * earlier claimant settled it (stored, found sound or repaired): the
 * caller stores nothing and counts it present. Waits while another
 * worker holds id (a worker holds one id at a time and never waits
 * while holding one, so this cannot deadlock). -ENOMEM. */
int heap_verify_claim(struct heap_verify *v, const struct objid *id,
		      struct errbuf *eb);

/* Release id: sound (stored by the holder, found sound, or repaired)
 * settles it for the rest of the run; otherwise the next claimant
 * checks it again (and may repair it from its own file). */
void heap_verify_settle(struct heap_verify *v, const struct objid *id,
			bool sound);

/* The holder's put found id already present: read it back. 1 sound, 0
 * damaged (eb says why, naming the object), -errno could not tell (a
 * store unreachable). hs, buf and cap: the worker's own scratch. */
int heap_verify_check(struct heap_verify *v, const struct objid *id,
		      struct hasher *hs, void *buf, size_t cap,
		      struct errbuf *eb);

/* After heap_verify_check said 0 (why: its message): replace the object
 * with the bytes of src (at byte 0: the file the content came from,
 * named shown), hashed again on the way. 0 repaired (logged at WARNING
 * naming the object, the damage and the file); -ESTALE the file no
 * longer holds that content (logged at WARNING, nothing replaced: the
 * caller reads the file again); -errno. */
int heap_verify_repair(struct heap_verify *v, const struct objid *id,
		       const char *why, int src, const char *shown,
		       struct hasher *hs, void *buf, size_t cap,
		       struct errbuf *eb);

/* Objects read back, and objects replaced, so far. */
void heap_verify_counts(const struct heap_verify *v, uint64_t *verified,
			uint64_t *repaired);

#endif
