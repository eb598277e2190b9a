#!/usr/bin/env bash
# test_download_check.sh: a file downloaded from a store is checked
# against the MD5 the store gives with it before it is written anywhere:
# an S3 single-part ETag, rclone's md5chksum metadata on a multipart
# object, Azure's Content-MD5. Objects whose bytes do not match what the
# store says (written here with boto3 on Swift's S3 API and the Azure SDK
# on Azurite, which store such properties unchecked) fail sync and
# make-snapshot with an error naming the object, exit 1, and leave no
# file, heap object or snapshot behind. The server's ETag stands before
# the writer's metadata (as rclone ranks them); objects over 64 MiB come
# in ranges, each range's answer giving the whole object's MD5 (ETag or
# x-ms-blob-content-md5). A download into a folder
# is written straight into the destination's temp, not staged in TMPDIR;
# a sync into a store keeps its list of deletions in TMPDIR.
. "$(dirname "$0")/lib.sh"

need_sdks
start_server swift || finish
start_server azurite || finish
no_creds
export AWS_ENDPOINT_URL=$SNAP_SWIFT_ENDPOINT \
	AWS_ACCESS_KEY_ID=$SNAP_SWIFT_KEY \
	AWS_SECRET_ACCESS_KEY=$SNAP_SWIFT_SECRET AWS_REGION=us-east-1
export AZURE_STORAGE_CONNECTION_STRING=$SNAP_AZURITE_CONNECTION_STRING
# the shared servers outlive a run: names of this run only
B=e2edl-$$

"$PY" - "$B" <<'PY' || die "cannot write the test objects"
import hashlib, os, sys
sys.path.insert(0, os.environ["SNAP_SOURCE_DIR"] + "/tests/e2e")
from s3_helpers import b64md5, client, multipart
from azure.storage.blob import BlobServiceClient, ContentSettings

s3 = client()
b = sys.argv[1]
s3.create_bucket(Bucket=b)
s3.put_object(Bucket=b, Key="ok/single.txt", Body=b"single\n")
# a wrong md5chksum on a single PUT: the server's ETag is what counts
s3.put_object(Bucket=b, Key="ok/meta.txt", Body=b"meta\n",
              Metadata={"md5chksum": b64md5(b"something else\n")})

multipart(s3, b, "ok/parts.bin", b"in parts\n", b"in parts\n")
multipart(s3, b, "bad/parts.bin", b"what is stored\n", b"what it should be\n")
# past the tool's 64 MiB threshold, downloaded as ranges: each range's
# answer carries the whole object's ETag (S3) / x-ms-blob-content-md5
# (Azure), not the range's
big = os.urandom(1 << 20) * 65
s3.put_object(Bucket=b, Key="large/ok.bin", Body=big)

az = BlobServiceClient.from_connection_string(
    os.environ["AZURE_STORAGE_CONNECTION_STRING"])
c = az.get_container_client(b)
c.create_container()
ok = c.upload_blob("ok/blob.txt", b"blob\n")
# the store computed it: the check below has something to check
assert ok.get_blob_properties().content_settings.content_md5, "no MD5"
wrong = ContentSettings(
    content_md5=bytearray(hashlib.md5(b"what it should be\n").digest()))
bad = c.upload_blob("bad/blob.txt", b"what is stored\n")
bad.set_http_headers(content_settings=wrong)
bad = c.upload_blob("large/bad.bin", big, max_concurrency=4)
bad.set_http_headers(content_settings=wrong)
PY

sn() { run "$SNAPSHOOTER" --no-progress --json-file "$SUMMARY" "$@"; }
BAD_MD5=$(printf 'what it should be\n' | md5sum | cut -c1-32)

