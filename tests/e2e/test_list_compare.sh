#!/usr/bin/env bash
# test_list_compare: list-snapshots prints one snapshot path per line and
# honours --order, --limit and --offset; compare-snapshots reports each
# changed path with its state (only_left, only_right, different), filters
# by --diff-state and prints JSON lines with --json.
. "$(dirname "$0")/lib.sh"

# jq_ok FILE: jq parses every JSON value in FILE.
jq_ok() {
	jq -e . "$1" >/dev/null
}

# line_with STATE NAME: a line of $OUT holding both.
line_with() {
	grep -F -- "$2" "$OUT" | grep -qF -- "$1"
}

# utc_now: the current time as an ISO timestamp with an explicit offset.
utc_now() {
	date -u +%Y-%m-%dT%H:%M:%S+00:00
}

# selection: restore-snapshot --latest TIMESTAMP and compare-snapshots
# --latest1/--latest2 pick the latest snapshot at or before the time.
selection() {
	local src=$T/$IO.selsrc dst=$T/$IO.seldst t0 t1 t2 s1 s2
	rm -rf "$src" "$dst"
	mkdir -p "$src" "$dst"
	new_roots "$IO.sel"
	FR=$src
	t0=$(date -u -d '-1 day' +%Y-%m-%d)
	echo "version 1" >"$src/f"
	make_snapshot || return
	s1=$SNAP
	sleep 1.1
	t1=$(utc_now)
	sleep 1.1
	echo "version 2, longer" >"$src/f"
	make_snapshot || return
	s2=$SNAP
	sleep 1.1
	t2=$(utc_now)

	FR=$dst
	snap restore-snapshot --latest "$t1" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore-snapshot --latest between the two snapshots" 0
	assert_eq "--latest $t1 restores the first snapshot" "version 1" \
		"$(cat "$dst/f" 2>/dev/null)"
	snap restore-snapshot --latest "$t2" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore-snapshot --latest after both" 0
	assert_eq "--latest $t2 restores the second snapshot" \
		"version 2, longer" "$(cat "$dst/f" 2>/dev/null)"
	snap restore-snapshot --latest "${t1%+00:00}Z" \
		--no-save-snapshot-before --no-save-snapshot-after
	assert_rc "--latest with a Z suffix" 0
	assert_eq "--latest ...Z restores the first snapshot" "version 1" \
		"$(cat "$dst/f" 2>/dev/null)"
	snap restore-snapshot --no-save-snapshot-before \
		--no-save-snapshot-after "$t2"
	assert_rc "TIMESTAMP as an argument (the Python tool's form)" 0
	snap restore-snapshot "$t1" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_eq "restore-snapshot $t1 restores the first snapshot" \
		"version 1" "$(cat "$dst/f" 2>/dev/null)"
	snap restore-snapshot --latest "$t0" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "--latest before every snapshot fails" 1
	check "... with a message" test -s "$ERR"
	assert_eq "... and the tree is untouched" "version 1" \
		"$(cat "$dst/f" 2>/dev/null)"
	snap restore-snapshot --latest "not-a-time" \
		--no-save-snapshot-before --no-save-snapshot-after
	assert_rc "--latest not-a-time is a usage error" 2
	snap restore-snapshot --latest "$t1" --path "$s2" \
		--no-save-snapshot-before --no-save-snapshot-after
	assert_rc "--latest with --path is a usage error" 2

	snap compare-snapshots --latest1 "$t1" --latest2 "$t2"
	assert_rc "compare-snapshots --latest1 --latest2" 0
	check "--latest1/--latest2 compare s1 with s2 (f different)" \
		line_with different f
	snap compare-snapshots --path1 "$s1" --path2 "$s2"
	check "same as --path1/--path2" line_with different f
}

