/* snapshot_reader: snapshot bytes -> frames -> prescan -> msgpack_unpack_next
 * -> validated entries; the trailer closes the MD5 and count check. A file
 * that starts with the gzip magic is the Python tool's format: the reader
 * then only forwards to a pysnap_reader. */
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
#include "snapshot_check.h"
#include "snapshot_format.h"
#include "xattr.h"

#include "banned.h"

#define READER_IN_BUF (64 * 1024)

enum what {
	WHAT_MAGIC = 0,
	WHAT_HEADER,
	WHAT_RECORD,     /* a frame whose kind is not known yet */
	WHAT_ENTRY,
	WHAT_TRAILER,
};

struct snapshot_reader {
	struct pysnap_reader *py; /* the Python format: everything goes here */
	char *display;            /* display name, for pysnap_reader_new */
	ssize_t (*read)(void *ctx, void *buf, size_t len);
	void *ctx;
	int fd;                   /* owned by open_file, else -1 */
	EVP_MD *md5;
	EVP_MD_CTX *mdctx;
	struct snapshot_header hdr;
	msgpack_unpacked unp;
	int err;                  /* sticky */
	struct errbuf first;
	bool done;
	bool eof;
	bool skip_names;          /* snapshot_reader_skip_owner_names */
	/* the owner names decoded last and for which id: an owner entry
	 * without key 13 (14) whose uid (gid) is that id has that name */
	bool has_user_run, has_group_run;
	uint32_t user_run_id, group_run_id;
	char user_run[SNAPSHOT_OWNER_NAME_MAX + 1];
	char group_run[SNAPSHOT_OWNER_NAME_MAX + 1];
	uint64_t off;             /* stream bytes consumed */
	uint64_t count;           /* entries returned */
	uint64_t frame_off;       /* offset of the current frame */
	size_t frame_len;
	enum what what;           /* what is being read, for messages */
	char qname[256];          /* quoted display name */
	bool has_prev;
	bool prev_is_dir;
	size_t prev_len;
	size_t in_pos;
	size_t in_len;
	char prev[ENTRY_NAME_MAX];
	uint8_t frame[SNAPSHOT_FRAME_LEN_SIZE + SNAPSHOT_FRAME_MAX];
	uint8_t in[READER_IN_BUF];
};

static int corrupt(struct snapshot_reader *r, uint64_t at, const char *fmt,
		   ...) __attribute__((format(printf, 3, 4)));

static int corrupt(struct snapshot_reader *r, uint64_t at, const char *fmt,
		   ...)
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

static int fail(struct snapshot_reader *r, struct errbuf *eb)
{
	r->err = r->first.code ? r->first.code : -EIO;
	return errbuf_set(eb, r->err, "%s", r->first.msg);
}

/* Copy up to n bytes of the stream into dst. Returns the count (< n only
 * at the end of the data) or -errno. */
static ssize_t read_bytes(struct snapshot_reader *r, void *dst, size_t n)
{
	uint8_t *d = dst;
	size_t got = 0;

	while (got < n) {
		size_t k;

		if (r->in_pos == r->in_len) {
			ssize_t rd;

			if (r->eof)
				break;
			rd = r->read(r->ctx, r->in, sizeof(r->in));
			if (rd < 0)
				return errbuf_set(&r->first, (int)rd,
						  "cannot read snapshot '%s': %s",
						  r->qname, strerror((int)-rd));
			if (rd == 0 || (size_t)rd > sizeof(r->in)) {
				r->eof = true;
				break;
			}
			r->in_pos = 0;
			r->in_len = (size_t)rd;
		}
		k = r->in_len - r->in_pos;
		if (k > n - got)
			k = n - got;
		memcpy(d + got, r->in + r->in_pos, k);
		r->in_pos += k;
		got += k;
	}
	r->off += got;
	return (ssize_t)got;
}

