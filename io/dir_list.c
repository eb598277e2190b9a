/* dir_list: read a whole directory with getdents64 (io_uring has no
 * directory read) for the scan stage. The kernel records land in the
 * listing's own name arena and are compacted in place into NUL-terminated
 * names, so a listing reused across directories allocates nothing once it
 * has grown to the largest directory. */
#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compiler.h"
#include "banned.h"

/* getdents64 reads at least this much per call */
#define DIR_READ_CHUNK (64u * 1024)
/* hard caps: 64 Mi entries, 4 GiB of names in one directory */
#define DIR_MAX_ENTS ((size_t)64 << 20)
#define DIR_MAX_NAMES ((size_t)4 << 30)

/* struct linux_dirent64 as the kernel writes it:
 *   u64 d_ino | s64 d_off | u16 d_reclen | u8 d_type | char d_name[]
 *   0         8           16             18          19              */
#define DENT_RECLEN_OFF 16
#define DENT_TYPE_OFF 18
#define DENT_NAME_OFF 19

static int grow_names(struct io_dir_listing *l, size_t need)
{
	size_t cap = l->names_cap ? l->names_cap : 2 * DIR_READ_CHUNK;
	char *p;

	if (need > DIR_MAX_NAMES)
		return -EOVERFLOW;
	while (cap < need)
		cap *= 2;
	if (cap == l->names_cap)
		return 0;
	p = realloc(l->names, cap);
	if (!p)
		return -ENOMEM;
	l->names = p;
	l->names_cap = cap;
	return 0;
}

static int grow_ents(struct io_dir_listing *l)
{
	size_t cap = l->cap ? l->cap * 2 : 256;
	struct io_dirent *p;

	if (l->n >= DIR_MAX_ENTS)
		return -EOVERFLOW;
	p = realloc(l->ents, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	l->ents = p;
	l->cap = cap;
	return 0;
}

static bool is_dot_or_dotdot(const char *name, size_t len)
{
	return (len == 1 && name[0] == '.') ||
	       (len == 2 && name[0] == '.' && name[1] == '.');
}

/* Compact the records read at rd (nread bytes, rd at or after names +
 * names_used) into names appended at names_used. Each record takes 19
 * bytes + name + NUL (+pad), each name only name + NUL, so writes never
 * overtake reads. */
static int take_records(struct io_dir_listing *l, const char *rd,
			size_t nread)
{
	char *wr = l->names + l->names_used;
	size_t off = 0;
	int ret;

	while (off < nread) {
		const char *rec = rd + off;
		uint16_t reclen;
		const char *name = rec + DENT_NAME_OFF;
		size_t maxlen, len;

		memcpy(&reclen, rec + DENT_RECLEN_OFF, sizeof(reclen));
		if (reclen <= DENT_NAME_OFF || reclen > nread - off)
			return -EIO;
		maxlen = reclen - DENT_NAME_OFF;
		len = strnlen(name, maxlen);
		if (len == maxlen || len == 0)
			return -EIO;
		if (!is_dot_or_dotdot(name, len)) {
			struct io_dirent *e;

			if (l->n == l->cap) {
				ret = grow_ents(l);
				if (ret < 0)
					return ret;
			}
			e = &l->ents[l->n++];
			e->name = NULL;  /* set once the arena stops moving */
			e->name_len = len;
			e->d_type = (uint8_t)rec[DENT_TYPE_OFF];
			memmove(wr, name, len + 1);
			wr += len + 1;
		}
		off += reclen;
	}
	l->names_used = (size_t)(wr - l->names);
	return 0;
}

int io_list_dir(int dirfd, struct io_dir_listing *out, struct errbuf *eb)
{
	const char *p;
	size_t at;
	long nread;
	size_t i;
	int ret;

	if (!out || dirfd < 0)
		return errbuf_set(eb, -EINVAL, "list directory: bad argument");
	out->n = 0;
	out->names_used = 0;
	/* the caller may list the same fd again: start from the top */
	if (lseek(dirfd, 0, SEEK_SET) < 0) {
		ret = -errno;
		return errbuf_set(eb, ret, "cannot rewind directory: %s",
				  strerror(-ret));
	}
	for (;;) {
		/* records are 8-byte aligned structs: read them there */
		at = (out->names_used + 7) & ~(size_t)7;
		ret = grow_names(out, at + DIR_READ_CHUNK);
		if (ret < 0)
			goto fail;
		nread = syscall(SYS_getdents64, dirfd, out->names + at,
				(unsigned)MIN(out->names_cap - at,
					      (size_t)1 << 30));
		if (nread < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto fail;
		}
		if (nread == 0)
			break;
		ret = take_records(out, out->names + at, (size_t)nread);
		if (ret < 0)
			goto fail;
	}
	p = out->names;
	for (i = 0; i < out->n; i++) {
		out->ents[i].name = p;
		p += out->ents[i].name_len + 1;
	}
	return 0;
fail:
	out->n = 0;
	out->names_used = 0;
	return errbuf_set(eb, ret, "cannot read directory: %s",
			  strerror(-ret));
}

void io_dir_listing_release(struct io_dir_listing *l)
{
	if (!l)
		return;
	free(l->ents);
	free(l->names);
	memset(l, 0, sizeof(*l));
}
