/* make_snapshot_scan: make-snapshot's scan stage. The scan thread walks
 * the tree (local scanner or object-store listing) in entry_cmp order,
 * merges it with the previous snapshot to reuse the md5s of unchanged
 * files, records xattrs, and hands every entry to the ordered window,
 * the ones that need a hash (or a reused md5 confirmed) to the workers. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shardq.h"
#include "workpool.h"
#include "hasher.h"
#include "heap.h"
#include "objstore.h"
#include "heap_verify.h"
#include "ordered.h"
#include "tree.h"
#include "snapshot_reader.h"
#include "snapstore.h"
#include "xattr.h"
#include "log.h"
#include "progress.h"
#include "pysnap_reader.h"
#include "make_snapshot_impl.h"
#include "banned.h"

static int prev_advance(struct snap_run *r, struct errbuf *eb)
{
	int ret;

	entry_release(&r->prev_e);
	r->prev_has = false;
	if (!r->prev)
		return 0;
	ret = snapshot_reader_next(r->prev, &r->prev_e, eb);
	if (ret < 0)
		return ret;
	r->prev_has = ret == 1;
	return 0;
}

static bool can_reuse(const struct snap_run *r, const struct entry *p,
		      const struct entry *e)
{
	if (p->type != ENTRY_FILE || e->type != ENTRY_FILE || !p->has_md5)
		return false;
	if (!r->fs)
		/* object stores: the etag changes with every write (the
		 * Python tool's rule) */
		return p->size == e->size && p->etag && e->etag &&
		       !strcmp(p->etag, e->etag);
	if (r->prev_py) {
		/* the Python tool's rule: its float mtime equals this scan's
		 * as CPython computes st_mtime (its ctime and inode numbers
		 * belong to the tree it scanned, not to this one) */
		if (p->size != e->size ||
		    !pysnap_mtime_matches(p->mtime_ns, e->mtime_ns))
			return false;
		/* created_ns comes from the snapshot's name (0 if unknown:
		 * then nothing passes) */
		return e->mtime_ns < r->racy_limit_ns;
	}
	if (p->size != e->size || p->mtime_ns != e->mtime_ns)
		return false;
	if (!r->mo->reuse_size_mtime_only &&
	    (p->ctime_ns != e->ctime_ns || p->ino != e->ino) &&
	    /* a chown moves the ctime and nothing else: an owner change
	     * explains a new ctime, so the md5 stays (restic and git would
	     * hash again; a chown -R of a migrated tree would then read
	     * every byte) */
	    (p->ino != e->ino || !entry_owner_differs(p, e)))
		return false;
	/* racy-clean rule: a file modified around the previous scan may
	 * have changed again within the same timestamp tick */
	return e->mtime_ns < r->racy_limit_ns;
}

/* The previous snapshot is verified while it is merged (one read instead
 * of two); if it turns out damaged, this run is abandoned before saving and
 * redone without it. */
static void prev_failed(struct snap_run *r, const struct errbuf *eb)
{
	r->prev_bad = true;
	r->prev_err = *eb;
}

/* Move the previous snapshot's cursor up to e: 1 when it is at e's name
 * (and type), else 0; -errno when the previous snapshot fails. */
static int prev_seek(struct snap_run *r, const struct entry *e,
		     struct errbuf *eb)
{
	int ret;

	while (r->prev_has && entry_cmp(&r->prev_e, e) < 0) {
		ret = prev_advance(r, eb);
		if (ret < 0)
			return ret;
	}
	return r->prev_has && entry_cmp(&r->prev_e, e) == 0 &&
	       r->prev_e.type == e->type;
}

/* --verify-heap: the xattr object of e was in the heap already: read it
 * back and, when damaged, write it again from the list just read. */
static int verify_xattrs(struct snap_run *r, const struct entry *e,
			 struct errbuf *eb)
{
	char why[sizeof(eb->msg)], name[512], shown[1200];
	const size_t cap = 64 * 1024;
	void *buf = malloc(cap);
	int fd = -1, ret;

	if (!buf)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	ret = heap_verify_check(r->verify, &e->xattr_md5, r->xattr_h, buf,
				cap, eb);
	if (ret != 0) {
		ret = ret < 0 ? ret : 0;
		goto out;
	}
	memcpy(why, eb->msg, sizeof(why));
	errbuf_clear(eb);
	errbuf_quote_name(name, sizeof(name), e->name, e->name_len);
	snprintf(shown, sizeof(shown), "%s/%s (its xattrs)",
		 r->run.o->file_root, name);
	fd = memfd_create("snapshooter-xattrs", MFD_CLOEXEC);
	if (fd < 0 || write(fd, e->xattrs, e->xattrs_len) !=
		      (ssize_t)e->xattrs_len || lseek(fd, 0, SEEK_SET) < 0) {
		ret = errbuf_set(eb, fd < 0 ? -errno : -EIO, "cannot repair "
				 "the heap object of '%s': memfd: %s", shown,
				 strerror(fd < 0 ? errno : EIO));
		goto out;
	}
	ret = heap_verify_repair(r->verify, &e->xattr_md5, why, fd, shown,
				 r->xattr_h, buf, cap, eb);
	if (ret == -ESTALE)  /* memory does not change: cannot happen */
		ret = errbuf_set(eb, -EIO, "'%s' changed in memory", shown);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

/* Store e's encoded xattr list (its md5 known) and count it; with
 * --verify-heap an object already there is read back (verify_xattrs),
 * once per run for each list, like a content. */
static int store_xattrs(struct snap_run *r, struct entry *e,
			struct errbuf *eb)
{
	int ret, put;

