/* snapshot_name: the names of snapshot files and the calendar math behind
 * them: "YYYY/MM/YYYY-MM-DD_HH-MM-SS_ffffffZ.msgpack" (UTC, microseconds,
 * as the Python snapshooter names its snapshots) from a time and back. No
 * I/O; the snapshot store (snapstore.h) lays its files out by these names.
 * The functions keep their snapstore_ prefix, which their callers use. */
#ifndef SNAP_SNAPSHOT_NAME_H
#define SNAP_SNAPSHOT_NAME_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

/* "YYYY/MM/YYYY-MM-DD_HH-MM-SS_ffffffZ.jsonl.gz" + NUL fits in this */
#define SNAPSTORE_NAME_MAX 64
#define SNAPSTORE_SUFFIX ".msgpack"
#define SNAPSTORE_SUFFIX_JSONL_GZ ".jsonl.gz"
/* "YYYY-MM-DD_HH-MM-SS_ffffffZ": the stamp before the format's suffix */
#define SNAPSHOT_NAME_STAMP_LEN 27

/* The file name suffix of a format (".msgpack", ".jsonl.gz"). */
const char *snapstore_suffix(enum snapshot_format fmt);

/* Write the relative path "YYYY/MM/YYYY-MM-DD_HH-MM-SS_ffffffZ<suffix>" of
 * a snapshot in format fmt taken at time_ns (UTC ns since the epoch;
 * sub-microsecond digits are dropped, rounding down) into out. Returns
 * the length (> 0), -ENAMETOOLONG if cap is too small or -EINVAL (cap 0,
 * out NULL, unknown format). */
int snapstore_format_name(int64_t time_ns, enum snapshot_format fmt,
			  char *out, size_t cap);

/* Parse a base name "YYYY-MM-DD_HH-MM-SS_ffffffZ.msgpack" or
 * "...Z.jsonl.gz" (exactly that: valid date, no other text). Returns 0
 * with *time_ns (a multiple of 1000) and *fmt (fmt may be NULL) or
 * -EINVAL. */
int snapstore_parse_name(const char *base_name, int64_t *time_ns,
			 enum snapshot_format *fmt);

/* Parse a relative path "YYYY/MM/<valid name>" whose year and month match
 * the name. Returns 0 with *time_ns and *fmt (may be NULL) or -EINVAL. */
int snapstore_parse_relpath(const char *relpath, size_t len,
			    int64_t *time_ns, enum snapshot_format *fmt);

#endif
