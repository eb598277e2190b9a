/* make_snapshot_hash: make-snapshot's hash workers. Each takes batches
 * of about one read arena from the queue, confirms reused md5s against
 * the heap, hashes and stores the rest (small files at once, large ones
 * side by side in the MD5 lanes) and completes their window slots. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include "bqueue.h"
#include "compiler.h"
#include "engine.h"
#include "hash_worker.h"
#include "heap.h"
#include "remote_tree.h"
#include "ordered.h"
#include "scan.h"
#include "progress.h"
#include "make_snapshot_impl.h"
#include "banned.h"

/* A batch is about one read arena of small files or one large file: a
 * worker never sits on two large files while another worker idles. */
static uint64_t job_weight(const void *item)
{
	const struct ordered_slot *slot = item;

	/* a confirmed md5 is one heap lookup; the rare miss is hashed in
	 * the same batch all the same */
	if (slot->needs_work == SLOT_CONFIRM ||
	    slot->needs_work == SLOT_MTIME)
		return HASH_FILE_WEIGHT;
	return slot->entry.size + HASH_FILE_WEIGHT;
}

/* An md5 from the previous snapshot is only as good as the heap's copy of
 * the object: a new or pruned heap must get the content again. Looks up
 * the batch's SLOT_CONFIRM entries at once, counts the kept ones and
 * returns in items[] the entries that still need a hash (their count). */
static int confirm_reused(struct snap_run *r, struct ordered_slot **slots,
			  int n, struct entry **items, struct errbuf *eb)
{
	struct objid ids[HASH_BATCH_MAX];
	unsigned char present[HASH_BATCH_MAX];
	int i, m = 0, k = 0, ret;

	for (i = 0; i < n; i++)
		if (slots[i]->needs_work == SLOT_CONFIRM)
			ids[m++] = slots[i]->entry.md5;
	/* one thread: the workers already run side by side */
	ret = m ? heap_has_many(r->heap, ids, (size_t)m, 1, present, eb) : 0;
	if (ret < 0)
		return ret;
	m = 0;
	for (i = 0; i < n; i++) {
		struct entry *e = &slots[i]->entry;

		if (slots[i]->needs_work == SLOT_MTIME)
			continue;
		if (slots[i]->needs_work == SLOT_CONFIRM) {
			if (present[m++]) {
				stat_add(&r->stats->md5_reused, 1);
				continue;
			}
			e->has_md5 = false;
		}
		items[k++] = e;
	}
	return k;
}

/* S3 trees: the entries of the batch still without the object's mtime
 * metadata (not downloaded, or downloaded without it) ask for it by HEAD;
 * without metadata the Last-Modified stays. */
static int fetch_mtimes(struct snap_run *r, struct ordered_slot **slots,
			int n, struct errbuf *eb)
{
	struct remote_meta m;
	int i, ret;

	if (!r->rtree_head_mtime)
		return 0;
	for (i = 0; i < n; i++) {
		struct entry *e = &slots[i]->entry;

		if (!e->upload_mtime || e->type != ENTRY_FILE)
			continue;
		ret = remote_tree_head(r->rtree, e, &m, eb);
		if (ret < 0)
			return ret;
		e->mtime_ns = m.mtime_ns;
		e->upload_mtime = false;
	}
	return 0;
}

/* A hash worker with lanes (local trees, not --md5 openssl): every
 * batch it takes is hashed at once except its large files, which wait
 * in own[] for a place in the worker's lanes. While the lanes run, the
 * worker takes one more batch per round without waiting, so that the
 * large files of a tree where they are mixed with small ones still fill
 * the lanes, and the small ones are not held back. Each slot is
 * completed as soon as its file is done, so the writer never waits for a
 * whole window of large files. */
struct lane_feed {
	struct snap_run *r;
	struct hash_worker *w;
	struct entry *own[HASH_BATCH_MAX];
	size_t nown, pos;
	bool failed;                /* run_fail called: take no more */
	struct errbuf *eb;
};

