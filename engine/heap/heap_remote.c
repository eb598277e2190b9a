/* heap_remote: the heap in an object store (s3://, az://) over
 * net/objstore.h. Presence comes from an in-memory id set (idset.h),
 * filled once at open by listing the heap (heap_remote_list.c: flat
 * when its first page shows a heap of a few pages, else 256 prefix
 * listings "00/".."ff/" side by side) or from --heap-cache-file.
 * Puts are asynchronous (heap_remote_upload.c). A body held in memory
 * that goes in one PUT is handed to the network stage by the thread
 * that put it, which goes on at once; the others (spools, multipart)
 * go through a queue to uploader threads:
 *
 *   hash workers ── put_buf ─── (small) ──> objstore_put_submit ─┐
 *                 └ tx_commit ─ (spool) ──> job queue ──> uploaders ×N
 *                   (id marked in the set:   (bounded)     objstore_put
 *                    one upload per content)               Content-MD5
 *
 * Memory bound: queued and in-flight small bodies hold at most
 * REMOTE_MEM_BUDGET bytes (64 MiB; one larger body may pass alone), at
 * most REMOTE_MAX_JOBS jobs; large contents are spooled to unnamed temp
 * files, at most 2 * uploaders + 2 of them waiting; at most
 * 2 * uploaders (--transfers, at most 64) small puts are out in the
 * network stage (as many in flight, as many queued). A full queue blocks
 * the producer (backpressure). The first upload error wins: later puts fail with it,
 * what is queued is dropped unsent (the uploaders skip their jobs, the
 * network stage cancels the small puts) and heap_sync returns it, so no
 * snapshot is saved that references an object which is not in the
 * store.
 *
 * Objects are "ab/<md5>" or, in the Python tool's format, "ab/<md5>.gz"
 * (gzip; uploaded with the Content-MD5 of the compressed bytes). Both
 * count as present; the sets rawset and gzset remember which form was
 * listed or written, so a read asks for the right key first. */
#include "heap_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "heap_cache.h"
#include "heap_gz.h"
#include "heap_remote_impl.h"
#include "heap_remote_list.h"
#include "idset.h"
#include "objstore.h"
#include "tmpfile.h"
#include "fdio.h"
#include "banned.h"

struct remote_tx {
	struct remote *r;
	int fd;
	uint64_t len;              /* bytes in the spool */
	uint64_t raw;              /* content bytes given to tx_write */
	/* gz format: the encoder into the spool, the MD5 of its output */
	struct heap_gz_enc *enc;
	EVP_MD_CTX *md;
};

/* MD5 state of gzip output (Content-MD5 of a gz object). */
static EVP_MD_CTX *md5_new(void)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (md && !EVP_DigestInit_ex2(md, EVP_md5(), NULL)) {
		EVP_MD_CTX_free(md);
		md = NULL;
	}
	return md;
}

static int md5_final(EVP_MD_CTX *md, unsigned char out[16],
		     struct errbuf *eb)
{
	unsigned int n = 0;

	if (!EVP_DigestFinal_ex(md, out, &n) || n != 16)
		return errbuf_set(eb, -EIO, "md5 failed");
	return 0;
}


static int remote_has(void *self, const struct objid *id, struct errbuf *eb)
{
	struct remote *r = self;

	(void)eb;
	return idset_has(r->set, id) ? 1 : 0;
}

/* Server-side copies and uploads of one id exclude each other. A copy
 * is checked after it landed under the object's name (HEAD: the MD5
 * the store gives must be the name) and deleted when it is not that
 * content (its source changed since it was listed); were another
 * worker uploading or copying the same id meanwhile, the delete could
 * take away the object that worker stored, and the snapshot would name
 * an object the heap lacks. So a copy claims its id first (claim_copy);
 * a second copy of the id, or an upload of it (mark_for_write), waits
 * for the claim to be released, after which the id is present (copied)
 * or the waiter stores it. */
