/* forget: remove the snapshot files a retention policy (retention.h,
 * restic's rules) does not keep; the heap objects they referenced stay
 * until gc. Prints one line per snapshot on stdout. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jsonw.h"
#include "lock.h"
#include "retention.h"
#include "snapstore.h"
#include "banned.h"

#define FORGET_HELP                                                          \
	"Remove the snapshot files of SNAP_ROOT that the policy does not "   \
	"keep, with\nrestic's rules: a snapshot kept by any rule stays. "     \
	"--keep-last N keeps the\nnewest N; --keep-hourly/daily/weekly/"     \
	"monthly/yearly N keep the newest\nsnapshot of each of the last N "   \
	"hours/days/ISO weeks/months/years that have\nsnapshots (-1: all "   \
	"of them); buckets are UTC (snapshot names are UTC), not\nlocal "    \
	"time as in restic. --keep-within DURATION (e.g. 1y5m7d2h: years, "   \
	"months,\ndays, hours) keeps every snapshot taken after the latest " \
	"snapshot's time\nminus DURATION. At least one rule is required. "   \
	"Snapshots of both formats\n(.msgpack and the Python tool's "        \
	".jsonl.gz) count. Removal is atomic per\nsnapshot (local: unlink "  \
	"and fsync of the directory; object stores: DELETE).\nHeap objects " \
	"are not touched: run gc afterwards to free them.\nPrints, newest "   \
	"first, \"keep PATH (RULES)\" or \"remove PATH\" per snapshot\n"     \
	"(\"would remove\" with --dry-run, which changes nothing); with "     \
	"--json one object\nper line instead: {\"path\", \"time_ns\", "       \
	"\"action\": \"keep\"|\"remove\", \"reasons\"}.\nNeeds --snap-root " \
	"(or SNAP_ROOT)."

static int print_line(struct cli_ctx *ctx, struct snapstore *ss,
		      const struct snapstore_item *it, unsigned reasons,
		      const struct retention_policy *p, bool dry_run)
{
	char *path = snapstore_path(ss, it->relpath);
	char why[128];

	if (!path)
		return -ENOMEM;
	retention_reasons_text(reasons, p, why, sizeof(why));
	if (ctx->g.json) {
		fputs("{\"path\":", stdout);
		jsonw_string(stdout, path, strlen(path));
		printf(",\"time_ns\":%lld,\"action\":\"%s\",\"reasons\":",
		       (long long)it->time_ns, reasons ? "keep" : "remove");
		jsonw_string(stdout, why, strlen(why));
		fputs("}\n", stdout);
	} else if (reasons) {
		printf("keep %s (%s)\n", path, why);
	} else {
		printf("%s %s\n", dry_run ? "would remove" : "remove", path);
	}
	free(path);
	return 0;
}

int cmd_forget(struct cli_ctx *ctx, int argc, char **argv)
{
	struct retention_policy p = { 0 };
	struct snapstore_list list = SNAPSTORE_LIST_INIT;
	struct snapstore *ss = NULL;
	struct lock *lk = NULL;
	struct errbuf eb = ERRBUF_INIT;
	const char *within = NULL;
	unsigned *reasons = NULL;
	int64_t *times = NULL;
	bool dry_run = false;
	size_t i, removed = 0;
	int npos = 0, rc, kept;
	const struct opt_spec specs[] = {
		{ .kind = OPT_I64, .name = "keep-last", .value = &p.last,
		  .metavar = "N", .help = "Keep the newest N snapshots." },
		{ .kind = OPT_I64, .name = "keep-hourly", .value = &p.hourly,
		  .metavar = "N", .help = "Keep the newest snapshot of each "
		  "of the last N hours that have one (-1: every hour)." },
		{ .kind = OPT_I64, .name = "keep-daily", .value = &p.daily,
		  .metavar = "N", .help = "The same per day." },
		{ .kind = OPT_I64, .name = "keep-weekly", .value = &p.weekly,
		  .metavar = "N", .help = "The same per ISO week (Monday to "
		  "Sunday)." },
		{ .kind = OPT_I64, .name = "keep-monthly",
		  .value = &p.monthly, .metavar = "N",
		  .help = "The same per month." },
		{ .kind = OPT_I64, .name = "keep-yearly", .value = &p.yearly,
		  .metavar = "N", .help = "The same per year." },
		{ .kind = OPT_STRING, .name = "keep-within", .value = &within,
		  .metavar = "DURATION", .help = "Keep every snapshot newer "
		  "than the latest one minus DURATION (1y5m7d2h)." },
		{ .kind = OPT_FLAG, .name = "dry-run", .value = &dry_run,
		  .help = "Show what would be kept and removed; remove "
		  "nothing." },
		CLI_JSON_OPTS(ctx),
		CLI_HELP_OPT,
		{ .kind = OPT_END },
	};

	rc = cli_parse(ctx, specs, "forget [OPTIONS]", FORGET_HELP, argc,
		       argv, &npos);
	if (rc >= 0)
		return rc;
	rc = cli_max_args(ctx, argv, npos, 0);
	if (rc >= 0)
		return rc;
	if (within && retention_parse_duration(within, &p))
		return cli_usage_error(ctx, "bad --keep-within '%s' (want "
				       "e.g. 1y5m7d2h)", within);
	if (p.last < -1 || p.hourly < -1 || p.daily < -1 || p.weekly < -1 ||
	    p.monthly < -1 || p.yearly < -1)
		return cli_usage_error(ctx, "a --keep-* count must be >= 0, "
				       "or -1 for all");
	/* restic refuses too: an empty policy would remove everything */
	if (retention_policy_is_empty(&p))
		return cli_usage_error(ctx, "no policy given (--keep-last, "
				       "--keep-daily, --keep-within, ...): "
				       "nothing would be kept");
	rc = cli_prepare_run(ctx, CLI_NEED_SNAP_ROOT, CLI_PARALLEL_NONE, NULL);
	if (rc >= 0)
		return rc;
	/* shared: removing snapshot files cannot hurt a backup, but gc
	 * must not mark while snapshots come and go */
	rc = 0;
	if (!dry_run)
		rc = lock_acquire(&ctx->eo, LOCK_SHARED, "forget", &lk, &eb);
	if (rc >= 0)
		rc = snapstore_open(ctx->g.snap_root,
				    ctx->eo.snap_storage_options, &ctx->eo,
				    &ss, &eb);
	if (rc >= 0)
		rc = snapstore_list(ss, &list, &eb);
	if (rc < 0)
		goto fail;
	times = calloc(list.n ? list.n : 1, sizeof(*times));
	reasons = calloc(list.n ? list.n : 1, sizeof(*reasons));
	if (!times || !reasons) {
		rc = errbuf_set(&eb, -ENOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < list.n; i++)
		times[i] = list.items[i].time_ns;
	kept = retention_select(times, list.n, &p, reasons);
	if (kept < 0) {
		rc = errbuf_set(&eb, kept, "cannot apply the policy");
		goto fail;
	}
	for (i = list.n; i-- > 0;) {
		const struct snapstore_item *it = &list.items[i];

		if (ctx->interrupted && *ctx->interrupted) {
			rc = errbuf_set(&eb, -EINTR, "interrupted");
			goto fail;
		}
		if (!reasons[i] && !dry_run) {
			rc = snapstore_remove(ss, it->relpath, &eb);
			if (rc < 0)
				goto fail;
			removed++;
		}
		rc = print_line(ctx, ss, it, reasons[i], &p, dry_run);
		if (rc < 0) {
			errbuf_set(&eb, rc, "out of memory");
			goto fail;
		}
	}
	fflush(stdout);
	fprintf(stderr, "%s: %d snapshot(s) kept, %zu %sremoved\n", CLI_PROG,
		kept, dry_run ? list.n - (size_t)kept : removed,
		dry_run ? "would be " : "");
	rc = ferror(stdout) ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
	goto out;
fail:
	fflush(stdout);
	rc = cli_fail(ctx, &eb);
out:
	free(times);
	free(reasons);
	snapstore_list_release(&list);
	snapstore_free(ss);
	lock_release(lk);
	return rc;
}
