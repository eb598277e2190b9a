/* azure: Azure Blob requests on the http_multi thread. Every request is
 * signed when it is built (x-ms-date then stays valid for the retries of
 * the next 15 minutes); with a SAS the token is appended to the query
 * instead and never shown in messages. */
#include "azure.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "azure_auth.h"
#include "compiler.h"
#include "digest.h"
#include "encode.h"
#include "objmeta.h"
#include "uri.h"
#include "xml_list.h"

#include "banned.h"

#define AZ_MAX_BLOCKS 50000
#define AZ_MAX_HEADERS 16
#define AZ_COPY_POLLS 600

const char *const azure_option_keys[] = {
	"connection_string", "account_name", "account_key", "sas_token",
	"blob_endpoint", "account_host", "anon", NULL
};

/* Azurite's well-known development account (public, documented) */
static const char dev_account[] = "devstoreaccount1";
static const char dev_key[] =
	"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
	"K1SZFPTOtr/KBHBeksoGMGw==";

struct az {
	struct objstore os;
	char endpoint[600];     /* blob endpoint, no trailing slash */
	char path0[300];        /* its path ("/devstoreaccount1" or "") */
	char account[128];
	uint8_t key[128];
	size_t key_len;         /* 0: SAS only */
	char *sas;              /* query string without '?', or NULL */
};

static struct az *to_az(struct objstore *os)
{
	return container_of(os, struct az, os);
}

struct az_hdrs {
	struct azure_header h[AZ_MAX_HEADERS];
	size_t n;
};

static void hdr_add(struct az_hdrs *h, const char *name, const char *value)
{
	if (h->n < AZ_MAX_HEADERS) {
		h->h[h->n].name = name;
		h->h[h->n].value = value;
		h->n++;
	}
}

/* Build req for the container (key NULL) or a blob: URL with the query in
 * canonical form (+ SAS), x-ms-date/x-ms-version, the headers in h, and
 * the Shared Key signature over them. body_len: Content-Length of a PUT. */
static int az_request(struct az *a, struct http_request *req,
		      const char *method, const char *full_key,
		      struct uri_query *q, struct az_hdrs *h, uint64_t body_len)
{
	char path[OBJSTORE_URL_MAX], url[OBJSTORE_URL_MAX];
	char sts[OBJSTORE_URL_MAX + 2048], auth[256], date[40], clen[24];
	struct uri_query empty = { 0 };
	size_t plen = 0, ulen = 0, i;
	int err;

	http_request_init(req);
	req->method = method;
	if (!q)
		q = &empty;
	err = uri_append(a->path0, path, sizeof(path), &plen);
	if (!err)
		err = uri_append("/", path, sizeof(path), &plen);
	if (!err)
		err = uri_encode(a->os.bucket, strlen(a->os.bucket), false,
				 path, sizeof(path), &plen);
	if (!err && full_key) {
		err = uri_append("/", path, sizeof(path), &plen);
		if (!err)
			err = uri_encode(full_key, strlen(full_key), true, path,
					 sizeof(path), &plen);
	}
	if (!err)
		err = uri_append(a->endpoint, url, sizeof(url), &ulen);
	if (!err)
		err = uri_append(path + strlen(a->path0), url, sizeof(url),
				 &ulen);
	if (!err)
		err = uri_query_append(q, url, sizeof(url), &ulen);
	if (!err && a->sas) {
		err = uri_append(q->n ? "&" : "?", url, sizeof(url), &ulen);
		if (!err)
			err = uri_append(a->sas, url, sizeof(url), &ulen);
	}
	if (err)
		return err;
	req->url = strdup(url);
	if (!req->url)
		return -ENOMEM;
	azure_date_now(date);
	hdr_add(h, "x-ms-date", date);
	hdr_add(h, "x-ms-version", AZURE_API_VERSION);
	if (!strcmp(method, "PUT") || !strcmp(method, "POST")) {
		snprintf(clen, sizeof(clen), "%llu",
			 (unsigned long long)body_len);
		hdr_add(h, "Content-Length", clen);   /* curl sends it */
	}
	if (h->n == AZ_MAX_HEADERS)
		return -E2BIG;
	if (a->key_len) {
		err = azure_string_to_sign(method, h->h, h->n, a->account, path,
					   q, sts, sizeof(sts));
		if (err < 0)
			return err;
		err = azure_shared_key(a->account, a->key, a->key_len, sts,
				       auth, sizeof(auth));
		if (err)
			return err;
		err = http_request_header(req, "Authorization: %s", auth);
		if (err)
			return err;
	}
	for (i = 0; i < h->n; i++) {
		if (!strcasecmp(h->h[i].name, "Content-Length"))
			continue;
		err = http_request_header(req, "%s: %s", h->h[i].name,
					  h->h[i].value);
		if (err)
			return err;
	}
	return 0;
}

