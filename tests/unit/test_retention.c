/* Unit test of the forget policy's selection (engine/ops/retention.c)
 * against kept sets computed by hand from restic's rules. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "retention.h"
#include "test.h"

#define MAXN 1200

/* "YYYY-MM-DD HH:MM:SS" (UTC) plus extra microseconds -> ns */
static int64_t at(const char *s, long us)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000000000LL + (int64_t)us * 1000;
}

/* run p over times[0..n) and compare the kept indexes with want (a
 * string of '1' kept / '0' removed, index 0 first) */
static void expect(const int64_t *times, size_t n,
		   const struct retention_policy *p, const char *want,
		   int line)
{
	unsigned reasons[MAXN];
	char got[MAXN + 1];
	int kept, nwant = 0;
	size_t i;

	kept = retention_select(times, n, p, reasons);
	for (i = 0; i < n; i++) {
		got[i] = reasons[i] ? '1' : '0';
		nwant += want[i] == '1';
	}
	got[n] = '\0';
	if (strcmp(got, want) || kept != nwant)
		fprintf(stderr, "line %d: kept %s (%d), want %s\n", line, got,
			kept, want);
	CHECK_STREQ(got, want);
	CHECK_EQ(kept, nwant);
}

static void test_hourly(void)
{
	const int64_t t[] = {
		at("2026-01-05 10:00:00", 0), at("2026-01-05 10:30:00", 0),
		at("2026-01-05 11:15:00", 0), at("2026-01-05 13:00:00", 0),
		at("2026-01-05 13:59:59", 0), at("2026-01-06 00:10:00", 0),
	};
	struct retention_policy p = { .hourly = 3 };
	unsigned r[6];

	/* newest of 00h (01-06), 13h, 11h; 13:00 shares 13:59's hour */
	expect(t, 6, &p, "001011", __LINE__);
	p.hourly = RETENTION_UNLIMITED;
	expect(t, 6, &p, "011011", __LINE__);
	p.hourly = 3;
	CHECK_EQ(retention_select(t, 6, &p, r), 3);
	CHECK_EQ(r[5], RETENTION_HOURLY);
}

static void test_last_and_daily(void)
{
	const int64_t t[] = {
		at("2026-02-01 08:00:00", 0), at("2026-02-01 20:00:00", 0),
		at("2026-02-02 09:00:00", 0), at("2026-02-03 07:00:00", 0),
		at("2026-02-03 07:30:00", 0),
	};
	struct retention_policy p = { .last = 2, .daily = 2 };
	unsigned r[5];
	char text[128];

	expect(t, 5, &p, "00111", __LINE__);
	CHECK_EQ(retention_select(t, 5, &p, r), 3);
	CHECK_EQ(r[4], RETENTION_LAST | RETENTION_DAILY);
	CHECK_EQ(r[3], RETENTION_LAST);
	CHECK_EQ(r[2], RETENTION_DAILY);
	retention_reasons_text(r[4], &p, text, sizeof(text));
	CHECK_STREQ(text, "last, daily");
	/* more than there are */
	p.last = 10;
	p.daily = 0;
	expect(t, 5, &p, "11111", __LINE__);
	p.last = 0;
	p.daily = 3;
	expect(t, 5, &p, "01101", __LINE__);
}

static void test_weekly_iso(void)
{
	/* Sun 2025-12-28 is 2025-W52; Mon 2025-12-29 and Sun 2026-01-04 are
	 * 2026-W01; Mon 2026-01-05 is 2026-W02 */
	const int64_t t[] = {
		at("2025-12-28 12:00:00", 0), at("2025-12-29 12:00:00", 0),
		at("2026-01-04 12:00:00", 0), at("2026-01-05 12:00:00", 0),
	};
	struct retention_policy p = { .weekly = 2 };

	expect(t, 4, &p, "0011", __LINE__);
	p.weekly = 3;
	expect(t, 4, &p, "1011", __LINE__);
}

static void test_monthly_yearly(void)
{
	const int64_t t[] = {
		at("2024-01-15 00:00:00", 0), at("2024-12-31 23:59:59", 0),
		at("2025-01-01 00:00:00", 0), at("2025-06-30 10:00:00", 0),
		at("2025-07-01 10:00:00", 0),
	};
	struct retention_policy p = { .monthly = 2 };

	expect(t, 5, &p, "00011", __LINE__);
	p.monthly = 4;
	expect(t, 5, &p, "01111", __LINE__);
	p.monthly = 0;
	p.yearly = 2;
	expect(t, 5, &p, "01001", __LINE__);
	p.yearly = RETENTION_UNLIMITED;
	expect(t, 5, &p, "01001", __LINE__);
	p.yearly = 1;
	p.monthly = 1;
	expect(t, 5, &p, "00001", __LINE__);
}

