/* test_io: io/ against real files in a temp dir, every test once per
 * backend (io_uring, when the kernel allows it, and plain syscalls):
 * listing, stat batches, small-file read batches (both ring schemes),
 * streams, and the AUTO fallback switch. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io.h"
#include "test.h"

static char root[64];
static int rootfd = -1;
static bool have_uring;

static const enum io_backend backends[] = { IO_BACKEND_URING,
					    IO_BACKEND_SYNC };

#define ARRAY_LEN_BACKENDS (sizeof(backends) / sizeof(backends[0]))

static const char *bname(enum io_backend b)
{
	return b == IO_BACKEND_URING ? "uring" : "sync";
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_tree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* a fresh subdirectory of root; returns its fd */
static int make_dir(const char *name)
{
	int fd;

	if (mkdirat(rootfd, name, 0755) < 0 && errno != EEXIST)
		return -1;
	fd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd;
}

static unsigned char pattern(uint64_t i)
{
	return (unsigned char)((i * 131u) ^ (i >> 12) ^ (i >> 20));
}

static int write_file(int dirfd, const char *name, size_t size)
{
	unsigned char buf[8192];
	size_t off = 0, i, n;
	int fd;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644);
	if (fd < 0)
		return -errno;
	while (off < size) {
		n = size - off < sizeof(buf) ? size - off : sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = pattern(off + i);
		if (write(fd, buf, n) != (ssize_t)n) {
			close(fd);
			return -EIO;
		}
		off += n;
	}
	close(fd);
	return 0;
}

static bool check_pattern(const unsigned char *p, uint64_t off, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != pattern(off + i))
			return false;
	return true;
}

/* NULL (and a note) when the backend cannot be had here */
static struct io_ctx *ctx_new(enum io_backend b, unsigned depth)
{
	struct errbuf eb = ERRBUF_INIT;
	struct io_ctx *io = NULL;
	int ret;

	if (b == IO_BACKEND_URING && !have_uring)
		return NULL;
	ret = io_ctx_new(b, depth, &io, NULL, &eb);
	CHECK_EQ(ret, 0);
	if (ret)
		fprintf(stderr, "io_ctx_new(%s): %s\n", bname(b), eb.msg);
	else
		CHECK_EQ(io_ctx_backend(io), b);
	return io;
}

/* ---- listing ---- */

static void test_list_dir(void)
{
	struct io_dir_listing l = IO_DIR_LISTING_INIT;
	struct errbuf eb = ERRBUF_INIT;
	char name[300];
	unsigned char *seen;
	size_t i, k;
	int dfd, dfd2;

	dfd = make_dir("list");
	CHECK(dfd >= 0);
	if (dfd < 0)
		return;
	/* 1000 entries: plain, odd bytes, a 255-byte name, subdirs */
	for (i = 0; i < 1000; i++) {
		switch (i % 5) {
		case 0:
			snprintf(name, sizeof(name), "f%04zu", i);
			break;
		case 1:
			snprintf(name, sizeof(name), "new\nline %zu\t", i);
			break;
		case 2:
			snprintf(name, sizeof(name), "\xff\xfe bad utf8 %zu", i);
			break;
		case 3:
			snprintf(name, sizeof(name), "d\xc3\xa9j\xc3\xa0 %zu", i);
			break;
		default:
			snprintf(name, sizeof(name), ".hidden %zu", i);
			break;
		}
		if (i == 999) {
			memset(name, 'x', 255);
			name[255] = '\0';
		}
		if (i % 100 == 7)
			CHECK_EQ(mkdirat(dfd, name, 0755), 0);
		else
			CHECK_EQ(write_file(dfd, name, 0), 0);
	}
	seen = calloc(1000, 1);
	CHECK(seen != NULL);
	if (!seen)
		goto out;
	/* twice on the same fd: the second must rewind */
	for (k = 0; k < 2; k++) {
		CHECK_EQ(io_list_dir(dfd, &l, &eb), 0);
		CHECK_EQ(l.n, 1000);
		memset(seen, 0, 1000);
		for (i = 0; i < l.n; i++) {
			const struct io_dirent *e = &l.ents[i];
			size_t idx = 999;

			CHECK_EQ(strlen(e->name), e->name_len);
			CHECK(strcmp(e->name, ".") && strcmp(e->name, ".."));
			if (e->name_len != 255) {
				const char *p = e->name + e->name_len;

				while (p > e->name && (p[-1] < '0' ||
						       p[-1] > '9'))
					p--;
				while (p > e->name && p[-1] >= '0' &&
				       p[-1] <= '9')
					p--;
				idx = strtoul(p, NULL, 10);
			}
			CHECK(idx < 1000);
			if (idx >= 1000)
				continue;
			CHECK(!seen[idx]);
			seen[idx] = 1;
			if (e->d_type != DT_UNKNOWN)
				CHECK_EQ(e->d_type,
					 idx % 100 == 7 ? DT_DIR : DT_REG);
		}
		for (i = 0; i < 1000; i++)
			CHECK(seen[i]);
	}
	/* reuse the listing on an empty directory */
	dfd2 = make_dir("list-empty");
	CHECK(dfd2 >= 0);
	CHECK_EQ(io_list_dir(dfd2, &l, &eb), 0);
	CHECK_EQ(l.n, 0);
	close(dfd2);
	/* not a directory */
	dfd2 = openat(dfd, "f0000", O_RDONLY | O_CLOEXEC);
	CHECK(dfd2 >= 0);
	CHECK_ERR(io_list_dir(dfd2, &l, &eb), ENOTDIR);
	CHECK(strstr(eb.msg, "cannot read directory") != NULL);
	close(dfd2);
	free(seen);
out:
	io_dir_listing_release(&l);
	close(dfd);
}

