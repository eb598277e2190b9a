/* inner_roots: HEAP_ROOT and SNAP_ROOT may live inside FILE_ROOT (a
 * ".heap" folder in the tree is a common set-up; a prefix inside the
 * tree's in a store likewise). Their relative paths are
 * left out of every scan of the tree and of every restore into it, so a
 * backup never stores its own heap and a restore never deletes it or
 * writes into it. Combined here with the user's --include/--exclude. */
#ifndef SNAP_INNER_ROOTS_H
#define SNAP_INNER_ROOTS_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "errbuf.h"
#include "filter.h"

struct inner_roots {
	/* paths inside FILE_ROOT to leave out: each root's name, and every
	 * path a mount shows one under (two bind mounts of the heap: two) */
	char **rel;
	size_t *len;
	size_t n;
	const struct filter *filter;   /* borrowed, may be NULL */
};

/* Resolve o's roots (local paths, a root that does not exist yet through
 * its nearest existing parent; store URLs as the store names them, so a
 * heap prefix inside an s3:// or az:// tree is left out as a folder is)
 * and list the paths to leave out: a local root's name inside FILE_ROOT
 * and every path a mount shows it under (fsloc_places). 0 or -ENOMEM. */
int inner_roots_init(struct inner_roots *ir, const struct engine_opts *o,
		     const struct filter *filter);
/* Refuse (-EINVAL, eb naming both) a FILE_ROOT that is HEAP_ROOT or
 * SNAP_ROOT or inside one, by name or through mounts; one holding such a
 * root only through a mount at a path not known (no /proc); store roots
 * nested by name with other storage options. what: the verb of the
 * message ("restore into", "back up"). */
int inner_roots_refuse_outer(const struct engine_opts *o, const char *what,
			     struct errbuf *eb);
void inner_roots_release(struct inner_roots *ir);

/* Does anything need checking (an inner root or a filter rule)? */
bool inner_roots_active(const struct inner_roots *ir);

/* The scanner's allow callback: ctx is a struct inner_roots. */
bool inner_roots_allow(void *ctx, const char *relpath, size_t len,
		       bool is_dir);

#endif
