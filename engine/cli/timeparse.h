/* timeparse: the TIMESTAMP arguments of restore-snapshot and
 * compare-snapshots (--latest), parsed like Python's
 * datetime.fromisoformat so scripts written for the Python tool keep
 * working. */
#ifndef SNAP_TIMEPARSE_H
#define SNAP_TIMEPARSE_H

#include <stdint.h>

#include "errbuf.h"

/* Parse an ISO 8601 timestamp into nanoseconds since the epoch (UTC),
 * accepting exactly what Python 3.11's datetime.fromisoformat accepts:
 *   date  YYYY-MM-DD, YYYYMMDD, YYYY-Www, YYYYWww, YYYY-Www-D, YYYYWwwD
 *   then optionally any one character as separator and a time
 *   HH, HH:MM, HHMM, HH:MM:SS, HHMMSS, each with a fraction of 1 or more
 *   digits after '.' or ',' (microseconds: digits past 6 are dropped)
 *   and a zone Z, +HH, +HH:MM, +HHMM, +HH:MM:SS[.ffffff] (or -)
 * Naive times are local (mktime with tm_isdst = -1: the TZ environment
 * applies; a time in a DST gap is moved forward by mktime). Years 1..9999;
 * instants outside the int64 nanosecond range (1677..2262) saturate to
 * INT64_MIN / INT64_MAX, which as a --latest bound means "none" / "all".
 * Returns 0, or -EINVAL / -ERANGE with "invalid timestamp '...': <why>". */
int timeparse_iso(const char *s, int64_t *ns_out, struct errbuf *eb);

#endif
