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
 * first error aborts every stage; nothing partial is published. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bqueue.h"
#include "compiler.h"
#include "engine.h"
#include "filter.h"
#include "hash_worker.h"
#include "hasher.h"
#include "heap.h"
#include "objstore.h"
#include "heap_verify.h"
#include "remote_tree.h"
#include "inner_roots.h"
#include "ordered.h"
#include "owners.h"
#include "pysnap_reader.h"
#include "progress.h"
#include "scan.h"
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
#include "banned.h"

#define WINDOW 8192
/* entries the writer takes from the window at once */
#define WRITER_BATCH 256
#define RACY_MARGIN_NS 1000000000LL  /* coarse fs clocks lag real time */

/* ordered_slot.needs_work: what a worker does with the file */
enum {
	SLOT_HASH = 1,     /* read, hash and store it */
	SLOT_CONFIRM = 2,  /* md5 from the previous snapshot: kept only if
			    * the heap holds the object, else as SLOT_HASH */
	SLOT_MTIME = 3,    /* nothing to hash: only the object's mtime
			    * metadata to fetch (remote_tree_head) */
};

struct snap_run {
	const struct engine_opts *o;
	const struct make_snapshot_opts *mo;
	struct logger *log;
	struct run_stats *stats;
	struct heap *heap;            /* NULL: hash only */
	struct heap_verify *verify;   /* --verify-heap, else NULL */
	struct snapstore *ss;         /* SNAP_ROOT, or NULL */
	struct ordered *win;
	struct bqueue *jobs;          /* struct ordered_slot * */
	unsigned hash_workers;        /* threads started on jobs */
	/* hash workers with lanes holding a batch (lane_feed) */
	atomic_uint lane_busy;
	struct scanner *scanner;      /* local tree */
	struct remote_tree *rtree;    /* or an object-store tree */
	struct remote_scan *rscan;
	/* its listing lacks the mtime metadata (S3): HEAD for it */
	bool rtree_head_mtime;
	struct filter *filter;
	struct inner_roots inner;     /* heap/snap roots inside the tree */
	struct snapshot_reader *prev;
	struct entry prev_e;
	bool prev_has;
	int64_t racy_limit_ns;        /* reuse only if mtime < this */
	bool prev_bad;                /* previous snapshot failed to verify */
	bool prev_py;                 /* previous is the Python tool's */
	struct errbuf prev_err;
	unsigned xattr_ns;            /* enum xattr_ns to record, 0: none */
	struct hasher *xattr_h;       /* scan thread: md5 of big xattr lists */
	/* writer thread: the owners' names, asked once per id */
	struct owner_cache *owners;
	struct run_error err;
};

static void run_fail(struct snap_run *r, const struct errbuf *eb, int code)
{
	struct errbuf named = *eb;

	if (!eb->code)
		snprintf(named.msg, sizeof(named.msg), "%s", strerror(-code));
	run_error_set(&r->err, &named, code);
	ordered_abort(r->win);
	bqueue_abort(r->jobs);
}

static bool run_failed(struct snap_run *r)
{
	return run_error_failed(&r->err);
}

static int prev_advance(struct snap_run *r, struct errbuf *eb)
{
	int ret;

	entry_release(&r->prev_e);
	r->prev_has = false;
	if (!r->prev)
		return 0;
	ret = snapshot_reader_next(r->prev, &r->prev_e, eb);
	if (ret < 0)
		return ret;
	r->prev_has = ret == 1;
	return 0;
}

static bool can_reuse(const struct snap_run *r, const struct entry *p,
		      const struct entry *e)
{
	if (p->type != ENTRY_FILE || e->type != ENTRY_FILE || !p->has_md5)
		return false;
	if (r->rtree)
		/* object stores: the etag changes with every write (the
		 * Python tool's rule) */
		return p->size == e->size && p->etag && e->etag &&
		       !strcmp(p->etag, e->etag);
	if (r->prev_py) {
		/* the Python tool's rule: its float mtime equals this scan's
		 * as CPython computes st_mtime (its ctime and inode numbers
		 * belong to the tree it scanned, not to this one) */
		if (p->size != e->size ||
		    !pysnap_mtime_matches(p->mtime_ns, e->mtime_ns))
			return false;
		/* created_ns comes from the snapshot's name (0 if unknown:
		 * then nothing passes) */
		return e->mtime_ns < r->racy_limit_ns;
	}
	if (p->size != e->size || p->mtime_ns != e->mtime_ns)
		return false;
	if (!r->mo->reuse_size_mtime_only &&
	    (p->ctime_ns != e->ctime_ns || p->ino != e->ino) &&
	    /* a chown moves the ctime and nothing else: an owner change
	     * explains a new ctime, so the md5 stays (restic and git would
	     * hash again; a chown -R of a migrated tree would then read
	     * every byte) */
	    (p->ino != e->ino || !entry_owner_differs(p, e)))
		return false;
	/* racy-clean rule: a file modified around the previous scan may
	 * have changed again within the same timestamp tick */
	return e->mtime_ns < r->racy_limit_ns;
}

/* The previous snapshot is verified while it is merged (one read instead
 * of two); if it turns out damaged, this run is abandoned before saving and
 * redone without it. */
