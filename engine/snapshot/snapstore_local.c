/* snapstore_local: the snapshot store in a local directory (SNAP_ROOT):
 * listing of YYYY/MM/<name>, atomic publication (a locked temp file,
 * fsync, rename without overwrite, fsync of the directory), durable
 * removal and the cleanup of temps that crashed runs left. One backend
 * of snapstore_impl.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relpath.h"
#include "snapshot_reader.h"
#include "snapstore_impl.h"
#include "banned.h"

#define TMP_MAX_TRIES 16

struct snapstore_local {
	char *root;                      /* NULL: a store without a root */
};

static bool is_digits(const char *s, size_t n)
{
	size_t i;

	if (strlen(s) != n)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool is_type(int dirfd, const struct dirent *de, mode_t type)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return (type == S_IFDIR && de->d_type == DT_DIR) ||
		       (type == S_IFREG && de->d_type == DT_REG);
	if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW))
		return false;
	return (st.st_mode & S_IFMT) == type;
}

/* open a subdirectory as a DIR stream; NULL with errno on failure */
static DIR *open_subdir(int parent, const char *name)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return d;
}

static int list_month(DIR *md, const char *year, const char *month,
		      struct snapstore_list *l, size_t *cap)
{
	char rel[SNAPSTORE_NAME_MAX + 16];
	struct dirent *de;
	enum snapshot_format fmt;
	int64_t t;
	int rc, n;

	for (;;) {
		errno = 0;
		de = readdir(md);
		if (!de)
			return errno ? -errno : 0;
		if (snapstore_parse_name(de->d_name, &t, &fmt))
			continue;
		if (!is_type(dirfd(md), de, S_IFREG))
			continue;
		n = snprintf(rel, sizeof(rel), "%s/%s/%s", year, month,
			     de->d_name);
		if (n < 0 || (size_t)n >= sizeof(rel))
			continue;
		rc = snapstore_list_push(l, cap, rel, (size_t)n, t, fmt);
		if (rc)
			return rc;
	}
}

static int list_year(DIR *yd, const char *year, struct snapstore_list *l,
		     size_t *cap)
{
	struct dirent *de;
	int rc;

	for (;;) {
		DIR *md;

		errno = 0;
		de = readdir(yd);
		if (!de)
			return errno ? -errno : 0;
		if (!is_digits(de->d_name, 2) ||
		    !is_type(dirfd(yd), de, S_IFDIR))
			continue;
		md = open_subdir(dirfd(yd), de->d_name);
		if (!md)
			return -errno;
		rc = list_month(md, year, de->d_name, l, cap);
		closedir(md);
		if (rc)
			return rc;
	}
}

static int local_list(void *self, struct snapstore_list *out,
		      struct errbuf *eb)
{
	const char *snap_root = ((struct snapstore_local *)self)->root;
	struct snapstore_list l = SNAPSTORE_LIST_INIT;
	struct dirent *de;
	size_t cap = 0;
	DIR *root;
	int rc = 0;

	*out = l;
	root = opendir(snap_root);
	if (!root) {
		if (errno == ENOENT)
			return 0;
		return errbuf_set(eb, -errno, "cannot list snapshots in '%s': %s",
				  snap_root, strerror(errno));
	}
	for (;;) {
		DIR *yd;

		errno = 0;
		de = readdir(root);
		if (!de) {
			rc = errno ? -errno : 0;
			break;
		}
		if (!is_digits(de->d_name, 4) ||
		    !is_type(dirfd(root), de, S_IFDIR))
			continue;
		yd = open_subdir(dirfd(root), de->d_name);
		if (!yd) {
			rc = -errno;
			break;
		}
		rc = list_year(yd, de->d_name, &l, &cap);
		closedir(yd);
		if (rc)
			break;
	}
	closedir(root);
	if (rc) {
		snapstore_list_release(&l);
		return errbuf_set(eb, rc, "cannot list snapshots in '%s': %s",
				  snap_root, strerror(-rc));
	}
	snapstore_list_sort(&l);
	*out = l;
	return 0;
}

/* open (creating it if needed) the subdirectory name of parent; a new
 * directory is made durable by syncing its parent */
