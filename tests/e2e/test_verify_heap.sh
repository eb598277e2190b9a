#!/usr/bin/env bash
# test_verify_heap.sh: make-snapshot --verify-heap re-checks and repairs
# the heap objects of the files it hashes.
#  - raw heap: a flipped byte in a small object (two files hold that
#    content) and in a streamed 3 MiB one, and a deleted object. A plain
#    make-snapshot leaves the corrupt objects as they are (the documented
#    limit: a present object is not read); --verify-heap hashes every
#    file (md5_reused 0), replaces both (heap_objects_repaired 2, a
#    WARNING naming each object), stores the deleted one again; verify
#    --read-data is then clean and the snapshot restores to the tree. A
#    second --verify-heap run reads every object once and repairs nothing.
#  - gz heap (--heap-format gz): a .gz with a flipped byte and a
#    truncated .gz are replaced in their own form (still <md5>.gz, which
#    gunzips to its name).
#  - a file changed so that no file holds the corrupt content any more:
#    nothing is repaired, the object stays as it was, and verify
#    --read-data still names it.
#  - the same damage on a Swift (s3://) heap and snapshot root; a tree on
#    Swift backed up into a local heap is repaired from its download.
. "$(dirname "$0")/lib.sh"
# every bucket here is new: the tool creates it (--create-bucket; that a
# missing bucket is refused without it is test_net_failures' part)
export SNAPSHOOTER_CREATE_BUCKET=1

md5of() { md5sum <"$1" | cut -c1-32; }
obj() { echo "$HR/${1:0:2}/$1"; }
flip() { flip_byte "$@"; }  # FILE OFFSET

SRC=$T/src
mkdir -p "$SRC/d"
for i in 1 2 3 4; do
	head -c $((i * 6000 + 7)) /dev/urandom >"$SRC/f$i"
done
head -c 3M /dev/urandom >"$SRC/big"
cp "$SRC/f1" "$SRC/d/copy-of-f1"
set_old_mtimes "$SRC"
M1=$(md5of "$SRC/f1")    # flipped byte, two files
M2=$(md5of "$SRC/f2")    # deleted
MB=$(md5of "$SRC/big")   # flipped byte, streamed path

new_roots raw
FR=$SRC
make_snapshot || die "first make-snapshot"
flip "$(obj "$M1")" 100
flip "$(obj "$MB")" 2000000

# without the flag: present objects are not read
make_snapshot || die "make-snapshot without --verify-heap"
assert_json "no flag: no object read back" heap_objects_verified 0
assert_json "no flag: nothing repaired" heap_objects_repaired 0
check "no flag: the flipped object is still corrupt (the limit)" \
	test "$(md5of "$(obj "$M1")")" != "$M1"
snap verify --read-data
assert_rc "no flag: verify --read-data still finds the damage" 3
rm -f "$(obj "$M2")"

make_snapshot --verify-heap || die "make-snapshot --verify-heap"
assert_json "--verify-heap: every file hashed" files_hashed 6
assert_json "--verify-heap: no md5 reused" md5_reused 0
assert_json "--verify-heap: both corrupt objects repaired" \
	heap_objects_repaired 2
assert_json "--verify-heap: the deleted one stored again" \
	heap_objects_written 1
assert_json "--verify-heap: each present object read once" \
	heap_objects_verified 4
assert_err_has "--verify-heap: the repair of $M1 is logged" \
	"WARNING  snapshooter - repaired heap object $M1"
assert_err_has "--verify-heap: the repair of $MB is logged" \
	"WARNING  snapshooter - repaired heap object $MB"
check "--verify-heap: every object matches its name" heap_verify "$HR"
check "--verify-heap: no temp left in the heap" \
	test -z "$(find "$HR" -name '.tmp-*')"
snap verify --read-data
assert_rc "--verify-heap: verify --read-data is clean" 0
run "$SNAPSHOOTER" --no-progress --file-root "$T/back" --heap-root "$HR" \
	--snap-root "$SR" restore-snapshot --path "$SNAP" \
	--no-save-snapshot-before --no-save-snapshot-after
assert_rc "--verify-heap: its snapshot restores" 0
check "--verify-heap: the restored tree is the source" \
	diff -r "$SRC" "$T/back"
# every earlier snapshot restores too (they reference the same objects)
run "$SNAPSHOOTER" --no-progress --file-root "$T/back0" --heap-root "$HR" \
	--snap-root "$SR" restore-snapshot --path \
	"$(snapshot_files "$SR" | head -n 1)" \
	--no-save-snapshot-before --no-save-snapshot-after
