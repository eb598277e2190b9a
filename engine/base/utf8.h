/* utf8: where names are shown (error messages, --json), bytes that are
 * valid UTF-8 are written as they are and anything else is escaped. One
 * rule for both, strict as RFC 3629 says. */
#ifndef SNAP_UTF8_H
#define SNAP_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1..4) of the valid UTF-8 sequence at s, of which avail bytes
 * may be read (at least 1), or 0 when it is not one: a stray
 * continuation byte, a sequence cut short, an overlong form, a UTF-16
 * surrogate (U+D800..U+DFFF) or a value past U+10FFFF. */
size_t utf8_seq_len(const unsigned char *s, size_t avail);

/* Is the NUL-terminated s valid UTF-8 throughout (utf8_seq_len's rule)? */
bool utf8_valid(const char *s);

/* Write the code point cp (at most U+10FFFF; the JSON parsers have
 * joined surrogate pairs and refused lone ones before) as 1..4 bytes of
 * UTF-8 at out; returns how many. */
size_t utf8_encode(unsigned cp, char *out);

#endif
