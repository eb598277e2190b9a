/* tmpfile: unnamed scratch files (tmpfile.h). */
#include "tmpfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

const char *tmpfile_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	return tmp && *tmp ? tmp : "/tmp";
}

int tmpfile_open(const char *dir, struct errbuf *eb)
{
	char path[4096];
	int fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return errbuf_set(eb, -errno, "cannot create a temp file in "
				  "'%s': %s", dir, strerror(errno));
	/* a filesystem without O_TMPFILE: a named file, unlinked at once */
	snprintf(path, sizeof(path), "%s/snapshooter-XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return errbuf_set(eb, -errno, "cannot create a temp file in "
				  "'%s': %s", dir, strerror(errno));
	unlink(path);
	return fd;
}

int tmpfile_open_near(int dirfd, struct errbuf *eb)
{
	int fd = -1;

	if (dirfd >= 0)
		fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	return fd >= 0 ? fd : tmpfile_open(tmpfile_dir(), eb);
}
