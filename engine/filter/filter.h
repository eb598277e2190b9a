/* filter: include/exclude glob rules (--include, --exclude, --exclude-from)
 * deciding which relative paths a scan or sync takes. Read-only once built,
 * so one filter may be shared by every scan thread.
 *
 * Pattern syntax (rsync/rclone style):
 *   *       any run of bytes except '/'
 *   **      any run of bytes, '/' included: "a/" followed by "**" is
 *           everything under a (and prunes directory a itself); a "**"
 *           component between slashes also matches zero directories
 *   ?       one byte except '/'
 *   [...]   one byte of a class: ranges "a-z", negation "[!...]" or "[^...]";
 *           never matches '/'
 *   \c      the byte c literally
 *   leading '/'   anchored at the root: "/build" is only the top-level build
 *   trailing '/'  directories only: "cache/" prunes every directory named cache
 *   otherwise     matched against the end of the path at a component
 *                 boundary: "*.o" is any .o file at any depth, "doc/x" matches
 *                 "doc/x" and "a/doc/x" but not "adoc/x"
 *
 * Evaluation of filter_allows(path): every ancestor directory of path is
 * checked first (a, a/b, ...): an ancestor excluded by a rule excludes
 * everything under it (like rsync, a directory matching "--exclude tmp" or
 * "--exclude 'tmp/'" is pruned). Then the path itself. For each path the
 * first matching rule wins; rules are tried in the order added (the CLI
 * adds every include before every exclude). A path matched by no rule is
 * included, except that once any include rule exists, a non-directory
 * matched by no rule is excluded unless one of its ancestor directories
 * was explicitly included (like rclone: "--include '*.jpg'" alone means
 * only .jpg files). Directories matched by no rule are always included, so
 * walkers descend into them. */
#ifndef SNAP_FILTER_H
#define SNAP_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "errbuf.h"

#define FILTER_PATTERN_MAX 4096   /* bytes of one pattern */
#define FILTER_RULES_MAX 100000   /* rules in one filter */

struct filter;

/* An empty filter (allows everything). 0 or -ENOMEM. */
int filter_new(struct filter **out, struct errbuf *eb);
void filter_free(struct filter *f);

/* Append one rule. Returns 0, -EINVAL for an empty, over-long or malformed
 * pattern (unterminated '[', trailing '\'), -E2BIG past FILTER_RULES_MAX,
 * -ENOMEM. */
int filter_add(struct filter *f, bool include, const char *pattern,
	       struct errbuf *eb);

/* Read patterns from a file, one per line (rsync --exclude-from format):
 * blank lines and lines starting with '#' or ';' are skipped, a trailing
 * "\r" is removed, other whitespace is kept. On success *out is a malloc'd
 * NULL-terminated array of malloc'd strings (free with
 * filter_patterns_free) and *count its length. */
int filter_read_file(const char *path, char ***out, size_t *count,
		     struct errbuf *eb);
void filter_patterns_free(char **patterns);

/* filter_read_file + filter_add of every line. */
int filter_load_file(struct filter *f, bool include, const char *path,
		     struct errbuf *eb);

/* Build a filter from the NULL-terminated include and exclude arrays of
 * struct engine_opts (either may be NULL): includes first, then excludes.
 * *out is always a valid filter on success (possibly empty). */
int filter_from_opts(const char *const *include, const char *const *exclude,
		     struct filter **out, struct errbuf *eb);

/* Number of rules (0: the filter allows everything). f may be NULL. */
size_t filter_count(const struct filter *f);

/* Does the filter take relpath (len bytes, relative, '/'-separated, no
 * leading or trailing '/')? is_dir tells whether relpath is a directory.
 * f may be NULL (allows everything). Thread safe on a built filter. */
bool filter_allows(const struct filter *f, const char *relpath, size_t len,
		   bool is_dir);

/* The glob matcher alone: does pattern (plen bytes) match all of text
 * (tlen bytes)? No anchoring rules, no trailing '/' handling. Exposed for
 * tests. */
bool filter_glob_match(const char *pattern, size_t plen, const char *text,
		       size_t tlen);

#endif
