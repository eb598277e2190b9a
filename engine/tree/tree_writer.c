/* tree_writer: symlink-safe writes relative to a root directory fd. */
#include "tree_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "relpath.h"
#include "tree_temp.h"
#include "tree_writer_impl.h"
#include "xattr.h"
#include "banned.h"

struct tree_writer {
	mode_t umask;        /* the process umask, read once */
	int rootfd;
	const char *root;
	char *cached;        /* relative path of the cached parent */
	size_t cached_len;
	int cached_fd;       /* -1 when none; rootfd is never cached */
	/* has the directory a default ACL? -1: not asked yet (a default
	 * ACL, not the umask, masks the mode of what is created in it) */
	int cached_dacl;
	int root_dacl;
	unsigned long counter;
	bool no_tmpfile;     /* O_TMPFILE refused here: named temps */
	unsigned xattr_ns;   /* enum xattr_ns applied, 0: none */
	uint64_t *xattr_unsupported;
	uint64_t *xattr_skipped;
	bool owners_apply;   /* tree_writer_set_owners */
	bool owners_count;
	uint64_t *owners_skipped;
	uid_t self_uid;
	gid_t self_gid;
};

/* The process umask without changing it (umask() would, for every thread
 * at once): /proc/self/status has it since Linux 4.7. Unknown: 0777, so
 * every file gets its fchmod. */
static mode_t read_umask(void)
{
	char line[128];
	mode_t m = 0777;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return m;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Umask:", 6)) {
			m = (mode_t)strtoul(line + 6, NULL, 8) & 0777;
			break;
		}
	}
	fclose(f);
	return m;
}

int tree_writer_new(int rootfd, const char *root, struct tree_writer **out,
		    struct errbuf *eb)
{
	struct tree_writer *w = calloc(1, sizeof(*w));

	*out = NULL;
	if (!w)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	w->rootfd = rootfd;
	w->root = root;
	w->cached_fd = -1;
	w->cached_dacl = -1;
	w->root_dacl = -1;
	w->umask = read_umask();
	w->self_uid = geteuid();
	w->self_gid = getegid();
	*out = w;
	return 0;
}

void tree_writer_set_xattrs(struct tree_writer *w, unsigned ns,
			    uint64_t *unsupported, uint64_t *skipped)
{
	w->xattr_ns = ns;
	w->xattr_unsupported = unsupported;
	w->xattr_skipped = skipped;
}

