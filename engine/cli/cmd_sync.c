/* sync: one-shot mirror of directory SRC into DST (like rsync -a --delete
 * or rclone sync), without heap or snapshot: fills struct sync_opts and
 * runs engine_sync. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "filter.h"
#include "banned.h"

#define SYNC_EXCLUDE_FILES_MAX 64

int cmd_sync(struct cli_ctx *ctx, int argc, char **argv)
{
	struct sync_opts so = { .max_delete = -1 };
	struct opt_list include = OPT_LIST_INIT, exclude = OPT_LIST_INIT;
	struct opt_list exclude_from = OPT_LIST_INIT;
	char **loaded[SYNC_EXCLUDE_FILES_MAX] = { NULL };
	struct run_stats st = { 0 };
	struct errbuf eb = ERRBUF_INIT;
	struct filter *check = NULL;
	bool checksum = false, size_only = false;
	int npos = 0, rc;
	size_t i, j;
	const struct opt_spec specs[] = {
		{ .kind = OPT_FLAG, .name = "checksum", .short_name = 'c',
		  .value = &checksum,
		  .help = "Compare files by MD5 on both sides instead of "
			  "size and modification time." },
		{ .kind = OPT_FLAG, .name = "size-only", .value = &size_only,
		  .help = "Compare files by size only." },
		{ .kind = OPT_FLAG, .name = "no-delete", .value = &so.no_delete,
		  .help = "Keep files in DST that SRC does not have." },
		{ .kind = OPT_I64, .name = "max-delete", .value = &so.max_delete,
		  .def = "unlimited",
		  .help = "Delete nothing and fail if more than N files would "
			  "be deleted." },
		{ .kind = OPT_FLAG, .name = "dry-run", .short_name = 'n',
		  .value = &so.dry_run,
		  .help = "Show what would be copied and deleted; change "
			  "nothing." },
		{ .kind = OPT_LIST, .name = "include", .value = &include,
		  .metavar = "GLOB",
		  .help = "Take only paths matching GLOB (repeatable; once "
			  "any --include is given, files matching none are "
			  "left out). Includes are tried before excludes." },
		{ .kind = OPT_LIST, .name = "exclude", .value = &exclude,
		  .metavar = "GLOB",
		  .help = "Leave out paths matching GLOB (repeatable)." },
		{ .kind = OPT_LIST, .name = "exclude-from",
		  .value = &exclude_from, .metavar = "FILE",
		  .help = "Read exclude patterns from FILE, one per line "
			  "('#' and ';' start comments). Repeatable." },
		{ .kind = OPT_RATE, .name = "bwlimit", .value = &so.bwlimit,
		  .def = "unlimited",
		  .help = "Limit the copy rate, in bytes per second: 500K, "
			  "10M, 1G (a plain number means KiB/s, like "
			  "rsync)." },
		CLI_JSON_OPTS(ctx),
		CLI_HELP_OPT,
		{ .kind = OPT_END },
	};

	rc = cli_parse(ctx, specs, "sync [OPTIONS] SRC DST",
		       "Make directory DST an exact copy of directory SRC: "
		       "copy new and changed\nfiles (same size and mtime: "
		       "unchanged, unless --checksum), fix metadata,\nthen "
		       "delete what SRC lacks (only after every copy "
		       "succeeded). No heap and\nno snapshot are involved; "
		       "the global roots are not needed.\n\n"
		       "Patterns (--include/--exclude): '*' and '?' stay "
		       "within one path component,\n'**' spans directories, "
		       "[a-z] classes; a leading '/' anchors at SRC's root,\n"
		       "a trailing '/' matches directories only (and "
		       "everything in them); other\npatterns match at the "
		       "end of the path on a component boundary ('*.o' at\n"
		       "any depth). An excluded directory excludes its "
		       "content.\n\nWith --json, a summary object goes to "
		       "stderr (or --json-file); see\n'make-snapshot --help' "
		       "for its fields.",
		       argc, argv, &npos);
	if (rc >= 0)
		goto out;
	if (npos != 2) {
		rc = cli_usage_error(ctx, npos < 2 ? "sync needs SRC and DST" :
				     "sync takes exactly two arguments, SRC "
				     "and DST");
		goto out;
	}
	so.src = argv[1];
	so.dst = argv[2];
	if (checksum && size_only) {
		rc = cli_usage_error(ctx, "--checksum and --size-only exclude "
				     "each other");
		goto out;
	}
	so.compare = checksum ? SYNC_COMPARE_CHECKSUM :
		     size_only ? SYNC_COMPARE_SIZE_ONLY :
		     SYNC_COMPARE_SIZE_MTIME;
	if (so.max_delete < -1) {
		rc = cli_usage_error(ctx, "--max-delete must be 0 or more");
		goto out;
	}
	if (exclude_from.n > SYNC_EXCLUDE_FILES_MAX) {
		rc = cli_usage_error(ctx, "at most %d --exclude-from files",
				     SYNC_EXCLUDE_FILES_MAX);
		goto out;
	}
	for (i = 0; i < exclude_from.n; i++) {
		rc = filter_read_file(exclude_from.v[i], &loaded[i], NULL,
				      &eb);
		if (rc < 0) {
			rc = cli_usage_error(ctx, "--exclude-from: %s",
					     eb.msg);
			goto out;
		}
		for (j = 0; loaded[i][j]; j++) {
			if (opt_list_push(&exclude, loaded[i][j]) < 0) {
				rc = cli_usage_error(ctx, "too many exclude "
						     "patterns");
				goto out;
			}
		}
	}
	/* check every pattern now: a bad one is a usage error, not a
	 * failure halfway through the copy */
	rc = filter_from_opts(include.v, exclude.v, &check, &eb);
	if (rc < 0) {
		rc = rc == -ENOMEM ? cli_fail(ctx, &eb) :
		     cli_usage_error(ctx, "%s", eb.msg);
		goto out;
	}
	rc = cli_setup_engine(ctx, CLI_PARALLEL_TO_FILE);
	if (rc >= 0)
		goto out;
	ctx->eo.include = include.n ? include.v : NULL;
	ctx->eo.exclude = exclude.n ? exclude.v : NULL;
	rc = engine_sync(&ctx->eo, &so, &st, &eb);
	if (rc < 0)
		rc = cli_fail(ctx, &eb);
	else
		rc = cli_exit_code(ctx, 0);
	rc = cli_write_summary(ctx, &st, NULL, &eb, rc);
out:
	filter_free(check);
	for (i = 0; i < SYNC_EXCLUDE_FILES_MAX; i++)
		filter_patterns_free(loaded[i]);
	opt_list_release(&exclude_from);
	opt_list_release(&exclude);
	opt_list_release(&include);
	return rc;
}