/* ---- stat batch ---- */

static void stat_batch_one(enum io_backend b, unsigned depth, int dfd)
{
	struct errbuf eb = ERRBUF_INIT;
	const char *names[300];
	char store[300][16];
	struct io_stat out[300];
	struct io_ctx *io;
	struct stat st;
	size_t i;

	io = ctx_new(b, depth);
	if (!io)
		return;
	for (i = 0; i < 300; i++) {
		switch (i % 4) {
		case 0:
			snprintf(store[i], sizeof(store[i]), "f%zu", i);
			break;
		case 1:
			snprintf(store[i], sizeof(store[i]), "missing%zu", i);
			break;
		case 2:
			snprintf(store[i], sizeof(store[i]), "l%zu", i);
			break;
		default:
			snprintf(store[i], sizeof(store[i]), "d");
			break;
		}
		names[i] = store[i];
	}
	memset(out, 0x5a, sizeof(out));
	CHECK_EQ(io_stat_batch(io, dfd, names, 300, out, &eb), 0);
	for (i = 0; i < 300; i++) {
		switch (i % 4) {
		case 0:
			CHECK_EQ(out[i].err, 0);
			CHECK(S_ISREG(out[i].mode));
			CHECK_EQ(out[i].size, i);
			CHECK_EQ(fstatat(dfd, names[i], &st, 0), 0);
			CHECK_EQ(out[i].ino, st.st_ino);
			CHECK_EQ(out[i].dev, st.st_dev);
			CHECK_EQ(out[i].mode, st.st_mode);
			CHECK_EQ(out[i].mtime_ns,
				 st.st_mtim.tv_sec * 1000000000LL +
					 st.st_mtim.tv_nsec);
			CHECK_EQ(out[i].ctime_ns,
				 st.st_ctim.tv_sec * 1000000000LL +
					 st.st_ctim.tv_nsec);
			break;
		case 1:
			CHECK_EQ(out[i].err, -ENOENT);
			break;
		case 2:
			/* the link itself, not its target (a 1 MiB file) */
			CHECK_EQ(out[i].err, 0);
			CHECK(S_ISLNK(out[i].mode));
			CHECK_EQ(out[i].size, strlen("big"));
			break;
		default:
			CHECK_EQ(out[i].err, 0);
			CHECK(S_ISDIR(out[i].mode));
			break;
		}
	}
	/* empty batch; a bad dirfd fails per item */
	CHECK_EQ(io_stat_batch(io, dfd, names, 0, out, &eb), 0);
	CHECK_EQ(io_stat_batch(io, 9999, names, 3, out, &eb), 0);
	CHECK_EQ(out[0].err, -EBADF);
	CHECK_EQ(out[2].err, -EBADF);
	io_ctx_free(io);
}

