#!/usr/bin/env bash
# test_sync: local-to-local `sync SRC DST` on the awkward-names tree: DST
# becomes equal to SRC (rsync agrees when installed); a second run copies
# nothing; changes, additions and deletions propagate; --checksum,
# --size-only, --no-delete, --max-delete, --include/--exclude/
# --exclude-from; DST inside SRC is refused; symlinks in DST are never
# followed.
. "$(dirname "$0")/lib.sh"

# sync ARGS...: run the sync command with a JSON summary.
do_sync() {
	run "$SNAPSHOOTER" --no-progress --io "$IO" --json-file "$SUMMARY" \
		sync "$@"
}

# rsync_agrees SRC DST: rsync (checksum mode) finds nothing to do.
# Directory-time-only and symlink-time-only differences are tolerated.
rsync_agrees() {
	local d
	if ! command -v rsync >/dev/null 2>&1; then
		say "info: rsync not installed, cross-check skipped"
		return 0
	fi
	d=$(rsync -ani --checksum --delete --out-format='%i %n' "$1/" "$2/" |
		grep -v '^\./$' | grep -vE '^\.d\.\.t[. ]* ' |
		grep -vE '^\.L\.\.t[. ]* ')
	if [ -z "$d" ]; then
		return 0
	fi
	printf '%s\n' "$d" | head -n 10 | sed 's/^/    /'
	return 1
}