static void fail_batch(struct lane_feed *f, struct ordered_slot **slots,
		       int n, int ret)
{
	/* fail before completing: the writer must not take an unhashed
	 * entry for a result */
	if (!f->failed)
		snap_run_fail(f->r, f->eb, ret);
	f->failed = true;
	ordered_complete_batch(f->r->win, slots, (size_t)n);
}

/* A popped batch: everything but the large files hashed now, their
 * slots completed; the large ones left in own[] (own[] must be empty).
 * 0, or -errno with the run failed and every slot of the batch done. */
static int feed_take(struct lane_feed *f, struct ordered_slot **slots,
		     int n)
{
	struct snap_run *r = f->r;
	struct entry *items[HASH_BATCH_MAX], *rest[HASH_BATCH_MAX];
	struct ordered_slot *others[HASH_BATCH_MAX];
	size_t nrest = 0, nothers = 0;
	int i, k, ret = 0;

	f->nown = f->pos = 0;
	if (r->o->interrupted && *r->o->interrupted)
		k = errbuf_set(f->eb, -EINTR, "interrupted");
	else
		k = confirm_reused(r, slots, n, items, f->eb);
	if (k < 0) {
		fail_batch(f, slots, n, k);
		return k;
	}
	for (i = 0; i < k; i++) {
		if (hash_worker_lane_file(f->w, items[i]))
			f->own[f->nown++] = items[i];
		else
			rest[nrest++] = items[i];
	}
	if (nrest)
		ret = hash_worker_run(f->w, scanner_rootfd(r->scanner),
				      r->o->file_root, rest, nrest, r->heap,
				      r->stats, f->eb);
	if (ret < 0) {
		f->nown = 0;
		fail_batch(f, slots, n, ret);
		return ret;
	}
	for (i = 0; i < n; i++) {
		size_t j;

		for (j = 0; j < f->nown; j++)
			if (&slots[i]->entry == f->own[j])
				break;
		if (j == f->nown)
			others[nothers++] = slots[i];
	}
	ordered_complete_batch(r->win, others, nothers);
	return 0;
}

static struct entry *feed_next(void *ctx)
{
	struct lane_feed *f = ctx;
	struct ordered_slot *slots[HASH_BATCH_MAX];
	void *batch[HASH_BATCH_MAX];
	bool ended;
	int n, i;

	if (f->failed)
		return NULL;
	/* One batch per round while the lanes go on, but only while every
	 * other worker holds a batch too: a file taken here waits for a
	 * lane of this worker's core, where an idle worker would start it
	 * at once on the other (make-snapshot of 2 x 256 MiB: 1 run in 2
	 * took twice as long with --md5 auto as with openssl, both files
	 * hashed one after the other by the first worker to run). */
	if (f->pos == f->nown &&
	    atomic_load(&f->r->workers_busy) >= f->r->hash_workers) {
		n = bqueue_try_pop_batch_weighted(f->r->jobs, batch,
						  HASH_BATCH_MAX, job_weight,
						  HASH_ARENA_SIZE, &ended);
		for (i = 0; i < n; i++)
			slots[i] = batch[i];
		if (n > 0)
			feed_take(f, slots, n);
	}
	return f->pos < f->nown ? f->own[f->pos++] : NULL;
}

static void feed_done(void *ctx, struct entry *e, int ret)
{
	struct lane_feed *f = ctx;
	struct ordered_slot *slot = container_of(e, struct ordered_slot,
						 entry);

	if (ret < 0)
		fail_batch(f, &slot, 1, ret);
	else
		ordered_complete(f->r->win, slot);
}

/* The loop of a worker with lanes: a batch (waiting for it), then the
 * lanes while they have files. Returns when the queue ends or the run
 * failed. */
