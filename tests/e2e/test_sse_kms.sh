#!/usr/bin/env bash
# test_sse_kms.sh: an S3 bucket encrypted with SSE-KMS (AWS's default in
# many accounts) gives ETags that are not the MD5 of the bytes, in its
# listings too, where nothing says so; only an object's own answers carry
# `x-amz-server-side-encryption: aws:kms`. No server this machine runs
# does that, so kms_proxy.py answers so in front of Swift's S3 API. Such a
# tree can be snapshotted (heap objects named by the MD5 of their bytes,
# in a local heap and in a heap in the same bucket), snapshotted again
# without downloading what did not change, restored, and synced to a
# folder and to the store (the upload's Content-MD5 is the bytes', not
# the listed ETag); an MD5 the writer put in metadata (rclone's
# md5chksum) is still checked against the bytes.
. "$(dirname "$0")/lib.sh"

need_sdks
start_server azurite || finish
use_server swift || finish
export AZURE_STORAGE_CONNECTION_STRING=$SNAP_AZURITE_CONNECTION_STRING
export SNAPSHOOTER_CREATE_BUCKET=1   # the Azure container
B=e2ekms-$$
SRC=$T/src

"$PY" - "$B" "$SRC" <<'PY' || die "cannot write the test objects"
import os, sys
sys.path.insert(0, os.environ["SNAP_SOURCE_DIR"] + "/tests/e2e")
from s3_helpers import client, multipart

b, src = sys.argv[1], sys.argv[2]
s3 = client()
s3.create_bucket(Bucket=b)

def put(key, data):
    path = os.path.join(src, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    s3.put_object(Bucket=b, Key="tree/" + key, Body=data)

put("a.txt", b"alpha\n")
put("same-as-a.txt", b"alpha\n")
put("dir/b.bin", os.urandom(100 << 10))
# past the 64 MiB threshold: downloaded in ranges
put("large.bin", os.urandom(1 << 20) * 65)
body = b"in parts\n"
multipart(s3, b, "tree/parts.bin", body, body)
with open(os.path.join(src, "parts.bin"), "wb") as f:
    f.write(body)
multipart(s3, b, "bad/parts.bin", b"what is stored\n",
          b"what it should be\n")
# for the stale listing below: a multipart object, no MD5 in metadata
multipart(s3, b, "stale/parts.bin", b"the new version\n", None)
PY

# everything below goes through the proxy: the bucket is "encrypted"
start_kms_proxy kms
export AWS_ENDPOINT_URL=$PROXY_URL

# the proxy answers as a KMS bucket does, as a client nobody here wrote
# sees it (else nothing below tests anything)
"$PY" - "$B" <<'PY' >"$T/.kmscheck" 2>&1
import hashlib, os, sys
sys.path.insert(0, os.environ["SNAP_SOURCE_DIR"] + "/tests/e2e")
from s3_helpers import client
s3 = client()
md5 = hashlib.md5(b"alpha\n").hexdigest()
h = s3.head_object(Bucket=sys.argv[1], Key="tree/a.txt")
listed = [o["ETag"] for o in s3.list_objects_v2(Bucket=sys.argv[1],
          Prefix="tree/a.txt")["Contents"]]
print(h["ServerSideEncryption"], h["ETag"].strip('"') != md5,
      listed == [h["ETag"]])
PY
assert_eq "the proxy answers as a KMS bucket (boto3)" "aws:kms True True" \
	"$(cat "$T/.kmscheck")"

sn() { run "$SNAPSHOOTER" --no-progress --json-file "$SUMMARY" "$@"; }
want_objects() {
	(cd "$SRC" && find . -type f -print0 | xargs -0 md5sum) | cut -c1-32 |
		sort -u
}

# make-snapshot into a local heap: every object named by its bytes' MD5
sn --file-root "s3://$B/tree" --heap-root "$T/heap" --snap-root "$T/snaps" \
	make-snapshot
assert_rc "make-snapshot of a KMS bucket" 0
assert_json "every file downloaded and hashed" files_hashed 5
assert_eq "heap objects are the bytes' MD5s" "$(want_objects)" \
	"$(heap_objects "$T/heap" | sed 's|.*/||')"
assert_eq "heap objects hash to their names" "" "$(heap_verify "$T/heap")"
# again: the previous snapshot's MD5 of each unchanged object (same ETag)
# is taken over the listed ETag, so nothing is downloaded
sleep 1.1
sn --file-root "s3://$B/tree" --heap-root "$T/heap" --snap-root "$T/snaps" \
	make-snapshot
assert_rc "make-snapshot again" 0
assert_json "nothing downloaded again" files_hashed 0
assert_json "nothing read again" bytes_read 0
sn --file-root "$T/restored" --heap-root "$T/heap" --snap-root "$T/snaps" \
	restore-snapshot --no-save-snapshot-before --no-save-snapshot-after
assert_rc "restore" 0
assert_md5_equal "$SRC" "$T/restored" "restored as the bucket holds it"

# --no-download-missing-files records listed MD5s without the content;
# a KMS bucket's are none: one HEAD says so, and the files are
# downloaded and named by their bytes after all
sn --file-root "s3://$B/tree" --heap-root "$T/nodl-heap" \
	--snap-root "$T/nodl-snaps" make-snapshot --no-download-missing-files
assert_rc "--no-download-missing-files on a KMS bucket" 0
assert_err_has "... says why it downloads" "--no-download-missing-files: the ETags of 's3://$B/tree' are no MD5s (SSE-KMS or SSE-C): its files are downloaded and hashed"
assert_json "... nothing recorded unstored" files_skipped 0
assert_eq "... heap objects are the bytes' MD5s" "$(want_objects)" \
	"$(heap_objects "$T/nodl-heap" | sed 's|.*/||')"

# a heap in the same bucket: a server-side copy on the listed ETag could
# not be checked (the copy's HEAD gives no MD5), so none is made: the
# source's answer to one HEAD says so before the first (4 copies of
# contents with a listed ETag, each deleted after its check, without it)
copies() { grep -c ' copy$' "$T/.kms.port.log"; }
before=$(copies)
sn --file-root "s3://$B/tree" --heap-root "s3://$B/heap" \
	--snap-root "s3://$B/snaps" make-snapshot
assert_rc "make-snapshot into a heap in the KMS bucket" 0
assert_eq "no server-side copy tried" 0 $(($(copies) - before))
assert_err_has "a warning says why" "server-side copies from 's3://$B/tree' cannot be checked: its ETags are no MD5s (SSE-KMS or SSE-C); no server-side copy into heap 's3://$B/heap' in this run: contents come through this host"
assert_eq "its heap objects are the bytes' MD5s" "$(want_objects)" \
	"$("$PY" - "$B" <<'PY'
import os, sys
sys.path.insert(0, os.environ["SNAP_SOURCE_DIR"] + "/tests/e2e")
from s3_helpers import client
s3 = client()
r = s3.list_objects_v2(Bucket=sys.argv[1], Prefix="heap/")
print("\n".join(sorted(o["Key"].rsplit("/", 1)[1] for o in r["Contents"])))
PY
)"
sn --file-root "$T/restored-remote" --heap-root "s3://$B/heap" \
	--snap-root "s3://$B/snaps" restore-snapshot \
	--no-save-snapshot-before --no-save-snapshot-after
