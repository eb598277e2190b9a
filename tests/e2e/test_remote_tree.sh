#!/usr/bin/env bash
# test_remote_tree.sh: FILE_ROOT in object storage (a bucket or container
# as the tree), on real servers started here: Swift's S3 API and Azurite.
# make-snapshot of the bucket takes md5s from the store's listing (S3
# single-part ETag, Azure Content-MD5) and downloads only contents the heap
# lacks; an incremental run downloads nothing; restore writes a bucket
# from the heap; the round trip is byte-identical. A listing older than
# its object does not pair the old ETag with the new bytes.
. "$(dirname "$0")/lib.sh"
# every bucket here is new: the tool creates it (--create-bucket; that a
# missing bucket is refused without it is test_net_failures' part)
export SNAPSHOOTER_CREATE_BUCKET=1

bin() { run "$SNAPSHOOTER" --no-progress --json-file "$SUMMARY" "$@"; }

tree_case() { # label url
	local label=$1 url=$2 src=$T/$1.src
	say "== $label: $url"
	mkdir -p "$src/d/e"
	printf 'one\n' >"$src/a.txt"
	printf 'one\n' >"$src/d/dup.txt"
	head -c 150000 /dev/urandom >"$src/d/e/blob.bin"
	printf '' >"$src/empty"
	bin sync "$src" "$url/tree"
	assert_rc "$label: tree uploaded" 0
	local H=$T/$label.heap S=$T/$label.snap
	bin --file-root "$url/tree" --heap-root "$H" --snap-root "$S" \
		make-snapshot
	assert_rc "$label: make-snapshot of the bucket" 0
	assert_eq "$label: every file scanned" 4 \
		"$(json_get "$SUMMARY" files_scanned)"
	assert_eq "$label: distinct contents stored" 3 \
		"$(json_get "$SUMMARY" heap_objects_written)"
	bin --file-root "$url/tree" --heap-root "$H" --snap-root "$S" \
		make-snapshot
	assert_rc "$label: incremental make-snapshot" 0
	assert_eq "$label: nothing downloaded again" 0 \
		"$(json_get "$SUMMARY" files_hashed)"
	assert_eq "$label: nothing stored again" 0 \
		"$(json_get "$SUMMARY" heap_objects_written)"
	# --no-download-missing-files (the Python tool's option): what the
	# heap lacks is recorded by the MD5 the listing gives, not downloaded
	# (one HEAD first asks whether the listed ETags are MD5s)
	bin --file-root "$url/tree" --heap-root "$T/$label.noheap" \
		--snap-root "$T/$label.nosnap" make-snapshot \
		--no-download-missing-files
	assert_rc "$label: --no-download-missing-files" 0
	assert_json "$label: nothing downloaded" files_hashed 0
	assert_json "$label: every file recorded unstored" files_skipped 4
	assert_eq "$label: no heap object" "" "$(heap_objects "$T/$label.noheap")"
	bin --file-root "$T/$label.restored" --heap-root "$H" --snap-root "$S" \
		restore-snapshot
	assert_rc "$label: restore into a local dir" 0
	assert_md5_equal "$src" "$T/$label.restored" "$label: bucket restored locally"

	# restore into another bucket prefix, then read it back
	bin --file-root "$url/copy" --heap-root "$H" --snap-root "$S" \
		restore-snapshot --no-save-snapshot-before --no-save-snapshot-after
	assert_rc "$label: restore into the store" 0
	assert_eq "$label: files uploaded" 4 "$(json_get "$SUMMARY" files_copied)"
	bin sync "$url/copy" "$T/$label.copy"
	assert_md5_equal "$src" "$T/$label.copy" "$label: store restore exact"
	bin --file-root "$url/copy" --heap-root "$H" --snap-root "$S" \
		restore-snapshot --no-save-snapshot-before --no-save-snapshot-after
	assert_eq "$label: restoring again uploads nothing" 0 \
		"$(json_get "$SUMMARY" files_copied)"
	undo_case "$label" "$url" "$src" "$H" "$(snapshot_files "$S" | head -n 1)"

	# tree and heap in the same store: contents are copied server-side,
	# nothing is downloaded
	bin --file-root "$url/tree" --heap-root "$url/heap" \
		--snap-root "$url/snaps" make-snapshot
	assert_rc "$label: heap in the same store" 0
	assert_eq "$label: server-side copies, no download" 0 \
		"$(json_get "$SUMMARY" files_hashed)"
	assert_eq "$label: distinct contents copied" 3 \
		"$(json_get "$SUMMARY" heap_objects_written)"
	bin --file-root "$T/$label.fromcopy" --heap-root "$url/heap" \
		--snap-root "$url/snaps" restore-snapshot
	assert_rc "$label: restore from the copied heap" 0
	assert_md5_equal "$src" "$T/$label.fromcopy" \
		"$label: copied heap objects are right"
}

