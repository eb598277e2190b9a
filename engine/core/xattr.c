/* xattr: encode, check, read and apply an entry's extended attributes.
 * The encoder and the iterator handle the one MessagePack shape of an
 * encoded list by hand: it is small, and the iterator has to check every
 * length against the bytes left anyway (the list may come from a damaged
 * snapshot or heap object). */
#include "xattr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "banned.h"

/* the shortest MessagePack headers, the only ones accepted */
#define MP_FIXARRAY 0x90
#define MP_ARRAY16 0xdc
#define MP_ARRAY32 0xdd
#define MP_BIN8 0xc4
#define MP_BIN16 0xc5
#define MP_BIN32 0xc6

#define LIST_STACK 4096

static uint32_t be16(const unsigned char *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* array header at it->p: the element count, or -1 */
static int64_t take_array(struct xattr_iter *it)
{
	size_t left = (size_t)(it->end - it->p);
	uint32_t n;

	if (!left)
		return -1;
	if ((it->p[0] & 0xf0) == MP_FIXARRAY) {
		n = it->p[0] & 0x0f;
		it->p++;
		return n;
	}
	if (it->p[0] == MP_ARRAY16 && left >= 3) {
		n = be16(it->p + 1);
		it->p += 3;
		return n >= 16 ? (int64_t)n : -1;
	}
	if (it->p[0] == MP_ARRAY32 && left >= 5) {
		n = be32(it->p + 1);
		it->p += 5;
		return n >= 65536 ? (int64_t)n : -1;
	}
	return -1;
}

/* bin at it->p: 0 with *data and *len set, or -1 */
static int take_bin(struct xattr_iter *it, const unsigned char **data,
		    size_t *len)
{
	size_t left = (size_t)(it->end - it->p), hdr;
	uint32_t n;

	if (left < 2)
		return -1;
	switch (it->p[0]) {
	case MP_BIN8:
		n = it->p[1];
		hdr = 2;
		break;
	case MP_BIN16:
		if (left < 3)
			return -1;
		n = be16(it->p + 1);
		hdr = 3;
		if (n < 256)
			return -1;
		break;
	case MP_BIN32:
		if (left < 5)
			return -1;
		n = be32(it->p + 1);
		hdr = 5;
		if (n < 65536)
			return -1;
		break;
	default:
		return -1;
	}
	if (n > left - hdr)
		return -1;
	*data = it->p + hdr;
	*len = n;
	it->p += hdr + n;
	return 0;
}

int xattr_iter_init(struct xattr_iter *it, const void *buf, size_t len,
		    const char **why)
{
	int64_t n;

	memset(it, 0, sizeof(*it));
	it->p = buf;
	it->end = it->p + len;
	if (len == 0)
		return 0;   /* the empty list, without its header */
	if (len > XATTRS_LIST_MAX) {
		*why = "xattr list too large";
		return -EBADMSG;
	}
	n = take_array(it);
	if (n < 0) {
		*why = "bad xattr list header";
		return -EBADMSG;
	}
	if (n > XATTRS_COUNT_MAX) {
		*why = "too many xattrs";
		return -EBADMSG;
	}
	it->left = (uint32_t)n;
	return 0;
}

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

int xattr_iter_next(struct xattr_iter *it, struct xattr_item *out,
		    const char **why)
{
	const unsigned char *name, *val;
	size_t name_len, val_len;

	if (!it->left) {
		if (it->p != it->end) {
			*why = "bytes after the xattr list";
			return -EBADMSG;
		}
		return 0;
	}
	if (it->p == it->end || *it->p != (MP_FIXARRAY | 2)) {
		*why = "xattr is not a [name, value] pair";
		return -EBADMSG;
	}
	it->p++;
	if (take_bin(it, &name, &name_len) || take_bin(it, &val, &val_len)) {
		*why = "truncated or malformed xattr";
		return -EBADMSG;
	}
	if (!name_len || name_len > XATTRS_NAME_MAX_LEN ||
	    memchr(name, '\0', name_len)) {
		*why = "bad xattr name";
		return -EBADMSG;
	}
	if (val_len > XATTRS_VALUE_MAX) {
		*why = "xattr value too large";
		return -EBADMSG;
	}
	if (it->prev && name_cmp(it->prev, it->prev_len, (const char *)name,
				 name_len) >= 0) {
		*why = "xattr names not sorted or repeated";
		return -EBADMSG;
	}
	it->prev = (const char *)name;
	it->prev_len = name_len;
	it->left--;
	out->name = (const char *)name;
	out->name_len = name_len;
	out->value = val;
	out->value_len = val_len;
	return 1;
}

int xattr_check(const void *buf, size_t len, const char **why)
{
	struct xattr_iter it;
	struct xattr_item x;
	int ret;

	ret = xattr_iter_init(&it, buf, len, why);
	if (ret < 0)
		return ret;
	do {
		ret = xattr_iter_next(&it, &x, why);
	} while (ret == 1);
	return ret;
}

static int item_cmp(const void *a, const void *b)
{
	const struct xattr_item *x = a, *y = b;

	return name_cmp(x->name, x->name_len, y->name, y->name_len);
}

static unsigned char *put_hdr(unsigned char *p, uint32_t n, bool bin)
{
	if (!bin && n < 16) {
		*p++ = (unsigned char)(MP_FIXARRAY | n);
	} else if (bin && n < 256) {
		*p++ = MP_BIN8;
		*p++ = (unsigned char)n;
	} else if (n < 65536) {
		*p++ = bin ? MP_BIN16 : MP_ARRAY16;
		*p++ = (unsigned char)(n >> 8);
		*p++ = (unsigned char)n;
	} else {
		*p++ = bin ? MP_BIN32 : MP_ARRAY32;
		*p++ = (unsigned char)(n >> 24);
		*p++ = (unsigned char)(n >> 16);
		*p++ = (unsigned char)(n >> 8);
		*p++ = (unsigned char)n;
	}
	return p;
}

int xattr_encode(struct xattr_item *items, size_t n, unsigned char **out,
		 size_t *out_len)
{
	unsigned char *buf, *p;
	size_t i, total = 5;

	*out = NULL;
	*out_len = 0;
	if (n > XATTRS_COUNT_MAX)
		return -E2BIG;
	for (i = 0; i < n; i++) {
		if (!items[i].name_len || items[i].name_len > XATTRS_NAME_MAX_LEN ||
		    memchr(items[i].name, '\0', items[i].name_len))
			return -EINVAL;
		if (items[i].value_len > XATTRS_VALUE_MAX)
			return -E2BIG;
		total += 1 + 5 + items[i].name_len + 5 + items[i].value_len;
	}
	if (n > 1)
		qsort(items, n, sizeof(*items), item_cmp);
	for (i = 1; i < n; i++)
		if (!item_cmp(&items[i - 1], &items[i]))
			return -EINVAL;
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	p = put_hdr(buf, (uint32_t)n, false);
	for (i = 0; i < n; i++) {
		*p++ = MP_FIXARRAY | 2;
		p = put_hdr(p, (uint32_t)items[i].name_len, true);
		memcpy(p, items[i].name, items[i].name_len);
		p += items[i].name_len;
		p = put_hdr(p, (uint32_t)items[i].value_len, true);
		if (items[i].value_len)
			memcpy(p, items[i].value, items[i].value_len);
		p += items[i].value_len;
	}
	*out_len = (size_t)(p - buf);
	if (*out_len > XATTRS_LIST_MAX) {
		free(buf);
		*out_len = 0;
		return -E2BIG;
	}
	*out = buf;
	return 0;
}

bool xattr_name_in(const char *name, size_t len, unsigned ns)
{
#define HAS(prefix) (len > sizeof(prefix) - 1 && \
		     !memcmp(name, prefix, sizeof(prefix) - 1))
	if (HAS("user."))
		return ns & XATTR_NS_USER;
	if (HAS("security.") || HAS("trusted."))
		return ns & XATTR_NS_PRIV;
	if ((len == 23 && !memcmp(name, "system.posix_acl_access", 23)) ||
	    (len == 24 && !memcmp(name, "system.posix_acl_default", 24)))
		return ns & XATTR_NS_ACL;
	return false;
#undef HAS
}

