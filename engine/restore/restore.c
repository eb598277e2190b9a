/* restore: bring FILE_ROOT to the state of a snapshot.
 *
 *   1. check the target snapshot whole (checksum, names, duplicates, one
 *      type per name and nothing under a non-directory, heap objects
 *      present) before touching anything;
 *   2. record the tree's current state (a saved snapshot, or a scratch one)
 *   3. pass 1, diff current vs target: delete what must go (and prune the
 *      directories that became empty);
 *   4. pass 2, diff again: files to write go to a pool of workers
 *      (heap object -> MD5-verified copy -> temp -> rename), symlinks and
 *      empty directories are created, metadata of equal files fixed;
 *   5. syncfs, then the "after" snapshot.
 * Deletions come before writes so a name never changes type under a
 * writer (file "a" replaced by directory "a/..." and vice versa). */
#include <errno.h>
#include <fcntl.h>
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
#include "filter.h"
#include "inner_roots.h"
#include "engine.h"
#include "hasher.h"
#include "heap.h"
#include "heap_presence.h"
#include "hardlinks.h"
#include "lane_copy.h"
#include "link_map.h"
#include "objstore.h"
#include "md5mb.h"
#include "owners.h"
#include "progress.h"
#include "snapshot_reader.h"
#include "snapshot_shape.h"
#include "snapstore.h"
#include "tree_writer.h"
#include "remote_tree.h"
#include "relpath.h"
#include "clock.h"
#include "xattr.h"
#include "sparse.h"
#include "lock.h"
#include "fdio.h"
#include "banned.h"

#define COPY_BUF (1024 * 1024)
#define QUEUE_CAP 4096
#define BATCH 32

struct restore_run {
	const struct engine_opts *o;
	const struct restore_opts *ro;
	struct logger *log;
	struct run_stats *stats;
	struct heap *heap;
	struct snapstore *ss;       /* SNAP_ROOT: target, "before" */
	int rootfd;
	struct shardq *queue;       /* struct entry * to write, by dir */
	unsigned next_worker;       /* workers take their shard index */
	pthread_mutex_t err_lock;
	struct errbuf err;
	struct tree_writer *tw;     /* pass 1 (main thread) */
	struct remote_tree *rtree;  /* FILE_ROOT in an object store, or NULL */
	struct filter *filter;      /* --include/--exclude, or NULL */
	struct inner_roots inner;   /* + heap/snap roots inside the tree */
	char **pruned;              /* names whose parents may be empty */
	size_t npruned, cap_pruned;
	/* keep_going / dry run with read_data: files not restorable */
	char **failed;              /* "'name': why", under err_lock */
	size_t nfailed, cap_failed;
	bool failed_oom;
	struct hasher *dry_h;       /* dry run with read_data */
	char *dry_buf;
	struct snapshot_header tgt_hdr;  /* the target's, after a pass */
	uint32_t strip_mode;        /* S_ISUID|S_ISGID unless kept, or 0 */
	uint64_t setid_stripped;    /* files that had them (pass 2) */
	unsigned xattr_ns;          /* enum xattr_ns applied, 0: none */
	bool owners_apply;          /* root: chown to the recorded owners */
	struct owner_cache *owners; /* name -> local id (pass thread) */
	struct link_map *links;     /* hard-link groups, or NULL */
	/* pass 2: members to link once every file is written */
	struct link_job *link_jobs;
	size_t nlink_jobs, cap_link_jobs;
};

/* e->name becomes a hard link of leader (a file of this run) */
struct link_job {
	struct entry *e;
	const char *leader;         /* borrowed from links */
	size_t leader_len;
};

static void run_fail(struct restore_run *r, const struct errbuf *eb, int code)
{
	pthread_mutex_lock(&r->err_lock);
	if (!r->err.code) {
		r->err.code = code;
		memcpy(r->err.msg, eb->msg, sizeof(r->err.msg));
	}
	pthread_mutex_unlock(&r->err_lock);
	if (r->queue)
		shardq_abort(r->queue);
}

static const char *shown_name(const struct entry *e, char *buf, size_t cap)
{
	errbuf_quote_name(buf, cap, e->name, e->name_len);
	return buf;
}

/* A file whose heap object is missing or corrupt (keep_going, or a dry
 * run that reads the data): remembered for the list at the end. */
static void remember_failed(struct restore_run *r, const struct entry *e,
			    const char *why)
{
	char shown[512], *line;
	size_t len;

	shown_name(e, shown, sizeof(shown));
	len = strlen(shown) + strlen(why) + 8;
	line = malloc(len);
	pthread_mutex_lock(&r->err_lock);
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
	pthread_mutex_unlock(&r->err_lock);
}

/* Is ret, from reading e's heap object, damage of that object (missing,
 * corrupt, bigger than recorded) rather than a failure of the run? */
static bool source_damage(int ret)
{
	return ret == -ENOENT || ret == -EBADMSG || ret == -EFBIG;
}

/* A stream over a snapshot reader that drops exact duplicates (same name,
 * same content: the Python tool warns and goes on). */
