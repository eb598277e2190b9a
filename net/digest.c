/* digest: MD5/SHA-256/HMAC through EVP one-shot and streaming calls. */
#include "digest.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "banned.h"

#define DIGEST_CHUNK (256 * 1024)

/* Fetched once: OpenSSL 3 looks an implicitly named digest (EVP_md5(),
 * EVP_Q_digest) up under a lock on every use. NULL if the fetch
 * failed: the calls then fail with -EIO. */
static EVP_MD *md5_md, *sha256_md;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_digests(void)
{
	md5_md = EVP_MD_fetch(NULL, "MD5", NULL);
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static int one_shot(EVP_MD *const *md, const void *data, size_t n,
		    uint8_t *out)
{
	pthread_once(&fetch_once, fetch_digests);
	return *md && EVP_Digest(data, n, out, NULL, *md, NULL) ? 0 : -EIO;
}

int digest_md5_src(const struct body_src *s, uint8_t out[16])
{
	EVP_MD_CTX *ctx;
	unsigned char *buf;
	uint64_t pos = 0;
	ssize_t r;
	int err = -EIO;

	/* in memory: hashed where it is, not copied through a buffer */
	if (s->kind == BODY_SRC_MEM)
		return digest_md5((const char *)s->mem + s->off,
				  (size_t)s->len, out);
	buf = malloc(DIGEST_CHUNK);
	ctx = EVP_MD_CTX_new();
	if (!buf || !ctx) {
		err = -ENOMEM;
		goto out;
	}
	pthread_once(&fetch_once, fetch_digests);
	if (!md5_md || !EVP_DigestInit_ex2(ctx, md5_md, NULL))
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

EVP_MD_CTX *digest_md5_begin(void)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	pthread_once(&fetch_once, fetch_digests);
	if (ctx && (!md5_md || !EVP_DigestInit_ex2(ctx, md5_md, NULL))) {
		EVP_MD_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

int digest_md5_add_fd(EVP_MD_CTX *ctx, int fd, uint64_t off, uint64_t len)
{
	unsigned char *buf = malloc(DIGEST_CHUNK);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	while (!err && len) {
		size_t want = len < DIGEST_CHUNK ? (size_t)len : DIGEST_CHUNK;
		ssize_t r = pread(fd, buf, want, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			err = r < 0 ? -errno : -EIO;
		else if (!EVP_DigestUpdate(ctx, buf, (size_t)r))
			err = -EIO;
		else {
			off += (uint64_t)r;
			len -= (uint64_t)r;
		}
	}
	free(buf);
	return err;
}

int digest_md5_end(EVP_MD_CTX *ctx, uint8_t out[16])
{
	int err;

	if (!ctx)
		return 0;
	err = EVP_DigestFinal_ex(ctx, out, NULL) ? 0 : -EIO;
	EVP_MD_CTX_free(ctx);
	return err;
}

int digest_md5(const void *data, size_t n, uint8_t out[16])
{
	return one_shot(&md5_md, data, n, out);
}

int digest_sha256(const void *data, size_t n, uint8_t out[32])
{
	return one_shot(&sha256_md, data, n, out);
}

const EVP_MD *digest_sha256_md(void)
{
	pthread_once(&fetch_once, fetch_digests);
	return sha256_md;
}

/* SHA-256 of a then b into out. */
static bool sha256_two(EVP_MD_CTX *ctx, const void *a, size_t an,
		       const void *b, size_t bn, uint8_t out[32])
{
	const EVP_MD *md = digest_sha256_md();

	return md && EVP_DigestInit_ex2(ctx, md, NULL) &&
	       EVP_DigestUpdate(ctx, a, an) && EVP_DigestUpdate(ctx, b, bn) &&
	       EVP_DigestFinal_ex(ctx, out, NULL);
}

/* RFC 2104 over the fetched SHA-256 (EVP_Q_mac fetches HMAC and SHA-256
 * anew on every call). The key's traces (the pads hold it, the first of
 * SigV4's chain is the secret) are cleansed. */
int digest_hmac_sha256(const void *key, size_t key_len, const void *data,
		       size_t n, uint8_t out[32])
{
	uint8_t pad[64], inner[32], hashed[32];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx != NULL;
	size_t i;

	if (ok && key_len > sizeof(pad)) {
		ok = sha256_two(ctx, key, key_len, "", 0, hashed);
		key = hashed;
		key_len = sizeof(hashed);
	}
	if (ok) {
		memset(pad, 0, sizeof(pad));
		memcpy(pad, key, key_len);
		for (i = 0; i < sizeof(pad); i++)
			pad[i] ^= 0x36;
		ok = sha256_two(ctx, pad, sizeof(pad), data, n, inner);
		for (i = 0; i < sizeof(pad); i++)
			pad[i] ^= 0x36 ^ 0x5c;
		ok = ok && sha256_two(ctx, pad, sizeof(pad), inner,
				      sizeof(inner), out);
	}
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(inner, sizeof(inner));
	OPENSSL_cleanse(hashed, sizeof(hashed));
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -EIO;
}
