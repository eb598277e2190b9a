/* snapstore: the snapshot store handle: argument checks and dispatch to
 * the local or the remote backend (snapstore_impl.h), chosen by the root;
 * what both share: the listing order, the converted twins, and the temp
 * file the snapshot writer streams into (a snapstore_tx). */
#include "snapstore.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "objstore.h"
#include "snapstore_impl.h"
#include "fdio.h"
#include "banned.h"

static const char *root_of(const struct snapstore *ss)
{
	return ss->ops->root(ss->self);
}

int snapstore_list_push(struct snapstore_list *l, size_t *cap,
			const char *relpath, size_t len, int64_t t,
			enum snapshot_format fmt)
{
	struct snapstore_item *it;
	char *p;

	if (l->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;

		it = realloc(l->items, ncap * sizeof(*it));
		if (!it)
			return -ENOMEM;
		l->items = it;
		*cap = ncap;
	}
	p = malloc(len + 1);
	if (!p)
		return -ENOMEM;
	memcpy(p, relpath, len);
	p[len] = '\0';
	l->items[l->n].relpath = p;
	l->items[l->n].time_ns = t;
	l->items[l->n].format = fmt;
	l->n++;
	return 0;
}

static int item_cmp(const void *a, const void *b)
{
	const struct snapstore_item *x = a, *y = b;

	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return strcmp(x->relpath, y->relpath);
}

void snapstore_list_sort(struct snapstore_list *l)
{
	if (l->n > 1)
		qsort(l->items, l->n, sizeof(*l->items), item_cmp);
}

/* A Python-format snapshot converted by convert-snapshots has a native
 * twin with the same timestamp: list only the native one, so 'latest'
 * and list-snapshots see each point in time once. l is sorted: twins are
 * neighbours. */
static void drop_converted(struct snapstore_list *l)
{
	size_t i, n = 0;

	for (i = 0; i < l->n; i++) {
		const struct snapstore_item *it = &l->items[i];
		bool twin = (i > 0 && l->items[i - 1].time_ns == it->time_ns &&
			     l->items[i - 1].format != it->format) ||
			    (i + 1 < l->n &&
			     l->items[i + 1].time_ns == it->time_ns &&
			     l->items[i + 1].format != it->format);

		if (twin && it->format == SNAPSHOT_FORMAT_JSONL_GZ) {
			free(it->relpath);
			continue;
		}
		l->items[n++] = *it;
	}
	l->n = n;
}

int snapstore_list(struct snapstore *ss, struct snapstore_list *out,
		   struct errbuf *eb)
{
	int rc;

	if (!ss || !out)
		return errbuf_set(eb, -EINVAL,
				  "cannot list snapshots: invalid arguments");
	out->items = NULL;
	out->n = 0;
	if (!root_of(ss))
		return errbuf_set(eb, -EINVAL,
				  "cannot list snapshots: no snapshot root");
	rc = ss->ops->list(ss->self, out, eb);
	if (rc == 0)
		drop_converted(out);
	return rc;
}

