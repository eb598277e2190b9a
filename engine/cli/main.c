/* main: the snapshooter executable: global options (before the command,
 * each with an environment variable, as in the Python tool), the
 * commands[] table, signal handling and exit codes. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "compiler.h"
#include "objstore.h"
#include "banned.h"

#ifndef SNAP_VERSION
#define SNAP_VERSION "0.1.0"
#endif

static const struct cli_command commands[] = {
	{ "make-snapshot", cmd_make_snapshot,
	  "Back up FILE_ROOT: heap + a new snapshot." },
	{ "restore-snapshot", cmd_restore_snapshot,
	  "Make FILE_ROOT match a snapshot (default: latest)." },
	{ "list-snapshots", cmd_list_snapshots,
	  "List the snapshots of SNAP_ROOT, newest first." },
	{ "compare-snapshots", cmd_compare_snapshots,
	  "Show the differences between two snapshots." },
	{ "sync", cmd_sync,
	  "Mirror directory SRC into DST (no heap)." },
	{ "convert-snapshots", cmd_convert_snapshots,
	  "Convert the Python tool's snapshots to this tool's format." },
	{ "verify", cmd_verify,
	  "Check (and repair) the snapshots and heap objects." },
	{ "forget", cmd_forget,
	  "Remove the snapshots a retention policy does not keep." },
	{ "gc", cmd_gc,
	  "Delete heap objects no snapshot references." },
};

static const char *const loglevels[] = { "CRITICAL", "ERROR", "WARNING",
					 "INFO", "DEBUG", "NONE", NULL };
static const char *const io_modes[] = { "auto", "sync", "uring", NULL };
static const char *const md5_impls[] = { "auto", "avx512", "avx2", "openssl",
					 NULL };
static const char *const heap_formats[] = { "auto", "raw", "gz", NULL };
static const char *const snapshot_formats[] = { "auto", "msgpack", "jsonl.gz",
						NULL };

/* The signal handler's only channel: a signal handler cannot reach a
 * context, so this one flag is the program's single mutable global. The
 * engine polls it through engine_opts.interrupted. */
static volatile sig_atomic_t interrupted_flag;

static void on_signal(int sig)
{
	(void)sig;
	interrupted_flag = 1;
}

static int install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* a second Ctrl-C kills at once; restart interrupted system calls so
	 * workers see the flag, not EINTR */
	sa.sa_flags = SA_RESETHAND | SA_RESTART;
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
		return -errno;
	return 0;
}

static void print_main_help(FILE *out, const struct opt_spec *specs)
{
	size_t i;

	fprintf(out,
		"usage: %s [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n\n"
		"Back up a directory tree into a content-addressed heap "
		"(HEAP_ROOT) plus\nsnapshot files listing the tree "
		"(SNAP_ROOT), restore it, compare snapshots,\nor mirror one "
		"directory to another. Command line compatible with the "
		"Python\nsnapshooter: global options come before the command "
		"and each has an\nenvironment variable.\n\nCommands:\n",
		CLI_PROG);
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-20s%s\n", commands[i].name,
			commands[i].summary);
	fprintf(out, "  %-20s%s\n", "help COMMAND",
		"Show the options of COMMAND.");
	fprintf(out, "\nGlobal options:\n");
	options_print_help(out, specs);
	fprintf(out,
		"\nWorkers: --jobs sets the hash/copy workers and --transfers "
		"the in-flight\nnetwork requests. When they are not given, "
		"--parallel-copy-to-heap N\n(make-snapshot) or "
		"--parallel-copy-to-file N (restore-snapshot, sync) sets\n"
		"jobs = min(N, 4 x CPU cores) and transfers = min(N, 256); "
		"--parallel-listing N\nsets the directory listing threads "
		"(at most 64). --parallel-delete-in-file is\naccepted for "
		"compatibility and has no effect: deletions run after the "
		"copies,\nat --transfers in flight. Where the workers wait "
		"on an object store\n(make-snapshot of a tree in a store, "
		"restore with its heap or tree in one,\nsync with a side in "
		"one, verify --read-data of a heap in one) there are at\n"
		"least --transfers of them. CPU cores: those the process may "
		"run on (taskset,\ncpusets).\n"
		"\nObject stores: s3:// settings come from the storage options (s3fs names:\n"
		"key, secret, token, endpoint_url, region, profile, anon, client_kwargs,\n"
		"config_kwargs), then AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL,\n"
		"AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION,\n"
		"AWS_DEFAULT_REGION, then the profile (AWS_PROFILE, AWS_DEFAULT_PROFILE,\n"
		"default) of ~/.aws/credentials and ~/.aws/config\n"
		"(AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE). az:// settings come from\n"
		"the options (adlfs names: connection_string, account_name, account_key,\n"
		"sas_token, account_host, anon), then AZURE_STORAGE_CONNECTION_STRING,\n"
		"AZURE_STORAGE_ACCOUNT_NAME or AZURE_STORAGE_ACCOUNT,\n"
		"AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN.\n"
		"Options snapshooter does not use are ignored with a warning. README.md,\n"
		"\"Object storage\", has the details.\n"
		"\nOutput: primary results go to stdout (the snapshot path, "
		"the list, the\ncomparison); log lines, progress and the "
		"--json summary go to stderr.\nLog lines are \"HH:MM:SS LEVEL"
		"    snapshooter - message\" from INFO up by\ndefault, "
		"as the Python tool (--loglevel).\n"
		"\nExit status:\n"
		"  0    success\n"
		"  1    failure (\"%s: error: ...\" on stderr)\n"
		"  2    usage error (unknown option, bad value, malformed "
		"storage-options JSON,\n       missing root)\n"
		"  130  interrupted by SIGINT or SIGTERM (the run stopped "
		"cleanly)\n"
		"\nSee '%s COMMAND --help' for the options of a command.\n",
		CLI_PROG, CLI_PROG);
}

