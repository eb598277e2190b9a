/* log: leveled messages on stderr. The level travels in a struct logger
 * owned by the caller (no global); stdout stays for primary output. */
#ifndef SNAP_LOG_H
#define SNAP_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_NONE = 0,     /* nothing at all */
	LOG_CRITICAL = 1,
	LOG_ERROR = 2,
	LOG_WARNING = 3,
	LOG_INFO = 4,
	LOG_DEBUG = 5,
};

struct logger {
	enum log_level level;
	/* set while a progress line is on the terminal: each message first
	 * erases it so lines do not interleave */
	bool erase_line;
};

#define LOGGER_INIT { LOG_WARNING, false }

/* Parse CRITICAL, ERROR, WARNING, INFO, DEBUG, NONE (any case). Returns 0
 * or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);

/* Print "HH:MM:SS LEVEL    snapshooter - <message>\n" (local time, level
 * name padded to 8 columns: the Python tool's log line, without its
 * colours) on stderr if lvl is enabled. Thread safe. lg may be NULL (then
 * WARNING and above are printed). */
void log_msg(const struct logger *lg, enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(lg, ...) log_msg((lg), LOG_ERROR, __VA_ARGS__)
#define log_warn(lg, ...) log_msg((lg), LOG_WARNING, __VA_ARGS__)
#define log_info(lg, ...) log_msg((lg), LOG_INFO, __VA_ARGS__)
#define log_debug(lg, ...) log_msg((lg), LOG_DEBUG, __VA_ARGS__)

static inline bool log_enabled(const struct logger *lg, enum log_level lvl)
{
	return lvl <= (lg ? lg->level : LOG_WARNING);
}

#endif
