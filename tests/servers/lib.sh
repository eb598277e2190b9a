# lib.sh: helpers shared by the start_*.sh scripts (sourced, not run).
# Every server listens on 127.0.0.1 only; each instance gets a state
# directory under $SNAP_SERVERS_RUN holding its data, log, pid files and
# env file, so stop.sh can find and end exactly what was started.
SNAP_SERVERS_DIR=${SNAP_SERVERS_DIR:-/var/tmp/snapshooter-servers}
SNAP_SERVERS_RUN=${SNAP_SERVERS_RUN:-/tmp/snapshooter-servers-run}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

port_busy() { # port -> 0 when something accepts connections there
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port: print a port in 20000-32767 that nobody listens on (SNAP_PORT
# forces one, e.g. to restart a server on the port it had). Below the
# kernel's ephemeral range (32768-60999 by default): there a client
# connection of a test running alongside may take the port between this
# check and the server's bind.
free_port() {
	local p i
	if [ -n "${SNAP_PORT:-}" ]; then
		echo "$SNAP_PORT"
		return 0
	fi
	for i in $(seq 1 200); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12768))
		port_busy "$p" || { echo "$p"; return 0; }
	done
	return 1
}

# wait_port port pid seconds: wait until the port accepts connections;
# fail early when the process died
wait_port() {
	local port=$1 pid=$2 secs=$3 i
	for i in $(seq 1 $((secs * 10))); do
		port_busy "$port" && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# new_state name port: make and print the instance directory
new_state() {
	local d="$SNAP_SERVERS_RUN/$1-$2"
	mkdir -p "$d" || return 1
	echo "$d"
}

# emit_env envfile lines...: print export lines, and write them to the env
# file when one was given
emit_env() {
	local envfile=$1 l
	shift
	for l in "$@"; do
		printf 'export %s\n' "$l"
	done > "$STATE/env"
	cat "$STATE/env"
	if [ -n "$envfile" ]; then
		cp "$STATE/env" "$envfile" || return 1
	fi
}