static void count(uint64_t *c, uint64_t n)
{
	if (c && n)
		__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

/* The xattr step of every entry written or fixed: after the owner and
 * mode (chown clears security.capability, and chmod would rewrite an
 * ACL's mask) and before the mtime. Through fd when >= 0, else the
 * entry base in dirfd. 0 or -errno. */
static int apply_xattrs(struct tree_writer *w, const struct entry *e, int fd,
			int dirfd, const char *base)
{
	struct xattr_apply_result res = { 0 };
	char path[64 + 256];
	int ret;

	if (!w->xattr_ns || !e->xattrs_known ||
	    (e->has_xattr_ref && !e->xattrs))
		return 0;
	if (fd < 0) {
		ret = xattr_at_path(dirfd, base, path, sizeof(path));
		if (ret < 0)
			return ret;
	}
	ret = xattr_apply(fd, fd >= 0 ? NULL : path, e->xattrs, e->xattrs_len,
			  w->xattr_ns, &res);
	if (res.unsupported)
		count(w->xattr_unsupported, 1);
	count(w->xattr_skipped, res.skipped);
	return ret;
}

void tree_writer_set_owners(struct tree_writer *w, bool apply,
			    uint64_t *skipped)
{
	w->owners_apply = apply;
	w->owners_count = !apply;
	w->owners_skipped = skipped;
}

/* Should e's owner be set (1), or is it skipped or unknown (0)? */
static int owner_wanted(struct tree_writer *w, const struct entry *e)
{
	if (!e->has_owner)
		return 0;
	if (w->owners_apply)
		return 1;
	if (w->owners_count && w->owners_skipped &&
	    (e->uid != w->self_uid || e->gid != w->self_gid))
		__atomic_fetch_add(w->owners_skipped, 1, __ATOMIC_RELAXED);
	return 0;
}

void tree_writer_drop_cache(struct tree_writer *w)
{
	if (w->cached_fd >= 0)
		close(w->cached_fd);
	w->cached_fd = -1;
	w->cached_dacl = -1;
	free(w->cached);
	w->cached = NULL;
	w->cached_len = 0;
}

void tree_writer_free(struct tree_writer *w)
{
	if (!w)
		return;
	tree_writer_drop_cache(w);
	free(w);
}

int tree_writer_name_error(struct tree_writer *w, int err, const char *what,
			   const char *name, size_t len, struct errbuf *eb)
{
	char shown[512];

	errbuf_quote_name(shown, sizeof(shown), name, len);
	return errbuf_set(eb, err, "cannot %s '%s/%s': %s", what, w->root,
			  shown, strerror(-err));
}

int tree_writer_parent(struct tree_writer *w, const char *name, size_t len,
		       bool create, int *dirfd, size_t *base_off,
		       struct errbuf *eb)
{
	const char *slash = memrchr(name, '/', len);
	size_t plen = slash ? (size_t)(slash - name) : 0;
	char comp[256];
	size_t start = 0;
	int cur;

	*base_off = slash ? plen + 1 : 0;
	if (!plen) {
		*dirfd = w->rootfd;
		return 0;
	}
	if (w->cached_fd >= 0 && w->cached_len == plen &&
	    !memcmp(w->cached, name, plen)) {
		*dirfd = w->cached_fd;
		return 0;
	}
	tree_writer_drop_cache(w);
	cur = w->rootfd;
	while (start < plen) {
		const char *end = memchr(name + start, '/', plen - start);
		size_t clen = (end ? (size_t)(end - name) : plen) - start;
		int fd;

		if (clen >= sizeof(comp))
			return tree_writer_name_error(w, -ENAMETOOLONG,
						      "open directory", name,
						      plen, eb);
		memcpy(comp, name + start, clen);
		comp[clen] = '\0';
		fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			    O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && create) {
			if (mkdirat(cur, comp, 0755) && errno != EEXIST) {
				fd = -errno;
				goto fail;
			}
			fd = openat(cur, comp, O_RDONLY | O_DIRECTORY |
				    O_NOFOLLOW | O_CLOEXEC);
		}
		if (fd < 0) {
			/* ELOOP / ENOTDIR: a symlink or file is in the way;
			 * never write through it */
			fd = -errno;
			goto fail;
		}
		if (cur != w->rootfd)
			close(cur);
		cur = fd;
		start += clen + 1;
		continue;
fail:
		if (cur != w->rootfd)
			close(cur);
		if (fd == -ELOOP || fd == -ENOTDIR)
			return tree_writer_name_error(w, fd, "write below "
						      "(not a real directory: "
						      "symlink or file in the "
						      "way)", name,
						      start + clen, eb);
		return tree_writer_name_error(w, fd, "open directory", name,
					      start + clen, eb);
	}
	w->cached = malloc(plen);
	if (!w->cached) {
		close(cur);
		return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	memcpy(w->cached, name, plen);
	w->cached_len = plen;
	w->cached_fd = cur;
	w->cached_dacl = -1;
	*dirfd = cur;
	return 0;
}

/* Does dirfd (the root or the cached parent) have a default ACL? Asked
 * once per directory opened, not per file. */
static bool parent_has_default_acl(struct tree_writer *w, int dirfd)
{
	int *known = dirfd == w->rootfd ? &w->root_dacl :
		     dirfd == w->cached_fd ? &w->cached_dacl : NULL;
	int has;

	if (known && *known >= 0)
		return *known;
	has = fgetxattr(dirfd, "system.posix_acl_default", NULL, 0) >= 0 ||
	      errno == ERANGE;
	if (known)
		*known = has;
	return has;
}

/* Is the name still this fd's file? (a scan's tree_temp_reap may have
 * taken the lock and removed it between our create and our flock) */
static bool still_named(int dirfd, const char *name, int fd)
{
	struct stat a, b;

	return !fstat(fd, &a) && !fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) &&
	       a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

void tree_writer_use_named_temps(struct tree_writer *w)
{
	w->no_tmpfile = true;
}

/* Create a new temp name in dirfd (retrying on a clash), held with
 * flock(LOCK_EX) until closed: the mark of a live temp (tree_temp.h).
 * The fd or -errno. */
static int open_named_temp(int dirfd, char tmp_name[64], mode_t mode)
{
	int fd = -EEXIST, tries;

	for (tries = 0; tries < TEMP_TRIES && fd == -EEXIST; tries++) {
		tree_temp_name(tmp_name);
		fd = openat(dirfd, tmp_name, O_RDWR | O_CREAT | O_EXCL |
			    O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0) {
			fd = -errno;
			continue;
		}
		if (flock(fd, LOCK_EX)) {
			close(fd);
			unlinkat(dirfd, tmp_name, 0);
			return -errno;
		}
		if (!still_named(dirfd, tmp_name, fd)) {
			close(fd);
			fd = -EEXIST;  /* taken for a leftover: a new name */
		}
	}
	return fd;
}

int tree_writer_create_temp(struct tree_writer *w, const struct entry *e,
			    int *dirfd, char tmp_name[64], int *fd,
			    struct errbuf *eb)
{
	size_t base;
	int ret;

	ret = tree_writer_parent(w, e->name, e->name_len, true, dirfd, &base,
				 eb);
	if (ret < 0)
		return ret;
	if (!w->no_tmpfile) {
		/* an anonymous file linked into place when published: one
		 * directory operation instead of create + rename, and
		 * nothing left behind by a crash (O_RDWR: a link refused
		 * later can still copy it out) */
		*fd = openat(*dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC,
			     e->mode & 0777);
		if (*fd >= 0) {
			tmp_name[0] = '\0';
			return 0;
		}
		if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)
			w->no_tmpfile = true;
		else
			return tree_writer_name_error(w, -errno,
						      "create a temp file for",
						      e->name, e->name_len, eb);
	}
	*fd = open_named_temp(*dirfd, tmp_name, e->mode & 0777);
	if (*fd < 0)
		return tree_writer_name_error(w, *fd, "create a temp file for",
					      e->name, e->name_len, eb);
	return 0;
}

