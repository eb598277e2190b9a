/* xml_list: expat handlers tracking the element path of a listing page;
 * leaf texts of interest are collected into fixed buffers. */
#include "xml_list.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <expat.h>

#include "banned.h"

struct xstate {
	XML_Parser p;
	enum xml_list_kind kind;
	int depth;
	const char *path[XML_LIST_DEPTH_MAX]; /* static names we matched */
	char text[XML_LIST_TEXT_MAX];
	size_t text_len;
	bool text_over;
	int err;
	const char *err_what;
	bool stopped;
	/* list */
	xml_list_cb cb;
	void *arg;
	struct xml_list_page *page;
	char key[XML_LIST_TEXT_MAX];
	size_t key_len;
	char etag[256];
	char md5[64];
	char mtime[64];
	char meta_mtime[72];
	char upload_id[1024];
	uint64_t size;
	bool in_entry;
	/* value */
	const char *want;
	char *out;
	size_t out_cap;
	int found;
};

static const char *const known[] = {
	"ListBucketResult", "Contents", "Key", "Size", "ETag", "LastModified",
	"IsTruncated", "NextContinuationToken", "EnumerationResults", "Blobs",
	"Blob", "Name", "Properties", "Content-Length", "Etag", "Content-MD5",
	"Last-Modified", "NextMarker", "Metadata",
	/* ListMultipartUploadsResult */
	"Upload", "UploadId", "Initiated", "NextKeyMarker",
	"NextUploadIdMarker",
};
#define K_UPLOAD known[19]
#define K_UPLOAD_ID known[20]
#define K_INITIATED known[21]
#define K_NEXT_KEY known[22]
#define K_NEXT_UPLOAD_ID known[23]

static const char *intern(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(known[i], name))
			return known[i];
	return "";
}

static void stop(struct xstate *x, int err, const char *what)
{
	if (!x->err) {
		x->err = err;
		x->err_what = what;
	}
	x->stopped = true;
	XML_StopParser(x->p, XML_FALSE);
}

static void on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
		       const XML_Char *pubid, int has_internal)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal;
	stop(ud, -EBADMSG, "DOCTYPE not allowed");
}

static void on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct xstate *x = ud;

	(void)attrs;
	if (x->stopped)
		return;
	if (x->depth >= XML_LIST_DEPTH_MAX) {
		stop(x, -EBADMSG, "nested too deeply");
		return;
	}
	x->path[x->depth++] = intern(name);
	x->text_len = 0;
	x->text_over = false;
	x->text[0] = '\0';
	if (x->want && !x->found && !strcmp(name, x->want))
		x->found = -1;   /* collecting */
	if (x->cb && ((x->kind == XML_LIST_S3 && x->depth == 2 &&
		       !strcmp(name, "Contents")) ||
		      (x->kind == XML_LIST_AZURE && x->depth == 3 &&
		       !strcmp(name, "Blob")) ||
		      (x->kind == XML_LIST_S3_UPLOADS && x->depth == 2 &&
		       !strcmp(name, "Upload")))) {
		x->in_entry = true;
		x->key_len = 0;
		x->key[0] = x->etag[0] = x->md5[0] = x->mtime[0] = '\0';
		x->meta_mtime[0] = x->upload_id[0] = '\0';
		x->size = 0;
	}
}

static void on_text(void *ud, const XML_Char *s, int len)
{
	struct xstate *x = ud;
	size_t n = (size_t)len;

	if (x->stopped)
		return;
	if (x->text_len + n >= sizeof(x->text)) {
		x->text_over = true;
		n = sizeof(x->text) - 1 - x->text_len;
	}
	memcpy(x->text + x->text_len, s, n);
	x->text_len += n;
	x->text[x->text_len] = '\0';
}

static void set_field(struct xstate *x, char *dst, size_t cap)
{
	if (x->text_over || x->text_len >= cap) {
		stop(x, -EBADMSG, "element text too long");
		return;
	}
	memcpy(dst, x->text, x->text_len + 1);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!*s || *s == '-')
		return -EBADMSG;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end ? -EBADMSG : 0;
}

static void end_entry(struct xstate *x)
{
	struct xml_list_entry e = {
		x->key, x->key_len, x->size, x->etag, x->md5, x->mtime,
		x->meta_mtime, x->upload_id
	};
	int r;

	x->in_entry = false;
	if (!x->key_len) {
		stop(x, -EBADMSG, "object without a name");
		return;
	}
	if (x->kind == XML_LIST_S3_UPLOADS && !x->upload_id[0]) {
		stop(x, -EBADMSG, "upload without an UploadId");
		return;
	}
	x->page->count++;
	r = x->cb(x->arg, &e);
	if (r)
		stop(x, r, NULL);
}

