/* heap_gz: gzip of heap objects in the Python tool's format
 * (<md5>.gz: plain gzip, RFC 1952, named by the MD5 of the uncompressed
 * bytes), with ISA-L's igzip for both directions (README: "Gzip heap
 * objects (Python format)": fastest of zlib, libdeflate and igzip in
 * bench/bench_gzip.c, and it streams). Encoder output goes to a sink
 * callback; the decoder streams fd to fd, so no object is ever held in
 * memory whole. */
#ifndef SNAP_HEAP_GZ_H
#define SNAP_HEAP_GZ_H

#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"

/* igzip level of new objects (0..3; any level is readable by any gzip):
 * level 1 compressed text-like data at 280 MB/s (ratio 2.23) against
 * 215 MB/s (2.43) for level 3 and 22 MB/s (2.48) for zlib level 9, the
 * Python tool's default */
#define HEAP_GZ_LEVEL 1

struct heap_gz_enc;

/* Where encoded bytes go: 0 or -errno (message in eb). */
typedef int (*heap_gz_sink_fn)(void *arg, const void *buf, size_t len,
			       struct errbuf *eb);

/* A new encoder of one gzip member; output passes through sink(arg) in
 * chunks of at most 256 KiB. 0 or -ENOMEM. One thread at a time. */
int heap_gz_enc_new(heap_gz_sink_fn sink, void *arg,
		    struct heap_gz_enc **out, struct errbuf *eb);
/* Compress len more bytes. 0 or -errno (the sink's, or -EIO). */
int heap_gz_enc_write(struct heap_gz_enc *z, const void *buf, size_t len,
		      struct errbuf *eb);
/* Flush the rest and the gzip trailer. 0 or -errno. */
int heap_gz_enc_finish(struct heap_gz_enc *z, struct errbuf *eb);
/* NULL-safe. */
void heap_gz_enc_free(struct heap_gz_enc *z);

/* Decode the gzip data read from src (from its current offset to its
 * end; several concatenated members are one content) into dst at its
 * current offset, writing at most max_out bytes. *out_len (may be NULL)
 * gets the bytes written. Returns 0, -EBADMSG (corrupt: bad header,
 * CRC or length mismatch, truncated, trailing bytes that are not a
 * member), -EFBIG (more than max_out), or -errno of a read or write. The
 * reason, without the object's name, goes to why ("corrupt gzip data:
 * CRC mismatch"). */
int heap_gz_decode_fd(int src, int dst, uint64_t max_out, uint64_t *out_len,
		      char *why, size_t why_len);

#endif
