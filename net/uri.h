/* uri: percent-encoding of object keys and canonical query strings. Both
 * S3 SigV4 (curl signs the query as written) and Azure need the query in
 * canonical form: parameters sorted by name, values encoded with
 * uppercase hex, '/' encoded, empty values written as "name=". */
#ifndef SNAP_URI_H
#define SNAP_URI_H

#include <stdbool.h>
#include <stddef.h>

/* Append the RFC 3986 encoding of s[0..n) to out (cap bytes, current
 * length *len): unreserved A-Z a-z 0-9 - . _ ~ stay, '/' stays when
 * keep_slash, everything else becomes %XX. Returns 0 or -ENAMETOOLONG. */
int uri_encode(const char *s, size_t n, bool keep_slash, char *out,
	       size_t cap, size_t *len);

#define URI_QUERY_MAX 8

/* name=value pairs; values are not encoded (borrowed pointers) */
struct uri_query {
	size_t n;
	const char *name[URI_QUERY_MAX];
	const char *value[URI_QUERY_MAX];
};

void uri_query_add(struct uri_query *q, const char *name, const char *value);

/* Sort by name (byte order). */
void uri_query_sort(struct uri_query *q);

/* Append "?a=1&b=x%2Fy" (nothing when empty) to out. Sorts q first.
 * Returns 0 or -ENAMETOOLONG. */
int uri_query_append(struct uri_query *q, char *out, size_t cap, size_t *len);

/* Append the NUL-terminated string s (no encoding). */
int uri_append(const char *s, char *out, size_t cap, size_t *len);

#endif
