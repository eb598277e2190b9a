/* run: what every operation's run holds, whatever the operation
 * (make-snapshot, restore-snapshot, sync): its settings, where it logs,
 * its counters, and the first error of its threads.
 *
 * Each operation's own run struct (snap_run, restore_run, sync_run)
 * holds one as its member "run" and sets it up with run_init; the stages
 * reach the settings as r->run.o, count into r->run.stats and fail the
 * run through r->run.err. The worker-count policy is engine_workers(o)
 * (engine_opts.h) and the network stage is o->net, so both come with o.
 * An operation run inside another (restore's snapshots before and after,
 * make_snapshot.h) has a run of its own, with its own counters, on the
 * stores the outer one holds open. */
#ifndef SNAP_RUN_H
#define SNAP_RUN_H

#include "engine_opts.h"
#include "log.h"
#include "run_error.h"
#include "run_stats.h"

struct run {
	const struct engine_opts *o;
	struct logger *log;        /* the operation's copy of o->log */
	struct run_stats *stats;
	struct run_error err;      /* the first error of the run */
};

/* Borrowed: o, log and stats outlive the run. Pair with run_destroy. */
void run_init(struct run *run, const struct engine_opts *o,
	      struct logger *log, struct run_stats *stats);
void run_destroy(struct run *run);

#endif