static void prev_failed(struct snap_run *r, const struct errbuf *eb)
{
	r->prev_bad = true;
	r->prev_err = *eb;
}

/* Move the previous snapshot's cursor up to e: 1 when it is at e's name
 * (and type), else 0; -errno when the previous snapshot fails. */
static int prev_seek(struct snap_run *r, const struct entry *e,
		     struct errbuf *eb)
{
	int ret;

	while (r->prev_has && entry_cmp(&r->prev_e, e) < 0) {
		ret = prev_advance(r, eb);
		if (ret < 0)
			return ret;
	}
	return r->prev_has && entry_cmp(&r->prev_e, e) == 0 &&
	       r->prev_e.type == e->type;
}

/* --verify-heap: the xattr object of e was in the heap already: read it
 * back and, when damaged, write it again from the list just read. */
static int verify_xattrs(struct snap_run *r, const struct entry *e,
			 struct errbuf *eb)
{
	char why[sizeof(eb->msg)], name[512], shown[1200];
	const size_t cap = 64 * 1024;
	void *buf = malloc(cap);
	int fd = -1, ret;

	if (!buf)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	ret = heap_verify_check(r->verify, &e->xattr_md5, r->xattr_h, buf,
				cap, eb);
	if (ret != 0) {
		ret = ret < 0 ? ret : 0;
		goto out;
	}
	memcpy(why, eb->msg, sizeof(why));
	errbuf_clear(eb);
	errbuf_quote_name(name, sizeof(name), e->name, e->name_len);
	snprintf(shown, sizeof(shown), "%s/%s (its xattrs)", r->o->file_root,
		 name);
	fd = memfd_create("snapshooter-xattrs", MFD_CLOEXEC);
	if (fd < 0 || write(fd, e->xattrs, e->xattrs_len) !=
		      (ssize_t)e->xattrs_len || lseek(fd, 0, SEEK_SET) < 0) {
		ret = errbuf_set(eb, fd < 0 ? -errno : -EIO, "cannot repair "
				 "the heap object of '%s': memfd: %s", shown,
				 strerror(fd < 0 ? errno : EIO));
		goto out;
	}
	ret = heap_verify_repair(r->verify, &e->xattr_md5, why, fd, shown,
				 r->xattr_h, buf, cap, eb);
	if (ret == -ESTALE)  /* memory does not change: cannot happen */
		ret = errbuf_set(eb, -EIO, "'%s' changed in memory", shown);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

/* Store e's encoded xattr list (its md5 known) and count it; with
 * --verify-heap an object already there is read back (verify_xattrs),
 * once per run for each list, like a content. */
static int store_xattrs(struct snap_run *r, struct entry *e,
			struct errbuf *eb)
{
	int ret, put;

	if (r->verify) {
		ret = heap_verify_claim(r->verify, &e->xattr_md5, eb);
		if (ret < 0)
			return ret;
		if (ret == 0) {
			stat_add(&r->stats->heap_objects_present, 1);
			return 0;
		}
	}
	put = heap_put_buf(r->heap, &e->xattr_md5, e->xattrs, e->xattrs_len,
			   eb);
	ret = put;
	if (put == 0 && r->verify)
		ret = verify_xattrs(r, e, eb);
	if (r->verify)
		heap_verify_settle(r->verify, &e->xattr_md5, ret >= 0);
	if (ret < 0)
		return ret;
	stat_add(put ? &r->stats->heap_objects_written :
		 &r->stats->heap_objects_present, 1);
	if (put)
		stat_add(&r->stats->bytes_written, e->xattrs_len);
	return 0;
}

/* An encoded xattr list too big to go inline becomes a heap object
 * (named by its MD5 like any content, made durable with them before the
 * snapshot is published); the entry keeps its reference. Restore's
 * scratch record (no heap) only needs the MD5, to compare. */
static int xattrs_to_heap(struct snap_run *r, struct entry *e,
			  struct errbuf *eb)
{
	int ret;

