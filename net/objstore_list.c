/* objstore_list: listing a prefix page by page, written once for every
 * backend on its list_query hook and xml_list's parser; each entry
 * reaches the caller without the store's prefix, with the MD5 and mtime
 * the listing carries. */
#include "objstore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "encode.h"
#include "objmeta.h"
#include "objstore_impl.h"
#include "uri.h"
#include "xml_list.h"

#include "banned.h"

/* a listing page of 1,000 objects is ~0.5 MB; a bigger answer is not a
 * listing we asked for */
#define OBJSTORE_LIST_BODY_MAX (32u << 20)

struct list_ctx {
	const struct objstore *os;
	objstore_list_cb cb;
	void *arg;
	size_t plen;
};

/* A listed object as the caller sees it: key without our prefix, MD5
 * and mtime where the listing has them. */
static int list_entry(void *arg, const struct xml_list_entry *x)
{
	struct list_ctx *c = arg;
	struct objstore_entry e;

	/* not ours: a server that ignored the prefix */
	if (x->key_len < c->plen || memcmp(x->key, c->os->prefix, c->plen))
		return 0;
	memset(&e, 0, sizeof(e));
	e.key = x->key + c->plen;
	e.key_len = x->key_len - c->plen;
	e.size = x->size;
	e.etag = x->etag;
	if (x->content_md5[0])
		e.has_md5 = decode_base64(x->content_md5,
					    strlen(x->content_md5), e.md5,
					    sizeof(e.md5)) == 16;
	else if (c->os->ops->etag_is_md5)
		e.has_md5 = objstore_md5_from_etag(x->etag, e.md5);
	e.last_modified = objstore_parse_time(x->last_modified);
	e.has_mtime = objmeta_mtime_parse(x->meta_mtime, strlen(x->meta_mtime),
					  &e.mtime_ns);
	return c->cb(c->arg, &e);
}

/* One page of the listing query q, parsed as kind: 0 parsed (page says
 * whether more follow), > 0 the callback stopped, < 0 failed ("cannot
 * <op> '<store>/<prefix>'"). */
static int list_page(struct objstore *os, const char *op, const char *prefix,
		     struct uri_query *q, enum xml_list_kind kind,
		     xml_list_cb cb, void *arg, struct xml_list_page *page,
		     struct errbuf *eb)
{
	struct objstore_req r = { .method = "GET", .q = q };
	struct http_request req;
	struct body_sink sink = { .kind = BODY_SINK_MEM,
				  .mem_cap = OBJSTORE_LIST_BODY_MAX };
	int err;

	err = os->ops->request(os, &req, &r);
	if (!err) {
		req.sink = &sink;
		err = http_multi_run(os->hm, &req);
		if (err)
			err = objstore_fail(os, &req, op, prefix, eb);
		else
			err = xml_list_parse(kind, sink.mem, sink.mem_len, cb,
					     arg, page, eb);
	}
	body_sink_release(&sink);
	http_request_release(&req);
	return err;
}

int objstore_list(struct objstore *os, const char *prefix,
		  objstore_list_cb cb, void *arg, struct errbuf *eb)
{
	return objstore_list_paged(os, prefix, 0, cb, arg, eb);
}

int objstore_list_paged(struct objstore *os, const char *prefix,
			unsigned page_size, objstore_list_cb cb, void *arg,
			struct errbuf *eb)
{
	struct list_ctx c = { os, cb, arg, 0 };
	char fp[OBJSTORE_KEY_MAX + 1], ps[16];
	struct xml_list_page *page;
	int err;

	if (!os || !cb)
		return -EINVAL;
	if (!prefix)
		prefix = "";
	c.plen = strlen(os->prefix);
	err = objstore_full_key(os, prefix, fp, sizeof(fp), eb);
	if (err)
		return err;
	page = calloc(1, sizeof(*page));
	if (!page)
		return -ENOMEM;
	if (!page_size)
		page_size = os->cfg.list_page_size;
	snprintf(ps, sizeof(ps), "%u", page_size);
	for (;;) {
		struct uri_query q = { .n = 0 };

		os->ops->list_query(&q, fp, page_size ? ps : NULL,
				    page->next[0] ? page->next : NULL);
		err = list_page(os, "list", prefix, &q,
				(enum xml_list_kind)os->ops->list_format,
				list_entry, &c, page, eb);
		if (err > 0) {
			err = 0;   /* the callback asked to stop */
			break;
		}
		if (err || !page->truncated)
			break;
		if (!page->next[0]) {
			err = errbuf_set(eb, -EBADMSG, "cannot list '%s': "
					 "truncated page without a "
					 "continuation token", os->url);
			break;
		}
	}
	free(page);
	return err;
}

