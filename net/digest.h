/* digest: the checksums and encodings the object-store protocols need:
 * MD5 (Content-MD5), SHA-256 (x-amz-content-sha256), HMAC-SHA256 (Azure
 * Shared Key); their hex and base64 forms are in encode.h. OpenSSL EVP
 * underneath; failures -EIO. */
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

#endif
