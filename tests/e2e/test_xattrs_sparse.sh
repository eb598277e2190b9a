#!/usr/bin/env bash
# test_xattrs_sparse: extended attributes, a file capability, ACLs (with
# defaults on a directory) and a sparse file survive make-snapshot +
# restore and sync, as `rsync -anHAX --numeric-ids -i --delete` sees it
# (empty output); an xattr-only change is fixed without rewriting the
# content; --no-xattrs records and copies none; an xattr list too big to
# go inline is a heap object that gc keeps and verify checks (tmpfs: ext4
# holds at most one block of xattrs); a target without xattrs (ramfs)
# gives one warning, not a failure; a snapshot without xattr keys (as the
# previous version wrote) restores content and leaves xattrs alone.
. "$(dirname "$0")/lib.sh"

strict=0
if [ "${CI:-}" = true ] || [ "${SNAP_REQUIRE_SERVERS:-0}" = 1 ]; then
	strict=1
fi
need_skip() {
	if [ "$strict" = 1 ]; then
		fail "$1 (required in CI)"
		finish
	fi
	echo "SKIP: $1"
	exit 77
}
[ "$(id -u)" -eq 0 ] || need_skip "needs root (security.* and trusted.*)"
for t in setfattr getfattr setfacl setcap rsync; do
	command -v "$t" >/dev/null 2>&1 ||
		need_skip "needs $t (tests/install-deps.sh)"
done

MOUNTS=()
cleanup_mounts() {
	local m
	for m in "${MOUNTS[@]}"; do
		umount "$m" 2>/dev/null
	done
}
trap 'cleanup_mounts; e2e_stop_servers; e2e_cleanup' EXIT

# rsync_same DESC A B: rsync -aHAX finds nothing to do from A to B
rsync_same() {
	local diff
	diff=$(rsync -anHAX --numeric-ids -i --delete "$2/" "$3/" 2>&1)
	if [ -z "$diff" ]; then
		pass "$1: rsync -anHAX lists nothing"
	else
		fail "$1: rsync -anHAX lists differences:"
		printf '%s\n' "$diff" | head -n 20 | sed 's/^/      /'
	fi
}

# xdump DIR: every xattr of every entry below DIR (names relative)
xdump() {
	(cd "$1" && getfattr -R -h -d -m - --absolute-names . 2>/dev/null)
}

src=$T/src
mkdir -p "$src/d" "$src/e"
echo alpha >"$src/a"
echo plain >"$src/plain"
echo beta >"$src/d/b"
setfattr -n user.foo -v bar "$src/a"
setfattr -n user.empty "$src/a"
setcap cap_net_raw+ep "$src/a"
setfattr -n user.dir -v 1 "$src/d"
setfacl -m u:1234:rwx,g:2345:r "$src/d/b"
setfacl -d -m u:1234:rx "$src/d"
echo inherits >"$src/d/c"   # gets the default ACL as its access ACL
ln -s a "$src/l"
setfattr -h -n trusted.link -v on "$src/l"
# a 256 MiB sparse file with three 1 MiB data extents
truncate -s 256M "$src/sparse"
for o in 0 100 255; do
	dd if=/dev/urandom of="$src/sparse" bs=1M count=1 seek=$o \
		conv=notrunc status=none
done
size_blocks=$((256 * 1024 * 1024 / 512))

sparse_ok() {   # DESC FILE
	local b
	b=$(stat -c %b "$2")
	if [ "$b" -lt $((size_blocks / 8)) ]; then
		pass "$1: sparse ($b blocks allocated of $size_blocks)"
	else
		fail "$1: $b blocks allocated of $size_blocks: written dense"
	fi
	check "$1: same content" cmp -s "$src/sparse" "$2"
}

new_roots r
FR=$src
make_snapshot || finish
full=$SNAP

# restore into an empty directory
FR=$T/dst1
snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore into an empty dir" 0
rsync_same "restore" "$src" "$FR"
assert_eq "restore: getfattr dumps" "$(xdump "$src")" "$(xdump "$FR")"
sparse_ok "restore" "$FR/sparse"

