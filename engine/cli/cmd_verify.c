/* verify: check (and repair) the backup in SNAP_ROOT + HEAP_ROOT: one
 * line per finding and a summary on stdout, or one JSON object. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jsonw.h"
#include "verify.h"
#include "banned.h"

/* --json lists at most this many findings (the counts are exact) */
#define JSON_FINDINGS_MAX 1000

struct finding {
	enum verify_kind kind;
	char *subject;
	char *detail;
};

struct collect {
	bool human;                /* print each finding as it comes */
	bool keep;                 /* keep them for the JSON object */
	struct finding *list;
	size_t n;
	uint64_t dropped;
};

static void on_finding(void *arg, enum verify_kind kind, const char *subject,
		       const char *detail)
{
	struct collect *c = arg;
	struct finding *f;

	if (c->human)
		printf("%s %s: %s\n", verify_kind_name(kind), subject, detail);
	if (!c->keep)
		return;
	if (c->n >= JSON_FINDINGS_MAX) {
		c->dropped++;
		return;
	}
	if (!c->list) {
		c->list = calloc(JSON_FINDINGS_MAX, sizeof(*c->list));
		if (!c->list) {
			c->dropped++;
			return;
		}
	}
	f = &c->list[c->n];
	f->kind = kind;
	f->subject = strdup(subject);
	f->detail = strdup(detail);
	if (!f->subject || !f->detail) {
		free(f->subject);
		free(f->detail);
		c->dropped++;
		return;
	}
	c->n++;
}

static int write_json(const struct cli_ctx *ctx, const struct collect *c,
		      const struct verify_stats *st, const struct errbuf *eb,
		      int exit_code)
{
	FILE *f = cli_json_open(ctx, stdout);
	size_t i;

	if (!f)
		return exit_code ? exit_code : CLI_EXIT_FAILURE;
	fputs("{\"command\":\"verify\"", f);
	jsonw_u64_member(f, "snapshots", st->snapshots);
	jsonw_u64_member(f, "snapshots_corrupt", st->snapshots_corrupt);
	jsonw_u64_member(f, "files", st->files);
	jsonw_u64_member(f, "objects_referenced", st->objects_referenced);
	jsonw_u64_member(f, "objects_present", st->objects_present);
	jsonw_u64_member(f, "objects_unreferenced", st->objects_unreferenced);
	jsonw_u64_member(f, "objects_missing", st->objects_missing);
	jsonw_u64_member(f, "objects_checked", st->objects_checked);
	jsonw_u64_member(f, "objects_corrupt", st->objects_corrupt);
	jsonw_u64_member(f, "bytes_checked", st->bytes_checked);
	jsonw_u64_member(f, "leftovers", st->leftovers);
	jsonw_u64_member(f, "repaired", st->repaired);
	jsonw_u64_member(f, "unrepaired", st->unrepaired);
	fprintf(f, ",\"seconds\":%.3f,\"exit_code\":%d", st->seconds,
		exit_code);
	if (exit_code && exit_code != CLI_EXIT_DAMAGE && eb->msg[0]) {
		fputs(",\"error\":", f);
		jsonw_string(f, eb->msg, strlen(eb->msg));
	}
	fputs(",\"findings\":[", f);
	for (i = 0; i < c->n; i++) {
		const struct finding *x = &c->list[i];
		const char *k = verify_kind_name(x->kind);

		fputs(i ? ",{\"kind\":" : "{\"kind\":", f);
		jsonw_string(f, k, strlen(k));
		fputs(",\"subject\":", f);
		jsonw_string(f, x->subject, strlen(x->subject));
		fputs(",\"detail\":", f);
		jsonw_string(f, x->detail, strlen(x->detail));
		fputs("}", f);
	}
	fputs("]", f);
	jsonw_u64_member(f, "findings_left_out", c->dropped);
	fputs("}\n", f);
	return cli_json_close(f, stdout, "report", exit_code);
}

static void print_summary(const struct verify_stats *st,
			  const struct verify_opts *vo, int exit_code)
{
	printf("%llu snapshots (%llu corrupt), %llu files, %llu objects "
	       "referenced, %llu in the heap (%llu unreferenced), %llu "
	       "missing",
	       (unsigned long long)st->snapshots,
	       (unsigned long long)st->snapshots_corrupt,
	       (unsigned long long)st->files,
	       (unsigned long long)st->objects_referenced,
	       (unsigned long long)st->objects_present,
	       (unsigned long long)st->objects_unreferenced,
	       (unsigned long long)st->objects_missing);
	if (vo->read_data)
		printf(", %llu read (%llu bytes), %llu corrupt",
		       (unsigned long long)st->objects_checked,
		       (unsigned long long)st->bytes_checked,
		       (unsigned long long)st->objects_corrupt);
	printf(", %llu leftovers", (unsigned long long)st->leftovers);
	if (vo->repair_from)
		printf(", %llu repaired, %llu not repaired",
		       (unsigned long long)st->repaired,
		       (unsigned long long)st->unrepaired);
	printf(" in %.1f s: %s\n", st->seconds,
	       exit_code == CLI_EXIT_OK ? "no damage found" :
	       exit_code == CLI_EXIT_DAMAGE ? "DAMAGE FOUND" :
	       "verification incomplete");
}