/* --version: the version, then the MD5 kernels this CPU has. */
static int print_version(const struct cli_ctx *ctx)
{
	enum md5_impl md5 = MD5_IMPL_AUTO;

	/* line 1 is the version alone (packaging checks it) */
	printf("%s %s\n", CLI_PROG, SNAP_VERSION);
	engine_md5_resolve(md5, &md5, NULL);
	printf("md5: %s (--md5 auto on this CPU; available:%s%s "
	       "openssl)\n", engine_md5_name(md5),
	       engine_md5_resolve(MD5_IMPL_AVX512, &md5,
				  NULL) ? "" : " avx512",
	       engine_md5_resolve(MD5_IMPL_AVX2, &md5,
				  NULL) ? "" : " avx2");
	return cli_flush_stdout(ctx) ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

/* The row of commands[] called name, or NULL. */
static const struct cli_command *find_command(const char *name)
{
	const struct cli_command *cmd = NULL;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(name, commands[i].name))
			cmd = &commands[i];
	return cmd;
}

/* Run cmd on its words (argv[0] its name), with the signal handlers in
 * place and a network stage. */
static int run_command(struct cli_ctx *ctx, const struct cli_command *cmd,
		       int npos, char **argv)
{
	int rc;

	if (install_signals() < 0) {
		fprintf(stderr, "%s: error: cannot install signal "
			"handlers: %s\n", CLI_PROG, strerror(errno));
		return CLI_EXIT_FAILURE;
	}
	/* one network stage for every store the command opens;
	 * it starts no thread unless one is opened */
	if (objstore_stage_new(&ctx->eo.net) < 0) {
		fprintf(stderr, "%s: error: out of memory\n", CLI_PROG);
		return CLI_EXIT_FAILURE;
	}
	rc = cmd->run(ctx, npos, argv);
	objstore_stage_free(ctx->eo.net);
	ctx->eo.net = NULL;
	return rc;
}

/* Parse the global options (argv[1..], up to the command) against specs
 * and run what they ask for: the help, the version, or the command. */
static int dispatch(struct cli_ctx *ctx, const struct opt_spec *specs,
		    int argc, char **argv)
{
	struct errbuf eb = ERRBUF_INIT;
	const struct cli_command *cmd;
	int npos, rc;

	rc = options_parse(specs, argc - 1, argv + 1, OPT_STOP_AT_NONOPT, &eb);
	if (rc == OPT_PARSE_HELP) {
		print_main_help(stdout, specs);
		return cli_flush_stdout(ctx) ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
	}
	if (rc < 0)
		return cli_usage_error(ctx, "%s", eb.msg);
	npos = rc;
	if (ctx->g.version)
		return print_version(ctx);
	if (npos == 0) {
		print_main_help(stderr, specs);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "help")) {
		if (npos < 2) {
			print_main_help(stdout, specs);
			return cli_flush_stdout(ctx) ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
		}
		/* "help CMD" runs "CMD --help" */
		argv[1] = argv[2];
		argv[2] = (char *)"--help";
		npos = 2;
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return cli_usage_error(ctx, "unknown command '%s'", argv[1]);
	ctx->command = cmd->name;
	ctx->global_specs = specs;
	return run_command(ctx, cmd, npos, argv + 1);
}

/* The global options, one row each in --help order, and then the rest of
 * the run. This function stays long: it is that one table, which split
 * over functions would no longer read as the --help it generates. The
 * table points into ctx->g, so it cannot be a static const; it lives in
 * this frame because the command, run from below, looks at it
 * (ctx->global_specs) for its "put it before the command" hints. */
