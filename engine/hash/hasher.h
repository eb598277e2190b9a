/* hasher: MD5 through OpenSSL EVP, one per worker thread (the EVP_MD is
 * fetched once per hasher, the context reset per file). */
#ifndef SNAP_HASHER_H
#define SNAP_HASHER_H

#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"
#include "objid.h"

struct hasher;

/* Fails with a clear message when MD5 is unavailable (FIPS provider). */
int hasher_new(struct hasher **out, struct errbuf *eb);
void hasher_free(struct hasher *h);
int hasher_begin(struct hasher *h, struct errbuf *eb);
int hasher_update(struct hasher *h, const void *buf, size_t len,
		  struct errbuf *eb);
int hasher_final(struct hasher *h, struct objid *out, struct errbuf *eb);
/* One-shot digest of a buffer. */
int hasher_digest(struct hasher *h, const void *buf, size_t len,
		  struct objid *out, struct errbuf *eb);
/* Digest of fd's bytes from offset 0 to its end (pread: its position is
 * not moved), through buf (cap bytes); *bytes (may be NULL) the count.
 * 0, or -errno with eb set (a read's error names the file as name). */
int hasher_fd(struct hasher *h, int fd, const char *name, void *buf,
	      size_t cap, struct objid *out, uint64_t *bytes,
	      struct errbuf *eb);

#endif
