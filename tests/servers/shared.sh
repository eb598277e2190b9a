#!/usr/bin/env bash
# shared.sh start|stop DIR: one Swift, one Azurite and one s3rver shared by
# the tests of one ctest run (the ctest fixture "objstore_servers").
# start: starts the three side by side and writes DIR/NAME.env (the
# export lines of start_NAME.sh) for each one that came up; the tests find
# them through SNAP_SHARED_SERVERS=DIR (e2e/lib.sh start_server,
# server_env.h server_ensure) and fall back to a server of their own when a
# file is missing. Fails only when SNAP_REQUIRE_SERVERS=1 and one could not
# start (CI), so a machine without servers still skips as before.
# stop: stops what start started and removes the env files.
# Why: every test starting its own Swift cost ~20 s of CPU each, ~14 times
# per suite, on a machine whose two cores the suite keeps busy.
# Tests that stop, pause or reconfigure a server (test_net_failures, the
# s3rver restarts of test_remote and test_net_retry) keep their own.
set -u
. "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || die "usage: shared.sh start|stop DIR"
dir=$2
names="swift azurite s3rver"

stop_all() {
	local n state
	for n in $names; do
		[ -f "$dir/$n.env" ] || continue
		state=$(sed -n "s/^export SNAP_${n^^}_STATE=['\"]\{0,1\}\([^'\"]*\).*$/\1/p" "$dir/$n.env")
		rm -f "$dir/$n.env"
		[ -n "$state" ] && bash "$HERE/stop.sh" "$state" >/dev/null 2>&1
	done
	return 0
}

case $1 in
start)
	mkdir -p "$dir" || die "cannot create $dir"
	stop_all   # a previous run's servers, if it was interrupted
	pids=()
	for n in $names; do
		( bash "$HERE/start_$n.sh" "$dir/$n.env.part" \
			>"$dir/$n.log" 2>&1 &&
		  mv "$dir/$n.env.part" "$dir/$n.env" ) &
		pids+=($!)
	done
	failed=
	i=0
	for n in $names; do
		wait "${pids[$i]}" || failed="$failed $n"
		i=$((i + 1))
	done
	rm -f "$dir"/*.env.part
	for n in $names; do
		[ -f "$dir/$n.env" ] && echo "shared $n: $(grep -m1 -E 'ENDPOINT=' "$dir/$n.env")"
	done
	if [ -n "$failed" ]; then
		for n in $failed; do
			echo "cannot start $n: $(tail -n 3 "$dir/$n.log")" >&2
		done
		[ "${SNAP_REQUIRE_SERVERS:-0}" = 1 ] && exit 1
	fi
	exit 0 ;;
stop)
	stop_all ;;
*)
	die "usage: shared.sh start|stop DIR" ;;
esac
