/* test_timeparse: TIMESTAMP parsing of the CLI (engine/cli/timeparse.c,
 * linked from snap_cli). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "timeparse.h"
#include "compiler.h"
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
	/* microseconds, as Python: digits past 6 are dropped */
	CHECK_EQ(parse("2021-09-01T00:00:00,123456789Z"),
		 1630454400LL * NS + 123456000);
	CHECK_EQ(parse("2021-09-01T00:00:00.1234567890Z"),
		 1630454400LL * NS + 123456000);
	/* the other forms of Python 3.11's fromisoformat */
	CHECK_EQ(parse("20210901T000000Z"), 1630454400LL * NS);
	CHECK_EQ(parse("2021-W35-3T00:00Z"), 1630454400LL * NS);
	CHECK_EQ(parse("2021W353 0000+0000"), 1630454400LL * NS);
	CHECK_EQ(parse("2021-09-01x02:00:00+02:00:00"), 1630454400LL * NS);
	CHECK_EQ(parse("2021-09-01T02:00:00+02:00:00.5"),
		 1630454400LL * NS - NS / 2);
	/* outside the int64 nanosecond range: saturated, a --latest bound
	 * then selects all or none */
	CHECK_EQ(parse("9999-12-31T23:59:59Z"), INT64_MAX);
	CHECK_EQ(parse("0001-01-01T00:00:00Z"), INT64_MIN);
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
	check_bad("2021-09-01T00:00:00+5", EINVAL);
	check_bad("2021-09-01T00:00:00+05:", EINVAL);
	check_bad("2021-09-01T00:00:00+24:00", EINVAL);
	check_bad("2021-09-01T00:00:00Zjunk", EINVAL);
	check_bad("2021-09-01X", EINVAL);
	check_bad("yesterday", EINVAL);
	check_bad("2021-09-01T00:00:00z", EINVAL);  /* Python: 'Z' only */
	check_bad("0000-01-01", EINVAL);
	check_bad("2021-W54", EINVAL);
	check_bad("2021-W53", EINVAL);         /* 2021 has 52 ISO weeks */
}

/* ---- against python3 itself ------------------------------------------
 * A generated list of valid and invalid strings is parsed by python3's
 * datetime.fromisoformat (TZ=UTC; a naive time is taken as UTC, as the
 * local time of TZ=UTC) and by timeparse_iso; both must agree on every
 * string: the same instant, or both refuse it. Needs python3 3.11 (the
 * version Debian 12 ships and whose rules timeparse follows): another
 * version skips this part, unless CI=true. */

static const char *const py_script =
	"import sys, datetime\n"
	"U = datetime.timezone.utc\n"
	"E = datetime.datetime(1970, 1, 1, tzinfo=U)\n"
	"if sys.version_info[:2] != (3, 11):\n"
	"    print('VERSION', sys.version.split()[0]); sys.exit(0)\n"
	"for line in open(sys.argv[1], encoding='utf-8',\n"
	"                 errors='surrogateescape'):\n"
	"    s = line[:-1]\n"
	"    try:\n"
	"        d = datetime.datetime.fromisoformat(s)\n"
	"    except (ValueError, OverflowError):\n"
	"        print('ERR'); continue\n"
	"    if d.tzinfo is None: d = d.replace(tzinfo=U)\n"
	"    t = d - E\n"
	"    ns = (t.days * 86400 + t.seconds) * 10**9 + t.microseconds * 1000\n"
	"    print(max(-2**63, min(2**63 - 1, ns)))\n";

static const char *const g_dates[] = {
	"2021-09-01", "20210901", "2021-W35", "2021W35", "2021-W35-3",
	"2021W353", "2020-W53", "2021-W53", "2020W537", "2026-W01-1",
	"0001-01-01", "9999-12-31", "1600-02-29", "2300-01-01", "2021-02-29",
	"2021-13-01", "2021-9-01", "2021-09-1", "202109-01", "2021-0901",
	"2021-W00", "2021-W35-8", "2021-W35-0", "2021-W3", "2021W3",
	"0000-01-01", "9999-W52-7", "0001-W01-1", "2021-W351",
};
static const char *const g_seps[] = { "", "T", " ", "5", "-", "W", "Z" };
static const char *const g_times[] = {
	"", "10", "1030", "10:30", "103045", "10:30:45", "10:30:45.1",
	"10:30:45,123456", "10:30:45.1234567", "10:30:45.", "10:30.5",
	"10.5", "1030.5", "10:3045", "1030:45", "24:00", "23:60",
	"23:59:60", "1", "10:30:4", "10:30:45.12a", "1010101", "00",
	"23:59:59.999999", "10:30:45.000001",
};
static const char *const g_zones[] = {
	"", "Z", "z", "+00", "+05", "-05", "+0530", "+05:30", "-05:30",
	"+05:30:15", "+05:30:15.5", "+0530:15", "+24:00", "+23:59:59.999999",
	"-23:59", "Zjunk", "+5", "+05:", "+05:3", "-00:00:00.000001", "+",
	"+053015",
};
static const char *const g_extra[] = {
	"", "2021", "2021-09", "202109", "2021-09-0", "2021-W", "2021-W3-",
	"2021-09-01\xff" "10:00", "2021-09-01\xc3\xa9" "10:00",
	"2021-09-01\xe2\x82\xac" "10:00", "2021-09-01\xf0\x9f\x98\x80" "10",
	"2021-09-01\xc3" "10:00", "2021-09-01\xe2\x82" "10:00",
	"2021-09-01\xc3\xa9\xc3\xa9" "10:00", "2021-09\xc3\xa9" "01",
	"\xff\xff\xff\xff-01-01", "2021-09-01T10:00:00.+01:00",
	"2021-09-01T10:00:00+01:00.5", "2021-09-01T10:00Z+01:00",
	"2021-09-01TZ", "2021-09-01T+01:00", "2021-09-01T10:00:00 ",
	" 2021-09-01", "2021-09-01T10:00:00+01:00:00:00",
	"2021-W35-310:00", "2021-W35-3-10:00", "2021W35310:00",
	"2021W3531000", "2021W35T10", "2021-W35T10", "2021-W35-T10",
};