/* The next item of it whose name is in ns: 1, 0 at the end, <0 bad */
static int next_in(struct xattr_iter *it, unsigned ns, struct xattr_item *x)
{
	const char *why;
	int ret;

	while ((ret = xattr_iter_next(it, x, &why)) == 1)
		if (xattr_name_in(x->name, x->name_len, ns))
			return 1;
	return ret;
}

bool xattr_same_in(const void *a, size_t alen, const void *b, size_t blen,
		   unsigned ns)
{
	static const unsigned char none[1] = { 0x90 };
	struct xattr_iter ia, ib;
	/* set for gcc -O3's -Wmaybe-uninitialized only */
	struct xattr_item xa = { 0 }, xb = { 0 };
	const char *why;
	int ra, rb;


	if (!alen) {
		a = none;
		alen = 1;
	}
	if (!blen) {
		b = none;
		blen = 1;
	}
	if (xattr_iter_init(&ia, a, alen, &why) ||
	    xattr_iter_init(&ib, b, blen, &why))
		return false;
	for (;;) {
		ra = next_in(&ia, ns, &xa);
		rb = next_in(&ib, ns, &xb);
		if (ra < 0 || rb < 0 || ra != rb)
			return false;
		if (ra == 0)
			return true;
		if (xa.name_len != xb.name_len ||
		    memcmp(xa.name, xb.name, xa.name_len) ||
		    xa.value_len != xb.value_len ||
		    (xa.value_len && memcmp(xa.value, xb.value, xa.value_len)))
			return false;
	}
}

