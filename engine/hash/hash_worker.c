/* hash_worker: the worker, its batched small-file path, the objects of a
 * remote tree and the store step (--verify-heap too); the streamed
 * large-file path is in stream_hash.c. */
#include "hash_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash_worker_impl.h"
#include "hasher.h"
#include "heap_verify.h"
#include "md5mb.h"
#include "relpath.h"
#include "tree.h"
#include "progress.h"
#include "fdio.h"
#include "banned.h"

void hash_worker_skip_changing(struct hash_worker *w, bool on)
{
	w->skip_changing = on;
}

int hash_worker_new(enum io_backend io, enum md5_impl md5,
		    struct hash_worker **out, struct errbuf *eb)
{
	struct hash_worker *w = NULL;
	int ret;

	*out = NULL;
	ret = engine_md5_resolve(md5, &md5, eb);
	if (ret < 0)
		return ret;
	w = calloc(1, sizeof(*w));
	if (!w)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	if (md5 != MD5_IMPL_OPENSSL) {
		ret = md5mb_new(md5 == MD5_IMPL_AVX2 ? MD5MB_AVX2 :
				MD5MB_AVX512, &w->mb, eb);
		if (ret < 0)
			goto fail;
	}
	ret = io_ctx_new(io, 2 * HASH_BATCH_MAX * 4, &w->io, NULL, eb);
	if (ret < 0)
		goto fail;
	ret = hasher_new(&w->hasher, eb);
	if (ret < 0)
		goto fail;
	w->arena = malloc(HASH_ARENA_SIZE);
	if (!w->arena) {
		ret = errbuf_set(eb, -ENOMEM, "out of memory");
		goto fail;
	}
	*out = w;
	return 0;
fail:
	hash_worker_free(w);
	return ret;
}

void hash_worker_share_fds(struct hash_worker *w, unsigned workers)
{
	io_ctx_set_max_open(w->io, hash_fd_share(workers, 1, HASH_BATCH_MAX));
}

void hash_worker_free(struct hash_worker *w)
{
	if (!w)
		return;
	io_ctx_free(w->io);
	hasher_free(w->hasher);
	md5mb_free(w->mb);
	free(w->arena);
	free(w->vbuf);
	free(w);
}

int hash_worker_file_error(struct errbuf *eb, int err, const char *root,
			   const struct entry *e, const char *what)
{
	char shown[512];

	errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
	return errbuf_set(eb, err, "cannot %s '%s/%s': %s", what, root, shown,
			  strerror(-err));
}

/* A failed heap write names the heap's temp or object (eb already says
 * which and why); this puts the file it came from in front. */
int hash_worker_store_error(struct errbuf *eb, int err, const char *root,
			    const struct entry *e)
{
	char shown[512];

	errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
	return errbuf_wrap(eb, err, "cannot store '%s/%s' in the heap", root,
			   shown);
}

int hash_worker_not_regular(struct errbuf *eb, const char *root,
			    const struct entry *e, uint32_t mode)
{
	char shown[512];

	errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
	return errbuf_set(eb, S_ISDIR(mode) ? -EISDIR : -EINVAL,
			  "cannot read '%s/%s': no longer a regular file "
			  "(replaced since the scan)", root, shown);
}

/* Count the result of a heap put (1 written, 0 already there) and pass
 * errors through. */
static int record_store(struct run_stats *stats, int ret, uint64_t len)
{
	if (ret < 0)
		return ret;
	stat_add(ret ? &stats->heap_objects_written :
		 &stats->heap_objects_present, 1);
	if (ret)
		stat_add(&stats->bytes_written, len);
	return 0;
}

void hash_worker_take_stat(struct entry *e, const struct io_stat *st)
{
	e->size = st->size;
	e->mtime_ns = st->mtime_ns;
	e->ctime_ns = st->ctime_ns;
	e->ino = st->ino;
	e->uid = st->uid;
	e->gid = st->gid;
	e->nlink = st->nlink;
	e->mode = st->mode & 07777;
}

/* A file of a batch read whole, still a regular file of the size and
 * mtime the scan saw: its bytes are hashed as they are. */
static bool batch_item_ok(const struct io_read_job *j, const struct entry *e)
{
	return !j->err && S_ISREG(j->st_after.mode) && j->len == e->size &&
	       j->st_after.size == e->size &&
	       j->st_after.mtime_ns == e->mtime_ns;
}

