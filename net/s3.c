/* s3: S3 requests on the http_multi thread, each attempt signed there
 * (sigv4.h). The signer signs the query string exactly as written and
 * takes the payload hash from our x-amz-content-sha256 header, as curl
 * 7.88 did (see object-stores.md), so every URL is built canonical here:
 * keys encoded per RFC 3986 with '/' kept, query parameters sorted,
 * values fully encoded. Bodies we upload are sent
 * UNSIGNED-PAYLOAD and protected by Content-MD5; small XML bodies we
 * build (complete, delete) carry their real SHA-256. */
#include "s3.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "compiler.h"
#include "digest.h"
#include "encode.h"
#include "objmeta.h"
#include "s3_conf.h"
#include "uri.h"
#include "xml_list.h"

#include "banned.h"

#define EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define S3_LIST_BODY_MAX (32u << 20)
#define S3_SMALL_BODY_MAX (1u << 20)
#define S3_MAX_PARTS 10000
#define S3_DELETE_BATCH 1000
/* Every object's type, as Azure's are (azure.c): sent, never left to
 * the server, so that a small body sent with the request's head (net's
 * inline bodies) is not stored as a form (libcurl adds
 * "application/x-www-form-urlencoded" to such a request that names no
 * type). */
#define S3_OBJECT_TYPE "application/octet-stream"

struct s3 {
	struct objstore os;
	char base[600];         /* URL of the bucket, no trailing slash */
	char service[600];      /* s3_conf's: the endpoint, "" AWS */
	struct sigv4 sigv4;     /* the signer of every request */
	char region[64];
	char *access_key;
	char *secret;
	char *token;
	bool anon;              /* unsigned requests (storage option anon) */
};

static struct s3 *to_s3(struct objstore *os)
{
	return container_of(os, struct s3, os);
}

/* URL of key (NULL: the bucket) with query q into req->url; headers for
 * signing and the payload hash. */
static int s3_request(struct s3 *s, struct http_request *req,
		      const char *method, const char *full_key,
		      struct uri_query *q, const char *payload_sha256)
{
	char url[OBJSTORE_URL_MAX];
	size_t len = 0;
	int err;

	http_request_init(req);
	req->method = method;
	err = uri_append(s->base, url, sizeof(url), &len);
	if (!err && full_key) {
		err = uri_append("/", url, sizeof(url), &len);
		if (!err)
			err = uri_encode(full_key, strlen(full_key), true, url,
					 sizeof(url), &len);
	} else if (!err && !strchr(s->base + 8, '/')) {
		err = uri_append("/", url, sizeof(url), &len);
	}
	if (!err && q)
		err = uri_query_append(q, url, sizeof(url), &len);
	if (err)
		return err;
	req->url = strdup(url);
	if (!req->url)
		return -ENOMEM;
	req->sigv4 = s->anon ? NULL : &s->sigv4;
	err = http_request_header(req, "x-amz-content-sha256: %s",
				  payload_sha256);
	if (!err && s->token)
		err = http_request_header(req, "x-amz-security-token: %s",
					  s->token);
	return err;
}

static int hdr_md5(struct http_request *req, const uint8_t md5[16])
{
	char b64[32];

	encode_base64(md5, 16, b64);
	return http_request_header(req, "Content-MD5: %s", b64);
}

static int hdr_meta(struct http_request *req,
		    const struct objstore_put_opts *po, const uint8_t *md5)
{
	char mt[OBJMETA_MTIME_MAX], b64[32];
	int err;

	err = http_request_header(req, "Content-Type: %s", S3_OBJECT_TYPE);
	if (!err && po->has_mtime) {
		objmeta_mtime_s3(po->mtime_ns, mt);
		err = http_request_header(req, "x-amz-meta-mtime: %s", mt);
	}
	if (!err && md5) {
		/* rclone's key: base64 of the MD5 (objmeta.h) */
		encode_base64(md5, 16, b64);
		err = http_request_header(req, "x-amz-meta-md5chksum: %s", b64);
	}
	return err;
}

