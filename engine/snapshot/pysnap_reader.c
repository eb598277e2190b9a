/* pysnap_reader: gzip members -> inflate -> lines -> strict JSON objects
 * -> validated file entries, with the missing parent directories
 * synthesized in front of the first file inside them. */
#include "pysnap_reader.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <zlib.h>

#include "snapstore.h"

#include "banned.h"

#define PY_IN_BUF (64 * 1024)
#define PY_OUT_BUF (64 * 1024)
#define PY_DEPTH_MAX 32
#define PY_NS_PER_SEC 1000000000LL

struct pysnap_reader {
	ssize_t (*read)(void *ctx, void *buf, size_t len);
	void *ctx;
	z_stream zs;
	bool z_ready;
	bool in_eof;
	bool member_done;         /* a gzip member ended; more may follow */
	bool later_member;        /* reading a member after the first */
	bool data_end;            /* every member decoded */
	bool done;
	int err;                  /* sticky */
	struct errbuf first;
	struct snapshot_header hdr;
	uint64_t lineno;          /* lines read so far */
	uint64_t count;
	size_t out_pos, out_len;
	char *line;               /* current line (not NUL-terminated) */
	size_t line_len, line_cap;
	char *scratch;            /* decoded strings of the line */
	size_t scratch_len;
	struct entry pending;     /* a parsed file, once its dirs are out */
	bool has_pending;
	size_t dir_pos;           /* where to look for the next dir of it */
	char *prev;               /* name of the previous file */
	size_t prev_len, prev_cap;
	bool has_prev;
	char qname[256];
	uint8_t in[PY_IN_BUF];
	uint8_t out[PY_OUT_BUF];
};

static int corrupt(struct pysnap_reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int corrupt(struct pysnap_reader *r, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return errbuf_set(&r->first, -EBADMSG,
			  "corrupt snapshot '%s': line %" PRIu64 ": %s",
			  r->qname, r->lineno + 1, reason);
}

static int nomem(struct pysnap_reader *r)
{
	return errbuf_set(&r->first, -ENOMEM,
			  "cannot read snapshot '%s': out of memory", r->qname);
}

bool pysnap_is_gzip(const uint8_t *p, size_t len)
{
	return len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* ---- gzip ---- */

/* Decode more bytes into r->out. 1 with bytes, 0 after the last member,
 * or -errno (in r->first). */
static int fill_out(struct pysnap_reader *r)
{
	for (;;) {
		size_t produced;
		int zr;

		if (r->data_end)
			return 0;
		if (r->zs.avail_in == 0 && !r->in_eof) {
			ssize_t rd = r->read(r->ctx, r->in, sizeof(r->in));

			if (rd < 0)
				return errbuf_set(&r->first, (int)rd,
						  "cannot read snapshot '%s': %s",
						  r->qname, strerror((int)-rd));
			if (rd == 0 || (size_t)rd > sizeof(r->in))
				r->in_eof = true;
			else {
				r->zs.next_in = r->in;
				r->zs.avail_in = (uInt)rd;
			}
			continue;
		}
		if (r->member_done) {
			if (r->zs.avail_in == 0) {
				/* in_eof here: the last member ended cleanly */
				r->data_end = true;
				return 0;
			}
			/* more bytes: they must be a whole further member */
			if (inflateReset(&r->zs) != Z_OK)
				return corrupt(r, "gzip reset failed");
			r->member_done = false;
			r->later_member = true;
		}
		r->zs.next_out = r->out;
		r->zs.avail_out = sizeof(r->out);
		zr = inflate(&r->zs, Z_NO_FLUSH);
		produced = sizeof(r->out) - r->zs.avail_out;
		if (zr == Z_STREAM_END) {
			r->member_done = true;
		} else if (zr == Z_MEM_ERROR) {
			return nomem(r);
		} else if (zr != Z_OK && zr != Z_BUF_ERROR) {
			if (r->later_member && r->zs.total_out == 0)
				return corrupt(r, "data after the gzip data "
					       "(%s)", r->zs.msg ? r->zs.msg :
					       "not a gzip member");
			/* CRC and ISIZE mismatches land here too */
			return corrupt(r, "bad gzip data: %s",
				       r->zs.msg ? r->zs.msg : "inflate failed");
		}
		if (produced) {
			r->out_pos = 0;
			r->out_len = produced;
			return 1;
		}
		if (!r->member_done && r->zs.avail_in == 0 && r->in_eof)
			return corrupt(r, "truncated gzip data");
	}
}

/* Next line into r->line. 1, 0 at the end of the text, or -errno. An
 * empty text has no line; a final "\n" ends the text. */
static int read_line(struct pysnap_reader *r)
{
	r->line_len = 0;
	for (;;) {
		const uint8_t *p, *nl;
		size_t avail, take;

		if (r->out_pos == r->out_len) {
			int rc = fill_out(r);

			if (rc < 0)
				return rc;
			if (rc == 0)
				return r->line_len ? 1 : 0;
		}
		p = r->out + r->out_pos;
		avail = r->out_len - r->out_pos;
		nl = memchr(p, '\n', avail);
		take = nl ? (size_t)(nl - p) : avail;
		if (r->line_len + take > PYSNAP_LINE_MAX)
			return corrupt(r, "line longer than %d bytes",
				       PYSNAP_LINE_MAX);
		if (r->line_len + take > r->line_cap) {
			size_t cap = r->line_cap ? r->line_cap : 4096;
			char *nline, *nscratch;

			while (cap < r->line_len + take)
				cap *= 2;
			if (cap > PYSNAP_LINE_MAX)
				cap = PYSNAP_LINE_MAX;
			nline = realloc(r->line, cap);
			if (!nline)
				return nomem(r);
			r->line = nline;
			/* decoded strings are never longer than the line */
			nscratch = realloc(r->scratch, cap);
			if (!nscratch)
				return nomem(r);
			r->scratch = nscratch;
			r->line_cap = cap;
		}
		memcpy(r->line + r->line_len, p, take);
		r->line_len += take;
		r->out_pos += take;
		if (nl) {
			r->out_pos++;
			return 1;
		}
	}
}

/* ---- JSON (the subset json.dumps writes, parsed strictly) ---- */

struct jp {
	struct pysnap_reader *r;
	const char *p, *end;
};

struct jstr {
	const char *s;   /* in r->scratch */
	size_t len;
};

static void skip_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
				 *j->p == '\r' || *j->p == '\n'))
		j->p++;
}

