/* runlim: the timer of bench/run.sh. Runs one command, waits for it and
 * reports its wall time (CLOCK_MONOTONIC), CPU time and peak RSS.
 *
 *   runlim [-o FILE] [-q] -- CMD [ARG...]
 *
 * The report is one line "wall_s W maxrss_kib K user_s U sys_s S status X",
 * appended to FILE (default stderr). The peak RSS is ru_maxrss of
 * RUSAGE_CHILDREN: the largest single process of the command's tree among
 * those that were waited for (the kernel keeps a maximum, not a sum).
 * Exit status: the command's, 128 + signal when killed, 127 when it could
 * not be started. With -q the command's stdout and stderr go to /dev/null.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

static double tv_seconds(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static void usage(void)
{
	fprintf(stderr, "usage: runlim [-o FILE] [-q] -- CMD [ARG...]\n");
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	const char *out_path = NULL;
	FILE *out = stderr;
	int quiet = 0, i, status, code, fd;
	pid_t pid, w;
	double wall;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			out_path = argv[++i];
		} else if (!strcmp(argv[i], "-q")) {
			quiet = 1;
		} else {
			break;
		}
	}
	if (i >= argc || argv[i][0] == '-') {
		usage();
		return 2;
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "runlim: cannot fork: %s\n", strerror(errno));
		return 127;
	}
	if (pid == 0) {
		if (quiet) {
			fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
			if (fd >= 0) {
				dup2(fd, STDOUT_FILENO);
				dup2(fd, STDERR_FILENO);
			}
		}
		execvp(argv[i], &argv[i]);
		fprintf(stderr, "runlim: cannot run '%s': %s\n", argv[i],
			strerror(errno));
		_exit(127);
	}
	do {
		w = waitpid(pid, &status, 0);
	} while (w < 0 && errno == EINTR);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (w < 0) {
		fprintf(stderr, "runlim: cannot wait: %s\n", strerror(errno));
		return 127;
	}
	wall = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (WIFEXITED(status))
		code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		code = 128 + WTERMSIG(status);
	else
		code = 127;
	memset(&ru, 0, sizeof(ru));
	getrusage(RUSAGE_CHILDREN, &ru);

	if (out_path) {
		out = fopen(out_path, "a");
		if (!out) {
			fprintf(stderr, "runlim: cannot open '%s': %s\n",
				out_path, strerror(errno));
			out = stderr;
		}
	}
	fprintf(out, "wall_s %.6f maxrss_kib %ld user_s %.3f sys_s %.3f status %d\n",
		wall, ru.ru_maxrss, tv_seconds(&ru.ru_utime),
		tv_seconds(&ru.ru_stime), code);
	if (out != stderr)
		fclose(out);
	return code;
}
