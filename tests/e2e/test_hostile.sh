#!/usr/bin/env bash
# test_hostile: a restore never writes (or deletes) outside FILE_ROOT.
# Crafted snapshots (tests/e2e/craft.sh) with '../' names, absolute
# names, '.' and empty components are refused before anything changes;
# duplicate names, a file that is also a directory and paths through a
# symlink of the same snapshot are refused or resolved inside the root;
# symlinks planted in the restore target are replaced, never followed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/craft.sh"

# outside_state: what lies outside the root (must never change).
outside_state() {
	tree_state "$OUTSIDE"
	find "$(dirname "$OUTSIDE")" -maxdepth 1 -name '*victim*' | sort
}

# restore_crafted DESC FILE: restore a crafted snapshot into a fresh
# target holding one file; sets $TGT.
restore_crafted() {
	TGT=$T/$IO.target.$((++NTGT))
	mkdir -p "$TGT"
	echo "keep me" >"$TGT/keep"
	tree_state "$TGT" >"$T/.tgt.before"
	outside_state >"$T/.out.before"
	FR=$TGT
	snap restore-snapshot --path "$2" --no-save-snapshot-before \
		--no-save-snapshot-after
	[ -s "$ERR" ] && say "     ($(head -n 1 "$ERR" | clip))"
	outside_state >"$T/.out.after"
	if cmp -s "$T/.out.before" "$T/.out.after"; then
		pass "$1: nothing written or deleted outside the root"
	else
		fail "$1: OUTSIDE THE ROOT CHANGED"
		diff "$T/.out.before" "$T/.out.after" | head | sed 's/^/    /'
		reset_outside
	fi
}

# refused DESC FILE: must fail (exit 1) naming the snapshot, target intact.
refused() {
	restore_crafted "$1" "$2"
	assert_rc "$1: refused" 1
	assert_err_has "$1: the message names the snapshot" "$(basename "$2")"
	tree_state "$TGT" >"$T/.tgt.after"
	check "$1: target unchanged" cmp -s "$T/.tgt.before" "$T/.tgt.after"
}

reset_outside() {
	rm -rf "$OUTSIDE" "$VICTIM_ABS"
	mkdir -p "$OUTSIDE"
	echo "precious" >"$OUTSIDE/precious"
}

