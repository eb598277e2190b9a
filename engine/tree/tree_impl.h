/* tree_impl: the tree backend contract. tree.c checks arguments and
 * dispatches to one of these; a backend never sees a NULL tree or scan.
 * A backend's tree and scan structs begin with struct tree and struct
 * tree_scan (the ops they belong to). */
#ifndef SNAP_TREE_IMPL_H
#define SNAP_TREE_IMPL_H

#include "tree.h"

struct tree_ops {
	const char *name;          /* "local", "object store" */
	/* required; TREE_CAP_* of this tree (fixed once open) */
	unsigned (*caps)(const struct tree *t);
	/* required; the root as given, valid until free */
	const char *(*root)(const struct tree *t);
	/* optional (NULL: none, a file system); tree_objstore */
	struct objstore *(*objstore)(struct tree *t);
	/* required; start a scan as tree_scan_start says: *out on 0 only */
	int (*scan_start)(struct tree *t, const struct tree_scan_opts *so,
			  struct tree_scan **out, struct errbuf *eb);
	/* required; tree_scan_next */
	int (*scan_next)(struct tree_scan *s, struct entry *out,
			 struct errbuf *eb);
	/* optional (NULL: nothing walks ahead to stop); any thread */
	void (*scan_abort)(struct tree_scan *s);
	/* optional (NULL: -1); tree_scan_rootfd */
	int (*scan_rootfd)(const struct tree_scan *s);
	/* optional (NULL: no xattrs, 0); tree_scan_xattrs */
	int (*scan_xattrs)(struct tree_scan *s, unsigned ns, struct entry *e,
			   struct errbuf *eb);
	/* optional (NULL: -EOPNOTSUPP, the scan carries everything);
	 * tree_file_meta, any thread */
	int (*file_meta)(struct tree *t, const struct entry *e,
			 struct tree_meta *m, struct errbuf *eb);
	/* optional, both or neither (NULL: -EOPNOTSUPP, a file system,
	 * written through a tree_writer); tree_put, tree_remove, any
	 * thread */
	int (*put)(struct tree *t, const struct entry *e, int fd,
		   uint64_t size, const struct objid *md5,
		   int (*changed)(void *arg), void *arg, struct errbuf *eb);
	int (*remove)(struct tree *t, const struct entry *e,
		      struct errbuf *eb);
	/* required; tree_open_file */
	int (*open_file)(struct tree_scan *s, const struct entry *e,
			 unsigned flags, struct tree_file *f,
			 struct errbuf *eb);
	/* optional (NULL: -EOPNOTSUPP, the tree's files are read where
	 * they are: open_file); tree_fetch_file */
	int (*fetch_file)(struct tree_scan *s, const struct entry *e, int fd,
			  struct tree_file *f, struct errbuf *eb);
	/* required; stop and free the scan */
	void (*scan_free)(struct tree_scan *s);
	/* required; free the tree (its scans are freed before) */
	void (*free)(struct tree *t);
};

struct tree {
	const struct tree_ops *ops;
};

struct tree_scan {
	const struct tree_ops *ops;
};

/* The backends' openers (tree_open picks one by the root's form). */
int tree_local_open(const char *root, struct tree **out, struct errbuf *eb);
int tree_store_open(const char *url, const char *storage_options,
		    const struct engine_opts *o, bool dest, struct tree **out,
		    struct errbuf *eb);

#endif
