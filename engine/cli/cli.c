/* cli: helpers shared by the commands: parsing with generated help, usage
 * and error reporting, engine option setup, the --json summary. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compiler.h"
#include "filter.h"
#include "json_opts.h"
#include "jsonw.h"
#include "banned.h"

#define CLI_TRANSFERS_MAX 256
#define CLI_SCAN_JOBS_MAX 64

int cli_usage_error(const struct cli_ctx *ctx, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", CLI_PROG, msg);
	if (ctx && ctx->command)
		fprintf(stderr, "see '%s %s --help'\n", CLI_PROG, ctx->command);
	else
		fprintf(stderr, "see '%s --help'\n", CLI_PROG);
	return CLI_EXIT_USAGE;
}

int cli_require(const struct cli_ctx *ctx, const char *value,
		const char *option, const char *env)
{
	if (value && *value)
		return -1;
	return cli_usage_error(ctx, "%s needs %s (or the %s environment "
			       "variable)", ctx->command ? ctx->command :
			       "this command", option, env);
}

int cli_require_roots(const struct cli_ctx *ctx, unsigned need)
{
	int rc = -1;

	if (need & CLI_NEED_FILE_ROOT)
		rc = cli_require(ctx, ctx->g.file_root, "--file-root",
				 "FILE_ROOT");
	if (rc < 0 && (need & CLI_NEED_HEAP_ROOT))
		rc = cli_require(ctx, ctx->g.heap_root, "--heap-root",
				 "HEAP_ROOT");
	if (rc < 0 && (need & CLI_NEED_SNAP_ROOT))
		rc = cli_require(ctx, ctx->g.snap_root, "--snap-root",
				 "SNAP_ROOT");
	return rc;
}

int cli_exit_code(const struct cli_ctx *ctx, int rc)
{
	if (ctx->interrupted && *ctx->interrupted)
		return CLI_EXIT_INTERRUPTED;
	return rc < 0 ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

int cli_fail(const struct cli_ctx *ctx, const struct errbuf *eb)
{
	if (ctx->interrupted && *ctx->interrupted) {
		fprintf(stderr, "%s: interrupted\n", CLI_PROG);
		return CLI_EXIT_INTERRUPTED;
	}
	fprintf(stderr, "%s: error: %s\n", CLI_PROG,
		eb && eb->msg[0] ? eb->msg : "operation failed");
	return CLI_EXIT_FAILURE;
}

int cli_stdout_check(struct errbuf *eb)
{
	if (fflush(stdout))
		return errbuf_set(eb, -errno, "cannot write to standard "
				  "output: %s", strerror(errno));
	if (ferror(stdout))
		/* a write that failed earlier (a long help text) left the
		 * stream's error flag; its errno is gone */
		return errbuf_set(eb, -EIO, "cannot write to standard output: "
				  "an earlier write failed");
	return 0;
}

int cli_flush_stdout(const struct cli_ctx *ctx)
{
	struct errbuf eb = ERRBUF_INIT;

	if (!cli_stdout_check(&eb))
		return 0;
	return cli_fail(ctx, &eb);
}

/* Does spec table t have a long option called name (len bytes)? */
static bool has_long(const struct opt_spec *t, const char *name, size_t len)
{
	size_t i;

	for (i = 0; t && t[i].kind != OPT_END; i++) {
		const char *n = t[i].name;

		if (n && strlen(n) == len && !memcmp(n, name, len))
			return true;
		if (n && t[i].kind == OPT_BOOL && len > 3 &&
		    !memcmp(name, "no-", 3) && strlen(n) == len - 3 &&
		    !memcmp(n, name + 3, len - 3))
			return true;
	}
	return false;
}

