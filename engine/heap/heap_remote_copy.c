/* heap_remote_copy: server-side copies into a remote heap (heap_remote.c
 * is the backend; this is its put_copy hook). A content already in a
 * store of the same service is copied there by the store, named by the
 * MD5 its source was listed with, instead of coming through this host;
 * the copy is made only from the version listed where the store honours
 * the condition, and looked at after it landed (HEAD: the MD5 the store
 * gives must be the name) where it may not. A copy that does not check
 * out is taken back; the run's copies stop when they cannot be checked
 * or are refused for the run (then contents come through this host). */
#include "heap_remote_impl.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heap.h"
#include "idset.h"
#include "objstore.h"
#include "banned.h"

/* Server-side copies and uploads of one id exclude each other. A copy
 * is checked after it landed under the object's name (HEAD: the MD5
 * the store gives must be the name) and deleted when it is not that
 * content (its source changed since it was listed); were another
 * worker uploading or copying the same id meanwhile, the delete could
 * take away the object that worker stored, and the snapshot would name
 * an object the heap lacks. So a copy claims its id first (claim_copy);
 * a second copy of the id, or an upload of it
 * (heap_remote_mark_for_write), waits for the claim to be released,
 * after which the id is present (copied) or the waiter stores it. */
static bool copying(const struct remote *r, const struct objid *id)
{
	return objid_find(r->copying, r->ncopying, id) != SIZE_MAX;
}

int heap_remote_mark_for_write(struct remote *r, const struct objid *id)
{
	int ret;

	pthread_mutex_lock(&r->lock);
	while (copying(r, id))
		pthread_cond_wait(&r->copy_done, &r->lock);
	ret = idset_add(r->set, id);
	pthread_mutex_unlock(&r->lock);
	return ret;
}

/* 1 claimed (release_copy after), 0 present (maybe copied by another
 * worker meanwhile: waited for), -ENOMEM. */
static int claim_copy(struct remote *r, const struct objid *id)
{
	int ret = 1;

	pthread_mutex_lock(&r->lock);
	while (copying(r, id))
		pthread_cond_wait(&r->copy_done, &r->lock);
	if (idset_has(r->set, id)) {
		ret = 0;
	} else if (r->ncopying == r->copying_cap) {
		size_t cap = r->copying_cap ? 2 * r->copying_cap : 8;
		struct objid *p = realloc(r->copying, cap * sizeof(*p));

		if (!p) {
			ret = -ENOMEM;
		} else {
			r->copying = p;
			r->copying_cap = cap;
		}
	}
	if (ret == 1)
		r->copying[r->ncopying++] = *id;
	pthread_mutex_unlock(&r->lock);
	return ret;
}

static void release_copy(struct remote *r, const struct objid *id)
{
	size_t i;

	pthread_mutex_lock(&r->lock);
	i = objid_find(r->copying, r->ncopying, id);
	if (i != SIZE_MAX)
		r->copying[i] = r->copying[--r->ncopying];
	pthread_cond_broadcast(&r->copy_done);
	pthread_mutex_unlock(&r->lock);
}

/* The run's copies stop: said once, with why. */
static void stop_copies(struct remote *r, const struct errbuf *why)
{
	if (!atomic_exchange(&r->no_copies, true))
		log_warn(&r->log, "%s; no server-side copy into heap '%s' in "
			 "this run: contents come through this host",
			 why->msg, objstore_url(r->os));
}

/* Before the run's first copy (objstore_etag_probe): copies that cannot
 * be checked are not made, so none can be left under a name that is not
 * its MD5. The other workers wait for the one HEAD. 0 go on, -ENODATA,
 * -EXDEV (copies stopped meanwhile). The source only: a heap bucket
 * that is itself under SSE-KMS is found by the first copy's check (the
 * copy deleted, copies stopped). */
static int probe_source(struct remote *r, struct objstore *src,
			const char *key, struct errbuf *eb)
{
	int ret = objstore_etag_probe(&r->etags, src, key, eb);

	if (ret == -ENODATA) {
		stop_copies(r, eb);
		return ret;
	}
	/* a failed HEAD tells nothing (the copy's own check stands) */
	errbuf_clear(eb);
	return atomic_load(&r->no_copies) ? -EXDEV : 0;
}

/* A copy to dst was made and did not check out: its check found other
 * bytes (-ESTALE), no MD5 (-ENODATA: SSE-KMS), or could not be made
 * (-EUCLEAN: the HEAD after it failed; asked once more here). It is
 * taken back unless it is the content named after all: one that stayed
 * would be taken for it by every later run. The claim on the id
 * (claim_copy) keeps this run's other writers of the name away
 * meanwhile. 1: the name holds the content, else ret; a name that
 * cannot be settled fails the run (its snapshot is not saved). A copy
 * whose own request failed comes here only as check_lost_copy found
 * it; one refused is left alone: nothing landed, and the name may hold
 * another run's object. */
