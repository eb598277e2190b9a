#!/usr/bin/env bash
# test_dedup: identical contents are stored once in the heap (one object
# per distinct md5, named by it, in HEAP_ROOT/<2 hex>/<32 hex>), heap
# objects are read-only, and a second tree sharing the heap writes
# nothing new.
. "$(dirname "$0")/lib.sh"

dedup() {
	local src=$T/$IO.src src2=$T/$IO.src2 i n_obj n_dist bad

	new_roots "$IO"
	mkdir -p "$src/a" "$src/b/c"
	head -c 1000000 /dev/urandom >"$src/big1"
	for i in 1 2 3 4 5; do
		cp "$src/big1" "$src/a/big-copy-$i"
	done
	for i in $(seq 1 40); do
		echo "same small content" >"$src/b/c/small-$i"
	done
	for i in $(seq 1 10); do
		echo "distinct $i" >"$src/b/distinct-$i"
	done
	printf 'x' >"$src/one-byte"
	printf 'x' >"$src/a/one-byte-too"
	FR=$src
	make_snapshot || return
	n_dist=$(distinct_contents "$src")
	n_obj=$(heap_objects "$HR" | wc -l)
	say "$(count_files "$src") files, $n_dist distinct contents"
	assert_eq "one heap object per distinct content" "$n_dist" "$n_obj"
	assert_eq "summary heap_objects_written" "$n_dist" \
		"$(json_get "$SUMMARY" heap_objects_written)"
	check "every object's md5 is its name, under its 2-hex dir" \
		heap_verify "$HR"
	check "the 1 MB content is stored under its md5" \
		test -f "$HR/$(md5sum <"$src/big1" | cut -c1-2)/$(md5sum <"$src/big1" | cut -c1-32)"
	bad=$(find "$HR" -type f -perm /222 | head -n 3)
	assert_eq "heap objects are read-only (no write bit)" "" "$bad"
	bad=$(find "$HR" -type f -regextype posix-extended \
		! -regex '.*/[0-9a-f]{2}/[0-9a-f]{32}' | head -n 3)
	assert_eq "no stray (temp) files in the heap" "" "$bad"

	# a second tree with the same contents and the same heap
	cp -a "$src" "$src2"
	echo "only in tree 2" >"$src2/new"
	FR=$src2
	make_snapshot || return
	assert_eq "second tree: only the new content is written" 1 \
		"$(json_get "$SUMMARY" heap_objects_written)"
	assert_eq "heap holds one more object" $((n_dist + 1)) \
		"$(heap_objects "$HR" | wc -l)"

	# the same tree again with a fresh snapshot root: contents known to
	# the heap are not rewritten (heap_objects_present)
	SR=$T/$IO.snap2
	mkdir -p "$SR"
	FR=$src
	make_snapshot || return
	assert_eq "fresh snapshot root, same heap: nothing written" 0 \
		"$(json_get "$SUMMARY" heap_objects_written)"
	assert_ge "heap_objects_present covers every content" "$n_dist" \
		"$(json_get "$SUMMARY" heap_objects_present)"
	check "heap still verifies" heap_verify "$HR"

	# restore of duplicated contents from one object each
	mkdir -p "$T/$IO.dst"
	FR=$T/$IO.dst
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore of the duplicated tree" 0
	assert_trees_equal "$src" "$T/$IO.dst" "duplicates restored"
	bad=$(find "$HR" -type f -perm /222 | head -n 3)
	assert_eq "heap objects still read-only after restore" "" "$bad"
	bad=$(find "$T/$IO.dst" -type f -links +1 | head -n 1)
	assert_eq "restored files are not hard links into the heap" "" "$bad"
}

# concurrent: two make-snapshots at once into one heap and one snapshot
# root, with mostly the same contents: both succeed, the heap stays valid
# (tmp + rename publication) and both snapshots restore.
concurrent() {
	local a=$T/$IO.ca b=$T/$IO.cb i pa pb ra rb p
	rm -rf "$a" "$b"
	new_roots "$IO.conc"
	mkdir -p "$a"
	head -c 6000000 /dev/urandom >"$a/shared-big"
	for i in $(seq 1 200); do
		echo "shared $i" >"$a/s$i"
	done
	cp -a "$a" "$b"
	echo "only a" >"$a/own"
	echo "only b" >"$b/own"
	"$SNAPSHOOTER" --no-progress --io "$IO" --file-root "$a" \
		--heap-root "$HR" --snap-root "$SR" make-snapshot \
		>"$T/.ca.out" 2>"$T/.ca.err" &
	pa=$!
	"$SNAPSHOOTER" --no-progress --io "$IO" --file-root "$b" \
		--heap-root "$HR" --snap-root "$SR" make-snapshot \
		>"$T/.cb.out" 2>"$T/.cb.err" &
	pb=$!
	wait "$pa"
	ra=$?
	wait "$pb"
	rb=$?
	assert_eq "concurrent make-snapshot A" 0 "$ra"
	assert_eq "concurrent make-snapshot B" 0 "$rb"
	[ "$ra" -eq 0 ] || sed 's/^/    A: /' "$T/.ca.err" | head -n 5
	[ "$rb" -eq 0 ] || sed 's/^/    B: /' "$T/.cb.err" | head -n 5
	assert_eq "two distinct snapshots" 2 "$(snapshot_files "$SR" | wc -l)"
	check "heap valid after concurrent writers" heap_verify "$HR"
	# b differs from a by its own "own" content only
	assert_eq "one object per distinct content" \
		$(($(distinct_contents "$a") + 1)) "$(heap_objects "$HR" | wc -l)"
	for p in a b; do
		mkdir -p "$T/$IO.c$p.dst"
		FR=$T/$IO.c$p.dst
		snap restore-snapshot --path "$(head -n 1 "$T/.c$p.out")" \
			--no-save-snapshot-before --no-save-snapshot-after
		assert_rc "restore of concurrent snapshot $p" 0
		assert_trees_equal "$T/$IO.c$p" "$FR" "concurrent snapshot $p exact"
	done
}

for_each_io dedup
for_each_io concurrent
finish