/* The name of a global option given after the command, or NULL. */
static const char *misplaced_global(const struct cli_ctx *ctx,
				    const struct opt_spec *specs, int argc,
				    char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *w = argv[i];
		const char *eq;
		size_t len;
		size_t k;

		if (!strcmp(w, "--"))
			break;
		if (strncmp(w, "--", 2))
			continue;
		w += 2;
		eq = strchr(w, '=');
		len = eq ? (size_t)(eq - w) : strlen(w);
		if (has_long(specs, w, len) ||
		    !has_long(ctx->global_specs, w, len))
			continue;
		for (k = 0; ctx->global_specs[k].kind != OPT_END; k++) {
			const char *n = ctx->global_specs[k].name;

			if (n && strlen(n) == len && !memcmp(n, w, len))
				return n;
		}
	}
	return NULL;
}

int cli_parse(struct cli_ctx *ctx, const struct opt_spec *specs,
	      const char *usage, const char *description, int argc,
	      char **argv, int *npos, int max_args)
{
	struct errbuf eb = ERRBUF_INIT;
	int rc;

	rc = options_parse(specs, argc - 1, argv + 1, 0, &eb);
	if (rc == OPT_PARSE_HELP) {
		printf("usage: %s [GLOBAL OPTIONS] %s\n\n", CLI_PROG, usage);
		if (description)
			printf("%s\n\n", description);
		printf("Options:\n");
		options_print_help(stdout, specs);
		printf("\nGlobal options (--file-root, --heap-root, --snap-root, "
		       "--jobs, ...) go before\nthe command: see '%s "
		       "--help'.\nExit status: 0 success, 1 failure, 2 usage "
		       "error, 130 interrupted.\n", CLI_PROG);
		return cli_flush_stdout(ctx) ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
	}
	if (rc < 0) {
		const char *g = misplaced_global(ctx, specs, argc, argv);

		if (g)
			return cli_usage_error(ctx, "'--%s' is a global option: "
					       "put it before the command "
					       "(%s --%s ... %s ...)", g,
					       CLI_PROG, g, ctx->command);
		return cli_usage_error(ctx, "%s", eb.msg);
	}
	*npos = rc;    /* options_parse moved them to argv[1..rc] */
	if (max_args >= 0 && rc > max_args)
		return cli_usage_error(ctx, "unexpected argument '%s'",
				       argv[max_args + 1]);
	return -1;
}

static unsigned cap(unsigned n, unsigned max)
{
	return n > max ? max : n;
}

/* The Python tool json.loads every storage option before it looks at the
 * root, so a malformed one is refused even for a local path (where it has
 * no use): a usage error, not a failure at the first remote request.
 * Returns -1, or CLI_EXIT_USAGE. */
static int check_storage_options(const struct cli_ctx *ctx)
{
	const struct {
		const char *value, *option, *env;
	} all[] = {
		{ ctx->g.file_storage_options, "--file-storage-options",
		  "FILE_STORAGE_OPTIONS" },
		{ ctx->g.heap_storage_options, "--heap-storage-options",
		  "HEAP_STORAGE_OPTIONS" },
		{ ctx->g.snap_storage_options, "--snap-storage-options",
		  "SNAP_STORAGE_OPTIONS" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(all); i++) {
		struct errbuf eb = ERRBUF_INIT;
		struct json_opts *jo = NULL;
		const char *cb;

		if (!all[i].value)
			continue;
		if (json_opts_parse(all[i].value, &jo, &eb) < 0)
			return cli_usage_error(ctx, "%s (or %s): %s",
					       all[i].option, all[i].env,
					       eb.msg);
		/* the one option read whatever the store: a bad value is
		 * a usage error like malformed JSON */
		cb = json_opts_get(jo, "create_bucket");
		if (cb && strcmp(cb, "true") && strcmp(cb, "false") &&
		    strcmp(cb, "1") && strcmp(cb, "0")) {
			json_opts_free(jo);
			return cli_usage_error(ctx, "%s (or %s): invalid "
					       "create_bucket value: expected "
					       "true or false", all[i].option,
					       all[i].env);
		}
		json_opts_free(jo);
	}
	return -1;
}

/* an optional environment variable of whole seconds, min..86400: 0
 * (unset, *out untouched) or -1 (bad value) */
static int env_seconds(const char *name, unsigned long min, unsigned *out)
{
	const char *v = getenv(name);
	char *end = NULL;
	unsigned long n;

	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n < min || n > 86400)
		return -1;
	*out = (unsigned)n;
	return 0;
}

