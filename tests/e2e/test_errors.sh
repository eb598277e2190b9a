#!/usr/bin/env bash
# test_errors: failures are reported, not hidden. Special files (FIFO)
# are skipped with a warning; an unreadable file or directory fails the
# snapshot (exit 1, message naming it, no snapshot saved); usage errors
# exit 2; a missing root, snapshot or heap object exits 1 with a message
# of the form "snapshooter: error: ..." naming the path; stdout on a full
# device fails each printing command with a message saying so; a
# --json-file that cannot be written fails before the run; an mtime a
# snapshot cannot hold is refused naming the file.
. "$(dirname "$0")/lib.sh"

special_files() {
	local src=$T/$IO.fifo dst=$T/$IO.fifo.dst
	new_roots "$IO.fifo"
	mkdir -p "$src/sub"
	echo "regular" >"$src/regular"
	echo "also" >"$src/sub/also"
	mkfifo "$src/sub/the_fifo" || die "mkfifo failed"
	FR=$src
	snap make-snapshot
	assert_rc "make-snapshot of a tree with a FIFO succeeds" 0
	assert_err_has "a warning names the FIFO" "the_fifo"
	assert_ge "the FIFO is counted as skipped" 1 \
		"$(json_get "$SUMMARY" files_skipped)"
	assert_eq "the snapshot is saved" 1 "$(snapshot_files "$SR" | wc -l)"
	mkdir -p "$dst"
	FR=$dst
	snap restore-snapshot --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore of that snapshot" 0
	rm "$src/sub/the_fifo"
	assert_trees_equal "$src" "$dst" "everything but the FIFO restored"
}

