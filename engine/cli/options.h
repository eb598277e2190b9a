/* options: the table-driven command-line parser of the CLI. Each command
 * declares a table of struct opt_spec rows pointing at its own variables;
 * the same table parses argv ("--opt value", "--opt=value", "--x/--no-x"
 * pairs, repeatable options, an environment variable fallback per option)
 * and prints the -h text, so help can never drift from the parser. */
#ifndef SNAP_OPTIONS_H
#define SNAP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "errbuf.h"

enum opt_kind {
	OPT_END = 0,    /* terminates a table */
	OPT_STRING,     /* const char **: borrowed from argv or environ */
	OPT_CHOICE,     /* const char **: one of choices[] (any case) */
	OPT_BOOL,       /* bool *: --name sets, --no-name clears */
	OPT_FLAG,       /* bool *: --name sets (no --no- form) */
	OPT_UINT,       /* unsigned *: decimal 0..UINT_MAX */
	OPT_I64,        /* int64_t *: decimal, may be negative */
	OPT_RATE,       /* uint64_t *: bytes/s; plain number = KiB, suffix
			 * B, K, M, G, T (powers of 1024) */
	OPT_LIST,       /* struct opt_list *: repeatable, appended */
	OPT_HELP,       /* -h/--help: parse stops with OPT_PARSE_HELP */
};

/* Values of a repeatable option: v is NULL-terminated (may be passed as a
 * `const char *const *` array), strings borrowed from argv / environ or
 * owned by the caller. Grow with opt_list_push; free v with
 * opt_list_release (does not free the strings). */
struct opt_list {
	const char **v;
	size_t n, cap;
};

#define OPT_LIST_INIT { NULL, 0, 0 }
#define OPT_LIST_MAX 100000

int opt_list_push(struct opt_list *l, const char *s);
void opt_list_release(struct opt_list *l);

struct opt_spec {
	enum opt_kind kind;
	const char *name;        /* long name without "--" */
	char short_name;         /* 0: none */
	void *value;
	const char *metavar;     /* "PATH"; NULL: by kind */
	const char *env;         /* environment fallback, NULL: none */
	const char *help;
	const char *const *choices; /* OPT_CHOICE: NULL-terminated */
	bool *seen;              /* NULL, or set when given (argv or env) */
	const char *def;         /* default shown in help, NULL: none */
};

/* How options_parse treats words that are not options. */
enum opt_parse_flags {
	/* stop at the first non-option (global options before the command);
	 * otherwise options and positionals may be mixed (like click) */
	OPT_STOP_AT_NONOPT = 1 << 0,
	/* do not read environment variables (help printing, tests) */
	OPT_NO_ENV = 1 << 1,
};

#define OPT_PARSE_HELP 1000   /* returned when -h/--help was given */

/* Parse argv[0..argc) (argv[0] is NOT skipped: pass argv + 1 for a
 * command's words) against specs. Positional words are moved, in order,
 * to the front of argv; the return is their count (>= 0), or
 * OPT_PARSE_HELP, or -EINVAL for a usage error with a message in eb
 * ("unknown option '--frob'", "option '--limit' needs a value", ...).
 * "--" ends options. After argv, unset options with an env name take
 * their value from the environment (empty values are ignored), unless
 * OPT_NO_ENV; a bad environment value is a usage error naming the
 * variable. With OPT_STOP_AT_NONOPT the words from the first non-option
 * on are left in place after the options and counted as positionals. */
int options_parse(const struct opt_spec *specs, int argc, char **argv,
		  unsigned flags, struct errbuf *eb);

/* Print the option table as help text on out: one entry per option with
 * its forms, metavar, help, choices, default and environment variable. */
void options_print_help(FILE *out, const struct opt_spec *specs);

/* Parse a rate like "10M" (see OPT_RATE) into bytes/s. 0 or -EINVAL. */
int options_parse_rate(const char *s, uint64_t *out);

#endif
