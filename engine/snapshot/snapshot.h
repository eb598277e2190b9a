/* snapshot: what the snapshot writer and reader share: the header of a
 * snapshot file. The byte layout is in snapshot_format.h. */
#ifndef SNAP_SNAPSHOT_H
#define SNAP_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "snapshot_format.h"
#include "xattr.h"

/* The two snapshot file formats: this tool's framed MessagePack
 * (snapshot_format.h) and the Python snapshooter's gzip of JSON lines
 * (one object per file). Snapshot names end in the format's suffix. */
enum snapshot_format {
	SNAPSHOT_FORMAT_MSGPACK = 0,   /* ".msgpack" */
	SNAPSHOT_FORMAT_JSONL_GZ = 1,  /* ".jsonl.gz" */
};

struct snapshot_header {
	uint32_t version;     /* SNAPSHOT_VERSION (the writer takes 0 as it) */
	int64_t created_ns;   /* UTC ns when the scan started */
	/* the root directory's own metadata, when has_root_meta: permission
	 * bits (<= SNAPSHOT_MODE_MASK) and mtime; old snapshots and the
	 * Python format have none */
	bool has_root_meta;
	uint32_t root_mode;
	int64_t root_mtime_ns;
	/* the root directory's owner, when has_root_owner; the names are
	 * "" when not recorded */
	bool has_root_owner;
	uint32_t root_uid;
	uint32_t root_gid;
	char root_user[SNAPSHOT_OWNER_NAME_MAX + 1];
	char root_group[SNAPSHOT_OWNER_NAME_MAX + 1];
	/* the root directory's xattrs and ACLs, when has_root_xattrs: an
	 * encoded list (xattr.h), inline only */
	bool has_root_xattrs;
	size_t root_xattrs_len;
	unsigned char root_xattrs[XATTRS_INLINE_MAX];
	/* reader only: the tool that wrote the file, NUL-terminated ("" if
	 * absent); the writer always records SNAPSHOT_TOOL */
	char tool[SNAPSHOT_TOOL_MAX + 1];
	/* reader only: the format of the file that was read */
	enum snapshot_format format;
};

#endif