static bool copying(const struct remote *r, const struct objid *id)
{
	size_t i;

	for (i = 0; i < r->ncopying; i++)
		if (objid_eq(&r->copying[i], id))
			return true;
	return false;
}

/* Mark id present before its bytes are uploaded: 1 this caller stores
 * it, 0 it is present (or being stored), -ENOMEM. */
static int mark_for_write(struct remote *r, const struct objid *id)
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
	for (i = 0; i < r->ncopying; i++) {
		if (objid_eq(&r->copying[i], id)) {
			r->copying[i] = r->copying[--r->ncopying];
			break;
		}
	}
	pthread_cond_broadcast(&r->copy_done);
	pthread_mutex_unlock(&r->lock);
}

/* A growing memory buffer: the sink of put_buf's gzip stream. */
struct membuf {
	char *p;
	size_t len, cap;
	EVP_MD_CTX *md;
};

static int membuf_sink(void *arg, const void *buf, size_t len,
		       struct errbuf *eb)
{
	struct membuf *m = arg;

	if (len > m->cap - m->len) {
		size_t cap = m->cap ? m->cap : 4096;
		char *p;

		while (cap - m->len < len)
			cap *= 2;
		p = realloc(m->p, cap);
		if (!p)
			return errbuf_set(eb, -ENOMEM, "out of memory");
		m->p = p;
		m->cap = cap;
	}
	memcpy(m->p + m->len, buf, len);
	m->len += len;
	if (!EVP_DigestUpdate(m->md, buf, len))
		return errbuf_set(eb, -EIO, "md5 failed");
	return 0;
}

/* Make j's body the gzip of buf, with its MD5. */
static int gz_body(struct job *j, const void *buf, size_t len,
		   struct errbuf *eb)
{
	struct membuf m = { NULL, 0, 0, md5_new() };
	struct heap_gz_enc *z = NULL;
	int ret;

	if (!m.md)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	ret = heap_gz_enc_new(membuf_sink, &m, &z, eb);
	if (!ret)
		ret = heap_gz_enc_write(z, buf, len, eb);
	if (!ret)
		ret = heap_gz_enc_finish(z, eb);
	if (!ret)
		ret = md5_final(m.md, j->md5, eb);
	heap_gz_enc_free(z);
	EVP_MD_CTX_free(m.md);
	if (ret < 0) {
		free(m.p);
		return ret;
	}
	j->mem = m.p;
	j->len = m.len;
	j->gz = true;
	return 0;
}

