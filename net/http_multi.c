/* http_multi: one thread, one CURLM, a bounded request queue in, done
 * callbacks out. The thread drives libcurl with the multi_socket API
 * (curl's ephiperfifo.c): libcurl says which sockets to watch for what
 * (socket_cb) and when it next needs time (timer_cb); the thread sleeps
 * in epoll_wait on those sockets and an eventfd that submit writes to,
 * then tells libcurl exactly which socket is ready. Why not the simpler
 * curl_multi_perform loop it replaced: perform does not know which
 * socket woke it, so every transfer polls its own socket (a poll() with
 * timeout 0) on every call: 12 poll calls per small object, 9 of them
 * finding nothing, a fifth of the client's CPU per object. */
#include "http_multi.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "bqueue.h"
#include "compiler.h"
#include "errbuf.h"
#include "http_status.h"

#include "banned.h"

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

void http_wait_init(struct http_wait *w)
{
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->pending = 0;
}

void http_wait_release(struct http_wait *w)
{
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
}

void http_wait_all(struct http_wait *w)
{
	pthread_mutex_lock(&w->lock);
	while (w->pending)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

void http_wait_below(struct http_wait *w, unsigned n)
{
	pthread_mutex_lock(&w->lock);
	while (w->pending >= n && w->pending)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

void http_request_init(struct http_request *req)
{
	memset(req, 0, sizeof(*req));
	req->method = "GET";
	req->src.fd = -1;
	req->idempotent = true;
}

void http_request_release(struct http_request *req)
{
	free(req->url);
	req->url = NULL;
	curl_slist_free_all(req->headers);
	req->headers = NULL;
	free(req->errbody);
	req->errbody = NULL;
	req->errbody_len = 0;
}

int http_request_header(struct http_request *req, const char *fmt, ...)
{
	char line[9216];    /* x-ms-copy-source: a whole URL */
	struct curl_slist *l;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -ENAMETOOLONG;
	l = curl_slist_append(req->headers, line);
	if (!l)
		return -ENOMEM;
	req->headers = l;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- callbacks, run by curl on the network thread --- */

static void copy_value(char *dst, size_t cap, const char *v, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static bool header_is(const char *line, size_t n, const char *name,
		      const char **val, size_t *vlen)
{
	size_t k = strlen(name);

	if (n <= k || line[k] != ':' || strncasecmp(line, name, k))
		return false;
	line += k + 1;
	n -= k + 1;
	while (n && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n' ||
		     line[n - 1] == ' '))
		n--;
	*val = line;
	*vlen = n;
	return true;
}

/* Decimal digits of s[*i..n) into *out; false when none or overflow. */
static bool parse_u64(const char *s, size_t n, size_t *i, uint64_t *out)
{
	uint64_t v = 0;
	size_t start = *i;

	for (; *i < n && s[*i] >= '0' && s[*i] <= '9'; (*i)++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[*i] - '0');
	}
	*out = v;
	return *i > start;
}

/* "bytes first-last/total" (RFC 9110 14.4), nothing else: a range
 * download trusts its place in the file only on a whole match. */
static void parse_content_range(const char *v, size_t vl,
				struct http_resp *r)
{
	size_t i = 6;

	r->has_range = vl > 6 && !memcmp(v, "bytes ", 6) &&
		       parse_u64(v, vl, &i, &r->range_first) &&
		       i < vl && v[i++] == '-' &&
		       parse_u64(v, vl, &i, &r->range_last) &&
		       i < vl && v[i++] == '/' &&
		       parse_u64(v, vl, &i, &r->range_total) && i == vl &&
		       r->range_first <= r->range_last &&
		       r->range_last < r->range_total;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_request *req = arg;
	struct http_resp *r = &req->resp;
	size_t n = size * nmemb;
	const char *v;
	size_t vl;
	char num[32];

	if (n > 5 && !strncmp(data, "HTTP/", 5)) {
		/* a new response (after 100-continue or a redirect) */
		const char *sp = memchr(data, ' ', n);

		memset(r, 0, sizeof(*r));
		if (sp && (size_t)(sp - data) + 4 <= n)
			r->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 +
				    (sp[3] - '0');
		return n;
	}
	if (header_is(data, n, "etag", &v, &vl)) {
		copy_value(r->etag, sizeof(r->etag), v, vl);
	} else if (header_is(data, n, "content-md5", &v, &vl)) {
		copy_value(r->content_md5, sizeof(r->content_md5), v, vl);
	} else if (header_is(data, n, "x-ms-blob-content-md5", &v, &vl)) {
		copy_value(r->blob_content_md5, sizeof(r->blob_content_md5),
			   v, vl);
	} else if (header_is(data, n, "content-range", &v, &vl)) {
		parse_content_range(v, vl, r);
	} else if (header_is(data, n, "last-modified", &v, &vl)) {
		copy_value(r->last_modified, sizeof(r->last_modified), v, vl);
	} else if (header_is(data, n, "x-ms-error-code", &v, &vl)) {
		copy_value(r->error_code, sizeof(r->error_code), v, vl);
	} else if (header_is(data, n, "x-ms-copy-status", &v, &vl)) {
		copy_value(r->copy_status, sizeof(r->copy_status), v, vl);
	} else if (header_is(data, n, "x-amz-meta-mtime", &v, &vl) ||
		   header_is(data, n, "x-ms-meta-mtime", &v, &vl)) {
		if (vl < sizeof(r->meta_mtime))
			copy_value(r->meta_mtime, sizeof(r->meta_mtime), v, vl);
	} else if (header_is(data, n, "x-amz-meta-md5", &v, &vl) ||
		   header_is(data, n, "x-ms-meta-md5", &v, &vl)) {
		if (vl < sizeof(r->meta_md5))
			copy_value(r->meta_md5, sizeof(r->meta_md5), v, vl);
	} else if (header_is(data, n, "x-amz-meta-md5chksum", &v, &vl)) {
		if (vl < sizeof(r->meta_md5chksum))
			copy_value(r->meta_md5chksum,
				   sizeof(r->meta_md5chksum), v, vl);
	} else if (header_is(data, n, "content-length", &v, &vl)) {
		copy_value(num, sizeof(num), v, vl);
		r->content_length = strtoull(num, NULL, 10);
		r->has_length = true;
	}
	return n;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_request *req = arg;
	size_t n = size * nmemb;
	int err;

	if (req->resp.status < 200 || req->resp.status >= 300) {
		/* error document: keep the start, drop the rest */
		size_t room, take;

		if (!req->errbody) {
			req->errbody = malloc(HTTP_ERRBODY_MAX + 1);
			if (!req->errbody)
				return n;
		}
		room = HTTP_ERRBODY_MAX - req->errbody_len;
		take = MIN(room, n);
		memcpy(req->errbody + req->errbody_len, data, take);
		req->errbody_len += take;
		req->errbody[req->errbody_len] = '\0';
		return n;
	}
	if (!req->sink)
		return n;
	err = body_sink_write(req->sink, data, n, req->down_pos);
	if (err) {
		req->sink_err = err;
		return 0;     /* CURLE_WRITE_ERROR */
	}
	req->down_pos += n;
	return n;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct http_request *req = arg;
	ssize_t r;

	r = body_src_pread(&req->src, buf, size * nmemb, req->up_pos);
	if (r < 0) {
		req->src_err = (int)r;
		return CURL_READFUNC_ABORT;
	}
	req->up_pos += (uint64_t)r;
	return (size_t)r;
}

static int on_seek(void *arg, curl_off_t offset, int origin)
{
	struct http_request *req = arg;

	if (origin != SEEK_SET || offset < 0 ||
	    (uint64_t)offset > req->src.len)
		return CURL_SEEKFUNC_CANTSEEK;
	req->up_pos = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* --- network thread --- */

static void complete(struct http_multi *hm, struct http_request *req)
{
	struct http_wait *w = req->wait;

	(void)hm;
	if (req->done)
		req->done(req);
	if (w) {
		pthread_mutex_lock(&w->lock);
		w->pending--;
		/* http_wait_all waits for 0, http_wait_below for fewer */
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
	}
}

/* Stall detection: fail an attempt whose connection is up but that moved
 * no byte either way for stall_ms. curl's own LOW_SPEED check (kept as a
 * backstop) averages the speed over the last seconds, so after a burst
 * (an upload handed to the socket) it fires ~5 s late; this one counts
 * from the last byte. Called about once a second while idle. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct http_request *req = arg;
	curl_off_t sending_us = 0;
	int64_t now = now_ms();

	(void)dltotal;
	(void)ultotal;
	/* connecting is the connect timeout's business; the request starts
	 * at "pretransfer" (also on a reused connection, whose connect time
	 * stays 0) */
	if (req->easy)
		curl_easy_getinfo(req->easy, CURLINFO_PRETRANSFER_TIME_T,
				  &sending_us);
	if (!sending_us || dlnow != req->seen_down ||
	    ulnow != req->seen_up) {
		req->seen_down = dlnow;
		req->seen_up = ulnow;
		req->moved_ms = now;
		return 0;
	}
	if (now - req->moved_ms < req->stall_ms)
		return 0;
	req->stalled = true;
	return 1;      /* CURLE_ABORTED_BY_CALLBACK */
}

static int setup_easy(struct http_multi *hm, CURL *e, struct http_request *req)
{
	const char *m = req->method;
	CURLcode c = CURLE_OK;

#define SET(opt, val) do { if (c == CURLE_OK) c = curl_easy_setopt(e, opt, val); } while (0)
	req->errbuf[0] = '\0';
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PRIVATE, req);
	SET(CURLOPT_ERRORBUFFER, req->errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PATH_AS_IS, 1L);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, hm->o.connect_timeout_ms);
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_LOW_SPEED_TIME, hm->o.low_speed_time_s);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, req);
	SET(CURLOPT_HTTPHEADER, req->headers);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, req);
	SET(CURLOPT_WRITEFUNCTION, on_write);
	SET(CURLOPT_WRITEDATA, req);
	SET(CURLOPT_VERBOSE, hm->o.verbose ? 1L : 0L);
	if (req->aws_sigv4) {
		SET(CURLOPT_AWS_SIGV4, req->aws_sigv4);
		SET(CURLOPT_USERNAME, req->username);
		SET(CURLOPT_PASSWORD, req->password);
	}
	if (!strcmp(m, "HEAD")) {
		SET(CURLOPT_NOBODY, 1L);
	} else if (!strcmp(m, "PUT") || !strcmp(m, "POST")) {
		SET(CURLOPT_UPLOAD, 1L);
		SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->src.len);
		SET(CURLOPT_READFUNCTION, on_read);
		SET(CURLOPT_READDATA, req);
		SET(CURLOPT_SEEKFUNCTION, on_seek);
		SET(CURLOPT_SEEKDATA, req);
		if (!strcmp(m, "POST"))
			SET(CURLOPT_CUSTOMREQUEST, "POST");
	} else if (strcmp(m, "GET")) {
		SET(CURLOPT_CUSTOMREQUEST, m);
	}
