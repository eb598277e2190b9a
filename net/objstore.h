/* objstore: object storage behind one interface: S3 (s3.c, SigV4 through
 * libcurl) and Azure Blob (azure.c, Shared Key or SAS). An objstore is a
 * bucket/container plus a key prefix; keys given to and returned by these
 * functions are relative to that prefix.
 *
 * Threads: every function below may be called from any number of threads
 * at once; each call blocks its caller until done, but for
 * objstore_put_submit, which hands a put to the network thread and
 * returns. The transfers of all callers run on one network thread
 * (http_multi.h) with at most cfg->transfers in flight; a multipart
 * upload keeps that many parts in flight (a sliding window).
 * Errors: 0 or -errno, with "cannot put 's3://b/p/k': HTTP 403 ..." in eb;
 * secrets never appear in messages. */
#ifndef SNAP_OBJSTORE_H
#define SNAP_OBJSTORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "body.h"
#include "errbuf.h"

struct objstore;
struct http_multi;

/* Is s an object-store URL (scheme "s3://" or "az://")? The one test of
 * the schemes: everything that takes a local path or a store URL asks it. */
bool objstore_is_url(const char *s);

/* url as the store names it: scheme://bucket/prefix, the prefix without
 * leading or trailing '/' ("s3://b//heap/" is "s3://b/heap"), so that two
 * spellings of one place compare equal. 0, -EINVAL (not a store URL, a
 * bad bucket), -ENAMETOOLONG (past OBJSTORE_ROOT_URL_MAX). */
#define OBJSTORE_ROOT_URL_MAX 1400
int objstore_url_canonical(const char *url, char *out, size_t cap);

/* Can a tree at url (s3:// or az://) hold a file named name? The rules
 * every request's key meets (objstore_check_key: UTF-8 on both services,
 * Azure's backslash and trailing dots), without an open store: restore
 * checks a whole snapshot against them before it writes anything. 0, or
 * -EINVAL / -EILSEQ with eb naming the name, the store and why. */
int objstore_check_name(const char *url, const char *name,
			struct errbuf *eb);

struct objstore_config {
	unsigned transfers;            /* in-flight requests */
	unsigned retries;              /* retries of a failed request */
	unsigned retry_base_ms;        /* first backoff, doubled each time */
	unsigned retry_max_ms;
	uint64_t multipart_threshold;  /* larger bodies go in parts */
	uint64_t part_size;
	unsigned list_page_size;       /* max-keys/maxresults, 0: server's */
	long connect_timeout_ms;
	long low_speed_time_s;         /* no progress for this long: fail */
	/* a missing bucket may be created (objstore_bucket_missing); also
	 * the storage option "create_bucket": true */
	bool create_bucket;
	bool verbose;                  /* curl trace on stderr */
	/* borrowed network thread to share between stores; NULL: own one */
	struct http_multi *multi;
	/* or the run's network stage (below): the stores of a run share
	 * one thread, started by the first of them; NULL: own one */
	struct objstore_stage *stage;
};

/* The network stage of a run: every store opened with the same stage
 * shares one network thread (one CURLM, one in-flight cap of
 * cfg.transfers, one pool of connections): the heap, the snapshot store,
 * the lock, the file tree, both sides of sync. It starts with the first
 * store opened on it, with that store's config (a run gives all its
 * stores the same network settings), so a run on local folders starts no
 * thread. Free it after every store opened on it. */
struct objstore_stage;

int objstore_stage_new(struct objstore_stage **out);
void objstore_stage_free(struct objstore_stage *st);

/* Defaults: 16 transfers, 5 retries from 200 ms to 20 s (a timed-out
 * request is tried twice at most: HTTP_TIMEOUT_ATTEMPTS), parts of 16 MiB
 * above 64 MiB, 10 s connect timeout, 20 s stall timeout. */
void objstore_config_defaults(struct objstore_config *c);

/* Object metadata. md5 is known when the store gives it: S3 ETag of a
 * single-part object, Azure Content-MD5, or S3 metadata md5chksum (set on
 * multipart uploads; objmeta.h) or this tool's older hex md5. */
struct objstore_info {
	uint64_t size;
	char etag[128];
	bool has_md5;
	uint8_t md5[16];
	/* the answer says its ETag is no MD5 (SSE-KMS, SSE-C): neither is
	 * an MD5 a listing took from the same object's ETag */
	bool etag_not_md5;
	int64_t last_modified;     /* seconds since the epoch, 0 unknown */
	bool has_mtime;            /* metadata "mtime" (objmeta.h) parsed */
	int64_t mtime_ns;
	unsigned attempts;         /* HTTP attempts of the last request */
	/* objstore_get_file with hash_body, when it came in ranges and the
	 * store gave an MD5 (has_md5) to check them against: the MD5 of the
	 * bytes written to the fd, hashed in order as the ranges landed
	 * (while the others were still on the way) */
	bool has_body_md5;
	uint8_t body_md5[16];
};

