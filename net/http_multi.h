/* http_multi: the network thread. It alone owns a CURLM and its easy
 * handles (libcurl-thread.md); other threads hand it requests through a
 * bounded queue and curl_multi_wakeup(). At most `transfers` requests are
 * in flight; connections are reused across requests (the multi's pool).
 * Failed idempotent requests are retried on the same thread after a
 * backoff (retry.h) without blocking the other transfers.
 *
 * Completion: when a request is finished (after its last attempt) the
 * network thread calls req->done (if set; it must be short and must not
 * block nor submit and wait), then counts down req->wait (if set), which
 * wakes the thread blocked in http_wait_all(). */
#ifndef SNAP_HTTP_MULTI_H
#define SNAP_HTTP_MULTI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "body.h"
#include "errbuf.h"
#include "retry.h"
#include "sigv4.h"

struct http_multi;

struct http_multi_opts {
	unsigned transfers;        /* in-flight cap (0: 16) */
	unsigned queue_cap;        /* submit queue capacity (0: 4*transfers) */
	long max_host_connections; /* 0: transfers */
	long max_total_connections;/* 0: transfers */
	long connect_timeout_ms;   /* 0: 10000 */
	/* abort an attempt that moved less than 1 B/s for this long: a
	 * server that accepts but never answers (0: 20) */
	long low_speed_time_s;
	struct retry_policy retry;
	bool verbose;              /* curl's own trace on stderr */
};

#define HTTP_MULTI_OPTS_INIT { 16, 0, 0, 0, 10000, 20, RETRY_POLICY_INIT, false }

/* Attempts of one request that may end in a timeout: a timed-out request
 * is tried once more whatever the retry policy says, so that a store that
 * stopped answering fails a run in about 2 x the timeout, not
 * (retries + 1) x. */
#define HTTP_TIMEOUT_ATTEMPTS 2

/* A countdown that a submitting thread blocks on. */
struct http_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned pending;
};

void http_wait_init(struct http_wait *w);
void http_wait_release(struct http_wait *w);
/* Block until every request submitted with this wait has completed. */
void http_wait_all(struct http_wait *w);
/* Block while n or more of them are still running: with n requests out,
 * until one of them completes (a sliding window of requests). */
void http_wait_below(struct http_wait *w, unsigned n);

/* Response headers kept (bounded; longer values are cut). */
struct http_resp {
	long status;
	bool has_length;
	uint64_t content_length;
	char etag[128];
	char content_md5[64];      /* Content-MD5 (base64) */
	/* Azure: the whole blob's Content-MD5 on a range's answer */
	char blob_content_md5[64];
	/* Content-Range "bytes first-last/total" of a 206, parsed whole */
	bool has_range;
	uint64_t range_first, range_last, range_total;
	char last_modified[64];
	char error_code[96];       /* x-ms-error-code */
	char copy_status[32];      /* x-ms-copy-status */
	/* user metadata (objmeta.h); a value too long for its field is
	 * dropped, not cut */
	char meta_mtime[72];       /* x-amz-meta-mtime / x-ms-meta-mtime */
	char meta_md5[64];         /* x-amz-meta-md5 / x-ms-meta-md5 (hex) */
	char meta_md5chksum[64];   /* x-amz-meta-md5chksum (base64) */
	/* S3: encrypted with SSE-KMS or SSE-C, whose ETag is not the MD5
	 * of the content even for a single PUT */
	bool etag_not_md5;
};

#define HTTP_ERRBODY_MAX 16384

/* One HTTP exchange. The caller fills the "in" part (http_request_init()
 * first), submits, and reads the "out" part after completion. The request
 * and everything it points to must stay valid until it completed. */
struct http_request {
	/* in */
	const char *method;        /* GET HEAD PUT POST DELETE */
	char *url;                 /* owned (malloc'd), freed by release */
	struct curl_slist *headers;/* owned, freed by release */
	/* NULL, or the SigV4 signer of each attempt (sigv4.h; borrowed,
	 * used by the network thread only) */
	struct sigv4 *sigv4;
	struct body_src src;       /* body of PUT/POST (len = Content-Length) */
	struct body_sink *sink;    /* 2xx response body; NULL: discard */
	bool idempotent;           /* may be retried */
	void (*done)(struct http_request *req);
	void *arg;
	struct http_wait *wait;
	/* NULL, or read before each attempt is sent: once true, the request
	 * is not sent (again) and completes with -ECANCELED (a retry waiting
	 * out its backoff within a second). Lets a caller that has failed
	 * drop what it queued without waiting for it. */
	const atomic_bool *cancel;
	/* out */
	int result;                /* 0 (2xx) or -errno */
	CURLcode curl_code;
	unsigned attempts;
	unsigned timeouts;         /* attempts that timed out */
	/* the last attempt timed out: after this many ms (the connect
	 * timeout, or the stall timeout once connected); 0 otherwise */
	long timed_out_ms;
	bool timed_out_connecting; /* ... before the connection was made */
	struct http_resp resp;
	char errbuf[CURL_ERROR_SIZE];
	char *errbody;             /* non-2xx body (<= HTTP_ERRBODY_MAX), NUL-terminated */
	size_t errbody_len;
	/* private to http_multi */
	int src_err;
	int sink_err;
	uint64_t up_pos;
	uint64_t down_pos;
	int64_t due_ms;
	/* stall detection (on_progress): when bytes last moved, the counts
	 * then, the limit; stalled: this attempt was aborted for it */
	int64_t moved_ms;
	int64_t stall_ms;
	curl_off_t seen_up, seen_down;
	bool stalled;
	struct curl_slist *signed_headers; /* this attempt's, then headers */
	struct http_request *next;      /* delayed list */
	struct http_request *inflight_next;
	CURL *easy;
};

void http_request_init(struct http_request *req);
/* Free url, headers and errbody; the request can be initialised again. */
void http_request_release(struct http_request *req);
/* Append "Name: value" to req->headers. Returns 0 or -ENOMEM. */
int http_request_header(struct http_request *req, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Start the network thread. Returns 0 or -errno (message in eb). */
int http_multi_new(const struct http_multi_opts *o, struct http_multi **out,
		   struct errbuf *eb);

/* Stop the thread; requests still queued or in flight complete with
 * -ECANCELED first. NULL-safe. */
void http_multi_free(struct http_multi *hm);

/* Queue req (ownership stays with the caller; it must not be touched until
 * it completes). Blocks while the queue is full. When req->wait is set its
 * count is raised here. Returns 0, or -ECANCELED when the thread is
 * stopping (nothing was queued). Thread safe. */
int http_multi_submit(struct http_multi *hm, struct http_request *req);

/* submit + wait for one request; returns req->result. */
int http_multi_run(struct http_multi *hm, struct http_request *req);

struct http_multi_stats {
	uint64_t requests;         /* attempts started */
	uint64_t retries;
	uint64_t connects;         /* new connections (the rest reused one) */
	uint64_t bytes_up;
	uint64_t bytes_down;
};

/* A snapshot of the counters (atomic reads). Thread safe. */
void http_multi_stats(const struct http_multi *hm,
		      struct http_multi_stats *out);

#endif
