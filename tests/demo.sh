#!/usr/bin/env bash
# demo.sh: the README's first command. Installs what is missing, builds a
# Release binary and runs a backup/restore round trip on a small example
# tree with a local heap, showing each step.
# Usage: tests/demo.sh [WORKDIR]   (default: a new temp dir, kept for you)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bash "$repo/tests/install-deps.sh"
build=$repo/build
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target snapshooter >/dev/null
bin=$build/engine/snapshooter
work=${1:-$(mktemp -d /tmp/snapshooter-demo.XXXXXX)}
mkdir -p "$work"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "== example tree in $work/tree"
mkdir -p "$work/tree/docs/drafts" "$work/tree/photos" "$work/tree/empty"
printf 'hello\n' >"$work/tree/docs/readme.txt"
printf 'hello\n' >"$work/tree/docs/copy-of-readme.txt"   # same content
head -c 300000 /dev/urandom >"$work/tree/photos/beach.raw"
printf 'draft v1\n' >"$work/tree/docs/drafts/plan.md"
chmod 0600 "$work/tree/docs/drafts/plan.md"
ln -sfn docs/readme.txt "$work/tree/README"
# files modified in the last second before a snapshot are hashed again by
# the next one (racy-clean rule); age the example so reuse shows
find "$work/tree" -exec touch -h -d '2 hours ago' {} +

export FILE_ROOT=$work/tree HEAP_ROOT=$work/heap SNAP_ROOT=$work/snapshots
step "$bin" --loglevel INFO make-snapshot --json
printf 'draft v2\n' >"$work/tree/docs/drafts/plan.md"
rm "$work/tree/photos/beach.raw"
printf 'new\n' >"$work/tree/docs/new.txt"
step "$bin" make-snapshot --json
step "$bin" list-snapshots
step "$bin" compare-snapshots
first=$("$bin" list-snapshots --order asc --limit 1)
echo
echo "== restore the first snapshot into $work/restored"
FILE_ROOT=$work/restored step "$bin" restore-snapshot --path "$first" --json
echo
echo "== heap: one object per distinct content"
find "$work/heap" -type f | sed "s|$work/||" | sort
echo
echo "== the restored tree is the first state (content, modes, symlinks):"
ls -lR "$work/restored" | sed 's/^/   /'
test "$(cat "$work/restored/docs/drafts/plan.md")" = "draft v1"
cmp "$work/restored/docs/readme.txt" "$work/tree/docs/readme.txt"
test -f "$work/restored/photos/beach.raw"
echo
echo "demo OK: files are in $work (binary: $bin)"
