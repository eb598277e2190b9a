/* root_nesting: does one root lie inside another? A sync whose DST is
 * inside SRC copies SRC into itself, one whose SRC is inside DST deletes
 * its own source, a restore into the heap deletes the heap. Local roots
 * are compared by name (resolved: symlinks, "..", a root that does not
 * exist yet through its nearest existing parent), then by where they lie
 * through every mount (fsloc: a bind mount, one disk mounted twice);
 * store URLs by bucket and prefix. */
#ifndef SNAP_ROOT_NESTING_H
#define SNAP_ROOT_NESTING_H

#include "errbuf.h"
#include "fsloc.h"

/* The first three as fsloc gives them. */
enum {
	ROOT_A_IN_B = FSLOC_A_IN_B,   /* a is b or inside it */
	ROOT_B_IN_A = FSLOC_B_IN_A,   /* b is a or inside it */
	/* neither inside the other, but a mount inside one shows a part of
	 * the other (a bind of a SRC folder inside DST): writing one
	 * changes the other */
	ROOT_OVERLAP = FSLOC_OVERLAP,
	/* with any of them: not by name, only through a mount (a bind
	 * mount, one disk mounted twice) */
	ROOT_THROUGH_MOUNT = 8,
	/* with ROOT_THROUGH_MOUNT: found without a mount table (no /proc),
	 * by device and inode alone, so where one shows the other is not
	 * known */
	ROOT_NO_MOUNT_TABLE = 16,
};

/* How roots a and b (local paths or store URLs, as given) nest:
 * ROOT_* bits, both when they are one; 0 when apart (also a local root
 * beside a store URL); -errno with eb set when a local root cannot be
 * resolved or the mount table cannot be read. */
int root_nesting(const char *a, const char *b, struct errbuf *eb);

/* realpath of path, or of its nearest existing parent plus the rest
 * (malloc'd); NULL for a store URL, a path that cannot be resolved, or
 * out of memory. */
char *root_resolve(const char *path);

/* root as root_nesting compares it (malloc'd): a local path resolved
 * (root_resolve), a store URL as the store names it
 * (objstore_url_canonical); NULL when it cannot be, or out of memory. */
char *root_canonical(const char *root);

#endif
