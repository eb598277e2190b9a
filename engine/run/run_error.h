/* run_error: the first error of a run whose stages run on several threads
 * (make-snapshot's scan and hash workers, restore's and sync's writers,
 * the teams of team.h: verify's readers, the heap's listers and
 * lookups).
 *
 * The first error set is the run's: what comes after it is mostly its
 * consequence (a queue aborted under a worker, a stage told to stop), and
 * a message about a consequence would hide the cause. The setter learns
 * whether its error was kept, so the caller aborts its queues once; what
 * to abort is the operation's, not this module's. */
#ifndef SNAP_RUN_ERROR_H
#define SNAP_RUN_ERROR_H

#include <pthread.h>
#include <stdbool.h>

#include "errbuf.h"

struct run_error {
	pthread_mutex_t lock;
	struct errbuf err;         /* code 0: none yet */
};

void run_error_init(struct run_error *re);
void run_error_destroy(struct run_error *re);

/* Keep code and eb's message unless an error is kept already. Returns
 * true when this one was kept. Thread safe. */
bool run_error_set(struct run_error *re, const struct errbuf *eb, int code);

/* Has an error been kept? Thread safe. */
bool run_error_failed(struct run_error *re);

/* The kept error's code (0: none), and with one, the error into *eb,
 * replacing what *eb held: the stage that saw a queue aborted under it
 * wrote "stopped" there, and the kept error is the cause. For the end of
 * the run, after the threads that set it are joined. */
int run_error_take(struct run_error *re, struct errbuf *eb);

#endif
