/* snapshot_reader_entry: the per-entry path of snapshot_reader: stream
 * bytes -> frame -> prescan -> msgpack_unpack_next -> a validated entry,
 * up to the trailer that closes the MD5 and count check. Opening, the
 * header and the messages are in snapshot_reader.c. */
#include "snapshot_reader_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <openssl/evp.h>

#include "pysnap_reader.h"
#include "snapshot_check.h"
#include "snapshot_format.h"
#include "xattr.h"

#include "banned.h"

ssize_t snapshot_reader_read_bytes(struct snapshot_reader *r, void *dst,
				   size_t n)
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
			if ((size_t)rd > sizeof(r->in))
				/* a broken source: not "the end", which would
				 * be refused as a truncated snapshot */
				return errbuf_set(&r->first, -EIO,
						  "cannot read snapshot '%s': "
						  "its source returned %zd "
						  "bytes for a read of %zu",
						  r->qname, rd, sizeof(r->in));
			if (rd == 0) {
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

int snapshot_reader_read_frame(struct snapshot_reader *r,
			       const msgpack_object **obj)
{
	uint8_t *p = r->frame + SNAPSHOT_FRAME_LEN_SIZE;
	const char *why = "";
	size_t at = 0, off = 0;
	msgpack_unpack_return ur;
	ssize_t n;
	size_t len;

	r->frame_off = r->off;
	n = snapshot_reader_read_bytes(r, r->frame, SNAPSHOT_FRAME_LEN_SIZE);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return snapshot_reader_corrupt(r, r->off, "truncated: %s",
					       r->hdr.version ?
					       "trailer missing" :
					       "header missing");
	if (n < SNAPSHOT_FRAME_LEN_SIZE)
		return snapshot_reader_corrupt(r, r->frame_off,
					       "truncated frame length");
	len = (size_t)r->frame[0] << 24 | (size_t)r->frame[1] << 16 |
	      (size_t)r->frame[2] << 8 | r->frame[3];
	if (len == 0 || len > SNAPSHOT_FRAME_MAX)
		return snapshot_reader_corrupt(r, r->frame_off,
					       "frame length %zu outside 1..%d",
					       len, SNAPSHOT_FRAME_MAX);
	n = snapshot_reader_read_bytes(r, p, len);
	if (n < 0)
		return (int)n;
	if ((size_t)n < len)
		return snapshot_reader_corrupt(r, r->frame_off,
					       "truncated frame (%zd of %zu bytes)",
					       n, len);
	r->frame_len = len;
	if (snapshot_check_frame(p, len, &why, &at))
		return snapshot_reader_corrupt(r, r->frame_off +
					       SNAPSHOT_FRAME_LEN_SIZE + at,
					       "bad msgpack: %s", why);
	ur = msgpack_unpack_next(&r->unp, (const char *)p, len, &off);
	if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
		return errbuf_set(&r->first, -ENOMEM,
				  "cannot read snapshot '%s': out of memory",
				  r->qname);
	if (ur != MSGPACK_UNPACK_SUCCESS || off != len)
		return snapshot_reader_corrupt(r, r->frame_off,
					       "bad msgpack record");
	if (r->unp.data.type != MSGPACK_OBJECT_MAP)
		return snapshot_reader_corrupt(r, r->frame_off,
					       "record is not a map");
	*obj = &r->unp.data;
	return 0;
}

int snapshot_reader_hash_frame(struct snapshot_reader *r)
{
	if (!EVP_DigestUpdate(r->mdctx, r->frame,
			      SNAPSHOT_FRAME_LEN_SIZE + r->frame_len))
		return errbuf_set(&r->first, -EIO,
				  "cannot read snapshot '%s': md5 failed",
				  r->qname);
	return 0;
}

int snapshot_reader_record_fields(struct snapshot_reader *r,
				  const msgpack_object *map, uint64_t known,
				  const msgpack_object **vals, uint64_t *seen)
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
			return snapshot_reader_corrupt(r, r->frame_off,
						       "duplicate key %" PRIu64,
						       k);
		*seen |= UINT64_C(1) << k;
		vals[k] = &kv->val;
	}
	return 0;
}

