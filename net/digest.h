/* digest: the checksums and encodings the object-store protocols need:
 * MD5 (Content-MD5), SHA-256 (x-amz-content-sha256), HMAC-SHA256 (Azure
 * Shared Key, SigV4); their hex and base64 forms are in encode.h. OpenSSL
 * EVP underneath, each digest fetched once; failures -EIO. */
#ifndef SNAP_DIGEST_H
#define SNAP_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "body.h"

/* MD5 of the whole body of s, read in chunks with body_src_pread. */
int digest_md5_src(const struct body_src *s, uint8_t out[16]);
int digest_md5(const void *data, size_t n, uint8_t out[16]);
/* An MD5 fed piece by piece (a download hashed in order as its ranges
 * land): NULL when out of memory or OpenSSL has no MD5. */
EVP_MD_CTX *digest_md5_begin(void);
/* Add len bytes of fd from off (pread, 256 KiB at a time).
 * 0, -EIO (a short file, OpenSSL), or the read's -errno. */
int digest_md5_add_fd(EVP_MD_CTX *ctx, int fd, uint64_t off, uint64_t len);
/* The digest into out, ctx freed (NULL: nothing). 0 or -EIO. */
int digest_md5_end(EVP_MD_CTX *ctx, uint8_t out[16]);
int digest_sha256(const void *data, size_t n, uint8_t out[32]);
/* HMAC-SHA256 (Azure Shared Key, SigV4's signing chain). */
int digest_hmac_sha256(const void *key, size_t key_len, const void *data,
		       size_t n, uint8_t out[32]);
/* SHA-256 fetched once, for a caller that streams its input (SigV4's
 * canonical request); NULL when OpenSSL has none. */
const EVP_MD *digest_sha256_md(void);

#endif
