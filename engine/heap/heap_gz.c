/* heap_gz: igzip streaming encoder and fd-to-fd decoder of heap objects
 * (heap_gz.h). */
#include "heap_gz.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <isa-l/igzip_lib.h>

#include "fdio.h"
#include "banned.h"

#define GZ_CHUNK ((size_t)256 << 10)
/* igzip counts in 32 bits: input is fed in steps of at most this */
#define GZ_STEP ((size_t)1 << 30)

static const uint32_t level_buf_size[] = {
	ISAL_DEF_LVL0_DEFAULT, ISAL_DEF_LVL1_DEFAULT, ISAL_DEF_LVL2_DEFAULT,
	ISAL_DEF_LVL3_DEFAULT,
};

struct heap_gz_enc {
	struct isal_zstream s;
	heap_gz_sink_fn sink;
	void *arg;
	unsigned char *level_buf;
	unsigned char out[GZ_CHUNK];
};

int heap_gz_enc_new(heap_gz_sink_fn sink, void *arg,
		    struct heap_gz_enc **out, struct errbuf *eb)
{
	struct heap_gz_enc *z;

	*out = NULL;
	z = malloc(sizeof(*z));
	if (!z)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	z->level_buf = malloc(level_buf_size[HEAP_GZ_LEVEL]);
	if (!z->level_buf) {
		free(z);
		return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	isal_deflate_init(&z->s);
	z->s.gzip_flag = IGZIP_GZIP;
	z->s.level = HEAP_GZ_LEVEL;
	z->s.level_buf = z->level_buf;
	z->s.level_buf_size = level_buf_size[HEAP_GZ_LEVEL];
	z->s.flush = NO_FLUSH;
	z->sink = sink;
	z->arg = arg;
	*out = z;
	return 0;
}

/* Run the deflater over what next_in holds, handing full output chunks
 * to the sink; with end, until the trailer is out. */
static int enc_run(struct heap_gz_enc *z, bool end, struct errbuf *eb)
{
	int ret;

	z->s.end_of_stream = end ? 1 : 0;
	for (;;) {
		size_t n;

		z->s.next_out = z->out;
		z->s.avail_out = (uint32_t)GZ_CHUNK;
		if (isal_deflate(&z->s) != COMP_OK)
			return errbuf_set(eb, -EIO, "gzip compression failed");
		n = GZ_CHUNK - z->s.avail_out;
		if (n) {
			ret = z->sink(z->arg, z->out, n, eb);
			if (ret < 0)
				return ret;
		}
		if (end ? z->s.internal_state.state == ZSTATE_END :
			  !z->s.avail_in && z->s.avail_out)
			return 0;
	}
}

int heap_gz_enc_write(struct heap_gz_enc *z, const void *buf, size_t len,
		      struct errbuf *eb)
{
	const unsigned char *p = buf;
	int ret;

