/* snapshot_format: the on-disk byte layout of a snapshot file, shared by
 * the writer, the reader and the frame prescan. Changing anything here
 * changes the file format: bump SNAPSHOT_VERSION. */
#ifndef SNAP_SNAPSHOT_FORMAT_H
#define SNAP_SNAPSHOT_FORMAT_H

/*
 * A snapshot file:
 *
 *   +--------+---------+---------+-----+---------+---------+
 *   | magic  | frame 0 | frame 1 | ... | frame n | trailer |  EOF
 *   | 8 B    | header  | entry   |     | entry   | frame   |
 *   +--------+---------+---------+-----+---------+---------+
 *
 *   magic = 89 53 4e 50 0d 0a 1a 0a   ("\x89SNP\r\n\x1a\n", PNG style:
 *           the high byte catches 7-bit transfers, CR LF and LF catch
 *           newline conversion, ^Z stops DOS type)
 *
 * Every frame:
 *
 *   +-----------------+---------------------------------------------+
 *   | u32 len (BE)    | len bytes: exactly one MessagePack map      |
 *   +-----------------+---------------------------------------------+
 *     1 <= len <= SNAPSHOT_FRAME_MAX; the map has small non-negative
 *     integer keys; key 0 (SNAPSHOT_KEY_KIND) gives the record kind.
 *     Readers skip keys they do not know (forward compatible); a key
 *     may appear once per map.
 *
 * Header record (kind 1), always the first frame:
 *   { 0: 1, 1: version (uint, 1), 2: created_ns (int64, UTC ns when the
 *     scan started), 3: tool (str, e.g. "snapshooter-c 0.1.0", optional),
 *     4: root_mode (uint <= 07777, optional), 5: root_mtime_ns (int64,
 *     optional),
 *   6: root_uid (uint, optional), 7: root_gid (uint, optional),
 *   8: root_user (str, optional), 9: root_group (str, optional),
 *   10: root_xattrs (xattr list, optional) }
 *   6-9 are the root directory's owner, with the rules of entry keys
 *   11-14 (6 and 7 as a pair, names only with them). 10 is the root
 *   directory's xattrs and ACLs, encoded as entry key 16 and inline only
 *   (at most XATTRS_INLINE_MAX bytes; a longer list is not recorded).
 *   4 and 5 are the root directory's own permission bits and mtime;
 *   writers give both or neither, readers take them only as a pair.
 *   They came after version 1 was out: old readers skip them, old files
 *   lack them (restore then leaves the root's metadata alone).
 *
 * Entry record (kind 2), one per entry, strictly ascending in entry_cmp
 * order (a reader passes an entry equal to its predecessor through):
 *   { 0: 2,
 *     1: name      bin   relative '/'-separated path (entry_name_check)
 *     2: type      uint  1 file, 2 symlink, 3 directory (every one, before its contents)
 *     3: size      uint  bytes (0 for directories)
 *     4: mtime_ns  int64
 *     5: mode      uint  permission bits, <= 07777
 *     6: md5       bin16 content MD5, files only (required for files)
 *     7: ctime_ns  int64 (optional, 0 when unknown)
 *     8: ino       uint  (optional, 0 when unknown)
 *     9: etag      str   object-store etag (optional, <= ENTRY_ETAG_MAX)
 *    10: target    bin   symlink target, symlinks only (required there,
 *                        <= ENTRY_TARGET_MAX bytes, no NUL)
 *    11: uid       uint  owner's user id   (optional; 11 and 12 as a pair)
 *    12: gid       uint  owner's group id  (optional)
 *    13: user      str   owner's user name (optional, needs 11/12,
 *                        1..SNAPSHOT_OWNER_NAME_MAX bytes, no NUL);
 *                        left out while it repeats: an entry with 11
 *                        but no 13 has the user name of the previous
 *                        entry with 11, if that had the same uid (else
 *                        none)
 *    14: group     str   owner's group name (optional, same rules, by
 *                        gid)
 *    15: link      bin   files only (optional): this file is a hard link
 *                        of the earlier file of that name, the first
 *                        member of its link group in snapshot order
 *                        (entry_name_check; sorts before this entry)
 *    16: xattrs    array of [name bin, value bin], sorted by name, no
 *                        name twice (xattr.h); present (maybe empty) when
 *                        the xattrs were recorded, absent: unknown.
 *                        Encoded at most XATTRS_INLINE_MAX bytes, else:
 *    17: xattr_md5 bin16 the heap object holding the encoded list
 *    19: xattr_size uint its size (<= XATTRS_LIST_MAX); 17 and 19 go
 *                        together, never with 16
 *    18: sparse    bool  true: a file with holes, restored with holes
 *                        (files only, optional) }
 *   Keys 11-19 came after version 1 was out, like header keys 4/5: old
 *   readers skip them (and restore a link group as separate files, each
 *   entry keeping its own md5, size and mode); old files lack them
 *   (restore then leaves owners and xattrs alone).
 *
 * Trailer record (kind 3), the last frame; nothing may follow it:
 *   { 0: 3, 1: entry count (uint), 2: md5 (bin16) of every byte of the
 *     file before the trailer frame (magic, header and entry frames) }
 *
 * A missing trailer (truncated file), a count or MD5 mismatch, bytes after
 * the trailer, an oversized frame or a frame that fails the prescan
 * (snapshot_check.h) make the whole file corrupt.
 */

