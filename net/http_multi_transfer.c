/* http_multi_transfer: a request's life on the network thread: an
 * attempt starts on a pooled easy handle, ends in finish (counters,
 * errno, a retry after a backoff or completion), or is cancelled when
 * the thread stops; completion counts down the submitter's http_wait. */
#include "http_multi_impl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "body.h"
#include "bqueue.h"
#include "http_status.h"
#include "retry.h"

#include "banned.h"

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

/* Clear what the last attempt of req left, before the next one. */
static void reset_attempt(struct http_multi *hm, struct http_request *req)
{
	req->src_err = 0;
	req->sink_err = 0;
	req->up_pos = 0;
	req->down_pos = 0;
	req->errbody_len = 0;
	req->stalled = false;
	req->seen_up = 0;
	req->seen_down = 0;
	req->moved_ms = http_multi_now_ms();
	req->stall_ms = hm->o.low_speed_time_s * 1000;
	memset(&req->resp, 0, sizeof(req->resp));
	if (req->sink)
		body_sink_reset(req->sink);
}

void http_multi_start(struct http_multi *hm, struct http_request *req)
{
	CURL *e;

	reset_attempt(hm, req);
	if (req->cancel && atomic_load(req->cancel)) {
		/* not sent: no attempt's outcome may read as its answer */
		req->errbuf[0] = '\0';
		req->curl_code = CURLE_OK;
		req->timed_out_ms = 0;
		req->timed_out_connecting = false;
		req->result = -ECANCELED;
		complete(hm, req);
		return;
	}
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
	if (http_multi_setup_easy(hm, e, req) ||
	    curl_multi_add_handle(hm->multi, e) != CURLM_OK) {
		if (!req->errbuf[0])   /* else the setup said why */
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

	req->due_ms = http_multi_now_ms() + ms;
	while (*pp && (*pp)->due_ms <= req->due_ms)
		pp = &(*pp)->next;
	req->next = *pp;
	*pp = req;
}

void http_multi_finish(struct http_multi *hm, CURL *e, CURLcode cc)
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

void http_multi_cancel_all(struct http_multi *hm)
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
