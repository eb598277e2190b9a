/* snapshot_writer: entry stream -> snapshot file bytes (snapshot_format.h).
 * One reused, capped frame buffer per record; output buffered in 256 KiB
 * writes to the sink; a running MD5 of all bytes before the trailer. */
#include "snapshot_writer.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "snapshot_format.h"
#include "xattr.h"

#include "banned.h"

struct frame {
	size_t len;        /* payload bytes after the 4-byte length */
	bool overflow;
	uint8_t buf[SNAPSHOT_FRAME_LEN_SIZE + SNAPSHOT_FRAME_MAX];
};

/* The last owner name of one kind a reader decoded, and for which id. */
struct owner_run {
	bool has;
	uint32_t id;
	char name[SNAPSHOT_OWNER_NAME_MAX + 1];   /* "" for none */
};

struct snapshot_writer {
	int (*write)(void *ctx, const void *buf, size_t len);
	void *ctx;
	EVP_MD *md5;
	EVP_MD_CTX *mdctx;
	int err;                  /* sticky: first error */
	struct errbuf first;      /* its message, replayed on later calls */
	bool finished;
	uint64_t count;
	bool has_prev;
	bool prev_is_dir;
	size_t prev_len;
	size_t out_len;
	msgpack_packer pk;
	struct frame frame;
	/* the owner names as a reader decodes them so far (keys 13/14 are
	 * left out while they repeat for the same id) */
	struct owner_run user_run, group_run;
	char prev[ENTRY_NAME_MAX];
	uint8_t out[SNAPSHOT_WRITER_BUF];
};

/* record a sticky error and copy it to the caller's errbuf */
static int fail(struct snapshot_writer *w, struct errbuf *eb)
{
	w->err = w->first.code;
	errbuf_set(eb, w->first.code, "%s", w->first.msg);
	return w->err;
}

static int replay(const struct snapshot_writer *w, struct errbuf *eb)
{
	return errbuf_set(eb, w->err, "%s", w->first.msg);
}

/* msgpack_packer write callback: append to the frame, never grow it */
static int frame_write(void *data, const char *buf, size_t len)
{
	struct frame *f = data;

	if (len > SNAPSHOT_FRAME_MAX - f->len) {
		f->overflow = true;
		return -1;
	}
	memcpy(f->buf + SNAPSHOT_FRAME_LEN_SIZE + f->len, buf, len);
	f->len += len;
	return 0;
}

static int flush(struct snapshot_writer *w)
{
	int rc;

	if (!w->out_len)
		return 0;
	rc = w->write(w->ctx, w->out, w->out_len);
	if (rc > 0)
		rc = -EIO;
	if (rc < 0)
		return errbuf_set(&w->first, rc,
				  "cannot write snapshot: %s", strerror(-rc));
	w->out_len = 0;
	return 0;
}

