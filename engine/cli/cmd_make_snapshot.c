/* make-snapshot: scan FILE_ROOT, store new contents in the heap and save a
 * snapshot; prints the snapshot path on stdout (the only stdout line). */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "banned.h"

int cmd_make_snapshot(struct cli_ctx *ctx, int argc, char **argv)
{
	struct make_snapshot_opts mo = { .save = true,
					 .download_missing = true };
	struct run_stats st = { 0 };
	struct errbuf eb = ERRBUF_INIT;
	struct cli_filters filters = { 0 };
	char *snapshot = NULL;
	int npos = 0, rc;
	const struct opt_spec specs[] = {
		{ .kind = OPT_BOOL, .name = "save-snapshot", .value = &mo.save,
		  .def = "save",
		  .help = "Save the snapshot file in SNAP_ROOT. Without it "
			  "the tree is still scanned and new contents are "
			  "stored in the heap." },
		{ .kind = OPT_BOOL, .name = "download-missing-files",
		  .value = &mo.download_missing, .def = "download",
		  .help = "For object-store trees: download files whose MD5 "
			  "the store does not provide, to compute it. Files "
			  "with an unknown MD5 are downloaded anyway when "
			  "their content must go to the heap." },
		CLI_FILTER_OPTS(&filters),
		CLI_JSON_OPTS(ctx),
		CLI_HELP_OPT,
		{ .kind = OPT_END },
	};

	rc = cli_parse(ctx, specs, "make-snapshot [OPTIONS]",
		       "Scan FILE_ROOT, hash the files that changed since the "
		       "latest snapshot, copy\ncontents the heap lacks into "
		       "HEAP_ROOT and save a snapshot file in SNAP_ROOT.\n"
		       "A file keeps the MD5 recorded in the latest snapshot "
		       "when its size, mtime,\nctime and inode are unchanged "
		       "and its mtime is older than that snapshot\n(git's "
		       "racy-clean rule), if the heap holds its object; every "
		       "other file is\nread and hashed. "
		       "The snapshot is saved only after every heap object it\n"
		       "references is on disk (syncfs). Temp snapshot files "
		       "that killed runs left in\nSNAP_ROOT are removed (not "
		       "those of runs still writing).\nPrints the path "
		       "of the saved snapshot on stdout. "
		       "With --json, a summary object goes to stderr (or\n"
		       "--json-file): {\"command\", \"files_scanned\", "
		       "\"files_hashed\", \"md5_reused\",\n"
		       "\"heap_objects_written\", \"heap_objects_present\", "
		       "\"bytes_read\", \"bytes_written\",\n\"files_copied\", "
		       "\"files_updated\", \"files_deleted\", \"dirs_created\", "
		       "\"files_skipped\",\n\"errors\", \"seconds\", "
		       "\"exit_code\", \"snapshot\", \"error\" (on failure)}.\n"
		       "Needs --file-root, --heap-root and --snap-root (or "
		       "FILE_ROOT, HEAP_ROOT,\nSNAP_ROOT).\n\n"
		       CLI_FILTER_HELP,
		       argc, argv, &npos);
	if (rc >= 0)
		goto out;
	if (npos > 0) {
		rc = cli_usage_error(ctx, "unexpected argument '%s'", argv[1]);
		goto out;
	}
	rc = cli_require_roots(ctx, CLI_NEED_FILE_ROOT | CLI_NEED_HEAP_ROOT |
			       CLI_NEED_SNAP_ROOT);
	if (rc >= 0)
		goto out;
	rc = cli_setup_engine(ctx, CLI_PARALLEL_TO_HEAP);
	if (rc >= 0)
		goto out;
	rc = cli_filters_apply(ctx, &filters);
	if (rc >= 0)
		goto out;
	rc = engine_make_snapshot(&ctx->eo, &mo, &st, &snapshot, &eb);
	if (rc < 0) {
		rc = cli_fail(ctx, &eb);
		rc = cli_write_summary(ctx, &st, NULL, &eb, rc);
		goto out;
	}
	if (snapshot)
		printf("%s\n", snapshot);
	rc = fflush(stdout) ? CLI_EXIT_FAILURE : cli_exit_code(ctx, 0);
	rc = cli_write_summary(ctx, &st, snapshot, &eb, rc);
out:
	free(snapshot);
	cli_filters_release(&filters);
	return rc;
}