struct uploads_ctx {
	objstore_upload_cb cb;
	void *arg;
	const char *prefix;
	size_t plen;
	/* the page's last upload: the next page's markers where the server
	 * gives none (Swift 2.30 answers IsTruncated with empty
	 * NextKeyMarker and NextUploadIdMarker) */
	char last_key[XML_LIST_TEXT_MAX];
	char last_id[XML_LIST_TEXT_MAX];
	/* the markers this page was asked with ("" at first) */
	char sent_key[XML_LIST_TEXT_MAX];
	char sent_id[XML_LIST_TEXT_MAX];
};

/* Do the next page's markers move on from the ones sent? Listings are
 * in key order; a key's uploads in the order they began (AWS), not by
 * id: a later key, or the same key with another upload. */
static bool markers_move_on(const struct xml_list_page *page,
			    const char *key, const char *id)
{
	int r = strcmp(page->next, key);

	return r > 0 || (r == 0 && strcmp(page->next_upload_id, id));
}

static int upload_entry(void *arg, const struct xml_list_entry *x)
{
	struct uploads_ctx *c = arg;
	struct objstore_upload u;

	snprintf(c->last_key, sizeof(c->last_key), "%.*s", (int)x->key_len,
		 x->key);
	snprintf(c->last_id, sizeof(c->last_id), "%s", x->upload_id);
	/* not ours: a server that ignored the prefix */
	if (x->key_len < c->plen || memcmp(x->key, c->prefix, c->plen))
		return 0;
	u.key = x->key + c->plen;
	u.key_len = x->key_len - c->plen;
	u.upload_id = x->upload_id;
	u.initiated = objstore_parse_time(x->last_modified);
	return c->cb(c->arg, &u);
}

int objstore_list_uploads(struct objstore *os, objstore_upload_cb cb,
			  void *arg, struct errbuf *eb)
{
	struct uploads_ctx *c;
	struct xml_list_page *page;
	char ps[16];
	int err;

	if (!os || !cb)
		return -EINVAL;
	if (!os->ops->uploads_query)
		return -EOPNOTSUPP;
	page = calloc(1, sizeof(*page));
	c = calloc(1, sizeof(*c));
	if (!page || !c) {
		free(page);
		free(c);
		return -ENOMEM;
	}
	c->cb = cb;
	c->arg = arg;
	c->prefix = os->prefix;
	c->plen = strlen(os->prefix);
	snprintf(ps, sizeof(ps), "%u", os->cfg.list_page_size);
	for (;;) {
		struct uri_query q = { .n = 0 };

		os->ops->uploads_query(&q, os->prefix,
				       os->cfg.list_page_size ? ps : NULL,
				       page->next[0] ? page->next : NULL,
				       page->next_upload_id[0] ?
				       page->next_upload_id : NULL);
		c->last_key[0] = '\0';
		err = list_page(os, "list the unfinished uploads under", "",
				&q, XML_LIST_S3_UPLOADS, upload_entry, c,
				page, eb);
		if (err > 0) {
			err = 0;   /* the callback asked to stop */
			break;
		}
		if (err || !page->truncated)
			break;
		if (!page->next[0] && c->last_key[0]) {
			memcpy(page->next, c->last_key, sizeof(page->next));
			memcpy(page->next_upload_id, c->last_id,
			       sizeof(page->next_upload_id));
		}
		/* the markers must move on, or the listing never ends */
		if (!page->next[0] ||
		    !markers_move_on(page, c->sent_key, c->sent_id)) {
			err = errbuf_set(eb, -EBADMSG, "cannot list the "
					 "unfinished uploads under '%s': a "
					 "truncated page whose markers do not "
					 "move on", os->url);
			break;
		}
		memcpy(c->sent_key, page->next, sizeof(c->sent_key));
		memcpy(c->sent_id, page->next_upload_id, sizeof(c->sent_id));
	}
	free(page);
	free(c);
	return err;
}