# what matches comes down, from each kind of MD5
sn sync "s3://$B/ok" "$T/s3ok"
assert_rc "S3: single PUT, ETag over wrong metadata, multipart" 0
assert_json "S3: three files" files_copied 3
assert_eq "S3: meta.txt as stored" "meta" "$(cat "$T/s3ok/meta.txt")"
assert_eq "S3: parts.bin as stored" "in parts" "$(cat "$T/s3ok/parts.bin")"
sn sync "az://$B/ok" "$T/azok"
assert_rc "Azure: blob with its Content-MD5" 0
assert_eq "Azure: blob.txt as stored" "blob" "$(cat "$T/azok/blob.txt")"
# into a folder, a download goes straight into DST's temp: nothing is
# staged in TMPDIR (a TMPDIR that cannot take a temp does not matter)
TMPDIR=$T/no-such-dir sn sync "s3://$B/ok" "$T/s3direct"
assert_rc "store -> folder needs no TMPDIR" 0
assert_md5_equal "$T/s3ok" "$T/s3direct" "store -> folder without TMPDIR"
# into a store, sync's list of deletions is a temp in TMPDIR (it was in
# /tmp whatever TMPDIR said): one that cannot take it is said, naming it,
# before anything is copied
TMPDIR=$T/no-such-dir sn sync "$T/s3ok" "s3://$B/up"
assert_rc "folder -> store with TMPDIR missing" 1
assert_err_has "... names the temp folder" \
	"cannot create a temp file in '$T/no-such-dir'"

# what does not match is refused, naming the object
for url in "s3://$B/bad" "az://$B/bad"; do
	case $url in s3:*) name=parts.bin ;; *) name=blob.txt ;; esac
	sn sync "$url" "$T/down"
	assert_rc "$url: sync fails" 1
	assert_err_has "$url: names the object" "object '$url/$name' is not what the store says it holds"
	assert_err_has "$url: says what the store gave" "its MD5 is $BAD_MD5"
	check "$url: nothing written, no temp left" \
		test -z "$(find "$T/down" -mindepth 1 ! -type d)"
done

# in ranges: the whole object's MD5 checked, good and bad
sn --transfers 4 sync "s3://$B/large" "$T/large"
assert_rc "S3: 65 MiB in ranges, its ETag checked" 0
assert_json "S3: the large object came down" files_copied 1
sn --transfers 4 sync "az://$B/large" "$T/large-az"
assert_rc "Azure: 65 MiB in ranges with a wrong Content-MD5 fails" 1
assert_err_has "Azure: names the large blob" "object 'az://$B/large/bad.bin' is not what the store says it holds: its MD5 is $BAD_MD5"
check "Azure: no large file or temp left" \
	test -z "$(find "$T/large-az" -mindepth 1 ! -type d 2>/dev/null)"
# between two services every byte comes through here, checked on the
# way; an object the listing gave no MD5 for (the multipart parts.bin)
# is uploaded with the MD5 its download came with
sn sync "s3://$B/ok" "az://$B/from-s3"
assert_rc "S3 -> Azure through here" 0
assert_json "S3 -> Azure: three files" files_copied 3
sn sync "az://$B/from-s3" "$T/from-s3"
assert_rc "S3 -> Azure: read back" 0
assert_md5_equal "$T/s3ok" "$T/from-s3" "S3 -> Azure: the same files"
sn sync "az://$B/bad" "s3://$B/copy"
assert_rc "store -> store fails too" 1
assert_err_has "store -> store names the source" "object 'az://$B/bad/blob.txt' is not what"

# make-snapshot of such a tree: its MD5 taken from the store (HEAD of a
# multipart object), the heap lacks it, the download is refused
sn --file-root "s3://$B/bad" --heap-root "$T/heap" --snap-root "$T/snaps" \
	make-snapshot
assert_rc "make-snapshot fails" 1
assert_err_has "make-snapshot names the object" "object 's3://$B/bad/parts.bin' is not what the store says it holds: its MD5 is $BAD_MD5"
assert_eq "no heap object stored" 0 "$(find "$T/heap" -type f 2>/dev/null | wc -l)"
assert_eq "no snapshot saved" 0 "$(find "$T/snaps" -type f 2>/dev/null | wc -l)"
finish
