/* pysnap_json: the strict JSON subset json.dumps writes, one line of a
 * Python-format snapshot at a time -> struct pysnap_rec (pysnap_json.h).
 * pysnap_reader feeds it the lines it inflates and maps the records to
 * entries. */
#include "pysnap_json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "utf8.h"

#include "banned.h"

struct jp {
	struct errbuf *eb;
	char *scratch;            /* decoded strings of the line */
	size_t scratch_len;
	const char *p, *end;
};

static int corrupt(struct jp *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int corrupt(struct jp *j, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return errbuf_set(j->eb, -EBADMSG, "%s", reason);
}

static void skip_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
				 *j->p == '\r' || *j->p == '\n'))
		j->p++;
}

/* A string at j->p, decoded into the scratch buffer. Lone surrogates
 * \udc80-\udcff are os.fsdecode's surrogateescape: the raw bytes
 * 0x80-0xff of a name that was not UTF-8. */
static int parse_string(struct jp *j, struct pysnap_str *out)
{
	char *o = j->scratch + j->scratch_len;
	char *start = o;

	if (j->p >= j->end || *j->p != '"')
		return corrupt(j, "string expected");
	j->p++;
	for (;;) {
		unsigned char c;
		unsigned cp, lo;

		if (j->p >= j->end)
			return corrupt(j, "unterminated string");
		c = (unsigned char)*j->p++;
		if (c == '"')
			break;
		if (c < 0x20)
			return corrupt(j, "control character in a string");
		if (c != '\\') {
			*o++ = (char)c;
			continue;
		}
		if (j->p >= j->end)
			return corrupt(j, "unterminated string");
		c = (unsigned char)*j->p++;
		switch (c) {
		case '"': case '\\': case '/':
			*o++ = (char)c;
			continue;
		case 'b': *o++ = '\b'; continue;
		case 'f': *o++ = '\f'; continue;
		case 'n': *o++ = '\n'; continue;
		case 'r': *o++ = '\r'; continue;
		case 't': *o++ = '\t'; continue;
		case 'u':
			break;
		default:
			return corrupt(j, "bad escape '\\%c' in a string",
				       c >= 0x20 && c < 0x7f ? c : '?');
		}
		if (j->end - j->p < 4 || decode_hex_u16(j->p, &cp))
			return corrupt(j, "bad \\u escape in a string");
		j->p += 4;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (j->end - j->p < 6 || j->p[0] != '\\' ||
			    j->p[1] != 'u' || decode_hex_u16(j->p + 2, &lo) ||
			    lo < 0xdc00 || lo > 0xdfff)
				return corrupt(j, "unpaired surrogate in a string");
			j->p += 6;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		} else if (cp >= 0xdc80 && cp <= 0xdcff) {
			*o++ = (char)(cp - 0xdc00);
			continue;
		} else if (cp >= 0xdc00 && cp <= 0xdfff) {
			return corrupt(j, "unpaired surrogate in a string");
		}
		o += utf8_encode(cp, o);
	}
	out->s = start;
	out->len = (size_t)(o - start);
	j->scratch_len += out->len;
	return 0;
}

/* A number at j->p: *is_int when it has no fraction or exponent (then
 * *i, which must fit an int64), always *d. */
static int parse_number(struct jp *j, bool *is_int, int64_t *i, double *d)
{
	const char *s = j->p;
	char buf[64];
	char *endp;
	bool integer = true;
	size_t n;

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return corrupt(j, "bad number");
	if (*j->p == '0')
		j->p++;
	else
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	if (j->p < j->end && *j->p == '.') {
		integer = false;
		j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return corrupt(j, "bad number");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		integer = false;
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return corrupt(j, "bad number");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	n = (size_t)(j->p - s);
	if (n >= sizeof(buf))
		return corrupt(j, "number too long");
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	if (integer) {
		long long v = strtoll(buf, &endp, 10);

		if (errno || *endp)
			return corrupt(j, "integer out of range");
		*i = v;
		*d = (double)v;
	} else {
		*d = strtod(buf, &endp);
		if (*endp || !isfinite(*d))
			return corrupt(j, "number out of range");
	}
	*is_int = integer;
	return 0;
}

static bool literal(struct jp *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n))
		return false;
	j->p += n;
	return true;
}