	if (!r->xattr_h) {
		ret = hasher_new(&r->xattr_h, eb);
		if (ret < 0)
			return ret;
	}
	ret = hasher_digest(r->xattr_h, e->xattrs, e->xattrs_len,
			    &e->xattr_md5, eb);
	if (ret < 0)
		return ret;
	if (r->heap) {
		ret = store_xattrs(r, e, eb);
		if (ret < 0)
			return ret;
	}
	e->has_xattr_ref = true;
	free(e->xattrs);
	e->xattrs = NULL;
	return 0;
}

/* The xattrs of e: the previous snapshot's when the inode's ctime (which
 * every xattr change moves) and number are the same and outside the
 * racy window, so a no-change run makes no xattr call at all; else read
 * now. Returns 0, or -ESTALE when the previous snapshot failed (eb set),
 * other -errno on failure. */
static int take_xattrs(struct snap_run *r, struct entry *e, struct errbuf *eb)
{
	const struct entry *p = &r->prev_e;
	int ret;

	ret = prev_seek(r, e, eb);
	if (ret < 0) {
		prev_failed(r, eb);
		return -ESTALE;
	}
	/* --verify-heap reads them anew: their object is checked too */
	if (ret == 1 && !r->prev_py && !r->verify && p->xattrs_known &&
	    e->ctime_ns &&
	    p->ctime_ns == e->ctime_ns && p->ino == e->ino &&
	    e->ctime_ns < r->racy_limit_ns) {
		if (!p->has_xattr_ref)
			return entry_set_xattrs(e, p->xattrs, p->xattrs_len) ?
			       errbuf_set(eb, -ENOMEM, "out of memory") : 0;
		/* a heap object the heap may have lost: only if present */
		ret = r->heap ? heap_has(r->heap, &p->xattr_md5, eb) : 1;
		if (ret < 0)
			return ret;
		if (ret == 1) {
			e->xattrs_known = true;
			e->has_xattr_ref = true;
			e->xattr_md5 = p->xattr_md5;
			e->xattrs_len = p->xattrs_len;
			return 0;
		}
	}
	ret = scanner_xattrs(r->scanner, r->xattr_ns, e, eb);
	if (ret < 0)
		return ret;
	if (e->xattrs_known && e->xattrs_len > XATTRS_INLINE_MAX)
		return xattrs_to_heap(r, e, eb);
	return 0;
}

/* Find the previous entry of e's name and take its md5 if trustworthy:
 * 1 the store gave the md5, 2 taken from the previous snapshot, 0 none. */
static int merge_prev(struct snap_run *r, struct entry *e, struct errbuf *eb)
{
	int ret;

	while (r->prev_has && entry_cmp(&r->prev_e, e) < 0) {
		ret = prev_advance(r, eb);
		if (ret < 0)
			return ret;
	}
	if (e->has_md5)
		return 1;  /* the store gave it: nothing to download */
	if (r->prev_has && entry_cmp(&r->prev_e, e) == 0 &&
	    can_reuse(r, &r->prev_e, e)) {
		e->md5 = r->prev_e.md5;
		e->has_md5 = true;
		return 2;  /* counted once the heap is known to hold it */
	}
	return 0;
}

/* An S3 tree lists Last-Modified, not the object's mtime metadata: the
 * previous snapshot's mtime of the same object (same etag and size) saves
 * the HEAD, unless it was the Last-Modified itself (an object without the
 * metadata, or a snapshot made before it was read). The etag stays when
 * only metadata is rewritten (rclone touch): such a change is seen once
 * the content changes. */
static void prev_mtime(struct snap_run *r, struct entry *e)
{
	const struct entry *p = &r->prev_e;

	if (r->prev_has && entry_cmp(p, e) == 0 && p->type == ENTRY_FILE &&
	    p->size == e->size && p->etag && e->etag &&
	    !strcmp(p->etag, e->etag) &&
	    p->mtime_ns / 1000000000LL != e->mtime_ns / 1000000000LL) {
		e->mtime_ns = p->mtime_ns;
		e->upload_mtime = false;
	}
}

static int tree_next(struct snap_run *r, struct entry *e, struct errbuf *eb)
{
	if (r->rscan)
		return remote_scan_next(r->rscan, e, eb);
	return scanner_next(r->scanner, e, eb);
}

/* Object-store trees: a known md5 whose object the heap lacks still needs
 * the content (downloaded by a worker), unless --no-download-missing-files
 * says to record it as it is. */
static int remote_needs_content(struct snap_run *r, const struct entry *e,
				struct errbuf *eb)
{
	int ret;

