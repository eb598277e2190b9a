/* objid: the 16-byte content id of a heap object (MD5 today). The digest
 * algorithm is hidden here and in engine/hash so it can change in one place. */
#ifndef SNAP_OBJID_H
#define SNAP_OBJID_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define OBJID_LEN 16
#define OBJID_HEX_LEN 32

struct objid {
	uint8_t b[OBJID_LEN];
};

/* Write 32 lower-case hex digits and a NUL into out[33]. */
void objid_to_hex(const struct objid *id, char out[OBJID_HEX_LEN + 1]);

/* Parse exactly 32 hex digits (either case). Returns 0 or -EINVAL. */
int objid_from_hex(const char *hex, size_t len, struct objid *out);

/* Base64 form (24 chars + NUL) as used by Content-MD5 headers. */
void objid_to_base64(const struct objid *id, char out[25]);

static inline int objid_cmp(const struct objid *a, const struct objid *b)
{
	return memcmp(a->b, b->b, OBJID_LEN);
}

static inline bool objid_eq(const struct objid *a, const struct objid *b)
{
	return memcmp(a->b, b->b, OBJID_LEN) == 0;
}

/* Index of id among the n ids at a (a short unsorted list: the ids a
 * heap's writers hold at one time), or SIZE_MAX. */
static inline size_t objid_find(const struct objid *a, size_t n,
				const struct objid *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (objid_eq(&a[i], id))
			return i;
	return SIZE_MAX;
}

#endif
