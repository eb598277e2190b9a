/* cli: what the snapshooter command line shares between main.c (global
 * options, commands[] table, signals) and the cmd_<verb>.c files (one per
 * command): the run context, exit codes and the reporting helpers. */
#ifndef SNAP_CLI_H
#define SNAP_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"
#include "errbuf.h"
#include "options.h"

#define CLI_PROG "snapshooter"

/* Process exit codes (EXIT_CODES.md). */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILURE = 1,      /* the operation failed (message on stderr) */
	CLI_EXIT_USAGE = 2,        /* bad option, argument or missing root */
	CLI_EXIT_DAMAGE = 3,       /* verify: the backup is damaged */
	CLI_EXIT_PARTIAL = 4,      /* make-snapshot --skip-changing: saved,
				    * some changing files left out */
	CLI_EXIT_INTERRUPTED = 130 /* SIGINT / SIGTERM; stopped cleanly */
};

/* Values of the global options (before the command). */
struct cli_globals {
	const char *file_root;
	const char *file_storage_options;
	const char *heap_root;
	const char *heap_storage_options;
	const char *snap_root;
	const char *snap_storage_options;
	const char *heap_cache_file;
	const char *heap_format;
	const char *loglevel;
	const char *io;
	const char *md5;
	unsigned parallel_copy_to_heap;
	unsigned parallel_copy_to_file;
	unsigned parallel_delete_in_file;
	unsigned parallel_listing;
	unsigned parallel_heap_listing;
	unsigned jobs;
	unsigned transfers;
	unsigned retries;
	unsigned connect_timeout;     /* --connect-timeout, seconds */
	unsigned io_timeout;          /* --io-timeout, seconds */
	bool has_connect_timeout;
	bool has_io_timeout;
	bool has_parallel_copy_to_heap;
	bool has_parallel_copy_to_file;
	bool has_parallel_delete_in_file;
	bool has_parallel_listing;
	bool has_parallel_heap_listing;
	bool has_jobs;
	bool has_transfers;
	bool has_retries;
	bool no_progress;
	bool fsync;
	bool json;
	const char *json_file;
	bool version;
	const char *snapshot_format;  /* --snapshot-format */
};

/* One run of the program: built by main, passed to the command. */
struct cli_ctx {
	struct cli_globals g;
	struct engine_opts eo;        /* filled by cli_setup_engine */
	volatile sig_atomic_t *interrupted;
	const char *command;          /* the running command's name */
	const struct opt_spec *global_specs; /* for "put it before" hints */
	unsigned ncores;
};

/* Which of the Python tool's --parallel-copy-to-* options a command maps to
 * the engine's workers. */
enum cli_parallel {
	CLI_PARALLEL_NONE = 0,
	CLI_PARALLEL_TO_HEAP,         /* make-snapshot */
	CLI_PARALLEL_TO_FILE,         /* restore-snapshot, sync */
};

struct cli_command {
	const char *name;
	int (*run)(struct cli_ctx *ctx, int argc, char **argv);
	const char *summary;          /* one line for the command list */
};

/* --include / --exclude / --exclude-from, shared by make-snapshot,
 * restore-snapshot and sync. */
#define CLI_FILTER_FILES_MAX 64

struct cli_filters {
	struct opt_list include;
	struct opt_list exclude;
	struct opt_list exclude_from;
	char **loaded[CLI_FILTER_FILES_MAX];
};

#define CLI_FILTER_OPTS(f)                                                   \
	{ .kind = OPT_LIST, .name = "include", .value = &(f)->include,        \
	  .metavar = "GLOB",                                                 \
	  .help = "Take only paths matching GLOB (repeatable; once any "     \
		  "--include is given, files matching none are left out). "  \
		  "Includes are tried before excludes." },                   \
	{ .kind = OPT_LIST, .name = "exclude", .value = &(f)->exclude,        \
	  .metavar = "GLOB",                                                 \
	  .help = "Leave out paths matching GLOB (repeatable)." },           \
	{ .kind = OPT_LIST, .name = "exclude-from",                          \
	  .value = &(f)->exclude_from, .metavar = "FILE",                    \
	  .help = "Read exclude patterns from FILE, one per line ('#' and "  \
		  "';' start comments). Repeatable." }

