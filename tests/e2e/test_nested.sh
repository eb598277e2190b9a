#!/usr/bin/env bash
# test_nested: HEAP_ROOT and SNAP_ROOT inside FILE_ROOT (a common layout:
# /data/.heap, /data/.snapshots). Either refused up front, or the roots
# are left out of the snapshot and a restore never deletes them.
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

for_each_io nested
finish