	if (r->verify) {
		ret = heap_verify_claim(r->verify, &e->xattr_md5, eb);
		if (ret < 0)
			return ret;
		if (ret == 0) {
			stat_add(&r->run.stats->heap_objects_present, 1);
			return 0;
		}
	}
	put = heap_put_buf(r->heap, &e->xattr_md5, e->xattrs, e->xattrs_len,
			   eb);
	ret = put;
	if (put == 0 && r->verify)
		ret = verify_xattrs(r, e, eb);
	if (r->verify)
		heap_verify_settle(r->verify, &e->xattr_md5, ret >= 0);
	if (ret < 0)
		return ret;
	stat_add(put ? &r->run.stats->heap_objects_written :
		 &r->run.stats->heap_objects_present, 1);
	if (put)
		stat_add(&r->run.stats->bytes_written, e->xattrs_len);
	return 0;
}

/* An encoded xattr list too big to go inline becomes a heap object
 * (named by its MD5 like any content, made durable with them before the
 * snapshot is published); the entry keeps its reference. Restore's
 * scratch record (no heap) only needs the MD5, to compare. */
static int xattrs_to_heap(struct snap_run *r, struct entry *e,
			  struct errbuf *eb)
{
	int ret;

	if (!r->xattr_h) {
		ret = hasher_new(&r->xattr_h, eb);
		if (ret < 0)
			return ret;
	}
	ret = hasher_digest(r->xattr_h, e->xattrs, e->xattrs_len,
			    &e->xattr_md5, eb);
	if (ret < 0)
		return ret;
	if (r->heap) {
		ret = store_xattrs(r, e, eb);
		if (ret < 0)
			return ret;
	}
	e->has_xattr_ref = true;
	free(e->xattrs);
	e->xattrs = NULL;
	return 0;
}

/* The xattrs of e: the previous snapshot's when the inode's ctime (which
 * every xattr change moves) and number are the same and outside the
 * racy window, so a no-change run makes no xattr call at all; else read
 * now. Returns 0, or -ESTALE when the previous snapshot failed (eb set),
 * other -errno on failure. */
static int take_xattrs(struct snap_run *r, struct entry *e, struct errbuf *eb)
{
	const struct entry *p = &r->prev_e;
	int ret;

	ret = prev_seek(r, e, eb);
	if (ret < 0) {
		prev_failed(r, eb);
		return -ESTALE;
	}
	/* --verify-heap reads them anew: their object is checked too */
	if (ret == 1 && !r->prev_py && !r->verify && p->xattrs_known &&
	    e->ctime_ns &&
	    p->ctime_ns == e->ctime_ns && p->ino == e->ino &&
	    e->ctime_ns < r->racy_limit_ns) {
		if (!p->has_xattr_ref)
			return entry_set_xattrs(e, p->xattrs, p->xattrs_len) ?
			       errbuf_set(eb, -ENOMEM, "out of memory") : 0;
		/* a heap object the heap may have lost: only if present */
		ret = r->heap ? heap_has(r->heap, &p->xattr_md5, eb) : 1;
		if (ret < 0)
			return ret;
		if (ret == 1) {
			e->xattrs_known = true;
			e->has_xattr_ref = true;
			e->xattr_md5 = p->xattr_md5;
			e->xattrs_len = p->xattrs_len;
			return 0;
		}
	}
	ret = tree_scan_xattrs(r->scan, r->xattr_ns, e, eb);
	if (ret < 0)
		return ret;
	if (e->xattrs_known && e->xattrs_len > XATTRS_INLINE_MAX)
		return xattrs_to_heap(r, e, eb);
	return 0;
}

/* Find the previous entry of e's name and take its md5 if trustworthy:
 * 1 the store gave the md5, 2 taken from the previous snapshot, 0 none. */
static int merge_prev(struct snap_run *r, struct entry *e, struct errbuf *eb)
{
	bool same;
	int ret;

	while (r->prev_has && entry_cmp(&r->prev_e, e) < 0) {
		ret = prev_advance(r, eb);
		if (ret < 0)
			return ret;
	}
	same = r->prev_has && entry_cmp(&r->prev_e, e) == 0 &&
	       can_reuse(r, &r->prev_e, e);
	/* the store gave it: nothing to download. Unless the previous
	 * snapshot of the same object (same ETag and size) has another: the
	 * listed MD5 was an ETag that is no MD5 (SSE-KMS; the download that
	 * made that snapshot said so, and its MD5 is of the bytes) */
	if (e->has_md5 && (!same || objid_eq(&r->prev_e.md5, &e->md5)))
		return 1;
	if (same) {
		e->md5 = r->prev_e.md5;
		e->has_md5 = true;
		return 2;  /* counted once the heap is known to hold it */
	}
	return 0;
}

/* An S3 tree lists Last-Modified, not the object's mtime metadata: the
 * previous snapshot's mtime of the same object (same etag and size) saves
 * the HEAD, unless it was the Last-Modified itself (an object without the
 * metadata, or a snapshot made before it was read). The etag stays when
 * only metadata is rewritten (rclone touch): such a change is seen once
 * the content changes. */
static void prev_mtime(struct snap_run *r, struct entry *e)
{
	const struct entry *p = &r->prev_e;

	if (r->prev_has && entry_cmp(p, e) == 0 && p->type == ENTRY_FILE &&
	    p->size == e->size && p->etag && e->etag &&
	    !strcmp(p->etag, e->etag) &&
	    p->mtime_ns / 1000000000LL != e->mtime_ns / 1000000000LL) {
		e->mtime_ns = p->mtime_ns;
		e->upload_mtime = false;
	}
}

static int tree_next(struct snap_run *r, struct entry *e, struct errbuf *eb)
{
	return tree_scan_next(r->scan, e, eb);
}

/* Object-store trees: a known md5 whose object the heap lacks still needs
 * the content (downloaded by a worker), unless --no-download-missing-files
 * says to record it as it is (only where the listed MD5 is one). */
static int remote_needs_content(struct snap_run *r, const struct entry *e,
				struct errbuf *eb)
{
	int ret;

