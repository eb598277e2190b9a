/* pysnap_reader: gzip members -> inflate -> lines -> records (parsed by
 * pysnap_json) -> validated file entries, with the missing parent
 * directories synthesized in front of the first file inside them. */
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

#include "pysnap_json.h"
#include "snapshot_name.h"

#include "banned.h"

#define PY_IN_BUF (64 * 1024)
#define PY_OUT_BUF (64 * 1024)
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
	char *scratch;            /* pysnap_rec_parse's strings */
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
static int unbase64_md5(const struct pysnap_str *s, struct objid *id)
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
static int parse_iso(const struct pysnap_str *s, int64_t *ns)
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

static int rec_to_entry(struct pysnap_reader *r, struct pysnap_rec *rec,
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
		if (objid_from_hex(rec->md5.s, rec->md5.len, &e->md5))
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
		struct pysnap_str t = rec->etag;

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
	struct pysnap_rec rec;
	struct errbuf jeb = ERRBUF_INIT;
	size_t n, i;
	int rc, c;

	rc = read_line(r);
	if (rc <= 0)
		return rc;
	rc = pysnap_rec_parse(r->line, r->line_len, r->scratch, &rec, &jeb);
	if (rc)
		rc = corrupt(r, "%s", jeb.msg);
	else
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