static void test_stat_batch(void)
{
	char name[32];
	size_t i, k;
	int dfd;

	dfd = make_dir("stat");
	CHECK(dfd >= 0);
	if (dfd < 0)
		return;
	CHECK_EQ(write_file(dfd, "big", 1 << 20), 0);
	CHECK_EQ(mkdirat(dfd, "d", 0755), 0);
	for (i = 0; i < 300; i++) {
		if (i % 4 == 0) {
			snprintf(name, sizeof(name), "f%zu", i);
			CHECK_EQ(write_file(dfd, name, i), 0);
		} else if (i % 4 == 2) {
			snprintf(name, sizeof(name), "l%zu", i);
			CHECK_EQ(symlinkat("big", dfd, name), 0);
		}
	}
	/* depth 1, smaller than and larger than the batch */
	for (k = 0; k < ARRAY_LEN_BACKENDS; k++) {
		stat_batch_one(backends[k], 1, dfd);
		stat_batch_one(backends[k], 16, dfd);
		stat_batch_one(backends[k], 512, dfd);
	}
	close(dfd);
}

/* ---- read batch ---- */

#define RB_CAP 4096
#define RB_NFILES 200

enum rb_kind {
	RB_EMPTY, RB_SMALL, RB_EXACT, RB_LARGE, RB_DIR, RB_LINK, RB_MISSING,
	RB_FIFO, RB_CAP0, RB_NOBUF, RB_NKINDS
};

static const char *const rb_names[RB_NKINDS] = {
	"empty", "small", "exact", "large", "dir", "link", "missing", "fifo",
	"small", "small",
};

static size_t rb_file_size(size_t i)
{
	return (i * 37) % 5000;
}

static void check_read_jobs(const struct io_read_job *jobs, int dfd);

static void read_batch_one(enum io_backend b, unsigned depth,
			   enum io_read_mode mode, int dfd)
{
	struct io_read_job jobs[RB_NKINDS + RB_NFILES];
	struct errbuf eb = ERRBUF_INIT;
	char names[RB_NFILES][16];
	unsigned char *bufs;
	struct io_ctx *io;
	size_t i, n = RB_NKINDS + RB_NFILES;
	int ret, before;

	io = ctx_new(b, depth);
	if (!io)
		return;
	ret = io_ctx_set_read_mode(io, mode);
	if (b == IO_BACKEND_SYNC && mode != IO_READ_AUTO) {
		CHECK_ERR(ret, EOPNOTSUPP);
	} else {
		CHECK_EQ(ret, 0);
	}
	bufs = malloc(n * RB_CAP);
	CHECK(bufs != NULL);
	if (!bufs)
		goto out;
	memset(jobs, 0, sizeof(jobs));
	for (i = 0; i < n; i++) {
		jobs[i].dirfd = dfd;
		jobs[i].buf = bufs + i * RB_CAP;
		jobs[i].cap = RB_CAP;
		jobs[i].err = 12345;
		jobs[i].len = 999999;
		if (i < RB_NKINDS) {
			jobs[i].name = rb_names[i];
		} else {
			snprintf(names[i - RB_NKINDS], sizeof(names[0]),
				 "f%zu", i - RB_NKINDS);
			jobs[i].name = names[i - RB_NKINDS];
		}
	}
	jobs[RB_CAP0].cap = 0;
	jobs[RB_NOBUF].buf = NULL;
	memset(bufs, 0xee, n * RB_CAP);

	CHECK_EQ(io_read_batch(io, jobs, n, &eb), 0);
	before = test_failures;
	check_read_jobs(jobs, dfd);
	if (test_failures != before)
		fprintf(stderr, "  (read batch %s depth %u mode %d)\n",
			bname(b), depth, (int)mode);
	/* no fd leaked: the next descriptor is still low */
	ret = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(ret >= 0 && ret < 64);
	if (ret >= 0)
		close(ret);
	free(bufs);
out:
	io_ctx_free(io);
}

