/* errbuf: error code + message for one operation (house style H8). */
#include "errbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

int errbuf_set(struct errbuf *eb, int code, const char *fmt, ...)
{
	va_list ap;

	if (!eb || eb->code)
		return code;
	eb->code = code;
	va_start(ap, fmt);
	vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
	va_end(ap);
	return code;
}

int errbuf_wrap(struct errbuf *eb, int code, const char *fmt, ...)
{
	char prefix[sizeof(eb->msg)];
	char old[sizeof(eb->msg)];
	va_list ap;

	if (!eb)
		return code;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, eb->msg, sizeof(old));
	/* truncation of an over-long message is acceptable here */
	if (eb->code && old[0]) {
		size_t n = strlen(prefix);

		memcpy(eb->msg, prefix, n);
		if (n + 2 < sizeof(eb->msg)) {
			eb->msg[n++] = ':';
			eb->msg[n++] = ' ';
			size_t m = strlen(old);

			if (m > sizeof(eb->msg) - 1 - n)
				m = sizeof(eb->msg) - 1 - n;
			memcpy(eb->msg + n, old, m);
			eb->msg[n + m] = '\0';
		} else {
			eb->msg[sizeof(eb->msg) - 1] = '\0';
		}
	} else {
		snprintf(eb->msg, sizeof(eb->msg), "%s", prefix);
	}
	eb->code = code;
	return code;
}

void errbuf_clear(struct errbuf *eb)
{
	if (!eb)
		return;
	eb->code = 0;
	eb->msg[0] = '\0';
}

static size_t render(char *out, size_t cap, const char *name, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)name;
	size_t o = 0;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n = utf8_seq_len(s + i, len - i);

		if (n > 1 || (n == 1 && c >= 0x20 && c != 0x7f && c != '\\')) {
			if (o + n >= cap)
				break;
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
			continue;
		}
		if (o + 4 >= cap)
			break;
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
		i++;
	}
	out[o] = '\0';
	return o;
}

void errbuf_quote_name(char *out, size_t cap, const char *name, size_t len)
{
	size_t limit, full_len, head, tail_start;
	char *full;

	if (!cap)
		return;
	limit = cap - 1 < ERRBUF_NAME_SHOWN ? cap - 1 : ERRBUF_NAME_SHOWN;
	full = malloc(len * 4 + 1);
	if (!full) {
		render(out, cap, name, len);
		return;
	}
	full_len = render(full, len * 4 + 1, name, len);
	if (full_len <= limit) {
		memcpy(out, full, full_len + 1);
		free(full);
		return;
	}
	/* head, " ... ", tail: the tail holds the file's own name */
	head = limit / 3;
	tail_start = full_len - (limit - head - 5);
	/* do not start inside a \xNN escape or a UTF-8 sequence */
	while (tail_start < full_len &&
	       (((unsigned char)full[tail_start] & 0xc0) == 0x80 ||
		(tail_start >= 1 && full[tail_start - 1] == '\\') ||
		(tail_start >= 2 && full[tail_start - 2] == '\\' &&
		 full[tail_start - 1] == 'x') ||
		(tail_start >= 3 && full[tail_start - 3] == '\\' &&
		 full[tail_start - 2] == 'x')))
		tail_start++;
	while (head && (((unsigned char)full[head] & 0xc0) == 0x80 ||
			(head >= 1 && full[head - 1] == '\\') ||
			(head >= 2 && full[head - 2] == '\\' &&
			 full[head - 1] == 'x') ||
			(head >= 3 && full[head - 3] == '\\' &&
			 full[head - 2] == 'x')))
		head--;
	memcpy(out, full, head);
	memcpy(out + head, " ... ", 5);
	memcpy(out + head + 5, full + tail_start, full_len - tail_start + 1);
	free(full);
}
