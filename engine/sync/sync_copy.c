/* sync_copy: the workers' side of a sync, carrying out one job: a local
 * copy (copy_file_range or read/write, sparse files by their extents), a
 * copy with an object store on a side, and the checks that decide whether
 * a same-size file is copied at all (bytes, MD5, mtime by HEAD). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sync_impl.h"

#include "clock.h"
#include "fdio.h"
#include "hasher.h"
#include "objstore.h"
#include "progress.h"
#include "relpath.h"
#include "tree.h"
#include "sparse.h"
#include "tree_writer.h"
#include "banned.h"

#define COPY_CHUNK (8u << 20)   /* copy_file_range request */
#define CHANGE_RETRIES 3
/* a local file up to this size goes to a store without a copier
 * waiting for its PUT (sync_async.c) */
#define SYNC_ASYNC_MAX (64u << 10)

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
			n = read(in, buf, SYNC_BUF_SIZE);
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
			ssize_t n = fdio_pread(in, buf, want > SYNC_BUF_SIZE ?
					       SYNC_BUF_SIZE : (size_t)want,
					       pos);

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

/* --checksum with equal sizes: compare the bytes of both sides. */
static int contents_differ(struct sync_run *r, const struct entry *e,
			   char *buf, struct errbuf *eb)
{
	char *other = buf + SYNC_BUF_SIZE / 2;
	size_t half = SYNC_BUF_SIZE / 2;
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
		stat_add(&r->run.stats->bytes_read, (uint64_t)(n + m));
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

/* One attempt's source: the SRC file as tree_open_file gave it (the
 * file itself, which may change while copied and is looked at again
 * after: f.live; or the object downloaded into a private temp), and what
 * DST records of it. */
struct copy_src {
	struct tree_file f;
	struct entry meta;
	/* write_store: a multipart upload aborted because it changed */
	bool aborted;
};

/* What DST records of s, whose f is open. */
static void copy_src_meta(struct sync_run *r, const struct entry *e,
			  struct copy_src *s)
{
	const struct tree_file *f = &s->f;

	s->meta = *e;
	/* an object's "mtime" metadata (rclone's and ours) is the file's
	 * mtime; else Last-Modified */
	s->meta.mtime_ns = f->mtime_ns;
	s->meta.upload_mtime = !f->has_mtime;
	if (r->src_fs)
		s->meta.mode = f->st.st_mode & 07777;
	if (r->dst_fs && !f->has_mtime && is_racy(s->meta.mtime_ns))
		/* the object may be replaced within the same second of
		 * Last-Modified: keep the copy visibly older so the next
		 * run fetches it again (git's racy rule) */
		s->meta.mtime_ns -= 1000000000LL;
}

static int open_copy_src(struct sync_run *r, const struct entry *e,
			 struct copy_src *s, struct errbuf *eb)
{
	int ret = tree_open_file(r->src_scan, e, 0, &s->f, eb);

	if (ret < 0)
		return ret;
	copy_src_meta(r, e, s);
	return 0;
}

/* Did the local source change since it was opened (*after: its stat
 * now)? 1 yes, 0 no, -errno. */
static int src_changed(const struct copy_src *s, struct stat *after)
{
	if (fstat(s->f.fd, after))
		return -errno;
	return fdio_stat_changed(&s->f.st, after);
}

/* s into a local DST: a temp, published only if a local source did not
 * change meanwhile (never a torn file). 0, 1 the source changed (the
 * temp discarded), -errno with eb set. */
static int write_local(struct sync_run *r, struct tree_writer *tw,
		       const struct entry *e, struct copy_src *s, char *buf,
		       uint64_t *copied, struct errbuf *eb)
{
	uint64_t size = (uint64_t)s->f.st.st_size;
	struct stat after;
	char shown[512], tmp[64];
	int out, dirfd, ret;

	ret = tree_writer_create_temp(tw, e, &dirfd, tmp, &out, eb);
	if (ret < 0)
		return ret;
	ret = s->f.live && e->sparse ?
	      copy_sparse(r, s->f.fd, out, size, buf, copied) :
	      copy_bytes(r, s->f.fd, out, size, buf, copied);
	if (!ret && s->f.live)
		ret = src_changed(s, &after);
	if (ret < 0) {
		tree_writer_discard_temp(dirfd, tmp, out);
		errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
		return errbuf_set(eb, ret, "cannot copy '%s/%s': %s",
				  r->so->src, shown, strerror(-ret));
	}
	if (!s->f.live)
		return tree_writer_publish(tw, &s->meta, dirfd, tmp, out, eb);
	if (ret == 1 || *copied != (uint64_t)after.st_size) {
		tree_writer_discard_temp(dirfd, tmp, out);
		return 1;
	}
	/* what DST records is the file as copied: the stat after */
	s->meta.mode = after.st_mode & 07777;
	s->meta.mtime_ns = clock_ts_ns(&after.st_mtim);
	s->meta.has_owner = true;
	s->meta.uid = after.st_uid;
	s->meta.gid = after.st_gid;
	return tree_writer_publish_ts(tw, &s->meta, &after.st_mtim, dirfd,
				      tmp, out, eb);
}

/* An object of a store SRC into a local DST: downloaded straight into
 * DST's temp (checked as tree_fetch_file says), then published; no copy
 * in TMPDIR, no second write. A download is a private copy: it cannot
 * change while copied. 0, -errno with eb set. */
static int fetch_local(struct sync_run *r, struct tree_writer *tw,
		       const struct entry *e, uint64_t *copied,
		       struct errbuf *eb)
{
	struct copy_src s;
	char tmp[64];
	int out, dirfd, ret;

	ret = tree_writer_create_temp(tw, e, &dirfd, tmp, &out, eb);
	if (ret < 0)
		return ret;
	ret = tree_fetch_file(r->src_scan, e, out, &s.f, eb);
	if (ret < 0) {
		tree_writer_discard_temp(dirfd, tmp, out);
		return ret;
	}
	copy_src_meta(r, e, &s);
	*copied = (uint64_t)s.f.st.st_size;
	bw_account(r, *copied);
	return tree_writer_publish(tw, &s.meta, dirfd, tmp, out, eb);
}

/* Before a multipart upload of a local source completes: has the file
 * changed since it was opened? (Its parts were read at different
 * times: completing would publish a torn object.) */
static int store_src_changed(void *arg)
{
	struct copy_src *s = arg;
	struct stat after;

	s->aborted = src_changed(s, &after) != 0;
	return s->aborted;
}

/* The run's copies are made without the check (said once, with why). */
static void copies_unchecked(struct sync_run *r, const struct errbuf *why)
{
	if (!atomic_exchange(&r->copy_unchecked, true))
		log_info(r->run.log,
			 "%s; copies into '%s' are made by the store "
			 "without that check (S3 copies the source as it is "
			 "then)",
			 why->msg, r->so->dst);
}

/* Before the run's first server-side copy: may copies be checked
 * (objstore_etag_probe: one HEAD, the other copiers wait for it; a
 * failed one tells nothing, the next copy asks)? */
static void probe_copies(struct sync_run *r, const struct entry *e)
{
	struct errbuf why = ERRBUF_INIT;

	if (!atomic_load(&r->copy_unchecked) &&
	    objstore_etag_probe(&r->src_etags, tree_objstore(r->src_tree),
				e->name, &why) == -ENODATA)
		copies_unchecked(r, &why);
}

/* s into DST in a store: one PUT or a multipart upload, with
 * Content-MD5 so the store checks the bytes. A local source that
 * changed meanwhile is reported (1): a multipart upload is aborted
 * before it completes (the object stays as it was), a single PUT is
 * over by then and is replaced by the next attempt. */
static int write_store(struct sync_run *r, const struct entry *e,
		       struct copy_src *s, uint64_t *copied,
		       struct errbuf *eb)
{
	uint64_t size = (uint64_t)s->f.st.st_size;
	/* an object's MD5 as listed (unless its download said the listed
	 * ETag is no MD5: SSE-KMS, or got another version than listed),
	 * else the one its download came with
	 * (checked against its bytes): not hashed once more for the
	 * upload's Content-MD5 */
	const struct objid *md5 = r->src_fs ? NULL :
				  e->has_md5 && !s->f.listed_md5_void &&
				  entry_etag_is(e, s->f.etag) ? &e->md5 :
				  s->f.has_md5 ? &s->f.md5 : NULL;
	struct stat after;
	int ret;

	s->aborted = false;
	ret = tree_put(r->dst_tree, &s->meta, s->f.fd, size, md5,
		       s->f.live ? store_src_changed : NULL, s, eb);
	if (ret < 0 && s->aborted) {
		errbuf_clear(eb);
		return 1;
	}
	if (ret < 0)
		return ret;
	*copied = size;
	bw_account(r, size);
	/* a failed fstat: the upload stands, as uploaded */
	return s->f.live && src_changed(s, &after) == 1 ? 1 : 0;
}

static int kept_changing(struct sync_run *r, const struct entry *e,
			 struct errbuf *eb)
{
	char shown[512];

	errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
	return errbuf_set(eb, -EAGAIN, "cannot copy '%s/%s': it kept changing "
			  "while being copied", r->so->src, shown);
}

int sync_copy_file(struct sync_run *r, struct tree_writer *tw,
		   const struct entry *e, char *buf, struct errbuf *eb)
{
	int attempt, ret;

	if (atomic_load(&r->same_store)) {
		/* the store copies the object (its metadata, mtime
		 * included, goes with it), checked against the listed MD5
		 * where there is one (a source replaced since: copied
		 * through here below); counted as copied by the caller, no
		 * bytes read or written here */
		probe_copies(r, e);
		ret = objstore_copy_from(tree_objstore(r->dst_tree),
					 tree_objstore(r->src_tree), e->name,
					 e->name, e->etag,
					 e->has_md5 &&
					 !atomic_load(&r->copy_unchecked) ?
					 e->md5.b : NULL, eb);
		if (ret == -ENODATA) {
			/* this copy gives no MD5 to check (an SSE-KMS
			 * object among plain ones, or a destination under
			 * SSE-KMS): it is the store's copy of the object as
			 * it is now, and so will the others be */
			copies_unchecked(r, eb);
			errbuf_clear(eb);
			ret = 0;
		}
		if (!ret)
			return 0;
		if (objstore_copy_refused(ret) &&
		    atomic_exchange(&r->same_store, false))
			log_warn(r->run.log,
				 "%s; the rest of this run's copies go "
				 "through this host",
				 eb->msg);
		errbuf_clear(eb);   /* through here, as between stores */
	}

	for (attempt = 0; attempt < CHANGE_RETRIES; attempt++) {
		struct copy_src s;
		uint64_t copied = 0;

		if (!r->src_fs && r->dst_fs) {
			ret = fetch_local(r, tw, e, &copied, eb);
		} else {
			ret = open_copy_src(r, e, &s, eb);
			if (ret < 0)
				return ret;
			ret = !r->dst_fs ?
			      write_store(r, e, &s, &copied, eb) :
			      write_local(r, tw, e, &s, buf, &copied, eb);
			close(s.f.fd);
		}
		if (ret == 1)
			continue;  /* changed while copied: again */
		if (ret < 0)
			return ret;
		stat_add(&r->run.stats->bytes_read, copied);
		stat_add(&r->run.stats->bytes_written, copied);
		return 0;
	}
	return kept_changing(r, e, eb);
}

/* A small local file into a store without waiting for its PUT
 * (sync_async.c): read whole into memory, again if it changed while it
 * was read; what was read is what the store gets, under its Content-MD5.
 * 1 submitted (counted once stored), 0 not this way (a larger file, a
 * file tree on either side), -errno with eb set. */
static int copy_small_async(struct sync_run *r, const struct entry *e,
			    struct errbuf *eb)
{
	char shown[512];
	int attempt, ret;

	/* once the uploads were waited for (the deferred copies, after
	 * the deletions), the waiting way */
	if (!r->src_fs || r->dst_fs || e->size > SYNC_ASYNC_MAX ||
	    atomic_load(&r->async.closed))
		return 0;
	for (attempt = 0; attempt < CHANGE_RETRIES; attempt++) {
		struct copy_src s;
		struct stat after;
		struct job *retry;
		uint64_t size;
		ssize_t n;
		char *buf;

		ret = open_copy_src(r, e, &s, eb);
		if (ret < 0)
			return ret;
		size = (uint64_t)s.f.st.st_size;
		if (size > SYNC_ASYNC_MAX) {   /* grew: the usual way */
			close(s.f.fd);
			return 0;
		}
		buf = malloc(size ? size : 1);
		if (!buf) {
			close(s.f.fd);
			return errbuf_set(eb, -ENOMEM, "out of memory");
		}
		n = fdio_read_full(s.f.fd, buf, (size_t)size);
		/* a failed fstat: what was read stands */
		ret = n < 0 ? 0 : src_changed(&s, &after);
		close(s.f.fd);
		if (n < 0) {
			free(buf);
			errbuf_quote_name(shown, sizeof(shown), e->name,
					  e->name_len);
			return errbuf_set(eb, (int)n, "cannot read '%s/%s': %s",
					  r->so->src, shown,
					  strerror((int)-n));
		}
		if (ret == 1 || (uint64_t)n < size) {   /* changed: again */
			free(buf);
			continue;
		}
		/* deferred if DST is in its way (409), as a copier does */
		retry = sync_job_make(e, JOB_COPY, eb);
		if (!retry) {
			free(buf);
			return -ENOMEM;
		}
		bw_account(r, size);   /* --bwlimit paces the submits */
		ret = sync_async_put(&r->async, tree_objstore(r->dst_tree),
				     retry, &s.meta, buf, size,
				     store_drops_meta(e), eb);
		return ret < 0 ? ret : 1;
	}
	return kept_changing(r, e, eb);
}

/* --checksum against an object store: MD5 of the local side's file
 * compared with the MD5 the store gave for the other side. 1 differs. */
static int md5_differs(struct sync_run *r, const struct job *j, char *buf,
		       struct errbuf *eb)
{
	struct hasher *h = NULL;
	struct objid got;
	uint64_t bytes = 0;
	char shown[512], what[4200];
	int fd, ret;

	fd = relpath_open(r->src_fs ? r->srcfd : r->dstfd, j->e.name,
			  j->e.name_len, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return 1;  /* unreadable or missing local side: copy */
	errbuf_quote_name(shown, sizeof(shown), j->e.name, j->e.name_len);
	snprintf(what, sizeof(what), "%s/%s",
		 r->src_fs ? r->so->src : r->so->dst, shown);
	ret = hasher_new(&h, eb);
	if (!ret)
		ret = hasher_fd(h, fd, what, buf, SYNC_BUF_SIZE, &got, &bytes,
				eb);
	hasher_free(h);
	close(fd);
	stat_add(&r->run.stats->bytes_read, bytes);
	if (ret < 0)
		return ret;
	return !objid_eq(&got, &j->other_md5);
}

/* Does the mtime of source object s (HEAD) differ from other_ns? 1 yes
 * (also when gone: the copy then says why), 0 no, -errno. */
int sync_src_mtime_differs(struct sync_run *r, const struct entry *s,
			   int64_t other_ns, struct errbuf *eb)
{
	struct tree_meta m;
	int ret;

	ret = tree_file_meta(r->src_tree, s, &m, eb);
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
	struct tree_meta m;
	int ret;

	ret = tree_file_meta(r->src_fs ? r->dst_tree : r->src_tree, &j->e, &m,
			     eb);
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

int sync_do_job(struct sync_run *r, struct tree_writer *tw, struct job *j,
		char *buf, struct errbuf *eb)
{
	int ret;

	if (!r->src_fs || !r->dst_fs) {
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
			ret = sync_src_mtime_differs(r, &j->e,
						     j->other_mtime_ns, eb);
			if (ret <= 0)
				return ret;
		}
		/* the run failed meanwhile (an upload sent earlier, say):
		 * it stops here, not at the end of this copier's batch */
		ret = run_error_failed(&r->run.err) ?
		      errbuf_set(eb, -ECANCELED, "the run has failed") :
		      copy_small_async(r, &j->e, eb);
		if (ret)   /* sent: counted when stored */
			return ret < 0 ? ret : 0;
		ret = sync_copy_file(r, tw, &j->e, buf, eb);
		if (!ret)
			stat_add(&r->run.stats->files_copied, 1);
		if (!ret && !r->dst_fs && store_drops_meta(&j->e))
			stat_add(&r->run.stats->meta_not_kept, 1);
		return ret;
	}

	if (j->kind == JOB_META) {
		ret = tree_writer_set_meta(tw, &j->e, eb);
		if (!ret)
			stat_add(&r->run.stats->files_updated, 1);
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
		ret = sync_copy_file(r, tw, &j->e, buf, eb);
		break;
	case ENTRY_SYMLINK:
		ret = tree_writer_symlink(tw, &j->e, eb);
		break;
	default:
		/* directories: made in apply_deletions, meta set last */
		ret = tree_writer_mkdir(tw, &j->e, false, eb);
		if (ret > 0)
			stat_add(&r->run.stats->dirs_created, 1);
		return ret < 0 ? ret : 0;
	}
	if (!ret)
		stat_add(&r->run.stats->files_copied, 1);
	return ret;
}
