/* retention: which snapshots a forget policy keeps, restic's rules
 * (restic internal/restic/snapshot_policy.go, "forget" docs): a snapshot
 * kept by any rule stays. Pure selection over timestamps: no I/O, so the
 * forget command (cmd_forget.c) and the unit test share it.
 *
 * Buckets are computed in UTC, not in local time as restic does: the
 * snapshot names are UTC, and the same store must give the same result
 * from every host and time zone. */
#ifndef SNAP_RETENTION_H
#define SNAP_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A count: 0 rule off, > 0 that many buckets, RETENTION_UNLIMITED all. */
#define RETENTION_UNLIMITED (-1)

struct retention_policy {
	int64_t last;       /* the newest N snapshots */
	int64_t hourly;     /* newest of each of the last N hours with one */
	int64_t daily;
	int64_t weekly;     /* ISO 8601 weeks (Monday first) */
	int64_t monthly;
	int64_t yearly;
	bool has_within;    /* every snapshot newer than latest - within */
	int within_y, within_m, within_d, within_h;
};

enum retention_reason {
	RETENTION_LAST = 1 << 0,
	RETENTION_HOURLY = 1 << 1,
	RETENTION_DAILY = 1 << 2,
	RETENTION_WEEKLY = 1 << 3,
	RETENTION_MONTHLY = 1 << 4,
	RETENTION_YEARLY = 1 << 5,
	RETENTION_WITHIN = 1 << 6,
};

/* Parse a --keep-within duration "1y5m7d2h" (numbers with the units y, m
 * (months), d, h, each at most once, at least one) into p. 0 or
 * -EINVAL. */
int retention_parse_duration(const char *s, struct retention_policy *p);

/* Does p keep nothing by itself (no rule given)? */
bool retention_policy_is_empty(const struct retention_policy *p);

/* Select: times_ns[0..n) in ascending order (as snapstore_list gives,
 * equal times ordered by name); reasons[i] gets the rules that keep
 * snapshot i (enum retention_reason bits), 0 when it goes. As restic,
 * the snapshots are walked newest first: a bucket rule keeps a snapshot
 * when its bucket (hour, day, ...) differs from the last bucket that
 * rule kept, while the rule has count left; keep-within keeps every
 * snapshot strictly after the latest snapshot's time minus the duration
 * (calendar arithmetic for y/m/d, then hours). Returns the number kept,
 * or -EINVAL (negative counts other than RETENTION_UNLIMITED). */
int retention_select(const int64_t *times_ns, size_t n,
		     const struct retention_policy *p, unsigned *reasons);

/* "daily, monthly" style text of reasons into out (always terminated). */
void retention_reasons_text(unsigned reasons, const struct retention_policy *p,
			    char *out, size_t cap);

#endif
