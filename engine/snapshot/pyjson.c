/* pyjson: float.__repr__ and ensure_ascii string escaping as CPython's
 * json module writes them, for the Python-format snapshot writer. */
#include "pyjson.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

size_t pyjson_float_repr(double x, char *out)
{
	char buf[PYJSON_FLOAT_MAX];
	char digits[20];
	size_t nd = 0, n = 0, i;
	int prec, exp10, decpt;
	const char *p;

	if (isnan(x)) {
		memcpy(out, "NaN", 4);
		return 3;
	}
	if (isinf(x)) {
		p = x < 0 ? "-Infinity" : "Infinity";
		memcpy(out, p, strlen(p) + 1);
		return strlen(p);
	}
	if (signbit(x))
		out[n++] = '-';
	x = fabs(x);
	if (x == 0) {
		memcpy(out + n, "0.0", 4);
		return n + 3;
	}
	/* the shortest precision whose correctly rounded decimal reads back
	 * as x: what CPython's dtoa mode 0 yields (glibc's printf and strtod
	 * are correctly rounded; the unit test compares with python3) */
	for (prec = 0; prec <= 16; prec++) {
		snprintf(buf, sizeof(buf), "%.*e", prec, x);
		if (strtod(buf, NULL) == x)
			break;
	}
	/* buf: "d[.ddd]e[+-]XX" */
	for (p = buf; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	exp10 = (int)strtol(p + 1, NULL, 10);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	decpt = exp10 + 1;   /* x = 0.d1d2... * 10^decpt */
	if (decpt > -4 && decpt <= 16) {
		/* fixed, as CPython: 1e-4 <= x < 1e16 */
		if (decpt <= 0) {
			out[n++] = '0';
			out[n++] = '.';
			for (i = 0; i < (size_t)-decpt; i++)
				out[n++] = '0';
			memcpy(out + n, digits, nd);
			n += nd;
		} else if ((size_t)decpt >= nd) {
			memcpy(out + n, digits, nd);
			n += nd;
			for (i = nd; i < (size_t)decpt; i++)
				out[n++] = '0';
			out[n++] = '.';
			out[n++] = '0';
		} else {
			memcpy(out + n, digits, (size_t)decpt);
			n += (size_t)decpt;
			out[n++] = '.';
			memcpy(out + n, digits + decpt, nd - (size_t)decpt);
			n += nd - (size_t)decpt;
		}
	} else {
		out[n++] = digits[0];
		if (nd > 1) {
			out[n++] = '.';
			memcpy(out + n, digits + 1, nd - 1);
			n += nd - 1;
		}
		n += (size_t)snprintf(out + n, PYJSON_FLOAT_MAX - n, "e%c%02d",
				      exp10 < 0 ? '-' : '+', abs(exp10));
	}
	out[n] = '\0';
	return n;
}

/* Length of the valid UTF-8 sequence at s (at most len bytes) and its
 * code point, or 0 when the bytes there are not one: overlong forms,
 * surrogates and values above U+10FFFF are invalid, as for CPython's
 * decoder. */
static size_t utf8_seq(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t need, i;
	uint32_t c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
		c = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		c = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		c = s[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (len < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return need;
}

static size_t put_u(char *out, uint32_t u)
{
	static const char hex[] = "0123456789abcdef";

	out[0] = '\\';
	out[1] = 'u';
	out[2] = hex[(u >> 12) & 0xf];
	out[3] = hex[(u >> 8) & 0xf];
	out[4] = hex[(u >> 4) & 0xf];
	out[5] = hex[u & 0xf];
	return 6;
}

size_t pyjson_escape(const char *s, size_t len, char *out)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n = 0, k;
	uint32_t cp;

	while (i < len) {
		k = utf8_seq(u + i, len - i, &cp);
		if (!k) {
			/* surrogateescape: the byte becomes U+DC80..U+DCFF */
			n += put_u(out + n, 0xdc00 | u[i]);
			i++;
			continue;
		}
		i += k;
		switch (cp) {
		case '"':
			out[n++] = '\\';
			out[n++] = '"';
			continue;
		case '\\':
			out[n++] = '\\';
			out[n++] = '\\';
			continue;
		case '\n':
			out[n++] = '\\';
			out[n++] = 'n';
			continue;
		case '\r':
			out[n++] = '\\';
			out[n++] = 'r';
			continue;
		case '\t':
			out[n++] = '\\';
			out[n++] = 't';
			continue;
		case '\b':
			out[n++] = '\\';
			out[n++] = 'b';
			continue;
		case '\f':
			out[n++] = '\\';
			out[n++] = 'f';
			continue;
		default:
			break;
		}
		if (cp >= ' ' && cp <= '~') {
			out[n++] = (char)cp;
		} else if (cp < 0x10000) {
			n += put_u(out + n, cp);
		} else {
			cp -= 0x10000;
			n += put_u(out + n, 0xd800 | (cp >> 10));
			n += put_u(out + n, 0xdc00 | (cp & 0x3ff));
		}
	}
	return n;
}
