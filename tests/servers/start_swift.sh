#!/usr/bin/env bash
# start_swift.sh [ENVFILE]: start OpenStack Swift with the s3api middleware
# (an S3 server that checks SigV4, x-amz-content-sha256 and Content-MD5),
# 1 replica on 1 device, account/container/object/proxy servers plus a
# memcached, all on 127.0.0.1 and free ports; data in its state directory.
# Prints export lines (also written to ENVFILE):
#   SNAP_SWIFT_ENDPOINT, SNAP_SWIFT_KEY, SNAP_SWIFT_SECRET, SNAP_SWIFT_STATE
# Stop with: stop.sh "$SNAP_SWIFT_STATE"
set -u
. "$(dirname "$0")/lib.sh"
command -v swift-proxy-server >/dev/null 2>&1 ||
	"$HERE/install.sh" swift >&2 || die "swift is not installed"
command -v swift-ring-builder >/dev/null 2>&1 || die "swift-ring-builder missing"
pport=$(free_port) || die "no free port"
STATE=$(new_state swift "$pport") || die "cannot create state directory"
unset SNAP_PORT
aport=$(free_port); cport=$(free_port); oport=$(free_port); mport=$(free_port)
etc=$STATE/etc
mkdir -p "$etc" "$STATE/node/d1" "$STATE/run"
user=$(id -un)

( cd "$etc" || exit 1
  for t in account:$aport container:$cport object:$oport; do
	n=${t%%:*}; p=${t##*:}
	swift-ring-builder "$n.builder" create 8 1 1 &&
	swift-ring-builder "$n.builder" add "r1z1-127.0.0.1:$p/d1" 100 &&
	swift-ring-builder "$n.builder" rebalance || exit 1
  done ) > "$STATE/rings.log" 2>&1 || { cat "$STATE/rings.log" >&2; die "ring setup failed"; }

for t in account:$aport container:$cport object:$oport; do
	n=${t%%:*}; p=${t##*:}
	{
		printf '[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = %s\n' "$p"
		printf 'workers = 0\nuser = %s\ndevices = %s\n' "$user" "$STATE/node"
		printf 'mount_check = false\nswift_dir = %s\nlog_level = WARNING\n' "$etc"
		printf '[pipeline:main]\npipeline = %s-server\n' "$n"
		printf '[app:%s-server]\nuse = egg:swift#%s\n' "$n" "$n"
		# an object PUT waits this long for its container listing
		# update; past it (1 s by default: one busy container server
		# process on a loaded machine) it still succeeds and leaves
		# the update to swift-object-updater, not run here: the
		# listing would miss the object for good
		[ "$n" = object ] && printf 'container_update_timeout = 30\n'
		printf '[%s-replicator]\n[%s-auditor]\n' "$n" "$n"
		[ "$n" = account ] || printf '[%s-updater]\n' "$n"
	} > "$etc/$n-server.conf"
done
{
	printf '[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = %s\n' "$pport"
	printf 'workers = 0\nuser = %s\nswift_dir = %s\nlog_level = WARNING\n' "$user" "$etc"
	printf '[pipeline:main]\npipeline = catch_errors gatekeeper proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server\n'
	printf '[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n'
	# longer than the object server's container_update_timeout (30 s,
	# above): else the proxy gives up on a PUT that is still waiting
	printf 'node_timeout = 35\n'
	# one node per ring, on a machine the test suite keeps busy: a
	# connection to a backend slower than the default 0.5 s counts as
	# that node's error, and after 10 the proxy answers every request
	# 503 for 60 s without trying it (error limiting, for clusters with
	# other nodes to go to). Seen in CI: a test's container creations
	# refused "ServiceUnavailable" for a minute.
	printf 'conn_timeout = 10\nerror_suppression_limit = 1000000\n'
	printf '[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = 127.0.0.1:%s\n' "$mport"
	printf '[filter:s3api]\nuse = egg:swift#s3api\nlocation = us-east-1\n'
	printf '[filter:tempauth]\nuse = egg:swift#tempauth\nuser_test_tester = testing .admin\n'
	printf '[filter:catch_errors]\nuse = egg:swift#catch_errors\n'
	printf '[filter:gatekeeper]\nuse = egg:swift#gatekeeper\n'
	printf '[filter:proxy-logging]\nuse = egg:swift#proxy_logging\n'
	printf '[filter:listing_formats]\nuse = egg:swift#listing_formats\n'
	printf '[filter:copy]\nuse = egg:swift#copy\n'
	printf '[filter:slo]\nuse = egg:swift#slo\n'
	printf '[filter:dlo]\nuse = egg:swift#dlo\n'
} > "$etc/proxy-server.conf"

start_bg() { # name cmd... : start in its own session, record the pid
	local name=$1
	shift
	setsid "$@" > "$STATE/$name.log" 2>&1 < /dev/null &
	echo $! > "$STATE/$name.pid"
}
if command -v memcached >/dev/null 2>&1; then
	start_bg memcached memcached -l 127.0.0.1 -p "$mport" -U 0 -u "$user" -m 64
fi
for n in account container object proxy; do
	start_bg "$n" "swift-$n-server" "$etc/$n-server.conf"
done
for t in account:$aport container:$cport object:$oport proxy:$pport; do
	n=${t%%:*}; p=${t##*:}
	if ! wait_port "$p" "$(cat "$STATE/$n.pid")" 120; then
		cat "$STATE/$n.log" >&2
		"$HERE/stop.sh" "$STATE"
		die "swift $n server did not start on 127.0.0.1:$p"
	fi
done
emit_env "${1:-}" "SNAP_SWIFT_ENDPOINT=http://127.0.0.1:$pport" \
	"SNAP_SWIFT_KEY=test:tester" "SNAP_SWIFT_SECRET=testing" \
	"SNAP_SWIFT_STATE=$STATE"
