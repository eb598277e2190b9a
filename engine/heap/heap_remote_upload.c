/* heap_remote_upload: the background half of a remote heap's puts
 * (heap_remote.c makes the jobs): a bounded job queue and the uploader
 * threads that empty it, one objstore_put per job. Bounds, backpressure
 * and the first error winning are described in heap_remote.c. */
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

static int upload(struct remote *r, struct job *j, struct errbuf *eb)
{
	struct objstore_put_opts po;
	struct body_src src;
	char key[39];

	if (j->gz)
		heap_object_path_gz(&j->id, key);
	else
		heap_object_path(&j->id, key);
	memset(&po, 0, sizeof(po));
	po.md5 = j->gz ? j->md5 : j->id.b;
	memset(&src, 0, sizeof(src));
	src.len = j->len;
	src.fd = -1;
	if (j->mem || !j->len) {
		src.kind = j->len ? BODY_SRC_MEM : BODY_SRC_NONE;
		src.mem = j->mem;
	} else {
		src.kind = BODY_SRC_FD;
		src.fd = j->fd;
	}
	return objstore_put(r->os, key, &src, &po, NULL, eb);
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

		pthread_mutex_lock(&r->lock);
		if (ret < 0 && !r->err) {
			r->err = ret;
			r->errmsg = eb;
		}
		if (ret == 0 && !skip) {
			atomic_fetch_add(&r->uploaded, 1);
			atomic_fetch_add(&r->stored_bytes, j->raw_len);
		}
		r->jobs--;
		if (j->mem)
			r->mem -= (size_t)j->len;
		else if (j->fd >= 0)
			r->spools--;
		pthread_cond_broadcast(&r->progress);
		pthread_mutex_unlock(&r->lock);
		heap_remote_job_free(j);
	}
	return NULL;
}

/* Queue j (ownership passes here in every case). Blocks while the queue
 * is over its bounds. 1 queued, or the first upload error. */
int heap_remote_enqueue(struct remote *r, struct job *j,
			struct errbuf *eb)
{
	bool spool = !j->mem && j->fd >= 0;
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
		j->next = NULL;
		if (r->tail)
			r->tail->next = j;
		else
			r->head = j;
		r->tail = j;
		r->jobs++;
		atomic_fetch_add(&r->queued_objs, 1);
		atomic_fetch_add(&r->queued_bytes, j->raw_len);
		if (j->mem)
			r->mem += (size_t)j->len;
		else if (spool)
			r->spools++;
		pthread_cond_signal(&r->has_job);
		j = NULL;
	}
	pthread_mutex_unlock(&r->lock);
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
 * uploads in flight and exit. */
void heap_remote_stop_uploaders(struct remote *r)
{
	unsigned i;

	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_broadcast(&r->has_job);
	pthread_cond_broadcast(&r->progress);
	pthread_mutex_unlock(&r->lock);
	for (i = 0; i < r->nthreads; i++)
		pthread_join(r->threads[i], NULL);
	r->nthreads = 0;
}
