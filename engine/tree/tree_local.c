/* tree_local: a directory of the local file system, scanned by the walker
 * of scan.h, on the caller's thread or on one of its own that queues
 * entries ahead. */
#include "tree_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bqueue.h"
#include "clock.h"
#include "relpath.h"
#include "scan.h"
#include "banned.h"

struct local_tree {
	struct tree base;
	char *root;
};

struct local_scan {
	struct tree_scan base;
	const char *root;            /* the tree's */
	struct scanner *scanner;
	/* walking ahead (tree_scan_opts.ahead): the walker's thread and
	 * what it found so far */
	struct bqueue *q;            /* struct entry * */
	struct errbuf err;           /* the walker's failure */
	pthread_t thread;
	bool started;
};

static const struct tree_ops local_ops;

static unsigned local_caps(const struct tree *t)
{
	(void)t;
	return TREE_CAP_FS | TREE_CAP_LISTS_MTIME;
}

static const char *local_root(const struct tree *t)
{
	return ((const struct local_tree *)t)->root;
}

/* The walker's thread: every entry into the queue; the queue closed at
 * the end, aborted on a failure (its message in s->err). */
static void *walk_ahead(void *arg)
{
	struct local_scan *s = arg;
	struct entry *e;
	int ret;

	for (;;) {
		e = entry_new();
		if (!e) {
			ret = errbuf_set(&s->err, -ENOMEM, "out of memory");
			break;
		}
		ret = scanner_next(s->scanner, e, &s->err);
		if (ret <= 0) {
			free(e);
			break;
		}
		if (bqueue_push(s->q, e) < 0) {
			entry_free(e);
			ret = -ECANCELED;
			break;
		}
	}
	if (ret < 0)
		bqueue_abort(s->q);
	else
		bqueue_close(s->q);
	return NULL;
}

static void local_scan_free(struct tree_scan *base)
{
	struct local_scan *s = (struct local_scan *)base;
	void *item;

	if (s->q)
		bqueue_abort(s->q);
	if (s->started)
		pthread_join(s->thread, NULL);
	while (s->q && bqueue_drain(s->q, &item) == 1)
		entry_free(item);
	bqueue_free(s->q);
	scanner_free(s->scanner);
	free(s);
}

static int local_scan_start(struct tree *t, const struct tree_scan_opts *so,
			    struct tree_scan **out, struct errbuf *eb)
{
	struct local_scan *s = calloc(1, sizeof(*s));
	struct scan_opts o;
	int ret;

	if (!s)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	s->base.ops = &local_ops;
	s->root = local_root(t);
	o = so->scan;
	o.root = local_root(t);
	ret = scanner_new(&o, &s->scanner, eb);
	if (!ret && so->ahead) {
		ret = bqueue_new(so->ahead, &s->q);
		if (ret < 0)
			ret = errbuf_set(eb, ret, "out of memory");
		else if (pthread_create(&s->thread, NULL, walk_ahead, s))
			ret = errbuf_set(eb, -EAGAIN, "cannot start threads");
		else
			s->started = true;
	}
	if (ret < 0) {
		local_scan_free(&s->base);
		return ret;
	}
	*out = &s->base;
	return 0;
}

static int local_scan_next(struct tree_scan *base, struct entry *out,
			   struct errbuf *eb)
{
	struct local_scan *s = (struct local_scan *)base;
	void *item;
	int ret;

	if (!s->q)
		return scanner_next(s->scanner, out, eb);
	ret = bqueue_pop(s->q, &item);
	if (ret == 1) {
		*out = *(struct entry *)item;
		free(item);
		return 1;
	}
	if (ret == 0)
		return 0;
	/* the walker's failure, or an abort from outside (then the walker
	 * may still be writing s->err: it stops at its next push) */
	if (s->started) {
		pthread_join(s->thread, NULL);
		s->started = false;
	}
	if (s->err.code) {
		*eb = s->err;
		return s->err.code;
	}
	return errbuf_set(eb, -ECANCELED, "stopped");
}

static void local_scan_abort(struct tree_scan *base)
{
	struct local_scan *s = (struct local_scan *)base;

	if (s->q)
		bqueue_abort(s->q);
}

static int local_scan_rootfd(const struct tree_scan *base)
{
	return scanner_rootfd(((const struct local_scan *)base)->scanner);
}

static int local_scan_xattrs(struct tree_scan *base, unsigned ns,
			     struct entry *e, struct errbuf *eb)
{
	return scanner_xattrs(((struct local_scan *)base)->scanner, ns, e,
			      eb);
}

static int local_open_file(struct tree_scan *base, const struct entry *e,
			   unsigned flags, struct tree_file *f,
			   struct errbuf *eb)
{
	const struct local_scan *s = (const struct local_scan *)base;
	char shown[512];
	int err = 0;

	(void)flags;   /* nothing is checked on opening a file system's file */
	memset(f, 0, sizeof(*f));
	/* O_NONBLOCK: a fifo put where a file was scanned must not hang
	 * the open; it is refused below */
	f->fd = relpath_open(scanner_rootfd(s->scanner), e->name, e->name_len,
			     O_RDONLY | O_NONBLOCK);
	if (f->fd < 0)
		err = f->fd;
	else if (fstat(f->fd, &f->st))
		err = -errno;
	else if (!S_ISREG(f->st.st_mode))
		err = -EINVAL;
	if (!err) {
		f->mtime_ns = clock_ts_ns(&f->st.st_mtim);
		f->has_mtime = true;
		f->live = true;
		return 0;
	}
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
	return errbuf_set(eb, err, "cannot read '%s/%s': %s", s->root, shown,
			  strerror(-err));
}

static void local_free(struct tree *t)
{
	struct local_tree *l = (struct local_tree *)t;

	free(l->root);
	free(l);
}

static const struct tree_ops local_ops = {
	.name = "local",
	.caps = local_caps,
	.root = local_root,
	.scan_start = local_scan_start,
	.scan_next = local_scan_next,
	.scan_abort = local_scan_abort,
	.scan_rootfd = local_scan_rootfd,
	.scan_xattrs = local_scan_xattrs,
	.open_file = local_open_file,
	.scan_free = local_scan_free,
	.free = local_free,
};

int tree_local_open(const char *root, struct tree **out, struct errbuf *eb)
{
	struct local_tree *l = calloc(1, sizeof(*l));

	if (l)
		l->root = strdup(root);
	if (!l || !l->root) {
		free(l);
		return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	l->base.ops = &local_ops;
	*out = &l->base;
	return 0;
}
