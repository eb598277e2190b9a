/* scan: depth-first walk with one frame per directory level. */
#include "scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

struct child {
	const char *name;
	size_t len;
	struct io_stat st;
};

struct frame {
	int dirfd;
	char *prefix;           /* "a/b/" (empty for the root) */
	size_t prefix_len;
	struct io_dir_listing listing;
	struct child *children;
	size_t n, cap, next;
	const char **names;     /* for io_stat_batch */
	struct io_stat *stats;
};

struct scanner {
	struct scan_opts o;
	struct io_ctx *io;
	bool fell_back;
	int rootfd;
	struct frame *frames;   /* stack, frames[0] = root */
	size_t depth, frames_cap;
	char *path;             /* scratch for relative paths */
	size_t path_cap;
	bool started;
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

static void frame_release(struct frame *f)
{
	if (f->dirfd >= 0)
		close(f->dirfd);
	f->dirfd = -1;
	free(f->prefix);
	f->prefix = NULL;
}

static void frame_free_buffers(struct frame *f)
{
	io_dir_listing_release(&f->listing);
	free(f->children);
	free(f->names);
	free(f->stats);
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

static const char *display(const struct frame *f, char *buf, size_t cap)
{
	errbuf_quote_name(buf, cap, f->prefix, f->prefix_len ?
			  f->prefix_len - 1 : 0);
	if (!f->prefix_len && cap > 1) {
		buf[0] = '.';
		buf[1] = '\0';
	}
	return buf;
}

/* List and stat the children of f->dirfd, sort them. */
static int frame_load(struct scanner *s, struct frame *f, struct errbuf *eb)
{
	char shown[512];
	size_t i, n;
	int ret;

	ret = io_list_dir(f->dirfd, &f->listing, eb);
	if (ret < 0)
		return errbuf_wrap(eb, ret, "cannot list directory '%s/%s'",
				   s->o.root, display(f, shown, sizeof(shown)));
	n = f->listing.n;
	if (n > f->cap) {
		struct child *c = realloc(f->children, n * sizeof(*c));
		const char **nm = c ? realloc(f->names, n * sizeof(*nm)) : NULL;
		struct io_stat *st = nm ? realloc(f->stats, n * sizeof(*st))
					: NULL;

		if (c)
			f->children = c;
		if (nm)
			f->names = nm;
		if (st)
			f->stats = st;
		if (!c || !nm || !st)
			return errbuf_set(eb, -ENOMEM, "out of memory");
		f->cap = n;
	}
	for (i = 0; i < n; i++)
		f->names[i] = f->listing.ents[i].name;
	ret = io_stat_batch(s->io, f->dirfd, f->names, n, f->stats, eb);
	if (ret < 0)
		return ret;
	f->n = 0;
	for (i = 0; i < n; i++) {
		struct child *c = &f->children[f->n];

		if (f->stats[i].err == -ENOENT)
			continue;  /* deleted since the listing: not in the tree */
		if (f->stats[i].err) {
			join(s, f, f->listing.ents[i].name,
			     f->listing.ents[i].name_len);
			errbuf_quote_name(shown, sizeof(shown), s->path,
					  strlen(s->path));
			return errbuf_set(eb, f->stats[i].err,
					  "cannot stat '%s/%s': %s", s->o.root,
					  shown, strerror(-f->stats[i].err));
		}
		c->name = f->listing.ents[i].name;
		c->len = f->listing.ents[i].name_len;
		c->st = f->stats[i];
		f->n++;
	}
	qsort(f->children, f->n, sizeof(*f->children), child_cmp);
	f->next = 0;
	return 0;
}

static int push_frame(struct scanner *s, int dirfd, const char *prefix,
		      size_t prefix_len, struct errbuf *eb)
{
	struct frame *f;
	int ret;

	if (s->depth == s->frames_cap) {
		size_t cap = s->frames_cap ? s->frames_cap * 2 : 16;
		struct frame *fr = realloc(s->frames, cap * sizeof(*fr));

		if (!fr) {
			close(dirfd);
			return errbuf_set(eb, -ENOMEM, "out of memory");
		}
		memset(fr + s->frames_cap, 0,
		       (cap - s->frames_cap) * sizeof(*fr));
		s->frames = fr;
		s->frames_cap = cap;
	}
	f = &s->frames[s->depth++];
	f->dirfd = dirfd;
	f->prefix = malloc(prefix_len + 1);
	if (!f->prefix)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	memcpy(f->prefix, prefix, prefix_len);
	f->prefix[prefix_len] = '\0';
	f->prefix_len = prefix_len;
	ret = frame_load(s, f, eb);
	return ret;
}

int scanner_new(const struct scan_opts *o, struct scanner **out,
		struct errbuf *eb)
{
	struct scanner *s;
	int ret;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	s->o = *o;
	s->rootfd = -1;
	ret = io_ctx_new(o->io, 256, &s->io, &s->fell_back, eb);
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

void scanner_free(struct scanner *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->depth; i++)
		frame_release(&s->frames[i]);
	for (i = 0; i < s->frames_cap; i++)
		frame_free_buffers(&s->frames[i]);
	free(s->frames);
	if (s->rootfd >= 0)
		close(s->rootfd);
	io_ctx_free(s->io);
	free(s->path);
	free(s);
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
	out->mode = c->st.mode & 07777;
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

int scanner_next(struct scanner *s, struct entry *out, struct errbuf *eb)
{
	char shown[512];
	int ret;

	if (s->rootfd < 0)
		return 0;
	if (!s->started) {
		int fd = dup(s->rootfd);

		s->started = true;
		if (fd < 0)
			return errbuf_set(eb, -errno, "dup: %s", strerror(errno));
		ret = push_frame(s, fd, "", 0, eb);
		if (ret < 0)
			return ret;
	}
	while (s->depth) {
		struct frame *f = &s->frames[s->depth - 1];
		const struct child *c;
		size_t len;
		uint32_t fmt;

		if (s->o.interrupted && *s->o.interrupted)
			return errbuf_set(eb, -EINTR, "interrupted");
		if (f->next == f->n) {
			frame_release(f);
			s->depth--;
			continue;
		}
		c = &f->children[f->next++];
		fmt = c->st.mode & S_IFMT;
		if (ensure_path(s, f->prefix_len + c->len + 2, eb) < 0)
			return -ENOMEM;
		len = join(s, f, c->name, c->len);
		if (s->o.allow && !s->o.allow(s->o.allow_ctx, s->path, len,
					      fmt == S_IFDIR))
			continue;
		if (fmt == S_IFDIR) {
			int fd = openat(f->dirfd, c->name, O_RDONLY | O_DIRECTORY |
					O_NOFOLLOW | O_CLOEXEC);

			if (fd < 0) {
				if (errno == ENOENT)
					continue;
				errbuf_quote_name(shown, sizeof(shown), s->path,
						  len);
				return errbuf_set(eb, -errno,
						  "cannot open directory '%s/%s': %s",
						  s->o.root, shown,
						  strerror(errno));
			}
			/* the directory's own record comes first ("d/" sorts
			 * before "d/x"); push_frame may move f */
			ret = fill_entry(s, f, c, ENTRY_DIR, out, eb);
			if (ret < 0) {
				close(fd);
				return ret;
			}
			s->path[len] = '/';
			ret = push_frame(s, fd, s->path, len + 1, eb);
			if (ret < 0) {
				entry_release(out);
				return ret;
			}
			return 1;
		}
		if (fmt == S_IFREG || fmt == S_IFLNK) {
			ret = fill_entry(s, f, c, fmt == S_IFREG ? ENTRY_FILE :
					 ENTRY_SYMLINK, out, eb);
			if (ret == -ENOENT)
				continue;
			if (ret < 0)
				return ret;
			counter_add(s->o.files_scanned, 1);
			return 1;
		}
		errbuf_quote_name(shown, sizeof(shown), s->path, len);
		log_warn(s->o.log, "skipping '%s/%s': %s", s->o.root, shown,
			 fmt == S_IFIFO ? "fifo" : fmt == S_IFSOCK ? "socket" :
			 "device file");
		counter_add(s->o.files_skipped, 1);
	}
	return 0;
}
