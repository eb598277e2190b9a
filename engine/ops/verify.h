/* verify: is a backup (SNAP_ROOT + HEAP_ROOT) sound? Every snapshot
 * decodes whole (trailer count and MD5), every object a snapshot
 * references is in the heap and, with read_data, its content has the MD5
 * it is named by (after gzip decoding for <md5>.gz). Leftovers (temp
 * files, names that are not objects, the Python tool's heap/temp/) are
 * listed; unreferenced objects are counted. With repair_from, missing and
 * corrupt objects are written again from files of that tree with the
 * same content. Memory: 16 bytes per distinct object (idset), never per
 * snapshot entry. */
#ifndef SNAP_VERIFY_H
#define SNAP_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "errbuf.h"

/* What a report line is about. */
enum verify_kind {
	VERIFY_SNAPSHOT_CORRUPT = 0, /* subject: snapshot; detail: why */
	VERIFY_OBJECT_MISSING,       /* subject: md5; detail: first user */
	VERIFY_OBJECT_CORRUPT,       /* subject: object path; detail: why */
	VERIFY_LEFTOVER,             /* subject: path; detail: what it is */
	VERIFY_REPAIRED,             /* subject: md5; detail: from which file */
	VERIFY_UNREPAIRED,           /* subject: md5; detail: why not */
	VERIFY_KIND_COUNT
};

/* "snapshot-corrupt", "object-missing", ... (the JSON "kind") */
const char *verify_kind_name(enum verify_kind k);

/* Called once per finding, from one thread at a time. */
typedef void (*verify_report_fn)(void *arg, enum verify_kind kind,
				 const char *subject, const char *detail);

struct verify_opts {
	bool read_data;            /* MD5-check referenced objects */
	/* read only bucket subset_n (1-based) of subset_m: the objects
	 * whose first 4 md5 bytes (big-endian) mod m == n - 1; m 0: all */
	uint32_t subset_n, subset_m;
	/* > 0: read a random sample of about this percentage instead (a
	 * new random choice each run, so repeated runs cover everything) */
	double subset_pct;
	const char *repair_from;   /* local tree to repair from, or NULL */
	verify_report_fn report;   /* required */
	void *report_arg;
};

struct verify_stats {
	uint64_t snapshots;
	uint64_t snapshots_corrupt;
	uint64_t files;                 /* file entries of all snapshots */
	uint64_t objects_referenced;    /* distinct md5s */
	uint64_t objects_present;       /* distinct objects in the heap */
	uint64_t objects_unreferenced;
	uint64_t objects_missing;
	uint64_t objects_checked;       /* read and MD5-checked */
	uint64_t objects_corrupt;
	uint64_t bytes_checked;         /* uncompressed bytes hashed */
	uint64_t leftovers;
	uint64_t repaired;
	uint64_t unrepaired;
	double seconds;
};

/* Verify (and repair). Returns 0 when the verification ran to the end,
 * whatever it found (see st and the reports), or -errno when it could
 * not verify (heap or snapshot store unreachable, read error that is not
 * damage, interrupted) with the message in eb. */
int engine_verify(const struct engine_opts *o, const struct verify_opts *vo,
		  struct verify_stats *st, struct errbuf *eb);

/* Damage left after the run: corrupt snapshots, missing or corrupt
 * objects not repaired. */
bool verify_damaged(const struct verify_stats *st);

#endif
