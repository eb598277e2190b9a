/* test_root_nesting: whether two roots nest, by name (URLs, "..",
 * trailing slashes, roots that do not exist yet, symlinks) and through
 * mounts (a bind mount of a folder, a mount hidden under a later one,
 * when this process may mount). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"
#include "fsloc.h"
#include "root_nesting.h"
#include "test.h"

static char base[64];

static int nest(const char *a, const char *b)
{
	struct errbuf eb = ERRBUF_INIT;
	char pa[256], pb[256];

	/* "@x" is x under the test's folder */
	snprintf(pa, sizeof(pa), "%s%s", *a == '@' ? base : "", a + (*a == '@'));
	snprintf(pb, sizeof(pb), "%s%s", *b == '@' ? base : "", b + (*b == '@'));
	return root_nesting(pa, pb, &eb);
}

static void test_urls(void)
{
	CHECK_EQ(nest("s3://b/heap", "s3://b/heap/"), ROOT_A_IN_B | ROOT_B_IN_A);
	CHECK_EQ(nest("s3://b/heap/ab", "s3://b/heap"), ROOT_A_IN_B);
	CHECK_EQ(nest("s3://b", "s3://b/x"), ROOT_B_IN_A);
	CHECK_EQ(nest("s3://b/heap2", "s3://b/heap"), 0);
	/* spelled as the store names it: leading and trailing '/' */
	CHECK_EQ(nest("s3://b//heap", "s3://b/heap"), ROOT_A_IN_B | ROOT_B_IN_A);
	CHECK_EQ(nest("az://c///heap//", "az://c/heap/x"), ROOT_B_IN_A);
	CHECK_EQ(nest("s3://bb/x", "s3://b"), 0);
	CHECK_EQ(nest("az://b/x", "s3://b/x"), 0);
	/* a store and a local path never nest */
	CHECK_EQ(nest("s3://b/x", "/"), 0);
}

static void test_local_names(void)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/d/sub", base);
	CHECK_EQ(mkdir(p, 0700) == 0 || errno == EEXIST, 1);
	CHECK_EQ(nest("@/d", "@/d/"), ROOT_A_IN_B | ROOT_B_IN_A);
	CHECK_EQ(nest("@/d/sub", "@/d"), ROOT_A_IN_B);
	CHECK_EQ(nest("@/d/../d/sub/x/y", "@/d"), ROOT_A_IN_B);
	CHECK_EQ(nest("@/d", "@/d/not/yet"), ROOT_B_IN_A);
	CHECK_EQ(nest("@/d2", "@/d"), 0);
	CHECK_EQ(nest("@/e", "@/d"), 0);
	CHECK_EQ(nest("/", "@/d"), ROOT_B_IN_A);
	snprintf(p, sizeof(p), "%s/link", base);
	CHECK_EQ(symlink("d/sub", p), 0);
	CHECK_EQ(nest("@/link/new", "@/d/sub"), ROOT_A_IN_B);
	CHECK_EQ(nest("@/d", "@/link"), ROOT_B_IN_A);
	/* ".." after a folder not there yet: its parent, as once made */
	CHECK_EQ(nest("@/nosuch/../d/sub", "@/d"), ROOT_A_IN_B);
	CHECK_EQ(nest("@/nosuch/../d", "@/d"), ROOT_A_IN_B | ROOT_B_IN_A);
	CHECK_EQ(nest("@/d/new/../../e", "@/d"), 0);
	CHECK_EQ(nest("@/nosuch/./../link/x", "@/d/sub"), ROOT_A_IN_B);
}

/* fsloc_places' paths: how many, and the first */
struct place_list {
	int n;
	char first[256];
};

static int add_place(void *ctx, const char *at)
{
	struct place_list *pl = ctx;

	if (!pl->n++)
		snprintf(pl->first, sizeof(pl->first), "%s", at);
	return 0;
}

/* A folder bound elsewhere: no name and no parent shows that it is
 * inside d; fsloc does. Root only (mount). */