struct objstore_put_opts {
	const uint8_t *md5;        /* MD5 of the body if known, else read */
	bool has_mtime;
	int64_t mtime_ns;          /* stored as metadata "mtime" (objmeta.h) */
	/* NULL, or asked once every part of a multipart upload is sent,
	 * before the upload is completed (the moment the object appears):
	 * non-zero when the source may have changed while it was read, so
	 * that the parts may hold different versions of it. Then the upload
	 * is aborted (what the key held before stays) and objstore_put
	 * fails with -ESTALE "changed while being uploaded". A single PUT
	 * has no such moment: its Content-MD5, taken before it is sent,
	 * makes the store refuse bytes that changed meanwhile. */
	int (*changed)(void *arg);
	void *changed_arg;
	/* NULL, or (objstore_put_submit only) a flag read before the PUT is
	 * sent and before each retry: once true, it is not sent and the put
	 * ends with -ECANCELED (http_request.cancel). */
	const atomic_bool *cancel;
};

/* One listed object; strings valid during the callback only. */
struct objstore_entry {
	const char *key;           /* relative to the store's prefix */
	size_t key_len;
	uint64_t size;
	const char *etag;
	bool has_md5;
	uint8_t md5[16];
	int64_t last_modified;     /* seconds since the epoch, 0 unknown */
	/* metadata "mtime" (objmeta.h) when the listing carries it: Azure
	 * (List Blobs with include=metadata); S3 listings never do */
	bool has_mtime;
	int64_t mtime_ns;
};

/* List callback: 0 go on, > 0 stop (list returns 0), < 0 stop with it. */
typedef int (*objstore_list_cb)(void *arg, const struct objstore_entry *e);

/* Open "s3://bucket[/prefix]" or "az://container[/prefix]".
 * storage_options_json (may be NULL) is a JSON object (json_opts.h;
 * nested objects as dotted keys), the s3fs / adlfs option names:
 *   both: create_bucket (true/false: as cfg->create_bucket, which it
 *         can only turn on)
 *   s3: endpoint_url, key, secret, token, region, profile, anon,
 *       username, password, client_kwargs.{endpoint_url, region_name,
 *       aws_access_key_id, aws_secret_access_key, aws_session_token},
 *       config_kwargs.{region_name, s3.addressing_style}
 *   az: connection_string, account_name, account_key, sas_token,
 *       blob_endpoint, account_host, anon
 * Other keys are ignored with a warning on stderr. Options win over the
 * environment, which wins over the AWS shared files:
 *   s3: s3_conf.h (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL,
 *       AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
 *       AWS_REGION, AWS_DEFAULT_REGION, AWS_PROFILE, AWS_DEFAULT_PROFILE,
 *       AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, ~/.aws/credentials
 *       and ~/.aws/config)
 *   az: AZURE_STORAGE_CONNECTION_STRING (also UseDevelopmentStorage=true,
 *       BlobEndpoint=..., SharedAccessSignature=...), or
 *       AZURE_STORAGE_ACCOUNT_NAME / AZURE_STORAGE_ACCOUNT with
 *       AZURE_STORAGE_ACCOUNT_KEY / AZURE_STORAGE_KEY or
 *       AZURE_STORAGE_SAS_TOKEN.
 * cfg may be NULL (defaults). No request is made. Returns 0 or -EINVAL
 * (bad URL, options, missing credentials or profile), -E2BIG, -ENOMEM. */
int objstore_open(const char *url, const char *storage_options_json,
		  const struct objstore_config *cfg, struct objstore **out,
		  struct errbuf *eb);
void objstore_free(struct objstore *os);

/* "s3://bucket/prefix" as opened (no secrets). */
const char *objstore_url(const struct objstore *os);

/* Create the bucket/container; 0 also when it exists already. */
int objstore_create_bucket(struct objstore *os, struct errbuf *eb);

/* A put or list on os returned -ENOENT (the store says the bucket or
 * container does not exist; its message is in eb). When creating it is
 * allowed (create_bucket), create it and return 0 (eb cleared: the caller
 * tries again); otherwise -ENOENT with eb's message followed by ": create
 * it, or pass --create-bucket". */
int objstore_bucket_missing(struct objstore *os, struct errbuf *eb);

/* May a missing bucket be created (cfg or storage option)? */
bool objstore_may_create_bucket(const struct objstore *os);