/* The MD5s of the batch's good files side by side in the lanes, into
 * w->digests (w->mb only). The buffers are not touched again before
 * they are stored: what is stored is what was hashed. */
static void digest_batch(struct hash_worker *w, struct entry **items,
			 size_t n)
{
	/* initialised for gcc's -Wmaybe-uninitialized only */
	const void *bufs[HASH_BATCH_MAX] = { NULL };
	size_t lens[HASH_BATCH_MAX] = { 0 }, at[HASH_BATCH_MAX], i, m = 0;
	uint8_t got[HASH_BATCH_MAX][16];

	for (i = 0; i < n; i++) {
		if (!batch_item_ok(&w->jobs[i], items[i]))
			continue;
		bufs[m] = w->jobs[i].buf;
		lens[m] = w->jobs[i].len;
		at[m++] = i;
	}
	md5mb_digest_many(w->mb, w->mb_jobs, bufs, lens, m, got);
	for (i = 0; i < m; i++)
		memcpy(w->digests[at[i]], got[i], 16);
}

/* Read a batch of small files whole, then hash and store each. */
static int hash_batch(struct hash_worker *w, int rootfd, const char *root,
		      struct entry **items, size_t n, struct heap *heap,
		      struct run_stats *stats, struct errbuf *eb)
{
	size_t i, used = 0;
	int ret;

	for (i = 0; i < n; i++) {
		struct io_read_job *j = &w->jobs[i];

		memset(j, 0, sizeof(*j));
		j->dirfd = rootfd;
		j->name = items[i]->name;
		j->buf = w->arena + used;
		/* one byte more than expected: a grown file shows */
		j->cap = items[i]->size + 1;
		used += j->cap;
	}
	ret = io_read_batch(w->io, w->jobs, n, eb);
	if (ret < 0)
		return ret;
	if (w->mb)
		digest_batch(w, items, n);
	for (i = 0; i < n; i++) {
		struct io_read_job *j = &w->jobs[i];
		struct entry *e = items[i];

		if (j->err == -ENOENT) {
			/* deleted since the scan: not part of the tree any
			 * more; the writer leaves it out (no md5) */
			e->has_md5 = false;
			continue;
		}
		if (j->err)
			return hash_worker_file_error(eb, j->err, root, e,
						      "read");
		if (!S_ISREG(j->st_after.mode))
			/* replaced by a directory, fifo, device or socket
			 * since the scan: never record it as a file */
			return hash_worker_not_regular(eb, root, e,
						       j->st_after.mode);
		stat_add(&stats->bytes_read, j->len);
		if (!batch_item_ok(j, e)) {
			/* changed since the scan or while read */
			ret = hash_worker_stream_one(w, rootfd, root, e, heap,
						     stats, eb);
			if (ret < 0)
				return ret;
			continue;
		}
		if (w->mb) {
			memcpy(e->md5.b, w->digests[i], OBJID_LEN);
		} else {
			ret = hasher_digest(w->hasher, j->buf, j->len, &e->md5,
					    eb);
			if (ret < 0)
				return ret;
		}
		e->has_md5 = true;
		hash_worker_take_stat(e, &j->st_after);
		if (heap) {
			struct content_src src = { -1, rootfd, e->name };

			ret = hash_worker_store_content(w, heap, NULL, j->buf,
							j->len, &src,
							root, e, stats, eb);
			if (ret == -ESTALE) {
				/* --verify-heap: changed before the repair;
				 * hash_streamed counts it */
				errbuf_clear(eb);
				e->has_md5 = false;
				ret = hash_worker_stream_one(w, rootfd, root,
							     e, heap,
							     stats, eb);
				if (ret < 0)
					return ret;
				continue;
			}
			if (ret < 0)
				return ret;
		}
		stat_add(&stats->files_hashed, 1);
	}
	return 0;
}

int hash_worker_run(struct hash_worker *w, int rootfd, const char *root,
		    struct entry **items, size_t n, struct heap *heap,
		    struct run_stats *stats, struct errbuf *eb)
{
	size_t i, batch = 0, used = 0;
	int ret;

