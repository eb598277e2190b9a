/* restore_impl: what the files of restore share (private to
 * engine/restore/). restore.c runs a restore (engine_restore), the diff
 * passes that decide what to delete and write are in restore_plan.c, the
 * workers that write files from the heap, MD5-checked, in
 * restore_copy.c. */
#ifndef SNAP_RESTORE_IMPL_H
#define SNAP_RESTORE_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diff.h"
#include "engine.h"
#include "entry.h"
#include "errbuf.h"
#include "inner_roots.h"
#include "run.h"
#include "snapshot.h"

struct filter;
struct hasher;
struct heap;
struct link_map;
struct lock;
struct owner_cache;
struct shardq;
struct tree;
struct workpool;
struct snapstore;
struct tree_writer;

struct restore_run {
	struct run run;             /* o, log, stats, the first error */
	const struct restore_opts *ro;
	struct heap *heap;
	/* the run's lock on SNAP_ROOT (open_run), or NULL; the snapshots
	 * before and after are made under it (make_snapshot_in) */
	struct lock *lock;
	struct snapstore *ss;       /* SNAP_ROOT: target, "before" */
	int rootfd;
	struct workpool *pool;      /* pass 2's writers (not in a dry run) */
	unsigned writers;           /* how many (engine_workers) */
	struct shardq *queue;       /* the pool's: struct entry * to write,
				     * by dir */
	pthread_mutex_t failed_lock;  /* failed, nfailed, cap_failed */
	struct tree_writer *tw;     /* pass 1 (main thread) */
	struct tree *tree;          /* FILE_ROOT */
	/* FILE_ROOT keeps what a file system keeps (TREE_CAP_FS:
	 * directories, symlinks, modes, owners, xattrs, links); else it
	 * keeps files only (tree_put, tree_remove) */
	bool fs;
	struct filter *filter;      /* --include/--exclude, or NULL */
	struct inner_roots inner;   /* + heap/snap roots inside the tree */
	char **pruned;              /* directories pass 1 deletes */
	size_t npruned, cap_pruned;
	/* keep_going / dry run with read_data: files not restorable */
	char **failed;              /* "'name': why", under failed_lock */
	size_t nfailed, cap_failed;
	bool failed_oom;
	struct hasher *dry_h;       /* dry run with read_data */
	char *dry_buf;
	struct snapshot_header tgt_hdr;  /* the target's, after a pass */
	uint32_t strip_mode;        /* S_ISUID|S_ISGID unless kept, or 0 */
	uint64_t setid_stripped;    /* files that had them (pass 2) */
	unsigned xattr_ns;          /* enum xattr_ns applied, 0: none */
	bool owners_apply;          /* root: chown to the recorded owners */
	struct owner_cache *owners; /* name -> local id (pass thread) */
	struct link_map *links;     /* hard-link groups, or NULL */
	/* pass 2: members to link once every file is written */
	struct link_job *link_jobs;
	size_t nlink_jobs, cap_link_jobs;
};

/* e->name becomes a hard link of leader (a file of this run) */
struct link_job {
	struct entry *e;
	const char *leader;         /* borrowed from links */
	size_t leader_len;
};

/* restore.c */
/* e's name quoted for a message into buf (cap bytes); returns buf. */
const char *restore_shown_name(const struct entry *e, char *buf, size_t cap);

/* restore_copy.c */
/* A pass 2 writer (the pool's work, arg is the run): writes the entries
 * of its shard of r->queue until the queue ends; its first error fails
 * the run (r->run.err) and aborts the pool. */
void restore_writer_work(void *arg, size_t shard);
/* Dry run: would t's heap object restore? A missing one (and, with
 * read_data, a corrupt one) goes on the run's list of failed files;
 * 0, or -errno when the check itself fails. Main thread. */
int restore_dry_check(struct restore_run *r, const struct entry *t,
		      struct errbuf *eb);
/* e's xattr list kept in the heap, read, MD5- and shape-checked, into
 * e->xattrs (owned by e); 0 also when there is none to load or it is
 * not applied, -EBADMSG for a corrupt list, other -errno. */
int restore_load_xattrs(struct restore_run *r, struct entry *e,
			struct errbuf *eb);
/* After pass 2: the planned hard links (r->link_jobs), a copy where the
 * filesystem refuses a link; 0 or -errno. Main thread. */
int restore_make_links(struct restore_run *r, struct errbuf *eb);

/* restore_plan.c */
/* The diff callbacks (diff_cb, ctx is the run) of the three passes:
 * 1 deletes, 2 creates directories, queues files and symlinks for the
 * workers, fixes metadata and plans hard links, 3 sets directory
 * metadata. Dry run: print the plan and count, change nothing. 0 or
 * -errno. */
int restore_pass_delete(void *ctx, enum diff_state st, const struct entry *l,
			const struct entry *t, struct errbuf *eb);
int restore_pass_write(void *ctx, enum diff_state st, const struct entry *l,
		       const struct entry *t, struct errbuf *eb);
int restore_pass_dir_meta(void *ctx, enum diff_state st,
			  const struct entry *l, const struct entry *t,
			  struct errbuf *eb);
/* The root's owner, mode, xattrs and mtime from the target's header
 * (r->tgt_hdr), last; 0 (also with nothing to set) or -errno. */
int restore_set_root_meta(struct restore_run *r, struct errbuf *eb);
/* One diff pass (cb) of the current state (the snapshot cur_path, or
 * the scratch file *cur_fd when cur_path is NULL) against target; keeps
 * the target's header in r->tgt_hdr. 0 or cb's / the diff's -errno. */
int restore_run_pass(struct restore_run *r, const char *cur_path,
		     int *cur_fd, const char *target, diff_cb cb,
		     struct errbuf *eb);

#endif
