/* heap_remote_impl: what heap_remote.c (the backend: puts, reads,
 * sync), heap_remote_copy.c (server-side copies into the heap) and
 * heap_remote_upload.c (the job queue and its uploader threads) share.
 * Private to engine/heap/. */
#ifndef SNAP_HEAP_REMOTE_IMPL_H
#define SNAP_HEAP_REMOTE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heap_cache.h"
#include "engine_opts.h"
#include "errbuf.h"
#include "log.h"
#include "objid.h"
#include "objstore.h"

struct idset;
struct objstore;

struct job {
	struct job *next;
	struct objid id;
	char *mem;                 /* owned copy of a small body, or NULL */
	int fd;                    /* spool of a large body, or -1 */
	uint64_t len;
	uint64_t raw_len;          /* content bytes as the caller counts them */
	bool gz;                   /* body is gzip: key <md5>.gz */
	unsigned char md5[16];     /* gz: MD5 of the body as stored */
	struct remote *owner;      /* sent without an uploader: its heap */
};

struct remote {
	struct objstore *os;
	struct idset *set;         /* present in either form */
	struct idset *rawset;      /* seen as <md5> */
	struct idset *gzset;       /* seen as <md5>.gz */
	enum heap_format fmt;      /* RAW or GZ */
	char *cache_file;          /* NULL: none */
	bool cache_text;           /* it is in the Python tool's format */
	/* the heap's gc id (heap_cache.h) read before it was listed or its
	 * cache taken: saved with the cache */
	uint8_t gc_id[HEAP_GC_ID_LEN];
	struct logger log;
	const char *tmpdir;

	pthread_mutex_t lock;
	pthread_cond_t has_job;    /* a job was queued, or stopping */
	pthread_cond_t progress;   /* a job finished (space, sync) */
	/* a quarter of the direct slots are free (or err, stop) */
	pthread_cond_t direct_room;
	struct job *head, *tail;
	size_t jobs;               /* queued + in flight */
	size_t mem;                /* bytes of small bodies held */
	size_t spools;             /* spool jobs held */
	size_t max_spools;
	size_t direct;             /* sent without an uploader, not done */
	size_t max_direct;
	bool stop;
	int err;                   /* first upload error */
	/* err or stop is set: the puts sent without an uploader that are
	 * still queued in the network stage are dropped there, as the
	 * uploaders drop (skip) their queued jobs */
	atomic_bool cancel;
	/* a server-side copy into the heap was refused in a way that holds
	 * for the run (objstore_copy_refused: no access to the source's
	 * bucket; not checkable: SSE-KMS): the rest of the run's contents
	 * come through this host, without a request each to learn the same
	 * again */
	atomic_bool no_copies;
	struct objstore_etag_probe etags;  /* of copies' sources */
	/* ids a server-side copy is being made to (under lock): no other
	 * worker copies or uploads the same id meanwhile, so a copy that
	 * fails its check and is deleted never takes away an object
	 * another worker stored (see heap_remote_copy.c) */
	struct objid *copying;
	size_t ncopying, copying_cap;
	pthread_cond_t copy_done;  /* a copy's claim was released */
	struct errbuf errmsg;

	pthread_t *threads;
	unsigned nthreads;
	atomic_uint_fast64_t uploaded;
	/* queued by a put that returned 1, and of them stored: heap_finish
	 * gives the difference (content bytes as the callers count) */
	atomic_uint_fast64_t queued_objs, queued_bytes;
	atomic_uint_fast64_t stored_bytes;
};

/* err is the heap's first error unless it has one (the run's snapshot is
 * not saved): later puts fail with it, what is queued is dropped. */
void heap_remote_fail(struct remote *r, int err, const struct errbuf *eb);

/* Free a job that is not queued (NULL-safe): its body and its spool. */
void heap_remote_job_free(struct job *j);

/* Queue j (ownership passes here in every case). Blocks while the queue
 * is over its bounds. 1 queued, or the first upload error (-ECANCELED
 * once the uploaders are stopping). */
int heap_remote_enqueue(struct remote *r, struct job *j, struct errbuf *eb);

/* Mark id present before its bytes are uploaded, after any copy of it
 * in flight has settled: 1 this caller stores it, 0 it is present (or
 * being stored), -ENOMEM. */
int heap_remote_mark_for_write(struct remote *r, const struct objid *id);

/* The heap's put_copy hook (heap_impl.h): copy key of src, listed with
 * etag and holding id's content, into the heap server-side. 1 copied,
 * 0 present already, -EXDEV no copy made (the caller sends the bytes),
 * -errno. */
int heap_remote_put_copy(void *self, const struct objid *id,
			 struct objstore *src, const char *key,
			 const char *etag, struct errbuf *eb);

/* Start n uploaders (at most REMOTE_MAX_UPLOADERS); fewer when threads
 * run out, but at least one. Sets max_spools. 0 or -errno. */
int heap_remote_start_uploaders(struct remote *r, unsigned n,
				struct errbuf *eb);

/* Stop the uploaders: they drop (skip) what is still queued, finish the
 * uploads in flight and exit. Idempotent. */
void heap_remote_stop_uploaders(struct remote *r);

#endif
