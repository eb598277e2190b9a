#!/usr/bin/env bash
# test_corrupt: a damaged snapshot (truncated at several offsets, one
# byte flipped, garbage appended) is refused by restore-snapshot and
# compare-snapshots: exit 1, a message naming the file, and the restore
# target left exactly as it was.
. "$(dirname "$0")/lib.sh"

# refused DESC FILE: restore and compare of FILE must fail cleanly.
refused() {
	local desc=$1 bad=$2 before after name
	name=$(basename "$bad")
	before=$T/.before
	after=$T/.after
	tree_state "$TARGET" >"$before"

	FR=$TARGET
	snap restore-snapshot --path "$bad" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "$desc: restore refuses" 1
	assert_err_has "$desc: restore names the file" "$name"
	tree_state "$TARGET" >"$after"
	if cmp -s "$before" "$after"; then
		pass "$desc: target tree unchanged"
	else
		fail "$desc: target tree changed"
		diff "$before" "$after" | head -n 10 | sed 's/^/    /'
		rm -rf "$TARGET"
		cp -a "$TARGET.orig" "$TARGET"
	fi

	snap compare-snapshots --path1 "$GOOD" --path2 "$bad"
	assert_rc "$desc: compare refuses" 1
	assert_err_has "$desc: compare names the file" "$name"
}

corrupt() {
	local src=$T/$IO.src dir=$T/$IO.bad size off i f
	GOOD=
	TARGET=$T/$IO.target

	new_roots "$IO"
	mkdir -p "$src/a/b" "$src/empty" "$dir"
	for i in $(seq 1 60); do
		echo "content $i" >"$src/a/file-$i"
	done
	for i in $(seq 1 5); do
		head -c 5000 /dev/urandom >"$src/a/b/bin-$i"
	done
	ln -s a/file-1 "$src/link"
	FR=$src
	make_snapshot || return
	GOOD=$SNAP
	size=$(stat -c %s "$GOOD")
	say "snapshot of $size bytes"

	# the restore target: another tree, which a wrong restore would change
	mkdir -p "$TARGET/other"
	echo "precious" >"$TARGET/other/precious"
	echo "content 1" >"$TARGET/a-file-1-elsewhere"
	cp -a "$TARGET" "$TARGET.orig"

	# sanity: the intact snapshot restores and compares
	cp "$GOOD" "$dir/intact.msgpack"
	snap compare-snapshots --path1 "$GOOD" --path2 "$dir/intact.msgpack"
	assert_rc "an intact copy compares fine" 0

	for off in 0 1 4 8 16 $((size / 4)) $((size / 2)) \
		$((size * 3 / 4)) $((size - 17)) $((size - 16)) $((size - 1)); do
		[ "$off" -ge 0 ] && [ "$off" -lt "$size" ] || continue
		f=$dir/truncated-at-$off.msgpack
		head -c "$off" "$GOOD" >"$f"
		refused "truncated at $off of $size" "$f"
	done

	for off in 0 3 9 20 $((size / 3)) $((size / 2)) $((size - 20)) \
		$((size - 8)) $((size - 1)); do
		[ "$off" -ge 0 ] && [ "$off" -lt "$size" ] || continue
		f=$dir/flipped-at-$off.msgpack
		cp "$GOOD" "$f"
		flip_byte "$f" "$off"
		refused "byte $off flipped" "$f"
	done

	f=$dir/trailing-garbage.msgpack
	cp "$GOOD" "$f"
	printf 'garbage' >>"$f"
	refused "garbage after the trailer" "$f"

	f=$dir/random.msgpack
	head -c "$size" /dev/urandom >"$f"
	refused "random bytes" "$f"

	f=$dir/doubled.msgpack
	cat "$GOOD" "$GOOD" >"$f"
	refused "a snapshot concatenated twice" "$f"

	# the only (so latest) snapshot of a snapshot root damaged: restore
	# without --path and with the default save-before/after changes
	# nothing in the target
	f=${GOOD#"$SR"/}
	SR=$T/$IO.badsnap
	f=$SR/$f
	mkdir -p "$(dirname "$f")"
	head -c $((size / 2)) "$GOOD" >"$f"
	tree_state "$TARGET" >"$T/.before"
	FR=$TARGET
	snap restore-snapshot
	assert_rc "restore of a damaged latest snapshot refuses" 1
	assert_err_has "the message names it" "$(basename "$f")"
	tree_state "$TARGET" >"$T/.after"
	check "target tree unchanged (default save flags)" \
		cmp -s "$T/.before" "$T/.after"
}

for_each_io corrupt
finish
