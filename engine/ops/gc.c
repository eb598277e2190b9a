/* gc: mark (every snapshot's ids into an idset) and sweep (local walk of
 * HEAP_ROOT/<2 hex>/ or one listing of the remote heap) under the
 * exclusive lock; see gc.h and LOCKING.md. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "gc.h"
#include "heap.h"
#include "heap_cache.h"
#include "idset.h"
#include "lock.h"
#include "log.h"
#include "objstore.h"
#include "snapshot_reader.h"
#include "snapstore.h"
#include "banned.h"

#define GC_DELETE_BATCH 1000

struct gc_run {
	const struct engine_opts *o;
	const struct gc_opts *go;
	struct gc_report *rep;
	struct idset *marked;
	struct idset *seen;          /* ids found in the heap */
	int64_t cutoff_s;            /* delete only what is older */
	struct logger *log;
	/* remote sweep: keys to delete */
	char **keys;
	size_t nkeys, capkeys;
	int err;
};

static bool interrupted(const struct engine_opts *o)
{
	return o->interrupted && *o->interrupted;
}

static int mark(struct gc_run *g, struct errbuf *eb)
{
	struct snapstore_list list = SNAPSTORE_LIST_INIT;
	struct snapstore *ss = NULL;
	struct entry e = ENTRY_INIT;
	size_t i;
	int rc;

	rc = snapstore_open(g->o->snap_root, g->o->snap_storage_options, g->o,
			    &ss, eb);
	if (rc >= 0)
		rc = snapstore_list(ss, &list, eb);
	if (rc < 0)
		goto out;
	if (list.n == 0) {
		rc = errbuf_set(eb, -ENOENT, "no snapshot in '%s': refusing to "
				"delete every object of '%s' (wrong "
				"--snap-root?)", g->o->snap_root,
				g->o->heap_root);
		goto out;
	}
	for (i = 0; i < list.n; i++) {
		struct snapshot_reader *r = NULL;
		char *path = snapstore_path(ss, list.items[i].relpath);

		if (!path) {
			rc = errbuf_set(eb, -ENOMEM, "out of memory");
			goto out;
		}
		rc = snapstore_open_reader(ss, path, &r, eb);
		free(path);
		while (rc >= 0 && (rc = snapshot_reader_next(r, &e, eb)) == 1) {
			if (e.has_md5 && idset_add(g->marked, &e.md5) < 0)
				rc = errbuf_set(eb, -ENOMEM, "out of memory");
			/* an xattr list kept in the heap is referenced too */
			if (e.has_xattr_ref &&
			    idset_add(g->marked, &e.xattr_md5) < 0)
				rc = errbuf_set(eb, -ENOMEM, "out of memory");
			entry_release(&e);
		}
		snapshot_reader_free(r);
		if (rc < 0) {
			/* an unreadable snapshot hides references: delete
			 * nothing */
			errbuf_wrap(eb, rc, "gc stopped before deleting "
				    "anything");
			goto out;
		}
		if (interrupted(g->o)) {
			rc = errbuf_set(eb, -EINTR, "interrupted");
			goto out;
		}
		g->rep->snapshots++;
	}
	g->rep->referenced = idset_count(g->marked);
	rc = 0;
out:
	entry_release(&e);
	snapstore_list_release(&list);
	snapstore_free(ss);
	return rc;
}

static bool is_hex2(const char *s)
{
	return strlen(s) == 2 && strchr("0123456789abcdef", s[0]) &&
	       strchr("0123456789abcdef", s[1]) && s[0] && s[1];
}