/* Read one frame into r->frame and decode it into r->unp. */
static int read_frame(struct snapshot_reader *r, const msgpack_object **obj)
{
	uint8_t *p = r->frame + SNAPSHOT_FRAME_LEN_SIZE;
	const char *why = "";
	size_t at = 0, off = 0;
	msgpack_unpack_return ur;
	ssize_t n;
	size_t len;

	r->frame_off = r->off;
	n = read_bytes(r, r->frame, SNAPSHOT_FRAME_LEN_SIZE);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return corrupt(r, r->off, "truncated: %s",
			       r->hdr.version ? "trailer missing"
					      : "header missing");
	if (n < SNAPSHOT_FRAME_LEN_SIZE)
		return corrupt(r, r->frame_off, "truncated frame length");
	len = (size_t)r->frame[0] << 24 | (size_t)r->frame[1] << 16 |
	      (size_t)r->frame[2] << 8 | r->frame[3];
	if (len == 0 || len > SNAPSHOT_FRAME_MAX)
		return corrupt(r, r->frame_off,
			       "frame length %zu outside 1..%d", len,
			       SNAPSHOT_FRAME_MAX);
	n = read_bytes(r, p, len);
	if (n < 0)
		return (int)n;
	if ((size_t)n < len)
		return corrupt(r, r->frame_off,
			       "truncated frame (%zd of %zu bytes)", n, len);
	r->frame_len = len;
	if (snapshot_check_frame(p, len, &why, &at))
		return corrupt(r, r->frame_off + SNAPSHOT_FRAME_LEN_SIZE + at,
			       "bad msgpack: %s", why);
	ur = msgpack_unpack_next(&r->unp, (const char *)p, len, &off);
	if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
		return errbuf_set(&r->first, -ENOMEM,
				  "cannot read snapshot '%s': out of memory",
				  r->qname);
	if (ur != MSGPACK_UNPACK_SUCCESS || off != len)
		return corrupt(r, r->frame_off, "bad msgpack record");
	if (r->unp.data.type != MSGPACK_OBJECT_MAP)
		return corrupt(r, r->frame_off, "record is not a map");
	*obj = &r->unp.data;
	return 0;
}

static int hash_frame(struct snapshot_reader *r)
{
	if (!EVP_DigestUpdate(r->mdctx, r->frame,
			      SNAPSHOT_FRAME_LEN_SIZE + r->frame_len))
		return errbuf_set(&r->first, -EIO,
				  "cannot read snapshot '%s': md5 failed",
				  r->qname);
	return 0;
}

/* Walk a record map: for each key < 64 known to the caller (bit set in
 * known) store the value; reject duplicates; skip everything else. */
static int record_fields(struct snapshot_reader *r, const msgpack_object *map,
			 uint64_t known, const msgpack_object **vals,
			 uint64_t *seen)
{
	uint32_t i;

	*seen = 0;
	for (i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		uint64_t k;

		if (kv->key.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			continue;
		k = kv->key.via.u64;
		if (k >= 64 || !(known & (UINT64_C(1) << k)))
			continue;
		if (*seen & (UINT64_C(1) << k))
			return corrupt(r, r->frame_off, "duplicate key %" PRIu64,
				       k);
		*seen |= UINT64_C(1) << k;
		vals[k] = &kv->val;
	}
	return 0;
}

static bool get_u64(const msgpack_object *o, uint64_t *v)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return false;
	*v = o->via.u64;
	return true;
}

static bool get_i64(const msgpack_object *o, int64_t *v)
{
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*v = o->via.i64;
		return true;
	}
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    o->via.u64 <= INT64_MAX) {
		*v = (int64_t)o->via.u64;
		return true;
	}
	return false;
}

static bool get_bin(const msgpack_object *o, const char **p, size_t *len)
{
	if (o->type != MSGPACK_OBJECT_BIN)
		return false;
	*p = o->via.bin.ptr;
	*len = o->via.bin.size;
	return true;
}

static bool get_str(const msgpack_object *o, const char **p, size_t *len)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return false;
	*p = o->via.str.ptr;
	*len = o->via.str.size;
	return true;
}

#define BIT(k) (UINT64_C(1) << (k))