static void check_read_jobs(const struct io_read_job *jobs, int dfd)
{
	struct stat st;
	size_t i;

	CHECK_EQ(jobs[RB_EMPTY].err, 0);
	CHECK_EQ(jobs[RB_EMPTY].len, 0);
	CHECK(S_ISREG(jobs[RB_EMPTY].st_after.mode));
	CHECK_EQ(jobs[RB_EMPTY].st_after.size, 0);

	CHECK_EQ(jobs[RB_SMALL].err, 0);
	CHECK_EQ(jobs[RB_SMALL].len, 100);
	CHECK(check_pattern(jobs[RB_SMALL].buf, 0, 100));
	CHECK_EQ(fstatat(dfd, "small", &st, 0), 0);
	CHECK_EQ(jobs[RB_SMALL].st_after.ino, st.st_ino);
	CHECK_EQ(jobs[RB_SMALL].st_after.dev, st.st_dev);
	CHECK_EQ(jobs[RB_SMALL].st_after.size, 100);
	CHECK_EQ(jobs[RB_SMALL].st_after.mtime_ns,
		 st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);

	CHECK_EQ(jobs[RB_EXACT].err, 0);
	CHECK_EQ(jobs[RB_EXACT].len, RB_CAP);
	CHECK(check_pattern(jobs[RB_EXACT].buf, 0, RB_CAP));
	CHECK_EQ(jobs[RB_EXACT].st_after.size, RB_CAP);

	/* larger than cap: cap bytes, and st_after tells the real size */
	CHECK_EQ(jobs[RB_LARGE].err, 0);
	CHECK_EQ(jobs[RB_LARGE].len, RB_CAP);
	CHECK(check_pattern(jobs[RB_LARGE].buf, 0, RB_CAP));
	CHECK_EQ(jobs[RB_LARGE].st_after.size, 3 * RB_CAP + 17);

	CHECK_EQ(jobs[RB_DIR].err, -EISDIR);
	CHECK_EQ(jobs[RB_LINK].err, -ELOOP);
	CHECK_EQ(jobs[RB_MISSING].err, -ENOENT);

	/* a FIFO where a file was: no hang, nothing read, mode tells */
	CHECK_EQ(jobs[RB_FIFO].err, 0);
	CHECK_EQ(jobs[RB_FIFO].len, 0);
	CHECK(S_ISFIFO(jobs[RB_FIFO].st_after.mode));

	CHECK_EQ(jobs[RB_CAP0].err, 0);
	CHECK_EQ(jobs[RB_CAP0].len, 0);
	CHECK_EQ(jobs[RB_CAP0].st_after.size, 100);

	CHECK_EQ(jobs[RB_NOBUF].err, -EINVAL);

	for (i = 0; i < RB_NFILES; i++) {
		const struct io_read_job *j = &jobs[RB_NKINDS + i];
		size_t sz = rb_file_size(i);
		size_t want = sz < RB_CAP ? sz : RB_CAP;

		CHECK_EQ(j->err, 0);
		CHECK_EQ(j->len, want);
		CHECK_EQ(j->st_after.size, sz);
		CHECK(check_pattern(j->buf, 0, want));
	}
}

static void test_read_batch(void)
{
	static const enum io_read_mode modes[] = {
		IO_READ_AUTO, IO_READ_LINKED, IO_READ_PHASED
	};
	char name[32];
	size_t i, k, m;
	int dfd;

	dfd = make_dir("read");
	CHECK(dfd >= 0);
	if (dfd < 0)
		return;
	CHECK_EQ(write_file(dfd, "empty", 0), 0);
	CHECK_EQ(write_file(dfd, "small", 100), 0);
	CHECK_EQ(write_file(dfd, "exact", RB_CAP), 0);
	CHECK_EQ(write_file(dfd, "large", 3 * RB_CAP + 17), 0);
	CHECK_EQ(mkdirat(dfd, "dir", 0755), 0);
	CHECK_EQ(symlinkat("small", dfd, "link"), 0);
	CHECK_EQ(mkfifoat(dfd, "fifo", 0644), 0);
	for (i = 0; i < RB_NFILES; i++) {
		snprintf(name, sizeof(name), "f%zu", i);
		CHECK_EQ(write_file(dfd, name, rb_file_size(i)), 0);
	}
	for (k = 0; k < ARRAY_LEN_BACKENDS; k++) {
		for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
			read_batch_one(backends[k], 1, modes[m], dfd);
			read_batch_one(backends[k], 7, modes[m], dfd);
			read_batch_one(backends[k], 64, modes[m], dfd);
		}
	}
	close(dfd);
}

/* procfs reports size 0: the reader must go on until end of file */
static void test_read_procfs(void)
{
	static const enum io_read_mode modes[] = {
		IO_READ_PHASED, IO_READ_LINKED
	};
	struct errbuf eb = ERRBUF_INIT;
	struct io_read_job j;
	static char buf[65536];
	struct io_ctx *io;
	size_t k, m;
	int pfd;

	pfd = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0) {
		fprintf(stderr, "note: no /proc, procfs read skipped\n");
		CHECK(1);
		return;
	}
	for (k = 0; k < ARRAY_LEN_BACKENDS; k++) {
		for (m = 0; m < 2; m++) {
			io = ctx_new(backends[k], 4);
			if (!io)
				continue;
			if (backends[k] == IO_BACKEND_URING)
				CHECK_EQ(io_ctx_set_read_mode(io, modes[m]), 0);
			memset(&j, 0, sizeof(j));
			j.dirfd = pfd;
			j.name = "status";
			j.buf = buf;
			j.cap = sizeof(buf) - 1;
			CHECK_EQ(io_read_batch(io, &j, 1, &eb), 0);
			CHECK_EQ(j.err, 0);
			CHECK(j.len > 20 && j.len < j.cap);
			CHECK_EQ(j.st_after.size, 0);
			buf[j.len] = '\0';
			CHECK(strncmp(buf, "Name:", 5) == 0);
			/* the whole file: the last line is there */
			CHECK(buf[j.len - 1] == '\n');
			CHECK(strstr(buf, "voluntary_ctxt_switches") != NULL);
			io_ctx_free(io);
		}
	}
	close(pfd);
}

