/* lock: the repository lock that keeps gc away from running backups (the
 * protocol and why it is safe: engine/ops/LOCKING.md). Lock objects live
 * in SNAP_ROOT/locks/ (a local directory or the same s3:// / az:// store
 * as the snapshots): make-snapshot, restore-snapshot and forget hold a
 * shared lock, gc an exclusive one. A holder refreshes its object from a
 * thread every refresh_s seconds; an object not refreshed for expiry_s is
 * stale and may be removed by anyone. */
#ifndef SNAP_LOCK_H
#define SNAP_LOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "errbuf.h"

enum lock_kind {
	LOCK_SHARED = 0,
	LOCK_EXCLUSIVE,
};

#define LOCK_DIR "locks"
#define LOCK_EXPIRY_DEFAULT_S 1800
#define LOCK_REFRESH_DEFAULT_S 300

struct lock;

/* Take a lock of kind on o->snap_root (o->lock_expiry_s and
 * o->lock_refresh_s, 0: the defaults) for the command what ("gc"): remove
 * stale lock objects, refuse (-EBUSY, "SNAP_ROOT is locked by gc on host
 * h (pid 12, refreshed 5 s ago)") while a live conflicting one exists
 * (exclusive: any other; shared: an exclusive one), write ours, then
 * list again and back off (-EBUSY) if a conflicting one appeared in
 * between. On success the refresh thread runs until lock_release.
 * 0 or -errno. */
int lock_acquire(const struct engine_opts *o, enum lock_kind kind,
		 const char *what, struct lock **out, struct errbuf *eb);

/* Is the lock still ours? Call right before publishing anything that
 * depends on it (a snapshot): fails with -ESTALE ("lost the lock on
 * SNAP_ROOT: ...") when the last successful refresh is too old
 * (lock_refresh_too_old: another run may take it as stale before the
 * publishing is over) or when our lock object is gone. 0 or -errno. */
int lock_check(struct lock *l, struct errbuf *eb);

/* The expiry is cut in thirds: refreshes come at most a third of it
 * apart, a refresh may be late by up to a third, and the last third is
 * the margin for publishing after lock_check. So:
 * - lock_refresh_period: the refresh period used for refresh_s (0: the
 *   default) and expiry_s: at most expiry_s / 3, at least 1 s;
 * - lock_refresh_too_old: a holder whose last refresh is since_s old
 *   publishes nothing once since_s is past two thirds of expiry_s. */
unsigned lock_refresh_period(unsigned expiry_s, unsigned refresh_s);
bool lock_refresh_too_old(double since_s, unsigned expiry_s);

/* Stop refreshing and remove the lock object. NULL-safe. */
void lock_release(struct lock *l);

#endif
