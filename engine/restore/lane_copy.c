/* lane_copy: several heap objects copied at once, MD5s in lanes (see the
 * header). The loop goes in rounds: every file of the window reads one
 * chunk, writes it to its temp and hands it to the manager; one flush
 * then hashes all of them side by side and gives every job back, so each
 * buffer is free again for the next round. A file leaves the window when
 * its last (empty) segment comes back or it fails, and the next file
 * takes its place. */
#include "lane_copy.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "hash_worker.h"
#include "heap.h"
#include "md5mb.h"
#include "objid.h"
#include "progress.h"
#include "sparse.h"
#include "tree_writer.h"
#include "fdio.h"
#include "banned.h"

/* One file of the window. */
struct lane {
	struct lane_file *f;
	unsigned char *buf;
	int src, dst, dirfd;     /* dirfd: a dup, the writer's cache moves */
	char tmp[64];
	uint64_t total;
	struct md5mb_job job;
};

unsigned lane_copy_window(unsigned jobs)
{
	unsigned w = hash_lane_window(jobs, 3);

	return w > LANE_COPY_WINDOW_MAX ? LANE_COPY_WINDOW_MAX : w;
}

static const char *shown(const struct entry *e, char *buf, size_t cap)
{
	errbuf_quote_name(buf, cap, e->name, e->name_len);
	return buf;
}

/* Open the object and a temp for l->f; 0, or the file fails (-errno). */
static int lane_start(struct lane *l, struct tree_writer *tw,
		      struct heap *heap)
{
	struct lane_file *f = l->f;
	char name[512];
	int dirfd, ret;

	l->src = l->dst = l->dirfd = -1;
	l->total = 0;
	ret = heap_open_object_sized(heap, &f->e->md5, f->e->size, &l->src,
				     &f->eb);
	if (ret < 0) {
		f->src_bad = ret == -ENOENT || ret == -EBADMSG ||
			     ret == -EFBIG;
		return f->ret = errbuf_wrap(&f->eb, ret, "cannot restore '%s'",
					    shown(f->e, name, sizeof(name)));
	}
	ret = tree_writer_create_temp(tw, f->e, &dirfd, l->tmp, &l->dst,
				      &f->eb);
	if (ret < 0)
		goto fail;
	l->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (l->dirfd < 0) {
		ret = errbuf_set(&f->eb, -errno, "cannot write '%s': %s",
				 shown(f->e, name, sizeof(name)),
				 strerror(errno));
		tree_writer_discard_temp(dirfd, l->tmp, l->dst);
		l->dst = -1;
		goto fail;
	}
	md5mb_job_init(&l->job);
	l->job.user = l;
	return 0;
fail:
	close(l->src);
	l->src = -1;
	return f->ret = ret;
}

/* Let go of a lane: the temp is discarded unless it was published. */
static void lane_end(struct lane *l)
{
	if (l->dst >= 0)
		tree_writer_discard_temp(l->dirfd, l->tmp, l->dst);
	if (l->src >= 0)
		close(l->src);
	if (l->dirfd >= 0)
		close(l->dirfd);
	l->src = l->dst = l->dirfd = -1;
}

/* Read the next chunk, write it to the temp and hand it to the manager
 * (an empty chunk at the end, with last set). 0 or the file fails. */
static int lane_step(struct lane *l, struct md5mb *mb)
{
	struct lane_file *f = l->f;
	const struct entry *e = f->e;
	char name[512], hex[OBJID_HEX_LEN + 1];
	ssize_t n, off = 0;
	int ret;

	n = fdio_read(l->src, l->buf, LANE_COPY_CHUNK);
	if (n < 0) {
		objid_to_hex(&e->md5, hex);
		return f->ret = errbuf_set(&f->eb, (int)n, "cannot read heap "
					   "object %s: %s", hex,
					   strerror((int)-n));
	}
	if (n > 0 && e->sparse) {
		/* holes where the content is zeros; the size is set at the
		 * end */
		ret = sparse_pwrite(l->dst, l->buf, (size_t)n, l->total);
		if (ret < 0)
			return f->ret = errbuf_set(&f->eb, ret, "cannot write "
						   "'%s': %s",
						   shown(e, name, sizeof(name)),
						   strerror(-ret));
		off = n;
	}
	if (off < n) {
		ret = fdio_write_full(l->dst, l->buf + off, (size_t)(n - off));
		if (ret < 0)
			return f->ret = errbuf_set(&f->eb, ret, "cannot "
						   "write '%s': %s",
						   shown(e, name, sizeof(name)),
						   strerror(-ret));
	}
	l->total += (uint64_t)n;
	l->job.data = l->buf;
	l->job.len = (size_t)n;
	l->job.last = n == 0;
	md5mb_submit(mb, &l->job);
	return 0;
}

