#!/usr/bin/env bash
# test_python_switch.sh: a user of the Python snapshooter switches to this
# tool, with the Python tool's own backup (the fixture, not in git; a temp
# copy): HEAP_ROOT and SNAP_ROOT are its heap/ and snap/, in three places:
# local folders, Swift's S3 API (s3://) and Azurite (az://), FILE_ROOT
# local. In each: list and compare the two Python snapshots, restore them
# exactly (contents, mtimes, extra files deleted), take new snapshots into
# the same heap (nothing stored twice, new contents as <md5>.gz, the
# snapshot as .jsonl.gz), and restore the newest with a python3 stand-in
# for the Python tool's restore (gzip + json, as snapshooter.py reads).
# The stores are filled and read with boto3 / azure-storage-blob (Debian's
# python3-boto3, python3-azure-storage), clients this project did not
# write, under the Python tool's keys.
. "$(dirname "$0")/lib.sh"

FX=${SNAP_PY_FIXTURE:-$SNAP_SOURCE_DIR/../shared/fixtures/python-backup}
if [ ! -d "$FX/snap" ] || [ ! -d "$FX/heap" ] || ! command -v python3 >/dev/null; then
	if [ "${CI:-}" = true ] || [ "${SNAP_REQUIRE_SERVERS:-0}" = 1 ]; then
		die "python fixture '$FX' (or python3) missing"
	fi
	echo "SKIP: python fixture '$FX' (or python3) missing"
	exit 77
fi

# the automatic formats are under test: a caller's choice must not leak in
unset HEAP_FORMAT SNAPSHOT_FORMAT HEAP_CACHE_FILE

cp -r "$FX" "$T/fx" && chmod -R u+w "$T/fx" || die "cannot copy the fixture"
V1=2026/12/2026-12-04_14-34-54_078234Z.jsonl.gz
V2=2026/12/2026-12-04_14-34-55_526994Z.jsonl.gz
N_HEAP=$(find "$T/fx/heap" -type f | wc -l)

# py_with MODULE: the interpreter of a python3 that has MODULE (PATH's
# first, else Debian's), resolved once: a version manager's shim (pyenv)
# costs more than a second per call on a loaded machine
py_with() {
	local p
	for p in python3 /usr/bin/python3; do
		"$p" -c "import sys, $1; print(sys.executable)" 2>/dev/null &&
			return 0
	done
	return 1
}
PY=$(py_with json) || die "python3 does not run"

# store.py URL put DIR SUB... | keys SUB | get SUB DIR...: the trees
# DIR as URL/SUB/..., the keys below URL/SUB/, URL/SUB/ into DIR; s3:// by
# boto3 (endpoint from the AWS_* variables), az:// by azure-storage-blob
# (AZURE_STORAGE_CONNECTION_STRING). One process per step: importing a
# client costs seconds.
cat >"$T/store.py" <<'EOF'
import os, sys
url, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
scheme, rest = url.split("://", 1)
bucket, _, base = rest.partition("/")
base = base.strip("/") + "/" if base.strip("/") else ""
if scheme == "s3":
    import boto3, botocore.config
    try:
        cfg = botocore.config.Config(s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required")
    except TypeError:       # botocore before the flexible checksums
        cfg = botocore.config.Config(s3={"addressing_style": "path"})
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ["AWS_REGION"], config=cfg)
    def mkbucket():
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    def put(key, data): s3.put_object(Bucket=bucket, Key=key, Body=data)
    def get(key): return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    def keys(prefix):
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix)
        return [o["Key"] for p in pages for o in p.get("Contents", [])]
else:
    from azure.storage.blob import BlobServiceClient
    from azure.core.exceptions import ResourceExistsError
    cc = BlobServiceClient.from_connection_string(
        os.environ["AZURE_STORAGE_CONNECTION_STRING"]).get_container_client(bucket)
    def mkbucket():
        try:
            cc.create_container()
        except ResourceExistsError:
            pass
    def put(key, data): cc.upload_blob(key, data, overwrite=True)
    def get(key): return cc.download_blob(key).readall()
    def keys(prefix): return [b.name for b in cc.list_blobs(name_starts_with=prefix)]
pairs = list(zip(args[0::2], args[1::2]))
if cmd == "put":
    mkbucket()
    for top, sub in pairs:
        for d, _, fs in os.walk(top):
            for f in fs:
                p = os.path.join(d, f)
                put(base + sub + "/" + os.path.relpath(p, top),
                    open(p, "rb").read())
elif cmd == "keys":
    prefix = base + args[0] + "/"
    for k in sorted(keys(prefix)):
        print(k[len(prefix):])
