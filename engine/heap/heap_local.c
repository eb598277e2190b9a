/* heap_local: the heap on a local filesystem. Objects are published with
 * renameat2(RENAME_NOREPLACE) from a temp file in the heap root, so a
 * reader never sees a partial object and two writers of the same content
 * cannot clobber each other. */
#include "heap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

struct heap {
	int rootfd;
	char *root;
	atomic_ulong tmp_counter;
	int pid;
};

struct heap_tx {
	struct heap *heap;
	int fd;
	char tmp_name[64];
};

void heap_object_path(const struct objid *id, char out[36])
{
	char hex[OBJID_HEX_LEN + 1];

	objid_to_hex(id, hex);
	out[0] = hex[0];
	out[1] = hex[1];
	out[2] = '/';
	memcpy(out + 3, hex, OBJID_HEX_LEN + 1);
}

static int mkdir_p(const char *path, struct errbuf *eb)
{
	char buf[4096];
	size_t len = strlen(path), i;

	if (len >= sizeof(buf))
		return errbuf_set(eb, -ENAMETOOLONG, "heap path too long '%s'",
				  path);
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return errbuf_set(eb, -errno, "cannot create '%s': %s",
					  buf, strerror(errno));
		buf[i] = i < len ? '/' : '\0';
	}
	return 0;
}

int heap_open(const char *root, bool create, struct heap **out,
	      struct errbuf *eb)
{
	struct heap *h;
	int ret;

	*out = NULL;
	if (create && (ret = mkdir_p(root, eb)) < 0)
		return ret;
	h = calloc(1, sizeof(*h));
	if (!h)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	h->root = strdup(root);
	h->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (h->rootfd < 0) {
		ret = errbuf_set(eb, -errno, "cannot open heap '%s': %s", root,
				 strerror(errno));
		free(h->root);
		free(h);
		return ret;
	}
	h->pid = (int)getpid();
	*out = h;
	return 0;
}

void heap_free(struct heap *h)
{
	if (!h)
		return;
	close(h->rootfd);
	free(h->root);
	free(h);
}

const char *heap_root(const struct heap *h)
{
	return h->root;
}

int heap_has(struct heap *h, const struct objid *id, struct errbuf *eb)
{
	char path[36];
	struct stat st;

	heap_object_path(id, path);
	if (fstatat(h->rootfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return S_ISREG(st.st_mode) ? 1 : errbuf_set(eb, -EEXIST,
			"heap object '%s/%s' is not a regular file", h->root,
			path);
	if (errno == ENOENT)
		return 0;
	return errbuf_set(eb, -errno, "cannot stat heap object '%s/%s': %s",
			  h->root, path, strerror(errno));
}

int heap_tx_begin(struct heap *h, struct heap_tx **out, struct errbuf *eb)
{
	struct heap_tx *tx = calloc(1, sizeof(*tx));
	int ret;

	*out = NULL;
	if (!tx)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	tx->heap = h;
	snprintf(tx->tmp_name, sizeof(tx->tmp_name), ".tmp-%d-%lu", h->pid,
		 atomic_fetch_add(&h->tmp_counter, 1));
	tx->fd = openat(h->rootfd, tx->tmp_name,
			O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (tx->fd < 0) {
		ret = errbuf_set(eb, -errno, "cannot create '%s/%s': %s",
				 h->root, tx->tmp_name, strerror(errno));
		free(tx);
		return ret;
	}
	*out = tx;
	return 0;
}

int heap_tx_write(struct heap_tx *tx, const void *buf, size_t len,
		  struct errbuf *eb)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(tx->fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errbuf_set(eb, -errno, "cannot write '%s/%s': %s",
					  tx->heap->root, tx->tmp_name,
					  strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void heap_tx_abort(struct heap_tx *tx)
{
	if (!tx)
		return;
	close(tx->fd);
	unlinkat(tx->heap->rootfd, tx->tmp_name, 0);
	free(tx);
}

int heap_tx_commit(struct heap_tx *tx, const struct objid *id,
		   struct errbuf *eb)
{
	struct heap *h = tx->heap;
	char path[36];
	int ret, tries;

	heap_object_path(id, path);
	if (close(tx->fd)) {
		tx->fd = -1;
		ret = errbuf_set(eb, -errno, "cannot write '%s/%s': %s",
				 h->root, tx->tmp_name, strerror(errno));
		unlinkat(h->rootfd, tx->tmp_name, 0);
		free(tx);
		return ret;
	}
	for (tries = 0; tries < 2; tries++) {
		if (renameat2(h->rootfd, tx->tmp_name, h->rootfd, path,
			      RENAME_NOREPLACE) == 0) {
			ret = 1;
			goto out;
		}
		if (errno == EEXIST) {
			ret = 0;
			break;
		}
		if (errno != ENOENT || tries)
			break;
		/* first object of this fan-out directory */
		path[2] = '\0';
		if (mkdirat(h->rootfd, path, 0755) && errno != EEXIST)
			break;
		path[2] = '/';
	}
	if (errno != EEXIST)
		ret = errbuf_set(eb, -errno, "cannot store heap object '%s/%s': %s",
				 h->root, path, strerror(errno));
	unlinkat(h->rootfd, tx->tmp_name, 0);
out:
	free(tx);
	return ret;
}

int heap_put_buf(struct heap *h, const struct objid *id, const void *buf,
		 size_t len, struct errbuf *eb)
{
	struct heap_tx *tx;
	int ret;

	ret = heap_has(h, id, eb);
	if (ret != 0)
		return ret < 0 ? ret : 0;
	ret = heap_tx_begin(h, &tx, eb);
	if (ret < 0)
		return ret;
	ret = heap_tx_write(tx, buf, len, eb);
	if (ret < 0) {
		heap_tx_abort(tx);
		return ret;
	}
	return heap_tx_commit(tx, id, eb);
}

int heap_open_object(struct heap *h, const struct objid *id, int *fd_out,
		     struct errbuf *eb)
{
	char path[36];
	int fd;

	heap_object_path(id, path);
	fd = openat(h->rootfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errbuf_set(eb, -errno, "cannot open heap object '%s/%s': %s",
				  h->root, path, strerror(errno));
	*fd_out = fd;
	return 0;
}

int heap_sync(struct heap *h, struct errbuf *eb)
{
	if (syncfs(h->rootfd))
		return errbuf_set(eb, -errno, "cannot sync heap '%s': %s",
				  h->root, strerror(errno));
	return 0;
}
