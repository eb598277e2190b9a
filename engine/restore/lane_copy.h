/* lane_copy: restore's copy of several heap objects into a local tree at
 * once, their MD5s checked side by side in the lanes of one multi-buffer
 * manager (engine/hash/md5mb.h), so checking every byte restored is no
 * longer one OpenSSL stream per worker (0.6 GB/s a core) but 16-32
 * streams per core.
 *
 * Each file keeps the guarantees of restore's one-at-a-time copy: its
 * bytes go to a temp (tree_writer_create_temp), which is published under
 * the file's name only when the MD5 and size of everything read from the
 * heap object are the entry's, and discarded otherwise. Files of one call
 * succeed or fail each on its own. */
#ifndef SNAP_LANE_COPY_H
#define SNAP_LANE_COPY_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "entry.h"
#include "errbuf.h"

struct heap;
struct md5mb;
struct tree_writer;

/* Bytes read from an object per step: one buffer of this size per file
 * in the window. */
#define LANE_COPY_CHUNK (128 * 1024)
/* Files copied at once by one worker, at most: enough to fill the 32
 * lanes of AVX-512 halfway and the 16 of AVX2. */
#define LANE_COPY_WINDOW_MAX 16

struct lane_file {
	const struct entry *e;   /* in: a regular file with its md5 */
	/* out: 0 or -errno (eb says what, where, why); src_bad when the
	 * heap object is missing or damaged (restore --keep-going goes on
	 * after those) */
	int ret;
	bool src_bad;
	struct errbuf eb;
};

/* The window a worker may use: each file in it holds three descriptors
 * (object, temp, its directory), and jobs workers share the process's
 * open-files limit with the rest of the run. 1 means: copy one at a
 * time (no gain from lanes). */
unsigned lane_copy_window(unsigned jobs);

/* Where the files come from and where they go when done: the caller's
 * queue. next gives the next file to start without waiting (NULL: none
 * right now, or the caller wants no more); done gets every file it gave,
 * once, with ret and eb set (its temp published or discarded). */
struct lane_source {
	struct lane_file *(*next)(void *ctx);
	void (*done)(void *ctx, struct lane_file *f);
	void *ctx;
};

/* Copy the files src gives, up to window at a time, with bufs holding
 * window * LANE_COPY_CHUNK bytes, until the window is empty and next
 * gives none. While large files are copied, next is asked again each
 * round (a lane that frees up takes the next file at once). Counts
 * bytes_read and bytes_written in stats as restore's copy does. Once
 * *interrupted (may be NULL) is set, the files in the window fail with
 * -EINTR, their temps discarded, and no more are taken. */
void lane_copy_run(struct tree_writer *tw, struct heap *heap,
		   struct md5mb *mb, unsigned char *bufs, unsigned window,
		   const struct lane_source *src, struct run_stats *stats,
		   volatile sig_atomic_t *interrupted);

#endif