/* one local file: delete (or count) it; temp files by the grace only */
static int sweep_local_file(struct gc_run *g, int dfd, const char *dirname,
			    const char *name, bool is_temp, struct errbuf *eb)
{
	struct stat st;
	struct objid id;
	bool ref = false;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
		return 0;
	if (!is_temp) {
		if (!heap_parse_object_name(name, strlen(name), &id) ||
		    strncmp(name, dirname, 2))
			return 0;        /* not an object of ours */
		g->rep->objects++;
		g->rep->bytes += (uint64_t)st.st_size;
		if (idset_add(g->seen, &id) < 0)
			return errbuf_set(eb, -ENOMEM, "out of memory");
		ref = idset_has(g->marked, &id);
	}
	if (ref)
		return 0;
	if ((int64_t)st.st_mtim.tv_sec >= g->cutoff_s) {
		if (!is_temp)
			g->rep->young++;
		return 0;
	}
	if (!g->go->dry_run && unlinkat(dfd, name, 0) && errno != ENOENT)
		return errbuf_set(eb, -errno, "cannot delete '%s/%s/%s': %s",
				  g->o->heap_root, dirname, name,
				  strerror(errno));
	log_debug(g->log, "gc: %s '%s/%s'", g->go->dry_run ? "would delete" :
		  "deleted", dirname, name);
	if (is_temp) {
		g->rep->temps_deleted++;
		g->rep->temps_bytes += (uint64_t)st.st_size;
	} else {
		g->rep->deleted++;
		g->rep->deleted_bytes += (uint64_t)st.st_size;
	}
	return 0;
}

enum dir_kind {
	DIR_OBJECTS,       /* heap fan-out: objects and .tmp-* */
	DIR_TMP_NAMES,     /* snapshot months: only .tmp-* */
	DIR_ALL_TEMPS,     /* the Python tool's temp/: every file */
};

/* every file of root/dirname as kind says; names starting with ".tmp-"
 * are temps everywhere */
static int sweep_local_dir(struct gc_run *g, int rootfd, const char *root,
			   const char *dirname, enum dir_kind kind,
			   struct errbuf *eb)
{
	struct dirent *de;
	DIR *d;
	int dfd, rc = 0;

	dfd = openat(rootfd, dirname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : errbuf_set(eb, -errno, "cannot "
			"open '%s/%s': %s", root, dirname, strerror(errno));
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return errbuf_set(eb, -errno, "cannot open '%s/%s': %s", root,
				  dirname, strerror(errno));
	}
	while (!rc && (de = readdir(d))) {
		bool temp = kind == DIR_ALL_TEMPS ||
			    !strncmp(de->d_name, SNAPSTORE_TMP_PREFIX, 5);

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (kind == DIR_TMP_NAMES && !temp)
			continue;
		rc = sweep_local_file(g, dirfd(d), dirname, de->d_name, temp,
				      eb);
		if (!rc && interrupted(g->o))
			rc = errbuf_set(eb, -EINTR, "interrupted");
	}
	closedir(d);
	return rc;
}

static int sweep_local(struct gc_run *g, struct errbuf *eb)
{
	const char *root = g->o->heap_root;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	d = opendir(root);
	if (!d)
		return errbuf_set(eb, -errno, "cannot open heap '%s': %s", root,
				  strerror(errno));
	while (!rc && (de = readdir(d))) {
		if (is_hex2(de->d_name))
			rc = sweep_local_dir(g, dirfd(d), root, de->d_name,
					     DIR_OBJECTS, eb);
		else if (!strcmp(de->d_name, HEAP_PY_TEMP_DIR))
			rc = sweep_local_dir(g, dirfd(d), root,
					     HEAP_PY_TEMP_DIR, DIR_ALL_TEMPS,
					     eb);
		else if (!strncmp(de->d_name, SNAPSTORE_TMP_PREFIX, 5))
			rc = sweep_local_file(g, dirfd(d), ".", de->d_name,
					      true, eb);
	}
	closedir(d);
	return rc;
}

/* snapshot folder temps: SNAP_ROOT/YYYY/MM/.tmp-* (local store only: a
 * remote store spools in $TMPDIR) */
