/* diff: streaming merge of two entry streams in entry_cmp order (the order
 * snapshots and tree scans emit). Used by compare-snapshots and restore.
 * Holds one entry per side plus the previous key of each side (to detect
 * out-of-order input). */
#include "diff.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "compiler.h"
#include "banned.h"

static const char *const state_names[] = {
	[DIFF_ONLY_LEFT] = "only_left",
	[DIFF_ONLY_RIGHT] = "only_right",
	[DIFF_DIFFERENT] = "different",
	[DIFF_EQUAL] = "equal",
};

const char *diff_state_name(enum diff_state s)
{
	if ((size_t)s >= ARRAY_SIZE(state_names) || !state_names[s])
		return "unknown";
	return state_names[s];
}

int diff_state_parse(const char *s, enum diff_state *out)
{
	size_t i;

	if (!s || !out)
		return -EINVAL;
	for (i = 1; i < ARRAY_SIZE(state_names); i++) {
		if (!strcasecmp(s, state_names[i])) {
			*out = (enum diff_state)i;
			return 0;
		}
	}
	return -EINVAL;
}

void diff_print_plan(const char *what, const struct entry *e)
{
	char shown[1024];

	errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
	printf("%s %s\n", what, shown);
}

/* One side of the merge: the current entry and the previous one. */
struct side {
	struct entry_stream *st;
	const char *label;     /* "left" / "right" for messages */
	struct entry cur;
	struct entry prev;
	bool has_cur;
	bool has_prev;
	bool at_end;
};

/* Advance a side: cur becomes prev, read the next entry and check it sorts
 * strictly after prev. Returns 0 (check at_end) or -errno. */
static int side_advance(struct side *s, struct errbuf *eb)
{
	struct entry tmp;
	int rc;

	if (s->has_cur) {
		entry_release(&s->prev);
		s->prev = s->cur;      /* ownership moves to prev */
		s->has_prev = true;
		entry_init(&s->cur);
		s->has_cur = false;
	}
	if (s->at_end)
		return 0;
	entry_init(&tmp);
	rc = s->st->next(s->st->ctx, &tmp, eb);
	if (rc < 0) {
		entry_release(&tmp);
		if (eb && !eb->code)
			errbuf_set(eb, rc, "reading %s stream failed", s->label);
		return rc;
	}
	if (rc == 0) {
		entry_release(&tmp);
		s->at_end = true;
		return 0;
	}
	if (!tmp.name) {
		entry_release(&tmp);
		return errbuf_set(eb, -EBADMSG, "%s stream: entry without name",
				  s->label);
	}
	if (s->has_prev && entry_cmp(&s->prev, &tmp) >= 0) {
		char a[256], b[256];

		errbuf_quote_name(a, sizeof(a), s->prev.name, s->prev.name_len);
		errbuf_quote_name(b, sizeof(b), tmp.name, tmp.name_len);
		entry_release(&tmp);
		return errbuf_set(eb, -EBADMSG,
				  "%s stream out of order: '%s' after '%s'",
				  s->label, b, a);
	}
	s->cur = tmp;
	s->has_cur = true;
	return 0;
}

int diff_run(struct entry_stream *left, struct entry_stream *right,
	     diff_cb cb, void *cb_ctx, struct errbuf *eb)
{
	struct side l = { .st = left, .label = "left" };
	struct side r = { .st = right, .label = "right" };
	int rc;

	if (!left || !right || !left->next || !right->next || !cb)
		return errbuf_set(eb, -EINVAL, "diff: invalid arguments");
	entry_init(&l.cur);
	entry_init(&l.prev);
	entry_init(&r.cur);
	entry_init(&r.prev);
	rc = side_advance(&l, eb);
	if (rc < 0)
		goto out;
	rc = side_advance(&r, eb);
	if (rc < 0)
		goto out;
	while (l.has_cur || r.has_cur) {
		int c;

		if (!r.has_cur)
			c = -1;
		else if (!l.has_cur)
			c = 1;
		else
			c = entry_cmp(&l.cur, &r.cur);
		if (c < 0) {
			rc = cb(cb_ctx, DIFF_ONLY_LEFT, &l.cur, NULL, eb);
			if (rc < 0)
				goto out;
			rc = side_advance(&l, eb);
		} else if (c > 0) {
			rc = cb(cb_ctx, DIFF_ONLY_RIGHT, NULL, &r.cur, eb);
			if (rc < 0)
				goto out;
			rc = side_advance(&r, eb);
		} else {
			enum diff_state st = entry_same_content(&l.cur, &r.cur) ?
				DIFF_EQUAL : DIFF_DIFFERENT;

			rc = cb(cb_ctx, st, &l.cur, &r.cur, eb);
			if (rc < 0)
				goto out;
			rc = side_advance(&l, eb);
			if (rc < 0)
				goto out;
			rc = side_advance(&r, eb);
		}
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	entry_release(&l.cur);
	entry_release(&l.prev);
	entry_release(&r.cur);
	entry_release(&r.prev);
	return rc;
}
