/* snapstore: listing and atomic publication of snapshot files in the
 * local SNAP_ROOT, and the handle that dispatches to the remote half
 * (snapstore_remote.c); the snapshot writer streams into a snapstore_tx. */
#include "snapstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "snapshot_reader.h"
#include "snapstore_impl.h"
#include "tmpfile.h"
#include "banned.h"

#define TMP_MAX_TRIES 16

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

int snapstore_list_push(struct snapstore_list *l, size_t *cap,
			const char *relpath, size_t len, int64_t t,
			enum snapshot_format fmt)
{
	struct snapstore_item *it;
	char *p;

	if (l->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;

		it = realloc(l->items, ncap * sizeof(*it));
		if (!it)
			return -ENOMEM;
		l->items = it;
		*cap = ncap;
	}
	p = malloc(len + 1);
	if (!p)
		return -ENOMEM;
	memcpy(p, relpath, len);
	p[len] = '\0';
	l->items[l->n].relpath = p;
	l->items[l->n].time_ns = t;
	l->items[l->n].format = fmt;
	l->n++;
	return 0;
}

static int item_cmp(const void *a, const void *b)
{
	const struct snapstore_item *x = a, *y = b;

	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return strcmp(x->relpath, y->relpath);
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

void snapstore_list_sort(struct snapstore_list *l)
{
	if (l->n > 1)
		qsort(l->items, l->n, sizeof(*l->items), item_cmp);
}

static int local_list(const char *snap_root, struct snapstore_list *out,
		      struct errbuf *eb)
{
	struct snapstore_list l = SNAPSTORE_LIST_INIT;
	struct dirent *de;
	size_t cap = 0;
	DIR *root;
	int rc = 0;

	if (!snap_root || !out)
		return errbuf_set(eb, -EINVAL,
				  "cannot list snapshots: invalid arguments");
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

/* A Python-format snapshot converted by convert-snapshots has a native
 * twin with the same timestamp: list only the native one, so 'latest'
 * and list-snapshots see each point in time once. l is sorted: twins are
 * neighbours. */
static void drop_converted(struct snapstore_list *l)
{
	size_t i, n = 0;

	for (i = 0; i < l->n; i++) {
		const struct snapstore_item *it = &l->items[i];
		bool twin = (i > 0 && l->items[i - 1].time_ns == it->time_ns &&
			     l->items[i - 1].format != it->format) ||
			    (i + 1 < l->n &&
			     l->items[i + 1].time_ns == it->time_ns &&
			     l->items[i + 1].format != it->format);

		if (twin && it->format == SNAPSHOT_FORMAT_JSONL_GZ) {
			free(it->relpath);
			continue;
		}
		l->items[n++] = *it;
	}
	l->n = n;
}

int snapstore_list(struct snapstore *ss, struct snapstore_list *out,
		   struct errbuf *eb)
{
	int rc;

	if (!ss || !out)
		return errbuf_set(eb, -EINVAL,
				  "cannot list snapshots: invalid arguments");
	out->items = NULL;
	out->n = 0;
	if (!ss->root)
		return errbuf_set(eb, -EINVAL,
				  "cannot list snapshots: no snapshot root");
	if (ss->os)
		rc = snapstore_remote_list(ss, out, eb);
	else
		rc = local_list(ss->root, out, eb);
	if (rc == 0)
		drop_converted(out);
	return rc;
}

void snapstore_list_release(struct snapstore_list *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		free(l->items[i].relpath);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

static char *join(const char *root, const char *rel)
{
	size_t rl = strlen(root);
	size_t len;
	char *p;

	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	len = rl + 1 + strlen(rel) + 1;
	p = malloc(len);
	if (p)
		snprintf(p, len, "%.*s/%s", (int)rl, root, rel);
	return p;
}

int snapstore_find_latest(struct snapstore *ss, bool has_before,
			  int64_t before_ns, char **path_out,
			  struct errbuf *eb)
{
	const char *snap_root = ss ? ss->root : NULL;
	struct snapstore_list l = SNAPSTORE_LIST_INIT;
	const struct snapstore_item *hit = NULL;
	size_t i;
	int rc;

	if (!snap_root || !path_out)
		return errbuf_set(eb, -EINVAL,
				  "cannot find snapshot: invalid arguments");
	*path_out = NULL;
	rc = snapstore_list(ss, &l, eb);
	if (rc)
		return rc;
	for (i = l.n; i > 0; i--) {
		if (!has_before || l.items[i - 1].time_ns <= before_ns) {
			hit = &l.items[i - 1];
			break;
		}
	}
	if (!hit) {
		char when[SNAPSTORE_NAME_MAX];

		if (has_before &&
		    snapstore_format_name(before_ns, SNAPSHOT_FORMAT_MSGPACK,
					  when, sizeof(when)) > 0)
			rc = errbuf_set(eb, -ENOENT,
					"no snapshot at or before %.*s in '%s'",
					SNAPSHOT_NAME_STAMP_LEN, when + 8, snap_root);
		else
			rc = errbuf_set(eb, -ENOENT, "no snapshot in '%s'",
					snap_root);
		goto out;
	}
	*path_out = snapstore_path(ss, hit->relpath);
	if (!*path_out)
		rc = errbuf_set(eb, -ENOMEM, "cannot find snapshot: out of memory");
out:
	snapstore_list_release(&l);
	return rc;
}

/* mkdir -p of an absolute or relative path */
static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path), i;

	if (len == 0)
		return -EINVAL;
	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (i < len && buf[i] != '/')
			continue;
		if (buf[i - 1] == '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		if (i < len)
			buf[i] = '/';
	}
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

static void tx_free(struct snapstore_tx *tx)
{
	if (tx->fd >= 0)
		close(tx->fd);
	if (tx->dirfd >= 0)
		close(tx->dirfd);
	free(tx->root);
	free(tx);
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

int snapstore_remove_stale_temps(struct snapstore *ss)
{
	struct dirent *yde, *mde;
	DIR *root, *yd, *md;
	int removed = 0;

	if (!ss || !ss->root || ss->os)
		return 0;
	root = opendir(ss->root);
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

int snapstore_begin(struct snapstore *ss, int64_t time_ns,
		    enum snapshot_format fmt, struct snapstore_tx **out,
		    struct errbuf *eb)
{
	const char *snap_root = ss ? ss->root : NULL;
	struct snapstore_tx *tx;
	char part[8];
	int rootfd = -1, yfd = -1;
	int rc, i;

	if (!snap_root || !*snap_root || !out)
		return errbuf_set(eb, -EINVAL,
				  "cannot create snapshot: invalid arguments");
	*out = NULL;
	tx = calloc(1, sizeof(*tx));
	if (!tx)
		return errbuf_set(eb, -ENOMEM,
				  "cannot create snapshot: out of memory");
	tx->fd = -1;
	tx->dirfd = -1;
	tx->root = strdup(snap_root);
	if (!tx->root) {
		rc = errbuf_set(eb, -ENOMEM,
				"cannot create snapshot: out of memory");
		goto fail;
	}
	rc = snapstore_format_name(time_ns, fmt, tx->relpath,
				   sizeof(tx->relpath));
	if (rc < 0) {
		rc = errbuf_set(eb, -EINVAL,
				"cannot create snapshot: bad time %" PRId64,
				time_ns);
		goto fail;
	}
	tx->base = tx->relpath + 8;
	tx->ss = ss;
	if (ss->os) {
		rc = snapstore_remote_begin(tx, eb);
		if (rc < 0)
			goto fail;
		*out = tx;
		return 0;
	}
	rc = mkdir_p(snap_root);
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
			      (uint64_t)time_ns;
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
	*out = tx;
	return 0;
fail:
	if (yfd >= 0)
		close(yfd);
	if (rootfd >= 0)
		close(rootfd);
	tx_free(tx);
	return rc;
}

int snapstore_tx_write(void *txp, const void *buf, size_t len)
{
	struct snapstore_tx *tx = txp;
	const char *p = buf;

	if (!tx || (!buf && len))
		return -EINVAL;
	if (tx->err)
		return tx->err;
	while (len) {
		ssize_t n = write(tx->fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			tx->err = -errno;
			return tx->err;
		}
		p += n;
		len -= (size_t)n;
		tx->len += (uint64_t)n;
	}
	return 0;
}

const char *snapstore_tx_relpath(const struct snapstore_tx *tx)
{
	return tx ? tx->relpath : NULL;
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

int snapstore_commit(struct snapstore_tx *tx, char **path_out,
		     struct errbuf *eb)
{
	int rc = 0, tries;
	int fd;

	if (path_out)
		*path_out = NULL;
	if (!tx)
		return errbuf_set(eb, -EINVAL,
				  "cannot save snapshot: invalid arguments");
	if (tx->ss->os)
		return snapstore_remote_commit(tx, path_out, eb);
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
		tx_free(tx);
		return rc;
	}
	if (fsync(tx->dirfd)) {
		/* the file is in place; durability of its name is unknown */
		rc = errbuf_set(eb, -errno, "cannot sync directory of '%s/%s': %s",
				tx->root, tx->relpath, strerror(errno));
		tx_free(tx);
		return rc;
	}
	if (path_out) {
		*path_out = join(tx->root, tx->relpath);
		if (!*path_out)
			rc = errbuf_set(eb, -ENOMEM,
					"cannot save snapshot: out of memory");
	}
	tx_free(tx);
	return rc;
abort:
	snapstore_abort(tx);
	return rc;
}

void snapstore_abort(struct snapstore_tx *tx)
{
	if (!tx)
		return;
	if (tx->dirfd >= 0 && tx->tmpname[0])
		unlinkat(tx->dirfd, tx->tmpname, 0);
	tx_free(tx);
}

int snapstore_open(const char *root, const char *storage_options_json,
		   const struct engine_opts *o, struct snapstore **out,
		   struct errbuf *eb)
{
	struct snapstore *ss;
	int rc;

	if (!out)
		return errbuf_set(eb, -EINVAL,
				  "cannot open snapshots: invalid arguments");
	*out = NULL;
	ss = calloc(1, sizeof(*ss));
	if (!ss)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	for (rc = 0; rc < SNAPSTORE_CACHE_MAX; rc++)
		ss->cache[rc].fd = -1;
	pthread_mutex_init(&ss->lock, NULL);
	if (o)
		ss->log = o->log;
	else
		ss->log = (struct logger)LOGGER_INIT;
	ss->tmpdir = tmpfile_dir();
	if (root && (!strncmp(root, "s3://", 5) || !strncmp(root, "az://", 5))) {
		rc = snapstore_remote_open(ss, root, storage_options_json, o,
					   eb);
		if (rc < 0) {
			snapstore_free(ss);
			return rc;
		}
	} else if (root) {
		if (!*root) {
			snapstore_free(ss);
			return errbuf_set(eb, -EINVAL, "empty snapshot root");
		}
		ss->root = strdup(root);
		if (!ss->root) {
			snapstore_free(ss);
			return errbuf_set(eb, -ENOMEM, "out of memory");
		}
	}
	*out = ss;
	return 0;
}

void snapstore_free(struct snapstore *ss)
{
	if (!ss)
		return;
	if (ss->os)
		snapstore_remote_free(ss);
	pthread_mutex_destroy(&ss->lock);
	free(ss->root);
	free(ss);
}

const char *snapstore_root(const struct snapstore *ss)
{
	return ss ? ss->root : NULL;
}

bool snapstore_is_remote(const struct snapstore *ss)
{
	return ss && ss->os;
}

char *snapstore_path(const struct snapstore *ss, const char *relpath)
{
	if (!ss || !ss->root || !relpath)
		return NULL;
	return join(ss->root, relpath);
}


int snapstore_open_reader(struct snapstore *ss, const char *path,
			  struct snapshot_reader **out, struct errbuf *eb)
{
	if (!ss || !path || !out)
		return errbuf_set(eb, -EINVAL,
				  "cannot open snapshot: invalid arguments");
	*out = NULL;
	if (ss->os)
		return snapstore_remote_open_reader(ss, path, out, eb);
	return snapshot_reader_open_file(path, out, eb);
}

int snapstore_remove(struct snapstore *ss, const char *relpath,
		     struct errbuf *eb)
{
	const char *base;
	char dir[16];
	int64_t t;
	int dfd, rc = 0;

	if (!ss || !ss->root || !relpath ||
	    snapstore_parse_relpath(relpath, strlen(relpath), &t, NULL))
		return errbuf_set(eb, -EINVAL, "cannot remove snapshot '%s': "
				  "not a snapshot name",
				  relpath ? relpath : "(null)");
	if (ss->os)
		return snapstore_remote_remove(ss, relpath, eb);
	/* "YYYY/MM/" is 8 bytes, checked by parse_relpath */
	memcpy(dir, relpath, 7);
	dir[7] = '\0';
	base = relpath + 8;
	dfd = openat(AT_FDCWD, ss->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		int sub = openat(dfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		close(dfd);
		dfd = sub;
	}
	if (dfd < 0) {
		if (errno == ENOENT)
			return 0;
		return errbuf_set(eb, -errno, "cannot remove snapshot '%s/%s': "
				  "%s", ss->root, relpath, strerror(errno));
	}
	if (unlinkat(dfd, base, 0) && errno != ENOENT)
		rc = -errno;
	else if (fsync(dfd))
		rc = -errno;
	close(dfd);
	if (rc)
		return errbuf_set(eb, rc, "cannot remove snapshot '%s/%s': %s",
				  ss->root, relpath, strerror(-rc));
	return 0;
}
