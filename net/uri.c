/* uri: percent-encoding and canonical query strings. */
#include "uri.h"

#include <errno.h>
#include <string.h>

#include "banned.h"

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

int uri_encode(const char *s, size_t n, bool keep_slash, char *out,
	       size_t cap, size_t *len)
{
	static const char hx[] = "0123456789ABCDEF";
	size_t i, o = *len;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			if (o + 1 >= cap)
				return -ENAMETOOLONG;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= cap)
				return -ENAMETOOLONG;
			out[o++] = '%';
			out[o++] = hx[c >> 4];
			out[o++] = hx[c & 15];
		}
	}
	out[o] = '\0';
	*len = o;
	return 0;
}

void uri_query_add(struct uri_query *q, const char *name, const char *value)
{
	if (q->n < URI_QUERY_MAX) {
		q->name[q->n] = name;
		q->value[q->n] = value ? value : "";
		q->n++;
	}
}

void uri_query_sort(struct uri_query *q)
{
	size_t i, j;
	const char *t;

	for (i = 1; i < q->n; i++) {
		for (j = i; j > 0 && strcmp(q->name[j - 1], q->name[j]) > 0;
		     j--) {
			t = q->name[j];
			q->name[j] = q->name[j - 1];
			q->name[j - 1] = t;
			t = q->value[j];
			q->value[j] = q->value[j - 1];
			q->value[j - 1] = t;
		}
	}
}

int uri_append(const char *s, char *out, size_t cap, size_t *len)
{
	size_t n = strlen(s);

	if (*len + n >= cap)
		return -ENAMETOOLONG;
	memcpy(out + *len, s, n + 1);
	*len += n;
	return 0;
}

int uri_query_append(struct uri_query *q, char *out, size_t cap, size_t *len)
{
	size_t i;
	int err;

	uri_query_sort(q);
	for (i = 0; i < q->n; i++) {
		err = uri_append(i ? "&" : "?", out, cap, len);
		if (!err)
			err = uri_encode(q->name[i], strlen(q->name[i]), false,
					 out, cap, len);
		if (!err)
			err = uri_append("=", out, cap, len);
		if (!err)
			err = uri_encode(q->value[i], strlen(q->value[i]),
					 false, out, cap, len);
		if (err)
			return err;
	}
	return 0;
}
