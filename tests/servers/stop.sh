#!/usr/bin/env bash
# stop.sh STATE_DIR...: stop the server instances started by start_*.sh
# (their state directories: $SNAP_*_STATE), then remove the directories.
# "stop.sh all" stops every instance under $SNAP_SERVERS_RUN.
set -u
. "$(dirname "$0")/lib.sh"
stop_one() {
	local d=$1 f pid i
	[ -d "$d" ] || return 0
	for f in "$d"/pid "$d"/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		[ -n "$pid" ] || continue
		# each server was started with setsid: end its process group
		kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null
		for i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null
	done
	case $d in
	"$SNAP_SERVERS_RUN"/*) rm -rf "$d" ;;
	esac
}
[ $# -ge 1 ] || die "usage: stop.sh STATE_DIR... | all"
if [ "$1" = all ]; then
	for d in "$SNAP_SERVERS_RUN"/*/; do
		[ -d "$d" ] && stop_one "${d%/}"
	done
	exit 0
fi
for d in "$@"; do
	stop_one "$d"
done
