/* restore: bring FILE_ROOT to the state of a snapshot.
 *
 *   1. check the target snapshot whole (checksum, names, duplicates, one
 *      type per name and nothing under a non-directory, heap objects
 *      present) before touching anything;
 *   2. record the tree's current state (a saved snapshot, or a scratch one)
 *   3. pass 1, diff current vs target: delete what must go (a directory
 *      once its contents are gone: only directories the target lacks);
 *   4. pass 2, diff again: files to write go to a pool of workers
 *      (heap object -> MD5-verified copy -> temp -> rename), symlinks and
 *      empty directories are created, metadata of equal files fixed;
 *   5. syncfs, then the "after" snapshot.
 * Deletions come before writes so a name never changes type under a
 * writer (file "a" replaced by directory "a/..." and vice versa).
 *
 * This file holds the run (engine_restore) and step 1; the passes are in
 * restore_plan.c, the workers and the copies from the heap in
 * restore_copy.c (restore_impl.h: what they share). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workpool.h"
#include "filter.h"
#include "inner_roots.h"
#include "engine.h"
#include "hasher.h"
#include "heap.h"
#include "heap_presence.h"
#include "hardlinks.h"
#include "link_map.h"
#include "objstore.h"
#include "owners.h"
#include "progress.h"
#include "snapshot_reader.h"
#include "snapshot_shape.h"
#include "snapstore.h"
#include "tree_writer.h"
#include "tmpfile.h"
#include "tree.h"
#include "relpath.h"
#include "clock.h"
#include "xattr.h"
#include "lock.h"
#include "make_snapshot.h"
#include "restore_impl.h"
#include "banned.h"

#define QUEUE_CAP 4096

const char *restore_shown_name(const struct entry *e, char *buf, size_t cap)
{
	errbuf_quote_name(buf, cap, e->name, e->name_len);
	return buf;
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
	bool store_root = objstore_is_url(r->run.o->file_root);
	char shown[512];
	int ret;

	entry_init(&prev);
	/* every object looked up before anything is touched, in
	 * parallel batches */
	if (r->heap && !r->ro->keep_going &&
	    (ret = heap_presence_new(r->heap, r->run.o->jobs, &batch, eb)) < 0)
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
						 restore_shown_name(&e, shown,
								    sizeof(shown)));
				entry_release(&e);
				break;
			}
			log_warn(r->run.log, "snapshot '%s' lists '%s' twice "
				 "(same content): using it once", path,
				 restore_shown_name(&e, shown, sizeof(shown)));
		}
		/* a name the store would keep as another file (Azure's
		 * '\\', a trailing '.') or not at all (not UTF-8); not one
		 * the filters leave out: it is never written */
		if (e.type == ENTRY_FILE && store_root &&
		    inner_roots_allow(&r->inner, e.name, e.name_len, false) &&
		    (ret = objstore_check_name(r->run.o->file_root, e.name,
					       eb)) < 0) {
			errbuf_wrap(eb, ret, "refusing snapshot '%s'", path);
			entry_release(&e);
			break;
		}
		if (e.type == ENTRY_FILE && batch &&
		    (ret = heap_presence_add(batch, &e.md5, e.name,
					     e.name_len, eb)) < 0) {
			entry_release(&e);
			break;
		}
		/* an xattr list kept in the heap is checked up front too
		 * (when restore will apply it: r->xattr_ns is set later) */
		if (e.has_xattr_ref && !r->run.o->no_xattrs &&
		    !objstore_is_url(r->run.o->file_root) && batch &&
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

/* Arguments, the lock (*lk), SNAP_ROOT, the target's name (*target),
 * the filters, the heap and the owner and link maps; what it acquired
 * is the caller's to release, also on failure. */
static int open_run(struct restore_run *r, struct lock **lk, char **target,
		    struct errbuf *eb)
{
	const struct engine_opts *o = r->run.o;
	const struct restore_opts *ro = r->ro;
	int ret;

	if (!o->file_root || !o->heap_root || !o->snap_root) {
		ret = errbuf_set(eb, -EINVAL, "restore-snapshot needs "
				 "--file-root, --heap-root and --snap-root");
		return ret;
	}
	ret = inner_roots_refuse_outer(o, "restore into", eb);
	if (ret < 0)
		return ret;
	/* a shared lock for the whole run: gc must not delete the objects
	 * being restored (a dry run writes nothing, not even a lock) */
	if (!ro->dry_run) {
		ret = lock_acquire(o, LOCK_SHARED, "restore-snapshot", lk, eb);
		/* a backup readable but not writable by this user (a read-only
		 * mount, another owner) is restored without a lock when the
		 * run writes nothing into SNAP_ROOT: refusing would leave the
		 * user no way to get their files back */
		if ((ret == -EACCES || ret == -EPERM || ret == -EROFS) &&
		    !ro->save_before && !ro->save_after) {
			log_warn(r->run.log,
				 "%s; restoring without a lock (a gc "
				 "running meanwhile could remove objects this "
				 "restore needs)",
				 eb->msg);
			errbuf_clear(eb);
			ret = 0;
		}
		if (ret < 0)
			return ret;
		r->lock = *lk;
	}
	ret = snapstore_open(o->snap_root, o->snap_storage_options, o, &r->ss,
			     eb);
	if (ret < 0)
		return ret;
	if (ro->path) {
		*target = strdup(ro->path);
		ret = *target ? 0 : errbuf_set(eb, -ENOMEM, "out of memory");
	} else {
		ret = snapstore_find_latest(r->ss, ro->has_latest,
					    ro->latest_ns, target, eb);
	}
	if (ret < 0)
		return ret;
	log_info(r->run.log, "restoring '%s' into '%s'", *target, o->file_root);
	ret = filter_from_opts(o->include, o->exclude, &r->filter, eb);
	if (ret < 0)
		return ret;
	ret = inner_roots_init(&r->inner, o, r->filter);
	if (ret < 0) {
		ret = errbuf_set(eb, ret, "out of memory");
		return ret;
	}
	ret = heap_open_url(o->heap_root, false, o, &r->heap, eb);
	if (ret < 0)
		return ret;
	/* owners and hard links live in local trees only */
	if (!objstore_is_url(o->file_root)) {
		r->owners_apply = geteuid() == 0;
		if ((r->owners_apply && !ro->numeric_ids &&
		     owner_cache_new(&r->owners) < 0) ||
		    (!ro->no_hard_links &&
		     link_map_new(HARDLINKS_MAX_GROUPS, &r->links) < 0)) {
			ret = errbuf_set(eb, -ENOMEM, "out of memory");
			return ret;
		}
	}
	return 0;
}

/* Step 2: the tree's current state, saved as a snapshot (*before, its
 * name) or written to the scratch file (*scratch), by make-snapshot on
 * this run's stores and tree; FILE_ROOT is opened (r->tree, r->fs),
 * a local one created unless the run is dry. What it acquired is the
 * caller's to release, also on failure. */
static int record_current(struct restore_run *r, char **before, int *scratch,
			  struct errbuf *eb)
{
	const struct engine_opts *o = r->run.o;
	const struct restore_opts *ro = r->ro;
	struct make_snapshot_stores st;
	struct make_snapshot_opts mo;
	struct run_stats sub;
	int ret;

	ret = tree_open(o->file_root, o->file_storage_options, o,
			!ro->dry_run, &r->tree, eb);
	if (ret < 0)
		return ret;
	r->fs = tree_caps(r->tree) & TREE_CAP_FS;
	st = (struct make_snapshot_stores){ r->heap, r->ss, r->lock, r->tree };
	if (r->fs && !ro->dry_run) {
		ret = relpath_mkdir_p(o->file_root, eb);
		if (ret < 0)
			return ret;
	}
	memset(&mo, 0, sizeof(mo));
	memset(&sub, 0, sizeof(sub));
	/* what a crashed restore or sync left in the root goes now, and
	 * into no snapshot (a dry run only reads) */
	mo.tree_temps = !ro->dry_run;
	if (ro->save_before && !ro->dry_run) {
		mo.save = true;
		ret = make_snapshot_in(o, &mo, &st, &sub, before, eb);
	} else {
		/* the state before, unsaved: as large as a snapshot of
		 * the tree, so where the user keeps temps ($TMPDIR) */
		*scratch = tmpfile_open(tmpfile_dir(), eb);
		if (*scratch < 0)
			return *scratch;
		mo.to_fd = true;
		mo.out_fd = *scratch;
		/* a dry run into a root it would create: empty */
		mo.missing_root_ok = ro->dry_run;
		ret = make_snapshot_in(o, &mo, &st, &sub, before, eb);
	}
	if (ret < 0) {
		errbuf_wrap(eb, ret, "cannot record the current state of '%s'",
			    o->file_root);
		return ret;
	}
	if (!*before)
		return 0;
	log_info(r->run.log, "saved the state before restore as '%s'",
		 *before);
	if (ro->saved_before && !(*ro->saved_before = strdup(*before)))
		return errbuf_set(eb, -ENOMEM, "out of memory");
	return 0;
}

/* The main thread's writer of a local tree (r->rootfd, r->tw), and what
 * this run may restore: xattr namespaces, setuid/setgid bits. */
static int open_tree(struct restore_run *r, struct errbuf *eb)
{
	const struct engine_opts *o = r->run.o;
	const struct restore_opts *ro = r->ro;
	int ret;

	if (!ro->dry_run && r->fs) {
		r->rootfd = open(o->file_root, O_RDONLY | O_DIRECTORY |
				O_CLOEXEC);
		if (r->rootfd < 0) {
			ret = errbuf_set(eb, -errno, "cannot open '%s': %s",
					 o->file_root, strerror(errno));
			return ret;
		}
		ret = tree_writer_new(r->rootfd, o->file_root, &r->tw, eb);
		if (ret < 0)
			return ret;
		tree_writer_set_owners(r->tw, r->owners_apply,
				       &r->run.stats->owners_skipped);
	}
	/* xattrs: security.* and trusted.* need root (CAP_SYS_ADMIN for
	 * trusted, CAP_SETFCAP for capabilities) */
	if (!o->no_xattrs && r->fs)
		r->xattr_ns = XATTR_NS_USER | XATTR_NS_ACL |
			     (geteuid() == 0 ? XATTR_NS_PRIV : 0);
	if (r->tw)
		tree_writer_set_xattrs(r->tw, r->xattr_ns,
				       &r->run.stats->xattrs_unsupported,
				       &r->run.stats->xattrs_skipped);
	/* as tar: a user other than root restores no setuid/setgid file
	 * (root restores owners too, so its bits mean what they meant) */
	if (!ro->keep_setid && geteuid() != 0)
		r->strip_mode = S_ISUID | S_ISGID;
	return 0;
}

static int cmp_len_desc(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

	return la < lb ? 1 : la > lb ? -1 : 0;
}

/* After pass 1: the directories it deleted, now that their contents are
 * gone, deepest first (a child's name is longer than its parent's). One
 * still holding something pass 1 did not delete (an excluded name, a
 * file that appeared since the scan) stays. Never the parents of deleted
 * entries as such: the target may hold them empty (restoring such a
 * directory failed, and left it deleted, before 2026-12-06). */
static int prune_emptied(struct restore_run *r, struct errbuf *eb)
{
	unsigned i;
	int ret;

	qsort(r->pruned, r->npruned, sizeof(*r->pruned), cmp_len_desc);
	for (i = 0; i < r->npruned; i++) {
		struct entry e;

		entry_init(&e);
		e.name = r->pruned[i];
		e.name_len = strlen(r->pruned[i]);
		e.type = ENTRY_DIR;
		ret = tree_writer_remove(r->tw, &e, eb);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* A queued entry the writers never took. */
static void free_entry_item(void *item)
{
	entry_free(item);
}

/* Pass 2's pool: its queue (r->queue) and r->writers writers; 0 when at
 * least one runs (the pool is r's either way: stop_writers frees it). */
static int start_writers(struct restore_run *r, struct errbuf *eb)
{
	const struct workpool_def def = {
		.workers = r->writers,
		.shards = 0,  /* one per writer: a directory's files on one */
		.queue_cap = QUEUE_CAP,
		.work = restore_writer_work,
		.arg = r,
		.free_item = free_entry_item,
	};
	int ret;
	enum md5_impl impl = MD5_IMPL_OPENSSL;

	ret = workpool_new(&def, &r->pool, eb);
	if (ret < 0)
		return ret;
	r->queue = workpool_queue(r->pool);
	log_debug(r->run.log, "restore: %u writer%s", r->writers,
		  r->writers == 1 ? "" : "s");
	/* with MD5 lanes (lane_copy.c), large files hash faster the more
	 * of them share a worker's lanes: one worker per CPU takes them.
	 * Not from a heap in a store: there the workers wait on downloads,
	 * and every one of them should have its own. */
	if (r->fs && !objstore_is_url(r->run.o->heap_root) &&
	    engine_md5_resolve(r->run.o->md5, &impl, NULL) == 0 &&
	    impl != MD5_IMPL_OPENSSL)
		shardq_set_spread(r->queue, engine_usable_cpus());
	return workpool_start(r->pool, eb);
}

/* The files that could not be restored (keep_going, a dry run), listed
 * once everything else is written; -EIO in eb. */
static int report_failed(struct restore_run *r, struct errbuf *eb)
{
	unsigned i;
	int ret;

	/* everything else is written: now the list of what is not */
	for (i = 0; i < r->nfailed; i++)
		log_error(r->run.log, "not restored: %s", r->failed[i]);
	ret = errbuf_set(eb, -EIO, "%s%zu file%s could not be "
			 "restored (missing or corrupt heap objects, "
			 "listed above%s)",
			 r->ro->dry_run ? "dry run: " : "", r->nfailed,
			 r->nfailed == 1 ? "" : "s",
			 r->failed_oom ? "; more left out: out of "
			 "memory" : "");
	/* one error per file (out: adds the run's one) */
	if (r->nfailed)
		r->run.stats->errors += r->nfailed - 1;
	return ret;
}

/* The "after" snapshot (*after, its name), trusting the md5s of the
 * restored tree. */
static int save_after(struct restore_run *r, const char *target,
		      int64_t start_ns, char **after, struct errbuf *eb)
{
	const struct make_snapshot_stores st = { r->heap, r->ss, r->lock,
						 r->tree };
	struct make_snapshot_opts mo;
	struct run_stats sub;
	int ret;

	/* the tree matches target: a failure from here on leaves no
	 * restore to try again */
	if (r->ro->saved_before) {
		free(*r->ro->saved_before);
		*r->ro->saved_before = NULL;
	}
	memset(&mo, 0, sizeof(mo));
	mo.save = true;
	/* the tree now matches target: trust its md5s by size and
	 * mtime, except for files touched since the restore began */
	mo.previous_path = target;
	mo.reuse_size_mtime_only = true;
	mo.racy_after_ns = start_ns;
	mo.tree_temps = true;
	memset(&sub, 0, sizeof(sub));
	ret = make_snapshot_in(r->run.o, &mo, &st, &sub, after, eb);
	if (ret < 0) {
		errbuf_wrap(eb, ret, "restore done, but saving the "
			    "state after it failed");
		return ret;
	}
	log_info(r->run.log, "saved the state after restore as '%s'", *after);
	return 0;
}

/* Pass 2 over: the queue closed (aborted if the pass failed) and the
 * writers joined. */
static void join_writers(struct restore_run *r, bool failed)
{
	if (failed)
		workpool_abort(r->pool);
	else
		workpool_close(r->pool);
	workpool_join(r->pool);
}

static void warn_setid_stripped(const struct restore_run *r)
{
	if (r->setid_stripped)
		log_warn(r->run.log,
			 "%s%llu file%s without %s setuid/setgid bits: "
			 "not running as root (--keep-setid keeps them)",
			 r->ro->dry_run ? "dry run: " : "",
			 (unsigned long long)r->setid_stripped,
			 r->setid_stripped == 1 ? "" : "s",
			 r->setid_stripped == 1 ? "its" : "their");
}

/* After the writes: the hard links, the directories' metadata (pass 3:
 * writes inside them moved their mtimes), then the root's; what could
 * not be applied said once. */
static int finish_tree(struct restore_run *r, const char *before,
		       int *scratch, const char *target, struct errbuf *eb)
{
	const struct engine_opts *o = r->run.o;
	struct run_stats *stats = r->run.stats;
	int ret;

	ret = restore_make_links(r, eb);
	if (ret < 0)
		return ret;
	ret = restore_run_pass(r, before, scratch, target,
			       restore_pass_dir_meta, eb);
	xattr_warn(r->run.log, o->file_root, stats);
	store_meta_warn(r->run.log, o->file_root, stats);
	if (ret < 0)
		return ret;
	ret = restore_set_root_meta(r, eb);
	if (ret < 0)
		return ret;
	if (stats->owners_skipped)
		log_warn(r->run.log,
			 "%llu entr%s the owner of the running user "
			 "instead of the recorded one: not running as root",
			 (unsigned long long)stats->owners_skipped,
			 stats->owners_skipped == 1 ? "y keeps" : "ies keep");
	return 0;
}

/* --fsync: the restored tree durable before the run reports success
 * (and before the "after" snapshot names it). */
static int sync_tree(const struct restore_run *r, struct errbuf *eb)
{
	if (r->run.o->fsync && r->rootfd >= 0 && syncfs(r->rootfd))
		return errbuf_set(eb, -errno, "cannot sync '%s': %s",
				  r->run.o->file_root, strerror(errno));
	return 0;
}

/* The pool stopped (the writers still running joined), the entries left
 * in its queue freed. */
static void stop_writers(struct restore_run *r)
{
	workpool_free(r->pool);
	r->pool = NULL;
	r->queue = NULL;
}

/* What the steps acquired in r, and the scratch file (closed in its
 * place among them). */
static void release_run(struct restore_run *r, int scratch)
{
	unsigned i;

	for (i = 0; i < r->nlink_jobs; i++)
		entry_free(r->link_jobs[i].e);
	free(r->link_jobs);
	link_map_free(r->links);
	owner_cache_free(r->owners);
	for (i = 0; i < r->npruned; i++)
		free(r->pruned[i]);
	free(r->pruned);
	for (i = 0; i < r->nfailed; i++)
		free(r->failed[i]);
	free(r->failed);
	hasher_free(r->dry_h);
	free(r->dry_buf);
	tree_writer_free(r->tw);
	if (r->rootfd >= 0)
		close(r->rootfd);
	if (scratch >= 0)
		close(scratch);
	heap_free(r->heap);
	tree_free(r->tree);
	snapstore_free(r->ss);
	inner_roots_release(&r->inner);
	filter_free(r->filter);
}

static void init_run(struct restore_run *r, const struct engine_opts *o,
		     const struct restore_opts *ro, struct logger *log,
		     struct run_stats *stats)
{
	memset(r, 0, sizeof(*r));
	run_init(&r->run, o, log, stats);
	r->ro = ro;
	r->rootfd = -1;
	/* a heap or tree in an object store: every writer waits on a
	 * download or an upload at a time (3,000 files of 0-16 KiB from
	 * s3rver behind 20 ms of latency: 20 s with 4 writers, 7.4 s with
	 * 16) */
	r->writers = engine_workers(o, objstore_is_url(o->heap_root) ||
				    objstore_is_url(o->file_root));
	pthread_mutex_init(&r->failed_lock, NULL);
}

/* The run: the steps in order (see the top of this file), every failure
 * going to out:, the single exit that releases what the steps acquired. */
int engine_restore(const struct engine_opts *o, const struct restore_opts *ro,
		   struct run_stats *stats, struct errbuf *eb)
{
	struct restore_run r;
	struct logger log = o->log;
	struct progress prog;
	struct lock *lk = NULL;
	char *target = NULL, *before = NULL, *after = NULL;
	int scratch = -1;
	int64_t start_ns = clock_now_ns();
	double t0 = clock_mono_s();
	int ret;

	init_run(&r, o, ro, &log, stats);
	memset(&prog, 0, sizeof(prog));

	if (ro->restored)
		*ro->restored = NULL;
	if (ro->saved_before)   /* record_current sets it */
		*ro->saved_before = NULL;
	ret = open_run(&r, &lk, &target, eb);
	if (ret < 0)
		goto out;
	if (ro->restored) {
		*ro->restored = strdup(target);
		if (!*ro->restored) {
			ret = errbuf_set(eb, -ENOMEM, "out of memory");
			goto out;
		}
	}
	ret = check_target(&r, target, eb);
	if (ret < 0)
		goto out;

	/* current state */
	ret = record_current(&r, &before, &scratch, eb);
	if (ret < 0)
		goto out;

	ret = open_tree(&r, eb);
	if (ret < 0)
		goto out;
	progress_start(&prog, "restore-snapshot", stats, &log, o->progress);

	/* pass 1: deletions */
	ret = restore_run_pass(&r, before, &scratch, target,
			       restore_pass_delete, eb);
	if (ret < 0)
		goto out;
	if (r.npruned) {
		ret = prune_emptied(&r, eb);
		if (ret < 0)
			goto out;
	}

	/* pass 2: writes on a pool of workers */
	if (!ro->dry_run) {
		ret = start_writers(&r, eb);
		if (ret < 0)
			goto out;
	}
	ret = restore_run_pass(&r, before, &scratch, target,
			       restore_pass_write, eb);
	warn_setid_stripped(&r);
	join_writers(&r, ret < 0);
	if (run_error_failed(&r.run.err)) {
		/* a worker's error is the cause; the diff only saw "stopped" */
		ret = run_error_take(&r.run.err, eb);
		goto out;
	}
	if (ret < 0)
		goto out;
	ret = finish_tree(&r, before, &scratch, target, eb);
	if (ret < 0)
		goto out;
	if (r.nfailed || r.failed_oom) {
		ret = report_failed(&r, eb);
		goto out;
	}
	if (ro->dry_run)
		goto out;
	ret = sync_tree(&r, eb);
	if (ret < 0)
		goto out;
	progress_stop(&prog);
	if (ro->save_after) {
		ret = save_after(&r, target, start_ns, &after, eb);
		if (ret < 0)
			goto out;
	}
	ret = 0;
out:
	progress_stop(&prog);
	stop_writers(&r);
	release_run(&r, scratch);
	free(target);
	free(before);
	free(after);
	lock_release(lk);
	pthread_mutex_destroy(&r.failed_lock);
	run_destroy(&r.run);
	stats->seconds = clock_mono_s() - t0;
	if (ret < 0)
		stats->errors++;
	return ret;
}
