#!/usr/bin/env bash
# test_skip_changing: a file that keeps changing while it is read (a
# background writer appends to it without pause) fails make-snapshot
# (exit 1, no snapshot); with --skip-changing it is left out with a
# warning naming it, the snapshot is saved, the run exits 4 and the JSON
# summary counts it in files_skipped. The writer stops itself after 120 s
# at most (and is stopped by its pid when the test is done).
. "$(dirname "$0")/lib.sh"

src=$T/src
mkdir -p "$src/sub"
echo "steady" >"$src/steady.txt"
echo "also steady" >"$src/sub/b.txt"
# big enough to be streamed, and for every read of it (~0.1 s) to span
# many appends even on a loaded machine: a read the writer happens not
# to touch is a consistent read, and the file is then rightly stored
head -c $((64 * 1024 * 1024)) /dev/zero >"$src/hot.log"

WRITER=
stop_writer() {
	if [ -n "$WRITER" ]; then
		kill "$WRITER" 2>/dev/null
		wait "$WRITER" 2>/dev/null
		WRITER=
	fi
}
trap 'stop_writer; e2e_cleanup' EXIT
(
	# ahead of the run and the suite's other tests in the scheduler's
	# queue where allowed (as root), so it is not starved for a whole read
	renice -n -5 -p "$BASHPID" >/dev/null 2>&1 || true
	end=$((SECONDS + 120))
	while [ "$SECONDS" -lt "$end" ]; do
		printf x >>"$src/hot.log"
	done
) &
WRITER=$!

IO=auto
new_roots fail
FR=$src
snap make-snapshot
assert_rc "without --skip-changing the changing file fails the run" 1
assert_err_has "the error names it" "hot.log"
check "no snapshot saved" test -z "$(find "$SR" -name '*.msgpack')"

new_roots skip
snap make-snapshot --skip-changing
assert_rc "with --skip-changing the snapshot is saved" 4
SNAP=$(head -n 1 "$OUT")
check "it printed the snapshot path" test -f "$SNAP"
assert_err_has "a warning names the file" "skipped '$src/hot.log'"
assert_json "files_skipped counts it" files_skipped 1
assert_json "exit_code in the summary" exit_code 4
stop_writer

FR=$T/restored
snap restore-snapshot --path "$SNAP" --no-save-snapshot-before \
	--no-save-snapshot-after
assert_rc "restore the snapshot" 0
check "the changing file is not in it" test ! -e "$FR/hot.log"
check "the steady files are" cmp -s "$src/sub/b.txt" "$FR/sub/b.txt"

# a steady tree: --skip-changing changes nothing (exit 0)
FR=$src
snap make-snapshot --skip-changing
assert_rc "a steady tree with --skip-changing exits 0" 0
assert_json "nothing skipped" files_skipped 0

finish
