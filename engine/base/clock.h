/* clock: the two clocks the engine reads: wall time in ns since the
 * epoch (snapshot names, racy-clean rule) and a monotonic clock in seconds
 * (durations). */
#ifndef SNAP_CLOCK_H
#define SNAP_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline double clock_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ns since the epoch of a timespec, saturated at the int64 limits
 * (years 1677 and 2262) instead of overflowing */
static inline int64_t clock_ts_ns(const struct timespec *ts)
{
	if (ts->tv_sec > INT64_MAX / 1000000000LL - 1)
		return INT64_MAX;
	if (ts->tv_sec < INT64_MIN / 1000000000LL + 1)
		return INT64_MIN;
	return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

#endif
