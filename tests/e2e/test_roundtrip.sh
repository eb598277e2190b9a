#!/usr/bin/env bash
# test_roundtrip: the Python tool's scenario. Snapshot a tree, restore it
# into an empty dir: equal. Change one file, add one, remove one;
# snapshot again, restore into a second dir: equal again; every restored
# file's md5 matches the source.
. "$(dirname "$0")/lib.sh"

# make_sizes DIR: files around block and chunk boundaries, and a sparse
# file (short reads, partial chunks, holes).
make_sizes() {
	local n
	mkdir -p "$1"
	for n in 1 511 512 4095 4096 4097 65535 65536 65537 131072 1048575 \
		1048576 1048577 4194304 8388611; do
		head -c "$n" /dev/urandom >"$1/size-$n"
	done
	truncate -s 20M "$1/sparse"
	printf 'in the middle' |
		dd of="$1/sparse" bs=1 seek=10485760 conv=notrunc status=none
	printf 'at the end' |
		dd of="$1/sparse" bs=1 seek=20971510 conv=notrunc status=none
}

# options: global options that must not change the result: --jobs,
# relative roots, trailing slashes, --json, --loglevel, --no-save-snapshot.
options() {
	local src=$T/$IO.osrc d n p
	rm -rf "$src"
	make_basic_tree "$src"
	new_roots "$IO.opt"
	FR=$src
	for n in 1 16; do
		d=$T/$IO.jobs$n
		mkdir -p "$d"
		# --transfers does not count where no store is involved
		run "$SNAPSHOOTER" --no-progress --io "$IO" --jobs "$n" \
			--transfers 32 --loglevel DEBUG \
			--file-root "$src" --heap-root "$HR.$n" --snap-root "$SR.$n" \
			make-snapshot
		assert_rc "make-snapshot --jobs $n" 0
		assert_err_has "make-snapshot --jobs $n runs $n hash workers" \
			"make-snapshot: $n hash worker"
		p=$(head -n 1 "$OUT")
		run "$SNAPSHOOTER" --no-progress --io "$IO" --jobs "$n" \
			--transfers 32 --loglevel DEBUG \
			--file-root "$d" --heap-root "$HR.$n" --snap-root "$SR.$n" \
			restore-snapshot --path "$p" --no-save-snapshot-before \
			--no-save-snapshot-after
		assert_rc "restore-snapshot --jobs $n" 0
		assert_err_has "restore-snapshot --jobs $n runs $n writers" \
			"restore: $n writer"
		assert_trees_equal "$src" "$d" "round trip with --jobs $n"
	done

	# relative roots (and a trailing slash)
	mkdir -p "$T/$IO.rel.dst"
	cp -a "$src" "$T/$IO.rel.src"
	run env -C "$T" "$SNAPSHOOTER" --no-progress --io "$IO" \
		--file-root "$IO.rel.src/" --heap-root "$IO.rel.heap" \
		--snap-root "./$IO.rel.snap" make-snapshot
	assert_rc "make-snapshot with relative roots" 0
	p=$(head -n 1 "$OUT")
	check "the printed path exists (relative to the cwd)" \
		test -f "$p" -o -f "$T/$p"
	run env -C "$T" "$SNAPSHOOTER" --no-progress --io "$IO" \
		--file-root "$IO.rel.dst" --heap-root "$IO.rel.heap/" \
		--snap-root "$IO.rel.snap" restore-snapshot \
		--no-save-snapshot-before --no-save-snapshot-after
	assert_rc "restore with relative roots" 0
	assert_trees_equal "$src" "$T/$IO.rel.dst" "round trip with relative roots"

	# stdout holds the snapshot path only, whatever the log level / json
	run "$SNAPSHOOTER" --no-progress --io "$IO" --loglevel DEBUG --json \
		--file-root "$src" --heap-root "$HR" --snap-root "$SR" \
		make-snapshot
	assert_rc "make-snapshot --loglevel DEBUG --json" 0
	assert_eq "stdout is one line" 1 "$(wc -l <"$OUT")"
	check "stdout is the snapshot file" test -f "$(head -n 1 "$OUT")"
	check "the --json summary is on stderr" \
		grep -q '"files_scanned"' "$ERR"

	n=$(snapshot_files "$SR" | wc -l)
	snap make-snapshot --no-save-snapshot
	assert_rc "make-snapshot --no-save-snapshot" 0
	assert_eq "--no-save-snapshot saves nothing" "$n" \
		"$(snapshot_files "$SR" | wc -l)"
}

