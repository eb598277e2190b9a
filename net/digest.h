/* digest: the checksums and encodings the object-store protocols need:
 * MD5 (Content-MD5), SHA-256 (x-amz-content-sha256), HMAC-SHA256 (Azure
 * Shared Key), base64 and hex. OpenSSL EVP underneath; failures -EIO. */
#ifndef SNAP_DIGEST_H
#define SNAP_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "body.h"

/* MD5 of the whole body of s, read in chunks with body_src_pread. */
int digest_md5_src(const struct body_src *s, uint8_t out[16]);
int digest_md5(const void *data, size_t n, uint8_t out[16]);
int digest_sha256(const void *data, size_t n, uint8_t out[32]);
int digest_hmac_sha256(const void *key, size_t key_len, const void *data,
		       size_t n, uint8_t out[32]);

/* Encoders write a NUL-terminated string; out must hold
 * 4 * ((n + 2) / 3) + 1 (base64) or 2 * n + 1 (hex) bytes. */
void digest_base64(const uint8_t *in, size_t n, char *out);
void digest_hex(const uint8_t *in, size_t n, char *out);

/* Decode base64 (padding required when the length is not a multiple of
 * 4); returns the byte count or -EINVAL (bad input or over cap). */
int digest_unbase64(const char *in, size_t n, uint8_t *out, size_t cap);
/* Decode exactly 2*n hex digits; returns 0 or -EINVAL. */
int digest_unhex(const char *in, size_t n_bytes, uint8_t *out);

#endif