/* Objects and arrays: their opening bracket is consumed by the caller,
 * then members_begin, and per member parse_key (objects) and the value,
 * then members_next. */

/* 0 when the container is empty (its close consumed), else 1. */
static int members_begin(struct jp *j, char close)
{
	skip_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return 0;
	}
	return 1;
}

/* A member's key and its ':', with the blanks after it skipped. The key's
 * bytes in the scratch buffer are given back: key is valid until the
 * next string is decoded. */
static int parse_key(struct jp *j, struct pysnap_str *key)
{
	size_t mark = j->scratch_len;
	int rc;

	skip_ws(j);
	rc = parse_string(j, key);
	if (rc)
		return rc;
	j->scratch_len = mark;
	skip_ws(j);
	if (j->p >= j->end || *j->p != ':')
		return corrupt(j, "':' expected");
	j->p++;
	skip_ws(j);
	return 0;
}

/* After a member: 1 when a ',' announces another, 0 when close ends the
 * container (consumed), or -EBADMSG. */
static int members_next(struct jp *j, char close)
{
	skip_ws(j);
	if (j->p < j->end && *j->p == ',') {
		j->p++;
		return 1;
	}
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return 0;
	}
	return corrupt(j, "'%c' or ',' expected", close);
}

static int skip_value(struct jp *j, int depth);

/* Skip an object or array after its opening bracket. */
static int skip_container(struct jp *j, char close, int depth)
{
	struct pysnap_str key;
	int rc;

	if (depth > PYSNAP_JSON_DEPTH_MAX)
		return corrupt(j, "nested deeper than %d",
			       PYSNAP_JSON_DEPTH_MAX);
	rc = members_begin(j, close);
	while (rc > 0) {
		if (close == '}') {
			rc = parse_key(j, &key);
			if (rc)
				return rc;
		}
		rc = skip_value(j, depth);
		if (rc)
			return rc;
		rc = members_next(j, close);
	}
	return rc;
}

static int skip_value(struct jp *j, int depth)
{
	struct pysnap_str s;
	size_t mark = j->scratch_len;
	bool is_int;
	int64_t i;
	double d;
	int rc;

	skip_ws(j);
	if (j->p >= j->end)
		return corrupt(j, "value expected");
	switch (*j->p) {
	case '"':
		rc = parse_string(j, &s);
		j->scratch_len = mark;
		return rc;
	case '{':
		j->p++;
		return skip_container(j, '}', depth + 1);
	case '[':
		j->p++;
		return skip_container(j, ']', depth + 1);
	default:
		if (literal(j, "true") || literal(j, "false") ||
		    literal(j, "null"))
			return 0;
		return parse_number(j, &is_int, &i, &d);
	}
}

/* ---- one record ---- */

enum field {
	F_NAME, F_MD5, F_SIZE, F_MTIME, F_MODE, F_CREATED, F_INO, F_TYPE,
	F_ETAG, F_S3_ETAG, F_CONTENT, F_LASTMOD, F_S3_LASTMOD, F_COUNT
};

static const char *const field_names[F_COUNT] = {
	"name", "md5", "size", "mtime", "mode", "created", "ino", "type",
	"etag", "ETag", "content_settings", "last_modified", "LastModified",
};

static int number_field(struct jp *j, const char *key, double *d)
{
	bool is_int;
	int64_t i;

	if (j->p >= j->end || (*j->p != '-' && (*j->p < '0' || *j->p > '9')))
		return corrupt(j, "'%s' is not a number", key);
	return parse_number(j, &is_int, &i, d);
}

static int uint_field(struct jp *j, const char *key, uint64_t *v)
{
	bool is_int;
	int64_t i;
	double d;
	int rc;

	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return corrupt(j, "'%s' is not a non-negative integer", key);
	rc = parse_number(j, &is_int, &i, &d);
	if (rc)
		return rc;
	if (!is_int)
		return corrupt(j, "'%s' is not a non-negative integer", key);
	*v = (uint64_t)i;
	return 0;
}

/* A string, or null (*present false). */
static int string_or_null(struct jp *j, const char *key, struct pysnap_str *s,
			  bool *present)
{
	if (literal(j, "null")) {
		*present = false;
		return 0;
	}
	if (j->p >= j->end || *j->p != '"')
		return corrupt(j, "'%s' is not a string", key);
	*present = true;
	return parse_string(j, s);
}

