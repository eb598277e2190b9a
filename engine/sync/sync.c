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
 * symlink in the way) is retried once the deletions made room.
 *
 * This file runs it: the scan feeds, the worker pool, then links,
 * deletions and deferred copies. The plan is sync_plan.c, the copies
 * sync_copy.c, what they share sync_impl.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sync_impl.h"

#include "shardq.h"
#include "workpool.h"
#include "filter.h"
#include "objstore.h"
#include "progress.h"
#include "relpath.h"
#include "root_nesting.h"
#include "tmpfile.h"
#include "tree.h"
#include "tree_writer.h"
#include "clock.h"
#include "xattr.h"
#include "banned.h"

#define QUEUE_CAP 4096
#define BATCH 32

void sync_run_fail(struct sync_run *r, const struct errbuf *eb, int code)
{
	run_error_set(&r->run.err, eb, code);
	sync_async_cancel(&r->async);
	workpool_abort(r->pool);
	tree_scan_abort(r->src_scan);
	tree_scan_abort(r->dst_scan);
}

static bool allow_entry(void *ctx, const char *relpath, size_t len,
			bool is_dir)
{
	return filter_allows(ctx, relpath, len, is_dir);
}

/* Are both sides file systems (directories, links, xattrs: what a store
 * does not keep)? */
static bool both_fs(const struct sync_run *r)
{
	return r->src_fs && r->dst_fs;
}

static int feed_next(void *ctx, struct entry *out, struct errbuf *eb)
{
	return tree_scan_next(ctx, out, eb);
}

/* One side's scan, walking ahead of the merge (both sides at once). */
static int feed_start(struct sync_run *r, bool src, struct errbuf *eb)
{
	struct tree_scan_opts so;
	struct scan_opts *walk = &so.scan;

	memset(&so, 0, sizeof(so));
	walk->log = r->run.log;
	walk->allow = filter_count(r->filter) ? allow_entry : NULL;
	walk->allow_ctx = r->filter;
	walk->files_scanned = src ? &r->run.stats->files_scanned : NULL;
	walk->files_skipped = src ? &r->run.stats->files_skipped : NULL;
	walk->io = engine_io_backend(r->run.o);
	walk->interrupted = r->run.o->interrupted;
	walk->missing_root_ok = !src && r->so->dry_run;
	/* an empty store SRC would empty DST: most likely a typo */
	walk->empty_store_is_missing = src;
	/* DST is ours to write: what a crashed restore or sync left there
	 * goes now (tree_temp.h), even with --no-delete */
	walk->reap_tree_temps = !src && !r->so->dry_run;
	/* SRC's link groups, as rsync -H finds them (DST's are checked by
	 * inode when linking) */
	walk->hard_links = src && !r->so->no_hard_links && both_fs(r);
	/* both sides are walked at once: share the prefetch threads */
	walk->prefetch_threads =
		r->run.o->scan_jobs / 2 ? r->run.o->scan_jobs / 2 : 1;
	/* both sides read the names that are copied: what cannot be set
	 * here would otherwise differ on every run */
	walk->xattrs = r->xattr_ns;
	so.ahead = QUEUE_CAP;
	return tree_scan_start(src ? r->src_tree : r->dst_tree, &so,
			       src ? &r->src_scan : &r->dst_scan, eb);
}

/* Is this error a conflict with an entry of another type in DST, to
 * retry once the deletions made room? */
static bool is_conflict(int err)
{
	return err == -ENOTDIR || err == -EISDIR || err == -ENOTEMPTY ||
	       err == -ELOOP || err == -EEXIST;
}

/* A writer of DST for this thread, applying owners and xattrs as the run
 * decided. */
static int dst_writer_new(struct sync_run *r, struct tree_writer **tw,
			  struct errbuf *eb)
{
	int ret;

	ret = tree_writer_new(r->dstfd, r->so->dst, tw, eb);
	if (ret < 0)
		return ret;
	tree_writer_set_owners(*tw, r->owners_apply,
			       &r->run.stats->owners_skipped);
	tree_writer_set_xattrs(*tw, r->xattr_ns,
			       &r->run.stats->xattrs_unsupported,
			       &r->run.stats->xattrs_skipped);
	return 0;
}

