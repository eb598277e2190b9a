#!/usr/bin/env bash
# test_rclone_interop.sh: object metadata as rclone writes and reads it
# (net/objmeta.h), on Swift's S3 API and Azurite started here: a tree this
# tool syncs to a store shows its files' mtimes (ns) and MD5s in rclone
# (also of a multipart object), with the metadata keys rclone uses as
# boto3 / azure-storage-blob see them; a tree rclone uploaded comes back
# through sync and through make-snapshot + restore-snapshot with its
# mtimes, and a second run changes nothing; rclone touch (metadata only)
# is seen; this tool's old integer-ns mtime still reads; hostile mtime
# values fall back to Last-Modified.
. "$(dirname "$0")/lib.sh"
# the tool writes into buckets this test does not make first
export SNAPSHOOTER_CREATE_BUCKET=1

command -v rclone >/dev/null || {
	if [ "${SNAP_REQUIRE_SERVERS:-0}" = 1 ]; then
		die "rclone is not installed (tests/install-deps.sh)"
	fi
	echo "SKIP: rclone is not installed"
	exit 77
}
# a python3 with both SDKs (PATH's first, else Debian's)
PY=
for p in python3 /usr/bin/python3; do
	if "$p" -c "import boto3, azure.storage.blob" 2>/dev/null; then
		PY=$p
		break
	fi
done
[ -n "$PY" ] || die "no python3 with boto3 and azure-storage-blob"
# rclone 1.60's S3 client refuses a CA bundle it cannot load
unset AWS_CA_BUNDLE

# the default multipart threshold (64 MiB): one object above it
BIG=$((64 * 1048576 + 12345))

sync_() { run "$SNAPSHOOTER" --no-progress --json-file "$SUMMARY" sync "$@"; }

# mtimes (ns) and md5s of the files under DIR: "name ns md5" sorted
local_state() {
	(cd "$1" && find . -type f -printf '%P\n' | sort | while read -r f; do
		printf '%s %s %s\n' "$f" "$(stat -c %.9Y "$f" | tr -d .)" \
			"$(md5sum <"$f" | cut -c1-32)"
	done)
}

# the same from `rclone lsjson --hash -R REMOTE` (ModTime as ns)
rclone_state() {
	rclone lsjson -q --hash -R "$1" >"$T/.ls.json" || return 1
	"$PY" - "$T/.ls.json" <<'EOF'
import calendar, json, sys
for o in sorted(json.load(open(sys.argv[1])), key=lambda o: o["Path"]):
    if o["IsDir"]:
        continue
    t = o["ModTime"]                 # 2021-03-04T05:06:07.123456789Z
    base, _, frac = t.rstrip("Z").partition(".")
    sec = calendar.timegm(tuple(map(int, base.replace("T", "-")
                                     .replace(":", "-").split("-"))))
    ns = sec * 10**9 + int((frac + "000000000")[:9])
    print(o["Path"], ns, o.get("Hashes", {}).get("md5", "-"))
EOF
}

# store.py KIND BUCKET ACTION...: what boto3 / azure-storage-blob see
cat >"$T/store.py" <<'EOF'
import base64, hashlib, os, sys
kind, bucket, action = sys.argv[1:4]
if kind == "s3":
    import boto3
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                      region_name="us-east-1")
else:
    from azure.storage.blob import BlobServiceClient, ContentSettings
    cc = BlobServiceClient.from_connection_string(
        os.environ["AZURE_STORAGE_CONNECTION_STRING"]) \
        .get_container_client(bucket)
if action == "meta":        # KEY: metadata as key=value lines, sorted
    key = sys.argv[4]
    if kind == "s3":
        h = s3.head_object(Bucket=bucket, Key=key)
        meta = dict(h["Metadata"])
        meta["ETag"] = h["ETag"].strip('"')
    else:
        p = cc.get_blob_client(key).get_blob_properties()
        meta = {k.lower(): v for k, v in p.metadata.items()}
        md5 = p.content_settings.content_md5
        meta["Content-MD5"] = base64.b64encode(md5).decode() if md5 else ""
    for k in sorted(meta):
        print("%s=%s" % (k, meta[k]))
elif action == "put":       # KEY DATA MTIME: an object with that metadata
    key, data, mtime = sys.argv[4], sys.argv[5].encode(), sys.argv[6]
    if kind == "s3":
        s3.put_object(Bucket=bucket, Key=key, Body=data,
                      Metadata={"mtime": mtime})
    else:
        cc.upload_blob(key, data, overwrite=True, metadata={"mtime": mtime})
EOF
store() { "$PY" "$T/store.py" "$@"; }

md5_b64() { "$PY" -c "import base64, hashlib, sys; print(base64.b64encode(hashlib.md5(open(sys.argv[1], 'rb').read()).digest()).decode())" "$1"; }

