/* test_ops: the engine operations end to end through their C API:
 * make-snapshot -> restore into an empty root -> identical tree; an
 * incremental run reuses md5s; sync mirrors; both I/O back ends; the
 * default worker count. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "test.h"

static char base[64];

static void path_of(char *out, size_t cap, const char *rel)
{
	snprintf(out, cap, "%s/%s", base, rel);
}

static void write_file(const char *rel, const char *content, mode_t mode)
{
	char p[512];
	int fd;

	path_of(p, sizeof(p), rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ(write(fd, content, strlen(content)), (long)strlen(content));
	fchmod(fd, mode);
	close(fd);
}

static int run(const char *cmd)
{
	int rc = system(cmd);

	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* 0 when both trees hold the same names, types, modes, sizes, mtimes (ns,
 * directories included), symlink targets and file contents */
static int trees_equal(const char *a, const char *b)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd),
		 "cd %s && find . -mindepth 1 -printf '%%P %%y %%m %%s %%T@ %%l\\n' "
		 "| sort > %s/l1 && cd %s && find . -mindepth 1 -printf "
		 "'%%P %%y %%m %%s %%T@ %%l\\n' | sort > %s/l2 && "
		 "diff %s/l1 %s/l2 && diff -r --no-dereference %s %s",
		 a, base, b, base, base, base, a, b);
	return run(cmd);
}

static void make_tree(void)
{
	char p[512];

	path_of(p, sizeof(p), "src");
	mkdir(p, 0755);
	path_of(p, sizeof(p), "src/d");
	mkdir(p, 0750);
	path_of(p, sizeof(p), "src/d/empty");
	mkdir(p, 0700);
	path_of(p, sizeof(p), "src/d/sub");
	mkdir(p, 0755);
	write_file("src/a.txt", "hello\n", 0644);
	write_file("src/b.txt", "hello\n", 0600);    /* same content */
	write_file("src/d/sub/c", "world", 0755);
	write_file("src/empty", "", 0644);
	path_of(p, sizeof(p), "src/link");
	CHECK_EQ(symlink("d/sub/c", p), 0);
}

static void opts_for(struct engine_opts *o, const char *root,
		     enum io_mode io)
{
	static char heap[512], snap[512];

	memset(o, 0, sizeof(*o));
	engine_opts_defaults(o);
	o->progress = false;
	o->log.level = LOG_ERROR;
	o->io = io;
	o->file_root = root;
	path_of(heap, sizeof(heap), "heap");
	path_of(snap, sizeof(snap), "snaps");
	o->heap_root = heap;
	o->snap_root = snap;
}

static void test_roundtrip(enum io_mode io)
{
	struct engine_opts o;
	struct make_snapshot_opts mo = { .save = true };
	struct restore_opts ro = { .save_before = true, .save_after = true };
	struct run_stats st;
	struct errbuf eb = ERRBUF_INIT;
	char src[512], dst[512], cmd[8192];
	char *snap = NULL;

	path_of(src, sizeof(src), "src");
	path_of(dst, sizeof(dst), "dst");
	opts_for(&o, src, io);
	memset(&st, 0, sizeof(st));
	CHECK_EQ(engine_make_snapshot(&o, &mo, &st, &snap, &eb), 0);
	if (eb.code)
		fprintf(stderr, "error: %s\n", eb.msg);
	CHECK(snap != NULL);
	CHECK_EQ(st.files_scanned, 5);   /* 4 files and 1 symlink */
	CHECK_EQ(st.files_hashed, 4);
	CHECK_EQ(st.heap_objects_written, 3); /* hello, world, empty */

	/* second run: nothing changed, files older than the racy margin */
	snprintf(cmd, sizeof(cmd), "touch -h -d '2020-01-01' %s/a.txt %s/b.txt "
		 "%s/d/sub/c %s/empty", src, src, src, src);
	CHECK_EQ(run(cmd), 0);
	free(snap);
	snap = NULL;
	memset(&st, 0, sizeof(st));
	CHECK_EQ(engine_make_snapshot(&o, &mo, &st, &snap, &eb), 0);
	free(snap);
	snap = NULL;
	memset(&st, 0, sizeof(st));
	CHECK_EQ(engine_make_snapshot(&o, &mo, &st, &snap, &eb), 0);
	CHECK_EQ(st.files_hashed, 0);
	CHECK_EQ(st.md5_reused, 4);
	CHECK_EQ(st.heap_objects_written, 0);

	/* restore into an empty root */
	opts_for(&o, dst, io);
	ro.path = snap;
	memset(&st, 0, sizeof(st));
	CHECK_EQ(engine_restore(&o, &ro, &st, &eb), 0);
	if (eb.code)
		fprintf(stderr, "error: %s\n", eb.msg);
	CHECK_EQ(trees_equal(src, dst), 0);

	/* restore again: nothing to do */
	memset(&st, 0, sizeof(st));
	CHECK_EQ(engine_restore(&o, &ro, &st, &eb), 0);
	CHECK_EQ(st.files_copied, 0);
	CHECK_EQ(st.files_deleted, 0);
	free(snap);
}

