#!/usr/bin/env bash
# test_heap_trust: an md5 taken from the previous snapshot is kept only if
# the heap holds its object. A new HEAP_ROOT with the same SNAP_ROOT, or a
# heap that lost an object, gets the content again: every published
# snapshot restores, and the --json counters say what really happened.
. "$(dirname "$0")/lib.sh"

# restorable: the snapshot $SNAP restores into a fresh dir equal to $1
restorable() {
	local src=$1 dst=$T/$IO.dst
	rm -rf "$dst" && mkdir -p "$dst"
	FR=$dst
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "$2: the snapshot restores" 0
	assert_md5_equal "$src" "$dst" "$2: restored contents equal"
	FR=$src
}

trust() {
	local src=$T/$IO.src n obj
	rm -rf "$src" && mkdir -p "$src/d"
	echo one >"$src/a"
	echo two >"$src/d/b"
	head -c 300000 /dev/urandom >"$src/d/big"  # the streamed path
	set_old_mtimes "$src"
	n=$(count_files "$src")
	new_roots "$IO"
	FR=$src
	make_snapshot || return
	make_snapshot || return
	assert_eq "unchanged tree, same heap: md5_reused=$n" "$n" \
		"$(json_get "$SUMMARY" md5_reused)"

	# same SNAP_ROOT, a new empty HEAP_ROOT
	HR=$T/$IO.heap2
	mkdir -p "$HR"
	make_snapshot || return
	assert_eq "new heap: md5_reused=0" 0 \
		"$(json_get "$SUMMARY" md5_reused)"
	assert_eq "new heap: heap_objects_written=$n" "$n" \
		"$(json_get "$SUMMARY" heap_objects_written)"
	assert_eq "new heap: files_hashed=$n" "$n" \
		"$(json_get "$SUMMARY" files_hashed)"
	check "new heap: objects match their md5" heap_verify "$HR"
	restorable "$src" "new heap"

	# one object deleted from the heap: stored again
	obj=$(heap_objects "$HR" | grep "$(md5sum <"$src/d/b" | cut -c1-32)")
	chmod u+w "$(dirname "$obj")"
	rm -f "$obj"
	make_snapshot || return
	assert_eq "lost object: md5_reused=$((n - 1))" $((n - 1)) \
		"$(json_get "$SUMMARY" md5_reused)"
	assert_eq "lost object: heap_objects_written=1" 1 \
		"$(json_get "$SUMMARY" heap_objects_written)"
	check "lost object: stored again" test -f "$obj"
	restorable "$src" "lost object"

	# the large (streamed) file's object lost too
	obj=$(heap_objects "$HR" | grep "$(md5sum <"$src/d/big" | cut -c1-32)")
	rm -f "$obj"
	make_snapshot || return
	assert_eq "lost large object: heap_objects_written=1" 1 \
		"$(json_get "$SUMMARY" heap_objects_written)"
	restorable "$src" "lost large object"
}

for_each_io trust
finish
