/* pysnap_writer: entry stream -> the Python snapshooter's snapshot bytes
 * (gzip of JSON lines). One line buffer sized for the longest name, one
 * zlib stream, output in 256 KiB writes to the sink: memory is bounded
 * whatever the tree. */
#include "pysnap_writer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#include "pyjson.h"

#include "banned.h"

/* one line: the escaped name plus the other fields (< 512 bytes) */
#define LINE_MAX_BYTES (PYJSON_ESCAPE_MAX(ENTRY_NAME_MAX) + \
			ENTRY_ETAG_MAX * 12 + 1024)

struct pysnap_writer {
	int (*write)(void *ctx, const void *buf, size_t len);
	void *ctx;
	bool store_tree;
	bool finished;
	bool zinit;
	int err;                  /* sticky: first error */
	struct errbuf first;
	uint64_t count;
	uint64_t dirs;
	uint64_t empty_dirs;
	uint64_t symlinks;
	bool pend_dir;            /* the last entry was a directory */
	size_t pend_len;
	size_t prev_len;
	z_stream z;
	char prev[ENTRY_NAME_MAX];
	char pend[ENTRY_NAME_MAX];
	char line[LINE_MAX_BYTES];
	unsigned char out[PYSNAP_WRITER_BUF];
};

static int fail(struct pysnap_writer *w, struct errbuf *eb)
{
	w->err = w->first.code;
	errbuf_set(eb, w->first.code, "%s", w->first.msg);
	return w->err;
}

/* feed len bytes to deflate with flush mode fl; hand every full output
 * buffer (and, at Z_FINISH, the rest) to the sink */
static int deflate_out(struct pysnap_writer *w, const void *buf, size_t len,
		       int fl)
{
	int zr, rc;
	size_t have;

	w->z.next_in = (unsigned char *)(uintptr_t)buf;
	w->z.avail_in = (uInt)len;
	do {
		zr = deflate(&w->z, fl);
		if (zr == Z_STREAM_ERROR)
			return errbuf_set(&w->first, -EIO,
					  "cannot compress snapshot: %s",
					  w->z.msg ? w->z.msg : "zlib error");
		have = sizeof(w->out) - w->z.avail_out;
		if (w->z.avail_out == 0 || (fl == Z_FINISH && have)) {
			rc = w->write(w->ctx, w->out, have);
			if (rc > 0)
				rc = -EIO;
			if (rc < 0)
				return errbuf_set(&w->first, rc,
						  "cannot write snapshot: %s",
						  strerror(-rc));
			w->z.next_out = w->out;
			w->z.avail_out = sizeof(w->out);
		}
	} while (w->z.avail_in || (fl == Z_FINISH && zr != Z_STREAM_END));
	return 0;
}

int pysnap_writer_new(int (*write)(void *ctx, const void *buf, size_t len),
		      void *ctx, bool store_tree, struct pysnap_writer **out,
		      struct errbuf *eb)
{
	struct pysnap_writer *w;

	*out = NULL;
	if (!write)
		return errbuf_set(eb, -EINVAL, "no snapshot sink");
	w = calloc(1, sizeof(*w));
	if (!w)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	w->write = write;
	w->ctx = ctx;
	w->store_tree = store_tree;
	/* level 9 and the default memLevel 8 as Python's gzip module;
	 * windowBits 15 + 16: zlib writes the gzip header and trailer */
	if (deflateInit2(&w->z, 9, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		free(w);
		return errbuf_set(eb, -ENOMEM, "cannot start compression");
	}
	w->zinit = true;
	w->z.next_out = w->out;
	w->z.avail_out = sizeof(w->out);
	*out = w;
	return 0;
}

/* ns since the epoch -> the float CPython's os.stat gives:
 * (double)sec + (double)nsec * 1e-9, sec rounded toward -inf */
static double py_stat_time(int64_t ns)
{
	int64_t sec = ns / 1000000000, nsec = ns % 1000000000;

	if (nsec < 0) {
		nsec += 1000000000;
		sec--;
	}
	return (double)sec + (double)nsec * 1e-9;
}

static size_t put_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return n;
}

static size_t put_float(char *p, double x)
{
	return pyjson_float_repr(x, p);
}

static size_t put_u64(char *p, uint64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%" PRIu64, v);

	memcpy(p, buf, (size_t)n);
	return (size_t)n;
}

static size_t put_name(char *p, const char *key, const char *s, size_t len)
{
	size_t n = put_str(p, key);

	p[n++] = '"';
	n += pyjson_escape(s, len, p + n);
	p[n++] = '"';
	return n;
}

/* json.dumps(record, sort_keys=True): keys in code point order, ", "
 * between members and ": " after keys */
