#!/usr/bin/env bash
# test_python_snapshots.sh: the Python snapshooter's own backup (the
# read-only fixture, copied to the temp dir) read by this tool: list,
# compare, restore of both .jsonl.gz snapshots (by --path and by --latest,
# into an empty dir and over the other tree: identical to tree-v1/tree-v2,
# mtimes as the snapshot records them, extra files deleted), a native
# incremental make-snapshot on top of the Python history, corrupt and
# truncated snapshots refused before anything is written, and the same
# list/compare/restore with SNAP_ROOT on Swift (s3://) and Azurite (az://).
# python3 reads the snapshots independently for the mtime checks.
. "$(dirname "$0")/lib.sh"
# every bucket here is new: the tool creates it (--create-bucket; that a
# missing bucket is refused without it is test_net_failures' part)
export SNAPSHOOTER_CREATE_BUCKET=1

FX=${SNAP_PY_FIXTURE:-$SNAP_SOURCE_DIR/../shared/fixtures/python-backup}
if [ ! -d "$FX/snap" ] || ! command -v python3 >/dev/null 2>&1; then
	if [ "${CI:-}" = true ] || [ "${SNAP_REQUIRE_SERVERS:-0}" = 1 ]; then
		fail "python fixture '$FX' (or python3) missing"
	else
		skip "python fixture '$FX' (or python3) missing"
	fi
	finish
fi

# The fixture's heap holds <md5>.gz objects, which the heap reads since
# the heapgz merge; most steps use a copy converted to plain <md5> objects
# so they test the snapshot reader alone, one step uses the .gz heap
# (SNAP_PY_GZ_HEAP=0 turns it off on a tree without heapgz).
GZ_HEAP_READY=${SNAP_PY_GZ_HEAP:-1}

cp -r "$FX" "$T/fx" && chmod -R u+w "$T/fx" || die "cannot copy the fixture"
PLAIN=$T/heap-plain
for f in $(cd "$T/fx/heap" && find . -name '*.gz'); do
	b=$(basename "$f" .gz)
	mkdir -p "$PLAIN/${b:0:2}" && gzip -dc "$T/fx/heap/$f" >"$PLAIN/${b:0:2}/$b" ||
		die "cannot convert heap object $f"
done

V1=2026/12/2026-12-04_14-34-54_078234Z.jsonl.gz
V2=2026/12/2026-12-04_14-34-55_526994Z.jsonl.gz

# mtimes_ok ROOT SNAPSHOT: every file's mtime is the snapshot's float
# within 1 us, and the tree has no file the snapshot lacks
mtimes_ok() {
	python3 - "$1" "$2" <<'EOF'
import gzip, json, os, sys
root, snap = sys.argv[1], sys.argv[2]
text = gzip.open(snap, "rb").read().decode("utf-8")
recs = [json.loads(l) for l in text.split("\n")] if text else []
names = set()
for r in recs:
    names.add(r["name"])
    st = os.stat(os.path.join(root, r["name"]))
    if abs(st.st_mtime_ns - r["mtime"] * 1e9) > 1000:
        print("mtime of", r["name"], st.st_mtime_ns, r["mtime"])
        sys.exit(1)
for d, _, files in os.walk(root):
    for f in files:
        rel = os.path.relpath(os.path.join(d, f), root)
        if rel not in names:
            print("extra file", rel)
            sys.exit(1)
EOF
}

# racy_count SNAPSHOT: files modified within 1 s before the snapshot's
# time (its name): the racy-clean rule re-hashes those
racy_count() {
	python3 - "$1" <<'EOF'
import datetime, gzip, json, os, sys
snap = sys.argv[1]
base = os.path.basename(snap).split(".")[0]
t = datetime.datetime.strptime(base, "%Y-%m-%d_%H-%M-%S_%fZ")
t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
text = gzip.open(snap, "rb").read().decode("utf-8")
print(sum(1 for l in text.split("\n") if json.loads(l)["mtime"] >= t - 1))
EOF
}

# compare_lines: "STATUS NAME" of the last compare-snapshots table
compare_lines() {
	awk 'NR > 1 { print $1 " " $NF }' "$OUT"
}
EXPECTED_DIFF="only_left data/
only_left data/blob.bin
only_right docs/new.txt
different top.txt"

# restore_checks LABEL: list, compare, restores with the current $SR
# (local path or URL) and $HR
restore_checks() {
	local label=$1 p1 p2
	snap list-snapshots --order asc
	assert_rc "$label: list-snapshots" 0
	p1=$(sed -n 1p "$OUT")
	p2=$(sed -n 2p "$OUT")
	assert_eq "$label: both Python snapshots, oldest first" \
		"$SR/$V1|$SR/$V2|2" "$p1|$p2|$(wc -l <"$OUT")"

	snap compare-snapshots --path1 "$p1" --path2 "$p2"
	assert_rc "$label: compare-snapshots" 0
	assert_eq "$label: the differences of the two snapshots" \
		"$EXPECTED_DIFF" "$(compare_lines)"

	FR=$T/$label-out
	rm -rf "$FR" && mkdir -p "$FR"
	snap restore-snapshot --path "$p1" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "$label: restore the first snapshot by --path" 0
	check "$label: identical to tree-v1" diff -r "$FR" "$T/fx/tree-v1"
	check "$label: mtimes as the first snapshot records" \
		mtimes_ok "$FR" "$T/fx/snap/$V1"

	# over tree-v1 plus stray files: those go
	printf 'stray\n' >"$FR/stray.txt"
	mkdir -p "$FR/stray dir" && printf 'x' >"$FR/stray dir/f"
	snap restore-snapshot --latest 2026-12-04T14:34:55.6Z \
		--no-save-snapshot-before --no-save-snapshot-after
	assert_rc "$label: restore the second snapshot by --latest" 0
	check "$label: identical to tree-v2 (extra files deleted)" \
		diff -r "$FR" "$T/fx/tree-v2"
	check "$label: mtimes as the second snapshot records" \
		mtimes_ok "$FR" "$T/fx/snap/$V2"

	snap restore-snapshot --latest 2026-12-04T14:34:54.5Z \
		--no-save-snapshot-before --no-save-snapshot-after
	assert_rc "$label: restore the first snapshot over the second" 0
	check "$label: identical to tree-v1 again" diff -r "$FR" "$T/fx/tree-v1"
	check "$label: mtimes of the first snapshot again" \
		mtimes_ok "$FR" "$T/fx/snap/$V1"
}

