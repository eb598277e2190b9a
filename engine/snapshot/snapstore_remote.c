/* snapstore_remote: snapshots in an object store (s3://, az://) over
 * net/objstore.h. A snapshot is written to an unnamed temp file while the
 * writer streams it, and published with one PUT at commit (a single PUT
 * is atomic; above the multipart threshold the upload becomes visible
 * only at completion), so a reader never sees a partial snapshot. Reading
 * downloads the object into an unnamed temp file, which the reader's read
 * callback closes at the end of the data (or snapstore_free does); the
 * last SNAPSTORE_CACHE_MAX downloads are kept (disk: their sizes) and
 * reopened through /proc/self/fd, as restore reads its target four
 * times. One backend of snapstore_impl.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "objstore.h"
#include "snapshot_reader.h"
#include "snapstore_impl.h"
#include "tmpfile.h"
#include "fdio.h"
#include "banned.h"

#define SNAPSTORE_CACHE_MAX 4

/* one downloaded snapshot being read; lives until snapstore_free because
 * the reader may call read again after the end */
struct snapstore_rfd {
	struct snapstore_rfd *next;
	int fd;
};

struct snapstore_remote {
	char *root;                      /* the URL without secrets */
	struct objstore *os;
	const char *tmpdir;              /* spools */
	pthread_mutex_t lock;
	struct snapstore_rfd *rfds;      /* downloads being read */
	/* the last few downloads (snapshots never change once published,
	 * and restore reads its target four times): key -> temp file */
	struct {
		char *key;
		int fd;
	} cache[SNAPSTORE_CACHE_MAX];
	unsigned cache_next;             /* slot to replace next */
};

static void remote_free(void *self)
{
	struct snapstore_remote *ss = self;
	struct snapstore_rfd *r, *next;
	unsigned i;

	for (i = 0; i < SNAPSTORE_CACHE_MAX; i++) {
		if (ss->cache[i].fd >= 0)
			close(ss->cache[i].fd);
		ss->cache[i].fd = -1;
		free(ss->cache[i].key);
		ss->cache[i].key = NULL;
	}
	for (r = ss->rfds; r; r = next) {
		next = r->next;
		if (r->fd >= 0)
			close(r->fd);
		free(r);
	}
	ss->rfds = NULL;
	objstore_free(ss->os);
	ss->os = NULL;
	pthread_mutex_destroy(&ss->lock);
	free(ss->root);
	free(ss);
}

static int remote_open(const char *url, const char *storage_options_json,
		       const struct engine_opts *o, void **self,
		       struct errbuf *eb)
{
	struct objstore_config cfg;
	struct snapstore_remote *ss;
	int rc;

	ss = calloc(1, sizeof(*ss));
	if (!ss)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	for (rc = 0; rc < SNAPSTORE_CACHE_MAX; rc++)
		ss->cache[rc].fd = -1;
	pthread_mutex_init(&ss->lock, NULL);
	ss->tmpdir = tmpfile_dir();
	engine_objstore_config(o, &cfg);
	rc = objstore_open(url, storage_options_json, &cfg, &ss->os, eb);
	if (rc < 0)
		goto fail;
	ss->root = strdup(objstore_url(ss->os));
	if (!ss->root) {
		rc = errbuf_set(eb, -ENOMEM, "out of memory");
		goto fail;
	}
	*self = ss;
	return 0;
fail:
	remote_free(ss);
	return rc;
}

static const char *remote_root(const void *self)
{
	return ((const struct snapstore_remote *)self)->root;
}

struct list_ctx {
	struct snapstore_list *l;
	size_t cap;
};

static int list_cb(void *arg, const struct objstore_entry *e)
{
	struct list_ctx *c = arg;
	enum snapshot_format fmt;
	int64_t t;

	if (snapstore_parse_relpath(e->key, e->key_len, &t, &fmt))
		return 0;
	return snapstore_list_push(c->l, &c->cap, e->key, e->key_len, t,
				   fmt);
}

static int remote_list(void *self, struct snapstore_list *out,
		       struct errbuf *eb)
{
	struct snapstore_remote *ss = self;
	struct snapstore_list l = SNAPSTORE_LIST_INIT;
	struct errbuf local = ERRBUF_INIT;
	struct list_ctx c = { &l, 0 };
	int rc;