unreadable() {
	local base=$T/$IO.nobody src heap snaps v
	if ! command -v setpriv >/dev/null 2>&1; then
		skip "unreadable file: setpriv (util-linux) not installed"
		return
	fi
	chmod 755 "$T"
	mkdir -p "$base/tree/sub" "$base/heap" "$base/snap"
	src=$base/tree
	heap=$base/heap
	snaps=$base/snap
	echo "readable" >"$src/readable"
	echo "secret" >"$src/sub/unreadable_file"
	chmod 000 "$src/sub/unreadable_file"
	[ "$(id -u)" -eq 0 ] && chown -R 65534:65534 "$base"
	nobody_kept_out "$src/sub/unreadable_file" "unreadable file" || return
	run as_nobody "$SNAPSHOOTER" --no-progress --io "$IO" \
		--file-root "$src" --heap-root "$heap" --snap-root "$snaps" \
		--json-file "$base/summary.json" make-snapshot
	assert_rc "snapshot with an unreadable file fails" 1
	assert_err_has "the message names the unreadable file" \
		"unreadable_file"
	assert_err_has "the message gives the reason" "Permission denied"
	assert_err_has "the message has the error prefix" "snapshooter: error:"
	assert_eq "no snapshot saved" 0 "$(snapshot_files "$snaps" | wc -l)"
	v=$(json_get "$base/summary.json" exit_code)
	[ -n "$v" ] && assert_eq "summary exit_code" 1 "$v"
	assert_ge "summary counts the error" 1 \
		"$(json_get "$base/summary.json" errors)"

	# an unreadable directory
	chmod 644 "$src/sub/unreadable_file"
	mkdir -p "$src/closed_dir"
	echo x >"$src/closed_dir/inside"
	[ "$(id -u)" -eq 0 ] && chown -R 65534:65534 "$src"
	chmod 000 "$src/closed_dir"
	run as_nobody "$SNAPSHOOTER" --no-progress --io "$IO" \
		--file-root "$src" --heap-root "$heap" --snap-root "$snaps" \
		make-snapshot
	assert_rc "snapshot with an unreadable directory fails" 1
	assert_err_has "the message names the directory" "closed_dir"
	assert_eq "still no snapshot saved" 0 \
		"$(snapshot_files "$snaps" | wc -l)"
	chmod 755 "$src/closed_dir"

	# sync with an unreadable file in SRC: fails naming it, and deletes
	# nothing in DST (deletions only after every copy succeeded)
	chmod 000 "$src/sub/unreadable_file"
	mkdir -p "$base/dst"
	echo "extra" >"$base/dst/extra_in_dst"
	[ "$(id -u)" -eq 0 ] && chown -R 65534:65534 "$base/dst"
	chmod 755 "$src/closed_dir"
	run as_nobody "$SNAPSHOOTER" --no-progress --io "$IO" sync "$src" \
		"$base/dst"
	assert_rc "sync with an unreadable file fails" 1
	assert_err_has "sync: the message names the file" "unreadable_file"
	check "sync: nothing deleted in DST after the failure" \
		test -f "$base/dst/extra_in_dst"
	check "sync: no partial copy of the unreadable file in DST" \
		test ! -e "$base/dst/sub/unreadable_file"
	chmod 644 "$src/sub/unreadable_file"

	# the reason survives a long path (messages must not cut it off)
	local lp
	lp=$src/$(long_name 200 p)/$(long_name 200 q)/$(long_name 200 r)
	mkdir -p "$lp/closed_deep_dir"
	echo "secret" >"$lp/deep_unreadable"
	[ "$(id -u)" -eq 0 ] && chown -R 65534:65534 "$src"
	chmod 000 "$lp/deep_unreadable"
	run as_nobody "$SNAPSHOOTER" --no-progress --io "$IO" \
		--file-root "$src" --heap-root "$heap" --snap-root "$snaps" \
		make-snapshot
	assert_rc "unreadable file at a 600-byte path fails" 1
	assert_err_has "long path: the reason is still printed" \
		"Permission denied"
	assert_err_has "long path: the file name is still printed" \
		"deep_unreadable"
	chmod 644 "$lp/deep_unreadable"
	chmod 000 "$lp/closed_deep_dir"
	run as_nobody "$SNAPSHOOTER" --no-progress --io "$IO" \
		--file-root "$src" --heap-root "$heap" --snap-root "$snaps" \
		make-snapshot
	assert_rc "unreadable dir at a 600-byte path fails" 1
	assert_err_has "long dir path: the reason is still printed" \
		"Permission denied"
	assert_err_has "long dir path: the dir name is still printed" \
		"closed_deep_dir"
	chmod 755 "$lp/closed_deep_dir"
	rm -rf "${src:?}/$(long_name 200 p)"

	# readable again: the snapshot succeeds
	run as_nobody "$SNAPSHOOTER" --no-progress --io "$IO" \
		--file-root "$src" --heap-root "$heap" --snap-root "$snaps" \
		make-snapshot
	assert_rc "once readable, the snapshot succeeds" 0
	chmod 700 "$T"
}

