/* fuzz_pysnap: arbitrary bytes as the text of a Python tool's snapshot
 * (JSON lines): the harness gzips them (so the fuzzer's mutations reach
 * the JSON parser, not only inflate) and reads them through
 * snapshot_reader; inputs whose size is a multiple of 5 are fed raw
 * behind the gzip magic instead, for the gzip layer. The reader must
 * return valid entries in entry order, the end or an error, never crash,
 * hang or grow memory without bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

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

static uint8_t *gzip_text(const uint8_t *data, size_t size, size_t *out_len)
{
	z_stream zs;
	uint8_t *out;
	size_t cap;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	cap = deflateBound(&zs, (uLong)size) + 64;
	out = malloc(cap);
	if (!out) {
		deflateEnd(&zs);
		return NULL;
	}
	zs.next_in = (Bytef *)(uintptr_t)data;
	zs.avail_in = (uInt)size;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&zs);
		free(out);
		return NULL;
	}
	*out_len = cap - zs.avail_out;
	deflateEnd(&zs);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct src s = { NULL, 0, 0, SIZE_MAX };
	struct errbuf eb = ERRBUF_INIT;
	struct snapshot_reader *r = NULL;
	struct entry e = ENTRY_INIT, prev = ENTRY_INIT;
	uint8_t *buf;
	uint64_t n = 0;
	size_t len;
	int rc;

	if (size % 5 == 0) {
		len = size + 2;
		buf = malloc(len);
		if (!buf)
			return 0;
		buf[0] = 0x1f;
		buf[1] = 0x8b;
		memcpy(buf + 2, data, size);
	} else {
		buf = gzip_text(data, size, &len);
		if (!buf)
			return 0;
	}
	s.p = buf;
	s.len = len;
	if (size % 3 == 0)
		s.chunk = 1 + size % 97;
	if (snapshot_reader_new(src_read, &s, "fuzz", &r, &eb)) {
		free(buf);
		return 0;
	}
	for (;;) {
		rc = snapshot_reader_next(r, &e, &eb);
		if (rc <= 0)
			break;
		if (!e.name || e.type < ENTRY_FILE || e.type > ENTRY_DIR)
			abort();
		if (prev.name && entry_cmp(&prev, &e) >= 0)
			abort();  /* the stream must be in entry order */
		entry_release(&prev);
		prev = e;
		entry_init(&e);
		n++;
	}
	if (rc == 0 && n != snapshot_reader_count(r))
		abort();
	if (rc < 0 && eb.msg[0] == '\0')
		abort();
	entry_release(&prev);
	snapshot_reader_free(r);
	free(buf);
	return 0;
}