/* "n/m" (1 <= n <= m) or "P%" (0 < P <= 100). */
static int parse_subset(const char *s, struct verify_opts *vo)
{
	char *end;
	size_t len = strlen(s);

	if (len > 1 && s[len - 1] == '%') {
		double p = strtod(s, &end);

		if (end != s + len - 1 || !(p > 0 && p <= 100))
			return -EINVAL;
		vo->subset_pct = p;
		return 0;
	}
	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	unsigned long n = strtoul(s, &end, 10);
	if (errno || *end != '/' || end[1] < '0' || end[1] > '9')
		return -EINVAL;
	unsigned long m = strtoul(end + 1, &end, 10);
	if (errno || *end || n < 1 || m < 1 || n > m || m > UINT32_MAX)
		return -EINVAL;
	vo->subset_n = (uint32_t)n;
	vo->subset_m = (uint32_t)m;
	return 0;
}

int cmd_verify(struct cli_ctx *ctx, int argc, char **argv)
{
	struct verify_opts vo = { 0 };
	struct verify_stats st = { 0 };
	struct collect c = { 0 };
	struct errbuf eb = ERRBUF_INIT;
	const char *subset = NULL;
	int npos = 0, rc;
	size_t i;
	const struct opt_spec specs[] = {
		{ .kind = OPT_FLAG, .name = "read-data", .value = &vo.read_data,
		  .help = "Also read every referenced object and check its "
			  "MD5 (after gzip decoding for <md5>.gz), on --jobs "
			  "workers." },
		{ .kind = OPT_STRING, .name = "read-data-subset",
		  .value = &subset, .metavar = "n/m|P%",
		  .help = "Read only a part (implies --read-data): n/m reads "
			  "the objects whose md5 falls in bucket n of m (its "
			  "first 4 bytes, big-endian, modulo m is n-1), so "
			  "1/m .. m/m together read everything; P% reads a "
			  "random sample of about P percent, a different one "
			  "each run." },
		{ .kind = OPT_STRING, .name = "repair-from",
		  .value = &vo.repair_from, .metavar = "PATH",
		  .help = "Write missing and corrupt objects again from the "
			  "files of the local tree PATH that have their "
			  "content (only files of a size some damaged object "
			  "has are hashed). A corrupt object is replaced "
			  "atomically, never removed first. Takes the shared "
			  "lock of SNAP_ROOT, as a backup: refused while gc "
			  "runs." },
		CLI_JSON_OPTS(ctx),
		CLI_HELP_OPT,
		{ .kind = OPT_END },
	};

	rc = cli_parse(ctx, specs, "verify [OPTIONS]",
		       "Check the backup in SNAP_ROOT and HEAP_ROOT (local, "
		       "s3:// or az://): every\nsnapshot decodes whole "
		       "(checksum and trailer), every object a snapshot\n"
		       "references is in the heap and, with --read-data, has "
		       "the content its\nname says. Lists leftovers (temp "
		       "files of interrupted writes, names that\nare not "
		       "objects, the Python tool's heap/temp/) and counts "
		       "unreferenced\nobjects; neither is damage. Needs "
		       "--heap-root and --snap-root (or HEAP_ROOT,\n"
		       "SNAP_ROOT).\n\n"
		       "Output: one line per finding on stdout, '<kind> "
		       "<subject>: <detail>' with\nkind snapshot-corrupt, "
		       "object-missing, object-corrupt, leftover, repaired\n"
		       "or unrepaired, then a summary line. With --json one "
		       "object instead: the\ncounts and \"findings\" (at "
		       "most 1000; \"findings_left_out\" counts the rest).\n"
		       "Exit status: 0 no damage (or all of it repaired), 3 "
		       "damage found, 1 the\ncheck could not be completed "
		       "(also: no snapshot in SNAP_ROOT while the heap\n"
		       "holds objects, most likely the wrong --snap-root).",
		       argc, argv, &npos, 0);
	if (rc >= 0)
		return rc;
	if (subset) {
		if (parse_subset(subset, &vo) < 0)
			return cli_usage_error(ctx, "bad --read-data-subset "
					       "'%s': give n/m (1 <= n <= m) "
					       "or P%% (0 < P <= 100)",
					       subset);
		vo.read_data = true;
	}
	rc = cli_prepare_run(ctx, CLI_NEED_HEAP_ROOT | CLI_NEED_SNAP_ROOT,
			     CLI_PARALLEL_NONE, NULL);
	if (rc >= 0)
		return rc;
	c.keep = ctx->g.json || ctx->g.json_file;
	c.human = !ctx->g.json || ctx->g.json_file;
	vo.report = on_finding;
	vo.report_arg = &c;
	rc = engine_verify(&ctx->eo, &vo, &st, &eb);
	if (rc < 0)
		rc = cli_fail(ctx, &eb);
	else if (cli_exit_code(ctx, 0) != CLI_EXIT_OK)
		rc = cli_exit_code(ctx, 0);
	else
		rc = verify_damaged(&st) ? CLI_EXIT_DAMAGE : CLI_EXIT_OK;
	if (c.human)
		print_summary(&st, &vo, rc);
	if (c.keep)
		rc = write_json(ctx, &c, &st, &eb, rc);
	else if (fflush(stdout))
		rc = rc ? rc : CLI_EXIT_FAILURE;
	for (i = 0; i < c.n; i++) {
		free(c.list[i].subject);
		free(c.list[i].detail);
	}
	free(c.list);
	return rc;
}
