/* relpath: long-name-safe openat relative to a root fd. */
#include "relpath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <limits.h>
#include <sys/stat.h>

#include "errbuf.h"
#include "banned.h"

/* AT_EMPTY_PATH was refused once: go through /proc from then on */
static atomic_int link_through_proc;

static int link_proc(int fd, int dirfd, const char *name)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) ?
	       -errno : 0;
}

int relpath_link_tmpfile(int fd, int dirfd, const char *name)
{
	int ret;

	if (atomic_load(&link_through_proc))
		return link_proc(fd, dirfd, name);
	if (!linkat(fd, "", dirfd, name, AT_EMPTY_PATH))
		return 0;
	if (errno != EPERM && errno != EACCES && errno != ENOENT)
		return -errno;
	/* without CAP_DAC_READ_SEARCH: EPERM, or ENOENT on older kernels,
	 * where ENOENT may also mean a missing directory: /proc tells */
	ret = link_proc(fd, dirfd, name);
	if (ret != -ENOENT)
		atomic_store(&link_through_proc, 1);
	return ret;
}

int relpath_open_parent(int rootfd, const char *name, size_t len,
			const char **base)
{
	const char *slash = memrchr(name, '/', len);
	size_t plen = slash ? (size_t)(slash - name) : 0;
	size_t start = 0;
	char comp[256];
	int cur, fd;

	*base = slash ? slash + 1 : name;
	cur = dup(rootfd);
	if (cur < 0)
		return -errno;
	while (start < plen) {
		const char *end = memchr(name + start, '/', plen - start);
		size_t clen = (end ? (size_t)(end - name) : plen) - start;

		if (clen >= sizeof(comp)) {
			close(cur);
			return -ENAMETOOLONG;
		}
		memcpy(comp, name + start, clen);
		comp[clen] = '\0';
		fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			    O_CLOEXEC);
		close(cur);
		if (fd < 0)
			return -errno;
		cur = fd;
		start += clen + 1;
	}
	return cur;
}

int relpath_open(int rootfd, const char *name, size_t len, int flags)
{
	const char *base;
	int dirfd, fd;

	flags |= O_NOFOLLOW | O_CLOEXEC;
	if (len < RELPATH_DIRECT_MAX) {
		fd = openat(rootfd, name, flags);
		return fd < 0 ? -errno : fd;
	}
	dirfd = relpath_open_parent(rootfd, name, len, &base);
	if (dirfd < 0)
		return dirfd;
	fd = openat(dirfd, base, flags);
	if (fd < 0)
		fd = -errno;
	close(dirfd);
	return fd;
}

int relpath_mkdir_p(const char *path, struct errbuf *eb)
{
	char buf[PATH_MAX];
	size_t len = strlen(path), i;

	if (len >= sizeof(buf))
		return errbuf_set(eb, -ENAMETOOLONG, "path too long '%s'",
				  path);
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return errbuf_set(eb, -errno, "cannot create '%s': %s",
					  buf, strerror(errno));
		buf[i] = i < len ? '/' : '\0';
	}
	return 0;
}