/* content_settings: take content_md5 (a string or null), skip the rest */
static int parse_content_settings(struct jp *j, struct pysnap_rec *rec)
{
	struct pysnap_str key;
	int rc;

	if (literal(j, "null"))
		return 0;
	if (j->p >= j->end || *j->p != '{')
		return corrupt(j, "'content_settings' is not an object");
	j->p++;
	rc = members_begin(j, '}');
	while (rc > 0) {
		rc = parse_key(j, &key);
		if (rc)
			return rc;
		if (key.len == 11 && !memcmp(key.s, "content_md5", 11)) {
			if (rec->has_content_md5)
				return corrupt(j, "duplicate key "
					       "'content_md5'");
			rc = string_or_null(j, "content_md5", &rec->content_md5,
					    &rec->has_content_md5);
		} else {
			rc = skip_value(j, 2);
		}
		if (rc)
			return rc;
		rc = members_next(j, '}');
	}
	return rc;
}

static int parse_field(struct jp *j, enum field f, struct pysnap_rec *rec)
{
	const char *key = f < F_COUNT ? field_names[f] : "";
	uint64_t u = 0;
	int rc;

	switch (f) {
	case F_NAME:
		if (j->p >= j->end || *j->p != '"')
			return corrupt(j, "'name' is not a string");
		rec->has_name = true;
		return parse_string(j, &rec->name);
	case F_MD5:
		return string_or_null(j, key, &rec->md5, &rec->has_md5);
	case F_SIZE:
		rec->has_size = true;
		return uint_field(j, key, &rec->size);
	case F_MTIME:
		rec->has_mtime = true;
		return number_field(j, key, &rec->mtime);
	case F_MODE:
		rec->has_mode = true;
		rc = uint_field(j, key, &u);
		if (rc)
			return rc;
		rec->mode = (int64_t)u;
		return 0;
	case F_CREATED:
		if (literal(j, "null"))
			return 0;
		rec->has_created = true;
		return number_field(j, key, &rec->created);
	case F_INO:
		rec->has_ino = true;
		return uint_field(j, key, &rec->ino);
	case F_TYPE:
		if (j->p >= j->end || *j->p != '"')
			return corrupt(j, "'type' is not a string");
		rec->has_type = true;
		return parse_string(j, &rec->type);
	case F_ETAG:
	case F_S3_ETAG:
		if (rec->has_etag)
			return corrupt(j, "two etags");
		rec->etag_s3 = f == F_S3_ETAG;
		return string_or_null(j, key, &rec->etag, &rec->has_etag);
	case F_CONTENT:
		return parse_content_settings(j, rec);
	case F_LASTMOD:
	case F_S3_LASTMOD:
		if (rec->has_lastmod)
			return corrupt(j, "two modification times");
		return string_or_null(j, key, &rec->lastmod, &rec->has_lastmod);
	default:
		return skip_value(j, 1);
	}
}

int pysnap_rec_parse(const char *line, size_t len, char *scratch,
		     struct pysnap_rec *rec, struct errbuf *eb)
{
	struct jp j = { eb, scratch, 0, line, line + len };
	unsigned seen = 0;
	int rc;

	memset(rec, 0, sizeof(*rec));
	skip_ws(&j);
	if (j.p >= j.end)
		return corrupt(&j, "empty line");
	if (*j.p != '{')
		return corrupt(&j, "not a JSON object");
	j.p++;
	rc = members_begin(&j, '}');
	while (rc > 0) {
		struct pysnap_str key;
		int f;

		rc = parse_key(&j, &key);
		if (rc)
			return rc;
		for (f = 0; f < F_COUNT; f++)
			if (strlen(field_names[f]) == key.len &&
			    !memcmp(field_names[f], key.s, key.len))
				break;
		if (f < F_COUNT) {
			if (seen & 1u << f)
				return corrupt(&j, "duplicate key '%s'",
					       field_names[f]);
			seen |= 1u << f;
		}
		rc = parse_field(&j, (enum field)f, rec);
		if (rc)
			return rc;
		rc = members_next(&j, '}');
	}
	if (rc)
		return rc;
	skip_ws(&j);
	if (j.p != j.end)
		return corrupt(&j, "data after the object");
	return 0;
}
