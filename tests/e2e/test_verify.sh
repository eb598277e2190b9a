#!/usr/bin/env bash
# test_verify.sh: verify finds every kind of damage and --repair-from
# mends it. A heap with a flipped byte in one object, a deleted object, a
# truncated .gz object, a stray temp file and names that are not objects:
# verify (no --read-data) finds the missing one (exit 3), --read-data the
# two corrupt ones, --read-data-subset 1/2 + 2/2 together read everything,
# --json counts match, a corrupt snapshot is named; --repair-from the
# original tree repairs all three, after which verify --read-data is clean
# and a restore gives the tree back. The same damaged heap on Swift
# (s3://) and Azurite (az://), uploaded there with sync. restore stops
# at the first damaged object naming it and the file; --keep-going writes
# every other file and lists the three it could not; --dry-run fails on
# the missing object, with --read-data on the corrupt ones. A Python-format
# heap (the fixture's .gz objects) with native snapshots verifies clean.
. "$(dirname "$0")/lib.sh"
# every bucket here is new: the tool creates it (--create-bucket; that a
# missing bucket is refused without it is test_net_failures' part)
export SNAPSHOOTER_CREATE_BUCKET=1

md5of() { md5sum <"$1" | cut -c1-32; }
obj() { echo "$HR/${1:0:2}/$1"; }

# the tree: 8 distinct contents, one duplicate
SRC=$T/src
mkdir -p "$SRC/d/e"
for i in 1 2 3 4 5 6 7 8; do
	head -c $((i * 7000 + 13)) /dev/urandom >"$SRC/f$i"
done
cp "$SRC/f4" "$SRC/d/e/copy-of-f4"
printf 'text\n' >"$SRC/d/t.txt"

new_roots main
FR=$SRC
make_snapshot || die "make-snapshot"

# a local heap: --jobs readers, --transfers does not count
snap --loglevel DEBUG --jobs 3 --transfers 32 verify --read-data
assert_rc "a sound backup verifies" 0
assert_err_has "a local heap is read by --jobs readers" "verify: 3 readers"
assert_json "every object read" objects_checked 9
assert_json "nothing missing" objects_missing 0
assert_json "nothing corrupt" objects_corrupt 0
assert_json "10 file entries" files 10

# --- the damage -------------------------------------------------------
M1=$(md5of "$SRC/f1")   # flipped byte
M2=$(md5of "$SRC/f2")   # deleted
M3=$(md5of "$SRC/f3")   # truncated .gz
chmod u+w "$(obj "$M1")" "$(obj "$M3")"
flip_byte "$(obj "$M1")" 100
rm -f "$(obj "$M2")"
gzip -c <"$(obj "$M3")" | head -c 2000 >"$(obj "$M3").gz"
rm -f "$(obj "$M3")"
touch "$HR/${M1:0:2}/.tmp-12345-0-0000000000000001"
touch "$HR/${M1:0:2}/not-an-object" "$HR/junk"
cp -r "$HR" "$T/damaged.heap"

snap verify
assert_rc "verify without --read-data: damage found (exit 3)" 3
assert_json "the deleted object is missing" objects_missing 1
assert_json "no object read" objects_checked 0
assert_json "three leftovers" leftovers 3
check "the missing object is named" grep -q "^object-missing $M2: .*'f2'" "$OUT"
check "with the snapshot that needs it" grep -q "$SNAP" "$OUT"
check "the temp file is listed" grep -q '^leftover .*/\.tmp-12345' "$OUT"
check "the bad name is listed" grep -q '^leftover .*/not-an-object' "$OUT"
check "the summary says damage" grep -q 'DAMAGE FOUND' "$OUT"

snap verify --read-data
assert_rc "verify --read-data: damage found" 3
assert_json "both corrupt objects found" objects_corrupt 2
assert_json "the present ones read" objects_checked 8
check "the flipped object is named" grep -q "^object-corrupt .*/$M1: " "$OUT"
check "the truncated .gz is named" grep -q "^object-corrupt .*/$M3.gz: " "$OUT"

# --json on stdout: counts and findings
run "$SNAPSHOOTER" --no-progress --heap-root "$HR" --snap-root "$SR" \
	verify --read-data --json
assert_rc "--json: exit 3" 3
check "--json: one object on stdout" test "$(wc -l <"$OUT")" -eq 1
assert_eq "--json: objects_corrupt" 2 "$(json_get "$OUT" objects_corrupt)"
assert_eq "--json: objects_missing" 1 "$(json_get "$OUT" objects_missing)"
check "--json: findings listed" grep -q "\"kind\":\"object-missing\",\"subject\":\"$M2\"" "$OUT"