sync_test() {
	local src=$T/$IO.src dst=$T/$IO.dst out=$T/$IO.outside

	rm -rf "$src" "$dst" "$out"
	make_awkward_tree "$src"
	make_basic_tree "$src/basic"
	ln -s basic/text_file.txt "$src/link"
	ln -s /nonexistent/target "$src/dangling"
	mkdir -p "$src/empty_dir_top"
	mkdir -p "$dst"

	do_sync "$src" "$dst"
	assert_rc "sync into an empty DST" 0
	assert_summary_keys "sync"
	assert_trees_equal "$src" "$dst" "DST equals SRC after the first sync"
	check "rsync --checksum finds nothing to do" rsync_agrees "$src" "$dst"
	assert_ge "files_copied counts the files" \
		"$(count_files "$src")" \
		"$(json_get "$SUMMARY" files_copied)"

	do_sync "$src" "$dst"
	assert_rc "second sync, nothing changed" 0
	assert_json "no-change run copies nothing" files_copied 0
	assert_json "no-change run deletes nothing" files_deleted 0
	assert_json "no-change run writes no bytes" bytes_written 0
	assert_trees_equal "$src" "$dst" "still equal"

	# changes, additions, deletions
	echo "changed, and longer than before" >"$src/basic/text_file.txt"
	echo "new content, older mtime" >"$src/a" &&
		touch -d '@1500000000' "$src/a"
	echo "new file" >"$src/basic/subdir1/new file"
	mkdir -p "$src/new dir/inner"
	echo "in new dir" >"$src/new dir/inner/f"
	rm "$src/basic/subdir2/file_2.txt"
	rm -r "$src/basic/subdir1/subdir1_1"
	chmod 0600 "$src/basic/subdir2/numbers.txt"
	rm "$src/link" && ln -s basic/empty_file.txt "$src/link"
	rmdir "$src/empty_dir_top" && echo "was a dir" >"$src/empty_dir_top"
	do_sync "$src" "$dst"
	assert_rc "sync of changes" 0
	assert_trees_equal "$src" "$dst" "changes, additions, deletions propagated"
	check "rsync agrees after the changes" rsync_agrees "$src" "$dst"
	assert_ge "files_deleted counts deletions" 2 \
		"$(json_get "$SUMMARY" files_deleted)"

	# a mode-only change is fixed in place
	chmod 0640 "$src/basic/subdir2/random.bin"
	do_sync "$src" "$dst"
	assert_rc "sync of a mode-only change" 0
	assert_json "mode-only change: nothing copied" files_copied 0
	assert_json "mode-only change: one file updated" files_updated 1
	assert_eq "mode-only change: mode fixed" 640 \
		"$(stat -c %a "$dst/basic/subdir2/random.bin")"

	# type conflicts in DST: a dir where SRC has a file and the reverse
	rm -f "$dst/basic/subdir2/numbers.txt"
	mkdir -p "$dst/basic/subdir2/numbers.txt/inner"
	echo x >"$dst/basic/subdir2/numbers.txt/inner/x"
	rm -rf "$dst/basic/subdir2/random.bin"
	rm -rf "$dst/new dir"
	echo "a file where a dir belongs" >"$dst/new dir"
	do_sync "$src" "$dst"
	assert_rc "sync over type conflicts in DST" 0
	assert_trees_equal "$src" "$dst" "type conflicts resolved"

	# same size and mtime, different content: only --checksum sees it
	echo "AAAA" >"$src/samesize" && cp -a "$src/samesize" "$dst/samesize"
	echo "BBBB" >"$src/samesize"
	touch -r "$dst/samesize" "$src/samesize"
	do_sync "$src" "$dst"
	assert_rc "default sync (size+mtime)" 0
	if [ "$(cat "$dst/samesize")" = AAAA ]; then
		pass "default compare skips same size+mtime (like rsync)"
	else
		say "info: default compare copied a same size+mtime file"
	fi
	do_sync "$src" "$dst" --checksum
	assert_rc "sync --checksum" 0
	assert_eq "--checksum copies the same-size file" BBBB \
		"$(cat "$dst/samesize")"
	assert_json "--checksum copies exactly that file" files_copied 1
	assert_trees_equal "$src" "$dst" "equal after --checksum"

	# --size-only: an mtime-only change is not a reason to copy
	touch -d '@1400000000' "$src/basic/subdir2/numbers.txt"
	do_sync "$src" "$dst" --size-only
	assert_rc "sync --size-only" 0
	assert_json "--size-only: mtime-only change copies nothing" \
		files_copied 0
	do_sync "$src" "$dst"
	assert_rc "sync after --size-only" 0
	assert_trees_equal "$src" "$dst" "the default run fixes the mtime"

	# --no-delete keeps extras
	echo "extra 1" >"$dst/extra1"
	echo "extra 2" >"$dst/basic/extra2"
	do_sync "$src" "$dst" --no-delete
	assert_rc "sync --no-delete" 0
	check "--no-delete keeps extra1" test -f "$dst/extra1"
	check "--no-delete keeps basic/extra2" test -f "$dst/basic/extra2"
	assert_json "--no-delete deletes nothing" files_deleted 0

	# --max-delete 1 with 2 deletions: fails, deletes nothing
	do_sync "$src" "$dst" --max-delete 1
	assert_rc "--max-delete 1 with 2 deletions fails" 1
	check "--max-delete: extra1 kept" test -f "$dst/extra1"
	check "--max-delete: basic/extra2 kept" test -f "$dst/basic/extra2"
	check "--max-delete: the message names the limit" \
		grep -qiE 'max-delete|delet' "$ERR"
	do_sync "$src" "$dst" --max-delete 2
	assert_rc "--max-delete 2 with 2 deletions succeeds" 0
	assert_trees_equal "$src" "$dst" "equal after --max-delete 2"

	# DST inside SRC, SRC inside DST, SRC = DST: refused, nothing changes
	tree_state "$src" >"$T/.before"
	do_sync "$src" "$src/inner-dst"
	case "$RC" in
	1 | 2) pass "DST inside SRC refused (exit $RC)" ;;
	*) fail "DST inside SRC: exit $RC"; show_last ;;
	esac
	check "DST inside SRC: message on stderr" test -s "$ERR"
	do_sync "$src/basic" "$src"
	case "$RC" in
	1 | 2) pass "SRC inside DST refused (exit $RC)" ;;
	*) fail "SRC inside DST: exit $RC"; show_last ;;
	esac
	do_sync "$src" "$src"
	case "$RC" in
	0 | 1 | 2) pass "SRC = DST: clean outcome (exit $RC)" ;;
	*) fail "SRC = DST: exit $RC" ;;
	esac
	do_sync "$src/" "$src/./basic/.."
	case "$RC" in
	0 | 1 | 2) pass "SRC = DST spelled differently: clean outcome (exit $RC)" ;;
	*) fail "SRC = DST spelled differently: exit $RC" ;;
	esac
	tree_state "$src" >"$T/.after"
	check "SRC untouched by the refused syncs" \
		cmp -s "$T/.before" "$T/.after"

	# bad arguments
	do_sync "$T/no-such-src" "$dst"
	assert_rc "a missing SRC fails" 1
	assert_err_has "... naming it" "no-such-src"
	echo "a file" >"$T/$IO.file-dst"
	do_sync "$src" "$T/$IO.file-dst"
	case "$RC" in
	1 | 2) pass "a regular file as DST is refused (exit $RC)" ;;
	*) fail "a regular file as DST: exit $RC"; show_last ;;
	esac
	assert_eq "the file DST is untouched" "a file" "$(cat "$T/$IO.file-dst")"
	do_sync "$src" "$dst" --max-delete 0
	assert_rc "--max-delete 0 with nothing to delete succeeds" 0

	# symlinks in DST are never followed
	mkdir -p "$out"
	echo "precious" >"$out/precious"
	echo "victim" >"$out/victim"
	tree_state "$out" >"$T/.out.before"
	rm -rf "$dst/basic/subdir1"
	ln -s "$out" "$dst/basic/subdir1"
	rm -f "$dst/a"
	ln -s "$out/victim" "$dst/a"
	ln -s "$out" "$dst/extra_link_to_outside"
	do_sync "$src" "$dst"
	assert_rc "sync over symlinks planted in DST" 0
	tree_state "$out" >"$T/.out.after"
	check "nothing written or deleted through DST's symlinks" \
		cmp -s "$T/.out.before" "$T/.out.after"
	check "the planted dir symlink became a real dir" \
		test -d "$dst/basic/subdir1" -a ! -L "$dst/basic/subdir1"
	check "the planted file symlink became a regular file" \
		test -f "$dst/a" -a ! -L "$dst/a"
	assert_trees_equal "$src" "$dst" "equal after replacing the symlinks"

	# a DST symlink to another dir of DST (basic/subdir1 -> subdir2) is
	# replaced, not followed (following it would write into subdir2)
	rm -rf "$dst/basic/subdir1"
	ln -s subdir2 "$dst/basic/subdir1"
	do_sync "$src" "$dst"
	assert_rc "sync over a DST symlink into DST" 0
	assert_trees_equal "$src" "$dst" "inner DST symlink replaced"

	# special files in SRC are skipped with a warning
	mkfifo "$src/a_fifo"
	do_sync "$src" "$dst"
	assert_rc "sync with a FIFO in SRC" 0
	assert_err_has "a warning names the FIFO" "a_fifo"
	check "the FIFO is not created in DST" test ! -e "$dst/a_fifo"
	assert_ge "files_skipped counts it" 1 \
		"$(json_get "$SUMMARY" files_skipped)"
	rm "$src/a_fifo"

	# SRC with or without a trailing slash: the same (no rsync subtlety)
	rm -rf "$T/$IO.slash1" "$T/$IO.slash2"
	mkdir -p "$T/$IO.slash1" "$T/$IO.slash2"
	do_sync "$src/basic" "$T/$IO.slash1"
	assert_rc "sync SRC DST" 0
	do_sync "$src/basic/" "$T/$IO.slash2/"
	assert_rc "sync SRC/ DST/" 0
	assert_trees_equal "$T/$IO.slash1" "$T/$IO.slash2" \
		"a trailing slash changes nothing"
	assert_trees_equal "$src/basic" "$T/$IO.slash1" "sync of a subtree"

	# a DST that does not exist yet
	do_sync "$src" "$T/$IO.newdst"
	if [ "$RC" -eq 0 ]; then
		assert_trees_equal "$src" "$T/$IO.newdst" "sync creates a missing DST"
	else
		say "info: sync into a missing DST: exit $RC: $(head -n 1 "$ERR")"
	fi

	# filters
	filters
}

