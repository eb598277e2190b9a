#!/usr/bin/env bash
# start_s3rver.sh [ENVFILE]: start s3rver 3.7.1 (fake S3, no signature or
# Content-MD5 checks) on 127.0.0.1 and a free port (SNAP_PORT forces one),
# data on disk in its state directory (SNAP_S3RVER_DATA reuses one). Prints
# export lines (also written to ENVFILE):
#   SNAP_S3RVER_ENDPOINT, SNAP_S3RVER_KEY, SNAP_S3RVER_SECRET, SNAP_S3RVER_STATE
# Stop with: stop.sh "$SNAP_S3RVER_STATE"
set -u
. "$(dirname "$0")/lib.sh"
bin=$SNAP_SERVERS_DIR/s3rver/node_modules/.bin/s3rver
[ -x "$bin" ] || "$HERE/install.sh" s3rver >&2 || die "s3rver is not installed"
port=$(free_port) || die "no free port"
STATE=$(new_state s3rver "$port") || die "cannot create state directory"
data=${SNAP_S3RVER_DATA:-$STATE/data}
mkdir -p "$data"
# Node 20 + OpenSSL 3: the continuation token uses 'des' (legacy provider)
NODE_OPTIONS=--openssl-legacy-provider setsid "$bin" -d "$data" \
	-a 127.0.0.1 -p "$port" --silent > "$STATE/log" 2>&1 < /dev/null &
pid=$!
echo "$pid" > "$STATE/pid"
if ! wait_port "$port" "$pid" 60; then
	kill "$pid" 2>/dev/null
	cat "$STATE/log" >&2
	die "s3rver did not start on 127.0.0.1:$port"
fi
emit_env "${1:-}" "SNAP_S3RVER_ENDPOINT=http://127.0.0.1:$port" \
	"SNAP_S3RVER_KEY=S3RVER" "SNAP_S3RVER_SECRET=S3RVER" \
	"SNAP_S3RVER_STATE=$STATE"