void tree_writer_discard_temp(int dirfd, const char *tmp_name, int fd)
{
	close(fd);
	if (tmp_name[0])
		unlinkat(dirfd, tmp_name, 0);
}

/* Copy an anonymous temp the kernel would not link (no capability and no
 * /proc) into a named one, with the mode and mtime already set on it.
 * Returns the new fd or -errno. */
static int copy_out(int fd, int dirfd, char tmp_name[64])
{
	struct timespec ts[2];
	struct stat st;
	loff_t in = 0;
	int out, err = 0;

	if (fstat(fd, &st))
		return -errno;
	out = open_named_temp(dirfd, tmp_name, st.st_mode & 0777);
	if (out < 0)
		return out;
	while (!err && in < st.st_size) {
		ssize_t n = copy_file_range(fd, &in, out, NULL,
					    (size_t)(st.st_size - in), 0);

		if (n <= 0)
			err = n ? -errno : -EIO;
	}
	ts[0] = st.st_mtim;
	ts[1] = st.st_mtim;
	/* the owner first: a chown clears setuid/setgid (fails harmlessly
	 * when not root: the copy is ours anyway) */
	if (!err && (st.st_uid != geteuid() || st.st_gid != getegid()) &&
	    fchown(out, st.st_uid, st.st_gid) && errno != EPERM)
		err = -errno;
	if (!err && fchmod(out, st.st_mode & 07777))
		err = -errno;
	if (!err) {
		/* the xattrs set on the anonymous temp go along */
		struct xattr_apply_result res = { 0 };
		unsigned char *x = NULL;
		size_t xlen = 0;
		unsigned ns = XATTR_NS_USER | XATTR_NS_PRIV | XATTR_NS_ACL;

		err = xattr_read(fd, NULL, ns, &x, &xlen);
		if (!err)
			err = xattr_apply(out, NULL, x, xlen, ns, &res);
		free(x);
	}
	if (!err && futimens(out, ts))
		err = -errno;
	if (err) {
		close(out);
		unlinkat(dirfd, tmp_name, 0);
		return err;
	}
	return out;
}