elif cmd == "get":
    for sub, top in pairs:
        prefix = base + sub + "/"
        for k in keys(prefix):
            p = os.path.join(top, k[len(prefix):])
            os.makedirs(os.path.dirname(p), exist_ok=True)
            open(p, "wb").write(get(k))
EOF

# mtimes_ok ROOT SNAPSHOT: every file's mtime is the snapshot's float
# within 1 us, and the tree has no file the snapshot lacks
mtimes_ok() {
	"$PY" - "$1" "$2" <<'EOF'
import gzip, json, os, sys
root, snap = sys.argv[1], sys.argv[2]
recs = [json.loads(l) for l in gzip.open(snap).read().decode().split("\n")]
for r in recs:
    st = os.stat(os.path.join(root, r["name"]))
    if abs(st.st_mtime_ns - r["mtime"] * 1e9) > 1000:
        sys.exit("mtime of %s: %d, snapshot %r" % (r["name"], st.st_mtime_ns, r["mtime"]))
names = {r["name"] for r in recs}
for d, _, fs in os.walk(root):
    for f in fs:
        if os.path.relpath(os.path.join(d, f), root) not in names:
            sys.exit("extra file " + f)
EOF
}

# racy_count SNAPSHOT: files modified within 1 s before the snapshot's
# time (its name): the racy-clean rule hashes those again
racy_count() {
	"$PY" - "$1" <<'EOF'
import datetime, gzip, json, os, sys
base = os.path.basename(sys.argv[1]).split(".")[0]
t = datetime.datetime.strptime(base, "%Y-%m-%d_%H-%M-%S_%fZ")
t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
text = gzip.open(sys.argv[1]).read().decode()
print(sum(1 for l in text.split("\n") if json.loads(l)["mtime"] >= t - 1))
EOF
}

# python_format SNAPSHOT: parses, every line is json.dumps(sort_keys=True)
python_format() {
	"$PY" - "$1" <<'EOF'
import gzip, json, sys
for l in gzip.open(sys.argv[1]).read().decode("ascii").split("\n"):
    if json.dumps(json.loads(l), sort_keys=True) != l:
        sys.exit("not json.dumps(sort_keys=True): " + l)
EOF
}

# py_restore HEAP SNAPDIR OUT: the Python tool's restore reading path
# (snapshooter.py): the latest of SNAPDIR/*/*/*.jsonl.gz by file name,
# gzip + json lines, each file's content from HEAP/<md5[:2]>/<md5>.gz
# through gzip; like its ParallelCopyHeapToFile, no mtime is set
py_restore() {
	"$PY" - "$@" <<'EOF'
import glob, gzip, json, os, sys
heap, snaps, out = sys.argv[1:]
latest = max(glob.glob(snaps + "/*/*/*.jsonl.gz"), key=os.path.basename)
for line in gzip.open(latest, "rt", encoding="utf-8").read().split("\n"):
    r = json.loads(line)
    p = os.path.join(out, r["name"])
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with gzip.open(os.path.join(heap, r["md5"][:2], r["md5"] + ".gz")) as f:
        open(p, "wb").write(f.read())
print(latest)
EOF
}

# gz_md5 FILE: md5 of what python3's gzip module reads from FILE
gz_md5() {
	"$PY" -c 'import gzip, hashlib, sys
print(hashlib.md5(gzip.open(sys.argv[1]).read()).hexdigest())' "$1"
}

EXPECTED_DIFF="only_left data/
only_left data/blob.bin
only_right docs/new.txt
different top.txt"

# heap_keys: the heap's object names (relative), listed by the outside
# client on a store, by find locally
heap_keys() {
	if [ -n "$URL" ]; then
		"$PYC" "$T/store.py" "$URL" keys heap
	else
		(cd "$HR" && find . -type f | sed 's|^\./||' | sort)
	fi
}

# new_snapshot: make-snapshot --json, must succeed; the path in $SNAP (a
# URL on a store)
new_snapshot() {
	snap make-snapshot --json
	SNAP=$(head -n 1 "$OUT")
	if [ "$RC" -ne 0 ] || [ -z "$SNAP" ]; then
		fail "make-snapshot into $SR"
		show_last
		return 1
	fi
}

