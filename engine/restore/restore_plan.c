/* restore_plan: the diff passes of a restore, which decide what happens
 * to each name. The current state and the target snapshot are read as
 * deduplicated streams (owners mapped, setuid/setgid stripped, the inner
 * heap and snapshot roots left out) and merged by diff_run: pass 1
 * deletes, pass 2 creates directories, queues files and symlinks for
 * the workers of restore_copy.c, fixes the metadata of equal ones and
 * plans hard links, pass 3 sets directory metadata; then the root's. A
 * dry run prints the plan instead. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shardq.h"
#include "diff.h"
#include "inner_roots.h"
#include "engine.h"
#include "link_map.h"
#include "owners.h"
#include "progress.h"
#include "snapshot_reader.h"
#include "snapstore.h"
#include "tree.h"
#include "tree_writer.h"
#include "xattr.h"
#include "fdio.h"
#include "restore_impl.h"
#include "banned.h"

/* A stream over a snapshot reader that drops exact duplicates (same name,
 * same content: the Python tool warns and goes on). */
struct dedup_stream {
	struct snapshot_reader *r;
	/* entries it leaves out are skipped (NULL: none) */
	const struct inner_roots *inner;
	/* mode bits cleared on files (setuid/setgid when not root), and
	 * where to count the files that had them (NULL: not counted) */
	uint32_t strip;
	uint64_t *stripped;
	/* recorded owner names mapped to this system's ids (NULL: the
	 * recorded numbers as they are) */
	struct owner_cache *owners;
	/* the entries' owners are not applied: forget them */
	bool drop_owners;
	struct entry last;
	bool has_last;
};

/* rsync's rule: by name where this system knows the name, else by the
 * recorded number */
static void map_owner(struct owner_cache *c, struct entry *e)
{
	uint32_t id;

	if (e->user && owner_cache_uid(c, e->user, &id))
		e->uid = id;
	if (e->group && owner_cache_gid(c, e->group, &id))
		e->gid = id;
}

static int dedup_next(void *ctx, struct entry *out, struct errbuf *eb)
{
	struct dedup_stream *d = ctx;
	int ret;

	for (;;) {
		ret = snapshot_reader_next(d->r, out, eb);
		if (ret <= 0)
			return ret;
		if ((d->has_last && entry_cmp(&d->last, out) == 0) ||
		    (d->inner && !inner_roots_allow((void *)d->inner, out->name,
						    out->name_len,
						    out->type == ENTRY_DIR))) {
			entry_release(out);
			continue;
		}
		entry_release(&d->last);
		ret = entry_copy(&d->last, out);
		if (ret < 0) {
			entry_release(out);
			return errbuf_set(eb, ret, "out of memory");
		}
		d->has_last = true;
		if (d->drop_owners)
			out->has_owner = false;
		else if (out->has_owner && d->owners)
			map_owner(d->owners, out);
		if (out->type == ENTRY_FILE && (out->mode & d->strip)) {
			out->mode &= ~d->strip;
			if (d->stripped)
				(*d->stripped)++;
		}
		return 1;
	}
}

static void dedup_release(struct dedup_stream *d)
{
	entry_release(&d->last);
	snapshot_reader_free(d->r);
	memset(d, 0, sizeof(*d));
}

/* A directory pass 1 deletes: its rmdir came before its contents (stream
 * order) and failed, so it goes again once they are gone. Only these:
 * the parents of deleted entries that the target has (an empty directory
 * of the target whose extra files were deleted) stay. */