/* objstore_ops.put_headers: the type and the mtime metadata; a
 * single-part object's ETag is its MD5 already. */
static int s3_put_headers(struct objstore *os,
			  const struct objstore_put_opts *po,
			  struct objstore_hdrs *h)
{
	char mt[OBJMETA_MTIME_MAX];
	int err;

	(void)os;
	err = objstore_hdrs_add(h, "Content-Type", S3_OBJECT_TYPE);
	if (err || !po->has_mtime)
		return err;
	objmeta_mtime_s3(po->mtime_ns, mt);
	return objstore_hdrs_add(h, "x-amz-meta-mtime", mt);
}

/* A small request whose 2xx body we read (XML answers). */
static int run_with_body(struct s3 *s, struct http_request *req,
			 struct body_sink *sink, size_t cap)
{
	memset(sink, 0, sizeof(*sink));
	sink->kind = BODY_SINK_MEM;
	sink->mem_cap = cap;
	req->sink = sink;
	return http_multi_run(s->os.hm, req);
}

/* A 200 answer that is an <Error> document (CompleteMultipartUpload,
 * CopyObject): fail like an HTTP error. */
static int error_in_body(struct s3 *s, struct http_request *req,
			 const struct body_sink *sink, const char *op,
			 const char *key, struct errbuf *eb)
{
	char code[96];

	if (!sink->mem_len || xml_value(sink->mem, sink->mem_len, "Code",
					code, sizeof(code)) != 1)
		return 0;
	req->result = -EIO;
	free(req->errbody);
	req->errbody = strndup(sink->mem, sink->mem_len);
	req->errbody_len = req->errbody ? sink->mem_len : 0;
	return objstore_fail(&s->os, req, op, key, eb);
}

/* POST the XML body xml[len] to fk (NULL: the bucket) with query q:
 * signed over its SHA-256 and sent with its Content-MD5 (S3 requires one
 * on DeleteObjects), not sent again after a failure unless idempotent,
 * its 2xx answer read into sink (at most cap bytes). req and sink are
 * set up here in every case, for the caller to read and release. 0; a
 * failed request as objstore_fail says it ("cannot <op> '<url>/<key>':
 * ...", the store's URL alone without a key), or -errno before anything
 * was sent. */
static int post_xml(struct s3 *s, struct http_request *req, const char *fk,
		    struct uri_query *q, const char *xml, size_t len,
		    bool idempotent, struct body_sink *sink, size_t cap,
		    const char *op, const char *key, struct errbuf *eb)
{
	uint8_t sha[32], md5[16];
	char hex[65];
	int err;

	http_request_init(req);
	memset(sink, 0, sizeof(*sink));
	err = digest_sha256(xml, len, sha);
	if (!err)
		err = digest_md5(xml, len, md5);
	if (err)
		return err;
	encode_hex(sha, 32, hex);
	err = s3_request(s, req, "POST", fk, q, hex);
	if (!err)
		err = hdr_md5(req, md5);
	if (!err)
		err = http_request_header(req, "Content-Type: application/xml");
	if (err)
		return err;
	req->src.kind = BODY_SRC_MEM;
	req->src.mem = xml;
	req->src.len = len;
	req->idempotent = idempotent;
	err = run_with_body(s, req, sink, cap);
	return err ? objstore_fail(&s->os, req, op, key, eb) : 0;
}

/* A multipart upload in flight: its id and the ETag of each part. */
struct s3_upload {
	char id[1024];
	char (*etags)[80];
	uint64_t nparts;
};

static void s3_abort_upload(struct objstore *os, void *upload,
			    const char *fk)
{
	struct s3 *s = to_s3(os);
	struct s3_upload *u = upload;
	struct http_request req;
	struct uri_query q = { 0 };

	uri_query_add(&q, "uploadId", u->id);
	if (!s3_request(s, &req, "DELETE", fk, &q, EMPTY_SHA256))
		http_multi_run(s->os.hm, &req);
	http_request_release(&req);
}

