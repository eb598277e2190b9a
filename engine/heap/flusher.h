/* flusher: background writeback for a heap being filled. The heap is
 * made durable by one syncfs before the snapshot is written; left to the
 * kernel's own writeback (which starts at 10% of memory dirty), that
 * syncfs would write the whole run's data at the end while the CPUs idle.
 * The flusher thread runs a syncfs after every `step` bytes written, so
 * the disk works while files are still being hashed and the final syncfs
 * finds little left. It only starts writeback early: durability and its
 * errors still come from the final syncfs on the heap's own descriptor
 * (the flusher syncs through a descriptor of its own, so it never
 * consumes a writeback error the final syncfs must report). */
#ifndef SNAP_FLUSHER_H
#define SNAP_FLUSHER_H

#include <stdint.h>

struct flusher;

/* Start a flusher for the filesystem holding directory root. Returns 0
 * with *out, or -errno (the caller goes on without one). */
int flusher_start(const char *root, uint64_t step, struct flusher **out);

/* bytes more were written (data plus an estimate for metadata). Any
 * thread; NULL-safe. Wakes the thread once step bytes have gathered. */
void flusher_add(struct flusher *f, uint64_t bytes);

/* How many syncfs calls the thread has finished (for tests, stats). */
uint64_t flusher_runs(struct flusher *f);

/* Stop and join the thread; NULL-safe. */
void flusher_stop(struct flusher *f);

#endif
