/* restore-snapshot: make FILE_ROOT identical to a snapshot (explicit
 * --path, the latest at or before a TIMESTAMP, or the latest of all). */
#include <stdio.h>

#include "cli.h"
#include "timeparse.h"
#include "banned.h"

int cmd_restore_snapshot(struct cli_ctx *ctx, int argc, char **argv)
{
	/* saving before is the default: files the restore deletes or
	 * overwrites stay recoverable from the heap */
	struct restore_opts ro = { .save_before = true, .save_after = true };
	struct run_stats st = { 0 };
	struct errbuf eb = ERRBUF_INIT;
	struct cli_filters filters = { 0 };
	const char *latest = NULL;
	bool no_xattrs = false;
	int npos = 0, rc;
	const struct opt_spec specs[] = {
		{ .kind = OPT_STRING, .name = "path", .value = &ro.path,
		  .metavar = "SNAPSHOT",
		  .help = "Restore this snapshot file (as printed by "
			  "make-snapshot or list-snapshots)." },
		{ .kind = OPT_STRING, .name = "latest", .value = &latest,
		  .metavar = "TIMESTAMP",
		  .help = "Restore the latest snapshot taken at or before "
			  "TIMESTAMP: any form Python 3.11's "
			  "datetime.fromisoformat accepts, e.g. "
			  "'YYYY-MM-DD', 'YYYYMMDD', 'YYYY-Www-D', "
			  "'YYYY-MM-DDTHH:MM:SS[.ffffff][offset]' (any one "
			  "character between date and time; time HH, HH:MM, "
			  "HHMM, HH:MM:SS; offset Z, +HH, +HH:MM, +HHMM, "
			  "+HH:MM:SS[.ffffff] or -); without offset local "
			  "time. Also accepted as the positional argument." },
		{ .kind = OPT_BOOL, .name = "save-snapshot-before",
		  .value = &ro.save_before, .def = "save",
		  .help = "First take a snapshot of FILE_ROOT as it is, so "
			  "the restore can be undone (files it deletes or "
			  "overwrites stay in the heap)." },
		{ .kind = OPT_BOOL, .name = "save-snapshot-after",
		  .value = &ro.save_after, .def = "save",
		  .help = "Take a snapshot of FILE_ROOT after the restore, "
			  "so the latest snapshot describes the tree (cheap: "
			  "restored files reuse the md5s of the snapshot)." },
		{ .kind = OPT_FLAG, .name = "dry-run", .short_name = 'n',
		  .value = &ro.dry_run,
		  .help = "Show what would change (one line per entry: "
			  "create, replace, update, link, delete); change "
			  "nothing. Missing heap objects make it fail (exit "
			  "1)." },
		{ .kind = OPT_FLAG, .name = "read-data", .value = &ro.read_data,
		  .help = "With --dry-run: also read every heap object the "
			  "restore would write and check its MD5; corrupt "
			  "ones are listed and make it fail." },
		{ .kind = OPT_FLAG, .name = "keep-going",
		  .value = &ro.keep_going,
		  .help = "Do not stop at a file whose heap object is missing "
			  "or corrupt: write every other file, then list the "
			  "ones not restored and why, and exit 1 (no snapshot "
			  "after)." },
		{ .kind = OPT_FLAG, .name = "keep-setid",
		  .value = &ro.keep_setid,
		  .help = "Keep the setuid/setgid bits of files when not "
			  "running as root (as root they are always kept; "
			  "otherwise they are cleared, as tar does, with a "
			  "warning giving the count)." },
		{ .kind = OPT_FLAG, .name = "numeric-ids",
		  .value = &ro.numeric_ids,
		  .help = "As root, give entries the recorded user and group "
			  "ids as they are (by default a recorded name this "
			  "system knows gives its local id, else the recorded "
			  "id is used, as rsync does). Not root: owners are "
			  "left as created, with one warning giving the count "
			  "(owners_skipped in --json)." },
		{ .kind = OPT_FLAG, .name = "no-hard-links",
		  .value = &ro.no_hard_links,
		  .help = "Restore the members of a recorded hard-link group "
			  "as separate files (by default they become links of "
			  "one file, read once from the heap)." },
		CLI_FILTER_OPTS(&filters),
		{ .kind = OPT_FLAG, .name = "no-xattrs", .value = &no_xattrs,
		  .help = "Leave extended attributes, capabilities "
			  "and ACLs of the tree alone (by default they are "
			  "made what the snapshot recorded; security.* and "
			  "trusted.* only as root)." },
		CLI_JSON_OPTS(ctx),
		CLI_CREATE_BUCKET_OPT(ctx),
		CLI_HELP_OPT,
		{ .kind = OPT_END },
	};

	rc = cli_parse(ctx, specs,
		       "restore-snapshot [OPTIONS] [TIMESTAMP]",
		       "Make FILE_ROOT identical to a snapshot: write files "
		       "that are missing or\ndifferent (contents come from "
		       "the heap), fix metadata, and delete files\nthe "
		       "snapshot does not have. Without --path or TIMESTAMP "
		       "the latest snapshot\nis restored. With --json, a "
		       "summary object goes to stderr (or --json-file);\n"
		       "see 'make-snapshot --help' for its fields. Needs "
		       "--file-root, --heap-root\nand --snap-root (or "
		       "FILE_ROOT, HEAP_ROOT, SNAP_ROOT).\n\n"
		       "The snapshot is checked whole before anything is "
		       "written (names that\nescape the root, duplicate "
		       "names, corrupt bytes, missing heap objects are\n"
		       "refused). Files are written to a temp name and "
		       "renamed, their MD5 checked\nagainst the heap on the "
		       "way; symlinks inside FILE_ROOT are never followed.\n"
		       "A missing or corrupt object stops the restore, naming "
		       "the object and the\nfile; with --keep-going every "
		       "other file is written first and those\nnot restored "
		       "are listed at the end (exit 1).\n"
		       "With --include/--exclude, paths left out are neither "
		       "written nor deleted.\n\n" CLI_FILTER_HELP,
		       argc, argv, &npos);
	if (rc >= 0)
		goto out;
	rc = cli_max_args(ctx, argv, npos, 1);
	if (rc >= 0)
		goto out;
	if (npos == 1) {
		if (latest) {
			rc = cli_usage_error(ctx, "give the timestamp either "
					     "as argument or with --latest, "
					     "not both");
			goto out;
		}
		latest = argv[1];
	}
	if (ro.read_data && !ro.dry_run) {
		rc = cli_usage_error(ctx, "--read-data goes with --dry-run "
				     "(a restore checks every object it "
				     "writes anyway)");
		goto out;
	}
	if (latest && ro.path) {
		rc = cli_usage_error(ctx, "--path and a timestamp exclude "
				     "each other");
		goto out;
	}
	if (latest) {
		rc = timeparse_iso(latest, &ro.latest_ns, &eb);
		if (rc < 0) {
			rc = cli_usage_error(ctx, "%s", eb.msg);
			goto out;
		}
		ro.has_latest = true;
	}
	rc = cli_prepare_run(ctx, CLI_NEED_FILE_ROOT | CLI_NEED_HEAP_ROOT |
			     CLI_NEED_SNAP_ROOT, CLI_PARALLEL_TO_FILE,
			     &filters);
	if (rc >= 0)
		goto out;
	ctx->eo.no_xattrs = no_xattrs;
	rc = engine_restore(&ctx->eo, &ro, &st, &eb);
	rc = cli_report_run(ctx, rc, &st, ro.path, &eb);
out:
	cli_filters_release(&filters);
	return rc;
}
