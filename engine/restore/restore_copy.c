/* restore_copy: pass 2's writing side. A pool of workers takes the files
 * the plan queued (restore_plan.c) and writes each from its heap object:
 * read, MD5-checked on the way (several files side by side in the lanes
 * of lane_copy.c when the CPU has a multi-buffer kernel), into a temp,
 * renamed into place only when the MD5 and size match. Also the other
 * readers of heap objects: the dry run's check, xattr lists kept in the
 * heap, and the hard links made after pass 2 (a copy where refused). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shardq.h"
#include "workpool.h"
#include "engine.h"
#include "hasher.h"
#include "heap.h"
#include "lane_copy.h"
#include "md5mb.h"
#include "progress.h"
#include "tree.h"
#include "tree_writer.h"
#include "xattr.h"
#include "sparse.h"
#include "fdio.h"
#include "restore_impl.h"
#include "banned.h"

#define COPY_BUF (1024 * 1024)
#define BATCH 32

static void run_fail(struct restore_run *r, const struct errbuf *eb, int code)
{
	run_error_set(&r->run.err, eb, code);
	workpool_abort(r->pool);
}

/* A file whose heap object is missing or corrupt (keep_going, or a dry
 * run that reads the data): remembered for the list at the end. */
static void remember_failed(struct restore_run *r, const struct entry *e,
			    const char *why)
{
	char shown[512], *line;
	size_t len;

	restore_shown_name(e, shown, sizeof(shown));
	len = strlen(shown) + strlen(why) + 8;
	line = malloc(len);
	pthread_mutex_lock(&r->failed_lock);
	if (line && r->nfailed == r->cap_failed) {
		size_t cap = r->cap_failed ? r->cap_failed * 2 : 64;
		char **p = realloc(r->failed, cap * sizeof(*p));

		if (p) {
			r->failed = p;
			r->cap_failed = cap;
		}
	}
	if (line && r->nfailed < r->cap_failed) {
		snprintf(line, len, "'%s': %s", shown, why);
		r->failed[r->nfailed++] = line;
	} else {
		free(line);
		r->failed_oom = true;
	}
	pthread_mutex_unlock(&r->failed_lock);
}

/* Is ret, from reading e's heap object, damage of that object (missing,
 * corrupt, bigger than recorded) rather than a failure of the run? */
static bool source_damage(int ret)
{
	return ret == -ENOENT || ret == -EBADMSG || ret == -EFBIG;
}

/* Read heap object src (named e->md5) to its end, MD5 it on the way and,
 * with dst >= 0, copy it there. A content that does not match its name
 * (or its size) is a tampered or damaged object: -EBADMSG naming it. */
static int copy_verified(struct hasher *h, char *buf, int src, int dst,
			 const struct entry *e, uint64_t *total,
			 struct errbuf *eb)
{
	char shown[512], hex[OBJID_HEX_LEN + 1];
	struct objid got;
	int ret;

	*total = 0;
	objid_to_hex(&e->md5, hex);
	ret = hasher_begin(h, eb);
	while (!ret) {
		ssize_t n = fdio_read(src, buf, COPY_BUF);
		ssize_t off = 0;

		if (n < 0) {
			ret = errbuf_set(eb, (int)n, "cannot read heap object "
					 "%s: %s", hex, strerror((int)-n));
			break;
		}
		if (n == 0)
			break;
		ret = hasher_update(h, buf, (size_t)n, eb);
		if (!ret && dst >= 0 && e->sparse) {
			/* holes where the content is zeros; the size is set
			 * at the end */
			ret = sparse_pwrite(dst, buf, (size_t)n, *total);
			if (ret < 0)
				ret = errbuf_set(eb, ret, "cannot write '%s': %s",
						 restore_shown_name(e, shown,
								    sizeof(shown)),
						 strerror(-ret));
			off = n;
		}
		*total += (uint64_t)n;
		if (!ret && dst >= 0 && off < n) {
			ret = fdio_write_full(dst, buf + off,
					      (size_t)(n - off));
			if (ret < 0)
				ret = errbuf_set(eb, ret, "cannot write '%s': %s",
						 restore_shown_name(e, shown,
								    sizeof(shown)),
						 strerror(-ret));
		}
	}
	if (!ret && dst >= 0 && e->sparse && ftruncate(dst, (off_t)*total))
		ret = errbuf_set(eb, -errno, "cannot write '%s': %s",
				 restore_shown_name(e, shown, sizeof(shown)),
				 strerror(errno));
	if (!ret)
		ret = hasher_final(h, &got, eb);
	if (!ret && (!objid_eq(&got, &e->md5) || *total != e->size))
		ret = errbuf_set(eb, -EBADMSG, "heap object %s is corrupt (its "
				 "content does not match its md5): not "
				 "restoring '%s'", hex,
				 restore_shown_name(e, shown, sizeof(shown)));
	return ret;
}