static void test_sync(enum io_mode io)
{
	struct engine_opts o;
	struct sync_opts so = { .max_delete = -1 };
	struct run_stats st;
	struct errbuf eb = ERRBUF_INIT;
	char src[512], dst[512];

	path_of(src, sizeof(src), "src");
	path_of(dst, sizeof(dst), "mirror");
	opts_for(&o, NULL, io);
	so.src = src;
	so.dst = dst;
	memset(&st, 0, sizeof(st));
	CHECK_EQ(engine_sync(&o, &so, &st, &eb), 0);
	if (eb.code)
		fprintf(stderr, "error: %s\n", eb.msg);
	CHECK_EQ(st.files_copied, 5);
	CHECK_EQ(trees_equal(src, dst), 0);
	memset(&st, 0, sizeof(st));
	CHECK_EQ(engine_sync(&o, &so, &st, &eb), 0);
	CHECK_EQ(st.files_copied, 0);
	CHECK_EQ(st.files_deleted, 0);
	/* DST inside SRC is refused */
	so.dst = src;
	errbuf_clear(&eb);
	CHECK(engine_sync(&o, &so, &st, &eb) < 0);
	CHECK(strstr(eb.msg, "inside") != NULL);
}

/* The default worker count follows the CPUs the process may run on (its
 * affinity mask), not those online: pinned to one CPU, 2 workers. */
static void test_jobs_follow_affinity(void)
{
	struct engine_opts o;
	cpu_set_t all, one;
	unsigned n;

	CHECK(sched_getaffinity(0, sizeof(all), &all) == 0);
	n = (unsigned)CPU_COUNT(&all);
	engine_opts_defaults(&o);
	CHECK(engine_usable_cpus() == n);
	CHECK(o.jobs == (n > 512 ? 1024 : 2 * n));
	CPU_ZERO(&one);
	for (n = 0; n < CPU_SETSIZE && !CPU_ISSET(n, &all); n++)
		;
	CPU_SET(n, &one);
	CHECK(sched_setaffinity(0, sizeof(one), &one) == 0);
	engine_opts_defaults(&o);
	CHECK(engine_usable_cpus() == 1);
	CHECK(o.jobs == 2);
	CHECK(sched_setaffinity(0, sizeof(all), &all) == 0);
}

/* One policy for every pool: jobs, at least 1; transfers when higher and
 * the workers wait on an object store. */
static void test_workers_policy(void)
{
	struct engine_opts o;

	engine_opts_defaults(&o);
	o.jobs = 4;
	o.transfers = 16;
	CHECK_EQ(engine_workers(&o, false), 4);
	CHECK_EQ(engine_workers(&o, true), 16);
	o.transfers = 2;
	CHECK_EQ(engine_workers(&o, true), 4);
	o.jobs = 0;
	CHECK_EQ(engine_workers(&o, false), 1);
	o.transfers = 0;
	CHECK_EQ(engine_workers(&o, true), 1);
}

int main(void)
{
	enum io_mode modes[] = { IO_MODE_SYNC, IO_MODE_AUTO };
	size_t i;

	test_jobs_follow_affinity();
	test_workers_policy();

	for (i = 0; i < 2; i++) {
		char cmd[1024];

		snprintf(base, sizeof(base), "/tmp/test_ops.XXXXXX");
		if (!mkdtemp(base))
			return 1;
		make_tree();
		test_roundtrip(modes[i]);
		test_sync(modes[i]);
		snprintf(cmd, sizeof(cmd), "chmod -R u+w %s; rm -rf %s", base,
			 base);
		run(cmd);
	}
	return test_finish();
}
