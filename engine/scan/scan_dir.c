/* scan_dir: the directory levels of the scanner's walk (scan.c): loading
 * a directory (list, statx, sort), the prefetch pool that loads the
 * directories the walk enters next, entering one (from a prefetched job
 * or inline), parking the fds of deep ancestors and reopening them on
 * the way back up. */
#include "scan_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bqueue.h"
#include "banned.h"

static int child_cmp(const void *a, const void *b)
{
	const struct child *x = a, *y = b;

	return entry_key_cmp(x->name, x->len, S_ISDIR(x->st.mode),
			     y->name, y->len, S_ISDIR(y->st.mode));
}

void scan_dir_data_free(struct dir_data *d)
{
	io_dir_listing_release(&d->listing);
	free(d->children);
	free(d->names);
	free(d->stats);
	memset(d, 0, sizeof(*d));
}

void scan_frame_release(struct frame *f)
{
	if (f->dirfd >= 0)
		close(f->dirfd);
	f->dirfd = -1;
	free(f->prefix);
	f->prefix = NULL;
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

int scan_load_dir(struct io_ctx *io, const char *root, int dirfd,
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

void *scan_prefetch_main(void *arg)
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
			ret = scan_load_dir(io, s->o.root, fd, j->prefix,
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

void scan_prefetch_topup(struct scanner *s)
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
			if (scan_ensure_path(s, f->prefix_len + c->len + 2,
					     NULL) < 0)
				return;
			len = scan_join(s, f, c->name, c->len);
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

struct frame *scan_frame_push(struct scanner *s, struct errbuf *eb)
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

int scan_enter_dir(struct scanner *s, struct child *c, const char *prefix,
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
		f = scan_frame_push(s, eb);
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
	f = scan_frame_push(s, eb);
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
	return scan_load_dir(s->io, s->o.root, fd, f->prefix, f->prefix_len,
			     &f->d, eb) < 0 ? eb->code : 1;

open_error:
	shown_path(shown, sizeof(shown), prefix, prefix_len, "", 0);
	ret = errbuf_set(eb, ret, "cannot open directory '%s/%s': %s",
			 s->o.root, shown, strerror(-ret));
recycle:
	if (j)
		job_recycle(s, j);
	return ret;
}

void scan_frame_park(struct scanner *s, struct frame *f)
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

int scan_frame_unpark(struct scanner *s, struct frame *f, int childfd,
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
