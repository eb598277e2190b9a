/* json_opts: recursive-descent parser for one JSON object (RFC 8259
 * strings with \uXXXX escapes and surrogate pairs, numbers, literals),
 * nested objects flattened into dotted keys. */
#include "json_opts.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "utf8.h"

#include "banned.h"

struct json_opts {
	size_t n;
	char *keys[JSON_OPTS_MAX_KEYS];
	char *vals[JSON_OPTS_MAX_KEYS];
};

struct parser {
	const char *s;
	size_t pos, len;
	struct errbuf *eb;
};

static int fail(struct parser *p, const char *what)
{
	return errbuf_set(p->eb, -EINVAL,
			  "invalid storage options JSON at byte %zu: %s",
			  p->pos, what);
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'
	       || p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

/* the four digits of a \u escape, at p->pos; an error names the byte
 * after the first one that is not a hex digit */
static int hex4(struct parser *p, unsigned *out)
{
	if (p->len - p->pos < 4)
		return fail(p, "truncated \\u escape");
	if (decode_hex_u16(p->s + p->pos, out) < 0) {
		/* one of the four is not a digit: the loop stops at it */
		while (p->s[p->pos] && strchr("0123456789abcdefABCDEF",
					      p->s[p->pos]))
			p->pos++;
		p->pos++;
		return fail(p, "bad \\u escape");
	}
	p->pos += 4;
	return 0;
}

/* at the opening quote; the decoded string is never longer than the raw */
static int parse_string(struct parser *p, char **out)
{
	char *o, *buf;
	unsigned cp, lo;
	int err;
	char c;

	p->pos++;
	buf = malloc(p->len - p->pos + 1);
	if (!buf)
		return -ENOMEM;
	o = buf;
	for (;;) {
		if (p->pos >= p->len) {
			err = fail(p, "unterminated string");
			goto out_free;
		}
		c = p->s[p->pos++];
		if (c == '"')
			break;
		if ((unsigned char)c < 0x20) {
			err = fail(p, "control character in string");
			goto out_free;
		}
		if (c != '\\') {
			*o++ = c;
			continue;
		}
		if (p->pos >= p->len) {
			err = fail(p, "unterminated string");
			goto out_free;
		}
		c = p->s[p->pos++];
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			err = hex4(p, &cp);
			if (err)
				goto out_free;
			if (cp >= 0xdc00 && cp <= 0xdfff) {
				err = fail(p, "lone low surrogate");
				goto out_free;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (p->len - p->pos < 6 || p->s[p->pos] != '\\' ||
				    p->s[p->pos + 1] != 'u') {
					err = fail(p, "lone high surrogate");
					goto out_free;
				}
				p->pos += 2;
				err = hex4(p, &lo);
				if (err)
					goto out_free;
				if (lo < 0xdc00 || lo > 0xdfff) {
					err = fail(p, "bad surrogate pair");
					goto out_free;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
			}
			if (cp == 0) {
				err = fail(p, "NUL in string");
				goto out_free;
			}
			o += utf8_encode(cp, o);
			break;
		default:
			err = fail(p, "bad escape");
			goto out_free;
		}
	}
	*o = '\0';
	*out = buf;
	return 0;
out_free:
	free(buf);
	return err;
}

/* number or literal: kept as its text */
static int parse_scalar(struct parser *p, char **out, bool *is_null)
{
	static const char *const lits[] = { "true", "false", "null" };
	size_t i, start = p->pos, n;

	*is_null = false;
	for (i = 0; i < 3; i++) {
		n = strlen(lits[i]);
		if (p->len - p->pos >= n && !memcmp(p->s + p->pos, lits[i], n)) {
			p->pos += n;
			*is_null = i == 2;
			goto copy;
		}
	}
	if (p->pos < p->len && p->s[p->pos] == '-')
		p->pos++;
	if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9')
		return fail(p, "expected a string, number, true, false or null");
	while (p->pos < p->len && ((p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
	       || p->s[p->pos] == '.' || p->s[p->pos] == 'e' ||
	       p->s[p->pos] == 'E' || p->s[p->pos] == '+' ||
	       p->s[p->pos] == '-'))
		p->pos++;
copy:
	*out = strndup(p->s + start, p->pos - start);
	return *out ? 0 : -ENOMEM;
}

static int add(struct json_opts *o, struct parser *p, char *k, char *v)
{
	size_t i;

	for (i = 0; i < o->n; i++) {
		if (!strcmp(o->keys[i], k)) {
			free(o->vals[i]);
			o->vals[i] = v;
			free(k);
			return 0;
		}
	}
	if (o->n == JSON_OPTS_MAX_KEYS) {
		free(k);
		free(v);
		return errbuf_set(p->eb, -E2BIG,
				  "storage options JSON has more than %d keys",
				  JSON_OPTS_MAX_KEYS);
	}
	o->keys[o->n] = k;
	o->vals[o->n] = v;
	o->n++;
	return 0;
}

/* the members of the object at p->pos ('{') into o, each key prefixed with
 * "prefix." when prefix is not NULL; nested objects recurse (depth
 * bounded), their keys joined with '.' */
static int parse_object(struct parser *p, struct json_opts *o,
			const char *prefix, unsigned depth)
{
	char *k = NULL, *v = NULL, *full;
	bool is_null;
	size_t n;
	int err;

	if (depth > JSON_OPTS_MAX_DEPTH)
		return fail(p, "objects nested too deep");
	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == '}') {
		p->pos++;
		return 0;
	}
	for (;;) {
		skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != '"')
			return fail(p, "expected a key string");
		err = parse_string(p, &k);
		if (err)
			return err;
		if (prefix) {
			n = strlen(prefix) + 1 + strlen(k) + 1;
			full = malloc(n);
			if (!full) {
				err = -ENOMEM;
				goto out_free;
			}
			snprintf(full, n, "%s.%s", prefix, k);
			free(k);
			k = full;
		}
		skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != ':') {
			err = fail(p, "expected ':'");
			goto out_free;
		}
		p->pos++;
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == '[') {
			err = fail(p, "arrays are not supported");
			goto out_free;
		}
		if (p->pos < p->len && p->s[p->pos] == '{') {
			err = parse_object(p, o, k, depth + 1);
			if (err)
				goto out_free;
			free(k);
			k = NULL;
			goto next;
		}
		is_null = false;
		if (p->pos < p->len && p->s[p->pos] == '"')
			err = parse_string(p, &v);
		else
			err = parse_scalar(p, &v, &is_null);
		if (err)
			goto out_free;
		if (is_null) {
			free(k);
			free(v);
		} else {
			err = add(o, p, k, v);
			if (err) {
				k = v = NULL;
				goto out_free;
			}
		}
		k = v = NULL;
