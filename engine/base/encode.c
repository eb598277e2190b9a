/* encode: see encode.h. */
#include "encode.h"

#include <errno.h>
#include <string.h>

#include "banned.h"

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void encode_base64(const uint8_t *in, size_t n, char *out)
{
	size_t i;
	uint32_t v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*out++ = b64[v >> 18];
		*out++ = b64[(v >> 12) & 63];
		*out++ = b64[(v >> 6) & 63];
		*out++ = b64[v & 63];
	}
	if (i < n) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		*out++ = b64[v >> 18];
		*out++ = b64[(v >> 12) & 63];
		*out++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		*out++ = '=';
	}
	*out = '\0';
}

static int b64_val(char c)
{
	const char *p;

	if (!c)
		return -1;
	p = strchr(b64, c);
	return p ? (int)(p - b64) : -1;
}

int decode_base64(const char *in, size_t n, uint8_t *out, size_t cap)
{
	size_t i, o = 0;
	int v[4], k, pad;

	if (n % 4)
		return -EINVAL;
	for (i = 0; i < n; i += 4) {
		pad = 0;
		for (k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad)
				return -EINVAL;
			v[k] = b64_val(in[i + k]);
			if (v[k] < 0)
				return -EINVAL;
		}
		if (o + 3 - (size_t)pad > cap)
			return -EINVAL;
		out[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] = (uint8_t)((v[1] & 15) << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (uint8_t)((v[2] & 3) << 6 | v[3]);
	}
	return (int)o;
}

void encode_hex(const uint8_t *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		*out++ = hx[in[i] >> 4];
		*out++ = hx[in[i] & 15];
	}
	*out = '\0';
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int decode_hex(const char *in, size_t n_bytes, uint8_t *out)
{
	size_t i;
	int h, l;

	for (i = 0; i < n_bytes; i++) {
		h = hex_val(in[2 * i]);
		l = h < 0 ? -1 : hex_val(in[2 * i + 1]);
		if (l < 0)
			return -EINVAL;
		out[i] = (uint8_t)(h << 4 | l);
	}
	return 0;
}

int decode_hex_u16(const char *in, unsigned *v)
{
	uint8_t b[2];

	if (decode_hex(in, 2, b) < 0)
		return -EINVAL;
	*v = (unsigned)b[0] << 8 | b[1];
	return 0;
}
