#!/usr/bin/env bash
# test_leftovers: what a killed run leaves is removed by the next run, and
# what a live process is still writing is not. Temp snapshots
# (SNAP_ROOT/YYYY/MM/.tmp-*) go at the next make-snapshot; tree temps
# (.snapshooter-tmp-*) at the next restore or sync of that tree (even with
# --no-delete) and never enter a snapshot. A live temp is one whose flock
# a process holds (here `flock FILE sleep`), or, for a symlink temp, whose
# pid in the name is running. Kill -9 points come from a seeded loop
# bounded to a few seconds.
. "$(dirname "$0")/lib.sh"

SEED=${SNAP_E2E_SEED:-4242}
HOLDERS=
hold() {  # hold FILE: a live writer's lock on FILE (created)
	flock "$1" sleep 60 &
	HOLDERS="$HOLDERS $!"
	while ! [ -e "$1" ]; do sleep 0.01; done
	# the lock is taken right after the open: wait until it is held
	# (or the holder died: the test's checks then say so)
	while flock -n "$1" true 2>/dev/null; do
		kill -0 "$!" 2>/dev/null || break
		sleep 0.01
	done
}
release_holders() {
	local p
	for p in $HOLDERS; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	HOLDERS=
}
trap 'release_holders; e2e_cleanup' EXIT

# kill_loop N CMD...: start CMD N times, each killed with SIGKILL after a
# seeded random delay of 0-150 ms; at most ~4 s in all
kill_loop() {
	local n=$1 i pid t0=$SECONDS
	shift
	for ((i = 0; i < n && SECONDS - t0 < 4; i++)); do
		"$@" >/dev/null 2>&1 &
		pid=$!
		sleep "0.$(printf '%03d' $((RANDOM % 150)))"
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
}

snap_temps() {
	find "$SR" -name '.tmp-*' | sort
}

tree_temps() {
	find "$1" -name '.snapshooter-tmp-*' | sort
}

snapshots() {
	RANDOM=$SEED
	local src=$T/$IO.src i left live stale m
	rm -rf "$src" && mkdir -p "$src/d"
	for ((i = 0; i < 2000; i++)); do
		echo "file $i" >"$src/d/f$i"
	done
	head -c 20000000 /dev/urandom >"$src/big"
	new_roots "$IO"
	FR=$src
	kill_loop 12 "$SNAPSHOOTER" --no-progress --io "$IO" --file-root "$src" \
		--heap-root "$HR" --snap-root "$SR" make-snapshot
	left=$(snap_temps | wc -l)
	say "info: $left temp snapshot(s) left by the killed runs"
	# a leftover in an older month, and a live temp of a concurrent run
	mkdir -p "$SR/2020/01"
	stale=$SR/2020/01/.tmp-2020-01-02_03-04-05_000000Z.msgpack.00000000000000aa
	echo "partial" >"$stale"
	m=$(ls -d "$SR"/[0-9][0-9][0-9][0-9]/[0-9][0-9] | tail -n 1)
	live=$m/.tmp-2099-01-01_00-00-00_000000Z.msgpack.00000000000000bb
	hold "$live"
	# and the same two kinds of temp of a lock write (locks/.tmp-*)
	mkdir -p "$SR/locks"
	echo "partial" >"$SR/locks/.tmp-shared-00000000000000aa.lock"
	hold "$SR/locks/.tmp-shared-00000000000000bb.lock"
	make_snapshot || return
	check "stale temp of an old month removed" test ! -e "$stale"
	check "stale temp of a lock write removed" \
		test ! -e "$SR/locks/.tmp-shared-00000000000000aa.lock"
	check "live temp (flock held) kept" test -e "$live"
	assert_eq "no other temp snapshot or lock left" \
		"$(printf '%s\n' "$live" \
			"$SR/locks/.tmp-shared-00000000000000bb.lock" | sort)" \
		"$(snap_temps)"
	release_holders
	snap list-snapshots
	assert_rc "the snapshots still list" 0
}

trees() {
	RANDOM=$((SEED + 1))
	local src=$T/$IO.tsrc dst=$T/$IO.tdst i left s1 live_f live_l
	rm -rf "$src" "$dst" && mkdir -p "$src/d" "$dst"
	for ((i = 0; i < 1500; i++)); do
		echo "source $i" >"$src/d/f$i"
	done
	new_roots "$IO.t"
	FR=$src
	make_snapshot || return
	s1=$SNAP
	# the target holds other contents under the same names: every file
	# is replaced (link under a temp name, rename over the old one)
	mkdir -p "$dst/d"
	for ((i = 0; i < 1500; i++)); do
		echo "old target $i" >"$dst/d/f$i"
	done
	kill_loop 12 "$SNAPSHOOTER" --no-progress --io "$IO" --file-root "$dst" \
		--heap-root "$HR" --snap-root "$SR" restore-snapshot --path "$s1" \
		--no-save-snapshot-before --no-save-snapshot-after
	left=$(tree_temps "$dst" | wc -l)
	say "info: $left tree temp(s) left by the killed restores"
	# leftovers (a file, a symlink of a dead pid) and live temps (a
	# held file, a symlink of this shell's pid)
	echo "partial" >"$dst/d/.snapshooter-tmp-99999999-1-00000000000000a1"
	ln -s f1 "$dst/d/.snapshooter-tmp-99999999-2-00000000000000a2"
	live_f=$dst/d/.snapshooter-tmp-99999999-3-00000000000000b1
	live_l=$dst/d/.snapshooter-tmp-$$-4-00000000000000b2
	hold "$live_f"
	ln -s f1 "$live_l"
	FR=$dst
	snap restore-snapshot --path "$s1"
	assert_rc "restore after killed restores" 0
	assert_eq "restore: only the live temps remain" \
		"$(printf '%s\n%s' "$live_f" "$live_l" | sort)" \
		"$(tree_temps "$dst")"
	check "restore: contents as the snapshot" cmp -s \
		<(tree_md5 "$src/d") <(tree_md5 "$dst/d" | grep -v snapshooter-tmp)
	# neither the before nor the after snapshot records a temp
	for f in $(snapshot_files "$SR" | tail -n 2); do
		snap compare-snapshots --path1 "$s1" --path2 "$f" \
			--diff-state only_right
		assert_rc "compare with $(basename "$f")" 0
		check "$(basename "$f") records no temp" \
			bash -c "! grep -q snapshooter-tmp '$OUT'"
	done

	# sync --no-delete removes leftovers too (nothing else is deleted)
	echo "partial" >"$dst/d/.snapshooter-tmp-99999999-5-00000000000000a5"
	echo "extra" >"$dst/extra"
	run "$SNAPSHOOTER" --no-progress --io "$IO" sync "$src" "$dst" \
		--no-delete
	assert_rc "sync --no-delete" 0
	check "sync: the leftover is removed" \
		test ! -e "$dst/d/.snapshooter-tmp-99999999-5-00000000000000a5"
	check "sync --no-delete: other extras stay" test -e "$dst/extra"
	check "sync: the live temps stay" test -e "$live_f" -a -L "$live_l"
	release_holders
	rm -f "$live_l"
}

for_each_io snapshots
for_each_io trees
finish