/* objstore_ops.put_headers: a block blob, its type, the mtime. */
static int az_put_headers(struct objstore *os,
			  const struct objstore_put_opts *po,
			  struct objstore_hdrs *h)
{
	char mt[OBJMETA_MTIME_MAX];
	int err;

	(void)os;
	err = objstore_hdrs_add(h, "x-ms-blob-type", "BlockBlob");
	if (!err)
		err = objstore_hdrs_add(h, "Content-Type",
					"application/octet-stream");
	if (!err && po->has_mtime) {
		objmeta_mtime_az(po->mtime_ns, mt);
		err = objstore_hdrs_add(h, "x-ms-meta-mtime", mt);
	}
	return err;
}

static void block_id(uint64_t i, char out[24])
{
	char raw[32];

	/* every id of a blob must have the same length */
	snprintf(raw, sizeof(raw), "blk%08llu", (unsigned long long)i);
	encode_base64((const uint8_t *)raw, 11, out);
}

/* Commit the blocks: the whole body's MD5 and our metadata go here. */
static int az_put_block_list(struct objstore *os, void *upload,
			     const char *fk, const char *key, uint64_t nblocks,
			     const struct objstore_put_opts *po,
			     const uint8_t md5[16], struct errbuf *eb)
{
	struct az *a = to_az(os);
	struct az_hdrs h = { 0 };
	struct uri_query q = { 0 };
	struct http_request req;
	char bmd5[32], b64[32], mt[OBJMETA_MTIME_MAX], id[24];
	uint8_t xmd5[16];
	char *xml = NULL;
	size_t xml_len = 0;
	uint64_t i;
	FILE *f;
	int err;

	(void)upload;
	f = open_memstream(&xml, &xml_len);
	if (!f)
		return -ENOMEM;
	fputs("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>", f);
	for (i = 0; i < nblocks; i++) {
		block_id(i, id);
		fprintf(f, "<Latest>%s</Latest>", id);
	}
	fputs("</BlockList>", f);
	if (fclose(f) || !xml) {
		free(xml);
		return -ENOMEM;
	}
	err = digest_md5(xml, xml_len, xmd5);
	if (err)
		goto out;
	encode_base64(xmd5, 16, b64);
	encode_base64(md5, 16, bmd5);
	uri_query_add(&q, "comp", "blocklist");
	hdr_add(&h, "Content-MD5", b64);
	hdr_add(&h, "Content-Type", "application/xml");
	hdr_add(&h, "x-ms-blob-content-md5", bmd5);
	hdr_add(&h, "x-ms-blob-content-type", "application/octet-stream");
	if (po->has_mtime) {
		objmeta_mtime_az(po->mtime_ns, mt);
		hdr_add(&h, "x-ms-meta-mtime", mt);
	}
	err = az_request(a, &req, "PUT", fk, &q, &h, xml_len);
	if (!err) {
		req.src.kind = BODY_SRC_MEM;
		req.src.mem = xml;
		req.src.len = xml_len;
		err = http_multi_run(a->os.hm, &req);
		if (err)
			err = objstore_fail(&a->os, &req, "commit blocks of",
					    key, eb);
	}
	http_request_release(&req);
out:
	free(xml);
	return err;
}

/* Azure needs no begin (blocks are staged on the blob's name) and no
 * abort: uncommitted blocks are dropped by the service after a week. */
