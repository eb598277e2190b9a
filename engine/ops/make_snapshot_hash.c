/* make_snapshot_hash: make-snapshot's hash workers. Each takes batches
 * of about one read arena from the queue, confirms reused md5s against
 * the heap, hashes and stores the rest (small files at once, large ones
 * side by side in the MD5 lanes of at most one worker per CPU: the lane
 * pool) and completes their window slots. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shardq.h"
#include "compiler.h"
#include "engine.h"
#include "hash_worker.h"
#include "heap.h"
#include "ordered.h"
#include "tree.h"
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
				stat_add(&r->run.stats->md5_reused, 1);
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
	struct tree_meta m;
	int i, ret;

	if (!r->lookup_mtime)
		return 0;
	for (i = 0; i < n; i++) {
		struct entry *e = &slots[i]->entry;

		if (!e->upload_mtime || e->type != ENTRY_FILE)
			continue;
		ret = tree_file_meta(r->tree, e, &m, eb);
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
	size_t shard;               /* the worker's, in r->jobs */
	struct entry *own[HASH_BATCH_MAX];
	size_t nown, pos;
	bool failed;                /* run_fail called: take no more */
	struct errbuf *eb;
};

void snap_lane_pool_init(struct snap_lane_pool *p, unsigned workers)
{
	unsigned cpus = engine_usable_cpus();

	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->max_runners = cpus < workers ? cpus : workers;
	if (!p->max_runners)
		p->max_runners = 1;
}

void snap_lane_pool_destroy(struct snap_lane_pool *p)
{
	pthread_mutex_destroy(&p->lock);
	free(p->wait);
}

/* Under p->lock: room for k more waiting files. */
static bool pool_reserve(struct snap_lane_pool *p, size_t k)
{
	struct entry **w;
	size_t cap;

	if (p->head && p->head + p->n + k > p->cap) {
		memmove(p->wait, p->wait + p->head, p->n * sizeof(*p->wait));
		p->head = 0;
	}
	if (p->n + k <= p->cap)
		return true;
	cap = p->cap ? 2 * p->cap : 64;
	while (cap < p->n + k)
		cap *= 2;
	w = realloc(p->wait, cap * sizeof(*w));
	if (!w)
		return false;
	p->wait = w;
	p->cap = cap;
	return true;
}

/* A worker with large files in f->own[]: true when it is to run them in
 * its lanes (a runner now), false when they went to the runners (own[]
 * emptied). Out of memory for the list: it runs them itself. */
static bool pool_enter(struct snap_lane_pool *p, struct lane_feed *f)
{
	size_t k = f->nown - f->pos;
	bool run = true;

	pthread_mutex_lock(&p->lock);
	if (p->runners < p->max_runners) {
		p->runners++;
	} else if (pool_reserve(p, k)) {
		memcpy(p->wait + p->head + p->n, f->own + f->pos,
		       k * sizeof(*f->own));
		p->n += k;
		f->nown = f->pos = 0;
		run = false;
	} else {
		p->runners++;   /* one more runner than cores, for once */
	}
	pthread_mutex_unlock(&p->lock);
	return run;
}

/* A waiting file for a runner's lanes, or NULL. */
static struct entry *pool_take(struct snap_lane_pool *p)
{
	struct entry *e = NULL;

	pthread_mutex_lock(&p->lock);
	if (p->n) {
		e = p->wait[p->head++];
		if (!--p->n)
			p->head = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return e;
}

static void complete_entry(struct snap_run *r, struct entry *e)
{
	ordered_complete(r->win, container_of(e, struct ordered_slot, entry));
}

/* A runner whose lanes ran dry: false (and no longer a runner) when no
 * file waits; true when one came in meanwhile and it runs again. After a
 * failure (the run's error set, its window aborted) it leaves and
 * completes the waiting files' slots, as fail_batch does. */
static bool pool_leave(struct snap_run *r, bool failed)
{
	struct snap_lane_pool *p = &r->lanes;
	bool again = false;

	pthread_mutex_lock(&p->lock);
	if (failed) {
		/* the window's lock is never held around the pool's */
		for (; p->n; p->n--)
			complete_entry(r, p->wait[p->head++]);
		p->head = 0;
	}
	if (p->n)
		again = true;
	else
		p->runners--;
	pthread_mutex_unlock(&p->lock);
	return again;
}

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
	if (r->run.o->interrupted && *r->run.o->interrupted)
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
		ret = hash_worker_run(f->w, tree_scan_rootfd(r->scan),
				      r->run.o->file_root, rest, nrest, r->heap,
				      r->run.stats, f->eb);
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
	struct entry *e;
	int n, i;

