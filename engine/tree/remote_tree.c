/* remote_tree: object-store trees over net/objstore.h. */
#include "remote_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bqueue.h"
#include "fdio.h"
#include "hasher.h"
#include "objstore.h"
#include "tmpfile.h"
#include "tree.h"
#include "banned.h"

#define SCAN_QUEUE 4096
#define CHECK_BUF (256u << 10)
/* A file up to this size is read into memory by the worker and put from
 * there: one read (not one for its MD5 and one more on the network
 * thread), and the body leaves with the request's head (net's inline
 * bodies, the same bound). */
#define PUT_FROM_MEMORY_MAX (64u << 10)

struct remote_tree {
	struct objstore *os;
};

struct remote_scan {
	struct remote_tree *t;
	const struct logger *log;
	bool (*allow)(void *ctx, const char *relpath, size_t len, bool is_dir);
	void *allow_ctx;
	uint64_t *files_scanned;
	unsigned flags;          /* REMOTE_SCAN_* */
	uint64_t listed;         /* keys listed, left out or not */
	struct bqueue *q;        /* struct entry * */
	pthread_t thread;
	bool started;
	int ret;
	struct errbuf err;
	struct entry last;       /* order check */
	bool has_last;
};

static int stop_at_first(void *arg, const struct objstore_entry *e)
{
	(void)arg;
	(void)e;
	return 1;
}

int remote_tree_open(const char *url, const char *storage_options,
		     const struct engine_opts *o, bool create,
		     struct remote_tree **out, struct errbuf *eb)
{
	struct objstore_config cfg;
	struct remote_tree *t;
	int ret;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	engine_objstore_config(o, &cfg);
	ret = objstore_open(url, storage_options, &cfg, &t->os, eb);
	if (!ret && create) {
		/* one listing request tells whether the bucket exists; a
		 * missing one is created with --create-bucket, else the
		 * error (a typo must not become a new bucket) */
		ret = objstore_list_paged(t->os, "", 1, stop_at_first, NULL,
					  eb);
		if (ret == -ENOENT)
			ret = objstore_bucket_missing(t->os, eb);
	}
	if (ret < 0) {
		remote_tree_free(t);
		return ret;
	}
	*out = t;
	return 0;
}

void remote_tree_free(struct remote_tree *t)
{
	if (!t)
		return;
	objstore_free(t->os);
	free(t);
}

struct objstore *remote_tree_store(struct remote_tree *t)
{
	return t->os;
}

const char *remote_tree_url(const struct remote_tree *t)
{
	return objstore_url(t->os);
}

/* saturate rather than overflow on an absurd Last-Modified */
static int64_t last_modified_ns(int64_t s)
{
	return s > INT64_MAX / 1000000000LL ? INT64_MAX : s < 0 ? 0 :
	       s * 1000000000LL;
}

static int list_cb(void *arg, const struct objstore_entry *oe)
{
	struct remote_scan *s = arg;
	const char *why = NULL;
	char shown[512];
	struct entry *e;

	s->listed++;
	if (entry_name_check(oe->key, oe->key_len, &why) < 0) {
		/* "dir/" folder markers are normal; anything else is odd */
		if (!(oe->key_len && oe->key[oe->key_len - 1] == '/' &&
		      oe->size == 0)) {
			errbuf_quote_name(shown, sizeof(shown), oe->key,
					  oe->key_len);
			log_warn(s->log, "skipping object '%s/%s': %s",
				 remote_tree_url(s->t), shown, why);
		}
		return 0;
	}
	if (s->allow && !s->allow(s->allow_ctx, oe->key, oe->key_len, false))
		return 0;
	e = entry_new();
	if (!e || entry_set_name(e, oe->key, oe->key_len) ||
	    (oe->etag && entry_set_etag(e, oe->etag))) {
		entry_free(e);
		return errbuf_set(&s->err, -ENOMEM, "out of memory");
	}
	e->type = ENTRY_FILE;
	e->size = oe->size;
	if (oe->has_mtime) {
		e->mtime_ns = oe->mtime_ns;
	} else {
		e->mtime_ns = last_modified_ns(oe->last_modified);
		e->upload_mtime = true;
	}
	e->mode = 0644;
	if (oe->has_md5) {
		memcpy(e->md5.b, oe->md5, OBJID_LEN);
		e->has_md5 = true;
	}
	if (s->files_scanned)
		__atomic_fetch_add(s->files_scanned, 1, __ATOMIC_RELAXED);
	if (bqueue_push(s->q, e) < 0) {
		entry_free(e);
		return -ECANCELED;
	}
	return 0;
}

