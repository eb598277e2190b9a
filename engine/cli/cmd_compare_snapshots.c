/* compare-snapshots: stream two snapshot readers through diff_run and
 * print one line per name whose state was asked for (table or JSON). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diff.h"
#include "jsonw.h"
#include "snapshot_reader.h"
#include "snapstore.h"
#include "timeparse.h"
#include "banned.h"

#define COMPARE_SNAPSHOTS_HELP                                               \
	"Compare two snapshots name by name (a streaming merge: "            \
	"memory does not grow\nwith the snapshots). Without "                \
	"--path1/--latest1 the left side is the\n"                           \
	"second-latest snapshot of SNAP_ROOT; without "                      \
	"--path2/--latest2 the right\nside is the latest. "                  \
	"'different' means same name but another type, MD5,\n"               \
	"size or symlink target. Output: a table with the "                  \
	"columns STATUS, MD5_LEFT,\nMD5_RIGHT, SIZE_LEFT, "                  \
	"SIZE_RIGHT, NAME (name last so the columns stay\n"                  \
	"aligned; bytes that are not printable UTF-8 appear as "             \
	"\\xNN, directories end\nin '/'). With --json, one "                 \
	"object per line: {\"name\", \"status\",\n"                          \
	"\"type_left\", \"type_right\", \"md5_left\", "                      \
	"\"md5_right\", \"size_left\", \"size_right\"}\n"                    \
	"(null where a side has no value; bytes of names that "              \
	"are not UTF-8 are\nescaped as \\udcXX, Python's "                   \
	"surrogateescape). The exit status is 0 whether\nor "                \
	"not there are differences."

/* rendering of one name: every byte may become "\xNN" */
#define NAME_OUT_MAX (ENTRY_NAME_MAX * 4 + 2)

struct compare_out {
	unsigned states;      /* 1 << enum diff_state */
	bool json;
	char *name_buf;       /* NAME_OUT_MAX bytes */
	uint64_t shown;
	volatile sig_atomic_t *interrupted;
};

static const char *type_name(const struct entry *e)
{
	switch (e->type) {
	case ENTRY_FILE:
		return "file";
	case ENTRY_SYMLINK:
		return "symlink";
	case ENTRY_DIR:
		return "dir";
	default:
		return "unknown";
	}
}

static void json_side(FILE *f, const char *side, const struct entry *e)
{
	char hex[OBJID_HEX_LEN + 1];

	if (!e) {
		fprintf(f, ",\"type_%s\":null,\"md5_%s\":null,\"size_%s\":null",
			side, side, side);
		return;
	}
	fprintf(f, ",\"type_%s\":\"%s\"", side, type_name(e));
	if (e->type == ENTRY_FILE && e->has_md5) {
		objid_to_hex(&e->md5, hex);
		fprintf(f, ",\"md5_%s\":\"%s\"", side, hex);
	} else {
		fprintf(f, ",\"md5_%s\":null", side);
	}
	if (e->type == ENTRY_FILE)
		fprintf(f, ",\"size_%s\":%llu", side,
			(unsigned long long)e->size);
	else
		fprintf(f, ",\"size_%s\":null", side);
}

static void table_md5(const struct entry *e, char out[OBJID_HEX_LEN + 1])
{
	if (e && e->type == ENTRY_FILE && e->has_md5)
		objid_to_hex(&e->md5, out);
	else if (e && e->type == ENTRY_SYMLINK)
		snprintf(out, OBJID_HEX_LEN + 1, "(symlink)");
	else if (e && e->type == ENTRY_DIR)
		snprintf(out, OBJID_HEX_LEN + 1, "(dir)");
	else
		snprintf(out, OBJID_HEX_LEN + 1, "-");
}

static void table_size(const struct entry *e, char out[24])
{
	if (e && e->type == ENTRY_FILE)
		snprintf(out, 24, "%llu", (unsigned long long)e->size);
	else
		snprintf(out, 24, "-");
}

