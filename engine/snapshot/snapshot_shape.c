/* snapshot_shape: the one-type-per-name and nothing-under-a-non-directory
 * check, in bounded memory over a sorted entry stream.
 *
 * In entry_cmp order a directory "a" sorts as "a/", so every entry that
 * could clash with a non-directory S (S itself with another type, the
 * directory S, anything under "S/") comes after S and before the first
 * key that is greater than S without S as its prefix. In between only
 * keys S + c with c < '/' ("a-b", "a.txt") may appear, and those may be
 * non-directories themselves: the open candidates form a chain of
 * prefixes of the last one, so the checker keeps that name and a stack of
 * prefix lengths, and pops a candidate once a key passes its range. */
#include "snapshot_shape.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

struct snapshot_shape {
	char *name;          /* the deepest open non-directory */
	size_t *len;         /* open candidates: prefixes of name */
	uint8_t *type;
	size_t depth, cap;   /* stack size, capacity of name/len/type */
};

int snapshot_shape_new(struct snapshot_shape **out, struct errbuf *eb)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : errbuf_set(eb, -ENOMEM, "out of memory");
}

void snapshot_shape_free(struct snapshot_shape *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->len);
	free(s->type);
	free(s);
}

static const char *type_word(uint8_t type)
{
	switch (type) {
	case ENTRY_FILE: return "a file";
	case ENTRY_SYMLINK: return "a symlink";
	case ENTRY_DIR: return "a directory";
	default: return "an entry of unknown type";
	}
}

static int grow(struct snapshot_shape *s, size_t need, struct errbuf *eb)
{
	size_t cap = s->cap ? s->cap : 64;
	char *name;
	size_t *len;
	uint8_t *type;

	while (cap < need)
		cap *= 2;
	if (cap == s->cap)
		return 0;
	name = realloc(s->name, cap);
	if (!name)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	s->name = name;
	len = realloc(s->len, cap * sizeof(*len));
	if (!len)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	s->len = len;
	type = realloc(s->type, cap);
	if (!type)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	s->type = type;
	s->cap = cap;
	return 0;
}

int snapshot_shape_add(struct snapshot_shape *s, const struct entry *e,
		       struct errbuf *eb)
{
	char shown_s[512], shown_e[512];
	bool is_dir = e->type == ENTRY_DIR;
	int ret;

	while (s->depth) {
		size_t n = s->len[s->depth - 1];
		uint8_t t = s->type[s->depth - 1];

		if (e->name_len < n || memcmp(e->name, s->name, n)) {
			s->depth--;  /* past the candidate's range */
			continue;
		}
		if (e->name_len == n && !is_dir && e->type == t)
			return 0;  /* a duplicate: the caller's concern */
		errbuf_quote_name(shown_s, sizeof(shown_s), s->name, n);
		if (e->name_len == n)
			return errbuf_set(eb, -EBADMSG, "'%s' is listed both as "
					  "%s and as %s", shown_s, type_word(t),
					  type_word(e->type));
		if (e->name[n] == '/') {
			errbuf_quote_name(shown_e, sizeof(shown_e), e->name,
					  e->name_len);
			return errbuf_set(eb, -EBADMSG, "'%s' is %s, yet '%s' "
					  "(%s) is listed under it", shown_s,
					  type_word(t), shown_e,
					  type_word(e->type));
		}
		if ((unsigned char)e->name[n] > '/') {
			s->depth--;  /* sorts after every "S/..." */
			continue;
		}
		break;  /* "S-x", "S.x": S stays open */
	}
	if (is_dir)
		return 0;
	ret = grow(s, e->name_len + 1, eb);
	if (ret < 0)
		return ret;
	/* the open candidates are prefixes of this name: keep it whole */
	memcpy(s->name, e->name, e->name_len);
	s->len[s->depth] = e->name_len;
	s->type[s->depth] = e->type;
	s->depth++;
	return 0;
}