void snapstore_list_release(struct snapstore_list *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		free(l->items[i].relpath);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

char *snapstore_join(const char *root, const char *rel)
{
	size_t rl = strlen(root);
	size_t len;
	char *p;

	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	len = rl + 1 + strlen(rel) + 1;
	p = malloc(len);
	if (p)
		snprintf(p, len, "%.*s/%s", (int)rl, root, rel);
	return p;
}

int snapstore_find_latest(struct snapstore *ss, bool has_before,
			  int64_t before_ns, char **path_out,
			  struct errbuf *eb)
{
	const char *snap_root = ss ? root_of(ss) : NULL;
	struct snapstore_list l = SNAPSTORE_LIST_INIT;
	const struct snapstore_item *hit = NULL;
	size_t i;
	int rc;

	if (!snap_root || !path_out)
		return errbuf_set(eb, -EINVAL,
				  "cannot find snapshot: invalid arguments");
	*path_out = NULL;
	rc = snapstore_list(ss, &l, eb);
	if (rc)
		return rc;
	for (i = l.n; i > 0; i--) {
		if (!has_before || l.items[i - 1].time_ns <= before_ns) {
			hit = &l.items[i - 1];
			break;
		}
	}
	if (!hit) {
		char when[SNAPSTORE_NAME_MAX];

		if (has_before &&
		    snapstore_format_name(before_ns, SNAPSHOT_FORMAT_MSGPACK,
					  when, sizeof(when)) > 0)
			rc = errbuf_set(eb, -ENOENT,
					"no snapshot at or before %.*s in '%s'",
					SNAPSHOT_NAME_STAMP_LEN, when + 8,
					snap_root);
		else
			rc = errbuf_set(eb, -ENOENT, "no snapshot in '%s'",
					snap_root);
		goto out;
	}
	*path_out = snapstore_path(ss, hit->relpath);
	if (!*path_out)
		rc = errbuf_set(eb, -ENOMEM, "cannot find snapshot: out of memory");
out:
	snapstore_list_release(&l);
	return rc;
}

static void tx_free(struct snapstore_tx *tx)
{
	if (tx->fd >= 0)
		close(tx->fd);
	if (tx->dirfd >= 0)
		close(tx->dirfd);
	free(tx->root);
	free(tx);
}

int snapstore_begin(struct snapstore *ss, int64_t time_ns,
		    enum snapshot_format fmt, struct snapstore_tx **out,
		    struct errbuf *eb)
{
	const char *snap_root = ss ? root_of(ss) : NULL;
	struct snapstore_tx *tx;
	int rc;

	if (!snap_root || !*snap_root || !out)
		return errbuf_set(eb, -EINVAL,
				  "cannot create snapshot: invalid arguments");
	*out = NULL;
	tx = calloc(1, sizeof(*tx));
	if (!tx)
		return errbuf_set(eb, -ENOMEM,
				  "cannot create snapshot: out of memory");
	tx->fd = -1;
	tx->dirfd = -1;
	tx->root = strdup(snap_root);
	if (!tx->root) {
		rc = errbuf_set(eb, -ENOMEM,
				"cannot create snapshot: out of memory");
		goto fail;
	}
	rc = snapstore_format_name(time_ns, fmt, tx->relpath,
				   sizeof(tx->relpath));
	if (rc < 0) {
		rc = errbuf_set(eb, -EINVAL,
				"cannot create snapshot: bad time %" PRId64,
				time_ns);
		goto fail;
	}
	tx->base = tx->relpath + 8;
	tx->time_ns = time_ns;
	tx->ss = ss;
	rc = ss->ops->tx_begin(ss->self, tx, eb);
	if (rc < 0)
		goto fail;
	*out = tx;
	return 0;
fail:
	tx_free(tx);
	return rc;
}

int snapstore_tx_write(void *txp, const void *buf, size_t len)
{
	struct snapstore_tx *tx = txp;
	int ret;

	if (!tx || (!buf && len))
		return -EINVAL;
	if (tx->err)
		return tx->err;
	ret = fdio_write_full(tx->fd, buf, len);
	if (ret < 0) {
		tx->err = ret;
		return ret;
	}
	tx->len += (uint64_t)len;
	return 0;
}

const char *snapstore_tx_relpath(const struct snapstore_tx *tx)
{
	return tx ? tx->relpath : NULL;
}

int snapstore_commit(struct snapstore_tx *tx, char **path_out,
		     struct errbuf *eb)
{
	int rc;

	if (path_out)
		*path_out = NULL;
	if (!tx)
		return errbuf_set(eb, -EINVAL,
				  "cannot save snapshot: invalid arguments");
	rc = tx->ss->ops->tx_commit(tx->ss->self, tx, path_out, eb);
	tx_free(tx);
	return rc;
}

void snapstore_abort(struct snapstore_tx *tx)
{
	if (!tx)
		return;
	if (tx->ss->ops->tx_abort)
		tx->ss->ops->tx_abort(tx->ss->self, tx);
	tx_free(tx);
}

int snapstore_open(const char *root, const char *storage_options_json,
		   const struct engine_opts *o, struct snapstore **out,
		   struct errbuf *eb)
{
	struct snapstore *ss;
	int rc;

	if (!out)
		return errbuf_set(eb, -EINVAL,
				  "cannot open snapshots: invalid arguments");
	*out = NULL;
	ss = calloc(1, sizeof(*ss));
	if (!ss)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	if (objstore_is_url(root))
		ss->ops = &snapstore_remote_ops;
	else
		ss->ops = &snapstore_local_ops;
	rc = ss->ops->open(root, storage_options_json, o, &ss->self, eb);
	if (rc < 0) {
		free(ss);
		return rc;
	}
	*out = ss;
	return 0;
}

void snapstore_free(struct snapstore *ss)
{
	if (!ss)
		return;
	ss->ops->free(ss->self);
	free(ss);
}

const char *snapstore_root(const struct snapstore *ss)
{
	return ss ? root_of(ss) : NULL;
}

bool snapstore_is_remote(const struct snapstore *ss)
{
	return ss && ss->ops->remote;
}

char *snapstore_path(const struct snapstore *ss, const char *relpath)
{
	if (!ss || !root_of(ss) || !relpath)
		return NULL;
	return snapstore_join(root_of(ss), relpath);
}

int snapstore_remove_stale_temps(struct snapstore *ss)
{
	if (!ss || !root_of(ss) || !ss->ops->remove_stale_temps)
		return 0;
	return ss->ops->remove_stale_temps(ss->self);
}

int snapstore_open_reader(struct snapstore *ss, const char *path,
			  struct snapshot_reader **out, struct errbuf *eb)
{
	if (!ss || !path || !out)
		return errbuf_set(eb, -EINVAL,
				  "cannot open snapshot: invalid arguments");
	*out = NULL;
	return ss->ops->open_reader(ss->self, path, out, eb);
}

int snapstore_remove(struct snapstore *ss, const char *relpath,
		     struct errbuf *eb)
{
	int64_t t;

	if (!ss || !root_of(ss) || !relpath ||
	    snapstore_parse_relpath(relpath, strlen(relpath), &t, NULL))
		return errbuf_set(eb, -EINVAL, "cannot remove snapshot '%s': "
				  "not a snapshot name",
				  relpath ? relpath : "(null)");
	return ss->ops->remove(ss->self, relpath, eb);
}
