/* lane_hash: the hash stage's large local files several at a time, their
 * MD5s side by side in the lanes of the worker's multi-buffer manager
 * (md5mb.h) instead of one OpenSSL stream per worker. The loop goes in
 * rounds: every file of the window takes its next chunk from its stream
 * (io_uring read-ahead), writes it to its heap temp and hands it to the
 * manager; one flush then hashes them all and gives every job back, so
 * each stream's buffer is free for the next round. A file leaves the
 * window when its last (empty) segment comes back, and a new one is
 * taken (one per round: workers share the large files of the queue). */
#include "hash_worker.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "hash_worker_impl.h"
#include "progress.h"
#include "relpath.h"
#include "banned.h"

/* Per file in the window: depth reads of chunk bytes in flight. */
#define LANE_HASH_CHUNK (256 * 1024)
#define LANE_HASH_DEPTH 2

/* One file of the window. */
struct hash_lane {
	struct entry *e;
	struct io_stream *s;
	struct heap_tx *tx;
	struct io_stat before;
	uint64_t total;
	struct md5mb_job job;
};

/* The run's state shared by the steps below. */
struct lane_run {
	struct hash_worker *w;
	int rootfd;
	const char *root;
	struct heap *heap;
	struct run_stats *stats;
	struct errbuf *eb;
};

unsigned hash_fd_share(unsigned jobs, unsigned fds_per_file, unsigned max)
{
	struct rlimit rl;
	uint64_t n;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return max;
	/* a quarter of the limit for all workers: the lane windows take a
	 * quarter, the read batches another, and the scan, the heap's
	 * temps and the network keep the rest */
	n = (uint64_t)rl.rlim_cur / 4 / (jobs ? jobs : 1) /
	    (fds_per_file ? fds_per_file : 1);
	return n > max ? max : n ? (unsigned)n : 1;
}

unsigned hash_lane_window(unsigned jobs, unsigned fds_per_file)
{
	return hash_fd_share(jobs, fds_per_file, HASH_LANE_WINDOW_MAX);
}

bool hash_worker_has_lanes(const struct hash_worker *w)
{
	return w->mb != NULL;
}

bool hash_worker_lane_file(const struct hash_worker *w, const struct entry *e)
{
	return w->mb && e->type == ENTRY_FILE && e->size > HASH_SMALL_MAX &&
	       !e->sparse && e->name_len < RELPATH_DIRECT_MAX;
}

/* Open l->e and its heap temp. 0, 1 when the file is gone since the
 * scan (left out: has_md5 false), or -errno (eb). */
static int lane_start(struct lane_run *r, struct hash_lane *l)
{
	struct entry *e = l->e;
	int ret;

	l->s = NULL;
	l->tx = NULL;
	l->total = 0;
	ret = io_stream_open(r->w->io, r->rootfd, e->name, LANE_HASH_CHUNK,
			     LANE_HASH_DEPTH, &l->s, r->eb);
	if (ret == -ENOENT) {
		errbuf_clear(r->eb);
		e->has_md5 = false;
		return 1;
	}
	if (ret < 0) {
		errbuf_clear(r->eb);
		return hash_worker_file_error(r->eb, ret, r->root, e, "read");
	}
	ret = io_stream_stat(l->s, &l->before);
	if (ret < 0)
		ret = hash_worker_file_error(r->eb, ret, r->root, e, "read");
	else if (!S_ISREG(l->before.mode))
		ret = hash_worker_not_regular(r->eb, r->root, e,
					      l->before.mode);
	else if (r->heap && (ret = heap_tx_begin(r->heap, &l->tx, r->eb)) < 0)
		ret = hash_worker_store_error(r->eb, ret, r->root, e);
	if (ret < 0) {
		io_stream_close(l->s);
		l->s = NULL;
		return ret;
	}
	md5mb_job_init(&l->job);
	l->job.user = l;
	return 0;
}

/* Let go of a lane that did not finish: its temp is discarded. */
static void lane_drop(struct hash_lane *l)
{
	heap_tx_abort(l->tx);
	l->tx = NULL;
	if (l->s)
		io_stream_close(l->s);
	l->s = NULL;
}

/* The next chunk to the heap temp and the manager (an empty last
 * segment at end of file). 0, or -errno (eb) with nothing submitted. */
static int lane_step(struct lane_run *r, struct hash_lane *l)
{
	const void *data;
	size_t len;
	int ret;

	ret = io_stream_next(l->s, &data, &len, r->eb);
	if (ret < 0) {
		errbuf_clear(r->eb);
		return hash_worker_file_error(r->eb, ret, r->root, l->e,
					      "read");
	}
	if (ret == 1) {
		l->total += len;
		stat_add(&r->stats->bytes_read, len);
		if (l->tx && (ret = heap_tx_write(l->tx, data, len, r->eb)) < 0)
			return hash_worker_store_error(r->eb, ret, r->root,
						       l->e);
	} else {
		data = "";
		len = 0;
	}
	l->job.data = data;
	l->job.len = len;
	l->job.last = len == 0;
	md5mb_submit(r->w->mb, &l->job);
	return 0;
}