struct dedup_stream {
	struct snapshot_reader *r;
	/* entries it leaves out are skipped (NULL: none) */
	const struct inner_roots *inner;
	/* mode bits cleared on files (setuid/setgid when not root), and
	 * where to count the files that had them (NULL: not counted) */
	uint32_t strip;
	uint64_t *stripped;
	/* recorded owner names mapped to this system's ids (NULL: the
	 * recorded numbers as they are) */
	struct owner_cache *owners;
	/* the entries' owners are not applied: forget them */
	bool drop_owners;
	struct entry last;
	bool has_last;
};

/* rsync's rule: by name where this system knows the name, else by the
 * recorded number */
static void map_owner(struct owner_cache *c, struct entry *e)
{
	uint32_t id;

	if (e->user && owner_cache_uid(c, e->user, &id))
		e->uid = id;
	if (e->group && owner_cache_gid(c, e->group, &id))
		e->gid = id;
}

static int dedup_next(void *ctx, struct entry *out, struct errbuf *eb)
{
	struct dedup_stream *d = ctx;
	int ret;

	for (;;) {
		ret = snapshot_reader_next(d->r, out, eb);
		if (ret <= 0)
			return ret;
		if ((d->has_last && entry_cmp(&d->last, out) == 0) ||
		    (d->inner && !inner_roots_allow((void *)d->inner, out->name,
						    out->name_len,
						    out->type == ENTRY_DIR))) {
			entry_release(out);
			continue;
		}
		entry_release(&d->last);
		ret = entry_copy(&d->last, out);
		if (ret < 0) {
			entry_release(out);
			return errbuf_set(eb, ret, "out of memory");
		}
		d->has_last = true;
		if (d->drop_owners)
			out->has_owner = false;
		else if (out->has_owner && d->owners)
			map_owner(d->owners, out);
		if (out->type == ENTRY_FILE && (out->mode & d->strip)) {
			out->mode &= ~d->strip;
			if (d->stripped)
				(*d->stripped)++;
		}
		return 1;
	}
}

static void dedup_release(struct dedup_stream *d)
{
	entry_release(&d->last);
	snapshot_reader_free(d->r);
	memset(d, 0, sizeof(*d));
}

/* Step 1: the whole target is valid and every object it needs exists. */
static int check_target(struct restore_run *r, const char *path,
			struct errbuf *eb)
{
	struct snapshot_reader *rd = NULL;
	struct heap_presence *batch = NULL;
	struct snapshot_shape *shape = NULL;
	struct entry prev, e;
	bool has_prev = false;
	char shown[512];
	int ret;

	entry_init(&prev);
	/* every object looked up before anything is touched, in
	 * parallel batches */
	if (r->heap && !r->ro->keep_going &&
	    (ret = heap_presence_new(r->heap, r->o->jobs, &batch, eb)) < 0)
		return ret;
	ret = snapshot_shape_new(&shape, eb);
	if (ret < 0) {
		heap_presence_free(batch);
		return ret;
	}
	ret = snapstore_open_reader(r->ss, path, &rd, eb);
	if (ret < 0) {
		snapshot_shape_free(shape);
		heap_presence_free(batch);
		return ret;
	}
	while ((ret = snapshot_reader_next(rd, &e, eb)) == 1) {
		/* one type per name, nothing under a non-directory: else
		 * the restore would fail half-way through the tree */
		ret = snapshot_shape_add(shape, &e, eb);
		if (ret < 0) {
			errbuf_wrap(eb, ret, "refusing snapshot '%s'", path);
			entry_release(&e);
			break;
		}
		if (has_prev && entry_cmp(&prev, &e) == 0) {
			if (!entry_same_content(&prev, &e)) {
				ret = errbuf_set(eb, -EBADMSG,
						 "refusing snapshot '%s': two "
						 "entries named '%s' with "
						 "different content", path,
						 shown_name(&e, shown,
							    sizeof(shown)));
				entry_release(&e);
				break;
			}
			log_warn(r->log, "snapshot '%s' lists '%s' twice "
				 "(same content): using it once", path,
				 shown_name(&e, shown, sizeof(shown)));
		}
		if (e.type == ENTRY_FILE && batch &&
		    (ret = heap_presence_add(batch, &e.md5, e.name,
					     e.name_len, eb)) < 0) {
			entry_release(&e);
			break;
		}
		/* an xattr list kept in the heap is checked up front too
		 * (when restore will apply it: r->xattr_ns is set later) */
		if (e.has_xattr_ref && !r->o->no_xattrs &&
		    !objstore_is_url(r->o->file_root) && batch &&
		    (ret = heap_presence_add(batch, &e.xattr_md5, e.name,
					     e.name_len, eb)) < 0) {
			entry_release(&e);
			break;
		}
		if (e.link && r->links &&
		    link_map_want(r->links, e.link, e.link_len) == -ENOMEM) {
			ret = errbuf_set(eb, -ENOMEM, "out of memory");
			entry_release(&e);
			break;
		}
		entry_release(&prev);
		prev = e;
		has_prev = true;
	}
	if (!ret && batch)
		ret = heap_presence_finish(batch, eb);
	heap_presence_free(batch);
	snapshot_shape_free(shape);
	entry_release(&prev);
	snapshot_reader_free(rd);
	return ret < 0 ? ret : 0;
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
						 shown_name(e, shown,
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
						 shown_name(e, shown,
							    sizeof(shown)),
						 strerror(-ret));
		}
	}
	if (!ret && dst >= 0 && e->sparse && ftruncate(dst, (off_t)*total))
		ret = errbuf_set(eb, -errno, "cannot write '%s': %s",
				 shown_name(e, shown, sizeof(shown)),
				 strerror(errno));
	if (!ret)
		ret = hasher_final(h, &got, eb);
	if (!ret && (!objid_eq(&got, &e->md5) || *total != e->size))
		ret = errbuf_set(eb, -EBADMSG, "heap object %s is corrupt (its "
				 "content does not match its md5): not "
				 "restoring '%s'", hex,
				 shown_name(e, shown, sizeof(shown)));
	return ret;
}

