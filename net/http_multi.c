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
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bqueue.h"
#include "compiler.h"
#include "errbuf.h"
#include "http_multi_impl.h"

#include "banned.h"

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
	hm->timer_due_ms = timeout_ms < 0 ? -1 :
			   http_multi_now_ms() + timeout_ms;
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
			http_multi_finish(hm, msg->easy_handle,
					  msg->data.result);
	}
}

/* A retry whose caller has cancelled it leaves the delayed list now,
 * not when its backoff ends: http_multi_start completes it with
 * -ECANCELED without sending it or taking a slot. */
static void drop_cancelled(struct http_multi *hm)
{
	struct http_request **pp = &hm->delayed;

	while (*pp) {
		struct http_request *req = *pp;

		if (req->cancel && atomic_load(req->cancel)) {
			*pp = req->next;
			http_multi_start(hm, req);
		} else {
			pp = &req->next;
		}
	}
}

/* Start due retries, then queued requests, up to the in-flight cap. */
static void refill(struct http_multi *hm)
{
	int64_t now = http_multi_now_ms();
	void *item;

	drop_cancelled(hm);

	while (hm->delayed && hm->delayed->due_ms <= now &&
	       hm->active < hm->o.transfers) {
		struct http_request *req = hm->delayed;

		hm->delayed = req->next;
		http_multi_start(hm, req);
	}
	/* bqueue_drain is a non-blocking pop: this thread must never
	 * sleep anywhere but in epoll_wait */
	while (hm->active < hm->o.transfers &&
	       bqueue_drain(hm->queue, &item) == 1)
		http_multi_start(hm, item);
}

/* How long epoll_wait may sleep: until libcurl's timer or the next due
 * retry, at most a second. */
static int sleep_ms(const struct http_multi *hm)
{
	int64_t now = http_multi_now_ms(), t = 1000;

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
			http_multi_start(hm, item);
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
		if (hm->timer_due_ms >= 0 &&
		    hm->timer_due_ms <= http_multi_now_ms()) {
			hm->timer_due_ms = -1;
			curl_multi_socket_action(hm->multi,
						 CURL_SOCKET_TIMEOUT, 0,
						 &running);
		}
	}
	http_multi_cancel_all(hm);
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
	hm->rng = (uint64_t)http_multi_now_ms() * 0x9e3779b97f4a7c15ULL ^
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