static void test_within(void)
{
	/* latest 2026-03-31 12:00: 1m back is "2026-02-31" = 2026-03-03
	 * (calendar normalisation), and only later snapshots stay */
	const int64_t t[] = {
		at("2026-03-03 12:00:00", 0), at("2026-03-03 12:00:00", 1),
		at("2026-03-30 10:00:00", 0), at("2026-03-30 10:00:00", 1),
		at("2026-03-31 12:00:00", 0),
	};
	struct retention_policy p = { 0 };
	unsigned r[5];

	CHECK_EQ(retention_parse_duration("1m", &p), 0);
	expect(t, 5, &p, "01111", __LINE__);
	CHECK_EQ(retention_parse_duration("1d2h", &p), 0);
	expect(t, 5, &p, "00011", __LINE__);
	CHECK_EQ(retention_select(t, 5, &p, r), 2);
	CHECK_EQ(r[4], RETENTION_WITHIN);
	/* combined with another rule: the union */
	p.last = 3;
	expect(t, 5, &p, "00111", __LINE__);
	CHECK_EQ(retention_parse_duration("1y", &p), 0);
	CHECK_EQ(p.within_y, 1);
	CHECK_EQ(p.within_m, 0);
	expect(t, 5, &p, "11111", __LINE__);
}

static void test_ties(void)
{
	/* the same second in both formats: the later in list order is the
	 * newer, as restic's sort keeps the order of equal times */
	const int64_t t[] = {
		at("2026-04-01 10:00:00", 0), at("2026-04-02 10:00:00", 0),
		at("2026-04-02 10:00:00", 0),
	};
	struct retention_policy p = { .last = 1 };

	expect(t, 3, &p, "001", __LINE__);
	p.last = 0;
	p.daily = 2;
	expect(t, 3, &p, "101", __LINE__);
	p.daily = 0;
	CHECK_EQ(retention_parse_duration("0d", &p), 0);
	/* within 0: nothing is strictly after the latest */
	expect(t, 3, &p, "000", __LINE__);
}

/* restic's documentation example, on three years of daily snapshots
 * (2023-01-01 .. 2025-12-31, at noon): --keep-daily 7 --keep-weekly 5
 * --keep-monthly 12 --keep-yearly 75 keeps the last 7 days, the Sundays
 * (ends of ISO weeks) 12-21, 12-14, 12-07 (12-28 and the week of 12-31
 * are in the 7 days), the ends of month 01-31..11-30 of 2025, and the
 * ends of 2024 and 2023: 7 + 3 + 11 + 2 = 23. */
static void test_restic_example(void)
{
	static int64_t t[MAXN];
	static const char *const keep[] = {
		"2023-12-31", "2024-12-31", "2025-01-31", "2025-02-28",
		"2025-03-31", "2025-04-30", "2025-05-31", "2025-06-30",
		"2025-07-31", "2025-08-31", "2025-09-30", "2025-10-31",
		"2025-11-30", "2025-12-07", "2025-12-14", "2025-12-21",
		"2025-12-25", "2025-12-26", "2025-12-27", "2025-12-28",
		"2025-12-29", "2025-12-30", "2025-12-31",
	};
	struct retention_policy p = { .daily = 7, .weekly = 5, .monthly = 12,
				      .yearly = 75 };
	char want[MAXN + 1];
	int64_t start = at("2023-01-01 12:00:00", 0);
	size_t n = 0, i, k;

	while (start + (int64_t)n * 86400000000000LL <=
	       at("2025-12-31 12:00:00", 0))
		n++;
	CHECK_EQ(n, 365 + 366 + 365);
	for (i = 0; i < n; i++) {
		t[i] = start + (int64_t)i * 86400000000000LL;
		want[i] = '0';
	}
	want[n] = '\0';
	for (k = 0; k < sizeof(keep) / sizeof(keep[0]); k++) {
		char full[32];

		snprintf(full, sizeof(full), "%s 12:00:00", keep[k]);
		i = (size_t)((at(full, 0) - start) / 86400000000000LL);
		want[i] = '1';
	}
	expect(t, n, &p, want, __LINE__);
}

static void test_parse_and_empty(void)
{
	struct retention_policy p = { 0 };
	int64_t t = at("2026-01-01 00:00:00", 0);
	unsigned r = 7;

	CHECK(retention_policy_is_empty(&p));
	CHECK_EQ(retention_select(&t, 1, &p, &r), 0);
	CHECK_EQ(r, 0);
	CHECK_EQ(retention_select(NULL, 0, &p, NULL), 0);
	CHECK_EQ(retention_parse_duration("1y5m7d2h", &p), 0);
	CHECK(!retention_policy_is_empty(&p));
	CHECK_EQ(p.within_y, 1);
	CHECK_EQ(p.within_m, 5);
	CHECK_EQ(p.within_d, 7);
	CHECK_EQ(p.within_h, 2);
	CHECK_EQ(retention_parse_duration("", &p), -EINVAL);
	CHECK_EQ(retention_parse_duration("5", &p), -EINVAL);
	CHECK_EQ(retention_parse_duration("1x", &p), -EINVAL);
	CHECK_EQ(retention_parse_duration("1d1d", &p), -EINVAL);
	CHECK_EQ(retention_parse_duration("h", &p), -EINVAL);
	CHECK_EQ(retention_parse_duration("-1d", &p), -EINVAL);
	p.last = -2;
	CHECK_EQ(retention_select(&t, 1, &p, &r), -EINVAL);
}

int main(void)
{
	RUN_TEST(test_hourly);
	RUN_TEST(test_last_and_daily);
	RUN_TEST(test_weekly_iso);
	RUN_TEST(test_monthly_yearly);
	RUN_TEST(test_within);
	RUN_TEST(test_ties);
	RUN_TEST(test_restic_example);
	RUN_TEST(test_parse_and_empty);
	return test_finish();
}