next:
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == '}') {
			p->pos++;
			return 0;
		}
		return fail(p, "expected ',' or '}'");
	}
out_free:
	free(k);
	free(v);
	return err;
}

int json_opts_parse(const char *text, struct json_opts **out,
		    struct errbuf *eb)
{
	struct parser p = { text, 0, 0, eb };
	struct json_opts *o;
	int err;

	*out = NULL;
	if (!text)
		return errbuf_set(eb, -EINVAL, "no storage options JSON");
	p.len = strnlen(text, JSON_OPTS_MAX_LEN + 1);
	if (p.len > JSON_OPTS_MAX_LEN)
		return errbuf_set(eb, -E2BIG,
				  "storage options JSON longer than %d bytes",
				  JSON_OPTS_MAX_LEN);
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	skip_ws(&p);
	if (p.pos >= p.len || text[p.pos] != '{') {
		err = fail(&p, "expected '{'");
		goto out_free;
	}
	err = parse_object(&p, o, NULL, 1);
	if (err)
		goto out_free;
	skip_ws(&p);
	if (p.pos != p.len) {
		err = fail(&p, "trailing characters");
		goto out_free;
	}
	*out = o;
	return 0;
out_free:
	json_opts_free(o);
	return err;
}

void json_opts_free(struct json_opts *o)
{
	size_t i;

	if (!o)
		return;
	for (i = 0; i < o->n; i++) {
		free(o->keys[i]);
		free(o->vals[i]);
	}
	free(o);
}

const char *json_opts_get(const struct json_opts *o, const char *key)
{
	size_t i;

	if (!o)
		return NULL;
	for (i = 0; i < o->n; i++)
		if (!strcmp(o->keys[i], key))
			return o->vals[i];
	return NULL;
}

size_t json_opts_count(const struct json_opts *o)
{
	return o ? o->n : 0;
}

const char *json_opts_key(const struct json_opts *o, size_t i)
{
	return o && i < o->n ? o->keys[i] : NULL;
}
