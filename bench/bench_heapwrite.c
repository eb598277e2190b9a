/* bench_heapwrite: the measurement behind the heap writer's design (issue
 * 3, item 3): how to get a large file's MD5 and a copy of it in the heap.
 *
 *   bench_heapwrite [-r rounds] FILE HEAPDIR
 *
 * For FILE (warm in the page cache: one untimed read first), best of
 * `rounds`, wall and CPU seconds of one thread:
 *   hash-only       read 1 MiB chunks + MD5 (the floor: no copy at all)
 *   write-while     read + MD5 + write each chunk to an O_TMPFILE in
 *                   HEAPDIR (what the hash worker does)
 *   hash-then-cfr   read + MD5, then copy_file_range into the temp
 *                   (the copy can be skipped when the object exists,
 *                   and is a reflink where the filesystem shares extents)
 *   cfr-then-mmap   copy_file_range first, then MD5 of the private copy
 *                   through 8 MiB mmap windows (one copy fewer)
 * The temps are anonymous: nothing is left in HEAPDIR. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK ((size_t)1 << 20)
#define WINDOW ((size_t)8 << 20)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

enum strategy { HASH_ONLY, WRITE_WHILE, HASH_THEN_CFR, CFR_THEN_MMAP, NSTRAT };

static const char *const names[NSTRAT] = {
	"hash-only", "write-while", "hash-then-cfr", "cfr-then-mmap",
};

struct ctx {
	int src;
	const char *heapdir;
	off_t size;
	char *buf;
	EVP_MD_CTX *md;
};

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int copy_range(int src, int dst, off_t size)
{
	off_t in = 0, out = 0;

	while (in < size) {
		ssize_t n = copy_file_range(src, &in, dst, &out,
					    (size_t)(size - in), 0);

		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;  /* shrank under us */
	}
	return 0;
}

/* read + MD5 (+ write to dst when dst >= 0) */
static int read_hash(struct ctx *c, int dst, unsigned char md[16])
{
	unsigned int mdlen;
	off_t off = 0;
	int ret;

	EVP_DigestInit_ex(c->md, EVP_md5(), NULL);
	while (off < c->size) {
		ssize_t n = pread(c->src, c->buf, CHUNK, off);

		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		EVP_DigestUpdate(c->md, c->buf, (size_t)n);
		if (dst >= 0 && (ret = write_all(dst, c->buf, (size_t)n)) < 0)
			return ret;
		off += n;
	}
	EVP_DigestFinal_ex(c->md, md, &mdlen);
	return 0;
}

static int mmap_hash(struct ctx *c, int fd, unsigned char md[16])
{
	unsigned int mdlen;
	off_t off;

	EVP_DigestInit_ex(c->md, EVP_md5(), NULL);
	for (off = 0; off < c->size; off += (off_t)WINDOW) {
		size_t len = (size_t)(c->size - off) < WINDOW ?
			     (size_t)(c->size - off) : WINDOW;
		void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, off);

		if (m == MAP_FAILED)
			return -errno;
		(void)madvise(m, len, MADV_SEQUENTIAL);
		EVP_DigestUpdate(c->md, m, len);
		munmap(m, len);
	}
	EVP_DigestFinal_ex(c->md, md, &mdlen);
	return 0;
}

static int run(struct ctx *c, enum strategy s, unsigned char md[16])
{
	int tmp = -1, ret;

	if (s != HASH_ONLY) {
		tmp = open(c->heapdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0444);
		if (tmp < 0)
			return -errno;
	}
	switch (s) {
	case HASH_ONLY:
		ret = read_hash(c, -1, md);
		break;
	case WRITE_WHILE:
		ret = read_hash(c, tmp, md);
		break;
	case HASH_THEN_CFR:
		ret = read_hash(c, -1, md);
		if (!ret)
			ret = copy_range(c->src, tmp, c->size);
		break;
	default:
		ret = copy_range(c->src, tmp, c->size);
		if (!ret)
			ret = mmap_hash(c, tmp, md);
		break;
	}
	if (tmp >= 0)
		close(tmp);
	return ret;
}

int main(int argc, char **argv)
{
	double best_wall[NSTRAT] = { 0 }, best_cpu[NSTRAT] = { 0 };
	unsigned char md[16], first[16];
	unsigned rounds = 5, r;
	struct ctx c = { 0 };
	struct stat st;
	int opt, s, ret;

	while ((opt = getopt(argc, argv, "r:")) != -1) {
		if (opt != 'r')
			goto usage;
		rounds = (unsigned)strtoul(optarg, NULL, 10);
	}
	if (optind + 2 != argc || !rounds)
		goto usage;
	c.src = open(argv[optind], O_RDONLY | O_CLOEXEC);
	if (c.src < 0 || fstat(c.src, &st)) {
		perror(argv[optind]);
		return 1;
	}
	c.size = st.st_size;
	c.heapdir = argv[optind + 1];
	c.buf = malloc(CHUNK);
	c.md = EVP_MD_CTX_new();
	if (!c.buf || !c.md)
		return 1;
	ret = run(&c, HASH_ONLY, first);  /* warm the page cache */
	for (r = 0; !ret && r < rounds; r++) {
		for (s = 0; s < NSTRAT; s++) {
			double w = now(), u = cpu();

			ret = run(&c, (enum strategy)s, md);
			if (ret < 0) {
				fprintf(stderr, "%s: %s\n", names[s],
					strerror(-ret));
				return 1;
			}
			if (memcmp(md, first, sizeof(md))) {
				fprintf(stderr, "%s: MD5 differs\n", names[s]);
				return 1;
			}
			w = now() - w;
			u = cpu() - u;
			if (!best_wall[s] || w < best_wall[s])
				best_wall[s] = w;
			if (!best_cpu[s] || u < best_cpu[s])
				best_cpu[s] = u;
		}
	}
	if (ret < 0) {
		fprintf(stderr, "%s: %s\n", argv[optind], strerror(-ret));
		return 1;
	}
	printf("%s: %lld bytes, best of %u\n", argv[optind],
	       (long long)c.size, rounds);
	for (s = 0; s < NSTRAT; s++)
		printf("%-14s %7.3f s wall %7.3f s CPU %8.1f MB/s\n", names[s],
		       best_wall[s], best_cpu[s],
		       (double)c.size / best_wall[s] / 1e6);
	EVP_MD_CTX_free(c.md);
	free(c.buf);
	close(c.src);
	return 0;
usage:
	fprintf(stderr, "usage: bench_heapwrite [-r rounds] FILE HEAPDIR\n");
	return 2;
}
