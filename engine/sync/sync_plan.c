/* sync_plan: the diff thread's side of a sync. Each name of the merged
 * SRC and DST streams becomes a job for the workers, a directory or hard
 * link kept for the end, a recorded deletion, or nothing; a dry run
 * prints the plan instead. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sync_impl.h"

#include "progress.h"
#include "tree.h"
#include "shardq.h"
#include "banned.h"

void sync_job_free(struct job *j)
{
	if (!j)
		return;
	entry_release(&j->e);
	free(j);
}

int sync_defer(struct sync_run *r, struct job *j)
{
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	if (r->ndeferred == r->cap_deferred) {
		size_t cap = r->cap_deferred ? 2 * r->cap_deferred : 16;
		struct job **p = realloc(r->deferred, cap * sizeof(*p));

		if (p) {
			r->deferred = p;
			r->cap_deferred = cap;
		}
	}
	if (r->ndeferred < r->cap_deferred)
		r->deferred[r->ndeferred++] = j;
	else
		ret = -ENOMEM;
	pthread_mutex_unlock(&r->lock);
	return ret;
}

static int record_deletion(struct sync_run *r, const struct entry *d,
			   struct errbuf *eb)
{
	uint32_t len = (uint32_t)d->name_len;

	if (r->so->no_delete)
		return 0;
	r->ndelete++;
	if (r->so->dry_run) {
		diff_print_plan("delete", d);
		return 0;
	}
	if (fwrite(&d->type, 1, 1, r->deletions) != 1 ||
	    fwrite(&len, sizeof(len), 1, r->deletions) != 1 ||
	    fwrite(d->name, 1, len, r->deletions) != len)
		return errbuf_set(eb, -EIO, "cannot record a deletion: %s",
				  strerror(errno));
	return 0;
}

/* A job for e (a copy of it), or NULL (eb: out of memory). */
struct job *sync_job_make(const struct entry *e, enum job_kind kind,
			  struct errbuf *eb)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j || entry_copy(&j->e, e)) {
		free(j);
		errbuf_set(eb, -ENOMEM, "out of memory");
		return NULL;
	}
	j->kind = (uint8_t)kind;
	return j;
}

/* Queue j for the workers (which free it); freed here on a stop. */
static int job_push(struct sync_run *r, struct job *j, struct errbuf *eb)
{
	if (shardq_push_file(r->jobs, j->e.name, j->e.name_len, j->e.size,
			     j) < 0) {
		sync_job_free(j);
		return errbuf_set(eb, -ECANCELED, "stopped");
	}
	return 0;
}

static int push_job(struct sync_run *r, const struct entry *e,
		    enum job_kind kind, struct errbuf *eb)
{
	struct job *j;

	if (r->so->dry_run) {
		diff_print_plan(kind == JOB_META ? "update" : kind == JOB_COMPARE ?
			  "check" : "copy", e);
		if (kind == JOB_COPY) {
			stat_add(e->type == ENTRY_DIR
					 ? &r->run.stats->dirs_created
					 : &r->run.stats->files_copied,
				 1);
			if (e->type == ENTRY_FILE)
				stat_add(&r->run.stats->bytes_written, e->size);
		} else if (kind == JOB_META) {
			stat_add(&r->run.stats->files_updated, 1);
		}
		return 0;
	}
	j = sync_job_make(e, kind, eb);
	return j ? job_push(r, j, eb) : -ENOMEM;
}

static bool same_mtime_mode(const struct sync_run *r, const struct entry *s,
			    const struct entry *d)
{
	/* owners count only where they can be set: as root */
	return s->mtime_ns == d->mtime_ns &&
	       (s->type == ENTRY_SYMLINK || s->mode == d->mode) &&
	       !(r->owners_apply && entry_owner_differs(s, d));
}

/* A later member of one of SRC's hard-link groups: linked to the first
 * member (copied or already right) after the copies. */
static int plan_link(struct sync_run *r, const struct entry *s,
		     struct errbuf *eb)
{
	struct entry *e;