/* A restore worker's multi-buffer MD5 state (restore_writer_work). */
struct lane_worker {
	struct md5mb *mb;
	unsigned char *bufs;
	unsigned window;
	struct lane_file *files;   /* window of them */
	struct lane_file *free_files[LANE_COPY_WINDOW_MAX];
	unsigned nfree;
};

/* Write one file from the heap, verifying its MD5 on the way. */
static int write_file(struct tree_writer *tw, struct heap *heap,
		      struct hasher *h, char *buf, const struct entry *e,
		      struct run_stats *stats, bool *src_bad,
		      struct errbuf *eb)
{
	char tmp[64], shown[512];
	uint64_t total = 0;
	int src = -1, dst = -1, dirfd, ret;

	ret = heap_open_object_sized(heap, &e->md5, e->size, &src, eb);
	if (ret < 0) {
		*src_bad = source_damage(ret);
		return errbuf_wrap(eb, ret, "cannot restore '%s'",
				   restore_shown_name(e, shown,
						      sizeof(shown)));
	}
	ret = tree_writer_create_temp(tw, e, &dirfd, tmp, &dst, eb);
	if (ret < 0)
		goto out;
	ret = copy_verified(h, buf, src, dst, e, &total, eb);
	if (ret < 0) {
		*src_bad = ret == -EBADMSG;
		tree_writer_discard_temp(dirfd, tmp, dst);
		goto out;
	}
	stat_add(&stats->bytes_read, total);
	ret = tree_writer_publish(tw, e, dirfd, tmp, dst, eb);
	if (!ret)
		stat_add(&stats->bytes_written, total);
out:
	if (src >= 0)
		close(src);
	return ret;
}

/* Object-store FILE_ROOT: check the heap object's MD5 (read once), then
 * upload it with that MD5 as Content-MD5, so the store verifies the bytes
 * it receives too. */
static int write_remote(struct restore_run *r, struct hasher *h, char *buf,
			const struct entry *e, bool *src_bad,
			struct errbuf *eb)
{
	char shown[512];
	uint64_t total = 0;
	int fd = -1, ret;

	ret = heap_open_object_sized(r->heap, &e->md5, e->size, &fd, eb);
	if (ret < 0) {
		*src_bad = source_damage(ret);
		return errbuf_wrap(eb, ret, "cannot restore '%s'",
				   restore_shown_name(e, shown,
						      sizeof(shown)));
	}
	ret = copy_verified(h, buf, fd, -1, e, &total, eb);
	*src_bad = ret == -EBADMSG;
	if (!ret)
		ret = tree_put(r->tree, e, fd, total, &e->md5, NULL, NULL,
			       eb);
	if (!ret) {
		stat_add(&r->run.stats->bytes_read, total);
		stat_add(&r->run.stats->bytes_written, total);
	}
	close(fd);
	return ret;
}

/* A restore worker's feed of lane_copy: the files of its queue, taken
 * without waiting while the lanes copy (so large files that arrive one
 * by one still share the lanes); symlinks met on the way are written at
 * once. Every file comes back through feed_done and is judged as the
 * one-at-a-time loop in restore_writer_work judges its files. */
struct lane_feed {
	struct restore_run *r;
	struct tree_writer *tw;
	struct lane_worker *lw;
	size_t shard;
	void **items;
	int n, pos;
	int ret;                   /* the first error: no more files */
	struct errbuf *eb;
};