#undef SET
	return c == CURLE_OK ? 0 : -EINVAL;
}

static void start(struct http_multi *hm, struct http_request *req)
{
	CURL *e;

	req->src_err = 0;
	req->sink_err = 0;
	req->up_pos = 0;
	req->down_pos = 0;
	req->errbody_len = 0;
	req->stalled = false;
	req->seen_up = 0;
	req->seen_down = 0;
	req->moved_ms = now_ms();
	req->stall_ms = hm->o.low_speed_time_s * 1000;
	memset(&req->resp, 0, sizeof(req->resp));
	if (req->sink)
		body_sink_reset(req->sink);
	req->attempts++;
	if (hm->pool_n) {
		e = hm->pool[--hm->pool_n];
		curl_easy_reset(e);
	} else {
		e = curl_easy_init();
	}
	if (!e) {
		req->result = -ENOMEM;
		complete(hm, req);
		return;
	}
	if (setup_easy(hm, e, req) ||
	    curl_multi_add_handle(hm->multi, e) != CURLM_OK) {
		snprintf(req->errbuf, sizeof(req->errbuf),
			 "cannot set up the transfer");
		req->result = -EINVAL;
		curl_easy_cleanup(e);
		complete(hm, req);
		return;
	}
	req->easy = e;
	req->inflight_next = hm->inflight;
	hm->inflight = req;
	hm->active++;
	atomic_fetch_add(&hm->n_requests, 1);
}

