/* body: where an upload's bytes come from and where a download's bytes go.
 * Sources are read with pread semantics (offset, not a cursor) so that a
 * retried request, a multipart part or curl's rewind can read any range
 * again; nothing is buffered in between. */
#ifndef SNAP_BODY_H
#define SNAP_BODY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum body_src_kind {
	BODY_SRC_NONE = 0,  /* no body (len must be 0) */
	BODY_SRC_MEM,       /* mem[off .. off+len) */
	BODY_SRC_FD,        /* pread(fd) at off .. off+len */
	BODY_SRC_CB,        /* read(arg, buf, n, off + pos) */
};

struct body_src {
	enum body_src_kind kind;
	const void *mem;
	int fd;
	uint64_t off;       /* position of byte 0 of the body in the source */
	uint64_t len;       /* exact body length (sent as Content-Length) */
	/* CB: read up to n bytes at absolute offset off; returns the count
	 * (0 only past the end) or -errno. Called on the network thread,
	 * possibly for several ranges of one source at once. */
	ssize_t (*read)(void *arg, void *buf, size_t n, uint64_t off);
	void *arg;
};

/* Read up to n bytes at body position pos (0 = first body byte) into buf.
 * Returns the count (short only at the end of the body) or -errno;
 * -EIO when the source ends before len. */
ssize_t body_src_pread(const struct body_src *s, void *buf, size_t n,
		       uint64_t pos);

/* A view of bytes [off, off+len) of s (for multipart parts). */
struct body_src body_src_slice(const struct body_src *s, uint64_t off,
			       uint64_t len);

enum body_sink_kind {
	BODY_SINK_DISCARD = 0,
	BODY_SINK_MEM,      /* malloc'd buffer, at most mem_cap bytes */
	BODY_SINK_FD,       /* pwrite(fd) at fd_off + position */
};

struct body_sink {
	enum body_sink_kind kind;
	int fd;
	uint64_t fd_off;
	/* FD: more bytes than this fail with -EFBIG (0: no limit); a ranged
	 * GET's slot of a file never writes into its neighbour's */
	uint64_t fd_len;
	size_t mem_cap;     /* MEM: more bytes than this fail with -EFBIG */
	/* MEM result: owned by the sink, free with body_sink_release() */
	char *mem;
	size_t mem_len;
	size_t mem_alloc;
};

/* Append n bytes received at body position pos. Returns 0 or -errno
 * (-EFBIG over the cap, -ENOMEM, pwrite errors). */
int body_sink_write(struct body_sink *s, const void *data, size_t n,
		    uint64_t pos);

/* Forget what was received (before a retry); keeps the allocation. */
void body_sink_reset(struct body_sink *s);

/* Free a MEM sink's buffer. */
void body_sink_release(struct body_sink *s);

#endif