# undo_case label url src heap snapshot: a restore into a prefix holding
# what the heap lacks (a file of its own, a file the restore overwrites)
# can be undone: the snapshot it saves before holds both, stored in the
# heap (not recorded by their listed MD5s alone), so verify finds no
# object missing and restoring it brings both back.
undo_case() {
	local label=$1 url=$2 src=$3 H=$4 snapshot=$5
	local stage=$T/$1.undo.stage U=$T/$1.undo.snap
	rm -rf "$stage" && cp -a "$src" "$stage"
	printf 'only in the store\n' >"$stage/extra.txt"
	printf 'changed in the store\n' >"$stage/a.txt"
	bin sync "$stage" "$url/undo"
	assert_rc "$label: prefix to restore over uploaded" 0
	bin --file-root "$url/undo" --heap-root "$H" --snap-root "$U" \
		restore-snapshot --path "$snapshot"
	assert_rc "$label: restore over files the heap lacks" 0
	bin --file-root "$T/$label.undo.none" --heap-root "$H" \
		--snap-root "$U" verify
	assert_rc "$label: the saved before/after snapshots verify" 0
	bin --file-root "$T/$label.undone" --heap-root "$H" --snap-root "$U" \
		restore-snapshot --path "$(snapshot_files "$U" | head -n 1)" \
		--no-save-snapshot-before --no-save-snapshot-after
	assert_rc "$label: the state before restores" 0
	assert_md5_equal "$stage" "$T/$label.undone" \
		"$label: the restore undone: its own and the overwritten file back"
}

# azure_names_case url: Azure Blob Storage stores a '\' in a name as '/'
# (so "x\y" would land on "x/y" and replace it) and drops a '.' that ends
# a name or a folder name (Azure does; Azurite keeps it). Such names are
# refused, naming them (quoted as names are: x\x5cy), by restore and
# sync into the container; "x/y" keeps its own content.
azure_names_case() {
	local url=$1 src=$T/bs.src H=$T/bs.heap S=$T/bs.snap
	say "== names Azure would change, into $url"
	mkdir -p "$src/x"
	printf 'AAA' >"$src/x\y"
	printf 'BBB' >"$src/x/y"
	bin --file-root "$src" --heap-root "$H" --snap-root "$S" make-snapshot
	assert_rc "azure names: the local snapshot" 0
	bin --file-root "$url/bsr" --heap-root "$H" --snap-root "$S" \
		restore-snapshot --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "azure names: restore into the container fails" 1
	assert_err_has "azure names: the name and why" \
		"cannot use the name 'x\\x5cy' in '$url/bsr': Azure Blob Storage turns"
	assert_err_has "azure names: ... refused with the snapshot" \
		"refusing snapshot"
	rm -rf "$T/bs.peek" && mkdir -p "$T/bs.peek"
	bin sync "$url/bsr" "$T/bs.peek"
	assert_eq "azure names: ... before anything was written" "" \
		"$(cd "$T/bs.peek" && find . -type f)"
	mkdir -p "$T/bs.only/x" && printf 'BBB' >"$T/bs.only/x/y"
	bin sync "$T/bs.only" "$url/bss"
	assert_rc "azure names: x/y alone synced" 0
	bin sync "$src" "$url/bss"
	assert_rc "azure names: sync into the container fails" 1
	assert_err_has "azure names: sync names it" \
		"cannot use the name 'x\\x5cy' in '$url/bss'"
	rm -rf "$T/bs.back" && mkdir -p "$T/bs.back"
	bin sync "$url/bss" "$T/bs.back"
	assert_eq "azure names: x/y kept its own content" BBB \
		"$(cat "$T/bs.back/x/y" 2>/dev/null)"
	for name in dot. dir./f; do
		rm -rf "$T/bs.dot" && mkdir -p "$T/bs.dot/dir."
		printf 'x' >"$T/bs.dot/$name"
		bin sync "$T/bs.dot" "$url/dots"
		assert_rc "azure names: sync of '$name' fails" 1
		assert_err_has "azure names: '$name' named, and why" \
			"cannot use the name '$name' in '$url/dots': Azure Blob Storage drops a '.'"
	done
}

