#!/usr/bin/env bash
# test_fidelity: everything `rsync -aHAX --numeric-ids` keeps, at once, on
# one tree, and on real system directories of this machine: through
# make-snapshot + restore-snapshot (into an empty root, and over a copy
# with every kind of metadata wrong) and through sync, `rsync -anHAX
# --numeric-ids -i --delete` lists nothing. The pieces are tested alone
# elsewhere (test_owners_links, test_xattrs_sparse, test_setid,
# test_root_meta); this one catches their interactions: a file of another
# owner that is setgid, has a capability, an ACL and user xattrs and is a
# hard link (chown clears setgid and the capability, chmod rewrites the
# ACL mask: the order of the steps matters), a sparse file in a link group
# of another owner, a 0700 root of another owner with an old mtime.
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
[ "$(id -u)" -eq 0 ] || need_skip "needs root (owners, security.*)"
for t in setfattr setfacl setcap getcap rsync; do
	command -v "$t" >/dev/null 2>&1 ||
		need_skip "needs $t (tests/install-deps.sh)"
done
getent group mail >/dev/null || need_skip "needs the group mail"

# rsync_same DESC A B: rsync -aHAX finds nothing to do from A to B
rsync_same() {
	local diff
	diff=$(rsync -anHAX --numeric-ids -i --delete "$2/" "$3/" 2>&1)
	if [ -z "$diff" ]; then
		pass "$1: rsync -anHAX --numeric-ids lists nothing"
	else
		fail "$1: rsync -anHAX --numeric-ids lists differences:"
		printf '%s\n' "$diff" | head -n 20 | sed 's/^/      /'
	fi
}

size_blocks=$((64 * 1024 * 1024 / 512))
sparse_ok() {   # DESC FILE
	local b
	b=$(stat -c %b "$2")
	if [ "$b" -lt $((size_blocks / 8)) ]; then
		pass "$1: sparse ($b blocks allocated of $size_blocks)"
	else
		fail "$1: $b blocks allocated of $size_blocks: written dense"
	fi
}

src=$T/src
mkdir -p "$src/bin" "$src/share/deep" "$src/img" "$src/acl"
# a setgid helper of group mail and another owner, with a capability, an
# ACL and a user xattr, linked from a second directory
cp /bin/true "$src/bin/helper"
chown 1234:mail "$src/bin/helper"
chmod 2750 "$src/bin/helper"
setfacl -m u:4321:rx "$src/bin/helper"
setfattr -n user.origin -v "built here" "$src/bin/helper"
setcap cap_net_bind_service+ep "$src/bin/helper"
ln "$src/bin/helper" "$src/share/deep/helper-link"
# a setuid binary of root, and a plain file of a numeric owner
cp /bin/true "$src/bin/suid"
chmod 4755 "$src/bin/suid"
echo "numbers" >"$src/share/nums"
chown 2000:3000 "$src/share/nums"
# a 64 MiB sparse image of another owner, two names
truncate -s 64M "$src/img/disk.img"
for o in 0 33 63; do
	dd if=/dev/urandom of="$src/img/disk.img" bs=1M count=1 seek=$o \
		conv=notrunc status=none
done
chown 1234:1234 "$src/img/disk.img"
ln "$src/img/disk.img" "$src/img/disk-copy.img"
# a directory with a default ACL, of another owner, setgid
setfacl -d -m u:1234:rwx,g:mail:rx "$src/acl"
chown 1234:mail "$src/acl"
chmod 2770 "$src/acl"
echo inherits >"$src/acl/file"
setfattr -n user.tag -v dir "$src/acl"
# a symlink of another owner with a trusted xattr
ln -s ../bin/helper "$src/share/lnk"
chown -h 5555:6666 "$src/share/lnk"
setfattr -h -n trusted.mark -v on "$src/share/lnk"
# the root: 0700, another owner, an old mtime (set last)
chown 1234:mail "$src"
chmod 0700 "$src"
touch -d "2001-02-03 04:05:06.789" "$src/share/deep" "$src/share" "$src"
check "the capability is set before the run" \
	bash -c "getcap '$src/bin/helper' | grep -q cap_net_bind_service"

new_roots r
FR=$src
make_snapshot || finish
full=$SNAP

# restore into an empty root
FR=$T/dst1
snap restore-snapshot --path "$full" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore into an empty root" 0
rsync_same "restore" "$src" "$FR"
sparse_ok "restore" "$FR/img/disk.img"
check "restore: the capability survived the chown" \
	bash -c "getcap '$FR/bin/helper' | grep -q cap_net_bind_service"
assert_eq "restore: the links are one inode" \
	"$(stat -c %i "$FR/bin/helper")" \
	"$(stat -c %i "$FR/share/deep/helper-link")"

# restore over a copy whose metadata is wrong everywhere: fixed in place
FR=$T/dst2
cp -a "$src" "$FR"
chown 0:0 "$FR/bin/helper" "$FR/share/nums" "$FR"
chmod 0755 "$FR/bin/helper" "$FR"
setcap -r "$FR/bin/helper" 2>/dev/null
setfacl -b "$FR/acl"
setfattr -x user.tag "$FR/acl"
touch -d "2001-02-03 04:05:06.789" "$FR"
snap restore-snapshot --path "$full" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore over wrong metadata" 0
rsync_same "restore over wrong metadata" "$src" "$FR"
assert_json "metadata only: no content written" bytes_written 0

# sync into an empty directory, then again: nothing to do
snap sync "$src" "$T/dst3"
assert_rc "sync" 0
rsync_same "sync" "$src" "$T/dst3"
sparse_ok "sync" "$T/dst3/img/disk.img"
snap sync "$src" "$T/dst3"
assert_rc "sync again" 0
assert_json "sync again: nothing copied" files_copied 0
assert_json "sync again: nothing updated" files_updated 0

# real system directories as they are on this machine: setuid of group
# messagebus, file capabilities, hard-link groups of shared objects
n=0
for d in /usr/lib/dbus-1.0 /usr/lib/x86_64-linux-gnu/gstreamer1.0 \
	/usr/lib/x86_64-linux-gnu/dri /usr/lib/x86_64-linux-gnu/security; do
	[ -d "$d" ] || continue
	n=$((n + 1))
	name=sys$n
	new_roots "$name"
	FR=$d
	make_snapshot || continue
	FR=$T/$name.restored
	snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after
	assert_rc "$d: restore" 0
	rsync_same "$d: restore" "$d" "$FR"
	snap sync "$d" "$T/$name.synced"
	assert_rc "$d: sync" 0
	rsync_same "$d: sync" "$d" "$T/$name.synced"
done
if [ "$n" = 0 ]; then
	fail "none of the system directories is on this machine"
fi

finish
