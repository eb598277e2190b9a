/* stream_hash: hash_worker_stream_one, one local file through one
 * OpenSSL stream: the large files of a worker without lanes, files whose
 * name is too long to open from the root, small ones that changed after
 * their batch read them; sparse files by their data extents, their holes
 * hashed as zeros. A file is read again while it changes under us. */
#include "hash_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash_worker_impl.h"
#include "hasher.h"
#include "progress.h"
#include "relpath.h"
#include "fdio.h"
#include "banned.h"

#define CHANGE_RETRIES 3

static int hash_streamed_at(struct hash_worker *w, int dirfd, const char *name,
			    const char *root, struct entry *e,
			    struct heap *heap, struct run_stats *stats,
			    struct errbuf *eb);

static int hash_sparse_at(struct hash_worker *w, int dirfd, const char *name,
			  const char *root, struct entry *e,
			  struct heap *heap, struct run_stats *stats,
			  struct errbuf *eb);

/* Stream one file: fstat before, hash (+ heap temp) every chunk, fstat
 * after; retry while the file changes under us. */
int hash_worker_stream_one(struct hash_worker *w, int rootfd, const char *root,
			   struct entry *e, struct heap *heap,
			   struct run_stats *stats, struct errbuf *eb)
{
	int ret;

	const char *name = e->name;
	int dirfd = rootfd, parent = -1;

	if (e->name_len >= RELPATH_DIRECT_MAX) {
		/* longer than PATH_MAX: open from its own directory */
		parent = relpath_open_parent(rootfd, e->name, e->name_len,
					     &name);
		if (parent < 0)
			return hash_worker_file_error(eb, parent, root, e,
						      "read");
		dirfd = parent;
	}
	ret = e->sparse ?
	      hash_sparse_at(w, dirfd, name, root, e, heap, stats, eb) :
	      hash_streamed_at(w, dirfd, name, root, e, heap, stats, eb);
	if (parent >= 0)
		close(parent);
	return ret;
}

/* The end of a read during which the file held still: its digest and
 * stat into e, its content stored under the digest (tx, which this takes:
 * stored or aborted), the count. 0 done, 1 read it again (--verify-heap:
 * it changed before the repair), or -errno (eb). The streamed and the
 * sparse path end alike. */
static int finish_file(struct hash_worker *w, int dirfd, const char *name,
		       const char *root, struct entry *e, struct heap *heap,
		       struct heap_tx *tx, uint64_t total,
		       const struct io_stat *after, struct run_stats *stats,
		       struct errbuf *eb)
{
	int ret;

	ret = hasher_final(w->hasher, &e->md5, eb);
	if (ret < 0) {
		heap_tx_abort(tx);
		return ret;
	}
	e->has_md5 = true;
	hash_worker_take_stat(e, after);
	if (tx) {
		struct content_src src = { -1, dirfd, name };

		ret = hash_worker_store_content(w, heap, tx, NULL, total, &src,
						root, e, stats, eb);
		if (ret == -ESTALE) {
			/* --verify-heap: changed before the repair */
			errbuf_clear(eb);
			e->has_md5 = false;
			return 1;
		}
		if (ret < 0)
			return ret;
	}
	stat_add(&stats->files_hashed, 1);
	return 0;
}

/* A pass that failed (tx, which this takes, aborted): a store error
 * keeps the heap's own message, a read error names the file. The
 * streamed and the sparse path fail alike. */
static int pass_failed(struct heap_tx *tx, int ret, bool read_failed,
		       const char *root, const struct entry *e,
		       struct errbuf *eb)
{
	heap_tx_abort(tx);
	/* a full heap is no read error of the file: keep the heap's own
	 * message ("cannot write '<heap temp>'") */
	if (!read_failed)
		return hash_worker_store_error(eb, ret, root, e);
	/* name the root too, as every other message does */
	errbuf_clear(eb);
	return hash_worker_file_error(eb, ret, root, e, "read");
}

/* Every read saw the file change: with --skip-changing the writer leaves
 * it out (no state of it was read), else the run fails naming it. */