# --- local SNAP_ROOT ----------------------------------------------------
SR=$T/fx/snap
HR=$PLAIN
restore_checks local

if [ "$GZ_HEAP_READY" = 1 ]; then
	HR=$T/fx/heap
	FR=$T/gz-out
	mkdir -p "$FR"
	snap restore-snapshot --path "$SR/$V2" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore from the Python tool's .gz heap" 0
	check "the .gz heap restore is identical to tree-v2" \
		diff -r "$FR" "$T/fx/tree-v2"
else
	skip "restore from the .gz heap (SNAP_PY_GZ_HEAP=0)"
fi
HR=$PLAIN

# --- incremental native snapshots on top of the Python history -----------
# only the first snapshot (its files are hours older than it): nothing
# is re-hashed
SR=$T/inc1-snap
mkdir -p "$SR/2026/12" && cp "$T/fx/snap/$V1" "$SR/$V1"
FR=$T/inc1
mkdir -p "$FR"
snap restore-snapshot --no-save-snapshot-before --no-save-snapshot-after
assert_rc "incremental: restore the Python snapshot" 0
make_snapshot
assert_json "incremental on the first Python snapshot re-hashes nothing" \
	files_hashed 0
assert_json "incremental on the first Python snapshot reuses every md5" \
	md5_reused 6
snap compare-snapshots --path1 "$SR/$V1" --path2 "$SNAP"
assert_eq "incremental: the native snapshot equals the Python one" "" \
	"$(compare_lines)"

# the whole history: the latest snapshot's files modified within 1 s
# before it are re-hashed by the racy-clean rule, nothing else
SR=$T/inc2-snap
cp -r "$T/fx/snap" "$SR"
FR=$T/inc2
mkdir -p "$FR"
snap restore-snapshot --no-save-snapshot-before --no-save-snapshot-after
assert_rc "incremental: restore the latest Python snapshot" 0
racy=$(racy_count "$SR/$V2")
make_snapshot
assert_json "incremental on the history: only racy files hashed" \
	files_hashed "$racy"
assert_json "incremental on the history: the rest reused" \
	md5_reused $((6 - racy))
snap compare-snapshots --path1 "$SR/$V2" --path2 "$SNAP"
assert_eq "incremental: equal to the latest Python snapshot" "" \
	"$(compare_lines)"

# --- corrupt snapshots: refused, nothing written --------------------------
SR=$T/bad-snap
mkdir -p "$SR/2026/12"
FR=$T/bad-out
mkdir -p "$FR"
src=$T/fx/snap/$V2
size=$(stat -c %s "$src")
head -c $((size - 5)) "$src" >"$SR/2026/12/2026-12-04_15-00-00_000000Z.jsonl.gz"
snap restore-snapshot --no-save-snapshot-before --no-save-snapshot-after
assert_ne "truncated .jsonl.gz refused" 0 "$RC"
assert_err_has "truncated: a clear message" "corrupt snapshot"
check "truncated: nothing written" bash -c "[ -z \"\$(ls -A '$FR')\" ]"
rm -f "$SR"/2026/12/*
# flip one bit of the CRC-32 in the gzip trailer
cp "$src" "$SR/2026/12/2026-12-04_15-00-00_000000Z.jsonl.gz"
python3 - "$SR/2026/12/2026-12-04_15-00-00_000000Z.jsonl.gz" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[-8] ^= 1
open(p, "wb").write(bytes(b))
EOF
snap restore-snapshot --no-save-snapshot-before --no-save-snapshot-after
assert_ne "bad gzip CRC refused" 0 "$RC"
assert_err_has "bad CRC: a clear message" "corrupt snapshot"
check "bad CRC: nothing written" bash -c "[ -z \"\$(ls -A '$FR')\" ]"

# --- SNAP_ROOT on object stores ------------------------------------------
store_checks() { # label url
	say "== $1: $2"
	# upload the Python tool's snapshot files with this tool's sync
	run "$SNAPSHOOTER" --no-progress sync "$T/fx/snap" "$2/snaps"
	assert_rc "$1: upload the Python snapshots" 0
	SR=$2/snaps
	HR=$PLAIN
	restore_checks "$1"
}

if use_server swift; then
	store_checks swift "s3://pysnap-$$"
fi
if use_server azurite; then
	store_checks azurite "az://pysnap-$$"
fi

finish