static void test_bind_mount(void)
{
	char from[256], to[256];

	snprintf(from, sizeof(from), "%s/d/sub", base);
	snprintf(to, sizeof(to), "%s/m", base);
	CHECK_EQ(mkdir(to, 0700), 0);
	if (mount(from, to, NULL, MS_BIND, NULL)) {
		printf("skip: bind mount (%s)\n", strerror(errno));
		return;
	}
	CHECK_EQ(nest("@/m", "@/d"), ROOT_A_IN_B | ROOT_THROUGH_MOUNT);
	CHECK_EQ(nest("@/m/new", "@/d/sub"), ROOT_A_IN_B | ROOT_THROUGH_MOUNT);
	CHECK_EQ(nest("@/m", "@/d/sub"),
		 ROOT_A_IN_B | ROOT_B_IN_A | ROOT_THROUGH_MOUNT);
	CHECK_EQ(nest("@/d", "@/m/x"), ROOT_B_IN_A | ROOT_THROUGH_MOUNT);
	CHECK_EQ(nest("@/e", "@/m"), 0);
	/* fsloc alone: the bind mount and its source are one place */
	snprintf(from, sizeof(from), "%s/d/sub", base);
	CHECK_EQ(fsloc_nesting(to, from), FSLOC_A_IN_B | FSLOC_B_IN_A);
	/* a mount below a path counts as inside it */
	snprintf(from, sizeof(from), "%s", base);
	CHECK_EQ(fsloc_nesting(to, from), FSLOC_A_IN_B);
	CHECK_EQ(umount(to), 0);
	snprintf(from, sizeof(from), "%s/d/sub", base);
	CHECK_EQ(fsloc_nesting(to, from), 0);
	/* where a mount shows b under a: e/mnt2 shows d, so d/sub is
	 * seen at e/mnt2/sub, and only there */
	{
		struct errbuf eb = ERRBUF_INIT;
		char e[256], mnt[256], at[256], want[300];
		struct place_list pl = { 0 };

		snprintf(e, sizeof(e), "%s/e", base);
		snprintf(mnt, sizeof(mnt), "%s/e/mnt2", base);
		snprintf(from, sizeof(from), "%s/d", base);
		CHECK_EQ(mkdir(mnt, 0700), 0);
		CHECK_EQ(mount(from, mnt, NULL, MS_BIND, NULL), 0);
		snprintf(from, sizeof(from), "%s/d/sub", base);
		CHECK_EQ(root_nesting(e, from, &eb),
			 ROOT_B_IN_A | ROOT_THROUGH_MOUNT);
		CHECK_EQ(fsloc_places(e, from, add_place, &pl), 0);
		CHECK_EQ(pl.n, 1);
		snprintf(at, sizeof(at), "%s", pl.first);
		snprintf(want, sizeof(want), "%s/mnt2/sub", e);
		CHECK_STREQ(at, want);
		CHECK_EQ(umount(mnt), 0);
	}
}

/* A mount hidden under a later one on a parent: o/inner shows
 * what the later mount shows, not the hidden bind of d. */
static void test_stacked_mounts(void)
{
	char d[256], e[256], o[256], oi[256], ei[256];

	snprintf(d, sizeof(d), "%s/sd", base);
	snprintf(e, sizeof(e), "%s/se", base);
	snprintf(ei, sizeof(ei), "%s/se/inner", base);
	snprintf(o, sizeof(o), "%s/so", base);
	snprintf(oi, sizeof(oi), "%s/so/inner", base);
	CHECK(!mkdir(d, 0700) && !mkdir(e, 0700) && !mkdir(ei, 0700) &&
	      !mkdir(o, 0700) && !mkdir(oi, 0700));
	if (mount(d, oi, NULL, MS_BIND, NULL)) {
		printf("skip: stacked mounts (%s)\n", strerror(errno));
		return;
	}
	CHECK_EQ(mount(e, o, NULL, MS_BIND, NULL), 0);
	CHECK_EQ(fsloc_nesting(oi, ei), FSLOC_A_IN_B | FSLOC_B_IN_A);
	CHECK_EQ(fsloc_nesting(oi, d), 0);
	CHECK_EQ(umount(o), 0);
	CHECK_EQ(umount(oi), 0);
}

int main(void)
{
	char cmd[256];

	snprintf(base, sizeof(base), "/tmp/test_root_nesting.XXXXXX");
	if (!mkdtemp(base))
		return 1;
	snprintf(cmd, sizeof(cmd), "%s/d", base);
	CHECK_EQ(mkdir(cmd, 0700), 0);
	snprintf(cmd, sizeof(cmd), "%s/e", base);
	CHECK_EQ(mkdir(cmd, 0700), 0);
	test_urls();
	test_local_names();
	test_bind_mount();
	test_stacked_mounts();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	CHECK_EQ(system(cmd), 0);
	return test_finish();
}
