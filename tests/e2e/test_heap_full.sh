#!/usr/bin/env bash
# test_heap_full: a heap that runs out of space fails make-snapshot with
# a message about the heap write (the heap's temp or object, "write", No
# space left on device) and the file it came from, never "cannot read"
# the file; with large files waiting for the one worker whose MD5 lanes
# run (one CPU), the run ends too, with the same error. The heap is a
# 1 MiB tmpfs mounted by the test (root needed;
# skipped only when mounting is impossible and CI is not set).
. "$(dirname "$0")/lib.sh"

MNT=$T/heapfs
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=1m tmpfs "$MNT" 2>/dev/null; then
	if [ "${CI:-}" = true ] || [ "${SNAP_REQUIRE_SERVERS:-0}" = 1 ]; then
		fail "cannot mount a tmpfs (root needed)"
		finish
	fi
	echo "SKIP: cannot mount a tmpfs here (not root?)"
	exit 77
fi
trap 'umount "$MNT" 2>/dev/null; e2e_cleanup' EXIT

full() {
	local src=$T/$IO.src kind=$1
	rm -rf "$src" "$MNT"/* "$T/$IO.snap" && mkdir -p "$src/sub"
	if [ "$kind" = large ]; then
		# streamed (> 256 KiB): the heap temp fills while it is read
		head -c 3000000 /dev/urandom >"$src/sub/big1.bin"
	elif [ "$kind" = many ]; then
		# many streamed files, one CPU and 6 workers: most wait in
		# the lane pool for the one runner when the heap fills
		for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
			head -c 400000 /dev/urandom >"$src/sub/big$i.bin"
		done
	else
		# small files, read in batches and stored whole
		for i in 1 2 3 4 5 6 7 8; do
			head -c 200000 /dev/urandom >"$src/sub/small$i.bin"
		done
	fi
	HR=$MNT/heap
	SR=$T/$IO.snap
	FR=$src
	if [ "$kind" = many ]; then
		run taskset -c 0 "$SNAPSHOOTER" --no-progress --io "$IO" \
			--jobs 6 --file-root "$FR" --heap-root "$HR" \
			--snap-root "$SR" make-snapshot
	else
		snap make-snapshot
	fi
	assert_rc "$kind: full heap fails the snapshot" 1
	assert_err_has "$kind: says it was a heap write" "cannot write '$HR/"
	assert_err_has "$kind: says why" "No space left on device"
	assert_err_has "$kind: names the file" "in the heap"
	check "$kind: not called a read error" \
		bash -c "! grep -q 'cannot read' '$ERR'"
	cat "$ERR"; check "$kind: no snapshot saved" \
		test -z "$(snapshot_files "$SR" 2>/dev/null)"
}

large() { full large; }
small() { full small; }
many() { full many; }
for_each_io large
for_each_io small
command -v taskset >/dev/null && for_each_io many
finish
