#!/usr/bin/env bash
# bench/objstore.sh: object storage, snapshooter beside rclone against the
# same loopback servers in the same run: s3rver (S3) and Azurite (Azure
# Blob), started here on 127.0.0.1 from tests/servers/, and putsink
# (bench/putsink.py: an S3 endpoint in memory that checks each PUT's MD5
# and keeps nothing else of note: the plain-PUT ceiling, where a client
# runs at its own pace; small corpus, uploads only).
# Corpora: N small files of 0-16 KiB, and a few 256 MiB files. For each:
#   snapshooter sync DIR s3://... / az://...   (first upload, then no-change)
#   snapshooter make-snapshot, heap and snapshots in the store ("backup",
#     then "backup-nochange"): the product's main job, each object named
#     by its MD5; its ratio column compares with rclone's first / no-change
#   rclone copy DIR remote:... --transfers 8 --checkers 16
#   download: the same commands from the store into an empty folder
# and the downloads once more through nginx in front of s3rver, capping
# each connection at --cap bytes/s ("s3rver-cap"): a real store serves one
# connection at a fraction of the link, so one stream per file is slow;
# on loopback nothing else shows it.
# It prints a Markdown table: wall time, objects/s, MB/s, client CPU (user
# + sys of the client process, from getrusage) per object, and the ratio
# of rclone's time to snapshooter's. These Node servers use 1-1.5 cores of
# the 2 here, so they, not the clients, set the pace: client CPU per object
# is the figure that shows the client's own cost. Never part of the tests.
#
# usage: bench/objstore.sh [--files N] [--large N] [--transfers N]
#                          [--cap RATE] [--out DIR]     (RATE: nginx, 32m)
set -u -o pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
FILES=5000
LARGE=2
TRANSFERS=16
CAP=32m
OUT=/var/tmp/snapshooter-objbench
while [ $# -gt 0 ]; do
	case "$1" in
	--files) FILES=${2:?}; shift ;;
	--large) LARGE=${2:?}; shift ;;
	--transfers) TRANSFERS=${2:?}; shift ;;
	--cap) CAP=${2:?}; shift ;;
	--out) OUT=${2:?}; shift ;;
	-h|--help) sed -n '2,26p' "$0"; exit 0 ;;
	*) echo "unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