/* Store src (src->len bytes, sent with Content-MD5; single PUT up to the
 * multipart threshold, else parallel parts / blocks, aborted on failure).
 * src is read on the network thread, possibly more than once (retries).
 * info (may be NULL) gets size, etag, md5. */
int objstore_put(struct objstore *os, const char *key,
		 const struct body_src *src, const struct objstore_put_opts *po,
		 struct objstore_info *info, struct errbuf *eb);

/* Does a body of len bytes go in one PUT (not in parts)? */
bool objstore_put_is_single(const struct objstore *os, uint64_t len);

/* What objstore_put_submit calls once the put has completed (after its
 * retries): err 0, or what objstore_put would have returned, with its
 * message in eb. It runs on the network thread: it must be short, and
 * must not block, submit or wait (http_multi.h). */
typedef void (*objstore_put_done_fn)(void *arg, int err,
				     const struct errbuf *eb);

/* objstore_put without waiting, for a body in memory (BODY_SRC_MEM, or
 * empty) that goes in one PUT (objstore_put_is_single) and whose MD5 is
 * known (po->md5): the request goes to the network stage and the caller
 * goes on; done(arg, ...) is called once when it completes. po is read
 * here only, but for po->cancel, which the network thread reads until
 * done; it and src's bytes must stay valid until done. Blocks only while
 * the stage's queue is full (backpressure). Returns 0 (submitted), or
 * -errno with eb when nothing was submitted (done is not called):
 * -EINVAL (a body this does not take, a bad key), -ENOMEM, -ECANCELED
 * (the stage is stopping). */
int objstore_put_submit(struct objstore *os, const char *key,
			const struct body_src *src,
			const struct objstore_put_opts *po,
			objstore_put_done_fn done, void *arg, struct errbuf *eb);

/* Fetch bytes [off, off+len) (len 0: to the end) into sink. -ENOENT when
 * missing. For a MEM sink the caller frees with body_sink_release. */
int objstore_get(struct objstore *os, const char *key, uint64_t off,
		 uint64_t len, struct body_sink *sink,
		 struct objstore_info *info, struct errbuf *eb);

/* A small object (a lock, a stamp) into buf as text: its bytes and a
 * NUL, so at most cap - 1 of them (a larger one fails: -EFBIG). buf is
 * untouched on failure; -ENOENT when missing. */
int objstore_get_small(struct objstore *os, const char *key, char *buf,
		       size_t cap, struct errbuf *eb);

/* Fetch the whole object key into fd (written at offsets 0..size, the
 * file's length is the caller's). size is what the caller expects (a
 * listing's, a heap object's): above the multipart threshold the object
 * comes as cfg.part_size ranges, cfg.transfers at once (one stream is
 * bound by one connection's window and one server disk), each a 206 of
 * its exact length, all with one ETag. A range from another version of the
 * object fails with -EAGAIN ("changed while being read"); a server that
 * ignores Range, or an object of another size, is fetched again in one
 * GET (the caller checks what it got). Smaller: one GET. info as
 * objstore_get (md5 only where it is the whole object's). hash_body (with
 * info): a download in ranges also hashes what it wrote, in the calling
 * thread as the ranges land (info->body_md5), so a caller checking the
 * bytes need not read them again once the last range is in. */
int objstore_get_file(struct objstore *os, const char *key, int fd,
		      uint64_t size, bool hash_body,
		      struct objstore_info *info, struct errbuf *eb);

/* Metadata; -ENOENT when missing. */
int objstore_head(struct objstore *os, const char *key,
		  struct objstore_info *info, struct errbuf *eb);

/* Every object whose key starts with prefix ("" for all), page by page
 * (continuation token / marker), in key order, cb on the caller's thread. */
int objstore_list(struct objstore *os, const char *prefix,
		  objstore_list_cb cb, void *arg, struct errbuf *eb);

/* objstore_list with pages of at most page_size objects (0: the
 * config's): a caller that stops at the first object asks for a page of
 * 1, not the server's 1,000 (S3) or 5,000 (Azure) rendered for nothing. */
int objstore_list_paged(struct objstore *os, const char *prefix,
			unsigned page_size, objstore_list_cb cb, void *arg,
			struct errbuf *eb);

/* An upload of parts begun and neither completed nor aborted (an S3
 * multipart upload): a run killed while it sent a large object leaves
 * one, invisible in listings, whose parts the store keeps (and bills)
 * until it is aborted. */
struct objstore_upload {
	const char *key;           /* relative to the store's prefix */
	size_t key_len;
	const char *upload_id;
	int64_t initiated;         /* Unix seconds; 0 when unknown */
};

typedef int (*objstore_upload_cb)(void *arg,
				  const struct objstore_upload *u);

/* Every unfinished upload under the store's prefix, page by page (the
 * callback as objstore_list's). -EOPNOTSUPP where the store keeps none
 * to list (Azure drops uncommitted blocks itself after a week). */
