/* jsonw: JSON string escaping for --json output (see jsonw.h). */
#include "jsonw.h"

#include <stdbool.h>
#include <string.h>

#include "utf8.h"
#include "banned.h"

/* the escape of one byte, or NULL when it is copied as is */
static const char *short_escape(unsigned char c)
{
	switch (c) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	case '\b':
		return "\\b";
	case '\f':
		return "\\f";
	default:
		return NULL;
	}
}

void jsonw_string(FILE *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	fputc('"', out);
	while (i < len) {
		unsigned char c = p[i];
		const char *e = short_escape(c);
		size_t n;

		if (e) {
			fputs(e, out);
			i++;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
			i++;
			continue;
		}
		n = utf8_seq_len(p + i, len - i);
		if (n) {
			fwrite(s + i, 1, n, out);
			i += n;
			continue;
		}
		/* surrogateescape: byte 0xXX -> U+DCXX */
		fprintf(out, "\\udc%c%c", hex[c >> 4], hex[c & 15]);
		i++;
	}
	fputc('"', out);
}

void jsonw_u64_member(FILE *out, const char *key, uint64_t v)
{
	fprintf(out, ",\"%s\":%llu", key, (unsigned long long)v);
}
