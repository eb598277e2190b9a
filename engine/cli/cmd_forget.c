/* forget: remove the snapshot files a retention policy (retention.h,
 * restic's rules) does not keep; the heap objects they referenced stay
 * until gc. Prints one line per snapshot on stdout.
 *
 * Every snapshot the policy keeps is read whole first: one that does not
 * decode (a 0-byte or truncated file, a flipped bit) must not stand for
 * the snapshots the policy removes in its favour, else a damaged newest
 * snapshot would leave no good one behind. It is set aside (neither
 * counted nor removed; verify reports it) and the policy applied again
 * over the rest; forget then exits 3, as verify does on damage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "entry.h"
#include "jsonw.h"
#include "lock.h"
#include "retention.h"
#include "snapshot_reader.h"
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
	"\"action\": \"keep\"|\"remove\", \"reasons\"}.\nEvery snapshot " \
	"the policy keeps is read whole first: one that does not\ndecode "   \
	"(empty, truncated, damaged) is set aside, \"keep PATH "          \
	"(unreadable)\",\nneither counted by the policy nor removed, and "   \
	"the policy applied to the\nrest; forget then exits 3 (damage "     \
	"found, as verify).\nNeeds --snap-root (or SNAP_ROOT)."

/* What forget decides: why each snapshot is kept (0: removed), and
 * those set aside because they do not decode. */
struct forget_plan {
	unsigned *reasons;
	bool *unreadable;
	size_t n_unreadable;
	int kept;
};

