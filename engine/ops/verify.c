/* verify: check a backup end to end, and repair missing or corrupt heap
 * objects from a tree that still holds their content.
 *
 *   1. inventory of the heap: one listing (local: readdir of the fan-out
 *      directories; remote: one object-store listing) into idsets of the
 *      objects present, noting leftovers on the way;
 *   2. every snapshot read whole; the md5 of every file entry goes into
 *      the referenced set, one not present is reported missing once
 *      (naming the first snapshot and file that need it);
 *   3. with read_data, the referenced objects present (or a subset) are
 *      read on -j workers through heap_open_object and MD5-checked;
 *   4. with repair_from, a second pass over the snapshots learns the
 *      sizes of the damaged objects, then the files of that tree with one
 *      of those sizes are hashed and the matching ones written back.
 * Damage is reported, not returned: the run fails (-errno) only when it
 * cannot tell (a store unreachable, a read error that is not damage).
 * Step 4 is verify_repair.c; what both files share, verify_impl.h. */
#include "verify.h"
#include "verify_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "hasher.h"
#include "heap.h"
#include "heap_cache.h"
#include "lock.h"
#include "idset.h"
#include "objstore.h"
#include "snapshot_reader.h"
#include "snapstore.h"
#include "team.h"
#include "banned.h"

#define TMP_PREFIX ".tmp-"

static const char *const kind_names[VERIFY_KIND_COUNT] = {
	"snapshot-corrupt", "object-missing", "object-corrupt", "leftover",
	"repaired", "unrepaired",
};

const char *verify_kind_name(enum verify_kind k)
{
	return (unsigned)k < VERIFY_KIND_COUNT ? kind_names[k] : "?";
}

bool verify_damaged(const struct verify_stats *st)
{
	return st->snapshots_corrupt ||
	       st->objects_missing + st->objects_corrupt > st->repaired;
}

void verify_report(struct verify_run *r, enum verify_kind kind,
		   const char *subject, const char *detail)
{
	pthread_mutex_lock(&r->lock);
	r->vo->report(r->vo->report_arg, kind, subject, detail);
	pthread_mutex_unlock(&r->lock);
}

bool verify_interrupted(const struct verify_run *r)
{
	return r->o->interrupted && *r->o->interrupted;
}

static void leftover(struct verify_run *r, const char *root, const char *rel,
		     const char *what)
{
	size_t len = strlen(root) + strlen(rel) + 2;
	char *path = malloc(len);

	r->st->leftovers++;
	if (path)
		snprintf(path, len, "%s/%s", root, rel);
	verify_report(r, VERIFY_LEFTOVER, path ? path : rel, what);
	free(path);
}

/* An object name found at rel ("ab/<name>"): into the sets. */
static int add_object(struct verify_run *r, const char *root, const char *dir,
		      const char *name, size_t len, bool regular)
{
	struct objid id;
	char rel[4200];
	int kind, ret;

	snprintf(rel, sizeof(rel), "%s/%.*s", dir, (int)len, name);
	if (len > strlen(TMP_PREFIX) && !strncmp(name, TMP_PREFIX,
						 strlen(TMP_PREFIX))) {
		leftover(r, root, rel, "temp file of an interrupted write");
		return 0;
	}
	kind = heap_parse_object_name(name, len, &id);
	if (!kind || !regular || strncmp(name, dir, 2)) {
		leftover(r, root, rel, !kind ? "not a heap object name "
			 "(<md5> or <md5>.gz)" : !regular ? "not a regular "
			 "file" : "object in the wrong directory");
		return 0;
	}
	ret = idset_add(r->present, &id);
	if (ret >= 0 && kind == 1)
		ret = idset_add(r->raw, &id);
	return ret < 0 ? ret : 0;
}

static bool is_fanout(const char *name)
{
	static const char hex[] = "0123456789abcdef";

	return strlen(name) == 2 && strchr(hex, name[0]) &&
	       strchr(hex, name[1]);
}

