/* snapshot_reader: snapshot bytes -> frames -> prescan -> msgpack_unpack_next
 * -> validated entries; the trailer closes the MD5 and count check. A file
 * that starts with the gzip magic is the Python tool's format: the reader
 * then only forwards to a pysnap_reader. This file opens the reader and
 * reads up to the header; snapshot_reader_entry.c reads the entries. */
#include "snapshot_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "fdio.h"
#include "pysnap_reader.h"
#include "snapshot_format.h"
#include "snapshot_reader_impl.h"

#include "banned.h"

int snapshot_reader_corrupt(struct snapshot_reader *r, uint64_t at,
			    const char *fmt, ...)
{
	char reason[256];
	char what[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	/* formatted only on failure: the hot path stores an enum */
	switch (r->what) {
	case WHAT_MAGIC:
		snprintf(what, sizeof(what), "magic");
		break;
	case WHAT_HEADER:
		snprintf(what, sizeof(what), "header");
		break;
	case WHAT_RECORD:
		if (r->count)
			snprintf(what, sizeof(what),
				 "record after entry %" PRIu64, r->count);
		else
			snprintf(what, sizeof(what), "record after the header");
		break;
	case WHAT_ENTRY:
		snprintf(what, sizeof(what), "entry %" PRIu64, r->count + 1);
		break;
	default:
		snprintf(what, sizeof(what), "trailer");
		break;
	}
	return errbuf_set(&r->first, -EBADMSG,
			  "corrupt snapshot '%s': %s at byte %" PRIu64 ": %s",
			  r->qname, what, at, reason);
}

int snapshot_reader_fail(struct snapshot_reader *r, struct errbuf *eb)
{
	r->err = r->first.code ? r->first.code : -EIO;
	return errbuf_set(eb, r->err, "%s", r->first.msg);
}

/* header keys 6-9: the root's owner, as entry keys 11-14 */
static int parse_root_owner(struct snapshot_reader *r,
			    const msgpack_object *const *vals)
{
	const msgpack_object *u = vals[SNAPSHOT_HDR_ROOT_UID];
	const msgpack_object *g = vals[SNAPSHOT_HDR_ROOT_GID];
	const msgpack_object *un = vals[SNAPSHOT_HDR_ROOT_USER];
	const msgpack_object *gn = vals[SNAPSHOT_HDR_ROOT_GROUP];
	uint64_t uid, gid;

	if (!u && !g && !un && !gn)
		return 0;
	if (!u || !g || !snapshot_reader_get_u64(u, &uid) ||
	    !snapshot_reader_get_u64(g, &gid) ||
	    uid > UINT32_MAX || gid > UINT32_MAX ||
	    (un && !snapshot_reader_get_owner_name(un, r->hdr.root_user)) ||
	    (gn && !snapshot_reader_get_owner_name(gn, r->hdr.root_group)))
		return snapshot_reader_corrupt(r, r->frame_off,
					       "bad root owner");
	r->hdr.has_root_owner = true;
	r->hdr.root_uid = (uint32_t)uid;
	r->hdr.root_gid = (uint32_t)gid;
	return 0;
}

/* header key 10: the root's xattrs, checked and made canonical as an
 * entry's key 16 (snapshot_reader_parse_xattrs), inline only */
static int parse_root_xattrs(struct snapshot_reader *r,
			     const msgpack_object *v)
{
	const char *why = NULL;
	struct entry e;
	int rc;

	entry_init(&e);
	rc = snapshot_reader_parse_xattrs(v, &e, &why);
	if (!rc && e.xattrs_len > sizeof(r->hdr.root_xattrs)) {
		rc = -EBADMSG;
		why = "root xattrs too large to go inline";
	}
	if (!rc) {
		if (e.xattrs_len)
			memcpy(r->hdr.root_xattrs, e.xattrs, e.xattrs_len);
		r->hdr.root_xattrs_len = e.xattrs_len;
		r->hdr.has_root_xattrs = true;
	}
	entry_release(&e);
	if (rc == -ENOMEM)
		return rc;
	if (rc)
		return snapshot_reader_corrupt(r, r->frame_off,
					       "bad root xattrs: %s", why);
	return 0;
}

static int parse_header(struct snapshot_reader *r, const msgpack_object *map)
{
	const uint64_t known = BIT(SNAPSHOT_KEY_KIND) |
			       BIT(SNAPSHOT_HDR_VERSION) |
			       BIT(SNAPSHOT_HDR_CREATED_NS) |
			       BIT(SNAPSHOT_HDR_TOOL) |
			       BIT(SNAPSHOT_HDR_ROOT_MODE) |
			       BIT(SNAPSHOT_HDR_ROOT_MTIME_NS) |
			       BIT(SNAPSHOT_HDR_ROOT_UID) |
			       BIT(SNAPSHOT_HDR_ROOT_GID) |
			       BIT(SNAPSHOT_HDR_ROOT_USER) |
			       BIT(SNAPSHOT_HDR_ROOT_GROUP) |
			       BIT(SNAPSHOT_HDR_ROOT_XATTRS);
	const msgpack_object *vals[64] = { 0 };
	const msgpack_object *v, *mt;
	uint64_t seen, kind, version, mode;
	const char *s;
	size_t len;
	int rc;

	r->what = WHAT_HEADER;
	rc = snapshot_reader_record_fields(r, map, known, vals, &seen);
	if (rc)
		return rc;
	if (!vals[SNAPSHOT_KEY_KIND] ||
	    !snapshot_reader_get_u64(vals[SNAPSHOT_KEY_KIND], &kind) ||
	    kind != SNAPSHOT_REC_HEADER)
		return snapshot_reader_corrupt(r, r->frame_off,
					       "first record is not a header");
	v = vals[SNAPSHOT_HDR_VERSION];
	if (!v || !snapshot_reader_get_u64(v, &version) || version == 0)
		return snapshot_reader_corrupt(r, r->frame_off,
					       "missing or bad version");
	if (version > SNAPSHOT_VERSION)
		return errbuf_set(&r->first, -ENOTSUP,
				  "cannot read snapshot '%s': format version %" PRIu64
				  " is newer than this program (%d)",
				  r->qname, version, SNAPSHOT_VERSION);
	r->hdr.version = (uint32_t)version;
	v = vals[SNAPSHOT_HDR_CREATED_NS];
	if (!v || !snapshot_reader_get_i64(v, &r->hdr.created_ns))
		return snapshot_reader_corrupt(r, r->frame_off,
					       "missing or bad creation time");
	v = vals[SNAPSHOT_HDR_TOOL];
	if (v) {
		if (!snapshot_reader_get_str(v, &s, &len))
			return snapshot_reader_corrupt(r, r->frame_off,
						       "bad tool name");
		if (len > SNAPSHOT_TOOL_MAX)
			len = SNAPSHOT_TOOL_MAX;
		errbuf_quote_name(r->hdr.tool, sizeof(r->hdr.tool), s, len);
	}
	v = vals[SNAPSHOT_HDR_ROOT_MODE];
	mt = vals[SNAPSHOT_HDR_ROOT_MTIME_NS];
	if (v || mt) {
		if (!v || !mt || !snapshot_reader_get_u64(v, &mode) ||
		    mode > SNAPSHOT_MODE_MASK ||
		    !snapshot_reader_get_i64(mt, &r->hdr.root_mtime_ns))
			return snapshot_reader_corrupt(r, r->frame_off,
						       "bad root mode or mtime");
		r->hdr.has_root_meta = true;
		r->hdr.root_mode = (uint32_t)mode;
	}
	rc = parse_root_owner(r, vals);
	if (!rc && vals[SNAPSHOT_HDR_ROOT_XATTRS])
		rc = parse_root_xattrs(r, vals[SNAPSHOT_HDR_ROOT_XATTRS]);
	if (rc)
		return rc;
	return snapshot_reader_hash_frame(r);
}

/* The Python reader reads through this: first what r->in still holds
 * after the magic, then the stream itself. */
static ssize_t outer_read(void *ctx, void *buf, size_t len)
{
	struct snapshot_reader *r = ctx;
	size_t k = r->in_len - r->in_pos;

	if (k == 0) {
		ssize_t rd = r->eof ? 0 : r->read(r->ctx, buf, len);

		/* more than asked: a broken source, not data */
		return rd > (ssize_t)len ? -EIO : rd;
	}
	if (k > len)
		k = len;
	memcpy(buf, r->in + r->in_pos, k);
	r->in_pos += k;
	return (ssize_t)k;
}

static int start_python(struct snapshot_reader *r, const uint8_t *magic,
			size_t n, struct errbuf *eb)
{
	return pysnap_reader_new(outer_read, r, magic, n, r->display, &r->py,
				 eb);
}

static int reader_start(struct snapshot_reader *r, struct errbuf *eb)
{
	uint8_t magic[SNAPSHOT_MAGIC_LEN];
	const msgpack_object *obj;
	ssize_t n;
	int rc;

	r->md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	r->mdctx = EVP_MD_CTX_new();
	if (!r->md5 || !r->mdctx || !EVP_DigestInit_ex2(r->mdctx, r->md5, NULL)) {
		char ossl[128];

		ERR_error_string_n(ERR_get_error(), ossl, sizeof(ossl));
		return errbuf_set(eb, -EIO,
				  "cannot read snapshot '%s': md5 unavailable: %s",
				  r->qname, ossl);
	}
	r->what = WHAT_MAGIC;
	n = snapshot_reader_read_bytes(r, magic, sizeof(magic));
	if (n < 0)
		return snapshot_reader_fail(r, eb);
	if (pysnap_is_gzip(magic, (size_t)n))
		return start_python(r, magic, (size_t)n, eb);
	if ((size_t)n < sizeof(magic) ||
	    memcmp(magic, SNAPSHOT_MAGIC, SNAPSHOT_MAGIC_LEN)) {
		errbuf_set(&r->first, -EBADMSG,
			   "cannot read snapshot '%s': not a snapshot file (bad magic)",
			   r->qname);
		return snapshot_reader_fail(r, eb);
	}
	if (!EVP_DigestUpdate(r->mdctx, magic, sizeof(magic))) {
		errbuf_set(&r->first, -EIO,
			   "cannot read snapshot '%s': md5 failed", r->qname);
		return snapshot_reader_fail(r, eb);
	}
	r->what = WHAT_HEADER;
	rc = snapshot_reader_read_frame(r, &obj);
	if (!rc)
		rc = parse_header(r, obj);
	if (rc)
		return snapshot_reader_fail(r, eb);
	return 0;
}

static struct snapshot_reader *reader_alloc(const char *display_name)
{
	struct snapshot_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->fd = -1;
	if (!display_name)
		display_name = "(stream)";
	r->display = strdup(display_name);
	if (!r->display) {
		free(r);
		return NULL;
	}
	errbuf_quote_name(r->qname, sizeof(r->qname), display_name,
			  strlen(display_name));
	msgpack_unpacked_init(&r->unp);
	return r;
}

void snapshot_reader_skip_owner_names(struct snapshot_reader *r)
{
	r->skip_names = true;
}

int snapshot_reader_new(ssize_t (*read)(void *ctx, void *buf, size_t len),
			void *ctx, const char *display_name,
			struct snapshot_reader **out, struct errbuf *eb)
{
	struct snapshot_reader *r;
	int rc;

	if (!read || !out)
		return errbuf_set(eb, -EINVAL,
				  "cannot read snapshot: invalid arguments");
	*out = NULL;
	r = reader_alloc(display_name);
	if (!r)
		return errbuf_set(eb, -ENOMEM,
				  "cannot read snapshot: out of memory");
	r->read = read;
	r->ctx = ctx;
	rc = reader_start(r, eb);
	if (rc) {
		snapshot_reader_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

static ssize_t fd_read(void *ctx, void *buf, size_t len)
{
	return fdio_read(*(const int *)ctx, buf, len);
}

int snapshot_reader_open_file(const char *path, struct snapshot_reader **out,
			      struct errbuf *eb)
{
	struct snapshot_reader *r;
	int rc;

	if (!path || !out)
		return errbuf_set(eb, -EINVAL,
				  "cannot open snapshot: invalid arguments");
	*out = NULL;
	r = reader_alloc(path);
	if (!r)
		return errbuf_set(eb, -ENOMEM,
				  "cannot open snapshot: out of memory");
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		rc = errbuf_set(eb, -errno, "cannot open snapshot '%s': %s",
				r->qname, strerror(errno));
		snapshot_reader_free(r);
		return rc;
	}
	r->read = fd_read;
	r->ctx = &r->fd;
	rc = reader_start(r, eb);
	if (rc) {
		snapshot_reader_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

const struct snapshot_header *
snapshot_reader_header(const struct snapshot_reader *r)
{
	if (r && r->py)
		return pysnap_reader_header(r->py);
	return r ? &r->hdr : NULL;
}

uint64_t snapshot_reader_count(const struct snapshot_reader *r)
{
	if (r && r->py)
		return pysnap_reader_count(r->py);
	return r ? r->count : 0;
}

void snapshot_reader_free(struct snapshot_reader *r)
{
	if (!r)
		return;
	pysnap_reader_free(r->py);
	free(r->display);
	msgpack_unpacked_destroy(&r->unp);
	EVP_MD_CTX_free(r->mdctx);
	EVP_MD_free(r->md5);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}