static struct lane_file *feed_next(void *ctx)
{
	struct lane_feed *fd = ctx;
	struct restore_run *r = fd->r;
	struct lane_worker *lw = fd->lw;

	while (!fd->ret) {
		struct entry *e;

		if (r->run.o->interrupted && *r->run.o->interrupted) {
			fd->ret = errbuf_set(fd->eb, -EINTR, "interrupted");
			break;
		}
		if (fd->pos == fd->n) {
			fd->n = shardq_try_pop_batch(r->queue, fd->shard,
						     fd->items, BATCH);
			fd->pos = 0;
			if (fd->n <= 0) {
				fd->n = 0;
				break;
			}
		}
		e = fd->items[fd->pos++];
		if (e->type == ENTRY_FILE) {
			struct lane_file *f = lw->free_files[--lw->nfree];

			f->e = e;
			return f;
		}
		fd->ret = tree_writer_symlink(fd->tw, e, fd->eb);
		if (!fd->ret)
			stat_add(&r->run.stats->files_copied, 1);
		entry_free(e);
	}
	return NULL;
}

static void feed_done(void *ctx, struct lane_file *f)
{
	struct lane_feed *fd = ctx;
	struct restore_run *r = fd->r;

	if (!f->ret)
		stat_add(&r->run.stats->files_copied, 1);
	else if (f->src_bad && r->ro->keep_going)
		remember_failed(r, f->e, f->eb.msg);
	else if (!fd->ret)
		fd->ret = errbuf_set(fd->eb, f->ret, "%s", f->eb.msg);
	entry_free((struct entry *)f->e);
	f->e = NULL;
	fd->lw->free_files[fd->lw->nfree++] = f;
}

/* One popped batch, and whatever the queue gives while its files are
 * copied, through the lanes. 0, or the first error (eb), which stops
 * the worker; entries not taken are freed. */
static int write_batch_lanes(struct restore_run *r, struct tree_writer *tw,
			     struct lane_worker *lw, size_t shard, void **items,
			     int n, struct errbuf *eb)
{
	struct lane_feed fd = { .r = r, .tw = tw, .lw = lw, .shard = shard,
				.items = items, .n = n, .eb = eb };
	struct lane_source src = { feed_next, feed_done, &fd };

	lane_copy_run(tw, r->heap, lw->mb, lw->bufs, lw->window, &src,
		      r->run.stats, r->run.o->interrupted);
	while (fd.pos < fd.n)
		entry_free(items[fd.pos++]);
	return fd.ret;
}

/* A worker's lanes: the manager, the window's buffers and the results
 * of a batch. Not set up (mb NULL) with --md5 openssl, an object store
 * as FILE_ROOT, or a window of one file. */
static int lane_worker_init(struct restore_run *r, struct lane_worker *lw,
			    struct errbuf *eb)
{
	enum md5_impl impl;
	int ret;

	memset(lw, 0, sizeof(*lw));
	if (!r->fs)
		return 0;
	ret = engine_md5_resolve(r->run.o->md5, &impl, eb);
	if (ret < 0)
		return ret;
	lw->window = lane_copy_window(r->writers);
	if (lw->window > LANE_COPY_WINDOW_MAX)
		lw->window = LANE_COPY_WINDOW_MAX;
	if (impl == MD5_IMPL_OPENSSL || lw->window < 2)
		return 0;
	ret = md5mb_new(impl == MD5_IMPL_AVX2 ? MD5MB_AVX2 : MD5MB_AVX512,
			&lw->mb, eb);
	if (ret < 0)
		return ret;
	lw->bufs = malloc((size_t)lw->window * LANE_COPY_CHUNK);
	lw->files = calloc(lw->window, sizeof(*lw->files));
	if (!lw->bufs || !lw->files)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	for (lw->nfree = 0; lw->nfree < lw->window; lw->nfree++)
		lw->free_files[lw->nfree] = &lw->files[lw->nfree];
	return 0;
}

static void lane_worker_release(struct lane_worker *lw)
{
	md5mb_free(lw->mb);
	free(lw->bufs);
	free(lw->files);
}

