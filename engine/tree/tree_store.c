/* tree_store: a prefix of an object store, over remote_tree.h: its
 * listing is the scan. */
#include "tree_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "remote_tree.h"
#include "banned.h"

struct store_tree {
	struct tree base;
	struct remote_tree *rt;
};

struct store_scan {
	struct tree_scan base;
	struct remote_tree *rt;      /* the tree's */
	struct remote_scan *rs;
};

static const struct tree_ops store_ops;

static unsigned store_caps(const struct tree *t)
{
	const struct store_tree *s = (const struct store_tree *)t;

	return remote_tree_lists_mtime(s->rt) ? TREE_CAP_LISTS_MTIME : 0;
}

static const char *store_root(const struct tree *t)
{
	return remote_tree_url(((const struct store_tree *)t)->rt);
}

static struct objstore *store_objstore(struct tree *t)
{
	return remote_tree_store(((struct store_tree *)t)->rt);
}

static int store_scan_start(struct tree *t, const struct tree_scan_opts *so,
			    struct tree_scan **out, struct errbuf *eb)
{
	struct store_scan *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	s->base.ops = &store_ops;
	s->rt = ((struct store_tree *)t)->rt;
	ret = remote_scan_start(s->rt, so->scan.log, so->scan.allow,
				so->scan.allow_ctx, so->scan.files_scanned,
				(so->scan.missing_root_ok ?
				 REMOTE_SCAN_MISSING_OK : 0) |
				(so->scan.empty_store_is_missing ?
				 REMOTE_SCAN_EMPTY_IS_MISSING : 0), &s->rs, eb);
	if (ret < 0) {
		free(s);
		return ret;
	}
	*out = &s->base;
	return 0;
}

static int store_scan_next(struct tree_scan *base, struct entry *out,
			   struct errbuf *eb)
{
	return remote_scan_next(((struct store_scan *)base)->rs, out, eb);
}

static void store_scan_abort(struct tree_scan *base)
{
	remote_scan_abort(((struct store_scan *)base)->rs);
}

/* open_file and fetch_file: the object into fd (a temp of TMPDIR when
 * fd < 0, then f's to close), f filled as tree.h says. */
static int store_download(struct tree_scan *base, const struct entry *e,
			  int fd, unsigned flags, struct tree_file *f,
			  struct errbuf *eb)
{
	const struct store_scan *s = (const struct store_scan *)base;
	bool check = !(flags & TREE_OPEN_HASHING);
	struct remote_got got;
	char shown[512];
	int ret;

	memset(f, 0, sizeof(*f));
	f->fd = fd;
	ret = fd < 0 ? remote_tree_read(s->rt, e, &f->fd, check, &got, eb) :
		       remote_tree_fetch(s->rt, e, fd, check, &got, eb);
	if (ret < 0) {
		f->fd = -1;
		return ret;
	}
	/* the metadata's mtime, else the entry's (Last-Modified) */
	f->has_mtime = got.has_mtime;
	f->mtime_ns = got.has_mtime ? got.mtime_ns : e->mtime_ns;
	f->has_md5 = got.has_md5;
	f->md5 = got.md5;
	f->listed_md5_void = got.etag_not_md5;
	memcpy(f->etag, got.etag, sizeof(f->etag));
	if (fstat(f->fd, &f->st)) {
		ret = -errno;
		if (fd < 0)
			close(f->fd);
		f->fd = -1;
		errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
		return errbuf_set(eb, ret, "cannot stat the download of "
				  "'%s/%s': %s", remote_tree_url(s->rt), shown,
				  strerror(-ret));
	}
	return 0;
}

static int store_open_file(struct tree_scan *base, const struct entry *e,
			   unsigned flags, struct tree_file *f,
			   struct errbuf *eb)
{
	return store_download(base, e, -1, flags, f, eb);
}

static int store_fetch_file(struct tree_scan *base, const struct entry *e,
			    int fd, struct tree_file *f, struct errbuf *eb)
{
	return store_download(base, e, fd, 0, f, eb);
}

static int store_put(struct tree *t, const struct entry *e, int fd,
		     uint64_t size, const struct objid *md5,
		     int (*changed)(void *arg), void *arg, struct errbuf *eb)
{
	return remote_tree_write_checked(((struct store_tree *)t)->rt, e, fd,
					 size, md5, changed, arg, eb);
}

static int store_remove(struct tree *t, const struct entry *e,
			struct errbuf *eb)
{
	return remote_tree_remove(((struct store_tree *)t)->rt, e, eb);
}

static int store_file_meta(struct tree *t, const struct entry *e,
			   struct tree_meta *m, struct errbuf *eb)
{
	return remote_tree_head(((struct store_tree *)t)->rt, e, m, eb);
}

static void store_scan_free(struct tree_scan *base)
{
	struct store_scan *s = (struct store_scan *)base;

	remote_scan_free(s->rs);
	free(s);
}

static void store_free(struct tree *t)
{
	struct store_tree *s = (struct store_tree *)t;

	remote_tree_free(s->rt);
	free(s);
}

static const struct tree_ops store_ops = {
	.name = "object store",
	.caps = store_caps,
	.root = store_root,
	.objstore = store_objstore,
	.scan_start = store_scan_start,
	.scan_next = store_scan_next,
	.scan_abort = store_scan_abort,
	.file_meta = store_file_meta,
	.put = store_put,
	.remove = store_remove,
	.open_file = store_open_file,
	.fetch_file = store_fetch_file,
	.scan_free = store_scan_free,
	.free = store_free,
};

int tree_store_open(const char *url, const char *storage_options,
		    const struct engine_opts *o, bool dest, struct tree **out,
		    struct errbuf *eb)
{
	struct store_tree *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	s->base.ops = &store_ops;
	ret = remote_tree_open(url, storage_options, o, dest, &s->rt, eb);
	if (ret < 0) {
		free(s);
		return ret;
	}
	*out = &s->base;
	return 0;
}