static void gen_strings(FILE *f, size_t *n)
{
	size_t a, b, c, d, k;

	for (a = 0; a < ARRAY_SIZE(g_dates); a++)
		for (b = 0; b < ARRAY_SIZE(g_seps); b++)
			for (c = 0; c < ARRAY_SIZE(g_times); c++)
				for (d = 0; d < ARRAY_SIZE(g_zones); d++) {
					if (!g_times[c][0] && (b || d))
						continue;
					fprintf(f, "%s%s%s%s\n", g_dates[a],
						g_seps[b], g_times[c],
						g_zones[d]);
					(*n)++;
				}
	for (k = 0; k < ARRAY_SIZE(g_extra); k++) {
		fprintf(f, "%s\n", g_extra[k]);
		(*n)++;
	}
	/* every one-character deletion and a few substitutions of a few
	 * valid strings */
	{
		static const char *const seeds[] = {
			"2021-09-01T10:30:45.123+05:30",
			"20210901T103045,5-0530", "2021-W35-3T10Z",
			"2021W353T1030",
		};
		static const char subs[] = ":-W9Z.+T ";

		for (k = 0; k < ARRAY_SIZE(seeds); k++) {
			size_t len = strlen(seeds[k]), i, j;

			for (i = 0; i < len; i++) {
				fprintf(f, "%.*s%s\n", (int)i, seeds[k],
					seeds[k] + i + 1);
				(*n)++;
				for (j = 0; subs[j]; j++) {
					fprintf(f, "%.*s%c%s\n", (int)i,
						seeds[k], subs[j],
						seeds[k] + i + 1);
					(*n)++;
				}
			}
		}
	}
}

static void test_against_python(void)
{
	char path[] = "/tmp/test_timeparse.XXXXXX", cmd[512], line[256];
	char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
	const char *ci = getenv("CI");
	size_t n = 0, checked = 0, mismatches = 0;
	FILE *f, *in, *py;
	int fd;

	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	f = fdopen(fd, "w");
	gen_strings(f, &n);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "TZ=UTC python3 -c \"$SNAP_PY\" '%s' "
		 "2>/dev/null", path);
	setenv("SNAP_PY", py_script, 1);
	py = popen(cmd, "r");
	in = fopen(path, "r");
	CHECK(in != NULL);
	setenv("TZ", "UTC", 1);
	tzset();
	while (py && in && fgets(line, sizeof(line), py)) {
		char s[256];
		struct errbuf eb = ERRBUF_INIT;
		int64_t ns = 0;
		bool ok;

		if (!strncmp(line, "VERSION", 7)) {
			fprintf(stderr, "python3 is not 3.11 (%s): the "
				"comparison is skipped\n", line + 8);
			CHECK(!ci || strcmp(ci, "true"));
			break;
		}
		if (!fgets(s, sizeof(s), in))
			break;
		s[strcspn(s, "\n")] = '\0';
		line[strcspn(line, "\n")] = '\0';
		ok = timeparse_iso(s, &ns, &eb) == 0;
		checked++;
		if (!strcmp(line, "ERR") ? ok :
		    (!ok || ns != strtoll(line, NULL, 10))) {
			if (mismatches++ < 20)
				fprintf(stderr, "'%s': python %s  ours %s "
					"%lld\n", s, line,
					ok ? "ok" : "ERR", (long long)ns);
		}
	}
	if (checked == 0 && (!ci || strcmp(ci, "true")))
		fprintf(stderr, "no python3: the comparison is skipped\n");
	else if (checked)
		CHECK_EQ(checked, n);
	if (ci && !strcmp(ci, "true"))
		CHECK(checked == n);
	CHECK_EQ(mismatches, 0);
	fprintf(stderr, "%zu strings compared with python3\n", checked);
	if (py)
		pclose(py);
	if (in)
		fclose(in);
	unlink(path);
	if (old) {
		setenv("TZ", old, 1);
		free(old);
	} else {
		unsetenv("TZ");
	}
	tzset();
}

int main(void)
{
	RUN_TEST(test_utc_and_offsets);
	RUN_TEST(test_naive_is_local);
	RUN_TEST(test_invalid);
	RUN_TEST(test_against_python);
	return test_finish();
}