void restore_writer_work(void *arg, size_t shard)
{
	struct restore_run *r = arg;
	struct errbuf eb = ERRBUF_INIT;
	struct tree_writer *tw = NULL;
	struct hasher *h = NULL;
	struct lane_worker lw;
	char *buf = malloc(COPY_BUF);
	void *items[BATCH];
	int n, i, ret;

	ret = lane_worker_init(r, &lw, &eb);
	if (!ret && !buf)
		ret = errbuf_set(&eb, -ENOMEM, "out of memory");
	if (!ret)
		ret = tree_writer_new(r->rootfd, r->run.o->file_root, &tw, &eb);
	if (!ret) {
		tree_writer_set_owners(tw, r->owners_apply,
				       &r->run.stats->owners_skipped);
		tree_writer_set_xattrs(tw, r->xattr_ns,
				       &r->run.stats->xattrs_unsupported,
				       &r->run.stats->xattrs_skipped);
		ret = hasher_new(&h, &eb);
	}
	if (ret < 0) {
		run_fail(r, &eb, ret);
		goto out;
	}
	while ((n = shardq_pop_batch(r->queue, shard, items, BATCH)) > 0) {
		if (lw.mb && ret == 0) {
			ret = write_batch_lanes(r, tw, &lw, shard, items, n,
						&eb);
			n = 0;
		}
		for (i = 0; i < n; i++) {
			struct entry *e = items[i];

			if (ret == 0 && r->run.o->interrupted &&
			    *r->run.o->interrupted)
				ret = errbuf_set(&eb, -EINTR, "interrupted");
			if (ret == 0) {
				bool src_bad = false;

				if (e->type == ENTRY_FILE && !r->fs)
					ret = write_remote(r, h, buf, e,
							   &src_bad, &eb);
				else if (e->type == ENTRY_FILE)
					ret = write_file(tw, r->heap, h, buf, e,
							 r->run.stats, &src_bad,
							 &eb);
				else
					ret = tree_writer_symlink(tw, e, &eb);
				if (!ret)
					stat_add(&r->run.stats->files_copied,
						 1);
				if (!ret && !r->fs && store_drops_meta(e))
					stat_add(&r->run.stats->meta_not_kept,
						 1);
				if (ret < 0 && src_bad && r->ro->keep_going) {
					remember_failed(r, e, eb.msg);
					errbuf_clear(&eb);
					ret = 0;
				}
			}
			entry_free(e);
		}
		if (ret < 0) {
			run_fail(r, &eb, ret);
			break;
		}
	}
out:
	lane_worker_release(&lw);
	hasher_free(h);
	tree_writer_free(tw);
	free(buf);
}

/* Dry run: would the heap object of t restore? Missing (keep_going: not
 * checked up front) and, with read_data, corrupt objects are remembered
 * for the list at the end. */
int restore_dry_check(struct restore_run *r, const struct entry *t,
		      struct errbuf *eb)
{
	char hex[OBJID_HEX_LEN + 1];
	uint64_t total = 0;
	int fd = -1, ret;

	if (!r->ro->read_data) {
		ret = heap_has(r->heap, &t->md5, eb);
		if (ret == 0) {
			objid_to_hex(&t->md5, hex);
			errbuf_set(eb, -ENOENT, "heap object %s is missing "
				   "from '%s'", hex, heap_root(r->heap));
			remember_failed(r, t, eb->msg);
			errbuf_clear(eb);
		}
		return ret < 0 ? ret : 0;
	}
	if (!r->dry_h && (ret = hasher_new(&r->dry_h, eb)) < 0)
		return ret;
	if (!r->dry_buf && !(r->dry_buf = malloc(COPY_BUF)))
		return errbuf_set(eb, -ENOMEM, "out of memory");
	ret = heap_open_object_sized(r->heap, &t->md5, t->size, &fd, eb);
	if (!ret) {
		ret = copy_verified(r->dry_h, r->dry_buf, fd, -1, t, &total,
				    eb);
		close(fd);
	}
	if (ret < 0 && source_damage(ret)) {
		remember_failed(r, t, eb->msg);
		errbuf_clear(eb);
		ret = 0;
	}
	return ret;
}

