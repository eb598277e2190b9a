/* verify_repair: verify's step 4 (see verify.c): the damaged objects
 * collected with their sizes from the snapshots, then the files of the
 * repair tree of one of those sizes hashed and, when one matches, its
 * content written back to the heap (checked as it is copied). */
#include "verify_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "hasher.h"
#include "heap.h"
#include "idset.h"
#include "banned.h"

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int collect_damaged(struct verify_run *r, struct errbuf *eb)
{
	struct objid *ids = NULL;
	size_t n = 0, k, j;
	int ret;

	r->ndmg = idset_count(r->missing) + idset_count(r->corrupt);
	if (!r->ndmg)
		return 0;
	r->dmg = calloc(r->ndmg, sizeof(*r->dmg));
	if (!r->dmg)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	r->ndmg = 0;
	ret = idset_export_sorted(r->missing, &ids, &n);
	for (k = 0; !ret && k < n; k++)
		r->dmg[r->ndmg++].id = ids[k];
	free(ids);
	ids = NULL;
	if (!ret)
		ret = idset_export_sorted(r->corrupt, &ids, &n);
	for (k = 0; !ret && k < n; k++) {
		r->dmg[r->ndmg].id = ids[k];
		r->dmg[r->ndmg++].corrupt = true;
	}
	free(ids);
	if (ret < 0)
		return errbuf_set(eb, ret, "out of memory");
	qsort(r->dmg, r->ndmg, sizeof(*r->dmg), verify_damaged_cmp);
	ret = verify_walk_snapshots(r, true, eb);
	if (ret < 0)
		return ret;
	r->sizes = calloc(r->ndmg, sizeof(*r->sizes));
	if (!r->sizes)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	for (k = 0; k < r->ndmg; k++)
		if (r->dmg[k].has_size)
			r->sizes[r->nsizes++] = r->dmg[k].size;
	qsort(r->sizes, r->nsizes, sizeof(*r->sizes), u64_cmp);
	for (k = 0, j = 0; k < r->nsizes; k++)
		if (!j || r->sizes[j - 1] != r->sizes[k])
			r->sizes[j++] = r->sizes[k];
	r->nsizes = j;
	return 0;
}

/* MD5 of fd from its current offset to its end; with tx, the bytes are
 * stored in it too. */
static int hash_fd(struct hasher *h, char *buf, int fd, const char *path,
		   struct heap_tx *tx, struct objid *out, struct errbuf *eb)
{
	int ret = hasher_begin(h, eb);

	while (!ret) {
		ssize_t n = fdio_read(fd, buf, READ_BUF);

		if (n < 0)
			return errbuf_set(eb, (int)n, "cannot read '%s': %s",
					  path, strerror((int)-n));
		if (n == 0)
			break;
		ret = hasher_update(h, buf, (size_t)n, eb);
		if (!ret && tx)
			ret = heap_tx_write(tx, buf, (size_t)n, eb);
	}
	if (!ret)
		ret = hasher_final(h, out, eb);
	return ret;
}

/* Copy src (at byte 0) into the sink, hashing it again: the file may
 * have changed since it was matched. 0, -ESTALE when it did, -errno. */
static int copy_checked(struct hasher *h, char *buf, int src,
			const char *path, struct heap_tx *tx,
			const struct objid *want, struct errbuf *eb)
{
	struct objid got;
	int ret;

	if (lseek(src, 0, SEEK_SET) < 0)
		return errbuf_set(eb, -errno, "cannot rewind '%s': %s", path,
				  strerror(errno));
	ret = hash_fd(h, buf, src, path, tx, &got, eb);
	if (!ret && objid_cmp(&got, want))
		ret = errbuf_set(eb, -ESTALE, "'%s' changed while it was "
				 "copied", path);
	return ret;
}

/* A missing object: the heap's own put path. */
static int repair_missing(struct verify_run *r, struct hasher *h, char *buf,
			  int src, const char *path, const struct objid *id,
			  struct errbuf *eb)
{
	struct heap_tx *tx = NULL;
	int ret;

	ret = heap_tx_begin(r->heap, &tx, eb);
	if (ret < 0)
		return ret;
	ret = copy_checked(h, buf, src, path, tx, id, eb);
	if (ret < 0) {
		heap_tx_abort(tx);
		return ret;
	}
	ret = heap_tx_commit(tx, id, eb);
	return ret < 0 ? ret : 0;
}

/* A corrupt object is replaced under its own name and form, never
 * removed first (heap_replace_object); the file is hashed again on the
 * way: one that changed meanwhile gives -ESTALE. */
