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
	char at[PATH_MAX];
	int i, ret;

	for (i = 0; i < 2; i++) {
		if (!o->file_root || !roots[i])
			continue;
		ret = root_nesting_at(o->file_root, roots[i], at, sizeof(at),
				      eb);
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
		 * (inner_roots_init): by name, or at the path a mount shows
		 * it; through a mount at a path not known (no /proc), no
		 * name could leave it out */
		if ((ret & ROOT_B_IN_A) && (ret & ROOT_THROUGH_MOUNT) &&
		    !at[0])
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

struct places {
	struct inner_roots *ir;
	const char *tree;        /* resolved FILE_ROOT */
};

/* fsloc_places' callback: at is absolute, under the resolved tree */
static int add_place(void *ctx, const char *at)
{
	struct places *p = ctx;
	size_t tl = strlen(p->tree);

	size_t len;

	if (strncmp(at, p->tree, tl))
		return 0;
	at += tl;
	while (*at == '/')
		at++;
	len = strlen(at);
	while (len && at[len - 1] == '/')
		len--;
	return add_rel(p->ir, at, len);
}

/* A local root inside the tree: left out at its name and at every path
 * a mount shows it under the tree (a bind mount of it, or of a folder
 * holding it: no name shows those). Without a mount table the name
 * alone (inner_roots_refuse_outer refused what only a mount shows). */
static int add_local(struct inner_roots *ir, const char *tree,
		     const char *root)
{
	struct places p = { ir, tree };
	size_t tl = strlen(tree), rl = strlen(root);
	int ret = 0;

	if (rl > tl && !strncmp(root, tree, tl) &&
	    (root[tl] == '/' || tl == 1))
		ret = add_rel(ir, root + tl + (tl > 1), rl - tl - (tl > 1));
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
	size_t tl;
	int i, ret = 0;

	memset(ir, 0, sizeof(*ir));
	ir->filter = filter;
	tree = root_canonical(o->file_root);
	if (!tree)
		return 0;
	tl = strlen(tree);
	for (i = 0; !ret && i < 2; i++) {
		/* a prefix of a store tree only on the same store (the
		 * others were refused: inner_roots_refuse_outer) */
		char *r = objstore_is_url(roots[i]) &&
			  !same_options(o->file_storage_options, opts[i]) ?
			  NULL : root_canonical(roots[i]);
		size_t rl = r ? strlen(r) : 0;

		if (r && objstore_is_url(r)) {
			if (rl > tl + 1 && !strncmp(r, tree, tl) &&
			    r[tl] == '/')
				ret = add_rel(ir, r + tl + 1, rl - tl - 1);
		} else if (r) {
			ret = add_local(ir, tree, r);
		}
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
