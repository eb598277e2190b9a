/* test_options: the CLI's table-driven option parser (engine/cli/options.c)
 * and its JSON string writer (engine/cli/jsonw.c), linked from snap_cli. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "jsonw.h"
#include "options.h"
#include "test.h"

struct vals {
	const char *root;
	const char *level;
	bool save;
	bool dry;
	bool root_seen;
	unsigned jobs;
	bool jobs_seen;
	int64_t maxdel;
	uint64_t rate;
	struct opt_list inc;
};

/* argv with writable strings (options_parse reorders argv) */
struct args {
	char *v[32];
	char buf[1024];
	int n;
};

static void args_init(struct args *a, ...)
{
	size_t used = 0;
	const char *w;
	va_list ap;

	a->n = 0;
	va_start(ap, a);
	while ((w = va_arg(ap, const char *)) != NULL && a->n < 31) {
		size_t l = strlen(w) + 1;

		if (used + l > sizeof(a->buf))
			break;
		memcpy(a->buf + used, w, l);
		a->v[a->n++] = a->buf + used;
		used += l;
	}
	va_end(ap);
	a->v[a->n] = NULL;
}

static const char *const levels[] = { "WARNING", "INFO", "DEBUG", NULL };

#define SPECS(v)                                                             \
	const struct opt_spec specs[] = {                                    \
		{ .kind = OPT_STRING, .name = "file-root", .value = &(v).root, \
		  .env = "TEST_OPT_FILE_ROOT", .seen = &(v).root_seen,       \
		  .help = "root" },                                          \
		{ .kind = OPT_CHOICE, .name = "loglevel", .value = &(v).level, \
		  .choices = levels, .env = "TEST_OPT_LOGLEVEL",             \
		  .help = "level" },                                         \
		{ .kind = OPT_BOOL, .name = "save-snapshot",                 \
		  .value = &(v).save, .env = "TEST_OPT_SAVE", .help = "save" }, \
		{ .kind = OPT_FLAG, .name = "dry-run", .short_name = 'n',    \
		  .value = &(v).dry, .help = "dry" },                        \
		{ .kind = OPT_UINT, .name = "jobs", .short_name = 'j',       \
		  .value = &(v).jobs, .seen = &(v).jobs_seen,                \
		  .env = "TEST_OPT_JOBS", .help = "jobs" },                  \
		{ .kind = OPT_I64, .name = "max-delete", .value = &(v).maxdel, \
		  .help = "max" },                                           \
		{ .kind = OPT_RATE, .name = "bwlimit", .value = &(v).rate,   \
		  .help = "rate" },                                          \
		{ .kind = OPT_LIST, .name = "include", .value = &(v).inc,    \
		  .metavar = "GLOB", .help = "inc" },                        \
		{ .kind = OPT_HELP, .name = "help", .short_name = 'h',       \
		  .help = "help" },                                          \
		{ .kind = OPT_END },                                         \
	}

static void clear_env(void)
{
	unsetenv("TEST_OPT_FILE_ROOT");
	unsetenv("TEST_OPT_LOGLEVEL");
	unsetenv("TEST_OPT_SAVE");
	unsetenv("TEST_OPT_JOBS");
}

static void test_both_forms(void)
{
	struct vals v = { .save = true, .inc = OPT_LIST_INIT };
	struct errbuf eb = ERRBUF_INIT;
	struct args argv;
	SPECS(v);

	args_init(&argv, "--file-root", "/a", "--jobs=4", "pos1",
		  "--max-delete", "-1", "--include=*.c", "--include", "*.h",
		  "-n", "--bwlimit=10M", "pos2", NULL);
	clear_env();
	CHECK_EQ(options_parse(specs, argv.n, argv.v, 0, &eb), 2);
	CHECK_STREQ(argv.v[0], "pos1");
	CHECK_STREQ(argv.v[1], "pos2");
	CHECK_STREQ(v.root, "/a");
	CHECK(v.root_seen);
	CHECK_EQ(v.jobs, 4);
	CHECK(v.jobs_seen);
	CHECK_EQ(v.maxdel, -1);
	CHECK(v.dry);
	CHECK_EQ(v.rate, 10ULL * 1024 * 1024);
	CHECK_EQ(v.inc.n, 2);
	CHECK_STREQ(v.inc.v[0], "*.c");
	CHECK_STREQ(v.inc.v[1], "*.h");
	CHECK(v.inc.v[2] == NULL);
	opt_list_release(&v.inc);
}