int objstore_list_uploads(struct objstore *os, objstore_upload_cb cb,
			  void *arg, struct errbuf *eb);

/* Abort one (its parts are dropped); 0 also when it is gone already. */
int objstore_abort_upload(struct objstore *os, const char *key,
			  const char *upload_id, struct errbuf *eb);

/* Delete; 0 also when missing. */
int objstore_del(struct objstore *os, const char *key, struct errbuf *eb);
/* Delete many (S3 DeleteObjects in batches of 1000; Azure in parallel). */
int objstore_del_many(struct objstore *os, const char *const *keys,
		      size_t n, struct errbuf *eb);

/* Server-side copy within the store. */
int objstore_copy(struct objstore *os, const char *src_key,
		  const char *dst_key, struct errbuf *eb);

/* Server-side copy from another store of the same kind (another prefix or
 * bucket, same service and credentials): nothing passes through this
 * host. if_match (may be NULL): the source's etag as listed (quoted
 * here if it is not; a weak W/ one is no condition); the store refuses
 * (412) if the object changed since. md5 (may be NULL): the
 * source's MD5 as listed; the copy is then checked by a HEAD, since not
 * every store honours the condition (s3rver ignores it; S3: not sent on
 * a multipart ETag, see s3_copy), and is
 * -ESTALE when it holds other content, -ENODATA when the store gives no
 * MD5 for it (SSE-KMS: its ETag is none), -EUCLEAN when the copy was
 * made but the HEAD failed, all three left in place (the caller
 * replaces, checks or removes it); objstore_copy_refused tells a
 * refusal that holds for every copy of the run from one of this object.
 * -EEXIST when the store refused the condition (the source changed
 * since listed: this request copied nothing), or another conflict.
 * -EXDEV when the two stores are of different kinds; any other failure
 * means "copy it yourself". */
int objstore_copy_from(struct objstore *dst, struct objstore *src,
		       const char *src_key, const char *dst_key,
		       const char *if_match, const uint8_t *md5,
		       struct errbuf *eb);

/* Is a server-side copy from src into dst possible: the same backend,
 * endpoint and credentials (another prefix of one bucket, or another
 * bucket)? Worth trying, not certain: the credentials may not read the
 * source's bucket (S3 policies, an Azure SAS for one container). */
bool objstore_same_service(const struct objstore *dst,
			   const struct objstore *src);

/* Does objstore_copy_from's err say that no server-side copy between
 * these stores will do (no read access to the source, copies not
 * supported, copies that cannot be checked: -EACCES, -EOPNOTSUPP,
 * -ENODATA), rather than something about this object (changed or gone
 * since listed, over the store's copy limit, a transient failure)? */
bool objstore_copy_refused(int err);

/* Can a copy whose request failed with objstore_copy_from's err have
 * been made all the same, its answer lost: no answer or a reset
 * (-ECONNRESET), a timeout (-ETIMEDOUT), a 5xx after the request ran
 * (-EIO)? Not a refusal before it ran (429, 503 SlowDown: -EAGAIN). */
bool objstore_copy_may_have_landed(int err);

/* Can copies from src be checked (objstore_copy_from's md5)? A HEAD of
 * key, one of src's objects: -ENODATA (eb) when its answer says its
 * ETag is no MD5 (SSE-KMS, SSE-C: a bucket's default encryption covers
 * all its objects, whose listed ETags are then no MD5s either), 0 when
 * it does not, another -errno when the HEAD failed (nothing learnt: ask
 * again with the next object; eb untouched). */
int objstore_copy_probe(struct objstore *src, const char *key,
			struct errbuf *eb);

/* objstore_copy_probe once for a run's many threads: the first caller
 * asks while the others wait for its answer, which every later call
 * gives at once; a HEAD that failed is asked again by the next call.
 * Returns what objstore_copy_probe does (-ENODATA with its message to
 * every caller). */
struct objstore_etag_probe {
	pthread_mutex_t lock;
	atomic_int known;          /* 0 not yet, 1 MD5s, -1 none */
};
void objstore_etag_probe_init(struct objstore_etag_probe *p);
void objstore_etag_probe_destroy(struct objstore_etag_probe *p);
int objstore_etag_probe(struct objstore_etag_probe *p, struct objstore *src,
			const char *key, struct errbuf *eb);

/* Do listings carry the objects' "mtime" metadata (Azure: yes, S3: no)?
 * Then a HEAD tells no more about it. */
bool objstore_lists_mtime(const struct objstore *os);

/* The network thread's counters (requests, retries, bytes). */
struct http_multi *objstore_multi(struct objstore *os);

#endif