static int print_line(struct cli_ctx *ctx, struct snapstore *ss,
		      const struct snapstore_item *it, unsigned reasons,
		      bool unreadable, const struct retention_policy *p,
		      bool dry_run)
{
	char *path = snapstore_path(ss, it->relpath);
	char why[128];

	if (!path)
		return -ENOMEM;
	if (unreadable) {
		reasons = 1;  /* kept */
		snprintf(why, sizeof(why), "unreadable");
	} else {
		retention_reasons_text(reasons, p, why, sizeof(why));
	}
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

/* What the command line gives forget; parse_args fills it. */
struct forget_args {
	struct retention_policy p;
	const char *within;           /* --keep-within, for check_policy */
	bool dry_run;
};

/* Parse forget's words into a (zeroed by the caller). Returns -1 to go
 * on, or an exit code. */
static int parse_args(struct cli_ctx *ctx, struct forget_args *a, int argc,
		      char **argv)
{
	int npos = 0;
	const struct opt_spec specs[] = {
		{ .kind = OPT_I64, .name = "keep-last", .value = &a->p.last,
		  .metavar = "N", .help = "Keep the newest N snapshots." },
		{ .kind = OPT_I64, .name = "keep-hourly", .value = &a->p.hourly,
		  .metavar = "N", .help = "Keep the newest snapshot of each "
		  "of the last N hours that have one (-1: every hour)." },
		{ .kind = OPT_I64, .name = "keep-daily", .value = &a->p.daily,
		  .metavar = "N", .help = "The same per day." },
		{ .kind = OPT_I64, .name = "keep-weekly", .value = &a->p.weekly,
		  .metavar = "N", .help = "The same per ISO week (Monday to "
		  "Sunday)." },
		{ .kind = OPT_I64, .name = "keep-monthly",
		  .value = &a->p.monthly, .metavar = "N",
		  .help = "The same per month." },
		{ .kind = OPT_I64, .name = "keep-yearly", .value = &a->p.yearly,
		  .metavar = "N", .help = "The same per year." },
		{ .kind = OPT_STRING, .name = "keep-within",
		  .value = &a->within, .metavar = "DURATION",
		  .help = "Keep every snapshot newer than the latest one "
		  "minus DURATION (1y5m7d2h)." },
		{ .kind = OPT_FLAG, .name = "dry-run", .value = &a->dry_run,
		  .help = "Show what would be kept and removed; remove "
		  "nothing." },
		CLI_JSON_OPTS(ctx),
		CLI_HELP_OPT,
		{ .kind = OPT_END },
	};

	return cli_parse(ctx, specs, "forget [OPTIONS]", FORGET_HELP, argc,
			 argv, &npos, 0);
}

/* --keep-within into the policy, then the checks of the whole policy.
 * Returns -1 to go on, or CLI_EXIT_USAGE. */
static int check_policy(struct cli_ctx *ctx, struct forget_args *a)
{
	const struct retention_policy *p = &a->p;

	if (a->within && retention_parse_duration(a->within, &a->p))
		return cli_usage_error(ctx, "bad --keep-within '%s' (want "
				       "e.g. 1y5m7d2h)", a->within);
	if (p->last < -1 || p->hourly < -1 || p->daily < -1 ||
	    p->weekly < -1 || p->monthly < -1 || p->yearly < -1)
		return cli_usage_error(ctx, "a --keep-* count must be >= 0, "
				       "or -1 for all");
	/* restic refuses too: an empty policy would remove everything */
	if (retention_policy_is_empty(p))
		return cli_usage_error(ctx, "no policy given (--keep-last, "
				       "--keep-daily, --keep-within, ...): "
				       "nothing would be kept");
	return -1;
}

/* Read the snapshot relpath whole (every record, its checksum and
 * trailer, as verify does). 0 it decodes, 1 it does not (warned, naming
 * it and why), -errno when it could not be read (the store failed: then
 * nothing can be told, and forget stops). */
static int check_decodes(struct cli_ctx *ctx, struct snapstore *ss,
			 const char *relpath, struct errbuf *eb)
{
	struct errbuf why = ERRBUF_INIT;
	struct snapshot_reader *rd = NULL;
	struct entry e = ENTRY_INIT;
	char *path = snapstore_path(ss, relpath);
	int ret;

	if (!path)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	ret = snapstore_open_reader(ss, path, &rd, &why);
	while (!ret && (ret = snapshot_reader_next(rd, &e, &why)) == 1) {
		entry_release(&e);
		ret = 0;
	}
	snapshot_reader_free(rd);
	if (snapshot_err_is_damage(ret)) {
		log_warn(&ctx->eo.log, "snapshot '%s' does not decode, set "
			 "aside (not counted by the policy, not removed; see "
			 "verify): %s", path, why.msg);
		ret = 1;
	} else if (ret < 0) {
		*eb = why;
	}
	free(path);
	return ret;
}

/* One pass of the policy over the snapshots not set aside: pl->reasons
 * and pl->kept. times and at have list->n slots, r too (scratch). */
static int apply_policy(const struct snapstore_list *list,
			const struct retention_policy *p,
			struct forget_plan *pl, int64_t *times, size_t *at,
			unsigned *r, struct errbuf *eb)
{
	size_t i, m = 0;
	int kept;

	for (i = 0; i < list->n; i++) {
		pl->reasons[i] = 0;
		if (pl->unreadable[i])
			continue;
		times[m] = list->items[i].time_ns;
		at[m++] = i;
	}
	kept = retention_select(times, m, p, r);
	if (kept < 0)
		return errbuf_set(eb, kept, "cannot apply the policy");
	for (i = 0; i < m; i++)
		pl->reasons[at[i]] = r[i];
	pl->kept = kept;
	return 0;
}

/* The policy over the snapshots that decode: applied, each snapshot it
 * keeps read (once), and applied again while one of them was set aside.
 * Returns 0, or -errno with eb set. */
static int select_kept(struct cli_ctx *ctx, struct snapstore *ss,
		       const struct snapstore_list *list,
		       const struct retention_policy *p,
		       struct forget_plan *pl, struct errbuf *eb)
{
	size_t slots = list->n ? list->n : 1, i;
	int64_t *times = calloc(slots, sizeof(*times));
	size_t *at = calloc(slots, sizeof(*at));
	unsigned *r = calloc(slots, sizeof(*r));
	bool *checked = calloc(slots, sizeof(*checked));
	bool again = true;
	int ret = 0;

	if (!times || !at || !r || !checked)
		ret = errbuf_set(eb, -ENOMEM, "out of memory");
	while (!ret && again) {
		again = false;
		ret = apply_policy(list, p, pl, times, at, r, eb);
		for (i = 0; !ret && i < list->n; i++) {
			if (!pl->reasons[i] || checked[i])
				continue;
			if (ctx->interrupted && *ctx->interrupted) {
				ret = errbuf_set(eb, -EINTR, "interrupted");
				break;
			}
			checked[i] = true;
			ret = check_decodes(ctx, ss, list->items[i].relpath,
					    eb);
			if (ret == 1) {
				pl->unreadable[i] = true;
				pl->n_unreadable++;
				again = true;
				ret = 0;
			}
		}
	}
	free(times);
	free(at);
	free(r);
	free(checked);
	return ret;
}

/* Newest first, remove each snapshot not kept (none with --dry-run) and
 * print its line. The line follows the removal, so that a snapshot said
 * removed is gone. *removed counts the removals. Returns 0, or -errno
 * with eb set (a failure or a signal stops at that snapshot). */
static int remove_unkept(struct cli_ctx *ctx, struct snapstore *ss,
			 const struct snapstore_list *list,
			 const struct forget_plan *pl,
			 const struct forget_args *a, size_t *removed,
			 struct errbuf *eb)
{
	size_t i;
	int rc;

	for (i = list->n; i-- > 0;) {
		const struct snapstore_item *it = &list->items[i];
		bool gone = !pl->reasons[i] && !pl->unreadable[i];

		if (ctx->interrupted && *ctx->interrupted)
			return errbuf_set(eb, -EINTR, "interrupted");
		if (gone && !a->dry_run) {
			rc = snapstore_remove(ss, it->relpath, eb);
			if (rc < 0)
				return rc;
			(*removed)++;
		}
		rc = print_line(ctx, ss, it, pl->reasons[i],
				pl->unreadable[i], &a->p, a->dry_run);
		if (rc < 0)
			return errbuf_set(eb, rc, "out of memory");
	}
	return 0;
}

int cmd_forget(struct cli_ctx *ctx, int argc, char **argv)
{
	struct forget_args a = { 0 };
	struct snapstore_list list = SNAPSTORE_LIST_INIT;
	struct snapstore *ss = NULL;
	struct lock *lk = NULL;
	struct errbuf eb = ERRBUF_INIT;
	struct forget_plan pl = { 0 };
	size_t removed = 0, gone;
	int rc;

	rc = parse_args(ctx, &a, argc, argv);
	if (rc < 0)
		rc = check_policy(ctx, &a);
	if (rc < 0)
		rc = cli_prepare_run(ctx, CLI_NEED_SNAP_ROOT,
				     CLI_PARALLEL_NONE, NULL);
	if (rc >= 0)
		return rc;
	/* shared: removing snapshot files cannot hurt a backup, but gc
	 * must not mark while snapshots come and go */
	rc = 0;
	if (!a.dry_run)
		rc = lock_acquire(&ctx->eo, LOCK_SHARED, "forget", &lk, &eb);
	if (rc >= 0)
		rc = snapstore_open(ctx->g.snap_root,
				    ctx->eo.snap_storage_options, &ctx->eo,
				    &ss, &eb);
	if (rc >= 0)
		rc = snapstore_list(ss, &list, &eb);
	if (rc < 0)
		goto fail;
	pl.reasons = calloc(list.n ? list.n : 1, sizeof(*pl.reasons));
	pl.unreadable = calloc(list.n ? list.n : 1, sizeof(*pl.unreadable));
	if (!pl.reasons || !pl.unreadable) {
		rc = errbuf_set(&eb, -ENOMEM, "out of memory");
		goto fail;
	}
	rc = select_kept(ctx, ss, &list, &a.p, &pl, &eb);
	if (rc < 0)
		goto fail;
	rc = remove_unkept(ctx, ss, &list, &pl, &a, &removed, &eb);
	if (rc < 0)
		goto fail;
	rc = cli_flush_stdout(ctx) ? CLI_EXIT_FAILURE :
	     pl.n_unreadable ? CLI_EXIT_DAMAGE : CLI_EXIT_OK;
	gone = list.n - (size_t)pl.kept - pl.n_unreadable;
	fprintf(stderr, "%s: %d snapshot(s) kept, %zu %sremoved", CLI_PROG,
		pl.kept, a.dry_run ? gone : removed,
		a.dry_run ? "would be " : "");
	if (pl.n_unreadable)
		fprintf(stderr, ", %zu unreadable set aside (run verify)",
			pl.n_unreadable);
	fputc('\n', stderr);
	goto out;
fail:
	fflush(stdout);
	rc = cli_fail(ctx, &eb);
out:
	free(pl.reasons);
	free(pl.unreadable);
	snapstore_list_release(&list);
	snapstore_free(ss);
	lock_release(lk);
	return rc;
}
