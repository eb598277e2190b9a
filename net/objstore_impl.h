/* objstore_impl: what the backends (s3.c, azure.c) share with objstore.c;
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
	char url[1400];            /* s3://bucket/prefix */
	char bucket[256];
	char prefix[OBJSTORE_KEY_MAX + 2];  /* "" or ends with '/' */
};

/* Backend constructors: allocate the backend's struct (which embeds
 * struct objstore) with ops set; objstore_open fills the rest. */
int s3_open(struct objstore **out, const char *bucket,
	    const struct json_opts *opts, struct errbuf *eb);
int azure_open(struct objstore **out, const char *container,
	       const struct json_opts *opts, struct errbuf *eb);

/* Warn (log_warn on stderr) about each storage option not in the
 * NULL-terminated allowed list; they are ignored. Returns 0. */
int objstore_check_option_keys(const struct json_opts *o,
			       const char *const *allowed, const char *scheme,
			       struct errbuf *eb);

/* Storage option key if set and non-empty, else env1, else env2. */
const char *objstore_opt_or_env(const struct json_opts *o, const char *key,
				const char *env1, const char *env2);

/* Full key = prefix + key, checked against OBJSTORE_KEY_MAX. */
int objstore_full_key(const struct objstore *os, const char *key, char *out,
		      size_t cap, struct errbuf *eb);

/* Record the failure of req for operation op ("put") on key in eb and
 * return req->result: status, store code and message, URL (without the
 * query), attempts. */
int objstore_fail(const struct objstore *os, const struct http_request *req,
		  const char *op, const char *key, struct errbuf *eb);

/* Parse an HTTP date (RFC 1123) or ISO 8601 time; 0 when unparsable. */
int64_t objstore_parse_time(const char *s);

/* Fill info from the response headers (size, etag, Content-MD5 or our
 * md5 metadata, mtime metadata, Last-Modified). */
void objstore_info_from_resp(const struct http_resp *r,
			     struct objstore_info *info);

/* The S3 ETag of a single-part upload is the hex MD5: take it. */
bool objstore_md5_from_etag(const char *etag, uint8_t md5[16]);

/* Environment variable or NULL when unset or empty. */
const char *objstore_env(const char *name);

/* Escape & < > " ' for an XML text node; -ENAMETOOLONG if over cap. */
int objstore_xml_escape(const char *s, char *out, size_t cap);

#endif