static int s3_complete(struct objstore *os, void *upload, const char *fk,
		       const char *key, uint64_t n,
		       const struct objstore_put_opts *po,
		       const uint8_t whole_md5[16], struct errbuf *eb)
{
	struct s3 *s = to_s3(os);
	struct s3_upload *u = upload;
	struct http_request req;
	struct body_sink sink;
	struct uri_query q = { 0 };
	char *xml = NULL;
	size_t xml_len = 0;
	uint64_t i;
	FILE *f;
	int err;

	(void)po;          /* the metadata went with the initiate */
	(void)whole_md5;
	f = open_memstream(&xml, &xml_len);
	if (!f)
		return -ENOMEM;
	fputs("<CompleteMultipartUpload>", f);
	for (i = 0; i < n; i++)
		fprintf(f, "<Part><PartNumber>%llu</PartNumber><ETag>%s</ETag>"
			"</Part>", (unsigned long long)i + 1, u->etags[i]);
	fputs("</CompleteMultipartUpload>", f);
	if (fclose(f) || !xml) {
		free(xml);
		return -ENOMEM;
	}
	uri_query_add(&q, "uploadId", u->id);
	err = post_xml(s, &req, fk, &q, xml, xml_len, false, &sink,
		       S3_SMALL_BODY_MAX, "complete upload of", key, eb);
	if (!err)
		err = error_in_body(s, &req, &sink, "complete upload of", key,
				    eb);
	body_sink_release(&sink);
	http_request_release(&req);
	free(xml);
	return err;
}

/* Initiate: the metadata (mtime, the whole body's md5 as rclone reads
 * it) goes with it; the answer names the upload. */
static int s3_begin_upload(struct objstore *os, const char *fk,
			   const char *key, const struct objstore_put_opts *po,
			   const uint8_t md5[16], uint64_t nparts,
			   void **upload, struct errbuf *eb)
{
	struct s3 *s = to_s3(os);
	struct http_request req;
	struct body_sink sink;
	struct uri_query q = { 0 };
	struct s3_upload *u;
	int err;

	u = calloc(1, sizeof(*u));
	if (u)
		u->etags = calloc(nparts, sizeof(*u->etags));
	if (!u || !u->etags) {
		free(u);
		return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	u->nparts = nparts;
	*upload = u;
	uri_query_add(&q, "uploads", "");
	err = s3_request(s, &req, "POST", fk, &q, EMPTY_SHA256);
	if (!err)
		err = hdr_meta(&req, po, md5);
	if (err) {
		http_request_release(&req);
		return err;
	}
	req.idempotent = false;
	err = run_with_body(s, &req, &sink, S3_SMALL_BODY_MAX);
	if (err) {
		err = objstore_fail(&s->os, &req, "start upload of", key, eb);
	} else if (xml_value(sink.mem, sink.mem_len, "UploadId", u->id,
			     sizeof(u->id)) != 1 || !u->id[0]) {
		err = errbuf_set(eb, -EBADMSG, "cannot start upload of '%s/%s':"
				 " no UploadId in the answer", s->os.url, key);
	}
	body_sink_release(&sink);
	http_request_release(&req);
	return err;
}

static int s3_part(struct objstore *os, void *upload, const char *fk,
		   uint64_t idx, uint64_t len, const uint8_t md5[16],
		   struct http_request *req)
{
	struct s3_upload *u = upload;
	struct uri_query q = { 0 };
	char num[24];
	int err;

	(void)len;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)idx + 1);
	uri_query_add(&q, "partNumber", num);
	uri_query_add(&q, "uploadId", u->id);
	err = s3_request(to_s3(os), req, "PUT", fk, &q, "UNSIGNED-PAYLOAD");
	if (!err)
		err = hdr_md5(req, md5);
	return err;
}

