/* stream: chunked sequential read of one large file for the hash stage.
 * On the ring, chunk k lives in buffer k % depth and up to depth reads are
 * in flight; chunks are handed out in file order and a handed-out buffer
 * is refilled on the next call. The sync backend preads one chunk at a
 * time after posix_fadvise(SEQUENTIAL). Buffers are allocated once at
 * open: depth x chunk bytes. */
#include "io_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compiler.h"
#include "fdio.h"
#include "banned.h"

#define STREAM_CHUNK_MAX ((size_t)256 << 20)
#define STREAM_BYTES_MAX ((size_t)1 << 30)

struct stream_slot {
	struct io_req req;
	uint64_t off;   /* file offset of this chunk */
	size_t got;     /* bytes of the chunk read so far */
};

struct io_stream {
	struct io_ctx *io;
	int fd;
	bool ring;
	size_t chunk;
	unsigned depth;
	char *bufs;                 /* depth x chunk */
	struct stream_slot *slots;  /* depth */
	uint64_t head;              /* chunk number to hand out next */
	uint64_t tail;              /* chunk number to submit next */
	uint64_t known_size;        /* submit only chunks starting <= this */
	bool handed;                /* chunk head - 1 is with the caller */
	bool eof;
	uint64_t eof_off;
	int err;                    /* sticky */
	char qname[128];            /* quoted name for messages */
};

static char *slot_buf(const struct io_stream *s, unsigned i)
{
	return s->bufs + (size_t)i * s->chunk;
}

static int submit_slot_read(struct io_stream *s, unsigned i)
{
	struct stream_slot *sl = &s->slots[i];
	struct io_uring_sqe *sqe;
	int err;

	sqe = io_ring_sqe(s->io, &err);
	if (!sqe)
		return err;
	io_uring_prep_read(sqe, s->fd, slot_buf(s, i) + sl->got,
			   (unsigned)(s->chunk - sl->got), sl->off + sl->got);
	io_ring_track(s->io, sqe, &sl->req);
	return 0;
}

/* Keep depth reads in flight, but none starting past the known size:
 * the chunk at exactly known_size finds end of file or growth. */
static int refill(struct io_stream *s)
{
	int ret;

	while (!s->eof && s->tail - s->head < s->depth &&
	       s->tail * s->chunk <= s->known_size) {
		unsigned i = (unsigned)(s->tail % s->depth);

		s->slots[i].off = s->tail * s->chunk;
		s->slots[i].got = 0;
		ret = submit_slot_read(s, i);
		if (ret < 0)
			return ret;
		s->tail++;
	}
	return io_ring_submit(s->io);
}

/* Fill slot i from its current position with plain preads until the
 * chunk is full or end of file. Returns 0 or -errno. */
static int fill_sync(struct io_stream *s, unsigned i)
{
	struct stream_slot *sl = &s->slots[i];
	ssize_t n;

	while (sl->got < s->chunk) {
		n = fdio_pread(s->fd, slot_buf(s, i) + sl->got,
			       s->chunk - sl->got, sl->off + sl->got);
		if (n < 0)
			return (int)n;
		if (n == 0) {
			s->eof = true;
			s->eof_off = sl->off + sl->got;
			break;
		}
		sl->got += (size_t)n;
	}
	return 0;
}

static int next_ring(struct io_stream *s, unsigned i)
{
	struct stream_slot *sl = &s->slots[i];
	int ret;

	ret = refill(s);
	if (ret < 0)
		return ret;
	if (s->head == s->tail) {
		sl->got = 0;  /* nothing allowed in flight: end of file */
		return 0;
	}
	for (;;) {
		ret = io_ring_wait_req(s->io, &sl->req);
		if (ret < 0)
			return ret;
		ret = sl->req.res;
		if (ret == -EAGAIN || ret == -EINTR)
			return fill_sync(s, i);
		if (ret < 0)
			return ret;
		if (ret == 0) {
			s->eof = true;
			s->eof_off = sl->off + sl->got;
			return 0;
		}
		sl->got += (size_t)ret;
		if (sl->got == s->chunk)
			break;
		/* short: read the rest, which finds end of file or data */
		ret = submit_slot_read(s, i);
		if (ret < 0)
			return ret;
	}
	if (sl->off + sl->got > s->known_size)
		s->known_size = sl->off + sl->got;  /* the file grew */
	return 0;
}

