/* gc: delete unreferenced heap objects and stale temp files (gc.h);
 * prints a report on stdout. */
#include <stdio.h>

#include "cli.h"
#include "gc.h"
#include "banned.h"

#define GC_HELP                                                              \
	"Delete the heap objects that no snapshot of SNAP_ROOT references "  \
	"(<md5> and the\nPython tool's <md5>.gz alike) and stale temp "      \
	"files (heap .tmp-*, the Python\ntool's HEAP_ROOT/temp/<uuid>.gz, "  \
	"SNAP_ROOT/YYYY/MM/.tmp-*), and in a store\nheap the unfinished "    \
	"uploads of those (an S3 multipart upload of a killed\nrun). Run "   \
	"forget first.\n"                                                     \
	"Takes the exclusive lock of SNAP_ROOT (SNAP_ROOT/locks/): refuses, " \
	"naming the\nholder, while a make-snapshot, restore-snapshot, "      \
	"verify --repair-from or\nforget holds its shared lock; a lock not " \
	"refreshed for SNAPSHOOTER_LOCK_EXPIRY\nseconds (default 1800) is "  \
	"stale and is removed. Objects and temps modified\nwithin the grace " \
	"period before gc started stay even when unreferenced\n(see "       \
	"LOCKING.md). Every snapshot must be readable, and there must be at\n" \
	"least one, or nothing is deleted.\nNever run it while the Python "  \
	"tool writes "                                                        \
	"to the same heap (it takes no lock).\nPrints the report on stdout; " \
	"with --json one object: {\"snapshots\",\n\"referenced\", "         \
	"\"objects\", \"bytes\", \"deleted\", \"deleted_bytes\", "           \
	"\"young\",\n\"temps_deleted\", \"temps_bytes\", \"missing\", "      \
	"\"uploads_aborted\", \"dry_run\"}.\nNeeds --heap-root and "        \
	"--snap-root."

int cmd_gc(struct cli_ctx *ctx, int argc, char **argv)
{
	struct gc_opts go = { .grace_s = -1 };
	struct gc_report rep;
	struct errbuf eb = ERRBUF_INIT;
	int npos = 0, rc;
	const struct opt_spec specs[] = {
		{ .kind = OPT_FLAG, .name = "dry-run", .value = &go.dry_run,
		  .help = "Report what would be deleted; delete nothing (and "
			  "take no lock)." },
		{ .kind = OPT_I64, .name = "grace", .value = &go.grace_s,
		  .metavar = "SECONDS", .help = "Keep unreferenced objects "
		  "modified less than SECONDS before gc started (default: "
		  "the lock expiry)." },
		CLI_JSON_OPTS(ctx),
		CLI_HELP_OPT,
		{ .kind = OPT_END },
	};

	rc = cli_parse(ctx, specs, "gc [OPTIONS]", GC_HELP, argc, argv,
		       &npos, 0);
	if (rc >= 0)
		return rc;
	if (go.grace_s < -1)
		return cli_usage_error(ctx, "--grace must not be negative");
	rc = cli_prepare_run(ctx, CLI_NEED_HEAP_ROOT | CLI_NEED_SNAP_ROOT,
			     CLI_PARALLEL_NONE, NULL);
	if (rc >= 0)
		return rc;
	rc = engine_gc(&ctx->eo, &go, &rep, &eb);
	if (rc < 0)
		return cli_fail(ctx, &eb);
	if (ctx->g.json) {
		printf("{\"snapshots\":%llu,\"referenced\":%llu,\"objects\":"
		       "%llu,\"bytes\":%llu,\"deleted\":%llu,\"deleted_bytes\":"
		       "%llu,\"young\":%llu,\"temps_deleted\":%llu,"
		       "\"temps_bytes\":%llu,\"missing\":%llu,"
		       "\"uploads_aborted\":%llu,\"dry_run\":%s}\n",
		       (unsigned long long)rep.snapshots,
		       (unsigned long long)rep.referenced,
		       (unsigned long long)rep.objects,
		       (unsigned long long)rep.bytes,
		       (unsigned long long)rep.deleted,
		       (unsigned long long)rep.deleted_bytes,
		       (unsigned long long)rep.young,
		       (unsigned long long)rep.temps_deleted,
		       (unsigned long long)rep.temps_bytes,
		       (unsigned long long)rep.missing,
		       (unsigned long long)rep.uploads_aborted,
		       go.dry_run ? "true" : "false");
	} else {
		printf("snapshots read: %llu, objects referenced: %llu\n"
		       "heap objects: %llu (%llu bytes)\n"
		       "%s: %llu objects (%llu bytes), %llu temp files "
		       "(%llu bytes)\n"
		       "kept within the grace period: %llu unreferenced "
		       "objects\n",
		       (unsigned long long)rep.snapshots,
		       (unsigned long long)rep.referenced,
		       (unsigned long long)rep.objects,
		       (unsigned long long)rep.bytes,
		       go.dry_run ? "would delete" : "deleted",
		       (unsigned long long)rep.deleted,
		       (unsigned long long)rep.deleted_bytes,
		       (unsigned long long)rep.temps_deleted,
		       (unsigned long long)rep.temps_bytes,
		       (unsigned long long)rep.young);
		if (rep.uploads_aborted)
			printf("%s: %llu unfinished uploads\n",
			       go.dry_run ? "would abort" : "aborted",
			       (unsigned long long)rep.uploads_aborted);
		if (rep.missing)
			printf("warning: %llu referenced objects are missing "
			       "from the heap\n",
			       (unsigned long long)rep.missing);
	}
	return cli_flush_stdout(ctx) ? CLI_EXIT_FAILURE : cli_exit_code(ctx, 0);
}
