/* entry: tree item record, ordering and name validation. */
#include "entry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* user and group share one allocation, starting at the first present */
static char *owner_block(const struct entry *e)
{
	return e->user ? e->user : e->group;
}

void entry_init(struct entry *e)
{
	memset(e, 0, sizeof(*e));
}

void entry_release(struct entry *e)
{
	if (!e)
		return;
	free(e->name);
	free(e->target);
	free(e->etag);
	free(e->xattrs);
	free(owner_block(e));
	free(e->link);
	entry_init(e);
}

struct entry *entry_new(void)
{
	return calloc(1, sizeof(struct entry));
}

void entry_free(struct entry *e)
{
	if (!e)
		return;
	entry_release(e);
	free(e);
}

static int dup_bytes(char **dst, size_t *dst_len, const char *src, size_t len)
{
	char *p = malloc(len + 1);

	if (!p)
		return -ENOMEM;
	memcpy(p, src, len);
	p[len] = '\0';
	free(*dst);
	*dst = p;
	if (dst_len)
		*dst_len = len;
	return 0;
}

int entry_set_name(struct entry *e, const char *name, size_t len)
{
	return dup_bytes(&e->name, &e->name_len, name, len);
}

int entry_set_target(struct entry *e, const char *target, size_t len)
{
	return dup_bytes(&e->target, &e->target_len, target, len);
}

int entry_set_etag(struct entry *e, const char *etag)
{
	return dup_bytes(&e->etag, NULL, etag, strlen(etag));
}

/* an ETag without its surrounding quotes */
static size_t etag_core(const char *s, const char **core)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		*core = s + 1;
		return n - 2;
	}
	*core = s;
	return n;
}

bool entry_etag_is(const struct entry *e, const char *etag)
{
	const char *lc, *fc;
	size_t ll, fl;

	if (!e->etag || !etag || !etag[0])
		return true;
	ll = etag_core(e->etag, &lc);
	fl = etag_core(etag, &fc);
	return ll == fl && !memcmp(lc, fc, ll);
}

int entry_take_fetched_etag(struct entry *e, const char *fetched)
{
	const char *fc;
	size_t fl;
	char *p;
	int ret;

	if (entry_etag_is(e, fetched) || !strncmp(fetched, "W/", 2))
		return 0;
	fl = etag_core(fetched, &fc);
	if (e->etag[0] != '"') {  /* listed without quotes: so is this one */
		ret = dup_bytes(&e->etag, NULL, fc, fl);
		return ret < 0 ? ret : 1;
	}
	p = malloc(fl + 3);
	if (!p)
		return -ENOMEM;
	p[0] = '"';
	memcpy(p + 1, fc, fl);
	p[fl + 1] = '"';
	p[fl + 2] = '\0';
	free(e->etag);
	e->etag = p;
	return 1;
}

int entry_set_owner_names(struct entry *e, const char *user,
			  const char *group)
{
	size_t ul = user ? strlen(user) + 1 : 0;
	size_t gl = group ? strlen(group) + 1 : 0;
	char *p = NULL;

	/* one allocation for both (a scan makes one per entry) */
	if (ul + gl) {
		p = malloc(ul + gl);
		if (!p)
			return -ENOMEM;
		if (user)
			memcpy(p, user, ul);
		if (group)
			memcpy(p + ul, group, gl);
	}
	free(owner_block(e));
	e->user = user ? p : NULL;
	e->group = group ? p + ul : NULL;
	return 0;
}

int entry_set_link(struct entry *e, const char *first, size_t len)
{
	return dup_bytes(&e->link, &e->link_len, first, len);
}

int entry_copy(struct entry *dst, const struct entry *src)
{
	*dst = *src;
	dst->name = NULL;
	dst->target = NULL;
	dst->etag = NULL;
	dst->xattrs = NULL;
	dst->user = NULL;
	dst->group = NULL;
	dst->link = NULL;
	if (src->name && entry_set_name(dst, src->name, src->name_len))
		goto nomem;
	if (src->target && entry_set_target(dst, src->target, src->target_len))
		goto nomem;
	if (src->etag && entry_set_etag(dst, src->etag))
		goto nomem;
	if (src->xattrs) {
		dst->xattrs = malloc(src->xattrs_len);
		if (!dst->xattrs)
			goto nomem;
		memcpy(dst->xattrs, src->xattrs, src->xattrs_len);
	}
	if ((src->user || src->group) &&
	    entry_set_owner_names(dst, src->user, src->group))
		goto nomem;
	if (src->link && entry_set_link(dst, src->link, src->link_len))
		goto nomem;
	return 0;
nomem:
	entry_release(dst);
	return -ENOMEM;
}

