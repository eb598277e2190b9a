/* sync: one-shot mirror of SRC into DST (local filesystems).
 *
 *   scan SRC (thread) ─┐
 *                      ├─ diff (this thread) ── copy jobs ──> workers ×jobs
 *   scan DST (thread) ─┘        │                copy_file_range to a temp
 *                               └─ deletions ──> spill file   + rename
 *
 * Both trees are scanned at once and merged as sorted streams. Deletions
 * are only recorded during the merge and carried out after every copy
 * succeeded (and after --max-delete is checked). A copy blocked by an
 * entry of another type in DST (a file where a directory must go, a
 * symlink in the way) is retried once the deletions made room. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bqueue.h"
#include "shardq.h"
#include "diff.h"
#include "engine.h"
#include "filter.h"
#include "objstore.h"
#include "progress.h"
#include "relpath.h"
#include "remote_tree.h"
#include "hasher.h"
#include "scan.h"
#include "tree_writer.h"
#include "clock.h"
#include "xattr.h"
#include "sparse.h"
#include "fdio.h"
#include "banned.h"

#define QUEUE_CAP 4096
#define BATCH 32
#define COPY_CHUNK (8u << 20)   /* copy_file_range request */
#define BUF_SIZE (1u << 20)     /* per worker, for read/write copies */
#define CHANGE_RETRIES 3

enum job_kind {
	JOB_COPY = 1,       /* write src entry into DST */
	JOB_COMPARE,        /* same size: copy only if contents differ */
	JOB_META,           /* fix mode/mtime only */
	JOB_MTIME,          /* same size, object-store source listed without
			     * its mtime: copy only if its mtime (HEAD)
			     * differs from other_mtime_ns */
};

struct job {
	struct entry e;
	uint8_t kind;
	uint8_t meta_differs;   /* directories: count as updated */
	/* JOB_COMPARE against an object store: the MD5 the store gave for
	 * the other side */
	bool has_other_md5;
	struct objid other_md5;
	int64_t other_mtime_ns;  /* JOB_MTIME: the destination's mtime */
};

struct scan_feed {
	struct remote_scan *remote;   /* object-store side, or NULL */
	struct scanner *scanner;
	struct bqueue *q;          /* struct entry * */
	struct errbuf err;
	int ret;
	pthread_t thread;
	bool started;
};

struct sync_run {
	const struct engine_opts *o;
	const struct sync_opts *so;
	struct logger *log;
	struct run_stats *stats;
	struct filter *filter;
	struct scan_feed src, dst;
	int srcfd, dstfd;          /* local roots, -1 for an object store */
	struct remote_tree *rsrc;  /* object-store sides, or NULL */
	struct remote_tree *rdst;
	struct shardq *jobs;          /* struct job *, by directory */
	unsigned next_worker;
	FILE *deletions;           /* spill: deleted entries' names */
	uint64_t ndelete;
	struct job **deferred;     /* copies blocked by a conflict */
	size_t ndeferred, cap_deferred;
	pthread_mutex_t lock;      /* err, deferred, bwlimit */
	struct errbuf err;
	double bw_start;
	uint64_t bw_bytes;
	unsigned xattr_ns;         /* enum xattr_ns copied, 0: none */
	bool owners_apply;         /* root: DST entries get SRC's owners */
	/* later members of SRC's hard-link groups, linked to their group's
	 * first member once every copy is done (diff thread only) */
	struct entry **links;
	size_t nlinks, cap_links;
};

static void run_fail(struct sync_run *r, const struct errbuf *eb, int code)
{
	pthread_mutex_lock(&r->lock);
	if (!r->err.code) {
		r->err.code = code;
		memcpy(r->err.msg, eb->msg, sizeof(r->err.msg));
	}
	pthread_mutex_unlock(&r->lock);
	if (r->jobs)
		shardq_abort(r->jobs);
	if (r->src.q)
		bqueue_abort(r->src.q);
	if (r->dst.q)
		bqueue_abort(r->dst.q);
}

static bool allow_entry(void *ctx, const char *relpath, size_t len,
			bool is_dir)
{
	return filter_allows(ctx, relpath, len, is_dir);
}

static void *feed_main(void *arg)
{
	struct scan_feed *f = arg;
	struct entry *e;
	int ret;

	for (;;) {
		e = entry_new();
		if (!e) {
			ret = errbuf_set(&f->err, -ENOMEM, "out of memory");
			break;
		}
		ret = scanner_next(f->scanner, e, &f->err);
		if (ret <= 0) {
			free(e);
			break;
		}
		if (bqueue_push(f->q, e) < 0) {
			entry_free(e);
			ret = -ECANCELED;
			break;
		}
	}
	f->ret = ret;
	if (ret < 0)
		bqueue_abort(f->q);
	else
		bqueue_close(f->q);
	return NULL;
}

static int feed_next(void *ctx, struct entry *out, struct errbuf *eb)
{
	struct scan_feed *f = ctx;
	void *item;
	int ret;

	if (f->remote)
		return remote_scan_next(f->remote, out, eb);
	ret = bqueue_pop(f->q, &item);

	if (ret == 1) {
		*out = *(struct entry *)item;
		free(item);
		return 1;
	}
	if (ret == 0)
		return 0;
	if (f->err.code) {
		*eb = f->err;
		return f->err.code;
	}
	return errbuf_set(eb, -ECANCELED, "stopped");
}

