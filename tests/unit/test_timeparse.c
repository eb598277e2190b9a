/* test_timeparse: TIMESTAMP parsing of the CLI (engine/cli/timeparse.c,
 * compiled in here because the CLI is not a library). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "../../engine/cli/timeparse.c"
#include "test.h"

#define NS 1000000000LL

static int64_t parse(const char *s)
{
	struct errbuf eb = ERRBUF_INIT;
	int64_t ns = -42;

	if (timeparse_iso(s, &ns, &eb) < 0) {
		fprintf(stderr, "unexpected error: %s\n", eb.msg);
		return INT64_MIN;
	}
	return ns;
}

static void test_utc_and_offsets(void)
{
	/* 2021-09-01T00:00:00Z = 1630454400 */
	CHECK_EQ(parse("2021-09-01T00:00:00Z"), 1630454400LL * NS);
	CHECK_EQ(parse("2021-09-01T00:00:00z"), 1630454400LL * NS);
	CHECK_EQ(parse("2021-09-01T00:00:00+00:00"), 1630454400LL * NS);
	CHECK_EQ(parse("2021-09-01T02:00:00+02:00"), 1630454400LL * NS);
	CHECK_EQ(parse("2021-09-01T02:00:00+0200"), 1630454400LL * NS);
	CHECK_EQ(parse("2021-09-01T02:00:00+02"), 1630454400LL * NS);
	CHECK_EQ(parse("2021-08-31T19:30:00-04:30"), 1630454400LL * NS);
	CHECK_EQ(parse("2021-09-01 00:00:00Z"), 1630454400LL * NS);
	CHECK_EQ(parse("2021-09-01T00:00Z"), 1630454400LL * NS);
	CHECK_EQ(parse("2021-09-01T00Z"), 1630454400LL * NS);
	CHECK_EQ(parse("2021-09-01T00:00:00.5Z"), 1630454400LL * NS + NS / 2);
	CHECK_EQ(parse("2021-09-01T00:00:00.123456Z"),
		 1630454400LL * NS + 123456000);
	CHECK_EQ(parse("2021-09-01T00:00:00,123456789Z"),
		 1630454400LL * NS + 123456789);
	CHECK_EQ(parse("1970-01-01T00:00:00Z"), 0);
	CHECK_EQ(parse("1969-12-31T23:59:59Z"), -1 * NS);
	CHECK_EQ(parse("2000-02-29T12:00:00Z"), 951825600LL * NS);
}

static void test_naive_is_local(void)
{
	char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;

	/* fixed zone UTC+5 (POSIX sign is inverted) */
	setenv("TZ", "XXX-5", 1);
	tzset();
	CHECK_EQ(parse("2021-09-01T05:00:00"), 1630454400LL * NS);
	CHECK_EQ(parse("2021-09-01"), (1630454400LL - 5 * 3600) * NS);
	/* a zone with DST: Europe/Berlin summer is UTC+2 */
	setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
	tzset();
	CHECK_EQ(parse("2021-09-01T02:00:00"), 1630454400LL * NS);
	CHECK_EQ(parse("2021-01-01T01:00:00"), 1609459200LL * NS);
	/* an explicit offset ignores TZ */
	CHECK_EQ(parse("2021-09-01T00:00:00Z"), 1630454400LL * NS);
	if (old) {
		setenv("TZ", old, 1);
		free(old);
	} else {
		unsetenv("TZ");
	}
	tzset();
}

static void check_bad(const char *s, int err)
{
	struct errbuf eb = ERRBUF_INIT;
	int64_t ns = 7;

	CHECK_EQ(timeparse_iso(s, &ns, &eb), -err);
	CHECK_EQ(ns, 7);
	CHECK(strstr(eb.msg, "invalid timestamp") != NULL);
}

static void test_invalid(void)
{
	check_bad("", EINVAL);
	check_bad("2021", EINVAL);
	check_bad("2021-9-1", EINVAL);
	check_bad("2021-13-01", EINVAL);
	check_bad("2021-02-29", EINVAL);       /* not a leap year */
	check_bad("2021-04-31", EINVAL);
	check_bad("2021-09-01T", EINVAL);
	check_bad("2021-09-01T24:00:00", EINVAL);
	check_bad("2021-09-01T23:60:00", EINVAL);
	check_bad("2021-09-01T23:59:60", EINVAL);
	check_bad("2021-09-01T00:00:00.", EINVAL);
	check_bad("2021-09-01T00:00:00.1234567890Z", EINVAL);
	check_bad("2021-09-01T00:00:00+5", EINVAL);
	check_bad("2021-09-01T00:00:00+05:", EINVAL);
	check_bad("2021-09-01T00:00:00+24:00", EINVAL);
	check_bad("2021-09-01T00:00:00Zjunk", EINVAL);
	check_bad("2021-09-01X", EINVAL);
	check_bad("yesterday", EINVAL);
	check_bad("1600-01-01", ERANGE);
	check_bad("2300-01-01", ERANGE);
}

int main(void)
{
	RUN_TEST(test_utc_and_offsets);
	RUN_TEST(test_naive_is_local);
	RUN_TEST(test_invalid);
	return test_finish();
}