assert_rc "the first snapshot restores again" 0

make_snapshot --verify-heap || die "second make-snapshot --verify-heap"
assert_json "a sound heap: every distinct content read once" \
	heap_objects_verified 5
assert_json "a sound heap: nothing repaired" heap_objects_repaired 0
check "a sound heap: no WARNING" test -z "$(grep WARNING "$ERR")"

# --- gz heap ----------------------------------------------------------
new_roots gz
run "$SNAPSHOOTER" --no-progress --heap-format gz --file-root "$SRC" \
	--heap-root "$HR" --snap-root "$SR" make-snapshot
assert_rc "gz: first make-snapshot" 0
check "gz: objects are .gz" test -f "$(obj "$M1").gz"
flip "$(obj "$M1").gz" 30
chmod u+w "$(obj "$M2").gz"
head -c 500 "$(obj "$M2").gz" >"$T/trunc.gz"
cat "$T/trunc.gz" >"$(obj "$M2").gz"
snap verify --read-data
assert_rc "gz: the damage is there" 3
make_snapshot --verify-heap || die "gz: make-snapshot --verify-heap"
assert_json "gz: the flipped and the truncated .gz repaired" \
	heap_objects_repaired 2
for m in "$M1" "$M2"; do
	check "gz: $m is still a .gz, with no raw twin" \
		test -f "$(obj "$m").gz" -a ! -e "$(obj "$m")"
	assert_eq "gz: $m gunzips to its name" "$m" \
		"$(gzip -dc <"$(obj "$m").gz" | md5sum | cut -c1-32)"
done
snap verify --read-data
assert_rc "gz: verify --read-data is clean" 0

# --- a file that no longer holds the corrupt content -------------------
new_roots changed
make_snapshot || die "changed: first make-snapshot"
M3=$(md5of "$SRC/f3")
flip "$(obj "$M3")" 10
before=$(md5of "$(obj "$M3")")
echo "new content" >>"$SRC/f3"
make_snapshot --verify-heap || die "changed: make-snapshot --verify-heap"
assert_json "changed: nothing repaired" heap_objects_repaired 0
assert_json "changed: its new content stored" heap_objects_written 1
assert_eq "changed: the corrupt object is left as it was" "$before" \
	"$(md5of "$(obj "$M3")")"
snap verify --read-data
assert_rc "changed: verify --read-data still finds it" 3
check "changed: and names it" grep -q "^object-corrupt .*/$M3: " "$OUT"

# --- a Swift heap -------------------------------------------------------
if use_server swift; then
	url="s3://snapverifyheap-$$"
	new_roots remote
	FR=$SRC
	make_snapshot || die "remote: local make-snapshot"
	flip "$(obj "$M1")" 5
	flip "$(obj "$MB")" 1000
	run "$SNAPSHOOTER" --no-progress sync "$HR" "$url/heap"
	assert_rc "remote: upload the damaged heap" 0
	run "$SNAPSHOOTER" --no-progress sync "$SR" "$url/snaps"
	assert_rc "remote: upload the snapshots" 0
	HR=$url/heap
	SR=$url/snaps
	snap verify --read-data
	assert_rc "remote: the damage is there" 3
	snap make-snapshot --verify-heap
	assert_rc "remote: make-snapshot --verify-heap" 0
	SNAP=$(head -n 1 "$OUT")
	assert_json "remote: both repaired" heap_objects_repaired 2
	assert_err_has "remote: the repair is logged" \
		"repaired heap object $M1 in '$url/heap'"
	snap verify --read-data
	assert_rc "remote: verify --read-data is clean" 0
	run "$SNAPSHOOTER" --no-progress --file-root "$T/back-remote" \
		--heap-root "$HR" --snap-root "$SR" restore-snapshot \
		--path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "remote: the snapshot restores" 0
	check "remote: the restored tree is the source" \
		diff -r "$SRC" "$T/back-remote"

	# an object-store tree: the repair comes from the download
	run "$SNAPSHOOTER" --no-progress sync "$SRC" "$url/tree"
	assert_rc "remote tree: upload the tree" 0
	new_roots rtree
	FR=$url/tree
	make_snapshot || die "remote tree: make-snapshot"
	flip "$(obj "$M1")" 7
	make_snapshot --verify-heap ||
		die "remote tree: make-snapshot --verify-heap"
	assert_json "remote tree: the object repaired from the download" \
		heap_objects_repaired 1
	check "remote tree: every object matches its name" heap_verify "$HR"
fi

finish