/* The engine's enums from the names of --loglevel, --heap-format, --io,
 * --md5 and --snapshot-format (the option table has checked them against
 * its lists). Returns -1, or CLI_EXIT_USAGE. */
static int setup_modes(struct cli_ctx *ctx)
{
	const struct cli_globals *g = &ctx->g;
	struct engine_opts *eo = &ctx->eo;

	/* INFO unless told otherwise, like the Python tool */
	eo->log.level = LOG_INFO;
	if (g->loglevel &&
	    log_level_parse(g->loglevel, &eo->log.level) < 0)
		return cli_usage_error(ctx, "invalid log level '%s'",
				       g->loglevel);
	if (g->heap_format && !strcmp(g->heap_format, "raw"))
		eo->heap_format = HEAP_FORMAT_RAW;
	else if (g->heap_format && !strcmp(g->heap_format, "gz"))
		eo->heap_format = HEAP_FORMAT_GZ;
	else
		eo->heap_format = HEAP_FORMAT_AUTO;
	if (g->io) {
		if (!strcmp(g->io, "sync"))
			eo->io = IO_MODE_SYNC;
		else if (!strcmp(g->io, "uring"))
			eo->io = IO_MODE_URING;
		else
			eo->io = IO_MODE_AUTO;
	}
	if (g->md5) {
		struct errbuf meb = ERRBUF_INIT;

		/* a kernel this CPU lacks is a bad value here, not a
		 * failure half-way through a run */
		if (engine_md5_parse(g->md5, &eo->md5) < 0 ||
		    engine_md5_resolve(eo->md5, &eo->md5, &meb) < 0)
			return cli_usage_error(ctx, "%s", meb.msg[0] ? meb.msg :
					       "invalid --md5 value");
	} else if (engine_md5_resolve(eo->md5, &eo->md5, NULL) < 0) {
		return cli_usage_error(ctx, "invalid --md5 value");
	}
	if (g->snapshot_format) {
		if (!strcasecmp(g->snapshot_format, "msgpack"))
			eo->snapshot_format = SNAPSHOT_WRITE_MSGPACK;
		else if (!strcasecmp(g->snapshot_format, "jsonl.gz"))
			eo->snapshot_format = SNAPSHOT_WRITE_JSONL_GZ;
		else
			eo->snapshot_format = SNAPSHOT_WRITE_AUTO;
	}
	return -1;
}

/* The worker counts, by the rules of cli_setup_engine in cli.h: which
 * says which --parallel-copy-to-* the command maps. Returns -1, or
 * CLI_EXIT_USAGE when a count is 0. */