#define CLI_FILTER_HELP                                                      \
	"Patterns (--include/--exclude): '*' and '?' stay within one path "  \
	"component,\n'**' spans directories, [a-z] classes; a leading '/' "  \
	"anchors at the root,\na trailing '/' matches directories only (and " \
	"everything in them); other\npatterns match at the end of the path "  \
	"on a component boundary ('*.o' at\nany depth). An excluded "        \
	"directory excludes its content."

/* Load --exclude-from files, check every pattern (a bad one is a usage
 * error, not a failure halfway through) and put the lists into ctx->eo.
 * Call after cli_setup_engine. Returns -1 to go on, or an exit code. */
int cli_filters_apply(struct cli_ctx *ctx, struct cli_filters *f);
void cli_filters_release(struct cli_filters *f);

/* The commands; argv[0] is the command name. Each returns an exit code. */
int cmd_make_snapshot(struct cli_ctx *ctx, int argc, char **argv);
int cmd_restore_snapshot(struct cli_ctx *ctx, int argc, char **argv);
int cmd_list_snapshots(struct cli_ctx *ctx, int argc, char **argv);
int cmd_compare_snapshots(struct cli_ctx *ctx, int argc, char **argv);
int cmd_sync(struct cli_ctx *ctx, int argc, char **argv);
int cmd_convert_snapshots(struct cli_ctx *ctx, int argc, char **argv);
int cmd_verify(struct cli_ctx *ctx, int argc, char **argv);
int cmd_forget(struct cli_ctx *ctx, int argc, char **argv);
int cmd_gc(struct cli_ctx *ctx, int argc, char **argv);

/* Parse a command's argv (argv[0] = command name) against specs. On -h it
 * prints "usage: snapshooter [GLOBAL OPTIONS] <usage>", the description and
 * the option table on stdout. More than max_args positionals is the usage
 * error "unexpected argument 'X'" naming the first one too many (max_args
 * < 0: the command counts them itself). Returns -1 to go on (positionals
 * moved to argv[1..], *npos their count), or an exit code (0 after help,
 * CLI_EXIT_USAGE after printing a usage error). */
int cli_parse(struct cli_ctx *ctx, const struct opt_spec *specs,
	      const char *usage, const char *description, int argc,
	      char **argv, int *npos, int max_args);

/* Print "snapshooter: <message>" and the hint "see 'snapshooter <command>
 * --help'" on stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const struct cli_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));


/* Usage error unless value is set: "make-snapshot needs --file-root (or
 * the FILE_ROOT environment variable)". Returns -1 when set. */
int cli_require(const struct cli_ctx *ctx, const char *value,
		const char *option, const char *env);

enum cli_need {
	CLI_NEED_FILE_ROOT = 1 << 0,
	CLI_NEED_HEAP_ROOT = 1 << 1,
	CLI_NEED_SNAP_ROOT = 1 << 2,
};

/* cli_require for each root named in need (enum cli_need). Returns -1 or
 * CLI_EXIT_USAGE. */
int cli_require_roots(const struct cli_ctx *ctx, unsigned need);

/* Print "snapshooter: error: <eb->msg>" (or "interrupted") on stderr and
 * return CLI_EXIT_FAILURE, or CLI_EXIT_INTERRUPTED after a signal. */
int cli_fail(const struct cli_ctx *ctx, const struct errbuf *eb);
/* Flush stdout: 0, or the failure said on stderr ("cannot write to
 * standard output: No space left on device", through cli_fail) and its
 * exit code. Every command that prints ends with it: output that did not
 * reach its reader is a failure that says so. */
int cli_flush_stdout(const struct cli_ctx *ctx);
/* The same check into eb (0, or -errno with the message), for a command
 * that reports its failures through an errbuf. */
int cli_stdout_check(struct errbuf *eb);

/* Exit code for an operation's return rc: 0, 1, or 130 when a signal
 * arrived (whatever rc). */
