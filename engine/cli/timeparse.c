/* timeparse: ISO 8601 timestamps (Python datetime.fromisoformat subset) to
 * epoch nanoseconds, for the --latest options of the CLI. */
#include "timeparse.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "banned.h"

/* Read exactly n decimal digits at *pp into *out; advance. */
static bool digits(const char **pp, int n, int *out)
{
	const char *p = *pp;
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*pp = p + n;
	*out = v;
	return true;
}

/* Read 1 to 9 fraction digits at *pp as nanoseconds; advance. */
static bool fraction(const char **pp, int64_t *ns)
{
	const char *p = *pp;
	int64_t v = 0;
	int nd = 0;

	while (*p >= '0' && *p <= '9') {
		if (nd == 9)
			return false;
		v = v * 10 + (*p - '0');
		nd++;
		p++;
	}
	if (!nd)
		return false;
	for (; nd < 9; nd++)
		v *= 10;
	*pp = p;
	*ns = v;
	return true;
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

static int bad(struct errbuf *eb, int code, const char *s, const char *why)
{
	return errbuf_set(eb, code, "invalid timestamp '%s': %s (expected "
			  "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.ffffff]"
			  "[Z|+HH:MM])", s, why);
}

int timeparse_iso(const char *s, int64_t *ns_out, struct errbuf *eb)
{
	const char *p = s;
	int year, mon, day, hour = 0, min = 0, sec = 0;
	int64_t frac_ns = 0;
	bool has_offset = false;
	int offset_s = 0;
	struct tm tm;
	time_t t;

	if (!s || !ns_out)
		return errbuf_set(eb, -EINVAL, "invalid timestamp: none given");
	if (!digits(&p, 4, &year) || *p++ != '-' || !digits(&p, 2, &mon) ||
	    *p++ != '-' || !digits(&p, 2, &day))
		return bad(eb, -EINVAL, s, "bad date");
	if (mon < 1 || mon > 12)
		return bad(eb, -EINVAL, s, "month out of range");
	if (day < 1 || day > days_in_month(year, mon))
		return bad(eb, -EINVAL, s, "day out of range");
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (!digits(&p, 2, &hour))
			return bad(eb, -EINVAL, s, "bad hour");
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, &min))
				return bad(eb, -EINVAL, s, "bad minute");
			if (*p == ':') {
				p++;
				if (!digits(&p, 2, &sec))
					return bad(eb, -EINVAL, s,
						   "bad second");
				if (*p == '.' || *p == ',') {
					p++;
					if (!fraction(&p, &frac_ns))
						return bad(eb, -EINVAL, s,
							   "fraction needs 1 "
							   "to 9 digits");
				}
			}
		}
		if (hour > 23 || min > 59 || sec > 59)
			return bad(eb, -EINVAL, s, "time out of range");
		if (*p == 'Z' || *p == 'z') {
			has_offset = true;
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p == '-' ? -1 : 1, oh, om = 0;

			p++;
			if (!digits(&p, 2, &oh))
				return bad(eb, -EINVAL, s, "bad UTC offset");
			if (*p == ':') {
				p++;
				if (!digits(&p, 2, &om))
					return bad(eb, -EINVAL, s,
						   "bad UTC offset");
			} else if (*p && !digits(&p, 2, &om))
				return bad(eb, -EINVAL, s, "bad UTC offset");
			if (oh > 23 || om > 59)
				return bad(eb, -EINVAL, s,
					   "UTC offset out of range");
			has_offset = true;
			offset_s = sign * (oh * 3600 + om * 60);
		}
	}
	if (*p)
		return bad(eb, -EINVAL, s, "unexpected characters");
	/* int64 nanoseconds reach from 1677-09-21 to 2262-04-11 */
	if (year < 1678 || year > 2261)
		return bad(eb, -ERANGE, s, "year out of range 1678..2261");
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	if (has_offset) {
		t = timegm(&tm) - offset_s;
	} else {
		tm.tm_isdst = -1;
		errno = 0;
		t = mktime(&tm);
		/* -1 is also a valid time (one second before the epoch):
		 * only an errno marks failure */
		if (t == (time_t)-1 && errno)
			return bad(eb, -ERANGE, s, "not a valid local time");
	}
	*ns_out = (int64_t)t * 1000000000 + frac_ns;
	return 0;
}
