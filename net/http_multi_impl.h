/* http_multi_impl: what the pieces of the network thread share; private
 * to net/. http_multi.c: the thread, its epoll loop over libcurl's
 * sockets and timer, the public entry points; http_multi_transfer.c: a
 * request's life on it (start on a pooled easy handle, finish, retry,
 * cancel, completion); http_multi_request.c: building a request and the
 * callbacks libcurl runs for its transfer. */
#ifndef SNAP_HTTP_MULTI_IMPL_H
#define SNAP_HTTP_MULTI_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <curl/curl.h>

#include "http_multi.h"

struct bqueue;

struct http_multi {
	struct http_multi_opts o;
	CURLM *multi;
	struct bqueue *queue;
	pthread_t thread;
	bool thread_started;
	atomic_bool stopping;
	/* the thread is in (or about to enter) epoll_wait: a submit must
	 * wake it (wake_fd); otherwise it will look at the queue by itself */
	atomic_bool polling;
	int epfd;                  /* the sockets libcurl asks for, wake_fd */
	int wake_fd;               /* eventfd: submit and free write to it */
	/* network thread only */
	int64_t timer_due_ms;      /* libcurl's next timeout; -1: none */
	CURL **pool;               /* idle easy handles, reused */
	unsigned pool_n;
	unsigned active;
	struct http_request *delayed;  /* retries, sorted by due_ms */
	struct http_request *inflight; /* at most transfers */
	uint64_t rng;
	/* counters */
	atomic_uint_fast64_t n_requests, n_retries, n_up, n_down, n_connects;
};

/* CLOCK_MONOTONIC in ms: timers, retry due times, stall detection. */
static inline int64_t http_multi_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Network thread only, like everything in struct http_multi's second
 * half. */

/* Set up the easy handle e for one attempt of req. 0 or -EINVAL. */
int http_multi_setup_easy(struct http_multi *hm, CURL *e,
			  struct http_request *req);
/* Start one attempt of req, or complete it when that fails. */
void http_multi_start(struct http_multi *hm, struct http_request *req);
/* The attempt on e ended with cc: retry req later, or complete it. */
void http_multi_finish(struct http_multi *hm, CURL *e, CURLcode cc);
/* Complete every request in flight, waiting or queued with -ECANCELED. */
void http_multi_cancel_all(struct http_multi *hm);

#endif
