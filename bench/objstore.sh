#!/usr/bin/env bash
# bench/objstore.sh: uploads to object storage, snapshooter beside rclone
# against the same loopback servers in the same run: s3rver (S3) and
# Azurite (Azure Blob), started here on 127.0.0.1 from tests/servers/.
# Corpora: N small files of 0-16 KiB, and a few 256 MiB files. For each:
#   snapshooter sync DIR s3://... / az://...   (first upload, then no-change)
#   rclone copy DIR remote:... --transfers 8 --checkers 16
# It prints a Markdown table: wall time, objects/s, MB/s, client CPU (user
# + sys of the client process, from getrusage) per object, and the ratio
# of rclone's time to snapshooter's. These Node servers use 1-1.5 cores of
# the 2 here, so they, not the clients, set the pace: client CPU per object
# is the figure that shows the client's own cost. Never part of the tests.
#
# usage: bench/objstore.sh [--files N] [--large N] [--transfers N] [--out DIR]
set -u -o pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
FILES=5000
LARGE=2
TRANSFERS=16
OUT=/var/tmp/snapshooter-objbench
while [ $# -gt 0 ]; do
	case "$1" in
	--files) FILES=${2:?}; shift ;;
	--large) LARGE=${2:?}; shift ;;
	--transfers) TRANSFERS=${2:?}; shift ;;
	--out) OUT=${2:?}; shift ;;
	-h|--help) sed -n '2,16p' "$0"; exit 0 ;;
	*) echo "unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
case "$OUT" in "$REPO"*) echo "--out must be outside the repo" >&2; exit 2 ;; esac
mkdir -p "$OUT"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need rclone || ! need openssl; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rclone openssl >/dev/null
fi
bash "$REPO/tests/servers/install.sh" npm >/dev/null || { echo "cannot install servers" >&2; exit 1; }

# tools
cc -O2 -I"$REPO/engine/base" -o "$OUT/runlim" "$REPO/bench/runlim.c" || exit 1
BIN=$OUT/build/engine/snapshooter
cmake -S "$REPO" -B "$OUT/build" -DCMAKE_BUILD_TYPE=Release -DSNAP_WERROR=OFF >/dev/null &&
	cmake --build "$OUT/build" -j"$(nproc)" --target snapshooter >/dev/null || exit 1

# corpora (deterministic: seeded)
SMALL=$OUT/small-$FILES
if [ ! -d "$SMALL" ]; then
	mkdir -p "$SMALL"
	awk -v n="$FILES" 'BEGIN { srand(42); for (i = 0; i < n; i++)
		printf "%d %d\n", i, int(rand() * 16384) }' |
	while read -r i size; do
		d=$SMALL/d$((i / 100))
		[ -d "$d" ] || mkdir -p "$d"
		head -c "$size" /dev/urandom >"$d/f$i"
	done
fi
BIG=$OUT/large-$LARGE
if [ ! -d "$BIG" ]; then
	mkdir -p "$BIG"
	for i in $(seq 1 "$LARGE"); do
		head -c $((256 << 20)) /dev/urandom >"$BIG/big$i.bin"
	done
fi

started=()
cleanup() { for s in "${started[@]}"; do bash "$REPO/tests/servers/stop.sh" "$s" >/dev/null 2>&1; done; }
trap cleanup EXIT

RESULTS=$OUT/results.tsv
: >"$RESULTS"
# time_one LABEL SERVER CORPUS PHASE CMD...
time_one() {
	local tool=$1 server=$2 corpus=$3 phase=$4
	shift 4
	local rep=$OUT/.rep
	rm -f "$rep"
	"$OUT/runlim" -o "$rep" -q -- "$@"
	read -r _ wall _ rss _ user _ sys _ status <"$rep"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$server" "$corpus" \
		"$phase" "$wall" "$user" "$sys" "$rss" "$status" >>"$RESULTS"
	echo "  $tool $server $corpus $phase: ${wall}s (status $status)" >&2
}

