/* sync_impl: what the files of engine_sync share, private to engine/sync/.
 * sync.c runs a sync (scan feeds, workers, deletions, links), sync_plan.c
 * turns the diff of SRC and DST into jobs, sync_copy.c carries a job out
 * (the byte copies, local or with an object store), sync_async.c sends
 * small uploads without a copier waiting on each. */
#ifndef SNAP_SYNC_IMPL_H
#define SNAP_SYNC_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "diff.h"
#include "engine.h"
#include "objstore.h"
#include "run.h"

struct filter;
struct job;
struct sync_run;
struct tree;
struct tree_scan;
struct shardq;
struct workpool;
struct tree_writer;

#define SYNC_BUF_SIZE (1u << 20)     /* per worker, for read/write copies */

enum job_kind {
	JOB_COPY = 1,       /* write src entry into DST */
	JOB_COMPARE,        /* same size: copy only if contents differ */
	JOB_META,           /* fix mode/mtime only */
	JOB_MTIME,          /* same size, object-store source listed without
			     * its mtime: copy only if its mtime (HEAD)
			     * differs from other_mtime_ns */
};

/* sync_async.c: small uploads to a store handed to the network stage,
 * counted when they complete (see the top of sync_async.c). */
struct sync_async {
	pthread_mutex_t lock;
	pthread_cond_t room;       /* an upload ended */
	unsigned out, max_out;     /* uploads submitted, not ended */
	size_t mem, max_mem;       /* bytes of their bodies */
	atomic_bool cancel;        /* drop what is still queued */
	/* sync_async_wait was called: later copies (the deferred ones,
	 * after the deletions) take the waiting way */
	atomic_bool closed;
	/* its first error (run_error) is a failed upload's too; its
	 * conflicts are deferred there */
	struct sync_run *run;
	struct run_stats *stats;
};

void sync_async_init(struct sync_async *a, struct sync_run *run,
		     struct run_stats *stats, unsigned max_out,
		     size_t max_mem);
void sync_async_destroy(struct sync_async *a);
/* PUT buf (len bytes, taken: freed here in every case) as meta->name
 * with meta's mtime into os, without waiting for it; counted in stats
 * (bytes, files_copied, meta_not_kept when drops_meta) once it is
 * stored; a failed upload fails the run (sync_run_fail). A conflict in
 * DST (409: an object store that keeps "a/" and refuses "a") defers job
 * (taken) to after the deletions, as a copier does; else job is freed.
 * Waits while the bounds are reached. 0 submitted, or -errno with eb:
 * the run has failed (-ECANCELED), or this one could not be sent. Any
 * thread. */
int sync_async_put(struct sync_async *a, struct objstore *os,
		   struct job *job, const struct entry *meta, char *buf,
		   uint64_t len, bool drops_meta, struct errbuf *eb);
/* The run failed: drop the uploads still queued. */
void sync_async_cancel(struct sync_async *a);
/* Wait until every upload ended (a failed one is the run's error), and
 * send no more this way. */
void sync_async_wait(struct sync_async *a);

struct job {
	struct entry e;
	uint8_t kind;
	uint8_t meta_differs;   /* directories: count as updated */
	/* JOB_COMPARE against an object store: the MD5 the store gave for
	 * the other side */
	bool has_other_md5;
	struct objid other_md5;
	int64_t other_mtime_ns;  /* JOB_MTIME: the destination's mtime */
};