/* ---- the open-files limit reached by other threads ---- */

static int count_fds(void);

struct fd_holder {
	int *fds;
	int n;
	unsigned delay_ms;
};

static void *release_later(void *arg)
{
	struct fd_holder *h = arg;
	int i;

	usleep(h->delay_ms * 1000u);
	for (i = 0; i < h->n; i++)
		close(h->fds[i]);
	return NULL;
}

/* Fill the fd table up to a lowered RLIMIT_NOFILE; returns how many fds
 * were taken (into fds, at most cap). */
static int fill_fds(int *fds, int cap)
{
	int n = 0, fd;

	while (n < cap && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		fds[n++] = fd;
	return n;
}

/* Many workers under a low `ulimit -n`: an open that finds the limit
 * reached waits for fds to come free (another worker closing) instead of
 * failing the file; with none coming free it fails with EMFILE, named. */
/* io_ctx_set_max_open caps the files a PHASED batch holds open at once (a
 * worker's share of ulimit -n, hash_worker_share_fds); every file is
 * still read whole. Without the cap the batch opens them all at once,
 * which is what makes the measure worth checking. */
static void test_read_max_open(void)
{
	enum { N = 40, CAP = 2 };
	static char bufs[N][256];
	struct io_read_job jobs[N];
	struct errbuf eb = ERRBUF_INIT;
	char names[N][16];
	unsigned cap;
	size_t i;
	int dfd;

	if (!have_uring) {
		fprintf(stderr, "  (no io_uring here: nothing to cap)\n");
		return;
	}
	dfd = make_dir("maxopen");
	CHECK(dfd >= 0);
	if (dfd < 0)
		return;
	for (i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "f%02zu", i);
		CHECK_EQ(write_file(dfd, names[i], 100 + i), 0);
	}
	for (cap = 0; cap <= CAP; cap += CAP) {
		struct io_ctx *io = ctx_new(IO_BACKEND_URING, 64);

		if (!io)
			continue;
		CHECK_EQ(io_ctx_set_read_mode(io, IO_READ_PHASED), 0);
		io_ctx_set_max_open(io, cap);
		memset(jobs, 0, sizeof(jobs));
		for (i = 0; i < N; i++) {
			jobs[i].dirfd = dfd;
			jobs[i].name = names[i];
			jobs[i].buf = bufs[i];
			jobs[i].cap = sizeof(bufs[i]);
		}
		CHECK_EQ(io_read_batch(io, jobs, N, &eb), 0);
		for (i = 0; i < N; i++) {
			CHECK_EQ(jobs[i].err, 0);
			CHECK_EQ(jobs[i].len, 100 + i);
			CHECK(check_pattern(jobs[i].buf, 0, jobs[i].len));
		}
		fprintf(stderr, "  max_open %u: at most %u open at once\n", cap,
			io_ctx_peak_open(io));
		if (cap) {
			CHECK(io_ctx_peak_open(io) >= 1);
			CHECK(io_ctx_peak_open(io) <= cap);
		} else {
			CHECK(io_ctx_peak_open(io) > CAP);
		}
		io_ctx_free(io);
	}
	close(dfd);
}