static int hex4(const char *p, unsigned *v)
{
	unsigned x = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = p[i];

		x <<= 4;
		if (c >= '0' && c <= '9')
			x |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			x |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			x |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*v = x;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string at j->p, decoded into the scratch buffer. Lone surrogates
 * \udc80-\udcff are os.fsdecode's surrogateescape: the raw bytes
 * 0x80-0xff of a name that was not UTF-8. */
static int parse_string(struct jp *j, struct jstr *out)
{
	struct pysnap_reader *r = j->r;
	char *o = r->scratch + r->scratch_len;
	char *start = o;

	if (j->p >= j->end || *j->p != '"')
		return corrupt(r, "string expected");
	j->p++;
	for (;;) {
		unsigned char c;
		unsigned cp, lo;

		if (j->p >= j->end)
			return corrupt(r, "unterminated string");
		c = (unsigned char)*j->p++;
		if (c == '"')
			break;
		if (c < 0x20)
			return corrupt(r, "control character in a string");
		if (c != '\\') {
			*o++ = (char)c;
			continue;
		}
		if (j->p >= j->end)
			return corrupt(r, "unterminated string");
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
			return corrupt(r, "bad escape '\\%c' in a string",
				       c >= 0x20 && c < 0x7f ? c : '?');
		}
		if (j->end - j->p < 4 || hex4(j->p, &cp))
			return corrupt(r, "bad \\u escape in a string");
		j->p += 4;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (j->end - j->p < 6 || j->p[0] != '\\' ||
			    j->p[1] != 'u' || hex4(j->p + 2, &lo) ||
			    lo < 0xdc00 || lo > 0xdfff)
				return corrupt(r, "unpaired surrogate in a string");
			j->p += 6;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		} else if (cp >= 0xdc80 && cp <= 0xdcff) {
			*o++ = (char)(cp - 0xdc00);
			continue;
		} else if (cp >= 0xdc00 && cp <= 0xdfff) {
			return corrupt(r, "unpaired surrogate in a string");
		}
		o += put_utf8(o, cp);
	}
	out->s = start;
	out->len = (size_t)(o - start);
	r->scratch_len += out->len;
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
		return corrupt(j->r, "bad number");
	if (*j->p == '0')
		j->p++;
	else
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	if (j->p < j->end && *j->p == '.') {
		integer = false;
		j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return corrupt(j->r, "bad number");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		integer = false;
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return corrupt(j->r, "bad number");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	n = (size_t)(j->p - s);
	if (n >= sizeof(buf))
		return corrupt(j->r, "number too long");
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	if (integer) {
		long long v = strtoll(buf, &endp, 10);

		if (errno || *endp)
			return corrupt(j->r, "integer out of range");
		*i = v;
		*d = (double)v;
	} else {
		*d = strtod(buf, &endp);
		if (*endp || !isfinite(*d))
			return corrupt(j->r, "number out of range");
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

static int skip_value(struct jp *j, int depth);

/* Skip an object or array after its opening bracket. */
static int skip_container(struct jp *j, char close, int depth)
{
	struct jstr key;
	size_t mark = j->r->scratch_len;
	int rc;

	if (depth > PY_DEPTH_MAX)
		return corrupt(j->r, "nested deeper than %d", PY_DEPTH_MAX);
	skip_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return 0;
	}
	for (;;) {
		skip_ws(j);
		if (close == '}') {
			rc = parse_string(j, &key);
			if (rc)
				return rc;
			j->r->scratch_len = mark;
			skip_ws(j);
			if (j->p >= j->end || *j->p != ':')
				return corrupt(j->r, "':' expected");
			j->p++;
		}
		rc = skip_value(j, depth);
		if (rc)
			return rc;
		skip_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == close) {
			j->p++;
			return 0;
		}
		return corrupt(j->r, "'%c' or ',' expected", close);
	}
}

