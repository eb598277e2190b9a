/* heap: argument checks and dispatch to the local or remote backend
 * (heap_impl.h), chosen by the root: a path or an object-store URL. */
#include "heap.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hasher.h"
#include "heap_gz.h"
#include "heap_impl.h"
#include "objstore.h"
#include "run_error.h"
#include "team.h"
#include "tmpfile.h"
#include "fdio.h"
#include "banned.h"

struct heap {
	const struct heap_ops *ops;
	void *self;
};

struct heap_tx {
	const struct heap_ops *ops;
	void *self;
};

void heap_object_path(const struct objid *id, char out[36])
{
	char hex[OBJID_HEX_LEN + 1];

	objid_to_hex(id, hex);
	out[0] = hex[0];
	out[1] = hex[1];
	out[2] = '/';
	memcpy(out + 3, hex, OBJID_HEX_LEN + 1);
}

void heap_object_path_gz(const struct objid *id, char out[39])
{
	heap_object_path(id, out);
	memcpy(out + 35, ".gz", 4);
}

bool heap_lower_hex(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int heap_parse_object_name(const char *name, size_t len, struct objid *id)
{
	int kind = 1;

	if (len == OBJID_HEX_LEN + 3 && !memcmp(name + OBJID_HEX_LEN, ".gz", 3))
		kind = 2;
	else if (len != OBJID_HEX_LEN)
		return 0;
	/* the names heap_object_path makes, lower case only: "D41D8..."
	 * would read as an id whose object ("d4/d41d8...") may not exist,
	 * and a backup would skip storing that content */
	if (!heap_lower_hex(name, OBJID_HEX_LEN) ||
	    objid_from_hex(name, OBJID_HEX_LEN, id))
		return 0;
	return kind;
}

int heap_parse_object_key(const char *key, size_t len, struct objid *id)
{
	if (len < 3 + OBJID_HEX_LEN || key[2] != '/' ||
	    memcmp(key, key + 3, 2))
		return 0;
	return heap_parse_object_name(key + 3, len - 3, id);
}

int heap_gz_open_decoded(int src, int dirfd, const char *shown, uint64_t max,
			 int *fd_out, struct errbuf *eb)
{
	char why[200];
	int fd, ret;

	fd = tmpfile_open_near(dirfd, eb);
	if (fd < 0)
		return fd;
	ret = heap_gz_decode_fd(src, fd, max, NULL, why, sizeof(why));
	if (!ret && lseek(fd, 0, SEEK_SET) < 0) {
		ret = -errno;
		snprintf(why, sizeof(why), "%s", strerror(errno));
	}
	if (ret < 0) {
		close(fd);
		return errbuf_set(eb, ret, "cannot read heap object '%s': %s",
				  shown, why);
	}
	*fd_out = fd;
	return 0;
}

static int wrap(const struct heap_ops *ops, void *self, struct heap **out,
		struct errbuf *eb)
{
	struct heap *h = calloc(1, sizeof(*h));

	if (!h) {
		ops->free(self);
		return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	h->ops = ops;
	h->self = self;
	*out = h;
	return 0;
}

int heap_open(const char *root, bool create, struct heap **out,
	      struct errbuf *eb)
{
	void *self = NULL;
	int ret;

	if (!out)
		return errbuf_set(eb, -EINVAL, "cannot open heap: invalid "
				  "arguments");
	*out = NULL;
	if (!root || !*root)
		return errbuf_set(eb, -EINVAL, "cannot open heap: no root");
	ret = heap_local_open(root, create, HEAP_FORMAT_AUTO, &self, eb);
	if (ret < 0)
		return ret;
	return wrap(&heap_local_ops, self, out, eb);
}

int heap_open_url(const char *root, bool create, const struct engine_opts *o,
		  struct heap **out, struct errbuf *eb)
{
	void *self = NULL;
	int ret;

	if (!out)
		return errbuf_set(eb, -EINVAL, "cannot open heap: invalid "
				  "arguments");
	*out = NULL;
	if (!objstore_is_url(root)) {
		if (!root || !*root)
			return errbuf_set(eb, -EINVAL, "cannot open heap: no "
					  "root");
		ret = heap_local_open(root, create, o ? o->heap_format :
				      HEAP_FORMAT_AUTO, &self, eb);
		if (ret < 0)
			return ret;
		return wrap(&heap_local_ops, self, out, eb);
	}
	ret = heap_remote_open(root, create, o, &self, eb);
	if (ret < 0)
		return ret;
	return wrap(&heap_remote_ops, self, out, eb);
}

void heap_free(struct heap *h)
{
	if (!h)
		return;
	h->ops->free(h->self);
	free(h);
}

const char *heap_root(const struct heap *h)
{
	return h->ops->root(h->self);
}

enum heap_format heap_format(const struct heap *h)
{
	return h->ops->format(h->self);
}

int heap_has(struct heap *h, const struct objid *id, struct errbuf *eb)
{
	if (!h || !id)
		return errbuf_set(eb, -EINVAL, "heap_has: invalid arguments");
	return h->ops->has(h->self, id, eb);
}

/* heap_has_many's team: each member claims the next id until none is
 * left or a lookup failed (the first failure is the call's). */
struct has_many {
	struct heap *h;
	const struct objid *ids;
	unsigned char *present;
	size_t n;
	atomic_size_t next;
	struct run_error err;
};

static void *has_many_main(void *arg)
{
	struct has_many *m = arg;
	struct errbuf eb = ERRBUF_INIT;
	size_t i;

	while ((i = atomic_fetch_add(&m->next, 1)) < m->n &&
	       !run_error_failed(&m->err)) {
		int r = heap_has(m->h, &m->ids[i], &eb);

		if (r < 0) {
			run_error_set(&m->err, &eb, r);
			break;
		}
		m->present[i] = (unsigned char)r;
	}
	return NULL;
}

#define HAS_THREADS_MAX 16

int heap_has_many(struct heap *h, const struct objid *ids, size_t n,
		  unsigned threads, unsigned char *present, struct errbuf *eb)
{
	struct has_many m = { .h = h, .ids = ids, .present = present,
			      .n = n };
	int ret;

	if (!h || (!ids && n) || (!present && n))
		return errbuf_set(eb, -EINVAL, "heap_has_many: invalid "
				  "arguments");
	if (threads > HAS_THREADS_MAX)
		threads = HAS_THREADS_MAX;
	if (threads > n)
		threads = (unsigned)n;
	atomic_init(&m.next, 0);
	run_error_init(&m.err);
	team_run(threads, has_many_main, &m);
	ret = run_error_take(&m.err, eb);
	run_error_destroy(&m.err);
	return ret;
}

int heap_put_buf(struct heap *h, const struct objid *id, const void *buf,
		 size_t len, struct errbuf *eb)
{
	if (!h || !id || (!buf && len))
		return errbuf_set(eb, -EINVAL, "heap_put_buf: invalid "
				  "arguments");
	return h->ops->put_buf(h->self, id, buf, len, eb);
}

int heap_tx_begin(struct heap *h, struct heap_tx **out, struct errbuf *eb)
{
	struct heap_tx *tx;
	int ret;

	if (!h || !out)
		return errbuf_set(eb, -EINVAL, "heap_tx_begin: invalid "
				  "arguments");
	*out = NULL;
	tx = calloc(1, sizeof(*tx));
	if (!tx)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	tx->ops = h->ops;
	ret = h->ops->tx_begin(h->self, &tx->self, eb);
	if (ret < 0) {
		free(tx);
		return ret;
	}
	*out = tx;
	return 0;
}

int heap_tx_write(struct heap_tx *tx, const void *buf, size_t len,
		  struct errbuf *eb)
{
	if (!tx || (!buf && len))
		return errbuf_set(eb, -EINVAL, "heap_tx_write: invalid "
				  "arguments");
	return tx->ops->tx_write(tx->self, buf, len, eb);
}

int heap_tx_commit(struct heap_tx *tx, const struct objid *id,
		   struct errbuf *eb)
{
	int ret;

	if (!tx)
		return errbuf_set(eb, -EINVAL, "heap_tx_commit: invalid "
				  "arguments");
	if (!id) {
		heap_tx_abort(tx);
		return errbuf_set(eb, -EINVAL, "heap_tx_commit: invalid "
				  "arguments");
	}
	ret = tx->ops->tx_commit(tx->self, id, eb);
	free(tx);
	return ret;
}

void heap_tx_abort(struct heap_tx *tx)
{
	if (!tx)
		return;
	tx->ops->tx_abort(tx->self);
	free(tx);
}

int heap_open_object_sized(struct heap *h, const struct objid *id,
			   uint64_t size, int *fd_out, struct errbuf *eb)
{
	if (!h || !id || !fd_out)
		return errbuf_set(eb, -EINVAL, "heap_open_object: invalid "
				  "arguments");
	*fd_out = -1;
	return h->ops->open_object(h->self, id, size, fd_out, eb);
}

int heap_open_object(struct heap *h, const struct objid *id, int *fd_out,
		     struct errbuf *eb)
{
	return heap_open_object_sized(h, id, UINT64_MAX, fd_out, eb);
}

int heap_sync(struct heap *h, struct errbuf *eb)
{
	if (!h)
		return errbuf_set(eb, -EINVAL, "heap_sync: invalid arguments");
	return h->ops->sync(h->self, eb);
}

void heap_finish(struct heap *h, uint64_t *objects, uint64_t *bytes)
{
	*objects = 0;
	*bytes = 0;
	if (h && h->ops->finish)
		h->ops->finish(h->self, objects, bytes);
}

int heap_put_copy(struct heap *h, const struct objid *id,
		  struct objstore *src, const char *key, const char *etag,
		  struct errbuf *eb)
{
	if (!h || !id || !src || !key)
		return -EINVAL;
	if (!h->ops->put_copy)
		return -EXDEV;
	return h->ops->put_copy(h->self, id, src, key, etag, eb);
}

int heap_check_object(struct heap *h, const struct objid *id,
		      struct hasher *hs, void *buf, size_t cap,
		      uint64_t *bytes, struct errbuf *eb)
{
	char hex[OBJID_HEX_LEN + 1], got_hex[OBJID_HEX_LEN + 1];
	struct objid got;
	uint64_t total = 0;
	int fd = -1, ret;

	if (!h || !id || !hs || !buf || !cap)
		return errbuf_set(eb, -EINVAL, "heap_check_object: invalid "
				  "arguments");
	if (bytes)
		*bytes = 0;
	objid_to_hex(id, hex);
	ret = h->ops->open_object(h->self, id, UINT64_MAX, &fd, eb);
	/* missing, corrupt gzip, a gzip bomb: damage, and the message
	 * names the object already */
	if (ret == -ENOENT || ret == -EBADMSG || ret == -EFBIG)
		return 0;
	if (ret < 0)
		return ret;
	ret = hasher_begin(hs, eb);
	while (!ret) {
		ssize_t n = fdio_read(fd, buf, cap);

		if (n < 0) {
			/* a local disk that cannot give the bytes back: the
			 * object is as good as lost, a new copy helps */
			ret = (int)n;
			errbuf_set(eb, ret, "cannot read heap object %s: %s",
				   hex, strerror(-ret));
			close(fd);
			return ret == -EIO ? 0 : ret;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		ret = hasher_update(hs, buf, (size_t)n, eb);
	}
	close(fd);
	if (!ret)
		ret = hasher_final(hs, &got, eb);
	if (ret < 0)
		return ret;
	if (bytes)
		*bytes = total;
	if (objid_cmp(&got, id)) {
		objid_to_hex(&got, got_hex);
		errbuf_set(eb, -EBADMSG, "heap object %s: content does not "
			   "match its name (its MD5 is %s, %llu bytes)", hex,
			   got_hex, (unsigned long long)total);
		return 0;
	}
	return 1;
}

/* The sink of heap_copy_checked's gzip encoder. */
struct copy_dst {
	int fd;
	const char *shown;
};

static int copy_dst_write(void *arg, const void *buf, size_t len,
			  struct errbuf *eb)
{
	const struct copy_dst *d = arg;
	int ret = fdio_write_full(d->fd, buf, len);

	if (ret < 0)
		return errbuf_set(eb, ret, "cannot write '%s': %s", d->shown,
				  strerror(-ret));
	return 0;
}

int heap_copy_checked(const struct heap_copy_src *src, int dst_fd,
		      const char *dst_shown, bool gz, const struct objid *id,
		      struct errbuf *eb)
{
	struct copy_dst d = { dst_fd, dst_shown };
	struct heap_gz_enc *enc = NULL;
	struct objid got;
	int ret;

	ret = gz ? heap_gz_enc_new(copy_dst_write, &d, &enc, eb) : 0;
	if (!ret)
		ret = hasher_begin(src->hs, eb);
	while (!ret) {
		ssize_t n = fdio_read(src->fd, src->buf, src->cap);

		if (n < 0) {
			ret = errbuf_set(eb, (int)n, "cannot read '%s': %s",
					 src->shown, strerror((int)-n));
			break;
		}
		if (n == 0)
			break;
		ret = hasher_update(src->hs, src->buf, (size_t)n, eb);
		if (!ret && enc)
			ret = heap_gz_enc_write(enc, src->buf, (size_t)n, eb);
		else if (!ret)
			ret = copy_dst_write(&d, src->buf, (size_t)n, eb);
	}
	if (!ret && enc)
		ret = heap_gz_enc_finish(enc, eb);
	heap_gz_enc_free(enc);
	if (!ret)
		ret = hasher_final(src->hs, &got, eb);
	if (!ret && objid_cmp(&got, id))
		ret = errbuf_set(eb, -ESTALE, "'%s' changed since it was "
				 "hashed", src->shown);
	return ret;
}

int heap_replace_object(struct heap *h, const struct objid *id, int src,
			const char *src_shown, struct hasher *hs, void *buf,
			size_t cap, struct errbuf *eb)
{
	struct heap_copy_src cs = { src, src_shown ? src_shown : "?", hs, buf,
				    cap };

	if (!h || !id || src < 0 || !hs || !buf || !cap)
		return errbuf_set(eb, -EINVAL, "heap_replace_object: invalid "
				  "arguments");
	return h->ops->replace_object(h->self, id, &cs, eb);
}
