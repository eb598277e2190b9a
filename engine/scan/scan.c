/* scan: depth-first walk with one frame per directory level, fed by a
 * prefetch pool.
 *
 * The walk (caller's thread) keeps a stack of frames. When it enters a
 * directory it needs its children listed, statx'ed and sorted; a job for
 * that was usually queued earlier, when the parent was loaded, and done by
 * a pool thread meanwhile. Jobs are queued for the directories the walk
 * reaches soonest (children of the deepest frames first), at most
 * PREFETCH_MAX at a time. A job the pool has not started yet when the walk
 * arrives is cancelled and done inline.
 *
 * This file: the scanner's life, the walk and the entries it emits;
 * scan_dir.c: the directories (loading, the pool, entering, parking). */
#include "scan.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bqueue.h"
#include "hardlinks.h"
#include "scan_impl.h"
#include "tree_temp.h"
#include "xattr.h"
#include "banned.h"

/* Directory fds kept open along the current path. Deeper ancestors are
 * "parked" (closed) and reopened through ".." on the way back up, so a
 * tree 1,000 levels deep scans within a 1,024-fd limit. */
#define FD_KEEP 48
/* smaller files are never taken for sparse: holes would save little */
#define SPARSE_MIN_SIZE (64 * 1024)

static void counter_add(uint64_t *c, uint64_t n)
{
	if (c)
		__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
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
	ret = scan_ensure_path(s, 4096, eb);
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
			if (pthread_create(&s->threads[i], NULL,
					   scan_prefetch_main, s))
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
		scan_dir_data_free(&j->d);
		free(j);
	}
	bqueue_free(s->jobq);
	free(s->threads);
	for (d = 0; d < s->depth; d++)
		scan_frame_release(&s->frames[d]);
	for (d = 0; d < s->frames_cap; d++)
		scan_dir_data_free(&s->frames[d].d);
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
	size_t len = scan_join(s, f, c->name, c->len);

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

/* scanner_next's first call: the root's frame, on its own fd, loaded, and
 * the first prefetch jobs queued. 0 or -errno. */
static int walk_start(struct scanner *s, struct errbuf *eb)
{
	struct frame *f;
	int fd = dup(s->rootfd);
	int ret;

	s->started = true;
	if (fd < 0)
		return errbuf_set(eb, -errno, "dup: %s", strerror(errno));
	f = scan_frame_push(s, eb);
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
	ret = scan_load_dir(s->io, s->o.root, fd, "", 0, &f->d, eb);
	if (ret < 0)
		return ret;
	scan_prefetch_topup(s);
	return 0;
}

static int walk_next(struct scanner *s, struct entry *out,
		     struct errbuf *eb)
{
	char shown[512];
	int ret;

	if (s->rootfd < 0)
		return 0;
	if (!s->started) {
		ret = walk_start(s, eb);
		if (ret < 0)
			return ret;
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
				ret = scan_frame_unpark(s,
							&s->frames[s->depth - 2],
							f->dirfd, eb);
				if (ret < 0)
					return ret;
			}
			scan_frame_release(f);
			s->depth--;
			continue;
		}
		c = &f->d.children[f->next++];
		fmt = c->st.mode & S_IFMT;
		if (scan_ensure_path(s, f->prefix_len + c->len + 2, eb) < 0)
			return -ENOMEM;
		len = scan_join(s, f, c->name, c->len);
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
			ret = scan_enter_dir(s, c, s->path, len + 1, eb);
			if (ret <= 0) {
				entry_release(out);
				if (ret < 0)
					return ret;
				continue;
			}
			if (s->depth > FD_KEEP)
				scan_frame_park(s, &s->frames[s->depth - 1 -
							      FD_KEEP]);
			scan_prefetch_topup(s);
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

int scanner_next(struct scanner *s, struct entry *out, struct errbuf *eb)
{
	struct errbuf local = ERRBUF_INIT;
	int ret;

	/* after an error a frame may be half set up (a directory loaded
	 * without its children, a parked fd not reopened): the walk ends
	 * there, and a caller that asks again gets the same error, never a
	 * tree cut short */
	if (!s->failed.code) {
		ret = walk_next(s, out, &local);
		if (ret >= 0)
			return ret;
		if (!local.code)
			errbuf_set(&local, ret, "%s", strerror(-ret));
		local.code = ret;
		s->failed = local;
	}
	return errbuf_set(eb, s->failed.code, "%s", s->failed.msg);
}