# non_utf8_case label url: S3 and Azure take UTF-8 object names only. A
# file named in another encoding is refused at once, naming it, not sent
# to fail as "HTTP 400" after retries; the other files are synced.
non_utf8_case() {
	local label=$1 url=$2 src=$T/$1.latin1
	rm -rf "$src" && mkdir -p "$src"
	printf 'ok' >"$src/fine"
	printf 'x' >"$src/caf$(printf '\351')"
	bin sync "$src" "$url/latin1"
	assert_rc "$label: a Latin-1 file name fails the sync" 1
	assert_err_has "$label: named, and why" \
		"cannot use the name 'caf\\xe9' in '$url/latin1': object names must be UTF-8"
	# a restore checks every name first, but not one it leaves out
	bin --file-root "$src" --heap-root "$T/$1.lh" --snap-root "$T/$1.ls" \
		make-snapshot
	bin --file-root "$url/latin1r" --heap-root "$T/$1.lh" --snap-root \
		"$T/$1.ls" restore-snapshot --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "$label: a restore of the Latin-1 name is refused" 1
	assert_err_has "$label: ... before writing" "refusing snapshot"
	bin --file-root "$url/latin1r" --heap-root "$T/$1.lh" --snap-root \
		"$T/$1.ls" restore-snapshot --no-save-snapshot-before \
		--no-save-snapshot-after --exclude 'caf*'
	assert_rc "$label: ... restored with it excluded" 0
}

# A listing older than the object (replaced by one of the same size
# between the LIST and the GET; kms_proxy.py's stale mode lists the old
# ETag): the snapshot records the bytes downloaded with the ETag they
# came with, not the listed one. When the object later holds the listed
# version again, its MD5 is not taken from that snapshot.
stale_listing_case() { # bucket
	local url=s3://$1/stale src=$T/stale.src H=$T/stale.heap S=$T/stale.snap
	local old_md5
	say "== a listing older than the object"
	mkdir -p "$src"
	printf 'ALPHA\n' >"$src/x.txt"
	bin sync "$src" "$url"
	assert_rc "stale: the new version uploaded" 0
	old_md5=$(printf 'alpha\n' | md5sum | cut -c1-32)
	start_kms_proxy stale stale stale/x.txt "$old_md5"
	AWS_ENDPOINT_URL=$PROXY_URL bin --file-root "$url" \
		--heap-root "$H" --snap-root "$S" make-snapshot
	assert_rc "stale: make-snapshot through the stale listing" 0
	# the object holds the listed (old) version again, a later mtime
	printf 'alpha\n' >"$src/x.txt"
	touch -d '2030-01-01' "$src/x.txt"
	bin sync "$src" "$url"
	assert_rc "stale: the old version back" 0
	sleep 1.1
	bin --file-root "$url" --heap-root "$H" --snap-root "$S" make-snapshot
	assert_rc "stale: make-snapshot again" 0
	bin --file-root "$T/stale.restored" --heap-root "$H" --snap-root "$S" \
		restore-snapshot --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "stale: restore" 0
	assert_eq "stale: the snapshot holds what the bucket holds" "alpha" \
		"$(cat "$T/stale.restored/x.txt" 2>/dev/null)"
}