	if (!r->heap)
		return 0;
	ret = heap_has(r->heap, &e->md5, eb);
	if (ret < 0)
		return ret;
	if (ret == 1)
		return 0;
	if (!r->mo->download_missing) {
		stat_add(&r->stats->files_skipped, 1);
		return 0;
	}
	return 1;
}

static void *scan_main(void *arg)
{
	struct snap_run *r = arg;
	struct errbuf eb = ERRBUF_INIT;
	struct entry e;
	int ret;

	while ((ret = tree_next(r, &e, &eb)) == 1) {
		struct ordered_slot *slot;
		bool hash, confirm, reused = false;

		if (e.mtime_ns == INT64_MAX || e.mtime_ns == INT64_MIN) {
			char shown[512];

			errbuf_quote_name(shown, sizeof(shown), e.name,
					  e.name_len);
			ret = errbuf_set(&eb, -EOVERFLOW, "cannot record "
					 "'%s/%s': its mtime is outside the "
					 "years 1677-2262 that a snapshot "
					 "(64-bit ns) holds", r->o->file_root,
					 shown);
			entry_release(&e);
			break;
		}
		if (r->xattr_ns && r->scanner) {
			ret = take_xattrs(r, &e, &eb);
			if (ret < 0) {
				entry_release(&e);
				break;
			}
		}
		hash = e.type == ENTRY_FILE;
		confirm = false;
		if (hash) {
			ret = merge_prev(r, &e, &eb);
			if (ret < 0) {
				entry_release(&e);
				prev_failed(r, &eb);
				break;
			}
			reused = ret == 2;
			hash = ret == 0;
			if (!hash && r->rtree && r->verify) {
				/* --verify-heap: the content is needed to
				 * check (and repair) the object */
				hash = true;
			} else if (!hash && r->rtree) {
				ret = remote_needs_content(r, &e, &eb);
				if (ret < 0) {
					entry_release(&e);
					break;
				}
				hash = ret == 1;
			} else if (reused && r->heap) {
				/* a worker asks the heap (in batches) */
				confirm = true;
			}
			if (reused && !hash && !confirm)
				stat_add(&r->stats->md5_reused, 1);
			if (e.upload_mtime && r->rtree_head_mtime)
				prev_mtime(r, &e);
		}
		slot = ordered_reserve(r->win);
		if (!slot) {
			entry_release(&e);
			ret = -ECANCELED;
			break;
		}
		slot->entry = e;
		if (!hash && !confirm &&
		    !(e.upload_mtime && r->rtree_head_mtime)) {
			ordered_complete(r->win, slot);
			continue;
		}
		slot->needs_work = confirm ? SLOT_CONFIRM : hash ? SLOT_HASH :
				   SLOT_MTIME;
		if (bqueue_push(r->jobs, slot) < 0) {
			/* aborted: hand the slot back so it is released */
			ordered_complete(r->win, slot);
			ret = -ECANCELED;
			break;
		}
	}
	/* the previous snapshot's checksum covers all of it: read it to the
	 * end before any md5 taken from it may be saved */
	while (ret == 0 && r->prev_has) {
		ret = prev_advance(r, &eb);
		if (ret < 0)
			prev_failed(r, &eb);
	}
	if (ret < 0) {
		if (r->prev_bad)
			run_fail(r, &r->prev_err, -ESTALE);
		else if (ret != -ECANCELED)
			run_fail(r, &eb, ret);
	} else {
		ordered_close(r->win);
		bqueue_close(r->jobs);
	}
	return NULL;
}

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
		run_fail(f->r, f->eb, ret);
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
	 * other worker has work too: a file taken here waits for a lane of
	 * this worker's core, one another worker would start at once on
	 * the other (restore and make-snapshot of 2 x 256 MiB alternated
	 * with --md5 openssl: 1 in 2 runs took twice as long, both files
	 * hashed one after the other by the first worker to run). */
	if (f->pos == f->nown &&
	    atomic_load(&f->r->lane_busy) >= f->r->hash_workers) {
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
		for (i = 0; i < n; i++)
			slots[i] = batch[i];
		if (feed_take(&f, slots, n) < 0 || !f.nown)
			continue;
		atomic_fetch_add(&r->lane_busy, 1);
		ret = hash_worker_run_lanes(w, scanner_rootfd(r->scanner),
					    r->o->file_root, window, &src,
					    r->heap, r->stats,
					    r->o->interrupted, eb);
		atomic_fetch_sub(&r->lane_busy, 1);
		if (ret < 0 && !f.failed) {
			run_fail(r, eb, ret);
			f.failed = true;
		}
		/* stopped before the lanes took all of them */
		while (f.pos < f.nown)
			ordered_complete(r->win,
					 container_of(f.own[f.pos++],
						      struct ordered_slot,
						      entry));
	}
}

static void *hash_main(void *arg)
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
		run_fail(r, &eb, ret);
		return NULL;
	}
	hash_worker_skip_changing(w, r->mo->skip_changing);
	ret = hash_worker_verify_heap(w, r->verify, &eb);
	if (ret < 0) {
		run_fail(r, &eb, ret);
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
			run_fail(r, &eb, ret);
		ordered_complete_batch(r->win, slots, (size_t)n);
		if (ret < 0)
			break;
	}
	hash_worker_free(w);
	return NULL;
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

/* Did the store fail to answer (as opposed to giving damaged bytes)? */
static bool is_outage(int err)
{
	return err == -ETIMEDOUT || err == -ECONNREFUSED ||
	       err == -ECONNRESET || err == -EHOSTUNREACH ||
	       err == -EAGAIN || err == -EACCES || err == -ECANCELED;
}

/* Open the previous snapshot for the merge (its checksum is verified as
 * the merge reads it to the end). A previous snapshot that cannot be
 * listed or fetched fails the run; a damaged one is a warning (every
 * file is hashed). */
static int open_previous(struct snap_run *r, struct errbuf *eb)
{
	struct errbuf local = ERRBUF_INIT;
	char *path = NULL;
	int ret;

	if (r->mo->previous_path) {
		path = strdup(r->mo->previous_path);
		if (!path)
			return errbuf_set(eb, -ENOMEM, "out of memory");
	} else {
		log_info(r->log, "searching the latest snapshot in '%s'",
			 r->o->snap_root);
		ret = snapstore_find_latest(r->ss, false, 0, &path, &local);
		if (ret == -ENOENT) {
			log_info(r->log, "no snapshot yet: every file is "
				 "hashed");
			return 0;  /* first snapshot */
		}
		/* a store that cannot be listed (down, refusing, a missing
		 * bucket) is no reason to hash, and for an object-store
		 * FILE_ROOT download, the whole tree: stop here */
		if (ret < 0)
			return errbuf_set(eb, ret, "%s", local.msg);
	}
	ret = snapstore_open_reader(r->ss, path, &r->prev, &local);
	if (ret < 0 && is_outage(ret)) {
		free(path);
		return errbuf_set(eb, ret, "%s", local.msg);
	}
	if (ret < 0)
		goto unusable;
	/* only md5s are taken from it */
	snapshot_reader_skip_owner_names(r->prev);
	r->racy_limit_ns = snapshot_reader_header(r->prev)->created_ns -
			   RACY_MARGIN_NS;
	r->prev_py = snapshot_reader_header(r->prev)->format ==
		     SNAPSHOT_FORMAT_JSONL_GZ;
	if (r->mo->racy_after_ns && r->mo->racy_after_ns < r->racy_limit_ns)
		r->racy_limit_ns = r->mo->racy_after_ns;
	log_info(r->log, "reusing the md5s of unchanged files from '%s'",
		 path);
	free(path);
	ret = prev_advance(r, &local);
	if (ret < 0) {
		snapshot_reader_free(r->prev);
		r->prev = NULL;
		goto unusable_logged;
	}
	return 0;
unusable:
	/* a damaged previous snapshot must not stop a new backup: say so
	 * and hash everything */
	free(path);
unusable_logged:
	log_warn(r->log, "previous snapshot not usable, hashing every file: %s",
		 local.msg);
	(void)eb;
	return 0;
}

