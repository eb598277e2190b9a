/* heap_remote_upload: the background half of a remote heap's puts
 * (heap_remote.c makes the jobs): small bodies in memory go straight to
 * the network stage (objstore_put_submit); the others to a bounded job
 * queue and the uploader threads that empty it, one objstore_put per
 * job. Bounds, backpressure and the first error winning are described
 * in heap_remote.c. */
#include "heap_remote_impl.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heap.h"
#include "objstore.h"
#include "banned.h"

#define REMOTE_MEM_BUDGET (64u * 1024 * 1024)
#define REMOTE_MAX_JOBS 8192u
#define REMOTE_MAX_UPLOADERS 64u

void heap_remote_job_free(struct job *j)
{
	if (!j)
		return;
	free(j->mem);
	if (j->fd >= 0)
		close(j->fd);
	free(j);
}

/* The key, options and body of j's put. */
static void job_put_args(const struct job *j, char key[39],
			 struct objstore_put_opts *po, struct body_src *src)
{
	if (j->gz)
		heap_object_path_gz(&j->id, key);
	else
		heap_object_path(&j->id, key);
	memset(po, 0, sizeof(*po));
	po->md5 = j->gz ? j->md5 : j->id.b;
	memset(src, 0, sizeof(*src));
	src->len = j->len;
	src->fd = -1;
	if (j->mem || !j->len) {
		src->kind = j->len ? BODY_SRC_MEM : BODY_SRC_NONE;
		src->mem = j->mem;
	} else {
		src->kind = BODY_SRC_FD;
		src->fd = j->fd;
	}
}

static int upload(struct remote *r, struct job *j, struct errbuf *eb)
{
	struct objstore_put_opts po;
	struct body_src src;
	char key[39];

	job_put_args(j, key, &po, &src);
	return objstore_put(r->os, key, &src, &po, NULL, eb);
}

/* The count of small puts out at which producers waiting for room are
 * woken: max_direct less a quarter (max_direct is at least 2). */
static size_t direct_low_mark(const struct remote *r)
{
	return r->max_direct - (r->max_direct + 3) / 4;
}

/* Under r->lock: err is the heap's first error, unless it has one.
 * Later puts fail with it, what is queued is dropped, and the producers
 * waiting for room are woken to see it. */
static void fail_locked(struct remote *r, int err, const struct errbuf *eb)
{
	if (r->err)
		return;
	r->err = err;
	r->errmsg = *eb;
	atomic_store(&r->cancel, true);
	pthread_cond_broadcast(&r->direct_room);
	pthread_cond_broadcast(&r->progress);
}

void heap_remote_fail(struct remote *r, int err, const struct errbuf *eb)
{
	pthread_mutex_lock(&r->lock);
	fail_locked(r, err, eb);
	pthread_mutex_unlock(&r->lock);
}

/* A job has ended (an uploader's or the network thread's): ret its
 * upload's result (eb its message), skip when it was dropped unsent.
 * The first error stays; only what was stored is counted. */
static void job_done(struct remote *r, struct job *j, int ret,
		     const struct errbuf *eb, bool skip)
{
	pthread_mutex_lock(&r->lock);
	if (ret < 0)
		fail_locked(r, ret, eb);
	if (ret == 0 && !skip) {
		atomic_fetch_add(&r->uploaded, 1);
		atomic_fetch_add(&r->stored_bytes, j->raw_len);
	}
	r->jobs--;
	if (j->owner) {
		r->direct--;
		/* producers waiting for a slot are woken together once a
		 * quarter of the slots are free, not one per completion: a
		 * hash worker then queues several small objects per
		 * wake-up instead of sleeping again after each (waiters
		 * wait while direct >= max_direct, and direct falls one by
		 * one, so it meets this mark on its way down) */
		if (r->direct == direct_low_mark(r))
			pthread_cond_broadcast(&r->direct_room);
	}
	if (j->mem)
		r->mem -= (size_t)j->len;
	else if (j->fd >= 0)
		r->spools--;
	pthread_cond_broadcast(&r->progress);
	pthread_mutex_unlock(&r->lock);
	heap_remote_job_free(j);
}

/* objstore_put_done_fn of a job sent without an uploader. */
static void direct_done(void *arg, int err, const struct errbuf *eb)
{
	struct job *j = arg;
	struct remote *r = j->owner;
	/* dropped unsent after the first error or at stop: a skip, as an
	 * uploader's queued job then, not an error of its own */
	bool skip = err == -ECANCELED && atomic_load(&r->cancel);

	job_done(r, j, skip ? 0 : err, eb, skip);
}

/* A job whose body is in memory and goes in one PUT is handed to the
 * network stage straight from the caller's thread (objstore_put_submit):
 * no uploader thread waits on it, so a small object costs no hand-off
 * to an uploader and back. The others (spools, multipart) go to the
 * uploaders, whose objstore_put waits on its parts. */
static bool is_direct(const struct remote *r, const struct job *j)
{
	return (j->mem || !j->len) && objstore_put_is_single(r->os, j->len);
}