	if (!r->heap)
		return 0;
	ret = heap_has(r->heap, &e->md5, eb);
	if (ret < 0)
		return ret;
	if (ret == 1)
		return 0;
	if (r->mo->no_download_missing && r->listed_md5s == 0 &&
	    r->copy_from) {
		/* one HEAD, before the first MD5 recorded on the listing's
		 * word: an SSE-KMS bucket's listed ETags name no content */
		struct errbuf why = ERRBUF_INIT;

		ret = objstore_copy_probe(r->copy_from, e->name, &why);
		if (ret == -ENODATA) {
			r->listed_md5s = -1;
			log_warn(r->run.log, "--no-download-missing-files: the "
				 "ETags of '%s' are no MD5s (SSE-KMS or "
				 "SSE-C): its files are downloaded and hashed",
				 r->run.o->file_root);
		} else if (ret == 0) {
			r->listed_md5s = 1;
		}
		/* a failed HEAD: this file is downloaded, the next such
		 * file asks again */
	}
	if (r->mo->no_download_missing && r->listed_md5s == 1) {
		stat_add(&r->run.stats->files_skipped, 1);
		return 0;
	}
	return 1;
}

/* The scan saturates an mtime a snapshot cannot hold (ns in 64 bits)
 * to INT64_MIN/MAX: refused, naming the file, rather than recorded
 * wrong. */
static int check_mtime_range(const struct snap_run *r, const struct entry *e,
			     struct errbuf *eb)
{
	char shown[512];

