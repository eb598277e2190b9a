/* timeparse: ISO 8601 timestamps to epoch nanoseconds, for the --latest
 * options of the CLI, accepting exactly what Python 3.11's
 * datetime.fromisoformat accepts (the rules of CPython's C implementation,
 * Modules/_datetimemodule.c, which is the one Python runs), so that
 * scripts written for the Python tool keep working. */
#include "timeparse.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "banned.h"

#define US_PER_S 1000000LL
#define NS_PER_US 1000LL

/* The fields of one parsed string. */
struct iso_parts {
	int year, month, day;
	int hour, minute, second, usec;
	bool has_tz;
	int tz_seconds, tz_usec;   /* signed offset from UTC */
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Exactly n digits at p into *out; the position after them, or NULL. */
static const char *parse_digits(const char *p, int *out, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return NULL;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return p + n;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30,
				      31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days from 0001-01-01 (day 1) to y-m-d, proleptic Gregorian (Python's
 * ordinal). */
static long ymd_to_ord(int y, int m, int d)
{
	long yb = y - 1, days = yb * 365 + yb / 4 - yb / 100 + yb / 400;
	int i;

	for (i = 1; i < m; i++)
		days += days_in_month(y, i);
	return days + d;
}

static void ord_to_ymd(long ord, int *y, int *m, int *d)
{
	int yy = (int)(ord / 366) + 1, mm = 1;

	while (ymd_to_ord(yy + 1, 1, 1) <= ord)
		yy++;
	ord -= ymd_to_ord(yy, 1, 1) - 1;
	while (ord > days_in_month(yy, mm))
		ord -= days_in_month(yy, mm++);
	*y = yy;
	*m = mm;
	*d = (int)ord;
}

/* ISO year/week/day to a calendar date, as CPython's iso_to_ymd: week
 * 1..52 (53 when the year has one), day 1..7. */
static int iso_to_ymd(int iso_year, int week, int day, int *y, int *m, int *d)
{
	long first, jan4_ord;
	int jan4_wd;

	if (week <= 0 || week >= 53) {
		bool has53 = false;

		if (week == 53) {
			/* a year has week 53 when it starts on a Thursday,
			 * or on a Wednesday in a leap year */
			int wd = (int)((ymd_to_ord(iso_year, 1, 1) + 6) % 7);

			has53 = wd == 3 || (wd == 2 && is_leap(iso_year));
		}
		if (!has53)
			return -2;
	}
	if (day <= 0 || day >= 8)
		return -3;
	/* Monday of week 1: the week holding January 4th */
	jan4_ord = ymd_to_ord(iso_year, 1, 4);
	jan4_wd = (int)((jan4_ord + 6) % 7);  /* 0 = Monday */
	first = jan4_ord - jan4_wd;
	ord_to_ymd(first + (long)(week - 1) * 7 + (day - 1), y, m, d);
	return 0;
}

/* Where the date ends and the separator is, from the date's shape
 * (CPython's _find_isoformat_datetime_separator). -1: malformed. */
static ptrdiff_t find_separator(const char *s, size_t len)
{
	size_t idx;

	if (len == 7)
		return 7;
	if (s[4] == '-') {
		if (s[5] != 'W')
			return 10;            /* YYYY-MM-DD */
		if (len < 8)
			return -1;
		if (len > 8 && s[8] == '-') {
			if (len == 9)
				return -1;
			/* YYYY-Www-HH... or YYYY-Www-D: a digit at 10 means
			 * the '-' at 8 was the separator */
			if (len > 10 && is_digit(s[10]))
				return 8;
			return 10;            /* YYYY-Www-D */
		}
		return 8;                     /* YYYY-Www */
	}
	if (s[4] != 'W')
		return 8;                     /* YYYYMMDD */
	/* YYYYWww (7) or YYYYWwwD (8): count the digits */
	for (idx = 7; idx < len && is_digit(s[idx]); idx++)
		;
	if (idx < 9)
		return (ptrdiff_t)idx;
	return idx % 2 == 0 ? 7 : 8;
}

/* The date part s[0..len) (CPython's parse_isoformat_date). */
static int parse_date(const char *s, size_t len, struct iso_parts *t)
{
	const char *p = parse_digits(s, &t->year, 4);
	bool sep;

	if (!p)
		return -1;
	sep = *p == '-';
	if (sep)
		p++;
	if (*p == 'W') {
		int week = 0, day = 1;

		p = parse_digits(p + 1, &week, 2);
		if (!p)
			return -1;
		if ((size_t)(p - s) < len) {
			if (sep && *p++ != '-')
				return -1;
			p = parse_digits(p, &day, 1);
			if (!p)
				return -1;
		}
		return iso_to_ymd(t->year, week, day, &t->year, &t->month,
				  &t->day) ? -1 : 0;
	}
	p = parse_digits(p, &t->month, 2);
	if (!p)
		return -1;
	if (sep && *p++ != '-')
		return -1;
	return parse_digits(p, &t->day, 2) ? 0 : -1;
}

/* [HH[:?MM[:?SS[{.,}f+]]]] from p up to end (CPython's
 * parse_hh_mm_ss_ff). 0: the string ends there, 1: more follows (a time
 * zone), < 0: malformed. */
static int parse_hms(const char *p, const char *end, int *h, int *mi, int *sec,
		     int *usec)
{
	int *vals[3] = { h, mi, sec };
	static const int scale[] = { 100000, 10000, 1000, 100, 10 };
	bool has_sep = true;
	size_t i, left, n;

	*h = *mi = *sec = *usec = 0;
	for (i = 0; i < 3; i++) {
		char c;

		p = parse_digits(p, vals[i], 2);
		if (!p)
			return -3;
		c = *p++;
		if (i == 0)
			has_sep = c == ':';
		if (p >= end)
			return c != '\0';
		if (has_sep && c == ':')
			continue;
		if (c == '.' || c == ',')
			break;
		if (has_sep)
			return -4;
		p--;
	}
	/* microseconds: up to 6 digits, further digits are dropped */
	left = (size_t)(end - p);
	n = left >= 6 ? 6 : left;
	if (n == 0)
		return -3;
	p = parse_digits(p, usec, n);
	if (!p)
		return -3;
	if (n < 6)
		*usec *= scale[n - 1];
	while (is_digit(*p))
		p++;
	return *p != '\0';
}

/* The part after the separator: time and optional zone (CPython's
 * parse_isoformat_time). */
static int parse_time(const char *s, size_t len, struct iso_parts *t)
{
	const char *end = s + len, *tz = s;
	int rv, th, tm, ts, sign;

	if (len == 0)
		return -3;
	do {
		if (*tz == 'Z' || *tz == '+' || *tz == '-')
			break;
	} while (++tz < end);
	rv = parse_hms(s, tz, &t->hour, &t->minute, &t->second, &t->usec);
	if (rv < 0)
		return rv;
	if (tz == end)
		return rv == 1 ? -5 : 0;
	t->has_tz = true;
	if (*tz == 'Z') {
		t->tz_seconds = 0;
		t->tz_usec = 0;
		return tz[1] != '\0' ? -5 : 0;
	}
	sign = *tz == '-' ? -1 : 1;
	rv = parse_hms(tz + 1, end, &th, &tm, &ts, &t->tz_usec);
	t->tz_seconds = sign * (th * 3600 + tm * 60 + ts);
	t->tz_usec *= sign;
	return rv ? -5 : 0;
}

/* Bytes of the character at p: a well-formed UTF-8 sequence, else 1 (a
 * stray byte is one character for Python too: surrogateescape). */
static size_t char_bytes(const unsigned char *p)
{
	size_t n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 1;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 1;
	return n;
}

static int bad(struct errbuf *eb, const char *s, const char *why)
{
	return errbuf_set(eb, -EINVAL, "invalid timestamp '%s': %s (expected "
			  "an ISO 8601 date and time, e.g. YYYY-MM-DD or "
			  "YYYY-MM-DDTHH:MM:SS[.ffffff][Z|+HH:MM], as "
			  "Python's datetime.fromisoformat)", s, why);
}

/* sec * 1e9 + ns, saturated to the int64 range */
static int64_t to_ns(int64_t sec, int64_t ns)
{
	int64_t r;

	if (__builtin_mul_overflow(sec, 1000000000LL, &r) ||
	    __builtin_add_overflow(r, ns, &r))
		return sec < 0 ? INT64_MIN : INT64_MAX;
	return r;
}

int timeparse_iso(const char *s, int64_t *ns_out, struct errbuf *eb)
{
	struct iso_parts t;
	ptrdiff_t sep;
	size_t len;
	struct tm tm;
	int64_t sec, off_us;
	time_t tt;

	if (!s || !ns_out)
		return errbuf_set(eb, -EINVAL, "invalid timestamp: none given");
	len = strlen(s);
	/* fromisoformat counts characters; every character of a valid
	 * timestamp but the separator is ASCII */
	if (len < 7)
		return bad(eb, s, "too short");
	memset(&t, 0, sizeof(t));
	sep = find_separator(s, len);
	if (sep < 0 || parse_date(s, (size_t)sep, &t) < 0)
		return bad(eb, s, "bad date");
	if ((size_t)sep < len) {
		/* the separator is any one character, also a non-ASCII one */
		size_t skip = char_bytes((const unsigned char *)s + sep);

		if (parse_time(s + sep + skip, len - (size_t)sep - skip,
			       &t) < 0)
			return bad(eb, s, "bad time or UTC offset");
	}
	if (t.year < 1 || t.year > 9999 || t.month < 1 || t.month > 12)
		return bad(eb, s, "year or month out of range");
	if (t.day < 1 || t.day > days_in_month(t.year, t.month))
		return bad(eb, s, "day out of range");
	if (t.hour > 23 || t.minute > 59 || t.second > 59)
		return bad(eb, s, "time out of range");
	/* CPython takes a zero seconds offset as UTC, whatever its
	 * microseconds ("-00:00:00.000001" is UTC) */
	off_us = t.tz_seconds ? (int64_t)t.tz_seconds * US_PER_S + t.tz_usec :
		 0;
	if (t.has_tz && (off_us <= -86400 * US_PER_S ||
			 off_us >= 86400 * US_PER_S))
		return bad(eb, s, "UTC offset must be within 24 hours");
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = t.year - 1900;
	tm.tm_mon = t.month - 1;
	tm.tm_mday = t.day;
	tm.tm_hour = t.hour;
	tm.tm_min = t.minute;
	tm.tm_sec = t.second;
	if (t.has_tz) {
		/* days since the epoch: exact for every year 1..9999 */
		sec = (int64_t)(ymd_to_ord(t.year, t.month, t.day) -
				ymd_to_ord(1970, 1, 1)) * 86400 +
		      t.hour * 3600 + t.minute * 60 + t.second;
		*ns_out = to_ns(sec, (int64_t)t.usec * NS_PER_US -
				off_us * NS_PER_US);
		return 0;
	}
	/* naive: local time, as the Python tool's astimezone() (TZ
	 * applies; a time in a DST gap is moved by mktime) */
	tm.tm_isdst = -1;
	errno = 0;
	tt = mktime(&tm);
	/* -1 is also a valid time (one second before the epoch): only an
	 * errno marks failure */
	if (tt == (time_t)-1 && errno)
		return errbuf_set(eb, -ERANGE, "invalid timestamp '%s': not a "
				  "valid local time", s);
	*ns_out = to_ns((int64_t)tt, (int64_t)t.usec * NS_PER_US);
	return 0;
}
