/* pysnap_writer: the last stage of make-snapshot when the snapshot is
 * written in the Python snapshooter's format: entries in entry_cmp order
 * -> one JSON object per file (json.dumps(record, sort_keys=True)) ->
 * lines joined by "\n" -> gzip (zlib level 9, as Python) -> a byte sink.
 * Same shape as snapshot_writer.h. */
#ifndef SNAP_PYSNAP_WRITER_H
#define SNAP_PYSNAP_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "entry.h"
#include "errbuf.h"

struct pysnap_writer;

/* Size of the writer's compressed output buffer: the sink sees writes of
 * at most this many bytes. */
#define PYSNAP_WRITER_BUF (256 * 1024)

/* store_tree false: a local tree; every file gets the fields of the
 * Python tool's local records: created (ctime), gid, ino, islink, md5,
 * mode (full st_mode), mtime, name, nlink, size, type, uid. store_tree
 * true (FILE_ROOT on s3:// or az://): etag (when known), md5, mtime,
 * name, size, type only; the store-specific fields the Python tool copies
 * from the store's listing are not reproduced. write(ctx, buf, len) must
 * consume all len bytes and return 0 or -errno. 0 or -errno (-ENOMEM,
 * -EIO zlib). */
int pysnap_writer_new(int (*write)(void *ctx, const void *buf, size_t len),
		      void *ctx, bool store_tree, struct pysnap_writer **out,
		      struct errbuf *eb);

/* Append one entry (borrowed). Directories and symlinks cannot be
 * represented in this format: they are skipped and counted (0 returned).
 * Rejects with -EINVAL a file not strictly after the previous one in name
 * byte order, a bad name or a file without md5. Sink errors are returned
 * as is; the first error is sticky. */
int pysnap_writer_add(struct pysnap_writer *w, const struct entry *e,
		      struct errbuf *eb);

/* End the gzip stream and flush everything to the sink (no sync, no
 * close). 0 or the sticky error. No add after finish. */
int pysnap_writer_finish(struct pysnap_writer *w, struct errbuf *eb);

/* Files written so far. */
uint64_t pysnap_writer_count(const struct pysnap_writer *w);
/* Entries skipped so far: directories, those of them that were empty
 * (nothing under them was added: lost entirely, not only their mode and
 * mtime; final after finish) and symlinks. */
void pysnap_writer_skipped(const struct pysnap_writer *w, uint64_t *dirs,
			   uint64_t *empty_dirs, uint64_t *symlinks);

/* NULL-safe. Does not call the sink. */
void pysnap_writer_free(struct pysnap_writer *w);

#endif