static int setup_workers(struct cli_ctx *ctx, enum cli_parallel which)
{
	const struct cli_globals *g = &ctx->g;
	struct engine_opts *eo = &ctx->eo;
	unsigned cpu_cap = ctx->ncores * 4;
	bool has_copy = false;
	unsigned copy = 0;

	if (which == CLI_PARALLEL_TO_HEAP && g->has_parallel_copy_to_heap) {
		has_copy = true;
		copy = g->parallel_copy_to_heap;
	} else if (which == CLI_PARALLEL_TO_FILE &&
		   g->has_parallel_copy_to_file) {
		has_copy = true;
		copy = g->parallel_copy_to_file;
	}
	if ((g->has_jobs && g->jobs == 0) || (has_copy && copy == 0) ||
	    (g->has_transfers && g->transfers == 0) ||
	    (g->has_parallel_listing && g->parallel_listing == 0) ||
	    (g->has_parallel_heap_listing && g->parallel_heap_listing == 0))
		return cli_usage_error(ctx, "worker counts (--jobs, "
				       "--transfers, --parallel-*) must be "
				       "at least 1");
	if (g->has_jobs)
		eo->jobs = g->jobs;
	else if (has_copy)
		eo->jobs = cap(copy, cpu_cap);
	if (g->has_transfers)
		eo->transfers = g->transfers;
	else if (has_copy)
		eo->transfers = cap(copy, CLI_TRANSFERS_MAX);
	if (g->has_parallel_listing)
		eo->scan_jobs = cap(g->parallel_listing, CLI_SCAN_JOBS_MAX);
	if (g->has_parallel_heap_listing)
		eo->heap_list_jobs = g->parallel_heap_listing;
	return -1;
}

/* --retries and the limits on waiting: the network timeouts and, from
 * the environment only, the lock expiry and refresh. Returns -1, or
 * CLI_EXIT_USAGE for a value outside 1..86400 seconds (an expiry of 1 s
 * too: a lock is refreshed at most every second and a run stops when its
 * last refresh is two thirds of the expiry old, so every run would fail
 * at publishing about a third of the time). */
static int setup_timeouts(struct cli_ctx *ctx)
{
	const struct cli_globals *g = &ctx->g;
	struct engine_opts *eo = &ctx->eo;

	if (g->has_retries)
		eo->retries = g->retries;
	if ((g->has_connect_timeout && (g->connect_timeout < 1 ||
					g->connect_timeout > 86400)) ||
	    (g->has_io_timeout && (g->io_timeout < 1 ||
				   g->io_timeout > 86400)))
		return cli_usage_error(ctx, "--connect-timeout and "
				       "--io-timeout take whole seconds "
				       "(1..86400)");
	if (g->has_connect_timeout)
		eo->connect_timeout_s = g->connect_timeout;
	if (g->has_io_timeout)
		eo->io_timeout_s = g->io_timeout;
	if (env_seconds("SNAPSHOOTER_LOCK_EXPIRY", 2, &eo->lock_expiry_s))
		return cli_usage_error(ctx, "SNAPSHOOTER_LOCK_EXPIRY takes "
				       "whole seconds (2..86400: a lock is "
				       "refreshed at most every second)");
	if (env_seconds("SNAPSHOOTER_LOCK_REFRESH", 1, &eo->lock_refresh_s))
		return cli_usage_error(ctx, "SNAPSHOOTER_LOCK_REFRESH takes "
				       "whole seconds (1..86400)");
	return -1;
}

int cli_setup_engine(struct cli_ctx *ctx, enum cli_parallel which)
{
	const struct cli_globals *g = &ctx->g;
	struct engine_opts *eo = &ctx->eo;
	int rc;

	eo->file_root = g->file_root;
	eo->heap_root = g->heap_root;
	eo->snap_root = g->snap_root;
	eo->heap_cache_file = g->heap_cache_file;
	eo->file_storage_options = g->file_storage_options;
	eo->heap_storage_options = g->heap_storage_options;
	eo->snap_storage_options = g->snap_storage_options;
	eo->interrupted = ctx->interrupted;
	eo->progress = isatty(STDERR_FILENO) && !g->no_progress;
	eo->fsync = g->fsync;
	if (check_storage_options(ctx) >= 0)
		return CLI_EXIT_USAGE;
	/* in this order, so that of several bad values the one reported
	 * stays the same */
	rc = setup_modes(ctx);
	if (rc < 0)
		rc = setup_workers(ctx, which);
	if (rc < 0)
		rc = setup_timeouts(ctx);
	return rc;
}

