#!/usr/bin/env bash
# test_dryrun: restore-snapshot --dry-run and sync --dry-run change
# nothing (tree listing, contents, metadata, snapshot root) and print the
# plan: the files they would write and delete; into a root that does not
# exist yet, restore plans the whole snapshot and creates nothing; into
# one that cannot be created (a file on the way) it fails, as the restore
# would. Its unsaved record of the tree goes into $TMPDIR. A root whose
# own mode or mtime would change is planned as "update .".
. "$(dirname "$0")/lib.sh"

# assert_plan_names DESC NAME...: stdout of the last run names each.
assert_plan_names() {
	local desc=$1 n
	shift
	for n in "$@"; do
		if grep -qF -- "$n" "$OUT"; then
			pass "$desc mentions '$n'"
		else
			fail "$desc does not mention '$n'"
			show_last
		fi
	done
}

dryrun() {
	local src=$T/$IO.src tgt=$T/$IO.tgt dst=$T/$IO.dst n

	new_roots "$IO"
	make_basic_tree "$src"
	FR=$src
	make_snapshot || return

	# a target that differs in every way
	cp -a "$src" "$tgt"
	echo "changed content" >"$tgt/text_file.txt"
	rm "$tgt/subdir2/file_2.txt"
	echo "extra" >"$tgt/subdir1/extra_file.txt"
	chmod 0600 "$tgt/subdir2/numbers.txt"
	touch -d '@1000000000' "$tgt/subdir1/subdir1_1/file_1_1.txt"
	rmdir "$tgt/empty_dir"
	tree_state "$tgt" >"$T/.before"
	tree_state "$src" >"$T/.src.before"
	n=$(snapshot_files "$SR" | wc -l)

	FR=$tgt
	snap restore-snapshot --path "$SNAP" --dry-run
	assert_rc "restore --dry-run" 0
	tree_state "$tgt" >"$T/.after"
	check "restore --dry-run changed nothing in the target" \
		cmp -s "$T/.before" "$T/.after"
	assert_eq "restore --dry-run saved no snapshot" "$n" \
		"$(snapshot_files "$SR" | wc -l)"
	check "restore --dry-run prints a plan" test -s "$OUT"
	assert_plan_names "restore plan" text_file.txt file_2.txt \
		extra_file.txt
	# the real restore then does what the plan said
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "the real restore after the dry run" 0
	assert_trees_equal "$src" "$tgt" "the real restore reaches the snapshot"

	# the unsaved state before (a scratch snapshot) goes where the user
	# keeps temps: $TMPDIR, as every other temp (it used /tmp)
	mkdir -p "$T/$IO.tmpd"
	TMPDIR=$T/$IO.tmpd snap restore-snapshot --path "$SNAP" --dry-run
	assert_rc "restore --dry-run with TMPDIR set" 0
	TMPDIR=$T/$IO.notmp snap restore-snapshot --path "$SNAP" --dry-run
	assert_rc "restore --dry-run with TMPDIR missing" 1
	assert_err_has "... names the temp folder" \
		"cannot create a temp file in '$T/$IO.notmp'"
	# sync into a folder keeps its list of deletions there, unnamed (it
	# used /tmp whatever TMPDIR said): a TMPDIR that cannot take a temp
	# does not matter, and nothing is left in DST
	mkdir -p "$T/$IO.tmpsync"
	echo "not in SRC" >"$T/$IO.tmpsync/extra"
	TMPDIR=$T/$IO.notmp run "$SNAPSHOOTER" --no-progress --io "$IO" \
		sync "$src" "$T/$IO.tmpsync"
	assert_rc "sync into a folder, TMPDIR missing" 0
	assert_trees_equal "$src" "$T/$IO.tmpsync" \
		"... copies the tree and deletes what SRC lacks"

	# sync --dry-run
	rm -rf "$tgt"
	mkdir -p "$dst"
	cp -a "$src/." "$dst/"
	echo "changed content" >"$dst/text_file.txt"
	rm "$dst/subdir2/file_2.txt"
	echo "extra" >"$dst/subdir1/extra_file.txt"
	tree_state "$dst" >"$T/.before"
	run "$SNAPSHOOTER" --no-progress --io "$IO" --json-file "$SUMMARY" \
		sync "$src" "$dst" --dry-run
	assert_rc "sync --dry-run" 0
	tree_state "$dst" >"$T/.after"
	check "sync --dry-run changed nothing in DST" \
		cmp -s "$T/.before" "$T/.after"
	tree_state "$src" >"$T/.after"
	check "sync --dry-run changed nothing in SRC" \
		cmp -s "$T/.src.before" "$T/.after"
	check "sync --dry-run prints a plan" test -s "$OUT"
	assert_plan_names "sync plan" text_file.txt file_2.txt extra_file.txt

	run "$SNAPSHOOTER" --no-progress --io "$IO" sync "$src" "$dst" \
		--dry-run --checksum --no-delete
	assert_rc "sync --dry-run --checksum --no-delete" 0
	tree_state "$dst" >"$T/.after"
	check "... changed nothing either" cmp -s "$T/.before" "$T/.after"

	# restore --dry-run into a root that does not exist yet: the plan
	# creates everything, and the root is still not there after
	n=$(snapshot_files "$SR" | wc -l)
	FR=$T/$IO.missing/deeper
	snap restore-snapshot --path "$SNAP" --dry-run
	assert_rc "restore --dry-run into a missing root" 0
	check "... creates no root" test ! -e "$T/$IO.missing"
	assert_eq "... saves no snapshot" "$n" \
		"$(snapshot_files "$SR" | wc -l)"
	assert_plan_names "its plan" text_file.txt file_2.txt numbers.txt \
		file_1_1.txt
	assert_eq "... plans no deletion" 0 "$(grep -c '^delete' "$OUT")"

	# a root behind a file cannot be created: the dry run fails as the
	# restore would, naming it (it planned from an empty tree before)
	: >"$T/$IO.afile"
	FR=$T/$IO.afile/x
	snap restore-snapshot --path "$SNAP" --dry-run
	assert_rc "restore --dry-run into a root behind a file" 1
	assert_err_has "... names it" "$T/$IO.afile/x"
	assert_err_has "... and why" "Not a directory"

	# the root's own mode and mtime: the real runs set them, so the
	# plan says "update ." (and nothing once they match)
	rm -rf "$tgt" && cp -a "$src" "$tgt"
	chmod 0700 "$tgt" && touch -d '@1000000000' "$tgt"
	FR=$tgt
	snap restore-snapshot --path "$SNAP" --dry-run
	assert_rc "restore --dry-run, only the root differs" 0
	assert_eq "... plans 'update .' alone" "update ." "$(cat "$OUT")"
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_eq "... which the real restore does" \
		"$(stat -c '%a %Y' "$src")" "$(stat -c '%a %Y' "$tgt")"
	snap restore-snapshot --path "$SNAP" --dry-run
	assert_eq "... then nothing is planned" "" "$(cat "$OUT")"
	chmod 0700 "$dst" && touch -d '@1000000000' "$dst"
	run "$SNAPSHOOTER" --no-progress --io "$IO" sync "$src" "$dst"
	chmod 0700 "$dst"
	run "$SNAPSHOOTER" --no-progress --io "$IO" sync --dry-run "$src" "$dst"
	assert_eq "sync --dry-run, only DST's root differs: 'update .'" \
		"update ." "$(cat "$OUT")"
	run "$SNAPSHOOTER" --no-progress --io "$IO" sync "$src" "$dst"
	run "$SNAPSHOOTER" --no-progress --io "$IO" sync --dry-run "$src" "$dst"
	assert_eq "... then nothing is planned" "" "$(cat "$OUT")"
	# an xattr DST's root has and SRC's lacks: removed, as inside
	if setfattr -n user.extra -v 1 "$dst" 2>/dev/null; then
		run "$SNAPSHOOTER" --no-progress --io "$IO" sync --dry-run \
			"$src" "$dst"
		assert_eq "an extra xattr on DST's root: 'update .'" \
			"update ." "$(cat "$OUT")"
		run "$SNAPSHOOTER" --no-progress --io "$IO" sync "$src" "$dst"
		assert_eq "... which the sync removes" "" \
			"$(getfattr --absolute-names -d "$dst" 2>/dev/null)"
		run "$SNAPSHOOTER" --no-progress --io "$IO" sync --dry-run \
			"$src" "$dst"
		assert_eq "... then nothing is planned" "" "$(cat "$OUT")"
	else
		skip "root xattrs: no user xattrs on this filesystem"
	fi
}

for_each_io dryrun
finish
