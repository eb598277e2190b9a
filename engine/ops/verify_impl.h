/* verify_impl: what verify.c and verify_repair.c share; private to
 * engine/ops/. verify.c: the inventory, the walk of the snapshots, the
 * data check (steps 1-3 of verify.c's comment); verify_repair.c: step 4,
 * repairing damaged objects from a tree. */
#ifndef SNAP_VERIFY_IMPL_H
#define SNAP_VERIFY_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "errbuf.h"
#include "objid.h"
#include "run_error.h"
#include "verify.h"

/* read buffer of a data check or repair worker */
#define READ_BUF (1024 * 1024)

struct heap;
struct idset;
struct objstore;
struct snapstore;

/* A damaged object and what repair knows about it. */
struct damaged {
	struct objid id;
	uint64_t size;
	bool has_size;
	bool corrupt;              /* else missing */
	bool repaired;
};

struct verify_run {
	const struct engine_opts *o;
	const struct verify_opts *vo;
	struct verify_stats *st;
	pthread_mutex_t lock;      /* report, corrupt set */
	struct idset *present;     /* either form */
	struct idset *raw;         /* seen as <md5> */
	struct idset *referenced;
	struct idset *missing;
	struct idset *corrupt;
	struct objstore *os;       /* remote heap: its store, else NULL */
	struct heap *heap;         /* for reads and repair, else NULL */
	struct snapstore *ss;
	/* read_data */
	struct objid *todo;
	size_t ntodo;
	size_t next;               /* atomic */
	struct run_error err;      /* the readers' first */
	/* repair */
	struct damaged *dmg;
	size_t ndmg;
	uint64_t *sizes;           /* sorted, unique */
	size_t nsizes;
};

/* Report one finding through vo->report (serialised). */
void verify_report(struct verify_run *r, enum verify_kind kind,
		   const char *subject, const char *detail);
bool verify_interrupted(const struct verify_run *r);
/* Order of struct damaged by id (r->dmg is sorted so). */
int verify_damaged_cmp(const void *a, const void *b);
/* The damaged object id in r->dmg (sorted), or NULL. */
struct damaged *verify_find_damaged(struct verify_run *r,
				    const struct objid *id);
/* Read every snapshot: collect the referenced md5s (step 2), or with
 * sizes_only learn the sizes of r->dmg's objects (step 4). */
int verify_walk_snapshots(struct verify_run *r, bool sizes_only,
			  struct errbuf *eb);
/* Step 4: find the damaged objects, then their content in
 * vo->repair_from, and write it back to the heap. 0 or -errno. */
int verify_repair(struct verify_run *r, struct errbuf *eb);

#endif