FILE *cli_json_open(const struct cli_ctx *ctx, FILE *dflt)
{
	FILE *f;

	if (!ctx->g.json_file)
		return dflt;
	f = fopen(ctx->g.json_file, "we");
	if (!f)
		fprintf(stderr, "%s: error: cannot open '%s': %s\n", CLI_PROG,
			ctx->g.json_file, strerror(errno));
	return f;
}

int cli_json_close(FILE *f, FILE *dflt, const char *what, int exit_code)
{
	if (f == dflt ? fflush(f) : fclose(f)) {
		fprintf(stderr, "%s: error: cannot write the JSON %s\n",
			CLI_PROG, what);
		return exit_code ? exit_code : CLI_EXIT_FAILURE;
	}
	return exit_code;
}

int cli_write_summary(const struct cli_ctx *ctx, const struct run_stats *st,
		      const char *snapshot, const struct errbuf *eb,
		      int exit_code)
{
	const char *cmd = ctx->command ? ctx->command : "";
	FILE *f;

	if (!ctx->g.json && !ctx->g.json_file)
		return exit_code;
	f = cli_json_open(ctx, stderr);
	if (!f)
		return exit_code ? exit_code : CLI_EXIT_FAILURE;
	fputs("{\"command\":", f);
	jsonw_string(f, cmd, strlen(cmd));
	jsonw_u64_member(f, "files_scanned", st->files_scanned);
	jsonw_u64_member(f, "files_hashed", st->files_hashed);
	jsonw_u64_member(f, "md5_reused", st->md5_reused);
	jsonw_u64_member(f, "heap_objects_written", st->heap_objects_written);
	jsonw_u64_member(f, "heap_objects_present", st->heap_objects_present);
	jsonw_u64_member(f, "heap_objects_verified",
			 st->heap_objects_verified);
	jsonw_u64_member(f, "heap_objects_repaired",
			 st->heap_objects_repaired);
	jsonw_u64_member(f, "bytes_read", st->bytes_read);
	jsonw_u64_member(f, "bytes_written", st->bytes_written);
	jsonw_u64_member(f, "files_copied", st->files_copied);
	jsonw_u64_member(f, "files_updated", st->files_updated);
	jsonw_u64_member(f, "files_deleted", st->files_deleted);
	jsonw_u64_member(f, "dirs_created", st->dirs_created);
	jsonw_u64_member(f, "files_skipped", st->files_skipped);
	jsonw_u64_member(f, "xattrs_unsupported", st->xattrs_unsupported);
	jsonw_u64_member(f, "xattrs_skipped", st->xattrs_skipped);
	jsonw_u64_member(f, "owners_skipped", st->owners_skipped);
	jsonw_u64_member(f, "links_created", st->links_created);
	jsonw_u64_member(f, "meta_not_kept", st->meta_not_kept);
	jsonw_u64_member(f, "errors", st->errors);
	fprintf(f, ",\"seconds\":%.3f,\"exit_code\":%d", st->seconds,
		exit_code);
	/* the MD5 implementation the run hashed with (--md5 resolved) */
	fprintf(f, ",\"md5\":\"%s\"", engine_md5_name(ctx->eo.md5));
	if (snapshot) {
		fputs(",\"snapshot\":", f);
		jsonw_string(f, snapshot, strlen(snapshot));
	}
	if (exit_code && eb && eb->msg[0]) {
		fputs(",\"error\":", f);
		jsonw_string(f, eb->msg, strlen(eb->msg));
	}
	fputs("}\n", f);
	return cli_json_close(f, stderr, "summary", exit_code);
}

int cli_report_run(const struct cli_ctx *ctx, int rc,
		   const struct run_stats *st, const char *snapshot,
		   const struct errbuf *eb)
{
	if (rc < 0)
		rc = cli_fail(ctx, eb);
	else
		rc = cli_exit_code(ctx, 0);
	return cli_write_summary(ctx, st, snapshot, eb, rc);
}