# Two objects copied server-side into the heap at once under one name:
# a.bin holds X, b.bin is listed as X (a stale listing) but holds Y. A
# copy of b.bin lands over heap/X, fails its check and is deleted; the
# copy of a.bin made meanwhile must not go with it (the snapshot names X
# for a.bin). Each file is one worker's batch (over 4 MiB), and
# kms_proxy.py holds b.bin's copy 2 s, so that the two overlap. The
# copy's condition on b.bin's listed ETag is dropped, as by a store that
# does not honour it (s3rver): Swift's refuses the copy (conditional_copy_case).
copy_race_case() { # bucket
	local url=s3://$1/race src=$T/race.src S=$T/race.snap
	local x_md5
	say "== two copies into one heap name at once"
	mkdir -p "$src"
	head -c $((5 << 20)) /dev/urandom >"$src/a.bin"
	head -c $((5 << 20)) /dev/urandom >"$src/b.bin"
	bin sync "$src" "$url/tree"
	assert_rc "race: the tree uploaded" 0
	x_md5=$(md5sum <"$src/a.bin" | cut -c1-32)
	KMS_PROXY_COPY_IF=ignore start_kms_proxy race stale race/tree/b.bin \
		"$x_md5" 2
	AWS_ENDPOINT_URL=$PROXY_URL bin --file-root "$url/tree" \
		--heap-root "$url/heap" --snap-root "$S" make-snapshot
	assert_rc "race: make-snapshot" 0
	# the copy path was taken (else this tests nothing)
	check "race: a.bin copied server-side" \
		grep -q 'race/tree/a\.bin copy$' "$T/.race.port.log"
	bin --file-root "$T/race.restored" --heap-root "$url/heap" \
		--snap-root "$S" restore-snapshot --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "race: restore (every object the snapshot names is there)" 0
	assert_eq "race: a.bin back" "$x_md5" \
		"$(md5sum <"$T/race.restored/a.bin" | cut -c1-32)"
	# b.bin as listed (X: its copy waited for a.bin's and found X in
	# the heap, as an unchanged listed object is taken) or as it is (Y:
	# its own copy failed its check, it was downloaded)
	case $(md5sum <"$T/race.restored/b.bin" | cut -c1-32) in
	"$x_md5"|"$(md5sum <"$src/b.bin" | cut -c1-32)")
		pass "race: b.bin back as listed or as it is" ;;
	*)	fail "race: b.bin back as listed or as it is" ;;
	esac
}

# A copy into the heap that landed but whose check (HEAD) failed: b.bin
# is listed as X but holds Y, and kms_proxy.py answers the first HEAD of
# a heap object after the copy 503 (--retries 0: the check fails at
# once; the copy's condition dropped, as in copy_race_case). What the
# copy left under X's name is looked at again and removed: a later run
# would take it for X.
unchecked_copy_case() { # bucket
	local url=s3://$1/unchecked src=$T/unchecked.src x_md5 left
	say "== a copy into the heap whose check failed"
	need_sdks
	mkdir -p "$src"
	printf 'why\n' >"$src/b.bin"
	bin sync "$src" "$url/tree"
	assert_rc "unchecked: the tree uploaded" 0
	x_md5=$(printf 'wax\n' | md5sum | cut -c1-32)
	KMS_PROXY_COPY_IF=ignore start_kms_proxy unchecked stale \
		unchecked/tree/b.bin "$x_md5" 0 1
	AWS_ENDPOINT_URL=$PROXY_URL bin --retries 0 --file-root "$url/tree" \
		--heap-root "$url/heap" --snap-root "$T/unchecked.snap" \
		make-snapshot
	assert_rc "unchecked: make-snapshot" 0
	check "unchecked: a heap object's check was made to fail" \
		grep -q '^HEAD .*/heap/.* 503$' "$T/.unchecked.port.log"
	assert_eq "unchecked: no object left under a name not its MD5" "404" \
		"$(heap_head "$1" "unchecked/heap/${x_md5:0:2}/$x_md5")"
}

