/* convert-snapshots: migrate the Python snapshooter's snapshot history in
 * SNAP_ROOT to this tool's format; prints one line per snapshot written
 * (or, with --dry-run, to be written). */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "banned.h"

static void print_item(void *ctx, const char *src, const char *dst)
{
	const bool *dry_run = ctx;

	if (*dry_run)
		printf("would convert %s -> %s\n", src, dst);
	else
		printf("converted %s -> %s\n", src, dst);
}

int cmd_convert_snapshots(struct cli_ctx *ctx, int argc, char **argv)
{
	struct convert_opts co = { 0 };
	struct errbuf eb = ERRBUF_INIT;
	uint64_t converted = 0;
	int npos = 0, rc;
	const struct opt_spec specs[] = {
		{ .kind = OPT_FLAG, .name = "dry-run", .value = &co.dry_run,
		  .help = "List the snapshots that would be converted; write "
			  "nothing." },
		{ .kind = OPT_FLAG, .name = "verify", .value = &co.verify,
		  .help = "Re-read each source and its converted snapshot "
			  "and compare them entry by entry (names, md5, "
			  "size, mtime, mode)." },
		CLI_HELP_OPT,
		{ .kind = OPT_END },
	};

	rc = cli_parse(ctx, specs, "convert-snapshots [OPTIONS]",
		       "Convert the Python snapshooter's snapshots in "
		       "SNAP_ROOT (.jsonl.gz) to this\ntool's format: each "
		       "one without a .msgpack of the same timestamp gets "
		       "one,\nwritten atomically; the .jsonl.gz files stay "
		       "where they are. list-snapshots and\n'latest' then "
		       "show only the .msgpack of each timestamp, so a "
		       "second run\nconverts nothing. Prints \"converted SRC "
		       "-> DST\" per snapshot. Stops at the\nfirst snapshot "
		       "that cannot be read, written or verified, with an "
		       "error\nnaming it (exit 1); the snapshots converted "
		       "before it stay, and a new run\ncontinues from there. "
		       "Directories, which the Python format does not "
		       "record,\nare written with mode 0755 and the "
		       "snapshot's time as mtime.\nNeeds --snap-root (or "
		       "SNAP_ROOT).",
		       argc, argv, &npos, 0);
	if (rc >= 0)
		return rc;
	rc = cli_prepare_run(ctx, CLI_NEED_SNAP_ROOT, CLI_PARALLEL_NONE, NULL);
	if (rc >= 0)
		return rc;
	co.on_item = print_item;
	co.ctx = &co.dry_run;
	rc = engine_convert_snapshots(&ctx->eo, &co, &converted, &eb);
	if (rc == 0 && cli_flush_stdout(ctx))
		return CLI_EXIT_FAILURE;
	if (rc < 0)
		return cli_fail(ctx, &eb);
	log_info(&ctx->eo.log, "%s %llu snapshot(s)",
		 co.dry_run ? "would convert" : "converted",
		 (unsigned long long)converted);
	return CLI_EXIT_OK;
}