/* A copier (the pool's work): the jobs of its shard until the queue
 * ends; its first error fails the run and aborts the pool. */
static void copy_work(void *arg, size_t shard)
{
	struct sync_run *r = arg;
	struct errbuf eb = ERRBUF_INIT;
	struct tree_writer *tw = NULL;
	char *buf = malloc(SYNC_BUF_SIZE);
	void *items[BATCH];
	int n, i, ret = 0;

	if (!buf)
		ret = errbuf_set(&eb, -ENOMEM, "out of memory");
	if (!ret)
		ret = dst_writer_new(r, &tw, &eb);
	if (ret < 0) {
		sync_run_fail(r, &eb, ret);
		goto out;
	}
	while ((n = shardq_pop_batch(r->jobs, shard, items, BATCH)) > 0) {
		for (i = 0; i < n; i++) {
			struct job *j = items[i];

			if (!ret && r->run.o->interrupted &&
			    *r->run.o->interrupted)
				ret = errbuf_set(&eb, -EINTR, "interrupted");
			if (!ret) {
				ret = sync_do_job(r, tw, j, buf, &eb);
				if (is_conflict(ret) && !sync_defer(r, j)) {
					errbuf_clear(&eb);
					ret = 0;
					continue;
				}
			}
			sync_job_free(j);
		}
		if (ret < 0) {
			sync_run_fail(r, &eb, ret);
			break;
		}
	}
out:
	tree_writer_free(tw);
	free(buf);
}

/* DST inside SRC (or the reverse) would copy into itself or delete the
 * source: refuse, by name, through mounts, or by bucket and prefix. */
static int check_nesting(struct sync_run *r, struct errbuf *eb)
{
	const char *src = r->so->src, *dst = r->so->dst;
	int ret;

	/* a SRC that is not there is said as such (root_nesting would
	 * resolve it through its parent) */
	if (r->src_fs && access(src, F_OK))
		return errbuf_set(eb, -errno, "cannot open source '%s': %s",
				  src, strerror(errno));
	if (both_fs(r))
		ret = root_nesting(src, dst, eb);
	else if (r->src_fs || r->dst_fs)
		return 0;  /* a store and a local directory never nest */
	else
		ret = root_nesting(tree_root(r->src_tree),
				   tree_root(r->dst_tree), eb);
	if (ret > 0 && (ret & ROOT_OVERLAP))
		return errbuf_set(eb, -EINVAL, "refusing to sync '%s' into '%s':"
				  " a mount inside one shows a part of the "
				  "other (writing DST would change SRC)", src,
				  dst);
	ret = ret < 0 ? ret : ret & (ROOT_A_IN_B | ROOT_B_IN_A);
	if (ret > 0)
		return errbuf_set(eb, -EINVAL, "refusing to sync '%s' into '%s':"
				  " one is inside the other (%s)", src, dst,
				  ret == ROOT_A_IN_B ? "SRC is inside DST: the "
				  "sync would delete it" :
				  ret == ROOT_B_IN_A ? "DST is inside SRC: SRC "
				  "would be copied into itself" :
				  "they are one directory");
	return ret;
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

		if (r->run.o->interrupted && *r->run.o->interrupted)
			ret = errbuf_set(eb, -EINTR, "interrupted");
		else
			ret = tree_writer_link(tw, e->link, e->link_len, e, eb);
		if (ret == 1) {
			stat_add(&r->run.stats->files_copied, 1);
			stat_add(&r->run.stats->links_created, 1);
		}
		if (ret >= 0) {
			ret = 0;
			continue;
		}
		if (ret != -EXDEV && ret != -EMLINK && ret != -EPERM)
			break;
		errbuf_clear(eb);
		if (!buf && !(buf = malloc(SYNC_BUF_SIZE))) {
			ret = errbuf_set(eb, -ENOMEM, "out of memory");
			break;
		}
		ret = sync_copy_file(r, tw, e, buf, eb);
		if (!ret)
			stat_add(&r->run.stats->files_copied, 1);
	}
	free(buf);
	return ret;
}

/* The deletions the merge spilled (type, u32 name length, name each), in
 * stream order. A local DST loses its emptied directories with them. */
