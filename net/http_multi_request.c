/* http_multi_request: one request as the network thread sends it:
 * building it (init, headers, release), the easy handle's options, and
 * the callbacks libcurl runs for its transfer on the network thread
 * (response headers, body in and out, stall detection). */
#include "http_multi_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "body.h"
#include "compiler.h"

#include "banned.h"

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
	free(req->signed_headers);
	req->signed_headers = NULL;
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
	} else if (header_is(data, n, "x-amz-server-side-encryption", &v,
			     &vl)) {
		/* "aws:kms", "aws:kms:dsse"; "AES256" (SSE-S3) keeps the
		 * MD5 ETag */
		if (vl >= 7 && !strncmp(v, "aws:kms", 7))
			r->etag_not_md5 = true;
	} else if (header_is(data, n,
			     "x-amz-server-side-encryption-customer-algorithm",
			     &v, &vl)) {
		r->etag_not_md5 = true;
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
	int64_t now = http_multi_now_ms();

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

/* A body in memory up to this size goes out with the request's head in
 * one send (POSTFIELDS) instead of a second send from the read
 * callback: per small PUT one sendto and one wakeup of the server
 * fewer. */
#define INLINE_BODY_MAX (64u << 10)

static bool has_content_type(const struct curl_slist *l)
{
	for (; l; l = l->next)
		if (!strncasecmp(l->data, "Content-Type:", 13))
			return true;
	return false;
}

/* Only a request that names its type: for one that does not, POSTFIELDS
 * makes curl add "Content-Type: application/x-www-form-urlencoded",
 * which a store would keep as the object's type. Every PUT and
 * POST of net/ names one; one that did not would go the slower way. */
static bool inline_body(const struct http_request *req)
{
	return req->src.kind == BODY_SRC_MEM && req->src.len &&
	       req->src.len <= INLINE_BODY_MAX &&
	       has_content_type(req->headers);
}

int http_multi_setup_easy(struct http_multi *hm, CURL *e,
			  struct http_request *req)
{
	const char *m = req->method;
	CURLcode c = CURLE_OK;
	int err;

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
	if (req->sigv4) {
		/* a retry is signed anew: its date is the attempt's */
		free(req->signed_headers);
		req->signed_headers = NULL;
		err = sigv4_sign(req->sigv4, m, req->url, req->headers,
				 time(NULL), &req->signed_headers);
		if (err) {
			snprintf(req->errbuf, sizeof(req->errbuf),
				 "cannot sign the request (SigV4): %s",
				 strerror(-err));
			return err;
		}
		SET(CURLOPT_HTTPHEADER, req->signed_headers);
	} else {
		SET(CURLOPT_HTTPHEADER, req->headers);
	}
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, req);
	SET(CURLOPT_WRITEFUNCTION, on_write);
	SET(CURLOPT_WRITEDATA, req);
	SET(CURLOPT_VERBOSE, hm->o.verbose ? 1L : 0L);
	if (!strcmp(m, "HEAD")) {
		SET(CURLOPT_NOBODY, 1L);
	} else if ((!strcmp(m, "PUT") || !strcmp(m, "POST")) &&
		   inline_body(req)) {
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->src.len);
		SET(CURLOPT_POSTFIELDS,
		    (const char *)req->src.mem + req->src.off);
		SET(CURLOPT_CUSTOMREQUEST, m);
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