# subsets: 1/2 and 2/2 read disjoint parts that cover everything
snap verify --read-data-subset 1/2
c1=$(json_get "$SUMMARY" objects_checked)
k1=$(json_get "$SUMMARY" objects_corrupt)
snap verify --read-data-subset 2/2
c2=$(json_get "$SUMMARY" objects_checked)
k2=$(json_get "$SUMMARY" objects_corrupt)
assert_eq "1/2 + 2/2 read every present object" 8 "$((c1 + c2))"
assert_eq "1/2 + 2/2 find both corrupt objects" 2 "$((k1 + k2))"
snap verify --read-data-subset 100%
assert_json "100% reads everything" objects_checked 8
snap verify --read-data-subset 0%
assert_rc "0% is a usage error" 2
snap verify --read-data-subset 3/2
assert_rc "3/2 is a usage error" 2

# a corrupt snapshot is named, the rest still verified
cp "$SNAP" "$T/good.msgpack"
BAD=$(dirname "$SNAP")/2001-01-01_00-00-00_000000Z.msgpack
mkdir -p "$(dirname "$BAD")"
head -c 200 "$SNAP" >"$BAD"
snap verify
assert_rc "a truncated snapshot: damage" 3
assert_json "one corrupt snapshot" snapshots_corrupt 1
check "the snapshot is named" grep -q "^snapshot-corrupt $BAD: " "$OUT"
rm -f "$BAD"

# --- restore on the damaged heap ----------------------------------------
FR=$T/partial
snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore stops on the missing object" 1
assert_err_has "the error names the missing object" "$M2"
assert_err_has "and the file" "f2"
FR=$T/kept
snap restore-snapshot --path "$SNAP" --keep-going \
	--no-save-snapshot-before --no-save-snapshot-after
assert_rc "restore --keep-going: exit 1" 1
for f in f1 f2 f3; do
	check "--keep-going names $f as not restored" \
		grep -q "not restored: '$f': " "$ERR"
done
assert_err_has "--keep-going names the corrupt object" "$M1"
assert_err_has "--keep-going names the truncated .gz" "$M3.gz"
assert_err_has "--keep-going counts them" "3 files could not be restored"
assert_json "--keep-going: one error per file in the summary" errors 3
for f in f4 f5 f6 f7 f8 d/e/copy-of-f4 d/t.txt; do
	check "--keep-going restored $f" cmp -s "$SRC/$f" "$FR/$f"
done
for f in f1 f2 f3; do
	check "--keep-going left no $f behind" test ! -e "$FR/$f"
done
check "--keep-going left no temp file" \
	test -z "$(find "$FR" -name '.*' -type f)"
FR=$T/dry
snap restore-snapshot --path "$SNAP" --dry-run
assert_rc "restore --dry-run: exit 1 on a missing object" 1
assert_err_has "--dry-run names it" "$M2"
snap restore-snapshot --path "$SNAP" --dry-run --read-data --keep-going
assert_rc "restore --dry-run --read-data --keep-going: exit 1" 1
for f in f1 f2 f3; do
	check "--dry-run --read-data names $f" \
		grep -q "not restored: '$f': " "$ERR"
done
check "--dry-run wrote nothing" test ! -e "$FR"
snap restore-snapshot --path "$SNAP" --read-data
assert_rc "--read-data without --dry-run is a usage error" 2

# --- repair -----------------------------------------------------------
# a repair writes heap objects: it takes the shared lock, as a backup,
# and so waits for no gc but is refused while one holds the exclusive
# lock (a live one planted here); a check takes none
mkdir -p "$SR/locks"
printf '{"kind":"exclusive","command":"gc","host":"elsewhere","pid":7,"created_ns":%s,"refreshed_ns":%s}\n' \
	"$(date +%s%N)" "$(date +%s%N)" >"$SR/locks/exclusive-00000000000000aa.lock"
snap verify --read-data --repair-from "$SRC"
assert_rc "repair while gc holds the lock: refused" 1
assert_err_has "the holder is named" "is locked by gc (exclusive lock) on host 'elsewhere'"
assert_json "refused before anything was repaired" repaired 0
snap verify
assert_rc "a check takes no lock: runs (damage found)" 3
rm "$SR/locks/exclusive-00000000000000aa.lock"
snap verify --read-data --repair-from "$SRC"
assert_rc "repair of everything: exit 0" 0
check "the repair left no lock" test -z "$(ls "$SR/locks")"
assert_json "three objects repaired" repaired 3
assert_json "none left" unrepaired 0
check "the missing one is reported repaired" grep -q "^repaired $M2: .*f2" "$OUT"
check "the .gz stays a .gz" test -f "$(obj "$M3").gz"
check "no temp file left by the repair" \
	test -z "$(find "$HR" -name '.tmp-repair*')"