list_compare() {
	local src=$T/$IO.src s1 s2 s3 all

	new_roots "$IO"
	mkdir -p "$src/dir"
	echo "kept" >"$src/kept.txt"
	echo "changed v1" >"$src/dir/changed.txt"
	echo "removed" >"$src/removed.txt"
	echo "mode" >"$src/mode.txt"
	FR=$src
	make_snapshot || return
	s1=$SNAP
	echo "changed v2, longer" >"$src/dir/changed.txt"
	rm "$src/removed.txt"
	echo "added" >"$src/dir/added.txt"
	make_snapshot || return
	s2=$SNAP
	echo "third" >"$src/third.txt"
	make_snapshot || return
	s3=$SNAP

	snap list-snapshots
	assert_rc "list-snapshots" 0
	assert_eq "list-snapshots lists the three snapshots" \
		"$(printf '%s\n' "$s1" "$s2" "$s3" | sort)" "$(sort "$OUT")"
	snap list-snapshots --order asc
	assert_rc "list-snapshots --order asc" 0
	assert_eq "--order asc: oldest first" \
		"$(printf '%s\n' "$s1" "$s2" "$s3")" "$(cat "$OUT")"
	snap list-snapshots --order desc
	assert_eq "--order desc: newest first" \
		"$(printf '%s\n' "$s3" "$s2" "$s1")" "$(cat "$OUT")"
	snap list-snapshots --order asc --limit 2
	assert_eq "--limit 2" "$(printf '%s\n' "$s1" "$s2")" "$(cat "$OUT")"
	snap list-snapshots --order asc --offset 1 --limit 1
	assert_eq "--offset 1 --limit 1" "$s2" "$(cat "$OUT")"
	snap list-snapshots --order desc --offset 1
	assert_eq "--order desc --offset 1" \
		"$(printf '%s\n' "$s2" "$s1")" "$(cat "$OUT")"
	snap list-snapshots --offset 5
	assert_rc "--offset past the end" 0
	assert_eq "--offset past the end lists nothing" "" "$(cat "$OUT")"
	snap list-snapshots --order sideways
	assert_rc "--order sideways is a usage error" 2
	# --offset/--limit as the Python tool: its slice
	# [offset:offset+limit] of the ordered paths, then "..." when
	# offset + limit < the number printed (expected lines from python3
	# on ["s1", "s2", "s3"])
	while read -r o l want; do
		snap list-snapshots --order asc --offset "$o" --limit "$l"
		assert_rc "list-snapshots --offset $o --limit $l" 0
		want=$(for w in $want; do
			case $w in
			s1) echo "$s1" ;; s2) echo "$s2" ;; s3) echo "$s3" ;;
			*) echo "$w" ;;
			esac
		done)
		assert_eq "--offset $o --limit $l prints what the Python tool does" \
			"$want" "$(cat "$OUT")"
	done <<-'EOT'
	0 10 s1 s2 s3
	0 0
	1 1 s2
	5 1
	0 -1 s1 s2 ...
	-2 10 s2 s3
	-1 -1 ...
	-5 2 ...
	1 -1
	2 0
	EOT
	snap list-snapshots --order asc --offset -1 --limit -1 --json
	assert_eq "no '...' line with --json" "" "$(cat "$OUT")"

	# a stray non-snapshot file in the snapshot root is not listed
	echo junk >"$SR/notes.txt"
	mkdir -p "$SR/2001/01"
	echo junk >"$SR/2001/01/readme"
	# and neither is a temp file left by a crash, even a "newer" one
	mkdir -p "$SR/2999/01"
	cp "$s1" "$SR/2999/01/.tmp-2999-01-01_00-00-00_000000Z.msgpack.abcdef"
	cp "$s1" "$SR/2999/01/.tmp-2999-01-01_00-00-00_000000Z.msgpack"
	snap list-snapshots
	assert_eq "non-snapshot files are not listed" 3 "$(wc -l <"$OUT")"
	check "temp files are not listed" test -z "$(grep -F .tmp "$OUT")"
	snap compare-snapshots
	check "the default comparison ignores temp files" \
		test -z "$(grep -F removed.txt "$OUT")"
	rm -r "$SR/2999"

	# an empty snapshot root lists nothing
	all=$SR
	SR=$T/$IO.empty-snap
	mkdir -p "$SR"
	snap list-snapshots
	assert_rc "list-snapshots of an empty root" 0
	assert_eq "an empty root lists nothing" "" "$(cat "$OUT")"
	SR=$all

	# compare-snapshots
	snap compare-snapshots --path1 "$s1" --path2 "$s2"
	assert_rc "compare-snapshots s1 s2" 0
	check "removed.txt is only_left" line_with only_left removed.txt
	check "dir/added.txt is only_right" line_with only_right dir/added.txt
	check "dir/changed.txt is different" line_with different \
		dir/changed.txt
	if grep -F kept.txt "$OUT" | grep -qE 'only_|different'; then
		fail "kept.txt reported as changed"
	else
		pass "kept.txt not reported as changed"
	fi

	snap compare-snapshots --path1 "$s1" --path2 "$s2" \
		--diff-state different
	assert_rc "--diff-state different" 0
	check "--diff-state different shows changed.txt" \
		grep -qF dir/changed.txt "$OUT"
	check "--diff-state different hides removed.txt" \
		test -z "$(grep -F removed.txt "$OUT")"
	check "--diff-state different hides added.txt" \
		test -z "$(grep -F added.txt "$OUT")"

	snap compare-snapshots --path1 "$s1" --path2 "$s2" \
		--diff-state only_left --diff-state only_right
	assert_rc "--diff-state only_left --diff-state only_right" 0
	check "two states: removed.txt shown" grep -qF removed.txt "$OUT"
	check "two states: added.txt shown" grep -qF added.txt "$OUT"
	check "two states: changed.txt hidden" \
		test -z "$(grep -F changed.txt "$OUT")"

	snap compare-snapshots --path1 "$s1" --path2 "$s2" --diff-state bogus
	assert_rc "--diff-state bogus is a usage error" 2

	snap compare-snapshots --path1 "$s2" --path2 "$s2"
	assert_rc "a snapshot compared with itself" 0
	check "... shows no change" \
		test -z "$(grep -E 'only_left|only_right|different' "$OUT")"

	snap compare-snapshots --path1 "$s1" --path2 "$s2" --json
	assert_rc "compare-snapshots --json" 0
	if grep -qv '^[[:space:]]*{.*}[[:space:]]*$' "$OUT"; then
		fail "--json: a line is not one JSON object"
		head -n 5 "$OUT" | sed 's/^/    /'
	else
		pass "--json: every line is one JSON object"
	fi
	check "--json: a line for removed.txt with only_left" \
		line_with '"only_left"' removed.txt
	check "--json: a line for dir/added.txt with only_right" \
		line_with '"only_right"' dir/added.txt
	check "--json: a line for dir/changed.txt with different" \
		line_with '"different"' dir/changed.txt
	if command -v jq >/dev/null 2>&1; then
		check "--json: jq parses every line" jq_ok "$OUT"
	fi

	# with a single snapshot there is nothing to compare by default
	all=$SR
	SR=$T/$IO.one-snap
	mkdir -p "$SR"
	make_snapshot || return
	snap compare-snapshots
	assert_rc "compare-snapshots defaults with one snapshot fails" 1
	check "... with a message" test -s "$ERR"
	SR=$T/$IO.no-such-snap-root
	snap list-snapshots
	case "$RC" in
	0) assert_eq "a missing snapshot root lists nothing" "" "$(cat "$OUT")" ;;
	1) assert_err_has "a missing snapshot root: message names it" "$SR" ;;
	*) fail "list-snapshots of a missing root: exit $RC"; show_last ;;
	esac
	SR=$all

	# the defaults compare the two latest snapshots (s2 -> s3)
	snap compare-snapshots
	if [ "$RC" -eq 0 ]; then
		say "info: compare-snapshots without paths:" \
			"$(grep -c . "$OUT") line(s)"
	else
		say "info: compare-snapshots without paths: exit $RC"
	fi
}

# json_names: compare --json on awkward names still prints valid JSON
# (one object per changed name).
json_names() {
	local src=$T/$IO.jsrc s1 n
	rm -rf "$src"
	make_awkward_tree "$src"
	echo "ctl" >"$src/"$'ctl\x01\x1fname'
	new_roots "$IO.json"
	FR=$src
	make_snapshot || return
	s1=$SNAP
	n=$(count_files "$src")
	find "$src" -type f -delete
	make_snapshot || return
	snap compare-snapshots --path1 "$s1" --path2 "$SNAP" \
		--diff-state only_left --json
	assert_rc "compare --json of awkward names" 0
	assert_eq "one line per removed file" "$n" "$(grep -c . "$OUT")"
	if command -v jq >/dev/null 2>&1; then
		check "jq parses every line" jq_ok "$OUT"
		assert_eq "jq sees one object per removed file" "$n" \
			"$(jq -c .status "$OUT" | grep -c only_left)"
	else
		skip "jq not installed: JSON syntax not checked"
	fi
}

for_each_io list_compare
for_each_io json_names
for_each_io selection
finish
