/* owners: user and group names of numeric ids and back, through NSS
 * (getpwuid_r, getgrnam_r, ...), each answer cached: a scan of millions
 * of files asks NSS once per distinct id, not once per file. One cache
 * per thread (no locking). */
#ifndef SNAP_OWNERS_H
#define SNAP_OWNERS_H

#include <stdbool.h>
#include <stdint.h>

struct owner_cache;

/* 0 or -ENOMEM. */
int owner_cache_new(struct owner_cache **out);
void owner_cache_free(struct owner_cache *c);

/* The name of uid (gid), or NULL when NSS knows none. Borrowed: valid
 * until owner_cache_free. */
const char *owner_cache_user(struct owner_cache *c, uint32_t uid);
const char *owner_cache_group(struct owner_cache *c, uint32_t gid);

/* The local id of a user (group) name: true with *id set, false when
 * this system has no such name. */
bool owner_cache_uid(struct owner_cache *c, const char *name, uint32_t *id);
bool owner_cache_gid(struct owner_cache *c, const char *name, uint32_t *id);

#endif
