/* heap_remote_list: the listing of a heap in an object store (see
 * heap_remote_list.h). */
#include "heap_remote_list.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "encode.h"
#include "heap_impl.h"
#include "idset.h"
#include "objid.h"
#include "objstore.h"
#include "run_error.h"
#include "team.h"
#include "banned.h"

/* The format of a heap loaded from the cache file (not listed), for the
 * writes and for the key a read asks for first: the first object of a
 * listing of everything, then stop (one request). */
static int peek_cb(void *arg, const struct objstore_entry *e)
{
	int *kind = arg;
	struct objid id;

	if (e->key_len <= 3 || e->key[2] != '/')
		return 0;
	*kind = heap_parse_object_name(e->key + 3, e->key_len - 3, &id);
	return *kind ? 1 : 0;
}

int heap_remote_peek_gz(struct objstore *os, bool *gz, struct errbuf *eb)
{
	int kind = 0, ret;

	/* small pages: the first heap object is usually the first key */
	ret = objstore_list_paged(os, "", 16, peek_cb, &kind, eb);
	if (ret == -ENOENT && objstore_may_create_bucket(os))
		ret = 0;      /* no bucket yet: an empty heap */
	*gz = kind == 2;
	return ret;
}

/* Listing: one flat page first; a heap that does not fit in it is listed
 * again as the prefixes "00/".."ff/" spread over a few threads. Why: the
 * 256 prefix listings are what make a heap of millions of objects quick
 * to list, but for a heap of a few hundred objects they are 256 requests
 * instead of one (1 s per open on a local Swift, and every restore opens
 * the heap three times). The flat page costs one request more on a big
 * heap.
 *
 * Between the two: names are MD5s, spread evenly over the prefixes, so
 * the prefix the first page ended in says how big the heap is. A page
 * that reached past prefix n - 1 (n threads) means a heap of at most
 * about 256 / n pages: listed flat to its end, that is no more round
 * trips than 256 prefix listings n at a time, in far fewer requests
 * (a heap of 5,000 objects: 5 pages instead of 1 + 256 listings). */
#define FLAT_LIST_MAX 1000         /* S3's page size: one ListObjectsV2 */

struct lister {
	struct objstore *os;
	const struct heap_listing *sets;
	atomic_uint next;          /* next prefix to list */
	struct run_error err;      /* the prefix listings' first */
	struct errbuf eb;          /* the flat listing's */
	atomic_uint_fast64_t ignored;
	unsigned long flat_seen;   /* keys seen by the flat listing */
	unsigned nthreads;         /* of the prefix listing */
	bool flat_all;             /* the flat listing goes on to the end */
};

static int list_cb(void *arg, const struct objstore_entry *e);

/* Is a heap whose first flat page ended before key e (the first of the
 * second page) small enough to be listed flat to its end? Its first page
 * spans the prefixes up to e's; a name that is not "<2 hex>/..." says
 * nothing: no. */
static bool flat_to_the_end(const struct lister *l,
			    const struct objstore_entry *e)
{
	uint8_t p;

	if (e->key_len < 3 || e->key[2] != '/' || decode_hex(e->key, 1, &p))
		return false;
	return (unsigned)p + 1 >= l->nthreads;
}

/* The flat listing's callback: the first FLAT_LIST_MAX keys, then stop,
 * unless the heap is small enough to go on (flat_to_the_end). */
static int flat_list_cb(void *arg, const struct objstore_entry *e)
{
	struct lister *l = arg;
	int ret;

	if (l->flat_seen >= FLAT_LIST_MAX && !l->flat_all) {
		if (!flat_to_the_end(l, e))
			return 1;
		l->flat_all = true;
	}
	l->flat_seen++;
	ret = list_cb(arg, e);
	return ret < 0 ? ret : 0;
}

static int list_cb(void *arg, const struct objstore_entry *e)
{
	struct lister *l = arg;
	struct objid id;
	int kind, ret;

	kind = heap_parse_object_key(e->key, e->key_len, &id);
	if (!kind) {
		atomic_fetch_add(&l->ignored, 1);
		return 0;
	}
	ret = idset_add(l->sets->set, &id);
	if (ret >= 0)
		ret = idset_add(kind == 2 ? l->sets->gzset : l->sets->rawset, &id);
	return ret < 0 ? ret : 0;
}

static void list_fail(struct lister *l, int ret, const struct errbuf *eb)
{
	struct errbuf why = *eb;

	if (!eb->code)
		snprintf(why.msg, sizeof(why.msg), "cannot list heap '%s': %s",
			 objstore_url(l->os), strerror(-ret));
	run_error_set(&l->err, &why, ret);
}

static void *lister_main(void *arg)
{
	struct lister *l = arg;
	unsigned p;

	while ((p = atomic_fetch_add(&l->next, 1)) < 256) {
		struct errbuf eb = ERRBUF_INIT;
		char prefix[4];
		int ret;

		if (run_error_failed(&l->err))
			break;
		snprintf(prefix, sizeof(prefix), "%02x/", p);
		ret = objstore_list(l->os, prefix, list_cb, l, &eb);
		if (ret < 0)
			list_fail(l, ret, &eb);
	}
	return NULL;
}

int heap_remote_list(struct objstore *os, const struct heap_listing *sets,
		     bool create, unsigned nthreads, struct logger *log,
		     struct errbuf *eb)
{
	struct lister l;
	int ret;

	memset(&l, 0, sizeof(l));
	l.os = os;
	l.sets = sets;
	if (nthreads > HEAP_LIST_THREADS_MAX)
		nthreads = HEAP_LIST_THREADS_MAX;
	l.nthreads = nthreads ? nthreads : 1;
	run_error_init(&l.err);
	/* the flat page: it also tells whether the bucket exists */
	ret = objstore_list(os, "", flat_list_cb, &l, &l.eb);
	if (ret == -ENOENT && create) {
		/* created with --create-bucket, else the error */
		errbuf_clear(eb);
		ret = objstore_bucket_missing(os, &l.eb);
		if (ret < 0)
			ret = errbuf_set(eb, ret, "cannot open heap '%s': %s",
					 objstore_url(os), l.eb.msg);
		goto out;
	}
	if (ret == -ENOENT) {
		ret = errbuf_set(eb, ret, "heap '%s' does not exist (%s)",
				 objstore_url(os), l.eb.msg);
		goto out;
	}
	if (ret < 0) {
		ret = errbuf_set(eb, ret, "%s", l.eb.msg);
		goto out;
	}
	if (l.flat_seen < FLAT_LIST_MAX || l.flat_all) {
		log_debug(log, "heap '%s': listed flat (%lu keys)",
			  objstore_url(os), l.flat_seen);
		goto counted;      /* the whole heap was in the flat pages */
	}
	/* a big heap: list it all again by prefix, side by side (ids seen
	 * twice are added once; the ignored keys are counted again) */
	atomic_store(&l.ignored, 0);
	log_debug(log, "listing heap '%s' with %u threads",
		  objstore_url(os), nthreads);
	team_run(l.nthreads, lister_main, &l);
	ret = run_error_take(&l.err, eb);
	if (ret)
		goto out;
counted:
	if (atomic_load(&l.ignored))
		log_debug(log, "heap '%s': ignored %llu keys that are not "
			  "objects", objstore_url(os),
			  (unsigned long long)atomic_load(&l.ignored));
out:
	run_error_destroy(&l.err);
	return ret;
}