static int delete_recorded(struct sync_run *r, struct tree_writer *tw,
			   struct errbuf *eb)
{
	char *name = NULL;
	int ret = 0;

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
		if (!r->dst_fs) {
			ret = tree_remove(r->dst_tree, &e, eb);
		} else {
			ret = tree_writer_remove(tw, &e, eb);
			/* emptied directories go, but not one the source has
			 * (empty there: the mirror keeps it; a store source
			 * has no directories of its own) */
			if (!ret)
				ret = tree_writer_prune_parents(
					tw, name, len, r->srcfd,
					eb);
		}
		if (ret < 0)
			break;
		stat_add(&r->run.stats->files_deleted, 1);
	}
	free(name);
	return ret;
}

/* A deferred file or symlink found a directory still in its place: the
 * deletions emptied what they could, the rest was not the sync's to
 * delete (rsync: "cannot delete non-empty directory"). Say which. */
static void blocked_by_kept(const struct sync_run *r, const struct entry *e,
			    struct errbuf *eb)
{
	char shown[512];

	errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
	errbuf_wrap(eb, -EISDIR, "cannot replace the directory '%s' in '%s' "
		    "with a %s: --exclude/--include or --no-delete keep it "
		    "or entries in it", shown, r->so->dst,
		    e->type == ENTRY_SYMLINK ? "symlink" : "file");
}

/* Copies that waited for room (the conflicting entry is gone unless it
 * was not ours to delete: --no-delete, or an excluded name) and new
 * directories, in stream order. */
static int retry_deferred(struct sync_run *r, struct tree_writer *tw,
			  struct errbuf *eb)
{
	size_t i;
	int ret = 0;

	for (i = 0; !ret && i < r->ndeferred; i++) {
		struct job *j = r->deferred[i];
		char *buf;

		if (j->e.type == ENTRY_DIR) {
			if (j->kind == JOB_COPY) {
				ret = tree_writer_mkdir(tw, &j->e, false, eb);
				if (ret > 0)
					stat_add(&r->run.stats->dirs_created,
						 1);
				ret = ret < 0 ? ret : 0;
			}
			continue;
		}
		buf = malloc(SYNC_BUF_SIZE);
		if (!buf) {
			ret = errbuf_set(eb, -ENOMEM, "out of memory");
			break;
		}
		ret = sync_do_job(r, tw, j, buf, eb);
		free(buf);
		if (ret == -EISDIR && r->dst_fs)
			blocked_by_kept(r, &j->e, eb);
	}
	return ret;
}

/* Directory metadata last: writes inside moved their mtimes. */
static int set_dirs_meta(struct sync_run *r, struct tree_writer *tw,
			 struct errbuf *eb)
{
	size_t i;
	int ret = 0;

	for (i = 0; !ret && i < r->ndeferred; i++) {
		struct job *j = r->deferred[i];

		if (j->e.type != ENTRY_DIR)
			continue;
		ret = tree_writer_set_meta(tw, &j->e, eb);
		if (!ret && j->meta_differs)
			stat_add(&r->run.stats->files_updated, 1);
	}
	return ret;
}

/* And the root's own, as rsync -a: local trees only (a store has no
 * directories). */
static int set_root_meta(struct sync_run *r, struct tree_writer *tw,
			 struct errbuf *eb)
{
	unsigned char *x = NULL;
	size_t xlen = 0;
	struct stat st;
	int ret;

	if (fstat(r->srcfd, &st))
		ret = errbuf_set(eb, -errno, "cannot stat '%s': %s",
				 r->so->src, strerror(errno));
	else
		ret = tree_writer_set_root_owner(tw, st.st_uid, st.st_gid, eb);
	if (!ret && r->xattr_ns) {
		ret = xattr_read(r->srcfd, NULL, r->xattr_ns, &x, &xlen);
		if (ret < 0)
			ret = errbuf_set(eb, ret, "cannot read the xattrs of "
					 "'%s': %s", r->so->src,
					 strerror(-ret));
	}
	if (!ret) {
		/* SRC's root with no xattrs: an empty list, which removes
		 * DST's extra ones (NULL would leave them, as for a store) */
		static const unsigned char none[] = { 0x90 };

		ret = tree_writer_set_root_meta(tw, st.st_mode & 07777,
						x ? x : (r->xattr_ns ? none :
							 NULL),
						x ? xlen : (r->xattr_ns ?
							    sizeof(none) : 0),
						&st.st_mtim, eb);
	}
	free(x);
	return ret;
}

