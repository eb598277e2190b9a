/* gen_corpus: deterministic benchmark trees for bench/run.sh, plus the
 * deterministic "mutate" step every tool sees before its re-run. Not part
 * of the build: run.sh compiles it with `cc -O2` (no CMake needed).
 *
 *   gen_corpus gen KIND DIR [--scale S] [--quick] [--jobs N]
 *   gen_corpus mutate DIR [--seed N]
 *   gen_corpus params KIND [--scale S] [--quick]
 *
 * KIND is small | large | mixed | million. Every property of file i (its
 * directory, name, size, content, mode, mtime) is a pure function of
 * (KIND, i), so the tree is the same byte for byte whatever the thread
 * count or the file system's readdir order. Prints one summary line:
 * "files N bytes B dirs D".
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define GEN_VERSION 1
#define KIB 1024ULL
#define MIB (1024ULL * 1024ULL)
#define CHUNK (1024 * 1024)     /* write buffer; multiple of 8 */
#define PATH_CAP 512
#define MAX_JOBS 16
#define MTIME_BASE 1577836800LL /* 2020-01-01T00:00:00Z */
#define MTIME_SPAN (3LL * 365 * 86400)
#define MUTATE_BIG (4 * MIB)    /* changed files above this get patched */

enum corpus_kind { K_SMALL, K_LARGE, K_MIXED, K_MILLION };

static const char *const kind_names[] = {
	"small", "large", "mixed", "million",
};

static const char *const extensions[] = {
	".txt", ".c", ".h", ".json", ".log", ".jpg", ".png", ".dat",
	".md", ".html", ".py", ".bin", ".csv", ".xml", ".sh", ".pdf",
};

/* One corpus: everything derived from the kind and the scale. */
struct spec {
	enum corpus_kind kind;
	uint64_t nfiles;
	uint64_t nleaves;       /* leaf directories (two levels) */
	uint64_t fanout;        /* leaves per top-level directory */
	uint64_t large_size;    /* K_LARGE: size of each file */
	uint64_t seed;
};

/* What file i is. */
struct file_desc {
	uint64_t leaf;
	uint64_t size;
	uint64_t content_seed;
	int is_text;
	unsigned ext;
	mode_t mode;
	struct timespec mtime;
};

struct prng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z;

	*x += 0x9e3779b97f4a7c15ULL;
	z = *x;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Stateless hash of (a, b): the per-file randomness. */
static uint64_t mix2(uint64_t a, uint64_t b)
{
	uint64_t x = a ^ (b * 0xd6e8feb86659fd93ULL);

	splitmix64(&x);
	return splitmix64(&x);
}