static int feed_start(struct sync_run *r, struct scan_feed *f,
		      const char *root, bool missing_ok, struct errbuf *eb)
{
	struct remote_tree *rt = f == &r->src ? r->rsrc : r->rdst;
	struct scan_opts so;
	int ret;

	if (rt)
		return remote_scan_start(rt, r->log,
					 filter_count(r->filter) ? allow_entry :
					 NULL, r->filter,
					 f == &r->src ? &r->stats->files_scanned :
					 NULL, &f->remote, eb);

	memset(&so, 0, sizeof(so));
	so.root = root;
	so.io = r->o->io == IO_MODE_SYNC ? IO_BACKEND_SYNC :
		r->o->io == IO_MODE_URING ? IO_BACKEND_URING : IO_BACKEND_AUTO;
	so.log = r->log;
	so.allow = filter_count(r->filter) ? allow_entry : NULL;
	so.allow_ctx = r->filter;
	so.files_scanned = f == &r->src ? &r->stats->files_scanned : NULL;
	so.files_skipped = f == &r->src ? &r->stats->files_skipped : NULL;
	so.interrupted = r->o->interrupted;
	so.missing_root_ok = missing_ok;
	/* DST is ours to write: what a crashed restore or sync left there
	 * goes now (tree_temp.h), even with --no-delete */
	so.reap_tree_temps = f == &r->dst && !r->so->dry_run;
	/* SRC's link groups, as rsync -H finds them (DST's are checked by
	 * inode when linking) */
	so.hard_links = f == &r->src && !r->so->no_hard_links &&
			!r->rsrc && !r->rdst;
	/* both sides are walked at once: share the prefetch threads */
	so.prefetch_threads = r->o->scan_jobs > 1 ? r->o->scan_jobs / 2 : 1;
	/* both sides read the names that are copied: what cannot be set
	 * here would otherwise differ on every run */
	so.xattrs = r->xattr_ns;
	ret = scanner_new(&so, &f->scanner, eb);
	if (ret < 0)
		return ret;
	ret = bqueue_new(QUEUE_CAP, &f->q);
	if (ret < 0)
		return errbuf_set(eb, ret, "out of memory");
	if (pthread_create(&f->thread, NULL, feed_main, f))
		return errbuf_set(eb, -EAGAIN, "cannot start threads");
	f->started = true;
	return 0;
}

static void feed_stop(struct scan_feed *f)
{
	void *item;

	remote_scan_free(f->remote);
	if (f->q)
		bqueue_abort(f->q);
	if (f->started)
		pthread_join(f->thread, NULL);
	while (f->q && bqueue_drain(f->q, &item) == 1)
		entry_free(item);
	bqueue_free(f->q);
	scanner_free(f->scanner);
	memset(f, 0, sizeof(*f));
}

/* Bandwidth limit shared by all workers: sleep until the average rate
 * since the start is back under the limit. */
