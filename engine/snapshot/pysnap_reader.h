/* pysnap_reader: the Python snapshooter's snapshots (gzip of JSON lines,
 * one object per file, sorted by name) as a stream of validated entries
 * in entry_cmp order, with the parent directories the format leaves out
 * synthesized (type ENTRY_DIR, no_meta). snapshot_reader dispatches here
 * when a file starts with the gzip magic; callers use snapshot_reader.h.
 *
 * Input is hostile: streamed inflate (64 KiB in, 64 KiB out), one line
 * buffer of at most PYSNAP_LINE_MAX bytes, a strict JSON subset parser
 * with a nesting bound, gzip CRC and length checked by zlib for every
 * member, truncation and trailing garbage refused. */
#ifndef SNAP_PYSNAP_READER_H
#define SNAP_PYSNAP_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "entry.h"
#include "errbuf.h"
#include "snapshot.h"

#define PYSNAP_LINE_MAX (1024 * 1024)
#define PYSNAP_TOOL "snapshooter (Python)"

struct pysnap_reader;

/* Does the data start with the gzip magic (1f 8b)? */
bool pysnap_is_gzip(const uint8_t *p, size_t len);

/* Start reading: prefix (prefix_len bytes, may be 0) was already read
 * from the stream, the rest comes from read(ctx, ...). display_name names
 * the input in messages; its base name, when a snapshot name
 * (snapstore_parse_name), gives the header's created_ns (else 0). Returns
 * 0 with *out or -ENOMEM. Reading errors come from pysnap_reader_next. */
int pysnap_reader_new(ssize_t (*read)(void *ctx, void *buf, size_t len),
		      void *ctx, const uint8_t *prefix, size_t prefix_len,
		      const char *display_name, struct pysnap_reader **out,
		      struct errbuf *eb);

const struct snapshot_header *
pysnap_reader_header(const struct pysnap_reader *r);

/* As snapshot_reader_next: 1 with an entry (deep copies), 0 at the end of
 * a complete, valid file, -EBADMSG ("corrupt snapshot 'x': line 12: md5
 * is not 32 hex digits"), -ENOMEM or the read error; errors are sticky.
 * Files must be strictly ascending in byte order of their names. */
int pysnap_reader_next(struct pysnap_reader *r, struct entry *out,
		       struct errbuf *eb);

/* Entries returned so far (files and synthesized directories). */
uint64_t pysnap_reader_count(const struct pysnap_reader *r);

void pysnap_reader_free(struct pysnap_reader *r);

/* The Python tool's float seconds -> ns: integer seconds (floor) plus
 * llround(fraction * 1e9). Returns 0 or -ERANGE (not finite, outside the
 * int64 ns range). */
int pysnap_float_to_ns(double sec, int64_t *ns);

/* Would the Python tool take an mtime of scanned_ns (what stat gave this
 * scan) as equal to the mtime it recorded (recorded_ns, converted by
 * pysnap_float_to_ns)? It compares floats: CPython's st_mtime is
 * (double)tv_sec + tv_nsec * 1e-9. Also true when the ns are equal (a
 * tree restored from the snapshot). */
bool pysnap_mtime_matches(int64_t recorded_ns, int64_t scanned_ns);

#endif