static bool dirent_is_dir(int dirfd, const struct dirent *d)
{
	struct stat sb;

	if (d->d_type != DT_UNKNOWN)
		return d->d_type == DT_DIR;
	return !fstatat(dirfd, d->d_name, &sb, AT_SYMLINK_NOFOLLOW) &&
	       S_ISDIR(sb.st_mode);
}

/* Every file under rel (the Python tool's heap/temp/): leftovers. */
static int list_py_temp(struct verify_run *r, const char *root,
			const char *rel, struct errbuf *eb)
{
	char path[4200], sub[4200];
	struct dirent *d;
	DIR *dir;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	dir = opendir(path);
	if (!dir)
		return errbuf_set(eb, -errno, "cannot list '%s': %s", path,
				  strerror(errno));
	while (!ret && (d = readdir(dir))) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", rel, d->d_name);
		if (dirent_is_dir(dirfd(dir), d))
			ret = list_py_temp(r, root, sub, eb);
		else
			leftover(r, root, sub, "temp file of the Python tool");
	}
	closedir(dir);
	return ret;
}

static int inventory_local(struct verify_run *r, const char *root,
			   struct errbuf *eb)
{
	struct dirent *d, *f;
	DIR *top, *sub = NULL;
	int ret = 0;

	top = opendir(root);
	if (!top)
		return errbuf_set(eb, -errno, "cannot list heap '%s': %s", root,
				  strerror(errno));
	while (!ret && (d = readdir(top))) {
		bool isdir;
		int fd;

		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		isdir = dirent_is_dir(dirfd(top), d);
		if (isdir && !strcmp(d->d_name, HEAP_PY_TEMP_DIR)) {
			ret = list_py_temp(r, root, d->d_name, eb);
			continue;
		}
		if (!isdir || !is_fanout(d->d_name)) {
			leftover(r, root, d->d_name,
				 !strncmp(d->d_name, TMP_PREFIX,
					  strlen(TMP_PREFIX)) ?
				 "temp file of an interrupted write" :
				 "not part of the heap layout");
			continue;
		}
		fd = openat(dirfd(top), d->d_name, O_RDONLY | O_DIRECTORY |
			    O_CLOEXEC | O_NOFOLLOW);
		sub = fd >= 0 ? fdopendir(fd) : NULL;
		if (!sub) {
			ret = errbuf_set(eb, -errno, "cannot list '%s/%s': %s",
					 root, d->d_name, strerror(errno));
			if (fd >= 0)
				close(fd);
			break;
		}
		while (!ret && (f = readdir(sub))) {
			struct stat sb;
			bool regular;

			if (!strcmp(f->d_name, ".") || !strcmp(f->d_name, ".."))
				continue;
			if (f->d_type != DT_UNKNOWN)
				regular = f->d_type == DT_REG;
			else
				regular = !fstatat(dirfd(sub), f->d_name, &sb,
						   AT_SYMLINK_NOFOLLOW) &&
					  S_ISREG(sb.st_mode);
			ret = add_object(r, root, d->d_name, f->d_name,
					 strlen(f->d_name), regular);
			if (ret < 0)
				ret = errbuf_set(eb, ret, "out of memory");
		}
		closedir(sub);
		sub = NULL;
	}
	closedir(top);
	return ret;
}

struct remote_inv {
	struct verify_run *r;
	int err;
};

static int remote_inv_cb(void *arg, const struct objstore_entry *e)
{
	struct remote_inv *ri = arg;
	struct verify_run *r = ri->r;
	const char *root = objstore_url(r->os);
	char rel[4200], dir[3];
	int ret;

	snprintf(rel, sizeof(rel), "%.*s", (int)e->key_len, e->key);
	snprintf(dir, sizeof(dir), "%.2s", rel);
	if (e->key_len > 3 && rel[2] == '/' && is_fanout(dir) &&
	    !strchr(rel + 3, '/')) {
		ret = add_object(r, root, dir, rel + 3, e->key_len - 3, true);
		if (ret < 0)
			ri->err = ret;
		return ret;
	}
	if (!strncmp(rel, HEAP_PY_TEMP_DIR "/", strlen(HEAP_PY_TEMP_DIR) + 1))
		leftover(r, root, rel, "temp file of the Python tool");
	else if (strcmp(rel, HEAP_GC_STAMP_KEY))   /* gc's: heap_cache.h */
		leftover(r, root, rel, "not part of the heap layout");
	return 0;
}

