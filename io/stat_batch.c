/* stat_batch: statx of many names in one directory for the scan stage.
 * On the ring, up to `depth` statx requests stay in flight (a sliding
 * window refilled after every reap); the sync backend loops fstatat. */
#include "io_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "banned.h"

/* a request answered -EAGAIN this many times in a row fails with it */
#define STAT_EAGAIN_MAX 64

static int stat_batch_sync(int dirfd, const char *const *names, size_t n,
			   struct io_stat *out)
{
	struct stat st;
	size_t i;

	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			out[i].err = -errno;
		else
			io_stat_from_stat(&out[i], &st);
	}
	return 0;
}

static int prep_one(struct io_ctx *io, unsigned slot, int dirfd,
		    const char *name)
{
	struct io_uring_sqe *sqe;
	int err;

	sqe = io_ring_sqe(io, &err);
	if (!sqe)
		return err;
	io_uring_prep_statx(sqe, dirfd, name,
			    AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT,
			    STATX_BASIC_STATS, &io->stx[slot]);
	io_ring_track(io, sqe, &io->sreq[slot]);
	return 0;
}

static int stat_batch_ring(struct io_ctx *io, int dirfd,
			   const char *const *names, size_t n,
			   struct io_stat *out, struct errbuf *eb)
{
	unsigned *free_slots = io->free_slots;
	unsigned char *eagain = io->sretry;
	unsigned nfree = io->depth, busy = 0, s;
	size_t next = 0;
	int ret;

	for (s = 0; s < io->depth; s++)
		free_slots[s] = io->depth - 1 - s;
	while (next < n || busy) {
		while (next < n && nfree) {
			s = free_slots[--nfree];
			io->sidx[s] = next;
			eagain[s] = 0;
			ret = prep_one(io, s, dirfd, names[next]);
			if (ret < 0)
				goto broken;
			next++;
			busy++;
		}
		ret = io_ring_wait(io);
		if (ret < 0)
			goto broken;
		/* collect finished slots of ours (the reap may also have
		 * completed another owner's requests, e.g. a stream's) */
		for (s = 0; s < io->depth && busy; s++) {
			struct io_req *r = &io->sreq[s];
			struct io_stat *o;

			if (r->pending || io->sidx[s] == SIZE_MAX)
				continue;
			o = &out[io->sidx[s]];
			if (r->res == -EAGAIN && ++eagain[s] < STAT_EAGAIN_MAX) {
				ret = prep_one(io, s, dirfd,
					       names[io->sidx[s]]);
				if (ret < 0)
					goto broken;
				continue;
			}
			memset(o, 0, sizeof(*o));
			if (r->res < 0)
				o->err = r->res;
			else
				io_stat_from_statx(o, &io->stx[s]);
			io->sidx[s] = SIZE_MAX;
			free_slots[nfree++] = s;
			busy--;
		}
	}
	return 0;
broken:
	/* let what is in flight land before the caller reuses out and the
	 * statx buffers; the ring itself is failing, so do not loop long */
	while (io->inflight && io_ring_wait(io) > 0)
		;
	return errbuf_set(eb, ret, "io_uring statx batch failed: %s",
			  strerror(-ret));
}

int io_stat_batch(struct io_ctx *io, int dirfd, const char *const *names,
		  size_t n, struct io_stat *out, struct errbuf *eb)
{
	unsigned s;

	if (!io || (n && (!names || !out)))
		return errbuf_set(eb, -EINVAL, "stat batch: bad argument");
	if (n == 0)
		return 0;
	if (io->backend != IO_BACKEND_URING || !io->op_statx)
		return stat_batch_sync(dirfd, names, n, out);
	for (s = 0; s < io->depth; s++)
		io->sidx[s] = SIZE_MAX;
	return stat_batch_ring(io, dirfd, names, n, out, eb);
}
