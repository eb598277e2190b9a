#!/usr/bin/env bash
# test_timestamps: mtimes at the edges of the representable range. A time
# past 2262-04-11 does not fit in int64 nanoseconds: make-snapshot,
# restore-snapshot and sync must keep it exactly, or refuse or warn
# naming the file; never write another time silently.
. "$(dirname "$0")/lib.sh"

# snapshot_future: an mtime past 2262 does not fit in int64 nanoseconds. The
# snapshot must refuse the file by name, warn about it, or keep the time;
# never restore another time silently.
snapshot_future() {
	local src=$T/$IO.fut dst=$T/$IO.fut.dst m
	rm -rf "$src" "$dst"
	mkdir -p "$src" "$dst"
	echo "from the future" >"$src/year2286"
	echo "normal" >"$src/normal"
	if ! touch -d '@9999999999.5' "$src/year2286" 2>/dev/null ||
		[ "$(stat -c %Y "$src/year2286")" != 9999999999 ]; then
		skip "this filesystem cannot store an mtime in 2286"
		return
	fi
	new_roots "$IO.fut"
	FR=$src
	snap make-snapshot
	case "$RC" in
	1)
		assert_err_has "an mtime past 2262 is refused by name" year2286
		return
		;;
	0) ;;
	*) fail "mtime past 2262: exit $RC"; show_last; return ;;
	esac
	if grep -qF year2286 "$ERR"; then
		pass "an mtime past 2262 is reported by name (warning)"
		return
	fi
	SNAP=$(head -n 1 "$OUT")
	FR=$dst
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore of a file with an mtime past 2262" 0
	m=$(stat -c %.9Y "$dst/year2286" 2>/dev/null)
	assert_eq "the mtime past 2262 is kept (or refused, not changed)" \
		9999999999.500000000 "$m"
}

# sync_future: an mtime past 2262 (beyond int64 nanoseconds) is copied
# exactly, or refused / warned about by name; never changed silently.
sync_future() {
	local src=$T/$IO.sfut dst=$T/$IO.sfut.dst
	rm -rf "$src" "$dst"
	mkdir -p "$src" "$dst"
	echo "from the future" >"$src/year2286"
	if ! touch -d '@9999999999.5' "$src/year2286" 2>/dev/null ||
		[ "$(stat -c %Y "$src/year2286")" != 9999999999 ]; then
		skip "this filesystem cannot store an mtime in 2286"
		return
	fi
	run "$SNAPSHOOTER" --no-progress --io "$IO" --json-file "$SUMMARY" \
		sync "$src" "$dst"
	if [ "$RC" -ne 0 ] || grep -qF year2286 "$ERR"; then
		assert_err_has "an mtime past 2262 is reported by name" year2286
		return
	fi
	assert_eq "an mtime past 2262 is copied exactly" \
		9999999999.500000000 "$(stat -c %.9Y "$dst/year2286")"
	run "$SNAPSHOOTER" --no-progress --io "$IO" --json-file "$SUMMARY" \
		sync "$src" "$dst"
	assert_json "a second run copies nothing" files_copied 0
}

# early: the earliest ext4 time (1901-12-13, -2^31 s) and 1 ns after
# the epoch round trip exactly.
early() {
	local src=$T/$IO.early dst=$T/$IO.early.dst
	rm -rf "$src" "$dst"
	mkdir -p "$src" "$dst"
	echo a >"$src/y1901" && touch -d '@-2147483648' "$src/y1901"
	echo b >"$src/epoch1ns" && touch -d '@0.000000001' "$src/epoch1ns"
	echo c >"$src/epoch" && touch -d '@0' "$src/epoch"
	echo d >"$src/neg1ns" && touch -d '@-0.000000001' "$src/neg1ns"
	new_roots "$IO.early"
	FR=$src
	make_snapshot || return
	FR=$dst
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore of early mtimes" 0
	assert_trees_equal "$src" "$dst" "1901, epoch, +-1 ns round trip"
	rm -rf "$dst" && mkdir -p "$dst"
	run "$SNAPSHOOTER" --no-progress --io "$IO" sync "$src" "$dst"
	assert_rc "sync of early mtimes" 0
	assert_trees_equal "$src" "$dst" "1901, epoch, +-1 ns synced"
}

# int64_edges: the first and last ns an int64 holds as a time (INT64_MIN
# and INT64_MAX themselves mean "clipped": 1677-09-21 00:12:43.145224193
# and 2262-04-11 23:47:16.854775806), a time half a second after the
# first whole second, round trip exactly; a second beyond either end is
# refused naming the file; a root directory out of range is warned about
# (its mode and mtime not recorded), the snapshot made. ext4 stops at
# 1901, so on tmpfs (/dev/shm), where the kernel keeps such times.
int64_edges() {
	local base src dst
	base=$(mktemp -d /dev/shm/snap-edges.XXXXXX 2>/dev/null) || {
		skip "int64_edges: no /dev/shm"
		return 0
	}
	src=$base/src dst=$base/dst
	mkdir -p "$src" "$dst"
	echo a >"$src/first" && touch -d '@-9223372036.854775807' "$src/first"
	echo h >"$src/half" && touch -d '@-9223372036.5' "$src/half"
	echo b >"$src/last" && touch -d '@9223372036.854775806' "$src/last"
	if [ "$(stat -c %.9Y "$src/first")" != -9223372036.854775807 ]; then
		skip "int64_edges: /dev/shm caps mtimes"
		rm -rf "$base"
		return 0
	fi
	new_roots "$IO.edges"
	FR=$src
	make_snapshot || { rm -rf "$base"; return; }
	FR=$dst
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore of the int64 ns edges" 0
	assert_eq "the first ns of 1677 a snapshot holds restored" \
		-9223372036.854775807 "$(stat -c %.9Y "$dst/first")"
	assert_eq "half a second after 1677-09-21 00:12:43 restored" \
		-9223372036.500000000 "$(stat -c %.9Y "$dst/half")"
	assert_eq "the last ns of 2262 a snapshot holds restored" \
		9223372036.854775806 "$(stat -c %.9Y "$dst/last")"
	echo c >"$src/before" && touch -d '@-9223372037' "$src/before"
	FR=$src
	snap make-snapshot
	assert_rc "make-snapshot of a file a second before 1677-09-21" 1
	assert_err_has "the file before the range is named" \
		"cannot record '$src/before': its mtime is outside"
	rm -f "$src/before"
	echo d >"$src/after" && touch -d '@9223372037' "$src/after"
	snap make-snapshot
	assert_rc "make-snapshot of a file a second after 2262-04-11" 1
	assert_err_has "the file after the range is named" \
		"cannot record '$src/after': its mtime is outside"
	rm -f "$src/after"
	touch -d '@-9999999999' "$src"
	snap make-snapshot
	assert_rc "make-snapshot of a root dated 1653" 0
	assert_err_has "the root's mtime is warned about" \
		"the mtime of the root directory '$src' is outside the years"
	rm -rf "$base"
}

for_each_io early
for_each_io int64_edges
for_each_io snapshot_future
for_each_io sync_future
finish