static int inventory_remote(struct verify_run *r, struct errbuf *eb)
{
	struct objstore_config cfg;
	struct remote_inv ri = { r, 0 };
	int ret;

	engine_objstore_config(r->o, &cfg);
	ret = objstore_open(r->o->heap_root, r->o->heap_storage_options, &cfg,
			    &r->os, eb);
	if (ret < 0)
		return ret;
	ret = objstore_list(r->os, "", remote_inv_cb, &ri, eb);
	if (ri.err)
		return errbuf_set(eb, ri.err, "out of memory");
	if (ret == -ENOENT)
		return errbuf_set(eb, ret, "heap '%s' does not exist",
				  objstore_url(r->os));
	return ret;
}

/* Temp files of interrupted snapshot writes: SNAP_ROOT/YYYY/MM/.tmp-*. */
static void snap_leftovers(struct verify_run *r, const char *root)
{
	char path[4200], rel[4200];
	struct dirent *y, *m, *f;
	DIR *dy, *dm, *df;

	dy = opendir(root);
	if (!dy)
		return;
	while ((y = readdir(dy))) {
		if (strlen(y->d_name) != 4 || y->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, y->d_name);
		dm = opendir(path);
		if (!dm)
			continue;
		while ((m = readdir(dm))) {
			if (strlen(m->d_name) != 2 || m->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s/%s", root,
				 y->d_name, m->d_name);
			df = opendir(path);
			if (!df)
				continue;
			while ((f = readdir(df))) {
				if (strncmp(f->d_name, SNAPSTORE_TMP_PREFIX,
					    strlen(SNAPSTORE_TMP_PREFIX)))
					continue;
				snprintf(rel, sizeof(rel), "%s/%s/%s",
					 y->d_name, m->d_name, f->d_name);
				leftover(r, root, rel, "temp file of an "
					 "interrupted snapshot write");
			}
			closedir(df);
		}
		closedir(dm);
	}
	closedir(dy);
}

/* Step 2 (collect) and 4 (sizes of damaged objects) both walk every
 * snapshot; sizes_only marks the second walk. */
int verify_damaged_cmp(const void *a, const void *b)
{
	return objid_cmp(&((const struct damaged *)a)->id,
			 &((const struct damaged *)b)->id);
}

struct damaged *verify_find_damaged(struct verify_run *r,
				    const struct objid *id)
{
	struct damaged key;

	key.id = *id;
	return bsearch(&key, r->dmg, r->ndmg, sizeof(*r->dmg),
		       verify_damaged_cmp);
}

static int on_file(struct verify_run *r, const char *snap,
		   const struct entry *e, bool sizes_only, struct errbuf *eb)
{
	char hex[OBJID_HEX_LEN + 1], shown[512], detail[1200];
	struct damaged *d;
	int ret;

	if (sizes_only) {
		d = verify_find_damaged(r, &e->md5);
		if (d && !d->has_size) {
			d->size = e->size;
			d->has_size = true;
		}
		return 0;
	}
	r->st->files++;
	ret = idset_add(r->referenced, &e->md5);
	if (ret < 0)
		return errbuf_set(eb, ret, "out of memory");
	if (idset_has(r->present, &e->md5))
		return 0;
	ret = idset_add(r->missing, &e->md5);
	if (ret < 0)
		return errbuf_set(eb, ret, "out of memory");
	if (ret == 0)
		return 0;   /* reported already */
	r->st->objects_missing++;
	objid_to_hex(&e->md5, hex);
	errbuf_quote_name(shown, sizeof(shown), e->name, e->name_len);
	snprintf(detail, sizeof(detail), "missing from the heap, needed by "
		 "'%s' in '%s'", shown, snap);
	verify_report(r, VERIFY_OBJECT_MISSING, hex, detail);
	return 0;
}

