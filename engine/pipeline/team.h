/* team: threads running one function to its end, sharing an array out
 * by claiming its next index (verify's object reads, the heap's prefix
 * listings, heap_has_many). Not a pool (workpool.h): no queue, nothing
 * fed while it runs, gone when team_run returns; members report failure
 * in the caller's own record (a run_error.h, say). */
#ifndef SNAP_TEAM_H
#define SNAP_TEAM_H

/* Run fn(arg) on n threads at once (0 is taken as 1), the caller's own
 * thread being one of them, and return when every one has returned. A
 * thread the system refuses is not retried: fewer run, at least the
 * caller, so fn must take work until none is left rather than a share
 * fixed in advance. Returns how many ran fn. */
unsigned team_run(unsigned n, void *(*fn)(void *), void *arg);

#endif