/* the kind of a record (key 0) */
static int record_kind(struct snapshot_reader *r, const msgpack_object *map,
		       uint64_t *kind)
{
	const msgpack_object *vals[64] = { 0 };
	uint64_t seen;
	int rc;

	rc = snapshot_reader_record_fields(r, map, BIT(SNAPSHOT_KEY_KIND), vals,
					   &seen);
	if (rc)
		return rc;
	if (!vals[SNAPSHOT_KEY_KIND] ||
	    !snapshot_reader_get_u64(vals[SNAPSHOT_KEY_KIND], kind))
		return snapshot_reader_corrupt(r, r->frame_off,
					       "record without a kind");
	return 0;
}

int snapshot_reader_parse_xattrs(const msgpack_object *v, struct entry *e,
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
		    !snapshot_reader_get_bin(&pair->via.array.ptr[0],
					     &items[i].name,
					     &items[i].name_len) ||
		    !snapshot_reader_get_bin(&pair->via.array.ptr[1],
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
	if (!u || !g || !snapshot_reader_get_u64(u, &uid) ||
	    !snapshot_reader_get_u64(g, &gid) ||
	    uid > UINT32_MAX || gid > UINT32_MAX)
		return snapshot_reader_corrupt(r, r->frame_off, "bad owner");
	e->has_owner = true;
	e->uid = (uint32_t)uid;
	e->gid = (uint32_t)gid;
	if (r->skip_names) {
		if ((un && !snapshot_reader_get_owner_name(un, r->user_run)) ||
		    (gn && !snapshot_reader_get_owner_name(gn, r->group_run)))
			return snapshot_reader_corrupt(r, r->frame_off,
						       "bad owner name");
		return 0;
	}
	/* a name left out repeats the last one of the same id */
	if (un ? !snapshot_reader_get_owner_name(un, r->user_run) :
	    (!r->has_user_run || r->user_run_id != e->uid))
		r->user_run[0] = '\0';
	if (gn ? !snapshot_reader_get_owner_name(gn, r->group_run) :
	    (!r->has_group_run || r->group_run_id != e->gid))
		r->group_run[0] = '\0';
	if ((un && !r->user_run[0]) || (gn && !r->group_run[0]))
		return snapshot_reader_corrupt(r, r->frame_off,
					       "bad owner name");
	r->has_user_run = r->has_group_run = true;
	r->user_run_id = e->uid;
	r->group_run_id = e->gid;
	if ((r->user_run[0] || r->group_run[0]) &&
	    entry_set_owner_names(e, r->user_run[0] ? r->user_run : NULL,
				  r->group_run[0] ? r->group_run : NULL))
		return -ENOMEM;
	return 0;
}

/* keys 1-5, 7, 8: the name (checked; it points into the frame), type,
 * size, mtime and mode every entry has, the ctime and inode number when
 * there */
static int parse_entry_stat(struct snapshot_reader *r,
			    const msgpack_object *const *vals, struct entry *e,
			    const char **name, size_t *name_len)
{
	const msgpack_object *v;
	const char *why;
	uint64_t u;
	uint64_t at = r->frame_off;

	v = vals[SNAPSHOT_ENT_NAME];
	if (!v || !snapshot_reader_get_bin(v, name, name_len))
		return snapshot_reader_corrupt(r, at, "missing or bad name");
	if (entry_name_check(*name, *name_len, &why))
		return snapshot_reader_corrupt(r, at, "%s", why);
	v = vals[SNAPSHOT_ENT_TYPE];
	if (!v || !snapshot_reader_get_u64(v, &u) || u < ENTRY_FILE ||
	    u > ENTRY_DIR)
		return snapshot_reader_corrupt(r, at,
					       "missing or unknown type");
	e->type = (uint8_t)u;
	v = vals[SNAPSHOT_ENT_SIZE];
	if (!v || !snapshot_reader_get_u64(v, &e->size))
		return snapshot_reader_corrupt(r, at, "missing or bad size");
	v = vals[SNAPSHOT_ENT_MTIME_NS];
	if (!v || !snapshot_reader_get_i64(v, &e->mtime_ns))
		return snapshot_reader_corrupt(r, at, "missing or bad mtime");
	v = vals[SNAPSHOT_ENT_MODE];
	if (!v || !snapshot_reader_get_u64(v, &u) || u > SNAPSHOT_MODE_MASK)
		return snapshot_reader_corrupt(r, at, "missing or bad mode");
	e->mode = (uint32_t)u;
	v = vals[SNAPSHOT_ENT_CTIME_NS];
	if (v && !snapshot_reader_get_i64(v, &e->ctime_ns))
		return snapshot_reader_corrupt(r, at, "bad ctime");
	v = vals[SNAPSHOT_ENT_INO];
	if (v && !snapshot_reader_get_u64(v, &e->ino))
		return snapshot_reader_corrupt(r, at, "bad inode number");
	return 0;
}

/* keys 6, 10, 9: the content: a file's md5 and a symlink's target (each
 * required of its type, refused on the others), the etag when there */
static int parse_entry_content(struct snapshot_reader *r,
			       const msgpack_object *const *vals,
			       struct entry *e)
{
	const msgpack_object *v;
	const char *s;
	size_t len;
	uint64_t at = r->frame_off;

	v = vals[SNAPSHOT_ENT_MD5];
	if (e->type == ENTRY_FILE) {
		if (!v || !snapshot_reader_get_bin(v, &s, &len) ||
		    len != OBJID_LEN)
			return snapshot_reader_corrupt(r, at,
						       "file without a 16-byte md5");
		memcpy(e->md5.b, s, OBJID_LEN);
		e->has_md5 = true;
	} else if (v) {
		return snapshot_reader_corrupt(r, at, "md5 on a non-file");
	}
	v = vals[SNAPSHOT_ENT_TARGET];
	if (e->type == ENTRY_SYMLINK) {
		if (!v || !snapshot_reader_get_bin(v, &s, &len) || len == 0 ||
		    len > ENTRY_TARGET_MAX || memchr(s, '\0', len))
			return snapshot_reader_corrupt(r, at,
						       "symlink without a valid target");
		if (entry_set_target(e, s, len))
			return -ENOMEM;
	} else if (v) {
		return snapshot_reader_corrupt(r, at,
					       "target on a non-symlink");
	}
	v = vals[SNAPSHOT_ENT_ETAG];
	if (v) {
		char etag[ENTRY_ETAG_MAX + 1];

		if (!snapshot_reader_get_str(v, &s, &len) ||
		    len > ENTRY_ETAG_MAX || memchr(s, '\0', len))
			return snapshot_reader_corrupt(r, at, "bad etag");
		memcpy(etag, s, len);
		etag[len] = '\0';
		if (entry_set_etag(e, etag))
			return -ENOMEM;
	}
	return 0;
}

/* key 15: a file of a hard-link group names the group's first member,
 * which sorts before it */
static int parse_entry_link(struct snapshot_reader *r,
			    const msgpack_object *const *vals, struct entry *e,
			    const char *name, size_t name_len)
{
	const msgpack_object *v;
	const char *s, *why;
	size_t len;

	v = vals[SNAPSHOT_ENT_LINK];
	if (v) {
		if (e->type != ENTRY_FILE ||
		    !snapshot_reader_get_bin(v, &s, &len) ||
		    entry_name_check(s, len, &why) ||
		    entry_key_cmp(s, len, false, name, name_len, false) >= 0)
			return snapshot_reader_corrupt(r, r->frame_off,
						       "bad hard link");
		if (entry_set_link(e, s, len))
			return -ENOMEM;
	}
	return 0;
}

/* keys 16, 17, 19: the xattrs inline, or the md5 and size of their object
 * in the heap; not both */
static int parse_entry_xattrs(struct snapshot_reader *r,
			      const msgpack_object *const *vals,
			      struct entry *e)
{
	const msgpack_object *v, *v2;
	const char *s, *why;
	size_t len;
	uint64_t u;
	uint64_t at = r->frame_off;
	int rc;

	v = vals[SNAPSHOT_ENT_XATTRS];
	v2 = vals[SNAPSHOT_ENT_XATTR_MD5];
	if (v && (v2 || vals[SNAPSHOT_ENT_XATTR_SIZE]))
		return snapshot_reader_corrupt(r, at,
					       "xattrs both inline and in the heap");
	if (v) {
		rc = snapshot_reader_parse_xattrs(v, e, &why);
		if (rc == -ENOMEM)
			return rc;
		if (rc)
			return snapshot_reader_corrupt(r, at, "%s", why);
	}
	if (v2 || vals[SNAPSHOT_ENT_XATTR_SIZE]) {
		if (!v2 || !snapshot_reader_get_bin(v2, &s, &len) ||
		    len != OBJID_LEN || !vals[SNAPSHOT_ENT_XATTR_SIZE] ||
		    !snapshot_reader_get_u64(vals[SNAPSHOT_ENT_XATTR_SIZE],
					     &u) ||
		    u == 0 || u > XATTRS_LIST_MAX)
			return snapshot_reader_corrupt(r, at,
						       "bad xattr object reference");
		memcpy(e->xattr_md5.b, s, OBJID_LEN);
		e->xattrs_len = (size_t)u;
		e->xattrs_known = true;
		e->has_xattr_ref = true;
	}
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
	const msgpack_object *v;
	const char *name = NULL;   /* set by parse_entry_stat */
	size_t name_len = 0;
	uint64_t seen;
	uint64_t at = r->frame_off;
	int rc;

	rc = snapshot_reader_record_fields(r, map, known, vals, &seen);
	if (rc)
		return rc;
	rc = parse_entry_stat(r, vals, e, &name, &name_len);
	if (rc)
		return rc;
	rc = parse_entry_content(r, vals, e);
	if (rc)
		return rc;
	rc = parse_owner(r, vals, e);
	if (rc)
		return rc;
	rc = parse_entry_link(r, vals, e, name, name_len);
	if (rc)
		return rc;
	rc = parse_entry_xattrs(r, vals, e);
	if (rc)
		return rc;
	v = vals[SNAPSHOT_ENT_SPARSE];
	if (v) {
		if (v->type != MSGPACK_OBJECT_BOOLEAN || e->type != ENTRY_FILE)
			return snapshot_reader_corrupt(r, at,
						       "bad sparse flag");
		e->sparse = v->via.boolean;
	}
	if (r->has_prev &&
	    entry_key_cmp(r->prev, r->prev_len, r->prev_is_dir, name, name_len,
			  e->type == ENTRY_DIR) > 0)
		return snapshot_reader_corrupt(r, at, "entries out of order");
	if (entry_set_name(e, name, name_len))
		return -ENOMEM;
	memcpy(r->prev, name, name_len);
	r->prev_len = name_len;
	r->prev_is_dir = e->type == ENTRY_DIR;
	r->has_prev = true;
	return snapshot_reader_hash_frame(r);
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
	rc = snapshot_reader_record_fields(r, map, known, vals, &seen);
	if (rc)
		return rc;
	if (!vals[SNAPSHOT_TRL_COUNT] ||
	    !snapshot_reader_get_u64(vals[SNAPSHOT_TRL_COUNT], &count))
		return snapshot_reader_corrupt(r, r->frame_off,
					       "missing or bad entry count");
	if (!vals[SNAPSHOT_TRL_MD5] ||
	    !snapshot_reader_get_bin(vals[SNAPSHOT_TRL_MD5], &s, &len) ||
	    len != SNAPSHOT_MD5_LEN)
		return snapshot_reader_corrupt(r, r->frame_off,
					       "missing or bad md5");
	if (count != r->count)
		return snapshot_reader_corrupt(r, r->frame_off,
					       "entry count %" PRIu64
					       " but %" PRIu64 " read",
					       count, r->count);
	if (!EVP_DigestFinal_ex(r->mdctx, digest, &dlen) ||
	    dlen != SNAPSHOT_MD5_LEN)
		return errbuf_set(&r->first, -EIO,
				  "cannot read snapshot '%s': md5 failed",
				  r->qname);
	if (memcmp(digest, s, SNAPSHOT_MD5_LEN))
		return snapshot_reader_corrupt(r, r->frame_off,
					       "checksum mismatch");
	n = snapshot_reader_read_bytes(r, &extra, 1);
	if (n < 0)
		return (int)n;
	if (n > 0)
		return snapshot_reader_corrupt(r, r->off - 1,
					       "data after the trailer");
	r->done = true;
	return 0;
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
	rc = snapshot_reader_read_frame(r, &obj);
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
		rc = snapshot_reader_corrupt(r, r->frame_off,
					     "second header record");
		goto fail;
	default:
		rc = snapshot_reader_corrupt(r, r->frame_off,
					     "unknown record kind %" PRIu64,
					     kind);
		goto fail;
	}
fail:
	entry_release(&e);
	(void)rc;
	return snapshot_reader_fail(r, eb);
}

int snapshot_reader_stream_next(void *reader, struct entry *out,
				struct errbuf *eb)
{
	return snapshot_reader_next(reader, out, eb);
}
