/* snapshot_check: the structural prescan every snapshot frame passes
 * before msgpack-c sees it (STYLE.md 2.3): msgpack-c allocates
 * count x sizeof(msgpack_object) on a container header before any element
 * arrives, so a 5-byte frame could ask for ~96 GB. */
#ifndef SNAP_SNAPSHOT_CHECK_H
#define SNAP_SNAPSHOT_CHECK_H

#include <stddef.h>

/* Walk the MessagePack object headers of buf[0..len) without allocating.
 * Accept only if buf holds exactly one complete object, containers nest
 * at most SNAPSHOT_DEPTH_MAX deep, the sum of all declared element counts
 * (array n, map 2n) is at most len (every element needs a byte, so valid
 * data always passes), no 0xc1 byte is used as a type and every str, bin
 * and ext body lies inside buf. Returns 0, or -EBADMSG with a static
 * reason in *why (why may be NULL) and the offending offset in *at (may
 * be NULL). Thread safe, O(len), no allocation. */
int snapshot_check_frame(const void *buf, size_t len, const char **why,
			 size_t *at);

#endif