# switch LABEL: the whole story with the current $HR, $SR ($URL: the
# store's base URL, empty for local folders)
switch() {
	local l=$1 p1 p2 racy keys after first m1 m2 heap snapdir latest

	# 1. the Python history is listed and compared
	snap list-snapshots --order asc
	assert_rc "$l: list-snapshots" 0
	p1=$(sed -n 1p "$OUT")
	p2=$(sed -n 2p "$OUT")
	assert_eq "$l: both Python snapshots, oldest first" \
		"$SR/$V1|$SR/$V2|2" "$p1|$p2|$(wc -l <"$OUT")"
	snap compare-snapshots --path1 "$p1" --path2 "$p2"
	assert_rc "$l: compare-snapshots" 0
	assert_eq "$l: the differences of the two snapshots" "$EXPECTED_DIFF" \
		"$(awk 'NR > 1 { print $1 " " $NF }' "$OUT")"

	# 2. restore the latest into an empty dir, the first over it (by
	# TIMESTAMP), the latest again for step 3; no before/after snapshots,
	# so the history stays the Python tool's two
	FR=$T/$l-tree
	mkdir -p "$FR"
	snap restore-snapshot --no-save-snapshot-before --no-save-snapshot-after
	assert_rc "$l: restore the latest" 0
	check "$l: identical to tree-v2" diff -r "$FR" "$T/fx/tree-v2"
	check "$l: mtimes as the second snapshot records" \
		mtimes_ok "$FR" "$T/fx/snap/$V2"
	snap restore-snapshot 2026-12-04T14:34:55+00:00 \
		--no-save-snapshot-before --no-save-snapshot-after
	assert_rc "$l: restore the first by TIMESTAMP" 0
	check "$l: identical to tree-v1 (docs/new.txt deleted)" \
		diff -r "$FR" "$T/fx/tree-v1"
	check "$l: mtimes as the first snapshot records" \
		mtimes_ok "$FR" "$T/fx/snap/$V1"
	snap restore-snapshot --no-save-snapshot-before --no-save-snapshot-after
	assert_rc "$l: restore the latest over the first" 0
	check "$l: tree-v2 again" diff -r "$FR" "$T/fx/tree-v2"

	# 3. a snapshot on top of the Python history, into the same heap
	racy=$(racy_count "$T/fx/snap/$V2")
	new_snapshot || return
	assert_json "$l: nothing stored twice" heap_objects_written 0
	assert_json "$l: only the racy files hashed" files_hashed "$racy"
	assert_json "$l: the rest reused" md5_reused $((6 - racy))
	keys=$(heap_keys)
	assert_eq "$l: the heap holds the Python tool's objects only" \
		"$N_HEAP|" "$(printf '%s\n' "$keys" | grep -c .)|$(printf '%s\n' "$keys" |
			grep -vE '^[0-9a-f]{2}/[0-9a-f]{32}\.gz$')"
	snap list-snapshots --limit 1
	assert_eq "$l: the new snapshot is the latest" "$SNAP" "$(cat "$OUT")"
	case "$SNAP" in
	"$SR"/20[0-9][0-9]/[01][0-9]/*.jsonl.gz) pass "$l: written as .jsonl.gz" ;;
	*) fail "$l: auto format after the Python history wrote $SNAP" ;;
	esac
	first=${SNAP#"$SR"/}

	# a changed file and a new one: exactly their contents, as <md5>.gz
	printf 'changed after the switch\n' >>"$FR/top.txt"
	head -c 20000 /dev/urandom | base64 >"$FR/docs/added after switch.txt"
	m1=$(md5sum <"$FR/top.txt" | cut -c1-32)
	m2=$(md5sum <"$FR/docs/added after switch.txt" | cut -c1-32)
	new_snapshot || return
	assert_json "$l: the two new contents stored" heap_objects_written 2
	# the heap and the snapshots as the Python tool would read them: a
	# copy made by the outside client on a store, the folders locally
	heap=$HR
	snapdir=$SR
	if [ -n "$URL" ]; then
		heap=$T/$l-heap-copy
		snapdir=$T/$l-snap-copy
		run "$PYC" "$T/store.py" "$URL" get heap "$heap" snap "$snapdir"
		assert_rc "$l: download the heap and the snapshots" 0
	fi
	after=$( (cd "$heap" && find . -type f | sed 's|^\./||' | sort))
	assert_eq "$l: exactly the new contents, as <md5>.gz" \
		"$(printf '%s\n%s\n' "${m1:0:2}/$m1.gz" "${m2:0:2}/$m2.gz" | sort)" \
		"$(comm -13 <(printf '%s\n' "$keys") <(printf '%s\n' "$after"))"
	assert_eq "$l: python3's gzip reads the new objects with their md5" \
		"$m1 $m2" "$(gz_md5 "$heap/${m1:0:2}/$m1.gz") $(gz_md5 "$heap/${m2:0:2}/$m2.gz")"
	check "$l: python3 reads the first new snapshot, lines are json.dumps(sort_keys=True)" \
		python_format "$snapdir/$first"
	check "$l: ... and the second" python_format "$snapdir/${SNAP#"$SR"/}"

	# 4. the Python tool's restore reads what this tool wrote
	rm -rf "$T/$l-py-out"
	latest=$(py_restore "$heap" "$snapdir" "$T/$l-py-out")
	check "$l: python3 restore took the newest snapshot" \
		test "$snapdir/${SNAP#"$SR"/}" = "$latest"
	check "$l: python3 restore of it equals the tree (no extra, none missing)" \
		diff -r "$T/$l-py-out" "$FR"
}

# --- servers, started in the background while the local part runs -----
servers=$SNAP_SOURCE_DIR/tests/servers
declare -A starting=()
started=()
start_bg() { # name: start_<name>.sh in the background
	# the ctest run's shared server (never stopped here) when there is one
	shared_server_env "$1" >/dev/null && return 0
	bash "$servers/start_$1.sh" "$T/.$1.env" >"$T/.$1.log" 2>&1 &
	starting[$1]=$!
}
stop_servers() {
	local n s
	for n in "${!starting[@]}"; do
		wait "${starting[$n]}" 2>/dev/null
		s=$(sed -n "s/^.*_STATE=['\"]\{0,1\}\([^'\"]*\).*$/\1/p" "$T/.$n.env" 2>/dev/null)
		[ -n "$s" ] && started+=("$s")
	done
	for s in "${started[@]}"; do
		is_shared_state "$s" && continue
		bash "$servers/stop.sh" "$s" >/dev/null 2>&1
	done
}
trap 'stop_servers; e2e_cleanup' EXIT

missing() { # what is missing: fail when servers are required, else skip
	if [ "${CI:-}" = true ] || [ "${SNAP_REQUIRE_SERVERS:-0}" = 1 ]; then
		fail "$1"
	else
		skip "$1"
	fi
}

started_ok() { # name: wait for its start; exports its variables
	local name=$1 pid=${starting[$1]:-} env
	if [ -z "$pid" ] && env=$(shared_server_env "$name"); then
		. "$env"
		return 0
	fi
	unset "starting[$1]"
	if ! wait "$pid"; then
		missing "cannot start $name: $(tail -n 3 "$T/.$name.log")"
		return 1
	fi
	. "$T/.$name.env"
	return 0
}

PY_S3=$(py_with boto3) && start_bg swift
PY_AZ=$(py_with azure.storage.blob) && start_bg azurite

# --- local folders --------------------------------------------------------
URL=
HR=$T/fx/heap
SR=$T/fx/snap
switch local

# --- object stores --------------------------------------------------------
no_creds() {
	unset AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
		AWS_REGION AWS_DEFAULT_REGION AWS_SESSION_TOKEN \
		AZURE_STORAGE_CONNECTION_STRING AZURE_STORAGE_ACCOUNT \
		AZURE_STORAGE_KEY AZURE_STORAGE_SAS_TOKEN
}

# on_store LABEL URL: the fixture's heap/ and snap/ put under URL by the
# outside client, with the keys the Python tool writes
on_store() {
	URL=$2
	run "$PYC" "$T/store.py" "$URL" put "$FX/heap" heap "$FX/snap" snap
	assert_rc "$1: the Python heap and snapshots uploaded with $3" 0
	HR=$URL/heap
	SR=$URL/snap
	switch "$1"
}

if [ -z "$PY_S3" ]; then
	missing "swift: no python3 with boto3 (python3-boto3)"
elif started_ok swift; then
	started+=("$SNAP_SWIFT_STATE")
	no_creds
	export AWS_ENDPOINT_URL=$SNAP_SWIFT_ENDPOINT \
		AWS_ACCESS_KEY_ID=$SNAP_SWIFT_KEY \
		AWS_SECRET_ACCESS_KEY=$SNAP_SWIFT_SECRET AWS_REGION=us-east-1
	PYC=$PY_S3
	on_store swift "s3://pyswitch-$$" boto3
fi
if [ -z "$PY_AZ" ]; then
	missing "azurite: no python3 with azure.storage.blob (python3-azure-storage)"
elif started_ok azurite; then
	started+=("$SNAP_AZURITE_STATE")
	no_creds
	export AZURE_STORAGE_CONNECTION_STRING=$SNAP_AZURITE_CONNECTION_STRING
	PYC=$PY_AZ
	on_store azurite "az://pyswitch-$$" azure-storage-blob
fi

finish
