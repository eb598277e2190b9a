/* xml_list: the XML documents of the object stores, through expat (a
 * streaming parser): S3 ListObjectsV2 (ListBucketResult), S3
 * ListMultipartUploads (ListMultipartUploadsResult) and Azure List Blobs
 * (EnumerationResults) pages, one callback per entry; plus single
 * values (UploadId, Error Code/Message). Bounded: element text is capped
 * at XML_LIST_TEXT_MAX, depth at XML_LIST_DEPTH_MAX, and DOCTYPEs (entity
 * expansion) are refused. */
#ifndef SNAP_XML_LIST_H
#define SNAP_XML_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"

#define XML_LIST_TEXT_MAX 4096
#define XML_LIST_DEPTH_MAX 16

enum xml_list_kind {
	XML_LIST_S3,      /* ListBucketResult/Contents */
	XML_LIST_AZURE,   /* EnumerationResults/Blobs/Blob */
	XML_LIST_S3_UPLOADS,  /* ListMultipartUploadsResult/Upload */
};

/* One object of a page; strings valid during the callback only. */
struct xml_list_entry {
	const char *key;
	size_t key_len;
	uint64_t size;
	const char *etag;          /* as listed (S3 with quotes) or "" */
	const char *content_md5;   /* Azure Content-MD5 (base64) or "" */
	const char *last_modified; /* S3 ISO 8601, Azure RFC 1123, or "" */
	const char *meta_mtime;    /* Azure Metadata/mtime or "" */
	const char *upload_id;     /* an upload's UploadId, else "" (its
				    * Initiated is in last_modified) */
};

struct xml_list_page {
	bool truncated;
	char next[XML_LIST_TEXT_MAX]; /* NextContinuationToken / NextMarker
				       * / NextKeyMarker */
	char next_upload_id[XML_LIST_TEXT_MAX]; /* NextUploadIdMarker */
	size_t count;
};

/* Callback: 0 continue, < 0 stop with that error, > 0 stop (no error). */
typedef int (*xml_list_cb)(void *arg, const struct xml_list_entry *e);

/* Parse one page. Returns 0, the callback's nonzero return (a positive
 * one: it asked to stop), or -EBADMSG for bad XML (message in eb). */
int xml_list_parse(enum xml_list_kind kind, const char *data, size_t len,
		   xml_list_cb cb, void *arg, struct xml_list_page *page,
		   struct errbuf *eb);

/* Text of the first element named `name` anywhere in the document.
 * Returns 1 found, 0 not found, -EBADMSG for bad XML. */
int xml_value(const char *data, size_t len, const char *name, char *out,
	      size_t cap);

#endif