static int kept_changing(const struct hash_worker *w, const char *root,
			 struct entry *e, struct errbuf *eb)
{
	if (w->skip_changing) {
		e->has_md5 = false;
		e->changing = true;
		return 0;
	}
	return hash_worker_file_error(eb, -EAGAIN, root, e,
				      "hash (it kept changing while being read)");
}

/* One pass over an open stream: every chunk hashed (and written to tx).
 * *total gets the bytes read. 0 at its end, -errno with *read_failed
 * telling a read error from a store error. */
static int stream_pass(struct hash_worker *w, struct io_stream *s,
		       struct heap_tx *tx, struct run_stats *stats,
		       uint64_t *total, bool *read_failed, struct errbuf *eb)
{
	const void *data;
	size_t len;
	int ret = 0;

	while (!ret) {
		ret = io_stream_next(s, &data, &len, eb);
		*read_failed = ret < 0;
		if (ret != 1)
			break;
		*total += len;
		stat_add(&stats->bytes_read, len);
		ret = hasher_update(w->hasher, data, len, eb);
		if (!ret && tx)
			ret = heap_tx_write(tx, data, len, eb);
	}
	return ret;
}

static int hash_streamed_at(struct hash_worker *w, int dirfd, const char *name,
			    const char *root, struct entry *e,
			    struct heap *heap, struct run_stats *stats,
			    struct errbuf *eb)
{
	int attempt, ret = 0;

	for (attempt = 0; attempt < CHANGE_RETRIES; attempt++) {
		struct io_stream *s = NULL;
		struct heap_tx *tx = NULL;
		struct io_stat before, after;
		uint64_t total = 0;
		bool read_failed = false;

		ret = io_stream_open(w->io, dirfd, name, HASH_CHUNK, 4, &s, eb);
		if (ret == -ENOENT) {
			errbuf_clear(eb);
			e->has_md5 = false;  /* vanished: left out */
			return 0;
		}
		if (ret < 0) {
			errbuf_clear(eb);
			return hash_worker_file_error(eb, ret, root, e, "read");
		}
		ret = io_stream_stat(s, &before);
		read_failed = ret < 0;
		if (!ret && !S_ISREG(before.mode)) {
			io_stream_close(s);
			return hash_worker_not_regular(eb, root, e,
						       before.mode);
		}
		if (!ret)
			ret = hasher_begin(w->hasher, eb);
		if (!ret && heap)
			ret = heap_tx_begin(heap, &tx, eb);
		if (!ret)
			ret = stream_pass(w, s, tx, stats, &total,
					  &read_failed, eb);
		if (ret < 0) {
			io_stream_close(s);
			return pass_failed(tx, ret, read_failed, root, e, eb);
		}
		ret = io_stream_stat(s, &after);
		io_stream_close(s);
		if (ret < 0) {
			heap_tx_abort(tx);
			return hash_worker_file_error(eb, ret, root, e, "stat");
		}
		if (before.size != after.size || before.mtime_ns != after.mtime_ns ||
		    total != after.size) {
			/* changed while read: the bytes may not match any
			 * state of the file, so read it again */
			heap_tx_abort(tx);
			continue;
		}
		ret = finish_file(w, dirfd, name, root, e, heap, tx, total,
				  &after, stats, eb);
		if (ret != 1)
			return ret;
	}
	return kept_changing(w, root, e, eb);
}

/* Zeros standing for a hole: hashed and stored, never read from disk */
static const char hole_zeros[64 * 1024];

/* Hash (and store) len bytes of zeros. */
static int feed_zeros(struct hash_worker *w, struct heap_tx *tx,
		      uint64_t len, struct errbuf *eb)
{
	int ret = 0;

	while (!ret && len) {
		size_t n = len > sizeof(hole_zeros) ? sizeof(hole_zeros) :
			   (size_t)len;

		ret = hasher_update(w->hasher, hole_zeros, n, eb);
		if (!ret && tx)
			ret = heap_tx_write(tx, hole_zeros, n, eb);
		len -= n;
	}
	return ret;
}

