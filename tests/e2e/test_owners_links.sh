#!/usr/bin/env bash
# test_owners_links: owners and hard links, judged by rsync -aH itself:
# after make-snapshot + restore-snapshot (into an empty root and into one
# holding separate copies) and after sync, `rsync -anHAX --numeric-ids -i
# --delete SRC/ DST/` lists nothing. The tree has files, directories and
# symlinks of other owners (numbers with no name, daemon), a setgid binary
# of group mail, link groups of 3 members across directories and of 2,
# and a group cut by --exclude. Also: an owner change alone is fixed in
# place; a user other than root restores everything but the owners, with
# one warning and owners_skipped; --no-hard-links gives separate files.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v rsync >/dev/null 2>&1 ||
	! id daemon >/dev/null 2>&1 || ! getent group mail >/dev/null; then
	echo "SKIP: needs root, rsync, the user daemon and the group mail"
	exit 77
fi

# rsync_same DESC SRC DST [RSYNC ARGS]: rsync finds nothing to change
rsync_same() {
	local diffs
	diffs=$(rsync -anHAX --numeric-ids -i --delete "${@:4}" "$2/" "$3/" 2>&1)
	if [ -z "$diffs" ]; then
		pass "$1"
	else
		fail "$1: rsync -anHAX --numeric-ids -i --delete lists:"
		printf '%s\n' "$diffs" | head -n 30 | sed 's/^/    /'
	fi
}

# inode NAME...: the inode numbers, one line
inodes() {
	stat -c '%i' "$@" | tr '\n' ' '
}

build() {
	local s=$1
	mkdir -p "$s/own/sub" "$s/g3a" "$s/g3b/deep" "$s/g2" "$s/cut"
	echo "numbers" >"$s/own/nums"
	echo "daemon" >"$s/own/daemon"
	echo "mixed" >"$s/own/sub/mixed"
	ln -s nums "$s/own/lnk"
	chown 1234:5678 "$s/own/nums" "$s/own/sub"
	chown -h 4321:8765 "$s/own/lnk"
	chown daemon:daemon "$s/own/daemon" "$s/own"
	chown 1234:daemon "$s/own/sub/mixed"
	cp /bin/true "$s/own/sgid"
	chown root:mail "$s/own/sgid"
	chmod 2755 "$s/own/sgid"
	# 3 members across directories, owned by someone else
	echo "three" >"$s/g3a/one"
	ln "$s/g3a/one" "$s/g3b/two"
	ln "$s/g3a/one" "$s/g3b/deep/three"
	chown 1234:5678 "$s/g3a/one"
	chmod 0640 "$s/g3a/one"
	echo "two" >"$s/g2/x"
	ln "$s/g2/x" "$s/g2/y"
	# a group whose first member the filter leaves out
	echo "cut" >"$s/cut/a"
	ln "$s/cut/a" "$s/cut/b"
	ln "$s/cut/a" "$s/cut/c"
	# same content, not linked: must stay two files
	echo "three" >"$s/g3a/alone"
	touch -d '2001-02-03 04:05:06' "$s/own/nums" "$s/g3a/one" "$s/g2/x" \
		"$s/cut/a" "$s/g3a/alone"
	touch -h -d '2002-02-03 04:05:06' "$s/own/lnk"
}

# an owner change alone keeps the md5s (a chown moves only the ctime)
mkdir -p "$T/chowned"
echo "one" >"$T/chowned/a"
echo "two" >"$T/chowned/b"
touch -d '2001-02-03 04:05:06' "$T/chowned/a" "$T/chowned/b"
FR=$T/chowned
new_roots c
make_snapshot || finish
chown 1234:5678 "$T/chowned/a"
make_snapshot || finish
assert_json "after a chown, no file is hashed" files_hashed 0
assert_json "both md5s are reused" md5_reused 2
chmod 0600 "$T/chowned/b"
make_snapshot || finish
assert_json "a mode change still means a new hash (as before)" \
	files_hashed 1

src=$T/src
build "$src"
# the root's own owner too (snapshot header keys 6-9)
chown 1234:daemon "$src"
new_roots r
FR=$src
make_snapshot || finish
check "the snapshot records the user and group names" \
	grep -q daemon "$SNAP"
check "making the snapshot left the source alone" \
	test "$(stat -c %U "$src/own/daemon")" = daemon

# the plan of a restore into an empty root: each group's later members
# are links, counted as the run counts them
FR=$T/restored
snap restore-snapshot --dry-run --path "$SNAP" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "dry run into an empty root" 0
assert_eq "the plan shows each later member as a link" 5 \
	"$(grep -c '^link ' "$OUT")"
