/* tree_writer_link: the members of a hard-link group after the first,
 * linked to it through a temp name covered by a shared lock (tree_temp.h)
 * and renamed into place (tree_writer.h). */
#include "tree_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tree_temp.h"
#include "tree_writer_impl.h"
#include "banned.h"

int tree_writer_link(struct tree_writer *w, const char *first,
		     size_t first_len, const struct entry *e,
		     struct errbuf *eb)
{
	struct stat a, b;
	char tmp[64];
	size_t base1, base2;
	int d1 = -1, d2, lk = -1, ret, tries;

	/* the first member's directory, kept apart from the cache, which
	 * the second lookup may replace */
	ret = tree_writer_parent(w, first, first_len, false, &d2, &base1, eb);
	if (ret < 0)
		return ret;
	d1 = fcntl(d2, F_DUPFD_CLOEXEC, 0);
	if (d1 < 0)
		return tree_writer_name_error(w, -errno, "link", e->name,
					      e->name_len, eb);
	/* a shared lock on the group's inode marks the temp name it gets
	 * below as live to a concurrent run's leftover sweep (tree_temp.h:
	 * the sweep takes LOCK_EX | LOCK_NB); other members being linked
	 * share it. A file this user cannot open is linked unlocked. */
	lk = openat(d1, first + base1, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC);
	if (lk >= 0 && flock(lk, LOCK_SH)) {
		close(lk);
		lk = -1;
	}
	ret = fstatat(d1, first + base1, &a, AT_SYMLINK_NOFOLLOW) ? -errno :
	      !S_ISREG(a.st_mode) ? -EINVAL : 0;
	if (ret < 0) {
		ret = tree_writer_name_error(w, ret, "link", e->name,
					     e->name_len, eb);
		goto out;
	}
	ret = tree_writer_parent(w, e->name, e->name_len, true, &d2, &base2,
				 eb);
	if (ret < 0)
		goto out;
	if (!fstatat(d2, e->name + base2, &b, AT_SYMLINK_NOFOLLOW) &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		ret = 0;  /* one inode already */
		goto out;
	}
	for (tries = 0; tries < TEMP_TRIES; tries++) {
		tree_temp_name(tmp);
		ret = linkat(d1, first + base1, d2, tmp, 0) ? -errno : 0;
		if (ret != -EEXIST)
			break;
	}
	if (!ret && renameat(d2, tmp, d2, e->name + base2)) {
		ret = -errno;
		unlinkat(d2, tmp, 0);
	}
	if (ret < 0) {
		ret = tree_writer_name_error(w, ret, "link", e->name,
					     e->name_len, eb);
		goto out;
	}
	ret = 1;
out:
	if (lk >= 0)
		close(lk);
	close(d1);
	return ret;
}