static int remember_prune(struct restore_run *r, const struct entry *e)
{
	if (e->type != ENTRY_DIR)
		return 0;
	if (r->npruned == r->cap_pruned) {
		size_t cap = r->cap_pruned ? r->cap_pruned * 2 : 64;
		char **p = realloc(r->pruned, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		r->pruned = p;
		r->cap_pruned = cap;
	}
	r->pruned[r->npruned] = strdup(e->name);
	if (!r->pruned[r->npruned])
		return -ENOMEM;
	r->npruned++;
	return 0;
}

/* Pass 1: deletions. */
int restore_pass_delete(void *ctx, enum diff_state st, const struct entry *l,
			const struct entry *t, struct errbuf *eb)
{
	struct restore_run *r = ctx;
	int ret;

	if (st == DIFF_EQUAL || st == DIFF_ONLY_RIGHT)
		return 0;
	/* same type: replaced in place by rename in pass 2 */
	if (st == DIFF_DIFFERENT && l->type == t->type)
		return 0;
	if (r->ro->dry_run) {
		if (st == DIFF_ONLY_LEFT)
			diff_print_plan("delete", l);
		stat_add(&r->run.stats->files_deleted, 1);
		return 0;
	}
	if (r->run.o->interrupted && *r->run.o->interrupted)
		return errbuf_set(eb, -EINTR, "interrupted");
	if (!r->fs) {
		ret = tree_remove(r->tree, l, eb);
		if (!ret)
			stat_add(&r->run.stats->files_deleted, 1);
		return ret;
	}
	ret = tree_writer_remove(r->tw, l, eb);
	if (ret < 0)
		return ret;
	stat_add(&r->run.stats->files_deleted, 1);
	if (remember_prune(r, l))
		return errbuf_set(eb, -ENOMEM, "out of memory");
	return 0;
}

/* The same xattrs as far as this restore applies them: not root, the
 * security.* and trusted.* names of either side are not ours to change,
 * so they make no difference (else such an entry would be "updated" on
 * every run). A list kept in the heap is compared by its md5 (whole). */
static bool xattrs_same(const struct restore_run *r, const struct entry *l,
			const struct entry *t)
{
	if (r->xattr_ns == XATTR_NS_ALL || l->has_xattr_ref ||
	    t->has_xattr_ref || !l->xattrs_known)
		return entry_same_xattrs(l, t);
	return xattr_same_in(l->xattrs, l->xattrs_len, t->xattrs,
			     t->xattrs_len, r->xattr_ns);
}

static bool meta_differs(const struct restore_run *r, const struct entry *l,
			 const struct entry *t)
{
	if (t->no_meta)
		return false;  /* nothing recorded to restore */
	if (l->mtime_ns != t->mtime_ns)
		return true;
	/* xattrs recorded in the target and not the same now: fixed in
	 * place, the content stays */
	if (r->xattr_ns && t->xattrs_known && !xattrs_same(r, l, t))
		return true;
	/* target owners are known only when they are applied (root) */
	if (entry_owner_differs(l, t))
		return true;
	return l->type != ENTRY_SYMLINK && (l->mode & 07777) != (t->mode & 07777);
}

/* tree_writer_set_meta with the entry's xattrs loaded */
static int set_meta(struct restore_run *r, const struct entry *t,
		    struct errbuf *eb)
{
	struct entry tmp;
	int ret;

	if (!r->xattr_ns || !t->has_xattr_ref)
		return tree_writer_set_meta(r->tw, t, eb);
	ret = entry_copy(&tmp, t);
	if (ret < 0)
		return errbuf_set(eb, ret, "out of memory");
	ret = restore_load_xattrs(r, &tmp, eb);
	if (!ret)
		ret = tree_writer_set_meta(r->tw, &tmp, eb);
	entry_release(&tmp);
	return ret;
}

/* A later member of a hard-link group whose leader this run writes (or
 * keeps): remembered, to be linked once every file is written (1); 0
 * when t is written as a file. */
static int plan_link(struct restore_run *r, const struct entry *t,
		     struct errbuf *eb)
{
	struct link_job *j;
	const char *leader;
	size_t leader_len;
	int ret;

	ret = link_map_member(r->links, t, &leader, &leader_len);
	if (ret <= 0)
		return ret < 0 ? errbuf_set(eb, ret, "out of memory") : 0;
	if (r->nlink_jobs == r->cap_link_jobs) {
		size_t cap = r->cap_link_jobs ? r->cap_link_jobs * 2 : 64;

		j = realloc(r->link_jobs, cap * sizeof(*j));
		if (!j)
			return errbuf_set(eb, -ENOMEM, "out of memory");
		r->link_jobs = j;
		r->cap_link_jobs = cap;
	}
	j = &r->link_jobs[r->nlink_jobs];
	j->e = entry_new();
	if (!j->e || entry_copy(j->e, t)) {
		free(j->e);
		return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	j->leader = leader;
	j->leader_len = leader_len;
	r->nlink_jobs++;
	return 1;
}

/* --dry-run: a later member of a group is shown as "link" (counted as
 * the run would: files_copied and links_created, no bytes), or not at
 * all when the tree already has it as a link of the same first member
 * (1); 0 when it is written as a file. */
static int dry_plan_link(struct restore_run *r, enum diff_state st,
			 const struct entry *l, const struct entry *t,
			 struct errbuf *eb)
{
	const char *leader;
	size_t leader_len;
	int ret;

	ret = link_map_member(r->links, t, &leader, &leader_len);
	if (ret <= 0)
		return ret < 0 ? errbuf_set(eb, ret, "out of memory") : 0;
	if (st == DIFF_EQUAL && l->link && l->link_len == leader_len &&
	    !memcmp(l->link, leader, leader_len))
		return 1;
	diff_print_plan("link", t);
	stat_add(&r->run.stats->files_copied, 1);
	stat_add(&r->run.stats->links_created, 1);
	return 1;
}

/* Does the file at t's name share its inode with another name? The
 * writer asks without following symlinks; a dry run, which has no writer,
 * asks the same of the path (it only reads, to say "replace" where the
 * real run will). 1, 0 or -errno (eb). */
static int shares_inode(struct restore_run *r, const struct entry *t,
			struct errbuf *eb)
{
	char path[PATH_MAX];
	struct stat st;

	if (r->tw)
		return tree_writer_shares_inode(r->tw, t, eb);
	if (!r->ro->dry_run)
		return 0;
	if (snprintf(path, sizeof(path), "%s/%s", r->run.o->file_root,
		     t->name) >= (int)sizeof(path) ||
	    lstat(path, &st))
		return 0;   /* the real run's writer will ask again */
	return S_ISREG(st.st_mode) && st.st_nlink > 1;
}

/* Pass 2: writes and metadata. */
int restore_pass_write(void *ctx, enum diff_state st, const struct entry *l,
		       const struct entry *t, struct errbuf *eb)
{
	struct restore_run *r = ctx;
	struct entry *copy;
	int ret;

	if (st == DIFF_ONLY_LEFT)
		return 0;
	if (!r->fs && t->type != ENTRY_FILE) {
		/* stores hold files only: directories are implied by the
		 * keys, symlinks cannot be kept */
		if (t->type == ENTRY_SYMLINK) {
			char shown[512];

			log_warn(r->run.log,
				 "not restoring symlink '%s': object "
				 "stores hold files only",
				 restore_shown_name(t, shown, sizeof(shown)));
			stat_add(&r->run.stats->files_skipped, 1);
		}
		return 0;
	}
	if (!r->fs && st == DIFF_EQUAL)
		return 0;  /* no mode or mtime to fix on a store */
	if (t->type == ENTRY_DIR) {
		/* made here, in stream order, before anything goes inside;
		 * mode and mtime come in pass 3 */
		if (st != DIFF_ONLY_RIGHT)
			return 0;
		stat_add(&r->run.stats->dirs_created, 1);
		if (r->ro->dry_run) {
			diff_print_plan("create", t);
			return 0;
		}
		ret = tree_writer_mkdir(r->tw, t, false, eb);
		return ret < 0 ? ret : 0;
	}
	if (r->links && !r->ro->dry_run && t->type == ENTRY_FILE) {
		ret = plan_link(r, t, eb);
		if (ret != 0)
			return ret < 0 ? ret : 0;
	}
	if (r->links && r->ro->dry_run && t->type == ENTRY_FILE) {
		ret = dry_plan_link(r, st, l, t, eb);
		if (ret != 0)
			return ret < 0 ? ret : 0;
	}
	if (st == DIFF_EQUAL) {
		if (!meta_differs(r, l, t))
			return 0;
		/* a file linked to another name (another file of the
		 * snapshot, or one outside the root) is written anew: its
		 * metadata set in place would be the other's too. Not one
		 * of the snapshot's own link groups, whose names share it
		 * by right */
		ret = t->type == ENTRY_FILE && r->fs &&
		      !(r->links && link_map_has_group(r->links, t)) ?
		      shares_inode(r, t, eb) : 0;
		if (ret < 0)
			return ret;
		if (!ret) {
			stat_add(&r->run.stats->files_updated, 1);
			if (r->ro->dry_run) {
				diff_print_plan("update", t);
				return 0;
			}
			return set_meta(r, t, eb);
		}
	}
	if (r->ro->dry_run && t->type == ENTRY_FILE &&
	    (r->ro->read_data || r->ro->keep_going)) {
		ret = restore_dry_check(r, t, eb);
		if (ret < 0)
			return ret;
	}
	if (r->ro->dry_run) {
		diff_print_plan(st == DIFF_ONLY_RIGHT ? "create" : "replace", t);
		stat_add(t->type == ENTRY_DIR ? &r->run.stats->dirs_created :
			 &r->run.stats->files_copied, 1);
		if (t->type == ENTRY_FILE)
			stat_add(&r->run.stats->bytes_written, t->size);
		return 0;
	}
	copy = entry_new();
	if (!copy || entry_copy(copy, t)) {
		free(copy);
		return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	ret = restore_load_xattrs(r, copy, eb);
	if (ret < 0) {
		entry_free(copy);
		return ret;
	}
	ret = shardq_push_file(r->queue, copy->name, copy->name_len,
			       copy->size, copy);
	if (ret < 0) {
		entry_free(copy);
		return errbuf_set(eb, -ECANCELED, "stopped");
	}
	return 0;
}

/* Pass 3: directory modes and mtimes, once nothing more is written into
 * them. Parents come first, which is fine: changing a child's metadata
 * needs no write permission on the parent and does not touch its mtime. */
int restore_pass_dir_meta(void *ctx, enum diff_state st,
			  const struct entry *l, const struct entry *t,
			  struct errbuf *eb)
{
	struct restore_run *r = ctx;
	bool differs;

	if (st == DIFF_ONLY_LEFT || t->type != ENTRY_DIR || !r->fs ||
	    t->no_meta)
		return 0;
	differs = l && meta_differs(r, l, t);
	if (differs)
		stat_add(&r->run.stats->files_updated, 1);
	if (r->ro->dry_run) {
		if (differs)
			diff_print_plan("update", t);
		return 0;
	}
	return set_meta(r, t, eb);
}

/* A dry run's line for the root: "update ." when the real run would
 * change its owner (when root), mode, mtime or xattrs. A root that does
 * not exist yet is created by the real run: nothing to say here. */
static void plan_root_meta(const struct restore_run *r,
			   const struct snapshot_header *h, uid_t uid,
			   gid_t gid)
{
	const char *root = r->run.o->file_root;
	unsigned char *x = NULL;
	size_t xlen = 0;
	struct stat st;
	bool differs;

	if (!r->fs || stat(root, &st))
		return;
	differs = h->has_root_owner && r->owners_apply &&
		  (st.st_uid != uid || st.st_gid != gid);
	if (h->has_root_meta) {
		int64_t ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL +
			     st.st_mtim.tv_nsec;

		differs |= (st.st_mode & 07777) != h->root_mode ||
			   ns != h->root_mtime_ns;
		/* an unreadable list counts as differing: the real run
		 * would try to set it */
		if (h->has_root_xattrs && r->xattr_ns)
			differs |= xattr_read(-1, root, r->xattr_ns, &x,
					      &xlen) < 0 ||
				   !xattr_same_in(x, xlen, h->root_xattrs,
						  h->root_xattrs_len,
						  r->xattr_ns);
	}
	free(x);
	if (differs)
		printf("update .\n");
}

/* Last: the root's own mode and mtime, when the snapshot has them (old
 * and Python snapshots do not: the root is left as it is). Writing
 * inside moved the mtime until now. */
int restore_set_root_meta(struct restore_run *r, struct errbuf *eb)
{
	const struct snapshot_header *h = &r->tgt_hdr;
	struct timespec ts;
	struct entry e;

	/* the same rules as every entry's owner (map_owner) */
	entry_init(&e);
	e.uid = h->root_uid;
	e.gid = h->root_gid;
	e.user = h->root_user[0] ? (char *)h->root_user : NULL;
	e.group = h->root_group[0] ? (char *)h->root_group : NULL;
	if (h->has_root_owner && r->owners)
		map_owner(r->owners, &e);
	if (r->ro->dry_run) {
		plan_root_meta(r, h, e.uid, e.gid);
		return 0;
	}
	if (!r->tw)
		return 0;
	if (h->has_root_owner) {
		int ret = tree_writer_set_root_owner(r->tw, e.uid, e.gid, eb);

		if (ret < 0)
			return ret;
	}
	if (!h->has_root_meta)
		return 0;
	ts.tv_sec = h->root_mtime_ns / 1000000000LL;
	ts.tv_nsec = h->root_mtime_ns % 1000000000LL;
	if (ts.tv_nsec < 0) {
		ts.tv_sec--;
		ts.tv_nsec += 1000000000LL;
	}
	return tree_writer_set_root_meta(r->tw, h->root_mode,
					 h->has_root_xattrs ? h->root_xattrs :
					 NULL, h->root_xattrs_len, &ts, eb);
}

static ssize_t fd_read(void *ctx, void *buf, size_t len)
{
	return fdio_read(*(int *)ctx, buf, len);
}

/* Open the current-state snapshot (a path or the scratch fd) and the
 * target as deduplicated streams, then run one diff pass. */
int restore_run_pass(struct restore_run *r, const char *cur_path,
		     int *cur_fd, const char *target, diff_cb cb,
		     struct errbuf *eb)
{
	struct dedup_stream cur, tgt;
	struct entry_stream ls, rs;
	int ret;

	memset(&cur, 0, sizeof(cur));
	memset(&tgt, 0, sizeof(tgt));
	if (cur_path) {
		ret = snapstore_open_reader(r->ss, cur_path, &cur.r, eb);
	} else {
		if (lseek(*cur_fd, 0, SEEK_SET) < 0)
			return errbuf_set(eb, -errno, "cannot rewind the "
					  "current-state snapshot: %s",
					  strerror(errno));
		ret = snapshot_reader_new(fd_read, cur_fd, "current state",
					  &cur.r, eb);
	}
	if (ret < 0)
		return ret;
	ret = snapstore_open_reader(r->ss, target, &tgt.r, eb);
	if (ret < 0) {
		dedup_release(&cur);
		return ret;
	}
	ls.next = dedup_next;
	ls.ctx = &cur;
	rs.next = dedup_next;
	rs.ctx = &tgt;
	/* the current state was scanned with the same rules already; a
	 * snapshot naming the heap or snapshot root inside the tree must
	 * not write into them */
	tgt.inner = inner_roots_active(&r->inner) ? &r->inner : NULL;
	tgt.strip = r->strip_mode;
	tgt.stripped = cb == restore_pass_write ? &r->setid_stripped : NULL;
	tgt.owners = r->owners;
	/* not root: owners stay as created, so no difference in them is
	 * one to fix; the writers count the ones skipped */
	tgt.drop_owners = !r->owners_apply && cb != restore_pass_write;
	cur.drop_owners = !r->owners_apply;
	ret = diff_run(&ls, &rs, cb, r, eb);
	r->tgt_hdr = *snapshot_reader_header(tgt.r);
	dedup_release(&cur);
	dedup_release(&tgt);
	return ret;
}