snap verify --read-data
assert_rc "verify --read-data after the repair: clean" 0
assert_json "nothing corrupt any more" objects_corrupt 0
FR=$T/restored
snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore after the repair" 0
assert_md5_equal "$SRC" "$FR"

# repair without the content: reported, exit 3
# (the repair wrote it in the heap's format: gz when the first fan-out
# directories show a .gz)
chmod u+w "$HR/${M2:0:2}"
rm -f "$(obj "$M2")" "$(obj "$M2").gz"
check "the object is deleted again" test ! -e "$(obj "$M2")"
mkdir -p "$T/empty"
snap verify --repair-from "$T/empty"
assert_rc "nothing to repair from: exit 3" 3
assert_json "one not repaired" unrepaired 1
check "named as unrepaired" grep -q "^unrepaired $M2: " "$OUT"

# an unreferenced object is counted, not damage
new_roots unref
FR=$SRC
make_snapshot || die "make-snapshot"
printf 'stray\n' >"$T/stray"
m=$(md5of "$T/stray")
mkdir -p "$HR/${m:0:2}"
cp "$T/stray" "$HR/${m:0:2}/$m"
snap verify --read-data
assert_rc "an unreferenced object is not damage" 0
assert_json "it is counted" objects_unreferenced 1

# --- Python-format heap (.gz objects) ----------------------------------
FIX=${SNAP_PY_FIXTURE:-$SNAP_SOURCE_DIR/../shared/fixtures/python-backup}
if [ -d "$FIX/heap" ] && [ -d "$FIX/tree-v2" ]; then
	new_roots py
	cp -r "$FIX/heap/." "$HR/"
	chmod -R u+w "$HR"
	cp -r "$FIX/tree-v2" "$T/pytree"
	chmod -R u+w "$T/pytree"
	FR=$T/pytree
	make_snapshot || die "make-snapshot on the Python heap"
	snap verify --read-data
	assert_rc "a Python heap with native snapshots verifies clean" 0
	n=$(json_get "$SUMMARY" objects_checked)
	assert_ge "its .gz objects are read" 1 "$n"
	assert_json "no corrupt .gz" objects_corrupt 0
elif [ "${CI:-}" = true ] || [ -n "${SNAP_REQUIRE_SERVERS:-}" ]; then
	fail "the Python fixture is missing: $FIX"
else
	skip "the Python fixture is missing: $FIX"
fi

# --- an object that cannot be read is no damage: the check fails -------
# (exit 1, naming the object and why) and nothing is counted corrupt.

unreadable_object() {
	local base=$T/unreadable o
	if [ "$(id -u)" -eq 0 ] && ! command -v setpriv >/dev/null 2>&1; then
		skip "unreadable object: setpriv (util-linux) not installed"
		return
	fi
	chmod 755 "$T"
	mkdir -p "$base/src"
	for i in 1 2 3 4 5; do echo "content $i" >"$base/src/f$i"; done
	run "$SNAPSHOOTER" --no-progress --file-root "$base/src" \
		--heap-root "$base/heap" --snap-root "$base/snap" make-snapshot
	assert_rc "unreadable object: backup" 0
	o=$(find "$base/heap" -type f -name '[0-9a-f]*' | head -n 1)
	[ "$(id -u)" -eq 0 ] && chown -R 65534:65534 "$base"
	chmod 000 "$o"
	nobody_kept_out "$o" "unreadable object" || return
	run as_nobody "$SNAPSHOOTER" --no-progress --heap-root "$base/heap" \
		--snap-root "$base/snap" --jobs 2 verify --read-data --json
	assert_rc "unreadable object: verify --read-data cannot complete" 1
	assert_err_has "... names the object and why" \
		"cannot open heap object '$o': Permission denied"
	assert_eq "... nothing corrupt" 0 "$(json_get "$OUT" objects_corrupt)"
	assert_eq "... its --json says the error" 1 \
		"$(json_get "$OUT" exit_code)"
}
unreadable_object