int verify_walk_snapshots(struct verify_run *r, bool sizes_only,
			  struct errbuf *eb)
{
	struct snapstore_list list = SNAPSTORE_LIST_INIT;
	size_t i;
	int ret;

	ret = snapstore_list(r->ss, &list, eb);
	if (ret < 0)
		return ret;
	for (i = 0; i < list.n && !ret; i++) {
		struct snapshot_reader *rd = NULL;
		struct errbuf seb = ERRBUF_INIT;
		struct entry e = ENTRY_INIT;
		char *path = snapstore_path(r->ss, list.items[i].relpath);

		if (!path) {
			ret = errbuf_set(eb, -ENOMEM, "out of memory");
			break;
		}
		if (verify_interrupted(r)) {
			ret = errbuf_set(eb, -EINTR, "interrupted");
			free(path);
			break;
		}
		if (!sizes_only)
			r->st->snapshots++;
		ret = snapstore_open_reader(r->ss, path, &rd, &seb);
		while (!ret &&
		       (ret = snapshot_reader_next(rd, &e, &seb)) == 1) {
			ret = e.type == ENTRY_FILE && e.has_md5 ?
			      on_file(r, path, &e, sizes_only, eb) : 0;
			if (!ret && e.has_xattr_ref) {
				/* the heap object of an xattr list: checked
				 * like a content of that size */
				e.md5 = e.xattr_md5;
				e.size = e.xattrs_len;
				ret = on_file(r, path, &e, sizes_only, eb);
			}
			entry_release(&e);
			if (ret < 0) {
				seb = *eb;
				ret = -ENOMEM;
			}
		}
		snapshot_reader_free(rd);
		/* a snapshot that does not decode is damage; a store that
		 * cannot be read (or no memory) means we cannot tell */
		if (snapshot_err_is_damage(ret)) {
			if (!sizes_only) {
				r->st->snapshots_corrupt++;
				verify_report(r, VERIFY_SNAPSHOT_CORRUPT, path,
				       seb.msg);
			}
			ret = 0;
		} else if (ret < 0) {
			*eb = seb;
		}
		free(path);
	}
	snapstore_list_release(&list);
	return ret;
}

/* Step 3: which referenced objects to read. */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static bool in_subset(const struct verify_opts *vo, const struct objid *id,
		      uint64_t salt)
{
	uint64_t x;

	if (vo->subset_m) {
		uint32_t v = (uint32_t)id->b[0] << 24 |
			     (uint32_t)id->b[1] << 16 |
			     (uint32_t)id->b[2] << 8 | id->b[3];

		return v % vo->subset_m == vo->subset_n - 1;
	}
	if (vo->subset_pct > 0) {
		memcpy(&x, id->b, sizeof(x));
		/* top 53 bits as a uniform double in [0, 1) */
		return (double)(mix64(x ^ salt) >> 11) / 9007199254740992.0 <
		       vo->subset_pct / 100.0;
	}
	return true;
}

static void object_shown(struct verify_run *r, const struct objid *id,
			 char *out, size_t cap)
{
	char rel[39];

	if (idset_has(r->raw, id))
		heap_object_path(id, rel);
	else
		heap_object_path_gz(id, rel);
	snprintf(out, cap, "%s/%s", heap_root(r->heap), rel);
}

static void mark_corrupt(struct verify_run *r, const struct objid *id,
			 const char *why)
{
	char shown[4200];

	object_shown(r, id, shown, sizeof(shown));
	pthread_mutex_lock(&r->lock);
	if (idset_add(r->corrupt, id) == 1)
		r->st->objects_corrupt++;
	r->vo->report(r->vo->report_arg, VERIFY_OBJECT_CORRUPT, shown, why);
	pthread_mutex_unlock(&r->lock);
}