/* A dry run's line for DST's root: "update ." when set_root_meta would
 * change its owner (when root), mode, mtime or xattrs (a DST that does
 * not exist yet: the real run creates it, nothing to say). */
static void plan_root_meta(const struct sync_run *r)
{
	unsigned char *xs = NULL, *xd = NULL;
	size_t ls = 0, ld = 0;
	struct stat s, d;
	bool differs;

	if (r->srcfd < 0 || r->dstfd < 0 || fstat(r->srcfd, &s) ||
	    fstat(r->dstfd, &d))
		return;
	differs = (s.st_mode & 07777) != (d.st_mode & 07777) ||
		  s.st_mtim.tv_sec != d.st_mtim.tv_sec ||
		  s.st_mtim.tv_nsec != d.st_mtim.tv_nsec ||
		  (r->owners_apply &&
		   (s.st_uid != d.st_uid || s.st_gid != d.st_gid));
	/* an unreadable list counts as differing: the real run would
	 * read it and fail */
	if (!differs && r->xattr_ns)
		differs = xattr_read(r->srcfd, NULL, r->xattr_ns, &xs, &ls) ||
			  xattr_read(r->dstfd, NULL, r->xattr_ns, &xd, &ld) ||
			  !xattr_same_in(xs, ls, xd, ld, r->xattr_ns);
	free(xs);
	free(xd);
	if (differs)
		printf("update .\n");
}

/* After all copies: carry out the recorded deletions, retry the copies
 * that waited for room, make the links, set the directories' metadata.
 * The steps share one tree_writer and run in this order: each needs the
 * room or the state the one before made. */
static int apply_deletions(struct sync_run *r, struct errbuf *eb)
{
	struct tree_writer *tw = NULL;
	int ret;

	if (r->dst_fs) {
		ret = dst_writer_new(r, &tw, eb);
		if (ret < 0)
			return ret;
	}
	ret = delete_recorded(r, tw, eb);
	if (!ret)
		ret = retry_deferred(r, tw, eb);
	if (!ret)
		ret = make_links(r, tw, eb);
	if (!ret)
		ret = set_dirs_meta(r, tw, eb);
	if (!ret && tw && r->srcfd >= 0)
		ret = set_root_meta(r, tw, eb);
	tree_writer_free(tw);
	return ret;
}

static void init_run(struct sync_run *r, const struct engine_opts *o,
		     const struct sync_opts *so, struct logger *log,
		     struct run_stats *stats, double t0)
{
	memset(r, 0, sizeof(*r));
	run_init(&r->run, o, log, stats);
	r->so = so;
	r->srcfd = r->dstfd = -1;
	r->bw_start = t0;
	r->owners_apply = geteuid() == 0;
	pthread_mutex_init(&r->lock, NULL);
	objstore_etag_probe_init(&r->src_etags);
	/* as many uploads out as requests in flight and queued in the
	 * network stage, at most 64 MiB of bodies */
	sync_async_init(&r->async, r, stats, 2 * (o->transfers ?
						  o->transfers : 16),
			64u << 20);
}

/* SRC and DST opened (r->src_tree, r->dst_tree, what each keeps:
 * r->src_fs, r->dst_fs); DST in a store is created unless the run is
 * dry, a local one by prepare_dst. */
static int open_trees(struct sync_run *r, struct errbuf *eb)
{
	const struct engine_opts *o = r->run.o;
	const struct sync_opts *so = r->so;
	int ret;

	ret = tree_open(so->src, o->file_storage_options, o, false,
			&r->src_tree, eb);
	if (!ret)
		ret = tree_open(so->dst, o->file_storage_options, o,
				!so->dry_run, &r->dst_tree, eb);
	if (ret < 0)
		return ret;
	r->src_fs = tree_caps(r->src_tree) & TREE_CAP_FS;
	r->dst_fs = tree_caps(r->dst_tree) & TREE_CAP_FS;
	atomic_init(&r->same_store, !r->src_fs && !r->dst_fs &&
		    objstore_same_service(tree_objstore(r->dst_tree),
					  tree_objstore(r->src_tree)));
	return 0;
}