check "the plan links g3b/two" grep -qx 'link g3b/two' "$OUT"
assert_json "the dry run counts the links" links_created 5
check "the dry run wrote nothing" test ! -e "$FR/g3b"
dry_copied=$(json_get "$SUMMARY" files_copied)

# restore into an empty root
snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore into an empty root" 0
rsync_same "restored tree: owners, modes and links as the source" \
	"$src" "$FR"
assert_eq "the 3-member group is one inode across directories" \
	"$(inodes "$FR/g3a/one" "$FR/g3a/one" "$FR/g3a/one")" \
	"$(inodes "$FR/g3a/one" "$FR/g3b/two" "$FR/g3b/deep/three")"
assert_eq "the setgid binary keeps its group and bit" "mail 2755" \
	"$(stat -c '%G %a' "$FR/own/sgid")"
assert_json "each group's other members are links" links_created 5
assert_json "the dry run counted what the run did" files_copied "$dry_copied"

# into a root holding the same files as separate copies
cp -a "$src" "$T/copies.tmp"
rsync -a --delete "$src/" "$T/copies/"
rm -rf "$T/copies.tmp"
check "the copies are separate files" \
	test "$(stat -c %h "$T/copies/g3b/two")" = 1
FR=$T/copies
snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore over separate copies" 0
rsync_same "separate copies became links" "$src" "$FR"
assert_json "no content was rewritten" bytes_written 0

# an owner change alone: fixed in place
chown 999:999 "$FR/own/nums" "$FR/own/sub"
chown -h 0:0 "$FR/own/lnk"
ino=$(inodes "$FR/own/nums")
snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore after an owner change" 0
rsync_same "owners are back" "$src" "$FR"
assert_eq "the file was not rewritten" "$ino" "$(inodes "$FR/own/nums")"
assert_json "nothing copied" files_copied 0

# a filter cutting a link group: the members left link to each other
FR=$T/filtered
snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
	--no-save-snapshot-after --exclude /cut/a
assert_rc "restore with the group's first member excluded" 0
check "the excluded member is not restored" test ! -e "$FR/cut/a"
rsync_same "the group's other members are one inode" "$src" "$FR" \
	--exclude=/cut/a
new_roots f
FR=$src
make_snapshot --exclude /cut/a || finish
FR=$T/filtered2
snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore of a snapshot made with the first member excluded" 0
rsync_same "its other members are one inode" "$src" "$FR" \
	--exclude=/cut/a

# --no-hard-links: separate files (restore, and make-snapshot)
new_roots r2
FR=$src
make_snapshot || finish
LINKED=$SNAP LINKED_HR=$HR LINKED_SR=$SR
FR=$T/nolinks
snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
	--no-save-snapshot-after --no-hard-links
assert_rc "restore --no-hard-links" 0
assert_eq "restore --no-hard-links: every member is its own file" "1 1 1" \
	"$(stat -c %h "$FR/g3a/one" "$FR/g3b/two" "$FR/g3b/deep/three" |
		tr '\n' ' ' | sed 's/ $//')"
new_roots r3
FR=$src
make_snapshot --no-hard-links || finish
FR=$T/nolinks2
snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore of a make-snapshot --no-hard-links" 0
assert_eq "make-snapshot --no-hard-links: separate files" "1 1" \
	"$(stat -c %h "$FR/g2/x" "$FR/g2/y" | tr '\n' ' ' | sed 's/ $//')"
check "with the same content" cmp "$FR/g2/x" "$FR/g2/y"

# sync: into an empty root, over separate copies, --no-hard-links
run "$SNAPSHOOTER" --no-progress --json-file "$SUMMARY" sync "$src" \
	"$T/synced"
assert_rc "sync into an empty root" 0
rsync_same "synced tree: owners, modes, links and root as the source" \
	"$src" "$T/synced"
rsync -a --delete "$src/" "$T/synced_copies/"
run "$SNAPSHOOTER" --no-progress --json-file "$SUMMARY" sync "$src" \
	"$T/synced_copies"
assert_rc "sync over separate copies" 0
rsync_same "separate copies became links" "$src" "$T/synced_copies"
chown 999:999 "$T/synced/own/nums"
run "$SNAPSHOOTER" --no-progress --json-file "$SUMMARY" sync "$src" \
	"$T/synced"
assert_rc "sync after an owner change" 0
rsync_same "the owner is back" "$src" "$T/synced"
assert_json "by a metadata update" files_updated 1
assert_json "without a copy" files_copied 0
run "$SNAPSHOOTER" --no-progress --json-file "$SUMMARY" sync \
	--exclude /cut/a "$src" "$T/synced_cut"
assert_rc "sync with the group's first member excluded" 0
rsync_same "the other members are one inode" "$src" "$T/synced_cut" \
	--exclude=/cut/a