static size_t format_line(const struct pysnap_writer *w,
			  const struct entry *e, char *p)
{
	char hex[OBJID_HEX_LEN + 1];
	size_t n = 0;

	objid_to_hex(&e->md5, hex);
	p[n++] = '{';
	if (w->store_tree) {
		if (e->etag) {
			n += put_name(p + n, "\"etag\": ", e->etag,
				      strlen(e->etag));
			n += put_str(p + n, ", ");
		}
		n += put_str(p + n, "\"md5\": \"");
		n += put_str(p + n, hex);
		n += put_str(p + n, "\", \"mtime\": ");
		n += put_float(p + n, py_stat_time(e->mtime_ns));
		n += put_name(p + n, ", \"name\": ", e->name, e->name_len);
		n += put_str(p + n, ", \"size\": ");
		n += put_u64(p + n, e->size);
		n += put_str(p + n, ", \"type\": \"file\"}");
		return n;
	}
	n += put_str(p + n, "\"created\": ");
	n += put_float(p + n, py_stat_time(e->ctime_ns));
	n += put_str(p + n, ", \"gid\": ");
	n += put_u64(p + n, e->gid);
	n += put_str(p + n, ", \"ino\": ");
	n += put_u64(p + n, e->ino);
	n += put_str(p + n, ", \"islink\": false, \"md5\": \"");
	n += put_str(p + n, hex);
	n += put_str(p + n, "\", \"mode\": ");
	n += put_u64(p + n, S_IFREG | (e->mode & 07777));
	n += put_str(p + n, ", \"mtime\": ");
	n += put_float(p + n, py_stat_time(e->mtime_ns));
	n += put_name(p + n, ", \"name\": ", e->name, e->name_len);
	n += put_str(p + n, ", \"nlink\": ");
	n += put_u64(p + n, e->nlink);
	n += put_str(p + n, ", \"size\": ");
	n += put_u64(p + n, e->size);
	n += put_str(p + n, ", \"type\": \"file\", \"uid\": ");
	n += put_u64(p + n, e->uid);
	p[n++] = '}';
	return n;
}

int pysnap_writer_add(struct pysnap_writer *w, const struct entry *e,
		      struct errbuf *eb)
{
	const char *why;
	size_t n = 0, cmp_len;
	int c;

	if (w->err)
		return errbuf_set(eb, w->err, "%s", w->first.msg);
	if (w->finished)
		return errbuf_set(eb, -EINVAL, "snapshot already finished");
	/* in stream order a directory's children follow it at once */
	if (w->pend_dir && !(e->name_len > w->pend_len &&
			     !memcmp(e->name, w->pend, w->pend_len) &&
			     e->name[w->pend_len] == '/'))
		w->empty_dirs++;
	w->pend_dir = false;
	if (e->type == ENTRY_DIR) {
		w->dirs++;
		if (e->name_len <= sizeof(w->pend)) {
			memcpy(w->pend, e->name, e->name_len);
			w->pend_len = e->name_len;
			w->pend_dir = true;
		}
		return 0;
	}
	if (e->type == ENTRY_SYMLINK) {
		w->symlinks++;
		return 0;
	}
	if (e->type != ENTRY_FILE || !e->has_md5)
		return errbuf_set(eb, -EINVAL, "cannot add entry: %s",
				  e->type != ENTRY_FILE ? "unknown type" :
				  "file without md5");
	if (entry_name_check(e->name, e->name_len, &why))
		return errbuf_set(eb, -EINVAL, "cannot add entry: %s", why);
	if (w->count) {
		cmp_len = e->name_len < w->prev_len ? e->name_len : w->prev_len;
		c = memcmp(w->prev, e->name, cmp_len);
		if (c > 0 || (c == 0 && w->prev_len >= e->name_len))
			return errbuf_set(eb, -EINVAL, "cannot add entry: "
					  "not in name order");
	}
	if (w->count)
		w->line[n++] = '\n';
	n += format_line(w, e, w->line + n);
	if (deflate_out(w, w->line, n, Z_NO_FLUSH))
		return fail(w, eb);
	memcpy(w->prev, e->name, e->name_len);
	w->prev_len = e->name_len;
	w->count++;
	return 0;
}

int pysnap_writer_finish(struct pysnap_writer *w, struct errbuf *eb)
{
	if (w->err)
		return errbuf_set(eb, w->err, "%s", w->first.msg);
	if (w->finished)
		return errbuf_set(eb, -EINVAL, "snapshot already finished");
	w->finished = true;
	if (w->pend_dir)
		w->empty_dirs++;
	w->pend_dir = false;
	if (deflate_out(w, NULL, 0, Z_FINISH))
		return fail(w, eb);
	return 0;
}

uint64_t pysnap_writer_count(const struct pysnap_writer *w)
{
	return w->count;
}

void pysnap_writer_skipped(const struct pysnap_writer *w, uint64_t *dirs,
			   uint64_t *empty_dirs, uint64_t *symlinks)
{
	*dirs = w->dirs;
	*empty_dirs = w->empty_dirs;
	*symlinks = w->symlinks;
}

void pysnap_writer_free(struct pysnap_writer *w)
{
	if (!w)
		return;
	if (w->zinit)
		deflateEnd(&w->z);
	free(w);
}