#define SNAPSHOT_MAGIC "\x89SNP\r\n\x1a\n"
#define SNAPSHOT_MAGIC_LEN 8
#define SNAPSHOT_VERSION 1
#define SNAPSHOT_TOOL "snapshooter-c 0.1.0"
#define SNAPSHOT_TOOL_MAX 63

#define SNAPSHOT_FRAME_LEN_SIZE 4
/* A frame holds one record: the largest entry is a 16 KiB name, a 16 KiB
 * link name or a 4 KiB target, a 256 B etag, two 255 B owner names and
 * ~100 B of keys and numbers. */
#define SNAPSHOT_FRAME_MAX (64 * 1024)
/* Prescan limit on container nesting (records use depth 1). */
#define SNAPSHOT_DEPTH_MAX 8

enum snapshot_record_kind {
	SNAPSHOT_REC_HEADER = 1,
	SNAPSHOT_REC_ENTRY = 2,
	SNAPSHOT_REC_TRAILER = 3,
};

/* key of the record kind, in every record */
#define SNAPSHOT_KEY_KIND 0

/* header keys */
#define SNAPSHOT_HDR_VERSION 1
#define SNAPSHOT_HDR_CREATED_NS 2
#define SNAPSHOT_HDR_TOOL 3
#define SNAPSHOT_HDR_ROOT_MODE 4
#define SNAPSHOT_HDR_ROOT_MTIME_NS 5
#define SNAPSHOT_HDR_ROOT_UID 6
#define SNAPSHOT_HDR_ROOT_GID 7
#define SNAPSHOT_HDR_ROOT_USER 8
#define SNAPSHOT_HDR_ROOT_GROUP 9
#define SNAPSHOT_HDR_ROOT_XATTRS 10

/* entry keys */
#define SNAPSHOT_ENT_NAME 1
#define SNAPSHOT_ENT_TYPE 2
#define SNAPSHOT_ENT_SIZE 3
#define SNAPSHOT_ENT_MTIME_NS 4
#define SNAPSHOT_ENT_MODE 5
#define SNAPSHOT_ENT_MD5 6
#define SNAPSHOT_ENT_CTIME_NS 7
#define SNAPSHOT_ENT_INO 8
#define SNAPSHOT_ENT_ETAG 9
#define SNAPSHOT_ENT_TARGET 10
#define SNAPSHOT_ENT_XATTRS 16
#define SNAPSHOT_ENT_XATTR_MD5 17
#define SNAPSHOT_ENT_SPARSE 18
#define SNAPSHOT_ENT_XATTR_SIZE 19
#define SNAPSHOT_ENT_UID 11
#define SNAPSHOT_ENT_GID 12
#define SNAPSHOT_ENT_USER 13
#define SNAPSHOT_ENT_GROUP 14
#define SNAPSHOT_ENT_LINK 15

/* longest user or group name recorded (bytes) */
#define SNAPSHOT_OWNER_NAME_MAX 255

/* trailer keys */
#define SNAPSHOT_TRL_COUNT 1
#define SNAPSHOT_TRL_MD5 2

#define SNAPSHOT_MD5_LEN 16
#define SNAPSHOT_MODE_MASK 07777

#endif