static int run_with_globals(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_globals *g = &ctx->g;
	const struct opt_spec specs[] = {
		{ .kind = OPT_STRING, .name = "file-root",
		  .value = &g->file_root, .metavar = "PATH",
		  .env = "FILE_ROOT",
		  .help = "The directory under consideration: backed "
			  "up by make-snapshot, written by "
			  "restore-snapshot." },
		{ .kind = OPT_STRING, .name = "file-storage-options",
		  .value = &g->file_storage_options, .metavar = "JSON",
		  .env = "FILE_STORAGE_OPTIONS",
		  .help = "Storage options of FILE_ROOT (object "
			  "stores), a JSON object." },
		{ .kind = OPT_STRING, .name = "heap-root",
		  .value = &g->heap_root, .metavar = "PATH",
		  .env = "HEAP_ROOT",
		  .help = "The directory holding the heap (file "
			  "contents named by their MD5)." },
		{ .kind = OPT_STRING, .name = "heap-storage-options",
		  .value = &g->heap_storage_options, .metavar = "JSON",
		  .env = "HEAP_STORAGE_OPTIONS",
		  .help = "Storage options of HEAP_ROOT, a JSON "
			  "object." },
		{ .kind = OPT_STRING, .name = "snap-root",
		  .value = &g->snap_root, .metavar = "PATH",
		  .env = "SNAP_ROOT",
		  .help = "The directory holding the snapshot files." },
		{ .kind = OPT_STRING, .name = "snap-storage-options",
		  .value = &g->snap_storage_options, .metavar = "JSON",
		  .env = "SNAP_STORAGE_OPTIONS",
		  .help = "Storage options of SNAP_ROOT, a JSON "
			  "object." },
		{ .kind = OPT_STRING, .name = "heap-cache-file",
		  .value = &g->heap_cache_file, .metavar = "PATH",
		  .env = "HEAP_CACHE_FILE",
		  .help = "Local cache of the heap's content list "
			  "(saves listing a remote heap)." },
		{ .kind = OPT_CHOICE, .name = "heap-format",
		  .value = &g->heap_format, .choices = heap_formats,
		  .metavar = "FORMAT", .env = "HEAP_FORMAT",
		  .def = "auto",
		  .help = "How make-snapshot stores new heap objects: "
			  "raw (<md5>, the content as is), gz "
			  "(<md5>.gz, gzip: the Python tool's "
			  "format), or auto: gz when the heap "
			  "already holds .gz objects, else raw. "
			  "Both forms are always read." },
		{ .kind = OPT_CHOICE, .name = "loglevel",
		  .value = &g->loglevel, .choices = loglevels,
		  .metavar = "LEVEL", .env = "LOGLEVEL",
		  .def = "INFO",
		  .help = "Log messages on stderr from this level "
			  "up, as lines \"HH:MM:SS LEVEL snapshooter - "
			  "message\". NONE: no log lines; errors "
			  "still end with \"snapshooter: error: ...\"." },
		{ .kind = OPT_UINT, .name = "parallel-copy-to-heap",
		  .value = &g->parallel_copy_to_heap,
		  .seen = &g->has_parallel_copy_to_heap,
		  .env = "PARALLEL_COPY_TO_HEAP",
		  .help = "Parallel copies into the heap "
			  "(make-snapshot); see Workers below." },
		{ .kind = OPT_UINT, .name = "parallel-copy-to-file",
		  .value = &g->parallel_copy_to_file,
		  .seen = &g->has_parallel_copy_to_file,
		  .env = "PARALLEL_COPY_TO_FILE",
		  .help = "Parallel copies into FILE_ROOT "
			  "(restore-snapshot, sync)." },
		{ .kind = OPT_UINT, .name = "parallel-delete-in-file",
		  .value = &g->parallel_delete_in_file,
		  .seen = &g->has_parallel_delete_in_file,
		  .env = "PARALLEL_DELETE_IN_FILE",
		  .help = "Accepted for compatibility; no effect." },
		{ .kind = OPT_UINT, .name = "parallel-listing",
		  .value = &g->parallel_listing,
		  .seen = &g->has_parallel_listing,
		  .env = "PARALLEL_LISTING",
		  .help = "Directory listing threads." },
		{ .kind = OPT_UINT, .name = "parallel-heap-listing",
		  .value = &g->parallel_heap_listing,
		  .seen = &g->has_parallel_heap_listing,
		  .env = "PARALLEL_HEAP_LISTING",
		  .help = "Threads listing an object-store heap "
			  "(s3://, az://) at start, at most 16 "
			  "(default: --transfers). A local heap is "
			  "not listed: objects are looked up one by "
			  "one." },
		{ .kind = OPT_UINT, .name = "jobs", .short_name = 'j',
		  .value = &g->jobs, .seen = &g->has_jobs,
		  .def = "2 x CPU cores",
		  .help = "Hash/copy worker threads." },
		{ .kind = OPT_CHOICE, .name = "io", .value = &g->io,
		  .choices = io_modes, .metavar = "MODE",
		  .def = "auto",
		  .help = "File I/O: io_uring, plain system calls, or "
			  "io_uring when the kernel allows it." },
		{ .kind = OPT_CHOICE, .name = "md5", .value = &g->md5,
		  .choices = md5_impls, .metavar = "IMPL",
		  .env = "SNAPSHOOTER_MD5", .def = "auto",
		  .help = "How file contents are MD5-hashed: avx512 "
			  "or avx2 hash many files side by side in "
			  "the lanes of vector registers (several "
			  "times faster per core), openssl one file "
			  "at a time; auto: the widest this CPU has "
			  "(openssl without AVX2). Digests are the "
			  "same; a kernel the CPU lacks is a usage "
			  "error. --version and the --json summary "
			  "name the one used." },
		{ .kind = OPT_CHOICE, .name = "snapshot-format",
		  .value = &g->snapshot_format,
		  .choices = snapshot_formats, .metavar = "FORMAT",
		  .env = "SNAPSHOT_FORMAT", .def = "auto",
		  .help = "Format of the snapshots written "
			  "(make-snapshot, restore-snapshot's "
			  "before/after snapshots): msgpack (this "
			  "tool's), jsonl.gz (the Python tool's: "
			  "files only), or auto: the format of the "
			  "latest snapshot in SNAP_ROOT, msgpack when "
			  "there is none." },
		{ .kind = OPT_UINT, .name = "transfers",
		  .value = &g->transfers, .seen = &g->has_transfers,
		  .def = "16",
		  .help = "Network requests in flight (object "
			  "stores), shared by the whole run: also "
			  "the parts of an upload and the ranges of "
			  "a download over 64 MiB." },
		{ .kind = OPT_UINT, .name = "retries",
		  .value = &g->retries, .seen = &g->has_retries,
		  .def = "5",
		  .help = "Retries of a failed network request "
			  "(object stores), after a backoff from "
			  "0.2 s doubling each time; a request that "
			  "timed out is tried twice at most." },
		{ .kind = OPT_UINT, .name = "connect-timeout",
		  .value = &g->connect_timeout,
		  .seen = &g->has_connect_timeout, .metavar = "SECS",
		  .env = "SNAPSHOOTER_CONNECT_TIMEOUT", .def = "10",
		  .help = "Seconds to connect to an object store "
			  "before a request fails." },
		{ .kind = OPT_UINT, .name = "io-timeout",
		  .value = &g->io_timeout, .seen = &g->has_io_timeout,
		  .metavar = "SECS", .env = "SNAPSHOOTER_IO_TIMEOUT",
		  .def = "20",
		  .help = "Seconds an object-store request may go "
			  "without any progress (no answer, a stalled "
			  "transfer) before it fails with \"timed out "
			  "after SECS s\". With the defaults a store "
			  "that accepts connections but never answers "
			  "fails the run in about 40 s." },
		{ .kind = OPT_FLAG, .name = "fsync",
		  .value = &g->fsync,
		  .help = "restore-snapshot and sync: make every file "
			  "written durable (one syncfs at the end) "
			  "before reporting success. Off by default, "
			  "like cp and rsync; heap objects and "
			  "snapshots are always made durable." },
		{ .kind = OPT_FLAG, .name = "no-progress",
		  .value = &g->no_progress,
		  .help = "No progress line (it is shown only when "
			  "stderr is a terminal)." },
		{ .kind = OPT_FLAG, .name = "json", .value = &g->json,
		  .help = "Machine-readable output: a JSON summary "
			  "on stderr at the end of make-snapshot, "
			  "restore-snapshot and sync; JSON lines on "
			  "stdout for list-snapshots and "
			  "compare-snapshots." },
		{ .kind = OPT_STRING, .name = "json-file",
		  .value = &g->json_file, .metavar = "PATH",
		  .help = "Write the JSON summary to PATH instead of "
			  "stderr." },
		{ .kind = OPT_FLAG, .name = "version",
		  .value = &g->version,
		  .help = "Print the version and exit." },
		CLI_HELP_OPT,
		{ .kind = OPT_END },
	};

	return dispatch(ctx, specs, argc, argv);
}

int main(int argc, char **argv)
{
	struct cli_ctx ctx;

	memset(&ctx, 0, sizeof(ctx));
	engine_opts_defaults(&ctx.eo);
	ctx.ncores = engine_usable_cpus();
	ctx.interrupted = &interrupted_flag;
	return run_with_globals(&ctx, argc, argv);
}