static void prng_seed(struct prng *p, uint64_t seed)
{
	uint64_t x = seed;
	int i;

	for (i = 0; i < 4; i++)
		p->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static inline uint64_t prng_next(struct prng *p)
{
	uint64_t *s = p->s;
	uint64_t r = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

static double unit_double(uint64_t h)
{
	return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

static int spec_init(struct spec *sp, const char *kind, double scale, int quick)
{
	unsigned k;

	memset(sp, 0, sizeof(*sp));
	for (k = 0; k < sizeof(kind_names) / sizeof(kind_names[0]); k++)
		if (!strcmp(kind, kind_names[k]))
			break;
	if (k == sizeof(kind_names) / sizeof(kind_names[0]) ||
	    !(scale > 0.0) || scale > 100.0)
		return -EINVAL;
	sp->kind = (enum corpus_kind)k;
	sp->seed = 0x5eed0000ULL + k;
	switch (sp->kind) {
	case K_SMALL:
		sp->nfiles = (uint64_t)llround(100000 * scale);
		sp->nleaves = (uint64_t)llround(1000 * scale);
		sp->fanout = 32;
		break;
	case K_LARGE:
		sp->nfiles = quick ? 2 : 6;
		sp->large_size = (uint64_t)llround((quick ? 256 : 512) *
						   scale * (double)MIB);
		sp->large_size &= ~(uint64_t)4095;
		sp->nleaves = 1;
		sp->fanout = 1;
		break;
	case K_MIXED:
		sp->nfiles = (uint64_t)llround(20000 * scale);
		sp->nleaves = (uint64_t)llround(400 * scale);
		sp->fanout = 20;
		break;
	case K_MILLION:
		sp->nfiles = (uint64_t)llround(1000000 * scale);
		sp->nleaves = (uint64_t)llround(1000 * scale);
		sp->fanout = 32;
		break;
	}
	if (sp->nfiles == 0)
		sp->nfiles = 1;
	if (sp->nleaves == 0)
		sp->nleaves = 1;
	return 0;
}

/* Size of a "mixed" file: log-normal around 8 KiB (sigma 2, clamped to
 * 32 MiB) plus one 50-100 MiB file in every 2,500. */
static uint64_t mixed_size(uint64_t i, uint64_t h)
{
	double u1, u2, z, v;

	if (i % 2500 == 7)
		return 50 * MIB + (h % (50 * MIB + 1));
	u1 = unit_double(mix2(h, 1));
	u2 = unit_double(mix2(h, 2));
	if (u1 < 1e-12)
		u1 = 1e-12;
	z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
	v = exp(log(8192.0) + 2.0 * z);
	if (v > (double)(32 * MIB))
		v = (double)(32 * MIB);
	return (uint64_t)v;
}

static void file_describe(const struct spec *sp, uint64_t i,
			  struct file_desc *fd)
{
	uint64_t h = mix2(sp->seed, i);
	uint64_t j;

	memset(fd, 0, sizeof(*fd));
	fd->leaf = i % sp->nleaves;
	fd->ext = (unsigned)(mix2(h, 3) % (sizeof(extensions) /
					    sizeof(extensions[0])));
	fd->mode = !strcmp(extensions[fd->ext], ".sh") ? 0755 : 0644;
	fd->mtime.tv_sec = MTIME_BASE + (time_t)(mix2(h, 4) % MTIME_SPAN);
	fd->mtime.tv_nsec = (long)(mix2(h, 5) % 1000000000ULL);
	fd->content_seed = mix2(h, 6);
	switch (sp->kind) {
	case K_SMALL:
		fd->size = mix2(h, 7) % (16 * KIB + 1);
		fd->is_text = (mix2(h, 8) & 1) != 0;
		/* 5% duplicates of an earlier file's content */
		if (i >= 100 && mix2(h, 9) % 20 == 0) {
			struct file_desc orig;

			j = mix2(h, 10) % i;
			file_describe(sp, j, &orig);
			fd->size = orig.size;
			fd->is_text = orig.is_text;
			fd->content_seed = orig.content_seed;
		}
		break;
	case K_LARGE:
		fd->size = sp->large_size;
		fd->is_text = 0;
		fd->ext = 11; /* .bin */
		fd->mode = 0644;
		break;
	case K_MIXED:
		fd->size = mixed_size(i, mix2(h, 7));
		fd->is_text = mix2(h, 8) % 10 < 3;
		break;
	case K_MILLION:
		fd->size = mix2(h, 7) % 65;
		fd->is_text = 1;
		break;
	}
}

static void leaf_path(const struct spec *sp, uint64_t leaf, char *buf,
		      size_t cap)
{
	if (sp->kind == K_LARGE)
		snprintf(buf, cap, "big");
	else
		snprintf(buf, cap, "d%03llu/d%03llu",
			 (unsigned long long)(leaf / sp->fanout),
			 (unsigned long long)(leaf % sp->fanout));
}

static void file_path(const struct spec *sp, uint64_t i,
		      const struct file_desc *fd, char *buf, size_t cap)
{
	char leaf[64];

	leaf_path(sp, fd->leaf, leaf, sizeof(leaf));
	if (sp->kind == K_LARGE)
		snprintf(buf, cap, "%s/big%02llu.bin", leaf,
			 (unsigned long long)i);
	else
		snprintf(buf, cap, "%s/f%07llu%s", leaf, (unsigned long long)i,
			 extensions[fd->ext]);
}

/* Fills buf[0..n) (n a multiple of 8 except at the end) from the stream. */
static void fill(struct prng *p, int is_text, unsigned char *buf, size_t n)
{
	static const char alphabet[65] =
		"etaoinshrdlucmfwypvbgkjqxz  \n\n,.ETAOINSHRDLU0123456789    ()={};";
	size_t off = 0;
	uint64_t w;
	size_t k;

	while (off < n) {
		w = prng_next(p);
		for (k = 0; k < 8 && off < n; k++, off++) {
			unsigned char b = (unsigned char)(w >> (8 * k));

			buf[off] = is_text ? (unsigned char)alphabet[b & 63] : b;
		}
	}
}

static int write_all(int fd, const unsigned char *buf, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, buf, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Writes size bytes of the stream seeded by seed to an open fd. */
static int write_content(int fd, uint64_t seed, int is_text, uint64_t size,
			 unsigned char *buf)
{
	struct prng p;
	uint64_t left = size;
	size_t n;
	int ret;

	prng_seed(&p, seed);
	while (left > 0) {
		n = left > CHUNK ? CHUNK : (size_t)left;
		fill(&p, is_text, buf, n);
		ret = write_all(fd, buf, n);
		if (ret < 0)
			return ret;
		left -= n;
	}
	return 0;
}

/* Creates path (relative to dirfd) with the given content and mtime. */
static int create_file(int dirfd, const char *path, mode_t mode,
		       uint64_t seed, int is_text, uint64_t size,
		       const struct timespec *mtime, unsigned char *buf)
{
	struct timespec ts[2];
	int fd, ret;

	fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    mode);
	if (fd < 0) {
		ret = -errno;
		fprintf(stderr, "gen_corpus: cannot create '%s': %s\n", path,
			strerror(-ret));
		return ret;
	}
	ret = write_content(fd, seed, is_text, size, buf);
	if (ret == 0) {
		/* open() applied the umask: force the mode */
		if (fchmod(fd, mode) < 0)
			ret = -errno;
	}
	if (ret == 0) {
		ts[0] = *mtime;
		ts[1] = *mtime;
		if (futimens(fd, ts) < 0)
			ret = -errno;
	}
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret < 0)
		fprintf(stderr, "gen_corpus: cannot write '%s': %s\n", path,
			strerror(-ret));
	return ret;
}

struct gen_job {
	const struct spec *sp;
	int dirfd;
	unsigned index;
	unsigned njobs;
	int ret;
	uint64_t bytes;
};

static void *gen_worker(void *arg)
{
	struct gen_job *job = arg;
	struct file_desc fd;
	char path[PATH_CAP];
	unsigned char *buf;
	uint64_t i;

	buf = malloc(CHUNK);
	if (!buf) {
		job->ret = -ENOMEM;
		return NULL;
	}
	for (i = job->index; i < job->sp->nfiles; i += job->njobs) {
		file_describe(job->sp, i, &fd);
		file_path(job->sp, i, &fd, path, sizeof(path));
		job->ret = create_file(job->dirfd, path, fd.mode,
				       fd.content_seed, fd.is_text, fd.size,
				       &fd.mtime, buf);
		if (job->ret < 0)
			break;
		job->bytes += fd.size;
	}
	free(buf);
	return NULL;
}

static int mkdir_at(int dirfd, const char *path)
{
	if (mkdirat(dirfd, path, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "gen_corpus: cannot create directory '%s': %s\n",
			path, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Directories: fixed mtimes, set after every file exists. */
static int set_dir_times(const struct spec *sp, int dirfd, uint64_t *ndirs)
{
	struct timespec ts[2];
	char path[64];
	uint64_t top, l;

	ts[0].tv_sec = MTIME_BASE + MTIME_SPAN;
	ts[0].tv_nsec = 0;
	ts[1] = ts[0];
	*ndirs = 0;
	for (l = 0; l < sp->nleaves; l++) {
		leaf_path(sp, l, path, sizeof(path));
		if (utimensat(dirfd, path, ts, 0) < 0)
			return -errno;
		(*ndirs)++;
	}
	if (sp->kind != K_LARGE) {
		for (top = 0; top * sp->fanout < sp->nleaves; top++) {
			snprintf(path, sizeof(path), "d%03llu",
				 (unsigned long long)top);
			if (utimensat(dirfd, path, ts, 0) < 0)
				return -errno;
			(*ndirs)++;
		}
	}
	if (utimensat(dirfd, ".", ts, 0) < 0)
		return -errno;
	return 0;
}

static int cmd_gen(const struct spec *sp, const char *dir, unsigned njobs)
{
	struct gen_job jobs[MAX_JOBS];
	pthread_t th[MAX_JOBS];
	char path[64];
	uint64_t l, top, bytes = 0, ndirs = 0;
	unsigned j, started = 0;
	int dirfd, ret = 0;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "gen_corpus: cannot create '%s': %s\n", dir,
			strerror(errno));
		return -errno;
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fprintf(stderr, "gen_corpus: cannot open '%s': %s\n", dir,
			strerror(errno));
		return -errno;
	}
	if (sp->kind == K_LARGE) {
		ret = mkdir_at(dirfd, "big");
	} else {
		for (top = 0; ret == 0 && top * sp->fanout < sp->nleaves;
		     top++) {
			snprintf(path, sizeof(path), "d%03llu",
				 (unsigned long long)top);
			ret = mkdir_at(dirfd, path);
		}
		for (l = 0; ret == 0 && l < sp->nleaves; l++) {
			leaf_path(sp, l, path, sizeof(path));
			ret = mkdir_at(dirfd, path);
		}
	}
	if (ret < 0)
		goto out_close;

	if (njobs < 1)
		njobs = 1;
	if (njobs > MAX_JOBS)
		njobs = MAX_JOBS;
	for (j = 0; j < njobs; j++) {
		jobs[j].sp = sp;
		jobs[j].dirfd = dirfd;
		jobs[j].index = j;
		jobs[j].njobs = njobs;
		jobs[j].ret = 0;
		jobs[j].bytes = 0;
		if (pthread_create(&th[j], NULL, gen_worker, &jobs[j]) != 0) {
			ret = -EAGAIN;
			break;
		}
		started++;
	}
	for (j = 0; j < started; j++) {
		pthread_join(th[j], NULL);
		if (jobs[j].ret < 0 && ret == 0)
			ret = jobs[j].ret;
		bytes += jobs[j].bytes;
	}
	if (ret < 0)
		goto out_close;
	ret = set_dir_times(sp, dirfd, &ndirs);
	if (ret < 0) {
		fprintf(stderr, "gen_corpus: cannot set directory times: %s\n",
			strerror(-ret));
		goto out_close;
	}
	printf("files %llu bytes %llu dirs %llu\n",
	       (unsigned long long)sp->nfiles, (unsigned long long)bytes,
	       (unsigned long long)ndirs);
out_close:
	close(dirfd);
	return ret;
}

/* ---- mutate: 1% changed, 0.5% added, 0.5% deleted ---- */

struct mfile {
	char *path;             /* relative to the tree root */
	uint64_t size;
	struct timespec mtime;
	mode_t mode;
};

struct mlist {
	struct mfile *v;
	size_t n, cap;
};

static int mlist_add(struct mlist *l, const char *path, const struct stat *st)
{
	struct mfile *nv;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;

		nv = realloc(l->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n].path = strdup(path);
	if (!l->v[l->n].path)
		return -ENOMEM;
	l->v[l->n].size = (uint64_t)st->st_size;
	l->v[l->n].mtime = st->st_mtim;
	l->v[l->n].mode = st->st_mode & 07777;
	l->n++;
	return 0;
}

/* Collects the regular files under rel (relative to rootfd; "" = root),
 * depth bounded by the path buffer. */
static int walk(int rootfd, const char *rel, struct mlist *l)
{
	char path[PATH_CAP];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, ret = 0;

	fd = openat(rootfd, rel[0] ? rel : ".",
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		ret = -errno;
		close(fd);
		return ret;
	}
	while (ret == 0) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			ret = errno ? -errno : 0;
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s%s%s", rel,
				     rel[0] ? "/" : "", de->d_name) >=
		    sizeof(path)) {
			ret = -ENAMETOOLONG;
			break;
		}
		if (fstatat(rootfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = -errno;
			break;
		}
		if (S_ISDIR(st.st_mode))
			ret = walk(rootfd, path, l);
		else if (S_ISREG(st.st_mode))
			ret = mlist_add(l, path, &st);
	}
	closedir(d);
	return ret;
}

static int mfile_cmp(const void *a, const void *b)
{
	const struct mfile *x = a, *y = b;

	return strcmp(x->path, y->path);
}

static int copy_fd(int in, int out, uint64_t size, unsigned char *buf)
{
	uint64_t left = size;
	ssize_t r;
	int ret;

	while (left > 0) {
		r = read(in, buf, left > CHUNK ? CHUNK : (size_t)left);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		ret = write_all(out, buf, (size_t)r);
		if (ret < 0)
			return ret;
		left -= (uint64_t)r;
	}
	return 0;
}

/* The directory holding path gets the fixed post-mutation mtime, so the
 * mutated tree's metadata is deterministic too. */
static int touch_parent(int dirfd, const char *path)
{
	struct timespec ts[2];
	char dir[PATH_CAP];
	const char *slash = strrchr(path, '/');

	ts[0].tv_sec = MTIME_BASE + MTIME_SPAN + 2 * 86400;
	ts[0].tv_nsec = 0;
	ts[1] = ts[0];
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	return utimensat(dirfd, dir, ts, 0) < 0 ? -errno : 0;
}

/* Replaces f (through tmp + rename, so hard links to the old inode keep
 * the old content) with new content: small files are regenerated with a
 * new size, big ones copied with 16 scattered 4 KiB blocks rewritten. */
static int change_file(int dirfd, const struct mfile *f, uint64_t h,
		       unsigned char *buf, uint64_t *new_size)
{
	char tmp[PATH_CAP];
	struct timespec ts[2];
	struct prng p;
	int in = -1, out = -1, ret = 0, k;
	uint64_t size, off;

	snprintf(tmp, sizeof(tmp), "%s.mutate-tmp", f->path);
	ts[0] = f->mtime;
	ts[0].tv_sec += 86400;
	ts[1] = ts[0];
	if (f->size <= MUTATE_BIG) {
		size = f->size / 2 + mix2(h, 11) % (f->size + 1);
		if (size == f->size)
			size++;
		ret = create_file(dirfd, tmp, f->mode, mix2(h, 12),
				  (int)(mix2(h, 13) & 1), size, &ts[0], buf);
		if (ret < 0)
			return ret;
		*new_size = size;
		goto out_rename;
	}
	in = openat(dirfd, f->path, O_RDONLY | O_CLOEXEC);
	out = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		     f->mode);
	if (in < 0 || out < 0) {
		ret = -errno;
		goto out_close;
	}
	ret = copy_fd(in, out, f->size, buf);
	if (ret < 0)
		goto out_close;
	prng_seed(&p, mix2(h, 14));
	for (k = 0; k < 16; k++) {
		off = (prng_next(&p) % (f->size / 4096)) * 4096;
		fill(&p, 0, buf, 4096);
		if (pwrite(out, buf, 4096, (off_t)off) != 4096) {
			ret = errno ? -errno : -EIO;
			goto out_close;
		}
	}
	if (fchmod(out, f->mode) < 0 || futimens(out, ts) < 0)
		ret = -errno;
	*new_size = f->size;
out_close:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0 && ret == 0)
		ret = -errno;
	if (ret < 0) {
		fprintf(stderr, "gen_corpus: cannot change '%s': %s\n",
			f->path, strerror(-ret));
		unlinkat(dirfd, tmp, 0);
		return ret;
	}
