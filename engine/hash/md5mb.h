/* md5mb: multi-buffer MD5. Independent messages (files) are hashed side
 * by side, one per 32-bit lane of a vector register (AVX2: 2 x 8 lanes,
 * AVX-512: 2 x 16), so one core hashes many files at several times the speed
 * of one OpenSSL MD5 stream. Used by the hash stage for batches of small
 * files; every digest is bit for bit the MD5 of RFC 1321 (tests compare
 * with OpenSSL EVP).
 *
 * Model (after ISA-L's md5_mb): the caller owns struct md5mb_job, one per
 * message in flight, and hands the manager segments of the message with
 * md5mb_submit. The manager gives each job a lane; lanes advance 64-byte
 * blocks together. A job comes back (md5mb_poll / md5mb_flush) when its
 * segment is consumed: with last set its digest is ready, otherwise the
 * caller submits the next segment. A lane whose job is done takes the next
 * queued job without stalling the others. One manager per thread. */
#ifndef SNAP_MD5MB_H
#define SNAP_MD5MB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"

enum md5mb_kernel {
	MD5MB_AUTO = 0,    /* the widest the CPU has */
	MD5MB_SCALAR,      /* 1 lane, portable C (every build) */
	MD5MB_AVX2,        /* 2 x 8 lanes */
	MD5MB_AVX512,      /* 2 x 16 lanes */
};

struct md5mb;

/* One message being hashed: caller storage, md5mb_job_init before its
 * first segment. Between md5mb_submit and the job coming back it belongs
 * to the manager (not moved, not freed, data not changed). */
struct md5mb_job {
	/* set by the caller before each md5mb_submit */
	const void *data;   /* the segment; borrowed until the job is back */
	size_t len;         /* any length, 0 included */
	bool last;          /* the segment ends the message */
	void *user;         /* the caller's, untouched */
	/* set when the job comes back from its last segment */
	uint8_t digest[16];
	/* private to md5mb */
	struct md5mb_job *next;
	uint32_t h[4];
	uint64_t total;
	unsigned tail_len, nreg, reg;
	struct {
		const uint8_t *p;
		size_t blocks;
	} regs[3];
	uint8_t tail[64];   /* bytes short of a block between segments */
	uint8_t blk[192];   /* 1 block that joins tail and segment, then the
			     * 1-2 blocks of the tail and padding */
};

/* Start a new message in j (also to reuse j after its last segment). */
void md5mb_job_init(struct md5mb_job *j);

/* Kernel names ("scalar", "avx2", "avx512", "auto") and back; parse
 * returns -EINVAL for an unknown name. */
const char *md5mb_kernel_name(enum md5mb_kernel k);
int md5mb_kernel_parse(const char *name, enum md5mb_kernel *out);
/* Whether this build and this CPU can run k (AUTO and SCALAR: always). */
bool md5mb_kernel_supported(enum md5mb_kernel k);
/* The widest supported kernel (what AUTO resolves to). */
enum md5mb_kernel md5mb_kernel_best(void);

/* A manager running kernel k (AUTO: md5mb_kernel_best). Returns 0, or
 * -ENOTSUP when this CPU or build lacks k, -ENOMEM. */
int md5mb_new(enum md5mb_kernel k, struct md5mb **out, struct errbuf *eb);
/* NULL-safe. Jobs still in flight are dropped (their memory is the
 * caller's). */
void md5mb_free(struct md5mb *m);
/* The kernel it runs (never AUTO) and its lane count. */
enum md5mb_kernel md5mb_kernel_of(const struct md5mb *m);
unsigned md5mb_lanes(const struct md5mb *m);
/* With this many busy lanes or fewer a pass hashes them one by one
 * through OpenSSL instead of a vector pass (measured once per process
 * for each kernel: where lanes start to pay differs between CPUs). The
 * setter is for tests and benches, which cover both paths. */
unsigned md5mb_scalar_upto(const struct md5mb *m);
void md5mb_set_scalar_upto(struct md5mb *m, unsigned n);

/* Hand j's next segment (j->data, j->len, j->last) to the manager. It
 * waits for a lane (or, with less than a block to hash, is done at once)
 * and comes back from md5mb_poll or md5mb_flush. Never fails. */
void md5mb_submit(struct md5mb *m, struct md5mb_job *j);

/* A job whose segment is consumed, or NULL. Hashes only while every lane
 * has a job (the caller is expected to submit more first): NULL means
 * "submit more, or flush". */
struct md5mb_job *md5mb_poll(struct md5mb *m);

/* Like md5mb_poll but hashes with lanes empty too (a few lone jobs go
 * through the scalar kernel): NULL only when no job is in flight. */
struct md5mb_job *md5mb_flush(struct md5mb *m);

/* Whole messages at once: the digest of bufs[i] (lens[i] bytes) into
 * out[i], for i < n. jobs[n] is the caller's scratch. */
void md5mb_digest_many(struct md5mb *m, struct md5mb_job *jobs,
		       const void *const *bufs, const size_t *lens, size_t n,
		       uint8_t (*out)[16]);

#endif