/* Publish an anonymous temp at base: link it there, or, when a name is
 * in the way (a file being replaced), link it under a temp name and
 * rename that over the old one. 0 or -errno. */
static int publish_anon(struct tree_writer *w, int fd, int dirfd,
			const char *base)
{
	char tmp[64];
	int ret, tries;

	ret = relpath_link_tmpfile(fd, dirfd, base);
	if (ret != -EEXIST && ret != -EPERM && ret != -EACCES &&
	    ret != -ENOENT)
		return ret;
	if (ret == -EEXIST) {
		/* the lock is on the inode: it marks the temp name it is
		 * about to get as live (tree_temp.h) */
		if (flock(fd, LOCK_EX))
			return -errno;
		for (tries = 0; tries < TEMP_TRIES; tries++) {
			tree_temp_name(tmp);
			ret = relpath_link_tmpfile(fd, dirfd, tmp);
			if (ret != -EEXIST)
				break;
		}
	}
	if (ret == -EPERM || ret == -EACCES || ret == -ENOENT) {
		/* this process cannot link anonymous files: name it the
		 * slow way, and use named temps from now on */
		int out = copy_out(fd, dirfd, tmp);

		if (out < 0)
			return out;
		w->no_tmpfile = true;
		/* renamed before it is closed: its lock covers the temp
		 * name until it is gone */
		if (renameat(dirfd, tmp, dirfd, base)) {
			ret = -errno;
			close(out);
			unlinkat(dirfd, tmp, 0);
			return ret;
		}
		if (close(out)) {
			/* the name may show missing bytes: take it back */
			ret = -errno;
			unlinkat(dirfd, base, 0);
		}
		return ret;
	}
	if (ret < 0)
		return ret;
	if (renameat(dirfd, tmp, dirfd, base)) {
		ret = -errno;
		unlinkat(dirfd, tmp, 0);
	}
	return ret;
}

static void entry_times(const struct entry *e, struct timespec ts[2])
{
	ts[0].tv_sec = e->mtime_ns / 1000000000LL;
	ts[0].tv_nsec = e->mtime_ns % 1000000000LL;
	if (ts[0].tv_nsec < 0) {
		ts[0].tv_sec--;
		ts[0].tv_nsec += 1000000000LL;
	}
	ts[1] = ts[0];
}

int tree_writer_publish(struct tree_writer *w, const struct entry *e,
			int dirfd, const char *tmp_name, int fd,
			struct errbuf *eb)
{
	return tree_writer_publish_ts(w, e, NULL, dirfd, tmp_name, fd, eb);
}

