#!/usr/bin/env bash
# test_metadata: a restore brings back symlinks as symlinks with the same
# target (relative, absolute, dangling, pointing outside the tree, to a
# directory), file modes, mtimes to the nanosecond and empty directories;
# metadata-only differences are fixed in place; type changes are undone.
. "$(dirname "$0")/lib.sh"

build() {
	local d=$1
	mkdir -p "$d/dir/sub" "$d/empty" "$d/nested/empty/deeper" \
		"$d/private_empty"
	echo "target" >"$d/dir/target.txt"
	echo "secret" >"$d/mode0600"
	echo "script" >"$d/mode0755"
	echo "group" >"$d/mode0640"
	echo "ro" >"$d/mode0444"
	echo "ex" >"$d/dir/sub/mode0700"
	chmod 0600 "$d/mode0600"
	chmod 0755 "$d/mode0755"
	chmod 0640 "$d/mode0640"
	chmod 0444 "$d/mode0444"
	chmod 0700 "$d/dir/sub/mode0700"
	chmod 0700 "$d/private_empty"
	ln -s dir/target.txt "$d/rel_link"
	ln -s ../target.txt "$d/dir/sub/up_link"
	ln -s /etc/hostname "$d/abs_link"
	ln -s does/not/exist "$d/dangling"
	ln -s ../../outside/of/the/tree "$d/outside_link"
	ln -s dir "$d/dir_link"
	ln -s "with space/and"$'\xff' "$d/odd_target"
	# mtimes with a nanosecond part, one in the far past, one ahead
	touch -d '@1234567890.123456789' "$d/mode0600"
	touch -d '@1000000000.000000001' "$d/mode0755"
	touch -d '@4102444800.999999999' "$d/mode0640"
	touch -d '@1600000000.5' "$d/dir/target.txt"
	# before 1970: a negative time with a fraction
	echo "old" >"$d/before1970"
	touch -d '@-1000000000.25' "$d/before1970"
	# odd modes: none at all, setuid, setgid + sticky
	# (a mode 0000 file is readable by root only)
	[ "$(id -u)" -eq 0 ] && echo "none" >"$d/mode0000" &&
		chmod 0000 "$d/mode0000"
	echo "suid" >"$d/mode4755" && chmod 4755 "$d/mode4755"
	echo "sgid" >"$d/mode3750" && chmod 3750 "$d/mode3750"
	# symlink loops: stored as links, never followed by the scan
	ln -s loop "$d/loop"
	ln -s . "$d/dir/self"
	ln -s .. "$d/dir/sub/parent"
	# a hard link: two names, one content
	echo "linked" >"$d/hard1"
	ln "$d/hard1" "$d/hard2"
}

# type_case DESC SHELL: change $dst with SHELL, restore $SNAP, compare.
type_case() {
	eval "$2"
	FR=$dst
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore over $1" 0
	assert_trees_equal "$src" "$dst" "$1: undone"
	if [ "$RC" -ne 0 ]; then
		# start the next case from a clean copy
		rm -rf "$dst"
		cp -a "$src" "$dst"
	fi
}