/* the kind of a record (key 0) */
static int record_kind(struct snapshot_reader *r, const msgpack_object *map,
		       uint64_t *kind)
{
	const msgpack_object *vals[64] = { 0 };
	uint64_t seen;
	int rc;

	rc = record_fields(r, map, BIT(SNAPSHOT_KEY_KIND), vals, &seen);
	if (rc)
		return rc;
	if (!vals[SNAPSHOT_KEY_KIND] || !get_u64(vals[SNAPSHOT_KEY_KIND], kind))
		return corrupt(r, r->frame_off, "record without a kind");
	return 0;
}

static int parse_root_owner(struct snapshot_reader *r,
			    const msgpack_object *const *vals);
static int parse_root_xattrs(struct snapshot_reader *r,
			     const msgpack_object *v);

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
	rc = record_fields(r, map, known, vals, &seen);
	if (rc)
		return rc;
	if (!vals[SNAPSHOT_KEY_KIND] || !get_u64(vals[SNAPSHOT_KEY_KIND], &kind) ||
	    kind != SNAPSHOT_REC_HEADER)
		return corrupt(r, r->frame_off, "first record is not a header");
	v = vals[SNAPSHOT_HDR_VERSION];
	if (!v || !get_u64(v, &version) || version == 0)
		return corrupt(r, r->frame_off, "missing or bad version");
	if (version > SNAPSHOT_VERSION)
		return errbuf_set(&r->first, -ENOTSUP,
				  "cannot read snapshot '%s': format version %" PRIu64
				  " is newer than this program (%d)",
				  r->qname, version, SNAPSHOT_VERSION);
	r->hdr.version = (uint32_t)version;
	v = vals[SNAPSHOT_HDR_CREATED_NS];
	if (!v || !get_i64(v, &r->hdr.created_ns))
		return corrupt(r, r->frame_off, "missing or bad creation time");
	v = vals[SNAPSHOT_HDR_TOOL];
	if (v) {
		if (!get_str(v, &s, &len))
			return corrupt(r, r->frame_off, "bad tool name");
		if (len > SNAPSHOT_TOOL_MAX)
			len = SNAPSHOT_TOOL_MAX;
		errbuf_quote_name(r->hdr.tool, sizeof(r->hdr.tool), s, len);
	}
	v = vals[SNAPSHOT_HDR_ROOT_MODE];
	mt = vals[SNAPSHOT_HDR_ROOT_MTIME_NS];
	if (v || mt) {
		if (!v || !mt || !get_u64(v, &mode) ||
		    mode > SNAPSHOT_MODE_MASK ||
		    !get_i64(mt, &r->hdr.root_mtime_ns))
			return corrupt(r, r->frame_off,
				       "bad root mode or mtime");
		r->hdr.has_root_meta = true;
		r->hdr.root_mode = (uint32_t)mode;
	}
	rc = parse_root_owner(r, vals);
	if (!rc && vals[SNAPSHOT_HDR_ROOT_XATTRS])
		rc = parse_root_xattrs(r, vals[SNAPSHOT_HDR_ROOT_XATTRS]);
	if (rc)
		return rc;
	return hash_frame(r);
}

/* Key 16: re-encoded through xattr_encode, which sorts and refuses
 * duplicates and bad names, so what the entry holds is canonical. 0,
 * -EBADMSG with *why, -ENOMEM. */
static int parse_xattrs(const msgpack_object *v, struct entry *e,
			const char **why)
{
	struct xattr_item *items;
	unsigned char *enc;
	size_t enc_len;
	uint32_t i, n;
	int rc;

	if (v->type != MSGPACK_OBJECT_ARRAY) {
		*why = "xattrs are not a list";
		return -EBADMSG;
	}
	n = v->via.array.size;
	if (n > XATTRS_COUNT_MAX) {
		*why = "too many xattrs";
		return -EBADMSG;
	}
	if (!n)
		return entry_set_xattrs(e, NULL, 0);
	items = calloc(n, sizeof(*items));
	if (!items)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const msgpack_object *pair = &v->via.array.ptr[i];

		if (pair->type != MSGPACK_OBJECT_ARRAY ||
		    pair->via.array.size != 2 ||
		    !get_bin(&pair->via.array.ptr[0], &items[i].name,
			     &items[i].name_len) ||
		    !get_bin(&pair->via.array.ptr[1],
			     (const char **)&items[i].value,
			     &items[i].value_len)) {
			free(items);
			*why = "xattr is not a [name, value] pair of bins";
			return -EBADMSG;
		}
	}
	rc = xattr_encode(items, n, &enc, &enc_len);
	free(items);
	if (rc == -ENOMEM)
		return rc;
	if (rc) {
		*why = "bad, repeated or too large xattr";
		return -EBADMSG;
	}
	free(e->xattrs);
	e->xattrs = enc;
	e->xattrs_len = enc_len;
	e->xattrs_known = true;
	return 0;
}