	if (r->so->dry_run) {
		diff_print_plan("link", s);
		return 0;
	}
	if (r->nlinks == r->cap_links) {
		size_t cap = r->cap_links ? r->cap_links * 2 : 64;
		struct entry **p = realloc(r->links, cap * sizeof(*p));

		if (!p)
			return errbuf_set(eb, -ENOMEM, "out of memory");
		r->links = p;
		r->cap_links = cap;
	}
	e = entry_new();
	if (!e || entry_copy(e, s)) {
		free(e);
		return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	r->links[r->nlinks++] = e;
	return 0;
}

/* xattrs read on both sides (not --no-xattrs) and not the same */
static bool xattrs_differ(const struct entry *s, const struct entry *d)
{
	return s->xattrs_known && d->xattrs_known &&
	       !entry_same_xattrs(s, d);
}

/* Every source directory is kept for the end: made (if new) after the
 * deletions, its mode and mtime set once nothing more is written in it. */
static int push_dir(struct sync_run *r, const struct entry *e, bool create,
		    bool differs, struct errbuf *eb)
{
	struct job *j;

	if (r->so->dry_run) {
		if (create) {
			diff_print_plan("create", e);
			stat_add(&r->run.stats->dirs_created, 1);
		} else if (differs) {
			diff_print_plan("update", e);
			stat_add(&r->run.stats->files_updated, 1);
		}
		return 0;
	}
	j = sync_job_make(e, create ? JOB_COPY : JOB_META, eb);
	if (!j)
		return -ENOMEM;
	j->meta_differs = differs;
	if (sync_defer(r, j) < 0) {
		sync_job_free(j);
		return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	return 0;
}

/* JOB_MTIME for s against the destination d (a dry run asks at once). */
static int push_mtime_job(struct sync_run *r, const struct entry *s,
			  const struct entry *d, struct errbuf *eb)
{
	struct job *j;
	int ret;

	if (r->so->dry_run) {
		ret = sync_src_mtime_differs(r, s, d->mtime_ns, eb);
		if (ret <= 0)
			return ret;
		return push_job(r, s, JOB_COPY, eb);
	}
	j = sync_job_make(s, JOB_MTIME, eb);
	if (!j)
		return -ENOMEM;
	j->other_mtime_ns = d->mtime_ns;
	return job_push(r, j, eb);
}

/* Deciding with an object store on a side: stores keep files only, no
 * mode; a file's mtime is kept as the object's "mtime" metadata, as rclone
 * keeps it (net/objmeta.h), next to the upload time (Last-Modified). A
 * file is copied when the sizes differ, or when the mtimes differ: the
 * metadata's is compared exactly (Azure listings carry it; an S3 source
 * is asked by HEAD, only for same-size pairs, as rclone does). A
 * destination object without the metadata counts as up to date if its
 * upload is newer than the source (like `aws s3 sync`), so an S3
 * destination needs no HEAD: a download takes the object's metadata mtime,
 * else its Last-Modified, so the next run sees them equal. --checksum
 * compares MD5s, using what the store already knows. */
static int on_diff_remote(struct sync_run *r, enum diff_state st,
			  const struct entry *s, const struct entry *d,
			  struct errbuf *eb)
{
	struct job *j;

	if (st == DIFF_ONLY_RIGHT) {
		/* a local destination's directories are implied by the
		 * source's keys: the emptied ones are pruned */
		if (d->type == ENTRY_DIR)
			return 0;
		return record_deletion(r, d, eb);
	}
	if (s->type == ENTRY_DIR)
		return 0;
	if (s->type == ENTRY_SYMLINK) {
		char shown[512];

		errbuf_quote_name(shown, sizeof(shown), s->name, s->name_len);
		log_warn(r->run.log,
			 "skipping symlink '%s': object stores hold "
			 "files only",
			 shown);
		stat_add(&r->run.stats->files_skipped, 1);
		return 0;
	}
	if (st == DIFF_ONLY_LEFT || d->type != ENTRY_FILE ||
	    s->size != d->size)
		return push_job(r, s, JOB_COPY, eb);
	switch (r->so->compare) {
	case SYNC_COMPARE_SIZE_ONLY:
		return 0;
	case SYNC_COMPARE_CHECKSUM:
		if (s->has_md5 && d->has_md5)
			return objid_eq(&s->md5, &d->md5) ? 0 :
			       push_job(r, s, JOB_COPY, eb);
		if (!s->has_md5 && !d->has_md5)
			/* between stores: copy; with a local side, the
			 * store's MD5 may be in its metadata (HEAD) */
			return push_job(r, s, !r->src_fs && !r->dst_fs ?
					JOB_COPY : JOB_COMPARE, eb);
		if (r->so->dry_run)
			return push_job(r, s, JOB_COMPARE, eb);
		j = sync_job_make(s, JOB_COMPARE, eb);
		if (!j)
			return -ENOMEM;
		j->has_other_md5 = true;
		j->other_md5 = s->has_md5 ? s->md5 : d->md5;
		return job_push(r, j, eb);
	default:
		if (!r->dst_fs && d->upload_mtime)
			/* the destination object has no mtime metadata:
			 * Last-Modified has whole seconds, so a source
			 * changed in the second of the upload is ambiguous
			 * and copied again */
			return s->mtime_ns / 1000000000LL >=
			       d->mtime_ns / 1000000000LL ?
			       push_job(r, s, JOB_COPY, eb) : 0;
		if (s->mtime_ns == d->mtime_ns)
			return 0;
		if (s->upload_mtime &&
		    !(tree_caps(r->src_tree) & TREE_CAP_LISTS_MTIME))
			/* S3 source: its mtime metadata needs a HEAD, done
			 * only for these same-size pairs (as rclone does) */
			return push_mtime_job(r, s, d, eb);
		/* both mtimes are the files': they must match */
		return push_job(r, s, JOB_COPY, eb);
	}
}

int sync_on_diff(void *ctx, enum diff_state st, const struct entry *s,
		 const struct entry *d, struct errbuf *eb)
{
	struct sync_run *r = ctx;

	if (!r->src_fs || !r->dst_fs)
		return on_diff_remote(r, st, s, d, eb);

	if (st == DIFF_ONLY_RIGHT)
		return record_deletion(r, d, eb);
	if (s->type == ENTRY_DIR)
		return push_dir(r, s, st == DIFF_ONLY_LEFT,
				st != DIFF_ONLY_LEFT &&
				(!same_mtime_mode(r, s, d) ||
				 xattrs_differ(s, d)), eb);
	if (s->link)
		return plan_link(r, s, eb);
	if (st == DIFF_ONLY_LEFT)
		return push_job(r, s, JOB_COPY, eb);
	/* same name on both sides */
	if (s->type != d->type)
		return push_job(r, s, JOB_COPY, eb);
	if (s->type == ENTRY_SYMLINK) {
		if (s->target_len != d->target_len ||
		    memcmp(s->target, d->target, s->target_len))
			return push_job(r, s, JOB_COPY, eb);
	} else if (s->type == ENTRY_FILE) {
		if (s->size != d->size)
			return push_job(r, s, JOB_COPY, eb);
		if (r->so->compare == SYNC_COMPARE_CHECKSUM)
			return push_job(r, s, JOB_COMPARE, eb);
		if (r->so->compare == SYNC_COMPARE_SIZE_MTIME &&
		    s->mtime_ns != d->mtime_ns)
			return push_job(r, s, JOB_COPY, eb);
	}
	if (!same_mtime_mode(r, s, d) &&
	    !(s->type == ENTRY_FILE && r->so->compare == SYNC_COMPARE_SIZE_ONLY))
		return push_job(r, s, JOB_META, eb);
	/* an xattr-only change: fixed in place, the content stays */
	if (xattrs_differ(s, d))
		return push_job(r, s, JOB_META, eb);
	return 0;
}