int cli_exit_code(const struct cli_ctx *ctx, int rc);

/* Fill ctx->eo from the global options: roots, storage options, log
 * level, io mode, progress, retries, and the worker counts (see
 * cli_parallel_doc in main.c's help): --jobs / --transfers win; else the
 * command's --parallel-copy-to-* N gives jobs = min(N, 4 x cores) and
 * transfers = min(N, 256); --parallel-listing N gives scan_jobs =
 * min(N, 64). Returns -1, or CLI_EXIT_USAGE after a usage error. */
int cli_setup_engine(struct cli_ctx *ctx, enum cli_parallel which);

/* What every command does between parsing its options and running, in
 * this order: cli_require_roots(need; 0 when it needs none),
 * cli_setup_engine(which) and, unless filters is NULL, cli_filters_apply.
 * Returns -1 to go on, or the exit code of the first that failed. */
int cli_prepare_run(struct cli_ctx *ctx, unsigned need,
		    enum cli_parallel which, struct cli_filters *filters);

/* Where --json output goes: the --json-file (opened for writing), else
 * dflt. NULL after printing "cannot open 'PATH': <why>" to stderr. */
FILE *cli_json_open(const struct cli_ctx *ctx, FILE *dflt);

/* Finish f from cli_json_open: close it, or flush it when it is dflt.
 * Returns exit_code, or (when that is 0) CLI_EXIT_FAILURE after printing
 * "cannot write the JSON <what>" if that fails. */
int cli_json_close(FILE *f, FILE *dflt, const char *what, int exit_code);

/* The --json summary of make-snapshot / restore-snapshot / sync: one JSON
 * object on one line, on stderr or in the --json-file. snapshot and error
 * may be NULL. Does nothing without --json / --json-file. Returns
 * exit_code, or CLI_EXIT_FAILURE if the --json-file cannot be written. */
int cli_write_summary(const struct cli_ctx *ctx, const struct run_stats *st,
		      const char *snapshot, const struct errbuf *eb,
		      int exit_code);

/* The end of an engine run that returned rc (make-snapshot's failure,
 * restore-snapshot, sync): cli_fail's message when rc < 0, else the exit
 * code of a success (130 after a signal), then cli_write_summary with
 * it. Returns the exit code. */
int cli_report_run(const struct cli_ctx *ctx, int rc,
		   const struct run_stats *st, const char *snapshot,
		   const struct errbuf *eb);

/* Options every command takes after its name: --json and --json-file. */
#define CLI_JSON_OPTS(ctx)                                                   \
	{ .kind = OPT_FLAG, .name = "json", .value = &(ctx)->g.json,         \
	  .help = "Machine-readable output (see the command's description; " \
		  "also accepted before the command)." },                    \
	{ .kind = OPT_STRING, .name = "json-file",                           \
	  .value = &(ctx)->g.json_file, .metavar = "PATH",                   \
	  .help = "Write the JSON summary to PATH instead of stderr "        \
		  "(implies --json for the summary)." }

/* --create-bucket of the commands that write to object stores */
#define CLI_CREATE_BUCKET_OPT(ctx)                                            \
	{ .kind = OPT_FLAG, .name = "create-bucket",                          \
	  .value = &(ctx)->eo.create_bucket,                                  \
	  .env = "SNAPSHOOTER_CREATE_BUCKET",                                 \
	  .help = "Create a missing bucket or container of an s3:// or "      \
		  "az:// root (also the storage option "                      \
		  "{\"create_bucket\": true}). Without it a missing one is "   \
		  "an error naming it: a typo in a URL must not become a "   \
		  "new bucket. A --dry-run creates nothing: with it the "    \
		  "missing one reads as empty." }

#define CLI_HELP_OPT                                                          \
	{ .kind = OPT_HELP, .name = "help", .short_name = 'h',               \
	  .help = "Show this help and exit." }

/* Join root and rel with one '/' into a malloc'd string (NULL: ENOMEM). */
char *cli_path_join(const char *root, const char *rel);

#endif
