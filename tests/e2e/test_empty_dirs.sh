#!/usr/bin/env bash
# test_empty_dirs: an empty directory of the snapshot (restore) or of the
# source (sync) whose copy in the tree holds extra files comes back
# empty: the extras go, the directory stays, with its mode. Until
# 2026-12-06 both commands deleted the directory as "emptied" after the
# extras and then failed setting its metadata ("cannot set the owner of
# 'dst/cache': No such file or directory"), leaving it missing. Also:
# directories the target lacks still go (extra trees, a directory where
# the target has a file or a symlink).
. "$(dirname "$0")/lib.sh"

# extras DIR: what the tree gains after the snapshot (or beside the
# source): files in the empty directories, nested ones, a whole extra
# tree, a directory where the source has a file, and one where it has a
# symlink to a directory holding a directory of the same name (lnk ->
# d, with d/deep: the mirror's lnk/deep is not the source's d/deep).
extras() {
	local d=$1

	rm -f "$d/lnk"
	mkdir -p "$d/lnk/deep"
	echo l >"$d/lnk/deep/l"
	mkdir -p "$d/cache/deep/er" "$d/k/empty/more" "$d/gone/sub" \
		"$d/tofile/in"
	echo x >"$d/cache/x"
	echo y >"$d/cache/deep/er/y"
	echo z >"$d/k/empty/more/z"
	echo g >"$d/gone/sub/g"
	echo t >"$d/tofile/in/t"
}

# kept_checks WHAT DIR WANT: after WHAT (restore, sync) over extras():
# the empty directories are there, empty, with their mode; the extra
# tree and the directory where WANT has a file are gone; DIR is WANT.
kept_checks() {
	local what=$1 d=$2 want=$3 e

	for e in cache k/empty; do
		check "$what: $e/ is there" test -d "$d/$e"
		check "$what: $e/ is empty" \
			test -z "$(find "$d/$e" -mindepth 1 | head -n 1)"
	done
	check "$what: cache/ has its mode" test "$(stat -c %a "$d/cache")" = 750
	check "$what: the extra tree gone/ is gone" test ! -e "$d/gone"
	check "$what: tofile is a file" test -f "$d/tofile"
	check "$what: lnk is the symlink again" test -L "$d/lnk"
	assert_trees_equal "$want" "$d" "$what: the tree is the target"
}

empty_dirs_test() {
	local src=$T/$IO.src dst=$T/$IO.dst

	rm -rf "$src" "$dst"
	mkdir -p "$src/cache" "$src/k/empty" "$src/d"
	chmod 0750 "$src/cache"
	echo a >"$src/d/a"
	mkdir -p "$src/d/deep"
	ln -s d "$src/lnk"
	echo f >"$src/tofile"

	# restore: the snapshot has cache/ and k/empty/ empty
	FR=$src
	new_roots "$IO"
	make_snapshot || return
	local want=$T/$IO.want
	rm -rf "$want"
	cp -a "$src" "$want"
	rm -f "$src/tofile"
	extras "$src"
	snap restore-snapshot --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore over extras in empty directories" 0
	kept_checks restore "$src" "$want"

	# sync: the source has them empty, the destination holds extras
	mkdir -p "$dst"
	extras "$dst"
	rm -rf "$dst/tofile/in"
	mkdir -p "$dst/tofile/in"
	echo t >"$dst/tofile/in/t"
	do_sync() {
		run "$SNAPSHOOTER" --no-progress --io "$IO" sync "$@"
	}
	do_sync "$want" "$dst"
	assert_rc "sync over extras in empty directories" 0
	kept_checks sync "$dst" "$want"
}

for_each_io empty_dirs_test
finish