# restore into a directory with other xattrs: fixed in place
FR=$T/dst2
cp -a "$src" "$FR"
setfattr -x user.foo "$FR/a"
setfattr -n user.extra -v x "$FR/a"
setcap -r "$FR/a"
setfacl -b "$FR/d/b"
setfattr -n user.dir -v 2 "$FR/d"
setfacl -k "$FR/d"
setfattr -n user.more -v y "$FR/plain"
touch -r "$src/a" "$FR/a"
touch -r "$src/plain" "$FR/plain"
touch -r "$src/d/b" "$FR/d/b"
touch -r "$src/d" "$FR/d"
snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore over other xattrs" 0
rsync_same "restore over other xattrs" "$src" "$FR"
assert_json "xattr-only changes rewrite no content" bytes_written 0
assert_json "xattr-only changes: metadata fixed" files_updated 4

# sync, then an xattr-only change of the source
snap sync "$src" "$T/dst3"
assert_rc "sync" 0
rsync_same "sync" "$src" "$T/dst3"
sparse_ok "sync" "$T/dst3/sparse"
setfattr -n user.foo -v changed "$src/a"
setfacl -x u:1234 "$src/d/b"
snap sync "$src" "$T/dst3"
assert_rc "sync of xattr-only changes" 0
rsync_same "sync of xattr-only changes" "$src" "$T/dst3"
assert_json "sync: xattr-only changes copy no content" bytes_written 0
snap sync "$src" "$T/dst3"
assert_json "sync: nothing left to fix" files_updated 0

# --no-xattrs: none recorded, none copied; existing ones left alone
FR=$src
make_snapshot --no-xattrs || finish
nox=$SNAP
FR=$T/dst4
snap restore-snapshot --path "$nox" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore of a snapshot made with --no-xattrs" 0
assert_eq "--no-xattrs: nothing recorded" "" \
	"$(getfattr -h -d -m - "$FR/a" "$FR/d/b" 2>/dev/null)"
check "--no-xattrs: content restored" cmp -s "$src/a" "$FR/a"
snap sync --no-xattrs "$src" "$T/dst5"
assert_rc "sync --no-xattrs" 0
assert_eq "sync --no-xattrs: none copied" "" \
	"$(getfattr -d -m - "$T/dst5/a" "$T/dst5/d" 2>/dev/null)"
# a snapshot without keys 16-19 (what the previous version wrote) leaves
# the xattrs of the tree alone
FR=$T/dst1
snap restore-snapshot --path "$nox" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore of a snapshot without xattr keys" 0
assert_eq "xattrs without record are left alone" "user.foo=\"bar\"" \
	"$(getfattr -n user.foo "$FR/a" 2>/dev/null | grep user.foo)"
FR=$T/dst1
setfattr -n user.foo -v local "$FR/a"
snap restore-snapshot --path "$full" --no-xattrs \
	--no-save-snapshot-before --no-save-snapshot-after
assert_rc "restore --no-xattrs" 0
assert_eq "restore --no-xattrs leaves them alone" "user.foo=\"local\"" \
	"$(getfattr -n user.foo "$FR/a" 2>/dev/null | grep user.foo)"

