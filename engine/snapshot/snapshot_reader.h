/* snapshot_reader: the first stage of restore, diff and ls: a snapshot
 * byte stream -> validated entries in entry_cmp order. Input is hostile:
 * memory is bounded (one 64 KiB frame, ~1.5 MiB decode), every frame is
 * prescanned (snapshot_check.h), every entry is validated and the file
 * must end with a trailer whose count and MD5 match. */
#ifndef SNAP_SNAPSHOT_READER_H
#define SNAP_SNAPSHOT_READER_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "entry.h"
#include "errbuf.h"
#include "snapshot.h"

struct snapshot_reader;

/* Start reading: reads and validates the magic and the header record.
 * read(ctx, buf, len) returns bytes read (> 0), 0 at the end of the data
 * or -errno; short reads are fine. display_name (may be NULL) names the
 * input in messages ("corrupt snapshot 'x': ..."). Returns 0 with *out
 * set, -EBADMSG (not a snapshot or corrupt header), -ENOTSUP (newer
 * format version), -ENOMEM, -EIO (crypto) or the read error. */
int snapshot_reader_new(ssize_t (*read)(void *ctx, void *buf, size_t len),
			void *ctx, const char *display_name,
			struct snapshot_reader **out, struct errbuf *eb);

/* Same on a file; the reader owns (and closes) the descriptor. Open
 * errors: "cannot open snapshot 'path': No such file or directory". */
int snapshot_reader_open_file(const char *path, struct snapshot_reader **out,
			      struct errbuf *eb);

/* Leave the owner names (keys 13/14) out of the entries returned (the
 * numbers stay): a reader that only merges md5s saves two allocations
 * per entry. Default: names kept. */
void snapshot_reader_skip_owner_names(struct snapshot_reader *r);

/* The header record; valid until snapshot_reader_free. */
const struct snapshot_header *
snapshot_reader_header(const struct snapshot_reader *r);

/* Next entry. *out is overwritten (pass ENTRY_INIT or a released entry);
 * on 1 it holds deep copies the caller frees with entry_release. Returns
 * 1 with an entry; 0 at the end once the trailer matched (count and MD5)
 * and nothing follows it (again 0 on later calls); -EBADMSG on corrupt or
 * truncated input ("corrupt snapshot 'x': entry 12 at byte 4242: '..'
 * path component escapes the root"); -ENOMEM or the read error. Errors
 * are sticky. An entry equal (entry_cmp) to its predecessor is returned
 * (the caller decides about duplicates); a smaller one is corrupt.
 * Note the MD5 is only checked at the trailer: entries returned before a
 * failure were well-formed but the file as a whole is not trusted. */
int snapshot_reader_next(struct snapshot_reader *r, struct entry *out,
			 struct errbuf *eb);

/* Does err (from opening or reading a snapshot) say the snapshot itself
 * is bad (-EBADMSG: corrupt or truncated; -ENOTSUP: a format version
 * this reader refuses), rather than that it could not be read (the
 * disk, the store, memory)? The first is damage (verify reports it,
 * forget sets the snapshot aside); the second means nothing can be
 * told. */
static inline bool snapshot_err_is_damage(int err)
{
	return err == -EBADMSG || err == -ENOTSUP;
}

/* snapshot_reader_next with a void * self, for struct entry_stream
 * (diff.h): { snapshot_reader_stream_next, reader }. */
int snapshot_reader_stream_next(void *reader, struct entry *out,
				struct errbuf *eb);

/* Entries returned so far. */
uint64_t snapshot_reader_count(const struct snapshot_reader *r);

/* NULL-safe; closes the file of snapshot_reader_open_file. */
void snapshot_reader_free(struct snapshot_reader *r);

#endif
