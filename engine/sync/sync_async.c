/* sync_async: a sync's small uploads to a store without a copier waiting
 * on each. A copier reads a small local file into memory, checks that it
 * did not change while read, and hands the PUT to the run's network
 * stage (objstore_put_submit); the stage calls back when it completed,
 * and only then is the file counted as copied. The copier goes on with
 * its next job meanwhile: before, it slept through every request and
 * was woken for its answer, two context switches per file (about a
 * fifth of a small-file sync's CPU here), with as many copiers as
 * requests in flight.
 *
 * Bounds: at most max_out uploads out and max_mem bytes of their bodies
 * (a copier waits for room; one larger body may pass alone). A failed
 * upload fails the run as a copier's error does (sync_run_fail: the
 * run's first error, its queues aborted, the uploads still queued in the
 * stage dropped unsent), and the run waits for every upload before it
 * reports, so it never counts a file copied that is not in the store. */
#include "sync_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "progress.h"

#include "banned.h"

struct async_put {
	struct sync_async *a;
	struct job *job;           /* deferred on a conflict */
	char *buf;
	uint64_t len;
	bool drops_meta;
};

void sync_async_init(struct sync_async *a, struct sync_run *run,
		     struct run_stats *stats, unsigned max_out,
		     size_t max_mem)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->room, NULL);
	atomic_init(&a->cancel, false);
	atomic_init(&a->closed, false);
	a->run = run;
	a->stats = stats;
	a->max_out = max_out ? max_out : 1;
	a->max_mem = max_mem;
}

void sync_async_destroy(struct sync_async *a)
{
	pthread_cond_destroy(&a->room);
	pthread_mutex_destroy(&a->lock);
}

/* objstore_put_done_fn, on the network thread: short, never blocking
 * but for the lock. */
static void put_done(void *arg, int err, const struct errbuf *eb)
{
	struct async_put *p = arg;
	struct sync_async *a = p->a;
	/* dropped unsent once the run failed: not an error of its own */
	bool failed = err < 0 && !(err == -ECANCELED &&
				   atomic_load(&a->cancel));

	/* DST in the way (a store that keeps "a/" refuses "a"): again
	 * after the deletions, as a copier defers it */
	if (err == -EEXIST && !sync_defer(a->run, p->job)) {
		p->job = NULL;
		failed = false;   /* neither failed nor stored */
	} else if (failed) {
		sync_run_fail(a->run, eb, err);
	}
	pthread_mutex_lock(&a->lock);
	if (!err) {
		stat_add(&a->stats->bytes_read, p->len);
		stat_add(&a->stats->bytes_written, p->len);
		stat_add(&a->stats->files_copied, 1);
		if (p->drops_meta)
			stat_add(&a->stats->meta_not_kept, 1);
	}
	a->out--;
	a->mem -= (size_t)p->len;
	/* the copiers waiting for room are woken together once a quarter
	 * of the slots are free, not all of them at every answer (out
	 * falls one by one, so a copier that waits at max_out sees it
	 * pass the mark); at 0 for sync_async_wait and for a copier held
	 * by the memory bound */
	if (a->out == a->max_out - (a->max_out + 3) / 4 || !a->out ||
	    failed)
		pthread_cond_broadcast(&a->room);
	pthread_mutex_unlock(&a->lock);
	sync_job_free(p->job);
	free(p->buf);
	free(p);
}

/* The run has failed (a copier, the scans or an upload): nothing more is
 * sent. Under lock or not. */
static int run_failed(struct sync_async *a, struct errbuf *eb)
{
	return run_error_failed(&a->run->run.err) ?
	       errbuf_set(eb, -ECANCELED, "the run has failed") : 0;
}

int sync_async_put(struct sync_async *a, struct objstore *os,
		   struct job *job, const struct entry *meta, char *buf,
		   uint64_t len, bool drops_meta, struct errbuf *eb)
{
	struct objstore_put_opts po;
	struct body_src src;
	struct async_put *p;
	uint8_t md5[16];
	int ret;

	p = calloc(1, sizeof(*p));
	ret = p ? digest_md5(buf, (size_t)len, md5) :
	      errbuf_set(eb, -ENOMEM, "out of memory");
	if (ret == -EIO)
		ret = errbuf_set(eb, ret, "cannot hash '%s' (OpenSSL)",
				 meta->name);
	if (ret < 0) {
		free(p);
		free(buf);
		sync_job_free(job);
		return ret;
	}
	p->a = a;
	p->job = job;
	p->buf = buf;
	p->len = len;
	p->drops_meta = drops_meta;

	pthread_mutex_lock(&a->lock);
	while (!run_failed(a, eb) && a->out &&
	       (a->out >= a->max_out || a->mem + len > a->max_mem))
		pthread_cond_wait(&a->room, &a->lock);
	ret = run_failed(a, eb);
	if (!ret) {
		a->out++;
		a->mem += (size_t)len;
	}
	pthread_mutex_unlock(&a->lock);
	if (ret < 0) {
		free(buf);
		free(p);
		sync_job_free(job);
		return ret;
	}

	memset(&src, 0, sizeof(src));
	src.kind = len ? BODY_SRC_MEM : BODY_SRC_NONE;
	src.mem = buf;
	src.len = len;
	memset(&po, 0, sizeof(po));
	po.md5 = md5;
	po.has_mtime = true;
	po.mtime_ns = meta->mtime_ns;
	po.cancel = &a->cancel;
	ret = objstore_put_submit(os, meta->name, &src, &po, put_done, p, eb);
	if (ret < 0) {
		/* nothing sent: its slot back, the caller fails the run */
		pthread_mutex_lock(&a->lock);
		a->out--;
		a->mem -= (size_t)len;
		pthread_cond_broadcast(&a->room);
		pthread_mutex_unlock(&a->lock);
		free(buf);
		free(p);
		sync_job_free(job);
	}
	return ret;
}

void sync_async_cancel(struct sync_async *a)
{
	atomic_store(&a->cancel, true);
}

void sync_async_wait(struct sync_async *a)
{
	atomic_store(&a->closed, true);
	pthread_mutex_lock(&a->lock);
	while (a->out)
		pthread_cond_wait(&a->room, &a->lock);
	pthread_mutex_unlock(&a->lock);
}
