/* objstore: URL and option parsing, the network stage, argument checks,
 * deletes, the shared error and metadata helpers. Uploads are in
 * objstore_put.c, downloads in objstore_get.c (both on
 * objstore_window.c), listing in objstore_list.c, server-side copies in
 * objstore_copy.c; the protocols live in s3.c and azure.c. */
#include "objstore.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compiler.h"
#include "digest.h"
#include "encode.h"
#include "http_status.h"
#include "log.h"
#include "objmeta.h"
#include "objstore_impl.h"
#include "uri.h"
#include "utf8.h"
#include "xml_list.h"

#include "banned.h"

void objstore_config_defaults(struct objstore_config *c)
{
	memset(c, 0, sizeof(*c));
	c->transfers = 16;
	c->retries = 5;
	c->retry_base_ms = 200;
	c->retry_max_ms = 20000;
	c->multipart_threshold = 64ULL << 20;
	c->part_size = 16ULL << 20;
	c->connect_timeout_ms = 10000;
	c->low_speed_time_s = 20;
}

const char *objstore_env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static int parse_url(struct objstore *os, const char *url, const char *rest,
		     struct errbuf *eb)
{
	const char *slash = strchr(rest, '/');
	size_t blen = slash ? (size_t)(slash - rest) : strlen(rest);
	const char *p = slash ? slash + 1 : "";
	size_t plen;

	if (!blen || blen >= sizeof(os->bucket))
		return errbuf_set(eb, -EINVAL,
				  "invalid object store URL '%s': bad bucket name",
				  url);
	memcpy(os->bucket, rest, blen);
	os->bucket[blen] = '\0';
	while (*p == '/')
		p++;
	plen = strlen(p);
	while (plen && p[plen - 1] == '/')
		plen--;
	if (plen + 2 > sizeof(os->prefix))
		return errbuf_set(eb, -ENAMETOOLONG,
				  "invalid object store URL '%s': prefix too long",
				  url);
	memcpy(os->prefix, p, plen);
	if (plen)
		os->prefix[plen++] = '/';
	os->prefix[plen] = '\0';
	snprintf(os->url, sizeof(os->url), "%.*s://%s%s%.*s",
		 (int)(rest - url - 3), url, os->bucket, plen ? "/" : "",
		 (int)(plen ? plen - 1 : 0), os->prefix);
	return 0;
}