/* The writer stage's one interface over the two snapshot formats. */
struct snap_out_ops {
	int (*add)(void *w, const struct entry *e, struct errbuf *eb);
	int (*finish)(void *w, struct errbuf *eb);
	void (*free)(void *w);
};

static int msgpack_out_add(void *w, const struct entry *e, struct errbuf *eb)
{
	return snapshot_writer_add(w, e, eb);
}

static int msgpack_out_finish(void *w, struct errbuf *eb)
{
	return snapshot_writer_finish(w, eb);
}

static void msgpack_out_free(void *w)
{
	snapshot_writer_free(w);
}

static const struct snap_out_ops msgpack_out_ops = {
	.add = msgpack_out_add,
	.finish = msgpack_out_finish,
	.free = msgpack_out_free,
};

static int pysnap_out_add(void *w, const struct entry *e, struct errbuf *eb)
{
	return pysnap_writer_add(w, e, eb);
}

static int pysnap_out_finish(void *w, struct errbuf *eb)
{
	return pysnap_writer_finish(w, eb);
}

static void pysnap_out_free(void *w)
{
	pysnap_writer_free(w);
}

static const struct snap_out_ops pysnap_out_ops = {
	.add = pysnap_out_add,
	.finish = pysnap_out_finish,
	.free = pysnap_out_free,
};

struct snap_out {
	const struct snap_out_ops *ops;
	void *w;                      /* NULL: no snapshot is written */
};

/* The format to write: the option's, or with auto the format of the
 * latest snapshot already in SNAP_ROOT (msgpack when there is none), so a
 * history the Python tool started stays readable by it. */
static int resolve_format(const struct snap_run *r, enum snapshot_format *fmt,
			  struct errbuf *eb)
{
	struct errbuf local = ERRBUF_INIT;
	char *path = NULL;
	size_t n, sn;
	int ret;

	*fmt = SNAPSHOT_FORMAT_MSGPACK;
	if (r->o->snapshot_format == SNAPSHOT_WRITE_JSONL_GZ)
		*fmt = SNAPSHOT_FORMAT_JSONL_GZ;
	if (r->o->snapshot_format != SNAPSHOT_WRITE_AUTO)
		return 0;
	ret = snapstore_find_latest(r->ss, false, 0, &path, &local);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return errbuf_set(eb, ret, "%s", local.msg);
	n = strlen(path);
	sn = strlen(SNAPSTORE_SUFFIX_JSONL_GZ);
	if (n >= sn && !strcmp(path + n - sn, SNAPSTORE_SUFFIX_JSONL_GZ))
		*fmt = SNAPSHOT_FORMAT_JSONL_GZ;
	free(path);
	return 0;
}

/* jsonl.gz records files only: say once what the snapshot left out */
static void warn_pysnap_skipped(struct snap_run *r, const struct snap_out *so)
{
	uint64_t dirs, empty, links;

	if (so->ops != &pysnap_out_ops)
		return;
	pysnap_writer_skipped(so->w, &dirs, &empty, &links);
	if (links || empty)
		log_warn(r->log, "the jsonl.gz snapshot format records files "
			 "only: %llu symlink(s) and %llu empty "
			 "director%s left out (and the mode and mtime of "
			 "%llu director%s)", (unsigned long long)links,
			 (unsigned long long)empty, empty == 1 ? "y" : "ies",
			 (unsigned long long)dirs, dirs == 1 ? "y" : "ies");
}

/* Killed runs leave their temp snapshots; this run's own temp is locked
 * by now, like any live one (snapstore_remove_stale_temps). */
static void remove_stale_temps(struct snap_run *r)
{
	int n = snapstore_remove_stale_temps(r->ss);

	if (n > 0)
		log_info(r->log, "removed %d temp snapshot file(s) left by "
			 "interrupted runs in '%s'", n, r->o->snap_root);
}

static int write_sink_fd(void *ctx, const void *buf, size_t len)
{
	return fdio_write_full(*(int *)ctx, buf, len);
}

/* Record e with its owner's user and group names (a restore on another
 * system maps them to its own ids, as rsync and tar do). Looked up here,
 * on the writer thread, and lent to the entry for the call: no copy per
 * entry. */
