/* sync: one-shot mirror of directory SRC into DST (like rsync -a --delete
 * or rclone sync), without heap or snapshot: fills struct sync_opts and
 * runs engine_sync. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "banned.h"

#define SYNC_HELP                                                            \
	"Make directory DST an exact copy of directory SRC: "                \
	"copy new and changed\nfiles (same size and mtime: "                 \
	"unchanged, unless --checksum), fix metadata,\nthen "                \
	"delete what SRC lacks (only after every copy "                      \
	"succeeded; a file or\nsymlink that replaces a directory is "        \
	"written after the deletions, and\nfails when the directory "       \
	"keeps excluded entries). No heap and\nno snapshot are involved; "   \
	"the global roots are not needed. Excluded\nfiles are "              \
	"neither copied nor deleted.\n\nSRC or DST may be "                  \
	"an object store (s3://, az://): a file's mtime is\n"                \
	"kept as the object's \"mtime\" metadata, as rclone "                \
	"keeps it (S3: seconds\nwith a fraction; Azure: RFC "                \
	"3339); an S3 source is asked for it (HEAD) only\n"                  \
	"when the sizes match. A store SRC holding no object is "            \
	"refused (as rclone\ndoes): a mistyped prefix would empty "           \
	"DST.\n\n"                                                           \
	CLI_FILTER_HELP                                                      \
	"\n\nWith --json, a summary object goes to "                         \
	"stderr (or --json-file); see\n'make-snapshot --help' "              \
	"for its fields."

/* What the command line gives sync; parse_args and check_args fill it. */
struct sync_args {
	struct sync_opts so;
	struct cli_filters filters;
	bool checksum, size_only;
	bool no_xattrs;
};

/* Parse sync's words into a (which the caller initialises with the
 * defaults and releases); *npos: the positionals, at argv[1..]. Returns
 * -1 to go on, or an exit code. */
static int parse_args(struct cli_ctx *ctx, struct sync_args *a, int argc,
		      char **argv, int *npos)
{
	const struct opt_spec specs[] = {
		{ .kind = OPT_FLAG, .name = "checksum", .short_name = 'c',
		  .value = &a->checksum,
		  .help = "Compare files by MD5 on both sides instead of "
			  "size and modification time." },
		{ .kind = OPT_FLAG, .name = "size-only", .value = &a->size_only,
		  .help = "Compare files by size only." },
		{ .kind = OPT_FLAG, .name = "no-delete",
		  .value = &a->so.no_delete,
		  .help = "Keep files in DST that SRC does not have (temp "
			  "files a killed restore or sync left in DST are "
			  "removed all the same)." },
		{ .kind = OPT_I64, .name = "max-delete",
		  .value = &a->so.max_delete, .def = "unlimited",
		  .help = "Delete nothing and fail if more than N files would "
			  "be deleted." },
		{ .kind = OPT_FLAG, .name = "dry-run", .short_name = 'n',
		  .value = &a->so.dry_run,
		  .help = "Show what would be copied and deleted ('update "
			  ".' when DST's own mode, mtime, owner or xattrs "
			  "would change); change nothing." },
		{ .kind = OPT_FLAG, .name = "no-hard-links",
		  .value = &a->so.no_hard_links,
		  .help = "Copy files with several links in SRC as separate "
			  "files (by default each link group of SRC is one "
			  "file with several names in DST, as rsync -H; "
			  "owners are kept when running as root, as rsync "
			  "-a --numeric-ids)." },
		CLI_FILTER_OPTS(&a->filters),
		{ .kind = OPT_RATE, .name = "bwlimit", .value = &a->so.bwlimit,
		  .def = "unlimited",
		  .help = "Limit the copy rate, in bytes per second: 500K, "
			  "10M, 1G (a plain number means KiB/s, like "
			  "rsync); the average since the start, over "
			  "local copies, downloads and uploads alike." },
		{ .kind = OPT_FLAG, .name = "no-xattrs", .value = &a->no_xattrs,
		  .help = "Do not copy extended attributes, "
			  "capabilities and ACLs (copied by default, and "
			  "removed from DST where SRC lacks them, as rsync "
			  "-AX; security.* and trusted.* only as root)." },
		CLI_JSON_OPTS(ctx),
		CLI_CREATE_BUCKET_OPT(ctx),
		CLI_HELP_OPT,
		{ .kind = OPT_END },
	};

	/* -1: check_args says what is wrong with SRC DST */
	return cli_parse(ctx, specs, "sync [OPTIONS] SRC DST", SYNC_HELP, argc,
			 argv, npos, -1);
}

/* SRC and DST from the positionals, and the checks across options: one
 * way to compare files, a --max-delete that means something. Returns -1
 * to go on, or CLI_EXIT_USAGE. */
static int check_args(struct cli_ctx *ctx, struct sync_args *a, int npos,
		      char **argv)
{
	struct sync_opts *so = &a->so;

	if (npos != 2)
		return cli_usage_error(ctx, npos < 2 ?
				       "sync needs SRC and DST" :
				       "sync takes exactly two arguments, SRC "
				       "and DST");
	so->src = argv[1];
	so->dst = argv[2];
	if (a->checksum && a->size_only)
		return cli_usage_error(ctx, "--checksum and --size-only "
				       "exclude each other");
	so->compare = a->checksum ? SYNC_COMPARE_CHECKSUM :
		      a->size_only ? SYNC_COMPARE_SIZE_ONLY :
		      SYNC_COMPARE_SIZE_MTIME;
	if (so->max_delete < -1)
		return cli_usage_error(ctx, "--max-delete must be 0 or more");
	return -1;
}

int cmd_sync(struct cli_ctx *ctx, int argc, char **argv)
{
	struct sync_args a = { .so = { .max_delete = -1 } };
	struct run_stats st = { 0 };
	struct errbuf eb = ERRBUF_INIT;
	int npos = 0, rc;

	rc = parse_args(ctx, &a, argc, argv, &npos);
	if (rc < 0)
		rc = check_args(ctx, &a, npos, argv);
	if (rc >= 0)
		goto out;
	/* no roots: SRC and DST are the arguments */
	rc = cli_prepare_run(ctx, 0, CLI_PARALLEL_TO_FILE, &a.filters);
	if (rc >= 0)
		goto out;
	ctx->eo.no_xattrs = a.no_xattrs;
	rc = engine_sync(&ctx->eo, &a.so, &st, &eb);
	rc = cli_report_run(ctx, rc, &st, NULL, &eb);
out:
	cli_filters_release(&a.filters);
	return rc;
}
