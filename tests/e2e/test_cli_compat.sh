#!/usr/bin/env bash
# test_cli_compat: the command-line behaviours taken from the Python tool:
# log lines "HH:MM:SS LEVEL    snapshooter - message" on stderr at INFO by
# default and nothing on stdout but the result, make-snapshot printing
# "None" when not saved, missing roots (SNAP_ROOT created, FILE_ROOT an
# error, a missing heap next to existing snapshots warned about), malformed
# storage-options JSON as a usage error, --parallel-heap-listing accepted.
. "$(dirname "$0")/lib.sh"

src=$T/src
mkdir -p "$src/d"
echo "one" >"$src/a"
echo "two" >"$src/d/b"
new_roots main
FR=$src

# plain run: no --json-file, the log at its default level
run "$SNAPSHOOTER" --no-progress --file-root "$FR" --heap-root "$HR" \
	--snap-root "$SR" make-snapshot
assert_rc "make-snapshot" 0
assert_eq "stdout holds only the snapshot path" 1 "$(grep -c . "$OUT")"
check "the printed path is the saved snapshot" test -f "$(cat "$OUT")"
log_re='^[0-2][0-9]:[0-5][0-9]:[0-6][0-9] (CRITICAL|ERROR   |WARNING |INFO    |DEBUG   ) snapshooter - .'
if [ -s "$ERR" ] && ! grep -vqE "$log_re" "$ERR"; then
	pass "every stderr line has the Python tool's log shape"
else
	fail "stderr lines not in the shape 'HH:MM:SS LEVEL    snapshooter - msg'"
	show_last
fi
for step in "searching the latest snapshot" "found 2 entries" \
	"saved snapshot '$(cat "$OUT")'"; do
	if grep -qE "^.{9}INFO     snapshooter - $step" "$ERR" ||
		grep -qF "INFO     snapshooter - $step" "$ERR"; then
		pass "INFO by default: '$step'"
	else
		fail "no INFO line '$step'"
		show_last
	fi
done
info_lines=$(grep -c INFO "$ERR")
if [ "$info_lines" -le 12 ]; then
	pass "a few INFO lines, no flood ($info_lines)"
else
	fail "$info_lines INFO lines for a 2-file tree"
fi

run "$SNAPSHOOTER" --no-progress --loglevel WARNING --file-root "$FR" \
	--heap-root "$HR" --snap-root "$SR" make-snapshot
assert_rc "make-snapshot --loglevel WARNING" 0
assert_eq "--loglevel WARNING: stderr is empty" "" "$(cat "$ERR")"
run env LOGLEVEL=none "$SNAPSHOOTER" --no-progress --file-root "$FR" \
	--heap-root "$HR" --snap-root "$SR" make-snapshot
assert_rc "LOGLEVEL=none make-snapshot" 0
assert_eq "LOGLEVEL=none: stderr is empty" "" "$(cat "$ERR")"

# --no-save-snapshot: the Python tool prints None
n_before=$(find "$SR" -type f | wc -l)
run "$SNAPSHOOTER" --no-progress --loglevel NONE --file-root "$FR" \
	--heap-root "$HR" --snap-root "$SR" make-snapshot --no-save-snapshot
assert_rc "make-snapshot --no-save-snapshot" 0
assert_eq "--no-save-snapshot prints None" "None" "$(cat "$OUT")"
assert_eq "--no-save-snapshot saves no snapshot" "$n_before" \
	"$(find "$SR" -type f | wc -l)"

# a missing FILE_ROOT is an error (the Python tool created it and saved an
# empty snapshot, which a later restore of the latest would apply); a
# missing SNAP_ROOT is created
run "$SNAPSHOOTER" --no-progress --file-root "$T/typo/src" \
	--heap-root "$HR" --snap-root "$T/typo.snap" make-snapshot
assert_rc "make-snapshot of a missing FILE_ROOT" 1
assert_err_has "the error names the missing FILE_ROOT" "$T/typo/src"
check "the missing FILE_ROOT is not created" test ! -e "$T/typo"
assert_eq "no snapshot saved" "" "$(find "$T/typo.snap" -type f 2>/dev/null)"
run "$SNAPSHOOTER" --no-progress --file-root "$FR" \
	--heap-root "$HR" --snap-root "$T/new.snap" make-snapshot
assert_rc "make-snapshot into a missing SNAP_ROOT" 0
check "the missing SNAP_ROOT was created" test -f "$(cat "$OUT")"
# a missing heap next to a snapshot root that holds snapshots
run "$SNAPSHOOTER" --no-progress --file-root "$FR" \
	--heap-root "$T/heap.typo" --snap-root "$SR" make-snapshot
assert_rc "make-snapshot into a missing heap" 0
assert_err_has "a missing heap beside existing snapshots is a WARNING" \
	"WARNING  snapshooter - heap root '$T/heap.typo' does not exist but"

# storage options: JSON checked even for local roots (usage error)
for var in FILE HEAP SNAP; do
	opt=--$(echo "$var" | tr A-Z a-z)-storage-options
	run "$SNAPSHOOTER" --no-progress --file-root "$FR" --heap-root "$HR" \
		--snap-root "$SR" "$opt" '{"key": ' make-snapshot
	assert_rc "$opt with malformed JSON" 2
	assert_err_has "$opt: the message names the option" "$opt"
	run env "${var}_STORAGE_OPTIONS=not json" "$SNAPSHOOTER" \
		--no-progress --file-root "$FR" --heap-root "$HR" \
		--snap-root "$SR" list-snapshots
	assert_rc "${var}_STORAGE_OPTIONS with malformed JSON" 2
done
run "$SNAPSHOOTER" --no-progress --loglevel NONE --file-root "$FR" \
	--heap-root "$HR" --snap-root "$SR" --snap-storage-options '{}' \
	list-snapshots --limit 1
assert_rc "well-formed storage options on local roots" 0

# --parallel-heap-listing / PARALLEL_HEAP_LISTING
run "$SNAPSHOOTER" --no-progress --loglevel NONE --parallel-heap-listing 4 \
	--file-root "$FR" --heap-root "$HR" --snap-root "$SR" make-snapshot
assert_rc "--parallel-heap-listing 4" 0
run env PARALLEL_HEAP_LISTING=20 "$SNAPSHOOTER" --no-progress \
	--loglevel NONE --file-root "$FR" --heap-root "$HR" \
	--snap-root "$SR" make-snapshot
assert_rc "PARALLEL_HEAP_LISTING=20" 0
run "$SNAPSHOOTER" --parallel-heap-listing 0 --file-root "$FR" \
	--heap-root "$HR" --snap-root "$SR" make-snapshot
assert_rc "--parallel-heap-listing 0 is a usage error" 2
run env PARALLEL_HEAP_LISTING=many "$SNAPSHOOTER" --file-root "$FR" \
	--heap-root "$HR" --snap-root "$SR" make-snapshot
assert_rc "PARALLEL_HEAP_LISTING=many is a usage error" 2
run "$SNAPSHOOTER" --help
assert_eq "--help documents --parallel-heap-listing" 1 \
	"$(grep -c -- '--parallel-heap-listing' "$OUT")"

finish
