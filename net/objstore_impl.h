/* objstore_impl: what the backends (s3.c, azure.c) share with objstore*.c;
 * private to net/. */
#ifndef SNAP_OBJSTORE_IMPL_H
#define SNAP_OBJSTORE_IMPL_H

#include "http_multi.h"
#include "json_opts.h"
#include "objstore.h"

#define OBJSTORE_KEY_MAX 1024   /* S3 and Azure limit, bytes */
#define OBJSTORE_URL_MAX 8192

struct objstore {
	const struct objstore_ops *ops;
	struct objstore_config cfg;
	struct http_multi *hm;
	bool own_hm;
	char url[OBJSTORE_ROOT_URL_MAX];   /* s3://bucket/prefix */
	char bucket[256];
	char prefix[OBJSTORE_KEY_MAX + 2];  /* "" or ends with '/' */
};

struct objstore_parts_ops;
struct uri_query;

/* Request headers built by objstore.c or a backend hook: names are
 * string constants, values are copied into val. */
#define OBJSTORE_HDRS_MAX 8
#define OBJSTORE_HDR_VAL_MAX 128

struct objstore_hdr {
	const char *name;
	const char *value;
};

struct objstore_hdrs {
	struct objstore_hdr h[OBJSTORE_HDRS_MAX];
	char val[OBJSTORE_HDRS_MAX][OBJSTORE_HDR_VAL_MAX];
	size_t n;
};

/* Add "name: value" (value copied); -E2BIG when full or too long. */
int objstore_hdrs_add(struct objstore_hdrs *hs, const char *name,
		      const char *value);

/* One request as objstore_ops.request builds it. */
struct objstore_req {
	const char *method;
	const char *fk;            /* full key; NULL: the bucket */
	struct uri_query *q;       /* may be NULL */
	const struct objstore_hdrs *hdrs;  /* besides the backend's own;
					    * may be NULL */
	/* a body of body_len bytes follows (set by the caller on the
	 * http_request): S3 sends it UNSIGNED-PAYLOAD (Content-MD5 protects
	 * it), Azure signs its length */
	bool has_body;
	uint64_t body_len;
};

/* A backend: the hooks that differ between the services. Everything
 * else (single put, get, head, delete, listing pages, parallel deletes,
 * multipart windows) is written once in objstore*.c on these hooks. Every
 * hook is required unless it says "may be NULL". Hooks run on the
 * caller's thread; errors are -errno, with a message in eb where eb is
 * passed. */
struct objstore_ops {
	const char *scheme;        /* "s3", "az" */
	/* Build (not send) the signed request r into req: URL (endpoint,
	 * bucket, encoded key, canonical query), the backend's headers
	 * (date, version, token, auth) and r's. */
	int (*request)(struct objstore *os, struct http_request *req,
		       const struct objstore_req *r);
	const char *range_header;  /* "Range", or Azure's "x-ms-range" */
	/* a single-part object's ETag is its hex MD5 (S3; not under
	 * SSE-KMS or SSE-C, http_resp.etag_not_md5); where a GET's answer
	 * has one it stands before an MD5 in metadata (objstore_get.c) */
	bool etag_is_md5;
	/* Headers of a single-request put besides Content-MD5 (objstore_put.c
	 * sends it): the object's type and metadata (mtime, objmeta.h). */
	int (*put_headers)(struct objstore *os,
			   const struct objstore_put_opts *po,
			   struct objstore_hdrs *h);
	/* larger bodies, through objstore_put.c's sliding window (below) */
	const struct objstore_parts_ops *parts;
	/* Listing (objstore_list.c): one page's query (list-type, prefix
	 * fp, page size ps and the previous page's marker, both NULL when
	 * unset; values are borrowed until the request is built), parsed as
	 * list_format. An entry's MD5 is its Content-MD5 when listed, else
	 * its ETag's when etag_is_md5; its mtime the listed "mtime"
	 * metadata. */
	void (*list_query)(struct uri_query *q, const char *fp,
			   const char *ps, const char *marker);
	int list_format;           /* enum xml_list_kind */
	/* Unfinished uploads (objstore_list_uploads): one page's query
	 * (prefix fp, page size ps, the previous page's key and upload
	 * markers; ps and the markers NULL when unset), parsed as
	 * XML_LIST_S3_UPLOADS; an abort is a DELETE of the key with
	 * ?uploadId=. May be NULL: the store has none to list. */
	void (*uploads_query)(struct uri_query *q, const char *fp,
			      const char *ps, const char *key_marker,
			      const char *id_marker);
	/* Delete up to del_batch_max full keys in one request (S3
	 * DeleteObjects); may be NULL: objstore.c then sends single
	 * DELETEs, cfg.transfers at once. */
	int (*del_batch)(struct objstore *os, const char *const *keys,
			 size_t n, struct errbuf *eb);
	size_t del_batch_max;
	/* server-side copy of src_os's src_key (src_os: os itself, or a
	 * store of the same backend) to os's dst_key; if_match (may be
	 * NULL; quoted) makes the store refuse when the source's etag
	 * changed; a failed request is objstore_copy_fail */
	int (*copy)(struct objstore *os, struct objstore *src_os,
		    const char *src_key, const char *dst_key,
		    const char *if_match, struct errbuf *eb);
	int (*create_bucket)(struct objstore *os, struct errbuf *eb);
	/* required; do a and b (same backend) reach the same service with
	 * the same credentials, so that a's copy hook can read b's objects
	 * (objstore_same_service)? */
	bool (*same_service)(const struct objstore *a,
			     const struct objstore *b);
	void (*free)(struct objstore *os);
	/* may be NULL: why the service would store key under another
	 * name (a text for the message), or NULL when it keeps it as is;
	 * objstore_check_key refuses such a key for every request */
	const char *(*key_problem)(const char *key);
};

