/* retention: the forget policy's selection (retention.h): restic's
 * ApplyPolicy over UTC buckets. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "retention.h"
#include "banned.h"

#define NS_PER_S 1000000000LL

int retention_parse_duration(const char *s, struct retention_policy *p)
{
	unsigned seen = 0;
	int y = 0, m = 0, d = 0, h = 0;

	if (!s || !p || !*s)
		return -EINVAL;
	while (*s) {
		long v = 0;
		unsigned bit;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (*s - '0');
			if (v > 1000000)
				return -EINVAL;
			s++;
		}
		switch (*s) {
		case 'y': bit = 1; y = (int)v; break;
		case 'm': bit = 2; m = (int)v; break;
		case 'd': bit = 4; d = (int)v; break;
		case 'h': bit = 8; h = (int)v; break;
		default: return -EINVAL;
		}
		if (seen & bit)
			return -EINVAL;
		seen |= bit;
		s++;
	}
	p->has_within = true;
	p->within_y = y;
	p->within_m = m;
	p->within_d = d;
	p->within_h = h;
	return 0;
}

bool retention_policy_is_empty(const struct retention_policy *p)
{
	return !p->last && !p->hourly && !p->daily && !p->weekly &&
	       !p->monthly && !p->yearly && !p->has_within;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* UTC broken-down time of t_ns; false when out of range */
static bool utc_tm(int64_t t_ns, struct tm *tm)
{
	time_t sec = (time_t)floor_div(t_ns, NS_PER_S);

	return gmtime_r(&sec, tm) != NULL;
}

/* ISO 8601 year * 100 + week: the week's Thursday decides the year */
static int64_t iso_week(const struct tm *tm)
{
	struct tm th = *tm;
	int wday = (tm->tm_wday + 6) % 7;     /* Monday 0 */

	th.tm_mday += 3 - wday;
	th.tm_hour = 12;
	th.tm_min = th.tm_sec = 0;
	th.tm_isdst = 0;
	if (timegm(&th) == (time_t)-1)
		return 0;
	return (int64_t)(th.tm_year + 1900) * 100 + th.tm_yday / 7 + 1;
}

enum { B_LAST, B_HOURLY, B_DAILY, B_WEEKLY, B_MONTHLY, B_YEARLY, B_N };

/* the bucket of snapshot i under rule b, as restic's bucker functions
 * (keep-last: every snapshot is its own bucket) */
static int64_t bucket_of(int b, const struct tm *tm, size_t i)
{
	int64_t y = tm->tm_year + 1900, mo = tm->tm_mon + 1;

	switch (b) {
	case B_HOURLY:
		return ((y * 100 + mo) * 100 + tm->tm_mday) * 100 + tm->tm_hour;
	case B_DAILY:
		return (y * 100 + mo) * 100 + tm->tm_mday;
	case B_WEEKLY:
		return iso_week(tm);
	case B_MONTHLY:
		return y * 100 + mo;
	case B_YEARLY:
		return y;
	default:
		return (int64_t)i;
	}
}

/* latest - (y, m, d) in calendar terms (normalised as timegm and Go's
 * AddDate do: March 31 - 1 month = March 3) - h hours */
static bool within_cutoff(int64_t latest_ns, const struct retention_policy *p,
			  int64_t *cut_ns)
{
	struct tm tm;
	time_t sec;

	if (!utc_tm(latest_ns, &tm))
		return false;
	tm.tm_year -= p->within_y;
	tm.tm_mon -= p->within_m;
	tm.tm_mday -= p->within_d;
	tm.tm_isdst = 0;
	sec = timegm(&tm);
	*cut_ns = (int64_t)sec * NS_PER_S +
		  (latest_ns - floor_div(latest_ns, NS_PER_S) * NS_PER_S) -
		  (int64_t)p->within_h * 3600 * NS_PER_S;
	return true;
}

int retention_select(const int64_t *times_ns, size_t n,
		     const struct retention_policy *p, unsigned *reasons)
{
	int64_t count[B_N], last[B_N], cut_ns = 0;
	bool has_last[B_N] = { false };
	bool has_cut = false;
	size_t k;
	int b, kept = 0;

	if ((n && (!times_ns || !reasons)) || !p)
		return -EINVAL;
	count[B_LAST] = p->last;
	count[B_HOURLY] = p->hourly;
	count[B_DAILY] = p->daily;
	count[B_WEEKLY] = p->weekly;
	count[B_MONTHLY] = p->monthly;
	count[B_YEARLY] = p->yearly;
	for (b = 0; b < B_N; b++) {
		if (count[b] < RETENTION_UNLIMITED)
			return -EINVAL;
		last[b] = 0;
	}
	if (n && p->has_within)
		has_cut = within_cutoff(times_ns[n - 1], p, &cut_ns);
	/* newest first, as restic walks them */
	for (k = n; k-- > 0;) {
		struct tm tm;
		unsigned r = 0;

		if (!utc_tm(times_ns[k], &tm))
			memset(&tm, 0, sizeof(tm));
		for (b = 0; b < B_N; b++) {
			int64_t v;

			if (count[b] == 0)
				continue;
			v = bucket_of(b, &tm, k);
			if (has_last[b] && v == last[b])
				continue;
			r |= 1u << b;
			last[b] = v;
			has_last[b] = true;
			if (count[b] > 0)
				count[b]--;
		}
		if (has_cut && times_ns[k] > cut_ns)
			r |= RETENTION_WITHIN;
		reasons[k] = r;
		if (r)
			kept++;
	}
	return kept;
}

void retention_reasons_text(unsigned reasons, const struct retention_policy *p,
			    char *out, size_t cap)
{
	static const char *const names[] = { "last", "hourly", "daily",
					     "weekly", "monthly", "yearly" };
	size_t len = 0;
	int b, w;

	if (!cap)
		return;
	out[0] = '\0';
	for (b = 0; b < B_N && len < cap; b++) {
		if (!(reasons & (1u << b)))
			continue;
		w = snprintf(out + len, cap - len, "%s%s", len ? ", " : "",
			     names[b]);
		if (w < 0)
			return;
		len += (size_t)w;
	}
	if ((reasons & RETENTION_WITHIN) && len < cap)
		snprintf(out + len, cap - len, "%swithin %dy%dm%dd%dh",
			 len ? ", " : "", p->within_y, p->within_m,
			 p->within_d, p->within_h);
}
