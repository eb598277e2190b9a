#!/usr/bin/env bash
# test_forget_gc.sh: forget (restic's retention rules) and gc under the
# repository lock. Checks: a year of crafted daily snapshots (one real
# snapshot copied to 365 time-stamped names) keeps exactly restic's set;
# forget without a policy is refused; gc after forget deletes exactly the
# unreferenced objects (raw and the Python tool's .gz form) and temp
# leftovers, and every remaining snapshot restores; gc --dry-run changes
# nothing; gc refuses while a (SIGSTOPped) make-snapshot holds its shared
# lock, and the backup then completes and restores; a backup stopped past
# the lock expiry loses its lock to gc and publishes nothing; a lock left
# by kill -9 blocks gc until it expires; the same forget/gc on Swift
# (s3://) and Azurite (az://); on Swift gc also aborts the unfinished
# multipart uploads a killed run leaves in the heap (and no other).
. "$(dirname "$0")/lib.sh"
# every bucket here is new: the tool creates it (--create-bucket; that a
# missing bucket is refused without it is test_net_failures' part)
export SNAPSHOOTER_CREATE_BUCKET=1

servers=$SNAP_SOURCE_DIR/tests/servers
started=()
stop_servers() {
	local s
	# kms_proxy.py (start_kms_proxy) holds the test's output open
	[ ${#E2E_PIDS[@]} -eq 0 ] || kill "${E2E_PIDS[@]}" 2>/dev/null
	for s in "${started[@]}"; do
		is_shared_state "$s" && continue
		bash "$servers/stop.sh" "$s" >/dev/null 2>&1
	done
}
trap 'stop_servers; e2e_cleanup' EXIT

md5_of() { md5sum "$1" | cut -d' ' -f1; }

# heap objects (raw and .gz), as sorted md5s
heap_ids() {
	find "$1" -type f \( -name '????????????????????????????????' -o \
		-name '????????????????????????????????.gz' \) \
		-printf '%f\n' | sed 's/\.gz$//' | sort -u
}

state_of() { # dir -> listing with sizes and mtimes
	(cd "$1" && find . -printf '%p %y %s %T@\n' | sort)
}

# --- forget on a crafted year -------------------------------------------
say "== forget: a year of daily snapshots"
FR=$T/src
HR=$T/heap
SR=$T/snap
mkdir -p "$FR"
printf 'one\n' >"$FR/one"
make_snapshot || die "first snapshot"
proto=$T/proto.msgpack
cp "$SNAP" "$proto"
rm -f "$SNAP"
CR=$T/year
for i in $(seq 0 364); do
	d=$(date -u -d "2025-01-01 +$i day" +%Y-%m-%d)
	mkdir -p "$CR/${d:0:4}/${d:5:2}"
	cp "$proto" "$CR/${d:0:4}/${d:5:2}/${d}_12-00-00_000000Z.msgpack"
done
assert_eq "365 crafted snapshots" 365 "$(find "$CR" -name '*.msgpack' | wc -l)"

run "$SNAPSHOOTER" --snap-root "$CR" forget
assert_rc "forget without a policy is refused" 2
assert_err_has "the refusal says why" "no policy"

before=$(state_of "$CR")
run "$SNAPSHOOTER" --snap-root "$CR" forget --keep-within 10d --dry-run
assert_rc "forget --keep-within 10d --dry-run" 0
# the latest is 12-31 12:00; 10 days back is 12-21 12:00, kept strictly after
assert_eq "keep-within 10d keeps 12-22..12-31" 10 \
	"$(grep -c '^keep ' "$OUT")"
check "the dry run names what would go" grep -q '^would remove .*2025-12-21_12' "$OUT"
assert_eq "the dry run changed nothing" "$before" "$(state_of "$CR")"

run "$SNAPSHOOTER" --snap-root "$CR" forget --keep-daily 7 --keep-weekly 5 \
	--keep-monthly 12 --keep-yearly 75
assert_rc "forget with restic's example policy" 0
# restic's rules by hand: the last 7 days; ISO weeks end on Sundays 12-28,
# 12-21, 12-14, 12-07 (12-31 is in 2026-W01); month ends; 2025 itself
want="2025-01-31 2025-02-28 2025-03-31 2025-04-30 2025-05-31 2025-06-30
2025-07-31 2025-08-31 2025-09-30 2025-10-31 2025-11-30 2025-12-07
2025-12-14 2025-12-21 2025-12-25 2025-12-26 2025-12-27 2025-12-28
2025-12-29 2025-12-30 2025-12-31"
got=$(find "$CR" -name '*.msgpack' -printf '%f\n' | cut -c1-10 | sort |
	tr '\n' ' ' | sed 's/ $//')
assert_eq "the kept set is restic's" "$(echo $want)" "$got"
check "the reasons are printed" grep -q '^keep .*2025-12-31_12.*(daily, weekly, monthly, yearly)' "$OUT"
assert_eq "removed ones are reported" 344 "$(grep -c '^remove ' "$OUT")"
check "no lock is left behind" bash -c "[ -z \"\$(ls -A '$CR/locks')\" ]"

# --- snapshots that do not decode ---------------------------------------
# The newest two are a 0-byte file and a truncated copy: they must not
# stand for the good ones --keep-last would remove in their favour. They
# are set aside (kept, not counted), the policy keeps the newest good one.
say "== forget: snapshots that do not decode are set aside"
BR=$T/broken
for d in 01 02 03 04 05; do
	mkdir -p "$BR/2025/03"
	cp "$proto" "$BR/2025/03/2025-03-${d}_12-00-00_000000Z.msgpack"
done
: >"$BR/2025/03/2025-03-04_12-00-00_000000Z.msgpack"
head -c "$(($(stat -c %s "$proto") - 9))" "$proto" \
	>"$BR/2025/03/2025-03-05_12-00-00_000000Z.msgpack"
before=$(state_of "$BR")
run "$SNAPSHOOTER" --snap-root "$BR" forget --keep-last 1 --dry-run
assert_rc "dry run: damage found (exit 3)" 3
assert_eq "dry run: changed nothing" "$before" "$(state_of "$BR")"
run "$SNAPSHOOTER" --snap-root "$BR" forget --keep-last 1
assert_rc "forget over unreadable snapshots: damage found (exit 3)" 3
check "the newest good snapshot is kept" \
	grep -q '^keep .*2025-03-03_12-00-00_000000Z.msgpack (last)' "$OUT"
assert_eq "the unreadable ones are set aside, named" 2 \
	"$(grep -c '^keep .*(unreadable)$' "$OUT")"
assert_err_has "the empty one is named with why" \
	"snapshot '$BR/2025/03/2025-03-04_12-00-00_000000Z.msgpack' does not decode"
assert_err_has "the truncated one is named" \
	"2025-03-05_12-00-00_000000Z.msgpack' does not decode"
assert_err_has "the summary counts them" "2 unreadable set aside"
assert_eq "only the older good ones are removed" \
	"2025-03-03 2025-03-04 2025-03-05" \
	"$(find "$BR" -name '*.msgpack' -printf '%f\n' | cut -c1-10 | sort |
		tr '\n' ' ' | sed 's/ $//')"

# --- the Python tool's snapshots ---------------------------------------
say "== forget and gc on the Python tool's backup"
FIX=${SNAP_PY_FIXTURE:-$SNAP_SOURCE_DIR/../shared/fixtures/python-backup}
if [ ! -d "$FIX/heap" ] || [ ! -d "$FIX/snap" ]; then
	if [ "${CI:-}" = true ] || [ -n "${SNAP_REQUIRE_SERVERS:-}" ]; then
		fail "the Python fixture is missing: $FIX"
	else
		skip "the Python fixture is missing: $FIX"
	fi
else
	PY=$T/py
	mkdir -p "$PY"
	cp -r "$FIX/heap" "$FIX/snap" "$PY/"
	chmod -R u+w "$PY"
	newest=$(find "$PY/snap" -name '*.jsonl.gz' -printf '%f\n' | sort | tail -n 1)
	npy=$(find "$PY/snap" -name '*.jsonl.gz' | wc -l)
	# one of ours, older than the Python ones: both formats in one history
	mkdir -p "$PY/snap/2026/11"
	cp "$proto" "$PY/snap/2026/11/2026-11-01_00-00-00_000000Z.msgpack"
	run "$SNAPSHOOTER" --snap-root "$PY/snap" forget --keep-last 1
	assert_rc "forget over both formats" 0
	check "the newest (.jsonl.gz) is kept" grep -q "^keep .*$newest (last)" "$OUT"
	assert_eq "the others of both formats are removed" "$npy" \
		"$(grep -c '^remove ' "$OUT")"
	assert_eq "one snapshot file left" "$newest" \
		"$(find "$PY/snap" -name '*Z.*' -printf '%f\n')"
	# gc either reads the .jsonl.gz snapshot (with the Python reader) or
	# stops before deleting anything; no object it references may go
	want=$(zcat "$PY/snap"/*/*/"$newest" | sed -n 's/.*"md5": "\([0-9a-f]\{32\}\)".*/\1/p' | sort -u)
	run "$SNAPSHOOTER" --heap-root "$PY/heap" --snap-root "$PY/snap" gc --grace 0
	say "    gc on the Python backup: exit $RC"
	check "gc did not crash" test "$RC" -le 1
	missing=$(comm -23 <(echo "$want") <(heap_ids "$PY/heap"))
	assert_eq "every object of the kept Python snapshot is still there" "" "$missing"
fi

# --- gc after forget ----------------------------------------------------
say "== gc: exactly the unreferenced objects"
rm -rf "$FR" "$HR" "$SR"
mkdir -p "$FR"
printf 'alpha\n' >"$FR/a"
printf 'beta\n' >"$FR/b"
make_snapshot || die "snapshot 1"
s1=$SNAP
rm "$FR/a"
printf 'gamma\n' >"$FR/c"
make_snapshot || die "snapshot 2"
s2=$SNAP
cp -a "$FR" "$T/tree2"
printf 'delta\n' >"$FR/d"
make_snapshot || die "snapshot 3"
s3=$SNAP
cp -a "$FR" "$T/tree3"
# a Python-format object of a dropped content, and temp leftovers
drop=$(printf 'python only\n' | md5sum | cut -d' ' -f1)
mkdir -p "$HR/${drop:0:2}" "$HR/temp"
printf 'python only\n' | gzip -n >"$HR/${drop:0:2}/$drop.gz"
printf 'x' >"$HR/temp/0b6e4c9e-uuid.gz"
printf 'y' >"$HR/${drop:0:2}/.tmp-1-2-3"
m=$(dirname "$s3")
printf 'z' >"$m/.tmp-2026-01-01_00-00-00_000000Z.msgpack.1234"
touch -d '2020-01-01' "$HR/${drop:0:2}/$drop.gz" "$HR/temp/0b6e4c9e-uuid.gz" \
	"$HR/${drop:0:2}/.tmp-1-2-3" "$m/.tmp-2026-01-01_00-00-00_000000Z.msgpack.1234"

run "$SNAPSHOOTER" --snap-root "$SR" forget --keep-last 2
assert_rc "forget --keep-last 2" 0
check "the oldest snapshot is gone" test ! -e "$s1"
sleep 1.1   # the objects must be older than gc's start (whole seconds)

before=$(state_of "$HR"; state_of "$SR")
run "$SNAPSHOOTER" --heap-root "$HR" --snap-root "$SR" gc --dry-run --grace 0 --json
assert_rc "gc --dry-run" 0
assert_eq "gc --dry-run would delete 2 objects" 2 "$(json_get "$OUT" deleted)"
assert_eq "gc --dry-run would delete 3 temps" 3 "$(json_get "$OUT" temps_deleted)"
assert_eq "gc --dry-run changed nothing" "$before" "$(state_of "$HR"; state_of "$SR")"

run "$SNAPSHOOTER" --heap-root "$HR" --snap-root "$SR" gc --json
assert_rc "gc with the default grace" 0
assert_eq "the default grace keeps the young unreferenced object" 1 \
	"$(json_get "$OUT" young)"
assert_eq "... and deletes the old one" 1 "$(json_get "$OUT" deleted)"

run "$SNAPSHOOTER" --heap-root "$HR" --snap-root "$SR" gc --grace 0 --json
assert_rc "gc --grace 0" 0
assert_eq "gc deletes the last unreferenced object" 1 "$(json_get "$OUT" deleted)"
want=$(for f in b c d; do printf '%s\n' "$(md5_of "$FR/$f")"; done | sort)
assert_eq "the heap holds exactly the referenced objects" "$want" "$(heap_ids "$HR")"
check "the python temp is gone" test ! -e "$HR/temp/0b6e4c9e-uuid.gz"
check "the heap temp is gone" test ! -e "$HR/${drop:0:2}/.tmp-1-2-3"
check "the snapshot temp is gone" test ! -e "$m/.tmp-2026-01-01_00-00-00_000000Z.msgpack.1234"
for s in "$s2" "$s3"; do
	n=$(basename "$s")
	snap_r() {
		run "$SNAPSHOOTER" --no-progress --file-root "$T/r-$n" \
			--heap-root "$HR" --snap-root "$SR" restore-snapshot \
			--path "$s" --no-save-snapshot-before --no-save-snapshot-after
	}
	snap_r
	assert_rc "restore $n after gc" 0
done
assert_trees_equal "$T/tree2" "$T/r-$(basename "$s2")" "snapshot 2 restores"
assert_trees_equal "$T/tree3" "$T/r-$(basename "$s3")" "snapshot 3 restores"

run "$SNAPSHOOTER" --heap-root "$HR" --snap-root "$T/empty-snaps" gc --grace 0
assert_rc "gc with no snapshot is refused" 1
assert_err_has "the refusal names the reason" "no snapshot"
assert_eq "... and deleted nothing" "$want" "$(heap_ids "$HR")"

# --- gc racing a make-snapshot -----------------------------------------
say "== gc racing a make-snapshot"
BIG=$T/big
mkdir -p "$BIG"
for i in $(seq 1 400); do
	head -c 65536 /dev/urandom >"$BIG/f$i"
done
nbefore=$(heap_ids "$HR" | wc -l)

# start_stopped ENV...: a make-snapshot of $BIG, SIGSTOPped once it holds
# its lock and wrote 20 new heap objects (more than $nbefore): it is
# stopped mid-backup whatever the machine's speed. PID in $BG; 1 if it
# ended first.
start_stopped() {
	env "$@" "$SNAPSHOOTER" --no-progress --jobs 1 --file-root "$BIG" \
		--heap-root "$HR" --snap-root "$SR" make-snapshot \
		>"$T/bg.out" 2>"$T/bg.err" &
	BG=$!
	while ! compgen -G "$SR/locks/shared-*.lock" >/dev/null; do
		kill -0 "$BG" 2>/dev/null || break
	done
	# no sleep between looks: a sleep may oversleep by the whole
	# backup on a loaded machine; one look (a find) is short beside the
	# 380 objects left
	while [ "$(heap_ids "$HR" | wc -l)" -le "$((nbefore + 20))" ]; do
		kill -0 "$BG" 2>/dev/null || return 1
	done
	kill -STOP "$BG" 2>/dev/null || return 1
	# the process may have ended between the last look and the stop
	[ "$(ps -o stat= -p "$BG" 2>/dev/null | cut -c1)" = T ]
}

bsnap=
nsnaps=$(find "$SR" -name '*.msgpack' | wc -l)
if start_stopped; then
	pass "make-snapshot stopped after writing new objects"
	sleep 1.1
	run "$SNAPSHOOTER" --heap-root "$HR" --snap-root "$SR" gc --grace 0
	assert_rc "gc refuses while the backup holds its lock" 1
	assert_err_has "the refusal names the holder" "make-snapshot (shared lock)"
	kill -CONT "$BG"
	wait "$BG"
	assert_eq "the resumed make-snapshot succeeds" 0 $?
	bsnap=$(head -n 1 "$T/bg.out")
	run "$SNAPSHOOTER" --heap-root "$HR" --snap-root "$SR" gc --grace 0
	assert_rc "gc after the backup" 0
	run "$SNAPSHOOTER" --no-progress --file-root "$T/r-big" \
		--heap-root "$HR" --snap-root "$SR" restore-snapshot \
		--path "$bsnap" --no-save-snapshot-before --no-save-snapshot-after
	assert_rc "the new snapshot restores after gc" 0
	assert_trees_equal "$BIG" "$T/r-big" "the restored tree equals the source"
else
	fail "could not stop make-snapshot mid-backup: $(tail -n 3 "$T/bg.err")"
	kill -9 "$BG" 2>/dev/null
	wait "$BG" 2>/dev/null
fi

say "== a backup stopped past the lock expiry loses its lock"
for i in $(seq 401 800); do
	head -c 65536 /dev/urandom >"$BIG/f$i"
done
nbefore=$(heap_ids "$HR" | wc -l)
nsnaps=$(find "$SR" -name '*.msgpack' | wc -l)
if start_stopped SNAPSHOOTER_LOCK_EXPIRY=2 SNAPSHOOTER_LOCK_REFRESH=1; then
	sleep 3.5
	run env SNAPSHOOTER_LOCK_EXPIRY=2 "$SNAPSHOOTER" --heap-root "$HR" \
		--snap-root "$SR" gc --grace 0 --json
	assert_rc "gc takes over the stale lock" 0
	assert_ge "gc deleted the stopped backup's unpublished objects" 1 \
		"$(json_get "$OUT" deleted)"
	kill -CONT "$BG"
	wait "$BG"
	assert_eq "the resumed backup fails" 1 $?
	check "it says it lost the lock" grep -q 'lost the lock' "$T/bg.err"
	assert_eq "it published no snapshot" "$nsnaps" \
		"$(find "$SR" -name '*.msgpack' | wc -l)"
	if [ -n "$bsnap" ]; then
		run "$SNAPSHOOTER" --no-progress --file-root "$T/r-big2" \
			--heap-root "$HR" --snap-root "$SR" restore-snapshot \
			--path "$bsnap" --no-save-snapshot-before \
			--no-save-snapshot-after
		assert_rc "the published snapshot still restores" 0
	fi
else
	fail "could not stop make-snapshot mid-backup: $(tail -n 3 "$T/bg.err")"
	kill -9 "$BG" 2>/dev/null
	wait "$BG" 2>/dev/null
fi

say "== a lock left by kill -9"
# the backup resumed above went on writing objects until it found its
# lock lost: count from here
nbefore=$(heap_ids "$HR" | wc -l)
if start_stopped; then
	kill -9 "$BG"
	wait "$BG" 2>/dev/null
	check "the killed backup left its lock" \
		bash -c "ls '$SR/locks' | grep -q '^shared-'"
	run "$SNAPSHOOTER" --heap-root "$HR" --snap-root "$SR" gc --grace 0
	# refreshed less than the default 1800 s ago: not stale yet
	assert_rc "gc refuses while the dead lock has not expired" 1
	assert_err_has "the refusal names the holder" "make-snapshot"
	sleep 3
	run env SNAPSHOOTER_LOCK_EXPIRY=2 "$SNAPSHOOTER" --heap-root "$HR" \
		--snap-root "$SR" gc --grace 0
	assert_rc "gc takes the expired lock over" 0
	check "the stale lock is gone" \
		bash -c "! ls '$SR/locks' | grep -q '^shared-'"
else
	fail "could not stop make-snapshot mid-backup: $(tail -n 3 "$T/bg.err")"
	kill -9 "$BG" 2>/dev/null
	wait "$BG" 2>/dev/null
fi

# --- object stores ------------------------------------------------------
start() { # name -> exports its variables, or skips/fails
	local name=$1 env
	if env=$(shared_server_env "$name"); then
		. "$env"   # the ctest run's shared server (never stopped here)
		return 0
	fi
	env=$T/.$name.env
	if ! bash "$servers/start_$name.sh" "$env" >"$T/.$name.log" 2>&1; then
		if [ "${SNAP_REQUIRE_SERVERS:-0}" = 1 ]; then
			fail "cannot start $name: $(tail -n 3 "$T/.$name.log")"
		else
			skip "cannot start $name (SNAP_REQUIRE_SERVERS unset)"
		fi
		return 1
	fi
	. "$env"
	return 0
}

no_creds() {
	unset AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
		AWS_REGION AWS_DEFAULT_REGION AWS_SESSION_TOKEN \
		AZURE_STORAGE_CONNECTION_STRING AZURE_STORAGE_ACCOUNT \
		AZURE_STORAGE_KEY AZURE_STORAGE_SAS_TOKEN
}

remote_checks() { # label url
	local label=$1 url=$2 rs
	say "== $label: $url"
	local RFR=$T/$label.src RHR=$url/heap RSR=$url/snaps
	rsnap() {
		run "$SNAPSHOOTER" --no-progress --file-root "$RFR" \
			--heap-root "$RHR" --snap-root "$RSR" "$@"
	}
	mkdir -p "$RFR"
	printf 'one\n' >"$RFR/one"
	printf 'two\n' >"$RFR/two"
	rsnap make-snapshot
	assert_rc "$label: snapshot 1" 0
	rm "$RFR/one"
	printf 'three\n' >"$RFR/three"
	rsnap make-snapshot
	assert_rc "$label: snapshot 2" 0
	rs=$(head -n 1 "$OUT")
	rsnap forget --keep-last 1
	assert_rc "$label: forget --keep-last 1" 0
	assert_eq "$label: one snapshot removed" 1 "$(grep -c '^remove ' "$OUT")"
	rsnap list-snapshots
	assert_eq "$label: one snapshot left" "$rs" "$(cat "$OUT")"
	[ "$label" = swift ] && unfinished_uploads "${url#s3://}" start
	if [ "$label" = swift ]; then
		rsnap gc --dry-run --json
		assert_eq "$label: uploads within the grace are kept" 0 \
			"$(json_get "$OUT" uploads_aborted)"
	fi
	sleep 2     # Last-Modified has whole seconds
	rsnap gc --dry-run --grace 0 --json
	assert_rc "$label: gc --dry-run" 0
	assert_eq "$label: gc --dry-run would delete 1 object" 1 "$(json_get "$OUT" deleted)"
	assert_eq "$label: the heap holds 3 objects" 3 "$(json_get "$OUT" objects)"
	if [ "$label" = swift ]; then
		assert_eq "$label: gc --dry-run would abort 2 uploads" 2 \
			"$(json_get "$OUT" uploads_aborted)"
		assert_eq "$label: gc --dry-run aborted none" \
			"heap/$DEAD_KEY heap/notes/big.bin heap/temp/x.gz" \
			"$(unfinished_uploads "${url#s3://}" list)"
	fi
	rsnap gc --grace 0 --json
	assert_rc "$label: gc" 0
	assert_eq "$label: gc deleted 1 object" 1 "$(json_get "$OUT" deleted)"
	if [ "$label" = swift ]; then
		assert_eq "$label: gc aborted 2 unfinished uploads" 2 \
			"$(json_get "$OUT" uploads_aborted)"
		# boto3 sees only the one that is not the heap's
		assert_eq "$label: the heap's unfinished uploads are gone" \
			"heap/notes/big.bin" \
			"$(unfinished_uploads "${url#s3://}" list)"
	fi
	rsnap gc --dry-run --grace 0 --json
	assert_eq "$label: the heap holds exactly the 2 referenced objects" 2 \
		"$(json_get "$OUT" objects)"
	assert_eq "$label: nothing more to delete" 0 "$(json_get "$OUT" deleted)"
	RFR=$T/$label.back
	rsnap restore-snapshot --no-save-snapshot-before --no-save-snapshot-after
	assert_rc "$label: the remaining snapshot restores" 0
	check "$label: restored content" diff -r "$T/$label.src" "$RFR"
	rsnap list-snapshots
	assert_eq "$label: gc and forget left no lock nor snapshot behind" "$rs" "$(cat "$OUT")"
}

# unfinished_uploads BUCKET start|list (boto3): start, what a run killed
# while it sent large objects leaves in the heap (an S3 multipart upload
# of a heap object and of a Python-tool temp, one part each) and one of
# a key that is not the heap's; list, the keys of the unfinished uploads.
unfinished_uploads() {
	DEAD_KEY=d4/d41d8cd98f00b204e9800998ecf8427e
	"$PY" - "$1" "$2" "$DEAD_KEY" <<'PY'
import os, sys
sys.path.insert(0, os.environ["SNAP_SOURCE_DIR"] + "/tests/e2e")
from s3_helpers import client
s3 = client()
bucket, what, dead = sys.argv[1:]
if what == "start":
    for key in ("heap/" + dead, "heap/temp/x.gz", "heap/notes/big.bin"):
        up = s3.create_multipart_upload(Bucket=bucket, Key=key)
        s3.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"],
                       PartNumber=1, Body=b"x" * 1000)
else:
    r = s3.list_multipart_uploads(Bucket=bucket)
    print(" ".join(sorted(u["Key"] for u in r.get("Uploads", []))))
PY
}

# The cases below each back up their own tree $CASE_SRC into
# $CASE_URL/heap with snapshots in $CASE_SNAPS, set local to the case.
# csnap ARGS...: the binary on those roots.
csnap() {
	run "$SNAPSHOOTER" --no-progress --file-root "$CASE_SRC" \
		--heap-root "$CASE_URL/heap" --snap-root "$CASE_SNAPS" "$@"
}

# crestore DIR: the case's latest snapshot restored into DIR.
crestore() {
	run "$SNAPSHOOTER" --no-progress --file-root "$1" \
		--heap-root "$CASE_URL/heap" --snap-root "$CASE_SNAPS" \
		restore-snapshot --no-save-snapshot-before \
		--no-save-snapshot-after
}

# s3_object BUCKET put|head KEY [BODY] (boto3): an object put there by
# another client, or looked at (exit 0 when it is there).
s3_object() {
	run "$PY" - "$@" <<'PY'
import os, sys
sys.path.insert(0, os.environ["SNAP_SOURCE_DIR"] + "/tests/e2e")
from s3_helpers import client
bucket, op, key = sys.argv[1:4]
if op == "put":
    client().put_object(Bucket=bucket, Key=key, Body=sys.argv[4].encode())
else:
    client().head_object(Bucket=bucket, Key=key)
PY
}

# A gc whose deletions were made but whose answer was lost (kms_proxy.py
# forwards DeleteObjects and closes the connection, every time: libcurl
# sends a request again once on a fresh connection; --retries 0) fails;
# the heap cache file must not outlive it: it would list the deleted
# object, and the next backup would name it without storing it.
gc_lost_delete_case() { # bucket
	local C=$T/ld.cache CASE_URL=s3://$1/lostdel CASE_SRC=$T/ld.src \
		CASE_SNAPS=$T/ld.snaps
	lsnap() { csnap --heap-cache-file "$C" "$@"; }
	say "== gc whose deletions were made and not answered"
	mkdir -p "$CASE_SRC"
	printf 'kept\n' >"$CASE_SRC/a"
	printf 'collected\n' >"$CASE_SRC/b"
	lsnap make-snapshot
	assert_rc "lost delete: snapshot 1" 0
	rm "$CASE_SRC/b"
	lsnap make-snapshot
	assert_rc "lost delete: snapshot 2 (without b)" 0
	lsnap forget --keep-last 1
	assert_rc "lost delete: forget snapshot 1" 0
	sleep 2     # Last-Modified has whole seconds
	KMS_PROXY_LOSE_DELETE=9 start_kms_proxy lostdel plain
	AWS_ENDPOINT_URL=$PROXY_URL lsnap --retries 0 gc --grace 0
	assert_rc "lost delete: gc fails (no answer)" 1
	check "lost delete: the deletion was made" \
		grep -q "^LOST DELETE 200 " "$T/.lostdel.port.log"
	check "lost delete: the heap cache file is gone" test ! -e "$C"
	printf 'collected\n' >"$CASE_SRC/b"
	lsnap make-snapshot
	assert_rc "lost delete: b backed up again" 0
	crestore "$T/ld.back"
	assert_rc "lost delete: the new snapshot restores" 0
	check "lost delete: restored content" diff -r "$CASE_SRC" "$T/ld.back"
}

# A heap cache on one host, gc on another (which does not know that
# cache): the cache lists an object gc deleted. gc stamps the heap with
# a new id before it deletes; a cache saved with another id is not
# taken, so the next backup lists the heap and stores the object again.
gc_other_host_case() { # bucket
	local C=$T/oh.cache CASE_URL=s3://$1/otherhost CASE_SRC=$T/oh.src \
		CASE_SNAPS=$T/oh.snaps
	say "== a heap cache older than another host's gc"
	mkdir -p "$CASE_SRC"
	printf 'kept\n' >"$CASE_SRC/a"
	printf 'collected\n' >"$CASE_SRC/b"
	csnap --heap-cache-file "$C" make-snapshot
	assert_rc "other host: snapshot 1 (writes the cache)" 0
	rm "$CASE_SRC/b"
	csnap --heap-cache-file "$C" make-snapshot
	assert_rc "other host: snapshot 2 (without b)" 0
	csnap forget --keep-last 1
	assert_rc "other host: forget snapshot 1" 0
	sleep 2     # Last-Modified has whole seconds
	csnap gc --dry-run --grace 0 --json
	assert_rc "other host: gc --dry-run" 0
	csnap --heap-cache-file "$C" make-snapshot
	assert_err_has "other host: gc --dry-run stamps nothing" \
		"objects from the cache '$C'"
	csnap gc --grace 0 --json
	assert_rc "other host: gc, without the cache" 0
	assert_eq "other host: gc deleted b's object" 1 \
		"$(json_get "$OUT" deleted)"
	check "other host: the cache is still there" test -e "$C"
	csnap verify --json
	assert_rc "other host: verify after gc" 0
	assert_eq "other host: gc's stamp is no leftover" 0 \
		"$(json_get "$OUT" leftovers)"
	printf 'collected\n' >"$CASE_SRC/b"
	csnap --heap-cache-file "$C" make-snapshot
	assert_rc "other host: b backed up again with the old cache" 0
	assert_err_has "other host: the cache is not taken" \
		"was pruned by gc since its cache '$C' was saved: listing"
	# the cache that run saved has the heap's new id: taken
	touch -d '2000-01-01' "$C"   # whatever its mtime says
	csnap --heap-cache-file "$C" make-snapshot
	assert_rc "other host: a backup with the new cache" 0
	assert_err_has "other host: the new cache is taken" \
		"objects from the cache '$C'"
	crestore "$T/oh.back"
	assert_rc "other host: the new snapshot restores" 0
	check "other host: restored content" diff -r "$CASE_SRC" "$T/oh.back"
	# a stamp that does not parse: the cache is not taken either
	s3_object "$1" put otherhost/heap/gc-stamp garbage
	assert_rc "other host: a broken stamp put" 0
	csnap --heap-cache-file "$C" make-snapshot
	assert_rc "other host: a backup beside a broken stamp" 0
	assert_err_has "other host: the broken stamp is said" \
		"its gc-stamp does not parse; listing the heap"
}

# A key in upper case hex ("D4/D41D8...", put there by another tool or
# by hand) is not a name the heap writes: it is no object, so a backup
# of that content stores "d4/d41d8..." (it read as present, and the
# snapshot named an object the heap lacked), and gc leaves it alone.
upper_case_key_case() { # bucket
	local md5 up CASE_URL=s3://$1/upper CASE_SRC=$T/uc.src \
		CASE_SNAPS=$T/uc.snaps
	say "== an upper-case key in a store heap"
	mkdir -p "$CASE_SRC"
	printf 'upper\n' >"$CASE_SRC/a"
	md5=$(md5sum <"$CASE_SRC/a" | cut -c1-32)
	up=$(printf '%s' "$md5" | tr a-f A-F)
	s3_object "$1" put "upper/heap/${up:0:2}/$up" $'upper\n'
	assert_rc "upper case: the key put" 0
	csnap --json-file "$T/uc.json" make-snapshot
	assert_rc "upper case: backup" 0
	assert_eq "upper case: the content is stored" 1 \
		"$(json_get "$T/uc.json" heap_objects_written)"
	crestore "$T/uc.back"
	assert_rc "upper case: the snapshot restores" 0
	check "upper case: restored content" diff -r "$CASE_SRC" "$T/uc.back"
	sleep 2     # Last-Modified has whole seconds
	csnap gc --grace 0 --json
	assert_rc "upper case: gc" 0
	assert_eq "upper case: gc deletes nothing" 0 \
		"$(json_get "$OUT" deleted)"
	s3_object "$1" head "upper/heap/${up:0:2}/$up"
	assert_rc "upper case: the foreign key is still there" 0
}

if start swift; then
	need_sdks
	started+=("$SNAP_SWIFT_STATE")
	no_creds
	export AWS_ENDPOINT_URL=$SNAP_SWIFT_ENDPOINT \
		AWS_ACCESS_KEY_ID=$SNAP_SWIFT_KEY \
		AWS_SECRET_ACCESS_KEY=$SNAP_SWIFT_SECRET AWS_REGION=us-east-1
	remote_checks swift "s3://snapgc-$$"
	gc_lost_delete_case "snapgc-$$"
	gc_other_host_case "snapgc-$$"
	upper_case_key_case "snapgc-$$"
fi
if start azurite; then
	started+=("$SNAP_AZURITE_STATE")
	no_creds
	export AZURE_STORAGE_CONNECTION_STRING=$SNAP_AZURITE_CONNECTION_STRING
	remote_checks azurite "az://snapgc-$$"
fi

finish
