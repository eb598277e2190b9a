/* engine_opts: what every layer of the engine knows of a run's settings:
 * the options struct the CLI fills (no globals), the enums it uses, and
 * the choices derived from it (object-store settings, the MD5 kernel).
 * The operations themselves are declared in engine.h, above this layer. */
#ifndef SNAP_ENGINE_OPTS_H
#define SNAP_ENGINE_OPTS_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "errbuf.h"
#include "io.h"
#include "log.h"

enum io_mode {
	IO_MODE_AUTO = 0,  /* io_uring when it works, else plain syscalls */
	IO_MODE_URING,     /* io_uring or fail */
	IO_MODE_SYNC,      /* plain system calls */
};

/* How new heap objects are stored. */
enum heap_format {
	HEAP_FORMAT_AUTO = 0, /* gz when the heap holds .gz objects, else raw */
	HEAP_FORMAT_RAW,      /* <md5>: the content as is */
	HEAP_FORMAT_GZ,       /* <md5>.gz: gzip, the Python tool's format */
};

/* Format of the snapshots make-snapshot (and restore's before/after
 * snapshots) write: the format of the latest snapshot in SNAP_ROOT (else
 * msgpack), this tool's msgpack, or the Python tool's jsonl.gz. */
enum snapshot_write_format {
	SNAPSHOT_WRITE_AUTO = 0,
	SNAPSHOT_WRITE_MSGPACK,
	SNAPSHOT_WRITE_JSONL_GZ,
};

/* How file contents are MD5-hashed (--md5): multi-buffer kernels hash
 * many files side by side (engine/hash/md5mb.h), OpenSSL one at a time.
 * AUTO is resolved before a run by engine_md5_resolve. */
enum md5_impl {
	MD5_IMPL_AUTO = 0,
	MD5_IMPL_OPENSSL,
	MD5_IMPL_AVX2,
	MD5_IMPL_AVX512,
};

/* Everything tunable, in one struct (no globals). Zero-initialise, then
 * engine_opts_defaults(). Strings are borrowed from the caller. */
struct engine_opts {
	const char *file_root;
	const char *heap_root;
	const char *snap_root;
	const char *heap_cache_file;
	enum heap_format heap_format;
	const char *file_storage_options;  /* JSON (object stores), may be NULL */
	const char *heap_storage_options;
	const char *snap_storage_options;
	struct logger log;
	enum io_mode io;
	unsigned jobs;          /* hash/copy workers */
	unsigned scan_jobs;     /* directory listing threads */
	/* threads listing an object-store heap at open (0: transfers) */
	unsigned heap_list_jobs;
	unsigned transfers;     /* in-flight network transfers */
	unsigned retries;
	/* object stores: seconds to connect, and seconds without progress
	 * (no answer, a stalled transfer) before a request fails; 0: the
	 * defaults (10 s, 20 s) */
	unsigned connect_timeout_s;
	unsigned io_timeout_s;
	/* object stores: a missing bucket/container is created (a writing
	 * command's --create-bucket) instead of failing the run */
	bool create_bucket;
	bool progress;          /* one-line progress on stderr */
	/* filters: NULL-terminated arrays of glob patterns */
	const char *const *include;
	const char *const *exclude;
	/* make-snapshot, restore-snapshot, sync: neither record nor apply
	 * extended attributes and ACLs */
	bool no_xattrs;
	/* set by a signal handler: stages stop at the next check */
	volatile sig_atomic_t *interrupted;
	/* restore and sync: syncfs the written tree before success */
	bool fsync;
	enum snapshot_write_format snapshot_format;
	enum md5_impl md5;
	/* the repository lock (lock.h): a lock not refreshed for expiry
	 * seconds is stale; 0: the defaults (1800 s, refresh 300 s) */
	unsigned lock_expiry_s;
	unsigned lock_refresh_s;
	/* the run's network stage (objstore.h): every object store the run
	 * opens shares its one network thread and in-flight cap; NULL: each
	 * store starts its own (library callers, tests) */
	struct objstore_stage *net;
};

void engine_opts_defaults(struct engine_opts *o);

/* The CPUs this process may run on (its affinity mask: taskset, cpusets),
 * else those online; at least 1. What the MD5 lanes are sized by: one
 * worker per CPU hashes the large files side by side. */
unsigned engine_usable_cpus(void);

/* The workers of an operation's pool (hash, write or copy): o->jobs, at
 * least 1; when they wait on an object store rather than on the CPU or
 * the disk (wait_on_network: each blocks on one request at a time), at
 * least o->transfers, so that the run keeps that many requests in
 * flight. The one place this policy is written. */
unsigned engine_workers(const struct engine_opts *o, bool wait_on_network);

/* The io.h backend that --io names. */
enum io_backend engine_io_backend(const struct engine_opts *o);

struct objstore_config;
/* The object-store settings of o (NULL: defaults): transfers, retries,
 * timeouts, create_bucket, the run's network stage. */
void engine_objstore_config(const struct engine_opts *o,
			    struct objstore_config *cfg);

/* --md5 names ("auto", "openssl", "avx2", "avx512") and back (-EINVAL). */
const char *engine_md5_name(enum md5_impl m);
int engine_md5_parse(const char *name, enum md5_impl *out);
/* The implementation a run uses for m: AUTO becomes the widest kernel
 * this CPU has (OpenSSL without AVX2); a kernel this CPU or build lacks
 * is -ENOTSUP with the reason in eb. */
int engine_md5_resolve(enum md5_impl m, enum md5_impl *out,
		       struct errbuf *eb);

#endif