/* The last segment is back: judge the whole object, publish or fail. */
static void lane_finish(struct lane *l, struct tree_writer *tw,
			struct run_stats *stats)
{
	struct lane_file *f = l->f;
	const struct entry *e = f->e;
	char name[512], hex[OBJID_HEX_LEN + 1];
	int dst = l->dst;

	if (e->sparse && ftruncate(dst, (off_t)l->total)) {
		f->ret = errbuf_set(&f->eb, -errno, "cannot write '%s': %s",
				    shown(e, name, sizeof(name)),
				    strerror(errno));
		return;
	}
	if (memcmp(l->job.digest, e->md5.b, OBJID_LEN) ||
	    l->total != e->size) {
		objid_to_hex(&e->md5, hex);
		f->src_bad = true;
		f->ret = errbuf_set(&f->eb, -EBADMSG, "heap object %s is "
				    "corrupt (its content does not match its "
				    "md5): not restoring '%s'", hex,
				    shown(e, name, sizeof(name)));
		return;
	}
	stat_add(&stats->bytes_read, l->total);
	/* publish takes the temp, whatever it returns */
	l->dst = -1;
	f->ret = tree_writer_publish(tw, e, l->dirfd, l->tmp, dst, &f->eb);
	if (!f->ret)
		stat_add(&stats->bytes_written, l->total);
}

void lane_copy_run(struct tree_writer *tw, struct heap *heap,
		   struct md5mb *mb, unsigned char *bufs, unsigned window,
		   const struct lane_source *src, struct run_stats *stats,
		   volatile sig_atomic_t *interrupted)
{
	struct lane lanes[LANE_COPY_WINDOW_MAX];
	unsigned char *free_bufs[LANE_COPY_WINDOW_MAX];
	unsigned nactive = 0, nfree, i;

	if (window > LANE_COPY_WINDOW_MAX)
		window = LANE_COPY_WINDOW_MAX;
	for (i = 0; i < window; i++)
		free_bufs[i] = bufs + (size_t)i * LANE_COPY_CHUNK;
	nfree = window;
	for (;;) {
		struct md5mb_job *j;

		if (interrupted && *interrupted) {
			for (i = 0; i < nactive; i++) {
				lanes[i].f->ret = errbuf_set(&lanes[i].f->eb,
							     -EINTR,
							     "interrupted");
				lane_end(&lanes[i]);
				src->done(src->ctx, lanes[i].f);
			}
			return;
		}
		/* fill the window */
		while (nactive < window) {
			struct lane *l = &lanes[nactive];

			l->f = src->next(src->ctx);
			if (!l->f)
				break;
			l->f->ret = 0;
			l->f->src_bad = false;
			errbuf_clear(&l->f->eb);
			if (lane_start(l, tw, heap) < 0) {
				src->done(src->ctx, l->f);
				continue;
			}
			l->buf = free_bufs[--nfree];
			nactive++;
		}
		if (!nactive)
			return;
		/* one chunk each, then hash them all side by side */
		for (i = 0; i < nactive; i++)
			lane_step(&lanes[i], mb);
		while ((j = md5mb_flush(mb)) != NULL) {
			struct lane *l = j->user;

			if (j->last)
				lane_finish(l, tw, stats);
		}
		/* out of the window: failed, or the last segment was in */
		for (i = 0; i < nactive;) {
			struct lane *l = &lanes[i];

			if (!l->f->ret && !l->job.last) {
				i++;
				continue;
			}
			lane_end(l);
			src->done(src->ctx, l->f);
			free_bufs[nfree++] = l->buf;
			lanes[i] = lanes[--nactive];
			/* the job moved with its lane: the manager holds
			 * none now (every job came back in the flush) */
			lanes[i].job.user = &lanes[i];
		}
	}
}
