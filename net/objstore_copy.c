/* objstore_copy: server-side copies (within a store and between two of
 * the same service), written once for every backend on its copy hook:
 * the source's listed ETag as the copy's condition, a failed copy read
 * once for both backends (a refused condition told apart), and the ETag
 * probe that says whether a source's copies can be checked by MD5. */
#include "objstore.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "objstore_impl.h"
#include "banned.h"

int objstore_copy_fail(const struct objstore *os,
		       const struct objstore *src_os,
		       const struct http_request *req, const char *src_key,
		       const char *dst_key, const char *if_match,
		       struct errbuf *eb)
{
	int err = objstore_fail(os, req, "copy to", dst_key, eb);

	if (err == -EEXIST && if_match && req->resp.status == 412)
		err = errbuf_wrap(eb, -EEXIST, "server-side copy of '%s/%s' "
				  "refused: it is no longer the version "
				  "listed (ETag %s)", src_os->url, src_key,
				  if_match);
	return err;
}

int objstore_copy(struct objstore *os, const char *src_key,
		  const char *dst_key, struct errbuf *eb)
{
	int err;

	if (!os)
		return -EINVAL;
	err = objstore_check_key(os, src_key, eb);
	if (!err)
		err = objstore_check_key(os, dst_key, eb);
	return err ? err : os->ops->copy(os, os, src_key, dst_key, NULL, eb);
}

int objstore_copy_from(struct objstore *dst, struct objstore *src,
		       const char *src_key, const char *dst_key,
		       const char *if_match, const uint8_t *md5,
		       struct errbuf *eb)
{
	struct errbuf local = ERRBUF_INIT;
	struct objstore_info info;
	char quoted[OBJSTORE_HDR_VAL_MAX];
	int err;

	if (!dst || !src)
		return -EINVAL;
	if (dst->ops != src->ops)
		return -EXDEV;
	err = objstore_check_key(src, src_key, eb);
	if (!err)
		err = objstore_check_key(dst, dst_key, eb);
	if (!err && if_match) {
		/* the quoted form, as If-Match takes it; a weak ETag names
		 * no exact version: no condition */
		if (!strncmp(if_match, "W/", 2)) {
			if_match = NULL;
		} else if (if_match[0] != '"') {
			if (snprintf(quoted, sizeof(quoted), "\"%s\"",
				     if_match) >= (int)sizeof(quoted))
				return errbuf_set(eb, -EINVAL, "cannot copy "
						  "'%s/%s': ETag too long",
						  src->url, src_key);
			if_match = quoted;
		}
	}
	if (!err)
		err = dst->ops->copy(dst, src, src_key, dst_key, if_match, eb);
	if (err || !md5)
		return err;
	err = objstore_head(dst, dst_key, &info, &local);
	if (err)
		return errbuf_set(eb, -EUCLEAN, "server-side copy of '%s/%s' "
				  "to '%s/%s' was made and cannot be checked: "
				  "%s", src->url, src_key, dst->url, dst_key,
				  local.msg);
	if (!info.has_md5)
		return errbuf_set(eb, -ENODATA, "server-side copy of '%s/%s' "
				  "to '%s/%s' cannot be checked: the store "
				  "gives no MD5 of it%s", src->url, src_key,
				  dst->url, dst_key, info.etag_not_md5 ?
				  " (its ETag is none: SSE-KMS or SSE-C)" : "");
	if (memcmp(info.md5, md5, sizeof(info.md5)))
		return errbuf_set(eb, -ESTALE, "server-side copy of '%s/%s' "
				  "to '%s/%s' is not the object listed (it "
				  "changed meanwhile)", src->url, src_key,
				  dst->url, dst_key);
	return 0;
}

static int etags_not_md5(const struct objstore *src, struct errbuf *eb)
{
	return errbuf_set(eb, -ENODATA, "server-side copies from '%s' cannot "
			  "be checked: its ETags are no MD5s (SSE-KMS or "
			  "SSE-C)", src->url);
}

int objstore_copy_probe(struct objstore *src, const char *key,
			struct errbuf *eb)
{
	struct objstore_info info;
	struct errbuf local = ERRBUF_INIT;

	int err;

	memset(&info, 0, sizeof(info));
	err = objstore_head(src, key, &info, &local);
	if (err < 0)
		return err;
	return info.etag_not_md5 ? etags_not_md5(src, eb) : 0;
}

void objstore_etag_probe_init(struct objstore_etag_probe *p)
{
	pthread_mutex_init(&p->lock, NULL);
	atomic_init(&p->known, 0);
}

void objstore_etag_probe_destroy(struct objstore_etag_probe *p)
{
	pthread_mutex_destroy(&p->lock);
}

int objstore_etag_probe(struct objstore_etag_probe *p, struct objstore *src,
			const char *key, struct errbuf *eb)
{
	int known = atomic_load(&p->known), ret = 0;

	if (!known) {
		pthread_mutex_lock(&p->lock);
		known = atomic_load(&p->known);
		if (!known) {
			ret = objstore_copy_probe(src, key, eb);
			known = ret == 0 ? 1 : ret == -ENODATA ? -1 : 0;
			atomic_store(&p->known, known);
		}
		pthread_mutex_unlock(&p->lock);
		if (ret)   /* this caller asked: its answer, or its failure */
			return ret;
	}
	return known < 0 ? etags_not_md5(src, eb) : 0;
}

bool objstore_copy_may_have_landed(int err)
{
	return err == -ECONNRESET || err == -ETIMEDOUT || err == -EIO;
}

bool objstore_copy_refused(int err)
{
	return err == -EACCES || err == -EOPNOTSUPP || err == -ENODATA;
}

bool objstore_same_service(const struct objstore *dst,
			   const struct objstore *src)
{
	return dst && src && dst->ops == src->ops &&
	       dst->ops->same_service(dst, src);
}
