/* diff: streaming merge of two entry streams sorted by entry_cmp, calling
 * back once per name with its state. Memory: two entries at a time. */
#ifndef SNAP_DIFF_H
#define SNAP_DIFF_H

#include "entry.h"
#include "errbuf.h"

enum diff_state {
	DIFF_ONLY_LEFT = 1,
	DIFF_ONLY_RIGHT,
	DIFF_DIFFERENT,   /* same name, different type, md5, size or target */
	DIFF_EQUAL,
};

/* A source of entries in entry_cmp order: next() returns 1 with *out
 * filled (caller releases it), 0 at the end, or -errno with eb set. */
struct entry_stream {
	int (*next)(void *ctx, struct entry *out, struct errbuf *eb);
	void *ctx;
};

/* Called for each name. l is NULL for ONLY_RIGHT, r for ONLY_LEFT. The
 * entries are borrowed for the duration of the call. A negative return
 * stops the merge and is returned by diff_run. */
typedef int (*diff_cb)(void *ctx, enum diff_state state,
		       const struct entry *l, const struct entry *r,
		       struct errbuf *eb);

/* Returns 0 or the first negative error (from a stream or the callback).
 * Streams out of order are an error (-EBADMSG). */
int diff_run(struct entry_stream *left, struct entry_stream *right,
	     diff_cb cb, void *cb_ctx, struct errbuf *eb);

const char *diff_state_name(enum diff_state s); /* "only_left", ... */

/* One line of a --dry-run plan on stdout: "<what> <name>", the name
 * rendered printable (errbuf_quote_name). */
void diff_print_plan(const char *what, const struct entry *e);
int diff_state_parse(const char *s, enum diff_state *out);

#endif