static void *scan_main(void *arg)
{
	struct remote_scan *s = arg;

	s->ret = objstore_list(s->t->os, "", list_cb, s, &s->err);
	if (!s->ret && !s->listed &&
	    (s->flags & REMOTE_SCAN_EMPTY_IS_MISSING))
		s->ret = errbuf_set(&s->err, -ENOENT, "'%s' holds no object: "
				    "a store has no empty folders, so an "
				    "empty root is most likely a mistyped "
				    "one (refused, as a local root that does "
				    "not exist)", remote_tree_url(s->t));
	if (s->ret == -ENOENT && (s->flags & REMOTE_SCAN_MISSING_OK)) {
		/* a dry run: what a real one would do to a missing bucket */
		if (objstore_may_create_bucket(s->t->os)) {
			log_info(s->log, "%s (a real run would create it)",
				 s->err.msg);
			errbuf_clear(&s->err);
			s->ret = 0;
		} else {
			s->ret = objstore_bucket_missing(s->t->os, &s->err);
		}
	}
	if (s->ret < 0)
		bqueue_abort(s->q);
	else
		bqueue_close(s->q);
	return NULL;
}

int remote_scan_start(struct remote_tree *t, const struct logger *log,
		      bool (*allow)(void *ctx, const char *relpath, size_t len,
				    bool is_dir),
		      void *allow_ctx, uint64_t *files_scanned,
		      unsigned flags, struct remote_scan **out,
		      struct errbuf *eb)
{
	struct remote_scan *s = calloc(1, sizeof(*s));
	int ret;

	*out = NULL;
	if (!s)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	s->t = t;
	s->log = log;
	s->allow = allow;
	s->allow_ctx = allow_ctx;
	s->files_scanned = files_scanned;
	s->flags = flags;
	ret = bqueue_new(SCAN_QUEUE, &s->q);
	if (ret < 0) {
		free(s);
		return errbuf_set(eb, ret, "out of memory");
	}
	if (pthread_create(&s->thread, NULL, scan_main, s)) {
		bqueue_free(s->q);
		free(s);
		return errbuf_set(eb, -EAGAIN, "cannot start a thread");
	}
	s->started = true;
	*out = s;
	return 0;
}

int remote_scan_next(struct remote_scan *s, struct entry *out,
		     struct errbuf *eb)
{
	void *item;
	int ret = bqueue_pop(s->q, &item);

	if (ret == 0)
		return 0;
	if (ret < 0) {
		if (s->started) {
			pthread_join(s->thread, NULL);
			s->started = false;
		}
		if (s->err.code) {
			*eb = s->err;
			return s->err.code;
		}
		return errbuf_set(eb, s->ret < 0 ? s->ret : -ECANCELED,
				  "listing '%s' stopped",
				  remote_tree_url(s->t));
	}
	*out = *(struct entry *)item;
	free(item);
	/* stores list in byte order of the key, which is entry_cmp order
	 * for files; anything else would break the merge */
	if (s->has_last && entry_cmp(&s->last, out) >= 0) {
		entry_release(out);
		return errbuf_set(eb, -EBADMSG, "the listing of '%s' is not in "
				  "key order", remote_tree_url(s->t));
	}
	entry_release(&s->last);
	if (entry_copy(&s->last, out) < 0) {
		entry_release(out);
		return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	s->has_last = true;
	return 1;
}

void remote_scan_abort(struct remote_scan *s)
{
	bqueue_abort(s->q);
}

void remote_scan_free(struct remote_scan *s)
{
	void *item;

	if (!s)
		return;
	bqueue_abort(s->q);
	if (s->started)
		pthread_join(s->thread, NULL);
	while (bqueue_drain(s->q, &item) == 1)
		entry_free(item);
	bqueue_free(s->q);
	entry_release(&s->last);
	free(s);
}

/* The MD5 of the download in f into got (shown: its quoted name). */
static int hash_download(struct remote_tree *t, int f, const char *shown,
			 struct objid *got, struct errbuf *eb)
{
	char what[1100];
	struct hasher *h = NULL;
	char *buf;
	int ret;