static void hash_lanes_main(struct snap_run *r, struct hash_worker *w,
			    struct errbuf *eb)
{
	struct lane_feed f = { .r = r, .w = w, .eb = eb };
	struct hash_lane_source src = { feed_next, feed_done, &f };
	struct ordered_slot *slots[HASH_BATCH_MAX];
	void *batch[HASH_BATCH_MAX];
	/* 2 descriptors per file: the file, its heap temp */
	unsigned window = hash_lane_window(r->o->jobs, 2);
	int n, i, ret;

	while (!f.failed &&
	       (n = bqueue_pop_batch_weighted(r->jobs, batch, HASH_BATCH_MAX,
					      job_weight,
					      HASH_ARENA_SIZE)) > 0) {
		/* busy from here until the next blocking pop, small
		 * files or lanes */
		atomic_fetch_add(&r->workers_busy, 1);
		for (i = 0; i < n; i++)
			slots[i] = batch[i];
		if (feed_take(&f, slots, n) == 0 && f.nown) {
			ret = hash_worker_run_lanes(w,
						    scanner_rootfd(r->scanner),
						    r->o->file_root, window,
						    &src, r->heap, r->stats,
						    r->o->interrupted, eb);
			if (ret < 0 && !f.failed) {
				snap_run_fail(r, eb, ret);
				f.failed = true;
			}
			/* stopped before the lanes took all of them */
			while (f.pos < f.nown)
				ordered_complete(r->win,
						 container_of(f.own[f.pos++],
							      struct ordered_slot,
							      entry));
		}
		atomic_fetch_sub(&r->workers_busy, 1);
	}
}

void *snap_hash_main(void *arg)
{
	struct snap_run *r = arg;
	struct errbuf eb = ERRBUF_INIT;
	struct hash_worker *w = NULL;
	void *batch[HASH_BATCH_MAX];
	struct ordered_slot *slots[HASH_BATCH_MAX];
	struct entry *items[HASH_BATCH_MAX];
	int n, i, ret;

	ret = hash_worker_new(r->o->io == IO_MODE_SYNC ? IO_BACKEND_SYNC :
			      r->o->io == IO_MODE_URING ? IO_BACKEND_URING :
			      IO_BACKEND_AUTO, r->o->md5, &w, &eb);
	if (ret < 0) {
		snap_run_fail(r, &eb, ret);
		return NULL;
	}
	hash_worker_skip_changing(w, r->mo->skip_changing);
	ret = hash_worker_verify_heap(w, r->verify, &eb);
	if (ret < 0) {
		snap_run_fail(r, &eb, ret);
		hash_worker_free(w);
		return NULL;
	}
	if (!r->rtree && hash_worker_has_lanes(w) &&
	    hash_lane_window(r->o->jobs, 2) > 1) {
		hash_lanes_main(r, w, &eb);
		hash_worker_free(w);
		return NULL;
	}
	while ((n = bqueue_pop_batch_weighted(r->jobs, batch, HASH_BATCH_MAX,
					       job_weight, HASH_ARENA_SIZE)) > 0) {
		for (i = 0; i < n; i++)
			slots[i] = batch[i];
		if (r->o->interrupted && *r->o->interrupted)
			ret = errbuf_set(&eb, -EINTR, "interrupted");
		else
			ret = confirm_reused(r, slots, n, items, &eb);
		if (ret > 0)
			ret = r->rtree ?
			      hash_worker_run_remote(w, r->rtree, items,
						     (size_t)ret, r->heap,
						     r->stats, &eb) :
			      hash_worker_run(w, scanner_rootfd(r->scanner),
					      r->o->file_root, items,
					      (size_t)ret, r->heap, r->stats,
					      &eb);
		if (ret >= 0 && r->rtree)
			ret = fetch_mtimes(r, slots, n, &eb);
		/* fail before completing: the writer must not take the
		 * batch's unhashed entries for a result */
		if (ret < 0)
			snap_run_fail(r, &eb, ret);
		ordered_complete_batch(r->win, slots, (size_t)n);
		if (ret < 0)
			break;
	}
	hash_worker_free(w);
	return NULL;
}
