#!/usr/bin/env bash
# test_nested: HEAP_ROOT and SNAP_ROOT inside FILE_ROOT (a common layout:
# /data/.heap, /data/.snapshots). Either refused up front, or the roots
# are left out of the snapshot and a restore never deletes them. The
# reverse (FILE_ROOT the heap or snapshot root, or inside one, by name, a
# symlink or a bind mount) is refused before anything is written: a
# restore there would delete the backup it restores from.
. "$(dirname "$0")/lib.sh"

nested() {
	local root=$T/$IO.nested n
	rm -rf "$root"
	mkdir -p "$root/data"
	echo "user data" >"$root/data/file"
	FR=$root
	HR=$root/.heap
	SR=$root/.snapshots
	mkdir -p "$HR" "$SR"
	snap make-snapshot
	case "$RC" in
	1 | 2)
		pass "roots inside FILE_ROOT refused (exit $RC)"
		return
		;;
	0) pass "make-snapshot with the roots inside FILE_ROOT" ;;
	*) fail "roots inside FILE_ROOT: exit $RC"; show_last; return ;;
	esac
	SNAP=$(head -n 1 "$OUT")
	snap make-snapshot
	assert_rc "a second snapshot with nested roots" 0
	assert_eq "the second snapshot stores nothing new" 0 \
		"$(json_get "$SUMMARY" heap_objects_written)"
	snap compare-snapshots --path1 "$SNAP" --path2 "$(head -n 1 "$OUT")" \
		--diff-state only_left --diff-state only_right \
		--diff-state different --diff-state equal
	if grep -qE '\.heap|\.snapshots' "$OUT"; then
		fail "the snapshots list the heap or snapshot roots"
		grep -E '\.heap|\.snapshots' "$OUT" | head -n 5 | clip |
			sed 's/^/    /'
	else
		pass "the snapshots leave the heap and snapshot roots out"
	fi
	echo "new" >"$root/data/new"
	n=$(heap_objects "$HR" | wc -l)
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore with the roots inside FILE_ROOT" 0
	check "the extra user file is deleted" test ! -e "$root/data/new"
	assert_eq "the heap survives the restore" "$n" \
		"$(heap_objects "$HR" | wc -l)"
	check "the heap still verifies" heap_verify "$HR"
	check "the snapshot survives the restore" test -f "$SNAP"
}

