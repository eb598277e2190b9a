/* read_batch: whole-file reads of many small files for the hash stage:
 * open, read up to cap, stat after the read, close. The sync backend does
 * it with four system calls per file; on the ring two schemes exist (see
 * enum io_read_mode in io.h) and AUTO picks the one measured faster with
 * bench/bench_io.c. Rare cases (O_NOATIME refused, a read that would
 * block, a file that grew) fall back to plain system calls per file. */
#include "io_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compiler.h"
#include "banned.h"

/* one read never asks for more (an SQE length is 32 bits) */
#define READ_OP_MAX ((size_t)1 << 30)

/* AUTO: PHASED. bench_io on 6.18, 2 cores, 20,000 files of ~4 KiB, depth
 * 64: warm cache sync 430k, PHASED 460k, LINKED 300k files/s; cold data
 * sync 28k, PHASED 62k, LINKED 56k files/s. LINKED only caught up with
 * IORING_SETUP_DEFER_TASKRUN, which would pin the ring to one thread. */
#define READ_MODE_DEFAULT IO_READ_PHASED

enum rstep {
	RS_FREE = 0,
	RS_OPEN,   /* PHASED: openat in flight */
	RS_READ,   /* PHASED: read in flight */
	RS_CHAIN,  /* LINKED: the three-SQE chain in flight */
};

static void job_reset(struct io_read_job *j)
{
	j->err = 0;
	j->len = 0;
	memset(&j->st_after, 0, sizeof(j->st_after));
}

/* A short read of a regular file means end of file, unless the file grew
 * meanwhile (its size says so) or reports no size at all (procfs). */
static bool want_more(const struct io_read_job *j, size_t got, uint64_t size)
{
	return got > 0 && j->len < j->cap && (j->len < size || size == 0);
}

/* Finish a job on its open fd with plain system calls: read on from
 * j->len until cap or end of file, then fstat. last is the size of the
 * read just done, or -1 to start with a read. */
static void finish_sync(int fd, struct io_read_job *j, ssize_t last)
{
	struct stat st;
	ssize_t got = last;

	for (;;) {
		if (got < 0 && j->len < j->cap) {
			size_t want = MIN(j->cap - j->len, READ_OP_MAX);

			/* pread: ring reads left the file position at 0 */
			got = pread(fd, (char *)j->buf + j->len, want,
				    (off_t)j->len);
			if (got < 0 && errno == ESPIPE)
				got = read(fd, (char *)j->buf + j->len, want);
			if (got < 0) {
				if (errno == EINTR)
					continue;
				j->err = -errno;
				return;
			}
			j->len += (size_t)got;
		}
		if (got < 0)
			got = 0;
		if (fstat(fd, &st) < 0) {
			j->err = -errno;
			return;
		}
		io_stat_from_stat(&j->st_after, &st);
		if (!want_more(j, (size_t)got, j->st_after.size))
			return;
		got = -1;
	}
}

static void read_job_sync(struct io_ctx *io, struct io_read_job *j)
{
	int fd;

	job_reset(j);
	fd = io_open_file(io, j->dirfd, j->name);
	if (fd < 0) {
		j->err = fd;
		return;
	}
	finish_sync(fd, j, -1);
	close(fd);
}

/* ---- PHASED: a state machine per slot on plain fds ---- */

static int phased_open(struct io_ctx *io, struct io_rslot *sl,
		       const struct io_read_job *j)
{
	struct io_uring_sqe *sqe;
	int err;

	sqe = io_ring_sqe(io, &err);
	if (!sqe)
		return err;
	io_uring_prep_openat(sqe, j->dirfd, j->name,
			     io_open_flags(sl->noatime), 0);
	io_ring_track(io, sqe, &sl->open);
	sl->step = RS_OPEN;
	return 0;
}

static int phased_read(struct io_ctx *io, struct io_rslot *sl,
		       const struct io_read_job *j)
{
	struct io_uring_sqe *sqe;
	int err;

	sqe = io_ring_sqe(io, &err);
	if (!sqe)
		return err;
	io_uring_prep_read(sqe, sl->fd, (char *)j->buf + j->len,
			   (unsigned)MIN(j->cap - j->len, READ_OP_MAX),
			   j->len);
	io_ring_track(io, sqe, &sl->read);
	sl->step = RS_READ;
	return 0;
}

/* Close the slot's fd on the ring, nobody waits for the result; the slot
 * is free at once. Returns 1 (job done) or -errno. */
static int phased_close(struct io_ctx *io, struct io_rslot *sl)
{
	struct io_uring_sqe *sqe;
	int err;

	sqe = io_ring_sqe(io, &err);
	if (!sqe) {
		close(sl->fd);
		sl->fd = -1;
		return err;
	}
	io_uring_prep_close(sqe, sl->fd);
	io_ring_track(io, sqe, &io->closes);
	sl->fd = -1;
	return 1;
}