# heap_head BUCKET KEY: boto3's HEAD of KEY: its ETag, or the error code.
heap_head() {
	"$PY" - "$1" "$2" <<'PY'
import os, sys
sys.path.insert(0, os.environ["SNAP_SOURCE_DIR"] + "/tests/e2e")
from botocore.exceptions import ClientError
from s3_helpers import client
try:
    print(client().head_object(Bucket=sys.argv[1], Key=sys.argv[2])["ETag"])
except ClientError as e:
    print(e.response["Error"]["Code"])
PY
}

# A copy into the heap is made only from the version listed: b.bin is
# listed as X but holds Y; the copy's condition on X's ETag
# (x-amz-copy-source-if-match) is refused by the store, and b.bin comes
# through this host under its own MD5. Nothing is ever under X's name.
conditional_copy_case() { # bucket
	local url=s3://$1/cond src=$T/cond.src x_md5
	say "== a copy conditional on the version listed"
	mkdir -p "$src"
	printf 'why\n' >"$src/b.bin"
	bin sync "$src" "$url/tree"
	assert_rc "cond: the tree uploaded" 0
	x_md5=$(printf 'wax\n' | md5sum | cut -c1-32)
	start_kms_proxy cond stale cond/tree/b.bin "$x_md5"
	AWS_ENDPOINT_URL=$PROXY_URL bin --file-root "$url/tree" \
		--heap-root "$url/heap" --snap-root "$T/cond.snap" make-snapshot
	assert_rc "cond: make-snapshot" 0
	check "cond: the store refused the copy (412)" \
		grep -q "^COPIED 412 /$1/cond/heap/" "$T/.cond.port.log"
	assert_json "cond: b.bin downloaded" files_hashed 1
	assert_eq "cond: nothing under X's name" "404" \
		"$(heap_head "$1" "cond/heap/${x_md5:0:2}/$x_md5")"
	bin --file-root "$T/cond.restored" --heap-root "$url/heap" \
		--snap-root "$T/cond.snap" restore-snapshot \
		--no-save-snapshot-before --no-save-snapshot-after
	assert_rc "cond: restore" 0
	assert_md5_equal "$src" "$T/cond.restored" "cond: b.bin as it is"
}

# A copy into the heap whose answer was lost (kms_proxy.py makes it and
# closes the connection unanswered; --retries 0): it is looked at as any
# copy. A copy of the
# version listed is kept (not downloaded again); a copy of a source
# replaced since (its condition dropped, as by s3rver) is removed.
# lost_copy_snapshot PROXY DIR WHAT: make-snapshot of $url/tree/DIR
# through the proxy started as PROXY, whose log must show a copy made
# and its answer lost (bucket in $1, $url: lost_answer_case's).
lost_copy_snapshot() {
	AWS_ENDPOINT_URL=$PROXY_URL bin --retries 0 \
		--file-root "$url/tree/$2" --heap-root "$url/heap" \
		--snap-root "$T/lost.snap" make-snapshot
	assert_rc "lost: make-snapshot ($3 made)" 0
	check "lost: $3 was made and its answer lost" \
		grep -q "^COPIED 200 /$bucket/lost/heap/" "$T/.$1.port.log"
	check "lost: $3's answer was lost" \
		grep -q "^LOST /$bucket/lost/heap/" "$T/.$1.port.log"
}

lost_answer_case() { # bucket
	local bucket=$1 url=s3://$1/lost src=$T/lost.src x_md5 y_md5
	say "== a copy into the heap whose answer was lost"
	mkdir -p "$src/ok" "$src/stale"
	printf 'kept\n' >"$src/ok/a.bin"
	printf 'why\n' >"$src/stale/b.bin"
	bin sync "$src" "$url/tree"
	assert_rc "lost: the trees uploaded" 0
	y_md5=$(md5sum <"$src/ok/a.bin" | cut -c1-32)
	KMS_PROXY_LOSE_COPY=1 start_kms_proxy lostok plain
	lost_copy_snapshot lostok ok "a copy"
	assert_json "lost: the copy found made, nothing downloaded" \
		files_hashed 0
	assert_eq "lost: the copy kept" "\"$y_md5\"" \
		"$(heap_head "$1" "lost/heap/${y_md5:0:2}/$y_md5")"

	x_md5=$(printf 'wax\n' | md5sum | cut -c1-32)
	KMS_PROXY_COPY_IF=ignore KMS_PROXY_LOSE_COPY=1 start_kms_proxy \
		loststale stale lost/tree/stale/b.bin "$x_md5"
	lost_copy_snapshot loststale stale "a stale copy"
	assert_eq "lost: no object left under a name not its MD5" "404" \
		"$(heap_head "$1" "lost/heap/${x_md5:0:2}/$x_md5")"
}