# outer_case: FILE_ROOT = HEAP_ROOT or SNAP_ROOT, or inside one.
outer_case() {
	local root=$T/outer n fr
	rm -rf "$root"
	mkdir -p "$root/data"
	echo "user data" >"$root/data/file"
	FR=$root/data HR=$root/heap SR=$root/snaps
	snap make-snapshot
	assert_rc "outer roots: the backup" 0
	n=$(heap_objects "$HR" | wc -l)
	ln -s heap "$root/heaplink"
	for fr in "$HR" "$HR/" "$(find "$HR" -mindepth 1 -maxdepth 1 -type d |
		head -n 1)" "$root/heaplink" "$root/data/../heap/new" \
		"$root/nosuch/../heap" "$root/nosuch/../heap/new"; do
		FR=$fr
		snap restore-snapshot
		assert_rc "restore into '${fr#"$T"/}': refused" 1
		assert_err_has "... naming the heap root" \
			"refusing to restore into '$fr': it is the heap root"
		snap make-snapshot
		assert_rc "a backup of '${fr#"$T"/}': refused" 1
	done
	# ".." through a folder not there yet, back out of the heap: fine
	FR=$HR/new/../../data2
	snap restore-snapshot --dry-run
	assert_rc "restore into 'heap/new/../../data2' (not the heap)" 0
	FR=$SR/2026
	snap restore-snapshot
	assert_rc "restore into the snapshot root: refused" 1
	assert_err_has "... naming it" "it is the snapshot root '$SR'"
	if mkdir -p "$root/bind" && mount --bind "$HR" "$root/bind" \
		2>/dev/null; then
		FR=$root/bind
		snap restore-snapshot
		assert_rc "restore into a bind mount of the heap: refused" 1
		FR=$root/data HR=$root/bind
		snap restore-snapshot --no-save-snapshot-before \
			--no-save-snapshot-after
		assert_rc "restore from the heap through its bind mount" 0
		HR=$root/heap
		FR=$root/bind/sub
		snap restore-snapshot
		assert_rc "restore into a folder of the heap's bind mount" 1
		umount "$root/bind"
		# the heap inside FILE_ROOT through a mount only: no name
		# shows it; left out at the path the mount shows it
		mkdir -p "$root/data/mnt"
		mount --bind "$HR" "$root/data/mnt"
		FR=$root/data
		snap restore-snapshot --no-save-snapshot-before \
			--no-save-snapshot-after
		assert_rc "restore into a tree holding the heap by a mount" 0
		assert_eq "... the heap seen there is untouched" "$n" \
			"$(heap_objects "$root/data/mnt" | wc -l)"
		mkdir -p "$root/data/mnt2" "$root/data/sy"
		snap make-snapshot
		assert_rc "a backup of it" 0
		assert_eq "... stores nothing new (the heap left out)" 0 \
			"$(json_get "$SUMMARY" heap_objects_written)"
		snap compare-snapshots --path1 "$(head -n 1 "$OUT")" \
			--path2 "$(head -n 1 "$OUT")" --diff-state equal
		check "... and lists no heap object" \
			bash -c "! grep -q 'mnt/' '$OUT'"
		# a second mount of it, on a folder the snapshot holds
		# (empty): every path that shows it is left out
		mount --bind "$HR" "$root/data/mnt2"
		snap restore-snapshot --no-save-snapshot-before \
			--no-save-snapshot-after
		assert_rc "restore with the heap shown at two paths" 0
		assert_eq "... the heap keeps its objects" "$n" \
			"$(heap_objects "$HR" | wc -l)"
		# a folder inside the snapshot root bound in the tree: all
		# of what it shows is the snapshot root's
		mount --bind "$SR/$(ls "$SR" | grep -m1 '^[0-9]')" \
			"$root/data/sy"
		snap restore-snapshot --no-save-snapshot-before \
			--no-save-snapshot-after
		assert_rc "restore with a folder of the snapshot root bound" 0
		assert_eq "... every snapshot kept" 2 \
			"$(find "$SR" -name '*.msgpack' | wc -l)"
		umount "$root/data/sy"
		umount "$root/data/mnt2"
		umount "$root/data/mnt"
		rmdir "$root/data/mnt" "$root/data/mnt2" "$root/data/sy"
	else
		skip "outer roots: mount --bind not allowed here"
	fi
	assert_eq "outer roots: the heap keeps every object" "$n" \
		"$(heap_objects "$HR" | wc -l)"
	check "outer roots: the heap still verifies" heap_verify "$HR"
	check "outer roots: nothing was written into the heap" \
		test ! -e "$HR/new" -a ! -e "$HR/sub"
	assert_eq "outer roots: only the backup through the mount was added" \
		2 "$(find "$SR" -name '*.msgpack' | wc -l)"
}

# the heap a filesystem of its own (a backup disk; tmpfs here), bound in
# the tree: the mount's root is the heap's, and that path is left out
tmpfs_heap_case() {
	local root=$T/tmpfsheap first
	mkdir -p "$root/fr/hb" "$root/heap" "$root/snap"
	echo a >"$root/fr/a"
	if ! mount -t tmpfs snaptest "$root/heap" 2>/dev/null; then
		skip "tmpfs heap: mount not allowed here"
		return 0
	fi
	FR=$root/fr HR=$root/heap SR=$root/snap
	snap make-snapshot
	first=$(head -n 1 "$OUT")
	echo b >"$root/fr/b"
	snap make-snapshot
	mount --bind "$HR" "$root/fr/hb"
	snap restore-snapshot --path "$first" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore with the tmpfs heap bound in the tree" 0
	assert_eq "... the heap keeps both objects" 2 \
		"$(find "$HR" -type f | wc -l)"
	umount "$root/fr/hb"
	umount "$HR"
}

for_each_io nested
outer_case
tmpfs_heap_case
finish
