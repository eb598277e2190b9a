#!/usr/bin/env bash
# test_limits: open files stay bounded whatever the tree looks like. A
# directory chain 1,100 levels deep (a 2,200-byte path, well under
# PATH_MAX) must work under the common default limit `ulimit -n 1024`,
# and a wide tree (20,000 small files) with --jobs 16 under `ulimit -n
# 256`, for make-snapshot, restore-snapshot and sync.
. "$(dirname "$0")/lib.sh"

# limited N CMD...: run CMD with the open-files limit lowered to N.
limited() {
	local n=$1
	shift
	run bash -c 'ulimit -n "$0" && exec "$@"' "$n" "$@"
}

# all_ops DESC LIMIT SRC: snapshot, restore and sync SRC under LIMIT.
all_ops() {
	local desc=$1 lim=$2 src=$3 p
	new_roots "$IO.$lim"
	limited "$lim" "$SNAPSHOOTER" --no-progress --io "$IO" --jobs 16 \
		--file-root "$src" --heap-root "$HR" --snap-root "$SR" \
		make-snapshot
	assert_rc "$desc: make-snapshot under ulimit -n $lim" 0
	if [ "$RC" -eq 0 ]; then
		p=$(head -n 1 "$OUT")
		mkdir -p "$T/$IO.$lim.dst"
		limited "$lim" "$SNAPSHOOTER" --no-progress --io "$IO" \
			--jobs 16 --file-root "$T/$IO.$lim.dst" \
			--heap-root "$HR" --snap-root "$SR" restore-snapshot \
			--path "$p" --no-save-snapshot-before \
			--no-save-snapshot-after
		assert_rc "$desc: restore under ulimit -n $lim" 0
		assert_trees_equal "$src" "$T/$IO.$lim.dst" \
			"$desc: restored exactly"
	fi
	limited "$lim" "$SNAPSHOOTER" --no-progress --io "$IO" --jobs 16 \
		sync "$src" "$T/$IO.$lim.sync"
	assert_rc "$desc: sync under ulimit -n $lim" 0
	assert_trees_equal "$src" "$T/$IO.$lim.sync" "$desc: synced exactly"
}

limits() {
	local deep=$T/$IO.deep wide=$T/$IO.wide p="" i j
	rm -rf "$deep" "$wide"
	for ((i = 0; i < 1100; i++)); do
		p=$p/x
	done
	mkdir -p "$deep$p"
	echo "at the bottom" >"$deep$p/f"
	echo "at the top" >"$deep/top"
	all_ops "1,100 levels" 1024 "$deep"

	# 20,000: with 2,000 a make-snapshot whose 16 workers each kept a
	# batch of 64 files open failed only now and then under load ("cannot
	# create '.../.tmp-...': Too many open files"); with 20,000 it failed
	# every time before each worker kept to its share of the limit
	for ((i = 0; i < 100; i++)); do
		mkdir -p "$wide/d$i"
		for ((j = 0; j < 200; j++)); do
			echo "$i/$j" >"$wide/d$i/f$j"
		done
	done
	all_ops "20,000 files, --jobs 16" 256 "$wide"
}

for_each_io limits
finish