static int emit(struct snapshot_writer *w, const void *buf, size_t len,
		bool hash)
{
	const uint8_t *p = buf;
	int rc;

	if (hash && !EVP_DigestUpdate(w->mdctx, buf, len))
		return errbuf_set(&w->first, -EIO, "cannot compute md5");
	while (len) {
		size_t n = sizeof(w->out) - w->out_len;

		if (n > len)
			n = len;
		memcpy(w->out + w->out_len, p, n);
		w->out_len += n;
		p += n;
		len -= n;
		if (w->out_len == sizeof(w->out)) {
			rc = flush(w);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static void frame_reset(struct snapshot_writer *w)
{
	w->frame.len = 0;
	w->frame.overflow = false;
}

/* prefix the packed record with its length and append it to the output */
static int frame_emit(struct snapshot_writer *w, int pack_rc, bool hash)
{
	struct frame *f = &w->frame;
	size_t n = f->len;

	if (pack_rc || f->overflow)
		return errbuf_set(&w->first, -E2BIG,
				  "cannot write snapshot: record larger than %d bytes",
				  SNAPSHOT_FRAME_MAX);
	f->buf[0] = (uint8_t)(n >> 24);
	f->buf[1] = (uint8_t)(n >> 16);
	f->buf[2] = (uint8_t)(n >> 8);
	f->buf[3] = (uint8_t)n;
	return emit(w, f->buf, SNAPSHOT_FRAME_LEN_SIZE + n, hash);
}

/* The msgpack_pack_* calls return <0 only when frame_write refused: OR
 * them and check once per record. Each call is a statement of its own:
 * they append to the frame, and the operands of one `|` expression may be
 * evaluated in any order (C11 6.5p3), which would scramble the record. */
static int pack_key(msgpack_packer *pk, unsigned key)
{
	return msgpack_pack_unsigned_int(pk, key);
}

static int pack_bin(msgpack_packer *pk, unsigned key, const void *p,
		    size_t len)
{
	int rc;

	rc = pack_key(pk, key);
	rc |= msgpack_pack_bin(pk, len);
	rc |= msgpack_pack_bin_body(pk, p, len);
	return rc;
}

int snapshot_writer_new(int (*write)(void *ctx, const void *buf, size_t len),
			void *ctx, const struct snapshot_header *h,
			struct snapshot_writer **out, struct errbuf *eb)
{
	struct snapshot_writer *w;
	msgpack_packer *pk;
	int rc;

	if (!write || !h || !out)
		return errbuf_set(eb, -EINVAL,
				  "cannot start snapshot: invalid arguments");
	*out = NULL;
	if (h->version != 0 && h->version != SNAPSHOT_VERSION)
		return errbuf_set(eb, -EINVAL,
				  "cannot start snapshot: unsupported version %u",
				  (unsigned)h->version);
	w = calloc(1, sizeof(*w));
	if (!w)
		return errbuf_set(eb, -ENOMEM,
				  "cannot start snapshot: out of memory");
	w->write = write;
	w->ctx = ctx;
	w->md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	w->mdctx = EVP_MD_CTX_new();
	if (!w->md5 || !w->mdctx || !EVP_DigestInit_ex2(w->mdctx, w->md5, NULL)) {
		char ossl[128];

		ERR_error_string_n(ERR_get_error(), ossl, sizeof(ossl));
		errbuf_set(eb, -EIO, "cannot start snapshot: md5 unavailable: %s",
			   ossl);
		snapshot_writer_free(w);
		return -EIO;
	}
	pk = &w->pk;
	msgpack_packer_init(pk, &w->frame, frame_write);

	rc = emit(w, SNAPSHOT_MAGIC, SNAPSHOT_MAGIC_LEN, true);
	if (!rc) {
		frame_reset(w);
		rc = msgpack_pack_map(pk, 4 + (h->has_root_meta ? 2 : 0) +
				      (h->has_root_owner ? 2 +
				       (h->root_user[0] != '\0') +
				       (h->root_group[0] != '\0') : 0) +
				      (h->has_root_xattrs ? 1 : 0));
		rc |= pack_key(pk, SNAPSHOT_KEY_KIND);
		rc |= msgpack_pack_unsigned_int(pk, SNAPSHOT_REC_HEADER);
		rc |= pack_key(pk, SNAPSHOT_HDR_VERSION);
		rc |= msgpack_pack_unsigned_int(pk, SNAPSHOT_VERSION);
		rc |= pack_key(pk, SNAPSHOT_HDR_CREATED_NS);
		rc |= msgpack_pack_int64(pk, h->created_ns);
		rc |= pack_key(pk, SNAPSHOT_HDR_TOOL);
		rc |= msgpack_pack_str_with_body(pk, SNAPSHOT_TOOL,
						 strlen(SNAPSHOT_TOOL));
		if (h->has_root_meta) {
			rc |= pack_key(pk, SNAPSHOT_HDR_ROOT_MODE);
			rc |= msgpack_pack_unsigned_int(pk, h->root_mode &
							SNAPSHOT_MODE_MASK);
			rc |= pack_key(pk, SNAPSHOT_HDR_ROOT_MTIME_NS);
			rc |= msgpack_pack_int64(pk, h->root_mtime_ns);
		}
		if (h->has_root_owner) {
			rc |= pack_key(pk, SNAPSHOT_HDR_ROOT_UID);
			rc |= msgpack_pack_uint32(pk, h->root_uid);
			rc |= pack_key(pk, SNAPSHOT_HDR_ROOT_GID);
			rc |= msgpack_pack_uint32(pk, h->root_gid);
		}
		if (h->has_root_owner && h->root_user[0]) {
			rc |= pack_key(pk, SNAPSHOT_HDR_ROOT_USER);
			rc |= msgpack_pack_str_with_body(pk, h->root_user,
							 strlen(h->root_user));
		}
		if (h->has_root_owner && h->root_group[0]) {
			rc |= pack_key(pk, SNAPSHOT_HDR_ROOT_GROUP);
			rc |= msgpack_pack_str_with_body(pk, h->root_group,
							 strlen(h->root_group));
		}
		if (h->has_root_xattrs) {
			/* the encoded list is already MessagePack (xattr.h) */
			rc |= pack_key(pk, SNAPSHOT_HDR_ROOT_XATTRS);
			rc |= h->root_xattrs_len ?
			      pk->callback(pk->data,
					   (const char *)h->root_xattrs,
					   h->root_xattrs_len) :
			      msgpack_pack_array(pk, 0);
		}
		rc = frame_emit(w, rc, true);
	}
	if (rc) {
		errbuf_set(eb, rc, "%s", w->first.msg);
		snapshot_writer_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

/* the reason an entry cannot be written, or NULL */
static const char *entry_problem(const struct snapshot_writer *w,
				 const struct entry *e)
{
	const char *why;

	if (entry_name_check(e->name, e->name_len, &why))
		return why;
	switch (e->type) {
	case ENTRY_FILE:
		if (!e->has_md5)
			return "file without md5";
		break;
	case ENTRY_SYMLINK:
		if (!e->target || e->target_len == 0 ||
		    e->target_len > ENTRY_TARGET_MAX ||
		    memchr(e->target, '\0', e->target_len))
			return "invalid symlink target";
		break;
	case ENTRY_DIR:
		break;
	default:
		return "unknown type";
	}
	if (e->etag && strlen(e->etag) > ENTRY_ETAG_MAX)
		return "etag too long";
	if (e->xattrs_known && !e->has_xattr_ref &&
	    e->xattrs_len > XATTRS_INLINE_MAX)
		return "xattrs too large to go inline";
	if (e->xattrs_known && e->has_xattr_ref &&
	    (!e->xattrs_len || e->xattrs_len > XATTRS_LIST_MAX))
		return "bad xattr object size";
	if (e->has_owner &&
	    ((e->user && (!e->user[0] ||
			  strlen(e->user) > SNAPSHOT_OWNER_NAME_MAX)) ||
	     (e->group && (!e->group[0] ||
			   strlen(e->group) > SNAPSHOT_OWNER_NAME_MAX))))
		return "bad owner name";
	if (e->link && (e->type != ENTRY_FILE ||
			entry_name_check(e->link, e->link_len, &why) ||
			entry_key_cmp(e->link, e->link_len, false, e->name,
				      e->name_len, false) >= 0))
		return "bad hard link";
	if (w->has_prev &&
	    entry_key_cmp(w->prev, w->prev_len, w->prev_is_dir, e->name,
			  e->name_len, e->type == ENTRY_DIR) >= 0)
		return "not after the previous entry";
	return NULL;
}

static int check_entry(struct snapshot_writer *w, const struct entry *e)
{
	const char *why;
	char q[128];

	if (!e->name)
		return errbuf_set(&w->first, -EINVAL,
				  "cannot add entry to snapshot: no name");
	why = entry_problem(w, e);
	if (!why)
		return 0;
	/* quoted only on failure: names may hold any byte */
	errbuf_quote_name(q, sizeof(q), e->name, e->name_len);
	return errbuf_set(&w->first, -EINVAL, "cannot add '%s' to snapshot: %s",
			  q, why);
}

/* Must an owner name be written (key 13/14)? Not when a reader would
 * take it from the previous owner entry anyway (same id, same name): a
 * tree's files mostly share an owner, and the names were 3/4 of the
 * bytes keys 11-14 add. A name that is unknown (NULL) is never written. */
static bool name_changes(const struct owner_run *run, uint32_t id,
			 const char *name)
{
	if (!name)
		return false;
	return !run->has || run->id != id || strcmp(run->name, name);
}

/* What a reader holds after an owner entry: the name written, else the
 * one it inherits (same id), else none. */
static void owner_run_take(struct owner_run *run, uint32_t id,
			   const char *written)
{
	if (written)
		memcpy(run->name, written, strlen(written) + 1);
	else if (!run->has || run->id != id)
		run->name[0] = '\0';
	run->has = true;
	run->id = id;
}

/* The owner keys of an entry with one: the ids always, each name only
 * when it must be written (name_changes). */
static int pack_owner(msgpack_packer *pk, const struct entry *e,
		      bool emit_user, bool emit_group)
{
	int rc;

	rc = pack_key(pk, SNAPSHOT_ENT_UID);
	rc |= msgpack_pack_uint32(pk, e->uid);
	rc |= pack_key(pk, SNAPSHOT_ENT_GID);
	rc |= msgpack_pack_uint32(pk, e->gid);
	if (emit_user) {
		rc |= pack_key(pk, SNAPSHOT_ENT_USER);
		rc |= msgpack_pack_str_with_body(pk, e->user, strlen(e->user));
	}
	if (emit_group) {
		rc |= pack_key(pk, SNAPSHOT_ENT_GROUP);
		rc |= msgpack_pack_str_with_body(pk, e->group,
						 strlen(e->group));
	}
	return rc;
}

/* The xattr keys of an entry whose xattrs are known: the object of the
 * list and its size, or the list inline. */
static int pack_xattrs(msgpack_packer *pk, const struct entry *e)
{
	int rc;

	if (e->has_xattr_ref) {
		rc = pack_bin(pk, SNAPSHOT_ENT_XATTR_MD5, e->xattr_md5.b,
			      OBJID_LEN);
		rc |= pack_key(pk, SNAPSHOT_ENT_XATTR_SIZE);
		rc |= msgpack_pack_uint64(pk, e->xattrs_len);
		return rc;
	}
	/* the encoded list is already MessagePack (xattr.h) */
	rc = pack_key(pk, SNAPSHOT_ENT_XATTRS);
	rc |= e->xattrs_len ?
	      pk->callback(pk->data, (const char *)e->xattrs,
			   e->xattrs_len) :
	      msgpack_pack_array(pk, 0);
	return rc;
}

/* An entry record into the frame: a map of the keys it has, in key
 * order. Nonzero when a pack call failed (checked once, frame_emit). */
static int pack_entry(msgpack_packer *pk, const struct entry *e,
		      bool emit_user, bool emit_group)
{
	uint32_t n;
	int rc;

	n = 6 + (e->type == ENTRY_FILE) + (e->type == ENTRY_SYMLINK) +
	    (e->ctime_ns != 0) + (e->ino != 0) + (e->etag != NULL) +
	    (e->has_owner ? 2 + emit_user + emit_group : 0) +
	    (e->link != NULL) +
	    (e->xattrs_known ? 1 + e->has_xattr_ref : 0) +
	    (e->type == ENTRY_FILE && e->sparse);
	rc = msgpack_pack_map(pk, n);
	rc |= pack_key(pk, SNAPSHOT_KEY_KIND);
	rc |= msgpack_pack_unsigned_int(pk, SNAPSHOT_REC_ENTRY);
	rc |= pack_bin(pk, SNAPSHOT_ENT_NAME, e->name, e->name_len);
	rc |= pack_key(pk, SNAPSHOT_ENT_TYPE);
	rc |= msgpack_pack_unsigned_int(pk, e->type);
	rc |= pack_key(pk, SNAPSHOT_ENT_SIZE);
	rc |= msgpack_pack_uint64(pk, e->size);
	rc |= pack_key(pk, SNAPSHOT_ENT_MTIME_NS);
	rc |= msgpack_pack_int64(pk, e->mtime_ns);
	rc |= pack_key(pk, SNAPSHOT_ENT_MODE);
	rc |= msgpack_pack_unsigned_int(pk, e->mode & SNAPSHOT_MODE_MASK);
	if (e->type == ENTRY_FILE)
		rc |= pack_bin(pk, SNAPSHOT_ENT_MD5, e->md5.b, OBJID_LEN);
	if (e->ctime_ns) {
		rc |= pack_key(pk, SNAPSHOT_ENT_CTIME_NS);
		rc |= msgpack_pack_int64(pk, e->ctime_ns);
	}
	if (e->ino) {
		rc |= pack_key(pk, SNAPSHOT_ENT_INO);
		rc |= msgpack_pack_uint64(pk, e->ino);
	}
	if (e->etag) {
		rc |= pack_key(pk, SNAPSHOT_ENT_ETAG);
		rc |= msgpack_pack_str_with_body(pk, e->etag, strlen(e->etag));
	}
	if (e->type == ENTRY_SYMLINK)
		rc |= pack_bin(pk, SNAPSHOT_ENT_TARGET, e->target,
			       e->target_len);
	if (e->has_owner)
		rc |= pack_owner(pk, e, emit_user, emit_group);
	if (e->link)
		rc |= pack_bin(pk, SNAPSHOT_ENT_LINK, e->link, e->link_len);
	if (e->xattrs_known)
		rc |= pack_xattrs(pk, e);
	if (e->type == ENTRY_FILE && e->sparse) {
		rc |= pack_key(pk, SNAPSHOT_ENT_SPARSE);
		rc |= msgpack_pack_true(pk);
	}
	return rc;
}

int snapshot_writer_add(struct snapshot_writer *w, const struct entry *e,
			struct errbuf *eb)
{
	bool emit_user, emit_group;
	int rc;

	if (!w || !e)
		return errbuf_set(eb, -EINVAL,
				  "cannot add entry to snapshot: invalid arguments");
	if (w->err)
		return replay(w, eb);
	if (w->finished) {
		errbuf_set(&w->first, -EINVAL,
			   "cannot add entry to snapshot: already finished");
		return fail(w, eb);
	}
	if (check_entry(w, e))
		return fail(w, eb);

	emit_user = e->has_owner && name_changes(&w->user_run, e->uid, e->user);
	emit_group = e->has_owner &&
		     name_changes(&w->group_run, e->gid, e->group);
	frame_reset(w);
	rc = pack_entry(&w->pk, e, emit_user, emit_group);
	rc = frame_emit(w, rc, true);
	if (rc)
		return fail(w, eb);

	if (e->has_owner) {
		owner_run_take(&w->user_run, e->uid, emit_user ? e->user : NULL);
		owner_run_take(&w->group_run, e->gid,
			       emit_group ? e->group : NULL);
	}
	memcpy(w->prev, e->name, e->name_len);
	w->prev_len = e->name_len;
	w->prev_is_dir = e->type == ENTRY_DIR;
	w->has_prev = true;
	w->count++;
	return 0;
}

int snapshot_writer_finish(struct snapshot_writer *w, struct errbuf *eb)
{
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	msgpack_packer *pk;
	int rc;

	if (!w)
		return errbuf_set(eb, -EINVAL,
				  "cannot finish snapshot: invalid arguments");
	if (w->err)
		return replay(w, eb);
	if (w->finished) {
		errbuf_set(&w->first, -EINVAL,
			   "cannot finish snapshot: already finished");
		return fail(w, eb);
	}
	w->finished = true;
	if (!EVP_DigestFinal_ex(w->mdctx, digest, &dlen) ||
	    dlen != SNAPSHOT_MD5_LEN) {
		errbuf_set(&w->first, -EIO,
			   "cannot finish snapshot: cannot compute md5");
		return fail(w, eb);
	}
	pk = &w->pk;
	frame_reset(w);
	rc = msgpack_pack_map(pk, 3);
	rc |= pack_key(pk, SNAPSHOT_KEY_KIND);
	rc |= msgpack_pack_unsigned_int(pk, SNAPSHOT_REC_TRAILER);
	rc |= pack_key(pk, SNAPSHOT_TRL_COUNT);
	rc |= msgpack_pack_uint64(pk, w->count);
	rc |= pack_bin(pk, SNAPSHOT_TRL_MD5, digest, SNAPSHOT_MD5_LEN);
	rc = frame_emit(w, rc, false);
	if (!rc)
		rc = flush(w);
	if (rc)
		return fail(w, eb);
	return 0;
}

uint64_t snapshot_writer_count(const struct snapshot_writer *w)
{
	return w ? w->count : 0;
}

void snapshot_writer_free(struct snapshot_writer *w)
{
	if (!w)
		return;
	EVP_MD_CTX_free(w->mdctx);
	EVP_MD_free(w->md5);
	free(w);
}
