/* hasher: EVP MD5 wrapper; OpenSSL errors are translated here, once. */
#include "hasher.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "fdio.h"
#include "banned.h"

struct hasher {
	EVP_MD *md;
	EVP_MD_CTX *ctx;
};

static int ssl_error(struct errbuf *eb, const char *what)
{
	char buf[256];

	ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
	return errbuf_set(eb, -EIO, "%s: %s", what, buf);
}

int hasher_new(struct hasher **out, struct errbuf *eb)
{
	struct hasher *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	h->md = EVP_MD_fetch(NULL, "MD5", NULL);
	if (!h->md) {
		free(h);
		return ssl_error(eb, "MD5 is not available from OpenSSL "
				 "(FIPS mode?)");
	}
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx) {
		EVP_MD_free(h->md);
		free(h);
		return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	*out = h;
	return 0;
}

void hasher_free(struct hasher *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
	free(h);
}

int hasher_begin(struct hasher *h, struct errbuf *eb)
{
	if (!EVP_DigestInit_ex2(h->ctx, h->md, NULL))
		return ssl_error(eb, "MD5 init failed");
	return 0;
}

int hasher_update(struct hasher *h, const void *buf, size_t len,
		  struct errbuf *eb)
{
	if (len && !EVP_DigestUpdate(h->ctx, buf, len))
		return ssl_error(eb, "MD5 update failed");
	return 0;
}

int hasher_final(struct hasher *h, struct objid *out, struct errbuf *eb)
{
	unsigned int n = 0;

	if (!EVP_DigestFinal_ex(h->ctx, out->b, &n) || n != OBJID_LEN)
		return ssl_error(eb, "MD5 final failed");
	return 0;
}

int hasher_digest(struct hasher *h, const void *buf, size_t len,
		  struct objid *out, struct errbuf *eb)
{
	int ret = hasher_begin(h, eb);

	if (!ret)
		ret = hasher_update(h, buf, len, eb);
	if (!ret)
		ret = hasher_final(h, out, eb);
	return ret;
}

int hasher_fd(struct hasher *h, int fd, const char *name, void *buf,
	      size_t cap, struct objid *out, uint64_t *bytes,
	      struct errbuf *eb)
{
	uint64_t off = 0;
	int ret = hasher_begin(h, eb);

	while (!ret) {
		ssize_t n = fdio_pread(fd, buf, cap, off);

		if (n < 0) {
			ret = errbuf_set(eb, (int)n, "cannot read '%s' for its "
					 "MD5: %s", name, strerror((int)-n));
			break;
		}
		if (n == 0)
			break;
		off += (uint64_t)n;
		ret = hasher_update(h, buf, (size_t)n, eb);
	}
	if (!ret)
		ret = hasher_final(h, out, eb);
	if (bytes)
		*bytes = off;
	return ret;
}