run "$SNAPSHOOTER" --no-progress sync --no-hard-links "$src" \
	"$T/synced_nolinks"
assert_rc "sync --no-hard-links" 0
assert_eq "sync --no-hard-links: separate files" "1 1" \
	"$(stat -c %h "$T/synced_nolinks/g2/x" "$T/synced_nolinks/g2/y" |
		tr '\n' ' ' | sed 's/ $//')"

# A file of the target linked to another name: restore writes it anew
# instead of setting its metadata in place, which would set the other
# name's too. Two separate files the target holds as one inode come back
# separate, each with its own owner and mode; a file linked to one
# outside the root leaves that one as it was.
say "== restore over files linked to other names"
lsrc=$T/lsrc
mkdir -p "$lsrc"
echo X >"$lsrc/a"
echo X >"$lsrc/b"
echo same >"$lsrc/f"
chmod 600 "$lsrc/a"
chown 1234 "$lsrc/b" "$lsrc/f"
chmod 644 "$lsrc/b" "$lsrc/f"
touch -d 2001-01-01 "$lsrc/f"
new_roots links
FR=$lsrc
make_snapshot || finish
ltgt=$T/ltgt out=$T/outside
mkdir -p "$ltgt" "$out"
cp -a "$lsrc/a" "$ltgt/a"
ln "$ltgt/a" "$ltgt/b"
echo same >"$out/secret"
chmod 600 "$out/secret"
ln "$out/secret" "$ltgt/f"
outside_before=$(stat -c '%a %u %Y' "$out/secret")
FR=$ltgt
# the dry run says what the real run does: such files are replaced
snap restore-snapshot --path "$SNAP" --dry-run
assert_rc "restore --dry-run over linked files" 0
assert_eq "... plans to replace them, not update them in place" \
	"replace b|replace f" "$(grep -E ' (a|b|f)$' "$OUT" | sort | tr '\n' '|' |
		sed 's/|$//')"
snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore over linked files" 0
rsync_same "linked files restored as the snapshot's separate files" \
	"$lsrc" "$ltgt"
assert_eq "a and b are separate files again" "1 1" \
	"$(stat -c %h "$ltgt/a" "$ltgt/b" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "the file outside the root is untouched" "$outside_before" \
	"$(stat -c '%a %u %Y' "$out/secret")"
# but a link group of the snapshot itself, linked alike in the target, is
# fixed in place: no content written, the inode kept
gsrc=$T/gsrc gtgt=$T/gtgt
mkdir -p "$gsrc"
echo group >"$gsrc/a" && ln "$gsrc/a" "$gsrc/b"
FR=$gsrc
make_snapshot || finish
FR=$gtgt
snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore of a link group" 0
ino=$(stat -c %i "$gtgt/a")
touch -d 2002-02-02 "$gtgt/a"
snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore of a group whose mtime changed" 0
assert_json "the group's metadata fixed in place" files_updated 1
assert_json "no content written for it" bytes_written 0
assert_eq "the group keeps its inode" "$ino $ino" \
	"$(stat -c %i "$gtgt/a" "$gtgt/b" | tr '\n' ' ' | sed 's/ $//')"

# not root: everything but the owners, one warning, owners_skipped
if command -v setpriv >/dev/null 2>&1; then
	chmod 0755 "$T"
	# it reads the heap and writes its lock in the snapshot root
	chmod -R a+rwX "$LINKED_HR" "$LINKED_SR"
	mkdir "$T/as_nobody" "$T/nobody_out"
	chown 65534:65534 "$T/as_nobody" "$T/nobody_out"
	run setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$SNAPSHOOTER" --no-progress \
		--json-file "$T/nobody_out/summary.json" \
		--file-root "$T/as_nobody" --heap-root "$LINKED_HR" \
		--snap-root "$LINKED_SR" restore-snapshot --path "$LINKED" \
		--no-save-snapshot-before --no-save-snapshot-after
	assert_rc "restore as an unprivileged user" 0
	assert_eq "one warning about owners" 1 \
		"$(grep -c 'the owner of the running user' "$ERR")"
	v=$(json_get "$T/nobody_out/summary.json" owners_skipped)
	check "owners_skipped counts them ($v)" test "${v:-0}" -gt 0
	check "the contents are all there" \
		diff -r --no-dereference "$src" "$T/as_nobody"
	check "and the link groups" \
		test "$(stat -c %h "$T/as_nobody/g3b/deep/three")" = 3
	check "files belong to the user who restored them" \
		test "$(stat -c %u "$T/as_nobody/own/nums")" = 65534
else
	skip "setpriv missing: no unprivileged run"
fi

finish
