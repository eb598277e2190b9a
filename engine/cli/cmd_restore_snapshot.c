/* restore-snapshot: make FILE_ROOT identical to a snapshot (explicit
 * --path, the latest at or before a TIMESTAMP, or the latest of all). */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "timeparse.h"
#include "banned.h"

#define RESTORE_SNAPSHOT_HELP                                                \
	"Make FILE_ROOT identical to a snapshot: write files "               \
	"that are missing or\ndifferent (contents come from "                \
	"the heap), fix metadata, and delete files\nthe "                    \
	"snapshot does not have. Without --path or TIMESTAMP "               \
	"the latest snapshot\nis restored. With --json, a "                  \
	"summary object goes to stderr (or --json-file);\n"                  \
	"see 'make-snapshot --help' for its fields (\"snapshot\": the one "   \
	"restored).\nNeeds --file-root, --heap-root and --snap-root (or "     \
	"FILE_ROOT, HEAP_ROOT,\nSNAP_ROOT).\n\n"                             \
	"The snapshot is checked whole before anything is "                  \
	"written (names that\nescape the root, duplicate "                   \
	"names, corrupt bytes, missing heap objects,\nnames an "              \
	"s3:// or az:// FILE_ROOT would keep as other files are "            \
	"refused).\nFiles are written to a temp name and "                    \
	"renamed, their MD5 checked\nagainst the heap on the "               \
	"way; symlinks inside FILE_ROOT are never followed.\n"               \
	"A missing or corrupt object stops the restore, naming "             \
	"the object and the\nfile; with --keep-going every "                 \
	"other file is written first and those\nnot restored "               \
	"are listed at the end (exit 1). A restore that fails after\n"       \
	"saving the state before says so: that snapshot is the latest "      \
	"now, and\nthe note gives the --path to try the restore again.\n"   \
	"With --include/--exclude, paths left out are neither "              \
	"written nor deleted.\n"                                             \
	"HEAP_ROOT and SNAP_ROOT may lie inside FILE_ROOT (left "             \
	"alone, also where\nonly a mount shows them); a FILE_ROOT "           \
	"that is either of them or inside\none (by name, a symlink "          \
	"or a bind mount) is refused before anything is\nwritten.\n\n"        \
	CLI_FILTER_HELP

/* What the command line gives restore-snapshot; parse_args and
 * check_args fill it. */
struct restore_args {
	struct restore_opts ro;
	struct cli_filters filters;
	const char *latest;           /* --latest or the positional */
	bool no_xattrs;
};

/* Parse restore-snapshot's words into a (which the caller initialises
 * with the defaults and releases); *npos: the positionals, at argv[1..].
 * Returns -1 to go on, or an exit code. */
static int parse_args(struct cli_ctx *ctx, struct restore_args *a,
		      int argc, char **argv, int *npos)
{
	const struct opt_spec specs[] = {
		{ .kind = OPT_STRING, .name = "path", .value = &a->ro.path,
		  .metavar = "SNAPSHOT",
		  .help = "Restore this snapshot file (as printed by "
			  "make-snapshot or list-snapshots)." },
		{ .kind = OPT_STRING, .name = "latest", .value = &a->latest,
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
		  .value = &a->ro.save_before, .def = "save",
		  .help = "First take a snapshot of FILE_ROOT as it is, so "
			  "the restore can be undone (files it deletes or "
			  "overwrites stay in the heap). Unsaved, the state "
			  "before is recorded in an unnamed temp in $TMPDIR." },
		{ .kind = OPT_BOOL, .name = "save-snapshot-after",
		  .value = &a->ro.save_after, .def = "save",
		  .help = "Take a snapshot of FILE_ROOT after the restore, "
			  "so the latest snapshot describes the tree (cheap: "
			  "restored files reuse the md5s of the snapshot)." },
		{ .kind = OPT_FLAG, .name = "dry-run", .short_name = 'n',
		  .value = &a->ro.dry_run,
		  .help = "Show what would change (one line per entry: "
			  "create, replace, update, link, delete; the root "
			  "itself as 'update .'); change nothing. Missing "
			  "heap objects make it fail (exit 1)." },
		{ .kind = OPT_FLAG, .name = "read-data",
		  .value = &a->ro.read_data,
		  .help = "With --dry-run: also read every heap object the "
			  "restore would write and check its MD5; corrupt "
			  "ones are listed and make it fail." },
		{ .kind = OPT_FLAG, .name = "keep-going",
		  .value = &a->ro.keep_going,
		  .help = "Do not stop at a file whose heap object is missing "
			  "or corrupt: write every other file, then list the "
			  "ones not restored and why, and exit 1 (no snapshot "
			  "after)." },
		{ .kind = OPT_FLAG, .name = "keep-setid",
		  .value = &a->ro.keep_setid,
		  .help = "Keep the setuid/setgid bits of files when not "
			  "running as root (as root they are always kept; "
			  "otherwise they are cleared, as tar does, with a "
			  "warning giving the count)." },
		{ .kind = OPT_FLAG, .name = "numeric-ids",
		  .value = &a->ro.numeric_ids,
		  .help = "As root, give entries the recorded user and group "
			  "ids as they are (by default a recorded name this "
			  "system knows gives its local id, else the recorded "
			  "id is used, as rsync does). Not root: owners are "
			  "left as created, with one warning giving the count "
			  "(owners_skipped in --json)." },
		{ .kind = OPT_FLAG, .name = "no-hard-links",
		  .value = &a->ro.no_hard_links,
		  .help = "Restore the members of a recorded hard-link group "
			  "as separate files (by default they become links of "
			  "one file, read once from the heap)." },
		CLI_FILTER_OPTS(&a->filters),
		{ .kind = OPT_FLAG, .name = "no-xattrs", .value = &a->no_xattrs,
		  .help = "Leave extended attributes, capabilities "
			  "and ACLs of the tree alone (by default they are "
			  "made what the snapshot recorded; security.* and "
			  "trusted.* only as root)." },
		CLI_JSON_OPTS(ctx),
		CLI_CREATE_BUCKET_OPT(ctx),
		CLI_HELP_OPT,
		{ .kind = OPT_END },
	};

	return cli_parse(ctx, specs, "restore-snapshot [OPTIONS] [TIMESTAMP]",
			 RESTORE_SNAPSHOT_HELP, argc, argv, npos, 1);
}