	while (len) {
		size_t step = len < GZ_STEP ? len : GZ_STEP;

		z->s.next_in = (uint8_t *)(uintptr_t)p;
		z->s.avail_in = (uint32_t)step;
		ret = enc_run(z, false, eb);
		if (ret < 0)
			return ret;
		p += step;
		len -= step;
	}
	return 0;
}

int heap_gz_enc_finish(struct heap_gz_enc *z, struct errbuf *eb)
{
	z->s.next_in = NULL;
	z->s.avail_in = 0;
	return enc_run(z, true, eb);
}

void heap_gz_enc_free(struct heap_gz_enc *z)
{
	if (!z)
		return;
	free(z->level_buf);
	free(z);
}

static const char *inflate_why(int r)
{
	switch (r) {
	case ISAL_INCORRECT_CHECKSUM:
		return "CRC or length mismatch";
	case ISAL_INVALID_WRAPPER:
	case ISAL_UNSUPPORTED_METHOD:
	case ISAL_NAME_OVERFLOW:
	case ISAL_COMMENT_OVERFLOW:
	case ISAL_EXTRA_OVERFLOW:
		return "bad gzip header";
	default:
		return "invalid deflate data";
	}
}

struct dec {
	struct inflate_state s;
	unsigned char in[GZ_CHUNK];
	unsigned char out[GZ_CHUNK];
};

/* Refill the input from src, keeping the avail_in bytes not yet used.
 * 1 read more, 0 end of file, -errno. */
static int refill(struct dec *d, int src)
{
	ssize_t n;

	if (d->s.avail_in && d->s.next_in != d->in)
		memmove(d->in, d->s.next_in, d->s.avail_in);
	d->s.next_in = d->in;
	n = fdio_read(src, d->in + d->s.avail_in, GZ_CHUNK - d->s.avail_in);
	if (n < 0)
		return (int)n;
	d->s.avail_in += (uint32_t)n;
	return n > 0;
}

/* At the end of a member: another one may follow; anything else after
 * it is not gzip (Python's gzip module refuses it too). 0 a member
 * follows (the state is reset for it), 1 end of the input, -errno with
 * why set. */
static int member_end(struct dec *d, int src, bool *eof, char *why,
		      size_t why_len)
{
	uint8_t *next;
	uint32_t avail;
	int ret;

	if (d->s.avail_in < 2 && !*eof) {
		ret = refill(d, src);
		if (ret == 0)
			*eof = true;
		if (ret < 0) {
			snprintf(why, why_len, "%s", strerror(-ret));
			return ret;
		}
	}
	if (!d->s.avail_in && *eof)
		return 1;
	if (d->s.avail_in < 2 || d->s.next_in[0] != 0x1f ||
	    d->s.next_in[1] != 0x8b) {
		snprintf(why, why_len, "corrupt gzip data: trailing garbage "
			 "after the gzip data");
		return -EBADMSG;
	}
	next = d->s.next_in;
	avail = d->s.avail_in;
	isal_inflate_reset(&d->s);
	d->s.crc_flag = ISAL_GZIP;
	d->s.next_in = next;
	d->s.avail_in = avail;
	return 0;
}

int heap_gz_decode_fd(int src, int dst, uint64_t max_out, uint64_t *out_len,
		      char *why, size_t why_len)
{
	struct dec *d = malloc(sizeof(*d));
	uint64_t total = 0;
	bool eof = false;
	int ret = 0, r;

	if (out_len)
		*out_len = 0;
	if (!d) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	isal_inflate_init(&d->s);
	d->s.crc_flag = ISAL_GZIP;
	d->s.next_in = d->in;
	d->s.avail_in = 0;
	/* an empty file is not a gzip member either */
	ret = refill(d, src);
	if (ret == 0) {
		snprintf(why, why_len, "corrupt gzip data: empty file");
		ret = -EBADMSG;
		goto out;
	}
	for (;;) {
		size_t n;

		if (ret < 0) {
			snprintf(why, why_len, "%s", strerror(-ret));
			goto out;
		}
		d->s.next_out = d->out;
		d->s.avail_out = (uint32_t)GZ_CHUNK;
		r = isal_inflate(&d->s);
		if (r < 0) {
			snprintf(why, why_len, "corrupt gzip data: %s",
				 inflate_why(r));
			ret = -EBADMSG;
			goto out;
		}
		n = GZ_CHUNK - d->s.avail_out;
		if (n > max_out - total) {
			snprintf(why, why_len, "it decompresses to more than "
				 "the %llu bytes expected",
				 (unsigned long long)max_out);
			ret = -EFBIG;
			goto out;
		}
		ret = fdio_write_full(dst, d->out, n);
		if (ret < 0) {
			snprintf(why, why_len, "%s", strerror(-ret));
			goto out;
		}
		total += n;
		if (d->s.block_state == ISAL_BLOCK_FINISH) {
			ret = member_end(d, src, &eof, why, why_len);
			if (ret < 0)
				goto out;
			if (ret == 1)
				break;
			continue;
		}
		if (n)
			continue;   /* output was full: more may be pending */
		if (eof) {
			snprintf(why, why_len, "corrupt gzip data: truncated");
			ret = -EBADMSG;
			goto out;
		}
		ret = refill(d, src);
		if (ret == 0)
			eof = true;
	}
	ret = 0;
out:
	if (out_len)
		*out_len = total;
	free(d);
	return ret;
}