static int add_entry(struct snap_run *r, const struct snap_out *out,
		     struct entry *e, struct errbuf *eb)
{
	int ret;

	if (!e->has_owner || !r->owners || e->user || e->group)
		return out->ops->add(out->w, e, eb);
	e->user = (char *)owner_cache_user(r->owners, e->uid);
	e->group = (char *)owner_cache_group(r->owners, e->gid);
	ret = out->ops->add(out->w, e, eb);
	e->user = NULL;   /* borrowed from r->owners */
	e->group = NULL;
	return ret;
}

/* The writer's part for one entry in scan order: record it, or say that
 * it vanished between the scan and the read. */
static void write_entry(struct snap_run *r, const struct snap_out *out,
			struct entry *e)
{
	struct errbuf web = ERRBUF_INIT;
	int ret;

	if (e->type == ENTRY_FILE && !e->has_md5 && !run_failed(r)) {
		/* deleted between the scan and the read: the tree no
		 * longer has it (rsync also just warns); or, with
		 * --skip-changing, it never held still long enough */
		char shown[512];

		errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
		if (e->changing) {
			log_warn(r->log, "skipped '%s/%s': it kept changing "
				 "while being read: left out",
				 r->o->file_root, shown);
			stat_add(&r->stats->files_skipped_changing, 1);
		} else {
			log_warn(r->log, "'%s/%s' vanished during the scan: "
				 "left out", r->o->file_root, shown);
		}
		stat_add(&r->stats->files_skipped, 1);
	} else if (out->w && !run_failed(r)) {
		ret = add_entry(r, out, e, &web);
		if (ret < 0)
			run_fail(r, &web, ret);
	}
}

/* The names of the root's owner, as entries have theirs (one NSS
 * question each). */
static void root_owner_names(struct snapshot_header *h)
{
	struct owner_cache *c = NULL;
	const char *n;

	if (owner_cache_new(&c) < 0)
		return;
	n = owner_cache_user(c, h->root_uid);
	if (n && strlen(n) < sizeof(h->root_user))
		memcpy(h->root_user, n, strlen(n) + 1);
	n = owner_cache_group(c, h->root_gid);
	if (n && strlen(n) < sizeof(h->root_group))
		memcpy(h->root_group, n, strlen(n) + 1);
	owner_cache_free(c);
}

/* The root directory's xattrs and ACLs, inline in the header (key 10):
 * a default ACL on the root is what gives every new file its rights. A
 * list too long to go inline is left out with a warning. */
static void root_xattrs(const struct snap_run *r, struct snapshot_header *h)
{
	unsigned char *x = NULL;
	size_t len = 0;
	int ret;

	if (!r->xattr_ns)
		return;
	ret = xattr_read(scanner_rootfd(r->scanner), NULL, r->xattr_ns, &x,
			 &len);
	if (!ret && len <= sizeof(h->root_xattrs)) {
		/* no attributes at all: x is NULL, len 0 (an empty list) */
		if (len)
			memcpy(h->root_xattrs, x, len);
		h->root_xattrs_len = len;
		h->has_root_xattrs = true;
	} else {
		log_warn(r->log, "the root directory's own xattrs are not "
			 "recorded: %s", ret ? strerror(-ret) :
			 "longer than the header holds (8 KiB)");
	}
	free(x);
}

/* The root directory's own mode and mtime go into the header (its
 * entries record everything below it). Best effort: a root that cannot
 * be stat'ed now fails the scan anyway. */
static void root_meta(const struct snap_run *r, struct snapshot_header *h)
{
	struct stat st;

	if (fstat(scanner_rootfd(r->scanner), &st))
		return;
	h->has_root_meta = true;
	h->root_mode = st.st_mode & SNAPSHOT_MODE_MASK;
	h->root_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
			   st.st_mtim.tv_nsec;
	h->has_root_owner = true;
	h->root_uid = st.st_uid;
	h->root_gid = st.st_gid;
	root_owner_names(h);
	root_xattrs(r, h);
}

