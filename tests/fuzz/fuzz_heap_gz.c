/* fuzz_heap_gz: arbitrary bytes as a gzip heap object: the decoder must
 * not crash, must answer 0, -EBADMSG (with a reason) or -EFBIG (beyond
 * its bound, never writing more), and what it accepts must survive a
 * round trip through the encoder. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "errbuf.h"
#include "heap_gz.h"

#include "banned.h"

#define OUT_MAX ((uint64_t)4 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int mem_fd(const void *buf, size_t len)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if (len && write(fd, buf, len) != (ssize_t)len)
		abort();
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

static int fd_sink(void *arg, const void *buf, size_t len,
		   struct errbuf *eb)
{
	(void)eb;
	return write(*(int *)arg, buf, len) == (ssize_t)len ? 0 : -EIO;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errbuf eb = ERRBUF_INIT;
	struct heap_gz_enc *z = NULL;
	int src = mem_fd(data, size), dst = mem_fd(NULL, 0), re, back;
	char why[256] = "", why2[256] = "";
	uint64_t n = 0, n2 = 0;
	char *out;
	int ret;

	ret = heap_gz_decode_fd(src, dst, OUT_MAX, &n, why, sizeof(why));
	if (ret != 0 && ret != -EBADMSG && ret != -EFBIG)
		abort();
	if (n > OUT_MAX || (ret && !why[0]))
		abort();
	if (ret) {
		close(src);
		close(dst);
		return 0;
	}
	/* accepted: encode the output again and decode that */
	out = malloc(n ? n : 1);
	if (!out || pread(dst, out, n, 0) != (ssize_t)n)
		abort();
	re = mem_fd(NULL, 0);
	if (heap_gz_enc_new(fd_sink, &re, &z, &eb) ||
	    heap_gz_enc_write(z, out, n, &eb) || heap_gz_enc_finish(z, &eb))
		abort();
	heap_gz_enc_free(z);
	back = mem_fd(NULL, 0);
	if (lseek(re, 0, SEEK_SET) != 0 ||
	    heap_gz_decode_fd(re, back, OUT_MAX, &n2, why2, sizeof(why2)) ||
	    n2 != n)
		abort();
	{
		char *again = malloc(n ? n : 1);

		if (!again || pread(back, again, n, 0) != (ssize_t)n ||
		    memcmp(again, out, n))
			abort();
		free(again);
	}
	free(out);
	close(src);
	close(dst);
	close(re);
	close(back);
	return 0;
}
