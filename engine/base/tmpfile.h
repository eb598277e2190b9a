/* tmpfile: unnamed scratch files for data in flight (downloaded heap
 * objects and snapshots, decoded gzip objects), gone when their fd is
 * closed, even after a crash. */
#ifndef SNAP_TMPFILE_H
#define SNAP_TMPFILE_H

#include "errbuf.h"

/* $TMPDIR when set and not empty, else "/tmp". Borrowed from the
 * environment: valid while TMPDIR is not changed. */
const char *tmpfile_dir(void);

/* A new unnamed file, O_RDWR, in directory dir: O_TMPFILE, or where the
 * filesystem lacks it a named file unlinked at once. Returns the fd or
 * -errno ("cannot create a temp file in '/tmp': No space left on
 * device"). */
int tmpfile_open(const char *dir, struct errbuf *eb);

/* A new unnamed file, O_RDWR, in directory dirfd when dirfd >= 0 and
 * its filesystem takes O_TMPFILE (never a name there, so nothing a
 * crash could leave among the user's files; the same disk as what it
 * serves), else tmpfile_open(tmpfile_dir()). The fd or -errno. */
int tmpfile_open_near(int dirfd, struct errbuf *eb);

#endif
