/* fsloc: locations of local paths through /proc/self/mountinfo. */
#include "fsloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "banned.h"

struct mount {
	unsigned long id;    /* the kernel's mount id (statx STATX_MNT_ID) */
	unsigned long major, minor;
	char *root;          /* the directory of its filesystem it shows */
	char *point;         /* where it is mounted */
};

struct mounts {
	struct mount *v;
	size_t n, cap;
};

struct loc {
	unsigned long major, minor;
	char *path;
};

static void mounts_free(struct mounts *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->v[i].root);
		free(m->v[i].point);
	}
	free(m->v);
}

/* mountinfo writes space, tab, newline and backslash as \ooo: undo it in
 * place; the field ends at the first space. */
static char *field_unescape(char *s, char **next)
{
	char *out = s, *in = s;

	while (*in && *in != ' ') {
		if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' &&
		    in[2] >= '0' && in[2] <= '7' && in[3] >= '0' &&
		    in[3] <= '7') {
			*out++ = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 +
					(in[3] - '0'));
			in += 4;
		} else {
			*out++ = *in++;
		}
	}
	*next = *in ? in + 1 : in;
	*out = '\0';
	return s;
}

/* "36 35 98:0 /root /point opts ...": 0, or -EINVAL for a line that is
 * not one (skipped), -ENOMEM. */
static int mount_parse(char *line, struct mount *out)
{
	char *p = line, *root, *point;
	int skip;

	if (sscanf(p, "%lu", &out->id) != 1)
		return -EINVAL;
	/* mount id and parent id */
	for (skip = 0; skip < 2; skip++) {
		p = strchr(p, ' ');
		if (!p)
			return -EINVAL;
		p++;
	}
	if (sscanf(p, "%lu:%lu", &out->major, &out->minor) != 2)
		return -EINVAL;
	p = strchr(p, ' ');
	if (!p)
		return -EINVAL;
	root = field_unescape(p + 1, &p);
	point = field_unescape(p, &p);
	if (*root != '/' || *point != '/')
		return -EINVAL;   /* "net:[...]" and the like: no directory */
	out->root = strdup(root);
	out->point = strdup(point);
	if (!out->root || !out->point) {
		free(out->root);
		free(out->point);
		return -ENOMEM;
	}
	return 0;
}

static int mounts_read(struct mounts *m)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	memset(m, 0, sizeof(*m));
	if (!f)
		return -errno;
	while (!ret && getline(&line, &cap, f) > 0) {
		struct mount mt;

		line[strcspn(line, "\n")] = '\0';
		if (mount_parse(line, &mt) < 0)
			continue;
		if (m->n == m->cap) {
			size_t nc = m->cap ? 2 * m->cap : 32;
			struct mount *v = realloc(m->v, nc * sizeof(*v));

			if (!v) {
				free(mt.root);
				free(mt.point);
				ret = -ENOMEM;
				break;
			}
			m->v = v;
			m->cap = nc;
		}
		m->v[m->n++] = mt;
	}
	if (!ret && ferror(f))
		ret = -EIO;
	free(line);
	fclose(f);
	if (ret < 0)
		mounts_free(m);
	return ret;
}

/* Is path dir or below it (both absolute, no trailing '/')? */
bool fsloc_path_within(const char *path, size_t lp, const char *dir,
		       size_t ld)
{
	if (ld == 1 && *dir == '/')
		return true;
	return lp >= ld && !strncmp(path, dir, ld) &&
	       (lp == ld || path[ld] == '/');
}

static bool path_within(const char *path, const char *dir)
{
	return fsloc_path_within(path, strlen(path), dir, strlen(dir));
}

/* The mount the kernel finds path on: the mount id of its nearest
 * existing part (statx), which sees past a mount hidden under a later
 * one on a parent; NULL when statx cannot tell. */
static const struct mount *mount_by_id(const struct mounts *m,
				       const char *path)
{
	char p[PATH_MAX];
	struct statx stx;
	char *slash;
	size_t i;

	snprintf(p, sizeof(p), "%s", path);
	while (statx(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx)) {
		slash = strrchr(p, '/');
		if (!slash || slash == p)
			return NULL;
		*slash = '\0';
	}
	if (!(stx.stx_mask & STATX_MNT_ID))
		return NULL;
	for (i = 0; i < m->n; i++)
		if (m->v[i].id == stx.stx_mnt_id &&
		    path_within(path, m->v[i].point))
			return &m->v[i];
	return NULL;
}

/* The location of path: the mount the kernel finds it on, else the one
 * with the longest mount point holding it (of mounts stacked on one
 * point the last listed, the one seen). */