int io_stream_next(struct io_stream *s, const void **data, size_t *len,
		   struct errbuf *eb)
{
	struct stream_slot *sl;
	unsigned i;
	int ret;

	if (!s || !data || !len)
		return errbuf_set(eb, -EINVAL, "stream: bad argument");
	*data = NULL;
	*len = 0;
	if (s->err)
		return errbuf_set(eb, s->err, "cannot read '%s': %s", s->qname,
				  strerror(-s->err));
	if (s->handed) {
		s->handed = false;
		s->head++;
	}
	i = (unsigned)(s->head % s->depth);
	sl = &s->slots[i];
	if (s->eof && s->head * s->chunk >= s->eof_off)
		return 0;
	if (s->ring) {
		ret = next_ring(s, i);
	} else {
		sl->off = s->head * s->chunk;
		sl->got = 0;
		ret = fill_sync(s, i);
	}
	if (ret < 0) {
		s->err = ret;
		return errbuf_set(eb, ret, "cannot read '%s': %s", s->qname,
				  strerror(-ret));
	}
	if (sl->got == 0)
		return 0;
	*data = slot_buf(s, i);
	*len = sl->got;
	s->handed = true;
	return 1;
}

int io_stream_open(struct io_ctx *io, int dirfd, const char *name,
		   size_t chunk, unsigned depth, struct io_stream **out,
		   struct errbuf *eb)
{
	struct io_stream *s;
	struct stat st;
	int ret;

	if (!out)
		return errbuf_set(eb, -EINVAL, "stream: no output pointer");
	*out = NULL;
	if (!io || !name || chunk == 0 || chunk > STREAM_CHUNK_MAX ||
	    depth == 0)
		return errbuf_set(eb, -EINVAL, "stream: bad argument");
	s = calloc(1, sizeof(*s));
	if (!s)
		return errbuf_set(eb, -ENOMEM, "cannot allocate stream");
	errbuf_quote_name(s->qname, sizeof(s->qname), name, strlen(name));
	s->io = io;
	s->chunk = chunk;
	s->ring = io->backend == IO_BACKEND_URING && io->op_read;
	depth = s->ring ? MIN(depth, io->depth) : 1;
	while (depth > 1 && (size_t)depth * chunk > STREAM_BYTES_MAX)
		depth--;
	s->depth = depth;
	s->fd = io_open_file(io, dirfd, name);
	if (s->fd < 0) {
		ret = errbuf_set(eb, s->fd, "cannot open '%s': %s", s->qname,
				 strerror(-s->fd));
		goto out_free;
	}
	if (fstat(s->fd, &st) < 0) {
		ret = -errno;
		errbuf_set(eb, ret, "cannot stat '%s': %s", s->qname,
			   strerror(-ret));
		goto out_close;
	}
	s->known_size = (uint64_t)st.st_size;
	/* a hint; failure changes nothing */
	(void)posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	s->bufs = malloc((size_t)depth * chunk);
	s->slots = calloc(depth, sizeof(*s->slots));
	if (!s->bufs || !s->slots) {
		ret = errbuf_set(eb, -ENOMEM, "cannot allocate %u x %zu bytes "
				 "for '%s'", depth, chunk, s->qname);
		goto out_close;
	}
	*out = s;
	return 0;
out_close:
	close(s->fd);
out_free:
	free(s->bufs);
	free(s->slots);
	free(s);
	return ret;
}

int io_stream_stat(struct io_stream *s, struct io_stat *out)
{
	struct stat st;

	if (!s || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (fstat(s->fd, &st) < 0) {
		out->err = -errno;
		return out->err;
	}
	io_stat_from_stat(out, &st);
	return 0;
}

void io_stream_close(struct io_stream *s)
{
	unsigned i;

	if (!s)
		return;
	/* reads still in flight write into bufs: let them land first; if
	 * the ring broke meanwhile, leak the buffers rather than free memory
	 * the kernel may still write */
	if (s->ring) {
		for (i = 0; i < s->depth; i++) {
			if (io_ring_wait_req(s->io, &s->slots[i].req) < 0) {
				close(s->fd);
				return;
			}
		}
	}
	close(s->fd);
	free(s->bufs);
	free(s->slots);
	free(s);
}