static void test_bool_pairs(void)
{
	struct vals v = { .save = true, .inc = OPT_LIST_INIT };
	struct errbuf eb = ERRBUF_INIT;
	struct args a1;
	struct args a2;
	struct args a3;
	struct args a4;
	SPECS(v);

	args_init(&a1, "--no-save-snapshot", NULL);
	args_init(&a2, "--no-save-snapshot", "--save-snapshot", NULL);
	args_init(&a3, "--save-snapshot=yes", NULL);
	args_init(&a4, "--no-dry-run", NULL);
	clear_env();
	CHECK_EQ(options_parse(specs, a1.n, a1.v, 0, &eb), 0);
	CHECK(!v.save);
	CHECK_EQ(options_parse(specs, a2.n, a2.v, 0, &eb), 0);
	CHECK(v.save);
	CHECK_ERR(options_parse(specs, a3.n, a3.v, 0, &eb), EINVAL);
	CHECK_STREQ(eb.msg, "option '--save-snapshot' takes no value");
	errbuf_clear(&eb);
	/* a plain flag has no --no- form */
	CHECK_ERR(options_parse(specs, a4.n, a4.v, 0, &eb), EINVAL);
	CHECK_STREQ(eb.msg, "unknown option '--no-dry-run'");
}

static void test_env_fallback(void)
{
	struct vals v = { .save = true, .inc = OPT_LIST_INIT };
	struct errbuf eb = ERRBUF_INIT;
	struct args a0;
	struct args a1;
	SPECS(v);

	args_init(&a0, NULL);
	args_init(&a1, "--file-root", "/cli", NULL);
	clear_env();
	setenv("TEST_OPT_FILE_ROOT", "/env", 1);
	setenv("TEST_OPT_LOGLEVEL", "debug", 1);
	setenv("TEST_OPT_SAVE", "false", 1);
	setenv("TEST_OPT_JOBS", "7", 1);
	CHECK_EQ(options_parse(specs, a0.n, a0.v, 0, &eb), 0);
	CHECK_STREQ(v.root, "/env");
	CHECK(v.root_seen);
	CHECK_STREQ(v.level, "DEBUG");   /* canonical spelling */
	CHECK(!v.save);
	CHECK_EQ(v.jobs, 7);

	/* the command line wins over the environment */
	memset(&v, 0, sizeof(v));
	CHECK_EQ(options_parse(specs, a1.n, a1.v, 0, &eb), 0);
	CHECK_STREQ(v.root, "/cli");

	/* OPT_NO_ENV ignores it */
	memset(&v, 0, sizeof(v));
	CHECK_EQ(options_parse(specs, a0.n, a0.v, OPT_NO_ENV, &eb), 0);
	CHECK(v.root == NULL);
	CHECK(!v.root_seen);

	/* empty values count as unset */
	memset(&v, 0, sizeof(v));
	setenv("TEST_OPT_FILE_ROOT", "", 1);
	CHECK_EQ(options_parse(specs, a0.n, a0.v, 0, &eb), 0);
	CHECK(v.root == NULL);

	/* a bad value names the variable */
	setenv("TEST_OPT_JOBS", "many", 1);
	CHECK_ERR(options_parse(specs, a0.n, a0.v, 0, &eb), EINVAL);
	CHECK_STREQ(eb.msg, "invalid value for TEST_OPT_JOBS (--jobs): "
		    "'many' is not a non-negative integer");
	errbuf_clear(&eb);
	setenv("TEST_OPT_JOBS", "1", 1);
	setenv("TEST_OPT_SAVE", "maybe", 1);
	CHECK_ERR(options_parse(specs, a0.n, a0.v, 0, &eb), EINVAL);
	CHECK(strstr(eb.msg, "TEST_OPT_SAVE") != NULL);
	clear_env();
}

