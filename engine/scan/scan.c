/* scan: depth-first walk with one frame per directory level, fed by a
 * prefetch pool.
 *
 * The walk (caller's thread) keeps a stack of frames. When it enters a
 * directory it needs its children listed, statx'ed and sorted; a job for
 * that was usually queued earlier, when the parent was loaded, and done by
 * a pool thread meanwhile. Jobs are queued for the directories the walk
 * reaches soonest (children of the deepest frames first), at most
 * PREFETCH_MAX at a time. A job the pool has not started yet when the walk
 * arrives is cancelled and done inline. */
#include "scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bqueue.h"
#include "hardlinks.h"
#include "tree_temp.h"
#include "xattr.h"
#include "banned.h"

#define PREFETCH_MAX 64
/* Directory fds kept open along the current path. Deeper ancestors are
 * "parked" (closed) and reopened through ".." on the way back up, so a
 * tree 1,000 levels deep scans within a 1,024-fd limit. */
#define FD_KEEP 48
/* smaller files are never taken for sparse: holes would save little */
#define SPARSE_MIN_SIZE (64 * 1024)

struct dir_job;

struct child {
	const char *name;
	size_t len;
	struct io_stat st;
	struct dir_job *job;    /* prefetch under way, or NULL */
};

/* What loading one directory produces; buffers are reused. */
struct dir_data {
	struct io_dir_listing listing;
	struct child *children;
	size_t n, cap;
	const char **names;     /* for io_stat_batch */
	struct io_stat *stats;
};

struct frame {
	int dirfd;
	char *prefix;           /* "a/b/" (empty for the root) */
	size_t prefix_len;
	struct dir_data d;
	size_t next;            /* next child the walk visits */
	size_t prefetch_next;   /* next child to consider for prefetch */
	bool parked;            /* dirfd closed (deep walk), see FD_KEEP */
	dev_t dev;              /* identity checked when reopened */
	ino_t ino;
};

enum job_state {
	JOB_QUEUED,
	JOB_RUNNING,
	JOB_DONE,
	JOB_CANCELLED,          /* the walk did it itself; pool recycles */
};

struct dir_job {
	struct dir_job *free_next;
	struct dir_job *all_next;
	int parentfd;           /* borrowed: the parent frame outlives us */
	const char *name;       /* borrowed from the parent's listing */
	char *prefix;           /* "a/b/c/", owned until taken */
	size_t prefix_len;
	int dirfd;              /* result */
	struct dir_data d;      /* result */
	int err;
	struct errbuf eb;
	enum job_state state;
};

struct scanner {
	struct scan_opts o;
	struct io_ctx *io;
	bool fell_back;
	int rootfd;
	struct frame *frames;   /* stack, frames[0] = root */
	size_t depth, frames_cap;
	char *path;             /* scratch for relative paths (walk only) */
	size_t path_cap;
	bool started;
	/* the entry scanner_next returned last, for scanner_xattrs: its
	 * own fd (directories) or its parent's fd and base name */
	int last_fd;
	const char *last_base;
	char *xpath;            /* PATH_MAX scratch for scanner_xattrs */
	/* prefetch pool */
	pthread_mutex_t lock;
	pthread_cond_t done;
	struct bqueue *jobq;
	pthread_t *threads;
	unsigned nthreads;
	unsigned outstanding;   /* queued, running or done, not taken */
	struct dir_job *free_jobs;
	struct dir_job *all_jobs;
	/* walk thread only */
	struct hardlinks *links;      /* with o.hard_links */
	bool links_full_warned;
};

