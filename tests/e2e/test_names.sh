#!/usr/bin/env bash
# test_names: awkward names survive a snapshot + restore round trip
# exactly: spaces, UTF-8, non-UTF-8 bytes, newline and tab in names,
# leading dash, glob and quote characters, 255-byte names, paths over
# 1,000 bytes, empty files, and (separately) a path longer than PATH_MAX.
. "$(dirname "$0")/lib.sh"

# mkdir_deep DIR LEVELS: LEVELS nested 250-byte dirs below DIR, created
# step by step (the full path exceeds PATH_MAX); a file at the bottom.
mkdir_deep() {
	(
		cd "$1" || exit 1
		for i in $(seq 1 "$2"); do
			mkdir "$(long_name 250 "x")" && cd "$(long_name 250 "x")" ||
				exit 1
		done
		echo bottom >"the file"
	)
}

# deep_md5 DIR LEVELS: md5 of the bottom file, reached step by step.
deep_md5() {
	(
		cd "$1" || exit 1
		for i in $(seq 1 "$2"); do
			cd "$(long_name 250 "x")" || exit 1
		done
		md5sum <"the file"
	)
}

names() {
	local src=$T/$IO.src dst=$T/$IO.dst n
	local deep=$T/$IO.deep deepdst=$T/$IO.deepdst

	new_roots "$IO"
	make_awkward_tree "$src" || die "cannot build the awkward tree"
	FR=$src
	make_snapshot || return
	n=$(count_files "$src")
	say "tree of $n files with awkward names"
	assert_ge "files_scanned counts every file" "$n" \
		"$(json_get "$SUMMARY" files_scanned)"

	mkdir -p "$dst"
	FR=$dst
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore the awkward tree" 0
	assert_trees_equal "$src" "$dst" "awkward names round trip exactly"
	assert_md5_equal "$src" "$dst"
	check "non-UTF-8 name restored byte for byte" \
		test -f "$dst/"$'bad\xff\xfename'
	check "newline name restored" test -f "$dst/"$'new\nline'
	check "255-byte name restored" test -f "$dst/$(long_name 255 L)"
	check "empty dir with a latin-1 byte restored" \
		test -d "$dst/empty dir "$'\xe9'

	# a second snapshot of the restored tree reuses everything and a
	# restore over it is a no-op
	FR=$dst
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore again over the identical tree" 0
	assert_eq "nothing copied the second time" 0 \
		"$(json_get "$SUMMARY" files_copied)"
	assert_trees_equal "$src" "$dst" "still equal"

	# paths beyond PATH_MAX (names are opened relative to dir fds)
	new_roots "$IO.deep"
	mkdir -p "$deep" "$deepdst"
	if ! mkdir_deep "$deep" 20; then
		skip "cannot create a path over PATH_MAX here"
		return
	fi
	echo top >"$deep/top"
	FR=$deep
	snap make-snapshot
	assert_rc "make-snapshot of a tree with a 5,000-byte path" 0
	[ "$RC" -eq 0 ] || return
	SNAP=$(head -n 1 "$OUT")
	FR=$deepdst
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore of a 5,000-byte path" 0
	assert_eq "the deep file restored with its content" \
		"$(deep_md5 "$deep" 20)" "$(deep_md5 "$deepdst" 20 2>/dev/null)"
	assert_trees_equal "$deep" "$deepdst" "deep tree listing equal"
}

# shapes: 3,000 entries with 100-byte names in one directory (many
# getdents batches) and 300 nested directories (deep recursion).
shapes() {
	local src=$T/$IO.shapes dst=$T/$IO.shapes.dst i p pad
	rm -rf "$src" "$dst"
	mkdir -p "$src/wide" "$dst"
	pad=$(long_name 90 w)
	for ((i = 0; i < 3000; i++)); do
		echo "$i" >"$src/wide/$pad$i"
	done
	p=$src/deep
	for ((i = 0; i < 300; i++)); do
		p=$p/d
	done
	mkdir -p "$p"
	echo "bottom" >"$p/f"
	new_roots "$IO.shapes"
	FR=$src
	make_snapshot || return
	assert_eq "every file scanned" 3001 "$(json_get "$SUMMARY" files_scanned)"
	FR=$dst
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore of the wide and deep tree" 0
	assert_trees_equal "$src" "$dst" "wide dir and 300 levels round trip"
}

for_each_io names
for_each_io shapes
finish