hostile() {
	local src=$T/$IO.src c=$T/$IO.crafted m1 m2 s1 s2 v
	NTGT=0
	OUTSIDE=$T/$IO.outside
	VICTIM_ABS=$T/$IO.victim_abs
	reset_outside
	new_roots "$IO"
	mkdir -p "$src" "$c"
	echo "payload one" >"$src/one"
	echo "payload number two" >"$src/two"
	FR=$src
	make_snapshot || return
	m1=$(md5sum <"$src/one" | cut -c1-32)
	m2=$(md5sum <"$src/two" | cut -c1-32)
	s1=$(stat -c %s "$src/one")
	s2=$(stat -c %s "$src/two")

	# positive control: a benign crafted snapshot restores exactly
	craft_begin "$c/benign.msgpack"
	craft_file "a" "$m1" "$s1" 416 1600000000123456789
	craft_file "d/b" "$m2" "$s2"
	craft_dir "e"
	craft_symlink "l" "a"
	craft_end
	restore_crafted "benign crafted snapshot" "$c/benign.msgpack"
	assert_rc "benign crafted snapshot restores" 0
	if [ "$RC" -eq 0 ]; then
		assert_eq "crafted file a restored" "payload one" "$(cat "$TGT/a")"
		assert_eq "crafted file d/b restored" "payload number two" \
			"$(cat "$TGT/d/b")"
		assert_eq "crafted mode 0640" 640 "$(stat -c %a "$TGT/a")"
		assert_eq "crafted mtime" 1600000000.123456789 \
			"$(stat -c %.9Y "$TGT/a")"
		check "crafted empty dir" test -d "$TGT/e"
		assert_eq "crafted symlink" a "$(readlink "$TGT/l")"
		check "extra file 'keep' deleted" test ! -e "$TGT/keep"
	else
		say "note: the crafting helper may disagree with the format;" \
			"the refusals below may then be for the wrong reason"
	fi

	# names that escape the root: refused up front
	craft_begin "$c/dotdot.msgpack"
	craft_file "../${IO}.outside/escape" "$m2" "$s2"
	craft_file "a" "$m1" "$s1"
	craft_end
	refused "'../' name" "$c/dotdot.msgpack"

	craft_begin "$c/inner-dotdot.msgpack"
	craft_file "a" "$m1" "$s1"
	craft_file "sub/../../${IO}.outside/escape" "$m2" "$s2"
	craft_end
	refused "'sub/../../' name" "$c/inner-dotdot.msgpack"

	craft_begin "$c/absolute.msgpack"
	craft_file "$VICTIM_ABS" "$m2" "$s2"
	craft_file "a" "$m1" "$s1"
	craft_end
	refused "absolute name" "$c/absolute.msgpack"
	check "absolute name: no file at the absolute path" \
		test ! -e "$VICTIM_ABS"

	craft_begin "$c/dot.msgpack"
	craft_file "./a" "$m1" "$s1"
	craft_end
	refused "'./' name" "$c/dot.msgpack"

	craft_begin "$c/empty-component.msgpack"
	craft_file "a//b" "$m1" "$s1"
	craft_end
	refused "empty path component" "$c/empty-component.msgpack"

	craft_begin "$c/trailing-slash.msgpack"
	craft_file "a/" "$m1" "$s1"
	craft_end
	refused "trailing slash" "$c/trailing-slash.msgpack"

	craft_begin "$c/dotdot-symlink-name.msgpack"
	craft_symlink ".." "/"
	craft_end
	refused "symlink named '..'" "$c/dotdot-symlink-name.msgpack"

	# duplicate names with different contents: refused, or one wins
	craft_begin "$c/duplicate.msgpack"
	craft_file "dup" "$m1" "$s1"
	craft_file "dup" "$m2" "$s2"
	craft_end
	restore_crafted "duplicate names" "$c/duplicate.msgpack"
	case "$RC" in
	1)
		assert_err_has "duplicate names: refusal names the file" "dup"
		;;
	0)
		v=$(cat "$TGT/dup" 2>/dev/null)
		case "$v" in
		"payload one" | "payload number two")
			pass "duplicate names: one version restored ($v)" ;;
		*) fail "duplicate names: exit 0 but dup holds '$v'" ;;
		esac
		;;
	*) fail "duplicate names: exit $RC (expected 1 or 0)"; show_last ;;
	esac

	# a file that is also a directory
	craft_begin "$c/file-and-dir.msgpack"
	craft_file "x" "$m1" "$s1"
	craft_file "x/y" "$m2" "$s2"
	craft_end
	restore_crafted "file that is also a dir" "$c/file-and-dir.msgpack"
	case "$RC" in
	0 | 1) pass "file that is also a dir: clean outcome (exit $RC)" ;;
	*) fail "file that is also a dir: exit $RC"; show_last ;;
	esac

	# a path through a symlink of the same snapshot (the classic escape:
	# create link -> outside, then write link/file)
	craft_begin "$c/through-abs-link.msgpack"
	craft_symlink "link" "$OUTSIDE"
	craft_file "link/evil" "$m2" "$s2"
	craft_end
	restore_crafted "file below an absolute symlink of the snapshot" \
		"$c/through-abs-link.msgpack"
	case "$RC" in
	0 | 1) pass "through absolute link: clean outcome (exit $RC)" ;;
	*) fail "through absolute link: exit $RC"; show_last ;;
	esac
	check "through absolute link: no $OUTSIDE/evil" test ! -e "$OUTSIDE/evil"

	craft_begin "$c/through-rel-link.msgpack"
	craft_symlink "link" "../${IO}.outside"
	craft_file "link/evil" "$m2" "$s2"
	craft_end
	restore_crafted "file below a relative '../' symlink of the snapshot" \
		"$c/through-rel-link.msgpack"
	case "$RC" in
	0 | 1) pass "through relative link: clean outcome (exit $RC)" ;;
	*) fail "through relative link: exit $RC"; show_last ;;
	esac

	craft_begin "$c/dir-through-link.msgpack"
	craft_symlink "ldir" "$OUTSIDE"
	craft_dir "ldir/newdir"
	craft_end
	restore_crafted "empty dir below a symlink of the snapshot" \
		"$c/dir-through-link.msgpack"
	check "dir through link: no $OUTSIDE/newdir" test ! -e "$OUTSIDE/newdir"

	# the same refusal in --dry-run mode
	restore_dry "$c/dotdot.msgpack"

	# a symlink planted in the restore target where the snapshot has a
	# directory: replaced by a real directory, or a clean refusal
	planted
	planted_inside
}