/* Read object id to its end and compare its MD5. 0 (damage reported),
 * or -errno when it could not be read for a reason that is not damage. */
static int check_object(struct verify_run *r, struct hasher *h, char *buf,
			const struct objid *id, struct errbuf *eb)
{
	const char *why;
	uint64_t total = 0;
	int ret;

	ret = heap_check_object(r->heap, id, h, buf, READ_BUF, &total, eb);
	if (ret < 0)
		return ret;
	__atomic_add_fetch(&r->st->objects_checked, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&r->st->bytes_checked, total, __ATOMIC_RELAXED);
	if (ret == 0) {
		/* the message names the object already: keep the why */
		why = strstr(eb->msg, "': ");
		why = why ? why + 3 : strstr(eb->msg, ": ");
		why = why && why[0] == ':' ? why + 2 : why;
		mark_corrupt(r, id, why ? why : eb->msg);
		errbuf_clear(eb);
	}
	return 0;
}

static void *reader_main(void *arg)
{
	struct verify_run *r = arg;
	struct errbuf eb = ERRBUF_INIT;
	struct hasher *h = NULL;
	char *buf = malloc(READ_BUF);
	size_t i;
	int ret;

	ret = buf ? 0 : errbuf_set(&eb, -ENOMEM, "out of memory");
	if (!ret)
		ret = hasher_new(&h, &eb);
	while (!ret) {
		i = __atomic_fetch_add(&r->next, 1, __ATOMIC_RELAXED);
		if (i >= r->ntodo)
			break;
		if (verify_interrupted(r)) {
			ret = errbuf_set(&eb, -EINTR, "interrupted");
			break;
		}
		if (run_error_failed(&r->err))
			break;
		ret = check_object(r, h, buf, &r->todo[i], &eb);
	}
	if (ret < 0)
		run_error_set(&r->err, &eb, ret);
	hasher_free(h);
	free(buf);
	return NULL;
}

static int read_data(struct verify_run *r, struct errbuf *eb)
{
	struct objid *ids = NULL;
	/* a heap in an object store: each reader waits on a download */
	unsigned jobs = engine_workers(r->o, objstore_is_url(r->o->heap_root));
	uint64_t salt = 0;
	size_t n = 0, k;
	int ret;

	ret = idset_export_sorted(r->referenced, &ids, &n);
	if (ret < 0)
		return errbuf_set(eb, ret, "out of memory");
	if (r->vo->subset_pct > 0 &&
	    getrandom(&salt, sizeof(salt), 0) != sizeof(salt))
		salt = (uint64_t)clock_now_ns();
	for (k = 0; k < n; k++) {
		if (idset_has(r->present, &ids[k]) &&
		    in_subset(r->vo, &ids[k], salt))
			ids[r->ntodo++] = ids[k];
	}
	r->todo = ids;
	if (!r->ntodo)
		return 0;
	if (jobs > r->ntodo)
		jobs = (unsigned)r->ntodo;
	log_debug(&r->o->log, "verify: %u reader%s", jobs,
		  jobs == 1 ? "" : "s");
	team_run(jobs, reader_main, r);
	return run_error_take(&r->err, eb);
}

/* The id sets the checks fill: present (and raw) from the heap's
 * inventory, referenced from the snapshots, missing and corrupt found. */
static int new_sets(struct verify_run *r, struct errbuf *eb)
{
	int ret = idset_new(0, &r->present);

	if (!ret)
		ret = idset_new(0, &r->raw);
	if (!ret)
		ret = idset_new(0, &r->referenced);
	if (!ret)
		ret = idset_new(0, &r->missing);
	if (!ret)
		ret = idset_new(0, &r->corrupt);
	return ret < 0 ? errbuf_set(eb, ret, "out of memory") : 0;
}