static int skip_value(struct jp *j, int depth)
{
	struct jstr s;
	size_t mark = j->r->scratch_len;
	bool is_int;
	int64_t i;
	double d;
	int rc;

	skip_ws(j);
	if (j->p >= j->end)
		return corrupt(j->r, "value expected");
	switch (*j->p) {
	case '"':
		rc = parse_string(j, &s);
		j->r->scratch_len = mark;
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

struct rec {
	struct jstr name, md5, type, etag, content_md5, lastmod;
	bool has_name, has_md5, has_size, has_mtime, has_mode, has_created;
	bool has_ino, has_type, has_etag, has_content_md5, has_lastmod;
	bool etag_s3;
	uint64_t size, ino;
	int64_t mode;
	double mtime, created;
};

static int number_field(struct jp *j, const char *key, double *d)
{
	bool is_int;
	int64_t i;

	if (j->p >= j->end || (*j->p != '-' && (*j->p < '0' || *j->p > '9')))
		return corrupt(j->r, "'%s' is not a number", key);
	return parse_number(j, &is_int, &i, d);
}

static int uint_field(struct jp *j, const char *key, uint64_t *v)
{
	bool is_int;
	int64_t i;
	double d;
	int rc;

	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return corrupt(j->r, "'%s' is not a non-negative integer", key);
	rc = parse_number(j, &is_int, &i, &d);
	if (rc)
		return rc;
	if (!is_int)
		return corrupt(j->r, "'%s' is not a non-negative integer", key);
	*v = (uint64_t)i;
	return 0;
}

/* A string, or null (*present false). */
static int string_or_null(struct jp *j, const char *key, struct jstr *s,
			  bool *present)
{
	if (literal(j, "null")) {
		*present = false;
		return 0;
	}
	if (j->p >= j->end || *j->p != '"')
		return corrupt(j->r, "'%s' is not a string", key);
	*present = true;
	return parse_string(j, s);
}

/* content_settings: take content_md5 (a string or null), skip the rest */
static int parse_content_settings(struct jp *j, struct rec *rec)
{
	struct jstr key;
	int rc;

	if (literal(j, "null"))
		return 0;
	if (j->p >= j->end || *j->p != '{')
		return corrupt(j->r, "'content_settings' is not an object");
	j->p++;
	skip_ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return 0;
	}
	for (;;) {
		size_t mark = j->r->scratch_len;

		skip_ws(j);
		rc = parse_string(j, &key);
		if (rc)
			return rc;
		j->r->scratch_len = mark;
		skip_ws(j);
		if (j->p >= j->end || *j->p != ':')
			return corrupt(j->r, "':' expected");
		j->p++;
		skip_ws(j);
		if (key.len == 11 && !memcmp(key.s, "content_md5", 11)) {
			if (rec->has_content_md5)
				return corrupt(j->r, "duplicate key "
					       "'content_md5'");
			rc = string_or_null(j, "content_md5", &rec->content_md5,
					    &rec->has_content_md5);
		} else {
			rc = skip_value(j, 2);
		}
		if (rc)
			return rc;
		skip_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			return 0;
		}
		return corrupt(j->r, "'}' or ',' expected");
	}
}

