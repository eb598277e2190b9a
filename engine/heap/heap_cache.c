/* heap_cache: load and save the remote heap's id set (formats in
 * heap_cache.h). Reads and writes in 1 MiB chunks; the checksum of the
 * binary format is the MD5 of the file as written, so a torn or edited
 * cache is refused. */
#include "heap_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fdio.h"
#include "objid.h"
#include "objstore.h"
#include "banned.h"

#define CACHE_MAGIC "SNAPHIDX"
#define CACHE_VERSION 2u    /* 1: no gc id */
#define CACHE_URL_MAX 4096u
#define CACHE_CHUNK (1024 * 1024)

struct cache_io {
	int fd;
	EVP_MD *md;
	EVP_MD_CTX *ctx;
};

static int io_start(struct cache_io *io)
{
	io->md = EVP_MD_fetch(NULL, "MD5", NULL);
	io->ctx = EVP_MD_CTX_new();
	if (!io->md || !io->ctx || !EVP_DigestInit_ex2(io->ctx, io->md, NULL))
		return -EIO;
	return 0;
}

static void io_end(struct cache_io *io)
{
	EVP_MD_CTX_free(io->ctx);
	EVP_MD_free(io->md);
	if (io->fd >= 0)
		close(io->fd);
	io->fd = -1;
}

/* read exactly n bytes (hashing them when hash); -EBADMSG when short */
static int read_full(struct cache_io *io, void *buf, size_t n, bool hash)
{
	ssize_t r = fdio_read_full(io->fd, buf, n);

	if (r < 0)
		return (int)r;
	if ((size_t)r != n)
		return -EBADMSG;
	if (hash && !EVP_DigestUpdate(io->ctx, buf, n))
		return -EIO;
	return 0;
}

static int write_full(struct cache_io *io, const void *buf, size_t n,
		      bool hash)
{
	if (hash && !EVP_DigestUpdate(io->ctx, buf, n))
		return -EIO;
	return fdio_write_full(io->fd, buf, n);
}

