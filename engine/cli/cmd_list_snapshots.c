/* list-snapshots: the snapshot files of SNAP_ROOT, one full path per line,
 * newest first by default. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "jsonw.h"
#include "snapstore.h"
#include "banned.h"

static const char *const orders[] = { "desc", "asc", NULL };

/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" of a UTC time in ns */
static void format_utc(int64_t ns, char *out, size_t cap)
{
	time_t sec = (time_t)(ns / 1000000000);
	long us = (long)((ns % 1000000000) / 1000);
	struct tm tm;

	if (us < 0) {
		us += 1000000;
		sec--;
	}
	if (!gmtime_r(&sec, &tm)) {
		snprintf(out, cap, "?");
		return;
	}
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, us);
}

/* Python's slice bound: negative counts from the end, clamped to 0..n */
static size_t slice_bound(int64_t v, size_t n)
{
	if (v < 0) {
		v += (int64_t)n;
		return v < 0 ? 0 : (size_t)v;
	}
	return (uint64_t)v > n ? n : (size_t)v;
}

/* a + b without overflow (saturates) */
static int64_t add_sat(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return a > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

int cmd_list_snapshots(struct cli_ctx *ctx, int argc, char **argv)
{
	struct snapstore_list list = SNAPSTORE_LIST_INIT;
	struct snapstore *ss = NULL;
	struct errbuf eb = ERRBUF_INIT;
	int64_t limit = 10, offset = 0;
	const char *order = "desc";
	int npos = 0, rc;
	size_t i, start, stop, shown;
	const struct opt_spec specs[] = {
		{ .kind = OPT_I64, .name = "limit", .value = &limit,
		  .def = "10", .help = "Show at most N snapshots (0: none)." },
		{ .kind = OPT_I64, .name = "offset", .value = &offset,
		  .def = "0", .help = "Skip the first N snapshots (in the "
		  "chosen order)." },
		{ .kind = OPT_CHOICE, .name = "order", .value = &order,
		  .choices = orders, .metavar = "ORDER", .def = "desc",
		  .help = "desc: newest first; asc: oldest first." },
		CLI_JSON_OPTS(ctx),
		CLI_HELP_OPT,
		{ .kind = OPT_END },
	};

	rc = cli_parse(ctx, specs, "list-snapshots [OPTIONS]",
		       "Print the snapshot files of SNAP_ROOT, one full path "
		       "per line (the paths\nrestore-snapshot --path and "
		       "compare-snapshots --path1/--path2 take).\nWith "
		       "--json, one object per line instead: {\"path\": ..., "
		       "\"time\":\n\"YYYY-MM-DDTHH:MM:SS.ffffffZ\", \"time_ns\": "
		       "...}.\nNeeds --snap-root (or SNAP_ROOT).\n\n"
		       "--offset and --limit select like the Python tool, "
		       "which takes the Python\nslice [offset:offset+limit] "
		       "of the ordered list: --limit 0 prints nothing,\n"
		       "negative values count from the end, and a last line "
		       "\"...\" follows when\noffset + limit < the number "
		       "of paths printed (only with negative values;\n"
		       "never with --json).",
		       argc, argv, &npos, 0);
	if (rc >= 0)
		return rc;
	rc = cli_prepare_run(ctx, CLI_NEED_SNAP_ROOT, CLI_PARALLEL_NONE, NULL);
	if (rc >= 0)
		return rc;
	rc = snapstore_open(ctx->g.snap_root, ctx->eo.snap_storage_options,
			    &ctx->eo, &ss, &eb);
	if (rc >= 0)
		rc = snapstore_list(ss, &list, &eb);
	if (rc < 0) {
		snapstore_free(ss);
		return cli_fail(ctx, &eb);
	}
	start = slice_bound(offset, list.n);
	stop = slice_bound(add_sat(offset, limit), list.n);
	for (i = start; i < stop; i++) {
		const struct snapstore_item *it = !strcmp(order, "asc") ?
			&list.items[i] : &list.items[list.n - 1 - i];
		char *path = snapstore_path(ss, it->relpath);
		char when[64];

		if (!path) {
			errbuf_set(&eb, -ENOMEM, "out of memory");
			rc = cli_fail(ctx, &eb);
			goto out;
		}
		if (ctx->g.json) {
			format_utc(it->time_ns, when, sizeof(when));
			fputs("{\"path\":", stdout);
			jsonw_string(stdout, path, strlen(path));
			printf(",\"time\":\"%s\",\"time_ns\":%lld}\n", when,
			       (long long)it->time_ns);
		} else {
			printf("%s\n", path);
		}
		free(path);
	}
	/* the Python tool's rule, kept as it is for scripts that parse
	 * this output */
	shown = stop > start ? stop - start : 0;
	if (!ctx->g.json && add_sat(offset, limit) < (int64_t)shown)
		printf("...\n");
	rc = cli_flush_stdout(ctx) ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
out:
	snapstore_list_release(&list);
	snapstore_free(ss);
	return rc;
}