filters() {
	local src=$T/$IO.fsrc dst
	rm -rf "$src"
	mkdir -p "$src/cache/deep" "$src/sub/cache" "$src/logs"
	echo a >"$src/keep.txt"
	echo b >"$src/sub/keep.txt"
	echo c >"$src/debug.log"
	echo d >"$src/logs/app.log"
	echo e >"$src/keep.log"
	echo f >"$src/cache/x" && echo g >"$src/cache/deep/y"
	echo h >"$src/sub/cache/z"
	echo i >"$src/junk.tmp" && echo j >"$src/sub/more.tmp"
	echo k >"$src/other.dat"

	dst=$T/$IO.fdst1
	mkdir -p "$dst"
	echo "dst's own log" >"$dst/own.log"
	do_sync "$src" "$dst" --exclude '*.log'
	assert_rc "sync --exclude '*.log'" 0
	check "--exclude: debug.log not copied" test ! -e "$dst/debug.log"
	check "--exclude: logs/app.log not copied" test ! -e "$dst/logs/app.log"
	check "--exclude: keep.txt copied" test -f "$dst/keep.txt"
	check "--exclude: sub/keep.txt copied" test -f "$dst/sub/keep.txt"
	check "--exclude: an excluded name in DST is not deleted" \
		test -f "$dst/own.log"

	dst=$T/$IO.fdst2
	mkdir -p "$dst"
	do_sync "$src" "$dst" --include 'keep.*' --exclude '*.log'
	assert_rc "sync --include 'keep.*' --exclude '*.log'" 0
	check "include wins: keep.log copied" test -f "$dst/keep.log"
	check "exclude still applies: debug.log not copied" \
		test ! -e "$dst/debug.log"

	dst=$T/$IO.fdst3
	mkdir -p "$dst"
	do_sync "$src" "$dst" --include '*.txt'
	assert_rc "sync --include '*.txt' alone" 0
	assert_eq "--include '*.txt' alone: only the .txt files" \
		"$(printf '%s\n' ./keep.txt ./sub/keep.txt)" \
		"$(cd "$dst" && find . -type f | sort)"

	dst=$T/$IO.fdst4
	mkdir -p "$dst"
	printf '# temp files\n*.tmp\n\n/cache/\n' >"$T/$IO.excludes"
	do_sync "$src" "$dst" --exclude-from "$T/$IO.excludes"
	assert_rc "sync --exclude-from" 0
	check "--exclude-from: junk.tmp not copied" test ! -e "$dst/junk.tmp"
	check "--exclude-from: sub/more.tmp not copied" \
		test ! -e "$dst/sub/more.tmp"
	check "--exclude-from: top cache/ pruned" test ! -e "$dst/cache"
	check "--exclude-from: anchored rule keeps sub/cache/z" \
		test -f "$dst/sub/cache/z"
	check "--exclude-from: debug.log copied" test -f "$dst/debug.log"

	run "$SNAPSHOOTER" --no-progress sync "$src" "$dst" \
		--exclude-from "$T/no-such-file"
	case "$RC" in
	1 | 2) pass "--exclude-from a missing file fails (exit $RC)" ;;
	*) fail "--exclude-from a missing file: exit $RC" ;;
	esac
	assert_err_has "... naming the file" "no-such-file"

	# a file replacing a DST directory that holds excluded entries: the
	# directory cannot go (its excluded content is not the sync's to
	# delete); the failure says which and why, the excluded file stays
	src=$T/$IO.ksrc dst=$T/$IO.kdst
	rm -rf "$src" "$dst"
	mkdir -p "$src" "$dst/z/cache"
	echo f >"$src/z"
	echo kept >"$dst/z/cache/c"
	do_sync "$src" "$dst" --exclude 'cache/'
	assert_rc "a file over a directory with excluded entries fails" 1
	assert_err_has "the message names the directory and why" \
		"cannot replace the directory 'z' in '$dst' with a file: --exclude/--include or --no-delete keep it or entries in it"
	assert_eq "the excluded file stays" kept "$(cat "$dst/z/cache/c")"
}

