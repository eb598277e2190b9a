/* xattr: an entry's extended attributes (user.*, security.*, trusted.*,
 * POSIX ACLs) as one canonical byte string, read from a file, checked
 * when it comes from a snapshot or the heap, and applied to a target.
 *
 * The encoded list is the MessagePack value snapshot entries carry under
 * key 16 (snapshot_format.h), with the shortest headers only, so equal
 * lists are equal bytes:
 *
 *   array(n) of array(2) [ bin name, bin value ]   sorted by name (memcmp,
 *                                                  then length), no twice
 *
 * An empty list (0x90) means "recorded: none". */
#ifndef SNAP_XATTR_H
#define SNAP_XATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Encoded lists up to this size go inline in the snapshot entry (a frame
 * is at most 64 KiB and already holds a name of up to 16 KiB and a
 * target of up to 4 KiB); larger ones are a heap object (key 17). */
#define XATTRS_INLINE_MAX (8 * 1024)
/* Whole encoded list, wherever it is stored: bigger ones are not
 * recorded (the scan warns). Linux allows 64 KiB of names and 64 KiB
 * per value. */
#define XATTRS_LIST_MAX (1024 * 1024)
#define XATTRS_NAME_MAX_LEN 255
#define XATTRS_VALUE_MAX (64 * 1024)
/* at most this many attributes per entry */
#define XATTRS_COUNT_MAX 4096

/* One attribute, pointing into an encoded list. */
struct xattr_item {
	const char *name;
	size_t name_len;
	const unsigned char *value;
	size_t value_len;
};

/* Iterate over an encoded list, checking it as hostile input. */
struct xattr_iter {
	const unsigned char *p, *end;
	uint32_t left;
	const char *prev;
	size_t prev_len;
};

/* Start iterating over buf[len]: 0, or -EBADMSG (why set) when the list
 * header is malformed. */
int xattr_iter_init(struct xattr_iter *it, const void *buf, size_t len,
		    const char **why);
/* Next item: 1 filled, 0 at the end (the bytes must end there too),
 * -EBADMSG with *why (static) when malformed, unsorted, duplicated, or a
 * name is empty, longer than 255 bytes or holds a NUL. */
int xattr_iter_next(struct xattr_iter *it, struct xattr_item *out,
		    const char **why);
/* Check a whole encoded list (iterates it): 0 or -EBADMSG with *why. */
int xattr_check(const void *buf, size_t len, const char **why);

/* Build an encoded list from items (any order; sorted here). Duplicates
 * are -EINVAL. *out is malloc'd (caller frees). 0, -EINVAL, -E2BIG over
 * XATTRS_LIST_MAX, -ENOMEM. */
int xattr_encode(struct xattr_item *items, size_t n, unsigned char **out,
		 size_t *out_len);

/* Which names are read and written. */
enum xattr_ns {
	XATTR_NS_USER = 1 << 0,     /* user.* */
	XATTR_NS_PRIV = 1 << 1,     /* security.*, trusted.* (root) */
	XATTR_NS_ACL = 1 << 2,      /* system.posix_acl_access/_default */
	XATTR_NS_ALL = XATTR_NS_USER | XATTR_NS_PRIV | XATTR_NS_ACL,
};

/* Is name in one of the namespaces ns? */
bool xattr_name_in(const char *name, size_t len, unsigned ns);
/* Do two encoded lists hold the same names in ns, with the same values
 * (names of other namespaces ignored)? A malformed list is never the
 * same. An empty buffer (len 0) is an empty list. */
bool xattr_same_in(const void *a, size_t alen, const void *b, size_t blen,
		   unsigned ns);

/* Read the attributes of an inode: through fd when fd >= 0 (f*xattr),
 * else of path without following a final symlink (l*xattr). Only names
 * in ns are kept. *out (malloc'd) gets the encoded list (0x90 when there
 * is none or the filesystem has no xattrs). 0, -E2BIG when the list is
 * over XATTRS_LIST_MAX, other -errno. */
int xattr_read(int fd, const char *path, unsigned ns, unsigned char **out,
	       size_t *out_len);

/* Outcome counters of xattr_apply. */
struct xattr_apply_result {
	bool unsupported;     /* the filesystem has no xattrs (ENOTSUP) */
	uint32_t skipped;     /* names outside ns, or refused (EPERM) */
};

/* Make the inode's attributes in ns exactly the encoded list buf: set
 * what differs, remove what the list lacks (as rsync -X). fd >= 0 or
 * path as for xattr_read. Names of the list outside ns are skipped and
 * counted, as are names the kernel refuses with EPERM (user.* on a
 * symlink). A filesystem without xattrs sets res->unsupported and
 * returns 0. Returns 0 or -errno (first failure). */
int xattr_apply(int fd, const char *path, const void *buf, size_t len,
		unsigned ns, struct xattr_apply_result *res);

/* Path of name in the directory open as dirfd, for the l*xattr calls:
 * "/proc/self/fd/<dirfd>/<name>". The kernel resolves the fd, so no
 * component above name is looked up again (nothing can be swapped for a
 * symlink there) and the final component is never followed. name must be
 * one component. 0, or -ENAMETOOLONG. */
int xattr_at_path(int dirfd, const char *name, char *out, size_t cap);

#endif
