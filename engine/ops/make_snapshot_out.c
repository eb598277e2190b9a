/* make_snapshot_out: the snapshot make-snapshot writes: the writer
 * stage's one interface over the two formats (this tool's msgpack, the
 * Python tool's jsonl.gz) and which one to write, each entry recorded in
 * scan order with its owner's names, and the root directory's own
 * metadata for the header. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine.h"
#include "io.h"
#include "owners.h"
#include "progress.h"
#include "pysnap_writer.h"
#include "tree.h"
#include "snapshot_writer.h"
#include "snapstore.h"
#include "xattr.h"
#include "make_snapshot_impl.h"
#include "banned.h"

static int msgpack_out_add(void *w, const struct entry *e, struct errbuf *eb)
{
	return snapshot_writer_add(w, e, eb);
}

static int msgpack_out_finish(void *w, struct errbuf *eb)
{
	return snapshot_writer_finish(w, eb);
}

static void msgpack_out_free(void *w)
{
	snapshot_writer_free(w);
}

const struct snap_out_ops snap_msgpack_out_ops = {
	.add = msgpack_out_add,
	.finish = msgpack_out_finish,
	.free = msgpack_out_free,
};

static int pysnap_out_add(void *w, const struct entry *e, struct errbuf *eb)
{
	return pysnap_writer_add(w, e, eb);
}

static int pysnap_out_finish(void *w, struct errbuf *eb)
{
	return pysnap_writer_finish(w, eb);
}

static void pysnap_out_free(void *w)
{
	pysnap_writer_free(w);
}

const struct snap_out_ops snap_pysnap_out_ops = {
	.add = pysnap_out_add,
	.finish = pysnap_out_finish,
	.free = pysnap_out_free,
};

/* The format to write: the option's, or with auto the format of the
 * latest snapshot already in SNAP_ROOT (msgpack when there is none), so a
 * history the Python tool started stays readable by it. */
int snap_resolve_format(const struct snap_run *r, enum snapshot_format *fmt,
			struct errbuf *eb)
{
	struct errbuf local = ERRBUF_INIT;
	char *path = NULL;
	size_t n, sn;
	int ret;

	*fmt = SNAPSHOT_FORMAT_MSGPACK;
	if (r->run.o->snapshot_format == SNAPSHOT_WRITE_JSONL_GZ)
		*fmt = SNAPSHOT_FORMAT_JSONL_GZ;
	if (r->run.o->snapshot_format != SNAPSHOT_WRITE_AUTO)
		return 0;
	ret = snapstore_find_latest(r->ss, false, 0, &path, &local);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return errbuf_set(eb, ret, "%s", local.msg);
	n = strlen(path);
	sn = strlen(SNAPSTORE_SUFFIX_JSONL_GZ);
	if (n >= sn && !strcmp(path + n - sn, SNAPSTORE_SUFFIX_JSONL_GZ))
		*fmt = SNAPSHOT_FORMAT_JSONL_GZ;
	free(path);
	return 0;
}

/* jsonl.gz records files only: say once what the snapshot left out */
void snap_warn_pysnap_skipped(struct snap_run *r,
			      const struct snap_out *so)
{
	uint64_t dirs, empty, links;

	if (so->ops != &snap_pysnap_out_ops)
		return;
	pysnap_writer_skipped(so->w, &dirs, &empty, &links);
	if (links || empty)
		log_warn(r->run.log,
			 "the jsonl.gz snapshot format records files "
			 "only: %llu symlink(s) and %llu empty "
			 "director%s left out (and the mode and mtime of "
			 "%llu director%s)",
			 (unsigned long long)links, (unsigned long long)empty,
			 empty == 1 ? "y" : "ies", (unsigned long long)dirs,
			 dirs == 1 ? "y" : "ies");
}

/* Record e with its owner's user and group names (a restore on another
 * system maps them to its own ids, as rsync and tar do). Looked up here,
 * on the writer thread, and lent to the entry for the call: no copy per
 * entry. */
static int add_entry(struct snap_run *r, const struct snap_out *out,
		     struct entry *e, struct errbuf *eb)
{
	int ret;

	if (!e->has_owner || !r->owners || e->user || e->group)
		return out->ops->add(out->w, e, eb);
	e->user = (char *)owner_cache_user(r->owners, e->uid);
	e->group = (char *)owner_cache_group(r->owners, e->gid);
	ret = out->ops->add(out->w, e, eb);
	e->user = NULL;   /* borrowed from r->owners */
	e->group = NULL;
	return ret;
}