# --- the damaged heap on object storage --------------------------------
# --- a restore that fails after saving the state before -----------------
# That "before" snapshot is the latest now: the same command again would
# restore it. The failure says so and how to retry; after a repair, the
# retry with --path restores the snapshot asked for.
retry_after_failure() {
	local want=$T/retry.src
	rm -rf "$want" && mkdir -p "$want"
	printf 'first\n' >"$want/one"
	head -c 9000 /dev/urandom >"$want/two"
	new_roots retry
	FR=$want
	make_snapshot || return
	local asked=$SNAP
	flip_byte "$(obj "$(md5of "$want/two")")" 100
	FR=$T/retry.target
	mkdir -p "$FR" && printf 'mine\n' >"$FR/mine"
	snap restore-snapshot
	assert_rc "retry: restore over a corrupt object fails" 1
	assert_err_has "retry: the note names the snapshot asked for" \
		"to try this restore again, give --path '$asked'"
	local latest
	latest=$(snapshot_files "$SR" | tail -n 1)
	assert_ne "retry: the state before is the latest now" "$asked" "$latest"
	assert_err_has "retry: the note names the state before" \
		"the state before this restore was saved as '$latest'"
	snap verify --read-data --repair-from "$want"
	assert_rc "retry: the object repaired" 0
	snap restore-snapshot --path "$asked"
	assert_rc "retry: restore with --path as the note says" 0
	assert_md5_equal "$want" "$FR" "retry: the snapshot asked for restored"
	# a restore that did its work but could not write its summary has
	# nothing to retry: no note
	run "$SNAPSHOOTER" --no-progress --file-root "$FR" --heap-root "$HR" \
		--snap-root "$SR" --json-file /dev/full restore-snapshot \
		--path "$asked"
	assert_rc "retry: a summary that cannot be written fails" 1
	check "retry: no note when the restore itself succeeded" \
		bash -c "! grep -q 'note: the state before' '$ERR'"
}
retry_after_failure

# a SNAP_ROOT with no snapshot beside a heap with objects: nothing to
# check them against (most likely a typo), not "no damage found"
wrong_snap_root() {
	local src=$T/wsr.src
	mkdir -p "$src" && printf 'x\n' >"$src/x"
	new_roots wsr
	FR=$src
	make_snapshot || return
	run "$SNAPSHOOTER" --no-progress --heap-root "$HR" --snap-root \
		"$SR.typo" verify
	assert_rc "verify with a SNAP_ROOT holding no snapshot: exit 1" 1
	assert_err_has "... naming both and why" \
		"no snapshot in '$SR.typo' while the heap '$HR' holds 1 objects"
	check "... not 'no damage found'" \
		bash -c "! grep -q 'no damage found' '$OUT'"
	mkdir -p "$T/wsr.emptyheap"
	run "$SNAPSHOOTER" --no-progress --heap-root "$T/wsr.emptyheap" \
		--snap-root "$SR.typo" verify
	assert_rc "an empty heap and no snapshot: a new backup, exit 0" 0
}
wrong_snap_root

remote_checks() { # label url
	local label=$1 url=$2
	say "== $label: $url"
	run "$SNAPSHOOTER" --no-progress sync "$T/damaged.heap" "$url/heap"
	assert_rc "$label: upload the damaged heap" 0
	run "$SNAPSHOOTER" --no-progress sync "$T/main.snap" "$url/snaps"
	assert_rc "$label: upload the snapshots" 0
	HR=$url/heap
	SR=$url/snaps
	snap verify
	assert_rc "$label: verify finds the missing object" 3
	assert_json "$label: one missing" objects_missing 1
	assert_json "$label: three leftovers" leftovers 3
	check "$label: the missing object is named" grep -q "^object-missing $M2: " "$OUT"
	snap verify --read-data
	assert_rc "$label: verify --read-data" 3
	assert_json "$label: both corrupt objects found" objects_corrupt 2
	check "$label: the .gz is named by URL" grep -q "^object-corrupt $url/heap/${M3:0:2}/$M3.gz: " "$OUT"
	snap verify --read-data --repair-from "$SRC"
	assert_rc "$label: repair" 0
	assert_json "$label: three repaired" repaired 3
	# the readers wait on downloads: as many as transfers, not jobs
	# (at most one per object: 9 here)
	snap --loglevel DEBUG --jobs 2 --transfers 5 verify --read-data
	assert_rc "$label: clean after the repair" 0
	assert_json "$label: all read" objects_checked 9
	assert_err_has "$label: 5 readers (--transfers), not 2" \
		"verify: 5 readers"
}

if use_server swift; then
	remote_checks swift "s3://snapverify-$$"
fi
if use_server azurite; then
	remote_checks azurite "az://snapverify-$$"
fi

finish
