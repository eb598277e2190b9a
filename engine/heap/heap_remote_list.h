/* heap_remote_list: which objects a heap in an object store holds, for
 * heap_remote.c: the whole listing into id sets, and the format of the
 * first object (for a heap whose presence came from a cache file). */
#ifndef SNAP_HEAP_REMOTE_LIST_H
#define SNAP_HEAP_REMOTE_LIST_H

#include <stdbool.h>

#include "errbuf.h"
#include "log.h"

struct idset;
struct objstore;

/* Where the listed ids go: every object in set, and also in rawset
 * (named <md5>) or gzset (<md5>.gz). Keys that are not heap objects
 * ("ab/" + an md5 starting with ab) are ignored and counted at DEBUG. */
struct heap_listing {
	struct idset *set;
	struct idset *rawset;
	struct idset *gzset;
};

/* Maximum listing threads (nthreads is capped to it). */
#define HEAP_LIST_THREADS_MAX 16u

/* List the whole heap of os into sets: one flat page, and for a heap
 * larger than that the 256 prefixes "00/".."ff/" over nthreads threads.
 * A missing bucket is created when create allows (objstore's
 * --create-bucket rule), else an error naming the heap. 0 or -errno. */
int heap_remote_list(struct objstore *os, const struct heap_listing *sets,
		     bool create, unsigned nthreads, struct logger *log,
		     struct errbuf *eb);

/* *gz: whether the first heap object listed is a <md5>.gz (one request
 * of a page of 16). A missing bucket that may be created is an empty
 * heap. 0 or -errno. */
int heap_remote_peek_gz(struct objstore *os, bool *gz, struct errbuf *eb);

#endif
