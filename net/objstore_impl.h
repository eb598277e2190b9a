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

/* A backend's multipart upload (S3 multipart upload, Azure blocks and a
 * block list), driven by objstore_put for a body past the multipart
 * threshold: the parts are sent in a sliding window of cfg.transfers
 * requests (a new part goes out as soon as one completes), each with its
 * Content-MD5. The driver, written once in objstore.c, reads each part's
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