static void put32(uint8_t *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static int corrupt(struct errbuf *eb, const char *path, const char *why)
{
	return errbuf_set(eb, -EBADMSG, "heap cache '%s' is corrupt: %s", path,
			  why);
}

/* One line of the text format (without its '\n'): an md5, or empty. */
static int text_line(const char *p, size_t n, struct idset *set,
		     uint64_t line, const char *path, int *count,
		     struct errbuf *eb)
{
	struct objid id;
	char why[64];
	int ret;

	if (n && p[n - 1] == '\r')
		n--;
	if (!n)
		return 0;
	if (n != OBJID_HEX_LEN || objid_from_hex(p, n, &id)) {
		snprintf(why, sizeof(why), "line %llu is not an md5",
			 (unsigned long long)line);
		return corrupt(eb, path, why);
	}
	ret = idset_add(set, &id);
	if (ret < 0)
		return errbuf_set(eb, ret, "out of memory");
	if (ret && *count < INT32_MAX)
		(*count)++;
	return 0;
}

/* The Python tool's text cache, from the start of fd. The count, or
 * -errno. */
static int load_text(int fd, const char *path, struct idset *set,
		     struct errbuf *eb)
{
	char *buf = malloc(CACHE_CHUNK);
	size_t have = 0, start;
	uint64_t line = 1;
	int count = 0, ret = 0;

	if (!buf)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	if (lseek(fd, 0, SEEK_SET) < 0) {
		ret = errbuf_set(eb, -errno, "cannot read heap cache '%s': %s",
				 path, strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t n = fdio_read(fd, buf + have, CACHE_CHUNK - have);
		size_t i;

		if (n < 0) {
			ret = errbuf_set(eb, (int)n, "cannot read heap cache "
					 "'%s': %s", path, strerror((int)-n));
			goto out;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		start = 0;
		for (i = 0; i < have; i++) {
			if (buf[i] != '\n')
				continue;
			ret = text_line(buf + start, i - start, set, line++,
					path, &count, eb);
			if (ret < 0)
				goto out;
			start = i + 1;
		}
		if (!start && have == CACHE_CHUNK) {
			ret = corrupt(eb, path, "line too long");
			goto out;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
	}
	/* Python writes a '\n' after every md5; a last line without one is
	 * taken too */
	ret = text_line(buf, have, set, line, path, &count, eb);
	if (!ret)
		ret = count;
out:
	free(buf);
	return ret;
}

/* The binary header after magic and version (hdr), and the heap URL
 * after it, which must be url; *count gets the id count, which must be
 * what the file's size leaves room for. 0 or -errno. */
static int load_header(struct cache_io *io, const char *path, const char *url,
		       const uint8_t hdr[16], uint64_t size, uint64_t *count,
		       uint8_t gc_id[HEAP_GC_ID_LEN], struct errbuf *eb)
{
	uint32_t version = get32(hdr + 8);
	uint8_t cnt[8];
	uint64_t expect;
	uint32_t url_len;
	char *furl;
	int ret;

	url_len = get32(hdr + 12);
	if (url_len > CACHE_URL_MAX)
		return corrupt(eb, path, "bad header");
	furl = malloc(url_len + 1u);
	if (!furl)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	memset(gc_id, 0, HEAP_GC_ID_LEN);
	ret = read_full(io, furl, url_len, true);
	if (!ret && version >= 2)
		ret = read_full(io, gc_id, HEAP_GC_ID_LEN, true);
	if (!ret)
		ret = read_full(io, cnt, sizeof(cnt), true);
	if (ret < 0) {
		ret = corrupt(eb, path, "truncated");
		goto out;
	}
	furl[url_len] = '\0';
	if (strcmp(furl, url)) {
		ret = errbuf_set(eb, -EBADMSG, "heap cache '%s' belongs to "
				 "another heap ('%s')", path, furl);
		goto out;
	}
	*count = get64(cnt);
	expect = 16u + url_len + (version >= 2 ? HEAP_GC_ID_LEN : 0u) + 8u +
		 16u;
	if (*count > (size - expect) / 16u || size != expect + *count * 16u)
		ret = corrupt(eb, path, "size does not match its count");
out:
	free(furl);
	return ret;
}

/* The count ids after the header into set, in chunks; they must be in
 * strictly ascending order. 0 or -errno. */
static int load_ids(struct cache_io *io, const char *path, uint64_t count,
		    struct idset *set, struct errbuf *eb)
{
	struct objid prev, *buf;
	uint64_t done = 0;
	int ret = 0;

	buf = malloc(CACHE_CHUNK);
	if (!buf)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	while (done < count) {
		size_t n = CACHE_CHUNK / sizeof(*buf), i;

		if (count - done < n)
			n = (size_t)(count - done);
		ret = read_full(io, buf, n * sizeof(*buf), true);
		if (ret < 0) {
			ret = corrupt(eb, path, "truncated");
			goto out;
		}
		for (i = 0; i < n; i++) {
			if ((done || i) && objid_cmp(&prev, &buf[i]) >= 0) {
				ret = corrupt(eb, path, "ids out of order");
				goto out;
			}
			prev = buf[i];
			ret = idset_add(set, &buf[i]);
			if (ret < 0) {
				ret = errbuf_set(eb, ret, "out of memory");
				goto out;
			}
		}
		done += n;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

int heap_cache_load(const char *path, const char *url, struct idset *set,
		    bool *text, uint8_t gc_id[HEAP_GC_ID_LEN],
		    struct errbuf *eb)
{
	struct cache_io io = { -1, NULL, NULL };
	uint8_t hdr[16], sum[16], want[EVP_MAX_MD_SIZE];
	unsigned int wlen = 0;
	uint64_t count = 0;
	struct stat st;
	int ret;

	io.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (io.fd < 0)
		return errbuf_set(eb, -errno, "cannot open heap cache '%s': %s",
				  path, strerror(errno));
	ret = io_start(&io);
	if (ret < 0) {
		ret = errbuf_set(eb, ret, "cannot read heap cache '%s': md5 "
				 "unavailable", path);
		goto out;
	}
	if (fstat(io.fd, &st)) {
		ret = errbuf_set(eb, -errno, "cannot stat heap cache '%s': %s",
				 path, strerror(errno));
		goto out;
	}
	*text = false;
	memset(gc_id, 0, HEAP_GC_ID_LEN);
	ret = read_full(&io, hdr, sizeof(hdr), true);
	if (ret == -EBADMSG || (!ret && memcmp(hdr, CACHE_MAGIC, 8))) {
		/* shorter than the header or not our magic: the Python
		 * tool's text format (or not a cache at all: its lines
		 * say so) */
		*text = true;
		ret = load_text(io.fd, path, set, eb);
		goto out;
	}
	if (ret < 0 || get32(hdr + 8) < 1 || get32(hdr + 8) > CACHE_VERSION) {
		ret = corrupt(eb, path, "bad magic or version");
		goto out;
	}
	ret = load_header(&io, path, url, hdr, (uint64_t)st.st_size, &count,
			  gc_id, eb);
	if (!ret)
		ret = load_ids(&io, path, count, set, eb);
	if (ret < 0)
		goto out;
	ret = read_full(&io, sum, sizeof(sum), false);
	if (ret < 0 || !EVP_DigestFinal_ex(io.ctx, want, &wlen) ||
	    wlen != sizeof(sum) || memcmp(sum, want, sizeof(sum))) {
		ret = corrupt(eb, path, "checksum mismatch");
		goto out;
	}
	ret = count > INT32_MAX ? INT32_MAX : (int)count;
out:
	io_end(&io);
	return ret;
}

/* The ids as the Python tool's text: "<32 hex>\n" each. */
static int save_text(struct cache_io *io, const struct objid *ids, size_t n)
{
	char *buf = malloc(CACHE_CHUNK);
	size_t used = 0, i;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (i = 0; i < n && !ret; i++) {
		objid_to_hex(&ids[i], buf + used);
		buf[used + OBJID_HEX_LEN] = '\n';
		used += OBJID_HEX_LEN + 1;
		if (used + OBJID_HEX_LEN + 1 > CACHE_CHUNK) {
			ret = write_full(io, buf, used, false);
			used = 0;
		}
	}
	if (!ret && used)
		ret = write_full(io, buf, used, false);
	free(buf);
	return ret;
}

int heap_cache_save(const char *path, const char *url, struct idset *set,
		    bool text, const uint8_t gc_id[HEAP_GC_ID_LEN],
		    struct errbuf *eb)
{
	struct cache_io io = { -1, NULL, NULL };
	uint8_t hdr[16], cnt[8], sum[EVP_MAX_MD_SIZE];
	struct objid *ids = NULL;
	unsigned int slen = 0;
	size_t n = 0, url_len = strlen(url);
	char *tmp = NULL;
	size_t tlen;
	int ret;

	if (url_len > CACHE_URL_MAX)
		return errbuf_set(eb, -ENAMETOOLONG, "heap URL too long");
	tlen = strlen(path) + 32;
	tmp = malloc(tlen);
	if (!tmp)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	snprintf(tmp, tlen, "%s.tmp-%d", path, (int)getpid());
	ret = idset_export_sorted(set, &ids, &n);
	if (ret < 0) {
		ret = errbuf_set(eb, ret, "out of memory");
		goto out;
	}
	ret = io_start(&io);
	if (ret < 0) {
		ret = errbuf_set(eb, ret, "cannot write heap cache '%s': md5 "
				 "unavailable", path);
		goto out;
	}
	io.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (io.fd < 0) {
		ret = errbuf_set(eb, -errno, "cannot create '%s': %s", tmp,
				 strerror(errno));
		goto out;
	}
	memcpy(hdr, CACHE_MAGIC, 8);
	put32(hdr + 8, CACHE_VERSION);
	put32(hdr + 12, (uint32_t)url_len);
	put64(cnt, n);
	if (text) {
		ret = save_text(&io, ids, n);
	} else {
		ret = write_full(&io, hdr, sizeof(hdr), true);
		if (!ret)
			ret = write_full(&io, url, url_len, true);
		if (!ret)
			ret = write_full(&io, gc_id, HEAP_GC_ID_LEN, true);
		if (!ret)
			ret = write_full(&io, cnt, sizeof(cnt), true);
		if (!ret && n)
			ret = write_full(&io, ids, n * sizeof(*ids), true);
		if (!ret && (!EVP_DigestFinal_ex(io.ctx, sum, &slen) ||
			     slen != 16))
			ret = -EIO;
		if (!ret)
			ret = write_full(&io, sum, 16, false);
	}
	if (!ret && fsync(io.fd))
		ret = -errno;
	if (!ret) {
		int fd = io.fd;

		io.fd = -1;
		if (close(fd))
			ret = -errno;
	}
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret < 0) {
		errbuf_set(eb, ret, "cannot write heap cache '%s': %s", path,
			   strerror(-ret));
		unlink(tmp);
	}
out:
	io_end(&io);
	free(ids);
	free(tmp);
	return ret;
}

int heap_gc_stamp_write(struct objstore *os, int64_t now_ns,
			struct errbuf *eb)
{
	struct objid id;
	char body[128], hex[OBJID_HEX_LEN + 1];
	struct body_src src = { .kind = BODY_SRC_MEM, .mem = body, .fd = -1 };

	if (getrandom(id.b, sizeof(id.b), 0) != (ssize_t)sizeof(id.b))
		return errbuf_set(eb, -EIO, "cannot draw a gc id: %s",
				  strerror(errno));
	objid_to_hex(&id, hex);
	src.len = (size_t)snprintf(body, sizeof(body), "{\"gc_id\": \"%s\", "
				   "\"gc_ns\": %" PRId64 "}\n", hex, now_ns);
	return objstore_put(os, HEAP_GC_STAMP_KEY, &src, NULL, NULL, eb);
}

/* A stamp bigger than this is not ours */
#define STAMP_MAX 1024

int heap_gc_stamp_read(struct objstore *os, uint8_t id[HEAP_GC_ID_LEN],
		       struct errbuf *eb)
{
	static const uint8_t zero[HEAP_GC_ID_LEN];
	char text[STAMP_MAX + 1];
	struct objid oid;
	const char *p;
	int err;

	memset(id, 0, HEAP_GC_ID_LEN);
	err = objstore_get_small(os, HEAP_GC_STAMP_KEY, text, sizeof(text),
				 eb);
	if (err == -ENOENT)
		return 0;
	if (err < 0)
		return err;
	/* "gc_id": "<32 hex>" */
	p = strstr(text, "\"gc_id\"");
	if (p)
		p = strchr(p + 7, '"');
	if (!p || strnlen(p + 1, OBJID_HEX_LEN + 1) < OBJID_HEX_LEN + 1 ||
	    p[1 + OBJID_HEX_LEN] != '"' ||
	    objid_from_hex(p + 1, OBJID_HEX_LEN, &oid) ||
	    !memcmp(oid.b, zero, sizeof(zero)))  /* zeros mean "none" */
		return errbuf_set(eb, -EBADMSG, "heap '%s': its %s does not "
				  "parse", objstore_url(os), HEAP_GC_STAMP_KEY);
	memcpy(id, oid.b, HEAP_GC_ID_LEN);
	return 0;
}