out_rename:
	if (renameat(dirfd, tmp, dirfd, f->path) < 0) {
		ret = -errno;
		fprintf(stderr, "gen_corpus: cannot rename '%s': %s\n", tmp,
			strerror(-ret));
	}
	return ret;
}

static int cmd_mutate(const char *dir, uint64_t seed)
{
	struct mlist list = { 0 };
	struct prng p;
	unsigned char *buf = NULL;
	size_t *idx = NULL;
	size_t i, k, nchange, nadd, ndel, tmp_i;
	uint64_t total = 0, new_size = 0, h;
	char path[PATH_CAP];
	const char *slash, *dot;
	struct timespec mt;
	int dirfd = -1, ret = 0;
	uint64_t nfiles;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		ret = -errno;
		fprintf(stderr, "gen_corpus: cannot open '%s': %s\n", dir,
			strerror(-ret));
		goto out;
	}
	ret = walk(dirfd, "", &list);
	if (ret < 0) {
		fprintf(stderr, "gen_corpus: cannot walk '%s': %s\n", dir,
			strerror(-ret));
		goto out;
	}
	if (list.n == 0) {
		fprintf(stderr, "gen_corpus: no files under '%s'\n", dir);
		ret = -ENOENT;
		goto out;
	}
	/* readdir order is the file system's: sort for determinism */
	qsort(list.v, list.n, sizeof(list.v[0]), mfile_cmp);
	for (i = 0; i < list.n; i++)
		total += list.v[i].size;

	nchange = list.n / 100 ? list.n / 100 : 1;
	nadd = list.n / 200;
	ndel = list.n / 200;
	if (nchange + ndel > list.n)
		ndel = 0;
	idx = malloc(list.n * sizeof(*idx));
	buf = malloc(CHUNK);
	if (!idx || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	/* partial Fisher-Yates: the first nchange + ndel picks */
	for (i = 0; i < list.n; i++)
		idx[i] = i;
	prng_seed(&p, mix2(seed, list.n));
	for (i = 0; i < nchange + ndel; i++) {
		k = i + (size_t)(prng_next(&p) % (list.n - i));
		tmp_i = idx[i];
		idx[i] = idx[k];
		idx[k] = tmp_i;
	}
	nfiles = list.n;
	for (i = 0; i < nchange; i++) {
		const struct mfile *f = &list.v[idx[i]];

		ret = change_file(dirfd, f, mix2(seed, idx[i]), buf, &new_size);
		if (ret < 0)
			goto out;
		total = total - f->size + new_size;
	}
	for (i = nchange; i < nchange + ndel; i++) {
		const struct mfile *f = &list.v[idx[i]];

		if (unlinkat(dirfd, f->path, 0) < 0) {
			ret = -errno;
			fprintf(stderr, "gen_corpus: cannot delete '%s': %s\n",
				f->path, strerror(-ret));
			goto out;
		}
		total -= f->size;
		nfiles--;
	}
	/* additions: next to a random file, sized like another random one */
	for (i = 0; i < nadd; i++) {
		const struct mfile *near, *like;
		int dlen;

		h = mix2(seed ^ 0xadd, i);
		near = &list.v[mix2(h, 1) % list.n];
		like = &list.v[mix2(h, 2) % list.n];
		slash = strrchr(near->path, '/');
		dot = strrchr(like->path, '.');
		dlen = slash ? (int)(slash - near->path) : 0;
		if (dlen > 0)
			snprintf(path, sizeof(path), "%.*s/added%06zu%s", dlen,
				 near->path, i, dot ? dot : "");
		else
			snprintf(path, sizeof(path), "added%06zu%s", i,
				 dot ? dot : "");
		mt.tv_sec = MTIME_BASE + MTIME_SPAN + 86400 + (time_t)i;
		mt.tv_nsec = 0;
		ret = create_file(dirfd, path, 0644, mix2(h, 3),
				  (int)(mix2(h, 4) & 1), like->size, &mt, buf);
		if (ret < 0)
			goto out;
		total += like->size;
		nfiles++;
	}
	/* after every change: renames and unlinks moved the times */
	for (i = 0; i < nchange + ndel && ret == 0; i++)
		ret = touch_parent(dirfd, list.v[idx[i]].path);
	for (i = 0; i < nadd && ret == 0; i++) {
		h = mix2(seed ^ 0xadd, i);
		ret = touch_parent(dirfd, list.v[mix2(h, 1) % list.n].path);
	}
	if (ret < 0) {
		fprintf(stderr, "gen_corpus: cannot set directory times: %s\n",
			strerror(-ret));
		goto out;
	}
	printf("files %llu bytes %llu changed %zu added %zu deleted %zu\n",
	       (unsigned long long)nfiles, (unsigned long long)total, nchange,
	       nadd, ndel);
out:
	if (dirfd >= 0)
		close(dirfd);
	for (i = 0; i < list.n; i++)
		free(list.v[i].path);
	free(list.v);
	free(idx);
	free(buf);
	return ret;
}

