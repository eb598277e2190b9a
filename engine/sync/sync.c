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
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sync_impl.h"

#include "bqueue.h"
#include "shardq.h"
#include "filter.h"
#include "objstore.h"
#include "progress.h"
#include "relpath.h"
#include "remote_tree.h"
#include "scan.h"
#include "tree_writer.h"
#include "clock.h"
#include "xattr.h"
#include "banned.h"

#define QUEUE_CAP 4096
#define BATCH 32

static void run_fail(struct sync_run *r, const struct errbuf *eb, int code)
{
	run_error_set(&r->err, eb, code);
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

/* Is this error a conflict with an entry of another type in DST, to
 * retry once the deletions made room? */
static bool is_conflict(int err)
{
	return err == -ENOTDIR || err == -EISDIR || err == -ENOTEMPTY ||
	       err == -ELOOP || err == -EEXIST;
}

static void *worker_main(void *arg)
{
	struct sync_run *r = arg;
	struct errbuf eb = ERRBUF_INIT;
	struct tree_writer *tw = NULL;
	char *buf = malloc(SYNC_BUF_SIZE);
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
			run_fail(r, &eb, ret);
			break;
		}
	}
out:
	tree_writer_free(tw);
	free(buf);
	return NULL;
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
		if (!buf && !(buf = malloc(SYNC_BUF_SIZE))) {
			ret = errbuf_set(eb, -ENOMEM, "out of memory");
			break;
		}
		ret = sync_copy_file(r, tw, e, buf, eb);
		if (!ret)
			stat_add(&r->stats->files_copied, 1);
	}
	free(buf);
	return ret;
}

/* After all copies: carry out the recorded deletions, prune emptied
 * directories, retry the copies that waited for room. One function,
 * though long, because its steps share one tree_writer and must run in
 * this order: each needs the room or the state the one before made. */
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
			/* emptied directories go, but not one the source has
			 * (empty there: the mirror keeps it; a store source
			 * has no directories of its own) */
			if (!ret)
				ret = tree_writer_prune_parents(
					tw, name, len, r->rsrc ? -1 : r->srcfd,
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
		buf = malloc(SYNC_BUF_SIZE);
		if (!buf) {
			ret = errbuf_set(eb, -ENOMEM, "out of memory");
			break;
		}
		ret = sync_do_job(r, tw, j, buf, eb);
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

/* Long because it owns the run: every resource is set up here in order
 * and released at its single exit (out:); the stages it starts are the
 * functions above and those of sync_plan.c and sync_copy.c. */
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
	run_error_init(&r.err);

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
	ret = diff_run(&ls, &rs, sync_on_diff, &r, eb);
	if (r.jobs) {
		if (ret < 0)
			shardq_abort(r.jobs);
		else
			shardq_close(r.jobs);
	}
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	started = 0;
	if (run_error_failed(&r.err)) {
		ret = run_error_take(&r.err, eb);
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
			sync_job_free(item);
		shardq_free(r.jobs);
	}
	free(threads);
	feed_stop(&r.src);
	feed_stop(&r.dst);
	remote_tree_free(r.rsrc);
	remote_tree_free(r.rdst);
	for (i = 0; i < r.ndeferred; i++)
		sync_job_free(r.deferred[i]);
	for (i = 0; i < r.nlinks; i++)
		entry_free(r.links[i]);
	free(r.links);
	free(r.deferred);
	if (r.deletions)
		fclose(r.deletions);
	filter_free(r.filter);
	pthread_mutex_destroy(&r.lock);
	run_error_destroy(&r.err);
	stats->seconds = clock_mono_s() - t0;
	if (ret < 0)
		stats->errors++;
	return ret;
}
