#!/usr/bin/env bash
# test_store_meta.sh: an object store as the target keeps content and
# mtime only. restore-snapshot and sync into a bucket warn once about the
# files whose hard link, xattrs or setuid/setgid/sticky bits were lost,
# and count them in --json (meta_not_kept); files that lose nothing more
# than every object does (owner, mode) are not counted. Real Swift s3api.
. "$(dirname "$0")/lib.sh"

bin() { run "$SNAPSHOOTER" --no-progress --json-file "$SUMMARY" "$@"; }

use_server swift || finish
# the shared servers outlive a run: a name of this run only
B=e2emeta-$$
python3 - "$B" "$SNAP_SWIFT_ENDPOINT" "$SNAP_SWIFT_KEY" "$SNAP_SWIFT_SECRET" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[2], aws_access_key_id=sys.argv[3],
                  aws_secret_access_key=sys.argv[4], region_name="us-east-1")
s3.create_bucket(Bucket=sys.argv[1])
PY

src=$T/src
mkdir -p "$src/d"
printf 'plain\n' >"$src/plain.txt"
printf 'linked\n' >"$src/d/a"
ln "$src/d/a" "$src/d/b"           # a group of two
printf 'setgid\n' >"$src/tool"
chmod 2755 "$src/tool"
printf 'attr\n' >"$src/attr.txt"
xattrs=0
if setfattr -n user.note -v hello "$src/attr.txt" 2>/dev/null; then
	xattrs=1
fi

# sync: the local scan gives link counts and modes (xattrs are not read
# for a store), so the two members and the setgid file are counted
bin sync "$src" "s3://$B/sync"
assert_rc "sync into the store" 0
assert_json "sync counts what the store loses" meta_not_kept 3
assert_err_has "sync warns once" "is an object store: it keeps content and mtime only"
assert_eq "one warning, not one per file" 1 \
	"$(grep -c 'is an object store' "$ERR")"
bin sync "$src" "s3://$B/sync"
assert_json "a no-change sync writes nothing, counts nothing" meta_not_kept 0
check "a run that writes nothing does not warn" \
	bash -c "! grep -q 'is an object store' '$ERR'"

# restore of a snapshot: the later member of the group (it names the
# first), the setgid file and the file with xattrs
H=$T/heap S=$T/snap
bin --file-root "$src" --heap-root "$H" --snap-root "$S" make-snapshot
assert_rc "make-snapshot of the tree" 0
bin --file-root "s3://$B/restored" --heap-root "$H" --snap-root "$S" \
	restore-snapshot --no-save-snapshot-before --no-save-snapshot-after
assert_rc "restore into the store" 0
assert_json "every file uploaded" files_copied 5
assert_json "restore counts what the store loses" meta_not_kept $((2 + xattrs))
assert_err_has "restore warns once" "is an object store: it keeps content and mtime only"
bin sync "s3://$B/restored" "$T/back"
assert_rc "the store's copy read back" 0
assert_eq "content kept" "$(cat "$src/d/a")" "$(cat "$T/back/d/b")"
finish