int xattr_at_path(int dirfd, const char *name, char *out, size_t cap)
{
	int n = snprintf(out, cap, "/proc/self/fd/%d/%s", dirfd, name);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static ssize_t do_list(int fd, const char *path, char *buf, size_t cap)
{
	ssize_t n = fd >= 0 ? flistxattr(fd, buf, cap) :
		    llistxattr(path, buf, cap);

	return n < 0 ? -errno : n;
}

static ssize_t do_get(int fd, const char *path, const char *name, void *buf,
		      size_t cap)
{
	ssize_t n = fd >= 0 ? fgetxattr(fd, name, buf, cap) :
		    lgetxattr(path, name, buf, cap);

	return n < 0 ? -errno : n;
}

/* The names of the inode: *names points at stack (when it fits) or at a
 * malloc'd *heap_buf the caller frees. Returns the list length, 0 when
 * there are none or the filesystem has no xattrs (*unsupported), or
 * -errno. */
static ssize_t list_names(int fd, const char *path, char *stack,
			  char **heap_buf, const char **names,
			  bool *unsupported)
{
	ssize_t n;
	int tries;

	*heap_buf = NULL;
	*names = stack;
	n = do_list(fd, path, stack, LIST_STACK);
	for (tries = 0; n == -ERANGE && tries < 4; tries++) {
		/* the list grew between the two calls: ask again */
		n = do_list(fd, path, NULL, 0);
		if (n < 0)
			break;
		free(*heap_buf);
		*heap_buf = malloc((size_t)n + 1);
		if (!*heap_buf)
			return -ENOMEM;
		n = do_list(fd, path, *heap_buf, (size_t)n + 1);
		*names = *heap_buf;
	}
	if (n == -ENOTSUP) {
		if (unsupported)
			*unsupported = true;
		return 0;
	}
	return n;
}

/* Double the n items at *it, which are the caller's stack array first
 * (never freed here) and then a malloc'd copy: 0, -E2BIG past
 * XATTRS_COUNT_MAX, -ENOMEM. */
static int items_grow(struct xattr_item **it, const struct xattr_item *stack,
		      size_t n, size_t *cap)
{
	struct xattr_item *bigger;

	if (2 * *cap > XATTRS_COUNT_MAX)
		return -E2BIG;
	bigger = malloc(2 * *cap * sizeof(*bigger));
	if (!bigger)
		return -ENOMEM;
	memcpy(bigger, *it, n * sizeof(**it));
	if (*it != stack)
		free(*it);
	*it = bigger;
	*cap *= 2;
	return 0;
}

int xattr_read(int fd, const char *path, unsigned ns, unsigned char **out,
	       size_t *out_len)
{
	char stack[LIST_STACK], vstack[LIST_STACK];
	struct xattr_item items[64], *it = items;
	char *heap_names = NULL;
	void **vals = NULL;
	const char *names;
	size_t n = 0, cap = 64, i, nvals = 0, total = 0;
	ssize_t len, off;
	int ret = 0;

	*out = NULL;
	*out_len = 0;
	len = list_names(fd, path, stack, &heap_names, &names, NULL);
	if (len <= 0)
		return (int)len;
	for (off = 0; off < len; off += (ssize_t)strlen(names + off) + 1) {
		const char *nm = names + off;
		size_t nlen = strnlen(nm, (size_t)(len - off));
		unsigned char *v;
		ssize_t vlen;
		void **nv;
		bool in_stack;

		if (!xattr_name_in(nm, nlen, ns))
			continue;
		if (n == cap) {
			ret = items_grow(&it, items, n, &cap);
			if (ret < 0)
				goto out;
		}
		/* every value gets its own copy: the list keeps pointers */
		vlen = do_get(fd, path, nm, vstack, sizeof(vstack));
		in_stack = vlen >= 0;
		if (vlen == -ERANGE)
			vlen = do_get(fd, path, nm, NULL, 0);
		if (vlen == -ENODATA)
			continue;   /* removed since the listing */
		if (vlen < 0) {
			ret = (int)vlen;
			goto out;
		}
		total += (size_t)vlen + nlen;
		if (total > XATTRS_LIST_MAX) {
			ret = -E2BIG;
			goto out;
		}
		v = malloc((size_t)vlen + 1);
		nv = realloc(vals, (nvals + 1) * sizeof(*vals));
		if (!v || !nv) {
			free(v);
			if (nv)
				vals = nv;
			ret = -ENOMEM;
			goto out;
		}
		vals = nv;
		vals[nvals++] = v;
		if (in_stack) {
			memcpy(v, vstack, (size_t)vlen);
		} else {
			ssize_t got = do_get(fd, path, nm, v, (size_t)vlen);

			if (got < 0) {
				/* changed meanwhile: one more try is not worth
				 * it, a backup of a file that keeps changing
				 * its xattrs is redone by the next run */
				ret = (int)got;
				goto out;
			}
			vlen = got;
		}
		it[n].name = nm;
		it[n].name_len = nlen;
		it[n].value = v;
		it[n].value_len = (size_t)vlen;
		n++;
	}
	if (n)
		ret = xattr_encode(it, n, out, out_len);
out:
	for (i = 0; i < nvals; i++)
		free(vals[i]);
	free(vals);
	if (it != items)
		free(it);
	free(heap_names);
	return ret;
}

/* Is name (NUL-terminated) in the encoded list? */
static bool list_has(const void *buf, size_t len, const char *name)
{
	struct xattr_iter it;
	struct xattr_item x;
	const char *why;
	size_t nlen = strlen(name);

	if (xattr_iter_init(&it, buf, len, &why))
		return false;
	while (xattr_iter_next(&it, &x, &why) == 1)
		if (x.name_len == nlen && !memcmp(x.name, name, nlen))
			return true;
	return false;
}

int xattr_apply(int fd, const char *path, const void *buf, size_t len,
		unsigned ns, struct xattr_apply_result *res)
{
	char stack[LIST_STACK], name[XATTRS_NAME_MAX_LEN + 1];
	char *heap_names = NULL;
	const char *names, *why;
	struct xattr_iter it;
	struct xattr_item x;
	ssize_t n, off;
	int ret;

	ret = xattr_iter_init(&it, buf, len, &why);
	if (ret < 0)
		return ret;
	n = list_names(fd, path, stack, &heap_names, &names, &res->unsupported);
	if (n < 0) {
		ret = (int)n;
		goto out;
	}
	/* first what must go: a name the list lacks */
	for (off = 0; off < n; off += (ssize_t)strlen(names + off) + 1) {
		const char *nm = names + off;
		size_t nlen = strnlen(nm, (size_t)(n - off));

		if (!xattr_name_in(nm, nlen, ns) || list_has(buf, len, nm))
			continue;
		if ((fd >= 0 ? fremovexattr(fd, nm) : lremovexattr(path, nm)) &&
		    errno != ENODATA) {
			if (errno == EPERM || errno == EACCES) {
				res->skipped++;
				continue;
			}
			ret = -errno;
			goto out;
		}
	}
	if (res->unsupported && len > 1) {
		/* nothing can be set; the caller warns once */
		goto out;
	}
	while ((ret = xattr_iter_next(&it, &x, &why)) == 1) {
		int rc;

		if (!xattr_name_in(x.name, x.name_len, ns)) {
			res->skipped++;
			continue;
		}
		memcpy(name, x.name, x.name_len);
		name[x.name_len] = '\0';
		rc = fd >= 0 ? fsetxattr(fd, name, x.value, x.value_len, 0) :
		     lsetxattr(path, name, x.value, x.value_len, 0);
		if (!rc)
			continue;
		if (errno == ENOTSUP) {
			res->unsupported = true;
			continue;
		}
		if (errno == EPERM) {
			/* user.* on a symlink, or not allowed here */
			res->skipped++;
			continue;
		}
		ret = -errno;
		goto out;
	}
out:
	free(heap_names);
	return ret;
}
