#!/usr/bin/env bash
# test_interrupt: SIGINT during make-snapshot, restore-snapshot and sync
# of a tree of a few thousand files exits 130, leaves no snapshot and no
# temp file behind (SNAP_ROOT, the heap, the restore target), keeps every
# finished heap object valid, and a re-run completes.
. "$(dirname "$0")/lib.sh"

# bg_interrupt WATCH CMD...: start CMD, wait until WATCH (a directory)
# holds a file or 2 s passed, send SIGINT (or $SIG), wait. Sets RC; RC=-1 when the
# command had finished before the signal could be sent.
bg_interrupt() {
	local watch=$1 pid i
	shift
	LAST_CMD="$*"
	# job control on: a background job of a script would start with
	# SIGINT ignored, and a program may keep that disposition
	set -m
	"$@" >"$OUT" 2>"$ERR" &
	pid=$!
	set +m
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		if [ -n "$(find "$watch" -type f 2>/dev/null | head -n 1)" ]; then
			sleep 0.05
			break
		fi
		sleep 0.01
	done
	if ! kill -"${SIG:-INT}" "$pid" 2>/dev/null; then
		wait "$pid"
		RC=-1
		return
	fi
	wait "$pid"
	RC=$?
	case "$RC" in
	0) RC=-1 ;; # finished in the window between the check and the kill
	esac
}

# build_tree DIR BIGMB: 3,000 small files in 30 dirs and 4 random files
# of BIGMB MiB each.
build_tree() {
	local d=$1 i j
	for ((i = 0; i < 30; i++)); do
		mkdir -p "$d/dir$i"
		for ((j = 0; j < 100; j++)); do
			echo "file $i/$j" >"$d/dir$i/f$j"
		done
	done
	for i in 1 2 3 4; do
		head -c $(($2 << 20)) /dev/urandom >"$d/big$i"
	done
}

# no_temp DESC DIR: no hidden/temp leftovers below DIR.
no_temp() {
	local t
	t=$(find "$2" -name '.tmp*' -o -name '*.tmp' -o -name '.snap*' |
		head -n 5)
	if [ -z "$t" ]; then
		pass "$1"
	else
		fail "$1: $t"
	fi
}

interrupt() {
	local src=$T/$IO.src tgt=$T/$IO.tgt dst=$T/$IO.dst big=16 try t hr sr

	new_roots "$IO"
	rm -rf "$src"
	build_tree "$src" $big
	FR=$src

	# make-snapshot
	for try in 1 2; do
		bg_interrupt "$HR" "$SNAPSHOOTER" --no-progress --io "$IO" \
			--file-root "$FR" --heap-root "$HR" --snap-root "$SR" \
			--json-file "$SUMMARY" make-snapshot
		[ "$RC" -ne -1 ] && break
		say "make-snapshot finished before SIGINT; a bigger tree"
		big=$((big * 4))
		rm -rf "$src" && build_tree "$src" $big
		new_roots "$IO"
	done
	if [ "$RC" -eq -1 ]; then
		skip "make-snapshot always finished before the signal"
	else
		assert_rc "SIGINT during make-snapshot exits 130" 130
		assert_eq "no snapshot saved" "" "$(snapshot_files "$SR")"
		t=$(find "$SR" -mindepth 1 -name '.*' | head -n 5)
		assert_eq "no temp file in SNAP_ROOT" "" "$t"
		t=$(find "$SR" -type f | head -n 5)
		assert_eq "no file at all in SNAP_ROOT" "" "$t"
		check "every heap object written is complete and valid" \
			heap_verify "$HR"
		t=$(find "$HR" -type f -regextype posix-extended \
			! -regex '.*/[0-9a-f]{2}/[0-9a-f]{32}' | head -n 5)
		if [ -z "$t" ]; then
			pass "no temp file left in the heap"
		else
			fail "temp files left in the heap: $t"
		fi
		if [ -f "$SUMMARY" ]; then
			assert_eq "summary exit_code" 130 \
				"$(json_get "$SUMMARY" exit_code)"
		fi
		say "info: stderr after SIGINT: $(head -n 1 "$ERR")"
	fi
	make_snapshot || return
	pass "make-snapshot re-run completes"
	check "heap valid after the re-run" heap_verify "$HR"

	# SIGTERM stops as cleanly as SIGINT
	hr=$HR
	sr=$SR
	new_roots "$IO.term"
	SIG=TERM bg_interrupt "$HR" "$SNAPSHOOTER" --no-progress --io "$IO" \
		--file-root "$FR" --heap-root "$HR" --snap-root "$SR" \
		make-snapshot
	if [ "$RC" -eq -1 ]; then
		skip "make-snapshot finished before SIGTERM"
	else
		assert_rc "SIGTERM during make-snapshot exits 130" 130
		assert_eq "no file in SNAP_ROOT after SIGTERM" "" \
			"$(find "$SR" -type f | head -n 5)"
		check "heap valid after SIGTERM" heap_verify "$HR"
	fi
	HR=$hr
	SR=$sr

	# restore-snapshot into an empty dir
	rm -rf "$tgt" && mkdir -p "$tgt"
	bg_interrupt "$tgt" "$SNAPSHOOTER" --no-progress --io "$IO" \
		--file-root "$tgt" --heap-root "$HR" --snap-root "$SR" \
		restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	if [ "$RC" -eq -1 ]; then
		skip "restore finished before the signal"
	else
		assert_rc "SIGINT during restore-snapshot exits 130" 130
		no_temp "no temp file left in the restore target" "$tgt"
		# every file already in place is complete
		t=$( (cd "$tgt" && find . -type f -print0 |
			xargs -0 -r md5sum) | (cd "$src" && md5sum -c --quiet 2>&1) |
			head -n 3)
		assert_eq "files present after the interrupt are complete" "" "$t"
	fi
	run "$SNAPSHOOTER" --no-progress --io "$IO" --file-root "$tgt" \
		--heap-root "$HR" --snap-root "$SR" restore-snapshot \
		--path "$SNAP" --no-save-snapshot-before --no-save-snapshot-after
	assert_rc "restore re-run completes" 0
	assert_trees_equal "$src" "$tgt" "restored tree equals the source"

	# sync
	rm -rf "$dst" && mkdir -p "$dst"
	bg_interrupt "$dst" "$SNAPSHOOTER" --no-progress --io "$IO" \
		sync "$src" "$dst"
	if [ "$RC" -eq -1 ]; then
		skip "sync finished before the signal"
	else
		assert_rc "SIGINT during sync exits 130" 130
		no_temp "no temp file left in DST" "$dst"
	fi
	run "$SNAPSHOOTER" --no-progress --io "$IO" sync "$src" "$dst"
	assert_rc "sync re-run completes" 0
	assert_trees_equal "$src" "$dst" "synced tree equals the source"
}

for_each_io interrupt
finish
