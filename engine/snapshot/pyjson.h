/* pyjson: the two pieces of Python's json.dumps that the Python-format
 * snapshot (pysnap_writer.h) must reproduce byte for byte: float.__repr__
 * and string escaping with ensure_ascii. */
#ifndef SNAP_PYJSON_H
#define SNAP_PYJSON_H

#include <stddef.h>

/* Longest output of pyjson_float_repr, with its NUL: "-" + 17 digits +
 * "." + "e-308" and some margin. */
#define PYJSON_FLOAT_MAX 32

/* Write x as Python's repr(float) and json.dumps write it: the shortest
 * digit string that reads back as x, in fixed notation when
 * 1e-4 <= |x| < 1e16 (with ".0" when integral), else "d.ddde+XX"
 * (exponent sign always, at least two digits); NaN and infinities as
 * json.dumps writes them ("NaN", "Infinity", "-Infinity"). out must hold
 * PYJSON_FLOAT_MAX bytes. Returns the length. */
size_t pyjson_float_repr(double x, char *out);

/* Escape len bytes of s as json.dumps(ensure_ascii=True) writes a str
 * that Python decoded from these bytes with surrogateescape: '"', '\\',
 * \n \r \t \b \f as two characters, other bytes outside ' '..'~' of valid
 * UTF-8 as \uXXXX (lowercase hex, UTF-16 surrogate pairs above U+FFFF),
 * each byte that is not part of valid UTF-8 as \udcXX. No quotes are
 * added. Writes at most 12 * len bytes to out; returns the length. */
size_t pyjson_escape(const char *s, size_t len, char *out);

/* Bound of pyjson_escape's output for len input bytes. */
#define PYJSON_ESCAPE_MAX(len) (12 * (size_t)(len))

#endif
