#!/usr/bin/env bash
# test_python_heap: make-snapshot and restore-snapshot on a heap written by
# the Python tool (HEAP_ROOT/<2 hex>/<md5>.gz, gzip): contents it holds are
# present (nothing written, no raw <md5> beside the .gz), a new content is
# stored as <md5>.gz that Python's gzip module reads back, restore reads
# the .gz objects, a .gz whose content does not match its name is refused,
# and --heap-format raw/gz overrides the automatic choice. Uses the
# fixture /work/shared/fixtures/python-backup (a copy: it is read-only).
. "$(dirname "$0")/lib.sh"

FIX=${SNAP_PY_FIXTURE:-$SNAP_SOURCE_DIR/../shared/fixtures/python-backup}
if [ ! -d "$FIX/heap" ] || [ ! -d "$FIX/tree-v2" ]; then
	if [ "${CI:-}" = true ] || [ -n "${SNAP_REQUIRE_SERVERS:-}" ]; then
		die "the Python fixture is missing: $FIX"
	fi
	echo "SKIP: the Python fixture is missing: $FIX"
	exit 77
fi

# python_md5 FILE: md5 of what python3's gzip module reads from FILE
python_md5() {
	python3 -c 'import gzip,sys; sys.stdout.buffer.write(gzip.open(sys.argv[1]).read())' \
		"$1" | md5sum | cut -c1-32
}

raw_objects() {
	find "$1" -type f -regextype posix-extended \
		-regex '.*/[0-9a-f]{2}/[0-9a-f]{32}' | head -n 3
}

python_heap() {
	local tree=$T/$IO.tree out=$T/$IO.out m f n_before n_after

	new_roots "$IO"
	cp -r "$FIX/heap/." "$HR/"
	chmod -R u+w "$HR"
	rm -rf "$tree" "$out"
	cp -r "$FIX/tree-v2" "$tree"
	chmod -R u+w "$tree"
	n_before=$(find "$HR" -type f | wc -l)

	FR=$tree
	make_snapshot || return
	assert_json "contents the Python heap holds: nothing written" \
		heap_objects_written 0
	assert_eq "no object added" "$n_before" "$(find "$HR" -type f | wc -l)"
	assert_eq "no raw <md5> beside the .gz objects" "" "$(raw_objects "$HR")"

	# a new content: stored as <md5>.gz, readable by Python's gzip
	head -c 300000 /dev/urandom | base64 >"$tree/new-$IO.txt"
	m=$(md5sum <"$tree/new-$IO.txt" | cut -c1-32)
	make_snapshot || return
	assert_json "the new content is written" heap_objects_written 1
	f=$HR/${m:0:2}/$m.gz
	check "the new content is stored as <md5>.gz" test -f "$f"
	check "no raw <md5> for it" test ! -e "$HR/${m:0:2}/$m"
	check "the .gz is smaller than the text it holds" \
		test "$(stat -c %s "$f")" -lt "$(stat -c %s "$tree/new-$IO.txt")"
	if command -v python3 >/dev/null; then
		assert_eq "python3's gzip reads it back with its md5" "$m" \
			"$(python_md5 "$f")"
	elif [ "${CI:-}" = true ]; then
		fail "python3 is missing"
	else
		skip "python3 is missing: gzip interop not checked"
	fi

	# restore from the Python heap (a native snapshot of this test)
	FR=$out
	snap restore-snapshot --path "$SNAP"
	assert_rc "restore from the .gz objects" 0
	assert_trees_equal "$tree" "$out" "restored tree equals the source"

	# a .gz whose content does not match its name: refused by restore
	n_after=$(find "$HR" -type f | wc -l)
	assert_eq "one object more than the Python heap" \
		"$((n_before + 1))" "$n_after"
	chmod u+w "$f"
	printf 'not the content\n' | gzip -c >"$f"
	rm -rf "$out"
	snap restore-snapshot --path "$SNAP"
	assert_rc "a .gz with the wrong content is refused" 1
	assert_err_has "the error names the corrupt object" "$m"
	check "the file is not written" test ! -e "$out/new-$IO.txt"

	# a corrupt gzip: the message names the object and the reason
	head -c 300 /dev/urandom | gzip -c | head -c 40 >"$f"
	rm -rf "$out"
	snap restore-snapshot --path "$SNAP"
	assert_rc "a truncated .gz is refused" 1
	assert_err_has "corrupt gzip named" "$m.gz': corrupt gzip data"

	# --heap-format raw on the Python heap: new contents raw, present
	# ones still not stored again
	FR=$tree
	echo "raw please $IO" >"$tree/raw-$IO.txt"
	m=$(md5sum <"$tree/raw-$IO.txt" | cut -c1-32)
	snap --heap-format raw make-snapshot
	assert_rc "make-snapshot --heap-format raw" 0
	assert_json "--heap-format raw: only the new content is written" \
		heap_objects_written 1
	check "--heap-format raw stores <md5>" test -f "$HR/${m:0:2}/$m"
	check "--heap-format raw: no .gz of it" test ! -e "$HR/${m:0:2}/$m.gz"
	assert_eq "--heap-format raw: nothing else raw" \
		"$HR/${m:0:2}/$m" "$(raw_objects "$HR")"
}

# a native heap stays raw under auto; HEAP_FORMAT=gz writes gz into it
native_heap() {
	local tree=$T/$IO.native m

	new_roots "$IO.native"
	rm -rf "$tree"
	mkdir -p "$tree"
	echo "native one" >"$tree/one"
	FR=$tree
	make_snapshot || return
	m=$(md5sum <"$tree/one" | cut -c1-32)
	check "auto on an empty heap: raw <md5>" test -f "$HR/${m:0:2}/$m"
	echo "native two" >"$tree/two"
	m=$(md5sum <"$tree/two" | cut -c1-32)
	HEAP_FORMAT=gz snap make-snapshot
	assert_rc "HEAP_FORMAT=gz make-snapshot" 0
	check "HEAP_FORMAT=gz: <md5>.gz" test -f "$HR/${m:0:2}/$m.gz"
	assert_json "HEAP_FORMAT=gz: the raw content is not stored again" \
		heap_objects_written 1
	rm -rf "$T/$IO.nout"
	FR=$T/$IO.nout
	snap restore-snapshot
	assert_rc "restore from a mixed heap" 0
	assert_trees_equal "$tree" "$FR" "mixed heap restores the tree"
}

for_each_io python_heap
for_each_io native_heap
finish
