#!/usr/bin/env bash
# start_azurite.sh [ENVFILE]: start Azurite 3.37.0 (Azure Blob emulator,
# checks SharedKey/SAS and Content-MD5) on 127.0.0.1 and a free port, in
# memory, telemetry off. Prints export lines (also written to ENVFILE):
#   SNAP_AZURITE_CONNECTION_STRING, SNAP_AZURITE_ENDPOINT,
#   SNAP_AZURITE_ACCOUNT, SNAP_AZURITE_KEY, SNAP_AZURITE_STATE
# Stop with: stop.sh "$SNAP_AZURITE_STATE"
set -u
. "$(dirname "$0")/lib.sh"
bin=$SNAP_SERVERS_DIR/azurite/node_modules/.bin/azurite-blob
[ -x "$bin" ] || "$HERE/install.sh" azurite >&2 || die "azurite is not installed"
port=$(free_port) || die "no free port"
STATE=$(new_state azurite "$port") || die "cannot create state directory"
# the well-known development account (public, documented by Microsoft)
acct=devstoreaccount1
key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
cd "$STATE" || die "cannot enter $STATE"
setsid "$bin" --blobHost 127.0.0.1 --blobPort "$port" --inMemoryPersistence \
	--disableTelemetry --silent > "$STATE/log" 2>&1 < /dev/null &
pid=$!
echo "$pid" > "$STATE/pid"
if ! wait_port "$port" "$pid" 90; then
	kill "$pid" 2>/dev/null
	cat "$STATE/log" >&2
	die "azurite did not start on 127.0.0.1:$port"
fi
ep=http://127.0.0.1:$port/$acct
emit_env "${1:-}" \
	"SNAP_AZURITE_CONNECTION_STRING='DefaultEndpointsProtocol=http;AccountName=$acct;AccountKey=$key;BlobEndpoint=$ep;'" \
	"SNAP_AZURITE_ENDPOINT=$ep" "SNAP_AZURITE_ACCOUNT=$acct" \
	"SNAP_AZURITE_KEY='$key'" "SNAP_AZURITE_STATE=$STATE"
