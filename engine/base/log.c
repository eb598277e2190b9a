/* log: stderr messages, one locked write per line. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

#include "compiler.h"

static const char *const level_names[] = {
	[LOG_NONE] = "NONE",       [LOG_CRITICAL] = "CRITICAL",
	[LOG_ERROR] = "ERROR",     [LOG_WARNING] = "WARNING",
	[LOG_INFO] = "INFO",       [LOG_DEBUG] = "DEBUG",
};

int log_level_parse(const char *s, enum log_level *out)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (!strcasecmp(s, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (!strcasecmp(s, "WARN")) {
		*out = LOG_WARNING;
		return 0;
	}
	return -EINVAL;
}

void log_msg(const struct logger *lg, enum log_level lvl, const char *fmt, ...)
{
	char line[2048], when[16] = "??:??:??";
	struct tm tm;
	time_t now;
	va_list ap;

	if (lvl == LOG_NONE || !log_enabled(lg, lvl))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	now = time(NULL);
	if (localtime_r(&now, &tm))
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
	flockfile(stderr);
	if (lg && __atomic_load_n(&lg->erase_line, __ATOMIC_RELAXED))
		fputs("\r\033[K", stderr);
	fprintf(stderr, "%s %-8s snapshooter - %s\n", when, level_names[lvl],
		line);
	funlockfile(stderr);
}