	for (i = 0; i < n; i++) {
		struct entry *e = items[i];

		if (e->size > HASH_SMALL_MAX || e->sparse ||
		    e->name_len >= RELPATH_DIRECT_MAX) {
			ret = hash_worker_stream_one(w, rootfd, root, e, heap,
						     stats, eb);
			if (ret < 0)
				return ret;
			continue;
		}
		if (batch == HASH_BATCH_MAX ||
		    used + e->size + 1 > HASH_ARENA_SIZE) {
			ret = hash_batch(w, rootfd, root, w->job_items, batch,
					 heap, stats, eb);
			if (ret < 0)
				return ret;
			batch = 0;
			used = 0;
		}
		w->job_items[batch++] = e;
		used += e->size + 1;
	}
	if (batch)
		return hash_batch(w, rootfd, root, w->job_items, batch, heap,
				  stats, eb);
	return 0;
}

/* Hash (and store) an open temp file of a downloaded object; its bytes
 * must hash to want (the MD5 the download came with, else the one its
 * listing or HEAD gave) when there is one. */
static int hash_fd(struct hash_worker *w, int fd, const char *root,
		   struct entry *e, const struct objid *want, struct heap *heap,
		   struct run_stats *stats, struct errbuf *eb)
{
	char shown[512], want_hex[OBJID_HEX_LEN + 1], got_hex[OBJID_HEX_LEN + 1];
	struct heap_tx *tx = NULL;
	struct objid got;
	uint64_t total = 0;
	int ret;

	ret = hasher_begin(w->hasher, eb);
	if (!ret && heap)
		ret = heap_tx_begin(heap, &tx, eb);
	while (!ret) {
		ssize_t n = fdio_read(fd, w->arena, HASH_ARENA_SIZE);

		if (n < 0) {
			ret = hash_worker_file_error(eb, (int)n, root, e,
						     "read back the download "
						     "of");
			break;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		stat_add(&stats->bytes_read, (uint64_t)n);
		ret = hasher_update(w->hasher, w->arena, (size_t)n, eb);
		if (!ret && tx)
			ret = heap_tx_write(tx, w->arena, (size_t)n, eb);
	}
	if (!ret)
		ret = hasher_final(w->hasher, &got, eb);
	if (!ret && want && !objid_eq(&got, want)) {
		errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
		objid_to_hex(want, want_hex);
		objid_to_hex(&got, got_hex);
		ret = errbuf_set(eb, -EBADMSG, "object '%s/%s' is not what the "
				 "store says it holds: its MD5 is %s, the %llu "
				 "bytes downloaded hash to %s (changed or corrupt; "
				 "not stored)", root, shown, want_hex,
				 (unsigned long long)total, got_hex);
	}
	if (ret < 0) {
		heap_tx_abort(tx);
		return ret;
	}
	e->md5 = got;
	e->has_md5 = true;
	e->size = total;
	stat_add(&stats->files_hashed, 1);
	if (tx) {
		struct content_src src = { fd, -1, NULL };

		ret = hash_worker_store_content(w, heap, tx, NULL, total, &src,
						NULL, e,
						stats, eb);
		/* a download does not change: its bytes were hashed */
		if (ret == -ESTALE)
			ret = errbuf_set(eb, -EIO, "a downloaded temp file "
					 "changed while it was read");
	}
	return ret;
}

int hash_worker_run_remote(struct hash_worker *w, struct tree_scan *s,
			   const char *root, struct objstore *copy_from,
			   struct entry **items,
			   size_t n, struct heap *heap,
			   struct run_stats *stats, struct errbuf *eb)
{
	struct tree_file f;
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		struct entry *e = items[i];