# not root: user.* and ACLs restored, security.* and trusted.* skipped
# with one warning
if command -v setpriv >/dev/null 2>&1 && id nobody >/dev/null 2>&1; then
	chmod 0755 "$T"
	chmod -R a+rX "$HR"
	chmod -R a+rwX "$SR"   # the lock
	mkdir "$T/nobody"
	chown nobody "$T/nobody"
	run setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
		"$SNAPSHOOTER" --no-progress --file-root "$T/nobody/dst" \
		--heap-root "$HR" --snap-root "$SR" restore-snapshot \
		--path "$full" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore as nobody" 0
	assert_eq "as nobody: one warning about security.*/trusted.*" 1 \
		"$(grep -c 'security.\* and trusted.\* need root' "$ERR")"
	assert_eq "as nobody: user xattrs restored" "user.foo=\"bar\"" \
		"$(getfattr -n user.foo "$T/nobody/dst/a" 2>/dev/null |
			grep user.foo)"
	assert_eq "as nobody: ACLs restored" \
		"$(getfacl -p "$src/d" 2>/dev/null | grep -v '^#')" \
		"$(getfacl -p "$T/nobody/dst/d" 2>/dev/null | grep -v '^#')"
	# again: the capability nobody may not set is no difference
	run setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
		"$SNAPSHOOTER" --no-progress --file-root "$T/nobody/dst" \
		--heap-root "$HR" --snap-root "$SR" \
		--json-file "$T/nobody/summary.json" restore-snapshot \
		--path "$full" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore as nobody again" 0
	assert_eq "as nobody again: nothing to update" 0 \
		"$(json_get "$T/nobody/summary.json" files_updated)"
fi

# a target without xattrs: ramfs. One warning, no failure.
if mkdir -p "$T/ram" && mount -t ramfs ramfs "$T/ram" 2>/dev/null; then
	MOUNTS+=("$T/ram")
	FR=$T/ram/dst
	snap restore-snapshot --path "$full" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore into a filesystem without xattrs" 0
	assert_eq "one warning for the run" 1 \
		"$(grep -c 'does not support extended attributes' "$ERR")"
	assert_ge "xattrs_unsupported counted" 1 \
		"$(json_get "$SUMMARY" xattrs_unsupported)"
	check "content restored there" cmp -s "$src/d/b" "$FR/d/b"
	snap sync "$src" "$T/ram/sync"
	assert_rc "sync into a filesystem without xattrs" 0
	assert_eq "sync: one warning" 1 \
		"$(grep -c 'does not support extended attributes' "$ERR")"
else
	need_skip "cannot mount ramfs"
fi

# an xattr list over the inline bound (8 KiB): a heap object
if mkdir -p "$T/tm" && mount -t tmpfs -o size=64m tmpfs "$T/tm" 2>/dev/null
then
	MOUNTS+=("$T/tm")
	mkdir -p "$T/tm/src"
	echo big >"$T/tm/src/big"
	python3 -c 'import os,sys; os.setxattr(sys.argv[1], "user.big",
		b"v" * 20000)' "$T/tm/src/big"
	new_roots big
	FR=$T/tm/src
	make_snapshot || finish
	assert_json "the xattr list is a heap object" heap_objects_written 2
	snap gc --grace 0
	assert_rc "gc" 0
	snap verify
	assert_rc "verify counts it as referenced and present" 0
	FR=$T/tm/dst
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore after gc" 0
	rsync_same "large xattr" "$T/tm/src" "$FR"
	# a no-change run reuses the reference
	FR=$T/tm/src
	make_snapshot || finish
	assert_json "no-change run writes nothing" heap_objects_written 0
	# a corrupt heap object is refused, naming it
	obj=$(find "$HR" -type f -size -30k -size +15k | head -n 1)
	chmod u+w "$obj" "$(dirname "$obj")"
	printf 'XXXX' | dd of="$obj" conv=notrunc status=none
	FR=$T/tm/dst2
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "a corrupt xattr object fails the restore" 1
	assert_err_has "naming the object" "is corrupt"
	# --verify-heap reads it back and writes it again from the file
	FR=$T/tm/src
	make_snapshot --verify-heap || finish
	assert_json "--verify-heap repairs the xattr object" \
		heap_objects_repaired 1
	FR=$T/tm/dst2
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore after the repair" 0
	rsync_same "large xattr after the repair" "$T/tm/src" "$FR"
	# a missing one is found before anything is written
	rm -f "$obj"
	FR=$T/tm/dst3
	mkdir -p "$FR"
	echo keep >"$FR/other"
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "a missing xattr object fails the restore" 1
	assert_err_has "naming it" "$(basename "$obj" .gz)"
	check "found before anything is written" \
		bash -c "[ \"\$(ls -A '$FR')\" = other ]"
else
	need_skip "cannot mount tmpfs"
fi

finish
