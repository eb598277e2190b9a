/* test_net_objmeta: the mtime metadata forms written (rclone's, checked
 * against what rclone 1.60 wrote to Swift s3api and Azurite) and read
 * back, also this tool's old form, and hostile values from a server. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "objmeta.h"
#include "test.h"

static int64_t parse(const char *s, int64_t fallback)
{
	int64_t ns = fallback;

	if (!objmeta_mtime_parse(s, strlen(s), &ns))
		CHECK_EQ(ns, fallback);   /* untouched on failure */
	return ns;
}

static bool parses(const char *s)
{
	int64_t ns;

	return objmeta_mtime_parse(s, strlen(s), &ns);
}

static void test_write(void)
{
	char out[OBJMETA_MTIME_MAX];

	objmeta_mtime_s3(1796393283649778886LL, out);
	CHECK_STREQ(out, "1796393283.649778886");
	objmeta_mtime_s3(1796393283000000000LL, out);
	CHECK_STREQ(out, "1796393283");          /* rclone drops ".0" */
	objmeta_mtime_s3(1796393283500000000LL, out);
	CHECK_STREQ(out, "1796393283.5");
	objmeta_mtime_s3(1000000LL, out);
	CHECK_STREQ(out, "0.001");
	objmeta_mtime_s3(0, out);
	CHECK_STREQ(out, "0");
	objmeta_mtime_s3(-1500000000LL, out);
	CHECK_STREQ(out, "-1.5");
	objmeta_mtime_s3(INT64_MIN, out);
	CHECK_STREQ(out, "-9223372036.854775808");

	objmeta_mtime_az(1796393283649778886LL, out);
	CHECK_STREQ(out, "2026-12-04T14:08:03.649778886Z");
	objmeta_mtime_az(0, out);
	CHECK_STREQ(out, "1970-01-01T00:00:00.000000000Z");
	objmeta_mtime_az(-1, out);
	CHECK_STREQ(out, "1969-12-31T23:59:59.999999999Z");
	objmeta_mtime_az(951782400LL * 1000000000LL, out);
	CHECK_STREQ(out, "2000-02-29T00:00:00.000000000Z");
	objmeta_mtime_az(INT64_MAX, out);
	CHECK_STREQ(out, "2262-04-11T23:47:16.854775807Z");
	objmeta_mtime_az(INT64_MIN, out);
	CHECK_STREQ(out, "1677-09-21T00:12:43.145224192Z");
}

static void test_read(void)
{
	static const int64_t samples[] = {
		0, 1, -1, 1796393283649778886LL, 1796393283000000000LL,
		-1234567890123456789LL, 951782400LL * 1000000000LL,
		4102444800LL * 1000000000LL + 1,
	};
	char out[OBJMETA_MTIME_MAX];
	size_t i;

	/* rclone S3: seconds with a fraction, or whole seconds */
	CHECK_EQ(parse("1796393283.649778886", 0), 1796393283649778886LL);
	CHECK_EQ(parse("1796393283.5", 0), 1796393283500000000LL);
	CHECK_EQ(parse("1796393283", 0), 1796393283000000000LL);
	CHECK_EQ(parse("-1.5", 0), -1500000000LL);
	CHECK_EQ(parse("0", 7), 0);
	/* this tool's old integer ns */
	CHECK_EQ(parse("1796393283649778886", 0), 1796393283649778886LL);
	CHECK_EQ(parse("-1796393283649778886", 0), -1796393283649778886LL);
	/* rclone Azure: RFC 3339, also with an offset or fewer digits */
	CHECK_EQ(parse("2026-12-04T14:08:03.649778886Z", 0),
		 1796393283649778886LL);
	CHECK_EQ(parse("2026-12-04T15:08:03.649778886+01:00", 0),
		 1796393283649778886LL);
	CHECK_EQ(parse("2026-12-04T13:38:03.5-00:30", 0),
		 1796393283500000000LL);
	CHECK_EQ(parse("2026-12-04t14:08:03z", 0), 1796393283000000000LL);
	CHECK_EQ(parse("2026-12-04 14:08:03Z", 0), 1796393283000000000LL);
	CHECK_EQ(parse("1969-12-31T23:59:59.999999999Z", 0), -1);
	CHECK_EQ(parse("2000-02-29T00:00:00Z", 0), 951782400LL * 1000000000LL);

	/* both written forms read back exactly */
	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		objmeta_mtime_s3(samples[i], out);
		CHECK_EQ(parse(out, 42), samples[i]);
		objmeta_mtime_az(samples[i], out);
		CHECK_EQ(parse(out, 42), samples[i]);
	}
}

static void test_hostile(void)
{
	static const char *const bad[] = {
		"", " 1", "1 ", "+1", "0x10", "1e9", "1.", ".5", "-", "--1",
		"1.2.3", "1.1234567890", "abc", "1796393283.64977888a",
		/* out of the int64 ns range */
		"9223372037", "9223372036.854775808", "99999999999999999999",
		"9223372036854775808", "-9223372036854775809",
		"18446744073709551616", "12345678901234567890123",
		/* dates */
		"2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z",
		"2026-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
		"2026-04-31T00:00:00Z", "2026-01-00T00:00:00Z",
		"2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z",
		"2026-01-01T00:00:60Z", "2026-01-01T00:00:00",
		"2026-01-01T00:00:00+0100", "2026-01-01T00:00:00+24:00",
		"2026-01-01T00:00:00+01:60", "2026-01-01T00:00:00Z ",
		"2026-01-01T00:00:00.Z", "2026-01-01T00:00:00.1234567890Z",
		"2026-01-01X00:00:00Z", "2026-1-01T00:00:00Z",
		"1677-01-01T00:00:00Z", "2262-12-31T00:00:00Z",
		"9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z",
		"2026-01-01T00:00:00Zgarbage", "2026-01-0\xff" "T00:00:00Z",
	};
	char long_one[200];
	int64_t ns = 5;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parses(bad[i]))
			fprintf(stderr, "accepted '%s'\n", bad[i]);
		CHECK(!parses(bad[i]));
	}
	/* within range at the edges */
	CHECK(parses("9223372036.854775807"));
	CHECK(parses("1678-01-01T00:00:00Z"));
	CHECK(parses("2261-12-31T23:59:59.999999999Z"));
	/* length is bounded before anything is read; NUL inside rejected */
	memset(long_one, '1', sizeof(long_one));
	CHECK(!objmeta_mtime_parse(long_one, sizeof(long_one), &ns));
	CHECK(!objmeta_mtime_parse("12\0" "34", 5, &ns));
	CHECK(!objmeta_mtime_parse(NULL, 3, &ns));
	CHECK_EQ(ns, 5);
}

int main(void)
{
	RUN_TEST(test_write);
	RUN_TEST(test_read);
	RUN_TEST(test_hostile);
	return test_finish();
}
