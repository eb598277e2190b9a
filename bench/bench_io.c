/* bench_io: sync vs io_uring for the io/ batch calls the scan and hash
 * stages use, over a directory tree given on the command line (warm page
 * cache: one untimed pass first). Prints files/s per variant:
 *
 *   bench_io [-d depth] [-b batch] [-c cap] [-r rounds] [-C] DIR
 *   bench_io [-r rounds] [-C] -s FILE
 *
 * -C: evict the files' data from the page cache before each read round
 * (posix_fadvise DONTNEED; metadata stays cached), i.e. cold reads.
 * stat: io_stat_batch of every name of each directory.
 * read: io_read_batch of the regular files, `batch` jobs per call, cap
 * bytes each (sync, uring PHASED, uring LINKED).
 * -s: io_stream of one file, 1 MiB chunks, 4 in flight, MiB/s. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "banned.h"

struct bdir {
	int fd;
	struct io_dir_listing l;
	const char **names;    /* every entry */
	const char **files;    /* regular files only */
	size_t nfiles;
};

struct tree {
	struct bdir *dirs;
	size_t n, cap;
	size_t entries, files;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int add_dir(struct tree *t, int fd, struct errbuf *eb)
{
	struct bdir *d;
	size_t i, first;
	int ret;

	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		struct bdir *p = realloc(t->dirs, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		t->dirs = p;
		t->cap = cap;
	}
	first = t->n++;
	d = &t->dirs[first];
	memset(d, 0, sizeof(*d));
	d->fd = fd;
	ret = io_list_dir(fd, &d->l, eb);
	if (ret < 0)
		return ret;
	d->names = calloc(d->l.n + 1, sizeof(*d->names));
	d->files = calloc(d->l.n + 1, sizeof(*d->files));
	if (!d->names || !d->files)
		return -ENOMEM;
	t->entries += d->l.n;
	/* the recursion may move t->dirs: index, never keep d across it */
	for (i = 0; i < t->dirs[first].l.n; i++) {
		const struct io_dirent *e = &t->dirs[first].l.ents[i];
		unsigned char type = e->d_type;
		struct stat st;

		t->dirs[first].names[i] = e->name;
		if (type == DT_UNKNOWN &&
		    fstatat(fd, e->name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			type = S_ISREG(st.st_mode) ? DT_REG :
			       S_ISDIR(st.st_mode) ? DT_DIR : DT_UNKNOWN;
		if (type == DT_REG) {
			d = &t->dirs[first];
			d->files[d->nfiles++] = e->name;
			t->files++;
		} else if (type == DT_DIR) {
			int sub = openat(fd, e->name,
					 O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			if (sub < 0)
				continue;
			ret = add_dir(t, sub, eb);  /* may move t->dirs */
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

static int run_stat(struct io_ctx *io, const struct tree *t,
		    struct io_stat *out, size_t *errs)
{
	struct errbuf eb = ERRBUF_INIT;
	size_t i, k;
	int ret;

	for (i = 0; i < t->n; i++) {
		const struct bdir *d = &t->dirs[i];

		ret = io_stat_batch(io, d->fd, d->names, d->l.n, out, &eb);
		if (ret < 0) {
			fprintf(stderr, "stat batch: %s\n", eb.msg);
			return ret;
		}
		for (k = 0; k < d->l.n; k++)
			*errs += out[k].err != 0;
	}
	return 0;
}

static int run_read(struct io_ctx *io, const struct tree *t,
		    struct io_read_job *jobs, size_t batch, char *bufs,
		    size_t cap, size_t *errs, unsigned long long *bytes)
{
	struct errbuf eb = ERRBUF_INIT;
	size_t n = 0, i, k;
	int ret;

	for (i = 0; i <= t->n; i++) {
		const struct bdir *d = i < t->n ? &t->dirs[i] : NULL;
		size_t f = 0;

		while (d ? f < d->nfiles : n > 0) {
			if (d) {
				jobs[n].dirfd = d->fd;
				jobs[n].name = d->files[f++];
				jobs[n].buf = bufs + n * cap;
				jobs[n].cap = cap;
				n++;
			}
			if (n < batch && d)
				continue;
			ret = io_read_batch(io, jobs, n, &eb);
			if (ret < 0) {
				fprintf(stderr, "read batch: %s\n", eb.msg);
				return ret;
			}
			for (k = 0; k < n; k++) {
				*errs += jobs[k].err != 0;
				*bytes += jobs[k].len;
			}
			n = 0;
		}
	}
	return 0;
}

/* process CPU seconds, io_uring worker threads included */
static double cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct res {
	double stat_s, stat_cpu, read_s, read_cpu;
	size_t errs;
	unsigned long long bytes;
};

#define NVARIANTS 3

/* drop the page-cache pages of every file (not dentries or inodes):
 * the next read round starts with cold data */
static void evict(const struct tree *t)
{
	size_t i, f;
	int fd;

	for (i = 0; i < t->n; i++) {
		for (f = 0; f < t->dirs[i].nfiles; f++) {
			fd = openat(t->dirs[i].fd, t->dirs[i].files[f],
				    O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (fd < 0)
				continue;
			(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
			close(fd);
		}
	}
}

/* -s FILE: stream it with each backend (1 MiB chunks, 4 in flight) */
static int bench_stream(const char *path, bool cold, unsigned rounds)
{
	static const enum io_backend bk[] = { IO_BACKEND_SYNC,
					      IO_BACKEND_URING };
	static const char *const bn[] = { "sync", "uring" };
	struct errbuf eb = ERRBUF_INIT;
	double best[2] = { 0, 0 };
	unsigned long long total = 0;
	unsigned r, b;
	int ret;

	for (r = 0; r < rounds; r++) {
		for (b = 0; b < 2; b++) {
			struct io_stream *s = NULL;
			struct io_ctx *io = NULL;
			const void *data;
			size_t len;
			double t0;
			int fd;

			if (cold) {
				fd = open(path, O_RDONLY | O_CLOEXEC);
				if (fd >= 0) {
					(void)posix_fadvise(fd, 0, 0,
							    POSIX_FADV_DONTNEED);
					close(fd);
				}
			}
			ret = io_ctx_new(bk[b], 8, &io, NULL, &eb);
			if (ret < 0)
				goto fail;
			t0 = now();
			ret = io_stream_open(io, AT_FDCWD, path, 1 << 20, 4,
					     &s, &eb);
			if (ret < 0) {
				io_ctx_free(io);
				goto fail;
			}
			total = 0;
			while ((ret = io_stream_next(s, &data, &len, &eb)) == 1)
				total += len;
			io_stream_close(s);
			io_ctx_free(io);
			if (ret < 0)
				goto fail;
			t0 = now() - t0;
			if (!best[b] || t0 < best[b])
				best[b] = t0;
		}
	}
	for (b = 0; b < 2; b++)
		printf("stream %-6s %8.1f MiB/s (%llu bytes%s)\n", bn[b],
		       (double)total / best[b] / (1 << 20), total,
		       cold ? ", cold" : "");
	return 0;
fail:
	fprintf(stderr, "stream: %s\n", eb.msg);
	return 1;
}

struct variant {
	const char *name;
	enum io_backend backend;
	enum io_read_mode mode;
};

int main(int argc, char **argv)
{
	static const struct variant variants[NVARIANTS] = {
		{ "sync", IO_BACKEND_SYNC, IO_READ_AUTO },
		{ "uring-phased", IO_BACKEND_URING, IO_READ_PHASED },
		{ "uring-linked", IO_BACKEND_URING, IO_READ_LINKED },
	};
	struct io_ctx *ios[NVARIANTS];
	struct res res[NVARIANTS];
	struct errbuf eb = ERRBUF_INIT;
	struct tree t = { 0 };
	unsigned depth = 64, rounds = 5;
	const char *stream_path = NULL;
	bool cold = false;
	size_t batch = 256, cap = 64 * 1024, maxn = 0, i, v, r;
	struct io_read_job *jobs;
	struct io_stat *st;
	char *bufs;
	int opt, fd, ret;

	while ((opt = getopt(argc, argv, "d:b:c:r:Cs:")) != -1) {
		switch (opt) {
		case 's':
			stream_path = optarg;
			break;
		case 'C':
			cold = true;
			break;
		case 'd':
			depth = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			batch = strtoul(optarg, NULL, 10);
			break;
		case 'c':
			cap = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rounds = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			goto usage;
		}
	}
	if (stream_path && optind == argc && rounds)
		return bench_stream(stream_path, cold, rounds);
	if (optind + 1 != argc || !batch || !cap || !rounds)
		goto usage;
	fd = open(argv[optind], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		perror(argv[optind]);
		return 1;
	}
	ret = add_dir(&t, fd, &eb);
	if (ret < 0) {
		fprintf(stderr, "cannot walk '%s': %s\n", argv[optind],
			eb.code ? eb.msg : strerror(-ret));
		return 1;
	}
	for (i = 0; i < t.n; i++)
		if (t.dirs[i].l.n > maxn)
			maxn = t.dirs[i].l.n;
	st = calloc(maxn + 1, sizeof(*st));
	jobs = calloc(batch, sizeof(*jobs));
	memset(res, 0, sizeof(res));
	bufs = malloc(batch * cap);
	if (!st || !jobs || !bufs)
		return 1;
	printf("tree: %zu dirs, %zu entries, %zu regular files; depth %u, "
	       "batch %zu, cap %zu, best of %u interleaved rounds%s\n", t.n,
	       t.entries, t.files, depth, batch, cap, rounds,
	       cold ? ", cold data reads" : "");
	/* rounds interleave the variants, so load from other processes on
	 * the machine hits them alike; best wall time and its CPU cost */
	for (v = 0; v < NVARIANTS; v++) {
		const struct variant *va = &variants[v];
		unsigned long long bytes = 0;
		size_t errs = 0;

		ret = io_ctx_new(va->backend, depth, &ios[v], NULL, &eb);
		if (ret < 0) {
			printf("%-13s unavailable: %s\n", va->name, eb.msg);
			errbuf_clear(&eb);
			ios[v] = NULL;
			continue;
		}
		if (io_ctx_set_read_mode(ios[v], va->mode) < 0) {
			printf("%-13s read mode unsupported\n", va->name);
			io_ctx_free(ios[v]);
			ios[v] = NULL;
			continue;
		}
		/* warm-up pass: page cache, dentries, ring workers */
		if (run_stat(ios[v], &t, st, &errs) < 0 ||
		    run_read(ios[v], &t, jobs, batch, bufs, cap, &errs,
			     &bytes) < 0)
			return 1;
	}
	for (r = 0; r < rounds; r++) {
		for (v = 0; v < NVARIANTS; v++) {
			struct res *o = &res[v];
			double t0, t1, t2, c0, c1, c2;

			if (!ios[v])
				continue;
			o->errs = 0;
			o->bytes = 0;
			c0 = cpu();
			t0 = now();
			if (run_stat(ios[v], &t, st, &o->errs) < 0)
				return 1;
			if (cold)
				evict(&t);
			t1 = now();
			c1 = cpu();
			if (run_read(ios[v], &t, jobs, batch, bufs, cap,
				     &o->errs, &o->bytes) < 0)
				return 1;
			t2 = now();
			c2 = cpu();
			if (!o->stat_s || t1 - t0 < o->stat_s) {
				o->stat_s = t1 - t0;
				o->stat_cpu = c1 - c0;
			}
			if (!o->read_s || t2 - t1 < o->read_s) {
				o->read_s = t2 - t1;
				o->read_cpu = c2 - c1;
			}
		}
	}
	for (v = 0; v < NVARIANTS; v++) {
		const struct res *o = &res[v];

		if (!ios[v])
			continue;
		printf("%-13s stat %8.0f files/s (%5.2f us cpu/file)   "
		       "read %8.0f files/s (%5.2f us cpu/file)   "
		       "%llu bytes, %zu errors\n", variants[v].name,
		       (double)t.entries / o->stat_s,
		       o->stat_cpu * 1e6 / (double)t.entries,
		       (double)t.files / o->read_s,
		       o->read_cpu * 1e6 / (double)t.files, o->bytes,
		       o->errs);
		io_ctx_free(ios[v]);
	}
	for (i = 0; i < t.n; i++) {
		close(t.dirs[i].fd);
		io_dir_listing_release(&t.dirs[i].l);
		free(t.dirs[i].names);
		free(t.dirs[i].files);
	}
	free(t.dirs);
	free(st);
	free(jobs);
	free(bufs);
	return 0;
usage:
	fprintf(stderr, "usage: bench_io [-d depth] [-b batch] [-c cap] "
		"[-r rounds] [-C] DIR | [-r rounds] [-C] -s FILE\n");
	return 2;
}
