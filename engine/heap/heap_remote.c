/* heap_remote: the heap in an object store (s3://, az://) over
 * net/objstore.h. Presence comes from an in-memory id set (idset.h),
 * filled once at open by listing the heap (heap_remote_list.c: flat
 * when its first page shows a heap of a few pages, else 256 prefix
 * listings "00/".."ff/" side by side) or from --heap-cache-file.
 * Server-side copies into the heap are heap_remote_copy.c. Puts are
 * asynchronous (heap_remote_upload.c). A body held in memory that goes
 * in one PUT is handed to the network stage by the thread that put it,
 * which goes on at once; the others (spools, multipart) go through a
 * queue to uploader threads:
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

	ret = heap_remote_mark_for_write(r, id);
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

	ret = heap_remote_mark_for_write(r, id);
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
	ret = objstore_get_file(r->os, key, fd, size, false, NULL, &local);
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

/* Which form of id a read asks for first: the one listed or written
 * (raw when both: no decompression), else the heap's format. */
static bool stored_gz(const struct remote *r, const struct objid *id)
{
	if (idset_has(r->rawset, id))
		return false;
	if (idset_has(r->gzset, id))
		return true;
	return r->fmt == HEAP_FORMAT_GZ;
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
	/* the other form on a miss */
	is_gz = stored_gz(r, id);
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

	is_gz = stored_gz(r, id);
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
	.put_copy = heap_remote_put_copy,
	.open_object = remote_open_object,
	.replace_object = remote_replace_object,
	.sync = remote_sync,
	.finish = remote_finish,
	.root = remote_root,
	.format = remote_format,
	.free = remote_free,
};