	/* snapshot years are 1677..2262: listing the keys that start with
	 * '1' or '2' skips most of a heap that shares the prefix */
	rc = objstore_list(ss->os, "1", list_cb, &c, &local);
	if (rc == 0)
		rc = objstore_list(ss->os, "2", list_cb, &c, &local);
	if (rc == -ENOENT && objstore_may_create_bucket(ss->os)) {
		/* no bucket yet, and a writer will create it: no snapshot
		 * yet (a folder without snapshots lists nothing: 0 too) */
		snapstore_list_release(&l);
		return 0;
	}
	if (rc < 0) {
		snapstore_list_release(&l);
		if (rc == -ENOMEM && !local.code)
			return errbuf_set(eb, rc, "cannot list snapshots: out "
					  "of memory");
		return errbuf_set(eb, rc, "cannot list snapshots in '%s': %s",
				  ss->root, local.msg);
	}
	snapstore_list_sort(&l);
	*out = l;
	return 0;
}

/* the temp file is unnamed: nothing to remove when the tx is freed */
static int remote_tx_begin(void *self, struct snapstore_tx *tx,
			   struct errbuf *eb)
{
	struct snapstore_remote *ss = self;

	tx->fd = tmpfile_open(ss->tmpdir, eb);
	return tx->fd < 0 ? tx->fd : 0;
}

static int remote_tx_commit(void *self, struct snapstore_tx *tx,
			    char **path_out, struct errbuf *eb)
{
	struct snapstore_remote *ss = self;
	struct errbuf local = ERRBUF_INIT;
	struct objstore_info info;
	struct body_src src;
	int rc, tries;

	if (tx->err)
		return errbuf_set(eb, tx->err, "cannot write snapshot '%s/%s' "
				  "to a temp file: %s", ss->root, tx->relpath,
				  strerror(-tx->err));
	/* never replace a snapshot (the local store renames without
	 * overwrite); the name has microseconds, so a clash is a clock
	 * problem or a second writer */
	rc = objstore_head(ss->os, tx->relpath, &info, &local);
	if (rc == 0)
		return errbuf_set(eb, -EEXIST, "cannot save snapshot '%s/%s': "
				  "a snapshot with that name already exists",
				  ss->root, tx->relpath);
	if (rc != -ENOENT)
		return errbuf_set(eb, rc, "%s", local.msg);
	memset(&src, 0, sizeof(src));
	src.kind = tx->len ? BODY_SRC_FD : BODY_SRC_NONE;
	src.fd = tx->fd;
	src.len = tx->len;
	for (tries = 0; tries < 2; tries++) {
		errbuf_clear(&local);
		rc = objstore_put(ss->os, tx->relpath, &src, NULL, NULL,
				  &local);
		if (rc != -ENOENT || tries)
			break;
		/* first snapshot into a bucket that does not exist yet:
		 * created with --create-bucket, else the error */
		rc = objstore_bucket_missing(ss->os, &local);
		if (rc < 0)
			break;
	}
	if (rc < 0)
		return errbuf_set(eb, rc, "cannot save snapshot: %s",
				  local.msg);
	if (path_out) {
		*path_out = snapstore_join(ss->root, tx->relpath);
		if (!*path_out)
			rc = errbuf_set(eb, -ENOMEM,
					"cannot save snapshot: out of memory");
	}
	return rc;
}

static ssize_t rfd_read(void *ctx, void *buf, size_t len)
{
	struct snapstore_rfd *r = ctx;
	ssize_t n;

	if (r->fd < 0)
		return 0;
	n = fdio_read(r->fd, buf, len);
	if (n < 0)
		return n;
	if (n == 0) {
		/* the end: give the temp file's space back now */
		close(r->fd);
		r->fd = -1;
	}
	return n;
}

/* A new open file description (own offset) of a cached download of
 * key, or -1. The temp file is unnamed: reopen it through /proc. */
static int cache_open(struct snapstore_remote *ss, const char *key)
{
	char proc[64];
	unsigned i;
	int fd = -1;

	pthread_mutex_lock(&ss->lock);
	for (i = 0; i < SNAPSTORE_CACHE_MAX; i++) {
		if (!ss->cache[i].key || strcmp(ss->cache[i].key, key))
			continue;
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d",
			 ss->cache[i].fd);
		fd = open(proc, O_RDONLY | O_CLOEXEC);
		break;
	}
	pthread_mutex_unlock(&ss->lock);
	return fd;
}