		if (copy_from && heap && e->has_md5 && !w->verify) {
			/* the store knows the md5: a server-side copy into a
			 * heap in the same store moves no bytes through here
			 * (If-Match on the listed etag keeps it honest) */
			ret = heap_put_copy(heap, &e->md5, copy_from, e->name,
					    e->etag, eb);
			if (ret >= 0) {
				/* no bytes written by this host */
				record_store(stats, ret, 0);
				continue;
			}
			errbuf_clear(eb);  /* copy the bytes ourselves */
		}
		/* hashed here once: not read back for its MD5 on the way */
		ret = tree_open_file(s, e, TREE_OPEN_HASHING, &f, eb);
		if (ret < 0)
			return ret;
		e->mtime_ns = f.mtime_ns;
		if (f.has_mtime)  /* the file's mtime came with the object */
			e->upload_mtime = false;
		/* an ETag that filled its buffer may be cut: not taken */
		ret = strlen(f.etag) + 1 < sizeof(f.etag) ?
		      entry_take_fetched_etag(e, f.etag) : 0;
		if (ret < 0) {
			close(f.fd);
			return errbuf_set(eb, -ENOMEM, "out of memory");
		}
		/* the MD5 the download came with, else the listing's
		 * (unless the download said the listing's is no MD5, or
		 * got another version than listed: the bytes' own then
		 * names the content) */
		ret = hash_fd(w, f.fd, root, e, f.has_md5 ? &f.md5 :
			      e->has_md5 && !f.listed_md5_void && ret == 0 ?
			      &e->md5 : NULL, heap, stats, eb);
		close(f.fd);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int hash_worker_verify_heap(struct hash_worker *w, struct heap_verify *v,
			    struct errbuf *eb)
{
	w->verify = v;
	if (v && !w->vbuf) {
		w->vbuf = malloc(HASH_CHUNK);
		if (!w->vbuf)
			return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	return 0;
}

/* --verify-heap: the object of e->md5 was in the heap before this run
 * stored it: read it back and, when damaged, write it again from src.
 * 0 sound or repaired, -ESTALE src no longer holds the content, -errno. */
static int verify_present(struct hash_worker *w, const struct content_src *src,
			  const char *root, const struct entry *e,
			  struct errbuf *eb)
{
	char why[sizeof(eb->msg)], name[512], shown[1100];
	int fd, ret;

	ret = heap_verify_check(w->verify, &e->md5, w->hasher, w->vbuf,
				HASH_CHUNK, eb);
	if (ret != 0)
		return ret < 0 ? ret : 0;
	memcpy(why, eb->msg, sizeof(why));
	errbuf_clear(eb);
	errbuf_quote_name(name, sizeof(name), e->name, e->name_len);
	if (root)
		snprintf(shown, sizeof(shown), "%s/%s", root, name);
	else
		snprintf(shown, sizeof(shown), "%s", name);
	if (src->fd >= 0) {
		fd = src->fd;
		if (lseek(fd, 0, SEEK_SET) < 0)
			return errbuf_set(eb, -errno, "cannot rewind a "
					  "download of '%s': %s", shown,
					  strerror(errno));
	} else {
		fd = openat(src->dirfd, src->name, O_RDONLY | O_CLOEXEC |
			    O_NOFOLLOW);
		if (fd < 0 && errno == ENOENT)
			return -ESTALE;  /* gone: the next read says so */
		if (fd < 0)
			return hash_worker_file_error(eb, -errno, root, e,
						      "read");
	}
	ret = heap_verify_repair(w->verify, &e->md5, why, fd, shown,
				 w->hasher, w->vbuf, HASH_CHUNK, eb);
	if (src->fd < 0)
		close(fd);
	return ret;
}

/* Publish e's content (the tx, or buf) and count it. With --verify-heap
 * only the first worker of the run with this content stores it, and an
 * object that was there already is read back (verify_present). Frees tx
 * in every case. 0, -ESTALE (verify: the file changed, read it again),
 * -errno with the file named. */
int hash_worker_store_content(struct hash_worker *w, struct heap *heap,
			      struct heap_tx *tx, const void *buf, uint64_t len,
			      const struct content_src *src, const char *root,
			      struct entry *e, struct run_stats *stats,
			      struct errbuf *eb)
{
	int ret, put;

	if (w->verify) {
		ret = heap_verify_claim(w->verify, &e->md5, eb);
		if (ret <= 0) {
			/* settled by an earlier worker: sound by now */
			heap_tx_abort(tx);
			return ret < 0 ? ret : record_store(stats, 0, len);
		}
	}
	put = tx ? heap_tx_commit(tx, &e->md5, eb) :
	      heap_put_buf(heap, &e->md5, buf, (size_t)len, eb);
	ret = put;
	if (put < 0 && root)
		ret = hash_worker_store_error(eb, put, root, e);
	if (put == 0 && w->verify) {
		ret = verify_present(w, src, root, e, eb);
		if (ret < 0 && ret != -ESTALE && root) {
			char shown[512];

			errbuf_quote_name(shown, sizeof(shown), e->name,
					  e->name_len);
			ret = errbuf_wrap(eb, ret, "cannot check the heap "
					  "object of '%s/%s'", root, shown);
		}
	}
	if (w->verify)
		heap_verify_settle(w->verify, &e->md5, ret >= 0);
	if (ret < 0)
		return ret;
	return record_store(stats, put, len);
}
