/* fsloc: where a local directory lies, seen through every mount.
 *
 * A bind mount shows one directory under a second path, and the names do
 * not tell: /srv/data bound at /mnt/data, a sync of /mnt/data into /srv
 * would delete its own source. /proc/self/mountinfo does tell: each mount
 * gives its device and the directory of that filesystem it shows (its
 * root). A path's location is the device of the mount holding it and that
 * root plus the rest of the path below the mount point; two paths are one
 * directory, or one lies inside the other, exactly when their locations
 * are, whatever mounts lead there. */
#ifndef SNAP_FSLOC_H
#define SNAP_FSLOC_H

#include <stdbool.h>
#include <stddef.h>

/* What fsloc_nesting found; both bits when a and b are one directory. */
enum {
	FSLOC_A_IN_B = 1,   /* a is b or inside it */
	FSLOC_B_IN_A = 2,   /* b is a or inside it */
	/* neither, but a mount inside one shows a folder inside the other */
	FSLOC_OVERLAP = 4,
};

/* Is path (lp bytes) dir (ld bytes) or below it? By whole components,
 * without trailing '/'; "/" holds every absolute path. */
bool fsloc_path_within(const char *path, size_t lp, const char *dir,
		       size_t ld);

/* How the local paths a and b nest: FSLOC_* bits (0: apart), or -errno
 * when the mount table cannot be read (-ENOENT: no /proc), -ENOMEM.
 * a and b are absolute and resolved (realpath's output; a tail that does
 * not exist yet may follow). Every filesystem mounted below a path counts
 * as inside it: /b with a disk mounted at /b/m holds whatever a bind
 * mount elsewhere shows of that disk. A is inside b exactly when
 * fsloc_places(b, a) finds a place showing a whole. */
int fsloc_nesting(const char *a, const char *b);

/* Every path under a where b or a part of it is seen: a's own path plus
 * the rest when a holds b on its own filesystem, each mount point below a
 * whose mount shows b (two bind mounts of b: two paths), and each mount
 * point below a whose mount shows a folder inside b. cb gets each
 * (absolute, as a is spelled); its non-zero return stops the walk and is
 * returned. 0, or -errno as fsloc_nesting. */
int fsloc_places(const char *a, const char *b,
		 int (*cb)(void *ctx, const char *at), void *ctx);

#endif