/* An owner name: a str of 1..SNAPSHOT_OWNER_NAME_MAX bytes, no NUL, copied
 * into buf. false when bad. */
static bool get_owner_name(const msgpack_object *v, char *buf)
{
	const char *s;
	size_t len;

	if (!get_str(v, &s, &len) || len == 0 ||
	    len > SNAPSHOT_OWNER_NAME_MAX || memchr(s, '\0', len))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return true;
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
	if (!u || !g || !get_u64(u, &uid) || !get_u64(g, &gid) ||
	    uid > UINT32_MAX || gid > UINT32_MAX ||
	    (un && !get_owner_name(un, r->hdr.root_user)) ||
	    (gn && !get_owner_name(gn, r->hdr.root_group)))
		return corrupt(r, r->frame_off, "bad root owner");
	r->hdr.has_root_owner = true;
	r->hdr.root_uid = (uint32_t)uid;
	r->hdr.root_gid = (uint32_t)gid;
	return 0;
}

/* header key 10: the root's xattrs, checked and made canonical as an
 * entry's key 16 (parse_xattrs), inline only */
static int parse_root_xattrs(struct snapshot_reader *r,
			     const msgpack_object *v)
{
	const char *why = NULL;
	struct entry e;
	int rc;

	entry_init(&e);
	rc = parse_xattrs(v, &e, &why);
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
		return corrupt(r, r->frame_off, "bad root xattrs: %s", why);
	return 0;
}

/* keys 11-14: uid and gid as a pair, names only with them */
static int parse_owner(struct snapshot_reader *r,
		       const msgpack_object *const *vals, struct entry *e)
{
	const msgpack_object *u = vals[SNAPSHOT_ENT_UID];
	const msgpack_object *g = vals[SNAPSHOT_ENT_GID];
	const msgpack_object *un = vals[SNAPSHOT_ENT_USER];
	const msgpack_object *gn = vals[SNAPSHOT_ENT_GROUP];
	uint64_t uid, gid;

	if (!u && !g && !un && !gn)
		return 0;
	if (!u || !g || !get_u64(u, &uid) || !get_u64(g, &gid) ||
	    uid > UINT32_MAX || gid > UINT32_MAX)
		return corrupt(r, r->frame_off, "bad owner");
	e->has_owner = true;
	e->uid = (uint32_t)uid;
	e->gid = (uint32_t)gid;
	if (r->skip_names)
		return (un && !get_owner_name(un, r->user_run)) ||
		       (gn && !get_owner_name(gn, r->group_run)) ?
		       corrupt(r, r->frame_off, "bad owner name") : 0;
	/* a name left out repeats the last one of the same id */
	if (un ? !get_owner_name(un, r->user_run) :
	    (!r->has_user_run || r->user_run_id != e->uid))
		r->user_run[0] = '\0';
	if (gn ? !get_owner_name(gn, r->group_run) :
	    (!r->has_group_run || r->group_run_id != e->gid))
		r->group_run[0] = '\0';
	if ((un && !r->user_run[0]) || (gn && !r->group_run[0]))
		return corrupt(r, r->frame_off, "bad owner name");
	r->has_user_run = r->has_group_run = true;
	r->user_run_id = e->uid;
	r->group_run_id = e->gid;
	if ((r->user_run[0] || r->group_run[0]) &&
	    entry_set_owner_names(e, r->user_run[0] ? r->user_run : NULL,
				  r->group_run[0] ? r->group_run : NULL))
		return -ENOMEM;
	return 0;
}