static int settle_failed_copy(struct remote *r, const struct objid *id,
			      const char *dst, int ret, struct errbuf *eb)
{
	struct errbuf local = ERRBUF_INIT, why = ERRBUF_INIT;
	struct objstore_info info;
	int hret = 0;

	if (ret != -ESTALE && ret != -ENODATA && ret != -EUCLEAN)
		return ret;
	if (ret == -EUCLEAN) {
		memset(&info, 0, sizeof(info));
		hret = objstore_head(r->os, dst, &info, &local);
		if (hret == -ENOENT)
			return ret;                  /* gone meanwhile */
		if (hret == 0 && info.has_md5 &&
		    !memcmp(info.md5, id->b, sizeof(info.md5)))
			return 1;
	}
	if (hret < 0) {
		errbuf_set(&why, hret, "heap object '%s/%s' may hold a "
			   "server-side copy that was not checked (%s) and "
			   "cannot be looked at: %s; remove it by hand if it "
			   "is there (a snapshot that names it fails `verify "
			   "--read-data`)", objstore_url(r->os), dst, eb->msg,
			   local.msg);
		heap_remote_fail(r, hret, &why);
		return ret;
	}
	hret = objstore_del(r->os, dst, &local);
	if (hret < 0) {
		errbuf_set(&why, hret, "heap object '%s/%s' may not hold the "
			   "content its name says (%s) and cannot be removed: "
			   "%s; remove it by hand (a snapshot that names it "
			   "fails `verify --read-data`)", objstore_url(r->os),
			   dst, eb->msg, local.msg);
		heap_remote_fail(r, hret, &why);
	}
	return ret;
}

/* A copy to dst whose request failed with ret in a way that may have
 * let it land, its answer lost (objstore_copy_may_have_landed), is
 * looked at as a made copy is: nothing there is ret (not made); the
 * content named is 0 (made, or stored by another run meanwhile); other
 * content is -ESTALE and no answer -EUCLEAN, both for
 * settle_failed_copy. An object without an MD5 (a heap under SSE-KMS)
 * tells nothing: ret, and the upload that follows replaces it. */
static int check_lost_copy(struct remote *r, const struct objid *id,
			   const char *dst, int ret, struct errbuf *eb)
{
	struct errbuf local = ERRBUF_INIT;
	struct objstore_info info;
	char why[sizeof(eb->msg)];
	int hret;

	memset(&info, 0, sizeof(info));
	hret = objstore_head(r->os, dst, &info, &local);
	if (hret == -ENOENT || (hret == 0 && !info.has_md5))
		return ret;
	if (hret == 0 && !memcmp(info.md5, id->b, sizeof(info.md5))) {
		errbuf_clear(eb);
		return 0;
	}
	snprintf(why, sizeof(why), "%s", eb->msg);
	errbuf_clear(eb);
	if (hret < 0)
		return errbuf_set(eb, -EUCLEAN, "server-side copy to '%s/%s' "
				  "failed (%s) and may have been made; it "
				  "cannot be looked at: %s",
				  objstore_url(r->os), dst, why, local.msg);
	return errbuf_set(eb, -ESTALE, "server-side copy to '%s/%s' failed "
			  "(%s) and was made, of other content than listed",
			  objstore_url(r->os), dst, why);
}

/* The copy of a claimed id (claim_copy): 0 made and checked, 1 the
 * heap holds it already, -errno. */
static int copy_claimed(struct remote *r, const struct objid *id,
			struct objstore *src, const char *key,
			const char *etag, struct errbuf *eb)
{
	struct errbuf local = ERRBUF_INIT;
	struct objstore_info info;
	char dst[36];
	int ret;

	ret = probe_source(r, src, key, eb);
	if (ret < 0)
		return ret;
	heap_object_path(id, dst);
	/* Looked at first: the heap may hold it though its listing (or
	 * --heap-cache-file) did not say so, stored by another run since.
	 * A copy of a source replaced since it was listed would land over
	 * it, fail its check and be deleted, taking that run's object with
	 * it. Present by HEAD is present as by a listing. */
	memset(&info, 0, sizeof(info));
	if (objstore_head(r->os, dst, &info, &local) == 0) {
		if (idset_add(r->rawset, id) < 0 || idset_add(r->set, id) < 0)
			return errbuf_set(eb, -ENOMEM, "out of memory");
		return 1;
	}
	/* checked against the name: not every store honours the copy
	 * condition (see s3_copy) */
	ret = objstore_copy_from(r->os, src, key, dst, etag, id->b, eb);
	if (ret < 0 && objstore_copy_may_have_landed(ret))
		ret = check_lost_copy(r, id, dst, ret, eb);
	if (ret < 0 && settle_failed_copy(r, id, dst, ret, eb) == 1) {
		errbuf_clear(eb);
		ret = 0;
	}
	if (ret == -ESTALE) {
		errbuf_clear(eb);
		return errbuf_set(eb, -EBADMSG, "server-side copy of '%s' did "
				  "not give its listed md5 (it changed "
				  "meanwhile)", key);
	}
	if (ret < 0) {
		if (objstore_copy_refused(ret))
			stop_copies(r, eb);
		return ret;
	}
	if (idset_add(r->rawset, id) < 0 || idset_add(r->set, id) < 0)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	return 0;
}

int heap_remote_put_copy(void *self, const struct objid *id,
			 struct objstore *src, const char *key,
			 const char *etag, struct errbuf *eb)
{
	struct remote *r = self;
	int ret;

	if (idset_has(r->set, id))
		return 0;
	/* a copy is the raw form; a gz heap gets the bytes through
	 * put_buf / tx, compressed */
	if (r->fmt == HEAP_FORMAT_GZ || atomic_load(&r->no_copies) ||
	    !objstore_same_service(r->os, src))
		return -EXDEV;
	ret = claim_copy(r, id);
	if (ret < 0)
		return errbuf_set(eb, ret, "out of memory");
	if (ret == 0)   /* present, maybe copied by another worker now */
		return 0;
	ret = copy_claimed(r, id, src, key, etag, eb);
	release_copy(r, id);
	if (ret < 0)
		return ret;
	return ret == 1 ? 0 : 1;   /* present, or copied */
}
