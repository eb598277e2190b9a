/* objmeta: mtime metadata formats (objmeta.h); civil-date arithmetic on
 * int64 days (civil.h) so no libc time range or time zone is involved. */
#include "objmeta.h"

#include <stdio.h>
#include <string.h>

#include "civil.h"

#include "banned.h"

#define NS 1000000000LL
/* the int64 ns range, in whole seconds */
#define SEC_MAX (INT64_MAX / NS)

void objmeta_mtime_s3(int64_t ns, char out[OBJMETA_MTIME_MAX])
{
	/* magnitude in uint64: -INT64_MIN does not fit an int64 */
	uint64_t u = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
	unsigned frac = (unsigned)(u % NS);
	int n, digits = 9;

	n = snprintf(out, OBJMETA_MTIME_MAX, "%s%llu", ns < 0 ? "-" : "",
		     (unsigned long long)(u / NS));
	if (!frac)
		return;
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	snprintf(out + n, (size_t)(OBJMETA_MTIME_MAX - n), ".%0*u", digits,
		 frac);
}

void objmeta_mtime_az(int64_t ns, char out[OBJMETA_MTIME_MAX])
{
	int64_t sec = ns / NS, frac = ns % NS, days, y, rem;
	unsigned m, d;

	if (frac < 0) {     /* floor, for times before 1970 */
		frac += NS;
		sec--;
	}
	days = sec / 86400;
	rem = sec % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	snprintf(out, OBJMETA_MTIME_MAX,
		 "%04lld-%02u-%02uT%02u:%02u:%02u.%09lldZ", (long long)y, m, d,
		 (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60),
		 (unsigned)(rem % 60), (long long)frac);
}

/* exactly n digits at *p into *v; advances *p */
static bool take_digits(const char **p, const char *end, int n, unsigned *v)
{
	unsigned x = 0;
	int i;

	if (end - *p < n)
		return false;
	for (i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return false;
		x = x * 10 + (unsigned)(c - '0');
	}
	*p += n;
	*v = x;
	return true;
}

/* ".ddd" (1-9 digits) at *p, if any, as ns; false on a bad fraction */
static bool take_fraction(const char **p, const char *end, int64_t *ns)
{
	int64_t f = 0;
	int n = 0;

	*ns = 0;
	if (*p == end || **p != '.')
		return true;
	(*p)++;
	while (*p < end && **p >= '0' && **p <= '9') {
		if (++n > 9)
			return false;
		f = f * 10 + (**p - '0');
		(*p)++;
	}
	if (!n)
		return false;
	while (n++ < 9)
		f *= 10;
	*ns = f;
	return true;
}

static bool parse_rfc3339(const char *p, const char *end, int64_t *out)
{
	static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31,
					  30, 31, 30, 31 };
	unsigned y, mo, d, h, mi, s, oh = 0, om = 0, dim;
	int64_t frac, sec;
	int sign = 0;

	if (!take_digits(&p, end, 4, &y) || p == end || *p++ != '-' ||
	    !take_digits(&p, end, 2, &mo) || p == end || *p++ != '-' ||
	    !take_digits(&p, end, 2, &d) || p == end)
		return false;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return false;
	p++;
	if (!take_digits(&p, end, 2, &h) || p == end || *p++ != ':' ||
	    !take_digits(&p, end, 2, &mi) || p == end || *p++ != ':' ||
	    !take_digits(&p, end, 2, &s) || !take_fraction(&p, end, &frac) ||
	    p == end)
		return false;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (!take_digits(&p, end, 2, &oh) || p == end ||
		    *p++ != ':' || !take_digits(&p, end, 2, &om))
			return false;
	} else {
		return false;
	}
	if (p != end)
		return false;
	/* one year inside the int64 ns range (1677-09-21 .. 2262-04-11)
	 * on either side, so no offset can leave it */
	if (y < 1678 || y > 2261 || mo < 1 || mo > 12 || h > 23 || mi > 59 ||
	    s > 59 || oh > 23 || om > 59)
		return false;
	dim = mdays[mo - 1];
	if (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		dim = 29;
	if (d < 1 || d > dim)
		return false;
	sec = civil_to_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
	sec -= sign * (int64_t)(oh * 3600 + om * 60);
	*out = sec * NS + frac;
	return true;
}

static bool parse_number(const char *p, const char *end, int64_t *out)
{
	bool neg = false;
	uint64_t v = 0;
	int64_t frac;
	int n = 0;

	if (p < end && *p == '-') {
		neg = true;
		p++;
	}
	while (p < end && *p >= '0' && *p <= '9') {
		if (++n > 19)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
	}
	if (!n || (n == 19 && v > (uint64_t)INT64_MAX))
		return false;
	if (p < end && *p == '.') {
		if (!take_fraction(&p, end, &frac) || p != end ||
		    v > (uint64_t)SEC_MAX)
			return false;
		/* SEC_MAX s + a fraction can still pass INT64_MAX */
		if (v == (uint64_t)SEC_MAX && frac > INT64_MAX % NS)
			return false;
		*out = (int64_t)v * NS + frac;
	} else if (p != end) {
		return false;
	} else if (n <= 11) {
		/* seconds (rclone writes whole seconds without ".0") */
		if (v > (uint64_t)SEC_MAX)
			return false;
		*out = (int64_t)v * NS;
	} else {
		*out = (int64_t)v;   /* this tool's old integer ns */
	}
	if (neg)
		*out = -*out;
	return true;
}

bool objmeta_mtime_parse(const char *s, size_t len, int64_t *ns)
{
	int64_t v;
	bool ok;

	if (!s || !len || len > OBJMETA_MTIME_IN_MAX)
		return false;
	if (len >= 10 && s[4] == '-' && s[0] != '-')
		ok = parse_rfc3339(s, s + len, &v);
	else
		ok = parse_number(s, s + len, &v);
	if (ok)
		*ns = v;
	return ok;
}