static int mkdir_at(int parent, const char *name)
{
	int fd;

	if (mkdirat(parent, name, 0755) == 0) {
		if (fsync(parent))
			return -errno;
	} else if (errno != EEXIST) {
		return -errno;
	}
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Hold a new temp snapshot with flock(LOCK_EX) until it is renamed: the
 * mark of a live temp for snapstore_remove_stale_temps. False when a
 * cleaner took the name for a leftover between our create and our lock
 * (the caller picks a new name). */
static bool tmp_lock(int dirfd, const char *name, int fd)
{
	struct stat a, b;

	if (flock(fd, LOCK_EX))
		return true;  /* no locks here: no cleaner can take it */
	return !fstat(fd, &a) && !fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) &&
	       a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/* Remove the temps of dead writers in one month directory. */
static int remove_stale_in(DIR *md)
{
	struct dirent *de;
	int removed = 0;

	while ((de = readdir(md))) {
		struct stat st;
		int fd;

		if (strncmp(de->d_name, SNAPSTORE_TMP_PREFIX,
			    sizeof(SNAPSTORE_TMP_PREFIX) - 1))
			continue;
		fd = openat(dirfd(md), de->d_name, O_RDONLY | O_NOFOLLOW |
			    O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* the lock taken: its writer is gone; held while unlinking */
		if (!fstat(fd, &st) && S_ISREG(st.st_mode) &&
		    !flock(fd, LOCK_EX | LOCK_NB) &&
		    !unlinkat(dirfd(md), de->d_name, 0))
			removed++;
		close(fd);
	}
	return removed;
}

static int local_remove_stale_temps(void *self)
{
	const char *snap_root = ((struct snapstore_local *)self)->root;
	struct dirent *yde, *mde;
	DIR *root, *yd, *md;
	int removed = 0;

	root = opendir(snap_root);
	if (!root)
		return 0;
	while ((yde = readdir(root))) {
		if (!is_digits(yde->d_name, 4) ||
		    !is_type(dirfd(root), yde, S_IFDIR))
			continue;
		yd = open_subdir(dirfd(root), yde->d_name);
		if (!yd)
			continue;
		while ((mde = readdir(yd))) {
			if (!is_digits(mde->d_name, 2) ||
			    !is_type(dirfd(yd), mde, S_IFDIR))
				continue;
			md = open_subdir(dirfd(yd), mde->d_name);
			if (!md)
				continue;
			removed += remove_stale_in(md);
			closedir(md);
		}
		closedir(yd);
	}
	closedir(root);
	return removed;
}

static int local_tx_begin(void *self, struct snapstore_tx *tx,
			  struct errbuf *eb)
{
	const char *snap_root = ((struct snapstore_local *)self)->root;
	char part[8];
	int rootfd = -1, yfd = -1;
	int rc, i;

	/* no errbuf: the message below names the root, not the component */
	rc = relpath_mkdir_p(snap_root, NULL);
	if (rc) {
		errbuf_set(eb, rc, "cannot create directory '%s': %s",
			   snap_root, strerror(-rc));
		goto fail;
	}
	rootfd = open(snap_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		rc = errbuf_set(eb, -errno, "cannot open directory '%s': %s",
				snap_root, strerror(errno));
		goto fail;
	}
	memcpy(part, tx->relpath, 4);
	part[4] = '\0';
	yfd = mkdir_at(rootfd, part);
	if (yfd < 0) {
		rc = errbuf_set(eb, yfd, "cannot create directory '%s/%s': %s",
				snap_root, part, strerror(-yfd));
		goto fail;
	}
	memcpy(part, tx->relpath + 5, 2);
	part[2] = '\0';
	tx->dirfd = mkdir_at(yfd, part);
	if (tx->dirfd < 0) {
		rc = errbuf_set(eb, tx->dirfd,
				"cannot create directory '%s/%.7s': %s",
				snap_root, tx->relpath, strerror(-tx->dirfd));
		goto fail;
	}
	for (i = 0; i < TMP_MAX_TRIES; i++) {
		uint64_t rnd = 0;

		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint64_t)getpid() << 16 ^ (uint64_t)i ^
			      (uint64_t)tx->time_ns;
		snprintf(tx->tmpname, sizeof(tx->tmpname),
			 SNAPSTORE_TMP_PREFIX "%s.%016" PRIx64, tx->base, rnd);
		tx->fd = openat(tx->dirfd, tx->tmpname,
				O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (tx->fd >= 0 && !tmp_lock(tx->dirfd, tx->tmpname, tx->fd)) {
			close(tx->fd);
			tx->fd = -1;
			errno = EEXIST;
		}
		if (tx->fd >= 0 || errno != EEXIST)
			break;
	}
	if (tx->fd < 0) {
		rc = errbuf_set(eb, -errno, "cannot create '%s/%.8s%s': %s",
				snap_root, tx->relpath, tx->tmpname,
				strerror(errno));
		goto fail;
	}
	close(yfd);
	close(rootfd);
	return 0;
fail:
	if (yfd >= 0)
		close(yfd);
	if (rootfd >= 0)
		close(rootfd);
	return rc;
}

/* rename without replacing; link + unlink where renameat2 is missing */
static int publish(struct snapstore_tx *tx)
{
	if (renameat2(tx->dirfd, tx->tmpname, tx->dirfd, tx->base,
		      RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (linkat(tx->dirfd, tx->tmpname, tx->dirfd, tx->base, 0))
		return -errno;
	unlinkat(tx->dirfd, tx->tmpname, 0);
	return 0;
}

static void local_tx_abort(void *self, struct snapstore_tx *tx)
{
	(void)self;
	if (tx->dirfd >= 0 && tx->tmpname[0])
		unlinkat(tx->dirfd, tx->tmpname, 0);
}

static int local_tx_commit(void *self, struct snapstore_tx *tx,
			   char **path_out, struct errbuf *eb)
{
	int rc = 0, tries;
	int fd;

	if (tx->err) {
		rc = errbuf_set(eb, tx->err, "cannot write '%s/%s': %s",
				tx->root, tx->relpath, strerror(-tx->err));
		goto abort;
	}
	if (fsync(tx->fd)) {
		rc = errbuf_set(eb, -errno, "cannot sync '%s/%s': %s",
				tx->root, tx->relpath, strerror(errno));
		goto abort;
	}
	/* renamed while still open: its lock marks the temp name as live
	 * until it is gone */
	rc = publish(tx);
	/* two runs that started in the same microsecond want one name: the
	 * later takes the next free microsecond (the header keeps its real
	 * start time) */
	for (tries = 0; rc == -EEXIST && tries < 1000; tries++) {
		char next[SNAPSTORE_NAME_MAX];
		enum snapshot_format fmt;
		int64_t t;

		if (snapstore_parse_name(tx->base, &t, &fmt) < 0 ||
		    snapstore_format_name(t + 1000, fmt, next, sizeof(next)) < 0 ||
		    memcmp(next, tx->relpath, 8))
			break;  /* not across a month's directory */
		memcpy(tx->relpath, next, sizeof(next));
		rc = publish(tx);
	}
	if (rc == -EEXIST) {
		errbuf_set(eb, rc, "cannot save snapshot '%s/%s': a snapshot "
			   "with that name already exists", tx->root,
			   tx->relpath);
		goto abort;
	} else if (rc) {
		errbuf_set(eb, rc, "cannot rename snapshot to '%s/%s': %s",
			   tx->root, tx->relpath, strerror(-rc));
		goto abort;
	}
	fd = tx->fd;
	tx->fd = -1;
	if (close(fd)) {
		/* the name may show missing bytes: take it back */
		rc = errbuf_set(eb, -errno, "cannot close '%s/%s': %s",
				tx->root, tx->relpath, strerror(errno));
		unlinkat(tx->dirfd, tx->base, 0);
		return rc;
	}
	if (fsync(tx->dirfd)) {
		/* the file is in place; durability of its name is unknown */
		rc = errbuf_set(eb, -errno, "cannot sync directory of '%s/%s': %s",
				tx->root, tx->relpath, strerror(errno));
		return rc;
	}
	if (path_out) {
		*path_out = snapstore_join(tx->root, tx->relpath);
		if (!*path_out)
			rc = errbuf_set(eb, -ENOMEM,
					"cannot save snapshot: out of memory");
	}
	return rc;
abort:
	local_tx_abort(self, tx);
	return rc;
}

static int local_remove(void *self, const char *relpath, struct errbuf *eb)
{
	const char *snap_root = ((struct snapstore_local *)self)->root;
	const char *base;
	char dir[16];
	int dfd, rc = 0;

	/* "YYYY/MM/" is 8 bytes, checked by parse_relpath */
	memcpy(dir, relpath, 7);
	dir[7] = '\0';
	base = relpath + 8;
	dfd = openat(AT_FDCWD, snap_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		int sub = openat(dfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		close(dfd);
		dfd = sub;
	}
	if (dfd < 0) {
		if (errno == ENOENT)
			return 0;
		return errbuf_set(eb, -errno, "cannot remove snapshot '%s/%s': "
				  "%s", snap_root, relpath, strerror(errno));
	}
	if (unlinkat(dfd, base, 0) && errno != ENOENT)
		rc = -errno;
	else if (fsync(dfd))
		rc = -errno;
	close(dfd);
	if (rc)
		return errbuf_set(eb, rc, "cannot remove snapshot '%s/%s': %s",
				  snap_root, relpath, strerror(-rc));
	return 0;
}

static int local_open_reader(void *self, const char *path,
			     struct snapshot_reader **out, struct errbuf *eb)
{
	(void)self;
	return snapshot_reader_open_file(path, out, eb);
}

static int local_open(const char *root, const char *storage_options_json,
		      const struct engine_opts *o, void **self,
		      struct errbuf *eb)
{
	struct snapstore_local *l;

	(void)storage_options_json;
	(void)o;
	if (root && !*root)
		return errbuf_set(eb, -EINVAL, "empty snapshot root");
	l = calloc(1, sizeof(*l));
	if (!l)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	if (root) {
		l->root = strdup(root);
		if (!l->root) {
			free(l);
			return errbuf_set(eb, -ENOMEM, "out of memory");
		}
	}
	*self = l;
	return 0;
}

static void local_free(void *self)
{
	struct snapstore_local *l = self;

	free(l->root);
	free(l);
}

static const char *local_root(const void *self)
{
	return ((const struct snapstore_local *)self)->root;
}

const struct snapstore_ops snapstore_local_ops = {
	.name = "local",
	.remote = false,
	.open = local_open,
	.free = local_free,
	.root = local_root,
	.list = local_list,
	.remove = local_remove,
	.open_reader = local_open_reader,
	.tx_begin = local_tx_begin,
	.tx_commit = local_tx_commit,
	.tx_abort = local_tx_abort,
	.remove_stale_temps = local_remove_stale_temps,
};