/* An xattr list kept in the heap (snapshot key 17): read, check its MD5
 * and its shape (it is as untrusted as the snapshot), keep it in e. */
int restore_load_xattrs(struct restore_run *r, struct entry *e,
			struct errbuf *eb)
{
	char hex[OBJID_HEX_LEN + 1], shown[512];
	struct hasher *h = NULL;
	struct objid got;
	unsigned char *buf = NULL;
	const char *why = "its md5 does not match";
	size_t off = 0;
	ssize_t n;
	int fd = -1, ret;

	if (!r->xattr_ns || !e->has_xattr_ref || e->xattrs)
		return 0;
	objid_to_hex(&e->xattr_md5, hex);
	ret = heap_open_object_sized(r->heap, &e->xattr_md5, e->xattrs_len,
				     &fd, eb);
	if (ret < 0)
		return errbuf_wrap(eb, ret, "cannot restore the xattrs of '%s'",
				   restore_shown_name(e, shown,
						      sizeof(shown)));
	buf = malloc(e->xattrs_len);
	if (!buf) {
		ret = errbuf_set(eb, -ENOMEM, "out of memory");
		goto out;
	}
	n = fdio_read_full(fd, buf, e->xattrs_len);
	/* a read error leaves the object short: corrupt, as below */
	off = n < 0 ? 0 : (size_t)n;
	ret = hasher_new(&h, eb);
	if (!ret)
		ret = hasher_digest(h, buf, off, &got, eb);
	if (ret < 0)
		goto out;
	if (off != e->xattrs_len || !objid_eq(&got, &e->xattr_md5) ||
	    xattr_check(buf, off, &why)) {
		ret = errbuf_set(eb, -EBADMSG, "heap object %s is corrupt (%s): "
				 "not restoring the xattrs of '%s'", hex, why,
				 restore_shown_name(e, shown, sizeof(shown)));
		goto out;
	}
	e->xattrs = buf;
	buf = NULL;
out:
	hasher_free(h);
	free(buf);
	close(fd);
	return ret;
}

/* After pass 2: every planned member becomes a link of its leader (a
 * member that already is one stays). A filesystem that refuses the link
 * (another mount under the root, a link count limit) gets a copy. */
int restore_make_links(struct restore_run *r, struct errbuf *eb)
{
	struct hasher *h = NULL;
	char *buf = NULL;
	size_t i;
	int ret = 0;

	for (i = 0; !ret && i < r->nlink_jobs; i++) {
		struct link_job *j = &r->link_jobs[i];
		bool src_bad = false;

		if (r->run.o->interrupted && *r->run.o->interrupted) {
			ret = errbuf_set(eb, -EINTR, "interrupted");
			break;
		}
		ret = tree_writer_link(r->tw, j->leader, j->leader_len, j->e,
				       eb);
		if (ret == 1) {
			stat_add(&r->run.stats->files_copied, 1);
			stat_add(&r->run.stats->links_created, 1);
		}
		if (ret >= 0) {
			ret = 0;
			continue;
		}
		if (ret == -ENOENT && r->nfailed) {
			/* its leader was not restored (--keep-going) */
			remember_failed(r, j->e, eb->msg);
			errbuf_clear(eb);
			ret = 0;
			continue;
		}
		if (ret != -EXDEV && ret != -EMLINK && ret != -EPERM)
			break;
		errbuf_clear(eb);
		if (!h && (ret = hasher_new(&h, eb)) < 0)
			break;
		if (!buf && !(buf = malloc(COPY_BUF))) {
			ret = errbuf_set(eb, -ENOMEM, "out of memory");
			break;
		}
		/* a copy, not a link: it needs its own xattrs */
		ret = restore_load_xattrs(r, j->e, eb);
		if (!ret)
			ret = write_file(r->tw, r->heap, h, buf, j->e,
					 r->run.stats, &src_bad, eb);
		if (!ret)
			stat_add(&r->run.stats->files_copied, 1);
	}
	hasher_free(h);
	free(buf);
	return ret;
}