struct sync_run {
	struct run run;            /* o, log, stats, the first error */
	const struct sync_opts *so;
	struct filter *filter;
	struct tree *src_tree, *dst_tree;
	struct tree_scan *src_scan, *dst_scan;  /* walking ahead */
	int srcfd, dstfd;          /* local roots, -1 for an object store */
	/* each side keeps what a file system keeps (TREE_CAP_FS); else it
	 * is a store's flat list of objects */
	bool src_fs, dst_fs;
	/* both sides in one service with the same credentials: copies are
	 * server-side (objstore_same_service), until one is refused in a
	 * way that holds for the run (objstore_copy_refused: no access to
	 * the source's bucket; not checkable: SSE-KMS): then the rest of
	 * the run's copies go through this host without asking again */
	atomic_bool same_store;
	/* the source's first object answered that its ETag is no MD5
	 * (objstore_etag_probe): copies are not checked against listed
	 * MD5s, which are none (the store copies the object as it is; a
	 * sync wants that) */
	struct objstore_etag_probe src_etags;
	atomic_bool copy_unchecked;
	struct workpool *pool;        /* the copiers (not in a dry run) */
	struct shardq *jobs;          /* the pool's: struct job *, by
				       * directory */
	FILE *deletions;           /* spill: deleted entries' names */
	uint64_t ndelete;
	struct job **deferred;     /* copies blocked by a conflict */
	size_t ndeferred, cap_deferred;
	pthread_mutex_t lock;      /* deferred, bwlimit */
	struct sync_async async;   /* small uploads in flight */
	double bw_start;
	uint64_t bw_bytes;
	unsigned xattr_ns;         /* enum xattr_ns copied, 0: none */
	bool owners_apply;         /* root: DST entries get SRC's owners */
	/* later members of SRC's hard-link groups, linked to their group's
	 * first member once every copy is done (diff thread only) */
	struct entry **links;
	size_t nlinks, cap_links;
};

/* sync_plan.c */

/* The diff_cb of the run's merge (ctx: the struct sync_run): decides what
 * SRC entry s and DST entry d need. Copies go to r->jobs for the workers,
 * directories to r->deferred, hard links to r->links, deletions to the
 * spill file; a dry run prints the plan and counts it instead. 0 or
 * -errno with eb set. Diff thread only. */
int sync_on_diff(void *ctx, enum diff_state st, const struct entry *s,
		 const struct entry *d, struct errbuf *eb);
/* A job of kind for e (a copy of it), or NULL (eb: out of memory). */
struct job *sync_job_make(const struct entry *e, enum job_kind kind,
			  struct errbuf *eb);
/* Frees j and its entry; NULL is a no-op. */
void sync_job_free(struct job *j);
/* Keeps j (taken over) in r->deferred, to be carried out after the
 * deletions. 0, or -ENOMEM with j still the caller's. Any thread. */
int sync_defer(struct sync_run *r, struct job *j);

/* sync.c */

/* The run fails with code and eb's message unless it failed already: its
 * queues and scans are aborted, its queued uploads dropped. Any thread,
 * the network thread's callbacks too (it does not block). */
void sync_run_fail(struct sync_run *r, const struct errbuf *eb, int code);

/* sync_copy.c */

/* Carries out job j into DST through tw, with buf (SYNC_BUF_SIZE bytes)
 * as scratch, and counts it in r->run.stats. 0 done or nothing to do, -errno
 * with eb set; a DST entry of another type in the way gives -ENOTDIR,
 * -EISDIR, -ENOTEMPTY, -ELOOP or -EEXIST. The workers, then
 * apply_deletions for the deferred jobs. */
int sync_do_job(struct sync_run *r, struct tree_writer *tw, struct job *j,
		char *buf, struct errbuf *eb);
/* Copies SRC's file e to DST, either side local or in a store, in one
 * loop: the source opened as a local fd (a store's object downloaded
 * into a temp), DST written from it (a local temp published, or an
 * upload), again if a local source changed meanwhile (three times, then
 * -EAGAIN "kept changing"). buf: SYNC_BUF_SIZE bytes. 0 or -errno with
 * eb set. */
int sync_copy_file(struct sync_run *r, struct tree_writer *tw,
		   const struct entry *e, char *buf, struct errbuf *eb);
/* Does the mtime of source object s (HEAD) differ from other_ns? 1 yes
 * (also when gone: the copy then says why), 0 no, -errno with eb set. */
int sync_src_mtime_differs(struct sync_run *r, const struct entry *s,
			   int64_t other_ns, struct errbuf *eb);

#endif