# edges: an empty tree, a tree of empty dirs, roots that do not exist yet.
edges() {
	local e=$T/$IO.empty tgt=$T/$IO.etgt
	rm -rf "$e" "$tgt"
	mkdir -p "$e" "$tgt/sub"
	echo "will go" >"$tgt/sub/file"
	new_roots "$IO.edges"
	FR=$e
	make_snapshot || return
	pass "snapshot of an empty tree"
	FR=$tgt
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore of the empty snapshot" 0
	assert_eq "the target is empty afterwards" "" "$(ls -A "$tgt")"

	mkdir -p "$e/a/b/c" "$e/d"
	FR=$e
	make_snapshot || return
	rm -rf "$tgt" && mkdir -p "$tgt"
	FR=$tgt
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore of a tree of empty dirs" 0
	assert_trees_equal "$e" "$tgt" "empty dirs only"

	# a FILE_ROOT given as a symlink to a directory is followed
	ln -sfn "$e" "$T/$IO.root-link"
	FR=$T/$IO.root-link
	make_snapshot || return
	rm -rf "$tgt" && mkdir -p "$tgt"
	ln -sfn "$tgt" "$T/$IO.target-link"
	FR=$T/$IO.target-link
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore through a symlinked FILE_ROOT" 0
	assert_trees_equal "$e" "$tgt" "symlinked roots are followed"
	check "the root symlink itself is kept" test -L "$T/$IO.target-link"

	# heap and snapshot roots that do not exist yet: created, or a clear
	# error naming them
	FR=$e
	HR=$T/$IO.new/heap
	SR=$T/$IO.new/snap
	snap make-snapshot
	case "$RC" in
	0) check "missing roots are created" test -d "$HR" -a -d "$SR" ;;
	1) assert_err_has "missing roots: the message names one" "$T/$IO.new" ;;
	*) fail "missing heap/snapshot roots: exit $RC"; show_last ;;
	esac
	# a restore target that does not exist yet
	new_roots "$IO.edges"
	make_snapshot || return
	FR=$T/$IO.new-target
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	case "$RC" in
	0) assert_trees_equal "$e" "$FR" "a missing target is created" ;;
	1) assert_err_has "missing target: the message names it" "$FR" ;;
	*) fail "missing restore target: exit $RC"; show_last ;;
	esac
}