int entry_set_xattrs(struct entry *e, const void *buf, size_t len)
{
	unsigned char *p = NULL;

	if (len) {
		p = malloc(len);
		if (!p)
			return -ENOMEM;
		memcpy(p, buf, len);
	}
	free(e->xattrs);
	e->xattrs = p;
	e->xattrs_len = len;
	e->xattrs_known = true;
	e->has_xattr_ref = false;
	return 0;
}

bool entry_same_xattrs(const struct entry *a, const struct entry *b)
{
	if (!a->xattrs_known || !b->xattrs_known ||
	    a->has_xattr_ref != b->has_xattr_ref ||
	    a->xattrs_len != b->xattrs_len)
		return false;
	if (a->has_xattr_ref)
		return objid_eq(&a->xattr_md5, &b->xattr_md5);
	return !a->xattrs_len || !memcmp(a->xattrs, b->xattrs, a->xattrs_len);
}

/* byte i of a key: the name, then a virtual '/' for a directory, then -1 */
static int key_byte(const char *s, size_t len, bool is_dir, size_t i)
{
	if (i < len)
		return (unsigned char)s[i];
	if (i == len && is_dir)
		return '/';
	return -1;
}

int entry_key_cmp(const char *a, size_t alen, bool a_is_dir,
		  const char *b, size_t blen, bool b_is_dir)
{
	size_t n = alen < blen ? alen : blen;
	int c = memcmp(a, b, n);
	size_t i;

	if (c)
		return c < 0 ? -1 : 1;
	/* at most two more bytes decide: the rest of the longer name, or the
	 * virtual '/' of a directory, or the end of both keys */
	for (i = n;; i++) {
		int ca = key_byte(a, alen, a_is_dir, i);
		int cb = key_byte(b, blen, b_is_dir, i);

		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (ca < 0)
			return 0;
	}
}

int entry_cmp(const struct entry *a, const struct entry *b)
{
	return entry_key_cmp(a->name, a->name_len, a->type == ENTRY_DIR,
			     b->name, b->name_len, b->type == ENTRY_DIR);
}

int entry_name_check(const char *name, size_t len, const char **why)
{
	size_t i, start = 0;

	if (len == 0) {
		*why = "empty name";
		return -EINVAL;
	}
	if (len > ENTRY_NAME_MAX) {
		*why = "name too long";
		return -EINVAL;
	}
	if (name[0] == '/') {
		*why = "absolute path";
		return -EINVAL;
	}
	if (memchr(name, '\0', len)) {
		*why = "NUL byte in name";
		return -EINVAL;
	}
	for (i = 0; i <= len; i++) {
		size_t clen;

		if (i < len && name[i] != '/')
			continue;
		clen = i - start;
		if (clen == 0) {
			*why = "empty path component";
			return -EINVAL;
		}
		if (clen > 255) {
			*why = "path component longer than 255 bytes";
			return -EINVAL;
		}
		if (clen == 1 && name[start] == '.') {
			*why = "'.' path component";
			return -EINVAL;
		}
		if (clen == 2 && name[start] == '.' && name[start + 1] == '.') {
			*why = "'..' path component escapes the root";
			return -EINVAL;
		}
		start = i + 1;
	}
	return 0;
}

bool entry_same_content(const struct entry *a, const struct entry *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case ENTRY_FILE:
		return a->has_md5 && b->has_md5 && objid_eq(&a->md5, &b->md5) &&
		       a->size == b->size;
	case ENTRY_SYMLINK:
		return a->target_len == b->target_len &&
		       !memcmp(a->target, b->target, a->target_len);
	default:
		return true;
	}
}

bool entry_owner_differs(const struct entry *a, const struct entry *b)
{
	return a->has_owner && b->has_owner &&
	       (a->uid != b->uid || a->gid != b->gid);
}