static int on_diff(void *vctx, enum diff_state st, const struct entry *l,
		   const struct entry *r, struct errbuf *eb)
{
	struct compare_out *co = vctx;
	const struct entry *e = l ? l : r;
	char ml[OBJID_HEX_LEN + 1], mr[OBJID_HEX_LEN + 1], sl[24], sr[24];

	if (co->interrupted && *co->interrupted)
		return errbuf_set(eb, -ECANCELED, "interrupted");
	if (!(co->states & (1u << st)))
		return 0;
	co->shown++;
	if (co->json) {
		fputs("{\"name\":", stdout);
		jsonw_string(stdout, e->name, e->name_len);
		printf(",\"status\":\"%s\"", diff_state_name(st));
		json_side(stdout, "left", l);
		json_side(stdout, "right", r);
		fputs("}\n", stdout);
		return 0;
	}
	errbuf_quote_name(co->name_buf, NAME_OUT_MAX, e->name, e->name_len);
	table_md5(l, ml);
	table_md5(r, mr);
	table_size(l, sl);
	table_size(r, sr);
	printf("%-10s  %-32s  %-32s  %12s  %12s  %s%s\n", diff_state_name(st),
	       ml, mr, sl, sr, co->name_buf,
	       e->type == ENTRY_DIR ? "/" : "");
	return 0;
}

/* Pick a snapshot path for one side: explicit, latest before a time, or
 * the default (index from the newest: 0 latest, 1 the one before). */
static int resolve(struct cli_ctx *ctx, struct snapstore *ss,
		   const char *path, const char *latest,
		   const struct snapstore_list *list, size_t from_newest,
		   char **out, struct errbuf *eb)
{
	int64_t ns;
	int rc;

	if (path) {
		*out = strdup(path);
		return *out ? 0 : errbuf_set(eb, -ENOMEM, "out of memory");
	}
	if (latest) {
		rc = timeparse_iso(latest, &ns, eb);
		if (rc < 0)
			return rc;
		return snapstore_find_latest(ss, true, ns, out, eb);
	}
	if (list->n <= from_newest)
		return errbuf_set(eb, -ENOENT, "compare-snapshots needs %zu "
				  "snapshots in '%s', found %zu",
				  from_newest + 1, ctx->g.snap_root, list->n);
	*out = snapstore_path(ss,
			      list->items[list->n - 1 - from_newest].relpath);
	return *out ? 0 : errbuf_set(eb, -ENOMEM, "out of memory");
}

/* What the command line gives compare-snapshots; parse_args fills it. */
struct compare_args {
	const char *path1, *path2;
	const char *latest1, *latest2;
	struct opt_list states;       /* --diff-state */
};

/* Parse compare-snapshots' words into a (which the caller initialises
 * and releases). Returns -1 to go on, or an exit code. */
static int parse_args(struct cli_ctx *ctx, struct compare_args *a,
		      int argc, char **argv)
{
	int npos = 0;
	const struct opt_spec specs[] = {
		{ .kind = OPT_STRING, .name = "path1", .value = &a->path1,
		  .metavar = "SNAPSHOT",
		  .help = "Left snapshot file." },
		{ .kind = OPT_STRING, .name = "latest1", .value = &a->latest1,
		  .metavar = "TIMESTAMP",
		  .help = "Left: the latest snapshot at or before TIMESTAMP "
			  "(format as restore-snapshot)." },
		{ .kind = OPT_STRING, .name = "path2", .value = &a->path2,
		  .metavar = "SNAPSHOT",
		  .help = "Right snapshot file." },
		{ .kind = OPT_STRING, .name = "latest2", .value = &a->latest2,
		  .metavar = "TIMESTAMP",
		  .help = "Right: the latest snapshot at or before "
			  "TIMESTAMP." },
		{ .kind = OPT_LIST, .name = "diff-state", .value = &a->states,
		  .metavar = "STATE", .def = "only_left, only_right, different",
		  .help = "Show names in this state: only_left, only_right, "
			  "different or equal. Repeatable." },
		CLI_JSON_OPTS(ctx),
		CLI_HELP_OPT,
		{ .kind = OPT_END },
	};

	return cli_parse(ctx, specs, "compare-snapshots [OPTIONS]",
			 COMPARE_SNAPSHOTS_HELP, argc, argv, &npos, 0);
}

/* The checks across options, and --diff-state into co->states (a bit per
 * enum diff_state; by default the names that differ). Returns -1 to go
 * on, or CLI_EXIT_USAGE. */
static int check_args(struct cli_ctx *ctx, const struct compare_args *a,
		      struct compare_out *co)
{
	size_t i;

	if ((a->path1 && a->latest1) || (a->path2 && a->latest2))
		return cli_usage_error(ctx, "--pathN and --latestN exclude "
				       "each other");
	for (i = 0; i < a->states.n; i++) {
		enum diff_state st;

		if (diff_state_parse(a->states.v[i], &st) < 0)
			return cli_usage_error(ctx, "invalid value for "
					       "'--diff-state': '%s' (choose "
					       "from only_left, only_right, "
					       "different, equal)",
					       a->states.v[i]);
		co->states |= 1u << st;
	}
	if (!a->states.n)
		co->states = 1u << DIFF_ONLY_LEFT | 1u << DIFF_ONLY_RIGHT |
			     1u << DIFF_DIFFERENT;
	return -1;
}

