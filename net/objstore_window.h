/* objstore_window: a sliding window of numbered requests (multipart
 * parts, ranges of a download), for objstore_put.c and objstore_get.c. */
#ifndef SNAP_OBJSTORE_WINDOW_H
#define SNAP_OBJSTORE_WINDOW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "http_multi.h"
#include "objstore_impl.h"

/* Requests 0..n-1 go out through `window` slots: a slot whose request
 * completed takes the next number at once, so `window` requests stay in
 * flight until the last ones (not lock-step rounds). The submitting
 * thread sleeps in http_wait_below between completions. */
struct objstore_slot {
	struct http_request req;   /* first: the done callback gets &req */
	uint64_t idx;
	bool busy;
	atomic_bool finished;
};

struct objstore_window_ops {
	/* build request idx into slot->req and submit it with
	 * objstore_slot_submit(os, slot, wait); 0 or -errno (message in
	 * eb) */
	int (*submit)(void *arg, struct objstore_slot *slot, unsigned slotno,
		      struct http_wait *wait, struct errbuf *eb);
	/* take the finished slot's answer; err is the run's first error so
	 * far (0: none), the return the new one */
	int (*harvest)(void *arg, struct objstore_slot *slot, unsigned slotno,
		       int err, struct errbuf *eb);
};

/* Submit slot->req (built by the caller) in the window. */
int objstore_slot_submit(struct objstore *os, struct objstore_slot *slot,
			 struct http_wait *wait);

/* Run requests 0..n-1 in `window` slots; after the first error no new
 * request is submitted and the ones in flight are waited for. Returns
 * the first error. */
int objstore_window_run(uint64_t n, unsigned window,
			const struct objstore_window_ops *ops, void *arg,
			struct errbuf *eb);

#endif
