#!/usr/bin/env bash
# test_fsync.sh: --fsync (make restored or synced files durable before
# success) works for restore-snapshot and sync and changes no result.
. "$(dirname "$0")/lib.sh"

new_roots fs
FR=$T/fs.src
mkdir -p "$FR"
make_basic_tree "$FR"
make_snapshot || die "make-snapshot"
FR=$T/fs.restored
run "$SNAPSHOOTER" --no-progress --fsync --file-root "$FR" --heap-root "$HR" \
	--snap-root "$SR" restore-snapshot --no-save-snapshot-before
assert_rc "restore --fsync" 0
assert_trees_equal "$T/fs.src" "$FR" "restored with --fsync"
run "$SNAPSHOOTER" --no-progress --fsync sync "$T/fs.src" "$T/fs.synced"
assert_rc "sync --fsync" 0
assert_trees_equal "$T/fs.src" "$T/fs.synced" "synced with --fsync"
finish
