/* heap_local: the heap on a local filesystem. Objects are published with
 * linkat of an O_TMPFILE (or renameat2(RENAME_NOREPLACE) of a named temp
 * file), so a reader never sees a partial object and two writers of the
 * same content cannot clobber each other. In gz format the temp file
 * receives the gzip stream and is published as <md5>.gz. */
#include "heap_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <time.h>
#include <stdint.h>
#include <unistd.h>

#include "flusher.h"
#include "heap_gz.h"
#include "relpath.h"
#include "fdio.h"
#include "banned.h"

struct local {
	int rootfd;
	char *root;
	atomic_ulong tmp_counter;
	int pid;
	/* O_TMPFILE works here (1), not (0) */
	atomic_int anon_ok;
	struct flusher *flusher;   /* NULL when only read */
	enum heap_format fmt;      /* RAW or GZ */
	/* the probe at open saw objects in the other format: publishing
	 * checks for that form first, so a content is never stored twice */
	bool seen_raw, seen_gz;
};

/* The format probe reads at most this many fan-out directories holding
 * objects, and this many names in each. */
#define PROBE_DIRS 4
#define PROBE_NAMES 256

/* Background writeback step, and what an object costs beyond its bytes
 * (inode, directory entry, journal) in that count. */
#define FLUSH_STEP ((uint64_t)128 << 20)
#define OBJECT_OVERHEAD 4096

/* A streamed object starts its writeback every this many bytes, so the
 * disk works while the file is still being hashed and the syncfs before
 * the snapshot finds little left to write. */
#define WRITEBACK_STEP ((uint64_t)8 << 20)

struct local_tx {
	struct local *heap;
	struct heap_gz_enc *enc;   /* gz format: compresses into fd */
	int fd;
	uint64_t written;      /* bytes written so far */
	uint64_t flushed;      /* writeback started up to here */
	char tmp_name[80];     /* relative to the heap root */
};

/* Note which formats the first few fan-out directories hold: cheap (a
 * few directory reads) and enough to tell a Python heap, which is gz
 * throughout, from ours. */
