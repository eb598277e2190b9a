/* ctx: the per-thread I/O context: io_uring setup with the sync fallback,
 * opcode probing, preallocated request state, and the submit/reap helpers
 * shared by the batch modules (stat_batch, read_batch, stream). */
#include "io_priv.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "compiler.h"
#include "banned.h"

static bool force_fail_uring(void)
{
	const char *v = getenv("SNAP_IO_FORCE_FAIL_URING");

	return v && v[0] == '1' && v[1] == '\0';
}

static void probe_ops(struct io_ctx *io)
{
	struct io_uring_probe *p = io_uring_get_probe_ring(&io->ring);

	if (!p)
		return;
	io->op_statx = io_uring_opcode_supported(p, IORING_OP_STATX);
	io->op_openat = io_uring_opcode_supported(p, IORING_OP_OPENAT);
	io->op_read = io_uring_opcode_supported(p, IORING_OP_READ);
	io->op_close = io_uring_opcode_supported(p, IORING_OP_CLOSE);
	io_uring_free_probe(p);
}

static int ring_setup(struct io_ctx *io)
{
	/* COOP_TASKRUN (5.19) saves an IPI per completion; older kernels
	 * reject the flag with -EINVAL, so retry without it */
	struct io_uring_params p;
	unsigned sq;
	int ret;

	if (force_fail_uring())
		return -ENOSYS;
	/* CQ of 4 x depth: a batch, its closes and a stream's read-ahead
	 * may all be in flight at once. COOP_TASKRUN (5.19) saves an IPI
	 * per completion; older kernels reject it: retry without */
	/* at least 4 SQEs: a LINKED read chain must fit in one submission */
	sq = MAX(io->depth, 4u);
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN;
	p.cq_entries = 4 * sq;
	ret = io_uring_queue_init_params(sq, &io->ring, &p);
	if (ret == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = 4 * sq;
		ret = io_uring_queue_init_params(sq, &io->ring, &p);
	}
	if (ret == -EINVAL) {
		memset(&p, 0, sizeof(p));
		ret = io_uring_queue_init_params(sq, &io->ring, &p);
	}
	if (ret < 0)
		return ret;
	io->has_ring = true;
	io->feat_nodrop = p.features & IORING_FEAT_NODROP;
	probe_ops(io);
	/* a sparse table of one direct descriptor per read slot */
	if (io->op_openat && io->op_read && io->op_close &&
	    io_uring_register_files_sparse(&io->ring, io->depth) == 0)
		io->has_direct = true;
	return 0;
}

int io_ctx_new(enum io_backend want, unsigned depth, struct io_ctx **out,
	       bool *fell_back, struct errbuf *eb)
{
	struct io_ctx *io;
	int ret;

	if (fell_back)
		*fell_back = false;
	if (!out)
		return errbuf_set(eb, -EINVAL, "io context: no output pointer");
	*out = NULL;
	if (depth == 0 || depth > IO_DEPTH_MAX)
		return errbuf_set(eb, -EINVAL,
				  "invalid io queue depth %u (1..%u)", depth,
				  IO_DEPTH_MAX);
	if (want != IO_BACKEND_AUTO && want != IO_BACKEND_URING &&
	    want != IO_BACKEND_SYNC)
		return errbuf_set(eb, -EINVAL, "invalid io backend %d",
				  (int)want);
	io = calloc(1, sizeof(*io));
	if (!io)
		return errbuf_set(eb, -ENOMEM, "cannot allocate io context");
	io->depth = depth;
	io->noatime = true;
	io->read_mode = IO_READ_AUTO;
	io->stx = calloc(depth, sizeof(*io->stx));
	io->sreq = calloc(depth, sizeof(*io->sreq));
	io->sidx = calloc(depth, sizeof(*io->sidx));
	io->sretry = calloc(depth, sizeof(*io->sretry));
	io->free_slots = calloc(depth, sizeof(*io->free_slots));
	io->rslots = calloc(depth, sizeof(*io->rslots));
	if (!io->stx || !io->sreq || !io->sidx || !io->sretry ||
	    !io->free_slots || !io->rslots) {
		ret = errbuf_set(eb, -ENOMEM, "cannot allocate io context");
		goto out_free;
	}
	io->backend = IO_BACKEND_SYNC;
	if (want == IO_BACKEND_SYNC)
		goto done;
	ret = ring_setup(io);
	if (ret == 0) {
		io->backend = IO_BACKEND_URING;
		goto done;
	}
	if (want == IO_BACKEND_AUTO &&
	    (ret == -ENOSYS || ret == -EPERM || ret == -EACCES)) {
		if (fell_back)
			*fell_back = true;
		goto done;
	}
	ret = errbuf_set(eb, ret, "cannot set up io_uring (depth %u): %s",
			 depth, strerror(-ret));
	goto out_free;
done:
	*out = io;
	return 0;
out_free:
	io_ctx_free(io);
	return ret;
}

