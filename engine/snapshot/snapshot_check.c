/* snapshot_check: depth + sum-of-counts prescan of one msgpack frame, run
 * by the snapshot reader before msgpack_unpack_next (fuzzed). */
#include "snapshot_check.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "snapshot_format.h"

#include "banned.h"

static uint64_t be_uint(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* For the type byte b: how many length bytes follow (lenb), how many fixed
 * payload bytes (fixed), whether the length counts body bytes (is_body,
 * str/bin/ext) or elements (mult 1 array, 2 map). Returns false for 0xc1. */
struct hdr {
	uint8_t lenb;       /* big-endian length field size */
	uint8_t fixed;      /* payload bytes besides a counted body */
	uint8_t mult;       /* 0: scalar/body, 1: array, 2: map */
	uint32_t inline_n;  /* count or length encoded in the type byte */
	bool has_inline;
};

static bool decode_type(uint8_t b, struct hdr *h)
{
	*h = (struct hdr){ 0 };
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		return true;
	if (b <= 0x8f) {
		h->mult = 2;
		h->inline_n = b & 0x0f;
		h->has_inline = true;
		return true;
	}
	if (b <= 0x9f) {
		h->mult = 1;
		h->inline_n = b & 0x0f;
		h->has_inline = true;
		return true;
	}
	if (b <= 0xbf) {
		h->inline_n = b & 0x1f;
		h->has_inline = true;
		return true;
	}
	switch (b) {
	case 0xc4: case 0xd9: h->lenb = 1; return true;     /* bin8 str8 */
	case 0xc5: case 0xda: h->lenb = 2; return true;     /* bin16 str16 */
	case 0xc6: case 0xdb: h->lenb = 4; return true;     /* bin32 str32 */
	case 0xc7: h->lenb = 1; h->fixed = 1; return true;  /* ext8 */
	case 0xc8: h->lenb = 2; h->fixed = 1; return true;  /* ext16 */
	case 0xc9: h->lenb = 4; h->fixed = 1; return true;  /* ext32 */
	case 0xca: h->fixed = 4; return true;               /* float32 */
	case 0xcb: h->fixed = 8; return true;               /* float64 */
	case 0xcc: case 0xd0: h->fixed = 1; return true;
	case 0xcd: case 0xd1: h->fixed = 2; return true;
	case 0xce: case 0xd2: h->fixed = 4; return true;
	case 0xcf: case 0xd3: h->fixed = 8; return true;
	case 0xd4: h->fixed = 2; return true;               /* fixext1 */
	case 0xd5: h->fixed = 3; return true;
	case 0xd6: h->fixed = 5; return true;
	case 0xd7: h->fixed = 9; return true;
	case 0xd8: h->fixed = 17; return true;              /* fixext16 */
	case 0xdc: h->lenb = 2; h->mult = 1; return true;   /* array16 */
	case 0xdd: h->lenb = 4; h->mult = 1; return true;   /* array32 */
	case 0xde: h->lenb = 2; h->mult = 2; return true;   /* map16 */
	case 0xdf: h->lenb = 4; h->mult = 2; return true;   /* map32 */
	default: return false;                              /* 0xc1 */
	}
}

static int fail(const char **why, size_t *at, const char *reason, size_t off)
{
	if (why)
		*why = reason;
	if (at)
		*at = off;
	return -EBADMSG;
}

int snapshot_check_frame(const void *buf, size_t len, const char **why,
			 size_t *at)
{
	const uint8_t *p = buf;
	/* elements still due in each open container */
	uint64_t left[SNAPSHOT_DEPTH_MAX];
	unsigned depth = 0;
	uint64_t total = 0;
	size_t off = 0;

	if (!buf || len == 0)
		return fail(why, at, "empty frame", 0);
	for (;;) {
		struct hdr h;
		size_t start = off;
		uint64_t n;

		if (off >= len)
			return fail(why, at, "truncated object", off);
		if (!decode_type(p[off], &h))
			return fail(why, at, "reserved type byte 0xc1", off);
		off++;
		if (h.lenb > len - off)
			return fail(why, at, "truncated length", start);
		n = h.has_inline ? h.inline_n : be_uint(p + off, h.lenb);
		off += h.lenb;
		if (h.mult) {
			/* n <= 2^32 - 1, so n * 2 cannot overflow */
			total += n * h.mult;
			if (total > len)
				return fail(why, at,
					    "declared element counts exceed the frame size",
					    start);
			if (n) {
				if (depth == SNAPSHOT_DEPTH_MAX)
					return fail(why, at, "nesting too deep",
						    start);
				left[depth++] = n * h.mult;
				continue;
			}
		} else {
			uint64_t body = h.fixed;

			/* for scalars with inline data, lenb == 0 and n is a
			 * string length only for fixstr */
			if (h.lenb || (h.has_inline && !h.mult))
				body += n;
			if (body > len - off)
				return fail(why, at, "body extends past the frame",
					    start);
			off += (size_t)body;
		}
		/* one element is complete: close every container it ends */
		for (;;) {
			if (depth == 0)
				goto done;
			if (--left[depth - 1] > 0)
				break;
			depth--;
		}
	}
done:
	if (off != len)
		return fail(why, at, "bytes after the object", off);
	return 0;
}