# A file that changes whenever it is copied is never published torn: each
# copy is checked against the file's stat before it, three times, then
# the run fails naming it. --bwlimit stretches each copy to ~1 s; the
# appender changes the file every 10 ms (no timing is asserted: a copy
# that spans one append is enough).
changing_test() {
	local src=$T/$IO.csrc dst=$T/$IO.cdst apid
	rm -rf "$src" "$dst"
	mkdir -p "$src" "$dst"
	head -c 2097152 /dev/urandom >"$src/grow"
	( while :; do printf x >>"$src/grow"; sleep 0.01; done ) &
	apid=$!
	do_sync "$src" "$dst" --bwlimit 2M
	kill "$apid"
	wait "$apid" 2>/dev/null
	assert_rc "a file that keeps changing fails the sync" 1
	assert_err_has "... saying so" "kept changing while being copied"
	assert_err_has "... naming the file under SRC" "$src/grow"
	assert_eq "... and nothing is published in DST" "" \
		"$(cd "$dst" && find . -mindepth 1)"
}

# DST inside SRC through a bind mount (one directory, two paths): the
# names do not show it, the mount table does; refused like the plain
# case, and the reverse too. Root only (mount), else skipped.
bind_mount_nesting() {
	local src=$T/bsrc mnt=$T/bmnt
	mkdir -p "$src/sub" "$mnt"
	echo f >"$src/f"
	if ! mount --bind "$src" "$mnt" 2>/dev/null; then
		skip "bind mount nesting: mount --bind not allowed here"
		return 0
	fi
	run "$SNAPSHOOTER" --no-progress sync "$src" "$mnt/inner"
	assert_rc "DST inside SRC through a bind mount: refused" 1
	assert_err_has "... saying so" "one is inside the other"
	run "$SNAPSHOOTER" --no-progress sync "$mnt/sub" "$src"
	assert_rc "SRC inside DST through a bind mount: refused" 1
	umount "$mnt"
	check "nothing was written into SRC" test ! -e "$src/inner"
	# a bind mount of a folder inside SRC: no parent of either path is
	# the other's directory; the mount table shows where they lie
	echo keep >"$src/sub/g"
	mount --bind "$src/sub" "$mnt"
	run "$SNAPSHOOTER" --no-progress sync "$mnt" "$src"
	assert_rc "SRC a bind mount of a folder in DST: refused" 1
	assert_err_has "... saying the sync would delete it" \
		"SRC is inside DST: the sync would delete it"
	run "$SNAPSHOOTER" --no-progress sync "$src" "$mnt/inner"
	assert_rc "DST inside a bind mount of a folder in SRC: refused" 1
	assert_err_has "... saying SRC would be copied into itself" \
		"DST is inside SRC: SRC would be copied into itself"
	umount "$mnt"
	assert_eq "SRC kept its folder" keep "$(cat "$src/sub/g" 2>/dev/null)"
	# neither inside the other, but DST holds a bind of a SRC folder:
	# the deletions in DST would delete SRC's files
	local odst=$T/bodst
	mkdir -p "$odst/e"
	mount --bind "$src/sub" "$odst/e"
	run "$SNAPSHOOTER" --no-progress sync "$src" "$odst"
	assert_rc "DST showing a folder of SRC through a mount: refused" 1
	assert_err_has "... saying so" "a mount inside one shows a part of"
	umount "$odst/e"
	assert_eq "... SRC's folder kept" keep "$(cat "$src/sub/g" 2>/dev/null)"
	check "nothing was written into the folder" test ! -e "$src/sub/inner"
}

# a SRC that is not there: said as such, before DST is made
missing_src() {
	run "$SNAPSHOOTER" --no-progress sync "$T/nosrc" "$T/nosrc.dst"
	assert_rc "a missing SRC fails" 1
	assert_err_has "... naming it" "cannot open source '$T/nosrc'"
	check "... before DST is made" test ! -e "$T/nosrc.dst"
	# ".." after a folder not there yet is its parent once made: SRC
	mkdir -p "$T/dd/src" && echo keep >"$T/dd/src/f"
	run "$SNAPSHOOTER" --no-progress sync "$T/dd/src" "$T/dd/nosuch/.."
	assert_rc "DST 'nosuch/..' (SRC's parent): refused" 1
	assert_eq "... SRC kept" keep "$(cat "$T/dd/src/f" 2>/dev/null)"
	run "$SNAPSHOOTER" --no-progress sync "$T/dd/src" \
		"$T/dd/nosuch/../src/inner"
	assert_rc "DST 'nosuch/../src/inner' (inside SRC): refused" 1
	check "... nothing written into SRC" test ! -e "$T/dd/src/inner"
}

for_each_io sync_test
for_each_io changing_test
missing_src
bind_mount_nesting
finish
