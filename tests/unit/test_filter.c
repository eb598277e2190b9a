/* test_filter: glob matcher and include/exclude rule evaluation. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "errbuf.h"
#include "filter.h"
#include "test.h"

static bool gm(const char *pat, const char *text)
{
	return filter_glob_match(pat, strlen(pat), text, strlen(text));
}

static void test_glob(void)
{
	CHECK(gm("abc", "abc"));
	CHECK(!gm("abc", "abcd"));
	CHECK(!gm("abcd", "abc"));
	CHECK(gm("*.txt", "a.txt"));
	CHECK(gm("*.txt", ".txt"));
	CHECK(!gm("*.txt", "d/a.txt"));      /* '*' stops at '/' */
	CHECK(gm("**.txt", "d/e/a.txt"));    /* '**' spans */
	CHECK(gm("a/**", "a/b/c"));
	CHECK(gm("a/**", "a/"));
	CHECK(!gm("a/**", "a"));
	CHECK(gm("a/**/b", "a/b"));          /* zero directories */
	CHECK(gm("a/**/b", "a/x/y/b"));
	CHECK(!gm("a/**/b", "a/x/yb"));
	CHECK(!gm("a**/b", "ab"));           /* not a component "**" */
	CHECK(gm("**/b", "b"));
	CHECK(gm("**/b", "x/b"));
	CHECK(gm("?", "x"));
	CHECK(!gm("?", "/"));
	CHECK(!gm("?", ""));
	CHECK(gm("a?c", "abc"));
	CHECK(gm("[abc]", "b"));
	CHECK(!gm("[abc]", "d"));
	CHECK(gm("[a-c]x", "cx"));
	CHECK(gm("[!a-c]x", "dx"));
	CHECK(gm("[^a-c]x", "dx"));
	CHECK(!gm("[!a-c]x", "bx"));
	CHECK(!gm("[!a]", "/"));              /* classes never match '/' */
	CHECK(gm("[]]", "]"));
	CHECK(gm("[a-]", "-"));
	CHECK(gm("\\*", "*"));
	CHECK(!gm("\\*", "a"));
	CHECK(gm("*a*b*c*", "xxaxxbxxcxx"));
	CHECK(!gm("*a*b*c*", "xxaxxcxxbxx"));
	CHECK(gm("*", ""));
	CHECK(gm("", ""));
	CHECK(gm("\xc3\xa9*", "\xc3\xa9t\xc3\xa9"));
	CHECK(gm("a\nb", "a\nb"));
}

/* many stars against a long non-matching text stays fast: the abort
 * rules bound backtracking (an exponential matcher would not finish) */
static void test_glob_pathological(void)
{
	char text[4096];
	const char *pat = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
	const char *pat2 = "**a**a**a**a**a**a**a**a**a**a**a**a**a**b";
	size_t i;

	for (i = 0; i < sizeof(text) - 1; i++)
		text[i] = (i % 64 == 63) ? '/' : 'a';
	text[sizeof(text) - 1] = '\0';
	CHECK(!gm(pat, text));
	CHECK(!gm(pat2, text));
}

static struct filter *mk(const char *const *inc, const char *const *exc)
{
	struct errbuf eb = ERRBUF_INIT;
	struct filter *f = NULL;

	CHECK_EQ(filter_from_opts(inc, exc, &f, &eb), 0);
	return f;
}

static bool ok(const struct filter *f, const char *path, bool is_dir)
{
	return filter_allows(f, path, strlen(path), is_dir);
}

static void test_empty(void)
{
	struct filter *f = mk(NULL, NULL);

	CHECK(f != NULL);
	CHECK_EQ(filter_count(f), 0);
	CHECK(ok(f, "anything/at/all", false));
	CHECK(ok(NULL, "x", false));
	filter_free(f);
}

static void test_basename_any_depth(void)
{
	static const char *const exc[] = { "*.o", "core", NULL };
	struct filter *f = mk(NULL, exc);

	CHECK(!ok(f, "a.o", false));
	CHECK(!ok(f, "src/lib/a.o", false));
	CHECK(ok(f, "src/lib/a.c", false));
	CHECK(ok(f, "src/a.o.c", false));
	CHECK(!ok(f, "core", false));
	CHECK(!ok(f, "x/core", false));
	CHECK(ok(f, "x/core2", false));
	CHECK(ok(f, "x/acore", false));
	/* a directory named core is pruned, and all below it */
	CHECK(!ok(f, "x/core", true));
	CHECK(!ok(f, "x/core/file", false));
	filter_free(f);
}

static void test_anchored(void)
{
	static const char *const exc[] = { "/build", "/top/*.tmp", NULL };
	struct filter *f = mk(NULL, exc);

	CHECK(!ok(f, "build", true));
	CHECK(!ok(f, "build/x", false));
	CHECK(ok(f, "src/build", true));
	CHECK(ok(f, "src/build/x", false));
	CHECK(!ok(f, "top/a.tmp", false));
	CHECK(ok(f, "x/top/a.tmp", false));
	CHECK(ok(f, "top/d/a.tmp", false));
	filter_free(f);
}

static void test_slash_inside_matches_suffix(void)
{
	static const char *const exc[] = { "doc/x", NULL };
	struct filter *f = mk(NULL, exc);

	CHECK(!ok(f, "doc/x", false));
	CHECK(!ok(f, "a/doc/x", false));
	CHECK(ok(f, "adoc/x", false));
	CHECK(ok(f, "doc/xy", false));
	filter_free(f);
}

