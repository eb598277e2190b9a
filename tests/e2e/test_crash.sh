#!/usr/bin/env bash
# test_crash: a SIGKILL campaign. make-snapshot, restore-snapshot and sync
# (also --no-delete) are killed at random points of a tree of a few
# thousand small files and three 8-32 MiB files; a kill lands after a
# seeded random delay between 0 and the command's duration, measured once
# at the start on the same tree. After each kill:
#  - every heap object holds the content its name says: `verify
#    --read-data`, and independently python3's hashlib/gzip over the heap
#    files (the check must not trust the tool);
#  - every published snapshot restores (into a scratch dir, without
#    before/after snapshots) to a tree the test can name: the source tree
#    (diff -r) or, for a restore's "before" snapshot, the target as it
#    was before that run; a snapshot file never changes once published;
#  - every file of a killed restore's or sync's tree is whole: its
#    content is the one it had before the run or the one it should get.
# After the next uninterrupted run of the same command: no leftovers
# (.tmp-* in SNAP_ROOT, .snapshooter-tmp-* in the tree, anything but
# objects in the heap) and the run converged (snapshot = tree, restored
# tree = snapshot, DST = SRC and `sync --dry-run` plans nothing).
# The seed is printed; SNAP_CRASH_SEED=N replays its kill points (the
# timing of the machine still varies).
. "$(dirname "$0")/lib.sh"

SEED=${SNAP_CRASH_SEED:-$(($(date +%s) % 32768))}
say "seed $SEED (SNAP_CRASH_SEED=$SEED replays these kill points)"
RANDOM=$SEED

N_MAKE=8	# make-snapshot kills
N_RESTORE=8	# restore-snapshot kills (half with before/after snapshots)
N_SYNC=8	# sync kills (half with --no-delete)
# TODO(gc): the gc branch (gc/forget with a lock) is not merged into main
# yet; once it is, kill gc mid-sweep here and check that every remaining
# snapshot still restores (snapshots_check) and the heap stays sound.

SRC=$T/src
TGT=$T/tgt
DST=$T/dst
SCR=$T/scratch
HR=$T/heap
SR=$T/snap
STATE=$T/state
mkdir -p "$STATE" "$SCR"

# ---- the tree ----------------------------------------------------------

# build_tree DIR: 3,000 small files in 30 dirs, three big random files
# (8, 16, 32 MiB), an empty dir and a symlink.
build_tree() {
	local d=$1 i j
	for ((i = 0; i < 30; i++)); do
		mkdir -p "$d/d$i"
		for ((j = 0; j < 100; j++)); do
			echo "file $i/$j $SEED" >"$d/d$i/f$j"
		done
	done
	head -c 8M /dev/urandom >"$d/big8"
	head -c 16M /dev/urandom >"$d/big16"
	head -c 32M /dev/urandom >"$d/big32"
	mkdir -p "$d/empty"
	ln -s d0/f0 "$d/link"
}

# scribble FILE: overwrite 4 KiB at a random 4 KiB-aligned offset in
# place (same size, new content, new mtime).
scribble() {
	local blocks
	blocks=$(($(stat -c %s "$1") / 4096))
	dd if=/dev/urandom of="$1" bs=4096 count=1 conv=notrunc \
		seek=$((RANDOM % blocks)) status=none
}

# mutate_src: the source changes between make-snapshot kills, so each
# run has new contents to store: one big file (in turn), 100 small files
# rewritten, one added, one removed.
MUT=0
mutate_src() {
	local i big
	MUT=$((MUT + 1))
	big=$(echo big8 big16 big32 | cut -d' ' -f$((MUT % 3 + 1)))
	scribble "$SRC/$big"
	for ((i = 0; i < 100; i++)); do
		echo "changed $MUT $i" >"$SRC/d$((RANDOM % 30))/f$((RANDOM % 100))"
	done
	echo "new $MUT" >"$SRC/d$((RANDOM % 30))/new$MUT"
	rm -f "$SRC/d$((RANDOM % 30))/f$((RANDOM % 100))"
}

# perturb DIR: a copy of the source drifts: a directory of small files
# gone, a big file gone, another scribbled over, a file changed, extras.
perturb() {
	local d=$1 n=$2
	rm -rf "$d/d$((RANDOM % 30))"
	rm -f "$d/big$(echo 8 16 32 | cut -d' ' -f$((n % 3 + 1)))"
	[ -f "$d/big32" ] && scribble "$d/big32"
	[ -f "$d/big16" ] && scribble "$d/big16"
	mkdir -p "$d/d3"
	echo "drift $n" >"$d/d3/f$((RANDOM % 100))"
	mkdir -p "$d/extra$n/sub"
	echo "extra $n" >"$d/extra$n/sub/x"
	head -c 1M /dev/urandom >"$d/extra$n/blob"
}

