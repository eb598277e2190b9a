/* tree: the dispatch of tree.h to the backends of tree_impl.h. */
#include "tree.h"

#include <errno.h>
#include <stddef.h>

#include "objstore.h"
#include "tree_impl.h"
#include "banned.h"

int tree_open(const char *root, const char *storage_options,
	      const struct engine_opts *o, bool dest, struct tree **out,
	      struct errbuf *eb)
{
	*out = NULL;
	if (!root)
		return errbuf_set(eb, -EINVAL, "no tree root given");
	if (objstore_is_url(root))
		return tree_store_open(root, storage_options, o, dest, out,
				       eb);
	return tree_local_open(root, out, eb);
}

void tree_free(struct tree *t)
{
	if (t)
		t->ops->free(t);
}

unsigned tree_caps(const struct tree *t)
{
	return t->ops->caps(t);
}

const char *tree_root(const struct tree *t)
{
	return t->ops->root(t);
}

struct objstore *tree_objstore(struct tree *t)
{
	return t && t->ops->objstore ? t->ops->objstore(t) : NULL;
}

int tree_scan_start(struct tree *t, const struct tree_scan_opts *so,
		    struct tree_scan **out, struct errbuf *eb)
{
	*out = NULL;
	return t->ops->scan_start(t, so, out, eb);
}

int tree_scan_next(struct tree_scan *s, struct entry *out, struct errbuf *eb)
{
	return s->ops->scan_next(s, out, eb);
}

void tree_scan_abort(struct tree_scan *s)
{
	if (s && s->ops->scan_abort)
		s->ops->scan_abort(s);
}

int tree_scan_rootfd(const struct tree_scan *s)
{
	return s && s->ops->scan_rootfd ? s->ops->scan_rootfd(s) : -1;
}

int tree_scan_xattrs(struct tree_scan *s, unsigned ns, struct entry *e,
		     struct errbuf *eb)
{
	return s->ops->scan_xattrs ? s->ops->scan_xattrs(s, ns, e, eb) : 0;
}

int tree_open_file(struct tree_scan *s, const struct entry *e,
		   unsigned flags, struct tree_file *f, struct errbuf *eb)
{
	return s->ops->open_file(s, e, flags, f, eb);
}

int tree_fetch_file(struct tree_scan *s, const struct entry *e, int fd,
		    struct tree_file *f, struct errbuf *eb)
{
	if (!s->ops->fetch_file)
		return errbuf_set(eb, -EOPNOTSUPP, "a %s tree's files are "
				  "opened where they are, not fetched",
				  s->ops->name);
	return s->ops->fetch_file(s, e, fd, f, eb);
}

int tree_file_meta(struct tree *t, const struct entry *e,
		   struct tree_meta *m, struct errbuf *eb)
{
	if (!t->ops->file_meta)
		return errbuf_set(eb, -EOPNOTSUPP, "%s tree '%s' keeps no "
				  "metadata beyond its scan", t->ops->name,
				  tree_root(t));
	return t->ops->file_meta(t, e, m, eb);
}

/* A write to a tree that is written through a tree_writer. */
static int not_flat(struct tree *t, const struct entry *e, const char *what,
		    struct errbuf *eb)
{
	char shown[512];

	errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
	return errbuf_set(eb, -EOPNOTSUPP, "cannot %s '%s/%s': a %s tree is "
			  "written through a tree writer", what, tree_root(t),
			  shown, t->ops->name);
}

int tree_put(struct tree *t, const struct entry *e, int fd, uint64_t size,
	     const struct objid *md5, int (*changed)(void *arg), void *arg,
	     struct errbuf *eb)
{
	if (!t->ops->put)
		return not_flat(t, e, "write", eb);
	return t->ops->put(t, e, fd, size, md5, changed, arg, eb);
}

int tree_remove(struct tree *t, const struct entry *e, struct errbuf *eb)
{
	if (!t->ops->remove)
		return not_flat(t, e, "remove", eb);
	return t->ops->remove(t, e, eb);
}

void tree_scan_free(struct tree_scan *s)
{
	if (s)
		s->ops->scan_free(s);
}
