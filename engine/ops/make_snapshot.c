/* make_snapshot: the backup pipeline.
 *
 *   scan thread ──(ordered window)──────────────────────┐
 *        │ files needing a hash                          ▼
 *        └──(bqueue)──> hash workers ×jobs ──complete──> writer (this thread)
 *                        read, MD5, heap put            snapshot records in
 *                                                       scan order
 *
 * The scan thread merges the tree with the previous snapshot (both in
 * entry_cmp order) to reuse md5s of unchanged files; a reused md5 still
 * goes to a worker, which keeps it only if the heap holds the object (a
 * new or pruned heap gets the content again). The snapshot is made
 * visible (rename) only after every heap object is durable (syncfs). The
 * first error aborts every stage; nothing partial is published.
 *
 * This file: the run and the writer stage; the scan stage is
 * make_snapshot_scan.c, the hash workers make_snapshot_hash.c, the
 * snapshot's formats, entries and header fields make_snapshot_out.c,
 * what they share make_snapshot_impl.h. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workpool.h"
#include "engine.h"
#include "filter.h"
#include "hasher.h"
#include "heap.h"
#include "heap_verify.h"
#include "inner_roots.h"
#include "ordered.h"
#include "owners.h"
#include "progress.h"
#include "tree.h"
#include "snapshot_reader.h"
#include "pysnap_writer.h"
#include "snapshot_writer.h"
#include "snapstore.h"
#include "clock.h"
#include "xattr.h"
#include "lock.h"
#include "make_snapshot.h"
#include "run_error.h"
#include "fdio.h"
#include "make_snapshot_impl.h"
#include "banned.h"

#define WINDOW 8192
/* entries the writer takes from the window at once */
#define WRITER_BATCH 256

void snap_run_fail(struct snap_run *r, const struct errbuf *eb, int code)
{
	struct errbuf named = *eb;

	if (!eb->code)
		snprintf(named.msg, sizeof(named.msg), "%s", strerror(-code));
	run_error_set(&r->run.err, &named, code);
	ordered_abort(r->win);
	workpool_abort(r->pool);
}

bool snap_run_failed(struct snap_run *r)
{
	return run_error_failed(&r->run.err);
}

/* A remote heap's puts return 1 when queued: once its uploads are over,
 * take back from the counters those that were never stored (a failed
 * run), so that --json counts only objects the heap holds. */
static void uncount_unstored(struct heap *h, struct run_stats *stats)
{
	uint64_t objs, bytes;

	heap_finish(h, &objs, &bytes);
	stats->heap_objects_written -= objs < stats->heap_objects_written ?
				       objs : stats->heap_objects_written;
	stats->bytes_written -= bytes < stats->bytes_written ?
				bytes : stats->bytes_written;
}

/* Killed runs leave their temp snapshots; this run's own temp is locked
 * by now, like any live one (snapstore_remove_stale_temps). */
static void remove_stale_temps(struct snap_run *r)
{
	int n = snapstore_remove_stale_temps(r->ss);

	if (n > 0)
		log_info(r->run.log, "removed %d temp snapshot file(s) left by "
			 "interrupted runs in '%s'", n, r->run.o->snap_root);
}

static int write_sink_fd(void *ctx, const void *buf, size_t len)
{
	return fdio_write_full(*(int *)ctx, buf, len);
}

/* make_snapshot_run's threads, as far as they started (those it joins). */
struct snap_threads {
	pthread_t scan;
	bool scan_started;
};

static void init_run(struct snap_run *r, const struct engine_opts *o,
		     const struct make_snapshot_opts *mo, struct logger *log,
		     struct run_stats *stats)
{
	memset(r, 0, sizeof(*r));
	run_init(&r->run, o, log, stats);
	r->mo = mo;
	r->racy_limit_ns = INT64_MIN;
	/* lanes only on a local tree: the workers of engine_workers(o, false) */
	snap_lane_pool_init(&r->lanes, engine_workers(o, false));
}

/* A shared lock before the heap is looked at: a gc that deleted an
 * object after our presence check would leave the snapshot pointing at
 * nothing (LOCKING.md). The caller's (*lk) when it holds one, else our
 * own (*own_lk, the caller's to release, also *lk); none for a scratch
 * record (out_fd) or without SNAP_ROOT. */
static int take_lock(const struct snap_run *r,
		     const struct make_snapshot_stores *st, int out_fd,
		     struct lock **lk, struct lock **own_lk, struct errbuf *eb)
{
	const struct engine_opts *o = r->run.o;
	int ret;