static int az_begin_blocks(struct objstore *os, const char *fk,
			   const char *key, const struct objstore_put_opts *po,
			   const uint8_t md5[16], uint64_t nparts,
			   void **upload, struct errbuf *eb)
{
	(void)os; (void)fk; (void)key; (void)po; (void)md5; (void)nparts;
	(void)eb;
	*upload = NULL;
	return 0;
}

static int az_put_block(struct objstore *os, void *upload, const char *fk,
			uint64_t idx, uint64_t len, const uint8_t md5[16],
			struct http_request *req)
{
	struct uri_query q = { 0 };
	struct az_hdrs h = { 0 };
	char b64[32], id[24];

	(void)upload;
	encode_base64(md5, 16, b64);
	block_id(idx, id);
	uri_query_add(&q, "blockid", id);
	uri_query_add(&q, "comp", "block");
	hdr_add(&h, "Content-MD5", b64);
	return az_request(to_az(os), req, "PUT", fk, &q, &h, len);
}

static void az_blocks_free(void *upload)
{
	(void)upload;
}

static const struct objstore_parts_ops az_parts_ops = {
	.part_name = "block",
	.max_parts = AZ_MAX_BLOCKS,
	.part_align = 1,
	.begin = az_begin_blocks,
	.part = az_put_block,
	.part_done = NULL,
	.complete = az_put_block_list,
	.abort = NULL,
	.free = az_blocks_free,
};

/* objstore_ops.request: the headers are signed with the rest (Shared
 * Key covers x-ms-range and Content-MD5), and so is a body's length. */
static int az_request_hook(struct objstore *os, struct http_request *req,
			   const struct objstore_req *r)
{
	struct az_hdrs hs = { 0 };
	size_t i;

	for (i = 0; r->hdrs && i < r->hdrs->n; i++)
		hdr_add(&hs, r->hdrs->h[i].name, r->hdrs->h[i].value);
	return az_request(to_az(os), req, r->method, r->fk, r->q, &hs,
			  r->has_body ? r->body_len : 0);
}

static int az_head_req(struct az *a, const char *fk, const char *key,
		       struct objstore_info *info, struct http_resp *resp,
		       struct errbuf *eb)
{
	struct az_hdrs h = { 0 };
	struct http_request req;
	int err;

	err = az_request(a, &req, "HEAD", fk, NULL, &h, 0);
	if (err)
		goto out;
	err = http_multi_run(a->os.hm, &req);
	info->attempts = req.attempts;
	if (err) {
		err = objstore_fail(&a->os, &req, "head", key, eb);
		goto out;
	}
	objstore_info_from_resp(&req.resp, info);
	if (resp)
		*resp = req.resp;
out:
	http_request_release(&req);
	return err;
}

/* objstore_ops.list_query: List Blobs, with the metadata: the "mtime"
 * comes with the listing (objmeta.h). */
static void az_list_query(struct uri_query *q, const char *fp,
			  const char *ps, const char *marker)
{
	uri_query_add(q, "restype", "container");
	uri_query_add(q, "comp", "list");
	uri_query_add(q, "include", "metadata");
	if (fp[0])
		uri_query_add(q, "prefix", fp);
	if (ps)
		uri_query_add(q, "maxresults", ps);
	if (marker)
		uri_query_add(q, "marker", marker);
}

