/* tree_temp: temp names of tree writers and the leftover rule (see the
 * header: flock for files, the pid for symlinks). */
#include "tree_temp.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define PREFIX ".snapshooter-tmp-"
#define PREFIX_LEN (sizeof(PREFIX) - 1)

static atomic_ulong temp_serial;

void tree_temp_name(char out[TREE_TEMP_NAME_MAX])
{
	uint64_t rnd = 0;

	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
	snprintf(out, TREE_TEMP_NAME_MAX, PREFIX "%d-%lu-%016llx",
		 (int)getpid(), atomic_fetch_add(&temp_serial, 1),
		 (unsigned long long)rnd);
}

/* digits at p[0..end), at least one; the count */
static size_t digits(const char *p, size_t end)
{
	size_t i = 0;

	while (i < end && p[i] >= '0' && p[i] <= '9')
		i++;
	return i;
}

/* The pid of a temp name, 0 when name is not one. */
static long temp_pid(const char *name, size_t len)
{
	size_t i = PREFIX_LEN, n, k;
	long pid;

	if (len < PREFIX_LEN || memcmp(name, PREFIX, PREFIX_LEN))
		return 0;
	n = digits(name + i, len - i);
	if (!n || n > 9 || i + n >= len || name[i + n] != '-')
		return 0;
	pid = strtol(name + i, NULL, 10);
	i += n + 1;
	n = digits(name + i, len - i);
	if (!n || i + n >= len || name[i + n] != '-')
		return 0;
	i += n + 1;
	if (len - i != 16)
		return 0;
	for (k = i; k < len; k++)
		if (!((name[k] >= '0' && name[k] <= '9') ||
		      (name[k] >= 'a' && name[k] <= 'f')))
			return 0;
	return pid > 0 ? pid : 0;
}

bool tree_temp_is_name(const char *name, size_t len)
{
	return temp_pid(name, len) > 0;
}

int tree_temp_reap(int dirfd, const char *name)
{
	long pid = temp_pid(name, strlen(name));
	struct stat st;
	int fd;

	if (!pid)
		return 0;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		/* a symlink temp: its writer's pid is all there is */
		if (errno == ELOOP && fstatat(dirfd, name, &st,
					      AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode) && kill((pid_t)pid, 0) &&
		    errno == ESRCH)
			unlinkat(dirfd, name, 0);
		return 1;
	}
	/* held: a writer is alive; taken: its owner is gone, and holding
	 * the lock while unlinking keeps a writer from reusing it */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    flock(fd, LOCK_EX | LOCK_NB) == 0)
		unlinkat(dirfd, name, 0);
	close(fd);
	return 1;
}
