/* hardlinks: the scan's table of files with more than one link, keyed by
 * (st_dev, st_ino), giving each later member of a link group the name of
 * the group's first member in stream order (tar's hard-link records).
 * Only files with st_nlink > 1 enter; a group leaves the table once all
 * its links were seen, and past max_groups no new group is taken (those
 * files stay plain files in the snapshot), so memory stays bounded. */
#ifndef SNAP_HARDLINKS_H
#define SNAP_HARDLINKS_H

#include <stddef.h>
#include <stdint.h>

/* default bound on the groups held at once (~100 bytes each) */
#define HARDLINKS_MAX_GROUPS 1000000

struct hardlinks;

/* 0 or -ENOMEM. max_groups 0: HARDLINKS_MAX_GROUPS. */
int hardlinks_new(uint64_t max_groups, struct hardlinks **out);
void hardlinks_free(struct hardlinks *h);

/* A file with nlink links seen at name. Returns 1 with *first (borrowed,
 * valid until the next call) and *first_len set when an earlier member of
 * its group was seen; 0 when name is the first (remembered); -ENOSPC when
 * the table is full (not remembered: the caller warns once); -ENOMEM. */
int hardlinks_add(struct hardlinks *h, uint64_t dev, uint64_t ino,
		  uint64_t nlink, const char *name, size_t len,
		  const char **first, size_t *first_len);

/* Groups seen (taken into the table) so far, and held now. */
uint64_t hardlinks_groups(const struct hardlinks *h);
uint64_t hardlinks_held(const struct hardlinks *h);

#endif
