/* objstore_window: see objstore_window.h. */
#include "objstore_window.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "objstore_impl.h"

#include "banned.h"

static void slot_finished(struct http_request *req)
{
	struct objstore_slot *slot = (struct objstore_slot *)req;

	atomic_store(&slot->finished, true);
}

/* Submit slot->req (built by the caller) in the window. */
int objstore_slot_submit(struct objstore *os, struct objstore_slot *slot,
			 struct http_wait *wait)
{
	int err;

	slot->req.wait = wait;
	slot->req.done = slot_finished;
	atomic_store(&slot->finished, false);
	err = http_multi_submit(os->hm, &slot->req);
	if (!err)
		slot->busy = true;
	return err;
}

/* Run requests 0..n-1 in `window` slots; after the first error no new
 * request is submitted and the ones in flight are waited for. Returns
 * the first error. */
int objstore_window_run(uint64_t n, unsigned window,
			const struct objstore_window_ops *ops, void *arg,
			struct errbuf *eb)
{
	struct objstore_slot *slots;
	struct http_wait wait;
	uint64_t next = 0;
	unsigned i, busy;
	int err = 0;

	slots = calloc(window, sizeof(*slots));
	if (!slots)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	http_wait_init(&wait);
	for (;;) {
		busy = 0;
		for (i = 0; i < window; i++) {
			if (!slots[i].busy && next < n && !err) {
				slots[i].idx = next++;
				err = ops->submit(arg, &slots[i], i, &wait,
						  eb);
			}
			busy += slots[i].busy;
		}
		if (!busy)
			break;
		/* one of them done: its slot takes the next number */
		http_wait_below(&wait, busy);
		for (i = 0; i < window; i++) {
			if (!slots[i].busy ||
			    !atomic_load(&slots[i].finished))
				continue;
			err = ops->harvest(arg, &slots[i], i, err, eb);
			http_request_release(&slots[i].req);
			memset(&slots[i].req, 0, sizeof(slots[i].req));
			slots[i].busy = false;
		}
	}
	http_wait_release(&wait);
	free(slots);
	return err;
}
