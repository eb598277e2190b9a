/* make_snapshot_impl: what the files of make-snapshot share; private to
 * engine/ops/.
 *
 *   make_snapshot.c       the run: stores, threads, the writer stage
 *                         (snapshot records in scan order), publishing
 *   make_snapshot_scan.c  the scan stage: the tree merged with the
 *                         previous snapshot, md5 reuse, xattrs; opening
 *                         the previous snapshot
 *   make_snapshot_hash.c  the hash workers: batches, reused md5s
 *                         confirmed against the heap, the MD5 lanes
 *   make_snapshot_out.c   the snapshot written: msgpack or jsonl.gz,
 *                         entries in scan order, the root's header
 *                         fields */
#ifndef SNAP_MAKE_SNAPSHOT_IMPL_H
#define SNAP_MAKE_SNAPSHOT_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "entry.h"
#include "errbuf.h"
#include "inner_roots.h"
#include "run.h"
#include "snapshot.h"

#define RACY_MARGIN_NS 1000000000LL  /* coarse fs clocks lag real time */

struct filter;
struct hasher;
struct heap;
struct heap_verify;
struct logger;
struct ordered;
struct owner_cache;
struct objstore;
struct shardq;
struct snapshot_reader;
struct snapstore;
struct tree;
struct tree_scan;
struct workpool;

/* ordered_slot.needs_work: what a worker does with the file */
enum {
	SLOT_HASH = 1,     /* read, hash and store it */
	SLOT_CONFIRM = 2,  /* md5 from the previous snapshot: kept only if
			    * the heap holds the object, else as SLOT_HASH */
	SLOT_MTIME = 3,    /* nothing to hash: only the object's mtime
			    * metadata to fetch (tree_file_meta) */
};

/* The MD5 lanes of a core pay more the more files share them (AVX2, 3
 * files of 1 MiB in one worker's lanes: 1.12 GB/s; one file alone: 0.65),
 * and there are twice as many workers as cores. So at most one worker
 * per core runs lanes; a worker that takes large files while that many
 * run hands them to the runners through this list and goes back to the
 * queue. A runner leaves only when the list is empty, checked under the
 * lock that adding takes, so no file is left without a runner. */
struct snap_lane_pool {
	pthread_mutex_t lock;
	unsigned runners, max_runners;
	struct entry **wait;          /* FIFO: wait[head .. head + n) */
	size_t head, n, cap;
};

struct snap_run {
	struct run run;               /* o, log, stats, the first error */
	const struct make_snapshot_opts *mo;
	struct heap *heap;            /* NULL: hash only */
	struct heap_verify *verify;   /* --verify-heap, else NULL */
	struct snapstore *ss;         /* SNAP_ROOT, or NULL */
	struct ordered *win;
	struct workpool *pool;        /* the hash workers */
	struct shardq *jobs;          /* the pool's (one shared queue):
				       * struct ordered_slot * */
	unsigned hash_workers;        /* the pool's workers */
	/* hash workers holding a batch (lanes: between two blocking pops) */
	atomic_uint workers_busy;
	struct snap_lane_pool lanes;
	struct tree *tree;            /* FILE_ROOT */
	struct tree_scan *scan;
	/* FILE_ROOT keeps what a file system keeps (TREE_CAP_FS); else
	 * it is a store's flat list of objects: no root fd (files are
	 * opened through the tree), etags instead of inodes */
	bool fs;
	/* a store: the object store it is in, for server-side copies into
	 * a heap in the same store (NULL: a file system) */
	struct objstore *copy_from;
	/* --no-download-missing-files records a listed MD5 without its
	 * content once the store said its ETags are MD5s (1, a HEAD:
	 * objstore_copy_probe); -1 they are none (SSE-KMS) and 0 not known
	 * yet: such files are downloaded after all */
	int listed_md5s;
	/* its listing lacks the mtime metadata (S3): tree_file_meta */
	bool lookup_mtime;
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
};

/* The first error ends the run: recorded (eb's message, else code's
 * text) and every stage's queue aborted. Any thread. */
void snap_run_fail(struct snap_run *r, const struct errbuf *eb, int code);
bool snap_run_failed(struct snap_run *r);

/* The scan thread (arg: the run): every entry of the tree, in order, into
 * the window; those needing work also into the workers' queue. */
void *snap_scan_main(void *arg);

/* Open the previous snapshot for the scan's merge: 0 (also when there is
 * none, or it is damaged: a warning, every file hashed), or -errno when
 * the snapshot store cannot be listed or read (an outage). */
int snap_open_previous(struct snap_run *r, struct errbuf *eb);

/* The writer stage's one interface over the two snapshot formats. */
struct snap_out_ops {
	int (*add)(void *w, const struct entry *e, struct errbuf *eb);
	int (*finish)(void *w, struct errbuf *eb);
	void (*free)(void *w);
};

struct snap_out {
	const struct snap_out_ops *ops;
	void *w;                      /* NULL: no snapshot is written */
};

extern const struct snap_out_ops snap_msgpack_out_ops;
extern const struct snap_out_ops snap_pysnap_out_ops;

/* make_snapshot_out.c: the format to write (auto: the latest snapshot's
 * in SNAP_ROOT), the warning of what jsonl.gz left out, one entry in scan
 * order (recorded, or said to have vanished), the root's header fields. */
int snap_resolve_format(const struct snap_run *r, enum snapshot_format *fmt,
			struct errbuf *eb);
void snap_warn_pysnap_skipped(struct snap_run *r,
			      const struct snap_out *so);
void snap_write_entry(struct snap_run *r, const struct snap_out *out,
		      struct entry *e);
void snap_root_meta(const struct snap_run *r, struct snapshot_header *h);

/* A hash worker (the pool's work, arg: the run): hashes the slots it
 * takes from r->jobs until the queue ends or the run fails. */
void snap_hash_work(void *arg, size_t shard);

/* The lane pool of a run with this many hash workers (runners: one per
 * CPU this process may use, at most workers). */
void snap_lane_pool_init(struct snap_lane_pool *p, unsigned workers);
void snap_lane_pool_destroy(struct snap_lane_pool *p);

#endif