static int make_snapshot_run(const struct engine_opts *o,
			     const struct make_snapshot_opts *mo,
			     const struct make_snapshot_stores *st,
			     struct run_stats *stats, char **snapshot_path,
			     bool use_previous, struct errbuf *eb)
{
	struct snap_run r;
	struct logger log = o->log;
	struct scan_opts so;
	struct snapshot_header hdr;
	struct snapshot_writer *writer = NULL;
	struct pysnap_writer *pywriter = NULL;
	struct snap_out out = { &msgpack_out_ops, NULL };
	enum snapshot_format fmt = SNAPSHOT_FORMAT_MSGPACK;
	struct snapstore_tx *tx = NULL;
	struct lock *lk = NULL, *own_lk = NULL;
	struct progress prog;
	pthread_t scan_thread, *hash_threads = NULL;
	unsigned jobs = o->jobs ? o->jobs : 1, started = 0, i;
	bool scan_started = false;
	struct ordered_slot *ready[WRITER_BATCH];
	size_t nready, k;
	double t0 = clock_mono_s();
	int out_fd = mo->to_fd ? mo->out_fd : -1;
	int ret;

	*snapshot_path = NULL;
	memset(&r, 0, sizeof(r));
	r.o = o;
	r.mo = mo;
	r.log = &log;
	r.stats = stats;
	r.racy_limit_ns = INT64_MIN;
	run_error_init(&r.err);
	memset(&hdr, 0, sizeof(hdr));
	hdr.created_ns = clock_now_ns();

	if (!o->file_root || (out_fd < 0 && (!o->heap_root ||
					     (mo->save && !o->snap_root)))) {
		ret = errbuf_set(eb, -EINVAL, "make-snapshot needs --file-root, "
				 "--heap-root and --snap-root");
		goto out;
	}
	ret = filter_from_opts(o->include, o->exclude, &r.filter, eb);
	if (ret < 0)
		goto out;
	/* a shared lock before the heap is looked at: a gc that deleted an
	 * object after our presence check would leave the snapshot pointing
	 * at nothing (LOCKING.md) */
	if (out_fd < 0 && o->snap_root && st && st->lock) {
		lk = st->lock;
	} else if (out_fd < 0 && o->snap_root) {
		ret = lock_acquire(o, LOCK_SHARED, "make-snapshot", &own_lk,
				   eb);
		if (ret < 0)
			goto out;
		lk = own_lk;
	}
	/* contents go to the heap unless the snapshot is only a scratch
	 * record of the tree (restore's current state) */
	if (out_fd < 0) {
		log_info(&log, "making a snapshot of '%s'", o->file_root);
		log_info(&log, "hashing with MD5 implementation '%s' (--md5)",
			 engine_md5_name(o->md5));
		if (st && st->heap)
			r.heap = st->heap;
		else
			ret = heap_open_url(o->heap_root, true, o, &r.heap, eb);
		if (ret < 0)
			goto out;
		if (mo->verify_heap) {
			ret = heap_verify_new(r.heap, &log, &r.verify, eb);
			if (ret < 0)
				goto out;
			log_info(&log, "--verify-heap: every file is hashed and "
				 "each heap object it needs is read back");
		}
	}
	if (o->snap_root && st && st->ss) {
		r.ss = st->ss;
	} else if (o->snap_root) {
		ret = snapstore_open(o->snap_root, o->snap_storage_options, o,
				     &r.ss, eb);
		if (ret < 0)
			goto out;
	}
	if (o->snap_root && use_previous) {
		ret = open_previous(&r, eb);
		if (ret < 0)
			goto out;
	}
	memset(&so, 0, sizeof(so));
	so.root = o->file_root;
	so.io = o->io == IO_MODE_SYNC ? IO_BACKEND_SYNC :
		o->io == IO_MODE_URING ? IO_BACKEND_URING : IO_BACKEND_AUTO;
	so.log = &log;
	/* the heap and snapshot roots may sit inside the tree: never back
	 * them up */
	ret = inner_roots_init(&r.inner, o, r.filter);
	if (ret < 0) {
		ret = errbuf_set(eb, ret, "out of memory");
		goto out;
	}
	so.allow = inner_roots_active(&r.inner) ? inner_roots_allow : NULL;
	so.allow_ctx = &r.inner;
	so.files_scanned = &stats->files_scanned;
	so.files_skipped = &stats->files_skipped;
	so.interrupted = o->interrupted;
	so.prefetch_threads = o->scan_jobs;
	so.reap_tree_temps = mo->tree_temps;
	/* security.* is listed to anyone (trusted.* only to root): record
	 * what the kernel shows; restore sets what it is allowed to */
	if (!o->no_xattrs)
		r.xattr_ns = XATTR_NS_USER | XATTR_NS_PRIV | XATTR_NS_ACL;
	so.hard_links = !mo->no_hard_links;
	if (objstore_is_url(o->file_root)) {
		ret = remote_tree_open(o->file_root, o->file_storage_options, o,
				       false, &r.rtree, eb);
		if (!ret)
			r.rtree_head_mtime = !remote_tree_lists_mtime(r.rtree);
		if (!ret)
			ret = remote_scan_start(r.rtree, &log, so.allow,
						so.allow_ctx,
						&stats->files_scanned, &r.rscan,
						eb);
	} else {
		ret = scanner_new(&so, &r.scanner, eb);
		if (!ret)
			root_meta(&r, &hdr);
	}
	if (ret < 0)
		goto out;
	if (o->io == IO_MODE_AUTO) {
		/* say once, here, what every worker will find */
		struct io_ctx *probe = NULL;
		struct errbuf pe = ERRBUF_INIT;
		bool fell_back = false;

		if (io_ctx_new(IO_BACKEND_AUTO, 8, &probe, &fell_back, &pe) == 0 &&
		    fell_back)
			log_warn(&log, "io_uring is not available here (old "
				 "kernel or blocked by seccomp): using plain "
				 "system calls");
		io_ctx_free(probe);
	}

	if (mo->save && out_fd < 0) {
		ret = resolve_format(&r, &fmt, eb);
		if (ret < 0)
			goto out;
		ret = snapstore_begin(r.ss, hdr.created_ns, fmt, &tx, eb);
		if (ret < 0)
			goto out;
		remove_stale_temps(&r);
		if (fmt == SNAPSHOT_FORMAT_JSONL_GZ)
			ret = pysnap_writer_new(snapstore_tx_write, tx,
						r.rtree != NULL, &pywriter, eb);
		else
			ret = snapshot_writer_new(snapstore_tx_write, tx, &hdr,
						  &writer, eb);
	} else if (out_fd >= 0) {
		/* restore's scratch record of the tree: always msgpack */
		ret = snapshot_writer_new(write_sink_fd, &out_fd, &hdr, &writer,
					  eb);
	}
	if (ret < 0)
		goto out;
	if (pywriter) {
		out.ops = &pysnap_out_ops;
		out.w = pywriter;
	} else {
		out.w = writer;
	}

	if (writer && owner_cache_new(&r.owners) < 0) {
		ret = errbuf_set(eb, -ENOMEM, "out of memory");
		goto out;
	}
	ret = ordered_new(WINDOW, &r.win);
	if (!ret)
		ret = bqueue_new(WINDOW, &r.jobs);
	if (ret < 0) {
		ret = errbuf_set(eb, ret, "out of memory");
		goto out;
	}
	progress_start(&prog, "make-snapshot", stats, &log, o->progress);
	/* an object-store tree: workers wait on requests, not on the CPU */
	if (r.rtree && o->transfers > jobs)
		jobs = o->transfers;
	hash_threads = calloc(jobs, sizeof(*hash_threads));
	r.hash_workers = jobs;
	if (!hash_threads ||
	    pthread_create(&scan_thread, NULL, scan_main, &r)) {
		run_fail(&r, eb, errbuf_set(eb, -EAGAIN, "cannot start threads"));
	} else {
		scan_started = true;
		for (i = 0; i < jobs; i++) {
			if (pthread_create(&hash_threads[i], NULL, hash_main, &r))
				break;
			started++;
		}
		if (!started)
			run_fail(&r, eb, errbuf_set(eb, -EAGAIN,
						    "cannot start threads"));
	}

	/* the writer: entries in scan order, as workers complete them */
	while ((nready = ordered_next_batch(r.win, ready, WRITER_BATCH)) > 0) {
		for (k = 0; k < nready; k++)
			write_entry(&r, &out, &ready[k]->entry);
		ordered_release_batch(r.win, ready, nready);
	}
	if (scan_started)
		pthread_join(scan_thread, NULL);
	for (i = 0; i < started; i++)
		pthread_join(hash_threads[i], NULL);
	progress_stop(&prog);

	if (run_failed(&r)) {
		struct errbuf first;

		ret = run_error_take(&r.err, &first);
		if (r.prev_bad && ret == -ESTALE)
			log_warn(&log, "previous snapshot not usable, hashing "
				 "every file again: %s", r.prev_err.msg);
		else
			errbuf_set(eb, ret, "%s", first.msg);
		goto out;
	}
	if (r.verify) {
		heap_verify_counts(r.verify, &stats->heap_objects_verified,
				   &stats->heap_objects_repaired);
		log_info(&log, "--verify-heap: %llu heap objects read back, "
			 "%llu repaired",
			 (unsigned long long)stats->heap_objects_verified,
			 (unsigned long long)stats->heap_objects_repaired);
	}
	if (r.heap) {
		/* every referenced object durable before the snapshot */
		ret = heap_sync(r.heap, eb);
		if (ret < 0)
			goto out;
	}
	if (out_fd < 0)
		log_info(&log, "found %llu entries: %llu files hashed, %llu "
			 "md5s reused, %llu new heap objects",
			 (unsigned long long)stats->files_scanned,
			 (unsigned long long)stats->files_hashed,
			 (unsigned long long)stats->md5_reused,
			 (unsigned long long)stats->heap_objects_written);
	if (out.w) {
		ret = out.ops->finish(out.w, eb);
		if (ret < 0)
			goto out;
		warn_pysnap_skipped(&r, &out);
	}
	if (o->interrupted && *o->interrupted) {
		/* a signal during the final sync: publish nothing */
		ret = errbuf_set(eb, -EINTR, "interrupted");
		goto out;
	}
	if (tx) {
		/* a run stopped past the lock expiry may have had its objects
		 * collected: publish nothing then */
		ret = lock_check(lk, eb);
		if (ret < 0)
			goto out;
		ret = snapstore_commit(tx, snapshot_path, eb);
		tx = NULL;
		if (ret < 0)
			goto out;
		log_info(&log, "saved snapshot '%s'", *snapshot_path);
	}
	ret = 0;
out:
	if (tx)
		snapstore_abort(tx);
	if (out.w)
		out.ops->free(out.w);
	free(hash_threads);
	scanner_free(r.scanner);
	remote_scan_free(r.rscan);
	remote_tree_free(r.rtree);
	bqueue_free(r.jobs);
	ordered_free(r.win);
	entry_release(&r.prev_e);
	hasher_free(r.xattr_h);
	snapshot_reader_free(r.prev);
	if (!st || r.ss != st->ss)
		snapstore_free(r.ss);
	heap_verify_free(r.verify);
	if (!st || r.heap != st->heap) {
		uncount_unstored(r.heap, stats);
		heap_free(r.heap);
	}
	lock_release(own_lk);
	inner_roots_release(&r.inner);
	filter_free(r.filter);
	owner_cache_free(r.owners);
	run_error_destroy(&r.err);
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
