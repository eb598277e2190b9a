/* entry: one item of a tree or snapshot (file, symlink or empty directory)
 * and the one order every stream of entries is sorted in. */
#ifndef SNAP_ENTRY_H
#define SNAP_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "objid.h"

enum entry_type {
	ENTRY_FILE = 1,
	ENTRY_SYMLINK = 2,
	ENTRY_DIR = 3,      /* every directory, for its mode and mtime */
};

/* Longest relative name accepted anywhere (bytes, without NUL). Linux'
 * PATH_MAX bounds what can be opened from the root; names are opened
 * relative to directory fds, so allow more. */
#define ENTRY_NAME_MAX 16384
#define ENTRY_TARGET_MAX 4096
#define ENTRY_ETAG_MAX 256

struct entry {
	char *name;          /* relative, '/'-separated, NUL-terminated, owned */
	size_t name_len;
	char *target;        /* symlink target (owned, NUL-terminated) or NULL */
	size_t target_len;
	char *etag;          /* object-store etag (owned) or NULL */
	uint64_t size;
	int64_t mtime_ns;    /* since the epoch, UTC */
	int64_t ctime_ns;    /* 0 when unknown (object stores) */
	uint64_t ino;        /* 0 when unknown */
	/* owner and link count from the scan's statx (0 when unknown);
	 * has_owner says uid and gid are known (a local scan, a snapshot
	 * with keys 11/12): restore and sync apply them only then */
	uint32_t uid;
	uint32_t gid;
	uint64_t nlink;
	bool has_owner;
	/* owner's user and group names or NULL, set together by
	 * entry_set_owner_names (one allocation, owned) */
	char *user;
	char *group;
	/* hard link: the name of the first member of this file's link group
	 * in stream order (owned, NUL-terminated), or NULL for the first
	 * member and for files not linked */
	char *link;
	size_t link_len;
	uint32_t mode;       /* permission bits (07777) */
	uint8_t type;        /* enum entry_type */
	bool has_md5;
	/* a directory synthesized for a snapshot format that records only
	 * files (the Python tool's): its mode and mtime were never recorded,
	 * so restore creates it when missing but sets neither */
	bool no_meta;
	/* hash stage (make-snapshot --skip-changing): the file kept changing
	 * while read; has_md5 is false and the writer leaves it out */
	bool changing;
	/* object-store listing (remote_tree.h): mtime_ns is the object's
	 * Last-Modified (its upload), as the listing did not carry the
	 * object's "mtime" metadata (S3 listings never do) */
	bool upload_mtime;
	struct objid md5;
	/* extended attributes (xattr.h; snapshot keys 16, 17, 19):
	 * xattrs_known says they were recorded. Then the encoded list is
	 * xattrs[xattrs_len] (NULL and 0: none), or, with has_xattr_ref,
	 * heap object xattr_md5 of xattrs_len bytes holds it (and xattrs is
	 * NULL until loaded). Unknown: restore leaves them alone. */
	unsigned char *xattrs;
	size_t xattrs_len;
	struct objid xattr_md5;
	bool xattrs_known;
	bool has_xattr_ref;
	/* a file with far fewer allocated blocks than its size (key 18):
	 * written back with holes */
	bool sparse;
};

#define ENTRY_INIT { 0 }

void entry_init(struct entry *e);
/* Free what e owns and reset it to ENTRY_INIT. */
void entry_release(struct entry *e);
/* Heap-allocated entry (zeroed); NULL on ENOMEM. entry_free is NULL-safe. */
struct entry *entry_new(void);
void entry_free(struct entry *e);

/* Copy name bytes (len, no NUL inside) into e->name. 0 or -ENOMEM. */
int entry_set_name(struct entry *e, const char *name, size_t len);
int entry_set_target(struct entry *e, const char *target, size_t len);
int entry_set_etag(struct entry *e, const char *etag);
/* fetched: the ETag of the version a download of e got. When it is not
 * the one listed (the object was replaced between the listing and the
 * GET), e takes it, in the listing's form (with or without the quotes),
 * so that the etag recorded with e's MD5 names the bytes hashed (a later
 * run that lists the old etag again must not take this MD5 for it). A
 * weak ETag (W/...: a proxy's) is not taken. 1 taken (what the listing
 * said of the object, its MD5 too, is not of these bytes), 0, or
 * -ENOMEM. */
int entry_take_fetched_etag(struct entry *e, const char *fetched);
/* Is etag (an answer's; "" none) e's listed one, quotes aside? True
 * when either is not known. */
bool entry_etag_is(const struct entry *e, const char *etag);
/* Take len bytes of encoded xattrs (copied; NULL/0 for none) and mark
 * them known. 0 or -ENOMEM. */
int entry_set_xattrs(struct entry *e, const void *buf, size_t len);
/* Same xattrs recorded on both (both known, equal bytes or equal heap
 * object)? */
bool entry_same_xattrs(const struct entry *a, const struct entry *b);
/* user and group may each be NULL (unknown). 0 or -ENOMEM. */
int entry_set_owner_names(struct entry *e, const char *user,
			  const char *group);
int entry_set_link(struct entry *e, const char *first, size_t len);
/* Deep copy src into dst (dst must be released or fresh). 0 or -ENOMEM. */
int entry_copy(struct entry *dst, const struct entry *src);

/* The stream order: byte order of the full path where a directory entry
 * sorts as if its name ended in '/'. A depth-first walk that sorts each
 * directory's children by the same rule emits exactly this order, so
 * streams can be merged without hash tables. */
int entry_key_cmp(const char *a, size_t alen, bool a_is_dir,
		  const char *b, size_t blen, bool b_is_dir);
int entry_cmp(const struct entry *a, const struct entry *b);

/* Is name a safe relative path: not empty, not absolute, no NUL, no empty,
 * "." or ".." component, no trailing '/', at most ENTRY_NAME_MAX bytes,
 * each component at most 255 bytes. Returns 0 or -EINVAL with a reason in
 * *why (static string). */
int entry_name_check(const char *name, size_t len, const char **why);

/* Do a and b describe the same content for restore purposes (type, md5
 * and size, or target)? */
bool entry_same_content(const struct entry *a, const struct entry *b);
/* Do a and b have different owners, both being known? */
bool entry_owner_differs(const struct entry *a, const struct entry *b);

#endif