int tree_writer_publish_ts(struct tree_writer *w, const struct entry *e,
			   const struct timespec *mtime, int dirfd,
			   const char *tmp_name, int fd, struct errbuf *eb)
{
	const char *base = memrchr(e->name, '/', e->name_len);
	struct timespec ts[2];
	int err = 0;

	base = base ? base + 1 : e->name;
	entry_times(e, ts);
	if (mtime) {
		ts[0] = *mtime;
		ts[1] = *mtime;
	}
	/* owner before mode: a chown clears setuid/setgid */
	if (owner_wanted(w, e) && fchown(fd, e->uid, e->gid))
		err = -errno;
	/* the temp was created with the mode: fchmod only when the umask
	 * took bits away, setuid/setgid/sticky bits are wanted, or the
	 * directory's default ACL (which the kernel applies instead of the
	 * umask) masked the mode (one system call less per file in the
	 * common case) */
	if (!err && (((e->mode & 0777) & w->umask) || (e->mode & 07000) ||
		     parent_has_default_acl(w, dirfd)) &&
	    fchmod(fd, e->mode & 07777))
		err = -errno;
	if (!err)
		err = apply_xattrs(w, e, fd, -1, NULL);
	if (!err && futimens(fd, ts))
		err = -errno;
	if (!tmp_name[0]) {
		if (!err)
			err = publish_anon(w, fd, dirfd, base);
		/* a close error after the link: the name may show missing
		 * bytes, so take it back */
		if (close(fd) && !err) {
			err = -errno;
			unlinkat(dirfd, base, 0);
		}
		if (err)
			return tree_writer_name_error(w, err, "write", e->name,
						      e->name_len, eb);
		return 0;
	}
	/* renamed before it is closed: the lock marks the temp name as
	 * live until it is gone (tree_temp.h) */
	if (!err && renameat(dirfd, tmp_name, dirfd, base))
		err = -errno;
	if (err) {
		close(fd);
		unlinkat(dirfd, tmp_name, 0);
		return tree_writer_name_error(w, err, "write", e->name,
					      e->name_len, eb);
	}
	if (close(fd)) {
		/* the name may show missing bytes: take it back */
		err = -errno;
		unlinkat(dirfd, base, 0);
		return tree_writer_name_error(w, err, "write", e->name,
					      e->name_len, eb);
	}
	return 0;
}

int tree_writer_symlink(struct tree_writer *w, const struct entry *e,
			struct errbuf *eb)
{
	char tmp[64];
	struct timespec ts[2];
	size_t base;
	int dirfd, ret, tries;

	ret = tree_writer_parent(w, e->name, e->name_len, true, &dirfd, &base,
				 eb);
	if (ret < 0)
		return ret;
	for (tries = 0; tries < TEMP_TRIES; tries++) {
		tree_temp_name(tmp);
		ret = symlinkat(e->target, dirfd, tmp) ? -errno : 0;
		if (ret != -EEXIST)
			break;
	}
	if (ret < 0)
		return tree_writer_name_error(w, ret, "create symlink", e->name,
					      e->name_len, eb);
	entry_times(e, ts);
	if (owner_wanted(w, e) &&
	    fchownat(dirfd, tmp, e->uid, e->gid, AT_SYMLINK_NOFOLLOW))
		ret = -errno;
	if (!ret)
		ret = apply_xattrs(w, e, -1, dirfd, tmp);
	if (ret < 0 || utimensat(dirfd, tmp, ts, AT_SYMLINK_NOFOLLOW) ||
	    renameat(dirfd, tmp, dirfd, e->name + base)) {
		ret = ret < 0 ? ret : -errno;
		unlinkat(dirfd, tmp, 0);
		return tree_writer_name_error(w, ret, "create symlink", e->name,
					      e->name_len, eb);
	}
	return 0;
}

