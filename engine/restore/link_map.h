/* link_map: restore's view of the snapshot's hard-link groups. Keyed by
 * the name a group's later members carry (snapshot key 15, the group's
 * first member); gives the member this run writes first (the "local
 * leader"), so a group cut by --include/--exclude or missing its first
 * member still comes back as links of one file, as rsync -H does.
 * Bounded: past max groups, further groups are written as separate
 * files. */
#ifndef SNAP_LINK_MAP_H
#define SNAP_LINK_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "entry.h"

struct link_map;

int link_map_new(uint64_t max_groups, struct link_map **out);
void link_map_free(struct link_map *m);

/* Note that some entry names first as its group's first member (check
 * pass). 0, -ENOSPC when full (the group is then not linked), -ENOMEM. */
int link_map_want(struct link_map *m, const char *first, size_t len);

/* Is file e one of the snapshot's hard-link groups (its first member, or
 * a later one naming it)? */
bool link_map_has_group(struct link_map *m, const struct entry *e);

/* The write pass, for file e in stream order. Returns 1 with *leader
 * (borrowed, valid until link_map_free) when e is to be a link of an
 * earlier file of this run; 0 when e is written as a file (and becomes
 * its group's leader when it is the first of it). -ENOMEM. */
int link_map_member(struct link_map *m, const struct entry *e,
		    const char **leader, size_t *leader_len);

#endif
