/* inner_roots: keep the heap and snapshot roots out of the tree. */
#include "inner_roots.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsloc.h"
#include "objstore.h"
#include "root_nesting.h"
#include "banned.h"

/* Store URLs are compared by bucket and prefix; only with the same
 * storage options (endpoint, account) are two of them known to be one
 * store. NULL and "" alike. */
static bool same_options(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

/* FILE_ROOT the heap or snapshot root, or inside one: a restore would
 * delete the backup it restores from (everything there is "not in the
 * snapshot"), a backup would write its objects into what it scans. A
 * root inside FILE_ROOT is left out instead (inner_roots_init), where a
 * name or the mount table says where it is. */
int inner_roots_refuse_outer(const struct engine_opts *o, const char *what,
			     struct errbuf *eb)
{
	const char *roots[2] = { o->heap_root, o->snap_root };
	const char *opts[2] = { o->heap_storage_options,
				o->snap_storage_options };
	const char *names[2] = { "the heap root", "the snapshot root" };
	int i, ret;

	for (i = 0; i < 2; i++) {
		if (!o->file_root || !roots[i])
			continue;
		ret = root_nesting(o->file_root, roots[i], eb);
		if (ret < 0)
			return ret;
		/* nested by name on what may be two services: neither left
		 * out (it may be the user's folder) nor taken as apart (it
		 * may be the heap) */
		if (ret && objstore_is_url(o->file_root) &&
		    !same_options(o->file_storage_options, opts[i]))
			return errbuf_set(eb, -EINVAL, "refusing to %s '%s': "
					  "%s '%s' has a bucket and prefix "
					  "nested with it but other storage "
					  "options, so whether they are one "
					  "store cannot be told; give them "
					  "prefixes apart", what,
					  o->file_root, names[i], roots[i]);
		if (ret & ROOT_A_IN_B)
			return errbuf_set(eb, -EINVAL, "refusing to %s '%s': it "
					  "is %s '%s' or inside it", what,
					  o->file_root, names[i], roots[i]);
		/* inside FILE_ROOT it is left out of the tree
		 * (inner_roots_init): by name, or at the paths the mount
		 * table shows it under; found without one (no /proc), no
		 * path is known to leave out */
		if ((ret & ROOT_B_IN_A) && (ret & ROOT_NO_MOUNT_TABLE))
			return errbuf_set(eb, -EINVAL, "refusing to %s '%s': %s "
					  "'%s' lies inside it through a mount "
					  "(a bind mount, or one disk mounted "
					  "twice) at a path not known, where "
					  "the tree would hold the backup "
					  "itself", what, o->file_root,
					  names[i], roots[i]);
	}
	return 0;
}

/* Leave rel (len bytes, relative to FILE_ROOT) out. 0 or -ENOMEM. */
static int add_rel(struct inner_roots *ir, const char *rel, size_t len)
{
	char **v;
	size_t *l;

	if (!len)
		return 0;   /* FILE_ROOT itself: refused before */
	v = realloc(ir->rel, (ir->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	ir->rel = v;
	l = realloc(ir->len, (ir->n + 1) * sizeof(*l));
	if (!l)
		return -ENOMEM;
	ir->len = l;
	ir->rel[ir->n] = strndup(rel, len);
	if (!ir->rel[ir->n])
		return -ENOMEM;
	ir->len[ir->n++] = len;
	return 0;
}

/* Leave path out when it lies inside tree (not tree itself): its part
 * below tree. 0 or -ENOMEM. */
static int add_within(struct inner_roots *ir, const char *tree,
		      const char *path)
{
	size_t tl = strlen(tree), pl = strlen(path), skip;

	while (pl > 1 && path[pl - 1] == '/')
		pl--;
	if (pl == tl || !fsloc_path_within(path, pl, tree, tl))
		return 0;
	skip = tl == 1 ? 1 : tl + 1;
	return add_rel(ir, path + skip, pl - skip);
}

struct places {
	struct inner_roots *ir;
	const char *tree;        /* resolved FILE_ROOT */
};

/* fsloc_places' callback: at is absolute, under the resolved tree */
static int add_place(void *ctx, const char *at)
{
	struct places *p = ctx;

	return add_within(p->ir, p->tree, at);
}

/* A local root inside the tree: left out at its name and at every path
 * a mount shows it under the tree (a bind mount of it, or of a folder
 * holding it: no name shows those). Without a mount table the name
 * alone (inner_roots_refuse_outer refused what only a mount shows). */
static int add_local(struct inner_roots *ir, const char *tree,
		     const char *root)
{
	struct places p = { ir, tree };
	int ret = add_within(ir, tree, root);

	if (!ret)
		ret = fsloc_places(tree, root, add_place, &p);
	return ret == -ENOMEM ? ret : 0;
}

int inner_roots_init(struct inner_roots *ir, const struct engine_opts *o,
		     const struct filter *filter)
{
	const char *roots[2] = { o->heap_root, o->snap_root };
	const char *opts[2] = { o->heap_storage_options,
				o->snap_storage_options };
	char *tree;
	int i, ret = 0;

	memset(ir, 0, sizeof(*ir));
	ir->filter = filter;
	tree = root_canonical(o->file_root);
	if (!tree)
		return 0;
	for (i = 0; !ret && i < 2; i++) {
		/* a prefix of a store tree only on the same store (the
		 * others were refused: inner_roots_refuse_outer) */
		char *r = objstore_is_url(roots[i]) &&
			  !same_options(o->file_storage_options, opts[i]) ?
			  NULL : root_canonical(roots[i]);

		if (r && objstore_is_url(r))
			ret = add_within(ir, tree, r);
		else if (r)
			ret = add_local(ir, tree, r);
		free(r);
	}
	free(tree);
	if (ret < 0)
		inner_roots_release(ir);
	return ret;
}

void inner_roots_release(struct inner_roots *ir)
{
	size_t i;

	for (i = 0; i < ir->n; i++)
		free(ir->rel[i]);
	free(ir->rel);
	free(ir->len);
	ir->rel = NULL;
	ir->len = NULL;
	ir->n = 0;
}

bool inner_roots_active(const struct inner_roots *ir)
{
	return ir->n || filter_count(ir->filter);
}

bool inner_roots_allow(void *ctx, const char *relpath, size_t len,
		       bool is_dir)
{
	const struct inner_roots *ir = ctx;
	size_t i;

	for (i = 0; i < ir->n; i++) {
		size_t rl = ir->len[i];

		if (len >= rl && !memcmp(relpath, ir->rel[i], rl) &&
		    (len == rl || relpath[rl] == '/'))
			return false;
	}
	return filter_allows(ir->filter, relpath, len, is_dir);
}
