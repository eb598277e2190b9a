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

	if (x->key_len < c->plen)
		return 0;   /* cannot happen: the server filters by prefix */
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

/* One page: 0 parsed (page says whether more follow), > 0 the callback
 * stopped, < 0 failed. */
static int list_page(struct objstore *os, const char *prefix,
		     const char *fp, unsigned page_size, struct list_ctx *c,
		     struct xml_list_page *page, struct errbuf *eb)
{
	struct objstore_req r = { .method = "GET" };
	struct uri_query q = { .n = 0 };
	struct http_request req;
	struct body_sink sink = { .kind = BODY_SINK_MEM,
				  .mem_cap = OBJSTORE_LIST_BODY_MAX };
	char ps[16];
	int err;

	snprintf(ps, sizeof(ps), "%u", page_size);
	os->ops->list_query(&q, fp, page_size ? ps : NULL,
			    page->next[0] ? page->next : NULL);
	r.q = &q;
	err = os->ops->request(os, &req, &r);
	if (!err) {
		req.sink = &sink;
		err = http_multi_run(os->hm, &req);
		if (err)
			err = objstore_fail(os, &req, "list", prefix, eb);
		else
			err = xml_list_parse((enum xml_list_kind)
					     os->ops->list_format, sink.mem,
					     sink.mem_len, list_entry, c, page,
					     eb);
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
	char fp[OBJSTORE_KEY_MAX + 1];
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
	for (;;) {
		err = list_page(os, prefix, fp, page_size ? page_size :
				os->cfg.list_page_size, &c, page, eb);
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