char *cli_path_join(const char *root, const char *rel)
{
	size_t rl = strlen(root), nl = strlen(rel);
	char *p;

	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	while (nl && rel[0] == '/') {
		rel++;
		nl--;
	}
	p = malloc(rl + 1 + nl + 1);
	if (!p)
		return NULL;
	memcpy(p, root, rl);
	if (rl && root[rl - 1] != '/')
		p[rl++] = '/';
	memcpy(p + rl, rel, nl);
	p[rl + nl] = '\0';
	return p;
}

int cli_filters_apply(struct cli_ctx *ctx, struct cli_filters *f)
{
	struct errbuf eb = ERRBUF_INIT;
	struct filter *check = NULL;
	size_t i, j;
	int rc;

	if (f->exclude_from.n > CLI_FILTER_FILES_MAX)
		return cli_usage_error(ctx, "at most %d --exclude-from files",
				       CLI_FILTER_FILES_MAX);
	for (i = 0; i < f->exclude_from.n; i++) {
		rc = filter_read_file(f->exclude_from.v[i], &f->loaded[i], NULL,
				      &eb);
		if (rc < 0)
			return cli_usage_error(ctx, "--exclude-from: %s",
					       eb.msg);
		for (j = 0; f->loaded[i][j]; j++)
			if (opt_list_push(&f->exclude, f->loaded[i][j]) < 0)
				return cli_usage_error(ctx, "too many exclude "
						       "patterns");
	}
	rc = filter_from_opts(f->include.v, f->exclude.v, &check, &eb);
	filter_free(check);
	if (rc < 0)
		return rc == -ENOMEM ? cli_fail(ctx, &eb) :
		       cli_usage_error(ctx, "%s", eb.msg);
	ctx->eo.include = f->include.n ? f->include.v : NULL;
	ctx->eo.exclude = f->exclude.n ? f->exclude.v : NULL;
	return -1;
}

/* --json-file is written when the run ends: one that cannot be (its
 * folder missing, not writable, the path a directory) fails before the
 * run, not after its work. Checked, not created: a file created now could
 * be taken into the snapshot, or deleted by a restore into its folder. */
static int check_json_file(const struct cli_ctx *ctx)
{
	const char *path = ctx->g.json_file, *slash;
	char dir[4096];
	struct stat st;
	size_t n;

	if (!path)
		return -1;
	if (!stat(path, &st)) {
		if (S_ISDIR(st.st_mode))
			errno = EISDIR;
		else if (!access(path, W_OK))
			return -1;
	} else if (errno == ENOENT) {
		slash = strrchr(path, '/');
		n = slash ? (size_t)(slash - path) : 0;
		if (n >= sizeof(dir))
			return -1;  /* the write at the end says what fails */
		if (n)
			snprintf(dir, sizeof(dir), "%.*s", (int)n, path);
		else
			snprintf(dir, sizeof(dir), "%s", slash ? "/" : ".");
		if (!access(dir, W_OK | X_OK))
			return -1;
	}
	fprintf(stderr, "%s: error: cannot write the JSON summary to '%s': "
		"%s\n", CLI_PROG, path, strerror(errno));
	return CLI_EXIT_FAILURE;
}

int cli_prepare_run(struct cli_ctx *ctx, unsigned need,
		    enum cli_parallel which, struct cli_filters *filters)
{
	int rc;

	rc = cli_require_roots(ctx, need);
	if (rc < 0)
		rc = check_json_file(ctx);
	if (rc < 0)
		rc = cli_setup_engine(ctx, which);
	if (rc < 0 && filters)
		rc = cli_filters_apply(ctx, filters);
	return rc;
}

void cli_filters_release(struct cli_filters *f)
{
	size_t i;

	for (i = 0; i < CLI_FILTER_FILES_MAX; i++)
		filter_patterns_free(f->loaded[i]);
	opt_list_release(&f->exclude_from);
	opt_list_release(&f->exclude);
	opt_list_release(&f->include);
}