	buf = malloc(CHECK_BUF);
	if (!buf)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	snprintf(what, sizeof(what), "the download of %s/%s",
		 remote_tree_url(t), shown);
	ret = hasher_new(&h, eb);
	if (!ret)
		ret = hasher_fd(h, f, what, buf, CHECK_BUF, got, NULL, eb);
	hasher_free(h);
	free(buf);
	return ret;
}

/* The bytes downloaded into f against the MD5 the store gave with them
 * (info->has_md5: an S3 single-part ETag, Azure Content-MD5, rclone's
 * md5chksum): a download is never taken on trust where the store says
 * what it should be (rclone checks the same). A download in ranges was
 * hashed as they landed (info->has_body_md5): nothing is read again.
 * 0, -EBADMSG naming the object and both digests, or -errno. */
static int check_download(struct remote_tree *t, const struct entry *e,
			  int f, const struct objstore_info *info,
			  struct errbuf *eb)
{
	char shown[512], want_hex[OBJID_HEX_LEN + 1], got_hex[OBJID_HEX_LEN + 1];
	struct objid got, want;
	int ret;

	if (!info->has_md5)
		return 0;
	errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
	if (info->has_body_md5) {
		memcpy(got.b, info->body_md5, OBJID_LEN);
	} else {
		ret = hash_download(t, f, shown, &got, eb);
		if (ret < 0)
			return ret;
	}
	memcpy(want.b, info->md5, OBJID_LEN);
	if (objid_eq(&got, &want))
		return 0;
	objid_to_hex(&want, want_hex);
	objid_to_hex(&got, got_hex);
	return errbuf_set(eb, -EBADMSG, "object '%s/%s' is not what the store "
			  "says it holds: its MD5 is %s, the %llu bytes "
			  "downloaded hash to %s (not published)",
			  remote_tree_url(t), shown, want_hex,
			  (unsigned long long)e->size, got_hex);
}

int remote_tree_fetch(struct remote_tree *t, const struct entry *e, int fd,
		      bool check, struct remote_got *got, struct errbuf *eb)
{
	struct objstore_info info;
	int ret;

	memset(got, 0, sizeof(*got));
	memset(&info, 0, sizeof(info));
	ret = objstore_get_file(t->os, e->name, fd, e->size, check, &info,
				eb);
	if (!ret && lseek(fd, 0, SEEK_END) != (off_t)e->size) {
		char shown[512];

		errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
		ret = errbuf_set(eb, -EAGAIN, "object '%s/%s' changed while "
				 "being read (size differs from its listing)",
				 remote_tree_url(t), shown);
	}
	if (!ret && check)
		ret = check_download(t, e, fd, &info, eb);
	if (!ret && lseek(fd, 0, SEEK_SET) < 0) {
		char shown[512];

		ret = -errno;
		errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
		ret = errbuf_set(eb, ret, "cannot rewind the download of "
				 "'%s/%s': %s", remote_tree_url(t), shown,
				 strerror(-ret));
	}
	if (ret < 0)
		return ret;
	got->has_mtime = info.has_mtime;
	got->mtime_ns = info.mtime_ns;
	got->has_md5 = info.has_md5;
	memcpy(got->md5.b, info.md5, OBJID_LEN);
	got->etag_not_md5 = info.etag_not_md5;
	snprintf(got->etag, sizeof(got->etag), "%s", info.etag);
	return 0;
}

int remote_tree_read(struct remote_tree *t, const struct entry *e, int *fd,
		     bool check, struct remote_got *got, struct errbuf *eb)
{
	int ret, f;

	*fd = -1;
	f = tmpfile_open(tmpfile_dir(), eb);
	if (f < 0)
		return f;
	ret = remote_tree_fetch(t, e, f, check, got, eb);
	if (ret < 0)
		close(f);
	else
		*fd = f;
	return ret;
}

bool remote_tree_lists_mtime(const struct remote_tree *t)
{
	return objstore_lists_mtime(t->os);
}

int remote_tree_head(struct remote_tree *t, const struct entry *e,
		     struct tree_meta *m, struct errbuf *eb)
{
	struct objstore_info info;
	int ret;