	if (e->mtime_ns != INT64_MAX && e->mtime_ns != INT64_MIN)
		return 0;
	errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
	return errbuf_set(eb, -EOVERFLOW, "cannot record '%s/%s': its mtime "
			  "is outside the years 1677-2262 that a snapshot "
			  "(64-bit ns) holds", r->run.o->file_root, shown);
}

void *snap_scan_main(void *arg)
{
	struct snap_run *r = arg;
	struct errbuf eb = ERRBUF_INIT;
	struct entry e;
	int ret;

	while ((ret = tree_next(r, &e, &eb)) == 1) {
		struct ordered_slot *slot;
		bool hash, confirm, reused = false;

		ret = check_mtime_range(r, &e, &eb);
		if (ret < 0) {
			entry_release(&e);
			break;
		}
		if (r->xattr_ns && r->fs) {
			ret = take_xattrs(r, &e, &eb);
			if (ret < 0) {
				entry_release(&e);
				break;
			}
		}
		hash = e.type == ENTRY_FILE;
		confirm = false;
		if (hash) {
			ret = merge_prev(r, &e, &eb);
			if (ret < 0) {
				entry_release(&e);
				prev_failed(r, &eb);
				break;
			}
			reused = ret == 2;
			hash = ret == 0;
			if (!hash && !r->fs && r->verify) {
				/* --verify-heap: the content is needed to
				 * check (and repair) the object */
				hash = true;
			} else if (!hash && !r->fs) {
				ret = remote_needs_content(r, &e, &eb);
				if (ret < 0) {
					entry_release(&e);
					break;
				}
				hash = ret == 1;
			} else if (reused && r->heap) {
				/* a worker asks the heap (in batches) */
				confirm = true;
			}
			if (reused && !hash && !confirm)
				stat_add(&r->run.stats->md5_reused, 1);
			if (e.upload_mtime && r->lookup_mtime)
				prev_mtime(r, &e);
		}
		slot = ordered_reserve(r->win);
		if (!slot) {
			entry_release(&e);
			ret = -ECANCELED;
			break;
		}
		slot->entry = e;
		if (!hash && !confirm &&
		    !(e.upload_mtime && r->lookup_mtime)) {
			ordered_complete(r->win, slot);
			continue;
		}
		slot->needs_work = confirm ? SLOT_CONFIRM : hash ? SLOT_HASH :
				   SLOT_MTIME;
		if (shardq_push(r->jobs, 0, slot) < 0) {
			/* aborted: hand the slot back so it is released */
			ordered_complete(r->win, slot);
			ret = -ECANCELED;
			break;
		}
	}
	/* the previous snapshot's checksum covers all of it: read it to the
	 * end before any md5 taken from it may be saved */
	while (ret == 0 && r->prev_has) {
		ret = prev_advance(r, &eb);
		if (ret < 0)
			prev_failed(r, &eb);
	}
	if (ret < 0) {
		if (r->prev_bad)
			snap_run_fail(r, &r->prev_err, -ESTALE);
		else if (ret != -ECANCELED)
			snap_run_fail(r, &eb, ret);
	} else {
		ordered_close(r->win);
		workpool_close(r->pool);
	}
	return NULL;
}

/* Did the store fail to answer (as opposed to giving damaged bytes)? */
static bool is_outage(int err)
{
	return err == -ETIMEDOUT || err == -ECONNREFUSED ||
	       err == -ECONNRESET || err == -EHOSTUNREACH ||
	       err == -EAGAIN || err == -EACCES || err == -ECANCELED;
}

/* Open the previous snapshot for the merge (its checksum is verified as
 * the merge reads it to the end). A previous snapshot that cannot be
 * listed or fetched fails the run; a damaged one is a warning (every
 * file is hashed). */
int snap_open_previous(struct snap_run *r, struct errbuf *eb)
{
	struct errbuf local = ERRBUF_INIT;
	char *path = NULL;
	int ret;

	if (r->mo->previous_path) {
		path = strdup(r->mo->previous_path);
		if (!path)
			return errbuf_set(eb, -ENOMEM, "out of memory");
	} else {
		log_info(r->run.log, "searching the latest snapshot in '%s'",
			 r->run.o->snap_root);
		ret = snapstore_find_latest(r->ss, false, 0, &path, &local);
		if (ret == -ENOENT) {
			log_info(r->run.log, "no snapshot yet: every file is "
				 "hashed");
			return 0;  /* first snapshot */
		}
		/* a store that cannot be listed (down, refusing, a missing
		 * bucket) is no reason to hash, and for an object-store
		 * FILE_ROOT download, the whole tree: stop here */
		if (ret < 0)
			return errbuf_set(eb, ret, "%s", local.msg);
	}
	ret = snapstore_open_reader(r->ss, path, &r->prev, &local);
	if (ret < 0 && is_outage(ret)) {
		free(path);
		return errbuf_set(eb, ret, "%s", local.msg);
	}
	if (ret < 0)
		goto unusable;
	/* only md5s are taken from it */
	snapshot_reader_skip_owner_names(r->prev);
	r->racy_limit_ns = snapshot_reader_header(r->prev)->created_ns -
			   RACY_MARGIN_NS;
	r->prev_py = snapshot_reader_header(r->prev)->format ==
		     SNAPSHOT_FORMAT_JSONL_GZ;
	if (r->mo->racy_after_ns && r->mo->racy_after_ns < r->racy_limit_ns)
		r->racy_limit_ns = r->mo->racy_after_ns;
	log_info(r->run.log, "reusing the md5s of unchanged files from '%s'",
		 path);
	free(path);
	ret = prev_advance(r, &local);
	if (ret < 0) {
		snapshot_reader_free(r->prev);
		r->prev = NULL;
		goto unusable_logged;
	}
	return 0;
unusable:
	/* a damaged previous snapshot must not stop a new backup: say so
	 * and hash everything */
	free(path);
unusable_logged:
	log_warn(r->run.log,
		 "previous snapshot not usable, hashing every file: %s",
		 local.msg);
	(void)eb;
	return 0;
}