# state DIR: names, types, file modes, sizes, mtimes (ns), symlink
# targets, empty dirs and contents, tree temps left out (no snapshot
# records them).
state() {
	tree_listing "$1" | tr '\0' '\n' | grep -v '\.snapshooter-tmp-'
	tree_md5 "$1" | grep -v '\.snapshooter-tmp-'
}

# ---- running and killing -------------------------------------------------

IOS=()
for m in $(io_modes); do
	io_usable "$m" && IOS+=("$m")
done
[ ${#IOS[@]} -gt 0 ] || die "no usable io mode"

# S: the array of the binary with the roots and an io mode picked at
# random (an array, not a function: the kill must reach the binary, not
# a subshell around it).
S=()
pick() {
	local io=${IOS[RANDOM % ${#IOS[@]}]}
	S=("$SNAPSHOOTER" --no-progress --io "$io" --heap-root "$HR"
		--snap-root "$SR")
}

now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((10#$t / 1000))
}

# tm KEY CMD...: run CMD, add its duration to TM[KEY] (the time report).
declare -A TM
tm() {
	local k=$1 t0=${EPOCHREALTIME/./}
	shift
	"$@"
	local t1=${EPOCHREALTIME/./}
	TM[$k]=$((${TM[$k]:-0} + (10#$t1 - 10#$t0) / 1000))
}

# measure VAR CMD...: run CMD (must succeed), its duration in ms in VAR.
measure() {
	local var=$1 t0 t1
	shift
	t0=$(now_ms)
	run "$@"
	t1=$(now_ms)
	assert_rc "measured run: ${*: -3}" 0
	printf -v "$var" '%d' $((t1 - t0))
	say "info: $(echo "${*: -3}" | cut -c1-60): $((t1 - t0)) ms"
}

# killed MAX_MS CMD...: start CMD, SIGKILL it after a random delay in
# [0, MAX_MS]. RC 137 when the kill landed mid-run, 0 when the command
# had finished; anything else fails the check.
MID=0
LATE=0
killed() {
	local max=$1 delay pid
	shift
	LAST_CMD="$*"
	delay=$(((RANDOM * 32768 + RANDOM) % (max + 1)))
	"$@" >"$OUT" 2>"$ERR" &
	pid=$!
	sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	RC=$?
	case $RC in
	137)
		MID=$((MID + 1))
		say "info: killed after $delay ms (mid-run)"
		;;
	0)
		LATE=$((LATE + 1))
		say "info: killed after $delay ms: had finished"
		;;
	*)
		fail "killed run exited $RC before the kill ($delay ms)"
		show_last
		;;
	esac
	if grep -qE 'Sanitizer|runtime error:' "$ERR"; then
		fail "sanitizer report"
		show_last
	fi
}

# ---- checks ----------------------------------------------------------------

cat >"$T/heapcheck.py" <<'EOF'
# heapcheck.py HEAP CACHE: every heap object's md5 (of the gunzipped
# bytes for <md5>.gz) equals its name; objects whose inode, size, mtime
# and ctime are in CACHE were read before and are not read again (a write
# changes ctime). Prints one line per bad object, exits 1 if any.
import gzip, hashlib, os, re, sys
heap, cache = sys.argv[1], sys.argv[2]
seen = set()
if os.path.exists(cache):
    seen = set(open(cache).read().split())
name_re = re.compile(r'^([0-9a-f]{32})(\.gz)?$')
bad = 0
new = []
for top in sorted(os.listdir(heap)):
    d = os.path.join(heap, top)
    if not os.path.isdir(d) or not re.match(r'^[0-9a-f]{2}$', top):
        continue
    for n in sorted(os.listdir(d)):
        m = name_re.match(n)
        if not m:
            continue  # temps and strays: the leftover check's business
        p = os.path.join(d, n)
        st = os.lstat(p)
        key = '%s:%d:%d:%d:%d' % (p, st.st_ino, st.st_size,
                                  st.st_mtime_ns, st.st_ctime_ns)
        if key in seen:
            continue
        h = hashlib.md5()
        opener = gzip.open if m.group(2) else open
        try:
            with opener(p, 'rb') as f:
                for b in iter(lambda: f.read(1 << 20), b''):
                    h.update(b)
        except (OSError, EOFError) as e:
            print('unreadable %s: %s' % (p, e))
            bad += 1
            continue
        if h.hexdigest() != m.group(1) or top != n[:2]:
            print('bad object %s: md5 %s' % (p, h.hexdigest()))
            bad += 1
            continue
        new.append(key)
with open(cache, 'a') as f:
    for k in new:
        f.write(k + '\n')
sys.exit(1 if bad else 0)
EOF

# heap_check WHEN: verify --read-data finds no damage, and the independent
# python3 check agrees.
heap_check() {
	local out
	run "$SNAPSHOOTER" --no-progress --heap-root "$HR" --snap-root "$SR" \
		verify --read-data
	if [ "$RC" -eq 0 ] && grep -q ' 0 missing, .* 0 corrupt' "$OUT"; then
		pass "$1: verify --read-data finds no damage"
	else
		fail "$1: verify --read-data"
		show_last
	fi
	if out=$(python3 "$T/heapcheck.py" "$HR" "$STATE/heap.seen" 2>&1); then
		pass "$1: every heap object's md5 matches its name (python3)"
	else
		fail "$1: heap objects (python3)"
		printf '%s\n' "$out" | head -n 5 | sed 's/^/    /'
	fi
}

# snapshots_check WHEN CANDIDATE_STATE...: every listed snapshot file is
# the one first seen (same md5); each new one restores into the scratch
# dir and gives one of the CANDIDATE_STATE files (state of a tree). A
# snapshot of the source is also compared byte for byte with diff -r.
declare -A SEEN
snapshots_check() {
	local when=$1 p n=0 got ok c bad=
	shift
	run "$SNAPSHOOTER" --no-progress --heap-root "$HR" --snap-root "$SR" \
		list-snapshots --limit 100000
	if [ "$RC" -ne 0 ]; then
		fail "$when: list-snapshots"
		show_last
		return
	fi
	# every snapshot file is listed (none hidden by a bad one)
	if ! cmp -s <(sort "$OUT") <(find "$SR" -type f \
		\( -name '*.msgpack' -o -name '*.jsonl.gz' \) ! -name '.*' | sort); then
		fail "$when: list-snapshots lists every snapshot file"
	fi
	# the restores below rewrite $OUT: read the list from a copy
	sort "$OUT" >"$STATE/list"
	while IFS= read -r p; do
		if [ -n "${SEEN[$p]:-}" ]; then
			[ "$(md5sum <"$p")" = "${SEEN[$p]}" ] ||
				bad="$bad changed:$p"
			continue
		fi
		n=$((n + 1))
		run "$SNAPSHOOTER" --no-progress --io "${IOS[0]}" \
			--file-root "$SCR" --heap-root "$HR" --snap-root "$SR" \
			restore-snapshot --path "$p" --no-save-snapshot-before \
			--no-save-snapshot-after
		if [ "$RC" -ne 0 ]; then
			fail "$when: snapshot $p restores"
			show_last
			continue
		fi
		got=$STATE/got
		state "$SCR" >"$got"
		ok=
		for c in "$@"; do
			if cmp -s "$got" "$c"; then
				ok=$c
				break
			fi
		done
		if [ -z "$ok" ]; then
			fail "$when: snapshot $p restores to a known tree"
			diff "$1" "$got" | head -n 10 | clip | sed 's/^/    /'
			continue
		fi
		if [ "$ok" = "$STATE/src" ] && ! diff -r --no-dereference \
			"$SRC" "$SCR" >/dev/null; then
			fail "$when: snapshot $p: diff -r with the source"
			continue
		fi
		SEEN[$p]=$(md5sum <"$p")
	done <"$STATE/list"
	if [ -n "$bad" ]; then
		fail "$when: published snapshot files changed:$bad"
	else
		pass "$when: every snapshot restores ($n new, ${#SEEN[@]} in all)"
	fi
}

# whole_files WHEN DIR BEFORE AFTER: every file of DIR (temps left out)
# has the content it had (md5 list BEFORE) or should get (AFTER): a kill
# never leaves a torn file under a real name.
whole_files() {
	local torn
	torn=$(tree_md5 "$2" | grep -v '\.snapshooter-tmp-' |
		awk -v b="$3" -v a="$4" '
		BEGIN {
			while ((getline l < b) > 0) B[substr(l, 35)] = substr(l, 1, 32)
			while ((getline l < a) > 0) A[substr(l, 35)] = substr(l, 1, 32)
		}
		{ n = substr($0, 35); m = substr($0, 1, 32)
		  if (m != B[n] && m != A[n]) print n }')
	if [ -z "$torn" ]; then
		pass "$1: every file is whole (old or new content)"
	else
		fail "$1: torn files: $(echo "$torn" | head -n 5 | tr '\n' ' ')"
	fi
}

# no_leftovers WHEN DIR...: no snapshot temp in SNAP_ROOT, nothing but
# objects in the heap, no tree temp in each DIR.
no_leftovers() {
	local when=$1 l
	shift
	l=$(find "$SR" -name '.tmp-*' | head -n 3)
	l="$l$(cd "$HR" && find . -mindepth 1 -regextype posix-extended \
		! -regex '\./[0-9a-f]{2}' ! -regex '\./[0-9a-f]{2}/[0-9a-f]{32}(\.gz)?' |
		head -n 3)"
	[ $# -gt 0 ] && l="$l$(find "$@" -name '.snapshooter-tmp-*' | head -n 3)"
	if [ -z "$l" ]; then
		pass "$when: no leftovers"
	else
		fail "$when: leftovers: $(echo "$l" | tr '\n' ' ')"
	fi
}

# same_tree WHEN A B: diff -r (bytes, symlinks as links) and the same
# state (modes, mtimes, empty dirs).
same_tree() {
	if diff -r --no-dereference "$2" "$3" >"$STATE/diff" 2>&1 &&
		cmp -s <(state "$2") <(state "$3"); then
		pass "$1: $(basename "$3") equals $(basename "$2")"
	else
		fail "$1: $(basename "$3") differs from $(basename "$2")"
		head -n 5 "$STATE/diff" | sed 's/^/    /'
		diff <(state "$2") <(state "$3") | head -n 5 | sed 's/^/    /'
	fi
}

# ---- the campaign ------------------------------------------------------------

build_tree "$SRC"
tm state state "$SRC" >"$STATE/src.0"
tm state tree_md5 "$SRC" >"$STATE/src.md5"
T_START=$SECONDS

# the first backup, restore and sync fill empty roots
pick
tm runs run "${S[@]}" --file-root "$SRC" make-snapshot
assert_rc "first make-snapshot" 0
SRC_SNAP=$(head -n 1 "$OUT")
pick
tm runs run "${S[@]}" --file-root "$TGT" restore-snapshot --path "$SRC_SNAP" \
	--no-save-snapshot-before --no-save-snapshot-after
assert_rc "first restore" 0
tm runs run "$SNAPSHOOTER" --no-progress sync "$SRC" "$DST"
assert_rc "first sync" 0
# each command's duration, measured once on the work a killed run does:
# a changed source, a target and a DST that drifted
mutate_src
state "$SRC" >"$STATE/src"
pick
measure D_MAKE "${S[@]}" --file-root "$SRC" make-snapshot
perturb "$TGT" 0
state "$TGT" >"$STATE/tgt.0"
pick
measure D_RESTORE_SAVE "${S[@]}" --file-root "$TGT" restore-snapshot \
	--path "$SRC_SNAP"
perturb "$TGT" 0
pick
measure D_RESTORE "${S[@]}" --file-root "$TGT" restore-snapshot --path \
	"$SRC_SNAP" --no-save-snapshot-before --no-save-snapshot-after
perturb "$DST" 0
measure D_SYNC "$SNAPSHOOTER" --no-progress sync "$SRC" "$DST"
tm heap heap_check "start"
tm snaps snapshots_check "start" "$STATE/src" "$STATE/src.0" \
	"$STATE/tgt.0"

# make-snapshot: the source changes before each kill, so the killed run
# has contents to store
MID=0 LATE=0
for ((k = 1; k <= N_MAKE; k++)); do
	say "== make-snapshot kill $k/$N_MAKE"
	tm mutate mutate_src
	tm state state "$SRC" >"$STATE/src"
	pick
	tm killed killed "$D_MAKE" "${S[@]}" --file-root "$SRC" make-snapshot
	tm heap heap_check "make-snapshot kill $k"
	tm snaps snapshots_check "make-snapshot kill $k" "$STATE/src"
	pick
	tm runs run "${S[@]}" --file-root "$SRC" make-snapshot
	assert_rc "make-snapshot after kill $k" 0
	SRC_SNAP=$(head -n 1 "$OUT")
	tm leftovers no_leftovers "make-snapshot after kill $k"
	tm snaps snapshots_check "make-snapshot after kill $k" "$STATE/src"
	check "make-snapshot after kill $k: its snapshot is the tree" \
		test "${SEEN[$SRC_SNAP]:-}" = "$(md5sum <"$SRC_SNAP")"
done
assert_ge "make-snapshot kills that landed mid-run ($LATE late)" 1 "$MID"
tm heap heap_check "make-snapshot done"
tm state tree_md5 "$SRC" >"$STATE/src.md5"

# restore-snapshot of the latest source snapshot into a target that
# drifts before each kill; odd kills save before/after snapshots (the
# "before" one is of the target as it was)
MID=0 LATE=0
for ((k = 1; k <= N_RESTORE; k++)); do
	say "== restore-snapshot kill $k/$N_RESTORE"
	tm mutate perturb "$TGT" "$k"
	tm state state "$TGT" >"$STATE/tgt.before"
	tm state tree_md5 "$TGT" >"$STATE/tgt.before.md5"
	opts=(--no-save-snapshot-before --no-save-snapshot-after)
	d=$D_RESTORE
	if [ $((k % 2)) -eq 1 ]; then
		opts=()
		d=$D_RESTORE_SAVE
	fi
	pick
	tm killed killed "$d" "${S[@]}" --file-root "$TGT" restore-snapshot \
		--path "$SRC_SNAP" "${opts[@]}"
	tm whole whole_files "restore kill $k" "$TGT" "$STATE/tgt.before.md5" \
		"$STATE/src.md5"
	tm heap heap_check "restore kill $k"
	tm snaps snapshots_check "restore kill $k" "$STATE/src" "$STATE/tgt.before"
	tm state state "$TGT" >"$STATE/tgt.killed"
	pick
	tm runs run "${S[@]}" --file-root "$TGT" restore-snapshot --path "$SRC_SNAP" \
		"${opts[@]}"
	assert_rc "restore after kill $k" 0
	tm leftovers no_leftovers "restore after kill $k" "$TGT"
	tm same same_tree "restore after kill $k" "$SRC" "$TGT"
	tm snaps snapshots_check "restore after kill $k" "$STATE/src" \
		"$STATE/tgt.killed"
done
assert_ge "restore kills that landed mid-run ($LATE late)" 1 "$MID"

# sync into a DST that drifts before each kill; even kills --no-delete
MID=0 LATE=0
for ((k = 1; k <= N_SYNC; k++)); do
	say "== sync kill $k/$N_SYNC"
	tm mutate perturb "$DST" "$k"
	tm state tree_md5 "$DST" >"$STATE/dst.before.md5"
	opts=()
	[ $((k % 2)) -eq 0 ] && opts=(--no-delete)
	io=${IOS[RANDOM % ${#IOS[@]}]}
	tm killed killed "$D_SYNC" "$SNAPSHOOTER" --no-progress --io "$io" sync \
		"${opts[@]}" "$SRC" "$DST"
	tm whole whole_files "sync kill $k" "$DST" "$STATE/dst.before.md5" \
		"$STATE/src.md5"
	tm runs run "$SNAPSHOOTER" --no-progress --io "$io" sync "${opts[@]}" \
		"$SRC" "$DST"
	assert_rc "sync ${opts[*]} after kill $k" 0
	tm leftovers no_leftovers "sync after kill $k" "$DST"
	tm runs run "$SNAPSHOOTER" --no-progress sync --dry-run "${opts[@]}" \
		"$SRC" "$DST"
	if [ "$RC" -eq 0 ] && [ ! -s "$OUT" ]; then
		pass "sync ${opts[*]} after kill $k: --dry-run plans nothing"
	else
		fail "sync ${opts[*]} after kill $k: --dry-run plans something"
		show_last
	fi
	if [ ${#opts[@]} -eq 0 ]; then
		tm same same_tree "sync after kill $k" "$SRC" "$DST"
	else
		# --no-delete: DST holds SRC plus the extras it had
		extra=$(diff -r --no-dereference "$SRC" "$DST" |
			grep -v "^Only in $DST" | head -n 5)
		assert_eq "sync --no-delete after kill $k: DST has SRC" "" \
			"$extra"
	fi
done
assert_ge "sync kills that landed mid-run ($LATE late)" 1 "$MID"
tm heap heap_check "end"
say "info: campaign took $((SECONDS - T_START)) s; ms spent in: $(for k in "${!TM[@]}"; do printf '%s=%s ' "$k" "${TM[$k]}"; done)"
finish