case "$OUT" in "$REPO"*) echo "--out must be outside the repo" >&2; exit 2 ;; esac
mkdir -p "$OUT"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need rclone || ! need openssl || ! [ -x /usr/sbin/nginx ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rclone openssl \
		nginx >/dev/null
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
NGINX=$OUT/nginx
SINK_PID=
cleanup() {
	[ -f "$NGINX/nginx.pid" ] && /usr/sbin/nginx -c "$NGINX/nginx.conf" -s quit 2>/dev/null
	[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
	SINK_PID=
	for s in "${started[@]}"; do bash "$REPO/tests/servers/stop.sh" "$s" >/dev/null 2>&1; done
}
trap cleanup EXIT

# nginx on 127.0.0.1:PORT in front of ENDPOINT, each answer sent at most
# CAP bytes/s per connection (nginx limit_rate; buffered in memory only)
start_cap_proxy() { # endpoint port
	rm -rf "$NGINX"; mkdir -p "$NGINX/tmp"
	cat >"$NGINX/nginx.conf" <<-EOF
	worker_processes 1;
	pid $NGINX/nginx.pid;
	error_log $NGINX/error.log warn;
	events { worker_connections 1024; }
	http {
	  access_log off;
	  client_body_temp_path $NGINX/tmp; proxy_temp_path $NGINX/tmp;
	  upstream store { server ${1#http://}; keepalive 64; }
	  server {
	    listen 127.0.0.1:$2;
	    client_max_body_size 0;
	    location / {
	      proxy_pass http://store; proxy_http_version 1.1;
	      proxy_set_header Connection ""; proxy_set_header Host \$http_host;
	      proxy_max_temp_file_size 0; proxy_request_buffering off;
	      limit_rate $CAP;
	    }
	  }
	}
	EOF
	/usr/sbin/nginx -c "$NGINX/nginx.conf"
}

# bench/putsink.py on 127.0.0.1 (a free port); SNAP_PUTSINK_ENDPOINT
start_putsink() {
	local portfile=$OUT/.putsink.port i
	rm -f "$portfile"
	python3 "$REPO/bench/putsink.py" "$portfile" &
	SINK_PID=$!
	for i in $(seq 1 100); do
		[ -s "$portfile" ] && break
		sleep 0.05
	done
	[ -s "$portfile" ] || return 1
	SNAP_PUTSINK_ENDPOINT=http://127.0.0.1:$(cat "$portfile")
}

# server_cpu PID...: CPU seconds (user + sys) used so far by the server
# processes PID and everything they started (nginx's workers)
SERVER_PIDS=()
server_cpu() {
	python3 - "$@" <<-'EOF'
	import os, sys
	tick = os.sysconf("SC_CLK_TCK")
	parent, cpu = {}, {}
	for p in os.listdir("/proc"):
	    if not p.isdigit():
	        continue
	    try:
	        f = open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()
	    except OSError:
	        continue
	    parent[int(p)] = int(f[1])
	    cpu[int(p)] = sum(int(x) for x in f[11:15])
	roots = {int(x) for x in sys.argv[1:]}
	def under(p):
	    while p > 1:
	        if p in roots:
	            return True
	        p = parent.get(p, 0)
	    return False
	print("%.2f" % (sum(c for p, c in cpu.items() if under(p)) / tick))
	EOF
}

RESULTS=$OUT/results.tsv
: >"$RESULTS"
# time_one LABEL SERVER CORPUS PHASE CMD...: the client's wall time, CPU
# and peak RSS (runlim), and the server's CPU over the same run: a server
# busy for most of the wall time sets the pace, whatever the client
time_one() {
	local tool=$1 server=$2 corpus=$3 phase=$4
	shift 4
	local rep=$OUT/.rep c0 c1
	rm -f "$rep"
	c0=$(server_cpu "${SERVER_PIDS[@]}")
	"$OUT/runlim" -o "$rep" -q -- "$@"
	c1=$(server_cpu "${SERVER_PIDS[@]}")
	read -r _ wall _ rss _ user _ sys _ status <"$rep"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$server" \
		"$corpus" "$phase" "$wall" "$user" "$sys" "$rss" "$status" \
		"$(echo "$c1 - $c0" | bc)" >>"$RESULTS"
	echo "  $tool $server $corpus $phase: ${wall}s (status $status)" >&2
}

# download SERVER CORPUS URL RCLONE_REMOTE: store -> empty folder
download() {
	local s=$1 name=$2 url=$3 rc=$4 dl=$OUT/download
	rm -rf "$dl"; mkdir -p "$dl"
	time_one snapshooter "$s" "$name" download "$BIN" --no-progress \
		--transfers "$TRANSFERS" sync "$url/snap-$name" "$dl/snap"
	time_one rclone "$s" "$name" download rclone copy \
		"$rc/rclone-$name" "$dl/rclone" --transfers 8 --checkers 16
	diff -rq "$dl/snap" "$dl/rclone" >/dev/null ||
		echo "  $s $name download: the two copies differ" >&2
	rm -rf "$dl"
}

unset AWS_CA_BUNDLE
# the bench's bucket is new in each server: let the first sync create it
# (a missing bucket is an error otherwise: a typo must not become a bucket)
export SNAPSHOOTER_CREATE_BUCKET=1
# use_s3 ENDPOINT KEY SECRET: both clients' settings for an S3 endpoint
# (snapshooter's AWS variables, rclone's remote "bs3")
use_s3() {
	export AWS_ENDPOINT_URL=$1 AWS_ACCESS_KEY_ID=$2 AWS_SECRET_ACCESS_KEY=$3
	export RCLONE_CONFIG_BS3_TYPE=s3 RCLONE_CONFIG_BS3_PROVIDER=Other \
		RCLONE_CONFIG_BS3_ENDPOINT=$1 RCLONE_CONFIG_BS3_ACCESS_KEY_ID=$2 \
		RCLONE_CONFIG_BS3_SECRET_ACCESS_KEY=$3
}

run_server() { # server
	local s=$1 env=$OUT/.$1.env url rc_remote corpora
	if [ "$s" = putsink ]; then
		start_putsink || { echo "cannot start putsink" >&2; return; }
	else
		bash "$REPO/tests/servers/start_$s.sh" "$env" >/dev/null || { echo "cannot start $s" >&2; return; }
		. "$env"
	fi
	SERVER_PIDS=()
	[ -n "$SINK_PID" ] && SERVER_PIDS+=("$SINK_PID")
	local st=SNAP_${s^^}_STATE
	[ -n "${!st:-}" ] && [ -f "${!st}/pid" ] &&
		SERVER_PIDS+=("$(cat "${!st}/pid")")
	case $s in
	s3rver)
		started+=("$SNAP_S3RVER_STATE")
		use_s3 "$SNAP_S3RVER_ENDPOINT" "$SNAP_S3RVER_KEY" \
			"$SNAP_S3RVER_SECRET"
		url=s3://bench; rc_remote=bs3:bench ;;
	putsink)
		use_s3 "$SNAP_PUTSINK_ENDPOINT" sink sink
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
	corpora=("$SMALL" "$BIG")
	# putsink drops bodies over 1 MiB and has no multipart: small only
	[ "$s" = putsink ] && corpora=("$SMALL")
	for c in "${corpora[@]}"; do
		local name=small
		[ "$c" = "$BIG" ] && name=large
		time_one snapshooter "$s" "$name" first "$BIN" --no-progress \
			--transfers "$TRANSFERS" sync "$c" "$url/snap-$name"
		time_one snapshooter "$s" "$name" nochange "$BIN" --no-progress \
			--transfers "$TRANSFERS" sync "$c" "$url/snap-$name"
		time_one snapshooter "$s" "$name" backup "$BIN" --no-progress \
			--transfers "$TRANSFERS" --file-root "$c" \
			--heap-root "$url/heap-$name" \
			--snap-root "$url/snaps-$name" make-snapshot
		time_one snapshooter "$s" "$name" backup-nochange "$BIN" \
			--no-progress --transfers "$TRANSFERS" --file-root "$c" \
			--heap-root "$url/heap-$name" \
			--snap-root "$url/snaps-$name" make-snapshot
		time_one rclone "$s" "$name" first rclone copy "$c" \
			"$rc_remote/rclone-$name" --transfers 8 --checkers 16
		time_one rclone "$s" "$name" nochange rclone copy "$c" \
			"$rc_remote/rclone-$name" --transfers 8 --checkers 16
		[ "$s" = putsink ] || download "$s" "$name" "$url" "$rc_remote"
	done
	if [ "$s" = s3rver ]; then
		# the same downloads through a per-connection cap
		local port
		port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		start_cap_proxy "$SNAP_S3RVER_ENDPOINT" "$port" ||
			{ echo "cannot start nginx" >&2; cleanup; return; }
		SERVER_PIDS+=("$(cat "$NGINX/nginx.pid")")
		export AWS_ENDPOINT_URL=http://127.0.0.1:$port \
			RCLONE_CONFIG_BS3_ENDPOINT=http://127.0.0.1:$port
		download s3rver-cap small "$url" "$rc_remote"
		download s3rver-cap large "$url" "$rc_remote"
	fi
	cleanup
	started=()
	unset AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AZURE_STORAGE_CONNECTION_STRING
}

run_server s3rver
run_server azurite
run_server putsink

small_bytes=$(du -sb "$SMALL" | cut -f1)
big_bytes=$(du -sb "$BIG" | cut -f1)
{
	echo "# snapshooter vs rclone, loopback object stores"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB, kernel $(uname -r)"
	echo "- command: \`bench/objstore.sh --files $FILES --large $LARGE --transfers $TRANSFERS --cap $CAP\`; rclone $(rclone version 2>/dev/null | head -n 1 | awk '{print $2}')"
	echo "- small: $FILES files, $((small_bytes / 1000000)) MB; large: $LARGE x 256 MiB. The servers (Node.js) use most of the 2 cores."
	echo "- putsink: bench/putsink.py, an S3 endpoint in memory (MD5 checked, nothing written): the plain-PUT ceiling; small corpus, uploads only."
	echo "- s3rver-cap: downloads from the same s3rver through nginx, each connection capped at $CAP/s (limit_rate)."
	echo
	echo "- server busy: the server's CPU seconds (every process of it) over the run's wall time; near 1.0 (Node.js and Python serve on one thread) the server, not the client, sets the pace, and no client can go much faster."
	echo
	echo "| tool | server | corpus | phase | wall s | objects/s | MB/s | client CPU µs/object | server busy | peak RSS MiB | rclone time / snapshooter time |"
	echo "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
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
			# make-snapshot beside the copy rclone makes of the same tree
			peer = ""
			if (f[4] == "backup") peer = "first"
			if (f[4] == "backup-nochange") peer = "nochange"
			if (peer != "" && t["rclone|" f[2] "|" f[3] "|" peer] > 0 && f[5] > 0)
				ratio = sprintf("%.2f (rclone %s)", t["rclone|" f[2] "|" f[3] "|" peer] / f[5], peer)
			bad = ""
			if (f[9] != 0) bad = " (FAILED " f[9] ")"
			ops = 0; mbs = 0
			if (f[5] > 0) { ops = n / f[5]; mbs = b / 1e6 / f[5] }
			busy = f[5] > 0 ? f[10] / f[5] : 0
			printf "| %s%s | %s | %s | %s | %.2f | %.0f | %.1f | %.0f | %.2f | %.1f | %s |\n", f[1], bad, f[2], f[3], f[4], f[5], ops, mbs, (f[6] + f[7]) * 1e6 / n, busy, f[8] / 1024, ratio
		}
	}' "$RESULTS"
} | tee "$OUT/results.md"