static void test_read_emfile(void)
{
	static const enum io_read_mode modes[] = {
		IO_READ_PHASED, IO_READ_LINKED
	};
	struct errbuf eb = ERRBUF_INIT;
	struct rlimit old, low;
	struct io_read_job j;
	static char buf[256];
	struct fd_holder h;
	pthread_t t;
	int fds[128], dfd, n;
	size_t k, m, late;

	dfd = make_dir("emfile");
	CHECK(dfd >= 0);
	if (dfd < 0)
		return;
	CHECK_EQ(write_file(dfd, "f", 100), 0);
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
	for (k = 0; k < ARRAY_LEN_BACKENDS; k++) {
		for (m = 0; m < 2; m++) {
			for (late = 0; late < 2; late++) {
				struct io_ctx *io;

				/* one read scheme for the sync backend; LINKED
				 * opens direct descriptors, outside the fd
				 * table: it never runs out, never waits */
				if ((backends[k] == IO_BACKEND_SYNC && m) ||
				    (modes[m] == IO_READ_LINKED && late))
					continue;
				io = ctx_new(backends[k], 4);
				if (!io)
					continue;
				if (backends[k] == IO_BACKEND_URING)
					CHECK_EQ(io_ctx_set_read_mode(io,
								      modes[m]),
						 0);
				low = old;
				low.rlim_cur = (rlim_t)count_fds() + 40;
				CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
				n = fill_fds(fds, 128);
				CHECK(n > 0 && n < 128);
				memset(&j, 0, sizeof(j));
				j.dirfd = dfd;
				j.name = "f";
				j.buf = buf;
				j.cap = sizeof(buf);
				h.fds = fds;
				h.n = n;
				/* late: nothing comes free before the open
				 * gives up (~1.5 s) */
				h.delay_ms = late ? 4000 : 30;
				CHECK_EQ(pthread_create(&t, NULL, release_later,
							&h), 0);
				CHECK_EQ(io_read_batch(io, &j, 1, &eb), 0);
				if (late) {
					CHECK_EQ(j.err, -EMFILE);
				} else {
					CHECK_EQ(j.err, 0);
					CHECK_EQ(j.len, 100);
				}
				pthread_join(t, NULL);
				CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
				io_ctx_free(io);
			}
		}
	}
	close(dfd);
}

/* O_NOATIME on a file we do not own is EPERM: the open is retried
 * without it. Needs root to own the files and drop to another user. */
static void test_noatime_eperm(void)
{
	static const enum io_read_mode modes[] = {
		IO_READ_PHASED, IO_READ_LINKED
	};
	char name[32];
	pid_t pid;
	int dfd, status = -1;
	size_t i;

	if (geteuid() != 0) {
		fprintf(stderr, "note: not root, O_NOATIME EPERM skipped\n");
		CHECK(1);
		return;
	}
	dfd = make_dir("noatime");
	CHECK(dfd >= 0);
	if (dfd < 0)
		return;
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "f%zu", i);
		CHECK_EQ(write_file(dfd, name, 1000 + i), 0);
	}
	CHECK_EQ(chmod(root, 0755), 0);
	fflush(stderr);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct io_read_job jobs[40];
		char names[40][16];
		static unsigned char bufs[40][2048];
		struct errbuf eb = ERRBUF_INIT;
		size_t k, m;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(3);
		for (k = 0; k < ARRAY_LEN_BACKENDS; k++) {
			for (m = 0; m < 2; m++) {
				struct io_ctx *io = ctx_new(backends[k], 8);

				if (!io)
					continue;
				if (backends[k] == IO_BACKEND_URING)
					CHECK_EQ(io_ctx_set_read_mode(
							 io, modes[m]), 0);
				for (i = 0; i < 40; i++) {
					memset(&jobs[i], 0, sizeof(jobs[i]));
					snprintf(names[i], sizeof(names[i]),
						 "f%zu", i);
					jobs[i].dirfd = dfd;
					jobs[i].name = names[i];
					jobs[i].buf = bufs[i];
					jobs[i].cap = sizeof(bufs[i]);
				}
				CHECK_EQ(io_read_batch(io, jobs, 40, &eb), 0);
				for (i = 0; i < 40; i++) {
					CHECK_EQ(jobs[i].err, 0);
					CHECK_EQ(jobs[i].len, 1000 + i);
					CHECK(check_pattern(bufs[i], 0,
							    jobs[i].len));
				}
				io_ctx_free(io);
			}
		}
		_exit(test_failures ? 1 : 0);
	}
	if (pid > 0)
		CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(chmod(root, 0700), 0);
	close(dfd);
}

/* ---- stream ---- */

#define BIG_SIZE ((size_t)10 << 20)

/* Stream name and check every byte against the pattern; returns bytes. */
static uint64_t stream_check(struct io_ctx *io, int dfd, const char *name,
			     size_t chunk, unsigned depth, bool *ok)
{
	struct errbuf eb = ERRBUF_INIT;
	struct io_stream *s = NULL;
	const void *data;
	uint64_t total = 0;
	size_t len;
	int ret;

	*ok = false;
	ret = io_stream_open(io, dfd, name, chunk, depth, &s, &eb);
	CHECK_EQ(ret, 0);
	if (ret)
		return 0;
	*ok = true;
	while ((ret = io_stream_next(s, &data, &len, &eb)) == 1) {
		if (len == 0 || len > chunk ||
		    !check_pattern(data, total, len))
			*ok = false;
		/* every chunk but the last is full */
		if (total % chunk)
			*ok = false;
		total += len;
	}
	CHECK_EQ(ret, 0);
	/* stays at end of file */
	CHECK_EQ(io_stream_next(s, &data, &len, &eb), 0);
	CHECK_EQ(len, 0);
	io_stream_close(s);
	return total;
}