make_tree() { # dir
	mkdir -p "$1/d" "$1/f g"
	printf 'alpha\n' >"$1/a.txt"
	printf 'beta\n' >"$1/d/b.txt"
	printf 'space\n' >"$1/f g/h i.txt"
	head -c "$BIG" /dev/urandom >"$1/big.bin"
	touch -d '2021-03-04 05:06:07.123456789' "$1/a.txt"
	touch -d '1999-12-31 23:59:59.5' "$1/d/b.txt"
	touch -d '2020-01-02 03:04:05' "$1/f g/h i.txt"
	touch -d '2018-01-01 00:00:01.000000001' "$1/big.bin"
}

interop() { # label kind url-base bucket rclone-remote
	local label=$1 kind=$2 url=$3 bucket=$4 rc=$5
	local src=$T/$label.src back=$T/$label.back rsrc=$T/$label.rsrc
	say "== $label: $url"
	make_tree "$src"

	# this tool -> store -> rclone
	sync_ "$src" "$url/ours"
	assert_rc "$label: local -> store" 0
	local_state "$src" >"$T/$label.want"
	rclone_state "$rc:$bucket/ours" >"$T/$label.rclone"
	check "$label: rclone lists the mtimes (ns) and md5s, multipart too" \
		cmp "$T/$label.want" "$T/$label.rclone"
	[ "$E2E_FAIL" = 0 ] || diff "$T/$label.want" "$T/$label.rclone"
	run rclone check -q "$src" "$rc:$bucket/ours"
	assert_rc "$label: rclone check finds no differences" 0
	store "$kind" "$bucket" meta ours/a.txt >"$T/$label.meta.a"
	store "$kind" "$bucket" meta ours/big.bin >"$T/$label.meta.big"
	if [ "$kind" = s3 ]; then
		check "$label: x-amz-meta-mtime as rclone writes it" \
			grep -qx 'mtime=1614834367.123456789' "$T/$label.meta.a"
		check "$label: whole-second fraction kept to the ns" \
			grep -qx 'mtime=1514764801.000000001' "$T/$label.meta.big"
		check "$label: multipart: x-amz-meta-md5chksum = base64 MD5" \
			grep -qx "md5chksum=$(md5_b64 "$src/big.bin")" \
			"$T/$label.meta.big"
		check "$label: multipart: ETag is no MD5 (so md5chksum counts)" \
			grep -q '^ETag=.*-[0-9]*$' "$T/$label.meta.big"
		check "$label: no old hex md5 key" \
			bash -c "! grep -q '^md5=' '$T/$label.meta.big'"
	else
		check "$label: x-ms-meta-mtime as rclone writes it" \
			grep -qx 'mtime=2021-03-04T05:06:07.123456789Z' \
			"$T/$label.meta.a"
		check "$label: block list: Content-MD5 of the whole blob" \
			grep -qx "Content-MD5=$(md5_b64 "$src/big.bin")" \
			"$T/$label.meta.big"
	fi
	# this tool -> store -> this tool
	sync_ "$url/ours" "$back"
	assert_rc "$label: store -> local" 0
	local_state "$back" >"$T/$label.back.st"
	check "$label: synced back with the mtimes to the ns" \
		cmp "$T/$label.want" "$T/$label.back.st"
	sync_ "$url/ours" "$back"
	assert_eq "$label: no-change download copies nothing" 0 \
		"$(json_get "$SUMMARY" files_copied)"
	sync_ "$src" "$url/ours"
	assert_eq "$label: no-change upload copies nothing" 0 \
		"$(json_get "$SUMMARY" files_copied)"

	# rclone -> store -> this tool (rclone's multipart from 5 MiB up)
	mkdir -p "$rsrc"
	cp -a "$src/." "$rsrc/"
	head -c 7000000 /dev/urandom >"$rsrc/d/mid.bin"
	touch -d '2017-07-07 07:07:07.777' "$rsrc/d/mid.bin"
	run rclone copy -q --s3-upload-cutoff 5M --s3-chunk-size 5M \
		--azureblob-upload-cutoff 5M --azureblob-chunk-size 4M \
		"$rsrc" "$rc:$bucket/rc"
	assert_rc "$label: rclone copy up" 0
	local_state "$rsrc" >"$T/$label.rwant"
	rm -rf "$back"
	sync_ "$url/rc" "$back"
	assert_rc "$label: rclone's tree -> local" 0
	local_state "$back" >"$T/$label.rback"
	check "$label: rclone's mtimes kept by sync" \
		cmp "$T/$label.rwant" "$T/$label.rback"
	[ "$E2E_FAIL" = 0 ] || diff "$T/$label.rwant" "$T/$label.rback"
	sync_ "$url/rc" "$back"
	assert_eq "$label: no-change run copies nothing" 0 \
		"$(json_get "$SUMMARY" files_copied)"
	sync_ --dry-run "$url/rc" "$back"
	assert_eq "$label: a dry run plans nothing" 0 \
		"$(json_get "$SUMMARY" files_copied)"
	# the md5 of rclone's multipart object (md5chksum, Content-MD5) is
	# known: --checksum hashes the local side only and copies nothing
	sync_ --checksum "$url/rc" "$back"
	assert_eq "$label: --checksum: rclone's multipart md5 read" 0 \
		"$(json_get "$SUMMARY" files_copied)"

	# snapshots of rclone's tree keep the mtimes too
	FR=$url/rc HR=$T/$label.heap SR=$T/$label.snaps IO=auto
	make_snapshot && pass "$label: make-snapshot of rclone's tree"
	make_snapshot
	assert_eq "$label: second make-snapshot hashes nothing" 0 \
		"$(json_get "$SUMMARY" files_hashed)"
	FR=$T/$label.restored
	snap restore-snapshot
	assert_rc "$label: restore-snapshot" 0
	local_state "$FR" >"$T/$label.restored.st"
	check "$label: restored with rclone's mtimes" \
		cmp "$T/$label.rwant" "$T/$label.restored.st"

	# rclone touch rewrites the mtime only: the next sync sees it
	run rclone touch -q -t 2022-02-22T22:22:22 "$rc:$bucket/rc/a.txt"
	assert_rc "$label: rclone touch" 0
	sync_ "$url/rc" "$back"
	assert_eq "$label: a new mtime alone is copied" 1 \
		"$(json_get "$SUMMARY" files_copied)"
	assert_eq "$label: with the new mtime" "$(date -d '2022-02-22 22:22:22Z' +%s)" \
		"$(stat -c %Y "$back/a.txt")"

	# this tool's old form (integer ns), and hostile values: the
	# object's Last-Modified then, no failure
	store "$kind" "$bucket" put old/ns.txt old 1614834367123456789
	store "$kind" "$bucket" put old/junk.txt junk 'x1.5e9'
	store "$kind" "$bucket" put old/huge.txt huge 99999999999999999999999
	store "$kind" "$bucket" put old/date.txt date 2026-02-30T00:00:00Z
	sync_ "$url/old" "$T/$label.old"
	assert_rc "$label: odd mtime metadata is no failure" 0
	assert_eq "$label: old integer ns read" 1614834367.123456789 \
		"$(stat -c %.9Y "$T/$label.old/ns.txt")"
	for f in junk huge date; do
		check "$label: bad mtime '$f' falls back to Last-Modified" \
			test "$(stat -c %Y "$T/$label.old/$f.txt")" -gt \
			"$(date -d '2026-01-01' +%s)"
	done
}

