#!/usr/bin/env bash
# test_crash: a SIGKILL campaign. make-snapshot, restore-snapshot, sync
# (also --no-delete) and gc (after a forget, under its exclusive lock)
# are killed at random points of a tree of a few hundred small files and
# three 1-4 MiB files (read by the streamed path); a kill lands after a
# seeded random delay between 0 and the command's duration, measured once
# at the start on the same tree. After each kill:
#  - every heap object holds the content its name says: `verify
#    --read-data`, and independently coreutils md5sum (gzip -dc for .gz)
#    over the heap files (the check must not trust the tool);
#  - every published snapshot restores (into a scratch dir, without
#    before/after snapshots) to a tree the test can name: the source tree
#    (diff -r) or, for a restore's "before" snapshot, the target as it
#    was before that run; a snapshot file never changes once published
#    (after a killed gc: nothing a kept snapshot references is gone);
#  - every file of a killed restore's or sync's tree is whole: its
#    content is the one it had before the run or the one it should get;
#  - a killed gc's exclusive lock, when it left one, makes the next gc
#    refuse naming it until it expires (LOCKING.md), then is taken over.
# After the next uninterrupted run of the same command: no leftovers
# (.tmp-* in SNAP_ROOT, .snapshooter-tmp-* in the tree, anything but
# objects in the heap; after gc no lock either) and the run converged
# (snapshot = tree, restored tree = snapshot, DST = SRC and `sync
# --dry-run` plans nothing, a second gc deletes nothing).
# The seed is printed; SNAP_CRASH_SEED=N replays its kill points (the
# timing of the machine still varies). SNAP_CRASH_KILLS=N sets the kills
# per command (default 3, gc at most 3; the sanitizer suite of
# tests/run.sh runs 2 of each); a command none of whose kills landed
# mid-run gets up to 4 more, each with half the bound of the one before.
# Locks expire after 6 s here (SNAPSHOOTER_LOCK_EXPIRY, refreshed every
# second), so a killed run's lock is stale 7 s later; a live run stops
# when its last refresh is over 4 s old (LOCKING.md: two thirds of the
# expiry), so a refresh may be 3 s late on a loaded machine (its write
# fsyncs twice, behind the writeback of everything else running). 2 s
# was flaky ("lost the lock ... not refreshed for 1 s (expiry 2 s)"),
# 3 s left 1 s.
. "$(dirname "$0")/lib.sh"

SEED=${SNAP_CRASH_SEED:-$(($(date +%s) % 32768))}
say "seed $SEED (SNAP_CRASH_SEED=$SEED replays these kill points)"
RANDOM=$SEED

KILLS=${SNAP_CRASH_KILLS:-3}
N_MAKE=$KILLS	# make-snapshot kills
N_RESTORE=$KILLS	# restore-snapshot kills (half with before/after snapshots)
N_SYNC=$KILLS	# sync kills (half with --no-delete)
N_GC=$((KILLS < 3 ? KILLS : 3))	# gc kills (each may cost a lock expiry)
LOCK_EXPIRY=6
export SNAPSHOOTER_LOCK_EXPIRY=$LOCK_EXPIRY SNAPSHOOTER_LOCK_REFRESH=1

SRC=$T/src
TGT=$T/tgt
DST=$T/dst
SCR=$T/scratch
HR=$T/heap
SR=$T/snap
STATE=$T/state
mkdir -p "$STATE" "$SCR"

# ---- the tree ----------------------------------------------------------