void io_ctx_free(struct io_ctx *io)
{
	if (!io)
		return;
	if (io->has_ring) {
		/* nothing may still point into our buffers: every owner
		 * waits for its requests before returning, so inflight is 0
		 * unless a stream was leaked; drain anyway */
		while (io->inflight > 0 && io_ring_wait(io) >= 0)
			;
		io_uring_queue_exit(&io->ring);
	}
	free(io->stx);
	free(io->sreq);
	free(io->sidx);
	free(io->sretry);
	free(io->free_slots);
	free(io->rslots);
	free(io);
}

enum io_backend io_ctx_backend(const struct io_ctx *io)
{
	return io->backend;
}

int io_ctx_set_read_mode(struct io_ctx *io, enum io_read_mode mode)
{
	if (!io)
		return -EINVAL;
	switch (mode) {
	case IO_READ_AUTO:
		break;
	case IO_READ_LINKED:
		if (!io->has_direct)
			return -EOPNOTSUPP;
		break;
	case IO_READ_PHASED:
		if (!io->has_ring)
			return -EOPNOTSUPP;
		break;
	default:
		return -EINVAL;
	}
	io->read_mode = mode;
	return 0;
}

void io_ctx_set_max_open(struct io_ctx *io, unsigned n)
{
	io->max_open = n;
}

unsigned io_ctx_peak_open(const struct io_ctx *io)
{
	return io->peak_open;
}

static int submit_raw(struct io_ctx *io);

/* bound on back-to-back -EAGAIN/-EBUSY from the kernel before giving up */
#define RING_RETRY_MAX 100000

struct io_uring_sqe *io_ring_sqe(struct io_ctx *io, int *err)
{
	struct io_uring_sqe *sqe;
	unsigned tries;
	int ret;

	*err = 0;
	for (tries = 0; tries < RING_RETRY_MAX; tries++) {
		sqe = io_uring_get_sqe(&io->ring);
		if (sqe)
			return sqe;
		ret = submit_raw(io);
		if (ret < 0 && ret != -EAGAIN && ret != -EBUSY) {
			*err = ret;
			return NULL;
		}
		if (ret < 0) {
			/* the kernel is short of resources or the CQ is
			 * full: make room by reaping, then retry */
			ret = io_ring_wait(io);
			if (ret < 0) {
				*err = ret;
				return NULL;
			}
		}
	}
	*err = -EAGAIN;
	return NULL;
}

void io_ring_track(struct io_ctx *io, struct io_uring_sqe *sqe,
		   struct io_req *req)
{
	req->pending++;
	req->res = 0;
	io_uring_sqe_set_data(sqe, req);
	io->inflight++;
}

static int submit_raw(struct io_ctx *io)
{
	int ret;

	do {
		ret = io_uring_submit(&io->ring);
	} while (ret == -EINTR);
	return ret < 0 ? ret : 0;
}

int io_ring_submit(struct io_ctx *io)
{
	int ret = submit_raw(io);

	/* transient: the SQEs stay queued and the next wait submits them */
	if (ret == -EAGAIN || ret == -EBUSY)
		return 0;
	return ret;
}

static unsigned reap(struct io_ctx *io)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&io->ring, head, cqe) {
		struct io_req *req = io_uring_cqe_get_data(cqe);

		n++;
		/* NULL: nobody tracks it (not used today; be safe) */
		if (!req)
			continue;
		req->res = cqe->res;
		req->pending--;
		io->inflight--;
	}
	io_uring_cq_advance(&io->ring, n);
	return n;
}

int io_ring_wait(struct io_ctx *io)
{
	unsigned n;
	int ret;

	n = reap(io);
	if (n) {
		/* push what the owners queued meanwhile */
		ret = io_ring_submit(io);
		return ret < 0 ? ret : (int)n;
	}
	if (io->inflight == 0 && io_uring_sq_ready(&io->ring) == 0)
		return 0;
	do {
		ret = io_uring_submit_and_wait(&io->ring, 1);
	} while (ret == -EINTR);
	if (ret < 0 && ret != -EAGAIN && ret != -EBUSY && ret != -ETIME)
		return ret;
	return (int)reap(io);
}