static void stream_one(enum io_backend b, int dfd)
{
	static const size_t chunks[] = { (size_t)1 << 20, 65536, 3 * 4096 + 1 };
	static const unsigned depths[] = { 4, 1, 3 };
	struct errbuf eb = ERRBUF_INIT;
	struct io_stream *s = NULL;
	struct io_stat st;
	struct stat ref;
	struct io_ctx *io;
	const void *data;
	size_t len, c;
	bool ok;

	io = ctx_new(b, 8);
	if (!io)
		return;
	for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		CHECK_EQ(stream_check(io, dfd, "big", chunks[c], depths[c],
				      &ok), BIG_SIZE);
		CHECK(ok);
		CHECK_EQ(stream_check(io, dfd, "odd", chunks[c], depths[c],
				      &ok), BIG_SIZE + 12345);
		CHECK(ok);
		CHECK_EQ(stream_check(io, dfd, "empty", chunks[c], depths[c],
				      &ok), 0);
		CHECK(ok);
	}
	/* depth beyond the ring's is clamped, not refused */
	CHECK_EQ(stream_check(io, dfd, "odd", 65536, 100, &ok),
		 BIG_SIZE + 12345);
	CHECK(ok);

	/* stat of the open file */
	CHECK_EQ(io_stream_open(io, dfd, "odd", 1 << 20, 4, &s, &eb), 0);
	CHECK_EQ(io_stream_stat(s, &st), 0);
	CHECK_EQ(fstatat(dfd, "odd", &ref, 0), 0);
	CHECK_EQ(st.err, 0);
	CHECK_EQ(st.size, BIG_SIZE + 12345);
	CHECK_EQ(st.ino, ref.st_ino);
	CHECK(S_ISREG(st.mode));
	/* a read batch while the stream has reads in flight on the ring */
	CHECK_EQ(io_stream_next(s, &data, &len, &eb), 1);
	CHECK_EQ(len, 1 << 20);
	CHECK(check_pattern(data, 0, len));
	{
		struct io_read_job j[2];
		unsigned char b1[64], b2[64];

		memset(j, 0, sizeof(j));
		j[0].dirfd = dfd;
		j[0].name = "odd";
		j[0].buf = b1;
		j[0].cap = sizeof(b1);
		j[1] = j[0];
		j[1].name = "big";
		j[1].buf = b2;
		CHECK_EQ(io_read_batch(io, j, 2, &eb), 0);
		CHECK_EQ(j[0].err, 0);
		CHECK_EQ(j[0].len, 64);
		CHECK(check_pattern(b1, 0, 64));
		CHECK_EQ(j[1].len, 64);
		CHECK(check_pattern(b2, 0, 64));
	}
	CHECK_EQ(io_stream_next(s, &data, &len, &eb), 1);
	CHECK_EQ(len, 1 << 20);
	CHECK(check_pattern(data, 1 << 20, len));
	/* closed early with reads in flight */
	io_stream_close(s);

	/* errors: symlink, missing, directory */
	errbuf_clear(&eb);
	CHECK_ERR(io_stream_open(io, dfd, "link", 65536, 2, &s, &eb), ELOOP);
	CHECK(s == NULL);
	CHECK(strstr(eb.msg, "cannot open 'link'") != NULL);
	errbuf_clear(&eb);
	CHECK_ERR(io_stream_open(io, dfd, "nope", 65536, 2, &s, &eb), ENOENT);
	CHECK_ERR(io_stream_open(io, dfd, "big", 0, 2, &s, &eb), EINVAL);
	CHECK_ERR(io_stream_open(io, dfd, "big", 4096, 0, &s, &eb), EINVAL);
	errbuf_clear(&eb);
	CHECK_EQ(io_stream_open(io, dfd, "sub", 65536, 2, &s, &eb), 0);
	if (s) {
		CHECK_ERR(io_stream_next(s, &data, &len, &eb), EISDIR);
		CHECK(strstr(eb.msg, "cannot read 'sub'") != NULL);
		/* the error sticks */
		CHECK_ERR(io_stream_next(s, &data, &len, &eb), EISDIR);
		io_stream_close(s);
	}
	io_ctx_free(io);
}