	if (f->failed)
		return NULL;
	if (f->pos == f->nown && (e = pool_take(&f->r->lanes)))
		return e;
	/* One batch per round while the lanes go on, but only while every
	 * other worker holds a batch too: a file taken here waits for a
	 * lane of this worker's core, where an idle worker would start it
	 * at once on the other (make-snapshot of 2 x 256 MiB: 1 run in 2
	 * took twice as long with --md5 auto as with openssl, both files
	 * hashed one after the other by the first worker to run). */
	if (f->pos == f->nown &&
	    atomic_load(&f->r->workers_busy) >= f->r->hash_workers) {
		n = shardq_try_pop_batch_weighted(f->r->jobs, f->shard,
						  batch, HASH_BATCH_MAX,
						  job_weight, HASH_ARENA_SIZE);
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

/* A runner of the lane pool: its own large files, then the pool's, until
 * none is left (or the run failed). */
static void run_lanes(struct lane_feed *f, const struct hash_lane_source *src,
		      unsigned window)
{
	struct snap_run *r = f->r;
	int ret;

	do {
		ret = hash_worker_run_lanes(f->w, tree_scan_rootfd(r->scan),
					    r->run.o->file_root, window, src,
					    r->heap, r->run.stats,
					    r->run.o->interrupted, f->eb);
		if (ret < 0 && !f->failed) {
			snap_run_fail(r, f->eb, ret);
			f->failed = true;
		}
		/* stopped before the lanes took all of them */
		while (f->pos < f->nown)
			complete_entry(r, f->own[f->pos++]);
	} while (pool_leave(r, f->failed));
}

/* The loop of a worker with lanes: a batch (waiting for it), then the
 * lanes while they have files. Returns when the queue ends or the run
 * failed. */
static void hash_lanes_main(struct snap_run *r, struct hash_worker *w,
			    size_t shard, struct errbuf *eb)
{
	struct lane_feed f = { .r = r, .w = w, .shard = shard, .eb = eb };
	struct hash_lane_source src = { feed_next, feed_done, &f };
	struct ordered_slot *slots[HASH_BATCH_MAX];
	void *batch[HASH_BATCH_MAX];
	/* 2 descriptors per file: the file, its heap temp */
	unsigned window = hash_lane_window(r->hash_workers, 2);
	int n, i;

	while (!f.failed &&
	       (n = shardq_pop_batch_weighted(r->jobs, shard, batch,
					      HASH_BATCH_MAX, job_weight,
					      HASH_ARENA_SIZE)) > 0) {
		/* busy from here until the next blocking pop, small
		 * files or lanes */
		atomic_fetch_add(&r->workers_busy, 1);
		for (i = 0; i < n; i++)
			slots[i] = batch[i];
		if (feed_take(&f, slots, n) == 0 && f.nown &&
		    pool_enter(&r->lanes, &f))
			run_lanes(&f, &src, window);
		atomic_fetch_sub(&r->workers_busy, 1);
	}
}

void snap_hash_work(void *arg, size_t shard)
{
	struct snap_run *r = arg;
	struct errbuf eb = ERRBUF_INIT;
	struct hash_worker *w = NULL;
	void *batch[HASH_BATCH_MAX];
	struct ordered_slot *slots[HASH_BATCH_MAX];
	struct entry *items[HASH_BATCH_MAX];
	int n, i, ret;

	ret = hash_worker_new(engine_io_backend(r->run.o), r->run.o->md5, &w,
			      &eb);
	if (ret < 0) {
		snap_run_fail(r, &eb, ret);
		return;
	}
	hash_worker_skip_changing(w, r->mo->skip_changing);
	hash_worker_share_fds(w, r->hash_workers);
	ret = hash_worker_verify_heap(w, r->verify, &eb);
	if (ret < 0) {
		snap_run_fail(r, &eb, ret);
		hash_worker_free(w);
		return;
	}
	if (r->fs && hash_worker_has_lanes(w) &&
	    hash_lane_window(r->hash_workers, 2) > 1) {
		hash_lanes_main(r, w, shard, &eb);
		hash_worker_free(w);
		return;
	}
	while ((n = shardq_pop_batch_weighted(r->jobs, shard, batch,
					      HASH_BATCH_MAX, job_weight,
					      HASH_ARENA_SIZE)) > 0) {
		for (i = 0; i < n; i++)
			slots[i] = batch[i];
		if (r->run.o->interrupted && *r->run.o->interrupted)
			ret = errbuf_set(&eb, -EINTR, "interrupted");
		else
			ret = confirm_reused(r, slots, n, items, &eb);
		if (ret > 0 && !r->fs)
			ret = hash_worker_run_remote(w, r->scan,
						     r->run.o->file_root,
						     r->copy_from, items,
						     (size_t)ret, r->heap,
						     r->run.stats, &eb);
		else if (ret > 0)
			ret = hash_worker_run(w, tree_scan_rootfd(r->scan),
					      r->run.o->file_root, items,
					      (size_t)ret, r->heap,
					      r->run.stats, &eb);
		if (ret >= 0 && !r->fs)
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
}