/* One step of a slot whose request completed. Returns 1 when the job is
 * done (slot free), 0 when another request was queued, -errno if the
 * ring is broken. */
static int phased_step(struct io_ctx *io, struct io_rslot *sl,
		       struct io_read_job *j)
{
	struct stat st;
	int res;

	if (sl->step == RS_OPEN) {
		res = sl->open.res;
		if (res == -EPERM && sl->noatime) {
			io_noatime_denied(io);
			sl->noatime = false;
			return phased_open(io, sl, j);
		}
		/* EMFILE: other workers hold the fds of the open-files
		 * limit; the plain open waits for them (io_open_file) */
		if (res == -EAGAIN || res == -EINTR || res == -EMFILE ||
		    res == -ENFILE) {
			read_job_sync(io, j);
			return 1;
		}
		if (res < 0) {
			j->err = res;
			return 1;
		}
		sl->fd = res;
		if (j->cap == 0) {
			finish_sync(sl->fd, j, 0);
			return phased_close(io, sl);
		}
		return phased_read(io, sl, j);
	}
	res = sl->read.res;
	if (res == -EAGAIN || res == -EINTR) {
		/* a file system without non-blocking reads under O_NONBLOCK:
		 * a plain read blocks as it should */
		finish_sync(sl->fd, j, -1);
		return phased_close(io, sl);
	}
	if (res < 0) {
		j->err = res;
		return phased_close(io, sl);
	}
	j->len += (size_t)res;
	if (fstat(sl->fd, &st) < 0) {
		j->err = -errno;
		return phased_close(io, sl);
	}
	io_stat_from_stat(&j->st_after, &st);
	if (want_more(j, (size_t)res, j->st_after.size))
		return phased_read(io, sl, j);
	return phased_close(io, sl);
}

/* ---- LINKED: one hard-linked chain per file on direct descriptor s:
 * openat_direct -> read (fixed file) -> close_direct. Hard links run the
 * rest of the chain whatever the result (a short read would sever a plain
 * link). There is no fstat of a direct descriptor (statx cannot take one),
 * so st_after is an fstatat of the name after the chain. ---- */