static int loc_of(const struct mounts *m, const char *path, struct loc *out)
{
	const struct mount *best = mount_by_id(m, path), *longest = NULL;
	const char *rest;
	size_t i, n;

	for (i = 0; !best && i < m->n; i++)
		if (path_within(path, m->v[i].point) &&
		    (!longest ||
		     strlen(m->v[i].point) >= strlen(longest->point)))
			longest = &m->v[i];
	if (!best)
		best = longest;
	if (!best)
		return -ENOENT;
	rest = strlen(best->point) == 1 ? path : path + strlen(best->point);
	/* "/" itself under a mount of a subdirectory (a container's root):
	 * that subdirectory, not "/sub/" */
	if (strcmp(best->root, "/") && *rest == '/' && !rest[1])
		rest = "";
	n = strlen(best->root) + strlen(rest) + 1;
	out->path = malloc(n);
	if (!out->path)
		return -ENOMEM;
	snprintf(out->path, n, "%s%s", strcmp(best->root, "/") ? best->root :
		 (*rest ? "" : "/"), rest);
	out->major = best->major;
	out->minor = best->minor;
	return 0;
}

static bool loc_within(const struct loc *a, unsigned long major,
		       unsigned long minor, const char *dir)
{
	return a->major == major && a->minor == minor &&
	       path_within(a->path, dir);
}

/* at = base plus what of path lies below dir (both "/"-aware) */
static void path_at(char *at, size_t cap, const char *base, const char *path,
		    const char *dir)
{
	const char *rest = strlen(dir) == 1 ? path : path + strlen(dir);

	/* path "/" of a mount of a filesystem's root: base itself, not
	 * "base/" (which names no entry a scan compares) */
	if (!strcmp(rest, "/"))
		rest = "";
	snprintf(at, cap, "%s%s", strlen(base) == 1 && *rest ? "" : base,
		 rest);
}

/* The mount table and where a and b lie in it: 0, or -errno with
 * nothing held. pair_release frees what it holds. */
struct pair {
	struct mounts m;
	struct loc la, lb;
};

static void pair_release(struct pair *p)
{
	free(p->la.path);
	free(p->lb.path);
	mounts_free(&p->m);
}

static int pair_locate(struct pair *p, const char *a, const char *b)
{
	int ret;

	memset(p, 0, sizeof(*p));
	ret = mounts_read(&p->m);
	if (ret < 0)
		return ret;
	ret = loc_of(&p->m, a, &p->la);
	if (!ret)
		ret = loc_of(&p->m, b, &p->lb);
	if (ret < 0)
		pair_release(p);
	return ret;
}

/* Walk every place under a (located at la) where b (at lb) is seen:
 * a's own path plus the rest when a holds b on its own filesystem, and
 * each mount point below a whose mount shows b or a folder holding it
 * (whole), or a folder inside b (part: all of the mount is b's). cb's
 * non-zero return stops the walk and is returned. */
typedef int (*place_fn)(void *ctx, const char *at, bool whole);

static int walk_places(const struct mounts *m, const char *a,
		       const struct loc *la, const struct loc *lb,
		       place_fn cb, void *ctx)
{
	char at[PATH_MAX];
	size_t i;
	int ret = 0;

	if (loc_within(lb, la->major, la->minor, la->path)) {
		path_at(at, sizeof(at), a, lb->path, la->path);
		ret = cb(ctx, at, true);
	}
	for (i = 0; !ret && i < m->n; i++) {
		const struct mount *mt = &m->v[i];

		if (!strcmp(mt->point, a) || !path_within(mt->point, a))
			continue;
		if (loc_within(lb, mt->major, mt->minor, mt->root)) {
			path_at(at, sizeof(at), mt->point, lb->path, mt->root);
			ret = cb(ctx, at, true);
		} else if (mt->major == lb->major && mt->minor == lb->minor &&
			   path_within(mt->root, lb->path)) {
			ret = cb(ctx, mt->point, false);
		}
	}
	return ret;
}

/* walk_places' callback for fsloc_nesting: what kinds of place */
static int seen(void *ctx, const char *at, bool whole)
{
	(void)at;
	*(unsigned *)ctx |= whole ? 1u : 2u;
	return 0;
}

int fsloc_nesting(const char *a, const char *b)
{
	struct pair p;
	unsigned in_b = 0, in_a = 0;
	int ret = pair_locate(&p, a, b);

	if (ret < 0)
		return ret;
	walk_places(&p.m, b, &p.lb, &p.la, seen, &in_b);
	walk_places(&p.m, a, &p.la, &p.lb, seen, &in_a);
	pair_release(&p);
	ret = (in_b & 1u ? FSLOC_A_IN_B : 0) | (in_a & 1u ? FSLOC_B_IN_A : 0);
	return ret ? ret : (in_a | in_b) & 2u ? FSLOC_OVERLAP : 0;
}

struct places_cb {
	int (*cb)(void *ctx, const char *at);
	void *ctx;
};

static int any_place(void *ctx, const char *at, bool whole)
{
	struct places_cb *c = ctx;

	(void)whole;
	return c->cb(c->ctx, at);
}

int fsloc_places(const char *a, const char *b,
		 int (*cb)(void *ctx, const char *at), void *ctx)
{
	struct places_cb c = { cb, ctx };
	struct pair p;
	int ret = pair_locate(&p, a, b);

	if (ret < 0)
		return ret;
	ret = walk_places(&p.m, a, &p.la, &p.lb, any_place, &c);
	pair_release(&p);
	return ret;
}