static int repair_corrupt(struct verify_run *r, struct hasher *h, char *buf,
			  int src, const char *path, const struct objid *id,
			  struct errbuf *eb)
{
	if (lseek(src, 0, SEEK_SET) < 0)
		return errbuf_set(eb, -errno, "cannot rewind '%s': %s", path,
				  strerror(errno));
	return heap_replace_object(r->heap, id, src, path, h, buf, READ_BUF,
				   eb);
}

struct repair_walk {
	struct verify_run *r;
	struct hasher *h;
	char *buf;
	size_t left;               /* damaged objects not yet repaired */
};

static int repair_file(struct repair_walk *w, int dfd, const char *name,
		       const char *path, uint64_t size, struct errbuf *eb)
{
	struct verify_run *r = w->r;
	struct damaged *d;
	struct objid id;
	int fd, ret;

	if (!bsearch(&size, r->sizes, r->nsizes, sizeof(size), u64_cmp))
		return 0;
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;   /* unreadable files just do not help */
	ret = hash_fd(w->h, w->buf, fd, path, NULL, &id, eb);
	if (ret < 0) {
		/* an unreadable file just does not help */
		errbuf_clear(eb);
		ret = 0;
		goto out;
	}
	d = verify_find_damaged(r, &id);
	if (!d || d->repaired)
		goto out;
	ret = d->corrupt ? repair_corrupt(r, w->h, w->buf, fd, path, &id, eb) :
	      repair_missing(r, w->h, w->buf, fd, path, &id, eb);
	if (ret == 0) {
		char hex[OBJID_HEX_LEN + 1], detail[4300];

		d->repaired = true;
		w->left--;
		r->st->repaired++;
		objid_to_hex(&id, hex);
		snprintf(detail, sizeof(detail), "%s object written again "
			 "from '%s'", d->corrupt ? "corrupt" : "missing", path);
		verify_report(r, VERIFY_REPAIRED, hex, detail);
	}
	if (ret == -ESTALE) {
		/* another copy may still turn up */
		errbuf_clear(eb);
		ret = 0;
	}
out:
	close(fd);
	/* a failed write into the heap is an error of the run */
	return ret;
}

static int repair_dir(struct repair_walk *w, int fd, const char *path,
		      struct errbuf *eb)
{
	struct dirent *d;
	DIR *dir;
	int ret = 0;

	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return 0;
	}
	while (!ret && w->left && (d = readdir(dir))) {
		char sub[4200];
		struct stat sb;

		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (verify_interrupted(w->r)) {
			ret = errbuf_set(eb, -EINTR, "interrupted");
			break;
		}
		if (fstatat(dirfd(dir), d->d_name, &sb, AT_SYMLINK_NOFOLLOW))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, d->d_name);
		if (S_ISDIR(sb.st_mode)) {
			int sfd = openat(dirfd(dir), d->d_name, O_RDONLY |
					 O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

			if (sfd >= 0)
				ret = repair_dir(w, sfd, sub, eb);
		} else if (S_ISREG(sb.st_mode)) {
			ret = repair_file(w, dirfd(dir), d->d_name, sub,
					  (uint64_t)sb.st_size, eb);
		}
	}
	closedir(dir);
	return ret;
}

int verify_repair(struct verify_run *r, struct errbuf *eb)
{
	struct repair_walk w = { .r = r };
	char hex[OBJID_HEX_LEN + 1];
	size_t k;
	int fd, ret;

	ret = collect_damaged(r, eb);
	if (ret < 0 || !r->ndmg)
		return ret;
	w.left = r->ndmg;
	w.buf = malloc(READ_BUF);
	if (!w.buf)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	ret = hasher_new(&w.h, eb);
	if (ret < 0)
		goto out;
	fd = open(r->vo->repair_from, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = errbuf_set(eb, -errno, "cannot open '%s': %s",
				 r->vo->repair_from, strerror(errno));
		goto out;
	}
	ret = repair_dir(&w, fd, r->vo->repair_from, eb);
	if (!ret)
		ret = heap_sync(r->heap, eb);
	if (ret < 0)
		goto out;
	for (k = 0; k < r->ndmg; k++) {
		if (r->dmg[k].repaired)
			continue;
		r->st->unrepaired++;
		objid_to_hex(&r->dmg[k].id, hex);
		verify_report(r, VERIFY_UNREPAIRED, hex, r->dmg[k].has_size ?
		       "no file with this content in the repair tree" :
		       "no snapshot gives its size");
	}
out:
	hasher_free(w.h);
	free(w.buf);
	return ret;
}