roundtrip() {
	local src=$T/$IO.src r1=$T/$IO.restore1 r2=$T/$IO.restore2
	local snap1 snap2 n

	new_roots "$IO"
	make_basic_tree "$src"
	make_sizes "$src/sizes"
	FR=$src
	make_snapshot || return
	snap1=$SNAP
	pass "make-snapshot printed $snap1"
	case "$snap1" in
	"$SR"/[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]_[0-9][0-9]-[0-9][0-9]-[0-9][0-9]_[0-9][0-9][0-9][0-9][0-9][0-9]Z.msgpack)
		pass "snapshot path is SNAP_ROOT/YYYY/MM/YYYY-MM-DD_HH-MM-SS_ffffffZ.msgpack"
		;;
	*) fail "snapshot path '$snap1' has not the documented form" ;;
	esac
	n=$(wc -l <"$OUT")
	assert_eq "make-snapshot prints exactly one line" 1 "$n"
	assert_eq "the summary names the snapshot" "$snap1" \
		"$(json_get_str "$SUMMARY" snapshot)"
	assert_eq "summary exit_code" 0 "$(json_get "$SUMMARY" exit_code)"
	assert_summary_keys "make-snapshot" snapshot
	assert_eq "heap objects = distinct contents" \
		"$(distinct_contents "$src")" "$(heap_objects "$HR" | wc -l)"
	check "heap objects hold their md5" heap_verify "$HR"

	mkdir -p "$r1"
	FR=$r1
	snap restore-snapshot --path "$snap1" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore-snapshot --path into an empty dir" 0
	assert_summary_keys "restore-snapshot"
	assert_trees_equal "$src" "$r1" "restored tree 1 equals the source"
	assert_md5_equal "$src" "$r1" "every restored file's md5 matches"

	cp -a "$src" "$T/$IO.orig"

	# change one, add one, remove one
	FR=$src
	printf 'hello changed world\n' >"$src/text_file.txt"
	printf 'added\n' >"$src/subdir2/text_file_added.txt"
	rm "$src/subdir1/file_1.txt"
	make_snapshot || return
	snap2=$SNAP
	assert_ne "second snapshot has a new name" "$snap1" "$snap2"
	assert_eq "two snapshots in SNAP_ROOT" 2 \
		"$(snapshot_files "$SR" | wc -l)"

	mkdir -p "$r2"
	FR=$r2
	snap restore-snapshot --path "$snap2" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore the second snapshot into a second dir" 0
	assert_trees_equal "$src" "$r2" "restored tree 2 equals the changed source"
	assert_md5_equal "$src" "$r2" "every restored file's md5 matches (2)"

	# restore over an existing tree: r1 (snapshot 1) -> snapshot 2, the
	# latest (no --path: the summary still names it)
	FR=$r1
	snap restore-snapshot --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore snapshot 2 over the tree of snapshot 1" 0
	assert_eq "the summary names the latest snapshot, restored" \
		"$snap2" "$(json_get_str "$SUMMARY" snapshot)"
	assert_trees_equal "$src" "$r1" "tree 1 brought to snapshot 2"
	check "the removed file is gone" test ! -e "$r1/subdir1/file_1.txt"

	# default: the latest snapshot; and back to snapshot 1 by path
	mkdir -p "$T/$IO.restore3"
	FR=$T/$IO.restore3
	snap restore-snapshot --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore-snapshot without --path takes the latest" 0
	assert_trees_equal "$src" "$FR" "latest restore equals the source"

	FR=$r2
	snap restore-snapshot --path "$snap1" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore snapshot 1 over tree 2 (going back)" 0
	assert_trees_equal "$T/$IO.orig" "$r2" "tree 2 back at snapshot 1"

	# restore saves snapshots before and after by default: the "before"
	# one is the undo of the restore
	FR=$r2
	echo "local change, lost without the before-snapshot" >"$r2/local.txt"
	rm -rf "$T/$IO.before-copy"
	cp -a "$r2" "$T/$IO.before-copy"
	n=$(snapshot_files "$SR" | wc -l)
	snap restore-snapshot --path "$snap2"
	assert_rc "restore with the default save-before/after" 0
	assert_eq "restore saved snapshots before and after" $((n + 2)) \
		"$(snapshot_files "$SR" | wc -l)"
	assert_trees_equal "$src" "$r2" "tree 2 at snapshot 2 again"
	snap list-snapshots --order desc --limit 2
	local after before
	after=$(sed -n 1p "$OUT")
	before=$(sed -n 2p "$OUT")
	mkdir -p "$T/$IO.undo" "$T/$IO.redo"
	FR=$T/$IO.undo
	snap restore-snapshot --path "$before" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore of the before-snapshot" 0
	assert_trees_equal "$T/$IO.before-copy" "$T/$IO.undo" \
		"the before-snapshot holds the tree as it was (undo)"
	FR=$T/$IO.redo
	snap restore-snapshot --path "$after" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore of the after-snapshot" 0
	assert_trees_equal "$src" "$T/$IO.redo" \
		"the after-snapshot holds the restored tree"
}

for_each_io roundtrip
for_each_io options
for_each_io edges
finish
