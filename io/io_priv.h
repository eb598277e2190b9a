/* io_priv: what the io/ modules share behind io.h: the per-thread context
 * (ring, probed features, preallocated request state) and the small ring
 * helpers every batch loop uses. Not installed, not for callers. */
#ifndef SNAP_IO_PRIV_H
#define SNAP_IO_PRIV_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "io.h"

#define IO_DEPTH_MAX 4096u

/* A request in flight: sqe user_data points at it; the reaper stores the
 * result and counts it done. Owners poll their own requests, so a stream's
 * read-ahead may complete while another batch is being reaped. One io_req
 * may stand for several SQEs whose results nobody reads (closes). */
struct io_req {
	int res;           /* result of the last CQE */
	unsigned pending;  /* SQEs submitted, CQE not seen yet */
};

/* Per-job state of io_read_batch on the ring (see read_batch.c). */
struct io_rslot {
	struct io_req open, read, close;
	size_t job;       /* index into the caller's jobs */
	int fd;           /* PHASED: the open fd, -1 if none */
	unsigned step;    /* read_batch.c enum rstep */
	bool noatime;     /* this attempt used O_NOATIME */
};

struct io_ctx {
	enum io_backend backend;  /* URING or SYNC once set up */
	unsigned depth;
	unsigned max_open;        /* io_ctx_set_max_open; 0: depth */
	unsigned peak_open;       /* io_ctx_peak_open */
	bool has_ring;
	bool op_statx, op_openat, op_read, op_close;
	bool has_direct;          /* sparse fixed-file table registered */
	bool noatime;             /* O_NOATIME still worth trying */
	unsigned noatime_eperm;   /* EPERMs seen with O_NOATIME */
	bool feat_nodrop;
	enum io_read_mode read_mode;
	unsigned inflight;        /* requests submitted, CQE not reaped */
	struct io_req closes;     /* fire-and-forget closes of read_batch */
	struct io_uring ring;
	/* preallocated, depth entries each: statx outputs of io_stat_batch
	 * and their requests, read-batch slots */
	struct statx *stx;
	struct io_req *sreq;
	size_t *sidx;            /* item of each statx slot, SIZE_MAX: free */
	unsigned char *sretry;   /* -EAGAIN count of each statx slot */
	unsigned *free_slots;    /* stack of free slot numbers */
	struct io_rslot *rslots;
};

/* Next free SQE; when the SQ is full, submit what is queued and retry.
 * Returns NULL only if the ring is broken (error in *err). */
struct io_uring_sqe *io_ring_sqe(struct io_ctx *io, int *err);

/* Queue req on sqe (user_data = req, req->pending++). */
void io_ring_track(struct io_ctx *io, struct io_uring_sqe *sqe,
		   struct io_req *req);

/* Submit queued SQEs and wait for at least one CQE (unless nothing is in
 * flight), then reap every available CQE into its io_req. Returns the
 * number reaped or -errno (ring broken). */
int io_ring_wait(struct io_ctx *io);

/* Submit queued SQEs without waiting. A transient -EAGAIN/-EBUSY counts
 * as success (the SQEs stay queued for the next wait). Returns 0 or
 * -errno. */
int io_ring_submit(struct io_ctx *io);

/* Wait until req has nothing pending. Returns 0 or -errno. */
int io_ring_wait_req(struct io_ctx *io, const struct io_req *req);

void io_stat_from_statx(struct io_stat *o, const struct statx *x);

/* O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK (+O_NOATIME when noatime) */
int io_open_flags(bool noatime);

/* Record an EPERM that O_NOATIME caused; after a few, stop trying it. */
void io_noatime_denied(struct io_ctx *io);

/* openat(dirfd, name, io_open_flags()) with plain system calls, retrying
 * without O_NOATIME on EPERM. Returns the fd or -errno. */
int io_open_file(struct io_ctx *io, int dirfd, const char *name);

#endif