static int az_copy(struct objstore *os, struct objstore *src_os,
		   const char *src_key, const char *dst_key,
		   const char *if_match, struct errbuf *eb)
{
	struct az *a = to_az(os);
	char fs[OBJSTORE_KEY_MAX + 1], fd[OBJSTORE_KEY_MAX + 1];
	char source[OBJSTORE_URL_MAX];
	struct az_hdrs h = { 0 };
	struct objstore_info info;
	struct http_request req;
	struct http_resp resp;
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	size_t len = 0;
	int err, i;

	err = objstore_full_key(src_os, src_key, fs, sizeof(fs), eb);
	if (!err)
		err = objstore_full_key(os, dst_key, fd, sizeof(fd), eb);
	if (err)
		return err;
	err = uri_append(to_az(src_os)->endpoint, source, sizeof(source), &len);
	if (!err)
		err = uri_append("/", source, sizeof(source), &len);
	if (!err)
		err = uri_encode(src_os->bucket, strlen(src_os->bucket), false,
				 source, sizeof(source), &len);
	if (!err)
		err = uri_append("/", source, sizeof(source), &len);
	if (!err)
		err = uri_encode(fs, strlen(fs), true, source, sizeof(source),
				 &len);
	if (!err && to_az(src_os)->sas) {
		err = uri_append("?", source, sizeof(source), &len);
		if (!err)
			err = uri_append(to_az(src_os)->sas, source,
					 sizeof(source), &len);
	}
	if (err)
		return errbuf_set(eb, err, "cannot copy '%s/%s': URL too long",
				  src_os->url, src_key);
	hdr_add(&h, "x-ms-copy-source", source);
	if (if_match)
		hdr_add(&h, "x-ms-source-if-match", if_match);
	err = az_request(a, &req, "PUT", fd, NULL, &h, 0);
	if (err)
		goto out;
	err = http_multi_run(os->hm, &req);
	if (err) {
		err = objstore_copy_fail(os, src_os, &req, src_key, dst_key,
					 if_match, eb);
		goto out;
	}
	resp = req.resp;
	/* an asynchronous copy: wait for it (bounded) */
	for (i = 0; i < AZ_COPY_POLLS && !strcasecmp(resp.copy_status,
						      "pending"); i++) {
		nanosleep(&ts, NULL);
		err = az_head_req(a, fd, dst_key, &info, &resp, eb);
		if (err)
			goto out;
	}
	if (resp.copy_status[0] && strcasecmp(resp.copy_status, "success"))
		err = errbuf_set(eb, -EIO, "cannot copy to '%s/%s': copy "
				 "status %s", os->url, dst_key,
				 resp.copy_status);
out:
	http_request_release(&req);
	return err;
}

static int az_create_bucket(struct objstore *os, struct errbuf *eb)
{
	struct az *a = to_az(os);
	struct az_hdrs h = { 0 };
	struct uri_query q = { 0 };
	struct http_request req;
	int err;

	uri_query_add(&q, "restype", "container");
	err = az_request(a, &req, "PUT", NULL, &q, &h, 0);
	if (!err) {
		err = http_multi_run(os->hm, &req);
		if (err == -EEXIST)
			err = 0;   /* ContainerAlreadyExists */
		else if (err)
			err = objstore_fail(os, &req, "create container",
					    NULL, eb);
	}
	http_request_release(&req);
	return err;
}

static bool az_same_service(const struct objstore *a, const struct objstore *b)
{
	const struct az *x = container_of(a, const struct az, os);
	const struct az *y = container_of(b, const struct az, os);

	return !strcmp(x->endpoint, y->endpoint) &&
	       !strcmp(x->account, y->account) &&
	       x->key_len == y->key_len &&
	       !memcmp(x->key, y->key, x->key_len) &&
	       !strcmp(x->sas ? x->sas : "", y->sas ? y->sas : "");
}

/* objstore_ops.key_problem: names the Blob service stores as others. It
 * takes a backslash for '/' (a\b would land on, and replace, a/b),
 * and drops a dot that ends a name or one of its folders, as Azure's
 * naming rules warn ("a." would be "a"; Azurite keeps it, Azure does
 * not, which is why rclone encodes both). */
const char *azure_key_problem(const char *key)
{
	const char *p;

	if (strchr(key, '\\'))
		return "Azure Blob Storage turns '\\' into '/' in names";
	for (p = key; *p; p++)
		if (*p == '.' && (p[1] == '/' || !p[1]))
			return "Azure Blob Storage drops a '.' that ends a "
			       "name or a folder name";
	return NULL;
}

static void az_free(struct objstore *os)
{
	struct az *a = to_az(os);

	memset(a->key, 0, sizeof(a->key));
	if (a->sas)
		memset(a->sas, 0, strlen(a->sas));
	free(a->sas);
	free(a);
}

