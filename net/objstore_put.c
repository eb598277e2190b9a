/* objstore_put: uploads, written once for every backend: one PUT with
 * its Content-MD5 up to the multipart threshold, else the backend's
 * parts (objstore_parts_ops) in a sliding window. */
#include "objstore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "digest.h"
#include "encode.h"
#include "objstore_impl.h"
#include "objstore_window.h"

#include "banned.h"

/* bodies up to this size are read into memory before their PUT (see
 * body_to_mem); at most one per caller thread in flight */
#define OBJSTORE_SMALL_BODY (256u << 10)

struct put_parts_ctx {
	struct objstore *os;
	const struct objstore_parts_ops *pops;
	void *upload;
	const char *fk, *key;
	const struct body_src *src;
	uint64_t psize;
	struct objstore_info *info;
	char what[32];             /* "upload a part of" */
};

/* The size of each part of a len-byte body (all but the last) and their
 * number: cfg.part_size, larger when that would need more than the
 * backend's max_parts. */
static uint64_t part_plan(const struct objstore *os,
			  const struct objstore_parts_ops *pops, uint64_t len,
			  uint64_t *psize)
{
	uint64_t size = os->cfg.part_size, n = (len + size - 1) / size;

	if (n > pops->max_parts) {
		size = (len + pops->max_parts - 1) / pops->max_parts;
		size = (size + pops->part_align - 1) / pops->part_align *
		       pops->part_align;
		n = (len + size - 1) / size;
	}
	*psize = size;
	return n;
}

static int body_read_failed(struct objstore *os, const char *key, int err,
			    struct errbuf *eb)
{
	return errbuf_set(eb, err, "cannot read the body of '%s/%s': %s",
			  os->url, key, strerror(-err));
}

/* objstore_window_ops.submit: read part slot->idx's MD5, build, send. */
static int part_submit(void *arg, struct objstore_slot *slot,
		       unsigned slotno, struct http_wait *wait, struct errbuf *eb)
{
	struct put_parts_ctx *c = arg;
	uint64_t off = slot->idx * c->psize;
	struct body_src slice = body_src_slice(c->src, off,
					       MIN(c->psize,
						   c->src->len - off));
	uint8_t md5[16];
	int err;

	(void)slotno;
	err = digest_md5_src(&slice, md5);
	if (err)
		return body_read_failed(c->os, c->key, err, eb);
	err = c->pops->part(c->os, c->upload, c->fk, slot->idx, slice.len,
			    md5, &slot->req);
	if (!err) {
		slot->req.src = slice;
		err = objstore_slot_submit(c->os, slot, wait);
	}
	if (err) {
		http_request_release(&slot->req);
		return errbuf_set(eb, err, "cannot upload a %s of '%s/%s': %s",
				  c->pops->part_name, c->os->url, c->key,
				  strerror(-err));
	}
	return 0;
}

/* objstore_window_ops.harvest: the first failure is the error, the others
 * are recorded by the backend (S3 keeps each part's ETag). */
static int part_harvest(void *arg, struct objstore_slot *slot,
			unsigned slotno, int err, struct errbuf *eb)
{
	struct put_parts_ctx *c = arg;

	(void)slotno;
	c->info->attempts = MAX(c->info->attempts, slot->req.attempts);
	if (slot->req.result && !err)
		err = objstore_fail(c->os, &slot->req, c->what, c->key, eb);
	else if (!slot->req.result && c->pops->part_done)
		c->pops->part_done(c->upload, slot->idx, &slot->req);
	return err;
}

/* The multipart upload of a body past the threshold: parts in a sliding
 * window of cfg.transfers requests, then complete, or abort on failure. */
static int put_parts(struct objstore *os, const char *fk, const char *key,
		     const struct body_src *src,
		     const struct objstore_put_opts *po, const uint8_t md5[16],
		     struct objstore_info *info, struct errbuf *eb)
{
	static const struct objstore_window_ops wops = { part_submit,
							 part_harvest };
	const struct objstore_parts_ops *pops = os->ops->parts;
	struct put_parts_ctx c = { .os = os, .pops = pops, .fk = fk,
				   .key = key, .src = src, .info = info };
	uint64_t nparts;
	int err;