/* The checks that need more than one option: the timestamp given once,
 * --read-data only with --dry-run, --path or a timestamp. A timestamp
 * that does not parse is a usage error too, found before any store is
 * opened. Returns -1 to go on, or CLI_EXIT_USAGE. */
static int check_args(struct cli_ctx *ctx, struct restore_args *a, int npos,
		      char **argv, struct errbuf *eb)
{
	struct restore_opts *ro = &a->ro;
	int rc;

	if (npos == 1) {
		if (a->latest)
			return cli_usage_error(ctx, "give the timestamp either "
					       "as argument or with --latest, "
					       "not both");
		a->latest = argv[1];
	}
	if (ro->read_data && !ro->dry_run)
		return cli_usage_error(ctx, "--read-data goes with --dry-run "
				       "(a restore checks every object it "
				       "writes anyway)");
	if (a->latest && ro->path)
		return cli_usage_error(ctx, "--path and a timestamp exclude "
				       "each other");
	if (a->latest) {
		rc = timeparse_iso(a->latest, &ro->latest_ns, eb);
		if (rc < 0)
			return cli_usage_error(ctx, "%s", eb->msg);
		ro->has_latest = true;
	}
	return -1;
}

/* A restore that failed after saving the state before: that snapshot is
 * the latest now, so the same command again (restore the latest) would
 * bring back the state before, not the snapshot asked for. Say so, and
 * how to retry. */
static void retry_note(const char *before, const char *restored)
{
	fprintf(stderr, "%s: note: the state before this restore was saved "
		"as '%s' and is now the latest snapshot; to try this restore "
		"again, give --path '%s'\n", CLI_PROG, before, restored);
}

int cmd_restore_snapshot(struct cli_ctx *ctx, int argc, char **argv)
{
	/* saving before is the default: files the restore deletes or
	 * overwrites stay recoverable from the heap */
	struct restore_args a = {
		.ro = { .save_before = true, .save_after = true },
	};
	struct run_stats st = { 0 };
	struct errbuf eb = ERRBUF_INIT;
	char *restored = NULL, *before = NULL;
	int npos = 0, rc, ret;

	rc = parse_args(ctx, &a, argc, argv, &npos);
	if (rc < 0)
		rc = check_args(ctx, &a, npos, argv, &eb);
	if (rc >= 0)
		goto out;
	rc = cli_prepare_run(ctx, CLI_NEED_FILE_ROOT | CLI_NEED_HEAP_ROOT |
			     CLI_NEED_SNAP_ROOT, CLI_PARALLEL_TO_FILE,
			     &a.filters);
	if (rc >= 0)
		goto out;
	ctx->eo.no_xattrs = a.no_xattrs;
	/* the summary names the snapshot restored, also when it was found
	 * by TIMESTAMP or as the latest */
	a.ro.restored = &restored;
	a.ro.saved_before = &before;
	ret = engine_restore(&ctx->eo, &a.ro, &st, &eb);
	rc = cli_report_run(ctx, ret, &st, restored ? restored : a.ro.path,
			    &eb);
	if (ret < 0 && before && restored)
		retry_note(before, restored);
	free(restored);
	free(before);
out:
	cli_filters_release(&a.filters);
	return rc;
}
