/* make-snapshot: scan FILE_ROOT, store new contents in the heap and save a
 * snapshot; prints the snapshot path (or "None" when not saved) on stdout,
 * the only stdout line. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "heap.h"
#include "objstore.h"
#include "banned.h"

#define MAKE_SNAPSHOT_HELP                                                   \
	"Scan FILE_ROOT, hash the files that changed since the "             \
	"latest snapshot, copy\ncontents the heap lacks into "               \
	"HEAP_ROOT and save a snapshot file in SNAP_ROOT.\n"                 \
	"A file keeps the MD5 recorded in the latest snapshot "              \
	"when its size, mtime,\nctime and inode are unchanged "              \
	"and its mtime is older than that snapshot\n(git's "                 \
	"racy-clean rule), if the heap holds its object (a "                 \
	"ctime moved by\na change of owner alone counts as "                 \
	"unchanged); every other file is\nread and hashed. "                 \
	"The snapshot is saved only after every heap object it\n"            \
	"references is on disk (syncfs). Temp snapshot files "               \
	"that killed runs left in\nSNAP_ROOT are removed (not "              \
	"those of runs still writing).\nPrints the path "                    \
	"of the saved snapshot on stdout, or None with\n"                    \
	"--no-save-snapshot (as the Python tool). A missing "                \
	"HEAP_ROOT or SNAP_ROOT\ndirectory is created; a "                   \
	"missing FILE_ROOT is an error (the Python tool\n"                   \
	"created it and saved an empty snapshot), as is an s3:// or "         \
	"az:// one\nholding no object (a mistyped prefix looks "              \
	"empty).\n"                                                           \
	"HEAP_ROOT and SNAP_ROOT may lie inside FILE_ROOT (left "             \
	"out of the snapshot,\nalso where only a mount shows them); "         \
	"a FILE_ROOT that is either of them or\ninside one is "               \
	"refused.\n"                                                          \
	"With --json, a summary object goes to stderr (or "                  \
	"--json-file):\n"                                                    \
	"{\"command\", \"files_scanned\", \"files_hashed\", "                \
	"\"md5_reused\",\n"                                                  \
	"\"heap_objects_written\", \"heap_objects_present\", "               \
	"\"heap_objects_verified\",\n"                                       \
	"\"heap_objects_repaired\", \"bytes_read\", \"bytes_written\", "     \
	"\"files_copied\",\n"                                                \
	"\"files_updated\", \"files_deleted\", \"dirs_created\", "           \
	"\"files_skipped\",\n"                                               \
	"\"xattrs_unsupported\", \"xattrs_skipped\", "                       \
	"\"owners_skipped\", \"links_created\",\n"                           \
	"\"meta_not_kept\" (restore and sync), \"errors\", \"seconds\", "    \
	"\"exit_code\",\n"                                                   \
	"\"snapshot\", \"error\" (on failure)}.\n"                           \
	"Needs --file-root, --heap-root and --snap-root (or "                \
	"FILE_ROOT, HEAP_ROOT,\nSNAP_ROOT).\n"                               \
	"Exit status: 0 saved, 1 failed (no snapshot), 4 saved "             \
	"with --skip-changing\nbut files that kept changing "                \
	"were left out.\n\n"                                                 \
	CLI_FILTER_HELP

/* Does the local directory path exist (1), not exist (0), or is it
 * unreadable or not a directory (-errno)? */
static int dir_state(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	return S_ISDIR(st.st_mode) ? 1 : -ENOTDIR;
}

/* Does the local directory path hold at least one entry? */
static bool dir_has_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	bool any = false;

	if (!d)
		return false;
	while (!any && (de = readdir(d)))
		any = strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return any;
}

/* Missing local roots. The Python tool creates a missing FILE_ROOT and
 * saves an empty snapshot: a typo in --file-root then yields an empty
 * backup, and restoring the latest snapshot later would empty the tree.
 * Here a missing FILE_ROOT stays an error (the engine's "cannot open
 * directory"). SNAP_ROOT is created, as by the Python tool (by the
 * snapshot store). The Python tool fails on a missing HEAP_ROOT (its heap
 * listing needs the folder); here the heap is created so that the first
 * backup is one command, but a missing heap next to a SNAP_ROOT that
 * already holds snapshots is most likely a typo: that is said at WARNING,
 * since every content is then copied into a new heap. Object-store roots
 * are left to the engine. */
static void report_roots(const struct cli_ctx *ctx)
{
	const struct logger *lg = &ctx->eo.log;
	const struct cli_globals *g = &ctx->g;

	if (!objstore_is_url(g->heap_root) && dir_state(g->heap_root) == 0) {
		if (!objstore_is_url(g->snap_root) && dir_has_entries(g->snap_root))
			log_warn(lg, "heap root '%s' does not exist but snapshot "
				 "root '%s' holds snapshots: creating an empty "
				 "heap (check --heap-root)", g->heap_root,
				 g->snap_root);
		else
			log_info(lg, "heap root '%s' does not exist: creating "
				 "it", g->heap_root);
	}
	if (!objstore_is_url(g->snap_root) && dir_state(g->snap_root) == 0)
		log_info(lg, "snapshot root '%s' does not exist: creating it",
			 g->snap_root);
}

