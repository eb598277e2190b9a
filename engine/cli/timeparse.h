/* timeparse: the TIMESTAMP arguments of restore-snapshot and
 * compare-snapshots (--latest), parsed like Python's
 * datetime.fromisoformat so scripts written for the Python tool keep
 * working. */
#ifndef SNAP_TIMEPARSE_H
#define SNAP_TIMEPARSE_H

#include <stdint.h>

#include "errbuf.h"

/* Parse an ISO 8601 timestamp into nanoseconds since the epoch (UTC):
 *   YYYY-MM-DD                       midnight, local time
 *   YYYY-MM-DD[T| ]HH[:MM[:SS[.f]]]  local time when no offset is given
 *   ... followed by Z, +HH, -HH, +HH:MM, -HH:MM, +HHMM or -HHMM
 * The fraction has 1 to 9 digits ('.' or ','). Naive times are local
 * (mktime with tm_isdst = -1: the TZ environment applies; a time in a DST
 * gap is moved forward by mktime). Years 1678..2261 (the int64 ns range).
 * Returns 0, or -EINVAL / -ERANGE with "invalid timestamp '...': <why>". */
int timeparse_iso(const char *s, int64_t *ns_out, struct errbuf *eb);

#endif