static void put_easy(struct http_multi *hm, CURL *e)
{
	curl_multi_remove_handle(hm->multi, e);
	if (hm->pool_n < hm->o.transfers)
		hm->pool[hm->pool_n++] = e;
	else
		curl_easy_cleanup(e);
}

static void delay(struct http_multi *hm, struct http_request *req,
		  unsigned ms)
{
	struct http_request **pp = &hm->delayed;

	req->due_ms = now_ms() + ms;
	while (*pp && (*pp)->due_ms <= req->due_ms)
		pp = &(*pp)->next;
	req->next = *pp;
	*pp = req;
}

static void finish(struct http_multi *hm, CURL *e, CURLcode cc)
{
	struct http_request *req = NULL, **pp;
	bool retryable = false;
	long status = 0;
	curl_off_t up = 0, down = 0, connected_us = 0;
	long connects = 0;

	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&req);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(e, CURLINFO_SIZE_UPLOAD_T, &up);
	curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &down);
	curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
	atomic_fetch_add(&hm->n_connects, (uint64_t)connects);
	atomic_fetch_add(&hm->n_up, (uint64_t)up);
	atomic_fetch_add(&hm->n_down, (uint64_t)down);
	for (pp = &hm->inflight; *pp; pp = &(*pp)->inflight_next) {
		if (*pp == req) {
			*pp = req->inflight_next;
			break;
		}
	}
	req->easy = NULL;
	put_easy(hm, e);
	hm->active--;
	if (cc == CURLE_ABORTED_BY_CALLBACK && req->stalled)
		cc = CURLE_OPERATION_TIMEDOUT;   /* on_progress's */
	req->curl_code = cc;
	req->timed_out_ms = 0;
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		/* connect time 0: the connection was never made; curl's
		 * "Operation too slow" is the stall limit in any case */
		curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &connected_us);
		req->timeouts++;
		req->timed_out_connecting = !connected_us && !req->stalled &&
					    !strstr(req->errbuf, "too slow");
		req->timed_out_ms = req->timed_out_connecting ?
				    hm->o.connect_timeout_ms :
				    hm->o.low_speed_time_s * 1000;
	}
	if (status)
		req->resp.status = status;
	if (req->src_err) {
		req->result = req->src_err;
	} else if (req->sink_err) {
		req->result = req->sink_err;
	} else {
		req->result = http_status_errno(cc, req->resp.status,
						req->resp.error_code,
						&retryable);
	}
	if (req->result &&
	    retry_should(&hm->o.retry, req->attempts, req->idempotent,
			 retryable) &&
	    req->timeouts < HTTP_TIMEOUT_ATTEMPTS &&
	    !atomic_load(&hm->stopping)) {
		atomic_fetch_add(&hm->n_retries, 1);
		delay(hm, req, retry_delay_ms(&hm->o.retry, req->attempts,
					      &hm->rng));
		return;
	}
	complete(hm, req);
}

