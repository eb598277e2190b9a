/* civil: days since 1970-01-01 from a proleptic Gregorian date and back
 * (H. Hinnant's algorithms), on int64 days: no libc time range and no
 * time zone. Snapshot names and the object stores' mtime metadata are
 * written and read with it. */
#ifndef SNAP_CIVIL_H
#define SNAP_CIVIL_H

#include <stdint.h>

/* Days from 1970-01-01 to y-m-d (m 1..12, d 1..31; a day past the end of
 * its month counts on into the next). */
int64_t civil_to_days(int64_t y, unsigned m, unsigned d);

/* The date of a day count (any int64 day a time in int64 ns can have). */
void civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