assert_rc "restore from the heap in the KMS bucket" 0
assert_md5_equal "$SRC" "$T/restored-remote" "restored from the bucket's heap"

# sync: to a folder; within the bucket the store copies every object
# (a copy cannot be checked against a listed ETag that is no MD5, and a
# sync takes the store's copy of the object as it is); to another
# service through this host, with the Content-MD5 of the bytes, not the
# listed ETag (Azurite refuses a wrong one)
sn sync "s3://$B/tree" "$T/down"
assert_rc "sync KMS bucket -> folder" 0
assert_md5_equal "$SRC" "$T/down" "synced down as the bucket holds it"
before=$(copies)
sn sync "s3://$B/tree" "s3://$B/copy"
assert_rc "sync KMS bucket -> same bucket" 0
assert_json "all five copied" files_copied 5
assert_json "no byte through here" bytes_read 0
assert_eq "sync: every object copied by the store" 5 \
	$(($(copies) - before))
assert_err_has "sync: says the copies are not checked" "server-side copies from 's3://$B/tree' cannot be checked: its ETags are no MD5s (SSE-KMS or SSE-C); copies into 's3://$B/copy' are made by the store without that check"
sn sync "s3://$B/copy" "$T/copy-down"
assert_rc "the copy read back" 0
assert_md5_equal "$SRC" "$T/copy-down" "the copy holds the same bytes"
sn sync "s3://$B/tree" "az://$B/from-kms"
assert_rc "sync KMS bucket -> Azure through this host" 0
assert_json "all five uploaded" files_copied 5
sn sync "az://$B/from-kms" "$T/az-down"
assert_rc "the Azure copy read back" 0
assert_md5_equal "$SRC" "$T/az-down" "Azure holds the same bytes"

# A listing made before an object was replaced (kms_proxy.py's stale
# mode, no KMS: the listing gives the old version's ETag, an MD5; the
# GET gives the new one's, a multipart ETag with no MD5): the listed MD5
# is not the bytes', so make-snapshot names them by their own MD5 and a
# store -> store sync uploads them with their own Content-MD5 (both
# failed on the listed MD5 before)
old=$(printf 'the old version\n' | md5sum | cut -c1-32)
new=$(printf 'the new version\n' | md5sum | cut -c1-32)
start_kms_proxy stale stale stale/parts.bin "$old"
AWS_ENDPOINT_URL=$PROXY_URL sn \
	--file-root "s3://$B/stale" --heap-root "$T/sheap" \
	--snap-root "$T/ssnaps" make-snapshot
assert_rc "stale listing: make-snapshot" 0
assert_eq "stale listing: the heap holds the new bytes by their MD5" \
	"$new" "$(heap_objects "$T/sheap" | sed 's|.*/||')"
AWS_ENDPOINT_URL=$PROXY_URL sn sync "s3://$B/stale" "az://$B/stale"
assert_rc "stale listing: sync to Azure" 0
sn sync "az://$B/stale" "$T/stale-az"
assert_eq "stale listing: Azure holds the new bytes" "the new version" \
	"$(cat "$T/stale-az/parts.bin" 2>/dev/null)"

# the writer's md5chksum is still checked against the bytes
sn sync "s3://$B/bad" "$T/bad"
assert_rc "a wrong md5chksum still fails" 1
BAD_MD5=$(printf 'what it should be\n' | md5sum | cut -c1-32)
assert_err_has "names the object" "object 's3://$B/bad/parts.bin' is not what the store says it holds: its MD5 is $BAD_MD5"
finish