static void s3_part_done(void *upload, uint64_t idx,
			 const struct http_request *req)
{
	struct s3_upload *u = upload;

	snprintf(u->etags[idx], sizeof(u->etags[0]), "%.79s", req->resp.etag);
}

/* An upload that failed before it had an id aborts nothing. */
static void s3_abort_if_started(struct objstore *os, void *upload,
				const char *fk)
{
	struct s3_upload *u = upload;

	if (u && u->id[0])
		s3_abort_upload(os, upload, fk);
}

static void s3_upload_free(void *upload)
{
	struct s3_upload *u = upload;

	if (u)
		free(u->etags);
	free(u);
}

static const struct objstore_parts_ops s3_parts_ops = {
	.part_name = "part",
	.max_parts = S3_MAX_PARTS,
	.part_align = 1 << 20,
	.begin = s3_begin_upload,
	.part = s3_part,
	.part_done = s3_part_done,
	.complete = s3_complete,
	.abort = s3_abort_if_started,
	.free = s3_upload_free,
};

/* objstore_ops.request: SigV4 by libcurl; a body is sent
 * UNSIGNED-PAYLOAD (Content-MD5 protects it), none as the empty payload's
 * hash. The extra headers are not signed (SigV4 signs host and x-amz-*). */
static int s3_request_hook(struct objstore *os, struct http_request *req,
			   const struct objstore_req *r)
{
	size_t i;
	int err;

	err = s3_request(to_s3(os), req, r->method, r->fk, r->q,
			 r->has_body ? "UNSIGNED-PAYLOAD" : EMPTY_SHA256);
	for (i = 0; !err && r->hdrs && i < r->hdrs->n; i++)
		err = http_request_header(req, "%s: %s", r->hdrs->h[i].name,
					  r->hdrs->h[i].value);
	return err;
}

/* objstore_ops.list_query: ListObjectsV2. */
static void s3_list_query(struct uri_query *q, const char *fp,
			  const char *ps, const char *marker)
{
	uri_query_add(q, "list-type", "2");
	if (fp[0])
		uri_query_add(q, "prefix", fp);
	if (ps)
		uri_query_add(q, "max-keys", ps);
	if (marker)
		uri_query_add(q, "continuation-token", marker);
}

/* objstore_ops.uploads_query: ListMultipartUploads. */
static void s3_uploads_query(struct uri_query *q, const char *fp,
			     const char *ps, const char *key_marker,
			     const char *id_marker)
{
	uri_query_add(q, "uploads", "");
	if (fp[0])
		uri_query_add(q, "prefix", fp);
	if (ps)
		uri_query_add(q, "max-uploads", ps);
	if (key_marker)
		uri_query_add(q, "key-marker", key_marker);
	if (id_marker)
		uri_query_add(q, "upload-id-marker", id_marker);
}