static const struct objstore_ops az_ops = {
	.scheme = "az",
	.request = az_request_hook,
	.range_header = "x-ms-range",
	.etag_is_md5 = false,
	.put_headers = az_put_headers,
	.parts = &az_parts_ops,
	.list_query = az_list_query,
	.list_format = XML_LIST_AZURE,
	.del_batch = NULL,   /* no batch API: single deletes in parallel */
	.copy = az_copy,
	.create_bucket = az_create_bucket,
	.same_service = az_same_service,
	.free = az_free,
	.key_problem = azure_key_problem,
};

static int set_endpoint(struct az *a, const char *ep, struct errbuf *eb)
{
	const char *host, *slash;
	size_t n;

	if (strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8))
		return errbuf_set(eb, -EINVAL, "invalid Azure blob endpoint "
				  "'%s': expected http:// or https://", ep);
	n = strlen(ep);
	while (n && ep[n - 1] == '/')
		n--;
	if (n >= sizeof(a->endpoint))
		return errbuf_set(eb, -EINVAL, "Azure blob endpoint too long");
	memcpy(a->endpoint, ep, n);
	a->endpoint[n] = '\0';
	host = strstr(a->endpoint, "://") + 3;
	slash = strchr(host, '/');
	snprintf(a->path0, sizeof(a->path0), "%s", slash ? slash : "");
	return 0;
}

/* an explicit endpoint from the options: blob_endpoint (a URL), else
 * adlfs's account_host (a host name: https://HOST; a value with a scheme
 * is taken as a URL, which is how tests reach an http:// emulator) */
static const char *option_endpoint(const struct json_opts *opts, char *buf,
				   size_t cap)
{
	const char *ep = json_opts_get(opts, "blob_endpoint");
	const char *host = json_opts_get(opts, "account_host");

	if (ep && *ep)
		return ep;
	if (!host || !*host)
		return NULL;
	if (strstr(host, "://"))
		return host;
	snprintf(buf, cap, "https://%s", host);
	return buf;
}

/* What azure_open found, borrowed from opts, the connection string or
 * the environment; NULL where unset. */
struct az_creds {
	const char *account;
	const char *key;
	const char *sas;
	const char *ep;         /* endpoint URL; NULL: the account's default */
};

/* adlfs's anon: unsigned requests to a public container. Leaves *anon
 * when the option is absent. */
static int anon_option(const struct json_opts *opts, bool *anon,
		       struct errbuf *eb)
{
	const char *v = json_opts_get(opts, "anon");

	if (v && (!strcasecmp(v, "true") || !strcmp(v, "1")))
		*anon = true;
	else if (v && strcasecmp(v, "false") && strcmp(v, "0"))
		return errbuf_set(eb, -EINVAL, "invalid storage option anon: "
				  "expected true or false");
	return 0;
}

/* The account, key, SAS and endpoint from a connection string (the
 * option, or the environment's unless account_name is given; parsed into
 * conn, which c then points into), else from adlfs's options and the
 * Azure CLI's environment. c->ep, from option_endpoint, wins over the
 * connection string's. */
static int find_credentials(const struct json_opts *opts,
			    struct azure_conn *conn, struct az_creds *c,
			    struct errbuf *eb)
{
	const char *cs;
	int err;

	cs = json_opts_get(opts, "connection_string");
	if (!cs && !json_opts_get(opts, "account_name"))
		cs = objstore_env("AZURE_STORAGE_CONNECTION_STRING");
	if (cs) {
		err = azure_conn_parse(cs, conn, eb);
		if (err)
			return err;
		if (conn->dev) {
			c->account = dev_account;
			c->key = dev_key;
			if (!conn->blob_endpoint)
				conn->blob_endpoint =
					"http://127.0.0.1:10000/devstoreaccount1";
		} else {
			c->account = conn->account;
			c->key = conn->key;
			c->sas = conn->sas;
		}
		if (!c->ep)
			c->ep = conn->blob_endpoint;
	} else {
		/* adlfs's names first, then the Azure CLI's */
		c->account = objstore_opt_or_env(opts, "account_name",
						 "AZURE_STORAGE_ACCOUNT_NAME",
						 "AZURE_STORAGE_ACCOUNT");
		c->key = objstore_opt_or_env(opts, "account_key",
					     "AZURE_STORAGE_ACCOUNT_KEY",
					     "AZURE_STORAGE_KEY");
		c->sas = objstore_opt_or_env(opts, "sas_token",
					     "AZURE_STORAGE_SAS_TOKEN", NULL);
	}
	return 0;
}

