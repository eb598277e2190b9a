/* snapshot_reader_impl: what the files of snapshot_reader share; private
 * to engine/snapshot/.
 *
 *   snapshot_reader.c        the reader's life: opening a file or a
 *                            stream, the magic, the header record, the
 *                            hand-off to pysnap_reader, the messages of a
 *                            corrupt snapshot
 *   snapshot_reader_entry.c  the per-entry path: bytes off the stream,
 *                            frames, records, validated entries, the
 *                            trailer
 *
 * The cut keeps all that snapshot_reader_next runs for one entry in one
 * translation unit: it calls into snapshot_reader.c only on an error. */
#ifndef SNAP_SNAPSHOT_READER_IMPL_H
#define SNAP_SNAPSHOT_READER_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include <msgpack.h>
#include <openssl/evp.h>

#include "entry.h"
#include "errbuf.h"
#include "snapshot.h"
#include "snapshot_format.h"
#include "snapshot_reader.h"

#define READER_IN_BUF (64 * 1024)

#define BIT(k) (UINT64_C(1) << (k))

struct pysnap_reader;

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

/* snapshot_reader.c */

/* Record in r->first that the snapshot is corrupt at byte at (the message
 * names what r->what says is being read). Returns -EBADMSG. */
int snapshot_reader_corrupt(struct snapshot_reader *r, uint64_t at,
			    const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Make r's first error sticky and copy it into eb; returns its code. */
int snapshot_reader_fail(struct snapshot_reader *r, struct errbuf *eb);

/* snapshot_reader_entry.c */

/* Copy up to n bytes of the stream into dst. Returns the count (< n only
 * at the end of the data) or -errno. */
ssize_t snapshot_reader_read_bytes(struct snapshot_reader *r, void *dst,
				   size_t n);
/* Read one frame into r->frame and decode it into r->unp. */
int snapshot_reader_read_frame(struct snapshot_reader *r,
			       const msgpack_object **obj);
/* The frame just read goes into the MD5 the trailer checks. */
int snapshot_reader_hash_frame(struct snapshot_reader *r);
/* Walk a record map: for each key < 64 known to the caller (bit set in
 * known) store the value; reject duplicates; skip everything else. */
int snapshot_reader_record_fields(struct snapshot_reader *r,
				  const msgpack_object *map, uint64_t known,
				  const msgpack_object **vals, uint64_t *seen);
/* Key 16: re-encoded through xattr_encode, which sorts and refuses
 * duplicates and bad names, so what the entry holds is canonical. 0,
 * -EBADMSG with *why, -ENOMEM. */
int snapshot_reader_parse_xattrs(const msgpack_object *v, struct entry *e,
				 const char **why);

/* The values of a record, typed: false when o has another type. */

static inline bool snapshot_reader_get_u64(const msgpack_object *o,
					   uint64_t *v)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return false;
	*v = o->via.u64;
	return true;
}

static inline bool snapshot_reader_get_i64(const msgpack_object *o,
					   int64_t *v)
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

static inline bool snapshot_reader_get_bin(const msgpack_object *o,
					   const char **p, size_t *len)
{
	if (o->type != MSGPACK_OBJECT_BIN)
		return false;
	*p = o->via.bin.ptr;
	*len = o->via.bin.size;
	return true;
}

static inline bool snapshot_reader_get_str(const msgpack_object *o,
					   const char **p, size_t *len)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return false;
	*p = o->via.str.ptr;
	*len = o->via.str.size;
	return true;
}

/* An owner name: a str of 1..SNAPSHOT_OWNER_NAME_MAX bytes, no NUL, copied
 * into buf. false when bad. */
static inline bool snapshot_reader_get_owner_name(const msgpack_object *v,
						  char *buf)
{
	const char *s;
	size_t len;

	if (!snapshot_reader_get_str(v, &s, &len) || len == 0 ||
	    len > SNAPSHOT_OWNER_NAME_MAX || memchr(s, '\0', len))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return true;
}

#endif