	memset(&info, 0, sizeof(info));
	memset(m, 0, sizeof(*m));
	ret = objstore_head(t->os, e->name, &info, eb);
	if (ret < 0)
		return ret;
	m->has_mtime = info.has_mtime;
	m->mtime_ns = info.has_mtime ? info.mtime_ns :
		      last_modified_ns(info.last_modified);
	m->has_md5 = info.has_md5;
	memcpy(m->md5.b, info.md5, OBJID_LEN);
	return 0;
}

int remote_tree_write(struct remote_tree *t, const struct entry *e, int fd,
		      uint64_t size, const struct objid *md5,
		      struct errbuf *eb)
{
	return remote_tree_write_checked(t, e, fd, size, md5, NULL, NULL, eb);
}

/* The size bytes of fd (at 0) into a new buffer *out. 0; -ESTALE when
 * the file ended first and changed(arg) says it changed (the caller
 * reads it again), -EIO when it ended first all the same; -errno. */
static int read_small(struct remote_tree *t, const struct entry *e, int fd,
		      uint64_t size, int (*changed)(void *arg), void *arg,
		      char **out, struct errbuf *eb)
{
	char *buf = malloc(size), shown[512];
	uint64_t got = 0;

	*out = NULL;
	if (!buf)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	while (got < size) {
		ssize_t n = fdio_pread(fd, buf + got, size - got, got);

		if (n <= 0) {
			errbuf_quote_name(shown, sizeof(shown), e->name,
					  e->name_len);
			free(buf);
			if (n < 0)
				return errbuf_set(eb, (int)n, "cannot put "
						  "'%s/%s': reading the file: "
						  "%s", remote_tree_url(t),
						  shown, strerror((int)-n));
			if (changed && changed(arg))
				return errbuf_set(eb, -ESTALE, "'%s' changed "
						  "while being read", shown);
			return errbuf_set(eb, -EIO, "cannot put '%s/%s': the "
					  "file ended after %llu of %llu bytes",
					  remote_tree_url(t), shown,
					  (unsigned long long)got,
					  (unsigned long long)size);
		}
		got += (uint64_t)n;
	}
	*out = buf;
	return 0;
}

int remote_tree_write_checked(struct remote_tree *t, const struct entry *e,
			      int fd, uint64_t size, const struct objid *md5,
			      int (*changed)(void *arg), void *arg,
			      struct errbuf *eb)
{
	struct objstore_put_opts po;
	struct body_src src;
	char *mem = NULL;
	int ret;

	memset(&src, 0, sizeof(src));
	src.kind = BODY_SRC_FD;
	src.fd = fd;
	src.off = 0;
	src.len = size;
	if (size && size <= PUT_FROM_MEMORY_MAX) {
		ret = read_small(t, e, fd, size, changed, arg, &mem, eb);
		if (ret < 0)
			return ret;
		src.kind = BODY_SRC_MEM;
		src.mem = mem;
	}
	memset(&po, 0, sizeof(po));
	po.md5 = md5 ? md5->b : NULL;
	po.has_mtime = true;
	po.mtime_ns = e->mtime_ns;
	po.changed = changed;
	po.changed_arg = arg;
	ret = objstore_put(t->os, e->name, &src, &po, NULL, eb);
	free(mem);
	return ret;
}

int remote_tree_remove(struct remote_tree *t, const struct entry *e,
		       struct errbuf *eb)
{
	return objstore_del(t->os, e->name, eb);
}
