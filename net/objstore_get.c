/* objstore_get: GET, HEAD and parallel ranged downloads, written once
 * for every backend on its request hook. */
#include "objstore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compiler.h"
#include "digest.h"
#include "objstore_impl.h"
#include "objstore_window.h"

#include "banned.h"

/* The MD5 of a whole object from its ETag where the ETag is one (an S3
 * single PUT, not encrypted with SSE-KMS or SSE-C). The server computed
 * it from the bytes it holds, so it stands before an MD5 in user
 * metadata, which whoever wrote the object chose (as rclone ranks
 * them). */
static void md5_from_etag(const struct objstore *os,
			  const struct http_resp *resp,
			  struct objstore_info *info)
{
	uint8_t md5[16];

	if (os->ops->etag_is_md5 && !resp->etag_not_md5 &&
	    objstore_md5_from_etag(resp->etag, md5)) {
		memcpy(info->md5, md5, sizeof(md5));
		info->has_md5 = true;
	}
}

/* GET (a range when off or len) or HEAD of key, through the backend's
 * request hook: the same for every backend but the range header's name
 * and whether an ETag is an MD5. */
static int fetch(struct objstore *os, const char *method, const char *key,
		 uint64_t off, uint64_t len, struct body_sink *sink,
		 struct objstore_info *info, struct errbuf *eb)
{
	char fk[OBJSTORE_KEY_MAX + 1], range[64];
	struct objstore_req r = { .method = method, .fk = fk };
	struct objstore_hdrs h = { .n = 0 };
	struct http_request req;
	int err;

	err = objstore_full_key(os, key, fk, sizeof(fk), eb);
	if (err)
		return err;
	if (len)
		snprintf(range, sizeof(range), "bytes=%llu-%llu",
			 (unsigned long long)off,
			 (unsigned long long)(off + len - 1));
	else
		snprintf(range, sizeof(range), "bytes=%llu-",
			 (unsigned long long)off);
	if (off || len) {
		err = objstore_hdrs_add(&h, os->ops->range_header, range);
		if (err)
			return err;
		r.hdrs = &h;
	}
	err = os->ops->request(os, &req, &r);
	if (err)
		goto out;
	req.sink = sink;
	err = http_multi_run(os->hm, &req);
	info->attempts = req.attempts;
	if (err) {
		err = objstore_fail(os, &req, sink ? "get" : "head", key, eb);
		goto out;
	}
	objstore_info_from_resp(&req.resp, info);
	if (!off && !len)
		md5_from_etag(os, &req.resp, info);
out:
	http_request_release(&req);
	return err;
}

int objstore_get(struct objstore *os, const char *key, uint64_t off,
		 uint64_t len, struct body_sink *sink,
		 struct objstore_info *info, struct errbuf *eb)
{
	struct objstore_info dummy;
	int err;

	if (!os || !sink)
		return -EINVAL;
	err = objstore_check_key(os, key, eb);
	if (err)
		return err;
	if (len && off + len < off)
		return errbuf_set(eb, -EINVAL, "bad byte range");
	memset(info ? info : &dummy, 0, sizeof(dummy));
	return fetch(os, "GET", key, off, len, sink, info ? info : &dummy, eb);
}

int objstore_get_small(struct objstore *os, const char *key, char *buf,
		       size_t cap, struct errbuf *eb)
{
	struct body_sink sink;
	int err;

	if (!buf || !cap)
		return -EINVAL;
	memset(&sink, 0, sizeof(sink));
	sink.kind = BODY_SINK_MEM;
	sink.mem_cap = cap - 1;
	sink.fd = -1;
	err = objstore_get(os, key, 0, 0, &sink, NULL, eb);
	if (!err) {
		if (sink.mem_len)
			memcpy(buf, sink.mem, sink.mem_len);
		buf[sink.mem_len] = '\0';
	}
	body_sink_release(&sink);
	return err;
}

/* Parallel ranged download. */