static void test_usage_errors(void)
{
	struct vals v = { .inc = OPT_LIST_INIT };
	struct errbuf eb = ERRBUF_INIT;
	struct args a1;
	struct args a2;
	struct args a3;
	struct args a4;
	struct args a5;
	struct args a6;
	struct args a7;
	struct args a8;
	SPECS(v);

	args_init(&a1, "--frob", NULL);
	args_init(&a2, "--jobs", NULL);
	args_init(&a3, "--jobs", "-3", NULL);
	args_init(&a4, "--loglevel", "LOUD", NULL);
	args_init(&a5, "-x", NULL);
	args_init(&a6, "--bwlimit", "fast", NULL);
	args_init(&a7, "--jobs=4294967296", NULL);
	args_init(&a8, "--max-delete", "12abc", NULL);
	clear_env();
	CHECK_ERR(options_parse(specs, a1.n, a1.v, 0, &eb), EINVAL);
	CHECK_STREQ(eb.msg, "unknown option '--frob'");
	errbuf_clear(&eb);
	CHECK_ERR(options_parse(specs, a2.n, a2.v, 0, &eb), EINVAL);
	CHECK_STREQ(eb.msg, "option '--jobs' needs a value");
	errbuf_clear(&eb);
	CHECK_ERR(options_parse(specs, a3.n, a3.v, 0, &eb), EINVAL);
	CHECK(strstr(eb.msg, "'-3' is not a non-negative integer") != NULL);
	errbuf_clear(&eb);
	CHECK_ERR(options_parse(specs, a4.n, a4.v, 0, &eb), EINVAL);
	CHECK_STREQ(eb.msg, "invalid value for '--loglevel': 'LOUD' (choose "
		    "from WARNING, INFO, DEBUG)");
	errbuf_clear(&eb);
	CHECK_ERR(options_parse(specs, a5.n, a5.v, 0, &eb), EINVAL);
	CHECK_STREQ(eb.msg, "unknown option '-x'");
	errbuf_clear(&eb);
	CHECK_ERR(options_parse(specs, a6.n, a6.v, 0, &eb), EINVAL);
	errbuf_clear(&eb);
	CHECK_ERR(options_parse(specs, a7.n, a7.v, 0, &eb), EINVAL);
	errbuf_clear(&eb);
	CHECK_ERR(options_parse(specs, a8.n, a8.v, 0, &eb), EINVAL);
}

static void test_stop_at_nonopt_and_dashdash(void)
{
	struct vals v = { .inc = OPT_LIST_INIT };
	struct errbuf eb = ERRBUF_INIT;
	struct args a1;
	struct args a2;
	struct args a3;
	SPECS(v);

	args_init(&a1, "--jobs", "2", "make-snapshot",
		  "--no-save-snapshot", "x", NULL);
	args_init(&a2, "a", "--", "--jobs", "-n", NULL);
	args_init(&a3, "-j3", "-", NULL);
	clear_env();
	v.save = true;
	CHECK_EQ(options_parse(specs, a1.n, a1.v, OPT_STOP_AT_NONOPT, &eb), 3);
	CHECK_EQ(v.jobs, 2);
	CHECK(v.save);                       /* not parsed: after command */
	CHECK_STREQ(a1.v[0], "make-snapshot");
	CHECK_STREQ(a1.v[1], "--no-save-snapshot");
	CHECK_STREQ(a1.v[2], "x");

	memset(&v, 0, sizeof(v));
	CHECK_EQ(options_parse(specs, a2.n, a2.v, 0, &eb), 3);
	CHECK_STREQ(a2.v[0], "a");
	CHECK_STREQ(a2.v[1], "--jobs");
	CHECK_STREQ(a2.v[2], "-n");
	CHECK(!v.dry);

	CHECK_EQ(options_parse(specs, a3.n, a3.v, 0, &eb), 1);
	CHECK_EQ(v.jobs, 3);
	CHECK_STREQ(a3.v[0], "-");
}