int tree_writer_mkdir(struct tree_writer *w, const struct entry *e,
		      bool set_meta, struct errbuf *eb)
{
	struct stat st;
	size_t base;
	int dirfd, ret, created = 1;

	ret = tree_writer_parent(w, e->name, e->name_len, true, &dirfd, &base,
				 eb);
	if (ret < 0)
		return ret;
	/* without set_meta the mode comes later (pass 3), once its contents
	 * are written: until then its owner may write into it, or a 0555
	 * directory would stop a restore by anyone but root */
	if (mkdirat(dirfd, e->name + base,
		    (set_meta ? e->mode : e->mode | 0700) & 07777)) {
		if (errno != EEXIST)
			return tree_writer_name_error(w, -errno,
						      "create directory",
						      e->name, e->name_len, eb);
		if (fstatat(dirfd, e->name + base, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISDIR(st.st_mode))
			return tree_writer_name_error(w, -EEXIST,
						      "create directory",
						      e->name, e->name_len, eb);
		created = 0;
	}
	if (set_meta) {
		ret = tree_writer_set_meta(w, e, eb);
		if (ret < 0)
			return ret;
	}
	return created;
}

int tree_writer_shares_inode(struct tree_writer *w, const struct entry *e,
			     struct errbuf *eb)
{
	struct stat st;
	size_t base;
	int dirfd, ret;

	ret = tree_writer_parent(w, e->name, e->name_len, false, &dirfd, &base,
				 eb);
	if (ret < 0)
		return ret;
	if (fstatat(dirfd, e->name + base, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 :
		       tree_writer_name_error(w, -errno, "stat", e->name,
					      e->name_len, eb);
	return S_ISREG(st.st_mode) && st.st_nlink > 1;
}

int tree_writer_set_meta(struct tree_writer *w, const struct entry *e,
			 struct errbuf *eb)
{
	struct timespec ts[2];
	size_t base;
	int dirfd, ret;

	ret = tree_writer_parent(w, e->name, e->name_len, false, &dirfd, &base,
				 eb);
	if (ret < 0)
		return ret;
	entry_times(e, ts);
	/* owner before mode: a chown clears setuid/setgid */
	if (owner_wanted(w, e) &&
	    fchownat(dirfd, e->name + base, e->uid, e->gid,
		     AT_SYMLINK_NOFOLLOW))
		return tree_writer_name_error(w, -errno, "set the owner of",
					      e->name, e->name_len, eb);
	/* fchmodat cannot refuse to follow symlinks portably: symlinks have
	 * no mode of their own, so only files and directories get one */
	if (e->type != ENTRY_SYMLINK &&
	    fchmodat(dirfd, e->name + base, e->mode & 07777,
		     AT_SYMLINK_NOFOLLOW)) {
		/* glibc refuses to chmod a symlink itself: one is where a
		 * file or directory should be; never touch its target */
		ret = errno == EOPNOTSUPP ? -ELOOP : -errno;
		return tree_writer_name_error(w, ret, "set the mode of",
					      e->name, e->name_len, eb);
	}
	ret = apply_xattrs(w, e, -1, dirfd, e->name + base);
	if (ret < 0)
		return tree_writer_name_error(w, ret, "set the xattrs of",
					      e->name, e->name_len, eb);
	if (utimensat(dirfd, e->name + base, ts, AT_SYMLINK_NOFOLLOW))
		return tree_writer_name_error(w, -errno, "set the mtime of",
					      e->name, e->name_len, eb);
	return 0;
}

int tree_writer_set_root_meta(struct tree_writer *w, unsigned mode,
			      const void *xattrs, size_t xattrs_len,
			      const struct timespec *mtime, struct errbuf *eb)
{
	struct timespec ts[2];

	if (fchmod(w->rootfd, mode & 07777))
		return errbuf_set(eb, -errno, "cannot set the mode of '%s': %s",
				  w->root, strerror(errno));
	if (xattrs && w->xattr_ns) {
		struct xattr_apply_result res = { 0 };
		int ret;

		/* after the mode: a chmod rewrites an ACL's mask */
		ret = xattr_apply(w->rootfd, NULL, xattrs, xattrs_len,
				  w->xattr_ns, &res);
		if (res.unsupported)
			count(w->xattr_unsupported, 1);
		count(w->xattr_skipped, res.skipped);
		if (ret < 0)
			return errbuf_set(eb, ret, "cannot set the xattrs of "
					  "'%s': %s", w->root, strerror(-ret));
	}
	/* atime = mtime, as for every entry (entry_times) */
	ts[0] = *mtime;
	ts[1] = *mtime;
	if (futimens(w->rootfd, ts))
		return errbuf_set(eb, -errno, "cannot set the mtime of '%s': %s",
				  w->root, strerror(errno));
	return 0;
}

int tree_writer_set_root_owner(struct tree_writer *w, uint32_t uid,
			       uint32_t gid, struct errbuf *eb)
{
	struct entry e;

	entry_init(&e);
	e.has_owner = true;
	e.uid = uid;
	e.gid = gid;
	if (owner_wanted(w, &e) && fchown(w->rootfd, uid, gid))
		return errbuf_set(eb, -errno, "cannot set the owner of '%s': "
				  "%s", w->root, strerror(errno));
	return 0;
}