static void cancel_all(struct http_multi *hm)
{
	struct http_request *req;
	void *item;

	while (hm->inflight) {
		req = hm->inflight;
		hm->inflight = req->inflight_next;
		curl_multi_remove_handle(hm->multi, req->easy);
		curl_easy_cleanup(req->easy);
		req->easy = NULL;
		req->result = -ECANCELED;
		complete(hm, req);
	}
	hm->active = 0;
	while (hm->delayed) {
		req = hm->delayed;
		hm->delayed = req->next;
		req->result = -ECANCELED;
		complete(hm, req);
	}
	while (bqueue_drain(hm->queue, &item) == 1) {
		req = item;
		req->result = -ECANCELED;
		complete(hm, req);
	}
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what libcurl asks (or stop).
 * socketp is non-NULL once s is in the epoll set. */
static int socket_cb(CURL *e, curl_socket_t s, int what, void *arg,
		     void *socketp)
{
	struct http_multi *hm = arg;
	struct epoll_event ev = { .data.fd = s };

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		/* the fd may be closed already: then epoll dropped it */
		epoll_ctl(hm->epfd, EPOLL_CTL_DEL, s, NULL);
		curl_multi_assign(hm->multi, s, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev.events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev.events |= EPOLLOUT;
	if (socketp) {
		if (epoll_ctl(hm->epfd, EPOLL_CTL_MOD, s, &ev) == 0)
			return 0;
		/* libcurl reused the number of a closed socket */
	}
	if (epoll_ctl(hm->epfd, EPOLL_CTL_ADD, s, &ev) &&
	    (errno != EEXIST || epoll_ctl(hm->epfd, EPOLL_CTL_MOD, s, &ev)))
		return -1;     /* libcurl fails the transfer */
	curl_multi_assign(hm->multi, s, hm);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: libcurl wants CURL_SOCKET_TIMEOUT in ms
 * (-1: no timer). */
static int timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct http_multi *hm = arg;

	(void)multi;
	hm->timer_due_ms = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	return 0;
}

static void wake(struct http_multi *hm)
{
	uint64_t one = 1;
	ssize_t n;

	do
		n = write(hm->wake_fd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
	/* EAGAIN: the counter is full, so a wakeup is pending anyway */
}

/* What libcurl has finished. */
static void harvest(struct http_multi *hm)
{
	struct CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(hm->multi, &left))) {
		if (msg->msg == CURLMSG_DONE)
			finish(hm, msg->easy_handle, msg->data.result);
	}
}

/* Start due retries, then queued requests, up to the in-flight cap. */
static void refill(struct http_multi *hm)
{
	int64_t now = now_ms();
	void *item;

	while (hm->delayed && hm->delayed->due_ms <= now &&
	       hm->active < hm->o.transfers) {
		struct http_request *req = hm->delayed;

		hm->delayed = req->next;
		start(hm, req);
	}
	/* bqueue_drain is a non-blocking pop: this thread must never
	 * sleep anywhere but in epoll_wait */
	while (hm->active < hm->o.transfers &&
	       bqueue_drain(hm->queue, &item) == 1)
		start(hm, item);
}

/* How long epoll_wait may sleep: until libcurl's timer or the next due
 * retry, at most a second. */
static int sleep_ms(const struct http_multi *hm)
{
	int64_t now = now_ms(), t = 1000;

	if (hm->timer_due_ms >= 0)
		t = MIN(t, hm->timer_due_ms - now);
	/* a due retry waits for a free slot like everyone else: no zero
	 * timeout (busy loop) while all slots are taken */
	if (hm->delayed && hm->active < hm->o.transfers)
		t = MIN(t, hm->delayed->due_ms - now);
	return t < 0 ? 0 : (int)t;
}

static void *net_main(void *arg)
{
	struct http_multi *hm = arg;
	struct epoll_event ev[64];
	uint64_t count;
	void *item;
	int running, n, i, flags;

	while (!atomic_load(&hm->stopping)) {
		refill(hm);
		harvest(hm);
		/* say that we go to sleep, then look at the queue once
		 * more: a submit before this look is seen here, one after
		 * it sees polling and wakes us (both sides seq_cst); the
		 * wakeup costs a syscall on each side, not worth paying
		 * while this thread is awake anyway */
		atomic_store(&hm->polling, true);
		if (hm->active < hm->o.transfers &&
		    bqueue_drain(hm->queue, &item) == 1) {
			atomic_store(&hm->polling, false);
			start(hm, item);
			continue;
		}
		n = epoll_wait(hm->epfd, ev, (int)ARRAY_SIZE(ev),
			       sleep_ms(hm));
		atomic_store(&hm->polling, false);
		for (i = 0; i < n; i++) {
			if (ev[i].data.fd == hm->wake_fd) {
				if (read(hm->wake_fd, &count,
					 sizeof(count)) < 0) {
					/* EAGAIN: drained by an earlier read */
				}
				continue;
			}
			flags = 0;
			if (ev[i].events & EPOLLIN)
				flags |= CURL_CSELECT_IN;
			if (ev[i].events & EPOLLOUT)
				flags |= CURL_CSELECT_OUT;
			if (ev[i].events & (EPOLLERR | EPOLLHUP))
				flags |= CURL_CSELECT_ERR;
			curl_multi_socket_action(hm->multi, ev[i].data.fd,
						 flags, &running);
		}
		if (hm->timer_due_ms >= 0 && hm->timer_due_ms <= now_ms()) {
			hm->timer_due_ms = -1;
			curl_multi_socket_action(hm->multi,
						 CURL_SOCKET_TIMEOUT, 0,
						 &running);
		}
	}
	cancel_all(hm);
	return NULL;
}

static void close_fds(struct http_multi *hm)
{
	if (hm->epfd >= 0)
		close(hm->epfd);
	if (hm->wake_fd >= 0)
		close(hm->wake_fd);
}

int http_multi_new(const struct http_multi_opts *o, struct http_multi **out,
		   struct errbuf *eb)
{
	struct http_multi *hm;
	int err;

	*out = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return errbuf_set(eb, -EIO, "cannot initialise libcurl");
	hm = calloc(1, sizeof(*hm));
	if (!hm) {
		err = -ENOMEM;
		goto out_global;
	}
	hm->o = *o;
	if (!hm->o.transfers)
		hm->o.transfers = 16;
	if (hm->o.transfers > 1024)
		hm->o.transfers = 1024;
	if (!hm->o.queue_cap)
		hm->o.queue_cap = 4 * hm->o.transfers;
	if (!hm->o.max_host_connections)
		hm->o.max_host_connections = (long)hm->o.transfers;
	if (!hm->o.max_total_connections)
		hm->o.max_total_connections = (long)hm->o.transfers;
	if (hm->o.connect_timeout_ms <= 0)
		hm->o.connect_timeout_ms = 10000;
	if (hm->o.low_speed_time_s <= 0)
		hm->o.low_speed_time_s = 20;
	hm->rng = (uint64_t)now_ms() * 0x9e3779b97f4a7c15ULL ^
		  (uint64_t)getpid();
	atomic_init(&hm->stopping, false);
	hm->timer_due_ms = -1;
	hm->epfd = epoll_create1(EPOLL_CLOEXEC);
	hm->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (hm->epfd < 0 || hm->wake_fd < 0) {
		err = -errno;
		goto out_free;
	}
	{
		struct epoll_event ev = { .events = EPOLLIN,
					  .data.fd = hm->wake_fd };

		if (epoll_ctl(hm->epfd, EPOLL_CTL_ADD, hm->wake_fd, &ev)) {
			err = -errno;
			goto out_free;
		}
	}
	hm->pool = calloc(hm->o.transfers, sizeof(*hm->pool));
	hm->multi = curl_multi_init();
	err = -ENOMEM;
	if (!hm->pool || !hm->multi)
		goto out_free;
	curl_multi_setopt(hm->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(hm->multi, CURLMOPT_SOCKETDATA, hm);
	curl_multi_setopt(hm->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(hm->multi, CURLMOPT_TIMERDATA, hm);
	curl_multi_setopt(hm->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
			  hm->o.max_total_connections);
	curl_multi_setopt(hm->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
			  hm->o.max_host_connections);
	curl_multi_setopt(hm->multi, CURLMOPT_MAXCONNECTS,
			  hm->o.max_total_connections);
	err = bqueue_new(hm->o.queue_cap, &hm->queue);
	if (err)
		goto out_free;
	err = -pthread_create(&hm->thread, NULL, net_main, hm);
	if (err)
		goto out_free;
	hm->thread_started = true;
	*out = hm;
	return 0;

out_free:
	bqueue_free(hm->queue);
	if (hm->multi)
		curl_multi_cleanup(hm->multi);
	close_fds(hm);
	free(hm->pool);
	free(hm);
out_global:
	curl_global_cleanup();
	return errbuf_set(eb, err, "cannot start the network thread: %s",
			  strerror(-err));
}

void http_multi_free(struct http_multi *hm)
{
	unsigned i;

	if (!hm)
		return;
	atomic_store(&hm->stopping, true);
	bqueue_abort(hm->queue);
	wake(hm);
	if (hm->thread_started)
		pthread_join(hm->thread, NULL);
	for (i = 0; i < hm->pool_n; i++)
		curl_easy_cleanup(hm->pool[i]);
	curl_multi_cleanup(hm->multi);
	close_fds(hm);
	bqueue_free(hm->queue);
	free(hm->pool);
	free(hm);
	curl_global_cleanup();
}

int http_multi_submit(struct http_multi *hm, struct http_request *req)
{
	int err;

	if (!hm || !req || !req->url || !req->method)
		return -EINVAL;
	req->attempts = 0;
	req->timeouts = 0;
	req->timed_out_ms = 0;
	req->result = 0;
	if (req->wait) {
		pthread_mutex_lock(&req->wait->lock);
		req->wait->pending++;
		pthread_mutex_unlock(&req->wait->lock);
	}
	err = atomic_load(&hm->stopping) ? -ECANCELED :
	      bqueue_push(hm->queue, req);
	if (err) {
		if (req->wait) {
			pthread_mutex_lock(&req->wait->lock);
			req->wait->pending--;
			pthread_cond_broadcast(&req->wait->cond);
			pthread_mutex_unlock(&req->wait->lock);
		}
		return err;
	}
	if (atomic_load(&hm->polling))
		wake(hm);
	return 0;
}

int http_multi_run(struct http_multi *hm, struct http_request *req)
{
	struct http_wait w;
	int err;

	http_wait_init(&w);
	req->wait = &w;
	err = http_multi_submit(hm, req);
	if (!err) {
		http_wait_all(&w);
		err = req->result;
	} else {
		req->result = err;
	}
	req->wait = NULL;
	http_wait_release(&w);
	return err;
}

void http_multi_stats(const struct http_multi *hm,
		      struct http_multi_stats *out)
{
	struct http_multi *m = (struct http_multi *)hm;

	out->requests = atomic_load(&m->n_requests);
	out->retries = atomic_load(&m->n_retries);
	out->connects = atomic_load(&m->n_connects);
	out->bytes_up = atomic_load(&m->n_up);
	out->bytes_down = atomic_load(&m->n_down);
}