/* One pass over a sparse file: data extents (SEEK_DATA/SEEK_HOLE) are
 * read, holes hashed as zeros. *total gets the logical bytes covered.
 * -errno with *read_failed telling a read error from a store error. */
static int sparse_pass(struct hash_worker *w, int fd, uint64_t size,
		       struct heap_tx *tx, struct run_stats *stats,
		       uint64_t *total, bool *read_failed, struct errbuf *eb)
{
	uint64_t pos = 0;
	int ret = 0;

	while (!ret && pos < size) {
		off_t data = lseek(fd, (off_t)pos, SEEK_DATA), hole;

		if (data < 0 && errno != ENXIO) {
			*read_failed = true;
			return -errno;
		}
		if (data < 0 || (uint64_t)data > size)
			data = (off_t)size;   /* a hole up to the end */
		ret = feed_zeros(w, tx, (uint64_t)data - pos, eb);
		pos = (uint64_t)data;
		if (ret || pos >= size)
			break;
		hole = lseek(fd, (off_t)pos, SEEK_HOLE);
		if (hole < 0) {
			*read_failed = true;
			return -errno;
		}
		if ((uint64_t)hole > size)
			hole = (off_t)size;
		while (!ret && pos < (uint64_t)hole) {
			uint64_t want = (uint64_t)hole - pos;
			ssize_t n = fdio_pread(fd, w->arena, want > HASH_CHUNK ?
					       HASH_CHUNK : (size_t)want, pos);

			if (n < 0) {
				*read_failed = true;
				return (int)n;
			}
			if (n == 0) {
				/* shrank: the caller sees the size change */
				*total = pos;
				return 0;
			}
			stat_add(&stats->bytes_read, (uint64_t)n);
			ret = hasher_update(w->hasher, w->arena, (size_t)n, eb);
			if (!ret && tx)
				ret = heap_tx_write(tx, w->arena, (size_t)n, eb);
			pos += (uint64_t)n;
		}
	}
	*total = pos;
	return ret;
}

/* A file the scan found sparse (entry.sparse): only its data is read,
 * its holes are hashed (and stored: the heap object stays dense) as the
 * zeros they read as. Retried while the file changes, as streamed. */
static int hash_sparse_at(struct hash_worker *w, int dirfd, const char *name,
			  const char *root, struct entry *e,
			  struct heap *heap, struct run_stats *stats,
			  struct errbuf *eb)
{
	int attempt, fd, ret = 0;

	for (attempt = 0; attempt < CHANGE_RETRIES; attempt++) {
		struct heap_tx *tx = NULL;
		struct stat before, after;
		struct io_stat ios;
		uint64_t total = 0;
		bool read_failed = false;

		fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
			    O_CLOEXEC);
		if (fd < 0 && errno == ENOENT) {
			e->has_md5 = false;  /* vanished: left out */
			return 0;
		}
		if (fd < 0)
			return hash_worker_file_error(eb, -errno, root, e,
						      "read");
		if (fstat(fd, &before)) {
			ret = -errno;
			close(fd);
			return hash_worker_file_error(eb, ret, root, e, "read");
		}
		if (!S_ISREG(before.st_mode)) {
			close(fd);
			return hash_worker_not_regular(eb, root, e,
						       before.st_mode);
		}
		ret = hasher_begin(w->hasher, eb);
		if (!ret && heap)
			ret = heap_tx_begin(heap, &tx, eb);
		if (!ret)
			ret = sparse_pass(w, fd, (uint64_t)before.st_size, tx,
					  stats, &total, &read_failed, eb);
		if (!ret && fstat(fd, &after)) {
			ret = -errno;
			read_failed = true;
		}
		close(fd);
		if (ret < 0)
			return pass_failed(tx, ret, read_failed, root, e, eb);
		if (fdio_stat_changed(&before, &after) ||
		    total != (uint64_t)after.st_size) {
			heap_tx_abort(tx);
			continue;
		}
		io_stat_from_stat(&ios, &after);
		ret = finish_file(w, dirfd, name, root, e, heap, tx, total,
				  &ios, stats, eb);
		if (ret != 1)
			return ret;
	}
	return kept_changing(w, root, e, eb);
}