/* Unreferenced: present objects no snapshot names. */
static int count_unreferenced(struct verify_run *r, struct errbuf *eb)
{
	struct objid *ids = NULL;
	uint64_t both = 0;
	size_t n = 0, k;
	int ret;

	ret = idset_export_sorted(r->present, &ids, &n);
	if (ret < 0)
		return errbuf_set(eb, ret, "out of memory");
	for (k = 0; k < n; k++)
		both += idset_has(r->referenced, &ids[k]);
	free(ids);
	r->st->objects_unreferenced = r->st->objects_present - both;
	return 0;
}

int engine_verify(const struct engine_opts *o, const struct verify_opts *vo,
		  struct verify_stats *st, struct errbuf *eb)
{
	struct verify_run r;
	struct lock *lk = NULL;
	double t0 = clock_mono_s();
	int ret;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.vo = vo;
	r.st = st;
	pthread_mutex_init(&r.lock, NULL);
	run_error_init(&r.err);
	if (!o->heap_root || !o->snap_root || !vo->report) {
		ret = errbuf_set(eb, -EINVAL, "verify needs --heap-root and "
				 "--snap-root");
		goto out;
	}
	if (vo->repair_from && objstore_is_url(vo->repair_from)) {
		ret = errbuf_set(eb, -EINVAL, "cannot repair from '%s': give "
				 "a local directory", vo->repair_from);
		goto out;
	}
	/* a repair writes heap objects: a shared lock, as a backup, so that
	 * gc does not run meanwhile (LOCKING.md); a check writes nothing */
	if (vo->repair_from) {
		ret = lock_acquire(o, LOCK_SHARED, "verify --repair-from", &lk,
				   eb);
		if (ret < 0)
			goto out;
	}
	ret = new_sets(&r, eb);
	if (ret < 0)
		goto out;
	ret = objstore_is_url(o->heap_root) ? inventory_remote(&r, eb) :
	      inventory_local(&r, o->heap_root, eb);
	if (ret < 0)
		goto out;
	st->objects_present = idset_count(r.present);
	ret = snapstore_open(o->snap_root, o->snap_storage_options, o, &r.ss,
			     eb);
	if (ret < 0)
		goto out;
	if (!snapstore_is_remote(r.ss))
		snap_leftovers(&r, o->snap_root);
	ret = verify_walk_snapshots(&r, false, eb);
	if (ret < 0)
		goto out;
	/* nothing to check the heap against: most likely the wrong
	 * SNAP_ROOT, which "no damage found" would hide from a monitoring
	 * script (gc refuses the same case) */
	if (!st->snapshots && st->objects_present) {
		ret = errbuf_set(eb, -ENOENT, "no snapshot in '%s' while the "
				 "heap '%s' holds %llu objects: nothing to "
				 "verify them against (wrong --snap-root?)",
				 o->snap_root, o->heap_root,
				 (unsigned long long)st->objects_present);
		goto out;
	}
	st->objects_referenced = idset_count(r.referenced);
	if (vo->read_data || vo->repair_from) {
		ret = heap_open_url(o->heap_root, false, o, &r.heap, eb);
		if (ret < 0)
			goto out;
	}
	if (vo->read_data) {
		ret = read_data(&r, eb);
		if (ret < 0)
			goto out;
	}
	if (vo->repair_from) {
		ret = verify_repair(&r, eb);
		if (ret < 0)
			goto out;
	}
	ret = count_unreferenced(&r, eb);
out:
	free(r.todo);
	free(r.dmg);
	free(r.sizes);
	heap_free(r.heap);
	lock_release(lk);     /* after the heap's last write */
	snapstore_free(r.ss);
	objstore_free(r.os);
	idset_free(r.present);
	idset_free(r.raw);
	idset_free(r.referenced);
	idset_free(r.missing);
	idset_free(r.corrupt);
	pthread_mutex_destroy(&r.lock);
	run_error_destroy(&r.err);
	st->seconds = clock_mono_s() - t0;
	return ret;
}
