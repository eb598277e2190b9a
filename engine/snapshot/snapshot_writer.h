/* snapshot_writer: the last stage of make-snapshot: entries in entry_cmp
 * order -> msgpack records -> length-prefixed frames -> a byte sink (a
 * snapstore transaction, a pipe, memory). Layout: snapshot_format.h. */
#ifndef SNAP_SNAPSHOT_WRITER_H
#define SNAP_SNAPSHOT_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "entry.h"
#include "errbuf.h"
#include "snapshot.h"

struct snapshot_writer;

/* Size of the writer's output buffer: the sink sees writes of at most
 * this many bytes (and one final partial write). */
#define SNAPSHOT_WRITER_BUF (256 * 1024)

/* Start a snapshot: writes the magic and the header record (h->version
 * must be 0 or SNAPSHOT_VERSION; h->tool is ignored, SNAPSHOT_TOOL is
 * recorded). write(ctx, buf, len) must consume all len bytes and return 0
 * or -errno; it is called from the writer's calls only. Returns 0 with
 * *out set, or -errno (-EINVAL bad arguments, -ENOMEM, -EIO crypto). */
int snapshot_writer_new(int (*write)(void *ctx, const void *buf, size_t len),
			void *ctx, const struct snapshot_header *h,
			struct snapshot_writer **out, struct errbuf *eb);

/* Append one entry (borrowed; copied into the output). Rejects with
 * -EINVAL an entry that is not strictly after the previous one in
 * entry_cmp order, a bad name (entry_name_check), an unknown type, a file
 * without md5, a symlink without a valid target or an over-long etag;
 * mode is masked to SNAPSHOT_MODE_MASK. Sink errors are returned as is.
 * The first error is sticky: every later call returns it. */
int snapshot_writer_add(struct snapshot_writer *w, const struct entry *e,
			struct errbuf *eb);

/* Write the trailer (count + MD5 of everything before it) and flush all
 * buffered bytes to the sink. Does not sync or close anything. Returns 0
 * or the (sticky) error. No add after finish. */
int snapshot_writer_finish(struct snapshot_writer *w, struct errbuf *eb);

/* Entries added so far. */
uint64_t snapshot_writer_count(const struct snapshot_writer *w);

/* NULL-safe. Does not call the sink. */
void snapshot_writer_free(struct snapshot_writer *w);

#endif
