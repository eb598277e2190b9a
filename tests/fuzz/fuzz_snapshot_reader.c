/* fuzz_snapshot_reader: arbitrary bytes as a snapshot file: the reader
 * must return an entry, the end or an error, never crash, hang or grow
 * memory without bound. The input size picks the read chunk size so
 * short reads are exercised too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "entry.h"
#include "errbuf.h"
#include "snapshot_reader.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src {
	const uint8_t *p;
	size_t len, pos, chunk;
};

static ssize_t src_read(void *ctx, void *buf, size_t len)
{
	struct src *s = ctx;
	size_t n = s->len - s->pos;

	if (n > len)
		n = len;
	if (n > s->chunk)
		n = s->chunk;
	memcpy(buf, s->p + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct src s = { data, size, 0, SIZE_MAX };
	struct errbuf eb = ERRBUF_INIT;
	struct snapshot_reader *r = NULL;
	struct entry e = ENTRY_INIT;
	uint64_t n = 0;
	int rc;

	if (size % 3 == 0)
		s.chunk = 1 + size % 97;
	if (snapshot_reader_new(src_read, &s, "fuzz", &r, &eb))
		return 0;
	for (;;) {
		rc = snapshot_reader_next(r, &e, &eb);
		if (rc <= 0)
			break;
		/* returned entries are valid */
		if (!e.name || e.type < ENTRY_FILE || e.type > ENTRY_DIR)
			abort();
		entry_release(&e);
		n++;
	}
	if (rc == 0 && n != snapshot_reader_count(r))
		abort();
	if (rc < 0 && eb.msg[0] == '\0')
		abort();
	snapshot_reader_free(r);
	return 0;
}