static int parse_field(struct jp *j, enum field f, struct rec *rec)
{
	const char *key = f < F_COUNT ? field_names[f] : "";
	uint64_t u;
	int rc;

	switch (f) {
	case F_NAME:
		if (j->p >= j->end || *j->p != '"')
			return corrupt(j->r, "'name' is not a string");
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
		rec->mode = (int64_t)u;
		return rc;
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
			return corrupt(j->r, "'type' is not a string");
		rec->has_type = true;
		return parse_string(j, &rec->type);
	case F_ETAG:
	case F_S3_ETAG:
		if (rec->has_etag)
			return corrupt(j->r, "two etags");
		rec->etag_s3 = f == F_S3_ETAG;
		return string_or_null(j, key, &rec->etag, &rec->has_etag);
	case F_CONTENT:
		return parse_content_settings(j, rec);
	case F_LASTMOD:
	case F_S3_LASTMOD:
		if (rec->has_lastmod)
			return corrupt(j->r, "two modification times");
		return string_or_null(j, key, &rec->lastmod, &rec->has_lastmod);
	default:
		return skip_value(j, 1);
	}
}

static int parse_record(struct pysnap_reader *r, struct rec *rec)
{
	struct jp j = { r, r->line, r->line + r->line_len };
	unsigned seen = 0;
	int rc;

	memset(rec, 0, sizeof(*rec));
	r->scratch_len = 0;
	skip_ws(&j);
	if (j.p >= j.end)
		return corrupt(r, "empty line");
	if (*j.p != '{')
		return corrupt(r, "not a JSON object");
	j.p++;
	skip_ws(&j);
	if (j.p < j.end && *j.p == '}') {
		j.p++;
		goto end;
	}
	for (;;) {
		struct jstr key;
		size_t mark = r->scratch_len;
		int f;

		skip_ws(&j);
		rc = parse_string(&j, &key);
		if (rc)
			return rc;
		r->scratch_len = mark;
		skip_ws(&j);
		if (j.p >= j.end || *j.p != ':')
			return corrupt(r, "':' expected");
		j.p++;
		skip_ws(&j);
		for (f = 0; f < F_COUNT; f++)
			if (strlen(field_names[f]) == key.len &&
			    !memcmp(field_names[f], key.s, key.len))
				break;
		if (f < F_COUNT) {
			if (seen & 1u << f)
				return corrupt(r, "duplicate key '%s'",
					       field_names[f]);
			seen |= 1u << f;
		}
		rc = parse_field(&j, (enum field)f, rec);
		if (rc)
			return rc;
		skip_ws(&j);
		if (j.p < j.end && *j.p == ',') {
			j.p++;
			continue;
		}
		if (j.p < j.end && *j.p == '}') {
			j.p++;
			break;
		}
		return corrupt(r, "'}' or ',' expected");
	}
end:
	skip_ws(&j);
	if (j.p != j.end)
		return corrupt(r, "data after the object");
	return 0;
}