# restore_dry FILE: --dry-run of a hostile snapshot refuses too.
restore_dry() {
	TGT=$T/$IO.target.dry
	mkdir -p "$TGT"
	FR=$TGT
	snap restore-snapshot --path "$1" --dry-run
	assert_rc "--dry-run of a '../' snapshot refuses" 1
}

# planted_inside: target symlinks pointing to other directories of the
# same tree (sub -> sub2): following one would write sub's files into sub2
# and then delete them there as extras.
planted_inside() {
	local src=$T/$IO.isrc tgt=$T/$IO.iplanted
	rm -rf "$src" "$tgt"
	mkdir -p "$src/sub" "$src/sub2" "$tgt/sub2"
	echo "in sub" >"$src/sub/file"
	echo "in sub2" >"$src/sub2/other"
	echo "in sub2" >"$tgt/sub2/other"
	ln -s sub2 "$tgt/sub"
	new_roots "$IO.inside"
	FR=$src
	make_snapshot || return
	FR=$tgt
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore over sub -> sub2 planted in the target" 0
	assert_trees_equal "$src" "$tgt" "sub is a real dir, sub2 unchanged"
}

planted() {
	local src=$T/$IO.psrc tgt=$T/$IO.planted
	mkdir -p "$src/sub/deeper" "$src/sub/empty"
	echo "in sub" >"$src/sub/file"
	echo "deeper" >"$src/sub/deeper/file"
	echo "top" >"$src/victim"
	FR=$src
	make_snapshot || return

	mkdir -p "$tgt"
	ln -s "$OUTSIDE" "$tgt/sub"
	echo "outside victim" >"$OUTSIDE/victim"
	ln -s "$OUTSIDE/victim" "$tgt/victim"
	outside_state >"$T/.out.before"
	FR=$tgt
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	outside_state >"$T/.out.after"
	if cmp -s "$T/.out.before" "$T/.out.after"; then
		pass "planted symlinks: nothing written or deleted outside"
	else
		fail "planted symlinks: OUTSIDE THE ROOT CHANGED"
		diff "$T/.out.before" "$T/.out.after" | head | sed 's/^/    /'
	fi
	assert_eq "outside victim file intact" "outside victim" \
		"$(cat "$OUTSIDE/victim")"
	case "$RC" in
	0)
		pass "planted symlinks: restore succeeded"
		check "planted dir symlink replaced by a real dir" \
			test -d "$tgt/sub" -a ! -L "$tgt/sub"
		check "planted file symlink replaced by a regular file" \
			test -f "$tgt/victim" -a ! -L "$tgt/victim"
		assert_trees_equal "$src" "$tgt" "planted: result equals snapshot"
		;;
	1)
		pass "planted symlinks: clean refusal"
		check "the refusal has a message" test -s "$ERR"
		;;
	*) fail "planted symlinks: exit $RC"; show_last ;;
	esac
}

for_each_io hostile
finish