/* A run that writes: a local DST created, and the spill file the merge
 * records deletions in (carried out only after every copy). */
static int prepare_dst(struct sync_run *r, struct errbuf *eb)
{
	int dfd, fd, ret;

	if (r->so->dry_run)
		return 0;
	ret = r->dst_fs ? relpath_mkdir_p(r->so->dst, eb) : 0;
	if (ret < 0)
		return ret;
	/* one name per deletion: into DST when it is a folder that takes
	 * an unnamed file (a sync into a folder needs nothing of TMPDIR,
	 * as its downloads do not), else where the user keeps temps
	 * ($TMPDIR; tmpfile(3) took /tmp whatever it said) */
	dfd = r->dst_fs ? open(r->so->dst, O_RDONLY | O_DIRECTORY |
			       O_CLOEXEC) : -1;
	fd = tmpfile_open_near(dfd, eb);
	if (dfd >= 0)
		close(dfd);
	if (fd < 0)
		return fd;
	r->deletions = fdopen(fd, "w+");
	if (!r->deletions) {
		ret = -errno;
		close(fd);
		return errbuf_set(eb, ret, "cannot open sync's list of "
				  "deletions: %s", strerror(-ret));
	}
	return 0;
}

/* Both scans, started at once; the root fds of local trees kept for
 * the deletions and the root's metadata. */
static int start_feeds(struct sync_run *r, struct errbuf *eb)
{
	int ret;

	ret = feed_start(r, true, eb);
	if (!ret)
		ret = feed_start(r, false, eb);
	if (ret < 0)
		return ret;
	r->srcfd = tree_scan_rootfd(r->src_scan);
	r->dstfd = tree_scan_rootfd(r->dst_scan);
	return 0;
}

static void free_job_item(void *item)
{
	sync_job_free(item);
}

/* The copy pool: its queue (r->jobs) and up to jobs copiers; 0 when at
 * least one runs (the pool is r's either way: stop_workers frees it). */
static int start_workers(struct sync_run *r, struct errbuf *eb)
{
	const struct workpool_def def = {
		/* a side in an object store: the copiers wait on requests */
		.workers = engine_workers(r->run.o, !both_fs(r)),
		.shards = 0,  /* one per copier: a directory's files on one */
		.queue_cap = QUEUE_CAP,
		.work = copy_work,
		.arg = r,
		.free_item = free_job_item,
	};
	int ret;

	ret = workpool_new(&def, &r->pool, eb);
	if (ret < 0)
		return ret;
	r->jobs = workpool_queue(r->pool);
	log_debug(r->run.log, "sync: %u copier%s", def.workers,
		  def.workers == 1 ? "" : "s");
	return workpool_start(r->pool, eb);
}

/* The merge of SRC and DST (sync_on_diff), feeding the workers; their
 * queue is closed after it (aborted if it failed). */
static int merge(struct sync_run *r, struct errbuf *eb)
{
	struct entry_stream ls, rs;
	int ret;

	ls.next = feed_next;
	ls.ctx = r->src_scan;
	rs.next = feed_next;
	rs.ctx = r->dst_scan;
	ret = diff_run(&ls, &rs, sync_on_diff, r, eb);
	if (ret < 0)
		workpool_abort(r->pool);
	else
		workpool_close(r->pool);
	return ret;
}

/* --max-delete: a SRC that went missing or empty would otherwise empty
 * DST. */
static int check_max_delete(const struct sync_run *r, struct errbuf *eb)
{
	const struct sync_opts *so = r->so;

	if (so->max_delete >= 0 && r->ndelete > (uint64_t)so->max_delete)
		return errbuf_set(eb, -EPERM, "refusing to delete %llu files "
				  "from '%s' (--max-delete %lld): nothing "
				  "deleted; check SRC",
				  (unsigned long long)r->ndelete, so->dst,
				  (long long)so->max_delete);
	return 0;
}

/* Once every copy succeeded: the deletions and what waited for them,
 * what could not be applied said once, then DST made durable. */