/* ---- record -> entry ---- */

int pysnap_float_to_ns(double sec, int64_t *ns)
{
	double whole, frac;
	long long n;

	if (!isfinite(sec) || sec >= 9.2e9 || sec <= -9.2e9)
		return -ERANGE;
	whole = floor(sec);
	frac = sec - whole;
	n = llround(frac * 1e9);
	if (n >= PY_NS_PER_SEC) {
		whole += 1;
		n -= PY_NS_PER_SEC;
	}
	*ns = (int64_t)whole * PY_NS_PER_SEC + n;
	return 0;
}

bool pysnap_mtime_matches(int64_t recorded_ns, int64_t scanned_ns)
{
	int64_t sec = scanned_ns / PY_NS_PER_SEC;
	int64_t nsec = scanned_ns % PY_NS_PER_SEC;
	int64_t back;

	if (recorded_ns == scanned_ns)
		return true;
	if (nsec < 0) {
		sec--;
		nsec += PY_NS_PER_SEC;
	}
	/* distinct doubles of today's times are > 200 ns apart, so equal
	 * conversions mean equal floats */
	if (pysnap_float_to_ns((double)sec + (double)nsec * 1e-9, &back))
		return false;
	return back == recorded_ns;
}

static int unhex_md5(const struct jstr *s, struct objid *id)
{
	size_t i;

	if (s->len != 2 * OBJID_LEN)
		return -1;
	for (i = 0; i < OBJID_LEN; i++) {
		unsigned v;
		char pair[4] = { '0', '0', s->s[2 * i], s->s[2 * i + 1] };

		if (hex4(pair, &v))
			return -1;
		id->b[i] = (uint8_t)v;
	}
	return 0;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* base64 of exactly 16 bytes: 22 characters and "==" */
static int unbase64_md5(const struct jstr *s, struct objid *id)
{
	uint32_t acc = 0;
	size_t i, o = 0;
	int bits = 0;

	if (s->len != 24 || s->s[22] != '=' || s->s[23] != '=')
		return -1;
	for (i = 0; i < 22; i++) {
		int v = b64val(s->s[i]);

		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			id->b[o++] = (uint8_t)(acc >> bits);
		}
	}
	return acc & ((1u << bits) - 1) ? -1 : 0;
}

/* "YYYY-MM-DDTHH:MM:SS[.f...](Z|+HH:MM|-HH:MM)" (isoformat of an aware
 * datetime, as the Python tool records store times) -> ns */