# A heap cache older than the heap: another run stored X after the
# cache was written. b.bin is listed as X (stale) but holds Y; its copy
# would land over X, fail its check and be deleted, taking the other
# run's object with it (the copy's condition dropped, as in
# copy_race_case). The heap is looked at before a copy.
stale_cache_case() { # bucket
	local url=s3://$1/scache x_md5
	say "== a heap cache older than the heap"
	mkdir -p "$T/sc.first" "$T/sc.other" "$T/sc.tree"
	printf 'first\n' >"$T/sc.first/f"
	printf 'other run\n' >"$T/sc.other/x"
	printf 'Other Run\n' >"$T/sc.tree/b.bin"
	bin --file-root "$T/sc.first" --heap-root "$url/heap" \
		--snap-root "$T/sc.first.snap" --heap-cache-file "$T/sc.cache" \
		make-snapshot
	assert_rc "stale cache: a run writes the cache" 0
	bin --file-root "$T/sc.other" --heap-root "$url/heap" \
		--snap-root "$T/sc.other.snap" make-snapshot
	assert_rc "stale cache: another run stores X (no cache)" 0
	bin sync "$T/sc.tree" "$url/tree"
	assert_rc "stale cache: the tree uploaded" 0
	x_md5=$(md5sum <"$T/sc.other/x" | cut -c1-32)
	KMS_PROXY_COPY_IF=ignore start_kms_proxy scache stale \
		scache/tree/b.bin "$x_md5"
	AWS_ENDPOINT_URL=$PROXY_URL bin --file-root "$url/tree" \
		--heap-root "$url/heap" --snap-root "$T/sc.tree.snap" \
		--heap-cache-file "$T/sc.cache" make-snapshot
	assert_rc "stale cache: make-snapshot of the tree" 0
	bin --file-root "$T/sc.other.restored" --heap-root "$url/heap" \
		--snap-root "$T/sc.other.snap" restore-snapshot \
		--no-save-snapshot-before --no-save-snapshot-after
	assert_rc "stale cache: the other run's snapshot restores" 0
	assert_md5_equal "$T/sc.other" "$T/sc.other.restored" \
		"stale cache: the other run's file back"
}

# outer_case url: a FILE_ROOT that is the heap or snapshot prefix, or
# inside one, is refused before anything is written: a restore there
# would delete the backup it restores from.
outer_case() {
	local url=$1 src=$T/oc.src fr
	say "== FILE_ROOT the heap or snapshot prefix, in $url"
	mkdir -p "$src" && printf 'keep' >"$src/f"
	bin --file-root "$src" --heap-root "$url/oheap" --snap-root \
		"$url/osnap" make-snapshot
	assert_rc "outer roots: the backup" 0
	for fr in "$url/oheap" "$url/oheap/" "$url//oheap" "$url/oheap/18" \
		"$url/osnap"; do
		bin --file-root "$fr" --heap-root "$url/oheap" --snap-root \
			"$url/osnap" restore-snapshot
		assert_rc "restore into '$fr': refused" 1
		assert_err_has "... naming why" "refusing to restore into '$fr'"
	done
	bin --file-root "$T/oc.back" --heap-root "$url/oheap" --snap-root \
		"$url/osnap" restore-snapshot --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "outer roots: the backup still restores" 0
	assert_eq "... with its content" keep "$(cat "$T/oc.back/f")"
	bin --heap-root "$url/oheap" --snap-root "$url/osnap" verify
	assert_rc "outer roots: the heap still verifies" 0
}