static int parse_double(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return (errno || end == s || *end) ? -EINVAL : 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return (errno || end == s || *end) ? -EINVAL : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: gen_corpus gen KIND DIR [--scale S] [--quick] [--jobs N]\n"
		"       gen_corpus mutate DIR [--seed N]\n"
		"       gen_corpus params KIND [--scale S] [--quick]\n"
		"KIND: small | large | mixed | million\n");
}

int main(int argc, char **argv)
{
	struct spec sp;
	double scale = 1.0;
	uint64_t seed = 1, jobs = 2;
	int quick = 0, i, npos = 0, ret;
	const char *pos[3] = { NULL, NULL, NULL };

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			quick = 1;
		} else if (!strcmp(argv[i], "--scale") && i + 1 < argc) {
			if (parse_double(argv[++i], &scale) < 0)
				goto usage;
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			if (parse_u64(argv[++i], &seed) < 0)
				goto usage;
		} else if (!strcmp(argv[i], "--jobs") && i + 1 < argc) {
			if (parse_u64(argv[++i], &jobs) < 0)
				goto usage;
		} else if (argv[i][0] == '-' || npos == 3) {
			goto usage;
		} else {
			pos[npos++] = argv[i];
		}
	}
	if (npos == 3 && !strcmp(pos[0], "gen")) {
		if (spec_init(&sp, pos[1], scale, quick) < 0)
			goto usage;
		ret = cmd_gen(&sp, pos[2], (unsigned)jobs);
	} else if (npos == 2 && !strcmp(pos[0], "mutate")) {
		ret = cmd_mutate(pos[1], seed);
	} else if (npos == 2 && !strcmp(pos[0], "params")) {
		if (spec_init(&sp, pos[1], scale, quick) < 0)
			goto usage;
		/* everything that changes the bytes on disk */
		printf("v%d %s files %llu leaves %llu large %llu seed %llu\n",
		       GEN_VERSION, pos[1], (unsigned long long)sp.nfiles,
		       (unsigned long long)sp.nleaves,
		       (unsigned long long)sp.large_size,
		       (unsigned long long)sp.seed);
		ret = 0;
	} else {
		goto usage;
	}
	return ret < 0 ? 1 : 0;
usage:
	usage();
	return 2;
}
