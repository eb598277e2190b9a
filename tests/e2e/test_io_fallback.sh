#!/usr/bin/env bash
# test_io_fallback.sh: where io_uring cannot be set up (simulated with
# SNAP_IO_FORCE_FAIL_URING=1, as an old kernel or seccomp would answer
# -ENOSYS), --io auto says so once and works on plain system calls, and a
# forced --io uring fails with a clear message.
. "$(dirname "$0")/lib.sh"

new_roots fb
FR=$T/fb.src
mkdir -p "$FR"
make_basic_tree "$FR"
export SNAP_IO_FORCE_FAIL_URING=1
IO=auto
snap make-snapshot
assert_rc "auto falls back" 0
assert_eq "the fallback is said once" 1 \
	"$(grep -c 'io_uring is not available' "$ERR")"
RESTORED=$T/fb.restored
FR=$RESTORED snap restore-snapshot --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore on the fallback" 0
assert_trees_equal "$T/fb.src" "$RESTORED" "round trip on plain system calls"
IO=uring
snap make-snapshot
assert_rc "forced io_uring fails" 1
assert_err_has "says why" "cannot set up io_uring"
finish
