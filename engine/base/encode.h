/* encode: hex and base64 (RFC 4648, with padding), the text forms of
 * digests: heap object names and the Python tool's md5s in hex, the
 * object stores' Content-MD5 and Azure's keys and block ids in base64. */
#ifndef SNAP_ENCODE_H
#define SNAP_ENCODE_H

#include <stddef.h>
#include <stdint.h>

/* Encoders write a NUL-terminated string; out must hold
 * 4 * ((n + 2) / 3) + 1 (base64) or 2 * n + 1 (hex) bytes. */
void encode_base64(const uint8_t *in, size_t n, char *out);
void encode_hex(const uint8_t *in, size_t n, char *out);

/* Decode base64 (padding required when the length is not a multiple of
 * 4); returns the byte count or -EINVAL (bad input or over cap). */
int decode_base64(const char *in, size_t n, uint8_t *out, size_t cap);
/* Decode exactly 2*n hex digits (either case); returns 0 or -EINVAL. */
int decode_hex(const char *in, size_t n_bytes, uint8_t *out);
/* The four hex digits of a JSON "\uXXXX" escape (either case) as the
 * value 0..0xffff; returns 0 or -EINVAL. */
int decode_hex_u16(const char *in, unsigned *v);

#endif