	if (out_fd < 0 && o->snap_root && st && st->lock) {
		*lk = st->lock;
	} else if (out_fd < 0 && o->snap_root) {
		ret = lock_acquire(o, LOCK_SHARED, "make-snapshot", own_lk,
				   eb);
		if (ret < 0)
			return ret;
		*lk = *own_lk;
	}
	return 0;
}

/* Contents go to the heap (the caller's, or opened here) unless the
 * snapshot is only a scratch record of the tree (restore's current
 * state, out_fd); with --verify-heap, what each file needs is read back. */
static int open_heap(struct snap_run *r, const struct make_snapshot_stores *st,
		     int out_fd, struct errbuf *eb)
{
	const struct engine_opts *o = r->run.o;
	int ret = 0;

	if (out_fd >= 0)
		return 0;
	log_info(r->run.log, "making a snapshot of '%s'", o->file_root);
	log_info(r->run.log, "hashing with MD5 implementation '%s' (--md5)",
		 engine_md5_name(o->md5));
	if (st && st->heap)
		r->heap = st->heap;
	else
		ret = heap_open_url(o->heap_root, true, o, &r->heap, eb);
	if (ret < 0)
		return ret;
	if (r->mo->verify_heap) {
		ret = heap_verify_new(r->heap, r->run.log, &r->verify, eb);
		if (ret < 0)
			return ret;
		log_info(r->run.log, "--verify-heap: every file is hashed and "
			 "each heap object it needs is read back");
	}
	return 0;
}

/* SNAP_ROOT (the caller's store, or opened here) and, for the scan's
 * merge, the previous snapshot in it. */
