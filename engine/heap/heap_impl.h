/* heap_impl: the heap backend contract (house style H4). heap.c checks
 * arguments and dispatches to one of these; a backend never sees a NULL
 * heap, tx or id. */
#ifndef SNAP_HEAP_IMPL_H
#define SNAP_HEAP_IMPL_H

#include "heap.h"

struct objstore;
struct hasher;

/* The source of heap_replace_object, handed to the backend. */
struct heap_copy_src {
	int fd;                    /* read from its current offset */
	const char *shown;
	struct hasher *hs;
	void *buf;
	size_t cap;
};

struct heap_ops {
	const char *name;          /* "local", "remote" */
	/* required; 1 present, 0 absent, -errno. Any thread. */
	int (*has)(void *self, const struct objid *id, struct errbuf *eb);
	/* required; 1 stored (or queued), 0 present, -errno. Any thread. */
	int (*put_buf)(void *self, const struct objid *id, const void *buf,
		       size_t len, struct errbuf *eb);
	/* required; streaming put: begin gives a backend tx (*out); write
	 * appends; commit publishes as id (1 stored/queued, 0 present) and
	 * frees the tx in every case; abort frees it. */
	int (*tx_begin)(void *self, void **out, struct errbuf *eb);
	int (*tx_write)(void *tx, const void *buf, size_t len,
			struct errbuf *eb);
	int (*tx_commit)(void *tx, const struct objid *id, struct errbuf *eb);
	void (*tx_abort)(void *tx);
	/* required; an fd positioned at byte 0 of the uncompressed
	 * content, owned by the caller; -ENOENT when missing; a .gz that
	 * decompresses to more than max bytes: -EFBIG. */
	int (*open_object)(void *self, const struct objid *id, uint64_t max,
			   int *fd_out, struct errbuf *eb);
	/* required; HEAP_FORMAT_RAW or _GZ, fixed at open */
	enum heap_format (*format)(const void *self);
	/* required; every put so far durable (local) or uploaded (remote);
	 * 0 or the first error. */
	int (*sync)(void *self, struct errbuf *eb);
	/* required; the root as given (path or URL), valid until free */
	const char *(*root)(const void *self);
	/* optional (NULL: -EXDEV); server-side copy of object key of the
	 * store src as id: 1 copied, 0 present, -EXDEV not possible here,
	 * other -errno: failed (the caller copies the bytes itself) */
	int (*put_copy)(void *self, const struct objid *id,
			struct objstore *src, const char *key,
			const char *etag, struct errbuf *eb);
	/* required; heap_replace_object (heap.h) after heap.c checked the
	 * arguments: the backend makes its temp and calls
	 * heap_copy_checked into it, then publishes over the object. */
	int (*replace_object)(void *self, const struct objid *id,
			      const struct heap_copy_src *src,
			      struct errbuf *eb);
	/* optional (NULL: every put that returned 1 is stored, as for a
	 * local heap); heap_finish (heap.h): stop background work and count
	 * the puts that returned 1 whose object was not stored */
	void (*finish)(void *self, uint64_t *objects, uint64_t *bytes);
	/* required; stops background work (pending uploads are dropped
	 * unless sync returned first) and frees self */
	void (*free)(void *self);
};

extern const struct heap_ops heap_local_ops;
extern const struct heap_ops heap_remote_ops;

/* Backend constructors: 0 with *self or -errno. */
int heap_local_open(const char *root, bool create, enum heap_format fmt,
		    void **self, struct errbuf *eb);

/* Shared by the backends (heap.c). */
/* Decode the gzip object read from src (the heap's name for it in
 * shown) into a new unnamed temp file in directory dirfd (a local heap:
 * its own disk, not a /tmp that may be RAM) or, when that fails or dirfd
 * is -1, in $TMPDIR: *fd_out at byte 0, or -errno with "cannot read heap
 * object '<shown>': <why>". */
int heap_gz_open_decoded(int src, int dirfd, const char *shown, uint64_t max,
			 int *fd_out, struct errbuf *eb);
/* Copy src to dst_fd (through a gzip encoder with gz), hashing the
 * content on the way: 0 when it is the content id names, -ESTALE (with
 * "'<shown>' changed since it was hashed") when not, -errno of a read or
 * write (dst_shown names the temp). dst_fd is left at its end. */
int heap_copy_checked(const struct heap_copy_src *src, int dst_fd,
		      const char *dst_shown, bool gz, const struct objid *id,
		      struct errbuf *eb);
int heap_remote_open(const char *url, bool create,
		     const struct engine_opts *o, void **self,
		     struct errbuf *eb);

#endif
