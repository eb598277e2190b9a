/* objid: hex and base64 renderings of a content id. */
#include "objid.h"

#include <errno.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void objid_to_hex(const struct objid *id, char out[OBJID_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < OBJID_LEN; i++) {
		out[2 * i] = hex[id->b[i] >> 4];
		out[2 * i + 1] = hex[id->b[i] & 15];
	}
	out[OBJID_HEX_LEN] = '\0';
}

int objid_from_hex(const char *hex, size_t len, struct objid *out)
{
	int i;

	if (len != OBJID_HEX_LEN)
		return -EINVAL;
	for (i = 0; i < OBJID_LEN; i++) {
		int hi = hexval(hex[2 * i]);
		int lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out->b[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void objid_to_base64(const struct objid *id, char out[25])
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	int i, o = 0;

	for (i = 0; i < 15; i += 3) {
		uint32_t v = (uint32_t)id->b[i] << 16 |
			     (uint32_t)id->b[i + 1] << 8 | id->b[i + 2];

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = tab[v & 63];
	}
	/* 16 = 5*3 + 1: last byte gives two chars and "==" */
	out[o++] = tab[id->b[15] >> 2];
	out[o++] = tab[(id->b[15] & 3) << 4];
	out[o++] = '=';
	out[o++] = '=';
	out[o] = '\0';
}
