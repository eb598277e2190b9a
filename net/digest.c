/* digest: MD5/SHA-256/HMAC through EVP one-shot and streaming calls. */
#include "digest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "banned.h"

#define DIGEST_CHUNK (256 * 1024)

int digest_md5_src(const struct body_src *s, uint8_t out[16])
{
	EVP_MD_CTX *ctx;
	unsigned char *buf;
	uint64_t pos = 0;
	ssize_t r;
	int err = -EIO;

	buf = malloc(DIGEST_CHUNK);
	ctx = EVP_MD_CTX_new();
	if (!buf || !ctx) {
		err = -ENOMEM;
		goto out;
	}
	if (!EVP_DigestInit_ex2(ctx, EVP_md5(), NULL))
		goto out;
	while (pos < s->len) {
		r = body_src_pread(s, buf, DIGEST_CHUNK, pos);
		if (r <= 0) {
			err = r < 0 ? (int)r : -EIO;
			goto out;
		}
		if (!EVP_DigestUpdate(ctx, buf, (size_t)r))
			goto out;
		pos += (uint64_t)r;
	}
	if (EVP_DigestFinal_ex(ctx, out, NULL))
		err = 0;
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return err;
}

int digest_md5(const void *data, size_t n, uint8_t out[16])
{
	return EVP_Q_digest(NULL, "MD5", NULL, data, n, out, NULL) ? 0 : -EIO;
}

int digest_sha256(const void *data, size_t n, uint8_t out[32])
{
	return EVP_Q_digest(NULL, "SHA256", NULL, data, n, out, NULL) ?
	       0 : -EIO;
}

int digest_hmac_sha256(const void *key, size_t key_len, const void *data,
		       size_t n, uint8_t out[32])
{
	size_t len = 0;

	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_len,
		       data, n, out, 32, &len) || len != 32)
		return -EIO;
	return 0;
}
