/* pysnap_json: one line of a Python-format snapshot (a JSON object as
 * json.dumps writes it) parsed strictly into a struct pysnap_rec, the
 * fields pysnap_reader maps to an entry. Unknown keys are skipped with a
 * nesting bound; strings are decoded into a caller-owned scratch buffer,
 * so parsing allocates nothing. */
#ifndef SNAP_PYSNAP_JSON_H
#define SNAP_PYSNAP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"

/* Deepest nesting of the values a record may hold. */
#define PYSNAP_JSON_DEPTH_MAX 32

/* A decoded string: bytes in the scratch buffer, not NUL-terminated. */
struct pysnap_str {
	const char *s;
	size_t len;
};

/* The fields of a record that mean something to the reader; has_* says
 * whether the key was there (and, for the nullable ones, not null). */
struct pysnap_rec {
	struct pysnap_str name, md5, type, etag, content_md5, lastmod;
	bool has_name, has_md5, has_size, has_mtime, has_mode, has_created;
	bool has_ino, has_type, has_etag, has_content_md5, has_lastmod;
	bool etag_s3;             /* the etag came as "ETag" (S3) */
	uint64_t size, ino;
	int64_t mode;
	double mtime, created;
};

/* Parse len bytes of line as one JSON object into *rec. Decoded strings
 * go to scratch, which must hold len bytes (a decoded string is never
 * longer than its JSON); rec's strings point there, valid until scratch
 * is reused. Returns 0, or -EBADMSG with the reason in eb ("'size' is not
 * a non-negative integer"), which the caller prefixes with the file and
 * line. Types are checked here; values (md5 digits, names) by the caller. */
int pysnap_rec_parse(const char *line, size_t len, char *scratch,
		     struct pysnap_rec *rec, struct errbuf *eb);

#endif
