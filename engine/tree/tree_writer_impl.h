/* tree_writer_impl: what tree_writer.c (parents, files, symlinks,
 * directories, metadata), tree_writer_link.c (hard links) and
 * tree_writer_remove.c (deletions) share. Not a public header. */
#ifndef SNAP_TREE_WRITER_IMPL_H
#define SNAP_TREE_WRITER_IMPL_H

#include <stddef.h>

#include "errbuf.h"
#include "tree_writer.h"

/* Names tried for one temp before giving up (a clash is EEXIST). */
#define TEMP_TRIES 8

/* "cannot <what> '<root>/<name[0..len)>': <strerror(-err)>" into eb;
 * returns err. */
int tree_writer_name_error(struct tree_writer *w, int err, const char *what,
			   const char *name, size_t len, struct errbuf *eb);

/* Close the cached parent directory and forget it: after its deletion,
 * a new directory of the same name must not be shadowed by it. */
void tree_writer_drop_cache(struct tree_writer *w);

#endif