int io_ring_wait_req(struct io_ctx *io, const struct io_req *req)
{
	int ret;

	while (req->pending) {
		ret = io_ring_wait(io);
		if (ret < 0)
			return ret;
		if (ret == 0 && io->inflight == 0 && req->pending)
			return -EIO;  /* lost track: never wait forever */
	}
	return 0;
}

/* Nanoseconds since the epoch, saturated at INT64_MIN/INT64_MAX when an
 * int64 of ns does not hold the time (before 1677-09-21 00:12:43.145 or
 * after 2262-04-11 23:47:16.854): those two values are how callers know
 * that a time was clipped (make-snapshot refuses such a file). Every
 * time in between is exact. */
static int64_t time_ns(int64_t sec, int64_t nsec)
{
	int64_t ns;

	/* before the epoch, sec + 1 and a negative nsec: the last second
	 * an int64 holds (-9223372037 s + 0.145224192) fits that way */
	if (sec < 0 && nsec > 0) {
		sec++;
		nsec -= 1000000000;
	}
	if (__builtin_mul_overflow(sec, (int64_t)1000000000, &ns) ||
	    __builtin_add_overflow(ns, nsec, &ns))
		return sec < 0 ? INT64_MIN : INT64_MAX;
	return ns;
}

void io_stat_from_statx(struct io_stat *o, const struct statx *x)
{
	o->err = 0;
	o->mode = x->stx_mode;
	o->size = x->stx_size;
	o->ino = x->stx_ino;
	o->dev = makedev(x->stx_dev_major, x->stx_dev_minor);
	o->mtime_ns = time_ns(x->stx_mtime.tv_sec, x->stx_mtime.tv_nsec);
	o->ctime_ns = time_ns(x->stx_ctime.tv_sec, x->stx_ctime.tv_nsec);
	o->uid = x->stx_uid;
	o->gid = x->stx_gid;
	o->nlink = x->stx_nlink;
	o->blocks = x->stx_blocks;
}

void io_stat_from_stat(struct io_stat *o, const struct stat *st)
{
	o->err = 0;
	o->mode = st->st_mode;
	o->size = (uint64_t)st->st_size;
	o->ino = st->st_ino;
	o->dev = st->st_dev;
	o->mtime_ns = time_ns(st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	o->ctime_ns = time_ns(st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
	o->uid = st->st_uid;
	o->gid = st->st_gid;
	o->nlink = st->st_nlink;
	o->blocks = (uint64_t)st->st_blocks;
}

int io_open_flags(bool noatime)
{
	/* O_NONBLOCK: a FIFO or device swapped in where a file was scanned
	 * must not block the open; regular-file reads ignore it */
	return O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
	       (noatime ? O_NOATIME : 0);
}

void io_noatime_denied(struct io_ctx *io)
{
	/* not our files and no CAP_FOWNER: every open would pay a retry */
	if (++io->noatime_eperm >= 16)
		io->noatime = false;
}

/* Waits of an open that found the open-files limit reached: 1 ms doubling
 * to 256 ms, about 1.5 s in all */
#define EMFILE_WAITS 12

int io_open_file(struct io_ctx *io, int dirfd, const char *name)
{
	struct timespec wait = { 0, 1000000 };
	bool na = io->noatime;
	unsigned waits = 0;
	int fd;

	for (;;) {
		fd = openat(dirfd, name, io_open_flags(na));
		if (fd >= 0)
			return fd;
		if (errno == EINTR)
			continue;
		if (errno == EPERM && na) {
			/* O_NOATIME needs ownership or CAP_FOWNER */
			io_noatime_denied(io);
			na = false;
			continue;
		}
		if ((errno == EMFILE || errno == ENFILE) &&
		    waits++ < EMFILE_WAITS) {
			/* the limit (ulimit -n) is shared by every worker:
			 * a moment when the others hold many fds, not an
			 * error of this file. Our own closes queued on the
			 * ring go first, then the others get time to close */
			if (io->has_ring)
				io_uring_submit(&io->ring);
			nanosleep(&wait, NULL);
			if (wait.tv_nsec < 256000000)
				wait.tv_nsec *= 2;
			continue;
		}
		return -errno;
	}
}