static int parse_entry(struct snapshot_reader *r, const msgpack_object *map,
		       struct entry *e)
{
	const uint64_t known = BIT(SNAPSHOT_KEY_KIND) | BIT(SNAPSHOT_ENT_NAME) |
			       BIT(SNAPSHOT_ENT_TYPE) | BIT(SNAPSHOT_ENT_SIZE) |
			       BIT(SNAPSHOT_ENT_MTIME_NS) |
			       BIT(SNAPSHOT_ENT_MODE) | BIT(SNAPSHOT_ENT_MD5) |
			       BIT(SNAPSHOT_ENT_CTIME_NS) |
			       BIT(SNAPSHOT_ENT_INO) | BIT(SNAPSHOT_ENT_ETAG) |
			       BIT(SNAPSHOT_ENT_TARGET) | BIT(SNAPSHOT_ENT_UID) |
			       BIT(SNAPSHOT_ENT_GID) | BIT(SNAPSHOT_ENT_USER) |
			       BIT(SNAPSHOT_ENT_GROUP) | BIT(SNAPSHOT_ENT_LINK) |
			       BIT(SNAPSHOT_ENT_XATTRS) |
			       BIT(SNAPSHOT_ENT_XATTR_MD5) |
			       BIT(SNAPSHOT_ENT_XATTR_SIZE) |
			       BIT(SNAPSHOT_ENT_SPARSE);
	const msgpack_object *vals[64] = { 0 };
	const msgpack_object *v, *v2;
	const char *name, *s, *why;
	size_t name_len, len;
	uint64_t seen, u;
	uint64_t at = r->frame_off;
	int rc;

	rc = record_fields(r, map, known, vals, &seen);
	if (rc)
		return rc;
	v = vals[SNAPSHOT_ENT_NAME];
	if (!v || !get_bin(v, &name, &name_len))
		return corrupt(r, at, "missing or bad name");
	if (entry_name_check(name, name_len, &why))
		return corrupt(r, at, "%s", why);
	v = vals[SNAPSHOT_ENT_TYPE];
	if (!v || !get_u64(v, &u) || u < ENTRY_FILE || u > ENTRY_DIR)
		return corrupt(r, at, "missing or unknown type");
	e->type = (uint8_t)u;
	v = vals[SNAPSHOT_ENT_SIZE];
	if (!v || !get_u64(v, &e->size))
		return corrupt(r, at, "missing or bad size");
	v = vals[SNAPSHOT_ENT_MTIME_NS];
	if (!v || !get_i64(v, &e->mtime_ns))
		return corrupt(r, at, "missing or bad mtime");
	v = vals[SNAPSHOT_ENT_MODE];
	if (!v || !get_u64(v, &u) || u > SNAPSHOT_MODE_MASK)
		return corrupt(r, at, "missing or bad mode");
	e->mode = (uint32_t)u;
	v = vals[SNAPSHOT_ENT_CTIME_NS];
	if (v && !get_i64(v, &e->ctime_ns))
		return corrupt(r, at, "bad ctime");
	v = vals[SNAPSHOT_ENT_INO];
	if (v && !get_u64(v, &e->ino))
		return corrupt(r, at, "bad inode number");