static void probe_formats(struct local *h)
{
	struct dirent *de, *se;
	DIR *top, *sub;
	int dirs = 0, fd, names;

	fd = openat(h->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	top = fdopendir(fd);
	if (!top) {
		close(fd);
		return;
	}
	while (dirs < PROBE_DIRS && (de = readdir(top)) != NULL) {
		bool any = false;

		/* a fan-out folder's name (never "..": the probe stays in
		 * the heap); heap_parse_object_key checks each name in it */
		if (strlen(de->d_name) != 2 || !heap_lower_hex(de->d_name, 2))
			continue;
		fd = openat(h->rootfd, de->d_name,
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		sub = fdopendir(fd);
		if (!sub) {
			close(fd);
			continue;
		}
		names = 0;
		while (names < PROBE_NAMES && (se = readdir(sub)) != NULL) {
			struct objid id;
			char key[3 + NAME_MAX + 1];
			int kind, n;

			n = snprintf(key, sizeof(key), "%s/%s", de->d_name,
				     se->d_name);
			kind = n > 0 && (size_t)n < sizeof(key) ?
			       heap_parse_object_key(key, (size_t)n, &id) : 0;
			names++;
			if (kind == 1)
				h->seen_raw = true;
			else if (kind == 2)
				h->seen_gz = true;
			any = any || kind;
		}
		closedir(sub);
		dirs += any;
	}
	closedir(top);
}

int heap_local_open(const char *root, bool create, enum heap_format fmt,
		    void **out, struct errbuf *eb)
{
	struct local *h;
	int ret;

	*out = NULL;
	if (create && (ret = relpath_mkdir_p(root, eb)) < 0)
		return ret;
	h = calloc(1, sizeof(*h));
	if (!h)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	h->root = strdup(root);
	h->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (h->rootfd < 0) {
		ret = errbuf_set(eb, -errno, "cannot open heap '%s': %s", root,
				 strerror(errno));
		free(h->root);
		free(h);
		return ret;
	}
	h->pid = (int)getpid();
	atomic_store(&h->anon_ok, 1);
	probe_formats(h);
	if (fmt == HEAP_FORMAT_AUTO)
		fmt = h->seen_gz ? HEAP_FORMAT_GZ : HEAP_FORMAT_RAW;
	h->fmt = fmt;
	/* a heap opened to be filled: start its writeback early (without
	 * one, the final syncfs still makes everything durable) */
	if (create)
		(void)flusher_start(root, FLUSH_STEP, &h->flusher);
	*out = h;
	return 0;
}

static void local_free(void *self)
{
	struct local *h = self;

	if (!h)
		return;
	flusher_stop(h->flusher);
	close(h->rootfd);
	free(h->root);
	free(h);
}

static const char *local_root(const void *self)
{
	const struct local *h = self;

	return h->root;
}

static enum heap_format local_format(const void *self)
{
	const struct local *h = self;

	return h->fmt;
}

/* 1 path (relative to the root) is an object, 0 missing, -errno. */
static int stat_object(struct local *h, const char *path, struct errbuf *eb)
{
	struct stat st;

	if (fstatat(h->rootfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return S_ISREG(st.st_mode) ? 1 : errbuf_set(eb, -EEXIST,
			"heap object '%s/%s' is not a regular file", h->root,
			path);
	if (errno == ENOENT)
		return 0;
	return errbuf_set(eb, -errno, "cannot stat heap object '%s/%s': %s",
			  h->root, path, strerror(errno));
}

static int local_has(void *self, const struct objid *id, struct errbuf *eb)
{
	struct local *h = self;
	char raw[36], gz[39];
	bool gz_first = h->fmt == HEAP_FORMAT_GZ;
	int ret;

	heap_object_path(id, raw);
	heap_object_path_gz(id, gz);
	ret = stat_object(h, gz_first ? gz : raw, eb);
	if (ret)
		return ret;
	return stat_object(h, gz_first ? raw : gz, eb);
}

/* Create the temp file of a new object. With the id known (put_buf) it
 * goes into the object's fan-out directory, so publishing is a rename
 * within one directory: no filesystem-wide rename lock, no contention on
 * the heap root between workers. Names carry 64 random bits (a crashed
 * run with the same pid, or a second handle, must not collide) and a
 * clash is retried. */
static int tx_create(struct local *h, const struct objid *id,
		     struct local_tx **out, struct errbuf *eb)
{
	struct local_tx *tx = calloc(1, sizeof(*tx));
	char dir[3] = { 0 };
	int ret, tries;

	*out = NULL;
	if (!tx)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	tx->heap = h;
	if (id) {
		char hex[OBJID_HEX_LEN + 1];

		objid_to_hex(id, hex);
		dir[0] = hex[0];
		dir[1] = hex[1];
	}
	/* An anonymous file (O_TMPFILE) linked into place at commit costs
	 * one directory entry instead of two (create + rename) and leaves
	 * nothing behind after a crash; linkat refuses an existing name, so
	 * publishing never replaces an object. */
	for (tries = 0; tries < 2 && atomic_load(&h->anon_ok); tries++) {
		tx->fd = openat(h->rootfd, dir[0] ? dir : ".",
				O_TMPFILE | O_WRONLY | O_CLOEXEC, 0444);
		if (tx->fd >= 0) {
			tx->tmp_name[0] = '\0';
			*out = tx;
			return 0;
		}
		if (errno == ENOENT && dir[0]) {
			if (mkdirat(h->rootfd, dir, 0755) && errno != EEXIST)
				break;
			continue;
		}
		if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)
			atomic_store(&h->anon_ok, 0);
		break;
	}
	for (tries = 0; tries < 16; tries++) {
		uint64_t rnd = 0;

		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
			rnd = (uint64_t)time(NULL) ^ ((uint64_t)tries << 32);
		snprintf(tx->tmp_name, sizeof(tx->tmp_name),
			 "%s%s.tmp-%d-%lu-%016llx", dir, dir[0] ? "/" : "",
			 h->pid, atomic_fetch_add(&h->tmp_counter, 1),
			 (unsigned long long)rnd);
		tx->fd = openat(h->rootfd, tx->tmp_name,
				O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
		if (tx->fd >= 0)
			break;
		if (errno == ENOENT && dir[0]) {
			/* first object of this fan-out directory */
			if (mkdirat(h->rootfd, dir, 0755) && errno != EEXIST)
				break;
			continue;
		}
		if (errno != EEXIST)
			break;
	}
	if (tx->fd < 0) {
		ret = errbuf_set(eb, -errno, "cannot create '%s/%s': %s",
				 h->root, tx->tmp_name, strerror(errno));
		free(tx);
		return ret;
	}
	*out = tx;
	return 0;
}

/* Append stored bytes to the temp file (the gzip stream's sink). */
static int tx_write_stored(void *txp, const void *buf, size_t len,
			   struct errbuf *eb)
{
	struct local_tx *tx = txp;
	int ret = fdio_write_full(tx->fd, buf, len);

	if (ret < 0)
		return errbuf_set(eb, ret, "cannot write '%s/%s': %s",
				  tx->heap->root, tx->tmp_name, strerror(-ret));
	tx->written += (uint64_t)len;
	if (tx->written - tx->flushed >= WRITEBACK_STEP) {
		/* asynchronous: queues the range for writeback and returns;
		 * durability still comes from the syncfs in local_sync */
		(void)sync_file_range(tx->fd, (off_t)tx->flushed,
				      (off_t)(tx->written - tx->flushed),
				      SYNC_FILE_RANGE_WRITE);
		tx->flushed = tx->written;
	}
	return 0;
}

static void local_tx_abort(void *txp)
{
	struct local_tx *tx = txp;

	if (!tx)
		return;
	heap_gz_enc_free(tx->enc);
	close(tx->fd);
	if (tx->tmp_name[0])
		unlinkat(tx->heap->rootfd, tx->tmp_name, 0);
	free(tx);
}

/* The tx of a new object: a temp file, and in gz format an encoder. */
static int tx_open(struct local *h, const struct objid *id,
		   struct local_tx **out, struct errbuf *eb)
{
	int ret = tx_create(h, id, out, eb);

	if (ret < 0 || h->fmt != HEAP_FORMAT_GZ)
		return ret;
	ret = heap_gz_enc_new(tx_write_stored, *out, &(*out)->enc, eb);
	if (ret < 0) {
		local_tx_abort(*out);
		*out = NULL;
	}
	return ret;
}

static int local_tx_begin(void *self, void **out, struct errbuf *eb)
{
	return tx_open(self, NULL, (struct local_tx **)out, eb);
}

static int local_tx_write(void *txp, const void *buf, size_t len,
			  struct errbuf *eb)
{
	struct local_tx *tx = txp;

	if (tx->enc)
		return heap_gz_enc_write(tx->enc, buf, len, eb);
	return tx_write_stored(tx, buf, len, eb);
}

/* Link an anonymous temp file to path: 1 linked, 0 the name exists,
 * -errno. */
static int link_anon(struct local *h, int fd, char *path)
{
	int r = relpath_link_tmpfile(fd, h->rootfd, path);

	if (r == -ENOENT) {
		/* the fan-out directory may be missing (streamed puts) */
		path[2] = '\0';
		if (mkdirat(h->rootfd, path, 0755) && errno != EEXIST)
			return -errno;
		path[2] = '/';
		r = relpath_link_tmpfile(fd, h->rootfd, path);
	}
	return !r ? 1 : r == -EEXIST ? 0 : r;
}

static int local_tx_commit(void *txp, const struct objid *id,
			   struct errbuf *eb)
{
	struct local_tx *tx = txp;
	struct local *h = tx->heap;
	char path[39], other[39];
	int ret, tries;

	if (tx->enc) {
		ret = heap_gz_enc_finish(tx->enc, eb);
		if (ret < 0) {
			local_tx_abort(tx);
			return ret;
		}
		heap_gz_enc_free(tx->enc);
		tx->enc = NULL;
		heap_object_path_gz(id, path);
		heap_object_path(id, other);
	} else {
		heap_object_path(id, path);
		heap_object_path_gz(id, other);
	}
	/* the content may be there in the other format (a mixed heap, or
	 * a format forced by --heap-format): then it is present. Looked up
	 * only where the probe saw that format, to spare a lookup per new
	 * object in a heap of one format. */
	if (h->fmt == HEAP_FORMAT_GZ ? h->seen_raw : h->seen_gz) {
		ret = stat_object(h, other, eb);
		if (ret) {
			local_tx_abort(tx);
			return ret < 0 ? ret : 0;
		}
	}
	if (!tx->tmp_name[0]) {
		ret = link_anon(h, tx->fd, path);
		if (close(tx->fd) && ret == 1) {
			/* the bytes may not all be there: take it back */
			ret = -errno;
			unlinkat(h->rootfd, path, 0);
		}
		if (ret < 0)
			ret = errbuf_set(eb, ret, "cannot store heap object "
					 "'%s/%s': %s", h->root, path,
					 strerror(-ret));
		if (ret == 1)
			flusher_add(h->flusher, tx->written - tx->flushed +
				    OBJECT_OVERHEAD);
		free(tx);
		return ret;
	}
	if (close(tx->fd)) {
		tx->fd = -1;
		ret = errbuf_set(eb, -errno, "cannot write '%s/%s': %s",
				 h->root, tx->tmp_name, strerror(errno));
		unlinkat(h->rootfd, tx->tmp_name, 0);
		free(tx);
		return ret;
	}
	for (tries = 0; tries < 2; tries++) {
		if (renameat2(h->rootfd, tx->tmp_name, h->rootfd, path,
			      RENAME_NOREPLACE) == 0) {
			ret = 1;
			flusher_add(h->flusher, tx->written - tx->flushed +
				    OBJECT_OVERHEAD);
			goto out;
		}
		if (errno == EEXIST) {
			ret = 0;
			break;
		}
		if (errno != ENOENT || tries)
			break;
		/* first object of this fan-out directory */
		path[2] = '\0';
		if (mkdirat(h->rootfd, path, 0755) && errno != EEXIST)
			break;
		path[2] = '/';
	}
	if (errno != EEXIST)
		ret = errbuf_set(eb, -errno, "cannot store heap object '%s/%s': %s",
				 h->root, path, strerror(errno));
	unlinkat(h->rootfd, tx->tmp_name, 0);
out:
	free(tx);
	return ret;
}

static int local_put_buf(void *self, const struct objid *id,
			 const void *buf, size_t len, struct errbuf *eb)
{
	struct local_tx *tx;
	int ret;

	/* no existence check first: a new object (the common case here)
	 * saves a lookup, and renameat2(RENAME_NOREPLACE) tells when the
	 * content was there already */
	ret = tx_open(self, id, &tx, eb);
	if (ret < 0)
		return ret;
	ret = local_tx_write(tx, buf, len, eb);
	if (ret < 0) {
		local_tx_abort(tx);
		return ret;
	}
	return local_tx_commit(tx, id, eb);
}

static int local_open_object(void *self, const struct objid *id,
			     uint64_t max, int *fd_out, struct errbuf *eb)
{
	struct local *h = self;
	char path[36], gz[39], shown[4200];
	int fd, ret;

	/* the raw form first: no decompression when both exist */
	heap_object_path(id, path);
	fd = openat(h->rootfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		*fd_out = fd;
		return 0;
	}
	if (errno != ENOENT)
		return errbuf_set(eb, -errno, "cannot open heap object '%s/%s': %s",
				  h->root, path, strerror(errno));
	heap_object_path_gz(id, gz);
	fd = openat(h->rootfd, gz, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return errbuf_set(eb, -ENOENT, "cannot open heap object "
					  "'%s/%s': %s", h->root, path,
					  strerror(ENOENT));
		return errbuf_set(eb, -errno, "cannot open heap object '%s/%s': %s",
				  h->root, gz, strerror(errno));
	}
	snprintf(shown, sizeof(shown), "%s/%s", h->root, gz);
	ret = heap_gz_open_decoded(fd, h->rootfd, shown, max, fd_out, eb);
	close(fd);
	return ret;
}

/* A damaged object gets new bytes under its own name: a named temp in
 * its fan-out directory (a rename within one directory), fsynced, then
 * renamed over it, so a reader finds the old object or the new one,
 * never none; then the directory is fsynced. The form replaced is the
 * one local_open_object reads first. */
static int local_replace_object(void *self, const struct objid *id,
				const struct heap_copy_src *src,
				struct errbuf *eb)
{
	struct local *h = self;
	char raw[36], gz[39], tmp[80], shown[4200];
	const char *path;
	bool is_gz;
	int dfd, fd, ret;

	heap_object_path(id, raw);
	heap_object_path_gz(id, gz);
	ret = stat_object(h, raw, eb);
	if (ret == 0)
		ret = stat_object(h, gz, eb) == 1 ? 2 : 0;
	if (ret < 0)
		return ret;
	/* neither form: a missing object is written in the heap's format */
	is_gz = ret == 2 || (ret == 0 && h->fmt == HEAP_FORMAT_GZ);
	path = is_gz ? gz : raw;
	raw[2] = '\0';
	if (mkdirat(h->rootfd, raw, 0755) && errno != EEXIST)
		return errbuf_set(eb, -errno, "cannot create '%s/%s': %s",
				  h->root, raw, strerror(errno));
	dfd = openat(h->rootfd, raw, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errbuf_set(eb, -errno, "cannot open '%s/%s': %s",
				  h->root, raw, strerror(errno));
	snprintf(tmp, sizeof(tmp), ".tmp-%d-%lu-replace", h->pid,
		 atomic_fetch_add(&h->tmp_counter, 1));
	snprintf(shown, sizeof(shown), "%s/%.2s/%s", h->root, path, tmp);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0) {
		ret = errbuf_set(eb, -errno, "cannot create '%s': %s", shown,
				 strerror(errno));
		close(dfd);
		return ret;
	}
	ret = heap_copy_checked(src, fd, shown, is_gz, id, eb);
	if (!ret && fsync(fd))
		ret = errbuf_set(eb, -errno, "cannot sync '%s': %s", shown,
				 strerror(errno));
	if (close(fd) && !ret)
		ret = errbuf_set(eb, -errno, "cannot write '%s': %s", shown,
				 strerror(errno));
	if (!ret && renameat(dfd, tmp, dfd, path + 3))
		ret = errbuf_set(eb, -errno, "cannot replace heap object "
				 "'%s/%s': %s", h->root, path,
				 strerror(errno));
	if (ret < 0)
		unlinkat(dfd, tmp, 0);
	else if (fsync(dfd))
		ret = errbuf_set(eb, -errno, "cannot sync '%s/%.2s': %s",
				 h->root, path, strerror(errno));
	close(dfd);
	return ret;
}

static int local_sync(void *self, struct errbuf *eb)
{
	struct local *h = self;
	if (syncfs(h->rootfd))
		return errbuf_set(eb, -errno, "cannot sync heap '%s': %s",
				  h->root, strerror(errno));
	return 0;
}

const struct heap_ops heap_local_ops = {
	.name = "local",
	.has = local_has,
	.put_buf = local_put_buf,
	.tx_begin = local_tx_begin,
	.tx_write = local_tx_write,
	.tx_commit = local_tx_commit,
	.tx_abort = local_tx_abort,
	.open_object = local_open_object,
	.replace_object = local_replace_object,
	.sync = local_sync,
	.root = local_root,
	.format = local_format,
	.free = local_free,
};