/* objstore_ops.del_batch: DeleteObjects, up to S3_DELETE_BATCH keys. */
static int s3_del_batch(struct objstore *os, const char *const *keys,
			size_t n, struct errbuf *eb)
{
	struct s3 *s = to_s3(os);
	char fk[OBJSTORE_KEY_MAX + 1], esc[6 * OBJSTORE_KEY_MAX + 1];
	struct http_request req;
	struct body_sink sink;
	struct uri_query q = { 0 };
	char code[96], ekey[OBJSTORE_KEY_MAX + 1];
	char *xml = NULL;
	size_t xml_len = 0, i;
	FILE *f;
	int err = 0;

	f = open_memstream(&xml, &xml_len);
	if (!f)
		return -ENOMEM;
	fputs("<Delete><Quiet>true</Quiet>", f);
	for (i = 0; i < n && !err; i++) {
		err = objstore_full_key(&s->os, keys[i], fk, sizeof(fk), eb);
		if (!err)
			err = objstore_xml_escape(fk, esc, sizeof(esc));
		if (!err)
			fprintf(f, "<Object><Key>%s</Key></Object>", esc);
	}
	fputs("</Delete>", f);
	if (fclose(f) || !xml) {
		free(xml);
		return -ENOMEM;
	}
	if (err) {
		free(xml);
		return err;
	}
	uri_query_add(&q, "delete", "");
	err = post_xml(s, &req, NULL, &q, xml, xml_len, true, &sink,
		       S3_LIST_BODY_MAX, "delete objects in", NULL, eb);
	if (!err && sink.mem_len &&
	    xml_value(sink.mem, sink.mem_len, "Code", code,
		      sizeof(code)) == 1) {
		xml_value(sink.mem, sink.mem_len, "Key", ekey, sizeof(ekey));
		err = errbuf_set(eb, -EIO, "cannot delete '%s/%s': %s",
				 s->os.url, ekey, code);
	}
	body_sink_release(&sink);
	http_request_release(&req);
	free(xml);
	return err;
}

static int s3_copy(struct objstore *os, struct objstore *src_os,
		   const char *src_key, const char *dst_key,
		   const char *if_match, struct errbuf *eb)
{
	struct s3 *s = to_s3(os);
	char fs[OBJSTORE_KEY_MAX + 1], fd[OBJSTORE_KEY_MAX + 1];
	char source[4 * OBJSTORE_KEY_MAX + 600];
	struct http_request req;
	struct body_sink sink;
	size_t len = 0;
	int err;

	err = objstore_full_key(src_os, src_key, fs, sizeof(fs), eb);
	if (!err)
		err = objstore_full_key(os, dst_key, fd, sizeof(fd), eb);
	if (err)
		return err;
	err = uri_append("/", source, sizeof(source), &len);
	if (!err)
		err = uri_encode(src_os->bucket, strlen(src_os->bucket), false,
				 source, sizeof(source), &len);
	if (!err)
		err = uri_append("/", source, sizeof(source), &len);
	if (!err)
		err = uri_encode(fs, strlen(fs), true, source, sizeof(source),
				 &len);
	if (err)
		return errbuf_set(eb, err, "cannot copy '%s/%s': key too long",
				  src_os->url, src_key);
	err = s3_request(s, &req, "PUT", fd, NULL, EMPTY_SHA256);
	if (!err)
		err = http_request_header(&req, "x-amz-copy-source: %s", source);
	/* the copy is made only from the version listed: a source replaced
	 * since is refused (412) rather than copied under a name that is
	 * not its MD5 (signed by net/sigv4.c; libcurl's signer made Swift's
	 * s3api answer 403 SignatureDoesNotMatch to it). Not on a multipart
	 * ETag ("<hex>-<parts>"): Swift's s3api refuses every such
	 * condition (412, boto3 too). No heap copy comes from one (no MD5
	 * is listed for it); a sync copies such an object as it is now */
	if (if_match && strchr(if_match, '-'))
		if_match = NULL;
	if (!err && if_match)
		err = http_request_header(&req,
					  "x-amz-copy-source-if-match: %s",
					  if_match);
	if (err)
		goto out;
	err = run_with_body(s, &req, &sink, S3_SMALL_BODY_MAX);
	if (err) {
		err = objstore_copy_fail(os, src_os, &req, src_key, dst_key,
					 if_match, eb);
	} else
		err = error_in_body(s, &req, &sink, "copy to", dst_key, eb);
	body_sink_release(&sink);
out:
	http_request_release(&req);
	return err;
}