static void counter_add(uint64_t *c, uint64_t n)
{
	if (c)
		__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static int child_cmp(const void *a, const void *b)
{
	const struct child *x = a, *y = b;

	return entry_key_cmp(x->name, x->len, S_ISDIR(x->st.mode),
			     y->name, y->len, S_ISDIR(y->st.mode));
}

static void dir_data_free(struct dir_data *d)
{
	io_dir_listing_release(&d->listing);
	free(d->children);
	free(d->names);
	free(d->stats);
	memset(d, 0, sizeof(*d));
}

static void frame_release(struct frame *f)
{
	if (f->dirfd >= 0)
		close(f->dirfd);
	f->dirfd = -1;
	free(f->prefix);
	f->prefix = NULL;
}

static int ensure_path(struct scanner *s, size_t need, struct errbuf *eb)
{
	char *p;
	size_t cap;

	if (need <= s->path_cap)
		return 0;
	cap = need * 2;
	p = realloc(s->path, cap);
	if (!p)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	s->path = p;
	s->path_cap = cap;
	return 0;
}

/* Build "prefix + name" in s->path; returns its length. */
static size_t join(struct scanner *s, const struct frame *f, const char *name,
		   size_t len)
{
	memcpy(s->path, f->prefix, f->prefix_len);
	memcpy(s->path + f->prefix_len, name, len);
	s->path[f->prefix_len + len] = '\0';
	return f->prefix_len + len;
}

/* "root/prefix+name" rendered safely for a message */
static void shown_path(char *out, size_t cap, const char *prefix,
		       size_t prefix_len, const char *name, size_t len)
{
	size_t n;

	errbuf_quote_name(out, cap, prefix, prefix_len);
	n = strlen(out);
	if (n < cap)
		errbuf_quote_name(out + n, cap - n, name, len);
	n = strlen(out);
	if (!n && cap > 1) {
		out[0] = '.';
		out[1] = '\0';
	} else if (n && out[n - 1] == '/') {
		out[n - 1] = '\0';
	}
}

/* List, statx and sort the children of dirfd. Runs on the walk or on a
 * pool thread (io belongs to the calling thread). */
static int load_dir(struct io_ctx *io, const char *root, int dirfd,
		    const char *prefix, size_t prefix_len, struct dir_data *d,
		    struct errbuf *eb)
{
	char shown[512];
	size_t i, n;
	int ret;

	ret = io_list_dir(dirfd, &d->listing, eb);
	if (ret < 0) {
		shown_path(shown, sizeof(shown), prefix, prefix_len, "", 0);
		return errbuf_wrap(eb, ret, "cannot list directory '%s/%s'",
				   root, shown);
	}
	n = d->listing.n;
	if (n > d->cap) {
		struct child *c = realloc(d->children, n * sizeof(*c));
		const char **nm = c ? realloc(d->names, n * sizeof(*nm)) : NULL;
		struct io_stat *st = nm ? realloc(d->stats, n * sizeof(*st))
					: NULL;

		if (c)
			d->children = c;
		if (nm)
			d->names = nm;
		if (st)
			d->stats = st;
		if (!c || !nm || !st)
			return errbuf_set(eb, -ENOMEM, "out of memory");
		d->cap = n;
	}
	for (i = 0; i < n; i++)
		d->names[i] = d->listing.ents[i].name;
	ret = io_stat_batch(io, dirfd, d->names, n, d->stats, eb);
	if (ret < 0)
		return ret;
	d->n = 0;
	for (i = 0; i < n; i++) {
		struct child *c = &d->children[d->n];

		if (d->stats[i].err == -ENOENT)
			continue;  /* deleted since the listing: not in the tree */
		if (d->stats[i].err) {
			shown_path(shown, sizeof(shown), prefix, prefix_len,
				   d->listing.ents[i].name,
				   d->listing.ents[i].name_len);
			return errbuf_set(eb, d->stats[i].err,
					  "cannot stat '%s/%s': %s", root,
					  shown, strerror(-d->stats[i].err));
		}
		c->name = d->listing.ents[i].name;
		c->len = d->listing.ents[i].name_len;
		c->st = d->stats[i];
		c->job = NULL;
		d->n++;
	}
	if (d->n > 1)
		qsort(d->children, d->n, sizeof(*d->children), child_cmp);
	return 0;
}

static int open_subdir(int parentfd, const char *name)
{
	int fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static void *prefetch_main(void *arg)
{
	struct scanner *s = arg;
	struct io_ctx *io = NULL;
	struct errbuf eb = ERRBUF_INIT;
	void *item;
	int ret;

	/* without a ring of its own the thread falls back to plain calls */
	if (io_ctx_new(s->o.io == IO_BACKEND_URING ? IO_BACKEND_AUTO :
		       IO_BACKEND_SYNC, 256, &io, NULL, &eb) < 0)
		io = NULL;
	while (bqueue_pop(s->jobq, &item) == 1) {
		struct dir_job *j = item;
		int fd;

		pthread_mutex_lock(&s->lock);
		if (j->state == JOB_CANCELLED) {
			j->free_next = s->free_jobs;
			s->free_jobs = j;
			pthread_mutex_unlock(&s->lock);
			continue;
		}
		j->state = JOB_RUNNING;
		pthread_mutex_unlock(&s->lock);

		errbuf_clear(&j->eb);
		fd = open_subdir(j->parentfd, j->name);
		if (fd < 0) {
			ret = fd;
			fd = -1;
		} else if (!io) {
			ret = -EAGAIN;  /* the walk loads it itself */
		} else {
			ret = load_dir(io, s->o.root, fd, j->prefix,
				       j->prefix_len, &j->d, &j->eb);
		}
		pthread_mutex_lock(&s->lock);
		j->dirfd = fd;
		j->err = ret;
		j->state = JOB_DONE;
		pthread_cond_broadcast(&s->done);
		pthread_mutex_unlock(&s->lock);
	}
	io_ctx_free(io);
	return NULL;
}

static struct dir_job *job_get(struct scanner *s)
{
	struct dir_job *j;

	pthread_mutex_lock(&s->lock);
	j = s->free_jobs;
	if (j)
		s->free_jobs = j->free_next;
	pthread_mutex_unlock(&s->lock);
	if (!j) {
		j = calloc(1, sizeof(*j));
		if (!j)
			return NULL;
		j->all_next = s->all_jobs;   /* walk thread only */
		s->all_jobs = j;
	}
	j->dirfd = -1;
	return j;
}

/* Give a job back to the free list with what it still holds (an fd the
 * walk did not take, its prefix). */
static void job_recycle(struct scanner *s, struct dir_job *j)
{
	if (j->dirfd >= 0)
		close(j->dirfd);
	j->dirfd = -1;
	free(j->prefix);
	j->prefix = NULL;
	pthread_mutex_lock(&s->lock);
	j->free_next = s->free_jobs;
	s->free_jobs = j;
	pthread_mutex_unlock(&s->lock);
}

/* Queue jobs for the directories the walk enters next. */
static void prefetch_topup(struct scanner *s)
{
	size_t d;

	if (!s->nthreads)
		return;
	for (d = s->depth; d-- > 0;) {
		struct frame *f = &s->frames[d];

		if (f->parked)
			continue;
		if (f->prefetch_next < f->next)
			f->prefetch_next = f->next;
		while (f->prefetch_next < f->d.n) {
			struct child *c = &f->d.children[f->prefetch_next];
			struct dir_job *j;
			size_t len;

			if (__atomic_load_n(&s->outstanding, __ATOMIC_RELAXED) >=
			    PREFETCH_MAX)
				return;
			f->prefetch_next++;
			if (!S_ISDIR(c->st.mode) || c->job)
				continue;
			if (ensure_path(s, f->prefix_len + c->len + 2, NULL) < 0)
				return;
			len = join(s, f, c->name, c->len);
			if (s->o.allow && !s->o.allow(s->o.allow_ctx, s->path,
						      len, true))
				continue;
			j = job_get(s);
			if (!j)
				return;
			j->prefix = malloc(len + 2);
			if (!j->prefix) {
				job_recycle(s, j);
				return;
			}
			memcpy(j->prefix, s->path, len);
			j->prefix[len] = '/';
			j->prefix[len + 1] = '\0';
			j->prefix_len = len + 1;
			j->parentfd = f->dirfd;
			j->name = c->name;
			j->state = JOB_QUEUED;
			__atomic_fetch_add(&s->outstanding, 1, __ATOMIC_RELAXED);
			c->job = j;
			if (bqueue_push(s->jobq, j) < 0) {
				/* pool stopped: do it inline */
				c->job = NULL;
				__atomic_fetch_sub(&s->outstanding, 1,
						   __ATOMIC_RELAXED);
				free(j->prefix);
				j->prefix = NULL;
				return;
			}
		}
	}
}

static struct frame *frame_push(struct scanner *s, struct errbuf *eb)
{
	if (s->depth == s->frames_cap) {
		size_t cap = s->frames_cap ? s->frames_cap * 2 : 16;
		struct frame *fr = realloc(s->frames, cap * sizeof(*fr));

		if (!fr) {
			errbuf_set(eb, -ENOMEM, "out of memory");
			return NULL;
		}
		memset(fr + s->frames_cap, 0,
		       (cap - s->frames_cap) * sizeof(*fr));
		s->frames = fr;
		s->frames_cap = cap;
	}
	return &s->frames[s->depth++];
}

/* Enter child c of the top frame. Returns 1 entered, 0 when the directory
 * vanished (skip it), -errno on failure. */
static int enter_dir(struct scanner *s, struct child *c, const char *prefix,
		     size_t prefix_len, struct errbuf *eb)
{
	struct frame *parent = &s->frames[s->depth - 1];
	struct dir_job *j = c->job;
	struct frame *f;
	char shown[512];
	int fd, ret;

	c->job = NULL;
	if (j) {
		pthread_mutex_lock(&s->lock);
		if (j->state == JOB_QUEUED) {
			j->state = JOB_CANCELLED;  /* pool recycles it */
			free(j->prefix);
			j->prefix = NULL;
			j = NULL;
			s->outstanding--;
		} else {
			while (j->state != JOB_DONE)
				pthread_cond_wait(&s->done, &s->lock);
			s->outstanding--;
		}
		pthread_mutex_unlock(&s->lock);
	}
	if (j && j->err != -EAGAIN) {
		if (j->err == -ENOENT) {
			ret = 0;
			goto recycle;
		}
		if (j->err < 0) {
			ret = j->err;
			if (j->eb.code)
				*eb = j->eb;
			else
				goto open_error;
			goto recycle;
		}
		f = frame_push(s, eb);
		if (!f) {
			ret = -ENOMEM;
			goto recycle;
		}
		/* swap buffers: the frame takes the loaded ones */
		{
			struct dir_data tmp = f->d;

			f->d = j->d;
			j->d = tmp;
		}
		f->dirfd = j->dirfd;
		j->dirfd = -1;
		f->prefix = j->prefix;
		f->prefix_len = j->prefix_len;
		j->prefix = NULL;
		f->next = f->prefetch_next = 0;
		f->parked = false;
		ret = 1;
		goto recycle;
	}
	if (j) {
		/* the pool could not load it: do it here */
		job_recycle(s, j);
		j = NULL;
	}
	fd = open_subdir(parent->dirfd, c->name);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0) {
		ret = fd;
		goto open_error;
	}
	f = frame_push(s, eb);
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	f->dirfd = fd;
	f->prefix = malloc(prefix_len + 1);
	if (!f->prefix)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	memcpy(f->prefix, prefix, prefix_len);
	f->prefix[prefix_len] = '\0';
	f->prefix_len = prefix_len;
	f->next = f->prefetch_next = 0;
	f->parked = false;
	return load_dir(s->io, s->o.root, fd, f->prefix, f->prefix_len, &f->d,
			eb) < 0 ? eb->code : 1;

open_error:
	shown_path(shown, sizeof(shown), prefix, prefix_len, "", 0);
	ret = errbuf_set(eb, ret, "cannot open directory '%s/%s': %s",
			 s->o.root, shown, strerror(-ret));
recycle:
	if (j)
		job_recycle(s, j);
	return ret;
}

/* Close the fd of frame f (an ancestor far above the walk): first its
 * children's queued prefetch jobs are cancelled and running ones awaited,
 * since they open relative to it. */
static void frame_park(struct scanner *s, struct frame *f)
{
	struct stat st;
	size_t i;

	if (f->parked || f->dirfd < 0)
		return;
	pthread_mutex_lock(&s->lock);
	for (i = f->next; i < f->d.n; i++) {
		struct dir_job *j = f->d.children[i].job;

		if (!j)
			continue;
		if (j->state == JOB_QUEUED) {
			j->state = JOB_CANCELLED;  /* the pool recycles it */
			free(j->prefix);
			j->prefix = NULL;
			f->d.children[i].job = NULL;
			s->outstanding--;
			continue;
		}
		while (j->state != JOB_DONE)
			pthread_cond_wait(&s->done, &s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	if (fstat(f->dirfd, &st))
		return;  /* keep it open rather than lose the way back */
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	close(f->dirfd);
	f->dirfd = -1;
	f->parked = true;
}

/* Reopen parked frame f from its child's open fd through "..", and check
 * it is still the same directory. */
static int frame_unpark(struct scanner *s, struct frame *f, int childfd,
			struct errbuf *eb)
{
	char shown[512];
	struct stat st;
	int fd;

	fd = openat(childfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && (fstat(fd, &st) || st.st_dev != f->dev ||
			st.st_ino != f->ino)) {
		close(fd);
		fd = -ESTALE;
	} else if (fd < 0) {
		fd = -errno;
	}
	if (fd < 0) {
		shown_path(shown, sizeof(shown), f->prefix, f->prefix_len, "",
			   0);
		return errbuf_set(eb, fd, "cannot return to directory "
				  "'%s/%s': %s", s->o.root, shown,
				  fd == -ESTALE ? "it was moved during the "
				  "scan" : strerror(-fd));
	}
	f->dirfd = fd;
	f->parked = false;
	return 0;
}

int scanner_new(const struct scan_opts *o, struct scanner **out,
		struct errbuf *eb)
{
	struct scanner *s;
	unsigned i;
	int ret;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	s->o = *o;
	s->rootfd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->done, NULL);
	/* statx on io_uring always goes through a kernel worker thread: with
	 * a warm cache it cost 1.9 us of CPU per file against 0.6 us for
	 * fstatat (bench/bench_io.c, 20,000 files), so AUTO lists and stats
	 * with plain system calls and leaves the parallelism to the prefetch
	 * pool; --io=uring still forces the ring */
	ret = io_ctx_new(o->io == IO_BACKEND_AUTO ? IO_BACKEND_SYNC : o->io,
			 256, &s->io, &s->fell_back, eb);
	if (ret < 0)
		goto fail;
	s->rootfd = open(o->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0) {
		if (errno == ENOENT && o->missing_root_ok) {
			*out = s;
			return 0;
		}
		ret = errbuf_set(eb, -errno, "cannot open directory '%s': %s",
				 o->root, strerror(errno));
		goto fail;
	}
	ret = ensure_path(s, 4096, eb);
	if (ret < 0)
		goto fail;
	if (o->hard_links && hardlinks_new(o->max_link_groups,
					   &s->links) < 0) {
		ret = errbuf_set(eb, -ENOMEM, "out of memory");
		goto fail;
	}
	if (o->prefetch_threads) {
		ret = bqueue_new(PREFETCH_MAX * 2, &s->jobq);
		if (ret < 0) {
			ret = errbuf_set(eb, ret, "out of memory");
			goto fail;
		}
		s->threads = calloc(o->prefetch_threads, sizeof(*s->threads));
		for (i = 0; s->threads && i < o->prefetch_threads; i++) {
			if (pthread_create(&s->threads[i], NULL, prefetch_main,
					   s))
				break;
			s->nthreads++;
		}
	}
	*out = s;
	return 0;
fail:
	scanner_free(s);
	return ret;
}

int scanner_rootfd(const struct scanner *s)
{
	return s->rootfd;
}

bool scanner_fell_back(const struct scanner *s)
{
	return s->fell_back;
}

uint64_t scanner_link_groups(const struct scanner *s)
{
	return s->links ? hardlinks_groups(s->links) : 0;
}

void scanner_free(struct scanner *s)
{
	struct dir_job *j, *next;
	unsigned i;
	size_t d;

	if (!s)
		return;
	if (s->jobq) {
		bqueue_abort(s->jobq);
		for (i = 0; i < s->nthreads; i++)
			pthread_join(s->threads[i], NULL);
	}
	for (j = s->all_jobs; j; j = next) {
		next = j->all_next;
		if (j->dirfd >= 0)
			close(j->dirfd);
		free(j->prefix);
		dir_data_free(&j->d);
		free(j);
	}
	bqueue_free(s->jobq);
	free(s->threads);
	for (d = 0; d < s->depth; d++)
		frame_release(&s->frames[d]);
	for (d = 0; d < s->frames_cap; d++)
		dir_data_free(&s->frames[d].d);
	free(s->frames);
	if (s->rootfd >= 0)
		close(s->rootfd);
	io_ctx_free(s->io);
	hardlinks_free(s->links);
	free(s->path);
	free(s->xpath);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->done);
	free(s);
}

/* A file with more than one link: the later members of its group name
 * the first. */
static int note_link(struct scanner *s, const struct child *c, size_t len,
		     struct entry *out, struct errbuf *eb)
{
	const char *first;
	size_t first_len;
	int ret;

	ret = hardlinks_add(s->links, c->st.dev, c->st.ino, c->st.nlink,
			    s->path, len, &first, &first_len);
	if (ret == 1 && entry_set_link(out, first, first_len))
		return errbuf_set(eb, -ENOMEM, "out of memory");
	if (ret == -ENOSPC && !s->links_full_warned) {
		s->links_full_warned = true;
		log_warn(s->o.log, "more than %llu hard-link groups at once "
			 "in '%s': the files of further groups are recorded "
			 "as separate files", (unsigned long long)
			 hardlinks_held(s->links), s->o.root);
	}
	if (ret == -ENOMEM)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	return 0;
}

static int fill_entry(struct scanner *s, struct frame *f,
		      const struct child *c, uint8_t type, struct entry *out,
		      struct errbuf *eb)
{
	size_t len = join(s, f, c->name, c->len);

	entry_init(out);
	if (entry_set_name(out, s->path, len))
		return errbuf_set(eb, -ENOMEM, "out of memory");
	out->type = type;
	out->size = type == ENTRY_FILE ? c->st.size : 0;
	out->mtime_ns = c->st.mtime_ns;
	out->ctime_ns = c->st.ctime_ns;
	out->ino = c->st.ino;
	out->uid = c->st.uid;
	out->gid = c->st.gid;
	out->nlink = c->st.nlink;
	out->has_owner = true;
	out->mode = c->st.mode & 07777;
	/* allocated well below the size: holes (a file being written with
	 * delayed allocation may look so too; restoring it with holes
	 * costs nothing) */
	out->sparse = type == ENTRY_FILE && c->st.size >= SPARSE_MIN_SIZE &&
		      c->st.blocks * 512 < c->st.size / 2;
	if (s->links && type == ENTRY_FILE && c->st.nlink > 1) {
		int ret = note_link(s, c, len, out, eb);

		if (ret < 0) {
			entry_release(out);
			return ret;
		}
	}
	if (type == ENTRY_SYMLINK) {
		char target[ENTRY_TARGET_MAX + 1];
		ssize_t n = readlinkat(f->dirfd, c->name, target,
				       sizeof(target));
		char shown[512];

		if (n < 0 || (size_t)n > ENTRY_TARGET_MAX) {
			int err = n < 0 ? -errno : -ENAMETOOLONG;

			errbuf_quote_name(shown, sizeof(shown), s->path, len);
			entry_release(out);
			return errbuf_set(eb, err, "cannot read symlink '%s/%s': %s",
					  s->o.root, shown, strerror(-err));
		}
		if (entry_set_target(out, target, (size_t)n)) {
			entry_release(out);
			return errbuf_set(eb, -ENOMEM, "out of memory");
		}
		out->size = (uint64_t)n;
	}
	return 0;
}

int scanner_xattrs(struct scanner *s, unsigned ns, struct entry *e,
		   struct errbuf *eb)
{
	char path[64 + 256], shown[512];
	unsigned char *buf = NULL;
	size_t len = 0, rlen;
	int ret;

	rlen = strlen(s->o.root);
	if (s->last_base && rlen + e->name_len + 2 <= PATH_MAX) {
		/* the full path: a walk of cached dentries costs a third
		 * of the /proc/self/fd/N/name lookup (3 against 4.5-11 us
		 * per file, 100,000 files 4 levels deep); reading only, a
		 * symlink swapped in above the entry meanwhile is no
		 * risk */
		if (!s->xpath) {
			s->xpath = malloc(PATH_MAX);
			if (!s->xpath)
				return errbuf_set(eb, -ENOMEM, "out of memory");
		}
		memcpy(s->xpath, s->o.root, rlen);
		s->xpath[rlen] = '/';
		memcpy(s->xpath + rlen + 1, e->name, e->name_len);
		s->xpath[rlen + 1 + e->name_len] = '\0';
		ret = xattr_read(-1, s->xpath, ns, &buf, &len);
	} else if (s->last_base) {
		ret = xattr_at_path(s->last_fd, s->last_base, path,
				    sizeof(path));
		if (!ret)
			ret = xattr_read(-1, path, ns, &buf, &len);
	} else {
		ret = xattr_read(s->last_fd, NULL, ns, &buf, &len);
	}
	if (ret == -ENOMEM)
		return errbuf_set(eb, ret, "out of memory");
	if (ret < 0) {
		if (ret != -ENOENT) {
			errbuf_quote_name(shown, sizeof(shown), e->name,
					  e->name_len);
			log_warn(s->o.log, "cannot read the xattrs of "
				 "'%s/%s': %s: not recorded", s->o.root, shown,
				 ret == -E2BIG ? "more than 1 MiB" :
				 strerror(-ret));
		}
		return 0;
	}
	free(e->xattrs);
	e->xattrs = buf;
	e->xattrs_len = len;
	e->xattrs_known = true;
	e->has_xattr_ref = false;
	return 0;
}

/* scanner_next's last step: the xattrs when every entry wants them */
static int scan_xattrs_opt(struct scanner *s, struct entry *out,
			   struct errbuf *eb)
{
	int ret;

	if (!s->o.xattrs)
		return 1;
	ret = scanner_xattrs(s, s->o.xattrs, out, eb);
	if (ret < 0) {
		entry_release(out);
		return ret;
	}
	return 1;
}

int scanner_next(struct scanner *s, struct entry *out, struct errbuf *eb)
{
	char shown[512];
	int ret;

	if (s->rootfd < 0)
		return 0;
	if (!s->started) {
		struct frame *f;
		int fd = dup(s->rootfd);

		s->started = true;
		if (fd < 0)
			return errbuf_set(eb, -errno, "dup: %s", strerror(errno));
		f = frame_push(s, eb);
		if (!f) {
			close(fd);
			return -ENOMEM;
		}
		f->dirfd = fd;
		f->prefix = calloc(1, 1);
		f->prefix_len = 0;
		f->next = f->prefetch_next = 0;
		if (!f->prefix)
			return errbuf_set(eb, -ENOMEM, "out of memory");
		ret = load_dir(s->io, s->o.root, fd, "", 0, &f->d, eb);
		if (ret < 0)
			return ret;
		prefetch_topup(s);
	}
	while (s->depth) {
		struct frame *f = &s->frames[s->depth - 1];
		struct child *c;
		size_t len;
		uint32_t fmt;

		if (s->o.interrupted && *s->o.interrupted)
			return errbuf_set(eb, -EINTR, "interrupted");
		if (f->next == f->d.n) {
			if (s->depth > 1 && s->frames[s->depth - 2].parked) {
				ret = frame_unpark(s, &s->frames[s->depth - 2],
						   f->dirfd, eb);
				if (ret < 0)
					return ret;
			}
			frame_release(f);
			s->depth--;
			continue;
		}
		c = &f->d.children[f->next++];
		fmt = c->st.mode & S_IFMT;
		if (ensure_path(s, f->prefix_len + c->len + 2, eb) < 0)
			return -ENOMEM;
		len = join(s, f, c->name, c->len);
		if (s->o.reap_tree_temps &&
		    (fmt == S_IFREG || fmt == S_IFLNK) &&
		    tree_temp_reap(f->dirfd, c->name))
			continue;
		if (s->o.allow && !c->job &&
		    !s->o.allow(s->o.allow_ctx, s->path, len, fmt == S_IFDIR))
			continue;
		if (fmt == S_IFDIR) {
			/* the directory's own record comes first ("d/" sorts
			 * before "d/x") */
			ret = fill_entry(s, f, c, ENTRY_DIR, out, eb);
			if (ret < 0)
				return ret;
			s->path[len] = '/';
			ret = enter_dir(s, c, s->path, len + 1, eb);
			if (ret <= 0) {
				entry_release(out);
				if (ret < 0)
					return ret;
				continue;
			}
			if (s->depth > FD_KEEP)
				frame_park(s, &s->frames[s->depth - 1 - FD_KEEP]);
			prefetch_topup(s);
			s->last_fd = s->frames[s->depth - 1].dirfd;
			s->last_base = NULL;
			return scan_xattrs_opt(s, out, eb);
		}
		if (fmt == S_IFREG || fmt == S_IFLNK) {
			ret = fill_entry(s, f, c, fmt == S_IFREG ? ENTRY_FILE :
					 ENTRY_SYMLINK, out, eb);
			if (ret == -ENOENT)
				continue;
			if (ret < 0)
				return ret;
			counter_add(s->o.files_scanned, 1);
			s->last_fd = f->dirfd;
			s->last_base = c->name;
			return scan_xattrs_opt(s, out, eb);
		}
		errbuf_quote_name(shown, sizeof(shown), s->path, len);
		log_warn(s->o.log, "skipping '%s/%s': %s", s->o.root, shown,
			 fmt == S_IFIFO ? "fifo" : fmt == S_IFSOCK ? "socket" :
			 "device file");
		counter_add(s->o.files_skipped, 1);
	}
	return 0;
}