static void test_stream(void)
{
	size_t k;
	int dfd;

	dfd = make_dir("stream");
	CHECK(dfd >= 0);
	if (dfd < 0)
		return;
	CHECK_EQ(write_file(dfd, "big", BIG_SIZE), 0);
	CHECK_EQ(write_file(dfd, "odd", BIG_SIZE + 12345), 0);
	CHECK_EQ(write_file(dfd, "empty", 0), 0);
	CHECK_EQ(symlinkat("big", dfd, "link"), 0);
	CHECK_EQ(mkdirat(dfd, "sub", 0755), 0);
	for (k = 0; k < ARRAY_LEN_BACKENDS; k++)
		stream_one(backends[k], dfd);
	close(dfd);
}

/* ---- context setup and the fallback switch ---- */

static void test_ctx(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct io_ctx *io = NULL;
	bool fell = true;

	CHECK_ERR(io_ctx_new(IO_BACKEND_AUTO, 0, &io, &fell, &eb), EINVAL);
	CHECK(io == NULL);
	CHECK(eb.msg[0] != '\0');
	errbuf_clear(&eb);
	CHECK_ERR(io_ctx_new(IO_BACKEND_AUTO, 100000, &io, &fell, &eb),
		  EINVAL);
	errbuf_clear(&eb);

	/* AUTO without the switch: uring when the kernel has it */
	CHECK_EQ(io_ctx_new(IO_BACKEND_AUTO, 8, &io, &fell, &eb), 0);
	if (io) {
		CHECK_EQ(io_ctx_backend(io),
			 have_uring ? IO_BACKEND_URING : IO_BACKEND_SYNC);
		CHECK(fell == !have_uring);
		io_ctx_free(io);
		io = NULL;
	}

	CHECK_EQ(setenv("SNAP_IO_FORCE_FAIL_URING", "1", 1), 0);
	fell = false;
	CHECK_EQ(io_ctx_new(IO_BACKEND_AUTO, 8, &io, &fell, &eb), 0);
	CHECK(fell);
	if (io) {
		CHECK_EQ(io_ctx_backend(io), IO_BACKEND_SYNC);
		CHECK_ERR(io_ctx_set_read_mode(io, IO_READ_LINKED),
			  EOPNOTSUPP);
		io_ctx_free(io);
		io = NULL;
	}
	CHECK_ERR(io_ctx_new(IO_BACKEND_URING, 8, &io, &fell, &eb), ENOSYS);
	CHECK(io == NULL);
	CHECK(strstr(eb.msg, "io_uring") != NULL);
	errbuf_clear(&eb);
	fell = true;
	CHECK_EQ(io_ctx_new(IO_BACKEND_SYNC, 8, &io, &fell, &eb), 0);
	CHECK(!fell);
	io_ctx_free(io);
	io = NULL;
	CHECK_EQ(unsetenv("SNAP_IO_FORCE_FAIL_URING"), 0);
	io_ctx_free(NULL);
}

static int count_fds(void)
{
	struct io_dir_listing l = IO_DIR_LISTING_INIT;
	int fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int n = -1;

	if (fd < 0)
		return -1;
	if (io_list_dir(fd, &l, NULL) == 0)
		n = (int)l.n;
	io_dir_listing_release(&l);
	close(fd);
	return n;
}

int main(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct io_ctx *io = NULL;
	int fds;

	snprintf(root, sizeof(root), "/tmp/test_io.XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		perror(root);
		return 1;
	}
	unsetenv("SNAP_IO_FORCE_FAIL_URING");
	if (io_ctx_new(IO_BACKEND_URING, 4, &io, NULL, &eb) == 0) {
		have_uring = true;
		io_ctx_free(io);
	} else {
		fprintf(stderr, "note: io_uring unavailable (%s): uring "
			"variants skipped\n", eb.msg);
	}
	fds = count_fds();
	RUN_TEST(test_ctx);
	RUN_TEST(test_list_dir);
	RUN_TEST(test_stat_batch);
	RUN_TEST(test_read_batch);
	RUN_TEST(test_read_procfs);
	RUN_TEST(test_read_max_open);
	RUN_TEST(test_read_emfile);
	RUN_TEST(test_noatime_eperm);
	RUN_TEST(test_stream);
	/* every fd opened by io/ was closed again */
	CHECK_EQ(count_fds(), fds);
	close(rootfd);
	rm_tree(root);
	return test_finish();
}