struct get_ranges_ctx {
	struct objstore *os;
	const char *key, *fk;
	int fd;
	uint64_t size, rsize;
	struct body_sink *sinks;   /* one per slot */
	char etag[128];            /* the first answer's; all must match */
	bool have_etag;
	bool refused;              /* a range came back otherwise than asked */
	struct objstore_info *info;
	/* hash_body: the ranges landed (one flag each) and the first not
	 * yet hashed; every range before it is in md */
	EVP_MD_CTX *md;
	bool *landed;
	uint64_t nranges, hashed;
};

/* Hash the ranges that landed in order from c->hashed on, in the thread
 * running the window, while the later ranges are still on the way. */
static int hash_landed(struct get_ranges_ctx *c, uint64_t idx,
		       struct errbuf *eb)
{
	int err;

	c->landed[idx] = true;
	while (c->hashed < c->nranges && c->landed[c->hashed]) {
		uint64_t off = c->hashed * c->rsize;

		err = digest_md5_add_fd(c->md, c->fd, off,
					MIN(c->rsize, c->size - off));
		if (err)
			return errbuf_set(eb, err, "cannot hash the download "
					  "of '%s/%s': %s", c->os->url, c->key,
					  strerror(-err));
		c->hashed++;
	}
	return 0;
}

/* objstore_window_ops.submit: GET range slot->idx into its part of the
 * file; its sink refuses a byte past the range. */
static int range_submit(void *arg, struct objstore_slot *slot,
			unsigned slotno, struct http_wait *wait, struct errbuf *eb)
{
	struct get_ranges_ctx *c = arg;
	uint64_t off = slot->idx * c->rsize;
	uint64_t len = MIN(c->rsize, c->size - off);
	struct objstore_req r = { .method = "GET", .fk = c->fk };
	struct objstore_hdrs h = { .n = 0 };
	struct body_sink *sink = &c->sinks[slotno];
	char range[64];
	int err;

	snprintf(range, sizeof(range), "bytes=%llu-%llu",
		 (unsigned long long)off, (unsigned long long)(off + len - 1));
	err = objstore_hdrs_add(&h, c->os->ops->range_header, range);
	r.hdrs = &h;
	if (!err)
		err = c->os->ops->request(c->os, &slot->req, &r);
	if (!err) {
		memset(sink, 0, sizeof(*sink));
		sink->kind = BODY_SINK_FD;
		sink->fd = c->fd;
		sink->fd_off = off;
		sink->fd_len = len;
		slot->req.sink = sink;
		err = objstore_slot_submit(c->os, slot, wait);
	}
	if (err) {
		http_request_release(&slot->req);
		return errbuf_set(eb, err, "cannot get '%s/%s': %s",
				  c->os->url, c->key, strerror(-err));
	}
	return 0;
}

/* objstore_window_ops.harvest: a range must be a 206 whose Content-Range
 * is exactly the range asked, of an object of the expected size, with the
 * ETag of the others (one version of the object). A server that ignores
 * Range (200, or a body past the range: -EFBIG), or an object of another
 * size (416, another total) marks the download refused: the caller then
 * fetches it in one GET and sees what it is. */
static int range_harvest(void *arg, struct objstore_slot *slot,
			 unsigned slotno, int err, struct errbuf *eb)
{
	struct get_ranges_ctx *c = arg;
	const struct http_resp *resp = &slot->req.resp;
	uint64_t off = slot->idx * c->rsize;
	uint64_t len = MIN(c->rsize, c->size - off);

	(void)slotno;
	c->info->attempts = MAX(c->info->attempts, slot->req.attempts);
	if (err)
		return err;
	if (slot->req.result == -EFBIG || resp->status == 416 ||
	    (!slot->req.result &&
	     (resp->status != 206 || !resp->has_range ||
	      resp->range_first != off || resp->range_last != off + len - 1 ||
	      resp->range_total != c->size || !resp->etag[0]))) {
		c->refused = true;
		return -EPROTO;
	}
	if (slot->req.result)
		return objstore_fail(c->os, &slot->req, "get", c->key, eb);
	if (!c->have_etag) {
		struct http_resp obj = *resp;

		snprintf(c->etag, sizeof(c->etag), "%s", resp->etag);
		c->have_etag = true;
		/* a range's Content-MD5 (Azure) is not the object's; the
		 * blob's comes as x-ms-blob-content-md5 */
		snprintf(obj.content_md5, sizeof(obj.content_md5), "%s",
			 resp->blob_content_md5);
		objstore_info_from_resp(&obj, c->info);
		/* a range's ETag is the whole object's */
		md5_from_etag(c->os, resp, c->info);
		/* no MD5 to check the bytes against (an S3 multipart ETag
		 * without md5chksum): nobody needs their hash */
		if (!c->info->has_md5 && c->md) {
			digest_md5_end(c->md, c->info->body_md5);
			c->md = NULL;
		}
	} else if (strcmp(c->etag, resp->etag)) {
		return errbuf_set(eb, -EAGAIN, "object '%s/%s' changed while "
				  "being read (ETag %s, then %s)", c->os->url,
				  c->key, c->etag, resp->etag);
	}
	return c->md ? hash_landed(c, slot->idx, eb) : 0;
}

