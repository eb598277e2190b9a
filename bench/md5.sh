#!/bin/bash
# bench/md5.sh: the MD5 kernels of engine/hash/md5mb beside the MD5 its
# peers use, in one run on one machine: bench_md5mb (GB/s per core of
# thread CPU time, whole messages, 1 to 64 jobs of 4 KiB to 1 MiB, for
# OpenSSL EVP and every kernel the CPU has), `openssl speed -evp md5`
# (OpenSSL's own figure, one core) and md5sum over a file in memory
# (coreutils, one core, CPU time). A measuring tool: it asserts nothing.
#
#   bench/md5.sh [--build DIR] [--size MIB]
#
# --build: where the Release build of bench_md5mb goes (default
# /var/tmp/snapshooter-bench/md5-build); --size: the md5sum file, MiB
# (default 1024; it lives in /dev/shm when that has room, else /var/tmp).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
build=/var/tmp/snapshooter-bench/md5-build
size_mib=1024

while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--size) size_mib=$2; shift 2 ;;
	-h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "md5.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case "$size_mib" in
''|*[!0-9]*|0) echo "md5.sh: --size wants a positive number of MiB" >&2
	exit 2 ;;
esac

need=()
command -v cmake >/dev/null || need+=(cmake)
command -v openssl >/dev/null || need+=(openssl)
command -v md5sum >/dev/null || need+=(coreutils)
[ -e /usr/include/openssl/evp.h ] || need+=(libssl-dev)
if [ ${#need[@]} -gt 0 ]; then
	echo "md5.sh: installing ${need[*]}" >&2
	apt-get install -y -q "${need[@]}" >&2
fi

cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSNAP_BENCH=ON \
	-DSNAP_WERROR=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target bench_md5mb >/dev/null

echo "# MD5 per core: kernels, OpenSSL, md5sum"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- |
	sed 's/^ *//'), $(nproc) cores; flags:$(grep -m1 -o -w -E \
	'avx2|avx512f|avx512vl' /proc/cpuinfo | sort -u | tr '\n' ' ' |
	sed 's/^/ /')"
echo "- snapshooter: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null ||
	echo unknown)"
echo "- load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

"$build/bench/bench_md5mb"

echo
echo "OpenSSL's own figure, \`openssl speed -evp md5 -seconds 2\`, one core"
echo "(GB/s, 10^9 bytes per second of one process):"
echo
echo "| block | openssl speed |"
echo "|---|---|"
openssl speed -evp md5 -seconds 2 2>/dev/null |
	awk '/^type/ { for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/)
			       sizes[++n] = $i }
	     /^md5/ { for (i = 2; i <= NF; i++) {
			      v = $i; sub(/k$/, "", v)
			      printf "| %s bytes | %.2f |\n", sizes[i - 1],
				     v * 1000 / 1e9 } }'

dir=/var/tmp
if [ "$(df -Pm /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')" -gt \
     $((size_mib * 2)) ] 2>/dev/null; then
	dir=/dev/shm
fi
f=$(mktemp "$dir/md5bench.XXXXXX")
trap 'rm -f "$f"' EXIT
head -c $((size_mib << 20)) /dev/urandom >"$f"
cat "$f" >/dev/null
best=
for run in 1 2 3; do
	t=$( { /usr/bin/time -f '%U %S' md5sum "$f" >/dev/null; } 2>&1 |
		awk '{ print $1 + $2 }')
	if [ -z "$best" ] || awk -v a="$t" -v b="$best" \
		'BEGIN { exit !(a < b) }'; then
		best=$t
	fi
done
rate=$(awk -v b=$((size_mib << 20)) -v t="$best" \
	'BEGIN { printf "%.2f", (t > 0 ? b / t / 1e9 : 0) }')
echo
echo "md5sum of a $size_mib MiB file in $dir (page cache), one process,"
echo "best of 3, user+sys CPU: $best s, $rate GB/s"