usage_and_roots() {
	local tree=$T/$IO.tree
	new_roots "$IO.usage"
	mkdir -p "$tree"
	echo x >"$tree/x"

	run "$SNAPSHOOTER" --no-progress --heap-root "$HR" --snap-root "$SR" \
		make-snapshot
	assert_rc "make-snapshot without --file-root is a usage error" 2
	check "... with a message on stderr" test -s "$ERR"

	run env FILE_ROOT="$tree" HEAP_ROOT="$HR" SNAP_ROOT="$SR" \
		"$SNAPSHOOTER" --no-progress --io "$IO" make-snapshot
	assert_rc "the roots can come from FILE_ROOT/HEAP_ROOT/SNAP_ROOT" 0

	FR=$T/does/not/exist
	snap make-snapshot
	assert_rc "nonexistent file root fails" 1
	assert_err_has "the message names the missing root" "$T/does/not/exist"
	assert_err_has "the message has the error prefix" "snapshooter: error:"
	assert_err_has "the message gives the reason" "No such file or directory"

	FR=$tree/x
	snap make-snapshot
	assert_rc "a regular file as file root fails" 1
	assert_err_has "the message names it" "$tree/x"

	run "$SNAPSHOOTER" --no-progress --jobs not-a-number \
		--file-root "$tree" --heap-root "$HR" --snap-root "$SR" \
		make-snapshot
	assert_rc "--jobs not-a-number is a usage error" 2
	run "$SNAPSHOOTER" --no-progress --io bogus --file-root "$tree" \
		--heap-root "$HR" --snap-root "$SR" make-snapshot
	assert_rc "--io bogus is a usage error" 2
	FR=$tree
	snap make-snapshot --no-such-option
	assert_rc "an unknown command option is a usage error" 2
	# a lock expiry of 1 s cannot work (refreshes come at most every
	# second, a run stops at two thirds of the expiry): refused
	local v
	for v in 1 0 86401 2x; do
		SNAPSHOOTER_LOCK_EXPIRY=$v snap make-snapshot
		assert_rc "SNAPSHOOTER_LOCK_EXPIRY=$v is a usage error" 2
		assert_err_has "... naming it" "SNAPSHOOTER_LOCK_EXPIRY takes"
	done
	SNAPSHOOTER_LOCK_REFRESH=0 snap make-snapshot
	assert_rc "SNAPSHOOTER_LOCK_REFRESH=0 is a usage error" 2
	assert_err_has "... naming it" "SNAPSHOOTER_LOCK_REFRESH takes"
	SNAPSHOOTER_LOCK_EXPIRY=2 SNAPSHOOTER_LOCK_REFRESH=1 snap make-snapshot
	assert_rc "SNAPSHOOTER_LOCK_EXPIRY=2 is taken" 0

	# restore errors
	new_roots "$IO.empty"
	FR=$tree
	snap restore-snapshot --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore with no snapshot at all fails" 1
	check "... with a message" test -s "$ERR"
	check "... and the tree is untouched" test -f "$tree/x"

	snap restore-snapshot --path "$T/missing.msgpack" \
		--no-save-snapshot-before --no-save-snapshot-after
	assert_rc "restore of a missing snapshot file fails" 1
	assert_err_has "the message names it" "missing.msgpack"
	check "the tree is untouched" test -f "$tree/x"
}

missing_heap_object() {
	local src=$T/$IO.mh dst=$T/$IO.mh.dst obj sum
	new_roots "$IO.mh"
	mkdir -p "$src" "$dst"
	echo "kept" >"$src/kept"
	echo "its heap object will vanish" >"$src/vanishing"
	FR=$src
	make_snapshot || return
	sum=$(md5sum <"$src/vanishing" | cut -c1-32)
	obj=$HR/${sum:0:2}/$sum
	check "the heap object exists" test -f "$obj"
	rm -f "$obj"
	FR=$dst
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore with a missing heap object fails" 1
	check "nothing was written before the check failed" \
		test -z "$(ls -A "$dst")"
	if grep -qF -e vanishing -e "$sum" "$ERR"; then
		pass "the message names the file or its md5"
	else
		fail "the message names neither 'vanishing' nor $sum"
		show_last
	fi

	# a heap object whose content no longer matches its md5
	FR=$src
	echo "second" >"$src/vanishing"
	make_snapshot || return
	sum=$(md5sum <"$src/vanishing" | cut -c1-32)
	obj=$HR/${sum:0:2}/$sum
	chmod u+w "$obj" && echo "tampered" >"$obj"
	rm -rf "$dst" && mkdir -p "$dst"
	FR=$dst
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	if [ "$RC" -ne 0 ]; then
		say "info: a tampered heap object is detected on restore (exit $RC)"
	else
		say "info: a tampered heap object is NOT detected on restore" \
			"(restored md5 $(md5sum <"$dst/vanishing" | cut -c1-32)," \
			"snapshot says $sum)"
	fi
}

