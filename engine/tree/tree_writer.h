/* tree_writer: writes entries into a target tree without ever following a
 * symlink inside it: parent directories are opened one component at a
 * time with O_NOFOLLOW from the root fd (created when missing), files are
 * written to an anonymous temp (O_TMPFILE, else a temp name) in their
 * directory, given mode and mtime, and linked or renamed into place. One
 * tree_writer per worker thread. */
#ifndef SNAP_TREE_WRITER_H
#define SNAP_TREE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "entry.h"
#include "errbuf.h"

struct tree_writer;

/* rootfd is borrowed; root is for messages. */
int tree_writer_new(int rootfd, const char *root, struct tree_writer **out,
		    struct errbuf *eb);
void tree_writer_free(struct tree_writer *w);

/* Extended attributes: from now on an entry whose xattrs are known (and
 * loaded: an entry with a heap reference must have them in e->xattrs)
 * gets exactly them, for the names in ns (enum xattr_ns; 0, the default:
 * xattrs are left alone), after its mode and before its mtime. Entries
 * whose filesystem has no xattrs add 1 to *unsupported, names it may not
 * set (ns, EPERM) to *skipped (atomically; both may be shared between
 * writers). */
void tree_writer_set_xattrs(struct tree_writer *w, unsigned ns,
			    uint64_t *unsupported, uint64_t *skipped);

/* Owners. With apply (root), every file, symlink and directory written or
 * given metadata gets the entry's uid and gid (when has_owner) first,
 * before its mode (chown clears setuid/setgid) and mtime. Without, an
 * entry whose owner differs from the running user's is counted in
 * *skipped (atomically; may be NULL) and left as created. Off (neither)
 * until called. */
void tree_writer_set_owners(struct tree_writer *w, bool apply,
			    uint64_t *skipped);

/* Open (creating with create) the parent directory of name; returns a
 * borrowed fd valid until the next call, and the base name offset. */
int tree_writer_parent(struct tree_writer *w, const char *name, size_t len,
		       bool create, int *dirfd, size_t *base_off,
		       struct errbuf *eb);

/* Create a temp file in name's directory, open for reading and writing
 * (a download is read back for its MD5 check): an anonymous one
 * (O_TMPFILE; tmp_name set to "") where the filesystem has them, else a
 * named one, *tmp_name (at most 64 bytes) relative to *dirfd. */
int tree_writer_create_temp(struct tree_writer *w, const struct entry *e,
			    int *dirfd, char tmp_name[64], int *fd,
			    struct errbuf *eb);
/* Named temps from now on, as after O_TMPFILE was refused (a file system
 * without it: vfat, NFS, FUSE). For tests, which cover that path on any
 * file system. */
void tree_writer_use_named_temps(struct tree_writer *w);
/* Give up a temp from tree_writer_create_temp: close fd, remove the name
 * if it has one. */
void tree_writer_discard_temp(int dirfd, const char *tmp_name, int fd);

/* Finish a temp file: mode, mtime, then link it at the final name, or
 * rename over what is there (a symlink or file there is replaced, never
 * followed). Closes fd. */
int tree_writer_publish(struct tree_writer *w, const struct entry *e,
			int dirfd, const char *tmp_name, int fd,
			struct errbuf *eb);
/* Same with the mtime given exactly (a copy keeps times an int64 of ns
 * cannot hold, past 2262). */
int tree_writer_publish_ts(struct tree_writer *w, const struct entry *e,
			   const struct timespec *mtime, int dirfd,
			   const char *tmp_name, int fd, struct errbuf *eb);

/* Symlink and directory entries. A directory that exists is kept; with
 * set_meta its mode and mtime are set too (callers that still write into
 * it set them at the end instead: a 0500 mode would stop them, and every
 * write would move the mtime). Returns 1 when created, 0 when it existed. */
int tree_writer_symlink(struct tree_writer *w, const struct entry *e,
			struct errbuf *eb);
int tree_writer_mkdir(struct tree_writer *w, const struct entry *e,
		      bool set_meta, struct errbuf *eb);
/* Is e->name a regular file that shares its inode with another name
 * (a hard link, maybe from outside the root)? Then setting its metadata
 * in place would change the other name's too. 1 yes, 0 no (also when it
 * is gone), -errno (named in eb). Never follows a symlink. */
int tree_writer_shares_inode(struct tree_writer *w, const struct entry *e,
			     struct errbuf *eb);
/* Mode and mtime of an existing entry (never following a symlink). */
int tree_writer_set_meta(struct tree_writer *w, const struct entry *e,
			 struct errbuf *eb);
/* Mode (<= 07777), xattrs (an encoded list, or NULL to leave them) and
 * mtime of the root directory itself, in that order; restore and sync
 * call it last, once nothing more is written inside. */
int tree_writer_set_root_meta(struct tree_writer *w, unsigned mode,
			      const void *xattrs, size_t xattrs_len,
			      const struct timespec *mtime, struct errbuf *eb);
/* Owner of the root directory itself (sync: the source root's), under
 * the rules of tree_writer_set_owners. */
int tree_writer_set_root_owner(struct tree_writer *w, uint32_t uid,
			       uint32_t gid, struct errbuf *eb);
/* Make e->name a hard link of the regular file first (a name relative to
 * the root), replacing what is at e->name (never following a symlink),
 * unless both already are one inode. Returns 1 linked, 0 already one,
 * -errno (-EXDEV and the like name the entry). */
int tree_writer_link(struct tree_writer *w, const char *first,
		     size_t first_len, const struct entry *e,
		     struct errbuf *eb);
/* Remove an entry (file, symlink or directory). ENOENT is success; so is
 * a directory that is not empty yet (its contents come later in the
 * stream: restore removes it again once they are gone, sync by
 * tree_writer_prune_parents). */
int tree_writer_remove(struct tree_writer *w, const struct entry *e,
		       struct errbuf *eb);
/* Remove now-empty directories from name's parent upwards (not the root);
 * stops at the first that is not empty, and at one that keepfd (a
 * directory fd, e.g. sync's source tree; -1: none) also has as a
 * directory under that name: an empty directory of the source is kept in
 * the mirror while the extra files in it go. */
int tree_writer_prune_parents(struct tree_writer *w, const char *name,
			      size_t len, int keepfd, struct errbuf *eb);

#endif
