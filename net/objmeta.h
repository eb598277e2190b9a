/* objmeta: the user-metadata conventions of objects, shared with rclone
 * so that either tool reads what the other wrote:
 *
 *   key        S3 (x-amz-meta-...)          Azure (x-ms-meta-...)
 *   mtime      "1796393283.649778886"       "2026-12-05T12:00:00.649778886Z"
 *              decimal seconds, up to 9     RFC 3339 UTC, always 9
 *              fraction digits, trailing    fraction digits
 *              zeros and "." dropped
 *   md5chksum  base64 of the 16-byte MD5    (not used: Azure keeps the
 *              (multipart uploads, whose    MD5 as Content-MD5, also
 *              ETag is no MD5)              for block-list blobs)
 *
 * Reading also takes what this tool wrote before: mtime as integer
 * nanoseconds ("1796393283649778886") and md5 as hex ("md5" key). Values
 * come from the server: parsers are bounded and reject anything odd. */
#ifndef SNAP_OBJMETA_H
#define SNAP_OBJMETA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* room for any formatted mtime, NUL included */
#define OBJMETA_MTIME_MAX 96  /* gcc sizes the fields by type */
/* longest stored mtime value accepted */
#define OBJMETA_MTIME_IN_MAX 64

/* ns since the epoch as S3 "mtime" metadata (rclone's form). */
void objmeta_mtime_s3(int64_t ns, char out[OBJMETA_MTIME_MAX]);

/* ns since the epoch as Azure "mtime" metadata (rclone's form). */
void objmeta_mtime_az(int64_t ns, char out[OBJMETA_MTIME_MAX]);

/* Parse a stored mtime value of len bytes in any of the three forms:
 * RFC 3339 (a 'T' or ' ' separates date and time; offset Z or +hh:mm;
 * years 1678-2261), seconds with a fraction ("123.5"), or an integer: an
 * integer of at most 11 digits counts as seconds (rclone drops ".000..."),
 * a longer one as nanoseconds (this tool's old form; seconds that long
 * would be past the year 5000). true and *ns, or false (ns untouched). */
bool objmeta_mtime_parse(const char *s, size_t len, int64_t *ns);

#endif