static int s3_create_bucket(struct objstore *os, struct errbuf *eb)
{
	struct s3 *s = to_s3(os);
	struct http_request req;
	char body[256];
	uint8_t sha[32];
	char hex[65];
	int n = 0, err;

	if (strcmp(s->region, "us-east-1"))
		n = snprintf(body, sizeof(body),
			     "<CreateBucketConfiguration><LocationConstraint>"
			     "%s</LocationConstraint></CreateBucketConfiguration>",
			     s->region);
	if (n < 0 || (size_t)n >= sizeof(body))
		return -EINVAL;
	err = digest_sha256(body, (size_t)n, sha);
	if (err)
		return err;
	encode_hex(sha, 32, hex);
	err = s3_request(s, &req, "PUT", NULL, NULL, hex);
	if (err)
		goto out;
	req.src.kind = BODY_SRC_MEM;
	req.src.mem = body;
	req.src.len = (uint64_t)n;
	err = http_multi_run(os->hm, &req);
	if (err == -EEXIST)
		err = 0;   /* BucketAlreadyOwnedByYou (s3rver: ...Exists) */
	else if (err)
		err = objstore_fail(os, &req, "create bucket", NULL, eb);
out:
	http_request_release(&req);
	return err;
}

static bool s3_same_service(const struct objstore *a, const struct objstore *b)
{
	const struct s3 *x = container_of(a, const struct s3, os);
	const struct s3 *y = container_of(b, const struct s3, os);

	return !strcmp(x->service, y->service) &&
	       !strcmp(x->region, y->region) &&
	       x->anon == y->anon &&
	       !strcmp(x->access_key ? x->access_key : "",
		       y->access_key ? y->access_key : "");
}

static void s3_free(struct objstore *os)
{
	struct s3 *s = to_s3(os);

	free(s->access_key);
	if (s->secret)
		OPENSSL_cleanse(s->secret, strlen(s->secret));
	free(s->secret);
	free(s->token);
	OPENSSL_cleanse(&s->sigv4, sizeof(s->sigv4));   /* the day's key */
	free(s);
}

static const struct objstore_ops s3_ops = {
	.scheme = "s3",
	.request = s3_request_hook,
	.range_header = "Range",
	.etag_is_md5 = true,
	.put_headers = s3_put_headers,
	.parts = &s3_parts_ops,
	.list_query = s3_list_query,
	.uploads_query = s3_uploads_query,
	.list_format = XML_LIST_S3,
	.del_batch = s3_del_batch,
	.del_batch_max = S3_DELETE_BATCH,
	.copy = s3_copy,
	.create_bucket = s3_create_bucket,
	.same_service = s3_same_service,
	.free = s3_free,
};

int s3_open(struct objstore **out, const char *bucket,
	    const struct json_opts *opts, struct errbuf *eb)
{
	struct s3_conf *c;
	struct s3 *s;
	int err;

	objstore_check_option_keys(opts, s3_conf_option_keys, "s3", eb);
	c = calloc(1, sizeof(*c));
	s = calloc(1, sizeof(*s));
	if (!c || !s) {
		err = -ENOMEM;
		goto out;
	}
	err = s3_conf_resolve(opts, bucket, c, eb);
	if (err)
		goto out;
	s->os.ops = &s3_ops;
	s->anon = c->anon;
	snprintf(s->base, sizeof(s->base), "%s", c->base);
	snprintf(s->service, sizeof(s->service), "%s", c->service);
	snprintf(s->region, sizeof(s->region), "%s", c->region);
	if (!c->anon) {
		s->access_key = strdup(c->access_key);
		s->secret = strdup(c->secret);
		s->token = c->token[0] ? strdup(c->token) : NULL;
		if (!s->access_key || !s->secret ||
		    (c->token[0] && !s->token)) {
			err = -ENOMEM;
			goto out;
		}
		err = sigv4_init(&s->sigv4, s->access_key, s->secret,
				 c->region, "s3");
		if (err) {
			errbuf_set(eb, err, "invalid region '%s'", c->region);
			goto out;
		}
	}
	*out = &s->os;
	s = NULL;
out:
	if (s)
		s3_free(&s->os);
	if (c)
		memset(c, 0, sizeof(*c));
	free(c);
	return err;
}
