/* hash_worker_impl: what hash_worker.c (batches, one stream at a time)
 * and stream_hash.c (that one stream: hash_worker_stream_one)
 * and lane_hash.c (large files side by side in the lanes) share. Not a
 * public header. */
#ifndef SNAP_HASH_WORKER_IMPL_H
#define SNAP_HASH_WORKER_IMPL_H

#include "hash_worker.h"
#include "md5mb.h"

struct hasher;
struct heap_verify;

struct hash_worker {
	struct io_ctx *io;
	struct hasher *hasher;
	char *arena;
	struct io_read_job jobs[HASH_BATCH_MAX];
	struct entry *job_items[HASH_BATCH_MAX];
	/* multi-buffer MD5 of a batch (NULL: --md5 openssl) */
	struct md5mb *mb;
	struct md5mb_job mb_jobs[HASH_BATCH_MAX];
	uint8_t digests[HASH_BATCH_MAX][16];
	bool skip_changing;  /* hash_worker_skip_changing */
	struct heap_verify *verify;  /* hash_worker_verify_heap */
	char *vbuf;          /* its read buffer (HASH_CHUNK) */
};

/* Where the content being stored can be read again (--verify-heap
 * repairs): an open fd (a download), or a name under dirfd. */
struct content_src {
	int fd;
	int dirfd;
	const char *name;
};

/* Messages naming root/<file>: "cannot <what> '<root>/<name>': <why>";
 * a heap write failure with the file in front of the heap's message; a
 * file replaced by a directory, fifo or device since the scan. Each
 * returns err (or the code it sets). */
int hash_worker_file_error(struct errbuf *eb, int err, const char *root,
			   const struct entry *e, const char *what);
int hash_worker_store_error(struct errbuf *eb, int err, const char *root,
			    const struct entry *e);
int hash_worker_not_regular(struct errbuf *eb, const char *root,
			    const struct entry *e, uint32_t mode);

/* The metadata of what was read, into e (size, times, ino, owner, mode). */
void hash_worker_take_stat(struct entry *e, const struct io_stat *st);

/* Publish e's content (the tx, or buf) and count it. With --verify-heap
 * only the first worker of the run with this content stores it, and an
 * object that was there already is read back. Frees tx in every case.
 * 0, -ESTALE (verify: the file changed, read it again), -errno with the
 * file named. */
int hash_worker_store_content(struct hash_worker *w, struct heap *heap,
			      struct heap_tx *tx, const void *buf,
			      uint64_t len, const struct content_src *src,
			      const char *root, struct entry *e,
			      struct run_stats *stats, struct errbuf *eb);

/* One local file through one OpenSSL stream (sparse files by their data
 * extents), read again while it changes under us; the contract of
 * hash_worker_run for a single file. */
int hash_worker_stream_one(struct hash_worker *w, int rootfd,
			   const char *root, struct entry *e,
			   struct heap *heap, struct run_stats *stats,
			   struct errbuf *eb);

#endif