static void test_help(void)
{
	struct vals v = { .inc = OPT_LIST_INIT };
	struct errbuf eb = ERRBUF_INIT;
	struct args a1;
	char *out = NULL;
	size_t len = 0;
	FILE *f;
	SPECS(v);

	args_init(&a1, "--jobs", "2", "-h", "--frob", NULL);
	clear_env();
	CHECK_EQ(options_parse(specs, a1.n, a1.v, 0, &eb), OPT_PARSE_HELP);
	f = open_memstream(&out, &len);
	CHECK(f != NULL);
	if (!f)
		return;
	options_print_help(f, specs);
	fclose(f);
	CHECK(strstr(out, "  --file-root TEXT") != NULL);
	CHECK(strstr(out, "[env: TEST_OPT_FILE_ROOT]") != NULL);
	CHECK(strstr(out, "--save-snapshot / --no-save-snapshot") != NULL);
	CHECK(strstr(out, "-n, --dry-run") != NULL);
	CHECK(strstr(out, "--include GLOB") != NULL);
	CHECK(strstr(out, "[choices: WARNING, INFO, DEBUG]") != NULL);
	CHECK(strstr(out, "-h, --help") != NULL);
	CHECK(strstr(out, "\x01") == NULL);
	free(out);
}

static void test_rate(void)
{
	uint64_t r = 0;

	CHECK_EQ(options_parse_rate("100", &r), 0);
	CHECK_EQ(r, 100 * 1024);
	CHECK_EQ(options_parse_rate("100B", &r), 0);
	CHECK_EQ(r, 100);
	CHECK_EQ(options_parse_rate("1k", &r), 0);
	CHECK_EQ(r, 1024);
	CHECK_EQ(options_parse_rate("10MiB/s", &r), 0);
	CHECK_EQ(r, 10ULL << 20);
	CHECK_EQ(options_parse_rate("2G", &r), 0);
	CHECK_EQ(r, 2ULL << 30);
	CHECK_ERR(options_parse_rate("", &r), EINVAL);
	CHECK_ERR(options_parse_rate("-1M", &r), EINVAL);
	CHECK_ERR(options_parse_rate("1X", &r), EINVAL);
	CHECK_ERR(options_parse_rate("99999999999999999999T", &r), EINVAL);
	CHECK_ERR(options_parse_rate("17000000T", &r), EINVAL);
}

static char *json_of(const char *s, size_t len)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	if (!f)
		return NULL;
	jsonw_string(f, s, len);
	fclose(f);
	return out;
}

static void test_json_string(void)
{
	char *j;

	j = json_of("a\"b\\c\n\x01", 7);
	CHECK_STREQ(j, "\"a\\\"b\\\\c\\n\\u0001\"");
	free(j);
	/* valid UTF-8 passes, invalid bytes become \udcXX */
	j = json_of("\xc3\xa9-\xff-\xc3", 6);
	CHECK_STREQ(j, "\"\xc3\xa9-\\udcff-\\udcc3\"");
	free(j);
	/* encoded surrogates and overlong forms are not valid UTF-8 */
	j = json_of("\xed\xa0\x80\xc0\xaf", 5);
	CHECK_STREQ(j, "\"\\udced\\udca0\\udc80\\udcc0\\udcaf\"");
	free(j);
	j = json_of("", 0);
	CHECK_STREQ(j, "\"\"");
	free(j);
}

int main(void)
{
	RUN_TEST(test_both_forms);
	RUN_TEST(test_bool_pairs);
	RUN_TEST(test_env_fallback);
	RUN_TEST(test_usage_errors);
	RUN_TEST(test_stop_at_nonopt_and_dashdash);
	RUN_TEST(test_help);
	RUN_TEST(test_rate);
	RUN_TEST(test_json_string);
	return test_finish();
}
