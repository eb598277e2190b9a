/* sparse: write only the non-zero blocks of a buffer. */
#include "sparse.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "banned.h"

bool sparse_is_zero(const void *p, size_t len)
{
	const unsigned char *b = p;

	/* first byte zero and every byte equal to the one before it */
	return !len || (!b[0] && !memcmp(b, b + 1, len - 1));
}

int sparse_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;
	size_t i = 0;
	int ret;

	while (i < len) {
		size_t start, blk;

		/* skip a run of zero blocks */
		blk = len - i < SPARSE_BLOCK ? len - i : SPARSE_BLOCK;
		if (sparse_is_zero(p + i, blk)) {
			i += blk;
			continue;
		}
		/* then write the run of non-zero blocks in one call */
		start = i;
		while (i < len) {
			blk = len - i < SPARSE_BLOCK ? len - i : SPARSE_BLOCK;
			if (sparse_is_zero(p + i, blk))
				break;
			i += blk;
		}
		ret = fdio_pwrite_full(fd, p + start, i - start, off + start);
		if (ret < 0)
			return ret;
	}
	return 0;
}