metadata() {
	local src=$T/$IO.src dst=$T/$IO.dst m

	new_roots "$IO"
	build "$src"
	FR=$src
	make_snapshot || return
	mkdir -p "$dst"
	FR=$dst
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore of the metadata tree" 0
	assert_trees_equal "$src" "$dst" "tree with symlinks, modes, mtimes equal"

	for m in rel_link dir/sub/up_link abs_link dangling outside_link \
		dir_link odd_target; do
		if [ -L "$dst/$m" ]; then
			assert_eq "symlink $m has its target" \
				"$(readlink "$src/$m")" "$(readlink "$dst/$m")"
		else
			fail "$m is not restored as a symlink"
		fi
	done
	check "dir_link is not turned into a directory copy" \
		test -L "$dst/dir_link"
	check "dangling symlink stays dangling" test ! -e "$dst/dangling"
	for m in 0600 0755 0640 0444; do
		assert_eq "mode $m" "${m#0}" "$(stat -c %a "$dst/mode$m")"
	done
	assert_eq "mode 0700 in a subdir" 700 \
		"$(stat -c %a "$dst/dir/sub/mode0700")"
	assert_eq "mtime to the ns (2009)" "1234567890.123456789" \
		"$(stat -c %.9Y "$dst/mode0600")"
	assert_eq "mtime to the ns (2001, 1 ns)" "1000000000.000000001" \
		"$(stat -c %.9Y "$dst/mode0755")"
	assert_eq "mtime to the ns (2100)" "4102444800.999999999" \
		"$(stat -c %.9Y "$dst/mode0640")"
	assert_eq "mtime before 1970 to the ns" "-1000000000.250000000" \
		"$(stat -c %.9Y "$dst/before1970")"
	if [ -e "$src/mode0000" ]; then
		assert_eq "mode 0000" 0 "$(stat -c %a "$dst/mode0000")"
	fi
	assert_eq "mode 4755 (setuid)" 4755 "$(stat -c %a "$dst/mode4755")"
	assert_eq "mode 3750 (setgid, sticky)" 3750 \
		"$(stat -c %a "$dst/mode3750")"
	assert_eq "symlink loop restored as a link" loop \
		"$(readlink "$dst/loop")"
	assert_eq "link to its own dir restored" . "$(readlink "$dst/dir/self")"
	assert_eq "hard link: both names restored" "linked linked" \
		"$(cat "$dst/hard1") $(cat "$dst/hard2")"
	check "empty dir restored" test -d "$dst/empty"
	check "nested empty dir restored" test -d "$dst/nested/empty/deeper"
	assert_eq "empty dir mode 0700" 700 \
		"$(stat -c %a "$dst/private_empty")"

	# metadata-only differences: fixed in place, nothing copied
	chmod 0666 "$dst/mode0600"
	touch -d '@1' "$dst/mode0755"
	FR=$dst
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore over a tree with changed modes/mtimes" 0
	assert_trees_equal "$src" "$dst" "modes and mtimes fixed"
	assert_eq "no content copied for metadata fixes" 0 \
		"$(json_get "$SUMMARY" files_copied)"
	assert_eq "two files updated in place" 2 \
		"$(json_get "$SUMMARY" files_updated)"

	# type changes in the target are undone, one case at a time
	type_case "new content in a read-only file" \
		'chmod u+w "$dst/mode0444" && echo "rewritten" >"$dst/mode0444" &&
		chmod 0444 "$dst/mode0444"'
	type_case "a symlink replaced by a file" \
		'rm "$dst/rel_link" && echo "now a file" >"$dst/rel_link"'
	type_case "a file replaced by a symlink to /etc/passwd" \
		'rm "$dst/mode0640" && ln -s /etc/passwd "$dst/mode0640"'
	check "/etc/passwd untouched by replacing the symlink to it" \
		test -s /etc/passwd
	type_case "an empty dir replaced by a file" \
		'rm -r "$dst/empty" && echo "file" >"$dst/empty"'
	type_case "a file replaced by a directory with content" \
		'rm "$dst/mode0755" && mkdir -p "$dst/mode0755/d" &&
		echo x >"$dst/mode0755/d/f"'
	type_case "a dir symlink replaced by a dir with content" \
		'rm "$dst/dir_link" && mkdir "$dst/dir_link" &&
		echo x >"$dst/dir_link/extra"'
	type_case "a dangling symlink retargeted" \
		'rm "$dst/dangling" && ln -s elsewhere "$dst/dangling"'
	type_case "an extra empty dir" 'mkdir -p "$dst/new_empty_dir/sub"'
	type_case "a non-empty dir replaced by a symlink" \
		'rm -r "$dst/dir" && ln -s /etc "$dst/dir"'
}

for_each_io metadata
finish
