/* root_nesting: do two roots nest, by name and through mounts. */
#include "root_nesting.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsloc.h"
#include "objstore.h"
#include "banned.h"

/* real (resolved) plus the part of a path that does not exist yet, by
 * name: "." dropped, ".." the parent. What the run creates there is a
 * real directory, so ".." after it is the directory before it, as the
 * kernel will see it once created: "nosuch/../heap" is "heap". *dotdot:
 * a ".." was taken (the result may reach existing names again). */
static char *join_tail(const char *real, const char *rest, bool *dotdot)
{
	size_t cap = strlen(real) + strlen(rest) + 2, n;
	char *out = malloc(cap);
	const char *p = rest;

	*dotdot = false;
	if (!out)
		return NULL;
	snprintf(out, cap, "%s", real);
	n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	while (*p) {
		size_t len = strcspn(p, "/");

		if (len == 2 && !strncmp(p, "..", 2)) {
			char *slash = strrchr(out, '/');

			*dotdot = true;
			if (slash)
				slash[slash == out] = '\0';   /* "/a" -> "/" */
			n = strlen(out);
		} else if (len && !(len == 1 && *p == '.')) {
			snprintf(out + n, cap - n, "%s%.*s",
				 n > 1 ? "/" : "", (int)len, p);
			n = strlen(out);
		}
		p += len;
		while (*p == '/')
			p++;
	}
	return out;
}

char *root_resolve(const char *path)
{
	char probe[PATH_MAX], real[PATH_MAX], *slash, *out, *again;
	const char *rest = "";
	bool dotdot;

	if (!path || objstore_is_url(path))
		return NULL;
	snprintf(probe, sizeof(probe), "%s", path);
	while (!realpath(probe, real)) {
		slash = strrchr(probe, '/');
		if (!slash || slash == probe) {
			/* a relative name with no existing part: below cwd */
			if (!slash && getcwd(real, sizeof(real))) {
				rest = path;
				break;
			}
			if (slash == probe) {
				rest = path + 1;
				snprintf(real, sizeof(real), "/");
				break;
			}
			return NULL;
		}
		rest = path + (slash - probe) + 1;
		*slash = '\0';
	}
	out = join_tail(real, rest, &dotdot);
	if (!out || !dotdot)
		return out;
	/* the ".." may have led back to existing names (symlinks among
	 * them): resolve what it names now; no ".." is left to take */
	again = root_resolve(out);
	free(out);
	return again;
}

char *root_canonical(const char *root)
{
	char c[OBJSTORE_ROOT_URL_MAX];

	if (!root)
		return NULL;
	if (!objstore_is_url(root))
		return root_resolve(root);
	return objstore_url_canonical(root, c, sizeof(c)) ? NULL : strdup(c);
}

static size_t trimmed_len(const char *s)
{
	size_t n = strlen(s);

	while (n > 1 && s[n - 1] == '/')
		n--;
	return n;
}

static int by_name(const char *a, const char *b)
{
	size_t la = trimmed_len(a), lb = trimmed_len(b);

	return (fsloc_path_within(a, la, b, lb) ? ROOT_A_IN_B : 0) |
	       (fsloc_path_within(b, lb, a, la) ? ROOT_B_IN_A : 0);
}

/* Is the directory dir at path or above it (by device and inode)? Only
 * where there is no mount table to read (no /proc): it catches a bind
 * mount of the directory itself, not one of a directory inside it. */
static bool has_ancestor(const char *path, const struct stat *dir)
{
	char p[PATH_MAX];
	struct stat st;
	char *slash;

	snprintf(p, sizeof(p), "%s", path);
	for (;;) {
		if (!stat(p, &st) && st.st_dev == dir->st_dev &&
		    st.st_ino == dir->st_ino)
			return true;
		slash = strrchr(p, '/');
		if (!slash || (slash == p && !p[1]))
			return false;
		slash[slash == p] = '\0';   /* "/a" -> "/" */
	}
}

static int by_inode(const char *a, const char *b)
{
	struct stat sa, sb;

	return (!stat(b, &sb) && has_ancestor(a, &sb) ? ROOT_A_IN_B : 0) |
	       (!stat(a, &sa) && has_ancestor(b, &sa) ? ROOT_B_IN_A : 0);
}

static int local_nesting(const char *a, const char *b, struct errbuf *eb)
{
	char *ra = root_resolve(a), *rb = root_resolve(b);
	int ret;

	if (!ra || !rb) {
		const char *bad = ra ? b : a;

		ret = errbuf_set(eb, -ENOENT, "cannot resolve the path '%s'",
				 bad);
		goto out;
	}
	ret = by_name(ra, rb);
	if (ret)
		goto out;
	ret = fsloc_nesting(ra, rb);
	if (ret > 0) {
		ret |= ROOT_THROUGH_MOUNT;
	} else if (ret == -ENOENT) {
		ret = by_inode(ra, rb);
		if (ret)
			ret |= ROOT_THROUGH_MOUNT | ROOT_NO_MOUNT_TABLE;
	} else if (ret < 0) {
		ret = errbuf_set(eb, ret, "cannot read /proc/self/mountinfo "
				 "to check whether '%s' and '%s' nest: %s", a,
				 b, strerror(-ret));
	}
out:
	free(ra);
	free(rb);
	return ret;
}

int root_nesting(const char *a, const char *b, struct errbuf *eb)
{
	bool ua = objstore_is_url(a), ub = objstore_is_url(b);

	if (ua != ub)
		return 0;
	if (ua) {
		char ca[OBJSTORE_ROOT_URL_MAX], cb[OBJSTORE_ROOT_URL_MAX];

		/* as the stores will name them: "s3://b//heap" is the heap */
		if (objstore_url_canonical(a, ca, sizeof(ca)) ||
		    objstore_url_canonical(b, cb, sizeof(cb)))
			return by_name(a, b);
		return by_name(ca, cb);
	}
	return local_nesting(a, b, eb);
}
