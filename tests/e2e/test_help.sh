#!/usr/bin/env bash
# test_help: --help (and -h) works for the program and for every command:
# exit 0, a usage text on stdout; unknown commands and options are usage
# errors (exit 2) with a message on stderr.
. "$(dirname "$0")/lib.sh"

COMMANDS="make-snapshot restore-snapshot list-snapshots compare-snapshots sync verify convert-snapshots forget gc"

# usage_text DESC: the last run printed a usage text (stdout).
usage_text() {
	if grep -qi 'usage' "$OUT"; then
		pass "$1 prints a usage text"
	else
		fail "$1: no 'usage' on stdout"
		show_last
	fi
}

run "$SNAPSHOOTER" --help
assert_rc "snapshooter --help" 0
usage_text "snapshooter --help"
for c in $COMMANDS; do
	if grep -qF -- "$c" "$OUT"; then
		pass "global help lists $c"
	else
		fail "global help does not list $c"
	fi
done
for o in --file-root --heap-root --snap-root --jobs --io --json \
	--loglevel --parallel-heap-listing; do
	if grep -qF -- "$o" "$OUT"; then
		pass "global help documents $o"
	else
		fail "global help does not document $o"
	fi
done

assert_eq "--help: no line over 80 columns" "" "$(awk 'length > 80' "$OUT")"

run "$SNAPSHOOTER" -h
assert_rc "snapshooter -h" 0
usage_text "snapshooter -h"

for c in $COMMANDS; do
	run "$SNAPSHOOTER" "$c" --help
	assert_rc "snapshooter $c --help" 0
	usage_text "snapshooter $c --help"
	if grep -qF -- "$c" "$OUT"; then
		pass "$c --help names the command"
	else
		fail "$c --help does not name the command"
	fi
	# a terminal of 80 columns shows it as written (hand-wrapped
	# paragraphs drifted past it: the JSON field lists, gc, sync)
	assert_eq "$c --help: no line over 80 columns" "" \
		"$(awk 'length > 80' "$OUT")"
	run "$SNAPSHOOTER" "$c" -h
	assert_rc "snapshooter $c -h" 0
	# help needs no roots and touches nothing
	run env FILE_ROOT=/nonexistent "$SNAPSHOOTER" --file-root \
		/nonexistent "$c" --help
	assert_rc "snapshooter --file-root /nonexistent $c --help" 0
done

run "$SNAPSHOOTER" help sync
if [ "$RC" -eq 0 ] && grep -qF -- --checksum "$OUT"; then
	pass "help sync shows the sync options"
else
	say "info: 'help COMMAND' not supported (exit $RC)"
fi

run "$SNAPSHOOTER" restore-snapshot --help
for o in --path --latest --no-save-snapshot-before \
	--no-save-snapshot-after --dry-run; do
	if grep -qF -- "$o" "$OUT"; then
		pass "restore-snapshot help documents $o"
	else
		fail "restore-snapshot help does not document $o"
	fi
done
run "$SNAPSHOOTER" sync --help
for o in --checksum --size-only --no-delete --max-delete --dry-run \
	--include --exclude --exclude-from; do
	if grep -qF -- "$o" "$OUT"; then
		pass "sync help documents $o"
	else
		fail "sync help does not document $o"
	fi
done

run "$SNAPSHOOTER" no-such-command
assert_rc "unknown command" 2
check "unknown command: a message on stderr" test -s "$ERR"
assert_err_has "unknown command: the message names it" "no-such-command"

run "$SNAPSHOOTER"
case "$RC" in
0 | 2) pass "no command at all: usage (exit $RC)" ;;
*) fail "no command at all: exit $RC (expected 2, or 0 with the help)" ;;
esac
if grep -qi usage "$OUT" "$ERR"; then
	pass "no command at all prints the usage"
else
	fail "no command at all prints no usage"
fi

run "$SNAPSHOOTER" --no-such-global-option make-snapshot
assert_rc "unknown global option" 2
assert_err_has "unknown option: the message names it" "no-such-global-option"

run "$SNAPSHOOTER" list-snapshots --no-such-option
assert_rc "unknown command option" 2

run "$SNAPSHOOTER" sync /only-one-arg
assert_rc "sync with one argument" 2

# a positional a command does not take is a usage error naming it, found
# before any root is needed
for c in $COMMANDS; do
	case "$c" in
	restore-snapshot) extra="2024-01-01 stray-arg" ;;
	sync) continue ;;
	*) extra="stray-arg" ;;
	esac
	# shellcheck disable=SC2086 # two words for restore-snapshot
	run "$SNAPSHOOTER" "$c" $extra
	assert_rc "$c with a positional too many" 2
	assert_err_has "$c: the message names the positional" \
		"unexpected argument 'stray-arg'"
done
run "$SNAPSHOOTER" sync /a /b /c
assert_rc "sync with three arguments" 2
assert_err_has "sync with three arguments: says it takes two" \
	"exactly two arguments"

run "$SNAPSHOOTER" --version
if [ "$RC" -eq 0 ]; then
	pass "--version (exit 0): $(head -n 1 "$OUT")"
else
	say "info: --version not supported (exit $RC)"
fi

finish