static int open_snapstore(struct snap_run *r,
			  const struct make_snapshot_stores *st,
			  bool use_previous, struct errbuf *eb)
{
	const struct engine_opts *o = r->run.o;
	int ret;

	if (o->snap_root && st && st->ss) {
		r->ss = st->ss;
	} else if (o->snap_root) {
		ret = snapstore_open(o->snap_root, o->snap_storage_options, o,
				     &r->ss, eb);
		if (ret < 0)
			return ret;
	}
	if (o->snap_root && use_previous) {
		ret = snap_open_previous(r, eb);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The tree to scan (r->tree, r->scan, what it keeps: r->fs and the
 * rest; a local root's own metadata into *hdr), with the filters and the
 * inner roots left out. */
static int open_tree(struct snap_run *r,
		     const struct make_snapshot_stores *st,
		     struct snapshot_header *hdr, struct errbuf *eb)
{
	const struct engine_opts *o = r->run.o;
	const struct make_snapshot_opts *mo = r->mo;
	struct run_stats *stats = r->run.stats;
	struct tree_scan_opts so;
	struct scan_opts *walk = &so.scan;
	int ret;

	memset(&so, 0, sizeof(so));
	walk->io = engine_io_backend(o);
	walk->log = r->run.log;
	/* the heap and snapshot roots may sit inside the tree: never back
	 * them up */
	ret = inner_roots_init(&r->inner, o, r->filter);
	if (ret < 0)
		return errbuf_set(eb, ret, "out of memory");
	walk->allow = inner_roots_active(&r->inner) ? inner_roots_allow : NULL;
	walk->allow_ctx = &r->inner;
	walk->files_scanned = &stats->files_scanned;
	walk->files_skipped = &stats->files_skipped;
	walk->interrupted = o->interrupted;
	walk->prefetch_threads = o->scan_jobs;
	walk->reap_tree_temps = mo->tree_temps;
	walk->missing_root_ok = mo->missing_root_ok;
	/* a backup of its own (not restore's record of the tree it is
	 * about to fill): an empty store FILE_ROOT is refused as a missing
	 * local one is */
	walk->empty_store_is_missing = !st && !mo->missing_root_ok;
	/* security.* is listed to anyone (trusted.* only to root): record
	 * what the kernel shows; restore sets what it is allowed to */
	if (!o->no_xattrs)
		r->xattr_ns = XATTR_NS_USER | XATTR_NS_PRIV | XATTR_NS_ACL;
	walk->hard_links = !mo->no_hard_links;
	if (st && st->tree)
		r->tree = st->tree;
	else
		ret = tree_open(o->file_root, o->file_storage_options, o,
				false, &r->tree, eb);
	if (ret < 0)
		return ret;
	r->fs = tree_caps(r->tree) & TREE_CAP_FS;
	r->lookup_mtime = !(tree_caps(r->tree) & TREE_CAP_LISTS_MTIME);
	r->copy_from = tree_objstore(r->tree);
	ret = tree_scan_start(r->tree, &so, &r->scan, eb);
	if (!ret && r->fs)
		snap_root_meta(r, hdr);
	return ret;
}

/* With --io auto, say once, here, what every worker will find. */
static void warn_io_fallback(const struct snap_run *r)
{
	struct io_ctx *probe = NULL;
	struct errbuf pe = ERRBUF_INIT;
	bool fell_back = false;

	if (r->run.o->io != IO_MODE_AUTO)
		return;
	if (io_ctx_new(IO_BACKEND_AUTO, 8, &probe, &fell_back, &pe) == 0 &&
	    fell_back)
		log_warn(r->run.log, "io_uring is not available here (old "
			 "kernel or blocked by seccomp): using plain "
			 "system calls");
	io_ctx_free(probe);
}

/* Where the records go (*out): a transaction in SNAP_ROOT (*tx, in the
 * resolved format) when the run saves, restore's scratch file (*out_fd,
 * which the writer keeps pointing at: it must outlive it), else nowhere.
 * What it acquired is the caller's to release, also on failure. */
static int open_output(struct snap_run *r, int *out_fd,
		       const struct snapshot_header *hdr,
		       struct snapstore_tx **tx, struct snap_out *out,
		       struct errbuf *eb)
{
	struct snapshot_writer *writer = NULL;
	struct pysnap_writer *pywriter = NULL;
	enum snapshot_format fmt = SNAPSHOT_FORMAT_MSGPACK;
	int ret = 0;

	if (r->mo->save && *out_fd < 0) {
		ret = snap_resolve_format(r, &fmt, eb);
		if (ret < 0)
			return ret;
		ret = snapstore_begin(r->ss, hdr->created_ns, fmt, tx, eb);
		if (ret < 0)
			return ret;
		remove_stale_temps(r);
		if (fmt == SNAPSHOT_FORMAT_JSONL_GZ)
			ret = pysnap_writer_new(snapstore_tx_write, *tx,
						!r->fs, &pywriter,
						eb);
		else
			ret = snapshot_writer_new(snapstore_tx_write, *tx, hdr,
						  &writer, eb);
	} else if (*out_fd >= 0) {
		/* restore's scratch record of the tree: always msgpack */
		ret = snapshot_writer_new(write_sink_fd, out_fd, hdr, &writer,
					  eb);
	}
	if (ret < 0)
		return ret;
	if (pywriter) {
		out->ops = &snap_pysnap_out_ops;
		out->w = pywriter;
	} else {
		out->w = writer;
	}
	if (writer && owner_cache_new(&r->owners) < 0)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	return 0;
}

/* The window (entries in scan order, for the writer) and the hash
 * workers' pool with its queue, both bounded; no thread yet. */
static int new_queues(struct snap_run *r, struct errbuf *eb)
{
	const struct workpool_def def = {
		/* an object-store tree: the workers wait on requests */
		.workers = engine_workers(r->run.o, !r->fs),
		/* one queue: the window keeps the order, any worker may
		 * take any file (weighted batches share large ones out) */
		.shards = 1,
		.queue_cap = WINDOW,
		.work = snap_hash_work,
		.arg = r,
	};
	int ret;

	ret = ordered_new(WINDOW, &r->win);
	if (ret < 0)
		return errbuf_set(eb, ret, "out of memory");
	ret = workpool_new(&def, &r->pool, eb);
	if (ret < 0)
		return ret;
	r->jobs = workpool_queue(r->pool);
	r->hash_workers = def.workers;
	log_debug(r->run.log, "make-snapshot: %u hash worker%s", def.workers,
		  def.workers == 1 ? "" : "s");
	return 0;
}

/* The scan thread and the hash workers. A failure to start them fails
 * the run (the writer then finds the window aborted): the scan thread,
 * if started, is in *th, to join. */
static void start_threads(struct snap_run *r, struct snap_threads *th,
			  struct errbuf *eb)
{
	int ret;

	if (pthread_create(&th->scan, NULL, snap_scan_main, r)) {
		snap_run_fail(r, eb, errbuf_set(eb, -EAGAIN,
						"cannot start threads"));
		return;
	}
	th->scan_started = true;
	ret = workpool_start(r->pool, eb);
	if (ret < 0)
		snap_run_fail(r, eb, ret);
}

/* The writer, on this thread: entries in scan order, as workers complete
 * them, until the window is closed or aborted. */
static void write_window(struct snap_run *r, const struct snap_out *out)
{
	struct ordered_slot *ready[WRITER_BATCH];
	size_t nready, k;

	while ((nready = ordered_next_batch(r->win, ready, WRITER_BATCH)) > 0) {
		for (k = 0; k < nready; k++)
			snap_write_entry(r, out, &ready[k]->entry);
		ordered_release_batch(r->win, ready, nready);
	}
}

static void join_threads(struct snap_run *r, const struct snap_threads *th)
{
	if (th->scan_started)
		pthread_join(th->scan, NULL);
	workpool_join(r->pool);
}

/* The run's first error into eb; a damaged previous snapshot (-ESTALE)
 * only warns: make_snapshot_in runs again without it. */
static int take_failure(struct snap_run *r, struct errbuf *eb)
{
	struct errbuf first;
	int ret;

	ret = run_error_take(&r->run.err, &first);
	if (r->prev_bad && ret == -ESTALE)
		log_warn(r->run.log, "previous snapshot not usable, hashing "
			 "every file again: %s", r->prev_err.msg);
	else
		errbuf_set(eb, ret, "%s", first.msg);
	return ret;
}

static void log_verify_counts(struct snap_run *r)
{
	struct run_stats *stats = r->run.stats;

	if (!r->verify)
		return;
	heap_verify_counts(r->verify, &stats->heap_objects_verified,
			   &stats->heap_objects_repaired);
	log_info(r->run.log, "--verify-heap: %llu heap objects read back, "
		 "%llu repaired",
		 (unsigned long long)stats->heap_objects_verified,
		 (unsigned long long)stats->heap_objects_repaired);
}

/* After a run without error: the heap durable, the snapshot finished,
 * then published (*tx committed, and NULL from then on; its name in
 * *snapshot_path) unless a signal or an expired lock stops it. */
static int publish(struct snap_run *r, const struct snap_out *out,
		   int out_fd, struct lock *lk, struct snapstore_tx **tx,
		   char **snapshot_path, struct errbuf *eb)
{
	const struct run_stats *stats = r->run.stats;
	int ret;

	if (r->heap) {
		/* every referenced object durable before the snapshot */
		ret = heap_sync(r->heap, eb);
		if (ret < 0)
			return ret;
	}
	if (out_fd < 0)
		log_info(r->run.log,
			 "found %llu entries: %llu files hashed, %llu "
			 "md5s reused, %llu new heap objects",
			 (unsigned long long)stats->files_scanned,
			 (unsigned long long)stats->files_hashed,
			 (unsigned long long)stats->md5_reused,
			 (unsigned long long)stats->heap_objects_written);
	if (out->w) {
		ret = out->ops->finish(out->w, eb);
		if (ret < 0)
			return ret;
		snap_warn_pysnap_skipped(r, out);
	}
	if (r->run.o->interrupted && *r->run.o->interrupted) {
		/* a signal during the final sync: publish nothing */
		return errbuf_set(eb, -EINTR, "interrupted");
	}
	if (*tx) {
		/* a run stopped past the lock expiry may have had its objects
		 * collected: publish nothing then */
		ret = lock_check(lk, eb);
		if (ret < 0)
			return ret;
		ret = snapstore_commit(*tx, snapshot_path, eb);
		*tx = NULL;
		if (ret < 0)
			return ret;
		log_info(r->run.log, "saved snapshot '%s'", *snapshot_path);
	}
	return 0;
}

/* What the run opened, the borrowed stores (st) left to their owner;
 * own_lk only once the heap is closed (its last uploads finish under
 * the lock). */
static void release_run(struct snap_run *r,
			const struct make_snapshot_stores *st,
			struct lock *own_lk)
{
	tree_scan_free(r->scan);
	if (!st || r->tree != st->tree)
		tree_free(r->tree);
	workpool_free(r->pool);
	ordered_free(r->win);
	entry_release(&r->prev_e);
	hasher_free(r->xattr_h);
	snapshot_reader_free(r->prev);
	if (!st || r->ss != st->ss)
		snapstore_free(r->ss);
	heap_verify_free(r->verify);
	if (!st || r->heap != st->heap) {
		uncount_unstored(r->heap, r->run.stats);
		heap_free(r->heap);
	}
	lock_release(own_lk);
	inner_roots_release(&r->inner);
	filter_free(r->filter);
	owner_cache_free(r->owners);
	run_destroy(&r->run);
	snap_lane_pool_destroy(&r->lanes);
}

/* One run: the stores, the tree and the output opened, the stages run
 * with this thread as the writer, then the snapshot published. Every
 * failure goes to out:, the single exit. */
static int make_snapshot_run(const struct engine_opts *o,
			     const struct make_snapshot_opts *mo,
			     const struct make_snapshot_stores *st,
			     struct run_stats *stats, char **snapshot_path,
			     bool use_previous, struct errbuf *eb)
{
	struct snap_run r;
	struct logger log = o->log;
	struct snapshot_header hdr;
	struct snap_out out = { &snap_msgpack_out_ops, NULL };
	struct snapstore_tx *tx = NULL;
	struct lock *lk = NULL, *own_lk = NULL;
	struct progress prog;
	struct snap_threads th = { .scan_started = false };
	double t0 = clock_mono_s();
	int out_fd = mo->to_fd ? mo->out_fd : -1;
	int ret;

	*snapshot_path = NULL;
	init_run(&r, o, mo, &log, stats);
	memset(&hdr, 0, sizeof(hdr));
	hdr.created_ns = clock_now_ns();

	if (!o->file_root || (out_fd < 0 && (!o->heap_root ||
					     (mo->save && !o->snap_root)))) {
		ret = errbuf_set(eb, -EINVAL, "make-snapshot needs --file-root, "
				 "--heap-root and --snap-root");
		goto out;
	}
	/* restore checked its roots before it came here */
	if (!st) {
		ret = inner_roots_refuse_outer(o, "back up", eb);
		if (ret < 0)
			goto out;
	}
	ret = filter_from_opts(o->include, o->exclude, &r.filter, eb);
	if (ret < 0)
		goto out;
	ret = take_lock(&r, st, out_fd, &lk, &own_lk, eb);
	if (ret < 0)
		goto out;
	ret = open_heap(&r, st, out_fd, eb);
	if (ret < 0)
		goto out;
	ret = open_snapstore(&r, st, use_previous, eb);
	if (ret < 0)
		goto out;
	ret = open_tree(&r, st, &hdr, eb);
	if (ret < 0)
		goto out;
	warn_io_fallback(&r);
	ret = open_output(&r, &out_fd, &hdr, &tx, &out, eb);
	if (ret < 0)
		goto out;
	ret = new_queues(&r, eb);
	if (ret < 0)
		goto out;

	progress_start(&prog, "make-snapshot", stats, &log, o->progress);
	start_threads(&r, &th, eb);
	write_window(&r, &out);
	join_threads(&r, &th);
	progress_stop(&prog);

	if (snap_run_failed(&r)) {
		ret = take_failure(&r, eb);
		goto out;
	}
	log_verify_counts(&r);
	ret = publish(&r, &out, out_fd, lk, &tx, snapshot_path, eb);
out:
	if (tx)
		snapstore_abort(tx);
	if (out.w)
		out.ops->free(out.w);
	release_run(&r, st, own_lk);
	stats->seconds = clock_mono_s() - t0;
	if (ret < 0)
		stats->errors++;
	return ret;
}

int engine_make_snapshot(const struct engine_opts *o,
			 const struct make_snapshot_opts *mo,
			 struct run_stats *stats, char **snapshot_path,
			 struct errbuf *eb)
{
	return make_snapshot_in(o, mo, NULL, stats, snapshot_path, eb);
}

int make_snapshot_in(const struct engine_opts *o,
		     const struct make_snapshot_opts *mo,
		     const struct make_snapshot_stores *st,
		     struct run_stats *stats, char **snapshot_path,
		     struct errbuf *eb)
{
	int ret;

	/* --verify-heap trusts no md5 of the previous snapshot: every file
	 * is read, so every object the snapshot references is checked */
	ret = make_snapshot_run(o, mo, st, stats, snapshot_path,
				!mo->verify_heap, eb);
	if (ret == -ESTALE && !eb->code) {
		/* the previous snapshot was damaged: nothing was saved, redo
		 * the run trusting no md5 from it (the heap objects already
		 * written are sound: their names are the MD5 of what was
		 * read) */
		memset(stats, 0, sizeof(*stats));
		if (mo->to_fd && (ftruncate(mo->out_fd, 0) ||
					lseek(mo->out_fd, 0, SEEK_SET) < 0))
			return errbuf_set(eb, -errno, "cannot rewind the "
					  "snapshot output: %s",
					  strerror(errno));
		ret = make_snapshot_run(o, mo, st, stats, snapshot_path, false,
					eb);
	}
	return ret;
}