static int submit_direct(struct remote *r, struct job *j, struct errbuf *eb)
{
	struct objstore_put_opts po;
	struct body_src src;
	char key[39];
	int ret;

	job_put_args(j, key, &po, &src);
	po.cancel = &r->cancel;
	ret = objstore_put_submit(r->os, key, &src, &po, direct_done, j, eb);
	if (ret < 0)   /* nothing sent: the job ends here, with its error */
		job_done(r, j, ret, eb, false);
	return ret < 0 ? ret : 1;
}

static void *uploader_main(void *arg)
{
	struct remote *r = arg;

	for (;;) {
		struct errbuf eb = ERRBUF_INIT;
		struct job *j;
		bool skip;
		int ret = 0;

		pthread_mutex_lock(&r->lock);
		while (!r->head && !r->stop)
			pthread_cond_wait(&r->has_job, &r->lock);
		j = r->head;
		if (!j) {
			pthread_mutex_unlock(&r->lock);
			break;
		}
		r->head = j->next;
		if (!r->head)
			r->tail = NULL;
		skip = r->err != 0 || r->stop;
		pthread_mutex_unlock(&r->lock);

		if (!skip)
			ret = upload(r, j, &eb);

		job_done(r, j, ret, &eb, skip);
	}
	return NULL;
}

/* Queue j (ownership passes here in every case). Blocks while the queue
 * is over its bounds. 1 queued, or the first upload error. */
int heap_remote_enqueue(struct remote *r, struct job *j,
			struct errbuf *eb)
{
	bool spool = !j->mem && j->fd >= 0, direct = is_direct(r, j);
	int ret = 1;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		if (r->err || r->stop)
			break;
		if (r->jobs >= REMOTE_MAX_JOBS)
			goto wait;
		if (j->mem && r->mem && r->mem + j->len > REMOTE_MEM_BUDGET)
			goto wait;
		if (spool && r->spools >= r->max_spools)
			goto wait;
		if (direct && r->direct >= r->max_direct) {
			pthread_cond_wait(&r->direct_room, &r->lock);
			continue;
		}
		break;
wait:
		pthread_cond_wait(&r->progress, &r->lock);
	}
	if (r->err) {
		ret = errbuf_set(eb, r->err, "%s", r->errmsg.msg);
	} else if (r->stop) {
		ret = errbuf_set(eb, -ECANCELED, "heap '%s' is closing",
				 objstore_url(r->os));
	} else {
		r->jobs++;
		atomic_fetch_add(&r->queued_objs, 1);
		atomic_fetch_add(&r->queued_bytes, j->raw_len);
		if (j->mem)
			r->mem += (size_t)j->len;
		else if (spool)
			r->spools++;
		if (direct) {
			r->direct++;
			j->owner = r;
		} else {
			j->next = NULL;
			if (r->tail)
				r->tail->next = j;
			else
				r->head = j;
			r->tail = j;
			pthread_cond_signal(&r->has_job);
			j = NULL;
		}
	}
	pthread_mutex_unlock(&r->lock);
	/* outside the lock: the submit may wait for room in the network
	 * stage's queue, whose thread takes the lock in direct_done */
	if (j && ret == 1)
		return submit_direct(r, j, eb);
	heap_remote_job_free(j);
	return ret;
}

/* Start n uploaders (at most REMOTE_MAX_UPLOADERS); fewer when threads
 * run out, but at least one. 0 or -errno. */
int heap_remote_start_uploaders(struct remote *r, unsigned n,
				struct errbuf *eb)
{
	unsigned i;

	if (n > REMOTE_MAX_UPLOADERS)
		n = REMOTE_MAX_UPLOADERS;
	r->max_spools = 2 * (size_t)n + 2;
	/* direct puts out at once: as many as are in flight and as many
	 * queued behind them, so that the network stage starts the next
	 * put as one ends; no more, so that after a failure at most this
	 * many may have been sent that the run does not count */
	r->max_direct = 2 * (size_t)(n ? n : 1);
	r->threads = calloc(n, sizeof(*r->threads));
	if (!r->threads)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		if (pthread_create(&r->threads[i], NULL, uploader_main, r))
			break;
		r->nthreads++;
	}
	if (!r->nthreads)
		return errbuf_set(eb, -EAGAIN, "cannot start upload threads");
	return 0;
}

/* Stop the uploaders: they drop (skip) what is still queued, finish the
 * uploads in flight and exit; then wait for the puts sent without them. */
void heap_remote_stop_uploaders(struct remote *r)
{
	unsigned i;

	pthread_mutex_lock(&r->lock);
	r->stop = true;
	atomic_store(&r->cancel, true);
	pthread_cond_broadcast(&r->has_job);
	pthread_cond_broadcast(&r->direct_room);
	pthread_cond_broadcast(&r->progress);
	pthread_mutex_unlock(&r->lock);
	for (i = 0; i < r->nthreads; i++)
		pthread_join(r->threads[i], NULL);
	r->nthreads = 0;
	/* the puts sent without an uploader end on the network thread */
	pthread_mutex_lock(&r->lock);
	while (r->jobs)
		pthread_cond_wait(&r->progress, &r->lock);
	pthread_mutex_unlock(&r->lock);
}
