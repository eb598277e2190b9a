/* server_env.h: for the net unit tests: make sure a real object-storage
 * server runs. When the server's variable (e.g. SNAP_S3RVER_ENDPOINT) is
 * already set (a fixture or a developer started one), use it. Otherwise
 * use the ctest run's shared one (SNAP_SHARED_SERVERS, below), or start
 * one through tests/servers/start_<name>.sh on a free port and stop it at
 * exit. When that fails the test is skipped (77), unless
 * SNAP_REQUIRE_SERVERS is set (CI): then it fails. */
#ifndef SNAP_SERVER_ENV_H
#define SNAP_SERVER_ENV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SERVER_MAX 8

static char server_states[SERVER_MAX][512];
static int server_n;

static void server_dir(char *out, size_t cap)
{
	const char *f = __FILE__;   /* .../tests/servers/server_env.h */
	const char *slash = strrchr(f, '/');
	size_t n = slash ? (size_t)(slash - f) : 0;

	if (!slash)
		snprintf(out, cap, "tests/servers");
	else
		snprintf(out, cap, "%.*s", (int)n, f);
}

static void server_stop_all(void)
{
	char dir[512], cmd[8192];
	int i;

	server_dir(dir, sizeof(dir));
	for (i = 0; i < server_n; i++) {
		snprintf(cmd, sizeof(cmd), "bash '%s/stop.sh' '%s'", dir,
			 server_states[i]);
		if (system(cmd) != 0)
			fprintf(stderr, "warning: %s failed\n", cmd);
	}
	server_n = 0;
}

/* Load "export K=V" / "export K='V'" lines into the environment; returns
 * the value of state_var (static) or NULL. */
static const char *server_load_env(const char *path, const char *state_var)
{
	static char state[512];
	char line[1024], *k, *v, *eq;
	FILE *f = fopen(path, "r");
	size_t n;

	state[0] = '\0';
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		n = strlen(line);
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		k = line;
		if (!strncmp(k, "export ", 7))
			k += 7;
		eq = strchr(k, '=');
		if (!eq)
			continue;
		*eq = '\0';
		v = eq + 1;
		n = strlen(v);
		if (n >= 2 && v[0] == '\'' && v[n - 1] == '\'') {
			v[n - 1] = '\0';
			v++;
		}
		setenv(k, v, 1);
		if (!strcmp(k, state_var))
			snprintf(state, sizeof(state), "%s", v);
	}
	fclose(f);
	return state[0] ? state : NULL;
}

/* The ctest run's shared server `name` (tests/servers/shared.sh writes
 * $SNAP_SHARED_SERVERS/<name>.env): load its variables; it is not ours to
 * stop. Returns 1 when there is one. */
static int server_use_shared(const char *name, const char *state_var)
{
	const char *dir = getenv("SNAP_SHARED_SERVERS");
	char path[1024];

	if (!dir || !*dir)
		return 0;
	snprintf(path, sizeof(path), "%s/%s.env", dir, name);
	if (access(path, R_OK) != 0)
		return 0;
	return server_load_env(path, state_var) != NULL;
}

/* Start server `name` (s3rver, azurite, swift) unless env_var is set.
 * Exits 77 or 1 when it cannot run. extra_env: "VAR=value " prefix for
 * the script or "". Returns 1 when started here (stopped at exit). */
static int server_ensure(const char *name, const char *env_var,
			 const char *state_var, const char *extra_env)
{
	char dir[512], envfile[] = "/tmp/snap-net-env-XXXXXX", cmd[2048];
	const char *state;
	int fd, rc;

	if (getenv(env_var) && *getenv(env_var))
		return 0;
	if (!*extra_env && server_use_shared(name, state_var))
		return 0;
	server_dir(dir, sizeof(dir));
	fd = mkstemp(envfile);
	if (fd < 0) {
		perror("mkstemp");
		exit(1);
	}
	close(fd);
	snprintf(cmd, sizeof(cmd), "%s bash '%s/start_%s.sh' '%s' >/dev/null",
		 extra_env, dir, name, envfile);
	rc = system(cmd);
	state = rc == 0 ? server_load_env(envfile, state_var) : NULL;
	unlink(envfile);
	if (!state || !getenv(env_var)) {
		if (getenv("SNAP_REQUIRE_SERVERS")) {
			fprintf(stderr, "FAIL: cannot start %s and "
				"SNAP_REQUIRE_SERVERS is set\n", name);
			exit(1);
		}
		fprintf(stderr, "SKIP: cannot start %s\n", name);
		exit(77);
	}
	if (server_n == 0)
		atexit(server_stop_all);
	if (server_n < SERVER_MAX)
		snprintf(server_states[server_n++], sizeof(server_states[0]),
			 "%s", state);
	return 1;
}

#endif