/* Backend constructors: allocate the backend's struct (which embeds
 * struct objstore) with ops set; objstore_open fills the rest. */
int s3_open(struct objstore **out, const char *bucket,
	    const struct json_opts *opts, struct errbuf *eb);
int azure_open(struct objstore **out, const char *container,
	       const struct json_opts *opts, struct errbuf *eb);
/* Azure's key_problem, also for objstore_check_name (no open store). */
const char *azure_key_problem(const char *key);

/* A backend's multipart upload (S3 multipart upload, Azure blocks and a
 * block list), driven by objstore_put for a body past the multipart
 * threshold: the parts are sent in a sliding window of cfg.transfers
 * requests (a new part goes out as soon as one completes), each with its
 * Content-MD5. The driver, written once in objstore_put.c, reads each part's
 * MD5, submits, gathers failures and calls abort; the hooks only say
 * what each request is. fk is the full key, key the caller's (for
 * messages). */
struct objstore_parts_ops {
	const char *part_name;     /* "part", "block": for messages */
	uint64_t max_parts;        /* more parts: larger ones */
	uint64_t part_align;       /* a part size raised for max_parts is
				    * rounded up to this (>= 1) */
	/* Start the upload of nparts parts (metadata from po and the whole
	 * body's md5); *upload is the backend's state (may stay NULL). */
	int (*begin)(struct objstore *os, const char *fk, const char *key,
		     const struct objstore_put_opts *po, const uint8_t md5[16],
		     uint64_t nparts, void **upload, struct errbuf *eb);
	/* Build (not submit) the request of part idx (0-based), len bytes
	 * whose MD5 is md5; the driver sets its body, wait and callback. */
	int (*part)(struct objstore *os, void *upload, const char *fk,
		    uint64_t idx, uint64_t len, const uint8_t md5[16],
		    struct http_request *req);
	/* A part's 2xx answer, on the driver's thread (S3 keeps the ETag;
	 * may be NULL). */
	void (*part_done)(void *upload, uint64_t idx,
			  const struct http_request *req);
	/* Commit the nparts parts as the object. */
	int (*complete)(struct objstore *os, void *upload, const char *fk,
			const char *key, uint64_t nparts,
			const struct objstore_put_opts *po,
			const uint8_t md5[16], struct errbuf *eb);
	/* After a failure: drop what was sent, best effort (may be NULL). */
	void (*abort)(struct objstore *os, void *upload, const char *fk);
	/* Free *upload (may be NULL; called with NULL too). */
	void (*free)(void *upload);
};

/* Warn (log_warn on stderr) about each storage option not in the
 * NULL-terminated allowed list; they are ignored. Returns 0. */
int objstore_check_option_keys(const struct json_opts *o,
			       const char *const *allowed, const char *scheme,
			       struct errbuf *eb);

/* Storage option key if set and non-empty, else env1, else env2. */
const char *objstore_opt_or_env(const struct json_opts *o, const char *key,
				const char *env1, const char *env2);

/* 0, or -EINVAL with a message naming the store when key is empty, and
 * naming the key when ops->key_problem finds one. */
int objstore_check_key(const struct objstore *os, const char *key,
		       struct errbuf *eb);

/* Full key = prefix + key, checked against OBJSTORE_KEY_MAX. */
int objstore_full_key(const struct objstore *os, const char *key, char *out,
		      size_t cap, struct errbuf *eb);

/* Record the failure of req for operation op ("put") on key in eb and
 * return req->result: status, store code and message, URL (without the
 * query), attempts. */
int objstore_fail(const struct objstore *os, const struct http_request *req,
		  const char *op, const char *key, struct errbuf *eb);

/* objstore_fail of a copy hook's request (src_os's src_key to os's
 * dst_key): a 412 to its condition if_match (may be NULL) on the
 * source's ETag says the source is no longer the version listed. */
int objstore_copy_fail(const struct objstore *os,
		       const struct objstore *src_os,
		       const struct http_request *req, const char *src_key,
		       const char *dst_key, const char *if_match,
		       struct errbuf *eb);

/* Parse an HTTP date (RFC 1123) or ISO 8601 time; 0 when unparsable. */
int64_t objstore_parse_time(const char *s);

/* Fill info from the response headers (size, etag, Content-MD5, else
 * rclone's md5chksum, else our older hex md5 metadata; mtime metadata,
 * Last-Modified). The ETag as an MD5 is the caller's (objstore_get.c). */
void objstore_info_from_resp(const struct http_resp *r,
			     struct objstore_info *info);

/* The S3 ETag of a single-part upload is the hex MD5: take it. */
bool objstore_md5_from_etag(const char *etag, uint8_t md5[16]);

/* Environment variable or NULL when unset or empty. */
const char *objstore_env(const char *name);

/* Escape & < > " ' for an XML text node; -ENAMETOOLONG if over cap. */
int objstore_xml_escape(const char *s, char *out, size_t cap);

#endif