# build_tree DIR: 400 small files in 10 dirs, three big random files
# (1, 2, 4 MiB: above the 256 KiB of the batched small-file path), an
# empty dir and a symlink.
NDIRS=10
NFILES=40
build_tree() {
	local d=$1 i j
	for ((i = 0; i < NDIRS; i++)); do
		mkdir -p "$d/d$i"
		for ((j = 0; j < NFILES; j++)); do
			echo "file $i/$j $SEED" >"$d/d$i/f$j"
		done
	done
	head -c 1M /dev/urandom >"$d/big8"
	head -c 2M /dev/urandom >"$d/big16"
	head -c 4M /dev/urandom >"$d/big32"
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
# run has new contents to store: one big file (in turn), 40 small files
# rewritten, one added, one removed.
MUT=0
mutate_src() {
	local i big
	MUT=$((MUT + 1))
	big=$(echo big8 big16 big32 | cut -d' ' -f$((MUT % 3 + 1)))
	scribble "$SRC/$big"
	for ((i = 0; i < 40; i++)); do
		echo "changed $MUT $i" >"$SRC/d$((RANDOM % NDIRS))/f$((RANDOM % NFILES))"
	done
	echo "new $MUT" >"$SRC/d$((RANDOM % NDIRS))/new$MUT"
	rm -f "$SRC/d$((RANDOM % NDIRS))/f$((RANDOM % NFILES))"
}

# perturb DIR: a copy of the source drifts: a directory of small files
# gone, a big file gone, another scribbled over, a file changed, extras.
perturb() {
	local d=$1 n=$2
	rm -rf "$d/d$((RANDOM % NDIRS))"
	rm -f "$d/big$(echo 8 16 32 | cut -d' ' -f$((n % 3 + 1)))"
	[ -f "$d/big32" ] && scribble "$d/big32"
	[ -f "$d/big16" ] && scribble "$d/big16"
	mkdir -p "$d/d3"
	echo "drift $n" >"$d/d3/f$((RANDOM % NFILES))"
	mkdir -p "$d/extra$n/sub"
	echo "extra $n" >"$d/extra$n/sub/x"
	head -c 512K /dev/urandom >"$d/extra$n/blob"
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
# The dirty pages of the runs before are written back first: else the
# measured run's fsyncs wait for them, and it took 5-10 times as long as
# the killed runs later (337 ms against < 40 ms), whose kills then
# mostly landed after the end.
measure() {
	local var=$1 t0 t1
	shift
	sync
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
LAST_KILL=0
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
	LAST_KILL=$(now_ms)
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

# more K N D: the bound of kill round K of N planned, whose commands take
# D ms; empty when the rounds are over. Up to 4 extra rounds follow when
# no kill has landed mid-run yet, each with half the bound of the one
# before (D/2 .. D/16): the one measured run may have been slow (a cold
# cache, a loaded machine) and the killed runs fast, so every random
# delay fell after the end (6 late kills in a row failed a CI run).
more() {
	local extra=$(($1 - $2))
	if [ "$extra" -le 0 ]; then
		echo "$3"
	elif [ "$MID" -eq 0 ] && [ "$extra" -le 4 ]; then
		echo $(($3 >> extra))
	fi
}

# wait_expiry: sleep until a lock the last killed run left is stale (not
# refreshed for more than LOCK_EXPIRY whole seconds).
wait_expiry() {
	local left=$((LAST_KILL + (LOCK_EXPIRY + 1) * 1000 + 100 - $(now_ms)))
	if [ "$left" -gt 0 ]; then
		sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
	fi
}

# ---- checks ----------------------------------------------------------------

# heap_md5_check HEAP: every object's md5 (coreutils md5sum; of the
# gunzipped bytes for <md5>.gz) equals its name and sits in the directory
# of its first two hex digits; prints the bad ones. Temps and strays are
# the leftover check's business.
heap_md5_check() {
	local f n bad=0
	(cd "$1" && find . -type f -regextype posix-extended \
		-regex '\./[0-9a-f]{2}/[0-9a-f]{32}' -print0 |
		xargs -0 -r md5sum) | awk '{
			n = $2; sub(".*/", "", n); d = $2; sub("^\\./", "", d)
			if ($1 != n || substr(d, 1, 2) != substr(n, 1, 2)) {
				print "bad object " $2 ": md5 " $1; bad = 1
			}
		} END { exit bad }' || bad=1
	while IFS= read -r -d '' f; do
		n=${f##*/}
		n=${n%.gz}
		if [ "$(gzip -dc <"$f" 2>/dev/null | md5sum | cut -c1-32)" != "$n" ] ||
			[ "${f%/*}" != "$1/${n:0:2}" ]; then
			echo "bad object $f"
			bad=1
		fi
	done < <(find "$1" -type f -regextype posix-extended \
		-regex '.*/[0-9a-f]{32}\.gz' -print0)
	return $bad
}

# heap_check WHEN: verify --read-data finds no damage, and the independent
# md5sum check agrees.
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
	if out=$(heap_md5_check "$HR" 2>&1); then
		pass "$1: every heap object's md5 matches its name (md5sum)"
	else
		fail "$1: heap objects (md5sum)"
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
	# the snapshots seen before keep their bytes (one md5sum for all)
	declare -A NOW=()
	while read -r c p; do
		NOW[$p]=$c
	done < <(tr '\n' '\0' <"$STATE/list" | xargs -0 -r md5sum)
	while IFS= read -r p; do
		if [ -n "${SEEN[$p]:-}" ]; then
			[ "${NOW[$p]:-}" = "${SEEN[$p]}" ] ||
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
		SEEN[$p]=${NOW[$p]}
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
for ((k = 1; ; k++)); do
	d=$(more $k $N_MAKE "$D_MAKE")
	[ -n "$d" ] || break
	say "== make-snapshot kill $k/$N_MAKE"
	tm mutate mutate_src
	tm state state "$SRC" >"$STATE/src"
	pick
	tm killed killed "$d" "${S[@]}" --file-root "$SRC" make-snapshot
	tm heap heap_check "make-snapshot kill $k"
	tm snaps snapshots_check "make-snapshot kill $k" "$STATE/src"
	pick
	tm runs run "${S[@]}" --file-root "$SRC" make-snapshot
	assert_rc "make-snapshot after kill $k" 0
	SRC_SNAP=$(head -n 1 "$OUT")
	tm leftovers no_leftovers "make-snapshot after kill $k"
	tm snaps snapshots_check "make-snapshot after kill $k" "$STATE/src"
	check "make-snapshot after kill $k: its snapshot is the tree" \
		test "${SEEN[$SRC_SNAP]:-}" = "$(md5sum <"$SRC_SNAP" | cut -c1-32)"
done
assert_ge "make-snapshot kills that landed mid-run ($LATE late)" 1 "$MID"
tm heap heap_check "make-snapshot done"
tm state tree_md5 "$SRC" >"$STATE/src.md5"

# restore-snapshot of the latest source snapshot into a target that
# drifts before each kill; odd kills save before/after snapshots (the
# "before" one is of the target as it was)
MID=0 LATE=0
for ((k = 1; ; k++)); do
	[ -n "$(more $k $N_RESTORE 1)" ] || break
	say "== restore-snapshot kill $k/$N_RESTORE"
	tm mutate perturb "$TGT" "$k"
	tm state state "$TGT" >"$STATE/tgt.before"
	tm state tree_md5 "$TGT" >"$STATE/tgt.before.md5"
	opts=(--no-save-snapshot-before --no-save-snapshot-after)
	d=$(more $k $N_RESTORE "$D_RESTORE")
	if [ $((k % 2)) -eq 1 ]; then
		opts=()
		d=$(more $k $N_RESTORE "$D_RESTORE_SAVE")
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
for ((k = 1; ; k++)); do
	d=$(more $k $N_SYNC "$D_SYNC")
	[ -n "$d" ] || break
	say "== sync kill $k/$N_SYNC"
	tm mutate perturb "$DST" "$k"
	tm state tree_md5 "$DST" >"$STATE/dst.before.md5"
	opts=()
	[ $((k % 2)) -eq 0 ] && opts=(--no-delete)
	io=${IOS[RANDOM % ${#IOS[@]}]}
	tm killed killed "$d" "$SNAPSHOOTER" --no-progress --io "$io" sync \
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

# gc, after a new snapshot of the changed source and a forget that keeps
# the newest two, so that it has objects to delete; killed under its
# exclusive lock. The locks of the killed restores expire first.
G=("$SNAPSHOOTER" --no-progress --heap-root "$HR" --snap-root "$SR")
# gc_round WHEN: new garbage: a snapshot of the changed source, forget
gc_round() {
	cp "$STATE/src" "$STATE/src.prev"
	tm mutate mutate_src
	tm state state "$SRC" >"$STATE/src"
	pick
	tm runs run "${S[@]}" --file-root "$SRC" make-snapshot
	assert_rc "$1: make-snapshot" 0
	tm runs run "${G[@]}" forget --keep-last 2
	assert_rc "$1: forget --keep-last 2" 0
}
# no_lock WHEN: the lock folder is empty (no lock, no temp of one)
no_lock() {
	local l
	l=$(ls -A "$SR/locks" 2>/dev/null | head -n 3)
	if [ -z "$l" ]; then
		pass "$1: no lock left"
	else
		fail "$1: locks left: $(echo "$l" | tr '\n' ' ')"
	fi
}
wait_expiry
gc_round "gc setup"
measure D_GC "${G[@]}" gc --grace 0
MID=0 LATE=0
LEFT=0
for ((k = 1; ; k++)); do
	d=$(more $k $N_GC "$D_GC")
	[ -n "$d" ] || break
	say "== gc kill $k/$N_GC"
	gc_round "gc kill $k"
	tm killed killed "$d" "${G[@]}" gc --grace 0
	left=0
	if ls "$SR/locks" 2>/dev/null | grep -q '^exclusive-'; then
		left=1
		# LOCKING.md: a dead holder's lock blocks until it expires
		# (checked at once: its last refresh came up to a period
		# before the kill, maybe late: allow 2 s for that)
		LEFT=$((LEFT + 1))
		tm runs run "${G[@]}" gc --grace 0
		live_ms=$(((LOCK_EXPIRY - 2) * 1000))
		if [ $(($(now_ms) - LAST_KILL)) -lt "$live_ms" ]; then
			assert_rc "gc kill $k: the next gc refuses while the killed gc's lock is live" 1
			assert_err_has "gc kill $k: the refusal names the killed gc" \
				"locked by gc (exclusive lock)"
		else
			say "info: the machine is too slow to see the lock live"
		fi
	fi
	tm heap heap_check "gc kill $k"
	[ "$left" = 1 ] && tm expiry wait_expiry
	# --grace 0 still keeps an object written in the current second
	# (young); a round that ran within one second would leave the
	# forgotten snapshot's objects to the "second gc" below
	tm young sleep 1
	tm runs run "${G[@]}" gc --grace 0
	assert_rc "gc after kill $k finishes" 0
	tm leftovers no_leftovers "gc after kill $k"
	no_lock "gc after kill $k"
	# kept: the snapshots of this round's source and of the last one
	tm snaps snapshots_check "gc after kill $k" "$STATE/src" \
		"$STATE/src.prev"
	tm runs run "${G[@]}" gc --grace 0 --json
	assert_rc "gc after kill $k: a second gc" 0
	assert_eq "gc after kill $k: a second gc deletes nothing" 0 \
		"$(json_get "$OUT" deleted)"
done
assert_ge "gc kills that landed mid-run ($LATE late, $LEFT left a lock)" 1 "$MID"
tm heap heap_check "end"
say "info: campaign took $((SECONDS - T_START)) s; ms spent in: $(for k in "${!TM[@]}"; do printf '%s=%s ' "$k" "${TM[$k]}"; done)"
finish
