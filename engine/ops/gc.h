/* gc: delete the heap objects no snapshot references, and stale temp
 * files, under the exclusive repository lock (lock.h, LOCKING.md). */
#ifndef SNAP_GC_H
#define SNAP_GC_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "errbuf.h"

struct gc_opts {
	bool dry_run;          /* report only: no lock, nothing deleted */
	/* objects and temps modified less than grace_s seconds before gc
	 * started stay even when unreferenced; < 0: the lock expiry */
	int64_t grace_s;
};

struct gc_report {
	uint64_t snapshots;          /* snapshots read (the mark) */
	uint64_t referenced;         /* distinct objects they reference */
	uint64_t objects;            /* objects in the heap (.gz and raw
				      * forms of one id count twice) */
	uint64_t bytes;
	uint64_t deleted;            /* unreferenced objects deleted */
	uint64_t deleted_bytes;
	uint64_t young;              /* unreferenced, within the grace */
	uint64_t temps_deleted;      /* stale temp files */
	uint64_t temps_bytes;
	uint64_t missing;            /* referenced, absent from the heap */
	uint64_t uploads_aborted;    /* unfinished uploads (store heap)
				      * aborted, or with dry_run to be */
};

/* Mark: read every snapshot of o->snap_root (any failure stops gc
 * before anything is deleted; no snapshot at all is refused, as a wrong
 * SNAP_ROOT would otherwise empty the heap). Sweep: delete each object
 * (<md5> and <md5>.gz alike) of o->heap_root whose id no snapshot
 * references and whose mtime (remote: Last-Modified) is older than gc's
 * start minus the grace; the same for temp files (heap ".tmp-*", the
 * Python tool's temp/<uuid>.gz, SNAP_ROOT/YYYY/MM/.tmp-*), and for the
 * unfinished uploads of those keys in a store heap (an S3 multipart
 * upload of a run that was killed) begun before the same cutoff. With
 * dry_run, report what would be deleted. 0 (rep filled) or -errno. */
int engine_gc(const struct engine_opts *o, const struct gc_opts *go,
	      struct gc_report *rep, struct errbuf *eb);

#endif