int objstore_url_canonical(const char *url, char *out, size_t cap)
{
	struct objstore *tmp;
	struct errbuf eb = ERRBUF_INIT;
	int err;

	if (!objstore_is_url(url))
		return -EINVAL;
	tmp = calloc(1, sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	err = parse_url(tmp, url, url + 5, &eb);
	if (!err && (size_t)snprintf(out, cap, "%s", tmp->url) >= cap)
		err = -ENAMETOOLONG;
	free(tmp);
	return err;
}

/* A true/false storage option (JSON true/false, or the strings); absent
 * leaves *val. */
static int bool_option(const struct json_opts *o, const char *key, bool *val,
		       struct errbuf *eb)
{
	const char *v = json_opts_get(o, key);

	if (!v)
		return 0;
	if (!strcmp(v, "true") || !strcmp(v, "1")) {
		*val = true;
		return 0;
	}
	if (!strcmp(v, "false") || !strcmp(v, "0"))
		return 0;
	return errbuf_set(eb, -EINVAL, "invalid storage option '%s': "
			  "expected true or false", key);
}

bool objstore_is_url(const char *s)
{
	return s && (!strncmp(s, "s3://", 5) || !strncmp(s, "az://", 5));
}

/* A network thread with cfg's cap, timeouts and retries. */
static int multi_new(const struct objstore_config *cfg,
		     struct http_multi **out, struct errbuf *eb)
{
	struct http_multi_opts ho = HTTP_MULTI_OPTS_INIT;

	ho.transfers = cfg->transfers;
	ho.connect_timeout_ms = cfg->connect_timeout_ms;
	ho.low_speed_time_s = cfg->low_speed_time_s;
	ho.retry.retries = cfg->retries;
	ho.retry.base_ms = cfg->retry_base_ms;
	ho.retry.max_ms = cfg->retry_max_ms;
	ho.verbose = cfg->verbose;
	return http_multi_new(&ho, out, eb);
}

struct objstore_stage {
	pthread_mutex_t lock;      /* stores may be opened from threads */
	struct http_multi *hm;     /* NULL until the first store */
};

int objstore_stage_new(struct objstore_stage **out)
{
	struct objstore_stage *st = calloc(1, sizeof(*st));

	*out = st;
	if (!st)
		return -ENOMEM;
	pthread_mutex_init(&st->lock, NULL);
	return 0;
}

void objstore_stage_free(struct objstore_stage *st)
{
	if (!st)
		return;
	http_multi_free(st->hm);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

/* The stage's thread, started now with cfg when it is the first store. */
static int stage_multi(struct objstore_stage *st,
		       const struct objstore_config *cfg,
		       struct http_multi **out, struct errbuf *eb)
{
	int err = 0;

	pthread_mutex_lock(&st->lock);
	if (!st->hm)
		err = multi_new(cfg, &st->hm, eb);
	*out = st->hm;
	pthread_mutex_unlock(&st->lock);
	return err;
}

int objstore_open(const char *url, const char *storage_options_json,
		  const struct objstore_config *cfg, struct objstore **out,
		  struct errbuf *eb)
{
	struct objstore_config defaults;
	struct json_opts *opts = NULL;
	struct objstore *os = NULL, *tmp = NULL;
	const char *rest;
	bool is_s3, create;
	int err;

	if (!out || !url)
		return errbuf_set(eb, -EINVAL, "no object store URL");
	*out = NULL;
	if (!strncmp(url, "s3://", 5)) {
		is_s3 = true;
		rest = url + 5;
	} else if (!strncmp(url, "az://", 5)) {
		is_s3 = false;
		rest = url + 5;
	} else {
		return errbuf_set(eb, -EINVAL,
				  "unsupported object store URL '%s': "
				  "expected s3:// or az://", url);
	}
	if (!cfg) {
		objstore_config_defaults(&defaults);
		cfg = &defaults;
	}
	/* S3's minimum part size (Azure has none) */
	if (cfg->part_size && cfg->part_size < (5ULL << 20))
		return errbuf_set(eb, -EINVAL, "invalid part size %llu: "
				  "at least 5 MiB",
				  (unsigned long long)cfg->part_size);
	if (storage_options_json && *storage_options_json) {
		err = json_opts_parse(storage_options_json, &opts, eb);
		if (err)
			return err;
	}
	create = cfg->create_bucket;
	err = bool_option(opts, "create_bucket", &create, eb);
	if (err)
		goto out;
	tmp = calloc(1, sizeof(*tmp));
	if (!tmp) {
		err = -ENOMEM;
		goto out;
	}
	err = parse_url(tmp, url, rest, eb);
	if (err)
		goto out;
	err = is_s3 ? s3_open(&os, tmp->bucket, opts, eb) :
		      azure_open(&os, tmp->bucket, opts, eb);
	if (err)
		goto out;
	memcpy(os->url, tmp->url, sizeof(os->url));
	memcpy(os->bucket, tmp->bucket, sizeof(os->bucket));
	memcpy(os->prefix, tmp->prefix, sizeof(os->prefix));
	os->cfg = *cfg;
	os->cfg.create_bucket = create;
	if (!os->cfg.part_size)
		os->cfg.part_size = 16ULL << 20;
	if (!os->cfg.transfers)
		os->cfg.transfers = 16;
	if (cfg->multi) {
		os->hm = cfg->multi;
	} else if (cfg->stage) {
		err = stage_multi(cfg->stage, &os->cfg, &os->hm, eb);
		if (err)
			goto out_free;
	} else {
		err = multi_new(&os->cfg, &os->hm, eb);
		if (err)
			goto out_free;
		os->own_hm = true;
	}
	*out = os;
	goto out;
out_free:
	objstore_free(os);
out:
	free(tmp);
	json_opts_free(opts);
	return err;
}

void objstore_free(struct objstore *os)
{
	if (!os)
		return;
	if (os->own_hm)
		http_multi_free(os->hm);
	os->ops->free(os);
}

const char *objstore_url(const struct objstore *os)
{
	return os->url;
}

bool objstore_lists_mtime(const struct objstore *os)
{
	return !strcmp(os->ops->scheme, "az");
}

struct http_multi *objstore_multi(struct objstore *os)
{
	return os->hm;
}

/* The verdict of problem (may be NULL) and the UTF-8 rule on key, for
 * the store at url (for the message). */
static int key_verdict(const char *(*problem)(const char *key),
		       const char *key, const char *url, struct errbuf *eb)
{
	const char *why;
	bool not_utf8;
	char shown[512];

	if (!key || !*key)
		return errbuf_set(eb, -EINVAL, "empty object key in '%s'",
				  url);
	why = problem ? problem(key) : NULL;
	/* S3 and Azure take UTF-8 names only: a file name in another
	 * encoding would fail as "HTTP 400" after retries */
	not_utf8 = !why && !utf8_valid(key);
	if (!why && !not_utf8)
		return 0;
	errbuf_quote_name(shown, sizeof(shown), key, strlen(key));
	if (not_utf8)
		return errbuf_set(eb, -EILSEQ, "cannot use the name '%s' in "
				  "'%s': object names must be UTF-8, and it "
				  "is not", shown, url);
	return errbuf_set(eb, -EINVAL, "cannot use the name '%s' in '%s': %s, "
			  "so it would stand for another object", shown,
			  url, why);
}

int objstore_check_key(const struct objstore *os, const char *key,
		       struct errbuf *eb)
{
	return key_verdict(os ? os->ops->key_problem : NULL, key,
			   os ? os->url : "?", eb);
}

int objstore_check_name(const char *url, const char *name,
			struct errbuf *eb)
{
	return key_verdict(!strncmp(url, "az://", 5) ? azure_key_problem :
			   NULL, name, url, eb);
}

int objstore_create_bucket(struct objstore *os, struct errbuf *eb)
{
	if (!os)
		return -EINVAL;
	return os->ops->create_bucket(os, eb);
}

bool objstore_may_create_bucket(const struct objstore *os)
{
	return os && os->cfg.create_bucket;
}

int objstore_bucket_missing(struct objstore *os, struct errbuf *eb)
{
	struct errbuf local = ERRBUF_INIT;
	char msg[sizeof(local.msg)];
	int err;

	if (!os)
		return -EINVAL;
	if (!os->cfg.create_bucket) {
		snprintf(msg, sizeof(msg), "%.900s", eb && eb->msg[0] ?
			 eb->msg : os->url);
		errbuf_clear(eb);
		return errbuf_set(eb, -ENOENT, "%s: create it, or pass "
				  "--create-bucket", msg);
	}
	err = objstore_create_bucket(os, &local);
	/* what eb holds ("does not exist") is what made us create it: the
	 * create's own failure is the news (first error wins otherwise) */
	errbuf_clear(eb);
	if (err < 0)
		return errbuf_set(eb, err, "%s", local.msg);
	return 0;
}

/* DELETE of key (with query q, may be NULL) for operation op; a 404
 * is what was asked: 0. */
static int delete_key(struct objstore *os, const char *key,
		      struct uri_query *q, const char *op, struct errbuf *eb)
{
	char fk[OBJSTORE_KEY_MAX + 1];
	struct objstore_req r = { .method = "DELETE", .fk = fk, .q = q };
	struct http_request req;
	int err;

	err = objstore_check_key(os, key, eb);
	if (!err)
		err = objstore_full_key(os, key, fk, sizeof(fk), eb);
	if (err)
		return err;
	err = os->ops->request(os, &req, &r);
	if (!err) {
		err = http_multi_run(os->hm, &req);
		if (err == -ENOENT)
			err = 0;   /* gone already: what was asked */
		else if (err)
			err = objstore_fail(os, &req, op, key, eb);
	}
	http_request_release(&req);
	return err;
}

int objstore_del(struct objstore *os, const char *key, struct errbuf *eb)
{
	return os ? delete_key(os, key, NULL, "delete", eb) : -EINVAL;
}

int objstore_abort_upload(struct objstore *os, const char *key,
			  const char *upload_id, struct errbuf *eb)
{
	struct uri_query q = { .n = 0 };

	if (!os || !upload_id)
		return -EINVAL;
	if (!os->ops->uploads_query)
		return -EOPNOTSUPP;
	/* NoSuchUpload: aborted or completed already */
	uri_query_add(&q, "uploadId", upload_id);
	return delete_key(os, key, &q, "abort the upload of", eb);
}

/* Single DELETEs, cfg.transfers in flight; a missing object is
 * deleted already. */
static int del_parallel(struct objstore *os, const char *const *keys,
			size_t n, struct errbuf *eb)
{
	unsigned window = os->cfg.transfers ? os->cfg.transfers : 1;
	char fk[OBJSTORE_KEY_MAX + 1];
	struct objstore_req r = { .method = "DELETE", .fk = fk };
	struct http_request *reqs;
	struct http_wait wait;
	size_t i, j, w;
	int err = 0;

	reqs = calloc(window, sizeof(*reqs));
	if (!reqs)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	http_wait_init(&wait);
	for (i = 0; i < n && !err; i += window) {
		w = MIN(window, n - i);
		for (j = 0; j < w && !err; j++) {
			err = objstore_full_key(os, keys[i + j], fk, sizeof(fk),
						eb);
			if (!err)
				err = os->ops->request(os, &reqs[j], &r);
			if (!err) {
				reqs[j].wait = &wait;
				err = http_multi_submit(os->hm, &reqs[j]);
			}
		}
		http_wait_all(&wait);
		for (j = 0; j < w; j++) {
			if (reqs[j].url && reqs[j].result &&
			    reqs[j].result != -ENOENT && !err)
				err = objstore_fail(os, &reqs[j], "delete",
						    keys[i + j], eb);
			http_request_release(&reqs[j]);
			memset(&reqs[j], 0, sizeof(reqs[j]));
		}
	}
	http_wait_release(&wait);
	free(reqs);
	return err;
}

int objstore_del_many(struct objstore *os, const char *const *keys,
		      size_t n, struct errbuf *eb)
{
	size_t i;
	int err;

	if (!os || (n && !keys))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		err = objstore_check_key(os, keys[i], eb);
		if (err)
			return err;
	}
	if (!os->ops->del_batch)
		return del_parallel(os, keys, n, eb);
	for (i = 0, err = 0; i < n && !err; i += os->ops->del_batch_max)
		err = os->ops->del_batch(os, keys + i,
					 MIN(os->ops->del_batch_max, n - i),
					 eb);
	return err;
}

/* --- helpers for the backends --- */

int objstore_hdrs_add(struct objstore_hdrs *hs, const char *name,
		      const char *value)
{
	size_t vl = strlen(value);

	if (hs->n == OBJSTORE_HDRS_MAX || vl >= OBJSTORE_HDR_VAL_MAX)
		return -E2BIG;
	memcpy(hs->val[hs->n], value, vl + 1);
	hs->h[hs->n].name = name;
	hs->h[hs->n].value = hs->val[hs->n];
	hs->n++;
	return 0;
}

const char *objstore_opt_or_env(const struct json_opts *o, const char *key,
				const char *env1, const char *env2)
{
	const char *v = json_opts_get(o, key);

	if (v && *v)
		return v;
	v = env1 ? objstore_env(env1) : NULL;
	if (!v && env2)
		v = objstore_env(env2);
	return v;
}

int objstore_check_option_keys(const struct json_opts *o,
			       const char *const *allowed, const char *scheme,
			       struct errbuf *eb)
{
	size_t i, j;
	const char *k;
	char q[128];

	(void)eb;
	for (i = 0; i < json_opts_count(o); i++) {
		k = json_opts_key(o, i);
		if (!strcmp(k, "create_bucket"))   /* objstore_open's */
			continue;
		for (j = 0; allowed[j]; j++)
			if (!strcmp(allowed[j], k))
				break;
		if (!allowed[j]) {
			errbuf_quote_name(q, sizeof(q), k, strlen(k));
			/* the Python tool handed every option to fsspec:
			 * options for its other knobs are not an error */
			log_warn(NULL, "storage option '%s' for %s:// is not "
				 "used by snapshooter (ignored)", q, scheme);
		}
	}
	return 0;
}

int objstore_full_key(const struct objstore *os, const char *key, char *out,
		      size_t cap, struct errbuf *eb)
{
	size_t pl = strlen(os->prefix), kl = strlen(key);

	if (pl + kl > OBJSTORE_KEY_MAX || pl + kl + 1 > cap)
		return errbuf_set(eb, -ENAMETOOLONG,
				  "object key too long in '%s' (%zu bytes)",
				  os->url, pl + kl);
	memcpy(out, os->prefix, pl);
	memcpy(out + pl, key, kl + 1);
	return 0;
}

/* Length of "scheme://host[:port]" at the start of url. */
static size_t endpoint_len(const char *url)
{
	const char *h = strstr(url, "://");

	if (!h)
		return strlen(url);
	h += 3;
	return (size_t)(h - url) + strcspn(h, "/");
}

int objstore_fail(const struct objstore *os, const struct http_request *req,
		  const char *op, const char *key, struct errbuf *eb)
{
	char code[96] = "", msg[256] = "", qkey[300], url[512];
	const char *q;
	size_t ul;
	int err = req->result ? req->result : -EIO;

	errbuf_quote_name(qkey, sizeof(qkey), key ? key : "",
			  key ? strlen(key) : 0);
	/* the URL without its query: a SAS token is a secret */
	q = strchr(req->url ? req->url : "", '?');
	ul = q ? (size_t)(q - req->url) : strlen(req->url ? req->url : "");
	if (ul >= sizeof(url))
		ul = sizeof(url) - 1;
	memcpy(url, req->url ? req->url : "", ul);
	url[ul] = '\0';
	if (req->resp.error_code[0])
		snprintf(code, sizeof(code), "%s", req->resp.error_code);
	if (req->errbody_len) {
		if (!code[0])
			xml_value(req->errbody, req->errbody_len, "Code", code,
				  sizeof(code));
		xml_value(req->errbody, req->errbody_len, "Message", msg,
			  sizeof(msg));
	}
	msg[strcspn(msg, "\r\n")] = '\0';   /* Azure adds RequestId lines */
	/* dropped by its caller (http_request.cancel) or a stopping stage:
	 * not an answer of the store, whatever an earlier attempt got */
	if (req->result == -ECANCELED)
		return errbuf_set(eb, -ECANCELED,
				  "cannot %s '%s%s%s': cancelled (%s %s, %u "
				  "attempt%s sent)", op, os->url,
				  key ? "/" : "", qkey, req->method, url,
				  req->attempts, req->attempts == 1 ? "" : "s");
	/* the store's code may only be in the body (S3): map it now */
	if (req->result && req->result != req->src_err &&
	    req->result != req->sink_err && code[0] &&
	    http_status_errno(req->curl_code, req->resp.status, code, NULL))
		err = http_status_errno(req->curl_code, req->resp.status, code,
					NULL);
	if (req->curl_code == CURLE_OPERATION_TIMEDOUT &&
	    req->timed_out_ms && req->result != req->src_err &&
	    req->result != req->sink_err)
		return errbuf_set(eb, err,
				  "cannot %s '%s%s%s': %s %s timed out after "
				  "%ld s (%s, %u attempt%s)",
				  op, os->url, key ? "/" : "", qkey,
				  req->method, url,
				  (req->timed_out_ms + 999) / 1000,
				  !req->timed_out_connecting ?
				  "no answer: --io-timeout" :
				  "no connection: --connect-timeout",
				  req->attempts,
				  req->attempts == 1 ? "" : "s");
	/* the bucket itself is missing: say so, and where */
	if (req->resp.status == 404 && (!strcmp(code, "NoSuchBucket") ||
					!strcmp(code, "ContainerNotFound")))
		return errbuf_set(eb, -ENOENT, "%s '%s' does not exist at %.*s",
				  strcmp(code, "NoSuchBucket") ? "container" :
				  "bucket", os->bucket, (int)endpoint_len(url),
				  url);
	if (req->curl_code != CURLE_OK && req->result != req->src_err &&
	    req->result != req->sink_err)
		return errbuf_set(eb, err,
				  "cannot %s '%s%s%s': %s (%s %s, %u attempt%s)",
				  op, os->url, key ? "/" : "", qkey,
				  req->errbuf[0] ? req->errbuf :
				  curl_easy_strerror(req->curl_code),
				  req->method, url, req->attempts,
				  req->attempts == 1 ? "" : "s");
	if (req->resp.status && (code[0] || req->resp.status < 200 ||
				 req->resp.status >= 300))
		return errbuf_set(eb, err,
				  "cannot %s '%s%s%s': HTTP %ld %s%s%s "
				  "(%s %s, %u attempt%s)",
				  op, os->url, key ? "/" : "", qkey,
				  req->resp.status,
				  code[0] ? code :
				  http_status_reason(req->resp.status),
				  msg[0] ? ": " : "", msg,
				  req->method, url, req->attempts,
				  req->attempts == 1 ? "" : "s");
	return errbuf_set(eb, err, "cannot %s '%s%s%s': %s%s%s", op, os->url,
			  key ? "/" : "", qkey, strerror(-err),
			  code[0] ? ": " : "", code);
}

static int64_t parse_iso8601(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, sec;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec)
	    != 6)
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	return (int64_t)timegm(&tm);
}

