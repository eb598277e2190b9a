/* jsonw: the few JSON writing helpers of the CLI's --json output (one
 * object per line). File names are bytes, not text: valid UTF-8 passes
 * through, every byte of an invalid sequence becomes the escape \udcXX
 * (XX = the byte), Python's "surrogateescape" (PEP 383), so
 * json.loads(line)["name"].encode("utf-8", "surrogateescape") gives back
 * the exact bytes of the name. */
#ifndef SNAP_JSONW_H
#define SNAP_JSONW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Write s (len bytes) as a quoted JSON string. Control characters, '"'
 * and '\\' are escaped; see above for invalid UTF-8. */
void jsonw_string(FILE *out, const char *s, size_t len);

/* Write a further member of an object: ,"key":v (key is not escaped). */
void jsonw_u64_member(FILE *out, const char *key, uint64_t v);

#endif