	v = vals[SNAPSHOT_ENT_MD5];
	if (e->type == ENTRY_FILE) {
		if (!v || !get_bin(v, &s, &len) || len != OBJID_LEN)
			return corrupt(r, at, "file without a 16-byte md5");
		memcpy(e->md5.b, s, OBJID_LEN);
		e->has_md5 = true;
	} else if (v) {
		return corrupt(r, at, "md5 on a non-file");
	}
	v = vals[SNAPSHOT_ENT_TARGET];
	if (e->type == ENTRY_SYMLINK) {
		if (!v || !get_bin(v, &s, &len) || len == 0 ||
		    len > ENTRY_TARGET_MAX || memchr(s, '\0', len))
			return corrupt(r, at, "symlink without a valid target");
		if (entry_set_target(e, s, len))
			return -ENOMEM;
	} else if (v) {
		return corrupt(r, at, "target on a non-symlink");
	}
	v = vals[SNAPSHOT_ENT_ETAG];
	if (v) {
		char etag[ENTRY_ETAG_MAX + 1];

		if (!get_str(v, &s, &len) || len > ENTRY_ETAG_MAX ||
		    memchr(s, '\0', len))
			return corrupt(r, at, "bad etag");
		memcpy(etag, s, len);
		etag[len] = '\0';
		if (entry_set_etag(e, etag))
			return -ENOMEM;
	}
	rc = parse_owner(r, vals, e);
	if (rc)
		return rc;
	v = vals[SNAPSHOT_ENT_LINK];
	if (v) {
		if (e->type != ENTRY_FILE || !get_bin(v, &s, &len) ||
		    entry_name_check(s, len, &why) ||
		    entry_key_cmp(s, len, false, name, name_len, false) >= 0)
			return corrupt(r, at, "bad hard link");
		if (entry_set_link(e, s, len))
			return -ENOMEM;
	}
	v = vals[SNAPSHOT_ENT_XATTRS];
	v2 = vals[SNAPSHOT_ENT_XATTR_MD5];
	if (v && (v2 || vals[SNAPSHOT_ENT_XATTR_SIZE]))
		return corrupt(r, at, "xattrs both inline and in the heap");
	if (v) {
		rc = parse_xattrs(v, e, &why);
		if (rc == -ENOMEM)
			return rc;
		if (rc)
			return corrupt(r, at, "%s", why);
	}
	if (v2 || vals[SNAPSHOT_ENT_XATTR_SIZE]) {
		if (!v2 || !get_bin(v2, &s, &len) || len != OBJID_LEN ||
		    !vals[SNAPSHOT_ENT_XATTR_SIZE] ||
		    !get_u64(vals[SNAPSHOT_ENT_XATTR_SIZE], &u) ||
		    u == 0 || u > XATTRS_LIST_MAX)
			return corrupt(r, at, "bad xattr object reference");
		memcpy(e->xattr_md5.b, s, OBJID_LEN);
		e->xattrs_len = (size_t)u;
		e->xattrs_known = true;
		e->has_xattr_ref = true;
	}
	v = vals[SNAPSHOT_ENT_SPARSE];
	if (v) {
		if (v->type != MSGPACK_OBJECT_BOOLEAN || e->type != ENTRY_FILE)
			return corrupt(r, at, "bad sparse flag");
		e->sparse = v->via.boolean;
	}
	if (r->has_prev &&
	    entry_key_cmp(r->prev, r->prev_len, r->prev_is_dir, name, name_len,
			  e->type == ENTRY_DIR) > 0)
		return corrupt(r, at, "entries out of order");
	if (entry_set_name(e, name, name_len))
		return -ENOMEM;
	memcpy(r->prev, name, name_len);
	r->prev_len = name_len;
	r->prev_is_dir = e->type == ENTRY_DIR;
	r->has_prev = true;
	return hash_frame(r);
}

/* The trailer closes the file: count, MD5, and the end of the data. */
static int parse_trailer(struct snapshot_reader *r, const msgpack_object *map)
{
	const uint64_t known = BIT(SNAPSHOT_KEY_KIND) | BIT(SNAPSHOT_TRL_COUNT) |
			       BIT(SNAPSHOT_TRL_MD5);
	const msgpack_object *vals[64] = { 0 };
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	uint64_t seen, count;
	const char *s;
	size_t len;
	uint8_t extra;
	ssize_t n;
	int rc;

	r->what = WHAT_TRAILER;
	rc = record_fields(r, map, known, vals, &seen);
	if (rc)
		return rc;
	if (!vals[SNAPSHOT_TRL_COUNT] ||
	    !get_u64(vals[SNAPSHOT_TRL_COUNT], &count))
		return corrupt(r, r->frame_off, "missing or bad entry count");
	if (!vals[SNAPSHOT_TRL_MD5] || !get_bin(vals[SNAPSHOT_TRL_MD5], &s, &len) ||
	    len != SNAPSHOT_MD5_LEN)
		return corrupt(r, r->frame_off, "missing or bad md5");
	if (count != r->count)
		return corrupt(r, r->frame_off,
			       "entry count %" PRIu64 " but %" PRIu64 " read",
			       count, r->count);
	if (!EVP_DigestFinal_ex(r->mdctx, digest, &dlen) ||
	    dlen != SNAPSHOT_MD5_LEN)
		return errbuf_set(&r->first, -EIO,
				  "cannot read snapshot '%s': md5 failed",
				  r->qname);
	if (memcmp(digest, s, SNAPSHOT_MD5_LEN))
		return corrupt(r, r->frame_off, "checksum mismatch");
	n = read_bytes(r, &extra, 1);
	if (n < 0)
		return (int)n;
	if (n > 0)
		return corrupt(r, r->off - 1, "data after the trailer");
	r->done = true;
	return 0;
}

