#!/usr/bin/env bash
# test_root_meta: the root directory's own mode and mtime. make-snapshot
# records them in the msgpack header, restore-snapshot applies them last
# (a 0700 root comes back 0700 with its mtime, into a new or an existing
# root); a snapshot without them (the Python format) leaves the root
# alone; sync carries them SRC -> DST, as rsync -a. The root's own xattrs
# and ACLs (a default ACL on the root gives new files their rights) go
# the same way, as rsync -AX: set, and extra ones removed.
. "$(dirname "$0")/lib.sh"

# root_meta DIR: "mode mtime" (octal, seconds.ns)
root_meta() {
	stat -c '%a %.9Y' "$1"
}

build() {
	mkdir -p "$1/sub"
	echo "a" >"$1/a.txt"
	echo "b" >"$1/sub/b.txt"
	chmod 0700 "$1"
	touch -d '@1234567890.123456789' "$1"
}

src=$T/src
build "$src"
want=$(root_meta "$src")
assert_eq "source root is 0700 with its mtime" \
	"700 1234567890.123456789" "$want"

for_each_io_body() {
	local dst=$T/dst.$IO existing=$T/existing.$IO py=$T/py.$IO
	new_roots "r.$IO"
	FR=$src
	make_snapshot || return
	assert_eq "making the snapshot left the root's mtime" "$want" \
		"$(root_meta "$src")"

	FR=$dst
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore into a new root" 0
	assert_eq "a new root gets the mode and mtime" "$want" \
		"$(root_meta "$dst")"
	assert_trees_equal "$src" "$dst"

	mkdir -p "$existing"
	chmod 0755 "$existing"
	echo "extra" >"$existing/extra"
	FR=$existing
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore over an existing 0755 root" 0
	assert_eq "an existing root gets the mode and mtime" \
		"$want" "$(root_meta "$existing")"
	check "the extra file is gone" test ! -e "$existing/extra"

	# the Python format records no root: the root is left alone
	new_roots "py.$IO"
	FR=$src
	snap --snapshot-format jsonl.gz make-snapshot
	assert_rc "make-snapshot in the Python format" 0
	SNAP=$(head -n 1 "$OUT")
	mkdir -p "$py"
	chmod 0750 "$py"
	touch -d '@1500000000' "$py"
	FR=$py
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore a Python-format snapshot" 0
	assert_eq "a snapshot without root metadata leaves the mode" "750" \
		"$(stat -c %a "$py")"
}
for_each_io for_each_io_body

# sync: SRC's root mode and mtime go to DST, new or existing
IO=auto
dst=$T/sync.dst
run "$SNAPSHOOTER" --no-progress sync "$src" "$dst"
assert_rc "sync into a new root" 0
assert_eq "sync gives DST the root's mode and mtime" "$want" \
	"$(root_meta "$dst")"
chmod 0755 "$dst"
touch "$dst"
run "$SNAPSHOOTER" --no-progress sync "$src" "$dst"
assert_rc "sync again after the root changed" 0
assert_eq "sync fixes the root's mode and mtime" "$want" \
	"$(root_meta "$dst")"

# the root's xattrs and ACLs
xsrc=$T/xsrc
mkdir -p "$xsrc"
echo x >"$xsrc/f"
if ! setfattr -n user.origin -v backup "$xsrc" 2>/dev/null; then
	skip "no user xattrs on $T"
	finish
fi
acl=0
if setfacl -m u:65534:rx -d -m u:65534:rwx "$xsrc" 2>/dev/null; then
	acl=1
fi
root_x() { # DIR: its xattrs and ACLs, as text
	(cd "$1" && getfattr -h -d -m - -e hex . 2>/dev/null | grep -v '^#')
}
wantx=$(root_x "$xsrc")
check "the source root has the xattr" \
	bash -c "getfattr -n user.origin --only-values '$xsrc' | grep -qx backup"
new_roots "x"
FR=$xsrc
make_snapshot || finish
FR=$T/xdst
snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore with root xattrs" 0
assert_eq "a new root gets the root's xattrs and ACLs" "$wantx" \
	"$(root_x "$T/xdst")"
if [ "$acl" = 1 ]; then
	assert_eq "the default ACL came back" \
		"$(getfacl -cd "$xsrc")" "$(getfacl -cd "$T/xdst")"
fi
mkdir -p "$T/xold"
setfattr -n user.stale -v 1 "$T/xold"
FR=$T/xold
snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore over a root with other xattrs" 0
assert_eq "an existing root's xattrs become the snapshot's" "$wantx" \
	"$(root_x "$T/xold")"
run "$SNAPSHOOTER" --no-progress sync "$xsrc" "$T/xsync"
assert_rc "sync with root xattrs" 0
assert_eq "sync gives DST the root's xattrs and ACLs" "$wantx" \
	"$(root_x "$T/xsync")"
FR=$T/xnone
snap restore-snapshot --no-xattrs --path "$SNAP" \
	--no-save-snapshot-before --no-save-snapshot-after
assert_rc "restore --no-xattrs" 0
check "--no-xattrs leaves the root's xattrs alone" \
	bash -c "! getfattr -n user.origin '$T/xnone' >/dev/null 2>&1"

# a target directory with a default ACL: the kernel masks a new file's
# mode with the ACL instead of the umask, and the snapshot's mode must
# still come back (the entry's own ACLs, none here, replace the inherited
# ones)
if [ "$acl" = 1 ]; then
	msrc=$T/msrc
	mkdir -p "$msrc/sub"
	echo m >"$msrc/f"
	echo n >"$msrc/sub/g"
	chmod 0644 "$msrc/f" "$msrc/sub/g"
	chmod 0755 "$msrc/sub"
	new_roots "m"
	FR=$msrc
	make_snapshot || finish
	mkdir -p "$T/dacl/sub"
	setfacl -d -m o::--- -m g::--- "$T/dacl" "$T/dacl/sub"
	FR=$T/dacl
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "restore under a default ACL" 0
	assert_eq "modes come back under a default ACL" "644 644 755" \
		"$(stat -c %a "$T/dacl/f" "$T/dacl/sub/g" "$T/dacl/sub" | xargs)"
	run rsync -anAX -i --delete "$msrc/" "$T/dacl/"
	assert_eq "rsync -AX sees no difference" "" "$(cat "$OUT")"
	mkdir -p "$T/dacl3"
	setfacl -d -m o::--- "$T/dacl3"
	run "$SNAPSHOOTER" --no-progress sync "$msrc" "$T/dacl3"
	assert_rc "sync under a default ACL" 0
	assert_eq "sync keeps the modes under a default ACL" "644 644" \
		"$(stat -c %a "$T/dacl3/f" "$T/dacl3/sub/g" | xargs)"
fi

finish