/* Remember a download (a second descriptor of fd); best effort. */
static void cache_add(struct snapstore_remote *ss, const char *key, int fd)
{
	unsigned i;
	char *k;
	int dfd;

	k = strdup(key);
	dfd = k ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
	if (dfd < 0) {
		free(k);
		return;
	}
	pthread_mutex_lock(&ss->lock);
	i = ss->cache_next++ % SNAPSTORE_CACHE_MAX;
	if (ss->cache[i].fd >= 0)
		close(ss->cache[i].fd);
	free(ss->cache[i].key);
	ss->cache[i].key = k;
	ss->cache[i].fd = dfd;
	pthread_mutex_unlock(&ss->lock);
}

/* The key of path: "<root>/<key>" or a relative key. */
static int key_of(const struct snapstore_remote *ss, const char *path,
		  const char **key, struct errbuf *eb)
{
	size_t rl = strlen(ss->root);

	if (!strncmp(path, ss->root, rl) && path[rl] == '/') {
		*key = path + rl + 1;
	} else if (strstr(path, "://")) {
		return errbuf_set(eb, -EINVAL, "cannot open snapshot '%s': it "
				  "is not in '%s'", path, ss->root);
	} else {
		*key = path;
		while (**key == '/')
			(*key)++;
	}
	if (!**key)
		return errbuf_set(eb, -EINVAL, "cannot open snapshot '%s': no "
				  "name", path);
	return 0;
}

static int remote_open_reader(void *self, const char *path,
			      struct snapshot_reader **out, struct errbuf *eb)
{
	struct snapstore_remote *ss = self;
	struct errbuf local = ERRBUF_INIT;
	struct snapstore_rfd *r;
	struct body_sink sink;
	const char *key = NULL;
	char *shown;
	int fd, rc;

	rc = key_of(ss, path, &key, eb);
	if (rc < 0)
		return rc;
	shown = snapstore_join(ss->root, key);
	if (!shown)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	fd = cache_open(ss, key);
	if (fd < 0) {
		fd = tmpfile_open(ss->tmpdir, eb);
		if (fd < 0) {
			free(shown);
			return fd;
		}
		memset(&sink, 0, sizeof(sink));
		sink.kind = BODY_SINK_FD;
		sink.fd = fd;
		rc = objstore_get(ss->os, key, 0, 0, &sink, NULL, &local);
		if (rc == -ENOENT)
			rc = errbuf_set(eb, rc, "cannot open snapshot '%s': No "
					"such snapshot", shown);
		else if (rc < 0)
			rc = errbuf_set(eb, rc, "cannot open snapshot '%s': %s",
					shown, local.msg);
		else if (lseek(fd, 0, SEEK_SET) < 0)
			rc = errbuf_set(eb, -errno, "cannot rewind a temp file: "
					"%s", strerror(errno));
		if (rc < 0)
			goto fail;
		cache_add(ss, key, fd);
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		rc = errbuf_set(eb, -ENOMEM, "out of memory");
		goto fail;
	}
	r->fd = fd;
	pthread_mutex_lock(&ss->lock);
	r->next = ss->rfds;
	ss->rfds = r;
	pthread_mutex_unlock(&ss->lock);
	rc = snapshot_reader_new(rfd_read, r, shown, out, eb);
	free(shown);
	return rc;
fail:
	close(fd);
	free(shown);
	return rc;
}

static int remote_remove(void *self, const char *relpath, struct errbuf *eb)
{
	struct snapstore_remote *ss = self;
	struct errbuf local = ERRBUF_INIT;
	int rc;

	rc = objstore_del(ss->os, relpath, &local);
	if (rc < 0)
		return errbuf_set(eb, rc, "cannot remove snapshot '%s/%s': %s",
				  ss->root, relpath, local.msg);
	return 0;
}

const struct snapstore_ops snapstore_remote_ops = {
	.name = "remote",
	.remote = true,
	.open = remote_open,
	.free = remote_free,
	.root = remote_root,
	.list = remote_list,
	.remove = remote_remove,
	.open_reader = remote_open_reader,
	.tx_begin = remote_tx_begin,
	.tx_commit = remote_tx_commit,
};
