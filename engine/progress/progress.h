/* progress: a one-line status on stderr (files, bytes, rate) for runs
 * longer than a second, when stderr is a terminal. A reporter thread reads
 * the run's counters, which the stages update atomically. */
#ifndef SNAP_PROGRESS_H
#define SNAP_PROGRESS_H

#include <pthread.h>
#include <stdbool.h>

#include "run_stats.h"

struct progress {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	const struct run_stats *stats;
	struct logger *log;       /* its erase_line is set while shown */
	const char *label;
	bool running;
	bool stop;
	bool shown;
};

/* Start reporting (no-op unless enabled). log may be NULL. */
void progress_start(struct progress *p, const char *label,
		    const struct run_stats *stats, struct logger *log,
		    bool enabled);
/* Stop and erase the line. Safe if never started. */
void progress_stop(struct progress *p);

/* Atomic add on a run_stats counter. */
static inline void stat_add(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

#endif