/* What the command line gives make-snapshot; parse_args fills it. */
struct make_snapshot_args {
	struct make_snapshot_opts mo;
	struct cli_filters filters;
	bool no_xattrs;
	bool download_missing;     /* --[no-]download-missing-files */
};

/* Parse make-snapshot's words into a (which the caller initialises with
 * the defaults and releases). Returns -1 to go on, or an exit code. */
static int parse_args(struct cli_ctx *ctx, struct make_snapshot_args *a,
		      int argc, char **argv)
{
	int npos = 0;
	const struct opt_spec specs[] = {
		{ .kind = OPT_BOOL, .name = "save-snapshot",
		  .value = &a->mo.save, .def = "save",
		  .help = "Save the snapshot file in SNAP_ROOT. Without it "
			  "the tree is still scanned and new contents are "
			  "stored in the heap." },
		{ .kind = OPT_BOOL, .name = "download-missing-files",
		  .value = &a->download_missing, .def = "download",
		  .help = "For object-store trees: download files whose MD5 "
			  "the store does not provide, to compute it. Files "
			  "with an unknown MD5 are downloaded anyway when "
			  "their content must go to the heap. With "
			  "--no-download-missing-files a file the heap lacks "
			  "is recorded by its listed MD5, not stored, except "
			  "in an SSE-KMS bucket (its ETags are no MD5s: "
			  "downloaded)." },
		{ .kind = OPT_FLAG, .name = "skip-changing",
		  .value = &a->mo.skip_changing,
		  .help = "A file that keeps changing while it is read (3 "
			  "reads) is left out of the snapshot with a warning "
			  "naming it, and the snapshot is saved (exit 4, "
			  "counted in files_skipped), instead of failing the "
			  "run (exit 1, no snapshot)." },
		{ .kind = OPT_FLAG, .name = "verify-heap",
		  .value = &a->mo.verify_heap,
		  .help = "Trust the heap no further than its bytes: hash "
			  "every file (no MD5 is reused from the latest "
			  "snapshot), read back each heap object the "
			  "snapshot will reference that was already there "
			  "(once per run; .gz objects decoded) and, when it "
			  "is corrupt, truncated, unreadable or gone, write "
			  "it again from the file under the same name, "
			  "atomically (a temp file renamed over it; on a "
			  "store one PUT): the name never lacks a valid "
			  "object. A file "
			  "that changed since it was hashed is not used and "
			  "is read again. Files of an object-store tree are "
			  "all downloaded. Each repair is logged at WARNING; "
			  "counted in heap_objects_verified and "
			  "heap_objects_repaired. Costs a read of every "
			  "referenced object. Without it a corrupt object "
			  "already present stays as it is (verify "
			  "--read-data finds it)." },
		{ .kind = OPT_FLAG, .name = "no-hard-links",
		  .value = &a->mo.no_hard_links,
		  .help = "Record files with several links as separate files "
			  "(by default a later name of the same inode is "
			  "recorded as a hard link of the first; each keeps "
			  "its md5, so older readers restore it as a file)." },
		CLI_FILTER_OPTS(&a->filters),
		{ .kind = OPT_FLAG, .name = "no-xattrs", .value = &a->no_xattrs,
		  .help = "Do not record extended attributes, "
			  "capabilities and ACLs (recorded by default: user.*, "
			  "security.*, trusted.* as far as listed, "
			  "system.posix_acl_*)." },
		CLI_JSON_OPTS(ctx),
		CLI_CREATE_BUCKET_OPT(ctx),
		CLI_HELP_OPT,
		{ .kind = OPT_END },
	};

	return cli_parse(ctx, specs, "make-snapshot [OPTIONS]",
			 MAKE_SNAPSHOT_HELP, argc, argv, &npos, 0);
}

int cmd_make_snapshot(struct cli_ctx *ctx, int argc, char **argv)
{
	struct make_snapshot_args a = {
		.mo = { .save = true },
		.download_missing = true,
	};
	struct run_stats st = { 0 };
	struct errbuf eb = ERRBUF_INIT;
	char *snapshot = NULL;
	int rc;

	rc = parse_args(ctx, &a, argc, argv);
	if (rc >= 0)
		goto out;
	a.mo.no_download_missing = !a.download_missing;
	rc = cli_prepare_run(ctx, CLI_NEED_FILE_ROOT | CLI_NEED_HEAP_ROOT |
			     CLI_NEED_SNAP_ROOT, CLI_PARALLEL_TO_HEAP,
			     &a.filters);
	if (rc >= 0)
		goto out;
	report_roots(ctx);
	ctx->eo.no_xattrs = a.no_xattrs;
	rc = engine_make_snapshot(&ctx->eo, &a.mo, &st, &snapshot, &eb);
	if (rc < 0) {
		rc = cli_report_run(ctx, rc, &st, NULL, &eb);
		goto out;
	}
	/* the Python tool prints the path, or None when not saved */
	printf("%s\n", snapshot ? snapshot : "None");
	rc = cli_flush_stdout(ctx) ? CLI_EXIT_FAILURE : cli_exit_code(ctx, 0);
	if (rc == CLI_EXIT_OK && st.files_skipped_changing)
		rc = CLI_EXIT_PARTIAL;
	rc = cli_write_summary(ctx, &st, snapshot, &eb, rc);
out:
	free(snapshot);
	cli_filters_release(&a.filters);
	return rc;
}
