/* relpath: open a relative name below a root directory fd without
 * following a symlink in its last component, also when the name is longer
 * than PATH_MAX (the walk then goes one directory at a time, each opened
 * with O_NOFOLLOW). */
#ifndef SNAP_RELPATH_H
#define SNAP_RELPATH_H

#include <stddef.h>

/* Names at least this long are opened component by component. */
#define RELPATH_DIRECT_MAX 4000

/* openat(rootfd, name, flags | O_NOFOLLOW | O_CLOEXEC). Returns an fd or
 * -errno. */
int relpath_open(int rootfd, const char *name, size_t len, int flags);

/* Open the parent directory of name (a new fd, or rootfd itself duplicated
 * for a top-level name) and point *base at the last component. Returns an
 * fd or -errno. */
int relpath_open_parent(int rootfd, const char *name, size_t len,
			const char **base);

/* Give the anonymous file fd (opened with O_TMPFILE, without O_EXCL)
 * the name dirfd/name: linkat with AT_EMPTY_PATH, or through
 * /proc/self/fd/N once AT_EMPTY_PATH proved to need a capability this
 * process lacks (remembered for the process). linkat never replaces a
 * name: -EEXIST when it exists. 0 or -errno. */
int relpath_link_tmpfile(int fd, int dirfd, const char *name);

struct errbuf;

/* mkdir -p: create path and its missing parents (mode 0755). An existing
 * directory is fine. 0 or -errno with "cannot create 'x': ..." in eb. */
int relpath_mkdir_p(const char *path, struct errbuf *eb);

#endif
