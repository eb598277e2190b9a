#!/usr/bin/env bash
# test_setid: setuid/setgid bits of files on restore, as tar: root (who
# restores owners too) gets them back; another user gets them cleared,
# with one warning giving the count, unless --keep-setid. The other user
# is nobody (setpriv), restoring into a directory nobody owns.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1 ||
	! id nobody >/dev/null 2>&1; then
	echo "SKIP: needs root, setpriv and the user nobody"
	exit 77
fi
# nobody reads the heap and the snapshot and writes its own roots here
chmod 0755 "$T"

# run_as_nobody CMD...: run (lib.sh) CMD as the user nobody.
run_as_nobody() {
	run setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
		"$@"
}

src=$T/src
mkdir -p "$src"
for f in suid sgid plain; do
	printf '#!/bin/sh\necho %s\n' "$f" >"$src/$f"
done
chmod 4755 "$src/suid"
chmod 2755 "$src/sgid"
chmod 0755 "$src/plain"
# a read-only directory with contents: written into before its mode
mkdir "$src/ro"
echo inside >"$src/ro/f"
chmod 0555 "$src/ro"
chmod 0755 "$src"

new_roots r
FR=$src
make_snapshot || finish
chmod -R a+rX "$HR" "$SR"

modes() {
	stat -c '%a' "$1/suid" "$1/sgid" "$1/plain" | tr '\n' ' '
}

# root: kept
FR=$T/as_root
snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore as root" 0
assert_eq "root keeps setuid and setgid" "4755 2755 755 " "$(modes "$FR")"
check "root gets no warning about them" \
	bash -c "! grep -q setuid '$ERR'"

# nobody: cleared, one warning with the count
for d in stripped kept; do
	mkdir "$T/$d"
	chown nobody "$T/$d"
done
restore_as_nobody() {
	run_as_nobody "$SNAPSHOOTER" --no-progress --file-root "$1" \
		--heap-root "$HR" --snap-root "$SR" restore-snapshot \
		--path "$SNAP" --no-save-snapshot-before \
		--no-save-snapshot-after "${@:2}"
}
restore_as_nobody "$T/stripped"
assert_rc "restore as nobody" 0
assert_eq "nobody gets them cleared" "755 755 755 " "$(modes "$T/stripped")"
assert_eq "a read-only directory is restored with its contents" \
	"555 inside" \
	"$(stat -c %a "$T/stripped/ro") $(cat "$T/stripped/ro/f" 2>&1)"
assert_err_has "one warning gives the count" \
	"2 files without their setuid/setgid bits"
assert_eq "the warning comes once" 1 "$(grep -c setuid "$ERR")"
# SNAP_ROOT belongs to root: nobody cannot write a lock there, and a
# restore that writes nothing into SNAP_ROOT goes on without one
assert_err_has "the missing lock is a warning" "restoring without a lock"

# ... but a restore that would save a snapshot into it is refused
mkdir "$T/saving" && chown nobody "$T/saving"
run_as_nobody "$SNAPSHOOTER" --no-progress --file-root "$T/saving" \
	--heap-root "$HR" --snap-root "$SR" restore-snapshot --path "$SNAP"
assert_rc "a restore saving snapshots into a read-only SNAP_ROOT" 1
assert_err_has "names the lock it cannot write" "cannot write lock"
check "and writes nothing into the tree" \
	bash -c "[ -z \"\$(ls -A '$T/saving')\" ]"

restore_as_nobody "$T/stripped" --dry-run
assert_rc "a second restore (dry run) as nobody" 0
check "plans no update of the cleared modes" \
	bash -c "! grep -q update '$OUT'"

restore_as_nobody "$T/kept" --keep-setid
assert_rc "restore as nobody with --keep-setid" 0
assert_eq "--keep-setid keeps them" "4755 2755 755 " "$(modes "$T/kept")"
check "--keep-setid gives no warning" bash -c "! grep -q setuid '$ERR'"

finish