static int sweep_snap_temps(struct gc_run *g, struct errbuf *eb)
{
	const char *root = g->o->snap_root;
	struct dirent *y, *m;
	DIR *yd, *rd;
	int rc = 0;

	if (strstr(root, "://"))
		return 0;
	rd = opendir(root);
	if (!rd)
		return 0;
	while (!rc && (y = readdir(rd))) {
		int yfd;

		if (strlen(y->d_name) != 4 || y->d_name[0] == '.')
			continue;
		yfd = openat(dirfd(rd), y->d_name,
			     O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (yfd < 0)
			continue;
		yd = fdopendir(yfd);
		if (!yd) {
			close(yfd);
			continue;
		}
		while (!rc && (m = readdir(yd))) {
			if (strlen(m->d_name) != 2 || m->d_name[0] == '.')
				continue;
			rc = sweep_local_dir(g, dirfd(yd), root, m->d_name,
					     DIR_TMP_NAMES, eb);
		}
		closedir(yd);
	}
	closedir(rd);
	return rc;
}

/* Keep k (malloc'd; freed here on failure) for the sweep. */
static int push_owned(struct gc_run *g, char *k)
{
	if (!k)
		return -ENOMEM;
	if (g->nkeys == g->capkeys) {
		size_t cap = g->capkeys ? 2 * g->capkeys : 256;
		char **nk = realloc(g->keys, cap * sizeof(*nk));

		if (!nk) {
			free(k);
			return -ENOMEM;
		}
		g->keys = nk;
		g->capkeys = cap;
	}
	g->keys[g->nkeys++] = k;
	return 0;
}

static int push_key(struct gc_run *g, const char *key, size_t len)
{
	return push_owned(g, strndup(key, len));
}

/* A key of a store heap: 1 an object "<2 hex>/<md5>[.gz]" (id set), 2
 * a temp of the Python tool's ("temp/..."), 0 anything else (not
 * gc's). */
static int heap_key_kind(const char *key, size_t len, struct objid *id)
{
	const size_t tl = strlen(HEAP_PY_TEMP_DIR "/");

	if (len > tl && !memcmp(key, HEAP_PY_TEMP_DIR "/", tl))
		return 2;
	return heap_parse_object_key(key, len, id) ? 1 : 0;
}

static int remote_cb(void *arg, const struct objstore_entry *e)
{
	struct gc_run *g = arg;
	struct objid id;
	bool temp = false, ref = false;

	switch (heap_key_kind(e->key, e->key_len, &id)) {
	case 2:
		temp = true;
		break;
	case 1:
		g->rep->objects++;
		g->rep->bytes += e->size;
		if (idset_add(g->seen, &id) < 0)
			return -ENOMEM;
		ref = idset_has(g->marked, &id);
		break;
	default:
		return 0;
	}
	if (ref)
		return 0;
	/* an unknown Last-Modified is never old enough */
	if (e->last_modified <= 0 || e->last_modified >= g->cutoff_s) {
		if (!temp)
			g->rep->young++;
		return 0;
	}
	if (temp) {
		g->rep->temps_deleted++;
		g->rep->temps_bytes += e->size;
	} else {
		g->rep->deleted++;
		g->rep->deleted_bytes += e->size;
	}
	return g->go->dry_run ? 0 : push_key(g, e->key, e->key_len);
}

/* An unfinished upload of a heap object or temp (a run killed while it
 * sent one) begun before the grace: no live run can own it, since gc
 * holds the exclusive lock and the grace covers a run that died holding
 * its lock. Kept as "key\0upload id" for the sweep. */
static int upload_cb(void *arg, const struct objstore_upload *u)
{
	struct gc_run *g = arg;
	size_t idlen = strlen(u->upload_id);
	struct objid id;
	char *both;

	if (!heap_key_kind(u->key, u->key_len, &id))
		return 0;
	/* an unknown start is never old enough */
	if (u->initiated <= 0 || u->initiated >= g->cutoff_s)
		return 0;
	if (g->go->dry_run) {
		g->rep->uploads_aborted++;   /* would be */
		return 0;
	}
	both = malloc(u->key_len + idlen + 2);
	if (both) {
		memcpy(both, u->key, u->key_len);
		both[u->key_len] = '\0';
		memcpy(both + u->key_len + 1, u->upload_id, idlen + 1);
	}
	return push_owned(g, both);
}

/* Abort the unfinished uploads the heap's store lists (S3; a store with
 * none to list, Azure, drops them itself). Only an interruption fails
 * gc here: the objects are deleted by now, and uploads that cannot be
 * listed or aborted (a policy without s3:ListBucketMultipartUploads or
 * s3:AbortMultipartUpload) stay for the next gc, said in a WARNING. */
static int sweep_uploads(struct gc_run *g, struct objstore *os,
			 struct errbuf *eb)
{
	struct errbuf local = ERRBUF_INIT;
	size_t i;
	int rc;

	for (i = 0; i < g->nkeys; i++)
		free(g->keys[i]);
	g->nkeys = 0;
	rc = objstore_list_uploads(os, upload_cb, g, &local);
	if (rc == -EOPNOTSUPP) {
		/* Azure (none to list) says nothing; an S3 server that
		 * cannot list them (s3rver: NotImplemented) is said */
		if (local.code)
			log_info(g->log, "unfinished uploads not looked for: "
				 "%s", local.msg);
		return 0;
	}
	if (rc < 0) {
		log_warn(g->log, "unfinished uploads under '%s' not aborted: "
			 "%s", g->o->heap_root, local.code ? local.msg :
			 strerror(-rc));
		return 0;
	}
	for (i = 0; i < g->nkeys; i++) {
		const char *key = g->keys[i];

		if (interrupted(g->o))
			return errbuf_set(eb, -EINTR, "interrupted");
		errbuf_clear(&local);
		rc = objstore_abort_upload(os, key, key + strlen(key) + 1,
					   &local);
		if (rc < 0) {
			log_warn(g->log, "%s (it stays for the next gc)",
				 local.msg);
			continue;
		}
		g->rep->uploads_aborted++;
	}
	return 0;
}

static int sweep_remote(struct gc_run *g, struct errbuf *eb)
{
	struct objstore_config cfg;
	struct objstore *os = NULL;
	bool stamp;
	size_t i;
	int rc;

	engine_objstore_config(g->o, &cfg);
	rc = objstore_open(g->o->heap_root, g->o->heap_storage_options, &cfg,
			   &os, eb);
	if (rc < 0)
		return rc;
	rc = objstore_list(os, "", remote_cb, g, eb);
	if (rc == -ENOMEM && !eb->code)
		errbuf_set(eb, rc, "out of memory");
	/* before the first deletion of an object: a new gc id, so that no
	 * heap cache saved before (on any host) is taken (heap_cache.h) */
	stamp = rc >= 0 && !g->go->dry_run && g->rep->deleted;
	if (stamp) {
		rc = heap_gc_stamp_write(os, clock_now_ns(), eb);
		if (rc < 0) {
			errbuf_wrap(eb, rc, "nothing deleted: cannot write "
				    "'%s/%s'", g->o->heap_root,
				    HEAP_GC_STAMP_KEY);
			stamp = false;
		}
	}
	for (i = 0; rc >= 0 && i < g->nkeys; i += GC_DELETE_BATCH) {
		size_t n = g->nkeys - i < GC_DELETE_BATCH ? g->nkeys - i :
			   GC_DELETE_BATCH;

		if (interrupted(g->o)) {
			rc = errbuf_set(eb, -EINTR, "interrupted");
			break;
		}
		rc = objstore_del_many(os, (const char *const *)g->keys + i, n,
				       eb);
	}
	/* and after the last (done or failed): a writer without a lock
	 * (or stopped past the expiry) that read the first id while
	 * objects were being deleted saved a cache that may list them */
	if (stamp) {
		struct errbuf local = ERRBUF_INIT;
		int sret = heap_gc_stamp_write(os, clock_now_ns(), &local);

		if (sret < 0 && rc >= 0)
			rc = errbuf_set(eb, sret, "objects deleted, but "
					"'%s/%s' cannot be written again: a "
					"heap cache saved meanwhile may be "
					"taken: %s", g->o->heap_root,
					HEAP_GC_STAMP_KEY, local.msg);
		else if (sret < 0)
			log_warn(g->log, "cannot write '%s/%s' again: %s",
				 g->o->heap_root, HEAP_GC_STAMP_KEY,
				 local.msg);
	}
	if (rc >= 0)
		rc = sweep_uploads(g, os, eb);
	objstore_free(os);
	return rc < 0 ? rc : 0;
}

int engine_gc(const struct engine_opts *o, const struct gc_opts *go,
	      struct gc_report *rep, struct errbuf *eb)
{
	struct gc_run g;
	struct logger log;
	struct lock *lk = NULL;
	int64_t grace_s;
	size_t i;
	int rc;

	if (!o || !go || !rep || !o->heap_root || !o->snap_root)
		return errbuf_set(eb, -EINVAL, "gc needs --heap-root and "
				  "--snap-root");
	memset(rep, 0, sizeof(*rep));
	memset(&g, 0, sizeof(g));
	log = o->log;
	g.o = o;
	g.go = go;
	g.rep = rep;
	g.log = &log;
	grace_s = go->grace_s >= 0 ? go->grace_s :
		  (o->lock_expiry_s ? o->lock_expiry_s : LOCK_EXPIRY_DEFAULT_S);
	/* the lock first, then the clock: an object written before a
	 * backup that finished before we locked is referenced by its
	 * snapshot; one of a backup that died is old enough */
	if (!go->dry_run) {
		rc = lock_acquire(o, LOCK_EXCLUSIVE, "gc", &lk, eb);
		if (rc < 0)
			return rc;
	}
	g.cutoff_s = clock_now_ns() / 1000000000LL - grace_s;
	if (idset_new(1 << 16, &g.marked) || idset_new(1 << 16, &g.seen)) {
		rc = errbuf_set(eb, -ENOMEM, "out of memory");
		goto out;
	}
	rc = mark(&g, eb);
	if (rc < 0)
		goto out;
	/* a gc stopped past the lock expiry during the mark may now race
	 * a backup that took over: sweep nothing then */
	if (!go->dry_run && (rc = lock_check(lk, eb)) < 0)
		goto out;
	if (objstore_is_url(o->heap_root))
		rc = sweep_remote(&g, eb);
	else
		rc = sweep_local(&g, eb);
	if (rc >= 0)
		rc = sweep_snap_temps(&g, eb);
	if (rc < 0)
		goto out;
	{
		struct objid *ids = NULL;
		size_t n = 0;

		if (idset_export_sorted(g.marked, &ids, &n) == 0) {
			for (i = 0; i < n; i++)
				if (!idset_has(g.seen, &ids[i]))
					rep->missing++;
			free(ids);
		}
	}
	rc = 0;
out:
	/* a heap cache file lists what the heap held: after deletions it
	 * would claim objects that are gone, and a later backup would name
	 * them without storing them. Also when the sweep failed: some of
	 * its deletions (rep->deleted counts those asked for) may have been
	 * made. */
	if (!go->dry_run && rep->deleted && o->heap_cache_file &&
	    unlink(o->heap_cache_file) && errno != ENOENT)
		log_warn(&log, "cannot remove the heap cache file '%s': %s; "
			 "remove it before the next backup",
			 o->heap_cache_file, strerror(errno));
	for (i = 0; i < g.nkeys; i++)
		free(g.keys[i]);
	free(g.keys);
	idset_free(g.marked);
	idset_free(g.seen);
	lock_release(lk);
	return rc;
}