int64_t objstore_parse_time(const char *s)
{
	time_t t;

	if (!s || !*s)
		return 0;
	if (s[0] >= '0' && s[0] <= '9' && strchr(s, 'T'))
		return parse_iso8601(s);
	t = curl_getdate(s, NULL);
	return t < 0 ? 0 : (int64_t)t;
}

bool objstore_md5_from_etag(const char *etag, uint8_t md5[16])
{
	size_t n = strlen(etag);

	if (n == 34 && etag[0] == '"' && etag[33] == '"')
		etag++;
	else if (n != 32)
		return false;
	return decode_hex(etag, 16, md5) == 0;
}

void objstore_info_from_resp(const struct http_resp *r,
			     struct objstore_info *info)
{
	info->size = r->has_length ? r->content_length : 0;
	snprintf(info->etag, sizeof(info->etag), "%s", r->etag);
	info->etag_not_md5 = r->etag_not_md5;
	info->has_md5 = false;
	if (r->content_md5[0] &&
	    decode_base64(r->content_md5, strlen(r->content_md5), info->md5,
			    sizeof(info->md5)) == 16)
		info->has_md5 = true;
	else if (r->meta_md5chksum[0] &&
		 decode_base64(r->meta_md5chksum, strlen(r->meta_md5chksum),
				 info->md5, sizeof(info->md5)) == 16)
		info->has_md5 = true;   /* rclone's, on multipart objects */
	else if (strlen(r->meta_md5) == 32 &&
		 !decode_hex(r->meta_md5, 16, info->md5))
		info->has_md5 = true;   /* this tool's before rclone's */
	info->last_modified = objstore_parse_time(r->last_modified);
	/* a value that does not parse is ignored: Last-Modified stands */
	info->has_mtime = objmeta_mtime_parse(r->meta_mtime,
					      strlen(r->meta_mtime),
					      &info->mtime_ns);
}

int objstore_xml_escape(const char *s, char *out, size_t cap)
{
	size_t o = 0, n;
	const char *rep;
	char one[2] = { 0, 0 };

	for (; *s; s++) {
		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		default: one[0] = *s; rep = one; break;
		}
		n = strlen(rep);
		if (o + n >= cap)
			return -ENAMETOOLONG;
		memcpy(out + o, rep, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
}
