/* snapshot_name: snapshot file names from a time and back (days from the
 * date by civil.h, and the round trip through gmtime_r that rejects dates
 * such as 02-30). */
#include "snapshot_name.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "civil.h"

#include "banned.h"

#define NS_PER_SEC INT64_C(1000000000)
#define STAMP_LEN SNAPSHOT_NAME_STAMP_LEN

const char *snapstore_suffix(enum snapshot_format fmt)
{
	switch (fmt) {
	case SNAPSHOT_FORMAT_MSGPACK:
		return SNAPSTORE_SUFFIX;
	case SNAPSHOT_FORMAT_JSONL_GZ:
		return SNAPSTORE_SUFFIX_JSONL_GZ;
	}
	return NULL;
}

int snapstore_format_name(int64_t time_ns, enum snapshot_format fmt,
			  char *out, size_t cap)
{
	const char *suffix = snapstore_suffix(fmt);
	int64_t secs = time_ns / NS_PER_SEC;
	int64_t rem = time_ns % NS_PER_SEC;
	struct tm tm;
	time_t t;
	int n;

	if (!out || !cap || !suffix)
		return -EINVAL;
	if (rem < 0) {
		rem += NS_PER_SEC;
		secs--;
	}
	t = (time_t)secs;
	if (!gmtime_r(&t, &tm))
		return -EINVAL;
	n = snprintf(out, cap,
		     "%04d/%02d/%04d-%02d-%02d_%02d-%02d-%02d_%06dZ%s",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, (int)(rem / 1000), suffix);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= cap)
		return -ENAMETOOLONG;
	return n;
}

/* n decimal digits at s, or -1 */
static int digits(const char *s, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int snapstore_parse_name(const char *base_name, int64_t *time_ns,
			 enum snapshot_format *fmt_out)
{
	/* position of each separator in "YYYY-MM-DD_HH-MM-SS_ffffffZ" */
	static const struct {
		int pos;
		char c;
	} seps[] = { { 4, '-' }, { 7, '-' }, { 10, '_' }, { 13, '-' },
		     { 16, '-' }, { 19, '_' }, { 26, 'Z' } };
	char again[SNAPSTORE_NAME_MAX];
	enum snapshot_format fmt;
	int y, mo, d, h, mi, s, us;
	int64_t secs, t;
	size_t i;

	if (!base_name || !time_ns || strlen(base_name) < STAMP_LEN)
		return -EINVAL;
	if (!strcmp(base_name + STAMP_LEN, SNAPSTORE_SUFFIX))
		fmt = SNAPSHOT_FORMAT_MSGPACK;
	else if (!strcmp(base_name + STAMP_LEN, SNAPSTORE_SUFFIX_JSONL_GZ))
		fmt = SNAPSHOT_FORMAT_JSONL_GZ;
	else
		return -EINVAL;
	for (i = 0; i < sizeof(seps) / sizeof(seps[0]); i++)
		if (base_name[seps[i].pos] != seps[i].c)
			return -EINVAL;
	y = digits(base_name, 4);
	mo = digits(base_name + 5, 2);
	d = digits(base_name + 8, 2);
	h = digits(base_name + 11, 2);
	mi = digits(base_name + 14, 2);
	s = digits(base_name + 17, 2);
	us = digits(base_name + 20, 6);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 ||
	    h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59 || us < 0)
		return -EINVAL;
	secs = civil_to_days(y, (unsigned)mo, (unsigned)d) * 86400 +
	       h * 3600 + mi * 60 + s;
	/* int64 ns spans 1677..2262 */
	if (secs > INT64_MAX / NS_PER_SEC - 1 ||
	    secs < INT64_MIN / NS_PER_SEC + 1)
		return -EINVAL;
	t = secs * NS_PER_SEC + (int64_t)us * 1000;
	/* the round trip rejects dates such as 02-30 */
	if (snapstore_format_name(t, fmt, again, sizeof(again)) < 0 ||
	    strcmp(again + 8, base_name))
		return -EINVAL;
	*time_ns = t;
	if (fmt_out)
		*fmt_out = fmt;
	return 0;
}

int snapstore_parse_relpath(const char *relpath, size_t len,
			    int64_t *time_ns, enum snapshot_format *fmt)
{
	char base[SNAPSTORE_NAME_MAX];

	/* "YYYY/MM/YYYY-MM-DD_..." : the directories repeat the name's
	 * year and month */
	if (!relpath || len < 8 + STAMP_LEN || len - 8 >= sizeof(base) ||
	    relpath[4] != '/' || relpath[7] != '/' ||
	    memcmp(relpath, relpath + 8, 4) ||
	    memcmp(relpath + 5, relpath + 13, 2))
		return -EINVAL;
	memcpy(base, relpath + 8, len - 8);
	base[len - 8] = '\0';
	/* a NUL inside the listed key would cut the name short */
	if (strlen(base) != len - 8)
		return -EINVAL;
	return snapstore_parse_name(base, time_ns, fmt);
}