/* -EINVAL with a message naming what to set when c cannot make a
 * request: an account where one is needed, then credentials. */
static int check_credentials(const struct az *a, const struct az_creds *c,
			     bool anon, struct errbuf *eb)
{
	/* the account signs Shared Key requests and names the default
	 * endpoint; a SAS or anonymous request with an endpoint needs none */
	if ((!c->account && (!c->ep || (c->key && *c->key))) ||
	    (c->account && strlen(c->account) >= sizeof(a->account)))
		return errbuf_set(eb, -EINVAL, "no Azure storage account: set "
				  "AZURE_STORAGE_CONNECTION_STRING, "
				  "AZURE_STORAGE_ACCOUNT_NAME or "
				  "AZURE_STORAGE_ACCOUNT, or the storage "
				  "options connection_string, account_name or "
				  "account_host");
	if (!anon && (!c->key || !*c->key) && (!c->sas || !*c->sas))
		return errbuf_set(eb, -EINVAL, "no Azure credentials for "
				  "%s%s%s: set AZURE_STORAGE_ACCOUNT_KEY, "
				  "AZURE_STORAGE_KEY or "
				  "AZURE_STORAGE_SAS_TOKEN, or the storage "
				  "options account_key, sas_token or anon",
				  c->account ? "account '" : "endpoint '",
				  c->account ? c->account : c->ep, "'");
	return 0;
}

/* Copy the account and decode the key into a, or keep a copy of the SAS
 * (without its '?') when there is no key. */
static int set_credentials(struct az *a, const struct az_creds *c,
			   struct errbuf *eb)
{
	const char *sas = c->sas;
	int n;

	snprintf(a->account, sizeof(a->account), "%s",
		 c->account ? c->account : "");
	if (c->key && *c->key) {
		n = decode_base64(c->key, strlen(c->key), a->key,
				    sizeof(a->key));
		if (n <= 0)
			return errbuf_set(eb, -EINVAL, "invalid Azure account "
					  "key for '%s': not base64",
					  c->account);
		a->key_len = (size_t)n;
	} else if (sas && *sas) {
		if (*sas == '?')
			sas++;
		a->sas = strdup(sas);
		if (!a->sas)
			return -ENOMEM;
	}
	return 0;
}

int azure_open(struct objstore **out, const char *container,
	       const struct json_opts *opts, struct errbuf *eb)
{
	struct az_creds c = { NULL, NULL, NULL, NULL };
	struct azure_conn *conn;
	char defep[300], hostep[300];
	bool anon = false;
	struct az *a;
	int err;

	(void)container;
	objstore_check_option_keys(opts, azure_option_keys, "az", eb);
	err = anon_option(opts, &anon, eb);
	if (err)
		return err;
	a = calloc(1, sizeof(*a));
	conn = calloc(1, sizeof(*conn));
	if (!a || !conn) {
		err = -ENOMEM;
		goto out_free;
	}
	a->os.ops = &az_ops;
	c.ep = option_endpoint(opts, hostep, sizeof(hostep));
	err = find_credentials(opts, conn, &c, eb);
	if (err)
		goto out_free;
	if (anon)       /* public container: unsigned requests */
		c.key = c.sas = NULL;
	if (c.account && !*c.account)
		c.account = NULL;
	err = check_credentials(a, &c, anon, eb);
	if (!err)
		err = set_credentials(a, &c, eb);
	if (err)
		goto out_free;
	if (!c.ep) {
		snprintf(defep, sizeof(defep), "%s://%s.blob.%s",
			 conn->protocol ? conn->protocol : "https", c.account,
			 conn->suffix ? conn->suffix : "core.windows.net");
		c.ep = defep;
	}
	err = set_endpoint(a, c.ep, eb);
	if (err)
		goto out_free;
	free(conn);
	*out = &a->os;
	return 0;
out_free:
	if (conn)
		memset(conn, 0, sizeof(*conn));
	free(conn);
	if (a)
		az_free(&a->os);
	return err;
}