static int parse_iso(const struct jstr *s, int64_t *ns)
{
	char buf[64];
	struct tm tm;
	int y, mo, d, h, mi, sec, consumed = 0, oh, om;
	int64_t frac = 0, scale = 100000000, off = 0;
	const char *p;
	time_t t;

	if (s->len >= sizeof(buf))
		return -1;
	memcpy(buf, s->s, s->len);
	buf[s->len] = '\0';
	if (sscanf(buf, "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &y, &mo, &d, &h,
		   &mi, &sec, &consumed) != 6 || consumed != 19)
		return -1;
	p = buf + consumed;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		for (; *p >= '0' && *p <= '9'; p++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p == 'Z') {
		p++;
	} else if ((*p == '+' || *p == '-') &&
		   sscanf(p + 1, "%2d:%2d", &oh, &om) == 2 && strlen(p) == 6) {
		off = (oh * 3600LL + om * 60) * (*p == '-' ? -1 : 1);
		p += 6;
	} else if (*p) {
		return -1;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*ns = ((int64_t)t - off) * PY_NS_PER_SEC + frac;
	return 0;
}

static int rec_to_entry(struct pysnap_reader *r, struct rec *rec,
			struct entry *e)
{
	const char *why;
	int64_t ns;

	if (!rec->has_name)
		return corrupt(r, "no 'name'");
	if (entry_name_check(rec->name.s, rec->name.len, &why))
		return corrupt(r, "%s", why);
	if (!rec->has_type)
		return corrupt(r, "no 'type'");
	if (rec->type.len != 4 || memcmp(rec->type.s, "file", 4))
		return corrupt(r, "'type' is not \"file\"");
	if (!rec->has_size)
		return corrupt(r, "no 'size'");
	e->type = ENTRY_FILE;
	e->size = rec->size;
	if (rec->has_md5) {
		if (unhex_md5(&rec->md5, &e->md5))
			return corrupt(r, "'md5' is not 32 hex digits");
	} else if (rec->has_content_md5) {
		/* Azure: the store's own Content-MD5, base64 */
		if (unbase64_md5(&rec->content_md5, &e->md5))
			return corrupt(r, "'content_md5' is not the base64 of "
				       "16 bytes");
	} else {
		return corrupt(r, "no 'md5'");
	}
	e->has_md5 = true;
	e->mode = 0644;
	if (rec->has_mode) {
		if ((rec->mode & ~(int64_t)0177777) ||
		    ((mode_t)rec->mode & S_IFMT) != S_IFREG)
			return corrupt(r, "'mode' %" PRId64 " is not a regular "
				       "file's", rec->mode);
		e->mode = (uint32_t)rec->mode & 07777;
	}
	if (rec->has_mtime) {
		if (pysnap_float_to_ns(rec->mtime, &e->mtime_ns))
			return corrupt(r, "'mtime' out of range");
	} else if (rec->has_lastmod) {
		if (parse_iso(&rec->lastmod, &e->mtime_ns))
			return corrupt(r, "bad modification time");
	}
	if (rec->has_created) {
		if (pysnap_float_to_ns(rec->created, &ns))
			return corrupt(r, "'created' out of range");
		e->ctime_ns = ns;
	}
	if (rec->has_ino)
		e->ino = rec->ino;
	if (rec->has_etag) {
		char etag[ENTRY_ETAG_MAX + 1];
		struct jstr t = rec->etag;

		/* as this tool's listings give them: S3 ETags quoted (kept),
		 * Azure etags bare (the Python tool's SDK quotes them) */
		if (!rec->etag_s3 && t.len >= 2 && t.s[0] == '"' &&
		    t.s[t.len - 1] == '"') {
			t.s++;
			t.len -= 2;
		}
		if (t.len == 0 || t.len > ENTRY_ETAG_MAX ||
		    memchr(t.s, '\0', t.len))
			return corrupt(r, "bad etag");
		memcpy(etag, t.s, t.len);
		etag[t.len] = '\0';
		if (entry_set_etag(e, etag))
			return nomem(r);
	}
	if (entry_set_name(e, rec->name.s, rec->name.len))
		return nomem(r);
	return 0;
}

/* ---- the stream ---- */

/* Read the next file into r->pending and check its order. 1, 0 at the
 * end, or -errno. */
static int next_file(struct pysnap_reader *r)
{
	struct rec rec;
	size_t n, i;
	int rc, c;

	rc = read_line(r);
	if (rc <= 0)
		return rc;
	rc = parse_record(r, &rec);
	if (!rc)
		rc = rec_to_entry(r, &rec, &r->pending);
	if (rc) {
		entry_release(&r->pending);
		return rc;
	}
	/* byte order; the Python tool sorted str, which is the same for
	 * UTF-8 names (see README for surrogateescape names) */
	n = r->pending.name_len;
	if (r->has_prev) {
		c = memcmp(r->prev, r->pending.name,
			   n < r->prev_len ? n : r->prev_len);
		if (c == 0)
			c = r->prev_len < n ? -1 : r->prev_len > n;
		if (c >= 0)
			rc = corrupt(r, c ? "names out of order"
					  : "duplicate name");
		else if (r->prev_len < n && r->pending.name[r->prev_len] == '/' &&
			 !memcmp(r->prev, r->pending.name, r->prev_len))
			rc = corrupt(r, "a file is also a directory");
		if (rc) {
			entry_release(&r->pending);
			return rc;
		}
	}
	r->lineno++;
	/* directories already synthesized: those of the previous file that
	 * are a prefix of this name */
	r->dir_pos = 0;
	for (i = 0; r->has_prev && i < n && i < r->prev_len; i++) {
		if (r->prev[i] != r->pending.name[i])
			break;
		if (r->pending.name[i] == '/')
			r->dir_pos = i + 1;
	}
	if (n > r->prev_cap) {
		char *np = realloc(r->prev, n);

		if (!np) {
			entry_release(&r->pending);
			return nomem(r);
		}
		r->prev = np;
		r->prev_cap = n;
	}
	memcpy(r->prev, r->pending.name, n);
	r->prev_len = n;
	r->has_prev = true;
	r->has_pending = true;
	return 1;
}

int pysnap_reader_next(struct pysnap_reader *r, struct entry *out,
		       struct errbuf *eb)
{
	const char *slash;
	int rc;

	entry_init(out);
	if (r->err)
		return errbuf_set(eb, r->err, "%s", r->first.msg);
	if (r->done)
		return 0;
	if (!r->has_pending) {
		rc = next_file(r);
		if (rc == 0) {
			r->done = true;
			return 0;
		}
		if (rc < 0)
			goto fail;
	}
	slash = memchr(r->pending.name + r->dir_pos, '/',
		       r->pending.name_len - r->dir_pos);
	if (slash) {
		size_t len = (size_t)(slash - r->pending.name);

		out->type = ENTRY_DIR;
		/* mkdir applies the umask, as the Python tool's makedirs */
		out->mode = 0777;
		out->no_meta = true;
		if (entry_set_name(out, r->pending.name, len)) {
			rc = nomem(r);
			goto fail;
		}
		r->dir_pos = len + 1;
	} else {
		*out = r->pending;
		entry_init(&r->pending);
		r->has_pending = false;
	}
	r->count++;
	return 1;
fail:
	r->err = rc;
	return errbuf_set(eb, rc, "%s", r->first.msg);
}

int pysnap_reader_new(ssize_t (*read)(void *ctx, void *buf, size_t len),
		      void *ctx, const uint8_t *prefix, size_t prefix_len,
		      const char *display_name, struct pysnap_reader **out,
		      struct errbuf *eb)
{
	struct pysnap_reader *r;
	const char *base;
	int64_t t;

	*out = NULL;
	if (prefix_len > PY_IN_BUF)
		return errbuf_set(eb, -EINVAL,
				  "cannot read snapshot: invalid arguments");
	r = calloc(1, sizeof(*r));
	if (!r)
		return errbuf_set(eb, -ENOMEM,
				  "cannot read snapshot: out of memory");
	r->read = read;
	r->ctx = ctx;
	if (!display_name)
		display_name = "(stream)";
	errbuf_quote_name(r->qname, sizeof(r->qname), display_name,
			  strlen(display_name));
	/* 16 + MAX_WBITS: gzip only, with its CRC-32 and ISIZE checked */
	if (inflateInit2(&r->zs, 16 + MAX_WBITS) != Z_OK) {
		free(r);
		return errbuf_set(eb, -ENOMEM,
				  "cannot read snapshot: out of memory");
	}
	r->z_ready = true;
	memcpy(r->in, prefix, prefix_len);
	r->zs.next_in = r->in;
	r->zs.avail_in = (uInt)prefix_len;
	r->hdr.format = SNAPSHOT_FORMAT_JSONL_GZ;
	snprintf(r->hdr.tool, sizeof(r->hdr.tool), "%s", PYSNAP_TOOL);
	base = strrchr(display_name, '/');
	base = base ? base + 1 : display_name;
	if (!snapstore_parse_name(base, &t, NULL))
		r->hdr.created_ns = t;
	*out = r;
	return 0;
}

const struct snapshot_header *
pysnap_reader_header(const struct pysnap_reader *r)
{
	return r ? &r->hdr : NULL;
}

uint64_t pysnap_reader_count(const struct pysnap_reader *r)
{
	return r ? r->count : 0;
}

void pysnap_reader_free(struct pysnap_reader *r)
{
	if (!r)
		return;
	if (r->z_ready)
		inflateEnd(&r->zs);
	entry_release(&r->pending);
	free(r->line);
	free(r->scratch);
	free(r->prev);
	free(r);
}
