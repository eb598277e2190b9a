/* hash_worker: the hash (and heap store) stage's per-thread engine. It
 * reads file contents (small files in batches through io_read_batch, large
 * ones streamed with read-ahead), MD5s them (a batch, or several large
 * files at once, side by side in the lanes of a multi-buffer kernel,
 * md5mb.h; otherwise through OpenSSL) and, when given a heap, stores
 * each content not yet there. A file that changes while it is read is
 * detected (size or mtime differ before/after) and read again. */
#ifndef SNAP_HASH_WORKER_H
#define SNAP_HASH_WORKER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine_opts.h"
#include "entry.h"
#include "errbuf.h"
#include "heap.h"
#include "io.h"
#include "run_stats.h"

/* files up to this size are read whole, in batches */
#define HASH_SMALL_MAX (256 * 1024)
/* most files one batch reads (and buffer arena per worker) */
#define HASH_BATCH_MAX 64
#define HASH_ARENA_SIZE (4 * 1024 * 1024)
#define HASH_CHUNK (1024 * 1024)
/* per-file cost beyond its bytes, in bytes, when batches are sized */
#define HASH_FILE_WEIGHT 4096

struct hash_worker;

/* md5: the --md5 choice (AUTO resolved here too); a kernel this CPU
 * lacks is -ENOTSUP. */
int hash_worker_new(enum io_backend io, enum md5_impl md5,
		    struct hash_worker **out, struct errbuf *eb);
void hash_worker_free(struct hash_worker *w);

/* make-snapshot --skip-changing: a local file that still changes after
 * every read attempt gets has_md5 false and changing true (the caller
 * leaves it out and says so) instead of failing the run with -EAGAIN. */
void hash_worker_skip_changing(struct hash_worker *w, bool on);

struct heap_verify;

/* make-snapshot --verify-heap: with v (borrowed, shared by the workers;
 * NULL: off), a content whose object the heap already holds is read
 * back once per run (the workers claim each content through v) and, when
 * damaged, replaced with the file's bytes, hashed again on the way; a
 * file that changed meanwhile is read again. Object-store trees: every
 * file is downloaded (no server-side copy). 0 or -ENOMEM. */
int hash_worker_verify_heap(struct hash_worker *w, struct heap_verify *v,
			    struct errbuf *eb);

/* Hash items[0..n) (regular files named relative to rootfd; root is for
 * messages). Fills md5/has_md5 and refreshes size, mtime, ctime and ino
 * from what was actually read. heap may be NULL (hash only). A file
 * deleted since the scan is not an error: it is left with has_md5 false
 * (the caller leaves it out). Stops at the first failure: returns 0 or
 * -errno with the file named in eb. */
int hash_worker_run(struct hash_worker *w, int rootfd, const char *root,
		    struct entry **items, size_t n, struct heap *heap,
		    struct run_stats *stats, struct errbuf *eb);

/* Large local files several at a time (lane_hash.c): up to this many per
 * worker, each with its own read-ahead, hashed side by side in the lanes
 * of the worker's multi-buffer manager. */
#define HASH_LANE_WINDOW_MAX 16

/* A worker's share of the open-files limit (ulimit -n) for one use when
 * jobs workers share it with the rest of the run and each file holds
 * fds_per_file descriptors: a quarter of the limit divided among them,
 * at most max, at least 1. */
unsigned hash_fd_share(unsigned jobs, unsigned fds_per_file, unsigned max);

/* The window a worker may use when each file in it holds fds_per_file
 * descriptors: hash_fd_share up to HASH_LANE_WINDOW_MAX. */
unsigned hash_lane_window(unsigned jobs, unsigned fds_per_file);

/* This worker is one of workers that read batches at the same time: at
 * most hash_fd_share(workers, 1, HASH_BATCH_MAX) files of a batch are
 * open at once (all of it otherwise), so that 16 workers under ulimit -n
 * 256 leave descriptors for the heap's temps. */
void hash_worker_share_fds(struct hash_worker *w, unsigned workers);

/* Whether w has a multi-buffer kernel (not --md5 openssl): the lanes. */
bool hash_worker_has_lanes(const struct hash_worker *w);

/* Whether e is one for hash_worker_run_lanes: w has a multi-buffer
 * kernel (not --md5 openssl) and e is a regular file over HASH_SMALL_MAX,
 * not sparse, named in under PATH_MAX. */
bool hash_worker_lane_file(const struct hash_worker *w, const struct entry *e);

/* Where hash_worker_run_lanes gets its files and gives them back: next
 * gives the next file to start without waiting (NULL: none right now);
 * done gets every file next gave, once, when it is finished: ret 0 (e's
 * md5 and metadata filled as hash_worker_run fills them, or has_md5
 * false for a file gone since the scan) or < 0 (the run failed: eb says
 * why; the first done with ret < 0 is the file that failed, or one
 * stopped by it). */
struct hash_lane_source {
	struct entry *(*next)(void *ctx);
	void (*done)(void *ctx, struct entry *e, int ret);
	void *ctx;
};

/* Hash (and with a heap, store) the files src gives, up to window at a
 * time, until the window is empty and next gives none; next is asked
 * again every round while a place is free. Each file keeps the
 * guarantees of hash_worker_run: the bytes hashed are the bytes stored,
 * a file that changed while read is read again. Once *interrupted (may be
 * NULL) is set, the files in the window end with -EINTR. Returns 0 or the
 * first error (eb); the files still in the window then end with it. */
int hash_worker_run_lanes(struct hash_worker *w, int rootfd, const char *root,
			  unsigned window, const struct hash_lane_source *src,
			  struct heap *heap, struct run_stats *stats,
			  volatile sig_atomic_t *interrupted, struct errbuf *eb);

struct objstore;
struct tree_scan;

/* The files of a tree without local fds (an object store), as scan s
 * found them: each is opened with tree_open_file (downloaded into a
 * private temp; its mtime metadata, when the download brings it, becomes
 * the entry's mtime), hashed and, with a heap, stored (an item whose md5
 * the listing gave must hash to it, else the object changed or is
 * corrupt: -EBADMSG). copy_from (may be NULL) is the store they are in:
 * with a heap, an item whose md5 the listing gave is first copied by the
 * server (heap_put_copy), no bytes through here. Same contract as
 * hash_worker_run otherwise (root names the tree in messages). */
int hash_worker_run_remote(struct hash_worker *w, struct tree_scan *s,
			   const char *root, struct objstore *copy_from,
			   struct entry **items,
			   size_t n, struct heap *heap,
			   struct run_stats *stats, struct errbuf *eb);

#endif
