/* snapstore_impl: the snapshot store backend contract (house style H4).
 * snapstore.c checks arguments, owns the write transaction's temp file
 * descriptor and the listing helpers, and dispatches to one of these
 * (snapstore_local.c, snapstore_remote.c); a backend never sees a NULL
 * store, tx, path or out. Not a public header. */
#ifndef SNAP_SNAPSTORE_IMPL_H
#define SNAP_SNAPSTORE_IMPL_H

#include "snapstore.h"

struct snapstore_ops;

struct snapstore {
	const struct snapstore_ops *ops;
	void *self;                      /* the backend's, from open */
};

/* One snapshot being written. snapstore_begin fills ss, root, relpath,
 * base and time_ns, sets both descriptors to -1 and hands it to tx_begin;
 * snapstore_tx_write appends to fd; snapstore.c frees it (closing fd
 * and dirfd) after tx_commit or tx_abort. */
struct snapstore_tx {
	struct snapstore *ss;
	int fd;                          /* the temp file, set by tx_begin */
	int dirfd;                       /* local: SNAP_ROOT/YYYY/MM; -1 */
	int64_t time_ns;                 /* as given to snapstore_begin */
	int err;                         /* sticky write error */
	uint64_t len;                    /* bytes written */
	char *root;                      /* the store's root, a copy */
	char relpath[SNAPSTORE_NAME_MAX];
	const char *base;                /* inside relpath */
	/* local: the temp's name in dirfd ("" before it exists) */
	char tmpname[SNAPSTORE_NAME_MAX + 32];
};

struct snapstore_ops {
	const char *name;                /* "local", "remote" */
	bool remote;                     /* snapstore_is_remote */
	/* required; snapstore_open, with root as given (a local store gets
	 * NULL for a store without a root; a remote one always a URL) and
	 * storage_options_json and o as given (may be NULL): 0 with *self,
	 * or -errno with the message in eb and nothing left to free. No
	 * request is made. */
	int (*open)(const char *root, const char *storage_options_json,
		    const struct engine_opts *o, void **self,
		    struct errbuf *eb);
	/* required; snapstore_free, after the readers (open_reader) and
	 * transactions were freed: frees self and what it holds */
	void (*free)(void *self);
	/* required; the root as shown (path, or URL without secrets), NULL
	 * for a local store without a root; valid until free */
	const char *(*root)(const void *self);
	/* required; snapstore_list when the store has a root, with *out
	 * empty: 0 with every snapshot (snapstore_parse_relpath names) in
	 * *out sorted by snapstore_list_sort, a missing root or bucket
	 * giving an empty list; or -errno with *out left empty. snapstore.c
	 * then drops the converted twins. */
	int (*list)(void *self, struct snapstore_list *out, struct errbuf *eb);
	/* required; snapstore_remove when the store has a root and relpath
	 * passed snapstore_parse_relpath: 0 (also when it was gone) once
	 * the removal is durable, or -errno ("cannot remove snapshot ...") */
	int (*remove)(void *self, const char *relpath, struct errbuf *eb);
	/* required; snapstore_open_reader (path as the caller gave it, any
	 * store, also one without a root): 0 with *out, which must be freed
	 * before the store, or -errno */
	int (*open_reader)(void *self, const char *path,
			   struct snapshot_reader **out, struct errbuf *eb);
	/* required; snapstore_begin, with tx filled as above: set tx->fd to
	 * a new temp file open for writing at byte 0 and keep whatever
	 * commit needs in tx (local: dirfd, tmpname). 0, or -errno with
	 * nothing created (snapstore.c frees tx). */
	int (*tx_begin)(void *self, struct snapstore_tx *tx,
			struct errbuf *eb);
	/* required; snapstore_commit: publish the temp under tx->relpath
	 * without replacing a snapshot (-EEXIST), *path_out (may be NULL,
	 * else NULL on entry) getting the full path or URL (malloc'd). On
	 * failure it removes the temp itself. 0 or -errno; snapstore.c frees
	 * tx in every case. */
	int (*tx_commit)(void *self, struct snapstore_tx *tx, char **path_out,
			 struct errbuf *eb);
	/* optional (NULL: nothing to remove, as for an unnamed temp);
	 * snapstore_abort before tx is freed: remove the temp file */
	void (*tx_abort)(void *self, struct snapstore_tx *tx);
	/* optional (NULL: 0); snapstore_remove_stale_temps when the store
	 * has a root: how many temps of dead writers were removed; errors
	 * only make it remove less */
	int (*remove_stale_temps)(void *self);
};

extern const struct snapstore_ops snapstore_local_ops;
extern const struct snapstore_ops snapstore_remote_ops;

/* Shared by the backends (snapstore.c). */
/* Append "YYYY/MM/<base>" (given as relpath, len bytes) to l. 0 or
 * -ENOMEM. */
int snapstore_list_push(struct snapstore_list *l, size_t *cap,
			const char *relpath, size_t len, int64_t t,
			enum snapshot_format fmt);
void snapstore_list_sort(struct snapstore_list *l);
/* root "/" rel, without root's trailing slashes (malloc'd; NULL when
 * out of memory) */
char *snapstore_join(const char *root, const char *rel);

#endif