/* A restore worker's multi-buffer MD5 state (writer_main). */
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
				   shown_name(e, shown, sizeof(shown)));
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
				   shown_name(e, shown, sizeof(shown)));
	}
	ret = copy_verified(h, buf, fd, -1, e, &total, eb);
	*src_bad = ret == -EBADMSG;
	if (!ret)
		ret = remote_tree_write(r->rtree, e, fd, total, &e->md5, eb);
	if (!ret) {
		stat_add(&r->stats->bytes_read, total);
		stat_add(&r->stats->bytes_written, total);
	}
	close(fd);
	return ret;
}

/* A restore worker's feed of lane_copy: the files of its queue, taken
 * without waiting while the lanes copy (so large files that arrive one
 * by one still share the lanes); symlinks met on the way are written at
 * once. Every file comes back through feed_done and is judged as the
 * one-at-a-time loop in writer_main judges its files. */
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

		if (r->o->interrupted && *r->o->interrupted) {
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
			stat_add(&r->stats->files_copied, 1);
		entry_free(e);
	}
	return NULL;
}

static void feed_done(void *ctx, struct lane_file *f)
{
	struct lane_feed *fd = ctx;
	struct restore_run *r = fd->r;

	if (!f->ret)
		stat_add(&r->stats->files_copied, 1);
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
		      r->stats, r->o->interrupted);
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
	if (r->rtree)
		return 0;
	ret = engine_md5_resolve(r->o->md5, &impl, eb);
	if (ret < 0)
		return ret;
	lw->window = lane_copy_window(r->o->jobs);
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

