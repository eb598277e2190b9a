/* io: directory listing, batched statx and file reads for the pipeline
 * stages, on io_uring with a plain-syscall fallback. One struct io_ctx per
 * thread (it owns that thread's ring); nothing here is shared between
 * threads. Layer: io -> base only. */
#ifndef SNAP_IO_H
#define SNAP_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"

enum io_backend {
	IO_BACKEND_AUTO = 0,  /* io_uring if it can be set up, else sync */
	IO_BACKEND_URING,     /* io_uring or fail */
	IO_BACKEND_SYNC,      /* plain system calls */
};

struct io_ctx;

/* Create a per-thread I/O context with queue depth `depth` (ring entries,
 * 1..4096). AUTO falls back to SYNC when io_uring_queue_init fails with
 * -ENOSYS, -EPERM or -EACCES (old kernel, seccomp); *fell_back (may be
 * NULL) tells the caller so it can say so once. URING fails instead. SYNC
 * never touches io_uring. Returns 0 or -errno with a message in eb.
 *
 * Testing hook: with the environment variable SNAP_IO_FORCE_FAIL_URING=1
 * the ring setup fails as if io_uring_queue_init returned -ENOSYS (AUTO
 * then falls back, URING fails).
 *
 * The context is not thread safe: create it on, and use it from, one
 * thread (it may be handed to another thread between uses). */
int io_ctx_new(enum io_backend want, unsigned depth, struct io_ctx **out,
	       bool *fell_back, struct errbuf *eb);
void io_ctx_free(struct io_ctx *io);
/* IO_BACKEND_URING or IO_BACKEND_SYNC: what the context really uses. */
enum io_backend io_ctx_backend(const struct io_ctx *io);

/* How io_read_batch drives the ring (tuning and bench only; ignored by the
 * sync backend). AUTO = PHASED, measured faster (see read_batch.c).
 * PHASED: per-file state machine on plain fds, many files per submission:
 *   openat -> read -> fstat (plain syscall) -> close.
 * LINKED: one hard-linked chain per file on a direct (fixed) descriptor:
 *   openat_direct -> read -> close_direct, then fstatat(name) (needs a
 *   sparse file table, 5.19+); st_after then stats the name, not the fd. */
enum io_read_mode {
	IO_READ_AUTO = 0,
	IO_READ_LINKED,
	IO_READ_PHASED,
};

/* Returns 0, or -EOPNOTSUPP when the kernel lacks what the mode needs
 * (the previous mode stays). */
int io_ctx_set_read_mode(struct io_ctx *io, enum io_read_mode mode);

/* At most n files open at once in io_read_batch (0: up to the depth).
 * The open-files limit (ulimit -n) is the process's: when several
 * threads batch reads, each keeps to its share so that the others' opens
 * (a heap temp, a directory) do not fail with EMFILE. LINKED reads open
 * direct descriptors, outside the fd table and its limit: not capped. */
void io_ctx_set_max_open(struct io_ctx *io, unsigned n);
/* The most files io_read_batch has held open at once on this context's
 * ring in PHASED mode (what io_ctx_set_max_open caps; for tests). */
unsigned io_ctx_peak_open(const struct io_ctx *io);

/* Metadata of one path, as statx(AT_SYMLINK_NOFOLLOW) sees it. */
struct io_stat {
	int err;             /* 0, or -errno for this item alone */
	uint32_t mode;       /* full st_mode: type and permission bits */
	uint64_t size;
	uint64_t ino;
	uint64_t dev;
	int64_t mtime_ns;    /* saturated at INT64_MIN/MAX (1677, 2262) */
	int64_t ctime_ns;
	uint32_t uid;
	uint32_t gid;
	uint64_t nlink;
	uint64_t blocks;     /* 512-byte units allocated */
};

struct stat;
/* An fstat(2) result as io_stat (times saturated as above), for callers
 * that stat a file they opened themselves. */
void io_stat_from_stat(struct io_stat *o, const struct stat *st);

/* Directory listing of one open directory (getdents64; io_uring has no
 * directory read). Names point into memory owned by the listing, valid
 * until the next io_list_dir on it or io_dir_listing_release. */
struct io_dirent {
	const char *name;    /* NUL-terminated */
	size_t name_len;
	uint8_t d_type;      /* DT_* from getdents64, DT_UNKNOWN possible */
};

struct io_dir_listing {
	struct io_dirent *ents;
	size_t n;
	/* private */
	size_t cap;
	char *names;
	size_t names_used, names_cap;
};

#define IO_DIR_LISTING_INIT { 0 }

/* Read every entry of dirfd except "." and "..", unsorted. The listing is
 * reused across calls (amortised memory). Returns 0 or -errno. */
int io_list_dir(int dirfd, struct io_dir_listing *out, struct errbuf *eb);
void io_dir_listing_release(struct io_dir_listing *l);

/* statx each names[i] relative to dirfd, without following symlinks, in
 * as few submissions as the ring allows. Per-item failures land in
 * out[i].err; the return is 0 or a fatal -errno (ring broken). */
int io_stat_batch(struct io_ctx *io, int dirfd, const char *const *names,
		  size_t n, struct io_stat *out, struct errbuf *eb);

/* Whole-file reads of small files, batched: for each job open
 * name relative to dirfd (O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK, plus
 * O_NOATIME while permitted: EPERM retries without), read up to cap bytes
 * into buf (short reads continue until cap or end of file), fstat the open
 * file (after the read, for change detection), close. Per-job outcomes: a
 * symlink gives -ELOOP, a directory -EISDIR, a missing name -ENOENT; a
 * FIFO swapped in does not block (O_NONBLOCK): 0 bytes, st_after shows
 * S_IFIFO. cap 0 with buf NULL only stats; buf NULL with cap > 0 is
 * -EINVAL for that job. */
struct io_read_job {
	int dirfd;
	const char *name;
	void *buf;
	size_t cap;
	/* out */
	int err;             /* 0 or -errno (open/read/fstat) */
	size_t len;          /* bytes read; == cap may mean "file is larger" */
	struct io_stat st_after;
};

/* Returns 0 (per-job errors in jobs[i].err) or a fatal -errno. */
int io_read_batch(struct io_ctx *io, struct io_read_job *jobs, size_t n,
		  struct errbuf *eb);

/* Streaming read of one large file in chunks of `chunk` bytes (at most
 * 256 MiB) with up to `depth` reads in flight (read-ahead; clamped to the
 * context's depth and to 1 GiB of buffers; the sync backend reads one
 * chunk at a time after posix_fadvise SEQUENTIAL). Opened like
 * io_read_batch's files. Buffers are allocated once at open. Other io_*
 * calls on the same context may run between io_stream_next calls. */
struct io_stream;

int io_stream_open(struct io_ctx *io, int dirfd, const char *name,
		   size_t chunk, unsigned depth, struct io_stream **out,
		   struct errbuf *eb);
/* Next chunk in file order: returns 1 with *data and *len (valid until the
 * next call), 0 at end of file, or -errno. */
int io_stream_next(struct io_stream *s, const void **data, size_t *len,
		   struct errbuf *eb);
/* fstat of the open file (for before/after change detection). */
int io_stream_stat(struct io_stream *s, struct io_stat *out);
/* Waits for the stream's reads in flight; call before io_ctx_free. */
void io_stream_close(struct io_stream *s);

#endif