/* The snapshots to compare, in *p1 and *p2 (malloc'd). SNAP_ROOT is
 * listed only when a side takes a default, into list (the caller's to
 * release). */
static int resolve_sides(struct cli_ctx *ctx, struct snapstore *ss,
			 const struct compare_args *a,
			 struct snapstore_list *list, char **p1, char **p2,
			 struct errbuf *eb)
{
	int rc;

	if ((!a->path1 && !a->latest1) || (!a->path2 && !a->latest2)) {
		rc = snapstore_list(ss, list, eb);
		if (rc < 0)
			return rc;
	}
	rc = resolve(ctx, ss, a->path1, a->latest1, list, 1, p1, eb);
	if (rc < 0)
		return rc;
	return resolve(ctx, ss, a->path2, a->latest2, list, 0, p2, eb);
}

/* The comparison on stdout: the table's header (not with --json), a line
 * per name shown (on_diff), then the flush, whose failure fails the run
 * (an output cut short must not pass for a complete one). */
static int print_diff(struct compare_out *co, struct snapshot_reader *r1,
		      struct snapshot_reader *r2, struct errbuf *eb)
{
	struct entry_stream left = { snapshot_reader_stream_next, r1 };
	struct entry_stream right = { snapshot_reader_stream_next, r2 };
	int rc;

	if (!co->json)
		printf("%-10s  %-32s  %-32s  %12s  %12s  %s\n", "STATUS",
		       "MD5_LEFT", "MD5_RIGHT", "SIZE_LEFT", "SIZE_RIGHT",
		       "NAME");
	rc = diff_run(&left, &right, on_diff, co, eb);
	if (rc >= 0) {
		int out = cli_stdout_check(eb);

		if (out < 0)
			rc = out;
	}
	return rc;
}

int cmd_compare_snapshots(struct cli_ctx *ctx, int argc, char **argv)
{
	struct compare_args a = { .states = OPT_LIST_INIT };
	struct snapstore_list list = SNAPSTORE_LIST_INIT;
	struct snapstore *ss = NULL;
	struct snapshot_reader *r1 = NULL, *r2 = NULL;
	struct compare_out co = { 0 };
	struct errbuf eb = ERRBUF_INIT;
	char *p1 = NULL, *p2 = NULL;
	int rc;

	rc = parse_args(ctx, &a, argc, argv);
	if (rc < 0)
		rc = check_args(ctx, &a, &co);
	if (rc >= 0)
		goto out;
	co.json = ctx->g.json;
	co.interrupted = ctx->interrupted;
	/* two explicit paths need no SNAP_ROOT */
	rc = cli_prepare_run(ctx, a.path1 && a.path2 ? 0 : CLI_NEED_SNAP_ROOT,
			     CLI_PARALLEL_NONE, NULL);
	if (rc >= 0)
		goto out;
	/* without --snap-root the paths are local files */
	rc = snapstore_open(ctx->g.snap_root, ctx->eo.snap_storage_options,
			    &ctx->eo, &ss, &eb);
	if (rc < 0)
		goto fail;
	rc = resolve_sides(ctx, ss, &a, &list, &p1, &p2, &eb);
	if (rc < 0)
		goto fail;
	co.name_buf = malloc(NAME_OUT_MAX);
	if (!co.name_buf) {
		rc = errbuf_set(&eb, -ENOMEM, "out of memory");
		goto fail;
	}
	rc = snapstore_open_reader(ss, p1, &r1, &eb);
	if (rc < 0)
		goto fail;
	rc = snapstore_open_reader(ss, p2, &r2, &eb);
	if (rc < 0)
		goto fail;
	rc = print_diff(&co, r1, r2, &eb);
	if (rc < 0)
		goto fail;
	rc = cli_exit_code(ctx, 0);
	goto out;
fail:
	rc = cli_fail(ctx, &eb);
out:
	snapshot_reader_free(r2);
	snapshot_reader_free(r1);
	snapstore_free(ss);
	free(co.name_buf);
	free(p2);
	free(p1);
	snapstore_list_release(&list);
	opt_list_release(&a.states);
	return rc;
}