/* The writer's part for one entry in scan order: record it, or say that
 * it vanished between the scan and the read. */
void snap_write_entry(struct snap_run *r, const struct snap_out *out,
		      struct entry *e)
{
	struct errbuf web = ERRBUF_INIT;
	int ret;

	if (e->type == ENTRY_FILE && !e->has_md5 && !snap_run_failed(r)) {
		/* deleted between the scan and the read: the tree no
		 * longer has it (rsync also just warns); or, with
		 * --skip-changing, it never held still long enough */
		char shown[512];

		errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
		if (e->changing) {
			log_warn(r->run.log,
				 "skipped '%s/%s': it kept changing "
				 "while being read: left out",
				 r->run.o->file_root, shown);
			stat_add(&r->run.stats->files_skipped_changing, 1);
		} else {
			log_warn(r->run.log,
				 "'%s/%s' vanished during the scan: "
				 "left out",
				 r->run.o->file_root, shown);
		}
		stat_add(&r->run.stats->files_skipped, 1);
	} else if (out->w && !snap_run_failed(r)) {
		ret = add_entry(r, out, e, &web);
		if (ret < 0)
			snap_run_fail(r, &web, ret);
	}
}

/* The names of the root's owner, as entries have theirs (one NSS
 * question each). */
static void root_owner_names(struct snapshot_header *h)
{
	struct owner_cache *c = NULL;
	const char *n;

	if (owner_cache_new(&c) < 0)
		return;
	n = owner_cache_user(c, h->root_uid);
	if (n && strlen(n) < sizeof(h->root_user))
		memcpy(h->root_user, n, strlen(n) + 1);
	n = owner_cache_group(c, h->root_gid);
	if (n && strlen(n) < sizeof(h->root_group))
		memcpy(h->root_group, n, strlen(n) + 1);
	owner_cache_free(c);
}

/* The root directory's xattrs and ACLs, inline in the header (key 10):
 * a default ACL on the root is what gives every new file its rights. A
 * list too long to go inline is left out with a warning. */
static void root_xattrs(const struct snap_run *r, struct snapshot_header *h)
{
	unsigned char *x = NULL;
	size_t len = 0;
	int ret;

	if (!r->xattr_ns)
		return;
	ret = xattr_read(tree_scan_rootfd(r->scan), NULL, r->xattr_ns, &x,
			 &len);
	if (!ret && len <= sizeof(h->root_xattrs)) {
		/* no attributes at all: x is NULL, len 0 (an empty list) */
		if (len)
			memcpy(h->root_xattrs, x, len);
		h->root_xattrs_len = len;
		h->has_root_xattrs = true;
	} else {
		log_warn(r->run.log, "the root directory's own xattrs are not "
			 "recorded: %s", ret ? strerror(-ret) :
			 "longer than the header holds (8 KiB)");
	}
	free(x);
}

/* The root directory's own mode and mtime go into the header (its
 * entries record everything below it). Best effort: a root that cannot
 * be stat'ed now fails the scan anyway; a missing one (missing_root_ok)
 * has none. */
void snap_root_meta(const struct snap_run *r, struct snapshot_header *h)
{
	struct io_stat ist;
	struct stat st;

	if (tree_scan_rootfd(r->scan) < 0 ||
	    fstat(tree_scan_rootfd(r->scan), &st))
		return;
	io_stat_from_stat(&ist, &st);
	if (ist.mtime_ns == INT64_MIN || ist.mtime_ns == INT64_MAX) {
		/* as a file's (check_mtime_range), never recorded wrong;
		 * the root is not worth failing the backup over */
		log_warn(r->run.log, "the mtime of the root directory '%s' is "
			 "outside the years 1677-2262 that a snapshot (64-bit "
			 "ns) holds: its mode and mtime are not recorded",
			 r->run.o->file_root);
	} else {
		h->has_root_meta = true;
		h->root_mode = st.st_mode & SNAPSHOT_MODE_MASK;
		h->root_mtime_ns = ist.mtime_ns;
	}
	h->has_root_owner = true;
	h->root_uid = st.st_uid;
	h->root_gid = st.st_gid;
	root_owner_names(h);
	root_xattrs(r, h);
}
