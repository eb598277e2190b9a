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

for_each_io dedup
finish