int objstore_get_file(struct objstore *os, const char *key, int fd,
		      uint64_t size, bool hash_body,
		      struct objstore_info *info, struct errbuf *eb)
{
	static const struct objstore_window_ops wops = { range_submit,
							 range_harvest };
	struct errbuf local = ERRBUF_INIT;
	struct body_sink whole = { .kind = BODY_SINK_FD, .fd = fd };
	struct get_ranges_ctx c = { .os = os, .key = key, .fd = fd,
				    .size = size };
	struct objstore_info dummy;
	char fk[OBJSTORE_KEY_MAX + 1];
	unsigned window;
	int err;

	if (!os || fd < 0)
		return -EINVAL;
	err = objstore_check_key(os, key, eb);
	if (err)
		return err;
	window = os->cfg.transfers ? os->cfg.transfers : 1;
	c.rsize = os->cfg.part_size ? os->cfg.part_size : size;
	if (size <= os->cfg.multipart_threshold || size <= c.rsize ||
	    window < 2)
		return objstore_get(os, key, 0, 0, &whole, info, eb);
	err = objstore_full_key(os, key, fk, sizeof(fk), eb);
	if (err)
		return err;
	c.fk = fk;
	c.info = info ? info : &dummy;
	memset(c.info, 0, sizeof(*c.info));
	c.nranges = (size + c.rsize - 1) / c.rsize;
	c.sinks = calloc(window, sizeof(*c.sinks));
	if (hash_body && info) {
		c.landed = calloc(c.nranges, sizeof(*c.landed));
		c.md = digest_md5_begin();
	}
	if (!c.sinks || (hash_body && info && (!c.landed || !c.md))) {
		free(c.sinks);
		free(c.landed);
		digest_md5_end(c.md, c.info->body_md5);
		return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	err = objstore_window_run(c.nranges, window, &wops, &c, &local);
	free(c.sinks);
	free(c.landed);
	/* every range landed and hashed: the body's MD5 */
	if (c.md && !err && !c.refused && c.hashed == c.nranges &&
	    !digest_md5_end(c.md, c.info->body_md5))
		c.info->has_body_md5 = true;
	else if (c.md)
		digest_md5_end(c.md, c.info->body_md5);
	if (c.refused) {
		/* not the object the listing said, or no Range support: one
		 * GET of whatever is there (the caller checks its size) */
		if (ftruncate(fd, 0) < 0)
			return errbuf_set(eb, -errno, "cannot truncate a temp "
					  "file: %s", strerror(errno));
		return objstore_get(os, key, 0, 0, &whole, info, eb);
	}
	if (err)
		return errbuf_set(eb, err, "%s", local.msg);
	c.info->size = size;
	return 0;
}

int objstore_head(struct objstore *os, const char *key,
		  struct objstore_info *info, struct errbuf *eb)
{
	struct objstore_info dummy;
	int err;

	if (!os)
		return -EINVAL;
	err = objstore_check_key(os, key, eb);
	if (err)
		return err;
	memset(info ? info : &dummy, 0, sizeof(dummy));
	return fetch(os, "HEAD", key, 0, 0, NULL, info ? info : &dummy, eb);
}