	nparts = part_plan(os, pops, src->len, &c.psize);
	snprintf(c.what, sizeof(c.what), "upload a %s of", pops->part_name);
	err = pops->begin(os, fk, key, po, md5, nparts, &c.upload, eb);
	if (err)
		goto out;
	err = objstore_window_run(nparts, os->cfg.transfers ?
				  os->cfg.transfers : 1, &wops, &c, eb);
	/* the parts may have been read at different times: a source that
	 * changed meanwhile must not become a torn object */
	if (!err && po->changed && po->changed(po->changed_arg))
		err = errbuf_set(eb, -ESTALE, "cannot put '%s/%s': the source "
				 "changed while being uploaded", os->url, key);
	if (!err)
		err = pops->complete(os, c.upload, fk, key, nparts, po, md5,
				     eb);
	if (!err) {
		info->size = src->len;
		memcpy(info->md5, md5, 16);
		info->has_md5 = true;
	} else if (pops->abort) {
		pops->abort(os, c.upload, fk);
	}
out:
	pops->free(c.upload);
	return err;
}

/* The request of a body up to the multipart threshold: one PUT with its
 * Content-MD5, which the store checks. req is set up in every case (the
 * caller releases it). */
static int single_request(struct objstore *os, const char *fk,
			  const char *key, const struct body_src *src,
			  const struct objstore_put_opts *po,
			  const uint8_t md5[16], struct http_request *req,
			  struct errbuf *eb)
{
	struct objstore_req r = { .method = "PUT", .fk = fk, .has_body = true,
				  .body_len = src->len };
	struct objstore_hdrs h = { .n = 0 };
	char b64[32];
	int err;

	http_request_init(req);
	encode_base64(md5, 16, b64);
	err = objstore_hdrs_add(&h, "Content-MD5", b64);
	if (!err)
		err = os->ops->put_headers(os, po, &h);
	if (err)
		return errbuf_set(eb, err, "cannot put '%s/%s': too many "
				  "headers", os->url, key);
	r.hdrs = &h;
	err = os->ops->request(os, req, &r);
	if (err)
		return errbuf_set(eb, err, "cannot put '%s/%s': cannot build "
				  "the request: %s", os->url, key,
				  strerror(-err));
	req->src = *src;
	return 0;
}

static int put_single(struct objstore *os, const char *fk, const char *key,
		      const struct body_src *src,
		      const struct objstore_put_opts *po,
		      const uint8_t md5[16], struct objstore_info *info,
		      struct errbuf *eb)
{
	struct http_request req;
	int err;

	err = single_request(os, fk, key, src, po, md5, &req, eb);
	if (err)
		goto out;
	err = http_multi_run(os->hm, &req);
	info->attempts = req.attempts;
	if (err) {
		err = objstore_fail(os, &req, "put", key, eb);
		goto out;
	}
	info->size = src->len;
	snprintf(info->etag, sizeof(info->etag), "%s", req.resp.etag);
	memcpy(info->md5, md5, 16);
	info->has_md5 = true;
out:
	http_request_release(&req);
	return err;
}

/* Read a small body from a file or a callback into memory, on the
 * caller's thread: the request then sends that buffer, so the one
 * network thread makes no read calls for it, the file is read once
 * (not once for the MD5 and again for the request), and the bytes
 * hashed are the bytes sent. 0 with *buf NULL: leave the body as it is. */
static int body_to_mem(const struct body_src *src, struct body_src *mem,
		       void **buf)
{
	uint64_t pos = 0;
	ssize_t r;

	*buf = NULL;
	if (src->kind == BODY_SRC_MEM || src->kind == BODY_SRC_NONE ||
	    !src->len || src->len > OBJSTORE_SMALL_BODY)
		return 0;
	*buf = malloc((size_t)src->len);
	if (!*buf)
		return 0;        /* stream it instead */
	while (pos < src->len) {
		r = body_src_pread(src, (char *)*buf + pos,
				   (size_t)(src->len - pos), pos);
		if (r <= 0) {
			free(*buf);
			*buf = NULL;
			return r < 0 ? (int)r : -EIO;
		}
		pos += (uint64_t)r;
	}
	memset(mem, 0, sizeof(*mem));
	mem->kind = BODY_SRC_MEM;
	mem->mem = *buf;
	mem->len = src->len;
	return 0;
}

/* One request, or parts: the md5 of the whole body is needed either way
 * (Content-MD5, our metadata). */
static int put_body(struct objstore *os, const char *key,
		    const struct body_src *src,
		    const struct objstore_put_opts *po,
		    struct objstore_info *info, struct errbuf *eb)
{
	char fk[OBJSTORE_KEY_MAX + 1];
	struct body_src mem;
	uint8_t md5[16];
	void *buf;
	int err;