static void on_end(void *ud, const XML_Char *name)
{
	struct xstate *x = ud;
	const char *el, *parent;
	int d = x->depth;

	if (x->stopped || d < 1)
		return;
	el = x->path[d - 1];
	parent = d >= 2 ? x->path[d - 2] : "";
	if (x->found == -1 && !strcmp(name, x->want)) {
		if (x->text_len >= x->out_cap || x->text_over) {
			stop(x, -EBADMSG, "element text too long");
		} else {
			memcpy(x->out, x->text, x->text_len + 1);
			x->found = 1;
			stop(x, 0, NULL);
		}
	}
	if (x->cb && x->kind == XML_LIST_S3) {
		if (d == 2 && el == known[1]) {
			end_entry(x);
		} else if (d == 3 && x->in_entry && parent == known[1]) {
			if (el == known[2]) {
				set_field(x, x->key, sizeof(x->key));
				x->key_len = x->text_len;
			} else if (el == known[3]) {
				if (parse_u64(x->text, &x->size))
					stop(x, -EBADMSG, "bad Size");
			} else if (el == known[4]) {
				set_field(x, x->etag, sizeof(x->etag));
			} else if (el == known[5]) {
				set_field(x, x->mtime, sizeof(x->mtime));
			}
		} else if (d == 2 && el == known[6]) {
			x->page->truncated = !strcmp(x->text, "true");
		} else if (d == 2 && el == known[7]) {
			set_field(x, x->page->next, sizeof(x->page->next));
		}
	} else if (x->cb && x->kind == XML_LIST_AZURE) {
		if (d == 3 && el == known[10]) {
			end_entry(x);
		} else if (d == 4 && x->in_entry && el == known[11]) {
			set_field(x, x->key, sizeof(x->key));
			x->key_len = x->text_len;
		} else if (d == 5 && x->in_entry && parent == known[12]) {
			if (el == known[13]) {
				if (parse_u64(x->text, &x->size))
					stop(x, -EBADMSG, "bad Content-Length");
			} else if (el == known[14]) {
				set_field(x, x->etag, sizeof(x->etag));
			} else if (el == known[15]) {
				set_field(x, x->md5, sizeof(x->md5));
			} else if (el == known[16]) {
				set_field(x, x->mtime, sizeof(x->mtime));
			}
		} else if (d == 5 && x->in_entry && parent == known[18] &&
			   !strcasecmp(name, "mtime")) {
			/* metadata names are case-insensitive; a value too
			 * long is ignored (objmeta.h), not an error */
			if (!x->text_over &&
			    x->text_len < sizeof(x->meta_mtime))
				memcpy(x->meta_mtime, x->text,
				       x->text_len + 1);
		} else if (d == 2 && el == known[17]) {
			set_field(x, x->page->next, sizeof(x->page->next));
			x->page->truncated = x->text_len > 0;
		}
	} else if (x->cb && x->kind == XML_LIST_S3_UPLOADS) {
		if (d == 2 && el == K_UPLOAD) {
			end_entry(x);
		} else if (d == 3 && x->in_entry && parent == K_UPLOAD) {
			if (el == known[2]) {
				set_field(x, x->key, sizeof(x->key));
				x->key_len = x->text_len;
			} else if (el == K_UPLOAD_ID) {
				set_field(x, x->upload_id,
					  sizeof(x->upload_id));
			} else if (el == K_INITIATED) {
				set_field(x, x->mtime, sizeof(x->mtime));
			}
		} else if (d == 2 && el == known[6]) {
			x->page->truncated = !strcmp(x->text, "true");
		} else if (d == 2 && el == K_NEXT_KEY) {
			set_field(x, x->page->next, sizeof(x->page->next));
		} else if (d == 2 && el == K_NEXT_UPLOAD_ID) {
			set_field(x, x->page->next_upload_id,
				  sizeof(x->page->next_upload_id));
		}
	}
	x->depth--;
	x->text_len = 0;
	x->text[0] = '\0';
}

static int run(struct xstate *x, const char *data, size_t len,
	       struct errbuf *eb)
{
	enum XML_Status st;
	int err = 0;

	x->p = XML_ParserCreate("UTF-8");
	if (!x->p)
		return -ENOMEM;
	XML_SetUserData(x->p, x);
	XML_SetElementHandler(x->p, on_start, on_end);
	XML_SetCharacterDataHandler(x->p, on_text);
	XML_SetStartDoctypeDeclHandler(x->p, on_doctype);
	if (len > (size_t)INT32_MAX)
		len = INT32_MAX;
	st = XML_Parse(x->p, data, (int)len, XML_TRUE);
	if (x->err && x->err_what) {
		err = errbuf_set(eb, x->err, "bad XML response: %s",
				 x->err_what);
	} else if (x->stopped) {
		err = x->err;   /* the callback's own error, or a clean stop */
	} else if (st == XML_STATUS_ERROR) {
		err = errbuf_set(eb, -EBADMSG, "bad XML response at line %lu: %s",
				 (unsigned long)XML_GetCurrentLineNumber(x->p),
				 XML_ErrorString(XML_GetErrorCode(x->p)));
	}
	XML_ParserFree(x->p);
	return err;
}

int xml_list_parse(enum xml_list_kind kind, const char *data, size_t len,
		   xml_list_cb cb, void *arg, struct xml_list_page *page,
		   struct errbuf *eb)
{
	struct xstate *x;
	int err;

	memset(page, 0, sizeof(*page));
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->kind = kind;
	x->cb = cb;
	x->arg = arg;
	x->page = page;
	err = run(x, data, len, eb);
	free(x);
	return err;
}

int xml_value(const char *data, size_t len, const char *name, char *out,
	      size_t cap)
{
	struct xstate *x;
	int err;

	if (!cap)
		return -EINVAL;
	out[0] = '\0';
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->want = name;
	x->out = out;
	x->out_cap = cap;
	err = run(x, data, len, NULL);
	if (!err)
		err = x->found == 1 ? 1 : 0;
	free(x);
	return err;
}