# inner_case url: the heap and snapshot prefixes inside a store tree (as
# a ".heap" folder in a local one) are left out of its snapshots and
# never deleted or written by a restore into it.
inner_case() {
	local url=$1 src=$T/ic.src tree=$1/itree n
	say "== the heap and snapshot prefixes inside the tree, in $url"
	mkdir -p "$src/d" && printf 'A' >"$src/a" && printf 'C' >"$src/d/c"
	bin sync "$src" "$tree"
	assert_rc "inner roots: the tree uploaded" 0
	bin --file-root "$tree" --heap-root "$tree/.heap" --snap-root \
		"$tree/.snap" make-snapshot
	assert_rc "inner roots: the first backup" 0
	first=$(tail -n 1 "$OUT")
	printf 'old content' >"$src/e"
	bin sync "$src" "$tree" --exclude '/.heap/' --exclude '/.snap/'
	bin --file-root "$tree" --heap-root "$tree/.heap" --snap-root \
		"$tree/.snap" make-snapshot
	assert_rc "inner roots: the second backup" 0
	bin --heap-root "$tree/.heap" --snap-root "$tree/.snap" \
		compare-snapshots --path1 "$first" --path2 "$(tail -n 1 "$OUT")" \
		--diff-state only_left --diff-state only_right \
		--diff-state different --diff-state equal
	check "inner roots: the snapshots leave the prefixes out" \
		bash -c "! grep -qE '\\.heap|\\.snap' '$OUT'"
	bin --file-root "$tree" --heap-root "$tree/.heap" --snap-root \
		"$tree/.snap" restore-snapshot --path "$first"
	assert_rc "inner roots: restore of the first" 0
	bin --heap-root "$tree/.heap" --snap-root "$tree/.snap" verify
	assert_rc "inner roots: the backup still verifies" 0
	bin --heap-root "$tree/.heap" --snap-root "$tree/.snap" list-snapshots
	n=$(grep -c . "$OUT")
	assert_eq "inner roots: both snapshots, before and after kept" 4 "$n"
	# nested by name but with other storage options: maybe another
	# store (its ".heap" the user's folder), maybe this one: refused
	bin --file-root "$tree" --heap-root "$tree/.heap" --snap-root \
		"$tree/.snap" --heap-storage-options '{"create_bucket": true}' \
		make-snapshot
	assert_rc "inner roots with other storage options: refused" 1
	assert_err_has "... saying why" "but other storage options"
	# a prefix with no object: a mistyped root, not an empty tree
	bin --file-root "$url/itypo" --heap-root "$tree/.heap" --snap-root \
		"$tree/.snap" make-snapshot
	assert_rc "a backup of a prefix with no object fails" 1
	assert_err_has "... saying why" "'$url/itypo' holds no object"
	bin --heap-root "$tree/.heap" --snap-root "$tree/.snap" list-snapshots
	assert_eq "... and saves no snapshot" 4 "$(grep -c . "$OUT")"
	rm -rf "$T/ic.dst" && mkdir -p "$T/ic.dst" && printf 'K' >"$T/ic.dst/k"
	bin sync "$url/itypo" "$T/ic.dst"
	assert_rc "a sync from a prefix with no object fails" 1
	assert_eq "... and DST keeps its files" K "$(cat "$T/ic.dst/k")"
}

# the shared servers outlive a run: a name of this run only
if use_server swift; then
	tree_case swift "s3://e2etree-$$"
	non_utf8_case swift "s3://e2etree-$$"
	outer_case "s3://e2etree-$$"
	inner_case "s3://e2etree-$$"
	stale_listing_case "e2etree-$$"
	copy_race_case "e2etree-$$"
	unchecked_copy_case "e2etree-$$"
	conditional_copy_case "e2etree-$$"
	lost_answer_case "e2etree-$$"
	stale_cache_case "e2etree-$$"
fi
if use_server azurite; then
	tree_case azurite "az://e2etree-$$"
	azure_names_case "az://e2etree-$$"
	non_utf8_case azurite "az://e2etree-$$"
	outer_case "az://e2etree-$$"
	inner_case "az://e2etree-$$"
fi
finish