static int remote_put_buf(void *self, const struct objid *id,
			  const void *buf, size_t len, struct errbuf *eb)
{
	struct remote *r = self;
	struct job *j;
	int ret;

	ret = mark_for_write(r, id);
	if (ret <= 0)
		return ret < 0 ? errbuf_set(eb, ret, "out of memory") : 0;
	j = calloc(1, sizeof(*j));
	if (!j)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	j->fd = -1;
	j->id = *id;
	j->len = len;
	j->raw_len = len;
	if (r->fmt == HEAP_FORMAT_GZ) {
		ret = gz_body(j, buf, len, eb);
		if (ret < 0) {
			heap_remote_job_free(j);
			return ret;
		}
		ret = idset_add(r->gzset, id);
	} else if (len) {
		j->mem = malloc(len);
		if (!j->mem) {
			free(j);
			return errbuf_set(eb, -ENOMEM, "out of memory");
		}
		memcpy(j->mem, buf, len);
		ret = idset_add(r->rawset, id);
	} else {
		ret = idset_add(r->rawset, id);
	}
	if (ret < 0) {
		heap_remote_job_free(j);
		return errbuf_set(eb, ret, "out of memory");
	}
	return heap_remote_enqueue(r, j, eb);
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

static int remote_put_copy(void *self, const struct objid *id,
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

static void remote_tx_abort(void *txp)
{
	struct remote_tx *tx = txp;

	if (!tx)
		return;
	if (tx->fd >= 0)
		close(tx->fd);
	heap_gz_enc_free(tx->enc);
	EVP_MD_CTX_free(tx->md);
	free(tx);
}

/* Append stored bytes to the spool file (with gz, also to their MD5). */
static int spool_write(void *txp, const void *buf, size_t len,
		       struct errbuf *eb)
{
	struct remote_tx *tx = txp;
	int ret;

	if (tx->md && !EVP_DigestUpdate(tx->md, buf, len))
		return errbuf_set(eb, -EIO, "md5 failed");
	ret = fdio_write_full(tx->fd, buf, len);
	if (ret < 0)
		return errbuf_set(eb, ret, "cannot write a heap spool file in "
				  "'%s': %s", tx->r->tmpdir, strerror(-ret));
	tx->len += (uint64_t)len;
	return 0;
}

static int remote_tx_begin(void *self, void **out, struct errbuf *eb)
{
	struct remote *r = self;
	struct remote_tx *tx = calloc(1, sizeof(*tx));
	int ret = 0;

	*out = NULL;
	if (!tx)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	tx->r = r;
	tx->fd = tmpfile_open(r->tmpdir, eb);
	if (tx->fd < 0) {
		ret = tx->fd;
		free(tx);
		return ret;
	}
	if (r->fmt == HEAP_FORMAT_GZ) {
		tx->md = md5_new();
		if (!tx->md)
			ret = errbuf_set(eb, -ENOMEM, "out of memory");
		if (!ret)
			ret = heap_gz_enc_new(spool_write, tx, &tx->enc, eb);
		if (ret < 0) {
			remote_tx_abort(tx);
			return ret;
		}
	}
	*out = tx;
	return 0;
}

static int remote_tx_write(void *txp, const void *buf, size_t len,
			   struct errbuf *eb)
{
	struct remote_tx *tx = txp;

	tx->raw += len;
	if (tx->enc)
		return heap_gz_enc_write(tx->enc, buf, len, eb);
	return spool_write(tx, buf, len, eb);
}

static int remote_tx_commit(void *txp, const struct objid *id,
			    struct errbuf *eb)
{
	struct remote_tx *tx = txp;
	struct remote *r = tx->r;
	struct job *j;
	int ret;

	ret = mark_for_write(r, id);
	if (ret <= 0) {
		remote_tx_abort(tx);
		return ret < 0 ? errbuf_set(eb, ret, "out of memory") : 0;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		remote_tx_abort(tx);
		return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	j->fd = -1;
	j->id = *id;
	if (tx->enc) {
		ret = heap_gz_enc_finish(tx->enc, eb);
		if (!ret)
			ret = md5_final(tx->md, j->md5, eb);
		j->gz = true;
	}
	if (!ret && idset_add(j->gz ? r->gzset : r->rawset, id) < 0)
		ret = errbuf_set(eb, -ENOMEM, "out of memory");
	if (ret < 0) {
		/* the id stays marked without an upload: this run fails
		 * (the caller stops at the error), so no snapshot names it */
		remote_tx_abort(tx);
		heap_remote_job_free(j);
		return ret;
	}
	j->len = tx->len;
	j->raw_len = tx->raw;
	j->fd = tx->fd;
	tx->fd = -1;
	remote_tx_abort(tx);
	return heap_remote_enqueue(r, j, eb);
}

/* Download key into a new temp file: 0 with *fd_out at byte 0,
 * -ENOENT (eb untouched) when the store has no such key, other -errno.
 * size: the object's expected size (0: unknown); a large one comes in
 * parallel ranges. */
static int fetch(struct remote *r, const char *key, uint64_t size,
		 int *fd_out, struct errbuf *eb)
{
	struct errbuf local = ERRBUF_INIT;
	int fd, ret;

	fd = tmpfile_open(r->tmpdir, eb);
	if (fd < 0)
		return fd;
	ret = objstore_get_file(r->os, key, fd, size, NULL, &local);
	if (ret < 0 && ret != -ENOENT) {
		ret = errbuf_set(eb, ret, "%s", local.msg);
	} else if (!ret && lseek(fd, 0, SEEK_SET) < 0) {
		ret = errbuf_set(eb, -errno, "cannot rewind a temp file: %s",
				 strerror(errno));
	}
	if (ret < 0) {
		close(fd);
		return ret;
	}
	*fd_out = fd;
	return 0;
}

static int remote_open_object(void *self, const struct objid *id,
			      uint64_t max, int *fd_out, struct errbuf *eb)
{
	struct remote *r = self;
	char raw[36], gz[39], shown[4200];
	uint64_t raw_size;
	bool is_gz;
	int fd = -1, ret;

	heap_object_path(id, raw);
	heap_object_path_gz(id, gz);
	/* the form listed or written first (raw when both: no
	 * decompression), else the heap's format; the other on a miss */
	if (idset_has(r->rawset, id))
		is_gz = false;
	else if (idset_has(r->gzset, id))
		is_gz = true;
	else
		is_gz = r->fmt == HEAP_FORMAT_GZ;
	/* a raw object is its content: max is its size when the caller
	 * knows it (the MD5 check after catches any other) */
	raw_size = max == UINT64_MAX ? 0 : max;
	ret = fetch(r, is_gz ? gz : raw, is_gz ? 0 : raw_size, &fd, eb);
	if (ret == -ENOENT) {
		is_gz = !is_gz;
		ret = fetch(r, is_gz ? gz : raw, is_gz ? 0 : raw_size, &fd,
			    eb);
	}
	if (ret == -ENOENT)
		return errbuf_set(eb, ret, "heap object '%s/%s' is missing",
				  objstore_url(r->os), raw);
	if (ret < 0)
		return ret;
	if (!is_gz) {
		*fd_out = fd;
		return 0;
	}
	snprintf(shown, sizeof(shown), "%s/%s", objstore_url(r->os), gz);
	ret = heap_gz_open_decoded(fd, -1, shown, max, fd_out, eb);
	close(fd);
	return ret;
}

/* A damaged object gets new bytes in one PUT, which every store applies
 * atomically: readers get the old object or the new one. The form is
 * the one remote_open_object asks for first. A raw body goes with its
 * Content-MD5 (the name), so the store checks what it received. */
static int remote_replace_object(void *self, const struct objid *id,
				 const struct heap_copy_src *src,
				 struct errbuf *eb)
{
	struct remote *r = self;
	struct objstore_put_opts po;
	struct body_src body;
	char key[39];
	bool is_gz;
	off_t len;
	int fd, ret;

	if (idset_has(r->rawset, id))
		is_gz = false;
	else if (idset_has(r->gzset, id))
		is_gz = true;
	else
		is_gz = r->fmt == HEAP_FORMAT_GZ;
	if (is_gz)
		heap_object_path_gz(id, key);
	else
		heap_object_path(id, key);
	fd = tmpfile_open(r->tmpdir, eb);
	if (fd < 0)
		return fd;
	ret = heap_copy_checked(src, fd, "a temp file", is_gz, id, eb);
	len = ret ? 0 : lseek(fd, 0, SEEK_END);
	if (!ret && (len < 0 || lseek(fd, 0, SEEK_SET) < 0))
		ret = errbuf_set(eb, -errno, "cannot rewind a temp file: %s",
				 strerror(errno));
	if (!ret) {
		memset(&po, 0, sizeof(po));
		memset(&body, 0, sizeof(body));
		po.md5 = is_gz ? NULL : id->b;
		body.kind = len ? BODY_SRC_FD : BODY_SRC_NONE;
		body.fd = fd;
		body.len = (uint64_t)len;
		ret = objstore_put(r->os, key, &body, &po, NULL, eb);
	}
	close(fd);
	if (ret < 0)
		return ret;
	if (idset_add(is_gz ? r->gzset : r->rawset, id) < 0 ||
	    idset_add(r->set, id) < 0)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	return 0;
}

static int remote_sync(void *self, struct errbuf *eb)
{
	struct remote *r = self;
	struct errbuf local = ERRBUF_INIT;
	int ret;

	pthread_mutex_lock(&r->lock);
	while (r->jobs && !r->err)
		pthread_cond_wait(&r->progress, &r->lock);
	/* after an error the uploaders skip what is left; wait for them
	 * so that the caller may free buffers and spools right away */
	while (r->jobs)
		pthread_cond_wait(&r->progress, &r->lock);
	ret = r->err;
	if (ret)
		errbuf_set(eb, ret, "%s", r->errmsg.msg);
	pthread_mutex_unlock(&r->lock);
	if (ret || !r->cache_file)
		return ret;
	ret = heap_cache_save(r->cache_file, objstore_url(r->os), r->set,
			      r->cache_text, r->gc_id, &local);
	if (ret < 0)   /* the uploads are fine; only the next run is slower */
		log_warn(&r->log, "%s", local.msg);
	else
		log_debug(&r->log, "heap cache '%s': %zu objects",
			  r->cache_file, idset_count(r->set));
	return 0;
}

static enum heap_format remote_format(const void *self)
{
	const struct remote *r = self;

	return r->fmt;
}

static const char *remote_root(const void *self)
{
	const struct remote *r = self;

	return objstore_url(r->os);
}

static void remote_finish(void *self, uint64_t *objects, uint64_t *bytes)
{
	struct remote *r = self;

	heap_remote_stop_uploaders(r);
	*objects = atomic_load(&r->queued_objs) - atomic_load(&r->uploaded);
	*bytes = atomic_load(&r->queued_bytes) -
		 atomic_load(&r->stored_bytes);
}

static void remote_free(void *self)
{
	struct remote *r = self;
	struct job *j;

	if (!r)
		return;
	heap_remote_stop_uploaders(r);
	while ((j = r->head) != NULL) {
		r->head = j->next;
		heap_remote_job_free(j);
	}
	free(r->threads);
	pthread_cond_destroy(&r->has_job);
	pthread_cond_destroy(&r->progress);
	pthread_cond_destroy(&r->direct_room);
	pthread_cond_destroy(&r->copy_done);
	pthread_mutex_destroy(&r->lock);
	free(r->copying);
	objstore_etag_probe_destroy(&r->etags);
	idset_free(r->set);
	idset_free(r->rawset);
	idset_free(r->gzset);
	objstore_free(r->os);
	free(r->cache_file);
	free(r);
}

static void config_from_opts(struct objstore_config *cfg,
			     const struct engine_opts *o)
{
	engine_objstore_config(o, cfg);
}

/* --heap-cache-file: the presence set from the cache file path. 1
 * loaded, 0 not (missing, or refused with a warning: the heap is listed
 * instead), -errno. */
static int load_cache(struct remote *r, const char *path, struct errbuf *eb)
{
	struct errbuf cache_eb = ERRBUF_INIT, stamp_eb = ERRBUF_INIT;
	uint8_t cache_gc_id[HEAP_GC_ID_LEN];
	int ret, sret;

	r->cache_file = strdup(path);
	if (!r->cache_file)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	/* before the heap is listed or the cache taken: a gc after this
	 * read gives the heap another id, and the cache saved with this
	 * one is not taken next time */
	sret = heap_gc_stamp_read(r->os, r->gc_id, &stamp_eb);
	ret = heap_cache_load(r->cache_file, objstore_url(r->os), r->set,
			      &r->cache_text, cache_gc_id, &cache_eb);
	if (ret >= 0 && sret == 0 &&
	    !memcmp(cache_gc_id, r->gc_id, HEAP_GC_ID_LEN)) {
		log_info(&r->log, "heap '%s': %d objects from the cache "
			 "'%s'", objstore_url(r->os), ret, r->cache_file);
		return 1;
	}
	if (ret >= 0 && sret < 0)
		log_warn(&r->log, "cannot tell whether gc pruned heap '%s' "
			 "since its cache '%s' was saved: %s; listing the "
			 "heap", objstore_url(r->os), r->cache_file,
			 stamp_eb.msg);
	else if (ret >= 0)
		log_info(&r->log, "heap '%s' was pruned by gc since its cache "
			 "'%s' was saved: listing the heap",
			 objstore_url(r->os), r->cache_file);
	else if (ret != -ENOENT)
		log_warn(&r->log, "%s; listing the heap instead",
			 cache_eb.msg);
	idset_clear(r->set);
	return 0;
}

int heap_remote_open(const char *url, bool create,
		     const struct engine_opts *o, void **out,
		     struct errbuf *eb)
{
	struct objstore_config cfg;
	struct remote *r;
	bool from_cache = false;
	unsigned n;
	int ret;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	pthread_mutex_init(&r->lock, NULL);
	objstore_etag_probe_init(&r->etags);
	pthread_cond_init(&r->has_job, NULL);
	pthread_cond_init(&r->progress, NULL);
	pthread_cond_init(&r->direct_room, NULL);
	pthread_cond_init(&r->copy_done, NULL);
	if (o)
		r->log = o->log;
	else
		r->log = (struct logger)LOGGER_INIT;
	r->tmpdir = tmpfile_dir();
	config_from_opts(&cfg, o);
	ret = objstore_open(url, o ? o->heap_storage_options : NULL, &cfg,
			    &r->os, eb);
	if (ret < 0)
		goto fail;
	ret = idset_new(0, &r->set);
	if (!ret)
		ret = idset_new(0, &r->rawset);
	if (!ret)
		ret = idset_new(0, &r->gzset);
	if (ret < 0) {
		ret = errbuf_set(eb, ret, "out of memory");
		goto fail;
	}
	if (o && o->heap_cache_file && *o->heap_cache_file) {
		ret = load_cache(r, o->heap_cache_file, eb);
		if (ret < 0)
			goto fail;
		from_cache = ret == 1;
	}
	n = cfg.transfers ? cfg.transfers : 1;
	if (!from_cache) {
		struct heap_listing sets = { r->set, r->rawset, r->gzset };

		ret = heap_remote_list(r->os, &sets, create,
				       o && o->heap_list_jobs ?
				       o->heap_list_jobs : n, &r->log, eb);
		if (ret < 0)
			goto fail;
		log_info(&r->log, "heap '%s': %zu objects listed",
			 objstore_url(r->os), idset_count(r->set));
	}
	r->fmt = o ? o->heap_format : HEAP_FORMAT_AUTO;
	if (r->fmt == HEAP_FORMAT_AUTO) {
		bool gz = idset_count(r->gzset) > 0;

		if (from_cache) {
			ret = heap_remote_peek_gz(r->os, &gz, eb);
			if (ret < 0)
				goto fail;
		}
		r->fmt = gz ? HEAP_FORMAT_GZ : HEAP_FORMAT_RAW;
	}
	log_debug(&r->log, "heap '%s': new objects %s", objstore_url(r->os),
		  r->fmt == HEAP_FORMAT_GZ ? "gzip-compressed (<md5>.gz)" :
		  "as they are (<md5>)");
	ret = heap_remote_start_uploaders(r, n, eb);
	if (ret < 0)
		goto fail;
	*out = r;
	return 0;
fail:
	remote_free(r);
	return ret;
}

const struct heap_ops heap_remote_ops = {
	.name = "remote",
	.has = remote_has,
	.put_buf = remote_put_buf,
	.tx_begin = remote_tx_begin,
	.tx_write = remote_tx_write,
	.tx_commit = remote_tx_commit,
	.tx_abort = remote_tx_abort,
	.put_copy = remote_put_copy,
	.open_object = remote_open_object,
	.replace_object = remote_replace_object,
	.sync = remote_sync,
	.finish = remote_finish,
	.root = remote_root,
	.format = remote_format,
	.free = remote_free,
};