# rclone's remotes from the environment (shared reference: object-stores.md)
if start_server swift; then
	no_creds
	export AWS_ENDPOINT_URL=$SNAP_SWIFT_ENDPOINT \
		AWS_ACCESS_KEY_ID=$SNAP_SWIFT_KEY \
		AWS_SECRET_ACCESS_KEY=$SNAP_SWIFT_SECRET AWS_REGION=us-east-1
	export RCLONE_CONFIG_SW_TYPE=s3 RCLONE_CONFIG_SW_PROVIDER=Other \
		RCLONE_CONFIG_SW_ENDPOINT=$SNAP_SWIFT_ENDPOINT \
		RCLONE_CONFIG_SW_ACCESS_KEY_ID=$SNAP_SWIFT_KEY \
		RCLONE_CONFIG_SW_SECRET_ACCESS_KEY=$SNAP_SWIFT_SECRET
	interop swift s3 "s3://interop-$$" "interop-$$" sw
fi

if start_server azurite; then
	no_creds
	export AZURE_STORAGE_CONNECTION_STRING=$SNAP_AZURITE_CONNECTION_STRING
	# rclone 1.60 reaches Azurite only through an account SAS URL
	SAS=$("$PY" - "$SNAP_AZURITE_KEY" <<'EOF'
import base64, hashlib, hmac, sys, urllib.parse
v, exp, perms = "2021-08-06", "2099-01-01T00:00:00Z", "rwdlacu"
sts = "\n".join(["devstoreaccount1", perms, "b", "sco", "", exp, "", "", v,
                 "", ""])
sig = base64.b64encode(hmac.new(base64.b64decode(sys.argv[1]), sts.encode(),
                                hashlib.sha256).digest()).decode()
print(urllib.parse.urlencode({"sv": v, "ss": "b", "srt": "sco", "sp": perms,
                              "se": exp, "sig": sig}))
EOF
)
	export RCLONE_CONFIG_AZ_TYPE=azureblob \
		RCLONE_CONFIG_AZ_SAS_URL="$SNAP_AZURITE_ENDPOINT?$SAS"
	interop azurite az "az://interop-$$" "interop-$$" az
fi
finish
