/* tree_temp: the temp names a writer of a tree (restore, sync) uses for a
 * moment inside FILE_ROOT, and the rule that tells a crashed run's
 * leftover from a live temp of a process still writing.
 *
 * A name ".snapshooter-tmp-<pid>-<serial>-<16 hex>" exists only between a
 * create (or link) and the rename over the final name. A regular file
 * under such a name is held with flock(LOCK_EX) by its writer for its
 * whole life (an O_TMPFILE fd locked before it is linked under the name:
 * the lock is on the inode, so it covers the name too); a symlink cannot
 * be locked, its liveness is the pid in its name (kill(pid, 0)). A hard
 * link's temp is covered by a shared lock its writer holds on the group's
 * inode (the sweep asks for LOCK_EX, which a shared lock blocks). A temp
 * whose lock can be taken (LOCK_NB) or whose pid is gone is a leftover
 * and is removed; any other is left alone. Limit: a symlink temp of a
 * writer on another host (a shared tree) is judged by a pid of this
 * host. */
#ifndef SNAP_TREE_TEMP_H
#define SNAP_TREE_TEMP_H

#include <stdbool.h>
#include <stddef.h>

#define TREE_TEMP_NAME_MAX 64

/* A fresh temp name (64 random bits: a crashed run with the same pid must
 * not clash; callers still retry on EEXIST). Thread safe. */
void tree_temp_name(char out[TREE_TEMP_NAME_MAX]);

/* Is name[0..len) (one path component) of tree_temp_name's form? */
bool tree_temp_is_name(const char *name, size_t len);

/* For a scan of a tree this engine writes: if name (in dirfd) is one of
 * our temps, remove it when it is a leftover, and return 1 (the caller
 * leaves it out of any record: removed, or a live writer's temp); 0 when
 * name is not a temp name. Never fails: an entry it cannot judge is
 * kept (1). */
int tree_temp_reap(int dirfd, const char *name);

#endif
