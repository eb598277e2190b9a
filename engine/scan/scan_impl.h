/* scan_impl: what the files of the scanner share; private to engine/scan/.
 *
 *   scan.c      the scanner's life and the walk: the entries it emits
 *               (stat fields, symlink targets, hard links, xattrs)
 *   scan_dir.c  the directory levels of the walk: loading a directory
 *               (list, statx, sort), the prefetch pool that loads them
 *               ahead, entering a directory, parking and reopening the
 *               fds of deep ancestors
 *
 * scan.c calls into scan_dir.c once per directory, never per file. */
#ifndef SNAP_SCAN_IMPL_H
#define SNAP_SCAN_IMPL_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "errbuf.h"
#include "io.h"
#include "scan.h"

#define PREFETCH_MAX 64

struct bqueue;
struct dir_job;
struct hardlinks;

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
	bool parked;            /* dirfd closed (deep walk), FD_KEEP */
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
	/* the walk's first error, returned again by every later call: the
	 * frames may be half set up after it (code 0: none) */
	struct errbuf failed;
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

/* scan_dir.c */

void scan_dir_data_free(struct dir_data *d);
void scan_frame_release(struct frame *f);
/* List, statx and sort the children of dirfd. Runs on the walk or on a
 * pool thread (io belongs to the calling thread). */
int scan_load_dir(struct io_ctx *io, const char *root, int dirfd,
		  const char *prefix, size_t prefix_len, struct dir_data *d,
		  struct errbuf *eb);
/* A prefetch pool thread (arg: the scanner). */
void *scan_prefetch_main(void *arg);
/* Queue jobs for the directories the walk enters next. */
void scan_prefetch_topup(struct scanner *s);
struct frame *scan_frame_push(struct scanner *s, struct errbuf *eb);
/* Enter child c of the top frame. Returns 1 entered, 0 when the directory
 * vanished (skip it), -errno on failure. */
int scan_enter_dir(struct scanner *s, struct child *c, const char *prefix,
		   size_t prefix_len, struct errbuf *eb);
/* Close the fd of frame f (an ancestor far above the walk): first its
 * children's queued prefetch jobs are cancelled and running ones awaited,
 * since they open relative to it. */
void scan_frame_park(struct scanner *s, struct frame *f);
/* Reopen parked frame f from its child's open fd through "..", and check
 * it is still the same directory. */
int scan_frame_unpark(struct scanner *s, struct frame *f, int childfd,
		      struct errbuf *eb);

/* The walk's path scratch: inline, as scanner_next uses them per file. */

static inline int scan_ensure_path(struct scanner *s, size_t need,
				   struct errbuf *eb)
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
static inline size_t scan_join(struct scanner *s, const struct frame *f,
			       const char *name, size_t len)
{
	memcpy(s->path, f->prefix, f->prefix_len);
	memcpy(s->path + f->prefix_len, name, len);
	s->path[f->prefix_len + len] = '\0';
	return f->prefix_len + len;
}

#endif
