/* body: upload sources and download sinks for http requests. */
#include "body.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "banned.h"

ssize_t body_src_pread(const struct body_src *s, void *buf, size_t n,
		       uint64_t pos)
{
	ssize_t r;

	if (pos >= s->len)
		return 0;
	if (n > s->len - pos)
		n = (size_t)(s->len - pos);
	if (!n)
		return 0;
	switch (s->kind) {
	case BODY_SRC_MEM:
		memcpy(buf, (const char *)s->mem + s->off + pos, n);
		return (ssize_t)n;
	case BODY_SRC_FD:
		r = fdio_pread(s->fd, buf, n, s->off + pos);
		if (r < 0)
			return r;
		return r ? r : -EIO;
	case BODY_SRC_CB:
		r = s->read(s->arg, buf, n, s->off + pos);
		if (r == 0)
			return -EIO;
		return r;
	case BODY_SRC_NONE:
		break;
	}
	return -EIO;
}

struct body_src body_src_slice(const struct body_src *s, uint64_t off,
			       uint64_t len)
{
	struct body_src v = *s;

	v.off = s->off + off;
	v.len = len;
	return v;
}

int body_sink_write(struct body_sink *s, const void *data, size_t n,
		    uint64_t pos)
{
	switch (s->kind) {
	case BODY_SINK_DISCARD:
		return 0;
	case BODY_SINK_MEM:
		if (n > s->mem_cap || s->mem_len > s->mem_cap - n)
			return -EFBIG;
		if (s->mem_len + n + 1 > s->mem_alloc) {
			size_t a = s->mem_alloc ? s->mem_alloc : 4096;
			char *m;

			while (a < s->mem_len + n + 1)
				a *= 2;
			if (a > s->mem_cap + 1)
				a = s->mem_cap + 1;
			m = realloc(s->mem, a);
			if (!m)
				return -ENOMEM;
			s->mem = m;
			s->mem_alloc = a;
		}
		memcpy(s->mem + s->mem_len, data, n);
		s->mem_len += n;
		s->mem[s->mem_len] = '\0';  /* text bodies can be parsed */
		return 0;
	case BODY_SINK_FD:
		if (s->fd_len && (n > s->fd_len || pos > s->fd_len - n))
			return -EFBIG;
		return fdio_pwrite_full(s->fd, data, n, s->fd_off + pos);
	}
	return -EINVAL;
}

void body_sink_reset(struct body_sink *s)
{
	s->mem_len = 0;
	if (s->mem)
		s->mem[0] = '\0';
}

void body_sink_release(struct body_sink *s)
{
	free(s->mem);
	s->mem = NULL;
	s->mem_len = 0;
	s->mem_alloc = 0;
}