unset AWS_CA_BUNDLE
# the bench's bucket is new in each server: let the first sync create it
# (a missing bucket is an error otherwise: a typo must not become a bucket)
export SNAPSHOOTER_CREATE_BUCKET=1
run_server() { # server
	local s=$1 env=$OUT/.$1.env url rc_remote
	bash "$REPO/tests/servers/start_$s.sh" "$env" >/dev/null || { echo "cannot start $s" >&2; return; }
	. "$env"
	case $s in
	s3rver)
		started+=("$SNAP_S3RVER_STATE")
		export AWS_ENDPOINT_URL=$SNAP_S3RVER_ENDPOINT AWS_ACCESS_KEY_ID=$SNAP_S3RVER_KEY \
			AWS_SECRET_ACCESS_KEY=$SNAP_S3RVER_SECRET
		export RCLONE_CONFIG_BS3_TYPE=s3 RCLONE_CONFIG_BS3_PROVIDER=Other \
			RCLONE_CONFIG_BS3_ENDPOINT=$SNAP_S3RVER_ENDPOINT \
			RCLONE_CONFIG_BS3_ACCESS_KEY_ID=$SNAP_S3RVER_KEY \
			RCLONE_CONFIG_BS3_SECRET_ACCESS_KEY=$SNAP_S3RVER_SECRET
		url=s3://bench; rc_remote=bs3:bench ;;
	azurite)
		started+=("$SNAP_AZURITE_STATE")
		export AZURE_STORAGE_CONNECTION_STRING=$SNAP_AZURITE_CONNECTION_STRING
		# account SAS for rclone 1.60 (its emulator mode is broken)
		local v=2025-11-05 exp=2099-01-01T00:00:00Z sig
		sig=$(printf '%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n' \
			"$SNAP_AZURITE_ACCOUNT" rwdlacu b sco "" "$exp" "" "" "$v" "" |
			openssl dgst -sha256 -mac HMAC \
				-macopt hexkey:"$(printf '%s' "$SNAP_AZURITE_KEY" | base64 -d | od -An -tx1 | tr -d ' \n')" \
				-binary | base64 | sed 's/+/%2B/g; s/\//%2F/g; s/=/%3D/g')
		export RCLONE_CONFIG_BAZ_TYPE=azureblob \
			RCLONE_CONFIG_BAZ_SAS_URL="$SNAP_AZURITE_ENDPOINT?sv=$v&ss=b&srt=sco&sp=rwdlacu&se=$exp&sig=$sig"
		url=az://bench; rc_remote=baz:bench ;;
	esac
	for c in "$SMALL" "$BIG"; do
		local name=small
		[ "$c" = "$BIG" ] && name=large
		time_one snapshooter "$s" "$name" first "$BIN" --no-progress \
			--transfers "$TRANSFERS" sync "$c" "$url/snap-$name"
		time_one snapshooter "$s" "$name" nochange "$BIN" --no-progress \
			--transfers "$TRANSFERS" sync "$c" "$url/snap-$name"
		time_one rclone "$s" "$name" first rclone copy "$c" \
			"$rc_remote/rclone-$name" --transfers 8 --checkers 16
		time_one rclone "$s" "$name" nochange rclone copy "$c" \
			"$rc_remote/rclone-$name" --transfers 8 --checkers 16
	done
	cleanup
	started=()
	unset AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AZURE_STORAGE_CONNECTION_STRING
}

run_server s3rver
run_server azurite

small_bytes=$(du -sb "$SMALL" | cut -f1)
big_bytes=$(du -sb "$BIG" | cut -f1)
{
	echo "# snapshooter vs rclone, uploads to loopback object stores"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB, kernel $(uname -r)"
	echo "- command: \`bench/objstore.sh --files $FILES --large $LARGE --transfers $TRANSFERS\`; rclone $(rclone version 2>/dev/null | head -n 1 | awk '{print $2}')"
	echo "- small: $FILES files, $((small_bytes / 1000000)) MB; large: $LARGE x 256 MiB. The servers (Node.js) use most of the 2 cores."
	echo
	echo "| tool | server | corpus | phase | wall s | objects/s | MB/s | client CPU µs/object | peak RSS MiB | rclone time / snapshooter time |"
	echo "|---|---|---|---|---:|---:|---:|---:|---:|---:|"
	awk -F'\t' -v sb="$small_bytes" -v bb="$big_bytes" -v nf="$FILES" -v nl="$LARGE" '
	{ key = $2 "|" $3 "|" $4; t[$1 "|" key] = $5; row[NR] = $0 }
	END {
		for (i = 1; i <= NR; i++) {
			split(row[i], f, "\t")
			n = nl; b = bb
			if (f[3] == "small") { n = nf; b = sb }
			key = f[2] "|" f[3] "|" f[4]
			ratio = "-"
			if (f[1] == "rclone" && t["snapshooter|" key] > 0)
				ratio = sprintf("%.2f", f[5] / t["snapshooter|" key])
			if (f[1] == "snapshooter") ratio = "1.00 (ref)"
			bad = ""
			if (f[9] != 0) bad = " (FAILED " f[9] ")"
			ops = 0; mbs = 0
			if (f[5] > 0) { ops = n / f[5]; mbs = b / 1e6 / f[5] }
			printf "| %s%s | %s | %s | %s | %.2f | %.0f | %.1f | %.0f | %.1f | %s |\n", f[1], bad, f[2], f[3], f[4], f[5], ops, mbs, (f[6] + f[7]) * 1e6 / n, f[8] / 1024, ratio
		}
	}' "$RESULTS"
} | tee "$OUT/results.md"