static void bw_account(struct sync_run *r, uint64_t bytes)
{
	double ahead;

	if (!r->so->bwlimit)
		return;
	pthread_mutex_lock(&r->lock);
	r->bw_bytes += bytes;
	ahead = (double)r->bw_bytes / (double)r->so->bwlimit -
		(clock_mono_s() - r->bw_start);
	pthread_mutex_unlock(&r->lock);
	if (ahead > 0) {
		struct timespec ts;

		ts.tv_sec = (time_t)ahead;
		ts.tv_nsec = (long)((ahead - (double)ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
}

static int open_src(struct sync_run *r, const struct entry *e, int *fd,
		    struct stat *st, struct errbuf *eb)
{
	char shown[512];

	/* O_NONBLOCK: a fifo put where a file was scanned must not hang
	 * the open; it is refused below */
	*fd = relpath_open(r->srcfd, e->name, e->name_len,
			   O_RDONLY | O_NONBLOCK);
	if (*fd >= 0 && fstat(*fd, st) == 0 && !S_ISREG(st->st_mode)) {
		close(*fd);
		*fd = -EINVAL;
	}
	if (*fd < 0 || fstat(*fd, st)) {
		int err = *fd < 0 ? *fd : -errno;

		if (*fd >= 0)
			close(*fd);
		errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
		return errbuf_set(eb, err, "cannot read '%s/%s': %s",
				  r->so->src, shown, strerror(-err));
	}
	return 0;
}

/* Copy bytes with copy_file_range (in-kernel; a reflink where the
 * filesystem can), falling back to read/write across filesystems. */
static int copy_bytes(struct sync_run *r, int in, int out, uint64_t size,
		      char *buf, uint64_t *copied)
{
	uint64_t done = 0;
	bool use_cfr = true;

	while (done < size || !use_cfr) {
		size_t want = size - done > COPY_CHUNK ? COPY_CHUNK :
			      (size_t)(size - done);
		ssize_t n;

		if (use_cfr) {
			if (!want)
				break;
			n = copy_file_range(in, NULL, out, NULL, want, 0);
			if (n < 0 && (errno == EXDEV || errno == EINVAL ||
				      errno == ENOSYS || errno == EOPNOTSUPP)) {
				use_cfr = false;
				continue;
			}
		} else {
			n = read(in, buf, BUF_SIZE);
			if (n > 0) {
				int w = fdio_write_full(out, buf, (size_t)n);

				if (w < 0)
					return w;
			}
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;  /* EOF: the file shrank, caught by the caller */
		done += (uint64_t)n;
		bw_account(r, (uint64_t)n);
	}
	*copied = done;
	return 0;
}

/* Is this error a conflict with an entry of another type in DST, to
 * retry once the deletions made room? */
/* A sparse source (entry.sparse): only its data extents are copied
 * (SEEK_DATA/SEEK_HOLE), the holes stay holes in DST and the size is set
 * by ftruncate. *copied is the logical size covered. */
static int copy_sparse(struct sync_run *r, int in, int out, uint64_t size,
		       char *buf, uint64_t *copied)
{
	uint64_t pos = 0;
	int ret = 0;

	*copied = 0;
	while (pos < size) {
		off_t data = lseek(in, (off_t)pos, SEEK_DATA), hole;

		if (data < 0 && errno != ENXIO)
			return -errno;
		if (data < 0 || (uint64_t)data >= size)
			break;
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		if ((uint64_t)hole > size)
			hole = (off_t)size;
		pos = (uint64_t)data;
		while (pos < (uint64_t)hole) {
			uint64_t want = (uint64_t)hole - pos;
			ssize_t n = fdio_pread(in, buf, want > BUF_SIZE ?
					       BUF_SIZE : (size_t)want, pos);

			if (n < 0)
				return (int)n;
			if (n == 0) {
				/* shrank: caught by the caller's fstat */
				*copied = pos;
				return 0;
			}
			/* zero blocks inside an extent (preallocated or
			 * written zeros) become holes too */
			ret = sparse_pwrite(out, buf, (size_t)n, pos);
			if (ret < 0)
				return ret;
			pos += (uint64_t)n;
			bw_account(r, (uint64_t)n);
		}
	}
	if (ftruncate(out, (off_t)size))
		return -errno;
	*copied = size;
	return 0;
}

static bool is_conflict(int err)
{
	return err == -ENOTDIR || err == -EISDIR || err == -ENOTEMPTY ||
	       err == -ELOOP || err == -EEXIST;
}

static int copy_file(struct sync_run *r, struct tree_writer *tw,
		     const struct entry *e, char *buf, struct errbuf *eb)
{
	char shown[512], tmp[64];
	int attempt, ret = 0;

	for (attempt = 0; attempt < CHANGE_RETRIES; attempt++) {
		struct stat before, after;
		struct entry meta;
		uint64_t copied = 0;
		int in, out, dirfd;

		ret = open_src(r, e, &in, &before, eb);
		if (ret < 0)
			return ret;
		ret = tree_writer_create_temp(tw, e, &dirfd, tmp, &out, eb);
		if (ret < 0) {
			close(in);
			return ret;
		}
		ret = e->sparse ?
		      copy_sparse(r, in, out, (uint64_t)before.st_size, buf,
				  &copied) :
		      copy_bytes(r, in, out, (uint64_t)before.st_size, buf,
				 &copied);
		if (!ret && fstat(in, &after))
			ret = -errno;
		close(in);
		if (ret < 0) {
			tree_writer_discard_temp(dirfd, tmp, out);
			errbuf_quote_name(shown, sizeof(shown), e->name,
					  e->name_len);
			return errbuf_set(eb, ret, "cannot copy '%s/%s': %s",
					  r->so->src, shown, strerror(-ret));
		}
		if (before.st_size != after.st_size ||
		    before.st_mtim.tv_sec != after.st_mtim.tv_sec ||
		    before.st_mtim.tv_nsec != after.st_mtim.tv_nsec ||
		    copied != (uint64_t)after.st_size) {
			/* changed while copied: never publish a torn file */
			tree_writer_discard_temp(dirfd, tmp, out);
			continue;
		}
		meta = *e;
		meta.mode = after.st_mode & 07777;
		meta.mtime_ns = clock_ts_ns(&after.st_mtim);
		meta.has_owner = true;
		meta.uid = after.st_uid;
		meta.gid = after.st_gid;
		ret = tree_writer_publish_ts(tw, &meta, &after.st_mtim, dirfd,
					     tmp, out, eb);
		if (ret < 0)
			return ret;
		stat_add(&r->stats->bytes_read, copied);
		stat_add(&r->stats->bytes_written, copied);
		return 0;
	}
	errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
	return errbuf_set(eb, -EAGAIN, "cannot copy '%s/%s': it kept changing "
			  "while being copied", r->so->src, shown);
}

/* --checksum with equal sizes: compare the bytes of both sides. */
static int contents_differ(struct sync_run *r, const struct entry *e,
			   char *buf, struct errbuf *eb)
{
	char *other = buf + BUF_SIZE / 2;
	size_t half = BUF_SIZE / 2;
	char shown[512];
	int a, b, ret = 0;

	a = relpath_open(r->srcfd, e->name, e->name_len, O_RDONLY | O_NONBLOCK);
	b = a < 0 ? -1 : relpath_open(r->dstfd, e->name, e->name_len,
				      O_RDONLY | O_NONBLOCK);
	if (a < 0 || b < 0) {
		ret = a < 0 ? a : b;
		goto out;
	}
	for (;;) {
		ssize_t n = read(a, buf, half), m = 0, k;

		if (n < 0) {
			ret = -errno;
			goto out;
		}
		while (m < n) {
			k = read(b, other + m, (size_t)(n - m));
			if (k <= 0)
				break;
			m += k;
		}
		stat_add(&r->stats->bytes_read, (uint64_t)(n + m));
		if (m != n || memcmp(buf, other, (size_t)n)) {
			ret = 1;
			goto out;
		}
		if (n == 0) {
			ret = read(b, other, 1) > 0 ? 1 : 0;
			goto out;
		}
	}
out:
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	if (ret < 0) {
		/* an unreadable DST file is simply replaced */
		if (b < 0 && a >= 0)
			return 1;
		errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
		return errbuf_set(eb, ret, "cannot compare '%s': %s", shown,
				  strerror(-ret));
	}
	return ret;
}

static bool is_racy(int64_t mtime_ns)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t)now.tv_sec - mtime_ns / 1000000000LL < 2;
}

/* Copy with an object store on either side: the source as a local fd
 * (the local file, or the object downloaded into a temp file), then the
 * destination written from it (temp + rename locally, one PUT or a
 * multipart upload remotely, with Content-MD5 so the store checks the
 * bytes). A local source that changes meanwhile is copied again. */
static int copy_remote(struct sync_run *r, struct tree_writer *tw,
		       const struct entry *e, char *buf, struct errbuf *eb)
{
	char shown[512], tmp[64];
	int attempt, ret = 0;

	for (attempt = 0; attempt < CHANGE_RETRIES; attempt++) {
		struct stat before, after;
		struct entry meta = *e;
		bool meta_mtime = false;
		uint64_t size, copied = 0;
		int in, out, dirfd;

		if (r->rsrc) {
			/* the object's "mtime" metadata (rclone's and
			 * ours) is the file's mtime; else Last-Modified */
			ret = remote_tree_read(r->rsrc, e, &in, &meta.mtime_ns,
					       eb);
			if (ret < 0)
				return ret;
			meta_mtime = ret == 1;
			meta.upload_mtime = !meta_mtime;
			if (fstat(in, &before)) {
				ret = -errno;
				close(in);
				return errbuf_set(eb, ret, "fstat: %s",
						  strerror(-ret));
			}
		} else {
			ret = open_src(r, e, &in, &before, eb);
			if (ret < 0)
				return ret;
			meta.mtime_ns = clock_ts_ns(&before.st_mtim);
			meta.mode = before.st_mode & 07777;
		}
		size = (uint64_t)before.st_size;
		if (r->rsrc && !r->rdst && !meta_mtime &&
		    is_racy(meta.mtime_ns))
			/* the object may be replaced within the same second
			 * of Last-Modified: keep the copy visibly older so
			 * the next run fetches it again (git's racy rule) */
			meta.mtime_ns -= 1000000000LL;
		if (r->rdst) {
			ret = remote_tree_write(r->rdst, &meta, in, size,
						r->rsrc && e->has_md5 ? &e->md5 :
						NULL, eb);
			copied = size;
		} else {
			ret = tree_writer_create_temp(tw, e, &dirfd, tmp, &out,
						      eb);
			if (!ret) {
				ret = copy_bytes(r, in, out, size, buf, &copied);
				if (ret < 0) {
					tree_writer_discard_temp(dirfd, tmp,
								 out);
					errbuf_quote_name(shown, sizeof(shown),
							  e->name, e->name_len);
					ret = errbuf_set(eb, ret, "cannot copy "
							 "'%s': %s", shown,
							 strerror(-ret));
				} else {
					ret = tree_writer_publish(tw, &meta,
								  dirfd, tmp,
								  out, eb);
				}
			}
		}
		if (!ret && !r->rsrc && fstat(in, &after) == 0 &&
		    (after.st_size != before.st_size ||
		     after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
		     after.st_mtim.tv_nsec != before.st_mtim.tv_nsec)) {
			close(in);
			continue;  /* changed while copied: again */
		}
		close(in);
		if (ret < 0)
			return ret;
		stat_add(&r->stats->bytes_read, copied);
		stat_add(&r->stats->bytes_written, copied);
		return 0;
	}
	errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
	return errbuf_set(eb, -EAGAIN, "cannot copy '%s': it kept changing "
			  "while being copied", shown);
}

/* --checksum against an object store: MD5 of the local side's file
 * compared with the MD5 the store gave for the other side. 1 differs. */
static int md5_differs(struct sync_run *r, const struct job *j, char *buf,
		       struct errbuf *eb)
{
	struct hasher *h = NULL;
	struct objid got;
	int fd, ret;

	fd = relpath_open(r->rsrc ? r->dstfd : r->srcfd, j->e.name,
			  j->e.name_len, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return 1;  /* unreadable or missing local side: copy */
	ret = hasher_new(&h, eb);
	if (!ret)
		ret = hasher_begin(h, eb);
	while (!ret) {
		ssize_t n = fdio_read(fd, buf, BUF_SIZE);

		if (n < 0) {
			ret = errbuf_set(eb, (int)n, "read: %s",
					 strerror((int)-n));
			break;
		}
		if (n == 0)
			break;
		stat_add(&r->stats->bytes_read, (uint64_t)n);
		ret = hasher_update(h, buf, (size_t)n, eb);
	}
	if (!ret)
		ret = hasher_final(h, &got, eb);
	hasher_free(h);
	close(fd);
	if (ret < 0)
		return ret;
	return !objid_eq(&got, &j->other_md5);
}

/* Does the mtime of source object s (HEAD) differ from other_ns? 1 yes
 * (also when gone: the copy then says why), 0 no, -errno. */
static int src_mtime_differs(struct sync_run *r, const struct entry *s,
			     int64_t other_ns, struct errbuf *eb)
{
	struct remote_meta m;
	int ret;

	ret = remote_tree_head(r->rsrc, s, &m, eb);
	if (ret == -ENOENT) {
		errbuf_clear(eb);
		return 1;
	}
	if (ret < 0)
		return ret;
	return m.mtime_ns != other_ns;
}

/* JOB_COMPARE without an MD5 listed for the store's side (an S3
 * multipart object): its md5chksum metadata (HEAD), as rclone reads it,
 * into j->other_md5. 1 found, 0 not (or gone), -errno. */
static int head_other_md5(struct sync_run *r, struct job *j,
			  struct errbuf *eb)
{
	struct remote_meta m;
	int ret;

	ret = remote_tree_head(r->rsrc ? r->rsrc : r->rdst, &j->e, &m, eb);
	if (ret == -ENOENT) {
		errbuf_clear(eb);
		return 0;
	}
	if (ret < 0 || !m.has_md5)
		return ret < 0 ? ret : 0;
	j->other_md5 = m.md5;
	j->has_other_md5 = true;
	return 1;
}

static int do_job(struct sync_run *r, struct tree_writer *tw, struct job *j,
		  char *buf, struct errbuf *eb)
{
	int ret;

	if (r->rsrc || r->rdst) {
		if (j->e.type != ENTRY_FILE)
			return 0;  /* stores hold files only */
		if (j->kind == JOB_META)
			return 0;
		if (j->kind == JOB_COMPARE && !j->has_other_md5) {
			ret = head_other_md5(r, j, eb);
			if (ret < 0)
				return ret;
		}
		if (j->kind == JOB_COMPARE && j->has_other_md5) {
			ret = md5_differs(r, j, buf, eb);
			if (ret <= 0)
				return ret;
		}
		if (j->kind == JOB_MTIME) {
			ret = src_mtime_differs(r, &j->e, j->other_mtime_ns,
						eb);
			if (ret <= 0)
				return ret;
		}
		ret = copy_remote(r, tw, &j->e, buf, eb);
		if (!ret)
			stat_add(&r->stats->files_copied, 1);
		if (!ret && r->rdst && store_drops_meta(&j->e))
			stat_add(&r->stats->meta_not_kept, 1);
		return ret;
	}

	if (j->kind == JOB_META) {
		ret = tree_writer_set_meta(tw, &j->e, eb);
		if (!ret)
			stat_add(&r->stats->files_updated, 1);
		return ret;
	}
	if (j->kind == JOB_COMPARE) {
		ret = contents_differ(r, &j->e, buf, eb);
		if (ret < 0)
			return ret;
		if (!ret)
			return tree_writer_set_meta(tw, &j->e, eb);
	}
	switch (j->e.type) {
	case ENTRY_FILE:
		ret = copy_file(r, tw, &j->e, buf, eb);
		break;
	case ENTRY_SYMLINK:
		ret = tree_writer_symlink(tw, &j->e, eb);
		break;
	default:
		/* directories: made in apply_deletions, meta set last */
		ret = tree_writer_mkdir(tw, &j->e, false, eb);
		if (ret > 0)
			stat_add(&r->stats->dirs_created, 1);
		return ret < 0 ? ret : 0;
	}
	if (!ret)
		stat_add(&r->stats->files_copied, 1);
	return ret;
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	entry_release(&j->e);
	free(j);
}

static int defer(struct sync_run *r, struct job *j)
{
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	if (r->ndeferred == r->cap_deferred) {
		size_t cap = r->cap_deferred ? 2 * r->cap_deferred : 16;
		struct job **p = realloc(r->deferred, cap * sizeof(*p));

		if (p) {
			r->deferred = p;
			r->cap_deferred = cap;
		}
	}
	if (r->ndeferred < r->cap_deferred)
		r->deferred[r->ndeferred++] = j;
	else
		ret = -ENOMEM;
	pthread_mutex_unlock(&r->lock);
	return ret;
}

static void *worker_main(void *arg)
{
	struct sync_run *r = arg;
	struct errbuf eb = ERRBUF_INIT;
	struct tree_writer *tw = NULL;
	char *buf = malloc(BUF_SIZE);
	size_t shard = __atomic_fetch_add(&r->next_worker, 1,
					  __ATOMIC_RELAXED);
	void *items[BATCH];
	int n, i, ret = 0;

	if (!buf)
		ret = errbuf_set(&eb, -ENOMEM, "out of memory");
	if (!ret)
		ret = tree_writer_new(r->dstfd, r->so->dst, &tw, &eb);
	if (ret < 0) {
		run_fail(r, &eb, ret);
		goto out;
	}
	tree_writer_set_owners(tw, r->owners_apply,
			       &r->stats->owners_skipped);
	tree_writer_set_xattrs(tw, r->xattr_ns, &r->stats->xattrs_unsupported,
			       &r->stats->xattrs_skipped);
	while ((n = shardq_pop_batch(r->jobs, shard, items, BATCH)) > 0) {
		for (i = 0; i < n; i++) {
			struct job *j = items[i];

			if (!ret && r->o->interrupted && *r->o->interrupted)
				ret = errbuf_set(&eb, -EINTR, "interrupted");
			if (!ret) {
				ret = do_job(r, tw, j, buf, &eb);
				if (is_conflict(ret) && !defer(r, j)) {
					errbuf_clear(&eb);
					ret = 0;
					continue;
				}
			}
			job_free(j);
		}
		if (ret < 0) {
			run_fail(r, &eb, ret);
			break;
		}
	}
out:
	tree_writer_free(tw);
	free(buf);
	return NULL;
}

static int record_deletion(struct sync_run *r, const struct entry *d,
			   struct errbuf *eb)
{
	uint32_t len = (uint32_t)d->name_len;

	if (r->so->no_delete)
		return 0;
	r->ndelete++;
	if (r->so->dry_run) {
		diff_print_plan("delete", d);
		return 0;
	}
	if (fwrite(&d->type, 1, 1, r->deletions) != 1 ||
	    fwrite(&len, sizeof(len), 1, r->deletions) != 1 ||
	    fwrite(d->name, 1, len, r->deletions) != len)
		return errbuf_set(eb, -EIO, "cannot record a deletion: %s",
				  strerror(errno));
	return 0;
}

/* A job for e (a copy of it), or NULL (eb: out of memory). */
static struct job *job_make(const struct entry *e, enum job_kind kind,
			    struct errbuf *eb)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j || entry_copy(&j->e, e)) {
		free(j);
		errbuf_set(eb, -ENOMEM, "out of memory");
		return NULL;
	}
	j->kind = (uint8_t)kind;
	return j;
}

/* Queue j for the workers (which free it); freed here on a stop. */
static int job_push(struct sync_run *r, struct job *j, struct errbuf *eb)
{
	if (shardq_push(r->jobs, shardq_file_key(j->e.name, j->e.name_len,
					       j->e.size),
			j) < 0) {
		job_free(j);
		return errbuf_set(eb, -ECANCELED, "stopped");
	}
	return 0;
}

static int push_job(struct sync_run *r, const struct entry *e,
		    enum job_kind kind, struct errbuf *eb)
{
	struct job *j;

	if (r->so->dry_run) {
		diff_print_plan(kind == JOB_META ? "update" : kind == JOB_COMPARE ?
			  "check" : "copy", e);
		if (kind == JOB_COPY) {
			stat_add(e->type == ENTRY_DIR ? &r->stats->dirs_created :
				 &r->stats->files_copied, 1);
			if (e->type == ENTRY_FILE)
				stat_add(&r->stats->bytes_written, e->size);
		} else if (kind == JOB_META) {
			stat_add(&r->stats->files_updated, 1);
		}
		return 0;
	}
	j = job_make(e, kind, eb);
	return j ? job_push(r, j, eb) : -ENOMEM;
}

static bool same_mtime_mode(const struct sync_run *r, const struct entry *s,
			    const struct entry *d)
{
	/* owners count only where they can be set: as root */
	return s->mtime_ns == d->mtime_ns &&
	       (s->type == ENTRY_SYMLINK || s->mode == d->mode) &&
	       !(r->owners_apply && entry_owner_differs(s, d));
}

/* A later member of one of SRC's hard-link groups: linked to the first
 * member (copied or already right) after the copies. */
static int plan_link(struct sync_run *r, const struct entry *s,
		     struct errbuf *eb)
{
	struct entry *e;

	if (r->so->dry_run) {
		diff_print_plan("link", s);
		return 0;
	}
	if (r->nlinks == r->cap_links) {
		size_t cap = r->cap_links ? r->cap_links * 2 : 64;
		struct entry **p = realloc(r->links, cap * sizeof(*p));

		if (!p)
			return errbuf_set(eb, -ENOMEM, "out of memory");
		r->links = p;
		r->cap_links = cap;
	}
	e = entry_new();
	if (!e || entry_copy(e, s)) {
		free(e);
		return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	r->links[r->nlinks++] = e;
	return 0;
}

/* xattrs read on both sides (not --no-xattrs) and not the same */
static bool xattrs_differ(const struct entry *s, const struct entry *d)
{
	return s->xattrs_known && d->xattrs_known &&
	       !entry_same_xattrs(s, d);
}

/* Every source directory is kept for the end: made (if new) after the
 * deletions, its mode and mtime set once nothing more is written in it. */
static int push_dir(struct sync_run *r, const struct entry *e, bool create,
		    bool differs, struct errbuf *eb)
{
	struct job *j;

	if (r->so->dry_run) {
		if (create) {
			diff_print_plan("create", e);
			stat_add(&r->stats->dirs_created, 1);
		} else if (differs) {
			diff_print_plan("update", e);
			stat_add(&r->stats->files_updated, 1);
		}
		return 0;
	}
	j = job_make(e, create ? JOB_COPY : JOB_META, eb);
	if (!j)
		return -ENOMEM;
	j->meta_differs = differs;
	if (defer(r, j) < 0) {
		job_free(j);
		return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	return 0;
}

/* JOB_MTIME for s against the destination d (a dry run asks at once). */
static int push_mtime_job(struct sync_run *r, const struct entry *s,
			  const struct entry *d, struct errbuf *eb)
{
	struct job *j;
	int ret;

	if (r->so->dry_run) {
		ret = src_mtime_differs(r, s, d->mtime_ns, eb);
		if (ret <= 0)
			return ret;
		return push_job(r, s, JOB_COPY, eb);
	}
	j = job_make(s, JOB_MTIME, eb);
	if (!j)
		return -ENOMEM;
	j->other_mtime_ns = d->mtime_ns;
	return job_push(r, j, eb);
}

/* Deciding with an object store on a side: stores keep files only, no
 * mode; a file's mtime is kept as the object's "mtime" metadata, as rclone
 * keeps it (net/objmeta.h), next to the upload time (Last-Modified). A
 * file is copied when the sizes differ, or when the mtimes differ: the
 * metadata's is compared exactly (Azure listings carry it; an S3 source
 * is asked by HEAD, only for same-size pairs, as rclone does). A
 * destination object without the metadata counts as up to date if its
 * upload is newer than the source (like `aws s3 sync`), so an S3
 * destination needs no HEAD: a download takes the object's metadata mtime,
 * else its Last-Modified, so the next run sees them equal. --checksum
 * compares MD5s, using what the store already knows. */
static int on_diff_remote(struct sync_run *r, enum diff_state st,
			  const struct entry *s, const struct entry *d,
			  struct errbuf *eb)
{
	struct job *j;

	if (st == DIFF_ONLY_RIGHT) {
		/* a local destination's directories are implied by the
		 * source's keys: the emptied ones are pruned */
		if (d->type == ENTRY_DIR)
			return 0;
		return record_deletion(r, d, eb);
	}
	if (s->type == ENTRY_DIR)
		return 0;
	if (s->type == ENTRY_SYMLINK) {
		char shown[512];

		errbuf_quote_name(shown, sizeof(shown), s->name, s->name_len);
		log_warn(r->log, "skipping symlink '%s': object stores hold "
			 "files only", shown);
		stat_add(&r->stats->files_skipped, 1);
		return 0;
	}
	if (st == DIFF_ONLY_LEFT || d->type != ENTRY_FILE ||
	    s->size != d->size)
		return push_job(r, s, JOB_COPY, eb);
	switch (r->so->compare) {
	case SYNC_COMPARE_SIZE_ONLY:
		return 0;
	case SYNC_COMPARE_CHECKSUM:
		if (s->has_md5 && d->has_md5)
			return objid_eq(&s->md5, &d->md5) ? 0 :
			       push_job(r, s, JOB_COPY, eb);
		if (!s->has_md5 && !d->has_md5)
			/* between stores: copy; with a local side, the
			 * store's MD5 may be in its metadata (HEAD) */
			return push_job(r, s, r->rsrc && r->rdst ? JOB_COPY :
					JOB_COMPARE, eb);
		if (r->so->dry_run)
			return push_job(r, s, JOB_COMPARE, eb);
		j = job_make(s, JOB_COMPARE, eb);
		if (!j)
			return -ENOMEM;
		j->has_other_md5 = true;
		j->other_md5 = s->has_md5 ? s->md5 : d->md5;
		return job_push(r, j, eb);
	default:
		if (r->rdst && d->upload_mtime)
			/* the destination object has no mtime metadata:
			 * Last-Modified has whole seconds, so a source
			 * changed in the second of the upload is ambiguous
			 * and copied again */
			return s->mtime_ns / 1000000000LL >=
			       d->mtime_ns / 1000000000LL ?
			       push_job(r, s, JOB_COPY, eb) : 0;
		if (s->mtime_ns == d->mtime_ns)
			return 0;
		if (s->upload_mtime && !remote_tree_lists_mtime(r->rsrc))
			/* S3 source: its mtime metadata needs a HEAD, done
			 * only for these same-size pairs (as rclone does) */
			return push_mtime_job(r, s, d, eb);
		/* both mtimes are the files': they must match */
		return push_job(r, s, JOB_COPY, eb);
	}
}

static int on_diff(void *ctx, enum diff_state st, const struct entry *s,
		   const struct entry *d, struct errbuf *eb)
{
	struct sync_run *r = ctx;

	if (r->rsrc || r->rdst)
		return on_diff_remote(r, st, s, d, eb);

	if (st == DIFF_ONLY_RIGHT)
		return record_deletion(r, d, eb);
	if (s->type == ENTRY_DIR)
		return push_dir(r, s, st == DIFF_ONLY_LEFT,
				st != DIFF_ONLY_LEFT &&
				(!same_mtime_mode(r, s, d) ||
				 xattrs_differ(s, d)), eb);
	if (s->link)
		return plan_link(r, s, eb);
	if (st == DIFF_ONLY_LEFT)
		return push_job(r, s, JOB_COPY, eb);
	/* same name on both sides */
	if (s->type != d->type)
		return push_job(r, s, JOB_COPY, eb);
	if (s->type == ENTRY_SYMLINK) {
		if (s->target_len != d->target_len ||
		    memcmp(s->target, d->target, s->target_len))
			return push_job(r, s, JOB_COPY, eb);
	} else if (s->type == ENTRY_FILE) {
		if (s->size != d->size)
			return push_job(r, s, JOB_COPY, eb);
		if (r->so->compare == SYNC_COMPARE_CHECKSUM)
			return push_job(r, s, JOB_COMPARE, eb);
		if (r->so->compare == SYNC_COMPARE_SIZE_MTIME &&
		    s->mtime_ns != d->mtime_ns)
			return push_job(r, s, JOB_COPY, eb);
	}
	if (!same_mtime_mode(r, s, d) &&
	    !(s->type == ENTRY_FILE && r->so->compare == SYNC_COMPARE_SIZE_ONLY))
		return push_job(r, s, JOB_META, eb);
	/* an xattr-only change: fixed in place, the content stays */
	if (xattrs_differ(s, d))
		return push_job(r, s, JOB_META, eb);
	return 0;
}

/* DST inside SRC (or the reverse) would copy into itself or delete the
 * source: refuse. DST may not exist yet: resolve its nearest existing
 * ancestor and append the rest. */
static int check_nesting_local(const char *src, const char *dst,
			       struct errbuf *eb)
{
	char rs[PATH_MAX], rd[PATH_MAX], probe[PATH_MAX], full[2 * PATH_MAX];
	const char *tail = "";
	size_t ls, ld;
	char *slash;

	if (!realpath(src, rs))
		return errbuf_set(eb, -errno, "cannot open source '%s': %s",
				  src, strerror(errno));
	snprintf(probe, sizeof(probe), "%s", dst);
	while (!realpath(probe, rd)) {
		slash = strrchr(probe, '/');
		if (!slash) {
			/* relative name with no existing part: below cwd */
			if (!getcwd(rd, sizeof(rd)))
				return errbuf_set(eb, -errno, "getcwd: %s",
						  strerror(errno));
			tail = dst;
			break;
		}
		tail = dst + (slash - probe) + 1;
		if (slash == probe) {
			snprintf(rd, sizeof(rd), "/");
			break;
		}
		*slash = '\0';
	}
	snprintf(full, sizeof(full), "%s%s%s", rd,
		 *tail && rd[strlen(rd) - 1] != '/' ? "/" : "", tail);
	ls = strlen(rs);
	ld = strlen(full);
	while (ld > 1 && full[ld - 1] == '/')
		full[--ld] = '\0';
	if ((ld >= ls && !strncmp(full, rs, ls) &&
	     (full[ls] == '/' || full[ls] == '\0' || ls == 1)) ||
	    (ls > ld && !strncmp(rs, full, ld) && (rs[ld] == '/' || ld == 1)))
		return errbuf_set(eb, -EINVAL, "refusing to sync '%s' into '%s':"
				  " one is inside the other", src, dst);
	return 0;
}

/* Object stores: refuse the same bucket with nested prefixes. */
static int check_nesting(struct sync_run *r, struct errbuf *eb)
{
	const char *a, *b;
	size_t la, lb;

	if (!r->rsrc && !r->rdst)
		return check_nesting_local(r->so->src, r->so->dst, eb);
	if (!r->rsrc || !r->rdst)
		return 0;  /* a store and a local directory never nest */
	a = remote_tree_url(r->rsrc);
	b = remote_tree_url(r->rdst);
	la = strlen(a);
	lb = strlen(b);
	while (la && a[la - 1] == '/')
		la--;
	while (lb && b[lb - 1] == '/')
		lb--;
	if ((la <= lb && !strncmp(a, b, la) && (lb == la || b[la] == '/')) ||
	    (lb < la && !strncmp(a, b, lb) && a[lb] == '/'))
		return errbuf_set(eb, -EINVAL, "refusing to sync '%s' into '%s':"
				  " one is inside the other", r->so->src,
				  r->so->dst);
	return 0;
}

/* Every planned member becomes a link of its group's first member in
 * SRC order (already one: left alone). A DST that refuses the link
 * (another mount inside it, a link count limit) gets a copy. */
static int make_links(struct sync_run *r, struct tree_writer *tw,
		      struct errbuf *eb)
{
	char *buf = NULL;
	size_t i;
	int ret = 0;

	for (i = 0; !ret && i < r->nlinks; i++) {
		const struct entry *e = r->links[i];

		if (r->o->interrupted && *r->o->interrupted)
			ret = errbuf_set(eb, -EINTR, "interrupted");
		else
			ret = tree_writer_link(tw, e->link, e->link_len, e, eb);
		if (ret == 1) {
			stat_add(&r->stats->files_copied, 1);
			stat_add(&r->stats->links_created, 1);
		}
		if (ret >= 0) {
			ret = 0;
			continue;
		}
		if (ret != -EXDEV && ret != -EMLINK && ret != -EPERM)
			break;
		errbuf_clear(eb);
		if (!buf && !(buf = malloc(BUF_SIZE))) {
			ret = errbuf_set(eb, -ENOMEM, "out of memory");
			break;
		}
		ret = copy_file(r, tw, e, buf, eb);
		if (!ret)
			stat_add(&r->stats->files_copied, 1);
	}
	free(buf);
	return ret;
}

/* After all copies: carry out the recorded deletions, prune emptied
 * directories, retry the copies that waited for room. */
static int apply_deletions(struct sync_run *r, struct errbuf *eb)
{
	struct tree_writer *tw = NULL;
	char *name = NULL;
	size_t i;
	int ret = 0;

	if (!r->rdst) {
		ret = tree_writer_new(r->dstfd, r->so->dst, &tw, eb);
		if (ret < 0)
			return ret;
		tree_writer_set_owners(tw, r->owners_apply,
				       &r->stats->owners_skipped);
		tree_writer_set_xattrs(tw, r->xattr_ns,
				       &r->stats->xattrs_unsupported,
				       &r->stats->xattrs_skipped);
	}
	rewind(r->deletions);
	for (;;) {
		struct entry e;
		uint8_t type;
		uint32_t len;

		if (fread(&type, 1, 1, r->deletions) != 1)
			break;
		if (fread(&len, sizeof(len), 1, r->deletions) != 1 ||
		    len > ENTRY_NAME_MAX) {
			ret = errbuf_set(eb, -EIO, "deletion list damaged");
			break;
		}
		free(name);
		name = malloc(len + 1);
		if (!name || fread(name, 1, len, r->deletions) != len) {
			ret = errbuf_set(eb, -EIO, "deletion list damaged");
			break;
		}
		name[len] = '\0';
		entry_init(&e);
		e.name = name;
		e.name_len = len;
		e.type = type;
		if (r->rdst) {
			ret = remote_tree_remove(r->rdst, &e, eb);
		} else {
			ret = tree_writer_remove(tw, &e, eb);
			if (!ret)
				ret = tree_writer_prune_parents(tw, name, len,
								eb);
		}
		if (ret < 0)
			break;
		stat_add(&r->stats->files_deleted, 1);
	}
	free(name);
	/* copies that waited for room (the conflicting entry is gone unless
	 * it was not ours to delete: --no-delete, or an excluded name) and
	 * new directories, in stream order */
	for (i = 0; !ret && i < r->ndeferred; i++) {
		struct job *j = r->deferred[i];
		char *buf;

		if (j->e.type == ENTRY_DIR) {
			if (j->kind == JOB_COPY) {
				ret = tree_writer_mkdir(tw, &j->e, false, eb);
				if (ret > 0)
					stat_add(&r->stats->dirs_created, 1);
				ret = ret < 0 ? ret : 0;
			}
			continue;
		}
		buf = malloc(BUF_SIZE);
		if (!buf) {
			ret = errbuf_set(eb, -ENOMEM, "out of memory");
			break;
		}
		ret = do_job(r, tw, j, buf, eb);
		free(buf);
	}
	if (!ret)
		ret = make_links(r, tw, eb);
	/* directory metadata last: writes inside moved their mtimes */
	for (i = 0; !ret && i < r->ndeferred; i++) {
		struct job *j = r->deferred[i];

		if (j->e.type != ENTRY_DIR)
			continue;
		ret = tree_writer_set_meta(tw, &j->e, eb);
		if (!ret && j->meta_differs)
			stat_add(&r->stats->files_updated, 1);
	}
	/* and the root's own, as rsync -a: local trees only (a store has
	 * no directories) */
	if (!ret && tw && r->srcfd >= 0) {
		unsigned char *x = NULL;
		size_t xlen = 0;
		struct stat st;

		if (fstat(r->srcfd, &st))
			ret = errbuf_set(eb, -errno, "cannot stat '%s': %s",
					 r->so->src, strerror(errno));
		else
			ret = tree_writer_set_root_owner(tw, st.st_uid,
							 st.st_gid, eb);
		if (!ret && r->xattr_ns) {
			ret = xattr_read(r->srcfd, NULL, r->xattr_ns, &x,
					 &xlen);
			if (ret < 0)
				ret = errbuf_set(eb, ret, "cannot read the "
						 "xattrs of '%s': %s",
						 r->so->src, strerror(-ret));
		}
		if (!ret)
			ret = tree_writer_set_root_meta(tw, st.st_mode & 07777,
							x, xlen, &st.st_mtim,
							eb);
		free(x);
	}
	tree_writer_free(tw);
	return ret;
}

int engine_sync(const struct engine_opts *o, const struct sync_opts *so,
		struct run_stats *stats, struct errbuf *eb)
{
	struct sync_run r;
	struct logger log = o->log;
	struct entry_stream ls, rs;
	struct progress prog;
	pthread_t *threads = NULL;
	unsigned jobs = o->jobs ? o->jobs : 1, started = 0, i;
	double t0 = clock_mono_s();
	int ret;

	memset(&r, 0, sizeof(r));
	memset(&prog, 0, sizeof(prog));
	r.o = o;
	r.so = so;
	r.log = &log;
	r.stats = stats;
	r.srcfd = r.dstfd = -1;
	r.bw_start = t0;
	r.owners_apply = geteuid() == 0;
	pthread_mutex_init(&r.lock, NULL);

	if (!so->src || !so->dst) {
		ret = errbuf_set(eb, -EINVAL, "sync needs SRC and DST");
		goto out;
	}
	if (objstore_is_url(so->src)) {
		ret = remote_tree_open(so->src, o->file_storage_options, o, false,
				       &r.rsrc, eb);
		if (ret < 0)
			goto out;
	}
	if (objstore_is_url(so->dst)) {
		ret = remote_tree_open(so->dst, o->file_storage_options, o,
				       !so->dry_run, &r.rdst, eb);
		if (ret < 0)
			goto out;
	}
	ret = check_nesting(&r, eb);
	if (ret < 0)
		goto out;
	ret = filter_from_opts(o->include, o->exclude, &r.filter, eb);
	if (ret < 0)
		goto out;
	if (!so->dry_run) {
		ret = r.rdst ? 0 : relpath_mkdir_p(so->dst, eb);
		if (ret < 0)
			goto out;
		r.deletions = tmpfile();
		if (!r.deletions) {
			ret = errbuf_set(eb, -errno, "cannot create a temp file: "
					 "%s", strerror(errno));
			goto out;
		}
	}
	/* xattrs between local trees only: stores keep none */
	if (!o->no_xattrs && !r.rsrc && !r.rdst)
		r.xattr_ns = XATTR_NS_USER | XATTR_NS_ACL |
			     (geteuid() == 0 ? XATTR_NS_PRIV : 0);
	ret = feed_start(&r, &r.src, so->src, false, eb);
	if (!ret)
		ret = feed_start(&r, &r.dst, so->dst, so->dry_run, eb);
	if (ret < 0)
		goto out;
	r.srcfd = r.src.scanner ? scanner_rootfd(r.src.scanner) : -1;
	r.dstfd = r.dst.scanner ? scanner_rootfd(r.dst.scanner) : -1;

	progress_start(&prog, "sync", stats, &log, o->progress);
	if (!so->dry_run) {
		/* a worker waits for each request to an object store: as
		 * many workers as transfers keep the network stage busy */
		if ((r.rsrc || r.rdst) && o->transfers > jobs)
			jobs = o->transfers;
		ret = shardq_new(jobs, QUEUE_CAP / jobs + 1, &r.jobs);
		if (ret < 0) {
			ret = errbuf_set(eb, ret, "out of memory");
			goto out;
		}
		threads = calloc(jobs, sizeof(*threads));
		for (i = 0; threads && i < jobs; i++) {
			if (pthread_create(&threads[i], NULL, worker_main, &r))
				break;
			started++;
		}
		if (!started) {
			ret = errbuf_set(eb, -EAGAIN, "cannot start threads");
			goto out;
		}
	}
	ls.next = feed_next;
	ls.ctx = &r.src;
	rs.next = feed_next;
	rs.ctx = &r.dst;
	ret = diff_run(&ls, &rs, on_diff, &r, eb);
	if (r.jobs) {
		if (ret < 0)
			shardq_abort(r.jobs);
		else
			shardq_close(r.jobs);
	}
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	started = 0;
	if (r.err.code) {
		*eb = r.err;
		ret = r.err.code;
		goto out;
	}
	if (ret < 0)
		goto out;
	if (so->max_delete >= 0 && r.ndelete > (uint64_t)so->max_delete) {
		ret = errbuf_set(eb, -EPERM, "refusing to delete %llu files from "
				 "'%s' (--max-delete %lld): nothing deleted; "
				 "check SRC", (unsigned long long)r.ndelete,
				 so->dst, (long long)so->max_delete);
		goto out;
	}
	if (so->dry_run) {
		stats->files_deleted = r.ndelete;
		goto out;
	}
	ret = apply_deletions(&r, eb);
	xattr_warn(&log, so->dst, stats);
	store_meta_warn(&log, so->dst, stats);
	if (ret < 0)
		goto out;
	if (stats->owners_skipped)
		log_warn(&log, "%llu entr%s the owner of the running user "
			 "instead of the source's: not running as root",
			 (unsigned long long)stats->owners_skipped,
			 stats->owners_skipped == 1 ? "y keeps" : "ies keep");
	if (o->fsync && r.dstfd >= 0 && syncfs(r.dstfd)) {
		ret = errbuf_set(eb, -errno, "cannot sync '%s': %s", so->dst,
				 strerror(errno));
		goto out;
	}
	ret = 0;
out:
	progress_stop(&prog);
	if (r.jobs) {
		void *item;

		shardq_abort(r.jobs);
		for (i = 0; i < started; i++)
			pthread_join(threads[i], NULL);
		while (shardq_drain(r.jobs, &item) == 1)
			job_free(item);
		shardq_free(r.jobs);
	}
	free(threads);
	feed_stop(&r.src);
	feed_stop(&r.dst);
	remote_tree_free(r.rsrc);
	remote_tree_free(r.rdst);
	for (i = 0; i < r.ndeferred; i++)
		job_free(r.deferred[i]);
	for (i = 0; i < r.nlinks; i++)
		entry_free(r.links[i]);
	free(r.links);
	free(r.deferred);
	if (r.deletions)
		fclose(r.deletions);
	filter_free(r.filter);
	pthread_mutex_destroy(&r.lock);
	stats->seconds = clock_mono_s() - t0;
	if (ret < 0)
		stats->errors++;
	return ret;
}