static void *writer_main(void *arg)
{
	struct restore_run *r = arg;
	struct errbuf eb = ERRBUF_INIT;
	struct tree_writer *tw = NULL;
	struct hasher *h = NULL;
	struct lane_worker lw;
	char *buf = malloc(COPY_BUF);
	size_t shard = __atomic_fetch_add(&r->next_worker, 1,
					  __ATOMIC_RELAXED);
	void *items[BATCH];
	int n, i, ret;

	ret = lane_worker_init(r, &lw, &eb);
	if (!ret && !buf)
		ret = errbuf_set(&eb, -ENOMEM, "out of memory");
	if (!ret)
		ret = tree_writer_new(r->rootfd, r->o->file_root, &tw, &eb);
	if (!ret) {
		tree_writer_set_owners(tw, r->owners_apply,
				       &r->stats->owners_skipped);
		tree_writer_set_xattrs(tw, r->xattr_ns,
				       &r->stats->xattrs_unsupported,
				       &r->stats->xattrs_skipped);
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

			if (ret == 0 && r->o->interrupted && *r->o->interrupted)
				ret = errbuf_set(&eb, -EINTR, "interrupted");
			if (ret == 0) {
				bool src_bad = false;

				if (e->type == ENTRY_FILE && r->rtree)
					ret = write_remote(r, h, buf, e,
							   &src_bad, &eb);
				else if (e->type == ENTRY_FILE)
					ret = write_file(tw, r->heap, h, buf, e,
							 r->stats, &src_bad,
							 &eb);
				else
					ret = tree_writer_symlink(tw, e, &eb);
				if (!ret)
					stat_add(&r->stats->files_copied, 1);
				if (!ret && r->rtree && store_drops_meta(e))
					stat_add(&r->stats->meta_not_kept, 1);
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
	return NULL;
}

static int remember_prune(struct restore_run *r, const struct entry *e)
{
	if (!memchr(e->name, '/', e->name_len))
		return 0;
	if (r->npruned == r->cap_pruned) {
		size_t cap = r->cap_pruned ? r->cap_pruned * 2 : 64;
		char **p = realloc(r->pruned, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		r->pruned = p;
		r->cap_pruned = cap;
	}
	r->pruned[r->npruned] = strdup(e->name);
	if (!r->pruned[r->npruned])
		return -ENOMEM;
	r->npruned++;
	return 0;
}

/* Pass 1: deletions. */
static int pass_delete(void *ctx, enum diff_state st, const struct entry *l,
		       const struct entry *t, struct errbuf *eb)
{
	struct restore_run *r = ctx;
	int ret;

	if (st == DIFF_EQUAL || st == DIFF_ONLY_RIGHT)
		return 0;
	/* same type: replaced in place by rename in pass 2 */
	if (st == DIFF_DIFFERENT && l->type == t->type)
		return 0;
	if (r->ro->dry_run) {
		if (st == DIFF_ONLY_LEFT)
			diff_print_plan("delete", l);
		stat_add(&r->stats->files_deleted, 1);
		return 0;
	}
	if (r->o->interrupted && *r->o->interrupted)
		return errbuf_set(eb, -EINTR, "interrupted");
	if (r->rtree) {
		ret = remote_tree_remove(r->rtree, l, eb);
		if (!ret)
			stat_add(&r->stats->files_deleted, 1);
		return ret;
	}
	ret = tree_writer_remove(r->tw, l, eb);
	if (ret < 0)
		return ret;
	stat_add(&r->stats->files_deleted, 1);
	if (remember_prune(r, l))
		return errbuf_set(eb, -ENOMEM, "out of memory");
	return 0;
}

/* The same xattrs as far as this restore applies them: not root, the
 * security.* and trusted.* names of either side are not ours to change,
 * so they make no difference (else such an entry would be "updated" on
 * every run). A list kept in the heap is compared by its md5 (whole). */
static bool xattrs_same(const struct restore_run *r, const struct entry *l,
			const struct entry *t)
{
	if (r->xattr_ns == XATTR_NS_ALL || l->has_xattr_ref ||
	    t->has_xattr_ref || !l->xattrs_known)
		return entry_same_xattrs(l, t);
	return xattr_same_in(l->xattrs, l->xattrs_len, t->xattrs,
			     t->xattrs_len, r->xattr_ns);
}

static bool meta_differs(const struct restore_run *r, const struct entry *l,
			 const struct entry *t)
{
	if (t->no_meta)
		return false;  /* nothing recorded to restore */
	if (l->mtime_ns != t->mtime_ns)
		return true;
	/* xattrs recorded in the target and not the same now: fixed in
	 * place, the content stays */
	if (r->xattr_ns && t->xattrs_known && !xattrs_same(r, l, t))
		return true;
	/* target owners are known only when they are applied (root) */
	if (entry_owner_differs(l, t))
		return true;
	return l->type != ENTRY_SYMLINK && (l->mode & 07777) != (t->mode & 07777);
}

/* Dry run: would the heap object of t restore? Missing (keep_going: not
 * checked up front) and, with read_data, corrupt objects are remembered
 * for the list at the end. */
static int dry_check(struct restore_run *r, const struct entry *t,
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
static int load_xattrs(struct restore_run *r, struct entry *e,
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
				   shown_name(e, shown, sizeof(shown)));
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
				 shown_name(e, shown, sizeof(shown)));
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

/* tree_writer_set_meta with the entry's xattrs loaded */
static int set_meta(struct restore_run *r, const struct entry *t,
		    struct errbuf *eb)
{
	struct entry tmp;
	int ret;

	if (!r->xattr_ns || !t->has_xattr_ref)
		return tree_writer_set_meta(r->tw, t, eb);
	ret = entry_copy(&tmp, t);
	if (ret < 0)
		return errbuf_set(eb, ret, "out of memory");
	ret = load_xattrs(r, &tmp, eb);
	if (!ret)
		ret = tree_writer_set_meta(r->tw, &tmp, eb);
	entry_release(&tmp);
	return ret;
}

/* A later member of a hard-link group whose leader this run writes (or
 * keeps): remembered, to be linked once every file is written (1); 0
 * when t is written as a file. */
static int plan_link(struct restore_run *r, const struct entry *t,
		     struct errbuf *eb)
{
	struct link_job *j;
	const char *leader;
	size_t leader_len;
	int ret;

	ret = link_map_member(r->links, t, &leader, &leader_len);
	if (ret <= 0)
		return ret < 0 ? errbuf_set(eb, ret, "out of memory") : 0;
	if (r->nlink_jobs == r->cap_link_jobs) {
		size_t cap = r->cap_link_jobs ? r->cap_link_jobs * 2 : 64;

		j = realloc(r->link_jobs, cap * sizeof(*j));
		if (!j)
			return errbuf_set(eb, -ENOMEM, "out of memory");
		r->link_jobs = j;
		r->cap_link_jobs = cap;
	}
	j = &r->link_jobs[r->nlink_jobs];
	j->e = entry_new();
	if (!j->e || entry_copy(j->e, t)) {
		free(j->e);
		return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	j->leader = leader;
	j->leader_len = leader_len;
	r->nlink_jobs++;
	return 1;
}

/* --dry-run: a later member of a group is shown as "link" (counted as
 * the run would: files_copied and links_created, no bytes), or not at
 * all when the tree already has it as a link of the same first member
 * (1); 0 when it is written as a file. */
static int dry_plan_link(struct restore_run *r, enum diff_state st,
			 const struct entry *l, const struct entry *t,
			 struct errbuf *eb)
{
	const char *leader;
	size_t leader_len;
	int ret;

	ret = link_map_member(r->links, t, &leader, &leader_len);
	if (ret <= 0)
		return ret < 0 ? errbuf_set(eb, ret, "out of memory") : 0;
	if (st == DIFF_EQUAL && l->link && l->link_len == leader_len &&
	    !memcmp(l->link, leader, leader_len))
		return 1;
	diff_print_plan("link", t);
	stat_add(&r->stats->files_copied, 1);
	stat_add(&r->stats->links_created, 1);
	return 1;
}

/* After pass 2: every planned member becomes a link of its leader (a
 * member that already is one stays). A filesystem that refuses the link
 * (another mount under the root, a link count limit) gets a copy. */
static int make_links(struct restore_run *r, struct errbuf *eb)
{
	struct hasher *h = NULL;
	char *buf = NULL;
	size_t i;
	int ret = 0;

	for (i = 0; !ret && i < r->nlink_jobs; i++) {
		struct link_job *j = &r->link_jobs[i];
		bool src_bad = false;

		if (r->o->interrupted && *r->o->interrupted) {
			ret = errbuf_set(eb, -EINTR, "interrupted");
			break;
		}
		ret = tree_writer_link(r->tw, j->leader, j->leader_len, j->e,
				       eb);
		if (ret == 1) {
			stat_add(&r->stats->files_copied, 1);
			stat_add(&r->stats->links_created, 1);
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
		ret = load_xattrs(r, j->e, eb);
		if (!ret)
			ret = write_file(r->tw, r->heap, h, buf, j->e,
					 r->stats, &src_bad, eb);
		if (!ret)
			stat_add(&r->stats->files_copied, 1);
	}
	hasher_free(h);
	free(buf);
	return ret;
}

/* Pass 2: writes and metadata. */
static int pass_write(void *ctx, enum diff_state st, const struct entry *l,
		      const struct entry *t, struct errbuf *eb)
{
	struct restore_run *r = ctx;
	struct entry *copy;
	int ret;

	if (st == DIFF_ONLY_LEFT)
		return 0;
	if (r->rtree && t->type != ENTRY_FILE) {
		/* stores hold files only: directories are implied by the
		 * keys, symlinks cannot be kept */
		if (t->type == ENTRY_SYMLINK) {
			char shown[512];

			log_warn(r->log, "not restoring symlink '%s': object "
				 "stores hold files only",
				 shown_name(t, shown, sizeof(shown)));
			stat_add(&r->stats->files_skipped, 1);
		}
		return 0;
	}
	if (r->rtree && st == DIFF_EQUAL)
		return 0;  /* no mode or mtime to fix on a store */
	if (t->type == ENTRY_DIR) {
		/* made here, in stream order, before anything goes inside;
		 * mode and mtime come in pass 3 */
		if (st != DIFF_ONLY_RIGHT)
			return 0;
		stat_add(&r->stats->dirs_created, 1);
		if (r->ro->dry_run) {
			diff_print_plan("create", t);
			return 0;
		}
		ret = tree_writer_mkdir(r->tw, t, false, eb);
		return ret < 0 ? ret : 0;
	}
	if (r->links && !r->ro->dry_run && t->type == ENTRY_FILE) {
		ret = plan_link(r, t, eb);
		if (ret != 0)
			return ret < 0 ? ret : 0;
	}
	if (r->links && r->ro->dry_run && t->type == ENTRY_FILE) {
		ret = dry_plan_link(r, st, l, t, eb);
		if (ret != 0)
			return ret < 0 ? ret : 0;
	}
	if (st == DIFF_EQUAL) {
		if (!meta_differs(r, l, t))
			return 0;
		stat_add(&r->stats->files_updated, 1);
		if (r->ro->dry_run) {
			diff_print_plan("update", t);
			return 0;
		}
		return set_meta(r, t, eb);
	}
	if (r->ro->dry_run && t->type == ENTRY_FILE &&
	    (r->ro->read_data || r->ro->keep_going)) {
		ret = dry_check(r, t, eb);
		if (ret < 0)
			return ret;
	}
	if (r->ro->dry_run) {
		diff_print_plan(st == DIFF_ONLY_RIGHT ? "create" : "replace", t);
		stat_add(t->type == ENTRY_DIR ? &r->stats->dirs_created :
			 &r->stats->files_copied, 1);
		if (t->type == ENTRY_FILE)
			stat_add(&r->stats->bytes_written, t->size);
		return 0;
	}
	copy = entry_new();
	if (!copy || entry_copy(copy, t)) {
		free(copy);
		return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	ret = load_xattrs(r, copy, eb);
	if (ret < 0) {
		entry_free(copy);
		return ret;
	}
	ret = shardq_push(r->queue, shardq_file_key(copy->name, copy->name_len,
					       copy->size),
			  copy);
	if (ret < 0) {
		entry_free(copy);
		return errbuf_set(eb, -ECANCELED, "stopped");
	}
	return 0;
}

/* Pass 3: directory modes and mtimes, once nothing more is written into
 * them. Parents come first, which is fine: changing a child's metadata
 * needs no write permission on the parent and does not touch its mtime. */
static int pass_dir_meta(void *ctx, enum diff_state st, const struct entry *l,
			 const struct entry *t, struct errbuf *eb)
{
	struct restore_run *r = ctx;
	bool differs;

	if (st == DIFF_ONLY_LEFT || t->type != ENTRY_DIR || r->rtree ||
	    t->no_meta)
		return 0;
	differs = l && meta_differs(r, l, t);
	if (differs)
		stat_add(&r->stats->files_updated, 1);
	if (r->ro->dry_run) {
		if (differs)
			diff_print_plan("update", t);
		return 0;
	}
	return set_meta(r, t, eb);
}

/* Last: the root's own mode and mtime, when the snapshot has them (old
 * and Python snapshots do not: the root is left as it is). Writing
 * inside moved the mtime until now. */
static int set_root_meta(struct restore_run *r, struct errbuf *eb)
{
	const struct snapshot_header *h = &r->tgt_hdr;
	struct timespec ts;

	if (r->ro->dry_run || !r->tw)
		return 0;
	if (h->has_root_owner) {
		struct entry e;
		int ret;

		/* the same rules as every entry's owner (map_owner) */
		entry_init(&e);
		e.uid = h->root_uid;
		e.gid = h->root_gid;
		e.user = h->root_user[0] ? (char *)h->root_user : NULL;
		e.group = h->root_group[0] ? (char *)h->root_group : NULL;
		if (r->owners)
			map_owner(r->owners, &e);
		ret = tree_writer_set_root_owner(r->tw, e.uid, e.gid, eb);
		if (ret < 0)
			return ret;
	}
	if (!h->has_root_meta)
		return 0;
	ts.tv_sec = h->root_mtime_ns / 1000000000LL;
	ts.tv_nsec = h->root_mtime_ns % 1000000000LL;
	if (ts.tv_nsec < 0) {
		ts.tv_sec--;
		ts.tv_nsec += 1000000000LL;
	}
	return tree_writer_set_root_meta(r->tw, h->root_mode,
					 h->has_root_xattrs ? h->root_xattrs :
					 NULL, h->root_xattrs_len, &ts, eb);
}

static ssize_t fd_read(void *ctx, void *buf, size_t len)
{
	return fdio_read(*(int *)ctx, buf, len);
}

/* Open the current-state snapshot (a path or the scratch fd) and the
 * target as deduplicated streams, then run one diff pass. */
static int run_pass(struct restore_run *r, const char *cur_path, int *cur_fd,
		    const char *target, diff_cb cb, struct errbuf *eb)
{
	struct dedup_stream cur, tgt;
	struct entry_stream ls, rs;
	int ret;

	memset(&cur, 0, sizeof(cur));
	memset(&tgt, 0, sizeof(tgt));
	if (cur_path) {
		ret = snapstore_open_reader(r->ss, cur_path, &cur.r, eb);
	} else {
		if (lseek(*cur_fd, 0, SEEK_SET) < 0)
			return errbuf_set(eb, -errno, "cannot rewind the "
					  "current-state snapshot: %s",
					  strerror(errno));
		ret = snapshot_reader_new(fd_read, cur_fd, "current state",
					  &cur.r, eb);
	}
	if (ret < 0)
		return ret;
	ret = snapstore_open_reader(r->ss, target, &tgt.r, eb);
	if (ret < 0) {
		dedup_release(&cur);
		return ret;
	}
	ls.next = dedup_next;
	ls.ctx = &cur;
	rs.next = dedup_next;
	rs.ctx = &tgt;
	/* the current state was scanned with the same rules already; a
	 * snapshot naming the heap or snapshot root inside the tree must
	 * not write into them */
	tgt.inner = inner_roots_active(&r->inner) ? &r->inner : NULL;
	tgt.strip = r->strip_mode;
	tgt.stripped = cb == pass_write ? &r->setid_stripped : NULL;
	tgt.owners = r->owners;
	/* not root: owners stay as created, so no difference in them is
	 * one to fix; the writers count the ones skipped */
	tgt.drop_owners = !r->owners_apply && cb != pass_write;
	cur.drop_owners = !r->owners_apply;
	ret = diff_run(&ls, &rs, cb, r, eb);
	r->tgt_hdr = *snapshot_reader_header(tgt.r);
	dedup_release(&cur);
	dedup_release(&tgt);
	return ret;
}

static int cmp_len_desc(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

	return la < lb ? 1 : la > lb ? -1 : 0;
}

int engine_restore(const struct engine_opts *o, const struct restore_opts *ro,
		   struct run_stats *stats, struct errbuf *eb)
{
	struct restore_run r;
	struct logger log = o->log;
	struct make_snapshot_opts mo;
	struct run_stats sub;
	struct progress prog;
	struct lock *lk = NULL;
	pthread_t *threads = NULL;
	unsigned jobs = o->jobs ? o->jobs : 1, started = 0, i;
	char *target = NULL, *before = NULL, *after = NULL;
	int scratch = -1;
	int64_t start_ns = clock_now_ns();
	double t0 = clock_mono_s();
	int ret;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.ro = ro;
	r.log = &log;
	r.stats = stats;
	r.rootfd = -1;
	pthread_mutex_init(&r.err_lock, NULL);
	memset(&prog, 0, sizeof(prog));

	if (!o->file_root || !o->heap_root || !o->snap_root) {
		ret = errbuf_set(eb, -EINVAL, "restore-snapshot needs "
				 "--file-root, --heap-root and --snap-root");
		goto out;
	}
	/* a shared lock for the whole run: gc must not delete the objects
	 * being restored (a dry run writes nothing, not even a lock) */
	if (!ro->dry_run) {
		ret = lock_acquire(o, LOCK_SHARED, "restore-snapshot", &lk, eb);
		/* a backup readable but not writable by this user (a read-only
		 * mount, another owner) is restored without a lock when the
		 * run writes nothing into SNAP_ROOT: refusing would leave the
		 * user no way to get their files back */
		if ((ret == -EACCES || ret == -EPERM || ret == -EROFS) &&
		    !ro->save_before && !ro->save_after) {
			log_warn(&log, "%s; restoring without a lock (a gc "
				 "running meanwhile could remove objects this "
				 "restore needs)", eb->msg);
			errbuf_clear(eb);
			ret = 0;
		}
		if (ret < 0)
			goto out;
	}
	ret = snapstore_open(o->snap_root, o->snap_storage_options, o, &r.ss,
			     eb);
	if (ret < 0)
		goto out;
	if (ro->path) {
		target = strdup(ro->path);
		ret = target ? 0 : errbuf_set(eb, -ENOMEM, "out of memory");
	} else {
		ret = snapstore_find_latest(r.ss, ro->has_latest,
					    ro->latest_ns, &target, eb);
	}
	if (ret < 0)
		goto out;
	log_info(&log, "restoring '%s' into '%s'", target, o->file_root);
	ret = filter_from_opts(o->include, o->exclude, &r.filter, eb);
	if (ret < 0)
		goto out;
	ret = inner_roots_init(&r.inner, o, r.filter);
	if (ret < 0) {
		ret = errbuf_set(eb, ret, "out of memory");
		goto out;
	}
	ret = heap_open_url(o->heap_root, false, o, &r.heap, eb);
	if (ret < 0)
		goto out;
	/* owners and hard links live in local trees only */
	if (!objstore_is_url(o->file_root)) {
		r.owners_apply = geteuid() == 0;
		if ((r.owners_apply && !ro->numeric_ids &&
		     owner_cache_new(&r.owners) < 0) ||
		    (!ro->no_hard_links &&
		     link_map_new(HARDLINKS_MAX_GROUPS, &r.links) < 0)) {
			ret = errbuf_set(eb, -ENOMEM, "out of memory");
			goto out;
		}
	}
	ret = check_target(&r, target, eb);
	if (ret < 0)
		goto out;

	/* current state */
	if (objstore_is_url(o->file_root)) {
		ret = remote_tree_open(o->file_root, o->file_storage_options, o,
				       !ro->dry_run, &r.rtree, eb);
		if (ret < 0)
			goto out;
	} else if (!ro->dry_run) {
		ret = relpath_mkdir_p(o->file_root, eb);
		if (ret < 0)
			goto out;
	}
	memset(&mo, 0, sizeof(mo));
	memset(&sub, 0, sizeof(sub));
	/* what a crashed restore or sync left in the root goes now, and
	 * into no snapshot (a dry run only reads) */
	mo.tree_temps = !ro->dry_run;
	if (ro->save_before && !ro->dry_run) {
		mo.save = true;
		ret = engine_make_snapshot(o, &mo, &sub, &before, eb);
	} else {
		scratch = open(P_tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (scratch < 0) {
			ret = errbuf_set(eb, -errno, "cannot create a temp file "
					 "in '%s': %s", P_tmpdir,
					 strerror(errno));
			goto out;
		}
		mo.to_fd = true;
		mo.out_fd = scratch;
		if (r.rtree || access(o->file_root, F_OK) == 0) {
			ret = engine_make_snapshot(o, &mo, &sub, &before, eb);
		} else {
			/* dry run into a missing root: empty current state */
			struct engine_opts empty = *o;
			char dir[] = "/tmp/snapshooter-empty-XXXXXX";

			if (!mkdtemp(dir)) {
				ret = errbuf_set(eb, -errno, "mkdtemp: %s",
						 strerror(errno));
				goto out;
			}
			empty.file_root = dir;
			ret = engine_make_snapshot(&empty, &mo, &sub, &before,
						   eb);
			rmdir(dir);
		}
	}
	if (ret < 0) {
		errbuf_wrap(eb, ret, "cannot record the current state of '%s'",
			    o->file_root);
		goto out;
	}
	if (before)
		log_info(&log, "saved the state before restore as '%s'", before);

	if (!ro->dry_run && !r.rtree) {
		r.rootfd = open(o->file_root, O_RDONLY | O_DIRECTORY |
				O_CLOEXEC);
		if (r.rootfd < 0) {
			ret = errbuf_set(eb, -errno, "cannot open '%s': %s",
					 o->file_root, strerror(errno));
			goto out;
		}
		ret = tree_writer_new(r.rootfd, o->file_root, &r.tw, eb);
		if (ret < 0)
			goto out;
		tree_writer_set_owners(r.tw, r.owners_apply,
				       &stats->owners_skipped);
	}
	/* xattrs: security.* and trusted.* need root (CAP_SYS_ADMIN for
	 * trusted, CAP_SETFCAP for capabilities) */
	if (!o->no_xattrs && !r.rtree)
		r.xattr_ns = XATTR_NS_USER | XATTR_NS_ACL |
			     (geteuid() == 0 ? XATTR_NS_PRIV : 0);
	if (r.tw)
		tree_writer_set_xattrs(r.tw, r.xattr_ns,
				       &stats->xattrs_unsupported,
				       &stats->xattrs_skipped);
	/* as tar: a user other than root restores no setuid/setgid file
	 * (root restores owners too, so its bits mean what they meant) */
	if (!ro->keep_setid && geteuid() != 0)
		r.strip_mode = S_ISUID | S_ISGID;
	progress_start(&prog, "restore-snapshot", stats, &log, o->progress);

	/* pass 1: deletions */
	ret = run_pass(&r, before, &scratch, target, pass_delete, eb);
	if (ret < 0)
		goto out;
	if (r.npruned) {
		qsort(r.pruned, r.npruned, sizeof(*r.pruned), cmp_len_desc);
		for (i = 0; i < r.npruned; i++) {
			ret = tree_writer_prune_parents(r.tw, r.pruned[i],
							strlen(r.pruned[i]), eb);
			if (ret < 0)
				goto out;
		}
	}

	/* pass 2: writes on a pool of workers */
	if (!ro->dry_run) {
		ret = shardq_new(jobs, QUEUE_CAP / jobs + 1, &r.queue);
		if (ret < 0) {
			ret = errbuf_set(eb, ret, "out of memory");
			goto out;
		}
		threads = calloc(jobs, sizeof(*threads));
		for (i = 0; threads && i < jobs; i++) {
			if (pthread_create(&threads[i], NULL, writer_main, &r))
				break;
			started++;
		}
		if (!started) {
			ret = errbuf_set(eb, -EAGAIN, "cannot start threads");
			goto out;
		}
	}
	ret = run_pass(&r, before, &scratch, target, pass_write, eb);
	if (r.setid_stripped)
		log_warn(&log, "%s%llu file%s without %s setuid/setgid bits: "
			 "not running as root (--keep-setid keeps them)",
			 ro->dry_run ? "dry run: " : "",
			 (unsigned long long)r.setid_stripped,
			 r.setid_stripped == 1 ? "" : "s",
			 r.setid_stripped == 1 ? "its" : "their");
	if (r.queue) {
		if (ret < 0)
			shardq_abort(r.queue);
		else
			shardq_close(r.queue);
	}
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	started = 0;
	if (r.err.code) {
		/* a worker's error is the cause; the diff only saw "stopped" */
		*eb = r.err;
		ret = r.err.code;
		goto out;
	}
	if (ret < 0)
		goto out;
	ret = make_links(&r, eb);
	if (ret < 0)
		goto out;
	ret = run_pass(&r, before, &scratch, target, pass_dir_meta, eb);
	xattr_warn(&log, o->file_root, stats);
	store_meta_warn(&log, o->file_root, stats);
	if (ret < 0)
		goto out;
	ret = set_root_meta(&r, eb);
	if (ret < 0)
		goto out;
	if (stats->owners_skipped)
		log_warn(&log, "%llu entr%s the owner of the running user "
			 "instead of the recorded one: not running as root",
			 (unsigned long long)stats->owners_skipped,
			 stats->owners_skipped == 1 ? "y keeps" : "ies keep");
	if (r.nfailed || r.failed_oom) {
		/* everything else is written: now the list of what is not */
		for (i = 0; i < r.nfailed; i++)
			log_error(&log, "not restored: %s", r.failed[i]);
		ret = errbuf_set(eb, -EIO, "%s%zu file%s could not be "
				 "restored (missing or corrupt heap objects, "
				 "listed above%s)",
				 ro->dry_run ? "dry run: " : "", r.nfailed,
				 r.nfailed == 1 ? "" : "s",
				 r.failed_oom ? "; more left out: out of "
				 "memory" : "");
		/* one error per file (out: adds the run's one) */
		if (r.nfailed)
			stats->errors += r.nfailed - 1;
		goto out;
	}
	if (ro->dry_run)
		goto out;
	if (o->fsync && r.rootfd >= 0 && syncfs(r.rootfd)) {
		ret = errbuf_set(eb, -errno, "cannot sync '%s': %s",
				 o->file_root, strerror(errno));
		goto out;
	}
	progress_stop(&prog);
	if (ro->save_after) {
		memset(&mo, 0, sizeof(mo));
		mo.save = true;
		/* the tree now matches target: trust its md5s by size and
		 * mtime, except for files touched since the restore began */
		mo.previous_path = target;
		mo.reuse_size_mtime_only = true;
		mo.racy_after_ns = start_ns;
		mo.tree_temps = true;
		memset(&sub, 0, sizeof(sub));
		ret = engine_make_snapshot(o, &mo, &sub, &after, eb);
		if (ret < 0) {
			errbuf_wrap(eb, ret, "restore done, but saving the "
				    "state after it failed");
			goto out;
		}
		log_info(&log, "saved the state after restore as '%s'", after);
	}
	ret = 0;
out:
	progress_stop(&prog);
	if (r.queue) {
		void *item;

		shardq_abort(r.queue);
		for (i = 0; i < started; i++)
			pthread_join(threads[i], NULL);
		while (shardq_drain(r.queue, &item) == 1)
			entry_free(item);
		shardq_free(r.queue);
	}
	free(threads);
	for (i = 0; i < r.nlink_jobs; i++)
		entry_free(r.link_jobs[i].e);
	free(r.link_jobs);
	link_map_free(r.links);
	owner_cache_free(r.owners);
	for (i = 0; i < r.npruned; i++)
		free(r.pruned[i]);
	free(r.pruned);
	for (i = 0; i < r.nfailed; i++)
		free(r.failed[i]);
	free(r.failed);
	hasher_free(r.dry_h);
	free(r.dry_buf);
	tree_writer_free(r.tw);
	if (r.rootfd >= 0)
		close(r.rootfd);
	if (scratch >= 0)
		close(scratch);
	heap_free(r.heap);
	remote_tree_free(r.rtree);
	snapstore_free(r.ss);
	inner_roots_release(&r.inner);
	filter_free(r.filter);
	free(target);
	free(before);
	free(after);
	lock_release(lk);
	pthread_mutex_destroy(&r.err_lock);
	stats->seconds = clock_mono_s() - t0;
	if (ret < 0)
		stats->errors++;
	return ret;
}