# Output that cannot reach its reader (stdout on a full device) fails
# the command with a message saying so, not exit 1 in silence.
stdout_full() {
	local src=$T/$IO.out
	[ -w /dev/full ] || { say "skip: no /dev/full"; return; }
	new_roots "$IO.out"
	mkdir -p "$src" && echo one >"$src/f"
	FR=$src
	# run redirects stdout itself: the command's own comes from inside
	run bash -c '"$@" >/dev/full' _ "$SNAPSHOOTER" --no-progress \
		--io "$IO" --file-root "$FR" --heap-root "$HR" --snap-root "$SR" \
		make-snapshot
	assert_rc "make-snapshot, stdout full" 1
	assert_err_has "make-snapshot, stdout full: says so" \
		"snapshooter: error: cannot write to standard output: No space left on device"
	# a second snapshot (its path printed where it can be), so that
	# compare-snapshots has two to compare and a header to print
	echo two >"$src/g"
	snap make-snapshot
	assert_rc "make-snapshot, stdout writable" 0
	for cmd in list-snapshots gc "forget --keep-last 5" \
		compare-snapshots \
		"make-snapshot --help"; do
		# shellcheck disable=SC2086
		run bash -c '"$@" >/dev/full' _ "$SNAPSHOOTER" --no-progress \
			--io "$IO" --file-root "$FR" --heap-root "$HR" \
			--snap-root "$SR" $cmd
		assert_rc "$cmd, stdout full" 1
		assert_err_has "$cmd, stdout full: says so" \
			"cannot write to standard output"
	done
}

# A --json-file that cannot be written fails before the run: no
# snapshot saved, nothing restored, the path and the reason named.
json_file_bad() {
	local src=$T/$IO.js
	new_roots "$IO.js"
	mkdir -p "$src" && echo one >"$src/f"
	FR=$src
	run "$SNAPSHOOTER" --no-progress --io "$IO" --file-root "$FR" \
		--heap-root "$HR" --snap-root "$SR" \
		--json-file "$T/no-such-dir/s.json" make-snapshot
	assert_rc "make-snapshot, --json-file in a missing folder" 1
	assert_err_has "make-snapshot, --json-file: names it and why" \
		"cannot write the JSON summary to '$T/no-such-dir/s.json': No such file or directory"
	check "make-snapshot, --json-file bad: no snapshot saved" \
		test -z "$(snapshot_files "$SR" 2>/dev/null)"
	check "make-snapshot, --json-file bad: nothing in the heap" \
		test -z "$(heap_objects "$HR")"
	make_snapshot || return
	mkdir -p "$T/$IO.js.dst"
	run "$SNAPSHOOTER" --no-progress --io "$IO" --file-root "$T/$IO.js.dst" \
		--heap-root "$HR" --snap-root "$SR" --json-file "$T" \
		restore-snapshot --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore-snapshot, --json-file a directory" 1
	assert_err_has "restore-snapshot, --json-file: names it and why" \
		"cannot write the JSON summary to '$T': Is a directory"
	check "restore-snapshot, --json-file bad: nothing restored" \
		test ! -e "$T/$IO.js.dst/f"
}

# An mtime past 2262 does not fit a snapshot's 64-bit ns: refused naming
# the file (ext4 keeps such mtimes), not recorded as another time.
mtime_out_of_range() {
	local src=$T/$IO.mtime
	new_roots "$IO.mtime"
	mkdir -p "$src"
	echo ok >"$src/fine"
	echo late >"$src/late"
	touch -d @9300000000 "$src/late"
	if [ "$(stat -c %Y "$src/late")" != 9300000000 ]; then
		skip "mtime_out_of_range: this filesystem caps mtimes"
		return 0
	fi
	FR=$src
	snap make-snapshot
	assert_rc "make-snapshot of a file dated 2264 fails" 1
	assert_err_has "the message names the file and the range" \
		"cannot record '$src/late': its mtime is outside the years 1677-2262"
	assert_eq "no snapshot saved (mtime)" 0 \
		"$(snapshot_files "$SR" | wc -l)"
}

errors() {
	special_files
	mtime_out_of_range
	unreadable
	usage_and_roots
	missing_heap_object
	stdout_full
	json_file_bad
}

for_each_io errors
finish