/* The Python reader reads through this: first what r->in still holds
 * after the magic, then the stream itself. */
static ssize_t outer_read(void *ctx, void *buf, size_t len)
{
	struct snapshot_reader *r = ctx;
	size_t k = r->in_len - r->in_pos;

	if (k == 0)
		return r->eof ? 0 : r->read(r->ctx, buf, len);
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
	n = read_bytes(r, magic, sizeof(magic));
	if (n < 0)
		return fail(r, eb);
	if (pysnap_is_gzip(magic, (size_t)n))
		return start_python(r, magic, (size_t)n, eb);
	if ((size_t)n < sizeof(magic) ||
	    memcmp(magic, SNAPSHOT_MAGIC, SNAPSHOT_MAGIC_LEN)) {
		errbuf_set(&r->first, -EBADMSG,
			   "cannot read snapshot '%s': not a snapshot file (bad magic)",
			   r->qname);
		return fail(r, eb);
	}
	if (!EVP_DigestUpdate(r->mdctx, magic, sizeof(magic))) {
		errbuf_set(&r->first, -EIO,
			   "cannot read snapshot '%s': md5 failed", r->qname);
		return fail(r, eb);
	}
	r->what = WHAT_HEADER;
	rc = read_frame(r, &obj);
	if (!rc)
		rc = parse_header(r, obj);
	if (rc)
		return fail(r, eb);
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

int snapshot_reader_next(struct snapshot_reader *r, struct entry *out,
			 struct errbuf *eb)
{
	const msgpack_object *obj;
	struct entry e = ENTRY_INIT;
	uint64_t kind = 0;
	int rc;

	if (!r || !out)
		return errbuf_set(eb, -EINVAL,
				  "cannot read snapshot: invalid arguments");
	if (r->py)
		return pysnap_reader_next(r->py, out, eb);
	entry_init(out);
	if (r->err)
		return errbuf_set(eb, r->err, "%s", r->first.msg);
	if (r->done)
		return 0;
	/* the kind is unknown until the frame decodes */
	r->what = WHAT_RECORD;
	rc = read_frame(r, &obj);
	if (!rc)
		rc = record_kind(r, obj, &kind);
	if (rc)
		goto fail;
	switch (kind) {
	case SNAPSHOT_REC_ENTRY:
		r->what = WHAT_ENTRY;
		rc = parse_entry(r, obj, &e);
		if (rc == -ENOMEM)
			errbuf_set(&r->first, -ENOMEM,
				   "cannot read snapshot '%s': out of memory",
				   r->qname);
		if (rc)
			goto fail;
		r->count++;
		*out = e;
		return 1;
	case SNAPSHOT_REC_TRAILER:
		rc = parse_trailer(r, obj);
		if (rc)
			goto fail;
		return 0;
	case SNAPSHOT_REC_HEADER:
		rc = corrupt(r, r->frame_off, "second header record");
		goto fail;
	default:
		rc = corrupt(r, r->frame_off, "unknown record kind %" PRIu64,
			     kind);
		goto fail;
	}
fail:
	entry_release(&e);
	(void)rc;
	return fail(r, eb);
}

int snapshot_reader_stream_next(void *reader, struct entry *out,
				struct errbuf *eb)
{
	return snapshot_reader_next(reader, out, eb);
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