static int finish_dst(struct sync_run *r, struct errbuf *eb)
{
	const struct sync_opts *so = r->so;
	struct run_stats *stats = r->run.stats;
	int ret;

	ret = apply_deletions(r, eb);
	xattr_warn(r->run.log, so->dst, stats);
	store_meta_warn(r->run.log, so->dst, stats);
	if (ret < 0)
		return ret;
	if (stats->owners_skipped)
		log_warn(r->run.log,
			 "%llu entr%s the owner of the running user "
			 "instead of the source's: not running as root",
			 (unsigned long long)stats->owners_skipped,
			 stats->owners_skipped == 1 ? "y keeps" : "ies keep");
	if (r->run.o->fsync && r->dstfd >= 0 && syncfs(r->dstfd))
		return errbuf_set(eb, -errno, "cannot sync '%s': %s", so->dst,
				  strerror(errno));
	return 0;
}

/* The copy pool stopped (the copiers still running joined), the jobs
 * left in its queue freed. */
static void stop_workers(struct sync_run *r)
{
	workpool_free(r->pool);
	r->pool = NULL;
	r->jobs = NULL;
}

/* Everything else the run holds, the scans stopped first. */
static void release_run(struct sync_run *r)
{
	size_t i;

	tree_scan_free(r->src_scan);
	tree_scan_free(r->dst_scan);
	tree_free(r->src_tree);
	tree_free(r->dst_tree);
	for (i = 0; i < r->ndeferred; i++)
		sync_job_free(r->deferred[i]);
	for (i = 0; i < r->nlinks; i++)
		entry_free(r->links[i]);
	free(r->links);
	free(r->deferred);
	if (r->deletions)
		fclose(r->deletions);
	filter_free(r->filter);
	pthread_mutex_destroy(&r->lock);
	objstore_etag_probe_destroy(&r->src_etags);
	run_destroy(&r->run);
	sync_async_destroy(&r->async);
}

/* The run: the steps in order (see the top of this file), every failure
 * going to out:, the single exit that releases what they acquired. */
int engine_sync(const struct engine_opts *o, const struct sync_opts *so,
		struct run_stats *stats, struct errbuf *eb)
{
	struct sync_run r;
	struct logger log = o->log;
	struct progress prog;
	double t0 = clock_mono_s();
	int ret;

	init_run(&r, o, so, &log, stats, t0);
	memset(&prog, 0, sizeof(prog));

	if (!so->src || !so->dst) {
		ret = errbuf_set(eb, -EINVAL, "sync needs SRC and DST");
		goto out;
	}
	ret = open_trees(&r, eb);
	if (ret < 0)
		goto out;
	ret = check_nesting(&r, eb);
	if (ret < 0)
		goto out;
	ret = filter_from_opts(o->include, o->exclude, &r.filter, eb);
	if (ret < 0)
		goto out;
	ret = prepare_dst(&r, eb);
	if (ret < 0)
		goto out;
	/* xattrs between local trees only: stores keep none */
	if (!o->no_xattrs && both_fs(&r))
		r.xattr_ns = XATTR_NS_USER | XATTR_NS_ACL |
			     (geteuid() == 0 ? XATTR_NS_PRIV : 0);
	ret = start_feeds(&r, eb);
	if (ret < 0)
		goto out;

	progress_start(&prog, "sync", stats, &log, o->progress);
	if (!so->dry_run) {
		ret = start_workers(&r, eb);
		if (ret < 0)
			goto out;
	}
	ret = merge(&r, eb);
	workpool_join(r.pool);
	if (ret < 0)
		sync_async_cancel(&r.async);
	/* every upload ended before anything is told or released: their
	 * callbacks count into stats and may fail the run */
	sync_async_wait(&r.async);
	if (run_error_failed(&r.run.err)) {
		ret = run_error_take(&r.run.err, eb);
		goto out;
	}
	if (ret < 0)
		goto out;
	ret = check_max_delete(&r, eb);
	if (ret < 0)
		goto out;
	if (so->dry_run) {
		plan_root_meta(&r);
		stats->files_deleted = r.ndelete;
		goto out;
	}
	ret = finish_dst(&r, eb);
out:
	progress_stop(&prog);
	stop_workers(&r);
	release_run(&r);
	stats->seconds = clock_mono_s() - t0;
	if (ret < 0)
		stats->errors++;
	return ret;
}
