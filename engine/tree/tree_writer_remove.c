/* tree_writer_remove: deleting entries from the tree, and the parent
 * directories a deletion leaves empty, up to one the source still has
 * (tree_writer.h). */
#include "tree_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tree_writer_impl.h"
#include "banned.h"

int tree_writer_remove(struct tree_writer *w, const struct entry *e,
		       struct errbuf *eb)
{
	size_t base;
	int dirfd, ret;

	ret = tree_writer_parent(w, e->name, e->name_len, false, &dirfd, &base,
				 eb);
	if (ret == -ENOENT) {
		errbuf_clear(eb);
		return 0;
	}
	if (ret < 0)
		return ret;
	ret = unlinkat(dirfd, e->name + base,
		       e->type == ENTRY_DIR ? AT_REMOVEDIR : 0);
	if (ret && errno != ENOENT &&
	    !(e->type == ENTRY_DIR && (errno == ENOTEMPTY || errno == EEXIST)))
		return tree_writer_name_error(w, -errno, "delete", e->name,
					      e->name_len, eb);
	if (e->type == ENTRY_DIR)
		tree_writer_drop_cache(w);
	return 0;
}

/* Does keepfd have a directory at the first plen bytes of name, through
 * directories only? Each component is looked at without following it: a
 * symlink on the way (the source has "a" as a link to a directory with a
 * "b" in it) is not the directory "a/b", and the mirror's "a/b" must go
 * to make room for the link. */
static bool kept_dir(int keepfd, const char *name, size_t plen)
{
	char path[ENTRY_NAME_MAX + 1];
	struct stat st;
	size_t i;

	if (keepfd < 0 || plen >= sizeof(path))
		return false;
	memcpy(path, name, plen);
	path[plen] = '\0';
	for (i = 1; i <= plen; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (fstatat(keepfd, path, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISDIR(st.st_mode))
			return false;
		if (i < plen)
			path[i] = '/';
	}
	return true;
}

int tree_writer_prune_parents(struct tree_writer *w, const char *name,
			      size_t len, int keepfd, struct errbuf *eb)
{
	const char *slash;
	size_t plen = len, base;
	char comp[256];
	int dirfd, ret;

	while ((slash = memrchr(name, '/', plen)) != NULL) {
		plen = (size_t)(slash - name);
		if (kept_dir(keepfd, name, plen))
			return 0;
		ret = tree_writer_parent(w, name, plen, false, &dirfd, &base,
					 eb);
		if (ret < 0 || plen - base >= sizeof(comp)) {
			errbuf_clear(eb);
			return 0;
		}
		/* name is not cut at plen: copy the last component out */
		memcpy(comp, name + base, plen - base);
		comp[plen - base] = '\0';
		ret = unlinkat(dirfd, comp, AT_REMOVEDIR) ? errno : 0;
		/* a cached fd must never outlive its directory: a new one of
		 * the same name would be shadowed by the deleted one */
		tree_writer_drop_cache(w);
		if (ret == ENOTEMPTY || ret == EEXIST || ret == ENOENT)
			return 0;
		if (ret)
			return tree_writer_name_error(w, -ret,
						      "delete directory", name,
						      plen, eb);
	}
	return 0;
}