static int linked_chain(struct io_ctx *io, unsigned s, struct io_rslot *sl,
			const struct io_read_job *j)
{
	struct io_uring_sqe *sqe;
	unsigned tries;
	int err;

	/* a chain split across two submissions would come apart (the ring
	 * has at least 4 SQEs, see ctx.c) */
	for (tries = 0; io_uring_sq_space_left(&io->ring) < 3; tries++) {
		err = io_ring_submit(io);
		if (err == 0 && io_uring_sq_space_left(&io->ring) < 3)
			err = io_ring_wait(io);  /* the kernel refused: reap */
		if (err == 0 && tries > 100000)
			err = -EAGAIN;
		if (err < 0)
			return err;
	}
	sqe = io_ring_sqe(io, &err);
	if (!sqe)
		return err;
	/* a direct descriptor has no fd table entry: O_CLOEXEC is -EINVAL */
	io_uring_prep_openat_direct(sqe, j->dirfd, j->name,
				    io_open_flags(sl->noatime) & ~O_CLOEXEC,
				    0, s);
	sqe->flags |= IOSQE_IO_HARDLINK;
	io_ring_track(io, sqe, &sl->open);

	sqe = io_ring_sqe(io, &err);
	if (!sqe)
		return err;
	io_uring_prep_read(sqe, (int)s, j->buf,
			   (unsigned)MIN(j->cap, READ_OP_MAX), 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK;
	io_ring_track(io, sqe, &sl->read);

	/* the slot is reused only after this CQE, so a late close can
	 * never hit the next file opened into slot s */
	sqe = io_ring_sqe(io, &err);
	if (!sqe)
		return err;
	io_uring_prep_close_direct(sqe, s);
	io_ring_track(io, sqe, &sl->close);
	sl->step = RS_CHAIN;
	return 0;
}

static int linked_step(struct io_ctx *io, unsigned s, struct io_rslot *sl,
		       struct io_read_job *j)
{
	int res = sl->open.res;
	struct stat st;

	if (res == -EPERM && sl->noatime) {
		io_noatime_denied(io);
		sl->noatime = false;
		return linked_chain(io, s, sl, j);
	}
	if (res == -EAGAIN || res == -EINTR || sl->read.res == -EAGAIN ||
	    sl->read.res == -EINTR) {
		read_job_sync(io, j);
		return 1;
	}
	if (res < 0) {
		j->err = res;
		return 1;
	}
	if (sl->read.res < 0) {
		j->err = sl->read.res;
		return 1;
	}
	j->len = (size_t)sl->read.res;
	/* a replaced file shows a new inode, a symlink its own mode */
	if (fstatat(j->dirfd, j->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		j->err = -errno;
		return 1;
	}
	io_stat_from_stat(&j->st_after, &st);
	if (want_more(j, j->len, j->st_after.size))
		read_job_sync(io, j);  /* rare: the file grew; read it anew */
	return 1;
}

/* ---- the window loop shared by both schemes ---- */

static bool slot_idle(const struct io_rslot *sl)
{
	return !sl->open.pending && !sl->read.pending && !sl->close.pending;
}

static int slot_start(struct io_ctx *io, bool linked, unsigned s,
		      struct io_read_job *jobs, size_t idx)
{
	struct io_rslot *sl = &io->rslots[s];
	struct io_read_job *j = &jobs[idx];

	job_reset(j);
	sl->job = idx;
	sl->fd = -1;
	sl->noatime = io->noatime;
	if (j->cap && !j->buf) {
		j->err = -EINVAL;
		return 1;
	}
	if (linked)
		return linked_chain(io, s, sl, j);
	return phased_open(io, sl, j);
}

static int read_batch_ring(struct io_ctx *io, bool linked,
			   struct io_read_job *jobs, size_t n,
			   struct errbuf *eb)
{
	unsigned *free_slots = io->free_slots;
	unsigned nslots, nfree, busy = 0, s;
	size_t next = 0;
	int ret;

	/* LINKED: each slot holds three SQEs at once */
	nslots = linked ? MAX(io->depth / 3, 1u) : io->depth;
	/* PHASED holds an fd per busy slot; LINKED's are direct ones */
	if (!linked && io->max_open && nslots > io->max_open)
		nslots = io->max_open;
	for (s = 0; s < nslots; s++) {
		io->rslots[s].step = RS_FREE;
		io->rslots[s].fd = -1;
		free_slots[s] = nslots - 1 - s;
	}
	nfree = nslots;
	while (next < n || busy) {
		while (next < n && nfree) {
			s = free_slots[nfree - 1];
			ret = slot_start(io, linked, s, jobs, next++);
			if (ret < 0)
				goto broken;
			if (ret == 0) {
				nfree--;
				busy++;
				if (!linked && busy > io->peak_open)
					io->peak_open = busy;
			}
		}
		if (!busy)
			break;
		ret = io_ring_wait(io);
		if (ret < 0)
			goto broken;
		for (s = 0; s < nslots; s++) {
			struct io_rslot *sl = &io->rslots[s];

			if (sl->step == RS_FREE || !slot_idle(sl))
				continue;
			if (linked)
				ret = linked_step(io, s, sl, &jobs[sl->job]);
			else
				ret = phased_step(io, sl, &jobs[sl->job]);
			if (ret < 0)
				goto broken;
			if (ret == 1) {
				sl->step = RS_FREE;
				free_slots[nfree++] = s;
				busy--;
			}
		}
	}
	/* the closes are queued, maybe not yet submitted: flush them so no
	 * fd outlives the batch */
	ret = io_ring_wait_req(io, &io->closes);
	if (ret < 0)
		goto broken;
	return 0;
broken:
	while (io->inflight && io_ring_wait(io) > 0)
		;
	for (s = 0; s < nslots; s++) {
		if (io->rslots[s].fd >= 0)
			close(io->rslots[s].fd);
		io->rslots[s].fd = -1;
		io->rslots[s].step = RS_FREE;
	}
	return errbuf_set(eb, ret, "io_uring read batch failed: %s",
			  strerror(-ret));
}

int io_read_batch(struct io_ctx *io, struct io_read_job *jobs, size_t n,
		  struct errbuf *eb)
{
	enum io_read_mode mode;
	size_t i;

	if (!io || (n && !jobs))
		return errbuf_set(eb, -EINVAL, "read batch: bad argument");
	if (n == 0)
		return 0;
	if (io->backend != IO_BACKEND_URING || !io->op_openat ||
	    !io->op_read || !io->op_close) {
		for (i = 0; i < n; i++) {
			if (jobs[i].cap && !jobs[i].buf) {
				job_reset(&jobs[i]);
				jobs[i].err = -EINVAL;
				continue;
			}
			read_job_sync(io, &jobs[i]);
		}
		return 0;
	}
	mode = io->read_mode == IO_READ_AUTO ? READ_MODE_DEFAULT :
					       io->read_mode;
	if (mode == IO_READ_LINKED && !io->has_direct)
		mode = IO_READ_PHASED;
	return read_batch_ring(io, mode == IO_READ_LINKED, jobs, n, eb);
}