/* The last segment is back: a file that changed while it was read goes
 * through the one-stream path (it reads again, and says when it keeps
 * changing); otherwise the digest is the file's and its temp is stored
 * under it. 0 or -errno (eb). */
static int lane_finish(struct lane_run *r, struct hash_lane *l)
{
	struct entry *e = l->e;
	struct content_src src = { -1, r->rootfd, e->name };
	struct heap_tx *tx;
	struct io_stat after;
	int ret;

	ret = io_stream_stat(l->s, &after);
	io_stream_close(l->s);
	l->s = NULL;
	if (ret < 0) {
		lane_drop(l);
		return hash_worker_file_error(r->eb, ret, r->root, e, "stat");
	}
	if (l->before.size != after.size ||
	    l->before.mtime_ns != after.mtime_ns || l->total != after.size) {
		lane_drop(l);
		return hash_worker_stream_one(r->w, r->rootfd, r->root, e,
					      r->heap, r->stats, r->eb);
	}
	memcpy(e->md5.b, l->job.digest, OBJID_LEN);
	e->has_md5 = true;
	hash_worker_take_stat(e, &after);
	if (l->tx) {
		tx = l->tx;
		l->tx = NULL;
		ret = hash_worker_store_content(r->w, r->heap, tx, NULL,
						l->total, &src, r->root, e,
						r->stats, r->eb);
		if (ret == -ESTALE) {
			/* --verify-heap: changed before the repair */
			errbuf_clear(r->eb);
			e->has_md5 = false;
			return hash_worker_stream_one(r->w, r->rootfd, r->root,
						      e, r->heap, r->stats,
						      r->eb);
		}
		if (ret < 0)
			return ret;
	}
	stat_add(&r->stats->files_hashed, 1);
	return 0;
}

int hash_worker_run_lanes(struct hash_worker *w, int rootfd, const char *root,
			  unsigned window, const struct hash_lane_source *src,
			  struct heap *heap, struct run_stats *stats,
			  volatile sig_atomic_t *interrupted, struct errbuf *eb)
{
	struct hash_lane lanes[HASH_LANE_WINDOW_MAX];
	struct lane_run r = { w, rootfd, root, heap, stats, eb };
	unsigned nactive = 0, i;
	int err = 0, ret;

	if (!w->mb)
		return errbuf_set(eb, -EINVAL, "hash_worker_run_lanes: no "
				  "multi-buffer kernel (--md5 openssl)");
	if (window > HASH_LANE_WINDOW_MAX)
		window = HASH_LANE_WINDOW_MAX;
	if (!window)
		window = 1;
	for (;;) {
		struct md5mb_job *j;
		unsigned taken = 0;

		if (!err && interrupted && *interrupted)
			err = errbuf_set(eb, -EINTR, "interrupted");
		/* one new file per round, so that the other workers get
		 * their share of a queue of large files */
		while (!err && nactive < window && !taken) {
			struct hash_lane *l = &lanes[nactive];

			l->e = src->next(src->ctx);
			if (!l->e)
				break;
			ret = lane_start(&r, l);
			if (ret < 0)
				err = ret;
			if (ret) {
				src->done(src->ctx, l->e, ret < 0 ? ret : 0);
				continue;
			}
			nactive++;
			taken++;
		}
		if (err) {
			for (i = 0; i < nactive; i++) {
				lane_drop(&lanes[i]);
				src->done(src->ctx, lanes[i].e, err);
			}
			return err;
		}
		if (!nactive)
			return 0;
		for (i = 0; i < nactive && !err; i++)
			err = lane_step(&r, &lanes[i]);
		/* every submitted job comes back, also after an error: the
		 * streams' buffers are borrowed until then */
		while ((j = md5mb_flush(w->mb)) != NULL) {
			struct hash_lane *l = j->user;

			if (!j->last)
				continue;
			ret = err ? err : lane_finish(&r, l);
			if (ret < 0) {
				err = ret;
				lane_drop(l);
			}
			src->done(src->ctx, l->e, ret);
			l->e = NULL;
		}
		/* out of the window: the files whose last segment was in */
		for (i = 0; i < nactive;) {
			if (lanes[i].e) {
				i++;
				continue;
			}
			lanes[i] = lanes[--nactive];
			/* the job moved with its lane: the manager holds
			 * none now (every job came back in the flush) */
			lanes[i].job.user = &lanes[i];
		}
	}
}
