/* convert_snapshots: migration of the Python snapshooter's history. Each
 * .jsonl.gz of SNAP_ROOT without a .msgpack twin is streamed through
 * snapshot_reader (pysnap_reader) into snapshot_writer and published with
 * the same timestamp through a snapstore tx; snapstore_list then shows
 * the native one only, which makes a second run a no-op. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "entry.h"
#include "snapshot_reader.h"
#include "snapshot_writer.h"
#include "snapstore.h"

#include "banned.h"

#define CONVERT_DIR_MODE 0755

static int convert_one(struct snapstore *ss, const struct snapstore_item *it,
		       const char *src, char **dst, struct errbuf *eb)
{
	struct snapshot_reader *rd = NULL;
	struct snapshot_writer *w = NULL;
	struct snapstore_tx *tx = NULL;
	struct snapshot_header hdr;
	struct entry e = ENTRY_INIT;
	struct errbuf local = ERRBUF_INIT;
	int ret;

	memset(&hdr, 0, sizeof(hdr));
	hdr.created_ns = it->time_ns;
	ret = snapstore_open_reader(ss, src, &rd, eb);
	if (ret < 0)
		goto out;
	ret = snapstore_begin(ss, it->time_ns, SNAPSHOT_FORMAT_MSGPACK, &tx,
			      eb);
	if (ret < 0)
		goto out;
	ret = snapshot_writer_new(snapstore_tx_write, tx, &hdr, &w, eb);
	if (ret < 0)
		goto out;
	while ((ret = snapshot_reader_next(rd, &e, &local)) == 1) {
		if (e.no_meta) {
			/* a directory the Python format does not record: the
			 * msgpack format needs every directory (a restore
			 * deletes what the snapshot lacks) and cannot say
			 * "unknown", so it gets what mkdir gives under the
			 * usual umask and the snapshot's time */
			e.mode = CONVERT_DIR_MODE;
			e.mtime_ns = it->time_ns;
		}
		ret = snapshot_writer_add(w, &e, &local);
		entry_release(&e);
		if (ret < 0)
			break;
	}
	if (ret < 0) {
		ret = errbuf_set(eb, ret, "cannot convert '%s': %s", src,
				 local.msg);
		goto out;
	}
	ret = snapshot_writer_finish(w, eb);
	if (ret < 0)
		goto out;
	ret = snapstore_commit(tx, dst, eb);
	tx = NULL;
out:
	entry_release(&e);
	snapstore_abort(tx);
	snapshot_writer_free(w);
	snapshot_reader_free(rd);
	return ret;
}

static bool same_entry(const struct entry *a, const struct entry *b)
{
	return a->name_len == b->name_len &&
	       !memcmp(a->name, b->name, a->name_len) &&
	       a->type == b->type && a->has_md5 == b->has_md5 &&
	       (!a->has_md5 || !memcmp(&a->md5, &b->md5, sizeof(a->md5))) &&
	       a->size == b->size && a->mtime_ns == b->mtime_ns &&
	       a->mode == b->mode;
}

/* Re-read the source and the converted snapshot: the same entries
 * (names, type, md5, size, mtime, mode), in the same order. */
static int verify_one(struct snapstore *ss, const struct snapstore_item *it,
		      const char *src, const char *dst, struct errbuf *eb)
{
	struct snapshot_reader *ra = NULL, *rb = NULL;
	struct entry a = ENTRY_INIT, b = ENTRY_INIT;
	struct errbuf local = ERRBUF_INIT;
	uint64_t n = 0;
	int ca, cb, ret;

	ret = snapstore_open_reader(ss, src, &ra, eb);
	if (!ret)
		ret = snapstore_open_reader(ss, dst, &rb, eb);
	if (ret < 0)
		goto out;
	for (;;) {
		ca = snapshot_reader_next(ra, &a, &local);
		if (ca < 0) {
			ret = errbuf_set(eb, ca, "%s", local.msg);
			goto out;
		}
		cb = snapshot_reader_next(rb, &b, &local);
		if (cb < 0) {
			ret = errbuf_set(eb, cb, "%s", local.msg);
			goto out;
		}
		if (!ca && !cb)
			break;
		if (ca && cb && a.no_meta) {
			/* the mode and mtime convert_one gave it */
			a.mode = CONVERT_DIR_MODE;
			a.mtime_ns = it->time_ns;
		}
		if (ca != cb || !same_entry(&a, &b)) {
			char shown[512];

			if (ca)
				errbuf_quote_name(shown, sizeof(shown), a.name,
						  a.name_len);
			else
				errbuf_quote_name(shown, sizeof(shown), b.name,
						  b.name_len);
			ret = errbuf_set(eb, -EBADMSG, "verification failed: "
					 "'%s' differs from '%s' at entry %llu "
					 "('%s')", dst, src,
					 (unsigned long long)n, shown);
			goto out;
		}
		entry_release(&a);
		entry_release(&b);
		n++;
	}
	ret = 0;
out:
	entry_release(&a);
	entry_release(&b);
	snapshot_reader_free(rb);
	snapshot_reader_free(ra);
	return ret;
}

int engine_convert_snapshots(const struct engine_opts *o,
			     const struct convert_opts *co,
			     uint64_t *converted, struct errbuf *eb)
{
	struct snapstore_list list = SNAPSTORE_LIST_INIT;
	struct snapstore *ss = NULL;
	char name[SNAPSTORE_NAME_MAX];
	size_t i;
	int ret;

	*converted = 0;
	if (!o->snap_root)
		return errbuf_set(eb, -EINVAL,
				  "convert-snapshots needs --snap-root");
	ret = snapstore_open(o->snap_root, o->snap_storage_options, o, &ss,
			     eb);
	if (ret < 0)
		goto out;
	/* the listing already leaves out the ones converted before */
	ret = snapstore_list(ss, &list, eb);
	if (ret < 0)
		goto out;
	for (i = 0; i < list.n; i++) {
		const struct snapstore_item *it = &list.items[i];
		char *src = NULL, *dst = NULL;

		if (it->format != SNAPSHOT_FORMAT_JSONL_GZ)
			continue;
		if (o->interrupted && *o->interrupted) {
			ret = errbuf_set(eb, -EINTR, "interrupted");
			goto out;
		}
		src = snapstore_path(ss, it->relpath);
		if (!src) {
			ret = errbuf_set(eb, -ENOMEM, "out of memory");
			goto out;
		}
		if (co->dry_run) {
			ret = snapstore_format_name(it->time_ns,
						    SNAPSHOT_FORMAT_MSGPACK,
						    name, sizeof(name));
			dst = ret > 0 ? snapstore_path(ss, name) : NULL;
			ret = dst ? 0 : errbuf_set(eb, -ENOMEM,
						   "out of memory");
		} else {
			ret = convert_one(ss, it, src, &dst, eb);
			if (!ret && co->verify)
				ret = verify_one(ss, it, src, dst, eb);
		}
		if (!ret && co->on_item)
			co->on_item(co->ctx, src, dst);
		free(src);
		free(dst);
		if (ret < 0)
			goto out;
		(*converted)++;
	}
	ret = 0;
out:
	snapstore_list_release(&list);
	snapstore_free(ss);
	return ret;
}