static void test_dir_only(void)
{
	static const char *const exc[] = { "cache/", NULL };
	struct filter *f = mk(NULL, exc);

	CHECK(ok(f, "cache", false));        /* a file named cache stays */
	CHECK(!ok(f, "cache", true));
	CHECK(!ok(f, "a/cache", true));
	CHECK(!ok(f, "a/cache/b/c", false));
	CHECK(ok(f, "a/cached/b", false));
	filter_free(f);
}

static void test_starstar_dir(void)
{
	static const char *const exc[] = { "tmp/**", NULL };
	struct filter *f = mk(NULL, exc);

	CHECK(!ok(f, "tmp", true));          /* pruned as a whole */
	CHECK(!ok(f, "tmp/a", false));
	CHECK(!ok(f, "x/tmp/a/b", false));
	CHECK(ok(f, "tmp", false));
	CHECK(ok(f, "tmpx/a", false));
	filter_free(f);
}

static void test_include_first_and_implicit_exclude(void)
{
	static const char *const inc[] = { "*.jpg", NULL };
	static const char *const exc[] = { "secret/", NULL };
	struct filter *f = mk(inc, exc);

	CHECK(ok(f, "a.jpg", false));
	CHECK(ok(f, "d/e/a.jpg", false));
	CHECK(!ok(f, "a.txt", false));       /* includes exist: default out */
	CHECK(ok(f, "d", true));             /* directories are descended */
	CHECK(!ok(f, "secret/a.jpg", false));
	filter_free(f);
}

static void test_include_wins_over_exclude(void)
{
	static const char *const inc[] = { "keep.log", NULL };
	static const char *const exc[] = { "*.log", NULL };
	struct filter *f = mk(inc, exc);

	CHECK(ok(f, "a/keep.log", false));
	CHECK(!ok(f, "a/other.log", false));
	filter_free(f);
}

static void test_included_dir_includes_content(void)
{
	static const char *const inc[] = { "/photos/", NULL };
	static const char *const exc[] = { "*.tmp", NULL };
	struct filter *f = mk(inc, exc);

	CHECK(ok(f, "photos/a/b.jpg", false));
	CHECK(!ok(f, "photos/a/b.tmp", false));
	CHECK(!ok(f, "music/a.mp3", false));
	filter_free(f);
}

static void test_bad_patterns(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct filter *f = NULL;

	CHECK_EQ(filter_new(&f, &eb), 0);
	CHECK_ERR(filter_add(f, false, "", &eb), EINVAL);
	errbuf_clear(&eb);
	CHECK_ERR(filter_add(f, false, "/", &eb), EINVAL);
	errbuf_clear(&eb);
	CHECK_ERR(filter_add(f, false, "a[bc", &eb), EINVAL);
	CHECK(strstr(eb.msg, "a[bc") != NULL);
	errbuf_clear(&eb);
	CHECK_ERR(filter_add(f, false, "abc\\", &eb), EINVAL);
	errbuf_clear(&eb);
	CHECK_EQ(filter_count(f), 0);
	CHECK_EQ(filter_add(f, false, "a\\[b", &eb), 0);
	CHECK(!ok(f, "a[b", false));
	CHECK(ok(f, "ab", false));
	filter_free(f);
}

static void test_read_file(void)
{
	char dir[] = "/tmp/test_filter.XXXXXX";
	char path[256];
	struct errbuf eb = ERRBUF_INIT;
	struct filter *f = NULL;
	char **v = NULL;
	size_t n = 0;
	FILE *fp;

	if (!mkdtemp(dir)) {
		CHECK(0);
		return;
	}
	snprintf(path, sizeof(path), "%s/excl", dir);
	fp = fopen(path, "w");
	CHECK(fp != NULL);
	if (!fp)
		goto out;
	fputs("# comment\n\n*.o\r\n; another comment\nname with space\n"
	      "last-no-newline", fp);
	fclose(fp);
	CHECK_EQ(filter_read_file(path, &v, &n, &eb), 0);
	CHECK_EQ(n, 3);
	if (n == 3) {
		CHECK_STREQ(v[0], "*.o");
		CHECK_STREQ(v[1], "name with space");
		CHECK_STREQ(v[2], "last-no-newline");
		CHECK(v[3] == NULL);
	}
	filter_patterns_free(v);
	CHECK_EQ(filter_new(&f, &eb), 0);
	CHECK_EQ(filter_load_file(f, false, path, &eb), 0);
	CHECK(!ok(f, "x/a.o", false));
	CHECK(!ok(f, "x/name with space", false));
	CHECK(ok(f, "x/a.c", false));
	filter_free(f);
	CHECK_ERR(filter_read_file("/nonexistent/x", &v, &n, &eb), ENOENT);
	CHECK(strstr(eb.msg, "cannot open '/nonexistent/x'") != NULL);
	unlink(path);
out:
	rmdir(dir);
}

int main(void)
{
	RUN_TEST(test_glob);
	RUN_TEST(test_glob_pathological);
	RUN_TEST(test_empty);
	RUN_TEST(test_basename_any_depth);
	RUN_TEST(test_anchored);
	RUN_TEST(test_slash_inside_matches_suffix);
	RUN_TEST(test_dir_only);
	RUN_TEST(test_starstar_dir);
	RUN_TEST(test_include_first_and_implicit_exclude);
	RUN_TEST(test_include_wins_over_exclude);
	RUN_TEST(test_included_dir_includes_content);
	RUN_TEST(test_bad_patterns);
	RUN_TEST(test_read_file);
	return test_finish();
}
