/* errbuf: a caller-owned error record for one operation: a negative errno
 * code and a human message ("cannot open 'a/b': Permission denied"). */
#ifndef SNAP_ERRBUF_H
#define SNAP_ERRBUF_H

#include <stddef.h>

struct errbuf {
	int code;       /* negative errno, 0 when unset */
	char msg[1024];
};

#define ERRBUF_INIT { 0, { 0 } }

/* Record code and a printf-style message; returns code (negative) so callers
 * can write `return errbuf_set(eb, -EIO, "...")`. eb may be NULL. Does not
 * overwrite an error already recorded (first error wins). */
int errbuf_set(struct errbuf *eb, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Same, but prefix the already recorded message with a context
 * ("reading snapshot 'x': <old message>"). */
int errbuf_wrap(struct errbuf *eb, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

void errbuf_clear(struct errbuf *eb);

/* A printable rendering of a file name of len bytes into out (size cap):
 * non-printable bytes and what is not UTF-8 (utf8.h: strict, as --json
 * output judges it) become \xNN, so names with newlines stay on one line
 * in messages. A rendering longer than ERRBUF_NAME_SHOWN keeps its head
 * and its tail (where the file name is) around " ... ", so a message
 * still ends with the reason. Always NUL-terminates. */
#define ERRBUF_NAME_SHOWN 360
void errbuf_quote_name(char *out, size_t cap, const char *name, size_t len);

#endif