	err = objstore_full_key(os, key, fk, sizeof(fk), eb);
	if (err)
		return err;
	err = body_to_mem(src, &mem, &buf);
	if (err)
		return body_read_failed(os, key, err, eb);
	if (buf)
		src = &mem;
	if (po->md5) {
		memcpy(md5, po->md5, 16);
	} else {
		err = digest_md5_src(src, md5);
		if (err) {
			err = body_read_failed(os, key, err, eb);
			goto out;
		}
	}
	if (objstore_put_is_single(os, src->len))
		err = put_single(os, fk, key, src, po, md5, info, eb);
	else
		err = put_parts(os, fk, key, src, po, md5, info, eb);
out:
	free(buf);
	return err;
}

int objstore_put(struct objstore *os, const char *key,
		 const struct body_src *src, const struct objstore_put_opts *po,
		 struct objstore_info *info, struct errbuf *eb)
{
	static const struct objstore_put_opts none;
	struct objstore_info dummy;
	int err;

	if (!os || !src)
		return -EINVAL;
	err = objstore_check_key(os, key, eb);
	if (err)
		return err;
	if (src->kind == BODY_SRC_NONE && src->len)
		return errbuf_set(eb, -EINVAL, "body without a source");
	if (src->kind == BODY_SRC_CB && !src->read)
		return errbuf_set(eb, -EINVAL, "body without a read callback");
	memset(info ? info : &dummy, 0, sizeof(dummy));
	return put_body(os, key, src, po ? po : &none, info ? info : &dummy,
			eb);
}

bool objstore_put_is_single(const struct objstore *os, uint64_t len)
{
	return len <= os->cfg.multipart_threshold || len <= os->cfg.part_size;
}

/* A put submitted without waiting: the request and what its completion
 * needs, freed on the network thread once done has been called. */
struct put_async {
	struct http_request req;
	struct objstore *os;
	objstore_put_done_fn done;
	void *arg;
	char key[];
};

/* http_request.done, on the network thread: the put's result as
 * objstore_put would return it, handed to the caller's callback. */
static void put_async_done(struct http_request *req)
{
	struct put_async *pa = req->arg;
	struct errbuf eb = ERRBUF_INIT;
	int err = 0;

	if (req->result)
		err = objstore_fail(pa->os, req, "put", pa->key, &eb);
	pa->done(pa->arg, err, &eb);
	http_request_release(req);
	free(pa);
}

int objstore_put_submit(struct objstore *os, const char *key,
			const struct body_src *src,
			const struct objstore_put_opts *po,
			objstore_put_done_fn done, void *arg, struct errbuf *eb)
{
	char fk[OBJSTORE_KEY_MAX + 1];
	struct put_async *pa;
	size_t klen;
	int err;

	if (!os || !src || !po || !po->md5 || !done)
		return errbuf_set(eb, -EINVAL, "cannot put '%s': %s",
				  key ? key : "", !po || !po->md5 ?
				  "no MD5 given (objstore_put_submit needs "
				  "it)" : "missing argument");
	err = objstore_check_key(os, key, eb);
	if (err)
		return err;
	if ((src->kind != BODY_SRC_MEM && src->len) ||
	    (src->kind == BODY_SRC_MEM && !src->mem) ||
	    !objstore_put_is_single(os, src->len))
		return errbuf_set(eb, -EINVAL, "cannot put '%s/%s': only a "
				  "body in memory that goes in one request is "
				  "submitted without waiting", os->url, key);
	err = objstore_full_key(os, key, fk, sizeof(fk), eb);
	if (err)
		return err;
	klen = strlen(key);
	pa = malloc(sizeof(*pa) + klen + 1);
	if (!pa)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	memcpy(pa->key, key, klen + 1);
	pa->os = os;
	pa->done = done;
	pa->arg = arg;
	err = single_request(os, fk, key, src, po, po->md5, &pa->req, eb);
	if (!err) {
		pa->req.done = put_async_done;
		pa->req.arg = pa;
		pa->req.cancel = po->cancel;
		err = http_multi_submit(os->hm, &pa->req);
		if (err)
			err = errbuf_set(eb, err, "cannot put '%s/%s': the "
					 "network stage is stopping",
					 os->url, key);
	}
	if (err) {
		http_request_release(&pa->req);
		free(pa);
	}
	return err;
}
